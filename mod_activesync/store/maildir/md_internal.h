/* Private to the Maildir++ backend (as_maildir.h): the handle, the cached
 * folder and item records, and the functions its files share.  The files,
 * each calling only those listed before it:
 *   md_util.c        errno, time, the root lock, unique names, tokens
 *   md_ids.c         item and folder ids, the folder id map file
 *   md_mutf7.c       UTF-8 checks, modified UTF-7
 *   md_folders.c     reading the folder tree (Maildir++ hierarchy)
 *   md_folder_ops.c  create, rename, delete, special folders
 *   md_keywords.c    info letters, Dovecot's keywords (dovecot-keywords)
 *   md_scan.c        reading a folder's messages, resolving an item id
 *   md_items.c       stat, open, flags, move, delete, deliver
 *   as_maildir.c     path template, opening a handle */
#ifndef MD_INTERNAL_H
#define MD_INTERNAL_H

#include <stdint.h>
#include <sys/stat.h>

#include <apr_hash.h>

#include "activesync/as_maildir.h"

#define MAP_FILE       "activesync-folders"
#define TRASH_PREFIX   "activesync-deleting."
#define SETTLE_NS      2000000000LL /* a directory changed this recently is "unsettled" */
#define SCAN_ATTEMPTS  8            /* reads of a folder that keeps changing, united */
#define QUIET_NS       20000000LL   /* a directory changed this recently may change unseen */
#define FOLDER_ID_LEN  8
#define ITEM_ID_LEN    13
#define MAX_NAME_BYTES 255
#define MAX_SALT       64

typedef struct md_folder_t {
    as_store_folder_t f;
    const char *storage; /* on-disk name without the leading dot; "" = INBOX */
    const char *dir;     /* full path */
} md_folder_t;

typedef struct md_entry_t {
    const char *name; /* file name inside new/ or cur/ */
    unsigned blen;    /* base name length */
    unsigned char in_cur;
    unsigned char stat_ok;
    unsigned char gen; /* which read of the folder saw it (later = newer state) */
    unsigned flags;
    char id[ITEM_ID_LEN + 1];
    apr_off_t size;
    apr_time_t date;
} md_entry_t;

typedef struct md_store_t {
    as_store_t pub;
    const char *root;
    as_maildir_names_t names;
    /* folder cache */
    apr_pool_t *fpool;
    apr_array_header_t *folders; /* md_folder_t * */
    apr_hash_t *by_id;
    /* item cache: one folder */
    apr_pool_t *cpool;
    char cache_folder[AS_STORE_FOLDER_ID_MAX + 1];
    apr_hash_t *cache; /* id -> md_entry_t * */
    int cache_valid;
    int locked; /* this handle holds md_lock() */
    as_maildir_remove_hook_fn *remove_hook;
    void *remove_baton;
} md_store_t;

/* md_util.c */
apr_status_t md_errno_status(void);
void md_log_errno(md_store_t *md, apr_status_t rv, const char *what, const char *path);
int md_is_dir_at(int dfd, const char *name);
int64_t md_ts_ns(const struct timespec *ts);
int64_t md_now_ns(void);
/* flock() of the root directory: serialises map updates and folder
 * renames between threads and processes.  Returns the fd or -1. */
int md_lock(md_store_t *md);
void md_unlock(int fd);
const char *md_unique_name(apr_pool_t *p, apr_size_t size);
const char *md_token_of(apr_pool_t *p, const struct stat *a, const struct stat *b);
apr_status_t md_stat_pair(const md_folder_t *f, apr_pool_t *p, struct stat *sn, struct stat *sc);

/* md_ids.c */
int md_id_valid(const char *id, size_t maxlen);
size_t md_base_len(const char *name);
void md_item_id_salted(const char *name, size_t blen, unsigned salt, char *out);
/* Sort entries by id, drop duplicates of one base name, salt collisions. */
void md_dedupe(apr_array_header_t *arr, apr_pool_t *p);
/* Folder ids from the map and the hashes.  Returns 1 when the map should
 * be rewritten (new salted ids, stale entries), filling *newmap. */
int md_assign_ids(apr_array_header_t *folders, apr_hash_t *map, apr_pool_t *p, apr_hash_t **newmap);
apr_hash_t *md_map_read(md_store_t *md, apr_pool_t *p);
apr_status_t md_map_write(md_store_t *md, apr_hash_t *map, apr_pool_t *p);

/* md_mutf7.c */
int md_utf8_valid(const char *s);
char *md_utf8_sanitize(apr_pool_t *p, const char *s);

/* md_folders.c */
int md_storage_ok(const char *s);
apr_status_t md_load_folders(md_store_t *md);
apr_status_t md_find_folder(md_store_t *md, const char *id, md_folder_t **f);
apr_status_t md_list_folders(as_store_t *st, apr_pool_t *p, apr_array_header_t **out,
                             const char **hier_token);
apr_status_t md_hierarchy_token(as_store_t *st, apr_pool_t *p, const char **token);
apr_status_t md_get_folder(as_store_t *st, const char *id, apr_pool_t *p,
                           const as_store_folder_t **out);
apr_status_t md_folder_token(as_store_t *st, const char *id, apr_pool_t *p, const char **token);
apr_status_t md_watch_paths(as_store_t *st, const char *id, apr_pool_t *p,
                            apr_array_header_t **paths);

/* md_folder_ops.c */
apr_status_t md_make_folder_dirs(const char *dir, int marker, apr_pool_t *p);
apr_status_t md_create_folder(as_store_t *st, const char *parent_id, const char *name,
                              apr_pool_t *p, const char **folder_id);
apr_status_t md_rename_folder(as_store_t *st, const char *folder_id, const char *new_parent_id,
                              const char *new_name);
apr_status_t md_delete_folder(as_store_t *st, const char *folder_id);
apr_status_t md_special_folder(as_store_t *st, int type, int create, apr_pool_t *p,
                               const char **folder_id);

/* md_keywords.c */
/* The AS_STORE_* flags of a file name's info letters (no keywords). */
unsigned md_flags_of(const char *name);
/* The letter ('a'..'z') of a keyword in the folder directory's
 * dovecot-keywords, 0 when it has none. */
char md_keyword_letter(const char *dir, const char *name, apr_pool_t *p);
/* Map a keyword to a letter (kept when it is there already). */
apr_status_t md_keyword_add(const char *dir, const char *name, apr_pool_t *p, char *letter);
/* md_flags_of plus AS_STORE_FORWARDED when the name has fwd_letter. */
unsigned md_flags_with(const char *name, char fwd_letter);
#define MD_KW_FORWARDED "$Forwarded"

/* md_scan.c */
void md_entry_to_item(apr_pool_t *p, const md_entry_t *e, as_store_item_t *it);
apr_status_t md_list_items(as_store_t *st, const char *folder_id, apr_pool_t *p,
                           apr_array_header_t **items, const char **token);
/* Run op on the item's current file, finding it again when another
 * program renamed it meanwhile. */
typedef apr_status_t md_item_op_fn(md_store_t *md, const md_folder_t *f, md_entry_t *e,
                                   const char *path, void *baton);
apr_status_t md_with_item(md_store_t *md, const char *folder_id, const char *item_id,
                          md_item_op_fn *op, void *baton, apr_pool_t *p);

/* md_items.c */
apr_status_t md_stat_item(as_store_t *st, const char *folder_id, const char *item_id, apr_pool_t *p,
                          as_store_item_t *item);
apr_status_t md_open_item(as_store_t *st, const char *folder_id, const char *item_id, apr_pool_t *p,
                          as_store_msg_t **msg);
apr_status_t md_open_item_at(as_store_t *st, const char *folder_id, const char *item_id,
                             const char *name, apr_pool_t *p, as_store_msg_t **msg);
apr_status_t md_set_flags(as_store_t *st, const char *folder_id, const char *item_id, unsigned set,
                          unsigned clear, unsigned *flags_out);
apr_status_t md_move_item(as_store_t *st, const char *folder_id, const char *item_id,
                          const char *dst_id, apr_pool_t *p, const char **new_item_id);
apr_status_t md_delete_item(as_store_t *st, const char *folder_id, const char *item_id,
                            int to_trash);
apr_status_t md_deliver(as_store_t *st, const char *folder_id, const void *data, apr_size_t len,
                        unsigned flags, apr_time_t date, apr_pool_t *p, const char **item_id);

#endif
