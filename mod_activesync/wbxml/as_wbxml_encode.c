/* WBXML encoder for Exchange ActiveSync: see as_wbxml.h for the tree it
 * accepts and the bytes it writes.
 *
 * An iterative walk over the tree (parent pointers, no stack), token
 * lookup through the tables of as_wbxml_common.c, output into a doubling
 * malloc buffer bounded by the limits. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <libxml/tree.h>

#include "activesync/as_base64.h"
#include "as_wbxml_int.h"

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
        e->name_cache[slot].token = as_wbxml_tag_token((unsigned)page, name);
    }
    return e->name_cache[slot].token;
}

/* The opaque marker of element n: 1 marked, 0 not, -1 bad attributes. */
static int opaque_mark(xmlNodePtr n)
{
    xmlAttrPtr a;
    int mark = 0;

    for (a = n->properties; a; a = a->next) {
        xmlNodePtr v;
        if (!as_wbxml_is_opaque_attr(a)) {
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
        if (as_wbxml_is_textish(c)) {
            total += c->content ? strlen((const char *)c->content) : 0;
        } else if (!as_wbxml_is_skipped(c)) {
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
        if (as_wbxml_is_textish(c) && c->content) {
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
        } else if (as_wbxml_is_textish(c) && c->content && c->content[0]) {
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

    for (c = start; c && (as_wbxml_is_textish(c) || as_wbxml_is_skipped(c)); c = c->next) {
        if (as_wbxml_is_textish(c) && c->content && c->content[0]) {
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
        if (as_wbxml_is_textish(c) && c->content) {
            apr_size_t l = strlen((const char *)c->content);
            if (!as_wbxml_utf8_valid(c->content, l)) {
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
            if (!as_wbxml_is_textish(c) && !as_wbxml_is_skipped(c)) {
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
        if (as_wbxml_is_textish(c) || as_wbxml_is_skipped(c)) {
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
    (void)as_wbxml_names(); /* the tables, built on first use */
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
