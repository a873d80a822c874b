/* mod_activesync: Exchange ActiveSync for Apache httpd 2.4.
 *
 * This file holds the module record and the hooks only; directives are in
 * mod_activesync_config.c, the handler in mod_activesync_handler.c, the
 * logging bridge in mod_activesync_log.c, the data directory, Berkeley DB
 * environment, mailbox cap and its gate in mod_activesync_db.c.  Protocol work is done by the core
 * library (as_*.c), which never sees httpd types.
 */
#include <httpd.h>
#include <http_config.h>
#include <http_core.h>
#include <http_log.h>
#include <http_protocol.h>
#include <mpm_common.h>
#include <ap_mpm.h>

#include <malloc.h>
#include <stdlib.h>
#include <unistd.h>

#include <libxml/parser.h>

#include "activesync/as_log.h"
#include "activesync/as_mime.h"
#include "activesync/as_version.h"
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

/* Child exit (pchild pre-cleanup; pre-cleanups run before the subpools --
 * the connections and requests -- are destroyed).
 *
 * Event/worker destroy pchild after joining their workers: no request is
 * inside the module any more, and the push machinery is shut down
 * properly (as_watch_shutdown: dispatcher joined, inotify closed).
 *
 * Prefork runs this from its SIGTERM handler (httpd -k stop, or a restart)
 * on top of the request it interrupted.  When that request is ours -- a
 * Ping or Sync parked in pthread_cond_timedwait, or any other point of the
 * handler -- destroying its pool would run its cleanups on top of it: the
 * wait's cleanup destroys the condition variable the interrupted frame
 * waits on, which blocks forever (the parent then SIGKILLs the child after
 * several seconds).  The request can never resume, so the child leaves
 * now, as a crash would (the database handle is left for the next opener's
 * failchk, as mod_activesync_db.c does for an interrupted request). */
static apr_status_t child_exit(void *unused)
{
    int threaded = 0;
    (void)unused;
    as_watch_stop(); /* async-signal-safe */
    if (mod_activesync_requests_active() == 0) {
        as_watch_shutdown();
        return APR_SUCCESS;
    }
    if (ap_mpm_query(AP_MPMQ_IS_THREADED, &threaded) == APR_SUCCESS &&
        threaded == AP_MPMQ_NOT_SUPPORTED) {
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
    if (getenv("AS_BENCH_PUSH_STATS")) {
        /* figures from the start: the dispatcher now, ticking */
        as_watch_config_t wc = {&server_logger, bench_push_stats, s};
        as_watch_start(&wc);
    }
    /* Registered after the database's pre-cleanup, so it runs before it
     * (pre-cleanups run last registered first): parked requests are woken
     * before the environment is considered for closing. */
    apr_pool_pre_cleanup_register(p, NULL, child_exit);
}

static void register_hooks(apr_pool_t *p)
{
    (void)p;
    ap_hook_pre_config(pre_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_post_config(post_config, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_child_init(child_init, NULL, NULL, APR_HOOK_MIDDLE);
    ap_hook_monitor(mod_activesync_db_monitor, NULL, NULL, APR_HOOK_MIDDLE);
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
