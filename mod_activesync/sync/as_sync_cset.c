/* The device's item set while a Sync edits it, and the skeleton of a
 * collection's reply (as_sync_coll_int.h). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "as_sync_coll_int.h"

void as_cset_init(as_cset_t *s, as_coll_state_t *cs, apr_pool_t *p)
{
    memset(s, 0, sizeof(*s));
    s->cs = cs;
    s->added = apr_array_make(p, 16, sizeof(as_sync_item_t));
    s->removed = apr_pcalloc(p, cs->nitems + 1);
}

void as_cset_remove(as_cset_t *s, const char *id)
{
    int k = as_coll_find(s->cs, id);
    if (k >= 0 && !s->removed[k]) {
        s->removed[k] = 1;
        s->changed = 1;
    }
}

void as_cset_set_flags(as_cset_t *s, const char *id, unsigned flags)
{
    int k = as_coll_find(s->cs, id);
    if (k >= 0) {
        s->cs->items[k].flags = flags & AS_SYNC_FLAGS_MASK;
        s->changed = 1;
    }
}

void as_cset_add(as_cset_t *s, const char *id, unsigned flags, apr_uint64_t etag)
{
    as_sync_item_t *it = apr_array_push(s->added);
    apr_cpystrn(it->id, id, sizeof(it->id));
    it->flags = flags & (AS_SYNC_FLAGS_MASK | AS_SYNC_SKIPPED);
    it->etag = etag;
    s->changed = 1;
}

void as_cset_set_etag(as_cset_t *s, const char *id, apr_uint64_t etag)
{
    int k = as_coll_find(s->cs, id);
    if (k >= 0) {
        s->cs->items[k].etag = etag;
        s->changed = 1;
    }
}

void as_cset_note_clientid(as_cset_t *s, const char *client_id, const char *id, apr_pool_t *p)
{
    as_coll_state_t *cs = s->cs;
    as_sync_clientid_t *c;
    if (!cs->clientids) {
        cs->clientids = apr_array_make(p, 4, sizeof(as_sync_clientid_t));
    }
    if (cs->clientids->nelts >= AS_SYNC_CLIENTIDS_MAX) {
        /* the oldest goes (the record keeps the latest ones only) */
        memmove(cs->clientids->elts, cs->clientids->elts + sizeof(as_sync_clientid_t),
                sizeof(as_sync_clientid_t) * (size_t)(cs->clientids->nelts - 1));
        cs->clientids->nelts--;
    }
    c = apr_array_push(cs->clientids);
    c->client_id = apr_pstrdup(p, client_id);
    apr_cpystrn(c->id, id, sizeof(c->id));
    s->changed = 1;
}

const char *as_cset_clientid_item(const as_cset_t *s, const char *client_id)
{
    const apr_array_header_t *a = s->cs->clientids;
    int i, j;
    for (i = a ? a->nelts - 1 : -1; i >= 0; i--) {
        const as_sync_clientid_t *c = &APR_ARRAY_IDX(a, i, as_sync_clientid_t);
        if (strcmp(c->client_id, client_id)) {
            continue;
        }
        if (as_coll_find(s->cs, c->id) >= 0) {
            return c->id;
        }
        for (j = 0; j < s->added->nelts; j++) {
            if (!strcmp(APR_ARRAY_IDX(s->added, j, as_sync_item_t).id, c->id)) {
                return c->id;
            }
        }
        return NULL;
    }
    return NULL;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const as_sync_item_t *)a)->id, ((const as_sync_item_t *)b)->id);
}

/* Apply the marks: the new sorted set in cs.  The set is sorted already:
 * only the added items are sorted, then merged in (a page of an initial
 * sync adds a window to a set of any size). */
void as_cset_commit(as_cset_t *s, apr_pool_t *p)
{
    as_coll_state_t *cs = s->cs;
    as_sync_item_t *add = (as_sync_item_t *)s->added->elts;
    apr_uint32_t nadd = (apr_uint32_t)s->added->nelts, n = 0, i = 0, j = 0;
    as_sync_item_t *out = apr_palloc(p, sizeof(as_sync_item_t) * (cs->nitems + nadd + 1));

    qsort(add, nadd, sizeof(as_sync_item_t), item_cmp);
    while (i < cs->nitems || j < nadd) {
        if (i < cs->nitems && s->removed[i]) {
            i++;
        } else if (j >= nadd || (i < cs->nitems && item_cmp(&cs->items[i], &add[j]) <= 0)) {
            out[n++] = cs->items[i++];
        } else {
            out[n++] = add[j++];
        }
    }
    cs->items = out;
    cs->nitems = n;
    cs->items_loaded = 1;
}

void as_cset_rebase(as_cset_t *s, apr_pool_t *p)
{
    as_cset_commit(s, p);
    s->removed = apr_pcalloc(p, s->cs->nitems + 1);
    apr_array_clear(s->added);
    s->changed = 0;
}

/* ---- the reply of one collection ---- */

void as_sync_coll_head(as_sync_coll_res_t *res, const char *key, const char *id, int status)
{
    xmlNodePtr root, colls;
    res->doc = as_reply_new(AS_SYNC_AS_NS, "Sync", &root);
    colls = as_xml_add(root, AS_SYNC_AS_NS, "Collections", NULL);
    res->coll = as_xml_add(colls, AS_SYNC_AS_NS, "Collection", NULL);
    /* every namespace of the subtree declared on Collection itself, so that it
     * can be copied into the reply and stored/replayed on its own */
    xmlSetNs(res->coll, xmlNewNs(res->coll, BAD_CAST AS_SYNC_AS_NS, NULL));
    xmlNewNs(res->coll, BAD_CAST AS_SYNC_EMAIL_NS, BAD_CAST "email");
    xmlNewNs(res->coll, BAD_CAST AS_SYNC_BASE_NS, BAD_CAST "airsyncbase");
    as_xml_add(res->coll, AS_SYNC_AS_NS, "SyncKey", key);
    as_xml_add(res->coll, AS_SYNC_AS_NS, "CollectionId", id);
    as_sync_add_num(res->coll, AS_SYNC_AS_NS, "Status", status);
}

void as_sync_coll_res_reset(as_sync_coll_res_t *res)
{
    if (res->doc) {
        xmlFreeDoc(res->doc);
    }
    memset(res, 0, sizeof(*res));
}

void as_sync_more_available(xmlNodePtr coll, xmlNodePtr before)
{
    xmlNodePtr ma = as_xml_add(coll, AS_SYNC_AS_NS, "MoreAvailable", NULL);
    if (before) {
        xmlUnlinkNode(ma);
        xmlAddPrevSibling(before, ma);
    }
}
