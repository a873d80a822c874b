/* The sync engine's shared parts (store access: as_sync_store.c): ServerIds, the change probe,
 * delta computation, estimates, moves noted by MoveItems, the waiter hook
 * (as_sync.h); the scratch view is in as_sync_scratch.c. */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "activesync/as_cap.h"
#include "activesync/as_xml.h"
#include "activesync/as_sync_engine.h"

/* ---- ids ---------------------------------------------------------------------- */

static int id_ok(const char *s, size_t len, size_t max)
{
    size_t i;
    if (len == 0 || len > max) {
        return 0;
    }
    for (i = 0; i < len; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'v'))) {
            return 0;
        }
    }
    return 1;
}

apr_status_t as_sync_split_serverid(apr_pool_t *p, const char *sid, const char **folder,
                                    const char **item)
{
    const char *c = sid ? strchr(sid, ':') : NULL;
    if (!c || !id_ok(sid, (size_t)(c - sid), AS_STORE_FOLDER_ID_MAX) ||
        !id_ok(c + 1, strlen(c + 1), AS_STORE_ITEM_ID_MAX)) {
        return APR_EINVAL;
    }
    *folder = apr_pstrmemdup(p, sid, (apr_size_t)(c - sid));
    *item = apr_pstrdup(p, c + 1);
    return APR_SUCCESS;
}

const char *as_sync_serverid(apr_pool_t *p, const char *folder, const char *item)
{
    return apr_pstrcat(p, folder, ":", item, NULL);
}

/* ---- request parsing helpers ---------------------------------------------------------- */

const char *as_sync_text(apr_pool_t *p, xmlNodePtr n)
{
    xmlNodePtr c;
    if (!n) {
        return NULL;
    }
    for (c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return NULL;
        }
    }
    return as_xml_text(p, n, NULL);
}

long as_sync_number(apr_pool_t *p, xmlNodePtr n, long def, long max)
{
    const char *s;
    long v = 0;
    if (!n) {
        return def;
    }
    s = as_sync_text(p, n);
    if (!s || !*s || strlen(s) > 9) {
        return -1;
    }
    for (; *s; s++) {
        if (*s < '0' || *s > '9') {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    return v > max ? -1 : v;
}

void as_sync_mime_opts(as_mime_opts_t *o, const char *folder, const char *item,
                       const as_store_item_t *it, int proto, const as_mime_bodypref_t *prefs,
                       int nprefs, int mime_support, const as_logger_t *log)
{
    memset(o, 0, sizeof(*o));
    o->log = log;
    o->folder_id = folder;
    o->item_id = item;
    o->flags = it->flags;
    o->received = it->date;
    o->protocol = proto;
    o->prefs = nprefs ? prefs : NULL;
    o->nprefs = nprefs;
    o->mime_support = mime_support;
}

void as_sync_add_num(xmlNodePtr parent, const char *ns, const char *name, long v)
{
    char num[24];
    apr_snprintf(num, sizeof(num), "%ld", v);
    as_xml_add(parent, ns, name, num);
}

char *as_sync_doc_xml(xmlDocPtr doc, apr_pool_t *p, apr_size_t *len)
{
    xmlChar *s = NULL;
    int n = 0;
    char *r;
    xmlDocDumpMemory(doc, &s, &n);
    if (!s) {
        *len = 0;
        return NULL;
    }
    r = apr_pstrmemdup(p, (const char *)s, (apr_size_t)n);
    xmlFree(s);
    *len = (apr_size_t)n;
    return r;
}

int as_sync_header_unchanged(const as_coll_state_t *cs, const char *token, int filter_type)
{
    return cs->n > 0 && !cs->pending && cs->filter_type == filter_type &&
           as_store_token_same(cs->token, token) && (!cs->expire || apr_time_now() < cs->expire);
}

/* ---- probe and estimate ----------------------------------------------------------- */

apr_status_t as_sync_probe(as_db_t *db, as_store_t *st, apr_pool_t *p, const char *account,
                           const char *device, const char *folder_id, as_probe_t *out)
{
    as_coll_state_t cs;
    const char *token = NULL;
    apr_status_t rv;

    *out = AS_PROBE_NOSTATE;
    if ((rv = as_coll_get(db, p, account, device, folder_id, 0, &cs)) != APR_SUCCESS) {
        return rv;
    }
    if (cs.n == 0) {
        return APR_SUCCESS;
    }
    rv = as_store_folder_token(st, folder_id, p, &token);
    if (rv == APR_ENOENT) {
        *out = AS_PROBE_GONE;
        return APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *out = as_sync_header_unchanged(&cs, token, cs.filter_type) ? AS_PROBE_SAME : AS_PROBE_MAYBE;
    return APR_SUCCESS;
}

apr_status_t as_sync_count_changes(as_db_t *db, as_store_t *st, apr_pool_t *p, const char *account,
                                   const char *device, const char *folder_id, int filter_type,
                                   apr_uint32_t *count)
{
    as_coll_state_t cs;
    as_deltas_t d;
    const char *token = NULL;
    apr_status_t rv;

    *count = 0;
    if ((rv = as_coll_get(db, p, account, device, folder_id, 0, &cs)) != APR_SUCCESS) {
        return rv;
    }
    if (cs.n == 0) {
        return APR_NOTFOUND;
    }
    if (filter_type < 0) {
        filter_type = cs.filter_type;
    }
    if ((rv = as_store_folder_token(st, folder_id, p, &token)) != APR_SUCCESS) {
        return rv;
    }
    if (as_sync_header_unchanged(&cs, token, filter_type)) {
        return APR_SUCCESS;
    }
    if ((rv = as_coll_get(db, p, account, device, folder_id, 1, &cs)) != APR_SUCCESS) {
        return rv;
    }
    if ((rv = as_sync_deltas(st, p, folder_id, &cs, filter_type, &d)) != APR_SUCCESS) {
        return rv;
    }
    *count = (apr_uint32_t)d.list->nelts;
    return APR_SUCCESS;
}

/* ---- moves noted by MoveItems -------------------------------------------------------- */

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const as_sync_item_t *)a)->id, ((const as_sync_item_t *)b)->id);
}

/* Remove (flags < 0) or insert/update an item of a collection's set,
 * without changing its key. */
static apr_status_t note_item(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                              const char *coll, const char *item, long flags)
{
    int tries;
    for (tries = 0; tries < 5; tries++) {
        as_coll_state_t cs;
        apr_status_t rv = as_coll_get(db, p, account, device, coll, 1, &cs);
        int k;
        if (rv != APR_SUCCESS || cs.n == 0) {
            return rv;
        }
        k = as_coll_find(&cs, item);
        if (flags < 0) {
            if (k < 0) {
                return APR_SUCCESS;
            }
            memmove(&cs.items[k], &cs.items[k + 1],
                    sizeof(as_sync_item_t) * (cs.nitems - (apr_uint32_t)k - 1));
            cs.nitems--;
        } else if (k >= 0) {
            cs.items[k].flags = (unsigned)flags & AS_SYNC_FLAGS_MASK;
        } else {
            as_sync_item_t *n = apr_palloc(p, sizeof(as_sync_item_t) * (cs.nitems + 1));
            memcpy(n, cs.items, sizeof(as_sync_item_t) * cs.nitems);
            apr_cpystrn(n[cs.nitems].id, item, sizeof(n[cs.nitems].id));
            n[cs.nitems].flags = (unsigned)flags & AS_SYNC_FLAGS_MASK;
            n[cs.nitems].etag = 0;
            cs.items = n;
            cs.nitems++;
            qsort(cs.items, cs.nitems, sizeof(as_sync_item_t), item_cmp);
        }
        cs.token = NULL; /* the folder changed: the next Sync scans */
        rv = as_coll_put(db, account, device, coll, cs.gen, cs.n, &cs, NULL, 0);
        if (rv != AS_SYNC_ESTALE) {
            return rv;
        }
    }
    return AS_DB_EBUSY;
}

apr_status_t as_sync_note_moved(as_db_t *db, const char *account, const char *device,
                                const char *src_folder, const char *src_item,
                                const char *dst_folder, const char *dst_item, unsigned flags)
{
    apr_pool_t *p;
    apr_status_t rv;
    apr_pool_create(&p, NULL);
    rv = note_item(db, p, account, device, src_folder, src_item, -1);
    if (rv == APR_SUCCESS) {
        rv = note_item(db, p, account, device, dst_folder, dst_item, (long)flags);
    }
    apr_pool_destroy(p);
    return rv;
}
