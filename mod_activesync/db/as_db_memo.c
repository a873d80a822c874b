/* The per-process memo of read results, checked against the end of the
 * environment's log (as_db_memo.h). */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "activesync/as_db_memo.h"
#include "as_db_private.h"

typedef struct memo_t {
    as_db_mark_t mark;
    apr_time_t expires;
    apr_uint64_t hash;
    size_t klen, vlen;
    unsigned char *data; /* key, then value (malloc) */
} memo_t;

static memo_t memos[AS_DB_MEMO_SLOTS];
static pthread_mutex_t memo_lock = PTHREAD_MUTEX_INITIALIZER;

apr_status_t as_db_mark(as_db_t *db, as_db_mark_t *m)
{
    DB_LOG_STAT *sp = NULL;
    int rc = -1;

    memset(m, 0, sizeof(*m));
    if (!db || db->pid != as_db_self() || atomic_get(&db->panicked) || atomic_get(&db->closing)) {
        return AS_DB_EUNAVAIL;
    }
    if (pthread_rwlock_rdlock(&db->rw) != 0) {
        return AS_DB_EUNAVAIL;
    }
    if (db->env && !atomic_get(&db->panicked)) {
        rc = db->env->log_stat(db->env, &sp, 0);
        if (rc == 0) {
            m->serial = db->serial;
            m->file = sp->st_cur_file;
            m->offset = sp->st_cur_offset;
        }
        free(sp);
    }
    pthread_rwlock_unlock(&db->rw);
    if (rc != 0) {
        memset(m, 0, sizeof(*m));
        return AS_DB_EUNAVAIL;
    }
    return APR_SUCCESS;
}

static int mark_equal(const as_db_mark_t *a, const as_db_mark_t *b)
{
    return a->serial != 0 && a->serial == b->serial && a->file == b->file && a->offset == b->offset;
}

/* FNV-1a, 64 bits. */
static apr_uint64_t key_hash(const void *key, size_t klen)
{
    const unsigned char *k = key;
    apr_uint64_t h = 0xcbf29ce484222325ULL;
    size_t i;

    for (i = 0; i < klen; i++) {
        h = (h ^ k[i]) * 0x100000001b3ULL;
    }
    return h;
}

void as_db_memo_put(const as_db_mark_t *m, const void *key, size_t klen, const void *val,
                    size_t vlen, apr_time_t expires)
{
    apr_uint64_t h;
    unsigned char *data, *old;
    memo_t *e;

    if (!m || !m->serial || klen == 0 || klen > AS_DB_MEMO_KEY_MAX || vlen > AS_DB_MEMO_VAL_MAX) {
        return;
    }
    if (!(data = malloc(klen + vlen + 1))) {
        return;
    }
    memcpy(data, key, klen);
    if (vlen) {
        memcpy(data + klen, val, vlen);
    }
    h = key_hash(key, klen);
    pthread_mutex_lock(&memo_lock);
    e = &memos[h % AS_DB_MEMO_SLOTS];
    old = e->data;
    e->mark = *m;
    e->expires = expires;
    e->hash = h;
    e->klen = klen;
    e->vlen = vlen;
    e->data = data;
    pthread_mutex_unlock(&memo_lock);
    free(old);
}

/* The entry of key recorded under the current mark and alive at now, with
 * memo_lock held; NULL (lock released) when there is none. */
static memo_t *lookup_locked(as_db_t *db, const void *key, size_t klen, apr_time_t now)
{
    as_db_mark_t cur;
    apr_uint64_t h;
    memo_t *e;

    if (klen == 0 || klen > AS_DB_MEMO_KEY_MAX || as_db_mark(db, &cur) != APR_SUCCESS) {
        return NULL;
    }
    h = key_hash(key, klen);
    pthread_mutex_lock(&memo_lock);
    e = &memos[h % AS_DB_MEMO_SLOTS];
    if (e->data && e->hash == h && e->klen == klen && memcmp(e->data, key, klen) == 0 &&
        mark_equal(&e->mark, &cur) && (!e->expires || now < e->expires)) {
        return e;
    }
    pthread_mutex_unlock(&memo_lock);
    return NULL;
}

int as_db_memo_get(as_db_t *db, const void *key, size_t klen, void *val, size_t *vlen,
                   apr_time_t now)
{
    memo_t *e = lookup_locked(db, key, klen, now);
    int hit = 0;

    if (!e) {
        return 0;
    }
    if (e->vlen <= *vlen) {
        if (e->vlen) {
            memcpy(val, e->data + e->klen, e->vlen);
        }
        *vlen = e->vlen;
        hit = 1;
    }
    pthread_mutex_unlock(&memo_lock);
    return hit;
}

int as_db_memo_equals(as_db_t *db, const void *key, size_t klen, const void *val, size_t vlen,
                      apr_time_t now)
{
    memo_t *e = lookup_locked(db, key, klen, now);
    int same;

    if (!e) {
        return 0;
    }
    same = e->vlen == vlen && (vlen == 0 || memcmp(e->data + e->klen, val, vlen) == 0);
    pthread_mutex_unlock(&memo_lock);
    return same;
}

void as_db_memo_clear(void)
{
    int i;

    pthread_mutex_lock(&memo_lock);
    for (i = 0; i < AS_DB_MEMO_SLOTS; i++) {
        free(memos[i].data);
        memset(&memos[i], 0, sizeof(memos[i]));
    }
    pthread_mutex_unlock(&memo_lock);
}
