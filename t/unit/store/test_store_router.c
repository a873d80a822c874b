/* The store router (as_store_router.h): one hierarchy over a Maildir and a
 * collection store -- mail folders first, each id served by its own store,
 * one hierarchy token that changes with either and is unsettled when
 * either is, typed folder creation and special folders sent to the right
 * store, no move between stores. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>

#include "activesync/as_collections.h"
#include "activesync/as_maildir.h"
#include "activesync/as_store_router.h"
#include "collgen.h"
#include "unit.h"

#define ALL_CLASSES ((1u << AS_CLASS_COUNT) - 1)

static char tmp[512];
static const char *mdir, *croot;
static as_store_t *mail, *coll, *st;

static time_t back = 100;

static void set_past(const char *path)
{
    struct timespec ts[2] = {{time(NULL) - back, 0}, {time(NULL) - back, 0}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Every directory time the tokens read, moved into the past: settled. */
static void settle(void)
{
    static const char *const colls[] = {"contacts", "calendar", "tasks", "notes"};
    int i;
    set_past(mdir);
    set_past(apr_pstrcat(unit_pool, mdir, "/cur", NULL));
    set_past(apr_pstrcat(unit_pool, mdir, "/new", NULL));
    set_past(croot);
    for (i = 0; i < 4; i++) {
        const char *d = apr_pstrcat(unit_pool, croot, "/", colls[i], NULL);
        set_past(d);
        set_past(apr_pstrcat(unit_pool, d, "/.Radicale.props", NULL));
    }
}

static void setup(void)
{
    unit_pool_setup();
    mg_tmpdir(tmp, sizeof tmp, "router");
    mdir = apr_pstrcat(unit_pool, tmp, "/Maildir", NULL);
    croot = apr_pstrcat(unit_pool, tmp, "/coll", NULL);
    mkdir(mdir, 0700);
    mg_folder(mdir, "");
    mg_folder(mdir, "Sent");
    ck_assert_int_eq(as_maildir_open(unit_pool, mdir, "jo@example.com", NULL, 0, NULL, &mail),
                     APR_SUCCESS);
    ck_assert_int_eq(
        as_collections_open(unit_pool, croot, "jo@example.com", ALL_CLASSES, 1, NULL, &coll),
        APR_SUCCESS);
    ck_assert_int_eq(as_store_router_open(unit_pool, mail, coll, NULL, &st), APR_SUCCESS);
}

static void teardown(void)
{
    mg_rmtree(tmp);
    unit_pool_teardown();
}

START_TEST(one_hierarchy)
{
    apr_array_header_t *fs, *items, *paths;
    const char *tok, *cid = NULL, *mid = NULL;
    int i, seen_coll = 0;
    char v[512];

    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, &tok), APR_SUCCESS);
    ck_assert_int_eq(fs->nelts, 2 + 4);
    ck_assert_int_eq(APR_ARRAY_IDX(fs, 0, as_store_folder_t).type, AS_FOLDER_INBOX);
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        const as_store_folder_t *g;
        int is_coll = f->type >= AS_FOLDER_TASKS && f->type <= AS_FOLDER_NOTES;
        ck_assert(!seen_coll || is_coll); /* mail first, then the collections */
        seen_coll |= is_coll;
        ck_assert_int_eq(strlen(f->id), is_coll ? 10 : 8);
        ck_assert_int_eq(as_store_get_folder(st, f->id, unit_pool, &g), APR_SUCCESS);
        ck_assert_str_eq(g->id, f->id);
        ck_assert_int_eq(g->type, f->type);
        if (f->type == AS_FOLDER_CONTACTS) {
            cid = f->id;
        } else if (f->type == AS_FOLDER_INBOX) {
            mid = f->id;
        }
    }
    /* item operations reach the owner */
    cg_vcard(v, sizeof v, "r1", "Router");
    ck_assert_int_eq(as_store_add_item(st, cid, "r1", v, strlen(v), unit_pool, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_list_items(st, cid, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    ck_assert_int_eq(as_store_watch_paths(st, cid, unit_pool, &paths), APR_SUCCESS);
    ck_assert_str_eq(APR_ARRAY_IDX(paths, 0, const char *),
                     apr_pstrcat(unit_pool, croot, "/contacts", NULL));
    ck_assert_int_eq(as_store_watch_paths(st, mid, unit_pool, &paths), APR_SUCCESS);
    ck_assert_int_eq(paths->nelts, 2); /* new/ and cur/ */
    ck_assert_int_eq(as_store_add_item(st, mid, NULL, v, strlen(v), unit_pool, NULL, NULL),
                     AS_STORE_ENOTSUP);
    ck_assert_int_eq(as_store_set_flags(st, cid, APR_ARRAY_IDX(items, 0, as_store_item_t).id,
                                        AS_STORE_SEEN, 0, NULL),
                     AS_STORE_ENOTSUP);
    ck_assert_int_eq(as_store_move_item(st, cid, APR_ARRAY_IDX(items, 0, as_store_item_t).id, mid,
                                        unit_pool, NULL),
                     AS_STORE_ENOTSUP);
    ck_assert_int_eq(as_store_list_items(st, "vzzzzzzzzz", unit_pool, &items, NULL), APR_ENOENT);
}
END_TEST

START_TEST(typed_and_special)
{
    const char *id;

    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_CONTACTS, 0, unit_pool, &id),
                     APR_SUCCESS);
    ck_assert_int_eq(strlen(id), 10);
    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_SENT, 0, unit_pool, &id), APR_SUCCESS);
    ck_assert_int_eq(strlen(id), 8);
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "Friends", AS_FOLDER_USER_CONTACTS, unit_pool, &id),
        APR_SUCCESS);
    ck_assert_int_eq(strlen(id), 10);
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "Work", AS_FOLDER_USER_MAIL, unit_pool, &id),
        APR_SUCCESS);
    ck_assert_int_eq(strlen(id), 8);
    /* a contact folder under a mail folder: no such parent */
    ck_assert_int_eq(
        as_store_create_folder_typed(st, id, "X", AS_FOLDER_USER_CONTACTS, unit_pool, NULL),
        AS_STORE_ENOPARENT);
    ck_assert_int_eq(as_store_create_folder(st, "0", "Plain", unit_pool, &id), APR_SUCCESS);
    ck_assert_int_eq(strlen(id), 8);
}
END_TEST

START_TEST(combined_token)
{
    const char *t1, *t2, *t3, *t4, *t5, *id;
    apr_array_header_t *fs;

    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    settle();
    ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &t1), APR_SUCCESS);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, &t2), APR_SUCCESS);
    ck_assert(as_store_token_same(t1, t2));
    ck_assert_int_le(strlen(t1), AS_STORE_TOKEN_MAX);
    /* a new collection changes it, and it is unsettled at first */
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "Friends", AS_FOLDER_USER_CONTACTS, unit_pool, &id),
        APR_SUCCESS);
    ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &t3), APR_SUCCESS);
    ck_assert(!as_store_token_same(t1, t3));
    ck_assert_int_eq(t3[strlen(t3) - 1], '!');
    ck_assert(!as_store_token_same(t3, t3));
    ck_assert_int_eq(as_store_delete_folder(st, id), APR_SUCCESS);
    /* settled again, then a new mail folder changes it too */
    settle();
    ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &t4), APR_SUCCESS);
    ck_assert(as_store_token_same(t4, t4));
    ck_assert_int_eq(as_store_create_folder(st, "0", "Work", unit_pool, &id), APR_SUCCESS);
    back = 200; /* another time than settle()'s */
    set_past(mdir);
    ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &t5), APR_SUCCESS);
    ck_assert(as_store_token_same(t5, t5));  /* settled... */
    ck_assert(!as_store_token_same(t4, t5)); /* ...and different */
}
END_TEST

START_TEST(one_store_alone)
{
    as_store_t *r;

    ck_assert_int_eq(as_store_router_open(unit_pool, mail, NULL, NULL, &r), APR_SUCCESS);
    ck_assert_ptr_eq(r, mail);
    ck_assert_int_eq(as_store_router_open(unit_pool, NULL, coll, NULL, &r), APR_SUCCESS);
    ck_assert_ptr_eq(r, coll);
    ck_assert_int_eq(as_store_router_open(unit_pool, NULL, NULL, NULL, &r), APR_EINVAL);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("store_router");
    TCase *tc = tcase_create("store_router");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, one_hierarchy);
    tcase_add_test(tc, typed_and_special);
    tcase_add_test(tc, combined_token);
    tcase_add_test(tc, one_store_alone);
    suite_add_tcase(s, tc);
    return s;
}
