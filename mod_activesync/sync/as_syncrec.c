/* Encoding and keys of the sync state records (as_syncrec.h). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "as_syncrec.h"

void as_rec_put(wbuf_t *b, const void *s, size_t n)
{
    if (b->oom) {
        return;
    }
    if (b->len + n > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 256;
        unsigned char *nd;
        while (nc < b->len + n) {
            nc *= 2;
        }
        if (!(nd = realloc(b->d, nc))) {
            b->oom = 1;
            return;
        }
        b->d = nd;
        b->cap = nc;
    }
    memcpy(b->d + b->len, s, n);
    b->len += n;
}

void as_rec_put_u32(wbuf_t *b, apr_uint32_t v)
{
    unsigned char c[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
                          (unsigned char)(v >> 8), (unsigned char)v};
    as_rec_put(b, c, 4);
}

void as_rec_put_u64(wbuf_t *b, apr_uint64_t v)
{
    as_rec_put_u32(b, (apr_uint32_t)(v >> 32));
    as_rec_put_u32(b, (apr_uint32_t)v);
}

/* A string: u32 length + 1 (0 = NULL), bytes. */
void as_rec_put_str(wbuf_t *b, const char *s, size_t len)
{
    if (!s) {
        as_rec_put_u32(b, 0);
        return;
    }
    if (len >= (size_t)APR_UINT32_MAX) {
        b->oom = 1; /* the length field cannot hold it: refuse the record */
        return;
    }
    as_rec_put_u32(b, (apr_uint32_t)len + 1);
    as_rec_put(b, s, len);
}

apr_uint32_t as_rec_get_u32(rbuf_t *b)
{
    const unsigned char *c;
    if (b->bad || b->len - b->pos < 4) {
        b->bad = 1;
        return 0;
    }
    c = b->d + b->pos;
    b->pos += 4;
    return (apr_uint32_t)c[0] << 24 | (apr_uint32_t)c[1] << 16 | (apr_uint32_t)c[2] << 8 | c[3];
}

apr_uint64_t as_rec_get_u64(rbuf_t *b)
{
    apr_uint64_t hi = as_rec_get_u32(b);
    return hi << 32 | as_rec_get_u32(b);
}

const char *as_rec_get_str(rbuf_t *b, apr_pool_t *p, apr_size_t *len)
{
    apr_uint32_t l = as_rec_get_u32(b);
    const char *s;
    if (b->bad || l == 0) {
        if (len) {
            *len = 0;
        }
        return NULL;
    }
    l--;
    if (b->len - b->pos < l) {
        b->bad = 1;
        return NULL;
    }
    s = apr_pstrmemdup(p, (const char *)b->d + b->pos, l);
    b->pos += l;
    if (len) {
        *len = l;
    }
    return s;
}

/* ---- keys --------------------------------------------------------------------- */

size_t as_rec_key(char *buf, char kind, const char *account, const char *device, const char *coll)
{
    int n = apr_snprintf(buf, KEY_MAX, "%c/%s\t%s%s%s", kind, account, device ? device : "",
                         coll ? "\t" : "", coll ? coll : "");
    return (size_t)n;
}

/* Read a whole record into pool memory; DB_NOTFOUND passes through. */
int as_rec_read(DB *dbp, DB_TXN *txn, const char *key, size_t kl, apr_pool_t *p,
                const unsigned char **val, size_t *vlen, u_int32_t flags)
{
    unsigned char small[1024];
    size_t len = sizeof(small);
    int rc = as_db_get(dbp, txn, key, kl, small, &len, flags);
    if (rc == DB_BUFFER_SMALL) {
        unsigned char *big = apr_palloc(p, len);
        rc = as_db_get(dbp, txn, key, kl, big, &len, flags);
        *val = big;
    } else if (rc == 0) {
        *val = apr_pmemdup(p, small, len);
    }
    *vlen = len;
    return rc;
}

/* Lock a hierarchy or collection header (DB_RMW) and check it still has
 * generation/counter gen/n (0/0: absent): both start with version, gen, n. */
int as_rec_check_expected(DB *dbp, DB_TXN *txn, const char *key, size_t kl, apr_uint32_t gen,
                          apr_uint32_t n)
{
    unsigned char buf[9];
    size_t len = sizeof(buf);
    rbuf_t b = {buf, sizeof(buf), 1, 0};
    DBT k, v;
    int rc;

    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    k.data = (void *)key;
    k.size = (u_int32_t)kl;
    v.data = buf;
    v.ulen = (u_int32_t)sizeof(buf);
    v.dlen = (u_int32_t)sizeof(buf);
    v.doff = 0;
    v.flags = DB_DBT_USERMEM | DB_DBT_PARTIAL;
    rc = dbp->get(dbp, txn, &k, &v, DB_RMW);
    if (rc == DB_NOTFOUND) {
        return gen == 0 && n == 0 ? 0 : AS_SYNC_ESTALE;
    }
    if (rc) {
        return rc;
    }
    len = v.size;
    if (len < sizeof(buf) || buf[0] != REC_VERSION) {
        return AS_DB_ECORRUPT;
    }
    return as_rec_get_u32(&b) == gen && as_rec_get_u32(&b) == n ? 0 : AS_SYNC_ESTALE;
}
