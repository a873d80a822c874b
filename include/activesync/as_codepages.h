/* EAS WBXML code pages 0-25 (MS-ASWBXML section 2.1.2.1), every tag token up
 * to protocol 16.1.  Each page's XML namespace is its MS-ASWBXML name with a
 * trailing colon ("AirSync:"); the conventional prefix is the lower-case name.
 *
 * Besides the 12.0-16.1 tokens the tables hold the pre-12.0 tokens old clients
 * may still send (e.g. Email 0x05-0x0E Attachment...BodyTruncated, the whole
 * obsolete AirNotify page 3); the encoder should never need them.  Names are
 * Microsoft's element names (the schemas' spelling), which differ from
 * libwbxml's in places: t/data/libwbxml-names.tsv lists every difference.
 * The tables are static and the lookups are thread-safe.
 */
#ifndef AS_CODEPAGES_H
#define AS_CODEPAGES_H

#include <stddef.h>

#define AS_CODEPAGE_COUNT 26

typedef struct as_codepage_tag_t {
    unsigned char token; /* 0x05..0x3F */
    const char *name;
} as_codepage_tag_t;

typedef struct as_codepage_t {
    unsigned char page;
    const char *name;              /* "AirSync" */
    const char *ns;                /* "AirSync:" */
    const char *prefix;            /* "airsync" */
    const as_codepage_tag_t *tags; /* sorted by token */
    size_t ntags;
} as_codepage_t;

/* The page, or NULL when page >= AS_CODEPAGE_COUNT. */
const as_codepage_t *as_codepage(unsigned page);
/* Tag name of token (0x05-0x3F, without the 0x40/0x80 bits) on page, or NULL
 * for an unknown page or token. */
const char *as_codepage_tag_name(unsigned page, unsigned token);
/* Page of a namespace URI ("AirSync:"; "AirSync" without colon is accepted
 * too, and libwbxml's "Gal:" for page 16 "GAL:"), or -1.  Case-sensitive;
 * NULL gives -1. */
int as_codepage_by_ns(const char *ns);
/* Token of name on page (exact, case-sensitive), or -1; NULL name gives -1. */
int as_codepage_tag_token(unsigned page, const char *name);

#endif
