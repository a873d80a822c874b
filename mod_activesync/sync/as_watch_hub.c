/* Push waits, the process-wide part (as_watch.h, PROCESS MODEL): one
 * inotify instance and one dispatcher thread per process, shared by every
 * wait, with the kernel watches they hold (reference-counted).
 *
 * The statics below are that shared resource and its stop signal, kept on
 * purpose: a second inotify instance per virtual host or per caller would
 * hit fs.inotify.max_user_instances, and as_watch_stop() must reach every
 * parked wait from a signal handler, with no context to pass.  They hold
 * no configuration: the logger and the benchmark tick come from
 * as_watch_start() (or the first wait), each wait brings its own stop check
 * (as_watch_create), so two virtual hosts or two tests never share one. */
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <time.h>
#include <unistd.h>

#include "as_watch_int.h"

#define WATCH_MASK                                                                                 \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_DELETE_SELF |            \
     IN_MOVE_SELF | IN_EXCL_UNLINK)

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER; /* guards g_hub */
static hub_t *g_hub;                                     /* this process's hub */
/* as_watch_stop() was called.  Shared with the dispatcher thread and a
 * signal handler (lock-free atomics are async-signal-safe), so atomic:
 * plain uses are sequentially consistent. */
static atomic_int g_stopping;
static atomic_int g_efd = -1; /* the hub's eventfd, for as_watch_stop() */

apr_time_t as_watch_mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

int as_watch_hub_stopping(void)
{
    return g_stopping != 0;
}

static entry_t *entry_find(hub_t *h, int wd)
{
    entry_t *e;
    for (e = h->buckets[(unsigned)wd % NBUCKETS]; e; e = e->next) {
        if (e->wd == wd) {
            return e;
        }
    }
    return NULL;
}

static void entry_unhash(hub_t *h, entry_t *e)
{
    entry_t **pp = &h->buckets[(unsigned)e->wd % NBUCKETS];
    for (; *pp; pp = &(*pp)->next) {
        if (*pp == e) {
            *pp = e->next;
            break;
        }
    }
    e->next = NULL;
}

/* Record an event for ref (hub locked). */
static void mark(as_watch_t *w, int index, apr_time_t now)
{
    if (index == TICKET_INDEX) {
        w->ticket_event = 1;
    } else if (index >= 0 && index < w->npaths) {
        w->pending[index] = 1;
        if (!w->any_pending) {
            w->first_ev = now;
            w->any_pending = 1;
        }
        w->last_ev = now;
    }
    pthread_cond_signal(&w->cond);
}

static void mark_all(hub_t *h, apr_time_t now)
{
    as_watch_t *w;
    int i;
    for (w = h->waits; w; w = w->next) {
        for (i = 0; i < w->npaths; i++) {
            mark(w, i, now);
        }
        if (w->has_ticket) {
            mark(w, TICKET_INDEX, now);
        }
    }
}

static void broadcast_all(hub_t *h)
{
    as_watch_t *w;
    for (w = h->waits; w; w = w->next) {
        pthread_cond_signal(&w->cond);
    }
}

static void handle_events(hub_t *h, const char *buf, ssize_t len)
{
    apr_time_t now = as_watch_mono_now();
    const char *ptr = buf;

    pthread_mutex_lock(&h->mu);
    while (ptr < buf + len) {
        const struct inotify_event *ev = (const struct inotify_event *)(const void *)ptr;
        ptr += sizeof(struct inotify_event) + ev->len;
        if (ev->mask & IN_Q_OVERFLOW) {
            mark_all(h, now);
            continue;
        }
        {
            entry_t *e = entry_find(h, ev->wd);
            unsigned i;
            if (!e) {
                continue;
            }
            for (i = 0; i < e->nrefs; i++) {
                mark(e->refs[i].w, e->refs[i].index, now);
            }
            if (ev->mask & IN_IGNORED) {
                /* The kernel dropped the watch (directory removed): the
                 * entry stays until its waits close. */
                entry_unhash(h, e);
                e->wd = -1;
            }
        }
    }
    pthread_mutex_unlock(&h->mu);
}

/* The distinct stop checks of the registered waits into h->probes (hub
 * locked); returns how many. */
static unsigned collect_probes(hub_t *h)
{
    as_watch_t *w;
    unsigned n = 0, i;

    for (w = h->waits; w; w = w->next) {
        if (!w->stop.fn || w->stop_seen) {
            continue;
        }
        for (i = 0; i < n; i++) {
            if (h->probes[i].fn == w->stop.fn && h->probes[i].baton == w->stop.baton) {
                break;
            }
        }
        if (i < n) {
            continue;
        }
        if (n == h->probes_cap) {
            unsigned nc = n ? n * 2 : 4;
            stop_probe_t *np = realloc(h->probes, nc * sizeof(*np));
            if (!np) {
                break; /* the others are asked at the start of their next wait */
            }
            h->probes = np;
            h->probes_cap = nc;
        }
        h->probes[n].fn = w->stop.fn;
        h->probes[n].baton = w->stop.baton;
        h->probes[n++].stop = 0;
    }
    return n;
}

/* Once a second: ask each distinct stop check of the parked waits once
 * (outside the hub lock: a check may take locks of its own) and end the
 * waits whose check says stop. */
static void run_stop_checks(hub_t *h)
{
    as_watch_t *w;
    unsigned n, i;
    int any = 0;

    pthread_mutex_lock(&h->mu);
    n = collect_probes(h);
    pthread_mutex_unlock(&h->mu);
    for (i = 0; i < n; i++) {
        h->probes[i].stop = h->probes[i].fn(h->probes[i].baton) != 0;
        any |= h->probes[i].stop;
    }
    if (!any) {
        return;
    }
    pthread_mutex_lock(&h->mu);
    for (w = h->waits; w; w = w->next) {
        for (i = 0; i < n; i++) {
            if (h->probes[i].stop && h->probes[i].fn == w->stop.fn &&
                h->probes[i].baton == w->stop.baton) {
                w->stop_seen = 1;
                pthread_cond_signal(&w->cond);
            }
        }
    }
    pthread_mutex_unlock(&h->mu);
}

/* Reads the eventfd; 1 when the loop must end (as_watch_shutdown). */
static int drain_wakeup(hub_t *h)
{
    uint64_t v;
    if (read(h->efd, &v, sizeof v) < 0) {
        /* drained already */
    }
    /* as_watch_shutdown() sets quit, then writes: the write drained here
     * may be the one meant to end this loop. */
    return h->quit;
}

static void *dispatcher(void *arg)
{
    hub_t *h = arg;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    sigset_t all;
    apr_time_t next_tick = 0;

    /* Signals belong to the process's other threads (httpd's MPM). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        struct pollfd pf[2];
        int n = 0, rc;
        apr_time_t now;

        if (h->efd >= 0) {
            pf[n].fd = h->efd;
            pf[n].events = POLLIN;
            pf[n++].revents = 0;
        }
        if (h->ifd >= 0) {
            pf[n].fd = h->ifd;
            pf[n].events = POLLIN;
            pf[n++].revents = 0;
        }
        /* a timeout of a second: the stop checks and the tick */
        rc = poll(pf, (nfds_t)n, 1000);
        if (rc < 0 && errno != EINTR) {
            break;
        }
        if (h->quit || (h->efd >= 0 && (pf[0].revents & POLLIN) && drain_wakeup(h))) {
            break;
        }
        if (h->ifd >= 0) {
            ssize_t len;
            while ((len = read(h->ifd, buf, sizeof buf)) > 0) {
                handle_events(h, buf, len);
            }
        }
        now = as_watch_mono_now();
        if (now >= next_tick) {
            next_tick = now + APR_USEC_PER_SEC;
            if (h->tick) {
                h->tick(h->tick_baton);
            }
            if (!g_stopping) {
                run_stop_checks(h);
            }
        }
        if (g_stopping) {
            pthread_mutex_lock(&h->mu);
            broadcast_all(h);
            pthread_mutex_unlock(&h->mu);
        }
    }
    return NULL;
}

/* The hub of this process, created on first use (and again in a forked
 * child: the parent's thread does not exist there). */
hub_t *as_watch_hub_get(const as_watch_config_t *cfg, int *created)
{
    const as_logger_t *log = cfg ? cfg->log : NULL;
    hub_t *h;

    *created = 0;
    pthread_mutex_lock(&g_mu);
    if (g_hub && g_hub->pid == getpid()) {
        h = g_hub;
        pthread_mutex_unlock(&g_mu);
        return h;
    }
    /* A hub inherited over fork() is abandoned, never touched: its mutex may
     * have been held by a thread that does not exist here. */
    h = calloc(1, sizeof(*h));
    if (!h) {
        pthread_mutex_unlock(&g_mu);
        return NULL;
    }
    h->pid = getpid();
    if (cfg) {
        h->tick = cfg->tick;
        h->tick_baton = cfg->tick_baton;
    }
    pthread_mutex_init(&h->mu, NULL);
    h->ifd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
    if (h->ifd < 0) {
        as_log(log, AS_LOG_MARK, AS_LOG_WARNING, APR_FROM_OS_ERROR(errno),
               "push: inotify unavailable (fs.inotify.max_user_instances?); parked requests "
               "check for changes every %d s instead",
               AS_WATCH_POLL_SEC);
        h->logged_poll = 1;
    }
    h->efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (pthread_create(&h->thread, NULL, dispatcher, h) == 0) {
        h->have_thread = 1;
    } else {
        as_log(log, AS_LOG_MARK, AS_LOG_ERR, APR_FROM_OS_ERROR(errno),
               "push: cannot start the watch thread; parked requests poll");
        if (h->ifd >= 0) {
            close(h->ifd);
            h->ifd = -1;
        }
    }
    g_hub = h;
    *created = 1;
    atomic_store(&g_efd, h->efd);
    pthread_mutex_unlock(&g_mu);
    return h;
}

apr_status_t as_watch_start(const as_watch_config_t *cfg)
{
    int created;

    if (!as_watch_hub_get(cfg, &created)) {
        return APR_ENOMEM;
    }
    return created ? APR_SUCCESS : APR_EEXIST; /* configured by whoever started it */
}

void as_watch_stop(void)
{
    int efd = atomic_load(&g_efd);
    g_stopping = 1;
    if (efd >= 0) {
        uint64_t one = 1;
        if (write(efd, &one, sizeof one) < 0) {
            /* counter saturated: a wake-up is pending anyway */
        }
    }
}

int as_watch_stopping(void)
{
    return g_stopping != 0;
}

void as_watch_shutdown(void)
{
    hub_t *h;
    int i;

    pthread_mutex_lock(&g_mu);
    h = g_hub;
    g_hub = NULL;
    pthread_mutex_unlock(&g_mu);
    if (!h || h->pid != getpid()) {
        g_stopping = 0;
        atomic_store(&g_efd, -1);
        return;
    }
    as_watch_stop();
    for (i = 0; i < 500; i++) {
        unsigned n;
        pthread_mutex_lock(&h->mu);
        n = h->nwaits;
        broadcast_all(h);
        pthread_mutex_unlock(&h->mu);
        if (n == 0) {
            break;
        }
        usleep(10000);
    }
    if (h->nwaits) {
        /* Waits still registered: leave the hub to them (leaked). */
        atomic_store(&g_efd, -1);
        g_stopping = 0;
        return;
    }
    h->quit = 1;
    if (h->efd >= 0) {
        uint64_t one = 1;
        if (write(h->efd, &one, sizeof one) < 0) {
        }
    }
    if (h->have_thread) {
        pthread_join(h->thread, NULL);
    }
    atomic_store(&g_efd, -1);
    for (i = 0; i < NBUCKETS; i++) {
        entry_t *e = h->buckets[i], *nx;
        for (; e; e = nx) {
            nx = e->next;
            free(e->refs);
            free(e);
        }
    }
    if (h->ifd >= 0) {
        close(h->ifd);
    }
    if (h->efd >= 0) {
        close(h->efd);
    }
    pthread_mutex_destroy(&h->mu);
    free(h->probes);
    free(h);
    g_stopping = 0;
}

void as_watch_stats(as_watch_stats_t *s)
{
    hub_t *h;
    memset(s, 0, sizeof(*s));
    pthread_mutex_lock(&g_mu);
    h = g_hub;
    if (h && h->pid == getpid()) {
        pthread_mutex_lock(&h->mu);
        s->waits = h->nwaits;
        s->parked = h->nparked;
        s->watches = h->nwatches;
        s->bytes = h->bytes;
        s->fds = (h->ifd >= 0) + (h->efd >= 0);
        s->polling = h->ifd < 0;
        pthread_mutex_unlock(&h->mu);
    }
    pthread_mutex_unlock(&g_mu);
}

entry_t *as_watch_hub_add(hub_t *h, as_watch_t *w, int index, const char *path, int *err)
{
    entry_t *e;
    int wd;

    *err = 0;
    if (h->ifd < 0) {
        *err = ENOSYS;
        return NULL;
    }
    wd = inotify_add_watch(h->ifd, path, WATCH_MASK);
    if (wd < 0) {
        *err = errno;
        return NULL;
    }
    e = entry_find(h, wd);
    if (!e) {
        e = calloc(1, sizeof(*e));
        if (!e) {
            inotify_rm_watch(h->ifd, wd);
            *err = ENOMEM;
            return NULL;
        }
        e->wd = wd;
        e->next = h->buckets[(unsigned)wd % NBUCKETS];
        h->buckets[(unsigned)wd % NBUCKETS] = e;
        h->nwatches++;
        h->bytes += sizeof(*e);
    }
    if (e->nrefs == e->cap) {
        unsigned nc = e->cap ? e->cap * 2 : 2;
        ref_t *r = realloc(e->refs, nc * sizeof(ref_t));
        if (!r) {
            if (e->nrefs == 0) { /* just created: undo */
                inotify_rm_watch(h->ifd, wd);
                entry_unhash(h, e);
                h->nwatches--;
                h->bytes -= sizeof(*e);
                free(e->refs);
                free(e);
            }
            *err = ENOMEM;
            return NULL;
        }
        h->bytes += (nc - e->cap) * sizeof(ref_t);
        e->refs = r;
        e->cap = nc;
    }
    e->refs[e->nrefs].w = w;
    e->refs[e->nrefs].index = index;
    e->nrefs++;
    return e;
}

void as_watch_hub_remove(hub_t *h, entry_t *e, as_watch_t *w, int index)
{
    unsigned i;
    for (i = 0; i < e->nrefs; i++) {
        if (e->refs[i].w == w && e->refs[i].index == index) {
            e->refs[i] = e->refs[--e->nrefs];
            break;
        }
    }
    if (e->nrefs == 0) {
        if (e->wd >= 0) {
            inotify_rm_watch(h->ifd, e->wd);
            entry_unhash(h, e);
        }
        h->nwatches--;
        h->bytes -= sizeof(*e) + e->cap * sizeof(ref_t);
        free(e->refs);
        free(e);
    }
}
