/* The parent's wedge watch and its remedy (monitor hook; as_wedge.h has the
 * decision and why it is needed).
 *
 * What it does, in the parent's monitor hook (every ~10 s) and never
 * blocking it:
 *   1. looks at the holder of DATADIR/as_open.lock (one fcntl F_GETLK);
 *   2. when one child has held it for WEDGE_AFTER, lists the processes
 *      attached to the environment (__db.register and as_open.lock locks,
 *      as_db_attached) and the server's children, and asks as_wedge_decide;
 *   3. ActiveSyncWedgeRemedy Off, or a foreign process attached: one log
 *      line (at most once a minute) naming what the remedy would stop;
 *      nothing is killed;
 *   4. On: ONE log line naming exactly the children it stops (the attached
 *      ones -- children that never opened the environment keep serving) and
 *      what follows; then a forked helper process does the rest while the
 *      monitor returns at once: it takes the recovery gate (as_db.h: from
 *      then on no process can take the open lock, so the replacement
 *      children the MPM starts cannot attach before recovery), sends
 *      SIGKILL to those children, waits for them to be gone, takes the open
 *      lock, checks that no process at all is registered in the
 *      environment, runs recovery, gives the files back to the User, opens
 *      the gate and logs the result.  The MPM reaps the helper (registered
 *      as an extra process); until it is gone the watch waits.
 * Requests in flight in the stopped children fail (clients retry); the
 * registry is intact: every admission is one transaction.
 *
 * Test hook (never set in production): with AS_TEST_WEDGE_FILE=PATH in
 * httpd's environment, a child whose maintenance thread finds PATH removes
 * it and holds as_open.lock until it exits, as a child stuck in failchk on
 * a dead process's mutex would (mod_activesync_wedge_simulate). */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <apr_signal.h>
#include <apr_strings.h>

#include <httpd.h>
#include <ap_mpm.h>
#include <http_config.h>
#include <http_log.h>
#include <mpm_common.h>
#include <scoreboard.h>

#include "mod_activesync_db.h"
#include "mod_activesync_db_state.h"
#include "mod_activesync_private.h"

#define st           mod_activesync_db_st
#define WEDGE_AFTER  apr_time_from_sec(10) /* as_open.lock held by one process */
#define REPORT_EVERY apr_time_from_sec(60)
#define KILL_WAIT    apr_time_from_sec(10)
#define MAX_FOREIGN  64 /* admin tools and the like, beyond the children */
#define OPEN_LOCK    "as_open.lock"

/* pid of a process holding a lock on DATADIR/as_open.lock, else 0. */
static pid_t open_lock_holder(apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, st.datadir, "/" OPEN_LOCK, NULL);
    struct flock fl;
    pid_t pid = 0;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

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

/* Gone, or a zombie (which holds nothing). */
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
    return rp && rp[1] == ' ' && rp[2] == 'Z';
}

static int server_limit(void)
{
    int n = 0;
    if (ap_mpm_query(AP_MPMQ_HARD_LIMIT_DAEMONS, &n) != APR_SUCCESS || n < 1) {
        n = 0;
    }
    return n;
}

static size_t list_children(pid_t *out, size_t max)
{
    int i, n = server_limit();
    size_t k = 0;

    for (i = 0; i < n && k < max; i++) {
        process_score *ps = ap_get_scoreboard_process(i);
        if (ps && ps->pid > 0) {
            out[k++] = ps->pid;
        }
    }
    return k;
}

static const char *pid_list(apr_pool_t *p, const pid_t *pids, size_t n)
{
    const char *s = "";
    size_t i;

    for (i = 0; i < n; i++) {
        s = apr_psprintf(p, "%s%s%ld", s, i ? " " : "", (long)pids[i]);
    }
    return n ? s : "(none)";
}

/* ---- the helper (a child of the parent, root) ------------------------------- */

static int is_target(pid_t pid, const pid_t *targets, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (targets[i] == pid) {
            return 1;
        }
    }
    return 0;
}

/* Recovery once nobody is attached.  A stopped child counts as gone when
 * its main thread is a zombie, but its other threads may still be exiting
 * and holding its locks for a moment: such a holder is waited for (within
 * KILL_WAIT); any other process attached refuses recovery (APR_EBUSY). */
static apr_status_t recover_when_released(const as_logger_t *lg, const pid_t *targets, size_t n,
                                          pid_t *holder)
{
    apr_time_t deadline = apr_time_now() + KILL_WAIT;
    apr_status_t rv;

    for (;;) {
        rv = as_db_recover_detached(st.datadir, lg, holder);
        if (rv != APR_EBUSY || !is_target(*holder, targets, n) || apr_time_now() >= deadline) {
            return rv;
        }
        {
            struct timespec ts = {0, 5 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static void helper_main(server_rec *s, apr_pool_t *p, const pid_t *targets, size_t n)
{
    as_logger_t lg;
    apr_time_t t0 = apr_time_now(), deadline = t0 + KILL_WAIT;
    const char *msg = NULL;
    apr_status_t rv;
    pid_t holder = 0;
    size_t i, left;
    int gate;

    /* httpd's handlers are for the parent: a stop ends the helper. */
    apr_signal(SIGTERM, SIG_DFL);
    apr_signal(SIGHUP, SIG_DFL);
    apr_signal(SIGUSR1, SIG_DFL);
    apr_signal(SIGWINCH, SIG_DFL);
    gate = as_db_gate_opens(st.datadir);
    if (gate < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(-gate), s,
                     ASLOGNO(12046) "cannot take the recovery gate %s/as_recover.lock: no child "
                                    "is stopped",
                     st.datadir);
        _exit(1);
    }
    /* the helper runs as root: a gate file it made belongs to the children's
     * user, as every file of the directory, also when it leaves before
     * as_db_prepare_home() below (a process attached meanwhile) */
    if (fchown(gate, st.uid, st.gid) != 0) {
        ap_log_error(APLOG_MARK, APLOG_WARNING, APR_FROM_OS_ERROR(errno), s,
                     ASLOGNO(12047) "cannot give %s/as_recover.lock to the children's user",
                     st.datadir);
    }
    for (i = 0; i < n; i++) {
        (void)ap_mpm_safe_kill(targets[i], SIGKILL);
    }
    do {
        for (i = 0, left = 0; i < n; i++) {
            left += !gone(targets[i]);
        }
        if (left) {
            struct timespec ts = {0, 2 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    } while (left && apr_time_now() < deadline);
    if (left) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     ASLOGNO(12032) "%lu of %lu stopped children did not exit after SIGKILL: "
                                    "not running recovery now",
                     (unsigned long)left, (unsigned long)n);
        _exit(1);
    }
    mod_activesync_logger_server(&lg, s);
    rv = recover_when_released(&lg, targets, n, &holder);
    /* _exit() below opens the gate (closing the fd drops the lock). */
    if (rv == APR_EBUSY) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     ASLOGNO(12033) "process %ld has attached to the environment in %s "
                                    "meanwhile: not running recovery (the watch looks again)",
                     (long)holder, st.datadir);
        _exit(1);
    }
    if (as_db_prepare_home(p, st.datadir, st.uid, st.gid, &msg) != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s, ASLOGNO(12034) "%s", msg ? msg : st.datadir);
    }
    if (rv != APR_SUCCESS) {
        ap_log_error(APLOG_MARK, APLOG_ERR, rv, s,
                     ASLOGNO(12035) "recovery of the Berkeley DB environment in %s failed",
                     st.datadir);
        _exit(1);
    }
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, s,
                 ASLOGNO(12036) "recovered the Berkeley DB environment in %s after stopping %lu "
                                "children (%" APR_TIME_T_FMT " ms)",
                 st.datadir, (unsigned long)n, apr_time_as_msec(apr_time_now() - t0));
    _exit(0);
}

static void remedy(apr_pool_t *p, server_rec *s, const as_wedge_out_t *out, size_t nchildren,
                   pid_t holder, apr_interval_time_t held)
{
    ap_generation_t gen = 0;
    pid_t pid;

    /* The line first: exactly what follows. */
    ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                 ASLOGNO(12031) "the Berkeley DB environment in %s is wedged: child %ld has held "
                                "%s for %" APR_TIME_T_FMT " s (a process was killed inside a "
                                "Berkeley DB mutex); ActiveSyncWedgeRemedy On: sending SIGKILL "
                                "to the %lu children attached to it (pids %s; %lu other "
                                "children are left alone) from a helper process, which keeps "
                                "new children from attaching and runs recovery once no process "
                                "is attached",
                 st.datadir, (long)holder, OPEN_LOCK, apr_time_sec(held),
                 (unsigned long)out->ntargets, pid_list(p, out->targets, out->ntargets),
                 (unsigned long)(nchildren - out->ntargets));
    pid = fork();
    if (pid == 0) {
        helper_main(s, p, out->targets, out->ntargets);
    }
    if (pid < 0) {
        ap_log_error(APLOG_MARK, APLOG_ERR, APR_FROM_OS_ERROR(errno), s,
                     ASLOGNO(12042) "cannot fork the recovery helper: the children that start "
                                    "now recover the environment when they open it");
        return;
    }
    (void)ap_mpm_query(AP_MPMQ_GENERATION, &gen);
    ap_register_extra_mpm_process(pid, gen); /* the MPM reaps it */
    st.wedge_helper = pid;
}

int mod_activesync_db_monitor(apr_pool_t *p, server_rec *s)
{
    as_wedge_in_t in;
    as_wedge_out_t out;
    apr_time_t now = apr_time_now();
    apr_interval_time_t held;
    pid_t holder;
    size_t max;
    pid_t *attached, *children;

    if (!st.active) {
        return DECLINED;
    }
    if (st.wedge_helper) {
        if (!gone(st.wedge_helper)) {
            return DECLINED; /* the remedy is still at work */
        }
        st.wedge_helper = 0;
    }
    if (!as_wedge_watch(&st.wedge, now, open_lock_holder(p), WEDGE_AFTER)) {
        return DECLINED;
    }
    held = now - st.wedge.since;
    holder = st.wedge.holder; /* as_wedge_decide restarts the watch on a remedy */
    max = (size_t)server_limit() + MAX_FOREIGN;
    attached = apr_pcalloc(p, sizeof(pid_t) * max);
    children = apr_pcalloc(p, sizeof(pid_t) * max);
    memset(&in, 0, sizeof(in));
    memset(&out, 0, sizeof(out));
    in.now = now;
    in.attached = attached;
    in.nattached = as_db_attached(st.datadir, attached, max);
    in.children = children;
    in.nchildren = list_children(children, max);
    in.remedy_on = st.wedge_remedy;
    in.report_every = REPORT_EVERY;
    out.targets = apr_pcalloc(p, sizeof(pid_t) * max);
    as_wedge_decide(&st.wedge, &in, &out);

    switch (out.verdict) {
    case AS_WEDGE_REPORT:
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     ASLOGNO(12043) "the Berkeley DB environment in %s is wedged: child %ld has "
                                    "held %s for %" APR_TIME_T_FMT " s; ActiveSyncWedgeRemedy "
                                    "Off: nothing is done (the remedy would stop the children "
                                    "attached to it, pids %s, and run recovery); run apachectl "
                                    "restart",
                     st.datadir, (long)holder, OPEN_LOCK, apr_time_sec(held),
                     pid_list(p, out.targets, out.ntargets));
        break;
    case AS_WEDGE_FOREIGN:
        ap_log_error(APLOG_MARK, APLOG_ERR, 0, s,
                     ASLOGNO(12037) "the Berkeley DB environment in %s may be wedged (%s held "
                                    "by process %ld for %" APR_TIME_T_FMT " s), and process %ld, "
                                    "not an httpd child, is attached to it: nothing is done; "
                                    "stop that process and run apachectl restart",
                     st.datadir, OPEN_LOCK, (long)holder, apr_time_sec(held), (long)out.foreign);
        break;
    case AS_WEDGE_REMEDY:
        remedy(p, s, &out, in.nchildren, holder, held);
        break;
    case AS_WEDGE_OK:
        break;
    }
    return DECLINED;
}

/* ---- the test hook (children) ------------------------------------------------ */

int mod_activesync_wedge_simulate(void)
{
    const char *trigger = getenv("AS_TEST_WEDGE_FILE");
    struct flock fl;
    int fd;

    if (!trigger || unlink(trigger) != 0) {
        return 0;
    }
    fd =
        open(apr_pstrcat(st.s->process->pool, st.datadir, "/" OPEN_LOCK, NULL), O_RDWR | O_CLOEXEC);
    if (fd < 0) {
        return 0;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLKW, &fl) != 0) {
        close(fd);
        return 0;
    }
    ap_log_error(APLOG_MARK, APLOG_WARNING, 0, st.s,
                 ASLOGNO(12044) "test: child %ld simulates a wedge (holds %s until it exits)",
                 (long)getpid(), OPEN_LOCK);
    /* The fd stays open (closing it would drop the lock) until exit. */
    return 1;
}
