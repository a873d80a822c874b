/* MultiPartResponse bodies (as_multipart.h). */
#include <string.h>

#include "activesync/as_multipart.h"

#define MP_MAX 0x7fffffffu /* offsets and lengths are int32 */

static void put32(unsigned char *b, apr_uint32_t v)
{
    b[0] = (unsigned char)v;
    b[1] = (unsigned char)(v >> 8);
    b[2] = (unsigned char)(v >> 16);
    b[3] = (unsigned char)(v >> 24);
}

static apr_uint32_t get32(const unsigned char *b)
{
    return (apr_uint32_t)b[0] | (apr_uint32_t)b[1] << 8 | (apr_uint32_t)b[2] << 16 |
           (apr_uint32_t)b[3] << 24;
}

int as_multipart_add(apr_pool_t *p, apr_array_header_t **parts, const void *data, apr_size_t len)
{
    as_multipart_part_t *pt;
    if (!*parts) {
        *parts = apr_array_make(p, 2, sizeof(as_multipart_part_t));
    }
    pt = apr_array_push(*parts);
    pt->data = data;
    pt->len = len;
    return (*parts)->nelts;
}

apr_status_t as_multipart_header(apr_pool_t *p, apr_size_t part0_len,
                                 const apr_array_header_t *parts, const unsigned char **hdr,
                                 apr_size_t *hdr_len)
{
    int n = 1 + (parts ? parts->nelts : 0), i;
    apr_size_t hl = 4 + 8 * (apr_size_t)n, off = hl;
    unsigned char *h = apr_palloc(p, hl);

    put32(h, (apr_uint32_t)n);
    for (i = 0; i < n; i++) {
        apr_size_t len = i == 0 ? part0_len : APR_ARRAY_IDX(parts, i - 1, as_multipart_part_t).len;
        if (len > MP_MAX || off > MP_MAX - len) {
            return APR_EINVAL;
        }
        put32(h + 4 + 8 * i, (apr_uint32_t)off);
        put32(h + 8 + 8 * i, (apr_uint32_t)len);
        off += len;
    }
    *hdr = h;
    *hdr_len = hl;
    return APR_SUCCESS;
}

apr_status_t as_multipart_build(apr_pool_t *p, const void *part0, apr_size_t part0_len,
                                const apr_array_header_t *parts, const unsigned char **out,
                                apr_size_t *out_len)
{
    const unsigned char *hdr;
    apr_size_t hl, total;
    unsigned char *buf, *w;
    apr_status_t rv;
    int i;

    if ((rv = as_multipart_header(p, part0_len, parts, &hdr, &hl)) != APR_SUCCESS) {
        return rv;
    }
    total = hl + part0_len;
    for (i = 0; parts && i < parts->nelts; i++) {
        total += APR_ARRAY_IDX(parts, i, as_multipart_part_t).len;
    }
    w = buf = apr_palloc(p, total ? total : 1);
    memcpy(w, hdr, hl);
    w += hl;
    if (part0_len) {
        memcpy(w, part0, part0_len);
        w += part0_len;
    }
    for (i = 0; parts && i < parts->nelts; i++) {
        const as_multipart_part_t *pt = &APR_ARRAY_IDX(parts, i, as_multipart_part_t);
        if (pt->len) {
            memcpy(w, pt->data, pt->len);
            w += pt->len;
        }
    }
    *out = buf;
    *out_len = total;
    return APR_SUCCESS;
}

apr_status_t as_multipart_parse(apr_pool_t *p, const void *buf, apr_size_t len,
                                apr_array_header_t **parts)
{
    const unsigned char *b = buf;
    apr_uint32_t n, i;

    if (len < 4) {
        return APR_EINVAL;
    }
    n = get32(b);
    if (n == 0 || n > (len - 4) / 8) {
        return APR_EINVAL;
    }
    *parts = apr_array_make(p, (int)n, sizeof(as_multipart_part_t));
    for (i = 0; i < n; i++) {
        apr_uint32_t off = get32(b + 4 + 8 * i), l = get32(b + 8 + 8 * i);
        as_multipart_part_t *pt;
        if (off < 4 + 8 * n || off > len || l > len - off) {
            return APR_EINVAL;
        }
        pt = apr_array_push(*parts);
        pt->data = b + off;
        pt->len = l;
    }
    return APR_SUCCESS;
}
