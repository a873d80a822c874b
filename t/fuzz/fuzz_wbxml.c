/* Fuzz target: the WBXML decoder, and the encoder on what it decodes.
 *
 * Every input must either be rejected with an error code or decode to a
 * tree; a decoded tree must encode, the encoding must decode again to the
 * same tree, and encoding that tree must give the same bytes (the round
 * trip is stable after one normalization).  Any violation aborts.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "activesync/as_wbxml.h"
#include "fuzz.h"

#define FUZZ_MAX_SIZE (1u << 20)

static void fail(const char *what)
{
    fprintf(stderr, "fuzz_wbxml: %s\n", what);
    abort();
}

static int same_str(const xmlChar *a, const xmlChar *b)
{
    return (!a && !b) || (a && b && !strcmp((const char *)a, (const char *)b));
}

/* Structural equality of two decoded trees. */
static int same_tree(xmlNodePtr a, xmlNodePtr b)
{
    for (; a && b; a = a->next, b = b->next) {
        if (a->type != b->type) {
            return 0;
        }
        if (a->type == XML_TEXT_NODE) {
            if (!same_str(a->content, b->content)) {
                return 0;
            }
            continue;
        }
        if (a->type != XML_ELEMENT_NODE || !same_str(a->name, b->name) || !a->ns || !b->ns ||
            !same_str(a->ns->href, b->ns->href) || as_wbxml_is_opaque(a) != as_wbxml_is_opaque(b) ||
            !same_tree(a->children, b->children)) {
            return 0;
        }
    }
    return !a && !b;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    xmlInitParser();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    as_wbxml_limits_t lim, big;
    xmlDocPtr doc = NULL, doc2 = NULL;
    unsigned char *w1 = NULL, *w2 = NULL;
    apr_size_t n1 = 0, n2 = 0, off = 0;
    as_wbxml_err_t rv;

    as_wbxml_limits_default(&lim);
    lim.max_size = FUZZ_MAX_SIZE;
    lim.max_elements = 100000;
    rv = as_wbxml_decode(data, size, &lim, &doc, &off);
    (void)as_wbxml_looks_like(data, size);
    if (rv != AS_WBXML_OK) {
        if (doc) {
            fail("error with a document");
        }
        if (off > size) {
            fail("error offset past the input");
        }
        if (!as_wbxml_strerror(rv)) {
            fail("no message");
        }
        return 0;
    }
    if (!doc || !xmlDocGetRootElement(doc)) {
        fail("success without a document");
    }

    /* text from string-table references may make the encoding larger than
     * the input: allow for it */
    big = lim;
    big.max_size = 4 * FUZZ_MAX_SIZE;
    rv = as_wbxml_encode(doc, &big, &w1, &n1);
    if (rv != AS_WBXML_OK) {
        fprintf(stderr, "encode: %s\n", as_wbxml_strerror(rv));
        fail("a decoded document does not encode");
    }
    rv = as_wbxml_decode(w1, n1, &big, &doc2, &off);
    if (rv != AS_WBXML_OK) {
        fprintf(stderr, "re-decode: %s at %lu\n", as_wbxml_strerror(rv), (unsigned long)off);
        fail("our own encoding does not decode");
    }
    if (!same_tree(xmlDocGetRootElement(doc), xmlDocGetRootElement(doc2))) {
        fail("decode(encode(decode(x))) != decode(x)");
    }
    rv = as_wbxml_encode(doc2, &big, &w2, &n2);
    if (rv != AS_WBXML_OK || n1 != n2 || memcmp(w1, w2, n1)) {
        fail("encoding is not stable");
    }
    free(w1);
    free(w2);
    xmlFreeDoc(doc);
    xmlFreeDoc(doc2);
    return 0;
}
