/* Device expiry: which records are stale, a bounded scan over devices.db
 * and the sweep's shared position.  The cascade with the sync state is in
 * service/as_account_service.c.  See as_device.h. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_device.h"
#include "as_device_record.h"

#define SWEEP_KEY     "x:expiry"
#define DEVICE_PREFIX "v:"

int as_device_expired(const as_device_t *d, const as_device_ages_t *ages, apr_time_t now,
                      const char **why)
{
    apr_interval_time_t idle = now - d->last_contact;
    const char *w = NULL;

    /* Records that carry an administrator's decision are kept: an explicit
     * block or allow, a wipe pending (the device must still learn it) or
     * acknowledged (refused until an administrator removes it).  Expiring
     * them would let the device start afresh. */
    if (d->access != AS_ACCESS_DEFAULT || d->wipe != AS_WIPE_NONE) {
        return 0;
    }
    /* "Never provisioned" is for the short-lived ids of a flood or of a client
     * that changes its DeviceId at every start: a device used for longer than
     * the age without provisioning (a server with ActiveSyncProvisioning Off
     * or Loose) is left to the "unseen" rule, so a weekend off does not cost
     * it a full resync. */
    if (ages->unprovisioned > 0 && d->prov_state != AS_PROV_DONE && idle >= ages->unprovisioned &&
        d->last_contact - d->first_contact < ages->unprovisioned) {
        w = "never provisioned";
    } else if (ages->unseen > 0 && idle >= ages->unseen) {
        w = "not seen";
    }
    if (why) {
        *why = w;
    }
    return w != NULL;
}

typedef struct scan_t {
    apr_pool_t *p;
    const as_device_ages_t *ages;
    apr_time_t now;
    unsigned max_found;
    apr_array_header_t *found;
} scan_t;

/* One record of the scan; a record that does not decode is left alone (the
 * administrator sees it in `device list` errors), never deleted blindly. */
static void scan_one(scan_t *s, const DBT *k, const DBT *v)
{
    as_device_t d;

    as_devrec_clear(&d);
    if (as_devrec_decode(s->p, v->data, v->size, &d) != 0 ||
        as_devrec_from_key(s->p, k->data, k->size, &d) != 0) {
        return;
    }
    if (as_device_expired(&d, s->ages, s->now, NULL) && (unsigned)s->found->nelts < s->max_found) {
        *(as_device_t *)apr_array_push(s->found) = d;
    }
}

int as_device_txn_scan_expired(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *from,
                               const as_device_ages_t *ages, apr_time_t now, unsigned max_scan,
                               unsigned max_found, apr_array_header_t *found, const char **next)
{
    DB *dbp = as_db_handle(db, AS_DB_DEVICES);
    const char *start = from && *from ? from : DEVICE_PREFIX;
    scan_t s = {p, ages, now, max_found, found};
    unsigned seen = 0;
    DBC *cur;
    DBT k, v;
    int rc, t;

    *next = NULL;
    if ((rc = dbp->cursor(dbp, txn, &cur, 0)) != 0) {
        return rc;
    }
    memset(&k, 0, sizeof(k));
    memset(&v, 0, sizeof(v));
    k.flags = v.flags = DB_DBT_REALLOC;
    k.size = (u_int32_t)strlen(start);
    if (!(k.data = malloc(k.size ? k.size : 1))) {
        cur->close(cur);
        return ENOMEM;
    }
    memcpy(k.data, start, k.size);
    for (rc = cur->get(cur, &k, &v, DB_SET_RANGE); rc == 0; rc = cur->get(cur, &k, &v, DB_NEXT)) {
        if (k.size < 2 || memcmp(k.data, DEVICE_PREFIX, 2) != 0) {
            rc = DB_NOTFOUND;
            break;
        }
        if (seen == max_scan || (unsigned)found->nelts == max_found) {
            *next = apr_pstrmemdup(p, k.data, k.size); /* go on from here next time */
            break;
        }
        seen++;
        scan_one(&s, &k, &v);
    }
    free(k.data);
    free(v.data);
    t = cur->close(cur);
    if (rc == DB_NOTFOUND) {
        rc = 0;
    }
    return rc ? rc : t;
}

int as_device_txn_expire_one(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *account,
                             const char *device_id, const as_device_ages_t *ages, apr_time_t now,
                             int *gone)
{
    char key[AS_DEVREC_KEY_MAX];
    as_device_t d;
    int rc = as_device_txn_get(db, txn, p, account, device_id, 1, &d);

    *gone = 0;
    if (rc == DB_NOTFOUND) {
        return 0; /* removed meanwhile */
    }
    if (rc != 0) {
        return rc;
    }
    if (!as_device_expired(&d, ages, now, NULL)) {
        return 0; /* seen again since the scan */
    }
    rc = as_db_del(as_db_handle(db, AS_DB_DEVICES), txn, key,
                   as_devrec_key(key, account, device_id));
    if (rc == 0) {
        *gone = 1;
    }
    return rc == DB_NOTFOUND ? 0 : rc;
}

/* "x:expiry" value: 8 bytes due time (big-endian apr_time_t), then the key to
 * go on from. */
int as_device_txn_sweep_get(as_db_t *db, DB_TXN *txn, apr_pool_t *p, int rmw, apr_time_t *due,
                            const char **from)
{
    unsigned char buf[8 + AS_DEVREC_KEY_MAX];
    size_t len = sizeof(buf);
    apr_uint64_t v = 0;
    int rc = as_db_get(as_db_handle(db, AS_DB_DEVICES), txn, SWEEP_KEY, strlen(SWEEP_KEY), buf,
                       &len, rmw ? DB_RMW : 0);
    int i;

    *due = 0;
    *from = "";
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    if (rc != 0) {
        return rc == DB_BUFFER_SMALL ? AS_DB_ECORRUPT : rc;
    }
    if (len < 8) {
        return AS_DB_ECORRUPT;
    }
    for (i = 0; i < 8; i++) {
        v = (v << 8) | buf[i];
    }
    *due = (apr_time_t)v;
    *from = apr_pstrmemdup(p, (const char *)buf + 8, len - 8);
    return 0;
}

int as_device_txn_sweep_put(as_db_t *db, DB_TXN *txn, apr_time_t due, const char *from)
{
    unsigned char buf[8 + AS_DEVREC_KEY_MAX];
    size_t fl = from ? strnlen(from, AS_DEVREC_KEY_MAX) : 0;
    int i;

    for (i = 0; i < 8; i++) {
        buf[i] = (unsigned char)(((apr_uint64_t)due >> (8 * (7 - i))) & 0xff);
    }
    if (fl) {
        memcpy(buf + 8, from, fl);
    }
    return as_db_put(as_db_handle(db, AS_DB_DEVICES), txn, SWEEP_KEY, strlen(SWEEP_KEY), buf,
                     8 + fl);
}

apr_status_t as_device_age_parse(const char *s, apr_interval_time_t *out)
{
    apr_int64_t v = 0, unit = 1;
    const char *c = s;

    *out = 0;
    if (!s || !*s) {
        return APR_EINVAL;
    }
    if (!strcasecmp(s, "off")) {
        return APR_SUCCESS;
    }
    for (; *c >= '0' && *c <= '9'; c++) {
        v = v * 10 + (*c - '0');
        if (v > (apr_int64_t)3650 * 86400) {
            return APR_EINVAL;
        }
    }
    if (c == s) {
        return APR_EINVAL;
    }
    switch (*c) {
    case '\0':
    case 's':
        break;
    case 'm':
        unit = 60;
        break;
    case 'h':
        unit = 3600;
        break;
    case 'd':
        unit = 86400;
        break;
    default:
        return APR_EINVAL;
    }
    if (*c && c[1]) {
        return APR_EINVAL;
    }
    if (v * unit > (apr_int64_t)3650 * 86400) {
        return APR_EINVAL;
    }
    *out = apr_time_from_sec(v * unit);
    return APR_SUCCESS;
}
