/* The memoised gates (as_db_memo.h): a served mailbox and a served device
 * get their answer without a transaction while the database is unchanged;
 * every change made meanwhile -- by this process or another (the admin
 * tool, another httpd child) -- is seen on the next request: a wipe, a
 * block, a domain rule, the mailbox's options; and a contact that is due
 * again is recorded.  A policy change: test_provision.c,
 * stale_key_after_policy_change. */
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_cap.h"
#include "activesync/as_db_memo.h"
#include "activesync/as_device.h"
#include "activesync/as_directory.h"
#include "activesync/as_provision.h"
#include "testdb.h"
#include "unit.h"

#define ACCT "memo@example.org"
#define DEV  "MEMODEV"

TESTDB_FIXTURE()

__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void);
__attribute__((visibility("default"))) const char *__lsan_default_suppressions(void)
{
    return "leak:libdb-5.3.so\n";
}

static void setup(void)
{
    as_optedit_t e;
    const char *err = NULL;

    testdb_setup();
    as_db_memo_clear();
    ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
    memset(&e, 0, sizeof(e));
    ck_assert(as_optedit_parse_set(unit_pool, &e, "activesync=on", 0, &err) == APR_SUCCESS);
    ck_assert(as_dir_domain_update(db, unit_pool, "example.org", &e, &err) == APR_SUCCESS);
}

static void teardown(void)
{
    as_db_memo_clear();
    testdb_teardown();
}

static as_gate_in_t gate_in(apr_time_t now, const char *agent)
{
    as_gate_in_t in;
    memset(&in, 0, sizeof(in));
    in.account = ACCT;
    in.device_key = DEV;
    in.device_type = "MemoPhone";
    in.user_agent = agent;
    in.protocol_version = "14.1";
    in.command = "Sync";
    in.mode = AS_PROVISIONING_OFF;
    in.inband_449 = AS_INBAND_ONLY;
    in.now = now;
    return in;
}

static as_gate_t gate_at(apr_time_t now, const char *agent)
{
    as_gate_in_t in = gate_in(now, agent);
    as_gate_t out;
    ck_assert(as_provision_gate(db, unit_pool, &in, &out) == APR_SUCCESS);
    if (out.doc) {
        xmlFreeDoc(out.doc);
        out.doc = NULL;
    }
    return out;
}

static as_gate_verdict_t gate_verdict(void)
{
    return gate_at(0, "MemoAgent/1").verdict;
}

/* Served twice: the second answer comes from the memo. */
static void served_twice(void)
{
    as_gate_t g;
    ck_assert_int_eq(gate_verdict(), AS_GATE_SERVE); /* the record is made */
    ck_assert_int_eq(gate_verdict(), AS_GATE_SERVE); /* read: memoised */
    g = gate_at(0, "MemoAgent/1");                   /* from the memo */
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    ck_assert_str_eq(g.device.account, ACCT);
    ck_assert_str_eq(g.device.device_id, DEV);
    ck_assert_str_eq(g.device.device_type, "MemoPhone");
}

START_TEST(wipe_seen)
{
    const char *err = NULL;
    as_gate_t g;

    served_twice();
    ck_assert(as_device_wipe(db, unit_pool, ACCT, DEV, 0, &err) == APR_SUCCESS);
    g = gate_at(0, "MemoAgent/1");
    ck_assert_int_eq(g.verdict, AS_GATE_PROVISION);
    ck_assert_int_eq(g.eas_status, AS_STATUS_REMOTE_WIPE);
    ck_assert(as_device_wipe_cancel(db, unit_pool, ACCT, DEV, &err) == APR_SUCCESS);
    served_twice();
}
END_TEST

START_TEST(block_and_rule_seen)
{
    const char *err = NULL;
    as_device_rule_t rule;

    served_twice();
    ck_assert(as_device_set_access(db, unit_pool, ACCT, DEV, AS_ACCESS_BLOCK, &err) == APR_SUCCESS);
    ck_assert_int_eq(gate_verdict(), AS_GATE_BLOCKED);
    ck_assert(as_device_set_access(db, unit_pool, ACCT, DEV, AS_ACCESS_DEFAULT, &err) ==
              APR_SUCCESS);
    served_twice();
    ck_assert(as_device_rule_parse(unit_pool, "block", "type=Memo*", &rule, &err) == APR_SUCCESS);
    ck_assert(as_device_rule_add(db, unit_pool, "example.org", &rule, &err) == APR_SUCCESS);
    ck_assert_int_eq(gate_verdict(), AS_GATE_BLOCKED);
}
END_TEST

/* The administrator's change comes from another process. */
START_TEST(other_process_seen)
{
    as_cap_decision_t d;
    int decided, status;
    pid_t pid;

    served_twice();
    ck_assert(as_cap_admit(db, unit_pool, ACCT, NULL, &d) == APR_SUCCESS);
    ck_assert(as_cap_check(db, unit_pool, ACCT, NULL, &d, &decided) == APR_SUCCESS);
    ck_assert(decided && d.result == AS_CAP_SERVED);
    ck_assert(as_cap_check(db, unit_pool, ACCT, NULL, &d, &decided) == APR_SUCCESS);
    ck_assert(decided && d.result == AS_CAP_SERVED);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        as_db_t *own = NULL;
        as_optedit_t e;
        const char *err = NULL;
        int ok;
        if (as_db_open(&own, dir, NULL, NULL) != APR_SUCCESS) {
            _exit(2);
        }
        memset(&e, 0, sizeof(e));
        ok = as_optedit_parse_set(unit_pool, &e, "activesync=off", 1, &err) == APR_SUCCESS &&
             as_svc_account_update(own, unit_pool, ACCT, &e, NULL, &err) == APR_SUCCESS &&
             as_device_wipe(own, unit_pool, ACCT, DEV, 0, &err) == APR_SUCCESS;
        as_db_close(own);
        _exit(ok ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0, "child status %d", status);
    ck_assert(as_cap_check(db, unit_pool, ACCT, NULL, &d, &decided) == APR_SUCCESS);
    ck_assert(decided && d.result == AS_CAP_DENIED_OPTION);
    ck_assert_int_eq(gate_verdict(), AS_GATE_PROVISION);
}
END_TEST

/* The mailbox's option switched off here: the memoised "served" goes. */
START_TEST(cap_option_seen)
{
    as_cap_decision_t d;
    as_optedit_t e;
    const char *err = NULL;
    int decided;

    ck_assert(as_cap_check(db, unit_pool, ACCT, NULL, &d, &decided) == APR_SUCCESS);
    ck_assert(!decided); /* not registered yet: the write path's */
    ck_assert(as_cap_admit(db, unit_pool, ACCT, NULL, &d) == APR_SUCCESS);
    ck_assert_int_eq(d.result, AS_CAP_ADMITTED);
    ck_assert(as_cap_check(db, unit_pool, ACCT, NULL, &d, &decided) == APR_SUCCESS);
    ck_assert(decided && d.result == AS_CAP_SERVED && d.eff.value[AS_OPT_ACTIVESYNC]);
    ck_assert(as_cap_check(db, unit_pool, ACCT, NULL, &d, &decided) == APR_SUCCESS);
    ck_assert(decided && d.result == AS_CAP_SERVED && d.admitted != 0);
    ck_assert_ptr_nonnull(strstr(d.reason, ACCT));
    memset(&e, 0, sizeof(e));
    ck_assert(as_optedit_parse_set(unit_pool, &e, "email=off", 1, &err) == APR_SUCCESS);
    ck_assert(as_svc_account_update(db, unit_pool, ACCT, &e, NULL, &err) == APR_SUCCESS);
    ck_assert(as_cap_check(db, unit_pool, ACCT, NULL, &d, &decided) == APR_SUCCESS);
    ck_assert(decided && d.result == AS_CAP_SERVED && !d.eff.value[AS_OPT_EMAIL]);
}
END_TEST

/* The memo ends when the contact is due again: the gate records it. */
START_TEST(contact_due_recorded)
{
    apr_time_t t0 = apr_time_now(), later = t0 + apr_time_from_sec(AS_DEVICE_TOUCH_SEC) + 1;
    as_device_t d;
    const char *err = NULL;

    ck_assert_int_eq(gate_at(t0, "MemoAgent/1").verdict, AS_GATE_SERVE);
    ck_assert_int_eq(gate_at(t0 + 1, "MemoAgent/1").verdict, AS_GATE_SERVE);
    ck_assert_int_eq(gate_at(t0 + 2, "MemoAgent/1").verdict, AS_GATE_SERVE);
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == APR_SUCCESS);
    ck_assert(d.last_contact == t0);
    ck_assert_int_eq(gate_at(later, "MemoAgent/1").verdict, AS_GATE_SERVE);
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == APR_SUCCESS);
    ck_assert(d.last_contact == later);
    /* another User-Agent is another input: recorded at once */
    ck_assert_int_eq(gate_at(later + 1, "MemoAgent/2").verdict, AS_GATE_SERVE);
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == APR_SUCCESS);
    ck_assert_str_eq(d.user_agent, "MemoAgent/2");
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("gate_memo");
    TCase *tc = tcase_create("gate_memo");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, wipe_seen);
    tcase_add_test(tc, block_and_rule_seen);
    tcase_add_test(tc, other_process_seen);
    tcase_add_test(tc, cap_option_seen);
    tcase_add_test(tc, contact_due_recorded);
    suite_add_tcase(s, tc);
    return s;
}
