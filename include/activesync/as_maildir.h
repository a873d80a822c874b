/* Maildir++ backend of the mail store (as_store.h), for the layout Postfix,
 * Exim and Dovecot write:
 *
 *   ROOT/{cur,new,tmp}            INBOX
 *   ROOT/.Sent/{cur,new,tmp}      top-level folder "Sent"
 *   ROOT/.Work.Projects/...       "Projects" inside "Work" ('.' separates levels)
 *   ROOT/.INBOX.Lists/...         "Lists" inside INBOX
 *
 * Folder names on disk are Dovecot's modified UTF-7 (RFC 3501 5.1.3); they
 * are shown as UTF-8 (names that already are UTF-8 on disk, Dovecot's
 * UTF-8 option, are taken as they are).  A directory is a folder only when
 * it has cur/; dovecot* files, maildirfolder, subscriptions, and every name
 * not starting with '.' are ignored.  A nested folder whose parent
 * directory does not exist (".A.B" without ".A") hangs below the nearest
 * existing ancestor with the missing levels in its name ("A.B").
 *
 * ITEM IDS: 13 characters [0-9a-v], the 64-bit hash (FNV-1a + murmur3
 * finaliser) of the file's base name (the part before ':'), which Dovecot
 * and every Maildir reader keep when they move new/ -> cur/ or change the
 * ":2,FLAGS" info.  No state is needed to keep them stable.  Two base names
 * of one folder with the same hash (probability about n^2 / 2^65) are told
 * apart deterministically: the lexically smaller keeps the plain hash, the
 * other gets a salted one (which could change if the first is removed; an
 * accepted, practically impossible case).  Resolving an id reads new/ and
 * cur/ once (no stat); the result is cached in the handle (id -> file
 * name).  A cached name gone stale (renamed by Dovecot meanwhile) is found
 * again by its base name (one readdir pass, a few tries), then by one full
 * read; only then is the item reported missing (APR_ENOENT).
 *
 * LISTING: readdir() is no snapshot -- a file renamed during the read can
 * be missed under both names.  When new/ or cur/ changed during a read (or
 * within 20 ms before it), the folder is read again and the reads are
 * united, the latest read giving each message's name and flags, until a
 * read is quiet (at most 8 reads).  No message is ever missing from a
 * listing; one removed meanwhile may appear once more (opening it then
 * says APR_ENOENT, the next listing drops it).  A 10,000-message folder
 * lists in about 20-30 ms (readdir + fstatat per file).
 *
 * FOLDER IDS: 8 characters [0-9a-v], the hash of the on-disk name ("" for
 * INBOX, "Work.Projects" ...), so they survive restarts with no state.  A
 * file ROOT/activesync-folders keeps the exceptions: folders renamed
 * through rename_folder() keep their id (the new name is mapped to the old
 * id), and the rare hash collision gets a salted id that is written down.
 * The file is rewritten (tmp + rename) under an flock() of the root
 * directory; stale entries are pruned.  A folder renamed on disk by another
 * program gets the id of its new name: FolderSync reports Delete + Add.
 *
 * SPECIAL FOLDERS: INBOX is type 2.  Top-level folders whose name is one
 * of the configured names (as_maildir_names_t, Dovecot's defaults) get the
 * EAS types Drafts 3, Deleted Items 4, Sent Items 5; when the configured
 * name does not exist the common alternatives are recognised ("Sent Items",
 * "Sent Messages"; "Deleted Items", "Deleted Messages"; "Draft"; Junk:
 * "Spam", "Junk E-mail"), case-insensitively.  At most one folder per type.
 * Junk is a user mail folder (12) for EAS, but is known so it can be found.
 */
#ifndef AS_MAILDIR_H
#define AS_MAILDIR_H

#include "as_store.h"

typedef struct as_maildir_names_t {
    const char *sent;   /* "Sent" */
    const char *drafts; /* "Drafts" */
    const char *trash;  /* "Trash" */
    const char *junk;   /* "Junk" */
} as_maildir_names_t;

/* Dovecot's default names. */
void as_maildir_names_default(as_maildir_names_t *names);

/* Expand an ActiveSyncMaildir template for a canonical account
 * ("user@domain"): %u the full address, %n the local part, %d the domain,
 * %% a '%'.  The values are refused (APR_EINVAL, reason in *err) when they
 * are empty, start with '.', contain "..", '/', '\\', NUL or control
 * characters; an unknown %-escape, a template that is not absolute, or a
 * result containing "/../" or "/./" are refused too. */
apr_status_t as_maildir_path_from_template(apr_pool_t *p, const char *tmpl, const char *account,
                                           const char **path, const char **err);

/* Open the Maildir at root for account.  names NULL = defaults.  create:
 * make ROOT/{cur,new,tmp} when ROOT does not exist (mode 0700), as Dovecot
 * does at first login; otherwise a missing root is APR_ENOENT.  The handle
 * lives in pool p. */
apr_status_t as_maildir_open(apr_pool_t *p, const char *root, const char *account,
                             const as_maildir_names_t *names, int create, const as_logger_t *log,
                             as_store_t **store);

/* Called by delete_folder for each directory it is about to remove, after
 * the folder was renamed out of sight and the mailbox lock released (so
 * other handles work on meanwhile).  For tests: the hook sees the removal
 * in progress.  fn NULL removes the hook. */
typedef void as_maildir_remove_hook_fn(void *baton, const char *path);
void as_maildir_set_remove_hook(as_store_t *store, as_maildir_remove_hook_fn *fn, void *baton);

/* Modified UTF-7 (RFC 3501 5.1.3) <-> UTF-8.  decode: NULL when s is not
 * valid modified UTF-7.  encode: NULL when s is not valid UTF-8.  Both:
 * NULL when s is longer than AS_MUTF7_MAX bytes (folder names are far
 * shorter). */
#define AS_MUTF7_MAX 65536
char *as_mutf7_decode(apr_pool_t *p, const char *s);
char *as_mutf7_encode(apr_pool_t *p, const char *s);

/* The item id of a Maildir file name (the base name before ':' is used),
 * into out[AS_STORE_ITEM_ID_MAX + 1]. */
void as_maildir_item_id(const char *filename, char *out);

#endif
