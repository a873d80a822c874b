/* Maildir++ backend of the mail store: see as_maildir.h for the layout,
 * the id design and the special folders, as_store.h for the contract, and
 * md_internal.h for how the backend's files divide the work.  This file:
 * the path template and opening a handle. */
#include <errno.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "md_internal.h"

/* ---------------------------------------------------------------------------
 * Path template
 */
/* ---------------------------------------------------------------------------
 * Path template
 */
static const char *template_value_bad(const char *v)
{
    const unsigned char *c;

    if (!v || !*v) {
        return "empty value";
    }
    if (v[0] == '.') {
        return "value starts with a dot";
    }
    if (strstr(v, "..")) {
        return "value contains \"..\"";
    }
    for (c = (const unsigned char *)v; *c; c++) {
        if (*c == '/' || *c == '\\') {
            return "value contains a slash";
        }
        if (*c < 0x20 || *c == 0x7f) {
            return "value contains a control character";
        }
    }
    return NULL;
}

apr_status_t as_maildir_path_from_template(apr_pool_t *p, const char *tmpl, const char *account,
                                           const char **path, const char **err)
{
    const char *at, *local, *domain, *why, *c, *r;
    apr_array_header_t *out;

    *path = NULL;
    *err = NULL;
    if (!tmpl || tmpl[0] != '/') {
        *err = "the Maildir template must be an absolute path";
        return APR_EINVAL;
    }
    if (!account || !*account) {
        *err = "no account";
        return APR_EINVAL;
    }
    at = strrchr(account, '@');
    local = at ? apr_pstrmemdup(p, account, (apr_size_t)(at - account)) : account;
    domain = at ? at + 1 : NULL;
    if ((why = template_value_bad(account)) != NULL) {
        *err = apr_pstrcat(p, "account refused for the Maildir path: ", why, NULL);
        return APR_EINVAL;
    }
    out = apr_array_make(p, 256, 1);
    for (c = tmpl; *c; c++) {
        const char *v = NULL;
        if (*c != '%') {
            *(char *)apr_array_push(out) = *c;
            continue;
        }
        c++;
        switch (*c) {
        case '%':
            *(char *)apr_array_push(out) = '%';
            continue;
        case 'u':
            v = account;
            break;
        case 'n':
            v = local;
            break;
        case 'd':
            v = domain;
            if (!v) {
                *err = "%d used in the Maildir template but the account has no domain";
                return APR_EINVAL;
            }
            break;
        default:
            *err = "unknown %-escape in the Maildir template (use %u, %n, %d or %%)";
            return APR_EINVAL;
        }
        if ((why = template_value_bad(v)) != NULL) {
            *err = apr_pstrcat(p, "account refused for the Maildir path: ", why, NULL);
            return APR_EINVAL;
        }
        for (; *v; v++) {
            *(char *)apr_array_push(out) = *v;
        }
    }
    *(char *)apr_array_push(out) = '\0';
    r = out->elts;
    if (strstr(r, "/../") || strstr(r, "/./") ||
        (strlen(r) >= 3 && !strcmp(r + strlen(r) - 3, "/..")) ||
        (strlen(r) >= 2 && !strcmp(r + strlen(r) - 2, "/."))) {
        *err = "the Maildir path contains a . or .. component";
        return APR_EINVAL;
    }
    *path = r;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Opening
 */
static const as_store_ops_t maildir_ops = {"maildir",
                                           md_list_folders,
                                           md_hierarchy_token,
                                           md_get_folder,
                                           md_folder_token,
                                           md_watch_paths,
                                           md_list_items,
                                           md_stat_item,
                                           md_open_item,
                                           md_set_flags,
                                           md_move_item,
                                           md_delete_item,
                                           md_deliver,
                                           md_create_folder,
                                           md_rename_folder,
                                           md_delete_folder,
                                           md_special_folder,
                                           md_open_item_at,
                                           NULL,
                                           NULL,
                                           NULL};

void as_maildir_names_default(as_maildir_names_t *names)
{
    names->sent = "Sent";
    names->drafts = "Drafts";
    names->trash = "Trash";
    names->junk = "Junk";
}

apr_status_t as_maildir_open(apr_pool_t *p, const char *root, const char *account,
                             const as_maildir_names_t *names, int create, const as_logger_t *log,
                             as_store_t **store)
{
    md_store_t *md;
    struct stat sb;

    *store = NULL;
    if (!root || root[0] != '/') {
        return APR_EINVAL;
    }
    if (stat(apr_pstrcat(p, root, "/cur", NULL), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        apr_status_t rv;
        if (!create) {
            return APR_ENOENT;
        }
        if (mkdir(root, 0700) != 0 && errno != EEXIST) {
            rv = md_errno_status();
            as_log(log, AS_LOG_MARK, AS_LOG_ERR, rv, "maildir %s: cannot create %s",
                   account ? account : "-", root);
            return rv;
        }
        rv = md_make_folder_dirs(root, 0, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    md = apr_pcalloc(p, sizeof *md);
    md->pub.ops = &maildir_ops;
    md->pub.pool = p;
    md->pub.log = log;
    md->pub.account = account ? apr_pstrdup(p, account) : "-";
    md->pub.priv = md;
    md->root = apr_pstrdup(p, root);
    if (names) {
        md->names = *names;
    } else {
        as_maildir_names_default(&md->names);
    }
    apr_pool_create(&md->fpool, p);
    apr_pool_create(&md->cpool, p);
    *store = &md->pub;
    return APR_SUCCESS;
}

void as_maildir_set_remove_hook(as_store_t *store, as_maildir_remove_hook_fn *fn, void *baton)
{
    md_store_t *md = store->priv;

    md->remove_hook = fn;
    md->remove_baton = fn ? baton : NULL;
}
