/* The sendmail backend against small shell scripts written by the test:
 * one records its arguments and standard input, one refuses with words on
 * stderr, one never finishes. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_outbound.h"
#include "unit.h"

static char dir[64];

static const char *script(const char *name, const char *body)
{
    const char *path = apr_pstrcat(unit_pool, dir, "/", name, NULL);
    FILE *f = fopen(path, "w");

    ck_assert_ptr_nonnull(f);
    fprintf(f, "#!/bin/sh\n%s\n", body);
    fclose(f);
    chmod(path, 0700);
    return path;
}

static const char *slurp(const char *name, apr_size_t *len)
{
    const char *path = apr_pstrcat(unit_pool, dir, "/", name, NULL);
    char *buf = apr_pcalloc(unit_pool, 65536);
    FILE *f = fopen(path, "rb");
    size_t n;

    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, 65535, f);
    fclose(f);
    if (len) {
        *len = n;
    }
    return buf;
}

static apr_array_header_t *rcpts(const char *a, const char *b)
{
    apr_array_header_t *r = apr_array_make(unit_pool, 2, sizeof(const char *));

    APR_ARRAY_PUSH(r, const char *) = a;
    if (b) {
        APR_ARRAY_PUSH(r, const char *) = b;
    }
    return r;
}

static void setup(void)
{
    unit_pool_setup();
    strcpy(dir, "/tmp/as-outbound-test-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(dir));
}

static void teardown(void)
{
    char cmd[128];

    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    ck_assert_int_eq(system(cmd), 0);
    unit_pool_teardown();
}

START_TEST(accepted_records_argv_and_stdin)
{
    const char *rec = apr_pstrcat(unit_pool, "for a in \"$@\"; do printf '%s\\n' \"$a\"; done > ",
                                  dir, "/argv; cat > ", dir, "/stdin; exit 0", NULL);
    const char *path = script("ok.sh", rec);
    const as_outbound_t *ob =
        as_outbound_sendmail(unit_pool, apr_pstrcat(unit_pool, path, "  -i -oi", NULL), 5);
    static const char msg[] = "From: a@example.org\r\nSubject: x\r\n\r\nbody\0with nul\r\n";
    const char *words = "unset", *got;
    apr_size_t len;

    ck_assert_ptr_nonnull(ob);
    ck_assert_int_eq(as_outbound_submit(ob, unit_pool, "a@example.org",
                                        rcpts("b@example.net", "c@example.com"), msg,
                                        sizeof(msg) - 1, &words),
                     AS_OUTBOUND_OK);
    ck_assert_str_eq(slurp("argv", NULL),
                     "-i\n-oi\n-f\na@example.org\n--\nb@example.net\nc@example.com\n");
    got = slurp("stdin", &len);
    ck_assert_uint_eq(len, sizeof(msg) - 1);
    ck_assert_mem_eq(got, msg, len);
}
END_TEST

START_TEST(refused_with_words)
{
    const char *path = script("no.sh", "cat >/dev/null; echo 'mailbox unavailable' >&2; exit 75");
    const as_outbound_t *ob = as_outbound_sendmail(unit_pool, path, 5);
    const char *words = NULL;

    ck_assert_int_eq(as_outbound_submit(ob, unit_pool, "a@example.org",
                                        rcpts("b@example.net", NULL), "x\r\n", 3, &words),
                     AS_OUTBOUND_REFUSED);
    ck_assert_ptr_nonnull(strstr(words, "exited with 75"));
    ck_assert_ptr_nonnull(strstr(words, "mailbox unavailable"));
}
END_TEST

START_TEST(timeout_kills_and_reaps)
{
    const char *path = script("slow.sh", "exec sleep 600");
    const as_outbound_t *ob = as_outbound_sendmail(unit_pool, path, 1);
    const char *words = NULL;

    ck_assert_int_eq(as_outbound_submit(ob, unit_pool, "a@example.org",
                                        rcpts("b@example.net", NULL), "x\r\n", 3, &words),
                     AS_OUTBOUND_TIMEOUT);
    ck_assert_ptr_nonnull(strstr(words, "did not finish"));
}
END_TEST

START_TEST(missing_program_refused)
{
    const as_outbound_t *ob =
        as_outbound_sendmail(unit_pool, apr_pstrcat(unit_pool, dir, "/does-not-exist -i", NULL), 5);
    const char *words = NULL;

    ck_assert_int_ne(as_outbound_submit(ob, unit_pool, "a@example.org",
                                        rcpts("b@example.net", NULL), "x\r\n", 3, &words),
                     AS_OUTBOUND_OK);
    ck_assert_ptr_nonnull(words);
}
END_TEST

START_TEST(bad_addresses_never_reach_the_command_line)
{
    const char *path = script("ok2.sh", apr_pstrcat(unit_pool, "touch ", dir, "/ran", NULL));
    const as_outbound_t *ob = as_outbound_sendmail(unit_pool, path, 5);
    const char *words = NULL;

    ck_assert_int_eq(as_outbound_submit(ob, unit_pool, "a@example.org", rcpts("-oQ/tmp@x", NULL),
                                        "x", 1, &words),
                     AS_OUTBOUND_REFUSED);
    ck_assert_int_eq(
        as_outbound_submit(ob, unit_pool, "a b@example.org", rcpts("b@x", NULL), "x", 1, &words),
        AS_OUTBOUND_REFUSED);
    ck_assert_int_ne(access(apr_pstrcat(unit_pool, dir, "/ran", NULL), F_OK), 0);
}
END_TEST

START_TEST(address_check)
{
    ck_assert(as_outbound_address_ok("user@example.org"));
    ck_assert(as_outbound_address_ok("first.last+tag@sub.example.org"));
    ck_assert(!as_outbound_address_ok(""));
    ck_assert(!as_outbound_address_ok("user"));
    ck_assert(!as_outbound_address_ok("-f@example.org"));
    ck_assert(!as_outbound_address_ok("a@b@c"));
    ck_assert(!as_outbound_address_ok("user@"));
    ck_assert(!as_outbound_address_ok("<user@example.org>"));
    ck_assert(!as_outbound_address_ok("us er@example.org"));
    ck_assert(!as_outbound_address_ok("user@example.org\n"));
    ck_assert(!as_outbound_address_ok("a,b@example.org"));
}
END_TEST

START_TEST(command_parsing)
{
    ck_assert_ptr_null(as_outbound_sendmail(unit_pool, "", 5));
    ck_assert_ptr_null(as_outbound_sendmail(unit_pool, " \t ", 5));
    ck_assert_ptr_null(as_outbound_sendmail(unit_pool, NULL, 5));
    ck_assert_ptr_nonnull(as_outbound_sendmail(unit_pool, AS_OUTBOUND_DEFAULT_COMMAND, 0));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("outbound_sendmail");
    TCase *tc = tcase_create("core");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, accepted_records_argv_and_stdin);
    tcase_add_test(tc, refused_with_words);
    tcase_add_test(tc, timeout_kills_and_reaps);
    tcase_add_test(tc, missing_program_refused);
    tcase_add_test(tc, bad_addresses_never_reach_the_command_line);
    tcase_add_test(tc, address_check);
    tcase_add_test(tc, command_parsing);
    suite_add_tcase(s, tc);
    return s;
}
