/* The memoised sync-state reads (as_db_memo.h): the cached Sync request
 * ("same as stored?") and a collection's header read alone.  A repeated
 * request writes nothing; a change of the state by this process or another
 * (another httpd child), or its removal, is seen by the next read. */
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_db_memo.h"
#include "activesync/as_syncstate.h"
#include "testdb.h"
#include "unit.h"

#define ACCT "sm@example.org"
#define DEV  "SMDEV"
#define COLL "c0ffee01"

TESTDB_FIXTURE()

__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void)
{
    return "leak:libdb-5.3.so\n";
}

static void setup(void)
{
    testdb_setup();
    as_db_memo_clear();
}

static void teardown(void)
{
    as_db_memo_clear();
    testdb_teardown();
}

static int same_mark(const as_db_mark_t *a, const as_db_mark_t *b)
{
    return a->serial == b->serial && a->file == b->file && a->offset == b->offset;
}

static const char *cached(void)
{
    const char *xml = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(as_sync_cache_get(db, unit_pool, ACCT, DEV, &xml, &len), APR_SUCCESS);
    return xml;
}

/* fork: a child with its own handle runs fn (another httpd child). */
static void in_other_process(int (*fn)(as_db_t *own))
{
    int status;
    pid_t pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        as_db_t *own = NULL;
        int ok;
        if (as_db_open(&own, dir, NULL, NULL) != APR_SUCCESS) {
            _exit(2);
        }
        ok = fn(own);
        as_db_close(own);
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
}

static int put_b(as_db_t *own)
{
    return as_sync_cache_put(own, ACCT, DEV, "<b/>", 4) == APR_SUCCESS;
}

START_TEST(request_cache)
{
    as_db_mark_t m0, m1;

    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<a/>", 4), APR_SUCCESS);
    ck_assert_int_eq(as_db_mark(db, &m0), APR_SUCCESS);
    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<a/>", 4), APR_SUCCESS); /* compared */
    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<a/>", 4), APR_SUCCESS); /* memo */
    ck_assert_int_eq(as_db_mark(db, &m1), APR_SUCCESS);
    ck_assert(same_mark(&m0, &m1)); /* nothing written */
    ck_assert_str_eq(cached(), "<a/>");

    /* another request of the device: written */
    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<aa/>", 5), APR_SUCCESS);
    ck_assert_str_eq(cached(), "<aa/>");
    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<a/>", 4), APR_SUCCESS);
    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<a/>", 4), APR_SUCCESS);
    ck_assert_str_eq(cached(), "<a/>");

    /* another child stored another request meanwhile: ours is written again */
    in_other_process(put_b);
    ck_assert_str_eq(cached(), "<b/>");
    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<a/>", 4), APR_SUCCESS);
    ck_assert_str_eq(cached(), "<a/>");

    /* the device's state dropped (wipe, removal): written again */
    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<a/>", 4), APR_SUCCESS);
    ck_assert_int_eq(as_syncstate_drop_device(db, ACCT, DEV), APR_SUCCESS);
    ck_assert_ptr_null(cached());
    ck_assert_int_eq(as_sync_cache_put(db, ACCT, DEV, "<a/>", 4), APR_SUCCESS);
    ck_assert_str_eq(cached(), "<a/>");
}
END_TEST

static as_coll_state_t head(void)
{
    as_coll_state_t st;
    ck_assert_int_eq(as_coll_get(db, unit_pool, ACCT, DEV, COLL, 0, &st), APR_SUCCESS);
    return st;
}

static void put_state(as_db_t *d, apr_uint32_t expect_n, apr_uint32_t n, const char *token)
{
    as_coll_state_t st;
    memset(&st, 0, sizeof(st));
    st.gen = 1;
    st.n = n;
    st.token = token;
    ck_assert_int_eq(as_coll_put(d, ACCT, DEV, COLL, expect_n ? 1 : 0, expect_n, &st, NULL, 0),
                     APR_SUCCESS);
}

static int put_n3(as_db_t *own)
{
    as_coll_state_t st;
    memset(&st, 0, sizeof(st));
    st.gen = 1;
    st.n = 3;
    st.token = "t3";
    return as_coll_put(own, ACCT, DEV, COLL, 1, 2, &st, NULL, 0) == APR_SUCCESS;
}

START_TEST(collection_header)
{
    as_coll_state_t st;

    ck_assert_uint_eq(head().n, 0);
    put_state(db, 0, 1, "t1");
    st = head();
    ck_assert_uint_eq(st.n, 1);
    ck_assert_str_eq(st.token, "t1");
    st = head(); /* from the memo */
    ck_assert_uint_eq(st.n, 1);
    ck_assert_str_eq(st.token, "t1");
    ck_assert(!st.items_loaded);

    put_state(db, 1, 2, "t2");
    st = head();
    ck_assert_uint_eq(st.n, 2);
    ck_assert_str_eq(st.token, "t2");
    st = head();
    ck_assert_uint_eq(st.n, 2);

    in_other_process(put_n3);
    st = head();
    ck_assert_uint_eq(st.n, 3);
    ck_assert_str_eq(st.token, "t3");

    ck_assert_int_eq(as_coll_drop(db, ACCT, DEV, COLL), APR_SUCCESS);
    ck_assert_uint_eq(head().n, 0);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sync_memo");
    TCase *tc = tcase_create("sync_memo");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, request_cache);
    tcase_add_test(tc, collection_header);
    suite_add_tcase(s, tc);
    return s;
}
