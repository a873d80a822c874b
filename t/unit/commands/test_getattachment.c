/* GetAttachment (EAS 12.1): the raw reply body for FileReferences taken
 * from an ItemOperations Fetch of the message (the attachment and the
 * inline image of one message, a forwarded message, the 10 MB attachment
 * streamed in bounded chunks), the HTTP statuses of bad, unknown and
 * foreign references, email off, no Maildir, 14.0+ versions, the command
 * table entries, and the shared streaming decoder as_mime_attachment_stream. */
#include <time.h>

#include "activesync/as_mime.h"
#include "activesync/as_registry.h"
#include "iotest.h"
#include "unit.h"

#define BIG_SIZE (10 * 1024 * 1024)

static const char *inbox;
static const char *id_attach, *id_big, *id_nested;

static void setup(void)
{
    size_t len;
    char *m;
    unit_pool_setup();
    iot_setup();
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

/* The FileReference of attachment n (1-based) of a message, as the server
 * gives it to a 12.1 device. */
static const char *attachment_ref(const char *item, int n)
{
    iot_opts_t v121 = {"12.1", 0, 0, 0, NULL};
    cmdtest_t t;
    const char *ref;
    iot_run(&t, as_cmd_itemoperations, "ItemOperations", &v121,
            apr_psprintf(unit_pool,
                         "<ItemOperations xmlns=\"ItemOperations:\" xmlns:a=\"AirSync:\">"
                         "<Fetch><Store>Mailbox</Store><a:CollectionId>%s</a:CollectionId>"
                         "<a:ServerId>%s:%s</a:ServerId></Fetch></ItemOperations>",
                         inbox, inbox, item));
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ref = xp(t.resp.doc, apr_psprintf(unit_pool,
                                      "//*[local-name()='Attachment'][%d]/"
                                      "*[local-name()='FileReference']",
                                      n));
    ck_assert_str_ne(ref, "");
    cmdtest_free(&t);
    return ref;
}

typedef struct ga_opts_t {
    const char *version; /* NULL: 12.1 */
    const char *account; /* NULL: IOT_ACCT */
    int email_off, no_store;
} ga_opts_t;

/* Run GetAttachment with AttachmentName=ref (NULL: absent). */
static void ga(cmdtest_t *t, const ga_opts_t *o, const char *ref)
{
    static as_cap_decision_t access;
    static as_server_conf_t none;
    memset(t, 0, sizeof(*t));
    t->line.cmd = "GetAttachment";
    t->line.device_id = t->line.device_key = IOT_DEV;
    t->line.device_type = "WM6";
    t->line.attachment_name = ref;
    t->req.pool = unit_pool;
    t->req.account = o && o->account ? o->account : IOT_ACCT;
    t->req.line = &t->line;
    t->req.protocol_version = o && o->version ? o->version : "12.1";
    t->req.conf = o && o->no_store ? &none : &iot_conf;
    if (o && o->email_off) {
        memset(&access, 0, sizeof access);
        access.result = AS_CAP_SERVED;
        access.eff.value[AS_OPT_ACTIVESYNC] = 1;
        t->req.access = &access;
    }
    t->resp.http_status = 200;
    t->resp.headers = apr_table_make(unit_pool, 4);
    t->rv = as_cmd_getattachment(&t->req, &t->resp);
}

/* A sink collecting the raw body, recording the largest chunk. */
typedef struct collect_t {
    unsigned char *data;
    apr_size_t len, cap, max_chunk;
    int calls, fail_after;
} collect_t;

static apr_status_t collect(void *ctx, const unsigned char *d, apr_size_t n)
{
    collect_t *c = ctx;
    if (c->fail_after && c->calls == c->fail_after) {
        return APR_ECONNABORTED;
    }
    c->calls++;
    if (c->len + n > c->cap) {
        c->cap = (c->len + n) * 2;
        c->data = realloc(c->data, c->cap);
        ck_assert_ptr_nonnull(c->data);
    }
    memcpy(c->data + c->len, d, n);
    c->len += n;
    c->max_chunk = n > c->max_chunk ? n : c->max_chunk;
    return APR_SUCCESS;
}

/* The body of a successful reply (caller frees c->data). */
static void body_of(cmdtest_t *t, collect_t *c)
{
    memset(c, 0, sizeof *c);
    ck_assert_int_eq(t->rv, APR_SUCCESS);
    ck_assert_int_eq(t->resp.http_status, 200);
    ck_assert_ptr_null(t->resp.doc);
    ck_assert_ptr_nonnull(t->resp.raw);
    ck_assert_int_eq(t->resp.raw->produce(t->resp.raw->ctx, collect, c), APR_SUCCESS);
    ck_assert_int_eq((long)c->len, (long)t->resp.raw->length);
}

/* An error reply: the status, no body of either kind. */
static void ck_refused(cmdtest_t *t, int http)
{
    ck_assert_int_eq(t->rv, APR_SUCCESS);
    ck_assert_int_eq(t->resp.http_status, http);
    ck_assert_ptr_null(t->resp.doc);
    ck_assert_ptr_null(t->resp.raw);
}

START_TEST(test_attachment_and_inline_image)
{
    const char *png = attachment_ref(id_attach, 1), *pdf = attachment_ref(id_attach, 2);
    unsigned char want[3000];
    collect_t c;
    cmdtest_t t;

    ga(&t, NULL, pdf);
    body_of(&t, &c);
    ck_assert_str_eq(t.resp.raw->content_type, "application/pdf");
    ck_assert_uint_eq(c.len, 3000);
    memcpy(want, "%PDF-1.4\n", 9);
    mg_bytes(want + 9, sizeof want - 9, 7);
    ck_assert_int_eq(memcmp(c.data, want, sizeof want), 0);
    free(c.data);

    ga(&t, NULL, png);
    body_of(&t, &c);
    ck_assert_str_eq(t.resp.raw->content_type, "image/png");
    ck_assert_uint_eq(c.len, sizeof mg_png);
    ck_assert_int_eq(memcmp(c.data, mg_png, sizeof mg_png), 0);
    free(c.data);

    /* 12.0 and 2.5 have the command too */
    ga(&t, &(ga_opts_t){"12.0", NULL, 0, 0}, png);
    body_of(&t, &c);
    free(c.data);
}
END_TEST

START_TEST(test_forwarded_message)
{
    const char *ref = attachment_ref(id_nested, 1);
    collect_t c;
    cmdtest_t t;

    ga(&t, NULL, ref);
    body_of(&t, &c);
    ck_assert_str_eq(t.resp.raw->content_type, "message/rfc822");
    ck_assert_ptr_nonnull(memmem(c.data, c.len, "Subject: Lunch?", 15));
    ck_assert_ptr_nonnull(memmem(c.data, c.len, "Soup", 4));
    free(c.data);
}
END_TEST

START_TEST(test_big_streamed)
{
    const char *ref = attachment_ref(id_big, 1);
    unsigned char *want = malloc(BIG_SIZE);
    struct timespec t0, t1;
    collect_t c;
    cmdtest_t t;

    mg_bytes(want, BIG_SIZE, 99);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ga(&t, NULL, ref);
    ck_assert_int_eq((long)t.resp.raw->length, BIG_SIZE); /* measured before sending */
    body_of(&t, &c);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    ck_assert_str_eq(t.resp.raw->content_type, "application/octet-stream");
    ck_assert_uint_eq(c.len, BIG_SIZE);
    ck_assert_int_eq(memcmp(c.data, want, BIG_SIZE), 0);
    /* streamed: many chunks of at most 64 KiB, never the whole */
    ck_assert_uint_le(c.max_chunk, 65536);
    ck_assert_int_ge(c.calls, BIG_SIZE / 65536);
    printf("# GetAttachment of a 10 MB attachment (measure + stream): %.0f ms, %d chunks\n",
           (t1.tv_sec - t0.tv_sec) * 1e3 + (t1.tv_nsec - t0.tv_nsec) / 1e6, c.calls);
    free(c.data);

    /* a sink failure (client gone) stops the stream and is reported */
    ga(&t, NULL, ref);
    memset(&c, 0, sizeof c);
    c.fail_after = 3;
    ck_assert_int_eq(t.resp.raw->produce(t.resp.raw->ctx, collect, &c), APR_ECONNABORTED);
    ck_assert_int_eq(c.calls, 3);
    free(c.data);
    free(want);
}
END_TEST

START_TEST(test_bad_names)
{
    const char *pdf = attachment_ref(id_attach, 2);
    const char *bad[] = {
        "garbage",
        "a:b",
        ":::",
        "report.pdf",
        apr_pstrcat(unit_pool, inbox, ":", id_attach, NULL),
        apr_pstrcat(unit_pool, inbox, ":", id_attach, ":", NULL),
        apr_pstrcat(unit_pool, inbox, ":", id_attach, ":1.", NULL),
        apr_pstrcat(unit_pool, inbox, ":", id_attach, ":x", NULL),
        apr_pstrcat(unit_pool, inbox, ":", id_attach, ":2:1", NULL),
        apr_pstrcat(unit_pool, inbox, ":../../etc:2", NULL),
        apr_pstrcat(unit_pool, "../", inbox, ":", id_attach, ":2", NULL),
        apr_pstrcat(unit_pool, pdf, " ", NULL),
    };
    cmdtest_t t;
    size_t i;

    ga(&t, NULL, NULL);
    ck_refused(&t, 400);
    ga(&t, NULL, "");
    ck_refused(&t, 400);
    for (i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ga(&t, NULL, bad[i]);
        ck_assert_msg(t.resp.http_status == 400, "%s: HTTP %d", bad[i], t.resp.http_status);
        ck_refused(&t, 400);
    }
    /* well-formed, but nothing there: 500 (MS-ASCMD: a deleted attachment) */
    ga(&t, NULL, apr_pstrcat(unit_pool, inbox, ":", id_attach, ":9", NULL));
    ck_refused(&t, 500);
    ga(&t, NULL, apr_pstrcat(unit_pool, inbox, ":", id_attach, ":1", NULL)); /* multipart */
    ck_refused(&t, 500);
    ga(&t, NULL, apr_pstrcat(unit_pool, inbox, ":00000000000aa:2", NULL));
    ck_refused(&t, 500);
    ga(&t, NULL, apr_pstrcat(unit_pool, iot_folder("Work"), ":", id_attach, ":2", NULL));
    ck_refused(&t, 500);
    /* the original still works */
    ga(&t, NULL, pdf);
    ck_assert_ptr_nonnull(t.resp.raw);
}
END_TEST

START_TEST(test_access)
{
    const char *pdf = attachment_ref(id_attach, 2);
    char bob[700];
    cmdtest_t t;

    /* another account's reference names nothing in its own Maildir */
    snprintf(bob, sizeof bob, "%s/example.org/bob", iot_root);
    mg_folder(bob, "");
    ga(&t, &(ga_opts_t){NULL, "bob@example.org", 0, 0}, pdf);
    ck_refused(&t, 500);
    /* email off, no Maildir configured: not found either */
    ga(&t, &(ga_opts_t){NULL, NULL, 1, 0}, pdf);
    ck_refused(&t, 500);
    ga(&t, &(ga_opts_t){NULL, NULL, 0, 1}, pdf);
    ck_refused(&t, 500);
    /* 14.0 and later: not part of the protocol (501) */
    ga(&t, &(ga_opts_t){"14.0", NULL, 0, 0}, pdf);
    ck_assert_int_eq(t.rv, APR_ENOTIMPL);
    ck_assert_ptr_null(t.resp.raw);
    ga(&t, &(ga_opts_t){"14.1", NULL, 0, 0}, pdf);
    ck_assert_int_eq(t.rv, APR_ENOTIMPL);
    ga(&t, &(ga_opts_t){"16.1", NULL, 0, 0}, pdf);
    ck_assert_int_eq(t.rv, APR_ENOTIMPL);
}
END_TEST

START_TEST(test_command_table)
{
    const as_command_t *ga_cmd = as_command_by_name("GetAttachment");
    const char *list = as_registry_list_implemented(unit_pool);

    ck_assert_ptr_nonnull(ga_cmd);
    ck_assert_ptr_eq(ga_cmd, as_command_by_code(4));
    ck_assert_ptr_eq((void *)as_registry_handler(ga_cmd), (void *)as_cmd_getattachment);
    ck_assert_int_eq(ga_cmd->body, AS_BODY_NONE);
    /* listed by the server: the list is per server, not per version */
    ck_assert_ptr_nonnull(strstr(apr_pstrcat(unit_pool, ",", list, ",", NULL), ",GetAttachment,"));
    ck_assert_int_eq(as_command_in_version(ga_cmd, 25), 1);
    ck_assert_int_eq(as_command_in_version(ga_cmd, 120), 1);
    ck_assert_int_eq(as_command_in_version(ga_cmd, 121), 1);
    ck_assert_int_eq(as_command_in_version(ga_cmd, 140), 0);
    ck_assert_int_eq(as_command_in_version(ga_cmd, 141), 0);
    ck_assert_int_eq(as_command_in_version(ga_cmd, 160), 0);
    ck_assert_int_eq(as_command_in_version(ga_cmd, 0), 0);
    ck_assert_int_eq(as_command_in_version(as_command_by_name("ItemOperations"), 141), 1);
    ck_assert_int_eq(as_command_in_version(as_command_by_name("Sync"), 121), 1);
    ck_assert_int_eq(as_command_in_version(NULL, 121), 0);
}
END_TEST

/* The streaming decoder agrees with as_mime_attachment (ranges included). */
START_TEST(test_mime_stream)
{
    as_store_t *st;
    as_store_msg_t *msg;
    as_mime_attachment_t a, s;
    collect_t c;

    ck_assert_int_eq(as_maildir_open(unit_pool, iot_mbox, IOT_ACCT, NULL, 0, NULL, &st),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_open_item(st, inbox, id_attach, unit_pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(as_mime_attachment(unit_pool, msg->file, "2", 0, -1, &a), APR_SUCCESS);
    memset(&c, 0, sizeof c);
    ck_assert_int_eq(as_mime_attachment_stream(unit_pool, msg->file, "2", collect, &c, &s),
                     APR_SUCCESS);
    ck_assert_int_eq((long)s.total, (long)a.total);
    ck_assert_uint_eq(c.len, a.len);
    ck_assert_int_eq(memcmp(c.data, a.data, a.len), 0);
    ck_assert_str_eq(s.content_type, a.content_type);
    ck_assert_str_eq(s.name, a.name);
    ck_assert_ptr_null(s.data);
    free(c.data);
    /* measuring only */
    ck_assert_int_eq(as_mime_attachment_stream(unit_pool, msg->file, "2", NULL, NULL, &s),
                     APR_SUCCESS);
    ck_assert_int_eq((long)s.total, 3000);
    /* a range through the shared decoder */
    ck_assert_int_eq(as_mime_attachment(unit_pool, msg->file, "2", 2990, 100, &a), APR_SUCCESS);
    ck_assert_uint_eq(a.len, 10);
    ck_assert_int_eq((long)a.total, 3000);
    ck_assert_int_eq(as_mime_attachment(unit_pool, msg->file, "2", -1, 10, &a), APR_EINVAL);
    ck_assert_int_eq(as_mime_attachment_stream(unit_pool, msg->file, "9", NULL, NULL, &s),
                     APR_ENOENT);
    ck_assert_int_eq(as_mime_attachment_stream(unit_pool, msg->file, "2.", NULL, NULL, &s),
                     APR_EINVAL);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("getattachment");
    TCase *tc = tcase_create("getattachment");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_attachment_and_inline_image);
    tcase_add_test(tc, test_forwarded_message);
    tcase_add_test(tc, test_big_streamed);
    tcase_add_test(tc, test_bad_names);
    tcase_add_test(tc, test_access);
    tcase_add_test(tc, test_command_table);
    tcase_add_test(tc, test_mime_stream);
    suite_add_tcase(s, tc);
    return s;
}
