/* A collection's items: listing (O(folder), ETags cached per file state
 * within the handle), resolving an item id to its file, stat and open. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <apr_portable.h>
#include <apr_strings.h>

#include "coll_internal.h"

/* The first line that begins with what (case-insensitive), or NULL. */
static const char *line_starting(const char *data, apr_size_t len, const char *what)
{
    size_t wl = strlen(what);
    const char *c = data, *end = data + len;

    while (c && (apr_size_t)(end - c) >= wl) {
        if (!strncasecmp(c, what, wl)) {
            return c;
        }
        c = memchr(c, '\n', (size_t)(end - c));
        c = c ? c + 1 : NULL;
    }
    return NULL;
}

/* The component of an iCalendar object: the first VEVENT, VTODO or
 * VJOURNAL (time zones and other components do not count). */
static unsigned ics_component(const char *data, apr_size_t len)
{
    const char *c = data, *end = data + len;

    while ((c = line_starting(c, (apr_size_t)(end - c), "BEGIN:V")) != NULL) {
        if (end - c >= 12 && !strncasecmp(c, "BEGIN:VEVENT", 12)) {
            return COLL_VEVENT;
        }
        if (end - c >= 11 && !strncasecmp(c, "BEGIN:VTODO", 11)) {
            return COLL_VTODO;
        }
        if (end - c >= 14 && !strncasecmp(c, "BEGIN:VJOURNAL", 14)) {
            return COLL_VJOURNAL;
        }
        c += 7;
    }
    return 0;
}

static void facts_of(coll_store_t *cs, const coll_folder_t *f, const char *name, const char *data,
                     apr_size_t len, coll_file_t *e)
{
    coll_sha256_hex(data, len, e->etag);
    if (f->comp == 0) {
        e->usable = line_starting(data, len, "BEGIN:VCARD") != NULL;
    } else {
        e->comp = ics_component(data, len);
        e->usable = line_starting(data, len, "BEGIN:VCALENDAR") && e->comp != 0;
    }
    if (!e->usable) {
        coll_log(cs, AS_LOG_WARNING, APR_EINVAL,
                 "%s/%s is not a vCard or iCalendar item of its "
                 "collection: skipped",
                 f->dir, name);
    }
}

const coll_file_t *coll_file_facts(coll_store_t *cs, const coll_folder_t *f, const char *name,
                                   const struct stat *sb, const char *data, apr_size_t len)
{
    char key[600];
    coll_file_t *e;
    struct stat rsb;
    apr_pool_t *tmp = NULL;

    apr_snprintf(key, sizeof key, "%s/%s", f->dirname, name);
    e = apr_hash_get(cs->files, key, APR_HASH_KEY_STRING);

    if (!data && e && e->size == sb->st_size && e->mtime_ns == coll_ts_ns(&sb->st_mtim) &&
        e->ino == (uint64_t)sb->st_ino) {
        return e;
    }
    if (apr_hash_count(cs->files) >= COLL_ETAG_CACHE_MAX) {
        apr_pool_clear(cs->epool);
        cs->files = apr_hash_make(cs->epool);
    }
    e = apr_pcalloc(cs->epool, sizeof *e);
    rsb = *sb;
    if (!data) {
        char *buf;
        apr_status_t rv;
        apr_pool_create(&tmp, cs->pub.pool);
        rv = coll_read_file(apr_pstrcat(tmp, f->dir, "/", name, NULL), COLL_MAX_ITEM_BYTES, tmp,
                            &buf, &len, &rsb);
        if (rv != APR_SUCCESS) {
            if (rv == APR_FROM_OS_ERROR(E2BIG)) {
                coll_log(cs, AS_LOG_WARNING, rv, "%s/%s is larger than 4 MB: skipped", f->dir,
                         name);
            }
            apr_pool_destroy(tmp);
            return NULL; /* gone meanwhile, or not an item: not cached */
        }
        data = buf;
    }
    facts_of(cs, f, name, data, len, e);
    e->size = rsb.st_size;
    e->mtime_ns = coll_ts_ns(&rsb.st_mtim);
    e->ino = (uint64_t)rsb.st_ino;
    if (tmp) {
        apr_pool_destroy(tmp);
    }
    apr_hash_set(cs->files, apr_pstrdup(cs->epool, key), APR_HASH_KEY_STRING, e);
    return e;
}

int coll_data_fits(const coll_folder_t *f, const char *data, apr_size_t len)
{
    if (f->comp == 0) {
        return line_starting(data, len, "BEGIN:VCARD") != NULL;
    }
    return line_starting(data, len, "BEGIN:VCALENDAR") && ics_component(data, len) == f->comp;
}

int coll_item_shown(const coll_folder_t *f, const coll_file_t *facts)
{
    return facts && facts->usable && (f->comp == 0 || facts->comp == f->comp);
}

/* The id -> name map is rebuilt by every read of a folder (its memory
 * too: a handle that lists a folder again and again does not grow). */
static void names_reset(coll_store_t *cs, const coll_folder_t *f)
{
    apr_pool_clear(cs->npool);
    cs->names_dir = apr_pstrdup(cs->npool, f->dir);
    cs->names = apr_hash_make(cs->npool);
}

static void remember_name(coll_store_t *cs, const char *id, const char *name)
{
    apr_hash_set(cs->names, apr_pstrdup(cs->npool, id), APR_HASH_KEY_STRING,
                 apr_pstrdup(cs->npool, name));
}

typedef void entry_fn(coll_store_t *cs, const coll_folder_t *f, const char *name,
                      const struct stat *sb, const char *id, void *baton);

/* Every item file of the collection (regular, not a dot-file, no symlink),
 * at most COLL_MAX_ITEMS. */
static apr_status_t each_file(coll_store_t *cs, const coll_folder_t *f, entry_fn *fn, void *baton)
{
    DIR *d = opendir(f->dir);
    struct dirent *de;
    int dfd, n = 0;

    if (!d) {
        return errno == ENOENT ? APR_ENOENT : coll_errno_status();
    }
    names_reset(cs, f);
    dfd = dirfd(d);
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        char id[COLL_ITEM_ID_LEN + 1];
        coll_drop_stale(cs, dfd, f->dir, de->d_name);
        if (!coll_entry_name_ok(de->d_name) ||
            fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG(sb.st_mode)) {
            continue;
        }
        if (++n > COLL_MAX_ITEMS) {
            coll_log(cs, AS_LOG_WARNING, 0,
                     "more than 100000 items in %s: the rest are not "
                     "shown",
                     f->dir);
            break;
        }
        coll_item_id(de->d_name, id);
        remember_name(cs, id, de->d_name);
        fn(cs, f, de->d_name, &sb, id, baton);
    }
    closedir(d);
    return APR_SUCCESS;
}

static void no_op(coll_store_t *cs, const coll_folder_t *f, const char *name, const struct stat *sb,
                  const char *id, void *baton)
{
}

apr_status_t coll_resolve(coll_store_t *cs, const coll_folder_t *f, const char *item_id,
                          const char **name)
{
    const char *n;
    struct stat sb;
    char path[4096];
    apr_status_t rv;

    *name = NULL;
    if (!coll_item_id_valid(item_id)) {
        return APR_ENOENT;
    }
    /* the id is a digest of the name: a remembered name that still exists
     * is the item, whatever happened to the folder since */
    if (cs->names_dir && !strcmp(cs->names_dir, f->dir) &&
        (n = apr_hash_get(cs->names, item_id, APR_HASH_KEY_STRING)) != NULL &&
        apr_snprintf(path, sizeof path, "%s/%s", f->dir, n) < (int)sizeof path &&
        lstat(path, &sb) == 0 && S_ISREG(sb.st_mode)) {
        *name = n;
        return APR_SUCCESS;
    }
    rv = each_file(cs, f, no_op, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    n = cs->names ? apr_hash_get(cs->names, item_id, APR_HASH_KEY_STRING) : NULL;
    *name = n;
    return n ? APR_SUCCESS : APR_ENOENT;
}

static void fill_item(apr_pool_t *p, const char *id, const char *name, const struct stat *sb,
                      const coll_file_t *e, as_store_item_t *it)
{
    memset(it, 0, sizeof *it);
    it->id = apr_pstrdup(p, id);
    it->size = sb->st_size;
    it->date = apr_time_from_sec(sb->st_mtim.tv_sec) + sb->st_mtim.tv_nsec / 1000;
    it->name = apr_pstrdup(p, name);
    it->etag = apr_pstrdup(p, e->etag);
}

typedef struct list_baton_t {
    apr_pool_t *p;
    apr_array_header_t *items;
} list_baton_t;

static void list_one(coll_store_t *cs, const coll_folder_t *f, const char *name,
                     const struct stat *sb, const char *id, void *baton)
{
    list_baton_t *b = baton;
    const coll_file_t *e = coll_file_facts(cs, f, name, sb, NULL, 0);

    if (coll_item_shown(f, e)) {
        fill_item(b->p, id, name, sb, e, apr_array_push(b->items));
    }
}

static int cmp_item(const void *a, const void *b)
{
    const as_store_item_t *x = a, *y = b;

    if (x->date != y->date) {
        return x->date > y->date ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

apr_status_t coll_list_items(as_store_t *st, const char *folder_id, apr_pool_t *p,
                             apr_array_header_t **items, const char **token)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    struct stat sb;
    list_baton_t b;
    apr_status_t rv = coll_find_folder(cs, folder_id, &f);

    *items = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (stat(f->dir, &sb) != 0) {
        return errno == ENOENT ? APR_ENOENT : coll_errno_status();
    }
    if (token) {
        *token = coll_dir_token(p, &sb); /* before the read */
    }
    b.p = p;
    b.items = apr_array_make(p, 64, sizeof(as_store_item_t));
    rv = each_file(cs, f, list_one, &b);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    qsort(b.items->elts, (size_t)b.items->nelts, sizeof(as_store_item_t), cmp_item);
    *items = b.items;
    return APR_SUCCESS;
}

apr_status_t coll_stat_item(as_store_t *st, const char *folder_id, const char *item_id,
                            apr_pool_t *p, as_store_item_t *item)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    const char *name;
    const coll_file_t *e;
    struct stat sb;
    apr_status_t rv = coll_find_folder(cs, folder_id, &f);

    if (rv == APR_SUCCESS) {
        rv = coll_resolve(cs, f, item_id, &name);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (lstat(apr_pstrcat(p, f->dir, "/", name, NULL), &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return APR_ENOENT;
    }
    e = coll_file_facts(cs, f, name, &sb, NULL, 0);
    if (!coll_item_shown(f, e)) {
        return APR_ENOENT;
    }
    fill_item(p, item_id, name, &sb, e, item);
    return APR_SUCCESS;
}

static apr_status_t close_fd(void *data)
{
    close((int)(intptr_t)data);
    return APR_SUCCESS;
}

/* Open the named file, check it is an item of the folder and give it with
 * the ETag of the bytes read from that very file. */
static apr_status_t open_named(coll_store_t *cs, const coll_folder_t *f, const char *name,
                               const char *item_id, apr_pool_t *p, as_store_msg_t **msg)
{
    int fd = open(apr_pstrcat(p, f->dir, "/", name, NULL), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    struct stat sb;
    const coll_file_t *e;
    apr_os_file_t ofd = fd;
    as_store_msg_t *m;
    char *buf;
    ssize_t got = 0, n;

    if (fd < 0) {
        return errno == ENOENT || errno == ELOOP ? APR_ENOENT : coll_errno_status();
    }
    apr_pool_cleanup_register(p, (void *)(intptr_t)fd, close_fd, apr_pool_cleanup_null);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return APR_ENOENT;
    }
    if (sb.st_size > COLL_MAX_ITEM_BYTES) {
        coll_log(cs, AS_LOG_WARNING, APR_FROM_OS_ERROR(E2BIG), "%s/%s is larger than 4 MB: skipped",
                 f->dir, name);
        return APR_ENOENT;
    }
    buf = apr_palloc(p, (apr_size_t)sb.st_size + 1);
    while (got < sb.st_size && ((n = read(fd, buf + got, (size_t)(sb.st_size - got))) > 0 ||
                                (n < 0 && errno == EINTR))) {
        got += n > 0 ? n : 0;
    }
    e = coll_file_facts(cs, f, name, &sb, buf, (apr_size_t)got);
    if (!coll_item_shown(f, e) || lseek(fd, 0, SEEK_SET) != 0) {
        return APR_ENOENT;
    }
    m = apr_pcalloc(p, sizeof *m);
    fill_item(p, item_id, name, &sb, e, &m->item);
    m->item.size = got;
    apr_os_file_put(&m->file, &ofd, APR_READ, p);
    *msg = m;
    return APR_SUCCESS;
}

apr_status_t coll_open_item(as_store_t *st, const char *folder_id, const char *item_id,
                            apr_pool_t *p, as_store_msg_t **msg)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    const char *name;
    apr_status_t rv = coll_find_folder(cs, folder_id, &f);

    *msg = NULL;
    if (rv == APR_SUCCESS) {
        rv = coll_resolve(cs, f, item_id, &name);
    }
    if (rv == APR_SUCCESS) {
        rv = open_named(cs, f, name, item_id, p, msg);
    }
    return rv;
}

apr_status_t coll_open_item_at(as_store_t *st, const char *folder_id, const char *item_id,
                               const char *name, apr_pool_t *p, as_store_msg_t **msg)
{
    coll_store_t *cs = st->priv;
    coll_folder_t *f;
    char id[COLL_ITEM_ID_LEN + 1];
    apr_status_t rv = coll_find_folder(cs, folder_id, &f);

    *msg = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (name && coll_entry_name_ok(name) && coll_item_id_valid(item_id)) {
        coll_item_id(name, id);
        if (!strcmp(id, item_id) && open_named(cs, f, name, item_id, p, msg) == APR_SUCCESS) {
            return APR_SUCCESS;
        }
    }
    return coll_open_item(st, folder_id, item_id, p, msg);
}
