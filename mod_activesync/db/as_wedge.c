/* The decision of the parent's wedge watch (as_wedge.h). */
#include "activesync/as_wedge.h"

int as_wedge_watch(as_wedge_watch_t *w, apr_time_t now, pid_t holder, apr_interval_time_t after)
{
    if (holder <= 0 || holder != w->holder) {
        w->holder = holder > 0 ? holder : 0;
        w->since = now;
        return 0;
    }
    return now - w->since >= after;
}

static int has_pid(const pid_t *set, size_t n, pid_t pid)
{
    size_t i;
    for (i = 0; i < n; i++) {
        if (set[i] == pid) {
            return 1;
        }
    }
    return 0;
}

void as_wedge_decide(as_wedge_watch_t *w, const as_wedge_in_t *in, as_wedge_out_t *out)
{
    size_t i;
    int holder_seen = 0;

    out->verdict = AS_WEDGE_OK;
    out->ntargets = 0;
    out->foreign = 0;
    for (i = 0; i < in->nattached; i++) {
        pid_t pid = in->attached[i];
        if (pid <= 0) {
            continue;
        }
        if (!has_pid(in->children, in->nchildren, pid)) {
            if (!out->foreign) {
                out->foreign = pid;
            }
            continue;
        }
        if (!has_pid(out->targets, out->ntargets, pid)) {
            out->targets[out->ntargets++] = pid;
        }
        holder_seen |= pid == w->holder;
    }
    if (!holder_seen && !out->foreign) {
        /* The holder is not an attached child: it is not ours. */
        out->foreign = w->holder;
    }
    if (out->foreign || !in->remedy_on) {
        /* Log only, and not on every call. */
        if (w->last_report && in->now - w->last_report < in->report_every) {
            out->ntargets = 0;
            return;
        }
        w->last_report = in->now;
        out->verdict = out->foreign ? AS_WEDGE_FOREIGN : AS_WEDGE_REPORT;
        return;
    }
    out->verdict = AS_WEDGE_REMEDY;
    w->holder = 0;
    w->since = in->now;
}

const char *as_wedge_verdict_name(as_wedge_verdict_t v)
{
    switch (v) {
    case AS_WEDGE_OK:
        return "ok";
    case AS_WEDGE_REPORT:
        return "report";
    case AS_WEDGE_REMEDY:
        return "remedy";
    case AS_WEDGE_FOREIGN:
        return "foreign";
    }
    return "?";
}
