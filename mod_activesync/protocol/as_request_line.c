/* The EAS request line (MS-ASHTTP 2.2.1.1.1): plain and base64 query forms.
 * The rules (what is accepted, what is refused and why) are documented in
 * include/activesync/as_request_line.h. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_base64.h"
#include "activesync/as_catalog.h"
#include "activesync/as_protocol.h"
#include "activesync/as_request_line.h"

/* ---- character classes and checks ----------------------------------------- */

static int is_alnum(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static int is_alpha(unsigned c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z');
}

static int is_device_id_char(unsigned c)
{
    return is_alnum(c) || c == '-' || c == '_';
}

static int is_device_type_char(unsigned c)
{
    return is_alnum(c) || c == '-' || c == '_' || c == '.';
}

static int all_in(const unsigned char *s, apr_size_t n, int (*ok)(unsigned))
{
    apr_size_t i;
    for (i = 0; i < n; i++) {
        if (!ok(s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Valid UTF-8 (shortest form, no surrogates, at most U+10FFFF) without
 * control characters: C0 (including NUL), DEL and C1. */
static int text_ok(const unsigned char *s, apr_size_t n)
{
    apr_size_t i = 0;
    while (i < n) {
        unsigned c = s[i];
        unsigned cp, need, k;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f) {
                return 0;
            }
            i++;
            continue;
        }
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
            cp = c & 0x1f;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            cp = c & 0x0f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            cp = c & 0x07;
        } else {
            return 0;
        }
        if (n - i <= need) {
            return 0;
        }
        for (k = 1; k <= need; k++) {
            unsigned cc = s[i + k];
            if ((cc & 0xc0) != 0x80) {
                return 0;
            }
            cp = (cp << 6) | (cc & 0x3f);
        }
        if ((need == 2 && cp < 0x800) || (need == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp <= 0x9f)) {
            return 0;
        }
        i += need + 1;
    }
    return 1;
}

/* A short excerpt of client bytes safe for a log line: at most 24
 * characters of [A-Za-z0-9._@-], anything else shown as '?'. */
#define EXCERPT_MAX 24
static const char *excerpt(apr_pool_t *p, const unsigned char *s, apr_size_t n)
{
    apr_size_t i, m = n > EXCERPT_MAX ? EXCERPT_MAX : n;
    char *out = apr_palloc(p, m + 4);
    for (i = 0; i < m; i++) {
        unsigned c = s[i];
        out[i] = (is_alnum(c) || c == '.' || c == '_' || c == '@' || c == '-') ? (char)c : '?';
    }
    if (m < n) {
        memcpy(out + m, "...", 3);
        m += 3;
    }
    out[m] = '\0';
    return out;
}

static int hexval(unsigned c)
{
    if (c >= '0' && c <= '9') {
        return (int)(c - '0');
    }
    if (c >= 'a' && c <= 'f') {
        return (int)(c - 'a' + 10);
    }
    if (c >= 'A' && c <= 'F') {
        return (int)(c - 'A' + 10);
    }
    return -1;
}

/* Percent-decode s[0..n) into pool memory (NUL-terminated; the result may
 * itself contain NUL bytes, hence *outlen).  plus_space: '+' is a space
 * (form encoding).  Returns 0, or -1 on a malformed escape. */
static int pct_decode(apr_pool_t *p, const char *s, apr_size_t n, int plus_space,
                      unsigned char **out, apr_size_t *outlen)
{
    unsigned char *d = apr_palloc(p, n + 1);
    apr_size_t i, j = 0;
    for (i = 0; i < n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (n - i < 3 || (hi = hexval((unsigned char)s[i + 1])) < 0 ||
                (lo = hexval((unsigned char)s[i + 2])) < 0) {
                return -1;
            }
            d[j++] = (unsigned char)(hi << 4 | lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            d[j++] = ' ';
        } else {
            d[j++] = (unsigned char)c;
        }
    }
    d[j] = '\0';
    *out = d;
    *outlen = j;
    return 0;
}

/* ---- shared field setters ---------------------------------------------------- */

enum {
    P_CMD,
    P_USER,
    P_DEVICE_ID,
    P_DEVICE_TYPE,
    P_ATTACHMENT_NAME,
    P_COLLECTION_ID,
    P_ITEM_ID,
    P_LONG_ID,
    P_OCCURRENCE,
    P_SAVE_IN_SENT,
    P_COUNT
};

static const struct {
    const char *name;
    apr_size_t max;
} params[P_COUNT] = {
    {"Cmd", AS_RL_MAX_CMD},
    {"User", AS_RL_MAX_USER},
    {"DeviceId", AS_RL_MAX_DEVICE_ID},
    {"DeviceType", AS_RL_MAX_DEVICE_TYPE},
    {"AttachmentName", AS_RL_MAX_FIELD},
    {"CollectionId", AS_RL_MAX_FIELD},
    {"ItemId", AS_RL_MAX_FIELD},
    {"LongId", AS_RL_MAX_FIELD},
    {"Occurrence", AS_RL_MAX_FIELD},
    {"SaveInSent", 1},
};

static void rl_reset(as_request_line_t *rl)
{
    memset(rl, 0, sizeof(*rl));
    rl->cmd_code = -1;
    rl->save_in_sent = -1;
    rl->accept_multipart = -1;
}

static const char *upper_dup(apr_pool_t *p, const char *s)
{
    char *u = apr_pstrdup(p, s), *c;
    for (c = u; *c; c++) {
        if (*c >= 'a' && *c <= 'z') {
            *c = (char)(*c - 'a' + 'A');
        }
    }
    return u;
}

/* Checks and stores one value of a parameter that the two forms share.
 * v[0..n) is the decoded value, n > 0 and n <= params[id].max. */
static apr_status_t set_param(apr_pool_t *p, as_request_line_t *rl, int id, const unsigned char *v,
                              apr_size_t n, const char **err)
{
    const char *s;

    if (!text_ok(v, n)) {
        *err = apr_psprintf(p, "%s: control character or invalid UTF-8", params[id].name);
        return APR_EINVAL;
    }
    s = apr_pstrmemdup(p, (const char *)v, n);
    switch (id) {
    case P_USER:
        rl->user = s;
        break;
    case P_DEVICE_TYPE:
        if (!all_in(v, n, is_device_type_char)) {
            *err = apr_psprintf(p, "invalid DeviceType \"%s\"", excerpt(p, v, n));
            return APR_EINVAL;
        }
        rl->device_type = s;
        break;
    case P_ATTACHMENT_NAME:
        rl->attachment_name = s;
        break;
    case P_COLLECTION_ID:
        rl->collection_id = s;
        break;
    case P_ITEM_ID:
        rl->item_id = s;
        break;
    case P_LONG_ID:
        rl->long_id = s;
        break;
    case P_OCCURRENCE:
        rl->occurrence = s;
        break;
    default: /* Cmd, DeviceId and SaveInSent are form-specific */
        *err = "internal error";
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* ---- plain form ---------------------------------------------------------------- */

static apr_status_t parse_plain(apr_pool_t *p, const char *q, apr_size_t len, int flags,
                                as_request_line_t *rl, const char **err)
{
    int seen[P_COUNT] = {0};
    const unsigned char *val[P_COUNT] = {0};
    apr_size_t vlen[P_COUNT] = {0};
    apr_size_t pos = 0;
    int id;

    while (pos < len) {
        const char *seg = q + pos;
        const char *amp = memchr(seg, '&', len - pos);
        apr_size_t seglen = amp ? (apr_size_t)(amp - seg) : len - pos;
        const char *eq;
        unsigned char *name, *value;
        apr_size_t nlen, vl;

        pos += seglen + 1;
        if (seglen == 0) {
            continue; /* "a=1&&b=2", trailing '&' */
        }
        eq = memchr(seg, '=', seglen);
        if (!eq) {
            *err = "malformed parameter (no '=')";
            return APR_EINVAL;
        }
        if (pct_decode(p, seg, (apr_size_t)(eq - seg), 1, &name, &nlen) ||
            pct_decode(p, eq + 1, seglen - (apr_size_t)(eq - seg) - 1, 1, &value, &vl)) {
            *err = "malformed percent-encoding";
            return APR_EINVAL;
        }
        if (nlen == 0) {
            *err = "parameter without a name";
            return APR_EINVAL;
        }
        if (nlen > AS_RL_MAX_CMD || !text_ok(name, nlen)) {
            *err = "malformed parameter name";
            return APR_EINVAL;
        }
        for (id = 0; id < P_COUNT; id++) {
            if (!strcasecmp((const char *)name, params[id].name)) {
                break;
            }
        }
        if (id == P_COUNT) {
            /* Unknown: ignored, but still well-formed text of bounded size. */
            if (vl > AS_RL_MAX_FIELD || !text_ok(value, vl)) {
                *err = "malformed value of an unknown parameter";
                return APR_EINVAL;
            }
            rl->unknown_params++;
            continue;
        }
        if (seen[id]) {
            *err = apr_psprintf(p, "duplicate parameter %s", params[id].name);
            return APR_EINVAL;
        }
        seen[id] = 1;
        if (vl > params[id].max) {
            *err = apr_psprintf(p, "%s too long (%lu bytes)", params[id].name, (unsigned long)vl);
            return APR_EINVAL;
        }
        val[id] = value;
        vlen[id] = vl;
    }

    for (id = 0; id < P_COUNT; id++) {
        const unsigned char *v = val[id];
        apr_size_t n = vlen[id];
        apr_status_t rv;

        if (n == 0) {
            if (!(flags & AS_RL_LENIENT) && id <= P_DEVICE_TYPE) {
                *err = apr_psprintf(p, "missing %s", params[id].name);
                return APR_EINVAL;
            }
            continue;
        }
        switch (id) {
        case P_CMD: {
            const as_command_t *c;
            if (!all_in(v, n, is_alpha)) {
                *err = apr_psprintf(p, "invalid Cmd \"%s\"", excerpt(p, v, n));
                return APR_EINVAL;
            }
            c = as_command_by_name((const char *)v);
            if (c) {
                rl->cmd = c->name;
                rl->cmd_code = c->code;
            } else {
                rl->cmd_unknown = apr_pstrmemdup(p, (const char *)v, n);
            }
            break;
        }
        case P_DEVICE_ID:
            if (!all_in(v, n, is_device_id_char)) {
                *err = apr_psprintf(p, "invalid DeviceId \"%s\"", excerpt(p, v, n));
                return APR_EINVAL;
            }
            rl->device_id = apr_pstrmemdup(p, (const char *)v, n);
            rl->device_key = upper_dup(p, rl->device_id);
            break;
        case P_SAVE_IN_SENT:
            if (v[0] == 'T' || v[0] == 't') {
                rl->save_in_sent = 1;
            } else if (v[0] == 'F' || v[0] == 'f') {
                rl->save_in_sent = 0;
            } else {
                *err = "SaveInSent is not T or F";
                return APR_EINVAL;
            }
            break;
        default:
            if ((rv = set_param(p, rl, id, v, n, err)) != APR_SUCCESS) {
                return rv;
            }
        }
    }
    return APR_SUCCESS;
}

/* ---- base64 form ---------------------------------------------------------------- */

/* Base64 parameter tags (MS-ASHTTP 2.2.1.1.1.1.3) to the shared ids. */
#define TAG_OPTIONS 7
static int tag_param(unsigned tag)
{
    switch (tag) {
    case 0:
        return P_ATTACHMENT_NAME;
    case 1:
        return P_COLLECTION_ID;
    case 3:
        return P_ITEM_ID;
    case 4:
        return P_LONG_ID;
    case 6:
        return P_OCCURRENCE;
    case 8:
        return P_USER;
    default:
        return -1;
    }
}

/* The decoded bytes of a base64 query and the read position in them. */
typedef struct b64_cursor_t {
    const unsigned char *b;
    apr_size_t n, pos;
} b64_cursor_t;

/* Percent-decoding, then base64: canonical trailing bits, no white space,
 * and the '=' padding either complete or left out altogether (some clients
 * omit it, and other servers accept that). */
static apr_status_t b64_decode_query(apr_pool_t *p, const char *q, apr_size_t len,
                                     b64_cursor_t *cur, const char **err)
{
    unsigned char *text, *b;
    apr_size_t tlen, n;

    if (pct_decode(p, q, len, 0, &text, &tlen)) {
        *err = "base64 query: malformed percent-encoding";
        return APR_EINVAL;
    }
    b = apr_palloc(p, AS_B64_DECODED_MAX(tlen));
    if (!as_b64_decode(text, tlen, b, &n, AS_B64_CANONICAL | AS_B64_PAD_OPTIONAL)) {
        *err = "invalid base64 query";
        return APR_EINVAL;
    }
    /* version, command, locale(2), id length, id >= 1, key length, type length, type >= 1 */
    if (n < 9) {
        *err = "base64 query: too short";
        return APR_EINVAL;
    }
    cur->b = b;
    cur->n = n;
    cur->pos = 0;
    return APR_SUCCESS;
}

/* Version byte, command code and locale: the first four bytes. */
static apr_status_t b64_fixed_head(apr_pool_t *p, b64_cursor_t *cur, as_request_line_t *rl,
                                   const char **err)
{
    const unsigned char *b = cur->b;
    const as_command_t *c;

    rl->protocol_version = as_protocol_version_from_byte(b[0]);
    if (!rl->protocol_version || b[0] < 121) {
        *err = apr_psprintf(p, "base64 query: unknown protocol version byte %u", b[0]);
        rl->protocol_version = NULL;
        return APR_EINVAL;
    }
    c = as_command_by_code(b[1]);
    rl->cmd_code = b[1];
    if (c) {
        rl->cmd = c->name;
    } else {
        rl->cmd_unknown = apr_psprintf(p, "code %u", b[1]);
    }
    rl->locale = (apr_uint16_t)(b[2] | b[3] << 8);
    cur->pos = 4;
    return APR_SUCCESS;
}

/* The DeviceId: text when every byte is in the text set, else binary
 * (a WP8 GUID) rendered as upper-case hex. */
static apr_status_t b64_device_id(apr_pool_t *p, b64_cursor_t *cur, as_request_line_t *rl,
                                  const char **err)
{
    static const char hex[] = "0123456789ABCDEF";
    const unsigned char *id;
    apr_size_t idlen = cur->b[cur->pos++], i;
    char *h;

    if (idlen == 0) {
        *err = "base64 query: empty DeviceId";
        return APR_EINVAL;
    }
    if (idlen > cur->n - cur->pos) {
        *err = "base64 query: truncated DeviceId";
        return APR_EINVAL;
    }
    id = cur->b + cur->pos;
    cur->pos += idlen;
    if (all_in(id, idlen, is_device_id_char)) {
        if (idlen > AS_RL_MAX_DEVICE_ID) {
            *err = "base64 query: DeviceId too long";
            return APR_EINVAL;
        }
        rl->device_id = apr_pstrmemdup(p, (const char *)id, idlen);
    } else {
        if (idlen * 2 > AS_RL_MAX_DEVICE_ID) {
            *err = "base64 query: binary DeviceId too long";
            return APR_EINVAL;
        }
        h = apr_palloc(p, idlen * 2 + 1);
        for (i = 0; i < idlen; i++) {
            h[2 * i] = hex[id[i] >> 4];
            h[2 * i + 1] = hex[id[i] & 0x0f];
        }
        h[idlen * 2] = '\0';
        rl->device_id = h;
    }
    rl->device_key = upper_dup(p, rl->device_id);
    return APR_SUCCESS;
}

/* The policy key: length 0 (none) or 4 (uint32 LE). */
static apr_status_t b64_policy_key(apr_pool_t *p, b64_cursor_t *cur, as_request_line_t *rl,
                                   const char **err)
{
    const unsigned char *b = cur->b;
    apr_size_t pos = cur->pos;

    if (pos >= cur->n) {
        *err = "base64 query: truncated before the policy key";
        return APR_EINVAL;
    }
    if (b[pos] == 0) {
        cur->pos = pos + 1;
        return APR_SUCCESS;
    }
    if (b[pos] != 4) {
        *err = apr_psprintf(p, "base64 query: policy key length %u (not 0 or 4)", b[pos]);
        return APR_EINVAL;
    }
    if (cur->n - pos - 1 < 4) {
        *err = "base64 query: truncated policy key";
        return APR_EINVAL;
    }
    rl->has_policy_key = 1;
    rl->policy_key = (apr_uint32_t)b[pos + 1] | (apr_uint32_t)b[pos + 2] << 8 |
                     (apr_uint32_t)b[pos + 3] << 16 | (apr_uint32_t)b[pos + 4] << 24;
    cur->pos = pos + 5;
    return APR_SUCCESS;
}

static apr_status_t b64_device_type(apr_pool_t *p, b64_cursor_t *cur, as_request_line_t *rl,
                                    const char **err)
{
    apr_size_t len;

    if (cur->pos >= cur->n) {
        *err = "base64 query: truncated before the DeviceType";
        return APR_EINVAL;
    }
    len = cur->b[cur->pos++];
    if (len == 0) {
        *err = "base64 query: empty DeviceType";
        return APR_EINVAL;
    }
    if (len > cur->n - cur->pos) {
        *err = "base64 query: truncated DeviceType";
        return APR_EINVAL;
    }
    if (len > AS_RL_MAX_DEVICE_TYPE) {
        *err = "base64 query: DeviceType too long";
        return APR_EINVAL;
    }
    if (set_param(p, rl, P_DEVICE_TYPE, cur->b + cur->pos, len, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    cur->pos += len;
    return APR_SUCCESS;
}

/* The {tag, length, value} parameters up to the end of the data. */
static apr_status_t b64_parameters(apr_pool_t *p, b64_cursor_t *cur, as_request_line_t *rl,
                                   const char **err)
{
    const unsigned char *b = cur->b;
    int seen_tag[256] = {0};

    while (cur->pos < cur->n) {
        unsigned tag, vlen;
        int id;

        if (cur->n - cur->pos < 2) {
            *err = "base64 query: truncated parameter";
            return APR_EINVAL;
        }
        tag = b[cur->pos];
        vlen = b[cur->pos + 1];
        cur->pos += 2;
        id = tag_param(tag);
        if (id < 0 && tag != TAG_OPTIONS) {
            *err = apr_psprintf(p, "base64 query: unknown parameter tag %u", tag);
            return APR_EINVAL;
        }
        if (vlen > cur->n - cur->pos) {
            *err = apr_psprintf(p, "base64 query: parameter %u overruns the query", tag);
            return APR_EINVAL;
        }
        if (seen_tag[tag]) {
            *err = apr_psprintf(p, "base64 query: duplicate parameter tag %u", tag);
            return APR_EINVAL;
        }
        seen_tag[tag] = 1;
        if (tag == TAG_OPTIONS) {
            if (vlen != 1) {
                *err = apr_psprintf(p, "base64 query: Options length %u (not 1)", vlen);
                return APR_EINVAL;
            }
            rl->save_in_sent = (b[cur->pos] & 0x01) ? 1 : 0;
            rl->accept_multipart = (b[cur->pos] & 0x02) ? 1 : 0;
        } else if (vlen > 0) {
            if (vlen > params[id].max) {
                *err = apr_psprintf(p, "base64 query: %s too long", params[id].name);
                return APR_EINVAL;
            }
            if (set_param(p, rl, id, b + cur->pos, vlen, err) != APR_SUCCESS) {
                return APR_EINVAL;
            }
        }
        cur->pos += vlen;
    }
    return APR_SUCCESS;
}

/* The binary request line, field by field in wire order. */
static apr_status_t parse_base64(apr_pool_t *p, const char *q, apr_size_t len,
                                 as_request_line_t *rl, const char **err)
{
    b64_cursor_t cur;

    rl->base64 = 1;
    if (b64_decode_query(p, q, len, &cur, err) != APR_SUCCESS ||
        b64_fixed_head(p, &cur, rl, err) != APR_SUCCESS ||
        b64_device_id(p, &cur, rl, err) != APR_SUCCESS ||
        b64_policy_key(p, &cur, rl, err) != APR_SUCCESS ||
        b64_device_type(p, &cur, rl, err) != APR_SUCCESS ||
        b64_parameters(p, &cur, rl, err) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}

/* ---- entry points ------------------------------------------------------------------- */

apr_status_t as_request_line_parse_ex(apr_pool_t *p, const char *query, int flags,
                                      as_request_line_t *rl, const char **err)
{
    apr_size_t len, e;
    apr_status_t rv;

    rl_reset(rl);
    *err = NULL;
    if (!query || !*query) {
        if (flags & AS_RL_LENIENT) {
            return APR_SUCCESS;
        }
        *err = "empty query";
        return APR_EINVAL;
    }
    /* bounded scan: r->args is bounded by LimitRequestLine, but be sure */
    for (len = 0; query[len]; len++) {
        if (len >= AS_RL_MAX_QUERY) {
            *err = "query too long";
            return APR_EINVAL;
        }
    }
    for (e = len; e > 0 && query[e - 1] == '='; e--) {
        ;
    }
    if (memchr(query, '&', len) || memchr(query, '=', e)) {
        rv = parse_plain(p, query, len, flags, rl, err);
    } else {
        rv = parse_base64(p, query, len, rl, err);
    }
    if (rv != APR_SUCCESS) {
        rl_reset(rl);
        if (!*err) {
            *err = "invalid query";
        }
    }
    return rv;
}

apr_status_t as_request_line_parse(apr_pool_t *p, const char *query, as_request_line_t *rl,
                                   const char **err)
{
    return as_request_line_parse_ex(p, query, 0, rl, err);
}
