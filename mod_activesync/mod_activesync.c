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

#include <libxml/parser.h>

#include "as_log.h"
#include "as_version.h"
#include "mod_activesync_config.h"
#include "mod_activesync_db.h"
#include "mod_activesync_handler.h"
#include "mod_activesync_log.h"

/* The process-wide logger of the core library (start-up and anything that
 * logs without a request). */
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
    mod_activesync_logger_server(&server_logger, s);
    as_log_set_default(&server_logger);
    /* The first pass, before httpd detaches, only checks the configuration:
     * the data directory, the cap and the mutex are set up in the second. */
    if (ap_state_query(AP_SQ_MAIN_STATE) == AP_SQ_MS_CREATE_PRE_CONFIG) {
        return OK;
    }
    ap_log_error(APLOG_MARK, APLOG_INFO, 0, s, ASLOGNO(10001) "%s %s configured", AS_PACKAGE_NAME,
                 AS_PACKAGE_VERSION);
    return mod_activesync_db_post_config(pconf, ptemp, s);
}

static void child_init(apr_pool_t *p, server_rec *s)
{
    /* Once per process, before any thread parses.  xmlCleanupParser() is
     * never called: other modules in this process may use libxml2 too. */
    xmlInitParser();
    mod_activesync_logger_server(&server_logger, s);
    as_log_set_default(&server_logger);
    mod_activesync_db_child_init(p, s);
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
