/* The directory: domains, account classes and accounts, with the four
 * mobility options and their inheritance (DESIGN §1).
 *
 * Levels and resolution, per option, for account A (domain D, class C):
 *   A's explicit value, else C's explicit value, else D's value, else the
 *   built-in default (activesync off; email, contacts, pim on).
 * Every effective value is reported with its source (account, class, domain,
 * built-in).  An unknown domain resolves to the built-in defaults.  An
 * authenticated user without an account record inherits everything; a record
 * is created only when something is set explicitly on it (or when the cap
 * refuses it), and it is deleted again when nothing explicit is left on it.
 *
 * Names: domains are DNS names (lower-cased; letters, digits, '-', '.';
 * at most 253 bytes); classes are 1-64 of [a-z0-9._-] (lower-cased);
 * accounts are "local@domain" (lower-cased; local part 1-64 printable ASCII
 * bytes other than space, '@', '/', '\\', '"', ',', ':', ';', '<', '>').
 *
 * Removal rules (decided for issue 3):
 * - domain remove refuses (AS_DIR_ENOTEMPTY) while the domain has classes,
 *   account records or registered mailboxes, unless `force`: then all of
 *   them are removed too, and the registry slots of its accounts are freed.
 * - class remove refuses while accounts are members, unless `force`: then
 *   the members leave the class (their explicit options stay).
 * - account remove deletes the record, frees the registry slot and deletes
 *   the account's device records (as_device.h) in the same transaction,
 *   then drops the sync state of all its devices (as_syncstate.h, its own
 *   transaction), so an account added again starts clean.  An account with
 *   neither record, slot nor device is AS_DIR_ENOACCOUNT.  Domain removal
 *   does the same for the accounts it removes.
 * Registry slot rules (with as_cap.h): explicit `activesync=on` on an account
 * reserves a slot at once (refused with AS_CAP_EFULL / AS_CAP_ECLOSED when it
 * cannot); explicit `activesync=off` and account removal free the slot.
 * Unsetting, class changes and domain/class option changes never touch the
 * registry: a registered account whose effective activesync turns off keeps
 * its slot (shown as "registered, inactive") until disabled or removed.
 *
 * Record encoding (directory.db; key -> value), version 1:
 *   key "d:" DOMAIN                 domain record
 *   key "c:" DOMAIN "/" CLASS        class record
 *   key "a:" DOMAIN "/" LOCAL        account record
 *   value: byte 0  version (1, 2 or 3)
 *          byte 1  defined mask (bit n = option n explicitly set)
 *          byte 2  value mask   (bit n = option n on; meaningful if defined)
 *          byte 3  version 1: reserved (0); versions 2, 3: length of the class name
 *          bytes 4-11  last change, apr_time_t microseconds, big endian
 *          bytes 12..  account records only: class name (no NUL), may be empty
 *                      (version 1: the rest of the record)
 *          version 3 only, after the class name: the account's identity
 *                      (who it sends as): 1 byte name length, the display
 *                      name (UTF-8), 1 byte alias count, then per alias 2
 *                      bytes length (big endian) and the address
 *          versions 2 and 3, last: the explicit provisioning policy
 *                      settings of the level (as_polset_encode(),
 *                      as_policy.h; one 0 byte when none)
 * A record is written in the lowest version that holds it (version 1
 * without policy settings or identity, 2 without identity), so an older
 * module still reads it; records of versions 1 and 2 read as having no
 * display name and no aliases.  Records of an unknown version make the call fail
 * with AS_DB_ECORRUPT.
 *
 * Provisioning policies (as_policy.h) are settings of the same three levels
 * with the same inheritance; they live in the same records, so an account
 * with only policy settings has a record too, and removing a domain, class
 * or account removes its policy settings with it.
 */
#ifndef AS_DIRECTORY_H
#define AS_DIRECTORY_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "as_db.h"
#include "as_options.h"

/* ---- views ---------------------------------------------------------------- */

typedef struct as_dir_domain_t {
    const char *name;
    as_optset_t opts;
    apr_time_t mtime;
    as_effective_t eff;            /* domain value or built-in */
    const struct as_polset_t *pol; /* explicit policy settings, NULL when none */
    int nclasses;                  /* filled by get/list */
    int naccounts;                 /* account records */
} as_dir_domain_t;

typedef struct as_dir_class_t {
    const char *domain;
    const char *name;
    as_optset_t opts;
    apr_time_t mtime;
    as_effective_t eff;                   /* what a member without own settings gets */
    const struct as_polset_t *pol;        /* explicit policy settings, NULL when none */
    const struct as_polset_t *pol_domain; /* the domain's, NULL when none */
    int nmembers;
} as_dir_class_t;

typedef struct as_dir_account_t {
    const char *address; /* local@domain */
    const char *domain;
    const char *class_name; /* NULL when not a member */
    int has_record;         /* an account record exists */
    int domain_known;       /* the domain exists */
    int class_known;        /* class_name exists in the domain */
    as_optset_t opts;       /* explicit settings on the account */
    apr_time_t mtime;
    as_effective_t eff;
    /* Explicit policy settings per level (NULL when the level has none or is
     * absent): pol[AS_SRC_DOMAIN], pol[AS_SRC_CLASS], pol[AS_SRC_ACCOUNT];
     * as_policy_resolve_account() gives the effective policy. */
    const struct as_polset_t *pol[AS_SRC_LEVELS];
    int registered;      /* in the mailbox registry */
    apr_time_t admitted; /* first admission (registered only) */
    /* Who the account sends as besides its address (SendMail): NULL when none. */
    const char *display_name;
    const apr_array_header_t *aliases; /* const char *, lower-case addresses */
} as_dir_account_t;

/* ---- operations (each one transaction) -------------------------------------
 * Names are validated here too; `err` (may be NULL) receives a sentence for
 * a person on failure, e.g. "unknown domain 'example.org'". */

apr_status_t as_dir_domain_add(as_db_t *db, apr_pool_t *p, const char *name, const char **err);
apr_status_t as_dir_domain_get(as_db_t *db, apr_pool_t *p, const char *name, as_dir_domain_t *out,
                               const char **err);
/* Array of as_dir_domain_t, sorted by name. */
apr_status_t as_dir_domain_list(as_db_t *db, apr_pool_t *p, apr_array_header_t **out,
                                const char **err);
/* Apply set_mask/set_value/unset_mask (class fields are refused). */
apr_status_t as_dir_domain_update(as_db_t *db, apr_pool_t *p, const char *name,
                                  const as_optedit_t *edit, const char **err);

apr_status_t as_dir_class_add(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                              const char **err);
apr_status_t as_dir_class_remove(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                                 int force, const char **err);
apr_status_t as_dir_class_get(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                              as_dir_class_t *out, const char **err);
/* Array of as_dir_class_t of one domain (NULL: all domains). */
apr_status_t as_dir_class_list(as_db_t *db, apr_pool_t *p, const char *domain,
                               apr_array_header_t **out, const char **err);
apr_status_t as_dir_class_update(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                                 const as_optedit_t *edit, const char **err);

/* The display name and aliases of an account (both NULL when it has no
 * record or none set): one read of its record, answered from the
 * per-process memo (as_db_memo.h) while the database is unchanged. */
apr_status_t as_dir_account_identity(as_db_t *db, apr_pool_t *p, const char *address,
                                     const char **display_name, const apr_array_header_t **aliases);

/* ---- building blocks for other transactions (as_cap.c, as_account_service.c) */

/* Read the account record and resolve it, inside txn.  out->registered is
 * not filled.  rmw: read the account record with DB_RMW. */
int as_dir_txn_resolve(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *address,
                       const char *domain, int rmw, as_dir_account_t *out);
/* Write the account record from acct->opts, class_name and
 * pol[AS_SRC_ACCOUNT] (deleting it when nothing explicit is left). */
int as_dir_txn_store_account(as_db_t *db, DB_TXN *txn, const as_dir_account_t *acct);
/* *exists: whether the domain record exists (0 or a Berkeley DB error). */
int as_dir_txn_domain_exists(as_db_t *db, DB_TXN *txn, const char *domain, int *exists);

/* The directory's part of removing a domain: refused (AS_DIR_ENOTEMPTY,
 * message in *err) while it has classes, account records or nreg registered
 * mailboxes unless force; otherwise its classes, accounts and own record are
 * deleted and the removed accounts' addresses pushed on gone. */
int as_dir_txn_domain_purge(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *domain, int force,
                            unsigned nreg, apr_array_header_t *gone, const char **err);
/* Apply edit to the account's record (its domain, and the class it joins,
 * must exist: AS_DIR_ENODOMAIN / AS_DIR_ENOCLASS with a message in *err). */
int as_dir_txn_account_edit(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *address,
                            const char *domain, const as_optedit_t *edit, const char **err);
/* Delete the account's record; *had_record says whether there was one. */
int as_dir_txn_account_delete(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *address,
                              int *had_record);
/* The addresses (const char *) of the accounts with a record or a registry
 * slot, sorted by domain then local part; domain NULL: all domains. */
int as_dir_txn_account_addresses(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *domain,
                                 apr_array_header_t **out);

#endif
