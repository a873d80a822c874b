/* The pages of a calendar's Sync with a FilterType window (as_sync_window.c
 * through the index's window views, as_sync_index_view): a page decides
 * the window of the items up to its last one only, so that an initial sync
 * decides each event once for all its pages (and a second device none),
 * not the whole calendar per page; a no-change Sync decides none; the
 * pages stay exact when events are edited between them; and events that
 * leave the window as days pass (a test clock) become SoftDeletes.
 * Threads paging the views of one listing decide each item once. */
#include <pthread.h>

#include <apr_strings.h>

#include "activesync/as_sync_coll.h"
#include "activesync/as_sync_engine.h"
#include "fakecoll.h"
#include "synctest.h"

#define DAY     ((apr_time_t)86400 * APR_USEC_PER_SEC)
#define NEVENTS 240
#define WINDOW  10

static fc_store_t *fc;
static apr_hash_t *dev;  /* the device: ServerId -> Subject */
static apr_time_t shift; /* the window clock's offset */

static apr_time_t shifted_now(void)
{
    return apr_time_now() + shift;
}

static void pages_setup(void)
{
    st_setup();
    as_sync_index_configure(AS_SYNC_INDEX_BYTES); /* no listing of another test */
    fc = fc_open(st_base, ST_ACCT);
    fc->calendar = 1;
    shift = 0;
    as_sync_window_set_clock(shifted_now);
}

static void pages_teardown(void)
{
    as_sync_window_set_clock(NULL);
    fc_close(fc);
    st_teardown();
}

static const char *utc(apr_time_t t)
{
    char buf[32];
    apr_size_t n;
    apr_time_exp_t x;
    apr_time_exp_gmt(&x, t);
    apr_strftime(buf, &n, sizeof(buf), "%Y%m%dT%H%M%SZ", &x);
    return apr_pstrdup(unit_pool, buf);
}

/* Event i, subject "s<i>", one hour at now + offset. */
static void put_event(int i, apr_time_t offset, const char *subject)
{
    apr_time_t at = apr_time_now() + offset;
    fc_put(fc, apr_psprintf(unit_pool, "e%d", i),
           apr_psprintf(unit_pool,
                        "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
                        "UID:e%d@example.net\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:%s\r\n"
                        "DTSTART:%s\r\nDTEND:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n",
                        i, subject, utc(at), utc(at + DAY / 24)));
}

/* A third of the events 25 days back, a third 200 days back, a third 20
 * days ahead: FilterType 5 (one month) holds two thirds. */
static apr_time_t offset_of(int i)
{
    static const apr_time_t offs[] = {-25 * DAY, -200 * DAY, 20 * DAY};
    return offs[i % 3];
}

static void fill(void)
{
    int i;
    for (i = 0; i < NEVENTS; i++) {
        put_event(i, offset_of(i), apr_psprintf(unit_pool, "s%d", i));
    }
}

static void run_open(engine_t *e, const char *device)
{
    memset(e, 0, sizeof(*e));
    e->line.cmd = "Sync";
    e->line.device_id = device;
    e->line.device_key = device;
    e->req.pool = unit_pool;
    e->req.account = ST_ACCT;
    e->req.line = &e->line;
    e->req.protocol_version = "14.1";
    e->req.db = db;
    e->req.conf = &st_conf;
    e->req.access = &st_access;
    e->req.log = cmdtest_log;
    e->run.r = &e->req;
    e->run.dev = device;
    e->run.proto = 141;
    e->run.global_left = -1;
    e->run.st = &fc->st;
    e->run.codec_of = NULL; /* the real calendar codec */
}

/* One Sync with FilterType 5; applies the reply to dev; returns
 * MoreAvailable and the new key in *key. */
static int sync1(engine_t *e, const char **key, int *changes, int *softs)
{
    as_sync_coll_req_t q;
    as_sync_coll_res_t res;
    xmlXPathObjectPtr o;
    int i, n, more;

    memset(&q, 0, sizeof(q));
    q.id = FC_FOLDER;
    q.key = *key;
    q.get_changes = -1;
    q.window = WINDOW;
    q.filter = 5;
    q.conflict = 1;
    ck_assert_int_eq(as_sync_collection(&e->run, &q, 1, &res), APR_SUCCESS);
    if (res.nothing) {
        as_sync_coll_res_reset(&res);
        return 0;
    }
    ck_assert_str_eq(sx(res.doc, "//a:Collection/a:Status"), "1");
    *key = sx(res.doc, "//a:Collection/a:SyncKey");
    o = st_eval(res.doc, "//a:Commands/*");
    n = o->nodesetval ? o->nodesetval->nodeNr : 0;
    ck_assert_int_le(n, WINDOW);
    for (i = 0; i < n; i++) {
        xmlNodePtr c = o->nodesetval->nodeTab[i];
        xmlChar *sid = xmlNodeGetContent(as_xml_child(c, "AirSync:", "ServerId"));
        xmlNodePtr app = as_xml_child(c, "AirSync:", "ApplicationData");
        xmlChar *subj = app ? xmlNodeGetContent(as_xml_child(app, "Calendar:", "Subject")) : NULL;
        const char *k = apr_pstrdup(unit_pool, (const char *)sid);
        int have = apr_hash_get(dev, k, APR_HASH_KEY_STRING) != NULL;
        if (as_xml_is(c, "AirSync:", "Add")) {
            ck_assert_msg(!have, "duplicate Add of %s", k);
            ck_assert_ptr_nonnull(subj);
            apr_hash_set(dev, k, APR_HASH_KEY_STRING, apr_pstrdup(unit_pool, (const char *)subj));
        } else if (as_xml_is(c, "AirSync:", "Change")) {
            ck_assert_msg(have && subj, "Change of unknown %s", k);
            apr_hash_set(dev, k, APR_HASH_KEY_STRING, apr_pstrdup(unit_pool, (const char *)subj));
            (*changes)++;
        } else {
            ck_assert_msg(have, "removal of unknown %s", k);
            ck_assert_msg(as_xml_is(c, "AirSync:", "SoftDelete"), "not a SoftDelete: %s", k);
            apr_hash_set(dev, k, APR_HASH_KEY_STRING, NULL);
            (*softs)++;
        }
        xmlFree(sid);
        xmlFree(subj);
    }
    xmlXPathFreeObject(o);
    more = sx_count(res.doc, "//a:Collection/a:MoreAvailable");
    as_sync_coll_res_reset(&res);
    return more;
}

/* The device holds exactly the store's events inside the window of now
 * (shifted): those whose hour starts after the window's start. */
static void check_device(void)
{
    apr_time_t now = apr_time_now() + shift;
    apr_time_t start = now - now % DAY - 31 * DAY;
    int i, want = 0;
    for (i = 0; i < fc->n; i++) {
        const fc_item_t *it = &fc->items[i];
        const char *sid = apr_pstrcat(unit_pool, FC_FOLDER ":", it->id, NULL);
        const char *mine = apr_hash_get(dev, sid, APR_HASH_KEY_STRING);
        const char *summary = strstr(it->data, "SUMMARY:") + 8;
        int inside = it->live && strstr(it->data, "DTEND:") &&
                     strcmp(utc(start), strstr(it->data, "DTEND:") + 6) < 0;
        if (inside) {
            want++;
            ck_assert_msg(mine != NULL, "%s missing on the device", it->id);
            ck_assert_msg(!strncmp(summary, mine, strlen(mine)), "%s: device %s", it->id, mine);
        } else {
            ck_assert_msg(mine == NULL, "%s on the device, outside the window", it->id);
        }
    }
    ck_assert_int_eq((int)apr_hash_count(dev), want);
}

static const char *start_device(engine_t *e, const char *device)
{
    const char *key = "0";
    int c = 0, s = 0;
    dev = apr_hash_make(unit_pool);
    run_open(e, device);
    ck_assert_int_eq(sync1(e, &key, &c, &s), 0);
    return key;
}

START_TEST(pages_decide_each_event_once)
{
    engine_t e;
    const char *key;
    as_sync_index_stats_t st;
    apr_uint64_t d0, d;
    int pages = 0, more, c = 0, s = 0;

    fill();
    key = start_device(&e, ST_DEV);
    d0 = as_sync_window_decisions();
    do {
        d = as_sync_window_decisions();
        more = sync1(&e, &key, &c, &s);
        pages++;
        /* a page of WINDOW Adds (and the next one, for MoreAvailable)
         * decides about 1.5 events per Add: never the whole calendar */
        ck_assert_uint_le(as_sync_window_decisions() - d, 2 * WINDOW + 2);
        ck_assert_int_lt(pages, 100);
    } while (more);
    ck_assert_int_eq(pages, (2 * NEVENTS / 3 + WINDOW - 1) / WINDOW);
    ck_assert_int_eq(c + s, 0);
    check_device();
    /* each event decided once for the whole sync (every page: 16 x 240) */
    ck_assert_uint_eq(as_sync_window_decisions() - d0, NEVENTS);
    as_sync_index_stats(&st);
    ck_assert_int_eq((int)st.listings, 1);
    ck_assert_int_eq((int)st.prefixes, pages); /* every page from the view */
    ck_assert_int_eq((int)st.views, 1);

    /* nothing changed: the header says so, nothing decided */
    d = as_sync_window_decisions();
    ck_assert_int_eq(sync1(&e, &key, &c, &s), 0);
    ck_assert_uint_eq(as_sync_window_decisions() - d, 0);

    /* a second device pages the same view: nothing decided again */
    key = start_device(&e, "DEV2");
    d = as_sync_window_decisions();
    while (sync1(&e, &key, &c, &s)) {
    }
    check_device();
    ck_assert_uint_eq(as_sync_window_decisions() - d, 0);
}
END_TEST

/* Events edited between pages (one the device has, one it has not yet),
 * and one moved out of the window: a Change, the new version once, a
 * SoftDelete; the device ends exact. */
START_TEST(edits_between_pages)
{
    engine_t e;
    const char *key, *sent = NULL, *moved = NULL;
    apr_hash_index_t *hi;
    int c = 0, s = 0, i;

    fill();
    key = start_device(&e, ST_DEV);
    ck_assert_int_eq(sync1(&e, &key, &c, &s), 1);
    ck_assert_int_eq(sync1(&e, &key, &c, &s), 1);
    for (hi = apr_hash_first(unit_pool, dev); hi; hi = apr_hash_next(hi)) {
        const char *sid = apr_hash_this_key(hi);
        if (!sent) {
            sent = strchr(sid, ':') + 1;
        } else if (!moved) {
            moved = strchr(sid, ':') + 1;
        }
    }
    put_event(atoi(sent + 1), offset_of(atoi(sent + 1)), "edited");
    put_event(atoi(moved + 1), -300 * DAY, "moved away");
    /* the first event inside that the device has not seen yet */
    for (i = 0; i < NEVENTS; i += 3) {
        if (!apr_hash_get(dev, apr_psprintf(unit_pool, FC_FOLDER ":e%d", i), APR_HASH_KEY_STRING)) {
            put_event(i, offset_of(i), "edited before sent");
            break;
        }
    }
    while (sync1(&e, &key, &c, &s)) {
    }
    ck_assert_int_eq(c, 1);
    ck_assert_int_eq(s, 1);
    check_device();
}
END_TEST

/* Days pass: events of 25 days ago leave the one-month window as
 * SoftDeletes (once the folder is looked at: here a new event; in
 * service, the header's expiry at midnight), each event decided once for
 * the new window whatever the pages. */
START_TEST(window_moves_softdeletes)
{
    engine_t e;
    const char *key;
    apr_uint64_t d;
    int c = 0, s = 0, pages = 0;

    fill();
    key = start_device(&e, ST_DEV);
    while (sync1(&e, &key, &c, &s)) {
    }
    check_device();
    shift = 10 * DAY;
    put_event(NEVENTS, 40 * DAY, "new");
    d = as_sync_window_decisions();
    while (sync1(&e, &key, &c, &s)) {
        ck_assert_int_lt(++pages, 100);
    }
    ck_assert_int_eq(s, NEVENTS / 3); /* the -25 days third */
    ck_assert_int_eq(c, 0);
    check_device();
    ck_assert_uint_le(as_sync_window_decisions() - d, NEVENTS + 1);
}
END_TEST

/* ---- threads on the views of one listing ---- */

#define VIEW_WINDOWS 4

typedef struct pager_t {
    as_sync_index_entry_t *entry;
    const apr_array_header_t *items;
    int calls, bad;
} pager_t;

static pager_t pager;

/* Window w (1..VIEW_WINDOWS) holds event n unless (n + w) % 3 == 0. */
static int decide(void *ctx, const as_store_item_t *it, apr_pool_t *p)
{
    (void)p;
    __atomic_add_fetch(&pager.calls, 1, __ATOMIC_SEQ_CST);
    return (atoi(it->id + 1) + (int)(apr_uintptr_t)ctx) % 3 != 0;
}

static void *page_views(void *arg)
{
    int round, idx[7];
    (void)arg;
    for (round = 0; round < 20; round++) {
        apr_uintptr_t w = (apr_uintptr_t)(round % VIEW_WINDOWS) + 1;
        apr_pool_t *sp;
        as_sync_index_view_t *v;
        int from = 0, more = 1, k, n, next = 0;
        apr_pool_create(&sp, NULL);
        v = as_sync_index_view(pager.entry, w, sp);
        while (v && more) {
            n = as_sync_index_view_page(v, from, 7, idx, &more, decide, (void *)w, sp);
            for (k = 0; k < n; k++) {
                /* the next item inside, in listing order */
                const as_store_item_t *items = (const as_store_item_t *)pager.items->elts;
                while (next < pager.items->nelts && (atoi(items[next].id + 1) + (int)w) % 3 == 0) {
                    next++;
                }
                if (idx[k] != next++) {
                    __atomic_add_fetch(&pager.bad, 1, __ATOMIC_SEQ_CST);
                }
            }
            from += n;
        }
        if (!v || from != 2 * NEVENTS / 3) {
            __atomic_add_fetch(&pager.bad, 1, __ATOMIC_SEQ_CST);
        }
        apr_pool_destroy(sp);
    }
    return NULL;
}

START_TEST(threads_decide_once_per_view)
{
    pthread_t t[4];
    apr_array_header_t *items;
    const char *token;
    as_sync_index_stats_t st;
    int i;

    fill();
    ck_assert_int_eq(
        as_sync_index_list(&fc->st, FC_FOLDER, unit_pool, &items, &token, &pager.entry),
        APR_SUCCESS);
    ck_assert_ptr_nonnull(pager.entry);
    pager.items = items;
    pager.calls = pager.bad = 0;
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, page_views, NULL), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    ck_assert_int_eq(pager.bad, 0);
    ck_assert_int_eq(pager.calls, VIEW_WINDOWS * NEVENTS); /* once per view and item */
    as_sync_index_stats(&st);
    ck_assert_int_eq((int)st.views, VIEW_WINDOWS);
    ck_assert_uint_le(st.bytes, AS_SYNC_INDEX_BYTES);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sync_window_pages");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, pages_setup, pages_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, pages_decide_each_event_once);
    tcase_add_test(tc, edits_between_pages);
    tcase_add_test(tc, window_moves_softdeletes);
    tcase_add_test(tc, threads_decide_once_per_view);
    suite_add_tcase(s, tc);
    return s;
}
