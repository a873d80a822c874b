/* What used to be process-wide in the sync engine now travels with the
 * request's configuration (as_server_conf_t): the Sync waiter and the push
 * stop check.  Two configurations in one process do not see each other's
 * (two virtual hosts, two tests); the request's logger is its own too. */
#include <pthread.h>

#include "synctest.h"

typedef struct waiter_calls_t {
    int calls;
} waiter_calls_t;

static apr_status_t counting_waiter(void *baton, const as_request_t *req, as_store_t *st,
                                    const apr_array_header_t *folder_ids,
                                    apr_interval_time_t timeout)
{
    waiter_calls_t *c = baton;
    (void)req;
    (void)st;
    (void)folder_ids;
    (void)timeout;
    c->calls++;
    return APR_TIMEUP; /* end the wait: "no change" */
}

/* Sync the Inbox to its end and return the last key. */
static const char *synced_key(const char *inbox)
{
    st_model_t m;
    cmdtest_t t;
    int more = 1, rounds = 0;

    memset(&m, 0, sizeof(m));
    m.items = apr_hash_make(unit_pool);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "0", 0, NULL));
    st_model_apply(&m, t.resp.doc, inbox);
    cmdtest_free(&t);
    while (more && rounds++ < 10) {
        st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, m.key, 100, NULL));
        more = t.resp.doc ? st_model_apply(&m, t.resp.doc, inbox) : 0;
        cmdtest_free(&t);
    }
    return m.key;
}

static const char *wait_xml(const char *inbox, const char *key)
{
    return apr_psprintf(unit_pool,
                        "<Sync xmlns=\"AirSync:\"><Collections><Collection><SyncKey>%s</SyncKey>"
                        "<CollectionId>%s</CollectionId></Collection></Collections>"
                        "<Wait>1</Wait></Sync>",
                        key, inbox);
}

START_TEST(waiter_per_configuration)
{
    waiter_calls_t ca = {0}, cb = {0};
    const as_sync_waiter_t wa = {counting_waiter, &ca}, wb = {counting_waiter, &cb};
    const char *inbox, *key;
    cmdtest_t t;

    st_fill(st_root, 0, 2);
    inbox = st_folder_id("");
    key = synced_key(inbox);

    st_conf.sync_waiter = &wa;
    st_run(&t, as_cmd_sync, "Sync", wait_xml(inbox, key));
    ck_assert_int_eq(t.resp.http_status, 200);
    cmdtest_free(&t);
    ck_assert_int_ge(ca.calls, 1);
    ck_assert_int_eq(cb.calls, 0);

    /* another configuration, another waiter: the first is not asked */
    ca.calls = 0;
    st_conf.sync_waiter = &wb;
    st_run(&t, as_cmd_sync, "Sync", wait_xml(inbox, key));
    cmdtest_free(&t);
    ck_assert_int_ge(cb.calls, 1);
    ck_assert_int_eq(ca.calls, 0);
    st_conf.sync_waiter = NULL;
}
END_TEST

static int stop_now(void *baton)
{
    (*(int *)baton)++;
    return 1;
}

START_TEST(push_stop_from_configuration)
{
    int asked = 0;
    const char *inbox, *key;
    apr_time_t t0;
    cmdtest_t t;

    st_fill(st_root, 0, 2);
    inbox = st_folder_id("");
    key = synced_key(inbox);

    /* the configuration says "stopping": the inotify wait of a Sync with
     * Wait (a minute) ends at once with "no change" */
    st_conf.sync_waiter = NULL;
    st_conf.push_stop.fn = stop_now;
    st_conf.push_stop.baton = &asked;
    t0 = apr_time_now();
    st_run(&t, as_cmd_sync, "Sync", wait_xml(inbox, key));
    ck_assert_int_eq(t.resp.http_status, 200);
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Commands/*"), 0);
    cmdtest_free(&t);
    ck_assert(apr_time_now() - t0 < apr_time_from_sec(5));
    ck_assert_int_ge(asked, 1);
    /* the process is not stopping: only waits carrying this check end */
    ck_assert(!as_watch_stopping());
    st_conf.push_stop.fn = NULL;
    st_conf.push_stop.baton = NULL;
}
END_TEST

static int lines_a, lines_b;
static int log_on(void *baton, int level)
{
    (void)baton;
    (void)level;
    return 1;
}
static void log_count(void *baton, const char *file, int line, int level, apr_status_t rv,
                      const char *msg)
{
    (void)file;
    (void)line;
    (void)level;
    (void)rv;
    (void)msg;
    (*(int *)baton)++;
}

/* Logs a protocol error ("no Certificates element"). */
#define BAD_REQUEST "<ValidateCert xmlns=\"ValidateCert:\"><CheckCRL>1</CheckCRL></ValidateCert>"

/* A request logs through its own logger only; without one nothing is
 * printed (there is no process-wide default to fall back to). */
START_TEST(logger_per_request)
{
    const as_logger_t la = {log_on, log_count, &lines_a}, lb = {log_on, log_count, &lines_b};
    cmdtest_t t;

    lines_a = lines_b = 0;
    cmdtest_log = &la;
    cmdtest_run(&t, as_cmd_validatecert, db, "ValidateCert", ST_ACCT, ST_DEV, "TestPhone", "14.1",
                NULL, BAD_REQUEST);
    cmdtest_free(&t);
    ck_assert_int_ge(lines_a, 1);
    ck_assert_int_eq(lines_b, 0);
    lines_a = 0;
    cmdtest_log = &lb;
    cmdtest_run(&t, as_cmd_validatecert, db, "ValidateCert", ST_ACCT, ST_DEV, "TestPhone", "14.1",
                NULL, BAD_REQUEST);
    cmdtest_free(&t);
    ck_assert_int_ge(lines_b, 1);
    ck_assert_int_eq(lines_a, 0);
    cmdtest_log = NULL;
    ck_assert(!as_log_enabled(NULL, AS_LOG_EMERG));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sync_context");
    TCase *tc = tcase_create("context");
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, waiter_per_configuration);
    tcase_add_test(tc, push_stop_from_configuration);
    tcase_add_test(tc, logger_per_request);
    suite_add_tcase(s, tc);
    return s;
}
