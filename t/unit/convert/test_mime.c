/* MIME to EAS: headers (encoded words, 8-bit headers), bodies of Type 1, 2
 * and 4 with charsets (ISO-8859-1/15, Windows-1252, unknown), HTML to text,
 * truncation on UTF-8 boundaries, Preview, attachments (inline images,
 * nested messages) with FileReference fetch and Range, message classes
 * (S/MIME, meeting requests), broken MIME, a 10 MB message, and a Sync
 * reply built from several messages validated against the EAS schemas. */
#include <string.h>
#include <sys/wait.h>

#include <apr_strings.h>
#include <apr_time.h>

#include "activesync/as_command.h"
#include "activesync/as_mime.h"
#include "activesync/as_wbxml.h"
#include "mailgen.h"
#include "unit.h"

#define NS_EMAIL "Email:"
#define NS_BASE  "AirSyncBase:"

static char dir[512];
static unsigned seq;

static void mime_setup(void)
{
    unit_pool_setup();
    as_mime_init();
    mg_tmpdir(dir, sizeof dir, "mime");
}

static void mime_teardown(void)
{
    mg_rmtree(dir);
    unit_pool_teardown();
}

static apr_file_t *msg_file(const char *data, size_t len)
{
    char path[1024];
    apr_file_t *f;
    snprintf(path, sizeof path, "%s/m%u", dir, ++seq);
    ck_assert_int_eq(mg_write(path, data, len, 1709543700), 0);
    ck_assert_int_eq(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, unit_pool),
                     APR_SUCCESS);
    return f;
}

/* A Sync reply skeleton; each convert() adds one Add to its Commands. */
static xmlDocPtr reply;
static xmlNodePtr commands;

static void reply_new(void)
{
    xmlNodePtr root, coll;
    reply = as_reply_new("AirSync:", "Sync", &root);
    coll = as_xml_add(as_xml_add(root, "AirSync:", "Collections", NULL), "AirSync:", "Collection",
                      NULL);
    as_xml_add(coll, "AirSync:", "SyncKey", "{5b4c3a2e-0000-4000-8000-000000000001}2");
    as_xml_add(coll, "AirSync:", "CollectionId", "k3h2a9f0");
    as_xml_add(coll, "AirSync:", "Status", "1");
    commands = as_xml_add(coll, "AirSync:", "Commands", NULL);
}

static xmlNodePtr convert_opts(const char *data, size_t len, as_mime_opts_t *o)
{
    xmlNodePtr add, app;
    const char *err = NULL;
    char sid[64];

    if (!reply) {
        reply_new();
    }
    snprintf(sid, sizeof sid, "k3h2a9f0:%013u", seq + 1);
    add = as_xml_add(commands, "AirSync:", "Add", NULL);
    as_xml_add(add, "AirSync:", "ServerId", sid);
    app = as_xml_add(add, "AirSync:", "ApplicationData", NULL);
    if (!o->folder_id) {
        o->folder_id = "k3h2a9f0";
        o->item_id = "0123456789abc";
    }
    ck_assert_msg(as_mime_to_eas(unit_pool, msg_file(data, len), o, app, &err) == APR_SUCCESS,
                  "conversion failed: %s", err ? err : "?");
    return app;
}

static xmlNodePtr convert(const char *data, size_t len, int type, apr_size_t trunc)
{
    static as_mime_bodypref_t pref;
    as_mime_opts_t o;
    memset(&o, 0, sizeof o);
    memset(&pref, 0, sizeof pref);
    pref.type = type;
    pref.truncation = trunc;
    o.prefs = &pref;
    o.nprefs = 1;
    o.protocol = 141;
    o.received = apr_time_from_sec(1709543700);
    o.mime_support = 2;
    return convert_opts(data, len, &o);
}

static void reply_free(void)
{
    if (reply) {
        xmlFreeDoc(reply);
    }
    reply = NULL;
    commands = NULL;
}

static xmlNodePtr child(xmlNodePtr n, const char *ns, const char *name)
{
    return as_xml_child(n, ns, name);
}

static const char *text(xmlNodePtr n, const char *ns, const char *name)
{
    xmlNodePtr c = child(n, ns, name);
    xmlChar *t;
    const char *r;
    if (!c) {
        return NULL;
    }
    t = xmlNodeGetContent(c);
    r = apr_pstrdup(unit_pool, t ? (const char *)t : "");
    xmlFree(t);
    return r;
}

static const char *body_data(xmlNodePtr app)
{
    return text(child(app, NS_BASE, "Body"), NS_BASE, "Data");
}

static void assert_clean_utf8(const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    ck_assert_ptr_nonnull(s);
    for (; *c; c++) {
        ck_assert_msg(*c >= 0x20 || *c == '\t' || *c == '\n' || *c == '\r',
                      "control character 0x%02x in \"%s\"", *c, s);
    }
    ck_assert_msg(xmlCheckUTF8((const unsigned char *)s), "invalid UTF-8: %s", s);
}

/* All text in the ApplicationData is clean, and the children come in the
 * documented order. */
static void assert_item_ok(xmlNodePtr app)
{
    static const char *const order[] = {"To",
                                        "Cc",
                                        "From",
                                        "Subject",
                                        "ReplyTo",
                                        "DateReceived",
                                        "DisplayTo",
                                        "ThreadTopic",
                                        "Importance",
                                        "Read",
                                        "Attachments",
                                        "Body",
                                        "MessageClass",
                                        "MeetingRequest",
                                        "InternetCPID",
                                        "Flag",
                                        "ContentClass",
                                        "NativeBodyType",
                                        "ConversationId",
                                        "ConversationIndex",
                                        "Categories",
                                        NULL};
    xmlNodePtr c;
    int last = -1;

    for (c = app->children; c; c = c->next) {
        int i;
        xmlChar *t;
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        for (i = 0; order[i] && strcmp(order[i], (const char *)c->name); i++) {
        }
        ck_assert_msg(order[i] != NULL, "unexpected element %s", c->name);
        ck_assert_msg(i > last, "%s out of order", c->name);
        last = i;
        if (!as_wbxml_is_opaque(child(c, NS_BASE, "Data"))) {
            t = xmlNodeGetContent(c);
            assert_clean_utf8((const char *)t);
            xmlFree(t);
        }
    }
    ck_assert_str_eq(text(app, NS_EMAIL, "InternetCPID"), "65001");
    ck_assert_ptr_nonnull(child(app, NS_EMAIL, "Subject"));
    ck_assert_ptr_nonnull(child(app, NS_EMAIL, "Flag"));
}

/* ---- headers and basics ---------------------------------------------------- */

START_TEST(plain_message)
{
    size_t len;
    char *m = mg_msg_plain(&len, 7);
    xmlNodePtr app = convert(m, len, 1, 0), body;

    assert_item_ok(app);
    ck_assert_str_eq(text(app, NS_EMAIL, "To"), "\"John Doe\" <jdoe@example.com>");
    ck_assert_str_eq(text(app, NS_EMAIL, "From"), "\"Bob Example\" <bob@example.org>");
    ck_assert_str_eq(text(app, NS_EMAIL, "Subject"), "Quarterly figures");
    ck_assert_str_eq(text(app, NS_EMAIL, "DateReceived"), "2024-03-04T09:15:00.000Z");
    ck_assert_str_eq(text(app, NS_EMAIL, "DisplayTo"), "John Doe");
    ck_assert_str_eq(text(app, NS_EMAIL, "ThreadTopic"), "Quarterly figures");
    ck_assert_str_eq(text(app, NS_EMAIL, "Importance"), "1");
    ck_assert_str_eq(text(app, NS_EMAIL, "Read"), "0");
    ck_assert_str_eq(text(app, NS_EMAIL, "MessageClass"), "IPM.Note");
    ck_assert_str_eq(text(app, NS_EMAIL, "ContentClass"), "urn:content-classes:message");
    ck_assert_str_eq(text(app, NS_BASE, "NativeBodyType"), "1");
    ck_assert_ptr_null(child(app, NS_EMAIL, "Cc"));
    ck_assert_ptr_null(child(app, NS_EMAIL, "ReplyTo"));
    ck_assert_ptr_null(child(app, NS_BASE, "Attachments"));
    ck_assert_ptr_null(child(child(app, NS_EMAIL, "Flag"), NS_EMAIL, "Status"));
    body = child(app, NS_BASE, "Body");
    ck_assert_str_eq(text(body, NS_BASE, "Type"), "1");
    ck_assert_str_eq(text(body, NS_BASE, "Data"),
                     "Hi John,\n\nthe figures are attached (message 7).\n\nBob\n");
    ck_assert_str_eq(text(body, NS_BASE, "EstimatedDataSize"),
                     apr_itoa(unit_pool, (int)strlen(text(body, NS_BASE, "Data"))));
    ck_assert_str_eq(text(body, NS_BASE, "Truncated"), "0");
    ck_assert_ptr_null(child(body, NS_BASE, "Preview"));

    /* Read and Flag from the Maildir flags; DateReceived from the Date
     * header when there is no received time */
    {
        as_mime_opts_t o;
        memset(&o, 0, sizeof o);
        o.flags = AS_STORE_SEEN | AS_STORE_FLAGGED;
        app = convert_opts(m, len, &o);
        ck_assert_str_eq(text(app, NS_EMAIL, "Read"), "1");
        ck_assert_str_eq(text(child(app, NS_EMAIL, "Flag"), NS_EMAIL, "Status"), "2");
        ck_assert_str_eq(text(app, NS_EMAIL, "DateReceived"), "2024-03-04T09:15:00.000Z");
        ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Type"), "1");
    }
    free(m);
    reply_free();
}
END_TEST

START_TEST(alternative_utf8)
{
    size_t len;
    char *m = mg_msg_alternative(&len);
    xmlNodePtr app = convert(m, len, 2, 0), body;
    const char *d;

    assert_item_ok(app);
    ck_assert_str_eq(text(app, NS_EMAIL, "Subject"), "Grüße aus München € ✓");
    ck_assert_str_eq(text(app, NS_EMAIL, "From"), "\"Jürgen Müller\" <juergen@example.de>");
    ck_assert_str_eq(text(app, NS_EMAIL, "To"),
                     "\"John Doe\" <jdoe@example.com>, \"Renée Dupont\" <renee@example.fr>");
    ck_assert_str_eq(text(app, NS_EMAIL, "DisplayTo"), "John Doe; Renée Dupont");
    ck_assert_str_eq(text(app, NS_EMAIL, "Cc"), "\"Team\" <team@example.com>");
    ck_assert_str_eq(text(app, NS_EMAIL, "ReplyTo"),
                     "\"Jürgen\" <reply@example.de>; other@example.de");
    ck_assert_str_eq(text(app, NS_EMAIL, "Importance"), "2");
    ck_assert_str_eq(text(app, NS_BASE, "NativeBodyType"), "2");
    ck_assert_ptr_null(child(app, NS_BASE, "Attachments"));
    body = child(app, NS_BASE, "Body");
    ck_assert_str_eq(text(body, NS_BASE, "Type"), "2");
    d = text(body, NS_BASE, "Data");
    ck_assert_ptr_nonnull(strstr(d, "<b>München</b> &euro; 10 ✓"));
    /* plain text from the text part */
    app = convert(m, len, 1, 0);
    ck_assert_str_eq(body_data(app), "Grüße aus München € 10 ✓\nZweite Zeile.\n");
    /* Type 1 and 2 both asked: HTML, since the message has HTML */
    {
        as_mime_bodypref_t prefs[2] = {{1, 0, 0, 0}, {2, 0, 0, 0}};
        as_mime_opts_t o;
        memset(&o, 0, sizeof o);
        o.prefs = prefs;
        o.nprefs = 2;
        app = convert_opts(m, len, &o);
        ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Type"), "2");
    }
    free(m);
    reply_free();
}
END_TEST

START_TEST(charsets)
{
    size_t len;
    char *m;
    xmlNodePtr app;

    m = mg_msg_latin1(&len);
    app = convert(m, len, 1, 0);
    assert_item_ok(app);
    ck_assert_str_eq(text(app, NS_EMAIL, "From"), "\"François Lévesque\" <francois@example.fr>");
    ck_assert_str_eq(text(app, NS_EMAIL, "Subject"), "Café crème");
    ck_assert_str_eq(body_data(app), "Un café crème coûte 2 £ ou 3 €? Très «cher».\n");
    free(m);

    m = mg_msg_latin9(&len);
    app = convert(m, len, 1, 0);
    ck_assert_str_eq(body_data(app), "Betrag: 42 €, Straße\n");
    free(m);

    m = mg_msg_cp1252(&len, 0);
    app = convert(m, len, 1, 0);
    ck_assert_str_eq(body_data(app), "He said “hello” – it costs 5 €.\n");
    free(m);
    m = mg_msg_cp1252(&len, 1); /* labelled ISO-8859-1 */
    app = convert(m, len, 1, 0);
    ck_assert_str_eq(body_data(app), "He said “hello” – it costs 5 €.\n");
    free(m);

    m = mg_msg_unknown_charset(&len);
    app = convert(m, len, 1, 0);
    assert_item_ok(app);
    ck_assert_str_eq(body_data(app), "Café and naïve.\n");
    ck_assert_int_eq(strncmp(text(app, NS_EMAIL, "Subject"), "Bogus", 5), 0);
    free(m);

    m = mg_msg_cjk(&len);
    app = convert(m, len, 1, 0);
    ck_assert_str_eq(text(app, NS_EMAIL, "Subject"), "日本語");
    free(m);

    /* the converter alone */
    {
        apr_size_t n;
        ck_assert_str_eq(as_mime_to_utf8(unit_pool,
                                         "a\x80"
                                         "b",
                                         3, "x-unknown", &n),
                         "a€b");
        ck_assert_str_eq(as_mime_to_utf8(unit_pool, "\xa4", 1, "iso-8859-15", &n), "€");
        ck_assert_str_eq(as_mime_to_utf8(unit_pool, "\xe2\x82\xac", 3, NULL, &n), "€");
        ck_assert_str_eq(as_mime_to_utf8(unit_pool, "\xff", 1, "utf-8", &n), "ÿ");
        ck_assert_str_eq(as_mime_to_utf8(unit_pool, "a\x81z", 3, "windows-1252", &n),
                         "a\xef\xbf\xbdz"); /* undefined in cp1252 */
        ck_assert_str_eq(
            as_mime_to_utf8(unit_pool, "\x1b$B$3$s$K$A$O\x1b(B", 16, "iso-2022-jp", &n),
            "こんにちは");
        ck_assert_str_eq(as_mime_to_utf8(unit_pool, "x\0y\x01z", 5, "us-ascii", &n), "xyz");
    }
    reply_free();
}
END_TEST

START_TEST(broken_messages)
{
    size_t len;
    char *m;
    xmlNodePtr app, atts;
    as_mime_opts_t o;

    m = mg_msg_broken_mime(&len);
    app = convert(m, len, 1, 0);
    assert_item_ok(app);
    ck_assert_str_eq(body_data(app), "Body text.");
    atts = child(app, NS_BASE, "Attachments");
    ck_assert_ptr_nonnull(atts);
    ck_assert_str_eq(text(child(atts, NS_BASE, "Attachment"), NS_BASE, "DisplayName"), "bad.bin");
    free(m);

    m = mg_msg_broken_headers(&len);
    memset(&o, 0, sizeof o);
    app = convert_opts(m, len, &o); /* no received time, bad Date header: now */
    assert_item_ok(app);
    ck_assert_str_eq(text(app, NS_EMAIL, "From"), "\"Müller\" <mueller@example.de>");
    ck_assert_ptr_nonnull(strstr(text(app, NS_EMAIL, "Subject"), "sum"));
    ck_assert_str_eq(body_data(app), "Line one\nNUL:: end\n");
    ck_assert_uint_eq(strlen(text(app, NS_EMAIL, "DateReceived")), 24);
    ck_assert_str_eq(text(app, NS_EMAIL, "MessageClass"), "IPM.Note");
    free(m);

    /* not a message at all / empty file */
    app = convert("", 0, 1, 0);
    assert_item_ok(app);
    ck_assert_ptr_null(child(app, NS_BASE, "Body")); /* never an empty Body */
    m = "\x00\x01\x02garbage\xff\xfe";
    app = convert(m, 12, 1, 0);
    assert_item_ok(app);
    reply_free();
}
END_TEST

/* ---- bodies ---------------------------------------------------------------- */

START_TEST(html_only)
{
    size_t len;
    char *m = mg_msg_html_only(&len);
    xmlNodePtr app = convert(m, len, 1, 0);
    const char *d = body_data(app);

    assert_item_ok(app);
    ck_assert_str_eq(text(app, NS_BASE, "NativeBodyType"), "2");
    ck_assert_str_eq(d, "Hello & welcome\n\nLine one\nLine two\n\n- First <item>\n- Café € ✓\n\n"
                        "a\tb");
    ck_assert_ptr_null(strstr(d, "var x"));
    /* HTML asked: the original */
    app = convert(m, len, 2, 0);
    ck_assert_ptr_nonnull(strstr(body_data(app), "<h1>Hello &amp; welcome</h1>"));
    free(m);
    /* plain-only message asked as HTML: escaped and wrapped */
    m = mg_msg_plain(&len, 1);
    app = convert(m, len, 2, 0);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Type"), "2");
    ck_assert_ptr_nonnull(strstr(body_data(app), "the figures are attached (message 1).<br>"));
    free(m);
    /* the converter alone */
    ck_assert_str_eq(as_mime_html_to_text(unit_pool, "<p>a<br><br>b</p><div>c &lt;d&gt;</div>", 40),
                     "a\n\nb\n\nc <d>");
    ck_assert_str_eq(as_mime_html_to_text(unit_pool, "<a href=\"https://x.example/\">site</a>", 37),
                     "site <https://x.example/>");
    ck_assert_str_eq(as_mime_html_to_text(unit_pool, "<pre>a\n  b</pre>", 16), "a\n  b");
    ck_assert_str_eq(as_mime_html_to_text(unit_pool, "", 0), "");
    ck_assert_str_eq(as_mime_html_to_text(unit_pool, "if a < b & c > d", 16), "if a < b & c > d");
    ck_assert_str_eq(as_mime_html_to_text(unit_pool, "a<br><br><br><br>b", 18), "a\n\nb");
    reply_free();
}
END_TEST

START_TEST(truncation)
{
    size_t len;
    char *m = mg_msg_cjk(&len);
    xmlNodePtr app, body;
    as_mime_bodypref_t pref;
    as_mime_opts_t o;

    /* 100 x "日本語\n": 901 bytes; cut inside the 4th character */
    app = convert(m, len, 1, 10);
    body = child(app, NS_BASE, "Body");
    ck_assert_str_eq(text(body, NS_BASE, "EstimatedDataSize"), "901");
    ck_assert_str_eq(text(body, NS_BASE, "Truncated"), "1");
    ck_assert_str_eq(text(body, NS_BASE, "Data"), "日本語");
    app = convert(m, len, 1, 8);
    ck_assert_str_eq(body_data(app), "日本");
    app = convert(m, len, 1, 2);
    ck_assert_str_eq(body_data(app), "");
    app = convert(m, len, 1, 901);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Truncated"), "0");
    app = convert(m, len, 1, 900);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Truncated"), "1");
    ck_assert_uint_eq(strlen(body_data(app)), 900);
    /* AllOrNone: no Data when it would be cut */
    memset(&o, 0, sizeof o);
    memset(&pref, 0, sizeof pref);
    pref.type = 1;
    pref.truncation = 100;
    pref.all_or_none = 1;
    o.prefs = &pref;
    o.nprefs = 1;
    app = convert_opts(m, len, &o);
    body = child(app, NS_BASE, "Body");
    ck_assert_str_eq(text(body, NS_BASE, "Truncated"), "1");
    ck_assert_ptr_null(child(body, NS_BASE, "Data"));
    /* the helper */
    ck_assert_uint_eq(as_mime_utf8_cut("a€b", 5, 3), 1);
    ck_assert_uint_eq(as_mime_utf8_cut("a€b", 5, 4), 4);
    ck_assert_uint_eq(as_mime_utf8_cut("a€b", 5, 9), 5);
    ck_assert_uint_eq(as_mime_utf8_cut("\xf0\x9f\x98\x80x", 5, 3), 0);
    free(m);
    reply_free();
}
END_TEST

START_TEST(preview)
{
    size_t len;
    char *m = mg_msg_alternative(&len);
    as_mime_bodypref_t pref;
    as_mime_opts_t o;
    xmlNodePtr app;

    memset(&o, 0, sizeof o);
    memset(&pref, 0, sizeof pref);
    pref.type = 2;
    pref.preview = 20;
    o.prefs = &pref;
    o.nprefs = 1;
    o.protocol = 140;
    app = convert_opts(m, len, &o);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Preview"), "Grüße aus München € ");
    pref.preview = 255;
    app = convert_opts(m, len, &o);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Preview"),
                     "Grüße aus München € 10 ✓ Zweite Zeile.");
    o.protocol = 121; /* Preview is 14.0+ */
    app = convert_opts(m, len, &o);
    ck_assert_ptr_null(child(child(app, NS_BASE, "Body"), NS_BASE, "Preview"));
    free(m);
    /* from an HTML-only message */
    m = mg_msg_html_only(&len);
    o.protocol = 141;
    pref.preview = 30;
    app = convert_opts(m, len, &o);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Preview"),
                     "Hello & welcome Line one Line ");
    free(m);
    reply_free();
}
END_TEST

START_TEST(mime_type4)
{
    size_t len, lfs = 0, i;
    char *m = mg_msg_plain(&len, 3);
    xmlNodePtr app, body, data;
    const unsigned char *bytes;
    apr_size_t n;
    as_mime_bodypref_t pref;
    as_mime_opts_t o;

    for (i = 0; i < len; i++) {
        lfs += m[i] == '\n';
    }
    app = convert(m, len, 4, 0);
    body = child(app, NS_BASE, "Body");
    ck_assert_str_eq(text(body, NS_BASE, "Type"), "4");
    ck_assert_str_eq(text(body, NS_BASE, "EstimatedDataSize"),
                     apr_itoa(unit_pool, (int)(len + lfs)));
    ck_assert_int_eq(
        strncmp(text(body, NS_BASE, "Data"), "Return-Path: <sender@example.org>\r\n", 35), 0);
    ck_assert(!as_wbxml_is_opaque(child(body, NS_BASE, "Data")));
    free(m);
    /* 8-bit (Latin-1) message: OPAQUE, the exact bytes */
    m = mg_msg_latin9(&len);
    app = convert(m, len, 4, 0);
    data = child(child(app, NS_BASE, "Body"), NS_BASE, "Data");
    ck_assert(as_wbxml_is_opaque(data));
    ck_assert_int_eq(as_wbxml_node_bytes(data, unit_pool, &bytes, &n), AS_WBXML_OK);
    ck_assert_ptr_nonnull(memmem(bytes, n,
                                 "Betrag: 42 \xa4, Stra\xdf"
                                 "e\r\n",
                                 21));
    /* truncated */
    app = convert(m, len, 4, 100);
    data = child(child(app, NS_BASE, "Body"), NS_BASE, "Data");
    ck_assert_int_eq(as_wbxml_node_bytes(data, unit_pool, &bytes, &n), AS_WBXML_OK);
    ck_assert_uint_eq(n, 100);
    free(m);
    /* MIMESupport 0: Type 4 not allowed, plain text instead; 1: S/MIME only */
    m = mg_msg_plain(&len, 3);
    memset(&o, 0, sizeof o);
    memset(&pref, 0, sizeof pref);
    pref.type = 4;
    o.prefs = &pref;
    o.nprefs = 1;
    o.mime_support = 0;
    app = convert_opts(m, len, &o);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Type"), "1");
    o.mime_support = 1;
    app = convert_opts(m, len, &o);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Type"), "1");
    free(m);
    m = mg_msg_signed(&len);
    app = convert_opts(m, len, &o);
    ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Type"), "4");
    ck_assert_str_eq(text(app, NS_EMAIL, "MessageClass"), "IPM.Note.SMIME.MultipartSigned");
    ck_assert_ptr_null(child(app, NS_BASE, "Attachments")); /* not the signature */
    o.mime_support = 0;
    app = convert_opts(m, len, &o);
    ck_assert_str_eq(body_data(app), "Signed text.");
    free(m);
    reply_free();
}
END_TEST

/* ---- attachments ----------------------------------------------------------- */

static xmlNodePtr nth_att(xmlNodePtr app, int n)
{
    xmlNodePtr a = child(app, NS_BASE, "Attachments"), c;
    ck_assert_ptr_nonnull(a);
    for (c = a->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE && n-- == 0) {
            return c;
        }
    }
    return NULL;
}

static as_mime_attachment_t fetch(const char *msg, size_t len, const char *ref, apr_off_t off,
                                  apr_off_t n)
{
    const char *f, *i, *part;
    as_mime_attachment_t a;
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, ref, &f, &i, &part), APR_SUCCESS);
    ck_assert_str_eq(f, "k3h2a9f0");
    ck_assert_str_eq(i, "0123456789abc");
    ck_assert_int_eq(as_mime_attachment(unit_pool, msg_file(msg, len), part, off, n, &a),
                     APR_SUCCESS);
    return a;
}

START_TEST(attachments)
{
    size_t len;
    char *m = mg_msg_attach(&len);
    xmlNodePtr app = convert(m, len, 1, 0), png, pdf;
    unsigned char want[3000];
    as_mime_attachment_t a;

    memcpy(want, "%PDF-1.4\n", 9);
    mg_bytes(want + 9, sizeof want - 9, 7);
    assert_item_ok(app);
    ck_assert_str_eq(text(app, NS_EMAIL, "Importance"), "0");
    ck_assert_str_eq(body_data(app), "See the chart:\n\nRegards\nCarol");
    png = nth_att(app, 0);
    pdf = nth_att(app, 1);
    ck_assert_ptr_null(nth_att(app, 2));
    ck_assert_str_eq(text(png, NS_BASE, "DisplayName"), "chart.png");
    ck_assert_str_eq(text(png, NS_BASE, "ContentId"), "chart1@example.net");
    ck_assert_str_eq(text(png, NS_BASE, "IsInline"), "1");
    ck_assert_str_eq(text(png, NS_BASE, "Method"), "1");
    ck_assert_str_eq(text(png, NS_BASE, "EstimatedDataSize"),
                     apr_itoa(unit_pool, (int)sizeof mg_png));
    ck_assert_str_eq(text(png, NS_BASE, "FileReference"), "k3h2a9f0:0123456789abc:1.2");
    ck_assert_str_eq(text(pdf, NS_BASE, "DisplayName"), "Bericht über 2024.pdf");
    ck_assert_str_eq(text(pdf, NS_BASE, "IsInline"), "0");
    ck_assert_str_eq(text(pdf, NS_BASE, "EstimatedDataSize"), "3000");
    ck_assert_ptr_null(child(pdf, NS_BASE, "ContentId"));

    a = fetch(m, len, text(pdf, NS_BASE, "FileReference"), 0, -1);
    ck_assert_str_eq(a.content_type, "application/pdf");
    ck_assert_str_eq(a.name, "Bericht über 2024.pdf");
    ck_assert_int_eq(a.total, 3000);
    ck_assert_uint_eq(a.len, 3000);
    ck_assert_int_eq(memcmp(a.data, want, 3000), 0);
    a = fetch(m, len, text(pdf, NS_BASE, "FileReference"), 100, 50);
    ck_assert_uint_eq(a.len, 50);
    ck_assert_int_eq(memcmp(a.data, want + 100, 50), 0);
    a = fetch(m, len, text(pdf, NS_BASE, "FileReference"), 2990, 50);
    ck_assert_uint_eq(a.len, 10);
    a = fetch(m, len, text(pdf, NS_BASE, "FileReference"), 5000, 50);
    ck_assert_uint_eq(a.len, 0);
    ck_assert_int_eq(a.total, 3000);
    a = fetch(m, len, text(png, NS_BASE, "FileReference"), 0, -1);
    ck_assert_uint_eq(a.len, sizeof mg_png);
    ck_assert_int_eq(memcmp(a.data, mg_png, sizeof mg_png), 0);
    ck_assert_str_eq(a.content_type, "image/png");
    /* parts that do not exist or are containers */
    ck_assert_int_eq(as_mime_attachment(unit_pool, msg_file(m, len), "9", 0, -1, &a), APR_ENOENT);
    ck_assert_int_eq(as_mime_attachment(unit_pool, msg_file(m, len), "1", 0, -1, &a), APR_ENOENT);
    ck_assert_int_eq(as_mime_attachment(unit_pool, msg_file(m, len), "1.2.1", 0, -1, &a),
                     APR_ENOENT);
    ck_assert_int_eq(as_mime_attachment(unit_pool, msg_file(m, len), "../1", 0, -1, &a),
                     APR_EINVAL);
    free(m);
    reply_free();
}
END_TEST

START_TEST(nested_message)
{
    size_t len;
    char *m = mg_msg_nested(&len);
    xmlNodePtr app = convert(m, len, 1, 0), att;
    as_mime_attachment_t a;

    assert_item_ok(app);
    ck_assert_str_eq(body_data(app), "See below.\n");
    ck_assert_str_eq(text(app, NS_EMAIL, "ThreadTopic"), "Lunch?");
    att = nth_att(app, 0);
    ck_assert_ptr_null(nth_att(app, 1)); /* menu.txt is inside the nested message */
    ck_assert_str_eq(text(att, NS_BASE, "Method"), "5");
    ck_assert_str_eq(text(att, NS_BASE, "DisplayName"), "Lunch?.eml");
    a = fetch(m, len, text(att, NS_BASE, "FileReference"), 0, -1);
    ck_assert_str_eq(a.content_type, "message/rfc822");
    ck_assert_ptr_nonnull(memmem(a.data, a.len, "Subject: Lunch?", 15));
    ck_assert_ptr_nonnull(memmem(a.data, a.len, "menu.txt", 8));
    ck_assert_str_eq(text(att, NS_BASE, "EstimatedDataSize"), apr_itoa(unit_pool, (int)a.total));
    free(m);
    reply_free();
}
END_TEST

START_TEST(invitation)
{
    size_t len;
    char *m = mg_msg_invite(&len);
    xmlNodePtr app = convert(m, len, 1, 0);

    assert_item_ok(app);
    ck_assert_str_eq(text(app, NS_EMAIL, "MessageClass"), "IPM.Schedule.Meeting.Request");
    ck_assert_str_eq(text(app, NS_EMAIL, "ContentClass"), "urn:content-classes:calendarmessage");
    ck_assert_str_eq(body_data(app),
                     "Planning meeting."); /* the LF before a boundary is the boundary's */
    ck_assert_ptr_null(child(app, NS_BASE, "Attachments"));
    free(m);
    reply_free();
}
END_TEST

START_TEST(large_message)
{
    size_t len, size = 10 * 1024 * 1024;
    char *m = mg_msg_large(&len, size);
    xmlNodePtr app;
    as_mime_attachment_t a;
    unsigned char *want = malloc(size);
    apr_time_t t0, t1, t2;

    mg_bytes(want, size, 99);
    t0 = apr_time_now();
    app = convert(m, len, 1, 5120);
    t1 = apr_time_now();
    assert_item_ok(app);
    ck_assert_str_eq(body_data(app), "The file.");
    ck_assert_str_eq(text(nth_att(app, 0), NS_BASE, "EstimatedDataSize"),
                     apr_itoa(unit_pool, (int)size));
    a = fetch(m, len, text(nth_att(app, 0), NS_BASE, "FileReference"), 5000000, 1000);
    t2 = apr_time_now();
    ck_assert_int_eq(a.total, (apr_off_t)size);
    ck_assert_uint_eq(a.len, 1000);
    ck_assert_int_eq(memcmp(a.data, want + 5000000, 1000), 0);
    fprintf(stderr, "# 10 MB message: item %.1f ms, attachment range fetch %.1f ms\n",
            (double)(t1 - t0) / 1000.0, (double)(t2 - t1) / 1000.0);
    a = fetch(m, len, text(nth_att(app, 0), NS_BASE, "FileReference"), 0, -1);
    ck_assert_uint_eq(a.len, size);
    ck_assert_int_eq(memcmp(a.data, want, size), 0);
    free(want);
    free(m);
    reply_free();
}
END_TEST

START_TEST(filerefs_and_flags)
{
    const char *f, *i, *p;
    xmlNodePtr app;

    ck_assert_str_eq(as_mime_fileref(unit_pool, "ab", "cd", "1.2"), "ab:cd:1.2");
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, "ab:cd:1.2", &f, &i, &p), APR_SUCCESS);
    ck_assert_str_eq(p, "1.2");
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, "ab:cd:", &f, &i, &p), APR_EINVAL);
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, "ab:cd:1..2", &f, &i, &p), APR_EINVAL);
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, "ab:cd:0", &f, &i, &p), APR_EINVAL);
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, "ab:cd:1.", &f, &i, &p), APR_EINVAL);
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, "ab:c/d:1", &f, &i, &p), APR_EINVAL);
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, "AB:cd:1", &f, &i, &p), APR_EINVAL);
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, ":cd:1", &f, &i, &p), APR_EINVAL);
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, "ab:cd:1:2", &f, &i, &p), APR_EINVAL);
    ck_assert_int_eq(as_mime_fileref_parse(unit_pool, NULL, &f, &i, &p), APR_EINVAL);
    reply_new();
    app = as_xml_add(commands, "AirSync:", "Change", NULL);
    as_mime_add_flags(app, AS_STORE_FLAGGED);
    ck_assert_str_eq(text(app, NS_EMAIL, "Read"), "0");
    ck_assert_str_eq(text(child(app, NS_EMAIL, "Flag"), NS_EMAIL, "Status"), "2");
    reply_free();
}
END_TEST

/* ---- schema validation ------------------------------------------------------ */

START_TEST(sync_reply_validates)
{
    const char *validator = unit_conformance("validate-eas");
    size_t len;
    char *m, path[1024], cmd[2048], out[4096];
    unsigned char *wb;
    apr_size_t wblen;
    as_mime_bodypref_t pref;
    as_mime_opts_t o;
    FILE *f;
    int status;
    size_t got;

    if (!validator) {
        return;
    }
    reply_new();
    memset(&o, 0, sizeof o);
    memset(&pref, 0, sizeof pref);
    o.prefs = &pref;
    o.nprefs = 1;
    o.protocol = 141;
    o.mime_support = 2;
    pref.type = 1;
    pref.truncation = 5120;
    pref.preview = 100;

#define ADD(expr, fl)                                                                              \
    do {                                                                                           \
        m = expr;                                                                                  \
        o.flags = (fl);                                                                            \
        o.folder_id = NULL;                                                                        \
        convert_opts(m, len, &o);                                                                  \
        free(m);                                                                                   \
    } while (0)
    ADD(mg_msg_plain(&len, 1), 0);
    ADD(mg_msg_alternative(&len), AS_STORE_SEEN | AS_STORE_FLAGGED);
    ADD(mg_msg_attach(&len), AS_STORE_SEEN);
    ADD(mg_msg_nested(&len), 0);
    ADD(mg_msg_latin1(&len), 0);
    ADD(mg_msg_html_only(&len), 0);
    ADD(mg_msg_invite(&len), 0);
    ADD(mg_msg_broken_mime(&len), 0);
    ADD(mg_msg_broken_headers(&len), 0);
    pref.type = 2;
    pref.truncation = 10;
    ADD(mg_msg_cjk(&len), 0);
    ADD(mg_msg_cp1252(&len, 1), 0);
    pref.type = 4;
    pref.truncation = 0;
    ADD(mg_msg_signed(&len), 0);
    ADD(mg_msg_latin9(&len), 0); /* OPAQUE MIME data */
#undef ADD

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
    reply_free();
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("mime");
    TCase *tc = tcase_create("mime");

    tcase_add_checked_fixture(tc, mime_setup, mime_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, plain_message);
    tcase_add_test(tc, alternative_utf8);
    tcase_add_test(tc, charsets);
    tcase_add_test(tc, broken_messages);
    tcase_add_test(tc, html_only);
    tcase_add_test(tc, truncation);
    tcase_add_test(tc, preview);
    tcase_add_test(tc, mime_type4);
    tcase_add_test(tc, attachments);
    tcase_add_test(tc, nested_message);
    tcase_add_test(tc, invitation);
    tcase_add_test(tc, large_message);
    tcase_add_test(tc, filerefs_and_flags);
    tcase_add_test(tc, sync_reply_validates);
    suite_add_tcase(s, tc);
    return s;
}
