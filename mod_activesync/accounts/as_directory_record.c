/* Directory records: encoding, keys, reads and writes, prefix scans.  See
 * as_directory.h for the record encoding. */
#include <string.h>

#include <apr_strings.h>

#include "as_directory_record.h"

void as_dirrec_apply_edit(as_optset_t *s, as_polset_t *pol, const as_optedit_t *e)
{
    int i;
    for (i = 0; i < AS_OPT_COUNT; i++) {
        if ((e->set_mask >> i) & 1) {
            as_optset_set(s, i, (e->set_value >> i) & 1);
        } else if ((e->unset_mask >> i) & 1) {
            as_optset_unset(s, i);
        }
    }
    if (e->policy) {
        as_poledit_apply(pol, e->policy);
    }
}

/* ---- records ---------------------------------------------------------------- */

static void put_be64(unsigned char *b, apr_uint64_t v)
{
    int i;
    for (i = 7; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static apr_uint64_t get_be64(const unsigned char *b)
{
    apr_uint64_t v = 0;
    int i;
    for (i = 0; i < 8; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

size_t as_dirrec_encode(unsigned char *buf, const as_optset_t *o, apr_time_t mtime, const char *cls,
                        const as_polset_t *pol, const unsigned char *ident, size_t ident_len)
{
    size_t n = REC_HEAD, l = cls ? strlen(cls) : 0;
    int v2 = !as_polset_empty(pol), v3 = ident_len > 0;

    /* the lowest version that holds it, so older modules read what they can */
    buf[0] = v3 ? REC_VERSION3 : v2 ? REC_VERSION2 : REC_VERSION1;
    buf[1] = o->defined & OPT_MASK;
    buf[2] = o->value & o->defined & OPT_MASK;
    buf[3] = v2 || v3 ? (unsigned char)l : 0;
    put_be64(buf + 4, (apr_uint64_t)mtime);
    memcpy(buf + REC_HEAD, cls ? cls : "", l);
    n += l;
    if (v3) {
        memcpy(buf + n, ident, ident_len);
        n += ident_len;
    }
    if (v2 || v3) {
        as_polset_t none = {0};
        n += as_polset_encode(pol ? pol : &none, buf + n);
    }
    return n;
}

int as_dirrec_decode(const unsigned char *buf, size_t len, rec_t *r)
{
    size_t cl, at;

    r->opts.defined = r->opts.value = 0;
    r->cls[0] = '\0';
    r->pol.defined = 0;
    r->ident_len = 0;
    if (len < REC_HEAD || len > REC_MAX || buf[0] < REC_VERSION1 || buf[0] > REC_VERSION3) {
        return AS_DB_ECORRUPT;
    }
    cl = buf[0] == REC_VERSION1 ? len - REC_HEAD : buf[3];
    if (cl > CLASS_MAX || REC_HEAD + cl > len) {
        return AS_DB_ECORRUPT;
    }
    r->opts.defined = buf[1] & OPT_MASK;
    r->opts.value = buf[2] & r->opts.defined;
    r->mtime = (apr_time_t)get_be64(buf + 4);
    memcpy(r->cls, buf + REC_HEAD, cl);
    r->cls[cl] = '\0';
    at = REC_HEAD + cl;
    if (buf[0] == REC_VERSION3) {
        r->ident_len = as_dirrec_ident_size(buf + at, len - at);
        if (r->ident_len == 0) {
            return AS_DB_ECORRUPT;
        }
        memcpy(r->ident, buf + at, r->ident_len);
        at += r->ident_len;
    }
    if (buf[0] != REC_VERSION1) {
        return as_polset_decode(buf + at, len - at, &r->pol);
    }
    return 0;
}

/* ---- identity ------------------------------------------------------------------ */

size_t as_dirrec_ident_encode(unsigned char *buf, const char *name,
                              const apr_array_header_t *aliases)
{
    size_t nl = name ? strlen(name) : 0, n;
    int i, count = 0;

    if (nl > AS_DIR_NAME_MAX) {
        nl = 0;
    }
    buf[0] = (unsigned char)nl;
    memcpy(buf + 1, name ? name : "", nl);
    n = 2 + nl;
    for (i = 0; aliases && i < aliases->nelts && count < AS_DIR_ALIASES_MAX; i++) {
        const char *a = APR_ARRAY_IDX(aliases, i, const char *);
        size_t al = strlen(a);
        if (al == 0 || al > LOCAL_MAX + 1 + DOMAIN_MAX) {
            continue;
        }
        buf[n] = (unsigned char)(al >> 8);
        buf[n + 1] = (unsigned char)(al & 0xff);
        memcpy(buf + n + 2, a, al);
        n += 2 + al;
        count++;
    }
    buf[1 + nl] = (unsigned char)count;
    return nl == 0 && count == 0 ? 0 : n;
}

size_t as_dirrec_ident_size(const unsigned char *buf, size_t len)
{
    size_t nl, n;
    unsigned count, k;

    if (len < 2 || (nl = buf[0]) > AS_DIR_NAME_MAX || 2 + nl > len || memchr(buf + 1, 0, nl)) {
        return 0;
    }
    count = buf[1 + nl];
    n = 2 + nl;
    if (count > AS_DIR_ALIASES_MAX || (nl == 0 && count == 0)) {
        return 0;
    }
    for (k = 0; k < count; k++) {
        size_t al;
        if (n + 2 > len) {
            return 0;
        }
        al = ((size_t)buf[n] << 8) | buf[n + 1];
        n += 2;
        if (al == 0 || al > LOCAL_MAX + 1 + DOMAIN_MAX || n + al > len || memchr(buf + n, 0, al)) {
            return 0;
        }
        n += al;
    }
    return n;
}

void as_dirrec_ident_decode(apr_pool_t *p, const unsigned char *buf, size_t len, const char **name,
                            const apr_array_header_t **aliases)
{
    size_t nl, n;
    unsigned count, k;
    apr_array_header_t *arr;

    *name = NULL;
    *aliases = NULL;
    if (len == 0 || as_dirrec_ident_size(buf, len) == 0) {
        return;
    }
    nl = buf[0];
    if (nl) {
        *name = apr_pstrmemdup(p, (const char *)buf + 1, nl);
    }
    count = buf[1 + nl];
    n = 2 + nl;
    if (count == 0) {
        return;
    }
    arr = apr_array_make(p, (int)count, sizeof(const char *));
    for (k = 0; k < count; k++) {
        size_t al = ((size_t)buf[n] << 8) | buf[n + 1];
        APR_ARRAY_PUSH(arr, const char *) = apr_pstrmemdup(p, (const char *)buf + n + 2, al);
        n += 2 + al;
    }
    *aliases = arr;
}

/* A pool copy of a level's policy settings, NULL when it has none. */
const as_polset_t *as_dirrec_pol_dup(apr_pool_t *p, const as_polset_t *s)
{
    return as_polset_empty(s) ? NULL : apr_pmemdup(p, s, sizeof(*s));
}

size_t as_dirrec_key(char *buf, char kind, const char *a, const char *b)
{
    size_t n = (size_t)apr_snprintf(buf, KEY_MAX, "%c:%s%s%s", kind, a, b ? "/" : "", b ? b : "");
    return n;
}

/* 0 found, DB_NOTFOUND, or an error. */
int as_dirrec_get(DB *dbp, DB_TXN *txn, const char *key, size_t klen, rec_t *r, int rmw)
{
    unsigned char buf[REC_MAX + 16];
    size_t len = sizeof(buf);
    int rc = as_db_get(dbp, txn, key, klen, buf, &len, rmw ? DB_RMW : 0);

    if (rc == DB_BUFFER_SMALL) {
        return AS_DB_ECORRUPT;
    }
    if (rc != 0) {
        return rc;
    }
    return as_dirrec_decode(buf, len, r);
}

int as_dirrec_put(DB *dbp, DB_TXN *txn, const char *key, size_t klen, const as_optset_t *o,
                  const char *cls, const as_polset_t *pol, const unsigned char *ident,
                  size_t ident_len)
{
    unsigned char buf[REC_MAX];
    size_t n = as_dirrec_encode(buf, o, apr_time_now(), cls, pol, ident, ident_len);
    return as_db_put(dbp, txn, key, klen, buf, n);
}

void as_dirrec_split_address(apr_pool_t *p, const char *address, const char **local,
                             const char **domain)
{
    const char *at = strrchr(address, '@');
    *local = apr_pstrmemdup(p, address, (apr_size_t)(at - address));
    *domain = at + 1;
}

int as_dirrec_count_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    count_t *c = baton;
    if (c->cls) {
        rec_t r;
        if (as_dirrec_decode(val, vlen, &r) != 0) {
            return AS_DB_ECORRUPT;
        }
        if (strcmp(r.cls, c->cls) != 0) {
            return 0;
        }
    }
    c->n++;
    if (c->keys) {
        APR_ARRAY_PUSH(c->keys, const char *) = apr_pstrmemdup(c->p, key, klen);
    }
    return 0;
}

/* The key prefix of every KIND record ('c' class, 'a' account, 'm' mailbox) of domain,
 * or of every domain when domain is NULL. */
size_t as_dirrec_prefix(char *buf, char kind, const char *domain)
{
    return (size_t)(domain ? apr_snprintf(buf, KEY_MAX, "%c:%s/", kind, domain)
                           : apr_snprintf(buf, KEY_MAX, "%c:", kind));
}

int as_dirrec_scan(DB *dbp, DB_TXN *txn, char kind, const char *domain, as_db_iter_fn *cb,
                   void *baton)
{
    char prefix[KEY_MAX];
    size_t n = as_dirrec_prefix(prefix, kind, domain);
    return as_db_iterate(dbp, txn, prefix, n, cb, baton);
}

int as_dirrec_scan_count(DB *dbp, DB_TXN *txn, char kind, const char *domain, const char *cls,
                         int *n)
{
    count_t c = {0, cls, NULL, NULL};
    int rc = as_dirrec_scan(dbp, txn, kind, domain, as_dirrec_count_cb, &c);
    *n = c.n;
    return rc;
}
