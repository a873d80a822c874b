/* Shared by the unit test files: each defines unit_suite() and links with
 * check_main.c, which runs it with TAP output. */
#ifndef AS_UNIT_H
#define AS_UNIT_H

#include <check.h>
#include <apr_pools.h>

/* The suite of this test program. */
Suite *unit_suite(void);

/* A pool valid during each test (created by unit_pool_setup). */
extern apr_pool_t *unit_pool;
void unit_pool_setup(void);
void unit_pool_teardown(void);

/* Read a whole file below the source tree (path relative to it) into pool
 * memory; fails the test when missing. */
const char *unit_read_file(const char *relpath, apr_size_t *len);

#endif
