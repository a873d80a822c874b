/* Logging bridge: see as_log.h. */
#include <stdarg.h>
#include <stdio.h>

#include <apr_strings.h>

#include "activesync/as_log.h"

/* No process-wide default logger: every caller passes its own (the
 * request's, the database handle's, the tool's), so two virtual hosts or
 * two tests never log through each other's.  NULL prints nothing. */

int as_log_enabled(const as_logger_t *lg, int level)
{
    return lg && lg->print && (!lg->enabled || lg->enabled(lg->baton, level));
}

void as_log(const as_logger_t *lg, const char *file, int line, int level, apr_status_t rv,
            const char *fmt, ...)
{
    char msg[2048];
    va_list ap;

    if (!as_log_enabled(lg, level)) {
        return;
    }
    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    lg->print(lg->baton, file, line, level, rv, msg);
}

static const char *const level_names[] = {
    "emerg",  "alert",  "crit",   "error",  "warn",   "notice", "info",   "debug",
    "trace1", "trace2", "trace3", "trace4", "trace5", "trace6", "trace7", "trace8"};

static int stderr_enabled(void *baton, int level)
{
    return level <= *(int *)baton;
}

static void stderr_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                         const char *msg)
{
    (void)baton;
    (void)file;
    (void)line;
    if (rv != APR_SUCCESS) {
        char buf[256];
        fprintf(stderr, "[%s] %s: %s\n", level_names[level & 15], msg,
                apr_strerror(rv, buf, sizeof(buf)));
    } else {
        fprintf(stderr, "[%s] %s\n", level_names[level & 15], msg);
    }
}

void as_log_stderr_init(as_logger_t *lg, int *max_level)
{
    lg->enabled = stderr_enabled;
    lg->print = stderr_print;
    lg->baton = max_level;
}
