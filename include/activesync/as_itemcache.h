/* The item cache: a message's converted ApplicationData kept in memory so
 * that a second device, or a re-sync, does not parse the MIME again (as
 * Dovecot's index cache does for IMAP).
 *
 * KEY: the caller builds it from everything the conversion depends on:
 * the file's identity (device, inode, size and mtime of the open file and
 * its Maildir base name without flags, as Dovecot's index cache checks;
 * so a replaced file is converted again), the item's ids and the
 * request's options (protocol, BodyPreferences, MIMESupport).
 * VALUE: the ApplicationData children in a compact serialised form; the
 * email:Read text and the email:Flag children are not stored but rebuilt
 * from the caller's current flags, which change without the file changing
 * content (a Maildir rename keeps the inode, size and mtime).
 *
 * BOUND: the entries' bytes (keys, values, bookkeeping) never exceed the
 * cache's max_bytes; the least recently used entries are dropped first and
 * an entry over an eighth of the bound is not kept at all.  A lost cache
 * (a new child process) is simply refilled by the next conversions.
 *
 * THREADS: every function may be called concurrently (one mutex). */
#ifndef AS_ITEMCACHE_H
#define AS_ITEMCACHE_H

#include <apr_pools.h>
#include <libxml/tree.h>

/* The per-process cache's bound, bytes. */
#define AS_ITEMCACHE_MAX_BYTES ((apr_size_t)32 * 1024 * 1024)

typedef struct as_itemcache_t as_itemcache_t;

typedef struct as_itemcache_stats_t {
    unsigned long hits, misses, stored, evicted, refused;
    apr_size_t entries, bytes, max_bytes;
} as_itemcache_stats_t;

/* A cache of at most max_bytes (malloc memory; NULL when out of memory). */
as_itemcache_t *as_itemcache_create(apr_size_t max_bytes);
void as_itemcache_destroy(as_itemcache_t *c);
/* The process's cache (AS_ITEMCACHE_MAX_BYTES), created on first use. */
as_itemcache_t *as_itemcache_shared(void);

/* On a hit, appends the cached children to appdata (an empty element of
 * a document), with Read and Flag from flags (AS_STORE_*), and returns 1;
 * else 0. */
int as_itemcache_get(as_itemcache_t *c, const char *key, xmlNodePtr appdata, unsigned flags);
/* Stores appdata's children under key (replacing an older entry); a tree
 * the cache cannot represent exactly, or one too large, is not stored. */
void as_itemcache_put(as_itemcache_t *c, const char *key, xmlNodePtr appdata);

void as_itemcache_stats(as_itemcache_t *c, as_itemcache_stats_t *out);

#endif
