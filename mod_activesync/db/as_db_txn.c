/* Transactions with bounded retry and the record helpers used inside them
 * (as_db.h). */
#include <stdarg.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>

#include "as_db_private.h"

void as_db_test_hook(as_db_t *db, const char *stage)
{
    if (db && db->opt.test_hook) {
        db->opt.test_hook(stage);
    }
}

/* ---- transactions ------------------------------------------------------ */

static void backoff(int attempt, unsigned *seed)
{
    long max_us = 100L << (attempt < 7 ? attempt : 7); /* 0.1 .. 12.8 ms */
    long us = 50 + (long)(rand_r(seed) % (unsigned)max_us);
    struct timespec ts = {us / 1000000, (us % 1000000) * 1000};
    nanosleep(&ts, NULL);
}

apr_status_t as_db_txn(as_db_t *db, unsigned flags, as_db_txn_fn *fn, void *baton)
{
    DB_TXN *txn;
    int rc = 0, attempt;
    u_int32_t tflags = DB_TXN_NOWAIT;
    unsigned seed = (unsigned)apr_time_now() ^ (unsigned)(uintptr_t)pthread_self();
    apr_time_t deadline = 0;

    if (!db) {
        return AS_DB_EUNAVAIL;
    }
    if (db->pid != as_db_self()) {
        return AS_DB_EFORK;
    }
    if (atomic_get(&db->panicked) || atomic_get(&db->closing)) {
        return AS_DB_EUNAVAIL;
    }
    if (pthread_rwlock_rdlock(&db->rw) != 0) {
        return AS_DB_EUNAVAIL;
    }
    if (!db->env || atomic_get(&db->panicked) || atomic_get(&db->closing)) {
        pthread_rwlock_unlock(&db->rw);
        return AS_DB_EUNAVAIL;
    }
    if (flags & AS_DB_TXN_READ) {
        tflags |= DB_READ_COMMITTED;
    }
    if (flags & AS_DB_TXN_NOSYNC) {
        tflags |= DB_TXN_NOSYNC; /* the caller runs as_db_flush() before it answers */
    }
    for (attempt = 0;; attempt++) {
        if (attempt > 0) {
            if (attempt == 1) {
                deadline = apr_time_now() + db->opt.busy_timeout;
            } else if (apr_time_now() > deadline) {
                break;
            }
            backoff(attempt, &seed);
            if (atomic_get(&db->panicked)) {
                rc = DB_RUNRECOVERY;
                break;
            }
        }
        rc = db->env->txn_begin(db->env, NULL, &txn, tflags);
        if (rc != 0) {
            break;
        }
        rc = fn(db, txn, baton);
        if (rc == 0) {
            rc = txn->commit(txn, 0);
        } else {
            int t = txn->abort(txn);
            if (rc == AS_DB_ROLLBACK) {
                rc = 0;
            }
            if (t == DB_RUNRECOVERY) {
                rc = DB_RUNRECOVERY;
            }
        }
        if ((rc != DB_LOCK_DEADLOCK && rc != DB_LOCK_NOTGRANTED) || (flags & AS_DB_TXN_TRY)) {
            break;
        }
    }
    pthread_rwlock_unlock(&db->rw);
    if (rc == DB_RUNRECOVERY) {
        as_db_mark_panicked(db, "an operation returned DB_RUNRECOVERY");
        return AS_DB_EUNAVAIL;
    }
    if (rc == DB_LOCK_DEADLOCK || rc == DB_LOCK_NOTGRANTED) {
        if (!(flags & AS_DB_TXN_TRY)) {
            as_log(&db->lg, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
                   "transaction in %s gave up after %d attempts (lock contention)", db->home,
                   attempt + 1);
        }
        return AS_DB_EBUSY;
    }
    if (rc < 0 && rc != DB_NOTFOUND) {
        as_log(&db->lg, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS, "transaction in %s: %s", db->home,
               db_strerror(rc));
    }
    return as_db_status(rc);
}

apr_status_t as_db_flush(as_db_t *db)
{
    int rc;

    if (!db) {
        return AS_DB_EUNAVAIL;
    }
    if (db->pid != as_db_self()) {
        return AS_DB_EFORK;
    }
    if (pthread_rwlock_rdlock(&db->rw) != 0) {
        return AS_DB_EUNAVAIL;
    }
    /* A panicked handle cannot flush: the caller answers 503 and the
     * client's retry finds whatever recovery kept. */
    rc = db->env && !atomic_get(&db->panicked) ? db->env->log_flush(db->env, NULL) : DB_RUNRECOVERY;
    pthread_rwlock_unlock(&db->rw);
    if (rc == DB_RUNRECOVERY && db->env) {
        as_db_mark_panicked(db, "log flush");
    }
    return as_db_status(rc);
}

apr_status_t as_db_test_panic(as_db_t *db)
{
    int rc;

    if (pthread_rwlock_rdlock(&db->rw) != 0) {
        return AS_DB_EUNAVAIL;
    }
    rc = db->env ? db->env->set_flags(db->env, DB_PANIC_ENVIRONMENT, 1) : 0;
    pthread_rwlock_unlock(&db->rw);
    return rc == 0 ? APR_SUCCESS : as_db_status(rc);
}

/* ---- record helpers ---------------------------------------------------- */

int as_db_get(DB *dbp, DB_TXN *txn, const void *key, size_t klen, void *buf, size_t *len,
              u_int32_t flags)
{
    DBT k, d;
    int rc;

    memset(&k, 0, sizeof(k));
    memset(&d, 0, sizeof(d));
    k.data = (void *)key;
    k.size = (u_int32_t)klen;
    d.data = buf;
    d.ulen = (u_int32_t)*len;
    d.flags = DB_DBT_USERMEM;
    rc = dbp->get(dbp, txn, &k, &d, flags);
    if (rc == 0 || rc == DB_BUFFER_SMALL) {
        *len = d.size;
    }
    return rc;
}

int as_db_put(DB *dbp, DB_TXN *txn, const void *key, size_t klen, const void *val, size_t vlen)
{
    DBT k, d;

    memset(&k, 0, sizeof(k));
    memset(&d, 0, sizeof(d));
    k.data = (void *)key;
    k.size = (u_int32_t)klen;
    d.data = (void *)val;
    d.size = (u_int32_t)vlen;
    return dbp->put(dbp, txn, &k, &d, 0);
}

int as_db_del(DB *dbp, DB_TXN *txn, const void *key, size_t klen)
{
    DBT k;

    memset(&k, 0, sizeof(k));
    k.data = (void *)key;
    k.size = (u_int32_t)klen;
    return dbp->del(dbp, txn, &k, 0);
}

int as_db_iterate(DB *dbp, DB_TXN *txn, const void *prefix, size_t plen, as_db_iter_fn *cb,
                  void *baton)
{
    DBC *cur;
    DBT k, d;
    int rc, t;
    u_int32_t op = DB_SET_RANGE;

    rc = dbp->cursor(dbp, txn, &cur, 0);
    if (rc != 0) {
        return rc;
    }
    memset(&k, 0, sizeof(k));
    memset(&d, 0, sizeof(d));
    k.flags = DB_DBT_REALLOC;
    d.flags = DB_DBT_REALLOC;
    if (plen > 0) {
        k.data = malloc(plen);
        if (!k.data) {
            cur->close(cur);
            return ENOMEM;
        }
        memcpy(k.data, prefix, plen);
        k.size = (u_int32_t)plen;
    } else {
        op = DB_FIRST;
    }
    for (;;) {
        rc = cur->get(cur, &k, &d, op);
        op = DB_NEXT;
        if (rc != 0) {
            break;
        }
        if (k.size < plen || memcmp(k.data, prefix, plen) != 0) {
            rc = DB_NOTFOUND;
            break;
        }
        rc = cb(baton, k.data, k.size, d.data, d.size);
        if (rc != 0) {
            break;
        }
    }
    free(k.data);
    free(d.data);
    t = cur->close(cur);
    if (rc == DB_NOTFOUND) {
        rc = 0;
    }
    if (rc == 0 && t != 0) {
        rc = t;
    }
    return rc;
}

apr_status_t as_db_txn_explained(as_db_t *db, unsigned flags, as_db_txn_fn *fn, void *baton,
                                 const char **msg, const char **err)
{
    apr_status_t rv;

    *msg = NULL;
    rv = as_db_txn(db, flags, fn, baton);
    if (rv != APR_SUCCESS && err) {
        *err = *msg ? *msg : as_db_strerror(rv);
    }
    return rv;
}

int as_db_fail(apr_pool_t *p, const char **msg, int code, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    *msg = apr_pvsprintf(p, fmt, ap);
    va_end(ap);
    return code;
}
