/* Maildir store: folder create, rename and delete (ids kept across renames,
 * refusals, special folders), and FolderDelete of a large subtree not
 * holding the mailbox lock while it removes the files.  The folder is renamed out of sight
 * under the lock; the removal runs after the lock is released.  The
 * store's remove hook stops the deletion before each directory is removed
 * (the files are still there): at that point the lock must be free (a
 * non-blocking flock() of the root succeeds) and another handle's locked
 * operation (a folder rename) completes.  No timing is involved: with the
 * lock still held, the probe fails at once rather than waiting. */
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_maildir.h"
#include "mailgen.h"
#include "unit.h"

#define BIG_MESSAGES 2000
#define SUB_MESSAGES 50

static char root[512];
static as_store_t *st;

static void del_setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "mddelete");
    mg_folder(root, "");
}

static void del_teardown(void)
{
    mg_rmtree(root);
    unit_pool_teardown();
}

static as_store_t *open_store(const as_maildir_names_t *names)
{
    as_store_t *s = NULL;
    ck_assert_int_eq(as_maildir_open(unit_pool, root, "jdoe@example.com", names, 0, NULL, &s),
                     APR_SUCCESS);
    return s;
}

static const as_store_folder_t *find_name(apr_array_header_t *fs, const char *name)
{
    int i;
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        if (!strcmp(f->name, name)) {
            return f;
        }
    }
    return NULL;
}

static const char *inbox_id(void)
{
    apr_array_header_t *fs;
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(APR_ARRAY_IDX(fs, 0, as_store_folder_t).type, AS_FOLDER_INBOX);
    return APR_ARRAY_IDX(fs, 0, as_store_folder_t).id;
}

START_TEST(folder_management)
{
    apr_array_header_t *fs;
    const char *work, *proj, *id, *child, *x;
    char p[4096], q[4096];
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    const as_store_folder_t *f;

    st = open_store(NULL);
    ck_assert_int_eq(as_store_create_folder(st, "0", "Work", unit_pool, &work), APR_SUCCESS);
    ck_assert_int_eq(as_store_create_folder(st, work, "Pröjects", unit_pool, &proj), APR_SUCCESS);
    ck_assert_int_eq(as_store_create_folder(st, proj, "Q1", unit_pool, &child), APR_SUCCESS);
    snprintf(p, sizeof p, "%s/.Work.Pr&APY-jects/cur", root);
    ck_assert_msg(access(p, F_OK) == 0, "no %s", p);
    snprintf(p, sizeof p, "%s/.Work.Pr&APY-jects/maildirfolder", root);
    ck_assert(access(p, F_OK) == 0);
    ck_assert_int_eq(as_store_create_folder(st, "0", "Work", unit_pool, &x), APR_EEXIST);
    ck_assert_int_eq(as_store_create_folder(st, "0", "a.b", unit_pool, &x), APR_EINVAL);
    ck_assert_int_eq(as_store_create_folder(st, "0", "a/b", unit_pool, &x), APR_EINVAL);
    ck_assert_int_eq(as_store_create_folder(st, "0", "", unit_pool, &x), APR_EINVAL);
    ck_assert_int_eq(as_store_create_folder(st, "0", "..", unit_pool, &x), APR_EINVAL);
    ck_assert_int_eq(as_store_create_folder(st, "0", "inbox", unit_pool, &x), APR_EINVAL);
    ck_assert_int_eq(as_store_create_folder(st, "0", "bad\xff", unit_pool, &x), APR_EINVAL);
    ck_assert_int_eq(as_store_create_folder(st, "nosuch", "x", unit_pool, &x), AS_STORE_ENOPARENT);
    /* a child of INBOX */
    ck_assert_int_eq(as_store_create_folder(st, inbox_id(), "Lists", unit_pool, &x), APR_SUCCESS);
    snprintf(p, sizeof p, "%s/.INBOX.Lists/cur", root);
    ck_assert(access(p, F_OK) == 0);

    /* put a message in the child, then rename the parent: ids are kept */
    ck_assert_int_eq(as_store_deliver(st, child, m, len, 0, 0, unit_pool, &id), APR_SUCCESS);
    ck_assert_int_eq(as_store_rename_folder(st, proj, "0", "Projekte"), APR_SUCCESS);
    st = open_store(NULL);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    f = find_name(fs, "Projekte");
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->id, proj);
    ck_assert_str_eq(f->parent_id, "0");
    ck_assert_str_eq(f->path, ".Projekte");
    f = find_name(fs, "Q1");
    ck_assert_str_eq(f->id, child);
    ck_assert_str_eq(f->parent_id, proj);
    ck_assert_int_eq(as_store_stat_item(st, child, id, unit_pool, &(as_store_item_t){0}),
                     APR_SUCCESS);
    /* a new folder with the old name gets a different id */
    ck_assert_int_eq(as_store_create_folder(st, work, "Pröjects", unit_pool, &x), APR_SUCCESS);
    ck_assert_str_ne(x, proj);
    st = open_store(NULL);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_str_eq(find_name(fs, "Projekte")->id, proj);
    ck_assert_str_eq(find_name(fs, "Pröjects")->id, x);
    /* refusals */
    ck_assert_int_eq(as_store_rename_folder(st, proj, "0", "Work"), APR_EEXIST);
    ck_assert_int_eq(as_store_rename_folder(st, proj, child, "X"), APR_EINVAL); /* into itself */
    ck_assert_int_eq(as_store_rename_folder(st, proj, "nosuch", "X"), AS_STORE_ENOPARENT);
    ck_assert_int_eq(as_store_rename_folder(st, inbox_id(), "0", "X"), AS_STORE_ESPECIAL);
    ck_assert_int_eq(as_store_rename_folder(st, "nosuch", "0", "X"), APR_ENOENT);
    {
        const char *sent;
        ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_SENT, 1, unit_pool, &sent),
                         APR_SUCCESS);
        ck_assert_int_eq(as_store_rename_folder(st, sent, "0", "X"), AS_STORE_ESPECIAL);
        ck_assert_int_eq(as_store_delete_folder(st, sent), AS_STORE_ESPECIAL);
    }
    ck_assert_int_eq(as_store_delete_folder(st, inbox_id()), AS_STORE_ESPECIAL);

    /* renamed on disk by another program: a new id */
    snprintf(p, sizeof p, "%s/.Work", root);
    snprintf(q, sizeof q, "%s/.Job", root);
    ck_assert_int_eq(rename(p, q), 0);
    st = open_store(NULL);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_ptr_nonnull(find_name(fs, "Job"));
    ck_assert_str_ne(find_name(fs, "Job")->id, work);
    ck_assert_ptr_null(find_name(fs, "Work"));

    /* delete with subfolders and messages */
    ck_assert_int_eq(as_store_delete_folder(st, proj), APR_SUCCESS);
    st = open_store(NULL);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_ptr_null(find_name(fs, "Projekte"));
    ck_assert_ptr_null(find_name(fs, "Q1"));
    snprintf(p, sizeof p, "%s/.Projekte.Q1", root);
    ck_assert(access(p, F_OK) != 0);
    ck_assert_int_eq(as_store_delete_folder(st, proj), APR_ENOENT);
    free(m);
}
END_TEST

/* 1 when an exclusive flock() of the root can be had right now (released
 * again at once), 0 when someone holds it.  flock() locks belong to the
 * open file description, so this conflicts with a lock held by the same
 * process through another open() of the root. */
static int lock_free(void)
{
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC), ok;

    ck_assert_int_ge(fd, 0);
    ok = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!ok) {
        ck_assert_int_eq(errno, EWOULDBLOCK);
    }
    close(fd);
    return ok;
}

static int count_files(const char *dir, const char *sub)
{
    char p[4096];
    DIR *d;
    struct dirent *de;
    int n = 0;

    snprintf(p, sizeof p, "%s/%s", dir, sub);
    d = opendir(p);
    ck_assert_msg(d != NULL, "cannot read %s", p);
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n;
}

static void fill(const char *storage, unsigned first, int n)
{
    char dir[1024], name[256];
    size_t len;
    char *m = mg_msg_plain(&len, first);
    int i;

    snprintf(dir, sizeof dir, "%s/.%s", root, storage);
    for (i = 0; i < n; i++) {
        ck_assert_int_eq(mg_deliver(dir, "cur", first + (unsigned)i, "2,S", m, len, 0, name), 0);
    }
    free(m);
}

typedef struct hook_state_t {
    as_store_t *other; /* a second handle on the same mailbox */
    const char *other_folder;
    int calls;
    int files_seen[2];
} hook_state_t;

static void during_removal(void *baton, const char *path)
{
    hook_state_t *h = baton;
    const char *name;

    /* the removal has not started on this directory: its files are there,
     * and it is out of sight (not a ".NAME" folder of the root) */
    ck_assert_int_lt(h->calls, 2);
    h->files_seen[h->calls] = count_files(path, "cur");
    ck_assert_msg(strncmp(path, root, strlen(root)) == 0 && path[strlen(root)] == '/' &&
                      path[strlen(root) + 1] != '.',
                  "removing %s", path);
    ck_assert_msg(lock_free(), "the mailbox lock is held while %s is removed", path);
    /* a locked store operation of another handle completes meanwhile */
    name = apr_psprintf(unit_pool, "Renamed%d", h->calls);
    ck_assert_int_eq(as_store_rename_folder(h->other, h->other_folder, "0", name), APR_SUCCESS);
    h->calls++;
}

START_TEST(probe_sees_a_held_lock)
{
    /* the probe used below is meaningful: a lock held through another
     * open() of the root in this very process makes it fail */
    int fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX), 0);
    ck_assert(!lock_free());
    close(fd);
    ck_assert(lock_free());
}
END_TEST

START_TEST(delete_releases_lock_before_removal)
{
    hook_state_t h;
    apr_array_header_t *fs;
    const char *big, *sub, *keep;
    char p[1024];
    DIR *d;
    struct dirent *de;
    int i, renamed = 0;

    st = open_store(NULL);
    memset(&h, 0, sizeof h);
    ck_assert_int_eq(as_store_create_folder(st, "0", "Big", unit_pool, &big), APR_SUCCESS);
    ck_assert_int_eq(as_store_create_folder(st, big, "Sub", unit_pool, &sub), APR_SUCCESS);
    ck_assert_int_eq(as_store_create_folder(st, "0", "Keep", unit_pool, &keep), APR_SUCCESS);
    fill("Big", 1, BIG_MESSAGES);
    fill("Big.Sub", 100000, SUB_MESSAGES);

    h.other = open_store(NULL);
    h.other_folder = keep;
    as_maildir_set_remove_hook(st, during_removal, &h);
    ck_assert_int_eq(as_store_delete_folder(st, big), APR_SUCCESS);

    /* children first, each stopped before its removal with its files there */
    ck_assert_int_eq(h.calls, 2);
    ck_assert_int_eq(h.files_seen[0], SUB_MESSAGES);
    ck_assert_int_eq(h.files_seen[1], BIG_MESSAGES);

    /* the deletion is complete, the other handle's renames stuck */
    st = open_store(NULL);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        ck_assert_str_ne(f->id, big);
        ck_assert_str_ne(f->id, sub);
        if (!strcmp(f->id, keep)) {
            ck_assert_str_eq(f->name, "Renamed1");
            renamed = 1;
        }
    }
    ck_assert(renamed);
    snprintf(p, sizeof p, "%s/.Big", root);
    ck_assert(access(p, F_OK) != 0);
    d = opendir(root);
    ck_assert_ptr_nonnull(d);
    while ((de = readdir(d)) != NULL) {
        ck_assert_msg(strncmp(de->d_name, "activesync-deleting.", 20) != 0, "left over: %s",
                      de->d_name);
    }
    closedir(d);
    ck_assert(lock_free());
}
END_TEST

START_TEST(refused_delete_calls_no_hook)
{
    hook_state_t h;

    st = open_store(NULL);
    memset(&h, 0, sizeof h);
    as_maildir_set_remove_hook(st, during_removal, &h);
    ck_assert_int_eq(as_store_delete_folder(st, "nosuch"), APR_ENOENT);
    ck_assert_int_eq(h.calls, 0);
    ck_assert(lock_free());
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("maildir_folder_ops");
    TCase *tc = tcase_create("folder_ops");

    tcase_add_checked_fixture(tc, del_setup, del_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, folder_management);
    tcase_add_test(tc, probe_sees_a_held_lock);
    tcase_add_test(tc, delete_releases_lock_before_removal);
    tcase_add_test(tc, refused_delete_calls_no_hook);
    suite_add_tcase(s, tc);
    return s;
}
