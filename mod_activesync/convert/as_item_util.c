/* The pieces the item conversions share (as_item_int.h): clean text,
 * dates, UIDs, the Body and the Categories/Children lists. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_uuid.h>

#include "activesync/as_mime.h"
#include "activesync/as_utf8.h"
#include "activesync/as_xml.h"
#include "as_item_int.h"

#define MAX_PREVIEW 255

/* Clean XML text of at most max bytes (cut on a character boundary). */
static char *clean_text(apr_pool_t *p, const char *s, apr_size_t n, apr_size_t max)
{
    apr_size_t len;
    char *c = as_utf8_clean(p, s, n, 0, &len);
    if (len > max) {
        c[as_mime_utf8_cut(c, len, max)] = '\0';
    }
    return c;
}

xmlNodePtr item_add_text(apr_pool_t *p, xmlNodePtr parent, const char *ns, const char *name,
                         const char *text)
{
    if (!text || !*text) {
        return NULL;
    }
    return as_xml_add(parent, ns, name, clean_text(p, text, strlen(text), AS_ITEM_MAX_FIELD));
}

static const as_mime_bodypref_t *plain_pref(const as_item_opts_t *o)
{
    int i;
    for (i = 0; o && i < o->nprefs; i++) {
        if (o->prefs[i].type == 1 || o->prefs[i].type == 3) {
            return &o->prefs[i];
        }
    }
    /* none asks for text: plain text anyway, with the first one's limits */
    return o && o->nprefs > 0 ? &o->prefs[0] : NULL;
}

/* Whitespace collapsed into single blanks, at most max characters. */
static const char *preview_of(apr_pool_t *p, const char *s, int max)
{
    char *out = apr_palloc(p, strlen(s) + 1), *w = out;
    int chars = 0, blank = 0;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
            blank = w != out;
            continue;
        }
        if (blank) {
            *w++ = ' ';
            chars++;
            blank = 0;
            if (chars >= max) {
                break;
            }
        }
        chars += (c & 0xC0) != 0x80; /* count characters, not continuation bytes */
        if (chars > max) {
            break;
        }
        *w++ = (char)c;
    }
    *w = '\0';
    return out;
}

void item_add_body(apr_pool_t *p, xmlNodePtr app, const char *text, const as_item_opts_t *o)
{
    const as_mime_bodypref_t *bp = plain_pref(o);
    apr_size_t len, cut;
    char *clean;
    int truncated = 0;
    xmlNodePtr body;

    if (!text || !*text) {
        return; /* no empty Body element (pitfall 10) */
    }
    clean = as_utf8_clean(p, text, strlen(text), 0, &len);
    /* the phone is sent CRLF line ends, as Exchange does */
    {
        apr_size_t i, lf = 0, k = 0;
        char *crlf;
        for (i = 0; i < len; i++) {
            lf += clean[i] == '\n' && (i == 0 || clean[i - 1] != '\r');
        }
        crlf = apr_palloc(p, len + lf + 1);
        for (i = 0; i < len; i++) {
            if (clean[i] == '\n' && (i == 0 || clean[i - 1] != '\r')) {
                crlf[k++] = '\r';
            }
            crlf[k++] = clean[i];
        }
        crlf[k] = '\0';
        clean = crlf;
        len = k;
    }
    cut = len;
    if (bp && bp->truncation > 0 && len > bp->truncation) {
        cut = as_mime_utf8_cut(clean, len, bp->truncation);
        truncated = 1;
    }
    body = as_xml_add(app, NS_BASE, "Body", NULL);
    as_xml_add(body, NS_BASE, "Type", "1");
    as_xml_add(body, NS_BASE, "EstimatedDataSize", apr_psprintf(p, "%" APR_SIZE_T_FMT, len));
    as_xml_add(body, NS_BASE, "Truncated", truncated ? "1" : "0");
    if (!(truncated && bp->all_or_none)) {
        as_xml_add(body, NS_BASE, "Data", apr_pstrmemdup(p, clean, cut));
    }
    if (bp && bp->preview > 0 && o->protocol >= 140) {
        int max = bp->preview > MAX_PREVIEW ? MAX_PREVIEW : bp->preview;
        as_xml_add(body, NS_BASE, "Preview", preview_of(p, clean, max));
    }
}

const char *item_child_text(apr_pool_t *p, xmlNodePtr parent, const char *ns, const char *name)
{
    xmlNodePtr c = parent ? as_xml_child(parent, ns, name) : NULL;
    apr_size_t len = 0;
    const char *t;
    if (!c) {
        return NULL;
    }
    t = as_xml_text(p, c, &len);
    return t ? clean_text(p, t, len, AS_ITEM_MAX_FIELD) : "";
}

const char *item_body_of(apr_pool_t *p, xmlNodePtr app, const char *bodyns, int *present)
{
    xmlNodePtr b = as_xml_child(app, NS_BASE, "Body");
    const char *t;
    apr_size_t len = 0, i, k;
    char *out;

    *present = b != NULL;
    if (!b && bodyns && as_xml_child(app, bodyns, "Body")) {
        *present = 1;
        b = app;
        t = item_child_text(p, app, bodyns, "Body");
    } else {
        xmlNodePtr d = b ? as_xml_child(b, NS_BASE, "Data") : NULL;
        t = d ? as_xml_text(p, d, &len) : NULL;
        t = t ? as_utf8_clean(p, t, len, 0, NULL) : NULL;
    }
    if (!t) {
        return NULL;
    }
    out = apr_pstrdup(p, t);
    for (i = 0, k = 0; out[i]; i++) {
        if (!(out[i] == '\r' && out[i + 1] == '\n')) {
            out[k++] = out[i];
        }
    }
    out[k] = '\0';
    return out;
}

const char *item_uid_or_new(apr_pool_t *p, const char *uid)
{
    apr_uuid_t u;
    char *buf;
    if (uid && *uid) {
        return uid;
    }
    apr_uuid_get(&u);
    buf = apr_palloc(p, APR_UUID_FORMATTED_LENGTH + 1);
    apr_uuid_format(buf, &u);
    return buf;
}

const char *item_utc_str(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;
    apr_time_exp_gmt(&e, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", e.tm_year + 1900, e.tm_mon + 1,
                        e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec);
}

/* n decimal digits at *s, advancing it; -1 when they are not there. */
static int digits(const char **s, int n)
{
    int v = 0;
    while (n-- > 0) {
        if (**s < '0' || **s > '9') {
            return -1;
        }
        v = v * 10 + (*(*s)++ - '0');
    }
    return v;
}

int item_parse_datetime(const char *s, int *y, int *mo, int *d, int *h, int *mi, int *sec)
{
    if (!s) {
        return 0;
    }
    while (*s == ' ') {
        s++;
    }
    *y = digits(&s, 4);
    s += *s == '-';
    *mo = digits(&s, 2);
    s += *s == '-';
    *d = digits(&s, 2);
    *h = *mi = *sec = 0;
    if (*s == 'T' || *s == 't' || *s == ' ') {
        s++;
        *h = digits(&s, 2);
        s += *s == ':';
        *mi = digits(&s, 2);
        s += *s == ':';
        *sec = *s >= '0' && *s <= '9' ? digits(&s, 2) : 0;
    }
    return *y >= 0 && *mo >= 1 && *mo <= 12 && *d >= 1 && *d <= 31 && *h >= 0 && *h <= 24 &&
           *mi >= 0 && *mi <= 59 && *sec >= 0 && *sec <= 60;
}

const char **item_list_of(apr_pool_t *p, xmlNodePtr app, const char *ns, const char *list,
                          const char *child, int *present)
{
    xmlNodePtr l = as_xml_child(app, ns, list), c;
    const char **out = apr_pcalloc(p, (AS_ITEM_MAX_LIST + 1) * sizeof *out);
    int n = 0;

    *present = l != NULL;
    for (c = l ? l->children : NULL; c && n < AS_ITEM_MAX_LIST; c = c->next) {
        apr_size_t len = 0;
        const char *t;
        if (c->type != XML_ELEMENT_NODE || !as_xml_is(c, ns, child)) {
            continue;
        }
        t = as_xml_text(p, c, &len);
        if (t && len > 0) {
            out[n++] = clean_text(p, t, len, AS_ITEM_MAX_FIELD);
        }
    }
    return out;
}

void item_add_list(apr_pool_t *p, xmlNodePtr app, const char *ns, const char *list,
                   const char *child, const char *const *texts)
{
    xmlNodePtr l = NULL;
    int i;
    for (i = 0; texts && texts[i] && i < AS_ITEM_MAX_LIST; i++) {
        if (!*texts[i]) {
            continue;
        }
        if (!l) {
            l = as_xml_add(app, ns, list, NULL);
        }
        item_add_text(p, l, ns, child, texts[i]);
    }
}
