/* activesync-admin: mailbox (registry) commands. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "asadm.h"

static const char *mode_name(as_cap_mode_t m)
{
    return m == AS_CAP_LIMITED ? "limited" : m == AS_CAP_CLOSED ? "closed" : "unlimited";
}

static void cap_json(asadm_ctx_t *ctx)
{
    printf("{\"mode\": \"%s\", \"max\": ", mode_name(ctx->cap.mode));
    if (ctx->cap.mode == AS_CAP_LIMITED) {
        printf("%u", ctx->cap.max);
    } else {
        fputs("null", stdout);
    }
    fputs(", \"source\": ", stdout);
    asadm_json_str(stdout, ctx->cap.source);
    fputs(", \"reason\": ", stdout);
    asadm_json_str(stdout, ctx->cap.reason);
    fputs(", \"from\": ", stdout);
    asadm_json_str(stdout, ctx->cap_origin);
    fputs("}", stdout);
}

int asadm_cmd_mailbox(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    apr_status_t rv;
    int rc;

    if (strcmp(verb, "list") != 0 && strcmp(verb, "count") != 0) {
        return asadm_error(ASADM_USAGE, "usage: mailbox list | mailbox count (see --help)");
    }
    if (argc != 1) {
        return asadm_error(ASADM_USAGE, "usage: mailbox %s (no arguments)", verb);
    }
    if ((rc = asadm_resolve_cap(ctx)) != 0 || (rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    if (!strcmp(verb, "count")) {
        unsigned counter, records;
        if ((rv = as_cap_verify(ctx->db, &counter, &records)) != APR_SUCCESS) {
            return asadm_db_error(rv, NULL);
        }
        if (ctx->json) {
            printf("{\"count\": %u, \"records\": %u, \"consistent\": %s, \"cap\": ", counter,
                   records, counter == records ? "true" : "false");
            cap_json(ctx);
            fputs("}\n", stdout);
        } else {
            printf("%u mailbox%s registered\n", counter, counter == 1 ? "" : "es");
            printf("cap: %s%s\n", as_cap_limit_describe(ctx->pool, &ctx->cap),
                   ctx->cap.mode == AS_CAP_LIMITED && counter >= ctx->cap.max ? " -- full" : "");
            if (counter != records) {
                printf("warning: the counter (%u) and the registry (%u entries) differ\n", counter,
                       records);
            }
        }
        return counter == records ? ASADM_OK : ASADM_FAIL;
    }
    {
        apr_array_header_t *arr;
        int i, w = 7;
        if ((rv = as_cap_list(ctx->db, ctx->pool, NULL, &arr)) != APR_SUCCESS) {
            return asadm_db_error(rv, NULL);
        }
        if (ctx->json) {
            printf("{\"count\": %d, \"cap\": ", arr->nelts);
            cap_json(ctx);
            fputs(", \"mailboxes\": [", stdout);
        } else {
            printf("%d mailbox%s registered; cap: %s\n", arr->nelts, arr->nelts == 1 ? "" : "es",
                   as_cap_limit_describe(ctx->pool, &ctx->cap));
            for (i = 0; i < arr->nelts; i++) {
                int n = (int)strlen(APR_ARRAY_IDX(arr, i, as_cap_entry_t).address);
                w = n > w ? n : w;
            }
            if (arr->nelts) {
                printf("%-*s  %-20s  %-8s  %s\n", w, "MAILBOX", "FIRST ADMISSION", "BY",
                       "ACTIVESYNC");
            }
        }
        for (i = 0; i < arr->nelts; i++) {
            as_cap_entry_t *e = &APR_ARRAY_IDX(arr, i, as_cap_entry_t);
            as_dir_account_t a;
            const char *err = NULL;
            if ((rv = as_svc_account_get(ctx->db, ctx->pool, e->address, &a, &err)) !=
                APR_SUCCESS) {
                return asadm_db_error(rv, err);
            }
            if (ctx->json) {
                fputs(i ? ", {\"address\": " : "{\"address\": ", stdout);
                asadm_json_str(stdout, e->address);
                printf(", \"admitted\": \"%s\", \"by\": \"%s\", \"activesync\": %s, "
                       "\"activesync_source\": \"%s\"}",
                       asadm_time(ctx->pool, e->admitted), e->by_admin ? "admin" : "request",
                       a.eff.value[AS_OPT_ACTIVESYNC] ? "true" : "false",
                       as_src_name(a.eff.source[AS_OPT_ACTIVESYNC]));
            } else {
                printf("%-*s  %-20s  %-8s  %s\n", w, e->address, asadm_time(ctx->pool, e->admitted),
                       e->by_admin ? "admin" : "request",
                       asadm_opt_cell(ctx->pool, &a.eff, AS_OPT_ACTIVESYNC));
            }
        }
        if (ctx->json) {
            fputs("]}\n", stdout);
        }
    }
    return ASADM_OK;
}
