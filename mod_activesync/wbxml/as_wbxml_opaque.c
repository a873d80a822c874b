/* OPAQUE content in trees (as_wbxml.h): the as:opaque marker, setting it
 * and reading an element's bytes either way. */
#include <stdint.h>
#include <string.h>

#include <apr_strings.h>
#include <libxml/tree.h>

#include "activesync/as_base64.h"
#include "as_wbxml_int.h"

int as_wbxml_is_opaque(xmlNodePtr node)
{
    xmlAttrPtr a;

    if (!node || node->type != XML_ELEMENT_NODE) {
        return 0;
    }
    for (a = node->properties; a; a = a->next) {
        if (as_wbxml_is_opaque_attr(a)) {
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
        if (as_wbxml_is_textish(c) && c->content) {
            total += strlen((const char *)c->content);
        }
    }
    buf = apr_palloc(p, total + 1);
    total = 0;
    for (c = node->children; c; c = c->next) {
        if (as_wbxml_is_textish(c) && c->content) {
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
