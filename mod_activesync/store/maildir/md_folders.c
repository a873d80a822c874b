/* Maildir backend: reading the folder tree (the Maildir++ hierarchy, the
 * special folders, the folder ids) and the read-only folder operations. */
#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "md_internal.h"

/* ---------------------------------------------------------------------------
 * Folder listing
 */
int md_storage_ok(const char *s)
{
    size_t n = strlen(s);
    const char *c;

    if (n == 0 || n > 1000 || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..")) {
        return 0;
    }
    for (c = s; *c; c++) {
        if (*c == '\n' || *c == '\r' || *c == '/') {
            return 0;
        }
    }
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *display_of(apr_pool_t *p, const char *raw)
{
    const char *d;
    int high = 0;
    const char *c;

    for (c = raw; *c; c++) {
        if ((unsigned char)*c >= 0x80) {
            high = 1;
        }
    }
    if (high && md_utf8_valid(raw)) {
        return md_utf8_sanitize(p, raw); /* stored as UTF-8 (Dovecot's UTF-8 option) */
    }
    d = high ? NULL : as_mutf7_decode(p, raw);
    return md_utf8_sanitize(p, d ? d : raw);
}

static const char *const alt_sent[] = {"Sent Items", "Sent Messages", "Sent Mail", NULL};
static const char *const alt_drafts[] = {"Draft", NULL};
static const char *const alt_trash[] = {"Deleted Items", "Deleted Messages", "Bin", NULL};
static const char *const alt_junk[] = {"Spam", "Junk E-mail", "Junk Mail", NULL};

static int special_type_of(int idx)
{
    static const int types[] = {AS_FOLDER_SENT, AS_FOLDER_DRAFTS, AS_FOLDER_DELETED, 0};
    return types[idx];
}

/* Assign the special types to top-level folders (idx 0 Sent, 1 Drafts,
 * 2 Trash, 3 Junk); junk_out receives the Junk folder (type stays 12). */
static void assign_special(md_store_t *md, apr_array_header_t *folders, md_folder_t **junk_out)
{
    const char *conf[4] = {md->names.sent, md->names.drafts, md->names.trash, md->names.junk};
    const char *const *alts[4] = {alt_sent, alt_drafts, alt_trash, alt_junk};
    int t, i, level;

    *junk_out = NULL;
    for (t = 0; t < 4; t++) {
        md_folder_t *found = NULL;
        /* level 0: exact configured name; 1: configured, any case; 2+: alternatives */
        for (level = 0; !found; level++) {
            const char *want;
            if (level == 0 || level == 1) {
                want = conf[t];
            } else {
                want = alts[t][level - 2];
                if (!want) {
                    break;
                }
            }
            if (!want || !*want) {
                continue;
            }
            for (i = 0; i < folders->nelts; i++) {
                md_folder_t *f = APR_ARRAY_IDX(folders, i, md_folder_t *);
                if (f->f.type != AS_FOLDER_USER_MAIL || strcmp(f->f.parent_id, "0") ||
                    strchr(f->storage, '.')) {
                    continue;
                }
                if (level == 0 ? !strcmp(f->f.name, want) : !strcasecmp(f->f.name, want)) {
                    found = f;
                    break;
                }
            }
        }
        if (found) {
            if (t == 3) {
                *junk_out = found;
            } else {
                found->f.type = special_type_of(t);
            }
        }
    }
}

/* The storage names of the root's folders (a directory ".NAME" with cur/),
 * sorted, into *names; *set holds the same names. */
static apr_status_t read_folder_names(md_store_t *md, apr_pool_t *p, apr_array_header_t **names,
                                      apr_hash_t **set)
{
    DIR *d = opendir(md->root);
    struct dirent *de;

    if (!d) {
        apr_status_t rv = md_errno_status();
        md_log_errno(md, rv, "cannot read", md->root);
        return rv;
    }
    *names = apr_array_make(p, 32, sizeof(const char *));
    *set = apr_hash_make(p);
    while ((de = readdir(d)) != NULL) {
        const char *st = de->d_name + 1;
        if (de->d_name[0] != '.' || !md_storage_ok(st) || !strcasecmp(st, "INBOX")) {
            continue;
        }
        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK) {
            continue;
        }
        if (!md_is_dir_at(dirfd(d), apr_pstrcat(p, de->d_name, "/cur", NULL))) {
            continue; /* not (yet) a Maildir folder */
        }
        st = apr_pstrdup(p, st);
        APR_ARRAY_PUSH(*names, const char *) = st;
        apr_hash_set(*set, st, APR_HASH_KEY_STRING, st);
    }
    closedir(d);
    qsort((*names)->elts, (size_t)(*names)->nelts, sizeof(const char *), cmp_str);
    return APR_SUCCESS;
}

/* INBOX, then a record per storage name (no ids, parents or names yet). */
static apr_array_header_t *folder_records(md_store_t *md, const apr_array_header_t *names,
                                          apr_pool_t *p)
{
    apr_array_header_t *folders = apr_array_make(p, names->nelts + 1, sizeof(md_folder_t *));
    md_folder_t *inbox = apr_pcalloc(p, sizeof *inbox);
    int i;

    inbox->storage = "";
    inbox->dir = md->root;
    inbox->f.parent_id = "0";
    inbox->f.name = "Inbox";
    inbox->f.path = "";
    inbox->f.type = AS_FOLDER_INBOX;
    APR_ARRAY_PUSH(folders, md_folder_t *) = inbox;
    for (i = 0; i < names->nelts; i++) {
        const char *st = APR_ARRAY_IDX(names, i, const char *);
        md_folder_t *f = apr_pcalloc(p, sizeof *f);
        f->storage = st;
        f->dir = apr_pstrcat(p, md->root, "/.", st, NULL);
        f->f.path = apr_pstrcat(p, ".", st, NULL);
        f->f.type = AS_FOLDER_USER_MAIL;
        APR_ARRAY_PUSH(folders, md_folder_t *) = f;
    }
    return folders;
}

/* Parents (the nearest existing ancestor) and display names; md->by_id. */
static void link_parents(md_store_t *md, apr_array_header_t *folders, apr_hash_t *set,
                         apr_pool_t *p)
{
    int i;

    md->by_id = apr_hash_make(p);
    for (i = 0; i < folders->nelts; i++) {
        md_folder_t *f = APR_ARRAY_IDX(folders, i, md_folder_t *);
        const char *st = f->storage, *rest = st;
        md_folder_t *parent = NULL;
        size_t k;

        apr_hash_set(md->by_id, f->f.id, APR_HASH_KEY_STRING, f);
        if (!*st) {
            continue; /* INBOX */
        }
        /* longest existing proper prefix ending before a '.' */
        for (k = strlen(st); k-- > 0;) {
            if (st[k] == '.') {
                const char *pre = apr_pstrmemdup(p, st, k);
                if (apr_hash_get(set, pre, APR_HASH_KEY_STRING)) {
                    int j;
                    for (j = 1; j < folders->nelts; j++) {
                        md_folder_t *c = APR_ARRAY_IDX(folders, j, md_folder_t *);
                        if (!strcmp(c->storage, pre)) {
                            parent = c;
                            break;
                        }
                    }
                    rest = st + k + 1;
                    break;
                }
            }
        }
        if (!parent && !strncasecmp(st, "INBOX.", 6)) {
            parent = APR_ARRAY_IDX(folders, 0, md_folder_t *);
            rest = st + 6;
        }
        f->f.parent_id = parent ? parent->f.id : "0";
        f->f.name = display_of(p, rest);
    }
}

/* ---------------------------------------------------------------------------
 * The folder sets of the process (issue 10): every request of a device
 * opens the store anew and asks for one folder, and listing the root
 * (its entries, a stat of every folder's cur/, the id map) cost more than
 * the rest of a no-change Sync together.  The last listing of each root
 * is kept, for the same special-folder names, with the stat of the root
 * taken before it was read.  It is used while the root's device, inode,
 * mtime and ctime are those (the hierarchy token, as_store.h: a folder
 * made, removed or renamed, or the id map rewritten, changes the root's
 * directory) and it was settled when listed: a root modified within
 * SETTLE_NS of the listing may still be changing (a folder's cur/ made
 * just after its directory), so such a listing is not kept.  (The ctime
 * is compared too: setting the mtime back cannot forge it.)  A folder id
 * that the kept set does not have is always looked up in a fresh listing.
 * At most FSET_SLOTS roots per process, least recently used replaced.
 */
#define FSET_SLOTS 64

typedef struct fset_folder_t {
    char *id, *parent_id, *name, *path, *storage, *dir;
    int type, cls;
} fset_folder_t;

typedef struct fset_t {
    char *key; /* root, then the four special names, '\n'-separated */
    dev_t dev;
    ino_t ino;
    int64_t mtime, ctime;
    fset_folder_t *folders;
    int n;
    unsigned long used;
} fset_t;

static fset_t fsets[FSET_SLOTS];
static unsigned long fset_clock;
static pthread_mutex_t fset_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *fset_key(md_store_t *md, apr_pool_t *p)
{
    const as_maildir_names_t *n = &md->names;
    return apr_pstrcat(p, md->root, "\n", n->sent ? n->sent : "", "\n", n->drafts ? n->drafts : "",
                       "\n", n->trash ? n->trash : "", "\n", n->junk ? n->junk : "", NULL);
}

static int fset_matches(const fset_t *e, const char *key, const struct stat *sb)
{
    return e->key && !strcmp(e->key, key) && e->dev == sb->st_dev && e->ino == sb->st_ino &&
           e->mtime == md_ts_ns(&sb->st_mtim) && e->ctime == md_ts_ns(&sb->st_ctim);
}

static void fset_free(fset_t *e)
{
    int i;
    for (i = 0; i < e->n; i++) {
        fset_folder_t *f = &e->folders[i];
        free(f->id);
        free(f->parent_id);
        free(f->name);
        free(f->path);
        free(f->storage);
        free(f->dir);
    }
    free(e->folders);
    free(e->key);
    memset(e, 0, sizeof(*e));
}

/* Keep md->folders as the listing of the root whose stat (before the
 * listing) was *sb. */
static void fset_store(md_store_t *md, const struct stat *sb, int64_t listed_at)
{
    apr_pool_t *p = md->fpool;
    fset_t e, *slot;
    int i, ok = 1;

    if (md_ts_ns(&sb->st_mtim) > listed_at - SETTLE_NS) {
        return; /* unsettled */
    }
    memset(&e, 0, sizeof(e));
    e.key = strdup(fset_key(md, p));
    e.folders = calloc((size_t)md->folders->nelts, sizeof(*e.folders));
    if (!e.key || !e.folders) {
        free(e.key);
        free(e.folders);
        return;
    }
    e.n = md->folders->nelts;
    for (i = 0; i < e.n; i++) {
        const md_folder_t *f = APR_ARRAY_IDX(md->folders, i, md_folder_t *);
        fset_folder_t *c = &e.folders[i];
        c->id = strdup(f->f.id);
        c->parent_id = strdup(f->f.parent_id);
        c->name = strdup(f->f.name);
        c->path = strdup(f->f.path);
        c->storage = strdup(f->storage);
        c->dir = strdup(f->dir);
        c->type = f->f.type;
        c->cls = f->f.cls;
        ok = ok && c->id && c->parent_id && c->name && c->path && c->storage && c->dir;
    }
    if (!ok) {
        fset_free(&e);
        return;
    }
    e.dev = sb->st_dev;
    e.ino = sb->st_ino;
    e.mtime = md_ts_ns(&sb->st_mtim);
    e.ctime = md_ts_ns(&sb->st_ctim);
    pthread_mutex_lock(&fset_lock);
    slot = &fsets[0];
    for (i = 0; i < FSET_SLOTS; i++) {
        if (fsets[i].key && !strcmp(fsets[i].key, e.key)) {
            slot = &fsets[i]; /* this root's older listing */
            break;
        }
        if (fsets[i].used < slot->used) {
            slot = &fsets[i];
        }
    }
    fset_free(slot);
    *slot = e;
    slot->used = ++fset_clock;
    pthread_mutex_unlock(&fset_lock);
}

/* md->folders and md->by_id from the kept listing of the root, when it is
 * still valid; 0 when there is none. */
static int fset_load(md_store_t *md)
{
    apr_pool_t *p = md->fpool;
    const char *key;
    struct stat sb;
    int i, found = 0;

    apr_pool_clear(p);
    md->folders = NULL;
    md->by_id = NULL;
    if (stat(md->root, &sb) != 0) {
        return 0;
    }
    key = fset_key(md, p);
    pthread_mutex_lock(&fset_lock);
    for (i = 0; i < FSET_SLOTS && !found; i++) {
        fset_t *e = &fsets[i];
        int j;
        if (!fset_matches(e, key, &sb)) {
            continue;
        }
        found = 1;
        e->used = ++fset_clock;
        md->folders = apr_array_make(p, e->n, sizeof(md_folder_t *));
        md->by_id = apr_hash_make(p);
        for (j = 0; j < e->n; j++) {
            const fset_folder_t *c = &e->folders[j];
            md_folder_t *f = apr_pcalloc(p, sizeof(*f));
            f->f.id = apr_pstrdup(p, c->id);
            f->f.parent_id = apr_pstrdup(p, c->parent_id);
            f->f.name = apr_pstrdup(p, c->name);
            f->f.path = apr_pstrdup(p, c->path);
            f->f.type = c->type;
            f->f.cls = c->cls;
            f->storage = apr_pstrdup(p, c->storage);
            f->dir = apr_pstrdup(p, c->dir);
            APR_ARRAY_PUSH(md->folders, md_folder_t *) = f;
            apr_hash_set(md->by_id, f->f.id, APR_HASH_KEY_STRING, f);
        }
    }
    pthread_mutex_unlock(&fset_lock);
    return found;
}

/* Read the root: the folder set with names, parents, types and ids, into
 * md->fpool.  When the id map needs rewriting, that is done (once) under
 * the lock, reading the root again there. */
apr_status_t md_load_folders(md_store_t *md)
{
    apr_pool_t *p;
    apr_array_header_t *names = NULL, *folders;
    apr_hash_t *set = NULL, *newmap;
    md_folder_t *junk;
    apr_status_t rv;
    struct stat sb;
    int64_t listed_at;
    int have_stat;

    apr_pool_clear(md->fpool);
    p = md->fpool;
    md->folders = NULL;
    md->by_id = NULL;

    have_stat = stat(md->root, &sb) == 0;
    listed_at = md_now_ns();
    rv = read_folder_names(md, p, &names, &set);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    folders = folder_records(md, names, p);
    if (md_assign_ids(folders, md_map_read(md, p), p, &newmap)) {
        if (!md->locked) {
            int lfd = md_lock(md);
            if (lfd >= 0) {
                md->locked = 1;
                rv = md_load_folders(md);
                md->locked = 0;
                md_unlock(lfd);
                return rv;
            }
            /* cannot lock (read-only Maildir?): use the ids as computed */
        } else {
            rv = md_map_write(md, newmap, p);
            if (rv != APR_SUCCESS) {
                as_log(md->pub.log, AS_LOG_MARK, AS_LOG_WARNING, rv,
                       "maildir %s: cannot write %s/" MAP_FILE, md->pub.account, md->root);
            }
        }
    }
    link_parents(md, folders, set, p);
    assign_special(md, folders, &junk);
    (void)junk;
    md->folders = folders;
    if (have_stat) {
        fset_store(md, &sb, listed_at);
    }
    return APR_SUCCESS;
}

apr_status_t md_find_folder(md_store_t *md, const char *id, md_folder_t **f)
{
    *f = NULL;
    if (!id || !md_id_valid(id, AS_STORE_FOLDER_ID_MAX)) {
        return APR_ENOENT;
    }
    if (!md->by_id) {
        fset_load(md);
    }
    if (md->by_id) {
        *f = apr_hash_get(md->by_id, id, APR_HASH_KEY_STRING);
    }
    if (!*f) {
        apr_status_t rv = md_load_folders(md);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        *f = apr_hash_get(md->by_id, id, APR_HASH_KEY_STRING);
    }
    return *f ? APR_SUCCESS : APR_ENOENT;
}

static as_store_folder_t folder_copy(apr_pool_t *p, const md_folder_t *f)
{
    as_store_folder_t c;
    c.id = apr_pstrdup(p, f->f.id);
    c.parent_id = apr_pstrdup(p, f->f.parent_id);
    c.name = apr_pstrdup(p, f->f.name);
    c.path = apr_pstrdup(p, f->f.path);
    c.type = f->f.type;
    c.cls = AS_CLASS_EMAIL;
    return c;
}

apr_status_t md_list_folders(as_store_t *st, apr_pool_t *p, apr_array_header_t **out,
                             const char **hier_token)
{
    md_store_t *md = st->priv;
    struct stat sb;
    apr_status_t rv;
    int i;

    *out = NULL;
    if (hier_token) {
        if (stat(md->root, &sb) != 0) {
            return md_errno_status();
        }
        *hier_token = md_token_of(p, &sb, NULL);
    }
    rv = md_load_folders(md);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *out = apr_array_make(p, md->folders->nelts, sizeof(as_store_folder_t));
    for (i = 0; i < md->folders->nelts; i++) {
        APR_ARRAY_PUSH(*out, as_store_folder_t) =
            folder_copy(p, APR_ARRAY_IDX(md->folders, i, md_folder_t *));
    }
    return APR_SUCCESS;
}

apr_status_t md_hierarchy_token(as_store_t *st, apr_pool_t *p, const char **token)
{
    md_store_t *md = st->priv;
    struct stat sb;

    if (stat(md->root, &sb) != 0) {
        *token = NULL;
        return md_errno_status();
    }
    *token = md_token_of(p, &sb, NULL);
    return APR_SUCCESS;
}

apr_status_t md_get_folder(as_store_t *st, const char *id, apr_pool_t *p,
                           const as_store_folder_t **out)
{
    md_folder_t *f;
    apr_status_t rv = md_find_folder(st->priv, id, &f);
    as_store_folder_t *c;

    *out = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    c = apr_palloc(p, sizeof *c);
    *c = folder_copy(p, f);
    *out = c;
    return APR_SUCCESS;
}

apr_status_t md_folder_token(as_store_t *st, const char *id, apr_pool_t *p, const char **token)
{
    md_folder_t *f;
    struct stat sn, sc;
    apr_status_t rv = md_find_folder(st->priv, id, &f);

    *token = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = md_stat_pair(f, p, &sn, &sc);
    if (rv == APR_SUCCESS) {
        *token = md_token_of(p, &sn, &sc);
    }
    return rv;
}

apr_status_t md_watch_paths(as_store_t *st, const char *id, apr_pool_t *p,
                            apr_array_header_t **paths)
{
    md_folder_t *f;
    apr_status_t rv = md_find_folder(st->priv, id, &f);

    *paths = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *paths = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(*paths, const char *) = apr_pstrcat(p, f->dir, "/new", NULL);
    APR_ARRAY_PUSH(*paths, const char *) = apr_pstrcat(p, f->dir, "/cur", NULL);
    return APR_SUCCESS;
}
