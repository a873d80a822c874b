/* Small libxml2 helpers for building and reading EAS documents: elements
 * are matched by namespace URI and local name, never by prefix. */
#ifndef AS_XML_H
#define AS_XML_H

#include <apr_pools.h>
#include <libxml/tree.h>

/* Start a reply document with a root element in a code-page namespace. */
xmlDocPtr as_reply_new(const char *ns, const char *root, xmlNodePtr *root_out);
/* Add a child element with text content (text may be NULL for empty). */
xmlNodePtr as_xml_add(xmlNodePtr parent, const char *ns, const char *name, const char *text);
/* First child element of parent with this namespace and name, or NULL. */
xmlNodePtr as_xml_child(xmlNodePtr parent, const char *ns, const char *name);
/* Does the element have this namespace and local name? */
int as_xml_is(xmlNodePtr node, const char *ns, const char *name);

/* The text of a leaf element in pool memory (OPAQUE content accepted), NULL
 * when it holds a NUL byte or cannot be read; *len (may be NULL) its length. */
const char *as_xml_text(apr_pool_t *p, xmlNodePtr n, apr_size_t *len);

#endif
