/* The item cache's value (as_itemcache.c): an ApplicationData's children
 * in a compact serialised form, and the tree rebuilt from it. */
#ifndef AS_ITEMCACHE_TREE_H
#define AS_ITEMCACHE_TREE_H

#include <apr_pools.h>
#include <libxml/tree.h>

/* appdata's children serialised into a malloc'd buffer (*out, *len), at most
 * max bytes; 0 when the tree cannot be rebuilt exactly (attributes other
 * than the OPAQUE marker, mixed content ...), is too large, or out of memory. */
int as_itemcache_tree_put(xmlNodePtr appdata, apr_size_t max, unsigned char **out, apr_size_t *len);
/* Appends the serialised elements to appdata, with email:Read and
 * email:Flag from flags (AS_STORE_*); 0 when val is not well formed (then
 * appdata may hold part of them). */
int as_itemcache_tree_get(const unsigned char *val, apr_size_t vlen, xmlNodePtr appdata,
                          unsigned flags);

#endif
