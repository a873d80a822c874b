/* The ClientIds a device already sent (SendMail idempotency): a record in
 * syncstate.db under "S/<account>\t<device>", the last
 * AS_SENDMAIL_SENT_KEEP ClientIds joined by newlines, newest last.
 * A ClientId being submitted is reserved first: a record
 * "SR/<account>\t<device>\t<ClientId>" holding the time of the
 * reservation, checked and written in the same transaction that reads the
 * sent list, so two concurrent requests with one ClientId cannot both go
 * on.  After the submission the reservation becomes an entry of the list
 * (accepted) or is removed (failed: the retry may send).  A reservation
 * older than AS_SENDMAIL_RESERVE_TTL (a process that died while
 * submitting) no longer counts. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "as_sendmail.h"

#define SENT_VAL_MAX (AS_SENDMAIL_SENT_KEEP * (AS_SENDMAIL_CLIENTID_MAX + 1))

typedef struct sent_baton_t {
    char key[2 + 256 + 1 + 128];
    size_t klen;
    char rkey[3 + 256 + 1 + 128 + 1 + AS_SENDMAIL_CLIENTID_MAX + 1];
    size_t rklen;
    const char *client_id;
    apr_time_t now;
    char buf[SENT_VAL_MAX + 1];
    size_t len;
    int state; /* as_sendmail_id_t */
    int release_only;
} sent_baton_t;

static int sent_read(as_db_t *db, DB_TXN *txn, sent_baton_t *b)
{
    int rc;

    b->len = SENT_VAL_MAX;
    rc = as_db_get(as_db_handle(db, AS_DB_SYNC), txn, b->key, b->klen, b->buf, &b->len, 0);
    if (rc == DB_NOTFOUND || rc == DB_BUFFER_SMALL) {
        b->len = 0; /* none yet; an oversized record (never written so) starts over */
        rc = 0;
    }
    b->buf[b->len] = '\0';
    return rc;
}

static int sent_contains(const char *list, const char *id)
{
    size_t n = strlen(id);
    const char *s = list;

    while (*s) {
        const char *e = strchr(s, '\n');
        size_t l = e ? (size_t)(e - s) : strlen(s);
        if (l == n && !memcmp(s, id, n)) {
            return 1;
        }
        s += l + (e ? 1 : 0);
    }
    return 0;
}

/* Is there a live reservation of the id? */
static int reserved(as_db_t *db, DB_TXN *txn, sent_baton_t *b, int *rc)
{
    char val[32];
    size_t len = sizeof(val) - 1;
    apr_int64_t at;

    *rc = as_db_get(as_db_handle(db, AS_DB_SYNC), txn, b->rkey, b->rklen, val, &len, DB_RMW);
    if (*rc == DB_NOTFOUND || *rc == DB_BUFFER_SMALL) {
        *rc = 0;
        return 0;
    }
    if (*rc != 0) {
        return 0;
    }
    val[len] = '\0';
    at = apr_atoi64(val);
    /* a time after ours is live too (another thread read the clock later) */
    return at > b->now - AS_SENDMAIL_RESERVE_TTL;
}

static int sent_reserve_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    sent_baton_t *b = baton;
    int rc = sent_read(db, txn, b);
    char val[32];

    b->state = AS_SM_ID_NEW;
    if (rc != 0) {
        return rc;
    }
    if (sent_contains(b->buf, b->client_id)) {
        b->state = AS_SM_ID_SENT;
        return 0;
    }
    if (reserved(db, txn, b, &rc) || rc != 0) {
        b->state = AS_SM_ID_BUSY;
        return rc;
    }
    apr_snprintf(val, sizeof val, "%" APR_INT64_T_FMT, (apr_int64_t)b->now);
    return as_db_put(as_db_handle(db, AS_DB_SYNC), txn, b->rkey, b->rklen, val, strlen(val));
}

/* Drop the reservation and, unless release_only, add the id to the list. */
static int sent_put_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    sent_baton_t *b = baton;
    int rc = as_db_del(as_db_handle(db, AS_DB_SYNC), txn, b->rkey, b->rklen), count = 0;
    size_t i, start = 0, n = strlen(b->client_id);

    if (rc != 0 && rc != DB_NOTFOUND) {
        return rc;
    }
    if (b->release_only) {
        return 0;
    }
    rc = sent_read(db, txn, b);
    if (rc != 0 || sent_contains(b->buf, b->client_id)) {
        return rc;
    }
    for (i = 0; i < b->len; i++) {
        count += b->buf[i] == '\n';
    }
    count += b->len > 0;
    /* Drop the oldest ids so that the new one fits the bound. */
    while (count >= AS_SENDMAIL_SENT_KEEP && start < b->len) {
        const char *e = memchr(b->buf + start, '\n', b->len - start);
        start = e ? (size_t)(e - b->buf) + 1 : b->len;
        count--;
    }
    memmove(b->buf, b->buf + start, b->len - start);
    b->len -= start;
    if (b->len > 0) {
        b->buf[b->len++] = '\n';
    }
    memcpy(b->buf + b->len, b->client_id, n);
    b->len += n;
    return as_db_put(as_db_handle(db, AS_DB_SYNC), txn, b->key, b->klen, b->buf, b->len);
}

static void sent_key(sent_baton_t *b, const char *account, const char *device, const char *id)
{
    b->klen =
        (size_t)apr_snprintf(b->key, sizeof b->key, "S/%s\t%s", account, device ? device : "");
    b->rklen = (size_t)apr_snprintf(b->rkey, sizeof b->rkey, "SR/%s\t%s\t%s", account,
                                    device ? device : "", id);
    b->client_id = id;
    b->now = apr_time_now();
}

apr_status_t as_sendmail_sent_reserve(as_db_t *db, const char *account, const char *device,
                                      const char *client_id, as_sendmail_id_t *state)
{
    sent_baton_t *b = calloc(1, sizeof(*b));
    apr_status_t rv;

    *state = AS_SM_ID_NEW;
    if (!b) {
        return APR_ENOMEM;
    }
    sent_key(b, account, device, client_id);
    rv = as_db_txn(db, 0, sent_reserve_fn, b);
    *state = rv == APR_SUCCESS ? (as_sendmail_id_t)b->state : AS_SM_ID_NEW;
    free(b);
    return rv;
}

static apr_status_t sent_end(as_db_t *db, const char *account, const char *device,
                             const char *client_id, int release_only)
{
    sent_baton_t *b = calloc(1, sizeof(*b));
    apr_status_t rv;

    if (!b) {
        return APR_ENOMEM;
    }
    sent_key(b, account, device, client_id);
    b->release_only = release_only;
    rv = as_db_txn(db, 0, sent_put_fn, b);
    free(b);
    return rv;
}

apr_status_t as_sendmail_sent_note(as_db_t *db, const char *account, const char *device,
                                   const char *client_id)
{
    return sent_end(db, account, device, client_id, 0);
}

apr_status_t as_sendmail_sent_release(as_db_t *db, const char *account, const char *device,
                                      const char *client_id)
{
    return sent_end(db, account, device, client_id, 1);
}
