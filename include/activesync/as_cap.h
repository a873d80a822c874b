/* The mailbox cap (ActiveSyncMailboxCount or a signed licence) and the
 * registry of admitted mailboxes (DESIGN §1).
 *
 * The admission decision for one authenticated account (as_cap_admit):
 *   effective activesync off          -> DENIED_OPTION (nothing written)
 *   registered and activesync on      -> SERVED
 *   unregistered, registry < cap      -> registered now, ADMITTED
 *   unregistered, registry full       -> DENIED_FULL, and the account's
 *                                        activesync is set EXPLICITLY off
 *                                        (record created if needed)
 *   unregistered, licence invalid     -> DENIED_LICENSE (nothing written:
 *                                        a configuration problem is not a
 *                                        decision about the account)
 * Without a cap (mode AS_CAP_UNLIMITED) accounts are still registered, so
 * `mailbox list` always shows who uses ActiveSync and a cap introduced later
 * starts from the real figure.  Registered accounts stay served when the cap
 * is lowered below the registry size; only new admissions are refused.
 *
 * Atomicity: the write path is ONE Berkeley DB transaction whose first step
 * reads the counter record with DB_RMW.  That write lock serialises every
 * first admission, explicit enable/disable and removal across all processes,
 * threads and graceful-restart generations, so the registry never exceeds
 * the cap and the counter always equals the number of registry records.
 * Correct without the APR mutex; the glue may still wrap the call in it
 * (Mutex activesync-cap) to avoid lock churn.  The common case, an account
 * already registered, is a read-only transaction (a handful of btree gets,
 * no log write, no counter lock).
 *
 * Registry encoding (registry.db), version 1:
 *   key "#count"                 value: byte 0 version (1), bytes 1-4 count (BE)
 *   key "m:" DOMAIN "/" LOCAL    value: byte 0 version (1), bytes 1-8 first
 *                                admission (apr_time_t usec, BE), byte 9 how
 *                                (0 request, 1 explicit enable by an admin)
 *
 * cap.conf: post_config writes DATADIR/cap.conf (as_cap_conf_write) with the
 * cap source httpd was configured with; activesync-admin reads it so that
 * explicit enables obey the same cap as the module:
 *   # comment lines
 *   mailbox-count: N | none
 *   license-file: PATH            (optional)
 *   license-key: PATH             (optional, with license-file)
 * Both sides turn that into an as_cap_limit_t with as_cap_limit_resolve().
 */
#ifndef AS_CAP_H
#define AS_CAP_H

#include <sys/types.h>

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "as_db.h"
#include "as_directory.h"

typedef enum {
    AS_CAP_UNLIMITED = 0, /* no cap configured */
    AS_CAP_LIMITED,       /* at most `max` registered mailboxes */
    AS_CAP_CLOSED         /* licence configured but invalid/expired: no new mailboxes */
} as_cap_mode_t;

typedef struct as_cap_limit_t {
    as_cap_mode_t mode;
    unsigned max;       /* AS_CAP_LIMITED */
    const char *source; /* for messages: "ActiveSyncMailboxCount 200", "licence /x (...)" */
    const char *reason; /* AS_CAP_CLOSED: why, e.g. "licence /x expired on 2024-01-31" */
} as_cap_limit_t;

void as_cap_limit_unlimited(as_cap_limit_t *l);
void as_cap_limit_count(as_cap_limit_t *l, unsigned max, const char *source);

/* The effective cap from the configuration: mailbox_count < 0 means the
 * directive is absent; license_file NULL means no licence.  With a licence,
 * its mailbox count is the cap (lowered by ActiveSyncMailboxCount when that is
 * smaller); an unverifiable or expired licence gives AS_CAP_CLOSED with the
 * reason (the caller logs it at start-up and on each refusal).  A licence
 * without a key is CLOSED too.  Never fails. */
void as_cap_limit_resolve(apr_pool_t *p, int mailbox_count, const char *license_file,
                          const char *license_key, apr_time_t now, as_cap_limit_t *out);

/* One sentence describing the cap, for status output. */
const char *as_cap_limit_describe(apr_pool_t *p, const as_cap_limit_t *l);

/* ---- admission ------------------------------------------------------------ */

typedef enum {
    AS_CAP_SERVED = 0,    /* registered earlier: serve */
    AS_CAP_ADMITTED,      /* registered now: serve */
    AS_CAP_DENIED_OPTION, /* effective activesync off: 403 */
    AS_CAP_DENIED_FULL,   /* cap reached: 403; activesync now explicitly off */
    AS_CAP_DENIED_LICENSE /* licence invalid: 403 */
} as_cap_result_t;

typedef struct as_cap_decision_t {
    as_cap_result_t result;
    as_effective_t eff;  /* effective options after the decision (email/contacts/pim
                            for FolderSync and the stores) */
    unsigned count;      /* registry size seen by the write path (0 on the fast path) */
    apr_time_t admitted; /* first admission, when served/admitted */
    const char *reason;  /* one log line naming the account and the reason */
} as_cap_decision_t;

/* 1 for SERVED/ADMITTED. */
int as_cap_allowed(const as_cap_decision_t *d);
const char *as_cap_result_name(as_cap_result_t r);

/* The per-request gate.  `address` is the canonical "local@domain".  cap
 * NULL = unlimited.  Returns APR_SUCCESS with *out filled, AS_DIR_EINVAL for
 * a malformed address, or a database status (AS_DB_EUNAVAIL/AS_DB_EBUSY:
 * answer 503 with Retry-After). */
apr_status_t as_cap_admit(as_db_t *db, apr_pool_t *p, const char *address,
                          const as_cap_limit_t *cap, as_cap_decision_t *out);

/* as_cap_admit() for a caller that serialises the call with a lock of its
 * own (the glue's activesync-cap mutex): the write transaction commits
 * without waiting for the log to reach the disk, so that lock is not held
 * across an fsync.  The caller releases its lock, then calls as_db_flush()
 * and acts on the decision only if the flush succeeded.  Exactness does not
 * depend on the flush: the counter's DB_RMW lock is released by the commit,
 * and another transaction sees the new state from then on, flushed or not;
 * the log is sequential, so any later commit that is flushed carries this
 * one with it, and a crash before any flush loses this commit whole (record
 * and counter together), never one without the other. */
apr_status_t as_cap_admit_nosync(as_db_t *db, apr_pool_t *p, const char *address,
                                 const as_cap_limit_t *cap, as_cap_decision_t *out);

/* The read-only part of as_cap_admit(), which needs no write lock and so no
 * serialisation: it decides the common cases, SERVED (registered, option
 * on) and DENIED_OPTION (option off), with *decided = 1 and *out as
 * as_cap_admit() fills it.  *decided = 0 when only the write path can
 * decide (first admission or refusal): call as_cap_admit() then -- the
 * glue does so under the activesync-cap mutex, so readers never queue
 * behind the writers' commits.  Same return values as as_cap_admit(). */
apr_status_t as_cap_check(as_db_t *db, apr_pool_t *p, const char *address,
                          const as_cap_limit_t *cap, as_cap_decision_t *out, int *decided);

/* ---- registry -------------------------------------------------------------- */

typedef struct as_cap_entry_t {
    const char *address;
    apr_time_t admitted;
    int by_admin; /* reserved by an explicit enable rather than a request */
} as_cap_entry_t;

/* Number of registered mailboxes (the counter record). */
apr_status_t as_cap_count(as_db_t *db, unsigned *count);
/* Registry entries sorted by domain then local part (array of as_cap_entry_t).
 * domain NULL: all. */
apr_status_t as_cap_list(as_db_t *db, apr_pool_t *p, const char *domain, apr_array_header_t **out);
/* Consistency check (tests, `mailbox count`): counter and number of records. */
apr_status_t as_cap_verify(as_db_t *db, unsigned *counter, unsigned *records);

/* ---- building blocks inside one transaction (as_directory.c) -------------- */

/* Read the counter with DB_RMW (write lock): call first in any transaction
 * that changes the registry. */
int as_cap_txn_lock(as_db_t *db, DB_TXN *txn, unsigned *count);
/* 0 and *registered set (admitted may be NULL). */
int as_cap_txn_lookup(as_db_t *db, DB_TXN *txn, const char *address, int *registered,
                      apr_time_t *admitted, int rmw);
/* Register (count is the locked counter value, updated). */
int as_cap_txn_register(as_db_t *db, DB_TXN *txn, const char *address, int by_admin,
                        unsigned *count, apr_time_t *admitted);
/* Remove from the registry if present (*released says whether it was). */
int as_cap_txn_release(as_db_t *db, DB_TXN *txn, const char *address, unsigned *count,
                       int *released);
/* Release every entry of a domain; *n receives how many. */
int as_cap_txn_release_domain(as_db_t *db, DB_TXN *txn, const char *domain, unsigned *count,
                              unsigned *n);
/* Count the entries of a domain. */
int as_cap_txn_count_domain(as_db_t *db, DB_TXN *txn, const char *domain, unsigned *n);

/* ---- cap.conf --------------------------------------------------------------- */

/* Write DATADIR/cap.conf atomically (mode 0644; chowned to uid:gid unless -1). */
apr_status_t as_cap_conf_write(apr_pool_t *p, const char *datadir, int mailbox_count,
                               const char *license_file, const char *license_key, uid_t uid,
                               gid_t gid);
/* Read it: APR_ENOENT when absent; AS_DIR_EINVAL (with *err) when malformed. */
apr_status_t as_cap_conf_read(apr_pool_t *p, const char *datadir, int *mailbox_count,
                              const char **license_file, const char **license_key,
                              const char **err);

#endif
