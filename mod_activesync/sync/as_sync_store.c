/* The account's store for a request (as_sync.h): the Maildir and the
 * collection store, each when the account's options let the request see
 * its classes, behind the store router. */
#include "activesync/as_cap.h"
#include "activesync/as_item_codec.h"
#include "activesync/as_collections.h"
#include "activesync/as_maildir.h"
#include "activesync/as_store_router.h"
#include "activesync/as_sync.h"

int as_sync_email_enabled(const as_request_t *req)
{
    if (!req->conf || !req->conf->maildir_template) {
        return 0;
    }
    return !req->access || req->access->eff.value[AS_OPT_EMAIL];
}

unsigned as_sync_collection_classes(const as_request_t *req)
{
    static const struct {
        int cls, opt;
    } map[] = {{AS_CLASS_CONTACTS, AS_OPT_CONTACTS},
               {AS_CLASS_CALENDAR, AS_OPT_PIM},
               {AS_CLASS_TASKS, AS_OPT_PIM},
               {AS_CLASS_NOTES, AS_OPT_PIM}};
    unsigned mask = 0;
    size_t i;

    if (!req->conf || !req->conf->collections_template) {
        return 0;
    }
    for (i = 0; i < sizeof(map) / sizeof(map[0]); i++) {
        if (as_item_codec(map[i].cls) && (!req->access || req->access->eff.value[map[i].opt])) {
            mask |= 1u << map[i].cls;
        }
    }
    return mask;
}

int as_sync_store_enabled(const as_request_t *req)
{
    return as_sync_email_enabled(req) || as_sync_collection_classes(req) != 0;
}

static apr_status_t open_maildir(const as_request_t *req, as_store_t **st)
{
    as_maildir_names_t names;
    const char *root, *err = NULL;
    apr_status_t rv;

    as_maildir_names_default(&names);
    if (req->conf->maildir_names.sent) {
        names.sent = req->conf->maildir_names.sent;
    }
    if (req->conf->maildir_names.drafts) {
        names.drafts = req->conf->maildir_names.drafts;
    }
    if (req->conf->maildir_names.trash) {
        names.trash = req->conf->maildir_names.trash;
    }
    if (req->conf->maildir_names.junk) {
        names.junk = req->conf->maildir_names.junk;
    }
    rv = as_maildir_path_from_template(req->pool, req->conf->maildir_template, req->account, &root,
                                       &err);
    if (rv != APR_SUCCESS) {
        as_log(req->log, AS_LOG_MARK, AS_LOG_ERR, rv, "ActiveSyncMaildir for %s: %s", req->account,
               err ? err : "refused");
        return rv;
    }
    rv = as_maildir_open(req->pool, root, req->account, &names, 1, req->log, st);
    if (rv != APR_SUCCESS) {
        as_log(req->log, AS_LOG_MARK, AS_LOG_ERR, rv, "cannot open the Maildir of %s",
               req->account);
    }
    return rv;
}

static apr_status_t open_collections(const as_request_t *req, unsigned classes, as_store_t **st)
{
    const char *root, *err = NULL;
    apr_status_t rv;

    rv = as_collections_path_from_template(req->pool, req->conf->collections_template, req->account,
                                           &root, &err);
    if (rv != APR_SUCCESS) {
        as_log(req->log, AS_LOG_MARK, AS_LOG_ERR, rv, "ActiveSyncCollections for %s: %s",
               req->account, err ? err : "refused");
        return rv;
    }
    rv = as_collections_open(req->pool, root, req->account, classes, 1, req->log, st);
    if (rv != APR_SUCCESS) {
        as_log(req->log, AS_LOG_MARK, AS_LOG_ERR, rv, "cannot open the collections of %s",
               req->account);
    }
    return rv;
}

apr_status_t as_sync_open_store(const as_request_t *req, as_store_t **st)
{
    unsigned classes = as_sync_collection_classes(req);
    as_store_t *mail = NULL, *coll = NULL;
    apr_status_t rv;

    *st = NULL;
    if (!as_sync_email_enabled(req) && !classes) {
        return APR_ENOENT;
    }
    if (as_sync_email_enabled(req) && (rv = open_maildir(req, &mail)) != APR_SUCCESS) {
        return rv;
    }
    if (classes && (rv = open_collections(req, classes, &coll)) != APR_SUCCESS) {
        return rv;
    }
    return as_store_router_open(req->pool, mail, coll, req->log, st);
}
