/* Helpers for unit tests that need a Berkeley DB environment: a fresh
 * directory per test, opened with the core API, removed afterwards. */
#ifndef AS_TESTDB_H
#define AS_TESTDB_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ftw.h>
#include <unistd.h>

#include <check.h>

#include "activesync/as_db.h"
#include "unit.h"

static int testdb_rm_cb(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static inline void testdb_rmrf(const char *dir)
{
    nftw(dir, testdb_rm_cb, 16, FTW_DEPTH | FTW_PHYS);
}

/* A new empty directory under $TMPDIR (or /tmp); malloc'd path. */
static inline char *testdb_mkdtemp(void)
{
    const char *base = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
    char *t = malloc(strlen(base) + 32);
    ck_assert_ptr_nonnull(t);
    sprintf(t, "%s/as-unit-XXXXXX", base);
    ck_assert_ptr_nonnull(mkdtemp(t));
    return t;
}

/* Open the environment in dir; hook (may be NULL) is the handle's test
 * hook (as_db_options_t). */
static inline as_db_t *testdb_open_hooked(const char *dir, void (*hook)(const char *stage))
{
    as_db_t *db = NULL;
    as_db_options_t o;
    apr_status_t rv;
    static as_logger_t lg;
    static int level;

    /* AS_TEST_LOG=LEVEL: the handle's log lines on stderr */
    if (getenv("AS_TEST_LOG")) {
        level = atoi(getenv("AS_TEST_LOG"));
        as_log_stderr_init(&lg, &level);
    }
    as_db_options_default(&o);
    o.nosync = 1;
    o.thread_count = 256;
    o.lock_timeout = 500000;
    o.test_hook = hook;
    rv = as_db_open(&db, dir, &o, getenv("AS_TEST_LOG") ? &lg : NULL);
    ck_assert_msg(rv == APR_SUCCESS, "as_db_open(%s) failed: %d", dir, rv);
    return db;
}

static inline as_db_t *testdb_open(const char *dir)
{
    return testdb_open_hooked(dir, NULL);
}

/* The usual checked fixture: unit_pool, a fresh directory, an open
 * environment; and the reverse. */
static inline as_db_t *testdb_fixture_open(char **dir)
{
    unit_pool_setup();
    *dir = testdb_mkdtemp();
    return testdb_open(*dir);
}

static inline void testdb_fixture_close(as_db_t **db, char **dir)
{
    as_db_close(*db);
    *db = NULL;
    testdb_rmrf(*dir);
    free(*dir);
    *dir = NULL;
    unit_pool_teardown();
}

/* Declares `dir` and `db` and the fixture functions testdb_setup() and
 * testdb_teardown() around them (tcase_add_checked_fixture). */
#define TESTDB_FIXTURE()                                                                           \
    static char *dir;                                                                              \
    static as_db_t *db;                                                                            \
    static void testdb_setup(void)                                                                 \
    {                                                                                              \
        db = testdb_fixture_open(&dir);                                                            \
    }                                                                                              \
    static void testdb_teardown(void)                                                              \
    {                                                                                              \
        testdb_fixture_close(&db, &dir);                                                           \
    }

#endif
