/* Internals of the Sync engine for one collection (as_sync_coll.h), shared
 * by its files, lowest first: the device's item set being edited and the
 * reply skeleton (as_sync_cset.c), server changes into a reply
 * (as_sync_emit.c), the client's Commands (as_sync_client.c), loop
 * detection (as_sync_loop.c), and the collection as a whole
 * (as_sync_collection.c). */
#ifndef AS_SYNC_COLL_INT_H
#define AS_SYNC_COLL_INT_H

#include "activesync/as_sync_coll.h"
#include "activesync/as_sync_engine.h"

/* ---- as_sync_cset.c ---- */

/* The device's item set, as an editable array with removal marks. */
typedef struct as_cset_t {
    as_coll_state_t *cs;
    apr_array_header_t *added; /* as_sync_item_t */
    unsigned char *removed;
    int changed;
} as_cset_t;

/* Start editing cs (its items loaded). */
void as_cset_init(as_cset_t *s, as_coll_state_t *cs, apr_pool_t *p);
void as_cset_remove(as_cset_t *s, const char *id);
void as_cset_set_flags(as_cset_t *s, const char *id, unsigned flags);
/* etag: as_sync_etag_digest() of the item's ETag (0 for mail). */
void as_cset_add(as_cset_t *s, const char *id, unsigned flags, apr_uint64_t etag);
void as_cset_set_etag(as_cset_t *s, const char *id, apr_uint64_t etag);
/* Remember that client Add client_id made item id (etags collections). */
void as_cset_note_clientid(as_cset_t *s, const char *client_id, const char *id, apr_pool_t *p);
/* The item a client Add with client_id made, when the set still has it. */
const char *as_cset_clientid_item(const as_cset_t *s, const char *client_id);
/* Apply the marks: the new sorted set in cs. */
void as_cset_commit(as_cset_t *s, apr_pool_t *p);
/* Commit, then go on editing the result with no marks. */
void as_cset_rebase(as_cset_t *s, apr_pool_t *p);

/* A reply of one collection: SyncKey, CollectionId, Status. */
void as_sync_coll_head(as_sync_coll_res_t *res, const char *key, const char *id, int status);
/* Insert <MoreAvailable/> into coll before the node before (NULL: at the end). */
void as_sync_more_available(xmlNodePtr coll, xmlNodePtr before);

/* ---- as_sync_item.c ---- */

/* Bytes of one item of another class read for a conversion (a contact
 * with a large photo fits). */
#define AS_SYNC_ITEM_MAX ((apr_off_t)16 << 20)

/* The whole file of an opened item (NUL-terminated pool memory);
 * APR_EINVAL past AS_SYNC_ITEM_MAX. */
apr_status_t as_sync_read_item(as_store_msg_t *msg, apr_pool_t *p, char **data, apr_size_t *len);
/* The ApplicationData of an item of the collection's class (q->cls, not
 * Email) into appdata, the digest of the ETag of what was sent and the
 * file's size (may be NULL); APR_ENOENT when it is gone, APR_EINVAL when it
 * cannot be read as an item of the class (logged), AS_STORE_ENOTSUP when
 * the class has no conversion. */
apr_status_t as_sync_item_appdata_cls(as_sync_run_t *c, const as_sync_coll_req_t *q,
                                      const char *folder, const char *item, const char *name,
                                      xmlNodePtr appdata, apr_uint64_t *etag, apr_off_t *size);
/* Declare on a Collection element the namespaces of the class's items. */
void as_sync_coll_declare_ns(xmlNodePtr coll, int cls);

/* ---- as_sync_emit.c ---- */

/* ApplicationData of an item into appdata (Email, or the collection's
 * class: as_sync_item_appdata_cls), its flags, the digest of its ETag (0
 * for mail) and size (size may be NULL); APR_ENOENT when it is gone,
 * APR_EINVAL when an item of another class cannot be read.  name: its name
 * in a listing, tried first (NULL: none). */
apr_status_t as_sync_item_appdata(as_sync_run_t *c, const as_sync_coll_req_t *q, const char *folder,
                                  const char *item, const char *name, xmlNodePtr appdata,
                                  unsigned *flags, apr_uint64_t *etag, apr_off_t *size);
/* Emit server changes into *commands (created on demand under coll), at
 * most limit; updates set and records in undo how (loop detection).
 * Returns the number sent; *more when some remain. */
int as_sync_emit_changes(as_sync_run_t *c, const as_sync_coll_req_t *q, const as_deltas_t *d,
                         as_cset_t *set, xmlNodePtr coll, xmlNodePtr *commands, int limit,
                         int *more, apr_array_header_t *undo);

/* ---- as_sync_client.c ---- */

/* Run the client's Commands (q->commands) against the store and set;
 * failures (and every Fetch and Add) answered in *resp, created on demand
 * under scratch.  Returns 1 when one changed something (the key then
 * advances). */
int as_sync_client_commands(as_sync_run_t *c, const as_sync_coll_req_t *q, as_cset_t *set,
                            xmlNodePtr scratch, xmlNodePtr *resp);

/* ---- as_sync_client_item.c (classes other than Email) ---- */

/* A client Add: the item made (or made already for this ClientId, which
 * may be NULL) in *item; returns the Sync Status. */
int as_sync_client_item_add(as_sync_run_t *c, const as_sync_coll_req_t *q, as_cset_t *set,
                            const char *client_id, xmlNodePtr appdata, const char **item);
/* A client Change of item (with the conflict rule of q->conflict);
 * returns the Sync Status.  instance (16.x InstanceId, else NULL): the
 * Change (appdata) or Delete (appdata NULL) of that one instance of a
 * recurring event (as_item_instance). */
int as_sync_client_item_change(as_sync_run_t *c, const as_sync_coll_req_t *q, as_cset_t *set,
                               const char *item, xmlNodePtr appdata, const char *instance);

/* ---- as_sync_loop.c ---- */

/* The device sent key N-1 (cs at N): reply N again, or the next step of
 * loop detection.  AS_SYNC_ESTALE: the state moved, compute again. */
apr_status_t as_sync_resend(as_sync_run_t *c, const as_sync_coll_req_t *q,
                            const as_coll_state_t *cs, as_sync_coll_res_t *res);

/* ---- as_sync_window.c: FilterType of calendars and task lists ---- */

typedef struct as_sync_window_t as_sync_window_t;
/* The window of a calendar or task list for filter, NULL when there is
 * none (another class, FilterType 0). */
as_sync_window_t *as_sync_window_make(as_store_t *st, const char *folder_id, int cls, int filter,
                                      apr_pool_t *p);
/* Is the listed item inside?  Cached per (file version, window start). */
int as_sync_window_inside(const as_sync_window_t *w, const as_store_item_t *it, apr_pool_t *p);
/* When the window moves (the next UTC midnight for a calendar), 0 never. */
apr_time_t as_sync_window_expiry(const as_sync_window_t *w);
/* The window's identity for as_sync_index_view: FilterType and start. */
apr_uint64_t as_sync_window_key(const as_sync_window_t *w);

#endif
