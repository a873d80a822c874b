/* Writing items: add, replace (only if the ETag still matches) and delete,
 * each under Radicale's storage lock; content goes to a temporary file in
 * the collection and is renamed into place, never a partial file. */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "coll_internal.h"

/* The folder of an item write, and the content checked against it. */
static apr_status_t writable(coll_store_t *cs, const char *folder_id, const void *data,
                             apr_size_t len, coll_folder_t **f)
{
    apr_status_t rv = coll_find_folder(cs, folder_id, f);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((apr_off_t)len > COLL_MAX_ITEM_BYTES) {
        coll_log(cs, AS_LOG_WARNING, APR_EINVAL,
                 "an item for %s is larger than 4 MB: "
                 "refused",
                 (*f)->dir);
        return APR_EINVAL;
    }
    if (!data || memchr(data, '\0', len) || !coll_data_fits(*f, data, len)) {
        coll_log(cs, AS_LOG_WARNING, APR_EINVAL,
                 "an item for %s is not a %s object of the "
                 "collection's kind: refused",
                 (*f)->dir, (*f)->comp ? "iCalendar" : "vCard");
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t coll_add_item(as_store_t *st, const char *folder_id, const char *name_hint,
                           const void *data, apr_size_t len, apr_pool_t *p, const char **item_id,
                           const char **etag)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    const char *name;
    char id[COLL_ITEM_ID_LEN + 1], tag[COLL_ETAG_LEN + 1];
    apr_status_t rv = writable(cs, folder_id, data, len, &f);
    int lfd;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    name = coll_item_file_name(p, name_hint, f->f.cls);
    lfd = coll_lock(cs, &rv);
    if (lfd < 0) {
        return rv;
    }
    rv = coll_write_file(cs, f->dir, name, data, len, 0, p);
    if (rv == APR_EEXIST && !(name_hint && *name_hint)) {
        name = coll_item_file_name(p, NULL, f->f.cls); /* a random name met another: again */
        rv = coll_write_file(cs, f->dir, name, data, len, 0, p);
    }
    coll_unlock(cs, lfd);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    coll_item_id(name, id);
    coll_sha256_hex(data, len, tag);
    if (item_id) {
        *item_id = apr_pstrdup(p, id);
    }
    if (etag) {
        *etag = apr_pstrdup(p, tag);
    }
    return APR_SUCCESS;
}

apr_status_t coll_replace_item(as_store_t *st, const char *folder_id, const char *item_id,
                               const char *if_etag, const void *data, apr_size_t len, apr_pool_t *p,
                               const char **etag)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    const char *name;
    const coll_file_t *e;
    char *old;
    apr_size_t olen;
    struct stat sb;
    char tag[COLL_ETAG_LEN + 1];
    apr_status_t rv = writable(cs, folder_id, data, len, &f);
    int lfd;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    lfd = coll_lock(cs, &rv);
    if (lfd < 0) {
        return rv;
    }
    rv = coll_resolve(cs, f, item_id, &name);
    if (rv == APR_SUCCESS) {
        /* the current bytes, read under the lock: nobody writes meanwhile */
        rv = coll_read_file(apr_pstrcat(p, f->dir, "/", name, NULL), COLL_MAX_ITEM_BYTES, p, &old,
                            &olen, &sb);
        rv = APR_STATUS_IS_ENOENT(rv) || rv == APR_EINVAL ? APR_ENOENT : rv;
    }
    if (rv == APR_SUCCESS) {
        e = coll_file_facts(cs, f, name, &sb, old, olen);
        if (!coll_item_shown(f, e)) {
            rv = APR_ENOENT;
        } else if (if_etag && strcmp(if_etag, e->etag)) {
            rv = AS_STORE_ECONFLICT;
        }
    }
    if (rv == APR_SUCCESS) {
        rv = coll_write_file(cs, f->dir, name, data, len, 1, p);
    }
    coll_unlock(cs, lfd);
    if (rv == APR_SUCCESS && etag) {
        coll_sha256_hex(data, len, tag);
        *etag = apr_pstrdup(p, tag);
    }
    return rv;
}

/* Collections have no trash: to_trash is ignored. */
apr_status_t coll_delete_item(as_store_t *st, const char *folder_id, const char *item_id,
                              int to_trash)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    const char *name, *path;
    struct stat sb;
    apr_status_t rv = coll_find_folder(cs, folder_id, &f);
    int lfd;

    if (rv != APR_SUCCESS) {
        return rv;
    }
    lfd = coll_lock(cs, &rv);
    if (lfd < 0) {
        return rv;
    }
    rv = coll_resolve(cs, f, item_id, &name);
    if (rv == APR_SUCCESS) {
        char buf[4096];
        apr_snprintf(buf, sizeof buf, "%s/%s", f->dir, name);
        path = buf;
        if (lstat(path, &sb) != 0 ||
            !coll_item_shown(f, coll_file_facts(cs, f, name, &sb, NULL, 0))) {
            rv = APR_ENOENT;
        } else if (unlink(path) != 0) {
            rv = errno == ENOENT ? APR_ENOENT : coll_errno_status();
            if (rv != APR_ENOENT) {
                coll_log(cs, AS_LOG_ERR, rv, "cannot remove %s", path);
            }
        } else {
            as_store_fsync_dir(f->dir);
        }
    }
    coll_unlock(cs, lfd);
    return rv;
}
