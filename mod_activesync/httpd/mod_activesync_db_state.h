/* State shared by the files of the database glue (private to
 * mod_activesync_db.c, mod_activesync_gate.c and mod_activesync_wedge.c). */
#ifndef MOD_ACTIVESYNC_DB_STATE_H
#define MOD_ACTIVESYNC_DB_STATE_H

#include <pthread.h>
#include <sys/types.h>

#include <apr_global_mutex.h>
#include <httpd.h>

#include "activesync/as_cap.h"
#include "activesync/as_db.h"
#include "activesync/as_wedge.h"

#define MUTEX_TYPE  "activesync-cap"
#define RETRY_AFTER "5"

typedef struct db_state_t {
    /* Set by post_config in the parent, inherited by the children. */
    int active; /* some server has ActiveSync On: the data directory is used */
    const char *datadir;
    apr_global_mutex_t *mutex;
    apr_interval_time_t mutex_wait; /* ActiveSyncCapMutexWait */
    int wedge_remedy;               /* ActiveSyncWedgeRemedy */
    as_cap_limit_t cap;
    as_cap_limit_t expired_cap; /* what the cap becomes when the licence expires */
    apr_time_t license_expires; /* 0: no licence to watch */
    unsigned thread_count;
    uid_t uid; /* owner to give the data directory to ((uid_t)-1: keep) */
    gid_t gid;
    /* Parent: the wedge watch (mod_activesync_wedge.c). */
    as_wedge_watch_t wedge;
    pid_t wedge_helper; /* the remedy's helper process, while it runs */

    /* Per child. */
    server_rec *s;
    int mutex_ok;
    as_db_t *db;  /* atomic: the maintenance thread may open it late */
    int inflight; /* atomic: request threads inside the handle */
    pthread_t maint;
    int maint_running;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stop;          /* atomic (also read under mu) */
    int kick;          /* under mu: a request found the handle unavailable */
    int stuck;         /* atomic: the handle could not be reopened; exiting */
    int expiry_logged; /* atomic */
    int abandon;       /* atomic: exiting from a signal handler (async-signal-safe only) */
} db_state_t;

extern db_state_t mod_activesync_db_st;

/* Wake the maintenance thread now (a request met an unavailable handle). */
void mod_activesync_db_kick(void);

#endif
