/* The item set record (I) and the undo list of a reply (in R) of a
 * collection's sync state (layout: as_syncstate.h).  Version 1 of the item
 * record is the mail one (id, flags); version 2, for the other classes,
 * adds each item's ETag digest and the ClientIds of the latest client Adds. */
#include <limits.h>
#include <string.h>

#include <apr_strings.h>

#include "as_syncrec.h"

#define REC_VERSION_ETAGS 2
#define UNDO_BYTES        (AS_STORE_ITEM_ID_MAX + 8)

apr_uint64_t as_sync_etag_digest(const char *etag)
{
    apr_uint64_t h = 14695981039346656037ULL;
    if (!etag) {
        return 0;
    }
    for (; *etag; etag++) {
        h = (h ^ (unsigned char)*etag) * 1099511628211ULL;
    }
    return h ? h : 1;
}

static void put_id(wbuf_t *b, const char *id)
{
    char pad[AS_STORE_ITEM_ID_MAX];
    memset(pad, 0, sizeof(pad));
    memcpy(pad, id, strnlen(id, AS_STORE_ITEM_ID_MAX));
    as_rec_put(b, pad, sizeof(pad));
}

static void get_id(rbuf_t *b, char *id)
{
    if (b->bad || b->len - b->pos < AS_STORE_ITEM_ID_MAX) {
        b->bad = 1;
        id[0] = '\0';
        return;
    }
    memcpy(id, b->d + b->pos, AS_STORE_ITEM_ID_MAX);
    id[AS_STORE_ITEM_ID_MAX] = '\0';
    b->pos += AS_STORE_ITEM_ID_MAX;
}

void as_rec_items_encode(wbuf_t *b, const as_coll_state_t *st)
{
    apr_uint32_t i;
    int k, nc = st->etags && st->clientids ? st->clientids->nelts : 0;

    as_rec_put(b, st->etags ? "\002" : "\001", 1);
    as_rec_put_u32(b, st->n);
    as_rec_put_u32(b, st->nitems);
    for (i = 0; i < st->nitems; i++) {
        put_id(b, st->items[i].id);
        as_rec_put_u32(b, st->items[i].flags);
        if (st->etags) {
            as_rec_put_u64(b, st->items[i].etag);
        }
    }
    if (!st->etags) {
        return;
    }
    k = nc > AS_SYNC_CLIENTIDS_MAX ? nc - AS_SYNC_CLIENTIDS_MAX : 0;
    as_rec_put_u32(b, (apr_uint32_t)(nc - k));
    for (; k < nc; k++) {
        const as_sync_clientid_t *c = &APR_ARRAY_IDX(st->clientids, k, as_sync_clientid_t);
        as_rec_put_str(b, c->client_id, strlen(c->client_id));
        put_id(b, c->id);
    }
}

static int clientids_decode(rbuf_t *b, apr_pool_t *p, as_coll_state_t *out)
{
    apr_uint32_t i, n = as_rec_get_u32(b);
    if (b->bad || n > AS_SYNC_CLIENTIDS_MAX) {
        return AS_DB_ECORRUPT;
    }
    out->clientids = apr_array_make(p, (int)n + 1, sizeof(as_sync_clientid_t));
    for (i = 0; i < n && !b->bad; i++) {
        as_sync_clientid_t *c = apr_array_push(out->clientids);
        c->client_id = as_rec_get_str(b, p, NULL);
        get_id(b, c->id);
        if (!c->client_id) {
            b->bad = 1;
        }
    }
    return b->bad || b->pos != b->len ? AS_DB_ECORRUPT : 0;
}

int as_rec_items_decode(const unsigned char *v, size_t vl, apr_pool_t *p, as_coll_state_t *out)
{
    rbuf_t b = {v, vl, 1, 0};
    size_t per;
    apr_uint32_t n, i;

    if (vl < 1 || (v[0] != REC_VERSION && v[0] != REC_VERSION_ETAGS)) {
        return AS_DB_ECORRUPT;
    }
    out->etags = v[0] == REC_VERSION_ETAGS;
    per = out->etags ? AS_SYNC_ITEM_BYTES_ETAG : AS_SYNC_ITEM_BYTES;
    if (as_rec_get_u32(&b) != out->n) {
        return AS_DB_ECORRUPT;
    }
    n = as_rec_get_u32(&b);
    /* as_coll_find answers an int index */
    if (b.bad || n != out->nitems || n > (apr_uint32_t)INT_MAX || (vl - b.pos) / per < n ||
        (!out->etags && vl - b.pos != (size_t)n * per)) {
        return AS_DB_ECORRUPT;
    }
    out->items = apr_pcalloc(p, sizeof(as_sync_item_t) * (n ? n : 1));
    for (i = 0; i < n; i++) {
        get_id(&b, out->items[i].id);
        out->items[i].flags = as_rec_get_u32(&b);
        if (out->etags) {
            out->items[i].etag = as_rec_get_u64(&b);
        }
    }
    out->items_loaded = 1;
    return out->etags ? clientids_decode(&b, p, out) : (b.bad ? AS_DB_ECORRUPT : 0);
}

void as_rec_undo_encode(wbuf_t *b, const apr_array_header_t *undo)
{
    int i, etags = 0;
    as_rec_put_u32(b, (apr_uint32_t)undo->nelts);
    for (i = 0; i < undo->nelts; i++) {
        const as_sync_undo_t *u = &APR_ARRAY_IDX(undo, i, as_sync_undo_t);
        put_id(b, u->id);
        as_rec_put_u32(b, (apr_uint32_t)u->kind);
        as_rec_put_u32(b, u->flags);
        etags |= u->etag != 0;
    }
    /* the ETag digests after the entries, only when there are any: a mail
     * reply's undo list is as it always was */
    for (i = 0; etags && i < undo->nelts; i++) {
        as_rec_put_u64(b, APR_ARRAY_IDX(undo, i, as_sync_undo_t).etag);
    }
}

int as_rec_undo_decode(rbuf_t *b, apr_pool_t *p, apr_array_header_t **undo)
{
    apr_uint32_t i, n = as_rec_get_u32(b);
    size_t rest = b->len - b->pos;
    int etags;

    if (b->bad || n > (apr_uint32_t)(INT_MAX - 1) ||
        (rest != (size_t)n * UNDO_BYTES && rest != (size_t)n * (UNDO_BYTES + 8))) {
        return AS_DB_ECORRUPT;
    }
    etags = n > 0 && rest == (size_t)n * (UNDO_BYTES + 8);
    *undo = apr_array_make(p, (int)n + 1, sizeof(as_sync_undo_t));
    for (i = 0; i < n; i++) {
        as_sync_undo_t *u = apr_array_push(*undo);
        get_id(b, u->id);
        u->kind = (int)as_rec_get_u32(b);
        u->flags = as_rec_get_u32(b);
        u->etag = 0;
    }
    for (i = 0; etags && i < n; i++) {
        APR_ARRAY_IDX(*undo, (int)i, as_sync_undo_t).etag = as_rec_get_u64(b);
    }
    return b->bad ? AS_DB_ECORRUPT : 0;
}
