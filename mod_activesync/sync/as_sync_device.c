/* Sync state records of a device as a whole (as_syncstate.h): the cached
 * last full Sync request (Q) and the removal of all a device's records. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_db_memo.h"
#include "activesync/as_syncstate.h"
#include "as_syncrec.h"

typedef struct cache_baton_t {
    apr_pool_t *p;
    char key[KEY_MAX];
    size_t kl;
    const char **xml;
    apr_size_t *len;
    const char *in;
    apr_size_t in_len;
    int same;
} cache_baton_t;

static int cache_get_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    cache_baton_t *c = baton;
    const unsigned char *v = NULL;
    size_t vl = 0;
    int rc = as_rec_read(as_db_handle(db, AS_DB_SYNC), txn, c->key, c->kl, c->p, &v, &vl, 0);
    *c->xml = NULL;
    *c->len = 0;
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    if (rc == 0) {
        *c->xml = apr_pstrmemdup(c->p, (const char *)v, vl);
        *c->len = vl;
    }
    return rc;
}

apr_status_t as_sync_cache_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                               const char **xml, apr_size_t *len)
{
    cache_baton_t c;
    memset(&c, 0, sizeof(c));
    c.p = p;
    c.xml = xml;
    c.len = len;
    c.kl = as_rec_key(c.key, 'Q', account, device, NULL);
    return as_db_txn(db, AS_DB_TXN_READ, cache_get_fn, &c);
}

static int cache_put_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    cache_baton_t *c = baton;
    return as_db_put(as_db_handle(db, AS_DB_SYNC), txn, c->key, c->kl, c->in, c->in_len);
}

/* Whether the cached request is already this one (c->same), so a device
 * repeating its request causes no write (issue 10). */
static int cache_same_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    cache_baton_t *c = baton;
    size_t len = c->in_len + 1;
    char *buf = malloc(len);
    int rc;

    if (!buf) {
        return 0; /* not known to be the same: written */
    }
    rc = as_db_get(as_db_handle(db, AS_DB_SYNC), txn, c->key, c->kl, buf, &len, 0);
    c->same = rc == 0 && len == c->in_len && memcmp(buf, c->in, len) == 0;
    free(buf);
    return rc == DB_NOTFOUND || rc == DB_BUFFER_SMALL ? 0 : rc;
}

/* The memo key of a device's cached request (as_db_memo.h): the record's
 * key behind a tag of its own. */
#define Q_MEMO_TAG "\001syncQ:"

static size_t q_memo_key(char *mk, const cache_baton_t *c)
{
    size_t tl = sizeof(Q_MEMO_TAG) - 1;
    memcpy(mk, Q_MEMO_TAG, tl);
    memcpy(mk + tl, c->key, c->kl);
    return tl + c->kl;
}

apr_status_t as_sync_cache_put(as_db_t *db, const char *account, const char *device,
                               const char *xml, apr_size_t len)
{
    cache_baton_t c;
    char mk[sizeof(Q_MEMO_TAG) + KEY_MAX];
    size_t mkl;
    as_db_mark_t mark;

    memset(&c, 0, sizeof(c));
    c.in = xml;
    c.in_len = len;
    c.kl = as_rec_key(c.key, 'Q', account, device, NULL);
    /* A device repeating its request: known to be stored already while
     * the database is unchanged since it was last compared. */
    mkl = q_memo_key(mk, &c);
    if (as_db_memo_equals(db, mk, mkl, xml, len, 0)) {
        return APR_SUCCESS;
    }
    as_db_mark(db, &mark); /* before the read (as_db_memo.h) */
    if (as_db_txn(db, AS_DB_TXN_READ, cache_same_fn, &c) == APR_SUCCESS && c.same) {
        as_db_memo_put(&mark, mk, mkl, xml, len, 0);
        return APR_SUCCESS;
    }
    return as_db_txn(db, 0, cache_put_fn, &c);
}

#define DROP_KINDS 6

typedef struct drop_baton_t {
    char prefix[DROP_KINDS][KEY_MAX];
    size_t plen[DROP_KINDS];
    int exact[DROP_KINDS]; /* the prefix is the whole key */
    apr_array_header_t *keys;
    apr_pool_t *p;
} drop_baton_t;

static int drop_collect(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    drop_baton_t *d = baton;
    char **k = apr_array_push(d->keys);
    (void)val;
    (void)vlen;
    *k = apr_pstrmemdup(d->p, key, klen);
    return 0;
}

static int drop_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    drop_baton_t *d = baton;
    DB *dbp = as_db_handle(db, AS_DB_SYNC);
    int i, rc;
    apr_array_clear(d->keys);
    for (i = 0; i < DROP_KINDS; i++) {
        if (d->exact[i]) {
            *(char **)apr_array_push(d->keys) = apr_pstrmemdup(d->p, d->prefix[i], d->plen[i]);
        } else if ((rc = as_db_iterate(dbp, txn, d->prefix[i], d->plen[i], drop_collect, d)) != 0) {
            return rc;
        }
    }
    for (i = 0; i < d->keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(d->keys, i, const char *);
        if ((rc = as_db_del(dbp, txn, k, strlen(k))) != 0 && rc != DB_NOTFOUND) {
            return rc;
        }
    }
    return 0;
}

apr_status_t as_syncstate_drop_device(as_db_t *db, const char *account, const char *device)
{
    /* P: the remembered Ping of the device ("P/account\tdevice", as_cmd_ping.c) */
    static const char kinds[DROP_KINDS] = {'H', 'C', 'I', 'R', 'Q', 'P'};
    drop_baton_t d;
    apr_status_t rv;
    int i;
    apr_pool_create(&d.p, NULL);
    d.keys = apr_array_make(d.p, 16, sizeof(const char *));
    for (i = 0; i < DROP_KINDS; i++) {
        /* "K/account\t" (all devices) or "K/account\tDEVICE" + the end of the device
         * field: '\t' for collections, nothing more for H, Q and P (exact key) */
        d.plen[i] = (size_t)apr_snprintf(d.prefix[i], KEY_MAX, "%c/%s\t%s", kinds[i], account,
                                         device ? device : "");
        if (device && (kinds[i] == 'C' || kinds[i] == 'I' || kinds[i] == 'R')) {
            d.prefix[i][d.plen[i]++] = '\t';
        }
        d.exact[i] = device && (kinds[i] == 'H' || kinds[i] == 'Q' || kinds[i] == 'P');
    }
    rv = as_db_txn(db, 0, drop_fn, &d);
    apr_pool_destroy(d.p);
    return rv;
}
