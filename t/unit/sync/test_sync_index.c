/* The index of folder listings (as_sync_index.c) under the Sync engine:
 * an initial sync lists its folder once for all its pages while the folder
 * is unchanged, every page finds the device's set to be a prefix of the
 * listing (no comparison), and deliveries, flag changes and deletions
 * between pages still give exactly the right Adds, Changes and Deletes
 * (DESIGN section 3); a bound smaller than a listing keeps nothing;
 * threads share the index. */
#include <pthread.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "activesync/as_sync_coll.h"
#include "activesync/as_sync_engine.h"
#include "synctest.h"

/* A folder just written has an unsettled token, never kept: date new/ and
 * cur/ back, to another second each time (a changed folder, a new token). */
static void settle(const char *fdir)
{
    static int step;
    struct timespec ts[2];
    const char *subs[] = {"new", "cur"};
    int i;

    ts[0].tv_sec = ts[1].tv_sec = time(NULL) - 1000 + step++;
    ts[0].tv_nsec = ts[1].tv_nsec = 0;
    for (i = 0; i < 2; i++) {
        ck_assert_int_eq(
            utimensat(AT_FDCWD, apr_pstrcat(unit_pool, fdir, "/", subs[i], NULL), ts, 0), 0);
    }
}

static int page_filter; /* FilterType of the pages (0: all) */

/* One page: the model applies it; returns MoreAvailable. */
static int page(engine_t *e, st_model_t *m, int window)
{
    as_sync_coll_req_t q;
    as_sync_coll_res_t res;
    int more;

    memset(&q, 0, sizeof(q));
    q.id = e->inbox;
    q.key = m->key;
    q.get_changes = -1;
    q.window = window;
    q.filter = page_filter;
    q.deletes_as_moves = 1;
    q.conflict = 1;
    ck_assert_int_eq(as_sync_collection(&e->run, &q, 1, &res), APR_SUCCESS);
    more = st_model_apply(m, res.doc, e->inbox);
    ck_assert_int_le(sx_count(res.doc, "//a:Commands/*"), window);
    as_sync_coll_res_reset(&res);
    return more;
}

static void model_start(engine_t *e, st_model_t *m)
{
    memset(m, 0, sizeof(*m));
    m->items = apr_hash_make(unit_pool);
    m->key = "0";
    page(e, m, 10); /* key 0: no items, no listing */
}

static int page_to_end(engine_t *e, st_model_t *m, int window)
{
    int pages = 0;
    while (page(e, m, window)) {
        ck_assert_int_lt(++pages, 1000);
    }
    return pages + 1;
}

START_TEST(test_index_one_listing)
{
    engine_t e;
    st_model_t m;
    as_sync_index_stats_t s;
    int pages;

    st_fill(st_root, 0, 50);
    settle(st_root);
    as_sync_index_configure(AS_SYNC_INDEX_BYTES);
    engine_open(&e);
    model_start(&e, &m);
    pages = page_to_end(&e, &m, 7);
    ck_assert_int_eq(pages, 8);
    ck_assert_int_eq(m.adds, 50);
    st_model_check(&m, st_truth(e.inbox));
    as_sync_index_stats(&s);
    ck_assert_int_eq((int)s.listings, 1); /* one listing for 8 pages */
    ck_assert_int_eq((int)s.hits, pages - 1);
    ck_assert_int_eq((int)s.prefixes, pages); /* every page from the prefix */
    ck_assert_int_eq((int)s.entries, 1);
    ck_assert_uint_gt(s.bytes, 50 * sizeof(as_store_item_t));
    ck_assert_uint_le(s.bytes, AS_SYNC_INDEX_BYTES);
}
END_TEST

/* The id at a position of the listing (newest first). */
static const char *listed(engine_t *e, int pos, unsigned *flags)
{
    apr_array_header_t *items;
    const as_store_item_t *it;
    ck_assert_int_eq(as_store_list_items(e->run.st, e->inbox, unit_pool, &items, NULL),
                     APR_SUCCESS);
    ck_assert_int_lt(pos, items->nelts);
    it = &APR_ARRAY_IDX(items, pos, as_store_item_t);
    *flags = it->flags;
    return apr_pstrdup(unit_pool, it->id);
}

static void toggle_flag(engine_t *e, const char *id, unsigned flags)
{
    unsigned set = flags & AS_STORE_FLAGGED ? 0 : AS_STORE_FLAGGED;
    ck_assert_int_eq(as_store_set_flags(e->run.st, e->inbox, id, set, AS_STORE_FLAGGED ^ set, NULL),
                     APR_SUCCESS);
}

START_TEST(test_index_changes_between_pages)
{
    engine_t e;
    st_model_t m;
    as_sync_index_stats_t s;
    const char *sent, *sent2, *unsent, *unsent2;
    unsigned f1, f2, f3, f4;

    st_fill(st_root, 0, 40);
    settle(st_root);
    as_sync_index_configure(AS_SYNC_INDEX_BYTES);
    engine_open(&e);
    model_start(&e, &m);
    ck_assert(page(&e, &m, 10));
    ck_assert(page(&e, &m, 10)); /* from the cursor */
    ck_assert_int_eq(m.adds, 20);
    /* between pages: two deliveries (newer than all sent), a flag change
     * of a sent and of an unsent item, a deletion of each */
    sent = listed(&e, 3, &f1);
    sent2 = listed(&e, 15, &f2);
    unsent = listed(&e, 25, &f3);
    unsent2 = listed(&e, 33, &f4);
    ck_assert_ptr_nonnull(apr_hash_get(m.items, sent, APR_HASH_KEY_STRING));
    ck_assert_ptr_null(apr_hash_get(m.items, unsent, APR_HASH_KEY_STRING));
    st_fill(st_root, 40, 2);
    toggle_flag(&e, sent, f1);
    toggle_flag(&e, unsent, f3);
    ck_assert_int_eq(as_store_delete_item(e.run.st, e.inbox, sent2, 0), APR_SUCCESS);
    ck_assert_int_eq(as_store_delete_item(e.run.st, e.inbox, unsent2, 0), APR_SUCCESS);
    settle(st_root);
    page_to_end(&e, &m, 10);
    st_model_check(&m, st_truth(e.inbox));
    ck_assert_int_eq(m.adds, 41); /* 40 + 2 new - the unsent one deleted */
    ck_assert_int_eq(m.changes, 1);
    ck_assert_int_eq(m.deletes, 1);
    as_sync_index_stats(&s);
    ck_assert_int_eq((int)s.listings, 2); /* once before the changes, once after */
    ck_assert_int_ge((int)s.prefixes, 2); /* paging went on from the prefix after them */
    /* a change between two cursor pages: the next page compares in full */
    ck_assert_int_eq(apr_hash_count(m.items), 40);
}
END_TEST

START_TEST(test_index_flag_change_mid_cursor)
{
    engine_t e;
    st_model_t m;
    as_sync_index_stats_t s;
    const char *sent;
    unsigned f;
    int pages;

    st_fill(st_root, 0, 30);
    settle(st_root);
    as_sync_index_configure(AS_SYNC_INDEX_BYTES);
    engine_open(&e);
    model_start(&e, &m);
    ck_assert(page(&e, &m, 5));
    ck_assert(page(&e, &m, 5));
    sent = listed(&e, 7, &f);
    toggle_flag(&e, sent, f);
    settle(st_root);
    pages = page_to_end(&e, &m, 5);
    ck_assert_int_eq(pages, 5);
    ck_assert_int_eq(m.adds, 30);
    ck_assert_int_eq(m.changes, 1);
    st_model_check(&m, st_truth(e.inbox));
    as_sync_index_stats(&s);
    ck_assert_int_eq((int)s.listings, 2);
}
END_TEST

START_TEST(test_index_bound)
{
    engine_t e;
    st_model_t m;
    as_sync_index_stats_t s;
    int pages;

    st_fill(st_root, 0, 30);
    settle(st_root);
    as_sync_index_configure(1024); /* smaller than the listing: nothing kept */
    engine_open(&e);
    model_start(&e, &m);
    pages = page_to_end(&e, &m, 10);
    st_model_check(&m, st_truth(e.inbox));
    as_sync_index_stats(&s);
    ck_assert_int_eq((int)s.listings, pages);
    ck_assert_int_eq((int)s.hits, 0);
    ck_assert_int_eq((int)s.entries, 0);
    ck_assert_uint_eq(s.bytes, 0);
    as_sync_index_configure(AS_SYNC_INDEX_BYTES);
}
END_TEST

/* With a FilterType, each page's expiry (when the oldest item sent leaves
 * the window) taken from the prefix is the one of the full computation. */
START_TEST(test_index_filter_expiry)
{
    engine_t e;
    st_model_t m;
    as_sync_index_stats_t s;
    apr_array_header_t *items;
    int more, pages = 0;

    st_fill(st_root, 0, 25);
    settle(st_root);
    as_sync_index_configure(AS_SYNC_INDEX_BYTES);
    engine_open(&e);
    page_filter = 1; /* one day: every message (an hour old) inside */
    model_start(&e, &m);
    ck_assert_int_eq(as_store_list_items(e.run.st, e.inbox, unit_pool, &items, NULL), APR_SUCCESS);
    do {
        as_coll_state_t cs;
        more = page(&e, &m, 10);
        pages++;
        ck_assert_int_eq(as_coll_get(db, unit_pool, ST_ACCT, ST_DEV, e.inbox, 1, &cs), APR_SUCCESS);
        ck_assert_int_gt(cs.expire, 0);
        ck_assert(cs.expire == as_sync_expiry(&cs, items, as_sync_filter_span(1), unit_pool));
    } while (more);
    page_filter = 0;
    ck_assert_int_eq(m.adds, 25);
    st_model_check(&m, st_truth(e.inbox));
    as_sync_index_stats(&s);
    ck_assert_int_eq((int)s.prefixes, pages);
    ck_assert_int_eq((int)s.listings, 1);
}
END_TEST

/* Threads listing two folders at once, each with its own store handle and
 * pool, with a bound that holds one listing only (constant eviction). */
typedef struct lister_t {
    const char *folders[2];
    int counts[2];
    int bad;
} lister_t;

static void *lister(void *arg)
{
    lister_t *l = arg;
    apr_pool_t *p;
    as_store_t *st = NULL;
    int i;

    apr_pool_create(&p, NULL);
    if (as_maildir_open(p, st_root, ST_ACCT, NULL, 0, NULL, &st) != APR_SUCCESS) {
        l->bad++;
        return NULL;
    }
    for (i = 0; i < 200; i++) {
        apr_pool_t *sp;
        apr_array_header_t *items;
        const char *token;
        as_sync_index_entry_t *entry;
        int f = i % 2;
        apr_pool_create(&sp, p);
        if (as_sync_index_list(st, l->folders[f], sp, &items, &token, &entry) != APR_SUCCESS ||
            items->nelts != l->counts[f]) {
            __atomic_add_fetch(&l->bad, 1, __ATOMIC_SEQ_CST);
        }
        apr_pool_destroy(sp);
    }
    apr_pool_destroy(p);
    return NULL;
}

START_TEST(test_index_threads)
{
    pthread_t t[4];
    lister_t l;
    as_sync_index_stats_t s;
    const char *work = apr_pstrcat(unit_pool, st_root, "/.Work", NULL);
    apr_size_t bound;
    int i;

    mg_folder(st_root, "Work");
    st_fill(st_root, 0, 40);
    st_fill(work, 0, 25);
    settle(st_root);
    settle(work);
    memset(&l, 0, sizeof(l));
    l.folders[0] = st_folder_id("");
    l.folders[1] = st_folder_id(".Work");
    l.counts[0] = 40;
    l.counts[1] = 25;
    /* the bound: the larger listing and a quarter, so never both */
    as_sync_index_configure(AS_SYNC_INDEX_BYTES);
    {
        apr_array_header_t *items;
        const char *token;
        as_sync_index_entry_t *entry;
        ck_assert_int_eq(
            as_sync_index_list(st_store(), l.folders[0], unit_pool, &items, &token, &entry),
            APR_SUCCESS);
        as_sync_index_stats(&s);
        ck_assert_uint_gt(s.bytes, 0);
        bound = s.bytes + s.bytes / 4;
    }
    as_sync_index_configure(bound);
    for (i = 0; i < 4; i++) {
        ck_assert_int_eq(pthread_create(&t[i], NULL, lister, &l), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    ck_assert_int_eq(l.bad, 0);
    as_sync_index_stats(&s);
    ck_assert_int_eq((int)(s.listings + s.hits), 800);
    ck_assert_int_le((int)s.entries, 1);
    ck_assert_uint_le(s.bytes, bound);
    as_sync_index_configure(AS_SYNC_INDEX_BYTES);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sync_index");
    TCase *tc = tcase_create("index");
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_index_one_listing);
    tcase_add_test(tc, test_index_changes_between_pages);
    tcase_add_test(tc, test_index_flag_change_mid_cursor);
    tcase_add_test(tc, test_index_bound);
    tcase_add_test(tc, test_index_filter_expiry);
    tcase_add_test(tc, test_index_threads);
    suite_add_tcase(s, tc);
    return s;
}
