/* The device record: keys and the tagged-field codec of devices.db.  See
 * as_device.h for the encoding. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_directory.h"
#include "as_device_record.h"

#define DEV_VERSION 1
#define KEY_MAX     AS_DEVREC_KEY_MAX
#define DEVID_MAX   AS_DEVREC_ID_MAX

/* Validate and upper-case a device id from the administrator. */
apr_status_t as_devrec_admin_id(apr_pool_t *p, const char *in, const char **out, const char **err)
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

size_t as_devrec_key(char *buf, const char *account, const char *device_key)
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

int as_devrec_decode(apr_pool_t *p, const unsigned char *buf, size_t len, as_device_t *d)
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

void as_devrec_clear(as_device_t *d)
{
    memset(d, 0, sizeof(*d));
    d->info.enable_outbound_sms = -1;
}

/* Account and device id from a key "v:dom/local/DEV". */
int as_devrec_from_key(apr_pool_t *p, const char *key, size_t klen, as_device_t *d)
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
    size_t kl = as_devrec_key(key, account, device_key), len = sizeof(small);
    int rc;

    as_devrec_clear(out);
    rc = as_db_get(dbp, txn, key, kl, buf, &len, rmw ? DB_RMW : 0);
    if (rc == DB_BUFFER_SMALL) {
        buf = apr_palloc(p, len);
        rc = as_db_get(dbp, txn, key, kl, buf, &len, rmw ? DB_RMW : 0);
    }
    if (rc != 0) {
        return rc;
    }
    if ((rc = as_devrec_decode(p, buf, len, out)) != 0) {
        return rc;
    }
    out->account = apr_pstrdup(p, account);
    out->device_id = apr_pstrdup(p, device_key);
    return 0;
}

unsigned char *as_devrec_encode(const as_device_t *d, size_t *len)
{
    return dev_encode(d, len);
}

int as_device_txn_put(as_db_t *db, DB_TXN *txn, const as_device_t *d)
{
    char key[KEY_MAX];
    size_t kl = as_devrec_key(key, d->account, d->device_id), len;
    unsigned char *buf = dev_encode(d, &len);
    int rc;

    if (!buf) {
        return ENOMEM;
    }
    rc = as_db_put(as_db_handle(db, AS_DB_DEVICES), txn, key, kl, buf, len);
    free(buf);
    return rc;
}
