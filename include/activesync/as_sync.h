/* The mail sync engine: FolderSync, FolderCreate/Update/Delete, Sync and
 * GetItemEstimate (handlers in as_cmds.h), and what Ping, ItemOperations,
 * MoveItems and the glue use of it.  State: as_syncstate.h.
 *
 * CONFIGURATION (as_server_conf_t, filled by the glue)
 *   maildir_template  ActiveSyncMaildir TEMPLATE (%u %n %d); NULL: no mail store
 *                     (no mail folder, mail commands answer "not found").
 *   maildir_names     ActiveSyncMaildirFolders SENT DRAFTS TRASH JUNK (NULL
 *                     members: Dovecot's defaults).
 *   sync_max_window   largest WindowSize served (0: 512).
 * A missing Maildir root is created (ROOT/{cur,new,tmp}, mode 0700), as
 * Dovecot does at first login.
 *
 * ACCESS
 * Mail is served when the request's access->eff says email on (access NULL,
 * as in unit tests, means on) and a template is configured.  Otherwise
 * FolderSync shows no mail folder (the hierarchy is empty), Sync answers
 * the collection with Status 8, GetItemEstimate with Status 2, FolderCreate
 * / Update / Delete with Status 5 / 4 / 4.
 *
 * SERVER IDS
 * A mail item's ServerId is "<folder id>:<item id>" (as_store.h ids), the
 * collection id is the folder id.
 *
 * PUSH (Sync with Wait/HeartbeatInterval, Ping)
 * as_sync_probe() is the O(1) "maybe changed?" test of one collection for
 * one device: one Berkeley DB read and one folder token (two stat()s).
 * Every Sync claims the device (as_watch_claim, on /dev/shm for the data directory of
 * req->db), which ends the device's parked Ping or Sync.  When nothing
 * changed and the request asked to wait, the handler watches new/ and cur/
 * of its collections (as_watch.h), looks once more, then parks until a
 * change (re-running the O(1) probe, and the delta computation only for
 * collections whose token moved), the timeout, a newer request of the
 * device or a stop; then it answers (an empty reply = no change).  A
 * waiter in the request's configuration (as_server_conf_t sync_waiter)
 * replaces the inotify wait (tests, other schedulers); parked inotify
 * waits end early when the configuration's push_stop check says so.
 */
#ifndef AS_SYNC_H
#define AS_SYNC_H

#include "as_command.h"
#include "as_store.h"
#include "as_syncstate.h"

/* 1 when the request may see mail (email on and a store configured). */
int as_sync_email_enabled(const as_request_t *req);

/* The classes other than Email the request may see, as a mask of
 * (1 << AS_CLASS_CONTACTS) ...: Contacts with the `contacts` option, Calendar,
 * Tasks and Notes with `pim`, each only once its conversion exists
 * (as_item_codec.h) and with a collection store configured. */
unsigned as_sync_collection_classes(const as_request_t *req);
/* 1 when the request may see a folder at all (mail or another class). */
int as_sync_store_enabled(const as_request_t *req);

/* Open the account's store: its Maildir (creating it when missing) when
 * mail is enabled, its collections (contacts, notes ...) when a class of
 * them is, behind one folder hierarchy (as_store_router.h).  With email off
 * the mail folders are absent and mail operations find no folder.
 * APR_ENOENT when the request may see no folder (see ACCESS); the handle
 * lives in req->pool. */
apr_status_t as_sync_open_store(const as_request_t *req, as_store_t **st);

/* Split a ServerId "folder:item" (pool copies).  APR_EINVAL unless both
 * parts are non-empty ids of at most the store's lengths, [0-9a-v]. */
apr_status_t as_sync_split_serverid(apr_pool_t *p, const char *sid, const char **folder,
                                    const char **item);
const char *as_sync_serverid(apr_pool_t *p, const char *folder, const char *item);

/* The O(1) change probe of one collection for (account, device). */
typedef enum {
    AS_PROBE_NOSTATE = 0, /* never synced (or key 0 only): Ping ignores it */
    AS_PROBE_SAME,        /* nothing for this device since its last Sync */
    AS_PROBE_MAYBE,       /* maybe changed (token differs/unsettled, changes pending,
                             an item left the FilterType window): Sync to know */
    AS_PROBE_GONE         /* the folder no longer exists */
} as_probe_t;
apr_status_t as_sync_probe(as_db_t *db, as_store_t *st, apr_pool_t *p, const char *account,
                           const char *device, const char *folder_id, as_probe_t *out);

/* The FilterType a folder of class cls honours (Email 0-5, Calendar 0 and
 * 4-7, Tasks 0 and 8; any other value, and every value for contacts and
 * notes, is 0: all items). */
int as_sync_filter_for_class(int cls, int filter);

/* The exact number of changes a Sync of the collection would send now
 * (scans the folder only when the probe says MAYBE).  filter_type < 0: the
 * one in the state.  APR_NOTFOUND: no state (never synced). */
apr_status_t as_sync_count_changes(as_db_t *db, as_store_t *st, apr_pool_t *p, const char *account,
                                   const char *device, const char *folder_id, int filter_type,
                                   apr_uint32_t *count);

/* MoveItems and other commands that change the device's copy themselves:
 * record that the device now has item dst_item in dst_folder (with flags)
 * and no longer src_item in src_folder, so the next Sync sends neither a
 * Delete nor an Add for the move (Outlook duplicates otherwise, eas-protocol
 * §6.3 #17).  Collections without state are left alone.  The keys do not
 * change. */
apr_status_t as_sync_note_moved(as_db_t *db, const char *account, const char *device,
                                const char *src_folder, const char *src_item,
                                const char *dst_folder, const char *dst_item, unsigned flags);

/* Wait for a change (push).  Called by the Sync handler with the folder ids
 * of the request's collections when nothing changed; returns when one of
 * them may have changed, when timeout passed, or when the request should end
 * (a newer request of the device); the handler then probes again.  Any
 * return value other than APR_SUCCESS ends the wait (answered as no change). */
typedef apr_status_t as_sync_wait_fn(void *baton, const as_request_t *req, as_store_t *st,
                                     const apr_array_header_t *folder_ids,
                                     apr_interval_time_t timeout);
typedef struct as_sync_waiter_t {
    as_sync_wait_fn *fn;
    void *baton;
} as_sync_waiter_t;

/* Bounds. */
#define AS_SYNC_WINDOW_DEFAULT  100
#define AS_SYNC_WINDOW_MAX      512
#define AS_SYNC_MAX_COLLECTIONS 300
#define AS_SYNC_HEARTBEAT_MIN   60   /* seconds (Wait: 1 minute) */
#define AS_SYNC_HEARTBEAT_MAX   3540 /* seconds (Wait: 59 minutes) */
/* Stop adding items to a reply once their estimated size passes this
 * (MoreAvailable); at least one item is always sent. */
#define AS_SYNC_REPLY_BUDGET (4 * 1024 * 1024)

#endif
