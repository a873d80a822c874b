/* Fuzz target: the licence document parser and verifier (as_license_parse,
 * as_license_verify with a fixed Ed25519 key; corpus file "signed" is a
 * document that key's private half signed).  Every input gets a known
 * status with a message; a document that parses has its required fields. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "activesync/as_license.h"
#include "fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* Public half of a key made for this target only (its private half signed
 * corpus/license/signed and was then thrown away). */
static const char pubkey[] = "-----BEGIN PUBLIC KEY-----\n"
                             "MCowBQYDK2VwAyEAUidb+ZXlRgIw+50NwtEcFmfchqMWCvDXqeQOcccnAS0=\n"
                             "-----END PUBLIC KEY-----\n";

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

static void check_fields(as_license_status_t st, const as_license_t *l, const char *msg)
{
    CHECK(st <= AS_LIC_UNVERIFIED);
    CHECK(strcmp(as_license_status_name(st), "?") != 0);
    if (st == AS_LIC_VALID || st == AS_LIC_EXPIRED || st == AS_LIC_UNVERIFIED ||
        st == AS_LIC_BAD_SIGNATURE) {
        CHECK(l->licensee && l->expires && as_license_parse_date(l->expires) >= 0);
        CHECK(l->expires_at > 0 && l->mailboxes >= 1 && l->mailboxes <= 10000000u);
    } else {
        CHECK(msg != NULL);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    as_license_t l;
    const char *msg = NULL;
    as_license_status_t st;

    apr_pool_create(&p, root);
    memset(&l, 0, sizeof l);
    st = as_license_parse(p, (const char *)data, size, &l, &msg);
    check_fields(st, &l, msg);
    memset(&l, 0, sizeof l);
    msg = NULL;
    st = as_license_verify(p, (const char *)data, size, pubkey, sizeof pubkey - 1,
                           apr_time_from_sec(1700000000), &l, &msg);
    check_fields(st, &l, msg);
    if (size <= 64) {
        (void)as_license_parse_date(apr_pstrmemdup(p, (const char *)data, size));
    }
    apr_pool_destroy(p);
    return 0;
}
