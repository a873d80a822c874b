/* Ping: HeartbeatInterval bounds (Status 5 with the bound), the remembered
 * folder list (an empty Ping reuses it; Status 3 without one), too many
 * folders (6), malformed requests (4), no change after the heartbeat (1), a
 * delivery by another thread waking a parked Ping (2, latency reported), a
 * change found before parking, ignored folders (other classes, never
 * synced), a vanished folder and email off (7), and a newer Ping of the
 * same device ending the parked one.  Every reply is checked with
 * validate-eas.  Heartbeats are shortened through the configuration (iot_conf). */
#include <pthread.h>
#include <sys/time.h>

#include "activesync/as_syncstate.h"
#include "activesync/as_watch.h"
#include "iotest.h"
#include "testdb.h"
#include "unit.h"
#include "watchtest.h"

TESTDB_FIXTURE()

static const char *inbox, *work, *trash;

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void setup(void)
{
    testdb_setup();
    iot_setup();
    iot_plain("", "cur", 1, "2,S");
    iot_plain("Work", "cur", 2, "2,");
    inbox = iot_folder("");
    work = iot_folder("Work");
    trash = iot_folder("Trash");
    iot_synced(db, IOT_DEV, "", inbox);
    iot_synced(db, IOT_DEV, "Work", work);
    iot_conf.ping_heartbeat_min = 1; /* short heartbeats for the tests */
    iot_conf.ping_heartbeat_max = 3540;
}

static void teardown(void)
{
    as_watch_shutdown();
    iot_teardown();
    testdb_teardown();
}

#define PING_HEAD "<Ping xmlns=\"Ping:\">"
#define PING_TAIL "</Ping>"

static const char *folder(const char *id, const char *cls)
{
    return apr_psprintf(unit_pool, "<Folder><Id>%s</Id><Class>%s</Class></Folder>", id, cls);
}

static const char *ping_xml(int hb, const char *folders)
{
    return apr_pstrcat(
        unit_pool, PING_HEAD,
        hb >= 0 ? apr_psprintf(unit_pool, "<HeartbeatInterval>%d</HeartbeatInterval>", hb) : "",
        folders ? "<Folders>" : "", folders ? folders : "", folders ? "</Folders>" : "", PING_TAIL,
        NULL);
}

static void ping(cmdtest_t *t, const iot_opts_t *o, const char *xml)
{
    iot_opts_t d = {NULL, 0, 0, 0, db};
    if (o) {
        d = *o;
        d.db = db;
    }
    iot_run(t, as_cmd_ping, "Ping", &d, xml);
    ck_assert_int_eq(t->rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(t->resp.doc);
}

static const char *S(cmdtest_t *t, const char *name)
{
    return xp(t->resp.doc, apr_psprintf(unit_pool, "/*/*[local-name()='%s']", name));
}

/* The bounds come from the request's server configuration, so two virtual
 * hosts with different ActiveSyncPingHeartbeat answer differently in one
 * process, one request after the other. */
static void bounds_of(int min, int max, int asked, const char *expect)
{
    cmdtest_t t;

    iot_conf.ping_heartbeat_min = min;
    iot_conf.ping_heartbeat_max = max;
    ping(&t, NULL, ping_xml(asked, folder(inbox, "Email")));
    ck_assert_str_eq(S(&t, "Status"), "5");
    ck_assert_str_eq(S(&t, "HeartbeatInterval"), expect);
    cmdtest_free(&t);
}

START_TEST(test_bounds_per_server)
{
    bounds_of(120, 600, 59, "120"); /* one host: 120..600 */
    bounds_of(0, 0, 59, "60");      /* another: the defaults */
    bounds_of(120, 600, 4000, "600");
    bounds_of(0, 0, 4000, "3540");
    bounds_of(300, 200, 59, "300"); /* MIN > MAX: the maximum falls back to 3540 */
}
END_TEST

START_TEST(test_bounds_and_errors)
{
    cmdtest_t t;
    const char *many = "";
    int i;

    iot_conf.ping_heartbeat_min = iot_conf.ping_heartbeat_max = 0; /* the defaults: 60..3540 */
    ping(&t, NULL, ping_xml(10, folder(inbox, "Email")));
    ck_assert_str_eq(S(&t, "Status"), "5");
    ck_assert_str_eq(S(&t, "HeartbeatInterval"), "60");
    cmdtest_free(&t);
    ping(&t, NULL, ping_xml(4000, folder(inbox, "Email")));
    ck_assert_str_eq(S(&t, "Status"), "5");
    ck_assert_str_eq(S(&t, "HeartbeatInterval"), "3540");
    cmdtest_free(&t);
    /* nothing remembered */
    ping(&t, NULL, NULL);
    ck_assert_str_eq(S(&t, "Status"), "3");
    cmdtest_free(&t);
    ping(&t, NULL, ping_xml(300, NULL));
    ck_assert_str_eq(S(&t, "Status"), "3");
    cmdtest_free(&t);
    /* too many folders */
    for (i = 0; i < AS_PING_MAX_FOLDERS + 1; i++) {
        many =
            apr_pstrcat(unit_pool, many, folder(apr_psprintf(unit_pool, "f%d", i), "Email"), NULL);
    }
    ping(&t, NULL, ping_xml(300, many));
    ck_assert_str_eq(S(&t, "Status"), "6");
    ck_assert_str_eq(S(&t, "MaxFolders"), "300");
    cmdtest_free(&t);
    /* malformed */
    ping(&t, NULL, ping_xml(300, "<Folder><Class>Email</Class></Folder>"));
    ck_assert_str_eq(S(&t, "Status"), "4");
    cmdtest_free(&t);
    ping(&t, NULL, PING_HEAD "<HeartbeatInterval>abc</HeartbeatInterval>" PING_TAIL);
    ck_assert_str_eq(S(&t, "Status"), "4");
    cmdtest_free(&t);
    ping(&t, NULL, "<MoveItems xmlns=\"Move:\"/>");
    ck_assert_str_eq(S(&t, "Status"), "4");
    cmdtest_free(&t);
    /* none of these were remembered */
    ping(&t, NULL, NULL);
    ck_assert_str_eq(S(&t, "Status"), "3");
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_no_change_and_remembered)
{
    cmdtest_t t;
    double t0 = now_ms(), el;

    ping(&t, NULL,
         ping_xml(1, apr_pstrcat(unit_pool, folder(inbox, "Email"), folder(work, "Email"), NULL)));
    el = now_ms() - t0;
    ck_assert_str_eq(S(&t, "Status"), "1");
    ck_assert_msg(el >= 950 && el < 5000, "heartbeat of 1 s took %.0f ms", el);
    cmdtest_free(&t);
    /* the empty Ping reuses heartbeat and folders */
    t0 = now_ms();
    ping(&t, NULL, NULL);
    ck_assert_str_eq(S(&t, "Status"), "1");
    ck_assert(now_ms() - t0 >= 950);
    cmdtest_free(&t);
    /* a change found before parking: answered at once */
    iot_plain("Work", "new", 3, NULL);
    t0 = now_ms();
    ping(&t, NULL, ping_xml(30, NULL)); /* new heartbeat, remembered folders */
    ck_assert_str_eq(S(&t, "Status"), "2");
    ck_assert_int_eq(xp_count(t.resp.doc, "//*[local-name()='Folder']"), 1);
    ck_assert_str_eq(xp(t.resp.doc, "//*[local-name()='Folder']"), work);
    ck_assert(now_ms() - t0 < 1000);
    cmdtest_free(&t);
}
END_TEST

typedef struct later_t {
    double done_ms;
} later_t;

static void *deliver_later(void *arg)
{
    later_t *l = arg;
    char tmp[1024], dst[1024];
    size_t len;
    char *m = mg_msg_plain(&len, 7);
    /* deliver into the parked Ping (measured: delivery-to-reply) */
    if (!watchtest_parked(1)) {
        free(m);
        return NULL; /* the Ping answers "no change" and the test fails */
    }
    snprintf(tmp, sizeof tmp, "%s/tmp/1709999999.M1P1.test", iot_mbox);
    snprintf(dst, sizeof dst, "%s/new/1709999999.M1P1.test", iot_mbox);
    mg_write(tmp, m, len, 0);
    rename(tmp, dst);
    l->done_ms = now_ms();
    free(m);
    return NULL;
}

START_TEST(test_delivery_wakes_ping)
{
    cmdtest_t t;
    later_t l = {0};
    pthread_t th;
    double t1;

    ck_assert_int_eq(pthread_create(&th, NULL, deliver_later, &l), 0);
    ping(&t, NULL,
         ping_xml(60, apr_pstrcat(unit_pool, folder(work, "Email"), folder(inbox, "Email"), NULL)));
    t1 = now_ms();
    pthread_join(th, NULL);
    ck_assert_str_eq(S(&t, "Status"), "2");
    ck_assert_int_eq(xp_count(t.resp.doc, "//*[local-name()='Folder']"), 1);
    ck_assert_str_eq(xp(t.resp.doc, "//*[local-name()='Folder']"), inbox);
    printf("# Ping: delivery-to-reply %.1f ms\n", t1 - l.done_ms);
    ck_assert(t1 - l.done_ms < 5000);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_ignored_and_gone)
{
    cmdtest_t t;
    iot_opts_t off = {NULL, 1, 0, 0, NULL};
    double t0 = now_ms();

    /* Trash was never synced, the calendar is not mail: ignored */
    ping(&t, NULL,
         ping_xml(
             1, apr_pstrcat(unit_pool, folder(trash, "Email"), folder("cal1", "Calendar"), NULL)));
    ck_assert_str_eq(S(&t, "Status"), "1");
    ck_assert(now_ms() - t0 >= 950);
    cmdtest_free(&t);
    /* email off: the mail folders are gone for the device */
    ping(&t, &off, ping_xml(1, folder(inbox, "Email")));
    ck_assert_str_eq(S(&t, "Status"), "7");
    cmdtest_free(&t);
    /* a synced folder removed on disk */
    {
        char d[900];
        snprintf(d, sizeof d, "%s/.Work", iot_mbox);
        mg_rmtree(d);
        snprintf(d, sizeof d, "%s/.Work.Sub", iot_mbox);
        mg_rmtree(d);
    }
    ping(&t, NULL,
         ping_xml(1, apr_pstrcat(unit_pool, folder(inbox, "Email"), folder(work, "Email"), NULL)));
    ck_assert_str_eq(S(&t, "Status"), "7");
    cmdtest_free(&t);
}
END_TEST

typedef struct parked_ping_t {
    cmdtest_t t;
    double ret_ms;
} parked_ping_t;

static void *park_ping(void *arg)
{
    parked_ping_t *pp = arg;
    iot_opts_t o = {NULL, 0, 0, 0, db};
    iot_run(&pp->t, as_cmd_ping, "Ping", &o, ping_xml(120, folder(inbox, "Email")));
    pp->ret_ms = now_ms();
    return NULL;
}

START_TEST(test_newer_ping_ends_parked)
{
    parked_ping_t pp;
    pthread_t th;
    cmdtest_t t;
    double t0;

    memset(&pp, 0, sizeof pp);
    ck_assert_int_eq(pthread_create(&th, NULL, park_ping, &pp), 0);
    /* the first Ping has parked (it counts in the watch module's parked
     * waits); without parking it would not wait 120 s for the newer one */
    watchtest_wait_parked(1);
    t0 = now_ms();
    ping(&t, NULL, ping_xml(1, folder(inbox, "Email")));
    pthread_join(th, NULL);
    ck_assert_str_eq(xp(pp.t.resp.doc, "/*/*[local-name()='Status']"), "1");
    printf("# Ping: a newer Ping of the device ended the parked one after %.1f ms\n",
           pp.ret_ms - t0);
    ck_assert(pp.ret_ms - t0 < 5000);
    ck_assert_str_eq(S(&t, "Status"), "1");
    cmdtest_free(&t);
    cmdtest_free(&pp.t);
}
END_TEST

/* Dropping a device's sync state forgets its remembered Ping too (the P
 * record), and only that device's; NULL drops every device of the account. */
static int raw_fn(as_db_t *d, DB_TXN *txn, void *baton)
{
    const char **kv = baton;
    DB *dbp = as_db_handle(d, AS_DB_SYNC);
    char buf[64];
    size_t len = sizeof buf;
    if (kv[1]) {
        return as_db_put(dbp, txn, kv[0], strlen(kv[0]), kv[1], strlen(kv[1]));
    }
    kv[2] = as_db_get(dbp, txn, kv[0], strlen(kv[0]), buf, &len, 0) == 0 ? "found" : NULL;
    return 0;
}

static void raw_put(const char *key)
{
    const char *kv[3] = {key, "x", NULL};
    ck_assert_int_eq(as_db_txn(db, 0, raw_fn, kv), APR_SUCCESS);
}

static int raw_has(const char *key)
{
    const char *kv[3] = {key, NULL, NULL};
    ck_assert_int_eq(as_db_txn(db, AS_DB_TXN_READ, raw_fn, kv), APR_SUCCESS);
    return kv[2] != NULL;
}

START_TEST(test_drop_device_forgets_ping)
{
    cmdtest_t t;
    const char *other = "P/" IOT_ACCT "\tOTHERDEV", *longer = "P/" IOT_ACCT "\t" IOT_DEV "X";
    const char *else_acct = "P/someone@example.com\t" IOT_DEV;

    raw_put(other);
    raw_put(longer);
    raw_put(else_acct);
    iot_plain("Work", "new", 3, NULL);
    ping(&t, NULL, ping_xml(30, apr_pstrcat(unit_pool, folder(work, "Email"), NULL)));
    ck_assert_str_eq(S(&t, "Status"), "2");
    cmdtest_free(&t);
    /* remembered: the empty Ping works */
    ping(&t, NULL, NULL);
    ck_assert_str_eq(S(&t, "Status"), "2");
    cmdtest_free(&t);
    ck_assert_int_eq(as_syncstate_drop_device(db, IOT_ACCT, IOT_DEV), APR_SUCCESS);
    ping(&t, NULL, NULL);
    ck_assert_str_eq(S(&t, "Status"), "3");
    cmdtest_free(&t);
    ck_assert(raw_has(other));
    ck_assert(raw_has(longer));
    ck_assert(raw_has(else_acct));
    ck_assert_int_eq(as_syncstate_drop_device(db, IOT_ACCT, NULL), APR_SUCCESS);
    ck_assert(!raw_has(other));
    ck_assert(!raw_has(longer));
    ck_assert(raw_has(else_acct));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("ping");
    TCase *tc = tcase_create("ping");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_bounds_and_errors);
    tcase_add_test(tc, test_bounds_per_server);
    tcase_add_test(tc, test_no_change_and_remembered);
    tcase_add_test(tc, test_delivery_wakes_ping);
    tcase_add_test(tc, test_ignored_and_gone);
    tcase_add_test(tc, test_newer_ping_ends_parked);
    tcase_add_test(tc, test_drop_device_forgets_ping);
    suite_add_tcase(s, tc);
    return s;
}
