/* Devices: one record per (account, device id), and the domain's device
 * access rules.
 *
 * A device is identified by the canonical account ("local@domain") and the
 * request line's device_key (the DeviceId upper-cased: device ids are
 * case-insensitive, and one phone may carry two accounts).  The record holds
 * what the device told us (type, User-Agent, protocol version, the
 * DeviceInformation fields), when we saw it (first and last contact, last
 * command), its provisioning state (as_provision.h), its wipe state and the
 * administrator's access decision.
 *
 * Contact (as_device_touch): created on the first request; afterwards
 * written only when something it records changed (type, User-Agent,
 * protocol version) or when the last recorded contact is AS_DEVICE_TOUCH_SEC
 * (an hour) or more old.  So a device costs at most one small write an hour
 * plus one per change; in between a request costs one read and no write
 * (issue 10: a phone's idle polls must not write to the disk).  The last contact and
 * the last command therefore have a resolution of AS_DEVICE_TOUCH_SEC (the
 * command recorded is the one of the request that wrote): nothing is kept
 * in memory, so a crash loses nothing, and expiry (as_device_expiry.c,
 * ages of a day or more) may see a device as idle up to an hour longer
 * than it was.
 *
 * Access (decided for issue 5), highest precedence first:
 *   1. the device's explicit access: `device block` (blocked) or
 *      `device unblock` (allowed, even when a domain rule blocks it);
 *   2. the domain's rules, in the order they were added, first match wins:
 *      `allow|block type=GLOB` matches the DeviceType of the request line,
 *      `allow|block agent=GLOB` the User-Agent header (fnmatch(3) patterns,
 *      case-insensitive; a device without User-Agent matches as "");
 *   3. otherwise allowed.
 * A blocked device gets HTTP 403 on every command (as_provision_gate).
 *
 * Wipe: none -> requested (full, or account-only for EAS 16.1) -> delivered
 * (the Provision reply carried RemoteWipe / AccountOnlyRemoteWipe; still
 * "requested": the device may ask again) -> acknowledged (the device's
 * Status and the time).  An acknowledged device is refused (403) until an
 * administrator removes its record; a new record starts clean.
 *
 * Limit (ActiveSyncMaxDevices, issue 7): an account holds at most N device
 * records.  A request from an unknown device of an account that has N is
 * refused before any record is written (as_provision_gate); devices that
 * have a record keep working.  Creating a record takes the account's
 * creation lock ("c:" key, written in the creating transaction) and then
 * counts, so concurrent first contacts of one account are serialised and the
 * count is exact across every process.
 *
 * Expiry (as_device_expired): a device that never provisioned, was used for
 * less than the "unprovisioned" age (last minus first contact) and was not
 * seen for that age, or any device not seen for the "unseen" age (0: that
 * rule is off).  Records that carry an administrator's decision
 * (explicit block/allow, a wipe pending or acknowledged) never expire.  The cascade with the sync
 * state is the service's (as_svc_devices_expire).
 *
 * Encoding (devices.db):
 *   key "c:" DOMAIN "/" LOCAL                the account's creation lock
 *                                            (8 bytes: last creation time)
 *   key "r:" DOMAIN                          the domain's rules
 *   key "v:" DOMAIN "/" LOCAL "/" DEVICEKEY  device record
 *   key "x:expiry"                           the expiry sweep's position
 *   device value: byte 0 version (1), then fields {tag:1, length:2 BE,
 *     bytes}: strings without NUL, integers 4 bytes BE, times 8 bytes BE
 *     (apr_time_t).  Unknown tags are skipped, so fields can be added.
 *   rules value: byte 0 version (1), byte 1 count, then per rule: action
 *     (0 allow, 1 block), field (0 type, 1 agent), length:1, pattern.
 */
#ifndef AS_DEVICE_H
#define AS_DEVICE_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "as_db.h"
#include "as_protocol.h"

#define AS_DEV_ENODEVICE (AS_ERR_BASE + 60) /* no such device */
#define AS_DEV_EREFUSED  (AS_ERR_BASE + 61) /* refused by the device's state (message in err) */

#define AS_DEVICE_TOUCH_SEC   3600
#define AS_DEVICE_FIELD_MAX   1024 /* DeviceInformation strings (Settings schema) */
#define AS_DEVICE_RULE_MAX    128  /* pattern length */
#define AS_DEVICE_RULES_MAX   64   /* rules per domain */
#define AS_DEVICE_MAX_DEFAULT 100  /* devices per account (Exchange's default) */

typedef enum { AS_ACCESS_DEFAULT = 0, AS_ACCESS_ALLOW, AS_ACCESS_BLOCK } as_access_t;

typedef enum {
    AS_PROV_NONE = 0, /* never provisioned */
    AS_PROV_PENDING,  /* policy sent with a temporary key, not acknowledged yet */
    AS_PROV_DONE      /* final key issued (policy_key) */
} as_prov_state_t;

typedef enum {
    AS_WIPE_NONE = 0,
    AS_WIPE_REQUESTED, /* ordered by the administrator (maybe already delivered) */
    AS_WIPE_ACKED      /* the device acknowledged it */
} as_wipe_state_t;

/* DeviceInformation (Settings namespace); NULL fields were not sent. */
typedef struct as_device_info_t {
    const char *model, *imei, *friendly_name, *os, *os_language, *phone_number, *user_agent,
        *mobile_operator;
    int enable_outbound_sms; /* -1 not sent, else 0/1 */
} as_device_info_t;

typedef struct as_device_t {
    const char *account;   /* local@domain */
    const char *device_id; /* the device key (upper-case) */
    const char *device_type;
    const char *user_agent; /* User-Agent header, last recorded */
    const char *protocol_version;
    const char *last_command;
    apr_time_t first_contact, last_contact;
    as_device_info_t info; /* as last sent (fields merge: a Set overwrites what it sends) */
    apr_time_t info_time;
    /* provisioning */
    apr_uint32_t nonce; /* random, fixed for the record's life: part of the policy key */
    as_prov_state_t prov_state;
    apr_uint32_t temp_key;   /* PENDING: the temporary key sent */
    apr_uint32_t policy_key; /* last final key issued (0 none) */
    int client_status;       /* Status of the device's policy acknowledgement (0 none) */
    apr_time_t provisioned;  /* when the final key was issued */
    unsigned prov_demands;   /* provisioning demands since the last Provision */
    /* wipe */
    as_wipe_state_t wipe;
    int wipe_account_only; /* the wipe is AccountOnlyRemoteWipe (EAS 16.1) */
    apr_time_t wipe_requested, wipe_sent, wipe_acked;
    int wipe_status; /* the device's acknowledgement Status */
    /* access */
    as_access_t access;
    apr_time_t access_changed;
} as_device_t;

/* Domain access rules. */
typedef enum { AS_RULE_ALLOW = 0, AS_RULE_BLOCK = 1 } as_rule_action_t;
typedef enum { AS_RULE_TYPE = 0, AS_RULE_AGENT = 1 } as_rule_field_t;
typedef struct as_device_rule_t {
    as_rule_action_t action;
    as_rule_field_t field;
    const char *pattern;
} as_device_rule_t;

/* Names for display: "allow"/"block", "type"/"agent". */
const char *as_rule_action_name(as_rule_action_t a);
const char *as_rule_field_name(as_rule_field_t f);
/* "allow" + "type=iPhone*" -> rule; AS_DIR_EINVAL with *err. */
apr_status_t as_device_rule_parse(apr_pool_t *p, const char *action, const char *match,
                                  as_device_rule_t *out, const char **err);

/* A random nonzero 32-bit number (OpenSSL RAND_bytes). */
apr_uint32_t as_random_u32(void);

/* Protocol versions as numbers (141 for "14.1"; 0 when unknown/NULL). */

/* ---- per request ---------------------------------------------------------------- */

typedef struct as_device_contact_t {
    const char *account;    /* canonical */
    const char *device_key; /* upper-case */
    const char *device_type;
    const char *user_agent; /* may be NULL */
    const char *protocol_version;
    const char *command; /* may be NULL */
    apr_time_t now;      /* 0: apr_time_now() */
} as_device_contact_t;

/* Create or refresh the device record (see the contact rule above); *out
 * (may be NULL) receives the record. */
apr_status_t as_device_touch(as_db_t *db, apr_pool_t *p, const as_device_contact_t *c,
                             as_device_t *out);

/* Record DeviceInformation (creating the record when missing, with c's
 * identity; c->command may be NULL). */
apr_status_t as_device_set_info(as_db_t *db, apr_pool_t *p, const as_device_contact_t *c,
                                const as_device_info_t *info);

/* The access decision for a device: 1 blocked (reason set), 0 allowed. */
int as_device_blocked(apr_pool_t *p, const as_device_t *d, const apr_array_header_t *rules,
                      const char **reason);

/* ---- administration (each one transaction; err: a sentence for a person) --------- */

apr_status_t as_device_get(as_db_t *db, apr_pool_t *p, const char *account, const char *device_id,
                           as_device_t *out, const char **err);
/* Devices of an account ("local@domain"), of a domain ("domain"), or all
 * (NULL); sorted by account then device id.  Array of as_device_t. */
apr_status_t as_device_list(as_db_t *db, apr_pool_t *p, const char *scope, apr_array_header_t **out,
                            const char **err);
apr_status_t as_device_set_access(as_db_t *db, apr_pool_t *p, const char *account,
                                  const char *device_id, as_access_t access, const char **err);
/* Remove the device's record; *account_out and *device_out (may be NULL)
 * get its canonical ids.  Its sync state is the service's to drop
 * (as_svc_device_remove, as_account_service.h). */
apr_status_t as_device_remove(as_db_t *db, apr_pool_t *p, const char *account,
                              const char *device_id, const char **account_out,
                              const char **device_out, const char **err);
/* Order a wipe.  account_only needs a device that speaks EAS 16.1 or later
 * (AS_DEV_EREFUSED with a message otherwise); an acknowledged wipe or one
 * already pending is refused too. */
apr_status_t as_device_wipe(as_db_t *db, apr_pool_t *p, const char *account, const char *device_id,
                            int account_only, const char **err);
/* Cancel a wipe not yet acknowledged. */
apr_status_t as_device_wipe_cancel(as_db_t *db, apr_pool_t *p, const char *account,
                                   const char *device_id, const char **err);

/* Rules of a domain (array of as_device_rule_t, in order). */
apr_status_t as_device_rule_list(as_db_t *db, apr_pool_t *p, const char *domain,
                                 apr_array_header_t **out, const char **err);
/* Append a rule (the domain must exist; a duplicate is refused). */
apr_status_t as_device_rule_add(as_db_t *db, apr_pool_t *p, const char *domain,
                                const as_device_rule_t *rule, const char **err);
/* Remove the rule equal to `rule` (AS_DIR_EINVAL with a message when none). */
apr_status_t as_device_rule_remove(as_db_t *db, apr_pool_t *p, const char *domain,
                                   const as_device_rule_t *rule, const char **err);

/* ---- building blocks inside one transaction (as_provision.c) --------------------- */

/* 0, DB_NOTFOUND or an error. */
int as_device_txn_get(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *account,
                      const char *device_key, int rmw, as_device_t *out);
int as_device_txn_put(as_db_t *db, DB_TXN *txn, const as_device_t *d);
/* A new record for the contact (random nonce, first contact now). */
void as_device_init(apr_pool_t *p, as_device_t *d, const as_device_contact_t *c);
/* Apply the contact rule: returns 1 when d changed and must be written. */
int as_device_contact_update(apr_pool_t *p, as_device_t *d, const as_device_contact_t *c);
/* Merge DeviceInformation into d: 1 when a field changed (d must then be
 * written; info_time says when), 0 when d already said all of it. */
int as_device_info_merge(apr_pool_t *p, as_device_t *d, const as_device_info_t *info,
                         apr_time_t now);
/* The rules of a domain (empty array when none). */
int as_device_txn_rules(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *domain,
                        apr_array_header_t **out);
/* Delete every device record of an account ("local@domain", normalised) or,
 * with account NULL, of every account of domain, inside txn (account and
 * directory removal, as_directory.c).  accounts, when not NULL, gets each
 * account whose devices went, once (const char *); *n the records deleted. */
int as_device_txn_remove_all(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *account,
                             const char *domain, apr_array_header_t *accounts, int *n);

/* ---- the device limit (inside one transaction) ----------------------------------- */

/* Serialise the creation of device records of one account: writes the
 * account's "c:" record, so a concurrent creator conflicts and retries
 * after this transaction. */
int as_device_txn_lock_account(as_db_t *db, DB_TXN *txn, const char *account, apr_time_t now);
/* *n = the account's device records, counting stops at `stop` (0: all). */
int as_device_txn_count(as_db_t *db, DB_TXN *txn, const char *account, unsigned stop, unsigned *n);

/* ---- expiry ------------------------------------------------------------------------ */

typedef struct as_device_ages_t {
    apr_interval_time_t unprovisioned; /* never provisioned and not seen for this long (0 off) */
    apr_interval_time_t unseen;        /* not seen for this long (0 off) */
} as_device_ages_t;

#define AS_DEVICE_EXPIRE_UNPROVISIONED_DEFAULT apr_time_from_sec(86400)       /* 1 day */
#define AS_DEVICE_EXPIRE_UNSEEN_DEFAULT        apr_time_from_sec(180 * 86400) /* 180 days */

/* An age: "N" seconds or N followed by s, m, h or d; "Off" or "0" is 0 (the
 * rule is off).  At most 3650 days.  APR_EINVAL otherwise. */
apr_status_t as_device_age_parse(const char *s, apr_interval_time_t *out);

/* 1 when d is expired at `now` under ages (which rule in *why, may be NULL). */
int as_device_expired(const as_device_t *d, const as_device_ages_t *ages, apr_time_t now,
                      const char **why);
/* Read at most max_scan device records in key order from the key `from`
 * (NULL or "": the first), appending the expired ones (as_device_t, with
 * account and device_id) to found, at most max_found.  *next: the key to go
 * on from (pool string), or NULL when the scan reached the end. */
int as_device_txn_scan_expired(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *from,
                               const as_device_ages_t *ages, apr_time_t now, unsigned max_scan,
                               unsigned max_found, apr_array_header_t *found, const char **next);
/* Delete the device's record if it is (still) expired; *gone = 1 when so. */
int as_device_txn_expire_one(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *account,
                             const char *device_id, const as_device_ages_t *ages, apr_time_t now,
                             int *gone);
/* The sweep's position ("x:expiry"): when the next run is due and the key to
 * go on from ("" for the start). */
int as_device_txn_sweep_get(as_db_t *db, DB_TXN *txn, apr_pool_t *p, int rmw, apr_time_t *due,
                            const char **from);
int as_device_txn_sweep_put(as_db_t *db, DB_TXN *txn, apr_time_t due, const char *from);

#endif
