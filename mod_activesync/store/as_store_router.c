/* One folder hierarchy over an account's mail store and collection store
 * (as_store_router.h).  A folder id names its store: the collection
 * store's are AS_COLLECTIONS_ID_PREFIX and 10 characters long, every other
 * id is the mail store's (Maildir ids are 8), so no id changes. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_collections.h"
#include "activesync/as_store_router.h"

#define COLL_ID_LEN 10

typedef struct router_t {
    as_store_t pub;
    as_store_t *mail;
    as_store_t *coll;
} router_t;

static int is_coll_id(const char *id)
{
    return id && id[0] == AS_COLLECTIONS_ID_PREFIX && strlen(id) == COLL_ID_LEN;
}

/* The store owning a folder id; NULL when that store is absent. */
static as_store_t *owner(as_store_t *st, const char *folder_id)
{
    router_t *r = st->priv;
    return is_coll_id(folder_id) ? r->coll : r->mail;
}

/* Each token without its "unsettled" mark, joined; unsettled when either
 * is (as_store_token_same never matches a token ending in '!'). */
static const char *combine(apr_pool_t *p, const char *m, const char *c)
{
    size_t ml = strlen(m), cl = strlen(c);
    int unsettled = (ml && m[ml - 1] == '!') || (cl && c[cl - 1] == '!');

    if (ml && m[ml - 1] == '!') {
        ml--;
    }
    if (cl && c[cl - 1] == '!') {
        cl--;
    }
    return apr_psprintf(p, "%.*s|%.*s%s", (int)ml, m, (int)cl, c, unsettled ? "!" : "");
}

static apr_status_t r_list_folders(as_store_t *st, apr_pool_t *p, apr_array_header_t **out,
                                   const char **hier_token)
{
    router_t *r = st->priv;
    apr_array_header_t *mf = NULL, *cf = NULL;
    const char *mt = NULL, *ct = NULL;
    apr_status_t rv;

    *out = NULL;
    rv = as_store_list_folders(r->mail, p, &mf, hier_token ? &mt : NULL);
    if (rv == APR_SUCCESS) {
        rv = as_store_list_folders(r->coll, p, &cf, hier_token ? &ct : NULL);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_array_cat(mf, cf); /* mail first (INBOX first), then the collections */
    *out = mf;
    if (hier_token) {
        *hier_token = combine(p, mt, ct);
    }
    return APR_SUCCESS;
}

static apr_status_t r_hierarchy_token(as_store_t *st, apr_pool_t *p, const char **token)
{
    router_t *r = st->priv;
    const char *mt, *ct;
    apr_status_t rv = as_store_hierarchy_token(r->mail, p, &mt);

    *token = NULL;
    if (rv == APR_SUCCESS) {
        rv = as_store_hierarchy_token(r->coll, p, &ct);
    }
    if (rv == APR_SUCCESS) {
        *token = combine(p, mt, ct);
    }
    return rv;
}

static apr_status_t r_get_folder(as_store_t *st, const char *id, apr_pool_t *p,
                                 const as_store_folder_t **f)
{
    as_store_t *o = owner(st, id);
    *f = NULL;
    return o ? as_store_get_folder(o, id, p, f) : APR_ENOENT;
}

static apr_status_t r_folder_token(as_store_t *st, const char *id, apr_pool_t *p,
                                   const char **token)
{
    as_store_t *o = owner(st, id);
    *token = NULL;
    return o ? as_store_folder_token(o, id, p, token) : APR_ENOENT;
}

static apr_status_t r_watch_paths(as_store_t *st, const char *id, apr_pool_t *p,
                                  apr_array_header_t **paths)
{
    as_store_t *o = owner(st, id);
    *paths = NULL;
    return o ? as_store_watch_paths(o, id, p, paths) : APR_ENOENT;
}

static apr_status_t r_list_items(as_store_t *st, const char *id, apr_pool_t *p,
                                 apr_array_header_t **items, const char **token)
{
    as_store_t *o = owner(st, id);
    *items = NULL;
    return o ? as_store_list_items(o, id, p, items, token) : APR_ENOENT;
}

static apr_status_t r_stat_item(as_store_t *st, const char *f, const char *i, apr_pool_t *p,
                                as_store_item_t *item)
{
    as_store_t *o = owner(st, f);
    return o ? as_store_stat_item(o, f, i, p, item) : APR_ENOENT;
}

static apr_status_t r_open_item(as_store_t *st, const char *f, const char *i, apr_pool_t *p,
                                as_store_msg_t **msg)
{
    as_store_t *o = owner(st, f);
    *msg = NULL;
    return o ? as_store_open_item(o, f, i, p, msg) : APR_ENOENT;
}

static apr_status_t r_open_item_at(as_store_t *st, const char *f, const char *i, const char *name,
                                   apr_pool_t *p, as_store_msg_t **msg)
{
    as_store_t *o = owner(st, f);
    *msg = NULL;
    return o ? as_store_open_item_at(o, f, i, name, p, msg) : APR_ENOENT;
}

static apr_status_t r_set_flags(as_store_t *st, const char *f, const char *i, unsigned set,
                                unsigned clear, unsigned *flags_out)
{
    as_store_t *o = owner(st, f);
    if (!o) {
        return APR_ENOENT;
    }
    return o->ops->set_flags ? as_store_set_flags(o, f, i, set, clear, flags_out)
                             : AS_STORE_ENOTSUP;
}

static apr_status_t r_move_item(as_store_t *st, const char *f, const char *i, const char *dst,
                                apr_pool_t *p, const char **new_id)
{
    as_store_t *o = owner(st, f), *d = owner(st, dst);
    if (!o || !d) {
        return APR_ENOENT;
    }
    if (o != d || !o->ops->move_item) {
        return AS_STORE_ENOTSUP; /* between stores: not a move of one file */
    }
    return as_store_move_item(o, f, i, dst, p, new_id);
}

static apr_status_t r_delete_item(as_store_t *st, const char *f, const char *i, int to_trash)
{
    as_store_t *o = owner(st, f);
    return o ? as_store_delete_item(o, f, i, to_trash) : APR_ENOENT;
}

static apr_status_t r_deliver(as_store_t *st, const char *f, const void *data, apr_size_t len,
                              unsigned flags, apr_time_t date, apr_pool_t *p, const char **id)
{
    as_store_t *o = owner(st, f);
    if (!o) {
        return APR_ENOENT;
    }
    return o->ops->deliver ? as_store_deliver(o, f, data, len, flags, date, p, id)
                           : AS_STORE_ENOTSUP;
}

static apr_status_t r_create_folder(as_store_t *st, const char *parent_id, const char *name,
                                    apr_pool_t *p, const char **folder_id)
{
    router_t *r = st->priv;
    if (!r->mail) {
        return AS_STORE_ENOTSUP;
    }
    if (is_coll_id(parent_id)) {
        return AS_STORE_ENOPARENT;
    }
    return as_store_create_folder(r->mail, parent_id, name, p, folder_id);
}

static apr_status_t r_create_folder_typed(as_store_t *st, const char *parent_id, const char *name,
                                          int type, apr_pool_t *p, const char **folder_id)
{
    router_t *r = st->priv;
    as_store_t *o = as_folder_class(type) == AS_CLASS_EMAIL ? r->mail : r->coll;

    if (!o) {
        return AS_STORE_ENOTSUP;
    }
    if (parent_id && strcmp(parent_id, "0") && owner(st, parent_id) != o) {
        return AS_STORE_ENOPARENT; /* a contact folder under a mail folder ... */
    }
    return as_store_create_folder_typed(o, parent_id, name, type, p, folder_id);
}

static apr_status_t r_rename_folder(as_store_t *st, const char *id, const char *new_parent_id,
                                    const char *new_name)
{
    as_store_t *o = owner(st, id);
    if (!o) {
        return APR_ENOENT;
    }
    if (new_parent_id && strcmp(new_parent_id, "0") && owner(st, new_parent_id) != o) {
        return AS_STORE_ENOPARENT;
    }
    return as_store_rename_folder(o, id, new_parent_id, new_name);
}

static apr_status_t r_delete_folder(as_store_t *st, const char *id)
{
    as_store_t *o = owner(st, id);
    return o ? as_store_delete_folder(o, id) : APR_ENOENT;
}

static apr_status_t r_special_folder(as_store_t *st, int type, int create, apr_pool_t *p,
                                     const char **folder_id)
{
    router_t *r = st->priv;
    as_store_t *o = as_folder_class(type) == AS_CLASS_EMAIL ? r->mail : r->coll;

    *folder_id = NULL;
    return o ? as_store_special_folder(o, type, create, p, folder_id) : APR_ENOENT;
}

static apr_status_t r_add_item(as_store_t *st, const char *f, const char *hint, const void *data,
                               apr_size_t len, apr_pool_t *p, const char **id, const char **etag)
{
    as_store_t *o = owner(st, f);
    return o ? as_store_add_item(o, f, hint, data, len, p, id, etag) : APR_ENOENT;
}

static apr_status_t r_replace_item(as_store_t *st, const char *f, const char *i,
                                   const char *if_etag, const void *data, apr_size_t len,
                                   apr_pool_t *p, const char **etag)
{
    as_store_t *o = owner(st, f);
    return o ? as_store_replace_item(o, f, i, if_etag, data, len, p, etag) : APR_ENOENT;
}

static const as_store_ops_t router_ops = {"router",        r_list_folders,   r_hierarchy_token,
                                          r_get_folder,    r_folder_token,   r_watch_paths,
                                          r_list_items,    r_stat_item,      r_open_item,
                                          r_set_flags,     r_move_item,      r_delete_item,
                                          r_deliver,       r_create_folder,  r_rename_folder,
                                          r_delete_folder, r_special_folder, r_open_item_at,
                                          r_add_item,      r_replace_item,   r_create_folder_typed};

apr_status_t as_store_router_open(apr_pool_t *p, as_store_t *mail, as_store_t *coll,
                                  const as_logger_t *log, as_store_t **store)
{
    router_t *r;

    *store = NULL;
    if (!mail && !coll) {
        return APR_EINVAL;
    }
    if (!mail || !coll) {
        *store = mail ? mail : coll;
        return APR_SUCCESS;
    }
    r = apr_pcalloc(p, sizeof *r);
    r->pub.ops = &router_ops;
    r->pub.pool = p;
    r->pub.log = log;
    r->pub.account = mail->account;
    r->pub.priv = r;
    r->mail = mail;
    r->coll = coll;
    *store = &r->pub;
    return APR_SUCCESS;
}
