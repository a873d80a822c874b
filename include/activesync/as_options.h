/* Mobility option values (ActiveSync, Email, Contacts, PIM), the
 * inheritance rule of DESIGN §1 they share with the policies, command-line
 * edits of one level, and the name checks of domains, classes and accounts.
 * A leaf: no database, no other module of the accounts layer. */
#ifndef AS_OPTIONS_H
#define AS_OPTIONS_H

#include <apr_errno.h>
#include <apr_pools.h>
#include <apr_tables.h>

#include "as_db.h" /* the AS_DIR_E* codes the checks return */

typedef enum {
    AS_OPT_ACTIVESYNC = 0,
    AS_OPT_EMAIL,
    AS_OPT_CONTACTS,
    AS_OPT_PIM,
    AS_OPT_COUNT
} as_opt_t;

typedef enum { AS_SRC_BUILTIN = 0, AS_SRC_DOMAIN, AS_SRC_CLASS, AS_SRC_ACCOUNT } as_src_t;
#define AS_SRC_LEVELS 4

/* The inheritance rule of DESIGN §1, shared by the mobility options and the
 * provisioning policies: the most specific level that defines setting i --
 * account, then class, then domain -- else AS_SRC_BUILTIN.  levels[s] is the
 * explicit set of level s for s in AS_SRC_DOMAIN..AS_SRC_ACCOUNT (NULL when
 * the level is absent; levels[AS_SRC_BUILTIN] is not used); has(set, i)
 * says whether a set defines setting i. */
typedef int as_inherit_has_fn(const void *set, int i);
as_src_t as_inherit_source(const void *const levels[AS_SRC_LEVELS], as_inherit_has_fn *has, int i);

/* Provisioning policy sets and edits (as_policy.h). */
struct as_polset_t;
struct as_poledit_t;

/* Explicit settings of one level: bit n of `defined` says option n is set,
 * bit n of `value` gives its value. */
typedef struct as_optset_t {
    unsigned char defined;
    unsigned char value;
} as_optset_t;

/* Effective options with the level each came from. */
typedef struct as_effective_t {
    int value[AS_OPT_COUNT];
    as_src_t source[AS_OPT_COUNT];
} as_effective_t;

const char *as_opt_name(as_opt_t o);    /* "activesync" ... */
int as_opt_from_name(const char *name); /* -1 when unknown */
const char *as_src_name(as_src_t s);    /* "account" "class" "domain" "built-in" */
int as_opt_builtin(as_opt_t o);         /* built-in default */
int as_optset_has(const as_optset_t *s, as_opt_t o);
int as_optset_get(const as_optset_t *s, as_opt_t o);
void as_optset_set(as_optset_t *s, as_opt_t o, int on);
void as_optset_unset(as_optset_t *s, as_opt_t o);

/* The resolution rule; any level may be NULL (absent / unknown). */
void as_opts_resolve(const as_optset_t *domain, const as_optset_t *cls, const as_optset_t *account,
                     as_effective_t *out);

/* ---- edits ---------------------------------------------------------------- */

/* A set of changes to one level, built from command-line words. */
typedef struct as_optedit_t {
    unsigned char set_mask;            /* options to set ... */
    unsigned char set_value;           /* ... to these values */
    unsigned char unset_mask;          /* options to make inherited */
    const char *class_name;            /* accounts: join this class (NULL: unchanged) */
    int unset_class;                   /* accounts: leave the class */
    const struct as_poledit_t *policy; /* policy settings to set/unset (NULL: none) */
    /* Accounts only: who the account sends as (SendMail). */
    const char *display_name;          /* set it (NULL: unchanged) */
    int unset_display_name;            /* remove it */
    const apr_array_header_t *aliases; /* replace them, const char * (NULL: unchanged) */
    int unset_aliases;                 /* remove them all */
} as_optedit_t;

/* Bounds of an account's identity: a display name of 1-AS_DIR_NAME_MAX
 * bytes of UTF-8 without control characters, and at most
 * AS_DIR_ALIASES_MAX other addresses it may send as. */
#define AS_DIR_NAME_MAX    128
#define AS_DIR_ALIASES_MAX 10

/* 1 for on/yes/true/1/enabled/enable, 0 for off/no/false/0/disabled/disable
 * (any case), -1 otherwise. */
int as_parse_bool(const char *v);

/* Parse "opt=on|off" (also true/false, yes/no, 1/0, enabled/disabled) into
 * edit; with allow_class (accounts), "class=NAME", "name=DISPLAY NAME" and
 * "aliases=ADDR[,ADDR...]" too.  AS_DIR_EINVAL and a message in
 * *err for an unknown option or a bad value. */
apr_status_t as_optedit_parse_set(apr_pool_t *p, as_optedit_t *edit, const char *word,
                                  int allow_class, const char **err);
/* Parse "opt" (or "class", "name", "aliases" with allow_class) for unset. */
apr_status_t as_optedit_parse_unset(apr_pool_t *p, as_optedit_t *edit, const char *word,
                                    int allow_class, const char **err);

/* ---- names ---------------------------------------------------------------- */

/* Validate and lower-case.  AS_DIR_EINVAL with a message in *err. */
apr_status_t as_dir_domain_name(apr_pool_t *p, const char *in, const char **out, const char **err);
apr_status_t as_dir_class_name(apr_pool_t *p, const char *in, const char **out, const char **err);
apr_status_t as_dir_account_name(apr_pool_t *p, const char *in, const char **out,
                                 const char **domain, const char **err);
/* "DOMAIN/CLASS" -> both parts, validated. */
apr_status_t as_dir_class_path(apr_pool_t *p, const char *in, const char **domain, const char **cls,
                               const char **err);

#endif
