/* The mail store interface (DESIGN §2: stores are interfaces).
 *
 * A store is one account's mailbox, opened for the duration of a request
 * (or longer: a handle is cheap and holds no open file between calls).  The
 * commands (FolderSync, Sync, ItemOperations, MoveItems, SendMail's Sent
 * copy ...) talk to it only through the operations below; the first backend
 * is Maildir++ (as_maildir.h), others may follow.
 *
 * IDS
 * Folder ids and item ids are short, opaque, printable ASCII strings from
 * the alphabet [0-9a-v] (no ':', '+', '/', blanks), so the sync engine can
 * build an EAS ServerId as "folderid:itemid" and split it at the one ':'.
 *  - Folder ids: at most AS_STORE_FOLDER_ID_MAX characters, never "0" (the
 *    EAS root ParentId), stable across restarts and across renames made
 *    through this interface.  A folder renamed on disk by another program
 *    gets a new id (FolderSync then reports Delete + Add).
 *  - Item ids: at most AS_STORE_ITEM_ID_MAX characters, unique within their
 *    folder, stable across flag changes and renames by other programs
 *    (Dovecot's new/ -> cur/ move and ":2,FLAGS" changes).  An item moved
 *    to another folder keeps its item id there when it can (the pair
 *    folder id + item id is what identifies it).
 *
 * CHANGE TOKENS
 * as_store_folder_token() answers "did anything change in this folder since
 * token T?" in O(1): for Maildir it is two stat() calls (new/ and cur/), no
 * directory read.  Tokens are opaque strings (<= AS_STORE_TOKEN_MAX); compare
 * them ONLY with as_store_token_same().  A token taken while the folder was
 * being modified (its directory times are within the file system's time
 * granularity of "now") is "unsettled" and never compares equal to
 * anything, so a change in the same clock tick as a scan can never hide:
 * the worst case is one extra scan that finds nothing new.  So "not the
 * same" means "maybe changed": a Ping should confirm by listing the folder
 * and comparing with its state before it reports a change (a stored token
 * is unsettled for a couple of seconds after a change).  list_items()
 * returns the token taken BEFORE it read the folder, so a change during
 * the read shows as a change next time.  The hierarchy token (a stat of
 * the mailbox root) changes when folders are added, removed or renamed
 * (and, harmlessly, when Dovecot rewrites its files there).
 *
 * ERRORS (apr_status_t)
 *   APR_SUCCESS
 *   APR_ENOENT          folder or item not found (also: vanished meanwhile)
 *   APR_EEXIST          a folder of that name already exists
 *   APR_EINVAL          bad id, bad folder name (see create_folder)
 *   AS_STORE_ESPECIAL   operation not allowed on a special folder (Inbox,
 *                       Sent, Drafts, Deleted Items ...)  -> FolderDelete /
 *                       FolderUpdate Status 3
 *   AS_STORE_ENOPARENT  parent folder not found -> FolderCreate/Update 5
 *   other               an I/O error (errno as apr_status_t), logged
 *
 * THREADS
 * A handle is used by one thread at a time.  Several handles (threads,
 * processes, Dovecot) may work on the same mailbox concurrently: every
 * change is a single rename/link/unlink or is done under the backend's lock.
 */
#ifndef AS_STORE_H
#define AS_STORE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <apr_time.h>
#include <apr_file_io.h>

#include "as_log.h"

#define AS_STORE_ERR_BASE  (APR_OS_START_USERERR + 3100)
#define AS_STORE_ESPECIAL  (AS_STORE_ERR_BASE + 1)
#define AS_STORE_ENOPARENT (AS_STORE_ERR_BASE + 2)
/* replace_item: the item's ETag is no longer the one given (someone else
 * changed it meanwhile) -> Sync Status 7 (conflict) */
#define AS_STORE_ECONFLICT (AS_STORE_ERR_BASE + 3)
/* an operation the folder's class does not have (set_flags on a contact,
 * replace_item on a mail message ...) */
#define AS_STORE_ENOTSUP (AS_STORE_ERR_BASE + 4)

#define AS_STORE_FOLDER_ID_MAX 12
#define AS_STORE_ITEM_ID_MAX   16
#define AS_STORE_TOKEN_MAX     96
#define AS_STORE_ETAG_MAX      64

/* EAS FolderSync Type values (MS-ASCMD 2.2.3.186.3). */
typedef enum {
    AS_FOLDER_USER_GENERIC = 1,
    AS_FOLDER_INBOX = 2,
    AS_FOLDER_DRAFTS = 3,
    AS_FOLDER_DELETED = 4,
    AS_FOLDER_SENT = 5,
    AS_FOLDER_OUTBOX = 6,
    AS_FOLDER_TASKS = 7,    /* default task list */
    AS_FOLDER_CALENDAR = 8, /* default calendar */
    AS_FOLDER_CONTACTS = 9, /* default address book */
    AS_FOLDER_NOTES = 10,   /* default notes */
    AS_FOLDER_JOURNAL = 11,
    AS_FOLDER_USER_MAIL = 12,
    AS_FOLDER_USER_CALENDAR = 13,
    AS_FOLDER_USER_CONTACTS = 14,
    AS_FOLDER_USER_TASKS = 15,
    AS_FOLDER_USER_JOURNAL = 16,
    AS_FOLDER_USER_NOTES = 17,
    AS_FOLDER_UNKNOWN = 18,
    AS_FOLDER_RECIPIENT_CACHE = 19
} as_folder_type_t;

/* The data class of a folder's items (the Sync Class element). */
typedef enum {
    AS_CLASS_EMAIL = 0,
    AS_CLASS_CONTACTS,
    AS_CLASS_CALENDAR,
    AS_CLASS_TASKS,
    AS_CLASS_NOTES,
    AS_CLASS_COUNT
} as_item_class_t;

/* The class of a folder type (types without items of their own: Email). */
int as_folder_class(int folder_type);
/* "Email", "Contacts", "Calendar", "Tasks", "Notes"; NULL for another value. */
const char *as_class_name(int cls);
/* The class named (as in Sync's Class element), or -1. */
int as_class_by_name(const char *name);
/* The default folder type of a class (AS_FOLDER_CONTACTS ...), and the type
 * of the user-created folders of that class (AS_FOLDER_USER_CONTACTS ...). */
int as_class_default_type(int cls);
int as_class_user_type(int cls);

/* Message flags (Maildir info letters in brackets). */
#define AS_STORE_SEEN     0x01u /* S: EAS Read */
#define AS_STORE_FLAGGED  0x02u /* F: EAS Flag Status 2 */
#define AS_STORE_ANSWERED 0x04u /* R */
#define AS_STORE_DRAFT    0x08u /* D */
#define AS_STORE_TRASHED  0x10u /* T: marked deleted, not expunged */
#define AS_STORE_PASSED   0x20u /* P: forwarded/bounced */
/* Dovecot's keyword $Forwarded (Maildir: the keyword's letter from the
 * folder's dovecot-keywords file, the mapping created when missing) */
#define AS_STORE_FORWARDED 0x40u

typedef struct as_store_folder_t {
    const char *id;        /* opaque folder id */
    const char *parent_id; /* "0" for a top-level folder */
    const char *name;      /* display name, UTF-8 (last hierarchy level) */
    const char *path;      /* backend's name, e.g. ".Work.Projects" ("" = INBOX); for logs */
    int type;              /* as_folder_type_t */
    int cls;               /* as_item_class_t of its items (as_folder_class(type)) */
} as_store_folder_t;

typedef struct as_store_item_t {
    const char *id;   /* opaque item id */
    unsigned flags;   /* AS_STORE_* */
    apr_off_t size;   /* bytes of the message file */
    apr_time_t date;  /* internal (received) date: the file's mtime, as Dovecot */
    const char *name; /* backend's name of the file ("cur/1700...:2,S"); for logs */
    /* Change stamp of the item's content for the classes other than Email
     * (a digest of the file's bytes, as a CardDAV/CalDAV ETag: an edit that
     * keeps the size and the mtime's second still changes it); NULL for
     * mail, whose only changes are its flags.  Opaque, <= AS_STORE_ETAG_MAX. */
    const char *etag;
} as_store_item_t;

/* An item opened for reading: the file stays valid even if another program
 * renames or removes it meanwhile.  It is closed with the pool. */
typedef struct as_store_msg_t {
    as_store_item_t item;
    apr_file_t *file; /* positioned at offset 0 */
} as_store_msg_t;

typedef struct as_store_t as_store_t;

typedef struct as_store_ops_t {
    const char *name; /* "maildir" */

    /* All folders (INBOX first, parents before children), array of
     * as_store_folder_t.  *hier_token (may be NULL) receives a token of the
     * folder hierarchy: same token = no folder added, removed or renamed. */
    apr_status_t (*list_folders)(as_store_t *st, apr_pool_t *p, apr_array_header_t **folders,
                                 const char **hier_token);
    /* The hierarchy token alone, O(1) (one stat). */
    apr_status_t (*hierarchy_token)(as_store_t *st, apr_pool_t *p, const char **token);
    /* One folder by id (cheap after list_folders on the same handle). */
    apr_status_t (*get_folder)(as_store_t *st, const char *folder_id, apr_pool_t *p,
                               const as_store_folder_t **folder);
    /* O(1) change token of a folder (see CHANGE TOKENS). */
    apr_status_t (*folder_token)(as_store_t *st, const char *folder_id, apr_pool_t *p,
                                 const char **token);
    /* Paths to watch for changes (inotify): array of const char *. */
    apr_status_t (*watch_paths)(as_store_t *st, const char *folder_id, apr_pool_t *p,
                                apr_array_header_t **paths);
    /* Every message of the folder (array of as_store_item_t), newest first
     * (date descending, then id), O(folder).  *token (may be NULL) is the
     * folder token taken before the read. */
    apr_status_t (*list_items)(as_store_t *st, const char *folder_id, apr_pool_t *p,
                               apr_array_header_t **items, const char **token);
    /* Current state of one item (resolves the id; rescans when a cached
     * name is stale).  APR_ENOENT when it is gone. */
    apr_status_t (*stat_item)(as_store_t *st, const char *folder_id, const char *item_id,
                              apr_pool_t *p, as_store_item_t *item);
    /* Open one item for reading. */
    apr_status_t (*open_item)(as_store_t *st, const char *folder_id, const char *item_id,
                              apr_pool_t *p, as_store_msg_t **msg);
    /* Set and clear flags (AS_STORE_*; other flags and keywords are kept).
     * *flags_out (may be NULL) receives the resulting flags. */
    apr_status_t (*set_flags)(as_store_t *st, const char *folder_id, const char *item_id,
                              unsigned set, unsigned clear, unsigned *flags_out);
    /* Move an item to another folder; *new_item_id is its id there. */
    apr_status_t (*move_item)(as_store_t *st, const char *folder_id, const char *item_id,
                              const char *dst_folder_id, apr_pool_t *p, const char **new_item_id);
    /* Delete: to_trash moves it to the Deleted Items folder (creating it
     * when missing); in that folder itself, or with to_trash 0, the file is
     * removed. */
    apr_status_t (*delete_item)(as_store_t *st, const char *folder_id, const char *item_id,
                                int to_trash);
    /* Append a message (complete file contents) to a folder: written to
     * tmp/, fsync()ed, then linked into new/ (or cur/ when flags are given);
     * never a partial file.  date 0 = now.  *item_id may be NULL. */
    apr_status_t (*deliver)(as_store_t *st, const char *folder_id, const void *data, apr_size_t len,
                            unsigned flags, apr_time_t date, apr_pool_t *p, const char **item_id);
    /* Folder management.  parent_id "0" = top level.  Names: UTF-8, 1..255
     * bytes, no '/', no hierarchy separator ('.' for Maildir++), no control
     * characters, not "." or "..". */
    apr_status_t (*create_folder)(as_store_t *st, const char *parent_id, const char *name,
                                  apr_pool_t *p, const char **folder_id);
    /* Rename and/or re-parent (FolderUpdate); children move along; the
     * folder keeps its id (its children too). */
    apr_status_t (*rename_folder)(as_store_t *st, const char *folder_id, const char *new_parent_id,
                                  const char *new_name);
    /* Remove a folder with its messages and subfolders. */
    apr_status_t (*delete_folder)(as_store_t *st, const char *folder_id);
    /* The folder of a special type (AS_FOLDER_SENT ...), creating it when
     * create is set and it does not exist. */
    apr_status_t (*special_folder)(as_store_t *st, int type, int create, apr_pool_t *p,
                                   const char **folder_id);
    /* Optional (NULL: open_item): open_item with the item's name from a
     * listing (as_store_item_t.name) tried first, so that a page of a
     * remembered listing costs no read of the folder; when that file is
     * gone (renamed or removed meanwhile) it resolves the id as open_item. */
    apr_status_t (*open_item_at)(as_store_t *st, const char *folder_id, const char *item_id,
                                 const char *name, apr_pool_t *p, as_store_msg_t **msg);

    /* ---- items of the other classes (contacts, calendar, tasks, notes) ----
     * Optional (NULL: AS_STORE_ENOTSUP), for folders whose class is not Email.
     * The data is the item's file as stored (a vCard, an iCalendar object),
     * written atomically (temporary file, then rename); never a partial file. */
    /* A new item; *item_id and *etag (either may be NULL) receive its id
     * and ETag.  name_hint (may be NULL): a UID for the file's name;
     * APR_EEXIST when the folder already has the item of that UID.
     * APR_EINVAL: data not an item of the folder's class, or too large. */
    apr_status_t (*add_item)(as_store_t *st, const char *folder_id, const char *name_hint,
                             const void *data, apr_size_t len, apr_pool_t *p, const char **item_id,
                             const char **etag);
    /* Replace an item's content, only if its ETag is still if_etag (NULL:
     * unconditionally); AS_STORE_ECONFLICT when not, APR_ENOENT when gone.
     * *etag (may be NULL) receives the new ETag. */
    apr_status_t (*replace_item)(as_store_t *st, const char *folder_id, const char *item_id,
                                 const char *if_etag, const void *data, apr_size_t len,
                                 apr_pool_t *p, const char **etag);
    /* create_folder with the folder's EAS type (FolderCreate's Type): a
     * collection of that type's class.  NULL: create_folder (mail only). */
    apr_status_t (*create_folder_typed)(as_store_t *st, const char *parent_id, const char *name,
                                        int type, apr_pool_t *p, const char **folder_id);
} as_store_ops_t;

struct as_store_t {
    const as_store_ops_t *ops;
    apr_pool_t *pool; /* lifetime of the handle */
    const as_logger_t *log;
    const char *account; /* canonical user@domain, for logs */
    void *priv;          /* backend state */
};

/* For file-based backends: rename() that never replaces an existing file
 * (renameat2 RENAME_NOREPLACE, else link + unlink); 0 or -1 with errno.
 * And an fsync of a directory, so a rename or link in it is durable. */
int as_store_rename_noreplace(const char *from, const char *to);
void as_store_fsync_dir(const char *path);

/* Compare two change tokens (NULL never matches; unsettled tokens never match). */
int as_store_token_same(const char *a, const char *b);

/* Text for the AS_STORE_E* codes (falls back to apr_strerror). */
const char *as_store_strerror(apr_status_t rv, char *buf, apr_size_t bufsize);

/* Convenience wrappers. */
#define as_store_list_folders(st, p, f, t)   ((st)->ops->list_folders((st), (p), (f), (t)))
#define as_store_hierarchy_token(st, p, t)   ((st)->ops->hierarchy_token((st), (p), (t)))
#define as_store_get_folder(st, id, p, f)    ((st)->ops->get_folder((st), (id), (p), (f)))
#define as_store_folder_token(st, id, p, t)  ((st)->ops->folder_token((st), (id), (p), (t)))
#define as_store_watch_paths(st, id, p, a)   ((st)->ops->watch_paths((st), (id), (p), (a)))
#define as_store_list_items(st, id, p, a, t) ((st)->ops->list_items((st), (id), (p), (a), (t)))
#define as_store_stat_item(st, f, i, p, it)  ((st)->ops->stat_item((st), (f), (i), (p), (it)))
#define as_store_open_item(st, f, i, p, m)   ((st)->ops->open_item((st), (f), (i), (p), (m)))
#define as_store_open_item_at(st, f, i, n, p, m)                                                   \
    ((st)->ops->open_item_at ? (st)->ops->open_item_at((st), (f), (i), (n), (p), (m))              \
                             : (st)->ops->open_item((st), (f), (i), (p), (m)))
#define as_store_set_flags(st, f, i, s, c, o) ((st)->ops->set_flags((st), (f), (i), (s), (c), (o)))
#define as_store_move_item(st, f, i, d, p, n) ((st)->ops->move_item((st), (f), (i), (d), (p), (n)))
#define as_store_delete_item(st, f, i, t)     ((st)->ops->delete_item((st), (f), (i), (t)))
#define as_store_deliver(st, f, d, l, fl, dt, p, id)                                               \
    ((st)->ops->deliver((st), (f), (d), (l), (fl), (dt), (p), (id)))
#define as_store_create_folder(st, par, n, p, id)                                                  \
    ((st)->ops->create_folder((st), (par), (n), (p), (id)))
#define as_store_rename_folder(st, id, par, n) ((st)->ops->rename_folder((st), (id), (par), (n)))
#define as_store_delete_folder(st, id)         ((st)->ops->delete_folder((st), (id)))
#define as_store_special_folder(st, ty, c, p, id)                                                  \
    ((st)->ops->special_folder((st), (ty), (c), (p), (id)))

/* The collection operations, AS_STORE_ENOTSUP where the backend has none. */
apr_status_t as_store_add_item(as_store_t *st, const char *folder_id, const char *name_hint,
                               const void *data, apr_size_t len, apr_pool_t *p,
                               const char **item_id, const char **etag);
apr_status_t as_store_replace_item(as_store_t *st, const char *folder_id, const char *item_id,
                                   const char *if_etag, const void *data, apr_size_t len,
                                   apr_pool_t *p, const char **etag);
/* create_folder_typed, or create_folder for a mail type (1, 12). */
apr_status_t as_store_create_folder_typed(as_store_t *st, const char *parent_id, const char *name,
                                          int type, apr_pool_t *p, const char **folder_id);

#endif
