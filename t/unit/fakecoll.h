/* A small in-memory collection store for the Sync engine tests: one
 * address book (folder "v1", type 9, Contacts) behind the store contract
 * (as_store.h), with items as text "FN:<name>\n" plus any other lines, an
 * ETag that changes with every write, a folder token that moves with every
 * change, and a codec (fc_codec) that maps FN to Contacts:FileAs and keeps
 * the other lines on a Change (as a real codec keeps what EAS cannot
 * carry).  Writes by "another program" are fc_put/fc_remove.  With
 * calendar set, the folder is a calendar (type 8) instead, whose items
 * the real calendar codec reads (as_item_codec). */
#ifndef AS_FAKECOLL_H
#define AS_FAKECOLL_H

#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>
#include <apr_file_io.h>

#include "activesync/as_item_codec.h"
#include "activesync/as_store.h"
#include "activesync/as_xml.h"
#include "unit.h"

#define FC_FOLDER   "v1"
#define FC_MAXITEMS 600

typedef struct fc_item_t {
    char id[AS_STORE_ITEM_ID_MAX + 1];
    char etag[24];
    char *data; /* malloc'd */
    apr_time_t date;
    int live;
} fc_item_t;

typedef struct fc_store_t {
    as_store_t st;
    fc_item_t items[FC_MAXITEMS];
    int n;              /* slots used */
    unsigned gen;       /* folder token */
    unsigned etags;     /* ETag counter */
    unsigned ids;       /* id counter */
    char tmpdir[256];   /* where open_item writes the file it hands out */
    int replace_race;   /* next replace_item sees a concurrent write first */
    int adds, replaces; /* calls that wrote */
    int calendar;       /* the folder is a calendar */
} fc_store_t;

static fc_store_t *fc_of(as_store_t *st)
{
    return (fc_store_t *)st->priv;
}

static fc_item_t *fc_find(fc_store_t *f, const char *id)
{
    int i;
    for (i = 0; i < f->n; i++) {
        if (f->items[i].live && !strcmp(f->items[i].id, id)) {
            return &f->items[i];
        }
    }
    return NULL;
}

static void fc_touch(fc_store_t *f, fc_item_t *it)
{
    snprintf(it->etag, sizeof(it->etag), "\"e%u\"", ++f->etags);
    f->gen++;
}

/* Another program writes item id (a new one when it does not exist). */
static __attribute__((unused)) fc_item_t *fc_put(fc_store_t *f, const char *id, const char *data)
{
    fc_item_t *it = fc_find(f, id);
    if (!it) {
        ck_assert_int_lt(f->n, FC_MAXITEMS);
        it = &f->items[f->n++];
        memset(it, 0, sizeof(*it));
        apr_cpystrn(it->id, id, sizeof(it->id));
        it->live = 1;
        it->date = apr_time_now() - apr_time_from_sec(3600 - f->n);
    }
    free(it->data);
    it->data = strdup(data);
    fc_touch(f, it);
    return it;
}

static __attribute__((unused)) void fc_remove(fc_store_t *f, const char *id)
{
    fc_item_t *it = fc_find(f, id);
    ck_assert_ptr_nonnull(it);
    it->live = 0;
    free(it->data);
    it->data = NULL;
    f->gen++;
}

static __attribute__((unused)) int fc_count(fc_store_t *f)
{
    int i, n = 0;
    for (i = 0; i < f->n; i++) {
        n += f->items[i].live;
    }
    return n;
}

static const as_store_folder_t fc_folder = {
    FC_FOLDER, "0", "Contacts", "contacts", AS_FOLDER_CONTACTS, AS_CLASS_CONTACTS};
static const as_store_folder_t fc_folder_cal = {
    FC_FOLDER, "0", "Calendar", "calendar", AS_FOLDER_CALENDAR, AS_CLASS_CALENDAR};

static apr_status_t fc_list_folders(as_store_t *st, apr_pool_t *p, apr_array_header_t **folders,
                                    const char **hier_token)
{
    (void)st;
    *folders = apr_array_make(p, 1, sizeof(as_store_folder_t));
    *(as_store_folder_t *)apr_array_push(*folders) =
        fc_of(st)->calendar ? fc_folder_cal : fc_folder;
    if (hier_token) {
        *hier_token = "h1";
    }
    return APR_SUCCESS;
}

static apr_status_t fc_hier_token(as_store_t *st, apr_pool_t *p, const char **token)
{
    (void)st;
    (void)p;
    *token = "h1";
    return APR_SUCCESS;
}

static apr_status_t fc_get_folder(as_store_t *st, const char *id, apr_pool_t *p,
                                  const as_store_folder_t **folder)
{
    (void)p;
    if (strcmp(id, FC_FOLDER)) {
        return APR_ENOENT;
    }
    *folder = fc_of(st)->calendar ? &fc_folder_cal : &fc_folder;
    return APR_SUCCESS;
}

static apr_status_t fc_folder_token(as_store_t *st, const char *id, apr_pool_t *p,
                                    const char **token)
{
    if (strcmp(id, FC_FOLDER)) {
        return APR_ENOENT;
    }
    *token = apr_psprintf(p, "t%u", fc_of(st)->gen);
    return APR_SUCCESS;
}

static apr_status_t fc_watch_paths(as_store_t *st, const char *id, apr_pool_t *p,
                                   apr_array_header_t **paths)
{
    (void)st;
    (void)id;
    *paths = apr_array_make(p, 1, sizeof(const char *));
    return APR_SUCCESS;
}

static void fc_item_of(apr_pool_t *p, const fc_item_t *it, as_store_item_t *out)
{
    memset(out, 0, sizeof(*out));
    out->id = apr_pstrdup(p, it->id);
    out->size = (apr_off_t)strlen(it->data);
    out->date = it->date;
    out->name = apr_pstrcat(p, it->id, ".vcf", NULL);
    out->etag = apr_pstrdup(p, it->etag);
}

static int fc_newest_first(const void *a, const void *b)
{
    const as_store_item_t *x = a, *y = b;
    if (x->date != y->date) {
        return x->date > y->date ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

static apr_status_t fc_list_items(as_store_t *st, const char *id, apr_pool_t *p,
                                  apr_array_header_t **items, const char **token)
{
    fc_store_t *f = fc_of(st);
    int i;
    if (strcmp(id, FC_FOLDER)) {
        return APR_ENOENT;
    }
    if (token) {
        *token = apr_psprintf(p, "t%u", f->gen);
    }
    *items = apr_array_make(p, f->n + 1, sizeof(as_store_item_t));
    for (i = 0; i < f->n; i++) {
        if (f->items[i].live) {
            fc_item_of(p, &f->items[i], apr_array_push(*items));
        }
    }
    qsort((*items)->elts, (size_t)(*items)->nelts, sizeof(as_store_item_t), fc_newest_first);
    return APR_SUCCESS;
}

static apr_status_t fc_stat_item(as_store_t *st, const char *folder, const char *id, apr_pool_t *p,
                                 as_store_item_t *item)
{
    fc_item_t *it = strcmp(folder, FC_FOLDER) ? NULL : fc_find(fc_of(st), id);
    if (!it) {
        return APR_ENOENT;
    }
    fc_item_of(p, it, item);
    return APR_SUCCESS;
}

static apr_status_t fc_open_item(as_store_t *st, const char *folder, const char *id, apr_pool_t *p,
                                 as_store_msg_t **msg)
{
    fc_store_t *f = fc_of(st);
    fc_item_t *it = strcmp(folder, FC_FOLDER) ? NULL : fc_find(f, id);
    char *path;
    apr_size_t len;
    apr_off_t zero = 0;
    if (!it) {
        return APR_ENOENT;
    }
    *msg = apr_pcalloc(p, sizeof(**msg));
    fc_item_of(p, it, &(*msg)->item);
    path = apr_pstrcat(p, f->tmpdir, "/itemXXXXXX", NULL);
    ck_assert_int_eq(apr_file_mktemp(&(*msg)->file, path, 0, p), APR_SUCCESS);
    len = strlen(it->data);
    ck_assert_int_eq(apr_file_write_full((*msg)->file, it->data, len, NULL), APR_SUCCESS);
    apr_file_seek((*msg)->file, APR_SET, &zero);
    unlink(path);
    return APR_SUCCESS;
}

static apr_status_t fc_delete_item(as_store_t *st, const char *folder, const char *id, int to_trash)
{
    fc_store_t *f = fc_of(st);
    ck_assert_int_eq(to_trash, 0); /* contacts have no Deleted Items */
    if (strcmp(folder, FC_FOLDER) || !fc_find(f, id)) {
        return APR_ENOENT;
    }
    fc_remove(f, id);
    return APR_SUCCESS;
}

static apr_status_t fc_add_item(as_store_t *st, const char *folder, const char *hint,
                                const void *data, apr_size_t len, apr_pool_t *p,
                                const char **item_id, const char **etag)
{
    fc_store_t *f = fc_of(st);
    char id[AS_STORE_ITEM_ID_MAX + 1];
    fc_item_t *it;
    (void)hint;
    if (strcmp(folder, FC_FOLDER)) {
        return APR_ENOENT;
    }
    snprintf(id, sizeof(id), "n%u", ++f->ids);
    it = fc_put(f, id, apr_pstrmemdup(p, data, len));
    f->adds++;
    if (item_id) {
        *item_id = apr_pstrdup(p, it->id);
    }
    if (etag) {
        *etag = apr_pstrdup(p, it->etag);
    }
    return APR_SUCCESS;
}

static apr_status_t fc_replace_item(as_store_t *st, const char *folder, const char *id,
                                    const char *if_etag, const void *data, apr_size_t len,
                                    apr_pool_t *p, const char **etag)
{
    fc_store_t *f = fc_of(st);
    fc_item_t *it = strcmp(folder, FC_FOLDER) ? NULL : fc_find(f, id);
    if (!it) {
        return APR_ENOENT;
    }
    if (f->replace_race) {
        /* another program writes between the engine's read and its write */
        f->replace_race = 0;
        fc_touch(f, it);
    }
    if (if_etag && strcmp(if_etag, it->etag)) {
        return AS_STORE_ECONFLICT;
    }
    fc_put(f, id, apr_pstrmemdup(p, data, len));
    f->replaces++;
    if (etag) {
        *etag = apr_pstrdup(p, it->etag);
    }
    return APR_SUCCESS;
}

static const as_store_ops_t fc_ops = {
    .name = "fake-collections",
    .list_folders = fc_list_folders,
    .hierarchy_token = fc_hier_token,
    .get_folder = fc_get_folder,
    .folder_token = fc_folder_token,
    .watch_paths = fc_watch_paths,
    .list_items = fc_list_items,
    .stat_item = fc_stat_item,
    .open_item = fc_open_item,
    .delete_item = fc_delete_item,
    .add_item = fc_add_item,
    .replace_item = fc_replace_item,
};

static __attribute__((unused)) fc_store_t *fc_open(const char *tmpdir, const char *account)
{
    fc_store_t *f = apr_pcalloc(unit_pool, sizeof(*f));
    f->st.ops = &fc_ops;
    f->st.pool = unit_pool;
    f->st.account = account;
    f->st.priv = f;
    apr_cpystrn(f->tmpdir, tmpdir, sizeof(f->tmpdir));
    return f;
}

static __attribute__((unused)) void fc_close(fc_store_t *f)
{
    int i;
    for (i = 0; i < f->n; i++) {
        free(f->items[i].data);
    }
}

/* ---- the codec: FN <-> Contacts:FileAs, other lines kept ---- */

static apr_status_t fc_to_eas(const char *data, apr_size_t len, const as_item_opts_t *o,
                              xmlNodePtr appdata, apr_pool_t *p)
{
    const char *fn = strncmp(data, "FN:", 3) ? NULL : data + 3;
    const char *end = fn ? strchr(fn, '\n') : NULL;
    (void)len;
    (void)o;
    if (!fn || !end) {
        return APR_EINVAL; /* not an item of this class */
    }
    as_xml_add(appdata, "Contacts:", "FileAs", apr_pstrmemdup(p, fn, (apr_size_t)(end - fn)));
    return APR_SUCCESS;
}

static apr_status_t fc_from_eas(xmlNodePtr appdata, int protocol, const char *old,
                                apr_size_t oldlen, const char *uid, apr_pool_t *p, char **out,
                                apr_size_t *outlen)
{
    xmlNodePtr fa = as_xml_child(appdata, "Contacts:", "FileAs");
    const char *name = fa ? as_xml_text(p, fa, NULL) : NULL;
    const char *rest = "";
    (void)protocol;
    (void)oldlen;
    (void)uid;
    if (!name || strchr(name, '\n')) {
        return APR_EINVAL;
    }
    if (old && strchr(old, '\n')) {
        rest = strchr(old, '\n') + 1; /* what EAS does not carry */
    }
    *out = apr_pstrcat(p, "FN:", name, "\n", rest, NULL);
    *outlen = strlen(*out);
    return APR_SUCCESS;
}

static const as_item_codec_t fc_codec_contacts = {AS_CLASS_CONTACTS, fc_to_eas, fc_from_eas, NULL};

static __attribute__((unused)) const as_item_codec_t *fc_codec(int cls)
{
    return cls == AS_CLASS_CONTACTS ? &fc_codec_contacts : NULL;
}

#endif
