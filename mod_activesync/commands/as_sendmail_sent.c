/* The ClientIds a device already sent (SendMail idempotency): a record in
 * syncstate.db under "S/<account>\t<device>", the last
 * AS_SENDMAIL_SENT_KEEP ClientIds joined by newlines, newest last. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "as_sendmail.h"

#define SENT_VAL_MAX (AS_SENDMAIL_SENT_KEEP * (AS_SENDMAIL_CLIENTID_MAX + 1))

typedef struct sent_baton_t {
    char key[2 + 256 + 1 + 128];
    size_t klen;
    const char *client_id;
    char buf[SENT_VAL_MAX + 1];
    size_t len;
    int found;
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

static int sent_get_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    sent_baton_t *b = baton;
    int rc = sent_read(db, txn, b);

    b->found = rc == 0 && sent_contains(b->buf, b->client_id);
    return rc;
}

static int sent_put_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    sent_baton_t *b = baton;
    int rc = sent_read(db, txn, b), count = 0;
    size_t i, start = 0, n = strlen(b->client_id);

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
    b->client_id = id;
}

apr_status_t as_sendmail_sent_check(as_db_t *db, const char *account, const char *device,
                                    const char *client_id, int *already)
{
    sent_baton_t *b = calloc(1, sizeof(*b));
    apr_status_t rv;

    *already = 0;
    if (!b) {
        return APR_ENOMEM;
    }
    sent_key(b, account, device, client_id);
    rv = as_db_txn(db, AS_DB_TXN_READ, sent_get_fn, b);
    *already = rv == APR_SUCCESS && b->found;
    free(b);
    return rv;
}

apr_status_t as_sendmail_sent_note(as_db_t *db, const char *account, const char *device,
                                   const char *client_id)
{
    sent_baton_t *b = calloc(1, sizeof(*b));
    apr_status_t rv;

    if (!b) {
        return APR_ENOMEM;
    }
    sent_key(b, account, device, client_id);
    rv = as_db_txn(db, 0, sent_put_fn, b);
    free(b);
    return rv;
}
