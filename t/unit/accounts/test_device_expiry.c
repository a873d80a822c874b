/* Device expiry (ActiveSyncDeviceExpiry): which devices go (never
 * provisioned and idle, or not seen for long) and which stay (recent,
 * provisioned, or carrying an administrator's decision), that their sync
 * state goes with them and nobody else's, that a pass is bounded and the
 * sweep goes on from where it stopped, and the periodic tick's rate. */
#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_device.h"
#include "activesync/as_directory.h"
#include "activesync/as_syncstate.h"
#include "testdb.h"
#include "unit.h"

#define DAY apr_time_from_sec(86400)

TESTDB_FIXTURE()

static apr_time_t now0;
static as_device_ages_t ages;

static void setup(void)
{
    const char *err = NULL;
    testdb_setup();
    ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
    now0 = apr_time_from_sec(1800000000);
    ages.unprovisioned = DAY;
    ages.unseen = 180 * DAY;
}

typedef struct mark_t {
    const char *account, *dev;
    int provisioned;
    as_access_t access;
} mark_t;

static int txn_mark(as_db_t *d, DB_TXN *txn, void *baton)
{
    mark_t *m = baton;
    as_device_t rec;
    int rc = as_device_txn_get(d, txn, unit_pool, m->account, m->dev, 1, &rec);
    if (rc != 0) {
        return rc;
    }
    if (m->provisioned) {
        rec.prov_state = AS_PROV_DONE;
        rec.policy_key = 1234;
    }
    rec.access = m->access;
    return as_device_txn_put(d, txn, &rec);
}

/* A device last seen `idle` before now0 (a second call records a later
 * contact of the same device), with sync state. */
static void device(const char *account, const char *dev, apr_interval_time_t idle, int provisioned,
                   as_access_t access)
{
    as_device_contact_t c;
    mark_t m = {account, dev, provisioned, access};
    const char *state = apr_psprintf(unit_pool, "<Sync>%s %s</Sync>", account, dev);

    memset(&c, 0, sizeof(c));
    c.account = account;
    c.device_key = dev;
    c.device_type = "TestPhone";
    c.protocol_version = "14.1";
    c.command = "Sync";
    c.now = now0 - idle;
    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);
    ck_assert(as_db_txn(db, 0, txn_mark, &m) == APR_SUCCESS);
    ck_assert(as_sync_cache_put(db, account, dev, state, strlen(state)) == APR_SUCCESS);
}

static int exists(const char *account, const char *dev)
{
    as_device_t d;
    apr_status_t rv = as_device_get(db, unit_pool, account, dev, &d, NULL);
    ck_assert(rv == APR_SUCCESS || rv == AS_DEV_ENODEVICE);
    return rv == APR_SUCCESS;
}

static int has_state(const char *account, const char *dev)
{
    const char *xml = NULL;
    apr_size_t len = 0;
    ck_assert(as_sync_cache_get(db, unit_pool, account, dev, &xml, &len) == APR_SUCCESS);
    return xml != NULL;
}

static int ndevices(void)
{
    apr_array_header_t *arr;
    ck_assert(as_device_list(db, unit_pool, NULL, &arr, NULL) == APR_SUCCESS);
    return arr->nelts;
}

/* Whole sweeps of passes of max_scan records; returns the devices removed. */
static int sweep(unsigned max_scan, int *passes)
{
    const char *from = NULL;
    int total = 0, n;
    *passes = 0;
    do {
        ck_assert(as_svc_devices_expire(db, unit_pool, now0, &ages, max_scan, &from, &n) ==
                  APR_SUCCESS);
        total += n;
        (*passes)++;
        ck_assert_int_lt(*passes, 1000);
    } while (from);
    return total;
}

START_TEST(the_right_devices_go_with_their_state)
{
    int passes;

    device("ann@example.org", "FLOOD1", 2 * DAY, 0, AS_ACCESS_DEFAULT);     /* goes */
    device("ann@example.org", "FLOOD2", DAY, 0, AS_ACCESS_DEFAULT);         /* goes (exactly 1 d) */
    device("ann@example.org", "NEWPHONE", DAY / 2, 0, AS_ACCESS_DEFAULT);   /* stays: recent */
    device("ann@example.org", "PHONE", 30 * DAY, 1, AS_ACCESS_DEFAULT);     /* stays: provisioned */
    device("ann@example.org", "OLDPHONE", 200 * DAY, 1, AS_ACCESS_DEFAULT); /* goes: unseen */
    device("ann@example.org", "BLOCKED", 300 * DAY, 0, AS_ACCESS_BLOCK);    /* stays: decision */
    device("ann@example.org", "ALLOWED", 300 * DAY, 1, AS_ACCESS_ALLOW);    /* stays: decision */
    /* never provisioned but used for a week until two days ago (Provisioning
     * Off or Loose): stays */
    device("ann@example.org", "INUSE", 9 * DAY, 0, AS_ACCESS_DEFAULT);
    device("ann@example.org", "INUSE", 2 * DAY, 0, AS_ACCESS_DEFAULT);
    /* neighbours: the same device id under other accounts, recent */
    device("bob@example.org", "FLOOD1", 0, 0, AS_ACCESS_DEFAULT);
    device("ann@example.net", "OLDPHONE", 10 * DAY, 1, AS_ACCESS_DEFAULT);

    ck_assert_int_eq(sweep(0, &passes), 3);
    ck_assert(!exists("ann@example.org", "FLOOD1") && !has_state("ann@example.org", "FLOOD1"));
    ck_assert(!exists("ann@example.org", "FLOOD2") && !has_state("ann@example.org", "FLOOD2"));
    ck_assert(!exists("ann@example.org", "OLDPHONE") && !has_state("ann@example.org", "OLDPHONE"));
    ck_assert(exists("ann@example.org", "NEWPHONE") && has_state("ann@example.org", "NEWPHONE"));
    ck_assert(exists("ann@example.org", "PHONE") && has_state("ann@example.org", "PHONE"));
    ck_assert(exists("ann@example.org", "BLOCKED") && has_state("ann@example.org", "BLOCKED"));
    ck_assert(exists("ann@example.org", "ALLOWED"));
    ck_assert(exists("ann@example.org", "INUSE") && has_state("ann@example.org", "INUSE"));
    ck_assert(exists("bob@example.org", "FLOOD1") && has_state("bob@example.org", "FLOOD1"));
    ck_assert(exists("ann@example.net", "OLDPHONE") && has_state("ann@example.net", "OLDPHONE"));
    ck_assert_int_eq(ndevices(), 7);
    /* a second sweep finds nothing more */
    ck_assert_int_eq(sweep(0, &passes), 0);

    /* a rule set to 0 is off */
    device("cat@example.org", "IDLE", 3 * DAY, 0, AS_ACCESS_DEFAULT);
    ages.unprovisioned = 0;
    ck_assert_int_eq(sweep(0, &passes), 0);
    ck_assert(exists("cat@example.org", "IDLE"));
}
END_TEST

START_TEST(passes_are_bounded_and_resume)
{
    int i, passes;

    for (i = 0; i < 120; i++) {
        device("ann@example.org", apr_psprintf(unit_pool, "F%03d", i), 2 * DAY, 0,
               AS_ACCESS_DEFAULT);
        if (i % 4 == 0) {
            device("ann@example.org", apr_psprintf(unit_pool, "K%03d", i), 0, 0, AS_ACCESS_DEFAULT);
        }
    }
    /* 150 records read 25 at a time: 6 passes, plus the one that finds the end */
    ck_assert_int_eq(sweep(25, &passes), 120);
    ck_assert_int_ge(passes, 6);
    ck_assert_int_le(passes, 7);
    ck_assert_int_eq(ndevices(), 30);
}
END_TEST

START_TEST(tick_runs_when_due_only)
{
    apr_time_t next_check = 0;
    int n = -1, i;

    for (i = 0; i < 30; i++) {
        device("ann@example.org", apr_psprintf(unit_pool, "F%02d", i), 2 * DAY, 0,
               AS_ACCESS_DEFAULT);
    }
    ck_assert(as_svc_devices_expire_tick(db, now0, &ages, &next_check, &n) == APR_SUCCESS);
    ck_assert_int_eq(n, 30);
    ck_assert_int_eq(ndevices(), 0);
    /* the same process looks again only after a minute */
    device("ann@example.org", "LATE", 2 * DAY, 0, AS_ACCESS_DEFAULT);
    ck_assert(as_svc_devices_expire_tick(db, now0 + apr_time_from_sec(10), &ages, &next_check,
                                         &n) == APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    /* another process (its own next_check): the sweep ended, next one in an hour */
    next_check = 0;
    ck_assert(as_svc_devices_expire_tick(db, now0 + apr_time_from_sec(120), &ages, &next_check,
                                         &n) == APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    ck_assert(exists("ann@example.org", "LATE"));
    ck_assert(as_svc_devices_expire_tick(db, now0 + apr_time_from_sec(3700), &ages, &next_check,
                                         &n) == APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert(!exists("ann@example.org", "LATE"));
    /* both rules off: nothing at all */
    ages.unprovisioned = ages.unseen = 0;
    next_check = 0;
    device("ann@example.org", "OFF", 2 * DAY, 0, AS_ACCESS_DEFAULT);
    ck_assert(as_svc_devices_expire_tick(db, now0 + 2 * DAY, &ages, &next_check, &n) ==
              APR_SUCCESS);
    ck_assert_int_eq(n, 0);
    ck_assert(exists("ann@example.org", "OFF"));
}
END_TEST

START_TEST(ages_parse)
{
    apr_interval_time_t t;
    ck_assert(as_device_age_parse("1d", &t) == APR_SUCCESS && t == DAY);
    ck_assert(as_device_age_parse("12h", &t) == APR_SUCCESS && t == apr_time_from_sec(43200));
    ck_assert(as_device_age_parse("90m", &t) == APR_SUCCESS && t == apr_time_from_sec(5400));
    ck_assert(as_device_age_parse("45", &t) == APR_SUCCESS && t == apr_time_from_sec(45));
    ck_assert(as_device_age_parse("Off", &t) == APR_SUCCESS && t == 0);
    ck_assert(as_device_age_parse("0", &t) == APR_SUCCESS && t == 0);
    ck_assert(as_device_age_parse("3650d", &t) == APR_SUCCESS);
    ck_assert(as_device_age_parse("3651d", &t) == APR_EINVAL);
    ck_assert(as_device_age_parse("99999999999999999999", &t) == APR_EINVAL);
    ck_assert(as_device_age_parse("1w", &t) == APR_EINVAL);
    ck_assert(as_device_age_parse("1dd", &t) == APR_EINVAL);
    ck_assert(as_device_age_parse("d", &t) == APR_EINVAL);
    ck_assert(as_device_age_parse("", &t) == APR_EINVAL);
    ck_assert(as_device_age_parse("-1d", &t) == APR_EINVAL);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("device_expiry");
    TCase *tc = tcase_create("device_expiry");
    tcase_add_checked_fixture(tc, setup, testdb_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, the_right_devices_go_with_their_state);
    tcase_add_test(tc, passes_are_bounded_and_resume);
    tcase_add_test(tc, tick_runs_when_due_only);
    tcase_add_test(tc, ages_parse);
    suite_add_tcase(s, tc);
    return s;
}
