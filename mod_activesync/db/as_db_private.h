/* Private to the db layer: the handle of the Berkeley DB environment and
 * the helpers its files share (as_db.c opens, maintains and closes it;
 * as_db_txn.c runs transactions; as_db_offline.c works on the directory
 * without a handle: version check, ownership, recovery, attached processes). */
#ifndef AS_DB_PRIVATE_H
#define AS_DB_PRIVATE_H

#include <pthread.h>
#include <sys/types.h>

#include "activesync/as_db.h"

#define OPEN_LOCK_FILE "as_open.lock"
#define GATE_FILE      "as_recover.lock"
#define FILE_MODE      0660

struct as_db_t {
    char *home;
    as_db_options_t opt;
    as_logger_t lg;
    pid_t pid;
    pthread_rwlock_t rw;   /* operations: read; reopen/close: write */
    pthread_mutex_t maint; /* one maintenance run at a time */
    int panicked;          /* atomic: handles unusable, reopen pending */
    int closing;           /* atomic */
    apr_time_t panic_since;
    apr_time_t last_checkpoint;
    unsigned generation;
    apr_uint64_t serial; /* process-unique number of the open environment (as_db_memo.c) */
    DB_ENV *env;
    DB *dbs[AS_DB_NDBS];
};

static inline int atomic_get(int *v)
{
    return __atomic_load_n(v, __ATOMIC_SEQ_CST);
}

static inline void atomic_set(int *v, int x)
{
    __atomic_store_n(v, x, __ATOMIC_SEQ_CST);
}

/* The cross-process lock on DATADIR/as_open.lock (see as_db.c): the fd, or
 * -errno; wait is in 10 ms rounds.  While another process holds the
 * recovery gate (DATADIR/as_recover.lock) it is not taken. */
int as_db_lock_open_file(as_db_t *db, int wait);
void as_db_unlock_open_file(int fd);
/* Recovery with the open lock held and nobody registered (as_db.c). */
int as_db_force_recovery(as_db_t *db);
/* getpid() of this process without a system call per request (glibc no
 * longer caches it): taken once, and again in a forked child. */
pid_t as_db_self(void);
/* Mark the handle panicked (logs once). */
void as_db_mark_panicked(as_db_t *db, const char *why);

#endif
