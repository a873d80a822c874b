/* The collection store writes under Radicale's storage lock: while another
 * process holds `.Radicale.lock` (shared, as Radicale's readers do), a
 * write waits, gives up after the configured wait with APR_TIMEUP and
 * leaves nothing behind, and goes through once the lock is released. */
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/file.h>
#include <sys/wait.h>

#include <apr_strings.h>

#include "activesync/as_collections.h"
#include "collgen.h"
#include "unit.h"

static char root[512];

static void setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "colllock");
}

static void teardown(void)
{
    mg_rmtree(root);
    unit_pool_teardown();
}

/* A child that takes the lock (mode LOCK_SH or LOCK_EX), says so on
 * ready[1] and keeps it until release[0] has something or closes. */
static pid_t holder(const char *lock, int mode, int ready[2], int release[2])
{
    pid_t pid;

    ck_assert_int_eq(pipe(ready), 0);
    ck_assert_int_eq(pipe(release), 0);
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        char c;
        int fd = open(lock, O_RDWR | O_CREAT, 0660);
        if (fd < 0 || flock(fd, mode) != 0) {
            _exit(1);
        }
        if (write(ready[1], "r", 1) != 1) {
            _exit(1);
        }
        if (read(release[0], &c, 1) < 0) {
            _exit(1);
        }
        _exit(0);
    }
    return pid;
}

typedef struct writer_t {
    as_store_t *st;
    const char *folder;
    const char *data;
    apr_status_t rv;
    apr_pool_t *pool;
} writer_t;

static void *write_thread(void *arg)
{
    writer_t *w = arg;
    w->rv =
        as_store_add_item(w->st, w->folder, "late", w->data, strlen(w->data), w->pool, NULL, NULL);
    return NULL;
}

static void lock_blocks(int mode)
{
    as_store_t *st;
    const char *fid, *late = apr_pstrcat(unit_pool, root, "/u/contacts/late.vcf", NULL);
    char v[512], c;
    int ready[2], release[2], status;
    pid_t pid;
    pthread_t th;
    writer_t w;

    ck_assert_int_eq(as_collections_open(unit_pool, apr_pstrcat(unit_pool, root, "/u", NULL), "u",
                                         1u << AS_CLASS_CONTACTS, 1, NULL, &st),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_CONTACTS, 1, unit_pool, &fid),
                     APR_SUCCESS);
    ck_assert_str_eq(as_collections_lock_path(st),
                     apr_pstrcat(unit_pool, root, "/.Radicale.lock", NULL));
    pid = holder(as_collections_lock_path(st), mode, ready, release);
    ck_assert_int_eq(read(ready[0], &c, 1), 1);
    /* held: a short wait gives up, and nothing is written */
    as_collections_set_lock_wait(st, apr_time_from_msec(200));
    cg_vcard(v, sizeof v, "late", "Late");
    ck_assert_int_eq(as_store_add_item(st, fid, "late", v, strlen(v), unit_pool, NULL, NULL),
                     APR_TIMEUP);
    ck_assert_int_ne(access(late, F_OK), 0);
    /* a writer that waits long enough goes through once it is released */
    as_collections_set_lock_wait(st, apr_time_from_sec(60));
    w.st = st;
    w.folder = fid;
    w.data = v;
    w.rv = -1;
    apr_pool_create(&w.pool, NULL);
    ck_assert_int_eq(pthread_create(&th, NULL, write_thread, &w), 0);
    ck_assert_int_ne(access(late, F_OK), 0); /* still held */
    ck_assert_int_eq(write(release[1], "x", 1), 1);
    ck_assert_int_eq(pthread_join(th, NULL), 0);
    ck_assert_int_eq(w.rv, APR_SUCCESS);
    ck_assert_int_eq(access(late, F_OK), 0);
    waitpid(pid, &status, 0);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    apr_pool_destroy(w.pool);
}

START_TEST(shared_lock_blocks_writes)
{
    lock_blocks(LOCK_SH); /* Radicale's readers */
}
END_TEST

START_TEST(exclusive_lock_blocks_writes)
{
    lock_blocks(LOCK_EX); /* Radicale's writers */
}
END_TEST

START_TEST(lock_released_after_each_write)
{
    as_store_t *st;
    const char *fid, *id;
    char v[512];
    int fd;

    ck_assert_int_eq(as_collections_open(unit_pool, apr_pstrcat(unit_pool, root, "/u", NULL), "u",
                                         1u << AS_CLASS_CONTACTS, 1, NULL, &st),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_CONTACTS, 1, unit_pool, &fid),
                     APR_SUCCESS);
    cg_vcard(v, sizeof v, "a", "A");
    ck_assert_int_eq(as_store_add_item(st, fid, "a", v, strlen(v), unit_pool, &id, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_replace_item(st, fid, id, NULL, v, strlen(v), unit_pool, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_delete_item(st, fid, id, 0), APR_SUCCESS);
    /* nobody holds it now: another process could take it at once */
    fd = open(as_collections_lock_path(st), O_RDWR);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(flock(fd, LOCK_EX | LOCK_NB), 0);
    close(fd);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("collections_lock");
    TCase *tc = tcase_create("collections_lock");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, shared_lock_blocks_writes);
    tcase_add_test(tc, exclusive_lock_blocks_writes);
    tcase_add_test(tc, lock_released_after_each_write);
    suite_add_tcase(s, tc);
    return s;
}
