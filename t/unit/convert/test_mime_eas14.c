/* MIME to EAS, the fields real phones expect from 14.0 on: Categories from
 * Keywords (encoded words), ConversationId / ConversationIndex over a reply
 * chain and from Thread-Index, MeetingRequest from Outlook-style and
 * Google-style invitations (VTIMEZONE Europe/Berlin, RRULEs, the
 * TIME_ZONE_INFORMATION blob, GlobalObjId), a cancellation, all-day events,
 * broken calendars (a plain message and one log line), the protocol gates
 * (12.1 gets none of the 14.0 elements, 16.1 the 16.0 forms), and the
 * replies validated against the EAS schemas. */
#include <string.h>
#include <sys/wait.h>

#include <apr_base64.h>
#include <apr_md5.h>
#include <apr_strings.h>
#include <apr_time.h>

#include "activesync/as_command.h"
#include "activesync/as_meeting.h"
#include "activesync/as_mime.h"
#include "activesync/as_wbxml.h"
#include "calgen.h"
#include "unit.h"

#define NS_EMAIL  "Email:"
#define NS_EMAIL2 "Email2:"
#define NS_BASE   "AirSyncBase:"
#define NS_CAL    "Calendar:"

static char dir[512];
static unsigned seq;
static xmlDocPtr reply;
static xmlNodePtr commands;

/* a logger counting the lines of warning level */
static int warnings;
static char last_warning[512];

static void count_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                        const char *msg)
{
    if (level <= AS_LOG_WARNING) {
        warnings++;
        snprintf(last_warning, sizeof last_warning, "%s", msg);
    }
}

static const as_logger_t counter = {NULL, count_print, NULL};

static void setup(void)
{
    unit_pool_setup();
    as_mime_init();
    mg_tmpdir(dir, sizeof dir, "mime14");
    warnings = 0;
    last_warning[0] = '\0';
}

static void teardown(void)
{
    if (reply) {
        xmlFreeDoc(reply);
    }
    reply = NULL;
    commands = NULL;
    mg_rmtree(dir);
    unit_pool_teardown();
}

static void reply_new(void)
{
    xmlNodePtr root, coll;
    if (reply) {
        xmlFreeDoc(reply);
    }
    reply = as_reply_new("AirSync:", "Sync", &root);
    coll = as_xml_add(as_xml_add(root, "AirSync:", "Collections", NULL), "AirSync:", "Collection",
                      NULL);
    as_xml_add(coll, "AirSync:", "SyncKey", "{5b4c3a2e-0000-4000-8000-000000000001}2");
    as_xml_add(coll, "AirSync:", "CollectionId", "k3h2a9f0");
    as_xml_add(coll, "AirSync:", "Status", "1");
    commands = as_xml_add(coll, "AirSync:", "Commands", NULL);
}

/* Convert the message (freed) of *lenp bytes for protocol; one Add in the
 * reply.  (A pointer: the generator filling it runs among the arguments.) */
static unsigned convert_flags; /* the item's AS_STORE_* flags for convert() */

static xmlNodePtr convert(char *data, const size_t *lenp, int protocol)
{
    size_t len = *lenp;
    char path[1024], sid[64];
    apr_file_t *f;
    as_mime_bodypref_t pref;
    as_mime_opts_t o;
    xmlNodePtr add, app;
    const char *err = NULL;

    if (!reply) {
        reply_new();
    }
    snprintf(path, sizeof path, "%s/m%u", dir, ++seq);
    ck_assert_int_eq(mg_write(path, data, len, 1709543700), 0);
    free(data);
    ck_assert_int_eq(apr_file_open(&f, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, unit_pool),
                     APR_SUCCESS);
    memset(&o, 0, sizeof o);
    memset(&pref, 0, sizeof pref);
    pref.type = 1;
    pref.truncation = 2048;
    o.prefs = &pref;
    o.nprefs = 1;
    o.protocol = protocol;
    o.flags = convert_flags;
    o.received = apr_time_from_sec(1709543700);
    o.folder_id = "k3h2a9f0";
    o.item_id = apr_psprintf(unit_pool, "%013u", seq);
    o.log = &counter;
    snprintf(sid, sizeof sid, "k3h2a9f0:%013u", seq);
    add = as_xml_add(commands, "AirSync:", "Add", NULL);
    as_xml_add(add, "AirSync:", "ServerId", sid);
    app = as_xml_add(add, "AirSync:", "ApplicationData", NULL);
    ck_assert_msg(as_mime_to_eas(unit_pool, f, &o, app, &err) == APR_SUCCESS, "conversion: %s",
                  err ? err : "?");
    apr_file_close(f);
    return app;
}

static xmlNodePtr child(xmlNodePtr n, const char *ns, const char *name)
{
    return n ? as_xml_child(n, ns, name) : NULL;
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

/* The bytes of an OPAQUE element, as lower-case hex. */
static const char *opaque_hex(xmlNodePtr app, const char *ns, const char *name)
{
    xmlNodePtr c = child(app, ns, name);
    const unsigned char *d;
    apr_size_t n, i;
    char *h;
    if (!c) {
        return NULL;
    }
    ck_assert_msg(as_wbxml_is_opaque(c), "%s is not OPAQUE", name);
    ck_assert_int_eq(as_wbxml_node_bytes(c, unit_pool, &d, &n), AS_WBXML_OK);
    h = apr_palloc(unit_pool, n * 2 + 1);
    for (i = 0; i < n; i++) {
        snprintf(h + 2 * i, 3, "%02x", d[i]);
    }
    h[2 * n] = '\0';
    return h;
}

/* The element names of a node's children, space-separated. */
static const char *names(xmlNodePtr n)
{
    const char *r = "";
    xmlNodePtr c;
    for (c = n ? n->children : NULL; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            r = apr_pstrcat(unit_pool, r, *r ? " " : "", (const char *)c->name, NULL);
        }
    }
    return r;
}

/* Validate the reply built so far with validate-eas (skipped when the kit
 * is not there). */
static void validate_reply(void)
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
    ck_assert_int_eq(as_wbxml_encode(reply, NULL, &wb, &wblen), AS_WBXML_OK);
    snprintf(path, sizeof path, "%s/reply%u.wbxml", dir, seq);
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

/* ---- TIME_ZONE_INFORMATION ------------------------------------------------ */

typedef struct tzi_t {
    int bias, std_bias, dst_bias;
    char std_name[64], dst_name[64];
    int std[8], dst[8]; /* SYSTEMTIME: year month wday day(week) hour min sec ms */
} tzi_t;

static int le16(const unsigned char *b)
{
    return b[0] | b[1] << 8;
}

static int le32(const unsigned char *b)
{
    return (int)((unsigned)b[0] | (unsigned)b[1] << 8 | (unsigned)b[2] << 16 |
                 (unsigned)b[3] << 24);
}

static void name_of(const unsigned char *b, char *out)
{
    int i;
    for (i = 0; i < 32 && le16(b + 2 * i); i++) {
        int c = le16(b + 2 * i);
        out[i] = c < 128 ? (char)c : '?';
    }
    out[i] = '\0';
}

static tzi_t tzi_of(const char *b64)
{
    unsigned char b[256];
    tzi_t t;
    int i;
    ck_assert_ptr_nonnull(b64);
    ck_assert_int_eq(apr_base64_decode_len(b64) >= 172, 1);
    ck_assert_int_eq(apr_base64_decode_binary(b, b64), 172);
    memset(&t, 0, sizeof t);
    t.bias = le32(b);
    name_of(b + 4, t.std_name);
    for (i = 0; i < 8; i++) {
        t.std[i] = le16(b + 68 + 2 * i);
        t.dst[i] = le16(b + 152 + 2 * i);
    }
    t.std_bias = le32(b + 84);
    name_of(b + 88, t.dst_name);
    t.dst_bias = le32(b + 168);
    return t;
}

static void assert_berlin(const tzi_t *t)
{
    ck_assert_int_eq(t->bias, -60);
    ck_assert_int_eq(t->std_bias, 0);
    ck_assert_int_eq(t->dst_bias, -60);
    /* last Sunday of October 03:00, last Sunday of March 02:00 */
    ck_assert_int_eq(t->std[0], 0);
    ck_assert_int_eq(t->std[1], 10);
    ck_assert_int_eq(t->std[2], 0);
    ck_assert_int_eq(t->std[3], 5);
    ck_assert_int_eq(t->std[4], 3);
    ck_assert_int_eq(t->dst[1], 3);
    ck_assert_int_eq(t->dst[2], 0);
    ck_assert_int_eq(t->dst[3], 5);
    ck_assert_int_eq(t->dst[4], 2);
}

/* ---- Categories ------------------------------------------------------------ */

START_TEST(keywords)
{
    size_t len;
    xmlNodePtr app = convert(mg_msg_keywords(&len), &len, 141), cats, c;
    static const char *const want[] = {"Gesch\xc3\xa4"
                                       "ftlich",
                                       "Urgent", "Project, Alpha", "R\xc3\xa9sum\xc3\xa9", NULL};
    int i = 0;

    cats = child(app, NS_EMAIL, "Categories");
    ck_assert_ptr_nonnull(cats);
    for (c = cats->children; c; c = c->next) {
        xmlChar *t = xmlNodeGetContent(c);
        ck_assert_str_eq((const char *)c->name, "Category");
        ck_assert_ptr_nonnull(want[i]);
        ck_assert_str_eq((const char *)t, want[i]);
        xmlFree(t);
        i++;
    }
    ck_assert_ptr_null(want[i]);
    /* last of the item, after the conversation */
    ck_assert_str_eq(names(app) + strlen(names(app)) -
                         strlen("NativeBodyType ConversationId "
                                "ConversationIndex Categories"),
                     "NativeBodyType ConversationId ConversationIndex Categories");
    /* no Keywords: no Categories */
    app = convert(mg_msg_plain(&len, 1), &len, 141);
    ck_assert_ptr_null(child(app, NS_EMAIL, "Categories"));
    validate_reply();
}
END_TEST

/* Email2:LastVerbExecuted from the answered/forwarded flags, 14.0+ only. */
START_TEST(last_verb)
{
    size_t len;
    xmlNodePtr app;

    convert_flags = AS_STORE_SEEN | AS_STORE_ANSWERED;
    app = convert(mg_msg_plain(&len, 1), &len, 141);
    ck_assert_str_eq(text(app, NS_EMAIL2, "LastVerbExecuted"), "1");
    convert_flags = AS_STORE_ANSWERED | AS_STORE_FORWARDED;
    app = convert(mg_msg_plain(&len, 2), &len, 160);
    ck_assert_str_eq(text(app, NS_EMAIL2, "LastVerbExecuted"), "3");
    convert_flags = AS_STORE_FORWARDED;
    app = convert(mg_msg_plain(&len, 3), &len, 121);
    ck_assert_ptr_null(child(app, NS_EMAIL2, "LastVerbExecuted"));
    convert_flags = AS_STORE_SEEN;
    app = convert(mg_msg_plain(&len, 4), &len, 141);
    ck_assert_ptr_null(child(app, NS_EMAIL2, "LastVerbExecuted"));
    convert_flags = 0;
    validate_reply();
}
END_TEST

/* ---- conversations ----------------------------------------------------------- */

static const char *md5_hex(const char *s)
{
    unsigned char d[APR_MD5_DIGESTSIZE];
    char *h = apr_palloc(unit_pool, 33);
    int i;
    apr_md5(d, s, strlen(s));
    for (i = 0; i < 16; i++) {
        snprintf(h + 2 * i, 3, "%02x", d[i]);
    }
    return h;
}

START_TEST(reply_chain)
{
    size_t len;
    const char *root = "<root.4711@example.org>", *id;
    xmlNodePtr a0, a1, a2, a3, other, outlook, orphan;

    a0 =
        convert(mg_msg_thread(&len, "root.4711@example.org", NULL, NULL, NULL, MG_DATE), &len, 141);
    a1 = convert(
        mg_msg_thread(&len, "r1@example.com", root, root, NULL, "Mon, 04 Mar 2024 11:00:00 +0100"),
        &len, 141);
    a2 = convert(mg_msg_thread(&len, "r2@example.net", "<r1@example.com>",
                               "<root.4711@example.org>\n <r1@example.com>", NULL,
                               "Mon, 04 Mar 2024 12:00:00 +0100"),
                 &len, 141);
    /* a client that only writes In-Reply-To */
    a3 = convert(
        mg_msg_thread(&len, "r3@example.com", root, NULL, NULL, "Mon, 04 Mar 2024 13:00:00 +0100"),
        &len, 141);
    other = convert(mg_msg_plain(&len, 7), &len, 141);

    id = opaque_hex(a0, NS_EMAIL2, "ConversationId");
    ck_assert_str_eq(id, md5_hex("root.4711@example.org"));
    ck_assert_str_eq(opaque_hex(a1, NS_EMAIL2, "ConversationId"), id);
    ck_assert_str_eq(opaque_hex(a2, NS_EMAIL2, "ConversationId"), id);
    ck_assert_str_eq(opaque_hex(a3, NS_EMAIL2, "ConversationId"), id);
    ck_assert_str_ne(opaque_hex(other, NS_EMAIL2, "ConversationId"), id);
    /* 09:15:00Z as FILETIME 0x01DA6E146E...; replies later, so larger */
    ck_assert_str_eq(opaque_hex(a0, NS_EMAIL2, "ConversationIndex"), "01da6e146e");
    ck_assert_int_lt(strcmp(opaque_hex(a0, NS_EMAIL2, "ConversationIndex"),
                            opaque_hex(a1, NS_EMAIL2, "ConversationIndex")),
                     0);
    ck_assert_int_lt(strcmp(opaque_hex(a1, NS_EMAIL2, "ConversationIndex"),
                            opaque_hex(a2, NS_EMAIL2, "ConversationIndex")),
                     0);

    /* Outlook's Thread-Index: 22-byte header + one response level; the
     * index is its time bytes and the level, the id still the root's */
    outlook = convert(mg_msg_thread(&len, "r4@example.de", "<r1@example.com>",
                                    "<root.4711@example.org> <r1@example.com>",
                                    "AdpuFG7Hq5J8Rn9PQ0Kc3T6vW4xYcwAAG3HR",
                                    "Mon, 04 Mar 2024 14:00:00 +0100"),
                      &len, 141);
    ck_assert_str_eq(opaque_hex(outlook, NS_EMAIL2, "ConversationId"), id);
    ck_assert_str_eq(opaque_hex(outlook, NS_EMAIL2, "ConversationIndex"), "da6e146ec7"
                                                                          "00001b71d1");
    /* no Message-ID anywhere: the Thread-Index GUID */
    {
        size_t n;
        char *m = mg_msg_thread(&n, "x", NULL, NULL, "AdpuFG7Hq5J8Rn9PQ0Kc3T6vW4xYcw==", MG_DATE);
        char *mid = strstr(m, "Message-ID: <x>\n");
        ck_assert_ptr_nonnull(mid);
        memmove(mid, mid + 16, strlen(mid + 16) + 1);
        n -= 16;
        orphan = convert(m, &n, 141);
    }
    ck_assert_str_eq(opaque_hex(orphan, NS_EMAIL2, "ConversationId"),
                     "ab927c467f4f43429cdd3eaf5b8c5873");
    ck_assert_str_eq(opaque_hex(orphan, NS_EMAIL2, "ConversationIndex"), "da6e146ec7");
    validate_reply();
}
END_TEST

/* ---- invitations --------------------------------------------------------------- */

static const char *mr_text(xmlNodePtr app, const char *name)
{
    return text(child(app, NS_EMAIL, "MeetingRequest"), NS_EMAIL, name);
}

START_TEST(invite_outlook)
{
    size_t len;
    xmlNodePtr app = convert(mg_msg_invite_outlook(&len), &len, 141), mr, rec;
    tzi_t tz;

    ck_assert_str_eq(text(app, NS_EMAIL, "MessageClass"), "IPM.Schedule.Meeting.Request");
    ck_assert_str_eq(text(app, NS_EMAIL, "ContentClass"), "urn:content-classes:calendarmessage");
    mr = child(app, NS_EMAIL, "MeetingRequest");
    ck_assert_ptr_nonnull(mr);
    /* right after MessageClass, children in the order of Email.xsd */
    ck_assert_ptr_eq(mr->prev, child(app, NS_EMAIL, "MessageClass"));
    ck_assert_str_eq(names(mr), "AllDayEvent StartTime DtStamp EndTime InstanceType Location "
                                "Organizer Reminder ResponseRequested Recurrences Sensitivity "
                                "BusyStatus TimeZone GlobalObjId DisallowNewTimeProposal "
                                "MeetingMessageType");
    ck_assert_str_eq(mr_text(app, "AllDayEvent"), "0");
    ck_assert_str_eq(mr_text(app, "StartTime"), "2024-07-02T07:30:00.000Z"); /* CEST */
    ck_assert_str_eq(mr_text(app, "EndTime"), "2024-07-02T08:00:00.000Z");
    ck_assert_str_eq(mr_text(app, "DtStamp"), "2024-06-20T08:15:00.000Z");
    ck_assert_str_eq(mr_text(app, "InstanceType"), "1");
    ck_assert_str_eq(mr_text(app, "Location"), "Raum M\xc3\xbcnchen 2");
    ck_assert_str_eq(mr_text(app, "Organizer"),
                     "\"M\xc3\xbcller, Hans\" <hans.mueller@example.de>");
    ck_assert_str_eq(mr_text(app, "Reminder"), "15");
    ck_assert_str_eq(mr_text(app, "ResponseRequested"), "1");
    ck_assert_str_eq(mr_text(app, "Sensitivity"), "0");
    ck_assert_str_eq(mr_text(app, "BusyStatus"), "2"); /* INTENDEDSTATUS, not BUSYSTATUS */
    ck_assert_str_eq(mr_text(app, "DisallowNewTimeProposal"), "1");
    ck_assert_str_eq(text(mr, NS_EMAIL2, "MeetingMessageType"), "1");
    /* MS-ASEMAIL 4.3 example 1: the Outlook UID is the GlobalObjId in hex */
    ck_assert_str_eq(
        mr_text(app, "GlobalObjId"),
        "BAAAAIIA4AB0xbcQGoLgCAAAAADgQMnBJoXEAQAAAAAAAAAAEAAAAAvw7UtuTulOnjnjhns3jvM=");
    rec = child(child(mr, NS_EMAIL, "Recurrences"), NS_EMAIL, "Recurrence");
    ck_assert_str_eq(names(rec), "Type Interval Occurrences DayOfWeek");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Type"), "1");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Interval"), "1");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Occurrences"), "10");
    ck_assert_str_eq(text(rec, NS_EMAIL, "DayOfWeek"), "20"); /* Tuesday 4 + Thursday 16 */
    tz = tzi_of(mr_text(app, "TimeZone"));
    assert_berlin(&tz);
    ck_assert_str_eq(tz.std_name, "W. Europe Standard Time");
    ck_assert_str_eq(tz.dst_name, "W. Europe Standard Time");
    /* Thread-Index bytes 1-5 */
    ck_assert_str_eq(opaque_hex(app, NS_EMAIL2, "ConversationIndex"), "dac2f1ef2a");
    ck_assert_int_eq(warnings, 0);
    validate_reply();
}
END_TEST

START_TEST(invite_google)
{
    size_t len;
    xmlNodePtr app = convert(mg_msg_invite_google(&len), &len, 141), mr, rec, atts;
    tzi_t tz;

    ck_assert_str_eq(text(app, NS_EMAIL, "MessageClass"), "IPM.Schedule.Meeting.Request");
    mr = child(app, NS_EMAIL, "MeetingRequest");
    ck_assert_ptr_nonnull(mr);
    ck_assert_str_eq(mr_text(app, "StartTime"), "2024-03-12T13:00:00.000Z"); /* CET */
    ck_assert_str_eq(mr_text(app, "EndTime"), "2024-03-12T14:00:00.000Z");
    ck_assert_str_eq(mr_text(app, "DtStamp"), "2024-03-04T09:15:00.000Z");
    ck_assert_str_eq(mr_text(app, "InstanceType"), "1");
    ck_assert_ptr_null(child(mr, NS_EMAIL, "Location")); /* LOCATION is empty */
    ck_assert_str_eq(mr_text(app, "Organizer"), "\"Org Anizer\" <org@example.com>");
    ck_assert_str_eq(mr_text(app, "Reminder"), "30");
    ck_assert_str_eq(mr_text(app, "ResponseRequested"), "1"); /* RSVP=TRUE, folded */
    ck_assert_str_eq(mr_text(app, "BusyStatus"), "2");
    ck_assert_str_eq(mr_text(app, "DisallowNewTimeProposal"), "0");
    rec = child(child(mr, NS_EMAIL, "Recurrences"), NS_EMAIL, "Recurrence");
    ck_assert_str_eq(names(rec), "Type Interval Until WeekOfMonth DayOfWeek");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Type"), "3");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Until"), "20241231T225959Z");
    ck_assert_str_eq(text(rec, NS_EMAIL, "WeekOfMonth"), "2");
    ck_assert_str_eq(text(rec, NS_EMAIL, "DayOfWeek"), "4");
    tz = tzi_of(mr_text(app, "TimeZone"));
    assert_berlin(&tz);
    ck_assert_str_eq(tz.std_name, "CET");
    ck_assert_str_eq(tz.dst_name, "CEST");
    /* a third-party UID: the vCal-Uid wrapping, no instance date */
    ck_assert_str_eq(mr_text(app, "GlobalObjId"),
                     as_meeting_globalobjid(unit_pool, CG_GOOGLE_UID, 0, 0, 0));
    /* the .ics Google also attaches stays an attachment */
    atts = child(app, NS_BASE, "Attachments");
    ck_assert_str_eq(text(child(atts, NS_BASE, "Attachment"), NS_BASE, "DisplayName"),
                     "invite.ics");
    validate_reply();
}
END_TEST

START_TEST(cancel)
{
    size_t len;
    xmlNodePtr app = convert(mg_msg_cancel(&len), &len, 141), mr;
    unsigned char g[256];
    int n;

    ck_assert_str_eq(text(app, NS_EMAIL, "MessageClass"), "IPM.Schedule.Meeting.Canceled");
    mr = child(app, NS_EMAIL, "MeetingRequest");
    ck_assert_ptr_nonnull(mr);
    ck_assert_str_eq(mr_text(app, "StartTime"), "2024-04-09T12:00:00.000Z"); /* CEST */
    ck_assert_str_eq(mr_text(app, "InstanceType"), "3");
    ck_assert_str_eq(mr_text(app, "RecurrenceId"), "2024-04-09T12:00:00.000Z");
    ck_assert_str_eq(mr_text(app, "ResponseRequested"), "0");
    ck_assert_str_eq(mr_text(app, "BusyStatus"), "0");
    ck_assert_ptr_null(child(mr, NS_EMAIL, "Recurrences"));
    ck_assert_str_eq(text(mr, NS_EMAIL2, "MeetingMessageType"), "0");
    /* the occurrence's original date in bytes 17-20, year big-endian */
    n = apr_base64_decode_binary(g, mr_text(app, "GlobalObjId"));
    ck_assert_int_eq(n, 40 + 12 + (int)strlen(CG_GOOGLE_UID) + 1);
    ck_assert_int_eq(g[16], 0x07);
    ck_assert_int_eq(g[17], 0xE8);
    ck_assert_int_eq(g[18], 4);
    ck_assert_int_eq(g[19], 9);
    ck_assert_int_eq(memcmp(g + 40, "vCal-Uid\x01\x00\x00\x00", 12), 0);
    ck_assert_str_eq((const char *)g + 52, CG_GOOGLE_UID);
    validate_reply();
}
END_TEST

START_TEST(globalobjid_vector)
{
    /* MS-ASEMAIL 4.3 example 2, in the other direction */
    ck_assert_str_eq(
        as_meeting_globalobjid(unit_pool, "{81412D3C-2A24-4E9D-B20E-11F7BBE92799}", 0, 0, 0),
        "BAAAAIIA4AB0xbcQGoLgCAAAAAAAAAAAAAAAAAAAAAAAAAAAMwAAAHZDYWwtVWlkAQAAAHs4MTQx"
        "MkQzQy0yQTI0LTRFOUQtQjIwRS0xMUY3QkJFOTI3OTl9AA==");
    /* hex that is not a GlobalObjectId is a third-party UID */
    {
        unsigned char g[256];
        const char *zeros = "0000000000000000000000000000000000000000000000000000000000000000000"
                            "000000000000000";
        int n = apr_base64_decode_binary(g, as_meeting_globalobjid(unit_pool, zeros, 0, 0, 0));
        ck_assert_int_eq(n, 40 + 12 + 82 + 1);
        ck_assert_int_eq(g[36], 12 + 82 + 1);
        ck_assert_int_eq(memcmp(g + 40, "vCal-Uid", 8), 0);
    }
}
END_TEST

/* A one-event calendar (Google's VTIMEZONE) with the given VEVENT lines. */
static char *invite_with(size_t *len, const char *event_lines)
{
    mg_buf_t b = {0};
    mg_headers(&b, "org@example.com", "jdoe@example.com", "Event", MG_DATE, "ev@example.com");
    mg_printf(&b,
              "Content-Type: text/calendar; charset=utf-8; method=REQUEST\n\n"
              "BEGIN:VCALENDAR\nVERSION:2.0\nMETHOD:REQUEST\n%s"
              "BEGIN:VEVENT\nUID:ev-1@example.com\nDTSTAMP:20240304T091500Z\n%sEND:VEVENT\n"
              "END:VCALENDAR\n",
              CG_VTZ_GOOGLE, event_lines);
    *len = b.len;
    return b.s;
}

START_TEST(all_day_and_patterns)
{
    size_t len;
    xmlNodePtr app, rec;

    /* all day: local midnight of the calendar's zone, in UTC */
    app = convert(invite_with(&len, "DTSTART;VALUE=DATE:20240704\nDTEND;VALUE=DATE:20240705\n"
                                    "CLASS:PRIVATE\nTRANSP:TRANSPARENT\n"
                                    "RRULE:FREQ=YEARLY;BYMONTH=7;BYMONTHDAY=4\n"),
                  &len, 141);
    ck_assert_str_eq(mr_text(app, "AllDayEvent"), "1");
    ck_assert_str_eq(mr_text(app, "StartTime"), "2024-07-03T22:00:00.000Z");
    ck_assert_str_eq(mr_text(app, "EndTime"), "2024-07-04T22:00:00.000Z");
    ck_assert_str_eq(mr_text(app, "Sensitivity"), "2");
    ck_assert_str_eq(mr_text(app, "BusyStatus"), "0");
    rec = child(child(child(app, NS_EMAIL, "MeetingRequest"), NS_EMAIL, "Recurrences"), NS_EMAIL,
                "Recurrence");
    ck_assert_str_eq(names(rec), "Type Interval DayOfMonth MonthOfYear");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Type"), "5");
    ck_assert_str_eq(text(rec, NS_EMAIL, "DayOfMonth"), "4");
    ck_assert_str_eq(text(rec, NS_EMAIL, "MonthOfYear"), "7");

    /* every other day until a DATE: the last start that day, in UTC */
    app = convert(invite_with(&len, "DTSTART;TZID=Europe/Berlin:20240301T080000\n"
                                    "DURATION:PT45M\nRRULE:FREQ=DAILY;INTERVAL=2;UNTIL=20240331\n"),
                  &len, 141);
    ck_assert_str_eq(mr_text(app, "StartTime"), "2024-03-01T07:00:00.000Z");
    ck_assert_str_eq(mr_text(app, "EndTime"), "2024-03-01T07:45:00.000Z");
    rec = child(child(child(app, NS_EMAIL, "MeetingRequest"), NS_EMAIL, "Recurrences"), NS_EMAIL,
                "Recurrence");
    ck_assert_str_eq(names(rec), "Type Interval Until");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Type"), "0");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Interval"), "2");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Until"), "20240331T060000Z"); /* 08:00 CEST */

    /* the last day of each month; working days; the last Friday of a year's November */
    app = convert(invite_with(&len, "DTSTART:20240131T160000Z\nDTEND:20240131T170000Z\n"
                                    "RRULE:FREQ=MONTHLY;BYMONTHDAY=-1;COUNT=6\n"),
                  &len, 141);
    rec = child(child(child(app, NS_EMAIL, "MeetingRequest"), NS_EMAIL, "Recurrences"), NS_EMAIL,
                "Recurrence");
    ck_assert_str_eq(names(rec), "Type Interval Occurrences WeekOfMonth DayOfWeek");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Type"), "3");
    ck_assert_str_eq(text(rec, NS_EMAIL, "WeekOfMonth"), "5");
    ck_assert_str_eq(text(rec, NS_EMAIL, "DayOfWeek"), "127");
    /* UTC times: the UTC blob (all zeros) */
    {
        tzi_t tz = tzi_of(mr_text(app, "TimeZone"));
        ck_assert_int_eq(tz.bias, 0);
        ck_assert_int_eq(tz.std[1], 0);
        ck_assert_int_eq(tz.dst[1], 0);
    }
    app = convert(invite_with(&len, "DTSTART:20240102T080000Z\n"
                                    "RRULE:FREQ=WEEKLY;BYDAY=MO,TU,WE,TH,FR\n"),
                  &len, 141);
    ck_assert_str_eq(
        text(child(child(child(app, NS_EMAIL, "MeetingRequest"), NS_EMAIL, "Recurrences"), NS_EMAIL,
                   "Recurrence"),
             NS_EMAIL, "DayOfWeek"),
        "62");
    ck_assert_str_eq(mr_text(app, "EndTime"), "2024-01-02T08:00:00.000Z"); /* no end: start */
    app = convert(invite_with(&len, "DTSTART:20241129T080000Z\n"
                                    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=-1FR\nSEQUENCE:2\n"),
                  &len, 141);
    rec = child(child(child(app, NS_EMAIL, "MeetingRequest"), NS_EMAIL, "Recurrences"), NS_EMAIL,
                "Recurrence");
    ck_assert_str_eq(names(rec), "Type Interval WeekOfMonth DayOfWeek MonthOfYear");
    ck_assert_str_eq(text(rec, NS_EMAIL, "Type"), "6");
    ck_assert_str_eq(text(rec, NS_EMAIL, "WeekOfMonth"), "5");
    ck_assert_str_eq(text(rec, NS_EMAIL, "DayOfWeek"), "32");
    ck_assert_str_eq(text(rec, NS_EMAIL, "MonthOfYear"), "11");
    /* a later SEQUENCE: a full update */
    ck_assert_str_eq(text(child(app, NS_EMAIL, "MeetingRequest"), NS_EMAIL2, "MeetingMessageType"),
                     "2");
    ck_assert_int_eq(warnings, 0);
    validate_reply();
}
END_TEST

/* TZID=Europe/Berlin without a VTIMEZONE in the calendar: the system's zone
 * (when the host has tzdata). */
START_TEST(system_zone)
{
    size_t len;
    mg_buf_t b = {0};
    xmlNodePtr app;
    tzi_t tz;

    if (access("/usr/share/zoneinfo/Europe/Berlin", R_OK) != 0) {
        fprintf(stderr, "# no tzdata: system zone check skipped\n");
        return;
    }
    mg_headers(&b, "org@example.com", "jdoe@example.com", "Event", MG_DATE, "sz@example.com");
    mg_puts(&b, "Content-Type: text/calendar; method=REQUEST\n\n"
                "BEGIN:VCALENDAR\nVERSION:2.0\nMETHOD:REQUEST\nBEGIN:VEVENT\nUID:sz@example.com\n"
                "DTSTAMP:20240304T091500Z\nDTSTART;TZID=Europe/Berlin:20240702T093000\n"
                "DTEND;TZID=Europe/Berlin:20240702T100000\nEND:VEVENT\nEND:VCALENDAR\n");
    len = b.len;
    app = convert(b.s, &len, 141);
    ck_assert_str_eq(mr_text(app, "StartTime"), "2024-07-02T07:30:00.000Z");
    tz = tzi_of(mr_text(app, "TimeZone"));
    assert_berlin(&tz);
}
END_TEST

/* ---- broken calendars ---------------------------------------------------------- */

START_TEST(broken_calendar)
{
    size_t len;
    int which;

    for (which = 0; which < 3; which++) {
        xmlNodePtr app;
        warnings = 0;
        app = convert(mg_msg_invite_broken(&len, which), &len, 141);
        ck_assert_str_eq(text(app, NS_EMAIL, "MessageClass"), "IPM.Note");
        ck_assert_str_eq(text(app, NS_EMAIL, "ContentClass"), "urn:content-classes:message");
        ck_assert_ptr_null(child(app, NS_EMAIL, "MeetingRequest"));
        ck_assert_str_eq(text(child(app, NS_BASE, "Body"), NS_BASE, "Data"), "Still readable.");
        ck_assert_ptr_nonnull(child(app, NS_EMAIL2, "ConversationId"));
        ck_assert_msg(warnings == 1, "calendar %d: %d log lines", which, warnings);
        ck_assert_ptr_nonnull(strstr(last_warning, "iCalendar"));
    }
    validate_reply();
}
END_TEST

/* ---- protocol versions --------------------------------------------------------- */

START_TEST(protocol_12_1)
{
    size_t len;
    xmlNodePtr app, mr;

    app = convert(mg_msg_keywords(&len), &len, 121);
    ck_assert_ptr_null(child(app, NS_EMAIL, "Categories"));
    ck_assert_ptr_null(child(app, NS_EMAIL2, "ConversationId"));
    ck_assert_ptr_null(child(app, NS_EMAIL2, "ConversationIndex"));
    app = convert(mg_msg_invite_outlook(&len), &len, 121);
    mr = child(app, NS_EMAIL, "MeetingRequest");
    ck_assert_ptr_nonnull(mr);
    ck_assert_ptr_nonnull(child(mr, NS_EMAIL, "GlobalObjId"));
    ck_assert_ptr_null(child(mr, NS_EMAIL, "DisallowNewTimeProposal"));
    ck_assert_ptr_null(child(mr, NS_EMAIL2, "MeetingMessageType"));
    ck_assert_ptr_null(child(app, NS_EMAIL2, "ConversationId"));
    validate_reply();
}
END_TEST

START_TEST(protocol_14_0_and_16_1)
{
    size_t len;
    xmlNodePtr app, mr;

    app = convert(mg_msg_invite_outlook(&len), &len, 140);
    mr = child(app, NS_EMAIL, "MeetingRequest");
    ck_assert_ptr_nonnull(child(mr, NS_EMAIL, "DisallowNewTimeProposal"));
    ck_assert_ptr_null(child(mr, NS_EMAIL2, "MeetingMessageType")); /* 14.1 */
    ck_assert_ptr_nonnull(child(app, NS_EMAIL2, "ConversationId"));

    app = convert(mg_msg_invite_outlook(&len), &len, 161);
    mr = child(app, NS_EMAIL, "MeetingRequest");
    ck_assert_str_eq(names(mr), "AllDayEvent StartTime DtStamp EndTime InstanceType Location "
                                "Organizer Reminder ResponseRequested Recurrences Sensitivity "
                                "BusyStatus TimeZone DisallowNewTimeProposal "
                                "MeetingMessageType UID");
    ck_assert_str_eq(text(child(mr, NS_BASE, "Location"), NS_BASE, "DisplayName"),
                     "Raum M\xc3\xbcnchen 2");
    ck_assert_str_eq(text(mr, NS_CAL, "UID"), CG_OUTLOOK_UID);
    validate_reply();
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("mime_eas14");
    TCase *tc = tcase_create("mime_eas14");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, keywords);
    tcase_add_test(tc, last_verb);
    tcase_add_test(tc, reply_chain);
    tcase_add_test(tc, invite_outlook);
    tcase_add_test(tc, invite_google);
    tcase_add_test(tc, cancel);
    tcase_add_test(tc, globalobjid_vector);
    tcase_add_test(tc, all_day_and_patterns);
    tcase_add_test(tc, system_zone);
    tcase_add_test(tc, broken_calendar);
    tcase_add_test(tc, protocol_12_1);
    tcase_add_test(tc, protocol_14_0_and_16_1);
    suite_add_tcase(s, tc);
    return s;
}
