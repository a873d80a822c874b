/* ItemOperations: Fetch of whole messages (BodyPreference, MIMESupport,
 * Schema), of attachments by FileReference with and without Range
 * (including ranges of a 10 MB attachment), the multipart form,
 * EmptyFolderContents with and without DeleteSubFolders, conversation
 * Move, and the error statuses (bad FileReference/ServerId, unknown store,
 * email off, malformed requests).  Every reply is checked with
 * shared/conformance/validate-eas. */
#include <apr_base64.h>

#include "activesync/as_multipart.h"
#include "iotest.h"
#include "unit.h"

#define IO_HEAD                                                                                    \
    "<ItemOperations xmlns=\"ItemOperations:\" xmlns:a=\"AirSync:\" "                              \
    "xmlns:b=\"AirSyncBase:\" xmlns:e=\"Email:\" xmlns:s=\"Search:\">"
#define IO_TAIL "</ItemOperations>"

#define BIG_SIZE (10 * 1024 * 1024)

static const char *inbox;
static const char *id_plain, *id_attach, *id_big, *id_nested;

static void setup(void)
{
    size_t len;
    char *m;
    unit_pool_setup();
    iot_setup();
    m = mg_msg_plain(&len, 1);
    id_plain = iot_put("", "cur", 1, "2,S", m, len);
    free(m);
    m = mg_msg_attach(&len);
    id_attach = iot_put("", "new", 2, NULL, m, len);
    free(m);
    m = mg_msg_large(&len, BIG_SIZE);
    id_big = iot_put("", "cur", 3, "2,", m, len);
    free(m);
    m = mg_msg_nested(&len);
    id_nested = iot_put("", "cur", 4, "2,F", m, len);
    free(m);
    inbox = iot_folder("");
}

static void teardown(void)
{
    iot_teardown();
    unit_pool_teardown();
}

static const char *L(const char *path)
{
    /* "/a/b" -> the same path matching local names only (no prefixes needed) */
    const char *s = path, *out = "";
    while (*s) {
        const char *e;
        int dbl = s[0] == '/' && s[1] == '/';
        s += dbl ? 2 : 1;
        e = s;
        while (*e && *e != '/' && *e != '[') {
            e++;
        }
        out = apr_psprintf(unit_pool, "%s%s*[local-name()='%.*s']", out, dbl ? "//" : "/",
                           (int)(e - s), s);
        if (*e == '[') {
            const char *c = strchr(e, ']');
            out = apr_psprintf(unit_pool, "%s%.*s", out, (int)(c - e + 1), e);
            e = c + 1;
        }
        s = e;
    }
    return out;
}

static const char *X(cmdtest_t *t, const char *path)
{
    return xp(t->resp.doc, L(path));
}

static int N(cmdtest_t *t, const char *path)
{
    return xp_count(t->resp.doc, L(path));
}

static void io(cmdtest_t *t, const iot_opts_t *o, const char *ops)
{
    iot_run(t, as_cmd_itemoperations, "ItemOperations", o,
            apr_pstrcat(unit_pool, IO_HEAD, ops, IO_TAIL, NULL));
    ck_assert_int_eq(t->rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(t->resp.doc);
}

static const char *fetch_sid(const char *coll, const char *item, const char *options)
{
    return apr_psprintf(unit_pool,
                        "<Fetch><Store>Mailbox</Store><a:CollectionId>%s</a:CollectionId>"
                        "<a:ServerId>%s:%s</a:ServerId>%s</Fetch>",
                        coll, coll, item, options ? options : "");
}

static const char *fetch_ref(const char *ref, const char *range)
{
    return apr_psprintf(unit_pool,
                        "<Fetch><Store>Mailbox</Store><b:FileReference>%s</b:FileReference>%s%s%s"
                        "</Fetch>",
                        ref, range ? "<Options><Range>" : "", range ? range : "",
                        range ? "</Range></Options>" : "");
}

/* Decoded Data of the first Fetch. */
static const unsigned char *data_of(cmdtest_t *t, apr_size_t *len)
{
    const char *b64 = X(t, "//Fetch/Properties/Data");
    unsigned char *out = apr_palloc(unit_pool, (apr_size_t)apr_base64_decode_len(b64) + 1);
    *len = (apr_size_t)apr_base64_decode_binary(out, b64);
    return out;
}

/* The FileReference of attachment n (1-based) of a message, via Fetch. */
static const char *attachment_ref(const char *item, int n)
{
    cmdtest_t t;
    const char *ref;
    io(&t, NULL, fetch_sid(inbox, item, NULL));
    ck_assert_str_eq(X(&t, "/ItemOperations/Response/Fetch/Status"), "1");
    ref = X(&t, apr_psprintf(unit_pool, "//Attachments/Attachment[%d]/FileReference", n));
    ck_assert_str_ne(ref, "");
    cmdtest_free(&t);
    return ref;
}

START_TEST(test_fetch_item)
{
    cmdtest_t t;
    io(&t, NULL, fetch_sid(inbox, id_plain, NULL));
    ck_assert_str_eq(X(&t, "/ItemOperations/Status"), "1");
    ck_assert_str_eq(X(&t, "/ItemOperations/Response/Fetch/Status"), "1");
    ck_assert_str_eq(X(&t, "//Fetch/CollectionId"), inbox);
    ck_assert_str_eq(X(&t, "//Fetch/ServerId"), apr_pstrcat(unit_pool, inbox, ":", id_plain, NULL));
    ck_assert_str_eq(X(&t, "//Fetch/Class"), "Email");
    ck_assert_str_ne(X(&t, "//Fetch/Properties/Subject"), "");
    ck_assert_str_eq(X(&t, "//Fetch/Properties/Read"), "1");
    ck_assert_str_eq(X(&t, "//Fetch/Properties/Body/Type"), "1");
    ck_assert_str_ne(X(&t, "//Fetch/Properties/Body/Data"), "");
    ck_assert_int_eq(N(&t, "//Fetch/Properties/Body/Truncated[.='1']"), 0);
    cmdtest_free(&t);

    /* HTML with truncation, then MIME */
    io(&t, NULL,
       fetch_sid(inbox, id_attach,
                 "<Options><b:BodyPreference><b:Type>2</b:Type><b:TruncationSize>20"
                 "</b:TruncationSize></b:BodyPreference></Options>"));
    ck_assert_str_eq(X(&t, "//Fetch/Status"), "1");
    ck_assert_str_eq(X(&t, "//Body/Type"), "2");
    ck_assert_str_eq(X(&t, "//Body/Truncated"), "1");
    ck_assert_int_le(strlen(X(&t, "//Body/Data")), 20);
    ck_assert_int_eq(N(&t, "//Attachments/Attachment"), 2);
    cmdtest_free(&t);
    /* AllOrNone: a body that would be cut comes without Data */
    io(&t, NULL,
       fetch_sid(inbox, id_attach,
                 "<Options><b:BodyPreference><b:Type>2</b:Type><b:TruncationSize>20"
                 "</b:TruncationSize><b:AllOrNone>1</b:AllOrNone></b:BodyPreference></Options>"));
    ck_assert_str_eq(X(&t, "//Fetch/Status"), "1");
    ck_assert_int_eq(N(&t, "//Body/Data"), 0);
    cmdtest_free(&t);
    io(&t, NULL,
       fetch_sid(inbox, id_attach,
                 "<Options><b:BodyPreference><b:Type>0</b:Type></b:BodyPreference></Options>"));
    ck_assert_str_eq(X(&t, "//Fetch/Status"), "2");
    cmdtest_free(&t);
    io(&t, NULL,
       fetch_sid(inbox, id_nested,
                 "<Options><a:MIMESupport>2</a:MIMESupport><b:BodyPreference><b:Type>4</b:Type>"
                 "</b:BodyPreference></Options>"));
    ck_assert_str_eq(X(&t, "//Body/Type"), "4");
    ck_assert_ptr_nonnull(strstr(X(&t, "//Body/Data"), "Subject: Fwd: Lunch?"));
    ck_assert_int_eq(N(&t, "//Properties/Flag"), 1);
    cmdtest_free(&t);

    /* Schema: only what it names */
    io(&t, NULL,
       fetch_sid(inbox, id_plain, "<Options><Schema><e:Subject/><b:Body/></Schema></Options>"));
    ck_assert_str_eq(X(&t, "//Fetch/Status"), "1");
    ck_assert_int_eq(xp_count(t.resp.doc, "//*[local-name()='Properties']/*"), 2);
    ck_assert_int_eq(N(&t, "//Properties/Subject"), 1);
    ck_assert_int_eq(N(&t, "//Properties/Body"), 1);
    cmdtest_free(&t);

    /* several fetches, one missing: answered in order */
    io(&t, NULL,
       apr_pstrcat(unit_pool, fetch_sid(inbox, id_plain, NULL), fetch_sid(inbox, "zzzzzzz", NULL),
                   fetch_sid(inbox, id_nested, NULL), NULL));
    ck_assert_int_eq(N(&t, "//Response/Fetch"), 3);
    ck_assert_str_eq(X(&t, "//Response/Fetch[1]/Status"), "1");
    ck_assert_str_eq(X(&t, "//Response/Fetch[2]/Status"), "6");
    ck_assert_str_eq(X(&t, "//Response/Fetch[3]/Status"), "1");
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_fetch_attachment)
{
    const char *pdf = attachment_ref(id_attach, 2), *png = attachment_ref(id_attach, 1);
    const unsigned char *d;
    apr_size_t len;
    cmdtest_t t;

    io(&t, NULL, fetch_ref(pdf, NULL));
    ck_assert_str_eq(X(&t, "//Fetch/Status"), "1");
    ck_assert_str_eq(X(&t, "//Fetch/FileReference"), pdf);
    ck_assert_str_eq(X(&t, "//Properties/ContentType"), "application/pdf");
    ck_assert_str_eq(X(&t, "//Properties/Total"), "3000");
    ck_assert_int_eq(N(&t, "//Properties/Range"), 0); /* not asked: not echoed */
    d = data_of(&t, &len);
    ck_assert_uint_eq(len, 3000);
    ck_assert_int_eq(memcmp(d, "%PDF-1.4\n", 9), 0);
    cmdtest_free(&t);

    io(&t, NULL, fetch_ref(png, NULL));
    ck_assert_str_eq(X(&t, "//Properties/ContentType"), "image/png");
    d = data_of(&t, &len);
    ck_assert_uint_eq(len, sizeof mg_png);
    ck_assert_int_eq(memcmp(d, mg_png, len), 0);
    cmdtest_free(&t);

    io(&t, NULL, fetch_ref(pdf, "0-99"));
    ck_assert_str_eq(X(&t, "//Properties/Range"), "0-99");
    ck_assert_str_eq(X(&t, "//Properties/Total"), "3000");
    d = data_of(&t, &len);
    ck_assert_uint_eq(len, 100);
    ck_assert_int_eq(memcmp(d, "%PDF-1.4\n", 9), 0);
    cmdtest_free(&t);

    /* a range past the end is clipped */
    io(&t, NULL, fetch_ref(pdf, "2990-5000"));
    ck_assert_str_eq(X(&t, "//Properties/Range"), "2990-2999");
    data_of(&t, &len);
    ck_assert_uint_eq(len, 10);
    cmdtest_free(&t);

    /* invalid ranges: 8 */
    io(&t, NULL,
       apr_pstrcat(unit_pool, fetch_ref(pdf, "3000-3100"), fetch_ref(pdf, "10-5"),
                   fetch_ref(pdf, "0-999999999"), NULL));
    ck_assert_str_eq(X(&t, "//Response/Fetch[1]/Status"), "8");
    ck_assert_str_eq(X(&t, "//Response/Fetch[2]/Status"), "8");
    ck_assert_str_eq(X(&t, "//Response/Fetch[3]/Status"), "8");
    ck_assert_int_eq(N(&t, "//Properties"), 0);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_fetch_big_ranges)
{
    const char *ref = attachment_ref(id_big, 1);
    unsigned char *want = malloc(BIG_SIZE);
    const unsigned char *d;
    apr_size_t len;
    cmdtest_t t;
    struct timespec t0, t1;

    mg_bytes(want, BIG_SIZE, 99);
    io(&t, NULL, fetch_ref(ref, "0-999"));
    ck_assert_str_eq(X(&t, "//Fetch/Status"), "1");
    ck_assert_str_eq(X(&t, "//Properties/Total"), "10485760");
    ck_assert_str_eq(X(&t, "//Properties/Range"), "0-999");
    d = data_of(&t, &len);
    ck_assert_uint_eq(len, 1000);
    ck_assert_int_eq(memcmp(d, want, 1000), 0);
    cmdtest_free(&t);

    clock_gettime(CLOCK_MONOTONIC, &t0);
    io(&t, NULL, fetch_ref(ref, "5242880-6291455"));
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_str_eq(X(&t, "//Properties/Range"), "5242880-6291455");
    d = data_of(&t, &len);
    ck_assert_uint_eq(len, 1048576);
    ck_assert_int_eq(memcmp(d, want + 5242880, len), 0);
    printf("# 1 MB range of a 10 MB attachment: %.0f ms (incl. validation)\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6);
    cmdtest_free(&t);

    io(&t, NULL, fetch_ref(ref, "10485000-10485759"));
    d = data_of(&t, &len);
    ck_assert_uint_eq(len, 760);
    ck_assert_int_eq(memcmp(d, want + 10485000, len), 0);
    cmdtest_free(&t);

    /* the whole 10 MB without Range (not validated: 14 MB of base64) */
    {
        cmdtest_t w;
        memset(&w, 0, sizeof w);
        w.line.device_key = w.line.device_id = IOT_DEV;
        w.req.pool = unit_pool;
        w.req.account = IOT_ACCT;
        w.req.line = &w.line;
        w.req.protocol_version = "14.1";
        w.req.conf = &iot_conf;
        w.req.body =
            cmdtest_tree(apr_pstrcat(unit_pool, IO_HEAD, fetch_ref(ref, NULL), IO_TAIL, NULL));
        ck_assert_int_eq(as_cmd_itemoperations(&w.req, &w.resp), APR_SUCCESS);
        ck_assert_str_eq(X(&w, "//Fetch/Status"), "1");
        d = data_of(&w, &len);
        ck_assert_uint_eq(len, BIG_SIZE);
        ck_assert_int_eq(memcmp(d, want, len), 0);
        cmdtest_free(&w);
    }
    free(want);
}
END_TEST

START_TEST(test_multipart)
{
    const char *pdf = attachment_ref(id_attach, 2);
    iot_opts_t o = {NULL, 0, 0, 1, NULL};
    const as_multipart_part_t *pt;
    const unsigned char *wb, *body;
    apr_array_header_t *parts;
    apr_size_t wl, bl;
    xmlDocPtr back;
    cmdtest_t t;

    io(&t, &o,
       apr_pstrcat(unit_pool, fetch_ref(pdf, "0-499"), fetch_sid(inbox, id_plain, NULL), NULL));
    ck_assert_str_eq(X(&t, "//Response/Fetch[1]/Status"), "1");
    ck_assert_str_eq(X(&t, "//Response/Fetch[1]/Properties/Part"), "1");
    ck_assert_int_eq(N(&t, "//Response/Fetch[1]/Properties/Data"), 0);
    ck_assert_str_eq(X(&t, "//Response/Fetch[2]/Properties/Body/Part"), "2");
    ck_assert_int_eq(N(&t, "//Response/Fetch[2]/Properties/Body/Data"), 0);
    ck_assert_ptr_nonnull(t.resp.parts);
    ck_assert_int_eq(t.resp.parts->nelts, 2);
    pt = &APR_ARRAY_IDX(t.resp.parts, 0, as_multipart_part_t);
    ck_assert_uint_eq(pt->len, 500);
    ck_assert_int_eq(memcmp(pt->data, "%PDF-1.4\n", 9), 0);

    /* the body the glue sends, and back */
    ck_assert_int_eq(as_wbxml_encode_pool(t.resp.doc, NULL, unit_pool, &wb, &wl), AS_WBXML_OK);
    ck_assert_int_eq(as_multipart_build(unit_pool, wb, wl, t.resp.parts, &body, &bl), APR_SUCCESS);
    ck_assert_uint_eq(bl, 4 + 3 * 8 + wl + 500 + pt[1].len);
    ck_assert_int_eq(as_multipart_parse(unit_pool, body, bl, &parts), APR_SUCCESS);
    ck_assert_int_eq(parts->nelts, 3);
    ck_assert_uint_eq(APR_ARRAY_IDX(parts, 0, as_multipart_part_t).len, wl);
    ck_assert_int_eq(
        as_wbxml_decode(APR_ARRAY_IDX(parts, 0, as_multipart_part_t).data, wl, NULL, &back, NULL),
        AS_WBXML_OK);
    xmlFreeDoc(back);
    ck_assert_int_eq(memcmp(APR_ARRAY_IDX(parts, 1, as_multipart_part_t).data, pt->data, 500), 0);
    ck_assert_uint_gt(APR_ARRAY_IDX(parts, 2, as_multipart_part_t).len, 0);
    /* truncated or inconsistent bodies are refused */
    ck_assert_int_eq(as_multipart_parse(unit_pool, body, 3, &parts), APR_EINVAL);
    ck_assert_int_eq(as_multipart_parse(unit_pool, body, bl - 1, &parts), APR_EINVAL);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_bad_references)
{
    const char *pdf = attachment_ref(id_attach, 2);
    const char *work = iot_folder("Work");
    cmdtest_t t;
    iot_opts_t off = {NULL, 1, 0, 0, NULL}, nostore = {NULL, 0, 1, 0, NULL};
    const char *bad_part = apr_pstrcat(unit_pool, inbox, ":", id_attach, ":9", NULL);
    const char *gone = apr_pstrcat(unit_pool, inbox, ":00000000000aa:1", NULL);

    io(&t, NULL,
       apr_pstrcat(unit_pool, fetch_ref("garbage", NULL), fetch_ref(bad_part, NULL),
                   fetch_ref(gone, NULL), fetch_ref("", NULL), NULL));
    ck_assert_str_eq(X(&t, "//Response/Fetch[1]/Status"), "15");
    ck_assert_str_eq(X(&t, "//Response/Fetch[2]/Status"), "15");
    ck_assert_str_eq(X(&t, "//Response/Fetch[3]/Status"), "15");
    ck_assert_str_eq(X(&t, "//Response/Fetch[4]/Status"), "15"); /* empty FileReference */
    cmdtest_free(&t);

    io(&t, NULL,
       apr_pstrcat(unit_pool, fetch_sid(inbox, "not/an:id", NULL),
                   /* the item is not in that collection */
                   apr_psprintf(unit_pool,
                                "<Fetch><Store>Mailbox</Store><a:CollectionId>%s</a:CollectionId>"
                                "<a:ServerId>%s:%s</a:ServerId></Fetch>",
                                work, inbox, id_plain),
                   fetch_sid(work, id_plain, NULL),
                   "<Fetch><Store>DocumentLibrary</Store><a:ServerId>x</a:ServerId></Fetch>",
                   "<Fetch><a:ServerId>x</a:ServerId></Fetch>",
                   "<Fetch><Store>Mailbox</Store><s:LongId>RgAAAA</s:LongId></Fetch>",
                   "<Fetch><Store>Mailbox</Store></Fetch>", NULL));
    ck_assert_str_eq(X(&t, "//Response/Fetch[1]/Status"), "6");
    ck_assert_str_eq(X(&t, "//Response/Fetch[2]/Status"), "6");
    ck_assert_str_eq(X(&t, "//Response/Fetch[3]/Status"), "6");
    ck_assert_str_eq(X(&t, "//Response/Fetch[4]/Status"), "9");
    ck_assert_str_eq(X(&t, "//Response/Fetch[5]/Status"), "2");
    ck_assert_str_eq(X(&t, "//Response/Fetch[6]/Status"), "6");
    ck_assert_str_eq(X(&t, "//Response/Fetch[6]/LongId"), "RgAAAA");
    ck_assert_str_eq(X(&t, "//Response/Fetch[7]/Status"), "2");
    cmdtest_free(&t);

    /* email off, or no Maildir configured: not found */
    io(&t, &off,
       apr_pstrcat(unit_pool, fetch_sid(inbox, id_plain, NULL), fetch_ref(pdf, NULL), NULL));
    ck_assert_str_eq(X(&t, "//Response/Fetch[1]/Status"), "6");
    ck_assert_str_eq(X(&t, "//Response/Fetch[2]/Status"), "15");
    ck_assert_int_eq(N(&t, "//Properties"), 0);
    cmdtest_free(&t);
    io(&t, &nostore, fetch_sid(inbox, id_plain, NULL));
    ck_assert_str_eq(X(&t, "//Response/Fetch[1]/Status"), "6");
    cmdtest_free(&t);

    /* malformed requests: global Status 2, no Response */
    iot_run(&t, as_cmd_itemoperations, "ItemOperations", NULL,
            IO_HEAD "<Store>Mailbox</Store>" IO_TAIL);
    ck_assert_str_eq(X(&t, "/ItemOperations/Status"), "2");
    ck_assert_int_eq(N(&t, "/ItemOperations/Response"), 0);
    cmdtest_free(&t);
    iot_run(&t, as_cmd_itemoperations, "ItemOperations", NULL, IO_HEAD IO_TAIL);
    ck_assert_str_eq(X(&t, "/ItemOperations/Status"), "2");
    cmdtest_free(&t);
    iot_run(&t, as_cmd_itemoperations, "ItemOperations", NULL,
            "<Ping xmlns=\"Ping:\"><HeartbeatInterval>60</HeartbeatInterval></Ping>");
    ck_assert_str_eq(X(&t, "/ItemOperations/Status"), "2");
    cmdtest_free(&t);
    iot_run(&t, as_cmd_itemoperations, "ItemOperations", NULL, NULL);
    ck_assert_str_eq(X(&t, "/ItemOperations/Status"), "2");
    cmdtest_free(&t);
    {
        const char *many = "";
        int i;
        for (i = 0; i < 65; i++) {
            many = apr_pstrcat(unit_pool, many, fetch_ref(pdf, "0-1"), NULL);
        }
        io(&t, NULL, many);
        ck_assert_str_eq(X(&t, "/ItemOperations/Status"), "2");
        cmdtest_free(&t);
    }
}
END_TEST

START_TEST(test_empty_folder)
{
    const char *trash = iot_folder("Trash"), *work = iot_folder("Work");
    size_t len;
    char *m = mg_msg_plain(&len, 9);
    cmdtest_t t;
    iot_opts_t off = {NULL, 1, 0, 0, NULL};
    int i;

    mg_folder(iot_mbox, "Trash.Old");
    for (i = 0; i < 3; i++) {
        iot_put("Trash", i ? "cur" : "new", 20 + i, i ? "2,S" : NULL, m, len);
    }
    iot_put("Trash.Old", "cur", 30, "2,", m, len);
    free(m);
    ck_assert_int_eq(iot_count("Trash"), 3);

    /* email off: not found, nothing removed */
    io(&t, &off,
       apr_psprintf(unit_pool,
                    "<EmptyFolderContents><a:CollectionId>%s</a:CollectionId>"
                    "</EmptyFolderContents>",
                    trash));
    ck_assert_str_eq(X(&t, "//EmptyFolderContents/Status"), "6");
    ck_assert_int_eq(iot_count("Trash"), 3);
    cmdtest_free(&t);

    io(&t, NULL,
       apr_psprintf(unit_pool,
                    "<EmptyFolderContents><a:CollectionId>%s</a:CollectionId>"
                    "</EmptyFolderContents>",
                    trash));
    ck_assert_str_eq(X(&t, "//EmptyFolderContents/Status"), "1");
    ck_assert_str_eq(X(&t, "//EmptyFolderContents/CollectionId"), trash);
    ck_assert_int_eq(iot_count("Trash"), 0);
    ck_assert_int_eq(iot_count("Trash.Old"), 1); /* subfolders kept */
    cmdtest_free(&t);

    /* with DeleteSubFolders; mixed with a Fetch (answered after it: schema order) */
    io(&t, NULL,
       apr_pstrcat(unit_pool, fetch_sid(inbox, id_plain, NULL),
                   apr_psprintf(unit_pool,
                                "<EmptyFolderContents><a:CollectionId>%s</a:CollectionId>"
                                "<Options><DeleteSubFolders/></Options></EmptyFolderContents>",
                                trash),
                   "<EmptyFolderContents><a:CollectionId>nosuchid</a:CollectionId>"
                   "</EmptyFolderContents>",
                   NULL));
    ck_assert_str_eq(X(&t, "//Response/EmptyFolderContents[1]/Status"), "1");
    ck_assert_str_eq(X(&t, "//Response/EmptyFolderContents[2]/Status"), "6");
    ck_assert_str_eq(X(&t, "//Response/Fetch/Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "local-name(//*[local-name()='Response']/*[1])"),
                     "EmptyFolderContents");
    cmdtest_free(&t);
    {
        struct stat sb;
        char d[900];
        snprintf(d, sizeof d, "%s/.Trash.Old", iot_mbox);
        ck_assert_int_ne(stat(d, &sb), 0);
        snprintf(d, sizeof d, "%s/.Trash", iot_mbox);
        ck_assert_int_eq(stat(d, &sb), 0);
    }
    /* Work has a subfolder but no messages; the INBOX is left alone */
    io(&t, NULL,
       apr_psprintf(unit_pool,
                    "<EmptyFolderContents><a:CollectionId>%s</a:CollectionId>"
                    "</EmptyFolderContents>",
                    work));
    ck_assert_str_eq(X(&t, "//EmptyFolderContents/Status"), "1");
    ck_assert_int_eq(iot_count(""), 4);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_conversation_move)
{
    cmdtest_t t;
    iot_opts_t v121 = {"12.1", 0, 0, 0, NULL};
    const char *mv = "<Move><ConversationId>QUJDREVGR0g=</ConversationId><DstFldId>x</DstFldId>"
                     "</Move>";
    io(&t, NULL, mv);
    ck_assert_str_eq(X(&t, "/ItemOperations/Status"), "1");
    ck_assert_str_eq(X(&t, "//Response/Move/Status"), "156");
    ck_assert_str_eq(X(&t, "//Response/Move/ConversationId"), "QUJDREVGR0g=");
    cmdtest_free(&t);
    io(&t, &v121, mv);
    ck_assert_str_eq(X(&t, "//Response/Move/Status"), "2");
    cmdtest_free(&t);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("itemoperations");
    TCase *tc = tcase_create("itemoperations");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_fetch_item);
    tcase_add_test(tc, test_fetch_attachment);
    tcase_add_test(tc, test_fetch_big_ranges);
    tcase_add_test(tc, test_multipart);
    tcase_add_test(tc, test_bad_references);
    tcase_add_test(tc, test_empty_folder);
    tcase_add_test(tc, test_conversation_move);
    suite_add_tcase(s, tc);
    return s;
}
