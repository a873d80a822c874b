/* The request body buffer: grows with the bytes received (as_body_buf.h). */
#include <stdlib.h>
#include <string.h>

#include "activesync/as_body_buf.h"

void as_body_buf_init(as_body_buf_t *b, apr_off_t max, apr_off_t announced)
{
    memset(b, 0, sizeof(*b));
    /* the bound is a configured apr_off_t: keep it within apr_size_t */
    b->max = max <= 0 ? 0 : (apr_uint64_t)max > APR_SIZE_MAX ? APR_SIZE_MAX : (apr_size_t)max;
    b->first = AS_BODY_BUF_FIRST;
    if (announced > 0 && announced < (apr_off_t)b->first) {
        b->first = (apr_size_t)announced;
    }
    if (b->first > b->max) {
        b->first = b->max;
    }
}

/* The capacity for need bytes: the first allocation, then doubling,
 * never over max (need <= max). */
static apr_size_t grown_cap(const as_body_buf_t *b, apr_size_t need)
{
    apr_size_t cap = b->cap ? b->cap : b->first;

    if (cap == 0) {
        cap = 1;
    }
    while (cap < need) {
        cap = cap > b->max / 2 ? b->max : cap * 2;
    }
    return cap;
}

apr_status_t as_body_buf_append(as_body_buf_t *b, const void *data, apr_size_t n)
{
    if (n > b->max - b->len) {
        return APR_ENOSPC;
    }
    if (n == 0) {
        return APR_SUCCESS;
    }
    if (b->len + n > b->cap) {
        apr_size_t cap = grown_cap(b, b->len + n);
        unsigned char *nd = realloc(b->data, cap);
        if (!nd) {
            return APR_ENOMEM;
        }
        b->data = nd;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, n);
    b->len += n;
    return APR_SUCCESS;
}

void as_body_buf_free(as_body_buf_t *b)
{
    free(b->data);
    b->data = NULL;
    b->len = b->cap = 0;
}
