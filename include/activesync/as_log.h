/* Logging bridge of the core library.
 *
 * The core never includes httpd headers: it logs through a logger, a pair of
 * callbacks plus a baton.  The httpd glue passes one that forwards to
 * ap_log_rerror() (per request) or ap_log_error() (per server, for the
 * database handle and start-up), so per-module LogLevel works; unit tests
 * and the admin tool pass a stderr printer.  Levels mirror APLOG_*.
 */
#ifndef AS_LOG_H
#define AS_LOG_H

#include <apr_pools.h>
#include <apr_errno.h>

typedef enum {
    AS_LOG_EMERG = 0,
    AS_LOG_ALERT,
    AS_LOG_CRIT,
    AS_LOG_ERR,
    AS_LOG_WARNING,
    AS_LOG_NOTICE,
    AS_LOG_INFO,
    AS_LOG_DEBUG,
    AS_LOG_TRACE1,
    AS_LOG_TRACE2,
    AS_LOG_TRACE3,
    AS_LOG_TRACE4,
    AS_LOG_TRACE5,
    AS_LOG_TRACE6,
    AS_LOG_TRACE7,
    AS_LOG_TRACE8
} as_log_level_t;

/* Is `level` enabled for this logger? Lets callers skip expensive dumps. */
typedef int as_log_enabled_fn(void *baton, int level);
/* Emit one already formatted line. */
typedef void as_log_print_fn(void *baton, const char *file, int line, int level, apr_status_t rv,
                             const char *msg);

typedef struct as_logger_t {
    as_log_enabled_fn *enabled;
    as_log_print_fn *print;
    void *baton;
} as_logger_t;

#define AS_LOG_MARK __FILE__, __LINE__

/* A logger is always passed by the caller: the request's (as_request_t
 * log), the database handle's (as_db_open), the watch's (as_watch_create).
 * There is no process-wide default; lg == NULL prints nothing (and
 * as_log_enabled() says 0). */
int as_log_enabled(const as_logger_t *lg, int level);
void as_log(const as_logger_t *lg, const char *file, int line, int level, apr_status_t rv,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A logger printing "[level] msg" to stderr up to max_level (tests, tools). */
void as_log_stderr_init(as_logger_t *lg, int *max_level);

#endif
