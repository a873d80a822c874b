/* Items of the classes other than Email in a Sync reply (as_sync_coll_int.h):
 * the stored file read whole (bounded) and converted by its class's codec
 * (as_item_codec.h) -- once per version of the file: the result is kept in
 * the item cache under its ETag -- and the namespaces such a reply
 * declares. */
#include <apr_strings.h>

#include "activesync/as_item_codec.h"
#include "activesync/as_itemcache.h"

#include "as_sync_coll_int.h"

apr_status_t as_sync_read_item(as_store_msg_t *msg, apr_pool_t *p, char **data, apr_size_t *len)
{
    apr_size_t got = 0;
    apr_status_t rv;

    if (msg->item.size < 0 || msg->item.size > AS_SYNC_ITEM_MAX) {
        return APR_EINVAL; /* too big to be an item of these classes */
    }
    *len = (apr_size_t)msg->item.size;
    *data = apr_palloc(p, *len + 1);
    rv = *len ? apr_file_read_full(msg->file, *data, *len, &got) : APR_SUCCESS;
    if (rv == APR_EOF) {
        rv = APR_SUCCESS; /* shorter than listed: rewritten meanwhile, take what is there */
    }
    *len = got;
    (*data)[got] = '\0';
    return rv;
}

/* The item cache's key of a conversion: the file by its ETag (its
 * content's digest) and everything in o the conversion reads; NULL
 * without an ETag. */
static const char *conversion_key(apr_pool_t *p, const as_store_t *st, int cls, const char *folder,
                                  const char *item, const char *etag, const as_item_opts_t *o)
{
    const char *k;
    int i;
    if (!etag || !*etag) {
        return NULL;
    }
    k = apr_psprintf(p, "item\x1f%s\x1f%s\x1f%s\x1f%s\x1f%d\x1f%d\x1f%d",
                     st->account ? st->account : "", folder, item, etag, cls, o->protocol,
                     o->nprefs);
    for (i = 0; i < o->nprefs; i++) {
        const as_mime_bodypref_t *b = &o->prefs[i];
        k = apr_psprintf(p, "%s\x1f%d,%" APR_SIZE_T_FMT ",%d,%d", k, b->type, b->truncation,
                         b->all_or_none, b->preview);
    }
    return k;
}

/* codec->to_eas, or the same ApplicationData from the item cache: a file
 * is parsed and converted once for every device and every Sync that
 * sends it (the conversion reads nothing but the file and o). */
static apr_status_t to_eas_cached(as_store_t *st, const as_item_codec_t *codec, const char *folder,
                                  const char *item, const as_store_item_t *it, const char *data,
                                  apr_size_t len, const as_item_opts_t *o, xmlNodePtr appdata,
                                  apr_pool_t *p)
{
    as_itemcache_t *cache = as_itemcache_shared();
    const char *key = cache ? conversion_key(p, st, codec->cls, folder, item, it->etag, o) : NULL;
    apr_status_t rv;

    if (key && as_itemcache_get(cache, key, appdata, 0)) {
        return APR_SUCCESS;
    }
    rv = codec->to_eas(data, len, o, appdata, p);
    if (rv == APR_SUCCESS && key) {
        as_itemcache_put(cache, key, appdata);
    }
    return rv;
}

apr_status_t as_sync_item_to_eas(as_store_t *st, const as_item_codec_t *codec, const char *folder,
                                 const char *item, const char *name, const as_item_opts_t *o,
                                 xmlNodePtr appdata, apr_pool_t *p, apr_uint64_t *etag,
                                 apr_off_t *size)
{
    apr_pool_t *sp;
    as_store_msg_t *msg = NULL;
    char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    if (!codec) {
        return AS_STORE_ENOTSUP;
    }
    apr_pool_create(&sp, p); /* the file is closed with it */
    rv = as_store_open_item_at(st, folder, item, name, sp, &msg);
    if (rv == APR_SUCCESS) {
        rv = as_sync_read_item(msg, sp, &data, &len);
    }
    if (rv == APR_SUCCESS) {
        rv = to_eas_cached(st, codec, folder, item, &msg->item, data, len, o, appdata, p);
        if (rv != APR_SUCCESS) {
            as_log(o->log, AS_LOG_MARK, AS_LOG_WARNING, rv,
                   "item %s:%s (%s) of %s is not a readable %s item", folder, item,
                   msg->item.name ? msg->item.name : "?", st->account ? st->account : "?",
                   as_class_name(codec->cls));
            rv = APR_EINVAL;
        }
        if (etag) {
            *etag = as_sync_etag_digest(msg->item.etag);
        }
        if (size) {
            *size = (apr_off_t)len;
        }
    } else if (rv != APR_ENOENT) {
        as_log(o->log, AS_LOG_MARK, AS_LOG_WARNING, rv, "item %s:%s of %s not read", folder, item,
               st->account ? st->account : "?");
        rv = APR_EINVAL;
    }
    apr_pool_destroy(sp);
    return rv;
}

apr_status_t as_sync_item_appdata_cls(as_sync_run_t *c, const as_sync_coll_req_t *q,
                                      const char *folder, const char *item, const char *name,
                                      xmlNodePtr appdata, apr_uint64_t *etag, apr_off_t *size)
{
    as_item_opts_t o;
    o.protocol = c->proto;
    o.prefs = q->nprefs ? q->prefs : NULL;
    o.nprefs = q->nprefs;
    o.log = c->r->log;
    o.account = c->r->account;
    return as_sync_item_to_eas(c->st, q->codec, folder, item, name, &o, appdata, c->r->pool, etag,
                               size);
}

void as_sync_coll_declare_ns(xmlNodePtr coll, int cls)
{
    static const char *const ns[][2] = {
        {NULL, NULL},        {"Contacts:", "contacts"}, {"Calendar:", "calendar"},
        {"Tasks:", "tasks"}, {"Notes:", "notes"},
    };
    if (cls <= AS_CLASS_EMAIL || cls >= AS_CLASS_COUNT) {
        return;
    }
    xmlNewNs(coll, BAD_CAST ns[cls][0], BAD_CAST ns[cls][1]);
    if (cls == AS_CLASS_CONTACTS) {
        xmlNewNs(coll, BAD_CAST "Contacts2:", BAD_CAST "contacts2");
    }
}
