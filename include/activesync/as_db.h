/* The Berkeley DB 5.3 environment under ActiveSyncDataDir.
 *
 * One transactional environment holds the directory (domains, classes,
 * accounts), the mailbox registry and, later, devices and sync state.  It is
 * shared by every httpd child, every thread of a child and the admin tool.
 *
 * Process model (see shared/reference/apache-bdb-practice.md §3):
 * - The root parent never opens the environment: post_config calls
 *   as_db_prepare_home() to create the directory and give it (and any file
 *   already in it) to the httpd User.  Region, log and database files are then
 *   created by whichever unprivileged process opens the environment first.
 * - Each process opens exactly ONE as_db_t, after fork (child_init), and its
 *   threads share it.  A handle used in another process than the one that
 *   opened it refuses to work (AS_DB_EFORK): handles never cross fork.
 *   DB_REGISTER allows a single DB_ENV per process; as_db_open() enforces it.
 * - Open flags: DB_CREATE|DB_INIT_MPOOL|DB_INIT_LOCK|DB_INIT_LOG|DB_INIT_TXN|
 *   DB_THREAD|DB_REGISTER|DB_RECOVER|DB_FAILCHK, an isalive callback that
 *   treats EPERM as alive, set_thread_count, automatic deadlock detection
 *   (DB_LOCK_DEFAULT), a lock timeout reported as DB_LOCK_NOTGRANTED, errcall
 *   to the core logger and an event callback that notices panics.  Opens are
 *   serialised between processes by an fcntl lock on DATADIR/as_open.lock so
 *   that a DB_REGISTER recovery never races another process's open.
 * - as_db_maintain() must run every few seconds in EVERY process that holds a
 *   handle (a per-child thread, or the watchdog for the checkpoint part):
 *   failchk releases what dead processes held, DB_LOCK_EXPIRE wakes waiters
 *   whose lock timeout passed (BDB evaluates timeouts only when the detector
 *   runs), and a panicked handle is closed and reopened with recovery once no
 *   thread of the process is inside it.  With AS_DB_MAINT_CHECKPOINT it also
 *   checkpoints and removes log files no longer needed (rate-limited by
 *   checkpoint_interval).
 * - While the handle is panicked or being reopened, every operation returns
 *   AS_DB_EUNAVAIL at once: the handler answers 503 with Retry-After.
 * - Debugging: with AS_DB_VERBOSE=1 in the environment, Berkeley DB's
 *   DB_REGISTER and recovery decisions are logged at debug level.
 */
#ifndef AS_DB_H
#define AS_DB_H

#include <sys/types.h>

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

#include <db.h>

#include "as_log.h"

/* Status codes of the environment, the directory and the cap (apr_status_t
 * values in the user range; as_db_strerror() describes them). */
#define AS_ERR_BASE (APR_OS_START_USERERR + 3000)
#define AS_DB_EUNAVAIL                                                                             \
    (AS_ERR_BASE + 1) /* panicked / reopening / closed: 503 + Retry-After                      */
#define AS_DB_EBUSY       (AS_ERR_BASE + 2)  /* lock contention persisted over all retries (503) */
#define AS_DB_EFORK       (AS_ERR_BASE + 3)  /* handle used in another process than its opener */
#define AS_DB_EVERSION    (AS_ERR_BASE + 4)  /* runtime libdb differs from the compiled header */
#define AS_DB_ECORRUPT    (AS_ERR_BASE + 5)  /* a record could not be decoded */
#define AS_DB_EFAIL       (AS_ERR_BASE + 6)  /* any other Berkeley DB error (logged) */
#define AS_DB_ESTUCK      (AS_ERR_BASE + 7)  /* panicked and not reopenable for a long time */
#define AS_DIR_ENODOMAIN  (AS_ERR_BASE + 20) /* unknown domain */
#define AS_DIR_ENOCLASS   (AS_ERR_BASE + 21) /* unknown class */
#define AS_DIR_ENOACCOUNT (AS_ERR_BASE + 22) /* no such account (no record, not registered) */
#define AS_DIR_EEXIST     (AS_ERR_BASE + 23) /* domain/class already exists */
#define AS_DIR_ENOTEMPTY  (AS_ERR_BASE + 24) /* domain/class still has members (use force) */
#define AS_DIR_EINVAL     (AS_ERR_BASE + 25) /* bad name, option or value */
#define AS_CAP_EFULL      (AS_ERR_BASE + 40) /* explicit enable refused: registry full */
#define AS_CAP_ECLOSED    (AS_ERR_BASE + 41) /* explicit enable refused: licence invalid */

/* Text for the codes above (and a generic text for others). */
const char *as_db_strerror(apr_status_t rv);

typedef struct as_db_t as_db_t;

/* Databases of the environment (files in the data directory). */
typedef enum {
    AS_DB_DIRECTORY = 0, /* directory.db: domains, classes, accounts (as_directory.c) */
    AS_DB_REGISTRY,      /* registry.db: admitted mailboxes + counter (as_cap.c) */
    AS_DB_DEVICES,       /* devices.db: devices and domain device rules (as_device.c) */
    AS_DB_SYNC,          /* syncstate.db: hierarchy and collection sync state (as_syncstate.c) */
    AS_DB_NDBS
} as_db_which_t;

typedef struct as_db_options_t {
    /* Thread slots in the environment: at least ServerLimit x ThreadsPerChild
     * plus maintenance threads and admin tools (default 2048). */
    unsigned thread_count;
    /* Lock wait limit; a waiter past it gets DB_LOCK_NOTGRANTED (retried) once
     * maintenance runs DB_LOCK_EXPIRE (default 2 s). */
    apr_interval_time_t lock_timeout;
    /* Memory pool size (default 8 MiB). */
    apr_size_t cache_bytes;
    /* Minimum time between checkpoints in as_db_maintain(CHECKPOINT) (default 60 s). */
    apr_interval_time_t checkpoint_interval;
    /* Commit without fsync (survives process crashes, not OS crashes; tests). */
    int nosync;
    /* How long as_db_txn() keeps retrying a transaction that meets a lock
     * held by another one before it gives up with AS_DB_EBUSY (default 5 s). */
    apr_interval_time_t busy_timeout;
    /* Test hook (never set in production): called with a stage name at
     * instrumented points inside transactions of this handle (as_cap.c
     * after taking the counter lock).  NULL: none (default). */
    void (*test_hook)(const char *stage);
} as_db_options_t;

/* Fills the defaults above. */
void as_db_options_default(as_db_options_t *o);

/* Compare the runtime libdb with the header compiled against (major.minor
 * must match; the patch level may differ).  AS_DB_EVERSION and a text in
 * *msg (static storage) otherwise. */
apr_status_t as_db_check_version(const char **msg);

/* For the root parent (post_config): create `path` (and parents, mode 0750)
 * if missing and give it, and every entry directly inside it, to uid:gid
 * (lchown, no recursion), so files once created by a root tool become usable
 * by the children.  Never opens the environment.  Pass (uid_t)-1/(gid_t)-1
 * to keep an id.  On error *msg says what failed. */
apr_status_t as_db_prepare_home(apr_pool_t *p, const char *path, uid_t uid, gid_t gid,
                                const char **msg);

/* Run recovery on the environment in `home` while NO process has it open
 * (httpd's first start or a full restart, from post_config's second pass,
 * before any child exists; or a tool with httpd stopped).  This is the
 * remedy for the one failure failchk cannot handle in libdb 5.3: a process
 * killed while holding a Berkeley DB *mutex* (not a lock) makes every later
 * failchk, including the one inside a DB_REGISTER open, block forever
 * [tried: SIGKILL at random instants].  Run as root, follow it with
 * as_db_prepare_home() so the files belong to the httpd User.  Never call it
 * while children of an older generation may still be attached (graceful
 * restart). */
apr_status_t as_db_recover_offline(const char *home, const as_logger_t *lg);

/* The processes attached to the environment in `home`: those registered
 * (DB_REGISTER keeps an fcntl lock per process on __db.register) and the
 * holder of the open lock (an open, a failchk or recovery in progress).
 * Fills up to `max` distinct pids into out; returns how many.  Takes no
 * lock and opens nothing (fine for the root parent). */
size_t as_db_attached(const char *home, pid_t *out, size_t max);

/* as_db_recover_offline(), but only if no process is attached: with the
 * open lock held (so nobody can register meanwhile) it checks
 * __db.register; APR_EBUSY with *attached set when a process still is,
 * else the recovery's status. */
apr_status_t as_db_recover_detached(const char *home, const as_logger_t *lg, pid_t *attached);

/* The recovery gate, for a process about to stop the processes attached
 * to the environment and recover it: while it is held, no other process
 * takes the open lock (opens, failchk and DB_REGISTER recovery wait as for
 * the open lock; one that got the open lock meanwhile lets it go).  So when
 * the stopped processes release the open lock, the gate holder can take it
 * before anyone else attaches.  Returns an fd for as_db_ungate_opens(), or
 * -errno (another process holds the gate: -EAGAIN). */
int as_db_gate_opens(const char *home);
void as_db_ungate_opens(int fd);

/* Open (creating if needed) the environment in `home` and its databases.
 * opts may be NULL (defaults); lg may be NULL (default logger).  The handle
 * lives until as_db_close() (it is malloc'd, not pool-bound: the glue
 * registers a pchild cleanup that calls as_db_close).  Fails with
 * APR_EEXIST if this process already has a handle open on `home`. */
apr_status_t as_db_open(as_db_t **pdb, const char *home, const as_db_options_t *opts,
                        const as_logger_t *lg);

/* Close the databases and the environment (waits for in-flight operations of
 * other threads).  NULL is accepted.  In a process other than the opener the
 * handles are not touched (only the memory is freed). */
void as_db_close(as_db_t *db);

/* Maintenance, every few seconds, in every process (see above). */
#define AS_DB_MAINT_FAILCHK    0x1 /* failchk + lock expiry + panic reopen */
#define AS_DB_MAINT_CHECKPOINT 0x2 /* checkpoint + log removal when due */
#define AS_DB_MAINT_FORCE_CKP  0x4 /* checkpoint now, whatever the interval */
#define AS_DB_MAINT_ALL        (AS_DB_MAINT_FAILCHK | AS_DB_MAINT_CHECKPOINT)
/* APR_SUCCESS, AS_DB_EUNAVAIL (panicked, reopen postponed: threads still
 * inside), AS_DB_ESTUCK (panicked for more than a minute: a child should exit
 * so its replacement opens afresh) or the error of a failed reopen. */
apr_status_t as_db_maintain(as_db_t *db, unsigned what);

/* Cheap check for the request path: 1 when operations can run now. */
int as_db_available(as_db_t *db);
/* Times the handle was reopened after a panic (tests, status). */
unsigned as_db_generation(as_db_t *db);
const char *as_db_home(as_db_t *db);
const as_logger_t *as_db_logger(as_db_t *db);

/* Transactions with bounded retry.
 * fn runs inside a fresh transaction; it returns 0 to commit,
 * AS_DB_ROLLBACK to abort without error (as_db_txn returns APR_SUCCESS), or a
 * Berkeley DB / errno / apr_status_t error, which aborts.
 * Every transaction runs with DB_TXN_NOWAIT: a lock conflict never blocks
 * inside Berkeley DB; it aborts, backs off (random, 0.1 to 10 ms, growing)
 * and runs fn again, until busy_timeout, then AS_DB_EBUSY.  Reason [tried]:
 * when a process dies holding locks and the environment ends up recovered
 * (DB_REGISTER recovery panics every process), threads blocked on a lock in
 * the old region are never woken; waiting in our own loop instead lets them
 * see the panic and return AS_DB_EUNAVAIL.  A lock held by a dead process is
 * released by the next failchk (as_db_maintain), which is why busy_timeout
 * must exceed the maintenance interval.
 * fn must be idempotent with respect to its baton (reset results at start).
 * DB_RUNRECOVERY marks the handle panicked and returns AS_DB_EUNAVAIL. */
#define AS_DB_ROLLBACK (AS_ERR_BASE + 99)
#define AS_DB_TXN_READ 0x1 /* read-only: DB_READ_COMMITTED */
#define AS_DB_TXN_TRY  0x2 /* no retry: a conflict returns AS_DB_EBUSY at once */
/* Commit without writing the log: the commit is visible to every process at
 * once, durable only after as_db_flush() (or any later synchronous commit,
 * the log being sequential).  For callers that must not hold a lock of
 * their own across the fsync. */
#define AS_DB_TXN_NOSYNC 0x4
typedef int as_db_txn_fn(as_db_t *db, DB_TXN *txn, void *baton);
apr_status_t as_db_txn(as_db_t *db, unsigned flags, as_db_txn_fn *fn, void *baton);

/* The same for an operation that can explain its failure to a person (the
 * admin tool's sentences): *msg is cleared first, fn may set it (as_db_fail);
 * on failure *err (may be NULL) gets *msg, else the code's text. */
apr_status_t as_db_txn_explained(as_db_t *db, unsigned flags, as_db_txn_fn *fn, void *baton,
                                 const char **msg, const char **err);
/* Inside such an operation: *msg = the formatted sentence (pool p), and code
 * returned, to be returned by the transaction function. */
int as_db_fail(apr_pool_t *p, const char **msg, int code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* Write and fsync the log up to its end: makes every AS_DB_TXN_NOSYNC
 * commit of this process durable.  AS_DB_EUNAVAIL when the handle panicked
 * (the commit may be lost with the rest of the unflushed log). */
apr_status_t as_db_flush(as_db_t *db);

/* The DB handle of one database, for code running inside as_db_txn(). */
DB *as_db_handle(as_db_t *db, as_db_which_t which);

/* Map a Berkeley DB return code to apr_status_t (DB_NOTFOUND -> APR_NOTFOUND...). */
apr_status_t as_db_status(int bdb_rc);

/* Small helpers for code inside transactions: get into a caller buffer
 * (DB_DBT_USERMEM; returns DB_BUFFER_SMALL when it does not fit, *len set to
 * the needed size), put, del.  Return Berkeley DB codes. */
int as_db_get(DB *dbp, DB_TXN *txn, const void *key, size_t klen, void *buf, size_t *len,
              u_int32_t flags);
int as_db_put(DB *dbp, DB_TXN *txn, const void *key, size_t klen, const void *val, size_t vlen);
int as_db_del(DB *dbp, DB_TXN *txn, const void *key, size_t klen);

/* Iterate over the keys starting with `prefix` (klen bytes) in key order;
 * cb returns 0 to go on, non-zero to stop (returned as is).  Key and value
 * are only valid during the call. */
typedef int as_db_iter_fn(void *baton, const void *key, size_t klen, const void *val, size_t vlen);
int as_db_iterate(DB *dbp, DB_TXN *txn, const void *prefix, size_t plen, as_db_iter_fn *cb,
                  void *baton);

/* Calls the handle's test hook (as_db_options_t test_hook), if any. */
void as_db_test_hook(as_db_t *db, const char *stage);
/* Test only: put the environment in the panic state (DB_PANIC_ENVIRONMENT),
 * as a crash inside Berkeley DB would; every process must then reopen. */
apr_status_t as_db_test_panic(as_db_t *db);

#endif
