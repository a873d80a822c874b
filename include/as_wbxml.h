/* WBXML codec for Exchange ActiveSync (MS-ASWBXML, WBXML 1.3 subset).
 *
 * Decoded documents are libxml2 trees whose elements carry the namespace of
 * their code page, named as MS-ASWBXML does with a trailing colon
 * ("AirSync:", "FolderHierarchy:", ...; see as_codepages.h).  OPAQUE content
 * becomes a text node whose element carries the attribute
 * as:opaque="base64" (namespace AS_WBXML_NS_INTERNAL) holding base64 of the bytes, so binary
 * data survives the tree and re-encodes as OPAQUE.
 *
 * Both directions are bounded (depth, element count, size) and never abort:
 * malformed input returns an error code and a static message.
 */
#ifndef AS_WBXML_H
#define AS_WBXML_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <libxml/tree.h>

/* Namespace of the attribute marking OPAQUE element content. */
#define AS_WBXML_NS_INTERNAL "urn:mod-activesync:wbxml"
#define AS_WBXML_OPAQUE_ATTR "opaque"

typedef struct as_wbxml_limits_t {
    apr_size_t max_size;     /* bytes of input accepted (decode) or produced (encode) */
    unsigned max_depth;      /* element nesting */
    unsigned max_elements;   /* elements in the whole document */
} as_wbxml_limits_t;

/* Defaults: 32 MiB, depth 64, 500,000 elements. */
void as_wbxml_limits_default(as_wbxml_limits_t *lim);

typedef enum {
    AS_WBXML_OK = 0,
    AS_WBXML_E_TRUNCATED,    /* input ends inside a token or element */
    AS_WBXML_E_HEADER,       /* version, public id or charset not acceptable */
    AS_WBXML_E_STRTBL,       /* string table malformed, or a reference outside it */
    AS_WBXML_E_TOKEN,        /* unknown tag on its code page, or unknown global token */
    AS_WBXML_E_PAGE,         /* SWITCH_PAGE to a page that does not exist */
    AS_WBXML_E_ATTR,         /* attribute tokens (EAS uses none) */
    AS_WBXML_E_EXT,          /* ENTITY, PI, EXT_*, LITERAL tokens */
    AS_WBXML_E_STRUCTURE,    /* END without element, text outside root, several roots ... */
    AS_WBXML_E_UTF8,         /* a string that is not valid UTF-8 */
    AS_WBXML_E_LIMIT,        /* depth, element count or size over the limit */
    AS_WBXML_E_INTEGER,      /* mb_u_int32 too long */
    AS_WBXML_E_NOMEM,
    AS_WBXML_E_TREE          /* encode: element without a known namespace/tag, etc. */
} as_wbxml_err_t;

const char *as_wbxml_strerror(as_wbxml_err_t err);

/* Decode buf[0..len) into a new document (free with xmlFreeDoc).
 * On error *doc is NULL, the return value says why and, when err_offset is
 * not NULL, it receives the byte offset where decoding stopped. */
as_wbxml_err_t as_wbxml_decode(const unsigned char *buf, apr_size_t len,
                               const as_wbxml_limits_t *lim, xmlDocPtr *doc,
                               apr_size_t *err_offset);

/* Encode the document into a malloc()ed buffer (*out, *outlen; free() it).
 * Output: header 03 01 6A 00, no string table, SWITCH_PAGE only on change,
 * STR_I for text, OPAQUE for elements marked as opaque, empty elements as a
 * tag without content bit -- the form libwbxml's xml2wbxml -a -n -v 1.3 gives. */
as_wbxml_err_t as_wbxml_encode(xmlDocPtr doc, const as_wbxml_limits_t *lim, unsigned char **out,
                               apr_size_t *outlen);

/* Same, with the result copied into pool memory. */
as_wbxml_err_t as_wbxml_encode_pool(xmlDocPtr doc, const as_wbxml_limits_t *lim, apr_pool_t *p,
                                    const unsigned char **out, apr_size_t *outlen);

/* Does the buffer start like an EAS WBXML document (version 1.1-1.3)? */
int as_wbxml_looks_like(const unsigned char *buf, apr_size_t len);

#endif
