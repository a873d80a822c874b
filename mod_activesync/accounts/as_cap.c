/* The mailbox cap and the registry of admitted mailboxes: see as_cap.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include "activesync/as_cap.h"
#include "activesync/as_db_memo.h"
#include "activesync/as_license.h"

#define REG_VERSION 1
#define COUNT_KEY   "#count"
#define KEY_MAX     (2 + 253 + 1 + 64 + 1)

/* ---- limits --------------------------------------------------------------- */

void as_cap_limit_unlimited(as_cap_limit_t *l)
{
    memset(l, 0, sizeof(*l));
    l->mode = AS_CAP_UNLIMITED;
    l->source = "no cap configured";
}

void as_cap_limit_count(as_cap_limit_t *l, unsigned max, const char *source)
{
    memset(l, 0, sizeof(*l));
    l->mode = AS_CAP_LIMITED;
    l->max = max;
    l->source = source;
}

void as_cap_limit_resolve(apr_pool_t *p, int mailbox_count, const char *license_file,
                          const char *license_key, apr_time_t now, as_cap_limit_t *out)
{
    as_license_t lic;
    as_license_status_t st;
    const char *msg;

    if (!license_file) {
        if (mailbox_count < 0) {
            as_cap_limit_unlimited(out);
        } else {
            as_cap_limit_count(out, (unsigned)mailbox_count,
                               apr_psprintf(p, "ActiveSyncMailboxCount %d", mailbox_count));
        }
        return;
    }
    memset(out, 0, sizeof(*out));
    if (!license_key) {
        out->mode = AS_CAP_CLOSED;
        out->source = apr_psprintf(p, "licence %s", license_file);
        out->reason = apr_psprintf(p,
                                   "licence %s: no public key configured to verify it "
                                   "(ActiveSyncLicenseKey)",
                                   license_file);
        return;
    }
    st = as_license_verify_file(p, license_file, license_key, now, &lic, &msg);
    if (st != AS_LIC_VALID) {
        out->mode = AS_CAP_CLOSED;
        out->source = apr_psprintf(p, "licence %s", license_file);
        out->reason = msg;
        return;
    }
    out->mode = AS_CAP_LIMITED;
    out->max = lic.mailboxes;
    out->source = apr_psprintf(p, "licence %s (%s, %u mailboxes, expires %s)", license_file,
                               lic.licensee, lic.mailboxes, lic.expires);
    if (mailbox_count >= 0 && (unsigned)mailbox_count < lic.mailboxes) {
        out->max = (unsigned)mailbox_count;
        out->source =
            apr_psprintf(p, "ActiveSyncMailboxCount %d (below the %s)", mailbox_count, out->source);
    }
}

const char *as_cap_limit_describe(apr_pool_t *p, const as_cap_limit_t *l)
{
    if (!l || l->mode == AS_CAP_UNLIMITED) {
        return "no cap (unlimited mailboxes)";
    }
    if (l->mode == AS_CAP_CLOSED) {
        return apr_psprintf(p, "no new mailboxes: %s", l->reason ? l->reason : "invalid licence");
    }
    return apr_psprintf(p, "%u mailboxes (%s)", l->max, l->source ? l->source : "?");
}

int as_cap_allowed(const as_cap_decision_t *d)
{
    return d->result == AS_CAP_SERVED || d->result == AS_CAP_ADMITTED;
}

const char *as_cap_result_name(as_cap_result_t r)
{
    switch (r) {
    case AS_CAP_SERVED:
        return "served";
    case AS_CAP_ADMITTED:
        return "admitted";
    case AS_CAP_DENIED_OPTION:
        return "denied-option";
    case AS_CAP_DENIED_FULL:
        return "denied-full";
    case AS_CAP_DENIED_LICENSE:
        return "denied-license";
    }
    return "?";
}

/* ---- registry records ------------------------------------------------------ */

static size_t regkey(char *buf, const char *address)
{
    const char *at = strrchr(address, '@');
    if (!at) {
        return 0;
    }
    return (size_t)apr_snprintf(buf, KEY_MAX, "m:%s/%.*s", at + 1, (int)(at - address), address);
}

int as_cap_txn_lock(as_db_t *db, DB_TXN *txn, unsigned *count)
{
    unsigned char buf[16];
    size_t len = sizeof(buf);
    int rc = as_db_get(as_db_handle(db, AS_DB_REGISTRY), txn, COUNT_KEY, strlen(COUNT_KEY), buf,
                       &len, DB_RMW);

    if (rc == DB_NOTFOUND) {
        *count = 0;
        return 0;
    }
    if (rc != 0) {
        return rc == DB_BUFFER_SMALL ? AS_DB_ECORRUPT : rc;
    }
    if (len != 5 || buf[0] != REG_VERSION) {
        return AS_DB_ECORRUPT;
    }
    *count = ((unsigned)buf[1] << 24) | ((unsigned)buf[2] << 16) | ((unsigned)buf[3] << 8) | buf[4];
    return 0;
}

static int put_count(as_db_t *db, DB_TXN *txn, unsigned count)
{
    unsigned char buf[5];
    buf[0] = REG_VERSION;
    buf[1] = (unsigned char)(count >> 24);
    buf[2] = (unsigned char)(count >> 16);
    buf[3] = (unsigned char)(count >> 8);
    buf[4] = (unsigned char)count;
    return as_db_put(as_db_handle(db, AS_DB_REGISTRY), txn, COUNT_KEY, strlen(COUNT_KEY), buf, 5);
}

static int decode_entry(const unsigned char *buf, size_t len, apr_time_t *admitted, int *by_admin)
{
    apr_uint64_t v = 0;
    int i;

    if (len != 10 || buf[0] != REG_VERSION) {
        return AS_DB_ECORRUPT;
    }
    for (i = 1; i <= 8; i++) {
        v = (v << 8) | buf[i];
    }
    if (admitted) {
        *admitted = (apr_time_t)v;
    }
    if (by_admin) {
        *by_admin = buf[9] == 1;
    }
    return 0;
}

int as_cap_txn_lookup(as_db_t *db, DB_TXN *txn, const char *address, int *registered,
                      apr_time_t *admitted, int rmw)
{
    char key[KEY_MAX];
    unsigned char buf[32];
    size_t len = sizeof(buf), kl = regkey(key, address);
    int rc;

    *registered = 0;
    if (kl == 0) {
        return AS_DIR_EINVAL;
    }
    rc = as_db_get(as_db_handle(db, AS_DB_REGISTRY), txn, key, kl, buf, &len, rmw ? DB_RMW : 0);
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc == DB_BUFFER_SMALL ? AS_DB_ECORRUPT : rc;
    }
    *registered = 1;
    return decode_entry(buf, len, admitted, NULL);
}

int as_cap_txn_register(as_db_t *db, DB_TXN *txn, const char *address, int by_admin,
                        unsigned *count, apr_time_t *admitted)
{
    char key[KEY_MAX];
    unsigned char buf[10];
    size_t kl = regkey(key, address);
    apr_time_t now = apr_time_now();
    apr_uint64_t v = (apr_uint64_t)now;
    int i, rc;

    if (kl == 0) {
        return AS_DIR_EINVAL;
    }
    buf[0] = REG_VERSION;
    for (i = 8; i >= 1; i--) {
        buf[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
    buf[9] = by_admin ? 1 : 0;
    if ((rc = as_db_put(as_db_handle(db, AS_DB_REGISTRY), txn, key, kl, buf, sizeof(buf))) != 0) {
        return rc;
    }
    if ((rc = put_count(db, txn, *count + 1)) != 0) {
        return rc;
    }
    (*count)++;
    if (admitted) {
        *admitted = now;
    }
    return 0;
}

int as_cap_txn_release(as_db_t *db, DB_TXN *txn, const char *address, unsigned *count,
                       int *released)
{
    char key[KEY_MAX];
    size_t kl = regkey(key, address);
    int rc;

    *released = 0;
    if (kl == 0) {
        return AS_DIR_EINVAL;
    }
    rc = as_db_del(as_db_handle(db, AS_DB_REGISTRY), txn, key, kl);
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    *released = 1;
    if (*count > 0) {
        (*count)--;
    }
    return put_count(db, txn, *count);
}

typedef struct keys_t {
    apr_pool_t *p;
    apr_array_header_t *keys; /* collect the keys, or ... */
    unsigned *n;              /* ... only count them */
} keys_t;

static int keys_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    keys_t *k = baton;
    (void)val;
    (void)vlen;
    if (k->keys) {
        APR_ARRAY_PUSH(k->keys, char *) = apr_pstrmemdup(k->p, key, klen);
    } else {
        (*k->n)++;
    }
    return 0;
}

int as_cap_txn_release_domain(as_db_t *db, DB_TXN *txn, const char *domain, unsigned *count,
                              unsigned *n)
{
    char prefix[KEY_MAX];
    apr_pool_t *p;
    keys_t k;
    int rc, i;
    DB *r = as_db_handle(db, AS_DB_REGISTRY);

    *n = 0;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return ENOMEM;
    }
    k.p = p;
    k.n = NULL;
    k.keys = apr_array_make(p, 16, sizeof(char *));
    apr_snprintf(prefix, sizeof(prefix), "m:%s/", domain);
    rc = as_db_iterate(r, txn, prefix, strlen(prefix), keys_cb, &k);
    for (i = 0; rc == 0 && i < k.keys->nelts; i++) {
        const char *key = APR_ARRAY_IDX(k.keys, i, char *);
        rc = as_db_del(r, txn, key, strlen(key));
        if (rc == 0) {
            (*n)++;
        }
    }
    if (rc == 0 && *n > 0) {
        *count = *count >= *n ? *count - *n : 0;
        rc = put_count(db, txn, *count);
    }
    apr_pool_destroy(p);
    return rc;
}

int as_cap_txn_count_domain(as_db_t *db, DB_TXN *txn, const char *domain, unsigned *n)
{
    char prefix[KEY_MAX];
    keys_t k;

    *n = 0;
    k.p = NULL;
    k.n = n;
    k.keys = NULL;
    apr_snprintf(prefix, sizeof(prefix), "m:%s/", domain);
    return as_db_iterate(as_db_handle(db, AS_DB_REGISTRY), txn, prefix, strlen(prefix), keys_cb,
                         &k);
}

/* ---- admission ---------------------------------------------------------------- */

typedef struct admit_t {
    apr_pool_t *p;
    const char *address;
    const char *domain;
    const as_cap_limit_t *cap;
    as_cap_decision_t *d;
    int decided; /* fast path reached a decision */
} admit_t;

static int txn_admit_fast(as_db_t *db, DB_TXN *txn, void *baton)
{
    admit_t *a = baton;
    as_dir_account_t acct;
    int registered = 0, rc;
    apr_time_t admitted = 0;

    a->decided = 0;
    if ((rc = as_dir_txn_resolve(db, txn, a->p, a->address, a->domain, 0, &acct)) != 0) {
        return rc;
    }
    a->d->eff = acct.eff;
    if (!acct.eff.value[AS_OPT_ACTIVESYNC]) {
        a->d->result = AS_CAP_DENIED_OPTION;
        a->decided = 1;
        return 0;
    }
    if ((rc = as_cap_txn_lookup(db, txn, a->address, &registered, &admitted, 0)) != 0) {
        return rc;
    }
    if (registered) {
        a->d->result = AS_CAP_SERVED;
        a->d->admitted = admitted;
        a->decided = 1;
    }
    return 0;
}

static int txn_admit(as_db_t *db, DB_TXN *txn, void *baton)
{
    admit_t *a = baton;
    as_cap_decision_t *d = a->d;
    as_dir_account_t acct;
    unsigned count = 0;
    int registered = 0, rc;
    apr_time_t admitted = 0;

    /* The counter's write lock first: it serialises every registry change. */
    if ((rc = as_cap_txn_lock(db, txn, &count)) != 0) {
        return rc;
    }
    as_db_test_hook(db, "cap-locked");
    d->count = count;
    if ((rc = as_dir_txn_resolve(db, txn, a->p, a->address, a->domain, 1, &acct)) != 0) {
        return rc;
    }
    d->eff = acct.eff;
    if (!acct.eff.value[AS_OPT_ACTIVESYNC]) {
        d->result = AS_CAP_DENIED_OPTION;
        return AS_DB_ROLLBACK;
    }
    if ((rc = as_cap_txn_lookup(db, txn, a->address, &registered, &admitted, 0)) != 0) {
        return rc;
    }
    if (registered) {
        d->result = AS_CAP_SERVED;
        d->admitted = admitted;
        return AS_DB_ROLLBACK;
    }
    if (!a->cap || a->cap->mode == AS_CAP_UNLIMITED ||
        (a->cap->mode == AS_CAP_LIMITED && count < a->cap->max)) {
        if ((rc = as_cap_txn_register(db, txn, a->address, 0, &count, &d->admitted)) != 0) {
            return rc;
        }
        d->count = count;
        d->result = AS_CAP_ADMITTED;
        as_db_test_hook(db, "cap-registered");
        return 0;
    }
    if (a->cap->mode == AS_CAP_CLOSED) {
        d->result = AS_CAP_DENIED_LICENSE;
        return AS_DB_ROLLBACK;
    }
    /* Full: the refusal becomes an explicit setting on the account. */
    as_optset_set(&acct.opts, AS_OPT_ACTIVESYNC, 0);
    acct.has_record = 1;
    if ((rc = as_dir_txn_store_account(db, txn, &acct)) != 0) {
        return rc;
    }
    d->eff.value[AS_OPT_ACTIVESYNC] = 0;
    d->eff.source[AS_OPT_ACTIVESYNC] = AS_SRC_ACCOUNT;
    d->result = AS_CAP_DENIED_FULL;
    as_db_test_hook(db, "cap-refused");
    return 0;
}

static void set_reason(apr_pool_t *p, const char *address, const as_cap_limit_t *cap,
                       as_cap_decision_t *out)
{
    switch (out->result) {
    case AS_CAP_SERVED:
        out->reason = apr_psprintf(p, "%s: ActiveSync allowed (registered mailbox)", address);
        break;
    case AS_CAP_ADMITTED:
        out->reason = apr_psprintf(
            p, "%s: ActiveSync allowed, mailbox registered (%u of %s)", address, out->count,
            cap && cap->mode == AS_CAP_LIMITED ? apr_psprintf(p, "%u", cap->max) : "unlimited");
        break;
    case AS_CAP_DENIED_OPTION:
        out->reason = apr_psprintf(p,
                                   "%s: ActiveSync refused: option activesync is off (set at %s "
                                   "level)",
                                   address, as_src_name(out->eff.source[AS_OPT_ACTIVESYNC]));
        break;
    case AS_CAP_DENIED_FULL:
        out->reason = apr_psprintf(p,
                                   "%s: ActiveSync refused: the mailbox cap of %u is reached "
                                   "(%s); activesync is now explicitly off on the account",
                                   address, cap->max, cap->source ? cap->source : "?");
        break;
    case AS_CAP_DENIED_LICENSE:
        out->reason = apr_psprintf(p, "%s: ActiveSync refused: no new mailbox can be admitted: %s",
                                   address, cap->reason ? cap->reason : "invalid licence");
        break;
    }
}

/* The fast path's decision depends on the database alone (the account's
 * options, its registry record): it is memoised (as_db_memo.h) so that a
 * mailbox's every request does not read the same three records again. */
typedef struct fast_memo_t {
    as_cap_result_t result;
    as_effective_t eff;
    apr_time_t admitted;
} fast_memo_t;

#define FAST_MEMO_TAG "\001cap:"

static size_t fast_memo_key(char *key, const char *address)
{
    size_t n = strlen(address);
    if (n + sizeof(FAST_MEMO_TAG) > KEY_MAX) {
        return 0;
    }
    memcpy(key, FAST_MEMO_TAG, sizeof(FAST_MEMO_TAG) - 1);
    memcpy(key + sizeof(FAST_MEMO_TAG) - 1, address, n);
    return n + sizeof(FAST_MEMO_TAG) - 1;
}

static apr_status_t admit_fast(as_db_t *db, admit_t *a)
{
    char key[KEY_MAX];
    size_t kl = fast_memo_key(key, a->address), vl = sizeof(fast_memo_t);
    fast_memo_t m;
    as_db_mark_t mark;
    apr_status_t rv;

    if (kl && as_db_memo_get(db, key, kl, &m, &vl, 0) && vl == sizeof(m)) {
        a->d->result = m.result;
        a->d->eff = m.eff;
        a->d->admitted = m.admitted;
        a->decided = 1;
        return APR_SUCCESS;
    }
    as_db_mark(db, &mark); /* before the read (as_db_memo.h) */
    rv = as_db_txn(db, AS_DB_TXN_READ, txn_admit_fast, a);
    if (rv == APR_SUCCESS && a->decided && kl) {
        memset(&m, 0, sizeof(m));
        m.result = a->d->result;
        m.eff = a->d->eff;
        m.admitted = a->d->admitted;
        as_db_memo_put(&mark, key, kl, &m, sizeof(m), 0);
    }
    return rv;
}

static apr_status_t admit(as_db_t *db, apr_pool_t *p, const char *address,
                          const as_cap_limit_t *cap, as_cap_decision_t *out, int fast_only,
                          unsigned txn_flags, int *decided)
{
    admit_t a;
    apr_status_t rv;
    const char *at = address ? strrchr(address, '@') : NULL;

    memset(out, 0, sizeof(*out));
    *decided = 0;
    if (!at || at == address || !at[1]) {
        return AS_DIR_EINVAL;
    }
    memset(&a, 0, sizeof(a));
    a.p = p;
    a.address = address;
    a.domain = at + 1;
    a.cap = cap;
    a.d = out;
    rv = admit_fast(db, &a);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!a.decided) {
        if (fast_only) {
            memset(out, 0, sizeof(*out));
            return APR_SUCCESS;
        }
        rv = as_db_txn(db, txn_flags, txn_admit, &a);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    *decided = 1;
    set_reason(p, address, cap, out);
    return APR_SUCCESS;
}

apr_status_t as_cap_admit(as_db_t *db, apr_pool_t *p, const char *address,
                          const as_cap_limit_t *cap, as_cap_decision_t *out)
{
    int decided;
    return admit(db, p, address, cap, out, 0, 0, &decided);
}

apr_status_t as_cap_admit_nosync(as_db_t *db, apr_pool_t *p, const char *address,
                                 const as_cap_limit_t *cap, as_cap_decision_t *out)
{
    int decided;
    return admit(db, p, address, cap, out, 0, AS_DB_TXN_NOSYNC, &decided);
}

apr_status_t as_cap_check(as_db_t *db, apr_pool_t *p, const char *address,
                          const as_cap_limit_t *cap, as_cap_decision_t *out, int *decided)
{
    return admit(db, p, address, cap, out, 1, 0, decided);
}

/* ---- registry views ------------------------------------------------------------ */

typedef struct count_op_t {
    unsigned count, records;
} count_op_t;

static int txn_count(as_db_t *db, DB_TXN *txn, void *baton)
{
    unsigned char buf[16];
    size_t len = sizeof(buf);
    count_op_t *c = baton;
    int rc = as_db_get(as_db_handle(db, AS_DB_REGISTRY), txn, COUNT_KEY, strlen(COUNT_KEY), buf,
                       &len, 0);
    c->count = 0;
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc;
    }
    if (len != 5 || buf[0] != REG_VERSION) {
        return AS_DB_ECORRUPT;
    }
    c->count =
        ((unsigned)buf[1] << 24) | ((unsigned)buf[2] << 16) | ((unsigned)buf[3] << 8) | buf[4];
    return 0;
}

apr_status_t as_cap_count(as_db_t *db, unsigned *count)
{
    count_op_t c = {0, 0};
    apr_status_t rv = as_db_txn(db, AS_DB_TXN_READ, txn_count, &c);
    *count = c.count;
    return rv;
}

static int txn_verify(as_db_t *db, DB_TXN *txn, void *baton)
{
    count_op_t *c = baton;
    keys_t k;
    int rc = txn_count(db, txn, c);
    if (rc != 0) {
        return rc;
    }
    c->records = 0;
    k.p = NULL;
    k.n = &c->records;
    k.keys = NULL;
    return as_db_iterate(as_db_handle(db, AS_DB_REGISTRY), txn, "m:", 2, keys_cb, &k);
}

apr_status_t as_cap_verify(as_db_t *db, unsigned *counter, unsigned *records)
{
    count_op_t c = {0, 0};
    apr_status_t rv = as_db_txn(db, 0, txn_verify, &c);
    *counter = c.count;
    *records = c.records;
    return rv;
}

typedef struct list_op_t {
    apr_pool_t *p;
    const char *domain;
    apr_array_header_t *arr;
} list_op_t;

static int list_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    list_op_t *l = baton;
    const char *name = apr_pstrmemdup(l->p, (const char *)key + 2, klen - 2);
    const char *slash = strchr(name, '/');
    as_cap_entry_t *e;
    int rc;

    if (!slash) {
        return AS_DB_ECORRUPT;
    }
    e = apr_array_push(l->arr);
    e->address = apr_psprintf(l->p, "%s@%.*s", slash + 1, (int)(slash - name), name);
    rc = decode_entry(val, vlen, &e->admitted, &e->by_admin);
    return rc;
}

static int txn_list(as_db_t *db, DB_TXN *txn, void *baton)
{
    list_op_t *l = baton;
    char prefix[KEY_MAX];

    l->arr = apr_array_make(l->p, 16, sizeof(as_cap_entry_t));
    if (l->domain) {
        apr_snprintf(prefix, sizeof(prefix), "m:%s/", l->domain);
    } else {
        apr_cpystrn(prefix, "m:", sizeof(prefix));
    }
    return as_db_iterate(as_db_handle(db, AS_DB_REGISTRY), txn, prefix, strlen(prefix), list_cb, l);
}

apr_status_t as_cap_list(as_db_t *db, apr_pool_t *p, const char *domain, apr_array_header_t **out)
{
    list_op_t l = {p, domain, NULL};
    apr_status_t rv = as_db_txn(db, AS_DB_TXN_READ, txn_list, &l);
    *out = rv == APR_SUCCESS ? l.arr : NULL;
    return rv;
}

/* ---- cap.conf --------------------------------------------------------------------- */

apr_status_t as_cap_conf_write(apr_pool_t *p, const char *datadir, int mailbox_count,
                               const char *license_file, const char *license_key, uid_t uid,
                               gid_t gid)
{
    const char *path = apr_pstrcat(p, datadir, "/cap.conf", NULL);
    const char *tmp = apr_psprintf(p, "%s/.cap.conf.%ld", datadir, (long)getpid());
    FILE *f;
    int ok;

    f = fopen(tmp, "w");
    if (!f) {
        return APR_FROM_OS_ERROR(errno);
    }
    fprintf(f, "# Written by mod_activesync at start-up: the mailbox cap httpd enforces.\n"
               "# activesync-admin reads it so that explicit enables obey the same cap.\n");
    if (mailbox_count >= 0) {
        fprintf(f, "mailbox-count: %d\n", mailbox_count);
    } else {
        fprintf(f, "mailbox-count: none\n");
    }
    if (license_file) {
        fprintf(f, "license-file: %s\n", license_file);
    }
    if (license_key) {
        fprintf(f, "license-key: %s\n", license_key);
    }
    ok = fflush(f) == 0 && fsync(fileno(f)) == 0;
    ok = (fclose(f) == 0) && ok;
    if (!ok) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        unlink(tmp);
        return rv;
    }
    chmod(tmp, 0644);
    if ((uid != (uid_t)-1 || gid != (gid_t)-1) && chown(tmp, uid, gid) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        unlink(tmp);
        return rv;
    }
    if (rename(tmp, path) != 0) {
        apr_status_t rv = APR_FROM_OS_ERROR(errno);
        unlink(tmp);
        return rv;
    }
    return APR_SUCCESS;
}

apr_status_t as_cap_conf_read(apr_pool_t *p, const char *datadir, int *mailbox_count,
                              const char **license_file, const char **license_key, const char **err)
{
    const char *path = apr_pstrcat(p, datadir, "/cap.conf", NULL);
    FILE *f = fopen(path, "r");
    char line[4096];
    int lineno = 0;

    *mailbox_count = -1;
    *license_file = NULL;
    *license_key = NULL;
    *err = NULL;
    if (!f) {
        return errno == ENOENT ? APR_ENOENT : APR_FROM_OS_ERROR(errno);
    }
    while (fgets(line, sizeof(line), f)) {
        char *v, *e;
        lineno++;
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] == '#' || line[0] == '\0') {
            continue;
        }
        v = strchr(line, ':');
        if (!v) {
            goto bad;
        }
        *v++ = '\0';
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        if (!strcmp(line, "mailbox-count")) {
            if (!strcmp(v, "none")) {
                *mailbox_count = -1;
            } else {
                long n;
                errno = 0;
                n = strtol(v, &e, 10);
                if (errno || *e || e == v || n < 0 || n > 100000000) {
                    goto bad;
                }
                *mailbox_count = (int)n;
            }
        } else if (!strcmp(line, "license-file")) {
            *license_file = apr_pstrdup(p, v);
        } else if (!strcmp(line, "license-key")) {
            *license_key = apr_pstrdup(p, v);
        } else {
            goto bad;
        }
    }
    fclose(f);
    return APR_SUCCESS;
bad:
    fclose(f);
    *err = apr_psprintf(p, "%s line %d is not understood", path, lineno);
    return AS_DIR_EINVAL;
}
