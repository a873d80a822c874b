/* The item cache (as_itemcache.h): one shared anonymous mapping holding a
 * header, a table of slots and a ring of records, under one process-shared
 * robust mutex.
 *
 * Ring: records are written in turn at the logical position head (the
 * byte offset is head modulo the ring's size; a record never wraps: the
 * bytes left at the end are skipped).  tail is the oldest record still
 * whole; writing past tail + ring size first walks tail forward, killing
 * the slot of each record it passes.  Record: hash (8 bytes), key length
 * (4), value length (4), key, value, padded to 8 bytes; a key length of
 * SKIP marks the filler at the ring's end.
 * Table: sets of WAYS slots chosen by the key's hash; a slot names a live
 * record (hash, position, length).  A new entry takes a dead slot of its
 * set, else the one of its oldest record. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "activesync/as_itemcache.h"
#include "as_itemcache_tree.h"

/* Ring bytes per slot, and slots per set: a converted item is about 1 KB,
 * but a calendar's window decisions (as_sync_window.c) are ~170 bytes, one
 * per event.  With 4 ways and 512 bytes a slot, 10,000 of them filled
 * about 1% of the sets past their ways, and as every Sync page looks up
 * the whole calendar in order, each entry of such a set was evicted before
 * it was asked again: ~300 files parsed again per page.  8 ways of 256
 * bytes make an overfull set rare (2 entries a set at 16M of 1 KB items),
 * for 12% of the mapping in slots. */
#define WAYS           8
#define BYTES_PER_SLOT 256
#define REC_HDR        16
#define SKIP           0xffffffffu
#define ALIGN8(n)      (((n) + 7) & ~(apr_size_t)7)

typedef struct slot_t {
    apr_uint64_t hash, pos;
    apr_uint32_t len, live;
} slot_t;

struct as_itemcache_t {
    pthread_mutex_t lock;
    apr_size_t max_bytes, nsets, ring_size;
    apr_uint64_t head, tail;
    unsigned long hits, misses, stored, evicted, refused, resets;
    apr_size_t entries, bytes;
};

#define HDR_BYTES ALIGN8(sizeof(as_itemcache_t))

static slot_t *slots_of(as_itemcache_t *c)
{
    return (slot_t *)((unsigned char *)c + HDR_BYTES);
}

static unsigned char *ring_of(as_itemcache_t *c)
{
    return (unsigned char *)(slots_of(c) + c->nsets * WAYS);
}

static apr_uint64_t key_hash(const char *k, apr_size_t n)
{
    apr_uint64_t h = 14695981039346656037ull; /* FNV-1a */
    apr_size_t i;
    for (i = 0; i < n; i++) {
        h = (h ^ (unsigned char)k[i]) * 1099511628211ull;
    }
    return h;
}

/* ---- the mapping and the lock --------------------------------------------------- */

as_itemcache_t *as_itemcache_create(apr_size_t max_bytes)
{
    pthread_mutexattr_t a;
    as_itemcache_t *c;
    apr_size_t nsets;

    if (max_bytes < AS_ITEMCACHE_MIN_BYTES) {
        max_bytes = AS_ITEMCACHE_MIN_BYTES;
    }
    c = mmap(NULL, max_bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (c == MAP_FAILED) {
        return NULL;
    }
    /* the mapping is zeroed: every slot dead, the ring empty */
    nsets = max_bytes / (BYTES_PER_SLOT * WAYS);
    c->nsets = nsets ? nsets : 1;
    c->max_bytes = max_bytes;
    c->ring_size = (max_bytes - HDR_BYTES - c->nsets * WAYS * sizeof(slot_t)) & ~(apr_size_t)7;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_setpshared(&a, PTHREAD_PROCESS_SHARED);
    pthread_mutexattr_setrobust(&a, PTHREAD_MUTEX_ROBUST);
    pthread_mutex_init(&c->lock, &a);
    pthread_mutexattr_destroy(&a);
    return c;
}

void as_itemcache_destroy(as_itemcache_t *c)
{
    /* the mutex is not destroyed: processes forked earlier may still use
     * it in their own mapping */
    if (c) {
        munmap(c, c->max_bytes);
    }
}

static void reset(as_itemcache_t *c)
{
    memset(slots_of(c), 0, c->nsets * WAYS * sizeof(slot_t));
    c->head = c->tail = 0;
    c->entries = c->bytes = 0;
    c->resets++;
}

static void cache_lock(as_itemcache_t *c)
{
    if (pthread_mutex_lock(&c->lock) == EOWNERDEAD) {
        /* its holder died, maybe halfway through a write: start afresh */
        reset(c);
        pthread_mutex_consistent(&c->lock);
    }
}

static pthread_once_t shared_once = PTHREAD_ONCE_INIT;
static as_itemcache_t *shared_cache;
static int shared_configured;

/* The configuration's pool going (a restart): this process's mapping goes
 * with it; children forked earlier keep theirs. */
static apr_status_t shared_forget(void *unused)
{
    (void)unused;
    as_itemcache_destroy(shared_cache);
    shared_cache = NULL;
    return APR_SUCCESS;
}

void as_itemcache_configure(apr_pool_t *pconf, apr_size_t max_bytes)
{
    if (max_bytes && max_bytes < AS_ITEMCACHE_MIN_BYTES) {
        max_bytes = AS_ITEMCACHE_MIN_BYTES;
    }
    shared_forget(NULL);
    shared_cache = max_bytes ? as_itemcache_create(max_bytes) : NULL;
    shared_configured = 1;
    apr_pool_cleanup_register(pconf, NULL, shared_forget, apr_pool_cleanup_null);
}

static void shared_init(void)
{
    if (!shared_configured) {
        shared_cache = as_itemcache_create(AS_ITEMCACHE_MAX_BYTES);
    }
}

as_itemcache_t *as_itemcache_shared(void)
{
    pthread_once(&shared_once, shared_init);
    return shared_cache;
}

static apr_uint32_t get32(const unsigned char *p)
{
    return ((apr_uint32_t)p[0] << 24) | ((apr_uint32_t)p[1] << 16) | ((apr_uint32_t)p[2] << 8) |
           p[3];
}

static void put32(unsigned char *p, apr_uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

/* ---- the table (under the lock) ------------------------------------------------- */

static slot_t *find(as_itemcache_t *c, apr_uint64_t h, const char *key, apr_size_t klen)
{
    slot_t *s = slots_of(c) + (h % c->nsets) * WAYS;
    int i;
    for (i = 0; i < WAYS; i++) {
        const unsigned char *r = ring_of(c) + s[i].pos % c->ring_size;
        if (s[i].live && s[i].hash == h && get32(r + 8) == klen &&
            !memcmp(r + REC_HDR, key, klen)) {
            return &s[i];
        }
    }
    return NULL;
}

static void kill_slot(as_itemcache_t *c, slot_t *s)
{
    s->live = 0;
    c->entries--;
    c->bytes -= s->len;
}

/* Walks tail forward until the ring has room up to the logical position
 * end, killing the slots of the records it passes. */
static void make_room(as_itemcache_t *c, apr_uint64_t end)
{
    while (c->tail < c->head && c->tail + c->ring_size < end) {
        apr_size_t off = (apr_size_t)(c->tail % c->ring_size);
        const unsigned char *r = ring_of(c) + off;
        apr_uint64_t h;
        apr_uint32_t klen;
        slot_t *s;
        int i;
        if (c->ring_size - off < REC_HDR || (klen = get32(r + 8)) == SKIP) {
            c->tail += c->ring_size - off;
            continue;
        }
        memcpy(&h, r, sizeof h);
        s = slots_of(c) + (h % c->nsets) * WAYS;
        for (i = 0; i < WAYS; i++) {
            if (s[i].live && s[i].pos == c->tail) {
                kill_slot(c, &s[i]);
                c->evicted++;
            }
        }
        c->tail += ALIGN8(REC_HDR + klen + get32(r + 12));
    }
    if (c->tail > c->head) {
        c->tail = c->head;
    }
}

/* The slot for a new record of hash h: a dead one of its set, else the one
 * of the oldest record (killed). */
static slot_t *take_slot(as_itemcache_t *c, apr_uint64_t h)
{
    slot_t *s = slots_of(c) + (h % c->nsets) * WAYS, *old = s;
    int i;
    for (i = 0; i < WAYS; i++) {
        if (!s[i].live) {
            return &s[i];
        }
        if (s[i].pos < old->pos) {
            old = &s[i];
        }
    }
    kill_slot(c, old);
    c->evicted++;
    return old;
}

/* Writes one record (the caller checked its length against the ring). */
static void store(as_itemcache_t *c, apr_uint64_t h, const char *key, apr_size_t klen,
                  const unsigned char *val, apr_size_t vlen)
{
    apr_size_t len = ALIGN8(REC_HDR + klen + vlen), off = (apr_size_t)(c->head % c->ring_size);
    apr_size_t skip = off + len > c->ring_size ? c->ring_size - off : 0;
    unsigned char *r;
    slot_t *s;

    make_room(c, c->head + skip + len);
    if (skip) {
        if (skip >= REC_HDR) {
            put32(ring_of(c) + off + 8, SKIP);
        }
        c->head += skip;
        off = 0;
    }
    if ((s = find(c, h, key, klen)) != NULL) {
        kill_slot(c, s);
    }
    s = take_slot(c, h);
    r = ring_of(c) + off;
    memcpy(r, &h, sizeof h);
    put32(r + 8, (apr_uint32_t)klen);
    put32(r + 12, (apr_uint32_t)vlen);
    memcpy(r + REC_HDR, key, klen);
    if (vlen) {
        memcpy(r + REC_HDR + klen, val, vlen);
    }
    s->hash = h;
    s->pos = c->head;
    s->len = (apr_uint32_t)len;
    s->live = 1;
    c->head += len;
    c->entries++;
    c->bytes += len;
    c->stored++;
}

/* ---- the interface -------------------------------------------------------------- */

int as_itemcache_get(as_itemcache_t *c, const char *key, xmlNodePtr appdata, unsigned flags)
{
    apr_size_t klen = strlen(key), vlen = 0;
    apr_uint64_t h = key_hash(key, klen);
    unsigned char *val = NULL;
    slot_t *s;
    int found = 0;

    cache_lock(c);
    if ((s = find(c, h, key, klen)) != NULL) {
        const unsigned char *r = ring_of(c) + s->pos % c->ring_size;
        vlen = get32(r + 12);
        /* copied out: the tree is rebuilt without holding the lock */
        if ((val = malloc(vlen ? vlen : 1)) != NULL) {
            memcpy(val, r + REC_HDR + klen, vlen);
            found = 1;
        }
    }
    if (found) {
        c->hits++;
    } else {
        c->misses++;
    }
    pthread_mutex_unlock(&c->lock);
    if (found && !as_itemcache_tree_get(val, vlen, appdata, flags)) {
        /* a half-built tree must not reach the device: the caller converts */
        xmlNodePtr n = appdata->children;
        while (n) {
            xmlNodePtr next = n->next;
            xmlUnlinkNode(n);
            xmlFreeNode(n);
            n = next;
        }
        cache_lock(c);
        if ((s = find(c, h, key, klen)) != NULL) {
            kill_slot(c, s);
        }
        c->hits--;
        c->misses++;
        pthread_mutex_unlock(&c->lock);
        found = 0;
    }
    free(val);
    return found;
}

void as_itemcache_put(as_itemcache_t *c, const char *key, xmlNodePtr appdata)
{
    apr_size_t klen = strlen(key), vlen = 0, max = c->ring_size / 8;
    unsigned char *val = NULL;
    int ok = klen + REC_HDR < max &&
             as_itemcache_tree_put(appdata, max - klen - REC_HDR, &val, &vlen) &&
             ALIGN8(REC_HDR + klen + vlen) <= max;

    cache_lock(c);
    if (ok) {
        store(c, key_hash(key, klen), key, klen, val, vlen);
    } else {
        c->refused++;
    }
    pthread_mutex_unlock(&c->lock);
    free(val);
}

void as_itemcache_stats(as_itemcache_t *c, as_itemcache_stats_t *out)
{
    cache_lock(c);
    out->hits = c->hits;
    out->misses = c->misses;
    out->stored = c->stored;
    out->evicted = c->evicted;
    out->refused = c->refused;
    out->resets = c->resets;
    out->entries = c->entries;
    out->bytes = c->bytes;
    out->max_bytes = c->max_bytes;
    pthread_mutex_unlock(&c->lock);
}
