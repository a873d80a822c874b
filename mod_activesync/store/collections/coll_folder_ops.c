/* Managing collections: create (a new directory with .Radicale.props),
 * rename (the display name only: the directory, and so every CardDAV and
 * CalDAV URL, stays), delete, and the default folder of a class. */
#include <errno.h>
#include <string.h>
#include <stdio.h>

#include <apr_strings.h>

#include "coll_internal.h"

/* The class and component set of a folder type a client may create. */
static int creatable(int type, const char **tag, const char **comps)
{
    switch (type) {
    case AS_FOLDER_USER_CONTACTS:
        *tag = "VADDRESSBOOK";
        *comps = NULL;
        return AS_CLASS_CONTACTS;
    case AS_FOLDER_USER_CALENDAR:
        *tag = "VCALENDAR";
        *comps = "VEVENT";
        return AS_CLASS_CALENDAR;
    case AS_FOLDER_USER_TASKS:
        *tag = "VCALENDAR";
        *comps = "VTODO";
        return AS_CLASS_TASKS;
    case AS_FOLDER_USER_NOTES:
        *tag = "VCALENDAR";
        *comps = "VJOURNAL";
        return AS_CLASS_NOTES;
    default:
        return -1;
    }
}

/* A folder of class cls named name, other than except; NULL when none. */
static coll_folder_t *named(coll_store_t *cs, int cls, const char *name,
                            const coll_folder_t *except)
{
    int i;

    for (i = 0; i < cs->folders->nelts; i++) {
        coll_folder_t *f = APR_ARRAY_IDX(cs->folders, i, coll_folder_t *);
        if (f != except && f->f.cls == cls && !strcmp(f->f.name, name)) {
            return f;
        }
    }
    return NULL;
}

apr_status_t coll_create_folder_typed(as_store_t *st, const char *parent_id, const char *name,
                                      int type, apr_pool_t *p, const char **folder_id)
{
    coll_store_t *cs = st->priv;
    const char *tag, *comps, *dirname = NULL, *why;
    char id[COLL_FOLDER_ID_LEN + 1];
    int cls = creatable(type, &tag, &comps), lfd;
    apr_status_t rv;

    if (cls < 0 || !(cs->classes & (1u << cls))) {
        return AS_STORE_ENOTSUP;
    }
    if (parent_id && strcmp(parent_id, "0")) {
        return AS_STORE_ENOPARENT; /* collections do not nest */
    }
    if ((why = coll_display_name_bad(name)) != NULL) {
        coll_log(cs, AS_LOG_INFO, APR_EINVAL, "folder name refused: %s", why);
        return APR_EINVAL;
    }
    lfd = coll_lock(cs, &rv);
    if (lfd < 0) {
        return rv;
    }
    cs->by_id = NULL;
    cs->fresh = 1;
    rv = coll_load_folders(cs);
    if (rv == APR_SUCCESS && named(cs, cls, name, NULL)) {
        rv = APR_EEXIST;
    }
    if (rv == APR_SUCCESS) {
        dirname = coll_random_name(p);
        rv = coll_make_collection(cs, dirname, coll_props_new(p, tag, name, comps), p);
    }
    coll_unlock(cs, lfd);
    if (rv == APR_SUCCESS) {
        coll_folder_id(dirname, comps ? coll_components_parse(comps) : 0, id);
        if (folder_id) {
            *folder_id = apr_pstrdup(p, id);
        }
    }
    return rv;
}

apr_status_t coll_rename_folder(as_store_t *st, const char *folder_id, const char *new_parent_id,
                                const char *new_name)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    const char *json = NULL;
    apr_pool_t *p;
    apr_status_t rv;
    int lfd;

    if (new_parent_id && strcmp(new_parent_id, "0")) {
        return coll_folder_id_valid(new_parent_id) ? APR_EINVAL : AS_STORE_ENOPARENT;
    }
    if (coll_display_name_bad(new_name)) {
        return APR_EINVAL;
    }
    lfd = coll_lock(cs, &rv);
    if (lfd < 0) {
        return rv;
    }
    cs->by_id = NULL;
    cs->fresh = 1;
    rv = coll_find_folder(cs, folder_id, &f);
    if (rv == APR_SUCCESS && f->is_default) {
        rv = AS_STORE_ESPECIAL;
    } else if (rv == APR_SUCCESS && !strcmp(f->f.name, new_name)) {
        coll_unlock(cs, lfd);
        return APR_SUCCESS;
    } else if (rv == APR_SUCCESS && named(cs, f->f.cls, new_name, f)) {
        rv = APR_EEXIST;
    }
    apr_pool_create(&p, st->pool);
    if (rv == APR_SUCCESS) {
        rv = coll_props_renamed(cs, f->dir, new_name, p, &json);
    }
    if (rv == APR_SUCCESS) {
        rv = coll_write_file(cs, f->dir, ".Radicale.props", json, strlen(json), 1, p);
    }
    cs->by_id = NULL;
    cs->fresh = 1;
    coll_unlock(cs, lfd);
    apr_pool_destroy(p);
    return rv;
}

apr_status_t coll_delete_folder(as_store_t *st, const char *folder_id)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    apr_pool_t *p;
    const char *gone;
    apr_status_t rv;
    int lfd = coll_lock(cs, &rv);

    if (lfd < 0) {
        return rv;
    }
    cs->by_id = NULL;
    cs->fresh = 1;
    rv = coll_find_folder(cs, folder_id, &f);
    /* a default folder stays; so does a collection that is another folder
     * too (its events would go with its tasks) */
    if (rv == APR_SUCCESS && (f->is_default || (f->comp && f->comps != f->comp))) {
        rv = AS_STORE_ESPECIAL;
    }
    apr_pool_create(&p, st->pool);
    if (rv == APR_SUCCESS) {
        /* out of sight at once, then removed (as Radicale deletes) */
        gone = apr_pstrcat(p, cs->root, "/" COLL_TMP_PREFIX "del-", coll_random_name(p), NULL);
        if (rename(f->dir, gone) != 0) {
            rv = errno == ENOENT ? APR_ENOENT : coll_errno_status();
        } else {
            as_store_fsync_dir(cs->root);
            if (coll_remove_tree(gone) != APR_SUCCESS) {
                coll_log(cs, AS_LOG_WARNING, 0, "could not remove all of %s", gone);
            }
        }
    }
    cs->by_id = NULL;
    cs->fresh = 1;
    coll_unlock(cs, lfd);
    apr_pool_destroy(p);
    return rv;
}

apr_status_t coll_special_folder(as_store_t *st, int type, int create, apr_pool_t *p,
                                 const char **folder_id)
{
    coll_store_t *cs = st->priv;
    int cls = as_folder_class(type), i, pass;
    apr_status_t rv;

    *folder_id = NULL;
    if (cls == AS_CLASS_EMAIL || type != as_class_default_type(cls) ||
        !(cs->classes & (1u << cls))) {
        return APR_ENOENT;
    }
    for (pass = 0; pass < 2; pass++) {
        rv = coll_load_folders(cs);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        for (i = 0; i < cs->folders->nelts; i++) {
            coll_folder_t *f = APR_ARRAY_IDX(cs->folders, i, coll_folder_t *);
            if (f->is_default && f->f.cls == cls) {
                *folder_id = apr_pstrdup(p, f->f.id);
                return APR_SUCCESS;
            }
        }
        if (!create || pass > 0) {
            break;
        }
        rv = coll_ensure_defaults(cs, 1u << cls);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        cs->by_id = NULL;
        cs->fresh = 1;
    }
    return APR_ENOENT;
}
