/* Maildir backend: creating, renaming and deleting folders, and finding
 * (or creating) the special folders. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_internal.h"
#include "activesync/as_maildir.h"

/* ---------------------------------------------------------------------------
 * Folder management
 */
static const char *name_check(apr_pool_t *p, const char *name, const char **enc)
{
    const unsigned char *c;
    size_t n;

    *enc = NULL;
    if (!name || !*name) {
        return "empty folder name";
    }
    n = strlen(name);
    if (n > MAX_NAME_BYTES) {
        return "folder name too long";
    }
    if (!md_utf8_valid(name)) {
        return "folder name is not UTF-8";
    }
    for (c = (const unsigned char *)name; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '/' || *c == '.' || *c == '\\') {
            return "folder name contains '/', '.', '\\' or a control character";
        }
    }
    *enc = as_mutf7_encode(p, name);
    return *enc ? NULL : "folder name cannot be encoded";
}

static int folder_is_special(const md_folder_t *f)
{
    return f->f.type >= AS_FOLDER_INBOX && f->f.type <= AS_FOLDER_OUTBOX;
}

apr_status_t md_make_folder_dirs(const char *dir, int marker, apr_pool_t *p)
{
    static const char *const subs[] = {"tmp", "new", "cur"}; /* cur/ last: it marks a folder */
    int i, fd;

    for (i = 0; i < 3; i++) {
        if (mkdir(apr_pstrcat(p, dir, "/", subs[i], NULL), 0700) != 0 && errno != EEXIST) {
            return md_errno_status();
        }
    }
    if (marker) { /* Maildir++ marks subfolders with this empty file */
        fd =
            open(apr_pstrcat(p, dir, "/maildirfolder", NULL), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t parent_storage(md_store_t *md, const char *parent_id, const char **storage)
{
    md_folder_t *pf;
    apr_status_t rv;

    if (!parent_id || !strcmp(parent_id, "0")) {
        *storage = NULL;
        return APR_SUCCESS;
    }
    rv = md_find_folder(md, parent_id, &pf);
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) ? AS_STORE_ENOPARENT : rv;
    }
    *storage = *pf->storage ? pf->storage : "INBOX";
    return APR_SUCCESS;
}

/* The storage name of folder enc (encoded) under parent_id ("0"/NULL: the
 * root; *pst, the parent's storage, NULL then), refused (APR_EINVAL) when
 * unusable or when it would be the INBOX. */
static apr_status_t child_storage(md_store_t *md, apr_pool_t *p, const char *parent_id,
                                  const char *enc, const char **storage, const char **parent)
{
    const char *pst = NULL;
    apr_status_t rv = parent_storage(md, parent_id, &pst);

    *parent = pst;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *storage = pst ? apr_pstrcat(p, pst, ".", enc, NULL) : enc;
    if (!md_storage_ok(*storage) || (!pst && !strcasecmp(*storage, "INBOX"))) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* The folder stored as storage after a fresh listing; *f NULL: none. */
static apr_status_t find_storage(md_store_t *md, const char *storage, md_folder_t **f)
{
    apr_status_t rv = md_load_folders(md);
    int i;

    *f = NULL;
    for (i = 0; rv == APR_SUCCESS && i < md->folders->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(md->folders, i, md_folder_t *);
        if (!strcmp(c->storage, storage)) {
            *f = c;
            break;
        }
    }
    return rv;
}

apr_status_t md_create_folder(as_store_t *st, const char *parent_id, const char *name,
                              apr_pool_t *p, const char **folder_id)
{
    md_store_t *md = st->priv;
    const char *enc, *why, *pst, *storage, *dir;
    apr_status_t rv;
    md_folder_t *found;

    if (folder_id) {
        *folder_id = NULL;
    }
    why = name_check(p, name, &enc);
    if (why) {
        as_log(st->log, AS_LOG_MARK, AS_LOG_INFO, 0, "maildir %s: create refused: %s", st->account,
               why);
        return APR_EINVAL;
    }
    rv = child_storage(md, p, parent_id, enc, &storage, &pst);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    /* the same display name (any case for the special ones) already there? */
    rv = find_storage(md, storage, &found);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (found) {
        return APR_EEXIST;
    }
    dir = apr_pstrcat(p, md->root, "/.", storage, NULL);
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST) {
            rv = md_errno_status();
            md_log_errno(md, rv, "cannot create", dir);
            return rv;
        }
        /* a half-made folder (no cur/): complete it */
    }
    rv = md_make_folder_dirs(dir, 1, p);
    if (rv != APR_SUCCESS) {
        md_log_errno(md, rv, "cannot create", dir);
        return rv;
    }
    as_store_fsync_dir(md->root);
    rv = find_storage(md, storage, &found);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!found) {
        return APR_EGENERAL;
    }
    if (folder_id) {
        *folder_id = apr_pstrdup(p, found->f.id);
    }
    return APR_SUCCESS;
}

/* The folder and its descendants (storage names), in pool p. */
static apr_array_header_t *subtree(md_store_t *md, const md_folder_t *f, apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(md_folder_t *));
    size_t n = strlen(f->storage);
    int i;

    for (i = 0; i < md->folders->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(md->folders, i, md_folder_t *);
        if (!strcmp(c->storage, f->storage) ||
            (!strncmp(c->storage, f->storage, n) && c->storage[n] == '.')) {
            APR_ARRAY_PUSH(a, md_folder_t *) = c;
        }
    }
    return a;
}

apr_status_t md_rename_folder(as_store_t *st, const char *folder_id, const char *new_parent_id,
                              const char *new_name)
{
    md_store_t *md = st->priv;
    apr_pool_t *p;
    md_folder_t *f;
    apr_array_header_t *tree;
    apr_hash_t *map;
    const char *enc, *why, *pst, *nst;
    apr_status_t rv;
    int lfd, i;
    struct stat sb;

    apr_pool_create(&p, st->pool);
    why = name_check(p, new_name, &enc);
    if (why) {
        apr_pool_destroy(p);
        return APR_EINVAL;
    }
    lfd = md_lock(md);
    if (lfd < 0) {
        rv = md_errno_status();
        apr_pool_destroy(p);
        return rv;
    }
    md->locked = 1;
    rv = md_load_folders(md);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = md_find_folder(md, folder_id, &f);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    if (folder_is_special(f)) {
        rv = AS_STORE_ESPECIAL;
        goto out;
    }
    rv = child_storage(md, p, new_parent_id, enc, &nst, &pst);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    if (!strcmp(nst, f->storage)) {
        rv = APR_SUCCESS; /* nothing to do */
        goto out;
    }
    /* not into itself or a descendant */
    if (pst && (!strcmp(pst, f->storage) || (!strncmp(pst, f->storage, strlen(f->storage)) &&
                                             pst[strlen(f->storage)] == '.'))) {
        rv = APR_EINVAL;
        goto out;
    }
    tree = subtree(md, f, p);
    for (i = 0; i < tree->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(tree, i, md_folder_t *);
        const char *to = apr_pstrcat(p, md->root, "/.", nst, c->storage + strlen(f->storage), NULL);
        if (lstat(to, &sb) == 0) {
            rv = APR_EEXIST;
            goto out;
        }
    }
    /* the new names keep the old ids: write that down first */
    map = md_map_read(md, p);
    for (i = 0; i < tree->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(tree, i, md_folder_t *);
        apr_hash_set(map, apr_pstrcat(p, nst, c->storage + strlen(f->storage), NULL),
                     APR_HASH_KEY_STRING, c->f.id);
        apr_hash_set(map, c->storage, APR_HASH_KEY_STRING, NULL);
    }
    rv = md_map_write(md, map, p);
    if (rv != APR_SUCCESS) {
        md_log_errno(md, rv, "cannot write", MAP_FILE);
        goto out;
    }
    for (i = 0; i < tree->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(tree, i, md_folder_t *);
        const char *to = apr_pstrcat(p, md->root, "/.", nst, c->storage + strlen(f->storage), NULL);
        if (rename(c->dir, to) != 0) {
            rv = md_errno_status();
            md_log_errno(md, rv, "cannot rename", c->dir);
            goto out;
        }
    }
    as_store_fsync_dir(md->root);
    rv = APR_SUCCESS;
out:
    md->by_id = NULL; /* reload next time */
    md->cache_valid = 0;
    md->locked = 0;
    md_unlock(lfd);
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    apr_status_t rv = APR_SUCCESS;

    if (!d) {
        return md_errno_status();
    }
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            char *sub = malloc(strlen(path) + strlen(de->d_name) + 2);
            if (!sub) {
                rv = APR_ENOMEM;
                break;
            }
            sprintf(sub, "%s/%s", path, de->d_name);
            rv = remove_tree(sub);
            free(sub);
            if (rv != APR_SUCCESS) {
                break;
            }
        } else if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT) {
            rv = md_errno_status();
            break;
        }
    }
    closedir(d);
    if (rv == APR_SUCCESS && rmdir(path) != 0) {
        rv = md_errno_status();
    }
    return rv;
}

/* Under the lock: rename the folder and its descendants (children first)
 * out of sight -- no leading dot, so neither we nor Dovecot list them --
 * recording the new paths in gone (also those hidden before an error). */
static apr_status_t hide_subtree(md_store_t *md, const char *folder_id, apr_pool_t *p,
                                 apr_array_header_t *gone)
{
    md_folder_t *f;
    apr_array_header_t *tree;
    apr_status_t rv;
    int i;

    rv = md_load_folders(md);
    if (rv == APR_SUCCESS) {
        rv = md_find_folder(md, folder_id, &f);
    }
    if (rv == APR_SUCCESS && folder_is_special(f)) {
        rv = AS_STORE_ESPECIAL;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    tree = subtree(md, f, p);
    for (i = tree->nelts - 1; i >= 0; i--) {
        md_folder_t *c = APR_ARRAY_IDX(tree, i, md_folder_t *);
        const char *to = apr_pstrcat(p, md->root, "/" TRASH_PREFIX, md_unique_name(p, 0), NULL);
        if (rename(c->dir, to) != 0) {
            rv = md_errno_status();
            md_log_errno(md, rv, "cannot remove", c->dir);
            break;
        }
        APR_ARRAY_PUSH(gone, const char *) = to;
    }
    as_store_fsync_dir(md->root);
    return rv;
}

apr_status_t md_delete_folder(as_store_t *st, const char *folder_id)
{
    md_store_t *md = st->priv;
    apr_pool_t *p;
    apr_array_header_t *gone;
    apr_status_t rv;
    int i, lfd;

    apr_pool_create(&p, st->pool);
    gone = apr_array_make(p, 4, sizeof(const char *));
    lfd = md_lock(md);
    md->locked = lfd >= 0;
    rv = hide_subtree(md, folder_id, p, gone);
    md->by_id = NULL;
    md->cache_valid = 0;
    md->locked = 0;
    md_unlock(lfd);
    /* Out of sight already: the removal, which takes long for a large
     * folder, needs no lock, and must not hold up the mailbox meanwhile. */
    for (i = 0; i < gone->nelts; i++) {
        const char *path = APR_ARRAY_IDX(gone, i, const char *);
        apr_status_t rrv;
        if (md->remove_hook) {
            md->remove_hook(md->remove_baton, path);
        }
        rrv = remove_tree(path);
        if (rrv != APR_SUCCESS) {
            /* the folder is gone for every reader: not an error for the caller */
            md_log_errno(md, rrv, "cannot remove all of", path);
        }
    }
    apr_pool_destroy(p);
    return rv;
}

apr_status_t md_special_folder(as_store_t *st, int type, int create, apr_pool_t *p,
                               const char **folder_id)
{
    md_store_t *md = st->priv;
    const char *name = NULL;
    apr_status_t rv;
    int i;

    *folder_id = NULL;
    if (!md->folders) {
        rv = md_load_folders(md);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    for (i = 0; i < md->folders->nelts; i++) {
        md_folder_t *f = APR_ARRAY_IDX(md->folders, i, md_folder_t *);
        if (f->f.type == type) {
            *folder_id = apr_pstrdup(p, f->f.id);
            return APR_SUCCESS;
        }
    }
    switch (type) {
    case AS_FOLDER_SENT:
        name = md->names.sent;
        break;
    case AS_FOLDER_DRAFTS:
        name = md->names.drafts;
        break;
    case AS_FOLDER_DELETED:
        name = md->names.trash;
        break;
    default:
        break;
    }
    if (!create || !name) {
        return APR_ENOENT;
    }
    rv = md_create_folder(st, "0", name, p, folder_id);
    if (rv == APR_EEXIST) { /* created meanwhile by someone else */
        rv = md_load_folders(md);
        if (rv == APR_SUCCESS) {
            return md_special_folder(st, type, 0, p, folder_id);
        }
    }
    return rv;
}
