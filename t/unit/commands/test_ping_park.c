/* What a parked Ping keeps (issue 4: "a parked Ping costs a thread and a
 * few kilobytes"): PARKED devices, each in its own thread with its own
 * request pool, park a Ping on INBOX after a warm-up Ping of the same
 * thread (so per-thread first-use state -- libxml2, OpenSSL, malloc's
 * thread cache -- is paid before the measurement).  While all are parked
 * the heap in use (mallinfo2) may exceed the level before by at most
 * PARK_HEAP_MAX bytes per parked Ping: the watch registration, the ticket
 * and the folder ids, not the decoded request document (freed before
 * parking) nor the parse and probe work (a scratch pool of its own).  Then
 * one delivery wakes them all with Status 2.  The figures are printed.
 * Measured: about 300 bytes each with malloc's per-thread cache off
 * (GLIBC_TUNABLES=glibc.malloc.tcache_count=0), about 1.1 KB with it on
 * (mallinfo2 counts chunks cached per thread as in use); 6 KB when the
 * request document was kept while parked.
 *
 * The same for a Sync with Wait (test_parked_sync_heap): after a warm-up
 * Ping and a Sync without Wait of the same thread, PARKED devices park a
 * Sync of INBOX (key current, nothing to send) whose options ask for MIME;
 * the heap may grow by at most SYNC_HEAP_MAX bytes per parked Sync: the
 * collection's id, key and options, the ticket and the watch, not the
 * request documents, the store nor the round's work and reply; the same
 * after a wake-up without a change (a dotfile in new/: each lists INBOX,
 * stores the new token and parks again).  Then a newer request of one
 * device ends its Sync with the empty reply, and one delivery wakes the
 * others with the Add, under the next key, in MIME (the options survived
 * parking).  Measured: about 290 bytes each with the thread cache off,
 * 0.9-1.4 KB with it on; 12-13 KB when a parked Sync kept its request
 * documents, store and request-pool work. */
#include <malloc.h>
#include <pthread.h>
#include <sys/time.h>

#include "activesync/as_mime.h"
#include "activesync/as_syncstate.h"
#include "activesync/as_watch.h"
#include "iotest.h"
#include "testdb.h"
#include "unit.h"
#include "watchtest.h"

TESTDB_FIXTURE()

#define PARKED        32
#define PARK_HEAP_MAX 2048
#define SYNC_HEAP_MAX 2048

static const char *inbox;

typedef struct parker_t {
    int n;
    char dev[32];
    apr_pool_t *pool;
    cmdtest_t warm, warm_sync, park;
    int sync;   /* park a Sync with Wait instead of a Ping */
    int warmed; /* under mu */
} parker_t;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t go = PTHREAD_COND_INITIALIZER, warm = PTHREAD_COND_INITIALIZER;
static int may_park;

/* A pool whose memory goes back to malloc when destroyed (its own
 * allocator): the test's own lookups then leave the figure alone. */
static apr_pool_t *own_pool(void)
{
    apr_allocator_t *a = NULL;
    apr_pool_t *p = NULL;
    ck_assert_int_eq(apr_allocator_create(&a), APR_SUCCESS);
    ck_assert_int_eq(apr_pool_create_ex(&p, NULL, NULL, a), APR_SUCCESS);
    apr_allocator_owner_set(a, p);
    return p;
}

static size_t heap_in_use(void)
{
    struct mallinfo2 mi = mallinfo2();
    return mi.uordblks + mi.hblkhd;
}

/* iot_run for another device, in the thread's own pool. */
static void run_ping(parker_t *pk, cmdtest_t *t, int heartbeat)
{
    const char *xml =
        apr_psprintf(pk->pool,
                     "<Ping xmlns=\"Ping:\"><HeartbeatInterval>%d</HeartbeatInterval><Folders>"
                     "<Folder><Id>%s</Id><Class>Email</Class></Folder></Folders></Ping>",
                     heartbeat, inbox);
    memset(t, 0, sizeof(*t));
    t->line.cmd = "Ping";
    t->line.device_id = t->line.device_key = pk->dev;
    t->line.device_type = "TestPhone";
    t->req.pool = pk->pool;
    t->req.account = IOT_ACCT;
    t->req.line = &t->line;
    t->req.protocol_version = "14.1";
    t->req.body = cmdtest_tree(xml);
    t->req.conf = &iot_conf;
    t->req.db = db;
    t->resp.http_status = 200;
    t->resp.headers = apr_table_make(pk->pool, 4);
    t->rv = as_cmd_ping(&t->req, &t->resp);
}

/* Sync of INBOX at the key iot_synced() stored, in MIME; wait_min 0: no Wait. */
static void run_sync(parker_t *pk, cmdtest_t *t, int wait_min)
{
    const char *xml = apr_psprintf(
        pk->pool,
        "<Sync xmlns=\"AirSync:\" xmlns:b=\"AirSyncBase:\"><Collections><Collection>"
        "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId><Options>"
        "<FilterType>0</FilterType><MIMESupport>2</MIMESupport><b:BodyPreference><b:Type>4"
        "</b:Type><b:TruncationSize>200000</b:TruncationSize></b:BodyPreference></Options>"
        "</Collection></Collections>%s</Sync>",
        as_synckey_format(pk->pool, 5, 1), inbox,
        wait_min ? apr_psprintf(pk->pool, "<Wait>%d</Wait>", wait_min) : "");
    memset(t, 0, sizeof(*t));
    t->line.cmd = "Sync";
    t->line.device_id = t->line.device_key = pk->dev;
    t->line.device_type = "TestPhone";
    t->req.pool = pk->pool;
    t->req.account = IOT_ACCT;
    t->req.line = &t->line;
    t->req.protocol_version = "14.1";
    t->req.body = cmdtest_tree(xml);
    t->req.conf = &iot_conf;
    t->req.db = db;
    t->resp.http_status = 200;
    t->resp.headers = apr_table_make(pk->pool, 4);
    t->rv = as_cmd_sync(&t->req, &t->resp);
}

static void *parker(void *arg)
{
    parker_t *pk = arg;
    run_ping(pk, &pk->warm, 1); /* parks 1 s, answers 1 */
    if (pk->sync) {
        run_sync(pk, &pk->warm_sync, 0); /* nothing to send: the empty reply */
    }
    pthread_mutex_lock(&mu);
    pk->warmed = 1;
    pthread_cond_broadcast(&warm);
    while (!may_park) {
        pthread_cond_wait(&go, &mu);
    }
    pthread_mutex_unlock(&mu);
    if (pk->sync) {
        run_sync(pk, &pk->park, 1); /* Wait 1 minute: only a change ends it here */
    } else {
        run_ping(pk, &pk->park, 600);
    }
    return NULL;
}

/* Start PARKED parkers, warm them up, let them park; the heap in use per
 * parked request (all parked, past their last look). */
static double park_all(parker_t *pk, pthread_t *th, int sync, as_watch_stats_t *ws,
                       size_t *before_out)
{
    size_t before, parked;
    int i;

    for (i = 0; i < PARKED; i++) {
        pk[i].n = i;
        pk[i].sync = sync;
        pk[i].warmed = 0;
        snprintf(pk[i].dev, sizeof pk[i].dev, "PARKDEV%02d", i);
        iot_synced(db, pk[i].dev, "", inbox);
        ck_assert_int_eq(apr_pool_create(&pk[i].pool, NULL), APR_SUCCESS);
    }
    may_park = 0;
    for (i = 0; i < PARKED; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, parker, &pk[i]), 0);
    }
    for (i = 0; i < PARKED; i++) {
        pthread_mutex_lock(&mu);
        while (!pk[i].warmed) {
            pthread_cond_wait(&warm, &mu);
        }
        pthread_mutex_unlock(&mu);
        ck_assert_int_eq(pk[i].warm.rv, APR_SUCCESS);
        ck_assert_str_eq(xp(pk[i].warm.resp.doc, "/*/*[local-name()='Status']"), "1");
        cmdtest_free(&pk[i].warm);
        if (sync) {
            ck_assert_int_eq(pk[i].warm_sync.rv, APR_SUCCESS);
            ck_assert_ptr_null(pk[i].warm_sync.resp.doc);
            cmdtest_free(&pk[i].warm_sync);
        }
    }
    before = heap_in_use();
    pthread_mutex_lock(&mu);
    may_park = 1;
    pthread_cond_broadcast(&go);
    pthread_mutex_unlock(&mu);
    watchtest_wait_parked(PARKED); /* all past their last look */
    as_watch_stats(ws);
    ck_assert_int_eq(ws->waits, PARKED);
    parked = heap_in_use();
    *before_out = before;
    return ((double)parked - (double)before) / PARKED;
}

static void setup(void)
{
    as_mime_init(); /* once per process before the threads (as_mime.h) */
    testdb_setup();
    iot_setup();
    iot_plain("", "cur", 1, "2,S");
    inbox = iot_folder("");
    iot_conf.ping_heartbeat_min = 1; /* short heartbeats for the tests */
    iot_conf.ping_heartbeat_max = 3540;
}

static void teardown(void)
{
    as_watch_shutdown();
    iot_teardown();
    testdb_teardown();
}

START_TEST(test_parked_ping_heap)
{
    static parker_t pk[PARKED];
    pthread_t th[PARKED];
    as_watch_stats_t ws;
    size_t before;
    double per = park_all(pk, th, 0, &ws, &before);
    int i;

    fprintf(stderr,
            "# %d parked Pings: heap in use %+.0f bytes each (watch registrations %zu bytes "
            "in all; bound %d)\n",
            PARKED, per, (size_t)ws.bytes, PARK_HEAP_MAX);
    ck_assert_msg(per <= PARK_HEAP_MAX, "a parked Ping holds %.0f bytes of heap", per);

    iot_plain("", "new", 2, NULL); /* wakes every one */
    for (i = 0; i < PARKED; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(pk[i].park.rv, APR_SUCCESS);
        ck_assert_str_eq(xp(pk[i].park.resp.doc, "/*/*[local-name()='Status']"), "2");
        ck_assert_str_eq(xp(pk[i].park.resp.doc, "//*[local-name()='Folder']"), inbox);
        if (i == 0) {
            cmdtest_validate(pk[i].park.resp.doc);
        }
        cmdtest_free(&pk[i].park);
        apr_pool_destroy(pk[i].pool);
    }
}
END_TEST

START_TEST(test_parked_sync_heap)
{
    static parker_t pk[PARKED];
    pthread_t th[PARKED];
    as_watch_stats_t ws;
    as_watch_ticket_t *t = NULL;
    const char *next = as_synckey_format(unit_pool, 5, 2);
    size_t before;
    double per = park_all(pk, th, 1, &ws, &before);
    int i;

    fprintf(stderr,
            "# %d parked Syncs (Wait): heap in use %+.0f bytes each (watch registrations %zu "
            "bytes in all; bound %d)\n",
            PARKED, per, (size_t)ws.bytes, SYNC_HEAP_MAX);
    ck_assert_msg(per <= SYNC_HEAP_MAX, "a parked Sync holds %.0f bytes of heap", per);

    /* a wake-up without a change (a file the store ignores: the folder token
     * moves, nothing to send): each lists INBOX, stores the new token and
     * parks again as light as before */
    {
        char path[900];
        const char *token = NULL;
        apr_pool_t *tp = own_pool();
        as_store_t *st;
        FILE *f;
        snprintf(path, sizeof path, "%s/new/.ignored", iot_mbox);
        ck_assert_ptr_nonnull(f = fopen(path, "w"));
        fclose(f);
        ck_assert_int_eq(as_maildir_open(tp, iot_mbox, IOT_ACCT, NULL, 0, NULL, &st), APR_SUCCESS);
        ck_assert_int_eq(as_store_folder_token(st, inbox, tp, &token), APR_SUCCESS);
        for (i = 0; i < PARKED; i++) {
            as_coll_state_t cs;
            int k;
            for (k = 0; k < 1000; k++) {
                ck_assert_int_eq(as_coll_get(db, tp, IOT_ACCT, pk[i].dev, inbox, 0, &cs),
                                 APR_SUCCESS);
                if (cs.token && !strcmp(cs.token, token)) {
                    break;
                }
                usleep(10000);
            }
            ck_assert_msg(cs.token && !strcmp(cs.token, token), "%s did not look", pk[i].dev);
        }
        apr_pool_destroy(tp);
        watchtest_wait_parked(PARKED); /* all parked again */
        as_watch_stats(&ws);
        ck_assert_int_eq(ws.waits, PARKED);
        per = ((double)heap_in_use() - (double)before) / PARKED;
        fprintf(stderr, "# parked again after a wake-up without a change: %+.0f bytes each\n", per);
        ck_assert_msg(per <= SYNC_HEAP_MAX, "a Sync parked again holds %.0f bytes", per);
    }

    /* a newer request of the device: its Sync ends with the empty reply */
    ck_assert_int_eq(as_watch_claim(unit_pool, as_db_home(db), IOT_ACCT, pk[0].dev, &t),
                     APR_SUCCESS);
    pthread_join(th[0], NULL);
    ck_assert_int_eq(pk[0].park.rv, APR_SUCCESS);
    ck_assert_int_eq(pk[0].park.resp.http_status, 200);
    ck_assert_ptr_null(pk[0].park.resp.doc);
    ck_assert_ptr_null(pk[0].park.req.body); /* freed by the command */
    cmdtest_free(&pk[0].park);
    apr_pool_destroy(pk[0].pool);

    iot_plain("", "new", 3, NULL); /* wakes the others */
    for (i = 1; i < PARKED; i++) {
        xmlDocPtr d;
        pthread_join(th[i], NULL);
        d = pk[i].park.resp.doc;
        ck_assert_int_eq(pk[i].park.rv, APR_SUCCESS);
        ck_assert_ptr_nonnull(d);
        ck_assert_str_eq(xp(d, "//*[local-name()='Collection']/*[local-name()='Status']"), "1");
        ck_assert_str_eq(xp(d, "//*[local-name()='Collection']/*[local-name()='SyncKey']"), next);
        ck_assert_str_eq(xp(d, "//*[local-name()='Collection']/*[local-name()='CollectionId']"),
                         inbox);
        ck_assert_str_eq(xp(d, "count(//*[local-name()='Commands']/*[local-name()='Add'])"), "1");
        ck_assert_str_eq(xp(d, "//*[local-name()='Add']//*[local-name()='Body']/"
                               "*[local-name()='Type']"),
                         "4");
        if (i == 1) {
            cmdtest_validate(d);
        }
        cmdtest_free(&pk[i].park);
        apr_pool_destroy(pk[i].pool);
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("ping_park");
    TCase *tc = tcase_create("park");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_parked_ping_heap);
    tcase_add_test(tc, test_parked_sync_heap);
    suite_add_tcase(s, tc);
    return s;
}
