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
 * the sums of a keyed hash of (id, flags, ETag digest) over every prefix. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "activesync/as_sync_engine.h"

struct as_sync_index_entry_t {
    struct as_sync_index_entry_t *prev, *next; /* most recently used first */
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
        free(e);
    }
}

static apr_status_t release_entry(void *data)
{
    as_sync_index_entry_t *e = data;
    pthread_mutex_lock(&index_lock);
    if (--e->refs == 0 && !e->linked) {
        free(e);
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
