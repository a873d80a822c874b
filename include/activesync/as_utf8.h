/* Strict UTF-8 (RFC 3629) shared by the core: no overlong forms, no
 * surrogates, nothing above U+10FFFF.  (The WBXML decoder keeps its own
 * validator with an ASCII fast path, and the request-line parser one that
 * also refuses C1 controls.) */
#ifndef AS_UTF8_H
#define AS_UTF8_H

#include <stddef.h>

#include <apr_pools.h>

/* Length (1-4) of the valid UTF-8 sequence at s, n bytes available; 0 when
 * it is invalid or cut short. */
size_t as_utf8_seq(const unsigned char *s, size_t n);

/* As as_utf8_seq, and also 0 for U+FFFE and U+FFFF, which XML does not
 * allow in documents. */
size_t as_utf8_seq_xml(const unsigned char *s, size_t n);

/* A copy of s[0..n) fit for XML text, in pool memory: each invalid byte
 * becomes U+FFFD; C0 controls other than TAB, LF and CR, and DEL, are
 * dropped, or with one_line every control (TAB, LF and CR too) becomes a
 * space.  *outlen (when not NULL) gets the length. */
char *as_utf8_clean(apr_pool_t *p, const char *s, size_t n, int one_line, size_t *outlen);

#endif
