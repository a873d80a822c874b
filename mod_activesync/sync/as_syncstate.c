/* Sync state records (see as_syncstate.h for the layout and rules). */
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_random.h>
#include <apr_general.h>

#include "activesync/as_db_memo.h"
#include "activesync/as_syncstate.h"

#include "as_syncrec.h"

/* ---- sync keys ---------------------------------------------------------------- */

const char *as_synckey_format(apr_pool_t *p, apr_uint32_t gen, apr_uint32_t n)
{
    return apr_psprintf(p, "{%08x}%u", gen, n);
}

int as_synckey_parse(const char *key, apr_uint32_t *gen, apr_uint32_t *n)
{
    apr_uint64_t v = 0;
    apr_uint32_t g = 0;
    int i;

    if (!key || key[0] != '{' || strlen(key) < 11 || strlen(key) > 20 || key[9] != '}') {
        return 0;
    }
    for (i = 1; i < 9; i++) {
        char c = key[i];
        int d = c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
        if (d < 0) {
            return 0;
        }
        g = g << 4 | (apr_uint32_t)d;
    }
    for (i = 10; key[i]; i++) {
        if (key[i] < '0' || key[i] > '9' || (i == 10 && key[i] == '0')) {
            return 0;
        }
        v = v * 10 + (apr_uint64_t)(key[i] - '0');
        if (v > 0xFFFFFFFFu) {
            return 0;
        }
    }
    if (v == 0 || g == 0) {
        return 0;
    }
    *gen = g;
    *n = (apr_uint32_t)v;
    return 1;
}

apr_uint32_t as_synckey_new_gen(void)
{
    apr_uint32_t g = 0;
    while (g == 0) {
        unsigned char b[4];
        if (apr_generate_random_bytes(b, sizeof(b)) != APR_SUCCESS) {
            g = (apr_uint32_t)apr_time_now() ^ (apr_uint32_t)(apr_time_now() >> 32);
        } else {
            g = (apr_uint32_t)b[0] << 24 | (apr_uint32_t)b[1] << 16 | (apr_uint32_t)b[2] << 8 |
                b[3];
        }
    }
    return g;
}

as_key_match_t as_synckey_match(const char *key, apr_uint32_t gen, apr_uint32_t n)
{
    apr_uint32_t g, k;
    if (key && !strcmp(key, "0")) {
        return AS_KEY_INITIAL;
    }
    if (n == 0 || !as_synckey_parse(key, &g, &k) || g != gen) {
        return AS_KEY_UNKNOWN;
    }
    if (k == n) {
        return AS_KEY_CURRENT;
    }
    if (k + 1 == n) {
        return AS_KEY_PREVIOUS;
    }
    return AS_KEY_UNKNOWN;
}

/* ---- hierarchy ---------------------------------------------------------------- */

static void w_folders(wbuf_t *b, const apr_array_header_t *set)
{
    int i, n = set ? set->nelts : 0;
    as_rec_put_u32(b, (apr_uint32_t)n);
    for (i = 0; i < n; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(set, i, as_store_folder_t);
        as_rec_put_str(b, f->id, strlen(f->id));
        as_rec_put_str(b, f->parent_id, strlen(f->parent_id));
        as_rec_put_str(b, f->name, strlen(f->name));
        as_rec_put_u32(b, (apr_uint32_t)f->type);
    }
}

static apr_array_header_t *r_folders(rbuf_t *b, apr_pool_t *p)
{
    apr_uint32_t i, n = as_rec_get_u32(b);
    apr_array_header_t *set;
    if (b->bad || n > 100000) {
        b->bad = 1;
        return apr_array_make(p, 1, sizeof(as_store_folder_t));
    }
    set = apr_array_make(p, (int)n + 1, sizeof(as_store_folder_t));
    for (i = 0; i < n && !b->bad; i++) {
        as_store_folder_t *f = apr_array_push(set);
        f->id = as_rec_get_str(b, p, NULL);
        f->parent_id = as_rec_get_str(b, p, NULL);
        f->name = as_rec_get_str(b, p, NULL);
        f->type = (int)as_rec_get_u32(b);
        f->path = "";
        if (!f->id || !f->parent_id || !f->name) {
            b->bad = 1;
        }
    }
    return set;
}

typedef struct hier_baton_t {
    apr_pool_t *p;
    char key[KEY_MAX];
    size_t kl;
    as_hier_state_t *out;
    const as_hier_state_t *in;
    apr_uint32_t expect_gen, expect_n;
} hier_baton_t;

/* Start reading a hierarchy or collection record: its version byte, then
 * the generation and count every such record begins with. */
static int rec_open(rbuf_t *b, const unsigned char *v, size_t vl, apr_uint32_t *gen,
                    apr_uint32_t *n)
{
    b->d = v;
    b->len = vl;
    b->pos = 1;
    b->bad = 0;
    if (vl < 1 || v[0] != REC_VERSION) {
        return AS_DB_ECORRUPT;
    }
    *gen = as_rec_get_u32(b);
    *n = as_rec_get_u32(b);
    return 0;
}

static int hier_decode(const unsigned char *v, size_t vl, apr_pool_t *p, as_hier_state_t *out)
{
    rbuf_t b;
    if (rec_open(&b, v, vl, &out->gen, &out->n) != 0) {
        return AS_DB_ECORRUPT;
    }
    out->token = as_rec_get_str(&b, p, NULL);
    out->folders = r_folders(&b, p);
    out->prev = r_folders(&b, p);
    out->reply = as_rec_get_str(&b, p, &out->reply_len);
    return b.bad ? AS_DB_ECORRUPT : 0;
}

static void hier_clear(apr_pool_t *p, as_hier_state_t *out)
{
    memset(out, 0, sizeof(*out));
    out->folders = apr_array_make(p, 1, sizeof(as_store_folder_t));
    out->prev = apr_array_make(p, 1, sizeof(as_store_folder_t));
}

static int hier_get_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    hier_baton_t *hb = baton;
    const unsigned char *v = NULL;
    size_t vl = 0;
    int rc = as_rec_read(as_db_handle(db, AS_DB_SYNC), txn, hb->key, hb->kl, hb->p, &v, &vl, 0);
    hier_clear(hb->p, hb->out);
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    return rc ? rc : hier_decode(v, vl, hb->p, hb->out);
}

apr_status_t as_hier_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                         as_hier_state_t *out)
{
    hier_baton_t hb;
    memset(&hb, 0, sizeof(hb));
    hb.p = p;
    hb.out = out;
    hb.kl = as_rec_key(hb.key, 'H', account, device, NULL);
    return as_db_txn(db, AS_DB_TXN_READ, hier_get_fn, &hb);
}

static int hier_put_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    hier_baton_t *hb = baton;
    DB *dbp = as_db_handle(db, AS_DB_SYNC);
    wbuf_t b = {0};
    int rc = as_rec_check_expected(dbp, txn, hb->key, hb->kl, hb->expect_gen, hb->expect_n);

    if (rc) {
        return rc;
    }
    as_rec_put(&b, "\001", 1);
    as_rec_put_u32(&b, hb->in->gen);
    as_rec_put_u32(&b, hb->in->n);
    as_rec_put_str(&b, hb->in->token, hb->in->token ? strlen(hb->in->token) : 0);
    w_folders(&b, hb->in->folders);
    w_folders(&b, hb->in->prev);
    as_rec_put_str(&b, hb->in->reply, hb->in->reply_len);
    if (b.oom) {
        free(b.d);
        return ENOMEM;
    }
    rc = as_db_put(dbp, txn, hb->key, hb->kl, b.d, b.len);
    free(b.d);
    return rc;
}

apr_status_t as_hier_put(as_db_t *db, const char *account, const char *device,
                         apr_uint32_t expect_gen, apr_uint32_t expect_n, const as_hier_state_t *st)
{
    hier_baton_t hb;
    apr_pool_t *p;
    apr_status_t rv;
    memset(&hb, 0, sizeof(hb));
    apr_pool_create(&p, NULL);
    hb.p = p;
    hb.in = st;
    hb.expect_gen = expect_gen;
    hb.expect_n = expect_n;
    hb.kl = as_rec_key(hb.key, 'H', account, device, NULL);
    rv = as_db_txn(db, 0, hier_put_fn, &hb);
    apr_pool_destroy(p);
    return rv;
}

const as_store_folder_t *as_hier_find(const apr_array_header_t *set, const char *id)
{
    int i;
    for (i = 0; set && id && i < set->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(set, i, as_store_folder_t);
        if (!strcmp(f->id, id)) {
            return f;
        }
    }
    return NULL;
}

/* ---- collections -------------------------------------------------------------- */

typedef struct coll_baton_t {
    apr_pool_t *p;
    char hkey[KEY_MAX], ikey[KEY_MAX], rkey[KEY_MAX];
    size_t hkl, ikl, rkl;
    int with_items;
    as_coll_state_t *out;
    const unsigned char *head; /* the header record as read */
    size_t head_len;
    const as_coll_state_t *in;
    apr_uint32_t expect_gen, expect_n;
    const char *xml;
    apr_size_t xml_len;
    const apr_array_header_t *undo;
    long expect_resends;
    /* reply read */
    apr_uint32_t reply_n;
    const char **reply_xml;
    apr_size_t *reply_len;
    apr_array_header_t **reply_undo;
} coll_baton_t;

static void coll_keys(coll_baton_t *cb, const char *account, const char *device, const char *coll)
{
    cb->hkl = as_rec_key(cb->hkey, 'C', account, device, coll);
    cb->ikl = as_rec_key(cb->ikey, 'I', account, device, coll);
    cb->rkl = as_rec_key(cb->rkey, 'R', account, device, coll);
}

static int coll_decode(const unsigned char *v, size_t vl, apr_pool_t *p, as_coll_state_t *out)
{
    rbuf_t b;
    if (rec_open(&b, v, vl, &out->gen, &out->n) != 0) {
        return AS_DB_ECORRUPT;
    }
    out->filter_type = (int)as_rec_get_u32(&b);
    out->token = as_rec_get_str(&b, p, NULL);
    out->expire = (apr_time_t)as_rec_get_u64(&b);
    out->pending = (int)as_rec_get_u32(&b);
    out->nitems = as_rec_get_u32(&b);
    if (!b.bad && b.len - b.pos >= 8) {
        /* loop detection counters (absent from older records: 0) */
        out->resends = as_rec_get_u32(&b);
        out->careful = as_rec_get_u32(&b);
    }
    return b.bad ? AS_DB_ECORRUPT : 0;
}

static int coll_get_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    coll_baton_t *cb = baton;
    DB *dbp = as_db_handle(db, AS_DB_SYNC);
    const unsigned char *v = NULL;
    size_t vl = 0;
    int rc;

    memset(cb->out, 0, sizeof(*cb->out));
    rc = as_rec_read(dbp, txn, cb->hkey, cb->hkl, cb->p, &v, &vl, 0);
    cb->head = rc == 0 ? v : NULL; /* as read, for the memo */
    cb->head_len = vl;
    if (rc == DB_NOTFOUND) {
        cb->out->items_loaded = cb->with_items;
        cb->out->items = apr_pcalloc(cb->p, sizeof(as_sync_item_t));
        return 0;
    }
    if (rc || (rc = coll_decode(v, vl, cb->p, cb->out)) != 0 || !cb->with_items) {
        return rc;
    }
    rc = as_rec_read(dbp, txn, cb->ikey, cb->ikl, cb->p, &v, &vl, 0);
    if (rc == DB_NOTFOUND) {
        return AS_DB_ECORRUPT;
    }
    return rc ? rc : as_rec_items_decode(v, vl, cb->p, cb->out);
}

/* The header alone (every no-change Sync reads it) is memoised while the
 * database is unchanged (as_db_memo.h): the record as read, decoded anew. */
#define HEAD_MEMO_TAG "\001collH:"

static apr_status_t coll_get_head(as_db_t *db, coll_baton_t *cb)
{
    char mk[sizeof(HEAD_MEMO_TAG) + KEY_MAX];
    size_t tl = sizeof(HEAD_MEMO_TAG) - 1, mkl = tl + cb->hkl, vl = AS_DB_MEMO_VAL_MAX;
    unsigned char *v = apr_palloc(cb->p, vl);
    as_db_mark_t mark;
    apr_status_t rv;

    memcpy(mk, HEAD_MEMO_TAG, tl);
    memcpy(mk + tl, cb->hkey, cb->hkl);
    if (as_db_memo_get(db, mk, mkl, v, &vl, 0)) {
        memset(cb->out, 0, sizeof(*cb->out));
        return coll_decode(v, vl, cb->p, cb->out) == 0 ? APR_SUCCESS : AS_DB_ECORRUPT;
    }
    as_db_mark(db, &mark); /* before the read */
    rv = as_db_txn(db, AS_DB_TXN_READ, coll_get_fn, cb);
    if (rv == APR_SUCCESS && cb->head) {
        as_db_memo_put(&mark, mk, mkl, cb->head, cb->head_len, 0);
    }
    return rv;
}

apr_status_t as_coll_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                         const char *coll, int with_items, as_coll_state_t *out)
{
    coll_baton_t cb;
    memset(&cb, 0, sizeof(cb));
    cb.p = p;
    cb.out = out;
    cb.with_items = with_items;
    coll_keys(&cb, account, device, coll);
    if (!with_items) {
        return coll_get_head(db, &cb);
    }
    return as_db_txn(db, AS_DB_TXN_READ, coll_get_fn, &cb);
}

static int reply_get_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    coll_baton_t *cb = baton;
    const unsigned char *v = NULL;
    size_t vl = 0;
    rbuf_t b;
    int rc = as_rec_read(as_db_handle(db, AS_DB_SYNC), txn, cb->rkey, cb->rkl, cb->p, &v, &vl, 0);

    cb->reply_n = 0;
    *cb->reply_xml = NULL;
    *cb->reply_len = 0;
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    if (rc) {
        return rc;
    }
    memset(&b, 0, sizeof(b));
    b.d = v;
    b.len = vl;
    if (vl < 1 || v[0] != REC_VERSION) {
        return AS_DB_ECORRUPT;
    }
    b.pos = 1;
    cb->reply_n = as_rec_get_u32(&b);
    *cb->reply_xml = as_rec_get_str(&b, cb->p, cb->reply_len);
    if (cb->reply_undo) {
        *cb->reply_undo = NULL;
    }
    if (!b.bad && cb->reply_undo && b.len - b.pos >= 4 &&
        as_rec_undo_decode(&b, cb->p, cb->reply_undo) != 0) {
        return AS_DB_ECORRUPT;
    }
    return b.bad ? AS_DB_ECORRUPT : 0;
}

apr_status_t as_coll_get_reply(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                               const char *coll, apr_uint32_t *reply_n, const char **xml,
                               apr_size_t *len)
{
    return as_coll_get_undo(db, p, account, device, coll, reply_n, xml, len, NULL);
}

apr_status_t as_coll_get_undo(as_db_t *db, apr_pool_t *p, const char *account, const char *device,
                              const char *coll, apr_uint32_t *reply_n, const char **xml,
                              apr_size_t *len, apr_array_header_t **undo)
{
    coll_baton_t cb;
    apr_status_t rv;
    memset(&cb, 0, sizeof(cb));
    cb.p = p;
    cb.reply_xml = xml;
    cb.reply_len = len;
    cb.reply_undo = undo;
    coll_keys(&cb, account, device, coll);
    rv = as_db_txn(db, AS_DB_TXN_READ, reply_get_fn, &cb);
    *reply_n = cb.reply_n;
    return rv;
}

static int coll_put_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    coll_baton_t *cb = baton;
    DB *dbp = as_db_handle(db, AS_DB_SYNC);
    const as_coll_state_t *st = cb->in;
    wbuf_t b = {0};
    int rc = as_rec_check_expected(dbp, txn, cb->hkey, cb->hkl, cb->expect_gen, cb->expect_n);

    if (rc) {
        return rc;
    }
    if (cb->expect_resends >= 0) {
        const unsigned char *v = NULL;
        size_t vl = 0;
        as_coll_state_t cur;
        memset(&cur, 0, sizeof(cur));
        rc = as_rec_read(dbp, txn, cb->hkey, cb->hkl, cb->p, &v, &vl, DB_RMW);
        if (rc == 0) {
            rc = coll_decode(v, vl, cb->p, &cur);
        }
        if (rc == DB_NOTFOUND || (rc == 0 && cur.resends != (apr_uint32_t)cb->expect_resends)) {
            return AS_SYNC_ESTALE;
        }
        if (rc) {
            return rc;
        }
    }
    as_rec_put(&b, "\001", 1);
    as_rec_put_u32(&b, st->gen);
    as_rec_put_u32(&b, st->n);
    as_rec_put_u32(&b, (apr_uint32_t)st->filter_type);
    as_rec_put_str(&b, st->token, st->token ? strlen(st->token) : 0);
    as_rec_put_u64(&b, (apr_uint64_t)st->expire);
    as_rec_put_u32(&b, (apr_uint32_t)st->pending);
    as_rec_put_u32(&b, st->nitems);
    as_rec_put_u32(&b, st->resends);
    as_rec_put_u32(&b, st->careful);
    if (b.oom || (rc = as_db_put(dbp, txn, cb->hkey, cb->hkl, b.d, b.len)) != 0) {
        free(b.d);
        return b.oom ? ENOMEM : rc;
    }
    if (st->items_loaded) {
        b.len = 0;
        as_rec_items_encode(&b, st);
        if (b.oom || (rc = as_db_put(dbp, txn, cb->ikey, cb->ikl, b.d, b.len)) != 0) {
            free(b.d);
            return b.oom ? ENOMEM : rc;
        }
    }
    if (cb->xml) {
        b.len = 0;
        as_rec_put(&b, "\001", 1);
        as_rec_put_u32(&b, st->n);
        as_rec_put_str(&b, cb->xml, cb->xml_len);
        if (cb->undo) {
            as_rec_undo_encode(&b, cb->undo);
        }
        if (b.oom || (rc = as_db_put(dbp, txn, cb->rkey, cb->rkl, b.d, b.len)) != 0) {
            free(b.d);
            return b.oom ? ENOMEM : rc;
        }
    } else if (st->n != cb->expect_n || st->gen != cb->expect_gen) {
        /* a new key without a reply to replay: forget the old one */
        rc = as_db_del(dbp, txn, cb->rkey, cb->rkl);
        if (rc && rc != DB_NOTFOUND) {
            free(b.d);
            return rc;
        }
    }
    free(b.d);
    return 0;
}

apr_status_t as_coll_put(as_db_t *db, const char *account, const char *device, const char *coll,
                         apr_uint32_t expect_gen, apr_uint32_t expect_n, const as_coll_state_t *st,
                         const char *xml, apr_size_t xml_len)
{
    return as_coll_put_undo(db, account, device, coll, expect_gen, expect_n, st, xml, xml_len, NULL,
                            -1);
}

apr_status_t as_coll_put_undo(as_db_t *db, const char *account, const char *device,
                              const char *coll, apr_uint32_t expect_gen, apr_uint32_t expect_n,
                              const as_coll_state_t *st, const char *xml, apr_size_t xml_len,
                              const apr_array_header_t *undo, long expect_resends)
{
    coll_baton_t cb;
    apr_pool_t *p;
    apr_status_t rv;
    memset(&cb, 0, sizeof(cb));
    apr_pool_create(&p, NULL);
    cb.p = p;
    cb.in = st;
    cb.expect_gen = expect_gen;
    cb.expect_n = expect_n;
    cb.xml = xml;
    cb.xml_len = xml_len;
    cb.undo = undo;
    cb.expect_resends = expect_resends;
    coll_keys(&cb, account, device, coll);
    rv = as_db_txn(db, 0, coll_put_fn, &cb);
    apr_pool_destroy(p);
    return rv;
}

static int coll_drop_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    coll_baton_t *cb = baton;
    DB *dbp = as_db_handle(db, AS_DB_SYNC);
    int rc;
    if ((rc = as_db_del(dbp, txn, cb->hkey, cb->hkl)) != 0 && rc != DB_NOTFOUND) {
        return rc;
    }
    if ((rc = as_db_del(dbp, txn, cb->ikey, cb->ikl)) != 0 && rc != DB_NOTFOUND) {
        return rc;
    }
    if ((rc = as_db_del(dbp, txn, cb->rkey, cb->rkl)) != 0 && rc != DB_NOTFOUND) {
        return rc;
    }
    return 0;
}

apr_status_t as_coll_drop(as_db_t *db, const char *account, const char *device, const char *coll)
{
    coll_baton_t cb;
    memset(&cb, 0, sizeof(cb));
    coll_keys(&cb, account, device, coll);
    return as_db_txn(db, 0, coll_drop_fn, &cb);
}

int as_coll_find(const as_coll_state_t *st, const char *id)
{
    apr_uint32_t lo = 0, hi = st->nitems;
    while (lo < hi) {
        apr_uint32_t mid = lo + (hi - lo) / 2;
        int c = strcmp(st->items[mid].id, id);
        if (c == 0) {
            return mid <= (apr_uint32_t)INT_MAX ? (int)mid : -1;
        }
        if (c < 0) {
            lo = mid + 1;
        } else {
            hi = mid;
        }
    }
    return -1;
}
