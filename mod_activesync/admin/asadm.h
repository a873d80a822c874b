/* activesync-admin internals shared by the asadm_*.c command files. */
#ifndef ASADM_H
#define ASADM_H

#include <stdio.h>

#include <apr_pools.h>
#include <apr_time.h>

#include "activesync/as_account_service.h"
#include "activesync/as_cap.h"
#include "activesync/as_db.h"
#include "activesync/as_directory.h"

/* Exit codes. */
#define ASADM_OK    0
#define ASADM_FAIL  1 /* the operation failed (unknown domain, cap full, invalid licence...) */
#define ASADM_USAGE 2 /* the command line is wrong */

typedef struct asadm_ctx_t {
    apr_pool_t *pool;
    const char *datadir;
    int json;
    int force;
    int account_only; /* device wipe --account-only */
    int cancel;       /* device wipe --cancel */
    /* cap options */
    const char *cap_arg;     /* --cap N|none */
    const char *license;     /* --license FILE */
    const char *license_key; /* --license-key FILE */
    /* licence signing / showing */
    const char *key; /* --key FILE */
    const char *out; /* --out FILE */
    const char *licensee, *mailboxes, *expires, *issued, *id;
    /* state */
    as_db_t *db;
    as_cap_limit_t cap;
    int cap_resolved;
    const char *cap_origin; /* where the cap came from: option, cap.conf, none */
} asadm_ctx_t;

typedef int asadm_cmd_fn(asadm_ctx_t *ctx, int argc, const char *const *argv);

/* Open the environment in ctx->datadir (dropping root privileges to the
 * owner of the data directory first).  Prints the error and returns non-zero
 * on failure. */
int asadm_open_db(asadm_ctx_t *ctx);
/* Resolve the cap for explicit enables (--cap, --license/--license-key,
 * DATADIR/cap.conf, else unlimited).  Call before asadm_open_db (licence
 * files may be readable by root only). */
int asadm_resolve_cap(asadm_ctx_t *ctx);

/* Messages: "activesync-admin: MSG" on stderr; returns code. */
int asadm_error(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
int asadm_db_error(apr_status_t rv, const char *err);

/* Output helpers. */
const char *asadm_time(apr_pool_t *p, apr_time_t t); /* ISO 8601 UTC, "-" for 0 */
void asadm_json_str(FILE *f, const char *s);         /* quoted and escaped, null for NULL */
/* One inherited setting: JSON member "name": {"value": V, "source": S,
 * "explicit": B} (value_json already JSON; first: no leading comma), or a
 * text line "NAME  VALUE (source[, explicit])" with the name padded. */
void asadm_json_setting(FILE *f, int first, const char *name, const char *value_json, as_src_t src,
                        int explicit_here);
void asadm_print_setting(FILE *f, const char *indent, int width, const char *name,
                         const char *value, as_src_t src, int explicit_here);
void asadm_json_options(FILE *f, const as_effective_t *eff, const as_optset_t *explicit_set);
void asadm_print_options(FILE *f, const char *indent, const as_effective_t *eff,
                         const as_optset_t *explicit_set);
const char *asadm_opt_cell(apr_pool_t *p, const as_effective_t *eff, int o);
void asadm_ok(asadm_ctx_t *ctx, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Command groups. */
int asadm_cmd_domain(asadm_ctx_t *ctx, int argc, const char *const *argv);
int asadm_cmd_class(asadm_ctx_t *ctx, int argc, const char *const *argv);
int asadm_cmd_account(asadm_ctx_t *ctx, int argc, const char *const *argv);
int asadm_cmd_mailbox(asadm_ctx_t *ctx, int argc, const char *const *argv);
int asadm_cmd_license(asadm_ctx_t *ctx, int argc, const char *const *argv);
int asadm_cmd_device(asadm_ctx_t *ctx, int argc, const char *const *argv);
int asadm_cmd_policy(asadm_ctx_t *ctx, int argc, const char *const *argv);

#endif
