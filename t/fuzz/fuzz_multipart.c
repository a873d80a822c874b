/* Fuzz target: the multipart ItemOperations body parser
 * (as_multipart_parse) and the builder on what it parses.  Every input is
 * either refused or split into parts that lie inside it; rebuilding those
 * parts and parsing the result gives the same parts again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_tables.h>

#include "activesync/as_multipart.h"
#include "fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    apr_array_header_t *parts = NULL, *rest = NULL, *again = NULL;
    const unsigned char *out;
    apr_size_t out_len;
    const as_multipart_part_t *p0;
    int i;

    apr_pool_create(&p, root);
    if (as_multipart_parse(p, data, size, &parts) != APR_SUCCESS) {
        apr_pool_destroy(p);
        return 0;
    }
    CHECK(parts && parts->nelts >= 1);
    for (i = 0; i < parts->nelts; i++) {
        const as_multipart_part_t *q = &APR_ARRAY_IDX(parts, i, as_multipart_part_t);
        const uint8_t *d = q->data;
        CHECK(q->len == 0 ||
              (d >= data && q->len <= size && d - data <= (ptrdiff_t)(size - q->len)));
    }
    p0 = &APR_ARRAY_IDX(parts, 0, as_multipart_part_t);
    for (i = 1; i < parts->nelts; i++) {
        const as_multipart_part_t *q = &APR_ARRAY_IDX(parts, i, as_multipart_part_t);
        CHECK(as_multipart_add(p, &rest, q->data, q->len) == i);
    }
    CHECK(as_multipart_build(p, p0->data, p0->len, rest, &out, &out_len) == APR_SUCCESS);
    CHECK(as_multipart_parse(p, out, out_len, &again) == APR_SUCCESS);
    CHECK(again->nelts == parts->nelts);
    for (i = 0; i < parts->nelts; i++) {
        const as_multipart_part_t *a = &APR_ARRAY_IDX(parts, i, as_multipart_part_t);
        const as_multipart_part_t *b = &APR_ARRAY_IDX(again, i, as_multipart_part_t);
        CHECK(a->len == b->len && (a->len == 0 || !memcmp(a->data, b->data, a->len)));
    }
    apr_pool_destroy(p);
    return 0;
}
