/* An account's identity (display name and aliases, for SendMail): the
 * record round trip, records of the older versions still loading, the
 * edits from command-line words, the memoised read, and the identity
 * surviving the other edits of the record. */
#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_db_memo.h"
#include "activesync/as_directory.h"
#include "activesync/as_policy.h"
#include "testdb.h"
#include "unit.h"

static char *dir;
static as_db_t *db;

static void setup(void)
{
    unit_pool_setup();
    dir = testdb_mkdtemp();
    db = testdb_open(dir);
    as_db_memo_clear();
    ck_assert_int_eq(as_dir_domain_add(db, unit_pool, "example.org", NULL), APR_SUCCESS);
}

static void teardown(void)
{
    as_db_close(db);
    db = NULL;
    testdb_rmrf(dir);
    free(dir);
    unit_pool_teardown();
}

/* Apply "set" (or unset) words to ann@example.org; the parse error or NULL. */
static const char *edit(int unset, const char *w1, const char *w2)
{
    const char *words[2] = {w1, w2}, *err = NULL;
    as_optedit_t e;
    int i;

    memset(&e, 0, sizeof(e));
    for (i = 0; i < 2 && words[i]; i++) {
        apr_status_t rv = unset ? as_optedit_parse_unset(unit_pool, &e, words[i], 1, &err)
                                : as_optedit_parse_set(unit_pool, &e, words[i], 1, &err);
        if (rv != APR_SUCCESS) {
            return err;
        }
    }
    ck_assert_int_eq(as_svc_account_update(db, unit_pool, "ann@example.org", &e, NULL, &err),
                     APR_SUCCESS);
    return NULL;
}

static as_dir_account_t get(void)
{
    as_dir_account_t a;
    ck_assert_int_eq(as_svc_account_get(db, unit_pool, "ann@example.org", &a, NULL), APR_SUCCESS);
    return a;
}

static const char *aliases_str(const apr_array_header_t *a)
{
    return a ? apr_array_pstrcat(unit_pool, a, ',') : "";
}

#define KEY      "a:example.org/ann"
#define REC_HEAD 12

typedef struct raw_t {
    unsigned char buf[8192];
    size_t len;
} raw_t;

static int txn_put_raw(as_db_t *d, DB_TXN *txn, void *baton)
{
    raw_t *r = baton;
    return as_db_put(as_db_handle(d, AS_DB_DIRECTORY), txn, KEY, strlen(KEY), r->buf, r->len);
}

static int txn_get_raw(as_db_t *d, DB_TXN *txn, void *baton)
{
    raw_t *r = baton;
    r->len = sizeof(r->buf);
    return as_db_get(as_db_handle(d, AS_DB_DIRECTORY), txn, KEY, strlen(KEY), r->buf, &r->len, 0);
}

/* A record with an identity is version 3 and reads back whole; a cut one
 * is refused as corrupt, never read past its end. */
START_TEST(test_record_round_trip)
{
    as_dir_account_t a;
    raw_t raw;

    ck_assert_ptr_null(edit(0, "name=Ann Smïth", "aliases=a.smith@example.org,sales@example.org"));
    ck_assert_int_eq(as_db_txn(db, AS_DB_TXN_READ, txn_get_raw, &raw), APR_SUCCESS);
    ck_assert_int_eq(raw.buf[0], 3);
    a = get();
    ck_assert_str_eq(a.display_name, "Ann Smïth");
    ck_assert_str_eq(aliases_str(a.aliases), "a.smith@example.org,sales@example.org");
    /* the last alias cut short */
    raw.len -= 3;
    raw.buf[raw.len - 1] = 0; /* and the policy's place taken: still corrupt */
    ck_assert_int_eq(as_db_txn(db, 0, txn_put_raw, &raw), APR_SUCCESS);
    ck_assert_int_eq(as_svc_account_get(db, unit_pool, "ann@example.org", &a, NULL),
                     AS_DB_ECORRUPT);
}
END_TEST

/* A record written by a module before identities (version 1 and 2) loads
 * with no name and no aliases, its settings intact. */
START_TEST(test_old_records_load)
{
    raw_t raw = {{1, 0x2, 0x0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 's', 't'}, REC_HEAD + 2};
    as_polset_t pol;
    as_dir_account_t a;

    ck_assert_int_eq(as_db_txn(db, 0, txn_put_raw, &raw), APR_SUCCESS);
    ck_assert_int_eq(as_dir_class_add(db, unit_pool, "example.org", "st", NULL), APR_SUCCESS);
    a = get();
    ck_assert(a.has_record);
    ck_assert_str_eq(a.class_name, "st");
    ck_assert_int_eq(a.eff.value[AS_OPT_EMAIL], 0);
    ck_assert_ptr_null(a.display_name);
    ck_assert_ptr_null(a.aliases);

    /* version 2: class name length in byte 3, then policy settings */
    memset(&pol, 0, sizeof(pol));
    pol.defined = (apr_uint64_t)1 << AS_POL_DEVICE_PASSWORD_ENABLED;
    pol.value[AS_POL_DEVICE_PASSWORD_ENABLED] = 1;
    raw.buf[0] = 2;
    raw.buf[3] = 0;
    raw.len = REC_HEAD + as_polset_encode(&pol, raw.buf + REC_HEAD);
    ck_assert_int_eq(as_db_txn(db, 0, txn_put_raw, &raw), APR_SUCCESS);
    a = get();
    ck_assert_ptr_nonnull(a.pol[AS_SRC_ACCOUNT]);
    ck_assert_int_eq(a.eff.value[AS_OPT_EMAIL], 0);
    ck_assert_ptr_null(a.display_name);
    ck_assert_ptr_null(a.aliases);
    /* adding aliases keeps the policy (now a version 3 record) */
    ck_assert_ptr_null(edit(0, "aliases=ann.x@example.org", NULL));
    a = get();
    ck_assert_ptr_nonnull(a.pol[AS_SRC_ACCOUNT]);
    ck_assert_int_eq(a.eff.value[AS_OPT_EMAIL], 0);
    ck_assert_str_eq(aliases_str(a.aliases), "ann.x@example.org");
    /* removing them writes version 2 again, which older modules read */
    ck_assert_ptr_null(edit(1, "aliases", NULL));
    ck_assert_int_eq(as_db_txn(db, AS_DB_TXN_READ, txn_get_raw, &raw), APR_SUCCESS);
    ck_assert_int_eq(raw.buf[0], 2);
}
END_TEST

START_TEST(test_edit_words)
{
    as_dir_account_t a;
    const char *name, *err;
    const apr_array_header_t *al;

    ck_assert_ptr_null(edit(0, "name=Ann Ümlaut",
                            "aliases=A.Smith@Example.org,sales@example.org,"
                            "a.smith@example.org"));
    a = get();
    ck_assert(a.has_record);
    ck_assert_str_eq(a.display_name, "Ann Ümlaut");
    ck_assert_str_eq(aliases_str(a.aliases), "a.smith@example.org,sales@example.org");
    ck_assert_int_eq(as_dir_account_identity(db, unit_pool, "ann@example.org", &name, &al),
                     APR_SUCCESS);
    ck_assert_str_eq(name, "Ann Ümlaut");
    ck_assert_str_eq(aliases_str(al), "a.smith@example.org,sales@example.org");

    /* refused: line breaks and control characters, bad addresses, too many */
    err = edit(0, "name=Ann\r\nBcc: x@y.org", NULL);
    ck_assert_ptr_nonnull(err);
    ck_assert_ptr_nonnull(strstr(err, "control"));
    ck_assert_ptr_nonnull(edit(0, "name=", NULL));
    ck_assert_ptr_nonnull(edit(0, "name=\xff\xfe", NULL));
    ck_assert_ptr_nonnull(strstr(edit(0, "aliases=not-an-address", NULL), "bad alias"));
    ck_assert_ptr_nonnull(edit(0, "aliases=", NULL));
    ck_assert_ptr_nonnull(strstr(edit(0,
                                      "aliases=a@x.org,b@x.org,c@x.org,d@x.org,e@x.org,f@x.org,"
                                      "g@x.org,h@x.org,i@x.org,j@x.org,k@x.org",
                                      NULL),
                                 "too many"));
    a = get();
    ck_assert_str_eq(a.display_name, "Ann Ümlaut"); /* unchanged */

    /* other edits keep the identity; unset removes it; an empty record goes */
    ck_assert_ptr_null(edit(0, "email=off", NULL));
    a = get();
    ck_assert_str_eq(a.display_name, "Ann Ümlaut");
    ck_assert_int_eq(a.aliases->nelts, 2);
    ck_assert_ptr_null(edit(1, "email", "name"));
    a = get();
    ck_assert(a.has_record);
    ck_assert_ptr_null(a.display_name);
    ck_assert_int_eq(a.aliases->nelts, 2);
    ck_assert_ptr_null(edit(1, "aliases", NULL));
    a = get();
    ck_assert(!a.has_record);
    ck_assert_int_eq(as_dir_account_identity(db, unit_pool, "ann@example.org", &name, &al),
                     APR_SUCCESS);
    ck_assert_ptr_null(name);
    ck_assert_ptr_null(al);
}
END_TEST

/* A class removed with --force rewrites its members' records: their
 * identity stays; a record holding only an identity is kept. */
START_TEST(test_class_remove_keeps_identity)
{
    as_dir_account_t a;

    ck_assert_int_eq(as_dir_class_add(db, unit_pool, "example.org", "staff", NULL), APR_SUCCESS);
    ck_assert_ptr_null(edit(0, "class=staff", "name=Ann"));
    ck_assert_int_eq(as_dir_class_remove(db, unit_pool, "example.org", "staff", 1, NULL),
                     APR_SUCCESS);
    a = get();
    ck_assert(a.has_record);
    ck_assert_ptr_null(a.class_name);
    ck_assert_str_eq(a.display_name, "Ann");
}
END_TEST

/* Domains and classes have no identity. */
START_TEST(test_not_for_domains)
{
    as_optedit_t e;
    const char *err = NULL;

    memset(&e, 0, sizeof(e));
    ck_assert_int_eq(as_optedit_parse_set(unit_pool, &e, "name=x", 0, &err), AS_DIR_EINVAL);
    e.display_name = "x";
    ck_assert_int_eq(as_dir_domain_update(db, unit_pool, "example.org", &e, &err), AS_DIR_EINVAL);
}
END_TEST

/* The memo answers a repeated read, and a change is seen at once. */
START_TEST(test_identity_memo_follows_changes)
{
    const char *name;
    const apr_array_header_t *al;

    ck_assert_ptr_null(edit(0, "name=First", NULL));
    ck_assert_int_eq(as_dir_account_identity(db, unit_pool, "ann@example.org", &name, &al),
                     APR_SUCCESS);
    ck_assert_str_eq(name, "First");
    ck_assert_int_eq(as_dir_account_identity(db, unit_pool, "ann@example.org", &name, &al),
                     APR_SUCCESS);
    ck_assert_str_eq(name, "First");
    ck_assert_ptr_null(edit(0, "name=Second", NULL));
    ck_assert_int_eq(as_dir_account_identity(db, unit_pool, "ann@example.org", &name, &al),
                     APR_SUCCESS);
    ck_assert_str_eq(name, "Second");
    ck_assert_int_eq(as_dir_account_identity(db, unit_pool, "no-at-sign", &name, &al),
                     AS_DIR_EINVAL);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("directory_ident");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_record_round_trip);
    tcase_add_test(tc, test_old_records_load);
    tcase_add_test(tc, test_edit_words);
    tcase_add_test(tc, test_class_remove_keeps_identity);
    tcase_add_test(tc, test_not_for_domains);
    tcase_add_test(tc, test_identity_memo_follows_changes);
    suite_add_tcase(s, tc);
    return s;
}
