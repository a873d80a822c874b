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
 * with VEVENT and VTODO shows as a calendar and a task list; no component
 * set means VEVENT,VTODO); the default folder of a class (types 7-10) is
 * the collection named contacts/, calendar/, tasks/ or notes/ when it
 * holds that class, else the first by directory name; the others are user
 * folders (13-15, 17).  Notes are VJOURNAL items.  With create set, an
 * account without a collection of a class it shows gets that default
 * collection (contacts/ ... with a displayname) the first time its folders
 * are read.  All folders are top-level (parent "0").  FolderCreate makes a
 * collection with a random (UUID) directory name; a rename sets
 * D:displayname only, so CardDAV/CalDAV URLs stay; default folders, and a
 * collection that is two folders, are not renamed or deleted
 * (AS_STORE_ESPECIAL).  Collections have no trash.
 *
 * ITEMS AND ETAGS
 * Every regular file of a collection that is not a dot-file (no symlink)
 * is an item if it is a vCard (address books) or an iCalendar object whose
 * first VEVENT/VTODO/VJOURNAL is the folder's; others are skipped with a
 * log line.  ETag: the hex SHA-256 of the file's bytes -- what Radicale
 * sends for the files it wrote.  A listing reads every file (O(folder));
 * the handle remembers ETags per (name, size, mtime, inode).  New items are
 * named after their UID (escaped) or at random, `.vcf` or `.ics`.
 * Limits: 4 MB an item, 100,000 items a collection, 256 collections.
 *
 * TOKENS
 * A folder token is one stat of the collection's directory (Radicale and
 * this store write by rename, which changes it; an editor that rewrites a
 * file in place is not seen until the next change).  The hierarchy token
 * reads the root and stats each collection's .Radicale.props (a rename
 * rewrites only that file): O(collections), no file read.
 *
 * IDS
 * Folder ids: AS_COLLECTIONS_ID_PREFIX followed by 9 base32 digits [0-9a-v]
 * (10 characters) of a digest of the directory name and the class, stable
 * while the collection's folder keeps its name; item ids: 13 base32 digits
 * of a digest of the file's name, stable when another program rewrites the
 * file.  Ids from a client are checked before any use and never reach a
 * path.
 *
 * add_item: APR_EEXIST when a file of that UID's name exists already;
 * APR_EINVAL for content that is not an item of the folder's kind or is
 * over 4 MB; writes give up with APR_TIMEUP when Radicale's lock stays
 * held (as_collections_set_lock_wait).
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

/* How many times this process read a collections root (its entries and
 * every .Radicale.props) rather than using the copy it keeps while the
 * root and the props files are unchanged: for tests and benchmarks. */
unsigned long as_collections_root_reads(void);

#endif
