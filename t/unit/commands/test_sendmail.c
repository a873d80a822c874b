/* SendMail (14.x) with a fake outbound: recipients from To, Cc and Bcc, the
 * Bcc header stripped from the submitted message and kept in the Sent
 * copy, From checks, a resent ClientId not submitted again, an MTA failure
 * answered 120 with nothing in Sent, the size bound, email off, and the
 * 12.1 form (message/rfc822 body, HTTP statuses). */
#include <pthread.h>
#include <stdint.h>

#include "as_sendmail.h"
#include "iotest.h"
#include "testdb.h"
#include "unit.h"

TESTDB_FIXTURE()

#include "fakeoutbound.h" /* after the fixture: it uses testdb_setup() */

/* The XML of a SendMail request carrying mime (CRs and markup escaped). */
static const char *request(const char *client_id, int save, const char *mime)
{
    const char *s;
    char *out = apr_palloc(unit_pool, strlen(mime) * 6 + 1), *o = out;
    for (s = mime; *s; s++) {
        if (*s == '\r') {
            o += sprintf(o, "&#13;");
        } else if (*s == '<') {
            o += sprintf(o, "&lt;");
        } else if (*s == '>') {
            o += sprintf(o, "&gt;");
        } else if (*s == '&') {
            o += sprintf(o, "&amp;");
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    return apr_psprintf(unit_pool,
                        "<SendMail xmlns=\"ComposeMail:\"><ClientId>%s</ClientId>%s"
                        "<Mime>%s</Mime></SendMail>",
                        client_id, save ? "<SaveInSentItems/>" : "", out);
}

static void send_mail(cmdtest_t *t, const char *client_id, int save, const char *mime)
{
    iot_opts_t o = {NULL, 0, 0, 0, db};
    iot_run(t, as_cmd_sendmail, "SendMail", &o, request(client_id, save, mime));
}

static const char *status(cmdtest_t *t)
{
    ck_assert_ptr_nonnull(t->resp.doc);
    return xp(t->resp.doc, "/*/*[local-name()='Status']");
}

#define MSG_HEAD                                                                                   \
    "From: Ann <ANN@Example.org>\r\n"                                                              \
    "To: Bob <bob@example.net>, carol@example.com\r\n"                                             \
    "Cc: dave@example.com,\r\n Bob <BOB@example.net>\r\n"                                          \
    "Bcc: eve@example.com\r\n"                                                                     \
    "Subject: =?UTF-8?B?w6l0w6k=?=\r\n"                                                            \
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"                                                     \
    "Message-ID: <m1@example.org>\r\n"
#define MSG_BODY "\r\nHello <b> & bye\r\n"

START_TEST(test_recipients_and_bcc)
{
    cmdtest_t t;
    send_mail(&t, "c1", 1, MSG_HEAD MSG_BODY);
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_ptr_null(t.resp.doc); /* success: an empty 200 */
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_str_eq(fake.sender, IOT_ACCT);
    ck_assert_str_eq(fake.rcpts,
                     "bob@example.net,carol@example.com,dave@example.com,eve@example.com");
    /* the message as sent, byte for byte, minus the Bcc line */
    ck_assert_str_eq(fake.msg, "From: Ann <ANN@Example.org>\r\n"
                               "To: Bob <bob@example.net>, carol@example.com\r\n"
                               "Cc: dave@example.com,\r\n Bob <BOB@example.net>\r\n"
                               "Subject: =?UTF-8?B?w6l0w6k=?=\r\n"
                               "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"
                               "Message-ID: <m1@example.org>\r\n" MSG_BODY);
    /* one copy in Sent, read, with the Bcc */
    ck_assert_int_eq(iot_count("Sent"), 1);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_sent_copy_keeps_bcc)
{
    char path[900], buf[4096];
    FILE *f;
    size_t n;
    cmdtest_t t;
    send_mail(&t, "c2", 1, MSG_HEAD MSG_BODY);
    ck_assert_ptr_null(t.resp.doc);
    snprintf(path, sizeof path, "ls %s/.Sent/cur/* | head -1", iot_mbox);
    f = popen(path, "r");
    ck_assert_ptr_nonnull(fgets(buf, sizeof buf, f));
    pclose(f);
    buf[strcspn(buf, "\n")] = '\0';
    ck_assert_msg(strstr(buf, ":2,S") != NULL, "not marked read: %s", buf);
    f = fopen(buf, "rb");
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    ck_assert_str_eq(buf, MSG_HEAD MSG_BODY);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_no_save_no_sent_copy)
{
    cmdtest_t t;
    send_mail(&t, "c3", 0, MSG_HEAD MSG_BODY);
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_int_eq(iot_count("Sent"), 0);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_missing_from_gets_account)
{
    cmdtest_t t;
    send_mail(&t, "c4", 0, "To: bob@example.net\r\nSubject: x\r\n\r\nbody\r\n");
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_ptr_nonnull(strstr(fake.msg, "From: " IOT_ACCT "\r\n"));
    ck_assert_ptr_nonnull(strstr(fake.msg, "\r\nDate: "));
    ck_assert_ptr_nonnull(strstr(fake.msg, "To: bob@example.net\r\nSubject: x\r\n\r\nbody\r\n"));
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_other_from_refused)
{
    cmdtest_t t;
    send_mail(&t, "c5", 1, "From: mallory@example.org\r\nTo: bob@example.net\r\n\r\nx\r\n");
    ck_assert_str_eq(status(&t), "130");
    cmdtest_free(&t);
    send_mail(&t, "c6", 1,
              "From: ann@example.org, mallory@example.org\r\nTo: bob@example.net\r\n\r\nx\r\n");
    ck_assert_str_eq(status(&t), "130");
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 0);
    ck_assert_int_eq(iot_count("Sent"), 0);
}
END_TEST

START_TEST(test_client_id_resend_not_resubmitted)
{
    cmdtest_t t;
    send_mail(&t, "same", 1, MSG_HEAD MSG_BODY);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    send_mail(&t, "same", 1, MSG_HEAD MSG_BODY);
    ck_assert_str_eq(status(&t), "118");
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_int_eq(iot_count("Sent"), 1);
    /* another ClientId is sent */
    send_mail(&t, "other", 0, MSG_HEAD MSG_BODY);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 2);
}
END_TEST

START_TEST(test_client_ids_bounded)
{
    cmdtest_t t;
    int i;
    for (i = 0; i <= 64; i++) {
        send_mail(&t, apr_psprintf(unit_pool, "id%d", i), 0, MSG_HEAD MSG_BODY);
        ck_assert_ptr_null(t.resp.doc);
        cmdtest_free(&t);
    }
    /* the newest are remembered, the oldest forgotten */
    send_mail(&t, "id64", 0, MSG_HEAD MSG_BODY);
    ck_assert_str_eq(status(&t), "118");
    cmdtest_free(&t);
    send_mail(&t, "id1", 0, MSG_HEAD MSG_BODY);
    ck_assert_str_eq(status(&t), "118");
    cmdtest_free(&t);
    send_mail(&t, "id0", 0, MSG_HEAD MSG_BODY);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 66);
}
END_TEST

START_TEST(test_mta_failure)
{
    cmdtest_t t;
    fake.result = AS_OUTBOUND_REFUSED;
    send_mail(&t, "f1", 1, MSG_HEAD MSG_BODY);
    ck_assert_str_eq(status(&t), "120");
    cmdtest_free(&t);
    ck_assert_int_eq(iot_count("Sent"), 0);
    fake.result = AS_OUTBOUND_TIMEOUT;
    send_mail(&t, "f1", 1, MSG_HEAD MSG_BODY);
    ck_assert_str_eq(status(&t), "120");
    cmdtest_free(&t);
    ck_assert_int_eq(iot_count("Sent"), 0);
    /* the phone's retry with the same ClientId goes out once it works */
    fake.result = AS_OUTBOUND_OK;
    send_mail(&t, "f1", 1, MSG_HEAD MSG_BODY);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 3);
    ck_assert_int_eq(iot_count("Sent"), 1);
}
END_TEST

/* The fake outbound of test_concurrent_client_id: while the first request
 * is being submitted, the same ClientId arrives again (a phone retrying on
 * another connection): it must not be submitted. */
static const char *nested_status;
static int nested_calls;

static as_outbound_result_t nested_submit(const as_outbound_t *ob, apr_pool_t *p,
                                          const char *sender, const apr_array_header_t *r,
                                          const char *msg, apr_size_t len, const char **words)
{
    cmdtest_t t2;
    nested_calls++;
    if (nested_calls == 1) {
        send_mail(&t2, "race", 1, MSG_HEAD MSG_BODY);
        nested_status = apr_pstrdup(unit_pool, status(&t2));
        cmdtest_free(&t2);
    }
    return fake_submit(ob, p, sender, r, msg, len, words);
}

START_TEST(test_concurrent_client_id)
{
    static as_outbound_t nested_ob = {nested_submit, &fake};
    as_sendmail_id_t st;
    cmdtest_t t;
    int i;

    iot_conf.outbound = &nested_ob;
    nested_calls = 0;
    send_mail(&t, "race", 1, MSG_HEAD MSG_BODY);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    ck_assert_str_eq(nested_status, "111"); /* retry later, not "already sent" */
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_int_eq(iot_count("Sent"), 1);
    /* afterwards the reservation is the "sent" record */
    ck_assert_int_eq(as_sendmail_sent_reserve(db, IOT_ACCT, IOT_DEV, "race", &st), APR_SUCCESS);
    ck_assert_int_eq(st, AS_SM_ID_SENT);
    /* the record API: reserve, busy, release, reserve again, note */
    ck_assert_int_eq(as_sendmail_sent_reserve(db, IOT_ACCT, IOT_DEV, "r2", &st), APR_SUCCESS);
    ck_assert_int_eq(st, AS_SM_ID_NEW);
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(as_sendmail_sent_reserve(db, IOT_ACCT, IOT_DEV, "r2", &st), APR_SUCCESS);
        ck_assert_int_eq(st, AS_SM_ID_BUSY);
    }
    ck_assert_int_eq(as_sendmail_sent_reserve(db, IOT_ACCT, "OTHERDEV", "r2", &st), APR_SUCCESS);
    ck_assert_int_eq(st, AS_SM_ID_NEW); /* ClientIds are per device */
    ck_assert_int_eq(as_sendmail_sent_release(db, IOT_ACCT, IOT_DEV, "r2"), APR_SUCCESS);
    ck_assert_int_eq(as_sendmail_sent_reserve(db, IOT_ACCT, IOT_DEV, "r2", &st), APR_SUCCESS);
    ck_assert_int_eq(st, AS_SM_ID_NEW);
    ck_assert_int_eq(as_sendmail_sent_note(db, IOT_ACCT, IOT_DEV, "r2"), APR_SUCCESS);
    ck_assert_int_eq(as_sendmail_sent_reserve(db, IOT_ACCT, IOT_DEV, "r2", &st), APR_SUCCESS);
    ck_assert_int_eq(st, AS_SM_ID_SENT);
}
END_TEST

/* Threads reserving one ClientId at once: exactly one wins. */
#define RACERS 8
static as_sendmail_id_t racer_state[RACERS];

static void *racer(void *arg)
{
    int i = (int)(intptr_t)arg;
    if (as_sendmail_sent_reserve(db, IOT_ACCT, IOT_DEV, "many", &racer_state[i]) != APR_SUCCESS) {
        racer_state[i] = (as_sendmail_id_t)-1;
    }
    return NULL;
}

START_TEST(test_client_id_reserve_threads)
{
    pthread_t th[RACERS];
    int i, winners = 0, busy = 0;
    for (i = 0; i < RACERS; i++) {
        ck_assert_int_eq(pthread_create(&th[i], NULL, racer, (void *)(intptr_t)i), 0);
    }
    for (i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        winners += racer_state[i] == AS_SM_ID_NEW;
        busy += racer_state[i] == AS_SM_ID_BUSY;
    }
    ck_assert_int_eq(winners, 1);
    ck_assert_int_eq(busy, RACERS - 1);
}
END_TEST

START_TEST(test_size_bound)
{
    cmdtest_t t;
    iot_conf.max_message_size = 100;
    send_mail(&t, "s1", 1, MSG_HEAD MSG_BODY);
    ck_assert_str_eq(status(&t), "122");
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 0);
    iot_conf.max_message_size = 4096;
    send_mail(&t, "s1", 1, MSG_HEAD MSG_BODY);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_bad_messages)
{
    cmdtest_t t;
    send_mail(&t, "b1", 0, "To: \r\nSubject: none\r\n\r\nx\r\n");
    ck_assert_str_eq(status(&t), "119");
    cmdtest_free(&t);
    send_mail(&t, "b2", 0, "no header section at all");
    ck_assert_str_eq(status(&t), "107");
    cmdtest_free(&t);
    send_mail(&t, "b3", 0, "To: \"-oQ/tmp\"@x y@z\r\n\r\nx\r\n");
    ck_assert_int_ne(atoi(status(&t)), 0);
    cmdtest_free(&t);
    send_mail(&t, "", 0, MSG_HEAD MSG_BODY);
    ck_assert_str_eq(status(&t), "103");
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 0);
}
END_TEST

START_TEST(test_email_off)
{
    iot_opts_t o = {NULL, 1, 0, 0, NULL};
    cmdtest_t t;
    o.db = db;
    iot_run(&t, as_cmd_sendmail, "SendMail", &o, request("e1", 1, MSG_HEAD MSG_BODY));
    ck_assert_str_eq(status(&t), "130");
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 0);
}
END_TEST

/* The 12.1 form: the message as the body, SaveInSent in the request line,
 * HTTP statuses. */
static void send12(cmdtest_t *t, int save, const char *mime)
{
    fakeob_request12(t, "SendMail", save, mime);
    t->rv = as_cmd_sendmail(&t->req, &t->resp);
}

START_TEST(test_12_1_form)
{
    cmdtest_t t;
    send12(&t, 1, MSG_HEAD MSG_BODY);
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_int_eq(t.resp.http_status, 200);
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_ptr_null(strstr(fake.msg, "Bcc:"));
    ck_assert_int_eq(iot_count("Sent"), 1);
    /* no ClientId: the same message again is sent again */
    send12(&t, -1, MSG_HEAD MSG_BODY);
    ck_assert_int_eq(t.resp.http_status, 200);
    ck_assert_int_eq(fake.calls, 2);
    ck_assert_int_eq(iot_count("Sent"), 1);
    send12(&t, 1, "From: mallory@example.org\r\nTo: bob@example.net\r\n\r\nx\r\n");
    ck_assert_int_eq(t.resp.http_status, 403);
    ck_assert_ptr_null(t.resp.doc);
    send12(&t, 1, NULL);
    ck_assert_int_eq(t.resp.http_status, 400);
    fake.result = AS_OUTBOUND_REFUSED;
    send12(&t, 1, MSG_HEAD MSG_BODY);
    ck_assert_int_eq(t.resp.http_status, 500);
    ck_assert_int_eq(fake.calls, 3);
    ck_assert_int_eq(iot_count("Sent"), 1);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sendmail");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, fakeob_setup, fakeob_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_recipients_and_bcc);
    tcase_add_test(tc, test_sent_copy_keeps_bcc);
    tcase_add_test(tc, test_no_save_no_sent_copy);
    tcase_add_test(tc, test_missing_from_gets_account);
    tcase_add_test(tc, test_other_from_refused);
    tcase_add_test(tc, test_client_id_resend_not_resubmitted);
    tcase_add_test(tc, test_client_ids_bounded);
    tcase_add_test(tc, test_mta_failure);
    tcase_add_test(tc, test_concurrent_client_id);
    tcase_add_test(tc, test_client_id_reserve_threads);
    tcase_add_test(tc, test_size_bound);
    tcase_add_test(tc, test_bad_messages);
    tcase_add_test(tc, test_email_off);
    tcase_add_test(tc, test_12_1_form);
    suite_add_tcase(s, tc);
    return s;
}
