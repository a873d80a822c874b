/* MIME to EAS Email with GMime 3: see as_mime.h. */
#include <errno.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_base64.h>
#include <apr_md5.h>
#include <apr_strings.h>
#include <apr_portable.h>
#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>

#include "activesync/as_command.h"
#include "activesync/as_log.h"
#include "activesync/as_meeting.h"
#include "activesync/as_mime.h"
#include "activesync/as_utf8.h"
#include "activesync/as_wbxml.h"

#define NS_EMAIL  "Email:"
#define NS_BASE   "AirSyncBase:"
#define NS_EMAIL2 "Email2:"

#define MAX_DEPTH      32
#define MAX_PARTS      1000
#define MAX_PREVIEW    255
#define MAX_MIME_RAW   (64 * 1024 * 1024)
#define MAX_CATEGORIES 300 /* Email.xsd: Category maxOccurs */
#define MAX_CATEGORY   255 /* bytes */

/* ---------------------------------------------------------------------------
 * Init
 */
/* GMime's initialisation is process-wide (it has global tables): done once. */
static int mime_ready;

void as_mime_init(void)
{
    if (!__atomic_exchange_n(&mime_ready, 1, __ATOMIC_SEQ_CST)) {
        g_mime_init();
        as_meeting_init();
    }
}

void as_mime_shutdown(void)
{
    if (__atomic_exchange_n(&mime_ready, 0, __ATOMIC_SEQ_CST)) {
        g_mime_shutdown();
    }
}

/* ---------------------------------------------------------------------------
 * UTF-8
 */

static int u8_valid(const char *s, size_t n)
{
    size_t i = 0, l;
    while (i < n) {
        l = as_utf8_seq_xml((const unsigned char *)s + i, n - i);
        if (!l) {
            return 0;
        }
        i += l;
    }
    return 1;
}

/* Valid UTF-8 and only XML-legal controls (TAB, LF, CR)? */
static int xml_text_ok(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return 0;
        }
    }
    return u8_valid(s, n);
}

/* Header values: also fold line breaks and tabs into spaces. */
static const char *clean_header(apr_pool_t *p, const char *s)
{
    char *c, *o;
    if (!s) {
        return NULL;
    }
    o = as_utf8_clean(p, s, strlen(s), 0, NULL);
    for (c = o; *c; c++) {
        if (*c == '\r' || *c == '\n' || *c == '\t') {
            *c = ' ';
        }
    }
    return o;
}

apr_size_t as_mime_utf8_cut(const char *s, apr_size_t len, apr_size_t max)
{
    apr_size_t cut;
    if (len <= max) {
        return len;
    }
    cut = max;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80) {
        cut--;
    }
    return cut;
}

/* ---------------------------------------------------------------------------
 * Charsets
 */
static int charset_is(const char *cs, const char *const *names)
{
    for (; *names; names++) {
        if (!strcasecmp(cs, *names)) {
            return 1;
        }
    }
    return 0;
}

/* iconv from cs to UTF-8; unconvertible input bytes become U+FFFD.
 * NULL when iconv does not know cs. */
static char *iconv_utf8(apr_pool_t *p, const char *data, size_t len, const char *cs, size_t *olen)
{
    iconv_t cd = iconv_open("UTF-8", cs);
    size_t cap = len * 4 + 16, left;
    char *out, *op, *ip = (char *)data;
    size_t inleft = len;

    if (cd == (iconv_t)-1) {
        return NULL;
    }
    out = apr_palloc(p, cap);
    op = out;
    left = cap - 1;
    while (inleft > 0) {
        size_t r = iconv(cd, &ip, &inleft, &op, &left);
        if (r != (size_t)-1) {
            break;
        }
        if (errno == E2BIG) { /* cannot happen with 4x room; stop safely */
            break;
        }
        /* EILSEQ or EINVAL: one bad byte */
        if (left < 3) {
            break;
        }
        memcpy(op, "\xef\xbf\xbd", 3);
        op += 3;
        left -= 3;
        ip++;
        inleft--;
        iconv(cd, NULL, NULL, NULL, NULL);
    }
    iconv(cd, NULL, NULL, &op, &left);
    iconv_close(cd);
    *op = '\0';
    *olen = (size_t)(op - out);
    return out;
}

char *as_mime_to_utf8(apr_pool_t *p, const char *data, apr_size_t len, const char *charset,
                      apr_size_t *outlen)
{
    static const char *const utf8[] = {"utf-8", "utf8", "unicode-1-1-utf-8", NULL};
    static const char *const latin1[] = {"iso-8859-1", "iso8859-1",      "latin1",     "l1",
                                         "us-ascii",   "ascii",          "iso_8859-1", "cp819",
                                         "ibm819",     "ansi_x3.4-1968", "iso-ir-100", NULL};
    const char *cs = charset && *charset ? charset : NULL;
    char *conv = NULL;
    size_t clen = 0;

    if (!cs || charset_is(cs, utf8)) {
        if (u8_valid(data, len)) {
            return as_utf8_clean(p, data, len, 0, outlen);
        }
        cs = "WINDOWS-1252"; /* mislabelled or unlabelled 8-bit text */
    } else if (charset_is(cs, latin1)) {
        cs = "WINDOWS-1252";
    } else {
        const char *in = g_mime_charset_iconv_name(cs);
        cs = in ? in : cs;
    }
    conv = iconv_utf8(p, data, len, cs, &clen);
    if (!conv) {
        /* unknown charset */
        if (u8_valid(data, len)) {
            return as_utf8_clean(p, data, len, 0, outlen);
        }
        conv = iconv_utf8(p, data, len, "WINDOWS-1252", &clen);
        if (!conv) {
            return as_utf8_clean(p, data, len, 0, outlen);
        }
    }
    return as_utf8_clean(p, conv, clen, 0, outlen);
}

/* ---------------------------------------------------------------------------
 * Reading the message
 */
typedef struct msg_t {
    apr_pool_t *p;
    GMimeParserOptions *popts;
    GMimeMessage *msg;
    int fd;     /* the caller's descriptor (not owned) */
    int broken; /* the file could not be parsed as a message */
} msg_t;

static void msg_free(msg_t *m)
{
    if (m->msg) {
        g_object_unref(m->msg);
    }
    if (m->popts) {
        g_mime_parser_options_free(m->popts);
    }
    m->msg = NULL;
    m->popts = NULL;
}

static apr_status_t msg_parse(apr_pool_t *p, apr_file_t *file, msg_t *m, const char **err)
{
    static const char *fallback[] = {"UTF-8", "windows-1252", NULL};
    apr_os_file_t fd;
    GMimeStream *stream;
    GMimeParser *parser;
    int dfd;

    memset(m, 0, sizeof *m);
    m->p = p;
    if (!mime_ready) {
        as_mime_init();
    }
    if (apr_os_file_get(&fd, file) != APR_SUCCESS) {
        *err = "cannot get the message file";
        return APR_EBADF;
    }
    m->fd = fd;
    dfd = dup(fd);
    if (dfd < 0) {
        *err = "cannot duplicate the message file descriptor";
        return APR_FROM_OS_ERROR(errno);
    }
    if (lseek(dfd, 0, SEEK_SET) != 0) {
        close(dfd);
        *err = "cannot seek in the message file";
        return APR_FROM_OS_ERROR(errno);
    }
    stream = g_mime_stream_fs_new(dfd); /* owns dfd */
    parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    g_mime_parser_set_persist_stream(parser, TRUE);
    m->popts = g_mime_parser_options_new();
    g_mime_parser_options_set_fallback_charsets(m->popts, fallback);
    g_mime_parser_options_set_rfc2047_compliance_mode(m->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(m->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(m->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    m->msg = g_mime_parser_construct_message(parser, m->popts);
    g_object_unref(parser);
    if (!m->msg) {
        /* empty or not a message at all: an empty message, so the item
         * still shows (and can be deleted) instead of breaking a sync */
        m->msg = g_mime_message_new(TRUE);
        m->broken = 1;
    }
    return APR_SUCCESS;
}

/* Decoded content of a leaf part (or the serialised message of a message
 * part) into a GByteArray-backed memory stream; NULL on failure. */
static GMimeStream *decoded_stream(GMimeObject *o)
{
    GMimeStream *mem = g_mime_stream_mem_new();

    if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        if (inner) {
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
        }
    } else if (GMIME_IS_PART(o)) {
        GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
        if (w) {
            g_mime_data_wrapper_write_to_stream(w, mem);
        }
    }
    g_mime_stream_reset(mem);
    return mem;
}

static apr_off_t decoded_size(GMimeObject *o)
{
    GMimeStream *ns = g_mime_stream_null_new();
    apr_off_t n = 0;

    if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        if (inner) {
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, ns);
        }
    } else if (GMIME_IS_PART(o)) {
        GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
        if (w) {
            g_mime_data_wrapper_write_to_stream(w, ns);
        }
    }
    n = (apr_off_t)GMIME_STREAM_NULL(ns)->written;
    g_object_unref(ns);
    return n;
}

/* Text of a text part as clean UTF-8 in pool memory. */
static char *part_text(apr_pool_t *p, GMimeObject *o, apr_size_t *len)
{
    GMimeStream *mem = decoded_stream(o);
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    const char *cs = g_mime_object_get_content_type_parameter(o, "charset");
    char *t =
        as_mime_to_utf8(p, ba && ba->len ? (const char *)ba->data : "", ba ? ba->len : 0, cs, len);
    g_object_unref(mem);
    return t;
}

/* ---------------------------------------------------------------------------
 * Structure: body parts and attachments
 */
typedef struct body_t {
    GMimeObject *plain, *html, *calendar;
    int smime_signed, smime_enc, report;
    int nparts;
} body_t;

static int ct_is(GMimeObject *o, const char *type, const char *sub)
{
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    return ct && g_mime_content_type_is_type(ct, type, sub);
}

static int is_attachment_disp(GMimeObject *o)
{
    const char *d = g_mime_object_get_disposition(o);
    return d && !strcasecmp(d, "attachment");
}

static int has_filename(GMimeObject *o)
{
    return GMIME_IS_PART(o) && g_mime_part_get_filename(GMIME_PART(o)) != NULL;
}

static void find_body(GMimeObject *o, body_t *b, int depth, int first_in_mixed);

static void take_text(GMimeObject *o, body_t *b, int strict)
{
    if (is_attachment_disp(o) || (strict && has_filename(o))) {
        return;
    }
    if (ct_is(o, "text", "plain") && !b->plain) {
        b->plain = o;
    } else if (ct_is(o, "text", "html") && !b->html) {
        b->html = o;
    } else if (ct_is(o, "text", "calendar") && !b->calendar) {
        b->calendar = o;
    }
}

static void find_body(GMimeObject *o, body_t *b, int depth, int first_in_mixed)
{
    int i, n;

    if (!o || depth > MAX_DEPTH) {
        return;
    }
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        n = g_mime_multipart_get_count(mp);
        if (ct_is(o, "multipart", "alternative")) {
            for (i = 0; i < n; i++) {
                GMimeObject *c = g_mime_multipart_get_part(mp, i);
                if (GMIME_IS_MULTIPART(c)) {
                    body_t sub;
                    memset(&sub, 0, sizeof sub);
                    find_body(c, &sub, depth + 1, 1);
                    if (sub.html && !b->html) {
                        b->html = sub.html;
                    }
                    if (sub.plain && !b->plain) {
                        b->plain = sub.plain;
                    }
                    if (sub.calendar && !b->calendar) {
                        b->calendar = sub.calendar;
                    }
                } else {
                    take_text(c, b, 0);
                }
            }
        } else if (ct_is(o, "multipart", "related")) {
            const char *start = g_mime_object_get_content_type_parameter(o, "start");
            GMimeObject *root = NULL;
            if (start) {
                for (i = 0; i < n && !root; i++) {
                    GMimeObject *c = g_mime_multipart_get_part(mp, i);
                    const char *cid = g_mime_object_get_content_id(c);
                    if (cid && strstr(start, cid)) {
                        root = c;
                    }
                }
            }
            find_body(root ? root : (n > 0 ? g_mime_multipart_get_part(mp, 0) : NULL), b, depth + 1,
                      1);
        } else if (ct_is(o, "multipart", "signed")) {
            b->smime_signed = 1;
            find_body(n > 0 ? g_mime_multipart_get_part(mp, 0) : NULL, b, depth + 1, 1);
        } else {
            if (ct_is(o, "multipart", "report")) {
                b->report = 1;
            }
            /* mixed and the rest: the first part that holds a body */
            for (i = 0; i < n; i++) {
                GMimeObject *c = g_mime_multipart_get_part(mp, i);
                find_body(c, b, depth + 1, i == 0);
                if (b->plain || b->html) {
                    break;
                }
            }
        }
    } else if (GMIME_IS_APPLICATION_PKCS7_MIME(o) || ct_is(o, "application", "x-pkcs7-mime")) {
        b->smime_enc = 1;
    } else if (GMIME_IS_PART(o)) {
        take_text(o, b, !first_in_mixed);
    }
}

typedef struct att_t {
    GMimeObject *o;
    const char *path;
    int method;
} att_t;

static void list_atts(GMimeObject *o, const char *path, const body_t *b, apr_pool_t *p,
                      apr_array_header_t *out, int depth)
{
    int i, n;

    if (!o || depth > MAX_DEPTH || out->nelts >= MAX_PARTS) {
        return;
    }
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int alt = ct_is(o, "multipart", "alternative");
        int sig = ct_is(o, "multipart", "signed");
        n = g_mime_multipart_get_count(mp);
        for (i = 0; i < n; i++) {
            GMimeObject *c = g_mime_multipart_get_part(mp, i);
            const char *cp =
                *path ? apr_psprintf(p, "%s.%d", path, i + 1) : apr_psprintf(p, "%d", i + 1);
            if (sig && i > 0) {
                continue; /* the signature */
            }
            if (alt && !GMIME_IS_MULTIPART(c) && ct_is(c, "text", "*") && !is_attachment_disp(c)) {
                continue; /* another rendering of the body */
            }
            list_atts(c, cp, b, p, out, depth + 1);
        }
        return;
    }
    if (o == b->plain || o == b->html || o == b->calendar) {
        return;
    }
    if (GMIME_IS_MESSAGE_PART(o) || GMIME_IS_PART(o)) {
        att_t *a = apr_array_push(out);
        a->o = o;
        a->path = *path ? path : "1";
        a->method = GMIME_IS_MESSAGE_PART(o) ? 5 : 1;
    }
}

static GMimeObject *part_by_path(GMimeMessage *msg, const char *path)
{
    GMimeObject *o = g_mime_message_get_mime_part(msg);
    const char *c = path;

    if (!o) {
        return NULL;
    }
    if (!GMIME_IS_MULTIPART(o)) {
        return !strcmp(path, "1") ? o : NULL;
    }
    while (*c) {
        char *end;
        long idx = strtol(c, &end, 10);
        if (end == c || idx < 1 || !GMIME_IS_MULTIPART(o) ||
            idx > g_mime_multipart_get_count(GMIME_MULTIPART(o))) {
            return NULL;
        }
        o = g_mime_multipart_get_part(GMIME_MULTIPART(o), (int)idx - 1);
        if (*end == '.') {
            end++;
        } else if (*end) {
            return NULL;
        }
        c = end;
    }
    return o;
}

static const char *ext_for(GMimeObject *o)
{
    static const struct {
        const char *type, *ext;
    } map[] = {
        {"image/png", ".png"},       {"image/jpeg", ".jpg"},     {"image/gif", ".gif"},
        {"application/pdf", ".pdf"}, {"text/plain", ".txt"},     {"text/html", ".html"},
        {"text/calendar", ".ics"},   {"message/rfc822", ".eml"}, {"application/zip", ".zip"}};
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    size_t i;

    for (i = 0; ct && i < sizeof map / sizeof map[0]; i++) {
        const char *slash = strchr(map[i].type, '/');
        char t[32];
        memcpy(t, map[i].type, (size_t)(slash - map[i].type));
        t[slash - map[i].type] = '\0';
        if (g_mime_content_type_is_type(ct, t, slash + 1)) {
            return map[i].ext;
        }
    }
    return ".dat";
}

static const char *att_name(apr_pool_t *p, GMimeObject *o, const char *path)
{
    const char *n = NULL;
    if (GMIME_IS_PART(o)) {
        n = g_mime_part_get_filename(GMIME_PART(o));
    }
    if (!n) {
        n = g_mime_object_get_content_type_parameter(o, "name");
    }
    if (n && *n) {
        const char *c = clean_header(p, n);
        /* no path components in a name a phone may save as a file */
        const char *s = strrchr(c, '/');
        c = s ? s + 1 : c;
        s = strrchr(c, '\\');
        c = s ? s + 1 : c;
        if (*c) {
            return c;
        }
    }
    if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        const char *subj = inner ? g_mime_message_get_subject(inner) : NULL;
        if (subj && *subj) {
            char *s = apr_pstrcat(p, clean_header(p, subj), ".eml", NULL), *c;
            for (c = s; *c; c++) {
                if (*c == '/' || *c == '\\') {
                    *c = '_';
                }
            }
            return s;
        }
    }
    return apr_pstrcat(p, "attachment-", path, ext_for(o), NULL);
}

/* ---------------------------------------------------------------------------
 * HTML to text
 */
typedef struct txt_t {
    apr_array_header_t *out;
    int pre;
    int space; /* a pending collapsed blank */
} txt_t;

static void tx_put(txt_t *t, const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        *(char *)apr_array_push(t->out) = s[i];
    }
}

static int tx_at_line_start(txt_t *t)
{
    return t->out->nelts == 0 || t->out->elts[t->out->nelts - 1] == '\n';
}

static void tx_newline(txt_t *t, int blank_line)
{
    /* drop trailing blanks */
    while (t->out->nelts > 0 && t->out->elts[t->out->nelts - 1] == ' ') {
        t->out->nelts--;
    }
    t->space = 0;
    if (t->out->nelts == 0) {
        return;
    }
    if (!tx_at_line_start(t)) {
        tx_put(t, "\n", 1);
    }
    if (blank_line && !(t->out->nelts >= 2 && t->out->elts[t->out->nelts - 2] == '\n')) {
        tx_put(t, "\n", 1);
    }
}

static void tx_text(txt_t *t, const char *s)
{
    const unsigned char *c = (const unsigned char *)s;
    if (t->pre) {
        tx_put(t, s, strlen(s));
        return;
    }
    while (*c) {
        int blank = *c == ' ' || *c == '\t' || *c == '\n' || *c == '\r' || *c == '\f';
        if (c[0] == 0xc2 && c[1] == 0xa0) { /* NBSP */
            if (t->space) {
                tx_put(t, " ", 1);
                t->space = 0;
            }
            tx_put(t, " ", 1);
            c += 2;
            continue;
        }
        if (blank) {
            t->space = 1;
            c++;
            continue;
        }
        if (t->space && !tx_at_line_start(t)) {
            tx_put(t, " ", 1);
        }
        t->space = 0;
        tx_put(t, (const char *)c, 1);
        c++;
    }
}

static int name_in(const xmlChar *n, const char *const *list)
{
    for (; *list; list++) {
        if (!xmlStrcasecmp(n, BAD_CAST * list)) {
            return 1;
        }
    }
    return 0;
}

static void tx_walk(txt_t *t, xmlNodePtr n, int depth)
{
    static const char *const skip[] = {"script", "style", "head", "title", "noscript", NULL};
    static const char *const para[] = {"p",     "h1", "h2", "h3", "h4",  "h5", "h6", "blockquote",
                                       "table", "ul", "ol", "dl", "pre", "hr", NULL};
    static const char *const line[] = {"div",     "tr",      "li",     "dt",     "dd",
                                       "section", "article", "header", "footer", "address",
                                       "form",    "center",  NULL};

    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE || n->type == XML_CDATA_SECTION_NODE) {
            if (n->content) {
                tx_text(t, (const char *)n->content);
            }
            continue;
        }
        if (n->type != XML_ELEMENT_NODE || depth > 200) {
            continue;
        }
        if (name_in(n->name, skip)) {
            continue;
        }
        if (!xmlStrcasecmp(n->name, BAD_CAST "br")) {
            while (t->out->nelts > 0 && t->out->elts[t->out->nelts - 1] == ' ') {
                t->out->nelts--;
            }
            tx_put(t, "\n", 1); /* every <br> is a line end, two make an empty line */
            t->space = 0;
            continue;
        }
        if (name_in(n->name, para)) {
            tx_newline(t, 1);
        } else if (name_in(n->name, line)) {
            tx_newline(t, 0);
        } else if (!xmlStrcasecmp(n->name, BAD_CAST "td") ||
                   !xmlStrcasecmp(n->name, BAD_CAST "th")) {
            if (!tx_at_line_start(t)) {
                t->space = 0;
                tx_put(t, "\t", 1);
            }
        }
        if (!xmlStrcasecmp(n->name, BAD_CAST "li")) {
            tx_put(t, "- ", 2);
        }
        if (!xmlStrcasecmp(n->name, BAD_CAST "pre")) {
            t->pre++;
        }
        tx_walk(t, n->children, depth + 1);
        if (!xmlStrcasecmp(n->name, BAD_CAST "pre")) {
            t->pre--;
        }
        if (!xmlStrcasecmp(n->name, BAD_CAST "a")) {
            xmlChar *href = xmlGetProp(n, BAD_CAST "href");
            if (href && (!xmlStrncasecmp(href, BAD_CAST "http://", 7) ||
                         !xmlStrncasecmp(href, BAD_CAST "https://", 8))) {
                xmlChar *txt = xmlNodeGetContent(n);
                if (!txt || !xmlStrstr(txt, href)) {
                    tx_text(t, " <");
                    t->space = 0;
                    tx_put(t, (const char *)href, (size_t)xmlStrlen(href));
                    tx_put(t, ">", 1);
                }
                xmlFree(txt);
            }
            xmlFree(href);
        }
        if (name_in(n->name, para)) {
            tx_newline(t, 1);
        } else if (name_in(n->name, line)) {
            tx_newline(t, 0);
        }
    }
}

char *as_mime_html_to_text(apr_pool_t *p, const char *html, apr_size_t len)
{
    txt_t t;
    htmlDocPtr doc;
    char *s;
    apr_size_t n;

    memset(&t, 0, sizeof t);
    t.out = apr_array_make(p, (int)(len / 2 + 64), 1);
    if (len > 0 && len < 0x7fffffff) {
        doc = htmlReadMemory(html, (int)len, NULL, "UTF-8",
                             HTML_PARSE_RECOVER | HTML_PARSE_NOERROR | HTML_PARSE_NOWARNING |
                                 HTML_PARSE_NONET | HTML_PARSE_COMPACT);
        if (doc) {
            tx_walk(&t, xmlDocGetRootElement(doc), 0);
            xmlFreeDoc(doc);
        }
    }
    /* at most one empty line in a row */
    {
        int i, k = 0, nl = 0;
        for (i = 0; i < t.out->nelts; i++) {
            char c = t.out->elts[i];
            nl = c == '\n' ? nl + 1 : 0;
            if (nl <= 2) {
                t.out->elts[k++] = c;
            }
        }
        t.out->nelts = k;
    }
    /* trim */
    while (t.out->nelts > 0 &&
           (t.out->elts[t.out->nelts - 1] == '\n' || t.out->elts[t.out->nelts - 1] == ' ')) {
        t.out->nelts--;
    }
    *(char *)apr_array_push(t.out) = '\0';
    s = t.out->elts;
    n = strspn(s, "\n ");
    return as_utf8_clean(p, s + n, strlen(s + n), 0, NULL);
}

static char *text_to_html(apr_pool_t *p, const char *s, size_t n)
{
    apr_array_header_t *o = apr_array_make(p, (int)(n * 2 + 64), 1);
    size_t i;
    const char *head = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
                       "charset=utf-8\"></head><body><div style=\"white-space:pre-wrap\">";
    const char *tail = "</div></body></html>";

#define PUTS(str)                                                                                  \
    do {                                                                                           \
        const char *_s = (str);                                                                    \
        while (*_s) {                                                                              \
            *(char *)apr_array_push(o) = *_s++;                                                    \
        }                                                                                          \
    } while (0)
    PUTS(head);
    for (i = 0; i < n; i++) {
        switch (s[i]) {
        case '<':
            PUTS("&lt;");
            break;
        case '>':
            PUTS("&gt;");
            break;
        case '&':
            PUTS("&amp;");
            break;
        case '"':
            PUTS("&quot;");
            break;
        case '\r':
            break;
        case '\n':
            PUTS("<br>\n");
            break;
        default:
            *(char *)apr_array_push(o) = s[i];
        }
    }
    PUTS(tail);
#undef PUTS
    *(char *)apr_array_push(o) = '\0';
    return o->elts;
}

/* Collapse whitespace into single blanks, at most max characters. */
static char *preview_of(apr_pool_t *p, const char *s, int max)
{
    apr_array_header_t *o = apr_array_make(p, max * 4 + 1, 1);
    int chars = 0, space = 0;
    const unsigned char *c = (const unsigned char *)s;

    while (*c && chars < max) {
        size_t l;
        if (*c == ' ' || *c == '\t' || *c == '\n' || *c == '\r') {
            space = o->nelts > 0;
            c++;
            continue;
        }
        if (space) {
            *(char *)apr_array_push(o) = ' ';
            space = 0;
            if (++chars >= max) {
                break;
            }
        }
        l = as_utf8_seq_xml(c, strlen((const char *)c));
        if (!l) {
            l = 1;
        }
        while (l-- > 0) {
            *(char *)apr_array_push(o) = (char)*c++;
        }
        chars++;
    }
    *(char *)apr_array_push(o) = '\0';
    return o->elts;
}

/* ---------------------------------------------------------------------------
 * Headers
 */
static const char *name_quoted(apr_pool_t *p, const char *name)
{
    apr_array_header_t *o = apr_array_make(p, (int)strlen(name) + 4, 1);
    const char *c;
    *(char *)apr_array_push(o) = '"';
    for (c = name; *c; c++) {
        if (*c == '"' || *c == '\\') {
            *(char *)apr_array_push(o) = '\\';
        }
        *(char *)apr_array_push(o) = *c;
    }
    *(char *)apr_array_push(o) = '"';
    *(char *)apr_array_push(o) = '\0';
    return o->elts;
}

static void collect_mailboxes(InternetAddressList *l, apr_array_header_t *out, int depth)
{
    int i, n = l ? internet_address_list_length(l) : 0;
    for (i = 0; i < n && depth < 4; i++) {
        InternetAddress *a = internet_address_list_get_address(l, i);
        if (INTERNET_ADDRESS_IS_GROUP(a)) {
            collect_mailboxes(internet_address_group_get_members(INTERNET_ADDRESS_GROUP(a)), out,
                              depth + 1);
        } else if (INTERNET_ADDRESS_IS_MAILBOX(a)) {
            APR_ARRAY_PUSH(out, InternetAddress *) = a;
        }
    }
}

/* Addresses as '"Name" <addr>' joined by sep; display names only when
 * names is set.  NULL when there is no address. */
static const char *addr_list(apr_pool_t *p, InternetAddressList *l, const char *sep, int names)
{
    apr_array_header_t *mb = apr_array_make(p, 4, sizeof(InternetAddress *));
    apr_array_header_t *parts = apr_array_make(p, 4, sizeof(const char *));
    int i;

    collect_mailboxes(l, mb, 0);
    for (i = 0; i < mb->nelts; i++) {
        InternetAddress *a = APR_ARRAY_IDX(mb, i, InternetAddress *);
        const char *name = internet_address_get_name(a);
        const char *addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(a));
        const char *s;

        name = name && *name ? clean_header(p, name) : NULL;
        addr = addr && *addr ? clean_header(p, addr) : NULL;
        if (names) {
            s = name ? name : addr;
        } else if (name && addr) {
            s = apr_pstrcat(p, name_quoted(p, name), " <", addr, ">", NULL);
        } else {
            s = addr ? addr : name;
        }
        if (s && *s) {
            APR_ARRAY_PUSH(parts, const char *) = s;
        }
    }
    if (parts->nelts == 0) {
        return NULL;
    }
    {
        const char *r = APR_ARRAY_IDX(parts, 0, const char *);
        for (i = 1; i < parts->nelts; i++) {
            r = apr_pstrcat(p, r, sep, APR_ARRAY_IDX(parts, i, const char *), NULL);
        }
        return r;
    }
}

static const char *thread_topic(apr_pool_t *p, GMimeMessage *msg, const char *subject)
{
    const char *tt = g_mime_object_get_header(GMIME_OBJECT(msg), "Thread-Topic");
    static const char *const prefixes[] = {
        "re:", "fwd:", "fw:", "aw:", "wg:", "sv:", "vs:", "antw:", "tr:", "rif:", "r:", NULL};
    const char *s;
    int changed = 1;

    if (tt && *tt) {
        char *d = g_mime_utils_header_decode_text(NULL, tt);
        const char *r = clean_header(p, d ? d : tt);
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

static int importance_of(GMimeMessage *msg)
{
    GMimeObject *o = GMIME_OBJECT(msg);
    const char *v;

    if ((v = g_mime_object_get_header(o, "Importance")) != NULL) {
        while (*v == ' ') {
            v++;
        }
        if (!strncasecmp(v, "high", 4)) {
            return 2;
        }
        if (!strncasecmp(v, "low", 3)) {
            return 0;
        }
        return 1;
    }
    if ((v = g_mime_object_get_header(o, "X-Priority")) != NULL) {
        while (*v == ' ') {
            v++;
        }
        if (*v == '1' || *v == '2') {
            return 2;
        }
        if (*v == '4' || *v == '5') {
            return 0;
        }
        return 1;
    }
    if ((v = g_mime_object_get_header(o, "X-MSMail-Priority")) != NULL) {
        while (*v == ' ') {
            v++;
        }
        if (!strncasecmp(v, "high", 4)) {
            return 2;
        }
        if (!strncasecmp(v, "low", 3)) {
            return 0;
        }
        return 1;
    }
    if ((v = g_mime_object_get_header(o, "Priority")) != NULL) {
        while (*v == ' ') {
            v++;
        }
        if (!strncasecmp(v, "urgent", 6)) {
            return 2;
        }
        if (!strncasecmp(v, "non-urgent", 10)) {
            return 0;
        }
    }
    return 1;
}

static const char *date_str(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;
    apr_time_exp_gmt(&e, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", e.tm_year + 1900, e.tm_mon + 1,
                        e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec);
}

static apr_time_t header_date(GMimeMessage *msg)
{
    GDateTime *d = g_mime_message_get_date(msg);
    if (!d) {
        return 0;
    }
    return apr_time_from_sec(g_date_time_to_unix(d));
}

/* The calendar METHOD and, for replies, the attendee's PARTSTAT; text is
 * the part's text. */
static const char *meeting_class(apr_pool_t *p, GMimeObject *cal, char *text,
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
    c = clean_header(p, d ? d : u);
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

static void add_categories(apr_pool_t *p, GMimeMessage *msg, GMimeParserOptions *popts,
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
                if (!*v) {
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

static void add_conversation(apr_pool_t *p, GMimeMessage *msg, const char *subject, apr_time_t when,
                             xmlNodePtr app)
{
    unsigned char id[APR_MD5_DIGESTSIZE], *ti = NULL, *idx;
    apr_size_t tlen = thread_index(p, msg, &ti), ilen;
    const char *root = first_msgid(p, msg, "References");
    apr_time_t date = header_date(msg);
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

/* ---------------------------------------------------------------------------
 * Raw message (Type 4)
 */
static apr_status_t read_raw(apr_pool_t *p, int fd, char **data, apr_size_t *len)
{
    struct stat sb;
    char *buf, *o;
    apr_size_t n = 0, i, k, lf = 0;

    if (fstat(fd, &sb) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (sb.st_size > MAX_MIME_RAW) {
        return APR_ENOSPC;
    }
    buf = apr_palloc(p, (apr_size_t)sb.st_size + 1);
    while (n < (apr_size_t)sb.st_size) {
        ssize_t r = pread(fd, buf + n, (apr_size_t)sb.st_size - n, (off_t)n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return APR_FROM_OS_ERROR(errno);
        }
        if (r == 0) {
            break;
        }
        n += (apr_size_t)r;
    }
    for (i = 0; i < n; i++) {
        lf += buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r');
    }
    o = apr_palloc(p, n + lf + 1);
    for (i = 0, k = 0; i < n; i++) {
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) {
            o[k++] = '\r';
        }
        o[k++] = buf[i];
    }
    o[k] = '\0';
    *data = o;
    *len = k;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * The item
 */
static int choose_type(const as_mime_opts_t *o, int smime, int has_html,
                       const as_mime_bodypref_t **pref)
{
    int i, best = 0, best_rank = -1, want1 = 0;

    *pref = NULL;
    for (i = 0; i < o->nprefs; i++) {
        want1 |= o->prefs[i].type == 1 || o->prefs[i].type == 3;
    }
    for (i = 0; i < o->nprefs; i++) {
        const as_mime_bodypref_t *bp = &o->prefs[i];
        int rank;
        switch (bp->type) {
        case 4:
            if (!(o->mime_support == 2 || (o->mime_support == 1 && smime))) {
                continue;
            }
            rank = 4;
            break;
        case 2:
            rank = has_html || !want1 ? 3 : 1;
            break;
        case 1:
            rank = 2;
            break;
        case 3:
            rank = 0; /* no RTF: plain text instead */
            break;
        default:
            continue;
        }
        if (rank > best_rank) {
            best_rank = rank;
            best = bp->type == 3 ? 1 : bp->type;
            *pref = bp;
        }
    }
    if (best == 0) {
        /* none usable (e.g. only Type 4 without MIMESupport): plain text,
         * with that preference's limits */
        best = 1;
        if (o->nprefs > 0 && !*pref) {
            *pref = &o->prefs[0];
        }
    }
    return best;
}

static void add_body(apr_pool_t *p, xmlNodePtr app, int type, const as_mime_bodypref_t *bp,
                     const char *data, apr_size_t len, int raw_ok, const char *preview_src,
                     int protocol)
{
    xmlNodePtr body, dn;
    apr_size_t cut = len;
    int truncated = 0, text_ok;

    if (len == 0) {
        return; /* no empty Body element */
    }
    text_ok = raw_ok ? xml_text_ok(data, len) : 1;
    if (bp && bp->truncation > 0 && len > bp->truncation) {
        cut = text_ok ? as_mime_utf8_cut(data, len, bp->truncation) : bp->truncation;
        truncated = 1;
    }
    body = as_xml_add(app, NS_BASE, "Body", NULL);
    as_xml_add(body, NS_BASE, "Type", apr_itoa(p, type));
    as_xml_add(body, NS_BASE, "EstimatedDataSize", apr_psprintf(p, "%" APR_SIZE_T_FMT, len));
    as_xml_add(body, NS_BASE, "Truncated", truncated ? "1" : "0");
    if (!(truncated && bp && bp->all_or_none)) {
        if (text_ok) {
            dn = as_xml_add(body, NS_BASE, "Data", NULL);
            xmlNodeAddContentLen(dn, BAD_CAST data, (int)cut);
        } else {
            dn = as_xml_add(body, NS_BASE, "Data", NULL);
            as_wbxml_set_opaque(dn, data, cut);
        }
    }
    if (bp && bp->preview > 0 && protocol >= 140 && preview_src && *preview_src) {
        as_xml_add(
            body, NS_BASE, "Preview",
            preview_of(p, preview_src, bp->preview > MAX_PREVIEW ? MAX_PREVIEW : bp->preview));
    }
}

void as_mime_add_flags(xmlNodePtr app, unsigned flags)
{
    xmlNodePtr flag;
    as_xml_add(app, NS_EMAIL, "Read", flags & AS_STORE_SEEN ? "1" : "0");
    flag = as_xml_add(app, NS_EMAIL, "Flag", NULL);
    if (flags & AS_STORE_FLAGGED) {
        as_xml_add(flag, NS_EMAIL, "Status", "2");
        as_xml_add(flag, NS_EMAIL, "FlagType", "Flag for follow up");
    }
}

apr_status_t as_mime_to_eas(apr_pool_t *p, apr_file_t *file, const as_mime_opts_t *o,
                            xmlNodePtr app, const char **err)
{
    msg_t m;
    apr_status_t rv;
    GMimeMessage *msg;
    GMimeObject *root;
    body_t b;
    const char *s, *subject, *mclass = NULL, *cclass = NULL;
    apr_array_header_t *atts;
    apr_time_t when;
    int type, i, smime;
    const as_mime_bodypref_t *bp;
    char *plain = NULL, *html = NULL;
    apr_size_t plain_len = 0, html_len = 0;
    xmlNodePtr flag;
    as_meeting_t *meeting = NULL;

    *err = NULL;
    rv = msg_parse(p, file, &m, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    msg = m.msg;
    root = g_mime_message_get_mime_part(msg);
    memset(&b, 0, sizeof b);
    find_body(root, &b, 0, 1);
    smime = b.smime_signed || b.smime_enc;

    /* headers */
    if ((s = addr_list(p, g_mime_message_get_to(msg), ", ", 0)) != NULL) {
        as_xml_add(app, NS_EMAIL, "To", s);
    }
    if ((s = addr_list(p, g_mime_message_get_cc(msg), ", ", 0)) != NULL) {
        as_xml_add(app, NS_EMAIL, "Cc", s);
    }
    if ((s = addr_list(p, g_mime_message_get_from(msg), ", ", 0)) != NULL) {
        as_xml_add(app, NS_EMAIL, "From", s);
    }
    subject = clean_header(p, g_mime_message_get_subject(msg));
    if (!subject) {
        subject = "";
    }
    as_xml_add(app, NS_EMAIL, "Subject", subject);
    if ((s = addr_list(p, g_mime_message_get_reply_to(msg), "; ", 0)) != NULL) {
        as_xml_add(app, NS_EMAIL, "ReplyTo", s);
    }
    when = o->received ? o->received : header_date(msg);
    if (!when) {
        when = apr_time_now();
    }
    as_xml_add(app, NS_EMAIL, "DateReceived", date_str(p, when));
    if ((s = addr_list(p, g_mime_message_get_to(msg), "; ", 1)) != NULL) {
        as_xml_add(app, NS_EMAIL, "DisplayTo", s);
    }
    as_xml_add(app, NS_EMAIL, "ThreadTopic", thread_topic(p, msg, subject));
    as_xml_add(app, NS_EMAIL, "Importance", apr_itoa(p, importance_of(msg)));
    as_xml_add(app, NS_EMAIL, "Read", o->flags & AS_STORE_SEEN ? "1" : "0");

    /* attachments */
    atts = apr_array_make(p, 4, sizeof(att_t));
    list_atts(root, "", &b, p, atts, 0);
    if (atts->nelts > 0) {
        xmlNodePtr list = as_xml_add(app, NS_BASE, "Attachments", NULL);
        for (i = 0; i < atts->nelts; i++) {
            att_t *a = &APR_ARRAY_IDX(atts, i, att_t);
            xmlNodePtr at = as_xml_add(list, NS_BASE, "Attachment", NULL);
            const char *cid = g_mime_object_get_content_id(a->o);
            const char *disp = g_mime_object_get_disposition(a->o);
            int isinline = disp ? !strcasecmp(disp, "inline") : cid != NULL;

            as_xml_add(at, NS_BASE, "DisplayName", att_name(p, a->o, a->path));
            as_xml_add(at, NS_BASE, "FileReference",
                       as_mime_fileref(p, o->folder_id ? o->folder_id : "0",
                                       o->item_id ? o->item_id : "0", a->path));
            as_xml_add(at, NS_BASE, "Method", apr_itoa(p, a->method));
            as_xml_add(at, NS_BASE, "EstimatedDataSize", apr_off_t_toa(p, decoded_size(a->o)));
            if (cid && *cid) {
                as_xml_add(at, NS_BASE, "ContentId", clean_header(p, cid));
            }
            as_xml_add(at, NS_BASE, "IsInline", isinline ? "1" : "0");
        }
    }

    /* body */
    if (b.plain) {
        plain = part_text(p, b.plain, &plain_len);
    }
    if (b.html) {
        html = part_text(p, b.html, &html_len);
    }
    if (!plain && html) {
        plain = as_mime_html_to_text(p, html, html_len);
        plain_len = strlen(plain);
    }
    if (!plain && smime) {
        plain = "This message is signed or encrypted (S/MIME): open it on a client that "
                "shows the original message.";
        plain_len = strlen(plain);
    }
    type = choose_type(o, smime, html != NULL, &bp);
    if (type == 4) {
        char *raw = NULL;
        apr_size_t rawlen = 0;
        rv = read_raw(p, m.fd, &raw, &rawlen);
        if (rv != APR_SUCCESS) {
            msg_free(&m);
            *err = "cannot read the message file";
            return rv;
        }
        add_body(p, app, 4, bp, raw, rawlen, 1, plain, o->protocol);
    } else if (type == 2) {
        if (!html && plain) {
            html = text_to_html(p, plain, plain_len);
            html_len = strlen(html);
        }
        add_body(p, app, 2, bp, html ? html : "", html ? html_len : 0, 0, plain, o->protocol);
    } else {
        add_body(p, app, 1, bp, plain ? plain : "", plain ? plain_len : 0, 0, plain, o->protocol);
    }

    /* class */
    if (b.calendar) {
        apr_size_t clen;
        char *cal = part_text(p, b.calendar, &clen);
        mclass = meeting_class(p, b.calendar, cal, &cclass);
        if (mclass && (!strcmp(mclass, "IPM.Schedule.Meeting.Request") ||
                       !strcmp(mclass, "IPM.Schedule.Meeting.Canceled"))) {
            const char *merr = NULL;
            apr_time_t stamp = header_date(msg);
            if (as_meeting_parse(p, cal, clen, !strcmp(mclass, "IPM.Schedule.Meeting.Canceled"),
                                 stamp ? stamp : when, &meeting, &merr) != APR_SUCCESS) {
                /* still a message the user can read */
                as_log(o->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
                       "MIME: item %s:%s: unusable iCalendar invitation (%s), sent as a plain "
                       "message",
                       o->folder_id ? o->folder_id : "?", o->item_id ? o->item_id : "?",
                       merr ? merr : "?");
                mclass = NULL;
                cclass = NULL;
                meeting = NULL;
            }
        }
    }
    if (!mclass) {
        if (b.smime_signed) {
            mclass = "IPM.Note.SMIME.MultipartSigned";
        } else if (b.smime_enc) {
            mclass = "IPM.Note.SMIME";
        } else if (b.report) {
            mclass = "REPORT.IPM.Note.NDR";
        } else {
            mclass = "IPM.Note";
        }
    }
    as_xml_add(app, NS_EMAIL, "MessageClass", mclass);
    if (meeting) {
        as_meeting_add(p, app, meeting, o->protocol);
    }
    as_xml_add(app, NS_EMAIL, "InternetCPID", "65001");
    flag = as_xml_add(app, NS_EMAIL, "Flag", NULL);
    if (o->flags & AS_STORE_FLAGGED) {
        as_xml_add(flag, NS_EMAIL, "Status", "2");
        as_xml_add(flag, NS_EMAIL, "FlagType", "Flag for follow up");
    }
    as_xml_add(app, NS_EMAIL, "ContentClass", cclass ? cclass : "urn:content-classes:message");
    as_xml_add(app, NS_BASE, "NativeBodyType", b.html ? "2" : "1");
    if (o->protocol >= 140) {
        /* Email2 and Categories are 14.0 elements: never to 12.x clients */
        add_conversation(p, msg, subject, when, app);
        add_categories(p, msg, m.popts, app);
    }
    msg_free(&m);
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * FileReference and attachment data
 */
static int ref_id_ok(const char *s, size_t n, size_t max)
{
    size_t i;
    if (n == 0 || n > max) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'v'))) {
            return 0;
        }
    }
    return 1;
}

static int part_ok(const char *s)
{
    int digits = 0;
    if (!*s || strlen(s) > 64) {
        return 0;
    }
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (digits == 0 && *s == '0') {
                return 0;
            }
            digits++;
        } else if (*s == '.' && digits > 0) {
            digits = 0;
        } else {
            return 0;
        }
    }
    return digits > 0;
}

const char *as_mime_fileref(apr_pool_t *p, const char *folder_id, const char *item_id,
                            const char *part)
{
    return apr_pstrcat(p, folder_id, ":", item_id, ":", part, NULL);
}

apr_status_t as_mime_fileref_parse(apr_pool_t *p, const char *ref, const char **folder_id,
                                   const char **item_id, const char **part)
{
    const char *c1, *c2;

    *folder_id = *item_id = *part = NULL;
    if (!ref || !(c1 = strchr(ref, ':')) || !(c2 = strchr(c1 + 1, ':'))) {
        return APR_EINVAL;
    }
    if (!ref_id_ok(ref, (size_t)(c1 - ref), AS_STORE_FOLDER_ID_MAX) ||
        !ref_id_ok(c1 + 1, (size_t)(c2 - c1 - 1), AS_STORE_ITEM_ID_MAX) || !part_ok(c2 + 1)) {
        return APR_EINVAL;
    }
    *folder_id = apr_pstrmemdup(p, ref, (apr_size_t)(c1 - ref));
    *item_id = apr_pstrmemdup(p, c1 + 1, (apr_size_t)(c2 - c1 - 1));
    *part = apr_pstrdup(p, c2 + 1);
    return APR_SUCCESS;
}

apr_status_t as_mime_attachment_stream(apr_pool_t *p, apr_file_t *file, const char *part,
                                       as_mime_sink_fn *sink, void *ctx, as_mime_attachment_t *out)
{
    msg_t m;
    const char *err;
    GMimeObject *o;
    GMimeStream *src;
    apr_status_t rv;
    unsigned char buf[65536];
    apr_off_t pos = 0;
    char *ct;

    memset(out, 0, sizeof *out);
    if (!part || !part_ok(part)) {
        return APR_EINVAL;
    }
    rv = msg_parse(p, file, &m, &err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    o = part_by_path(m.msg, part);
    if (!o || GMIME_IS_MULTIPART(o)) {
        msg_free(&m);
        return APR_ENOENT;
    }
    ct = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(o));
    out->content_type = apr_pstrdup(p, ct ? ct : "application/octet-stream");
    g_free(ct);
    out->name = att_name(p, o, part);

    /* decode a leaf part from the (persisted) file stream, chunk by chunk:
     * only an embedded message is serialised into memory first */
    if (GMIME_IS_PART(o)) {
        GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
        GMimeStream *raw = w ? g_mime_data_wrapper_get_stream(w) : NULL;
        if (raw) {
            GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
            g_mime_stream_reset(raw);
            src = g_mime_stream_filter_new(raw);
            if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
                enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
                enc == GMIME_CONTENT_ENCODING_UUENCODE) {
                GMimeFilter *flt = g_mime_filter_basic_new(enc, FALSE);
                g_mime_stream_filter_add(GMIME_STREAM_FILTER(src), flt);
                g_object_unref(flt);
            }
        } else {
            src = g_mime_stream_mem_new();
        }
    } else {
        src = decoded_stream(o);
    }
    for (;;) {
        ssize_t n = g_mime_stream_read(src, (char *)buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        if (sink && (rv = sink(ctx, buf, (apr_size_t)n)) != APR_SUCCESS) {
            break;
        }
        pos += n;
    }
    g_object_unref(src);
    out->total = pos;
    msg_free(&m);
    return rv;
}

/* as_mime_attachment's sink: keeps [offset, offset+length) of the stream. */
typedef struct range_sink_t {
    apr_pool_t *p;
    apr_off_t offset, length, pos;
    unsigned char *data;
    apr_size_t len, cap;
} range_sink_t;

static apr_status_t range_sink(void *ctx, const unsigned char *buf, apr_size_t n)
{
    range_sink_t *r = ctx;
    apr_off_t from = r->pos > r->offset ? r->pos : r->offset, to = r->pos + (apr_off_t)n;

    if (r->length >= 0 && r->offset + r->length < to) {
        to = r->offset + r->length;
    }
    if (to > from) {
        apr_size_t k = (apr_size_t)(to - from);
        if (r->len + k > r->cap) {
            unsigned char *nd;
            r->cap = (r->len + k) * 2 + 65536;
            nd = apr_palloc(r->p, r->cap);
            if (r->len) {
                memcpy(nd, r->data, r->len);
            }
            r->data = nd;
        }
        memcpy(r->data + r->len, buf + (from - r->pos), k);
        r->len += k;
    }
    r->pos += (apr_off_t)n;
    return APR_SUCCESS;
}

apr_status_t as_mime_attachment(apr_pool_t *p, apr_file_t *file, const char *part, apr_off_t offset,
                                apr_off_t length, as_mime_attachment_t *out)
{
    range_sink_t r;
    apr_status_t rv;

    memset(out, 0, sizeof *out);
    if (offset < 0) {
        return APR_EINVAL;
    }
    memset(&r, 0, sizeof r);
    r.p = p;
    r.offset = offset;
    r.length = length;
    rv = as_mime_attachment_stream(p, file, part, range_sink, &r, out);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    out->data = r.data ? r.data : (const unsigned char *)"";
    out->len = r.len;
    return APR_SUCCESS;
}
