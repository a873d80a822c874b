/* SmartReply and SmartForward with a fake outbound: the reply composed
 * with the quoted original and threading headers, the original marked
 * answered (Maildir R) only after the MTA accepted; the forward with the
 * original's attachment and Dovecot's $Forwarded keyword (existing keywords
 * kept); ReplaceMime sent as is; the source by ServerId, by FolderId and a
 * bare ItemId, missing (150); malformed requests, email off, the size
 * bound, a resent ClientId, and the 12.1 form. */
#include <sys/stat.h>

#include "activesync/as_sync.h"
#include "iotest.h"
#include "testdb.h"
#include "unit.h"

TESTDB_FIXTURE()

#include "fakeoutbound.h" /* after the fixture: it uses testdb_setup() */

#define ORIGINAL                                                                                   \
    "From: Bob <bob@example.net>\r\n"                                                              \
    "To: ann@example.org\r\n"                                                                      \
    "Subject: Plans\r\n"                                                                           \
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"                                                     \
    "Message-ID: <plans@example.net>\r\n"                                                          \
    "MIME-Version: 1.0\r\n"                                                                        \
    "Content-Type: multipart/mixed; boundary=\"b\"\r\n"                                            \
    "\r\n"                                                                                         \
    "--b\r\n"                                                                                      \
    "Content-Type: text/plain; charset=utf-8\r\n"                                                  \
    "\r\n"                                                                                         \
    "Shall we meet?\r\n"                                                                           \
    "--b\r\n"                                                                                      \
    "Content-Type: application/pdf; name=plan.pdf\r\n"                                             \
    "Content-Disposition: attachment; filename=plan.pdf\r\n"                                       \
    "Content-Transfer-Encoding: base64\r\n"                                                        \
    "\r\n"                                                                                         \
    "JVBERi0xLjQK\r\n"                                                                             \
    "--b--\r\n"

#define MINE                                                                                       \
    "From: ann@example.org\r\n"                                                                    \
    "To: bob@example.net\r\n"                                                                      \
    "Bcc: eve@example.com\r\n"                                                                     \
    "Subject: Re: Plans\r\n"                                                                       \
    "\r\n"                                                                                         \
    "Yes, at noon.\r\n"

/* XML text of s (CR and markup escaped). */
static const char *xml_text(const char *s)
{
    char *out = apr_palloc(unit_pool, strlen(s) * 6 + 1), *o = out;
    for (; *s; s++) {
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
    return out;
}

/* source: the XML inside Source; extra: more elements (ReplaceMime ...). */
static void smart(cmdtest_t *t, const char *cmd, const char *client_id, const char *source,
                  const char *extra, const char *mime, int email_off)
{
    iot_opts_t o = {NULL, email_off, 0, 0, db};
    const char *xml = apr_psprintf(unit_pool,
                                   "<%s xmlns=\"ComposeMail:\"><ClientId>%s</ClientId>"
                                   "<Source>%s</Source><SaveInSentItems/>%s<Mime>%s</Mime></%s>",
                                   cmd, client_id, source, extra, xml_text(mime), cmd);
    iot_run(t, !strcmp(cmd, "SmartReply") ? as_cmd_smartreply : as_cmd_smartforward, cmd, &o, xml);
}

static const char *source_of(const char *folder, const char *item)
{
    return apr_psprintf(unit_pool, "<FolderId>%s</FolderId><ItemId>%s</ItemId>", folder,
                        as_sync_serverid(unit_pool, folder, item));
}

/* The reply's Status (a macro: a failure names the test's line). */
#define status(t)                                                                                  \
    (ck_assert_msg((t)->resp.doc != NULL, "no reply document (HTTP %d, %d submitted)",             \
                   (t)->resp.http_status, fake.calls),                                             \
     xp((t)->resp.doc, "/*/*[local-name()='Status']"))

static unsigned flags_of(const char *folder, const char *item)
{
    as_store_t *st;
    as_store_item_t it;
    ck_assert_int_eq(as_maildir_open(unit_pool, iot_mbox, IOT_ACCT, NULL, 0, NULL, &st),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_stat_item(st, folder, item, unit_pool, &it), APR_SUCCESS);
    return it.flags;
}

static const char *read_file(const char *path)
{
    char buf[4096];
    FILE *f = fopen(path, "rb");
    size_t n;
    if (!f) {
        return NULL;
    }
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return apr_pstrdup(unit_pool, buf);
}

START_TEST(test_reply_composed_and_marked)
{
    const char *item = iot_put("", "cur", 1, "2,S", ORIGINAL, strlen(ORIGINAL));
    const char *folder = iot_folder("");
    cmdtest_t t;

    smart(&t, "SmartReply", "r1", source_of(folder, item), "", MINE, 0);
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_str_eq(fake.rcpts, "bob@example.net,eve@example.com");
    ck_assert_ptr_nonnull(strstr(fake.msg, "In-Reply-To: <plans@example.net>\r\n"));
    ck_assert_ptr_nonnull(strstr(fake.msg, "References: <plans@example.net>\r\n"));
    ck_assert_ptr_nonnull(strstr(fake.msg, "Yes, at noon.\r\n\r\n"
                                           "On Mon, 7 Dec 2026 10:00:00 +0000, Bob wrote:\r\n"
                                           "> Shall we meet?\r\n"));
    ck_assert_ptr_null(strstr(fake.msg, "Bcc:"));
    ck_assert_ptr_null(strstr(fake.msg, "plan.pdf")); /* a reply carries no attachment */
    ck_assert_int_eq(iot_count("Sent"), 1);
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_SEEN | AS_STORE_ANSWERED);
    cmdtest_free(&t);
    /* the resent ClientId: not submitted again */
    smart(&t, "SmartReply", "r1", source_of(folder, item), "", MINE, 0);
    ck_assert_str_eq(status(&t), "118");
    ck_assert_int_eq(fake.calls, 1);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_forward_keyword_and_attachment)
{
    const char *item = iot_put("Work", "new", 2, NULL, ORIGINAL, strlen(ORIGINAL));
    const char *folder = iot_folder("Work");
    const char *kw = apr_psprintf(unit_pool, "%s/.Work/dovecot-keywords", iot_mbox);
    const char *fwd = "From: ann@example.org\r\nTo: carol@example.com\r\nSubject: Fwd: Plans\r\n"
                      "\r\nFor you.\r\n";
    FILE *f = fopen(kw, "w");
    cmdtest_t t;

    /* Dovecot already uses a and b */
    ck_assert_ptr_nonnull(f);
    fputs("0 Junk\n1 $Label1\n", f);
    fclose(f);
    smart(&t, "SmartForward", "f1", source_of(folder, item), "", fwd, 0);
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_int_eq(fake.calls, 1);
    ck_assert_str_eq(fake.rcpts, "carol@example.com");
    ck_assert_ptr_nonnull(strstr(fake.msg, "For you.\r\n\r\n---------- Forwarded message"));
    ck_assert_ptr_nonnull(strstr(fake.msg, "Shall we meet?"));
    ck_assert_ptr_nonnull(strstr(fake.msg, "filename=plan.pdf"));
    ck_assert_ptr_nonnull(strstr(fake.msg, "JVBERi0xLjQK"));
    ck_assert_ptr_null(strstr(fake.msg, "In-Reply-To"));
    ck_assert_str_eq(read_file(kw), "0 Junk\n1 $Label1\n2 $Forwarded\n");
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_FORWARDED);
    cmdtest_free(&t);
    /* the file name carries the letter c */
    f = popen(apr_psprintf(unit_pool, "ls %s/.Work/cur", iot_mbox), "r");
    {
        char name[512] = "";
        ck_assert_ptr_nonnull(fgets(name, sizeof name, f));
        ck_assert_msg(strstr(name, ":2,c\n") != NULL, "%s", name);
    }
    pclose(f);
}
END_TEST

START_TEST(test_forward_creates_keywords_file)
{
    const char *item = iot_put("", "cur", 3, "2,Sa", ORIGINAL, strlen(ORIGINAL));
    const char *folder = iot_folder("");
    cmdtest_t t;

    smart(&t, "SmartForward", "f2", source_of(folder, item), "", MINE, 0);
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_str_eq(read_file(apr_psprintf(unit_pool, "%s/dovecot-keywords", iot_mbox)),
                     "0 $Forwarded\n");
    /* the letter a the file already had now means $Forwarded: S kept */
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_SEEN | AS_STORE_FORWARDED);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_replace_mime_as_is)
{
    const char *item = iot_put("", "cur", 4, "2,S", ORIGINAL, strlen(ORIGINAL));
    const char *folder = iot_folder("");
    cmdtest_t t;

    smart(&t, "SmartReply", "m1", source_of(folder, item), "<ReplaceMime/>", MINE, 0);
    ck_assert_ptr_null(t.resp.doc);
    /* the phone's bytes minus Bcc (and a Date added, as SendMail does) */
    ck_assert_ptr_nonnull(strstr(fake.msg, "\r\nFrom: ann@example.org\r\nTo: bob@example.net\r\n"
                                           "Subject: Re: Plans\r\n\r\nYes, at noon.\r\n"));
    ck_assert_ptr_null(strstr(fake.msg, "Shall we meet"));
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_SEEN | AS_STORE_ANSWERED);
    cmdtest_free(&t);
    /* still SendMail's From check */
    smart(&t, "SmartReply", "m2", source_of(folder, item), "<ReplaceMime/>",
          "From: mallory@example.org\r\nTo: bob@example.net\r\n\r\nx\r\n", 0);
    ck_assert_str_eq(status(&t), "130");
    ck_assert_int_eq(fake.calls, 1);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_bare_item_id_in_folder)
{
    const char *item = iot_put("Work.Sub", "cur", 5, "2,", ORIGINAL, strlen(ORIGINAL));
    const char *folder = iot_folder("Work.Sub");
    cmdtest_t t;

    smart(&t, "SmartReply", "b1",
          apr_psprintf(unit_pool, "<FolderId>%s</FolderId><ItemId>%s</ItemId>", folder, item), "",
          MINE, 0);
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_ANSWERED);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_refusals)
{
    const char *item = iot_put("", "cur", 6, "2,S", ORIGINAL, strlen(ORIGINAL));
    const char *folder = iot_folder("");
    cmdtest_t t;

    /* a source that does not exist, a malformed one, a LongId this server never gave */
    smart(&t, "SmartReply", "n1", source_of(folder, "0123456789abc"), "", MINE, 0);
    ck_assert_str_eq(status(&t), "150");
    cmdtest_free(&t);
    smart(&t, "SmartForward", "n2", "<FolderId>x</FolderId><ItemId>a:b:c</ItemId>", "", MINE, 0);
    ck_assert_str_eq(status(&t), "150");
    cmdtest_free(&t);
    smart(&t, "SmartForward", "n3", "<LongId>RgAAAAD</LongId>", "", MINE, 0);
    ck_assert_str_eq(status(&t), "150");
    cmdtest_free(&t);
    /* no Source, no ClientId */
    smart(&t, "SmartReply", "n4", "", "", MINE, 0);
    ck_assert_str_eq(status(&t), "103");
    cmdtest_free(&t);
    smart(&t, "SmartReply", "", source_of(folder, item), "", MINE, 0);
    ck_assert_str_eq(status(&t), "103");
    cmdtest_free(&t);
    /* email off */
    smart(&t, "SmartReply", "n5", source_of(folder, item), "", MINE, 1);
    ck_assert_str_eq(status(&t), "130");
    cmdtest_free(&t);
    /* not a message */
    smart(&t, "SmartReply", "n6", source_of(folder, item), "", "just text", 0);
    ck_assert_str_eq(status(&t), "107");
    cmdtest_free(&t);
    /* over the bound with the original (the phone's message alone fits) */
    iot_conf.max_message_size = strlen(MINE) + 20;
    smart(&t, "SmartReply", "n7", source_of(folder, item), "", MINE, 0);
    ck_assert_str_eq(status(&t), "122");
    cmdtest_free(&t);
    iot_conf.max_message_size = 0;
    ck_assert_int_eq(fake.calls, 0);
    ck_assert_int_eq(iot_count("Sent"), 0);
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_SEEN);
}
END_TEST

START_TEST(test_mta_failure_leaves_original)
{
    const char *item = iot_put("", "cur", 7, "2,S", ORIGINAL, strlen(ORIGINAL));
    const char *folder = iot_folder("");
    cmdtest_t t;

    fake.result = AS_OUTBOUND_REFUSED;
    smart(&t, "SmartForward", "e1", source_of(folder, item), "", MINE, 0);
    ck_assert_str_eq(status(&t), "120");
    cmdtest_free(&t);
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_SEEN);
    ck_assert_int_eq(iot_count("Sent"), 0);
    /* the retry goes out and marks it */
    fake.result = AS_OUTBOUND_OK;
    smart(&t, "SmartForward", "e1", source_of(folder, item), "", MINE, 0);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    ck_assert_int_eq(fake.calls, 2);
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_SEEN | AS_STORE_FORWARDED);
}
END_TEST

static void smart12(cmdtest_t *t, int reply, const char *item_id, const char *coll,
                    const char *mime)
{
    fakeob_request12(t, reply ? "SmartReply" : "SmartForward", 1, mime);
    t->line.item_id = item_id;
    t->line.collection_id = coll;
    t->rv = (reply ? as_cmd_smartreply : as_cmd_smartforward)(&t->req, &t->resp);
}

START_TEST(test_12_1_form)
{
    const char *item = iot_put("", "cur", 8, "2,S", ORIGINAL, strlen(ORIGINAL));
    const char *folder = iot_folder("");
    cmdtest_t t;

    smart12(&t, 1, as_sync_serverid(unit_pool, folder, item), folder, MINE);
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_int_eq(t.resp.http_status, 200);
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_ptr_nonnull(strstr(fake.msg, "> Shall we meet?"));
    ck_assert_int_eq(iot_count("Sent"), 1);
    ck_assert_uint_eq(flags_of(folder, item), AS_STORE_SEEN | AS_STORE_ANSWERED);
    smart12(&t, 0, "nothere", folder, MINE);
    ck_assert_int_eq(t.resp.http_status, 404);
    smart12(&t, 0, NULL, folder, MINE);
    ck_assert_int_eq(t.resp.http_status, 400);
    smart12(&t, 0, as_sync_serverid(unit_pool, folder, item), folder,
            "From: mallory@example.org\r\nTo: b@example.net\r\n\r\nx\r\n");
    ck_assert_int_eq(t.resp.http_status, 403);
    ck_assert_int_eq(fake.calls, 1);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("smart");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, fakeob_setup, fakeob_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_reply_composed_and_marked);
    tcase_add_test(tc, test_forward_keyword_and_attachment);
    tcase_add_test(tc, test_forward_creates_keywords_file);
    tcase_add_test(tc, test_replace_mime_as_is);
    tcase_add_test(tc, test_bare_item_id_in_folder);
    tcase_add_test(tc, test_refusals);
    tcase_add_test(tc, test_mta_failure_leaves_original);
    tcase_add_test(tc, test_12_1_form);
    suite_add_tcase(s, tc);
    return s;
}
