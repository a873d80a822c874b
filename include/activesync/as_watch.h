/* Push: wait in the calling thread until a mail folder changes, a timeout
 * passes, a newer Ping/Sync of the same (account, device) supersedes the
 * wait, or the process stops (DESIGN §3: a parked request costs a thread
 * and a few kilobytes, never a process; new mail is noticed by inotify
 * within about a second).
 *
 * HOW A COMMAND PARKS (Ping, Sync with Wait/HeartbeatInterval)
 *
 *     as_watch_ticket_t *t;
 *     as_watch_t *w;
 *     as_watch_result_t res;
 *     as_watch_claim(p, datadir, account, device_key, &t);   1. claim
 *     as_watch_create(p, t, log, &stop, &w);                  2. watch the claim
 *     for each folder: for each path of as_store_watch_paths():
 *         as_watch_add(w, path, &index);                      3. watch new/, cur/
 *     if (anything changed already (folder tokens))  -> answer now
 *     while (as_watch_wait(w, remaining, &res) == APR_SUCCESS
 *            && res == AS_WATCH_CHANGED) {                    4. park
 *         for the folders with as_watch_fired(w, index):
 *             confirm with the folder token / a listing;
 *         if a real change -> answer "changed"
 *     }
 *     AS_WATCH_TIMEOUT    -> answer "no change"
 *     AS_WATCH_SUPERSEDED -> a newer request of the device took over: answer
 *                            "no change" at once (the device has moved on)
 *     AS_WATCH_STOPPING   -> the server stops: answer "no change" at once
 *     as_watch_close(w)   (or let the pool cleanup do it)
 *
 * Watches are registered (step 3) BEFORE the first check of the folders,
 * so a delivery between the check and the wait is never missed: events
 * accumulate from as_watch_add on, and a wait that starts with events
 * pending returns at once.  as_watch_wait() moves the pending events into
 * the "fired" set that as_watch_fired() reports and starts a new pending
 * set, so events arriving while the caller checks the folders make the
 * next wait return immediately.
 *
 * Coalescing: after the first event a wait keeps waiting until no further
 * event came for AS_WATCH_QUIET (100 ms), but at most AS_WATCH_COALESCE_MAX
 * (500 ms) after the first one: a delivery (tmp/ write, link into new/,
 * Dovecot's move to cur/) or a burst of them gives one wake-up.
 *
 * Events: IN_CREATE, IN_MOVED_TO, IN_MOVED_FROM, IN_DELETE (deliveries,
 * flag changes by rename, expunges), IN_MODIFY (the claim file; a writer
 * inside new/ or cur/, which well-behaved Maildir writers never are),
 * IN_DELETE_SELF/IN_MOVE_SELF (the folder vanished or was renamed: the
 * hierarchy changed).  IN_ATTRIB is not watched: Maildir state is in file
 * names, and atime/ctime updates by readers would only cause spurious
 * wake-ups.  A queue overflow (IN_Q_OVERFLOW) fires every wait.
 *
 * PROCESS MODEL AND COST
 * One inotify instance per process, shared by all waits, and one
 * dispatcher thread that reads it (started on first use; a forked child
 * starts its own).  A wait blocks on its own condition variable; it holds
 * no file descriptor.  Watches are reference-counted: two devices watching
 * the same folder share one kernel watch.  Cost per parked wait: about
 * 200 bytes plus 24 bytes per watched path in the process, one inotify
 * watch per distinct directory in the kernel (about 1 KB each, counted
 * against fs.inotify.max_user_watches), no fd.  The alternative -- one
 * inotify fd per wait -- needs no dispatcher thread but hits
 * fs.inotify.max_user_instances (default 128 per user: all httpd children
 * run as one user) long before 1,000 parked devices, and costs an fd each.
 * Measured figures: see t/unit/test_watch.c (1,000 parked waits).
 * Without inotify (instances exhausted at start, watch limit reached) the
 * wait degrades to checking every AS_WATCH_POLL_SEC seconds: it returns
 * AS_WATCH_CHANGED with every path fired, and the caller rechecks its O(1)
 * folder tokens; this is logged once.
 *
 * SUPERSEDE (per-device serialisation, across processes)
 * as_watch_claim() writes a fresh random 64-bit claim into
 * /dev/shm/mod_activesync-<d>/push/<h> (d = first 16 hex digits of
 * SHA-256(the real path of the data directory), h = first 32 hex digits of
 * SHA-256(account "\n" device)), under an flock() of the file.  The claims
 * are on the memory file system so that no request writes to the disk for
 * them (issue 10); they need not survive a reboot, which ends every parked
 * request anyway.  When /dev/shm is missing or its directory is not ours
 * (another user made it first, a symlink, writable by others) the claims go
 * to DATADIR/push as before.  The ticket remembers that
 * value.  A wait watches the file (IN_MODIFY) through the same inotify
 * instance and, when it changes, rereads it under a shared flock(): a value
 * different from its ticket means a newer claim, so the wait returns
 * AS_WATCH_SUPERSEDED.  It works between threads, between httpd children
 * (prefork, worker, event) and across graceful restarts, since only the
 * file system is shared.  Every Ping and every Sync of a device claims; so
 * at most one parked wait per (account, device) survives: the newest.  A
 * missing or unreadable file counts as superseded.  Files are 8 bytes, one
 * per device ever seen, never removed by the module (an administrator may
 * remove the push directory at any time: parked waits then end as
 * superseded).
 *
 * GRACEFUL STOP
 * as_watch_stop() (async-signal-safe: an atomic flag and a write() to an
 * eventfd) makes every parked wait of the process return AS_WATCH_STOPPING
 * at once and every later wait return it immediately; the glue calls it
 * from a pool cleanup or a signal handler.  Each wait may also bring a
 * stop check (as_watch_create; e.g. a function returning
 * ap_mpm_query(AP_MPMQ_MPM_STATE) == AP_MPMQ_STOPPING): it is asked when
 * the wait starts and, while the wait is parked, once a second by the
 * dispatcher -- once per distinct (fn, baton) of the parked waits, not per
 * wait -- and when it answers nonzero the waits that carry it return
 * AS_WATCH_STOPPING.  Waits with another check, or none, are not affected.
 *
 * WHAT IS PROCESS-WIDE
 * Only the resource: the inotify instance, the dispatcher thread, the
 * kernel watches and the as_watch_stop() flag.  Its configuration comes
 * from the caller: the logger and a benchmark tick from as_watch_start()
 * (or the logger of the first wait when nothing started it), the stop
 * check from each wait.
 *
 * THREADS: all functions are thread-safe; one as_watch_t is used by one
 * thread at a time.
 */
#ifndef AS_WATCH_H
#define AS_WATCH_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

#include "as_log.h"

#define AS_WATCH_QUIET        apr_time_from_msec(100)
#define AS_WATCH_COALESCE_MAX apr_time_from_msec(500)
#define AS_WATCH_POLL_SEC     10
#define AS_WATCH_CLAIM_SHM    "/dev/shm" /* where claims live (SUPERSEDE) */

typedef enum {
    AS_WATCH_CHANGED = 1, /* a watched path changed (see as_watch_fired) */
    AS_WATCH_TIMEOUT,     /* nothing happened within the timeout */
    AS_WATCH_SUPERSEDED,  /* a newer claim of the same (account, device) */
    AS_WATCH_STOPPING     /* the process stops (as_watch_stop, the wait's stop check) */
} as_watch_result_t;

/* "changed", "timeout", "superseded", "stopping". */
const char *as_watch_result_name(as_watch_result_t r);

/* ---- supersede ------------------------------------------------------------ */

typedef struct as_watch_ticket_t {
    const char *path;   /* the claim file (SUPERSEDE) */
    apr_uint64_t claim; /* the value written by this claim */
} as_watch_ticket_t;

/* Claim (account, device) for this request: every older ticket of the pair,
 * in any process, stops being current and its waits return
 * AS_WATCH_SUPERSEDED.  Creates DATADIR/push (mode 0700) when missing. */
apr_status_t as_watch_claim(apr_pool_t *p, const char *datadir, const char *account,
                            const char *device, as_watch_ticket_t **ticket);

/* 1 while no newer claim was made, else 0 (also when the file is gone). */
int as_watch_ticket_current(const as_watch_ticket_t *t);

/* ---- waiting --------------------------------------------------------------- */

typedef struct as_watch_t as_watch_t;

/* A stop check: nonzero when the waits that carry it must end (the server
 * stops).  Called from the dispatcher thread and the waiting thread; it
 * must be thread-safe and cheap. */
typedef int as_watch_stop_fn(void *baton);
typedef struct as_watch_stop_check_t {
    as_watch_stop_fn *fn; /* NULL: none */
    void *baton;
} as_watch_stop_check_t;

/* A new wait registration in pool p (closed by a cleanup of p).  ticket may
 * be NULL (no supersede).  log may be NULL.  stop may be NULL (only
 * as_watch_stop() ends the wait early); it is copied. */
apr_status_t as_watch_create(apr_pool_t *p, const as_watch_ticket_t *ticket, const as_logger_t *log,
                             const as_watch_stop_check_t *stop, as_watch_t **w);

/* Watch a directory (or file).  *index (may be NULL) receives its index for
 * as_watch_fired().  APR_ENOENT when the path does not exist; when inotify
 * cannot take the watch (limit reached) the wait degrades to polling (see
 * above) and APR_SUCCESS is returned. */
apr_status_t as_watch_add(as_watch_t *w, const char *path, int *index);

/* Wait up to timeout (>= 0) for an event on the watched paths, then
 * coalesce (see above).  *result says why it returned; APR_SUCCESS unless
 * an argument is wrong. */
apr_status_t as_watch_wait(as_watch_t *w, apr_interval_time_t timeout, as_watch_result_t *result);

/* Did path `index` fire in the events the last as_watch_wait() returned? */
int as_watch_fired(const as_watch_t *w, int index);

/* Unregister (idempotent; also run by the pool cleanup). */
void as_watch_close(as_watch_t *w);

/* ---- process-wide ----------------------------------------------------------- */

/* Make every parked and future wait return AS_WATCH_STOPPING.
 * Async-signal-safe. */
void as_watch_stop(void);
int as_watch_stopping(void);

/* The configuration of the process-wide part, given when it starts. */
typedef struct as_watch_config_t {
    const as_logger_t *log; /* start-up problems (no inotify, no thread); may be NULL */
    /* Called once a second by the dispatcher, NULL: none (benchmarks sample
     * as_watch_stats() with it). */
    void (*tick)(void *baton);
    void *tick_baton;
} as_watch_config_t;

/* Start the process-wide part now (inotify instance, dispatcher) with cfg
 * (NULL: no logger, no tick) instead of at the first wait.  APR_EEXIST
 * when it already runs in this process: its configuration is then left as
 * it is (set once, by whoever started it; as_watch_shutdown() ends it). */
apr_status_t as_watch_start(const as_watch_config_t *cfg);

/* Stop the dispatcher, wake and wait for the remaining waits (up to 5 s),
 * release the inotify instance, and clear the stopping flag (child exit,
 * tests).  The next wait starts afresh. */
void as_watch_shutdown(void);

typedef struct as_watch_stats_t {
    unsigned waits;   /* registered as_watch_t */
    unsigned parked;  /* waits inside as_watch_wait() now (blocked, or about to) */
    unsigned watches; /* distinct kernel watches */
    apr_size_t bytes; /* heap bytes held for waits and watches */
    int fds;          /* descriptors held by the process-wide part (0 or 2) */
    int polling;      /* inotify unavailable: polling fallback in use */
} as_watch_stats_t;

void as_watch_stats(as_watch_stats_t *s);

#endif
