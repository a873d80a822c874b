/* Base64 encoder, strict decoder and character classes: see as_base64.h. */
#include "activesync/as_base64.h"

/* ',' gets a class of its own in the table, which holds '/' as 63: the
 * standard alphabet is the fast case, the ',' alphabet (short IMAP folder
 * names) is resolved on the side. */
#define COMMA 66
#define X     AS_B64_CLASS_INVALID
#define W     AS_B64_CLASS_BLANK
#define P     AS_B64_CLASS_PAD

/* One constant table: no initialisation, nothing shared to lock. */
/* clang-format off */
static const unsigned char b64_class[256] = {
    X,  X,  X,  X,  X,  X,  X,  X,  X,  W,  W,  X,  X,  W,  X,  X,  /* 0x00 */
    X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  /* 0x10 */
    W,  X,  X,  X,  X,  X,  X,  X,  X,  X,  X,  62, COMMA, X, X, 63, /* 0x20 */
    52, 53, 54, 55, 56, 57, 58, 59, 60, 61, X,  X,  X,  P,  X,  X,  /* 0x30 */
    X,  0,  1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, /* 0x40 */
    15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, X,  X,  X,  X,  X,  /* 0x50 */
    X,  26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40, /* 0x60 */
    41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, X,  X,  X,  X,  X,  /* 0x70 */
    [0x80 ... 0xff] = X,
};
/* clang-format on */

static const char alphabet_std[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
static const char alphabet_comma[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

unsigned as_b64_class(unsigned char c, unsigned flags)
{
    unsigned v = b64_class[c];

    if (flags & AS_B64_COMMA) {
        return c == '/' ? X : v == COMMA ? 63 : v;
    }
    return v == COMMA ? X : v;
}

size_t as_b64_encode(const void *in, size_t n, char *out, unsigned flags)
{
    const unsigned char *s = in;
    const char *a = flags & AS_B64_COMMA ? alphabet_comma : alphabet_std;
    char *o = out;
    size_t i = 0;

    for (; i + 3 <= n; i += 3) {
        unsigned v = ((unsigned)s[i] << 16) | ((unsigned)s[i + 1] << 8) | s[i + 2];
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        *o++ = a[(v >> 6) & 63];
        *o++ = a[v & 63];
    }
    if (i < n) {
        /* one or two bytes left: two or three characters, then padding */
        unsigned v = (unsigned)s[i] << 16;
        if (n - i == 2) {
            v |= (unsigned)s[i + 1] << 8;
        }
        *o++ = a[v >> 18];
        *o++ = a[(v >> 12) & 63];
        if (n - i == 2) {
            *o++ = a[(v >> 6) & 63];
        } else if (!(flags & AS_B64_PAD_NONE)) {
            *o++ = '=';
        }
        if (!(flags & AS_B64_PAD_NONE)) {
            *o++ = '=';
        }
    }
    *o = '\0';
    return (size_t)(o - out);
}

/* The bytes of one group: acc holds its 24 bits, pad how many of its last
 * characters were '=' (or missing).  Returns 0 when CANONICAL refuses it. */
static int put_group(unsigned acc, unsigned pad, unsigned flags, unsigned char *out, size_t *o)
{
    if ((flags & AS_B64_CANONICAL) && (acc & ((1u << (8 * pad)) - 1))) {
        return 0;
    }
    out[(*o)++] = (unsigned char)(acc >> 16);
    if (pad < 2) {
        out[(*o)++] = (unsigned char)(acc >> 8);
    }
    if (pad < 1) {
        out[(*o)++] = (unsigned char)acc;
    }
    return 1;
}

int as_b64_decode(const void *in, size_t n, unsigned char *out, size_t *outlen, unsigned flags)
{
    const unsigned char *s = in;
    unsigned acc = 0, nq = 0, pad = 0;
    size_t o = 0, i = 0;
    int fast = !(flags & AS_B64_COMMA);

    while (i < n) {
        unsigned c;
        /* the common case: a whole group of four standard characters */
        if (nq == 0 && fast && n - i >= 4) {
            unsigned a = b64_class[s[i]], b = b64_class[s[i + 1]];
            unsigned d = b64_class[s[i + 2]], e = b64_class[s[i + 3]];
            if ((a | b | d | e) < 64) {
                unsigned v = (a << 18) | (b << 12) | (d << 6) | e;
                if (pad) {
                    return 0; /* data after '=' */
                }
                out[o] = (unsigned char)(v >> 16);
                out[o + 1] = (unsigned char)(v >> 8);
                out[o + 2] = (unsigned char)v;
                o += 3;
                i += 4;
                continue;
            }
        }
        /* one character at a time up to the end of the group */
        c = as_b64_class(s[i++], flags);
        if (c < 64) {
            if (pad) {
                return 0;
            }
            acc = (acc << 6) | c;
        } else if (c == AS_B64_CLASS_PAD && nq >= 2 && !(flags & AS_B64_PAD_NONE)) {
            pad++;
            acc <<= 6;
        } else if (c == AS_B64_CLASS_BLANK && (flags & AS_B64_BLANKS)) {
            continue;
        } else {
            return 0;
        }
        if (++nq == 4) {
            if (!put_group(acc, pad, flags, out, &o)) {
                return 0;
            }
            /* pad stays set: after a padded group only blanks may come */
            nq = 0;
            acc = 0;
        }
    }
    if (nq) {
        /* an unfinished group: "x=" and "x" never, "xx=" never,
         * "xx" and "xxx" only when the padding may be left out */
        if (pad || nq < 2 || !(flags & (AS_B64_PAD_OPTIONAL | AS_B64_PAD_NONE))) {
            return 0;
        }
        if (!put_group(acc << (6 * (4 - nq)), 4 - nq, flags, out, &o)) {
            return 0;
        }
    }
    *outlen = o;
    return 1;
}
