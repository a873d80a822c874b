/* Base64 (RFC 4648 section 4) shared by the core: one encoder, one strict
 * decoder and the character classes.  The users differ only in what they
 * tolerate, so that is said by flags at each call:
 *   - WBXML OPAQUE text (as_wbxml_encode.c, as_wbxml_opaque.c): AS_B64_BLANKS.
 *   - ValidateCert certificates: AS_B64_BLANKS | AS_B64_PAD_OPTIONAL.
 *   - the MS-ASHTTP base64 request line, the licence signature:
 *     AS_B64_CANONICAL.
 *   - IMAP modified UTF-7 (RFC 3501 5.1.3):
 *     AS_B64_COMMA | AS_B64_PAD_NONE | AS_B64_CANONICAL.
 * Without flags the decoder wants the standard alphabet, complete '='
 * padding and nothing else: no blanks, no line breaks. */
#ifndef AS_BASE64_H
#define AS_BASE64_H

#include <stddef.h>

/* Decoder and encoder flags. */
#define AS_B64_BLANKS       0x01 /* decode: skip space, tab, CR and LF anywhere */
#define AS_B64_PAD_OPTIONAL 0x02 /* decode: the last group may also come without its '=' */
#define AS_B64_PAD_NONE     0x04 /* no '=' at all (decode: refused; encode: not written) */
#define AS_B64_CANONICAL    0x08 /* decode: the unused low bits of the last group must be 0 */
#define AS_B64_COMMA        0x10 /* ',' is the 63rd character instead of '/' */

/* Classes returned by as_b64_class besides the values 0-63. */
#define AS_B64_CLASS_PAD     64  /* '=' */
#define AS_B64_CLASS_BLANK   65  /* space, tab, CR, LF */
#define AS_B64_CLASS_INVALID 255 /* anything else */

/* Characters as_b64_encode writes for n bytes, without the NUL. */
#define AS_B64_ENCODED_LEN(n) (((n) + 2) / 3 * 4)

/* Bytes as_b64_decode may write for n characters (a bound, any flags). */
#define AS_B64_DECODED_MAX(n) ((n) / 4 * 3 + 2)

/* The class of byte c in the alphabet of flags (AS_B64_COMMA or not): its
 * value 0-63, or AS_B64_CLASS_PAD, _BLANK or _INVALID. */
unsigned as_b64_class(unsigned char c, unsigned flags);

/* Writes the encoding of in[0..n) and a NUL into out: AS_B64_ENCODED_LEN(n)
 * characters, or without the '=' with AS_B64_PAD_NONE.  Returns how many
 * characters it wrote (the NUL not counted). */
size_t as_b64_encode(const void *in, size_t n, char *out, unsigned flags);

/* Decodes in[0..n) into out (room for AS_B64_DECODED_MAX(n) bytes) and sets
 * *outlen.  '=' may only stand in the last two places of a group and ends
 * the data (blanks may follow with AS_B64_BLANKS); a lone character in the
 * last group is always refused.  Empty input decodes to 0 bytes.  Returns 1,
 * or 0 when the flags refuse the input (out and *outlen then undefined). */
int as_b64_decode(const void *in, size_t n, unsigned char *out, size_t *outlen, unsigned flags);

#endif
