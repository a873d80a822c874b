/* Maildir backend: reading a folder's messages (as_maildir.h LISTING), the
 * id -> file cache, and finding an item's current file. */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "md_internal.h"

/* ---------------------------------------------------------------------------
 * Messages
 */

static apr_time_t date_from_name(const char *name)
{
    return apr_time_from_sec(strtol(name, NULL, 10));
}

static apr_off_t size_from_name(const char *name, size_t blen)
{
    const char *s = name;
    while ((s = strstr(s, ",S=")) != NULL && (size_t)(s - name) < blen) {
        return (apr_off_t)strtoll(s + 3, NULL, 10);
    }
    return 0;
}

/* gen (the read's number) is kept in an unsigned char. */
_Static_assert(SCAN_ATTEMPTS <= UCHAR_MAX, "SCAN_ATTEMPTS must fit md_entry_t.gen");

/* Read one of new/ cur/ into arr.  *dirty is set when a file vanished
 * between readdir() and fstatat(). */
static apr_status_t read_sub(const md_folder_t *f, const char *sub, int in_cur, int want_stat,
                             unsigned gen, apr_pool_t *p, apr_array_header_t *arr, int *dirty)
{
    const char *path = apr_pstrcat(p, f->dir, "/", sub, NULL);
    char fwd = md_keyword_letter(f->dir, MD_KW_FORWARDED, p);
    DIR *d = opendir(path);
    struct dirent *de;

    if (!d) {
        if (errno == ENOENT && !in_cur) {
            return APR_SUCCESS;
        }
        return errno == ENOENT ? APR_ENOENT : md_errno_status();
    }
    while ((de = readdir(d)) != NULL) {
        md_entry_t *e;
        size_t bl;

        if (de->d_name[0] == '.' || !strncmp(de->d_name, "dovecot", 7)) {
            continue;
        }
        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK) {
            continue;
        }
        bl = md_base_len(de->d_name);
        if (bl == 0 || bl > NAME_MAX) { /* NAME_MAX: blen is an unsigned */
            continue;
        }
        e = apr_array_push(arr);
        e->name = apr_pstrdup(p, de->d_name);
        e->blen = (unsigned)bl;
        e->in_cur = (unsigned char)in_cur;
        e->gen = (unsigned char)gen;
        e->flags = md_flags_with(e->name, fwd);
        md_item_id_salted(e->name, bl, 0, e->id);
        e->stat_ok = 0;
        e->size = 0;
        e->date = 0;
        if (want_stat) {
            struct stat sb;
            if (fstatat(dirfd(d), de->d_name, &sb, 0) == 0) {
                if (!S_ISREG(sb.st_mode)) {
                    arr->nelts--;
                    continue;
                }
                e->stat_ok = 1;
                e->size = (apr_off_t)sb.st_size;
                e->date =
                    (apr_time_t)sb.st_mtim.tv_sec * APR_USEC_PER_SEC + sb.st_mtim.tv_nsec / 1000;
            } else {
                *dirty = 1;
                e->size = size_from_name(e->name, bl);
                e->date = date_from_name(e->name);
            }
        }
    }
    closedir(d);
    return APR_SUCCESS;
}

static int same_dir_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && md_ts_ns(&a->st_mtim) == md_ts_ns(&b->st_mtim) &&
           md_ts_ns(&a->st_ctim) == md_ts_ns(&b->st_ctim);
}

/* Read a folder: entries (deduplicated, collision-free ids) in pool p and
 * the token taken before the read.
 *
 * readdir() is not a snapshot: a file renamed while the directory is read
 * (Dovecot changing flags, new/ -> cur/) can be missed under both names.
 * So when new/ or cur/ changed during a read (or changed so recently that
 * a change in the same clock tick could hide), the folder is read again
 * and the reads are UNITED, the latest read giving each message's name and
 * flags, until one read is quiet (at most SCAN_ATTEMPTS).  A message can
 * therefore not be lost, at worst a message removed meanwhile is listed
 * once more (the next listing drops it; open_item says ENOENT). */
static apr_status_t md_scan(md_store_t *md, const md_folder_t *f, int want_stat, apr_pool_t *p,
                            apr_array_header_t **out, const char **token)
{
    apr_array_header_t *arr = apr_array_make(p, 256, sizeof(md_entry_t));
    const char *tok = NULL;
    unsigned attempt;
    apr_status_t rv;

    for (attempt = 0;; attempt++) {
        struct stat sn0, sc0, sn1, sc1;
        int dirty = 0, quiet;
        int64_t t0 = md_now_ns();

        rv = md_stat_pair(f, p, &sn0, &sc0);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (!tok) {
            tok = md_token_of(p, &sn0, &sc0);
        }
        rv = read_sub(f, "new", 0, want_stat, attempt, p, arr, &dirty);
        if (rv == APR_SUCCESS) {
            rv = read_sub(f, "cur", 1, want_stat, attempt, p, arr, &dirty);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = md_stat_pair(f, p, &sn1, &sc1);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        quiet = !dirty && same_dir_state(&sn0, &sn1) && same_dir_state(&sc0, &sc1) &&
                md_ts_ns(&sn0.st_mtim) < t0 - QUIET_NS && md_ts_ns(&sc0.st_mtim) < t0 - QUIET_NS;
        if (quiet || attempt + 1 >= SCAN_ATTEMPTS) {
            if (attempt > 0) {
                as_log(md->pub.log, AS_LOG_MARK, AS_LOG_DEBUG, 0,
                       "maildir %s: folder %s changed during the read, united %u reads%s",
                       md->pub.account, f->f.path, attempt + 1, quiet ? "" : " (still changing)");
            }
            md_dedupe(arr, p);
            *out = arr;
            if (token) {
                *token = tok;
            }
            return APR_SUCCESS;
        }
    }
}

/* Rebuild the id -> entry cache of a folder. */
static apr_status_t cache_fill(md_store_t *md, const md_folder_t *f, int want_stat,
                               apr_array_header_t **entries, const char **token)
{
    apr_array_header_t *arr;
    apr_status_t rv;
    int i;

    apr_pool_clear(md->cpool);
    md->cache = NULL;
    md->cache_valid = 0;
    rv = md_scan(md, f, want_stat, md->cpool, &arr, token);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    md->cache = apr_hash_make(md->cpool);
    for (i = 0; i < arr->nelts; i++) {
        md_entry_t *e = &APR_ARRAY_IDX(arr, i, md_entry_t);
        apr_hash_set(md->cache, e->id, APR_HASH_KEY_STRING, e);
    }
    apr_cpystrn(md->cache_folder, f->f.id, sizeof md->cache_folder);
    md->cache_valid = 1;
    if (entries) {
        *entries = arr;
    }
    return APR_SUCCESS;
}

/* Find the current file of an item.  fresh: rescan even when cached. */
static apr_status_t resolve(md_store_t *md, const md_folder_t *f, const char *id, int fresh,
                            md_entry_t **e)
{
    apr_status_t rv;

    *e = NULL;
    if (!md_id_valid(id, AS_STORE_ITEM_ID_MAX)) {
        return APR_ENOENT;
    }
    if (!fresh && md->cache_valid && !strcmp(md->cache_folder, f->f.id)) {
        *e = apr_hash_get(md->cache, id, APR_HASH_KEY_STRING);
        if (*e) {
            return APR_SUCCESS;
        }
    }
    rv = cache_fill(md, f, 0, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *e = apr_hash_get(md->cache, id, APR_HASH_KEY_STRING);
    return *e ? APR_SUCCESS : APR_ENOENT;
}

static const char *entry_path(apr_pool_t *p, const md_folder_t *f, const md_entry_t *e)
{
    return apr_pstrcat(p, f->dir, e->in_cur ? "/cur/" : "/new/", e->name, NULL);
}

static int cmp_item_date(const void *a, const void *b)
{
    const as_store_item_t *x = a, *y = b;
    if (x->date != y->date) {
        return x->date > y->date ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

void md_entry_to_item(apr_pool_t *p, const md_entry_t *e, as_store_item_t *it)
{
    it->id = apr_pstrdup(p, e->id);
    it->flags = e->flags;
    it->size = e->size;
    it->date = e->date;
    it->name = apr_pstrcat(p, e->in_cur ? "cur/" : "new/", e->name, NULL);
}

apr_status_t md_list_items(as_store_t *st, const char *folder_id, apr_pool_t *p,
                           apr_array_header_t **items, const char **token)
{
    md_store_t *md = st->priv;
    md_folder_t *f;
    apr_array_header_t *arr;
    apr_status_t rv;
    const char *tok = NULL;
    int i;

    *items = NULL;
    rv = md_find_folder(md, folder_id, &f);
    if (rv == APR_SUCCESS) {
        rv = cache_fill(md, f, 1, &arr, &tok);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *items = apr_array_make(p, arr->nelts ? arr->nelts : 1, sizeof(as_store_item_t));
    for (i = 0; i < arr->nelts; i++) {
        md_entry_to_item(p, &APR_ARRAY_IDX(arr, i, md_entry_t), apr_array_push(*items));
    }
    qsort((*items)->elts, (size_t)(*items)->nelts, sizeof(as_store_item_t), cmp_item_date);
    if (token) {
        *token = apr_pstrdup(p, tok);
    }
    return APR_SUCCESS;
}

/* Find the current name of a known base name: one pass over new/ then
 * cur/ (in that order, so a file moving new/ -> cur/ meanwhile is seen in
 * cur/).  Updates e (a cache entry) in place. */
static apr_status_t find_base(md_store_t *md, const md_folder_t *f, md_entry_t *e)
{
    static const char *const subs[] = {"new", "cur"};
    char path[4096], fwd = md_keyword_letter(f->dir, MD_KW_FORWARDED, md->cpool);
    int i;

    for (i = 0; i < 2; i++) {
        DIR *d;
        struct dirent *de;
        int found = 0;

        if ((size_t)snprintf(path, sizeof path, "%s/%s", f->dir, subs[i]) >= sizeof path) {
            return APR_ENAMETOOLONG;
        }
        d = opendir(path);
        if (!d) {
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            if (!strncmp(de->d_name, e->name, e->blen) &&
                (de->d_name[e->blen] == ':' || de->d_name[e->blen] == '\0')) {
                e->name = apr_pstrdup(md->cpool, de->d_name);
                e->in_cur = (unsigned char)i;
                e->flags = md_flags_with(e->name, fwd);
                found = 1;
                break;
            }
        }
        closedir(d);
        if (found) {
            return APR_SUCCESS;
        }
    }
    return APR_ENOENT;
}

/* Run op on the item's current file.  On ENOENT (renamed or removed by
 * another program since we looked) the file is searched again by its base
 * name, a few times; an id never seen is resolved by one full read. */
typedef apr_status_t md_item_op_fn(md_store_t *md, const md_folder_t *f, md_entry_t *e,
                                   const char *path, void *baton);

#define FIND_ATTEMPTS 4

apr_status_t md_with_item(md_store_t *md, const char *folder_id, const char *item_id,
                          md_item_op_fn *op, void *baton, apr_pool_t *p)
{
    md_folder_t *f;
    md_entry_t *e;
    apr_status_t rv;
    int attempt, rescanned = 0;

    rv = md_find_folder(md, folder_id, &f);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = resolve(md, f, item_id, 0, &e);
    if (APR_STATUS_IS_ENOENT(rv) && md->cache_valid) {
        return rv;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (attempt = 0; attempt < FIND_ATTEMPTS; attempt++) {
        rv = op(md, f, e, entry_path(p, f, e), baton);
        if (!APR_STATUS_IS_ENOENT(rv)) {
            return rv;
        }
        rv = find_base(md, f, e);
        if (APR_STATUS_IS_ENOENT(rv) && !rescanned) {
            /* not there under its base name: one full read to be sure */
            rescanned = 1;
            rv = resolve(md, f, item_id, 1, &e);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_ENOENT;
}
