/* WBXML codec for Exchange ActiveSync: see as_wbxml.h for the tree it
 * produces and accepts.
 *
 * Decoder: one pass over the input with an explicit element stack, no
 * recursion.  Every length is checked against the bytes that remain before
 * anything is allocated; all memory comes from malloc/libxml2 so that
 * AddressSanitizer sees overruns (no APR pools here).  Element names are
 * interned once per document in its dictionary; text is created straight
 * from the input when an element holds a single string.
 *
 * Encoder: an iterative walk over the tree (parent pointers, no stack),
 * token lookup through a hash table built once from as_codepages.h, output
 * into a doubling malloc buffer.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <libxml/tree.h>
#include <libxml/dict.h>

#include "activesync/as_base64.h"
#include "activesync/as_codepages.h"
#include "activesync/as_wbxml.h"

#define WB_SWITCH_PAGE 0x00
#define WB_END         0x01
#define WB_ENTITY      0x02
#define WB_STR_I       0x03
#define WB_LITERAL     0x04
#define WB_EXT_I_0     0x40
#define WB_EXT_I_1     0x41
#define WB_EXT_I_2     0x42
#define WB_PI          0x43
#define WB_LITERAL_C   0x44
#define WB_EXT_T_0     0x80
#define WB_EXT_T_1     0x81
#define WB_EXT_T_2     0x82
#define WB_STR_T       0x83
#define WB_LITERAL_A   0x84
#define WB_EXT_0       0xC0
#define WB_EXT_1       0xC1
#define WB_EXT_2       0xC2
#define WB_OPAQUE      0xC3
#define WB_LITERAL_AC  0xC4

#define WB_TAG_CONTENT 0x40
#define WB_TAG_ATTRS   0x80
#define WB_TAG_MASK    0x3F

#define WB_CHARSET_UTF8 106

void as_wbxml_limits_default(as_wbxml_limits_t *lim)
{
    lim->max_size = (apr_size_t)32 << 20;
    lim->max_depth = 64;
    lim->max_elements = 500000;
}

const char *as_wbxml_strerror(as_wbxml_err_t err)
{
    switch (err) {
    case AS_WBXML_OK:
        return "success";
    case AS_WBXML_E_TRUNCATED:
        return "WBXML input ends inside a token or an element";
    case AS_WBXML_E_HEADER:
        return "WBXML header not acceptable (version, public id or charset)";
    case AS_WBXML_E_STRTBL:
        return "WBXML string table malformed or referenced outside its bounds";
    case AS_WBXML_E_TOKEN:
        return "unknown WBXML tag on its code page";
    case AS_WBXML_E_PAGE:
        return "WBXML SWITCH_PAGE to a code page that does not exist";
    case AS_WBXML_E_ATTR:
        return "WBXML attributes are not used by ActiveSync";
    case AS_WBXML_E_EXT:
        return "WBXML ENTITY, PI, EXT or LITERAL token not used by ActiveSync";
    case AS_WBXML_E_STRUCTURE:
        return "WBXML document structure malformed";
    case AS_WBXML_E_UTF8:
        return "string is not valid UTF-8";
    case AS_WBXML_E_LIMIT:
        return "WBXML document over a size, depth or element limit";
    case AS_WBXML_E_INTEGER:
        return "WBXML multi-byte integer too long";
    case AS_WBXML_E_NOMEM:
        return "out of memory";
    case AS_WBXML_E_TREE:
        return "document cannot be encoded as ActiveSync WBXML";
    }
    return "unknown WBXML error";
}

/* ---- shared helpers ------------------------------------------------------ */

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static int utf8_valid(const unsigned char *s, size_t n)
{
    const unsigned char *end = s + n;

    while (s < end) {
        unsigned c;
        /* ASCII fast path, 8 bytes at a time. */
        while ((size_t)(end - s) >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (w & UINT64_C(0x8080808080808080)) {
                break;
            }
            s += 8;
        }
        if (s >= end) {
            break;
        }
        c = *s;
        if (c < 0x80) {
            s++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (end - s < 2 || (s[1] & 0xC0) != 0x80) {
                return 0;
            }
            s += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (end - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) {
                return 0;
            }
            if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F)) {
                return 0; /* overlong, surrogate */
            }
            s += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (end - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
                (s[3] & 0xC0) != 0x80) {
                return 0;
            }
            if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F)) {
                return 0; /* overlong, > U+10FFFF */
            }
            s += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* ---- code-page tables ------------------------------------------------------ */

/* Name -> token: open addressing over every (page, name) of as_codepages. */
#define TAGHASH_SIZE 2048 /* power of two, > 2 * number of tags */

typedef struct {
    const char *name; /* NULL: free slot */
    unsigned char page;
    unsigned char token;
} taghash_ent_t;

static taghash_ent_t taghash[TAGHASH_SIZE];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* Token -> name, interned in a dictionary shared (read-only) by every
 * decoded document: each document's own dictionary is a sub-dictionary of
 * it, so element names cost neither a copy nor a lookup per element, and
 * insertions (by whoever edits the tree later) go to the document's own. */
static xmlDictPtr names_dict;
static const xmlChar *tag_names[AS_CODEPAGE_COUNT][64];

/* (interned name pointer, page) -> token, for trees this decoder built:
 * their element names are the very pointers of tag_names. */
#define PTRHASH_SIZE 2048 /* power of two, > 2 * number of tags */

static struct {
    const xmlChar *name;
    unsigned char page;
    unsigned char token;
} ptrhash[PTRHASH_SIZE];

static unsigned ptrhash_fn(const xmlChar *name, unsigned page)
{
    uintptr_t v = (uintptr_t)name >> 3;
    return (unsigned)((v ^ (v >> 17) ^ (page << 5)) * 2654435761u) >> 21;
}

static unsigned taghash_fn(unsigned page, const unsigned char *name)
{
    unsigned h = 2166136261u ^ (page * 16777619u);
    while (*name) {
        h = (h ^ *name++) * 16777619u;
    }
    return h ^ (h >> 15);
}

static void tables_init(void)
{
    unsigned page;
    size_t i;

    names_dict = xmlDictCreate(); /* never freed; NULL: no sharing */

    for (page = 0; page < AS_CODEPAGE_COUNT; page++) {
        const as_codepage_t *cp = as_codepage(page);
        if (!cp) {
            continue;
        }
        for (i = 0; i < cp->ntags; i++) {
            unsigned h;
            if (!cp->tags[i].name) {
                continue;
            }
            h = taghash_fn(page, (const unsigned char *)cp->tags[i].name) & (TAGHASH_SIZE - 1);
            while (taghash[h].name) {
                h = (h + 1) & (TAGHASH_SIZE - 1);
            }
            taghash[h].name = cp->tags[i].name;
            taghash[h].page = (unsigned char)page;
            taghash[h].token = cp->tags[i].token;
            if (names_dict && cp->tags[i].token < 64) {
                const xmlChar *in = xmlDictLookup(names_dict, BAD_CAST cp->tags[i].name, -1);
                tag_names[page][cp->tags[i].token] = in;
                if (in) {
                    h = ptrhash_fn(in, page) & (PTRHASH_SIZE - 1);
                    while (ptrhash[h].name) {
                        h = (h + 1) & (PTRHASH_SIZE - 1);
                    }
                    ptrhash[h].name = in;
                    ptrhash[h].page = (unsigned char)page;
                    ptrhash[h].token = cp->tags[i].token;
                }
            }
        }
    }
    if (names_dict) {
        /* the marker attribute's name too: decoding never writes to the
         * document's own dictionary */
        (void)xmlDictLookup(names_dict, BAD_CAST AS_WBXML_OPAQUE_ATTR, -1);
    }
}

static int tag_token(unsigned page, const xmlChar *name)
{
    unsigned h = ptrhash_fn(name, page) & (PTRHASH_SIZE - 1);

    while (ptrhash[h].name) {
        if (ptrhash[h].name == name && ptrhash[h].page == page) {
            return ptrhash[h].token;
        }
        h = (h + 1) & (PTRHASH_SIZE - 1);
    }
    h = taghash_fn(page, name) & (TAGHASH_SIZE - 1);

    while (taghash[h].name) {
        if (taghash[h].page == page && !strcmp(taghash[h].name, (const char *)name)) {
            return taghash[h].token;
        }
        h = (h + 1) & (TAGHASH_SIZE - 1);
    }
    return -1;
}

/* ---- decoder ------------------------------------------------------------- */

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
    const xmlChar *name = tag_names[d->page][token];
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
            if (!utf8_valid(s, (size_t)(se - s))) {
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

static as_wbxml_err_t decode_body(dec_t *d)
{
    as_wbxml_err_t rv;

    for (;;) {
        const unsigned char *tok = d->p;
        unsigned char b;

        if (d->p >= d->end) {
            return AS_WBXML_E_TRUNCATED; /* no root yet, or elements open */
        }
        b = *d->p;
        switch (b) {
        case WB_SWITCH_PAGE:
            if (d->end - d->p < 2) {
                d->p = d->end;
                return AS_WBXML_E_TRUNCATED;
            }
            if (d->p[1] >= AS_CODEPAGE_COUNT || !as_codepage(d->p[1])) {
                return AS_WBXML_E_PAGE;
            }
            d->page = d->p[1];
            d->p += 2;
            break;
        case WB_END:
            if (d->depth == 0) {
                return AS_WBXML_E_STRUCTURE;
            }
            if ((rv = flush(d, 0))) {
                return rv;
            }
            d->depth--;
            d->p++;
            if (d->depth == 0) {
                return AS_WBXML_OK;
            }
            break;
        case WB_STR_I: {
            const unsigned char *s = d->p + 1, *z;
            if (d->depth == 0) {
                return AS_WBXML_E_STRUCTURE;
            }
            z = memchr(s, 0, (size_t)(d->end - s));
            if (!z) {
                d->p = d->end;
                return AS_WBXML_E_TRUNCATED;
            }
            if (!utf8_valid(s, (size_t)(z - s))) {
                return AS_WBXML_E_UTF8;
            }
            if ((rv = add_content(d, s, (apr_size_t)(z - s), PEND_TEXT))) {
                return rv;
            }
            d->p = z + 1;
            break;
        }
        case WB_STR_T: {
            apr_size_t idx;
            const unsigned char *s, *z;
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
            break;
        }
        case WB_OPAQUE: {
            apr_size_t n;
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
            break;
        }
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
            if ((rv = start_element(d, b))) {
                return rv;
            }
            d->p++;
            if (d->depth == 0) {
                return AS_WBXML_OK; /* the root was an empty element */
            }
            break;
        }
    }
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
    pthread_once(&tables_once, tables_init);

    d->doc = xmlNewDoc(BAD_CAST "1.0");
    d->dict = names_dict ? xmlDictCreateSub(names_dict) : xmlDictCreate();
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

/* ---- encoder ------------------------------------------------------------- */

typedef struct {
    unsigned char *b;
    apr_size_t len, cap, max;
    as_wbxml_err_t err;
} obuf_t;

static int ob_grow(obuf_t *o, apr_size_t n)
{
    apr_size_t cap;
    unsigned char *nb;

    if (o->err) {
        return 0;
    }
    if (n > o->max - o->len) {
        o->err = AS_WBXML_E_LIMIT;
        return 0;
    }
    cap = o->cap ? o->cap : 512;
    while (cap - o->len < n && cap <= o->max / 2) {
        cap *= 2;
    }
    if (cap > o->max || cap - o->len < n) {
        cap = o->max; /* the fast path in ob_need then never passes max */
    }
    nb = realloc(o->b, cap);
    if (!nb) {
        o->err = AS_WBXML_E_NOMEM;
        return 0;
    }
    o->b = nb;
    o->cap = cap;
    return 1;
}

static inline int ob_need(obuf_t *o, apr_size_t n)
{
    return (o->cap - o->len >= n && !o->err) || ob_grow(o, n);
}

static inline void ob_byte(obuf_t *o, unsigned char c)
{
    if (ob_need(o, 1)) {
        o->b[o->len++] = c;
    }
}

static void ob_mem(obuf_t *o, const void *s, apr_size_t n)
{
    if (ob_need(o, n)) {
        memcpy(o->b + o->len, s, n);
        o->len += n;
    }
}

static void ob_mbuint(obuf_t *o, apr_size_t v)
{
    unsigned char tmp[5];
    int i = 5;

    tmp[--i] = (unsigned char)(v & 0x7F);
    v >>= 7;
    while (v && i > 0) {
        tmp[--i] = (unsigned char)(0x80 | (v & 0x7F));
        v >>= 7;
    }
    ob_mem(o, tmp + i, (apr_size_t)(5 - i));
}

#define NS_CACHE   8
#define NAME_CACHE 64 /* power of two */

typedef struct {
    obuf_t out;
    as_wbxml_limits_t lim;
    unsigned page;
    unsigned nelem;
    /* namespace -> page, for the last few namespace nodes */
    xmlNsPtr ns_ptr[NS_CACHE];
    int ns_page[NS_CACHE];
    unsigned ns_next;
    /* (name pointer, page) -> token, direct-mapped: names in parsed or
     * decoded trees are interned, so the pointer identifies the name */
    struct {
        const xmlChar *name;
        int page;
        int token;
    } name_cache[NAME_CACHE];
} enc_t;

/* all_blank() for a NUL-terminated string; stops at the first non-blank */
static int blank_str(const xmlChar *s)
{
    for (; *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            return 0;
        }
    }
    return 1;
}

static int is_textish(xmlNodePtr c)
{
    return c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE;
}

static int is_skipped(xmlNodePtr c)
{
    return c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE || c->type == XML_XINCLUDE_START ||
           c->type == XML_XINCLUDE_END;
}

static int ns_page(enc_t *e, xmlNsPtr ns)
{
    unsigned i;
    int page;

    if (!ns || !ns->href) {
        return -1;
    }
    for (i = 0; i < NS_CACHE; i++) {
        if (e->ns_ptr[i] == ns) {
            return e->ns_page[i];
        }
    }
    page = as_codepage_by_ns((const char *)ns->href);
    i = e->ns_next++ % NS_CACHE;
    e->ns_ptr[i] = ns;
    e->ns_page[i] = page;
    return page;
}

static int name_token(enc_t *e, int page, const xmlChar *name)
{
    unsigned slot = (unsigned)(((uintptr_t)name >> 4) ^ ((uintptr_t)name >> 10) ^ (unsigned)page) &
                    (NAME_CACHE - 1);

    if (e->name_cache[slot].name != name || e->name_cache[slot].page != page) {
        e->name_cache[slot].name = name;
        e->name_cache[slot].page = page;
        e->name_cache[slot].token = tag_token((unsigned)page, name);
    }
    return e->name_cache[slot].token;
}

static int is_opaque_attr(xmlAttrPtr a)
{
    return a->ns && a->ns->href && !strcmp((const char *)a->ns->href, AS_WBXML_NS_INTERNAL) &&
           !strcmp((const char *)a->name, AS_WBXML_OPAQUE_ATTR);
}

/* The opaque marker of element n: 1 marked, 0 not, -1 bad attributes. */
static int opaque_mark(xmlNodePtr n)
{
    xmlAttrPtr a;
    int mark = 0;

    for (a = n->properties; a; a = a->next) {
        xmlNodePtr v;
        if (!is_opaque_attr(a)) {
            return -1;
        }
        v = a->children;
        if (!v || v->next || v->type != XML_TEXT_NODE || !v->content ||
            strcmp((const char *)v->content, "base64")) {
            return -1;
        }
        mark = 1;
    }
    return mark;
}

/* Writes the OPAQUE content of a marked element (after its tag). */
static as_wbxml_err_t enc_opaque(enc_t *e, xmlNodePtr n)
{
    xmlNodePtr c;
    apr_size_t total = 0, olen = 0;
    unsigned char *raw, *out;
    int ok;

    for (c = n->children; c; c = c->next) {
        if (is_textish(c)) {
            total += c->content ? strlen((const char *)c->content) : 0;
        } else if (!is_skipped(c)) {
            return AS_WBXML_E_TREE;
        }
    }
    raw = malloc(total + 1);
    out = malloc(total / 4 * 3 + 3);
    if (!raw || !out) {
        free(raw);
        free(out);
        return AS_WBXML_E_NOMEM;
    }
    total = 0;
    for (c = n->children; c; c = c->next) {
        if (is_textish(c) && c->content) {
            apr_size_t l = strlen((const char *)c->content);
            memcpy(raw + total, c->content, l);
            total += l;
        }
    }
    ok = as_b64_decode(raw, total, out, &olen, AS_B64_BLANKS);
    free(raw);
    if (!ok) {
        free(out);
        return AS_WBXML_E_TREE;
    }
    ob_byte(&e->out, WB_OPAQUE);
    ob_mbuint(&e->out, olen);
    ob_mem(&e->out, out, olen);
    free(out);
    return e->out.err;
}

/* Scans the children of n: element children? significant text? */
static void scan_children(xmlNodePtr n, int *has_elem, int *has_text)
{
    xmlNodePtr c;
    int text = 0, elem = 0, nonblank = 0;

    for (c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            elem = 1;
        } else if (is_textish(c) && c->content && c->content[0]) {
            text = 1;
            if (!nonblank && !blank_str(c->content)) {
                nonblank = 1;
            }
        }
    }
    *has_elem = elem;
    /* with element children, blank text is indentation */
    *has_text = elem ? nonblank : text;
}

/* Writes a run of adjacent text nodes starting at *pc as one STR_I (or
 * nothing when the parent has element children and the run is blank);
 * leaves *pc at the first node after the run. */
static as_wbxml_err_t enc_text_run(enc_t *e, xmlNodePtr *pc, int parent_has_elem)
{
    xmlNodePtr c, start = *pc;
    int blank = 1, any = 0;

    for (c = start; c && (is_textish(c) || is_skipped(c)); c = c->next) {
        if (is_textish(c) && c->content && c->content[0]) {
            any = 1;
            if (blank && !blank_str(c->content)) {
                blank = 0;
            }
        }
    }
    *pc = c;
    if (!any || (parent_has_elem && blank)) {
        return AS_WBXML_OK;
    }
    ob_byte(&e->out, WB_STR_I);
    for (c = start; c != *pc; c = c->next) {
        if (is_textish(c) && c->content) {
            apr_size_t l = strlen((const char *)c->content);
            if (!utf8_valid(c->content, l)) {
                return AS_WBXML_E_UTF8;
            }
            ob_mem(&e->out, c->content, l);
        }
    }
    ob_byte(&e->out, 0);
    return e->out.err;
}

/* Writes the tag of element n.  *descend: its children must be walked;
 * *has_elem: it has element children. */
static as_wbxml_err_t enc_start(enc_t *e, xmlNodePtr n, unsigned depth, int *descend, int *has_elem)
{
    int page, token, mark, has_text;
    unsigned char tag;

    *descend = 0;
    *has_elem = 0;
    if (depth > e->lim.max_depth || e->nelem >= e->lim.max_elements) {
        return AS_WBXML_E_LIMIT;
    }
    e->nelem++;
    page = ns_page(e, n->ns);
    if (page < 0) {
        return AS_WBXML_E_TREE;
    }
    token = name_token(e, page, n->name);
    if (token < 0) {
        return AS_WBXML_E_TREE;
    }
    mark = n->properties ? opaque_mark(n) : 0;
    if (mark < 0) {
        return AS_WBXML_E_ATTR;
    }
    if ((unsigned)page != e->page) {
        ob_byte(&e->out, WB_SWITCH_PAGE);
        ob_byte(&e->out, (unsigned char)page);
        e->page = (unsigned)page;
    }
    tag = (unsigned char)token;
    if (mark) {
        as_wbxml_err_t rv;
        ob_byte(&e->out, tag | WB_TAG_CONTENT);
        if ((rv = enc_opaque(e, n))) {
            return rv;
        }
        ob_byte(&e->out, WB_END);
        return e->out.err;
    }
    scan_children(n, has_elem, &has_text);
    if (!*has_elem && !has_text) {
        xmlNodePtr c;
        for (c = n->children; c; c = c->next) {
            if (!is_textish(c) && !is_skipped(c)) {
                return AS_WBXML_E_TREE; /* entity references and the like */
            }
        }
        ob_byte(&e->out, tag);
        return e->out.err;
    }
    ob_byte(&e->out, tag | WB_TAG_CONTENT);
    *descend = 1;
    return e->out.err;
}

static as_wbxml_err_t encode_tree(enc_t *e, xmlNodePtr root)
{
    xmlNodePtr n = root, c;
    unsigned depth = 1;
    int descend, has_elem;
    as_wbxml_err_t rv;

enter:
    /* n: an element to write, at depth */
    if ((rv = enc_start(e, n, depth, &descend, &has_elem))) {
        return rv;
    }
    if (!descend) {
        goto next;
    }
    c = n->children;
    depth++;
walk:
    /* n: the open element (has_elem: it has element children), c: its next
     * child to write */
    while (c) {
        if (c->type == XML_ELEMENT_NODE) {
            n = c;
            goto enter;
        }
        if (is_textish(c) || is_skipped(c)) {
            if ((rv = enc_text_run(e, &c, has_elem))) {
                return rv;
            }
            continue;
        }
        return AS_WBXML_E_TREE; /* entity reference, ... */
    }
    ob_byte(&e->out, WB_END);
    depth--;
next:
    /* n has been written completely */
    if (n == root) {
        return e->out.err;
    }
    c = n->next;
    n = n->parent;
    has_elem = 1; /* n had at least this element child */
    goto walk;
}

as_wbxml_err_t as_wbxml_encode(xmlDocPtr doc, const as_wbxml_limits_t *lim, unsigned char **out,
                               apr_size_t *outlen)
{
    enc_t e;
    xmlNodePtr root;
    as_wbxml_err_t rv;

    *out = NULL;
    *outlen = 0;
    memset(&e, 0, sizeof(e));
    if (lim) {
        e.lim = *lim;
    } else {
        as_wbxml_limits_default(&e.lim);
    }
    pthread_once(&tables_once, tables_init);
    root = doc ? xmlDocGetRootElement(doc) : NULL;
    if (!root) {
        return AS_WBXML_E_TREE;
    }
    e.out.max = e.lim.max_size;
    /* header: WBXML 1.3, public id 1 (unknown), UTF-8, no string table */
    ob_byte(&e.out, 0x03);
    ob_byte(&e.out, 0x01);
    ob_byte(&e.out, WB_CHARSET_UTF8);
    ob_byte(&e.out, 0x00);
    rv = e.out.err ? e.out.err : encode_tree(&e, root);
    if (rv) {
        free(e.out.b);
        return rv;
    }
    *out = e.out.b;
    *outlen = e.out.len;
    return AS_WBXML_OK;
}

as_wbxml_err_t as_wbxml_encode_pool(xmlDocPtr doc, const as_wbxml_limits_t *lim, apr_pool_t *p,
                                    const unsigned char **out, apr_size_t *outlen)
{
    unsigned char *b;
    apr_size_t n;
    as_wbxml_err_t rv = as_wbxml_encode(doc, lim, &b, &n);

    *out = NULL;
    *outlen = 0;
    if (rv) {
        return rv;
    }
    *out = apr_pmemdup(p, b, n);
    free(b);
    if (!*out) {
        return AS_WBXML_E_NOMEM;
    }
    *outlen = n;
    return AS_WBXML_OK;
}

/* ---- opaque helpers ------------------------------------------------------ */

int as_wbxml_is_opaque(xmlNodePtr node)
{
    xmlAttrPtr a;

    if (!node || node->type != XML_ELEMENT_NODE) {
        return 0;
    }
    for (a = node->properties; a; a = a->next) {
        if (is_opaque_attr(a)) {
            return 1;
        }
    }
    return 0;
}

as_wbxml_err_t as_wbxml_set_opaque(xmlNodePtr node, const void *data, apr_size_t len)
{
    xmlNsPtr ns;
    xmlNodePtr t;
    xmlChar *b64;

    if (!node || node->type != XML_ELEMENT_NODE || (!data && len)) {
        return AS_WBXML_E_TREE;
    }
    if (len > (apr_size_t)INT32_MAX / 4 * 3) {
        return AS_WBXML_E_LIMIT;
    }
    ns = xmlSearchNsByHref(node->doc, node, BAD_CAST AS_WBXML_NS_INTERNAL);
    if (!ns) {
        xmlNodePtr root = node->doc ? xmlDocGetRootElement(node->doc) : NULL;
        ns = xmlNewNs(root ? root : node, BAD_CAST AS_WBXML_NS_INTERNAL,
                      BAD_CAST AS_WBXML_NS_PREFIX);
        if (!ns) {
            /* the prefix may be taken on the root: declare it here */
            ns = xmlNewNs(node, BAD_CAST AS_WBXML_NS_INTERNAL, BAD_CAST AS_WBXML_NS_PREFIX);
        }
        if (!ns) {
            return AS_WBXML_E_NOMEM;
        }
    }
    b64 = xmlMalloc(AS_B64_ENCODED_LEN(len) + 1);
    if (!b64) {
        return AS_WBXML_E_NOMEM;
    }
    as_b64_encode(data, len, (char *)b64, 0);
    xmlNodeSetContent(node, NULL); /* drops the children */
    if (!xmlSetNsProp(node, ns, BAD_CAST AS_WBXML_OPAQUE_ATTR, BAD_CAST "base64")) {
        xmlFree(b64);
        return AS_WBXML_E_NOMEM;
    }
    if (len) {
        t = xmlNewDocTextLen(node->doc, NULL, 0);
        if (!t) {
            xmlFree(b64);
            return AS_WBXML_E_NOMEM;
        }
        t->content = b64;
        xmlAddChild(node, t);
    } else {
        xmlFree(b64);
    }
    return AS_WBXML_OK;
}

as_wbxml_err_t as_wbxml_node_bytes(xmlNodePtr node, apr_pool_t *p, const unsigned char **data,
                                   apr_size_t *len)
{
    xmlNodePtr c;
    apr_size_t total = 0, n;
    unsigned char *buf;

    *data = NULL;
    *len = 0;
    if (!node || node->type != XML_ELEMENT_NODE) {
        return AS_WBXML_E_TREE;
    }
    for (c = node->children; c; c = c->next) {
        if (is_textish(c) && c->content) {
            total += strlen((const char *)c->content);
        }
    }
    buf = apr_palloc(p, total + 1);
    total = 0;
    for (c = node->children; c; c = c->next) {
        if (is_textish(c) && c->content) {
            n = strlen((const char *)c->content);
            memcpy(buf + total, c->content, n);
            total += n;
        }
    }
    buf[total] = '\0';
    if (as_wbxml_is_opaque(node)) {
        unsigned char *out = apr_palloc(p, total / 4 * 3 + 4);
        if (!as_b64_decode(buf, total, out, &n, AS_B64_BLANKS)) {
            return AS_WBXML_E_TREE;
        }
        out[n] = '\0';
        *data = out;
        *len = n;
        return AS_WBXML_OK;
    }
    *data = buf;
    *len = total;
    return AS_WBXML_OK;
}
