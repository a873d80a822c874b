/* Directory records and keys (private to the accounts layer): the encoding
 * of directory.db described in as_directory.h, and prefix scans. */
#ifndef AS_DIRECTORY_RECORD_H
#define AS_DIRECTORY_RECORD_H

#include "activesync/as_directory.h"
#include "activesync/as_policy.h"

#include <stddef.h>

#define REC_VERSION1 1 /* no policy settings: class name = rest of the record */
#define REC_VERSION2 2 /* byte 3 = class name length; policy settings follow it */
#define REC_VERSION3 3 /* version 2 with the account's identity before the policy */
#define REC_HEAD     12
#define CLASS_MAX    64
#define DOMAIN_MAX   253
#define LOCAL_MAX    64
#define KEY_MAX      (2 + DOMAIN_MAX + 1 + LOCAL_MAX + 1)
/* identity: name length, name, alias count, per alias: 2-byte length, alias */
#define IDENT_MAX (2 + AS_DIR_NAME_MAX + AS_DIR_ALIASES_MAX * (2 + LOCAL_MAX + 1 + DOMAIN_MAX))
#define REC_MAX   (REC_HEAD + CLASS_MAX + IDENT_MAX + AS_POLSET_ENC_MAX)
#define OPT_MASK  ((1u << AS_OPT_COUNT) - 1)

typedef struct rec_t {
    as_optset_t opts;
    apr_time_t mtime;
    char cls[CLASS_MAX + 1];
    as_polset_t pol;
    unsigned char ident[IDENT_MAX]; /* the account's identity, encoded */
    size_t ident_len;               /* 0: none */
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
/* Encode a record into buf (REC_MAX bytes); returns its length.  ident:
 * the identity as as_dirrec_ident_encode() made it (ident_len 0: none). */
size_t as_dirrec_encode(unsigned char *buf, const as_optset_t *o, apr_time_t mtime, const char *cls,
                        const as_polset_t *pol, const unsigned char *ident, size_t ident_len);
/* Encode an account's display name and aliases (either may be NULL) into
 * buf (IDENT_MAX bytes); returns the length, 0 when there is neither.
 * Both must respect AS_DIR_NAME_MAX / AS_DIR_ALIASES_MAX (longer parts are
 * left out). */
size_t as_dirrec_ident_encode(unsigned char *buf, const char *name,
                              const apr_array_header_t *aliases);
/* The length of the well-formed identity at the start of buf, 0 when it is
 * malformed. */
size_t as_dirrec_ident_size(const unsigned char *buf, size_t len);
/* Pool copies of a well-formed identity's parts (NULL when absent). */
void as_dirrec_ident_decode(apr_pool_t *p, const unsigned char *buf, size_t len, const char **name,
                            const apr_array_header_t **aliases);
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
                  const char *cls, const as_polset_t *pol, const unsigned char *ident,
                  size_t ident_len);
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
