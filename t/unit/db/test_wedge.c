/* The parent's wedge watch: when the open lock counts as wedged, whom the
 * remedy may stop (only attached children), when it only reports (remedy
 * Off, a foreign process attached), the enumeration of the processes
 * attached to a real environment, and the recovery gate. */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "activesync/as_db.h"
#include "activesync/as_wedge.h"
#include "testdb.h"
#include "unit.h"

#define SEC(n) apr_time_from_sec(n)

START_TEST(watch_needs_the_same_holder_for_the_whole_period)
{
    as_wedge_watch_t w = {0};

    ck_assert_int_eq(as_wedge_watch(&w, SEC(100), 0, SEC(10)), 0);
    ck_assert_int_eq(as_wedge_watch(&w, SEC(101), 42, SEC(10)), 0);
    ck_assert_int_eq(as_wedge_watch(&w, SEC(110), 42, SEC(10)), 0);
    /* Another holder in between restarts the period. */
    ck_assert_int_eq(as_wedge_watch(&w, SEC(111), 43, SEC(10)), 0);
    ck_assert_int_eq(as_wedge_watch(&w, SEC(115), 42, SEC(10)), 0);
    ck_assert_int_eq(as_wedge_watch(&w, SEC(124), 42, SEC(10)), 0);
    ck_assert_int_eq(as_wedge_watch(&w, SEC(125), 42, SEC(10)), 1);
    /* Released: not wedged any more. */
    ck_assert_int_eq(as_wedge_watch(&w, SEC(126), 0, SEC(10)), 0);
}
END_TEST

static void wedged(as_wedge_watch_t *w, pid_t holder)
{
    memset(w, 0, sizeof(*w));
    as_wedge_watch(w, SEC(100), holder, SEC(10));
    ck_assert_int_eq(as_wedge_watch(w, SEC(111), holder, SEC(10)), 1);
}

START_TEST(remedy_targets_only_attached_children)
{
    as_wedge_watch_t w;
    pid_t attached[] = {101, 103}, children[] = {101, 102, 103, 104}, targets[2];
    as_wedge_in_t in = {SEC(111), attached, 2, children, 4, 1, SEC(60)};
    as_wedge_out_t out = {0};

    out.targets = targets;
    wedged(&w, 101);
    as_wedge_decide(&w, &in, &out);
    ck_assert_str_eq(as_wedge_verdict_name(out.verdict), "remedy");
    ck_assert_uint_eq(out.ntargets, 2);
    ck_assert_int_eq(targets[0], 101);
    ck_assert_int_eq(targets[1], 103); /* 102 and 104 are not attached: left alone */
    ck_assert_int_eq(out.foreign, 0);
    /* The watch starts again. */
    ck_assert_int_eq(as_wedge_watch(&w, SEC(112), 101, SEC(10)), 0);
}
END_TEST

START_TEST(remedy_off_reports_what_it_would_do_once_a_period)
{
    as_wedge_watch_t w;
    pid_t attached[] = {101, 102}, children[] = {101, 102}, targets[2];
    as_wedge_in_t in = {SEC(111), attached, 2, children, 2, 0, SEC(60)};
    as_wedge_out_t out = {0};

    out.targets = targets;
    wedged(&w, 101);
    as_wedge_decide(&w, &in, &out);
    ck_assert_int_eq(out.verdict, AS_WEDGE_REPORT);
    ck_assert_uint_eq(out.ntargets, 2);
    /* Still wedged ten seconds later: nothing new to say. */
    ck_assert_int_eq(as_wedge_watch(&w, SEC(121), 101, SEC(10)), 1);
    in.now = SEC(121);
    as_wedge_decide(&w, &in, &out);
    ck_assert_int_eq(out.verdict, AS_WEDGE_OK);
    ck_assert_uint_eq(out.ntargets, 0);
    /* A period later: reported again. */
    in.now = SEC(172);
    as_wedge_decide(&w, &in, &out);
    ck_assert_int_eq(out.verdict, AS_WEDGE_REPORT);
}
END_TEST

START_TEST(foreign_process_attached_means_no_remedy)
{
    as_wedge_watch_t w;
    pid_t attached[] = {101, 999}, children[] = {101, 102}, targets[2];
    as_wedge_in_t in = {SEC(111), attached, 2, children, 2, 1, SEC(60)};
    as_wedge_out_t out = {0};

    out.targets = targets;
    wedged(&w, 101);
    as_wedge_decide(&w, &in, &out);
    ck_assert_int_eq(out.verdict, AS_WEDGE_FOREIGN);
    ck_assert_int_eq(out.foreign, 999);

    /* The holder itself not a child (activesync-admin stuck in failchk). */
    attached[1] = 0;
    wedged(&w, 555);
    in.nattached = 1;
    as_wedge_decide(&w, &in, &out);
    ck_assert_int_eq(out.verdict, AS_WEDGE_FOREIGN);
    ck_assert_int_eq(out.foreign, 555);
}
END_TEST

/* A forked process opens the environment and stays: it is attached, the
 * test process (which opened nothing) is not; once it exits, nobody is. */
START_TEST(attached_lists_the_processes_with_the_environment_open)
{
    char *dir = testdb_mkdtemp();
    int fds[2];
    pid_t pid, found[8];
    size_t n;
    char c;
    as_db_t *mine = NULL;

    ck_assert_int_eq(as_db_open(&mine, dir, NULL, NULL), APR_SUCCESS);
    as_db_close(mine); /* creates the environment, then detaches */
    ck_assert_uint_eq(as_db_attached(dir, found, 8), 0);

    ck_assert_int_eq(pipe(fds), 0);
    pid = fork();
    ck_assert(pid >= 0);
    if (pid == 0) {
        as_db_t *db = NULL;
        if (as_db_open(&db, dir, NULL, NULL) != APR_SUCCESS) {
            _exit(1);
        }
        (void)!write(fds[1], "x", 1);
        pause();
        _exit(0);
    }
    ck_assert_int_eq(read(fds[0], &c, 1), 1);
    n = as_db_attached(dir, found, 8);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(found[0], pid);
    {
        pid_t who = 0;
        ck_assert_int_eq(as_db_recover_detached(dir, NULL, &who), APR_EBUSY);
        ck_assert_int_eq(who, pid);
    }
    kill(pid, SIGKILL);
    ck_assert_int_eq(waitpid(pid, NULL, 0), pid);
    ck_assert_uint_eq(as_db_attached(dir, found, 8), 0);
    {
        pid_t who = 0;
        ck_assert_int_eq(as_db_recover_detached(dir, NULL, &who), APR_SUCCESS);
        ck_assert_int_eq(who, 0);
    }
    close(fds[0]);
    close(fds[1]);
    testdb_rmrf(dir);
    free(dir);
}
END_TEST

/* While another process holds the recovery gate, nobody takes the open
 * lock: an open waits (it cannot complete while the gate is held) and
 * completes once the gate is gone. */
START_TEST(recovery_gate_holds_opens_back)
{
    char *dir = testdb_mkdtemp();
    int to_gate[2], from_gate[2], from_open[2];
    pid_t gate, opener;
    as_db_t *mine = NULL;
    struct pollfd pfd;
    char c;

    ck_assert_int_eq(as_db_open(&mine, dir, NULL, NULL), APR_SUCCESS);
    as_db_close(mine);
    ck_assert_int_eq(pipe(to_gate), 0);
    ck_assert_int_eq(pipe(from_gate), 0);
    ck_assert_int_eq(pipe(from_open), 0);
    gate = fork();
    ck_assert(gate >= 0);
    if (gate == 0) {
        int fd = as_db_gate_opens(dir);
        (void)!write(from_gate[1], fd >= 0 ? "g" : "e", 1);
        (void)!read(to_gate[0], &c, 1); /* until told to let go */
        as_db_ungate_opens(fd);
        _exit(0);
    }
    ck_assert_int_eq(read(from_gate[0], &c, 1), 1);
    ck_assert_int_eq(c, 'g');
    /* A second gate is refused while the first is held. */
    ck_assert_int_eq(as_db_gate_opens(dir), -EAGAIN);
    opener = fork();
    ck_assert(opener >= 0);
    if (opener == 0) {
        as_db_t *db = NULL;
        apr_status_t rv = as_db_open(&db, dir, NULL, NULL);
        (void)!write(from_open[1], rv == APR_SUCCESS ? "o" : "e", 1);
        as_db_close(db);
        _exit(0);
    }
    pfd.fd = from_open[0];
    pfd.events = POLLIN;
    ck_assert_int_eq(poll(&pfd, 1, 500), 0); /* held back by the gate */
    (void)!write(to_gate[1], "x", 1);
    ck_assert_int_eq(waitpid(gate, NULL, 0), gate);
    ck_assert_int_eq(read(from_open[0], &c, 1), 1);
    ck_assert_int_eq(c, 'o');
    ck_assert_int_eq(waitpid(opener, NULL, 0), opener);
    testdb_rmrf(dir);
    free(dir);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("wedge");
    TCase *tc = tcase_create("wedge");

    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, watch_needs_the_same_holder_for_the_whole_period);
    tcase_add_test(tc, remedy_targets_only_attached_children);
    tcase_add_test(tc, remedy_off_reports_what_it_would_do_once_a_period);
    tcase_add_test(tc, foreign_process_attached_means_no_remedy);
    tcase_add_test(tc, attached_lists_the_processes_with_the_environment_open);
    tcase_add_test(tc, recovery_gate_holds_opens_back);
    suite_add_tcase(s, tc);
    return s;
}
