/* activesync-admin: device commands (list, show, block, unblock, remove,
 * wipe, rules, expire). */
#include <stdio.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_device.h"
#include "activesync/as_provision.h"
#include "asadm.h"

static int usage_err(const char *what)
{
    return asadm_error(ASADM_USAGE, "usage: %s (see --help)", what);
}

/* ---- describing a device ------------------------------------------------------ */

typedef struct devview_t {
    const as_device_t *d;
    const char *access; /* "allowed", "blocked (administrator)", ... */
    int blocked;
    const char *policy; /* "none", "pending", "current", "stale" */
    const char *wipe;   /* "-", "requested ...", ... */
} devview_t;

static const char *policy_state(asadm_ctx_t *ctx, const as_device_t *d)
{
    as_policy_t pol;
    apr_uint32_t key = 0;

    if (d->prov_state == AS_PROV_NONE) {
        return d->temp_key ? "pending" : "none";
    }
    if (d->prov_state == AS_PROV_PENDING) {
        return "pending";
    }
    if (as_provision_expected(ctx->db, ctx->pool, d->account, d->device_id, &pol, &key) !=
        APR_SUCCESS) {
        return "provisioned";
    }
    return key == d->policy_key ? "current"
                                : "stale (the policy changed: it will provision "
                                  "again on its next request)";
}

static const char *wipe_state(apr_pool_t *p, const as_device_t *d)
{
    const char *kind = d->wipe_account_only ? "account-only wipe" : "full wipe";
    switch (d->wipe) {
    case AS_WIPE_REQUESTED:
        return d->wipe_sent ? apr_psprintf(p, "%s sent %s (not yet acknowledged)", kind,
                                           asadm_time(p, d->wipe_sent))
                            : apr_psprintf(p, "%s requested %s (not yet delivered)", kind,
                                           asadm_time(p, d->wipe_requested));
    case AS_WIPE_ACKED:
        return apr_psprintf(p, "%s acknowledged %s with status %d%s", kind,
                            asadm_time(p, d->wipe_acked), d->wipe_status,
                            d->wipe_status == 1 ? " (success)" : "");
    default:
        return "-";
    }
}

static devview_t describe(asadm_ctx_t *ctx, const as_device_t *d, apr_hash_t *rules_cache)
{
    devview_t v;
    const char *dom = strrchr(d->account, '@') + 1, *reason = NULL;
    apr_array_header_t *rules = apr_hash_get(rules_cache, dom, APR_HASH_KEY_STRING);

    if (!rules) {
        if (as_device_rule_list(ctx->db, ctx->pool, dom, &rules, NULL) != APR_SUCCESS) {
            rules = apr_array_make(ctx->pool, 1, sizeof(as_device_rule_t));
        }
        apr_hash_set(rules_cache, dom, APR_HASH_KEY_STRING, rules);
    }
    v.d = d;
    v.blocked = as_device_blocked(ctx->pool, d, rules, &reason);
    if (v.blocked) {
        v.access = d->access == AS_ACCESS_BLOCK ? "blocked (by the administrator)"
                                                : apr_psprintf(ctx->pool, "blocked (%s)", reason);
    } else {
        v.access = d->access == AS_ACCESS_ALLOW ? "allowed (by the administrator)" : "allowed";
    }
    if (d->wipe == AS_WIPE_ACKED) {
        v.access = "refused (wiped; remove the device to allow it again)";
    }
    v.policy = policy_state(ctx, d);
    v.wipe = wipe_state(ctx->pool, d);
    return v;
}

static void json_kv(const char *k, const char *v, int comma)
{
    if (comma) {
        fputs(", ", stdout);
    }
    asadm_json_str(stdout, k);
    fputs(": ", stdout);
    asadm_json_str(stdout, v);
}

static void json_time(apr_pool_t *p, const char *k, apr_time_t t)
{
    json_kv(k, t > 0 ? asadm_time(p, t) : NULL, 1);
}

static void device_json(asadm_ctx_t *ctx, const devview_t *v)
{
    const as_device_t *d = v->d;
    apr_pool_t *p = ctx->pool;

    fputs("{", stdout);
    json_kv("account", d->account, 0);
    json_kv("device_id", d->device_id, 1);
    json_kv("device_type", d->device_type, 1);
    json_kv("user_agent", d->user_agent, 1);
    json_kv("protocol_version", d->protocol_version, 1);
    json_kv("last_command", d->last_command, 1);
    json_time(p, "first_contact", d->first_contact);
    json_time(p, "last_contact", d->last_contact);
    fputs(", \"information\": {", stdout);
    json_kv("model", d->info.model, 0);
    json_kv("imei", d->info.imei, 1);
    json_kv("friendly_name", d->info.friendly_name, 1);
    json_kv("os", d->info.os, 1);
    json_kv("os_language", d->info.os_language, 1);
    json_kv("phone_number", d->info.phone_number, 1);
    json_kv("user_agent", d->info.user_agent, 1);
    json_kv("mobile_operator", d->info.mobile_operator, 1);
    printf(", \"enable_outbound_sms\": %s", d->info.enable_outbound_sms < 0
                                                ? "null"
                                                : (d->info.enable_outbound_sms ? "true" : "false"));
    json_time(p, "recorded", d->info_time);
    fputs("}, \"provisioning\": {", stdout);
    json_kv("state", v->policy, 0);
    printf(", \"policy_key\": %s",
           d->policy_key ? apr_psprintf(p, "\"%u\"", d->policy_key) : "null");
    printf(", \"device_status\": %d", d->client_status);
    json_time(p, "provisioned", d->provisioned);
    fputs("}, \"wipe\": {", stdout);
    json_kv("state",
            d->wipe == AS_WIPE_NONE        ? "none"
            : d->wipe == AS_WIPE_REQUESTED ? (d->wipe_sent ? "sent" : "requested")
                                           : "acknowledged",
            0);
    printf(", \"account_only\": %s", d->wipe_account_only ? "true" : "false");
    json_time(p, "requested", d->wipe_requested);
    json_time(p, "sent", d->wipe_sent);
    json_time(p, "acknowledged", d->wipe_acked);
    printf(", \"device_status\": %d}", d->wipe_status);
    printf(", \"blocked\": %s", v->blocked || d->wipe == AS_WIPE_ACKED ? "true" : "false");
    json_kv("access", v->access, 1);
    json_kv("explicit_access",
            d->access == AS_ACCESS_BLOCK   ? "block"
            : d->access == AS_ACCESS_ALLOW ? "allow"
                                           : NULL,
            1);
    fputs("}", stdout);
}

static void device_text(asadm_ctx_t *ctx, const devview_t *v)
{
    const as_device_t *d = v->d;
    apr_pool_t *p = ctx->pool;
#define LINE(label, val) printf("  %-16s %s\n", label, (val) ? (val) : "-")
    printf("device %s of %s\n", d->device_id, d->account);
    LINE("type", d->device_type);
    LINE("user agent", d->user_agent);
    LINE("protocol", d->protocol_version);
    LINE("first contact", asadm_time(p, d->first_contact));
    LINE("last contact", apr_psprintf(p, "%s (%s)", asadm_time(p, d->last_contact),
                                      d->last_command ? d->last_command : "-"));
    LINE("model", d->info.model);
    LINE("IMEI", d->info.imei);
    LINE("friendly name", d->info.friendly_name);
    LINE("OS", d->info.os);
    LINE("OS language", d->info.os_language);
    LINE("phone number", d->info.phone_number);
    LINE("mobile operator", d->info.mobile_operator);
    LINE("client agent", d->info.user_agent);
    LINE("outbound SMS", d->info.enable_outbound_sms < 0 ? NULL
                         : d->info.enable_outbound_sms   ? "enabled"
                                                         : "disabled");
    LINE("policy",
         d->prov_state == AS_PROV_DONE
             ? apr_psprintf(p, "%s: key %u issued %s, device status %d", v->policy, d->policy_key,
                            asadm_time(p, d->provisioned), d->client_status)
             : v->policy);
    LINE("wipe", v->wipe);
    LINE("access", v->access);
#undef LINE
}

/* ---- commands ------------------------------------------------------------------------- */

static int cmd_list(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    apr_array_header_t *arr;
    apr_hash_t *cache = apr_hash_make(ctx->pool);
    const char *err = NULL;
    apr_status_t rv;
    int i, rc, wa = 7, wd = 6;

    if (argc > 1) {
        return usage_err("device list [ACCOUNT|DOMAIN]");
    }
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    rv = as_device_list(ctx->db, ctx->pool, argc ? argv[0] : NULL, &arr, &err);
    if (rv != APR_SUCCESS) {
        return asadm_db_error(rv, err);
    }
    if (ctx->json) {
        fputs("{\"devices\": [", stdout);
        for (i = 0; i < arr->nelts; i++) {
            devview_t v = describe(ctx, &APR_ARRAY_IDX(arr, i, as_device_t), cache);
            fputs(i ? ", " : "", stdout);
            device_json(ctx, &v);
        }
        fputs("]}\n", stdout);
        return ASADM_OK;
    }
    if (arr->nelts == 0) {
        printf("no devices%s%s\n", argc ? " for " : "", argc ? argv[0] : "");
        return ASADM_OK;
    }
    for (i = 0; i < arr->nelts; i++) {
        const as_device_t *d = &APR_ARRAY_IDX(arr, i, as_device_t);
        wa = (int)strlen(d->account) > wa ? (int)strlen(d->account) : wa;
        wd = (int)strlen(d->device_id) > wd ? (int)strlen(d->device_id) : wd;
    }
    printf("%-*s  %-*s  %-12s  %-5s  %-20s  %-8s  %-8s  %s\n", wa, "ACCOUNT", wd, "DEVICE", "TYPE",
           "PROTO", "LAST CONTACT", "POLICY", "ACCESS", "WIPE");
    for (i = 0; i < arr->nelts; i++) {
        const as_device_t *d = &APR_ARRAY_IDX(arr, i, as_device_t);
        devview_t v = describe(ctx, d, cache);
        const char *pol = strncmp(v.policy, "stale", 5) ? v.policy : "stale";
        const char *acc = d->wipe == AS_WIPE_ACKED ? "refused" : v.blocked ? "blocked" : "allowed";
        const char *wipe = d->wipe == AS_WIPE_NONE    ? "-"
                           : d->wipe == AS_WIPE_ACKED ? "wiped"
                           : d->wipe_sent             ? "sent"
                                                      : "pending";
        printf("%-*s  %-*s  %-12s  %-5s  %-20s  %-8s  %-8s  %s%s\n", wa, d->account, wd,
               d->device_id, d->device_type ? d->device_type : "-",
               d->protocol_version ? d->protocol_version : "-",
               asadm_time(ctx->pool, d->last_contact), pol, acc, wipe,
               d->wipe != AS_WIPE_NONE && d->wipe_account_only ? " (account-only)" : "");
    }
    return ASADM_OK;
}

static int cmd_rule(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "", *err = NULL;
    as_device_rule_t r;
    apr_status_t rv;
    int rc, i;

    if (!strcmp(verb, "list")) {
        apr_array_header_t *arr;
        if (argc != 2) {
            return usage_err("device rule list DOMAIN");
        }
        if ((rc = asadm_open_db(ctx)) != 0) {
            return rc;
        }
        if ((rv = as_device_rule_list(ctx->db, ctx->pool, argv[1], &arr, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        if (ctx->json) {
            fputs("{\"domain\": ", stdout);
            asadm_json_str(stdout, argv[1]);
            fputs(", \"rules\": [", stdout);
            for (i = 0; i < arr->nelts; i++) {
                const as_device_rule_t *x = &APR_ARRAY_IDX(arr, i, as_device_rule_t);
                printf("%s{\"action\": \"%s\", \"field\": \"%s\", \"pattern\": ", i ? ", " : "",
                       as_rule_action_name(x->action), as_rule_field_name(x->field));
                asadm_json_str(stdout, x->pattern);
                fputs("}", stdout);
            }
            fputs("]}\n", stdout);
            return ASADM_OK;
        }
        if (arr->nelts == 0) {
            printf("no device rules for %s: every device is allowed unless blocked one by one\n",
                   argv[1]);
            return ASADM_OK;
        }
        printf("rules of %s (the first that matches decides; none: allowed)\n", argv[1]);
        for (i = 0; i < arr->nelts; i++) {
            const as_device_rule_t *x = &APR_ARRAY_IDX(arr, i, as_device_rule_t);
            printf("  %d. %s %s=%s\n", i + 1, as_rule_action_name(x->action),
                   as_rule_field_name(x->field), x->pattern);
        }
        return ASADM_OK;
    }
    if (strcmp(verb, "add") && strcmp(verb, "remove")) {
        return asadm_error(ASADM_USAGE, "unknown device rule command '%s' (see --help)", verb);
    }
    if (argc != 4) {
        return usage_err(apr_psprintf(
            ctx->pool, "device rule %s DOMAIN allow|block type=GLOB|agent=GLOB", verb));
    }
    if (as_device_rule_parse(ctx->pool, argv[2], argv[3], &r, &err) != APR_SUCCESS) {
        return asadm_error(ASADM_FAIL, "%s", err);
    }
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    rv = verb[0] == 'a' ? as_device_rule_add(ctx->db, ctx->pool, argv[1], &r, &err)
                        : as_device_rule_remove(ctx->db, ctx->pool, argv[1], &r, &err);
    if (rv != APR_SUCCESS) {
        return asadm_db_error(rv, err);
    }
    asadm_ok(ctx, "rule '%s %s=%s' %s %s", as_rule_action_name(r.action),
             as_rule_field_name(r.field), r.pattern, verb[0] == 'a' ? "added to" : "removed from",
             argv[1]);
    return ASADM_OK;
}

/* device expire [UNPROVISIONED UNSEEN]: one whole sweep now, pass by pass
 * (each pass bounded; the sweep ends when a pass reaches the last record). */
static int cmd_expire(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    as_device_ages_t ages = {AS_DEVICE_EXPIRE_UNPROVISIONED_DEFAULT,
                             AS_DEVICE_EXPIRE_UNSEEN_DEFAULT};
    const char *from = NULL;
    apr_status_t rv;
    int n = 0, total = 0, passes = 0, rc;

    if (argc != 0 && argc != 2) {
        return usage_err("device expire [UNPROVISIONED UNSEEN]");
    }
    if (argc == 2 && (as_device_age_parse(argv[0], &ages.unprovisioned) != APR_SUCCESS ||
                      as_device_age_parse(argv[1], &ages.unseen) != APR_SUCCESS)) {
        return asadm_error(ASADM_USAGE,
                           "'%s %s': each age is a number with s, m, h or d (at most 3650d), "
                           "or off",
                           argv[0], argv[1]);
    }
    if (!ages.unprovisioned && !ages.unseen) {
        return asadm_error(ASADM_USAGE, "both ages are off: nothing would expire");
    }
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    do {
        apr_pool_t *p;
        apr_pool_create(&p, ctx->pool);
        rv = as_svc_devices_expire(ctx->db, p, apr_time_now(), &ages, 0, &from, &n);
        from = from ? apr_pstrdup(ctx->pool, from) : NULL;
        apr_pool_destroy(p);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, NULL);
        }
        total += n;
        passes++;
    } while (from);
    if (ctx->json) {
        printf("{\"expired\": %d, \"passes\": %d}\n", total, passes);
    } else {
        printf("%d device(s) expired (never provisioned and idle for %s, or not seen for %s)\n",
               total, argc ? argv[0] : "1d", argc ? argv[1] : "180d");
    }
    return ASADM_OK;
}

int asadm_cmd_device(asadm_ctx_t *ctx, int argc, const char *const *argv)
{
    const char *verb = argc > 0 ? argv[0] : "", *err = NULL, *acct, *dev;
    apr_status_t rv;
    int rc;

    if (!strcmp(verb, "list")) {
        return cmd_list(ctx, argc - 1, argv + 1);
    }
    if (!strcmp(verb, "rule")) {
        return cmd_rule(ctx, argc - 1, argv + 1);
    }
    if (!strcmp(verb, "expire")) {
        return cmd_expire(ctx, argc - 1, argv + 1);
    }
    if (strcmp(verb, "show") && strcmp(verb, "block") && strcmp(verb, "unblock") &&
        strcmp(verb, "remove") && strcmp(verb, "wipe")) {
        return asadm_error(ASADM_USAGE, "unknown device command '%s' (see --help)",
                           argc ? verb : "");
    }
    if (argc != 3) {
        return usage_err(apr_psprintf(ctx->pool, "device %s%s ACCOUNT DEVICEID", verb,
                                      !strcmp(verb, "wipe") ? " [--account-only|--cancel]" : ""));
    }
    if ((ctx->account_only || ctx->cancel) && strcmp(verb, "wipe")) {
        return asadm_error(ASADM_USAGE, "--account-only and --cancel go with device wipe");
    }
    if (ctx->account_only && ctx->cancel) {
        return asadm_error(ASADM_USAGE, "--account-only and --cancel exclude each other");
    }
    acct = argv[1];
    dev = argv[2];
    if ((rc = asadm_open_db(ctx)) != 0) {
        return rc;
    }
    if (!strcmp(verb, "show")) {
        as_device_t d;
        devview_t v;
        if ((rv = as_device_get(ctx->db, ctx->pool, acct, dev, &d, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        v = describe(ctx, &d, apr_hash_make(ctx->pool));
        if (ctx->json) {
            device_json(ctx, &v);
            fputs("\n", stdout);
        } else {
            device_text(ctx, &v);
        }
        return ASADM_OK;
    }
    if (!strcmp(verb, "block") || !strcmp(verb, "unblock")) {
        rv = as_device_set_access(ctx->db, ctx->pool, acct, dev,
                                  verb[0] == 'b' ? AS_ACCESS_BLOCK : AS_ACCESS_ALLOW, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "device %s of %s %s", dev, acct,
                 verb[0] == 'b' ? "blocked: it gets 403 from its next request on"
                                : "allowed (domain rules no longer apply to it)");
    } else if (!strcmp(verb, "remove")) {
        if ((rv = as_svc_device_remove(ctx->db, ctx->pool, acct, dev, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx,
                 "device %s of %s removed (if it connects again it starts as a new device "
                 "and must provision)",
                 dev, acct);
    } else if (ctx->cancel) {
        if ((rv = as_device_wipe_cancel(ctx->db, ctx->pool, acct, dev, &err)) != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "wipe of device %s of %s cancelled", dev, acct);
    } else {
        rv = as_device_wipe(ctx->db, ctx->pool, acct, dev, ctx->account_only, &err);
        if (rv != APR_SUCCESS) {
            return asadm_db_error(rv, err);
        }
        asadm_ok(ctx, "%s of device %s of %s ordered: it is sent on the device's next request",
                 ctx->account_only ? "account-only wipe" : "full wipe (factory reset)", dev, acct);
    }
    return ASADM_OK;
}
