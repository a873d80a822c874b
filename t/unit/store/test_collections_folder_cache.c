/* Collection store: the collections a process keeps between store handles
 * (coll_folder_cache.c).  A kept read of the root is used while the root
 * and every .Radicale.props are unchanged and were settled when read; a
 * collection made or removed, a props file rewritten (in place with the
 * same size and a forged mtime, or by another process renaming through the
 * store), a props file written into a plain directory, an unknown folder
 * id or an unsettled root always lead to a fresh read.  Whether the root
 * was read is told by as_collections_root_reads(). */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_collections.h"
#include "collgen.h"
#include "unit.h"

#define ALL_CLASSES ((1u << AS_CLASS_COUNT) - 1)

static char root[512];

static const char *cal_props = "{\"C:supported-calendar-component-set\": \"VEVENT,VTODO\", "
                               "\"D:displayname\": \"Home\", \"tag\": \"VCALENDAR\"}";
static const char *book_props = "{\"D:displayname\": \"Book\", \"tag\": \"VADDRESSBOOK\"}";

static void fc_setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "collcache");
    cg_collection(root, "cal", cal_props);
    cg_collection(root, "book", book_props);
}

static void fc_teardown(void)
{
    mg_rmtree(root);
    unit_pool_teardown();
}

static as_store_t *open_store(void)
{
    as_store_t *s = NULL;
    ck_assert_int_eq(
        as_collections_open(unit_pool, root, "fc@example.com", ALL_CLASSES, 0, NULL, &s),
        APR_SUCCESS);
    return s;
}

static const char *path_in(const char *a, const char *b)
{
    return b ? apr_pstrcat(unit_pool, root, "/", a, "/", b, NULL)
             : apr_pstrcat(unit_pool, root, "/", a, NULL);
}

/* The mtime of path a minute back: settled (its ctime stays now). */
static void settle(const char *path)
{
    struct timespec ts[2];
    clock_gettime(CLOCK_REALTIME, &ts[0]);
    ts[0].tv_sec -= 60;
    ts[1] = ts[0];
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, AT_SYMLINK_NOFOLLOW), 0);
}

static void settle_all(void)
{
    settle(path_in("cal", ".Radicale.props"));
    settle(path_in("book", ".Radicale.props"));
    settle(root);
}

/* The id of the folder of type named name, from a listing (always read). */
static const char *id_of(const char *name, int type)
{
    apr_array_header_t *fs;
    int i;
    ck_assert_int_eq(as_store_list_folders(open_store(), unit_pool, &fs, NULL), APR_SUCCESS);
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        if (!strcmp(f->name, name) && f->type == type) {
            return f->id;
        }
    }
    return NULL;
}

/* The folder through a new handle (as each request opens one); *reads:
 * whether the root was read for it. */
static apr_status_t get_folder(const char *id, const as_store_folder_t **f, int *reads)
{
    unsigned long before = as_collections_root_reads();
    apr_status_t rv = as_store_get_folder(open_store(), id, unit_pool, f);
    *reads = (int)(as_collections_root_reads() - before);
    return rv;
}

START_TEST(kept_while_unchanged)
{
    const as_store_folder_t *f;
    const char *cal, *tok;
    unsigned long before;
    int reads;

    settle_all();
    cal = id_of("Home", AS_FOLDER_CALENDAR);
    ck_assert_ptr_nonnull(cal);
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 0);
    ck_assert_str_eq(f->name, "Home");
    ck_assert_int_eq(get_folder(id_of("Book", AS_FOLDER_CONTACTS), &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 0);
    ck_assert_int_eq(f->cls, AS_CLASS_CONTACTS);
    /* the no-change Sync's question: the folder's token, without a read */
    before = as_collections_root_reads();
    ck_assert_int_eq(as_store_folder_token(open_store(), cal, unit_pool, &tok), APR_SUCCESS);
    ck_assert_uint_eq(as_collections_root_reads(), before);
    /* a listing always reads */
    before = as_collections_root_reads();
    ck_assert_ptr_nonnull(id_of("Home", AS_FOLDER_TASKS));
    ck_assert_uint_eq(as_collections_root_reads(), before + 1);
}
END_TEST

/* Rewritten in place by another program: same size, the old mtime put
 * back.  Only the ctime tells -- and is enough. */
START_TEST(props_rewritten_in_place_seen)
{
    const as_store_folder_t *f;
    const char *cal, *props = path_in("cal", ".Radicale.props");
    struct stat sb;
    struct timespec ts[2];
    char *text = apr_pstrdup(unit_pool, cal_props);
    FILE *fp;
    int reads;

    settle_all();
    cal = id_of("Home", AS_FOLDER_CALENDAR);
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 0);
    ck_assert_int_eq(stat(props, &sb), 0);
    memcpy(strstr(text, "Home"), "Hove", 4);
    fp = fopen(props, "r+");
    ck_assert_ptr_nonnull(fp);
    ck_assert_int_eq(fputs(text, fp) >= 0, 1);
    ck_assert_int_eq(fclose(fp), 0);
    ts[0] = sb.st_atim;
    ts[1] = sb.st_mtim;
    ck_assert_int_eq(utimensat(AT_FDCWD, props, ts, 0), 0);
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 1);
    ck_assert_str_eq(f->name, "Hove");
}
END_TEST

/* Another process renames a calendar and drops its task list through its
 * own store: this process's copy is not used afterwards. */
START_TEST(other_process_change_seen)
{
    const as_store_folder_t *f;
    const char *cal, *tasks;
    int reads, status;
    pid_t pid;

    cg_collection(root, "work",
                  "{\"C:supported-calendar-component-set\": \"VEVENT,VTODO\", "
                  "\"D:displayname\": \"Work\", \"tag\": \"VCALENDAR\"}");
    settle(path_in("work", ".Radicale.props"));
    settle_all();
    cal = id_of("Work", AS_FOLDER_USER_CALENDAR);
    tasks = id_of("Work", AS_FOLDER_USER_TASKS);
    ck_assert_ptr_nonnull(cal);
    ck_assert_ptr_nonnull(tasks);
    ck_assert_int_eq(get_folder(tasks, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        as_store_t *s = open_store();
        _exit(as_store_rename_folder(s, cal, "0", "Office") == APR_SUCCESS ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 1);
    ck_assert_str_eq(f->name, "Office");

    /* the components rewritten (Radicale's way: a new file renamed in) */
    settle(path_in("work", ".Radicale.props"));
    settle_all();
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 0);
    cg_write(path_in("work", ".Radicale.props"),
             "{\"C:supported-calendar-component-set\": \"VEVENT\", "
             "\"D:displayname\": \"Office\", \"tag\": \"VCALENDAR\"}");
    settle(path_in("work", ".Radicale.props"));
    ck_assert_int_eq(get_folder(tasks, &f, &reads), APR_ENOENT);
    ck_assert_int_ge(reads, 1);
}
END_TEST

START_TEST(hierarchy_change_seen)
{
    const as_store_folder_t *f;
    const char *cal, *book;
    int reads;

    mkdir(path_in("plain", NULL), 0755);
    settle_all();
    cal = id_of("Home", AS_FOLDER_CALENDAR);
    book = id_of("Book", AS_FOLDER_CONTACTS);
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 0);

    /* a props file written into a plain directory: not a change of the
     * root, yet a new collection (a second address book) */
    cg_write(path_in("plain", ".Radicale.props"),
             "{\"D:displayname\": \"Aaa\", \"tag\": \"VADDRESSBOOK\"}");
    settle(path_in("plain", ".Radicale.props"));
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 1);

    /* a collection removed: gone at once */
    settle_all();
    ck_assert_int_eq(get_folder(book, &f, &reads), APR_SUCCESS);
    mg_rmtree(path_in("book", NULL));
    settle(root);
    ck_assert_int_eq(get_folder(book, &f, &reads), APR_ENOENT);
    ck_assert_int_eq(reads, 1);
}
END_TEST

/* An id the kept copy does not know is looked up on the disk; a root
 * changed within the settle time is read every time. */
START_TEST(unknown_id_and_unsettled_root_read)
{
    const as_store_folder_t *f;
    const char *cal;
    int reads;

    settle_all();
    cal = id_of("Home", AS_FOLDER_CALENDAR);
    ck_assert_int_eq(get_folder("vaaaaaaaaa", &f, &reads), APR_ENOENT);
    ck_assert_int_eq(reads, 1);
    cg_collection(root, "new", book_props); /* the root's mtime is now */
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 1);
    ck_assert_int_eq(get_folder(cal, &f, &reads), APR_SUCCESS);
    ck_assert_int_eq(reads, 1);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("collections_folder_cache");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, fc_setup, fc_teardown);
    tcase_add_test(tc, kept_while_unchanged);
    tcase_add_test(tc, props_rewritten_in_place_seen);
    tcase_add_test(tc, other_process_change_seen);
    tcase_add_test(tc, hierarchy_change_seen);
    tcase_add_test(tc, unknown_id_and_unsettled_root_read);
    suite_add_tcase(s, tc);
    return s;
}
