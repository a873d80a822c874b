/* FilterType for calendars and task lists (MS-ASCMD 2.2.3.68.2): which
 * listed items are inside the window, asked of the class's codec
 * (as_item_window) -- a calendar window starts 2 weeks, 1 month, 3 or 6
 * months before today (UTC midnight) and has no end; a task list's
 * FilterType 8 keeps the incomplete tasks.
 *
 * COST: the answer depends on the file and the window's start only, so it
 * is kept in the shared item cache under (account, folder, id, ETag,
 * FilterType, start): a file is read and parsed once a day per window
 * (and again after an edit, which changes its ETag), not at every Sync.
 * The codec bounds the expansion of a series.  The pages of one Sync ask
 * only the items up to the page's last: the index keeps, per listing and
 * window, which items are inside (as_sync_index_view, keyed by
 * as_sync_window_key). */
#include <apr_strings.h>

#include "activesync/as_item_codec.h"
#include "activesync/as_itemcache.h"
#include "activesync/as_xml.h"

#include "as_sync_coll_int.h"

#define DAY       ((apr_time_t)86400 * APR_USEC_PER_SEC)
#define WINDOW_NS "AirSync:"

static apr_uint64_t decisions; /* as_sync_window_decisions */
static apr_time_t (*clock_now)(void);

apr_uint64_t as_sync_window_decisions(void)
{
    return __atomic_load_n(&decisions, __ATOMIC_RELAXED);
}

void as_sync_window_set_clock(apr_time_t (*now)(void))
{
    clock_now = now;
}

static apr_time_t now_utc(void)
{
    return clock_now ? clock_now() : apr_time_now();
}

struct as_sync_window_t {
    as_store_t *st;
    const char *folder;
    as_item_in_window_fn fn;
    int filter;
    apr_time_t start; /* 0: none (tasks) */
};

int as_sync_filter_for_class(int cls, int filter)
{
    switch (cls) {
    case AS_CLASS_EMAIL:
        return filter >= 0 && filter <= 5 ? filter : 0; /* calendar/task values: none */
    case AS_CLASS_CALENDAR:
        return filter >= 4 && filter <= 7 ? filter : 0;
    case AS_CLASS_TASKS:
        return filter == 8 ? filter : 0;
    default:
        return 0; /* contacts and notes have no window */
    }
}

static apr_time_t window_start(int filter, apr_time_t now)
{
    static const int days[] = {14, 31, 93, 186}; /* FilterType 4..7 */
    apr_time_t today = now - now % DAY;
    return today - (apr_time_t)days[filter - 4] * DAY;
}

as_sync_window_t *as_sync_window_make(as_store_t *st, const char *folder_id, int cls, int filter,
                                      apr_pool_t *p)
{
    as_item_in_window_fn fn = as_item_window(cls);
    as_sync_window_t *w;

    filter = as_sync_filter_for_class(cls, filter);
    if (!fn || filter == 0) {
        return NULL;
    }
    w = apr_pcalloc(p, sizeof(*w));
    w->st = st;
    w->folder = folder_id;
    w->fn = fn;
    w->filter = filter;
    w->start = cls == AS_CLASS_CALENDAR ? window_start(filter, now_utc()) : 0;
    return w;
}

apr_time_t as_sync_window_expiry(const as_sync_window_t *w)
{
    /* a calendar window moves at midnight; a task leaves it by an edit */
    apr_time_t now = now_utc();
    return w && w->start ? now - now % DAY + DAY : 0;
}

apr_uint64_t as_sync_window_key(const as_sync_window_t *w)
{
    /* a start is a UTC midnight in microseconds: far below 2^59 */
    return (apr_uint64_t)w->start << 4 | (apr_uint64_t)w->filter;
}

/* The codec's answer for the file, read now (1 when it cannot be read:
 * the conversion then skips it as it does without a window). */
static int ask(const as_sync_window_t *w, const as_store_item_t *it, apr_pool_t *p)
{
    apr_pool_t *sp;
    as_store_msg_t *msg = NULL;
    char *data = NULL;
    apr_size_t len = 0;
    int in = 1;

    apr_pool_create(&sp, p);
    if (as_store_open_item_at(w->st, w->folder, it->id, it->name, sp, &msg) == APR_SUCCESS &&
        as_sync_read_item(msg, sp, &data, &len) == APR_SUCCESS) {
        in = w->fn(data, len, w->start, 0);
    }
    apr_pool_destroy(sp);
    return in;
}

int as_sync_window_inside(const as_sync_window_t *w, const as_store_item_t *it, apr_pool_t *p)
{
    as_itemcache_t *cache = as_itemcache_shared();
    const char *key;
    xmlDocPtr doc;
    xmlNodePtr app;
    int in;

    __atomic_add_fetch(&decisions, 1, __ATOMIC_RELAXED);
    if (!it->etag || !cache) {
        return ask(w, it, p);
    }
    key = apr_psprintf(p, "window\x1f%s\x1f%s\x1f%s\x1f%s\x1f%d\x1f%" APR_TIME_T_FMT,
                       w->st->account ? w->st->account : "", w->folder, it->id, it->etag, w->filter,
                       w->start);
    doc = xmlNewDoc(BAD_CAST "1.0");
    app = xmlNewDocNode(doc, NULL, BAD_CAST "ApplicationData", NULL);
    xmlDocSetRootElement(doc, app);
    if (as_itemcache_get(cache, key, app, 0) && app->children) {
        in = xmlStrcmp(app->children->name, BAD_CAST "In") == 0;
    } else {
        in = ask(w, it, p);
        as_xml_add(app, WINDOW_NS, in ? "In" : "Out", NULL);
        as_itemcache_put(cache, key, app);
    }
    xmlFreeDoc(doc);
    return in;
}
