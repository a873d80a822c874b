/* The data directory, the Berkeley DB environment and the mailbox cap: the
 * httpd side of as_db.h and as_cap.h.  The per-request gates are in
 * mod_activesync_gate.c, the parent's wedge watch in mod_activesync_wedge.c;
 * the state they share is mod_activesync_db_state.h.
 *
 * Life cycle (shared/reference/apache-bdb-practice.md §2-3):
 *
 *   pre_config    registers the "activesync-cap" mutex type, so that
 *                 "Mutex MECH activesync-cap" works.
 *   post_config   second pass only (the first one, before httpd detaches,
 *                 is a dry run), and only when some server says
 *                 "ActiveSync On" (loading the module alone touches nothing):
 *                 - checks the runtime libdb against the compiled header;
 *                 - creates ActiveSyncDataDir and gives it (and the files
 *                   directly in it) to the httpd User/Group, after checking
 *                   that it holds nothing but our files (a mistyped
 *                   ActiveSyncDataDir /var/lib must not give /var/lib away);
 *                 - on a real start of the parent (first start, or
 *                   "-k restart", whose children are gone: not a graceful
 *                   restart, whose old children still use the environment)
 *                   runs Berkeley DB recovery, unless some process still
 *                   holds the environment (a lock on __db.register, as
 *                   DB_REGISTER keeps one per attached process): the remedy
 *                   for a child killed inside a Berkeley DB mutex;
 *                 - resolves the cap (ActiveSyncMailboxCount, or the licence
 *                   verified here, as root: children may not be able to read
 *                   it) and logs it once: notice for a cap, error for a
 *                   licence that admits nothing and why;
 *                 - writes DATADIR/cap.conf for activesync-admin;
 *                 - creates the global mutex (a new one per generation).
 *   child_init    attaches the mutex, opens the environment (failure: logged,
 *                 requests get 503 and the maintenance thread retries the
 *                 open), and starts one maintenance thread per child that
 *                 runs as_db_maintain() every second: failchk, lock expiry,
 *                 panic reopen, checkpoints.  AS_DB_ESTUCK makes the child
 *                 exit so that a fresh one replaces it.  A pchild
 *                 pre-cleanup stops the thread, then closes the environment.
 *   the gate      per request (mod_activesync_gate.c): the read-only check
 *                 decides registered accounts and accounts whose option is
 *                 off without any lock; only a first admission or a
 *                 refusal runs under the activesync-cap mutex, waited for
 *                 at most ActiveSyncCapMutexWait, and without the fsync.
 *
 * Licence expiry: the parent verified the licence and knows its expiry
 * instant; every admission compares the clock with it, so a licence that
 * expires during uptime closes new admissions at once (error line once per
 * child, and the reason on each refusal).  A renewed licence file is read
 * at the next graceful restart.
 *
 * Log tags: ASY12000-12999 (this file: 12001-12020; see the others).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_global_mutex.h>
#include <apr_strings.h>

#include <ap_mpm.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mpm_common.h>
#include <scoreboard.h>
#include <unixd.h>
#include <util_mutex.h>

#include "activesync/as_account_service.h"
#include "activesync/as_license.h"
#include "mod_activesync_config.h"
#include "mod_activesync_db.h"
#include "mod_activesync_db_state.h"
#include "mod_activesync_private.h"

#define MAINT_INTERVAL_MS 1000
#define REOPEN_EVERY      apr_time_from_sec(5)
#define STUCK_EXIT_AFTER  apr_time_from_sec(30)
#define KICK_OPEN_EVERY   apr_time_from_sec(1) /* opens asked for by requests */
#define KICK_MIN_GAP      apr_time_from_msec(20)
#define MIN_THREAD_COUNT  2048

db_state_t mod_activesync_db_st;
#define st mod_activesync_db_st

/* ---- post_config helpers -------------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && !strcmp(s + n - m, suffix);
}

/* Files Berkeley DB, as_db.c and as_cap.c create in the data directory. */
static int our_entry(const char *name)
{
    return !strncmp(name, "__db.", 5) || !strncmp(name, "log.", 4) || ends_with(name, ".db") ||
           !strcmp(name, "as_open.lock") || !strcmp(name, "as_recover.lock") ||
           !strcmp(name, "cap.conf") || !strncmp(name, ".cap.conf.", 10) ||
           !strcmp(name, "DB_CONFIG");
}

/* The first entry of dir that as_db_prepare_home() would give to uid:gid and
 * that is not one of ours, or NULL. */
static const char *foreign_entry(apr_pool_t *p, const char *dir, uid_t uid, gid_t gid)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    const char *found = NULL;

    if (!d) {
        return NULL; /* missing: created empty */
    }
    while (!found && (de = readdir(d)) != NULL) {
        struct stat sb;
        const char *path;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..") || our_entry(de->d_name)) {
            continue;
        }
        path = apr_pstrcat(p, dir, "/", de->d_name, NULL);
        if (lstat(path, &sb) == 0 && (sb.st_uid != uid || sb.st_gid != gid)) {
            found = path;
        }
    }
    closedir(d);
    return found;
}

/* Is this post_config the start of a new parent (or a hard restart, whose
 * children have been reclaimed), rather than a graceful restart? */
static int real_start(void)
{
    ap_unixd_mpm_retained_data *rd = ap_unixd_mpm_get_retained_data();
    return !rd || !rd->was_graceful;
}

/* Recovery at start-up is routine, not an incident: the core's lines about
 * it ("... is panicked: running recovery") go to the log at info level at
 * most; a failure gets our own error line. */
static int routine_enabled(void *baton, int level)
{
    const as_logger_t *lg = baton;
    return as_log_enabled(lg, level < AS_LOG_INFO ? AS_LOG_INFO : level);
}

static void routine_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                          const char *msg)
{
    const as_logger_t *lg = baton;
    if (lg && lg->print) {
        lg->print(lg->baton, file, line, level < AS_LOG_INFO ? AS_LOG_INFO : level, rv, msg);
    }
}

/* Recovery at start-up is skipped while another process has the
 * environment open. */
static void still_attached(server_rec *s, long holder)
{
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                 ASLOGNO(12001) "not running recovery on %s at start-up: process %ld "
                                "still has the environment open (an old httpd child or "
                                "activesync-admin?)",
                 st.datadir, holder);
}

static void recover_at_start(apr_pool_t *ptemp, server_rec *s, uid_t uid, gid_t gid)
{
    as_logger_t routine, server;
    const char *msg = NULL;
    struct stat sb;
    apr_status_t rv;
    apr_time_t t0;
    pid_t holder = 0;

    if (stat(apr_pstrcat(ptemp, st.datadir, "/__db.001", NULL), &sb) != 0) {
        return; /* no environment yet */
    }
    if (as_db_attached(st.datadir, &holder, 1) > 0) {
        still_attached(s, holder);
        return;
    }
    routine.enabled = routine_enabled;
    routine.print = routine_print;
    mod_activesync_logger_server(&server, s);
    routine.baton = &server;
    t0 = apr_time_now();
    rv = as_db_recover_detached(st.datadir, &routine, &holder);
    if (rv == APR_EBUSY) {
        still_attached(s, holder);
        return;
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     ASLOGNO(12002) "recovery of the Berkeley DB environment in %s failed; the "
                                    "children will try to open it anyway",
                     st.datadir);
    } else {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, s,
                     ASLOGNO(12003) "recovered the Berkeley DB environment in %s at start-up "
                                    "(%" APR_TIME_T_FMT " ms)",
                     st.datadir, apr_time_as_msec(apr_time_now() - t0));
    }
    /* Recovery ran as root: give the files it created to the User. */
    if (as_db_prepare_home(ptemp, st.datadir, uid, gid, &msg) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ASLOGNO(12004) "%s", msg ? msg : st.datadir);
    }
}

static void resolve_cap(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s,
                        const mod_activesync_global_t *g)
{
    apr_time_t now = apr_time_now();

    as_cap_limit_resolve(pconf, g->mailbox_count, g->license_file, g->license_key, now, &st.cap);
    st.license_expires = 0;
    if (g->license_file && g->license_key && st.cap.mode == AS_CAP_LIMITED) {
        as_license_t lic;
        const char *msg = NULL;
        if (as_license_verify_file(ptemp, g->license_file, g->license_key, now, &lic, &msg) ==
            AS_LIC_VALID) {
            st.license_expires = lic.expires_at;
            st.expired_cap.mode = AS_CAP_CLOSED;
            st.expired_cap.max = 0;
            st.expired_cap.source = st.cap.source;
            st.expired_cap.reason =
                apr_psprintf(pconf, "licence %s: the licence for %s expired on %s", g->license_file,
                             lic.licensee, lic.expires);
        }
    }
    if (!g->license_file && g->license_key) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     ASLOGNO(12005) "ActiveSyncLicenseKey %s is ignored: there is no "
                                    "ActiveSyncLicenseFile",
                     g->license_key);
    }
    switch (st.cap.mode) {
    case AS_CAP_UNLIMITED:
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     ASLOGNO(12006) "mailbox cap: none (no ActiveSyncMailboxCount or licence); "
                                    "data directory %s",
                     st.datadir);
        break;
    case AS_CAP_LIMITED:
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                     ASLOGNO(12007) "mailbox cap: %u mailboxes, from %s; data directory %s",
                     st.cap.max, st.cap.source ? st.cap.source : "?", st.datadir);
        break;
    case AS_CAP_CLOSED:
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     ASLOGNO(12008) "mailbox cap: no new mailbox can be admitted (registered "
                                    "mailboxes stay served): %s",
                     st.cap.reason ? st.cap.reason : "invalid licence");
        break;
    }
}

static unsigned thread_count(void)
{
    int daemons = 0, threads = 0;
    unsigned n;

    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &daemons) != APR_SUCCESS || daemons < 1) {
        daemons = 16;
    }
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_THREADS, &threads) != APR_SUCCESS || threads < 1) {
        threads = 1;
    }
    /* Every request thread, one maintenance thread per child, admin tools. */
    n = (unsigned)daemons * ((unsigned)threads + 1) + 64;
    return n < MIN_THREAD_COUNT ? MIN_THREAD_COUNT : n;
}

int mod_activesync_db_pre_config(apr_pool_t *pconf)
{
    return ap_mutex_register(pconf, MUTEX_TYPE, NULL, APR_LOCK_DEFAULT, 0) == APR_SUCCESS
               ? OK
               : HTTP_INTERNAL_SERVER_ERROR;
}

int mod_activesync_db_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s)
{
    mod_activesync_global_t g;
    const char *msg = NULL, *foreign;
    server_rec *sv;
    /* Only root can (and needs to) give the directory to the User. */
    uid_t uid = geteuid() == 0 ? ap_unixd_config.user_id : (uid_t)-1;
    gid_t gid = geteuid() == 0 ? ap_unixd_config.group_id : (gid_t)-1;
    apr_status_t rv;
    int any = 0;

    /* A new generation: nothing of the previous one is kept. */
    memset(&st, 0, sizeof(st));
    for (sv = s; sv && !any; sv = sv->next) {
        mod_activesync_conf_t c;
        mod_activesync_config_get(sv, &c);
        any = c.enabled;
    }
    if (!any) {
        ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                     ASLOGNO(12009) "ActiveSync is Off in every server: the data directory is "
                                    "not used");
        return OK;
    }
    mod_activesync_config_global(s, &g);
    st.datadir = g.data_dir;
    st.mutex_wait = g.cap_mutex_wait;
    st.wedge_remedy = g.wedge_remedy;
    st.uid = uid;
    st.gid = gid;

    if (as_db_check_version(&msg) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s, ASLOGNO(12010) "%s: rebuild mod_activesync",
                     msg);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (uid != (uid_t)-1 && (foreign = foreign_entry(ptemp, st.datadir, uid, gid)) != NULL) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, 0, s,
                     ASLOGNO(12011) "ActiveSyncDataDir %s holds %s, which is not a "
                                    "mod_activesync file: refusing to give the directory to "
                                    "the httpd user; point ActiveSyncDataDir at a directory of "
                                    "its own",
                     st.datadir, foreign);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    rv = as_db_prepare_home(ptemp, st.datadir, uid, gid, &msg);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_CRIT, rv, s, ASLOGNO(12012) "ActiveSyncDataDir: %s",
                     msg ? msg : st.datadir);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (real_start()) {
        recover_at_start(ptemp, s, uid, gid);
    }

    resolve_cap(pconf, ptemp, s, &g);
    rv = as_cap_conf_write(ptemp, st.datadir, g.mailbox_count, g.license_file, g.license_key, uid,
                           gid);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, rv, s,
                     ASLOGNO(12013) "cannot write %s/cap.conf: activesync-admin will not know "
                                    "the cap httpd enforces",
                     st.datadir);
    }

    rv = ap_global_mutex_create(&st.mutex, NULL, MUTEX_TYPE, NULL, s, pconf, 0);
    if (rv != APR_SUCCESS) {
        return HTTP_INTERNAL_SERVER_ERROR; /* logged by ap_global_mutex_create */
    }
    st.thread_count = thread_count();
    st.active = 1;
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 ASLOGNO(12014) "data directory %s, mutex %s (%s), thread slots %u", st.datadir,
                 MUTEX_TYPE, apr_global_mutex_name(st.mutex), st.thread_count);
    return OK;
}

/* ---- child ------------------------------------------------------------------ */

static as_db_t *db_get(void)
{
    return __atomic_load_n(&st.db, __ATOMIC_ACQUIRE);
}

/* Open the environment; quiet: says whether a failure is to be logged. */
static void open_db(int quiet)
{
    as_db_options_t o;
    as_db_t *db = NULL;
    as_logger_t lg;
    apr_status_t rv;

    as_db_options_default(&o);
    o.thread_count = st.thread_count;
    mod_activesync_logger_server(&lg, st.s); /* copied into the handle */
    rv = as_db_open(&db, st.datadir, &o, &lg);
    if (rv == APR_SUCCESS) {
        __atomic_store_n(&st.db, db, __ATOMIC_RELEASE);
        if (quiet) {
            ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, st.s,
                         ASLOGNO(12015) "the Berkeley DB environment in %s is open now",
                         st.datadir);
        }
    } else if (!quiet) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, st.s,
                     ASLOGNO(12016) "cannot open the Berkeley DB environment in %s: ActiveSync "
                                    "requests get 503 until it opens (retried every %d s)",
                     st.datadir, (int)apr_time_sec(REOPEN_EVERY));
    }
}

/* Device expiry (ActiveSyncDeviceExpiry): one bounded pass when due. */
static void expire_devices(as_db_t *db, apr_time_t now, apr_time_t *next_check)
{
    mod_activesync_global_t g;
    apr_status_t rv;
    int n = 0;
    mod_activesync_config_global(st.s, &g);
    rv = as_svc_devices_expire_tick(db, now, &g.device_ages, next_check, &n);
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, st.s,
                     ASLOGNO(12091) "device expiry failed: %s (retried within minutes)",
                     as_db_strerror(rv));
    } else if (n) {
        ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, st.s,
                     ASLOGNO(12090) "expired %d device(s) never provisioned or not seen for "
                                    "long (ActiveSyncDeviceExpiry)",
                     n);
    }
}

static void *maint_main(void *arg)
{
    apr_time_t next_open = apr_time_now() + REOPEN_EVERY, stuck_since = 0, last_run = 0;
    apr_time_t next_expiry = 0;
    struct timespec ts;
    int wedged = 0; /* the test hook holds the open lock: no maintenance */
    (void)arg;

    pthread_mutex_lock(&st.mu);
    while (!__atomic_load_n(&st.stop, __ATOMIC_SEQ_CST)) {
        as_db_t *db;
        apr_status_t rv;
        apr_time_t now;
        int kicked;

        clock_gettime(CLOCK_MONOTONIC, &ts);
        ts.tv_nsec += (long)MAINT_INTERVAL_MS * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        while (!__atomic_load_n(&st.stop, __ATOMIC_SEQ_CST) && !st.kick &&
               pthread_cond_timedwait(&st.cv, &st.mu, &ts) != ETIMEDOUT) {
        }
        if (__atomic_load_n(&st.stop, __ATOMIC_SEQ_CST)) {
            break;
        }
        kicked = st.kick;
        st.kick = 0;
        pthread_mutex_unlock(&st.mu);

        now = apr_time_now();
        if (kicked && now - last_run < KICK_MIN_GAP) {
            /* Requests keep asking: not more often than this. */
            apr_sleep(KICK_MIN_GAP - (now - last_run));
            now = apr_time_now();
        }
        last_run = now;
        if (wedged || (wedged = mod_activesync_wedge_simulate()) != 0) {
            pthread_mutex_lock(&st.mu);
            continue;
        }
        db = db_get();
        if (!db) {
            if (now >= next_open || (kicked && now >= next_open - REOPEN_EVERY + KICK_OPEN_EVERY)) {
                next_open = now + REOPEN_EVERY;
                open_db(1);
            }
        } else if (!__atomic_load_n(&st.stuck, __ATOMIC_SEQ_CST)) {
            rv = as_db_maintain(db, AS_DB_MAINT_ALL);
            if (rv == APR_SUCCESS) {
                expire_devices(db, now, &next_expiry);
            }
            if (rv == AS_DB_ESTUCK) {
                ap_log_error(APLOG_MARK, APLOG_CRIT, rv, st.s,
                             ASLOGNO(12017) "the Berkeley DB environment in %s panicked and "
                                            "cannot be reopened while requests of this child "
                                            "are inside it: the child exits so that a fresh one "
                                            "replaces it",
                             st.datadir);
                __atomic_store_n(&st.stuck, 1, __ATOMIC_SEQ_CST);
                stuck_since = now;
                kill(getpid(), SIGTERM);
            }
        } else if (now - stuck_since > STUCK_EXIT_AFTER) {
            /* SIGTERM did not end the child (threads blocked for good). */
            ap_log_error(APLOG_MARK, APLOG_CRIT, 0, st.s,
                         ASLOGNO(12018) "child did not exit after SIGTERM: exiting now");
            _exit(0);
        }
        pthread_mutex_lock(&st.mu);
    }
    pthread_mutex_unlock(&st.mu);
    return NULL;
}

void mod_activesync_db_abandon(void)
{
    __atomic_store_n(&st.abandon, 1, __ATOMIC_SEQ_CST);
}

/* Runs when the child exits -- for prefork possibly from a signal handler
 * that interrupted a request (SIGTERM, SIGHUP): nothing here may wait for
 * the interrupted thread or for a lock it might hold; in that case
 * (mod_activesync_db_abandon) it does only atomic stores. */
static apr_status_t child_cleanup(void *unused)
{
    int joined = 1;
    as_db_t *db;
    (void)unused;

    if (__atomic_load_n(&st.abandon, __ATOMIC_SEQ_CST)) {
        /* From a signal handler (mod_activesync.c child_exit): only atomic
         * stores.  The thread and the handle go with the process; the next
         * failchk releases what it held. */
        __atomic_store_n(&st.stop, 1, __ATOMIC_SEQ_CST);
        return APR_SUCCESS;
    }

    if (st.maint_running) {
        struct timespec ts;
        __atomic_store_n(&st.stop, 1, __ATOMIC_SEQ_CST);
        if (pthread_mutex_trylock(&st.mu) == 0) {
            pthread_cond_broadcast(&st.cv);
            pthread_mutex_unlock(&st.mu);
        }
        /* The thread notices stop within a second; a thread blocked inside
         * the environment (a wedge) is left behind. */
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 3;
        joined = pthread_timedjoin_np(st.maint, NULL, &ts) == 0;
        st.maint_running = 0;
    }
    db = __atomic_exchange_n(&st.db, NULL, __ATOMIC_ACQ_REL);
    /* A request interrupted inside the handle, a maintenance thread still
     * inside or a stuck handle: leave it, as a crash would; the next
     * opener's failchk cleans up after this process. */
    if (db && joined && !__atomic_load_n(&st.stuck, __ATOMIC_SEQ_CST) &&
        __atomic_load_n(&st.inflight, __ATOMIC_SEQ_CST) == 0) {
        as_db_close(db);
    }
    return APR_SUCCESS;
}

void mod_activesync_db_child_init(apr_pool_t *pchild, server_rec *s)
{
    pthread_condattr_t ca;
    sigset_t all, old;
    apr_status_t rv;

    if (!st.active) {
        return;
    }
    st.s = s;
    rv = apr_global_mutex_child_init(&st.mutex, apr_global_mutex_lockfile(st.mutex), pchild);
    st.mutex_ok = rv == APR_SUCCESS;
    if (!st.mutex_ok) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     ASLOGNO(12019) "cannot attach the %s mutex in this child: its ActiveSync "
                                    "requests get 503",
                     MUTEX_TYPE);
    }
    open_db(0);

    pthread_mutex_init(&st.mu, NULL);
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&st.cv, &ca);
    pthread_condattr_destroy(&ca);
    /* Signals are for the MPM's threads: a prefork child's SIGTERM handler
     * must never run on the maintenance thread (it would join itself). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, &old);
    st.maint_running = pthread_create(&st.maint, NULL, maint_main, NULL) == 0;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (!st.maint_running) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(errno), s,
                     ASLOGNO(12020) "cannot start the Berkeley DB maintenance thread: a child "
                                    "killed while holding database locks may block this one");
    }
    /* Before the pool's subpools and other cleanups go. */
    apr_pool_pre_cleanup_register(pchild, NULL, child_cleanup);
}

as_db_t *mod_activesync_db_enter(void)
{
    as_db_t *db;

    __atomic_add_fetch(&st.inflight, 1, __ATOMIC_SEQ_CST);
    db = db_get();
    if (!db || !as_db_available(db)) {
        __atomic_sub_fetch(&st.inflight, 1, __ATOMIC_SEQ_CST);
        return NULL;
    }
    return db;
}

void mod_activesync_db_leave(void)
{
    __atomic_sub_fetch(&st.inflight, 1, __ATOMIC_SEQ_CST);
}

/* ---- the gate ------------------------------------------------------------- */

void mod_activesync_db_kick(void)
{
    if (!st.maint_running) {
        return;
    }
    pthread_mutex_lock(&st.mu);
    st.kick = 1;
    pthread_cond_broadcast(&st.cv);
    pthread_mutex_unlock(&st.mu);
}
