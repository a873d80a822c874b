/* Internals shared by the sync engine's commands (as_sync.c,
 * the Sync engine as_sync_coll.h, as_cmd_sync.c, as_cmd_getitemestimate.c,
 * as_cmd_foldersync.c). */
#ifndef AS_SYNC_ENGINE_H
#define AS_SYNC_ENGINE_H

#include "as_item_codec.h"
#include "as_mime.h"
#include "as_sync.h"

enum { AS_DELTA_DELETE = 1, AS_DELTA_SOFTDELETE, AS_DELTA_CHANGE, AS_DELTA_ADD };

typedef struct as_delta_t {
    int kind;
    const char *id;              /* item id */
    const as_store_item_t *item; /* the listing's entry (NULL for DELETE) */
} as_delta_t;

/* The changes between the device's item set (cs) and a fresh listing of the
 * folder, in the order they are sent: Delete (gone from the folder),
 * SoftDelete (left the FilterType window), Change (Read/Flag differ), Add
 * (new in the window, newest first).  Items the device was never sent
 * (AS_SYNC_SKIPPED) get no delta. */
typedef struct as_deltas_t {
    apr_array_header_t *list;   /* as_delta_t */
    apr_array_header_t *items;  /* the listing (as_store_item_t, newest first) */
    apr_array_header_t *forget; /* ids (const char *) of skipped items (AS_SYNC_SKIPPED) that
                                   left the folder or the window: dropped from the set
                                   without telling the device, which never had them */
    const char *token;          /* folder token taken before the listing */
    apr_time_t cutoff;          /* window start (0: no window) */
    struct as_sync_index_entry_t *entry; /* the listing's index entry (NULL: not kept) */
    int start; /* -1, or: the device's set is exactly items[0..start) and list holds
                  only Adds, of items[start..] in order (an initial sync in progress;
                  then list may stop after page_max Adds, more remaining) */
    /* a calendar's or task list's window (NULL: none; as_sync_window.c),
     * asked per item instead of cutoff */
    struct as_sync_window_t *win;
    /* the listing's items inside win, decided once per process (NULL:
     * none; as_sync_index_view) */
    struct as_sync_index_view_t *view;
    int more_after; /* list stops at page_max Adds, and more remain */
} as_deltas_t;

/* More Adds than any page takes (WindowSize is at most 512). */
#define AS_SYNC_PAGE_MAX 1024

/* FilterType (email 0-5) -> window length; 0 for "all"; -1 for a value
 * email does not use. */
apr_interval_time_t as_sync_filter_span(int filter_type);

apr_status_t as_sync_deltas(as_store_t *st, apr_pool_t *p, const char *folder_id,
                            const as_coll_state_t *cs, int filter_type, as_deltas_t *out);
/* as_sync_deltas for paging: while the folder's token is unchanged and the
 * device's set is the first n items of the listing (an initial sync in
 * progress), the Adds are taken from the index in time proportional to
 * the page, at most page_max of them (0: all; then start is -1 unless all
 * remaining Adds are listed; more_after when more remain).  With a
 * calendar's or task list's window, the first n of the listing's items
 * inside the window (as_sync_index_view): a page decides the window of
 * the items up to the page's last, once per process, not of the whole
 * folder. */
apr_status_t as_sync_deltas_for(as_store_t *st, apr_pool_t *p, const char *folder_id,
                                const as_coll_state_t *cs, int filter_type, int page_max,
                                as_deltas_t *out);

/* ---- the index of folder listings (as_sync_index.c) ---- */

/* Bytes of listings kept per process (about 130 bytes a message: a folder
 * of 100,000 messages fits; a larger one is listed for every page). */
#define AS_SYNC_INDEX_BYTES ((apr_size_t)24 << 20)

typedef struct as_sync_index_entry_t as_sync_index_entry_t;

typedef struct as_sync_index_stats_t {
    apr_uint64_t listings;  /* folders listed through the index (misses) */
    apr_uint64_t hits;      /* listings answered from the index */
    apr_uint64_t evictions; /* entries replaced or dropped for the bound */
    apr_uint64_t prefixes;  /* sets found to be a prefix of the listing */
    apr_uint64_t views;     /* window views made (as_sync_index_view) */
    apr_size_t bytes;       /* bytes of the entries kept */
    apr_size_t entries;
} as_sync_index_stats_t;

/* The folder's listing (newest first) and the token taken before it, from
 * the index while the folder's token is unchanged, else listed and kept
 * when its token is settled.  *entry (NULL: not kept) and the items stay
 * valid while pool p lives. */
apr_status_t as_sync_index_list(as_store_t *st, const char *folder_id, apr_pool_t *p,
                                apr_array_header_t **items, const char **token,
                                as_sync_index_entry_t **entry);
/* Is the set of cs exactly the first cs->nitems items of e's listing, with
 * their flags (an initial sync in progress)?  O(set), no id comparison. */
int as_sync_index_prefix(const as_sync_index_entry_t *e, const as_coll_state_t *cs);
/* A window's view of an entry's listing: which items are inside, decided
 * in listing order as far as asked, once per process and window, with the
 * prefix sums of the items inside.  fn decides one item (1: inside; ctx
 * is its state, p a pool for its work). */
typedef struct as_sync_index_view_t as_sync_index_view_t;
typedef int (*as_sync_inside_fn)(void *ctx, const as_store_item_t *it, apr_pool_t *p);
/* The view of e for window (an id of the window: FilterType and start),
 * held until pool p goes (the pool e was listed in, or a child of it: a
 * view lives as long as its entry); NULL when it cannot be kept (the
 * index's bound, or every view of e in use). */
as_sync_index_view_t *as_sync_index_view(as_sync_index_entry_t *e, apr_uint64_t window,
                                         apr_pool_t *p);
/* Is the listing's item i inside? */
int as_sync_index_view_inside(as_sync_index_view_t *v, int i, as_sync_inside_fn fn, void *ctx,
                              apr_pool_t *p);
/* Is the set of cs exactly the first cs->nitems items inside (with their
 * flags and ETags)?  Decides items only until that many are found. */
int as_sync_index_view_prefix(as_sync_index_view_t *v, const as_coll_state_t *cs,
                              as_sync_inside_fn fn, void *ctx, apr_pool_t *p);
/* The listing indices of the items inside from the from-th on, at most max
 * (0: all) into out (room for max, or for the listing); *more when items
 * inside remain after them.  Returns how many. */
int as_sync_index_view_page(as_sync_index_view_t *v, int from, int max, int *out, int *more,
                            as_sync_inside_fn fn, void *ctx, apr_pool_t *p);
/* Count a page answered from a prefix (the prefixes statistic). */
void as_sync_index_note_prefix(void);
void as_sync_index_stats(as_sync_index_stats_t *out);
/* Empty the index, zero its counters and set its bound (tests). */
void as_sync_index_configure(apr_size_t limit);

/* When the first item of set leaves the window [cutoff, ...): min(date) +
 * span over the items of the set in the listing; 0 without a window. */
apr_time_t as_sync_expiry(const as_coll_state_t *cs, const apr_array_header_t *items,
                          apr_interval_time_t span, apr_pool_t *p);

/* as_sync_expiry after a page of d was committed to cs: O(set) while the
 * set is still a prefix of d's listing (its last item is its oldest). */
apr_time_t as_sync_deltas_expiry(const as_deltas_t *d, const as_coll_state_t *cs,
                                 apr_interval_time_t span, apr_pool_t *p);

/* Window decisions asked of the item cache or the codec since the process
 * started (as_sync_window.c; tests). */
apr_uint64_t as_sync_window_decisions(void);
/* Tests: the clock of the calendar windows (NULL: apr_time_now). */
void as_sync_window_set_clock(apr_time_t (*now)(void));

/* The probe test on an already read header. */
int as_sync_header_unchanged(const as_coll_state_t *cs, const char *token, int filter_type);

/* Text of an element (leaf) or NULL. */
const char *as_sync_text(apr_pool_t *p, xmlNodePtr n);
/* Decimal of an element; def when absent; -1 when not a number in 0..max. */
long as_sync_number(apr_pool_t *p, xmlNodePtr n, long def, long max);

/* The conversion options of one item (as_mime_to_eas) for Sync and
 * ItemOperations: its ids, flags and date, the protocol version, the
 * request's body preferences (nprefs 0: none), MIMESupport, and the
 * request's logger (a broken invitation is logged against the request). */
void as_sync_mime_opts(as_mime_opts_t *o, const char *folder, const char *item,
                       const as_store_item_t *it, int proto, const as_mime_bodypref_t *prefs,
                       int nprefs, int mime_support, const as_logger_t *log);

/* An item of a class other than Email converted by codec into appdata
 * (Sync's ApplicationData, ItemOperations' Properties): the stored file
 * read whole (at most 16 MB), the digest of its ETag (may be NULL) and its
 * size (may be NULL).  APR_ENOENT: gone; APR_EINVAL: not readable as an item
 * of the class (logged); AS_STORE_ENOTSUP: codec NULL.  name: its name in
 * a listing, tried first (NULL: none). */
apr_status_t as_sync_item_to_eas(as_store_t *st, const as_item_codec_t *codec, const char *folder,
                                 const char *item, const char *name, const as_item_opts_t *o,
                                 xmlNodePtr appdata, apr_pool_t *p, apr_uint64_t *etag,
                                 apr_off_t *size);

/* ---- parking light (Ping, Sync with Wait) ---- */

/* A request parked for up to an hour should hold only what it needs to
 * resume.  Its per-request work (parsing, stored state, the store and its
 * listings, probes) runs in a scratch view: *scratch is a copy of r whose
 * pool is a child of r->pool with an allocator apart from the worker
 * thread's (one of a few the process keeps, each caching a bounded amount:
 * as_sync_scratch.c), so that closing it leaves nothing cached for the
 * request while it parks.  What must outlive the scratch view goes in
 * r->pool.  Open again after each wake-up. */
apr_status_t as_sync_scratch_open(const as_request_t *r, as_request_t *scratch);
/* Destroy the scratch pool (idempotent); scratch->pool is r->pool after. */
void as_sync_scratch_close(const as_request_t *r, as_request_t *scratch);
/* Right before parking: the scratch view closed and the decoded request
 * document freed (as_command.h). */
void as_sync_park_light(as_request_t *r, as_request_t *scratch);

/* Append <name>v</name> in namespace ns. */
void as_sync_add_num(xmlNodePtr parent, const char *ns, const char *name, long v);
/* The document as XML text in pool memory (what is stored for replays). */
char *as_sync_doc_xml(xmlDocPtr doc, apr_pool_t *p, apr_size_t *len);

#endif
