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

/* Whether w is one of the '|'-separated words of list. */
static int in_list(const char *list, const char *w)
{
    size_t n = strlen(w);
    const char *p;

    if (n == 0) {
        return 0;
    }
    for (p = list; (p = strstr(p, w)) != NULL; p += n) {
        if ((p == list || p[-1] == '|') && (p[n] == '|' || p[n] == '\0')) {
            return 1;
        }
    }
    return 0;
}

/* What a domain, class or account command other than list accepts. */
typedef struct verbs_t {
    const char *kind;  /* "domain", "class", "account" */
    const char *arg;   /* what names the object: "NAME" */
    const char *plain; /* verbs taking only that: "add|remove|show" */
    int allow_class;   /* set/unset also take class membership */
} verbs_t;

/* Check the arguments of a command other than list; set and unset words
 * become the edit e. */
static int check_verb(asadm_ctx_t *ctx, const verbs_t *v, int argc, const char *const *argv,
                      as_optedit_t *e)
{
    const char *verb = argc > 0 ? argv[0] : "";

    if (argc < 2) {
        return usage_err(
            apr_psprintf(ctx->pool, "%s %s|set|unset %s ...", v->kind, v->plain, v->arg));
    }
    if (in_list(v->plain, verb)) {
        if (argc != 2) {
            return usage_err(apr_psprintf(ctx->pool, "%s %s %s", v->kind, verb, v->arg));
        }
        return 0;
    }
    if (strcmp(verb, "set") && strcmp(verb, "unset")) {
        return asadm_error(ASADM_USAGE, "unknown %s command '%s' (see --help)", v->kind, verb);
    }
    if (argc < 3) {
        return usage_err(!strcmp(verb, "set")
                             ? apr_psprintf(ctx->pool, "%s set %s OPT=on|off ...%s", v->kind,
                                            v->arg, v->allow_class ? " [class=CLASS]" : "")
                             : apr_psprintf(ctx->pool, "%s unset %s OPT%s ...", v->kind, v->arg,
                                            v->allow_class ? "|class" : ""));
    }
    return parse_words(ctx, verb[0] == 's', v->allow_class, argc - 2, argv + 2, e);
}

/* A list's JSON: {"KEY": [ITEM, ...]} with one item printer. */
typedef void json_fn(apr_pool_t *p, const void *item);

static void json_list(apr_pool_t *p, const char *key, const apr_array_header_t *arr, json_fn *fn)
{
    int i;

    printf("{\"%s\": [", key);
    for (i = 0; i < arr->nelts; i++) {
        fputs(i ? ", " : "", stdout);
        fn(p, arr->elts + (size_t)i * (size_t)arr->elt_size);
    }
    fputs("]}\n", stdout);
}

/* A list command: its arguments, its items and what prints when there is
 * no table to print. */
typedef apr_status_t list_fn(as_db_t *db, apr_pool_t *p, const char *domain,
                             apr_array_header_t **out, const char **err);

/* A table row: leading columns, the effective options, then the tail. */
#define LEAD_MAX 3
typedef struct row_t {
    const char *lead[LEAD_MAX];
    const as_effective_t *eff;
    const char *tail;
} row_t;

typedef void row_fn(apr_pool_t *p, const void *item, row_t *row);

typedef struct listing_t {
    const char *usage; /* "class list [DOMAIN]" */
    int max_argc;      /* 2 when a DOMAIN may follow */
    list_fn *fetch;
    const char *key; /* of the JSON array */
    json_fn *json;
    const char *empty;          /* the text for no items */
    const char *lead[LEAD_MAX]; /* leading column titles, NULL after the last */
    int width[LEAD_MAX];        /* their least widths */
    const char *tail;           /* the title after the option columns */
    row_fn *row;
} listing_t;

static void print_table(apr_pool_t *p, const listing_t *l, const apr_array_header_t *arr)
{
    row_t *rows = apr_pcalloc(p, sizeof(row_t) * (size_t)arr->nelts);
    int w[LEAD_MAX], i, j;

    for (j = 0; j < LEAD_MAX; j++) {
        w[j] = l->width[j];
    }
    for (i = 0; i < arr->nelts; i++) {
        l->row(p, arr->elts + (size_t)i * (size_t)arr->elt_size, &rows[i]);
        for (j = 0; j < LEAD_MAX && l->lead[j]; j++) {
            w[j] = maxlen(w[j], rows[i].lead[j]);
        }
    }
    for (j = 0; j < LEAD_MAX && l->lead[j]; j++) {
        cell(l->lead[j], w[j]);
    }
    opt_header();
    printf("%s\n", l->tail);
    for (i = 0; i < arr->nelts; i++) {
        for (j = 0; j < LEAD_MAX && l->lead[j]; j++) {
            cell(rows[i].lead[j], w[j]);
        }
        opt_cells(p, rows[i].eff);
        printf("%s\n", rows[i].tail);
    }
}

/* A list command: its items as JSON, as a table, or the text for none. */
static int list_cmd(asadm_ctx_t *ctx, const listing_t *l, int argc, const char *const *argv)
{
    const char *err = NULL;
    apr_array_header_t *arr;
    apr_status_t rv;
    int rc;

    if (argc > l->max_argc) {
        return usage_err(l->usage);
    }
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    rv = l->fetch(ctx->db, ctx->pool, argc == 2 ? argv[1] : NULL, &arr, &err);
    if (rv != APR_SUCCESS) {
        return asadm_db_error(rv, err);
    }
    if (ctx->json) {
        json_list(ctx->pool, l->key, arr, l->json);
    } else if (arr->nelts == 0) {
        printf("%s\n", l->empty);
    } else {
        print_table(ctx->pool, l, arr);
    }
    return ASADM_OK;
}

/* Run the list command, or check the arguments of another one; *done says
 * whether the command is over. */
static int begin_cmd(asadm_ctx_t *ctx, const listing_t *l, const verbs_t *v, int argc,
                     const char *const *argv, as_optedit_t *e, int *done)
{
    *done = argc > 0 && !strcmp(argv[0], "list");
    return *done ? list_cmd(ctx, l, argc, argv) : check_verb(ctx, v, argc, argv, e);
}

/* ---- domain ----------------------------------------------------------------- */

static const verbs_t domain_verbs = {"domain", "NAME", "add|remove|show", 0};

static void domain_json(apr_pool_t *p, const void *item)
{
    const as_dir_domain_t *d = item;
    (void)p;
    fputs("{\"name\": ", stdout);
    asadm_json_str(stdout, d->name);
    fputs(", \"options\": ", stdout);
    asadm_json_options(stdout, &d->eff, &d->opts);
    printf(", \"classes\": %d, \"accounts\": %d}", d->nclasses, d->naccounts);
}

/* as_dir_domain_list in the shape of the other lists: no DOMAIN. */
static apr_status_t domain_list(as_db_t *db, apr_pool_t *p, const char *domain,
                                apr_array_header_t **out, const char **err)
{
    (void)domain;
    return as_dir_domain_list(db, p, out, err);
}

static void domain_row(apr_pool_t *p, const void *item, row_t *row)
{
    const as_dir_domain_t *d = item;
    row->lead[0] = d->name;
    row->eff = &d->eff;
    row->tail = apr_psprintf(p, "%-7d  %d", d->nclasses, d->naccounts);
}

static const listing_t domain_listing = {
    .usage = "domain list",
    .max_argc = 1,
    .fetch = domain_list,
    .key = "domains",
    .json = domain_json,
    .empty = "no domains (add one with: activesync-admin domain add NAME)",
    .lead = {"DOMAIN"},
    .width = {6},
    .tail = "CLASSES  ACCOUNTS",
    .row = domain_row,
};

int asadm_cmd_domain(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    const char *err = NULL;
    apr_status_t rv;
    as_optedit_t e;
    int rc, done;

    if ((rc = begin_cmd(ctx, &domain_listing, &domain_verbs, argc, argv, &e, &done)) != 0 || done) {
        return rc;
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
        if ((rv = as_svc_domain_remove(ctx->db, ctx->pool, argv[1], ctx->force, &err)) !=
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
            domain_json(ctx->pool, &d);
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

static const verbs_t class_verbs = {"class", "DOMAIN/CLASS", "add|remove|show", 0};

static void class_json(apr_pool_t *p, const void *item)
{
    const as_dir_class_t *c = item;
    (void)p;
    fputs("{\"domain\": ", stdout);
    asadm_json_str(stdout, c->domain);
    fputs(", \"name\": ", stdout);
    asadm_json_str(stdout, c->name);
    fputs(", \"options\": ", stdout);
    asadm_json_options(stdout, &c->eff, &c->opts);
    printf(", \"members\": %d}", c->nmembers);
}

static void class_row(apr_pool_t *p, const void *item, row_t *row)
{
    const as_dir_class_t *c = item;
    row->lead[0] = apr_pstrcat(p, c->domain, "/", c->name, NULL);
    row->eff = &c->eff;
    row->tail = apr_psprintf(p, "%d", c->nmembers);
}

static const listing_t class_listing = {
    .usage = "class list [DOMAIN]",
    .max_argc = 2,
    .fetch = as_dir_class_list,
    .key = "classes",
    .json = class_json,
    .empty = "no classes",
    .lead = {"CLASS"},
    .width = {5},
    .tail = "MEMBERS",
    .row = class_row,
};

int asadm_cmd_class(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    const char *err = NULL, *dom = NULL, *cls = NULL;
    apr_status_t rv;
    as_optedit_t e;
    int rc, done;

    if ((rc = begin_cmd(ctx, &class_listing, &class_verbs, argc, argv, &e, &done)) != 0 || done) {
        return rc;
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
            class_json(ctx->pool, &c);
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

static const verbs_t account_verbs = {"account", "ADDRESS", "show|remove", 1};

static void account_json(apr_pool_t *p, const void *item)
{
    const as_dir_account_t *a = item;
    int i;

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
    fputs(", \"name\": ", stdout);
    asadm_json_str(stdout, a->display_name);
    fputs(", \"aliases\": [", stdout);
    for (i = 0; a->aliases && i < a->aliases->nelts; i++) {
        fputs(i ? ", " : "", stdout);
        asadm_json_str(stdout, APR_ARRAY_IDX(a->aliases, i, const char *));
    }
    fputs("], \"options\": ", stdout);
    asadm_json_options(stdout, &a->eff, &a->opts);
    fputs("}", stdout);
}

/* "a@x, b@x", or "-" when the account has no aliases. */
static const char *alias_list(apr_pool_t *p, const as_dir_account_t *a)
{
    const char *s = NULL;
    int i;

    for (i = 0; a->aliases && i < a->aliases->nelts; i++) {
        const char *x = APR_ARRAY_IDX(a->aliases, i, const char *);
        s = s ? apr_pstrcat(p, s, ", ", x, NULL) : x;
    }
    return s ? s : "-";
}

static const char *mailbox_state(apr_pool_t *p, const as_dir_account_t *a)
{
    if (!a->registered) {
        return "not registered";
    }
    return apr_psprintf(p, "registered %s%s", asadm_time(p, a->admitted),
                        a->eff.value[AS_OPT_ACTIVESYNC] ? "" : " (inactive: activesync is off)");
}

static void account_row(apr_pool_t *p, const void *item, row_t *row)
{
    const as_dir_account_t *a = item;
    row->lead[0] = a->address;
    row->lead[1] = a->class_name ? a->class_name : "-";
    row->lead[2] = a->registered ? "registered" : "-";
    row->eff = &a->eff;
    row->tail =
        apr_psprintf(p, "%s  %s", a->display_name ? a->display_name : "-", alias_list(p, a));
}

static const listing_t account_listing = {
    .usage = "account list [DOMAIN]",
    .max_argc = 2,
    .fetch = as_svc_account_list,
    .key = "accounts",
    .json = account_json,
    .empty = "no accounts with their own settings or a mailbox slot (every other user inherits "
             "from its domain)",
    .lead = {"ACCOUNT", "CLASS", "MAILBOX"},
    .width = {7, 5, 10},
    .tail = "NAME  ALIASES",
    .row = account_row,
};

int asadm_cmd_account(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "";
    const char *err = NULL;
    apr_status_t rv;
    as_optedit_t e;
    int rc, done;

    if ((rc = begin_cmd(ctx, &account_listing, &account_verbs, argc, argv, &e, &done)) != 0 ||
        done) {
        return rc;
    }
    /* set and unset may register a mailbox: they need the cap */
    if ((!strcmp(verb, "set") || !strcmp(verb, "unset")) && (rc = asadm_resolve_cap(ctx)) != 0) {
        return rc;
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
        rv = as_svc_account_get(ctx->db, ctx->pool, argv[1], &a, &err);
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
        printf("  name        %s\n", a.display_name ? a.display_name : "-");
        printf("  aliases     %s\n", alias_list(ctx->pool, &a));
        asadm_print_options(stdout, "  ", &a.eff, &a.opts);
    } else if (!strcmp(verb, "remove")) {
        int ndev = 0;
        rv = as_svc_account_remove_ex(ctx->db, ctx->pool, argv[1], &ndev, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx,
                 "account %s removed (its settings, mailbox slot, %d device record(s) and their "
                 "sync state are gone)",
                 argv[1], ndev);
    } else {
        as_dir_account_t a;
        rv = as_svc_account_update(ctx->db, ctx->pool, argv[1], &e, &ctx->cap, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (as_svc_account_get(ctx->db, ctx->pool, argv[1], &a, &err) == APR_SUCCESS) {
            asadm_ok(ctx, "account %s updated: activesync %s (%s), mailbox %s", a.address,
                     a.eff.value[AS_OPT_ACTIVESYNC] ? "on" : "off",
                     as_src_name(a.eff.source[AS_OPT_ACTIVESYNC]), mailbox_state(ctx->pool, &a));
        } else {
            asadm_ok(ctx, "account %s updated", argv[1]);
        }
    }
    return ASADM_OK;
}
