/* Maildir store: open_item_at, opening an item by its name in a listing
 * (the sync index's pages): the listed file when it is the item's, else
 * the item resolved by its id as open_item does -- a name renamed since,
 * another item's name, or a name outside new/ and cur/ never opens
 * another file. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_maildir.h"
#include "mailgen.h"
#include "unit.h"

static char root[512];

static void oa_setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "openat");
    mg_folder(root, "");
}

static void oa_teardown(void)
{
    mg_rmtree(root);
    unit_pool_teardown();
}

static as_store_t *open_store(void)
{
    as_store_t *s = NULL;
    ck_assert_int_eq(as_maildir_open(unit_pool, root, "jdoe@example.com", NULL, 0, NULL, &s),
                     APR_SUCCESS);
    return s;
}

static const char *inbox_id(as_store_t *s)
{
    apr_array_header_t *fs;
    ck_assert_int_eq(as_store_list_folders(s, unit_pool, &fs, NULL), APR_SUCCESS);
    return APR_ARRAY_IDX(fs, 0, as_store_folder_t).id;
}

/* Open item id by name with a fresh handle: the opened item's id and name. */
static void open_at(const char *id, const char *name, const char **got_id, const char **got_name)
{
    as_store_t *s = open_store();
    as_store_msg_t *m = NULL;
    ck_assert_int_eq(as_store_open_item_at(s, inbox_id(s), id, name, unit_pool, &m), APR_SUCCESS);
    ck_assert_ptr_nonnull(m->file);
    *got_id = m->item.id;
    *got_name = m->item.name;
}

START_TEST(open_at_listed_and_fallbacks)
{
    as_store_t *s;
    apr_array_header_t *items;
    const as_store_item_t *a, *b;
    const char *fid, *id, *name, *old_name;
    size_t len;
    char *msg = mg_msg_plain(&len, 1);
    char fname[256];
    unsigned flags = 0;

    mg_deliver(root, "cur", 1, "2,S", msg, len, time(NULL) - 600, fname);
    mg_deliver(root, "new", 2, NULL, msg, len, time(NULL) - 300, fname);
    free(msg);
    s = open_store();
    fid = inbox_id(s);
    ck_assert_int_eq(as_store_list_items(s, fid, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 2);
    a = &APR_ARRAY_IDX(items, 0, as_store_item_t);
    b = &APR_ARRAY_IDX(items, 1, as_store_item_t);
    /* the listed name */
    open_at(a->id, a->name, &id, &name);
    ck_assert_str_eq(id, a->id);
    ck_assert_str_eq(name, a->name);
    /* another item's name, or names outside new/ and cur/: the item by its id */
    open_at(a->id, b->name, &id, &name);
    ck_assert_str_eq(id, a->id);
    ck_assert_str_eq(name, a->name);
    open_at(b->id, apr_pstrcat(unit_pool, "cur/../new/", a->name + 4, NULL), &id, &name);
    ck_assert_str_eq(id, b->id);
    open_at(b->id, "tmp/x", &id, &name);
    ck_assert_str_eq(id, b->id);
    open_at(b->id, NULL, &id, &name);
    ck_assert_str_eq(id, b->id);
    /* renamed since the listing (a flag change): found under its new name */
    old_name = b->name;
    ck_assert_int_eq(as_store_set_flags(s, fid, b->id, AS_STORE_FLAGGED, 0, &flags), APR_SUCCESS);
    open_at(b->id, old_name, &id, &name);
    ck_assert_str_eq(id, b->id);
    ck_assert_str_ne(name, old_name);
    ck_assert_ptr_nonnull(strstr(name, "F"));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("maildir_open_at");
    TCase *tc = tcase_create("open_at");
    tcase_add_checked_fixture(tc, oa_setup, oa_teardown);
    tcase_add_test(tc, open_at_listed_and_fallbacks);
    suite_add_tcase(s, tc);
    return s;
}
