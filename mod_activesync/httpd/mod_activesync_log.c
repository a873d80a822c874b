/* The core library's logger (as_log.h) bound to httpd's error log.
 *
 * Levels map one to one (as_log_level_t mirrors APLOG_*).  Lines are logged
 * with APLOG_MODULE_INDEX of this module, so "LogLevel activesync:trace4"
 * selects them, whichever core file produced them.  The core formats its
 * own messages (with its own tags); the bridge adds nothing but the httpd
 * prefix.
 */
#include "mod_activesync_private.h"

static int level_of(int level)
{
    if (level < APLOG_EMERG) {
        return APLOG_EMERG;
    }
    if (level > APLOG_TRACE8) {
        return APLOG_TRACE8;
    }
    return level;
}

static int request_enabled(void *baton, int level)
{
    request_rec *r = baton;
    return APLOG_R_IS_LEVEL(r, level_of(level));
}

static void request_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                          const char *msg)
{
    request_rec *r = baton;
    ap_log_rerror(file, line, APLOG_MODULE_INDEX, level_of(level), rv, r, "%s", msg);
}

static int server_enabled(void *baton, int level)
{
    server_rec *s = baton;
    return APLOG_IS_LEVEL(s, level_of(level));
}

static void server_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                         const char *msg)
{
    server_rec *s = baton;
    ap_log_error(file, line, APLOG_MODULE_INDEX, level_of(level), rv, s, "%s", msg);
}

void mod_activesync_logger_request(as_logger_t *lg, request_rec *r)
{
    lg->enabled = request_enabled;
    lg->print = request_print;
    lg->baton = r;
}

void mod_activesync_logger_server(as_logger_t *lg, server_rec *s)
{
    lg->enabled = server_enabled;
    lg->print = server_print;
    lg->baton = s;
}
