/* activesync-admin: licence commands (vendor: keygen, sign; administrator:
 * show).  No data directory is needed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_license.h"
#include "asadm.h"

static int cmd_sign(asadm_ctx_t *ctx)
{
    as_license_t lic;
    const char *text, *msg;
    char *e;
    unsigned long n;
    apr_status_t rv;

    if (!ctx->key || !ctx->licensee || !ctx->mailboxes || !ctx->expires) {
        return asadm_error(ASADM_USAGE,
                           "usage: license sign --key PRIVATE.pem --licensee NAME --mailboxes N "
                           "--expires YYYY-MM-DD [--issued YYYY-MM-DD] [--id ID] [-o FILE]");
    }
    memset(&lic, 0, sizeof(lic));
    errno = 0;
    n = strtoul(ctx->mailboxes, &e, 10);
    if (errno || *e || ctx->mailboxes[0] < '0' || ctx->mailboxes[0] > '9' || n == 0 ||
        n > 10000000) {
        return asadm_error(ASADM_FAIL, "--mailboxes must be a number from 1 to 10000000, not '%s'",
                           ctx->mailboxes);
    }
    lic.mailboxes = (unsigned)n;
    lic.licensee = ctx->licensee;
    lic.expires = ctx->expires;
    lic.issued = ctx->issued;
    lic.id = ctx->id;
    if (as_license_parse_date(lic.expires) < 0) {
        return asadm_error(ASADM_FAIL, "--expires must be a date YYYY-MM-DD, not '%s'",
                           lic.expires);
    }
    if (lic.issued && as_license_parse_date(lic.issued) < 0) {
        return asadm_error(ASADM_FAIL, "--issued must be a date YYYY-MM-DD, not '%s'", lic.issued);
    }
    rv = as_license_sign(ctx->pool, &lic, ctx->key, &text, &msg);
    if (rv != APR_SUCCESS) {
        return asadm_error(ASADM_FAIL, "cannot sign: %s", msg ? msg : "error");
    }
    if (ctx->out) {
        FILE *f = fopen(ctx->out, "w");
        if (!f || fputs(text, f) < 0 || fclose(f) != 0) {
            return asadm_error(ASADM_FAIL, "cannot write %s: %s", ctx->out, strerror(errno));
        }
        if (!ctx->json) {
            fprintf(stderr, "licence for %s (%u mailboxes, expires %s) written to %s\n",
                    lic.licensee, lic.mailboxes, lic.expires, ctx->out);
        } else {
            asadm_ok(ctx, "licence written to %s", ctx->out);
        }
    } else {
        fputs(text, stdout);
    }
    return ASADM_OK;
}

static int cmd_show(asadm_ctx_t *ctx, const char *path)
{
    as_license_t lic;
    const char *msg;
    const char *key = ctx->key ? ctx->key : ctx->license_key;
    as_license_status_t st =
        as_license_verify_file(ctx->pool, path, key, apr_time_now(), &lic, &msg);
    int ok = st == AS_LIC_VALID || st == AS_LIC_UNVERIFIED;

    if (ctx->json) {
        printf("{\"file\": ");
        asadm_json_str(stdout, path);
        printf(", \"status\": \"%s\", \"verified\": %s, \"message\": ", as_license_status_name(st),
               (st == AS_LIC_VALID || st == AS_LIC_EXPIRED) ? "true" : "false");
        asadm_json_str(stdout, msg);
        fputs(", \"licensee\": ", stdout);
        asadm_json_str(stdout, lic.licensee);
        fputs(", \"mailboxes\": ", stdout);
        if (lic.mailboxes) {
            printf("%u", lic.mailboxes);
        } else {
            fputs("null", stdout);
        }
        fputs(", \"expires\": ", stdout);
        asadm_json_str(stdout, lic.expires);
        fputs(", \"issued\": ", stdout);
        asadm_json_str(stdout, lic.issued);
        fputs(", \"id\": ", stdout);
        asadm_json_str(stdout, lic.id);
        fputs("}\n", stdout);
    } else {
        if (lic.licensee) {
            printf("licensee    %s\n", lic.licensee);
            printf("mailboxes   %u\n", lic.mailboxes);
            printf("expires     %s (valid through that day, UTC)\n", lic.expires);
            if (lic.issued) {
                printf("issued      %s\n", lic.issued);
            }
            if (lic.id) {
                printf("id          %s\n", lic.id);
            }
        }
        printf("status      %s\n", as_license_status_name(st));
        if (st == AS_LIC_UNVERIFIED) {
            printf("            (not verified: give the vendor's public key with --key)\n");
        }
    }
    if (!ok) {
        return asadm_error(ASADM_FAIL, "%s", msg);
    }
    if (!ctx->json && st == AS_LIC_VALID) {
        printf("            %s\n", msg);
    }
    return ASADM_OK;
}

int asadm_cmd_license(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";

    if (!strcmp(verb, "keygen")) {
        const char *msg;
        if (argc != 3) {
            return asadm_error(ASADM_USAGE, "usage: license keygen PRIVATE.pem PUBLIC.pem");
        }
        if (as_license_keygen(ctx->pool, argv[1], argv[2], &msg) != APR_SUCCESS) {
            return asadm_error(ASADM_FAIL, "%s", msg);
        }
        asadm_ok(ctx,
                 "key pair created: %s (private: keep it secret, it signs licences) and %s "
                 "(public: ActiveSyncLicenseKey)",
                 argv[1], argv[2]);
        return ASADM_OK;
    }
    if (!strcmp(verb, "sign")) {
        if (argc != 1) {
            return asadm_error(ASADM_USAGE, "license sign takes options only (see --help)");
        }
        return cmd_sign(ctx);
    }
    if (!strcmp(verb, "show")) {
        if (argc != 2) {
            return asadm_error(ASADM_USAGE, "usage: license show FILE [--key PUBLIC.pem]");
        }
        return cmd_show(ctx, argv[1]);
    }
    return asadm_error(ASADM_USAGE, "usage: license keygen|sign|show ... (see --help)");
}
