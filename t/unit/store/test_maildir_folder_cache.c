/* Maildir++ store: the folder sets a process keeps between store handles
 * (md_folders.c, issue 10).  A kept listing is used while the root's
 * directory is unchanged and was settled when listed; a change of the
 * hierarchy (a folder made, removed, renamed; the id map rewritten), other
 * special-folder names, an unknown folder id or an unsettled root always
 * lead to a fresh listing. */
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_maildir.h"
#include "mailgen.h"
#include "unit.h"

static char root[512];

static void fc_setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "mdcache");
    mg_folder(root, "");
}

static void fc_teardown(void)
{
    mg_rmtree(root);
    unit_pool_teardown();
}

static as_store_t *open_store(const as_maildir_names_t *names)
{
    as_store_t *s = NULL;
    ck_assert_int_eq(as_maildir_open(unit_pool, root, "fc@example.com", names, 0, NULL, &s),
                     APR_SUCCESS);
    return s;
}

/* The root's mtime a minute back: settled (its ctime stays now). */
static void settle_root(void)
{
    struct timeval tv[2];
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 60;
    tv[1] = tv[0];
    ck_assert_int_eq(utimes(root, tv), 0);
}

static const char *id_of(const char *path)
{
    apr_array_header_t *fs;
    int i;
    ck_assert_int_eq(as_store_list_folders(open_store(NULL), unit_pool, &fs, NULL), APR_SUCCESS);
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        if (!strcmp(f->path, path)) {
            return f->id;
        }
    }
    return NULL;
}

static void sub_path(char *out, size_t n, const char *sub)
{
    snprintf(out, n, "%s/%s", root, sub);
}

/* A folder's cur/ removed behind the store's back does not change the
 * root: the kept set still has the folder (proof that it is used), while
 * its token reports the folder gone. */
START_TEST(kept_while_root_unchanged)
{
    const as_store_folder_t *f;
    const char *id, *tok;
    char p[1024];

    mg_folder(root, "Work");
    settle_root();
    id = id_of(".Work");
    ck_assert_ptr_nonnull(id);
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), id, unit_pool, &f), APR_SUCCESS);
    sub_path(p, sizeof p, ".Work/cur");
    mg_rmtree(p);
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), id, unit_pool, &f), APR_SUCCESS);
    ck_assert_str_eq(f->path, ".Work");
    ck_assert_str_eq(f->name, "Work");
    ck_assert_int_eq(as_store_folder_token(open_store(NULL), id, unit_pool, &tok), APR_ENOENT);
}
END_TEST

/* Folders made, renamed and removed change the root: seen at once. */
START_TEST(hierarchy_change_seen)
{
    const as_store_folder_t *f;
    const char *work, *arch;
    char a[1024], b[1024];

    mg_folder(root, "Work");
    settle_root();
    work = id_of(".Work");
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), work, unit_pool, &f), APR_SUCCESS);

    /* renamed: the old id is gone, the new name has its own */
    sub_path(a, sizeof a, ".Work");
    sub_path(b, sizeof b, ".Archive");
    ck_assert_int_eq(rename(a, b), 0);
    settle_root();
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), work, unit_pool, &f), APR_ENOENT);
    arch = id_of(".Archive");
    ck_assert_ptr_nonnull(arch);
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), arch, unit_pool, &f), APR_SUCCESS);
    ck_assert_str_eq(f->name, "Archive");

    /* made: a new folder is listed */
    mg_folder(root, "Lists");
    settle_root();
    ck_assert_ptr_nonnull(id_of(".Lists"));

    /* removed (the whole directory): gone from the kept set too */
    mg_rmtree(b);
    settle_root();
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), arch, unit_pool, &f), APR_ENOENT);
}
END_TEST

/* An id the kept set does not know is looked up in a fresh listing: a
 * folder whose cur/ appeared after the listing (the root unchanged). */
START_TEST(unknown_id_listed_again)
{
    const as_store_folder_t *f;
    const char *id;
    char p[1024];

    mg_folder(root, "Work");
    sub_path(p, sizeof p, ".Later");
    mg_mkdir(p); /* not a folder yet: no cur/ */
    settle_root();
    ck_assert_ptr_null(id_of(".Later"));
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), id_of(".Work"), unit_pool, &f),
                     APR_SUCCESS);
    mg_maildir(p); /* its cur/, new/, tmp/: the root does not change */
    id = id_of(".Later");
    ck_assert_ptr_nonnull(id);
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), id, unit_pool, &f), APR_SUCCESS);
    ck_assert_str_eq(f->name, "Later");
}
END_TEST

/* A root changed within the settle time is not kept: the next handle
 * lists again (the folder whose cur/ went is gone at once). */
START_TEST(unsettled_not_kept)
{
    const as_store_folder_t *f;
    const char *id;
    char p[1024];

    mg_folder(root, "Work");
    id = id_of(".Work"); /* the root was just made: unsettled */
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), id, unit_pool, &f), APR_SUCCESS);
    sub_path(p, sizeof p, ".Work/cur");
    mg_rmtree(p);
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), id, unit_pool, &f), APR_ENOENT);
}
END_TEST

/* The special types depend on the configured names: other names, another
 * kept set. */
START_TEST(names_are_part_of_the_key)
{
    as_maildir_names_t names;
    const as_store_folder_t *f;
    const char *id;

    mg_folder(root, "Outbox");
    settle_root();
    id = id_of(".Outbox");
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), id, unit_pool, &f), APR_SUCCESS);
    ck_assert_int_eq(f->type, AS_FOLDER_USER_MAIL);
    as_maildir_names_default(&names);
    names.sent = "Outbox";
    ck_assert_int_eq(as_store_get_folder(open_store(&names), id, unit_pool, &f), APR_SUCCESS);
    ck_assert_int_eq(f->type, AS_FOLDER_SENT);
    ck_assert_int_eq(as_store_get_folder(open_store(NULL), id, unit_pool, &f), APR_SUCCESS);
    ck_assert_int_eq(f->type, AS_FOLDER_USER_MAIL);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("maildir_folder_cache");
    TCase *tc = tcase_create("maildir_folder_cache");

    tcase_add_checked_fixture(tc, fc_setup, fc_teardown);
    tcase_add_test(tc, kept_while_root_unchanged);
    tcase_add_test(tc, hierarchy_change_seen);
    tcase_add_test(tc, unknown_id_listed_again);
    tcase_add_test(tc, unsettled_not_kept);
    tcase_add_test(tc, names_are_part_of_the_key);
    suite_add_tcase(s, tc);
    return s;
}
