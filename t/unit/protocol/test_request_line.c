/* The request line parser: plain and base64 forms (MS-ASHTTP 2.2.1.1.1),
 * the spec and field examples of reference/eas-protocol.md 1.2/1.3, every
 * command code in both forms, every field and every error path. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_base64.h"
#include "activesync/as_command.h"
#include "activesync/as_request_line.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------------- */

static as_request_line_t rl;
static const char *err;

static apr_status_t parse(const char *q)
{
    return as_request_line_parse(unit_pool, q, &rl, &err);
}

static apr_status_t parse_lenient(const char *q)
{
    return as_request_line_parse_ex(unit_pool, q, AS_RL_LENIENT, &rl, &err);
}

static void assert_reset(void)
{
    ck_assert_ptr_null(rl.cmd);
    ck_assert_int_eq(rl.cmd_code, -1);
    ck_assert_ptr_null(rl.cmd_unknown);
    ck_assert_ptr_null(rl.user);
    ck_assert_ptr_null(rl.device_id);
    ck_assert_ptr_null(rl.device_key);
    ck_assert_ptr_null(rl.device_type);
    ck_assert_ptr_null(rl.protocol_version);
    ck_assert_int_eq(rl.base64, 0);
    ck_assert_int_eq(rl.has_policy_key, 0);
    ck_assert_ptr_null(rl.attachment_name);
    ck_assert_ptr_null(rl.collection_id);
    ck_assert_ptr_null(rl.item_id);
    ck_assert_ptr_null(rl.long_id);
    ck_assert_ptr_null(rl.occurrence);
    ck_assert_int_eq(rl.save_in_sent, -1);
    ck_assert_int_eq(rl.accept_multipart, -1);
}

/* Expect failure, an error message containing `want`, a reset struct and
 * a message without raw client bytes beyond a short excerpt. */
static void expect_error(const char *q, const char *want)
{
    apr_status_t rv = parse(q);
    ck_assert_msg(rv == APR_EINVAL, "query \"%s\" accepted", q ? q : "(null)");
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, want) != NULL, "query \"%s\": error \"%s\" lacks \"%s\"",
                  q ? q : "(null)", err, want);
    ck_assert_uint_le(strlen(err), 100);
    assert_reset();
}

static const char *plain4(const char *extra)
{
    return apr_pstrcat(unit_pool, "Cmd=Sync&User=jdoe&DeviceId=ABC123&DeviceType=iPhone", extra,
                       NULL);
}

static const char *repeat(char c, int n)
{
    char *s = apr_palloc(unit_pool, (apr_size_t)n + 1);
    memset(s, c, (apr_size_t)n);
    s[n] = '\0';
    return s;
}

/* Byte builder for the base64 form. */
typedef struct {
    unsigned char b[4096];
    apr_size_t n;
} blob_t;

static void put(blob_t *bl, const void *data, apr_size_t n)
{
    ck_assert_uint_le(bl->n + n, sizeof(bl->b));
    memcpy(bl->b + bl->n, data, n);
    bl->n += n;
}

static void put1(blob_t *bl, unsigned v)
{
    unsigned char c = (unsigned char)v;
    put(bl, &c, 1);
}

/* Version, command, locale, DeviceId, policy key (-1: none), DeviceType. */
static void head(blob_t *bl, unsigned ver, unsigned code, unsigned locale, const void *id,
                 apr_size_t idlen, long long pk, const char *type)
{
    bl->n = 0;
    put1(bl, ver);
    put1(bl, code);
    put1(bl, locale & 0xff);
    put1(bl, locale >> 8);
    put1(bl, (unsigned)idlen);
    put(bl, id, idlen);
    if (pk < 0) {
        put1(bl, 0);
    } else {
        put1(bl, 4);
        put1(bl, (unsigned)(pk & 0xff));
        put1(bl, (unsigned)((pk >> 8) & 0xff));
        put1(bl, (unsigned)((pk >> 16) & 0xff));
        put1(bl, (unsigned)((pk >> 24) & 0xff));
    }
    put1(bl, (unsigned)strlen(type));
    put(bl, type, strlen(type));
}

static void param(blob_t *bl, unsigned tag, const void *v, apr_size_t n)
{
    put1(bl, tag);
    put1(bl, (unsigned)n);
    put(bl, v, n);
}

static const char *b64(const unsigned char *b, apr_size_t n)
{
    char *o = apr_palloc(unit_pool, AS_B64_ENCODED_LEN(n) + 1);
    as_b64_encode(b, n, o, 0);
    return o;
}

static const char *blob_query(const blob_t *bl)
{
    return b64(bl->b, bl->n);
}

/* Percent-encode '+', '/' and '=' as a URL-minded client would. */
static const char *pct_b64(const char *s)
{
    char *o = apr_palloc(unit_pool, strlen(s) * 3 + 1), *d = o;
    for (; *s; s++) {
        if (*s == '+' || *s == '/' || *s == '=') {
            d += sprintf(d, "%%%02X", (unsigned char)*s);
        } else {
            *d++ = *s;
        }
    }
    *d = '\0';
    return o;
}

static void std_blob(blob_t *bl)
{
    head(bl, 141, 0, 0x0409, "dev1", 4, -1, "WP8");
}

static void expect_blob_error(const blob_t *bl, const char *want)
{
    expect_error(blob_query(bl), want);
}

/* ---- the spec and reference examples ------------------------------------------ */

START_TEST(spec_plain_example)
{
    ck_assert_int_eq(parse("Cmd=Sync&User=jdoe&DeviceId=ABC123&DeviceType=iPhone"), APR_SUCCESS);
    ck_assert_ptr_null(err);
    ck_assert_int_eq(rl.base64, 0);
    ck_assert_str_eq(rl.cmd, "Sync");
    ck_assert_int_eq(rl.cmd_code, 0);
    ck_assert_ptr_null(rl.cmd_unknown);
    ck_assert_str_eq(rl.user, "jdoe");
    ck_assert_str_eq(rl.device_id, "ABC123");
    ck_assert_str_eq(rl.device_key, "ABC123");
    ck_assert_str_eq(rl.device_type, "iPhone");
    ck_assert_ptr_null(rl.protocol_version);
    ck_assert_int_eq(rl.has_policy_key, 0);
    ck_assert_int_eq(rl.locale, 0);
    ck_assert_ptr_null(rl.attachment_name);
    ck_assert_ptr_null(rl.collection_id);
    ck_assert_ptr_null(rl.item_id);
    ck_assert_ptr_null(rl.long_id);
    ck_assert_ptr_null(rl.occurrence);
    ck_assert_int_eq(rl.save_in_sent, -1);
    ck_assert_int_eq(rl.accept_multipart, -1);
    ck_assert_int_eq(rl.unknown_params, 0);
}
END_TEST

START_TEST(ios_order)
{
    /* iOS puts Cmd last; its ids are 26 upper-case alnum characters. */
    ck_assert_int_eq(parse("User=jdoe%40example.com&DeviceId=ApplF17XXXXX0DFR4T5Y6U7I8O9P"
                           "&DeviceType=iPhone&Cmd=Settings"),
                     APR_SUCCESS);
    ck_assert_str_eq(rl.cmd, "Settings");
    ck_assert_int_eq(rl.cmd_code, 17);
    ck_assert_str_eq(rl.user, "jdoe@example.com");
    ck_assert_str_eq(rl.device_id, "ApplF17XXXXX0DFR4T5Y6U7I8O9P");
    ck_assert_str_eq(rl.device_key, "APPLF17XXXXX0DFR4T5Y6U7I8O9P");
}
END_TEST

START_TEST(spec_base64_example)
{
    ck_assert_int_eq(parse("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l"), APR_SUCCESS);
    ck_assert_int_eq(rl.base64, 1);
    ck_assert_str_eq(rl.protocol_version, "14.0");
    ck_assert_str_eq(rl.cmd, "Sync");
    ck_assert_int_eq(rl.cmd_code, 0);
    ck_assert_int_eq(rl.locale, 0x0409);
    ck_assert_str_eq(rl.device_id, "v140Device");
    ck_assert_str_eq(rl.device_key, "V140DEVICE");
    ck_assert_int_eq(rl.has_policy_key, 0);
    ck_assert_str_eq(rl.device_type, "SmartPhone");
    ck_assert_ptr_null(rl.user);
    ck_assert_int_eq(rl.save_in_sent, -1);
    ck_assert_int_eq(rl.accept_multipart, -1);
}
END_TEST

START_TEST(wp8_base64_example)
{
    ck_assert_int_eq(parse("jBEHBBAv56KNBMpdPHQi48KtldoWBAAAAAADV1A4"), APR_SUCCESS);
    ck_assert_int_eq(rl.base64, 1);
    ck_assert_str_eq(rl.protocol_version, "14.0");
    ck_assert_str_eq(rl.cmd, "Settings");
    ck_assert_int_eq(rl.cmd_code, 17);
    ck_assert_int_eq(rl.locale, 0x0407);
    /* the same identity as the device's plain OPTIONS DeviceId */
    ck_assert_str_eq(rl.device_id, "2FE7A28D04CA5D3C7422E3C2AD95DA16");
    ck_assert_str_eq(rl.device_key, "2FE7A28D04CA5D3C7422E3C2AD95DA16");
    ck_assert_int_eq(rl.has_policy_key, 1);
    ck_assert_uint_eq(rl.policy_key, 0);
    ck_assert_str_eq(rl.device_type, "WP8");
    ck_assert_ptr_null(rl.user);
    /* and that OPTIONS request */
    ck_assert_int_eq(parse_lenient("DeviceId=2FE7A28D04CA5D3C7422E3C2AD95DA16&DeviceType=WP8"),
                     APR_SUCCESS);
    ck_assert_str_eq(rl.device_key, "2FE7A28D04CA5D3C7422E3C2AD95DA16");
}
END_TEST

START_TEST(wp8_base64_percent_encoded)
{
    /* the same query with every base64 letter percent-encoded */
    const char *q = "jBEHBBAv56KNBMpdPHQi48KtldoWBAAAAAADV1A4";
    char *e = apr_palloc(unit_pool, strlen(q) * 3 + 1), *d = e;
    for (; *q; q++) {
        d += sprintf(d, "%%%02x", (unsigned char)*q);
    }
    ck_assert_int_eq(parse(e), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "2FE7A28D04CA5D3C7422E3C2AD95DA16");
    ck_assert_str_eq(rl.cmd, "Settings");
}
END_TEST

/* ---- every command code in both forms ------------------------------------------- */

START_TEST(every_command_both_forms)
{
    int code, known = 0;
    for (code = 0; code < 256; code++) {
        const as_command_t *c = as_command_by_code(code);
        blob_t bl;
        head(&bl, 141, (unsigned)code, 0x0409, "dev1", 4, -1, "WP8");
        ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
        ck_assert_int_eq(rl.cmd_code, code);
        if (!c) {
            ck_assert_ptr_null(rl.cmd);
            ck_assert_str_eq(rl.cmd_unknown, apr_psprintf(unit_pool, "code %d", code));
            continue;
        }
        known++;
        ck_assert_str_eq(rl.cmd, c->name);
        ck_assert_ptr_null(rl.cmd_unknown);
        /* plain form with the same name */
        ck_assert_int_eq(
            parse(apr_pstrcat(unit_pool, "Cmd=", c->name, "&User=u&DeviceId=d&DeviceType=t", NULL)),
            APR_SUCCESS);
        ck_assert_str_eq(rl.cmd, c->name);
        ck_assert_int_eq(rl.cmd_code, code);
        ck_assert_ptr_null(rl.cmd_unknown);
    }
    ck_assert_int_eq(known, 20);
}
END_TEST

START_TEST(legacy_and_unknown_commands)
{
    static const unsigned legacy[] = {5, 6, 7, 8, 24, 255};
    unsigned i;
    blob_t bl;
    for (i = 0; i < sizeof(legacy) / sizeof(legacy[0]); i++) {
        head(&bl, 140, legacy[i], 0x0409, "dev1", 4, -1, "WP8");
        ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
        ck_assert_ptr_null(rl.cmd);
        ck_assert_int_eq(rl.cmd_code, (int)legacy[i]);
        ck_assert_ptr_nonnull(rl.cmd_unknown);
    }
    ck_assert_int_eq(parse("Cmd=GetHierarchy&User=u&DeviceId=d&DeviceType=t"), APR_SUCCESS);
    ck_assert_ptr_null(rl.cmd);
    ck_assert_int_eq(rl.cmd_code, -1);
    ck_assert_str_eq(rl.cmd_unknown, "GetHierarchy");
    /* names are case-sensitive, as in the command table */
    ck_assert_int_eq(parse("Cmd=sync&User=u&DeviceId=d&DeviceType=t"), APR_SUCCESS);
    ck_assert_ptr_null(rl.cmd);
    ck_assert_str_eq(rl.cmd_unknown, "sync");
}
END_TEST

/* ---- plain form: fields ---------------------------------------------------------- */

START_TEST(plain_all_parameters)
{
    ck_assert_int_eq(parse("Cmd=SmartReply&User=EX%5Cjdoe&DeviceId=androidc123456789"
                           "&DeviceType=Android&AttachmentName=5%3A1%3A0&CollectionId=7"
                           "&ItemId=7%3A12&LongId=RgAAAAD%2Bx%2F&Occurrence=2009-09-25T12%3A00"
                           "%3A00.000Z&SaveInSent=T"),
                     APR_SUCCESS);
    ck_assert_str_eq(rl.cmd, "SmartReply");
    ck_assert_int_eq(rl.cmd_code, 3);
    ck_assert_str_eq(rl.user, "EX\\jdoe");
    ck_assert_str_eq(rl.device_id, "androidc123456789");
    ck_assert_str_eq(rl.device_key, "ANDROIDC123456789");
    ck_assert_str_eq(rl.device_type, "Android");
    ck_assert_str_eq(rl.attachment_name, "5:1:0");
    ck_assert_str_eq(rl.collection_id, "7");
    ck_assert_str_eq(rl.item_id, "7:12");
    ck_assert_str_eq(rl.long_id, "RgAAAAD+x/");
    ck_assert_str_eq(rl.occurrence, "2009-09-25T12:00:00.000Z");
    ck_assert_int_eq(rl.save_in_sent, 1);
    ck_assert_int_eq(rl.accept_multipart, -1);
}
END_TEST

START_TEST(plain_save_in_sent)
{
    ck_assert_int_eq(parse(plain4("&SaveInSent=F")), APR_SUCCESS);
    ck_assert_int_eq(rl.save_in_sent, 0);
    ck_assert_int_eq(parse(plain4("&SaveInSent=t")), APR_SUCCESS);
    ck_assert_int_eq(rl.save_in_sent, 1);
    ck_assert_int_eq(parse(plain4("&SaveInSent=f")), APR_SUCCESS);
    ck_assert_int_eq(rl.save_in_sent, 0);
    ck_assert_int_eq(parse(plain4("&SaveInSent=")), APR_SUCCESS);
    ck_assert_int_eq(rl.save_in_sent, -1);
    expect_error(plain4("&SaveInSent=X"), "SaveInSent");
    expect_error(plain4("&SaveInSent=TRUE"), "SaveInSent too long");
    expect_error(plain4("&SaveInSent=1"), "SaveInSent");
}
END_TEST

START_TEST(plain_percent_and_plus)
{
    /* form semantics: '+' is a space, %2B a plus */
    ck_assert_int_eq(parse(plain4("&AttachmentName=my+file%2Bx.txt")), APR_SUCCESS);
    ck_assert_str_eq(rl.attachment_name, "my file+x.txt");
    /* percent-encoded names, lower-case hex */
    ck_assert_int_eq(parse("C%6dd=Ping&User=j%c3%b6rg&DeviceId=d&DeviceType=t"), APR_SUCCESS);
    ck_assert_str_eq(rl.cmd, "Ping");
    ck_assert_str_eq(rl.user, "j\xc3\xb6rg");
    /* values may contain '=' */
    ck_assert_int_eq(parse(plain4("&ItemId=a=b==")), APR_SUCCESS);
    ck_assert_str_eq(rl.item_id, "a=b==");
    expect_error(plain4("&ItemId=%"), "percent");
    expect_error(plain4("&ItemId=%4"), "percent");
    expect_error(plain4("&ItemId=%G1"), "percent");
    expect_error(plain4("&ItemId=%1G"), "percent");
    expect_error("Cmd=Sync&User=jdoe&DeviceId=ABC%2&DeviceType=iPhone", "percent");
    expect_error("C%md=Sync&User=jdoe&DeviceId=ABC&DeviceType=iPhone", "percent");
}
END_TEST

START_TEST(plain_names_case_insensitive)
{
    ck_assert_int_eq(parse("cmd=FolderSync&USER=jdoe&deviceid=abc&DEVICETYPE=iPad"
                           "&collectionid=1&itemid=2&longid=3&occurrence=4&attachmentname=5"
                           "&saveinsent=F"),
                     APR_SUCCESS);
    ck_assert_str_eq(rl.cmd, "FolderSync");
    ck_assert_str_eq(rl.user, "jdoe");
    ck_assert_str_eq(rl.device_id, "abc");
    ck_assert_str_eq(rl.device_key, "ABC");
    ck_assert_str_eq(rl.device_type, "iPad");
    ck_assert_str_eq(rl.collection_id, "1");
    ck_assert_str_eq(rl.item_id, "2");
    ck_assert_str_eq(rl.long_id, "3");
    ck_assert_str_eq(rl.occurrence, "4");
    ck_assert_str_eq(rl.attachment_name, "5");
    ck_assert_int_eq(rl.save_in_sent, 0);
    /* duplicates are found across spellings */
    expect_error(plain4("&cmd=Sync"), "duplicate parameter Cmd");
}
END_TEST

START_TEST(plain_required)
{
    expect_error("User=jdoe&DeviceId=ABC123&DeviceType=iPhone", "missing Cmd");
    expect_error("Cmd=Sync&DeviceId=ABC123&DeviceType=iPhone", "missing User");
    expect_error("Cmd=Sync&User=jdoe&DeviceType=iPhone", "missing DeviceId");
    expect_error("Cmd=Sync&User=jdoe&DeviceId=ABC123", "missing DeviceType");
    expect_error("Cmd=&User=jdoe&DeviceId=ABC123&DeviceType=iPhone", "missing Cmd");
    expect_error("Cmd=Sync&User=&DeviceId=ABC123&DeviceType=iPhone", "missing User");
    expect_error("Cmd=Sync&User=jdoe&DeviceId=&DeviceType=iPhone", "missing DeviceId");
    expect_error("Cmd=Sync&User=jdoe&DeviceId=ABC123&DeviceType=", "missing DeviceType");
    expect_error("", "empty query");
    expect_error(NULL, "empty query");
    expect_error("&&&", "missing Cmd");
}
END_TEST

START_TEST(plain_duplicates)
{
    static const char *const dup[] = {
        "&Cmd=Ping",
        "&User=x",
        "&DeviceId=x",
        "&DeviceType=x",
        "&ItemId=1&ItemId=2",
        "&LongId=1&LongId=",
        "&CollectionId=&CollectionId=1",
        "&Occurrence=1&Occurrence=1",
        "&AttachmentName=a&AttachmentName=b",
        "&SaveInSent=T&SaveInSent=T",
    };
    unsigned i;
    for (i = 0; i < sizeof(dup) / sizeof(dup[0]); i++) {
        expect_error(plain4(dup[i]), "duplicate parameter");
    }
}
END_TEST

START_TEST(plain_unknown_parameters_ignored)
{
    ck_assert_int_eq(parse(plain4("&Foo=bar&X-Thing=&Foo=again")), APR_SUCCESS);
    ck_assert_int_eq(rl.unknown_params, 3);
    ck_assert_str_eq(rl.cmd, "Sync");
    /* but still checked */
    expect_error(plain4("&Foo=b%00r"), "unknown parameter");
    expect_error(plain4("&Foo=b%0Ar"), "unknown parameter");
    expect_error(plain4(apr_pstrcat(unit_pool, "&Foo=", repeat('x', AS_RL_MAX_FIELD + 1), NULL)),
                 "unknown parameter");
    ck_assert_int_eq(
        parse(plain4(apr_pstrcat(unit_pool, "&Foo=", repeat('x', AS_RL_MAX_FIELD), NULL))),
        APR_SUCCESS);
    expect_error(plain4(apr_pstrcat(unit_pool, "&", repeat('N', AS_RL_MAX_CMD + 1), "=1", NULL)),
                 "malformed parameter name");
    expect_error(plain4("&N%00=1"), "malformed parameter name");
    expect_error(plain4("&=1"), "without a name");
    expect_error(plain4("&Foo"), "no '='");
    expect_error("Cmd&User=jdoe&DeviceId=ABC123&DeviceType=iPhone", "no '='");
}
END_TEST

START_TEST(plain_empty_segments_and_optional_empty)
{
    ck_assert_int_eq(parse("&Cmd=Sync&&User=jdoe&DeviceId=ABC123&DeviceType=iPhone&"), APR_SUCCESS);
    ck_assert_str_eq(rl.cmd, "Sync");
    ck_assert_int_eq(parse(plain4("&ItemId=&CollectionId=&LongId=&Occurrence=&AttachmentName=")),
                     APR_SUCCESS);
    ck_assert_ptr_null(rl.item_id);
    ck_assert_ptr_null(rl.collection_id);
    ck_assert_ptr_null(rl.long_id);
    ck_assert_ptr_null(rl.occurrence);
    ck_assert_ptr_null(rl.attachment_name);
}
END_TEST

START_TEST(plain_control_and_utf8)
{
    static const char *const bad[] = {
        "%00",       "%01",          "%0A",          "%0D",          "%1F", "%7F", /* C0, DEL */
        "%C2%80",    "%C2%9F",                                                     /* C1 */
        "%FF",       "%C0%AF",       "%E0%80%AF",    "%F0%80%80%AF", /* invalid, overlong */
        "%ED%A0%80", "%F4%90%80%80", "%F5%80%80%80",                 /* surrogate, > U+10FFFF */
        "%C3",       "%E2%82",       "%80",          "%C3%28", /* truncated, stray continuation */
    };
    unsigned i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_error(apr_pstrcat(unit_pool, "Cmd=Sync&User=j", bad[i],
                                 "&DeviceId=ABC123&DeviceType=iPhone", NULL),
                     "User: control character or invalid UTF-8");
        expect_error(plain4(apr_pstrcat(unit_pool, "&CollectionId=a", bad[i], NULL)),
                     "CollectionId: control");
        expect_error(plain4(apr_pstrcat(unit_pool, "&ItemId=a", bad[i], NULL)), "ItemId: control");
        expect_error(plain4(apr_pstrcat(unit_pool, "&LongId=a", bad[i], NULL)), "LongId: control");
        expect_error(plain4(apr_pstrcat(unit_pool, "&Occurrence=a", bad[i], NULL)),
                     "Occurrence: control");
        expect_error(plain4(apr_pstrcat(unit_pool, "&AttachmentName=a", bad[i], NULL)),
                     "AttachmentName: control");
    }
    /* raw bytes too */
    expect_error("Cmd=Sync&User=j\x01&DeviceId=ABC123&DeviceType=iPhone", "User: control");
    expect_error("Cmd=Sync&User=j\tx&DeviceId=ABC123&DeviceType=iPhone", "User: control");
    /* valid multi-byte UTF-8 passes: 2, 3 and 4 bytes, U+00A0, U+10FFFF */
    ck_assert_int_eq(parse(plain4("&AttachmentName=%C3%A9%E2%82%AC%F0%9F%98%80%C2%A0%F4%8F%BF%BF")),
                     APR_SUCCESS);
    ck_assert_str_eq(rl.attachment_name,
                     "\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80\xC2\xA0\xF4\x8F\xBF\xBF");
}
END_TEST

START_TEST(plain_lengths)
{
    const char *id64 = repeat('A', AS_RL_MAX_DEVICE_ID);
    const char *id65 = repeat('A', AS_RL_MAX_DEVICE_ID + 1);
    const char *t64 = repeat('T', AS_RL_MAX_DEVICE_TYPE);
    const char *t65 = repeat('T', AS_RL_MAX_DEVICE_TYPE + 1);
    const char *u320 = repeat('u', AS_RL_MAX_USER);
    const char *u321 = repeat('u', AS_RL_MAX_USER + 1);
    const char *f256 = repeat('f', AS_RL_MAX_FIELD);
    const char *f257 = repeat('f', AS_RL_MAX_FIELD + 1);
    static const char *const fields[] = {"AttachmentName", "CollectionId", "ItemId", "LongId",
                                         "Occurrence"};
    unsigned i;

    ck_assert_int_eq(parse(apr_pstrcat(unit_pool, "Cmd=Sync&User=", u320, "&DeviceId=", id64,
                                       "&DeviceType=", t64, NULL)),
                     APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, id64);
    ck_assert_str_eq(rl.user, u320);
    ck_assert_str_eq(rl.device_type, t64);
    expect_error(apr_pstrcat(unit_pool, "Cmd=Sync&User=j&DeviceId=", id65, "&DeviceType=t", NULL),
                 "DeviceId too long");
    expect_error(apr_pstrcat(unit_pool, "Cmd=Sync&User=j&DeviceId=d&DeviceType=", t65, NULL),
                 "DeviceType too long");
    expect_error(apr_pstrcat(unit_pool, "Cmd=Sync&User=", u321, "&DeviceId=d&DeviceType=t", NULL),
                 "User too long");
    expect_error(apr_pstrcat(unit_pool, "Cmd=", repeat('S', AS_RL_MAX_CMD + 1),
                             "&User=j&DeviceId=d&DeviceType=t", NULL),
                 "Cmd too long");
    /* the limit is on the decoded value: %41 is one byte */
    ck_assert_int_eq(
        parse(apr_pstrcat(unit_pool, "Cmd=Sync&User=j&DeviceId=",
                          repeat('A', AS_RL_MAX_DEVICE_ID - 1), "%41&DeviceType=t", NULL)),
        APR_SUCCESS);
    for (i = 0; i < sizeof(fields) / sizeof(fields[0]); i++) {
        ck_assert_int_eq(parse(plain4(apr_pstrcat(unit_pool, "&", fields[i], "=", f256, NULL))),
                         APR_SUCCESS);
        expect_error(plain4(apr_pstrcat(unit_pool, "&", fields[i], "=", f257, NULL)),
                     apr_pstrcat(unit_pool, fields[i], " too long", NULL));
    }
}
END_TEST

START_TEST(query_length)
{
    const char *base = plain4("&Foo=");
    /* exactly AS_RL_MAX_QUERY bytes: accepted (unknown values are bounded
     * separately, so spread the filler over several parameters) */
    const char *q = base;
    while (strlen(q) + 200 < AS_RL_MAX_QUERY) {
        q = apr_pstrcat(unit_pool, q, repeat('x', 190), "&Foo=", NULL);
    }
    q = apr_pstrcat(unit_pool, q, repeat('y', (int)(AS_RL_MAX_QUERY - strlen(q))), NULL);
    ck_assert_uint_eq(strlen(q), AS_RL_MAX_QUERY);
    ck_assert_int_eq(parse(q), APR_SUCCESS);
    expect_error(apr_pstrcat(unit_pool, q, "y", NULL), "query too long");
    /* a base64 query too */
    expect_error(repeat('A', AS_RL_MAX_QUERY + 4), "query too long");
}
END_TEST

START_TEST(device_ids)
{
    static const char *const good[] = {
        "ApplF17XXXXX0DFR4T5Y6U7I8O9P",     /* iOS */
        "androidc123456789",                /* Android */
        "2FE7A28D04CA5D3C7422E3C2AD95DA16", /* WP8 hex GUID */
        "SEC1A2B3C4D5E6F7",                 /* Samsung */
        "6f24cad5-99a5-bf1a-6902-46b8c68fae8d",
        "mztb_1234567890",
        "x",
    };
    static const char *const bad[] = {
        "abc.def", "abc%2Fdef", "..",         "abc%2F..%2F..", "a,b",   "a+b",           "a%20b",
        "a:b",     "a%5Cb",     "%7Bguid%7D", "a%C3%A9",       "a%00b", "a%3Cscript%3E",
    };
    unsigned i;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_int_eq(
            parse(apr_pstrcat(unit_pool, "Cmd=Ping&User=u&DeviceType=t&DeviceId=", good[i], NULL)),
            APR_SUCCESS);
        ck_assert_str_eq(rl.device_id, good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_error(apr_pstrcat(unit_pool, "Cmd=Ping&User=u&DeviceType=t&DeviceId=", bad[i], NULL),
                     "invalid DeviceId");
    }
    /* the log excerpt hides what is not harmless */
    expect_error("Cmd=Ping&User=u&DeviceType=t&DeviceId=a%3Cscript%3E", "\"a?script?\"");
}
END_TEST

START_TEST(device_types)
{
    static const char *const good[] = {"iPhone",      "iPad",      "Android",    "SAMSUNGSMG950F",
                                       "WindowsMail", "WP8",       "SmartPhone", "Outlook",
                                       "TbSync",      "Moto_G-5.1"};
    static const char *const bad[] = {"i+Phone", "a%2Fb", "a:b", "a%3Bb", "a%C3%A9", "a%0Ab"};
    unsigned i;
    for (i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        ck_assert_int_eq(
            parse(apr_pstrcat(unit_pool, "Cmd=Ping&User=u&DeviceId=d&DeviceType=", good[i], NULL)),
            APR_SUCCESS);
        ck_assert_str_eq(rl.device_type, good[i]);
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_error(apr_pstrcat(unit_pool, "Cmd=Ping&User=u&DeviceId=d&DeviceType=", bad[i], NULL),
                     "DeviceType");
    }
}
END_TEST

START_TEST(cmd_names)
{
    expect_error("Cmd=Sy+nc&User=u&DeviceId=d&DeviceType=t", "invalid Cmd");
    expect_error("Cmd=Sync1&User=u&DeviceId=d&DeviceType=t", "invalid Cmd");
    expect_error("Cmd=..%2F..%2Fetc&User=u&DeviceId=d&DeviceType=t", "invalid Cmd");
    expect_error("Cmd=Sync%00&User=u&DeviceId=d&DeviceType=t", "invalid Cmd");
    /* excerpt: at most 24 characters, then "..." */
    expect_error("Cmd=ABCDEFGHIJKLMNOPQRSTUVWXYZ1&User=u&DeviceId=d&DeviceType=t",
                 "\"ABCDEFGHIJKLMNOPQRSTUVWX...\"");
}
END_TEST

START_TEST(lenient_options)
{
    ck_assert_int_eq(parse_lenient(NULL), APR_SUCCESS);
    ck_assert_ptr_null(err);
    assert_reset();
    ck_assert_int_eq(parse_lenient(""), APR_SUCCESS);
    assert_reset();
    ck_assert_int_eq(parse_lenient("User=jdoe"), APR_SUCCESS);
    ck_assert_str_eq(rl.user, "jdoe");
    ck_assert_ptr_null(rl.cmd);
    ck_assert_ptr_null(rl.device_id);
    ck_assert_int_eq(parse_lenient("DeviceId=abc&DeviceType=iPhone&Cmd="), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "abc");
    ck_assert_ptr_null(rl.cmd);
    ck_assert_int_eq(rl.cmd_code, -1);
    ck_assert_int_eq(parse_lenient("&"), APR_SUCCESS);
    /* whatever is present is still checked */
    ck_assert_int_eq(parse_lenient("DeviceId=a.b"), APR_EINVAL);
    ck_assert_ptr_nonnull(err);
    ck_assert_int_eq(parse_lenient("User=a&User=b"), APR_EINVAL);
    ck_assert_int_eq(parse_lenient("User=a%0A"), APR_EINVAL);
    /* a base64 query is the same in both modes */
    ck_assert_int_eq(parse_lenient("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25l"), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "v140Device");
    ck_assert_int_eq(parse_lenient("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob2"), APR_EINVAL);
}
END_TEST

START_TEST(form_detection)
{
    /* '=' padding does not make a base64 query plain */
    blob_t bl;
    head(&bl, 141, 18, 0x0409, "Nine1", 5, -1, "Android"); /* 5+5+1+8 = 19 bytes: "==" */
    ck_assert_uint_eq(bl.n % 3, 1);
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_int_eq(rl.base64, 1);
    ck_assert_str_eq(rl.cmd, "Ping");
    ck_assert_str_eq(rl.device_id, "Nine1");
    ck_assert_str_eq(rl.device_type, "Android");
    head(&bl, 141, 18, 0x0409, "Nine12", 6, -1, "Android"); /* 20 bytes: "=" */
    ck_assert_uint_eq(bl.n % 3, 2);
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_int_eq(rl.base64, 1);
    /* percent-encoded padding */
    ck_assert_int_eq(parse(pct_b64(blob_query(&bl))), APR_SUCCESS);
    ck_assert_int_eq(rl.base64, 1);
    ck_assert_str_eq(rl.device_id, "Nine12");
    /* a lone "Cmd=" is taken for base64 and is no valid base64 */
    ck_assert_int_eq(parse_lenient("Cmd="), APR_EINVAL);
    /* a plain value that ends in '=' with a single parameter */
    ck_assert_int_eq(parse_lenient("ItemId=abc=="), APR_SUCCESS);
    ck_assert_int_eq(rl.base64, 0);
    ck_assert_str_eq(rl.item_id, "abc==");
    /* a percent-encoded plain query is not plain */
    expect_error("Cmd%3DSync%26User%3Dj%26DeviceId%3Dd%26DeviceType%3Dt", "invalid base64");
}
END_TEST

/* ---- base64 form ---------------------------------------------------------------- */

START_TEST(base64_versions)
{
    static const struct {
        unsigned byte;
        const char *name;
    } ok[] = {{121, "12.1"}, {140, "14.0"}, {141, "14.1"}, {160, "16.0"}, {161, "16.1"}};
    static const unsigned bad[] = {0, 25, 120, 122, 139, 142, 162, 255};
    unsigned i;
    blob_t bl;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        head(&bl, ok[i].byte, 9, 0x0409, "dev", 3, -1, "t");
        ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
        ck_assert_str_eq(rl.protocol_version, ok[i].name);
        ck_assert_str_eq(rl.cmd, "FolderSync");
    }
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        head(&bl, bad[i], 9, 0x0409, "dev", 3, -1, "t");
        expect_blob_error(&bl, "protocol version");
    }
}
END_TEST

START_TEST(base64_locale_and_policy_key)
{
    blob_t bl;
    head(&bl, 141, 0, 0xBEEF, "dev", 3, 0x01020304, "t");
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_uint_eq(rl.locale, 0xBEEF);
    ck_assert_int_eq(rl.has_policy_key, 1);
    ck_assert_uint_eq(rl.policy_key, 0x01020304u);
    head(&bl, 141, 0, 0, "dev", 3, 0xFFFFFFFFLL, "t");
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_uint_eq(rl.policy_key, 0xFFFFFFFFu);
    ck_assert_uint_eq(rl.locale, 0);
    head(&bl, 141, 0, 0x0409, "dev", 3, -1, "t");
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_int_eq(rl.has_policy_key, 0);
    ck_assert_uint_eq(rl.policy_key, 0);
}
END_TEST

START_TEST(base64_policy_key_errors)
{
    static const unsigned lens[] = {1, 2, 3, 5, 8, 255};
    unsigned i;
    blob_t bl;
    for (i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
        bl.n = 0;
        put(&bl,
            "\x8d\x00\x09\x04\x03"
            "dev",
            8);
        put1(&bl, lens[i]);
        put(&bl, "\0\0\0\0\0\0\0\0\x01t", 10);
        expect_blob_error(&bl, "policy key length");
    }
    /* 4 announced, fewer present */
    bl.n = 0;
    put(&bl,
        "\x8d\x00\x09\x04\x03"
        "dev\x04\x01\x02\x03",
        12);
    expect_blob_error(&bl, "truncated policy key");
    /* nothing after the device id */
    bl.n = 0;
    put(&bl,
        "\x8d\x00\x09\x04\x04"
        "devi",
        9);
    expect_blob_error(&bl, "truncated before the policy key");
}
END_TEST

START_TEST(base64_device_id)
{
    unsigned char bin[33];
    unsigned i;
    blob_t bl;
    char *id;

    /* text ids up to the limit */
    id = (char *)repeat('a', AS_RL_MAX_DEVICE_ID);
    head(&bl, 141, 0, 0, id, strlen(id), -1, "t");
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, id);
    ck_assert_str_eq(rl.device_key, repeat('A', AS_RL_MAX_DEVICE_ID));
    id = (char *)repeat('a', AS_RL_MAX_DEVICE_ID + 1);
    head(&bl, 141, 0, 0, id, strlen(id), -1, "t");
    expect_blob_error(&bl, "DeviceId too long");
    /* text with '-' and '_' stays text */
    head(&bl, 141, 0, 0, "ab-c_d", 6, -1, "t");
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "ab-c_d");
    /* any other byte makes the whole id binary: upper-case hex of every byte */
    head(&bl, 141, 0, 0, "ab.c", 4, -1, "t");
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "61622E63");
    head(&bl, 141, 0, 0, "\x00\xff\x10\xab", 4, -1, "t");
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "00FF10AB");
    ck_assert_str_eq(rl.device_key, "00FF10AB");
    /* binary: at most AS_RL_MAX_DEVICE_ID / 2 bytes */
    for (i = 0; i < sizeof(bin); i++) {
        bin[i] = (unsigned char)(0xf0 + (i & 0x0f));
    }
    head(&bl, 141, 0, 0, bin, AS_RL_MAX_DEVICE_ID / 2, -1, "t");
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_uint_eq(strlen(rl.device_id), AS_RL_MAX_DEVICE_ID);
    ck_assert(!strncmp(rl.device_id, "F0F1F2F3", 8));
    head(&bl, 141, 0, 0, bin, AS_RL_MAX_DEVICE_ID / 2 + 1, -1, "t");
    expect_blob_error(&bl, "binary DeviceId too long");
    /* empty and truncated */
    head(&bl, 141, 0, 0, "", 0, -1, "iPhone");
    expect_blob_error(&bl, "empty DeviceId");
    bl.n = 0;
    put(&bl,
        "\x8d\x00\x09\x04\x0a"
        "dev\x00\x01t\x00\x00",
        13);
    expect_blob_error(&bl, "truncated DeviceId");
}
END_TEST

START_TEST(base64_device_type)
{
    blob_t bl;
    const char *t64 = repeat('T', AS_RL_MAX_DEVICE_TYPE);
    head(&bl, 141, 0, 0, "d", 1, -1, t64);
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_str_eq(rl.device_type, t64);
    head(&bl, 141, 0, 0, "d", 1, -1, repeat('T', AS_RL_MAX_DEVICE_TYPE + 1));
    expect_blob_error(&bl, "DeviceType too long");
    head(&bl, 141, 0, 0, "d", 1, -1, "");
    param(&bl, 1, "1", 1);
    expect_blob_error(&bl, "empty DeviceType");
    head(&bl, 141, 0, 0, "d", 1, -1, "Win Mail");
    expect_blob_error(&bl, "invalid DeviceType");
    head(&bl, 141, 0, 0, "d", 1, -1, "a\nb");
    expect_blob_error(&bl, "DeviceType: control");
    bl.n = 0;
    put(&bl,
        "\x8d\x00\x09\x04\x03"
        "dev\x00\x05"
        "WP8",
        13);
    expect_blob_error(&bl, "truncated DeviceType");
    bl.n = 0;
    put(&bl,
        "\x8d\x00\x09\x04\x03"
        "dev\x04\x00\x00\x00\x00",
        13);
    expect_blob_error(&bl, "truncated before the DeviceType");
}
END_TEST

START_TEST(base64_parameters)
{
    blob_t bl;
    std_blob(&bl);
    param(&bl, 0, "5:1:0", 5);
    param(&bl, 1, "7", 1);
    param(&bl, 3, "7:12", 4);
    param(&bl, 4, "RgAAAAD+x/", 10);
    param(&bl, 6, "2009-09-25T12:00:00.000Z", 24);
    param(&bl, 7, "\x03", 1);
    param(&bl, 8, "jdoe@example.com", 16);
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_str_eq(rl.attachment_name, "5:1:0");
    ck_assert_str_eq(rl.collection_id, "7");
    ck_assert_str_eq(rl.item_id, "7:12");
    ck_assert_str_eq(rl.long_id, "RgAAAAD+x/");
    ck_assert_str_eq(rl.occurrence, "2009-09-25T12:00:00.000Z");
    ck_assert_int_eq(rl.save_in_sent, 1);
    ck_assert_int_eq(rl.accept_multipart, 1);
    ck_assert_str_eq(rl.user, "jdoe@example.com");
    /* base64 values are not percent-decoded nor '+'-mapped */
    std_blob(&bl);
    param(&bl, 1, "a+b%41", 6);
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_str_eq(rl.collection_id, "a+b%41");
    /* in the reverse order too; empty values are absent */
    std_blob(&bl);
    param(&bl, 8, "EX\\jdoe", 7);
    param(&bl, 6, "", 0);
    param(&bl, 0, "", 0);
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_str_eq(rl.user, "EX\\jdoe");
    ck_assert_ptr_null(rl.occurrence);
    ck_assert_ptr_null(rl.attachment_name);
    ck_assert_int_eq(rl.save_in_sent, -1);
    ck_assert_int_eq(rl.accept_multipart, -1);
}
END_TEST

START_TEST(base64_options)
{
    static const struct {
        unsigned char v;
        int sis, amp;
    } cases[] = {{0x00, 0, 0}, {0x01, 1, 0}, {0x02, 0, 1},
                 {0x03, 1, 1}, {0x80, 0, 0}, {0xfd, 1, 0}};
    unsigned i;
    blob_t bl;
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        std_blob(&bl);
        param(&bl, 7, &cases[i].v, 1);
        ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
        ck_assert_int_eq(rl.save_in_sent, cases[i].sis);
        ck_assert_int_eq(rl.accept_multipart, cases[i].amp);
    }
    std_blob(&bl);
    param(&bl, 7, "", 0);
    expect_blob_error(&bl, "Options length 0");
    std_blob(&bl);
    param(&bl, 7, "\x01\x00", 2);
    expect_blob_error(&bl, "Options length 2");
}
END_TEST

START_TEST(base64_parameter_errors)
{
    static const unsigned bad_tags[] = {2, 5, 9, 10, 0x7f, 0xff};
    static const unsigned tags[] = {0, 1, 3, 4, 6, 7, 8};
    unsigned i;
    blob_t bl;
    for (i = 0; i < sizeof(bad_tags) / sizeof(bad_tags[0]); i++) {
        std_blob(&bl);
        param(&bl, bad_tags[i], "x", 1);
        expect_blob_error(&bl, apr_psprintf(unit_pool, "unknown parameter tag %u", bad_tags[i]));
    }
    for (i = 0; i < sizeof(tags) / sizeof(tags[0]); i++) {
        std_blob(&bl);
        param(&bl, tags[i], "1", 1);
        param(&bl, tags[i], "1", 1);
        expect_blob_error(&bl, "duplicate parameter tag");
    }
    /* one trailing byte: no room for a length */
    std_blob(&bl);
    param(&bl, 1, "7", 1);
    put1(&bl, 3);
    expect_blob_error(&bl, "truncated parameter");
    /* a length beyond the data */
    std_blob(&bl);
    put(&bl,
        "\x01\x05"
        "abcd",
        6);
    expect_blob_error(&bl, "overruns");
    std_blob(&bl);
    put(&bl, "\x08\xff", 2);
    expect_blob_error(&bl, "overruns");
    /* trailing garbage after a complete structure */
    std_blob(&bl);
    param(&bl, 3, "12", 2);
    put(&bl, "\x00", 1);
    expect_blob_error(&bl, "truncated parameter");
    std_blob(&bl);
    put(&bl, "garbage", 7);
    expect_blob_error(&bl, "unknown parameter tag");
    /* value checks */
    std_blob(&bl);
    param(&bl, 8, "jd\x00oe", 5);
    expect_blob_error(&bl, "User: control");
    std_blob(&bl);
    param(&bl, 1, "\xc0\xaf", 2);
    expect_blob_error(&bl, "CollectionId: control");
    std_blob(&bl);
    param(&bl, 3, repeat('i', AS_RL_MAX_FIELD - 1), AS_RL_MAX_FIELD - 1);
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS); /* 255 is the byte limit */
}
END_TEST

START_TEST(base64_user_length)
{
    /* a one-byte length cannot exceed the User limit; a 255-byte user passes */
    blob_t bl;
    std_blob(&bl);
    param(&bl, 8, repeat('u', 255), 255);
    ck_assert_int_eq(parse(blob_query(&bl)), APR_SUCCESS);
    ck_assert_uint_eq(strlen(rl.user), 255);
}
END_TEST

START_TEST(base64_percent_encoded)
{
    /* a query whose base64 has '+', '/' and '=' in it */
    blob_t bl;
    const char *q;
    std_blob(&bl);
    param(&bl, 4, "?\?>>~~", 6);
    q = blob_query(&bl);
    ck_assert_str_eq(q, "jQAJBARkZXYxAANXUDgEBj8/Pj5+fg==");
    ck_assert_int_eq(parse(q), APR_SUCCESS);
    ck_assert_str_eq(rl.long_id, "?\?>>~~");
    ck_assert_int_eq(parse(pct_b64(q)), APR_SUCCESS);
    ck_assert_str_eq(pct_b64(q), "jQAJBARkZXYxAANXUDgEBj8%2FPj5%2Bfg%3D%3D");
    ck_assert_str_eq(rl.long_id, "?\?>>~~");
    /* mixed: some escaped, some raw, lower-case hex */
    ck_assert_int_eq(parse("jQAJBARkZXYxAANXUDgEBj8/Pj5%2bfg%3d="), APR_SUCCESS);
    ck_assert_str_eq(rl.long_id, "?\?>>~~");
    /* a raw '+' is a '+', never a space, in this form */
    expect_error("jQAJBARkZXYxAANXUDgEBj8/Pj5 fg==", "invalid base64");
    /* a broken escape */
    expect_error("jQAJBARkZXYxAANXUDgEBj8/Pj5%2", "base64 query: malformed percent");
}
END_TEST

/* Padding left out (some clients do; other servers accept it): the same
 * request as the padded one, in the raw and the percent-encoded forms;
 * a partial padding is still refused. */
static const char *strip_padding(const char *q)
{
    char *s = apr_pstrdup(unit_pool, q);
    apr_size_t n = strlen(s);
    while (n > 0 && s[n - 1] == '=') {
        s[--n] = '\0';
    }
    return s;
}

START_TEST(base64_without_padding)
{
    blob_t bl;
    const char *padded, *bare;

    head(&bl, 141, 18, 0x0409, "Nine123", 7, 0x01020304LL, "Android");
    param(&bl, 7, "\x03", 1);
    ck_assert_uint_eq(bl.n % 3, 1); /* "==" */
    padded = blob_query(&bl);
    bare = strip_padding(padded);
    ck_assert_uint_eq(strlen(padded), strlen(bare) + 2);
    ck_assert_int_eq(parse(bare), APR_SUCCESS);
    ck_assert_int_eq(rl.base64, 1);
    ck_assert_str_eq(rl.protocol_version, "14.1");
    ck_assert_str_eq(rl.cmd, "Ping");
    ck_assert_str_eq(rl.device_id, "Nine123");
    ck_assert_str_eq(rl.device_type, "Android");
    ck_assert_int_eq(rl.has_policy_key, 1);
    ck_assert_uint_eq(rl.policy_key, 0x01020304);
    ck_assert_int_eq(rl.save_in_sent, 1);
    ck_assert_int_eq(rl.accept_multipart, 1);
    ck_assert_int_eq(parse(pct_b64(bare)), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "Nine123");
    /* "xx=": half the padding */
    expect_error(apr_pstrcat(unit_pool, bare, "=", NULL), "invalid base64");
    expect_error(apr_pstrcat(unit_pool, bare, "%3D", NULL), "invalid base64");

    head(&bl, 141, 18, 0x0409, "Nine12", 6, -1, "Android");
    ck_assert_uint_eq(bl.n % 3, 2); /* "=" */
    bare = strip_padding(blob_query(&bl));
    ck_assert_uint_eq(strlen(blob_query(&bl)), strlen(bare) + 1);
    ck_assert_int_eq(parse(bare), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "Nine12");
    ck_assert_int_eq(parse_lenient(bare), APR_SUCCESS);
    ck_assert_str_eq(rl.device_id, "Nine12");
    /* too much padding */
    expect_error(apr_pstrcat(unit_pool, bare, "==", NULL), "invalid base64");
    /* non-zero unused bits are refused without padding too */
    {
        char *odd = apr_pstrdup(unit_pool, bare);
        apr_size_t n = strlen(odd);
        odd[n - 1] = odd[n - 1] == 'B' ? 'C' : 'B';
        ck_assert_int_eq(parse(odd), APR_EINVAL);
    }
}
END_TEST

START_TEST(base64_invalid)
{
    expect_error("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob25", "invalid base64"); /* length */
    /* cut mid-character: the unused bits are not zero, with or without padding */
    expect_error("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob2", "invalid base64");
    expect_error("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob2==", "invalid base64");
    expect_error("jAAJBAp2MTQwRGV2aWNlAApTbWFydFBob2-", "invalid base64"); /* url-safe */
    expect_error("jAAJBAp2MTQwRGV2aWNl_ApTbWFydFBob25l", "invalid base64");
    expect_error("jAAJBAp2MTQwRGV2aWNl AApTbWFydFBob25", "invalid base64");
    expect_error("jAAJBAp2MTQw%0ARGV2aWNlAApTbWFydFBob25l", "invalid base64");
    expect_error("jAAJBAp2MTQwRGV2aWNl%00ApTbWFydFBob25l", "invalid base64");
    /* inner padding: an '=' that is not trailing makes it a (broken) plain query */
    expect_error("jA==BAp2MTQwRGV2aWNlAApTbWFydFBob25l", "missing Cmd");
    expect_error("jAAJ%3D%3D%3D%3D", "invalid base64");
    expect_error("jAAJBB==", "invalid base64"); /* non-canonical trailing bits */
    expect_error("jAAJBAA=", "too short");
    expect_error("jAAJ", "too short");
    expect_error("!!!!", "invalid base64");
}
END_TEST

START_TEST(error_messages_are_log_safe)
{
    /* no client bytes beyond a short sanitised excerpt */
    const char *evil = "Cmd=%1B%5B31m%0D%0AFAKE+LOG+LINE&User=u&DeviceId=d&DeviceType=t";
    unsigned char c;
    const char *s;
    ck_assert_int_eq(parse(evil), APR_EINVAL);
    for (s = err; (c = (unsigned char)*s); s++) {
        ck_assert_msg(c >= 0x20 && c < 0x7f, "byte 0x%02x in error", c);
    }
    ck_assert_ptr_nonnull(strstr(err, "invalid Cmd"));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("request_line");
    TCase *tc = tcase_create("request_line");

    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, spec_plain_example);
    tcase_add_test(tc, ios_order);
    tcase_add_test(tc, spec_base64_example);
    tcase_add_test(tc, wp8_base64_example);
    tcase_add_test(tc, wp8_base64_percent_encoded);
    tcase_add_test(tc, every_command_both_forms);
    tcase_add_test(tc, legacy_and_unknown_commands);
    tcase_add_test(tc, plain_all_parameters);
    tcase_add_test(tc, plain_save_in_sent);
    tcase_add_test(tc, plain_percent_and_plus);
    tcase_add_test(tc, plain_names_case_insensitive);
    tcase_add_test(tc, plain_required);
    tcase_add_test(tc, plain_duplicates);
    tcase_add_test(tc, plain_unknown_parameters_ignored);
    tcase_add_test(tc, plain_empty_segments_and_optional_empty);
    tcase_add_test(tc, plain_control_and_utf8);
    tcase_add_test(tc, plain_lengths);
    tcase_add_test(tc, query_length);
    tcase_add_test(tc, device_ids);
    tcase_add_test(tc, device_types);
    tcase_add_test(tc, cmd_names);
    tcase_add_test(tc, lenient_options);
    tcase_add_test(tc, form_detection);
    tcase_add_test(tc, base64_versions);
    tcase_add_test(tc, base64_locale_and_policy_key);
    tcase_add_test(tc, base64_policy_key_errors);
    tcase_add_test(tc, base64_device_id);
    tcase_add_test(tc, base64_device_type);
    tcase_add_test(tc, base64_parameters);
    tcase_add_test(tc, base64_options);
    tcase_add_test(tc, base64_parameter_errors);
    tcase_add_test(tc, base64_user_length);
    tcase_add_test(tc, base64_percent_encoded);
    tcase_add_test(tc, base64_without_padding);
    tcase_add_test(tc, base64_invalid);
    tcase_add_test(tc, error_messages_are_log_safe);
    suite_add_tcase(s, tc);
    return s;
}
