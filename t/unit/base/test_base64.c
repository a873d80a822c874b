/* The shared base64 module, in each mode its users call it with. */
#include <string.h>

#include "activesync/as_base64.h"
#include "unit.h"

/* The flags of each user (see as_base64.h). */
#define STRICT   0
#define REQLINE  AS_B64_CANONICAL
#define WBXML    AS_B64_BLANKS
#define VALIDATE (AS_B64_BLANKS | AS_B64_PAD_OPTIONAL)
#define MUTF7    (AS_B64_COMMA | AS_B64_PAD_NONE | AS_B64_CANONICAL)

static unsigned char out[256];
static size_t outlen;

/* Decodes in[0..n) with flags into out; the byte after the largest output
 * allowed must stay untouched. */
static int dec(const char *in, size_t n, unsigned flags)
{
    int ok;

    memset(out, 0xAA, sizeof(out));
    outlen = 9999;
    ok = as_b64_decode(in, n, out, &outlen, flags);
    ck_assert_uint_eq(out[AS_B64_DECODED_MAX(n)], 0xAA);
    if (ok) {
        ck_assert_uint_le(outlen, AS_B64_DECODED_MAX(n));
    }
    return ok;
}

/* One decoding: want NULL when the input must be refused. */
typedef struct {
    const char *in;
    unsigned flags;
    const char *want;
    size_t len;
} case_t;

#define OK(in, flags, want)                                                                        \
    {                                                                                              \
        in, flags, want, sizeof(want) - 1                                                          \
    }
#define NO(in, flags)                                                                              \
    {                                                                                              \
        in, flags, NULL, 0                                                                         \
    }

static void run(const case_t *c, size_t n, unsigned extra_flags)
{
    size_t i;

    for (i = 0; i < n; i++) {
        unsigned fl = c[i].flags | extra_flags;
        int ok = dec(c[i].in, strlen(c[i].in), fl);
        if (!c[i].want) {
            ck_assert_msg(!ok, "'%s' (flags 0x%x) accepted", c[i].in, fl);
            continue;
        }
        ck_assert_msg(ok, "'%s' (flags 0x%x) refused", c[i].in, fl);
        ck_assert_msg(outlen == c[i].len && !memcmp(out, c[i].want, outlen),
                      "'%s' (flags 0x%x): wrong bytes", c[i].in, fl);
    }
}

#define RUN(cases, extra) run(cases, sizeof(cases) / sizeof(cases[0]), extra)

static const struct {
    const char *raw, *enc;
} rfc4648[] = {{"", ""},
               {"f", "Zg=="},
               {"fo", "Zm8="},
               {"foo", "Zm9v"},
               {"foob", "Zm9vYg=="},
               {"fooba", "Zm9vYmE="},
               {"foobar", "Zm9vYmFy"}};

START_TEST(encode_vectors)
{
    char buf[32];
    size_t i;

    for (i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t n = strlen(rfc4648[i].raw);
        ck_assert_uint_eq(as_b64_encode(rfc4648[i].raw, n, buf, 0), strlen(rfc4648[i].enc));
        ck_assert_str_eq(buf, rfc4648[i].enc);
        ck_assert_uint_eq(AS_B64_ENCODED_LEN(n), strlen(rfc4648[i].enc));
    }
    /* no padding: 2 and 3 characters for a last group of 1 and 2 bytes */
    ck_assert_uint_eq(as_b64_encode("f", 1, buf, AS_B64_PAD_NONE), 2);
    ck_assert_str_eq(buf, "Zg");
    ck_assert_uint_eq(as_b64_encode("fo", 2, buf, AS_B64_PAD_NONE), 3);
    ck_assert_str_eq(buf, "Zm8");
    ck_assert_uint_eq(as_b64_encode("foo", 3, buf, AS_B64_PAD_NONE), 4);
    ck_assert_str_eq(buf, "Zm9v");
    /* the 62nd and 63rd characters in both alphabets */
    as_b64_encode("\xfb\xff\xbf", 3, buf, 0);
    ck_assert_str_eq(buf, "+/+/");
    as_b64_encode("\xfb\xff\xbf", 3, buf, AS_B64_COMMA);
    ck_assert_str_eq(buf, "+,+,");
    /* modified UTF-7 of U+53F0 U+5317 ("台北", RFC 3501's example) */
    as_b64_encode("\x53\xf0\x53\x17", 4, buf, MUTF7);
    ck_assert_str_eq(buf, "U,BTFw");
}
END_TEST

START_TEST(round_trip_every_length)
{
    unsigned char raw[64], back[64];
    char enc[128];
    size_t n, m;
    unsigned i, f;
    static const unsigned modes[] = {STRICT, REQLINE, WBXML, VALIDATE, MUTF7};

    for (i = 0; i < sizeof(raw); i++) {
        raw[i] = (unsigned char)(i * 37 + 11);
    }
    for (f = 0; f < sizeof(modes) / sizeof(modes[0]); f++) {
        for (n = 0; n <= sizeof(raw); n++) {
            size_t len = as_b64_encode(raw, n, enc, modes[f]);
            ck_assert_uint_eq(strlen(enc), len);
            ck_assert(as_b64_decode(enc, len, back, &m, modes[f]));
            ck_assert_uint_eq(m, n);
            ck_assert(!memcmp(back, raw, n));
        }
    }
}
END_TEST

START_TEST(character_classes)
{
    static const char std[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    static const char comma[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";
    unsigned c;

    for (c = 0; c < 256; c++) {
        const char *s = c ? memchr(std, (int)c, 64) : NULL;
        const char *m = c ? memchr(comma, (int)c, 64) : NULL;
        unsigned other = c == '='                                            ? AS_B64_CLASS_PAD
                         : (c == ' ' || c == '\t' || c == '\r' || c == '\n') ? AS_B64_CLASS_BLANK
                                                                             : AS_B64_CLASS_INVALID;
        ck_assert_uint_eq(as_b64_class((unsigned char)c, 0), s ? (unsigned)(s - std) : other);
        ck_assert_uint_eq(as_b64_class((unsigned char)c, AS_B64_COMMA),
                          m ? (unsigned)(m - comma) : other);
    }
}
END_TEST

START_TEST(each_mode)
{
    /* each mode's own rules, by topic */
    static const case_t c[] = {
        /* empty input */
        OK("", STRICT, ""),
        OK("", REQLINE, ""),
        OK("", WBXML, ""),
        OK("", VALIDATE, ""),
        OK("", MUTF7, ""),
        /* blanks alone are no data where blanks are allowed */
        OK(" \r\n\t", WBXML, ""),
        OK(" \r\n\t", VALIDATE, ""),
        NO(" ", STRICT),
        NO(" ", MUTF7),
        /* unpadded tails: refused where padding is required */
        NO("Zg", STRICT),
        NO("Zm8", STRICT),
        NO("Zg", REQLINE),
        NO("Zm9vYg", WBXML),
        /* optional (ValidateCert) and absent (modified UTF-7) */
        OK("Zg", VALIDATE, "f"),
        OK("Zm8", VALIDATE, "fo"),
        OK("Zm9vYmE", VALIDATE, "fooba"),
        OK("Zm 9v\nYg", VALIDATE, "foob"),
        OK("Zg", MUTF7, "f"),
        OK("Zm8", MUTF7, "fo"),
        NO("Zm9vY", VALIDATE),
        NO("Zm9vY", MUTF7),
        /* unused bits: "Zh==" and "Zm9=" carry 1 bits past the data */
        OK("Zh==", STRICT, "f"),
        OK("Zm9=", STRICT, "fo"),
        OK("Zh==", WBXML, "f"),
        OK("Zh==", VALIDATE, "f"),
        OK("Zh", VALIDATE, "f"),
        OK("Zm9", VALIDATE, "fo"),
        NO("Zh==", REQLINE),
        NO("Zm9=", REQLINE),
        NO("Zh", MUTF7),
        NO("Zm9", MUTF7),
        /* in a whole group every bit is data */
        OK("////", REQLINE, "\xff\xff\xff"),
        /* blanks */
        OK("Zm9v\r\nYmFy", WBXML, "foobar"),
        OK(" Z m 9 v ", WBXML, "foo"),
        OK("Zg = =\t\n", WBXML, "f"), /* between and after the '=' too */
        OK("Zm9v\nZm9v", VALIDATE, "foofoo"),
        NO("Zg== Zg==", WBXML),
        NO("Zg== =", WBXML),
        NO("Zm9v\nZm9v", STRICT),
        NO("Zm9v Zm9v", REQLINE),
        NO("Zm9v\n", REQLINE),
        NO("Zm 9v", MUTF7),
        /* only these four are blanks */
        NO("Zm9v\v", WBXML),
        NO("Zm9v\f", VALIDATE),
        /* the ',' alphabet of modified UTF-7 */
        OK("+/+/", STRICT, "\xfb\xff\xbf"),
        NO("+,+,", STRICT),
        NO("+,+,", WBXML),
        OK("+,+,", MUTF7, "\xfb\xff\xbf"),
        NO("+/+/", MUTF7),
        OK("U,BTFw", MUTF7, "\x53\xf0\x53\x17"),
        NO("U/BTFw", MUTF7),
        OK("AOQA9gD8", MUTF7, "\x00\xe4\x00\xf6\x00\xfc"),
    };
    RUN(c, 0);
}
END_TEST

START_TEST(padding_positions)
{
    /* the same in every mode that knows '=' */
    static const case_t c[] = {
        OK("Zg==", 0, "f"),        /* one byte */
        OK("Zm8=", 0, "fo"),       /* two bytes */
        OK("Zm9vYg==", 0, "foob"), /* a group, then one byte */
        NO("=", 0),                /* '=' alone */
        NO("====", 0),             /* a group of '=' */
        NO("Z===", 0),             /* '=' in the second place */
        NO("=Zg=", 0),             /* ... and in the first */
        NO("Zg=", 0),              /* padding begun, never finished */
        NO("Zg===", 0),            /* one '=' too many */
        NO("Zg=a", 0),             /* data after '=' */
        NO("Zg==Zg==", 0),         /* padding only at the very end */
        NO("Zm8=Zm9v", 0),         /* ... with one '=' too */
        NO("Zg==Zm9v", 0),         /* not even a whole group after it */
        NO("Z", 0),                /* a lone character never makes a byte */
        NO("Zm9vY", 0),            /* ... nor after a group */
    };
    /* modified UTF-7 has no padding at all */
    static const case_t none[] = {NO("Zg==", MUTF7), NO("Zm8=", MUTF7), NO("=", MUTF7)};
    static const unsigned modes[] = {STRICT, REQLINE, WBXML, VALIDATE};
    size_t i;

    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        RUN(c, modes[i]);
    }
    RUN(none, 0);
}
END_TEST

START_TEST(invalid_characters)
{
    static const case_t c[] = {NO("Zm-v", 0),    NO("Zm_v", 0),    NO("Zm.v", 0),   NO("Zm!v", 0),
                               NO("Zm\x7fv", 0), NO("Zm\xc3v", 0), NO("Zm\xffv", 0)};
    static const unsigned modes[] = {STRICT, REQLINE, WBXML, VALIDATE, MUTF7};
    size_t i;

    for (i = 0; i < sizeof(modes) / sizeof(modes[0]); i++) {
        RUN(c, modes[i]);
        /* a NUL byte inside the input */
        ck_assert(!dec("Zm\0v", 4, modes[i]));
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("base64");
    TCase *tc = tcase_create("base64");
    tcase_add_test(tc, encode_vectors);
    tcase_add_test(tc, round_trip_every_length);
    tcase_add_test(tc, character_classes);
    tcase_add_test(tc, padding_positions);
    tcase_add_test(tc, each_mode);
    tcase_add_test(tc, invalid_characters);
    suite_add_tcase(s, tc);
    return s;
}
