/* The Sync engine for one collection (as_sync_coll.h) driven directly,
 * without the Sync command: a generation from key 0, paging by the window
 * with MoreAvailable, client Commands (Change, Fetch, Delete, Add), and
 * loop detection on a resent key (lost reply replayed twice, then the reply
 * rebuilt with one change, then that item skipped). */
#include <apr_strings.h>

#include "activesync/as_sync_coll.h"
#include "synctest.h"

static void coll_req(as_sync_coll_req_t *q, const char *id, const char *key, int window)
{
    memset(q, 0, sizeof(*q));
    q->id = id;
    q->key = key;
    q->get_changes = -1;
    q->window = window;
    q->deletes_as_moves = 1;
    q->conflict = 1;
}

/* One collection synced; its reply's SyncKey (pool copy) and the reply. */
static const char *sync_coll(engine_t *e, const as_sync_coll_req_t *q, int first,
                             as_sync_coll_res_t *res)
{
    ck_assert_int_eq(as_sync_collection(&e->run, q, first, res), APR_SUCCESS);
    ck_assert_ptr_nonnull(res->doc);
    return sx(res->doc, "//a:Collection/a:SyncKey");
}

static const char *status_of(as_sync_coll_res_t *res)
{
    return sx(res->doc, "//a:Collection/a:Status");
}

START_TEST(test_engine_pages)
{
    engine_t e;
    as_sync_coll_req_t q;
    as_sync_coll_res_t res;
    const char *key;
    int adds = 0, pages = 0, more;

    st_fill(st_root, 0, 25);
    engine_open(&e);
    coll_req(&q, e.inbox, "0", 10);
    key = sync_coll(&e, &q, 1, &res);
    ck_assert_str_eq(status_of(&res), "1");
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands"), 0);
    as_sync_coll_res_reset(&res);
    do {
        coll_req(&q, e.inbox, key, 10);
        key = sync_coll(&e, &q, 1, &res);
        ck_assert_str_eq(status_of(&res), "1");
        adds += sx_count(res.doc, "//a:Commands/a:Add");
        more = sx_count(res.doc, "//a:Collection/a:MoreAvailable");
        ck_assert_int_le(sx_count(res.doc, "//a:Commands/a:Add"), 10);
        as_sync_coll_res_reset(&res);
        ck_assert_int_lt(++pages, 10);
    } while (more);
    ck_assert_int_eq(adds, 25);
    ck_assert_int_eq(pages, 3);
    /* in step: nothing more, the key stays */
    coll_req(&q, e.inbox, key, 10);
    ck_assert_str_eq(sync_coll(&e, &q, 1, &res), key);
    ck_assert(res.nothing);
    as_sync_coll_res_reset(&res);
    /* an unknown key: Status 3, key 0 */
    coll_req(&q, e.inbox, "{00000001}7", 10);
    ck_assert_str_eq(sync_coll(&e, &q, 1, &res), "0");
    ck_assert_str_eq(status_of(&res), "3");
    as_sync_coll_res_reset(&res);
}
END_TEST

/* Sync the inbox to the end: its current key. */
static const char *sync_all(engine_t *e)
{
    as_sync_coll_req_t q;
    as_sync_coll_res_t res;
    const char *key;
    coll_req(&q, e->inbox, "0", 100);
    key = sync_coll(e, &q, 1, &res);
    as_sync_coll_res_reset(&res);
    coll_req(&q, e->inbox, key, 100);
    key = sync_coll(e, &q, 1, &res);
    as_sync_coll_res_reset(&res);
    return key;
}

START_TEST(test_engine_client_commands)
{
    engine_t e;
    as_sync_coll_req_t q;
    as_sync_coll_res_t res;
    const char *key, *id, *id2, *sid, *sid2, *xml;
    apr_array_header_t *items;
    xmlDocPtr cmds;
    apr_hash_t *truth;

    st_fill(st_root, 0, 3);
    engine_open(&e);
    key = sync_all(&e);
    ck_assert_int_eq(as_store_list_items(e.run.st, e.inbox, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 3);
    id = APR_ARRAY_IDX(items, 0, as_store_item_t).id;
    id2 = APR_ARRAY_IDX(items, 1, as_store_item_t).id;
    sid = as_sync_serverid(unit_pool, e.inbox, id);
    sid2 = as_sync_serverid(unit_pool, e.inbox, id2);
    xml = apr_psprintf(unit_pool,
                       "<Commands xmlns=\"AirSync:\" xmlns:e=\"Email:\">"
                       "<Change><ServerId>%s</ServerId><ApplicationData><e:Read>0</e:Read>"
                       "<e:Flag><e:Status>2</e:Status></e:Flag></ApplicationData></Change>"
                       "<Fetch><ServerId>%s</ServerId></Fetch>"
                       "<Fetch><ServerId>%s:zz</ServerId></Fetch>"
                       "<Delete><ServerId>%s</ServerId></Delete>"
                       "<Add><ClientId>c1</ClientId><ApplicationData/></Add>"
                       "</Commands>",
                       sid, sid, e.inbox, sid2);
    cmds = cmdtest_tree(xml);
    coll_req(&q, e.inbox, key, 100);
    q.commands = xmlDocGetRootElement(cmds);
    ck_assert_str_ne(sync_coll(&e, &q, 1, &res), key); /* changes: the key advances */
    ck_assert_str_eq(status_of(&res), "1");
    /* answered: every Fetch (one found, one not) and the Add; no Change/Delete */
    ck_assert_int_eq(sx_count(res.doc, "//a:Responses/a:Fetch"), 2);
    ck_assert_str_eq(sx(res.doc, "//a:Responses/a:Fetch[1]/a:Status"), "1");
    ck_assert_int_eq(sx_count(res.doc, "//a:Responses/a:Fetch[1]/a:ApplicationData"), 1);
    ck_assert_str_eq(sx(res.doc, "//a:Responses/a:Fetch[2]/a:Status"), "8");
    ck_assert_str_eq(sx(res.doc, "//a:Responses/a:Add/a:Status"), "6");
    ck_assert_int_eq(sx_count(res.doc, "//a:Responses/a:Change"), 0);
    ck_assert_int_eq(sx_count(res.doc, "//a:Responses/a:Delete"), 0);
    /* Responses come before Commands, and the device is not told its own changes */
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands"), 0);
    as_sync_coll_res_reset(&res);
    xmlFreeDoc(cmds);
    truth = st_truth(e.inbox);
    ck_assert_int_eq(apr_hash_count(truth), 2); /* id2 went to the Trash */
    ck_assert_str_eq(apr_hash_get(truth, id, APR_HASH_KEY_STRING),
                     apr_itoa(unit_pool, AS_STORE_FLAGGED));
}
END_TEST

START_TEST(test_engine_loop_detection)
{
    engine_t e;
    as_sync_coll_req_t q;
    as_sync_coll_res_t res;
    const char *k1, *k2, *k;
    int i, total = 0;

    st_fill(st_root, 0, 6);
    engine_open(&e);
    coll_req(&q, e.inbox, "0", 100);
    k1 = sync_coll(&e, &q, 1, &res);
    as_sync_coll_res_reset(&res);
    coll_req(&q, e.inbox, k1, 100);
    k2 = sync_coll(&e, &q, 1, &res);
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands/a:Add"), 6);
    as_sync_coll_res_reset(&res);
    /* a lost reply: resent as it was, twice */
    for (i = 0; i < 2; i++) {
        coll_req(&q, e.inbox, k1, 100);
        ck_assert_str_eq(sync_coll(&e, &q, 1, &res), k2);
        ck_assert_int_eq(sx_count(res.doc, "//a:Commands/a:Add"), 6);
        as_sync_coll_res_reset(&res);
    }
    /* the third resend: reply 2 rebuilt with one change */
    coll_req(&q, e.inbox, k1, 100);
    ck_assert_str_eq(sync_coll(&e, &q, 1, &res), k2);
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands/a:Add"), 1);
    ck_assert_int_eq(sx_count(res.doc, "//a:Collection/a:MoreAvailable"), 1);
    as_sync_coll_res_reset(&res);
    /* three more resends of that: the one item is skipped */
    for (i = 0; i < 3; i++) {
        coll_req(&q, e.inbox, k1, 100);
        ck_assert_str_eq(sync_coll(&e, &q, 1, &res), k2);
        as_sync_coll_res_reset(&res);
    }
    coll_req(&q, e.inbox, k1, 100);
    ck_assert_str_eq(sync_coll(&e, &q, 1, &res), k2);
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands/a:Add"), 1);
    as_sync_coll_res_reset(&res);
    /* the device takes it: the rest comes one change per reply (careful),
     * and the skipped item never */
    k = k2;
    for (i = 0; i < 20; i++) {
        int adds, more;
        coll_req(&q, e.inbox, k, 100);
        k = sync_coll(&e, &q, 1, &res);
        adds = sx_count(res.doc, "//a:Commands/a:Add");
        more = sx_count(res.doc, "//a:Collection/a:MoreAvailable");
        ck_assert_int_le(adds, 1);
        total += adds;
        as_sync_coll_res_reset(&res);
        if (!more) {
            break;
        }
    }
    ck_assert_int_lt(i, 20);
    /* the other five: one in the rebuilt reply the device took, four after */
    ck_assert_int_eq(total, 4);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sync_coll");
    TCase *tc = tcase_create("engine");
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_engine_pages);
    tcase_add_test(tc, test_engine_client_commands);
    tcase_add_test(tc, test_engine_loop_detection);
    suite_add_tcase(s, tc);
    return s;
}
