/* Devices: contact, administration and the per-account device limit.  See
 * as_device.h. */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/rand.h>

#include "activesync/as_device.h"
#include "activesync/as_directory.h"

#include "as_device_record.h"

#define KEY_MAX AS_DEVREC_KEY_MAX

/* ---- contact -------------------------------------------------------------------------------- */

apr_uint32_t as_random_u32(void)
{
    unsigned char b[4];
    apr_uint32_t v = 0;
    while (v == 0) {
        if (RAND_bytes(b, sizeof(b)) != 1) {
            apr_generate_random_bytes(b, sizeof(b));
        }
        v = ((apr_uint32_t)b[0] << 24) | ((apr_uint32_t)b[1] << 16) | ((apr_uint32_t)b[2] << 8) |
            b[3];
    }
    return v;
}

static const char *bounded(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrndup(p, s, AS_DEVICE_FIELD_MAX) : NULL;
}

void as_device_init(apr_pool_t *p, as_device_t *d, const as_device_contact_t *c)
{
    apr_time_t now = c->now ? c->now : apr_time_now();
    as_devrec_clear(d);
    d->account = c->account;
    d->device_id = c->device_key;
    d->device_type = bounded(p, c->device_type);
    d->user_agent = bounded(p, c->user_agent);
    d->protocol_version = bounded(p, c->protocol_version);
    d->last_command = bounded(p, c->command);
    d->first_contact = d->last_contact = now;
    d->nonce = as_random_u32();
}

static int differs(const char *a, const char *b)
{
    return b && (!a || strncmp(a, b, AS_DEVICE_FIELD_MAX) != 0);
}

int as_device_contact_update(apr_pool_t *p, as_device_t *d, const as_device_contact_t *c)
{
    apr_time_t now = c->now ? c->now : apr_time_now();
    int changed = differs(d->device_type, c->device_type) ||
                  differs(d->user_agent, c->user_agent) ||
                  differs(d->protocol_version, c->protocol_version);

    if (!changed && now - d->last_contact < apr_time_from_sec(AS_DEVICE_TOUCH_SEC)) {
        return 0;
    }
    if (c->device_type) {
        d->device_type = bounded(p, c->device_type);
    }
    if (c->user_agent) {
        d->user_agent = bounded(p, c->user_agent);
    }
    if (c->protocol_version) {
        d->protocol_version = bounded(p, c->protocol_version);
    }
    if (c->command) {
        d->last_command = bounded(p, c->command);
    }
    d->last_contact = now;
    return 1;
}

int as_device_info_merge(apr_pool_t *p, as_device_t *d, const as_device_info_t *info,
                         apr_time_t now)
{
    int changed = 0;
#define MERGE(f)                                                                                   \
    if (info->f && differs(d->info.f, info->f)) {                                                  \
        d->info.f = bounded(p, info->f);                                                           \
        changed = 1;                                                                               \
    }
    MERGE(model);
    MERGE(imei);
    MERGE(friendly_name);
    MERGE(os);
    MERGE(os_language);
    MERGE(phone_number);
    MERGE(user_agent);
    MERGE(mobile_operator);
#undef MERGE
    if (info->enable_outbound_sms >= 0 &&
        d->info.enable_outbound_sms != info->enable_outbound_sms) {
        d->info.enable_outbound_sms = info->enable_outbound_sms;
        changed = 1;
    }
    if (changed || !d->info_time) {
        d->info_time = now ? now : apr_time_now();
        changed = 1;
    }
    return changed;
}

/* ---- operation context ------------------------------------------------------------------- */

typedef struct op_t {
    apr_pool_t *p;
    const char *account, *device, *domain, *scope;
    const as_device_contact_t *contact;
    const as_device_info_t *info;
    const as_device_rule_t *rule;
    int flag;
    int write, need_write; /* as_device_touch: write transaction / a write is needed */
    as_device_t *out;
    apr_array_header_t *arr;
    const char *err;
} op_t;

/* One transaction with a sentence for a person on failure (as_db_fail). */
#define fail(op, code, ...)         as_db_fail((op)->p, &(op)->err, (code), __VA_ARGS__)
#define run(db, flags, fn, op, out) as_db_txn_explained(db, flags, fn, op, &(op)->err, out)

/* Validate the account and device id of an administrative call. */
static apr_status_t admin_ids(apr_pool_t *p, op_t *op, const char *account, const char *device,
                              const char **err)
{
    const char *e = NULL;
    op->p = p;
    if (as_dir_account_name(p, account, &op->account, &op->domain, &e) != APR_SUCCESS ||
        as_devrec_admin_id(p, device, &op->device, &e) != APR_SUCCESS) {
        if (err) {
            *err = e;
        }
        return AS_DIR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Read the device of op (with DB_RMW when rmw) or fail with ENODEVICE. */
static int need_device(as_db_t *db, DB_TXN *txn, op_t *op, int rmw, as_device_t *d)
{
    int rc = as_device_txn_get(db, txn, op->p, op->account, op->device, rmw, d);
    if (rc == DB_NOTFOUND) {
        return fail(op, AS_DEV_ENODEVICE, "no device '%s' for account %s", op->device, op->account);
    }
    return rc;
}

static int txn_touch(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    const as_device_contact_t *c = op->contact;
    int rc = as_device_txn_get(db, txn, op->p, c->account, c->device_key, op->write, op->out);

    op->need_write = 0;
    if (rc == DB_NOTFOUND) {
        as_device_init(op->p, op->out, c);
    } else if (rc != 0) {
        return rc;
    } else if (!as_device_contact_update(op->p, op->out, c)) {
        return 0;
    }
    if (!op->write) {
        op->need_write = 1;
        return AS_DB_ROLLBACK;
    }
    return as_device_txn_put(db, txn, op->out);
}

apr_status_t as_device_touch(as_db_t *db, apr_pool_t *p, const as_device_contact_t *c,
                             as_device_t *out)
{
    as_device_t tmp;
    op_t op = {0};
    apr_status_t rv;

    op.p = p;
    op.contact = c;
    op.out = out ? out : &tmp;
    /* A read first; a write transaction only when something must be recorded. */
    rv = run(db, AS_DB_TXN_READ, txn_touch, &op, NULL);
    if (rv == APR_SUCCESS && op.need_write) {
        op.write = 1;
        rv = run(db, 0, txn_touch, &op, NULL);
    }
    return rv;
}

static int txn_set_info(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    const as_device_contact_t *c = op->contact;
    as_device_t d;
    int rc = as_device_txn_get(db, txn, op->p, c->account, c->device_key, op->write, &d);
    int dirty = 1;

    op->need_write = 0;
    if (rc == DB_NOTFOUND) {
        as_device_init(op->p, &d, c);
    } else if (rc != 0) {
        return rc;
    } else {
        dirty = as_device_contact_update(op->p, &d, c);
    }
    dirty |= as_device_info_merge(op->p, &d, op->info, c->now);
    if (!dirty) {
        return 0;
    }
    if (!op->write) {
        op->need_write = 1;
        return AS_DB_ROLLBACK;
    }
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_device_set_info(as_db_t *db, apr_pool_t *p, const as_device_contact_t *c,
                                const as_device_info_t *info)
{
    op_t op = {0};
    apr_status_t rv;

    op.p = p;
    op.contact = c;
    op.info = info;
    /* A read first: the same information again writes nothing (issue 10). */
    rv = run(db, AS_DB_TXN_READ, txn_set_info, &op, NULL);
    if (rv == APR_SUCCESS && op.need_write) {
        op.write = 1;
        rv = run(db, 0, txn_set_info, &op, NULL);
    }
    return rv;
}

/* ---- administration ------------------------------------------------------------------------ */

static int txn_get(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    return need_device(db, txn, op, 0, op->out);
}

apr_status_t as_device_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device_id,
                           as_device_t *out, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);
    op.out = out;
    return rv ? rv : run(db, AS_DB_TXN_READ, txn_get, &op, err);
}

typedef struct list_t {
    apr_pool_t *p;
    apr_array_header_t *arr;
} list_t;

static int list_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    list_t *l = baton;
    as_device_t *d = apr_array_push(l->arr);
    int rc;
    as_devrec_clear(d);
    if ((rc = as_devrec_decode(l->p, val, vlen, d)) != 0) {
        return rc;
    }
    return as_devrec_from_key(l->p, key, klen, d);
}

static int txn_list(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    char prefix[KEY_MAX];
    list_t l;

    l.p = op->p;
    l.arr = op->arr = apr_array_make(op->p, 8, sizeof(as_device_t));
    if (!op->scope) {
        apr_cpystrn(prefix, "v:", sizeof(prefix));
    } else if (op->account) {
        as_devrec_key(prefix, op->account, NULL);
    } else {
        apr_snprintf(prefix, sizeof(prefix), "v:%s/", op->domain);
    }
    return as_db_iterate(as_db_handle(db, AS_DB_DEVICES), txn, prefix, strlen(prefix), list_cb, &l);
}

typedef struct rmall_t {
    apr_pool_t *p;
    apr_array_header_t *keys;     /* const char *, NUL-terminated key text */
    apr_array_header_t *accounts; /* NULL or const char * */
} rmall_t;

/* Collect first, delete after: the cursor of as_db_iterate must not see its
 * own deletions. */
static int rmall_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    rmall_t *r = baton;
    as_device_t d;
    int rc, i;
    (void)val;
    (void)vlen;
    APR_ARRAY_PUSH(r->keys, const char *) = apr_pstrmemdup(r->p, key, klen);
    if (!r->accounts) {
        return 0;
    }
    if ((rc = as_devrec_from_key(r->p, key, klen, &d)) != 0) {
        return rc;
    }
    for (i = 0; i < r->accounts->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(r->accounts, i, const char *), d.account)) {
            return 0;
        }
    }
    APR_ARRAY_PUSH(r->accounts, const char *) = d.account;
    return 0;
}

static size_t lock_keystr(char *buf, const char *account);

/* The creation locks ("c:") of an account or of a whole domain. */
static int remove_locks(DB *dbp, DB_TXN *txn, const char *account, const char *domain, rmall_t *r)
{
    char key[KEY_MAX];
    int rc, i;

    if (account) {
        size_t kl = lock_keystr(key, account);
        rc = as_db_del(dbp, txn, key, kl);
        return rc == DB_NOTFOUND ? 0 : rc;
    }
    apr_snprintf(key, sizeof(key), "c:%s/", domain);
    r->keys->nelts = 0;
    r->accounts = NULL;
    if ((rc = as_db_iterate(dbp, txn, key, strlen(key), rmall_cb, r)) != 0) {
        return rc;
    }
    for (i = 0; i < r->keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(r->keys, i, const char *);
        if ((rc = as_db_del(dbp, txn, k, strlen(k))) != 0) {
            return rc;
        }
    }
    return 0;
}

int as_device_txn_remove_all(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *account,
                             const char *domain, apr_array_header_t *accounts, int *n)
{
    DB *dbp = as_db_handle(db, AS_DB_DEVICES);
    char prefix[KEY_MAX];
    rmall_t r;
    int rc, i;

    *n = 0;
    if (account) {
        as_devrec_key(prefix, account, NULL); /* "v:DOMAIN/LOCAL/" */
    } else {
        apr_snprintf(prefix, sizeof(prefix), "v:%s/", domain);
    }
    r.p = p;
    r.keys = apr_array_make(p, 8, sizeof(const char *));
    r.accounts = accounts;
    if ((rc = as_db_iterate(dbp, txn, prefix, strlen(prefix), rmall_cb, &r)) != 0) {
        return rc;
    }
    for (i = 0; i < r.keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(r.keys, i, const char *);
        if ((rc = as_db_del(dbp, txn, k, strlen(k))) != 0) {
            return rc;
        }
    }
    *n = r.keys->nelts;
    if ((rc = remove_locks(dbp, txn, account, domain, &r)) != 0) {
        return rc;
    }
    if (!account) {
        /* the domain's device rules go with it: a domain added again under
         * the same name starts without the old blocks */
        char key[KEY_MAX];
        size_t kl = (size_t)apr_snprintf(key, sizeof(key), "r:%s", domain);
        if ((rc = as_db_del(dbp, txn, key, kl)) != 0 && rc != DB_NOTFOUND) {
            return rc;
        }
    }
    return 0;
}

apr_status_t as_device_list(as_db_t *db, apr_pool_t *p, const char *scope, apr_array_header_t **out,
                            const char **err)
{
    op_t op = {0};
    const char *e = NULL;
    apr_status_t rv;

    op.p = p;
    op.scope = scope;
    *out = NULL;
    if (scope && strchr(scope, '@')) {
        rv = as_dir_account_name(p, scope, &op.account, &op.domain, &e);
    } else if (scope) {
        rv = as_dir_domain_name(p, scope, &op.domain, &e);
    } else {
        rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        if (err) {
            *err = e;
        }
        return AS_DIR_EINVAL;
    }
    if ((rv = run(db, AS_DB_TXN_READ, txn_list, &op, err)) == APR_SUCCESS) {
        *out = op.arr;
    }
    return rv;
}

static int txn_set_access(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    as_device_t d;
    int rc = need_device(db, txn, op, 1, &d);
    if (rc != 0) {
        return rc;
    }
    d.access = (as_access_t)op->flag;
    d.access_changed = apr_time_now();
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_device_set_access(as_db_t *db, apr_pool_t *p, const char *account,
                                  const char *device_id, as_access_t access, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);
    op.flag = (int)access;
    return rv ? rv : run(db, 0, txn_set_access, &op, err);
}

static int txn_remove(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    char key[KEY_MAX];
    size_t kl = as_devrec_key(key, op->account, op->device);
    int rc = as_db_del(as_db_handle(db, AS_DB_DEVICES), txn, key, kl);
    if (rc == DB_NOTFOUND) {
        return fail(op, AS_DEV_ENODEVICE, "no device '%s' for account %s", op->device, op->account);
    }
    return rc;
}

apr_status_t as_device_remove(as_db_t *db, apr_pool_t *p, const char *account,
                              const char *device_id, const char **account_out,
                              const char **device_out, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);

    if (rv == APR_SUCCESS && (rv = run(db, 0, txn_remove, &op, err)) == APR_SUCCESS) {
        if (account_out) {
            *account_out = op.account;
        }
        if (device_out) {
            *device_out = op.device;
        }
    }
    return rv;
}

static int txn_wipe(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    as_device_t d;
    int account_only = op->flag, rc = need_device(db, txn, op, 1, &d);

    if (rc != 0) {
        return rc;
    }
    if (d.wipe == AS_WIPE_ACKED) {
        return fail(op, AS_DEV_EREFUSED,
                    "device %s of %s was already wiped; it stays refused until you remove it "
                    "(device remove %s %s)",
                    op->device, op->account, op->account, op->device);
    }
    if (account_only && as_protocol_number(d.protocol_version) < 161) {
        return fail(op, AS_DEV_EREFUSED,
                    "cannot order an account-only wipe of device %s of %s: it speaks EAS %s, and "
                    "account-only wipe exists only in EAS 16.1 and later (a full wipe erases the "
                    "whole device: device wipe %s %s)",
                    op->device, op->account, d.protocol_version ? d.protocol_version : "(unknown)",
                    op->account, op->device);
    }
    if (d.wipe == AS_WIPE_REQUESTED && account_only && !d.wipe_account_only) {
        return fail(op, AS_DEV_EREFUSED,
                    "a full wipe of device %s of %s is already pending; cancel it first "
                    "(device wipe --cancel %s %s)",
                    op->device, op->account, op->account, op->device);
    }
    if (d.wipe == AS_WIPE_REQUESTED && d.wipe_account_only == account_only) {
        return 0; /* already ordered */
    }
    d.wipe = AS_WIPE_REQUESTED;
    d.wipe_account_only = account_only;
    d.wipe_requested = apr_time_now();
    d.wipe_sent = 0;
    d.wipe_status = 0;
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_device_wipe(as_db_t *db, apr_pool_t *p, const char *account, const char *device_id,
                            int account_only, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);
    op.flag = account_only ? 1 : 0;
    return rv ? rv : run(db, 0, txn_wipe, &op, err);
}

static int txn_wipe_cancel(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    as_device_t d;
    int rc = need_device(db, txn, op, 1, &d);

    if (rc != 0) {
        return rc;
    }
    if (d.wipe == AS_WIPE_ACKED) {
        return fail(op, AS_DEV_EREFUSED, "device %s of %s already acknowledged the wipe",
                    op->device, op->account);
    }
    if (d.wipe == AS_WIPE_NONE) {
        return fail(op, AS_DEV_EREFUSED, "no wipe is pending for device %s of %s", op->device,
                    op->account);
    }
    d.wipe = AS_WIPE_NONE;
    d.wipe_account_only = 0;
    d.wipe_requested = d.wipe_sent = 0;
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_device_wipe_cancel(as_db_t *db, apr_pool_t *p, const char *account,
                                   const char *device_id, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);
    return rv ? rv : run(db, 0, txn_wipe_cancel, &op, err);
}

/* ---- the device limit ----------------------------------------------------------------------- */

static size_t lock_keystr(char *buf, const char *account)
{
    const char *at = strrchr(account, '@');
    size_t ll = at ? (size_t)(at - account) : strlen(account);
    return (size_t)apr_snprintf(buf, KEY_MAX, "c:%s/%.*s", at ? at + 1 : "", (int)ll, account);
}

int as_device_txn_lock_account(as_db_t *db, DB_TXN *txn, const char *account, apr_time_t now)
{
    char key[KEY_MAX];
    unsigned char val[8];
    size_t kl = lock_keystr(key, account);
    int i;
    for (i = 0; i < 8; i++) {
        val[i] = (unsigned char)(((apr_uint64_t)now >> (8 * (7 - i))) & 0xff);
    }
    return as_db_put(as_db_handle(db, AS_DB_DEVICES), txn, key, kl, val, sizeof(val));
}

typedef struct count_t {
    unsigned n, stop;
} count_t;

static int count_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    count_t *c = baton;
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    c->n++;
    return c->stop && c->n >= c->stop ? AS_DB_ROLLBACK : 0;
}

int as_device_txn_count(as_db_t *db, DB_TXN *txn, const char *account, unsigned stop, unsigned *n)
{
    char prefix[KEY_MAX];
    size_t pl = as_devrec_key(prefix, account, NULL);
    count_t c = {0, stop};
    int rc = as_db_iterate(as_db_handle(db, AS_DB_DEVICES), txn, prefix, pl, count_cb, &c);

    *n = c.n;
    return rc == AS_DB_ROLLBACK || rc == DB_NOTFOUND ? 0 : rc;
}
