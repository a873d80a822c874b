/* Server changes into a collection's reply: the items' ApplicationData,
 * and the deltas paged by the window and the reply budget
 * (as_sync_coll_int.h). */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_itemcache.h"
#include "as_sync_coll_int.h"

/* The item cache's key (as_itemcache.h): the account (the cache is shared
 * by every account a child serves; folder and item ids, even Maildir base
 * names, may be alike in two accounts), the file as the folder listing or
 * the open gives it, both from one stat (its Maildir base name without the
 * flags, its size and mtime in microseconds: a flag change renames the
 * file and keeps all three, a file replaced under the same base name gets
 * a new mtime), everything in o the conversion reads except the flags,
 * and the answered/forwarded flags (Read and Flag are rebuilt from the
 * flags by the cache, LastVerbExecuted is not); NULL when the item has no stat (date 0). */
static const char *item_cache_key(apr_pool_t *p, const char *account, const as_store_item_t *it,
                                  const as_mime_opts_t *o)
{
    const char *base = it->name ? strrchr(it->name, '/') : NULL, *k;
    int i;

    if (!it->name || !it->date) {
        return NULL;
    }
    base = base ? base + 1 : it->name;
    /* the verb flags too: LastVerbExecuted is part of the cached tree */
    k = apr_psprintf(p, "%s|%s|%s|%.*s|%" APR_OFF_T_FMT "|%" APR_TIME_T_FMT "|%d|%d|%d|%u",
                     account ? account : "", o->folder_id, o->item_id, (int)strcspn(base, ":"),
                     base, it->size, it->date, o->protocol, o->mime_support, o->nprefs,
                     it->flags & (AS_STORE_ANSWERED | AS_STORE_FORWARDED));
    for (i = 0; i < o->nprefs; i++) {
        const as_mime_bodypref_t *b = &o->prefs[i];
        k = apr_psprintf(p, "%s|%d,%" APR_SIZE_T_FMT ",%d,%d", k, b->type, b->truncation,
                         b->all_or_none, b->preview);
    }
    return k;
}

/* The ApplicationData of a listed item from the item cache, keyed by what
 * the listing says of its file: no open, no parse.  0: not cached (*tried:
 * the key looked up, or NULL). */
static int item_appdata_cached(as_sync_run_t *c, const as_sync_coll_req_t *q, const char *item,
                               const as_store_item_t *listed, xmlNodePtr appdata,
                               const char **tried)
{
    as_itemcache_t *cache = as_itemcache_shared();
    as_mime_opts_t o;
    const char *key;

    *tried = NULL;
    if (!cache) {
        return 0;
    }
    as_sync_mime_opts(&o, q->id, item, listed, c->proto, q->prefs, q->nprefs, q->mime_support,
                      c->r->log);
    key = item_cache_key(c->r->pool, c->r->account, listed, &o);
    *tried = key;
    return key && as_itemcache_get(cache, key, appdata, listed->flags);
}

/* as_sync_item_appdata; tried: a key already looked up in vain (NULL: none). */
static apr_status_t item_appdata(as_sync_run_t *c, const as_sync_coll_req_t *q, const char *folder,
                                 const char *item, const char *name, xmlNodePtr appdata,
                                 unsigned *flags, apr_off_t *size, const char *tried)
{
    apr_pool_t *sp;
    as_store_msg_t *msg = NULL;
    as_mime_opts_t o;
    const char *err = NULL, *key;
    as_itemcache_t *cache;
    apr_status_t rv;

    apr_pool_create(&sp, c->r->pool);
    rv = as_store_open_item_at(c->st, folder, item, name, sp, &msg);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(sp);
        return rv;
    }
    as_sync_mime_opts(&o, folder, item, &msg->item, c->proto, q->prefs, q->nprefs, q->mime_support,
                      c->r->log);
    cache = as_itemcache_shared();
    key = cache ? item_cache_key(sp, c->r->account, &msg->item, &o) : NULL;
    if (key && (!tried || strcmp(key, tried)) &&
        as_itemcache_get(cache, key, appdata, msg->item.flags)) {
        /* converted before, from this very file */
    } else if (as_mime_to_eas(sp, msg->file, &o, appdata, &err) != APR_SUCCESS) {
        /* not a message at all: still an item the device should see */
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
               "Sync: item %s:%s (%s) not readable as mail: %s", folder, item,
               msg->item.name ? msg->item.name : "?", err ? err : "?");
        as_xml_add(appdata, AS_SYNC_EMAIL_NS, "Subject", "");
        as_mime_add_flags(appdata, msg->item.flags);
    } else if (key) {
        as_itemcache_put(cache, key, appdata);
    }
    *flags = msg->item.flags;
    if (size) {
        *size = msg->item.size;
    }
    apr_pool_destroy(sp);
    return APR_SUCCESS;
}

apr_status_t as_sync_item_appdata(as_sync_run_t *c, const as_sync_coll_req_t *q, const char *folder,
                                  const char *item, const char *name, xmlNodePtr appdata,
                                  unsigned *flags, apr_uint64_t *etag, apr_off_t *size)
{
    *etag = 0;
    if (q->cls != AS_CLASS_EMAIL) {
        *flags = 0;
        return as_sync_item_appdata_cls(c, q, folder, item, name, appdata, etag, size);
    }
    return item_appdata(c, q, folder, item, name, appdata, flags, size, NULL);
}

static void undo_push(apr_array_header_t *undo, const as_cset_t *set, const char *id, int kind)
{
    as_sync_undo_t *u = apr_array_push(undo);
    int k = as_coll_find(set->cs, id);
    apr_cpystrn(u->id, id, sizeof(u->id));
    u->kind = kind;
    u->flags = k >= 0 ? set->cs->items[k].flags : 0;
    u->etag = k >= 0 ? set->cs->items[k].etag : 0;
}

static xmlNodePtr commands_of(xmlNodePtr coll, xmlNodePtr *commands)
{
    if (!*commands) {
        *commands = as_xml_add(coll, AS_SYNC_AS_NS, "Commands", NULL);
    }
    return *commands;
}

/* An Add, or the Change of an item of another class than Email (its whole
 * ApplicationData): built in place, as namespaces must resolve in the tree.
 * Returns its estimated bytes, 0 when it was not sent (gone meanwhile, or
 * an item that cannot be read: then kept in the set as skipped). */
static apr_size_t emit_item(as_sync_run_t *c, const as_sync_coll_req_t *q, const as_delta_t *dl,
                            as_cset_t *set, xmlNodePtr coll, xmlNodePtr *commands,
                            apr_array_header_t *undo)
{
    int add = dl->kind == AS_DELTA_ADD;
    xmlNodePtr e =
        as_xml_add(commands_of(coll, commands), AS_SYNC_AS_NS, add ? "Add" : "Change", NULL);
    unsigned flags = 0;
    apr_uint64_t etag = 0;
    apr_off_t size = 0;
    apr_status_t rv;

    xmlNodePtr app;
    const char *tried = NULL;

    as_xml_add(e, AS_SYNC_AS_NS, "ServerId", as_sync_serverid(c->r->pool, q->id, dl->id));
    app = as_xml_add(e, AS_SYNC_AS_NS, "ApplicationData", NULL);
    if (q->cls == AS_CLASS_EMAIL && add &&
        item_appdata_cached(c, q, dl->id, dl->item, app, &tried)) {
        /* the listing's flags and size, as the conversion's would be */
        flags = dl->item->flags;
        size = dl->item->size;
        rv = APR_SUCCESS;
    } else if (q->cls == AS_CLASS_EMAIL) {
        rv = item_appdata(c, q, q->id, dl->id, dl->item->name, app, &flags, &size, tried);
    } else {
        rv = as_sync_item_appdata(c, q, q->id, dl->id, dl->item->name, app, &flags, &etag, &size);
    }
    if (rv != APR_SUCCESS) {
        xmlUnlinkNode(e);
        xmlFreeNode(e);
        if (rv != APR_ENOENT && add) {
            /* never offered again until it is edited (as_sync_deltas) */
            as_cset_add(set, dl->id, AS_SYNC_SKIPPED, as_sync_etag_digest(dl->item->etag));
        } else if (rv != APR_ENOENT) {
            /* the device keeps the version it has until the next edit */
            as_cset_set_etag(set, dl->id, as_sync_etag_digest(dl->item->etag));
        }
        return 0;
    }
    undo_push(undo, set, dl->id, add ? AS_UNDO_ADDED : AS_UNDO_FLAGS);
    if (add) {
        as_cset_add(set, dl->id, flags, etag);
    } else {
        as_cset_set_etag(set, dl->id, etag);
    }
    return 1024 + (apr_size_t)size;
}

int as_sync_emit_changes(as_sync_run_t *c, const as_sync_coll_req_t *q, const as_deltas_t *d,
                         as_cset_t *set, xmlNodePtr coll, xmlNodePtr *commands, int limit,
                         int *more, apr_array_header_t *undo)
{
    apr_size_t budget = 0;
    int i, sent = 0;

    *more = 0;
    for (i = 0; i < d->list->nelts; i++) {
        const as_delta_t *dl = &APR_ARRAY_IDX(d->list, i, as_delta_t);
        if (sent >= limit || (sent > 0 && budget >= AS_SYNC_REPLY_BUDGET)) {
            *more = 1;
            break;
        }
        if (dl->kind == AS_DELTA_ADD || (dl->kind == AS_DELTA_CHANGE && q->cls != AS_CLASS_EMAIL)) {
            apr_size_t bytes = emit_item(c, q, dl, set, coll, commands, undo);
            if (bytes == 0) {
                continue;
            }
            budget += bytes;
        } else {
            static const char *const names[] = {NULL, "Delete", "SoftDelete", "Change"};
            xmlNodePtr e =
                as_xml_add(commands_of(coll, commands), AS_SYNC_AS_NS, names[dl->kind], NULL);
            as_xml_add(e, AS_SYNC_AS_NS, "ServerId", as_sync_serverid(c->r->pool, q->id, dl->id));
            undo_push(undo, set, dl->id,
                      dl->kind == AS_DELTA_CHANGE ? AS_UNDO_FLAGS : AS_UNDO_REMOVED);
            if (dl->kind == AS_DELTA_CHANGE) {
                xmlNodePtr app = as_xml_add(e, AS_SYNC_AS_NS, "ApplicationData", NULL);
                as_mime_add_flags(app, dl->item->flags);
                if (c->proto >= 140) {
                    as_mime_add_last_verb(app, dl->item->flags);
                }
                as_cset_set_flags(set, dl->id, dl->item->flags);
            } else {
                as_cset_remove(set, dl->id);
            }
            budget += 128;
        }
        sent++;
    }
    if (i >= d->list->nelts && d->more_after) {
        *more = 1; /* the list stopped at the page (as_sync_deltas_for) */
    }
    return sent;
}
