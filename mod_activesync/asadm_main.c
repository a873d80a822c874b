/* activesync-admin: the administrator's tool.  It links the core library
 * directly (never httpd) and works on the module's data directory.  This is
 * the command framework; domain/class/account/mailbox/license commands are
 * added to the command table as the stores that back them arrive. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_getopt.h>

#include "as_version.h"

#ifndef AS_DEFAULT_DATADIR
#define AS_DEFAULT_DATADIR "/var/lib/activesync"
#endif

typedef struct asadm_ctx_t {
    apr_pool_t *pool;
    const char *datadir;
    int json;
} asadm_ctx_t;

typedef int asadm_cmd_fn(asadm_ctx_t *ctx, int argc, const char *const *argv);

typedef struct asadm_cmd_t {
    const char *name;
    const char *synopsis;
    asadm_cmd_fn *run;
} asadm_cmd_t;

/* No commands yet: each store's issue adds its own. */
static const asadm_cmd_t commands[] = {{NULL, NULL, NULL}};

static void usage(FILE *out)
{
    const asadm_cmd_t *c;

    fprintf(out,
            "Usage: activesync-admin [-d DATADIR] [--json] COMMAND [ARGS...]\n"
            "       activesync-admin --help | --version\n"
            "\n"
            "Administers mod_activesync: works on the same data directory as the\n"
            "module (ActiveSyncDataDir), safely while httpd serves.\n"
            "\n"
            "Options:\n"
            "  -d, --datadir DIR  data directory (default %s)\n"
            "      --json         machine-readable output for read commands\n"
            "  -h, --help         this text\n"
            "  -V, --version      print the version\n"
            "\n"
            "Commands:\n",
            AS_DEFAULT_DATADIR);
    if (!commands[0].name) {
        fprintf(out, "  (none in this version)\n");
    }
    for (c = commands; c->name; c++) {
        fprintf(out, "  %-10s %s\n", c->name, c->synopsis);
    }
}

int main(int argc, const char *const *argv)
{
    static const apr_getopt_option_t opts[] = {
        {"datadir", 'd', 1, "data directory"},
        {"json", 'j', 0, "JSON output"},
        {"help", 'h', 0, "help"},
        {"version", 'V', 0, "version"},
        {NULL, 0, 0, NULL},
    };
    asadm_ctx_t ctx;
    apr_getopt_t *os;
    const char *arg;
    const asadm_cmd_t *c;
    int opt, rc;
    apr_status_t rv;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    memset(&ctx, 0, sizeof(ctx));
    apr_pool_create(&ctx.pool, NULL);
    ctx.datadir = AS_DEFAULT_DATADIR;

    apr_getopt_init(&os, ctx.pool, argc, argv);
    while ((rv = apr_getopt_long(os, opts, &opt, &arg)) == APR_SUCCESS) {
        switch (opt) {
        case 'd':
            ctx.datadir = arg;
            break;
        case 'j':
            ctx.json = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        case 'V':
            printf("activesync-admin (%s) %s\n", AS_PACKAGE_NAME, AS_PACKAGE_VERSION);
            return 0;
        }
    }
    if (rv != APR_EOF) {
        usage(stderr);
        return 2;
    }
    if (os->ind >= argc) {
        fprintf(stderr, "activesync-admin: no command given (see --help)\n");
        return 2;
    }
    for (c = commands; c->name; c++) {
        if (!strcmp(c->name, argv[os->ind])) {
            rc = c->run(&ctx, argc - os->ind - 1, argv + os->ind + 1);
            return rc;
        }
    }
    fprintf(stderr, "activesync-admin: unknown command '%s' (see --help)\n", argv[os->ind]);
    return 2;
}
