/* Push waits, one per parked request (as_watch.h): registration with the
 * process's hub (as_watch_hub.c), the wait itself with coalescing, the
 * polling fallback and the per-wait stop check. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <apr_strings.h>

#include "as_watch_int.h"

const char *as_watch_result_name(as_watch_result_t r)
{
    switch (r) {
    case AS_WATCH_CHANGED:
        return "changed";
    case AS_WATCH_TIMEOUT:
        return "timeout";
    case AS_WATCH_SUPERSEDED:
        return "superseded";
    case AS_WATCH_STOPPING:
        return "stopping";
    }
    return "?";
}

static void degrade(as_watch_t *w, const char *path, int err)
{
    hub_t *h = w->hub;
    w->poll = 1;
    if (!h->logged_poll) {
        h->logged_poll = 1;
        as_log(w->log, AS_LOG_MARK, AS_LOG_WARNING, APR_FROM_OS_ERROR(err),
               "push: cannot watch %s (fs.inotify.max_user_watches?); parked requests check "
               "for changes every %d s instead",
               path, AS_WATCH_POLL_SEC);
    }
}

static apr_status_t watch_cleanup(void *data)
{
    as_watch_close(data);
    return APR_SUCCESS;
}

apr_status_t as_watch_create(apr_pool_t *p, const as_watch_ticket_t *ticket, const as_logger_t *log,
                             const as_watch_stop_check_t *stop, as_watch_t **wout)
{
    as_watch_config_t cfg = {log, NULL, NULL};
    int created;
    hub_t *h = as_watch_hub_get(&cfg, &created);
    as_watch_t *w;
    pthread_condattr_t ca;

    if (!h) {
        return APR_ENOMEM;
    }
    w = apr_pcalloc(p, sizeof(*w));
    w->hub = h;
    w->log = log;
    if (stop) {
        w->stop = *stop;
    }
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&w->cond, &ca);
    pthread_condattr_destroy(&ca);
    if (ticket) {
        w->has_ticket = 1;
        w->ticket.path = apr_pstrdup(p, ticket->path);
        w->ticket.claim = ticket->claim;
    }
    pthread_mutex_lock(&h->mu);
    w->next = h->waits;
    if (h->waits) {
        h->waits->prev = w;
    }
    h->waits = w;
    h->nwaits++;
    h->bytes += sizeof(*w);
    if (ticket) {
        int err;
        w->ticket_entry = as_watch_hub_add(h, w, TICKET_INDEX, w->ticket.path, &err);
        if (!w->ticket_entry && err != ENOENT) {
            degrade(w, w->ticket.path, err);
        }
    }
    pthread_mutex_unlock(&h->mu);
    apr_pool_cleanup_register(p, w, watch_cleanup, apr_pool_cleanup_null);
    *wout = w;
    return APR_SUCCESS;
}

apr_status_t as_watch_add(as_watch_t *w, const char *path, int *index)
{
    hub_t *h;
    entry_t *e;
    int err, i;

    if (!w || w->closed || !path) {
        return APR_EINVAL;
    }
    h = w->hub;
    pthread_mutex_lock(&h->mu);
    if (w->npaths == w->cap) {
        int nc = w->cap ? w->cap * 2 : 4;
        entry_t **ne = realloc(w->entries, (size_t)nc * sizeof(entry_t *));
        unsigned char *np, *nf;
        if (ne) {
            w->entries = ne;
        }
        np = ne ? realloc(w->pending, (size_t)nc) : NULL;
        if (np) {
            w->pending = np;
        }
        nf = np ? realloc(w->fired, (size_t)nc) : NULL;
        if (!nf) {
            pthread_mutex_unlock(&h->mu);
            return APR_ENOMEM;
        }
        w->fired = nf;
        h->bytes += (size_t)(nc - w->cap) * (sizeof(entry_t *) + 2);
        w->cap = nc;
    }
    i = w->npaths;
    e = as_watch_hub_add(h, w, i, path, &err);
    if (!e && (err == ENOENT || err == ENOTDIR)) {
        pthread_mutex_unlock(&h->mu);
        return APR_ENOENT;
    }
    if (!e) {
        degrade(w, path, err);
    }
    w->entries[i] = e;
    w->pending[i] = 0;
    w->fired[i] = 0;
    w->npaths++;
    pthread_mutex_unlock(&h->mu);
    if (index) {
        *index = i;
    }
    return APR_SUCCESS;
}

int as_watch_fired(const as_watch_t *w, int index)
{
    return w && index >= 0 && index < w->npaths && w->fired[index];
}

static void timed_wait(as_watch_t *w, apr_time_t until)
{
    struct timespec ts;
    ts.tv_sec = (time_t)(until / APR_USEC_PER_SEC);
    ts.tv_nsec = (long)(until % APR_USEC_PER_SEC) * 1000;
    pthread_cond_timedwait(&w->cond, &w->hub->mu, &ts);
}

apr_status_t as_watch_wait(as_watch_t *w, apr_interval_time_t timeout, as_watch_result_t *result)
{
    hub_t *h;
    apr_time_t start, deadline, next_poll;
    int i;

    if (!w || w->closed || !result || timeout < 0) {
        return APR_EINVAL;
    }
    h = w->hub;
    start = as_watch_mono_now();
    deadline = start + timeout;
    next_poll = start + apr_time_from_sec(AS_WATCH_POLL_SEC);
    if (w->npaths) {
        memset(w->fired, 0, (size_t)w->npaths);
    }
    if (w->has_ticket && !as_watch_ticket_current(&w->ticket)) {
        *result = AS_WATCH_SUPERSEDED;
        return APR_SUCCESS;
    }
    if (w->stop.fn && w->stop.fn(w->stop.baton)) {
        *result = AS_WATCH_STOPPING; /* the dispatcher asks again while parked */
        return APR_SUCCESS;
    }
    pthread_mutex_lock(&h->mu);
    h->nparked++;
    for (;;) {
        apr_time_t now = as_watch_mono_now(), wake;
        if (as_watch_hub_stopping() || w->stop_seen) {
            *result = AS_WATCH_STOPPING;
            break;
        }
        if (w->ticket_event || (w->poll && w->has_ticket && now >= next_poll)) {
            int cur;
            w->ticket_event = 0;
            pthread_mutex_unlock(&h->mu);
            cur = as_watch_ticket_current(&w->ticket);
            pthread_mutex_lock(&h->mu);
            if (!cur) {
                *result = AS_WATCH_SUPERSEDED;
                break;
            }
            continue;
        }
        if (w->poll && now >= next_poll) {
            for (i = 0; i < w->npaths; i++) {
                w->pending[i] = 1;
            }
            w->any_pending = 1;
            w->first_ev = w->last_ev = now - AS_WATCH_COALESCE_MAX;
        }
        if (w->any_pending) {
            apr_time_t until = w->last_ev + AS_WATCH_QUIET;
            if (until > w->first_ev + AS_WATCH_COALESCE_MAX) {
                until = w->first_ev + AS_WATCH_COALESCE_MAX;
            }
            if (now >= until) {
                if (w->npaths) {
                    memcpy(w->fired, w->pending, (size_t)w->npaths);
                    memset(w->pending, 0, (size_t)w->npaths);
                }
                w->any_pending = 0;
                *result = AS_WATCH_CHANGED;
                break;
            }
            timed_wait(w, until);
            continue;
        }
        if (now >= deadline) {
            *result = AS_WATCH_TIMEOUT;
            break;
        }
        wake = deadline;
        if (w->poll && next_poll < wake) {
            wake = next_poll;
        }
        if (h->efd < 0 && now + APR_USEC_PER_SEC < wake) {
            wake = now + APR_USEC_PER_SEC; /* no eventfd: notice a stop within 1 s */
        }
        timed_wait(w, wake);
    }
    h->nparked--;
    pthread_mutex_unlock(&h->mu);
    return APR_SUCCESS;
}

void as_watch_close(as_watch_t *w)
{
    hub_t *h;
    int i;

    if (!w || w->closed) {
        return;
    }
    h = w->hub;
    pthread_mutex_lock(&h->mu);
    for (i = 0; i < w->npaths; i++) {
        if (w->entries[i]) {
            as_watch_hub_remove(h, w->entries[i], w, i);
        }
    }
    if (w->ticket_entry) {
        as_watch_hub_remove(h, w->ticket_entry, w, TICKET_INDEX);
    }
    if (w->prev) {
        w->prev->next = w->next;
    } else {
        h->waits = w->next;
    }
    if (w->next) {
        w->next->prev = w->prev;
    }
    h->nwaits--;
    h->bytes -= sizeof(*w) + (size_t)w->cap * (sizeof(entry_t *) + 2);
    w->closed = 1;
    pthread_mutex_unlock(&h->mu);
    pthread_cond_destroy(&w->cond);
    free(w->entries);
    free(w->pending);
    free(w->fired);
    w->entries = NULL;
    w->pending = w->fired = NULL;
    w->npaths = w->cap = 0;
}
