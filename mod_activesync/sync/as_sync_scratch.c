/* The scratch view of a request (as_sync_engine.h): a child of r->pool with
 * an allocator apart from the worker thread's, so that a request that parks
 * does not keep its per-request work cached.
 *
 * A fresh allocator per request cost every Sync and Ping a map and unmap of
 * each block (APR maps its blocks), and an unmap in a threaded process stops
 * the other threads to flush their TLBs: about a fifth of a no-change
 * Sync's time.  So a few allocators are kept for the process, each keeping
 * at most SCRATCH_KEEP_BYTES of free blocks; a scratch view takes one and
 * gives it back when it closes (or when r->pool goes, if it never closed).
 * What the process keeps is bounded (SCRATCH_CACHED x SCRATCH_KEEP_BYTES)
 * whatever the number of parked requests, and nothing of a closed scratch
 * view stays with the parked request. */
#include <pthread.h>

#include <apr_allocator.h>

#include "activesync/as_sync_engine.h"

#define SCRATCH_CACHED     16
#define SCRATCH_KEEP_BYTES (256 * 1024)

static pthread_mutex_t cache_lock = PTHREAD_MUTEX_INITIALIZER;
static apr_allocator_t *cache[SCRATCH_CACHED];
static int cached;

static apr_allocator_t *allocator_take(void)
{
    apr_allocator_t *a = NULL;

    pthread_mutex_lock(&cache_lock);
    if (cached > 0) {
        a = cache[--cached];
    }
    pthread_mutex_unlock(&cache_lock);
    if (!a && apr_allocator_create(&a) == APR_SUCCESS) {
        apr_allocator_max_free_set(a, SCRATCH_KEEP_BYTES);
    }
    return a;
}

/* a is no longer used by any pool. */
static void allocator_give(apr_allocator_t *a)
{
    pthread_mutex_lock(&cache_lock);
    if (cached < SCRATCH_CACHED) {
        cache[cached++] = a;
        a = NULL;
    }
    pthread_mutex_unlock(&cache_lock);
    if (a) {
        apr_allocator_destroy(a);
    }
}

/* r->pool's cleanups run after its child pools are gone: the scratch pool
 * has returned its blocks by then. */
static apr_status_t parent_gone(void *data)
{
    allocator_give(data);
    return APR_SUCCESS;
}

apr_status_t as_sync_scratch_open(const as_request_t *r, as_request_t *scratch)
{
    apr_allocator_t *a = allocator_take();
    apr_pool_t *p = NULL;
    apr_status_t rv;

    if (!a) {
        return APR_ENOMEM;
    }
    if ((rv = apr_pool_create_ex(&p, r->pool, NULL, a)) != APR_SUCCESS) {
        allocator_give(a);
        return rv;
    }
    apr_pool_cleanup_register(r->pool, a, parent_gone, apr_pool_cleanup_null);
    *scratch = *r;
    scratch->pool = p;
    return APR_SUCCESS;
}

void as_sync_scratch_close(const as_request_t *r, as_request_t *scratch)
{
    if (scratch->pool && scratch->pool != r->pool) {
        apr_allocator_t *a = apr_pool_allocator_get(scratch->pool);
        apr_pool_destroy(scratch->pool);
        apr_pool_cleanup_kill(r->pool, a, parent_gone);
        allocator_give(a);
    }
    scratch->pool = r->pool;
}

void as_sync_park_light(as_request_t *r, as_request_t *scratch)
{
    as_sync_scratch_close(r, scratch);
    if (r->body) {
        xmlFreeDoc(r->body);
        r->body = NULL;
    }
    scratch->body = NULL;
}
