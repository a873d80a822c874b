/* Devices and domain device rules.  See as_device.h for the rules and the
 * record encoding. */
#include <errno.h>
#include <fnmatch.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/rand.h>

#include "activesync/as_device.h"
#include "activesync/as_directory.h"

#define DEV_VERSION   1
#define RULES_VERSION 1
#define KEY_MAX       (2 + 253 + 1 + 64 + 1 + 64 + 1)
#define DEVID_MAX     64

/* ---- small helpers ------------------------------------------------------------------ */

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

/* Validate and upper-case a device id from the administrator. */
static apr_status_t dev_key(apr_pool_t *p, const char *in, const char **out, const char **err)
{
    size_t n = in ? strlen(in) : 0, i;
    char *s;
    if (n == 0 || n > DEVID_MAX) {
        goto bad;
    }
    s = apr_pstrdup(p, in);
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c >= 'a' && c <= 'z') {
            s[i] = (char)(c - 'a' + 'A');
        } else if (!((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-')) {
            goto bad;
        }
    }
    *out = s;
    return APR_SUCCESS;
bad:
    *err = apr_psprintf(p, "invalid device id '%s' (1 to %d of letters, digits, '_', '-')",
                        in ? in : "", DEVID_MAX);
    return AS_DIR_EINVAL;
}

static size_t dev_keystr(char *buf, const char *account, const char *device_key)
{
    const char *at = strrchr(account, '@');
    size_t ll = at ? (size_t)(at - account) : strlen(account);
    return (size_t)apr_snprintf(buf, KEY_MAX, "v:%s/%.*s/%s", at ? at + 1 : "", (int)ll, account,
                                device_key ? device_key : "");
}

/* ---- record encoding -------------------------------------------------------------------- */

enum { F_STR, F_U32, F_INT, F_TIME };

typedef struct field_t {
    unsigned char tag;
    unsigned char kind;
    size_t off;
} field_t;

#define O(f) offsetof(as_device_t, f)
static const field_t fields[] = {
    {1, F_STR, O(device_type)},
    {2, F_STR, O(user_agent)},
    {3, F_STR, O(protocol_version)},
    {4, F_STR, O(last_command)},
    {5, F_TIME, O(first_contact)},
    {6, F_TIME, O(last_contact)},
    {10, F_STR, O(info.model)},
    {11, F_STR, O(info.imei)},
    {12, F_STR, O(info.friendly_name)},
    {13, F_STR, O(info.os)},
    {14, F_STR, O(info.os_language)},
    {15, F_STR, O(info.phone_number)},
    {16, F_STR, O(info.user_agent)},
    {17, F_STR, O(info.mobile_operator)},
    {18, F_INT, O(info.enable_outbound_sms)},
    {19, F_TIME, O(info_time)},
    {30, F_U32, O(nonce)},
    {31, F_INT, O(prov_state)},
    {32, F_U32, O(temp_key)},
    {33, F_U32, O(policy_key)},
    {34, F_INT, O(client_status)},
    {35, F_TIME, O(provisioned)},
    {36, F_U32, O(prov_demands)},
    {40, F_INT, O(wipe)},
    {41, F_INT, O(wipe_account_only)},
    {42, F_TIME, O(wipe_requested)},
    {43, F_TIME, O(wipe_sent)},
    {44, F_TIME, O(wipe_acked)},
    {45, F_INT, O(wipe_status)},
    {50, F_INT, O(access)},
    {51, F_TIME, O(access_changed)},
};
#undef O
#define NFIELDS (sizeof(fields) / sizeof(fields[0]))

/* The enums are stored through int pointers. */
typedef char enum_is_int[sizeof(as_prov_state_t) == sizeof(int) &&
                                 sizeof(as_wipe_state_t) == sizeof(int) &&
                                 sizeof(as_access_t) == sizeof(int)
                             ? 1
                             : -1];

static void put_be(unsigned char *b, apr_uint64_t v, int n)
{
    int i;
    for (i = n - 1; i >= 0; i--) {
        b[i] = (unsigned char)(v & 0xff);
        v >>= 8;
    }
}

static apr_uint64_t get_be(const unsigned char *b, int n)
{
    apr_uint64_t v = 0;
    int i;
    for (i = 0; i < n; i++) {
        v = (v << 8) | b[i];
    }
    return v;
}

static size_t field_size(const as_device_t *d, const field_t *f)
{
    const char *base = (const char *)d;
    switch (f->kind) {
    case F_STR: {
        const char *s = *(const char *const *)(base + f->off);
        return s ? 3 + strnlen(s, AS_DEVICE_FIELD_MAX) : 0;
    }
    case F_TIME:
        return 3 + 8;
    default:
        return 3 + 4;
    }
}

/* The encoded record in a malloc()ed buffer (NULL when out of memory). */
static unsigned char *dev_encode(const as_device_t *d, size_t *len)
{
    const char *base = (const char *)d;
    size_t n = 1, i;
    unsigned char *buf;

    for (i = 0; i < NFIELDS; i++) {
        n += field_size(d, &fields[i]);
    }
    if (!(buf = malloc(n))) {
        return NULL;
    }
    buf[0] = DEV_VERSION;
    n = 1;
    for (i = 0; i < NFIELDS; i++) {
        const field_t *f = &fields[i];
        size_t l;
        if (!field_size(d, f)) {
            continue;
        }
        buf[n] = f->tag;
        switch (f->kind) {
        case F_STR: {
            const char *s = *(const char *const *)(base + f->off);
            l = strnlen(s, AS_DEVICE_FIELD_MAX);
            put_be(buf + n + 1, l, 2);
            memcpy(buf + n + 3, s, l);
            break;
        }
        case F_TIME:
            l = 8;
            put_be(buf + n + 1, l, 2);
            put_be(buf + n + 3, (apr_uint64_t) * (const apr_time_t *)(base + f->off), 8);
            break;
        case F_U32:
            l = 4;
            put_be(buf + n + 1, l, 2);
            put_be(buf + n + 3, *(const apr_uint32_t *)(base + f->off), 4);
            break;
        default:
            l = 4;
            put_be(buf + n + 1, l, 2);
            put_be(buf + n + 3, (apr_uint32_t) * (const int *)(base + f->off), 4);
            break;
        }
        n += 3 + l;
    }
    *len = n;
    return buf;
}

static int dev_decode(apr_pool_t *p, const unsigned char *buf, size_t len, as_device_t *d)
{
    char *base = (char *)d;
    size_t n = 1, i;

    if (len < 1 || buf[0] != DEV_VERSION) {
        return AS_DB_ECORRUPT;
    }
    while (n < len) {
        unsigned tag;
        size_t l;
        const field_t *f = NULL;
        if (n + 3 > len) {
            return AS_DB_ECORRUPT;
        }
        tag = buf[n];
        l = (size_t)get_be(buf + n + 1, 2);
        n += 3;
        if (n + l > len) {
            return AS_DB_ECORRUPT;
        }
        for (i = 0; i < NFIELDS; i++) {
            if (fields[i].tag == tag) {
                f = &fields[i];
                break;
            }
        }
        if (f) {
            switch (f->kind) {
            case F_STR:
                *(const char **)(base + f->off) = apr_pstrmemdup(p, (const char *)buf + n, l);
                break;
            case F_TIME:
                if (l != 8) {
                    return AS_DB_ECORRUPT;
                }
                *(apr_time_t *)(base + f->off) = (apr_time_t)get_be(buf + n, 8);
                break;
            case F_U32:
                if (l != 4) {
                    return AS_DB_ECORRUPT;
                }
                *(apr_uint32_t *)(base + f->off) = (apr_uint32_t)get_be(buf + n, 4);
                break;
            default:
                if (l != 4) {
                    return AS_DB_ECORRUPT;
                }
                *(int *)(base + f->off) = (int)(apr_int32_t)(apr_uint32_t)get_be(buf + n, 4);
                break;
            }
        }
        n += l;
    }
    return 0;
}

static void dev_clear(as_device_t *d)
{
    memset(d, 0, sizeof(*d));
    d->info.enable_outbound_sms = -1;
}

/* Account and device id from a key "v:dom/local/DEV". */
static int dev_from_key(apr_pool_t *p, const char *key, size_t klen, as_device_t *d)
{
    const char *k = apr_pstrmemdup(p, key + 2, klen - 2);
    const char *s1 = strchr(k, '/'), *s2 = strrchr(k, '/');
    if (!s1 || s1 == s2) {
        return AS_DB_ECORRUPT;
    }
    d->account = apr_pstrcat(p, apr_pstrmemdup(p, s1 + 1, (apr_size_t)(s2 - s1 - 1)), "@",
                             apr_pstrmemdup(p, k, (apr_size_t)(s1 - k)), NULL);
    d->device_id = s2 + 1;
    return 0;
}

int as_device_txn_get(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *account,
                      const char *device_key, int rmw, as_device_t *out)
{
    DB *dbp = as_db_handle(db, AS_DB_DEVICES);
    char key[KEY_MAX];
    unsigned char small[2048], *buf = small;
    size_t kl = dev_keystr(key, account, device_key), len = sizeof(small);
    int rc;

    dev_clear(out);
    rc = as_db_get(dbp, txn, key, kl, buf, &len, rmw ? DB_RMW : 0);
    if (rc == DB_BUFFER_SMALL) {
        buf = apr_palloc(p, len);
        rc = as_db_get(dbp, txn, key, kl, buf, &len, rmw ? DB_RMW : 0);
    }
    if (rc != 0) {
        return rc;
    }
    if ((rc = dev_decode(p, buf, len, out)) != 0) {
        return rc;
    }
    out->account = apr_pstrdup(p, account);
    out->device_id = apr_pstrdup(p, device_key);
    return 0;
}

int as_device_txn_put(as_db_t *db, DB_TXN *txn, const as_device_t *d)
{
    char key[KEY_MAX];
    size_t kl = dev_keystr(key, d->account, d->device_id), len;
    unsigned char *buf = dev_encode(d, &len);
    int rc;

    if (!buf) {
        return ENOMEM;
    }
    rc = as_db_put(as_db_handle(db, AS_DB_DEVICES), txn, key, kl, buf, len);
    free(buf);
    return rc;
}

/* ---- contact -------------------------------------------------------------------------------- */

apr_uint32_t as_random_u32(void)
{
    unsigned char b[4];
    apr_uint32_t v = 0;
    while (v == 0) {
        if (RAND_bytes(b, sizeof(b)) != 1) {
            apr_generate_random_bytes(b, sizeof(b));
        }
        v = ((apr_uint32_t)b[0] << 24) | ((apr_uint32_t)b[1] << 16) | ((apr_uint32_t)b[2] << 8) |
            b[3];
    }
    return v;
}

static const char *bounded(apr_pool_t *p, const char *s)
{
    return s ? apr_pstrndup(p, s, AS_DEVICE_FIELD_MAX) : NULL;
}

void as_device_init(apr_pool_t *p, as_device_t *d, const as_device_contact_t *c)
{
    apr_time_t now = c->now ? c->now : apr_time_now();
    dev_clear(d);
    d->account = c->account;
    d->device_id = c->device_key;
    d->device_type = bounded(p, c->device_type);
    d->user_agent = bounded(p, c->user_agent);
    d->protocol_version = bounded(p, c->protocol_version);
    d->last_command = bounded(p, c->command);
    d->first_contact = d->last_contact = now;
    d->nonce = as_random_u32();
}

static int differs(const char *a, const char *b)
{
    return b && (!a || strncmp(a, b, AS_DEVICE_FIELD_MAX) != 0);
}

int as_device_contact_update(apr_pool_t *p, as_device_t *d, const as_device_contact_t *c)
{
    apr_time_t now = c->now ? c->now : apr_time_now();
    int changed = differs(d->device_type, c->device_type) ||
                  differs(d->user_agent, c->user_agent) ||
                  differs(d->protocol_version, c->protocol_version);

    if (!changed && now - d->last_contact < apr_time_from_sec(AS_DEVICE_TOUCH_SEC)) {
        return 0;
    }
    if (c->device_type) {
        d->device_type = bounded(p, c->device_type);
    }
    if (c->user_agent) {
        d->user_agent = bounded(p, c->user_agent);
    }
    if (c->protocol_version) {
        d->protocol_version = bounded(p, c->protocol_version);
    }
    if (c->command) {
        d->last_command = bounded(p, c->command);
    }
    d->last_contact = now;
    return 1;
}

void as_device_info_merge(apr_pool_t *p, as_device_t *d, const as_device_info_t *info,
                          apr_time_t now)
{
#define MERGE(f)                                                                                   \
    if (info->f) {                                                                                 \
        d->info.f = bounded(p, info->f);                                                           \
    }
    MERGE(model);
    MERGE(imei);
    MERGE(friendly_name);
    MERGE(os);
    MERGE(os_language);
    MERGE(phone_number);
    MERGE(user_agent);
    MERGE(mobile_operator);
#undef MERGE
    if (info->enable_outbound_sms >= 0) {
        d->info.enable_outbound_sms = info->enable_outbound_sms;
    }
    d->info_time = now ? now : apr_time_now();
}

/* ---- operation context ------------------------------------------------------------------- */

typedef struct op_t {
    apr_pool_t *p;
    const char *account, *device, *domain, *scope;
    const as_device_contact_t *contact;
    const as_device_info_t *info;
    const as_device_rule_t *rule;
    int flag;
    int write, need_write; /* as_device_touch: write transaction / a write is needed */
    as_device_t *out;
    apr_array_header_t *arr;
    const char *err;
} op_t;

static int fail(op_t *op, int code, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(op_t *op, int code, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    op->err = apr_pvsprintf(op->p, fmt, ap);
    va_end(ap);
    return code;
}

static apr_status_t run(as_db_t *db, unsigned flags, as_db_txn_fn *fn, op_t *op, const char **err)
{
    apr_status_t rv;
    op->err = NULL;
    rv = as_db_txn(db, flags, fn, op);
    if (rv != APR_SUCCESS && err) {
        *err = op->err ? op->err : as_db_strerror(rv);
    }
    return rv;
}

/* Validate the account and device id of an administrative call. */
static apr_status_t admin_ids(apr_pool_t *p, op_t *op, const char *account, const char *device,
                              const char **err)
{
    const char *e = NULL;
    op->p = p;
    if (as_dir_account_name(p, account, &op->account, &op->domain, &e) != APR_SUCCESS ||
        dev_key(p, device, &op->device, &e) != APR_SUCCESS) {
        if (err) {
            *err = e;
        }
        return AS_DIR_EINVAL;
    }
    return APR_SUCCESS;
}

/* Read the device of op (with DB_RMW when rmw) or fail with ENODEVICE. */
static int need_device(as_db_t *db, DB_TXN *txn, op_t *op, int rmw, as_device_t *d)
{
    int rc = as_device_txn_get(db, txn, op->p, op->account, op->device, rmw, d);
    if (rc == DB_NOTFOUND) {
        return fail(op, AS_DEV_ENODEVICE, "no device '%s' for account %s", op->device, op->account);
    }
    return rc;
}

static int txn_touch(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    const as_device_contact_t *c = op->contact;
    int rc = as_device_txn_get(db, txn, op->p, c->account, c->device_key, op->write, op->out);

    op->need_write = 0;
    if (rc == DB_NOTFOUND) {
        as_device_init(op->p, op->out, c);
    } else if (rc != 0) {
        return rc;
    } else if (!as_device_contact_update(op->p, op->out, c)) {
        return 0;
    }
    if (!op->write) {
        op->need_write = 1;
        return AS_DB_ROLLBACK;
    }
    return as_device_txn_put(db, txn, op->out);
}

apr_status_t as_device_touch(as_db_t *db, apr_pool_t *p, const as_device_contact_t *c,
                             as_device_t *out)
{
    as_device_t tmp;
    op_t op = {0};
    apr_status_t rv;

    op.p = p;
    op.contact = c;
    op.out = out ? out : &tmp;
    /* A read first; a write transaction only when something must be recorded. */
    rv = run(db, AS_DB_TXN_READ, txn_touch, &op, NULL);
    if (rv == APR_SUCCESS && op.need_write) {
        op.write = 1;
        rv = run(db, 0, txn_touch, &op, NULL);
    }
    return rv;
}

static int txn_set_info(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    const as_device_contact_t *c = op->contact;
    as_device_t d;
    int rc = as_device_txn_get(db, txn, op->p, c->account, c->device_key, 1, &d);

    if (rc == DB_NOTFOUND) {
        as_device_init(op->p, &d, c);
    } else if (rc != 0) {
        return rc;
    } else {
        as_device_contact_update(op->p, &d, c);
    }
    as_device_info_merge(op->p, &d, op->info, c->now);
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_device_set_info(as_db_t *db, apr_pool_t *p, const as_device_contact_t *c,
                                const as_device_info_t *info)
{
    op_t op = {0};
    op.p = p;
    op.contact = c;
    op.info = info;
    return run(db, 0, txn_set_info, &op, NULL);
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
            if (op->flag) {
                continue; /* remove */
            }
        }
        *(as_device_rule_t *)apr_array_push(keep) = *r;
    }
    if (op->flag && !found) {
        return fail(op, AS_DIR_EINVAL,
                    "domain %s has no rule '%s %s=%s' (see: device rule list %s)", op->domain,
                    as_rule_action_name(op->rule->action), as_rule_field_name(op->rule->field),
                    op->rule->pattern, op->domain);
    }
    if (!op->flag) {
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
    op.flag = 1;
    return rv ? rv : run(db, 0, txn_rule_edit, &op, err);
}

/* ---- administration ------------------------------------------------------------------------ */

static int txn_get(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    return need_device(db, txn, op, 0, op->out);
}

apr_status_t as_device_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device_id,
                           as_device_t *out, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);
    op.out = out;
    return rv ? rv : run(db, AS_DB_TXN_READ, txn_get, &op, err);
}

typedef struct list_t {
    apr_pool_t *p;
    apr_array_header_t *arr;
} list_t;

static int list_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    list_t *l = baton;
    as_device_t *d = apr_array_push(l->arr);
    int rc;
    dev_clear(d);
    if ((rc = dev_decode(l->p, val, vlen, d)) != 0) {
        return rc;
    }
    return dev_from_key(l->p, key, klen, d);
}

static int txn_list(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    char prefix[KEY_MAX];
    list_t l;

    l.p = op->p;
    l.arr = op->arr = apr_array_make(op->p, 8, sizeof(as_device_t));
    if (!op->scope) {
        apr_cpystrn(prefix, "v:", sizeof(prefix));
    } else if (op->account) {
        dev_keystr(prefix, op->account, NULL);
    } else {
        apr_snprintf(prefix, sizeof(prefix), "v:%s/", op->domain);
    }
    return as_db_iterate(as_db_handle(db, AS_DB_DEVICES), txn, prefix, strlen(prefix), list_cb, &l);
}

typedef struct rmall_t {
    apr_pool_t *p;
    apr_array_header_t *keys;     /* const char *, NUL-terminated key text */
    apr_array_header_t *accounts; /* NULL or const char * */
} rmall_t;

/* Collect first, delete after: the cursor of as_db_iterate must not see its
 * own deletions. */
static int rmall_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    rmall_t *r = baton;
    as_device_t d;
    int rc, i;
    (void)val;
    (void)vlen;
    APR_ARRAY_PUSH(r->keys, const char *) = apr_pstrmemdup(r->p, key, klen);
    if (!r->accounts) {
        return 0;
    }
    if ((rc = dev_from_key(r->p, key, klen, &d)) != 0) {
        return rc;
    }
    for (i = 0; i < r->accounts->nelts; i++) {
        if (!strcmp(APR_ARRAY_IDX(r->accounts, i, const char *), d.account)) {
            return 0;
        }
    }
    APR_ARRAY_PUSH(r->accounts, const char *) = d.account;
    return 0;
}

int as_device_txn_remove_all(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *account,
                             const char *domain, apr_array_header_t *accounts, int *n)
{
    DB *dbp = as_db_handle(db, AS_DB_DEVICES);
    char prefix[KEY_MAX];
    rmall_t r;
    int rc, i;

    *n = 0;
    if (account) {
        dev_keystr(prefix, account, NULL); /* "v:DOMAIN/LOCAL/" */
    } else {
        apr_snprintf(prefix, sizeof(prefix), "v:%s/", domain);
    }
    r.p = p;
    r.keys = apr_array_make(p, 8, sizeof(const char *));
    r.accounts = accounts;
    if ((rc = as_db_iterate(dbp, txn, prefix, strlen(prefix), rmall_cb, &r)) != 0) {
        return rc;
    }
    for (i = 0; i < r.keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(r.keys, i, const char *);
        if ((rc = as_db_del(dbp, txn, k, strlen(k))) != 0) {
            return rc;
        }
    }
    *n = r.keys->nelts;
    if (!account) {
        /* the domain's device rules go with it: a domain added again under
         * the same name starts without the old blocks */
        char key[KEY_MAX];
        size_t kl = (size_t)apr_snprintf(key, sizeof(key), "r:%s", domain);
        if ((rc = as_db_del(dbp, txn, key, kl)) != 0 && rc != DB_NOTFOUND) {
            return rc;
        }
    }
    return 0;
}

apr_status_t as_device_list(as_db_t *db, apr_pool_t *p, const char *scope, apr_array_header_t **out,
                            const char **err)
{
    op_t op = {0};
    const char *e = NULL;
    apr_status_t rv;

    op.p = p;
    op.scope = scope;
    *out = NULL;
    if (scope && strchr(scope, '@')) {
        rv = as_dir_account_name(p, scope, &op.account, &op.domain, &e);
    } else if (scope) {
        rv = as_dir_domain_name(p, scope, &op.domain, &e);
    } else {
        rv = APR_SUCCESS;
    }
    if (rv != APR_SUCCESS) {
        if (err) {
            *err = e;
        }
        return AS_DIR_EINVAL;
    }
    if ((rv = run(db, AS_DB_TXN_READ, txn_list, &op, err)) == APR_SUCCESS) {
        *out = op.arr;
    }
    return rv;
}

static int txn_set_access(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    as_device_t d;
    int rc = need_device(db, txn, op, 1, &d);
    if (rc != 0) {
        return rc;
    }
    d.access = (as_access_t)op->flag;
    d.access_changed = apr_time_now();
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_device_set_access(as_db_t *db, apr_pool_t *p, const char *account,
                                  const char *device_id, as_access_t access, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);
    op.flag = (int)access;
    return rv ? rv : run(db, 0, txn_set_access, &op, err);
}

static int txn_remove(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    char key[KEY_MAX];
    size_t kl = dev_keystr(key, op->account, op->device);
    int rc = as_db_del(as_db_handle(db, AS_DB_DEVICES), txn, key, kl);
    if (rc == DB_NOTFOUND) {
        return fail(op, AS_DEV_ENODEVICE, "no device '%s' for account %s", op->device, op->account);
    }
    return rc;
}

apr_status_t as_device_remove(as_db_t *db, apr_pool_t *p, const char *account,
                              const char *device_id, const char **account_out,
                              const char **device_out, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);

    if (rv == APR_SUCCESS && (rv = run(db, 0, txn_remove, &op, err)) == APR_SUCCESS) {
        if (account_out) {
            *account_out = op.account;
        }
        if (device_out) {
            *device_out = op.device;
        }
    }
    return rv;
}

static int txn_wipe(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    as_device_t d;
    int account_only = op->flag, rc = need_device(db, txn, op, 1, &d);

    if (rc != 0) {
        return rc;
    }
    if (d.wipe == AS_WIPE_ACKED) {
        return fail(op, AS_DEV_EREFUSED,
                    "device %s of %s was already wiped; it stays refused until you remove it "
                    "(device remove %s %s)",
                    op->device, op->account, op->account, op->device);
    }
    if (account_only && as_protocol_number(d.protocol_version) < 161) {
        return fail(op, AS_DEV_EREFUSED,
                    "cannot order an account-only wipe of device %s of %s: it speaks EAS %s, and "
                    "account-only wipe exists only in EAS 16.1 and later (a full wipe erases the "
                    "whole device: device wipe %s %s)",
                    op->device, op->account, d.protocol_version ? d.protocol_version : "(unknown)",
                    op->account, op->device);
    }
    if (d.wipe == AS_WIPE_REQUESTED && account_only && !d.wipe_account_only) {
        return fail(op, AS_DEV_EREFUSED,
                    "a full wipe of device %s of %s is already pending; cancel it first "
                    "(device wipe --cancel %s %s)",
                    op->device, op->account, op->account, op->device);
    }
    if (d.wipe == AS_WIPE_REQUESTED && d.wipe_account_only == account_only) {
        return 0; /* already ordered */
    }
    d.wipe = AS_WIPE_REQUESTED;
    d.wipe_account_only = account_only;
    d.wipe_requested = apr_time_now();
    d.wipe_sent = 0;
    d.wipe_status = 0;
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_device_wipe(as_db_t *db, apr_pool_t *p, const char *account, const char *device_id,
                            int account_only, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);
    op.flag = account_only ? 1 : 0;
    return rv ? rv : run(db, 0, txn_wipe, &op, err);
}

static int txn_wipe_cancel(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    as_device_t d;
    int rc = need_device(db, txn, op, 1, &d);

    if (rc != 0) {
        return rc;
    }
    if (d.wipe == AS_WIPE_ACKED) {
        return fail(op, AS_DEV_EREFUSED, "device %s of %s already acknowledged the wipe",
                    op->device, op->account);
    }
    if (d.wipe == AS_WIPE_NONE) {
        return fail(op, AS_DEV_EREFUSED, "no wipe is pending for device %s of %s", op->device,
                    op->account);
    }
    d.wipe = AS_WIPE_NONE;
    d.wipe_account_only = 0;
    d.wipe_requested = d.wipe_sent = 0;
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_device_wipe_cancel(as_db_t *db, apr_pool_t *p, const char *account,
                                   const char *device_id, const char **err)
{
    op_t op = {0};
    apr_status_t rv = admin_ids(p, &op, account, device_id, err);
    return rv ? rv : run(db, 0, txn_wipe_cancel, &op, err);
}
