/* The collection store: an account's contacts, calendars, task lists and
 * notes as vCard and iCalendar files in Radicale's on-disk layout
 * (DESIGN §2), behind the store contract (as_store.h).
 *
 * LAYOUT
 * ROOT (from `ActiveSyncCollections TEMPLATE`) holds one folder per
 * collection; each has a `.Radicale.props` JSON object ("tag":
 * "VADDRESSBOOK" or "VCALENDAR", "D:displayname", and for calendars
 * "C:supported-calendar-component-set", e.g. "VEVENT,VTODO") and one item
 * per file (`*.vcf`, `*.ics`).  Radicale's cache folders (`.Radicale.cache`)
 * and other dot-files are left alone.  Writes are atomic (a temporary file
 * in the collection, then rename) and made under Radicale's storage lock
 * (`.Radicale.lock` of the storage folder, as Radicale asks external
 * writers to).
 *
 * FOLDERS
 * A collection is one folder per class it holds (a VCALENDAR collection
 * with VEVENT and VTODO shows as a calendar and a task list); the first
 * collection of each class is the default folder (types 7-10), the others
 * are user folders (13-15, 17).  Notes are VJOURNAL items.  An account
 * without collections gets a default address book (and calendar, task list
 * and notes list) the first time its folders are listed.
 *
 * IDS
 * Folder ids: AS_COLLECTIONS_ID_PREFIX followed by base32 [0-9a-v], stable
 * while the collection's folder keeps its name; item ids: base32 of the
 * file's name, stable when another program rewrites the file.
 */
#ifndef AS_COLLECTIONS_H
#define AS_COLLECTIONS_H

#include "as_store.h"

/* Collection folder ids start with this letter and are longer than the
 * Maildir's 8-character ids, so the router (as_store_router.h) tells them
 * apart and the ids of existing mail folders do not change. */
#define AS_COLLECTIONS_ID_PREFIX 'v'

/* Expand an `ActiveSyncCollections` template for account (%u %n %d %%, the
 * same rules as as_maildir_path_from_template). */
apr_status_t as_collections_path_from_template(apr_pool_t *p, const char *tmpl, const char *account,
                                               const char **path, const char **err);

/* Open the collections at root for account.  classes: a mask of
 * (1 << AS_CLASS_CONTACTS) ... of the classes to show (the account's
 * `contacts` and `pim` options); create: make root and the default
 * collections when missing.  The handle lives in pool p. */
apr_status_t as_collections_open(apr_pool_t *p, const char *root, const char *account,
                                 unsigned classes, int create, const as_logger_t *log,
                                 as_store_t **store);

/* The longest wait for Radicale's storage lock before a write gives up
 * with APR_TIMEUP (default 30 s).  The lock is `.Radicale.lock` in the
 * storage folder: for ROOT = STORAGE/collection-root/USER (Radicale's own
 * layout) that is STORAGE, otherwise the parent of ROOT. */
void as_collections_set_lock_wait(as_store_t *store, apr_interval_time_t wait);
/* Path of that lock file (tests, logs). */
const char *as_collections_lock_path(const as_store_t *store);

#endif
