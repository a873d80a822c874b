/* Maildir++ backend of the mail store: see as_maildir.h for the layout,
 * the id design and the special folders, as_store.h for the contract. */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "activesync/as_base64.h"
#include "activesync/as_maildir.h"
#include "activesync/as_utf8.h"

#define MAP_FILE       "activesync-folders"
#define TRASH_PREFIX   "activesync-deleting."
#define SETTLE_NS      2000000000LL /* a directory changed this recently is "unsettled" */
#define SCAN_ATTEMPTS  8            /* reads of a folder that keeps changing, united */
#define QUIET_NS       20000000LL   /* a directory changed this recently may change unseen */
#define FOLDER_ID_LEN  8
#define ITEM_ID_LEN    13
#define MAX_NAME_BYTES 255
#define MAX_SALT       64

/* ---------------------------------------------------------------------------
 * ids: FNV-1a 64 with a murmur3 finaliser, printed in base32 [0-9a-v]
 */
static uint64_t hash64(const char *s, size_t n, unsigned salt)
{
    uint64_t h = 0xcbf29ce484222325ULL ^ ((uint64_t)salt * 0x9e3779b97f4a7c15ULL);
    size_t i;

    for (i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

static void b32(uint64_t h, int len, char *out)
{
    static const char digits[] = "0123456789abcdefghijklmnopqrstuv";
    int i;

    for (i = len - 1; i >= 0; i--) {
        out[i] = digits[h & 31];
        h >>= 5;
    }
    out[len] = '\0';
}

static int id_valid(const char *id, size_t maxlen)
{
    size_t n = 0;

    if (!id || !*id) {
        return 0;
    }
    for (; id[n]; n++) {
        if (n >= maxlen || !((id[n] >= '0' && id[n] <= '9') || (id[n] >= 'a' && id[n] <= 'v'))) {
            return 0;
        }
    }
    return 1;
}

static size_t base_len(const char *name)
{
    const char *c = strchr(name, ':');
    return c ? (size_t)(c - name) : strlen(name);
}

static void item_id_salted(const char *name, size_t blen, unsigned salt, char *out)
{
    b32(hash64(name, blen, salt), ITEM_ID_LEN, out);
}

void as_maildir_item_id(const char *filename, char *out)
{
    item_id_salted(filename, base_len(filename), 0, out);
}

static void folder_id_salted(const char *storage, unsigned salt, char *out)
{
    /* folder and item ids live in different spaces; a distinct seed anyway */
    b32(hash64(storage, strlen(storage), salt + 0x100), FOLDER_ID_LEN, out);
    if (!strcmp(out, "0")) { /* cannot happen with 8 digits; keep "0" = root safe */
        out[0] = '1';
    }
}

/* ---------------------------------------------------------------------------
 * UTF-8 helpers
 */

static int utf8_valid(const char *s)
{
    size_t n = strlen(s), i = 0, l;

    while (i < n) {
        l = as_utf8_seq((const unsigned char *)s + i, n - i);
        if (!l) {
            return 0;
        }
        i += l;
    }
    return 1;
}

/* Copy with invalid bytes and control characters replaced by '?'. */
static char *utf8_sanitize(apr_pool_t *p, const char *s)
{
    size_t n = strlen(s), i = 0, o = 0, l;
    char *out = apr_palloc(p, n + 1);

    while (i < n) {
        l = as_utf8_seq((const unsigned char *)s + i, n - i);
        if (!l || (l == 1 && ((unsigned char)s[i] < 0x20 || s[i] == 0x7f))) {
            out[o++] = '?';
            i++;
        } else {
            memcpy(out + o, s + i, l);
            o += l;
            i += l;
        }
    }
    out[o] = '\0';
    return out;
}

static void put_utf8(apr_array_header_t *a, unsigned long cp)
{
    char b[4];
    int n;

    if (cp < 0x80) {
        b[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        b[0] = (char)(0xc0 | (cp >> 6));
        b[1] = (char)(0x80 | (cp & 0x3f));
        n = 2;
    } else if (cp < 0x10000) {
        b[0] = (char)(0xe0 | (cp >> 12));
        b[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[2] = (char)(0x80 | (cp & 0x3f));
        n = 3;
    } else {
        b[0] = (char)(0xf0 | (cp >> 18));
        b[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
        b[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
        b[3] = (char)(0x80 | (cp & 0x3f));
        n = 4;
    }
    for (int i = 0; i < n; i++) {
        *(char *)apr_array_push(a) = b[i];
    }
}

/* ---------------------------------------------------------------------------
 * Modified UTF-7 (RFC 3501 5.1.3)
 */
/* Modified base64: ',' for '/', no '=', nothing in the unused bits. */
#define MUTF7_B64 (AS_B64_COMMA | AS_B64_PAD_NONE | AS_B64_CANONICAL)

char *as_mutf7_decode(apr_pool_t *p, const char *s)
{
    apr_array_header_t *out = apr_array_make(p, (int)strlen(s) + 8, 1);
    const unsigned char *c = (const unsigned char *)s;

    while (*c) {
        if (*c < 0x20 || *c > 0x7e) {
            return NULL;
        }
        if (*c != '&') {
            *(char *)apr_array_push(out) = (char)*c++;
            continue;
        }
        c++;
        if (*c == '-') {
            *(char *)apr_array_push(out) = '&';
            c++;
            continue;
        }
        {
            /* the run is the UTF-16BE of the characters: complete units,
             * surrogates in pairs, no printable ASCII */
            size_t run = strcspn((const char *)c, "-"), n, i;
            unsigned char *u16 = apr_palloc(p, AS_B64_DECODED_MAX(run));
            unsigned long hi = 0;

            if (c[run] != '-' || !as_b64_decode(c, run, u16, &n, MUTF7_B64) || n == 0 || n % 2) {
                return NULL;
            }
            for (i = 0; i < n; i += 2) {
                unsigned long u = (unsigned long)u16[i] << 8 | u16[i + 1];
                if (hi) {
                    if (u < 0xdc00 || u > 0xdfff) {
                        return NULL;
                    }
                    put_utf8(out, 0x10000 + ((hi - 0xd800) << 10) + (u - 0xdc00));
                    hi = 0;
                } else if (u >= 0xd800 && u <= 0xdbff) {
                    hi = u;
                } else if (u >= 0xdc00 && u <= 0xdfff) {
                    return NULL;
                } else {
                    if (u >= 0x20 && u <= 0x7e) {
                        return NULL; /* printable ASCII must not be encoded */
                    }
                    put_utf8(out, u);
                }
            }
            if (hi) {
                return NULL;
            }
            c += run + 1;
        }
    }
    *(char *)apr_array_push(out) = '\0';
    return out->elts;
}

char *as_mutf7_encode(apr_pool_t *p, const char *s)
{
    apr_array_header_t *out, *u16;
    size_t n = strlen(s), i = 0, l;

    if (!utf8_valid(s)) {
        return NULL;
    }
    out = apr_array_make(p, (int)n * 2 + 8, 1);
    u16 = apr_array_make(p, (int)n * 2 + 8, 1);
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x20 && c <= 0x7e) {
            *(char *)apr_array_push(out) = (char)c;
            if (c == '&') {
                *(char *)apr_array_push(out) = '-';
            }
            i++;
            continue;
        }
        /* a run of characters to encode: its UTF-16BE in modified base64 */
        u16->nelts = 0;
        while (i < n && !((unsigned char)s[i] >= 0x20 && (unsigned char)s[i] <= 0x7e)) {
            const unsigned char *u = (const unsigned char *)s + i;
            unsigned long cp, units[2];
            int nu, k;

            l = as_utf8_seq(u, n - i);
            if (l == 1) {
                cp = u[0];
            } else if (l == 2) {
                cp = ((unsigned long)(u[0] & 0x1f) << 6) | (u[1] & 0x3f);
            } else if (l == 3) {
                cp = ((unsigned long)(u[0] & 0x0f) << 12) | ((unsigned long)(u[1] & 0x3f) << 6) |
                     (u[2] & 0x3f);
            } else {
                cp = ((unsigned long)(u[0] & 0x07) << 18) | ((unsigned long)(u[1] & 0x3f) << 12) |
                     ((unsigned long)(u[2] & 0x3f) << 6) | (u[3] & 0x3f);
            }
            i += l;
            if (cp >= 0x10000) {
                cp -= 0x10000;
                units[0] = 0xd800 + (cp >> 10);
                units[1] = 0xdc00 + (cp & 0x3ff);
                nu = 2;
            } else {
                units[0] = cp;
                nu = 1;
            }
            for (k = 0; k < nu; k++) {
                *(unsigned char *)apr_array_push(u16) = (unsigned char)(units[k] >> 8);
                *(unsigned char *)apr_array_push(u16) = (unsigned char)units[k];
            }
        }
        {
            char *b64 = apr_palloc(p, AS_B64_ENCODED_LEN((size_t)u16->nelts) + 1);
            size_t m = as_b64_encode(u16->elts, (size_t)u16->nelts, b64, MUTF7_B64);

            *(char *)apr_array_push(out) = '&';
            for (l = 0; l < m; l++) {
                *(char *)apr_array_push(out) = b64[l];
            }
            *(char *)apr_array_push(out) = '-';
        }
    }
    *(char *)apr_array_push(out) = '\0';
    return out->elts;
}

/* ---------------------------------------------------------------------------
 * Path template
 */
static const char *template_value_bad(const char *v)
{
    const unsigned char *c;

    if (!v || !*v) {
        return "empty value";
    }
    if (v[0] == '.') {
        return "value starts with a dot";
    }
    if (strstr(v, "..")) {
        return "value contains \"..\"";
    }
    for (c = (const unsigned char *)v; *c; c++) {
        if (*c == '/' || *c == '\\') {
            return "value contains a slash";
        }
        if (*c < 0x20 || *c == 0x7f) {
            return "value contains a control character";
        }
    }
    return NULL;
}

apr_status_t as_maildir_path_from_template(apr_pool_t *p, const char *tmpl, const char *account,
                                           const char **path, const char **err)
{
    const char *at, *local, *domain, *why, *c, *r;
    apr_array_header_t *out;

    *path = NULL;
    *err = NULL;
    if (!tmpl || tmpl[0] != '/') {
        *err = "the Maildir template must be an absolute path";
        return APR_EINVAL;
    }
    if (!account || !*account) {
        *err = "no account";
        return APR_EINVAL;
    }
    at = strrchr(account, '@');
    local = at ? apr_pstrmemdup(p, account, (apr_size_t)(at - account)) : account;
    domain = at ? at + 1 : NULL;
    if ((why = template_value_bad(account)) != NULL) {
        *err = apr_pstrcat(p, "account refused for the Maildir path: ", why, NULL);
        return APR_EINVAL;
    }
    out = apr_array_make(p, 256, 1);
    for (c = tmpl; *c; c++) {
        const char *v = NULL;
        if (*c != '%') {
            *(char *)apr_array_push(out) = *c;
            continue;
        }
        c++;
        switch (*c) {
        case '%':
            *(char *)apr_array_push(out) = '%';
            continue;
        case 'u':
            v = account;
            break;
        case 'n':
            v = local;
            break;
        case 'd':
            v = domain;
            if (!v) {
                *err = "%d used in the Maildir template but the account has no domain";
                return APR_EINVAL;
            }
            break;
        default:
            *err = "unknown %-escape in the Maildir template (use %u, %n, %d or %%)";
            return APR_EINVAL;
        }
        if ((why = template_value_bad(v)) != NULL) {
            *err = apr_pstrcat(p, "account refused for the Maildir path: ", why, NULL);
            return APR_EINVAL;
        }
        for (; *v; v++) {
            *(char *)apr_array_push(out) = *v;
        }
    }
    *(char *)apr_array_push(out) = '\0';
    r = out->elts;
    if (strstr(r, "/../") || strstr(r, "/./") ||
        (strlen(r) >= 3 && !strcmp(r + strlen(r) - 3, "/..")) ||
        (strlen(r) >= 2 && !strcmp(r + strlen(r) - 2, "/."))) {
        *err = "the Maildir path contains a . or .. component";
        return APR_EINVAL;
    }
    *path = r;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * The handle
 */
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
} md_store_t;

static apr_status_t errno_status(void)
{
    return errno ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
}

static void md_log_errno(md_store_t *md, apr_status_t rv, const char *what, const char *path)
{
    as_log(md->pub.log, AS_LOG_MARK, AS_LOG_ERR, rv, "maildir %s: %s %s", md->pub.account, what,
           path);
}

static int is_dir_at(int dfd, const char *name)
{
    struct stat sb;
    return fstatat(dfd, name, &sb, 0) == 0 && S_ISDIR(sb.st_mode);
}

static int64_t ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ts_ns(&ts);
}

/* ---------------------------------------------------------------------------
 * Folder id map file: "v1" line, then "<id> <storage>" lines.
 */
static apr_hash_t *map_read(md_store_t *md, apr_pool_t *p)
{
    apr_hash_t *map = apr_hash_make(p);
    const char *path = apr_pstrcat(p, md->root, "/" MAP_FILE, NULL);
    FILE *f = fopen(path, "re");
    char line[1024];

    if (!f) {
        return map;
    }
    while (fgets(line, sizeof line, f)) {
        char *sp, *nl = strchr(line, '\n');
        if (!nl) {
            break; /* overlong or truncated: ignore the rest */
        }
        *nl = '\0';
        sp = strchr(line, ' ');
        if (!sp) {
            continue;
        }
        *sp = '\0';
        if (!id_valid(line, AS_STORE_FOLDER_ID_MAX)) {
            continue;
        }
        apr_hash_set(map, apr_pstrdup(p, sp + 1), APR_HASH_KEY_STRING, apr_pstrdup(p, line));
    }
    fclose(f);
    return map;
}

static apr_status_t map_write(md_store_t *md, apr_hash_t *map, apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, md->root, "/" MAP_FILE, NULL);
    const char *tmp =
        apr_psprintf(p, "%s.tmp.%ld.%lx", path, (long)getpid(), (unsigned long)(uintptr_t)&tmp);
    apr_hash_index_t *hi;
    FILE *f;
    int fd;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return errno_status();
    }
    f = fdopen(fd, "w");
    if (!f) {
        apr_status_t rv = errno_status();
        close(fd);
        unlink(tmp);
        return rv;
    }
    fputs("v1\n", f);
    for (hi = apr_hash_first(p, map); hi; hi = apr_hash_next(hi)) {
        const void *k;
        void *v;
        apr_hash_this(hi, &k, NULL, &v);
        fprintf(f, "%s %s\n", (const char *)v, (const char *)k);
    }
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        apr_status_t rv = errno_status();
        fclose(f);
        unlink(tmp);
        return rv;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        apr_status_t rv = errno_status();
        unlink(tmp);
        return rv;
    }
    return APR_SUCCESS;
}

/* flock() of the root directory: serialises map updates and folder
 * renames between threads and processes (each call opens its own fd). */
static int md_lock(md_store_t *md)
{
    int fd = open(md->root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    while (flock(fd, LOCK_EX) != 0) {
        if (errno != EINTR) {
            close(fd);
            return -1;
        }
    }
    return fd;
}

static void md_unlock(int fd)
{
    if (fd >= 0) {
        close(fd); /* releases the flock */
    }
}

/* ---------------------------------------------------------------------------
 * Folder listing
 */
static int storage_ok(const char *s)
{
    size_t n = strlen(s);
    const char *c;

    if (n == 0 || n > 1000 || s[0] == '.' || s[n - 1] == '.' || strstr(s, "..")) {
        return 0;
    }
    for (c = s; *c; c++) {
        if (*c == '\n' || *c == '\r' || *c == '/') {
            return 0;
        }
    }
    return 1;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *display_of(apr_pool_t *p, const char *raw)
{
    const char *d;
    int high = 0;
    const char *c;

    for (c = raw; *c; c++) {
        if ((unsigned char)*c >= 0x80) {
            high = 1;
        }
    }
    if (high && utf8_valid(raw)) {
        return utf8_sanitize(p, raw); /* stored as UTF-8 (Dovecot's UTF-8 option) */
    }
    d = high ? NULL : as_mutf7_decode(p, raw);
    return utf8_sanitize(p, d ? d : raw);
}

static const char *const alt_sent[] = {"Sent Items", "Sent Messages", "Sent Mail", NULL};
static const char *const alt_drafts[] = {"Draft", NULL};
static const char *const alt_trash[] = {"Deleted Items", "Deleted Messages", "Bin", NULL};
static const char *const alt_junk[] = {"Spam", "Junk E-mail", "Junk Mail", NULL};

static int special_type_of(int idx)
{
    static const int types[] = {AS_FOLDER_SENT, AS_FOLDER_DRAFTS, AS_FOLDER_DELETED, 0};
    return types[idx];
}

/* Assign the special types to top-level folders (idx 0 Sent, 1 Drafts,
 * 2 Trash, 3 Junk); junk_out receives the Junk folder (type stays 12). */
static void assign_special(md_store_t *md, apr_array_header_t *folders, md_folder_t **junk_out)
{
    const char *conf[4] = {md->names.sent, md->names.drafts, md->names.trash, md->names.junk};
    const char *const *alts[4] = {alt_sent, alt_drafts, alt_trash, alt_junk};
    int t, i, level;

    *junk_out = NULL;
    for (t = 0; t < 4; t++) {
        md_folder_t *found = NULL;
        /* level 0: exact configured name; 1: configured, any case; 2+: alternatives */
        for (level = 0; !found; level++) {
            const char *want;
            if (level == 0 || level == 1) {
                want = conf[t];
            } else {
                want = alts[t][level - 2];
                if (!want) {
                    break;
                }
            }
            if (!want || !*want) {
                continue;
            }
            for (i = 0; i < folders->nelts; i++) {
                md_folder_t *f = APR_ARRAY_IDX(folders, i, md_folder_t *);
                if (f->f.type != AS_FOLDER_USER_MAIL || strcmp(f->f.parent_id, "0") ||
                    strchr(f->storage, '.')) {
                    continue;
                }
                if (level == 0 ? !strcmp(f->f.name, want) : !strcasecmp(f->f.name, want)) {
                    found = f;
                    break;
                }
            }
        }
        if (found) {
            if (t == 3) {
                *junk_out = found;
            } else {
                found->f.type = special_type_of(t);
            }
        }
    }
}

/* Ids from the map and the hashes.  Returns 1 when the map should be
 * rewritten (new salted ids, stale entries), filling *newmap. */
static int assign_ids(apr_array_header_t *folders, apr_hash_t *map, apr_pool_t *p,
                      apr_hash_t **newmap)
{
    apr_hash_t *used = apr_hash_make(p), *present = apr_hash_make(p), *nm = apr_hash_make(p);
    apr_hash_index_t *hi;
    int i, dirty = 0;

    for (i = 0; i < folders->nelts; i++) {
        md_folder_t *f = APR_ARRAY_IDX(folders, i, md_folder_t *);
        const char *id = apr_hash_get(map, f->storage, APR_HASH_KEY_STRING);
        apr_hash_set(present, f->storage, APR_HASH_KEY_STRING, f);
        f->f.id = NULL;
        if (id && !apr_hash_get(used, id, APR_HASH_KEY_STRING)) {
            f->f.id = apr_pstrdup(p, id);
            apr_hash_set(used, f->f.id, APR_HASH_KEY_STRING, f);
            apr_hash_set(nm, f->storage, APR_HASH_KEY_STRING, f->f.id);
        } else if (id) {
            dirty = 1; /* duplicate id in the map: drop the entry */
        }
    }
    for (i = 0; i < folders->nelts; i++) {
        md_folder_t *f = APR_ARRAY_IDX(folders, i, md_folder_t *);
        char buf[FOLDER_ID_LEN + 1];
        unsigned salt = 0;
        if (f->f.id) {
            continue;
        }
        do {
            folder_id_salted(f->storage, salt++, buf);
        } while (apr_hash_get(used, buf, APR_HASH_KEY_STRING) && salt < MAX_SALT * 16);
        f->f.id = apr_pstrdup(p, buf);
        apr_hash_set(used, f->f.id, APR_HASH_KEY_STRING, f);
        if (salt > 1) {
            apr_hash_set(nm, f->storage, APR_HASH_KEY_STRING, f->f.id);
            dirty = 1;
        }
    }
    for (hi = apr_hash_first(p, map); hi; hi = apr_hash_next(hi)) {
        const void *k;
        apr_hash_this(hi, &k, NULL, NULL);
        if (!apr_hash_get(present, k, APR_HASH_KEY_STRING)) {
            dirty = 1; /* stale */
        }
    }
    *newmap = nm;
    return dirty;
}

/* Read the root: the folder set with names, parents, types and ids, into
 * md->fpool. */
static apr_status_t md_load_folders(md_store_t *md)
{
    apr_pool_t *p;
    apr_array_header_t *names, *folders;
    apr_hash_t *set, *map, *newmap;
    DIR *d;
    struct dirent *de;
    md_folder_t *junk;
    int i;

    apr_pool_clear(md->fpool);
    p = md->fpool;
    md->folders = NULL;
    md->by_id = NULL;

    d = opendir(md->root);
    if (!d) {
        apr_status_t rv = errno_status();
        md_log_errno(md, rv, "cannot read", md->root);
        return rv;
    }
    names = apr_array_make(p, 32, sizeof(const char *));
    set = apr_hash_make(p);
    while ((de = readdir(d)) != NULL) {
        const char *st = de->d_name + 1;
        if (de->d_name[0] != '.' || !storage_ok(st) || !strcasecmp(st, "INBOX")) {
            continue;
        }
        if (de->d_type != DT_DIR && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK) {
            continue;
        }
        if (!is_dir_at(dirfd(d), apr_pstrcat(p, de->d_name, "/cur", NULL))) {
            continue; /* not (yet) a Maildir folder */
        }
        st = apr_pstrdup(p, st);
        APR_ARRAY_PUSH(names, const char *) = st;
        apr_hash_set(set, st, APR_HASH_KEY_STRING, st);
    }
    closedir(d);
    qsort(names->elts, (size_t)names->nelts, sizeof(const char *), cmp_str);

    folders = apr_array_make(p, names->nelts + 1, sizeof(md_folder_t *));
    {
        md_folder_t *inbox = apr_pcalloc(p, sizeof *inbox);
        inbox->storage = "";
        inbox->dir = md->root;
        inbox->f.parent_id = "0";
        inbox->f.name = "Inbox";
        inbox->f.path = "";
        inbox->f.type = AS_FOLDER_INBOX;
        APR_ARRAY_PUSH(folders, md_folder_t *) = inbox;
    }
    for (i = 0; i < names->nelts; i++) {
        const char *st = APR_ARRAY_IDX(names, i, const char *);
        md_folder_t *f = apr_pcalloc(p, sizeof *f);
        f->storage = st;
        f->dir = apr_pstrcat(p, md->root, "/.", st, NULL);
        f->f.path = apr_pstrcat(p, ".", st, NULL);
        f->f.type = AS_FOLDER_USER_MAIL;
        APR_ARRAY_PUSH(folders, md_folder_t *) = f;
    }

    map = map_read(md, p);
    if (assign_ids(folders, map, p, &newmap)) {
        if (!md->locked) {
            int lfd = md_lock(md);
            if (lfd >= 0) {
                apr_status_t rv;
                md->locked = 1;
                rv = md_load_folders(md);
                md->locked = 0;
                md_unlock(lfd);
                return rv;
            }
            /* cannot lock (read-only Maildir?): use the ids as computed */
        } else {
            apr_status_t rv = map_write(md, newmap, p);
            if (rv != APR_SUCCESS) {
                as_log(md->pub.log, AS_LOG_MARK, AS_LOG_WARNING, rv,
                       "maildir %s: cannot write %s/" MAP_FILE, md->pub.account, md->root);
            }
        }
    }

    /* parents and display names */
    md->by_id = apr_hash_make(p);
    for (i = 0; i < folders->nelts; i++) {
        md_folder_t *f = APR_ARRAY_IDX(folders, i, md_folder_t *);
        const char *st = f->storage, *rest = st;
        md_folder_t *parent = NULL;
        size_t k;

        apr_hash_set(md->by_id, f->f.id, APR_HASH_KEY_STRING, f);
        if (!*st) {
            continue; /* INBOX */
        }
        /* longest existing proper prefix ending before a '.' */
        for (k = strlen(st); k-- > 0;) {
            if (st[k] == '.') {
                const char *pre = apr_pstrmemdup(p, st, k);
                if (apr_hash_get(set, pre, APR_HASH_KEY_STRING)) {
                    int j;
                    for (j = 1; j < folders->nelts; j++) {
                        md_folder_t *c = APR_ARRAY_IDX(folders, j, md_folder_t *);
                        if (!strcmp(c->storage, pre)) {
                            parent = c;
                            break;
                        }
                    }
                    rest = st + k + 1;
                    break;
                }
            }
        }
        if (!parent && !strncasecmp(st, "INBOX.", 6)) {
            parent = APR_ARRAY_IDX(folders, 0, md_folder_t *);
            rest = st + 6;
        }
        f->f.parent_id = parent ? parent->f.id : "0";
        f->f.name = display_of(p, rest);
    }
    assign_special(md, folders, &junk);
    (void)junk;
    md->folders = folders;
    return APR_SUCCESS;
}

static apr_status_t md_find_folder(md_store_t *md, const char *id, md_folder_t **f)
{
    *f = NULL;
    if (!id || !id_valid(id, AS_STORE_FOLDER_ID_MAX)) {
        return APR_ENOENT;
    }
    if (md->by_id) {
        *f = apr_hash_get(md->by_id, id, APR_HASH_KEY_STRING);
    }
    if (!*f) {
        apr_status_t rv = md_load_folders(md);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        *f = apr_hash_get(md->by_id, id, APR_HASH_KEY_STRING);
    }
    return *f ? APR_SUCCESS : APR_ENOENT;
}

static as_store_folder_t folder_copy(apr_pool_t *p, const md_folder_t *f)
{
    as_store_folder_t c;
    c.id = apr_pstrdup(p, f->f.id);
    c.parent_id = apr_pstrdup(p, f->f.parent_id);
    c.name = apr_pstrdup(p, f->f.name);
    c.path = apr_pstrdup(p, f->f.path);
    c.type = f->f.type;
    return c;
}

static const char *token_of(apr_pool_t *p, const struct stat *a, const struct stat *b)
{
    int64_t now = now_ns(), ma = ts_ns(&a->st_mtim), mb = b ? ts_ns(&b->st_mtim) : 0;
    int64_t newest = ma > mb ? ma : mb;
    int unsettled = newest > now - SETTLE_NS;

    if (b) {
        return apr_psprintf(
            p, "%" APR_UINT64_T_HEX_FMT ".%" APR_INT64_T_FMT ".%" APR_INT64_T_FMT "%s",
            (apr_uint64_t)b->st_ino, (apr_int64_t)ma, (apr_int64_t)mb, unsettled ? "!" : "");
    }
    return apr_psprintf(p, "h%" APR_UINT64_T_HEX_FMT ".%" APR_INT64_T_FMT "%s",
                        (apr_uint64_t)a->st_ino, (apr_int64_t)ma, unsettled ? "!" : "");
}

static apr_status_t md_list_folders(as_store_t *st, apr_pool_t *p, apr_array_header_t **out,
                                    const char **hier_token)
{
    md_store_t *md = st->priv;
    struct stat sb;
    apr_status_t rv;
    int i;

    *out = NULL;
    if (hier_token) {
        if (stat(md->root, &sb) != 0) {
            return errno_status();
        }
        *hier_token = token_of(p, &sb, NULL);
    }
    rv = md_load_folders(md);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *out = apr_array_make(p, md->folders->nelts, sizeof(as_store_folder_t));
    for (i = 0; i < md->folders->nelts; i++) {
        APR_ARRAY_PUSH(*out, as_store_folder_t) =
            folder_copy(p, APR_ARRAY_IDX(md->folders, i, md_folder_t *));
    }
    return APR_SUCCESS;
}

static apr_status_t md_hierarchy_token(as_store_t *st, apr_pool_t *p, const char **token)
{
    md_store_t *md = st->priv;
    struct stat sb;

    if (stat(md->root, &sb) != 0) {
        *token = NULL;
        return errno_status();
    }
    *token = token_of(p, &sb, NULL);
    return APR_SUCCESS;
}

static apr_status_t md_get_folder(as_store_t *st, const char *id, apr_pool_t *p,
                                  const as_store_folder_t **out)
{
    md_folder_t *f;
    apr_status_t rv = md_find_folder(st->priv, id, &f);
    as_store_folder_t *c;

    *out = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    c = apr_palloc(p, sizeof *c);
    *c = folder_copy(p, f);
    *out = c;
    return APR_SUCCESS;
}

static apr_status_t stat_pair(const md_folder_t *f, apr_pool_t *p, struct stat *sn, struct stat *sc)
{
    if (stat(apr_pstrcat(p, f->dir, "/cur", NULL), sc) != 0) {
        return errno == ENOENT || errno == ENOTDIR ? APR_ENOENT : errno_status();
    }
    if (stat(apr_pstrcat(p, f->dir, "/new", NULL), sn) != 0) {
        if (errno != ENOENT) {
            return errno_status();
        }
        memset(sn, 0, sizeof *sn); /* new/ missing: count as empty */
    }
    return APR_SUCCESS;
}

static apr_status_t md_folder_token(as_store_t *st, const char *id, apr_pool_t *p,
                                    const char **token)
{
    md_folder_t *f;
    struct stat sn, sc;
    apr_status_t rv = md_find_folder(st->priv, id, &f);

    *token = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = stat_pair(f, p, &sn, &sc);
    if (rv == APR_SUCCESS) {
        *token = token_of(p, &sn, &sc);
    }
    return rv;
}

static apr_status_t md_watch_paths(as_store_t *st, const char *id, apr_pool_t *p,
                                   apr_array_header_t **paths)
{
    md_folder_t *f;
    apr_status_t rv = md_find_folder(st->priv, id, &f);

    *paths = NULL;
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *paths = apr_array_make(p, 2, sizeof(const char *));
    APR_ARRAY_PUSH(*paths, const char *) = apr_pstrcat(p, f->dir, "/new", NULL);
    APR_ARRAY_PUSH(*paths, const char *) = apr_pstrcat(p, f->dir, "/cur", NULL);
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Messages
 */
static unsigned flags_of(const char *name)
{
    const char *info = strstr(name, ":2,");
    unsigned fl = 0;

    if (!info) {
        return 0;
    }
    for (info += 3; *info; info++) {
        switch (*info) {
        case 'S':
            fl |= AS_STORE_SEEN;
            break;
        case 'F':
            fl |= AS_STORE_FLAGGED;
            break;
        case 'R':
            fl |= AS_STORE_ANSWERED;
            break;
        case 'D':
            fl |= AS_STORE_DRAFT;
            break;
        case 'T':
            fl |= AS_STORE_TRASHED;
            break;
        case 'P':
            fl |= AS_STORE_PASSED;
            break;
        default:
            break;
        }
    }
    return fl;
}

static apr_time_t date_from_name(const char *name)
{
    return apr_time_from_sec(strtol(name, NULL, 10));
}

static apr_off_t size_from_name(const char *name, size_t blen)
{
    const char *s = name;
    while ((s = strstr(s, ",S=")) != NULL && (size_t)(s - name) < blen) {
        return (apr_off_t)strtoll(s + 3, NULL, 10);
    }
    return 0;
}

/* Read one of new/ cur/ into arr.  *dirty is set when a file vanished
 * between readdir() and fstatat(). */
static apr_status_t read_sub(const md_folder_t *f, const char *sub, int in_cur, int want_stat,
                             unsigned gen, apr_pool_t *p, apr_array_header_t *arr, int *dirty)
{
    const char *path = apr_pstrcat(p, f->dir, "/", sub, NULL);
    DIR *d = opendir(path);
    struct dirent *de;

    if (!d) {
        if (errno == ENOENT && !in_cur) {
            return APR_SUCCESS;
        }
        return errno == ENOENT ? APR_ENOENT : errno_status();
    }
    while ((de = readdir(d)) != NULL) {
        md_entry_t *e;
        size_t bl;

        if (de->d_name[0] == '.' || !strncmp(de->d_name, "dovecot", 7)) {
            continue;
        }
        if (de->d_type != DT_REG && de->d_type != DT_UNKNOWN && de->d_type != DT_LNK) {
            continue;
        }
        bl = base_len(de->d_name);
        if (bl == 0) {
            continue;
        }
        e = apr_array_push(arr);
        e->name = apr_pstrdup(p, de->d_name);
        e->blen = (unsigned)bl;
        e->in_cur = (unsigned char)in_cur;
        e->gen = (unsigned char)gen;
        e->flags = flags_of(e->name);
        item_id_salted(e->name, bl, 0, e->id);
        e->stat_ok = 0;
        e->size = 0;
        e->date = 0;
        if (want_stat) {
            struct stat sb;
            if (fstatat(dirfd(d), de->d_name, &sb, 0) == 0) {
                if (!S_ISREG(sb.st_mode)) {
                    arr->nelts--;
                    continue;
                }
                e->stat_ok = 1;
                e->size = (apr_off_t)sb.st_size;
                e->date =
                    (apr_time_t)sb.st_mtim.tv_sec * APR_USEC_PER_SEC + sb.st_mtim.tv_nsec / 1000;
            } else {
                *dirty = 1;
                e->size = size_from_name(e->name, bl);
                e->date = date_from_name(e->name);
            }
        }
    }
    closedir(d);
    return APR_SUCCESS;
}

static int cmp_entry_id(const void *a, const void *b)
{
    const md_entry_t *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    if (c) {
        return c;
    }
    if (x->blen != y->blen || memcmp(x->name, y->name, x->blen)) {
        unsigned n = x->blen < y->blen ? x->blen : y->blen;
        c = memcmp(x->name, y->name, n);
        return c ? c : (x->blen < y->blen ? -1 : 1);
    }
    if (x->gen != y->gen) {
        return (int)y->gen - (int)x->gen; /* the latest read first */
    }
    return (int)y->in_cur - (int)x->in_cur; /* cur/ first */
}

/* Remove duplicates of one base name (a file seen in new/ and cur/ while
 * it moved, or the same name twice) and give hash collisions distinct ids. */
static void dedupe(apr_array_header_t *arr, apr_pool_t *p)
{
    md_entry_t *e = (md_entry_t *)arr->elts;
    int n = arr->nelts, i, o = 0, collisions = 0;

    if (n == 0) {
        return;
    }
    qsort(e, (size_t)n, sizeof *e, cmp_entry_id);
    for (i = 0; i < n; i++) {
        if (o > 0 && e[o - 1].blen == e[i].blen && !memcmp(e[o - 1].name, e[i].name, e[i].blen) &&
            !strcmp(e[o - 1].id, e[i].id)) {
            continue; /* same base name: keep the first (cur/) */
        }
        if (o > 0 && !strcmp(e[o - 1].id, e[i].id)) {
            collisions = 1;
        }
        if (o != i) {
            e[o] = e[i];
        }
        o++;
    }
    arr->nelts = o;
    if (collisions) {
        apr_hash_t *used = apr_hash_make(p);
        char prev[ITEM_ID_LEN + 1] = "";

        for (i = 0; i < o; i++) {
            apr_hash_set(used, apr_pstrdup(p, e[i].id), APR_HASH_KEY_STRING, "");
        }
        for (i = 0; i < o; i++) {
            if (i > 0 && !strcmp(prev, e[i].id)) {
                /* same hash as the lexically smaller base name before it */
                unsigned salt = 1;
                char buf[ITEM_ID_LEN + 1];
                do {
                    item_id_salted(e[i].name, e[i].blen, salt++, buf);
                } while (apr_hash_get(used, buf, APR_HASH_KEY_STRING) && salt < MAX_SALT);
                memcpy(e[i].id, buf, sizeof buf);
                apr_hash_set(used, apr_pstrdup(p, buf), APR_HASH_KEY_STRING, "");
            } else {
                memcpy(prev, e[i].id, sizeof prev);
            }
        }
    }
}

static int same_dir_state(const struct stat *a, const struct stat *b)
{
    return a->st_ino == b->st_ino && ts_ns(&a->st_mtim) == ts_ns(&b->st_mtim) &&
           ts_ns(&a->st_ctim) == ts_ns(&b->st_ctim);
}

/* Read a folder: entries (deduplicated, collision-free ids) in pool p and
 * the token taken before the read.
 *
 * readdir() is not a snapshot: a file renamed while the directory is read
 * (Dovecot changing flags, new/ -> cur/) can be missed under both names.
 * So when new/ or cur/ changed during a read (or changed so recently that
 * a change in the same clock tick could hide), the folder is read again
 * and the reads are UNITED, the latest read giving each message's name and
 * flags, until one read is quiet (at most SCAN_ATTEMPTS).  A message can
 * therefore not be lost, at worst a message removed meanwhile is listed
 * once more (the next listing drops it; open_item says ENOENT). */
static apr_status_t md_scan(md_store_t *md, const md_folder_t *f, int want_stat, apr_pool_t *p,
                            apr_array_header_t **out, const char **token)
{
    apr_array_header_t *arr = apr_array_make(p, 256, sizeof(md_entry_t));
    const char *tok = NULL;
    unsigned attempt;
    apr_status_t rv;

    for (attempt = 0;; attempt++) {
        struct stat sn0, sc0, sn1, sc1;
        int dirty = 0, quiet;
        int64_t t0 = now_ns();

        rv = stat_pair(f, p, &sn0, &sc0);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        if (!tok) {
            tok = token_of(p, &sn0, &sc0);
        }
        rv = read_sub(f, "new", 0, want_stat, attempt, p, arr, &dirty);
        if (rv == APR_SUCCESS) {
            rv = read_sub(f, "cur", 1, want_stat, attempt, p, arr, &dirty);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        rv = stat_pair(f, p, &sn1, &sc1);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        quiet = !dirty && same_dir_state(&sn0, &sn1) && same_dir_state(&sc0, &sc1) &&
                ts_ns(&sn0.st_mtim) < t0 - QUIET_NS && ts_ns(&sc0.st_mtim) < t0 - QUIET_NS;
        if (quiet || attempt + 1 >= SCAN_ATTEMPTS) {
            if (attempt > 0) {
                as_log(md->pub.log, AS_LOG_MARK, AS_LOG_DEBUG, 0,
                       "maildir %s: folder %s changed during the read, united %u reads%s",
                       md->pub.account, f->f.path, attempt + 1, quiet ? "" : " (still changing)");
            }
            dedupe(arr, p);
            *out = arr;
            if (token) {
                *token = tok;
            }
            return APR_SUCCESS;
        }
    }
}

/* Rebuild the id -> entry cache of a folder. */
static apr_status_t cache_fill(md_store_t *md, const md_folder_t *f, int want_stat,
                               apr_array_header_t **entries, const char **token)
{
    apr_array_header_t *arr;
    apr_status_t rv;
    int i;

    apr_pool_clear(md->cpool);
    md->cache = NULL;
    md->cache_valid = 0;
    rv = md_scan(md, f, want_stat, md->cpool, &arr, token);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    md->cache = apr_hash_make(md->cpool);
    for (i = 0; i < arr->nelts; i++) {
        md_entry_t *e = &APR_ARRAY_IDX(arr, i, md_entry_t);
        apr_hash_set(md->cache, e->id, APR_HASH_KEY_STRING, e);
    }
    apr_cpystrn(md->cache_folder, f->f.id, sizeof md->cache_folder);
    md->cache_valid = 1;
    if (entries) {
        *entries = arr;
    }
    return APR_SUCCESS;
}

/* Find the current file of an item.  fresh: rescan even when cached. */
static apr_status_t resolve(md_store_t *md, const md_folder_t *f, const char *id, int fresh,
                            md_entry_t **e)
{
    apr_status_t rv;

    *e = NULL;
    if (!id_valid(id, AS_STORE_ITEM_ID_MAX)) {
        return APR_ENOENT;
    }
    if (!fresh && md->cache_valid && !strcmp(md->cache_folder, f->f.id)) {
        *e = apr_hash_get(md->cache, id, APR_HASH_KEY_STRING);
        if (*e) {
            return APR_SUCCESS;
        }
    }
    rv = cache_fill(md, f, 0, NULL, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *e = apr_hash_get(md->cache, id, APR_HASH_KEY_STRING);
    return *e ? APR_SUCCESS : APR_ENOENT;
}

static const char *entry_path(apr_pool_t *p, const md_folder_t *f, const md_entry_t *e)
{
    return apr_pstrcat(p, f->dir, e->in_cur ? "/cur/" : "/new/", e->name, NULL);
}

static int cmp_item_date(const void *a, const void *b)
{
    const as_store_item_t *x = a, *y = b;
    if (x->date != y->date) {
        return x->date > y->date ? -1 : 1;
    }
    return strcmp(x->id, y->id);
}

static void entry_to_item(apr_pool_t *p, const md_entry_t *e, as_store_item_t *it)
{
    it->id = apr_pstrdup(p, e->id);
    it->flags = e->flags;
    it->size = e->size;
    it->date = e->date;
    it->name = apr_pstrcat(p, e->in_cur ? "cur/" : "new/", e->name, NULL);
}

static apr_status_t md_list_items(as_store_t *st, const char *folder_id, apr_pool_t *p,
                                  apr_array_header_t **items, const char **token)
{
    md_store_t *md = st->priv;
    md_folder_t *f;
    apr_array_header_t *arr;
    apr_status_t rv;
    const char *tok = NULL;
    int i;

    *items = NULL;
    rv = md_find_folder(md, folder_id, &f);
    if (rv == APR_SUCCESS) {
        rv = cache_fill(md, f, 1, &arr, &tok);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    *items = apr_array_make(p, arr->nelts ? arr->nelts : 1, sizeof(as_store_item_t));
    for (i = 0; i < arr->nelts; i++) {
        entry_to_item(p, &APR_ARRAY_IDX(arr, i, md_entry_t), apr_array_push(*items));
    }
    qsort((*items)->elts, (size_t)(*items)->nelts, sizeof(as_store_item_t), cmp_item_date);
    if (token) {
        *token = apr_pstrdup(p, tok);
    }
    return APR_SUCCESS;
}

/* Find the current name of a known base name: one pass over new/ then
 * cur/ (in that order, so a file moving new/ -> cur/ meanwhile is seen in
 * cur/).  Updates e (a cache entry) in place. */
static apr_status_t find_base(md_store_t *md, const md_folder_t *f, md_entry_t *e)
{
    static const char *const subs[] = {"new", "cur"};
    char path[4096];
    int i;

    for (i = 0; i < 2; i++) {
        DIR *d;
        struct dirent *de;
        int found = 0;

        if ((size_t)snprintf(path, sizeof path, "%s/%s", f->dir, subs[i]) >= sizeof path) {
            return APR_ENAMETOOLONG;
        }
        d = opendir(path);
        if (!d) {
            continue;
        }
        while ((de = readdir(d)) != NULL) {
            if (!strncmp(de->d_name, e->name, e->blen) &&
                (de->d_name[e->blen] == ':' || de->d_name[e->blen] == '\0')) {
                e->name = apr_pstrdup(md->cpool, de->d_name);
                e->in_cur = (unsigned char)i;
                e->flags = flags_of(e->name);
                found = 1;
                break;
            }
        }
        closedir(d);
        if (found) {
            return APR_SUCCESS;
        }
    }
    return APR_ENOENT;
}

/* Run op on the item's current file.  On ENOENT (renamed or removed by
 * another program since we looked) the file is searched again by its base
 * name, a few times; an id never seen is resolved by one full read. */
typedef apr_status_t item_op_fn(md_store_t *md, const md_folder_t *f, md_entry_t *e,
                                const char *path, void *baton);

#define FIND_ATTEMPTS 4

static apr_status_t with_item(md_store_t *md, const char *folder_id, const char *item_id,
                              item_op_fn *op, void *baton, apr_pool_t *p)
{
    md_folder_t *f;
    md_entry_t *e;
    apr_status_t rv;
    int attempt, rescanned = 0;

    rv = md_find_folder(md, folder_id, &f);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = resolve(md, f, item_id, 0, &e);
    if (APR_STATUS_IS_ENOENT(rv) && md->cache_valid) {
        return rv;
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (attempt = 0; attempt < FIND_ATTEMPTS; attempt++) {
        rv = op(md, f, e, entry_path(p, f, e), baton);
        if (!APR_STATUS_IS_ENOENT(rv)) {
            return rv;
        }
        rv = find_base(md, f, e);
        if (APR_STATUS_IS_ENOENT(rv) && !rescanned) {
            /* not there under its base name: one full read to be sure */
            rescanned = 1;
            rv = resolve(md, f, item_id, 1, &e);
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    return APR_ENOENT;
}

typedef struct stat_baton_t {
    apr_pool_t *p;
    as_store_item_t *item;
    as_store_msg_t *msg;
} stat_baton_t;

static apr_status_t op_stat(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                            void *baton)
{
    stat_baton_t *b = baton;
    struct stat sb;

    if (stat(path, &sb) != 0) {
        return errno_status();
    }
    entry_to_item(b->p, e, b->item);
    b->item->size = (apr_off_t)sb.st_size;
    b->item->date = (apr_time_t)sb.st_mtim.tv_sec * APR_USEC_PER_SEC + sb.st_mtim.tv_nsec / 1000;
    return APR_SUCCESS;
}

static apr_status_t md_stat_item(as_store_t *st, const char *folder_id, const char *item_id,
                                 apr_pool_t *p, as_store_item_t *item)
{
    stat_baton_t b = {p, item, NULL};
    return with_item(st->priv, folder_id, item_id, op_stat, &b, p);
}

static apr_status_t op_open(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                            void *baton)
{
    stat_baton_t *b = baton;
    apr_file_t *file;
    apr_finfo_t fi;
    apr_status_t rv;

    rv = apr_file_open(&file, path, APR_FOPEN_READ | APR_FOPEN_BINARY, 0, b->p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE | APR_FINFO_MTIME, file);
    if (rv != APR_SUCCESS) {
        apr_file_close(file);
        return rv;
    }
    b->msg = apr_pcalloc(b->p, sizeof *b->msg);
    entry_to_item(b->p, e, &b->msg->item);
    b->msg->item.size = fi.size;
    b->msg->item.date = fi.mtime;
    b->msg->file = file;
    return APR_SUCCESS;
}

static apr_status_t md_open_item(as_store_t *st, const char *folder_id, const char *item_id,
                                 apr_pool_t *p, as_store_msg_t **msg)
{
    stat_baton_t b = {p, NULL, NULL};
    apr_status_t rv = with_item(st->priv, folder_id, item_id, op_open, &b, p);
    *msg = rv == APR_SUCCESS ? b.msg : NULL;
    return rv;
}

/* The file name with new flags: "base:2," + sorted info letters. */
static const char *name_with_flags(apr_pool_t *p, const char *name, size_t blen, unsigned set,
                                   unsigned clear, unsigned *result)
{
    static const struct {
        char c;
        unsigned f;
    } map[] = {{'D', AS_STORE_DRAFT},    {'F', AS_STORE_FLAGGED}, {'P', AS_STORE_PASSED},
               {'R', AS_STORE_ANSWERED}, {'S', AS_STORE_SEEN},    {'T', AS_STORE_TRASHED}};
    char have[128];
    const char *info = strstr(name, ":2,");
    char letters[129];
    int c, n = 0;
    size_t i;

    memset(have, 0, sizeof have);
    if (info && (size_t)(info - name) == blen) {
        for (info += 3; *info; info++) {
            if ((unsigned char)*info < 128 && isgraph((unsigned char)*info) && *info != ',') {
                have[(unsigned char)*info] = 1;
            }
        }
    }
    for (i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (set & map[i].f) {
            have[(unsigned char)map[i].c] = 1;
        }
        if (clear & map[i].f) {
            have[(unsigned char)map[i].c] = 0;
        }
    }
    for (c = 33; c < 127; c++) { /* the spec: flags in ASCII order */
        if (have[c]) {
            letters[n++] = (char)c;
        }
    }
    letters[n] = '\0';
    if (result) {
        *result = flags_of(apr_pstrcat(p, ":2,", letters, NULL));
    }
    return apr_pstrcat(p, apr_pstrmemdup(p, name, blen), ":2,", letters, NULL);
}

typedef struct flags_baton_t {
    apr_pool_t *p;
    unsigned set, clear, result;
} flags_baton_t;

static apr_status_t op_flags(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                             void *baton)
{
    flags_baton_t *b = baton;
    const char *nn = name_with_flags(b->p, e->name, e->blen, b->set, b->clear, &b->result);
    const char *np;

    if (e->in_cur && !strcmp(nn, e->name)) {
        return access(path, F_OK) == 0 ? APR_SUCCESS : errno_status();
    }
    np = apr_pstrcat(b->p, f->dir, "/cur/", nn, NULL);
    if (rename(path, np) != 0) {
        return errno_status();
    }
    /* keep the cache in step */
    e->name = apr_pstrdup(md->cpool, nn);
    e->in_cur = 1;
    e->flags = b->result;
    return APR_SUCCESS;
}

static apr_status_t md_set_flags(as_store_t *st, const char *folder_id, const char *item_id,
                                 unsigned set, unsigned clear, unsigned *flags_out)
{
    apr_pool_t *p;
    flags_baton_t b;
    apr_status_t rv;

    apr_pool_create(&p, st->pool);
    b.p = p;
    b.set = set;
    b.clear = clear;
    b.result = 0;
    rv = with_item(st->priv, folder_id, item_id, op_flags, &b, p);
    if (flags_out) {
        *flags_out = b.result;
    }
    apr_pool_destroy(p);
    return rv;
}

/* Unique Maildir base name (time.MusecPpidQn_Rrand.host,S=size). */
static const char *unique_name(apr_pool_t *p, apr_size_t size)
{
    static unsigned counter; /* process-wide on purpose: names unique across threads */
    struct timeval tv;
    char host[256];
    unsigned q = __atomic_add_fetch(&counter, 1, __ATOMIC_RELAXED);
    unsigned rnd;
    apr_array_header_t *h = apr_array_make(p, 64, 1);
    const char *c;

    gettimeofday(&tv, NULL);
    if (gethostname(host, sizeof host) != 0) {
        strcpy(host, "localhost");
    }
    host[sizeof host - 1] = '\0';
    for (c = host; *c; c++) {
        const char *rep = NULL;
        if (*c == '/') {
            rep = "\\057";
        } else if (*c == ':') {
            rep = "\\072";
        } else if (*c == ',') {
            rep = "\\054";
        }
        if (rep) {
            for (; *rep; rep++) {
                *(char *)apr_array_push(h) = *rep;
            }
        } else {
            *(char *)apr_array_push(h) = *c;
        }
    }
    *(char *)apr_array_push(h) = '\0';
    rnd = (unsigned)(((uintptr_t)&tv >> 4) ^ (unsigned)tv.tv_usec ^ ((unsigned)getpid() << 16));
    return apr_psprintf(p, "%ld.M%ldP%ldQ%uR%08x.%s,S=%" APR_SIZE_T_FMT, (long)tv.tv_sec,
                        (long)tv.tv_usec, (long)getpid(), q, rnd, h->elts, size);
}

/* rename() that never replaces an existing file (link+unlink fallback). */
static int rename_noreplace(const char *from, const char *to)
{
#ifdef RENAME_NOREPLACE
    if (renameat2(AT_FDCWD, from, AT_FDCWD, to, RENAME_NOREPLACE) == 0) {
        return 0;
    }
    if (errno != EINVAL && errno != ENOSYS) {
        return -1;
    }
#endif
    if (link(from, to) != 0) {
        return -1;
    }
    unlink(from);
    return 0;
}

static void fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

typedef struct move_baton_t {
    apr_pool_t *p;
    const md_folder_t *dst;
    const char *new_id;
} move_baton_t;

static apr_status_t op_move(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                            void *baton)
{
    move_baton_t *b = baton;
    const char *sub = e->in_cur ? "/cur/" : "/new/";
    const char *to = apr_pstrcat(b->p, b->dst->dir, sub, e->name, NULL);
    char idbuf[ITEM_ID_LEN + 1];

    if (rename_noreplace(path, to) != 0) {
        const char *nn;
        if (errno != EEXIST) {
            return errno_status();
        }
        /* that base name exists there already: give the message a new one
         * (with the right S= size: Dovecot trusts it) */
        {
            struct stat sb;
            nn = unique_name(b->p, stat(path, &sb) == 0 ? (apr_size_t)sb.st_size : 0);
        }
        nn = apr_pstrcat(b->p, nn, e->name + e->blen, NULL);
        to = apr_pstrcat(b->p, b->dst->dir, sub, nn, NULL);
        if (rename_noreplace(path, to) != 0) {
            return errno_status();
        }
        as_maildir_item_id(nn, idbuf);
    } else {
        /* same base name: the same id (a salted id in the source becomes
         * the plain hash here, except in a collision there, ~never) */
        as_maildir_item_id(e->name, idbuf);
    }
    b->new_id = apr_pstrdup(b->p, idbuf);
    md->cache_valid = 0;
    return APR_SUCCESS;
}

static apr_status_t md_move_item(as_store_t *st, const char *folder_id, const char *item_id,
                                 const char *dst_id, apr_pool_t *p, const char **new_item_id)
{
    md_store_t *md = st->priv;
    md_folder_t *dst;
    move_baton_t b;
    apr_status_t rv;

    if (new_item_id) {
        *new_item_id = NULL;
    }
    rv = md_find_folder(md, dst_id, &dst);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (!strcmp(dst_id, folder_id)) {
        /* a move onto itself: nothing to do, but the item must exist */
        as_store_item_t it;
        rv = md_stat_item(st, folder_id, item_id, p, &it);
        if (rv == APR_SUCCESS && new_item_id) {
            *new_item_id = it.id;
        }
        return rv;
    }
    b.p = p;
    b.dst = dst;
    b.new_id = NULL;
    rv = with_item(md, folder_id, item_id, op_move, &b, p);
    if (rv == APR_SUCCESS && new_item_id) {
        *new_item_id = b.new_id;
    }
    return rv;
}

static apr_status_t op_unlink(md_store_t *md, const md_folder_t *f, md_entry_t *e, const char *path,
                              void *baton)
{
    if (unlink(path) != 0) {
        return errno_status();
    }
    if (md->cache) {
        apr_hash_set(md->cache, e->id, APR_HASH_KEY_STRING, NULL);
    }
    return APR_SUCCESS;
}

static apr_status_t md_special_folder(as_store_t *st, int type, int create, apr_pool_t *p,
                                      const char **folder_id);

static apr_status_t md_delete_item(as_store_t *st, const char *folder_id, const char *item_id,
                                   int to_trash)
{
    md_store_t *md = st->priv;
    apr_pool_t *p;
    apr_status_t rv;
    const char *trash = NULL;

    apr_pool_create(&p, st->pool);
    if (to_trash) {
        rv = md_special_folder(st, AS_FOLDER_DELETED, 1, p, &trash);
        if (rv != APR_SUCCESS) {
            apr_pool_destroy(p);
            return rv;
        }
    }
    if (trash && strcmp(trash, folder_id)) {
        rv = md_move_item(st, folder_id, item_id, trash, p, NULL);
    } else {
        rv = with_item(md, folder_id, item_id, op_unlink, NULL, p);
    }
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t md_deliver(as_store_t *st, const char *folder_id, const void *data,
                               apr_size_t len, unsigned flags, apr_time_t date, apr_pool_t *p,
                               const char **item_id)
{
    md_store_t *md = st->priv;
    md_folder_t *f;
    const char *base, *tmp, *dst, *name;
    const char *d = data;
    apr_size_t done = 0;
    apr_status_t rv;
    char idbuf[ITEM_ID_LEN + 1];
    int fd, tries;

    if (item_id) {
        *item_id = NULL;
    }
    rv = md_find_folder(md, folder_id, &f);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (tries = 0;; tries++) {
        base = unique_name(p, len);
        tmp = apr_pstrcat(p, f->dir, "/tmp/", base, NULL);
        fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0) {
            break;
        }
        if (errno == ENOENT && tries == 0) {
            mkdir(apr_pstrcat(p, f->dir, "/tmp", NULL), 0700); /* tmp/ may be missing */
            continue;
        }
        if (errno != EEXIST || tries > 5) {
            rv = errno_status();
            md_log_errno(md, rv, "cannot create", tmp);
            return rv;
        }
    }
    while (done < len) {
        ssize_t w = write(fd, d + done, len - done);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            goto fail;
        }
        done += (apr_size_t)w;
    }
    if (date > 0) {
        struct timespec ts[2];
        ts[0].tv_sec = ts[1].tv_sec = (time_t)apr_time_sec(date);
        ts[0].tv_nsec = ts[1].tv_nsec = (long)(apr_time_usec(date) * 1000);
        futimens(fd, ts);
    }
    if (fsync(fd) != 0) {
        goto fail;
    }
    if (close(fd) != 0) {
        fd = -1;
        goto fail;
    }
    fd = -1;
    if (flags) {
        name = name_with_flags(p, base, strlen(base), flags, 0, NULL);
        dst = apr_pstrcat(p, f->dir, "/cur/", name, NULL);
    } else {
        name = base;
        dst = apr_pstrcat(p, f->dir, "/new/", name, NULL);
    }
    if (rename_noreplace(tmp, dst) != 0) {
        goto fail;
    }
    fsync_dir(apr_pstrcat(p, f->dir, flags ? "/cur" : "/new", NULL));
    as_maildir_item_id(name, idbuf);
    if (item_id) {
        *item_id = apr_pstrdup(p, idbuf);
    }
    md->cache_valid = 0;
    return APR_SUCCESS;

fail:
    rv = errno_status();
    md_log_errno(md, rv, "cannot deliver into", f->dir);
    if (fd >= 0) {
        close(fd);
    }
    unlink(tmp);
    return rv;
}

/* ---------------------------------------------------------------------------
 * Folder management
 */
static const char *name_check(apr_pool_t *p, const char *name, const char **enc)
{
    const unsigned char *c;
    size_t n;

    *enc = NULL;
    if (!name || !*name) {
        return "empty folder name";
    }
    n = strlen(name);
    if (n > MAX_NAME_BYTES) {
        return "folder name too long";
    }
    if (!utf8_valid(name)) {
        return "folder name is not UTF-8";
    }
    for (c = (const unsigned char *)name; *c; c++) {
        if (*c < 0x20 || *c == 0x7f || *c == '/' || *c == '.' || *c == '\\') {
            return "folder name contains '/', '.', '\\' or a control character";
        }
    }
    *enc = as_mutf7_encode(p, name);
    return *enc ? NULL : "folder name cannot be encoded";
}

static int folder_is_special(const md_folder_t *f)
{
    return f->f.type >= AS_FOLDER_INBOX && f->f.type <= AS_FOLDER_OUTBOX;
}

static apr_status_t make_folder_dirs(const char *dir, int marker, apr_pool_t *p)
{
    static const char *const subs[] = {"tmp", "new", "cur"}; /* cur/ last: it marks a folder */
    int i, fd;

    for (i = 0; i < 3; i++) {
        if (mkdir(apr_pstrcat(p, dir, "/", subs[i], NULL), 0700) != 0 && errno != EEXIST) {
            return errno_status();
        }
    }
    if (marker) { /* Maildir++ marks subfolders with this empty file */
        fd =
            open(apr_pstrcat(p, dir, "/maildirfolder", NULL), O_WRONLY | O_CREAT | O_CLOEXEC, 0600);
        if (fd >= 0) {
            close(fd);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t parent_storage(md_store_t *md, const char *parent_id, const char **storage)
{
    md_folder_t *pf;
    apr_status_t rv;

    if (!parent_id || !strcmp(parent_id, "0")) {
        *storage = NULL;
        return APR_SUCCESS;
    }
    rv = md_find_folder(md, parent_id, &pf);
    if (rv != APR_SUCCESS) {
        return APR_STATUS_IS_ENOENT(rv) ? AS_STORE_ENOPARENT : rv;
    }
    *storage = *pf->storage ? pf->storage : "INBOX";
    return APR_SUCCESS;
}

static apr_status_t md_create_folder(as_store_t *st, const char *parent_id, const char *name,
                                     apr_pool_t *p, const char **folder_id)
{
    md_store_t *md = st->priv;
    const char *enc, *why, *pst, *storage, *dir;
    apr_status_t rv;
    int i;

    if (folder_id) {
        *folder_id = NULL;
    }
    why = name_check(p, name, &enc);
    if (why) {
        as_log(st->log, AS_LOG_MARK, AS_LOG_INFO, 0, "maildir %s: create refused: %s", st->account,
               why);
        return APR_EINVAL;
    }
    rv = parent_storage(md, parent_id, &pst);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    storage = pst ? apr_pstrcat(p, pst, ".", enc, NULL) : enc;
    if (!storage_ok(storage) || (!pst && !strcasecmp(storage, "INBOX"))) {
        return APR_EINVAL;
    }
    /* the same display name (any case for the special ones) already there? */
    rv = md_load_folders(md);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < md->folders->nelts; i++) {
        md_folder_t *f = APR_ARRAY_IDX(md->folders, i, md_folder_t *);
        if (!strcmp(f->storage, storage)) {
            return APR_EEXIST;
        }
    }
    dir = apr_pstrcat(p, md->root, "/.", storage, NULL);
    if (mkdir(dir, 0700) != 0) {
        if (errno != EEXIST) {
            rv = errno_status();
            md_log_errno(md, rv, "cannot create", dir);
            return rv;
        }
        /* a half-made folder (no cur/): complete it */
    }
    rv = make_folder_dirs(dir, 1, p);
    if (rv != APR_SUCCESS) {
        md_log_errno(md, rv, "cannot create", dir);
        return rv;
    }
    fsync_dir(md->root);
    rv = md_load_folders(md);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < md->folders->nelts; i++) {
        md_folder_t *f = APR_ARRAY_IDX(md->folders, i, md_folder_t *);
        if (!strcmp(f->storage, storage)) {
            if (folder_id) {
                *folder_id = apr_pstrdup(p, f->f.id);
            }
            return APR_SUCCESS;
        }
    }
    return APR_EGENERAL;
}

/* The folder and its descendants (storage names), in pool p. */
static apr_array_header_t *subtree(md_store_t *md, const md_folder_t *f, apr_pool_t *p)
{
    apr_array_header_t *a = apr_array_make(p, 4, sizeof(md_folder_t *));
    size_t n = strlen(f->storage);
    int i;

    for (i = 0; i < md->folders->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(md->folders, i, md_folder_t *);
        if (!strcmp(c->storage, f->storage) ||
            (!strncmp(c->storage, f->storage, n) && c->storage[n] == '.')) {
            APR_ARRAY_PUSH(a, md_folder_t *) = c;
        }
    }
    return a;
}

static apr_status_t md_rename_folder(as_store_t *st, const char *folder_id,
                                     const char *new_parent_id, const char *new_name)
{
    md_store_t *md = st->priv;
    apr_pool_t *p;
    md_folder_t *f;
    apr_array_header_t *tree;
    apr_hash_t *map;
    const char *enc, *why, *pst, *nst;
    apr_status_t rv;
    int lfd, i;
    struct stat sb;

    apr_pool_create(&p, st->pool);
    why = name_check(p, new_name, &enc);
    if (why) {
        apr_pool_destroy(p);
        return APR_EINVAL;
    }
    lfd = md_lock(md);
    if (lfd < 0) {
        rv = errno_status();
        apr_pool_destroy(p);
        return rv;
    }
    md->locked = 1;
    rv = md_load_folders(md);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    rv = md_find_folder(md, folder_id, &f);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    if (folder_is_special(f)) {
        rv = AS_STORE_ESPECIAL;
        goto out;
    }
    rv = parent_storage(md, new_parent_id, &pst);
    if (rv != APR_SUCCESS) {
        goto out;
    }
    nst = pst ? apr_pstrcat(p, pst, ".", enc, NULL) : enc;
    if (!storage_ok(nst) || (!pst && !strcasecmp(nst, "INBOX"))) {
        rv = APR_EINVAL;
        goto out;
    }
    if (!strcmp(nst, f->storage)) {
        rv = APR_SUCCESS; /* nothing to do */
        goto out;
    }
    /* not into itself or a descendant */
    if (pst && (!strcmp(pst, f->storage) || (!strncmp(pst, f->storage, strlen(f->storage)) &&
                                             pst[strlen(f->storage)] == '.'))) {
        rv = APR_EINVAL;
        goto out;
    }
    tree = subtree(md, f, p);
    for (i = 0; i < tree->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(tree, i, md_folder_t *);
        const char *to = apr_pstrcat(p, md->root, "/.", nst, c->storage + strlen(f->storage), NULL);
        if (lstat(to, &sb) == 0) {
            rv = APR_EEXIST;
            goto out;
        }
    }
    /* the new names keep the old ids: write that down first */
    map = map_read(md, p);
    for (i = 0; i < tree->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(tree, i, md_folder_t *);
        apr_hash_set(map, apr_pstrcat(p, nst, c->storage + strlen(f->storage), NULL),
                     APR_HASH_KEY_STRING, c->f.id);
        apr_hash_set(map, c->storage, APR_HASH_KEY_STRING, NULL);
    }
    rv = map_write(md, map, p);
    if (rv != APR_SUCCESS) {
        md_log_errno(md, rv, "cannot write", MAP_FILE);
        goto out;
    }
    for (i = 0; i < tree->nelts; i++) {
        md_folder_t *c = APR_ARRAY_IDX(tree, i, md_folder_t *);
        const char *to = apr_pstrcat(p, md->root, "/.", nst, c->storage + strlen(f->storage), NULL);
        if (rename(c->dir, to) != 0) {
            rv = errno_status();
            md_log_errno(md, rv, "cannot rename", c->dir);
            goto out;
        }
    }
    fsync_dir(md->root);
    rv = APR_SUCCESS;
out:
    md->by_id = NULL; /* reload next time */
    md->cache_valid = 0;
    md->locked = 0;
    md_unlock(lfd);
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    apr_status_t rv = APR_SUCCESS;

    if (!d) {
        return errno_status();
    }
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        if (fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) != 0) {
            continue;
        }
        if (S_ISDIR(sb.st_mode)) {
            char *sub = malloc(strlen(path) + strlen(de->d_name) + 2);
            if (!sub) {
                rv = APR_ENOMEM;
                break;
            }
            sprintf(sub, "%s/%s", path, de->d_name);
            rv = remove_tree(sub);
            free(sub);
            if (rv != APR_SUCCESS) {
                break;
            }
        } else if (unlinkat(dirfd(d), de->d_name, 0) != 0 && errno != ENOENT) {
            rv = errno_status();
            break;
        }
    }
    closedir(d);
    if (rv == APR_SUCCESS && rmdir(path) != 0) {
        rv = errno_status();
    }
    return rv;
}

static apr_status_t md_delete_folder(as_store_t *st, const char *folder_id)
{
    md_store_t *md = st->priv;
    apr_pool_t *p;
    md_folder_t *f;
    apr_array_header_t *tree;
    apr_status_t rv;
    int i, lfd;

    apr_pool_create(&p, st->pool);
    lfd = md_lock(md);
    md->locked = lfd >= 0;
    rv = md_load_folders(md);
    if (rv == APR_SUCCESS) {
        rv = md_find_folder(md, folder_id, &f);
    }
    if (rv == APR_SUCCESS && folder_is_special(f)) {
        rv = AS_STORE_ESPECIAL;
    }
    if (rv != APR_SUCCESS) {
        goto out;
    }
    tree = subtree(md, f, p);
    /* children first; each is first renamed out of sight (no leading dot:
     * neither we nor Dovecot list it), then removed */
    for (i = tree->nelts - 1; i >= 0; i--) {
        md_folder_t *c = APR_ARRAY_IDX(tree, i, md_folder_t *);
        const char *gone = apr_pstrcat(p, md->root, "/" TRASH_PREFIX, unique_name(p, 0), NULL);
        if (rename(c->dir, gone) != 0) {
            rv = errno_status();
            md_log_errno(md, rv, "cannot remove", c->dir);
            goto out;
        }
        rv = remove_tree(gone);
        if (rv != APR_SUCCESS) {
            md_log_errno(md, rv, "cannot remove all of", gone);
            rv = APR_SUCCESS; /* the folder is gone for every reader */
        }
    }
    fsync_dir(md->root);
out:
    md->by_id = NULL;
    md->cache_valid = 0;
    md->locked = 0;
    md_unlock(lfd);
    apr_pool_destroy(p);
    return rv;
}

static apr_status_t md_special_folder(as_store_t *st, int type, int create, apr_pool_t *p,
                                      const char **folder_id)
{
    md_store_t *md = st->priv;
    const char *name = NULL;
    apr_status_t rv;
    int i;

    *folder_id = NULL;
    if (!md->folders) {
        rv = md_load_folders(md);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    for (i = 0; i < md->folders->nelts; i++) {
        md_folder_t *f = APR_ARRAY_IDX(md->folders, i, md_folder_t *);
        if (f->f.type == type) {
            *folder_id = apr_pstrdup(p, f->f.id);
            return APR_SUCCESS;
        }
    }
    switch (type) {
    case AS_FOLDER_SENT:
        name = md->names.sent;
        break;
    case AS_FOLDER_DRAFTS:
        name = md->names.drafts;
        break;
    case AS_FOLDER_DELETED:
        name = md->names.trash;
        break;
    default:
        break;
    }
    if (!create || !name) {
        return APR_ENOENT;
    }
    rv = md_create_folder(st, "0", name, p, folder_id);
    if (rv == APR_EEXIST) { /* created meanwhile by someone else */
        rv = md_load_folders(md);
        if (rv == APR_SUCCESS) {
            return md_special_folder(st, type, 0, p, folder_id);
        }
    }
    return rv;
}

/* ---------------------------------------------------------------------------
 * Opening
 */
static const as_store_ops_t maildir_ops = {
    "maildir",        md_list_folders,  md_hierarchy_token, md_get_folder,    md_folder_token,
    md_watch_paths,   md_list_items,    md_stat_item,       md_open_item,     md_set_flags,
    md_move_item,     md_delete_item,   md_deliver,         md_create_folder, md_rename_folder,
    md_delete_folder, md_special_folder};

void as_maildir_names_default(as_maildir_names_t *names)
{
    names->sent = "Sent";
    names->drafts = "Drafts";
    names->trash = "Trash";
    names->junk = "Junk";
}

apr_status_t as_maildir_open(apr_pool_t *p, const char *root, const char *account,
                             const as_maildir_names_t *names, int create, const as_logger_t *log,
                             as_store_t **store)
{
    md_store_t *md;
    struct stat sb;

    *store = NULL;
    if (!root || root[0] != '/') {
        return APR_EINVAL;
    }
    if (stat(apr_pstrcat(p, root, "/cur", NULL), &sb) != 0 || !S_ISDIR(sb.st_mode)) {
        apr_status_t rv;
        if (!create) {
            return APR_ENOENT;
        }
        if (mkdir(root, 0700) != 0 && errno != EEXIST) {
            rv = errno_status();
            as_log(log, AS_LOG_MARK, AS_LOG_ERR, rv, "maildir %s: cannot create %s",
                   account ? account : "-", root);
            return rv;
        }
        rv = make_folder_dirs(root, 0, p);
        if (rv != APR_SUCCESS) {
            return rv;
        }
    }
    md = apr_pcalloc(p, sizeof *md);
    md->pub.ops = &maildir_ops;
    md->pub.pool = p;
    md->pub.log = log;
    md->pub.account = account ? apr_pstrdup(p, account) : "-";
    md->pub.priv = md;
    md->root = apr_pstrdup(p, root);
    if (names) {
        md->names = *names;
    } else {
        as_maildir_names_default(&md->names);
    }
    apr_pool_create(&md->fpool, p);
    apr_pool_create(&md->cpool, p);
    *store = &md->pub;
    return APR_SUCCESS;
}
