/* Domain device rules (allow/block by DeviceType or User-Agent) and the
 * access decision.  See as_device.h. */
#include <fnmatch.h>
#include <stdarg.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_device.h"
#include "activesync/as_directory.h"
#include "as_device_record.h"

#define RULES_VERSION 1
#define KEY_MAX       AS_DEVREC_KEY_MAX

typedef struct op_t {
    apr_pool_t *p;
    const char *domain;
    const as_device_rule_t *rule;
    int remove;
    apr_array_header_t *arr;
    const char *err;
} op_t;

/* One transaction with a sentence for a person on failure (as_db_fail). */
#define fail(op, code, ...)         as_db_fail((op)->p, &(op)->err, (code), __VA_ARGS__)
#define run(db, flags, fn, op, out) as_db_txn_explained(db, flags, fn, op, &(op)->err, out)

static const char *const action_names[] = {"allow", "block"};
static const char *const field_names[] = {"type", "agent"};

const char *as_rule_action_name(as_rule_action_t a)
{
    return (unsigned)a <= AS_RULE_BLOCK ? action_names[a] : "?";
}

const char *as_rule_field_name(as_rule_field_t f)
{
    return (unsigned)f <= AS_RULE_AGENT ? field_names[f] : "?";
}

apr_status_t as_device_rule_parse(apr_pool_t *p, const char *action, const char *match,
                                  as_device_rule_t *out, const char **err)
{
    const char *eq = match ? strchr(match, '=') : NULL;
    const char *f, *s;

    if (action && !strcasecmp(action, "allow")) {
        out->action = AS_RULE_ALLOW;
    } else if (action && !strcasecmp(action, "block")) {
        out->action = AS_RULE_BLOCK;
    } else {
        *err = apr_psprintf(p, "a rule is 'allow' or 'block', not '%s'", action ? action : "");
        return AS_DIR_EINVAL;
    }
    if (!eq) {
        *err = apr_psprintf(p, "expected type=GLOB or agent=GLOB, got '%s'", match ? match : "");
        return AS_DIR_EINVAL;
    }
    f = apr_pstrmemdup(p, match, (apr_size_t)(eq - match));
    if (!strcasecmp(f, "type")) {
        out->field = AS_RULE_TYPE;
    } else if (!strcasecmp(f, "agent") || !strcasecmp(f, "user-agent")) {
        out->field = AS_RULE_AGENT;
    } else {
        *err = apr_psprintf(p, "a rule matches type=GLOB or agent=GLOB, not '%s='", f);
        return AS_DIR_EINVAL;
    }
    if (!eq[1] || strlen(eq + 1) > AS_DEVICE_RULE_MAX) {
        *err = apr_psprintf(p, "the pattern must have 1 to %d characters", AS_DEVICE_RULE_MAX);
        return AS_DIR_EINVAL;
    }
    for (s = eq + 1; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            *err = "the pattern contains a control character";
            return AS_DIR_EINVAL;
        }
    }
    out->pattern = apr_pstrdup(p, eq + 1);
    return APR_SUCCESS;
}

/* ---- access ---------------------------------------------------------------------------------- */

int as_device_blocked(apr_pool_t *p, const as_device_t *d, const apr_array_header_t *rules,
                      const char **reason)
{
    int i;

    if (d->access == AS_ACCESS_BLOCK) {
        *reason = "device blocked by the administrator";
        return 1;
    }
    if (d->access == AS_ACCESS_ALLOW || !rules) {
        return 0;
    }
    for (i = 0; i < rules->nelts; i++) {
        const as_device_rule_t *r = &APR_ARRAY_IDX(rules, i, as_device_rule_t);
        const char *subject = r->field == AS_RULE_TYPE ? d->device_type : d->user_agent;
        if (fnmatch(r->pattern, subject ? subject : "", FNM_CASEFOLD) == 0) {
            if (r->action == AS_RULE_BLOCK) {
                *reason = apr_psprintf(p, "device blocked by the domain rule 'block %s=%s'",
                                       as_rule_field_name(r->field), r->pattern);
                return 1;
            }
            return 0;
        }
    }
    return 0;
}

/* ---- rules ----------------------------------------------------------------------------------- */

static int rules_decode(apr_pool_t *p, const unsigned char *b, size_t len, apr_array_header_t *arr)
{
    size_t n = 2;
    unsigned i, count;

    if (len < 2 || b[0] != RULES_VERSION) {
        return AS_DB_ECORRUPT;
    }
    count = b[1];
    for (i = 0; i < count; i++) {
        as_device_rule_t *r;
        size_t l;
        if (n + 3 > len || b[n] > AS_RULE_BLOCK || b[n + 1] > AS_RULE_AGENT) {
            return AS_DB_ECORRUPT;
        }
        l = b[n + 2];
        if (n + 3 + l > len || l == 0) {
            return AS_DB_ECORRUPT;
        }
        r = apr_array_push(arr);
        r->action = (as_rule_action_t)b[n];
        r->field = (as_rule_field_t)b[n + 1];
        r->pattern = apr_pstrmemdup(p, (const char *)b + n + 3, l);
        n += 3 + l;
    }
    return n == len ? 0 : AS_DB_ECORRUPT;
}

static int rules_put(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *domain,
                     const apr_array_header_t *arr)
{
    unsigned char *b = apr_palloc(p, 2 + (size_t)arr->nelts * (3 + AS_DEVICE_RULE_MAX));
    char key[KEY_MAX];
    size_t n = 2, kl = (size_t)apr_snprintf(key, sizeof(key), "r:%s", domain);
    int i;

    if (arr->nelts == 0) {
        int rc = as_db_del(as_db_handle(db, AS_DB_DEVICES), txn, key, kl);
        return rc == DB_NOTFOUND ? 0 : rc;
    }
    b[0] = RULES_VERSION;
    b[1] = (unsigned char)arr->nelts;
    for (i = 0; i < arr->nelts; i++) {
        const as_device_rule_t *r = &APR_ARRAY_IDX(arr, i, as_device_rule_t);
        size_t l = strlen(r->pattern);
        b[n] = (unsigned char)r->action;
        b[n + 1] = (unsigned char)r->field;
        b[n + 2] = (unsigned char)l;
        memcpy(b + n + 3, r->pattern, l);
        n += 3 + l;
    }
    return as_db_put(as_db_handle(db, AS_DB_DEVICES), txn, key, kl, b, n);
}

int as_device_txn_rules(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *domain,
                        apr_array_header_t **out)
{
    char key[KEY_MAX];
    unsigned char buf[2 + AS_DEVICE_RULES_MAX * (3 + AS_DEVICE_RULE_MAX)];
    size_t kl = (size_t)apr_snprintf(key, sizeof(key), "r:%s", domain), len = sizeof(buf);
    int rc = as_db_get(as_db_handle(db, AS_DB_DEVICES), txn, key, kl, buf, &len, 0);

    *out = apr_array_make(p, 4, sizeof(as_device_rule_t));
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    if (rc == DB_BUFFER_SMALL) {
        return AS_DB_ECORRUPT;
    }
    return rc ? rc : rules_decode(p, buf, len, *out);
}

static int same_rule(const as_device_rule_t *a, const as_device_rule_t *b)
{
    return a->action == b->action && a->field == b->field && !strcmp(a->pattern, b->pattern);
}

static int txn_rule_list(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    int exists, rc = as_dir_txn_domain_exists(db, txn, op->domain, &exists);
    if (rc != 0) {
        return rc;
    }
    if (!exists) {
        return fail(op, AS_DIR_ENODOMAIN, "unknown domain '%s'", op->domain);
    }
    return as_device_txn_rules(db, txn, op->p, op->domain, &op->arr);
}

static int txn_rule_edit(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    apr_array_header_t *arr, *keep;
    int rc, i, found = 0;

    if ((rc = txn_rule_list(db, txn, op)) != 0) {
        return rc;
    }
    arr = op->arr;
    keep = apr_array_make(op->p, arr->nelts + 1, sizeof(as_device_rule_t));
    for (i = 0; i < arr->nelts; i++) {
        const as_device_rule_t *r = &APR_ARRAY_IDX(arr, i, as_device_rule_t);
        if (same_rule(r, op->rule)) {
            found = 1;
            if (op->remove) {
                continue; /* remove */
            }
        }
        *(as_device_rule_t *)apr_array_push(keep) = *r;
    }
    if (op->remove && !found) {
        return fail(op, AS_DIR_EINVAL,
                    "domain %s has no rule '%s %s=%s' (see: device rule list %s)", op->domain,
                    as_rule_action_name(op->rule->action), as_rule_field_name(op->rule->field),
                    op->rule->pattern, op->domain);
    }
    if (!op->remove) {
        if (found) {
            return fail(op, AS_DIR_EEXIST, "domain %s already has the rule '%s %s=%s'", op->domain,
                        as_rule_action_name(op->rule->action), as_rule_field_name(op->rule->field),
                        op->rule->pattern);
        }
        if (arr->nelts >= AS_DEVICE_RULES_MAX) {
            return fail(op, AS_DIR_EINVAL, "domain %s already has %d rules (the limit)", op->domain,
                        AS_DEVICE_RULES_MAX);
        }
        *(as_device_rule_t *)apr_array_push(keep) = *op->rule;
    }
    return rules_put(db, txn, op->p, op->domain, keep);
}

static apr_status_t rule_op(as_db_t *db, apr_pool_t *p, const char *domain, op_t *op,
                            const char **err)
{
    const char *e = NULL;
    op->p = p;
    if (as_dir_domain_name(p, domain, &op->domain, &e) != APR_SUCCESS) {
        if (err) {
            *err = e;
        }
        return AS_DIR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t as_device_rule_list(as_db_t *db, apr_pool_t *p, const char *domain,
                                 apr_array_header_t **out, const char **err)
{
    op_t op = {0};
    apr_status_t rv = rule_op(db, p, domain, &op, err);
    *out = NULL;
    if (rv == APR_SUCCESS && (rv = run(db, AS_DB_TXN_READ, txn_rule_list, &op, err)) == 0) {
        *out = op.arr;
    }
    return rv;
}

apr_status_t as_device_rule_add(as_db_t *db, apr_pool_t *p, const char *domain,
                                const as_device_rule_t *rule, const char **err)
{
    op_t op = {0};
    apr_status_t rv = rule_op(db, p, domain, &op, err);
    op.rule = rule;
    return rv ? rv : run(db, 0, txn_rule_edit, &op, err);
}

apr_status_t as_device_rule_remove(as_db_t *db, apr_pool_t *p, const char *domain,
                                   const as_device_rule_t *rule, const char **err)
{
    op_t op = {0};
    apr_status_t rv = rule_op(db, p, domain, &op, err);
    op.rule = rule;
    op.remove = 1;
    return rv ? rv : run(db, 0, txn_rule_edit, &op, err);
}
