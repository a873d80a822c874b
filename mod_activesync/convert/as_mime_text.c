/* MIME text: charsets to clean UTF-8, HTML to plain text and back, previews
 * (see as_mime.h). */
#include <errno.h>
#include <limits.h>
#include <iconv.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <gmime/gmime.h>
#include <libxml/HTMLparser.h>

#include "activesync/as_command.h"
#include "activesync/as_mime.h"
#include "activesync/as_utf8.h"
#include "as_mime_int.h"

/* ---------------------------------------------------------------------------
 * UTF-8
 */

static int mime_u8_valid(const char *s, size_t n)
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
int mime_xml_text_ok(const char *s, size_t n)
{
    size_t i;
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t' && c != '\n' && c != '\r') {
            return 0;
        }
    }
    return mime_u8_valid(s, n);
}

/* Header values: also fold line breaks and tabs into spaces. */
const char *mime_clean_header(apr_pool_t *p, const char *s)
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
        if (mime_u8_valid(data, len)) {
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
        if (mime_u8_valid(data, len)) {
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
                /* strstr, not xmlStrstr: glibc's is linear, libxml2's is
                 * text length times href length */
                if (!txt || !strstr((const char *)txt, (const char *)href)) {
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
    /* libxml2 and the int-indexed output array take lengths below INT_MAX */
    t.out = apr_array_make(p, len < INT_MAX / 4 ? (int)(len / 2 + 64) : INT_MAX / 8, 1);
    if (len > 0 && len < INT_MAX / 2) {
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

char *mime_text_to_html(apr_pool_t *p, const char *s, size_t n)
{
    apr_array_header_t *o;
    size_t i;
    const char *head = "<html><head><meta http-equiv=\"Content-Type\" content=\"text/html; "
                       "charset=utf-8\"></head><body><div style=\"white-space:pre-wrap\">";
    const char *tail = "</div></body></html>";

    /* each byte becomes at most 6 ("&quot;"): the int-indexed array holds
     * the result only below this (never reached with the store's caps) */
    if (n > (size_t)(INT_MAX - 256) / 6) {
        n = as_mime_utf8_cut(s, n, (size_t)(INT_MAX - 256) / 6);
    }
    o = apr_array_make(p, (int)(n * 2 + 64), 1);
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
char *mime_preview_of(apr_pool_t *p, const char *s, int max)
{
    apr_array_header_t *o = apr_array_make(p, max * 4 + 1, 1);
    int chars = 0, space = 0;
    const unsigned char *c = (const unsigned char *)s;
    const unsigned char *end = c + strlen(s); /* once: not per character */

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
        l = as_utf8_seq_xml(c, (size_t)(end - c));
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
