/* The account service: cascades across directory, cap, devices and sync
 * state (as_account_service.h). */
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_device.h"
#include "activesync/as_syncstate.h"

typedef struct op_t {
    apr_pool_t *p;
    const char *domain, *address;
    int force;
    const as_optedit_t *edit;
    const as_cap_limit_t *cap;
    const char *err; /* message on failure */
    as_dir_account_t *acct;
    apr_array_header_t *arr;
    int ndevices;             /* device records removed with an account or domain */
    apr_array_header_t *gone; /* accounts removed (const char *), for their sync state */
} op_t;

/* One transaction with a sentence for a person on failure (as_db_fail). */
#define fail(op, code, ...)         as_db_fail((op)->p, &(op)->err, (code), __VA_ARGS__)
#define run(db, flags, fn, op, out) as_db_txn_explained(db, flags, fn, op, &(op)->err, out)

/* After a removal committed: the sync state of every device of the removed
 * accounts, each in its own transaction. */
static apr_status_t drop_sync_state(as_db_t *db, op_t *op, const char **err)
{
    apr_status_t rv;
    int i;
    for (i = 0; op->gone && i < op->gone->nelts; i++) {
        const char *a = APR_ARRAY_IDX(op->gone, i, const char *);
        if ((rv = as_syncstate_drop_device(db, a, NULL)) != APR_SUCCESS) {
            if (err) {
                *err = apr_psprintf(op->p,
                                    "the account %s was removed but its sync state could not be "
                                    "dropped (%s); run the removal again",
                                    a, as_db_strerror(rv));
            }
            return rv;
        }
    }
    return APR_SUCCESS;
}

/* ---- domains ---------------------------------------------------------------- */

static int txn_domain_remove(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    unsigned count = 0, nreg = 0, released = 0;
    int rc;

    op->err = NULL;
    /* Take the registry lock first (same order as admissions). */
    if ((rc = as_cap_txn_lock(db, txn, &count)) != 0 ||
        (rc = as_cap_txn_count_domain(db, txn, op->domain, &nreg)) != 0) {
        return rc;
    }
    op->gone = apr_array_make(op->p, 8, sizeof(const char *));
    if ((rc = as_dir_txn_domain_purge(db, txn, op->p, op->domain, op->force, nreg, op->gone,
                                      &op->err)) != 0) {
        return rc;
    }
    /* the devices of the domain's accounts go with them (accounts known only
     * by their devices are added to op->gone) */
    if ((rc = as_device_txn_remove_all(db, txn, op->p, NULL, op->domain, op->gone,
                                       &op->ndevices)) != 0) {
        return rc;
    }
    return as_cap_txn_release_domain(db, txn, op->domain, &count, &released);
}

apr_status_t as_svc_domain_remove(as_db_t *db, apr_pool_t *p, const char *name, int force,
                                  const char **err)
{
    op_t op = {0};
    apr_status_t rv;
    op.p = p;
    op.force = force;
    if (as_dir_domain_name(p, name, &op.domain, err ? err : &op.err) != APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    if ((rv = run(db, 0, txn_domain_remove, &op, err)) != APR_SUCCESS) {
        return rv;
    }
    return drop_sync_state(db, &op, err);
}

/* ---- accounts --------------------------------------------------------------- */

static int txn_account_get(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    as_dir_account_t *a = op->acct;
    int rc = as_dir_txn_resolve(db, txn, op->p, op->address, op->domain, 0, a);
    if (rc != 0) {
        return rc;
    }
    return as_cap_txn_lookup(db, txn, op->address, &a->registered, &a->admitted, 0);
}

apr_status_t as_svc_account_get(as_db_t *db, apr_pool_t *p, const char *address,
                                as_dir_account_t *out, const char **err)
{
    op_t op = {0};
    op.p = p;
    op.acct = out;
    if (as_dir_account_name(p, address, &op.address, &op.domain, err ? err : &op.err) !=
        APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    return run(db, AS_DB_TXN_READ, txn_account_get, &op, err);
}

static int txn_account_list(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    apr_array_header_t *addrs;
    int rc, i;

    op->err = NULL;
    if ((rc = as_dir_txn_account_addresses(db, txn, op->p, op->domain, &addrs)) != 0) {
        return rc;
    }
    op->arr = apr_array_make(op->p, addrs->nelts ? addrs->nelts : 1, sizeof(as_dir_account_t));
    for (i = 0; i < addrs->nelts; i++) {
        const char *addr = APR_ARRAY_IDX(addrs, i, const char *);
        as_dir_account_t *a = apr_array_push(op->arr);
        if ((rc = as_dir_txn_resolve(db, txn, op->p, addr, strrchr(addr, '@') + 1, 0, a)) != 0 ||
            (rc = as_cap_txn_lookup(db, txn, addr, &a->registered, &a->admitted, 0)) != 0) {
            return rc;
        }
    }
    return 0;
}

apr_status_t as_svc_account_list(as_db_t *db, apr_pool_t *p, const char *domain,
                                 apr_array_header_t **out, const char **err)
{
    op_t op = {0};
    apr_status_t rv = APR_SUCCESS;

    op.p = p;
    if (domain && as_dir_domain_name(p, domain, &op.domain, err ? err : &op.err) != APR_SUCCESS) {
        rv = AS_DIR_EINVAL; /* a list of one domain: its name checked first */
    }
    if (rv == APR_SUCCESS) {
        rv = run(db, AS_DB_TXN_READ, txn_account_list, &op, err);
    }
    *out = rv == APR_SUCCESS ? op.arr : NULL;
    return rv;
}

/* Take or release the account's slot as its ActiveSync option now says
 * (count: the registered mailboxes, under the cap's lock). */
static int follow_activesync(as_db_t *db, DB_TXN *txn, op_t *op, int enable, unsigned count)
{
    const as_cap_limit_t *cap = op->cap;
    int registered = 0, released, rc;

    if ((rc = as_cap_txn_lookup(db, txn, op->address, &registered, NULL, 1)) != 0) {
        return rc;
    }
    if (!enable) {
        return registered ? as_cap_txn_release(db, txn, op->address, &count, &released) : 0;
    }
    if (registered) {
        return 0;
    }
    if (cap && cap->mode == AS_CAP_CLOSED) {
        return fail(op, AS_CAP_ECLOSED,
                    "cannot enable ActiveSync for %s: no new mailbox can be admitted (%s)",
                    op->address, cap->reason ? cap->reason : "invalid licence");
    }
    if (cap && cap->mode == AS_CAP_LIMITED && count >= cap->max) {
        return fail(op, AS_CAP_EFULL,
                    "cannot enable ActiveSync for %s: the mailbox cap of %u is reached "
                    "(%u mailboxes registered; cap from %s). Disable or remove a "
                    "registered account first",
                    op->address, cap->max, count, cap->source ? cap->source : "?");
    }
    return as_cap_txn_register(db, txn, op->address, 1, &count, NULL);
}

static int txn_account_update(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    const as_optedit_t *e = op->edit;
    unsigned count = 0;
    int touches_as = (e->set_mask >> AS_OPT_ACTIVESYNC) & 1;
    int enable = touches_as && ((e->set_value >> AS_OPT_ACTIVESYNC) & 1);
    int rc;

    op->err = NULL;
    if (touches_as && (rc = as_cap_txn_lock(db, txn, &count)) != 0) {
        return rc;
    }
    if ((rc = as_dir_txn_account_edit(db, txn, op->p, op->address, op->domain, e, &op->err)) != 0) {
        return rc;
    }
    return touches_as ? follow_activesync(db, txn, op, enable, count) : 0;
}

apr_status_t as_svc_account_update(as_db_t *db, apr_pool_t *p, const char *address,
                                   const as_optedit_t *edit, const as_cap_limit_t *cap,
                                   const char **err)
{
    op_t op = {0};
    op.p = p;
    op.edit = edit;
    op.cap = cap;
    if (as_dir_account_name(p, address, &op.address, &op.domain, err ? err : &op.err) !=
        APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    return run(db, 0, txn_account_update, &op, err);
}

static int txn_account_remove(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    unsigned count = 0;
    int rc, released = 0, had_record = 0;

    op->err = NULL;
    if ((rc = as_cap_txn_lock(db, txn, &count)) != 0 ||
        (rc = as_dir_txn_account_delete(db, txn, op->p, op->address, &had_record)) != 0 ||
        (rc = as_cap_txn_release(db, txn, op->address, &count, &released)) != 0) {
        return rc;
    }
    /* its devices go in the same transaction: a device record left behind
     * would greet a re-added account with the old policy key, wipe or block */
    if ((rc = as_device_txn_remove_all(db, txn, op->p, op->address, NULL, NULL, &op->ndevices)) !=
        0) {
        return rc;
    }
    if (!had_record && !released && !op->ndevices) {
        return fail(op, AS_DIR_ENOACCOUNT,
                    "no such account '%s' (it has no settings, is not registered and has no "
                    "devices)",
                    op->address);
    }
    return 0;
}

apr_status_t as_svc_account_remove_ex(as_db_t *db, apr_pool_t *p, const char *address,
                                      int *ndevices, const char **err)
{
    op_t op = {0};
    apr_status_t rv, drv;
    op.p = p;
    if (ndevices) {
        *ndevices = 0;
    }
    if (as_dir_account_name(p, address, &op.address, &op.domain, err ? err : &op.err) !=
        APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    rv = run(db, 0, txn_account_remove, &op, err);
    if (rv != APR_SUCCESS && rv != AS_DIR_ENOACCOUNT) {
        return rv;
    }
    /* also after AS_DIR_ENOACCOUNT: sync state left by an interrupted
     * removal is cleared by the next one */
    op.gone = apr_array_make(p, 1, sizeof(const char *));
    APR_ARRAY_PUSH(op.gone, const char *) = op.address;
    if ((drv = drop_sync_state(db, &op, err)) != APR_SUCCESS) {
        return drv;
    }
    if (ndevices) {
        *ndevices = op.ndevices;
    }
    return rv;
}

apr_status_t as_svc_account_remove(as_db_t *db, apr_pool_t *p, const char *address,
                                   const char **err)
{
    return as_svc_account_remove_ex(db, p, address, NULL, err);
}

/* ---- devices ---------------------------------------------------------------- */

apr_status_t as_svc_device_remove(as_db_t *db, apr_pool_t *p, const char *account,
                                  const char *device_id, const char **err)
{
    const char *acct = NULL, *dev = NULL;
    apr_status_t rv = as_device_remove(db, p, account, device_id, &acct, &dev, err);

    if (rv == APR_SUCCESS && (rv = as_syncstate_drop_device(db, acct, dev)) != APR_SUCCESS && err) {
        *err = apr_psprintf(p,
                            "device %s of %s was removed but its sync state could not be "
                            "dropped (%s)",
                            dev, acct, as_db_strerror(rv));
    }
    return rv;
}

/* ---- device expiry ---------------------------------------------------------- */

#define EXPIRE_TXN_BATCH 50                      /* devices deleted per transaction */
#define EXPIRE_SCAN_MAX  1000                    /* records read per periodic pass */
#define EXPIRE_CHECK     apr_time_from_sec(60)   /* a process looks at the sweep this often */
#define EXPIRE_LEASE     apr_time_from_sec(300)  /* a claimed pass, should its process die */
#define EXPIRE_STEP      apr_time_from_sec(60)   /* between passes of one sweep */
#define EXPIRE_SWEEP     apr_time_from_sec(3600) /* between sweeps */

typedef struct expire_op_t {
    apr_pool_t *p;
    apr_time_t now;
    const as_device_ages_t *ages;
    unsigned max_scan;
    const char *from, *next;
    apr_array_header_t *found; /* as_device_t: expired at the scan */
    int first, count;          /* the batch: found[first .. first+count) */
    apr_array_header_t *gone;  /* as_device_t: deleted by the batch */
    apr_time_t due;            /* sweep: when due */
    int claimed;
} expire_op_t;

static int txn_expire_scan(as_db_t *db, DB_TXN *txn, void *baton)
{
    expire_op_t *op = baton;
    op->found->nelts = 0;
    return as_device_txn_scan_expired(db, txn, op->p, op->from, op->ages, op->now, op->max_scan,
                                      op->max_scan, op->found, &op->next);
}

static int txn_expire_batch(as_db_t *db, DB_TXN *txn, void *baton)
{
    expire_op_t *op = baton;
    int i, gone, rc;

    op->gone->nelts = 0;
    for (i = op->first; i < op->first + op->count; i++) {
        const as_device_t *d = &APR_ARRAY_IDX(op->found, i, as_device_t);
        rc = as_device_txn_expire_one(db, txn, op->p, d->account, d->device_id, op->ages, op->now,
                                      &gone);
        if (rc != 0) {
            return rc;
        }
        if (gone) {
            *(as_device_t *)apr_array_push(op->gone) = *d;
        }
    }
    return 0;
}

apr_status_t as_svc_devices_expire(as_db_t *db, apr_pool_t *p, apr_time_t now,
                                   const as_device_ages_t *ages, unsigned max_scan,
                                   const char **from, int *n)
{
    expire_op_t op;
    apr_status_t rv;
    int i;

    *n = 0;
    memset(&op, 0, sizeof(op));
    op.p = p;
    op.now = now ? now : apr_time_now();
    op.ages = ages;
    op.max_scan = max_scan ? max_scan : EXPIRE_SCAN_MAX;
    op.from = *from;
    op.found = apr_array_make(p, 16, sizeof(as_device_t));
    op.gone = apr_array_make(p, EXPIRE_TXN_BATCH, sizeof(as_device_t));
    if ((rv = as_db_txn(db, AS_DB_TXN_READ, txn_expire_scan, &op)) != APR_SUCCESS) {
        return rv;
    }
    for (op.first = 0; op.first < op.found->nelts; op.first += op.count) {
        op.count = op.found->nelts - op.first;
        if (op.count > EXPIRE_TXN_BATCH) {
            op.count = EXPIRE_TXN_BATCH;
        }
        if ((rv = as_db_txn(db, 0, txn_expire_batch, &op)) != APR_SUCCESS) {
            return rv;
        }
        /* the record is gone: its sync state can no longer be reached; a
         * failure here leaves only unreachable state (see the header) */
        for (i = 0; i < op.gone->nelts; i++) {
            const as_device_t *d = &APR_ARRAY_IDX(op.gone, i, as_device_t);
            if ((rv = as_syncstate_drop_device(db, d->account, d->device_id)) != APR_SUCCESS) {
                return rv;
            }
        }
        *n += op.gone->nelts;
    }
    *from = op.next;
    return APR_SUCCESS;
}

static int txn_sweep_claim(as_db_t *db, DB_TXN *txn, void *baton)
{
    expire_op_t *op = baton;
    int rc = as_device_txn_sweep_get(db, txn, op->p, op->claimed != 0, &op->due, &op->from);

    if (rc != 0 || op->due > op->now) {
        return rc;
    }
    if (!op->claimed) {
        return AS_DB_ROLLBACK; /* read pass: due, claim it in a write transaction */
    }
    op->claimed = 2;
    return as_device_txn_sweep_put(db, txn, op->now + EXPIRE_LEASE, op->from);
}

static int txn_sweep_done(as_db_t *db, DB_TXN *txn, void *baton)
{
    expire_op_t *op = baton;
    return as_device_txn_sweep_put(db, txn, op->now + (op->next ? EXPIRE_STEP : EXPIRE_SWEEP),
                                   op->next ? op->next : "");
}

apr_status_t as_svc_devices_expire_tick(as_db_t *db, apr_time_t now, const as_device_ages_t *ages,
                                        apr_time_t *next_check, int *n)
{
    expire_op_t op;
    apr_pool_t *p;
    apr_status_t rv;

    *n = 0;
    if ((!ages->unprovisioned && !ages->unseen) || now < *next_check) {
        return APR_SUCCESS;
    }
    *next_check = now + EXPIRE_CHECK;
    if ((rv = apr_pool_create(&p, NULL)) != APR_SUCCESS) {
        return rv;
    }
    memset(&op, 0, sizeof(op));
    op.p = p;
    op.now = now;
    /* a read first: most looks find the sweep not due and write nothing */
    rv = as_db_txn(db, AS_DB_TXN_READ, txn_sweep_claim, &op);
    if (rv == APR_SUCCESS && op.due <= now) {
        op.claimed = 1;
        rv = as_db_txn(db, 0, txn_sweep_claim, &op);
    }
    if (rv == APR_SUCCESS && op.claimed == 2) {
        op.next = op.from;
        rv = as_svc_devices_expire(db, p, now, ages, EXPIRE_SCAN_MAX, &op.next, n);
        if (rv == APR_SUCCESS) {
            rv = as_db_txn(db, 0, txn_sweep_done, &op);
        }
    }
    apr_pool_destroy(p);
    return rv;
}
