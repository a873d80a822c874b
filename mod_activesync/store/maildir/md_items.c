/* Maildir backend: the item operations (stat, open, flags by rename, move,
 * delete, deliver through tmp/). */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_internal.h"

typedef struct stat_baton_t {
    apr_pool_t *p;
    as_store_item_t *item;
    as_store_msg_t *msg;
} stat_baton_t;

static apr_status_t op_stat(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                            void *baton)
{
    stat_baton_t *b = baton;
    struct stat sb;

    if (stat(path, &sb) != 0) {
        return md_errno_status();
    }
    md_entry_to_item(b->p, e, b->item);
    b->item->size = (apr_off_t)sb.st_size;
    b->item->date = (apr_time_t)sb.st_mtim.tv_sec * APR_USEC_PER_SEC + sb.st_mtim.tv_nsec / 1000;
    return APR_SUCCESS;
}

apr_status_t md_stat_item(as_store_t *st, const char *folder_id, const char *item_id, apr_pool_t *p,
                          as_store_item_t *item)
{
    stat_baton_t b = {p, item, NULL};
    return md_with_item(st->priv, folder_id, item_id, op_stat, &b, p);
}

static apr_status_t op_open(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                            void *baton)
{
    stat_baton_t *b = baton;
    apr_file_t *file;
    apr_finfo_t fi;
    apr_status_t rv;

    rv = apr_file_open(&file, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, b->p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_MTIME, file);
    if (rv != APR_SUCCESS) {
        apr_file_close(file);
        return rv;
    }
    b->msg = apr_pcalloc(b->p, sizeof *b->msg);
    md_entry_to_item(b->p, e, &b->msg->item);
    b->msg->item.size = fi.size;
    b->msg->item.date = fi.mtime;
    b->msg->file = file;
    return APR_SUCCESS;
}

apr_status_t md_open_item(as_store_t *st, const char *folder_id, const char *item_id, apr_pool_t *p,
                          as_store_msg_t **msg)
{
    stat_baton_t b = {p, NULL, NULL};
    apr_status_t rv = md_with_item(st->priv, folder_id, item_id, op_open, &b, p);
    *msg = rv == APR_SUCCESS ? b.msg : NULL;
    return rv;
}

/* The listed name, when it is the item's file: "new/" or "cur/" and a file
 * name whose unsalted id is item_id (a salted id, see md_dedupe, goes the
 * long way). */
static int listed_entry(const char *item_id, const char *name, md_entry_t *e)
{
    memset(e, 0, sizeof(*e));
    if (!name || (strncmp(name, "new/", 4) && strncmp(name, "cur/", 4)) || name[4] == '.' ||
        strchr(name + 4, '/')) {
        return 0;
    }
    e->name = name + 4;
    e->blen = (unsigned)md_base_len(e->name);
    if (e->blen == 0 || e->blen > NAME_MAX) {
        return 0;
    }
    e->in_cur = name[0] == 'c';
    e->flags = md_flags_of(e->name);
    md_item_id_salted(e->name, e->blen, 0, e->id);
    return !strcmp(e->id, item_id);
}

apr_status_t md_open_item_at(as_store_t *st, const char *folder_id, const char *item_id,
                             const char *name, apr_pool_t *p, as_store_msg_t **msg)
{
    md_store_t *md = st->priv;
    stat_baton_t b = {p, NULL, NULL};
    md_folder_t *f;
    md_entry_t e;

    if (listed_entry(item_id, name, &e) && md_find_folder(md, folder_id, &f) == APR_SUCCESS &&
        (e.flags = md_flags_with(e.name, md_keyword_letter(f->dir, MD_KW_FORWARDED, p)), 1) &&
        op_open(md, f, &e, apr_pstrcat(p, f->dir, "/", name, NULL), &b) == APR_SUCCESS) {
        *msg = b.msg;
        return APR_SUCCESS;
    }
    return md_open_item(st, folder_id, item_id, p, msg);
}

/* The file name with new flags: "base:2," + sorted info letters; fwd: the
 * letter of $Forwarded (0: none), set or cleared with AS_STORE_FORWARDED. */
static const char *name_with_flags(apr_pool_t *p, const char *name, size_t blen, unsigned set,
                                   unsigned clear, char fwd, unsigned *result)
{
    static const struct {
        char c;
        unsigned f;
    } map[] = {{'D', AS_STORE_DRAFT},    {'F', AS_STORE_FLAGGED}, {'P', AS_STORE_PASSED},
               {'R', AS_STORE_ANSWERED}, {'S', AS_STORE_SEEN},    {'T', AS_STORE_TRASHED}};
    char have[128];
    const char *info = strstr(name, ":2,");
    char letters[129];
    int c, n = 0;
    size_t i;

    memset(have, 0, sizeof have);
    if (info && (size_t)(info - name) == blen) {
        for (info += 3; *info; info++) {
            if ((unsigned char)*info < 128 && isgraph((unsigned char)*info) && *info != ',') {
                have[(unsigned char)*info] = 1;
            }
        }
    }
    for (i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (set & map[i].f) {
            have[(unsigned char)map[i].c] = 1;
        }
        if (clear & map[i].f) {
            have[(unsigned char)map[i].c] = 0;
        }
    }
    if (fwd) {
        have[(unsigned char)fwd] = (set & AS_STORE_FORWARDED)     ? 1
                                   : (clear & AS_STORE_FORWARDED) ? 0
                                                                  : have[(unsigned char)fwd];
    }
    for (c = 33; c < 127; c++) { /* the spec: flags in ASCII order */
        if (have[c]) {
            letters[n++] = (char)c;
        }
    }
    letters[n] = '\0';
    if (result) {
        *result = md_flags_with(apr_pstrcat(p, ":2,", letters, NULL), fwd);
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, name, blen), ":2,", letters, NULL);
}

typedef struct flags_baton_t {
    apr_pool_t *p;
    unsigned set, clear, result;
} flags_baton_t;

static apr_status_t op_flags(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                             void *baton)
{
    flags_baton_t *b = baton;
    char fwd = md_keyword_letter(f->dir, MD_KW_FORWARDED, b->p);
    const char *nn, *np;

    if (!fwd && (b->set & AS_STORE_FORWARDED)) {
        apr_status_t rv = md_keyword_add(f->dir, MD_KW_FORWARDED, b->p, &fwd);
        if (rv != APR_SUCCESS) {
            md_log_errno(md, rv, "cannot map $Forwarded in", f->dir);
            return rv;
        }
    }
    nn = name_with_flags(b->p, e->name, e->blen, b->set, b->clear, fwd, &b->result);

    if (e->in_cur && !strcmp(nn, e->name)) {
        return access(path, F_OK) == 0 ? APR_SUCCESS : md_errno_status();
    }
    np = apr_pstrcat(b->p, f->dir, "/cur/", nn, NULL);
    if (rename(path, np) != 0) {
        return md_errno_status();
    }
    /* keep the cache in step */
    e->name = apr_pstrdup(md->cpool, nn);
    e->in_cur = 1;
    e->flags = b->result;
    return APR_SUCCESS;
}

apr_status_t md_set_flags(as_store_t *st, const char *folder_id, const char *item_id, unsigned set,
                          unsigned clear, unsigned *flags_out)
{
    apr_pool_t *p;
    flags_baton_t b;
    apr_status_t rv;

    apr_pool_create(&p, st->pool);
    b.p = p;
    b.set = set;
    b.clear = clear;
    b.result = 0;
    rv = md_with_item(st->priv, folder_id, item_id, op_flags, &b, p);
    if (flags_out) {
        *flags_out = b.result;
    }
    apr_pool_destroy(p);
    return rv;
}

typedef struct move_baton_t {
    apr_pool_t *p;
    const md_folder_t *dst;
    const char *new_id;
} move_baton_t;

static apr_status_t op_move(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                            void *baton)
{
    move_baton_t *b = baton;
    const char *sub = e->in_cur ? "/cur/" : "/new/";
    const char *to = apr_pstrcat(b->p, b->dst->dir, sub, e->name, NULL);
    char idbuf[ITEM_ID_LEN + 1];

    if (as_store_rename_noreplace(path, to) != 0) {
        const char *nn;
        if (errno != EEXIST) {
            return md_errno_status();
        }
        /* that base name exists there already: give the message a new one
         * (with the right S= size: Dovecot trusts it) */
        {
            struct stat sb;
            nn = md_unique_name(b->p, stat(path, &sb) == 0 ? (apr_size_t)sb.st_size : 0);
        }
        nn = apr_pstrcat(b->p, nn, e->name + e->blen, NULL);
        to = apr_pstrcat(b->p, b->dst->dir, sub, nn, NULL);
        if (as_store_rename_noreplace(path, to) != 0) {
            return md_errno_status();
        }
        as_maildir_item_id(nn, idbuf);
    } else {
        /* same base name: the same id (a salted id in the source becomes
         * the plain hash here, except in a collision there, ~never) */
        as_maildir_item_id(e->name, idbuf);
    }
    b->new_id = apr_pstrdup(b->p, idbuf);
    md->cache_valid = 0;
    return APR_SUCCESS;
}

apr_status_t md_move_item(as_store_t *st, const char *folder_id, const char *item_id,
                          const char *dst_id, apr_pool_t *p, const char **new_item_id)
{
    md_store_t *md = st->priv;
    md_folder_t *dst;
    move_baton_t b;
    apr_status_t rv;

    if (new_item_id) {
        *new_item_id = NULL;
    }
    rv = md_find_folder(md, dst_id, &dst);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!strcmp(dst_id, folder_id)) {
        /* a move onto itself: nothing to do, but the item must exist */
        as_store_item_t it;
        rv = md_stat_item(st, folder_id, item_id, p, &it);
        if (rv == APR_SUCCESS && new_item_id) {
            *new_item_id = it.id;
        }
        return rv;
    }
    b.p = p;
    b.dst = dst;
    b.new_id = NULL;
    rv = md_with_item(md, folder_id, item_id, op_move, &b, p);
    if (rv == APR_SUCCESS && new_item_id) {
        *new_item_id = b.new_id;
    }
    return rv;
}

static apr_status_t op_unlink(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                              void *baton)
{
    if (unlink(path) != 0) {
        return md_errno_status();
    }
    if (md->cache) {
        apr_hash_set(md->cache, e->id, APR_HASH_KEY_STRING, NULL);
    }
    return APR_SUCCESS;
}

apr_status_t md_delete_item(as_store_t *st, const char *folder_id, const char *item_id,
                            int to_trash)
{
    md_store_t *md = st->priv;
    apr_pool_t *p;
    apr_status_t rv;
    const char *trash = NULL;

    apr_pool_create(&p, st->pool);
    if (to_trash) {
        rv = md_special_folder(st, AS_FOLDER_DELETED, 1, p, &trash);
        if (rv != APR_SUCCESS) {
            apr_pool_destroy(p);
            return rv;
        }
    }
    if (trash && strcmp(trash, folder_id)) {
        rv = md_move_item(st, folder_id, item_id, trash, p, NULL);
    } else {
        rv = md_with_item(md, folder_id, item_id, op_unlink, NULL, p);
    }
    apr_pool_destroy(p);
    return rv;
}

apr_status_t md_deliver(as_store_t *st, const char *folder_id, const void *data, apr_size_t len,
                        unsigned flags, apr_time_t date, apr_pool_t *p, const char **item_id)
{
    md_store_t *md = st->priv;
    md_folder_t *f;
    const char *base, *tmp, *dst, *name;
    const char *d = data;
    apr_size_t done = 0;
    apr_status_t rv;
    char idbuf[ITEM_ID_LEN + 1];
    int fd, tries;

    if (item_id) {
        *item_id = NULL;
    }
    rv = md_find_folder(md, folder_id, &f);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (tries = 0;; tries++) {
        base = md_unique_name(p, len);
        tmp = apr_pstrcat(p, f->dir, "/tmp/", base, NULL);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            break;
        }
        if (errno == ENOENT && tries == 0) {
            mkdir(apr_pstrcat(p, f->dir, "/tmp", NULL), 0700); /* tmp/ may be missing */
            continue;
        }
        if (errno != EEXIST || tries > 5) {
            rv = md_errno_status();
            md_log_errno(md, rv, "cannot create", tmp);
            return rv;
        }
    }
    while (done < len) {
        ssize_t w = write(fd, d + done, len - done);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            goto fail;
        }
        done += (apr_size_t)w;
    }
    if (date > 0) {
        struct timespec ts[2];
        ts[0].tv_sec = ts[1].tv_sec = (time_t)apr_time_sec(date);
        ts[0].tv_nsec = ts[1].tv_nsec = (long)(apr_time_usec(date) * 1000);
        futimens(fd, ts);
    }
    if (fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (flags) {
        name = name_with_flags(p, base, strlen(base), flags, 0, 0, NULL); /* no keywords */
        dst = apr_pstrcat(p, f->dir, "/cur/", name, NULL);
    } else {
        name = base;
        dst = apr_pstrcat(p, f->dir, "/new/", name, NULL);
    }
    if (as_store_rename_noreplace(tmp, dst) != 0) {
        goto fail;
    }
    as_store_fsync_dir(apr_pstrcat(p, f->dir, flags ? "/cur" : "/new", NULL));
    as_maildir_item_id(name, idbuf);
    if (item_id) {
        *item_id = apr_pstrdup(p, idbuf);
    }
    md->cache_valid = 0;
    return APR_SUCCESS;

fail:
    rv = md_errno_status();
    md_log_errno(md, rv, "cannot deliver into", f->dir);
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return rv;
}
