/* The collection store (as_collections.h): the path template, where
 * Radicale's storage lock is, and opening a handle.  See coll_internal.h
 * for how the backend's files divide the work. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "activesync/as_maildir.h"
#include "coll_internal.h"

apr_status_t as_collections_path_from_template(apr_pool_t *p, const char *tmpl, const char *account,
                                               const char **path, const char **err)
{
    apr_status_t rv = as_maildir_path_from_template(p, tmpl, account, path, err);
    const char *m;

    /* the same rules; the message names this directive's template */
    if (rv != APR_SUCCESS && *err && (m = strstr(*err, "Maildir")) != NULL) {
        *err = apr_pstrcat(p, apr_pstrmemdup(p, *err, (apr_size_t)(m - *err)), "collections",
                           m + strlen("Maildir"), NULL);
    }
    return rv;
}

/* Radicale keeps its lock in the storage folder, whose collection-root/
 * holds one folder per user: ROOT = STORAGE/collection-root/USER.  Any
 * other ROOT shares a lock with its siblings in its parent. */
static const char *lock_path_of(apr_pool_t *p, const char *root)
{
    const char *slash = strrchr(root, '/');
    const char *parent =
        slash && slash != root ? apr_pstrmemdup(p, root, (apr_size_t)(slash - root)) : "/";
    const char *pslash = strrchr(parent, '/');

    if (pslash && !strcmp(pslash + 1, "collection-root") && pslash != parent) {
        return apr_pstrcat(p, apr_pstrmemdup(p, parent, (apr_size_t)(pslash - parent)),
                           "/.Radicale.lock", NULL);
    }
    return apr_pstrcat(p, strcmp(parent, "/") ? parent : "", "/.Radicale.lock", NULL);
}

static apr_status_t make_root(const char *root, const as_logger_t *log, const char *account,
                              apr_pool_t *p)
{
    const char *slash = strrchr(root, '/');
    apr_status_t rv;

    if (mkdir(root, 0775) == 0 || errno == EEXIST) {
        return APR_SUCCESS;
    }
    if (errno == ENOENT && slash && slash != root) {
        /* the parent too (DATADIR/collections), no further */
        const char *parent = apr_pstrmemdup(p, root, (apr_size_t)(slash - root));
        if ((mkdir(parent, 0775) == 0 || errno == EEXIST) &&
            (mkdir(root, 0775) == 0 || errno == EEXIST)) {
            return APR_SUCCESS;
        }
    }
    rv = coll_errno_status();
    as_log(log, AS_LOG_MARK, AS_LOG_ERR, rv, "collections %s: cannot create %s", account, root);
    return rv;
}

/* Mail-only operations: a collection has no flags, no delivery and no move
 * between folders, whatever path a command takes to reach it. */
static apr_status_t coll_no_flags(as_store_t *st, const char *folder_id, const char *item_id,
                                  unsigned set, unsigned clear, unsigned *flags_out)
{
    (void)st, (void)folder_id, (void)item_id, (void)set, (void)clear, (void)flags_out;
    return AS_STORE_ENOTSUP;
}

static apr_status_t coll_no_move(as_store_t *st, const char *folder_id, const char *item_id,
                                 const char *dst_folder_id, apr_pool_t *p, const char **new_item_id)
{
    (void)st, (void)folder_id, (void)item_id, (void)dst_folder_id, (void)p, (void)new_item_id;
    return AS_STORE_ENOTSUP;
}

static apr_status_t coll_no_deliver(as_store_t *st, const char *folder_id, const void *data,
                                    apr_size_t len, unsigned flags, apr_time_t date, apr_pool_t *p,
                                    const char **item_id)
{
    (void)st, (void)folder_id, (void)data, (void)len, (void)flags, (void)date, (void)p,
        (void)item_id;
    return AS_STORE_ENOTSUP;
}

/* create_folder without a type is a mail folder's. */
static apr_status_t coll_no_untyped_folder(as_store_t *st, const char *parent_id, const char *name,
                                           apr_pool_t *p, const char **folder_id)
{
    (void)st, (void)parent_id, (void)name, (void)p, (void)folder_id;
    return AS_STORE_ENOTSUP;
}

static const as_store_ops_t collections_ops = {
    "collections",           coll_list_folders,      coll_hierarchy_token, coll_get_folder,
    coll_folder_token,       coll_watch_paths,       coll_list_items,      coll_stat_item,
    coll_open_item,          coll_no_flags,          coll_no_move,         coll_delete_item,
    coll_no_deliver,         coll_no_untyped_folder, coll_rename_folder,   coll_delete_folder,
    coll_special_folder,     coll_open_item_at,      coll_add_item,        coll_replace_item,
    coll_create_folder_typed};

apr_status_t as_collections_open(apr_pool_t *p, const char *root, const char *account,
                                 unsigned classes, int create, const as_logger_t *log,
                                 as_store_t **store)
{
    coll_store_t *cs;
    struct stat sb;
    apr_status_t rv;

    *store = NULL;
    account = account ? account : "-";
    if (!root || root[0] != '/' || strlen(root) > 3000) {
        return APR_EINVAL;
    }
    if (stat(root, &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        if (!create) {
            return APR_ENOENT;
        }
        rv = make_root(root, log, account, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    cs = apr_pcalloc(p, sizeof *cs);
    cs->pub.ops = &collections_ops;
    cs->pub.pool = p;
    cs->pub.log = log;
    cs->pub.account = apr_pstrdup(p, account);
    cs->pub.priv = cs;
    cs->root = apr_pstrdup(p, root);
    cs->lock_path = lock_path_of(p, cs->root);
    cs->classes = classes & ~(1u << AS_CLASS_EMAIL);
    cs->create = create;
    cs->lock_wait = COLL_DEFAULT_WAIT;
    cs->lock_fd = -1;
    apr_pool_create(&cs->fpool, p);
    apr_pool_create(&cs->epool, p);
    apr_pool_create(&cs->npool, p);
    cs->files = apr_hash_make(cs->epool);
    *store = &cs->pub;
    return APR_SUCCESS;
}

void as_collections_set_lock_wait(as_store_t *store, apr_interval_time_t wait)
{
    coll_store_t *cs = store->priv;

    cs->lock_wait = wait;
}

const char *as_collections_lock_path(const as_store_t *store)
{
    const coll_store_t *cs = store->priv;

    return cs->lock_path;
}
