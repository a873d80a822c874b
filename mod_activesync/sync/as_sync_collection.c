/* Sync of one mail collection (as_sync_coll.h): the key decides the path
 * -- 0 starts a generation, N-1 replays or narrows reply N (loop
 * detection, as_sync_loop.c), N runs the client's Commands (first round
 * only, as_sync_client.c) and pages the server's changes (as_sync_emit.c)
 * -- and the state is written with a compare-and-set: when another request
 * advanced it meanwhile (AS_SYNC_ESTALE) the collection is computed again,
 * a few times at most. */
#include <string.h>

#include "as_sync_coll_int.h"

#define SYNC_TRIES 5

/* One attempt at the device's current key N. */
typedef struct attempt_t {
    as_coll_state_t cs; /* at N, items loaded */
    as_cset_t set;      /* the device's set as this reply changes it */
    as_deltas_t d;
    apr_array_header_t *undo; /* as_sync_undo_t of the server changes sent */
    xmlNodePtr scratch;       /* holds Responses and Commands until placed in order */
    xmlNodePtr responses, commands;
    int client_changed; /* a client command changed something */
    int sent, more;     /* server changes sent; some remain */
    int scanned;        /* the folder was listed (d valid) */
    int forgot;         /* skipped items dropped from the set */
} attempt_t;

/* Does the device's hierarchy know the folder (-> Status 12 when gone)? */
static int hierarchy_knows(as_sync_run_t *c, const char *id)
{
    if (!c->hs_loaded) {
        if (as_hier_get(c->r->db, c->r->pool, c->r->account, c->dev, &c->hs) != APR_SUCCESS) {
            return 0;
        }
        c->hs_loaded = 1;
    }
    return as_hier_find(c->hs.folders, id) != NULL;
}

/* SyncKey 0: a new generation at key 1, no items. */
static apr_status_t sync_initial(as_sync_run_t *c, const as_sync_coll_req_t *q,
                                 const as_coll_state_t *cs, as_sync_coll_res_t *res)
{
    as_request_t *r = c->r;
    as_coll_state_t ns;
    apr_status_t rv;

    memset(&ns, 0, sizeof(ns));
    ns.gen = as_synckey_new_gen();
    ns.n = 1;
    ns.filter_type = q->filter;
    ns.items = NULL;
    ns.items_loaded = 1;
    ns.etags = q->cls != AS_CLASS_EMAIL; /* items compared by ETag */
    rv = as_coll_put(r->db, r->account, c->dev, q->id, cs->gen, cs->n, &ns, NULL, 0);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    as_sync_coll_head(res, as_synckey_format(r->pool, ns.gen, ns.n), q->id, AS_SYNC_STATUS_OK);
    return APR_SUCCESS;
}

/* The device took reply N: its resends of N-1 are no longer consecutive. */
static apr_status_t clear_resends(as_sync_run_t *c, const as_sync_coll_req_t *q,
                                  as_coll_state_t *cs)
{
    as_request_t *r = c->r;
    as_coll_state_t ns = *cs;
    apr_status_t rv;

    ns.resends = 0;
    ns.items_loaded = 0;
    rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, cs->gen, cs->n, &ns, NULL, 0, NULL,
                          (long)cs->resends);
    if (rv == APR_SUCCESS) {
        cs->resends = 0;
    }
    return rv;
}

/* Without client Commands: *done (and res answered) when there is nothing
 * to look for -- GetChanges 0, or the O(1) header test says unchanged. */
static void probe_unchanged(as_sync_run_t *c, const as_sync_coll_req_t *q,
                            const as_coll_state_t *cs, as_sync_coll_res_t *res, int *done)
{
    const char *token = NULL;
    apr_status_t rv;

    *done = 1;
    if (q->get_changes == 0) {
        as_sync_coll_head(res, q->key, q->id, AS_SYNC_STATUS_OK);
        res->nothing = 1;
        return;
    }
    if ((rv = as_store_folder_token(c->st, q->id, c->r->pool, &token)) != APR_SUCCESS) {
        as_sync_coll_head(res, q->key, q->id,
                          rv == APR_ENOENT ? AS_SYNC_STATUS_HIERARCHY : AS_SYNC_STATUS_SERVER);
        return;
    }
    if (as_sync_header_unchanged(cs, token, q->filter)) {
        as_sync_coll_head(res, q->key, q->id, AS_SYNC_STATUS_OK);
        res->nothing = 1;
        return;
    }
    *done = 0;
}

/* The server's changes into the reply.  0 when the folder cannot be listed:
 * res is then answered with that Status alone. */
static int server_changes(as_sync_run_t *c, const as_sync_coll_req_t *q, attempt_t *a,
                          as_sync_coll_res_t *res)
{
    apr_pool_t *p = c->r->pool;
    int limit = q->window;
    apr_status_t rv;

    if (c->global_left >= 0 && c->global_left < limit) {
        limit = c->global_left;
    }
    if (a->cs.careful && limit > 1) {
        limit = 1; /* after a loop: one change per reply (as_sync_loop.c) */
    }
    /* a page lists the page only (and knows whether more remain) */
    if ((rv = as_sync_deltas_for(c->st, p, q->id, &a->cs, q->filter, limit > 0 ? limit : 1,
                                 &a->d)) != APR_SUCCESS) {
        as_sync_coll_res_reset(res);
        as_sync_coll_head(res, q->key, q->id,
                          rv == APR_ENOENT ? AS_SYNC_STATUS_HIERARCHY : AS_SYNC_STATUS_SERVER);
        return 0;
    }
    a->scanned = 1;
    for (a->forgot = 0; a->forgot < a->d.forget->nelts; a->forgot++) {
        as_cset_remove(&a->set, APR_ARRAY_IDX(a->d.forget, a->forgot, const char *));
    }
    a->sent = as_sync_emit_changes(c, q, &a->d, &a->set, res->coll, &a->commands, limit, &a->more,
                                   a->undo);
    if (c->global_left >= 0) {
        c->global_left -= a->sent;
    }
    return 1;
}

/* Order of a collection's reply: ..., Status, Responses, MoreAvailable,
 * Commands; the scratch element goes. */
static void place_in_order(as_sync_coll_res_t *res, attempt_t *a)
{
    if (a->responses) {
        xmlUnlinkNode(a->responses);
        xmlAddPrevSibling(a->scratch, a->responses);
    }
    if (a->more) {
        as_sync_more_available(res->coll, a->scratch);
    }
    if (a->commands) {
        xmlUnlinkNode(a->commands);
        xmlAddPrevSibling(a->scratch, a->commands);
    }
    xmlUnlinkNode(a->scratch);
    xmlFreeNode(a->scratch);
    a->scratch = NULL;
}

/* Whether the header to keep is the stored one (then nothing is written:
 * a Sync that changes nothing writes nothing, issue 10). */
static int header_same(const as_coll_state_t *a, const as_coll_state_t *b)
{
    return a->filter_type == b->filter_type && a->pending == b->pending && a->expire == b->expire &&
           a->careful == b->careful &&
           (a->token == b->token || (a->token && b->token && strcmp(a->token, b->token) == 0));
}

/* Write the state the reply leaves: key N kept when nothing moved either
 * way, else N+1 with the reply (for a resend) and its undo list. */
static apr_status_t store_outcome(as_sync_run_t *c, const as_sync_coll_req_t *q, attempt_t *a,
                                  as_sync_coll_res_t *res)
{
    as_request_t *r = c->r;
    as_coll_state_t *cs = &a->cs, ns;
    const char *xml;
    apr_size_t xml_len;
    apr_status_t rv;

    as_cset_commit(&a->set, r->pool);
    ns = *cs;
    ns.filter_type = q->filter;
    ns.pending = a->more;
    ns.token = a->scanned && !a->more ? a->d.token : NULL;
    ns.expire =
        a->scanned ? as_sync_deltas_expiry(&a->d, cs, as_sync_filter_span(q->filter), r->pool) : 0;
    ns.careful =
        a->more && cs->careful > (apr_uint32_t)a->sent ? cs->careful - (apr_uint32_t)a->sent : 0;
    if (!a->client_changed && a->sent == 0) {
        /* nothing either way: the key stays; remember what was seen (and
         * skipped items the device never had, gone now) */
        ns.items_loaded = a->forgot > 0 || a->set.changed;
        rv = !ns.items_loaded && header_same(&ns, cs)
                 ? APR_SUCCESS
                 : as_coll_put(r->db, r->account, c->dev, q->id, cs->gen, cs->n, &ns, NULL, 0);
        if (rv == APR_SUCCESS) {
            res->nothing = a->responses == NULL;
        }
        return rv;
    }
    ns.n = cs->n + 1;
    xmlNodeSetContent(as_xml_child(res->coll, AS_SYNC_AS_NS, "SyncKey"),
                      BAD_CAST as_synckey_format(r->pool, ns.gen, ns.n));
    xml = as_sync_doc_xml(res->doc, r->pool, &xml_len);
    if (xml_len > 8 * AS_SYNC_REPLY_BUDGET) {
        xml = NULL; /* too big to keep: a resend of N then answers Status 3 */
    }
    ns.resends = 0;
    return as_coll_put_undo(r->db, r->account, c->dev, q->id, cs->gen, cs->n, &ns, xml, xml_len,
                            xml ? a->undo : NULL, -1);
}

/* Key N: client Commands (first round), then server changes. */
static apr_status_t sync_current(as_sync_run_t *c, const as_sync_coll_req_t *q, int first,
                                 as_coll_state_t *hdr, as_sync_coll_res_t *res)
{
    as_request_t *r = c->r;
    int run_commands = first && q->commands;
    attempt_t a;
    apr_status_t rv;

    if (hdr->resends && (rv = clear_resends(c, q, hdr)) != APR_SUCCESS) {
        return rv;
    }
    if (!run_commands) {
        int done;
        probe_unchanged(c, q, hdr, res, &done);
        if (done) {
            return APR_SUCCESS;
        }
    }
    memset(&a, 0, sizeof(a));
    a.undo = apr_array_make(r->pool, 16, sizeof(as_sync_undo_t));
    if ((rv = as_coll_get(r->db, r->pool, r->account, c->dev, q->id, 1, &a.cs)) != APR_SUCCESS) {
        return rv;
    }
    if (as_synckey_match(q->key, a.cs.gen, a.cs.n) != AS_KEY_CURRENT) {
        return AS_SYNC_ESTALE; /* advanced meanwhile */
    }
    as_cset_init(&a.set, &a.cs, r->pool);
    as_sync_coll_head(res, q->key, q->id, AS_SYNC_STATUS_OK);
    as_sync_coll_declare_ns(res->coll, q->cls);
    /* Responses and Commands are built apart, then placed in order */
    a.scratch = as_xml_add(res->coll, AS_SYNC_AS_NS, "Scratch", NULL);
    if (run_commands) {
        a.client_changed = as_sync_client_commands(c, q, &a.set, a.scratch, &a.responses);
        if (a.set.changed) {
            as_cset_rebase(&a.set, r->pool); /* the set as the commands left it */
        }
    }
    if (q->get_changes != 0 && !server_changes(c, q, &a, res)) {
        return APR_SUCCESS;
    }
    place_in_order(res, &a);
    return store_outcome(c, q, &a, res);
}

/* The request of a collection with the folder's class: FilterType is a
 * window over mail, calendars and task lists, none for contacts and notes. */
static void class_of_folder(as_sync_run_t *c, const as_sync_coll_req_t *in,
                            const as_store_folder_t *folder, as_sync_coll_req_t *q)
{
    *q = *in;
    q->cls = folder->cls;
    q->codec = c->codec_of ? c->codec_of(q->cls) : as_item_codec(q->cls);
    q->filter = as_sync_filter_for_class(q->cls, q->filter);
    if (q->req_class && as_class_by_name(q->req_class) != q->cls) {
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
               "Sync: collection %s of %s is %s, the request says %s: the folder's class is used",
               q->id, c->r->account, as_class_name(q->cls), q->req_class);
    }
}

apr_status_t as_sync_collection(as_sync_run_t *c, const as_sync_coll_req_t *in, int first,
                                as_sync_coll_res_t *res)
{
    as_request_t *r = c->r;
    const as_store_folder_t *folder = NULL;
    as_sync_coll_req_t qc, *q = &qc;
    int tries;

    memset(res, 0, sizeof(*res));
    if (!c->st || as_store_get_folder(c->st, in->id, r->pool, &folder) != APR_SUCCESS) {
        as_sync_coll_head(res, in->key, in->id,
                          c->st && hierarchy_knows(c, in->id) ? AS_SYNC_STATUS_HIERARCHY
                                                              : AS_SYNC_STATUS_NOTFOUND);
        return APR_SUCCESS;
    }
    class_of_folder(c, in, folder, &qc);
    if (q->supported && q->cls == AS_CLASS_NOTES) {
        /* MS-ASNOTE: Notes have no ghosted properties, Supported is an error */
        as_sync_coll_head(res, q->key, q->id, AS_SYNC_STATUS_PROTOCOL);
        return APR_SUCCESS;
    }
    for (tries = 0; tries < SYNC_TRIES; tries++) {
        as_coll_state_t cs;
        apr_status_t rv;

        as_sync_coll_res_reset(res);
        if ((rv = as_coll_get(r->db, r->pool, r->account, c->dev, q->id, 0, &cs)) != APR_SUCCESS) {
            return rv;
        }
        switch (as_synckey_match(q->key, cs.gen, cs.n)) {
        case AS_KEY_UNKNOWN:
            as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
                   "Sync: unknown key %s for %s (%s/%s)", q->key, q->id, r->account, c->dev);
            as_sync_coll_head(res, "0", q->id, AS_SYNC_STATUS_BADKEY);
            return APR_SUCCESS;
        case AS_KEY_INITIAL:
            rv = sync_initial(c, q, &cs, res);
            break;
        case AS_KEY_PREVIOUS:
            rv = as_sync_resend(c, q, &cs, res);
            break;
        default:
            rv = sync_current(c, q, first, &cs, res);
            break;
        }
        if (rv != AS_SYNC_ESTALE) {
            return rv;
        }
    }
    return AS_DB_EBUSY;
}
