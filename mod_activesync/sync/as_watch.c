/* Push waits: one inotify instance and one dispatcher thread per process,
 * claims in DATADIR/push for per-device supersede.  See as_watch.h. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/file.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "activesync/as_watch.h"

#define WATCH_MASK                                                                                 \
    (IN_CREATE | IN_DELETE | IN_MOVED_FROM | IN_MOVED_TO | IN_MODIFY | IN_DELETE_SELF |            \
     IN_MOVE_SELF | IN_EXCL_UNLINK)
#define NBUCKETS     1024
#define TICKET_INDEX (-1)

typedef struct ref_t {
    as_watch_t *w;
    int index; /* path index, TICKET_INDEX for the claim file */
} ref_t;

/* One kernel watch, shared by every wait on the same inode. */
typedef struct entry_t {
    struct entry_t *next; /* hash chain */
    int wd;               /* -1 once the kernel dropped it (IN_IGNORED) */
    unsigned nrefs, cap;
    ref_t *refs;
} entry_t;

typedef struct hub_t {
    pid_t pid;
    pthread_mutex_t mu;
    int ifd; /* inotify, -1: polling fallback */
    int efd; /* eventfd: stop / quit */
    int have_thread;
    pthread_t thread;
    atomic_int quit; /* read by the dispatcher thread */
    entry_t *buckets[NBUCKETS];
    as_watch_t *waits; /* doubly linked list */
    unsigned nwaits, nwatches;
    unsigned nparked; /* waits inside as_watch_wait() (as_watch_stats) */
    size_t bytes;
    int logged_poll;
} hub_t;

struct as_watch_t {
    as_watch_t *prev, *next;
    hub_t *hub;
    const as_logger_t *log;
    pthread_cond_t cond;
    int has_ticket;
    as_watch_ticket_t ticket;
    entry_t *ticket_entry;
    int npaths, cap;
    entry_t **entries;      /* per index (NULL: polled) */
    unsigned char *pending; /* per index: events since the last wait returned */
    unsigned char *fired;   /* per index: events the last wait returned */
    int any_pending, ticket_event, poll, closed;
    apr_time_t first_ev, last_ev; /* monotonic */
};

static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static hub_t *g_hub;
/* Shared with the dispatcher thread (and a signal handler: lock-free atomics
 * are async-signal-safe), so atomic: plain uses are sequentially consistent. */
static atomic_int g_stopping;
static atomic_int g_efd = -1;
static int (*_Atomic g_stop_check)(void);

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

static apr_time_t mono_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (apr_time_t)ts.tv_sec * APR_USEC_PER_SEC + ts.tv_nsec / 1000;
}

/* ---- claims --------------------------------------------------------------- */

static void put_le64(unsigned char *b, apr_uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
}

static apr_uint64_t get_le64(const unsigned char *b)
{
    apr_uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) {
        v = (v << 8) | b[i];
    }
    return v;
}

apr_status_t as_watch_claim(apr_pool_t *p, const char *datadir, const char *account,
                            const char *device, as_watch_ticket_t **ticket)
{
    unsigned char md[EVP_MAX_MD_SIZE], buf[8];
    unsigned int mdlen = 0, i;
    char hex[33];
    const char *dir, *key;
    as_watch_ticket_t *t;
    apr_uint64_t claim = 0;
    int fd;
    ssize_t n;

    if (!datadir || !account || !device || !ticket) {
        return APR_EINVAL;
    }
    key = apr_pstrcat(p, account, "\n", device, NULL);
    if (!EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) || mdlen < 16) {
        return APR_EGENERAL;
    }
    for (i = 0; i < 16; i++) {
        static const char hx[] = "0123456789abcdef";
        hex[2 * i] = hx[md[i] >> 4];
        hex[2 * i + 1] = hx[md[i] & 15];
    }
    hex[32] = '\0';
    dir = apr_pstrcat(p, datadir, "/push", NULL);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return APR_FROM_OS_ERROR(errno);
    }
    while (claim == 0) {
        if (RAND_bytes(buf, sizeof buf) != 1) {
            return APR_EGENERAL;
        }
        claim = get_le64(buf);
    }
    t = apr_pcalloc(p, sizeof(*t));
    t->path = apr_pstrcat(p, dir, "/", hex, NULL);
    t->claim = claim;
    fd = open(t->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    put_le64(buf, claim);
    n = pwrite(fd, buf, sizeof buf, 0);
    i = (unsigned)errno;
    close(fd); /* releases the lock */
    if (n != (ssize_t)sizeof buf) {
        return n < 0 ? APR_FROM_OS_ERROR((int)i) : APR_EGENERAL;
    }
    *ticket = t;
    return APR_SUCCESS;
}

int as_watch_ticket_current(const as_watch_ticket_t *t)
{
    unsigned char buf[8];
    ssize_t n;
    int fd;

    if (!t || !t->path) {
        return 0;
    }
    fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return 0;
    }
    while (flock(fd, LOCK_SH) != 0 && errno == EINTR) {
    }
    n = pread(fd, buf, sizeof buf, 0);
    close(fd);
    return n == (ssize_t)sizeof buf && get_le64(buf) == t->claim;
}

/* ---- the hub (process-wide) ----------------------------------------------- */

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
    apr_time_t now = mono_now();
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

static void *dispatcher(void *arg)
{
    hub_t *h = arg;
    char buf[8192] __attribute__((aligned(__alignof__(struct inotify_event))));
    sigset_t all;

    /* Signals belong to the process's other threads (httpd's MPM). */
    sigfillset(&all);
    pthread_sigmask(SIG_BLOCK, &all, NULL);
    for (;;) {
        struct pollfd pf[2];
        int n = 0, rc, timeout = (g_stop_check || h->efd < 0) ? 1000 : -1;

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
        rc = poll(pf, (nfds_t)n, timeout);
        if (rc < 0 && errno != EINTR) {
            break;
        }
        if (h->quit) {
            break;
        }
        if (h->efd >= 0 && (pf[0].revents & POLLIN)) {
            uint64_t v;
            if (read(h->efd, &v, sizeof v) < 0) {
                /* drained already */
            }
            /* as_watch_shutdown() sets quit, then writes: the write drained
             * here may be the one meant to end this loop. */
            if (h->quit) {
                break;
            }
        }
        if (h->ifd >= 0) {
            ssize_t len;
            while ((len = read(h->ifd, buf, sizeof buf)) > 0) {
                handle_events(h, buf, len);
            }
        }
        if (g_stop_check && !g_stopping && g_stop_check()) {
            as_watch_stop();
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
static hub_t *hub_get(const as_logger_t *log)
{
    hub_t *h;

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
    atomic_store(&g_efd, h->efd);
    pthread_mutex_unlock(&g_mu);
    return h;
}

apr_status_t as_watch_start(const as_logger_t *log)
{
    return hub_get(log) ? APR_SUCCESS : APR_ENOMEM;
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

void as_watch_set_stop_check(int (*fn)(void))
{
    int efd = atomic_load(&g_efd);
    g_stop_check = fn;
    if (efd >= 0) {
        uint64_t one = 1; /* let the dispatcher pick up the new poll timeout */
        if (write(efd, &one, sizeof one) < 0) {
        }
    }
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

/* ---- waits ---------------------------------------------------------------- */

/* Register ref (w, index) on path (hub locked).  Returns the entry, NULL
 * with *err: ENOENT/ENOTDIR (no such path) or another errno (limit). */
static entry_t *watch_path(hub_t *h, as_watch_t *w, int index, const char *path, int *err)
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

static void unwatch(hub_t *h, entry_t *e, as_watch_t *w, int index)
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
                             as_watch_t **wout)
{
    hub_t *h = hub_get(log);
    as_watch_t *w;
    pthread_condattr_t ca;

    if (!h) {
        return APR_ENOMEM;
    }
    w = apr_pcalloc(p, sizeof(*w));
    w->hub = h;
    w->log = log;
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
        w->ticket_entry = watch_path(h, w, TICKET_INDEX, w->ticket.path, &err);
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
    e = watch_path(h, w, i, path, &err);
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
    start = mono_now();
    deadline = start + timeout;
    next_poll = start + apr_time_from_sec(AS_WATCH_POLL_SEC);
    if (w->npaths) {
        memset(w->fired, 0, (size_t)w->npaths);
    }
    if (w->has_ticket && !as_watch_ticket_current(&w->ticket)) {
        *result = AS_WATCH_SUPERSEDED;
        return APR_SUCCESS;
    }
    pthread_mutex_lock(&h->mu);
    h->nparked++;
    for (;;) {
        apr_time_t now = mono_now(), wake;
        if (g_stopping) {
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
            unwatch(h, w->entries[i], w, i);
        }
    }
    if (w->ticket_entry) {
        unwatch(h, w->ticket_entry, w, TICKET_INDEX);
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
