/* Waiting for parked requests instead of sleeping: the watch module counts
 * the waits inside as_watch_wait() (as_watch_stats().parked).  A test that
 * needs "the request has parked" polls that count with a generous deadline. */
#ifndef AS_WATCHTEST_H
#define AS_WATCHTEST_H

#include <time.h>

#include <check.h>

#include "activesync/as_watch.h"

/* generous, but below the test cases' timeouts (60 s and more) */
#define WATCHTEST_DEADLINE_MS 30000

static inline double watchtest_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

/* 1 once at least n waits of this process are parked (within the deadline). */
static inline int watchtest_parked(unsigned n)
{
    const struct timespec ms = {0, 1000000};
    double deadline = watchtest_now_ms() + WATCHTEST_DEADLINE_MS;
    as_watch_stats_t s;

    for (;;) {
        as_watch_stats(&s);
        if (s.parked >= n) {
            return 1;
        }
        if (watchtest_now_ms() > deadline) {
            return 0;
        }
        nanosleep(&ms, NULL);
    }
}

static inline void watchtest_wait_parked(unsigned n)
{
    ck_assert_msg(watchtest_parked(n), "%u waits did not park within %d ms", n,
                  WATCHTEST_DEADLINE_MS);
}

#endif
