/* Signed licences: keygen, sign, verify; expired, other key, tampered bytes,
 * malformed documents, unreadable files, bad keys. */
#include <sys/stat.h>

#include <apr_strings.h>

#include "activesync/as_license.h"
#include "testdb.h"
#include "unit.h"

static char *dir;
static const char *priv, *pub, *priv2, *pub2;

static void setup(void)
{
    const char *msg;
    unit_pool_setup();
    dir = testdb_mkdtemp();
    priv = apr_pstrcat(unit_pool, dir, "/vendor.key", NULL);
    pub = apr_pstrcat(unit_pool, dir, "/vendor.pub", NULL);
    priv2 = apr_pstrcat(unit_pool, dir, "/other.key", NULL);
    pub2 = apr_pstrcat(unit_pool, dir, "/other.pub", NULL);
    ck_assert(as_license_keygen(unit_pool, priv, pub, &msg) == APR_SUCCESS);
    ck_assert(as_license_keygen(unit_pool, priv2, pub2, &msg) == APR_SUCCESS);
}

static void teardown(void)
{
    testdb_rmrf(dir);
    free(dir);
    unit_pool_teardown();
}

static const char *readf(const char *path, apr_size_t *len)
{
    FILE *f = fopen(path, "rb");
    static char buf[8192];
    size_t n;
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    *len = n;
    return apr_pstrmemdup(unit_pool, buf, n);
}

static void writef(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static const char *sign(const char *expires, unsigned n)
{
    as_license_t L;
    const char *text, *msg;
    memset(&L, 0, sizeof(L));
    L.id = "2025-0042";
    L.licensee = "Example School";
    L.mailboxes = n;
    L.issued = "2025-01-15";
    L.expires = expires;
    ck_assert_msg(as_license_sign(unit_pool, &L, priv, &text, &msg) == APR_SUCCESS, "%s", msg);
    return text;
}

static as_license_status_t verify_text(const char *text, size_t len, const char *key,
                                       apr_time_t now, as_license_t *L, const char **msg)
{
    apr_size_t klen;
    const char *k = readf(key, &klen);
    return as_license_verify(unit_pool, text, len, k, klen, now, L, msg);
}

START_TEST(keygen_files)
{
    struct stat st;
    const char *msg;
    apr_size_t len;
    ck_assert(stat(priv, &st) == 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    ck_assert(stat(pub, &st) == 0);
    ck_assert_int_eq(st.st_mode & 0777, 0644);
    ck_assert_ptr_nonnull(strstr(readf(pub, &len), "BEGIN PUBLIC KEY"));
    ck_assert_ptr_nonnull(strstr(readf(priv, &len), "BEGIN PRIVATE KEY"));
    ck_assert_int_eq(as_license_keygen(unit_pool, priv, pub2, &msg), APR_EEXIST);
    ck_assert_ptr_nonnull(strstr(msg, "overwrite"));
}
END_TEST

START_TEST(sign_and_verify)
{
    const char *text = sign("2999-12-31", 200), *msg;
    as_license_t L;
    const char *path = apr_pstrcat(unit_pool, dir, "/lic", NULL);

    ck_assert_ptr_nonnull(strstr(text, "format: mod_activesync-license 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "licensee: Example School\n"));
    ck_assert_ptr_nonnull(strstr(text, "mailboxes: 200\n"));
    ck_assert_ptr_nonnull(strstr(text, "\nsignature: "));
    ck_assert_int_eq(verify_text(text, strlen(text), pub, apr_time_now(), &L, &msg), AS_LIC_VALID);
    ck_assert_str_eq(L.licensee, "Example School");
    ck_assert_int_eq(L.mailboxes, 200);
    ck_assert_str_eq(L.expires, "2999-12-31");
    ck_assert_str_eq(L.issued, "2025-01-15");
    ck_assert_str_eq(L.id, "2025-0042");
    ck_assert_ptr_nonnull(strstr(msg, "200 mailboxes"));

    writef(path, text, strlen(text));
    ck_assert_int_eq(as_license_verify_file(unit_pool, path, pub, apr_time_now(), &L, &msg),
                     AS_LIC_VALID);
    ck_assert_int_eq(as_license_verify_file(unit_pool, path, NULL, apr_time_now(), &L, &msg),
                     AS_LIC_UNVERIFIED);
    ck_assert_int_eq(L.mailboxes, 200);
    ck_assert_str_eq(as_license_status_name(AS_LIC_BAD_SIGNATURE), "bad-signature");
}
END_TEST

START_TEST(expiry_is_end_of_day_utc)
{
    const char *text = sign("2030-06-30", 10), *msg;
    as_license_t L;
    apr_time_t day = as_license_parse_date("2030-06-30");

    ck_assert(day > 0);
    ck_assert_int_eq(verify_text(text, strlen(text), pub, day + apr_time_from_sec(86399), &L, &msg),
                     AS_LIC_VALID);
    ck_assert_int_eq(verify_text(text, strlen(text), pub, day + apr_time_from_sec(86400), &L, &msg),
                     AS_LIC_EXPIRED);
    ck_assert_ptr_nonnull(strstr(msg, "expired on 2030-06-30"));
    ck_assert_int_eq(L.mailboxes, 10);
    ck_assert(as_license_parse_date("2030-02-30") < 0);
    ck_assert(as_license_parse_date("2031-02-29") < 0);
    ck_assert(as_license_parse_date("2032-02-29") > 0);
    ck_assert(as_license_parse_date("30-06-2030") < 0);
}
END_TEST

START_TEST(other_key_is_bad_signature)
{
    const char *text = sign("2999-12-31", 200), *msg;
    as_license_t L;
    ck_assert_int_eq(verify_text(text, strlen(text), pub2, apr_time_now(), &L, &msg),
                     AS_LIC_BAD_SIGNATURE);
    ck_assert_ptr_nonnull(strstr(msg, "bad signature"));
}
END_TEST

START_TEST(every_tampered_byte_is_detected)
{
    const char *text = sign("2999-12-31", 200), *msg;
    size_t len = strlen(text), i;
    char *copy = apr_pstrmemdup(unit_pool, text, len);
    as_license_t L;
    int bad = 0;

    for (i = 0; i < len; i++) {
        as_license_status_t st;
        char orig = copy[i];
        if (orig == '\n') {
            continue;
        }
        copy[i] = (char)(orig == 'A' ? 'B' : (orig == '0' ? '1' : 'A'));
        st = verify_text(copy, len, pub, apr_time_now(), &L, &msg);
        ck_assert_msg(st == AS_LIC_BAD_SIGNATURE || st == AS_LIC_MALFORMED,
                      "byte %zu changed: status %s", i, as_license_status_name(st));
        bad += st == AS_LIC_BAD_SIGNATURE;
        copy[i] = orig;
    }
    ck_assert(bad > 100);
    /* The count itself: 200 -> 900 is a well-formed but unsigned change. */
    {
        char *p = strstr(copy, "mailboxes: 200");
        p[11] = '9';
        ck_assert_int_eq(verify_text(copy, len, pub, apr_time_now(), &L, &msg),
                         AS_LIC_BAD_SIGNATURE);
    }
    /* Appending or removing bytes. */
    ck_assert_int_eq(verify_text(text, len - 1, pub, apr_time_now(), &L, &msg),
                     AS_LIC_VALID); /* the final newline is optional */
    ck_assert_int_eq(verify_text(apr_pstrcat(unit_pool, "# x\n", text, NULL), len + 4, pub,
                                 apr_time_now(), &L, &msg),
                     AS_LIC_BAD_SIGNATURE);
}
END_TEST

static as_license_status_t parse_str(const char *doc, const char **msg)
{
    as_license_t L;
    return as_license_parse(unit_pool, doc, strlen(doc), &L, msg);
}

START_TEST(malformed_documents)
{
    const char *msg;
    const char *sig =
        "signature: "
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
        "AAAAAAA==\n";
    const char *ok = apr_pstrcat(unit_pool,
                                 "format: mod_activesync-license 1\nlicensee: X\nmailboxes: 5\n"
                                 "expires: 2030-01-01\n",
                                 sig, NULL);
    struct {
        const char *doc, *want;
    } cases[] = {
        {"", "empty"},
        {"hello world\n", "expected 'key: value'"},
        {"format: other 2\n", "unknown format"},
        {"licensee: X\nmailboxes: 5\nexpires: 2030-01-01\n", "no 'format"},
        {"format: mod_activesync-license 1\nmailboxes: 5\nexpires: 2030-01-01\n", "licensee"},
        {"format: mod_activesync-license 1\nlicensee: X\nexpires: 2030-01-01\n", "mailboxes"},
        {"format: mod_activesync-license 1\nlicensee: X\nmailboxes: 5\n", "expires"},
        {"format: mod_activesync-license 1\nlicensee: X\nmailboxes: 5\nexpires: 2030-01-01\n",
         "not signed"},
        {"format: mod_activesync-license 1\nlicensee: X\nlicensee: Y\n", "twice"},
        {"format: mod_activesync-license 1\nmailboxes: many\n", "number"},
        {"format: mod_activesync-license 1\nmailboxes: 0\n", "number"},
        {"format: mod_activesync-license 1\nmailboxes: -5\n", "number"},
        {"format: mod_activesync-license 1\nexpires: 2030-13-01\n", "date"},
        {"format: mod_activesync-license 1\ncolour: blue\n", "unknown key 'colour'"},
        {"format: mod_activesync-license 1\r\nlicensee: X\r\n", "control character"},
        {"format:mod_activesync-license 1\n", "expected 'key: value'"},
        {"format: mod_activesync-license 1\nsignature: abc\n", "88 base64"},
        /* 86 characters and "==", one outside the alphabet */
        {"format: mod_activesync-license 1\nsignature: "
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA-AAAAAAAAA=="
         "\n",
         "not base64"},
        /* ... and a 1 in the 4 unused bits of the last one */
        {"format: mod_activesync-license 1\nsignature: "
         "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAB=="
         "\n",
         "not canonical base64"},
    };
    size_t i;

    ck_assert_int_eq(parse_str(ok, &msg), AS_LIC_UNVERIFIED);
    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        ck_assert_int_eq(parse_str(cases[i].doc, &msg), AS_LIC_MALFORMED);
        ck_assert_msg(strstr(msg, cases[i].want) != NULL, "case %zu: '%s' lacks '%s'", i, msg,
                      cases[i].want);
        ck_assert_ptr_nonnull(strstr(msg, "malformed licence"));
    }
    ck_assert_int_eq(parse_str(apr_pstrcat(unit_pool, ok, "id: late\n", NULL), &msg),
                     AS_LIC_MALFORMED);
    ck_assert_ptr_nonnull(strstr(msg, "follow the signature"));
}
END_TEST

START_TEST(unreadable_and_bad_keys)
{
    const char *text = sign("2999-12-31", 200), *msg;
    const char *lic = apr_pstrcat(unit_pool, dir, "/lic", NULL);
    const char *garbage = apr_pstrcat(unit_pool, dir, "/garbage.pem", NULL);
    as_license_t L;

    ck_assert_int_eq(as_license_verify_file(unit_pool, apr_pstrcat(unit_pool, dir, "/none", NULL),
                                            pub, apr_time_now(), &L, &msg),
                     AS_LIC_UNREADABLE);
    ck_assert_ptr_nonnull(strstr(msg, "cannot read licence file"));
    writef(lic, text, strlen(text));
    writef(garbage, "not a key\n", 10);
    ck_assert_int_eq(as_license_verify_file(unit_pool, lic, garbage, apr_time_now(), &L, &msg),
                     AS_LIC_BAD_KEY);
    ck_assert_int_eq(as_license_verify_file(unit_pool, lic, priv, apr_time_now(), &L, &msg),
                     AS_LIC_BAD_KEY);
    ck_assert_int_eq(as_license_verify_file(unit_pool, lic,
                                            apr_pstrcat(unit_pool, dir, "/nokey", NULL),
                                            apr_time_now(), &L, &msg),
                     AS_LIC_BAD_KEY);
    /* Signing with a public key or garbage fails cleanly. */
    {
        as_license_t in;
        const char *out;
        memset(&in, 0, sizeof(in));
        in.licensee = "X";
        in.mailboxes = 1;
        in.expires = "2030-01-01";
        ck_assert(as_license_sign(unit_pool, &in, pub, &out, &msg) != APR_SUCCESS);
        ck_assert(as_license_sign(unit_pool, &in, garbage, &out, &msg) != APR_SUCCESS);
        in.expires = "soon";
        ck_assert(as_license_sign(unit_pool, &in, priv, &out, &msg) != APR_SUCCESS);
        in.expires = "2030-01-01";
        in.licensee = "bad\nname";
        ck_assert(as_license_sign(unit_pool, &in, priv, &out, &msg) != APR_SUCCESS);
        in.licensee = "X";
        in.mailboxes = 0;
        ck_assert(as_license_sign(unit_pool, &in, priv, &out, &msg) != APR_SUCCESS);
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("license");
    TCase *tc = tcase_create("license");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, keygen_files);
    tcase_add_test(tc, sign_and_verify);
    tcase_add_test(tc, expiry_is_end_of_day_utc);
    tcase_add_test(tc, other_key_is_bad_signature);
    tcase_add_test(tc, every_tampered_byte_is_detected);
    tcase_add_test(tc, malformed_documents);
    tcase_add_test(tc, unreadable_and_bad_keys);
    suite_add_tcase(s, tc);
    return s;
}
