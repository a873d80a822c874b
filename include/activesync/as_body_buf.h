/* The request body as it arrives: a malloc()ed buffer that starts small and
 * grows geometrically with the data actually received, never above a bound
 * (ActiveSyncMaxRequestSize).
 *
 * Why not one allocation of the announced Content-Length: a client that
 * announces a large body and then sends a few bytes (or nothing, or stalls)
 * would make the server commit that much memory for free.  Here the memory
 * follows the bytes: the first allocation is AS_BODY_BUF_FIRST, or the
 * announced length when that is smaller (then a small body costs exactly
 * one allocation of its size); each growth doubles the capacity (at most
 * the bound), so copying stays linear in the body size.
 *
 * The buffer is malloc() memory, not a pool's: the caller frees it with
 * as_body_buf_free() as soon as the body is decoded (a parked Ping keeps
 * its request pool for up to an hour). */
#ifndef AS_BODY_BUF_H
#define AS_BODY_BUF_H

#include <apr.h>
#include <apr_errno.h>

#define AS_BODY_BUF_FIRST 16384 /* bytes of the first allocation, at most */

typedef struct as_body_buf_t {
    unsigned char *data; /* NULL until the first byte arrives */
    apr_size_t len;      /* bytes received */
    apr_size_t cap;      /* bytes allocated */
    apr_size_t max;      /* the bound on len (and cap) */
    apr_size_t first;    /* size of the first allocation */
} as_body_buf_t;

/* An empty buffer (nothing allocated) for a body of at most max bytes
 * (max > 0).  announced: the Content-Length, or -1 when unknown (chunked);
 * it only caps the first allocation, it is never trusted as a size. */
void as_body_buf_init(as_body_buf_t *b, apr_off_t max, apr_off_t announced);

/* Appends data[0..n).  APR_ENOSPC: the body would be over max (nothing is
 * appended); APR_ENOMEM: no memory (nothing is appended). */
apr_status_t as_body_buf_append(as_body_buf_t *b, const void *data, apr_size_t n);

/* Frees the memory; the buffer is then empty (len and cap 0) and may be
 * freed again. */
void as_body_buf_free(as_body_buf_t *b);

#endif
