/* WBXML codec for Exchange ActiveSync (MS-ASWBXML, WBXML 1.3 subset).
 *
 * THE TREE
 * Decoded documents are libxml2 trees whose elements carry the namespace of
 * their code page, named as MS-ASWBXML and libwbxml do with a trailing colon
 * ("AirSync:", "FolderHierarchy:", ...; see as_codepages.h).  The root
 * element's namespace is the default one (no prefix); the other pages are
 * declared on the root with the page's conventional prefix ("email:",
 * "airsyncbase:", ...).  Match elements by namespace URI and local name,
 * never by prefix.  The encoder accepts a namespace with or without the
 * trailing colon ("AirSync" too) and any prefix.
 *
 * Text: STR_I and STR_T strings become text nodes (UTF-8, validated;
 * consecutive strings are merged into one node).  STR_I cannot carry a NUL
 * byte and a libxml2 text node cannot hold one either: bytes that may
 * contain NUL must go through OPAQUE (below).  EAS has no mixed content,
 * so whitespace-only text between child elements is dropped by the decoder
 * and ignored by the encoder (indented XML encodes as if it were compact).
 * Text in an element without child elements is kept exactly, leading and
 * trailing blanks included (libwbxml's xml2wbxml trims those; we do not,
 * because they are data: bodies, MIME, notes).
 *
 * OPAQUE: an element whose content is OPAQUE carries the attribute
 *     as:opaque="base64"      (namespace AS_WBXML_NS_INTERNAL, prefix "as")
 * and its text is the standard base64 (RFC 4648, padded, no line breaks) of
 * the bytes; several OPAQUE tokens in one element are concatenated.  Binary
 * data, NUL bytes included, therefore survives the tree, and the encoder
 * writes such an element back as one OPAQUE token (it accepts line breaks
 * and blanks inside the base64).  This is also how libwbxml's wbxml2xml
 * prints OPAQUE content of the elements EAS defines as binary (Email2
 * ConversationId/ConversationIndex, ComposeMail Mime, ...), minus the marker.
 * An element holds OPAQUE or strings or child elements, never OPAQUE mixed
 * with the others (the decoder rejects that as AS_WBXML_E_STRUCTURE).  Use
 * as_wbxml_set_opaque() and as_wbxml_node_bytes() rather than handling the
 * marker by hand.  Without the marker, text is always written as STR_I.
 *
 * Empty elements: decoded from a tag without the content bit, from a
 * content tag directly followed by END, and from a content tag holding only
 * empty strings (03 00).  The encoder writes them as a tag without content
 * bit.  An element marked opaque with no bytes is written 0x40|tag C3 00 END.
 *
 * THE WIRE
 * Decoding accepts WBXML 1.1-1.3 (version byte 0x01-0x03), any public id
 * (also 0 + string-table index, which must point into the table), charset
 * 106 (UTF-8) only, a string table (STR_T references must point at the
 * start of a NUL-terminated, valid UTF-8 string inside it), SWITCH_PAGE
 * anywhere, also right before END or before the root.  Attribute tokens
 * (tag bit 0x80, LITERAL_A, LITERAL_AC) give AS_WBXML_E_ATTR; ENTITY, PI,
 * EXT_*, LITERAL, LITERAL_C give AS_WBXML_E_EXT.  Nothing may follow the
 * root element's end.
 *
 * Encoding writes header 03 01 6A 00 (WBXML 1.3, unknown public id, UTF-8,
 * no string table), SWITCH_PAGE only when the page changes (none for page 0
 * at the start), STR_I for text, OPAQUE for marked elements and empty
 * elements as a tag without content bit: the bytes libwbxml's
 * `xml2wbxml -a -n -v 1.3` produces for the same XML, apart from the text
 * trimming noted above and CDATA sections (text for us, OPAQUE for libwbxml).
 * Comments and processing instructions are skipped; other attributes,
 * entity references and elements outside the EAS namespaces are
 * AS_WBXML_E_TREE (attributes: AS_WBXML_E_ATTR).  Text containing a byte
 * sequence that is not UTF-8 is AS_WBXML_E_UTF8.
 *
 * LIMITS
 * Both directions are bounded (depth, element count, size) and never abort:
 * malformed input returns an error code and a static message.  max_size
 * bounds the input of the decoder and also the total bytes of text it
 * produces (string-table references can repeat a string), and the output of
 * the encoder.  Allocation in the decoder is malloc/libxml2 only (no APR
 * pools), so AddressSanitizer sees every overrun.
 */
#ifndef AS_WBXML_H
#define AS_WBXML_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <libxml/tree.h>

/* Namespace of the attribute marking OPAQUE element content. */
#define AS_WBXML_NS_INTERNAL "urn:mod-activesync:wbxml"
#define AS_WBXML_NS_PREFIX   "as"
#define AS_WBXML_OPAQUE_ATTR "opaque"

typedef struct as_wbxml_limits_t {
    apr_size_t max_size;   /* bytes of input accepted (decode) or produced (encode) */
    unsigned max_depth;    /* element nesting (the root is depth 1) */
    unsigned max_elements; /* elements in the whole document */
} as_wbxml_limits_t;

/* Defaults: 32 MiB, depth 64, 500,000 elements. */
void as_wbxml_limits_default(as_wbxml_limits_t *lim);

typedef enum {
    AS_WBXML_OK = 0,
    AS_WBXML_E_TRUNCATED, /* input ends inside a token or element */
    AS_WBXML_E_HEADER,    /* version, public id or charset not acceptable */
    AS_WBXML_E_STRTBL,    /* string table malformed, or a reference outside it */
    AS_WBXML_E_TOKEN,     /* unknown tag on its code page, or unknown global token */
    AS_WBXML_E_PAGE,      /* SWITCH_PAGE to a page that does not exist */
    AS_WBXML_E_ATTR,      /* attribute tokens (EAS uses none) */
    AS_WBXML_E_EXT,       /* ENTITY, PI, EXT_*, LITERAL tokens */
    AS_WBXML_E_STRUCTURE, /* END without element, text outside root, several roots ... */
    AS_WBXML_E_UTF8,      /* a string that is not valid UTF-8 */
    AS_WBXML_E_LIMIT,     /* depth, element count or size over the limit */
    AS_WBXML_E_INTEGER,   /* mb_u_int32 too long */
    AS_WBXML_E_NOMEM,
    AS_WBXML_E_TREE /* encode: element without a known namespace/tag, etc. */
} as_wbxml_err_t;

/* A static, human-readable message; never NULL. */
const char *as_wbxml_strerror(as_wbxml_err_t err);

/* Decode buf[0..len) into a new document (free with xmlFreeDoc).
 * lim NULL means the defaults.
 * On error *doc is NULL, the return value says why and, when err_offset is
 * not NULL, it receives the byte offset where decoding stopped (the start of
 * the offending token; len when the input ends too early). */
as_wbxml_err_t as_wbxml_decode(const unsigned char *buf, apr_size_t len,
                               const as_wbxml_limits_t *lim, xmlDocPtr *doc,
                               apr_size_t *err_offset);

/* Encode the document into a malloc()ed buffer (*out, *outlen; free() it).
 * lim NULL means the defaults.  On error *out is NULL and *outlen 0.
 * Output: header 03 01 6A 00, no string table, SWITCH_PAGE only on change,
 * STR_I for text, OPAQUE for elements marked as opaque, empty elements as a
 * tag without content bit -- the form libwbxml's xml2wbxml -a -n -v 1.3 gives. */
as_wbxml_err_t as_wbxml_encode(xmlDocPtr doc, const as_wbxml_limits_t *lim, unsigned char **out,
                               apr_size_t *outlen);

/* Same, with the result copied into pool memory. */
as_wbxml_err_t as_wbxml_encode_pool(xmlDocPtr doc, const as_wbxml_limits_t *lim, apr_pool_t *p,
                                    const unsigned char **out, apr_size_t *outlen);

/* Does the buffer start like an EAS WBXML document: version 1.1-1.3, a
 * well-formed public id, charset 106 (UTF-8)? */
int as_wbxml_looks_like(const unsigned char *buf, apr_size_t len);

/* Make element node hold data[0..len) as OPAQUE content: replaces its
 * children by the base64 text and sets the as:opaque marker. */
as_wbxml_err_t as_wbxml_set_opaque(xmlNodePtr node, const void *data, apr_size_t len);

/* Is element node marked as holding OPAQUE content? */
int as_wbxml_is_opaque(xmlNodePtr node);

/* The content of element node as bytes, in pool memory (NUL-terminated
 * for convenience; *len excludes the NUL): the decoded OPAQUE bytes when it
 * is marked opaque, else its text.  Lets commands accept both forms of
 * fields clients send either way (ComposeMail Mime, AirSyncBase Data).
 * AS_WBXML_E_TREE when the marked content is not valid base64. */
as_wbxml_err_t as_wbxml_node_bytes(xmlNodePtr node, apr_pool_t *p, const unsigned char **data,
                                   apr_size_t *len);

#endif
