/* SmartReply / SmartForward composition (as_mime_compose.h): the phone's
 * message with the original below its text, built with GMime. */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "as_mime_int.h"
#include "activesync/as_mime_compose.h"

/* A growing buffer in pool memory. */
typedef struct sbuf_t {
    apr_pool_t *p;
    char *d;
    apr_size_t len, cap;
} sbuf_t;

static void sb_put(sbuf_t *b, const char *s, apr_size_t n)
{
    if (b->len + n + 1 > b->cap) {
        apr_size_t cap = (b->cap ? b->cap * 2 : 256) + n;
        char *d = apr_palloc(b->p, cap);
        if (b->len) {
            memcpy(d, b->d, b->len);
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, s, n);
    b->len += n;
    b->d[b->len] = '\0';
}

static void sb_str(sbuf_t *b, const char *s)
{
    sb_put(b, s, strlen(s));
}

/* s with &, <, >, " escaped for HTML text and attributes. */
static void sb_html_escaped(sbuf_t *b, const char *s)
{
    for (; *s; s++) {
        switch (*s) {
        case '&':
            sb_str(b, "&amp;");
            break;
        case '<':
            sb_str(b, "&lt;");
            break;
        case '>':
            sb_str(b, "&gt;");
            break;
        case '"':
            sb_str(b, "&quot;");
            break;
        default:
            sb_put(b, s, 1);
        }
    }
}

static GMimeMessage *parse_message(const char *raw, apr_size_t len)
{
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(raw, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);

    g_object_unref(parser);
    g_object_unref(stream);
    return m;
}

/* The texts of a message: its plain and HTML bodies as UTF-8 (NULL when
 * absent). */
typedef struct texts_t {
    body_t b;
    const char *plain, *html;
} texts_t;

static void texts_of(apr_pool_t *p, GMimeMessage *m, texts_t *t)
{
    GMimeObject *root = g_mime_message_get_mime_part(m);
    apr_size_t n;

    memset(t, 0, sizeof(*t));
    mime_find_body(root, &t->b, 0, 1);
    t->plain = t->b.plain ? mime_part_text(p, t->b.plain, &n) : NULL;
    t->html = t->b.html ? mime_part_text(p, t->b.html, &n) : NULL;
}

/* A header of the original as clean UTF-8 ("" when absent). */
static const char *orig_header(apr_pool_t *p, GMimeMessage *m, const char *name)
{
    const char *v = g_mime_object_get_header(GMIME_OBJECT(m), name);
    return v ? mime_clean_header(p, v) : "";
}

static const char *orig_addresses(apr_pool_t *p, GMimeMessage *m, GMimeAddressType type)
{
    InternetAddressList *l = g_mime_message_get_addresses(m, type);
    char *s = l && internet_address_list_length(l) > 0
                  ? internet_address_list_to_string(l, NULL, FALSE)
                  : NULL;
    const char *out = s ? mime_clean_header(p, s) : "";

    g_free(s);
    return out;
}

/* "On DATE, NAME wrote:": NAME is the first From's display name, else its
 * address. */
static const char *attribution(apr_pool_t *p, GMimeMessage *m)
{
    InternetAddressList *from = g_mime_message_get_from(m);
    InternetAddress *ia = from && internet_address_list_length(from) > 0
                              ? internet_address_list_get_address(from, 0)
                              : NULL;
    const char *name = ia ? internet_address_get_name(ia) : NULL;
    const char *date = orig_header(p, m, "Date");

    if ((!name || !*name) && ia && INTERNET_ADDRESS_IS_MAILBOX(ia)) {
        name = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
    }
    name = name && *name ? mime_clean_header(p, name) : "(unknown sender)";
    return *date ? apr_psprintf(p, "On %s, %s wrote:", date, name)
                 : apr_psprintf(p, "%s wrote:", name);
}

/* The lines of the forwarded-message block (LF-separated). */
static const char *forward_block(apr_pool_t *p, GMimeMessage *m)
{
    const char *subject = g_mime_message_get_subject(m);
    const char *cc = orig_addresses(p, m, GMIME_ADDRESS_TYPE_CC);

    return apr_pstrcat(p, "---------- Forwarded message ----------\n",
                       "From: ", orig_addresses(p, m, GMIME_ADDRESS_TYPE_FROM), "\n",
                       "Date: ", orig_header(p, m, "Date"), "\n",
                       "Subject: ", subject ? mime_clean_header(p, subject) : "", "\n",
                       "To: ", orig_addresses(p, m, GMIME_ADDRESS_TYPE_TO), "\n", *cc ? "Cc: " : "",
                       cc, *cc ? "\n" : "", NULL);
}

/* The phone's text, a blank line, then the original's text: quoted line by
 * line for a reply, as is under the forward block for a forward. */
static const char *compose_plain(apr_pool_t *p, as_compose_kind_t kind, GMimeMessage *om,
                                 const char *mine, const char *orig)
{
    sbuf_t b = {p, NULL, 0, 0};
    const char *s = orig;
    apr_size_t n = strlen(mine);

    sb_put(&b, mine, n);
    if (n > 0 && mine[n - 1] != '\n') {
        sb_str(&b, "\n");
    }
    sb_str(&b, "\n");
    if (kind == AS_COMPOSE_FORWARD) {
        sb_str(&b, forward_block(p, om));
        sb_str(&b, "\n");
        sb_str(&b, orig);
        if (*orig && orig[strlen(orig) - 1] != '\n') {
            sb_str(&b, "\n");
        }
        return b.d;
    }
    sb_str(&b, attribution(p, om));
    sb_str(&b, "\n");
    while (*s) {
        apr_size_t l = strcspn(s, "\n");
        apr_size_t t = l > 0 && s[l - 1] == '\r' ? l - 1 : l;
        sb_str(&b, s[0] == '>' || t == 0 ? ">" : "> ");
        sb_put(&b, s, t);
        sb_str(&b, "\n");
        s += l + (s[l] == '\n');
    }
    return b.d;
}

/* Where the content of an HTML document's <body> starts and ends. */
static void body_span(const char *html, apr_size_t *start, apr_size_t *end)
{
    apr_size_t n = strlen(html), i;

    *start = 0;
    *end = n;
    for (i = 0; i + 5 <= n; i++) {
        if (!strncasecmp(html + i, "<body", 5) &&
            (html[i + 5] == '>' || html[i + 5] == ' ' || html[i + 5] == '\t' ||
             html[i + 5] == '\n' || html[i + 5] == '\r')) {
            const char *gt = strchr(html + i, '>');
            *start = gt ? (apr_size_t)(gt - html) + 1 : n;
            break;
        }
    }
    for (i = n; i >= *start + 7 && i >= 7; i--) {
        if (!strncasecmp(html + i - 7, "</body>", 7)) {
            *end = i - 7;
            break;
        }
    }
}

/* The phone's HTML with the original inserted before its </body>. */
static const char *compose_html(apr_pool_t *p, as_compose_kind_t kind, GMimeMessage *om,
                                const char *mine, const char *orig_html)
{
    sbuf_t b = {p, NULL, 0, 0};
    apr_size_t ms, me, os, oe;

    body_span(mine, &ms, &me);
    body_span(orig_html, &os, &oe);
    sb_put(&b, mine, me);
    if (kind == AS_COMPOSE_FORWARD) {
        const char *s = forward_block(p, om), *nl;
        sb_str(&b, "<br><div>");
        for (; (nl = strchr(s, '\n')) != NULL; s = nl + 1) {
            sb_html_escaped(&b, apr_pstrmemdup(p, s, (apr_size_t)(nl - s)));
            sb_str(&b, "<br>");
        }
        sb_str(&b, "</div><br><div>");
        sb_put(&b, orig_html + os, oe - os);
        sb_str(&b, "</div>");
    } else {
        sb_str(&b, "<br><div>");
        sb_html_escaped(&b, attribution(p, om));
        sb_str(&b, "</div><blockquote type=\"cite\" style=\"margin:0 0 0 .8ex;"
                   "border-left:1px solid #ccc;padding-left:1ex\">");
        sb_put(&b, orig_html + os, oe - os);
        sb_str(&b, "</blockquote>");
    }
    sb_str(&b, mine + me);
    return b.d;
}

static GMimeObject *text_part(const char *subtype, const char *text)
{
    GMimePart *part = g_mime_part_new_with_type("text", subtype);
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(text, strlen(text));
    GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);

    g_mime_part_set_content(part, w);
    g_object_unref(w);
    g_object_unref(s);
    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
    g_mime_part_set_content_encoding(
        part, g_mime_part_get_best_content_encoding(part, GMIME_ENCODING_CONSTRAINT_7BIT));
    return GMIME_OBJECT(part);
}

/* Append to mixed the attachments of a message (not its body parts); with
 * skip_inline, those marked inline are left out. */
static void add_attachments(apr_pool_t *p, GMimeMessage *m, const body_t *b, int skip_inline,
                            GMimeMultipart *mixed, int *count)
{
    apr_array_header_t *atts = apr_array_make(p, 4, sizeof(att_t));
    int i;

    mime_list_atts(g_mime_message_get_mime_part(m), "", b, p, atts, 0);
    for (i = 0; i < atts->nelts; i++) {
        GMimeObject *o = APR_ARRAY_IDX(atts, i, att_t).o;
        const char *d = g_mime_object_get_disposition(o);
        if (skip_inline && d && !strcasecmp(d, "inline")) {
            continue;
        }
        g_mime_multipart_add(mixed, o);
        (*count)++;
    }
}

/* The new body: text (and HTML) of the phone plus the original, and the
 * attachments. */
static GMimeObject *compose_body(apr_pool_t *p, as_compose_kind_t kind, GMimeMessage *pm,
                                 const texts_t *mt, GMimeMessage *om, const texts_t *ot)
{
    const char *oplain = ot->plain, *ohtml = ot->html;
    GMimeObject *body = NULL;
    GMimeMultipart *mixed;
    int n = 0;

    if (!oplain) {
        oplain = ohtml ? as_mime_html_to_text(p, ohtml, strlen(ohtml)) : "";
    }
    if (mt->html) {
        const char *h = compose_html(p, kind, om, mt->html,
                                     ohtml ? ohtml : mime_text_to_html(p, oplain, strlen(oplain)));
        body = text_part("html", h);
    }
    if (mt->plain || !mt->html) {
        GMimeObject *t =
            text_part("plain", compose_plain(p, kind, om, mt->plain ? mt->plain : "", oplain));
        if (body) {
            GMimeMultipart *alt = g_mime_multipart_new_with_subtype("alternative");
            g_mime_multipart_add(alt, t);
            g_mime_multipart_add(alt, body);
            g_object_unref(t);
            g_object_unref(body);
            body = GMIME_OBJECT(alt);
        } else {
            body = t;
        }
    }
    mixed = g_mime_multipart_new_with_subtype("mixed");
    g_mime_multipart_add(mixed, body);
    g_object_unref(body);
    add_attachments(p, pm, &mt->b, 0, mixed, &n);
    if (kind == AS_COMPOSE_FORWARD) {
        add_attachments(p, om, &ot->b, 1, mixed, &n);
    }
    if (n == 0) {
        body = g_mime_multipart_get_part(mixed, 0);
        g_object_ref(body);
        g_object_unref(mixed);
        return body;
    }
    return GMIME_OBJECT(mixed);
}

/* In-Reply-To and References of a reply, unless the phone set them. */
static void thread_headers(apr_pool_t *p, GMimeMessage *pm, GMimeMessage *om)
{
    const char *id = g_mime_message_get_message_id(om);
    const char *refs = g_mime_object_get_header(GMIME_OBJECT(om), "References");
    const char *irt = g_mime_object_get_header(GMIME_OBJECT(om), "In-Reply-To");

    if (!id || !*id || strpbrk(id, "<>\r\n")) {
        return;
    }
    if (!g_mime_object_get_header(GMIME_OBJECT(pm), "In-Reply-To")) {
        g_mime_object_set_header(GMIME_OBJECT(pm), "In-Reply-To",
                                 apr_pstrcat(p, "<", id, ">", NULL), NULL);
    }
    if (!g_mime_object_get_header(GMIME_OBJECT(pm), "References")) {
        /* RFC 5322 3.6.4: the parent's References (else its In-Reply-To),
         * then the parent's Message-ID */
        const char *base = refs && *refs ? refs : (irt && *irt ? irt : NULL);
        g_mime_object_set_header(
            GMIME_OBJECT(pm), "References",
            base ? apr_pstrcat(p, mime_clean_header(p, base), " <", id, ">", NULL)
                 : apr_pstrcat(p, "<", id, ">", NULL),
            NULL);
    }
}

/* The message in bytes, with the line ends of the phone's message. */
static const char *serialise(apr_pool_t *p, GMimeMessage *pm, int crlf, apr_size_t *len)
{
    GMimeStream *mem = g_mime_stream_mem_new();
    GMimeFormatOptions *fo = g_mime_format_options_new();
    GByteArray *ba;
    char *out;

    g_mime_format_options_set_newline_format(fo, crlf ? GMIME_NEWLINE_FORMAT_DOS
                                                      : GMIME_NEWLINE_FORMAT_UNIX);
    g_mime_object_write_to_stream(GMIME_OBJECT(pm), fo, mem);
    g_mime_format_options_free(fo);
    ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    *len = ba ? ba->len : 0;
    out = apr_palloc(p, *len + 1);
    if (*len) {
        memcpy(out, ba->data, *len);
    }
    out[*len] = '\0';
    g_object_unref(mem);
    return out;
}

/* Does the phone's message start with a header section? */
static int has_headers(const char *raw, apr_size_t len)
{
    const char *colon = len ? memchr(raw, ':', len < 1000 ? len : 1000) : NULL;
    const char *nl = len ? memchr(raw, '\n', len) : NULL;
    return colon && (!nl || colon < nl) && raw[0] != ' ' && raw[0] != '\t';
}

as_compose_status_t as_mime_compose(apr_pool_t *p, as_compose_kind_t kind, const char *mine,
                                    apr_size_t mine_len, const char *orig, apr_size_t orig_len,
                                    apr_size_t max, const char **out, apr_size_t *out_len,
                                    const char **why)
{
    GMimeMessage *pm, *om;
    GMimeObject *body;
    texts_t mt, ot;
    const char *nl;
    int crlf;

    *out = NULL;
    *out_len = 0;
    *why = NULL;
    as_mime_init();
    if (!has_headers(mine, mine_len) || (pm = parse_message(mine, mine_len)) == NULL) {
        *why = "the phone's message has no header section";
        return AS_COMPOSE_BAD_NEW;
    }
    if ((om = parse_message(orig, orig_len)) == NULL) {
        om = g_mime_message_new(TRUE); /* not a message: nothing to quote, still a reply */
    }
    nl = memchr(mine, '\n', mine_len);
    crlf = nl && nl > mine && nl[-1] == '\r';
    texts_of(p, pm, &mt);
    texts_of(p, om, &ot);
    body = compose_body(p, kind, pm, &mt, om, &ot);
    g_mime_message_set_mime_part(pm, body);
    g_object_unref(body);
    if (kind == AS_COMPOSE_REPLY) {
        thread_headers(p, pm, om);
    }
    if (!g_mime_object_get_header(GMIME_OBJECT(pm), "MIME-Version")) {
        g_mime_object_set_header(GMIME_OBJECT(pm), "MIME-Version", "1.0", NULL);
    }
    *out = serialise(p, pm, crlf, out_len);
    g_object_unref(pm);
    g_object_unref(om);
    if (max > 0 && *out_len > max) {
        *why = "the composed message is larger than the limit";
        *out = NULL;
        return AS_COMPOSE_TOO_LARGE;
    }
    return AS_COMPOSE_OK;
}
