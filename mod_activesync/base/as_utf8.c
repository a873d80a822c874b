/* Strict UTF-8 sequences: see as_utf8.h. */
#include <string.h>

#include "activesync/as_utf8.h"

size_t as_utf8_seq(const unsigned char *s, size_t n)
{
    unsigned c = s[0];
    size_t len, i;
    unsigned long cp;

    if (c < 0x80) {
        return 1;
    } else if (c >= 0xc2 && c <= 0xdf) {
        len = 2;
        cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
        len = 3;
        cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
        len = 4;
        cp = c & 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (i = 1; i < len; i++) {
        if ((s[i] & 0xc0) != 0x80) {
            return 0;
        }
        cp = (cp << 6) | (s[i] & 0x3f);
    }
    if ((len == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
        (len == 4 && (cp < 0x10000 || cp > 0x10ffff))) {
        return 0;
    }
    return len;
}

size_t as_utf8_seq_xml(const unsigned char *s, size_t n)
{
    size_t len = as_utf8_seq(s, n);

    /* U+FFFE and U+FFFF are EF BF BE and EF BF BF. */
    if (len == 3 && s[0] == 0xef && s[1] == 0xbf && (s[2] == 0xbe || s[2] == 0xbf)) {
        return 0;
    }
    return len;
}

char *as_utf8_clean(apr_pool_t *p, const char *s, size_t n, int one_line, size_t *outlen)
{
    char *o = apr_palloc(p, n * 3 + 1);
    size_t i = 0, k = 0, l;

    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        l = as_utf8_seq_xml((const unsigned char *)s + i, n - i);
        if (!l) {
            memcpy(o + k, "\xef\xbf\xbd", 3);
            k += 3;
            i++;
            continue;
        }
        if (l == 1 && (c < 0x20 || c == 0x7f)) {
            if (one_line) {
                o[k++] = ' ';
            } else if (c == '\t' || c == '\n' || c == '\r') {
                o[k++] = (char)c;
            }
            i++;
            continue;
        }
        memcpy(o + k, s + i, l);
        k += l;
        i += l;
    }
    o[k] = '\0';
    if (outlen) {
        *outlen = k;
    }
    return o;
}
