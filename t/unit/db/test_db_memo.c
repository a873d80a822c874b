/* The memo of read results (as_db_memo.h): the mark stays while nothing is
 * written and moves with every committed write, of this process or
 * another; a memo hits only under the mark it was recorded at, before its
 * expiry, and never after a reopen.  The cost of a mark against a read
 * transaction is reported, not asserted. */
#include <sys/wait.h>
#include <unistd.h>

#include "activesync/as_db_memo.h"
#include "testdb.h"
#include "unit.h"

static char *dir;
static as_db_t *db;

__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void)
{
    return "leak:libdb-5.3.so\n";
}

static void setup(void)
{
    db = testdb_fixture_open(&dir);
    as_db_memo_clear();
}

static void teardown(void)
{
    as_db_memo_clear();
    testdb_fixture_close(&db, &dir);
}

typedef struct kv_t {
    const char *key, *val;
    char got[64];
} kv_t;

static int txn_put(as_db_t *d, DB_TXN *txn, void *baton)
{
    kv_t *kv = baton;
    return as_db_put(as_db_handle(d, AS_DB_DIRECTORY), txn, kv->key, strlen(kv->key), kv->val,
                     strlen(kv->val));
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
    return rc == DB_NOTFOUND ? 0 : rc;
}

static apr_status_t put(as_db_t *d, const char *k, const char *v)
{
    kv_t kv = {k, v, {0}};
    return as_db_txn(d, 0, txn_put, &kv);
}

static void read_one(as_db_t *d, const char *k)
{
    kv_t kv = {k, NULL, {0}};
    ck_assert_int_eq(as_db_txn(d, AS_DB_TXN_READ, txn_get, &kv), APR_SUCCESS);
}

static int same_mark(const as_db_mark_t *a, const as_db_mark_t *b)
{
    return a->serial == b->serial && a->file == b->file && a->offset == b->offset;
}

START_TEST(mark_moves_with_writes_only)
{
    as_db_mark_t m0, m1, m2;

    ck_assert_int_eq(put(db, "a", "1"), APR_SUCCESS);
    ck_assert_int_eq(as_db_mark(db, &m0), APR_SUCCESS);
    ck_assert(m0.serial != 0);
    read_one(db, "a");
    read_one(db, "missing");
    ck_assert_int_eq(as_db_mark(db, &m1), APR_SUCCESS);
    ck_assert(same_mark(&m0, &m1));
    ck_assert_int_eq(put(db, "a", "2"), APR_SUCCESS);
    ck_assert_int_eq(as_db_mark(db, &m2), APR_SUCCESS);
    ck_assert(!same_mark(&m1, &m2));
    ck_assert_int_eq(as_db_mark(NULL, &m2), AS_DB_EUNAVAIL);
    ck_assert(m2.serial == 0);
}
END_TEST

START_TEST(memo_hits_under_its_mark)
{
    as_db_mark_t m;
    char val[16];
    size_t len = sizeof(val);
    apr_time_t now = apr_time_now();

    ck_assert_int_eq(as_db_mark(db, &m), APR_SUCCESS);
    as_db_memo_put(&m, "Kone", 4, "value", 5, 0);
    ck_assert(as_db_memo_get(db, "Kone", 4, val, &len, now));
    ck_assert_uint_eq(len, 5);
    ck_assert_int_eq(memcmp(val, "value", 5), 0);
    ck_assert(as_db_memo_equals(db, "Kone", 4, "value", 5, now));
    ck_assert(!as_db_memo_equals(db, "Kone", 4, "valuf", 5, now));
    ck_assert(!as_db_memo_equals(db, "Kone", 4, "valu", 4, now));
    len = 3; /* too small a buffer: no hit */
    ck_assert(!as_db_memo_get(db, "Kone", 4, val, &len, now));
    len = sizeof(val);
    ck_assert(!as_db_memo_get(db, "Ktwo", 4, val, &len, now));

    /* a read changes nothing */
    read_one(db, "x");
    ck_assert(as_db_memo_get(db, "Kone", 4, val, &len, now));

    /* expiry */
    as_db_memo_put(&m, "Kexp", 4, "e", 1, now + 10);
    ck_assert(as_db_memo_equals(db, "Kexp", 4, "e", 1, now + 9));
    ck_assert(!as_db_memo_equals(db, "Kexp", 4, "e", 1, now + 10));

    /* any write: every memo is stale */
    ck_assert_int_eq(put(db, "unrelated", "1"), APR_SUCCESS);
    len = sizeof(val);
    ck_assert(!as_db_memo_get(db, "Kone", 4, val, &len, now));
    ck_assert(!as_db_memo_equals(db, "Kexp", 4, "e", 1, now));
}
END_TEST

/* The mark taken before a read that a write overtook: the memo recorded
 * under it never hits. */
START_TEST(memo_recorded_under_an_old_mark_misses)
{
    as_db_mark_t before;
    ck_assert_int_eq(as_db_mark(db, &before), APR_SUCCESS);
    read_one(db, "k");
    ck_assert_int_eq(put(db, "k", "new"), APR_SUCCESS); /* commits after the read */
    as_db_memo_put(&before, "Kk", 2, "old", 3, 0);
    ck_assert(!as_db_memo_equals(db, "Kk", 2, "old", 3, apr_time_now()));
}
END_TEST

/* A write by another process (another httpd child, the admin tool). */
START_TEST(write_by_other_process_seen)
{
    as_db_mark_t m;
    int status;
    pid_t pid;

    ck_assert_int_eq(as_db_mark(db, &m), APR_SUCCESS);
    as_db_memo_put(&m, "Kp", 2, "v", 1, 0);
    ck_assert(as_db_memo_equals(db, "Kp", 2, "v", 1, apr_time_now()));
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        as_db_t *own = NULL;
        if (as_db_open(&own, dir, NULL, NULL) != APR_SUCCESS) {
            _exit(2);
        }
        status = put(own, "from-child", "1") == APR_SUCCESS ? 0 : 1;
        as_db_close(own);
        _exit(status);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    ck_assert(!as_db_memo_equals(db, "Kp", 2, "v", 1, apr_time_now()));
}
END_TEST

/* After a panic and the reopen (recovery may cut the log back), nothing
 * recorded before matches. */
START_TEST(reopen_forgets)
{
    as_db_mark_t m, m2;
    int i;

    ck_assert_int_eq(as_db_mark(db, &m), APR_SUCCESS);
    as_db_memo_put(&m, "Kr", 2, "v", 1, 0);
    ck_assert(as_db_test_panic(db) == APR_SUCCESS);
    ck_assert(!as_db_memo_equals(db, "Kr", 2, "v", 1, apr_time_now()));
    for (i = 0; i < 3 && as_db_maintain(db, AS_DB_MAINT_FAILCHK) != APR_SUCCESS; i++) {
    }
    ck_assert(as_db_available(db));
    ck_assert_int_eq(as_db_mark(db, &m2), APR_SUCCESS);
    ck_assert(m2.serial != m.serial);
    ck_assert(!as_db_memo_equals(db, "Kr", 2, "v", 1, apr_time_now()));
}
END_TEST

START_TEST(bounds)
{
    static char big[AS_DB_MEMO_VAL_MAX + 1];
    as_db_mark_t m;
    apr_time_t now = apr_time_now();

    ck_assert_int_eq(as_db_mark(db, &m), APR_SUCCESS);
    as_db_memo_put(&m, "Kbig", 4, big, sizeof(big), 0);
    ck_assert(!as_db_memo_equals(db, "Kbig", 4, big, sizeof(big), now));
    as_db_memo_put(&m, "Kbig", 4, big, sizeof(big) - 1, 0);
    ck_assert(as_db_memo_equals(db, "Kbig", 4, big, sizeof(big) - 1, now));
    as_db_memo_put(&m, "", 0, "v", 1, 0);
    ck_assert(!as_db_memo_equals(db, "", 0, "v", 1, now));
}
END_TEST

START_TEST(cost_reported)
{
    as_db_mark_t m;
    apr_time_t t0, t1, t2;
    int i, n = 20000;

    ck_assert_int_eq(put(db, "a", "1"), APR_SUCCESS);
    t0 = apr_time_now();
    for (i = 0; i < n; i++) {
        as_db_mark(db, &m);
    }
    t1 = apr_time_now();
    for (i = 0; i < n; i++) {
        read_one(db, "a");
    }
    t2 = apr_time_now();
    fprintf(stderr, "# as_db_mark %.2f us, a read transaction of one get %.2f us\n",
            (double)(t1 - t0) / n, (double)(t2 - t1) / n);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("db_memo");
    TCase *tc = tcase_create("db_memo");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, mark_moves_with_writes_only);
    tcase_add_test(tc, memo_hits_under_its_mark);
    tcase_add_test(tc, memo_recorded_under_an_old_mark_misses);
    tcase_add_test(tc, write_by_other_process_seen);
    tcase_add_test(tc, reopen_forgets);
    tcase_add_test(tc, bounds);
    tcase_add_test(tc, cost_reported);
    suite_add_tcase(s, tc);
    return s;
}
