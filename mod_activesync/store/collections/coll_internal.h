/* Private to the collection store (as_collections.h): the handle, the
 * folder records, and the functions its files share.  The files, each
 * calling only those listed before it:
 *   coll_util.c        errno, clocks, digests, random names, the storage
 *                      lock, atomic file writes, change tokens
 *   coll_ids.c         folder and item ids, validation of client input
 *   coll_props.c       .Radicale.props: parse, build, rewrite
 *   coll_folder_cache.c the collections last read from each root, kept
 *                      by the process while the root and props are unchanged
 *   coll_folders.c     reading the collections, default collections
 *   coll_items.c       listing a collection's items, ETags, open, stat
 *   coll_write.c       add, replace, delete items
 *   coll_folder_ops.c  create, rename, delete collections, special folders
 *   as_collections.c   path template, opening a handle */
#ifndef COLL_INTERNAL_H
#define COLL_INTERNAL_H

#include <stdint.h>
#include <sys/stat.h>

#include <apr_hash.h>

#include "activesync/as_collections.h"

#define COLL_FOLDER_ID_LEN  10 /* 'v' + 9 base32 digits */
#define COLL_ITEM_ID_LEN    13 /* 65 bits of a digest of the file name */
#define COLL_ETAG_LEN       64 /* hex SHA-256 of the file's bytes, as Radicale's */
#define COLL_MAX_ITEM_BYTES ((apr_off_t)4 * 1024 * 1024)
#define COLL_MAX_PROPS      (64 * 1024)
#define COLL_MAX_COLLS      256    /* collections read from one root */
#define COLL_MAX_ITEMS      100000 /* items listed from one collection */
#define COLL_MAX_NAME       255    /* display names (bytes) */
#define COLL_MAX_FILE_NAME  200    /* item file names we make */
#define COLL_SETTLE_NS      2000000000LL
#define COLL_ETAG_CACHE_MAX 50000 /* files whose ETag a handle remembers */
#define COLL_TMP_PREFIX     ".activesync.tmp-"
#define COLL_STALE_NS       (3600LL * 1000000000LL) /* a temporary this old was abandoned */
#define COLL_DEFAULT_WAIT   apr_time_from_sec(30)

/* Components of a calendar collection (C:supported-calendar-component-set). */
#define COLL_VEVENT   0x1u
#define COLL_VTODO    0x2u
#define COLL_VJOURNAL 0x4u

/* A folder: a collection seen as one class (a VEVENT,VTODO collection is
 * two folders on one directory). */
typedef struct coll_folder_t {
    as_store_folder_t f;
    const char *dirname; /* the collection's directory name under the root */
    const char *dir;     /* full path */
    unsigned comp;       /* COLL_V* of this folder; 0 for an address book */
    unsigned comps;      /* every component of the collection */
    int is_default;
} coll_folder_t;

/* What a listing learnt about one file, kept per (name, size, mtime, inode). */
typedef struct coll_file_t {
    apr_off_t size;
    int64_t mtime_ns;
    uint64_t ino;
    unsigned comp; /* COLL_V* found in an .ics; 0 for a vCard */
    int usable;    /* 0: not an item of its collection (logged once) */
    char etag[COLL_ETAG_LEN + 1];
} coll_file_t;

typedef struct coll_store_t {
    as_store_t pub;
    const char *root;
    const char *lock_path; /* Radicale's storage lock */
    unsigned classes;      /* 1 << AS_CLASS_* shown */
    int create;            /* make the default collections when missing */
    int defaults_checked;
    int fresh; /* the next folder load reads the root, not the process's copy */
    int kept;  /* the folders loaded are the process's copy */
    apr_interval_time_t lock_wait;
    int lock_fd, lock_depth; /* held by this handle (nested calls share it) */
    /* folder cache */
    apr_pool_t *fpool;
    apr_array_header_t *folders; /* coll_folder_t * */
    apr_hash_t *by_id;
    /* "dirname/file" -> coll_file_t * (ETags and components) */
    apr_pool_t *epool;
    apr_hash_t *files;
    /* id -> file name of the folder last resolved */
    apr_pool_t *npool;
    const char *names_dir;
    apr_hash_t *names;
} coll_store_t;

/* The parsed .Radicale.props. */
typedef struct coll_props_t {
    const char *tag;         /* "VADDRESSBOOK", "VCALENDAR" or NULL */
    const char *displayname; /* may be NULL */
    const char *components;  /* may be NULL */
} coll_props_t;

/* coll_util.c */
apr_status_t coll_errno_status(void);
void coll_log(coll_store_t *cs, int level, apr_status_t rv, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int64_t coll_ts_ns(const struct timespec *ts);
int64_t coll_now_ns(void);
void coll_sha256_hex(const void *data, apr_size_t len, char out[COLL_ETAG_LEN + 1]);
/* A random name of 32 hex digits in UUID form. */
const char *coll_random_name(apr_pool_t *p);
/* Radicale's storage lock held exclusively (flock, as Radicale's own
 * writers), waiting at most cs->lock_wait: the fd, or -1 with *rv set. */
int coll_lock(coll_store_t *cs, apr_status_t *rv);
void coll_unlock(coll_store_t *cs, int fd);
/* Write data to a temporary file in dir, fsync it and rename it to name:
 * replacing an existing file (replace 1), or never (APR_EEXIST). */
apr_status_t coll_write_file(coll_store_t *cs, const char *dir, const char *name, const void *data,
                             apr_size_t len, int replace, apr_pool_t *p);
/* Token of a directory: inode and mtime, '!' when unsettled. */
const char *coll_dir_token(apr_pool_t *p, const struct stat *sb);
apr_status_t coll_remove_tree(const char *path);
/* Remove dir/name when it is one of our temporaries, abandoned (dfd: dir). */
void coll_drop_stale(coll_store_t *cs, int dfd, const char *dir, const char *name);
/* Read a whole regular file (no symlink) of at most max bytes. */
apr_status_t coll_read_file(const char *path, apr_off_t max, apr_pool_t *p, char **data,
                            apr_size_t *len, struct stat *sb);

/* coll_ids.c */
void coll_b32(const unsigned char *bytes, int digits, char *out);
void coll_folder_id(const char *dirname, unsigned comp, char out[COLL_FOLDER_ID_LEN + 1]);
void coll_item_id(const char *name, char out[COLL_ITEM_ID_LEN + 1]);
int coll_folder_id_valid(const char *id);
int coll_item_id_valid(const char *id);
/* A name another program may have given a collection or an item, usable
 * as one path component: not a dot-file, no '/', no '~' at the end. */
int coll_entry_name_ok(const char *name);
/* A display name from a client: UTF-8, 1..COLL_MAX_NAME bytes, no control
 * characters.  NULL when fine, else why not. */
const char *coll_display_name_bad(const char *name);
/* The file name of a new item: from a UID (injective escaping) or random. */
const char *coll_item_file_name(apr_pool_t *p, const char *uid, int cls);

/* coll_props.c */
apr_status_t coll_props_parse(apr_pool_t *p, const char *data, apr_size_t len, coll_props_t *out,
                              const char **err);
apr_status_t coll_props_read(coll_store_t *cs, const char *dir, apr_pool_t *p, coll_props_t *out);
/* The JSON of new props (keys sorted, as Radicale writes them). */
const char *coll_props_new(apr_pool_t *p, const char *tag, const char *displayname,
                           const char *components);
/* The current props with D:displayname set, every other key kept. */
apr_status_t coll_props_renamed(coll_store_t *cs, const char *dir, const char *displayname,
                                apr_pool_t *p, const char **json);
unsigned coll_components_parse(const char *set);

/* A collection read from the root (coll_folders.c's scan). */
typedef struct coll_scanned_t {
    const char *dirname;
    coll_props_t props;
    unsigned comps; /* calendars: COLL_V*; address books: 0 */
    int is_book;
    /* folder ids by component (0: the address book; COLL_VEVENT,
     * COLL_VTODO, COLL_VJOURNAL): made once per scan, kept with it */
    char ids[COLL_VJOURNAL + 1][COLL_FOLDER_ID_LEN + 1];
} coll_scanned_t;

/* What a scan saw of one directory under the root: the stat of its
 * .Radicale.props (present 0: there was none).  A directory that is no
 * collection is seen too: a props file written into it makes it one
 * without changing the root. */
typedef struct coll_seen_t {
    const char *dirname;
    int present;
    uint64_t ino;
    apr_off_t size;
    int64_t mtime_ns, ctime_ns;
} coll_seen_t;

/* coll_folder_cache.c */
#define COLL_FCACHE_SLOTS 64          /* roots kept per process */
#define COLL_FCACHE_SEEN  1024        /* directories a kept root may have */
#define COLL_FCACHE_BYTES (64 * 1024) /* names and props text kept per root */
/* Fill *seen from a stat of dir/.Radicale.props (dfd: the root); 0 when
 * it cannot be told (an error other than "no such file"). */
int coll_seen_stat(int dfd, const char *dirname, coll_seen_t *seen);
/* Keep the scan of cs->root (scanned: coll_scanned_t, seen: coll_seen_t)
 * whose root stat before the scan was *rsb, when settled at listed_at. */
void coll_fcache_store(coll_store_t *cs, const struct stat *rsb, int64_t listed_at,
                       const apr_array_header_t *scanned, const apr_array_header_t *seen);
/* The kept scan of cs->root into p when the root and every seen props
 * file are unchanged: 1, *scanned set; else 0. */
int coll_fcache_load(coll_store_t *cs, apr_pool_t *p, apr_array_header_t **scanned);

/* coll_folders.c */
apr_status_t coll_load_folders(coll_store_t *cs);
apr_status_t coll_find_folder(coll_store_t *cs, const char *id, coll_folder_t **f);
/* Make a collection directory (under the lock, the caller holds it). */
apr_status_t coll_make_collection(coll_store_t *cs, const char *dirname, const char *props,
                                  apr_pool_t *p);
apr_status_t coll_ensure_defaults(coll_store_t *cs, unsigned classes);
apr_status_t coll_list_folders(as_store_t *st, apr_pool_t *p, apr_array_header_t **out,
                               const char **hier_token);
apr_status_t coll_hierarchy_token(as_store_t *st, apr_pool_t *p, const char **token);
apr_status_t coll_get_folder(as_store_t *st, const char *id, apr_pool_t *p,
                             const as_store_folder_t **out);
apr_status_t coll_folder_token(as_store_t *st, const char *id, apr_pool_t *p, const char **token);
apr_status_t coll_watch_paths(as_store_t *st, const char *id, apr_pool_t *p,
                              apr_array_header_t **paths);

/* coll_items.c */
/* The file's facts (ETag, component), from the cache when the file is
 * unchanged; data/len given: the bytes just read (or written). */
const coll_file_t *coll_file_facts(coll_store_t *cs, const coll_folder_t *f, const char *name,
                                   const struct stat *sb, const char *data, apr_size_t len);
int coll_item_shown(const coll_folder_t *f, const coll_file_t *facts);
/* New content fits the folder: a vCard, or an iCalendar object whose
 * component is the folder's. */
int coll_data_fits(const coll_folder_t *f, const char *data, apr_size_t len);
/* The file name of an item id (rescanning the directory when needed). */
apr_status_t coll_resolve(coll_store_t *cs, const coll_folder_t *f, const char *item_id,
                          const char **name);
apr_status_t coll_list_items(as_store_t *st, const char *folder_id, apr_pool_t *p,
                             apr_array_header_t **items, const char **token);
apr_status_t coll_stat_item(as_store_t *st, const char *folder_id, const char *item_id,
                            apr_pool_t *p, as_store_item_t *item);
apr_status_t coll_open_item(as_store_t *st, const char *folder_id, const char *item_id,
                            apr_pool_t *p, as_store_msg_t **msg);
apr_status_t coll_open_item_at(as_store_t *st, const char *folder_id, const char *item_id,
                               const char *name, apr_pool_t *p, as_store_msg_t **msg);

/* coll_write.c */
apr_status_t coll_add_item(as_store_t *st, const char *folder_id, const char *name_hint,
                           const void *data, apr_size_t len, apr_pool_t *p, const char **item_id,
                           const char **etag);
apr_status_t coll_replace_item(as_store_t *st, const char *folder_id, const char *item_id,
                               const char *if_etag, const void *data, apr_size_t len, apr_pool_t *p,
                               const char **etag);
apr_status_t coll_delete_item(as_store_t *st, const char *folder_id, const char *item_id,
                              int to_trash);

/* coll_folder_ops.c */
apr_status_t coll_create_folder_typed(as_store_t *st, const char *parent_id, const char *name,
                                      int type, apr_pool_t *p, const char **folder_id);
apr_status_t coll_rename_folder(as_store_t *st, const char *folder_id, const char *new_parent_id,
                                const char *new_name);
apr_status_t coll_delete_folder(as_store_t *st, const char *folder_id);
apr_status_t coll_special_folder(as_store_t *st, int type, int create, apr_pool_t *p,
                                 const char **folder_id);

#endif
