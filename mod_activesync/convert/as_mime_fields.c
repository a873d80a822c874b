/* Email header fields: addresses, topic, importance, dates, meeting class,
 * categories and conversation (see as_mime.h). */
#include <apr_base64.h>
#include <apr_md5.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <gmime/gmime.h>

#include "activesync/as_command.h"
#include "activesync/as_mime.h"
#include "activesync/as_wbxml.h"
#include "as_mime_int.h"

/* ---------------------------------------------------------------------------
 * Headers
 */
/* '"Name" <addr>' with the name's quotes and backslashes escaped. */
static const char *name_addr(apr_pool_t *p, const char *name, const char *addr)
{
    size_t nl = strlen(name), al = strlen(addr);
    char *o = apr_palloc(p, 2 * nl + al + 6), *c = o;

    *c++ = '"';
    for (; *name; name++) {
        if (*name == '"' || *name == '\\') {
            *c++ = '\\';
        }
        *c++ = *name;
    }
    memcpy(c, "\" <", 3);
    c += 3;
    memcpy(c, addr, al);
    c += al;
    *c++ = '>';
    *c = '\0';
    return o;
}

/* The mailboxes of l, groups flattened, at most AS_MIME_MAX_ADDRESSES. */
static void collect_mailboxes(InternetAddressList *l, apr_array_header_t *out, int depth)
{
    int i, n = l ? internet_address_list_length(l) : 0;
    for (i = 0; i < n && depth < 4 && out->nelts < AS_MIME_MAX_ADDRESSES; i++) {
        InternetAddress *a = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_GROUP(a)) {
            collect_mailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), out,
                              depth + 1);
        } else if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            APR_ARRAY_PUSH(out, InternetAddress *) = a;
        }
    }
}

/* One address as shown (NULL when it has neither name nor address). */
static const char *addr_text(apr_pool_t *p, InternetAddress *a, int names)
{
    const char *name = internet_address_get_name(a);
    const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));

    name = name && *name ? mime_clean_header(p, name) : NULL;
    addr = addr && *addr ? mime_clean_header(p, addr) : NULL;
    if (names) {
        return name ? name : addr;
    }
    if (name && addr) {
        return name_addr(p, name, addr);
    }
    return addr ? addr : name;
}

/* Addresses joined by sep in one pass (sizes first, then one copy): a
 * list of many addresses costs linear time and memory.  At most
 * AS_MIME_MAX_ADDRESSES addresses and AS_MIME_MAX_ADDRESS_BYTES bytes
 * (whole addresses; only a first address longer than that is cut). */
const char *mime_addr_list(apr_pool_t *p, InternetAddressList *l, const char *sep, int names)
{
    apr_array_header_t *mb = apr_array_make(p, 16, sizeof(InternetAddress *));
    apr_array_header_t *parts = apr_array_make(p, 16, sizeof(const char *));
    apr_array_header_t *lens = apr_array_make(p, 16, sizeof(apr_size_t));
    size_t seplen = strlen(sep), total = 0;
    char *r, *c;
    int i;

    collect_mailboxes(l, mb, 0);
    for (i = 0; i < mb->nelts; i++) {
        const char *s = addr_text(p, APR_ARRAY_IDX(mb, i, InternetAddress *), names);
        size_t n = s ? strlen(s) : 0, add = n + (parts->nelts ? seplen : 0);

        if (n == 0) {
            continue;
        }
        if (total + add > AS_MIME_MAX_ADDRESS_BYTES) {
            if (parts->nelts > 0) {
                break;
            }
            n = add = as_mime_utf8_cut(s, n, AS_MIME_MAX_ADDRESS_BYTES);
        }
        APR_ARRAY_PUSH(parts, const char *) = s;
        APR_ARRAY_PUSH(lens, apr_size_t) = n;
        total += add;
    }
    if (parts->nelts == 0 || total == 0) {
        return NULL;
    }
    r = c = apr_palloc(p, total + 1);
    for (i = 0; i < parts->nelts; i++) {
        apr_size_t n = APR_ARRAY_IDX(lens, i, apr_size_t);
        if (i > 0) {
            memcpy(c, sep, seplen);
            c += seplen;
        }
        memcpy(c, APR_ARRAY_IDX(parts, i, const char *), n);
        c += n;
    }
    *c = '\0';
    return r;
}

const char *mime_thread_topic(apr_pool_t *p, GMimeMessage *msg, const char *subject)
{
    const char *tt = g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Topic");
    static const char *const prefixes[] = {
        "re:", "fwd:", "fw:", "aw:", "wg:", "sv:", "vs:", "antw:", "tr:", "rif:", "r:", NULL};
    const char *s;
    int changed = 1;

    if (tt && *tt) {
        char *d = g_mime_utils_header_decode_text(NULL, tt);
        const char *r = mime_clean_header(p, d ? d : tt);
        g_free(d);
        return r;
    }
    s = subject;
    while (changed) {
        const char *const *pf;
        changed = 0;
        while (*s == ' ') {
            s++;
        }
        for (pf = prefixes; *pf; pf++) {
            size_t n = strlen(*pf);
            if (!strncasecmp(s, *pf, n)) {
                s += n;
                changed = 1;
                break;
            }
            /* "Re[2]:" */
            if (n > 1 && !strncasecmp(s, *pf, n - 1) && s[n - 1] == '[') {
                const char *e = strchr(s, ']');
                if (e && e[1] == ':') {
                    s = e + 2;
                    changed = 1;
                    break;
                }
            }
        }
    }
    return apr_pstrdup(p, s);
}

/* The priority headers, the first present one decides: a value starting
 * with one of high / low is importance 2 / 0, anything else 1. */
static const struct {
    const char *header;
    const char *high[3], *low[3]; /* case-insensitive prefixes, NULL-ended */
} priority_headers[] = {
    {"Importance", {"high", NULL}, {"low", NULL}},
    {"X-Priority", {"1", "2", NULL}, {"4", "5", NULL}},
    {"X-MSMail-Priority", {"high", NULL}, {"low", NULL}},
    {"Priority", {"urgent", NULL}, {"non-urgent", NULL}},
};

static int has_prefix(const char *v, const char *const *prefixes)
{
    for (; *prefixes; prefixes++) {
        if (!strncasecmp(v, *prefixes, strlen(*prefixes))) {
            return 1;
        }
    }
    return 0;
}

int mime_importance_of(GMimeMessage *msg)
{
    size_t i;

    for (i = 0; i < sizeof priority_headers / sizeof priority_headers[0]; i++) {
        const char *v = g_mime_object_get_header(GMIME_OBJECT(msg), priority_headers[i].header);
        if (!v) {
            continue;
        }
        while (*v == ' ' || *v == '\t') {
            v++;
        }
        if (has_prefix(v, priority_headers[i].high)) {
            return 2;
        }
        return has_prefix(v, priority_headers[i].low) ? 0 : 1;
    }
    return 1;
}

const char *mime_date_str(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;
    apr_time_exp_gmt(&e, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", e.tm_year + 1900, e.tm_mon + 1,
                        e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec);
}

apr_time_t mime_header_date(GMimeMessage *msg)
{
    GDateTime *d = g_mime_message_get_date(msg);
    if (!d) {
        return 0;
    }
    return apr_time_from_sec(g_date_time_to_unix(d));
}

/* The calendar METHOD and, for replies, the attendee's PARTSTAT; text is
 * the part's text. */
const char *mime_meeting_class(apr_pool_t *p, GMimeObject *cal, char *text,
                               const char **content_class)
{
    const char *m = g_mime_object_get_content_type_parameter(cal, "method");
    const char *method = NULL;

    if (m) {
        method = m;
    } else {
        char *c = strstr(text, "\nMETHOD:");
        if (!c && !strncmp(text, "METHOD:", 7)) {
            c = text - 1;
        }
        if (c) {
            char *e;
            method = c + 8;
            e = strpbrk(method, "\r\n");
            method = e ? apr_pstrmemdup(p, method, (apr_size_t)(e - method)) : method;
        }
    }
    if (!method) {
        return NULL;
    }
    *content_class = "urn:content-classes:calendarmessage";
    if (!strcasecmp(method, "REQUEST")) {
        return "IPM.Schedule.Meeting.Request";
    }
    if (!strcasecmp(method, "CANCEL")) {
        return "IPM.Schedule.Meeting.Canceled";
    }
    if (!strcasecmp(method, "REPLY")) {
        if (strstr(text, "PARTSTAT=ACCEPTED")) {
            return "IPM.Schedule.Meeting.Resp.Pos";
        }
        if (strstr(text, "PARTSTAT=DECLINED")) {
            return "IPM.Schedule.Meeting.Resp.Neg";
        }
        return "IPM.Schedule.Meeting.Resp.Tent";
    }
    *content_class = NULL;
    return NULL;
}

/* ---------------------------------------------------------------------------
 * Categories (Keywords) and conversations (14.0+)
 */

/* One comma-separated Keywords item: unquoted, unfolded, encoded words
 * decoded, trimmed; NULL when empty. */
static const char *keyword(apr_pool_t *p, GMimeParserOptions *popts, const char *s, size_t n)
{
    char *u = apr_palloc(p, n + 1), *d;
    const char *c;
    size_t i, k = 0;
    int q = 0;

    for (i = 0; i < n; i++) {
        if (s[i] == '"') {
            q = !q;
            continue;
        }
        if (q && s[i] == '\\' && i + 1 < n) {
            i++;
        }
        u[k++] = s[i] == '\r' || s[i] == '\n' || s[i] == '\t' ? ' ' : s[i];
    }
    u[k] = '\0';
    d = g_mime_utils_header_decode_text(popts, u);
    c = mime_clean_header(p, d ? d : u);
    g_free(d);
    while (*c == ' ') {
        c++;
    }
    k = strlen(c);
    while (k > 0 && c[k - 1] == ' ') {
        k--;
    }
    k = as_mime_utf8_cut(c, k, MAX_CATEGORY);
    return k ? apr_pstrmemdup(p, c, k) : NULL;
}

void mime_add_categories(apr_pool_t *p, GMimeMessage *msg, GMimeParserOptions *popts,
                         xmlNodePtr app)
{
    GMimeHeaderList *hl = g_mime_object_get_header_list(GMIME_OBJECT(msg));
    int i, j, n = hl ? g_mime_header_list_get_count(hl) : 0;
    apr_array_header_t *cats = apr_array_make(p, 4, sizeof(const char *));

    for (i = 0; i < n && cats->nelts < MAX_CATEGORIES; i++) {
        GMimeHeader *h = g_mime_header_list_get_header_at(hl, i);
        const char *v = g_mime_header_get_raw_value(h), *start;
        int q = 0;

        if (strcasecmp(g_mime_header_get_name(h), "Keywords") || !v) {
            continue;
        }
        for (start = v;; v++) {
            if (*v == '"') {
                q = !q;
            } else if (q && *v == '\\' && v[1]) {
                v++;
            } else if ((*v == ',' && !q) || !*v) {
                const char *k = keyword(p, popts, start, (size_t)(v - start));
                for (j = 0; k && j < cats->nelts; j++) {
                    if (!strcmp(k, APR_ARRAY_IDX(cats, j, const char *))) {
                        k = NULL; /* once each */
                    }
                }
                if (k && cats->nelts < MAX_CATEGORIES) {
                    APR_ARRAY_PUSH(cats, const char *) = k;
                }
                if (!*v || cats->nelts >= MAX_CATEGORIES) {
                    break;
                }
                start = v + 1;
            }
        }
    }
    if (cats->nelts > 0) {
        xmlNodePtr c = as_xml_add(app, NS_EMAIL, "Categories", NULL);
        for (i = 0; i < cats->nelts; i++) {
            as_xml_add(c, NS_EMAIL, "Category", APR_ARRAY_IDX(cats, i, const char *));
        }
    }
}

/* The first Message-ID of a References or In-Reply-To header. */
static const char *first_msgid(apr_pool_t *p, GMimeMessage *msg, const char *name)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(msg), name), *r = NULL;
    GMimeReferences *refs;

    if (!v || !(refs = g_mime_references_parse(NULL, v))) {
        return NULL;
    }
    if (g_mime_references_length(refs) > 0) {
        const char *id = g_mime_references_get_message_id(refs, 0);
        r = id && *id ? apr_pstrdup(p, id) : NULL;
    }
    g_mime_references_free(refs);
    return r;
}

/* The Thread-Index header decoded (Outlook's PidTagConversationIndex: a
 * 22-byte header block, then 5-byte response levels); 0 when absent or
 * not of that shape. */
static apr_size_t thread_index(apr_pool_t *p, GMimeMessage *msg, unsigned char **out)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Index");
    char *b;
    size_t i, k = 0;
    int n;

    if (!v || strlen(v) > 4096) {
        return 0;
    }
    b = apr_palloc(p, strlen(v) + 1);
    for (i = 0; v[i]; i++) {
        char c = v[i];
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            continue;
        }
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              c == '+' || c == '/' || c == '=')) {
            return 0;
        }
        b[k++] = c;
    }
    b[k] = '\0';
    *out = apr_palloc(p, (apr_size_t)apr_base64_decode_len(b) + 1);
    n = apr_base64_decode_binary(*out, b);
    if (n < 22 || (n - 22) % 5 != 0) {
        return 0;
    }
    return (apr_size_t)n;
}

void mime_add_conversation(apr_pool_t *p, GMimeMessage *msg, const char *subject, apr_time_t when,
                           xmlNodePtr app)
{
    unsigned char id[APR_MD5_DIGESTSIZE], *ti = NULL, *idx;
    apr_size_t tlen = thread_index(p, msg, &ti), ilen;
    const char *root = first_msgid(p, msg, "References");
    apr_time_t date = mime_header_date(msg);
    apr_uint64_t ft;
    int i;

    if (!root) {
        root = first_msgid(p, msg, "In-Reply-To");
    }
    if (!root) {
        const char *own = g_mime_message_get_message_id(msg);
        root = own && *own ? apr_pstrdup(p, own) : NULL;
    }
    if (root) {
        apr_md5(id, root, strlen(root));
    } else if (tlen) {
        memcpy(id, ti + 6, sizeof id); /* the thread's GUID */
    } else {
        /* nothing ties it to a thread: a conversation of its own */
        const char *from = g_mime_object_get_header(GMIME_OBJECT(msg), "From");
        const char *key = apr_psprintf(p, "%s\n%s\n%" APR_TIME_T_FMT, subject, from ? from : "",
                                       date ? date : when);
        apr_md5(id, key, strlen(key));
    }
    as_wbxml_set_opaque(as_xml_add(app, NS_EMAIL2, "ConversationId", NULL), id, sizeof id);

    if (tlen) {
        ilen = 5 + (tlen - 22);
        idx = apr_palloc(p, ilen);
        memcpy(idx, ti + 1, 5);
        memcpy(idx + 5, ti + 22, tlen - 22);
    } else {
        /* FILETIME: 100 ns units since 1601; its 40 high bits, big-endian */
        ilen = 5;
        idx = apr_palloc(p, ilen);
        ft = ((apr_uint64_t)(date ? date : when) + APR_UINT64_C(11644473600000000)) * 10;
        for (i = 0; i < 5; i++) {
            idx[i] = (unsigned char)(ft >> (56 - 8 * i));
        }
    }
    as_wbxml_set_opaque(as_xml_add(app, NS_EMAIL2, "ConversationIndex", NULL), idx, ilen);
}
