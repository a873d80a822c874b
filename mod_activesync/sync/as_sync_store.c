/* The account's store for a request (as_sync.h): the Maildir and the
 * collection store, each when the account's options let the request see
 * its classes, behind the store router. */
#include "activesync/as_cap.h"
#include "activesync/as_item_codec.h"
#include "activesync/as_maildir.h"
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
    (void)req; /* no collection store yet */
    return 0;
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

apr_status_t as_sync_open_store(const as_request_t *req, as_store_t **st)
{
    *st = NULL;
    if (!as_sync_email_enabled(req)) {
        return APR_ENOENT;
    }
    return open_maildir(req, st);
}
