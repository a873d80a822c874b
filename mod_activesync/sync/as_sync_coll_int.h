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
void as_cset_add(as_cset_t *s, const char *id, unsigned flags);
/* Apply the marks: the new sorted set in cs. */
void as_cset_commit(as_cset_t *s, apr_pool_t *p);
/* Commit, then go on editing the result with no marks. */
void as_cset_rebase(as_cset_t *s, apr_pool_t *p);

/* A reply of one collection: SyncKey, CollectionId, Status. */
void as_sync_coll_head(as_sync_coll_res_t *res, const char *key, const char *id, int status);
/* Insert <MoreAvailable/> into coll before the node before (NULL: at the end). */
void as_sync_more_available(xmlNodePtr coll, xmlNodePtr before);

/* ---- as_sync_emit.c ---- */

/* Email ApplicationData of an item into appdata, its flags and size (size
 * may be NULL); APR_ENOENT when it is gone.  name: its name in a listing,
 * tried first (NULL: none). */
apr_status_t as_sync_item_appdata(as_sync_run_t *c, const as_sync_coll_req_t *q, const char *folder,
                                  const char *item, const char *name, xmlNodePtr appdata,
                                  unsigned *flags, apr_off_t *size);
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

/* ---- as_sync_loop.c ---- */

/* The device sent key N-1 (cs at N): reply N again, or the next step of
 * loop detection.  AS_SYNC_ESTALE: the state moved, compute again. */
apr_status_t as_sync_resend(as_sync_run_t *c, const as_sync_coll_req_t *q,
                            const as_coll_state_t *cs, as_sync_coll_res_t *res);

#endif
