/* main() of every unit test program: TAP to stdout, exit 1 on failure. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_file_io.h>
#include <apr_strings.h>
#include <libxml/parser.h>

#include "unit.h"

apr_pool_t *unit_pool;

void unit_pool_setup(void)
{
    apr_pool_create(&unit_pool, NULL);
}

void unit_pool_teardown(void)
{
    apr_pool_destroy(unit_pool);
    unit_pool = NULL;
}

/* Checks skipped for want of ../shared/conformance.  Shared memory: check
 * runs each test in a forked child, and the parent prints the total. */
static unsigned *skipped_conformance;

const char *unit_conformance_path(const char *path)
{
    if (access(path, R_OK) == 0) {
        return path;
    }
    if (skipped_conformance) {
        __atomic_fetch_add(skipped_conformance, 1, __ATOMIC_SEQ_CST);
    }
    return NULL;
}

static void report_skipped(void)
{
    unsigned n = skipped_conformance ? __atomic_load_n(skipped_conformance, __ATOMIC_SEQ_CST) : 0;

    if (n) {
        fflush(stdout);
        printf("# skipped: ../shared/conformance not found (%u check%s)\n", n, n == 1 ? "" : "s");
        fflush(stdout);
    }
}

const char *unit_read_file(const char *relpath, apr_size_t *len)
{
    const char *path = apr_pstrcat(unit_pool, AS_SRCDIR, "/", relpath, NULL);
    apr_file_t *f;
    apr_finfo_t fi;
    char *buf;
    apr_size_t n;

    ck_assert_msg(apr_file_open(&f, path, APR_READ | APR_BINARY, 0, unit_pool) == APR_SUCCESS,
                  "cannot open %s", path);
    ck_assert(apr_file_info_get(&fi, APR_FINFO_SIZE, f) == APR_SUCCESS);
    n = (apr_size_t)fi.size;
    buf = apr_palloc(unit_pool, n + 1);
    ck_assert(apr_file_read_full(f, buf, n, NULL) == APR_SUCCESS || n == 0);
    buf[n] = '\0';
    apr_file_close(f);
    if (len) {
        *len = n;
    }
    return buf;
}

int main(int argc, const char *const *argv)
{
    SRunner *sr;
    int failed;

    apr_app_initialize(&argc, &argv, NULL);
    xmlInitParser();
    skipped_conformance =
        mmap(NULL, sizeof(unsigned), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (skipped_conformance == MAP_FAILED) {
        skipped_conformance = NULL;
    }
    sr = srunner_create(unit_suite());
    srunner_set_tap(sr, "-");
    srunner_run_all(sr, CK_SILENT);
    failed = srunner_ntests_failed(sr);
    report_skipped();
    srunner_free(sr);
    apr_terminate();
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
