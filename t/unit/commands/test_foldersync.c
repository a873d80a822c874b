/* FolderSync, FolderCreate, FolderUpdate, FolderDelete on a generated
 * Maildir: the initial hierarchy, deltas for folders added, renamed and
 * removed on disk, the resent key, unknown keys, the folder commands'
 * statuses, email off; and the sync state records (keys, stale writes). */
#include "synctest.h"

static const char *fs_xml(const char *key)
{
    return apr_psprintf(unit_pool,
                        "<FolderSync xmlns=\"FolderHierarchy:\"><SyncKey>%s</SyncKey></FolderSync>",
                        key);
}

static const char *folder_sync(cmdtest_t *t, const char *key)
{
    st_run(t, as_cmd_foldersync, "FolderSync", fs_xml(key));
    ck_assert_ptr_nonnull(t->resp.doc);
    cmdtest_validate(t->resp.doc);
    return sx(t->resp.doc, "/f:FolderSync/f:SyncKey");
}

START_TEST(initial_and_disk_deltas)
{
    cmdtest_t t;
    const char *k1, *k2, *k3, *b1, *b2;
    apr_size_t l1, l2;
    char from[800], to[800];

    mg_folder(st_root, "Sent");
    mg_folder(st_root, "Trash");
    mg_folder(st_root, "Drafts");
    mg_folder(st_root, "Work");
    mg_folder(st_root, "Work.Projects");
    k1 = folder_sync(&t, "0");
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderSync/f:Status"), "1");
    ck_assert_str_eq(sx(t.resp.doc, "//f:Changes/f:Count"), "6");
    ck_assert_str_eq(sx(t.resp.doc, "//f:Add[f:Type='2']/f:ParentId"), "0");
    ck_assert_str_eq(sx(t.resp.doc, "//f:Add[f:DisplayName='Sent']/f:Type"), "5");
    ck_assert_str_eq(sx(t.resp.doc, "//f:Add[f:DisplayName='Trash']/f:Type"), "4");
    ck_assert_str_eq(sx(t.resp.doc, "//f:Add[f:DisplayName='Projects']/f:ParentId"),
                     sx(t.resp.doc, "//f:Add[f:DisplayName='Work']/f:ServerId"));
    cmdtest_free(&t);
    /* no change: same key, Count 0 */
    k2 = folder_sync(&t, k1);
    ck_assert_str_eq(k1, k2);
    ck_assert_str_eq(sx(t.resp.doc, "//f:Changes/f:Count"), "0");
    cmdtest_free(&t);
    /* another program adds, renames and removes folders */
    mg_folder(st_root, "Lists");
    snprintf(from, sizeof from, "%s/.Drafts", st_root);
    mg_rmtree(from);
    snprintf(from, sizeof from, "%s/.Work.Projects", st_root);
    snprintf(to, sizeof to, "%s/.Work.Archive", st_root);
    ck_assert_int_eq(rename(from, to), 0);
    k2 = folder_sync(&t, k1);
    ck_assert_str_ne(k1, k2);
    ck_assert_int_eq(sx_count(t.resp.doc, "//f:Add[f:DisplayName='Lists']"), 1);
    ck_assert_int_eq(sx_count(t.resp.doc, "//f:Add[f:DisplayName='Archive']"), 1);
    ck_assert_int_eq(sx_count(t.resp.doc, "//f:Delete"), 2); /* Drafts, Projects */
    b1 = st_wbxml(t.resp.doc, &l1);
    cmdtest_free(&t);
    /* lost reply: k1 again gives the same bytes */
    k3 = folder_sync(&t, k1);
    ck_assert_str_eq(k2, k3);
    b2 = st_wbxml(t.resp.doc, &l2);
    ck_assert(l1 == l2 && memcmp(b1, b2, l1) == 0);
    cmdtest_free(&t);
    k3 = folder_sync(&t, k2);
    ck_assert_str_eq(k2, k3);
    ck_assert_str_eq(sx(t.resp.doc, "//f:Changes/f:Count"), "0");
    cmdtest_free(&t);
    /* unknown keys: 9 */
    st_run(&t, as_cmd_foldersync, "FolderSync", fs_xml("{01234567}5"));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderSync/f:Status"), "9");
    cmdtest_free(&t);
    /* k1 is still N-1 (no change since): replayed, not refused */
    st_run(&t, as_cmd_foldersync, "FolderSync", fs_xml(k1));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderSync/f:Status"), "1");
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderSync/f:SyncKey"), k2);
    cmdtest_free(&t);
    /* another device has its own state */
    st_run_dev(&t, as_cmd_foldersync, "FolderSync", "DEV2", "14.1", fs_xml(k2));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderSync/f:Status"), "9");
    cmdtest_free(&t);
}
END_TEST

static const char *create_xml(const char *key, const char *parent, const char *name,
                              const char *type)
{
    return apr_psprintf(unit_pool,
                        "<FolderCreate xmlns=\"FolderHierarchy:\"><SyncKey>%s</SyncKey><ParentId>%s"
                        "</ParentId><DisplayName>%s</DisplayName><Type>%s</Type></FolderCreate>",
                        key, parent, name, type);
}

START_TEST(folder_commands)
{
    cmdtest_t t;
    const char *k, *id, *inbox, *trash;

    mg_folder(st_root, "Trash");
    k = folder_sync(&t, "0");
    inbox = sx(t.resp.doc, "//f:Add[f:Type='2']/f:ServerId");
    trash = sx(t.resp.doc, "//f:Add[f:Type='4']/f:ServerId");
    cmdtest_free(&t);
    st_run(&t, as_cmd_foldercreate, "FolderCreate", create_xml(k, "0", "Work", "12"));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderCreate/f:Status"), "1");
    id = sx(t.resp.doc, "/f:FolderCreate/f:ServerId");
    k = sx(t.resp.doc, "/f:FolderCreate/f:SyncKey");
    cmdtest_free(&t);
    /* FolderSync does not report it again */
    ck_assert_str_eq(folder_sync(&t, k), k);
    ck_assert_str_eq(sx(t.resp.doc, "//f:Changes/f:Count"), "0");
    cmdtest_free(&t);
    st_run(&t, as_cmd_foldercreate, "FolderCreate", create_xml(k, "0", "Work", "12"));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderCreate/f:Status"), "2");
    cmdtest_free(&t);
    st_run(&t, as_cmd_foldercreate, "FolderCreate", create_xml(k, "nosuch12", "X", "12"));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderCreate/f:Status"), "5");
    cmdtest_free(&t);
    st_run(&t, as_cmd_foldercreate, "FolderCreate", create_xml("{00000001}1", "0", "Y", "12"));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderCreate/f:Status"), "9");
    cmdtest_free(&t);
    st_run(&t, as_cmd_foldercreate, "FolderCreate", create_xml(k, "0", "Cal", "13"));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderCreate/f:Status"), "10");
    cmdtest_free(&t);
    /* rename into Inbox */
    st_run(&t, as_cmd_folderupdate, "FolderUpdate",
           apr_psprintf(unit_pool,
                        "<FolderUpdate xmlns=\"FolderHierarchy:\"><SyncKey>%s</SyncKey><ServerId>%s"
                        "</ServerId><ParentId>%s</ParentId><DisplayName>Job</DisplayName>"
                        "</FolderUpdate>",
                        k, id, inbox));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderUpdate/f:Status"), "1");
    k = sx(t.resp.doc, "/f:FolderUpdate/f:SyncKey");
    cmdtest_free(&t);
    ck_assert_str_eq(folder_sync(&t, k), k);
    ck_assert_str_eq(sx(t.resp.doc, "//f:Changes/f:Count"), "0");
    cmdtest_free(&t);
    /* special folders cannot be renamed or deleted; unknown ones are 4 */
    st_run(&t, as_cmd_folderupdate, "FolderUpdate",
           apr_psprintf(unit_pool,
                        "<FolderUpdate xmlns=\"FolderHierarchy:\"><SyncKey>%s</SyncKey><ServerId>%s"
                        "</ServerId><ParentId>0</ParentId><DisplayName>Bin</DisplayName>"
                        "</FolderUpdate>",
                        k, trash));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderUpdate/f:Status"), "3");
    cmdtest_free(&t);
    st_run(&t, as_cmd_folderdelete, "FolderDelete",
           apr_psprintf(unit_pool,
                        "<FolderDelete xmlns=\"FolderHierarchy:\"><SyncKey>%s</SyncKey><ServerId>%s"
                        "</ServerId></FolderDelete>",
                        k, inbox));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderDelete/f:Status"), "3");
    cmdtest_free(&t);
    st_run(&t, as_cmd_folderdelete, "FolderDelete",
           apr_psprintf(unit_pool,
                        "<FolderDelete xmlns=\"FolderHierarchy:\"><SyncKey>%s</SyncKey><ServerId>"
                        "nosuch12</ServerId></FolderDelete>",
                        k));
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderDelete/f:Status"), "4");
    cmdtest_free(&t);
    st_run(&t, as_cmd_folderdelete, "FolderDelete",
           apr_psprintf(unit_pool,
                        "<FolderDelete xmlns=\"FolderHierarchy:\"><SyncKey>%s</SyncKey><ServerId>%s"
                        "</ServerId></FolderDelete>",
                        k, id));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderDelete/f:Status"), "1");
    k = sx(t.resp.doc, "/f:FolderDelete/f:SyncKey");
    cmdtest_free(&t);
    ck_assert_str_eq(folder_sync(&t, k), k);
    ck_assert_str_eq(sx(t.resp.doc, "//f:Changes/f:Count"), "0");
    cmdtest_free(&t);
}
END_TEST

START_TEST(email_off)
{
    cmdtest_t t;
    const char *k;
    mg_folder(st_root, "Sent");
    st_email_off = 1;
    k = folder_sync(&t, "0");
    ck_assert_str_eq(sx(t.resp.doc, "//f:Changes/f:Count"), "0");
    cmdtest_free(&t);
    st_run(&t, as_cmd_foldercreate, "FolderCreate", create_xml(k, "0", "Work", "12"));
    cmdtest_validate(t.resp.doc);
    ck_assert_str_eq(sx(t.resp.doc, "/f:FolderCreate/f:Status"), "5");
    cmdtest_free(&t);
    /* turned on: the folders arrive as Adds */
    st_email_off = 0;
    folder_sync(&t, k);
    ck_assert_str_eq(sx(t.resp.doc, "//f:Changes/f:Count"), "2");
    cmdtest_free(&t);
}
END_TEST

START_TEST(state_records)
{
    apr_uint32_t g, n;
    as_coll_state_t cs, rd;
    as_sync_item_t items[3] = {{"a1", 1, 0}, {"b2", 2, 0}, {"c3", 3, 0}};
    const char *xml;
    apr_size_t len;

    ck_assert(as_synckey_parse("{0000abcd}12", &g, &n) && g == 0xabcd && n == 12);
    ck_assert(!as_synckey_parse("{0000abcd}0", &g, &n));
    ck_assert(!as_synckey_parse("{0000abcd}012", &g, &n));
    ck_assert(!as_synckey_parse("{0000ABCD}1", &g, &n));
    ck_assert(!as_synckey_parse("0", &g, &n));
    ck_assert_str_eq(as_synckey_format(unit_pool, 0xabcd, 3), "{0000abcd}3");
    ck_assert_int_eq(as_synckey_match("{0000abcd}3", 0xabcd, 3), AS_KEY_CURRENT);
    ck_assert_int_eq(as_synckey_match("{0000abcd}2", 0xabcd, 3), AS_KEY_PREVIOUS);
    ck_assert_int_eq(as_synckey_match("{0000abcd}1", 0xabcd, 3), AS_KEY_UNKNOWN);
    ck_assert_int_eq(as_synckey_match("{0000abce}3", 0xabcd, 3), AS_KEY_UNKNOWN);
    ck_assert_int_eq(as_synckey_match("0", 0xabcd, 3), AS_KEY_INITIAL);

    memset(&cs, 0, sizeof(cs));
    cs.gen = 7;
    cs.n = 1;
    cs.token = "tok";
    cs.items = items;
    cs.nitems = 3;
    cs.items_loaded = 1;
    ck_assert_int_eq(as_coll_put(db, ST_ACCT, ST_DEV, "f1", 0, 0, &cs, "<x/>", 4), APR_SUCCESS);
    /* a writer that read an older state is refused */
    ck_assert_int_eq(as_coll_put(db, ST_ACCT, ST_DEV, "f1", 0, 0, &cs, NULL, 0), AS_SYNC_ESTALE);
    ck_assert_int_eq(as_coll_get(db, unit_pool, ST_ACCT, ST_DEV, "f1", 1, &rd), APR_SUCCESS);
    ck_assert_uint_eq(rd.gen, 7);
    ck_assert_uint_eq(rd.nitems, 3);
    ck_assert_str_eq(rd.token, "tok");
    ck_assert_int_eq(as_coll_find(&rd, "b2"), 1);
    ck_assert_uint_eq(rd.items[2].flags, 3);
    ck_assert_int_eq(as_coll_find(&rd, "zz"), -1);
    ck_assert_int_eq(as_coll_get_reply(db, unit_pool, ST_ACCT, ST_DEV, "f1", &n, &xml, &len),
                     APR_SUCCESS);
    ck_assert_uint_eq(n, 1);
    ck_assert_str_eq(xml, "<x/>");
    /* moves noted by MoveItems */
    ck_assert_int_eq(as_sync_note_moved(db, ST_ACCT, ST_DEV, "f1", "a1", "f2", "zz", 1),
                     APR_SUCCESS);
    ck_assert_int_eq(as_coll_get(db, unit_pool, ST_ACCT, ST_DEV, "f1", 1, &rd), APR_SUCCESS);
    ck_assert_uint_eq(rd.nitems, 2);
    ck_assert_ptr_null(rd.token);
    /* other devices and accounts are separate; dropping a device */
    ck_assert_int_eq(as_coll_get(db, unit_pool, ST_ACCT, "DEV", "f1", 0, &rd), APR_SUCCESS);
    ck_assert_uint_eq(rd.n, 0);
    ck_assert_int_eq(as_sync_cache_put(db, ST_ACCT, ST_DEV, "<q/>", 4), APR_SUCCESS);
    ck_assert_int_eq(as_syncstate_drop_device(db, ST_ACCT, ST_DEV), APR_SUCCESS);
    ck_assert_int_eq(as_coll_get(db, unit_pool, ST_ACCT, ST_DEV, "f1", 0, &rd), APR_SUCCESS);
    ck_assert_uint_eq(rd.n, 0);
    ck_assert_int_eq(as_sync_cache_get(db, unit_pool, ST_ACCT, ST_DEV, &xml, &len), APR_SUCCESS);
    ck_assert_ptr_null(xml);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("foldersync");
    TCase *tc = tcase_create("foldersync");
    tcase_add_checked_fixture(tc, st_setup, st_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, initial_and_disk_deltas);
    tcase_add_test(tc, folder_commands);
    tcase_add_test(tc, email_off);
    tcase_add_test(tc, state_records);
    suite_add_tcase(s, tc);
    return s;
}
