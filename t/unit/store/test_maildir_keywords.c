/* Maildir store: Dovecot's $Forwarded keyword as AS_STORE_FORWARDED.  A
 * file whose info has the letter dovecot-keywords maps to $Forwarded reads
 * as forwarded in a listing, a stat and an open by name; other keyword
 * letters do not; setting the flag maps the keyword when missing (existing
 * lines kept, the first free number) and keeps the file's other letters;
 * clearing it removes only that letter; 26 keywords taken: ENOSPC. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_maildir.h"
#include "mailgen.h"
#include "unit.h"

static char root[512];

static void kw_setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "kw");
    mg_folder(root, "");
}

static void kw_teardown(void)
{
    mg_rmtree(root);
    unit_pool_teardown();
}

static as_store_t *open_store(const char **fid)
{
    as_store_t *s = NULL;
    apr_array_header_t *fs;
    ck_assert_int_eq(as_maildir_open(unit_pool, root, "jdoe@example.com", NULL, 0, NULL, &s),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_list_folders(s, unit_pool, &fs, NULL), APR_SUCCESS);
    *fid = APR_ARRAY_IDX(fs, 0, as_store_folder_t).id;
    return s;
}

static void write_keywords(const char *text)
{
    FILE *f = fopen(apr_pstrcat(unit_pool, root, "/dovecot-keywords", NULL), "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

static const char *read_keywords(void)
{
    char buf[2048];
    FILE *f = fopen(apr_pstrcat(unit_pool, root, "/dovecot-keywords", NULL), "r");
    size_t n;
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    return apr_pstrdup(unit_pool, buf);
}

/* The one message's item (listing) after delivering it with info. */
static as_store_item_t only_item(as_store_t *s, const char *fid)
{
    apr_array_header_t *items;
    ck_assert_int_eq(as_store_list_items(s, fid, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    return APR_ARRAY_IDX(items, 0, as_store_item_t);
}

static void put(const char *info)
{
    size_t len;
    char *msg = mg_msg_plain(&len, 1), fname[256];
    mg_deliver(root, "cur", 1, info, msg, len, time(NULL) - 600, fname);
    free(msg);
}

START_TEST(keyword_letters_read)
{
    const char *fid;
    as_store_t *s;
    as_store_item_t it, st;
    as_store_msg_t *m;

    write_keywords("0 Junk\n1 $Forwarded\n");
    put("2,Sab");
    s = open_store(&fid);
    it = only_item(s, fid);
    ck_assert_uint_eq(it.flags, AS_STORE_SEEN | AS_STORE_FORWARDED);
    ck_assert_int_eq(as_store_stat_item(s, fid, it.id, unit_pool, &st), APR_SUCCESS);
    ck_assert_uint_eq(st.flags, AS_STORE_SEEN | AS_STORE_FORWARDED);
    ck_assert_int_eq(as_store_open_item_at(s, fid, it.id, it.name, unit_pool, &m), APR_SUCCESS);
    ck_assert_uint_eq(m->item.flags, AS_STORE_SEEN | AS_STORE_FORWARDED);
    /* without the mapping the letter means nothing to us */
    write_keywords("0 Junk\n1 $Label1\n");
    s = open_store(&fid);
    ck_assert_uint_eq(only_item(s, fid).flags, AS_STORE_SEEN);
}
END_TEST

START_TEST(keyword_set_and_clear)
{
    const char *fid;
    as_store_t *s;
    as_store_item_t it;
    unsigned out = 0;

    write_keywords("0 Junk\n2 $Label2\n");
    put("2,RSac");
    s = open_store(&fid);
    it = only_item(s, fid);
    ck_assert_uint_eq(it.flags, AS_STORE_SEEN | AS_STORE_ANSWERED);
    ck_assert_int_eq(as_store_set_flags(s, fid, it.id, AS_STORE_FORWARDED, 0, &out), APR_SUCCESS);
    ck_assert_uint_eq(out, AS_STORE_SEEN | AS_STORE_ANSWERED | AS_STORE_FORWARDED);
    ck_assert_str_eq(read_keywords(), "0 Junk\n2 $Label2\n1 $Forwarded\n");
    s = open_store(&fid);
    it = only_item(s, fid);
    ck_assert_msg(strstr(it.name, ":2,RSabc") != NULL, "%s", it.name);
    ck_assert_uint_eq(it.flags, AS_STORE_SEEN | AS_STORE_ANSWERED | AS_STORE_FORWARDED);
    /* setting it again changes nothing; clearing it drops only b */
    ck_assert_int_eq(as_store_set_flags(s, fid, it.id, AS_STORE_FORWARDED, 0, &out), APR_SUCCESS);
    ck_assert_int_eq(as_store_set_flags(s, fid, it.id, 0, AS_STORE_FORWARDED, &out), APR_SUCCESS);
    ck_assert_uint_eq(out, AS_STORE_SEEN | AS_STORE_ANSWERED);
    s = open_store(&fid);
    it = only_item(s, fid);
    ck_assert_msg(strstr(it.name, ":2,RSac") != NULL, "%s", it.name);
    ck_assert_str_eq(read_keywords(), "0 Junk\n2 $Label2\n1 $Forwarded\n");
}
END_TEST

START_TEST(keyword_table_full)
{
    const char *fid, *text = "";
    as_store_t *s;
    as_store_item_t it;
    int i;

    for (i = 0; i < 26; i++) {
        text = apr_psprintf(unit_pool, "%s%d k%d\n", text, i, i);
    }
    write_keywords(text);
    put("2,S");
    s = open_store(&fid);
    it = only_item(s, fid);
    ck_assert_int_eq(as_store_set_flags(s, fid, it.id, AS_STORE_FORWARDED, 0, NULL), APR_ENOSPC);
    ck_assert_str_eq(read_keywords(), text);
    s = open_store(&fid);
    ck_assert_uint_eq(only_item(s, fid).flags, AS_STORE_SEEN);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("maildir_keywords");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, kw_setup, kw_teardown);
    tcase_add_test(tc, keyword_letters_read);
    tcase_add_test(tc, keyword_set_and_clear);
    tcase_add_test(tc, keyword_table_full);
    suite_add_tcase(s, tc);
    return s;
}
