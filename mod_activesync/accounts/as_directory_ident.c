/* Who an account sends as: its display name and aliases, read for every
 * SendMail, so answered from the per-process memo while the database is
 * unchanged and otherwise by one read of the account record. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_db_memo.h"
#include "as_directory_record.h"

#define IDENT_MEMO_TAG "\001ident:"

typedef struct ident_read_t {
    const char *key;
    size_t klen;
    unsigned char *ident; /* IDENT_MAX bytes */
    size_t ident_len;
} ident_read_t;

static int txn_read_ident(as_db_t *db, DB_TXN *txn, void *baton)
{
    ident_read_t *q = baton;
    rec_t r;
    int rc = as_dirrec_get(as_db_handle(db, AS_DB_DIRECTORY), txn, q->key, q->klen, &r, 0);

    q->ident_len = 0;
    if (rc == DB_NOTFOUND) {
        return 0;
    }
    if (rc == 0) {
        memcpy(q->ident, r.ident, r.ident_len);
        q->ident_len = r.ident_len;
    }
    return rc;
}

apr_status_t as_dir_account_identity(as_db_t *db, apr_pool_t *p, const char *address,
                                     const char **display_name, const apr_array_header_t **aliases)
{
    char key[KEY_MAX], mkey[KEY_MAX + sizeof(IDENT_MEMO_TAG)];
    unsigned char ident[IDENT_MAX];
    const char *local, *dom, *at = address ? strrchr(address, '@') : NULL;
    size_t vl = sizeof(ident), ml;
    ident_read_t q;
    as_db_mark_t mark;
    apr_status_t rv;

    *display_name = NULL;
    *aliases = NULL;
    if (!at || at == address || (size_t)(at - address) > LOCAL_MAX || strlen(at + 1) > DOMAIN_MAX) {
        return AS_DIR_EINVAL;
    }
    as_dirrec_split_address(p, address, &local, &dom);
    memset(&q, 0, sizeof(q));
    q.key = key;
    q.klen = as_dirrec_key(key, 'a', dom, local);
    q.ident = ident;
    ml = (size_t)apr_snprintf(mkey, sizeof(mkey), "%s%s", IDENT_MEMO_TAG, address);
    if (as_db_memo_get(db, mkey, ml, ident, &vl, 0)) {
        as_dirrec_ident_decode(p, ident, vl, display_name, aliases);
        return APR_SUCCESS;
    }
    as_db_mark(db, &mark); /* before the read (as_db_memo.h) */
    rv = as_db_txn(db, AS_DB_TXN_READ, txn_read_ident, &q);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    as_db_memo_put(&mark, mkey, ml, ident, q.ident_len, 0);
    as_dirrec_ident_decode(p, ident, q.ident_len, display_name, aliases);
    return APR_SUCCESS;
}
