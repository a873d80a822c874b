/* Fuzz target: the request line parser (both forms, strict and lenient),
 * the base64 decoder (every mode) and the account mapping.  Input bytes are the
 * query string; they are also base64-encoded and parsed again, so that the
 * binary structure of the base64 form is explored directly (corpus files
 * named raw_* are such structures).  Besides crashes it checks the parser's promises: what it
 * accepts is within the documented character sets and bounds, errors are
 * log-safe and leave the structure reset, and the base64 decoder accepts
 * only canonical encodings (the request line: with complete padding or
 * none). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_pools.h>

#include "activesync/as_account.h"
#include "activesync/as_base64.h"
#include "activesync/as_command.h"
#include "activesync/as_request_line.h"
#include "fuzz.h"

static apr_pool_t *root;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

static int in_set(const char *s, const char *extra, size_t max)
{
    size_t n = 0;
    for (; *s; s++, n++) {
        unsigned char c = (unsigned char)*s;
        if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
              strchr(extra, c))) {
            return 0;
        }
    }
    return n >= 1 && n <= max;
}

static void check_text(const char *s, size_t max)
{
    size_t n;
    if (!s) {
        return;
    }
    n = strlen(s);
    CHECK(n >= 1 && n <= max);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        CHECK(c >= 0x20 && c != 0x7f);
    }
}

static void check_account(apr_pool_t *p, const char *name)
{
    const char *acct = NULL, *err = NULL, *local, *domain;
    const char *at;
    if (as_account_canonical(p, name, "example.com", &acct, &err) != APR_SUCCESS) {
        CHECK(acct == NULL && err != NULL);
        return;
    }
    CHECK(acct && strlen(acct) <= AS_ACCOUNT_MAX);
    at = strchr(acct, '@');
    CHECK(at && !strchr(at + 1, '@'));
    CHECK(!strstr(acct, "..") && !strchr(acct, '/') && !strchr(acct, '\\'));
    CHECK(acct[0] != '.' && at[-1] != '.' && at[1] != '.');
    for (at = acct; *at; at++) {
        CHECK(*at > 0x20 && *at < 0x7f && !(*at >= 'A' && *at <= 'Z'));
    }
    as_account_split(p, acct, &local, &domain);
    CHECK(local && domain && strlen(local) >= 1 && strlen(local) <= AS_ACCOUNT_MAX_LOCAL);
    CHECK(strlen(domain) >= 1 && strlen(domain) <= AS_ACCOUNT_MAX_DOMAIN);
}

static void check_line(apr_pool_t *p, apr_status_t rv, const as_request_line_t *rl, const char *err,
                       int lenient)
{
    if (rv != APR_SUCCESS) {
        const char *s;
        CHECK(rv == APR_EINVAL);
        CHECK(err && strlen(err) < 120);
        for (s = err; *s; s++) {
            CHECK((unsigned char)*s >= 0x20 && (unsigned char)*s < 0x7f);
        }
        CHECK(!rl->cmd && !rl->user && !rl->device_id && !rl->device_type && !rl->item_id &&
              rl->cmd_code == -1 && rl->save_in_sent == -1 && !rl->base64);
        return;
    }
    if (rl->cmd) {
        const as_command_t *c = as_command_by_name(rl->cmd);
        CHECK(c && c->code == rl->cmd_code && !rl->cmd_unknown);
        CHECK(as_command_by_code(rl->cmd_code) == c);
    } else if (rl->cmd_unknown) {
        CHECK(rl->base64 ? (rl->cmd_code >= 0 && !as_command_by_code(rl->cmd_code))
                         : rl->cmd_code == -1);
        CHECK(in_set(rl->cmd_unknown, " ", 40));
    } else {
        CHECK(lenient && !rl->base64 && rl->cmd_code == -1);
    }
    if (rl->device_id) {
        size_t i;
        CHECK(in_set(rl->device_id, "-_", AS_RL_MAX_DEVICE_ID));
        CHECK(rl->device_key && strlen(rl->device_key) == strlen(rl->device_id));
        for (i = 0; rl->device_id[i]; i++) {
            char c = rl->device_id[i];
            CHECK(rl->device_key[i] == ((c >= 'a' && c <= 'z') ? c - 'a' + 'A' : c));
        }
    } else {
        CHECK(lenient && !rl->device_key);
    }
    if (rl->device_type) {
        CHECK(in_set(rl->device_type, "-_.", AS_RL_MAX_DEVICE_TYPE));
    } else {
        CHECK(lenient);
    }
    if (!rl->user) {
        CHECK(lenient || rl->base64);
    }
    CHECK(rl->base64 ? rl->protocol_version != NULL : rl->protocol_version == NULL);
    CHECK(rl->base64 || (!rl->has_policy_key && rl->locale == 0 && rl->accept_multipart == -1));
    CHECK(rl->save_in_sent >= -1 && rl->save_in_sent <= 1);
    CHECK(rl->accept_multipart >= -1 && rl->accept_multipart <= 1);
    check_text(rl->user, AS_RL_MAX_USER);
    check_text(rl->attachment_name, AS_RL_MAX_FIELD);
    check_text(rl->collection_id, AS_RL_MAX_FIELD);
    check_text(rl->item_id, AS_RL_MAX_FIELD);
    check_text(rl->long_id, AS_RL_MAX_FIELD);
    check_text(rl->occurrence, AS_RL_MAX_FIELD);
    if (rl->user) {
        check_account(p, rl->user);
    }
}

/* Base64 of b[0..n) in malloc memory, NUL-terminated. */
static char *b64_encode(const unsigned char *b, size_t n)
{
    char *enc = malloc(AS_B64_ENCODED_LEN(n) + 1);
    as_b64_encode(b, n, enc, 0);
    return enc;
}

/* The decoder in every mode: it writes within AS_B64_DECODED_MAX, each
 * relaxation accepts a superset with the same bytes, and a canonical
 * padded decode (the request line's) re-encodes to exactly the input. */
static void check_base64(const uint8_t *data, size_t size)
{
    static const unsigned modes[] = {
        AS_B64_CANONICAL,
        0,
        AS_B64_BLANKS,
        AS_B64_BLANKS | AS_B64_PAD_OPTIONAL,
    };
    unsigned char *out[4];
    size_t n[4];
    int ok[4];
    unsigned m;
    char *enc;

    for (m = 0; m < 4; m++) {
        out[m] = malloc(AS_B64_DECODED_MAX(size));
        ok[m] = as_b64_decode(data, size, out[m], &n[m], modes[m]);
        CHECK(!ok[m] || n[m] <= AS_B64_DECODED_MAX(size));
        if (m > 0 && ok[m - 1]) {
            CHECK(ok[m] && n[m] == n[m - 1] && !memcmp(out[m], out[m - 1], n[m]));
        }
    }
    if (ok[0]) {
        CHECK(n[0] <= size / 4 * 3 && n[0] + 2 >= size / 4 * 3);
        enc = b64_encode(out[0], n[0]);
        CHECK(strlen(enc) == size && !memcmp(enc, data, size));
        free(enc);
    }
    /* modified UTF-7's alphabet: swapping '/' and ',' changes nothing else */
    {
        const unsigned flags = AS_B64_PAD_NONE | AS_B64_CANONICAL;
        unsigned char *o1 = malloc(AS_B64_DECODED_MAX(size)),
                      *o2 = malloc(AS_B64_DECODED_MAX(size));
        char *swapped = malloc(size + 1);
        size_t n1, n2, i;
        int a, b;
        for (i = 0; i < size; i++) {
            swapped[i] = data[i] == '/' ? ',' : data[i] == ',' ? '/' : (char)data[i];
        }
        a = as_b64_decode(data, size, o1, &n1, flags);
        b = as_b64_decode(swapped, size, o2, &n2, flags | AS_B64_COMMA);
        CHECK(a == b && (!a || (n1 == n2 && !memcmp(o1, o2, n1))));
        if (ok[0] && !memchr(data, '=', size)) {
            CHECK(a && n1 == n[0] && !memcmp(o1, out[0], n1));
        }
        free(swapped);
        free(o1);
        free(o2);
    }
    /* the request line's mode: the canonical decoding of the input with
     * its '=' padding complete or left out altogether, nothing else */
    {
        const unsigned flags = AS_B64_CANONICAL | AS_B64_PAD_OPTIONAL;
        unsigned char *o = malloc(AS_B64_DECODED_MAX(size));
        size_t on, elen;
        char *renc;
        if (as_b64_decode(data, size, o, &on, flags)) {
            renc = b64_encode(o, on);
            elen = strlen(renc);
            if (!memchr(data, '=', size)) {
                while (elen > 0 && renc[elen - 1] == '=') {
                    elen--;
                }
            }
            CHECK(elen == size && !memcmp(renc, data, size));
            free(renc);
        } else {
            CHECK(!ok[0]);
        }
        free(o);
    }
    for (m = 0; m < 4; m++) {
        free(out[m]);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    char *q;
    as_request_line_t rl;
    const char *err = NULL;
    apr_status_t rv;

    if (size > 2 * AS_RL_MAX_QUERY) {
        return 0;
    }
    q = malloc(size + 1);
    memcpy(q, data, size);
    q[size] = '\0';
    apr_pool_create(&p, root);

    rv = as_request_line_parse(p, q, &rl, &err);
    check_line(p, rv, &rl, err, 0);
    rv = as_request_line_parse_ex(p, q, AS_RL_LENIENT, &rl, &err);
    check_line(p, rv, &rl, err, 1);
    check_account(p, q);
    check_base64(data, size);

    /* the input as the binary structure of a base64 query */
    if (size > 0 && size <= AS_RL_MAX_QUERY / 4 * 3) {
        char *e = b64_encode(data, size);
        rv = as_request_line_parse(p, e, &rl, &err);
        check_line(p, rv, &rl, err, 0);
        if (rv == APR_SUCCESS) {
            CHECK(rl.base64);
        }
        free(e);
    }

    apr_pool_destroy(p);
    free(q);
    return 0;
}
