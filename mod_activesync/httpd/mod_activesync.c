/* mod_activesync: Exchange ActiveSync for Apache httpd 2.4.
 *
 * This file holds the module record and the hooks only; directives are in
 * mod_activesync_config.c, the handler in mod_activesync_handler.c, the
 * logging bridge in mod_activesync_log.c, the data directory, Berkeley DB
 * environment and mailbox cap in mod_activesync_db.c, the per-request gates
 * in mod_activesync_gate.c, the parent's wedge watch in
 * mod_activesync_wedge.c.  Protocol work is done by the core library
 * (as_*.c), which never sees httpd types.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mpm_common.h>
#include <ap_mpm.h>
#include <scoreboard.h>

#include <malloc.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "activesync/as_log.h"
#include "activesync/as_mime.h"
#include "activesync/as_version.h"
#include "activesync/as_itemcache.h"
#include "activesync/as_watch.h"
#include "mod_activesync_config.h"
#include "mod_activesync_db.h"
#include "mod_activesync_handler.h"
#include "mod_activesync_log.h"

/* The logger of the push dispatcher's start (as_watch_start): the main
 * server's, set in child_init.  The core has no default logger; requests
 * and the database handle get their own (mod_activesync_log.c). */
static as_logger_t server_logger;

static int pre_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp)
{
    (void)plog;
    (void)ptemp;
    /* Before the configuration is read, so that "Mutex ... activesync-cap"
     * is accepted. */
    return mod_activesync_db_pre_config(pconf);
}

static int post_config(apr_pool_t *pconf, apr_pool_t *plog, apr_pool_t *ptemp, server_rec *s)
{
    (void)plog;
    /* The first pass, before httpd detaches, only checks the configuration:
     * the data directory, the cap and the mutex are set up in the second. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, ASLOGNO(10001) "%s %s configured", AS_PACKAGE_NAME,
                 AS_PACKAGE_VERSION);
    /* made before the children are forked, so that they share it */
    as_itemcache_configure(pconf, mod_activesync_item_cache_bytes());
    return mod_activesync_db_post_config(pconf, ptemp, s);
}

/* Benchmark figures, only when httpd was started with AS_BENCH_PUSH_STATS=1
 * in its environment (t/bench/bench_mail.py; never in production logs):
 * once a second, when they changed, one line per child with the parked
 * waits and the heap in use (mallinfo2: every glibc arena plus mmapped
 * blocks), so the benchmark can tell what parked Pings hold on the heap
 * apart from what the process's RSS does (thread stacks, arenas). */
static void bench_push_stats(void *server)
{
    static unsigned last_waits = ~0u;
    static size_t last_heap;
    as_watch_stats_t ws;
    struct mallinfo2 mi = mallinfo2();
    size_t heap = mi.uordblks + mi.hblkhd;

    as_watch_stats(&ws);
    if (ws.waits == last_waits && heap == last_heap) {
        return;
    }
    last_waits = ws.waits;
    last_heap = heap;
    ap_log_error(APLOG_MARK, APLOG_NOTICE, 0, (server_rec *)server,
                 "push stats: pid=%ld waits=%u watches=%u watch_bytes=%" APR_SIZE_T_FMT
                 " heap_in_use=%" APR_SIZE_T_FMT " heap_mmap=%" APR_SIZE_T_FMT
                 " heap_system=%" APR_SIZE_T_FMT " heap_free=%" APR_SIZE_T_FMT,
                 (long)getpid(), ws.waits, ws.watches, (size_t)ws.bytes, heap, (size_t)mi.hblkhd,
                 (size_t)(mi.arena + mi.hblkhd), (size_t)mi.fordblks);
}

/* Why parked Pings and Sync Waits may be cut short.
 *
 * Every MPM sets its state to STOPPING in a child that stops: on a restart
 * or a stop of the server, but also when the child alone retires while the
 * server runs on -- the event/worker MPM's housekeeping (more idle threads
 * than MaxSpareThreads: the parent asks one child to stop gracefully) or
 * MaxConnectionsPerChild.  Only a restart or a stop should cut a heartbeat
 * short; a child retiring for housekeeping keeps its parked requests until
 * they end naturally (the event MPM's graceful child stops accepting, and
 * waits for its connections before it exits).  httpd 2.4 lets a module
 * tell them apart:
 *   - a restart, graceful or not: the parent moves to a new generation
 *     before it signals the children (ap_scoreboard_image->global->
 *     running_generation differs from this child's AP_MPMQ_GENERATION);
 *   - a stop: the children are told to stop ungracefully (the child_stopping
 *     hook says graceful=0; prefork's SIGTERM ends the process anyway);
 *   - a graceful stop: same generation and graceful, but the parent removes
 *     its PidFile before it waits for the children (every 2.4 MPM does);
 *   - anything else is the child alone: housekeeping.
 * Without a PidFile to watch (none when the child started), a graceful
 * child exit cannot be told from a graceful stop, and any stop cuts short,
 * as before. */
static ap_generation_t my_generation;
static const char *pid_file;    /* absolute; NULL: unknown */
static int stopping_ungraceful; /* atomic: child_stopping(graceful = 0) */
static int housekeeping_logged; /* atomic */
static server_rec *child_server;

static void child_stopping(apr_pool_t *pchild, int graceful)
{
    (void)pchild;
    if (!graceful) {
        __atomic_store_n(&stopping_ungraceful, 1, __ATOMIC_SEQ_CST);
    }
}

static int server_stops_or_restarts(void)
{
    if (__atomic_load_n(&stopping_ungraceful, __ATOMIC_SEQ_CST)) {
        return 1;
    }
    if (ap_scoreboard_image && ap_scoreboard_image->global &&
        ap_scoreboard_image->global->running_generation != my_generation) {
        return 1;
    }
    return !pid_file || access(pid_file, F_OK) != 0;
}

/* The stop check of parked Pings and Sync Waits (as_watch.h; every
 * server's configuration carries it, mod_activesync_config.c), asked once
 * a second by the push dispatcher thread: is this child stopping in a way
 * that ends parked requests? */
int mod_activesync_push_stopping(void *baton)
{
    int state = AP_MPMQ_RUNNING;
    as_watch_stats_t ws;
    (void)baton;
    if (ap_mpm_query(AP_MPMQ_MPM_STATE, &state) != APR_SUCCESS || state != AP_MPMQ_STOPPING) {
        return 0;
    }
    if (server_stops_or_restarts()) {
        return 1;
    }
    /* said once, when something is parked: the MPM state turns STOPPING at
     * the accept that reaches MaxConnectionsPerChild, before that
     * connection's request is parked */
    as_watch_stats(&ws);
    if (ws.waits > 0 && !__atomic_exchange_n(&housekeeping_logged, 1, __ATOMIC_SEQ_CST)) {
        ap_log_error(APLOG_MARK, APLOG_INFO, 0, child_server,
                     ASLOGNO(10002) "child %ld retires while the server runs on (MPM "
                                    "housekeeping or MaxConnectionsPerChild): its %u parked "
                                    "requests keep their heartbeat",
                     (long)getpid(), ws.waits);
    }
    return 0;
}

/* Child exit (pchild pre-cleanup; pre-cleanups run before the subpools --
 * the connections and requests -- are destroyed).
 *
 * Event/worker destroy pchild after joining their workers, in the child's
 * main thread: no request is inside the module any more, and the push
 * machinery is shut down properly (as_watch_shutdown: dispatcher joined,
 * inotify closed), the database handle closed (mod_activesync_db.c).
 * Prefork does the same for a graceful exit (restart, MaxConnectionsPerChild,
 * idle child), from its main loop.
 *
 * But prefork's SIGTERM/SIGHUP handler (just_die: httpd -k stop, -k
 * restart, or the parent reclaiming a child) calls apr_pool_destroy(pchild)
 * from inside the signal handler, on top of whatever the main thread was
 * doing -- our handler, another module's, malloc.  So this must know which
 * case it is in, and in the signal case do only async-signal-safe work:
 * exit_signal() (below) wraps the handlers installed for those signals and
 * sets a sig_atomic_t flag before it calls the MPM's.  How this was
 * checked: prefork.c (2.4.x) installs just_die for SIGHUP and SIGTERM in
 * make_child(), before child_init, and just_die -> clean_child_exit ->
 * apr_pool_destroy(pchild); the cleanups the module registers on pchild are
 * grep-able (apr_pool_*cleanup_register in httpd/): this function, the
 * database's child_cleanup and the activesync-cap mutex's child cleanup
 * (close() for flock, nothing for the others).  From the signal handler:
 *   - as_watch_stop(): an atomic store and a write() to an eventfd;
 *   - mod_activesync_db_abandon(): atomic stores; the database cleanup then
 *     leaves the handle, as a crash would (the next failchk cleans up after
 *     this process), instead of joining a thread and closing Berkeley DB;
 *   - our own request interrupted (a Ping parked in pthread_cond_timedwait,
 *     or any point of the handler): destroying its pool would run its
 *     cleanups on top of it (the wait's cleanup destroys the condition
 *     variable the interrupted frame waits on, which blocks for good), so
 *     the child leaves at once with _exit();
 *   - no dispatcher join, no free(), no lock, no log line. */
static volatile sig_atomic_t exit_from_signal;
static struct sigaction mpm_sigterm, mpm_sighup;

static void exit_signal(int sig)
{
    exit_from_signal = 1;
    if (sig == SIGTERM) {
        mpm_sigterm.sa_handler(sig);
    } else {
        mpm_sighup.sa_handler(sig);
    }
}

/* Wrap the handler the MPM installed for sig, if it is a plain function. */
static void wrap_exit_signal(int sig, struct sigaction *mpm)
{
    struct sigaction sa;

    if (sigaction(sig, NULL, mpm) != 0 || (mpm->sa_flags & SA_SIGINFO) ||
        mpm->sa_handler == SIG_DFL || mpm->sa_handler == SIG_IGN) {
        return;
    }
    sa = *mpm;
    sa.sa_handler = exit_signal;
    (void)sigaction(sig, &sa, NULL);
}

static apr_status_t child_exit(void *unused)
{
    (void)unused;
    as_watch_stop(); /* async-signal-safe */
    if (!exit_from_signal) {
        if (mod_activesync_requests_active() == 0) {
            as_watch_shutdown();
        }
        return APR_SUCCESS;
    }
    mod_activesync_db_abandon();
    if (mod_activesync_requests_active() > 0) {
        _exit(0);
    }
    return APR_SUCCESS;
}

static void child_init(apr_pool_t *p, server_rec *s)
{

    /* Once per process, before any thread parses.  xmlCleanupParser() is
     * never called: other modules in this process may use libxml2 too. */
    xmlInitParser();
    /* GMime likewise, before the MPM starts its threads. */
    as_mime_init();
    mod_activesync_logger_server(&server_logger, s);
    mod_activesync_db_child_init(p, s);
    /* Parked requests stop with the MPM through the stop check in each
     * request's configuration (mod_activesync_config.c). */
    child_server = s;
    if (ap_mpm_query(AP_MPMQ_GENERATION, &my_generation) != APR_SUCCESS) {
        my_generation = ap_scoreboard_image ? ap_scoreboard_image->global->running_generation : 0;
    }
    /* As ap_log_pid and ap_remove_pid name it: relative to ServerRoot. */
    pid_file = ap_pid_fname ? ap_server_root_relative(p, ap_pid_fname) : NULL;
    if (pid_file && access(pid_file, F_OK) != 0) {
        pid_file = NULL; /* nothing to watch (one-process mode) */
    }
    ap_log_error(APLOG_MARK, APLOG_DEBUG, 0, s,
                 ASLOGNO(10003) "stop check: generation %d, PidFile %s", (int)my_generation,
                 pid_file ? pid_file : "(none: any stop ends parked requests)");
    if (getenv("AS_BENCH_PUSH_STATS")) {
        /* figures from the start: the dispatcher now, ticking */
        as_watch_config_t wc = {&server_logger, bench_push_stats, s};
        as_watch_start(&wc);
    }
    /* Registered after the database's pre-cleanup, so it runs before it
     * (pre-cleanups run last registered first): parked requests are woken
     * before the environment is considered for closing. */
    apr_pool_pre_cleanup_register(p, NULL, child_exit);
    wrap_exit_signal(SIGTERM, &mpm_sigterm);
    wrap_exit_signal(SIGHUP, &mpm_sighup);
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(mod_activesync_db_monitor, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_stopping(child_stopping, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_handler(mod_activesync_handler, NULL, NULL, APR_HOOK_MIDDLE);
}

/* The library is built with -fvisibility=hidden and build/module.map keeps
 * every other symbol local: the module record alone is visible. */
#pragma GCC visibility push(default)
AP_DECLARE_MODULE(activesync) = {
    STANDARD20_MODULE_STUFF,
    NULL,                           /* per-directory config: none */
    NULL,                           /* merge per-directory config */
    mod_activesync_create_srv_conf, /* per-server config */
    mod_activesync_merge_srv_conf,  /* merge per-server config */
    mod_activesync_cmds,            /* directives */
    register_hooks,
#if defined(AP_MODULE_FLAG_ALWAYS_MERGE)
    AP_MODULE_FLAG_ALWAYS_MERGE /* merge every vhost, as mod_md does */
#else
    0
#endif
};
#pragma GCC visibility pop
