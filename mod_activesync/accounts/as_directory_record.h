/* Directory records and keys (private to the accounts layer): the encoding
 * of directory.db described in as_directory.h, and prefix scans. */
#ifndef AS_DIRECTORY_RECORD_H
#define AS_DIRECTORY_RECORD_H

#include "activesync/as_directory.h"
#include "activesync/as_policy.h"

#include <stddef.h>

#define REC_VERSION1 1 /* no policy settings: class name = rest of the record */
#define REC_VERSION2 2 /* byte 3 = class name length; policy settings follow it */
#define REC_HEAD     12
#define CLASS_MAX    64
#define DOMAIN_MAX   253
#define LOCAL_MAX    64
#define KEY_MAX      (2 + DOMAIN_MAX + 1 + LOCAL_MAX + 1)
#define REC_MAX      (REC_HEAD + CLASS_MAX + AS_POLSET_ENC_MAX)
#define OPT_MASK     ((1u << AS_OPT_COUNT) - 1)

typedef struct rec_t {
    as_optset_t opts;
    apr_time_t mtime;
    char cls[CLASS_MAX + 1];
    as_polset_t pol;
} rec_t;

/* Count helper for prefix scans. */
typedef struct count_t {
    int n;
    const char *cls; /* count accounts of this class only */
    apr_array_header_t *keys;
    apr_pool_t *p;
} count_t;

/* Apply an option/policy edit to a level's explicit settings. */
void as_dirrec_apply_edit(as_optset_t *s, as_polset_t *pol, const as_optedit_t *e);
/* Encode a record into buf (REC_MAX bytes); returns its length. */
size_t as_dirrec_encode(unsigned char *buf, const as_optset_t *o, apr_time_t mtime, const char *cls,
                        const as_polset_t *pol);
/* Decode a record (AS_DB_ECORRUPT when malformed). */
int as_dirrec_decode(const unsigned char *buf, size_t len, rec_t *r);
/* A pool copy of a level's policy settings, NULL when it has none. */
const as_polset_t *as_dirrec_pol_dup(apr_pool_t *p, const as_polset_t *s);
/* Key "KIND:A" or "KIND:A/B" into buf (KEY_MAX bytes); returns its length. */
size_t as_dirrec_key(char *buf, char kind, const char *a, const char *b);
/* 0 found, DB_NOTFOUND, or an error. */
int as_dirrec_get(DB *dbp, DB_TXN *txn, const char *key, size_t klen, rec_t *r, int rmw);
/* Write a record stamped with the current time. */
int as_dirrec_put(DB *dbp, DB_TXN *txn, const char *key, size_t klen, const as_optset_t *o,
                  const char *cls, const as_polset_t *pol);
/* "local@domain" into pool copies of both parts. */
void as_dirrec_split_address(apr_pool_t *p, const char *address, const char **local,
                             const char **domain);
/* as_db_iterate callback counting into a count_t (by class when cls is set). */
int as_dirrec_count_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen);
/* Key prefix of every KIND record ('c' class, 'a' account, 'm' mailbox) of
 * domain, or of every domain when domain is NULL. */
size_t as_dirrec_prefix(char *buf, char kind, const char *domain);
/* Iterate over the KIND records of domain (or all). */
int as_dirrec_scan(DB *dbp, DB_TXN *txn, char kind, const char *domain, as_db_iter_fn *cb,
                   void *baton);
/* Count the KIND records of domain (of class cls when set). */
int as_dirrec_scan_count(DB *dbp, DB_TXN *txn, char kind, const char *domain, const char *cls,
                         int *n);

#endif
