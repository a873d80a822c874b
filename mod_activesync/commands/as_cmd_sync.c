/* Sync (MS-ASCMD 2.2.1.21) for mail collections and the collections of the
 * other classes (contacts, notes: whole items both ways, compared by ETag;
 * as_sync_coll.h).
 *
 * Request: Sync{[Collections{Collection{SyncKey, CollectionId, [Class],
 * [DeletesAsMoves], [GetChanges], [WindowSize], [ConversationMode],
 * [Options{FilterType, BodyPreference*, MIMESupport, MIMETruncation,
 * Conflict ...}], [Commands{Add | Change | Delete | Fetch}]}*}],
 * [Wait | HeartbeatInterval], [WindowSize], [Partial]}, or no body at all.
 *
 * Per collection (state: as_syncstate.h):
 *   SyncKey 0   new generation, key {g}1, no items (Commands ignored).
 *   key N       client Commands first (Change: Read/Flag -> set_flags;
 *               Delete -> Trash, or removal with DeletesAsMoves 0 or in
 *               Trash; Fetch -> Responses/Fetch; Add -> Status 6: mail is
 *               not created by Sync before 16.0), answered in Responses
 *               only on failure (Change/Delete) or always (Fetch, Add).
 *               Then, with GetChanges (default on), server changes: the
 *               header's folder token is compared (O(1)); only when it
 *               differs, changes are pending, the FilterType changed or an
 *               item left the window is the folder listed and compared
 *               with the device's item set (as_sync_deltas): Delete,
 *               SoftDelete, Change, Add (newest first), at most WindowSize
 *               (the collection's, and what the global WindowSize leaves)
 *               and about AS_SYNC_REPLY_BUDGET bytes; MoreAvailable when
 *               more remain.  The device's set changes only by what was
 *               sent, so deliveries, flag changes, renames and removals by
 *               other programs between pages are neither lost nor sent
 *               twice.  A reply with changes (either way) carries {g}N+1
 *               and is stored; otherwise the key stays N.
 *   key N-1     the device lost reply N: the stored reply N again; from
 *               the third consecutive resend on, loop detection
 *               (as_sync_loop.c) narrows reply N, then skips the item.
 *   other       Status 3 (SyncKey 0 in the reply).
 *   Supported in a Notes collection: Status 4 (MS-ASNOTE).
 *   Unknown or disabled (email, contacts or pim off) collection: Status 8;
 *   a folder the
 *   device's hierarchy still lists but which is gone: Status 12.
 * Conflicts (Options/Conflict, default 1 = server wins): a Change of a
 *   Read/Flag the server changed since the device got it is answered
 *   Status 7 and the server's state is sent as a Change.
 * Collection reply order: SyncKey, CollectionId, Status, [Responses],
 *   [MoreAvailable], [Commands] -- for 12.1 too: Class there is optional in
 *   12.1 (MS-ASCMD 2.2.3.27.6), the published SyncResponse schema has no
 *   place for it, and the device knows the class from the folder type.
 * Whole request: no body or Partial -> the cached last full request (per
 *   device; Partial merges its collections into it); none cached -> Status
 *   13.  Wait (1-59 min) / HeartbeatInterval (60-3540 s, 14.0+) out of
 *   range -> Status 14 + Limit; both, or HeartbeatInterval from a 12.1
 *   device -> 4; more than AS_SYNC_MAX_COLLECTIONS -> 15 +
 *   Limit.  When no collection has anything to say the reply is empty
 *   (HTTP 200, no body), which also ends a Wait without changes.
 * Memory: a parked Sync (Wait / HeartbeatInterval) keeps only what its next
 *   round needs -- the collections' ids, keys and options, the claim ticket
 *   and the watch registration -- in the request pool.  Parsing, the cache,
 *   the stored state, the store and its listings and the per-collection
 *   replies live in a scratch view with an allocator of its own
 *   (as_sync_engine.h), closed before parking and after each wake-up's round;
 *   the request documents are freed before parking (as_command.h).
 */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_device.h"
#include "activesync/as_mime.h"
#include "activesync/as_sync_coll.h"
#include "activesync/as_sync_engine.h"
#include "activesync/as_watch.h"

/* The command's view of a request: the engine's (as_sync_coll.h) plus what
 * parking needs. */
typedef struct sync_ctx_t {
    as_request_t *own; /* the request: what outlives parking is in own->pool */
    as_request_t wr;   /* its scratch view (as_sync_engine.h): the per-request work */
    as_sync_run_t e;   /* e.r = &wr; e.st NULL: mail off (or parked), opened in the
                          scratch view */
} sync_ctx_t;

static xmlDocPtr top_status(int status, long limit)
{
    xmlNodePtr root;
    xmlDocPtr doc = as_reply_new(AS_SYNC_AS_NS, "Sync", &root);
    as_sync_add_num(root, AS_SYNC_AS_NS, "Status", status);
    if (limit >= 0) {
        as_sync_add_num(root, AS_SYNC_AS_NS, "Limit", limit);
    }
    return doc;
}

static int is_elem(xmlNodePtr n)
{
    return n && n->type == XML_ELEMENT_NODE;
}

/* ---- request parsing ---------------------------------------------------------------- */

static int parse_bool(apr_pool_t *p, xmlNodePtr n, int def)
{
    const char *t;
    if (!n) {
        return def;
    }
    t = as_sync_text(p, n);
    if (!t) {
        return -2;
    }
    return !*t || !strcmp(t, "1") ? 1 : !strcmp(t, "0") ? 0 : -2;
}

static apr_size_t mime_truncation(long v)
{
    static const apr_size_t sizes[] = {0, 4096, 5120, 7168, 10240, 20480, 51200, 102400, 0};
    return v >= 0 && v <= 8 ? sizes[v] : 0;
}

/* Options (the first one without Class or for a class of folders: the
 * SMS Options beside a mail folder's are not served). */
static int parse_options(sync_ctx_t *c, xmlNodePtr coll, as_sync_coll_req_t *q)
{
    apr_pool_t *p = c->e.r->pool;
    xmlNodePtr o, e;
    long mt = -1;

    for (o = coll->children; o; o = o->next) {
        const char *cls;
        if (!as_xml_is(o, AS_SYNC_AS_NS, "Options")) {
            continue;
        }
        cls = as_sync_text(p, as_xml_child(o, AS_SYNC_AS_NS, "Class"));
        if (!cls || as_class_by_name(cls) >= 0) {
            break; /* not the SMS options of a mail folder */
        }
    }
    if (!o) {
        return 0;
    }
    for (e = o->children; e; e = e->next) {
        if (!is_elem(e)) {
            continue;
        }
        if (as_xml_is(e, AS_SYNC_AS_NS, "FilterType")) {
            q->filter = (int)as_sync_number(p, e, 0, 8);
            if (q->filter < 0) {
                return -1;
            }
            /* 6-8 are calendar/task values: the folder's class keeps what it honours
             * (as_sync_filter_for_class) */
        } else if (as_xml_is(e, AS_SYNC_AS_NS, "MIMESupport")) {
            if ((q->mime_support = (int)as_sync_number(p, e, 0, 2)) < 0) {
                return -1;
            }
        } else if (as_xml_is(e, AS_SYNC_AS_NS, "MIMETruncation")) {
            if ((mt = as_sync_number(p, e, 8, 8)) < 0) {
                return -1;
            }
        } else if (as_xml_is(e, AS_SYNC_AS_NS, "Conflict")) {
            if ((q->conflict = (int)as_sync_number(p, e, 1, 2)) < 0) {
                return -1;
            }
        } else if (as_xml_is(e, AS_SYNC_BASE_NS, "BodyPreference") &&
                   q->nprefs < AS_SYNC_MAX_PREFS) {
            if (as_cmd_bodypref(p, e, &q->prefs[q->nprefs]) != 0) {
                return -1;
            }
            q->nprefs++;
        }
    }
    if (mt >= 0) {
        int i;
        for (i = 0; i < q->nprefs; i++) {
            if (q->prefs[i].type == 4 && !q->prefs[i].truncation) {
                q->prefs[i].truncation = mime_truncation(mt);
            }
        }
    }
    return 0;
}

static int parse_collection(sync_ctx_t *c, xmlNodePtr coll, int max_window, as_sync_coll_req_t *q)
{
    apr_pool_t *p = c->e.r->pool;
    long w;
    memset(q, 0, sizeof(*q));
    /* kept while parked: every round answers with them */
    q->id = as_sync_text(c->own->pool, as_xml_child(coll, AS_SYNC_AS_NS, "CollectionId"));
    q->key = as_sync_text(c->own->pool, as_xml_child(coll, AS_SYNC_AS_NS, "SyncKey"));
    if (!q->id || !q->key || strlen(q->key) > 64 || strlen(q->id) > 64) {
        return -1;
    }
    q->get_changes = parse_bool(p, as_xml_child(coll, AS_SYNC_AS_NS, "GetChanges"), -1);
    q->deletes_as_moves = parse_bool(p, as_xml_child(coll, AS_SYNC_AS_NS, "DeletesAsMoves"), 1);
    if (q->get_changes == -2 || q->deletes_as_moves == -2) {
        return -1;
    }
    w = as_sync_number(p, as_xml_child(coll, AS_SYNC_AS_NS, "WindowSize"), AS_SYNC_WINDOW_DEFAULT,
                       999999999L);
    if (w < 0) {
        return -1;
    }
    q->window = w == 0 || w > max_window ? max_window : (int)w;
    q->conflict = 1;
    q->commands = as_xml_child(coll, AS_SYNC_AS_NS, "Commands");
    /* 12.1 names the class; the folder's own class decides (as_sync_collection) */
    q->req_class = as_sync_text(c->own->pool, as_xml_child(coll, AS_SYNC_AS_NS, "Class"));
    q->supported = as_xml_child(coll, AS_SYNC_AS_NS, "Supported") != NULL;
    return parse_options(c, coll, q);
}

/* ---- the request as a whole ------------------------------------------------------------ */

/* Commands removed: what is cached for the empty/Partial forms. */
/* Whether the request has a Partial or a collection's Commands (else it
 * is its own cache form: no copy to make, issue 10). */
static int has_transient(xmlDocPtr doc)
{
    xmlNodePtr root = xmlDocGetRootElement(doc), colls, coll;
    if (!root || as_xml_child(root, AS_SYNC_AS_NS, "Partial")) {
        return 1;
    }
    colls = as_xml_child(root, AS_SYNC_AS_NS, "Collections");
    for (coll = colls ? colls->children : NULL; coll; coll = coll->next) {
        if (as_xml_child(coll, AS_SYNC_AS_NS, "Commands")) {
            return 1;
        }
    }
    return 0;
}

static char *cache_form(xmlDocPtr doc, apr_pool_t *p, apr_size_t *len)
{
    xmlDocPtr copy;
    xmlNodePtr root, colls, coll, n;
    char *s;

    if (!has_transient(doc)) {
        return as_sync_doc_xml(doc, p, len);
    }
    copy = xmlCopyDoc(doc, 1);
    root = xmlDocGetRootElement(copy);
    for (n = root ? root->children : NULL; n;) {
        xmlNodePtr next = n->next;
        if (as_xml_is(n, AS_SYNC_AS_NS, "Partial")) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
        n = next;
    }
    colls = root ? as_xml_child(root, AS_SYNC_AS_NS, "Collections") : NULL;
    for (coll = colls ? colls->children : NULL; coll; coll = coll->next) {
        xmlNodePtr cmds = as_xml_child(coll, AS_SYNC_AS_NS, "Commands");
        if (cmds) {
            xmlUnlinkNode(cmds);
            xmlFreeNode(cmds);
        }
    }
    s = as_sync_doc_xml(copy, p, len);
    xmlFreeDoc(copy);
    return s;
}

static const char *coll_id_of(apr_pool_t *p, xmlNodePtr coll)
{
    return as_sync_text(p, as_xml_child(coll, AS_SYNC_AS_NS, "CollectionId"));
}

/* The request to run: the body itself, or the cached one (empty form), or
 * the cached one with the body's collections and settings merged in
 * (Partial).  *cache_it: write the result to the cache.  NULL doc and
 * status 13 when the cache is needed and absent. */
static apr_status_t effective_request(sync_ctx_t *c, xmlDocPtr *out, int *cache_it, int *status)
{
    as_request_t *r = c->e.r;
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL;
    xmlNodePtr croot, ccolls, n, coll;
    xmlDocPtr cached;
    const char *xml;
    apr_size_t len;
    apr_status_t rv;
    int partial;

    *out = NULL;
    *cache_it = 0;
    *status = 0;
    if (root && !as_xml_is(root, AS_SYNC_AS_NS, "Sync")) {
        *status = AS_SYNC_STATUS_PROTOCOL;
        return APR_SUCCESS;
    }
    partial = !root || as_xml_child(root, AS_SYNC_AS_NS, "Partial") ||
              !as_xml_child(root, AS_SYNC_AS_NS, "Collections");
    if (!partial) {
        /* taken over, not copied: freed with the request's own document
         * (as_command.h), at the latest before parking */
        *out = r->body;
        r->body = c->own->body = NULL;
        *cache_it = 1;
        return APR_SUCCESS;
    }
    if ((rv = as_sync_cache_get(r->db, r->pool, r->account, c->e.dev, &xml, &len)) != APR_SUCCESS) {
        return rv;
    }
    if (xml && len > (apr_size_t)INT_MAX) {
        /* libxml2 takes an int length: whatever bounds the cache elsewhere,
         * a longer one is treated as none (the device sends a full request) */
        as_log(r->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
               "Sync: cached request of %" APR_SIZE_T_FMT " bytes too long, not used", len);
        xml = NULL;
    }
    if (!xml || !(cached = xmlReadMemory(xml, (int)len, "cache.xml", NULL,
                                         XML_PARSE_NONET | XML_PARSE_HUGE))) {
        *status = AS_SYNC_STATUS_INCOMPLETE;
        return APR_SUCCESS;
    }
    croot = xmlDocGetRootElement(cached);
    ccolls = as_xml_child(croot, AS_SYNC_AS_NS, "Collections");
    /* the cached keys are stale: the device is at the state's current key */
    for (coll = ccolls ? ccolls->children : NULL; coll; coll = coll->next) {
        as_coll_state_t cs;
        const char *id = coll_id_of(r->pool, coll);
        xmlNodePtr k = as_xml_child(coll, AS_SYNC_AS_NS, "SyncKey");
        if (id && k &&
            as_coll_get(r->db, r->pool, r->account, c->e.dev, id, 0, &cs) == APR_SUCCESS &&
            cs.n > 0) {
            xmlNodeSetContent(k, BAD_CAST as_synckey_format(r->pool, cs.gen, cs.n));
        }
    }
    if (root) {
        xmlNodePtr rcolls = as_xml_child(root, AS_SYNC_AS_NS, "Collections");
        /* settings of the body replace the cached ones */
        for (n = root->children; n; n = n->next) {
            xmlNodePtr old;
            if (!is_elem(n) || as_xml_is(n, AS_SYNC_AS_NS, "Collections") ||
                as_xml_is(n, AS_SYNC_AS_NS, "Partial")) {
                continue;
            }
            if (as_xml_is(n, AS_SYNC_AS_NS, "Wait") ||
                as_xml_is(n, AS_SYNC_AS_NS, "HeartbeatInterval")) {
                xmlNodePtr w;
                while ((w = as_xml_child(croot, AS_SYNC_AS_NS, "Wait")) ||
                       (w = as_xml_child(croot, AS_SYNC_AS_NS, "HeartbeatInterval"))) {
                    xmlUnlinkNode(w);
                    xmlFreeNode(w);
                }
            } else if ((old = as_xml_child(croot, n->ns ? (const char *)n->ns->href : "",
                                           (const char *)n->name))) {
                xmlUnlinkNode(old);
                xmlFreeNode(old);
            }
            xmlAddChild(croot, xmlDocCopyNode(n, cached, 1));
        }
        if (!ccolls) {
            ccolls = as_xml_add(croot, AS_SYNC_AS_NS, "Collections", NULL);
        }
        for (coll = rcolls ? rcolls->children : NULL; coll; coll = coll->next) {
            const char *id = is_elem(coll) ? coll_id_of(r->pool, coll) : NULL;
            xmlNodePtr old = NULL, cp;
            if (!id) {
                continue;
            }
            for (old = ccolls->children; old; old = old->next) {
                const char *oid = is_elem(old) ? coll_id_of(r->pool, old) : NULL;
                if (oid && !strcmp(oid, id)) {
                    break;
                }
            }
            cp = xmlDocCopyNode(coll, cached, 1);
            if (old) {
                xmlNodePtr opts = as_xml_child(old, AS_SYNC_AS_NS, "Options");
                if (opts && !as_xml_child(cp, AS_SYNC_AS_NS, "Options")) {
                    xmlAddChild(cp, xmlDocCopyNode(opts, cached, 1));
                }
                xmlReplaceNode(old, cp);
                xmlFreeNode(old);
            } else {
                xmlAddChild(ccolls, cp);
            }
        }
        *cache_it = 1;
    }
    *out = cached;
    return APR_SUCCESS;
}

/* The default waiter: inotify through as_watch.h (new/ and cur/ of every
 * collection, and the device's claim so a newer request ends the wait). */
static apr_status_t watch_start(sync_ctx_t *c, const as_watch_ticket_t *ticket,
                                const apr_array_header_t *ids, as_watch_t **w)
{
    apr_status_t rv;
    int i, j;
    *w = NULL;
    if ((rv = as_watch_create(c->own->pool, ticket, c->e.r->log,
                              c->e.r->conf ? &c->e.r->conf->push_stop : NULL, w)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < ids->nelts; i++) {
        apr_array_header_t *paths = NULL;
        if (as_store_watch_paths(c->e.st, APR_ARRAY_IDX(ids, i, const char *), c->e.r->pool,
                                 &paths) != APR_SUCCESS) {
            continue;
        }
        for (j = 0; j < paths->nelts; j++) {
            as_watch_add(*w, APR_ARRAY_IDX(paths, j, const char *), NULL);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t watch_wait(void *baton, const as_request_t *req, as_store_t *st,
                               const apr_array_header_t *folder_ids, apr_interval_time_t timeout)
{
    as_watch_result_t res = AS_WATCH_TIMEOUT;
    (void)req;
    (void)st;
    (void)folder_ids;
    if (as_watch_wait(baton, timeout, &res) != APR_SUCCESS || res != AS_WATCH_CHANGED) {
        return APR_TIMEUP; /* timeout, superseded, stopping: answer "no change" */
    }
    return APR_SUCCESS;
}

/* The scratch view and what lives in it: the store, the hierarchy state. */
static apr_status_t scratch_open(sync_ctx_t *c)
{
    c->e.st = NULL;
    c->e.hs_loaded = 0;
    return as_sync_scratch_open(c->own, &c->wr);
}

static void scratch_close(sync_ctx_t *c)
{
    as_sync_scratch_close(c->own, &c->wr);
    c->e.st = NULL;
    c->e.hs_loaded = 0;
}

/* Sync every collection again (no client Commands: they ran once). */
static apr_status_t sync_round(sync_ctx_t *c, const apr_array_header_t *qs, apr_array_header_t *res,
                               int *anything)
{
    int i;
    for (i = 0; i < qs->nelts; i++) {
        as_sync_coll_res_t *cr = &APR_ARRAY_IDX(res, i, as_sync_coll_res_t);
        apr_status_t rv;
        as_sync_coll_res_reset(cr);
        if ((rv = as_sync_collection(&c->e, &APR_ARRAY_IDX(qs, i, as_sync_coll_req_t), 0, cr)) !=
            APR_SUCCESS) {
            return rv;
        }
        *anything |= !cr->nothing;
    }
    return APR_SUCCESS;
}

/* Push: nothing to say yet, so wait for a change, the end of the wait, a
 * newer request of the device or a stop, syncing again into res after each
 * wake-up.  Parked, the request keeps only what the next round needs, in
 * own->pool: the collections (ids, keys, options), their ids, the claim
 * ticket and the watch.  The request documents (*req, the decoded body)
 * are freed before the first wait, the previous round's results (nothing
 * to say) are dropped, and the scratch view with the store is closed
 * before each wait and opened afresh after it.  A registered waiter
 * (as_sync.h) gets the store, so the scratch view stays open for it.
 * *status: AS_SYNC_STATUS_SERVER when the store cannot be opened again. */
static apr_status_t sync_wait(sync_ctx_t *c, const as_watch_ticket_t *ticket,
                              apr_array_header_t *qs, apr_array_header_t *res,
                              const apr_array_header_t *ids, apr_interval_time_t wait,
                              xmlDocPtr *req, int *anything, int *status)
{
    const as_sync_waiter_t *waiter = c->e.r->conf ? c->e.r->conf->sync_waiter : NULL;
    as_sync_wait_fn *fn = waiter ? waiter->fn : NULL;
    void *baton = waiter ? waiter->baton : NULL;
    apr_time_t deadline = apr_time_now() + wait;
    as_watch_t *w = NULL;
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (!fn) {
        if (watch_start(c, ticket, ids, &w) != APR_SUCCESS) {
            return APR_SUCCESS; /* no way to wait: no change */
        }
        fn = watch_wait;
        baton = w;
        /* the watches are set: look once more before parking, so that a
         * change between the first look and the wait is not missed */
        if ((rv = sync_round(c, qs, res, anything)) != APR_SUCCESS || *anything) {
            as_watch_close(w);
            return rv;
        }
    }
    for (i = 0; i < qs->nelts; i++) {
        APR_ARRAY_IDX(qs, i, as_sync_coll_req_t).commands = NULL; /* in *req; run once */
    }
    xmlFreeDoc(*req);
    *req = NULL;
    while (!*anything && apr_time_now() < deadline) {
        for (i = 0; i < res->nelts; i++) {
            as_sync_coll_res_reset(&APR_ARRAY_IDX(res, i, as_sync_coll_res_t));
        }
        if (w) {
            as_sync_park_light(c->own, &c->wr);
            c->e.st = NULL;
            c->e.hs_loaded = 0;
        }
        if (fn(baton, c->e.r, c->e.st, ids, deadline - apr_time_now()) != APR_SUCCESS) {
            break;
        }
        if (w && (scratch_open(c) != APR_SUCCESS ||
                  as_sync_open_store(c->e.r, &c->e.st) != APR_SUCCESS)) {
            *status = AS_SYNC_STATUS_SERVER;
            break;
        }
        if ((rv = sync_round(c, qs, res, anything)) != APR_SUCCESS) {
            break;
        }
    }
    if (w) {
        as_watch_close(w);
    }
    return rv;
}

/* The largest WindowSize served (ActiveSyncSyncMaxWindow, at most 512). */
static int max_window_of(const as_request_t *r)
{
    return r->conf && r->conf->sync_max_window > 0 && r->conf->sync_max_window < 512
               ? r->conf->sync_max_window
               : AS_SYNC_WINDOW_MAX;
}

/* Wait / HeartbeatInterval into *wait (0: none); a Status otherwise, with
 * its Limit in *limit. */
static int parse_wait(sync_ctx_t *c, xmlNodePtr root, apr_interval_time_t *wait, long *limit)
{
    xmlNodePtr w = as_xml_child(root, AS_SYNC_AS_NS, "Wait");
    xmlNodePtr h = as_xml_child(root, AS_SYNC_AS_NS, "HeartbeatInterval");
    long v, lo, hi;

    *wait = 0;
    /* HeartbeatInterval in Sync is 14.0+ (MS-ASCMD 2.2.3.88.2); 12.1 has
     * Wait only. */
    if ((w && h) || (h && c->e.proto < 140)) {
        return AS_SYNC_STATUS_PROTOCOL;
    }
    if (!w && !h) {
        return 0;
    }
    v = as_sync_number(c->e.r->pool, w ? w : h, 0, 999999999L);
    lo = w ? AS_SYNC_HEARTBEAT_MIN / 60 : AS_SYNC_HEARTBEAT_MIN;
    hi = w ? AS_SYNC_HEARTBEAT_MAX / 60 : AS_SYNC_HEARTBEAT_MAX;
    if (v < 0) {
        return AS_SYNC_STATUS_PROTOCOL;
    }
    if (v < lo || v > hi) {
        *limit = v < lo ? lo : hi;
        return AS_SYNC_STATUS_BADWAIT;
    }
    *wait = apr_time_from_sec(w ? v * 60 : v);
    return 0;
}

/* The global WindowSize and the collections into *qs (in own->pool: kept
 * while parked); 0, or a Status with its Limit in *limit. */
static int parse_collections(sync_ctx_t *c, xmlNodePtr root, apr_array_header_t **qs, long *limit)
{
    int max_window = max_window_of(c->own), n = 0;
    xmlNodePtr colls = as_xml_child(root, AS_SYNC_AS_NS, "Collections"), coll;
    long gw = as_sync_number(c->e.r->pool, as_xml_child(root, AS_SYNC_AS_NS, "WindowSize"), -1,
                             999999999L);

    c->e.global_left = gw < 0 ? -1 : gw == 0 || gw > max_window ? max_window : (int)gw;
    for (coll = colls ? colls->children : NULL; coll; coll = coll->next) {
        n += is_elem(coll);
    }
    /* sized to the request, not to a default */
    *qs = apr_array_make(c->own->pool, n > 0 && n <= AS_SYNC_MAX_COLLECTIONS ? n : 1,
                         sizeof(as_sync_coll_req_t));
    for (coll = colls ? colls->children : NULL; coll; coll = coll->next) {
        as_sync_coll_req_t *q;
        int k;
        if (!is_elem(coll)) {
            continue;
        }
        if (!as_xml_is(coll, AS_SYNC_AS_NS, "Collection")) {
            return AS_SYNC_STATUS_PROTOCOL;
        }
        q = apr_array_push(*qs);
        if (parse_collection(c, coll, max_window, q) != 0) {
            return AS_SYNC_STATUS_PROTOCOL;
        }
        for (k = 0; k < (*qs)->nelts - 1; k++) {
            if (!strcmp(APR_ARRAY_IDX(*qs, k, as_sync_coll_req_t).id, q->id)) {
                return AS_SYNC_STATUS_PROTOCOL; /* the same collection twice */
            }
        }
    }
    if ((*qs)->nelts == 0) {
        return AS_SYNC_STATUS_INCOMPLETE;
    }
    if ((*qs)->nelts > AS_SYNC_MAX_COLLECTIONS) {
        *limit = AS_SYNC_MAX_COLLECTIONS;
        return AS_SYNC_STATUS_TOOMANY;
    }
    return 0;
}

/* The command's view of r, its scratch view open. */
static apr_status_t ctx_open(sync_ctx_t *c, as_request_t *r)
{
    memset(c, 0, sizeof(*c));
    c->own = r;
    c->e.r = &c->wr;
    c->e.dev = r->line && r->line->device_key ? r->line->device_key : "";
    c->e.proto = as_protocol_number(r->protocol_version);
    if (!c->e.proto) {
        c->e.proto = 141;
    }
    return scratch_open(c);
}

/* The first round: every collection, client Commands included, into *res;
 * *ids: the collections' ids (for the wait). */
static apr_status_t first_round(sync_ctx_t *c, const apr_array_header_t *qs,
                                apr_array_header_t **res, apr_array_header_t **ids, int *anything)
{
    apr_pool_t *p = c->own->pool;
    int i;

    *res = apr_array_make(p, qs->nelts, sizeof(as_sync_coll_res_t));
    *ids = apr_array_make(p, qs->nelts, sizeof(const char *));
    for (i = 0; i < qs->nelts; i++) {
        as_sync_coll_res_t *cr = apr_array_push(*res);
        const as_sync_coll_req_t *q = &APR_ARRAY_IDX(qs, i, as_sync_coll_req_t);
        apr_status_t rv = as_sync_collection(&c->e, q, 1, cr);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        APR_ARRAY_PUSH(*ids, const char *) = q->id;
        *anything |= !cr->nothing;
    }
    return APR_SUCCESS;
}

static void results_free(apr_array_header_t *res)
{
    int i;
    for (i = 0; res && i < res->nelts; i++) {
        as_sync_coll_res_reset(&APR_ARRAY_IDX(res, i, as_sync_coll_res_t));
    }
}

/* The reply: every collection's result, in request order (freed). */
static xmlDocPtr reply_of(apr_array_header_t *res)
{
    xmlNodePtr root, colls;
    xmlDocPtr doc = as_reply_new(AS_SYNC_AS_NS, "Sync", &root);
    int i;

    colls = as_xml_add(root, AS_SYNC_AS_NS, "Collections", NULL);
    for (i = 0; i < res->nelts; i++) {
        as_sync_coll_res_t *cr = &APR_ARRAY_IDX(res, i, as_sync_coll_res_t);
        /* self-contained (as_sync_coll_head): the copy keeps its namespaces */
        xmlAddChild(colls, xmlDocCopyNode(cr->coll, doc, 1));
        as_sync_coll_res_reset(cr);
    }
    return doc;
}

/* Cache the request for the empty and Partial forms, Commands removed. */
static apr_status_t cache_request(sync_ctx_t *c, xmlDocPtr req)
{
    apr_size_t len;
    char *xml = cache_form(req, c->e.r->pool, &len);
    as_request_t *r = c->own;
    return xml ? as_sync_cache_put(r->db, r->account, c->e.dev, xml, len) : APR_SUCCESS;
}

apr_status_t as_cmd_sync(as_request_t *r, as_response_t *resp)
{
    sync_ctx_t c;
    xmlDocPtr req = NULL;
    xmlNodePtr root;
    apr_array_header_t *qs = NULL, *res = NULL, *ids = NULL;
    apr_interval_time_t wait = 0;
    int status = 0, cache_it = 0, anything = 0;
    long limit = -1;
    as_watch_ticket_t *ticket = NULL;
    apr_status_t rv;

    if (!r->db) {
        return as_cmd_db_failure(r, resp, AS_DB_EUNAVAIL);
    }
    if (ctx_open(&c, r) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    if ((rv = effective_request(&c, &req, &cache_it, &status)) != APR_SUCCESS) {
        return as_cmd_db_failure(r, resp, rv);
    }
    if (status) {
        resp->doc = top_status(status, -1);
        return APR_SUCCESS;
    }
    root = xmlDocGetRootElement(req);
    if ((status = parse_wait(&c, root, &wait, &limit)) != 0 ||
        (status = parse_collections(&c, root, &qs, &limit)) != 0) {
        xmlFreeDoc(req);
        resp->doc = top_status(status, limit);
        return APR_SUCCESS;
    }
    if (cache_it && (rv = cache_request(&c, req)) != APR_SUCCESS) {
        xmlFreeDoc(req);
        return as_cmd_db_failure(r, resp, rv);
    }
    /* a request of the device ends its parked Ping/Sync (as_watch.h) */
    if (as_db_home(r->db) &&
        as_watch_claim(r->pool, as_db_home(r->db), r->account, c.e.dev, &ticket) != APR_SUCCESS) {
        ticket = NULL;
    }
    if (as_sync_store_enabled(r) && as_sync_open_store(c.e.r, &c.e.st) != APR_SUCCESS) {
        c.e.st = NULL;
        xmlFreeDoc(req);
        resp->doc = top_status(AS_SYNC_STATUS_SERVER, -1);
        return APR_SUCCESS;
    }
    rv = first_round(&c, qs, &res, &ids, &anything);
    /* push: wait for a change when nothing is to be said */
    if (rv == APR_SUCCESS && !anything && wait > 0 && c.e.st) {
        rv = sync_wait(&c, ticket, qs, res, ids, wait, &req, &anything, &status);
    }
    if (req) {
        xmlFreeDoc(req);
    }
    if (rv != APR_SUCCESS) {
        results_free(res);
        return as_cmd_db_failure(r, resp, rv);
    }
    scratch_close(&c);
    if (status || !anything) {
        /* the store is gone meanwhile, or an empty reply: nothing changed */
        results_free(res);
        resp->doc = status ? top_status(status, -1) : NULL;
        return APR_SUCCESS;
    }
    resp->doc = reply_of(res);
    return APR_SUCCESS;
}
