/* The client's Add and Change of an item of a class other than Email
 * (as_sync_coll_int.h): the phone's ApplicationData converted by the
 * class's codec (a Change merged into the current file, so that nothing
 * the phone cannot show is lost) and written through the store's
 * add_item / replace_item.
 *
 * Add: a ClientId the collection already answered (the set remembers the
 *   latest ones) gets the item it made then, and nothing is created again.
 * Change: the item's ETag is compared with the one the device was sent
 *   (the set's digest).  Server wins (Conflict 1, the default): a differing
 *   ETag, or a change written between our read and our write
 *   (AS_STORE_ECONFLICT), is Status 7 and the set keeps the old digest, so
 *   the server's version goes to the device as a Change.  Client wins
 *   (Conflict 0): the item is replaced whatever its ETag.
 * 16.x Change or Delete with an InstanceId: the same, with only that
 *   instance of the series changed or excluded in the file. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_item_codec.h"

#include "as_sync_coll_int.h"

static int status_of(apr_status_t rv)
{
    switch (rv) {
    case APR_SUCCESS:
        return AS_SYNC_STATUS_OK;
    case APR_ENOENT:
        return AS_SYNC_STATUS_NOTFOUND;
    case AS_STORE_ECONFLICT:
        return AS_SYNC_STATUS_CONFLICT;
    case APR_EINVAL:
    case APR_EEXIST: /* the folder has an item of that UID already */
    case AS_STORE_ENOTSUP:
        return AS_SYNC_STATUS_CONVERSION;
    default:
        return AS_SYNC_STATUS_SERVER;
    }
}

int as_sync_client_item_add(as_sync_run_t *c, const as_sync_coll_req_t *q, as_cset_t *set,
                            const char *client_id, xmlNodePtr appdata, const char **item)
{
    const as_item_codec_t *codec = q->codec;
    apr_pool_t *p = c->r->pool;
    const char *id = NULL, *etag = NULL, *uid;
    char *data = NULL;
    apr_size_t len = 0;
    apr_status_t rv;

    *item = NULL;
    if (client_id && (*item = as_cset_clientid_item(set, client_id)) != NULL) {
        return AS_SYNC_STATUS_OK; /* a resent Add: made already */
    }
    if (!codec || !appdata) {
        return AS_SYNC_STATUS_CONVERSION;
    }
    rv = codec->from_eas(appdata, c->proto, NULL, 0, NULL, p, &data, &len);
    if (rv != APR_SUCCESS) {
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_INFO, rv, "Sync: Add to %s of %s: not a %s item",
               q->id, c->r->account, as_class_name(q->cls));
        return status_of(rv);
    }
    uid = codec->uid_of ? codec->uid_of(data, len, p) : NULL;
    rv = as_store_add_item(c->st, q->id, uid, data, len, p, &id, &etag);
    if (rv != APR_SUCCESS) {
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_ERR, rv, "Sync: Add to %s of %s refused", q->id,
               c->r->account);
        return status_of(rv);
    }
    as_cset_add(set, id, 0, as_sync_etag_digest(etag));
    if (client_id) {
        as_cset_note_clientid(set, client_id, id, p);
    }
    *item = id;
    return AS_SYNC_STATUS_OK;
}

/* The item's current file and ETag. */
static apr_status_t read_current(as_sync_run_t *c, const char *folder, const char *item,
                                 char **data, apr_size_t *len, const char **etag)
{
    as_store_msg_t *msg = NULL;
    apr_pool_t *sp;
    apr_status_t rv;

    apr_pool_create(&sp, c->r->pool); /* the file is closed with it */
    rv = as_store_open_item(c->st, folder, item, sp, &msg);
    if (rv == APR_SUCCESS) {
        *etag = apr_pstrdup(c->r->pool, msg->item.etag);
        rv = as_sync_read_item(msg, c->r->pool, data, len);
    }
    apr_pool_destroy(sp);
    return rv;
}

int as_sync_client_item_change(as_sync_run_t *c, const as_sync_coll_req_t *q, as_cset_t *set,
                               const char *item, xmlNodePtr appdata, const char *instance)
{
    const as_item_codec_t *codec = q->codec;
    as_item_instance_fn one = instance ? as_item_instance(q->cls) : NULL;
    apr_pool_t *p = c->r->pool;
    int idx = as_coll_find(set->cs, item);
    const char *etag = NULL, *new_etag = NULL;
    char *old = NULL, *data = NULL;
    apr_size_t oldlen = 0, len = 0;
    apr_status_t rv;

    if (instance ? !one : !codec || !appdata) {
        return AS_SYNC_STATUS_CONVERSION;
    }
    if ((rv = read_current(c, q->id, item, &old, &oldlen, &etag)) != APR_SUCCESS) {
        return status_of(rv);
    }
    if (q->conflict == 1 && idx >= 0 && set->cs->items[idx].etag != as_sync_etag_digest(etag)) {
        /* changed on the server since the device got it: the server's version goes */
        return AS_SYNC_STATUS_CONFLICT;
    }
    rv = instance ? one(appdata, c->proto, instance, old, oldlen, p, &data, &len)
                  : codec->from_eas(appdata, c->proto, old, oldlen, NULL, p, &data, &len);
    if (rv != APR_SUCCESS) {
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_INFO, rv,
               "Sync: Change of %s:%s%s%s (%s): not a %s item", q->id, item,
               instance ? " instance " : "", instance ? instance : "", c->r->account,
               as_class_name(q->cls));
        return AS_SYNC_STATUS_CONVERSION;
    }
    rv = as_store_replace_item(c->st, q->id, item, q->conflict == 1 ? etag : NULL, data, len, p,
                               &new_etag);
    if (rv != APR_SUCCESS) {
        if (rv != AS_STORE_ECONFLICT && rv != APR_ENOENT) {
            as_log(c->r->log, AS_LOG_MARK, AS_LOG_ERR, rv, "Sync: Change of %s:%s (%s) refused",
                   q->id, item, c->r->account);
        }
        return status_of(rv);
    }
    if (idx >= 0) {
        /* the device has this version now: no echo of its own change */
        as_cset_set_etag(set, item, as_sync_etag_digest(new_etag));
    }
    return AS_SYNC_STATUS_OK;
}
