/* Private to the WBXML codec: the token values of WBXML 1.3, the code-page
 * lookup tables shared by the decoder and the encoder, and small tree
 * predicates.  See as_wbxml.h for the public contract. */
#ifndef AS_WBXML_INT_H
#define AS_WBXML_INT_H

#include <stddef.h>
#include <string.h>

#include <libxml/tree.h>
#include <libxml/dict.h>

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

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
int as_wbxml_utf8_valid(const unsigned char *s, size_t n);

/* Token -> name, interned in a dictionary shared (read-only) by every
 * decoded document: each document's own dictionary is a sub-dictionary of
 * it, so element names cost neither a copy nor a lookup per element.
 * names_dict NULL (out of memory at start): no sharing, names[][] empty. */
typedef struct as_wbxml_names_t {
    xmlDictPtr names_dict;
    const xmlChar *names[AS_CODEPAGE_COUNT][64];
} as_wbxml_names_t;

/* The tables, built once per process on first use (read-only after). */
const as_wbxml_names_t *as_wbxml_names(void);

/* The token of element `name` on code page `page`, -1 when unknown.  Fast
 * for names interned by the decoder (pointer lookup), else by string. */
int as_wbxml_tag_token(unsigned page, const xmlChar *name);

static inline int as_wbxml_is_textish(xmlNodePtr c)
{
    return c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE;
}

/* Nodes the encoder skips: comments, processing instructions, XInclude marks. */
static inline int as_wbxml_is_skipped(xmlNodePtr c)
{
    return c->type == XML_COMMENT_NODE || c->type == XML_PI_NODE || c->type == XML_XINCLUDE_START ||
           c->type == XML_XINCLUDE_END;
}

/* Is attribute a the OPAQUE marker (namespace AS_WBXML_NS_INTERNAL)? */
static inline int as_wbxml_is_opaque_attr(xmlAttrPtr a)
{
    return a->ns && a->ns->href && !strcmp((const char *)a->ns->href, AS_WBXML_NS_INTERNAL) &&
           !strcmp((const char *)a->name, AS_WBXML_OPAQUE_ATTR);
}

#endif
