/* SmartReply / SmartForward composition: a plain reply quotes the original
 * under "On DATE, NAME wrote:", an HTML reply puts the original's HTML in a
 * blockquote, a plain reply to an HTML original quotes its text, the
 * threading headers (kept when the phone set them), a forward carries the
 * original's attachments (not its inline parts) and its text under the
 * forward block, non-ASCII text in other charsets, line ends, the size
 * bound and unparsable input. */
#include <string.h>

#include <apr_strings.h>
#include <gmime/gmime.h>

#include "activesync/as_mime.h"
#include "activesync/as_mime_compose.h"
#include "unit.h"

static void setup(void)
{
    unit_pool_setup();
    as_mime_init();
}

static void teardown(void)
{
    unit_pool_teardown();
}

#define ORIG_PLAIN                                                                                 \
    "From: =?UTF-8?Q?J=C3=BCrgen_M=C3=BCller?= <juergen@example.net>\r\n"                          \
    "To: Ann <ann@example.org>\r\n"                                                                \
    "Subject: Lunch\r\n"                                                                           \
    "Date: Mon, 7 Dec 2026 10:00:00 +0000\r\n"                                                     \
    "Message-ID: <orig@example.net>\r\n"                                                           \
    "References: <root@example.net>\r\n"                                                           \
    "Content-Type: text/plain; charset=iso-8859-1\r\n"                                             \
    "Content-Transfer-Encoding: 8bit\r\n"                                                          \
    "\r\n"                                                                                         \
    "Gr\xfc\xdf"                                                                                   \
    "e,\r\n"                                                                                       \
    "> older\r\n"                                                                                  \
    "\r\n"                                                                                         \
    "see you\r\n"

#define ORIG_HTML_ATT                                                                              \
    "From: Bob <bob@example.net>\r\n"                                                              \
    "To: ann@example.org\r\n"                                                                      \
    "Cc: carol@example.com\r\n"                                                                    \
    "Subject: Report\r\n"                                                                          \
    "Date: Tue, 8 Dec 2026 09:00:00 +0000\r\n"                                                     \
    "Message-ID: <rep@example.net>\r\n"                                                            \
    "MIME-Version: 1.0\r\n"                                                                        \
    "Content-Type: multipart/mixed; boundary=\"B1\"\r\n"                                           \
    "\r\n"                                                                                         \
    "--B1\r\n"                                                                                     \
    "Content-Type: multipart/alternative; boundary=\"B2\"\r\n"                                     \
    "\r\n"                                                                                         \
    "--B2\r\n"                                                                                     \
    "Content-Type: text/plain; charset=utf-8\r\n"                                                  \
    "\r\n"                                                                                         \
    "The report text.\r\n"                                                                         \
    "--B2\r\n"                                                                                     \
    "Content-Type: text/html; charset=utf-8\r\n"                                                   \
    "\r\n"                                                                                         \
    "<html><head><title>t</title></head><body bgcolor=\"white\"><p>The <b>report</b></p>"          \
    "</body></html>\r\n"                                                                           \
    "--B2--\r\n"                                                                                   \
    "--B1\r\n"                                                                                     \
    "Content-Type: application/pdf; name=\"r.pdf\"\r\n"                                            \
    "Content-Disposition: attachment; filename=\"r.pdf\"\r\n"                                      \
    "Content-Transfer-Encoding: base64\r\n"                                                        \
    "\r\n"                                                                                         \
    "JVBERi0xLjQKJcOkw7zDtsOfCg==\r\n"                                                             \
    "--B1\r\n"                                                                                     \
    "Content-Type: image/png\r\n"                                                                  \
    "Content-Disposition: inline\r\n"                                                              \
    "Content-ID: <logo@x>\r\n"                                                                     \
    "Content-Transfer-Encoding: base64\r\n"                                                        \
    "\r\n"                                                                                         \
    "iVBORw0KGgo=\r\n"                                                                             \
    "--B1--\r\n"

#define MINE_PLAIN                                                                                 \
    "From: ann@example.org\r\n"                                                                    \
    "To: juergen@example.net\r\n"                                                                  \
    "Bcc: eve@example.com\r\n"                                                                     \
    "Subject: Re: Lunch\r\n"                                                                       \
    "Content-Type: text/plain; charset=utf-8\r\n"                                                  \
    "Content-Transfer-Encoding: 8bit\r\n"                                                          \
    "\r\n"                                                                                         \
    "Ja, gern! \xc3\xa9t\xc3\xa9\r\n"

#define MINE_HTML                                                                                  \
    "From: ann@example.org\r\n"                                                                    \
    "To: bob@example.net\r\n"                                                                      \
    "Subject: Fwd: Report\r\n"                                                                     \
    "Content-Type: text/html; charset=utf-8\r\n"                                                   \
    "\r\n"                                                                                         \
    "<html><body><p>See below</p></body></html>\r\n"

typedef struct composed_t {
    const char *raw;
    apr_size_t len;
    GMimeMessage *m;
    const char *plain, *html; /* decoded UTF-8, CRs removed */
    int attachments;
    const char *att_names;
} composed_t;

static const char *no_cr(const char *s)
{
    char *o = apr_pstrdup(unit_pool, s), *w = o;
    for (; *s; s++) {
        if (*s != '\r') {
            *w++ = *s;
        }
    }
    *w = '\0';
    return o;
}

static void walk(GMimeObject *parent, GMimeObject *part, gpointer data)
{
    composed_t *c = data;
    GMimeContentType *ct = g_mime_object_get_content_type(part);
    (void)parent;
    if (GMIME_IS_TEXT_PART(part) && g_mime_object_get_disposition(part) == NULL &&
        g_mime_content_type_is_type(ct, "text", "plain")) {
        char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        c->plain = no_cr(t);
        g_free(t);
    } else if (GMIME_IS_TEXT_PART(part) && g_mime_content_type_is_type(ct, "text", "html")) {
        char *t = g_mime_text_part_get_text(GMIME_TEXT_PART(part));
        c->html = no_cr(t);
        g_free(t);
    } else if (GMIME_IS_PART(part)) {
        const char *fn = g_mime_part_get_filename(GMIME_PART(part));
        c->attachments++;
        c->att_names =
            apr_pstrcat(unit_pool, c->att_names ? c->att_names : "", fn ? fn : "?", ";", NULL);
    }
}

static void compose(composed_t *c, as_compose_kind_t kind, const char *mine, const char *orig)
{
    const char *why = NULL;
    GMimeStream *s;
    GMimeParser *parser;

    memset(c, 0, sizeof(*c));
    ck_assert_int_eq(as_mime_compose(unit_pool, kind, mine, strlen(mine), orig, strlen(orig), 0,
                                     &c->raw, &c->len, &why),
                     AS_COMPOSE_OK);
    s = g_mime_stream_mem_new_with_buffer(c->raw, c->len);
    parser = g_mime_parser_new_with_stream(s);
    c->m = g_mime_parser_construct_message(parser, NULL);
    g_object_unref(parser);
    g_object_unref(s);
    ck_assert_ptr_nonnull(c->m);
    g_mime_message_foreach(c->m, walk, c);
}

static const char *header(composed_t *c, const char *name)
{
    return g_mime_object_get_header(GMIME_OBJECT(c->m), name);
}

START_TEST(test_reply_plain_quotes)
{
    composed_t c;
    compose(&c, AS_COMPOSE_REPLY, MINE_PLAIN, ORIG_PLAIN);
    ck_assert_ptr_nonnull(c.plain);
    ck_assert_ptr_null(c.html);
    ck_assert_str_eq(c.plain,
                     "Ja, gern! \xc3\xa9t\xc3\xa9\n\n"
                     "On Mon, 7 Dec 2026 10:00:00 +0000, J\xc3\xbcrgen M\xc3\xbcller wrote:\n"
                     "> Gr\xc3\xbc\xc3\x9f"
                     "e,\n"
                     ">> older\n"
                     ">\n"
                     "> see you\n");
    /* threading from the original, the phone's headers kept (Bcc too:
     * SendMail's checks strip it afterwards) */
    ck_assert_str_eq(header(&c, "In-Reply-To"), "<orig@example.net>");
    ck_assert_str_eq(header(&c, "References"), "<root@example.net> <orig@example.net>");
    ck_assert_str_eq(header(&c, "Subject"), "Re: Lunch");
    ck_assert_str_eq(header(&c, "Bcc"), "eve@example.com");
    ck_assert_int_eq(c.attachments, 0);
    /* CRLF like the phone's message, and only ASCII on the wire */
    ck_assert_ptr_nonnull(strstr(c.raw, "\r\nSubject: Re: Lunch\r\n"));
    ck_assert_ptr_null(strstr(c.raw, "\n\n"));
    g_object_unref(c.m);
}
END_TEST

START_TEST(test_reply_keeps_phone_threading)
{
    composed_t c;
    const char *mine = "From: ann@example.org\nTo: j@example.net\nIn-Reply-To: <x@y>\n"
                       "References: <w@y> <x@y>\nSubject: Re\n\nok\n";
    compose(&c, AS_COMPOSE_REPLY, mine, ORIG_PLAIN);
    ck_assert_str_eq(header(&c, "In-Reply-To"), "<x@y>");
    ck_assert_str_eq(header(&c, "References"), "<w@y> <x@y>");
    /* LF like the phone's message */
    ck_assert_ptr_null(strchr(c.raw, '\r'));
    ck_assert_ptr_nonnull(strstr(c.plain, "ok\n\nOn Mon"));
    g_object_unref(c.m);
}
END_TEST

START_TEST(test_reply_html_blockquote)
{
    composed_t c;
    compose(&c, AS_COMPOSE_REPLY, MINE_HTML, ORIG_HTML_ATT);
    ck_assert_ptr_nonnull(c.html);
    ck_assert_ptr_null(c.plain); /* the phone sent HTML only: HTML only */
    ck_assert_str_eq(c.html, "<html><body><p>See below</p><br><div>On Tue, 8 Dec 2026 09:00:00 "
                             "+0000, Bob wrote:</div><blockquote type=\"cite\" "
                             "style=\"margin:0 0 0 .8ex;border-left:1px solid #ccc;"
                             "padding-left:1ex\"><p>The <b>report</b></p></blockquote>"
                             "</body></html>\n");
    ck_assert_int_eq(c.attachments, 0); /* a reply carries no attachment */
    g_object_unref(c.m);
}
END_TEST

START_TEST(test_reply_plain_to_html_original)
{
    composed_t c;
    const char *orig = "From: b@example.net\r\nSubject: x\r\nMessage-ID: <h@x>\r\n"
                       "Content-Type: text/html\r\n\r\n<p>Only <i>HTML</i> here</p>\r\n";
    compose(&c, AS_COMPOSE_REPLY, MINE_PLAIN, orig);
    ck_assert_ptr_null(c.html);
    ck_assert_ptr_nonnull(strstr(c.plain, "b@example.net wrote:\n> Only HTML here"));
    ck_assert_str_eq(header(&c, "References"), "<h@x>");
    g_object_unref(c.m);
}
END_TEST

START_TEST(test_forward_attachments_and_block)
{
    composed_t c;
    compose(&c, AS_COMPOSE_FORWARD, MINE_PLAIN, ORIG_HTML_ATT);
    ck_assert_ptr_nonnull(c.plain);
    ck_assert_str_eq(c.plain, "Ja, gern! \xc3\xa9t\xc3\xa9\n\n"
                              "---------- Forwarded message ----------\n"
                              "From: Bob <bob@example.net>\n"
                              "Date: Tue, 8 Dec 2026 09:00:00 +0000\n"
                              "Subject: Report\n"
                              "To: ann@example.org\n"
                              "Cc: carol@example.com\n"
                              "\n"
                              "The report text.\n");
    /* the PDF, not the inline image */
    ck_assert_int_eq(c.attachments, 1);
    ck_assert_str_eq(c.att_names, "r.pdf;");
    ck_assert_ptr_nonnull(strstr(c.raw, "JVBERi0xLjQKJcOkw7zDtsOfCg=="));
    ck_assert_ptr_null(header(&c, "In-Reply-To"));
    g_object_unref(c.m);
}
END_TEST

START_TEST(test_forward_html_and_phone_attachment)
{
    composed_t c;
    const char *mine = "From: ann@example.org\r\nTo: bob@example.net\r\nSubject: Fwd\r\n"
                       "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=Q\r\n\r\n"
                       "--Q\r\nContent-Type: multipart/alternative; boundary=R\r\n\r\n"
                       "--R\r\nContent-Type: text/plain\r\n\r\nmine\r\n"
                       "--R\r\nContent-Type: text/html\r\n\r\n<div>mine</div>\r\n--R--\r\n"
                       "--Q\r\nContent-Type: text/csv; name=a.csv\r\n"
                       "Content-Disposition: attachment; filename=a.csv\r\n\r\n1,2\r\n--Q--\r\n";
    compose(&c, AS_COMPOSE_FORWARD, mine, ORIG_HTML_ATT);
    ck_assert_ptr_nonnull(c.plain);
    ck_assert_ptr_nonnull(c.html);
    ck_assert_ptr_nonnull(strstr(c.plain, "mine\n\n---------- Forwarded message"));
    ck_assert_msg(strstr(c.html, "<div>mine</div><br><div>---------- Forwarded message "
                                 "----------<br>From: Bob &lt;bob@example.net&gt;<br>"),
                  "%s", c.html);
    ck_assert_ptr_nonnull(strstr(c.html, "<div><p>The <b>report</b></p></div>"));
    ck_assert_int_eq(c.attachments, 2);
    ck_assert_str_eq(c.att_names, "a.csv;r.pdf;");
    g_object_unref(c.m);
}
END_TEST

START_TEST(test_bounds_and_bad_input)
{
    const char *out = NULL, *why = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(as_mime_compose(unit_pool, AS_COMPOSE_REPLY, MINE_PLAIN, strlen(MINE_PLAIN),
                                     ORIG_PLAIN, strlen(ORIG_PLAIN), 100, &out, &len, &why),
                     AS_COMPOSE_TOO_LARGE);
    ck_assert_ptr_null(out);
    ck_assert_ptr_nonnull(why);
    ck_assert_int_eq(as_mime_compose(unit_pool, AS_COMPOSE_REPLY, "no headers at all", 17,
                                     ORIG_PLAIN, strlen(ORIG_PLAIN), 0, &out, &len, &why),
                     AS_COMPOSE_BAD_NEW);
    ck_assert_int_eq(as_mime_compose(unit_pool, AS_COMPOSE_REPLY, "", 0, ORIG_PLAIN,
                                     strlen(ORIG_PLAIN), 0, &out, &len, &why),
                     AS_COMPOSE_BAD_NEW);
    /* an original that is garbage still composes (an empty quote) */
    ck_assert_int_eq(as_mime_compose(unit_pool, AS_COMPOSE_FORWARD, MINE_PLAIN, strlen(MINE_PLAIN),
                                     "\x01\x02", 2, 0, &out, &len, &why),
                     AS_COMPOSE_OK);
    ck_assert_ptr_nonnull(strstr(out, "Forwarded message"));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("mime_compose");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_reply_plain_quotes);
    tcase_add_test(tc, test_reply_keeps_phone_threading);
    tcase_add_test(tc, test_reply_html_blockquote);
    tcase_add_test(tc, test_reply_plain_to_html_original);
    tcase_add_test(tc, test_forward_attachments_and_block);
    tcase_add_test(tc, test_forward_html_and_phone_attachment);
    tcase_add_test(tc, test_bounds_and_bad_input);
    suite_add_tcase(s, tc);
    return s;
}
