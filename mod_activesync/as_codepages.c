/* PLACEHOLDER: replaced by the full MS-ASWBXML tables. */
#include <string.h>
#include "as_codepages.h"
const as_codepage_t *as_codepage(unsigned page) { (void)page; return NULL; }
const char *as_codepage_tag_name(unsigned page, unsigned token) { (void)page; (void)token; return NULL; }
int as_codepage_by_ns(const char *ns) { (void)ns; return -1; }
int as_codepage_tag_token(unsigned page, const char *name) { (void)page; (void)name; return -1; }
