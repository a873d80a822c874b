/* The Berkeley DB environment: open rules, transactions with retry, crash of
 * a process holding a write lock (failchk), panic and reopen with recovery,
 * and the data-directory preparation for the root parent. */
#include <errno.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>

#include <apr_strings.h>

#include "activesync/as_db.h"
#include "testdb.h"
#include "unit.h"

static char *dir;
static as_db_t *db;

/* libdb 5.3 does not free everything when a panicked environment is closed
 * (the panic tests below do that on purpose); tell LeakSanitizer. */
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void)
{
    return "leak:libdb-5.3.so\n";
}

static void setup(void)
{
    unit_pool_setup();
    dir = testdb_mkdtemp();
    db = testdb_open(dir);
}

static void teardown(void)
{
    as_db_close(db);
    db = NULL;
    testdb_rmrf(dir);
    free(dir);
    unit_pool_teardown();
}

typedef struct kv_t {
    const char *key, *val;
    char got[64];
    int calls;
    int fail_first; /* return this code on the first call */
    int rollback;
} kv_t;

static int txn_put(as_db_t *d, DB_TXN *txn, void *baton)
{
    kv_t *kv = baton;
    kv->calls++;
    if (kv->calls == 1 && kv->fail_first) {
        return kv->fail_first;
    }
    int rc = as_db_put(as_db_handle(d, AS_DB_DIRECTORY), txn, kv->key, strlen(kv->key), kv->val,
                       strlen(kv->val));
    if (rc == 0 && kv->rollback) {
        return AS_DB_ROLLBACK;
    }
    return rc;
}

static int txn_get(as_db_t *d, DB_TXN *txn, void *baton)
{
    kv_t *kv = baton;
    size_t len = sizeof(kv->got) - 1;
    int rc = as_db_get(as_db_handle(d, AS_DB_DIRECTORY), txn, kv->key, strlen(kv->key), kv->got,
                       &len, 0);
    if (rc == 0) {
        kv->got[len] = '\0';
    }
    return rc;
}

static apr_status_t put(as_db_t *d, const char *k, const char *v, unsigned flags)
{
    kv_t kv = {k, v, {0}, 0, 0, 0};
    return as_db_txn(d, flags, txn_put, &kv);
}

static const char *get(as_db_t *d, const char *k)
{
    static kv_t kv;
    memset(&kv, 0, sizeof(kv));
    kv.key = k;
    if (as_db_txn(d, AS_DB_TXN_READ, txn_get, &kv) != APR_SUCCESS) {
        return NULL;
    }
    return kv.got;
}

START_TEST(version_matches)
{
    const char *msg = "x";
    ck_assert(as_db_check_version(&msg) == APR_SUCCESS);
    ck_assert_ptr_null(msg);
}
END_TEST

START_TEST(put_get_rollback_retry)
{
    kv_t kv = {"k1", "v1", {0}, 0, 0, 0};

    ck_assert(put(db, "k1", "v1", 0) == APR_SUCCESS);
    ck_assert_str_eq(get(db, "k1"), "v1");
    ck_assert_ptr_null(get(db, "nope"));

    kv.key = "k2";
    kv.rollback = 1;
    ck_assert(as_db_txn(db, 0, txn_put, &kv) == APR_SUCCESS);
    ck_assert_ptr_null(get(db, "k2"));

    /* A deadlock on the first attempt is retried transparently. */
    memset(&kv, 0, sizeof(kv));
    kv.key = "k3";
    kv.val = "v3";
    kv.fail_first = DB_LOCK_DEADLOCK;
    ck_assert(as_db_txn(db, 0, txn_put, &kv) == APR_SUCCESS);
    ck_assert_int_eq(kv.calls, 2);
    ck_assert_str_eq(get(db, "k3"), "v3");

    /* Application errors abort and come back as they are. */
    memset(&kv, 0, sizeof(kv));
    kv.key = "k4";
    kv.val = "v4";
    kv.fail_first = AS_DIR_ENODOMAIN;
    ck_assert_int_eq(as_db_txn(db, 0, txn_put, &kv), AS_DIR_ENODOMAIN);
    ck_assert_ptr_null(get(db, "k4"));
    ck_assert_str_eq(as_db_strerror(AS_DIR_ENODOMAIN), "unknown domain");
}
END_TEST

START_TEST(one_handle_per_process)
{
    as_db_t *second = NULL;
    ck_assert_int_eq(as_db_open(&second, dir, NULL, NULL), APR_EEXIST);
    ck_assert_ptr_null(second);
}
END_TEST

START_TEST(handle_never_crosses_fork)
{
    pid_t pid = fork();
    int status;

    ck_assert(pid >= 0);
    if (pid == 0) {
        /* The inherited handle refuses; a fresh open in the child works. */
        as_db_t *own = NULL;
        int ok = put(db, "x", "y", 0) == AS_DB_EFORK &&
                 as_db_maintain(db, AS_DB_MAINT_ALL) == AS_DB_EFORK &&
                 as_db_open(&own, dir, NULL, NULL) == APR_SUCCESS &&
                 put(own, "child", "yes", 0) == APR_SUCCESS;
        as_db_close(own);
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    ck_assert_str_eq(get(db, "child"), "yes");
}
END_TEST

/* A child dies (SIGKILL) inside a transaction holding a write lock: without
 * maintenance the record stays locked; failchk releases it. */
static int txn_put_and_hang(as_db_t *d, DB_TXN *txn, void *baton)
{
    int *fd = baton;
    int rc = as_db_put(as_db_handle(d, AS_DB_DIRECTORY), txn, "locked", 6, "dead", 4);
    if (rc == 0) {
        (void)!write(*fd, "x", 1);
        pause();
    }
    return rc;
}

START_TEST(dead_lock_holder_released_by_failchk)
{
    int pfd[2], status;
    char c;
    pid_t pid;
    apr_time_t t0;

    ck_assert(put(db, "locked", "before", 0) == APR_SUCCESS);
    ck_assert(pipe(pfd) == 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        as_db_t *own = NULL;
        close(pfd[0]);
        if (as_db_open(&own, dir, NULL, NULL) != APR_SUCCESS) {
            _exit(2);
        }
        as_db_txn(own, 0, txn_put_and_hang, &pfd[1]);
        _exit(3);
    }
    close(pfd[1]);
    ck_assert_int_eq(read(pfd[0], &c, 1), 1);
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    close(pfd[0]);

    /* The dead transaction still holds its lock. */
    ck_assert_int_eq(put(db, "locked", "after", AS_DB_TXN_TRY), AS_DB_EBUSY);
    /* Maintenance aborts it; the old value is back and writable. */
    t0 = apr_time_now();
    ck_assert(as_db_maintain(db, AS_DB_MAINT_FAILCHK) == APR_SUCCESS);
    ck_assert_str_eq(get(db, "locked"), "before");
    ck_assert(put(db, "locked", "after", AS_DB_TXN_TRY) == APR_SUCCESS);
    ck_assert(apr_time_now() - t0 < apr_time_from_sec(5));
    ck_assert_int_eq(as_db_generation(db), 0);
}
END_TEST

START_TEST(panic_then_reopen_with_recovery)
{
    int i;
    ck_assert(put(db, "durable", "1", 0) == APR_SUCCESS);
    ck_assert(as_db_available(db));
    ck_assert(as_db_test_panic(db) == APR_SUCCESS);
    ck_assert_int_eq(put(db, "x", "y", 0), AS_DB_EUNAVAIL);
    ck_assert(!as_db_available(db));
    ck_assert_int_eq(put(db, "x", "y", 0), AS_DB_EUNAVAIL);
    for (i = 0; i < 3 && as_db_maintain(db, AS_DB_MAINT_FAILCHK) != APR_SUCCESS; i++) {
    }
    ck_assert(as_db_available(db));
    ck_assert_int_eq(as_db_generation(db), 1);
    ck_assert_str_eq(get(db, "durable"), "1");
    ck_assert(put(db, "x", "y", 0) == APR_SUCCESS);
}
END_TEST

START_TEST(panic_seen_by_other_process)
{
    /* The parent panics the environment; a child that had it open notices
     * and reopens on its next maintenance. */
    int p2c[2], c2p[2], status;
    char c;
    pid_t pid;

    ck_assert(pipe(p2c) == 0 && pipe(c2p) == 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        as_db_t *own = NULL;
        int ok, i;
        if (as_db_open(&own, dir, NULL, NULL) != APR_SUCCESS) {
            _exit(2);
        }
        ok = put(own, "c1", "1", 0) == APR_SUCCESS;
        (void)!write(c2p[1], "r", 1);
        (void)!read(p2c[0], &c, 1); /* parent panicked the env */
        ok = ok && put(own, "c2", "2", 0) == AS_DB_EUNAVAIL;
        for (i = 0; i < 1500 && as_db_maintain(own, AS_DB_MAINT_FAILCHK) != APR_SUCCESS; i++) {
            usleep(20000);
        }
        ok = ok && put(own, "c3", "3", 0) == APR_SUCCESS;
        ok = ok && get(own, "c1") && !strcmp(get(own, "c1"), "1");
        as_db_close(own);
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(read(c2p[0], &c, 1), 1);
    ck_assert(as_db_test_panic(db) == APR_SUCCESS);
    ck_assert_int_eq(put(db, "p", "1", 0), AS_DB_EUNAVAIL);
    ck_assert(as_db_maintain(db, AS_DB_MAINT_FAILCHK) == APR_SUCCESS);
    ck_assert_int_eq(write(p2c[1], "g", 1), 1);
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    ck_assert_str_eq(get(db, "c3"), "3");
}
END_TEST

START_TEST(checkpoint_and_log_removal)
{
    int i;
    char key[32];
    for (i = 0; i < 200; i++) {
        sprintf(key, "k%d", i);
        ck_assert(put(db, key, "some value", 0) == APR_SUCCESS);
    }
    ck_assert(as_db_maintain(db, AS_DB_MAINT_ALL | AS_DB_MAINT_FORCE_CKP) == APR_SUCCESS);
    ck_assert(as_db_maintain(db, AS_DB_MAINT_ALL) == APR_SUCCESS);
    ck_assert_str_eq(get(db, "k199"), "some value");
}
END_TEST

START_TEST(prepare_home_gives_files_to_user)
{
    const char *msg = NULL;
    const char *home = apr_pstrcat(unit_pool, dir, "/sub/data", NULL);
    const char *f = apr_pstrcat(unit_pool, home, "/root-owned", NULL);
    struct stat st;
    FILE *fp;

    if (geteuid() != 0) {
        return; /* needs root to chown */
    }
    ck_assert(as_db_prepare_home(unit_pool, home, (uid_t)-1, (gid_t)-1, &msg) == APR_SUCCESS);
    fp = fopen(f, "w");
    ck_assert_ptr_nonnull(fp);
    fclose(fp);
    ck_assert(as_db_prepare_home(unit_pool, home, 65534, 65534, &msg) == APR_SUCCESS);
    ck_assert(stat(home, &st) == 0);
    ck_assert_int_eq(st.st_uid, 65534);
    ck_assert_int_eq(st.st_mode & 0777, 0750);
    ck_assert(stat(f, &st) == 0);
    ck_assert_int_eq(st.st_uid, 65534);
    ck_assert_int_eq(st.st_gid, 65534);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("env");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, version_matches);
    tcase_add_test(tc, put_get_rollback_retry);
    tcase_add_test(tc, one_handle_per_process);
    tcase_add_test(tc, handle_never_crosses_fork);
    tcase_add_test(tc, dead_lock_holder_released_by_failchk);
    tcase_add_test(tc, panic_then_reopen_with_recovery);
    tcase_add_test(tc, panic_seen_by_other_process);
    tcase_add_test(tc, checkpoint_and_log_removal);
    tcase_add_test(tc, prepare_home_gives_files_to_user);
    suite_add_tcase(s, tc);
    return s;
}
