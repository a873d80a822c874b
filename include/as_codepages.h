/* EAS WBXML code pages 0-25 (MS-ASWBXML section 2.1.2.1), every tag token up
 * to protocol 16.1.  Each page's XML namespace is its MS-ASWBXML name with a
 * trailing colon ("AirSync:"); the conventional prefix is the lower-case name.
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
    const char *name;      /* "AirSync" */
    const char *ns;        /* "AirSync:" */
    const char *prefix;    /* "airsync" */
    const as_codepage_tag_t *tags; /* sorted by token */
    size_t ntags;
} as_codepage_t;

/* The page, or NULL when page >= AS_CODEPAGE_COUNT. */
const as_codepage_t *as_codepage(unsigned page);
/* Tag name of token on page, or NULL. */
const char *as_codepage_tag_name(unsigned page, unsigned token);
/* Page of a namespace URI ("AirSync:"; "AirSync" without colon is accepted
 * too), or -1. */
int as_codepage_by_ns(const char *ns);
/* Token of name on page, or -1. */
int as_codepage_tag_token(unsigned page, const char *name);

#endif
