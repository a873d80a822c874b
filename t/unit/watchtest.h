/* Waiting for parked requests instead of sleeping: the watch module counts
 * the waits inside as_watch_wait() (as_watch_stats().parked).  A test that
 * needs "the request has parked" polls that count with a generous deadline. */
#ifndef AS_WATCHTEST_H
#define AS_WATCHTEST_H

#include <time.h>

#include <check.h>

#include "activesync/as_watch.h"

#define WATCHTEST_DEADLINE_MS 30000

/* 1 once at least n waits of this process are parked (within the deadline). */
static inline int watchtest_parked(unsigned n)
{
    const struct timespec ms = {0, 1000000};
    as_watch_stats_t s;
    int i;

    for (i = 0; i < WATCHTEST_DEADLINE_MS; i++) {
        as_watch_stats(&s);
        if (s.parked >= n) {
            return 1;
        }
        nanosleep(&ms, NULL);
    }
    return 0;
}

static inline void watchtest_wait_parked(unsigned n)
{
    ck_assert_msg(watchtest_parked(n), "%u waits did not park within %d ms", n,
                  WATCHTEST_DEADLINE_MS);
}

#endif
