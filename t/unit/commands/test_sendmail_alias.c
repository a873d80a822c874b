/* Who SendMail lets an account send as (fake outbound, a real directory):
 * the sender read from the account's record (address, display name,
 * aliases), a From alias accepted with the account as envelope sender, any
 * other From refused with Status 130 and a log line naming the account,
 * and a missing From added with the display name. */
#include "activesync/as_account_service.h"
#include "activesync/as_db_memo.h"
#include "as_sendmail.h"
#include "iotest.h"
#include "testdb.h"
#include "unit.h"

TESTDB_FIXTURE()

#include "fakeoutbound.h" /* after the fixture: it uses testdb_setup() */

static char logbuf[4096];

static int log_enabled(void *baton, int level)
{
    (void)baton;
    (void)level;
    return 1;
}

static void log_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                      const char *msg)
{
    size_t n = strlen(logbuf);
    (void)baton;
    (void)file;
    (void)line;
    (void)level;
    (void)rv;
    snprintf(logbuf + n, sizeof(logbuf) - n, "%s\n", msg);
}

static as_logger_t capture = {log_enabled, log_print, NULL};

/* as_cmd_sendmail with the capturing logger in the request. */
static apr_status_t logged_sendmail(as_request_t *r, as_response_t *resp)
{
    r->log = &capture;
    return as_cmd_sendmail(r, resp);
}

static void set_identity(const char *w1, const char *w2)
{
    const char *words[2] = {w1, w2}, *err = NULL;
    as_optedit_t e;
    int i;

    memset(&e, 0, sizeof(e));
    for (i = 0; i < 2 && words[i]; i++) {
        ck_assert_int_eq(as_optedit_parse_set(unit_pool, &e, words[i], 1, &err), APR_SUCCESS);
    }
    ck_assert_int_eq(as_svc_account_update(db, unit_pool, IOT_ACCT, &e, NULL, &err), APR_SUCCESS);
}

static void setup(void)
{
    fakeob_setup();
    as_db_memo_clear();
    logbuf[0] = '\0';
    ck_assert_int_eq(as_dir_domain_add(db, unit_pool, "example.org", NULL), APR_SUCCESS);
}

/* mime's CRs as character references (XML would turn CRLF into LF). */
static void send_from(cmdtest_t *t, const char *client_id, const char *raw)
{
    iot_opts_t o = {NULL, 0, 0, 0, db};
    char *mime = apr_palloc(unit_pool, strlen(raw) * 5 + 1), *m = mime;
    const char *xml;

    for (; *raw; raw++) {
        m += *raw == '\r' ? sprintf(m, "&#13;") : sprintf(m, "%c", *raw);
    }
    xml = apr_psprintf(unit_pool,
                       "<SendMail xmlns=\"ComposeMail:\"><ClientId>%s</ClientId>"
                       "<Mime>%s</Mime></SendMail>",
                       client_id, mime);
    iot_run(t, logged_sendmail, "SendMail", &o, xml);
}

START_TEST(test_sender_of_reads_record)
{
    as_sendmail_sender_t s;
    as_request_t req;

    memset(&req, 0, sizeof(req));
    req.pool = unit_pool;
    req.account = IOT_ACCT;
    req.db = db;
    req.log = &capture;
    /* no record: the address only */
    as_sendmail_sender_of(&req, &s);
    ck_assert_str_eq(s.address, IOT_ACCT);
    ck_assert_ptr_null(s.display_name);
    ck_assert_ptr_null(s.aliases);
    set_identity("name=Ann Ëxample", "aliases=Ann.Example@example.org,sales@example.org");
    as_sendmail_sender_of(&req, &s);
    ck_assert_str_eq(s.address, IOT_ACCT);
    ck_assert_str_eq(s.display_name, "Ann Ëxample");
    ck_assert_int_eq(s.aliases->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(s.aliases, 0, const char *), "ann.example@example.org");
    ck_assert_str_eq(APR_ARRAY_IDX(s.aliases, 1, const char *), "sales@example.org");
    /* without a database: the address only, never another's */
    req.db = NULL;
    as_sendmail_sender_of(&req, &s);
    ck_assert_ptr_null(s.aliases);
    ck_assert_str_eq(logbuf, "");
}
END_TEST

START_TEST(test_alias_accepted_other_refused)
{
    cmdtest_t t;

    set_identity("aliases=sales@example.org", NULL);
    send_from(&t, "a1",
              "From: Sales &lt;SALES@example.org&gt;\r\nTo: bob@example.net\r\n\r\nhi\r\n");
    ck_assert_ptr_null(t.resp.doc); /* sent: an empty 200 */
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_str_eq(fake.sender, IOT_ACCT); /* the envelope stays the account */
    ck_assert_ptr_nonnull(strstr(fake.msg, "From: Sales <SALES@example.org>\r\n"));
    cmdtest_free(&t);

    send_from(&t, "a2", "From: boss@example.org\r\nTo: bob@example.net\r\n\r\nhi\r\n");
    ck_assert_ptr_nonnull(t.resp.doc);
    ck_assert_str_eq(xp(t.resp.doc, "/*/*[local-name()='Status']"), "130");
    ck_assert_int_eq(fake.calls, 1);
    cmdtest_free(&t);
    ck_assert_msg(strstr(logbuf, "SendMail from " IOT_ACCT " refused (status 130)") &&
                      strstr(logbuf, "boss@example.org"),
                  "log: %s", logbuf);
    /* once the alias is removed it is refused too */
    {
        const char *err = NULL;
        as_optedit_t e;
        memset(&e, 0, sizeof(e));
        ck_assert_int_eq(as_optedit_parse_unset(unit_pool, &e, "aliases", 1, &err), APR_SUCCESS);
        ck_assert_int_eq(as_svc_account_update(db, unit_pool, IOT_ACCT, &e, NULL, &err),
                         APR_SUCCESS);
    }
    send_from(&t, "a3", "From: sales@example.org\r\nTo: bob@example.net\r\n\r\nhi\r\n");
    ck_assert_str_eq(xp(t.resp.doc, "/*/*[local-name()='Status']"), "130");
    ck_assert_int_eq(fake.calls, 1);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_missing_from_gets_display_name)
{
    cmdtest_t t;

    set_identity("name=Ann Ëxample", NULL);
    send_from(&t, "d1", "To: bob@example.net\r\nSubject: x\r\n\r\nbody\r\n");
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_msg(strstr(fake.msg, "From: Ann =?") != NULL &&
                      strstr(fake.msg, "<" IOT_ACCT ">\r\n") != NULL,
                  "fake.msg: %s", fake.msg);
    cmdtest_free(&t);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sendmail_alias");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, fakeob_teardown);
    tcase_add_test(tc, test_sender_of_reads_record);
    tcase_add_test(tc, test_alias_accepted_other_refused);
    tcase_add_test(tc, test_missing_from_gets_display_name);
    suite_add_tcase(s, tc);
    return s;
}
