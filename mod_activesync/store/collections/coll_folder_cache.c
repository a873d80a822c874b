/* The collections a process last read from each root (issue 10's rule for
 * contacts, calendars and tasks): every request opens the store anew and
 * asks for one folder, and reading the root (its entries, then opening and
 * parsing every .Radicale.props as JSON) cost more than the rest of a
 * no-change Sync together.
 *
 * A kept scan is used while the root's device, inode, mtime and ctime are
 * those stat'ed before it was read (a collection made, removed or renamed
 * changes the root) and every directory it saw still has the same
 * .Radicale.props -- inode, size, mtime and ctime -- or still has none (a
 * display name or component set rewritten, by Radicale's atomic rename or
 * in place, changes the props file and not the root; a props file written
 * into a plain directory makes it a collection).  A scan is kept only when
 * the root and every props file were settled when it was read (mtime older
 * than COLL_SETTLE_NS): an edit within the same clock tick as the one
 * before cannot then go unseen.  The ctime is compared too: setting an
 * mtime back cannot forge an old stat.  Bounds: COLL_FCACHE_SLOTS roots
 * (least recently used replaced), COLL_FCACHE_SEEN directories and
 * COLL_FCACHE_BYTES of names and props text per root (larger ones are
 * read every time). */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <apr_allocator.h>
#include <apr_strings.h>

#include "coll_internal.h"

typedef struct fcache_t {
    apr_allocator_t *alloc; /* the pool's own (owned by it) */
    apr_pool_t *pool;       /* everything below but the slot itself */
    const char *root;
    dev_t dev;
    ino_t ino;
    int64_t mtime, ctime;
    apr_array_header_t *scanned; /* coll_scanned_t */
    apr_array_header_t *seen;    /* coll_seen_t */
    unsigned long used;
} fcache_t;

static fcache_t slots[COLL_FCACHE_SLOTS];
static unsigned long clock_now;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

int coll_seen_stat(int dfd, const char *dirname, coll_seen_t *seen)
{
    struct stat sb;
    char rel[COLL_MAX_FILE_NAME * 2 + 64];

    memset(seen, 0, sizeof *seen);
    seen->dirname = dirname;
    if (snprintf(rel, sizeof rel, "%s/.Radicale.props", dirname) >= (int)sizeof rel) {
        return 0;
    }
    if (fstatat(dfd, rel, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
        return errno == ENOENT;
    }
    seen->present = 1;
    seen->ino = (uint64_t)sb.st_ino;
    seen->size = sb.st_size;
    seen->mtime_ns = coll_ts_ns(&sb.st_mtim);
    seen->ctime_ns = coll_ts_ns(&sb.st_ctim);
    return 1;
}

static int seen_same(const coll_seen_t *a, const coll_seen_t *b)
{
    return a->present == b->present &&
           (!a->present || (a->ino == b->ino && a->size == b->size && a->mtime_ns == b->mtime_ns &&
                            a->ctime_ns == b->ctime_ns));
}

static int settled(const apr_array_header_t *seen, const struct stat *rsb, int64_t listed_at)
{
    int i;

    if (coll_ts_ns(&rsb->st_mtim) > listed_at - COLL_SETTLE_NS) {
        return 0;
    }
    for (i = 0; i < seen->nelts; i++) {
        const coll_seen_t *s = &APR_ARRAY_IDX(seen, i, coll_seen_t);
        if (s->present && s->mtime_ns > listed_at - COLL_SETTLE_NS) {
            return 0;
        }
    }
    return 1;
}

static const char *dup_opt(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrdup(p, s) : NULL;
}

/* Copies of the scan's arrays into p; the bytes of text they hold added
 * to *bytes. */
static apr_array_header_t *copy_scanned(apr_pool_t *p, const apr_array_header_t *in,
                                        apr_size_t *bytes)
{
    apr_array_header_t *out = apr_array_make(p, in->nelts + 1, sizeof(coll_scanned_t));
    int i;

    for (i = 0; i < in->nelts; i++) {
        coll_scanned_t s = APR_ARRAY_IDX(in, i, coll_scanned_t);
        s.dirname = apr_pstrdup(p, s.dirname);
        s.props.tag = dup_opt(p, s.props.tag);
        s.props.displayname = dup_opt(p, s.props.displayname);
        s.props.components = dup_opt(p, s.props.components);
        *bytes += strlen(s.dirname) + (s.props.displayname ? strlen(s.props.displayname) : 0) +
                  (s.props.components ? strlen(s.props.components) : 0);
        *(coll_scanned_t *)apr_array_push(out) = s;
    }
    return out;
}

static apr_array_header_t *copy_seen(apr_pool_t *p, const apr_array_header_t *in, apr_size_t *bytes)
{
    apr_array_header_t *out = apr_array_make(p, in->nelts + 1, sizeof(coll_seen_t));
    int i;

    for (i = 0; i < in->nelts; i++) {
        coll_seen_t s = APR_ARRAY_IDX(in, i, coll_seen_t);
        s.dirname = apr_pstrdup(p, s.dirname);
        *bytes += strlen(s.dirname);
        *(coll_seen_t *)apr_array_push(out) = s;
    }
    return out;
}

static void slot_free(fcache_t *e)
{
    if (e->pool) {
        apr_pool_destroy(e->pool);
    }
    memset(e, 0, sizeof *e);
}

void coll_fcache_store(coll_store_t *cs, const struct stat *rsb, int64_t listed_at,
                       const apr_array_header_t *scanned, const apr_array_header_t *seen)
{
    fcache_t e, *slot;
    apr_size_t bytes = 0;
    int i;

    if (seen->nelts > COLL_FCACHE_SEEN || !settled(seen, rsb, listed_at)) {
        return;
    }
    memset(&e, 0, sizeof e);
    /* its own allocator: the entry outlives the request and its thread */
    if (apr_allocator_create(&e.alloc) != APR_SUCCESS) {
        return;
    }
    if (apr_pool_create_unmanaged_ex(&e.pool, NULL, e.alloc) != APR_SUCCESS) {
        apr_allocator_destroy(e.alloc);
        return;
    }
    apr_allocator_owner_set(e.alloc, e.pool);
    e.root = apr_pstrdup(e.pool, cs->root);
    e.scanned = copy_scanned(e.pool, scanned, &bytes);
    e.seen = copy_seen(e.pool, seen, &bytes);
    if (bytes > COLL_FCACHE_BYTES) {
        apr_pool_destroy(e.pool);
        return;
    }
    e.dev = rsb->st_dev;
    e.ino = rsb->st_ino;
    e.mtime = coll_ts_ns(&rsb->st_mtim);
    e.ctime = coll_ts_ns(&rsb->st_ctim);
    pthread_mutex_lock(&lock);
    slot = &slots[0];
    for (i = 0; i < COLL_FCACHE_SLOTS; i++) {
        if (slots[i].root && !strcmp(slots[i].root, e.root)) {
            slot = &slots[i]; /* this root's older scan */
            break;
        }
        if (slots[i].used < slot->used) {
            slot = &slots[i];
        }
    }
    slot_free(slot);
    *slot = e;
    slot->used = ++clock_now;
    pthread_mutex_unlock(&lock);
}

/* Every seen directory still has the props it had (or still none). */
static int seen_unchanged(const apr_array_header_t *seen, const char *root)
{
    int i, dfd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ok = dfd >= 0;

    for (i = 0; ok && i < seen->nelts; i++) {
        const coll_seen_t *was = &APR_ARRAY_IDX(seen, i, coll_seen_t);
        coll_seen_t now;
        ok = coll_seen_stat(dfd, was->dirname, &now) && seen_same(was, &now);
    }
    if (dfd >= 0) {
        close(dfd);
    }
    return ok;
}

int coll_fcache_load(coll_store_t *cs, apr_pool_t *p, apr_array_header_t **scanned)
{
    apr_array_header_t *seen = NULL;
    apr_size_t bytes = 0;
    struct stat sb;
    int i;

    *scanned = NULL;
    if (stat(cs->root, &sb) != 0) {
        return 0;
    }
    pthread_mutex_lock(&lock);
    for (i = 0; i < COLL_FCACHE_SLOTS; i++) {
        fcache_t *e = &slots[i];
        if (e->root && !strcmp(e->root, cs->root) && e->dev == sb.st_dev && e->ino == sb.st_ino &&
            e->mtime == coll_ts_ns(&sb.st_mtim) && e->ctime == coll_ts_ns(&sb.st_ctim)) {
            e->used = ++clock_now;
            *scanned = copy_scanned(p, e->scanned, &bytes);
            seen = copy_seen(p, e->seen, &bytes);
            break;
        }
    }
    pthread_mutex_unlock(&lock);
    if (!seen || !seen_unchanged(seen, cs->root)) {
        *scanned = NULL;
        return 0;
    }
    return 1;
}
