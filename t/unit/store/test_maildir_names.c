/* Maildir++ store: the ActiveSyncMaildir path template and the modified
 * UTF-7 folder names (as_maildir.h). */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_maildir.h"
#include "unit.h"

/* ---- path templates ---------------------------------------------------- */

static void tmpl_ok(const char *t, const char *acct, const char *want)
{
    const char *path, *err;
    ck_assert_msg(as_maildir_path_from_template(unit_pool, t, acct, &path, &err) == APR_SUCCESS,
                  "%s / %s refused: %s", t, acct, err ? err : "?");
    ck_assert_str_eq(path, want);
}

static void tmpl_bad(const char *t, const char *acct)
{
    const char *path, *err;
    ck_assert_msg(as_maildir_path_from_template(unit_pool, t, acct, &path, &err) == APR_EINVAL,
                  "%s / %s accepted as %s", t, acct ? acct : "(null)", path ? path : "?");
    ck_assert_ptr_null(path);
    ck_assert_ptr_nonnull(err);
}

START_TEST(template_expansion)
{
    tmpl_ok("/var/vmail/%d/%n/Maildir", "jdoe@example.com", "/var/vmail/example.com/jdoe/Maildir");
    tmpl_ok("/home/%u", "jdoe@example.com", "/home/jdoe@example.com");
    tmpl_ok("/m/%d/%n/%%x", "first.last+tag@sub.example.co.uk",
            "/m/sub.example.co.uk/first.last+tag/%x");
    tmpl_ok("/plain", "a@b", "/plain");
    /* refusals: values that could escape, bad templates */
    tmpl_bad("/m/%n", "../x@example.com");
    tmpl_bad("/m/%n", ".hidden@example.com");
    tmpl_bad("/m/%n", "a..b@example.com");
    tmpl_bad("/m/%n", "a/b@example.com");
    tmpl_bad("/m/%n", "a\\b@example.com");
    tmpl_bad("/m/%d/%n", "jdoe@..");
    tmpl_bad("/m/%d/%n", "jdoe@.example.com");
    tmpl_bad("/m/%n", "a\nb@example.com");
    tmpl_bad("/m/%n", "");
    tmpl_bad("/m/%n", NULL);
    tmpl_bad("/m/%d", "jdoe"); /* no domain */
    tmpl_bad("/m/%x", "jdoe@example.com");
    tmpl_bad("/m/%", "jdoe@example.com");
    tmpl_bad("relative/%n", "jdoe@example.com");
    tmpl_bad(NULL, "jdoe@example.com");
    tmpl_bad("/m/../%n", "jdoe@example.com");
    tmpl_bad("/m/./%n", "jdoe@example.com");
    tmpl_bad("/m/%n/..", "jdoe@example.com");
}
END_TEST

/* ---- modified UTF-7 ------------------------------------------------------ */

START_TEST(mutf7)
{
    static const struct {
        const char *enc, *dec;
    } v[] = {{"Entw&APw-rfe", "Entwürfe"},
             {"&AOQA9gD8-", "äöü"},
             {"&ZeVnLIqe-", "日本語"},
             {"A&-B", "A&B"},
             {"Sent Items", "Sent Items"},
             {"&2D3eAA-", "\xf0\x9f\x98\x80"}, /* U+1F600 as a surrogate pair */
             {"Gesendete Objekte", "Gesendete Objekte"},
             {"~peter/mail/&U,BTFw-/&ZeVnLIqe-", "~peter/mail/台北/日本語"}};
    size_t i;

    for (i = 0; i < sizeof v / sizeof v[0]; i++) {
        const char *d = as_mutf7_decode(unit_pool, v[i].enc);
        ck_assert_msg(d && !strcmp(d, v[i].dec), "decode %s: %s", v[i].enc, d ? d : "NULL");
        ck_assert_str_eq(as_mutf7_encode(unit_pool, v[i].dec), v[i].enc);
    }
    /* invalid forms */
    ck_assert_ptr_null(as_mutf7_decode(unit_pool, "&AOQ"));   /* unterminated */
    ck_assert_ptr_null(as_mutf7_decode(unit_pool, "&AGE-"));  /* encodes printable "a" */
    ck_assert_ptr_null(as_mutf7_decode(unit_pool, "&2D0-"));  /* lone high surrogate */
    ck_assert_ptr_null(as_mutf7_decode(unit_pool, "&Jjo!-")); /* bad base64 character */
    ck_assert_ptr_null(as_mutf7_decode(unit_pool, "a\xc3\xa4"));
    ck_assert_ptr_null(as_mutf7_encode(unit_pool, "bad \xff utf8"));
}
END_TEST

START_TEST(mutf7_length_cap)
{
    /* names longer than AS_MUTF7_MAX are refused, both ways; at the cap
     * they still convert */
    char *s = apr_palloc(unit_pool, AS_MUTF7_MAX + 2);
    const char *r;

    memset(s, 'a', AS_MUTF7_MAX + 1);
    s[AS_MUTF7_MAX + 1] = '\0';
    ck_assert_ptr_null(as_mutf7_decode(unit_pool, s));
    ck_assert_ptr_null(as_mutf7_encode(unit_pool, s));
    s[AS_MUTF7_MAX] = '\0';
    r = as_mutf7_decode(unit_pool, s);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(strlen(r), AS_MUTF7_MAX);
    r = as_mutf7_encode(unit_pool, s);
    ck_assert_ptr_nonnull(r);
    ck_assert_uint_eq(strlen(r), AS_MUTF7_MAX);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("maildir_names");
    TCase *tc = tcase_create("names");

    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, template_expansion);
    tcase_add_test(tc, mutf7);
    tcase_add_test(tc, mutf7_length_cap);
    suite_add_tcase(s, tc);
    return s;
}
