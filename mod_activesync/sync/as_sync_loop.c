/* Loop detection of Sync (as_sync_coll_int.h).
 *
 * A device that resends key N-1 again and again has not lost reply N: the
 * reply breaks it (an item it cannot take, a reply too big for its
 * time-out; eas-protocol §3.18, §6.3 #8).  Each LOOP_RESENDS-th consecutive
 * resend of the same reply escalates one step:
 *   - reply N has several server changes: it is rebuilt from the set at N-1
 *     (reply N's changes undone) with a window of 1, and the following
 *     replies carry one change each until those changes are through
 *     (careful), so the next loop pins one item;
 *   - reply N has one change, an Add: that item is skipped -- kept in the
 *     set marked AS_SYNC_SKIPPED, so it is never offered to this device again
 *     while it exists (a new copy has a new id and is tried afresh; a SyncKey
 *     0 resync tries it again) -- and reply N is rebuilt without it;
 *   - anything else (one Delete/Change, only Responses): nothing to narrow,
 *     the reply is replayed (logged once).
 * The key stays N: the device never took reply N, so replacing it loses
 * nothing.  The Responses of reply N (client commands, already carried out)
 * are kept as they were.  One or two resends (a lost reply) still get reply
 * N byte for byte. */
#include <limits.h>
#include <string.h>

#include "as_sync_coll_int.h"

#define LOOP_RESENDS 3

static const char *dev_name(const as_sync_run_t *c)
{
    return c->r->line && c->r->line->device_id ? c->r->line->device_id : c->dev;
}

/* A stored reply parsed again; NULL when it cannot be (libxml2 takes an int
 * length: a reply past INT_MAX is refused here whatever the store's bound). */
static xmlDocPtr stored_reply_parse(const char *xml, apr_size_t len)
{
    if (!xml || len > (apr_size_t)INT_MAX) {
        return NULL;
    }
    return xmlReadMemory(xml, (int)len, "reply.xml", NULL, XML_PARSE_NONET | XML_PARSE_HUGE);
}

/* The Collection element of a stored reply document. */
static xmlNodePtr stored_reply_coll(xmlDocPtr doc)
{
    return as_xml_child(as_xml_child(xmlDocGetRootElement(doc), AS_SYNC_AS_NS, "Collections"),
                        AS_SYNC_AS_NS, "Collection");
}

/* The set at N-1 in cs (at N): reply N's server changes undone, and skip
 * (when set) kept as an item never to send. */
static void set_at_previous(as_cset_t *set, as_coll_state_t *cs, const apr_array_header_t *undo,
                            const char *skip, apr_pool_t *p)
{
    int i;
    as_cset_init(set, cs, p);
    for (i = 0; i < undo->nelts; i++) {
        const as_sync_undo_t *u = &APR_ARRAY_IDX(undo, i, as_sync_undo_t);
        if (u->kind == AS_UNDO_ADDED) {
            as_cset_remove(set, u->id);
        } else if (u->kind == AS_UNDO_REMOVED && as_coll_find(cs, u->id) < 0) {
            as_cset_add(set, u->id, u->flags, u->etag);
        } else if (u->kind == AS_UNDO_FLAGS) {
            as_cset_set_flags(set, u->id, u->flags);
            if (u->etag) {
                as_cset_set_etag(set, u->id, u->etag);
            }
        }
    }
    if (skip) {
        /* with the ETag it had: a later edit of it is tried afresh */
        int k = as_coll_find(cs, skip);
        as_cset_add(set, skip, AS_SYNC_SKIPPED, k >= 0 ? cs->items[k].etag : 0);
    }
    as_cset_rebase(set, p);
}

/* The Responses of the old reply N (client commands, carried out once)
 * into the new one. */
static void keep_responses(as_sync_coll_res_t *res, const char *old_xml, apr_size_t old_len)
{
    xmlDocPtr old = stored_reply_parse(old_xml, old_len);
    xmlNodePtr oc, resp;
    if (!old) {
        return;
    }
    oc = stored_reply_coll(old);
    resp = oc ? as_xml_child(oc, AS_SYNC_AS_NS, "Responses") : NULL;
    if (resp) {
        xmlAddChild(res->coll, xmlDocCopyNode(resp, res->doc, 1));
    }
    xmlFreeDoc(old);
}

static void log_rebuild(as_sync_run_t *c, const as_sync_coll_req_t *q, const as_coll_state_t *hdr,
                        int changes, const char *skip)
{
    as_request_t *r = c->r;
    if (skip) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
               "Sync loop: account %s device %s collection %s: item %s skipped, the device "
               "resent key %s %u times for it",
               r->account, dev_name(c), q->id, as_sync_serverid(r->pool, q->id, skip), q->key,
               hdr->resends);
    } else {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, APR_SUCCESS,
               "Sync loop: account %s device %s collection %s: key %s resent %u times, reply "
               "of %d changes rebuilt with one",
               r->account, dev_name(c), q->id, q->key, hdr->resends, changes);
    }
}

/* Reply N again, built from the set at N-1 with at most one change; skip:
 * the id of an item never to send to this device. */
static apr_status_t sync_rebuild(as_sync_run_t *c, const as_sync_coll_req_t *q,
                                 const as_coll_state_t *hdr, const char *old_xml,
                                 apr_size_t old_len, const apr_array_header_t *undo,
                                 const char *skip, as_sync_coll_res_t *res)
{
    as_request_t *r = c->r;
    as_coll_state_t cs, ns;
    as_deltas_t d;
    as_cset_t set;
    xmlNodePtr commands = NULL;
    apr_array_header_t *nundo = apr_array_make(r->pool, 2, sizeof(as_sync_undo_t));
    const char *xml;
    apr_size_t xml_len;
    apr_uint32_t careful;
    apr_status_t rv;
    int i, sent, more = 0;

    if ((rv = as_coll_get(r->db, r->pool, r->account, c->dev, q->id, 1, &cs)) != APR_SUCCESS) {
        return rv;
    }
    if (cs.gen != hdr->gen || cs.n != hdr->n || cs.resends != hdr->resends) {
        return AS_SYNC_ESTALE;
    }
    set_at_previous(&set, &cs, undo, skip, r->pool);
    if ((rv = as_sync_deltas(c->st, r->pool, q->id, &cs, q->filter, &d)) != APR_SUCCESS) {
        as_sync_coll_head(res, q->key, q->id,
                          rv == APR_ENOENT ? AS_SYNC_STATUS_HIERARCHY : AS_SYNC_STATUS_SERVER);
        return APR_SUCCESS;
    }
    as_sync_coll_head(res, as_synckey_format(r->pool, cs.gen, cs.n), q->id, AS_SYNC_STATUS_OK);
    keep_responses(res, old_xml, old_len);
    for (i = 0; i < d.forget->nelts; i++) {
        as_cset_remove(&set, APR_ARRAY_IDX(d.forget, i, const char *));
    }
    sent = as_sync_emit_changes(c, q, &d, &set, res->coll, &commands, 1, &more, nundo);
    if (c->global_left >= 0) {
        c->global_left = c->global_left > sent ? c->global_left - sent : 0;
    }
    if (more) {
        as_sync_more_available(res->coll, commands);
    }
    as_cset_commit(&set, r->pool);
    careful = hdr->careful > (apr_uint32_t)undo->nelts ? hdr->careful : (apr_uint32_t)undo->nelts;
    ns = cs;
    ns.filter_type = q->filter;
    ns.pending = more;
    ns.token = more ? NULL : d.token;
    ns.expire = as_sync_deltas_expiry(&d, &cs, as_sync_filter_span(q->filter), r->pool);
    ns.resends = 0;
    ns.careful = more && careful > (apr_uint32_t)sent ? careful - (apr_uint32_t)sent : 0;
    xml = as_sync_doc_xml(res->doc, r->pool, &xml_len);
    rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, hdr->gen, hdr->n, &ns, xml, xml_len,
                          nundo, (long)hdr->resends);
    if (rv != APR_SUCCESS) {
        as_sync_coll_res_reset(res);
        return rv;
    }
    log_rebuild(c, q, hdr, undo->nelts, skip);
    return APR_SUCCESS;
}

/* Key N-1: reply N again (lost reply), or the next loop step. */
apr_status_t as_sync_resend(as_sync_run_t *c, const as_sync_coll_req_t *q,
                            const as_coll_state_t *cs, as_sync_coll_res_t *res)
{
    as_request_t *r = c->r;
    apr_array_header_t *undo = NULL;
    as_coll_state_t nh;
    apr_uint32_t rn = 0;
    const char *xml;
    apr_size_t xml_len;
    apr_status_t rv;

    if ((rv = as_coll_get_undo(r->db, r->pool, r->account, c->dev, q->id, &rn, &xml, &xml_len,
                               &undo)) != APR_SUCCESS) {
        return rv;
    }
    if (rn != cs->n || !xml) {
        as_sync_coll_head(res, "0", q->id, AS_SYNC_STATUS_BADKEY);
        return APR_SUCCESS;
    }
    nh = *cs;
    nh.resends = cs->resends + 1;
    if (undo && nh.resends >= LOOP_RESENDS && c->st) {
        const as_sync_undo_t *u = undo->nelts ? &APR_ARRAY_IDX(undo, 0, as_sync_undo_t) : NULL;
        as_coll_state_t h = *cs;
        h.resends = nh.resends;
        if (undo->nelts > 1 || (u && u->kind == AS_UNDO_ADDED)) {
            /* count this resend first: the rebuild's compare-and-set expects it */
            nh.items_loaded = 0;
            rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, cs->gen, cs->n, &nh, NULL, 0,
                                  NULL, (long)cs->resends);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            return sync_rebuild(c, q, &h, xml, xml_len, undo, undo->nelts == 1 ? u->id : NULL, res);
        }
        if (nh.resends == LOOP_RESENDS) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
                   "Sync loop: account %s device %s collection %s: key %s resent %u times, "
                   "nothing to narrow in the reply",
                   r->account, dev_name(c), q->id, q->key, nh.resends);
        }
    }
    nh.items_loaded = 0;
    rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, cs->gen, cs->n, &nh, NULL, 0, NULL,
                          (long)cs->resends);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((res->doc = stored_reply_parse(xml, xml_len))) {
        res->coll = stored_reply_coll(res->doc);
        if (res->coll) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
                   "Sync: %s resent key %s: reply replayed", q->id, q->key);
            return APR_SUCCESS;
        }
        as_sync_coll_res_reset(res);
    }
    as_sync_coll_head(res, "0", q->id, AS_SYNC_STATUS_BADKEY);
    return APR_SUCCESS;
}
