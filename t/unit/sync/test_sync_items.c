/* The Sync engine on a collection of another class than Email (contacts),
 * on the in-memory store of fakecoll.h: paging exact, changes detected by
 * ETag (an edit written by another program is a Change with the whole
 * item), client Add (ClientId -> ServerId, a resent Add creates nothing
 * twice), Change (what EAS does not carry kept; conflicts with both
 * policies, and a write racing ours), Delete, an unreadable item skipped
 * until it is edited, and the state records of both kinds. */
#include <apr_strings.h>

#include "activesync/as_sync_coll.h"
#include "activesync/as_sync_engine.h"
#include "fakecoll.h"
#include "synctest.h"

static fc_store_t *fc;

static void items_setup(void)
{
    st_setup();
    as_sync_index_configure(AS_SYNC_INDEX_BYTES); /* no listing of another test */
    fc = fc_open(st_base, ST_ACCT);
}

static void items_teardown(void)
{
    fc_close(fc);
    st_teardown();
}

static void run_open(engine_t *e)
{
    memset(e, 0, sizeof(*e));
    e->line.cmd = "Sync";
    e->line.device_id = ST_DEV;
    e->line.device_key = ST_DEV;
    e->req.pool = unit_pool;
    e->req.account = ST_ACCT;
    e->req.line = &e->line;
    e->req.protocol_version = "14.1";
    e->req.db = db;
    e->req.conf = &st_conf;
    e->req.access = &st_access;
    e->req.log = cmdtest_log;
    e->run.r = &e->req;
    e->run.dev = ST_DEV;
    e->run.proto = 141;
    e->run.global_left = -1;
    e->run.st = &fc->st;
    e->run.codec_of = fc_codec;
}

static void req_of(as_sync_coll_req_t *q, const char *key, int window, xmlDocPtr cmds)
{
    memset(q, 0, sizeof(*q));
    q->id = FC_FOLDER;
    q->key = key;
    q->get_changes = -1;
    q->window = window;
    q->deletes_as_moves = 1;
    q->conflict = 1;
    q->filter = 3; /* ignored for contacts */
    q->commands = cmds ? xmlDocGetRootElement(cmds) : NULL;
}

/* The device: ServerId -> FileAs. */
static apr_hash_t *dev;

/* One Sync of the address book; the reply stays in *res; its key. */
static const char *sync1(engine_t *e, const char *key, int window, const char *commands,
                         as_sync_coll_res_t *res)
{
    as_sync_coll_req_t q;
    xmlDocPtr cmds = commands ? cmdtest_tree(apr_pstrcat(unit_pool,
                                                         "<Commands xmlns=\"AirSync:\" "
                                                         "xmlns:c=\"Contacts:\">",
                                                         commands, "</Commands>", NULL))
                              : NULL;
    req_of(&q, key, window, cmds);
    ck_assert_int_eq(as_sync_collection(&e->run, &q, 1, res), APR_SUCCESS);
    if (cmds) {
        xmlFreeDoc(cmds);
    }
    ck_assert_str_eq(sx(res->doc, "//a:Collection/a:Status"), "1");
    return sx(res->doc, "//a:Collection/a:SyncKey");
}

/* Apply a reply's Commands to the device; returns MoreAvailable. */
static int apply(as_sync_coll_res_t *res, int *adds, int *changes, int *deletes)
{
    xmlXPathObjectPtr o = st_eval(res->doc, "//a:Commands/*");
    int i, n = o->nodesetval ? o->nodesetval->nodeNr : 0;
    for (i = 0; i < n; i++) {
        xmlNodePtr c = o->nodesetval->nodeTab[i];
        xmlChar *sid = xmlNodeGetContent(as_xml_child(c, "AirSync:", "ServerId"));
        xmlNodePtr app = as_xml_child(c, "AirSync:", "ApplicationData");
        xmlChar *fa = app ? xmlNodeGetContent(as_xml_child(app, "Contacts:", "FileAs")) : NULL;
        const char *k = apr_pstrdup(unit_pool, (const char *)sid);
        int have = apr_hash_get(dev, k, APR_HASH_KEY_STRING) != NULL;
        if (as_xml_is(c, "AirSync:", "Add")) {
            ck_assert_msg(!have, "duplicate Add of %s", k);
            ck_assert_ptr_nonnull(fa);
            apr_hash_set(dev, k, APR_HASH_KEY_STRING, apr_pstrdup(unit_pool, (const char *)fa));
            (*adds)++;
        } else if (as_xml_is(c, "AirSync:", "Change")) {
            ck_assert_msg(have, "Change of unknown %s", k);
            ck_assert_msg(fa != NULL, "a Change carries the whole item");
            apr_hash_set(dev, k, APR_HASH_KEY_STRING, apr_pstrdup(unit_pool, (const char *)fa));
            (*changes)++;
        } else {
            ck_assert_msg(have, "Delete of unknown %s", k);
            ck_assert(as_xml_is(c, "AirSync:", "Delete"));
            apr_hash_set(dev, k, APR_HASH_KEY_STRING, NULL);
            (*deletes)++;
        }
        xmlFree(sid);
        xmlFree(fa);
    }
    xmlXPathFreeObject(o);
    return sx_count(res->doc, "//a:Collection/a:MoreAvailable");
}

/* The device equals the store (ids and names). */
static void check_device(void)
{
    int i;
    ck_assert_int_eq((int)apr_hash_count(dev), fc_count(fc));
    for (i = 0; i < fc->n; i++) {
        const fc_item_t *it = &fc->items[i];
        const char *mine;
        if (!it->live) {
            continue;
        }
        mine = apr_hash_get(dev, apr_pstrcat(unit_pool, FC_FOLDER ":", it->id, NULL),
                            APR_HASH_KEY_STRING);
        ck_assert_msg(mine != NULL, "%s missing on the device", it->id);
        ck_assert_msg(!strncmp(it->data + 3, mine, strlen(mine)), "%s: device %s, store %s", it->id,
                      mine, it->data);
    }
}

/* Sync until nothing more; the key, and the numbers of each change. */
static const char *sync_through(engine_t *e, const char *key, int window, int *pages, int *adds,
                                int *changes, int *deletes)
{
    int more;
    *pages = *adds = *changes = *deletes = 0;
    do {
        as_sync_coll_res_t res;
        int a = 0, c = 0, d = 0;
        key = sync1(e, key, window, NULL, &res);
        more = apply(&res, &a, &c, &d);
        ck_assert_int_le(a + c + d, window);
        *adds += a;
        *changes += c;
        *deletes += d;
        as_sync_coll_res_reset(&res);
        ck_assert_int_lt(++*pages, 100);
    } while (more);
    return key;
}

static const char *start(engine_t *e)
{
    as_sync_coll_res_t res;
    const char *key;
    dev = apr_hash_make(unit_pool);
    run_open(e);
    key = sync1(e, "0", 100, NULL, &res);
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands"), 0);
    as_sync_coll_res_reset(&res);
    return key;
}

static void fill(int n)
{
    int i;
    for (i = 0; i < n; i++) {
        fc_put(fc, apr_psprintf(unit_pool, "c%d", i),
               apr_psprintf(unit_pool, "FN:Person %d\nX-KEEP:%d\n", i, i));
    }
}

START_TEST(test_items_pages_and_etags)
{
    engine_t e;
    const char *key, *k2;
    int pages, adds, changes, deletes;
    as_coll_state_t cs;

    fill(25);
    key = start(&e);
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(adds, 25);
    ck_assert_int_eq(pages, 3);
    check_device();
    /* in step: the key stays */
    k2 = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_str_eq(k2, key);
    ck_assert_int_eq(adds + changes + deletes, 0);
    /* another program edits one (same size), removes one, adds one */
    fc_put(fc, "c3", "FN:Person 9\nX-KEEP:3\n");
    fc_remove(fc, "c7");
    fc_put(fc, "c99", "FN:Newcomer\n");
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(adds, 1);
    ck_assert_int_eq(changes, 1);
    ck_assert_int_eq(deletes, 1);
    check_device();
    /* the state records ETag digests (item record version 2) */
    ck_assert_int_eq(as_coll_get(db, unit_pool, ST_ACCT, ST_DEV, FC_FOLDER, 1, &cs), APR_SUCCESS);
    ck_assert(cs.etags);
    ck_assert_int_eq(cs.nitems, 25);
    ck_assert(cs.items[0].etag != 0);
}
END_TEST

/* The Responses/Add of ClientId cid in a reply: its ServerId. */
static const char *added_sid(as_sync_coll_res_t *res, const char *cid)
{
    const char *base = apr_psprintf(unit_pool, "//a:Responses/a:Add[a:ClientId='%s']", cid);
    ck_assert_int_eq(sx_count(res->doc, base), 1);
    ck_assert_str_eq(sx(res->doc, apr_pstrcat(unit_pool, base, "/a:Status", NULL)), "1");
    return sx(res->doc, apr_pstrcat(unit_pool, base, "/a:ServerId", NULL));
}

START_TEST(test_items_client_add_idempotent)
{
    engine_t e;
    as_sync_coll_res_t res;
    const char *key, *k1, *k2, *sid, *sid2;
    const char *add = "<Add><ClientId>phone-1</ClientId><ApplicationData>"
                      "<c:FileAs>Made On Phone</c:FileAs></ApplicationData></Add>";
    int pages, adds, changes, deletes;

    fill(2);
    key = start(&e);
    k1 = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    k2 = sync1(&e, k1, 10, add, &res);
    ck_assert_str_ne(k2, k1);
    sid = added_sid(&res, "phone-1");
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands"), 0); /* not echoed */
    as_sync_coll_res_reset(&res);
    ck_assert_int_eq(fc->adds, 1);
    ck_assert_int_eq(fc_count(fc), 3);
    ck_assert_str_eq(fc_find(fc, strchr(sid, ':') + 1)->data, "FN:Made On Phone\n");
    apr_hash_set(dev, sid, APR_HASH_KEY_STRING, "Made On Phone");
    /* the reply was lost: the resend of key N-1 gets the same answer */
    ck_assert_str_eq(sync1(&e, k1, 10, add, &res), k2);
    ck_assert_str_eq(added_sid(&res, "phone-1"), sid);
    as_sync_coll_res_reset(&res);
    /* the phone sends the same Add again with the new key: nothing is made */
    key = sync1(&e, k2, 10, add, &res);
    ck_assert_str_eq(added_sid(&res, "phone-1"), sid);
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands"), 0);
    as_sync_coll_res_reset(&res);
    ck_assert_int_eq(fc->adds, 1);
    ck_assert_int_eq(fc_count(fc), 3);
    /* a second, different Add makes a second item */
    key = sync1(&e, key, 10,
                "<Add><ClientId>phone-2</ClientId><ApplicationData>"
                "<c:FileAs>Second</c:FileAs></ApplicationData></Add>",
                &res);
    sid2 = added_sid(&res, "phone-2");
    ck_assert_str_ne(sid2, sid);
    as_sync_coll_res_reset(&res);
    apr_hash_set(dev, sid2, APR_HASH_KEY_STRING, "Second");
    ck_assert_int_eq(fc_count(fc), 4);
    /* an Add that cannot make an item: Status 6, nothing made */
    key = sync1(&e, key, 10, "<Add><ClientId>bad</ClientId><ApplicationData/></Add>", &res);
    ck_assert_str_eq(sx(res.doc, "//a:Responses/a:Add[a:ClientId='bad']/a:Status"), "6");
    as_sync_coll_res_reset(&res);
    ck_assert_int_eq(fc_count(fc), 4);
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(adds + changes + deletes, 0);
    check_device();
}
END_TEST

static const char *change_xml(const char *id, const char *name)
{
    return apr_psprintf(unit_pool,
                        "<Change><ServerId>" FC_FOLDER ":%s</ServerId><ApplicationData>"
                        "<c:FileAs>%s</c:FileAs></ApplicationData></Change>",
                        id, name);
}

START_TEST(test_items_client_change_delete)
{
    engine_t e;
    as_sync_coll_res_t res;
    const char *key;
    int pages, adds, changes, deletes;

    fill(3);
    key = start(&e);
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    key = sync1(&e, key, 10,
                apr_pstrcat(unit_pool, change_xml("c1", "Renamed"),
                            "<Delete><ServerId>" FC_FOLDER ":c2</ServerId></Delete>", NULL),
                &res);
    ck_assert_int_eq(sx_count(res.doc, "//a:Responses"), 0); /* both went well */
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands"), 0);
    as_sync_coll_res_reset(&res);
    /* what EAS does not carry is still there */
    ck_assert_str_eq(fc_find(fc, "c1")->data, "FN:Renamed\nX-KEEP:1\n");
    ck_assert_ptr_null(fc_find(fc, "c2"));
    apr_hash_set(dev, FC_FOLDER ":c1", APR_HASH_KEY_STRING, "Renamed");
    apr_hash_set(dev, FC_FOLDER ":c2", APR_HASH_KEY_STRING, NULL);
    /* nothing echoed afterwards */
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(adds + changes + deletes, 0);
    check_device();
    /* a Change of an item gone: Status 8 */
    key = sync1(&e, key, 10, change_xml("c2", "Ghost"), &res);
    ck_assert_str_eq(sx(res.doc, "//a:Responses/a:Change/a:Status"), "8");
    as_sync_coll_res_reset(&res);
}
END_TEST

START_TEST(test_items_conflicts)
{
    engine_t e;
    as_sync_coll_res_t res;
    as_sync_coll_req_t q;
    xmlDocPtr cmds;
    const char *key;
    int pages, adds, changes, deletes, a = 0, c = 0, d = 0;

    fill(2);
    key = start(&e);
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    /* server wins (default): the server's edit stays and goes to the device */
    fc_put(fc, "c0", "FN:Server Edit\nX-KEEP:0\n");
    key = sync1(&e, key, 10, change_xml("c0", "Phone Edit"), &res);
    ck_assert_str_eq(sx(res.doc, "//a:Responses/a:Change/a:Status"), "7");
    apply(&res, &a, &c, &d);
    ck_assert_int_eq(c, 1);
    as_sync_coll_res_reset(&res);
    ck_assert_str_eq(fc_find(fc, "c0")->data, "FN:Server Edit\nX-KEEP:0\n");
    check_device();
    /* a write between our read and our write: a conflict too */
    fc->replace_race = 1;
    key = sync1(&e, key, 10, change_xml("c1", "Raced"), &res);
    ck_assert_str_eq(sx(res.doc, "//a:Responses/a:Change/a:Status"), "7");
    c = 0;
    apply(&res, &a, &c, &d);
    ck_assert_int_eq(c, 1); /* the other program's version, in the same reply */
    as_sync_coll_res_reset(&res);
    ck_assert_str_eq(fc_find(fc, "c1")->data, "FN:Person 1\nX-KEEP:1\n");
    check_device();
    /* client wins (Conflict 0): the phone's version replaces the server's */
    fc_put(fc, "c0", "FN:Server Again\nX-KEEP:0\n");
    cmds =
        cmdtest_tree(apr_pstrcat(unit_pool, "<Commands xmlns=\"AirSync:\" xmlns:c=\"Contacts:\">",
                                 change_xml("c0", "Phone Wins"), "</Commands>", NULL));
    req_of(&q, key, 10, cmds);
    q.conflict = 0;
    ck_assert_int_eq(as_sync_collection(&e.run, &q, 1, &res), APR_SUCCESS);
    xmlFreeDoc(cmds);
    ck_assert_int_eq(sx_count(res.doc, "//a:Responses"), 0);
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands"), 0);
    key = sx(res.doc, "//a:Collection/a:SyncKey");
    as_sync_coll_res_reset(&res);
    ck_assert_str_eq(fc_find(fc, "c0")->data, "FN:Phone Wins\nX-KEEP:0\n");
    apr_hash_set(dev, FC_FOLDER ":c0", APR_HASH_KEY_STRING, "Phone Wins");
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(adds + changes + deletes, 0);
    check_device();
}
END_TEST

START_TEST(test_items_unreadable_skipped)
{
    engine_t e;
    const char *key;
    int pages, adds, changes, deletes;

    fill(3);
    fc_put(fc, "bad", "this is not a contact");
    key = start(&e);
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(adds, 3);
    /* not offered again while it stays as it is */
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(adds + changes + deletes, 0);
    /* repaired by another program: it comes */
    fc_put(fc, "bad", "FN:Repaired\n");
    key = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(adds, 1);
    check_device();
}
END_TEST

/* A device that resends key N-1: reply N's Changes are undone with the
 * ETags the set had, so the rebuilt reply still carries one of them and
 * the others follow. */
START_TEST(test_items_loop_detection_keeps_changes)
{
    engine_t e;
    as_sync_coll_res_t res;
    const char *k1, *k2, *key;
    int pages, adds, changes, deletes, i, a = 0, c = 0, d = 0;

    fill(4);
    key = start(&e);
    k1 = sync_through(&e, key, 10, &pages, &adds, &changes, &deletes);
    for (i = 0; i < 3; i++) {
        fc_put(fc, apr_psprintf(unit_pool, "c%d", i),
               apr_psprintf(unit_pool, "FN:Edited %d\nX-KEEP:%d\n", i, i));
    }
    k2 = sync1(&e, k1, 10, NULL, &res);
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands/a:Change"), 3);
    as_sync_coll_res_reset(&res);
    for (i = 0; i < 2; i++) { /* a lost reply: the same again */
        ck_assert_str_eq(sync1(&e, k1, 10, NULL, &res), k2);
        ck_assert_int_eq(sx_count(res.doc, "//a:Commands/a:Change"), 3);
        as_sync_coll_res_reset(&res);
    }
    /* the third resend: rebuilt from the set at N-1 with one change */
    ck_assert_str_eq(sync1(&e, k1, 10, NULL, &res), k2);
    ck_assert_int_eq(sx_count(res.doc, "//a:Commands/a:Change"), 1);
    apply(&res, &a, &c, &d);
    as_sync_coll_res_reset(&res);
    key = sync_through(&e, k2, 10, &pages, &adds, &changes, &deletes);
    ck_assert_int_eq(changes, 2);
    check_device();
}
END_TEST

START_TEST(test_items_state_records)
{
    as_coll_state_t cs, rd;
    as_sync_item_t items[2] = {{"a1", 0, 0x1122334455667788ULL}, {"b2", 0, 7}};
    as_sync_item_t mail[1] = {{"m1", AS_STORE_SEEN, 0}};

    /* a collection of contacts: ETags and ClientIds kept */
    memset(&cs, 0, sizeof(cs));
    cs.gen = 0x1234;
    cs.n = 3;
    cs.nitems = 2;
    cs.items = items;
    cs.items_loaded = 1;
    cs.etags = 1;
    cs.clientids = apr_array_make(unit_pool, 1, sizeof(as_sync_clientid_t));
    ((as_sync_clientid_t *)apr_array_push(cs.clientids))->client_id = "cid-1";
    apr_cpystrn(APR_ARRAY_IDX(cs.clientids, 0, as_sync_clientid_t).id, "b2", 17);
    ck_assert_int_eq(as_coll_put(db, ST_ACCT, ST_DEV, "v9", 0, 0, &cs, NULL, 0), APR_SUCCESS);
    ck_assert_int_eq(as_coll_get(db, unit_pool, ST_ACCT, ST_DEV, "v9", 1, &rd), APR_SUCCESS);
    ck_assert(rd.etags);
    ck_assert_int_eq(rd.nitems, 2);
    ck_assert(rd.items[0].etag == 0x1122334455667788ULL);
    ck_assert(rd.items[1].etag == 7);
    ck_assert_int_eq(rd.clientids->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(rd.clientids, 0, as_sync_clientid_t).client_id, "cid-1");
    ck_assert_str_eq(APR_ARRAY_IDX(rd.clientids, 0, as_sync_clientid_t).id, "b2");
    /* a mail collection: the record as it always was (version 1, 20 bytes
     * an item), so states written before read the same */
    memset(&cs, 0, sizeof(cs));
    cs.gen = 0x1234;
    cs.n = 1;
    cs.nitems = 1;
    cs.items = mail;
    cs.items_loaded = 1;
    ck_assert_int_eq(as_coll_put(db, ST_ACCT, ST_DEV, "m9", 0, 0, &cs, NULL, 0), APR_SUCCESS);
    ck_assert_int_eq(as_coll_get(db, unit_pool, ST_ACCT, ST_DEV, "m9", 1, &rd), APR_SUCCESS);
    ck_assert(!rd.etags);
    ck_assert_ptr_null(rd.clientids);
    ck_assert_int_eq(rd.items[0].flags, AS_STORE_SEEN);
    ck_assert(rd.items[0].etag == 0);
    ck_assert(as_sync_etag_digest(NULL) == 0);
    ck_assert(as_sync_etag_digest("") != 0);
    ck_assert(as_sync_etag_digest("\"a\"") != as_sync_etag_digest("\"b\""));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sync_items");
    TCase *tc = tcase_create("engine");
    tcase_add_checked_fixture(tc, items_setup, items_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_items_pages_and_etags);
    tcase_add_test(tc, test_items_client_add_idempotent);
    tcase_add_test(tc, test_items_client_change_delete);
    tcase_add_test(tc, test_items_conflicts);
    tcase_add_test(tc, test_items_unreadable_skipped);
    tcase_add_test(tc, test_items_loop_detection_keeps_changes);
    tcase_add_test(tc, test_items_state_records);
    suite_add_tcase(s, tc);
    return s;
}
