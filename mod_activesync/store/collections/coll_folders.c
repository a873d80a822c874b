/* Reading the collections of a root (as_collections.h FOLDERS): one
 * folder per class a collection holds, the default folder of each class,
 * the default collections of an account that has none, the hierarchy and
 * folder tokens. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "coll_internal.h"

/* The directory and display names of the default collections. */
static const char *const default_dir[AS_CLASS_COUNT] = {NULL, "contacts", "calendar", "tasks",
                                                        "notes"};
static const char *const default_title[AS_CLASS_COUNT] = {NULL, "Contacts", "Calendar", "Tasks",
                                                          "Notes"};
static const unsigned class_comp[AS_CLASS_COUNT] = {0, 0, COLL_VEVENT, COLL_VTODO, COLL_VJOURNAL};

/* Reads of a root by this process (as_collections_root_reads). */
static unsigned long root_reads;

static int cmp_scanned(const void *a, const void *b)
{
    return strcmp(((const coll_scanned_t *)a)->dirname, ((const coll_scanned_t *)b)->dirname);
}

/* The ids of the folders the collection can be (a digest each: not made
 * again on every request). */
static void set_ids(coll_scanned_t *s)
{
    static const unsigned comp[] = {COLL_VEVENT, COLL_VTODO, COLL_VJOURNAL};
    size_t i;

    if (s->is_book) {
        coll_folder_id(s->dirname, 0, s->ids[0]);
        return;
    }
    for (i = 0; i < sizeof comp / sizeof comp[0]; i++) {
        if (s->comps & comp[i]) {
            coll_folder_id(s->dirname, comp[i], s->ids[comp[i]]);
        }
    }
}

/* The collections under the root, sorted by directory name; *seen (when
 * not NULL): what was seen of every directory, NULL when that could not
 * be told. */
static apr_status_t scan(coll_store_t *cs, apr_pool_t *p, apr_array_header_t **out,
                         apr_array_header_t **seen)
{
    DIR *d = opendir(cs->root);
    struct dirent *de;
    apr_array_header_t *arr = apr_array_make(p, 8, sizeof(coll_scanned_t));
    int dfd, warned = 0;

    *out = arr;
    if (seen) {
        *seen = apr_array_make(p, 8, sizeof(coll_seen_t));
    }
    if (!d) {
        apr_status_t rv = coll_errno_status();
        coll_log(cs, AS_LOG_ERR, rv, "cannot read %s", cs->root);
        return rv;
    }
    __atomic_add_fetch(&root_reads, 1, __ATOMIC_RELAXED);
    dfd = dirfd(d);
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        coll_scanned_t s;
        coll_drop_stale(cs, dfd, cs->root, de->d_name);
        if (!coll_entry_name_ok(de->d_name) ||
            fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR(sb.st_mode)) {
            continue;
        }
        if (arr->nelts >= COLL_MAX_COLLS) {
            if (!warned++) {
                coll_log(cs, AS_LOG_WARNING, 0,
                         "more than 256 collections in %s: the rest "
                         "are not shown",
                         cs->root);
            }
            break;
        }
        memset(&s, 0, sizeof s);
        s.dirname = apr_pstrdup(p, de->d_name);
        if (seen && *seen &&
            !coll_seen_stat(dfd, s.dirname, (coll_seen_t *)apr_array_push(*seen))) {
            *seen = NULL; /* before the read: a change during it is a change */
        }
        if (coll_props_read(cs, apr_pstrcat(p, cs->root, "/", s.dirname, NULL), p, &s.props) !=
                APR_SUCCESS ||
            !s.props.tag) {
            continue; /* not a collection (or a broken one, logged) */
        }
        if (!strcmp(s.props.tag, "VADDRESSBOOK")) {
            s.is_book = 1;
        } else if (!strcmp(s.props.tag, "VCALENDAR")) {
            s.comps = coll_components_parse(s.props.components);
        } else {
            continue;
        }
        set_ids(&s);
        *(coll_scanned_t *)apr_array_push(arr) = s;
    }
    closedir(d);
    if (warned && seen) {
        *seen = NULL; /* what was not read is not known */
    }
    qsort(arr->elts, (size_t)arr->nelts, sizeof(coll_scanned_t), cmp_scanned);
    return APR_SUCCESS;
}

/* The collections: the process's copy when still valid (not after a
 * change made by this handle, nor for a listing), else read and kept. */
static apr_status_t scan_kept(coll_store_t *cs, apr_pool_t *p, apr_array_header_t **out)
{
    apr_array_header_t *seen;
    struct stat rsb;
    int64_t listed_at;
    int have_stat;
    apr_status_t rv;

    if (!cs->fresh && coll_fcache_load(cs, p, out)) {
        cs->kept = 1;
        return APR_SUCCESS;
    }
    cs->fresh = cs->kept = 0;
    have_stat = stat(cs->root, &rsb) == 0;
    listed_at = coll_now_ns();
    rv = scan(cs, p, out, have_stat ? &seen : NULL);
    if (rv == APR_SUCCESS && have_stat && seen) {
        coll_fcache_store(cs, &rsb, listed_at, *out, seen);
    }
    return rv;
}

unsigned long as_collections_root_reads(void)
{
    return __atomic_load_n(&root_reads, __ATOMIC_RELAXED);
}

static int holds_class(const coll_scanned_t *s, int cls)
{
    return cls == AS_CLASS_CONTACTS ? s->is_book : !s->is_book && (s->comps & class_comp[cls]);
}

/* Index of the default collection of cls: the one of the default name,
 * else the first by name; -1 when none. */
static int default_of(const apr_array_header_t *arr, int cls)
{
    int i, first = -1;

    for (i = 0; i < arr->nelts; i++) {
        const coll_scanned_t *s = &APR_ARRAY_IDX(arr, i, coll_scanned_t);
        if (!holds_class(s, cls)) {
            continue;
        }
        if (!strcmp(s->dirname, default_dir[cls])) {
            return i;
        }
        if (first < 0) {
            first = i;
        }
    }
    return first;
}

static int cmp_folder(const void *a, const void *b)
{
    const coll_folder_t *x = *(coll_folder_t *const *)a, *y = *(coll_folder_t *const *)b;
    int c;

    if (x->is_default != y->is_default) {
        return y->is_default - x->is_default;
    }
    if (x->f.cls != y->f.cls) {
        return x->f.cls - y->f.cls;
    }
    c = strcmp(x->f.name, y->f.name);
    return c ? c : strcmp(x->dirname, y->dirname);
}

static void add_folder(coll_store_t *cs, const coll_scanned_t *s, int cls, int is_default)
{
    coll_folder_t *f = apr_pcalloc(cs->fpool, sizeof *f);
    const char *id = s->ids[class_comp[cls]];

    f->dirname = s->dirname;
    f->dir = apr_pstrcat(cs->fpool, cs->root, "/", s->dirname, NULL);
    f->comp = class_comp[cls];
    f->comps = s->comps;
    f->is_default = is_default;
    if (apr_hash_get(cs->by_id, id, APR_HASH_KEY_STRING)) {
        coll_log(cs, AS_LOG_ERR, 0, "folder id collision: collection %s not shown", s->dirname);
        return;
    }
    f->f.id = apr_pstrdup(cs->fpool, id);
    f->f.parent_id = "0";
    f->f.name = s->props.displayname ? s->props.displayname : s->dirname;
    f->f.path = f->dirname;
    f->f.cls = cls;
    f->f.type = is_default ? as_class_default_type(cls) : as_class_user_type(cls);
    APR_ARRAY_PUSH(cs->folders, coll_folder_t *) = f;
    apr_hash_set(cs->by_id, f->f.id, APR_HASH_KEY_STRING, f);
}

apr_status_t coll_load_folders(coll_store_t *cs)
{
    apr_array_header_t *arr;
    apr_status_t rv;
    int cls, i, defaults[AS_CLASS_COUNT];

    if (cs->by_id) {
        return APR_SUCCESS;
    }
    apr_pool_clear(cs->fpool);
    rv = scan_kept(cs, cs->fpool, &arr);
    if (rv == APR_SUCCESS && cs->create && !cs->defaults_checked) {
        unsigned missing = 0;
        cs->defaults_checked = 1;
        for (cls = AS_CLASS_CONTACTS; cls < AS_CLASS_COUNT; cls++) {
            if ((cs->classes & (1u << cls)) && default_of(arr, cls) < 0) {
                missing |= 1u << cls;
            }
        }
        if (missing) { /* made under the lock, then read again */
            rv = coll_ensure_defaults(cs, missing);
            apr_pool_clear(cs->fpool);
            cs->fresh = 1;
            rv = rv == APR_SUCCESS ? scan_kept(cs, cs->fpool, &arr) : rv;
        }
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    cs->folders = apr_array_make(cs->fpool, arr->nelts * 2 + 1, sizeof(coll_folder_t *));
    cs->by_id = apr_hash_make(cs->fpool);
    for (cls = AS_CLASS_CONTACTS; cls < AS_CLASS_COUNT; cls++) {
        defaults[cls] = default_of(arr, cls);
    }
    for (i = 0; i < arr->nelts; i++) {
        const coll_scanned_t *s = &APR_ARRAY_IDX(arr, i, coll_scanned_t);
        for (cls = AS_CLASS_CONTACTS; cls < AS_CLASS_COUNT; cls++) {
            if ((cs->classes & (1u << cls)) && holds_class(s, cls)) {
                add_folder(cs, s, cls, defaults[cls] == i);
            }
        }
    }
    qsort(cs->folders->elts, (size_t)cs->folders->nelts, sizeof(coll_folder_t *), cmp_folder);
    return APR_SUCCESS;
}

apr_status_t coll_find_folder(coll_store_t *cs, const char *id, coll_folder_t **f)
{
    apr_status_t rv;

    *f = NULL;
    if (!coll_folder_id_valid(id)) {
        return APR_ENOENT;
    }
    rv = coll_load_folders(cs);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *f = apr_hash_get(cs->by_id, id, APR_HASH_KEY_STRING);
    if (!*f && cs->kept) { /* an id the kept copy does not know: read the root */
        cs->by_id = NULL;
        cs->fresh = 1;
        rv = coll_load_folders(cs);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        *f = apr_hash_get(cs->by_id, id, APR_HASH_KEY_STRING);
    }
    return *f ? APR_SUCCESS : APR_ENOENT;
}

apr_status_t coll_make_collection(coll_store_t *cs, const char *dirname, const char *props,
                                  apr_pool_t *p)
{
    const char *tmp = apr_pstrcat(p, cs->root, "/" COLL_TMP_PREFIX, coll_random_name(p), NULL);
    const char *dst = apr_pstrcat(p, cs->root, "/", dirname, NULL);
    apr_status_t rv;
    struct stat sb;

    if (mkdir(tmp, 0775) != 0) {
        rv = coll_errno_status();
        coll_log(cs, AS_LOG_ERR, rv, "cannot create %s", tmp);
        return rv;
    }
    rv = coll_write_file(cs, tmp, ".Radicale.props", props, strlen(props), 1, p);
    if (rv == APR_SUCCESS && lstat(dst, &sb) == 0) {
        rv = APR_EEXIST; /* under the lock: nobody makes it meanwhile but a foreign program */
    }
    if (rv == APR_SUCCESS && rename(tmp, dst) != 0) {
        rv = errno == EEXIST || errno == ENOTEMPTY ? APR_EEXIST : coll_errno_status();
    }
    if (rv != APR_SUCCESS) {
        coll_remove_tree(tmp);
        return rv;
    }
    as_store_fsync_dir(cs->root);
    cs->by_id = NULL; /* reload next time, from the disk */
    cs->fresh = 1;
    return APR_SUCCESS;
}

static apr_status_t make_default(coll_store_t *cs, int cls, apr_pool_t *p)
{
    static const char *const comps[AS_CLASS_COUNT] = {NULL, NULL, "VEVENT", "VTODO", "VJOURNAL"};
    const char *props = coll_props_new(p, cls == AS_CLASS_CONTACTS ? "VADDRESSBOOK" : "VCALENDAR",
                                       default_title[cls], comps[cls]);
    apr_status_t rv = coll_make_collection(cs, default_dir[cls], props, p);

    if (rv == APR_EEXIST) { /* a directory of that name that is no such collection */
        rv = coll_make_collection(cs, coll_random_name(p), props, p);
    }
    if (rv == APR_SUCCESS) {
        coll_log(cs, AS_LOG_INFO, 0, "created the default %s collection in %s", as_class_name(cls),
                 cs->root);
    }
    return rv;
}

apr_status_t coll_ensure_defaults(coll_store_t *cs, unsigned classes)
{
    apr_pool_t *p;
    apr_array_header_t *arr;
    apr_status_t rv;
    int cls, lfd = -1, pass;

    apr_pool_create(&p, cs->pub.pool);
    /* a look without the lock first: the common case has them all */
    for (pass = 0; pass < 2; pass++) {
        unsigned missing = 0;
        rv = scan(cs, p, &arr, NULL);
        for (cls = AS_CLASS_CONTACTS; rv == APR_SUCCESS && cls < AS_CLASS_COUNT; cls++) {
            if ((classes & (1u << cls)) && default_of(arr, cls) < 0) {
                missing |= 1u << cls;
            }
        }
        if (rv != APR_SUCCESS || !missing) {
            break;
        }
        if (pass == 0) {
            lfd = coll_lock(cs, &rv);
            if (lfd < 0) {
                break;
            }
            continue;
        }
        for (cls = AS_CLASS_CONTACTS; rv == APR_SUCCESS && cls < AS_CLASS_COUNT; cls++) {
            if (missing & (1u << cls)) {
                rv = make_default(cs, cls, p);
            }
        }
    }
    coll_unlock(cs, lfd);
    apr_pool_destroy(p);
    return rv;
}

apr_status_t coll_list_folders(as_store_t *st, apr_pool_t *p, apr_array_header_t **out,
                               const char **hier_token)
{
    coll_store_t *cs = st->priv;
    apr_status_t rv;
    int i;

    *out = NULL;
    if (hier_token) {
        /* before the read: a change during it shows as a change next time */
        rv = coll_hierarchy_token(st, p, hier_token);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    cs->by_id = NULL; /* a listing always reads the disk */
    cs->fresh = 1;
    rv = coll_load_folders(cs);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *out = apr_array_make(p, cs->folders->nelts + 1, sizeof(as_store_folder_t));
    for (i = 0; i < cs->folders->nelts; i++) {
        const coll_folder_t *f = APR_ARRAY_IDX(cs->folders, i, coll_folder_t *);
        as_store_folder_t *o = apr_array_push(*out);
        *o = f->f;
        o->id = apr_pstrdup(p, f->f.id);
        o->name = apr_pstrdup(p, f->f.name);
        o->path = apr_pstrdup(p, f->f.path);
    }
    return APR_SUCCESS;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A digest of the root's stat and of every collection's props file (a
 * rename rewrites the props, not the root): O(collections) stats, no read. */
apr_status_t coll_hierarchy_token(as_store_t *st, apr_pool_t *p, const char **token)
{
    coll_store_t *cs = st->priv;
    DIR *d;
    struct dirent *de;
    struct stat rsb;
    apr_array_header_t *lines = apr_array_make(p, 16, sizeof(const char *));
    int64_t newest, now = coll_now_ns();
    char hex[COLL_ETAG_LEN + 1];
    const char *all;
    int dfd;

    *token = NULL;
    if (stat(cs->root, &rsb) != 0 || !(d = opendir(cs->root))) {
        return coll_errno_status();
    }
    newest = coll_ts_ns(&rsb.st_mtim);
    dfd = dirfd(d);
    while ((de = readdir(d)) != NULL && lines->nelts <= COLL_MAX_COLLS * 4) {
        struct stat sb;
        char rel[512];
        if (!coll_entry_name_ok(de->d_name) ||
            snprintf(rel, sizeof rel, "%s/.Radicale.props", de->d_name) >= (int)sizeof rel ||
            fstatat(dfd, rel, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        if (coll_ts_ns(&sb.st_mtim) > newest) {
            newest = coll_ts_ns(&sb.st_mtim);
        }
        APR_ARRAY_PUSH(lines, const char *) = apr_psprintf(
            p, "%s %" APR_UINT64_T_HEX_FMT " %" APR_INT64_T_FMT " %" APR_OFF_T_FMT, de->d_name,
            (apr_uint64_t)sb.st_ino, (apr_int64_t)coll_ts_ns(&sb.st_mtim), (apr_off_t)sb.st_size);
    }
    closedir(d);
    qsort(lines->elts, (size_t)lines->nelts, sizeof(const char *), cmp_str);
    APR_ARRAY_PUSH(lines, const char *) =
        apr_psprintf(p, "%" APR_UINT64_T_HEX_FMT " %" APR_INT64_T_FMT " %x",
                     (apr_uint64_t)rsb.st_ino, (apr_int64_t)coll_ts_ns(&rsb.st_mtim), cs->classes);
    all = apr_array_pstrcat(p, lines, '\n');
    coll_sha256_hex(all, strlen(all), hex);
    *token = apr_psprintf(p, "v%.24s%s", hex, newest > now - COLL_SETTLE_NS ? "!" : "");
    return APR_SUCCESS;
}

apr_status_t coll_get_folder(as_store_t *st, const char *id, apr_pool_t *p,
                             const as_store_folder_t **out)
{
    coll_folder_t *f;
    apr_status_t rv = coll_find_folder(st->priv, id, &f);

    *out = rv == APR_SUCCESS ? &f->f : NULL;
    return rv;
}

apr_status_t coll_folder_token(as_store_t *st, const char *id, apr_pool_t *p, const char **token)
{
    coll_folder_t *f;
    struct stat sb;
    apr_status_t rv = coll_find_folder(st->priv, id, &f);

    *token = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (stat(f->dir, &sb) != 0) {
        return errno == ENOENT ? APR_ENOENT : coll_errno_status();
    }
    *token = coll_dir_token(p, &sb);
    return APR_SUCCESS;
}

apr_status_t coll_watch_paths(as_store_t *st, const char *id, apr_pool_t *p,
                              apr_array_header_t **paths)
{
    coll_folder_t *f;
    apr_status_t rv = coll_find_folder(st->priv, id, &f);

    *paths = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *paths = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(*paths, const char *) = apr_pstrdup(p, f->dir);
    return APR_SUCCESS;
}
