/* The decision of the parent's wedge watch (httpd glue, monitor hook).
 *
 * libdb 5.3 cannot clean up after a process killed while it held one of
 * Berkeley DB's own mutexes (a latch inside the region, not a lock): every
 * later failchk blocks on it for good.  Each child runs failchk every second
 * under DATADIR/as_open.lock, so the symptom is one process holding that
 * lock for many seconds (a failchk or an open takes milliseconds).  The only
 * remedy is recovery with nobody attached.
 *
 * as_wedge_watch() follows the holder of the open lock across calls and says
 * when it has held it too long; as_wedge_decide() then says what to do,
 * from the processes attached to the environment (as_db_attached) and the
 * server's children.  It only ever targets children that are attached: a
 * child serving other virtual hosts that has not attached is left alone,
 * and a process that is not a child (activesync-admin) is never a target --
 * if one is attached, nothing is done, since recovery would have to wait
 * for it anyway.  Pure functions: no I/O, no clock, no signals. */
#ifndef AS_WEDGE_H
#define AS_WEDGE_H

#include <sys/types.h>

#include <apr_time.h>

typedef struct as_wedge_watch_t {
    pid_t holder;           /* holder of the open lock at the last look (0: none) */
    apr_time_t since;       /* since when it holds it */
    apr_time_t last_report; /* last REPORT/FOREIGN verdict (rate limit) */
} as_wedge_watch_t;

typedef enum {
    AS_WEDGE_OK = 0, /* nothing to do (not wedged, or already reported recently) */
    AS_WEDGE_REPORT, /* wedged and the remedy is off: log what it would do */
    AS_WEDGE_REMEDY, /* wedged: stop the targets, then recover once none is attached */
    AS_WEDGE_FOREIGN /* wedged, but a process that is not a child is attached: log only */
} as_wedge_verdict_t;

typedef struct as_wedge_in_t {
    apr_time_t now;
    const pid_t *attached; /* processes attached to the environment */
    size_t nattached;
    const pid_t *children; /* the server's children (scoreboard) */
    size_t nchildren;
    int remedy_on;                    /* ActiveSyncWedgeRemedy */
    apr_interval_time_t report_every; /* least time between two REPORT/FOREIGN verdicts */
} as_wedge_in_t;

typedef struct as_wedge_out_t {
    as_wedge_verdict_t verdict;
    pid_t *targets; /* caller's buffer of at least nattached entries */
    size_t ntargets;
    pid_t foreign; /* FOREIGN: the attached process that is not a child */
} as_wedge_out_t;

/* Record the holder of the open lock seen now (0: nobody).  Returns 1 when
 * the same process has held it for at least `after`. */
int as_wedge_watch(as_wedge_watch_t *w, apr_time_t now, pid_t holder, apr_interval_time_t after);

/* After as_wedge_watch() returned 1.  A REMEDY verdict restarts the watch
 * (the holder is about to go). */
void as_wedge_decide(as_wedge_watch_t *w, const as_wedge_in_t *in, as_wedge_out_t *out);

const char *as_wedge_verdict_name(as_wedge_verdict_t v);

#endif
