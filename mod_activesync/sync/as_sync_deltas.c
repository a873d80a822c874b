/* The changes between a device's item set and its folder (as_sync_engine.h):
 * the full comparison with the folder's listing, and the next page of an
 * initial sync in progress, taken from the index of listings
 * (as_sync_index.c) while the folder is unchanged. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_sync_engine.h"

#include "as_sync_coll_int.h"

apr_interval_time_t as_sync_filter_span(int filter_type)
{
    static const int days[] = {0, 1, 3, 7, 14, 31};
    if (filter_type < 0 || filter_type > 5) {
        return -1;
    }
    return apr_time_from_sec((apr_int64_t)days[filter_type] * 86400);
}

static int ask_window(void *ctx, const as_store_item_t *it, apr_pool_t *p)
{
    return as_sync_window_inside(ctx, it, p);
}

/* Mail: by the listing's date; a calendar or task list: by the item's
 * content (as_sync_window.c), through the listing's view when the index
 * keeps one.  i: the item's position in the listing. */
static int in_window(const as_deltas_t *out, int i, apr_pool_t *p)
{
    const as_store_item_t *it = &APR_ARRAY_IDX(out->items, i, as_store_item_t);
    if (out->view) {
        return as_sync_index_view_inside(out->view, i, ask_window, out->win, p);
    }
    if (out->win) {
        return as_sync_window_inside(out->win, it, p);
    }
    return !out->cutoff || it->date >= out->cutoff;
}

static void push_add(apr_array_header_t *adds, const as_store_item_t *it)
{
    as_delta_t *d = apr_array_push(adds);
    d->kind = AS_DELTA_ADD;
    d->id = it->id;
    d->item = it;
}

/* The next page of an initial sync: the folder's token is the one of the
 * listing (the index said so), and the set is items[0..pos).  Valid while
 * everything the device has is still in the window; else 0 (the full
 * comparison sends the SoftDeletes).  At most page_max Adds (0: all). */
static int next_page(as_deltas_t *out, apr_uint32_t pos, int page_max, apr_pool_t *p)
{
    const apr_array_header_t *items = out->items;
    const as_store_item_t *it = (const as_store_item_t *)items->elts;
    int i;

    if (pos > (apr_uint32_t)items->nelts || (pos > 0 && !in_window(out, (int)pos - 1, p))) {
        return 0;
    }
    out->list = apr_array_make(p, 64, sizeof(as_delta_t));
    for (i = (int)pos; i < items->nelts && (page_max <= 0 || i - (int)pos < page_max); i++) {
        if (!in_window(out, i, p)) {
            break; /* newest first: the rest is older still */
        }
        push_add(out->list, &it[i]);
    }
    out->more_after =
        i < items->nelts && page_max > 0 && i - (int)pos == page_max && in_window(out, i, p);
    out->start = (int)pos;
    return 1;
}

/* The next page of a windowed calendar or task list: the set is exactly
 * the first n items inside the window (the view said so); the Adds are
 * the next ones inside, deciding the window of the items up to them only.
 * At most page_max (0: all). */
static void next_view_page(as_deltas_t *out, apr_uint32_t n, int page_max, apr_pool_t *p)
{
    const as_store_item_t *it = (const as_store_item_t *)out->items->elts;
    int *idx = apr_palloc(p, sizeof(int) * (size_t)(page_max > 0 ? page_max : out->items->nelts));
    int k, got;

    got = as_sync_index_view_page(out->view, (int)n, page_max, idx, &out->more_after, ask_window,
                                  out->win, p);
    out->list = apr_array_make(p, got > 0 ? got : 1, sizeof(as_delta_t));
    for (k = 0; k < got; k++) {
        push_add(out->list, &it[idx[k]]);
    }
    out->start = -1; /* not a prefix of the listing itself */
}

/* Compare the set with the listing, O(listing x log set): a Change is a
 * Read/Flag difference for mail, an ETag difference for the other classes. */
static void compare(as_deltas_t *out, const as_coll_state_t *cs, apr_pool_t *p)
{
    apr_array_header_t *dels, *softs, *changes, *adds;
    unsigned char *seen = apr_pcalloc(p, cs->nitems + 1);
    int i;
    apr_uint32_t j;

    dels = apr_array_make(p, 16, sizeof(as_delta_t));
    softs = apr_array_make(p, 16, sizeof(as_delta_t));
    changes = apr_array_make(p, 16, sizeof(as_delta_t));
    adds = apr_array_make(p, 64, sizeof(as_delta_t));
    for (i = 0; i < out->items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(out->items, i, as_store_item_t);
        int k = as_coll_find(cs, it->id);
        int inside = in_window(out, i, p);
        as_delta_t *d = NULL;
        if (k >= 0) {
            if (seen[k]) {
                continue; /* listed twice (a race in readdir): once is enough */
            }
            seen[k] = 1;
            if (cs->items[k].flags & AS_SYNC_SKIPPED) {
                if (!inside) {
                    APR_ARRAY_PUSH(out->forget, const char *) = cs->items[k].id;
                } else if (cs->etags && cs->items[k].etag != as_sync_etag_digest(it->etag)) {
                    /* an item that could not be sent was edited: try it again */
                    APR_ARRAY_PUSH(out->forget, const char *) = cs->items[k].id;
                    push_add(adds, it);
                }
            } else if (!inside) {
                d = apr_array_push(softs);
                d->kind = AS_DELTA_SOFTDELETE;
            } else if (cs->etags ? cs->items[k].etag != as_sync_etag_digest(it->etag)
                                 : (cs->items[k].flags & AS_SYNC_FLAGS_MASK) !=
                                       (it->flags & AS_SYNC_FLAGS_MASK)) {
                d = apr_array_push(changes);
                d->kind = AS_DELTA_CHANGE;
            }
        } else if (inside) {
            push_add(adds, it);
            continue;
        }
        if (d) {
            d->id = it->id;
            d->item = it;
        }
    }
    for (j = 0; j < cs->nitems; j++) {
        if (!seen[j] && (cs->items[j].flags & AS_SYNC_SKIPPED)) {
            APR_ARRAY_PUSH(out->forget, const char *) = cs->items[j].id;
        } else if (!seen[j]) {
            as_delta_t *d = apr_array_push(dels);
            d->kind = AS_DELTA_DELETE;
            d->id = cs->items[j].id;
            d->item = NULL;
        }
    }
    out->list = dels;
    apr_array_cat(out->list, softs);
    apr_array_cat(out->list, changes);
    apr_array_cat(out->list, adds);
}

apr_status_t as_sync_deltas_for(as_store_t *st, apr_pool_t *p, const char *folder_id,
                                const as_coll_state_t *cs, int filter_type, int page_max,
                                as_deltas_t *out)
{
    apr_interval_time_t span = as_sync_filter_span(filter_type);
    const as_store_folder_t *folder = NULL;
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    out->start = -1;
    rv = as_sync_index_list(st, folder_id, p, &out->items, &out->token, &out->entry);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (filter_type > 0 && as_store_get_folder(st, folder_id, p, &folder) == APR_SUCCESS &&
        folder->cls != AS_CLASS_EMAIL) {
        /* not the mail window over dates: the item's content decides */
        out->win = as_sync_window_make(st, folder_id, folder->cls, filter_type, p);
        span = 0;
    }
    out->cutoff = span > 0 ? apr_time_now() - span : 0;
    out->forget = apr_array_make(p, 1, sizeof(const char *));
    if (out->win && out->entry) {
        out->view = as_sync_index_view(out->entry, as_sync_window_key(out->win), p);
    }
    if (out->view && as_sync_index_view_prefix(out->view, cs, ask_window, out->win, p)) {
        next_view_page(out, cs->nitems, page_max, p);
        as_sync_index_note_prefix();
        return APR_SUCCESS;
    }
    /* pages from the listing itself assume a window over dates (newest first) */
    if (!out->win && out->entry && as_sync_index_prefix(out->entry, cs) &&
        next_page(out, cs->nitems, page_max, p)) {
        as_sync_index_note_prefix();
        return APR_SUCCESS;
    }
    compare(out, cs, p);
    return APR_SUCCESS;
}

apr_status_t as_sync_deltas(as_store_t *st, apr_pool_t *p, const char *folder_id,
                            const as_coll_state_t *cs, int filter_type, as_deltas_t *out)
{
    return as_sync_deltas_for(st, p, folder_id, cs, filter_type, 0, out);
}

apr_time_t as_sync_expiry(const as_coll_state_t *cs, const apr_array_header_t *items,
                          apr_interval_time_t span, apr_pool_t *p)
{
    apr_time_t oldest = 0;
    int i;
    (void)p;
    if (span <= 0) {
        return 0;
    }
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        if ((oldest == 0 || it->date < oldest) && as_coll_find(cs, it->id) >= 0) {
            oldest = it->date;
        }
    }
    return oldest ? oldest + span : 0;
}

apr_time_t as_sync_deltas_expiry(const as_deltas_t *d, const as_coll_state_t *cs,
                                 apr_interval_time_t span, apr_pool_t *p)
{
    if (d->win) {
        return as_sync_window_expiry(d->win);
    }
    if (span > 0 && d->entry && cs->nitems > 0 && as_sync_index_prefix(d->entry, cs)) {
        return APR_ARRAY_IDX(d->items, cs->nitems - 1, as_store_item_t).date + span;
    }
    return as_sync_expiry(cs, d->items, span, p);
}
