/* MoveItems: moves between mail folders (the file moves, the item keeps its
 * id, DstMsgId names the destination), several moves answered in order,
 * invalid source/destination ids, same folder, email off, malformed
 * requests, and the sync-state note that keeps the device from seeing the
 * moved message twice.  Every reply is checked with validate-eas. */
#include "activesync/as_syncstate.h"
#include "iotest.h"
#include "testdb.h"
#include "unit.h"

#define MV_HEAD "<MoveItems xmlns=\"Move:\">"
#define MV_TAIL "</MoveItems>"

TESTDB_FIXTURE()

static const char *inbox, *work, *sub, *id1, *id2, *id3;

static void setup(void)
{
    testdb_setup();
    iot_setup();
    id1 = iot_plain("", "cur", 1, "2,S");
    id2 = iot_plain("", "new", 2, NULL);
    id3 = iot_plain("", "cur", 3, "2,F");
    inbox = iot_folder("");
    work = iot_folder("Work");
    sub = iot_folder("Work.Sub");
}

static void teardown(void)
{
    iot_teardown();
    testdb_teardown();
}

static const char *mv(const char *src_folder, const char *item, const char *src_fld,
                      const char *dst_fld)
{
    return apr_psprintf(unit_pool,
                        "<Move><SrcMsgId>%s:%s</SrcMsgId><SrcFldId>%s</SrcFldId>"
                        "<DstFldId>%s</DstFldId></Move>",
                        src_folder, item, src_fld, dst_fld);
}

static void run(cmdtest_t *t, const iot_opts_t *o, const char *moves)
{
    iot_run(t, as_cmd_moveitems, "MoveItems", o,
            moves ? apr_pstrcat(unit_pool, MV_HEAD, moves, MV_TAIL, NULL) : NULL);
}

static const char *R(cmdtest_t *t, int i, const char *field)
{
    return xp(t->resp.doc,
              apr_psprintf(unit_pool, "/*/*[local-name()='Response'][%d]/*[local-name()='%s']", i,
                           field));
}

START_TEST(test_move_one)
{
    iot_opts_t o = {NULL, 0, 0, 0, db};
    cmdtest_t t;
    run(&t, &o, mv(inbox, id1, inbox, work));
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_int_eq(xp_count(t.resp.doc, "/*/*[local-name()='Response']"), 1);
    ck_assert_str_eq(R(&t, 1, "Status"), "3");
    ck_assert_str_eq(R(&t, 1, "SrcMsgId"), apr_pstrcat(unit_pool, inbox, ":", id1, NULL));
    ck_assert_str_eq(R(&t, 1, "DstMsgId"), apr_pstrcat(unit_pool, work, ":", id1, NULL));
    ck_assert_int_eq(iot_count(""), 2);
    ck_assert_int_eq(iot_count("Work"), 1);
    cmdtest_free(&t);
    /* and back from the new place, keeping the flags */
    run(&t, &o, mv(work, id1, work, inbox));
    ck_assert_str_eq(R(&t, 1, "Status"), "3");
    ck_assert_int_eq(iot_count(""), 3);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_move_many_in_order)
{
    cmdtest_t t;
    run(&t, NULL,
        apr_pstrcat(unit_pool, mv(inbox, id1, inbox, sub), /* 3 */
                    mv(inbox, id1, inbox, work),           /* 1: gone from INBOX */
                    mv(inbox, id2, inbox, inbox),          /* 4 */
                    mv(inbox, id2, inbox, "vvvvvvvv"),     /* 2: no such folder */
                    mv(inbox, id2, "vvvvvvvv", work),      /* 1: no such source folder */
                    mv(inbox, id2, work, sub),             /* 1: not in SrcFldId */
                    mv(inbox, "zz/zz", inbox, work),       /* 1: malformed id */
                    "<Move><SrcMsgId>nocolon</SrcMsgId><SrcFldId>x</SrcFldId>"
                    "<DstFldId>y</DstFldId></Move>", /* 1 */
                    apr_psprintf(unit_pool,
                                 "<Move><SrcMsgId>%s:%s</SrcMsgId><SrcFldId>%s</SrcFldId>"
                                 "</Move>",
                                 inbox, id3, inbox), /* 2: no DstFldId */
                    mv(inbox, id3, inbox, work),     /* 3 */
                    NULL));
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_int_eq(xp_count(t.resp.doc, "/*/*[local-name()='Response']"), 10);
    {
        static const char *const want[] = {"3", "1", "4", "2", "1", "1", "1", "1", "2", "3"};
        int i;
        for (i = 0; i < 10; i++) {
            ck_assert_msg(!strcmp(R(&t, i + 1, "Status"), want[i]), "move %d: status %s, want %s",
                          i + 1, R(&t, i + 1, "Status"), want[i]);
            ck_assert_int_eq(xp_count(t.resp.doc, apr_psprintf(unit_pool,
                                                               "/*/*[local-name()='Response'][%d]/"
                                                               "*[local-name()='DstMsgId']",
                                                               i + 1)),
                             want[i][0] == '3');
        }
    }
    ck_assert_str_eq(R(&t, 8, "SrcMsgId"), "nocolon");
    ck_assert_str_eq(R(&t, 10, "DstMsgId"), apr_pstrcat(unit_pool, work, ":", id3, NULL));
    ck_assert_int_eq(iot_count(""), 1);
    ck_assert_int_eq(iot_count("Work.Sub"), 1);
    ck_assert_int_eq(iot_count("Work"), 1);
    cmdtest_free(&t);
}
END_TEST

START_TEST(test_move_access_and_malformed)
{
    iot_opts_t off = {NULL, 1, 0, 0, NULL}, nostore = {NULL, 0, 1, 0, NULL};
    iot_opts_t v121 = {"12.1", 0, 0, 0, NULL};
    cmdtest_t t;

    run(&t, &off, mv(inbox, id1, inbox, work));
    ck_assert_str_eq(R(&t, 1, "Status"), "1");
    cmdtest_free(&t);
    run(&t, &nostore, mv(inbox, id1, inbox, work));
    ck_assert_str_eq(R(&t, 1, "Status"), "1");
    cmdtest_free(&t);
    ck_assert_int_eq(iot_count(""), 3);

    /* no Move, no body, another root, a Move without SrcMsgId */
    run(&t, NULL, "");
    ck_assert_str_eq(xp(t.resp.doc, "/*/*[local-name()='Status']"), "103");
    ck_assert_int_eq(xp_count(t.resp.doc, "/*/*[local-name()='Response']"), 0);
    cmdtest_free(&t);
    run(&t, NULL, NULL);
    ck_assert_str_eq(xp(t.resp.doc, "/*/*[local-name()='Status']"), "103");
    cmdtest_free(&t);
    run(&t, NULL, "<Move><SrcFldId>x</SrcFldId><DstFldId>y</DstFldId></Move>");
    ck_assert_str_eq(xp(t.resp.doc, "/*/*[local-name()='Status']"), "103");
    cmdtest_free(&t);
    iot_run(&t, as_cmd_moveitems, "MoveItems", NULL,
            "<Ping xmlns=\"Ping:\"><HeartbeatInterval>60</HeartbeatInterval></Ping>");
    ck_assert_str_eq(xp(t.resp.doc, "/*/*[local-name()='Status']"), "103");
    cmdtest_free(&t);
    /* before 14.0 there is no common status: HTTP 400 */
    run(&t, &v121, "");
    ck_assert_int_eq(t.rv, APR_EINVAL);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
    ck_assert_int_eq(iot_count(""), 3);
}
END_TEST

/* A device that synced both folders: after the move its state already has
 * the item in the destination and not in the source. */
START_TEST(test_move_noted_in_sync_state)
{
    iot_opts_t o = {NULL, 0, 0, 0, db};
    as_coll_state_t cs;
    as_sync_item_t items[3];
    cmdtest_t t;
    const char *ids[3] = {id1, id2, id3};
    int i;

    memset(&cs, 0, sizeof cs);
    cs.gen = 7;
    cs.n = 1;
    for (i = 0; i < 3; i++) {
        memset(&items[i], 0, sizeof items[i]);
        apr_cpystrn(items[i].id, ids[i], sizeof items[i].id);
    }
    qsort(items, 3, sizeof items[0], iot_item_cmp);
    cs.items = items;
    cs.nitems = 3;
    cs.items_loaded = 1;
    ck_assert_int_eq(as_coll_put(db, IOT_ACCT, IOT_DEV, inbox, 0, 0, &cs, NULL, 0), APR_SUCCESS);
    cs.nitems = 0;
    ck_assert_int_eq(as_coll_put(db, IOT_ACCT, IOT_DEV, work, 0, 0, &cs, NULL, 0), APR_SUCCESS);

    run(&t, &o, mv(inbox, id3, inbox, work));
    ck_assert_str_eq(R(&t, 1, "Status"), "3");
    cmdtest_free(&t);
    ck_assert_int_eq(as_coll_get(db, unit_pool, IOT_ACCT, IOT_DEV, inbox, 1, &cs), APR_SUCCESS);
    ck_assert_uint_eq(cs.nitems, 2);
    ck_assert_int_lt(as_coll_find(&cs, id3), 0);
    ck_assert_int_eq(as_coll_get(db, unit_pool, IOT_ACCT, IOT_DEV, work, 1, &cs), APR_SUCCESS);
    ck_assert_uint_eq(cs.nitems, 1);
    ck_assert_int_ge(as_coll_find(&cs, id3), 0);
    ck_assert_uint_eq(cs.items[as_coll_find(&cs, id3)].flags, AS_STORE_FLAGGED);
    ck_assert_uint_eq(cs.n, 1); /* keys unchanged */
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("moveitems");
    TCase *tc = tcase_create("moveitems");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_move_one);
    tcase_add_test(tc, test_move_many_in_order);
    tcase_add_test(tc, test_move_access_and_malformed);
    tcase_add_test(tc, test_move_noted_in_sync_state);
    suite_add_tcase(s, tc);
    return s;
}
