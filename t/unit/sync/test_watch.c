/* Push waits (as_watch.h): a delivery by another thread wakes a parked
 * wait (latency reported), timeouts, coalescing, supersede by a claim from
 * another thread and from another process, the stop signal and per-wait
 * stop checks (two checks do not interfere), the start configuration, and
 * 1,000 parked waits in one process with their cost measured.  Figures are
 * printed as TAP diagnostics ("# ..."); timing is asserted only loosely
 * (< 5 s).  "Parked" is observed (watchtest.h), never slept for. */
#include <dirent.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_watch.h"
#include "mailgen.h"
#include "unit.h"
#include "watchtest.h"

static char root[512];

static void setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "watch");
    mg_folder(root, "");
}

static void teardown(void)
{
    unit_pool_teardown(); /* closes the waits of the test */
    as_watch_shutdown();
    mg_rmtree(root);
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* Deliver like an MTA: write tmp/, link into new/, unlink tmp/. */
static void deliver(const char *fdir, unsigned seq)
{
    char tmp[1024], dst[1024], name[256];
    size_t len;
    char *msg = mg_msg_plain(&len, seq);
    snprintf(name, sizeof name, "%u.M%uP%u.watchtest", 1700000000u + seq, seq, (unsigned)getpid());
    snprintf(tmp, sizeof tmp, "%s/tmp/%s", fdir, name);
    snprintf(dst, sizeof dst, "%s/new/%s", fdir, name);
    ck_assert_int_eq(mg_write(tmp, msg, len, 0), 0);
    ck_assert_int_eq(link(tmp, dst), 0);
    unlink(tmp);
    free(msg);
}

static as_watch_t *watch_folder(apr_pool_t *p, const char *fdir, const as_watch_ticket_t *t,
                                int *inew, int *icur)
{
    as_watch_t *w = NULL;
    ck_assert_int_eq(as_watch_create(p, t, NULL, NULL, &w), APR_SUCCESS);
    ck_assert_int_eq(as_watch_add(w, apr_pstrcat(p, fdir, "/new", NULL), inew), APR_SUCCESS);
    ck_assert_int_eq(as_watch_add(w, apr_pstrcat(p, fdir, "/cur", NULL), icur), APR_SUCCESS);
    return w;
}

/* ---- delivery from another thread ---------------------------------------- */

typedef struct deliverer_t {
    const char *fdir;
    unsigned count, gap_ms, seq;
    double done_ms; /* when the last link into new/ happened */
} deliverer_t;

static void *deliver_thread(void *arg)
{
    deliverer_t *d = arg;
    unsigned i;
    /* deliver into a parked wait (measured: delivery-to-wake) */
    if (!watchtest_parked(1)) {
        return NULL; /* the waiter times out and the test fails */
    }
    for (i = 0; i < d->count; i++) {
        if (i) {
            usleep(d->gap_ms * 1000);
        }
        deliver(d->fdir, d->seq + i);
        d->done_ms = now_ms();
    }
    return NULL;
}

START_TEST(test_delivery_wakes)
{
    int inew, icur, k;
    double lat[5];
    for (k = 0; k < 5; k++) {
        as_watch_t *w = watch_folder(unit_pool, root, NULL, &inew, &icur);
        as_watch_result_t res;
        deliverer_t d = {root, 1, 0, 100 + (unsigned)k, 0};
        pthread_t th;
        double t0 = now_ms(), t1;

        ck_assert_int_eq(pthread_create(&th, NULL, deliver_thread, &d), 0);
        ck_assert_int_eq(as_watch_wait(w, apr_time_from_sec(10), &res), APR_SUCCESS);
        t1 = now_ms();
        pthread_join(th, NULL);
        ck_assert_str_eq(as_watch_result_name(res), "changed");
        ck_assert(as_watch_fired(w, inew));
        ck_assert(!as_watch_fired(w, icur));
        lat[k] = t1 - d.done_ms;
        ck_assert_msg(lat[k] < 5000, "woken after %.0f ms", lat[k]);
        ck_assert(t1 - t0 < 5000);
        as_watch_close(w);
    }
    printf("# delivery-to-wake latency (incl. the %lld ms coalescing window): "
           "%.1f %.1f %.1f %.1f %.1f ms\n",
           (long long)(AS_WATCH_QUIET / 1000), lat[0], lat[1], lat[2], lat[3], lat[4]);
}
END_TEST

START_TEST(test_timeout)
{
    as_watch_t *w = watch_folder(unit_pool, root, NULL, NULL, NULL);
    as_watch_result_t res;
    double t0 = now_ms(), el;
    ck_assert_int_eq(as_watch_wait(w, apr_time_from_msec(300), &res), APR_SUCCESS);
    el = now_ms() - t0;
    ck_assert_int_eq(res, AS_WATCH_TIMEOUT);
    ck_assert_msg(el >= 290 && el < 5000, "timeout after %.0f ms", el);
    /* zero timeout: immediate */
    ck_assert_int_eq(as_watch_wait(w, 0, &res), APR_SUCCESS);
    ck_assert_int_eq(res, AS_WATCH_TIMEOUT);
    ck_assert_int_eq(as_watch_wait(w, -1, &res), APR_EINVAL);
}
END_TEST

/* Events between as_watch_add and as_watch_wait are not lost; events while
 * the caller checks make the next wait return at once. */
START_TEST(test_events_before_wait)
{
    int inew, icur;
    as_watch_t *w = watch_folder(unit_pool, root, NULL, &inew, &icur);
    as_watch_result_t res;
    char from[1024], to[1024], name[256];
    size_t len;
    char *msg = mg_msg_plain(&len, 1);

    deliver(root, 1);
    ck_assert_int_eq(as_watch_wait(w, apr_time_from_sec(10), &res), APR_SUCCESS);
    ck_assert_int_eq(res, AS_WATCH_CHANGED);
    ck_assert(as_watch_fired(w, inew));
    /* Dovecot moves a message new/ -> cur/ with a flag: both fire */
    ck_assert_int_eq(mg_deliver(root, "new", 7, NULL, msg, len, 0, name), 0);
    snprintf(from, sizeof from, "%s/new/%s", root, name);
    snprintf(to, sizeof to, "%s/cur/%s:2,S", root, name);
    ck_assert_int_eq(rename(from, to), 0);
    ck_assert_int_eq(as_watch_wait(w, apr_time_from_sec(10), &res), APR_SUCCESS);
    ck_assert_int_eq(res, AS_WATCH_CHANGED);
    ck_assert(as_watch_fired(w, inew));
    ck_assert(as_watch_fired(w, icur));
    /* nothing more pending */
    ck_assert_int_eq(as_watch_wait(w, apr_time_from_msec(200), &res), APR_SUCCESS);
    ck_assert_int_eq(res, AS_WATCH_TIMEOUT);
    ck_assert(!as_watch_fired(w, inew)); /* fired describes the last wait only */
    free(msg);
}
END_TEST

/* A burst gives one wake-up. */
START_TEST(test_coalesce)
{
    int inew, icur;
    as_watch_t *w = watch_folder(unit_pool, root, NULL, &inew, &icur);
    as_watch_result_t res;
    deliverer_t d = {root, 5, 20, 200, 0};
    pthread_t th;
    double t1;

    ck_assert_int_eq(pthread_create(&th, NULL, deliver_thread, &d), 0);
    ck_assert_int_eq(as_watch_wait(w, apr_time_from_sec(10), &res), APR_SUCCESS);
    t1 = now_ms();
    pthread_join(th, NULL);
    ck_assert_int_eq(res, AS_WATCH_CHANGED);
    printf("# burst of 5 deliveries 20 ms apart: one wake-up %.0f ms after the last\n",
           t1 - d.done_ms);
    ck_assert(t1 >= d.done_ms); /* returned after the whole burst */
    ck_assert_int_eq(as_watch_wait(w, apr_time_from_msec(300), &res), APR_SUCCESS);
    ck_assert_int_eq(res, AS_WATCH_TIMEOUT);
}
END_TEST

/* Two waits on one folder share the kernel watch; a removed folder fires. */
START_TEST(test_shared_and_removed)
{
    char sub[1024];
    apr_pool_t *p2;
    as_watch_t *a, *b;
    as_watch_stats_t st;
    as_watch_result_t res;
    int i;

    snprintf(sub, sizeof sub, "%s/.Work", root);
    mg_folder(root, "Work");
    apr_pool_create(&p2, unit_pool);
    a = watch_folder(unit_pool, sub, NULL, NULL, NULL);
    b = watch_folder(p2, sub, NULL, NULL, NULL);
    as_watch_stats(&st);
    ck_assert_uint_eq(st.waits, 2);
    ck_assert_uint_eq(st.watches, 2);
    ck_assert_int_eq(st.fds, 2);
    apr_pool_destroy(p2); /* the cleanup unregisters b */
    (void)b;
    as_watch_stats(&st);
    ck_assert_uint_eq(st.waits, 1);
    ck_assert_uint_eq(st.watches, 2);
    ck_assert_int_eq(as_watch_add(a, "/nonexistent/as-watch", &i), APR_ENOENT);
    mg_rmtree(sub);
    ck_assert_int_eq(as_watch_wait(a, apr_time_from_sec(10), &res), APR_SUCCESS);
    ck_assert_int_eq(res, AS_WATCH_CHANGED);
    ck_assert(as_watch_fired(a, 0) && as_watch_fired(a, 1));
    as_watch_close(a);
    as_watch_close(a); /* idempotent */
    as_watch_stats(&st);
    ck_assert_uint_eq(st.waits, 0);
    ck_assert_uint_eq(st.watches, 0);
    ck_assert_uint_eq(st.bytes, 0);
}
END_TEST

/* ---- supersede --------------------------------------------------------------- */

START_TEST(test_claim_basic)
{
    as_watch_ticket_t *t1, *t2, *t3;
    ck_assert_int_eq(as_watch_claim(unit_pool, root, "ann@example.org", "DEV1", &t1), APR_SUCCESS);
    ck_assert(as_watch_ticket_current(t1));
    ck_assert_int_eq(as_watch_claim(unit_pool, root, "ann@example.org", "DEV2", &t3), APR_SUCCESS);
    ck_assert(as_watch_ticket_current(t1)); /* other device: independent */
    ck_assert_int_eq(as_watch_claim(unit_pool, root, "ann@example.org", "DEV1", &t2), APR_SUCCESS);
    ck_assert(!as_watch_ticket_current(t1));
    ck_assert(as_watch_ticket_current(t2));
    ck_assert(as_watch_ticket_current(t3));
    ck_assert_str_eq(t1->path, t2->path);
    ck_assert_str_ne(t1->path, t3->path);
    ck_assert_ptr_nonnull(strstr(t1->path, "/push/"));
    ck_assert_uint_eq(strlen(strrchr(t1->path, '/') + 1), 32);
    if (access(AS_WATCH_CLAIM_SHM, W_OK) == 0) {
        /* claims on the memory file system, never under the data directory
         * (issue 10), one directory per data directory */
        as_watch_ticket_t *o;
        const char *other = apr_pstrcat(unit_pool, root, "/other", NULL);
        ck_assert_int_eq(mkdir(other, 0700), 0);
        ck_assert_int_eq(strncmp(t1->path, AS_WATCH_CLAIM_SHM "/", strlen(AS_WATCH_CLAIM_SHM) + 1),
                         0);
        ck_assert_int_eq(as_watch_claim(unit_pool, other, "ann@example.org", "DEV1", &o),
                         APR_SUCCESS);
        ck_assert_str_ne(o->path, t1->path);
        ck_assert(as_watch_ticket_current(o) && as_watch_ticket_current(t2));
    }
    /* the file gone: not current */
    unlink(t2->path);
    ck_assert(!as_watch_ticket_current(t2));
    ck_assert_int_eq(as_watch_claim(unit_pool, "/nonexistent/dir", "a@b", "D", &t1), APR_ENOENT);
}
END_TEST

/* The directory of the claims is looked up once per process: when an
 * administrator removes it, the next claim makes it again, and the waits
 * of the older tickets end (their file is gone). */
START_TEST(test_claim_dir_removed)
{
    as_watch_ticket_t *t1, *t2, *t3;
    char *dir;
    ck_assert_int_eq(as_watch_claim(unit_pool, root, "cy@example.org", "DEVA", &t1), APR_SUCCESS);
    ck_assert_int_eq(as_watch_claim(unit_pool, root, "cy@example.org", "DEVB", &t2), APR_SUCCESS);
    dir = apr_pstrdup(unit_pool, t1->path);
    *strrchr(dir, '/') = '\0';
    ck_assert_int_eq(unlink(t1->path), 0);
    ck_assert_int_eq(unlink(t2->path), 0);
    if (rmdir(dir) != 0) { /* other tests' claims in it */
        DIR *d = opendir(dir);
        struct dirent *de;
        ck_assert_ptr_nonnull(d);
        while ((de = readdir(d)) != NULL) {
            if (de->d_name[0] != '.') {
                unlink(apr_pstrcat(unit_pool, dir, "/", de->d_name, NULL));
            }
        }
        closedir(d);
        ck_assert_int_eq(rmdir(dir), 0);
    }
    ck_assert(!as_watch_ticket_current(t1));
    ck_assert_int_eq(as_watch_claim(unit_pool, root, "cy@example.org", "DEVA", &t3), APR_SUCCESS);
    ck_assert_str_eq(t3->path, t1->path);
    ck_assert(as_watch_ticket_current(t3));
    ck_assert(!as_watch_ticket_current(t2));
    /* successive claims of one process never repeat a value */
    ck_assert_int_eq(as_watch_claim(unit_pool, root, "cy@example.org", "DEVA", &t1), APR_SUCCESS);
    ck_assert(t1->claim != t3->claim && t1->claim != 0);
    ck_assert(as_watch_ticket_current(t1) && !as_watch_ticket_current(t3));
}
END_TEST

typedef struct parked_t {
    const char *fdir;
    const as_watch_ticket_t *ticket;
    apr_interval_time_t timeout;
    as_watch_result_t res;
    double ret_ms;
    apr_size_t stack_probe;
    const as_watch_stop_check_t *stop; /* NULL: none */
} parked_t;

static void *park_thread(void *arg)
{
    parked_t *pk = arg;
    apr_pool_t *p;
    as_watch_t *w;

    apr_pool_create(&p, NULL);
    ck_assert_int_eq(as_watch_create(p, pk->ticket, NULL, pk->stop, &w), APR_SUCCESS);
    if (pk->fdir) {
        ck_assert_int_eq(as_watch_add(w, apr_pstrcat(p, pk->fdir, "/new", NULL), NULL),
                         APR_SUCCESS);
        ck_assert_int_eq(as_watch_add(w, apr_pstrcat(p, pk->fdir, "/cur", NULL), NULL),
                         APR_SUCCESS);
    }
    ck_assert_int_eq(as_watch_wait(w, pk->timeout, &pk->res), APR_SUCCESS);
    pk->ret_ms = now_ms();
    apr_pool_destroy(p);
    return NULL;
}

START_TEST(test_supersede_thread)
{
    as_watch_ticket_t *t1, *t2;
    parked_t pk = {root, NULL, apr_time_from_sec(30), 0, 0, 0, NULL};
    pthread_t th;
    double t0;

    ck_assert_int_eq(as_watch_claim(unit_pool, root, "ann@example.org", "IPHONE1", &t1),
                     APR_SUCCESS);
    pk.ticket = t1;
    ck_assert_int_eq(pthread_create(&th, NULL, park_thread, &pk), 0);
    watchtest_wait_parked(1);
    t0 = now_ms();
    ck_assert_int_eq(as_watch_claim(unit_pool, root, "ann@example.org", "IPHONE1", &t2),
                     APR_SUCCESS);
    pthread_join(th, NULL);
    ck_assert_str_eq(as_watch_result_name(pk.res), "superseded");
    printf("# supersede (thread): %.1f ms\n", pk.ret_ms - t0);
    ck_assert(pk.ret_ms - t0 < 5000);
    /* a wait with an already superseded ticket returns at once */
    {
        as_watch_t *w;
        as_watch_result_t res;
        ck_assert_int_eq(as_watch_create(unit_pool, t1, NULL, NULL, &w), APR_SUCCESS);
        ck_assert_int_eq(as_watch_wait(w, apr_time_from_sec(30), &res), APR_SUCCESS);
        ck_assert_int_eq(res, AS_WATCH_SUPERSEDED);
    }
}
END_TEST

/* The newer claim comes from another process (prefork: another child). */
START_TEST(test_supersede_fork)
{
    as_watch_ticket_t *t1;
    parked_t pk = {root, NULL, apr_time_from_sec(30), 0, 0, 0, NULL};
    pthread_t th;
    pid_t pid;
    int status;
    double t0;

    ck_assert_int_eq(as_watch_claim(unit_pool, root, "bob@example.org", "ANDROID7", &t1),
                     APR_SUCCESS);
    pk.ticket = t1;
    ck_assert_int_eq(pthread_create(&th, NULL, park_thread, &pk), 0);
    watchtest_wait_parked(1);
    t0 = now_ms();
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        apr_pool_t *p;
        as_watch_ticket_t *t;
        apr_pool_create(&p, NULL);
        /* another device of the same account first: no effect */
        if (as_watch_claim(p, root, "bob@example.org", "ANDROID8", &t) != APR_SUCCESS) {
            _exit(2);
        }
        usleep(300000);
        _exit(as_watch_claim(p, root, "bob@example.org", "ANDROID7", &t) == APR_SUCCESS ? 0 : 1);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    pthread_join(th, NULL);
    ck_assert_int_eq(pk.res, AS_WATCH_SUPERSEDED);
    ck_assert(pk.ret_ms - t0 >= 290); /* not by the other device's claim */
    printf("# supersede (other process): returned %.1f ms after the child's start "
           "(it claimed after 300 ms)\n",
           pk.ret_ms - t0);
    ck_assert(pk.ret_ms - t0 < 5000);
}
END_TEST

/* ---- stop -------------------------------------------------------------------- */

START_TEST(test_stop)
{
    enum { N = 10 };
    parked_t pk[N];
    pthread_t th[N];
    double t0, worst = 0;
    int i;

    for (i = 0; i < N; i++) {
        memset(&pk[i], 0, sizeof pk[i]);
        pk[i].fdir = root;
        pk[i].timeout = apr_time_from_sec(60);
        ck_assert_int_eq(pthread_create(&th[i], NULL, park_thread, &pk[i]), 0);
    }
    watchtest_wait_parked(N);
    ck_assert(!as_watch_stopping());
    t0 = now_ms();
    as_watch_stop();
    for (i = 0; i < N; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(pk[i].res, AS_WATCH_STOPPING);
        if (pk[i].ret_ms - t0 > worst) {
            worst = pk[i].ret_ms - t0;
        }
    }
    printf("# stop: %d parked waits returned within %.1f ms\n", N, worst);
    ck_assert(worst < 5000);
    ck_assert(as_watch_stopping());
    {
        as_watch_t *w = watch_folder(unit_pool, root, NULL, NULL, NULL);
        as_watch_result_t res;
        t0 = now_ms();
        ck_assert_int_eq(as_watch_wait(w, apr_time_from_sec(30), &res), APR_SUCCESS);
        ck_assert_int_eq(res, AS_WATCH_STOPPING);
        ck_assert(now_ms() - t0 < 1000);
        as_watch_close(w);
    }
    as_watch_shutdown();
    ck_assert(!as_watch_stopping());
    {
        as_watch_t *w = watch_folder(unit_pool, root, NULL, NULL, NULL);
        as_watch_result_t res;
        ck_assert_int_eq(as_watch_wait(w, apr_time_from_msec(50), &res), APR_SUCCESS);
        ck_assert_int_eq(res, AS_WATCH_TIMEOUT);
    }
}
END_TEST

/* Two stop checks, as two virtual hosts (or two tests) would bring; read
 * by the dispatcher thread, so atomic. */
static atomic_int stop_flags[2];
static int stop_check(void *baton)
{
    return stop_flags[*(const int *)baton];
}

START_TEST(test_stop_check)
{
    static const int ia = 0, ib = 1;
    const as_watch_stop_check_t ca = {stop_check, (void *)&ia}, cb = {stop_check, (void *)&ib};
    parked_t pa = {root, NULL, apr_time_from_sec(60), 0, 0, 0, &ca};
    parked_t pb = {root, NULL, apr_time_from_sec(60), 0, 0, 0, &cb};
    pthread_t ta, tb;
    double t0;

    stop_flags[0] = stop_flags[1] = 0;
    ck_assert_int_eq(pthread_create(&ta, NULL, park_thread, &pa), 0);
    ck_assert_int_eq(pthread_create(&tb, NULL, park_thread, &pb), 0);
    watchtest_wait_parked(2);
    t0 = now_ms();
    stop_flags[0] = 1;
    pthread_join(ta, NULL);
    ck_assert_int_eq(pa.res, AS_WATCH_STOPPING);
    printf("# stop check (polled once a second by the dispatcher): %.0f ms\n", pa.ret_ms - t0);
    ck_assert(pa.ret_ms - t0 < 5000);
    /* only the waits carrying that check: not the process, not the other */
    ck_assert(!as_watch_stopping());
    ck_assert_int_eq(pb.res, 0);
    {
        as_watch_t *w = NULL;
        as_watch_result_t res;
        /* a new wait with the check that fired stops at once ... */
        ck_assert_int_eq(as_watch_create(unit_pool, NULL, NULL, &ca, &w), APR_SUCCESS);
        t0 = now_ms();
        ck_assert_int_eq(as_watch_wait(w, apr_time_from_sec(30), &res), APR_SUCCESS);
        ck_assert_int_eq(res, AS_WATCH_STOPPING);
        ck_assert(now_ms() - t0 < 1000);
        as_watch_close(w);
        /* ... one without a check just waits */
        w = watch_folder(unit_pool, root, NULL, NULL, NULL);
        ck_assert_int_eq(as_watch_wait(w, apr_time_from_msec(50), &res), APR_SUCCESS);
        ck_assert_int_eq(res, AS_WATCH_TIMEOUT);
        as_watch_close(w);
    }
    stop_flags[1] = 1;
    pthread_join(tb, NULL);
    ck_assert_int_eq(pb.res, AS_WATCH_STOPPING);
    stop_flags[0] = stop_flags[1] = 0;
}
END_TEST

/* The process-wide part takes its configuration once, when it starts. */
static int ticks; /* written by the dispatcher thread: __atomic only */
static void count_tick(void *baton)
{
    __atomic_add_fetch((int *)baton, 1, __ATOMIC_SEQ_CST);
}

START_TEST(test_start_config)
{
    static int other;
    as_watch_config_t cfg = {NULL, count_tick, (void *)&ticks};
    as_watch_config_t cfg2 = {NULL, count_tick, &other};
    int i;

    as_watch_shutdown();
    __atomic_store_n(&ticks, 0, __ATOMIC_SEQ_CST);
    __atomic_store_n(&other, 0, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(as_watch_start(&cfg), APR_SUCCESS);
    /* already running: the first configuration stays */
    ck_assert_int_eq(as_watch_start(&cfg2), APR_EEXIST);
    for (i = 0; i < 500 && __atomic_load_n(&ticks, __ATOMIC_SEQ_CST) < 2; i++) {
        usleep(10000);
    }
    ck_assert_int_ge(__atomic_load_n(&ticks, __ATOMIC_SEQ_CST), 2);
    ck_assert_int_eq(__atomic_load_n(&other, __ATOMIC_SEQ_CST), 0);
    /* after a shutdown the next start configures afresh */
    as_watch_shutdown();
    i = __atomic_load_n(&ticks, __ATOMIC_SEQ_CST);
    ck_assert_int_eq(as_watch_start(NULL), APR_SUCCESS);
    usleep(1200000); /* more than one tick period: no tick may come */
    ck_assert_int_eq(__atomic_load_n(&ticks, __ATOMIC_SEQ_CST), i);
}
END_TEST

/* ---- 1,000 parked waits --------------------------------------------------------- */

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "VmRSS:", 6)) {
            kb = atol(line + 6);
        }
    }
    fclose(f);
    return kb;
}

static int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int n = 0;
    while ((de = readdir(d)) != NULL) {
        n += de->d_name[0] != '.';
    }
    closedir(d);
    return n - 1; /* the DIR itself */
}

START_TEST(test_many)
{
    enum { N = 1000 };
    parked_t *pk = calloc(N, sizeof(parked_t));
    pthread_t *th = calloc(N, sizeof(pthread_t));
    as_watch_ticket_t **tk = calloc(N, sizeof(*tk));
    char **dirs = calloc(N, sizeof(char *));
    pthread_attr_t attr;
    as_watch_stats_t s0, s1;
    long rss0, rss1, rss_threads;
    int fd0, fd1, i;
    double t0;

    /* one Maildir per device (distinct watches), a claim per device */
    for (i = 0; i < N; i++) {
        dirs[i] = apr_psprintf(unit_pool, "%s/.F%d", root, i);
        mg_folder(root, dirs[i] + strlen(root) + 2);
        ck_assert_int_eq(as_watch_claim(unit_pool, root, apr_psprintf(unit_pool, "u%d@ex.org", i),
                                        "DEV", &tk[i]),
                         APR_SUCCESS);
    }
    /* a first wait starts the process-wide part */
    {
        apr_pool_t *p;
        as_watch_t *w;
        apr_pool_create(&p, NULL);
        as_watch_create(p, NULL, NULL, NULL, &w);
        apr_pool_destroy(p);
    }
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 128 * 1024);
    /* the threads alone (an httpd worker thread exists anyway) */
    {
        pthread_t *idle = calloc(N, sizeof(pthread_t));
        long before = rss_kb();
        for (i = 0; i < N; i++) {
            pk[i].fdir = NULL;
            pk[i].ticket = NULL;
            pk[i].timeout = 0;
            ck_assert_int_eq(pthread_create(&idle[i], &attr, park_thread, &pk[i]), 0);
        }
        for (i = 0; i < N; i++) {
            pthread_join(idle[i], NULL);
        }
        rss_threads = rss_kb() - before;
        free(idle);
        memset(pk, 0, N * sizeof(parked_t));
    }
    as_watch_stats(&s0);
    rss0 = rss_kb();
    fd0 = count_fds();
    for (i = 0; i < N; i++) {
        pk[i].fdir = dirs[i];
        pk[i].ticket = tk[i];
        pk[i].timeout = apr_time_from_sec(120);
        ck_assert_int_eq(pthread_create(&th[i], &attr, park_thread, &pk[i]), 0);
    }
    watchtest_wait_parked(N);
    as_watch_stats(&s1);
    rss1 = rss_kb();
    fd1 = count_fds();
    ck_assert_uint_eq(s1.waits - s0.waits, N);
    ck_assert_uint_eq(s1.watches - s0.watches, 3 * N); /* new/, cur/, the claim file */
    ck_assert_int_eq(fd1, fd0);
    printf("# %d parked waits: heap %zu bytes (%.0f bytes each), %u kernel watches "
           "(3 each), fds +%d (process-wide: %d), RSS +%ld KB (%.1f KB each, including the "
           "waiting thread's touched stack; %ld KB for %d idle threads alone)\n",
           N, s1.bytes - s0.bytes, (double)(s1.bytes - s0.bytes) / N, s1.watches - s0.watches,
           fd1 - fd0, s1.fds, rss1 - rss0, (double)(rss1 - rss0) / N, rss_threads, N);

    /* one delivery wakes exactly its device */
    t0 = now_ms();
    deliver(dirs[N / 2], 1);
    pthread_join(th[N / 2], NULL);
    ck_assert_int_eq(pk[N / 2].res, AS_WATCH_CHANGED);
    printf("# with %d parked: delivery-to-wake %.1f ms\n", N, pk[N / 2].ret_ms - t0);
    ck_assert(pk[N / 2].ret_ms - t0 < 5000);
    /* the others are still parked (each one's result is checked below: a
     * spurious wake-up would show as "changed") */
    as_watch_stats(&s1);
    ck_assert_uint_eq(s1.parked, N - 1);
    /* a newer claim of one device ends its wait only */
    {
        as_watch_ticket_t *t;
        ck_assert_int_eq(as_watch_claim(unit_pool, root, "u7@ex.org", "DEV", &t), APR_SUCCESS);
        pthread_join(th[7], NULL);
        ck_assert_int_eq(pk[7].res, AS_WATCH_SUPERSEDED);
    }
    /* stop wakes everything */
    t0 = now_ms();
    as_watch_stop();
    for (i = 0; i < N; i++) {
        if (i != N / 2 && i != 7) {
            pthread_join(th[i], NULL);
            ck_assert_int_eq(pk[i].res, AS_WATCH_STOPPING);
        }
    }
    printf("# stop: %d parked waits returned in %.1f ms\n", N - 2, now_ms() - t0);
    as_watch_stats(&s1);
    ck_assert_uint_eq(s1.waits, 0);
    ck_assert_uint_eq(s1.watches, 0);
    pthread_attr_destroy(&attr);
    free(pk);
    free(th);
    free(tk);
    free(dirs);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("watch");
    TCase *tc = tcase_create("watch");
    struct rlimit rl;

    /* 1,000 threads + their files */
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < 4096 && rl.rlim_max >= 4096) {
        rl.rlim_cur = 4096;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_claim_basic);
    tcase_add_test(tc, test_claim_dir_removed);
    tcase_add_test(tc, test_delivery_wakes);
    tcase_add_test(tc, test_timeout);
    tcase_add_test(tc, test_events_before_wait);
    tcase_add_test(tc, test_coalesce);
    tcase_add_test(tc, test_shared_and_removed);
    tcase_add_test(tc, test_supersede_thread);
    tcase_add_test(tc, test_supersede_fork);
    tcase_add_test(tc, test_stop);
    tcase_add_test(tc, test_stop_check);
    tcase_add_test(tc, test_start_config);
    tcase_add_test(tc, test_many);
    suite_add_tcase(s, tc);
    return s;
}
