/* Sync and GetItemEstimate on generated Maildirs, through the handlers with
 * decoded request trees: a full initial sync of 10,000 messages in pages
 * compared exactly with the Maildir (timed), deliveries / flag changes /
 * Dovecot renames / removals between pages, a resent key (identical reply
 * bytes), unknown keys, no key advance without changes, FilterType and
 * SoftDelete, client Change / Delete / Fetch with conflicts, several
 * collections, the empty and Partial request forms, Wait bounds, email off,
 * and GetItemEstimate.  Replies are checked with validate-eas. */
#include <dirent.h>
#include <pthread.h>

#include "synctest.h"
#include "watchtest.h"

/* Sync one collection from key 0 to the end with window w; returns the
 * model and the number of pages; validates the first and the last page. */
static int sync_all(st_model_t *m, const char *fid, int w, const char *options,
                    void (*between)(int page))
{
    cmdtest_t t;
    int pages = 0, more = 1;

    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(fid, "0", 0, options));
    ck_assert_ptr_nonnull(t.resp.doc);
    cmdtest_validate(t.resp.doc);
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Commands"), 0);
    st_model_apply(m, t.resp.doc, fid);
    cmdtest_free(&t);
    while (more) {
        if (between) {
            between(pages);
        }
        st_run(&t, as_cmd_sync, "Sync", st_sync_xml(fid, m->key, w, options));
        if (!t.resp.doc) {
            cmdtest_free(&t);
            break;
        }
        ck_assert_int_le(sx_count(t.resp.doc, "//a:Commands/*"), w);
        if (pages == 0) {
            cmdtest_validate(t.resp.doc);
        }
        more = st_model_apply(m, t.resp.doc, fid);
        if (!more) {
            cmdtest_validate(t.resp.doc);
        }
        cmdtest_free(&t);
        pages++;
        ck_assert_int_lt(pages, 100000);
    }
    return pages;
}

static st_model_t model(void)
{
    st_model_t m;
    memset(&m, 0, sizeof(m));
    m.items = apr_hash_make(unit_pool);
    return m;
}

START_TEST(initial_10000_in_pages)
{
    const char *inbox;
    st_model_t m = model();
    apr_time_t t0, t1;
    int pages;
    cmdtest_t t;

    st_fill(st_root, 0, 10000);
    inbox = st_folder_id("");
    t0 = apr_time_now();
    pages = sync_all(&m, inbox, 100,
                     "<Options><b:BodyPreference><b:Type>1</b:Type><b:TruncationSize>5120"
                     "</b:TruncationSize></b:BodyPreference></Options>",
                     NULL);
    t1 = apr_time_now();
    fprintf(stderr, "# initial sync of 10000 messages: %d pages of 100 in %.2f s (%.1f ms/page)\n",
            pages, (double)(t1 - t0) / 1e6, (double)(t1 - t0) / 1000.0 / pages);
    ck_assert_int_eq(pages, 100);
    ck_assert_int_eq(m.adds, 10000);
    st_model_check(&m, st_truth(inbox));
    /* no change: no scan needed, empty reply, key unchanged (state settled) */
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, m.key, 100, NULL));
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
}
END_TEST

/* ---- changes by another program between pages ----------------------------------- */

static const char *race_dir;
static unsigned race_seq = 50000;

/* The n-th file name (sorted) in sub. */
static char *nth_file(const char *sub, int n)
{
    char path[1024];
    struct dirent **list;
    int cnt, i;
    char *r = NULL;
    snprintf(path, sizeof path, "%s/%s", race_dir, sub);
    cnt = scandir(path, &list, NULL, alphasort);
    for (i = 0; i < cnt; i++) {
        if (list[i]->d_name[0] != '.' && !r && n-- <= 0) {
            r = apr_pstrdup(unit_pool, list[i]->d_name);
        }
        free(list[i]);
    }
    free(list);
    return r;
}

static void race_between(int page)
{
    size_t len;
    char *msg = mg_msg_plain(&len, page), name[256], *f, from[1200], to[1200];
    /* a delivery (new/, newest) */
    mg_deliver(race_dir, "new", race_seq++, NULL, msg, len, time(NULL) - 10, name);
    free(msg);
    /* Dovecot moves a new/ message to cur/ with flags */
    if ((f = nth_file("new", page % 3))) {
        char base[256];
        snprintf(base, sizeof base, "%s", f);
        *strchrnul(base, ':') = '\0';
        snprintf(from, sizeof from, "%s/new/%s", race_dir, f);
        snprintf(to, sizeof to, "%s/cur/%s:2,S", race_dir, base);
        ck_assert_int_eq(rename(from, to), 0);
    }
    /* a flag change by rename in cur/ */
    if ((f = nth_file("cur", page * 7))) {
        char base[256];
        const char *info = strstr(f, ":2,");
        snprintf(base, sizeof base, "%s", f);
        *strchrnul(base, ':') = '\0';
        snprintf(from, sizeof from, "%s/cur/%s", race_dir, f);
        snprintf(to, sizeof to, "%s/cur/%s:2,%s", race_dir, base,
                 info && strchr(info, 'F') ? "S" : "FS");
        ck_assert_int_eq(rename(from, to), 0);
    }
    /* a removal */
    if ((f = nth_file("cur", page * 5 + 1))) {
        snprintf(from, sizeof from, "%s/cur/%s", race_dir, f);
        ck_assert_int_eq(unlink(from), 0);
    }
}

START_TEST(paging_with_concurrent_changes)
{
    const char *inbox;
    st_model_t m = model();
    cmdtest_t t;
    int pages, more;

    st_fill(st_root, 0, 1000);
    inbox = st_folder_id("");
    race_dir = st_root;
    pages = sync_all(&m, inbox, 50, NULL, race_between);
    ck_assert_int_ge(pages, 20);
    /* after the last page: one more Sync picks up the last round of changes */
    race_between(pages);
    do {
        st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, m.key, 50, NULL));
        more = t.resp.doc ? st_model_apply(&m, t.resp.doc, inbox) : 0;
        cmdtest_free(&t);
    } while (more);
    st_model_check(&m, st_truth(inbox));
    /* most removals hit messages not sent yet (oldest first): no Delete needed */
    ck_assert_int_ge(m.deletes, 1);
    ck_assert_int_ge(m.changes, 5);
    fprintf(stderr, "# paging with changes: %d pages, %d adds, %d changes, %d deletes\n", pages,
            m.adds, m.changes, m.deletes);
}
END_TEST

/* ---- keys ----------------------------------------------------------------------- */

START_TEST(resend_previous_key_replays)
{
    const char *inbox, *k1, *k2, *b1, *b2;
    apr_size_t l1, l2;
    cmdtest_t t;
    st_model_t m = model();

    st_fill(st_root, 0, 30);
    inbox = st_folder_id("");
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "0", 0, NULL));
    k1 = sx(t.resp.doc, "//a:SyncKey");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k1, 10, NULL));
    k2 = sx(t.resp.doc, "//a:SyncKey");
    ck_assert_str_ne(k1, k2);
    b1 = st_wbxml(t.resp.doc, &l1);
    cmdtest_free(&t);
    /* the reply was lost: the device resends k1, even after new mail */
    st_fill(st_root, 30, 5);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k1, 10, NULL));
    b2 = st_wbxml(t.resp.doc, &l2);
    ck_assert_int_eq(l1, l2);
    ck_assert(memcmp(b1, b2, l1) == 0);
    st_model_apply(&m, t.resp.doc, inbox);
    cmdtest_free(&t);
    /* and once more: still the same */
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k1, 10, NULL));
    b2 = st_wbxml(t.resp.doc, &l2);
    ck_assert(l1 == l2 && memcmp(b1, b2, l1) == 0);
    cmdtest_free(&t);
    /* the device goes on from k2 and gets everything exactly once */
    for (;;) {
        int more;
        st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, m.key, 10, NULL));
        if (!t.resp.doc) {
            cmdtest_free(&t);
            break;
        }
        more = st_model_apply(&m, t.resp.doc, inbox);
        cmdtest_free(&t);
        if (!more) {
            break;
        }
    }
    st_model_check(&m, st_truth(inbox));
    ck_assert_int_eq(m.adds, 35);
}
END_TEST

START_TEST(unknown_key_and_no_advance)
{
    const char *inbox, *k1, *k2;
    cmdtest_t t;

    st_fill(st_root, 0, 3);
    inbox = st_folder_id("");
    /* unknown keys: Status 3 */
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "{deadbeef}7", 0, NULL));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "//a:Collection/a:Status"), "3");
    ck_assert_str_eq(sx(t.resp.doc, "//a:Collection/a:SyncKey"), "0");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "garbage", 0, NULL));
    ck_assert_str_eq(sx(t.resp.doc, "//a:Collection/a:Status"), "3");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "0", 0, NULL));
    k1 = sx(t.resp.doc, "//a:SyncKey");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k1, 0, NULL));
    k2 = sx(t.resp.doc, "//a:SyncKey");
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Add"), 3);
    cmdtest_free(&t);
    /* a key two steps back is unknown */
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "0", 0, NULL));
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k2, 0, NULL));
    ck_assert_str_eq(sx(t.resp.doc, "//a:Collection/a:Status"), "3");
    cmdtest_free(&t);
    /* no change: the key does not advance, the reply is empty */
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "0", 0, NULL));
    k1 = sx(t.resp.doc, "//a:SyncKey");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k1, 0, NULL));
    k2 = sx(t.resp.doc, "//a:SyncKey");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k2, 0, NULL));
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k2, 0, NULL));
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    /* unknown collection: 8 */
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml("zzzzzzzz", "0", 0, NULL));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "//a:Collection/a:Status"), "8");
    cmdtest_free(&t);
}
END_TEST

/* ---- FilterType ------------------------------------------------------------------ */

START_TEST(filter_change_softdelete_and_add)
{
    const char *inbox, *k;
    size_t len;
    char *msg = mg_msg_plain(&len, 1), name[256];
    st_model_t m = model();
    cmdtest_t t;
    time_t now = time(NULL);
    int i;

    for (i = 0; i < 10; i++) {
        mg_deliver(st_root, "cur", (unsigned)i + 1, "2,S", msg, len,
                   now - 43200 - (time_t)i * 86400, name);
    }
    free(msg);
    inbox = st_folder_id("");
    st_run(&t, as_cmd_sync, "Sync",
           st_sync_xml(inbox, "0", 0, "<Options><FilterType>3</FilterType></Options>"));
    k = sx(t.resp.doc, "//a:SyncKey");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync",
           st_sync_xml(inbox, k, 0, "<Options><FilterType>3</FilterType></Options>"));
    st_model_apply(&m, t.resp.doc, inbox);
    ck_assert_int_eq(m.adds, 7);
    cmdtest_free(&t);
    /* narrower window: SoftDelete for the 4 older ones */
    st_run(&t, as_cmd_sync, "Sync",
           st_sync_xml(inbox, m.key, 0, "<Options><FilterType>2</FilterType></Options>"));
    cmdtest_validate(t.resp.doc);
    st_model_apply(&m, t.resp.doc, inbox);
    ck_assert_int_eq(m.softdeletes, 4);
    ck_assert_int_eq(apr_hash_count(m.items), 3);
    cmdtest_free(&t);
    /* all: the 7 others come as Add */
    st_run(&t, as_cmd_sync, "Sync",
           st_sync_xml(inbox, m.key, 0, "<Options><FilterType>0</FilterType></Options>"));
    st_model_apply(&m, t.resp.doc, inbox);
    ck_assert_int_eq(m.adds, 14);
    st_model_check(&m, st_truth(inbox));
    cmdtest_free(&t);
}
END_TEST

/* ---- client commands ------------------------------------------------------------------ */

static int cmp_id(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *first_id(st_model_t *m, int n)
{
    apr_array_header_t *ids = apr_array_make(unit_pool, 8, sizeof(const char *));
    apr_hash_index_t *hi;
    for (hi = apr_hash_first(unit_pool, m->items); hi; hi = apr_hash_next(hi)) {
        const void *k;
        apr_hash_this(hi, &k, NULL, NULL);
        APR_ARRAY_PUSH(ids, const char *) = k;
    }
    qsort(ids->elts, (size_t)ids->nelts, sizeof(const char *), cmp_id);
    ck_assert_int_gt(ids->nelts, n);
    return APR_ARRAY_IDX(ids, n, const char *);
}

START_TEST(client_change_delete_fetch)
{
    const char *inbox, *trash, *a, *b, *cc, *dd, *k;
    st_model_t m = model(), mt = model();
    cmdtest_t t;
    apr_hash_t *truth;

    st_fill(st_root, 0, 20);
    mg_folder(st_root, "Trash");
    inbox = st_folder_id("");
    trash = st_folder_id(".Trash");
    sync_all(&m, inbox, 100, NULL, NULL);
    sync_all(&mt, trash, 100, NULL, NULL);
    a = first_id(&m, 0);
    b = first_id(&m, 1);
    cc = first_id(&m, 2);
    dd = first_id(&m, 3);
    /* Change (read + flag), Delete (to Trash), Fetch, Delete of a missing item */
    st_run(&t, as_cmd_sync, "Sync",
           st_sync_xml(inbox, m.key, 0,
                       apr_psprintf(unit_pool,
                                    "<Commands><Change><ServerId>%s:%s</ServerId><ApplicationData>"
                                    "<e:Read xmlns:e=\"Email:\">0</e:Read><e:Flag "
                                    "xmlns:e=\"Email:\"><e:Status>2</e:Status></e:Flag>"
                                    "</ApplicationData></Change>"
                                    "<Delete><ServerId>%s:%s</ServerId></Delete>"
                                    "<Fetch><ServerId>%s:%s</ServerId></Fetch>"
                                    "<Delete><ServerId>%s:0000000000000</ServerId></Delete>"
                                    "<Change><ServerId>%s:0000000000001</ServerId>"
                                    "<ApplicationData><e:Read xmlns:e=\"Email:\">1</e:Read>"
                                    "</ApplicationData></Change>"
                                    "</Commands>",
                                    inbox, a, inbox, b, inbox, cc, inbox, inbox)));
    cmdtest_validate(t.resp.doc);
    k = sx(t.resp.doc, "//a:Collection/a:SyncKey");
    ck_assert_str_ne(k, m.key);
    /* only failures are answered for Change/Delete; Fetch always */
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Responses/a:Change"), 1);
    ck_assert_str_eq(sx(t.resp.doc, "//a:Responses/a:Change/a:Status"), "8");
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Responses/a:Delete"), 1);
    ck_assert_str_eq(sx(t.resp.doc, "//a:Responses/a:Delete/a:Status"), "8");
    ck_assert_str_eq(sx(t.resp.doc, "//a:Responses/a:Fetch/a:Status"), "1");
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Responses/a:Fetch/a:ApplicationData/e:Subject"), 1);
    /* the device's own changes are not echoed back */
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Commands"), 0);
    cmdtest_free(&t);
    apr_hash_set(m.items, b, APR_HASH_KEY_STRING, NULL);
    apr_hash_set(m.items, a, APR_HASH_KEY_STRING,
                 apr_itoa(unit_pool, AS_STORE_FLAGGED)); /* read 0, flagged */
    m.key = k;
    truth = st_truth(inbox);
    st_model_check(&m, truth);
    /* the deleted message is in Trash now */
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(trash, mt.key, 0, NULL));
    st_model_apply(&mt, t.resp.doc, trash);
    ck_assert_int_eq(mt.adds, 1);
    cmdtest_free(&t);
    /* conflict: the server changed dd's Read state, the device changes it too:
     * server wins -> Status 7 and the server's state as a Change */
    {
        unsigned fl, seen;
        as_store_t *s = st_store();
        as_store_item_t it;
        /* flip Read (dd may be one of the unread messages in new/) */
        ck_assert_int_eq(as_store_stat_item(s, inbox, dd, unit_pool, &it), APR_SUCCESS);
        seen = it.flags & AS_STORE_SEEN;
        ck_assert_int_eq(as_store_set_flags(s, inbox, dd, seen ^ AS_STORE_SEEN, seen, &fl),
                         APR_SUCCESS);
    }
    st_run(&t, as_cmd_sync, "Sync",
           st_sync_xml(inbox, m.key, 0,
                       apr_psprintf(unit_pool,
                                    "<Commands><Change><ServerId>%s:%s</ServerId><ApplicationData>"
                                    "<e:Read xmlns:e=\"Email:\">1</e:Read></ApplicationData>"
                                    "</Change></Commands>",
                                    inbox, dd)));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "//a:Responses/a:Change/a:Status"), "7");
    st_model_apply(&m, t.resp.doc, inbox);
    ck_assert_int_eq(m.changes, 1);
    st_model_check(&m, st_truth(inbox));
    cmdtest_free(&t);
    /* DeletesAsMoves 0: removed for good */
    st_run(&t, as_cmd_sync, "Sync",
           st_sync_xml(inbox, m.key, 0,
                       apr_psprintf(unit_pool,
                                    "<DeletesAsMoves>0</DeletesAsMoves><Commands><Delete>"
                                    "<ServerId>%s:%s</ServerId></Delete></Commands>",
                                    inbox, cc)));
    apr_hash_set(m.items, cc, APR_HASH_KEY_STRING, NULL);
    m.key = sx(t.resp.doc, "//a:Collection/a:SyncKey");
    cmdtest_free(&t);
    st_model_check(&m, st_truth(inbox));
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(trash, mt.key, 0, NULL));
    ck_assert_ptr_null(t.resp.doc); /* nothing new in Trash */
    cmdtest_free(&t);
}
END_TEST

/* ---- several collections, empty and partial requests -------------------------------- */

START_TEST(several_collections_and_empty_request)
{
    const char *inbox, *work, *ki, *kw, *xml;
    st_model_t mi = model(), mw = model();
    cmdtest_t t;
    char wdir[700];

    st_fill(st_root, 0, 5);
    mg_folder(st_root, "Work");
    snprintf(wdir, sizeof wdir, "%s/.Work", st_root);
    st_fill(wdir, 100, 7);
    inbox = st_folder_id("");
    work = st_folder_id(".Work");
    xml =
        apr_psprintf(unit_pool,
                     "<Sync xmlns=\"AirSync:\"><Collections>"
                     "<Collection><SyncKey>0</SyncKey><CollectionId>%s</CollectionId></Collection>"
                     "<Collection><SyncKey>0</SyncKey><CollectionId>%s</CollectionId></Collection>"
                     "</Collections></Sync>",
                     inbox, work);
    st_run(&t, as_cmd_sync, "Sync", xml);
    cmdtest_validate(t.resp.doc);
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Collection"), 2);
    st_model_apply(&mi, t.resp.doc, inbox);
    st_model_apply(&mw, t.resp.doc, work);
    cmdtest_free(&t);
    /* an empty request before any full one with keys: the cached request has
     * the state's current keys */
    st_run(&t, as_cmd_sync, "Sync", NULL);
    ck_assert_ptr_nonnull(t.resp.doc);
    cmdtest_validate(t.resp.doc);
    st_model_apply(&mi, t.resp.doc, inbox);
    st_model_apply(&mw, t.resp.doc, work);
    cmdtest_free(&t);
    st_model_check(&mi, st_truth(inbox));
    st_model_check(&mw, st_truth(work));
    /* nothing new: empty reply */
    st_run(&t, as_cmd_sync, "Sync", NULL);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    /* new mail in Work: an empty request brings it; Inbox is listed unchanged */
    st_fill(wdir, 200, 2);
    st_run(&t, as_cmd_sync, "Sync", NULL);
    ck_assert_ptr_nonnull(t.resp.doc);
    st_model_apply(&mw, t.resp.doc, work);
    ki = mi.key;
    st_model_apply(&mi, t.resp.doc, inbox);
    ck_assert_str_eq(ki, mi.key);
    cmdtest_free(&t);
    st_model_check(&mw, st_truth(work));
    /* Partial with one collection and a window */
    st_fill(wdir, 300, 3);
    kw = mw.key;
    st_run(&t, as_cmd_sync, "Sync",
           apr_psprintf(unit_pool,
                        "<Sync xmlns=\"AirSync:\"><Collections><Collection><SyncKey>%s</SyncKey>"
                        "<CollectionId>%s</CollectionId><WindowSize>2</WindowSize></Collection>"
                        "</Collections><Partial/></Sync>",
                        kw, work));
    ck_assert_ptr_nonnull(t.resp.doc);
    cmdtest_validate(t.resp.doc);
    ck_assert_int_eq(st_model_apply(&mw, t.resp.doc, work), 1);
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", NULL);
    st_model_apply(&mw, t.resp.doc, work);
    cmdtest_free(&t);
    st_model_check(&mw, st_truth(work));
    /* a device without cache: 13 */
    st_run_dev(&t, as_cmd_sync, "Sync", "OTHERDEV", "14.1", NULL);
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "/a:Sync/a:Status"), "13");
    cmdtest_free(&t);
}
END_TEST

START_TEST(wait_bounds_and_email_off)
{
    const char *inbox;
    cmdtest_t t;

    inbox = st_folder_id("");
    st_run(&t, as_cmd_sync, "Sync",
           apr_psprintf(unit_pool,
                        "<Sync xmlns=\"AirSync:\"><Collections><Collection><SyncKey>0</SyncKey>"
                        "<CollectionId>%s</CollectionId></Collection></Collections>"
                        "<HeartbeatInterval>30</HeartbeatInterval></Sync>",
                        inbox));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "/a:Sync/a:Status"), "14");
    ck_assert_str_eq(sx(t.resp.doc, "/a:Sync/a:Limit"), "60");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync",
           apr_psprintf(unit_pool,
                        "<Sync xmlns=\"AirSync:\"><Collections><Collection><SyncKey>0</SyncKey>"
                        "<CollectionId>%s</CollectionId></Collection></Collections>"
                        "<Wait>60</Wait></Sync>",
                        inbox));
    ck_assert_str_eq(sx(t.resp.doc, "/a:Sync/a:Status"), "14");
    ck_assert_str_eq(sx(t.resp.doc, "/a:Sync/a:Limit"), "59");
    cmdtest_free(&t);
    st_email_off = 1;
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "0", 0, NULL));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "//a:Collection/a:Status"), "8");
    cmdtest_free(&t);
}
END_TEST

static void *deliver_later(void *arg)
{
    size_t len;
    char *m = mg_msg_plain(&len, 9), name[256];
    (void)arg;
    if (watchtest_parked(1)) { /* deliver into the parked Sync */
        mg_deliver(st_root, "new", 777, NULL, m, len, time(NULL), name);
    }
    free(m);
    return NULL;
}

START_TEST(wait_woken_by_delivery)
{
    const char *inbox;
    st_model_t m = model();
    cmdtest_t t;
    pthread_t th;
    apr_time_t t0;
    double secs;

    st_fill(st_root, 0, 3);
    inbox = st_folder_id("");
    sync_all(&m, inbox, 100, NULL, NULL);
    pthread_create(&th, NULL, deliver_later, NULL);
    t0 = apr_time_now();
    st_run(&t, as_cmd_sync, "Sync",
           apr_psprintf(unit_pool,
                        "<Sync xmlns=\"AirSync:\"><Collections><Collection><SyncKey>%s</SyncKey>"
                        "<CollectionId>%s</CollectionId></Collection></Collections>"
                        "<Wait>1</Wait></Sync>",
                        m.key, inbox));
    secs = (double)(apr_time_now() - t0) / 1e6;
    pthread_join(th, NULL);
    fprintf(stderr,
            "# Sync with Wait answered %.2f s after it started (delivered once it parked)\n", secs);
    ck_assert_ptr_nonnull(t.resp.doc);
    cmdtest_validate(t.resp.doc);
    st_model_apply(&m, t.resp.doc, inbox);
    ck_assert_int_eq(m.adds, 4);
    ck_assert(secs < 5.0);
    cmdtest_free(&t);
}
END_TEST

/* ---- GetItemEstimate ---------------------------------------------------------------- */

static const char *gie_xml(const char *fid, const char *key)
{
    return apr_psprintf(unit_pool,
                        "<GetItemEstimate xmlns=\"GetItemEstimate:\" xmlns:a=\"AirSync:\">"
                        "<Collections><Collection><a:SyncKey>%s</a:SyncKey>"
                        "<CollectionId>%s</CollectionId><a:Options><a:FilterType>0</a:FilterType>"
                        "</a:Options></Collection></Collections></GetItemEstimate>",
                        key, fid);
}

START_TEST(get_item_estimate)
{
    const char *inbox, *k;
    cmdtest_t t;
    st_model_t m = model();

    st_fill(st_root, 0, 25);
    inbox = st_folder_id("");
    st_run(&t, as_cmd_getitemestimate, "GetItemEstimate", gie_xml(inbox, "0"));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "//g:Response/g:Status"), "3");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "0", 0, NULL));
    k = sx(t.resp.doc, "//a:SyncKey");
    st_model_apply(&m, t.resp.doc, inbox);
    cmdtest_free(&t);
    st_run(&t, as_cmd_getitemestimate, "GetItemEstimate", gie_xml(inbox, k));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "//g:Response/g:Status"), "1");
    ck_assert_str_eq(sx(t.resp.doc, "//g:Estimate"), "25");
    cmdtest_free(&t);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k, 10, NULL));
    st_model_apply(&m, t.resp.doc, inbox);
    cmdtest_free(&t);
    st_run(&t, as_cmd_getitemestimate, "GetItemEstimate", gie_xml(inbox, m.key));
    ck_assert_str_eq(sx(t.resp.doc, "//g:Estimate"), "15");
    cmdtest_free(&t);
    st_run(&t, as_cmd_getitemestimate, "GetItemEstimate", gie_xml(inbox, "{12345678}9"));
    ck_assert_str_eq(sx(t.resp.doc, "//g:Response/g:Status"), "4");
    cmdtest_free(&t);
    st_run(&t, as_cmd_getitemestimate, "GetItemEstimate", gie_xml("nosuch", m.key));
    ck_assert_str_eq(sx(t.resp.doc, "//g:Response/g:Status"), "2");
    cmdtest_free(&t);
    st_email_off = 1;
    st_run(&t, as_cmd_getitemestimate, "GetItemEstimate", gie_xml(inbox, m.key));
    ck_assert_str_eq(sx(t.resp.doc, "//g:Response/g:Status"), "2");
    cmdtest_free(&t);
}
END_TEST

/* ---- EAS 12.1 ------------------------------------------------------------------------ */

/* What differs under 12.1: Class in the request's Collection (none in the
 * reply, which the schema does not allow), Wait accepted but
 * HeartbeatInterval (14.0+) a protocol error, and GetItemEstimate's 12.1
 * form with Class and FilterType directly in Collection. */
START_TEST(sync_and_estimate_12_1)
{
    const char *inbox, *k;
    size_t len;
    char *msg = mg_msg_plain(&len, 1), name[256];
    st_model_t m = model();
    cmdtest_t t;
    time_t now = time(NULL);
    int i;

    for (i = 0; i < 10; i++) { /* one a day: 12 h, 36 h, ... old */
        mg_deliver(st_root, "cur", (unsigned)i + 1, "2,S", msg, len,
                   now - 43200 - (time_t)i * 86400, name);
    }
    free(msg);
    inbox = st_folder_id("");
    st_run_dev(&t, as_cmd_sync, "Sync", ST_DEV, "12.1",
               apr_psprintf(unit_pool,
                            "<Sync xmlns=\"AirSync:\"><Collections><Collection><Class>Email</Class>"
                            "<SyncKey>0</SyncKey><CollectionId>%s</CollectionId></Collection>"
                            "</Collections></Sync>",
                            inbox));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "//a:Collection/a:Status"), "1");
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Class"), 0);
    k = sx(t.resp.doc, "//a:SyncKey");
    cmdtest_free(&t);
    st_run_dev(&t, as_cmd_sync, "Sync", ST_DEV, "12.1",
               apr_psprintf(unit_pool,
                            "<Sync xmlns=\"AirSync:\"><Collections><Collection><Class>Email</Class>"
                            "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>"
                            "<WindowSize>4</WindowSize><Options><FilterType>3</FilterType>"
                            "</Options></Collection></Collections></Sync>",
                            k, inbox));
    cmdtest_validate(t.resp.doc);
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Class"), 0);
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:MoreAvailable"), 1);
    st_model_apply(&m, t.resp.doc, inbox);
    ck_assert_int_eq(m.adds, 4);
    cmdtest_free(&t);

    /* GetItemEstimate, 12.1 form: FilterType 3 (one week) leaves 7 of 10,
     * 4 of them sent; FilterType 0 counts all 6 unsent. */
    st_run_dev(&t, as_cmd_getitemestimate, "GetItemEstimate", ST_DEV, "12.1",
               apr_psprintf(unit_pool,
                            "<GetItemEstimate xmlns=\"GetItemEstimate:\" xmlns:a=\"AirSync:\">"
                            "<Collections><Collection><Class>Email</Class>"
                            "<CollectionId>%s</CollectionId><a:FilterType>3</a:FilterType>"
                            "<a:SyncKey>%s</a:SyncKey></Collection></Collections>"
                            "</GetItemEstimate>",
                            inbox, m.key));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "//g:Response/g:Status"), "1");
    ck_assert_str_eq(sx(t.resp.doc, "//g:Estimate"), "3");
    cmdtest_free(&t);
    st_run_dev(&t, as_cmd_getitemestimate, "GetItemEstimate", ST_DEV, "12.1",
               apr_psprintf(unit_pool,
                            "<GetItemEstimate xmlns=\"GetItemEstimate:\" xmlns:a=\"AirSync:\">"
                            "<Collections><Collection><Class>Email</Class>"
                            "<CollectionId>%s</CollectionId><a:FilterType>0</a:FilterType>"
                            "<a:SyncKey>%s</a:SyncKey></Collection></Collections>"
                            "</GetItemEstimate>",
                            inbox, m.key));
    ck_assert_str_eq(sx(t.resp.doc, "//g:Estimate"), "6");
    cmdtest_free(&t);

    /* Sync HeartbeatInterval is 14.0+: Status 4 from a 12.1 device (an
     * in-range value, so only the version decides); Wait is fine. */
    st_run_dev(&t, as_cmd_sync, "Sync", ST_DEV, "12.1",
               apr_psprintf(unit_pool,
                            "<Sync xmlns=\"AirSync:\"><Collections><Collection><Class>Email</Class>"
                            "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId></Collection>"
                            "</Collections><HeartbeatInterval>300</HeartbeatInterval></Sync>",
                            m.key, inbox));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "/a:Sync/a:Status"), "4");
    cmdtest_free(&t);
    st_run_dev(&t, as_cmd_sync, "Sync", ST_DEV, "12.1",
               apr_psprintf(unit_pool,
                            "<Sync xmlns=\"AirSync:\"><Collections><Collection><Class>Email</Class>"
                            "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId></Collection>"
                            "</Collections><Wait>0</Wait></Sync>",
                            m.key, inbox));
    ck_assert_str_eq(sx(t.resp.doc, "/a:Sync/a:Status"), "14");
    ck_assert_str_eq(sx(t.resp.doc, "/a:Sync/a:Limit"), "1");
    cmdtest_free(&t);
}
END_TEST

/* ---- loop detection --------------------------------------------------------------- */

static apr_array_header_t *loop_lines;

static int loop_enabled(void *baton, int level)
{
    (void)baton;
    return level <= AS_LOG_NOTICE;
}

static void loop_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                       const char *msg)
{
    (void)baton;
    (void)file;
    (void)line;
    (void)level;
    (void)rv;
    APR_ARRAY_PUSH(loop_lines, const char *) = apr_pstrdup(unit_pool, msg);
}

static int loop_has(const char *needle)
{
    int i, n = 0;
    for (i = 0; i < loop_lines->nelts; i++) {
        n += strstr(APR_ARRAY_IDX(loop_lines, i, const char *), needle) != NULL;
    }
    return n;
}

/* A device that chokes on one item (resends its key whenever a reply
 * carries it): the third identical resend rebuilds the reply with one
 * change, the changes then come one per reply, and when the reply with only
 * the bad item loops too, the item is skipped with one log line.  Nothing
 * else is lost or duplicated; the first two resends get identical bytes; the
 * skipped item stays unsent after a flag change, new mail still arrives. */
START_TEST(loop_rebuilds_then_skips)
{
    static const as_logger_t lg = {loop_enabled, loop_print, NULL};
    const char *inbox, *bad_sid = NULL, *bad_id, *b0 = NULL, *key, *k0 = NULL;
    unsigned now = 0;
    apr_size_t l0 = 0;
    apr_hash_t *truth;
    cmdtest_t t;
    st_model_t m = model();
    int requests = 0, resends = 0, rebuilt_one = 0, more = 1;

    loop_lines = apr_array_make(unit_pool, 8, sizeof(const char *));
    st_fill(st_root, 0, 12);
    inbox = st_folder_id("");
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, "0", 0, NULL));
    st_model_apply(&m, t.resp.doc, inbox);
    cmdtest_free(&t);
    cmdtest_log = &lg;
    while (more) {
        apr_size_t l;
        const char *b;
        key = m.key;
        st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, key, 100, NULL));
        ck_assert_ptr_nonnull(t.resp.doc);
        ck_assert_int_lt(++requests, 60);
        if (!bad_sid) {
            /* the fifth Add of the first full reply breaks the device */
            ck_assert_int_eq(sx_count(t.resp.doc, "//a:Commands/a:Add"), 12);
            bad_sid = sx(t.resp.doc, "(//a:Commands/a:Add)[5]/a:ServerId");
        }
        b = st_wbxml(t.resp.doc, &l);
        if (sx_count(t.resp.doc,
                     apr_psprintf(unit_pool, "//a:Commands/a:Add[a:ServerId='%s']", bad_sid))) {
            /* choke: resend the same key; the first two resends are lost
             * replies as far as the server knows: identical bytes */
            if (resends == 0) {
                b0 = b;
                l0 = l;
                k0 = sx(t.resp.doc, "//a:SyncKey");
            } else if (resends < 3) {
                ck_assert_msg(l == l0 && !memcmp(b, b0, l), "resend %d changed the reply", resends);
            }
            resends++;
            ck_assert_int_le(resends, 3);
            cmdtest_free(&t);
            continue;
        }
        if (resends == 3 && !rebuilt_one) {
            /* the third resend of the 12-item reply: one change only */
            ck_assert_int_eq(sx_count(t.resp.doc, "//a:Commands/*"), 1);
            ck_assert_str_eq(sx(t.resp.doc, "//a:SyncKey"), k0); /* still key N */
            rebuilt_one = 1;
        }
        cmdtest_validate(t.resp.doc);
        ck_assert_int_le(sx_count(t.resp.doc, "//a:Commands/*"), 1);
        resends = 0;
        more = st_model_apply(&m, t.resp.doc, inbox);
        cmdtest_free(&t);
    }
    ck_assert(rebuilt_one);
    ck_assert_int_eq(loop_has("rebuilt with one"), 1);
    bad_id = strchr(bad_sid, ':') + 1;
    ck_assert_int_eq(loop_has(apr_psprintf(unit_pool,
                                           "account " ST_ACCT " device " ST_DEV
                                           " collection %s: item %s skipped",
                                           inbox, bad_sid)),
                     1);
    /* the device has the Maildir minus the bad item, each once */
    truth = st_truth(inbox);
    ck_assert_ptr_nonnull(apr_hash_get(truth, bad_id, APR_HASH_KEY_STRING));
    apr_hash_set(truth, bad_id, APR_HASH_KEY_STRING, NULL);
    st_model_check(&m, truth);
    ck_assert_int_eq(m.adds, 11);
    /* a flag change of the skipped item sends nothing; new mail is sent */
    {
        apr_array_header_t *items;
        int i;
        ck_assert_int_eq(as_store_list_items(st_store(), inbox, unit_pool, &items, NULL),
                         APR_SUCCESS);
        for (i = 0; i < items->nelts; i++) {
            const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
            if (!strcmp(it->id, bad_id)) {
                ck_assert_int_eq(
                    as_store_set_flags(st_store(), inbox, bad_id,
                                       it->flags & AS_STORE_FLAGGED ? 0 : AS_STORE_FLAGGED,
                                       it->flags & AS_STORE_FLAGGED ? AS_STORE_FLAGGED : 0, &now),
                    APR_SUCCESS);
            }
        }
    }
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, m.key, 100, NULL));
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    st_fill(st_root, 100, 2);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, m.key, 100, NULL));
    ck_assert_ptr_nonnull(t.resp.doc);
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Commands/a:Add"), 2);
    st_model_apply(&m, t.resp.doc, inbox);
    cmdtest_free(&t);
    truth = st_truth(inbox);
    apr_hash_set(truth, bad_id, APR_HASH_KEY_STRING, NULL);
    st_model_check(&m, truth);
    /* the skipped item removed from the folder: no Delete (the device never had it) */
    ck_assert_int_eq(as_store_delete_item(st_store(), inbox, bad_id, 0), APR_SUCCESS);
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, m.key, 100, NULL));
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    cmdtest_log = NULL;
}
END_TEST

/* A reply whose only change is not an Add has nothing to narrow: it is
 * replayed identically however often the device resends (one log line). */
START_TEST(loop_nothing_to_narrow)
{
    static const as_logger_t lg = {loop_enabled, loop_print, NULL};
    const char *inbox, *k, *b0, *b;
    apr_size_t l0, l;
    apr_array_header_t *items;
    const as_store_item_t *it;
    cmdtest_t t;
    st_model_t m = model();
    unsigned now = 0;
    int i;

    loop_lines = apr_array_make(unit_pool, 8, sizeof(const char *));
    st_fill(st_root, 0, 3);
    inbox = st_folder_id("");
    ck_assert_int_gt(sync_all(&m, inbox, 10, NULL, NULL), 0);
    ck_assert_int_eq(as_store_list_items(st_store(), inbox, unit_pool, &items, NULL), APR_SUCCESS);
    it = &APR_ARRAY_IDX(items, 0, as_store_item_t);
    ck_assert_int_eq(as_store_set_flags(st_store(), inbox, it->id,
                                        it->flags & AS_STORE_SEEN ? 0 : AS_STORE_SEEN,
                                        it->flags & AS_STORE_SEEN ? AS_STORE_SEEN : 0, &now),
                     APR_SUCCESS);
    k = m.key;
    cmdtest_log = &lg;
    st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k, 10, NULL));
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Commands/a:Change"), 1);
    b0 = st_wbxml(t.resp.doc, &l0);
    cmdtest_free(&t);
    for (i = 0; i < 5; i++) {
        st_run(&t, as_cmd_sync, "Sync", st_sync_xml(inbox, k, 10, NULL));
        b = st_wbxml(t.resp.doc, &l);
        ck_assert(l == l0 && !memcmp(b, b0, l));
        cmdtest_free(&t);
    }
    ck_assert_int_eq(loop_has("nothing to narrow"), 1);
    cmdtest_log = NULL;
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sync");
    TCase *tc = tcase_create("sync");
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, initial_10000_in_pages);
    tcase_add_test(tc, paging_with_concurrent_changes);
    tcase_add_test(tc, resend_previous_key_replays);
    tcase_add_test(tc, unknown_key_and_no_advance);
    tcase_add_test(tc, filter_change_softdelete_and_add);
    tcase_add_test(tc, client_change_delete_fetch);
    tcase_add_test(tc, several_collections_and_empty_request);
    tcase_add_test(tc, wait_bounds_and_email_off);
    tcase_add_test(tc, get_item_estimate);
    tcase_add_test(tc, wait_woken_by_delivery);
    tcase_add_test(tc, loop_rebuilds_then_skips);
    tcase_add_test(tc, loop_nothing_to_narrow);
    tcase_add_test(tc, sync_and_estimate_12_1);
    suite_add_tcase(s, tc);
    return s;
}
