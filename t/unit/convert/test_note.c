/* Notes (as_item_codec(AS_CLASS_NOTES)): a VJOURNAL to Subject, Body,
 * Categories, LastModifiedDate and MessageClass and back, the round trip
 * EAS -> iCalendar -> EAS, unknown properties kept across a phone's
 * Change, malformed input, and a Sync reply validated against the EAS
 * schemas. */
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <apr_strings.h>

#include "activesync/as_item_codec.h"
#include "activesync/as_wbxml.h"
#include "activesync/as_xml.h"
#include "mailgen.h"
#include "unit.h"

#define NS_N "Notes:"
#define NS_B "AirSyncBase:"

static const as_item_codec_t *codec;
static xmlDocPtr reply;
static xmlNodePtr commands;
static char dir[512];

static void setup(void)
{
    xmlNodePtr root, coll;
    unit_pool_setup();
    codec = as_item_codec(AS_CLASS_NOTES);
    ck_assert_ptr_nonnull(codec);
    ck_assert_int_eq(codec->cls, AS_CLASS_NOTES);
    reply = as_reply_new("AirSync:", "Sync", &root);
    coll = as_xml_add(as_xml_add(root, "AirSync:", "Collections", NULL), "AirSync:", "Collection",
                      NULL);
    as_xml_add(coll, "AirSync:", "SyncKey", "{5b4c3a2e-0000-4000-8000-000000000001}2");
    as_xml_add(coll, "AirSync:", "CollectionId", "n1");
    as_xml_add(coll, "AirSync:", "Status", "1");
    commands = as_xml_add(coll, "AirSync:", "Commands", NULL);
    mg_tmpdir(dir, sizeof dir, "note");
}

static void teardown(void)
{
    xmlFreeDoc(reply);
    mg_rmtree(dir);
    unit_pool_teardown();
}

static xmlNodePtr new_app(void)
{
    static unsigned seq;
    xmlNodePtr add = as_xml_add(commands, "AirSync:", "Add", NULL);
    as_xml_add(add, "AirSync:", "ServerId", apr_psprintf(unit_pool, "n1:%u", ++seq));
    return as_xml_add(add, "AirSync:", "ApplicationData", NULL);
}

static xmlNodePtr to_eas(const char *ics)
{
    as_item_opts_t o;
    xmlNodePtr app = new_app();
    memset(&o, 0, sizeof o);
    o.protocol = 141;
    ck_assert_int_eq(codec->to_eas(ics, strlen(ics), &o, app, unit_pool), APR_SUCCESS);
    return app;
}

static char *from_eas(xmlNodePtr app, const char *old)
{
    char *out = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(
        codec->from_eas(app, 141, old, old ? strlen(old) : 0, "note-uid", unit_pool, &out, &len),
        APR_SUCCESS);
    ck_assert_uint_eq(strlen(out), len);
    return out;
}

static const char *field(xmlNodePtr app, const char *ns, const char *name)
{
    xmlNodePtr c = as_xml_child(app, ns, name);
    return c ? as_xml_text(unit_pool, c, NULL) : NULL;
}

#define ck_field(app, ns, name, want)                                                              \
    do {                                                                                           \
        const char *got_ = field(app, ns, name);                                                   \
        ck_assert_msg(got_ && !strcmp(got_, want), "%s: got '%s', want '%s'", name,                \
                      got_ ? got_ : "(none)", want);                                               \
    } while (0)

static const char *categories(xmlNodePtr app)
{
    xmlNodePtr l = as_xml_child(app, NS_N, "Categories"), c;
    const char *r = "";
    for (c = l ? l->children : NULL; c; c = c->next) {
        r = apr_pstrcat(unit_pool, r, *r ? "|" : "", as_xml_text(unit_pool, c, NULL), NULL);
    }
    return l ? r : NULL;
}

static const char journal[] = "BEGIN:VCALENDAR\r\n"
                              "VERSION:2.0\r\n"
                              "PRODID:-//Example//Notes 1.0//EN\r\n"
                              "BEGIN:VJOURNAL\r\n"
                              "UID:j-1@example.com\r\n"
                              "DTSTAMP:20240305T100000Z\r\n"
                              "DTSTART;VALUE=DATE:20240305\r\n"
                              "SUMMARY:Shopping\\, list\r\n"
                              "DESCRIPTION:Milk\\nBread\\; butter\r\n"
                              "CATEGORIES:Home,Errands\r\n"
                              "CATEGORIES:Food\r\n"
                              "LAST-MODIFIED:20240306T081500Z\r\n"
                              "X-NEXTCLOUD-COLOR:#ff0000\r\n"
                              "ATTACH:https://example.com/a.png\r\n"
                              "END:VJOURNAL\r\n"
                              "END:VCALENDAR\r\n";

START_TEST(journal_to_eas)
{
    xmlNodePtr app = to_eas(journal), body;

    ck_field(app, NS_N, "Subject", "Shopping, list");
    ck_field(app, NS_N, "MessageClass", "IPM.StickyNote");
    ck_field(app, NS_N, "LastModifiedDate", "2024-03-06T08:15:00.000Z");
    ck_assert_str_eq(categories(app), "Home|Errands|Food");
    body = as_xml_child(app, NS_B, "Body");
    ck_assert_ptr_nonnull(body);
    ck_field(body, NS_B, "Type", "1");
    ck_field(body, NS_B, "Data", "Milk\r\nBread; butter");
    ck_field(body, NS_B, "Truncated", "0");
    ck_assert_str_eq(codec->uid_of(journal, strlen(journal), unit_pool), "j-1@example.com");
    /* no LAST-MODIFIED: DTSTAMP; no DESCRIPTION: no Body */
    app = to_eas("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nBEGIN:VJOURNAL\r\nUID:x\r\n"
                 "DTSTAMP:20240101T000000Z\r\nSUMMARY:s\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n");
    ck_field(app, NS_N, "LastModifiedDate", "2024-01-01T00:00:00.000Z");
    ck_assert_ptr_null(as_xml_child(app, NS_B, "Body"));
    ck_assert_ptr_null(as_xml_child(app, NS_N, "Categories"));
}
END_TEST

/* The phone's note (what the server sends, so a round trip is comparable). */
static xmlNodePtr phone_note(const char *subject, const char *body, const char *modified)
{
    xmlNodePtr app = new_app(), b, cats;
    as_xml_add(app, NS_N, "Subject", subject);
    b = as_xml_add(app, NS_B, "Body", NULL);
    as_xml_add(b, NS_B, "Type", "1");
    as_xml_add(b, NS_B, "EstimatedDataSize", apr_itoa(unit_pool, (int)strlen(body)));
    as_xml_add(b, NS_B, "Truncated", "0");
    as_xml_add(b, NS_B, "Data", body);
    as_xml_add(app, NS_N, "MessageClass", "IPM.StickyNote");
    as_xml_add(app, NS_N, "LastModifiedDate", modified);
    cats = as_xml_add(app, NS_N, "Categories", NULL);
    as_xml_add(cats, NS_N, "Category", "Work");
    as_xml_add(cats, NS_N, "Category", "A & B; C"); /* (libical splits at commas) */
    return app;
}

/* The elements as "name=content" lines in document order. */
static const char *dump(xmlNodePtr app)
{
    xmlNodePtr c;
    const char *r = "";
    for (c = app->children; c; c = c->next) {
        xmlChar *t = xmlNodeGetContent(c);
        r = apr_psprintf(unit_pool, "%s%s=%s\n", r, (const char *)c->name, (const char *)t);
        xmlFree(t);
    }
    return r;
}

START_TEST(eas_round_trip)
{
    xmlNodePtr in = phone_note("Idea; \"quoted\", \\ backslash", "Line 1\r\n\r\nLine \xc3\xa9 3",
                               "2024-03-05T10:11:12.000Z");
    char *ics = from_eas(in, NULL);

    ck_assert_ptr_nonnull(strstr(ics, "BEGIN:VCALENDAR"));
    ck_assert_ptr_nonnull(strstr(ics, "BEGIN:VJOURNAL"));
    ck_assert_ptr_nonnull(strstr(ics, "UID:note-uid"));
    ck_assert_ptr_nonnull(strstr(ics, "LAST-MODIFIED:20240305T101112Z"));
    ck_assert_ptr_nonnull(strstr(ics, "DTSTAMP:"));
    ck_assert_str_eq(dump(to_eas(ics)), dump(in));
    ck_assert_str_eq(codec->uid_of(ics, strlen(ics), unit_pool), "note-uid");
    /* without a LastModifiedDate the time of the change */
    in = new_app();
    as_xml_add(in, NS_N, "Subject", "s");
    ics = from_eas(in, NULL);
    ck_assert_ptr_nonnull(strstr(ics, "LAST-MODIFIED:"));
    ck_assert_ptr_null(strstr(ics, "DESCRIPTION"));
    /* a new UID when none is given */
    {
        char *out;
        apr_size_t len;
        ck_assert_int_eq(codec->from_eas(in, 141, NULL, 0, NULL, unit_pool, &out, &len),
                         APR_SUCCESS);
        ck_assert_ptr_nonnull(codec->uid_of(out, len, unit_pool));
    }
}
END_TEST

START_TEST(change_keeps_unknown)
{
    xmlNodePtr in = phone_note("Groceries", "Eggs", "2024-04-01T09:00:00.000Z");
    char *ics;

    ics = from_eas(in, journal);
    ck_assert_ptr_nonnull(strstr(ics, "UID:j-1@example.com"));
    ck_assert_ptr_nonnull(strstr(ics, "DTSTART;VALUE=DATE:20240305"));
    ck_assert_ptr_nonnull(strstr(ics, "X-NEXTCLOUD-COLOR:#ff0000"));
    ck_assert_ptr_nonnull(strstr(ics, "ATTACH:https://example.com/a.png"));
    ck_assert_ptr_nonnull(strstr(ics, "PRODID:-//Example//Notes 1.0//EN"));
    ck_assert_ptr_nonnull(strstr(ics, "SUMMARY:Groceries"));
    ck_assert_ptr_nonnull(strstr(ics, "DESCRIPTION:Eggs"));
    ck_assert_ptr_null(strstr(ics, "Shopping"));
    ck_assert_ptr_null(strstr(ics, "Errands"));
    ck_assert_ptr_nonnull(strstr(ics, "LAST-MODIFIED:20240401T090000Z"));
    ck_assert_ptr_null(strstr(ics, "20240306T081500Z"));
    /* no Body in the Change: the stored text stays; no Subject: removed */
    in = new_app();
    ics = from_eas(in, journal);
    ck_assert_ptr_nonnull(strstr(ics, "DESCRIPTION:Milk\\nBread\\; butter"));
    ck_assert_ptr_null(strstr(ics, "SUMMARY"));
    ck_assert_ptr_null(strstr(ics, "CATEGORIES"));
}
END_TEST

START_TEST(malformed_input)
{
    static const char *const bad[] = {
        "",
        "garbage",
        "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:e\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
        "BEGIN:VCARD\r\nFN:x\r\nEND:VCARD\r\n",
        NULL,
    };
    static const char odd[] = "BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nSUMMARY:\xff\xfe\x01z\r\n"
                              "LAST-MODIFIED:notadate\r\nDESCRIPTION;X=\"unterminated:\r\n"
                              "CATEGORIES:,,,\r\nBEGIN:VJOURNAL\r\nBEGIN:VJOURNAL\r\n";
    char *big;
    size_t n = 2 * 1024 * 1024, i;
    xmlNodePtr app;
    int k;

    for (k = 0; bad[k]; k++) {
        app = new_app();
        ck_assert_int_eq(codec->to_eas(bad[k], strlen(bad[k]), NULL, app, unit_pool), APR_EINVAL);
        ck_assert_ptr_null(codec->uid_of(bad[k], strlen(bad[k]), unit_pool));
    }
    /* an empty UID is replaced */
    app = new_app();
    as_xml_add(app, NS_N, "Subject", "s");
    {
        const char *ics = from_eas(app, "BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nUID:\r\n"
                                        "END:VJOURNAL\r\nEND:VCALENDAR\r\n");
        ck_assert_str_eq(codec->uid_of(ics, strlen(ics), unit_pool), "note-uid");
    }
    app = new_app();
    (void)codec->to_eas(odd, sizeof odd - 1, NULL, app, unit_pool);
    (void)from_eas(app, odd);
    /* a 2 MB line and 20,000 nested components */
    big = malloc(n * 8 + 200);
    ck_assert_ptr_nonnull(big);
    strcpy(big, "BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\nDESCRIPTION:");
    i = strlen(big);
    memset(big + i, 'y', n);
    strcpy(big + i + n, "\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n");
    app = to_eas(big);
    ck_assert_uint_eq(strlen(field(as_xml_child(app, NS_B, "Body"), NS_B, "Data")), n);
    strcpy(big, "BEGIN:VCALENDAR\r\nBEGIN:VJOURNAL\r\n");
    for (i = 0; i < 20000; i++) {
        strcat(big + strlen(big) - 20, "BEGIN:VJOURNAL\r\n");
    }
    (void)codec->to_eas(big, strlen(big), NULL, new_app(), unit_pool);
    free(big);
}
END_TEST

START_TEST(sync_reply_validates)
{
    const char *validator = unit_conformance("validate-eas");
    char path[1024], cmd[2048], out[8192];
    unsigned char *wb;
    apr_size_t wblen;
    FILE *f;
    size_t got;
    int status;

    if (!validator) {
        return;
    }
    to_eas(journal);
    to_eas(from_eas(phone_note("s", "b", "2024-03-05T10:11:12.000Z"), NULL));
    ck_assert_int_eq(as_wbxml_encode(reply, NULL, &wb, &wblen), AS_WBXML_OK);
    snprintf(path, sizeof path, "%s/sync-reply.wbxml", dir);
    ck_assert_int_eq(mg_write(path, wb, wblen, 0), 0);
    free(wb);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", validator, path);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    got = fread(out, 1, sizeof out - 1, f);
    out[got] = '\0';
    status = pclose(f);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(out, "valid"),
                  "validate-eas: %s", out);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("note");
    TCase *tc = tcase_create("note");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, journal_to_eas);
    tcase_add_test(tc, eas_round_trip);
    tcase_add_test(tc, change_keeps_unknown);
    tcase_add_test(tc, malformed_input);
    tcase_add_test(tc, sync_reply_validates);
    suite_add_tcase(s, tc);
    return s;
}
