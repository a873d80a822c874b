/* The account service: the operations that span the directory, the mailbox
 * cap, the devices and the sync state, each keeping them consistent.  It
 * sits above all four and owns the cascades:
 *
 * - removing a domain (force) removes its classes and accounts, releases
 *   their mailbox slots, removes their devices -- one transaction -- then
 *   drops their sync state;
 * - removing an account releases its slot and removes its devices in one
 *   transaction, then drops their sync state;
 * - removing a device drops its sync state;
 * - expiring devices (as_device_expired: never provisioned, or not seen,
 *   for long) removes their records in batches and drops their sync state;
 * - switching ActiveSync on or off for an account takes or releases its
 *   slot in the transaction that stores the option, under the cap's lock.
 *
 * Sync state lives in its own database and is dropped after the commit, in
 * its own transaction: a crash in between leaves only state no key can
 * reach, and the next removal of the same account or device clears it.
 * `err` (may be NULL) receives a sentence for a person on failure. */
#ifndef AS_ACCOUNT_SERVICE_H
#define AS_ACCOUNT_SERVICE_H

#include <apr_pools.h>
#include <apr_tables.h>

#include "as_cap.h"
#include "as_db.h"
#include "as_device.h"
#include "as_directory.h"

apr_status_t as_svc_domain_remove(as_db_t *db, apr_pool_t *p, const char *name, int force,
                                  const char **err);

/* Resolve any address, with its registration: works for accounts without a
 * record and for unknown domains (built-in defaults).  Never fails for a
 * well-formed address except on database errors. */
apr_status_t as_svc_account_get(as_db_t *db, apr_pool_t *p, const char *address,
                                as_dir_account_t *out, const char **err);
/* Accounts with a record or a registry slot, sorted by domain then local
 * part; domain NULL lists all.  Array of as_dir_account_t. */
apr_status_t as_svc_account_list(as_db_t *db, apr_pool_t *p, const char *domain,
                                 apr_array_header_t **out, const char **err);
/* Set/unset options and class membership on an account (creating or deleting
 * the record as needed), keeping the registry consistent (`cap` NULL: no
 * cap).  Unknown domain or class: AS_DIR_ENODOMAIN / AS_DIR_ENOCLASS; a full
 * or closed cap: AS_CAP_EFULL / AS_CAP_ECLOSED. */
apr_status_t as_svc_account_update(as_db_t *db, apr_pool_t *p, const char *address,
                                   const as_optedit_t *edit, const as_cap_limit_t *cap,
                                   const char **err);
apr_status_t as_svc_account_remove(as_db_t *db, apr_pool_t *p, const char *address,
                                   const char **err);
/* The same; *ndevices (may be NULL) gets the number of device records removed. */
apr_status_t as_svc_account_remove_ex(as_db_t *db, apr_pool_t *p, const char *address,
                                      int *ndevices, const char **err);

/* Remove one device and its sync state. */
apr_status_t as_svc_device_remove(as_db_t *db, apr_pool_t *p, const char *account,
                                  const char *device_id, const char **err);

/* One bounded pass of device expiry: reads at most max_scan device records
 * (0: 1000) from *from (NULL or "": the first), removes those expired at
 * `now` (0: now) -- re-checked under a write lock, at most 50 per
 * transaction -- and drops their sync state.  *from gets where the next pass
 * goes on (NULL: the end was reached); *n the devices removed. */
apr_status_t as_svc_devices_expire(as_db_t *db, apr_pool_t *p, apr_time_t now,
                                   const as_device_ages_t *ages, unsigned max_scan,
                                   const char **from, int *n);

/* For a periodic maintenance thread (call it as often as you like): looks at
 * the shared sweep position at most once a minute per process (*next_check,
 * the caller's, starts at 0); when a pass is due, one process claims it and
 * runs one as_svc_devices_expire pass of 1000 records.  A sweep over all
 * devices goes on a pass a minute and starts again an hour after it ended.
 * Nothing happens when both ages are 0.  *n: devices removed. */
apr_status_t as_svc_devices_expire_tick(as_db_t *db, apr_time_t now, const as_device_ages_t *ages,
                                        apr_time_t *next_check, int *n);

#endif
