/* The per-request gates of the database glue: the mailbox cap (as_cap.h)
 * and provisioning (as_provision.h).
 *
 * The cap's write path -- a first admission or a refusal -- runs under the
 * activesync-cap global mutex, which queues the writers instead of letting
 * their transactions collide and back off.  Two rules keep a stuck or slow
 * holder from stalling every first admission:
 *
 * - The wait is bounded (ActiveSyncCapMutexWait, default 2 s): trylock in a
 *   backoff loop (1 ms doubling to 32 ms) rather than a blocking lock, which
 *   would wait for ever behind a holder that never releases (a process
 *   stopped or blocked inside the critical section: a robust mutex is only
 *   released when its holder dies).  Past the bound: 503 + Retry-After and
 *   one log line.  The loop gives up FIFO order, which the short critical
 *   section below makes irrelevant.
 *
 * - The fsync is not inside the mutex.  The transaction commits with
 *   DB_TXN_NOSYNC under the mutex, the mutex is released, then the log is
 *   flushed (as_db_flush) before the decision is acted on.  The cap stays
 *   exact across processes because the mutex is not what makes it exact:
 *   the transaction reads the counter record with DB_RMW, and that write
 *   lock serialises every registry change (the mutex of a graceful
 *   restart's old children is another mutex anyway).  The commit releases
 *   the lock with the new counter and record in the shared log buffer,
 *   visible to every process at once, so the next admission counts it
 *   whether or not it has reached the disk.  What the flush adds is
 *   durability, and the log is sequential: a later commit that is flushed
 *   carries every earlier one with it, and an OS crash before any flush
 *   loses the commit whole (counter and record together, and the device was
 *   never answered).  The state after recovery is therefore always a prefix
 *   of the commit order, in which count == records <= cap.
 *
 * Log tags: ASY12021-12030, ASY12038-12041, ASY12045.
 */
#include <string.h>
#include <time.h>

#include <apr_global_mutex.h>
#include <apr_strings.h>

#include <httpd.h>
#include <http_config.h>
#include <http_log.h>
#include <http_protocol.h>

#include "mod_activesync_db.h"
#include "mod_activesync_db_state.h"
#include "mod_activesync_private.h"

#define st           mod_activesync_db_st
#define UNAVAIL_WAIT apr_time_from_sec(2) /* a request waits this long for a reopen */

/* apr_global_mutex_lock with a bound: APR_TIMEUP after `wait`. */
static apr_status_t lock_bounded(apr_global_mutex_t *m, apr_interval_time_t wait)
{
    apr_time_t deadline = apr_time_now() + wait;
    apr_interval_time_t pause = apr_time_from_msec(1);

    for (;;) {
        apr_status_t rv = apr_global_mutex_trylock(m);
        apr_time_t now;
        if (!APR_STATUS_IS_EBUSY(rv)) {
            return rv;
        }
        now = apr_time_now();
        if (now >= deadline) {
            return APR_TIMEUP;
        }
        apr_sleep(pause < deadline - now ? pause : deadline - now);
        if (pause < apr_time_from_msec(32)) {
            pause *= 2;
        }
    }
}

/* A panicked handle is reopened by the maintenance thread within
 * milliseconds once no request of this child is inside it.  Rather than
 * answering 503 at once (a child that fails fast would attract most of the
 * traffic: prefork hands connections to whoever is idle), wait a little
 * for it.  Returns the handle entered, or NULL. */
static as_db_t *enter_or_wait(void)
{
    apr_time_t deadline = apr_time_now() + UNAVAIL_WAIT;
    as_db_t *db;

    while ((db = mod_activesync_db_enter()) == NULL && apr_time_now() < deadline) {
        struct timespec ts = {0, 5 * 1000 * 1000};
        mod_activesync_db_kick();
        nanosleep(&ts, NULL);
    }
    return db;
}

static int unavailable(request_rec *r)
{
    apr_table_setn(r->err_headers_out, "Retry-After", RETRY_AFTER);
    return HTTP_SERVICE_UNAVAILABLE;
}

static const as_cap_limit_t *current_cap(request_rec *r)
{
    if (st.license_expires && apr_time_now() >= st.license_expires) {
        if (!__atomic_exchange_n(&st.expiry_logged, 1, __ATOMIC_SEQ_CST)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          ASLOGNO(12021) "%s during uptime: no new mailbox is admitted until a "
                                         "valid licence is installed (then apachectl graceful)",
                          st.expired_cap.reason);
        }
        return &st.expired_cap;
    }
    return &st.cap;
}

int mod_activesync_gate(request_rec *r, const char *account, const char *who,
                        as_cap_decision_t *dec)
{
    const as_cap_limit_t *cap;
    apr_time_t t0, t1, t2;
    apr_status_t rv;
    as_db_t *db;
    int retried = 0, decided = 0, locked = 0;

    memset(dec, 0, sizeof(*dec));
    if (!st.active) {
        /* post_config saw no server with ActiveSync On: cannot happen. */
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      ASLOGNO(12022) "%s: the data directory is not set up", who);
        return unavailable(r);
    }
again:
    db = enter_or_wait();
    if (!db) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(12024) "%s: the account database is not available (being "
                                     "recovered or not open): 503",
                      who);
        return unavailable(r);
    }
    cap = current_cap(r);

    /* The common cases (registered and on; option off) are read-only and
     * need no serialisation: decided without the mutex, so they never
     * queue behind the commits of first admissions. */
    t0 = t1 = apr_time_now();
    rv = as_cap_check(db, r->pool, account, cap, dec, &decided);
    if (rv == APR_SUCCESS && !decided) {
        /* A first admission or a refusal: the write transaction, under
         * the activesync-cap mutex (fail closed). */
        if (!st.mutex_ok) {
            mod_activesync_db_leave();
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          ASLOGNO(12023) "%s: the %s mutex is not available in this child "
                                         "(503)",
                          who, MUTEX_TYPE);
            return unavailable(r);
        }
        rv = lock_bounded(st.mutex, st.mutex_wait);
        if (APR_STATUS_IS_TIMEUP(rv)) {
            mod_activesync_db_leave();
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          ASLOGNO(12045) "%s: the %s mutex stayed held for %" APR_TIME_T_FMT
                                         " ms (ActiveSyncCapMutexWait; a process stuck in a first "
                                         "admission?): 503",
                          who, MUTEX_TYPE, apr_time_as_msec(st.mutex_wait));
            return unavailable(r);
        }
        if (rv != APR_SUCCESS) {
            mod_activesync_db_leave();
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          ASLOGNO(12025) "%s: cannot lock the %s mutex: refused (503)", who,
                          MUTEX_TYPE);
            return unavailable(r);
        }
        locked = 1;
        t1 = apr_time_now();
        rv = as_cap_admit_nosync(db, r->pool, account, cap, dec);
        if (apr_global_mutex_unlock(st.mutex) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          ASLOGNO(12026) "%s: unlocking the %s mutex failed", who, MUTEX_TYPE);
        }
        if (rv == APR_SUCCESS) {
            /* The fsync, outside the mutex (see the top of this file). */
            rv = as_db_flush(db);
        }
    }
    mod_activesync_db_leave();
    if (rv == AS_DB_EUNAVAIL && !retried) {
        /* The environment panicked under the call (another process ran
         * recovery).  The decision is idempotent: what committed before the
         * panic is seen again.  Once more, after the reopen. */
        retried = 1;
        goto again;
    }
    t2 = apr_time_now();

    if (rv != APR_SUCCESS) {
        int busy = rv == AS_DB_EUNAVAIL || rv == AS_DB_EBUSY;
        ap_log_rerror(APLOG_MARK, busy ? APLOG_WARNING : APLOG_ERR, 0, r,
                      ASLOGNO(12027) "%s: the admission check failed: %s (503)", who,
                      as_db_strerror(rv));
        return unavailable(r);
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                  ASLOGNO(12028) "%s: admission %s in %" APR_TIME_T_FMT " us (mutex wait "
                                 "%" APR_TIME_T_FMT " us, %s)",
                  who, as_cap_result_name(dec->result), t2 - t0, t1 - t0,
                  locked ? "write path" : "read-only");
    if (!as_cap_allowed(dec)) {
        /* The one line of the refusal.  A closed licence is the
         * administrator's problem: error level; the others are decisions. */
        ap_log_rerror(APLOG_MARK, dec->result == AS_CAP_DENIED_LICENSE ? APLOG_ERR : APLOG_WARNING,
                      0, r, ASLOGNO(12029) "%s [%s]: 403", dec->reason, who);
        return HTTP_FORBIDDEN;
    }
    if (dec->result == AS_CAP_ADMITTED) {
        ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ASLOGNO(12030) "%s", dec->reason);
    }
    return OK;
}

/* ---- the provisioning gate ------------------------------------------------ */

int mod_activesync_provision_gate(request_rec *r, const as_gate_in_t *in, const char *who,
                                  as_gate_t *g)
{
    apr_status_t rv;
    as_db_t *db;
    int retried = 0;

again:
    memset(g, 0, sizeof(*g));
    db = enter_or_wait();
    if (!db) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(12038) "%s: the device database is not available (being "
                                     "recovered or not open): 503",
                      who);
        return unavailable(r);
    }
    rv = as_provision_gate(db, r->pool, in, g);
    mod_activesync_db_leave();
    if (rv == AS_DB_EUNAVAIL && !retried) {
        /* Panicked under the call: once more after the reopen (the contact
         * it records is idempotent). */
        if (g->doc) {
            xmlFreeDoc(g->doc);
        }
        retried = 1;
        goto again;
    }
    if (rv != APR_SUCCESS) {
        int busy = rv == AS_DB_EUNAVAIL || rv == AS_DB_EBUSY;
        if (g->doc) {
            xmlFreeDoc(g->doc);
            g->doc = NULL;
        }
        ap_log_rerror(APLOG_MARK, busy ? APLOG_WARNING : APLOG_ERR, 0, r,
                      ASLOGNO(12039) "%s: the provisioning check failed: %s (503)", who,
                      as_db_strerror(rv));
        return unavailable(r);
    }
    switch (g->verdict) {
    case AS_GATE_BLOCKED:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(12040) "%s type=%s: device blocked (%s): 403", who,
                      in->device_type ? in->device_type : "(none)",
                      g->reason ? g->reason : "no reason given");
        return HTTP_FORBIDDEN;
    case AS_GATE_WIPED:
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(12041) "%s: the device acknowledged a remote wipe; refused until "
                                     "an administrator removes it (activesync-admin device "
                                     "remove): 403",
                      who);
        return HTTP_FORBIDDEN;
    default:
        return OK;
    }
}
