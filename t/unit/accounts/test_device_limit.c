/* The device limit (ActiveSyncMaxDevices) at the provisioning gate: the
 * refusal a device sees per protocol version and command, that no record is
 * written for it, that existing devices keep working, and that concurrent
 * first contacts of one account never exceed the limit. */
#include <pthread.h>

#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_device.h"
#include "activesync/as_directory.h"
#include "activesync/as_provision.h"
#include "cmdtest.h"
#include "testdb.h"
#include "unit.h"

#define ACCT "ann@example.org"

TESTDB_FIXTURE()

static void setup(void)
{
    const char *err = NULL;
    testdb_setup();
    ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
}

static as_gate_t gate_in(apr_pool_t *p, const char *account, const char *dev, const char *version,
                         const char *cmd, unsigned max)
{
    as_gate_in_t in;
    as_gate_t out;
    memset(&in, 0, sizeof(in));
    in.account = account;
    in.device_key = dev;
    in.device_type = "TestPhone";
    in.protocol_version = version;
    in.command = cmd;
    in.mode = AS_PROVISIONING_OFF; /* the limit, not provisioning, is under test */
    in.max_devices = max;
    ck_assert(as_provision_gate(db, p, &in, &out) == APR_SUCCESS);
    return out;
}

static as_gate_t gate(const char *dev, const char *version, const char *cmd, unsigned max)
{
    return gate_in(unit_pool, ACCT, dev, version, cmd, max);
}

/* The reply's root name and its top-level Status. */
static void expect_status_doc(as_gate_t *g, const char *root, int status)
{
    xmlNodePtr r, n;
    xmlChar *content;
    char num[16];
    ck_assert_ptr_nonnull(g->doc);
    cmdtest_validate(g->doc);
    r = xmlDocGetRootElement(g->doc);
    ck_assert_str_eq((const char *)r->name, root);
    for (n = r->children; n && xmlStrcmp(n->name, BAD_CAST "Status"); n = n->next) {
    }
    ck_assert_ptr_nonnull(n);
    snprintf(num, sizeof(num), "%d", status);
    content = xmlNodeGetContent(n);
    ck_assert_str_eq((const char *)content, num);
    xmlFree(content);
    xmlFreeDoc(g->doc);
    g->doc = NULL;
}

static int has_device(const char *account, const char *dev)
{
    as_device_t d;
    apr_status_t rv = as_device_get(db, unit_pool, account, dev, &d, NULL);
    ck_assert(rv == APR_SUCCESS || rv == AS_DEV_ENODEVICE);
    return rv == APR_SUCCESS;
}

static int ndevices(const char *scope)
{
    apr_array_header_t *arr;
    ck_assert(as_device_list(db, unit_pool, scope, &arr, NULL) == APR_SUCCESS);
    return arr->nelts;
}

START_TEST(fourth_device_refused)
{
    const char *err = NULL;
    as_gate_t g;
    int i;

    for (i = 1; i <= 3; i++) {
        g = gate(apr_psprintf(unit_pool, "DEV%d", i), "14.1", "FolderSync", 3);
        ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    }
    /* 14.x: the common status 177 in the command's own reply, HTTP 200 */
    g = gate("DEV4", "14.1", "FolderSync", 3);
    ck_assert_int_eq(g.verdict, AS_GATE_DEVICE_LIMIT);
    ck_assert_int_eq(g.eas_status, AS_STATUS_MAX_DEVICES);
    ck_assert_int_eq(g.http_status, 200);
    ck_assert_ptr_nonnull(strstr(g.reason, "3 devices"));
    expect_status_doc(&g, "FolderSync", 177);
    ck_assert(!has_device(ACCT, "DEV4")); /* no record for a refused device */
    /* Provision: its own reply, Provision/Status 177 */
    g = gate("DEV4", "16.1", "Provision", 3);
    ck_assert_int_eq(g.verdict, AS_GATE_DEVICE_LIMIT);
    ck_assert_int_eq(g.http_status, 200);
    expect_status_doc(&g, "Provision", 177);
    /* 12.1 has no common status codes: 403 without a body */
    g = gate("DEV4", "12.1", "FolderSync", 3);
    ck_assert_int_eq(g.verdict, AS_GATE_DEVICE_LIMIT);
    ck_assert_int_eq(g.http_status, 403);
    ck_assert_ptr_null(g.doc);
    /* a reply without a top-level Status: 403 too */
    g = gate("DEV4", "14.1", "MeetingResponse", 3);
    ck_assert_int_eq(g.http_status, 403);
    ck_assert_ptr_null(g.doc);
    ck_assert_int_eq(ndevices(ACCT), 3);

    /* the existing devices keep working, under any command */
    for (i = 1; i <= 3; i++) {
        g = gate(apr_psprintf(unit_pool, "DEV%d", i), "14.1", "Sync", 3);
        ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    }
    /* another account has its own count */
    g = gate_in(unit_pool, "bob@example.org", "DEV4", "14.1", "FolderSync", 3);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    /* removing a device frees a place */
    ck_assert(as_svc_device_remove(db, unit_pool, ACCT, "DEV2", &err) == APR_SUCCESS);
    g = gate("DEV4", "14.1", "FolderSync", 3);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    ck_assert(has_device(ACCT, "DEV4"));
    g = gate("DEV5", "14.1", "FolderSync", 3);
    ck_assert_int_eq(g.verdict, AS_GATE_DEVICE_LIMIT);
    if (g.doc) {
        xmlFreeDoc(g.doc);
    }
    /* a lower limit refuses new devices only; 0 is no limit */
    g = gate("DEV1", "14.1", "Sync", 1);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    for (i = 10; i < 20; i++) {
        g = gate(apr_psprintf(unit_pool, "NEW%d", i), "14.1", "FolderSync", 0);
        ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    }
    ck_assert_int_eq(ndevices(ACCT), 13);
}
END_TEST

static int count_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    (void)key;
    (void)klen;
    (void)val;
    (void)vlen;
    (*(int *)baton)++;
    return 0;
}

static int txn_nlocks(as_db_t *d, DB_TXN *txn, void *baton)
{
    *(int *)baton = 0;
    return as_db_iterate(as_db_handle(d, AS_DB_DEVICES), txn, "c:", 2, count_cb, baton);
}

/* creation lock records ("c:") in devices.db */
static int nlocks(void)
{
    int n = 0;
    ck_assert(as_db_txn(db, AS_DB_TXN_READ, txn_nlocks, &n) == APR_SUCCESS);
    return n;
}

/* The creation lock records go with the account or the domain. */
START_TEST(removal_leaves_no_lock_record)
{
    const char *err = NULL;
    as_gate_t g = gate("DEV1", "14.1", "FolderSync", 3);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    g = gate_in(unit_pool, "bob@example.org", "DEV1", "14.1", "FolderSync", 3);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    ck_assert_int_eq(nlocks(), 2);
    ck_assert(as_svc_account_remove(db, unit_pool, ACCT, &err) == APR_SUCCESS);
    ck_assert_int_eq(nlocks(), 1);
    ck_assert(as_svc_domain_remove(db, unit_pool, "example.org", 1, &err) == APR_SUCCESS);
    ck_assert_int_eq(nlocks(), 0);
    ck_assert_int_eq(ndevices(NULL), 0);
}
END_TEST

/* ---- concurrency ---------------------------------------------------------------- */

#define NTHREADS 8
#define PER      4
#define LIMIT    5

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int at_hook, admitted;

/* Every thread that has counted waits (bounded) for the others to count
 * too: without the account's creation lock they would all count the same
 * number and all create.  With it, only one thread at a time gets here, and
 * the wait merely ends by its timeout. */
static void hook(const char *stage)
{
    struct timespec ts;
    if (strcmp(stage, "device-counted")) {
        return;
    }
    pthread_mutex_lock(&mu);
    at_hook++;
    pthread_cond_broadcast(&cv);
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_nsec += 20 * 1000000L;
    ts.tv_sec += ts.tv_nsec / 1000000000L;
    ts.tv_nsec %= 1000000000L;
    while (at_hook < NTHREADS && pthread_cond_timedwait(&cv, &mu, &ts) == 0) {
    }
    pthread_mutex_unlock(&mu);
}

static void *racer(void *arg)
{
    long id = (long)arg;
    apr_pool_t *p;
    int i;

    apr_pool_create(&p, NULL);
    for (i = 0; i < PER; i++) {
        as_gate_t g =
            gate_in(p, ACCT, apr_psprintf(p, "T%ldD%d", id, i), "14.1", "FolderSync", LIMIT);
        if (g.doc) {
            xmlFreeDoc(g.doc);
        }
        if (g.verdict == AS_GATE_SERVE) {
            __atomic_add_fetch(&admitted, 1, __ATOMIC_SEQ_CST);
        } else {
            ck_assert_int_eq(g.verdict, AS_GATE_DEVICE_LIMIT);
        }
    }
    apr_pool_destroy(p);
    return NULL;
}

START_TEST(concurrent_first_contacts_respect_the_limit)
{
    pthread_t th[NTHREADS];
    long i;

    at_hook = admitted = 0;
    as_db_close(db); /* reopened with the hook */
    db = testdb_open_hooked(dir, hook);
    for (i = 0; i < NTHREADS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, racer, (void *)i), 0);
    }
    for (i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
    }
    ck_assert_int_eq(ndevices(ACCT), LIMIT);
    ck_assert_int_eq(admitted, LIMIT);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("device_limit");
    TCase *tc = tcase_create("device_limit");
    tcase_add_checked_fixture(tc, setup, testdb_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, fourth_device_refused);
    tcase_add_test(tc, removal_leaves_no_lock_record);
    tcase_add_test(tc, concurrent_first_contacts_respect_the_limit);
    suite_add_tcase(s, tc);
    return s;
}
