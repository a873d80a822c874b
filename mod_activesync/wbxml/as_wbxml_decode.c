/* WBXML decoder for Exchange ActiveSync: see as_wbxml.h for the tree it
 * produces.
 *
 * One pass over the input with an explicit element stack, no recursion.
 * Every length is checked against the bytes that remain before anything is
 * allocated; all memory comes from malloc/libxml2 so that AddressSanitizer
 * sees overruns (no APR pools here).  Element names are interned once per
 * process in the shared dictionary (as_wbxml_int.h); text is created
 * straight from the input when an element holds a single string. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/dict.h>

#include "activesync/as_base64.h"
#include "as_wbxml_int.h"

#define F_ELEM   1u /* element has child elements */
#define F_TEXT   2u /* element has string content */
#define F_OPAQUE 4u /* element has OPAQUE content */

#define PEND_NONE   0
#define PEND_TEXT   1
#define PEND_OPAQUE 2

typedef struct {
    xmlNodePtr node;
    unsigned flags;
} frame_t;

typedef struct {
    const as_wbxml_names_t *names;
    const unsigned char *buf, *p, *end;
    as_wbxml_limits_t lim;
    xmlDocPtr doc;
    xmlDictPtr dict;
    xmlNodePtr root;
    unsigned page;
    unsigned nelem;
    apr_size_t text_total;
    const unsigned char *strtbl;
    apr_size_t strtbl_len;
    xmlNsPtr ns[AS_CODEPAGE_COUNT];
    xmlNsPtr as_ns;
    /* stack of open elements */
    frame_t *stack;
    unsigned depth, stack_cap;
    /* content of the innermost open element not yet turned into a node:
     * a slice of the input while it is a single piece, else pbuf */
    int pend;
    const unsigned char *pend_ptr;
    apr_size_t pend_len;
    int pend_inbuf;
    unsigned char *pbuf;
    apr_size_t pbuf_cap;
} dec_t;

/* mb_u_int32: at most 5 bytes, value < 2^32. */
static as_wbxml_err_t mbuint(const unsigned char **pp, const unsigned char *end, apr_size_t *val)
{
    const unsigned char *p = *pp;
    uint32_t v = 0;
    int i;

    for (i = 0; i < 5; i++) {
        unsigned char c;
        if (p >= end) {
            *pp = p;
            return AS_WBXML_E_TRUNCATED;
        }
        c = *p++;
        if (i == 4 && ((c & 0x80) || (v >> 25) != 0)) {
            return AS_WBXML_E_INTEGER; /* longer than 5 bytes or 32 bits */
        }
        v = (v << 7) | (c & 0x7F);
        if (!(c & 0x80)) {
            *pp = p;
            *val = v;
            return AS_WBXML_OK;
        }
    }
    return AS_WBXML_E_INTEGER;
}

static as_wbxml_err_t get_mbuint(dec_t *d, apr_size_t *val)
{
    return mbuint(&d->p, d->end, val);
}

static as_wbxml_err_t pbuf_reserve(dec_t *d, apr_size_t need)
{
    if (need > d->pbuf_cap) {
        apr_size_t cap = d->pbuf_cap ? d->pbuf_cap : 256;
        unsigned char *nb;
        while (cap < need) {
            cap *= 2;
        }
        nb = xmlRealloc(d->pbuf, cap);
        if (!nb) {
            return AS_WBXML_E_NOMEM;
        }
        d->pbuf = nb;
        d->pbuf_cap = cap;
    }
    return AS_WBXML_OK;
}

static int all_blank(const unsigned char *s, apr_size_t n)
{
    apr_size_t i;
    for (i = 0; i < n; i++) {
        if (s[i] != ' ' && s[i] != '\t' && s[i] != '\n' && s[i] != '\r') {
            return 0;
        }
    }
    return 1;
}

/* Adds content to the innermost open element. */
static as_wbxml_err_t add_content(dec_t *d, const unsigned char *s, apr_size_t n, int kind)
{
    frame_t *f = &d->stack[d->depth - 1];

    if (kind == PEND_TEXT) {
        if (n == 0) {
            return AS_WBXML_OK; /* empty string: nothing */
        }
        if (f->flags & F_OPAQUE) {
            return AS_WBXML_E_STRUCTURE;
        }
        f->flags |= F_TEXT;
    } else {
        if (f->flags & (F_ELEM | F_TEXT)) {
            return AS_WBXML_E_STRUCTURE;
        }
        f->flags |= F_OPAQUE;
    }
    if (n > d->lim.max_size - d->text_total) {
        return AS_WBXML_E_LIMIT;
    }
    d->text_total += n;
    if (d->pend == PEND_NONE) {
        d->pend = kind;
        d->pend_ptr = s;
        d->pend_len = n;
        d->pend_inbuf = 0;
        return AS_WBXML_OK;
    }
    /* second piece: gather in pbuf (+1 for the NUL of the text node) */
    if (!d->pend_inbuf) {
        as_wbxml_err_t rv = pbuf_reserve(d, d->pend_len + n + 1);
        if (rv) {
            return rv;
        }
        memcpy(d->pbuf, d->pend_ptr, d->pend_len);
        d->pend_inbuf = 1;
    } else {
        as_wbxml_err_t rv = pbuf_reserve(d, d->pend_len + n + 1);
        if (rv) {
            return rv;
        }
    }
    memcpy(d->pbuf + d->pend_len, s, n);
    d->pend_len += n;
    return AS_WBXML_OK;
}

static as_wbxml_err_t add_text_node(dec_t *d, xmlNodePtr parent, xmlChar *owned,
                                    const unsigned char *s, apr_size_t n)
{
    xmlNodePtr t;

    if (owned) {
        t = xmlNewDocTextLen(d->doc, NULL, 0);
        if (!t) {
            xmlFree(owned);
            return AS_WBXML_E_NOMEM;
        }
        t->content = owned;
    } else {
        if (n > INT32_MAX) {
            return AS_WBXML_E_LIMIT;
        }
        t = xmlNewDocTextLen(d->doc, s, (int)n);
        if (!t) {
            return AS_WBXML_E_NOMEM;
        }
    }
    t->parent = parent;
    if (parent->last) {
        parent->last->next = t;
        t->prev = parent->last;
    } else {
        parent->children = t;
    }
    parent->last = t;
    return AS_WBXML_OK;
}

/* Turns pending content into nodes.  child_follows: an element starts next
 * (whitespace-only text between elements is dropped: no mixed content). */
static as_wbxml_err_t flush(dec_t *d, int child_follows)
{
    frame_t *f = &d->stack[d->depth - 1];
    const unsigned char *s = d->pend_inbuf ? d->pbuf : d->pend_ptr;
    apr_size_t n = d->pend_len;
    as_wbxml_err_t rv = AS_WBXML_OK;
    int kind = d->pend;

    if (kind == PEND_NONE) {
        return AS_WBXML_OK;
    }
    d->pend = PEND_NONE;
    d->pend_inbuf = 0;
    d->pend_len = 0;
    if (kind == PEND_TEXT) {
        if ((child_follows || (f->flags & F_ELEM)) && all_blank(s, n)) {
            return AS_WBXML_OK;
        }
        if (s == d->pbuf) {
            /* hand the buffer over to the node unless it is much too big */
            xmlChar *owned = d->pbuf;
            if (d->pbuf_cap > 2 * (n + 1) + 64) {
                if (n > INT32_MAX) {
                    return AS_WBXML_E_LIMIT;
                }
                owned = xmlStrndup(d->pbuf, (int)n);
                if (!owned) {
                    return AS_WBXML_E_NOMEM;
                }
            } else {
                owned[n] = '\0';
                d->pbuf = NULL;
                d->pbuf_cap = 0;
            }
            return add_text_node(d, f->node, owned, NULL, 0);
        }
        return add_text_node(d, f->node, NULL, s, n);
    }
    /* OPAQUE: mark the element, content as base64 */
    if (!d->as_ns) {
        d->as_ns = xmlNewNs(d->root, BAD_CAST AS_WBXML_NS_INTERNAL, BAD_CAST AS_WBXML_NS_PREFIX);
        if (!d->as_ns) {
            return AS_WBXML_E_NOMEM;
        }
    }
    if (!xmlNewNsProp(f->node, d->as_ns, BAD_CAST AS_WBXML_OPAQUE_ATTR, BAD_CAST "base64")) {
        return AS_WBXML_E_NOMEM;
    }
    if (n > 0) {
        apr_size_t blen = AS_B64_ENCODED_LEN(n);
        xmlChar *b64;
        if (blen > INT32_MAX) {
            return AS_WBXML_E_LIMIT;
        }
        b64 = xmlMalloc(blen + 1);
        if (!b64) {
            return AS_WBXML_E_NOMEM;
        }
        as_b64_encode(s, n, (char *)b64, 0);
        rv = add_text_node(d, f->node, b64, NULL, 0);
    }
    return rv;
}

static as_wbxml_err_t set_page_ns(dec_t *d, xmlNodePtr node, unsigned page)
{
    if (!d->ns[page]) {
        const as_codepage_t *cp = as_codepage(page);
        if (!cp) {
            return AS_WBXML_E_PAGE;
        }
        /* the root's page is the default namespace, the others prefixed */
        d->ns[page] = xmlNewNs(d->root ? d->root : node, BAD_CAST cp->ns,
                               d->root ? BAD_CAST cp->prefix : NULL);
        if (!d->ns[page]) {
            return AS_WBXML_E_NOMEM;
        }
    }
    xmlSetNs(node, d->ns[page]);
    return AS_WBXML_OK;
}

static as_wbxml_err_t start_element(dec_t *d, unsigned char b)
{
    unsigned token = b & WB_TAG_MASK;
    const xmlChar *name = d->names->names[d->page][token];
    xmlNodePtr node;
    as_wbxml_err_t rv;

    if (b & WB_TAG_ATTRS) {
        return AS_WBXML_E_ATTR;
    }
    if (!name) {
        const char *n = as_codepage_tag_name(d->page, token);
        if (!n) {
            return AS_WBXML_E_TOKEN;
        }
        /* only without the shared dictionary */
        name = xmlDictLookup(d->dict, BAD_CAST n, -1);
        if (!name) {
            return AS_WBXML_E_NOMEM;
        }
    }
    if (d->depth == 0 && d->root) {
        return AS_WBXML_E_STRUCTURE; /* second root */
    }
    if (d->depth + 1 > d->lim.max_depth || d->nelem >= d->lim.max_elements) {
        return AS_WBXML_E_LIMIT;
    }
    if (d->depth > 0) {
        frame_t *f = &d->stack[d->depth - 1];
        if (f->flags & F_OPAQUE) {
            return AS_WBXML_E_STRUCTURE;
        }
        rv = flush(d, 1);
        if (rv) {
            return rv;
        }
        f->flags |= F_ELEM;
    }
    node = xmlNewDocNodeEatName(d->doc, NULL, (xmlChar *)name, NULL);
    if (!node) {
        return AS_WBXML_E_NOMEM;
    }
    d->nelem++;
    if (d->depth == 0) {
        xmlDocSetRootElement(d->doc, node);
        rv = set_page_ns(d, node, d->page);
        d->root = node;
    } else {
        xmlNodePtr parent = d->stack[d->depth - 1].node;
        node->parent = parent;
        if (parent->last) {
            parent->last->next = node;
            node->prev = parent->last;
        } else {
            parent->children = node;
        }
        parent->last = node;
        rv = set_page_ns(d, node, d->page);
    }
    if (rv) {
        return rv;
    }
    if (b & WB_TAG_CONTENT) {
        if (d->depth == d->stack_cap) {
            unsigned cap = d->stack_cap ? d->stack_cap * 2 : 16;
            frame_t *ns = realloc(d->stack, cap * sizeof(*ns));
            if (!ns) {
                return AS_WBXML_E_NOMEM;
            }
            d->stack = ns;
            d->stack_cap = cap;
        }
        d->stack[d->depth].node = node;
        d->stack[d->depth].flags = 0;
        d->depth++;
    }
    return AS_WBXML_OK;
}

static as_wbxml_err_t decode_header(dec_t *d)
{
    apr_size_t publicid, pubidx = 0, charset, tbl;
    as_wbxml_err_t rv;
    int literal_pubid = 0;

    if (d->p >= d->end) {
        return AS_WBXML_E_TRUNCATED;
    }
    if (*d->p < 0x01 || *d->p > 0x03) {
        return AS_WBXML_E_HEADER;
    }
    d->p++;
    if ((rv = get_mbuint(d, &publicid))) {
        return rv;
    }
    if (publicid == 0) {
        literal_pubid = 1;
        if ((rv = get_mbuint(d, &pubidx))) {
            return rv;
        }
    }
    if ((rv = get_mbuint(d, &charset))) {
        return rv;
    }
    if (charset != WB_CHARSET_UTF8) {
        return AS_WBXML_E_HEADER;
    }
    if ((rv = get_mbuint(d, &tbl))) {
        return rv;
    }
    if (tbl > (apr_size_t)(d->end - d->p)) {
        return AS_WBXML_E_STRTBL;
    }
    d->strtbl = d->p;
    d->strtbl_len = tbl;
    d->p += tbl;
    if (tbl > 0) {
        /* every string of the table is UTF-8; references must then start
         * on a character boundary (checked when used) */
        const unsigned char *s = d->strtbl, *e = d->strtbl + tbl;
        while (s < e) {
            const unsigned char *z = memchr(s, 0, (size_t)(e - s));
            const unsigned char *se = z ? z : e;
            if (!as_wbxml_utf8_valid(s, (size_t)(se - s))) {
                return AS_WBXML_E_UTF8;
            }
            s = se + 1;
        }
    }
    if (literal_pubid) {
        if (pubidx >= tbl || !memchr(d->strtbl + pubidx, 0, tbl - pubidx)) {
            return AS_WBXML_E_STRTBL;
        }
    }
    return AS_WBXML_OK;
}

static as_wbxml_err_t dec_switch_page(dec_t *d)
{
    if (d->end - d->p < 2) {
        d->p = d->end;
        return AS_WBXML_E_TRUNCATED;
    }
    if (d->p[1] >= AS_CODEPAGE_COUNT || !as_codepage(d->p[1])) {
        return AS_WBXML_E_PAGE;
    }
    d->page = d->p[1];
    d->p += 2;
    return AS_WBXML_OK;
}

/* END of the innermost open element; *done when it was the root. */
static as_wbxml_err_t dec_end(dec_t *d, int *done)
{
    as_wbxml_err_t rv;

    if (d->depth == 0) {
        return AS_WBXML_E_STRUCTURE;
    }
    if ((rv = flush(d, 0))) {
        return rv;
    }
    d->depth--;
    d->p++;
    *done = d->depth == 0;
    return AS_WBXML_OK;
}

/* STR_I: an inline NUL-terminated string. */
static as_wbxml_err_t dec_str_i(dec_t *d)
{
    const unsigned char *s = d->p + 1, *z;
    as_wbxml_err_t rv;

    if (d->depth == 0) {
        return AS_WBXML_E_STRUCTURE;
    }
    z = memchr(s, 0, (size_t)(d->end - s));
    if (!z) {
        d->p = d->end;
        return AS_WBXML_E_TRUNCATED;
    }
    if (!as_wbxml_utf8_valid(s, (size_t)(z - s))) {
        return AS_WBXML_E_UTF8;
    }
    if ((rv = add_content(d, s, (apr_size_t)(z - s), PEND_TEXT))) {
        return rv;
    }
    d->p = z + 1;
    return AS_WBXML_OK;
}

/* STR_T: a reference into the string table.  Errors after the index leave
 * d->p at the token (the offset reported). */
static as_wbxml_err_t dec_str_t(dec_t *d)
{
    const unsigned char *tok = d->p, *s, *z;
    apr_size_t idx;
    as_wbxml_err_t rv;

    if (d->depth == 0) {
        return AS_WBXML_E_STRUCTURE;
    }
    d->p++;
    if ((rv = get_mbuint(d, &idx))) {
        if (rv != AS_WBXML_E_TRUNCATED) {
            d->p = tok;
        }
        return rv;
    }
    if (idx >= d->strtbl_len) {
        d->p = tok;
        return AS_WBXML_E_STRTBL;
    }
    s = d->strtbl + idx;
    z = memchr(s, 0, d->strtbl_len - idx);
    if (!z) {
        d->p = tok;
        return AS_WBXML_E_STRTBL;
    }
    if ((*s & 0xC0) == 0x80) {
        d->p = tok;
        return AS_WBXML_E_UTF8; /* middle of a character */
    }
    if ((rv = add_content(d, s, (apr_size_t)(z - s), PEND_TEXT))) {
        d->p = tok;
        return rv;
    }
    return AS_WBXML_OK;
}

/* OPAQUE: a length and that many bytes. */
static as_wbxml_err_t dec_opaque(dec_t *d)
{
    const unsigned char *tok = d->p;
    apr_size_t n;
    as_wbxml_err_t rv;

    if (d->depth == 0) {
        return AS_WBXML_E_STRUCTURE;
    }
    d->p++;
    if ((rv = get_mbuint(d, &n))) {
        if (rv != AS_WBXML_E_TRUNCATED) {
            d->p = tok;
        }
        return rv;
    }
    if (n > (apr_size_t)(d->end - d->p)) {
        d->p = d->end;
        return AS_WBXML_E_TRUNCATED;
    }
    if ((rv = add_content(d, d->p, n, PEND_OPAQUE))) {
        d->p = tok;
        return rv;
    }
    d->p += n;
    return AS_WBXML_OK;
}

/* A tag (or an unused global token) at d->p; *done when the root element
 * was an empty one. */
static as_wbxml_err_t dec_tag(dec_t *d, unsigned char b, int *done)
{
    as_wbxml_err_t rv;

    switch (b) {
    case WB_LITERAL_A:
    case WB_LITERAL_AC:
        return AS_WBXML_E_ATTR;
    case WB_ENTITY:
    case WB_LITERAL:
    case WB_EXT_I_0:
    case WB_EXT_I_1:
    case WB_EXT_I_2:
    case WB_PI:
    case WB_LITERAL_C:
    case WB_EXT_T_0:
    case WB_EXT_T_1:
    case WB_EXT_T_2:
    case WB_EXT_0:
    case WB_EXT_1:
    case WB_EXT_2:
        return AS_WBXML_E_EXT;
    default:
        break;
    }
    if ((rv = start_element(d, b))) {
        return rv;
    }
    d->p++;
    *done = d->depth == 0;
    return AS_WBXML_OK;
}

/* Tokens up to the end of the root element. */
static as_wbxml_err_t decode_body(dec_t *d)
{
    as_wbxml_err_t rv;
    int done = 0;

    while (!done) {
        if (d->p >= d->end) {
            return AS_WBXML_E_TRUNCATED; /* no root yet, or elements open */
        }
        switch (*d->p) {
        case WB_SWITCH_PAGE:
            rv = dec_switch_page(d);
            break;
        case WB_END:
            rv = dec_end(d, &done);
            break;
        case WB_STR_I:
            rv = dec_str_i(d);
            break;
        case WB_STR_T:
            rv = dec_str_t(d);
            break;
        case WB_OPAQUE:
            rv = dec_opaque(d);
            break;
        default:
            rv = dec_tag(d, *d->p, &done);
            break;
        }
        if (rv) {
            return rv;
        }
    }
    return AS_WBXML_OK;
}

as_wbxml_err_t as_wbxml_decode(const unsigned char *buf, apr_size_t len,
                               const as_wbxml_limits_t *lim, xmlDocPtr *doc, apr_size_t *err_offset)
{
    dec_t dd, *d = &dd;
    as_wbxml_err_t rv;

    *doc = NULL;
    if (err_offset) {
        *err_offset = 0;
    }
    memset(d, 0, sizeof(*d));
    if (lim) {
        d->lim = *lim;
    } else {
        as_wbxml_limits_default(&d->lim);
    }
    if (!buf && len) {
        return AS_WBXML_E_TRUNCATED;
    }
    if (len > d->lim.max_size) {
        return AS_WBXML_E_LIMIT;
    }
    d->buf = d->p = buf;
    d->end = buf + len;
    d->names = as_wbxml_names();

    d->doc = xmlNewDoc(BAD_CAST "1.0");
    d->dict = d->names->names_dict ? xmlDictCreateSub(d->names->names_dict) : xmlDictCreate();
    if (!d->doc || !d->dict) {
        rv = AS_WBXML_E_NOMEM;
        goto done;
    }
    d->doc->dict = d->dict; /* freed with the document from now on */

    if ((rv = decode_header(d)) == AS_WBXML_OK && (rv = decode_body(d)) == AS_WBXML_OK) {
        if (d->p != d->end) {
            rv = AS_WBXML_E_STRUCTURE; /* bytes after the root element */
        }
    }

done:
    if (rv == AS_WBXML_OK) {
        *doc = d->doc;
    } else {
        if (err_offset) {
            *err_offset = (apr_size_t)(d->p - d->buf);
        }
        if (d->doc) {
            xmlFreeDoc(d->doc); /* and the dictionary: attached when both exist */
        } else if (d->dict) {
            xmlDictFree(d->dict);
        }
    }
    xmlFree(d->pbuf);
    free(d->stack);
    return rv;
}

int as_wbxml_looks_like(const unsigned char *buf, apr_size_t len)
{
    const unsigned char *p, *end;
    apr_size_t v;

    if (!buf || len < 4 || buf[0] < 0x01 || buf[0] > 0x03) {
        return 0;
    }
    p = buf + 1;
    end = buf + len;
    if (mbuint(&p, end, &v) || (v == 0 && mbuint(&p, end, &v))) {
        return 0;
    }
    return mbuint(&p, end, &v) == AS_WBXML_OK && v == WB_CHARSET_UTF8;
}
