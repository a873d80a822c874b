/* Account names to "user@domain": the three input forms, lower-casing, the
 * default domain, validation of both parts, and as_account_split(). */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_account.h"
#include "unit.h"

static const char *canon;
static const char *err;

static void expect_ok(const char *name, const char *dflt, const char *want)
{
    apr_status_t rv = as_account_canonical(unit_pool, name, dflt, &canon, &err);
    ck_assert_msg(rv == APR_SUCCESS, "\"%s\" (default %s) refused: %s", name, dflt ? dflt : "none",
                  err ? err : "?");
    ck_assert_str_eq(canon, want);
}

static void expect_err(const char *name, const char *dflt, const char *want)
{
    apr_status_t rv = as_account_canonical(unit_pool, name, dflt, &canon, &err);
    ck_assert_msg(rv == APR_EINVAL, "\"%s\" accepted as %s", name ? name : "(null)",
                  canon ? canon : "?");
    ck_assert_ptr_null(canon);
    ck_assert_ptr_nonnull(err);
    ck_assert_msg(strstr(err, want) != NULL, "\"%s\": error \"%s\" lacks \"%s\"",
                  name ? name : "(null)", err, want);
}

static const char *repeat(char c, int n)
{
    char *s = apr_palloc(unit_pool, (apr_size_t)n + 1);
    memset(s, c, (apr_size_t)n);
    s[n] = '\0';
    return s;
}

START_TEST(address_form)
{
    expect_ok("jdoe@example.com", NULL, "jdoe@example.com");
    expect_ok("jdoe@example.com", "other.org", "jdoe@example.com");
    expect_ok("JDoe@Example.COM", NULL, "jdoe@example.com");
    expect_ok("first.last+tag@sub.example.co.uk", NULL, "first.last+tag@sub.example.co.uk");
    expect_ok("o'brien@example.com", NULL, "o'brien@example.com");
    expect_ok("a-b_c=d!#$&*?^`{}~@xn--bcher-kva.example", NULL,
              "a-b_c=d!#$&*?^`{}~@xn--bcher-kva.example");
    expect_ok("x@localhost", NULL, "x@localhost");
    expect_ok("1@2.3", NULL, "1@2.3");
    expect_ok("a@a-b.c-d", NULL, "a@a-b.c-d");
}
END_TEST

START_TEST(domain_backslash_form)
{
    /* the domain part is used as given, lower-cased, even without a dot */
    expect_ok("EXAMPLE\\jdoe", NULL, "jdoe@example");
    expect_ok("EXAMPLE\\jdoe", "example.com", "jdoe@example");
    expect_ok("example.com\\JDoe", NULL, "jdoe@example.com");
    expect_ok("Example.COM\\first.last", "other.org", "first.last@example.com");
    /* distinct principals stay distinct */
    expect_ok("ACME\\bob", "example.com", "bob@acme");
    expect_ok("GLOBEX\\bob", "example.com", "bob@globex");
    /* empty domain: some Android clients send "\user" */
    expect_ok("\\jdoe", "example.com", "jdoe@example.com");
    expect_err("\\jdoe", NULL, "no default domain");
    expect_err("EXAMPLE\\", "example.com", "local part");
    expect_err("EX AMPLE\\jdoe", NULL, "domain");
    expect_err("EX_AMPLE\\jdoe", NULL, "domain");
    expect_err("EXAMPLE\\jd/oe", NULL, "local part");
    expect_err("A\\B\\jdoe", NULL, "more than one");
    expect_err("EXAMPLE\\jdoe@example.com", NULL, "both");
    expect_err("jdoe@EXAMPLE\\x", NULL, "both");
}
END_TEST

START_TEST(bare_form)
{
    expect_ok("jdoe", "example.com", "jdoe@example.com");
    expect_ok("JDoe", "Example.Com", "jdoe@example.com");
    expect_err("jdoe", NULL, "no default domain");
    expect_err("jdoe", "", "no default domain");
    /* the default domain is checked too */
    expect_err("jdoe", "bad..domain", "default domain");
    expect_err("jdoe", "-x.com", "default domain");
    expect_err("jdoe", "x_y.com", "default domain");
    expect_err("jdoe", "x.com/..", "default domain");
    expect_err("jdoe", "x.com.", "default domain");
    expect_err("jdoe", repeat('a', 254), "default domain");
}
END_TEST

START_TEST(invalid_names)
{
    static const char *const bad_local[] = {
        "@example.com",       ".jdoe@example.com",  "jdoe.@example.com", "j..doe@example.com",
        "jd/oe@example.com",  "jd%oe@example.com",  "jd|oe@example.com", "jd oe@example.com",
        "jd\"oe@example.com", "jd(oe)@example.com", "jd,oe@example.com", "jd:oe@example.com",
        "jd;oe@example.com",  "jd<oe@example.com",  "jd[oe@example.com", "..@example.com",
        "../etc@example.com", ".@example.com",
    };
    static const char *const bad_domain[] = {
        "jdoe@",
        "jdoe@.com",
        "jdoe@example..com",
        "jdoe@example.com.",
        "jdoe@-example.com",
        "jdoe@example-.com",
        "jdoe@ex_ample.com",
        "jdoe@[192.0.2.1]",
        "jdoe@example.com/..",
        "jdoe@exa mple.com",
        "jdoe@example.com:443",
        "jdoe@.",
        "jdoe@..",
    };
    unsigned i;
    for (i = 0; i < sizeof(bad_local) / sizeof(bad_local[0]); i++) {
        expect_err(bad_local[i], "example.com", "local part");
    }
    for (i = 0; i < sizeof(bad_domain) / sizeof(bad_domain[0]); i++) {
        expect_err(bad_domain[i], "example.com", "domain");
    }
    expect_err(NULL, "example.com", "empty");
    expect_err("", "example.com", "empty");
    expect_err("a@b@c", NULL, "more than one '@'");
    expect_err("jd\x01oe@example.com", NULL, "control");
    expect_err("jdoe\n@example.com", NULL, "control");
    expect_err("jd\x7foe@example.com", NULL, "control");
    expect_err("j\xc3\xb6rg@example.com", NULL, "non-ASCII");
    expect_err("jdoe@b\xc3\xbc"
               "cher.example",
               NULL, "non-ASCII");
}
END_TEST

START_TEST(lengths)
{
    const char *l64 = repeat('l', 64);
    const char *label63 = repeat('d', 63);
    /* 63 + 1 + 63 + 1 + 63 + 1 + 61 = 253 */
    const char *d253 =
        apr_pstrcat(unit_pool, label63, ".", label63, ".", label63, ".", repeat('e', 61), NULL);
    const char *d254 = apr_pstrcat(unit_pool, "x", d253, NULL);
    ck_assert_uint_eq(strlen(d253), 253);
    expect_ok(apr_pstrcat(unit_pool, l64, "@", d253, NULL), NULL,
              apr_pstrcat(unit_pool, l64, "@", d253, NULL));
    expect_err(apr_pstrcat(unit_pool, l64, "l@example.com", NULL), NULL, "local part");
    expect_err(apr_pstrcat(unit_pool, "jdoe@", d254, NULL), NULL, "domain");
    expect_ok(apr_pstrcat(unit_pool, "jdoe@", label63, ".com", NULL), NULL,
              apr_pstrcat(unit_pool, "jdoe@", label63, ".com", NULL));
    expect_err(apr_pstrcat(unit_pool, "jdoe@", label63, "d.com", NULL), NULL, "domain");
    /* over AS_ACCOUNT_MAX before any mapping */
    expect_err(repeat('a', AS_ACCOUNT_MAX + 1), "example.com", "too long");
    /* a bare 64-character user with a 253-character default domain fits */
    expect_ok(l64, d253, apr_pstrcat(unit_pool, l64, "@", d253, NULL));
    /* DOMAIN\user: the mapped form is bounded by the parts */
    expect_ok(apr_pstrcat(unit_pool, d253, "\\", l64, NULL), NULL,
              apr_pstrcat(unit_pool, l64, "@", d253, NULL));
}
END_TEST

START_TEST(split)
{
    const char *local, *domain;
    as_account_split(unit_pool, "jdoe@example.com", &local, &domain);
    ck_assert_str_eq(local, "jdoe");
    ck_assert_str_eq(domain, "example.com");
    as_account_split(unit_pool, "jdoe", &local, &domain);
    ck_assert_str_eq(local, "jdoe");
    ck_assert_ptr_null(domain);
    as_account_split(unit_pool, "@x", &local, &domain);
    ck_assert_str_eq(local, "");
    ck_assert_str_eq(domain, "x");
    as_account_split(unit_pool, NULL, &local, &domain);
    ck_assert_ptr_null(local);
    ck_assert_ptr_null(domain);
    /* round trip with the canonical form */
    expect_ok("EXAMPLE\\JDoe", NULL, "jdoe@example");
    as_account_split(unit_pool, canon, &local, &domain);
    ck_assert_str_eq(local, "jdoe");
    ck_assert_str_eq(domain, "example");
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("account");
    TCase *tc = tcase_create("account");

    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, address_form);
    tcase_add_test(tc, domain_backslash_form);
    tcase_add_test(tc, bare_form);
    tcase_add_test(tc, invalid_names);
    tcase_add_test(tc, lengths);
    tcase_add_test(tc, split);
    suite_add_tcase(s, tc);
    return s;
}
