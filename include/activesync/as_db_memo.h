/* A per-process memo of what read transactions found, valid while the
 * environment is unchanged (issue 10: a request that changes nothing should
 * not pay for transactions that find what the previous one found).
 *
 * THE MARK.  as_db_mark() returns the end of the environment's log (the LSN
 * the next log record gets, read from the shared log region: no I/O, no
 * transaction) together with a number this process gave the open
 * environment.  Every transaction that writes, in any process (httpd
 * children, the admin tool), appends log records before it commits, so the
 * end of the log moves with every committed change; read-only transactions
 * append nothing.  Checkpoints move it too (a memo is then dropped for
 * nothing, which is harmless).  A reopen after recovery (where the log may
 * be cut back) gets a new number, so what was recorded before never
 * matches again.
 *
 * THE RULE.  Take the mark BEFORE the read transaction whose result is
 * recorded, and record it under that mark: a change that commits between
 * the mark and the read moves the end of the log, so the record never
 * matches and the next request reads again.  A lookup takes the current
 * mark and hits only an entry recorded under exactly that mark and not
 * past its expiry (for results that also depend on the clock).  So a memo
 * never answers for a state of the database that is not the current one.
 *
 * BOUNDS.  AS_DB_MEMO_SLOTS entries per process (direct-mapped by a hash of
 * the key: a collision replaces), keys up to AS_DB_MEMO_KEY_MAX and values
 * up to AS_DB_MEMO_VAL_MAX bytes (larger ones are not recorded): at most
 * about 5 MB per process, in practice the few hundred bytes of each
 * active device.  Keys carry their own namespace (a first letter per
 * user).  Thread-safe (one mutex, held for a copy).
 */
#ifndef AS_DB_MEMO_H
#define AS_DB_MEMO_H

#include "as_db.h"

#define AS_DB_MEMO_SLOTS   1024
#define AS_DB_MEMO_KEY_MAX 1024
#define AS_DB_MEMO_VAL_MAX 4096

typedef struct as_db_mark_t {
    apr_uint64_t serial; /* the open environment, in this process; 0: no mark */
    apr_uint32_t file, offset;
} as_db_mark_t;

/* The current mark; APR_SUCCESS, or AS_DB_EUNAVAIL (then *m is zero and
 * matches nothing). */
apr_status_t as_db_mark(as_db_t *db, as_db_mark_t *m);

/* Record val under key, taken at mark *m (before the read that found it),
 * valid until `expires` (0: no expiry). */
void as_db_memo_put(const as_db_mark_t *m, const void *key, size_t klen, const void *val,
                    size_t vlen, apr_time_t expires);

/* 1 and the value (into val, *vlen its size; at most the *vlen given)
 * when key was recorded under the current mark and `now` is before its
 * expiry; else 0. */
int as_db_memo_get(as_db_t *db, const void *key, size_t klen, void *val, size_t *vlen,
                   apr_time_t now);

/* 1 when key was recorded under the current mark (and is not expired at
 * `now`) with exactly the value val; else 0. */
int as_db_memo_equals(as_db_t *db, const void *key, size_t klen, const void *val, size_t vlen,
                      apr_time_t now);

/* Forget everything (tests). */
void as_db_memo_clear(void);

#endif
