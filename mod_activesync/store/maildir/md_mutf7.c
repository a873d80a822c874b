/* UTF-8 checks and modified UTF-7 (RFC 3501 5.1.3) for Maildir++ folder
 * names. */
#include <string.h>

#include "md_internal.h"
#include "activesync/as_base64.h"
#include "activesync/as_utf8.h"

int md_utf8_valid(const char *s)
{
    size_t n = strlen(s), i = 0, l;

    while (i < n) {
        l = as_utf8_seq((const unsigned char *)s + i, n - i);
        if (!l) {
            return 0;
        }
        i += l;
    }
    return 1;
}

/* Copy with invalid bytes and control characters replaced by '?'. */
char *md_utf8_sanitize(apr_pool_t *p, const char *s)
{
    size_t n = strlen(s), i = 0, o = 0, l;
    char *out = apr_palloc(p, n + 1);

    while (i < n) {
        l = as_utf8_seq((const unsigned char *)s + i, n - i);
        if (!l || (l == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))) {
            out[o++] = '?';
            i++;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    out[o] = '\0';
    return out;
}

static void put_utf8(apr_array_header_t *a, unsigned long cp)
{
    char b[4];
    int n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    for (int i = 0; i < n; i++) {
        *(char *)apr_array_push(a) = b[i];
    }
}

/* Modified base64: ',' for '/', no '=', nothing in the unused bits. */
#define MUTF7_B64 (AS_B64_COMMA | AS_B64_PAD_NONE | AS_B64_CANONICAL)

char *as_mutf7_decode(apr_pool_t *p, const char *s)
{
    size_t len = strlen(s);
    apr_array_header_t *out;
    const unsigned char *c = (const unsigned char *)s;

    if (len > AS_MUTF7_MAX) { /* keeps the int size below in range */
        return NULL;
    }
    out = apr_array_make(p, (int)len + 8, 1);

    while (*c) {
        if (*c < 0x20 || *c > 0x7e) {
            return NULL;
        }
        if (*c != '&') {
            *(char *)apr_array_push(out) = (char)*c++;
            continue;
        }
        c++;
        if (*c == '-') {
            *(char *)apr_array_push(out) = '&';
            c++;
            continue;
        }
        {
            /* the run is the UTF-16BE of the characters: complete units,
             * surrogates in pairs, no printable ASCII */
            size_t run = strcspn((const char *)c, "-"), n, i;
            unsigned char *u16 = apr_palloc(p, AS_B64_DECODED_MAX(run));
            unsigned long hi = 0;

            if (c[run] != '-' || !as_b64_decode(c, run, u16, &n, MUTF7_B64) || n == 0 || n % 2) {
                return NULL;
            }
            for (i = 0; i < n; i += 2) {
                unsigned long u = (unsigned long)u16[i] << 8 | u16[i + 1];
                if (hi) {
                    if (u < 0xdc00 || u > 0xdfff) {
                        return NULL;
                    }
                    put_utf8(out, 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00));
                    hi = 0;
                } else if (u >= 0xd800 && u <= 0xdbff) {
                    hi = u;
                } else if (u >= 0xdc00 && u <= 0xdfff) {
                    return NULL;
                } else {
                    if (u >= 0x20 && u <= 0x7e) {
                        return NULL; /* printable ASCII must not be encoded */
                    }
                    put_utf8(out, u);
                }
            }
            if (hi) {
                return NULL;
            }
            c += run + 1;
        }
    }
    *(char *)apr_array_push(out) = '\0';
    return out->elts;
}

char *as_mutf7_encode(apr_pool_t *p, const char *s)
{
    apr_array_header_t *out, *u16;
    size_t n = strlen(s), i = 0, l;

    if (n > AS_MUTF7_MAX || !md_utf8_valid(s)) { /* the cap keeps the int sizes in range */
        return NULL;
    }
    out = apr_array_make(p, (int)n * 2 + 8, 1);
    u16 = apr_array_make(p, (int)n * 2 + 8, 1);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c <= 0x7e) {
            *(char *)apr_array_push(out) = (char)c;
            if (c == '&') {
                *(char *)apr_array_push(out) = '-';
            }
            i++;
            continue;
        }
        /* a run of characters to encode: its UTF-16BE in modified base64 */
        u16->nelts = 0;
        while (i < n && !((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e)) {
            const unsigned char *u = (const unsigned char *)s + i;
            unsigned long cp, units[2];
            int nu, k;

            l = as_utf8_seq(u, n - i);
            if (l == 1) {
                cp = u[0];
            } else if (l == 2) {
                cp = ((unsigned long)(u[0] & 0x1f) << 6) | (u[1] & 0x3f);
            } else if (l == 3) {
                cp = ((unsigned long)(u[0] & 0x0f) << 12) | ((unsigned long)(u[1] & 0x3f) << 6) |
                     (u[2] & 0x3f);
            } else {
                cp = ((unsigned long)(u[0] & 0x07) << 18) | ((unsigned long)(u[1] & 0x3f) << 12) |
                     ((unsigned long)(u[2] & 0x3f) << 6) | (u[3] & 0x3f);
            }
            i += l;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[0] = 0xd800 + (cp >> 10);
                units[1] = 0xdc00 + (cp & 0x3ff);
                nu = 2;
            } else {
                units[0] = cp;
                nu = 1;
            }
            for (k = 0; k < nu; k++) {
                *(unsigned char *)apr_array_push(u16) = (unsigned char)(units[k] >> 8);
                *(unsigned char *)apr_array_push(u16) = (unsigned char)units[k];
            }
        }
        {
            char *b64 = apr_palloc(p, AS_B64_ENCODED_LEN((size_t)u16->nelts) + 1);
            size_t m = as_b64_encode(u16->elts, (size_t)u16->nelts, b64, MUTF7_B64);

            *(char *)apr_array_push(out) = '&';
            for (l = 0; l < m; l++) {
                *(char *)apr_array_push(out) = b64[l];
            }
            *(char *)apr_array_push(out) = '-';
        }
    }
    *(char *)apr_array_push(out) = '\0';
    return out->elts;
}
