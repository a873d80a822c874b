/* Fuzz target: SmartReply/SmartForward composition (as_mime_compose).  The
 * input is split at its first "\n--ORIGINAL--\n" into the phone's message
 * and the stored original (no marker: the input is both); each is composed
 * as a reply and as a forward, with and without a size bound.  Besides
 * crashes it checks the promises of as_mime_compose.h: a result only with
 * AS_COMPOSE_OK, never larger than the bound, NUL-terminated, and a result
 * GMime parses back as a message. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <gmime/gmime.h>

#include "activesync/as_mime.h"
#include "activesync/as_mime_compose.h"
#include "fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MARKER "\n--ORIGINAL--\n"

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    as_mime_init();
    apr_pool_create(&root, NULL);
    return 0;
}

static void parses_back(const char *out, apr_size_t len)
{
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(out, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(s);
    GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);

    CHECK(m != NULL);
    g_object_unref(m);
    g_object_unref(parser);
    g_object_unref(s);
}

static void one(apr_pool_t *p, as_compose_kind_t kind, const char *mine, size_t mlen,
                const char *orig, size_t olen, apr_size_t max)
{
    const char *out = NULL, *why = NULL;
    apr_size_t len = 0;
    as_compose_status_t rc =
        as_mime_compose(p, kind, mine, mlen, orig, olen, max, &out, &len, &why);

    if (rc != AS_COMPOSE_OK) {
        CHECK(out == NULL && why != NULL);
        return;
    }
    CHECK(out != NULL && out[len] == '\0');
    CHECK(max == 0 || len <= max);
    parses_back(out, len);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *in = (const char *)data;
    const char *mark =
        size >= sizeof(MARKER) - 1 ? memmem(in, size, MARKER, sizeof(MARKER) - 1) : NULL;
    size_t mlen = mark ? (size_t)(mark - in) : size;
    const char *orig = mark ? mark + sizeof(MARKER) - 1 : in;
    size_t olen = mark ? size - mlen - (sizeof(MARKER) - 1) : size;
    apr_pool_t *p;

    if (size > 1024 * 1024) {
        return 0;
    }
    apr_pool_create(&p, root);
    one(p, AS_COMPOSE_REPLY, in, mlen, orig, olen, 0);
    one(p, AS_COMPOSE_FORWARD, in, mlen, orig, olen, 0);
    one(p, AS_COMPOSE_REPLY, in, mlen, orig, olen, size + 200);
    apr_pool_destroy(p);
    return 0;
}
