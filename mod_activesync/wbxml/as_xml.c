/* Small libxml2 helpers for building and reading EAS documents.  Elements
 * are matched by namespace URI and local name, never by prefix. */
#include <string.h>

#include "activesync/as_codepages.h"
#include "activesync/as_wbxml.h"
#include "activesync/as_xml.h"

static xmlNsPtr ns_for(xmlNodePtr node, const char *ns)
{
    xmlNsPtr found;
    xmlNodePtr root;
    const as_codepage_t *cp;
    int page;

    found = xmlSearchNsByHref(node->doc, node, BAD_CAST ns);
    if (found) {
        return found;
    }
    page = as_codepage_by_ns(ns);
    cp = page >= 0 ? as_codepage(page) : NULL;
    root = xmlDocGetRootElement(node->doc);
    return xmlNewNs(root ? root : node, BAD_CAST ns, BAD_CAST(cp ? cp->prefix : NULL));
}

xmlDocPtr as_reply_new(const char *ns, const char *root, xmlNodePtr *root_out)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr r;

    if (!doc) {
        return NULL;
    }
    r = xmlNewDocNode(doc, NULL, BAD_CAST root, NULL);
    if (!r) {
        xmlFreeDoc(doc);
        return NULL;
    }
    xmlDocSetRootElement(doc, r);
    /* The root's namespace is the default one, as in MS-ASCMD's examples. */
    xmlSetNs(r, xmlNewNs(r, BAD_CAST ns, NULL));
    if (root_out) {
        *root_out = r;
    }
    return doc;
}

xmlNodePtr as_xml_add(xmlNodePtr parent, const char *ns, const char *name, const char *text)
{
    xmlNodePtr n = xmlNewChild(parent, NULL, BAD_CAST name, NULL);
    if (!n) {
        return NULL;
    }
    xmlSetNs(n, ns_for(parent, ns));
    if (text) {
        xmlNodeAddContent(n, BAD_CAST text);
    }
    return n;
}

int as_xml_is(xmlNodePtr node, const char *ns, const char *name)
{
    return node && node->type == XML_ELEMENT_NODE && node->ns && node->ns->href &&
           !strcmp((const char *)node->ns->href, ns) && !strcmp((const char *)node->name, name);
}

xmlNodePtr as_xml_child(xmlNodePtr parent, const char *ns, const char *name)
{
    xmlNodePtr c;
    if (!parent) {
        return NULL;
    }
    for (c = parent->children; c; c = c->next) {
        if (as_xml_is(c, ns, name)) {
            return c;
        }
    }
    return NULL;
}

const char *as_xml_text(apr_pool_t *p, xmlNodePtr n, apr_size_t *len)
{
    const unsigned char *data;
    apr_size_t l;
    if (!n || as_wbxml_node_bytes(n, p, &data, &l) != AS_WBXML_OK) {
        return NULL;
    }
    if (len) {
        *len = l;
    }
    return memchr(data, 0, l) ? NULL : (const char *)data;
}
