/* The shared strict UTF-8 sequence check. */
#include <string.h>

#include "activesync/as_utf8.h"
#include "unit.h"

static size_t seq(const char *s)
{
    return as_utf8_seq((const unsigned char *)s, strlen(s));
}

static size_t seq_xml(const char *s)
{
    return as_utf8_seq_xml((const unsigned char *)s, strlen(s));
}

START_TEST(valid_lengths)
{
    ck_assert_uint_eq(seq("A"), 1);
    ck_assert_uint_eq(seq("\xc3\xa9"), 2);         /* U+00E9 */
    ck_assert_uint_eq(seq("\xe2\x82\xac"), 3);     /* U+20AC euro */
    ck_assert_uint_eq(seq("\xf0\x9f\x98\x80"), 4); /* U+1F600 */
    ck_assert_uint_eq(seq("\xf4\x8f\xbf\xbf"), 4); /* U+10FFFF */
}
END_TEST

START_TEST(invalid_sequences)
{
    ck_assert_uint_eq(seq("\xc0\xaf"), 0);         /* overlong '/' */
    ck_assert_uint_eq(seq("\xe0\x80\xaf"), 0);     /* overlong, 3 bytes */
    ck_assert_uint_eq(seq("\xf0\x80\x80\xaf"), 0); /* overlong, 4 bytes */
    ck_assert_uint_eq(seq("\xed\xa0\x80"), 0);     /* surrogate U+D800 */
    ck_assert_uint_eq(seq("\xf4\x90\x80\x80"), 0); /* above U+10FFFF */
    ck_assert_uint_eq(seq("\x80"), 0);             /* lone continuation */
    ck_assert_uint_eq(seq("\xe2\x82"), 0);         /* cut short */
    ck_assert_uint_eq(seq("\xe2\x28\xa1"), 0);     /* bad continuation */
    ck_assert_uint_eq(seq("\xff"), 0);
}
END_TEST

START_TEST(xml_noncharacters)
{
    ck_assert_uint_eq(seq("\xef\xbf\xbe"), 3); /* U+FFFE is UTF-8 ... */
    ck_assert_uint_eq(seq("\xef\xbf\xbf"), 3);
    ck_assert_uint_eq(seq_xml("\xef\xbf\xbe"), 0); /* ... but not XML */
    ck_assert_uint_eq(seq_xml("\xef\xbf\xbf"), 0);
    ck_assert_uint_eq(seq_xml("\xef\xbf\xbd"), 3); /* U+FFFD is fine */
    ck_assert_uint_eq(seq_xml("\xed\xa0\x80"), 0);
    ck_assert_uint_eq(seq_xml("A"), 1);
}
END_TEST

START_TEST(clean_copies)
{
    static const char in[] = "a\tb\r\nc\x01\x7f\xc3\xa9\xff\xef\xbf\xbe\0z";
    size_t n = sizeof(in) - 1, len = 0;
    const char *o = as_utf8_clean(unit_pool, in, n, 0, &len);
    /* TAB CR LF kept, other controls and NUL dropped, bad bytes U+FFFD */
    ck_assert_uint_eq(len, strlen(o));
    ck_assert_str_eq(o, "a\tb\r\nc\xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdz");
    /* one line: every control becomes a space */
    o = as_utf8_clean(unit_pool, in, n, 1, NULL);
    ck_assert_str_eq(o, "a b  c  \xc3\xa9\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd z");
    ck_assert_str_eq(as_utf8_clean(unit_pool, "", 0, 0, NULL), "");
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("utf8");
    TCase *tc = tcase_create("utf8");
    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, valid_lengths);
    tcase_add_test(tc, invalid_sequences);
    tcase_add_test(tc, xml_noncharacters);
    tcase_add_test(tc, clean_copies);
    suite_add_tcase(s, tc);
    return s;
}
