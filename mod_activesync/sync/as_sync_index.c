/* The per-process index of folder listings (as_sync_engine.h): a folder's
 * sorted listing kept while its change token stays the same, so that the
 * pages of an initial sync list, stat and sort the folder once.
 *
 * One mutex guards the list; entries are reference counted, so that an
 * entry replaced or evicted while a request still reads it lives until that
 * request's pool is cleared.  The bound (AS_SYNC_INDEX_BYTES) counts the
 * entries in the index; one larger than the bound is never kept.
 *
 * How far an initial sync got needs no record: while the folder is
 * unchanged, a device's set that is exactly the first n items of the
 * listing (with their flags and ETags) is the sign of a sync in progress, and it is
 * recognised in O(set) hashing, without comparing ids: each entry keeps
 * the sums of a keyed hash of (id, flags, ETag digest) over every prefix.
 *
 * Window views: a calendar's FilterType window is decided by each item's
 * content, so its pages are not a prefix of the listing but of the
 * listing's items inside the window.  An entry keeps a few views, one per
 * window (FilterType and start), each deciding its items in listing order
 * only as far as a page or a comparison needs, once per process, with the
 * same prefix sums over the items found inside: a page asks the window of
 * the page's items (and of those outside it in between), not of the whole
 * calendar.  A view's arrays are allocated whole when it is made and
 * counted in the entry's bytes. */
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "activesync/as_sync_engine.h"

/* The items of a listing inside one window, decided in listing order. */
struct as_sync_index_view_t {
    struct as_sync_index_view_t *next;
    pthread_mutex_t lock; /* held while deciding (a decision may parse a file) */
    const struct as_sync_index_entry_t *entry;
    apr_uint64_t window;  /* which window (as_sync_index_view) */
    int scanned;          /* items[0..scanned) decided */
    int ninside;          /* how many of them inside */
    unsigned char *in;    /* in[i]: items[i] inside (i < scanned) */
    int *inside;          /* inside[k]: index of the k-th item inside */
    apr_uint64_t *prefix; /* prefix[k]: set_sum() of the first k items inside */
    unsigned refs;        /* requests holding it: not replaced while > 0 */
    apr_uint64_t used;    /* when last taken (index_clock) */
    apr_size_t bytes;
};

struct as_sync_index_entry_t {
    struct as_sync_index_entry_t *prev, *next; /* most recently used first */
    as_sync_index_view_t *views;
    char *key;
    char token[AS_STORE_TOKEN_MAX + 1];
    as_store_item_t *items;
    int nitems;
    apr_size_t bytes;
    apr_uint64_t *prefix; /* prefix[i]: set_sum() of items[0..i) */
    unsigned refs;
    int linked;
};

static pthread_once_t seed_once = PTHREAD_ONCE_INIT;
static apr_uint64_t seed; /* random per process: sums that collide cannot be made on purpose */
static pthread_mutex_t index_lock = PTHREAD_MUTEX_INITIALIZER;
static as_sync_index_entry_t *index_head, *index_tail;
static apr_size_t index_limit = AS_SYNC_INDEX_BYTES;
static as_sync_index_stats_t index_stats;
static apr_uint64_t index_clock; /* orders the views' use */

/* Views of one entry at most (FilterType 4-7 and 8, a day apart). */
#define VIEWS_MAX 8

static void free_entry(as_sync_index_entry_t *e)
{
    while (e->views) {
        as_sync_index_view_t *v = e->views;
        e->views = v->next;
        pthread_mutex_destroy(&v->lock);
        free(v);
    }
    free(e);
}

static void unlink_entry(as_sync_index_entry_t *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        index_head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        index_tail = e->prev;
    }
    e->prev = e->next = NULL;
    e->linked = 0;
    index_stats.bytes -= e->bytes;
    index_stats.entries--;
}

static void link_first(as_sync_index_entry_t *e)
{
    e->prev = NULL;
    e->next = index_head;
    if (index_head) {
        index_head->prev = e;
    } else {
        index_tail = e;
    }
    index_head = e;
    e->linked = 1;
    index_stats.bytes += e->bytes;
    index_stats.entries++;
}

/* Drop e from the index (under the lock); freed now when no request holds it. */
static void drop_entry(as_sync_index_entry_t *e)
{
    unlink_entry(e);
    index_stats.evictions++;
    if (e->refs == 0) {
        free_entry(e);
    }
}

static apr_status_t release_entry(void *data)
{
    as_sync_index_entry_t *e = data;
    pthread_mutex_lock(&index_lock);
    if (--e->refs == 0 && !e->linked) {
        free_entry(e);
    }
    pthread_mutex_unlock(&index_lock);
    return APR_SUCCESS;
}

static as_sync_index_entry_t *find_entry(const char *key)
{
    as_sync_index_entry_t *e;
    for (e = index_head; e; e = e->next) {
        if (!strcmp(e->key, key)) {
            return e;
        }
    }
    return NULL;
}

static void seed_init(void)
{
    unsigned char b[8];
    int i;
    if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
        seed = (apr_uint64_t)apr_time_now() * 0x9e3779b97f4a7c15ULL;
        return;
    }
    for (i = 0; i < 8; i++) {
        seed = seed << 8 | b[i];
    }
}

static apr_uint64_t item_hash(const char *id, unsigned flags, apr_uint64_t etag)
{
    apr_uint64_t h = 14695981039346656037ULL ^ seed;
    for (; *id; id++) {
        h = (h ^ (unsigned char)*id) * 1099511628211ULL;
    }
    h ^= (apr_uint64_t)flags * 0x9e3779b97f4a7c15ULL;
    h ^= etag * 0xd6e8feb86659fd93ULL; /* 0 for mail: the sum is as before */
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    return h ^ (h >> 33);
}

/* One malloc block: the entry, the prefix sums, the items, then their strings. */
static as_sync_index_entry_t *entry_build(const char *key, const char *token,
                                          const apr_array_header_t *items)
{
    apr_size_t bytes = sizeof(as_sync_index_entry_t) + strlen(key) + 1, strs = 0;
    as_sync_index_entry_t *e;
    char *s;
    int i;

    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        strs += strlen(it->id) + 1 + (it->name ? strlen(it->name) + 1 : 0) +
                (it->etag ? strlen(it->etag) + 1 : 0);
    }
    bytes += (sizeof(as_store_item_t) + sizeof(apr_uint64_t)) * (apr_size_t)items->nelts +
             sizeof(apr_uint64_t) + strs;
    if (bytes > index_limit || strlen(token) > AS_STORE_TOKEN_MAX || !(e = calloc(1, bytes))) {
        return NULL;
    }
    pthread_once(&seed_once, seed_init);
    e->bytes = bytes;
    e->prefix = (apr_uint64_t *)(e + 1);
    e->items = (as_store_item_t *)(e->prefix + items->nelts + 1);
    e->nitems = items->nelts;
    s = (char *)(e->items + items->nelts);
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        apr_size_t l = strlen(it->id) + 1;
        e->items[i] = *it;
        e->items[i].id = memcpy(s, it->id, l);
        s += l;
        if (it->name) {
            l = strlen(it->name) + 1;
            e->items[i].name = memcpy(s, it->name, l);
            s += l;
        }
        if (it->etag) {
            l = strlen(it->etag) + 1;
            e->items[i].etag = memcpy(s, it->etag, l);
            s += l;
        }
        e->prefix[i + 1] = e->prefix[i] + item_hash(it->id, it->flags & AS_SYNC_FLAGS_MASK,
                                                    as_sync_etag_digest(it->etag));
    }
    e->key = strcpy(s, key);
    strcpy(e->token, token);
    return e;
}

/* Keep e (under the lock): it replaces an entry of its key; the least
 * recently used entries go until the index fits its bound. */
static void entry_insert(as_sync_index_entry_t *e)
{
    as_sync_index_entry_t *old = find_entry(e->key);
    if (old) {
        drop_entry(old);
    }
    while (index_tail && index_stats.bytes + e->bytes > index_limit) {
        drop_entry(index_tail);
    }
    link_first(e);
}

/* The items of e as an array in pool p (no copy: e is held until p goes). */
static apr_array_header_t *entry_array(apr_pool_t *p, as_sync_index_entry_t *e)
{
    apr_array_header_t *a = apr_pcalloc(p, sizeof(*a));
    a->pool = p;
    a->elt_size = sizeof(as_store_item_t);
    a->nelts = a->nalloc = e->nitems;
    a->elts = (char *)e->items;
    apr_pool_cleanup_register(p, e, release_entry, apr_pool_cleanup_null);
    return a;
}

apr_status_t as_sync_index_list(as_store_t *st, const char *folder_id, apr_pool_t *p,
                                apr_array_header_t **items, const char **token,
                                as_sync_index_entry_t **entry)
{
    const char *key = apr_pstrcat(p, st->account ? st->account : "", "\n", folder_id, NULL);
    const char *now = NULL;
    as_sync_index_entry_t *e;
    apr_status_t rv;

    *entry = NULL;
    if ((rv = as_store_folder_token(st, folder_id, p, &now)) != APR_SUCCESS) {
        return rv;
    }
    pthread_mutex_lock(&index_lock);
    e = find_entry(key);
    if (e && as_store_token_same(e->token, now)) {
        e->refs++;
        unlink_entry(e);
        link_first(e);
        index_stats.hits++;
        pthread_mutex_unlock(&index_lock);
        *items = entry_array(p, e);
        *token = apr_pstrdup(p, e->token);
        *entry = e;
        return APR_SUCCESS;
    }
    index_stats.listings++;
    pthread_mutex_unlock(&index_lock);
    if ((rv = as_store_list_items(st, folder_id, p, items, token)) != APR_SUCCESS) {
        return rv;
    }
    /* an unsettled token never compares equal: such a listing is not kept */
    if (!as_store_token_same(*token, *token) || !(e = entry_build(key, *token, *items))) {
        return APR_SUCCESS;
    }
    pthread_mutex_lock(&index_lock);
    entry_insert(e);
    e->refs++;
    pthread_mutex_unlock(&index_lock);
    *items = entry_array(p, e);
    *entry = e;
    return APR_SUCCESS;
}

int as_sync_index_prefix(const as_sync_index_entry_t *e, const as_coll_state_t *cs)
{
    apr_uint64_t sum = 0;
    apr_uint32_t i;

    if (cs->nitems > (apr_uint32_t)e->nitems || !cs->items_loaded) {
        return 0;
    }
    for (i = 0; i < cs->nitems; i++) {
        /* a skipped item (AS_SYNC_SKIPPED) never sums like a listed one */
        sum += item_hash(cs->items[i].id, cs->items[i].flags, cs->items[i].etag);
    }
    return sum == e->prefix[cs->nitems];
}

void as_sync_index_note_prefix(void)
{
    pthread_mutex_lock(&index_lock);
    index_stats.prefixes++;
    pthread_mutex_unlock(&index_lock);
}

/* ---- window views ---------------------------------------------------------------- */

static apr_status_t release_view(void *data)
{
    as_sync_index_view_t *v = data;
    pthread_mutex_lock(&index_lock);
    v->refs--;
    pthread_mutex_unlock(&index_lock);
    return APR_SUCCESS;
}

/* Room for bytes more in the index, evicting entries other than e (under
 * the lock); 0 when there is none. */
static int make_room(as_sync_index_entry_t *e, apr_size_t bytes)
{
    as_sync_index_entry_t *t = index_tail;
    while (t && index_stats.bytes + bytes > index_limit) {
        as_sync_index_entry_t *prev = t->prev;
        if (t != e) {
            drop_entry(t);
        }
        t = prev;
    }
    return index_stats.bytes + bytes <= index_limit;
}

/* A new view of e for window (under the lock), taking the place of the
 * least recently used one no request holds when e has VIEWS_MAX; NULL when
 * all are held, e left the index or there is no room. */
static as_sync_index_view_t *view_make(as_sync_index_entry_t *e, apr_uint64_t window)
{
    apr_size_t n = (apr_size_t)e->nitems;
    apr_size_t bytes =
        sizeof(as_sync_index_view_t) + (n + 1) * sizeof(apr_uint64_t) + n * sizeof(int) + n;
    as_sync_index_view_t *v, **pv, **victim = NULL;
    int count = 0;

    if (!e->linked) {
        return NULL;
    }
    for (pv = &e->views; *pv; pv = &(*pv)->next) {
        count++;
        if ((*pv)->refs == 0 && (!victim || (*pv)->used < (*victim)->used)) {
            victim = pv;
        }
    }
    if (count >= VIEWS_MAX) {
        if (!victim) {
            return NULL;
        }
        v = *victim;
        *victim = v->next;
        e->bytes -= v->bytes;
        index_stats.bytes -= v->bytes;
        pthread_mutex_destroy(&v->lock);
        free(v);
    }
    if (!make_room(e, bytes) || !(v = calloc(1, bytes))) {
        return NULL;
    }
    pthread_mutex_init(&v->lock, NULL);
    v->entry = e;
    v->window = window;
    v->bytes = bytes;
    v->prefix = (apr_uint64_t *)(v + 1);
    v->inside = (int *)(v->prefix + n + 1);
    v->in = (unsigned char *)(v->inside + n);
    v->next = e->views;
    e->views = v;
    e->bytes += bytes;
    index_stats.bytes += bytes;
    index_stats.views++;
    return v;
}

as_sync_index_view_t *as_sync_index_view(as_sync_index_entry_t *e, apr_uint64_t window,
                                         apr_pool_t *p)
{
    as_sync_index_view_t *v;

    pthread_mutex_lock(&index_lock);
    for (v = e->views; v && v->window != window; v = v->next) {
    }
    if (!v) {
        v = view_make(e, window);
    }
    if (v) {
        v->refs++;
        v->used = ++index_clock;
    }
    pthread_mutex_unlock(&index_lock);
    if (v) {
        apr_pool_cleanup_register(p, v, release_view, apr_pool_cleanup_null);
    }
    return v;
}

/* Decide the items in order (under v->lock) until items[0..upto) are, or
 * want of them are found inside. */
static void view_extend(as_sync_index_view_t *v, int upto, int want, as_sync_inside_fn fn,
                        void *ctx, apr_pool_t *p)
{
    const as_store_item_t *items = v->entry->items;
    apr_pool_t *sp;
    int asked = 0;

    if (upto > v->entry->nitems) {
        upto = v->entry->nitems;
    }
    if (v->scanned >= upto || v->ninside >= want) {
        return;
    }
    apr_pool_create(&sp, p);
    while (v->scanned < upto && v->ninside < want) {
        const as_store_item_t *it = &items[v->scanned];
        int in = fn(ctx, it, sp) != 0;
        v->in[v->scanned++] = (unsigned char)in;
        if (in) {
            v->inside[v->ninside] = v->scanned - 1;
            v->prefix[v->ninside + 1] =
                v->prefix[v->ninside] +
                item_hash(it->id, it->flags & AS_SYNC_FLAGS_MASK, as_sync_etag_digest(it->etag));
            v->ninside++;
        }
        if (++asked % 64 == 0) {
            apr_pool_clear(sp); /* a calendar's decisions in bounded memory */
        }
    }
    apr_pool_destroy(sp);
}

int as_sync_index_view_inside(as_sync_index_view_t *v, int i, as_sync_inside_fn fn, void *ctx,
                              apr_pool_t *p)
{
    int in;
    pthread_mutex_lock(&v->lock);
    view_extend(v, i + 1, INT_MAX, fn, ctx, p);
    in = i < v->scanned && v->in[i];
    pthread_mutex_unlock(&v->lock);
    return in;
}

int as_sync_index_view_prefix(as_sync_index_view_t *v, const as_coll_state_t *cs,
                              as_sync_inside_fn fn, void *ctx, apr_pool_t *p)
{
    apr_uint64_t sum = 0;
    apr_uint32_t i;
    int ok;

    if (!cs->items_loaded || cs->nitems > (apr_uint32_t)v->entry->nitems) {
        return 0;
    }
    for (i = 0; i < cs->nitems; i++) {
        sum += item_hash(cs->items[i].id, cs->items[i].flags, cs->items[i].etag);
    }
    pthread_mutex_lock(&v->lock);
    view_extend(v, v->entry->nitems, (int)cs->nitems, fn, ctx, p);
    ok = v->ninside >= (int)cs->nitems && v->prefix[cs->nitems] == sum;
    pthread_mutex_unlock(&v->lock);
    return ok;
}

int as_sync_index_view_page(as_sync_index_view_t *v, int from, int max, int *out, int *more,
                            as_sync_inside_fn fn, void *ctx, apr_pool_t *p)
{
    int k, n = 0;

    pthread_mutex_lock(&v->lock);
    /* one more than the page: whether more remain, without deciding them all */
    view_extend(v, v->entry->nitems, max > 0 ? from + max + 1 : INT_MAX, fn, ctx, p);
    for (k = from; k < v->ninside && (max <= 0 || n < max); k++) {
        out[n++] = v->inside[k];
    }
    *more = k < v->ninside;
    pthread_mutex_unlock(&v->lock);
    return n;
}

void as_sync_index_stats(as_sync_index_stats_t *out)
{
    pthread_mutex_lock(&index_lock);
    *out = index_stats;
    pthread_mutex_unlock(&index_lock);
}

void as_sync_index_configure(apr_size_t limit)
{
    pthread_mutex_lock(&index_lock);
    index_limit = limit;
    while (index_tail) {
        drop_entry(index_tail);
    }
    memset(&index_stats, 0, sizeof(index_stats));
    pthread_mutex_unlock(&index_lock);
}
