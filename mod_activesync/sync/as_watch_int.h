/* Private to the push waits (as_watch.h): the process-wide hub (one
 * inotify instance, one dispatcher thread) in as_watch_hub.c and the waits
 * registered with it in as_watch.c. */
#ifndef AS_WATCH_INT_H
#define AS_WATCH_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <sys/types.h>

#include "activesync/as_watch.h"

#define TICKET_INDEX (-1)
#define NBUCKETS     1024

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

/* A distinct stop check of the registered waits, asked once per tick. */
typedef struct stop_probe_t {
    as_watch_stop_fn *fn;
    void *baton;
    int stop;
} stop_probe_t;

typedef struct hub_t {
    pid_t pid;
    pthread_mutex_t mu;
    int ifd; /* inotify, -1: polling fallback */
    int efd; /* eventfd: stop / quit */
    int have_thread;
    pthread_t thread;
    atomic_int quit; /* read by the dispatcher thread */
    /* from as_watch_start (as_watch_config_t); NULL when started by a wait */
    void (*tick)(void *baton);
    void *tick_baton;
    entry_t *buckets[NBUCKETS];
    as_watch_t *waits; /* doubly linked list */
    unsigned nwaits, nwatches;
    unsigned nparked; /* waits inside as_watch_wait() (as_watch_stats) */
    size_t bytes;
    int logged_poll;
    stop_probe_t *probes; /* the dispatcher's scratch (its thread only) */
    unsigned probes_cap;
} hub_t;

struct as_watch_t {
    as_watch_t *prev, *next;
    hub_t *hub;
    const as_logger_t *log;
    pthread_cond_t cond;
    as_watch_stop_check_t stop; /* fn NULL: none */
    int stop_seen;              /* the stop check said so (hub locked) */
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

apr_time_t as_watch_mono_now(void);

/* The hub of this process, created on first use (and again in a forked
 * child).  cfg: its configuration when this call creates it (*created 1). */
hub_t *as_watch_hub_get(const as_watch_config_t *cfg, int *created);

/* Is the process stopping (as_watch_stop)?  Read without the hub lock. */
int as_watch_hub_stopping(void);

/* Register ref (w, index) on path (hub locked).  Returns the entry, NULL
 * with *err: ENOENT/ENOTDIR (no such path) or another errno (limit). */
entry_t *as_watch_hub_add(hub_t *h, as_watch_t *w, int index, const char *path, int *err);

/* Drop ref (w, index) from e, and e with its last ref (hub locked). */
void as_watch_hub_remove(hub_t *h, entry_t *e, as_watch_t *w, int index);

#endif
