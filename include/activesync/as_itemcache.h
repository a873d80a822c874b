/* The item cache: a message's converted ApplicationData kept in memory so
 * that a second device, or a re-sync, does not parse the MIME again (as
 * Dovecot's index cache does for IMAP).
 *
 * KEY: the caller builds it from everything the conversion depends on:
 * the file's identity as the folder listing gives it (Maildir base name
 * without flags, size, mtime in microseconds; so a file replaced under the
 * same base name, which gets a new mtime, is converted again), the item's
 * ids and the request's options (protocol, BodyPreferences, MIMESupport).
 * VALUE: the ApplicationData children in a compact serialised form; the
 * email:Read text and the email:Flag children are not stored but rebuilt
 * from the caller's current flags, which change without the file changing
 * content (a Maildir rename keeps the size and mtime).
 *
 * SHARED: the cache is one shared anonymous mapping; created before httpd
 * forks its children (as_itemcache_configure, from post_config), it is
 * shared by every child and thread, so a device whose requests land on
 * another child than the first device's still hits.  One process-shared,
 * robust mutex guards it: a child that dies holding it leaves the cache to
 * be emptied by the next user (then simply refilled).
 *
 * BOUND: the mapping (bookkeeping and entries) is max_bytes, fixed; entries
 * are written into a ring in turn and the oldest written are overwritten
 * first; an entry over an eighth of the bound is not kept at all.
 *
 * THREADS: every function but as_itemcache_configure may be called
 * concurrently. */
#ifndef AS_ITEMCACHE_H
#define AS_ITEMCACHE_H

#include <apr_pools.h>
#include <libxml/tree.h>

/* The default bound of the shared cache, bytes (ActiveSyncItemCache).
 * With the listing index (AS_SYNC_INDEX_BYTES, 24 MB) it keeps a child's
 * growth after a large initial sync under 50 MB; about 15,000 messages of
 * 1 KB (a plain body truncated at 5 KB takes what the body holds). */
#define AS_ITEMCACHE_MAX_BYTES ((apr_size_t)16 * 1024 * 1024)
/* The smallest cache made (a smaller non-zero bound is raised to it). */
#define AS_ITEMCACHE_MIN_BYTES ((apr_size_t)64 * 1024)

typedef struct as_itemcache_t as_itemcache_t;

typedef struct as_itemcache_stats_t {
    unsigned long hits, misses, stored, evicted, refused, resets;
    apr_size_t entries, bytes, max_bytes;
} as_itemcache_stats_t;

/* A cache of max_bytes (raised to AS_ITEMCACHE_MIN_BYTES) in a shared
 * anonymous mapping, shared with the processes forked afterwards; NULL
 * when the mapping fails. */
as_itemcache_t *as_itemcache_create(apr_size_t max_bytes);
void as_itemcache_destroy(as_itemcache_t *c);

/* The bound of the process's cache (0: no cache), and the cache made now,
 * so that the children forked next share it; unmapped in this process when
 * pconf is cleared (a restart: children forked earlier keep their mapping).
 * In httpd's parent, once per configuration (post_config). */
void as_itemcache_configure(apr_pool_t *pconf, apr_size_t max_bytes);
/* The process's cache: the configured one, else one of
 * AS_ITEMCACHE_MAX_BYTES made on first use (tools, tests); NULL when
 * configured off. */
as_itemcache_t *as_itemcache_shared(void);

/* On a hit, appends the cached children to appdata (an empty element of
 * a document), with Read and Flag from flags (AS_STORE_*), and returns 1;
 * else 0 (appdata left empty). */
int as_itemcache_get(as_itemcache_t *c, const char *key, xmlNodePtr appdata, unsigned flags);
/* Stores appdata's children under key (replacing an older entry); a tree
 * the cache cannot represent exactly, or one too large, is not stored. */
void as_itemcache_put(as_itemcache_t *c, const char *key, xmlNodePtr appdata);

void as_itemcache_stats(as_itemcache_t *c, as_itemcache_stats_t *out);

#endif
