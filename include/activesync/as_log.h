/* Logging bridge of the core library.
 *
 * The core never includes httpd headers: it logs through a logger, a pair of
 * callbacks plus a baton.  The httpd glue installs one that forwards to
 * ap_log_rerror()/ap_log_error() (so per-module LogLevel works); unit tests
 * and the admin tool install a stderr printer.  Levels mirror APLOG_*.
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

/* The process-wide logger used when a call passes lg == NULL (start-up,
 * maintenance, tools).  Without one, nothing is printed. */
void as_log_set_default(const as_logger_t *lg);
const as_logger_t *as_log_default(void);

int as_log_enabled(const as_logger_t *lg, int level);
void as_log(const as_logger_t *lg, const char *file, int line, int level, apr_status_t rv,
            const char *fmt, ...) __attribute__((format(printf, 6, 7)));

/* A logger printing "[level] msg" to stderr up to max_level (tests, tools). */
void as_log_stderr_init(as_logger_t *lg, int *max_level);

#endif
