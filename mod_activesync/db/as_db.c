/* The Berkeley DB environment: see as_db.h for the process model. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "as_db_private.h"

static const char *const db_files[AS_DB_NDBS] = {
    "directory.db",
    "registry.db",
    "devices.db",
    "syncstate.db",
};

void as_db_options_default(as_db_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->thread_count = 2048;
    o->lock_timeout = apr_time_from_sec(2);
    o->cache_bytes = 8 * 1024 * 1024;
    o->checkpoint_interval = apr_time_from_sec(60);
    o->nosync = 0;
    o->busy_timeout = apr_time_from_sec(5);
}

/* ---- one handle per process ------------------------------------------- */

/* Process-wide on purpose: Berkeley DB allows one handle per environment
 * and process, whoever (virtual host, tool, test) opens it. */
#define MAX_OPEN 8
static pthread_mutex_t open_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    char path[PATH_MAX];
    pid_t pid;
} open_homes[MAX_OPEN];

static int claim_home(const char *path)
{
    int i, free_slot = -1, rc = 0;
    pid_t me = getpid();

    pthread_mutex_lock(&open_mu);
    for (i = 0; i < MAX_OPEN; i++) {
        if (open_homes[i].pid == me && !strcmp(open_homes[i].path, path)) {
            rc = -1;
            goto out;
        }
        /* Entries inherited across fork belong to the parent: reuse them. */
        if (free_slot < 0 && (open_homes[i].pid == 0 || open_homes[i].pid != me)) {
            free_slot = i;
        }
    }
    if (free_slot < 0) {
        rc = -1;
        goto out;
    }
    apr_cpystrn(open_homes[free_slot].path, path, sizeof(open_homes[free_slot].path));
    open_homes[free_slot].pid = me;
out:
    pthread_mutex_unlock(&open_mu);
    return rc;
}

static void release_home(const char *path)
{
    int i;
    pid_t me = getpid();

    pthread_mutex_lock(&open_mu);
    for (i = 0; i < MAX_OPEN; i++) {
        if (open_homes[i].pid == me && !strcmp(open_homes[i].path, path)) {
            open_homes[i].pid = 0;
            open_homes[i].path[0] = '\0';
        }
    }
    pthread_mutex_unlock(&open_mu);
}

/* ---- callbacks --------------------------------------------------------- */

static void bdb_errcall(const DB_ENV *env, const char *pfx, const char *msg)
{
    as_db_t *db = env->app_private;
    (void)pfx;
    as_log(db ? &db->lg : NULL, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS, "Berkeley DB (%s): %s",
           db ? db->home : "?", msg);
}

static void bdb_msgcall(const DB_ENV *env, const char *msg)
{
    as_db_t *db = env->app_private;
    as_log(db ? &db->lg : NULL, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS, "Berkeley DB (%s): %s",
           db ? db->home : "?", msg);
}

static pid_t self_pid;
static pthread_once_t self_once = PTHREAD_ONCE_INIT;

static void self_after_fork(void)
{
    __atomic_store_n(&self_pid, getpid(), __ATOMIC_SEQ_CST);
}

static void self_init(void)
{
    __atomic_store_n(&self_pid, getpid(), __ATOMIC_SEQ_CST);
    pthread_atfork(NULL, NULL, self_after_fork);
}

pid_t as_db_self(void)
{
    pthread_once(&self_once, self_init);
    return __atomic_load_n(&self_pid, __ATOMIC_SEQ_CST);
}

void as_db_mark_panicked(as_db_t *db, const char *why)
{
    if (!atomic_get(&db->panicked)) {
        db->panic_since = apr_time_now();
        atomic_set(&db->panicked, 1);
        as_log(&db->lg, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
               "Berkeley DB environment %s needs recovery (%s): it will be reopened", db->home,
               why);
    }
}

static void bdb_event(DB_ENV *env, u_int32_t event, void *info)
{
    as_db_t *db = env->app_private;

    if (!db) {
        return;
    }
    switch (event) {
    case DB_EVENT_PANIC:
        as_db_mark_panicked(db, "panic");
        break;
    case DB_EVENT_REG_PANIC:
        as_db_mark_panicked(db, "another process recovered the environment");
        break;
    case DB_EVENT_WRITE_FAILED:
        as_db_mark_panicked(db, "write failed");
        break;
    case DB_EVENT_REG_ALIVE:
        as_log(&db->lg, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
               "Berkeley DB recovery: process %ld was still attached",
               info ? (long)*(pid_t *)info : -1L);
        break;
    default:
        break;
    }
}

/* A process is alive if it exists; EPERM means it exists but belongs to
 * another user (the root parent seen from www-data). */
static int bdb_isalive(DB_ENV *env, pid_t pid, db_threadid_t tid, u_int32_t flags)
{
    (void)env;
    (void)tid;
    (void)flags;
    if (pid == getpid()) {
        return 1; /* our threads never die alone */
    }
    if (kill(pid, 0) == 0 || errno == EPERM) {
        return 1;
    }
    return 0;
}

/* ---- open / close ------------------------------------------------------ */

/* The cross-process lock on DATADIR/as_open.lock serialises opens (a
 * DB_REGISTER recovery must not race another open) and every failchk: two
 * processes running failchk at once both abort the same dead transaction
 * ("BDB2038 Unexpected lock status" and a panic [tried]).  wait: how many
 * 10 ms rounds to wait for another holder (0: none), then -EAGAIN.  Only one fd per process may be
 * open on the file at a time (closing any fd drops a process's fcntl locks):
 * callers are serialised by db->maint or run before the handle is shared. */
/* Does another process hold the recovery gate (as_db_gate_opens)? */
static int gated(const char *home)
{
    char path[PATH_MAX];
    struct flock fl;
    int fd, held = 0;

    apr_snprintf(path, sizeof(path), "%s/%s", home, GATE_FILE);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return 0; /* never created: no recovery ever gated opens */
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_RDLCK;
    fl.l_whence = SEEK_SET;
    held = fcntl(fd, F_GETLK, &fl) == 0 && fl.l_type != F_UNLCK;
    close(fd); /* we held no lock on it: nothing is released */
    return held;
}

int as_db_lock_open_file(as_db_t *db, int wait)
{
    char path[PATH_MAX];
    struct flock fl;
    int fd = -1;

    apr_snprintf(path, sizeof(path), "%s/%s", db->home, OPEN_LOCK_FILE);
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    for (;;) {
        int e = EAGAIN;
        if (fd < 0 && (fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, FILE_MODE)) < 0) {
            return -errno;
        }
        /* The gate is looked at before and after taking the lock: a
         * recovery that gated opens while we waited goes first, and takes
         * the lock once its targets are gone (as_db_gate_opens). */
        if (!gated(db->home)) {
            if (fcntl(fd, F_SETLK, &fl) == 0) {
                if (!gated(db->home)) {
                    return fd;
                }
                close(fd); /* drops the lock */
                fd = -1;
            } else {
                e = errno;
            }
        }
        if (e == EINTR) {
            continue;
        }
        if ((e == EAGAIN || e == EACCES) && wait > 0) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            wait--;
            nanosleep(&ts, NULL);
            continue;
        }
        if (fd >= 0) {
            close(fd);
        }
        return -((e == EACCES) ? EAGAIN : e);
    }
}

void as_db_unlock_open_file(int fd)
{
    if (fd >= 0) {
        close(fd); /* releases the fcntl lock */
    }
}

static int env_configure(as_db_t *db, DB_ENV *env)
{
    int rc;
    u_int32_t n = db->opt.thread_count ? db->opt.thread_count : 2048;

    env->app_private = db;
    env->set_errcall(env, bdb_errcall);
    env->set_msgcall(env, bdb_msgcall);
    if ((rc = env->set_event_notify(env, bdb_event)) != 0 ||
        (rc = env->set_isalive(env, bdb_isalive)) != 0 ||
        (rc = env->set_thread_count(env, n)) != 0 ||
        (rc = env->set_lk_detect(env, DB_LOCK_DEFAULT)) != 0 ||
        (rc = env->set_timeout(env, (db_timeout_t)db->opt.lock_timeout, DB_SET_LOCK_TIMEOUT)) !=
            0 ||
        (rc = env->set_flags(env, DB_TIME_NOTGRANTED, 1)) != 0 ||
        (rc = env->set_cachesize(env, (u_int32_t)(db->opt.cache_bytes >> 30),
                                 (u_int32_t)(db->opt.cache_bytes & ((1u << 30) - 1)), 1)) != 0 ||
        (rc = env->set_lk_max_lockers(env, 2 * n + 200)) != 0 ||
        (rc = env->set_lk_max_locks(env, 4 * n + 2000)) != 0 ||
        (rc = env->set_lk_max_objects(env, 4 * n + 2000)) != 0 ||
        (rc = env->set_tx_max(env, n)) != 0) {
        return rc;
    }
    if (getenv("AS_DB_VERBOSE")) {
        env->set_verbose(env, DB_VERB_REGISTER, 1);
        env->set_verbose(env, DB_VERB_RECOVERY, 1);
    }
    if (db->opt.nosync && (rc = env->set_flags(env, DB_TXN_WRITE_NOSYNC, 1)) != 0) {
        return rc;
    }
    return 0;
}

#define ENV_FLAGS (DB_CREATE | DB_INIT_MPOOL | DB_INIT_LOCK | DB_INIT_LOG | DB_INIT_TXN | DB_THREAD)

/* Last resort when a DB_REGISTER open finds the region panicked with no dead
 * process to blame (so DB_REGISTER sees no reason to recover): run recovery
 * explicitly.  Every other process's handle is panicked as well, and opens
 * are serialised by the open lock, so nobody is using the regions. */
int as_db_force_recovery(as_db_t *db)
{
    DB_ENV *env;
    int rc;

    as_log(&db->lg, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
           "Berkeley DB environment %s is panicked: running recovery", db->home);
    if ((rc = db_env_create(&env, 0)) != 0) {
        return rc;
    }
    if ((rc = env_configure(db, env)) == 0) {
        rc = env->open(env, db->home, (ENV_FLAGS & ~DB_THREAD) | DB_RECOVER, FILE_MODE);
    }
    env->app_private = NULL;
    (void)env->close(env, 0);
    return rc;
}

/* Before a DB_REGISTER open: if the environment exists, join it briefly
 * (no DB_CREATE, no registration) and run failchk until it has nothing left
 * to clean up.  Reason [tried]: with this libdb build on glibc, the first
 * failchk after a process died returns EBUSY ("BDB2027 unable to destroy
 * mutex") while it frees the dead process's mutexes; when that first run
 * happens inside DB_REGISTER's open, the open fails with EBUSY and leaves
 * our own register slot behind as "dead", so the next opener runs full
 * recovery and panics every process (whose threads blocked on locks in the
 * old region then never wake).  A second failchk returns 0, so cleaning up
 * first makes the registered open find nothing to do. */
static void pre_failchk(as_db_t *db)
{
    DB_ENV *env;
    int rc, i;
    char path[PATH_MAX];
    struct stat st;

    apr_snprintf(path, sizeof(path), "%s/__db.001", db->home);
    if (stat(path, &st) != 0) {
        return; /* no environment yet */
    }
    if (db_env_create(&env, 0) != 0) {
        return;
    }
    if (env_configure(db, env) == 0 &&
        env->open(env, db->home, ENV_FLAGS & ~DB_CREATE, FILE_MODE) == 0) {
        for (i = 0; i < 32; i++) { /* each EBUSY run frees at least one mutex */
            rc = env->failchk(env, 0);
            if (rc != EBUSY) {
                break;
            }
        }
    }
    env->app_private = NULL;
    (void)env->close(env, 0);
}

/* Numbers the environments this process opens: a memo (as_db_memo.c)
 * recorded under one never matches another, or the same one reopened. */
static apr_uint64_t open_serial;

static int open_env_once(as_db_t *db)
{
    DB_ENV *env;
    int rc, i;

    if ((rc = db_env_create(&env, 0)) != 0) {
        return rc;
    }
    if ((rc = env_configure(db, env)) != 0) {
        env->app_private = NULL;
        env->close(env, 0);
        return rc;
    }
    rc = env->open(env, db->home, ENV_FLAGS | DB_REGISTER | DB_RECOVER | DB_FAILCHK, FILE_MODE);
    if (rc != 0) {
        env->app_private = NULL;
        env->close(env, 0);
        return rc;
    }
    db->env = env;
    db->serial = __atomic_add_fetch(&open_serial, 1, __ATOMIC_SEQ_CST);
    for (i = 0; i < AS_DB_NDBS; i++) {
        DB *dbp;
        if ((rc = db_create(&dbp, env, 0)) != 0) {
            break;
        }
        rc = dbp->open(dbp, NULL, db_files[i], NULL, DB_BTREE,
                       DB_CREATE | DB_THREAD | DB_AUTO_COMMIT, FILE_MODE);
        if (rc != 0) {
            dbp->close(dbp, 0);
            break;
        }
        db->dbs[i] = dbp;
    }
    if (rc != 0) {
        for (i = 0; i < AS_DB_NDBS; i++) {
            if (db->dbs[i]) {
                db->dbs[i]->close(db->dbs[i], 0);
                db->dbs[i] = NULL;
            }
        }
        env->app_private = NULL;
        env->close(env, 0);
        db->env = NULL;
    }
    return rc;
}

/* Open the environment (caller holds the write lock or is the opener). */
static apr_status_t open_env(as_db_t *db)
{
    int fd, rc = 0, attempt;

    fd = as_db_lock_open_file(db, 6000); /* up to 60 s */
    if (fd < 0) {
        as_log(&db->lg, AS_LOG_MARK, AS_LOG_ERR, APR_FROM_OS_ERROR(-fd),
               "cannot lock %s/%s (data directory not writable by this user?)", db->home,
               OPEN_LOCK_FILE);
        return APR_FROM_OS_ERROR(-fd);
    }
    for (attempt = 0; attempt < 4; attempt++) {
        pre_failchk(db);
        rc = open_env_once(db);
        if (rc == DB_RUNRECOVERY) {
            rc = as_db_force_recovery(db);
            if (rc == 0) {
                rc = open_env_once(db);
            }
        }
        if (rc != EBUSY) {
            break; /* EBUSY: failchk met a process that died meanwhile */
        }
    }
    as_db_unlock_open_file(fd);
    if (rc != 0) {
        as_log(&db->lg, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
               "cannot open the Berkeley DB environment in %s: %s", db->home, db_strerror(rc));
        return rc > 0 ? APR_FROM_OS_ERROR(rc) : AS_DB_EFAIL;
    }
    return APR_SUCCESS;
}

static void close_env(as_db_t *db)
{
    int i, rc;

    for (i = 0; i < AS_DB_NDBS; i++) {
        if (db->dbs[i]) {
            db->dbs[i]->close(db->dbs[i], 0);
            db->dbs[i] = NULL;
        }
    }
    if (db->env) {
        rc = db->env->close(db->env, 0);
        if (rc != 0 && rc != DB_RUNRECOVERY) {
            as_log(&db->lg, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
                   "closing the Berkeley DB environment %s: %s", db->home, db_strerror(rc));
        }
        db->env = NULL;
    }
}

apr_status_t as_db_open(as_db_t **pdb, const char *home, const as_db_options_t *opts,
                        const as_logger_t *lg)
{
    as_db_t *db;
    char real[PATH_MAX];
    apr_status_t rv;
    const char *msg;
    struct stat st;

    *pdb = NULL;
    if ((rv = as_db_check_version(&msg)) != APR_SUCCESS) {
        as_log(lg, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS, "%s", msg);
        return rv;
    }
    if (stat(home, &st) != 0 && mkdir(home, 0750) != 0 && errno != EEXIST) {
        rv = APR_FROM_OS_ERROR(errno);
        as_log(lg, AS_LOG_MARK, AS_LOG_ERR, rv, "cannot create data directory %s", home);
        return rv;
    }
    if (!realpath(home, real)) {
        rv = APR_FROM_OS_ERROR(errno);
        as_log(lg, AS_LOG_MARK, AS_LOG_ERR, rv, "data directory %s", home);
        return rv;
    }
    if (claim_home(real) != 0) {
        as_log(lg, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
               "the Berkeley DB environment %s is already open in this process", real);
        return APR_EEXIST;
    }
    db = calloc(1, sizeof(*db));
    if (!db || !(db->home = strdup(real))) {
        free(db);
        release_home(real);
        return APR_ENOMEM;
    }
    if (opts) {
        db->opt = *opts;
    } else {
        as_db_options_default(&db->opt);
    }
    if (db->opt.busy_timeout <= 0) {
        db->opt.busy_timeout = apr_time_from_sec(5);
    }
    if (lg) {
        db->lg = *lg; /* else zeroed: silent */
    }
    db->pid = as_db_self();
    pthread_rwlock_init(&db->rw, NULL);
    pthread_mutex_init(&db->maint, NULL);
    db->last_checkpoint = apr_time_now();

    rv = open_env(db);
    if (rv != APR_SUCCESS) {
        release_home(real);
        pthread_rwlock_destroy(&db->rw);
        pthread_mutex_destroy(&db->maint);
        free(db->home);
        free(db);
        return rv;
    }
    *pdb = db;
    return APR_SUCCESS;
}

void as_db_close(as_db_t *db)
{
    if (!db) {
        return;
    }
    if (db->pid == as_db_self()) {
        atomic_set(&db->closing, 1);
        pthread_rwlock_wrlock(&db->rw);
        close_env(db);
        pthread_rwlock_unlock(&db->rw);
        release_home(db->home);
        pthread_rwlock_destroy(&db->rw);
        pthread_mutex_destroy(&db->maint);
    }
    free(db->home);
    free(db);
}

int as_db_available(as_db_t *db)
{
    return db && db->pid == as_db_self() && !atomic_get(&db->panicked) && !atomic_get(&db->closing);
}

unsigned as_db_generation(as_db_t *db)
{
    return db->generation;
}

const char *as_db_home(as_db_t *db)
{
    return db->home;
}

const as_logger_t *as_db_logger(as_db_t *db)
{
    return &db->lg;
}

DB *as_db_handle(as_db_t *db, as_db_which_t which)
{
    return db->dbs[which];
}

/* ---- maintenance ------------------------------------------------------- */

static apr_status_t try_reopen(as_db_t *db)
{
    apr_status_t rv;

    if (pthread_rwlock_trywrlock(&db->rw) != 0) {
        if (apr_time_now() - db->panic_since > apr_time_from_sec(60)) {
            return AS_DB_ESTUCK;
        }
        return AS_DB_EUNAVAIL; /* threads still inside: next time */
    }
    if (atomic_get(&db->closing)) {
        pthread_rwlock_unlock(&db->rw);
        return AS_DB_EUNAVAIL;
    }
    close_env(db);
    rv = open_env(db);
    if (rv == APR_SUCCESS) {
        db->generation++;
        atomic_set(&db->panicked, 0);
        as_log(&db->lg, AS_LOG_MARK, AS_LOG_NOTICE, APR_SUCCESS,
               "Berkeley DB environment %s reopened after recovery", db->home);
    }
    pthread_rwlock_unlock(&db->rw);
    return rv;
}

static void remove_old_logs(as_db_t *db)
{
    char **list = NULL, **f;
    int rc;

    rc = db->env->log_archive(db->env, &list, DB_ARCH_ABS);
    if (rc != 0) {
        as_log(&db->lg, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS, "log_archive in %s: %s", db->home,
               db_strerror(rc));
        return;
    }
    if (!list) {
        return;
    }
    for (f = list; *f; f++) {
        /* Several processes may remove the same file: ENOENT is fine. */
        if (unlink(*f) != 0 && errno != ENOENT) {
            as_log(&db->lg, AS_LOG_MARK, AS_LOG_WARNING, APR_FROM_OS_ERROR(errno),
                   "cannot remove old log file %s", *f);
        }
    }
    free(list);
}

apr_status_t as_db_maintain(as_db_t *db, unsigned what)
{
    apr_status_t rv = APR_SUCCESS;
    int rc, rejected = 0;

    if (!db) {
        return AS_DB_EUNAVAIL;
    }
    if (db->pid != as_db_self()) {
        return AS_DB_EFORK;
    }
    pthread_mutex_lock(&db->maint);
    if (atomic_get(&db->panicked)) {
        rv = try_reopen(db);
        if (rv != APR_SUCCESS) {
            goto out;
        }
    }
    if (pthread_rwlock_rdlock(&db->rw) != 0) {
        rv = AS_DB_EUNAVAIL;
        goto out;
    }
    if (!db->env || atomic_get(&db->closing)) {
        pthread_rwlock_unlock(&db->rw);
        rv = AS_DB_EUNAVAIL;
        goto out;
    }
    if (what & AS_DB_MAINT_FAILCHK) {
        int fd = as_db_lock_open_file(db, 0);
        if (fd >= 0) {
            int i;
            for (i = 0; i < 32; i++) { /* EBUSY: more dead mutexes to free */
                rc = db->env->failchk(db->env, 0);
                if (rc != EBUSY) {
                    break;
                }
            }
            as_db_unlock_open_file(fd);
            if (rc == DB_RUNRECOVERY) {
                as_db_mark_panicked(db,
                                    "failchk: a dead process left the environment inconsistent");
            } else if (rc != 0 && rc != EBUSY) {
                as_log(&db->lg, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS, "failchk in %s: %s",
                       db->home, db_strerror(rc));
            }
        }
        /* else: another process is opening or checking right now. */
        if (!atomic_get(&db->panicked)) {
            rc = db->env->lock_detect(db->env, 0, DB_LOCK_EXPIRE, &rejected);
            if (rc == DB_RUNRECOVERY) {
                as_db_mark_panicked(db, "lock_detect");
            } else if (rejected > 0) {
                as_log(&db->lg, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
                       "%d lock request(s) expired in %s", rejected, db->home);
            }
        }
    }
    if (!atomic_get(&db->panicked) &&
        ((what & AS_DB_MAINT_FORCE_CKP) ||
         ((what & AS_DB_MAINT_CHECKPOINT) &&
          apr_time_now() - db->last_checkpoint >= db->opt.checkpoint_interval))) {
        db->last_checkpoint = apr_time_now();
        rc = db->env->txn_checkpoint(db->env, 0, 0, 0);
        if (rc == DB_RUNRECOVERY) {
            as_db_mark_panicked(db, "checkpoint");
        } else if (rc != 0) {
            as_log(&db->lg, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS, "checkpoint in %s: %s",
                   db->home, db_strerror(rc));
        } else {
            remove_old_logs(db);
        }
    }
    pthread_rwlock_unlock(&db->rw);
    if (atomic_get(&db->panicked)) {
        rv = try_reopen(db);
    }
out:
    pthread_mutex_unlock(&db->maint);
    return rv;
}
