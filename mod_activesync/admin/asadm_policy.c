/* activesync-admin: provisioning policy commands (show, set, unset,
 * settings).  A level is DOMAIN, DOMAIN/CLASS or an ADDRESS, as for the
 * mobility options. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_policy.h"
#include "asadm.h"

#define NAME_WIDTH 40

static int usage_err(const char *what)
{
    return asadm_error(ASADM_USAGE, "usage: %s (see --help)", what);
}

typedef enum { LV_DOMAIN, LV_CLASS, LV_ACCOUNT } level_kind_t;

typedef struct level_t {
    level_kind_t kind;
    const char *name; /* canonical */
    const char *domain, *cls;
} level_t;

static int parse_level(asadm_ctx_t *ctx, const char *in, level_t *lv)
{
    const char *err = NULL;
    apr_status_t rv;

    memset(lv, 0, sizeof(*lv));
    if (strchr(in, '@')) {
        lv->kind = LV_ACCOUNT;
        rv = as_dir_account_name(ctx->pool, in, &lv->name, &lv->domain, &err);
    } else if (strchr(in, '/')) {
        lv->kind = LV_CLASS;
        rv = as_dir_class_path(ctx->pool, in, &lv->domain, &lv->cls, &err);
        lv->name =
            rv == APR_SUCCESS ? apr_pstrcat(ctx->pool, lv->domain, "/", lv->cls, NULL) : NULL;
    } else {
        lv->kind = LV_DOMAIN;
        rv = as_dir_domain_name(ctx->pool, in, &lv->name, &err);
        lv->domain = lv->name;
    }
    if (rv != APR_SUCCESS) {
        return asadm_error(ASADM_FAIL, "%s (a level is DOMAIN, DOMAIN/CLASS or user@domain)", err);
    }
    return 0;
}

static const char *value_json(apr_pool_t *p, const as_polset_t *s, as_pol_t i)
{
    switch (as_pol_type(i)) {
    case AS_POLT_BOOL:
        return s->value[i] ? "true" : "false";
    case AS_POLT_UINT:
        if (s->value[i] == AS_POL_EMPTY) {
            return "\"unlimited\"";
        }
        return apr_ltoa(p, s->value[i]);
    case AS_POLT_INT:
        return apr_ltoa(p, s->value[i]);
    default: {
        /* Lists: a JSON string (asadm_json_str writes to a FILE, so escape here). */
        const char *v = as_pol_format(p, s, i);
        char *out = apr_palloc(p, strlen(v) * 6 + 3), *o = out;
        *o++ = '"';
        for (; *v; v++) {
            unsigned char c = (unsigned char)*v;
            if (c == '"' || c == '\\') {
                *o++ = '\\';
                *o++ = (char)c;
            } else if (c < 0x20) {
                o += sprintf(o, "\\u%04x", c);
            } else {
                *o++ = (char)c;
            }
        }
        *o++ = '"';
        *o = '\0';
        return out;
    }
    }
}

static int cmd_show(asadm_ctx_t *ctx, const level_t *lv)
{
    const as_polset_t *explicit_set = NULL;
    const char *err = NULL, *title;
    as_policy_t pol;
    apr_status_t rv;
    int i;

    if (lv->kind == LV_DOMAIN) {
        as_dir_domain_t d;
        if ((rv = as_dir_domain_get(ctx->db, ctx->pool, lv->name, &d, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        explicit_set = d.pol;
        as_policy_resolve(d.pol, NULL, NULL, &pol);
        title = apr_psprintf(ctx->pool, "policy of domain %s", lv->name);
    } else if (lv->kind == LV_CLASS) {
        as_dir_class_t c;
        rv = as_dir_class_get(ctx->db, ctx->pool, lv->domain, lv->cls, &c, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        explicit_set = c.pol;
        as_policy_resolve(c.pol_domain, c.pol, NULL, &pol);
        title = apr_psprintf(ctx->pool,
                             "policy of class %s (what a member without own settings "
                             "gets)",
                             lv->name);
    } else {
        as_dir_account_t a;
        if ((rv = as_svc_account_get(ctx->db, ctx->pool, lv->name, &a, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        explicit_set = a.pol[AS_SRC_ACCOUNT];
        as_policy_resolve_account(&a, &pol);
        title = apr_psprintf(ctx->pool, "policy of %s (domain %s%s, class %s%s)", lv->name,
                             a.domain, a.domain_known ? "" : ": unknown, built-in applies",
                             a.class_name ? a.class_name : "-",
                             a.class_name && !a.class_known ? ": unknown, ignored" : "");
    }
    if (ctx->json) {
        fputs("{\"level\": ", stdout);
        asadm_json_str(stdout, lv->name);
        printf(", \"kind\": \"%s\", \"policy\": {", lv->kind == LV_DOMAIN  ? "domain"
                                                    : lv->kind == LV_CLASS ? "class"
                                                                           : "account");
        for (i = 0; i < AS_POL_COUNT; i++) {
            asadm_json_setting(stdout, i == 0, as_pol_name(i), value_json(ctx->pool, &pol.v, i),
                               pol.source[i], as_polset_has(explicit_set, i));
        }
        fputs("}}\n", stdout);
        return ASADM_OK;
    }
    printf("%s\n", title);
    for (i = 0; i < AS_POL_COUNT; i++) {
        const char *v = as_pol_format(ctx->pool, &pol.v, i);
        asadm_print_setting(stdout, "  ", NAME_WIDTH, as_pol_name(i),
                            as_pol_type(i) == AS_POLT_LIST && !*v ? "(none)" : v, pol.source[i],
                            as_polset_has(explicit_set, i));
    }
    return ASADM_OK;
}

static int cmd_edit(asadm_ctx_t *ctx, const level_t *lv, int set, int argc, const char *const *argv)
{
    as_poledit_t *pe = apr_pcalloc(ctx->pool, sizeof(*pe));
    as_optedit_t oe;
    const char *err = NULL;
    apr_status_t rv;
    int i, rc;

    for (i = 0; i < argc; i++) {
        rv = set ? as_poledit_parse_set(ctx->pool, pe, argv[i], &err)
                 : as_poledit_parse_unset(ctx->pool, pe, argv[i], &err);
        if (rv != APR_SUCCESS) {
            return asadm_error(ASADM_FAIL, "%s", err);
        }
    }
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    memset(&oe, 0, sizeof(oe));
    oe.policy = pe;
    if (lv->kind == LV_DOMAIN) {
        rv = as_dir_domain_update(ctx->db, ctx->pool, lv->name, &oe, &err);
    } else if (lv->kind == LV_CLASS) {
        rv = as_dir_class_update(ctx->db, ctx->pool, lv->domain, lv->cls, &oe, &err);
    } else {
        rv = as_svc_account_update(ctx->db, ctx->pool, lv->name, &oe, NULL, &err);
    }
    if (rv != APR_SUCCESS) {
        return asadm_db_error(rv, err);
    }
    asadm_ok(ctx,
             "policy of %s updated; devices whose effective policy changed provision again on "
             "their next request",
             lv->name);
    return ASADM_OK;
}

static int cmd_settings(asadm_ctx_t *ctx)
{
    const as_polset_t *b = as_policy_builtin();
    static const char *const types[] = {"bool", "number", "number", "list"};
    int i;

    if (ctx->json) {
        fputs("{\"settings\": [", stdout);
        for (i = 0; i < AS_POL_COUNT; i++) {
            printf(
                "%s{\"name\": \"%s\", \"type\": \"%s\", \"default\": %s, \"help\": ", i ? ", " : "",
                as_pol_name(i), types[as_pol_type(i)], value_json(ctx->pool, b, i));
            asadm_json_str(stdout, as_pol_help(i));
            fputs("}", stdout);
        }
        fputs("]}\n", stdout);
        return ASADM_OK;
    }
    printf("%-*s %-10s %s\n", NAME_WIDTH, "SETTING", "DEFAULT", "MEANING");
    for (i = 0; i < AS_POL_COUNT; i++) {
        const char *v = as_pol_format(ctx->pool, b, i);
        printf("%-*s %-10s %s\n", NAME_WIDTH, as_pol_name(i), *v ? v : "(none)", as_pol_help(i));
    }
    printf("\nBooleans take on/off (1/0); \"unlimited\" is accepted where the meaning says so.\n"
           "Defaults are those of Exchange's Default mobile device mailbox policy.\n");
    return ASADM_OK;
}

int asadm_cmd_policy(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    level_t lv;
    int rc;

    if (!strcmp(verb, "settings")) {
        if (argc != 1) {
            return usage_err("policy settings");
        }
        return cmd_settings(ctx);
    }
    if (!strcmp(verb, "show")) {
        if (argc != 2) {
            return usage_err("policy show DOMAIN|DOMAIN/CLASS|ADDRESS");
        }
        if ((rc = parse_level(ctx, argv[1], &lv)) != 0 || (rc = asadm_open_db(ctx)) != 0) {
            return rc;
        }
        return cmd_show(ctx, &lv);
    }
    if (!strcmp(verb, "set") || !strcmp(verb, "unset")) {
        if (argc < 3) {
            return usage_err(!strcmp(verb, "set") ? "policy set LEVEL SETTING=VALUE ..."
                                                  : "policy unset LEVEL SETTING ...");
        }
        if ((rc = parse_level(ctx, argv[1], &lv)) != 0) {
            return rc;
        }
        return cmd_edit(ctx, &lv, verb[0] == 's', argc - 2, argv + 2);
    }
    return asadm_error(ASADM_USAGE, "unknown policy command '%s' (see --help)", verb);
}
