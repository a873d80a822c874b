/* Encoding and keys of the sync state records (layout: as_syncstate.h),
 * shared by the files that read and write them (as_syncstate.c,
 * as_sync_device.c). */
#ifndef AS_SYNCREC_H
#define AS_SYNCREC_H

#include "activesync/as_syncstate.h"

#define REC_VERSION 1
#define KEY_MAX     1024

/* A record being written (malloc'd; oom: a write failed or did not fit). */
typedef struct wbuf_t {
    unsigned char *d;
    size_t len, cap;
    int oom;
} wbuf_t;

void as_rec_put(wbuf_t *b, const void *s, size_t n);
void as_rec_put_u32(wbuf_t *b, apr_uint32_t v);
void as_rec_put_u64(wbuf_t *b, apr_uint64_t v);
/* A string: u32 length + 1 (0 = NULL), bytes. */
void as_rec_put_str(wbuf_t *b, const char *s, size_t len);

/* A record being read (bad: it ended early). */
typedef struct rbuf_t {
    const unsigned char *d;
    size_t len, pos;
    int bad;
} rbuf_t;

apr_uint32_t as_rec_get_u32(rbuf_t *b);
apr_uint64_t as_rec_get_u64(rbuf_t *b);
/* A string in pool memory (NULL for a NULL one); len may be NULL. */
const char *as_rec_get_str(rbuf_t *b, apr_pool_t *p, apr_size_t *len);

/* "<kind>/<account>\t<device>[\t<coll>]" into buf (KEY_MAX); its length. */
size_t as_rec_key(char *buf, char kind, const char *account, const char *device, const char *coll);
/* Read a whole record into pool memory; DB_NOTFOUND passes through. */
int as_rec_read(DB *dbp, DB_TXN *txn, const char *key, size_t kl, apr_pool_t *p,
                const unsigned char **val, size_t *vlen, u_int32_t flags);
/* Lock a hierarchy or collection header (DB_RMW) and check it still has
 * generation/counter gen/n (0/0: absent): both start with version, gen, n.
 * AS_SYNC_ESTALE when not. */
int as_rec_check_expected(DB *dbp, DB_TXN *txn, const char *key, size_t kl, apr_uint32_t gen,
                          apr_uint32_t n);

/* The item set record (I), version 1 (mail) or 2 (st->etags), and the
 * undo list of a reply record (as_syncrec_items.c). */
void as_rec_items_encode(wbuf_t *b, const as_coll_state_t *st);
int as_rec_items_decode(const unsigned char *v, size_t vl, apr_pool_t *p, as_coll_state_t *out);
void as_rec_undo_encode(wbuf_t *b, const apr_array_header_t *undo);
int as_rec_undo_decode(rbuf_t *b, apr_pool_t *p, apr_array_header_t **undo);

#endif
