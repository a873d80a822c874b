/* Server changes into a collection's reply: the items' ApplicationData,
 * and the deltas paged by the window and the reply budget
 * (as_sync_coll_int.h). */
#include <apr_strings.h>

#include "as_sync_coll_int.h"

apr_status_t as_sync_item_appdata(as_sync_run_t *c, const as_sync_coll_req_t *q, const char *folder,
                                  const char *item, const char *name, xmlNodePtr appdata,
                                  unsigned *flags, apr_uint64_t *etag, apr_off_t *size)
{
    apr_pool_t *sp;
    as_store_msg_t *msg = NULL;
    as_mime_opts_t o;
    const char *err = NULL;
    apr_status_t rv;

    *etag = 0;
    if (q->cls != AS_CLASS_EMAIL) {
        *flags = 0;
        return as_sync_item_appdata_cls(c, q, folder, item, name, appdata, etag, size);
    }
    apr_pool_create(&sp, c->r->pool);
    rv = as_store_open_item_at(c->st, folder, item, name, sp, &msg);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(sp);
        return rv;
    }
    as_sync_mime_opts(&o, folder, item, &msg->item, c->proto, q->prefs, q->nprefs, q->mime_support,
                      c->r->log);
    if (as_mime_to_eas(sp, msg->file, &o, appdata, &err) != APR_SUCCESS) {
        /* not a message at all: still an item the device should see */
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
               "Sync: item %s:%s (%s) not readable as mail: %s", folder, item,
               msg->item.name ? msg->item.name : "?", err ? err : "?");
        as_xml_add(appdata, AS_SYNC_EMAIL_NS, "Subject", "");
        as_mime_add_flags(appdata, msg->item.flags);
    }
    *flags = msg->item.flags;
    if (size) {
        *size = msg->item.size;
    }
    apr_pool_destroy(sp);
    return APR_SUCCESS;
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

    as_xml_add(e, AS_SYNC_AS_NS, "ServerId", as_sync_serverid(c->r->pool, q->id, dl->id));
    rv = as_sync_item_appdata(c, q, q->id, dl->id, dl->item->name,
                              as_xml_add(e, AS_SYNC_AS_NS, "ApplicationData", NULL), &flags, &etag,
                              &size);
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
                as_mime_add_flags(as_xml_add(e, AS_SYNC_AS_NS, "ApplicationData", NULL),
                                  dl->item->flags);
                as_cset_set_flags(set, dl->id, dl->item->flags);
            } else {
                as_cset_remove(set, dl->id);
            }
            budget += 128;
        }
        sent++;
    }
    return sent;
}
