/* activesync-admin: the administrator's tool.  It links the core library
 * directly (never httpd) and works on the module's data directory, safely
 * while httpd serves (the same DB_REGISTER environment, see as_db.h).
 *
 * Ownership: the environment belongs to the httpd User (post_config gives
 * the data directory to it).  Run as root, the tool switches to the owner of
 * the data directory (setgid/setuid, for good) before it opens anything
 * there, so no file in the directory ever becomes root-owned and unusable by
 * the children.  Licence files named by --license/--license-key or cap.conf
 * are read before that switch.
 *
 * The cap for explicit enables: --cap N|none, or --license FILE with
 * --license-key PUB, else DATADIR/cap.conf (written by the module at
 * start-up with the cap httpd enforces), else no cap. */
#include <errno.h>
#include <grp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "activesync/as_log.h"
#include "activesync/as_version.h"
#include "asadm.h"

#ifndef AS_DEFAULT_DATADIR
#define AS_DEFAULT_DATADIR "/var/lib/activesync"
#endif

typedef struct asadm_cmd_t {
    const char *name;
    asadm_cmd_fn *run;
} asadm_cmd_t;

static const asadm_cmd_t commands[] = {
    {"domain", asadm_cmd_domain},   {"class", asadm_cmd_class},     {"account", asadm_cmd_account},
    {"mailbox", asadm_cmd_mailbox}, {"device", asadm_cmd_device},   {"policy", asadm_cmd_policy},
    {"license", asadm_cmd_license}, {"licence", asadm_cmd_license}, {NULL, NULL},
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: activesync-admin [OPTIONS] COMMAND [ARGS...]\n"
            "       activesync-admin --help | --version\n"
            "\n"
            "Administers mod_activesync: works on the same data directory as the\n"
            "module (ActiveSyncDataDir), safely while httpd serves.\n"
            "\n"
            "Options (anywhere on the line):\n"
            "  -d, --datadir DIR     data directory (default %s)\n"
            "      --json            machine-readable output for read commands\n"
            "      --force           domain/class remove: also remove what is inside\n"
            "      --account-only    device wipe: only this account's data (EAS 16.1)\n"
            "      --cancel          device wipe: withdraw a wipe not yet acknowledged\n"
            "      --cap N|none      cap for explicit enables (default: DATADIR/cap.conf\n"
            "                        written by httpd at start-up, else none)\n"
            "      --license FILE    cap from this licence ...\n"
            "      --license-key PUB ... verified with this public key\n"
            "  -h, --help            this text\n"
            "  -V, --version         print the version\n"
            "\n"
            "Options are activesync, email, contacts, pim; values on or off.\n"
            "Every list/show prints each effective value and where it comes from\n"
            "(account, class, domain, built-in).\n"
            "\n"
            "Commands:\n"
            "  domain add|remove|show NAME           (remove --force: with its classes,\n"
            "  domain list                            accounts and registry slots)\n"
            "  domain set NAME OPT=on|off ...\n"
            "  domain unset NAME OPT ...\n"
            "  class add|remove|show DOMAIN/CLASS    (remove --force: members leave it)\n"
            "  class list [DOMAIN]\n"
            "  class set DOMAIN/CLASS OPT=on|off ...\n"
            "  class unset DOMAIN/CLASS OPT ...\n"
            "  account list [DOMAIN]                 accounts with settings or a mailbox slot\n"
            "  account show|remove ADDRESS\n"
            "  account set ADDRESS OPT=on|off ... [class=CLASS] [name=NAME]\n"
            "                      [aliases=ADDR,...]  name: the From display name SendMail\n"
            "                                        adds; aliases: other From addresses\n"
            "  account unset ADDRESS OPT|class|name|aliases ...\n"
            "  mailbox list                          registered mailboxes, first admission\n"
            "  mailbox count                         registered mailboxes and the cap\n"
            "  device list [ACCOUNT|DOMAIN]          devices, last contact, policy, wipe\n"
            "  device show ACCOUNT DEVICEID\n"
            "  device block|unblock|remove ACCOUNT DEVICEID\n"
            "                                        (unblock allows it even when a domain\n"
            "                                        rule blocks it)\n"
            "  device wipe [--account-only] ACCOUNT DEVICEID\n"
            "                                        full wipe, or this account's data only\n"
            "                                        (EAS 16.1 devices); --cancel: withdraw\n"
            "  device rule add|remove DOMAIN allow|block type=GLOB|agent=GLOB\n"
            "  device rule list DOMAIN               first matching rule wins\n"
            "  device expire [UNPROVISIONED UNSEEN]  remove devices never provisioned / not\n"
            "                                        seen for that long, with their sync\n"
            "                                        state (N[smhd] or off; default 1d 180d)\n"
            "  policy show DOMAIN|DOMAIN/CLASS|ADDRESS  effective policy with sources\n"
            "  policy set DOMAIN|DOMAIN/CLASS|ADDRESS SETTING=VALUE ...\n"
            "  policy unset DOMAIN|DOMAIN/CLASS|ADDRESS SETTING ...\n"
            "  policy settings                       the settings, their values and defaults\n"
            "  license keygen PRIVATE.pem PUBLIC.pem\n"
            "  license sign --key PRIVATE.pem --licensee NAME --mailboxes N\n"
            "               --expires YYYY-MM-DD [--issued YYYY-MM-DD] [--id ID] [-o FILE]\n"
            "  license show FILE [--key PUBLIC.pem]\n"
            "\n"
            "Exit status: 0 success, 1 the operation failed, 2 bad command line.\n",
            AS_DEFAULT_DATADIR);
}

/* ---- messages and output --------------------------------------------------- */

int asadm_error(int code, const char *fmt, ...)
{
    va_list ap;
    fputs("activesync-admin: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    return code;
}

int asadm_db_error(apr_status_t rv, const char *err)
{
    char buf[256];
    if (err) {
        return asadm_error(ASADM_FAIL, "%s", err);
    }
    if (rv >= AS_ERR_BASE && rv < AS_ERR_BASE + 1000) {
        return asadm_error(ASADM_FAIL, "%s", as_db_strerror(rv));
    }
    return asadm_error(ASADM_FAIL, "%s", apr_strerror(rv, buf, sizeof(buf)));
}

void asadm_ok(asadm_ctx_t *ctx, const char *fmt, ...)
{
    va_list ap;
    char *msg;
    va_start(ap, fmt);
    msg = apr_pvsprintf(ctx->pool, fmt, ap);
    va_end(ap);
    if (ctx->json) {
        fputs("{\"ok\": true, \"message\": ", stdout);
        asadm_json_str(stdout, msg);
        fputs("}\n", stdout);
    } else {
        printf("%s\n", msg);
    }
}

const char *asadm_time(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t tm;
    if (t <= 0) {
        return "-";
    }
    apr_time_exp_gmt(&tm, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                        tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
}

void asadm_json_str(FILE *f, const char *s)
{
    if (!s) {
        fputs("null", f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '"':
            fputs("\\\"", f);
            break;
        case '\\':
            fputs("\\\\", f);
            break;
        case '\n':
            fputs("\\n", f);
            break;
        case '\t':
            fputs("\\t", f);
            break;
        case '\r':
            fputs("\\r", f);
            break;
        default:
            if (c < 0x20) {
                fprintf(f, "\\u%04x", c);
            } else {
                fputc(c, f);
            }
        }
    }
    fputc('"', f);
}

void asadm_json_setting(FILE *f, int first, const char *name, const char *value_json, as_src_t src,
                        int explicit_here)
{
    fprintf(f, "%s", first ? "" : ", ");
    asadm_json_str(f, name);
    fprintf(f, ": {\"value\": %s, \"source\": \"%s\", \"explicit\": %s}", value_json,
            as_src_name(src), explicit_here ? "true" : "false");
}

void asadm_print_setting(FILE *f, const char *indent, int width, const char *name,
                         const char *value, as_src_t src, int explicit_here)
{
    fprintf(f, "%s%-*s %-4s (%s%s)\n", indent, width, name, value, as_src_name(src),
            explicit_here ? ", explicit" : "");
}

void asadm_json_options(FILE *f, const as_effective_t *eff, const as_optset_t *explicit_set)
{
    int i;
    fputs("{", f);
    for (i = 0; i < AS_OPT_COUNT; i++) {
        asadm_json_setting(f, i == 0, as_opt_name(i), eff->value[i] ? "true" : "false",
                           eff->source[i], explicit_set && as_optset_has(explicit_set, i));
    }
    fputs("}", f);
}

void asadm_print_options(FILE *f, const char *indent, const as_effective_t *eff,
                         const as_optset_t *explicit_set)
{
    int i;
    for (i = 0; i < AS_OPT_COUNT; i++) {
        asadm_print_setting(f, indent, 11, as_opt_name(i), eff->value[i] ? "on" : "off",
                            eff->source[i], explicit_set && as_optset_has(explicit_set, i));
    }
}

const char *asadm_opt_cell(apr_pool_t *p, const as_effective_t *eff, int o)
{
    return apr_psprintf(p, "%s (%s)", eff->value[o] ? "on" : "off", as_src_name(eff->source[o]));
}

/* ---- cap and environment ------------------------------------------------------ */

int asadm_resolve_cap(asadm_ctx_t *ctx)
{
    int count = -1;
    const char *lf = ctx->license, *lk = ctx->license_key, *err;
    apr_status_t rv;

    if (ctx->cap_resolved) {
        return 0;
    }
    ctx->cap_resolved = 1;
    if (ctx->cap_arg) {
        char *e;
        long n;
        if (!strcmp(ctx->cap_arg, "none")) {
            count = -1;
        } else {
            errno = 0;
            n = strtol(ctx->cap_arg, &e, 10);
            if (errno || *e || e == ctx->cap_arg || n < 0 || n > 100000000) {
                return asadm_error(ASADM_USAGE, "--cap takes a number or 'none', not '%s'",
                                   ctx->cap_arg);
            }
            count = (int)n;
        }
        ctx->cap_origin = "--cap";
    }
    if (lf || lk) {
        if (!lf || !lk) {
            return asadm_error(ASADM_USAGE, "--license and --license-key go together");
        }
        ctx->cap_origin = ctx->cap_arg ? "--cap and --license" : "--license";
    }
    if (!ctx->cap_origin) {
        rv = as_cap_conf_read(ctx->pool, ctx->datadir, &count, &lf, &lk, &err);
        if (rv == APR_SUCCESS) {
            ctx->cap_origin = apr_pstrcat(ctx->pool, ctx->datadir, "/cap.conf", NULL);
        } else if (rv == APR_ENOENT) {
            ctx->cap_origin = "none (no cap.conf: httpd has not started with this data "
                              "directory yet)";
        } else {
            return asadm_error(ASADM_FAIL, "%s", err ? err : "cannot read cap.conf");
        }
    }
    as_cap_limit_resolve(ctx->pool, count, lf, lk, apr_time_now(), &ctx->cap);
    if (ctx->cap_arg && !lf && count >= 0) {
        ctx->cap.source = apr_psprintf(ctx->pool, "--cap %d", count);
    }
    return 0;
}

static int drop_privileges(asadm_ctx_t *ctx, const struct stat *st)
{
    gid_t gid = st->st_gid;

    if (geteuid() != 0 || st->st_uid == 0) {
        return 0;
    }
    if (setgroups(1, &gid) != 0 || setgid(st->st_gid) != 0 || setuid(st->st_uid) != 0) {
        return asadm_error(ASADM_FAIL, "cannot switch to the owner (uid %ld) of %s: %s",
                           (long)st->st_uid, ctx->datadir, strerror(errno));
    }
    if (setuid(0) == 0) {
        return asadm_error(ASADM_FAIL, "could not drop root privileges");
    }
    return 0;
}

int asadm_open_db(asadm_ctx_t *ctx)
{
    static as_logger_t lg;
    static int level = AS_LOG_ERR;
    struct stat st;
    apr_status_t rv;

    if (getenv("ACTIVESYNC_ADMIN_DEBUG")) {
        level = AS_LOG_DEBUG;
    }
    as_log_stderr_init(&lg, &level); /* passed to as_db_open below */
    if (stat(ctx->datadir, &st) != 0) {
        if (errno != ENOENT) {
            return asadm_error(ASADM_FAIL, "data directory %s: %s", ctx->datadir, strerror(errno));
        }
        if (geteuid() == 0) {
            return asadm_error(ASADM_FAIL,
                               "data directory %s does not exist: start httpd once (it creates "
                               "it for the httpd user) or create it owned by that user, e.g. "
                               "install -d -o www-data -g www-data -m 750 %s",
                               ctx->datadir, ctx->datadir);
        }
        if (mkdir(ctx->datadir, 0750) != 0 || stat(ctx->datadir, &st) != 0) {
            return asadm_error(ASADM_FAIL, "cannot create data directory %s: %s", ctx->datadir,
                               strerror(errno));
        }
    }
    if (!S_ISDIR(st.st_mode)) {
        return asadm_error(ASADM_FAIL, "%s is not a directory", ctx->datadir);
    }
    if (drop_privileges(ctx, &st) != 0) {
        return ASADM_FAIL;
    }
    umask(007);
    rv = as_db_open(&ctx->db, ctx->datadir, NULL, &lg);
    if (rv != APR_SUCCESS) {
        char buf[256];
        return asadm_error(ASADM_FAIL, "cannot open the database in %s: %s", ctx->datadir,
                           rv >= AS_ERR_BASE && rv < AS_ERR_BASE + 1000
                               ? as_db_strerror(rv)
                               : apr_strerror(rv, buf, sizeof(buf)));
    }
    /* Release whatever a dead httpd child may still hold. */
    (void)as_db_maintain(ctx->db, AS_DB_MAINT_FAILCHK);
    return 0;
}

/* ---- command line ------------------------------------------------------------------ */

typedef struct opt_def_t {
    const char *lng;
    char shrt;
    int has_arg;
    size_t off; /* offset of the const char * field in asadm_ctx_t, or 0 for flags */
} opt_def_t;

#define OFF(f) offsetof(asadm_ctx_t, f)
static const opt_def_t opt_defs[] = {
    {"datadir", 'd', 1, OFF(datadir)},
    {"json", 0, 0, 0},
    {"force", 'f', 0, 0},
    {"cap", 0, 1, OFF(cap_arg)},
    {"license", 0, 1, OFF(license)},
    {"license-key", 0, 1, OFF(license_key)},
    {"licence", 0, 1, OFF(license)},
    {"licence-key", 0, 1, OFF(license_key)},
    {"key", 'k', 1, OFF(key)},
    {"out", 'o', 1, OFF(out)},
    {"licensee", 0, 1, OFF(licensee)},
    {"mailboxes", 0, 1, OFF(mailboxes)},
    {"expires", 0, 1, OFF(expires)},
    {"issued", 0, 1, OFF(issued)},
    {"id", 0, 1, OFF(id)},
    {"account-only", 0, 0, 0},
    {"cancel", 0, 0, 0},
    {"help", 'h', 0, 0},
    {"version", 'V', 0, 0},
    {NULL, 0, 0, 0},
};

int main(int argc, const char *const *argv)
{
    asadm_ctx_t ctx;
    const char **pos;
    int npos = 0, i, only_pos = 0;
    const asadm_cmd_t *c;

    apr_app_initialize(&argc, &argv, NULL);
    atexit(apr_terminate);
    memset(&ctx, 0, sizeof(ctx));
    apr_pool_create(&ctx.pool, NULL);
    ctx.datadir = AS_DEFAULT_DATADIR;
    pos = apr_pcalloc(ctx.pool, sizeof(*pos) * (size_t)(argc + 1));

    for (i = 1; i < argc; i++) {
        const char *a = argv[i];
        const opt_def_t *d = NULL;
        const char *val = NULL;

        if (only_pos || a[0] != '-' || !a[1]) {
            pos[npos++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_pos = 1;
            continue;
        }
        if (a[1] == '-') {
            const char *eq = strchr(a + 2, '=');
            size_t n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
            for (d = opt_defs; d->lng; d++) {
                if (strlen(d->lng) == n && !strncmp(d->lng, a + 2, n)) {
                    break;
                }
            }
            if (eq) {
                val = eq + 1;
            }
        } else if (!a[2]) {
            for (d = opt_defs; d->lng; d++) {
                if (d->shrt && d->shrt == a[1]) {
                    break;
                }
            }
        }
        if (!d || !d->lng) {
            fprintf(stderr, "activesync-admin: unknown option '%s' (see --help)\n", a);
            return ASADM_USAGE;
        }
        if (d->has_arg && !val) {
            if (i + 1 >= argc) {
                fprintf(stderr, "activesync-admin: option '%s' needs a value\n", a);
                return ASADM_USAGE;
            }
            val = argv[++i];
        } else if (!d->has_arg && val) {
            fprintf(stderr, "activesync-admin: option '--%s' takes no value\n", d->lng);
            return ASADM_USAGE;
        }
        if (d->off) {
            *(const char **)((char *)&ctx + d->off) = val;
        } else if (!strcmp(d->lng, "json")) {
            ctx.json = 1;
        } else if (!strcmp(d->lng, "force")) {
            ctx.force = 1;
        } else if (!strcmp(d->lng, "account-only")) {
            ctx.account_only = 1;
        } else if (!strcmp(d->lng, "cancel")) {
            ctx.cancel = 1;
        } else if (!strcmp(d->lng, "help")) {
            usage(stdout);
            return ASADM_OK;
        } else if (!strcmp(d->lng, "version")) {
            printf("activesync-admin (%s) %s\n", AS_PACKAGE_NAME, AS_PACKAGE_VERSION);
            return ASADM_OK;
        }
    }
    if (npos == 0) {
        fprintf(stderr, "activesync-admin: no command given (see --help)\n");
        return ASADM_USAGE;
    }
    for (c = commands; c->name; c++) {
        if (!strcmp(c->name, pos[0])) {
            int rc = c->run(&ctx, npos - 1, pos + 1);
            fflush(stdout);
            as_db_close(ctx.db);
            return rc;
        }
    }
    fprintf(stderr, "activesync-admin: unknown command '%s' (see --help)\n", pos[0]);
    return ASADM_USAGE;
}
