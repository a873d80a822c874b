/* The data directory, the Berkeley DB environment, the mailbox cap and the
 * per-request gate: the httpd side of as_db.h and as_cap.h.
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
 *   the gate      per request (mod_activesync_gate): the read-only check
 *                 (as_cap_check) decides registered accounts and accounts
 *                 whose option is off without any lock; only a first
 *                 admission or a refusal runs as_cap_admit() under the
 *                 activesync-cap mutex.  Its transaction alone keeps the
 *                 registry exact (the mutex of a graceful restart's old
 *                 children is another one); the mutex queues the writers
 *                 fairly instead of letting them collide and back off.
 *
 * Licence expiry: the parent verified the licence and knows its expiry
 * instant; every admission compares the clock with it, so a licence that
 * expires during uptime closes new admissions at once (error line once per
 * child, and the reason on each refusal).  A renewed licence file is read
 * at the next graceful restart.
 *
 * Log tags: ASY12000-12999.
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
#include "mod_activesync_private.h"

#define MUTEX_TYPE        "activesync-cap"
#define MAINT_INTERVAL_MS 1000
#define REOPEN_EVERY      apr_time_from_sec(5)
#define STUCK_EXIT_AFTER  apr_time_from_sec(30)
#define KICK_OPEN_EVERY   apr_time_from_sec(1) /* opens asked for by requests */
#define UNAVAIL_WAIT      apr_time_from_sec(2) /* a request waits this long for a reopen */
#define KICK_MIN_GAP      apr_time_from_msec(20)
#define WEDGE_AFTER       apr_time_from_sec(10) /* as_open.lock held by one process */
#define KILL_WAIT         apr_time_from_sec(10)
#define RETRY_AFTER       "5"
#define MIN_THREAD_COUNT  2048

typedef struct db_state_t {
    /* Set by post_config in the parent, inherited by the children. */
    int active; /* some server has ActiveSync On: the data directory is used */
    const char *datadir;
    apr_global_mutex_t *mutex;
    as_cap_limit_t cap;
    as_cap_limit_t expired_cap; /* what the cap becomes when the licence expires */
    apr_time_t license_expires; /* 0: no licence to watch */
    unsigned thread_count;
    uid_t uid; /* owner to give the data directory to ((uid_t)-1: keep) */
    gid_t gid;
    /* Parent: the wedge watch (mod_activesync_db_monitor). */
    pid_t open_holder;     /* holder of as_open.lock at the last look */
    apr_time_t held_since; /* since when it holds it */
    apr_time_t last_unwedge;

    /* Per child. */
    server_rec *s;
    int mutex_ok;
    as_db_t *db;  /* atomic: the maintenance thread may open it late */
    int inflight; /* atomic: request threads inside the handle */
    pthread_t maint;
    int maint_running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;          /* atomic (also read under mu) */
    int kick;          /* under mu: a request found the handle unavailable */
    int stuck;         /* atomic: the handle could not be reopened; exiting */
    int expiry_logged; /* atomic */
} db_state_t;

static db_state_t st;

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
           !strcmp(name, "as_open.lock") || !strcmp(name, "cap.conf") ||
           !strncmp(name, ".cap.conf.", 10) || !strcmp(name, "DB_CONFIG");
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

/* pid of another process holding a lock on `file` in dir, else 0. */
static pid_t lock_holder(apr_pool_t *p, const char *dir, const char *file)
{
    const char *path = apr_pstrcat(p, dir, "/", file, NULL);
    struct flock fl;
    pid_t pid = 0;
    int fd = open(path, O_RDWR | O_CLOEXEC);

    if (fd < 0) {
        return 0;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK) {
        pid = fl.l_pid;
    }
    close(fd); /* we held no lock on it: nothing is released */
    return pid;
}

/* A process with the environment open: libdb's DB_REGISTER file, or the
 * lock the admin tool and our children hold while they open it. */
static pid_t env_holder(apr_pool_t *p, const char *dir)
{
    pid_t pid = lock_holder(p, dir, "__db.register");
    return pid ? pid : lock_holder(p, dir, "as_open.lock");
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

static void recover_at_start(apr_pool_t *ptemp, server_rec *s, uid_t uid, gid_t gid)
{
    as_logger_t routine, server;
    const char *msg = NULL;
    struct stat sb;
    apr_status_t rv;
    apr_time_t t0;
    pid_t holder;

    if (stat(apr_pstrcat(ptemp, st.datadir, "/__db.001", NULL), &sb) != 0) {
        return; /* no environment yet */
    }
    holder = env_holder(ptemp, st.datadir);
    if (holder) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, 0, s,
                     ASLOGNO(12001) "not running recovery on %s at start-up: process %ld "
                                    "still has the environment open (an old httpd child or "
                                    "activesync-admin?)",
                     st.datadir, (long)holder);
        return;
    }
    routine.enabled = routine_enabled;
    routine.print = routine_print;
    mod_activesync_logger_server(&server, s);
    routine.baton = &server;
    t0 = apr_time_now();
    rv = as_db_recover_offline(st.datadir, &routine);
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

/* ---- the wedge watch (parent) ------------------------------------------------
 *
 * libdb 5.3 cannot clean up after a process killed while it held one of
 * Berkeley DB's own mutexes (not a lock: a latch inside the region): every
 * later failchk blocks on it for good, and so do the requests that need
 * it.  Each child's maintenance thread runs failchk every second under
 * DATADIR/as_open.lock (as_db.c), so the symptom is plain to see from the
 * parent: one process holding that lock for many seconds (a failchk or an
 * open takes milliseconds).  The only remedy is recovery with nobody
 * attached, which only the parent can arrange: from the MPM's monitor hook
 * (every ten seconds or so, in the parent's main loop, so no child is
 * started meanwhile) it kills every child of the server, waits for them to
 * be gone, runs recovery as at start-up and gives the files back to the
 * User; the MPM then starts fresh children.  Requests in flight fail (the
 * clients retry), the registry is intact: every admission is one
 * transaction. */

static int gone(pid_t pid)
{
    char path[64], buf[512];
    const char *rp;
    ssize_t n;
    int fd;

    apr_snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 1;
    }
    n = read(fd, buf, sizeof(buf) - 1);
    close(fd);
    if (n <= 0) {
        return 1;
    }
    buf[n] = '\0';
    rp = strrchr(buf, ')');
    return rp && rp[1] == ' ' && rp[2] == 'Z'; /* a zombie holds nothing */
}

static int server_limit(void)
{
    int n = 0;
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &n) != APR_SUCCESS || n < 1) {
        n = 0;
    }
    return n;
}

static int is_our_child(pid_t pid)
{
    int i, n = server_limit();
    for (i = 0; i < n; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        if (ps && ps->pid == pid) {
            return 1;
        }
    }
    return 0;
}

static void unwedge(apr_pool_t *p, server_rec *s, pid_t holder, apr_time_t held)
{
    int i, n = server_limit(), killed = 0, left;
    pid_t *pids = apr_pcalloc(p, sizeof(pid_t) * (size_t)(n > 0 ? n : 1));
    apr_time_t t0 = apr_time_now(), deadline;
    const char *msg = NULL;
    as_logger_t lg;
    apr_status_t rv;

    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 ASLOGNO(12031) "the Berkeley DB environment in %s is wedged: child %ld has "
                                "held %s/as_open.lock for %" APR_TIME_T_FMT " s (a process "
                                "was killed inside a Berkeley DB mutex); stopping every child "
                                "and running recovery",
                 st.datadir, (long)holder, st.datadir, apr_time_sec(held));
    for (i = 0; i < n; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        if (ps && ps->pid > 0 && ap_mpm_safe_kill(ps->pid, SIGKILL) == APR_SUCCESS) {
            pids[killed++] = ps->pid;
        }
    }
    deadline = apr_time_now() + KILL_WAIT;
    do {
        for (i = 0, left = 0; i < killed; i++) {
            left += !gone(pids[i]);
        }
        if (left) {
            apr_sleep(apr_time_from_msec(10));
        }
    } while (left && apr_time_now() < deadline);
    if (left) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     ASLOGNO(12032) "%d of %d children did not exit after SIGKILL: not "
                                    "running recovery now",
                     left, killed);
        return;
    }
    holder = env_holder(p, st.datadir);
    if (holder) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     ASLOGNO(12033) "process %ld, not an httpd child, still has the environment "
                                    "in %s open: not running recovery (stop it, then apachectl "
                                    "restart)",
                     (long)holder, st.datadir);
        return;
    }
    mod_activesync_logger_server(&lg, s);
    rv = as_db_recover_offline(st.datadir, &lg);
    if (as_db_prepare_home(p, st.datadir, st.uid, st.gid, &msg) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ASLOGNO(12034) "%s", msg ? msg : st.datadir);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     ASLOGNO(12035) "recovery of the Berkeley DB environment in %s failed",
                     st.datadir);
        return;
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 ASLOGNO(12036) "recovered the Berkeley DB environment in %s after stopping %d "
                                "children (%" APR_TIME_T_FMT " ms); new children start now",
                 st.datadir, killed, apr_time_as_msec(apr_time_now() - t0));
}

int mod_activesync_db_monitor(apr_pool_t *p, server_rec *s)
{
    apr_time_t now;
    pid_t holder;

    if (!st.active) {
        return DECLINED;
    }
    now = apr_time_now();
    holder = lock_holder(p, st.datadir, "as_open.lock");
    if (!holder || holder != st.open_holder) {
        st.open_holder = holder;
        st.held_since = now;
        return DECLINED;
    }
    if (now - st.held_since < WEDGE_AFTER) {
        return DECLINED;
    }
    if (!is_our_child(holder)) {
        /* activesync-admin, say: not ours to kill; say it once a minute. */
        if (now - st.last_unwedge > apr_time_from_sec(60)) {
            st.last_unwedge = now;
            ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                         ASLOGNO(12037) "process %ld (not an httpd child) has held "
                                        "%s/as_open.lock for %" APR_TIME_T_FMT " s: the "
                                        "environment may be wedged; stop that process and run "
                                        "apachectl restart",
                         (long)holder, st.datadir, apr_time_sec(now - st.held_since));
        }
        return DECLINED;
    }
    unwedge(p, s, holder, now - st.held_since);
    st.open_holder = 0;
    st.last_unwedge = apr_time_now();
    return DECLINED;
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

/* Runs when the child exits -- for prefork possibly from a signal handler
 * that interrupted a request (SIGTERM, SIGHUP): nothing here may wait for
 * the interrupted thread or for a lock it might hold. */
static apr_status_t child_cleanup(void *unused)
{
    int joined = 1;
    as_db_t *db;
    (void)unused;

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

/* Wake the maintenance thread now (a request met an unavailable handle). */
static void maint_kick(void)
{
    if (!st.maint_running) {
        return;
    }
    pthread_mutex_lock(&st.mu);
    st.kick = 1;
    pthread_cond_broadcast(&st.cv);
    pthread_mutex_unlock(&st.mu);
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
        maint_kick();
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
        rv = apr_global_mutex_lock(st.mutex);
        if (rv != APR_SUCCESS) {
            mod_activesync_db_leave();
            ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                          ASLOGNO(12025) "%s: cannot lock the %s mutex: refused (503)", who,
                          MUTEX_TYPE);
            return unavailable(r);
        }
        locked = 1;
        t1 = apr_time_now();
        rv = as_cap_admit(db, r->pool, account, cap, dec);
        if (apr_global_mutex_unlock(st.mutex) != APR_SUCCESS) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          ASLOGNO(12026) "%s: unlocking the %s mutex failed", who, MUTEX_TYPE);
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
