/* The mailbox cap: admission, refusal that sets activesync explicitly off,
 * release on disable/remove, enable refused when full, licence-closed mode,
 * persistence across close+reopen, and cap.conf. */
#include <sys/stat.h>

#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_cap.h"
#include "activesync/as_directory.h"
#include "activesync/as_license.h"
#include "testdb.h"
#include "unit.h"

static char *dir;
static as_db_t *db;
static as_cap_limit_t cap3;

static void setup(void)
{
    unit_pool_setup();
    dir = testdb_mkdtemp();
    db = testdb_open(dir);
    as_cap_limit_count(&cap3, 3, "ActiveSyncMailboxCount 3");
    ck_assert(as_dir_domain_add(db, unit_pool, "x.test", NULL) == APR_SUCCESS);
    {
        as_optedit_t e;
        const char *err;
        memset(&e, 0, sizeof(e));
        ck_assert(as_optedit_parse_set(unit_pool, &e, "activesync=on", 0, &err) == APR_SUCCESS);
        ck_assert(as_dir_domain_update(db, unit_pool, "x.test", &e, NULL) == APR_SUCCESS);
    }
}

static void teardown(void)
{
    as_db_close(db);
    db = NULL;
    testdb_rmrf(dir);
    free(dir);
    unit_pool_teardown();
}

static as_cap_result_t admit(const char *who, const as_cap_limit_t *cap)
{
    as_cap_decision_t d;
    apr_status_t rv = as_cap_admit(db, unit_pool, who, cap, &d);
    ck_assert_msg(rv == APR_SUCCESS, "admit %s: %d", who, rv);
    ck_assert_ptr_nonnull(d.reason);
    ck_assert_ptr_nonnull(strstr(d.reason, who));
    return d.result;
}

static apr_status_t acct_set(const char *who, const char *word, const as_cap_limit_t *cap,
                             const char **err)
{
    as_optedit_t e;
    memset(&e, 0, sizeof(e));
    ck_assert(as_optedit_parse_set(unit_pool, &e, word, 1, err) == APR_SUCCESS);
    return as_svc_account_update(db, unit_pool, who, &e, cap, err);
}

static void check_consistent(unsigned want)
{
    unsigned counter, records;
    ck_assert(as_cap_verify(db, &counter, &records) == APR_SUCCESS);
    ck_assert_int_eq(counter, records);
    ck_assert_int_eq(counter, want);
}

static as_dir_account_t getacct(const char *who)
{
    as_dir_account_t a;
    ck_assert(as_svc_account_get(db, unit_pool, who, &a, NULL) == APR_SUCCESS);
    return a;
}

START_TEST(admit_until_full_then_refuse_explicitly)
{
    as_cap_decision_t d;
    as_dir_account_t a;

    ck_assert_int_eq(admit("a1@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert_int_eq(admit("a2@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert_int_eq(admit("a3@x.test", &cap3), AS_CAP_ADMITTED);
    check_consistent(3);
    /* Registered accounts stay served (fast path). */
    ck_assert(as_cap_admit(db, unit_pool, "a1@x.test", &cap3, &d) == APR_SUCCESS);
    ck_assert_int_eq(d.result, AS_CAP_SERVED);
    ck_assert(as_cap_allowed(&d));
    ck_assert_int_eq(d.count, 0); /* decided read-only */
    ck_assert(d.admitted > 0);
    ck_assert_int_eq(d.eff.value[AS_OPT_EMAIL], 1);

    /* The fourth is refused, and that is written on the account. */
    a = getacct("a4@x.test");
    ck_assert_int_eq(a.has_record, 0);
    ck_assert(as_cap_admit(db, unit_pool, "a4@x.test", &cap3, &d) == APR_SUCCESS);
    ck_assert_int_eq(d.result, AS_CAP_DENIED_FULL);
    ck_assert(!as_cap_allowed(&d));
    ck_assert_ptr_nonnull(strstr(d.reason, "cap of 3"));
    ck_assert_int_eq(d.eff.value[AS_OPT_ACTIVESYNC], 0);
    ck_assert_int_eq(d.eff.source[AS_OPT_ACTIVESYNC], AS_SRC_ACCOUNT);
    a = getacct("a4@x.test");
    ck_assert_int_eq(a.has_record, 1);
    ck_assert(as_optset_has(&a.opts, AS_OPT_ACTIVESYNC));
    ck_assert_int_eq(a.eff.value[AS_OPT_ACTIVESYNC], 0);
    ck_assert_int_eq(a.eff.source[AS_OPT_ACTIVESYNC], AS_SRC_ACCOUNT);
    ck_assert_int_eq(a.registered, 0);
    /* Next time it is an ordinary option refusal. */
    ck_assert_int_eq(admit("a4@x.test", &cap3), AS_CAP_DENIED_OPTION);
    check_consistent(3);
}
END_TEST

START_TEST(option_off_is_refused_without_registration)
{
    as_dir_account_t a;
    const char *err;

    ck_assert_int_eq(admit("nobody@unknown.test", &cap3), AS_CAP_DENIED_OPTION);
    ck_assert(acct_set("off@x.test", "activesync=off", &cap3, &err) == APR_SUCCESS);
    ck_assert_int_eq(admit("off@x.test", &cap3), AS_CAP_DENIED_OPTION);
    a = getacct("nobody@unknown.test");
    ck_assert_int_eq(a.has_record, 0);
    ck_assert_int_eq(a.registered, 0);
    check_consistent(0);
    {
        as_cap_decision_t d;
        ck_assert_int_eq(as_cap_admit(db, unit_pool, "no-at-sign", &cap3, &d), AS_DIR_EINVAL);
    }
}
END_TEST

/* as_cap_check: the read-only part decides the common cases and leaves the
 * others to as_cap_admit, without writing anything. */
START_TEST(check_decides_read_only_cases)
{
    as_cap_decision_t d;
    as_dir_account_t a;
    const char *err;
    int decided = -1;

    ck_assert(as_cap_check(db, unit_pool, "new@x.test", &cap3, &d, &decided) == APR_SUCCESS);
    ck_assert_int_eq(decided, 0);
    ck_assert_ptr_null(d.reason);
    a = getacct("new@x.test");
    ck_assert_int_eq(a.has_record, 0);
    ck_assert_int_eq(a.registered, 0);
    check_consistent(0);

    ck_assert_int_eq(admit("new@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert(as_cap_check(db, unit_pool, "new@x.test", &cap3, &d, &decided) == APR_SUCCESS);
    ck_assert_int_eq(decided, 1);
    ck_assert_int_eq(d.result, AS_CAP_SERVED);
    ck_assert(d.admitted > 0);
    ck_assert_ptr_nonnull(strstr(d.reason, "new@x.test"));

    ck_assert(acct_set("off@x.test", "activesync=off", &cap3, &err) == APR_SUCCESS);
    ck_assert(as_cap_check(db, unit_pool, "off@x.test", &cap3, &d, &decided) == APR_SUCCESS);
    ck_assert_int_eq(decided, 1);
    ck_assert_int_eq(d.result, AS_CAP_DENIED_OPTION);
    ck_assert_ptr_nonnull(strstr(d.reason, "set at account level"));
    ck_assert_int_eq(as_cap_check(db, unit_pool, "no-at-sign", &cap3, &d, &decided), AS_DIR_EINVAL);
    check_consistent(1);
}
END_TEST

START_TEST(release_on_disable_and_remove_enable_reserves)
{
    const char *err = NULL;
    as_dir_account_t a;

    ck_assert_int_eq(admit("a1@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert_int_eq(admit("a2@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert_int_eq(admit("a3@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert_int_eq(admit("a4@x.test", &cap3), AS_CAP_DENIED_FULL);

    /* Explicit enable while full: refused, naming the cap; nothing changes. */
    ck_assert_int_eq(acct_set("a4@x.test", "activesync=on", &cap3, &err), AS_CAP_EFULL);
    ck_assert_ptr_nonnull(strstr(err, "mailbox cap of 3"));
    ck_assert_ptr_nonnull(strstr(err, "a4@x.test"));
    a = getacct("a4@x.test");
    ck_assert_int_eq(a.eff.value[AS_OPT_ACTIVESYNC], 0);
    check_consistent(3);

    /* Explicit disable frees a slot ... */
    ck_assert(acct_set("a1@x.test", "activesync=off", &cap3, &err) == APR_SUCCESS);
    check_consistent(2);
    a = getacct("a1@x.test");
    ck_assert_int_eq(a.registered, 0);
    ck_assert_int_eq(admit("a1@x.test", &cap3), AS_CAP_DENIED_OPTION);
    /* ... which an explicit enable reserves at once. */
    ck_assert(acct_set("a4@x.test", "activesync=on", &cap3, &err) == APR_SUCCESS);
    check_consistent(3);
    a = getacct("a4@x.test");
    ck_assert_int_eq(a.registered, 1);
    ck_assert_int_eq(a.eff.source[AS_OPT_ACTIVESYNC], AS_SRC_ACCOUNT);
    ck_assert_int_eq(admit("a4@x.test", &cap3), AS_CAP_SERVED);
    ck_assert_int_eq(admit("a5@x.test", &cap3), AS_CAP_DENIED_FULL);

    /* Removing an account (record or not) frees its slot. */
    ck_assert(as_svc_account_remove(db, unit_pool, "a2@x.test", &err) == APR_SUCCESS);
    check_consistent(2);
    ck_assert_int_eq(admit("a6@x.test", &cap3), AS_CAP_ADMITTED);
    check_consistent(3);
    /* Enabling an account that is already registered costs nothing. */
    ck_assert(acct_set("a3@x.test", "activesync=on", &cap3, &err) == APR_SUCCESS);
    check_consistent(3);
    /* Other edits never touch the registry. */
    ck_assert(acct_set("a3@x.test", "email=off", &cap3, &err) == APR_SUCCESS);
    check_consistent(3);
    {
        apr_array_header_t *arr;
        int i, by_admin = 0;
        ck_assert(as_cap_list(db, unit_pool, NULL, &arr) == APR_SUCCESS);
        ck_assert_int_eq(arr->nelts, 3);
        for (i = 0; i < arr->nelts; i++) {
            as_cap_entry_t *e = &APR_ARRAY_IDX(arr, i, as_cap_entry_t);
            if (!strcmp(e->address, "a4@x.test")) {
                by_admin = e->by_admin;
            }
        }
        ck_assert_int_eq(by_admin, 1);
    }
}
END_TEST

START_TEST(registry_survives_restart)
{
    unsigned n;
    ck_assert_int_eq(admit("a1@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert_int_eq(admit("a2@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert_int_eq(admit("a3@x.test", &cap3), AS_CAP_ADMITTED);
    ck_assert_int_eq(admit("a4@x.test", &cap3), AS_CAP_DENIED_FULL);
    as_db_close(db);
    db = testdb_open(dir);
    ck_assert(as_cap_count(db, &n) == APR_SUCCESS);
    ck_assert_int_eq(n, 3);
    check_consistent(3);
    ck_assert_int_eq(admit("a2@x.test", &cap3), AS_CAP_SERVED);
    ck_assert_int_eq(admit("a4@x.test", &cap3), AS_CAP_DENIED_OPTION);
    ck_assert_int_eq(admit("a5@x.test", &cap3), AS_CAP_DENIED_FULL);
    /* A larger cap after restart admits more; a smaller one keeps the
     * registered accounts served. */
    {
        as_cap_limit_t c5, c1;
        as_cap_limit_count(&c5, 5, "test");
        as_cap_limit_count(&c1, 1, "test");
        ck_assert_int_eq(admit("a6@x.test", &c5), AS_CAP_ADMITTED);
        ck_assert_int_eq(admit("a1@x.test", &c1), AS_CAP_SERVED);
        ck_assert_int_eq(admit("a7@x.test", &c1), AS_CAP_DENIED_FULL);
    }
    check_consistent(4);
}
END_TEST

START_TEST(unlimited_still_registers)
{
    int i;
    for (i = 0; i < 20; i++) {
        ck_assert_int_eq(admit(apr_psprintf(unit_pool, "u%d@x.test", i), NULL), AS_CAP_ADMITTED);
    }
    check_consistent(20);
    ck_assert_int_eq(admit("u3@x.test", NULL), AS_CAP_SERVED);
}
END_TEST

START_TEST(closed_licence_admits_no_new_mailbox)
{
    as_cap_limit_t closed;
    const char *err = NULL;
    as_dir_account_t a;

    ck_assert_int_eq(admit("a1@x.test", &cap3), AS_CAP_ADMITTED);
    memset(&closed, 0, sizeof(closed));
    closed.mode = AS_CAP_CLOSED;
    closed.reason = "licence /etc/x expired on 2020-01-01";
    ck_assert_int_eq(admit("a1@x.test", &closed), AS_CAP_SERVED);
    ck_assert_int_eq(admit("a2@x.test", &closed), AS_CAP_DENIED_LICENSE);
    a = getacct("a2@x.test");
    ck_assert_int_eq(a.has_record, 0); /* not written: a configuration problem */
    ck_assert_int_eq(acct_set("a2@x.test", "activesync=on", &closed, &err), AS_CAP_ECLOSED);
    ck_assert_ptr_nonnull(strstr(err, "expired on 2020-01-01"));
    check_consistent(1);
}
END_TEST

START_TEST(domain_off_keeps_slot_inactive)
{
    as_optedit_t e;
    const char *err;
    as_dir_account_t a;

    ck_assert_int_eq(admit("a1@x.test", &cap3), AS_CAP_ADMITTED);
    memset(&e, 0, sizeof(e));
    ck_assert(as_optedit_parse_set(unit_pool, &e, "activesync=off", 0, &err) == APR_SUCCESS);
    ck_assert(as_dir_domain_update(db, unit_pool, "x.test", &e, NULL) == APR_SUCCESS);
    ck_assert_int_eq(admit("a1@x.test", &cap3), AS_CAP_DENIED_OPTION);
    a = getacct("a1@x.test");
    ck_assert_int_eq(a.registered, 1);
    check_consistent(1);
}
END_TEST

START_TEST(cap_conf_roundtrip_and_resolve)
{
    int n;
    const char *lf, *lk, *err;
    as_cap_limit_t l;

    ck_assert_int_eq(as_cap_conf_read(unit_pool, dir, &n, &lf, &lk, &err), APR_ENOENT);
    ck_assert(as_cap_conf_write(unit_pool, dir, 200, NULL, NULL, (uid_t)-1, (gid_t)-1) ==
              APR_SUCCESS);
    ck_assert(as_cap_conf_read(unit_pool, dir, &n, &lf, &lk, &err) == APR_SUCCESS);
    ck_assert_int_eq(n, 200);
    ck_assert_ptr_null(lf);
    ck_assert(as_cap_conf_write(unit_pool, dir, -1, "/x/lic", "/x/key.pem", (uid_t)-1, (gid_t)-1) ==
              APR_SUCCESS);
    ck_assert(as_cap_conf_read(unit_pool, dir, &n, &lf, &lk, &err) == APR_SUCCESS);
    ck_assert_int_eq(n, -1);
    ck_assert_str_eq(lf, "/x/lic");
    ck_assert_str_eq(lk, "/x/key.pem");

    as_cap_limit_resolve(unit_pool, -1, NULL, NULL, apr_time_now(), &l);
    ck_assert_int_eq(l.mode, AS_CAP_UNLIMITED);
    as_cap_limit_resolve(unit_pool, 7, NULL, NULL, apr_time_now(), &l);
    ck_assert_int_eq(l.mode, AS_CAP_LIMITED);
    ck_assert_int_eq(l.max, 7);
    ck_assert_ptr_nonnull(strstr(l.source, "ActiveSyncMailboxCount 7"));
    as_cap_limit_resolve(unit_pool, -1, "/nonexistent/lic", "/nonexistent/key", apr_time_now(), &l);
    ck_assert_int_eq(l.mode, AS_CAP_CLOSED);
    ck_assert_ptr_nonnull(strstr(l.reason, "cannot read"));
    as_cap_limit_resolve(unit_pool, -1, "/nonexistent/lic", NULL, apr_time_now(), &l);
    ck_assert_int_eq(l.mode, AS_CAP_CLOSED);

    /* A valid licence gives its count; the directive may only lower it. */
    {
        const char *priv = apr_pstrcat(unit_pool, dir, "/k.pem", NULL);
        const char *pub = apr_pstrcat(unit_pool, dir, "/k.pub", NULL);
        const char *lic = apr_pstrcat(unit_pool, dir, "/lic.txt", NULL);
        const char *text, *msg;
        as_license_t L;
        FILE *f;
        memset(&L, 0, sizeof(L));
        L.licensee = "Example School";
        L.mailboxes = 200;
        L.expires = "2999-12-31";
        ck_assert(as_license_keygen(unit_pool, priv, pub, &msg) == APR_SUCCESS);
        ck_assert(as_license_sign(unit_pool, &L, priv, &text, &msg) == APR_SUCCESS);
        f = fopen(lic, "w");
        fputs(text, f);
        fclose(f);
        as_cap_limit_resolve(unit_pool, -1, lic, pub, apr_time_now(), &l);
        ck_assert_int_eq(l.mode, AS_CAP_LIMITED);
        ck_assert_int_eq(l.max, 200);
        ck_assert_ptr_nonnull(strstr(l.source, "Example School"));
        as_cap_limit_resolve(unit_pool, 150, lic, pub, apr_time_now(), &l);
        ck_assert_int_eq(l.max, 150);
        as_cap_limit_resolve(unit_pool, 500, lic, pub, apr_time_now(), &l);
        ck_assert_int_eq(l.max, 200);
        as_cap_limit_resolve(unit_pool, -1, lic, pub, as_license_parse_date("3000-01-01"), &l);
        ck_assert_int_eq(l.mode, AS_CAP_CLOSED);
        ck_assert_ptr_nonnull(strstr(l.reason, "expired on 2999-12-31"));
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("cap");
    TCase *tc = tcase_create("cap");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, admit_until_full_then_refuse_explicitly);
    tcase_add_test(tc, option_off_is_refused_without_registration);
    tcase_add_test(tc, check_decides_read_only_cases);
    tcase_add_test(tc, release_on_disable_and_remove_enable_reserves);
    tcase_add_test(tc, registry_survives_restart);
    tcase_add_test(tc, unlimited_still_registers);
    tcase_add_test(tc, closed_licence_admits_no_new_mailbox);
    tcase_add_test(tc, domain_off_keeps_slot_inactive);
    tcase_add_test(tc, cap_conf_roundtrip_and_resolve);
    suite_add_tcase(s, tc);
    return s;
}
