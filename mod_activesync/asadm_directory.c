/* activesync-admin: domain, class and account commands. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "asadm.h"

static int usage_err(const char *what)
{
    return asadm_error(ASADM_USAGE, "usage: %s (see --help)", what);
}

/* Build an edit from OPT=on|off (set) or OPT (unset) words. */
static int parse_words(asadm_ctx_t *ctx, int set, int allow_class, int argc,
                       const char *const *argv, as_optedit_t *e)
{
    int i;
    const char *err = NULL;

    memset(e, 0, sizeof(*e));
    for (i = 0; i < argc; i++) {
        apr_status_t rv = set ? as_optedit_parse_set(ctx->pool, e, argv[i], allow_class, &err)
                              : as_optedit_parse_unset(ctx->pool, e, argv[i], allow_class, &err);
        if (rv != APR_SUCCESS) {
            return asadm_error(ASADM_FAIL, "%s", err);
        }
    }
    return 0;
}

/* Column output: pad to width. */
static void cell(const char *s, int width)
{
    printf("%-*s  ", width, s);
}

static int maxlen(int cur, const char *s)
{
    int n = (int)strlen(s);
    return n > cur ? n : cur;
}

static void opt_header(void)
{
    int i;
    for (i = 0; i < AS_OPT_COUNT; i++) {
        char up[16];
        size_t j;
        apr_cpystrn(up, as_opt_name(i), sizeof(up));
        for (j = 0; up[j]; j++) {
            up[j] = (char)(up[j] - 'a' + 'A');
        }
        cell(up, 17);
    }
}

static void opt_cells(apr_pool_t *p, const as_effective_t *eff)
{
    int i;
    for (i = 0; i < AS_OPT_COUNT; i++) {
        cell(asadm_opt_cell(p, eff, i), 17);
    }
}

/* ---- domain ----------------------------------------------------------------- */

static void domain_json(const as_dir_domain_t *d)
{
    fputs("{\"name\": ", stdout);
    asadm_json_str(stdout, d->name);
    fputs(", \"options\": ", stdout);
    asadm_json_options(stdout, &d->eff, &d->opts);
    printf(", \"classes\": %d, \"accounts\": %d}", d->nclasses, d->naccounts);
}

int asadm_cmd_domain(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    const char *err = NULL;
    apr_status_t rv;
    as_optedit_t e;
    int rc;

    if (!strcmp(verb, "list")) {
        apr_array_header_t *arr;
        int i, w = 6;
        if (argc != 1) {
            return usage_err("domain list");
        }
        if ((rc = asadm_open_db(ctx)) != 0) {
            return rc;
        }
        if ((rv = as_dir_domain_list(ctx->db, ctx->pool, &arr, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (ctx->json) {
            fputs("{\"domains\": [", stdout);
            for (i = 0; i < arr->nelts; i++) {
                fputs(i ? ", " : "", stdout);
                domain_json(&APR_ARRAY_IDX(arr, i, as_dir_domain_t));
            }
            fputs("]}\n", stdout);
            return ASADM_OK;
        }
        if (arr->nelts == 0) {
            printf("no domains (add one with: activesync-admin domain add NAME)\n");
            return ASADM_OK;
        }
        for (i = 0; i < arr->nelts; i++) {
            w = maxlen(w, APR_ARRAY_IDX(arr, i, as_dir_domain_t).name);
        }
        cell("DOMAIN", w);
        opt_header();
        printf("CLASSES  ACCOUNTS\n");
        for (i = 0; i < arr->nelts; i++) {
            as_dir_domain_t *d = &APR_ARRAY_IDX(arr, i, as_dir_domain_t);
            cell(d->name, w);
            opt_cells(ctx->pool, &d->eff);
            printf("%-7d  %d\n", d->nclasses, d->naccounts);
        }
        return ASADM_OK;
    }
    if (argc < 2) {
        return usage_err("domain add|remove|show|set|unset NAME ...");
    }
    if (!strcmp(verb, "add") || !strcmp(verb, "remove") || !strcmp(verb, "show")) {
        if (argc != 2) {
            return usage_err(apr_psprintf(ctx->pool, "domain %s NAME", verb));
        }
    } else if (!strcmp(verb, "set") || !strcmp(verb, "unset")) {
        if (argc < 3) {
            return usage_err(!strcmp(verb, "set") ? "domain set NAME OPT=on|off ..."
                                                  : "domain unset NAME OPT ...");
        }
        if ((rc = parse_words(ctx, verb[0] == 's', 0, argc - 2, argv + 2, &e)) != 0) {
            return rc;
        }
    } else {
        return asadm_error(ASADM_USAGE, "unknown domain command '%s' (see --help)", verb);
    }
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    if (!strcmp(verb, "add")) {
        if ((rv = as_dir_domain_add(ctx->db, ctx->pool, argv[1], &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "domain %s added", argv[1]);
    } else if (!strcmp(verb, "remove")) {
        if ((rv = as_dir_domain_remove(ctx->db, ctx->pool, argv[1], ctx->force, &err)) !=
            APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "domain %s removed", argv[1]);
    } else if (!strcmp(verb, "show")) {
        as_dir_domain_t d;
        if ((rv = as_dir_domain_get(ctx->db, ctx->pool, argv[1], &d, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (ctx->json) {
            domain_json(&d);
            fputs("\n", stdout);
        } else {
            printf("domain %s\n", d.name);
            asadm_print_options(stdout, "  ", &d.eff, &d.opts);
            printf("  classes     %d\n  accounts    %d (with their own settings)\n", d.nclasses,
                   d.naccounts);
        }
    } else {
        if ((rv = as_dir_domain_update(ctx->db, ctx->pool, argv[1], &e, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "domain %s updated", argv[1]);
    }
    return ASADM_OK;
}

/* ---- class ------------------------------------------------------------------- */

static void class_json(const as_dir_class_t *c)
{
    fputs("{\"domain\": ", stdout);
    asadm_json_str(stdout, c->domain);
    fputs(", \"name\": ", stdout);
    asadm_json_str(stdout, c->name);
    fputs(", \"options\": ", stdout);
    asadm_json_options(stdout, &c->eff, &c->opts);
    printf(", \"members\": %d}", c->nmembers);
}

int asadm_cmd_class(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    const char *err = NULL, *dom = NULL, *cls = NULL;
    apr_status_t rv;
    as_optedit_t e;
    int rc;

    if (!strcmp(verb, "list")) {
        apr_array_header_t *arr;
        int i, w = 5;
        if (argc > 2) {
            return usage_err("class list [DOMAIN]");
        }
        if ((rc = asadm_open_db(ctx)) != 0) {
            return rc;
        }
        rv = as_dir_class_list(ctx->db, ctx->pool, argc == 2 ? argv[1] : NULL, &arr, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (ctx->json) {
            fputs("{\"classes\": [", stdout);
            for (i = 0; i < arr->nelts; i++) {
                fputs(i ? ", " : "", stdout);
                class_json(&APR_ARRAY_IDX(arr, i, as_dir_class_t));
            }
            fputs("]}\n", stdout);
            return ASADM_OK;
        }
        if (arr->nelts == 0) {
            printf("no classes\n");
            return ASADM_OK;
        }
        for (i = 0; i < arr->nelts; i++) {
            as_dir_class_t *c = &APR_ARRAY_IDX(arr, i, as_dir_class_t);
            w = maxlen(w, apr_pstrcat(ctx->pool, c->domain, "/", c->name, NULL));
        }
        cell("CLASS", w);
        opt_header();
        printf("MEMBERS\n");
        for (i = 0; i < arr->nelts; i++) {
            as_dir_class_t *c = &APR_ARRAY_IDX(arr, i, as_dir_class_t);
            cell(apr_pstrcat(ctx->pool, c->domain, "/", c->name, NULL), w);
            opt_cells(ctx->pool, &c->eff);
            printf("%d\n", c->nmembers);
        }
        return ASADM_OK;
    }
    if (argc < 2) {
        return usage_err("class add|remove|show|set|unset DOMAIN/CLASS ...");
    }
    if (!strcmp(verb, "add") || !strcmp(verb, "remove") || !strcmp(verb, "show")) {
        if (argc != 2) {
            return usage_err(apr_psprintf(ctx->pool, "class %s DOMAIN/CLASS", verb));
        }
    } else if (!strcmp(verb, "set") || !strcmp(verb, "unset")) {
        if (argc < 3) {
            return usage_err(!strcmp(verb, "set") ? "class set DOMAIN/CLASS OPT=on|off ..."
                                                  : "class unset DOMAIN/CLASS OPT ...");
        }
        if ((rc = parse_words(ctx, verb[0] == 's', 0, argc - 2, argv + 2, &e)) != 0) {
            return rc;
        }
    } else {
        return asadm_error(ASADM_USAGE, "unknown class command '%s' (see --help)", verb);
    }
    if (as_dir_class_path(ctx->pool, argv[1], &dom, &cls, &err) != APR_SUCCESS) {
        return asadm_error(ASADM_FAIL, "%s", err);
    }
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    if (!strcmp(verb, "add")) {
        rv = as_dir_class_add(ctx->db, ctx->pool, dom, cls, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "class %s/%s added", dom, cls);
    } else if (!strcmp(verb, "remove")) {
        rv = as_dir_class_remove(ctx->db, ctx->pool, dom, cls, ctx->force, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "class %s/%s removed", dom, cls);
    } else if (!strcmp(verb, "show")) {
        as_dir_class_t c;
        rv = as_dir_class_get(ctx->db, ctx->pool, dom, cls, &c, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (ctx->json) {
            class_json(&c);
            fputs("\n", stdout);
        } else {
            printf("class %s/%s (what a member without own settings gets)\n", c.domain, c.name);
            asadm_print_options(stdout, "  ", &c.eff, &c.opts);
            printf("  members     %d\n", c.nmembers);
        }
    } else {
        rv = as_dir_class_update(ctx->db, ctx->pool, dom, cls, &e, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "class %s/%s updated", dom, cls);
    }
    return ASADM_OK;
}

/* ---- account ----------------------------------------------------------------- */

static void account_json(apr_pool_t *p, const as_dir_account_t *a)
{
    fputs("{\"address\": ", stdout);
    asadm_json_str(stdout, a->address);
    fputs(", \"domain\": ", stdout);
    asadm_json_str(stdout, a->domain);
    printf(", \"domain_known\": %s, \"class\": ", a->domain_known ? "true" : "false");
    asadm_json_str(stdout, a->class_name);
    printf(", \"class_known\": %s, \"record\": %s, \"registered\": %s, \"admitted\": ",
           a->class_known ? "true" : "false", a->has_record ? "true" : "false",
           a->registered ? "true" : "false");
    asadm_json_str(stdout, a->registered ? asadm_time(p, a->admitted) : NULL);
    fputs(", \"options\": ", stdout);
    asadm_json_options(stdout, &a->eff, &a->opts);
    fputs("}", stdout);
}

static const char *mailbox_state(apr_pool_t *p, const as_dir_account_t *a)
{
    if (!a->registered) {
        return "not registered";
    }
    return apr_psprintf(p, "registered %s%s", asadm_time(p, a->admitted),
                        a->eff.value[AS_OPT_ACTIVESYNC] ? "" : " (inactive: activesync is off)");
}

int asadm_cmd_account(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    const char *err = NULL;
    apr_status_t rv;
    as_optedit_t e;
    int rc;

    if (!strcmp(verb, "list")) {
        apr_array_header_t *arr;
        int i, w = 7, wc = 5;
        if (argc > 2) {
            return usage_err("account list [DOMAIN]");
        }
        if ((rc = asadm_open_db(ctx)) != 0) {
            return rc;
        }
        rv = as_dir_account_list(ctx->db, ctx->pool, argc == 2 ? argv[1] : NULL, &arr, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (ctx->json) {
            fputs("{\"accounts\": [", stdout);
            for (i = 0; i < arr->nelts; i++) {
                fputs(i ? ", " : "", stdout);
                account_json(ctx->pool, &APR_ARRAY_IDX(arr, i, as_dir_account_t));
            }
            fputs("]}\n", stdout);
            return ASADM_OK;
        }
        if (arr->nelts == 0) {
            printf("no accounts with their own settings or a mailbox slot (every other user "
                   "inherits from its domain)\n");
            return ASADM_OK;
        }
        for (i = 0; i < arr->nelts; i++) {
            as_dir_account_t *a = &APR_ARRAY_IDX(arr, i, as_dir_account_t);
            w = maxlen(w, a->address);
            wc = maxlen(wc, a->class_name ? a->class_name : "-");
        }
        cell("ACCOUNT", w);
        cell("CLASS", wc);
        cell("MAILBOX", 10);
        opt_header();
        printf("\n");
        for (i = 0; i < arr->nelts; i++) {
            as_dir_account_t *a = &APR_ARRAY_IDX(arr, i, as_dir_account_t);
            cell(a->address, w);
            cell(a->class_name ? a->class_name : "-", wc);
            cell(a->registered ? "registered" : "-", 10);
            opt_cells(ctx->pool, &a->eff);
            printf("\n");
        }
        return ASADM_OK;
    }
    if (argc < 2) {
        return usage_err("account show|remove|set|unset ADDRESS ...");
    }
    if (!strcmp(verb, "show") || !strcmp(verb, "remove")) {
        if (argc != 2) {
            return usage_err(apr_psprintf(ctx->pool, "account %s ADDRESS", verb));
        }
    } else if (!strcmp(verb, "set") || !strcmp(verb, "unset")) {
        if (argc < 3) {
            return usage_err(!strcmp(verb, "set")
                                 ? "account set ADDRESS OPT=on|off ... [class=CLASS]"
                                 : "account unset ADDRESS OPT|class ...");
        }
        if ((rc = parse_words(ctx, verb[0] == 's', 1, argc - 2, argv + 2, &e)) != 0) {
            return rc;
        }
        if ((rc = asadm_resolve_cap(ctx)) != 0) {
            return rc;
        }
    } else {
        return asadm_error(ASADM_USAGE, "unknown account command '%s' (see --help)", verb);
    }
    {
        const char *canon;
        if (as_dir_account_name(ctx->pool, argv[1], &canon, NULL, &err) != APR_SUCCESS) {
            return asadm_error(ASADM_FAIL, "%s", err);
        }
    }
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    if (!strcmp(verb, "show")) {
        as_dir_account_t a;
        rv = as_dir_account_get(ctx->db, ctx->pool, argv[1], &a, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (ctx->json) {
            account_json(ctx->pool, &a);
            fputs("\n", stdout);
            return ASADM_OK;
        }
        printf("account %s\n", a.address);
        printf("  domain      %s%s\n", a.domain,
               a.domain_known ? "" : " (unknown domain: built-in defaults apply)");
        printf("  class       %s%s\n", a.class_name ? a.class_name : "-",
               a.class_name && !a.class_known ? " (unknown class: ignored)" : "");
        printf("  settings    %s\n",
               a.has_record ? "own settings recorded" : "none (inherits everything)");
        printf("  mailbox     %s\n", mailbox_state(ctx->pool, &a));
        asadm_print_options(stdout, "  ", &a.eff, &a.opts);
    } else if (!strcmp(verb, "remove")) {
        int ndev = 0;
        rv = as_dir_account_remove_ex(ctx->db, ctx->pool, argv[1], &ndev, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx,
                 "account %s removed (its settings, mailbox slot, %d device record(s) and their "
                 "sync state are gone)",
                 argv[1], ndev);
    } else {
        as_dir_account_t a;
        rv = as_dir_account_update(ctx->db, ctx->pool, argv[1], &e, &ctx->cap, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (as_dir_account_get(ctx->db, ctx->pool, argv[1], &a, &err) == APR_SUCCESS) {
            asadm_ok(ctx, "account %s updated: activesync %s (%s), mailbox %s", a.address,
                     a.eff.value[AS_OPT_ACTIVESYNC] ? "on" : "off",
                     as_src_name(a.eff.source[AS_OPT_ACTIVESYNC]), mailbox_state(ctx->pool, &a));
        } else {
            asadm_ok(ctx, "account %s updated", argv[1]);
        }
    }
    return ASADM_OK;
}
