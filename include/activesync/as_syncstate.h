/* Sync state in the Berkeley DB environment (database AS_DB_SYNC,
 * syncstate.db): what each (account, device) has been sent, so that
 * FolderSync and Sync compute deltas, replay a lost reply, and never lose or
 * duplicate an item (DESIGN §3, eas-protocol.md §3.2, §3.3, §3.18).
 *
 * SYNC KEYS
 * "{gggggggg}N": g = 8 hex digits of a random generation chosen when the
 * state is (re)created by a key-0 request, N = 1, 2, ... the exchange
 * counter.  "0" is the initial key.  A key whose generation is not the
 * stored one, or whose counter is neither N nor N-1, is unknown (Sync
 * Status 3, FolderSync Status 9).  N-1 is the key of a client that lost
 * reply N: it gets reply N again, byte for byte (stored with the state).
 * The counter advances only when a reply carries changes (either way).
 *
 * RECORDS (keys are "<kind>/<account>\t<device key>[\t<collection id>]")
 *   H  hierarchy: generation, N, the hierarchy token the folder set was
 *      computed at, the client's folder set at N and at N-1 (id, parent,
 *      name, type; a few dozen bytes per folder) and reply N's bytes.
 *   C  collection header (~150 bytes): generation, N, FilterType, the
 *      folder token at which the client set equalled the listing (or
 *      none), when the next item leaves the FilterType window, whether
 *      changes are pending (MoreAvailable was sent), item count, loop
 *      detection's counters (resends of N-1, changes still sent one per
 *      reply; as_sync_loop.c).  A
 *      no-change Sync/Ping/GetItemEstimate reads only this record.
 *   I  collection item set at N: the items the client has, sorted by id,
 *      AS_SYNC_ITEM_BYTES each (id padded to 16 bytes, flags as 4 bytes):
 *      200 KB for a 10,000-message folder.  A collection of another class
 *      (contacts, notes ...) writes version 2 of the record instead:
 *      AS_SYNC_ITEM_BYTES_ETAG per item (the same, then the 64-bit digest
 *      of the item's ETag as the client has it), then the ClientId ->
 *      item id pairs of its latest client Adds (at most
 *      AS_SYNC_CLIENTIDS_MAX), so that a resent Add creates nothing twice.
 *      Mail collections keep version 1: states written before stay
 *      readable and mean the same.
 *   R  collection reply N: the key it answered (N-1), the reply's
 *      Collection element serialised as XML (bounded by the Sync handler's
 *      reply budget; see as_sync.h) and its undo list (24 bytes per server
 *      change: what the set at N-1 had), from which loop detection rebuilds
 *      reply N from the set at N-1 (records written before it have none).
 *   Q  the device's last full Sync request (XML, Commands removed), for
 *      the empty and Partial Sync forms.
 * Every write of a collection (C, I, R) happens in one transaction that
 * first re-reads C with DB_RMW and refuses (AS_SYNC_ESTALE) when another
 * request advanced it meanwhile: the caller recomputes.
 */
#ifndef AS_SYNCSTATE_H
#define AS_SYNCSTATE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "as_db.h"
#include "as_store.h"

/* Returned by the put functions: the state changed since it was read. */
#define AS_SYNC_ESTALE (AS_ERR_BASE + 60)

#define AS_SYNC_KEY_MAX         32 /* "{gggggggg}" + 10 digits + NUL fits */
#define AS_SYNC_ITEM_BYTES      20
#define AS_SYNC_ITEM_BYTES_ETAG 28
/* Client Adds remembered per collection (ClientId -> item id). */
#define AS_SYNC_CLIENTIDS_MAX 64
#define AS_SYNC_CLIENTID_MAX  64

/* ---- sync keys ------------------------------------------------------------- */

/* "{gen}n" in pool memory. */
const char *as_synckey_format(apr_pool_t *p, apr_uint32_t gen, apr_uint32_t n);
/* 1 and gen/n set for a well-formed "{gen}n" (n >= 1); 0 otherwise (also
 * for "0", which callers test first). */
int as_synckey_parse(const char *key, apr_uint32_t *gen, apr_uint32_t *n);
/* A new random generation (never 0). */
apr_uint32_t as_synckey_new_gen(void);

/* What a client key means for a state with generation gen at counter n. */
typedef enum {
    AS_KEY_UNKNOWN = 0, /* Status 3 / 9 */
    AS_KEY_INITIAL,     /* "0" */
    AS_KEY_CURRENT,     /* N */
    AS_KEY_PREVIOUS     /* N-1: replay reply N */
} as_key_match_t;
as_key_match_t as_synckey_match(const char *key, apr_uint32_t gen, apr_uint32_t n);

/* ---- hierarchy (FolderSync, FolderCreate/Update/Delete) -------------------- */

typedef struct as_hier_state_t {
    apr_uint32_t gen;
    apr_uint32_t n;              /* 0: no state */
    const char *token;           /* hierarchy token the folder set was computed at (or NULL) */
    apr_array_header_t *folders; /* as_store_folder_t (path unused, ""): client set at N */
    apr_array_header_t *prev;    /* client set at N-1 (empty when N == 1) */
    const char *reply;           /* reply N (the reply document as XML), NULL when none */
    apr_size_t reply_len;
} as_hier_state_t;

/* APR_SUCCESS (a missing state reads as n == 0, empty sets) or a database
 * status (AS_DB_EUNAVAIL, AS_DB_EBUSY, AS_DB_ECORRUPT ...). */
apr_status_t as_hier_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                         as_hier_state_t *out);
/* Write st, provided the stored state still has generation/counter
 * expect_gen/expect_n (0/0: none stored); AS_SYNC_ESTALE otherwise. */
apr_status_t as_hier_put(as_db_t *db, const char *account, const char *device,
                         apr_uint32_t expect_gen, apr_uint32_t expect_n, const as_hier_state_t *st);
/* A folder of a set by id, or NULL. */
const as_store_folder_t *as_hier_find(const apr_array_header_t *set, const char *id);

/* ---- collections (Sync, GetItemEstimate, Ping) -------------------------------- */

typedef struct as_sync_item_t {
    char id[AS_STORE_ITEM_ID_MAX + 1];
    unsigned flags;    /* AS_STORE_SEEN | AS_STORE_FLAGGED as the client has them */
    apr_uint64_t etag; /* as_sync_etag_digest() of the ETag the client has (0: mail) */
} as_sync_item_t;

/* One client Add carried out: its ClientId and the item it made. */
typedef struct as_sync_clientid_t {
    const char *client_id;
    char id[AS_STORE_ITEM_ID_MAX + 1];
} as_sync_clientid_t;

/* A 64-bit digest of an item's ETag, never 0; 0 for NULL (mail). */
apr_uint64_t as_sync_etag_digest(const char *etag);

/* the flags a mail Change reports: Read, Flag and (14.0+) LastVerbExecuted */
#define AS_SYNC_FLAGS_MASK                                                                         \
    (AS_STORE_SEEN | AS_STORE_FLAGGED | AS_STORE_ANSWERED | AS_STORE_FORWARDED)
/* In an item's flags: the item broke the device and was never sent (loop
 * detection, as_sync_loop.c); kept in the set so that it is not offered
 * again while it exists (no Add, Change nor Delete for it). */
#define AS_SYNC_SKIPPED 0x80000000u

typedef struct as_coll_state_t {
    apr_uint32_t gen;
    apr_uint32_t n;    /* 0: no state (never synced, or reset) */
    int filter_type;   /* FilterType in effect (0 = all) */
    const char *token; /* folder token at which the client set equalled the folder's
                          content (within the window); NULL: unknown -> scan */
    apr_time_t expire; /* FilterType: when the oldest item the client has leaves the
                          window (0: never) */
    int pending;       /* changes remain (MoreAvailable was sent) */
    apr_uint32_t nitems;
    apr_uint32_t resends; /* consecutive resends of key N-1 answered since reply N */
    apr_uint32_t careful; /* changes still sent one per reply after a loop */
    /* The item set (sorted by id), loaded by as_coll_get(.., with_items) only. */
    as_sync_item_t *items;
    int items_loaded;
    /* The items carry ETag digests (a class other than Email; item record
     * version 2); set by the key-0 Sync of such a collection. */
    int etags;
    /* With the items (etags only): as_sync_clientid_t of the latest client
     * Adds, oldest first; NULL when none. */
    apr_array_header_t *clientids;
} as_coll_state_t;

/* Read a collection's state (n == 0 when none); with_items also its item
 * set.  Database statuses as as_hier_get. */
apr_status_t as_coll_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                         const char *coll, int with_items, as_coll_state_t *out);
/* The stored reply N of a collection: its key counter and XML (NULL when
 * none). */
apr_status_t as_coll_get_reply(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                               const char *coll, apr_uint32_t *reply_n, const char **xml,
                               apr_size_t *len);
/* Write a collection's header, and (items_loaded) its item set, and (xml
 * non-NULL) its reply for key st->n, provided the stored header still has
 * expect_gen/expect_n; AS_SYNC_ESTALE otherwise. */
apr_status_t as_coll_put(as_db_t *db, const char *account, const char *device, const char *coll,
                         apr_uint32_t expect_gen, apr_uint32_t expect_n, const as_coll_state_t *st,
                         const char *xml, apr_size_t xml_len);
/* How reply N changed the set at N-1, one entry per server change. */
enum { AS_UNDO_ADDED = 1, AS_UNDO_REMOVED, AS_UNDO_FLAGS };
typedef struct as_sync_undo_t {
    char id[AS_STORE_ITEM_ID_MAX + 1];
    int kind;          /* AS_UNDO_*: ADDED by the reply, REMOVED by it, FLAGS changed */
    unsigned flags;    /* REMOVED, FLAGS: the item's flags at N-1 */
    apr_uint64_t etag; /* REMOVED, FLAGS: its ETag digest at N-1 (0: mail) */
} as_sync_undo_t;
/* as_coll_put, storing with the reply its undo list (as_sync_undo_t, NULL:
 * none); expect_resends >= 0 also refuses (AS_SYNC_ESTALE) unless the
 * stored header has that resend count (loop detection's compare-and-set). */
apr_status_t as_coll_put_undo(as_db_t *db, const char *account, const char *device,
                              const char *coll, apr_uint32_t expect_gen, apr_uint32_t expect_n,
                              const as_coll_state_t *st, const char *xml, apr_size_t xml_len,
                              const apr_array_header_t *undo, long expect_resends);
/* as_coll_get_reply and the reply's undo list (NULL when it has none). */
apr_status_t as_coll_get_undo(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                              const char *coll, apr_uint32_t *reply_n, const char **xml,
                              apr_size_t *len, apr_array_header_t **undo);
/* Forget a collection (folder deleted). */
apr_status_t as_coll_drop(as_db_t *db, const char *account, const char *device, const char *coll);
/* Index of id in the state's item set, or -1. */
int as_coll_find(const as_coll_state_t *st, const char *id);

/* ---- per device ------------------------------------------------------------ */

/* The cached last full Sync request (XML text), NULL when none. */
apr_status_t as_sync_cache_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                               const char **xml, apr_size_t *len);
apr_status_t as_sync_cache_put(as_db_t *db, const char *account, const char *device,
                               const char *xml, apr_size_t len);
/* Remove all sync state of a device (device removed or wiped), the
 * remembered Ping (P records, as_cmd_ping.c) included; device NULL: of every
 * device of the account. */
apr_status_t as_syncstate_drop_device(as_db_t *db, const char *account, const char *device);

#endif
