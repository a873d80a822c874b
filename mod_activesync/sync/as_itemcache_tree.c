/* The item cache's value (as_itemcache_tree.h).
 *
 * Serialised form, one record per element in document order:
 *   kind (1 byte), namespace length (2), name length (2), data length (4),
 *   namespace, name, data, then for kind CHILDREN its child records and an
 *   END byte.  Kinds: EMPTY, TEXT, OPAQUE (data: the decoded bytes),
 *   CHILDREN, READ and FLAG (rebuilt from the current flags). */
#include <stdlib.h>
#include <string.h>

#include "activesync/as_store.h"
#include "activesync/as_wbxml.h"
#include "activesync/as_xml.h"
#include "as_itemcache_tree.h"

enum { K_EMPTY = 1, K_TEXT, K_OPAQUE, K_CHILDREN, K_READ, K_FLAG, K_END };

#define NS_EMAIL  "Email:"
#define MAX_DEPTH 16
/* namespace URIs and element names are short; longer ones are not kept */
#define MAX_NAME 255

/* ---- serialising ------------------------------------------------------------------ */

typedef struct buf_t {
    unsigned char *d;
    apr_size_t len, cap, max;
    int failed;
} buf_t;

static void buf_put(buf_t *b, const void *data, apr_size_t n)
{
    if (b->failed || n == 0) {
        return;
    }
    if (b->len + n > b->max) {
        b->failed = 1;
        return;
    }
    if (b->len + n > b->cap) {
        apr_size_t cap = (b->len + n) * 2 + 256;
        unsigned char *d = realloc(b->d, cap);
        if (!d) {
            b->failed = 1;
            return;
        }
        b->d = d;
        b->cap = cap;
    }
    memcpy(b->d + b->len, data, n);
    b->len += n;
}

static void put_record(buf_t *b, int kind, const char *ns, const char *name,
                       const unsigned char *data, apr_size_t dlen)
{
    unsigned char h[9];
    apr_size_t nl = strlen(ns), ml = strlen(name);
    if (nl > MAX_NAME || ml > MAX_NAME || dlen > 0xffffffffu) {
        b->failed = 1;
        return;
    }
    h[0] = (unsigned char)kind;
    h[1] = (unsigned char)(nl >> 8);
    h[2] = (unsigned char)nl;
    h[3] = (unsigned char)(ml >> 8);
    h[4] = (unsigned char)ml;
    h[5] = (unsigned char)(dlen >> 24);
    h[6] = (unsigned char)(dlen >> 16);
    h[7] = (unsigned char)(dlen >> 8);
    h[8] = (unsigned char)dlen;
    buf_put(b, h, sizeof h);
    buf_put(b, ns, nl);
    buf_put(b, name, ml);
    buf_put(b, data, dlen);
}

/* The kind of a leaf or parent element; 0 when the cache cannot rebuild it
 * exactly (attributes, mixed content, CDATA, comments ...). */
static int element_kind(xmlNodePtr n)
{
    xmlNodePtr c;
    int text = 0, elems = 0;

    if (n->properties) {
        return as_wbxml_is_opaque(n) && !n->properties->next &&
                       n->properties->type == XML_ATTRIBUTE_NODE
                   ? K_OPAQUE
                   : 0;
    }
    for (c = n->children; c; c = c->next) {
        if (c->type == XML_TEXT_NODE) {
            text++;
        } else if (c->type == XML_ELEMENT_NODE) {
            elems++;
        } else {
            return 0;
        }
    }
    if (text && elems) {
        return 0;
    }
    return elems ? K_CHILDREN : text ? K_TEXT : K_EMPTY;
}

static void put_element(buf_t *b, apr_pool_t *p, xmlNodePtr n, int depth)
{
    const char *ns, *name = (const char *)n->name;
    int kind;
    xmlNodePtr c;

    if (n->type != XML_ELEMENT_NODE || !n->ns || !n->ns->href || depth >= MAX_DEPTH) {
        b->failed = 1;
        return;
    }
    ns = (const char *)n->ns->href;
    kind = element_kind(n);
    if (depth == 0 && !strcmp(ns, NS_EMAIL) && !strcmp(name, "Read")) {
        kind = K_READ;
    } else if (depth == 0 && !strcmp(ns, NS_EMAIL) && !strcmp(name, "Flag")) {
        kind = K_FLAG;
    }
    if (kind == K_TEXT || kind == K_OPAQUE) {
        const unsigned char *d = NULL;
        apr_size_t dl = 0;
        if (as_wbxml_node_bytes(n, p, &d, &dl) != AS_WBXML_OK) {
            b->failed = 1;
            return;
        }
        put_record(b, kind, ns, name, d, dl);
    } else if (kind == K_CHILDREN) {
        unsigned char end = K_END;
        put_record(b, kind, ns, name, NULL, 0);
        for (c = n->children; c && !b->failed; c = c->next) {
            put_element(b, p, c, depth + 1);
        }
        buf_put(b, &end, 1);
    } else if (kind) {
        put_record(b, kind, ns, name, NULL, 0);
    } else {
        b->failed = 1;
    }
}

/* ---- rebuilding ------------------------------------------------------------------- */

static void add_flag(xmlNodePtr parent, const char *ns, unsigned flags)
{
    /* as as_mime_to_eas writes it */
    xmlNodePtr flag = as_xml_add(parent, ns, "Flag", NULL);
    if (flags & AS_STORE_FLAGGED) {
        as_xml_add(flag, ns, "Status", "2");
        as_xml_add(flag, ns, "FlagType", "Flag for follow up");
    }
}

/* Appends the serialised elements to app; 0 when val is not well formed
 * (then app may hold part of them). */
static int rebuild(const unsigned char *val, apr_size_t vlen, xmlNodePtr app, unsigned flags)
{
    xmlNodePtr stack[MAX_DEPTH + 1];
    int depth = 0;
    apr_size_t i = 0;
    char ns[MAX_NAME + 1], name[MAX_NAME + 1];

    stack[0] = app;
    while (i < vlen) {
        int kind = val[i];
        apr_size_t nl, ml, dl;
        const unsigned char *data;
        xmlNodePtr n;
        if (kind == K_END) {
            if (depth == 0) {
                return 0;
            }
            depth--;
            i++;
            continue;
        }
        if (vlen - i < 9) {
            return 0;
        }
        nl = ((apr_size_t)val[i + 1] << 8) | val[i + 2];
        ml = ((apr_size_t)val[i + 3] << 8) | val[i + 4];
        dl = ((apr_size_t)val[i + 5] << 24) | ((apr_size_t)val[i + 6] << 16) |
             ((apr_size_t)val[i + 7] << 8) | val[i + 8];
        i += 9;
        if (nl > MAX_NAME || ml > MAX_NAME || vlen - i < nl + ml + dl) {
            return 0;
        }
        memcpy(ns, val + i, nl);
        ns[nl] = '\0';
        memcpy(name, val + i + nl, ml);
        name[ml] = '\0';
        data = val + i + nl + ml;
        i += nl + ml + dl;
        switch (kind) {
        case K_READ:
            as_xml_add(stack[depth], ns, name, flags & AS_STORE_SEEN ? "1" : "0");
            break;
        case K_FLAG:
            add_flag(stack[depth], ns, flags);
            break;
        case K_OPAQUE:
            n = as_xml_add(stack[depth], ns, name, NULL);
            if (!n || as_wbxml_set_opaque(n, data, dl) != AS_WBXML_OK) {
                return 0;
            }
            break;
        case K_TEXT: {
            /* text never holds a NUL (it came from a text node) */
            char *t = malloc(dl + 1);
            if (!t) {
                return 0;
            }
            memcpy(t, data, dl);
            t[dl] = '\0';
            n = as_xml_add(stack[depth], ns, name, t);
            free(t);
            if (!n) {
                return 0;
            }
            break;
        }
        case K_CHILDREN:
            if (depth >= MAX_DEPTH ||
                !(stack[depth + 1] = as_xml_add(stack[depth], ns, name, NULL))) {
                return 0;
            }
            depth++;
            break;
        case K_EMPTY:
            if (!as_xml_add(stack[depth], ns, name, NULL)) {
                return 0;
            }
            break;
        default:
            return 0;
        }
    }
    return depth == 0;
}

int as_itemcache_tree_put(xmlNodePtr appdata, apr_size_t max, unsigned char **out, apr_size_t *len)
{
    buf_t b;
    apr_pool_t *p;
    xmlNodePtr n;

    memset(&b, 0, sizeof b);
    b.max = max;
    if (apr_pool_create(&p, NULL) != APR_SUCCESS) {
        return 0;
    }
    for (n = appdata->children; n && !b.failed; n = n->next) {
        put_element(&b, p, n, 0);
    }
    apr_pool_destroy(p);
    if (b.failed) {
        free(b.d);
        return 0;
    }
    *out = b.d;
    *len = b.len;
    return 1;
}

int as_itemcache_tree_get(const unsigned char *val, apr_size_t vlen, xmlNodePtr appdata,
                          unsigned flags)
{
    return rebuild(val, vlen, appdata, flags);
}
