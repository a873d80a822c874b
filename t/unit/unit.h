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

/* Path of ../shared/conformance/FILE (the EAS conformance kit beside the
 * repository; FILE a string literal), or NULL when it is not there: a fresh
 * clone has no ../shared.  The caller then skips its check; each NULL is
 * counted, and the program ends its TAP output with one diagnostic line
 * "# skipped: ../shared/conformance not found (N checks)". */
#define unit_conformance(file) unit_conformance_path(AS_SRCDIR "/../shared/conformance/" file)
const char *unit_conformance_path(const char *path);

#endif
