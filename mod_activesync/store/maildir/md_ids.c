/* Maildir backend ids (as_maildir.h ITEM IDS, FOLDER IDS): FNV-1a 64 with
 * a murmur3 finaliser printed in base32 [0-9a-v]; salted ids for the rare
 * collision; the folder id map file ("v1" line, then "<id> <storage>"). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_internal.h"

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

int md_id_valid(const char *id, size_t maxlen)
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

size_t md_base_len(const char *name)
{
    const char *c = strchr(name, ':');
    return c ? (size_t)(c - name) : strlen(name);
}

void md_item_id_salted(const char *name, size_t blen, unsigned salt, char *out)
{
    b32(hash64(name, blen, salt), ITEM_ID_LEN, out);
}

void as_maildir_item_id(const char *filename, char *out)
{
    md_item_id_salted(filename, md_base_len(filename), 0, out);
}

static void folder_id_salted(const char *storage, unsigned salt, char *out)
{
    /* folder and item ids live in different spaces; a distinct seed anyway */
    b32(hash64(storage, strlen(storage), salt + 0x100), FOLDER_ID_LEN, out);
    if (!strcmp(out, "0")) { /* cannot happen with 8 digits; keep "0" = root safe */
        out[0] = '1';
    }
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
void md_dedupe(apr_array_header_t *arr, apr_pool_t *p)
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
                    md_item_id_salted(e[i].name, e[i].blen, salt++, buf);
                } while (apr_hash_get(used, buf, APR_HASH_KEY_STRING) && salt < MAX_SALT);
                memcpy(e[i].id, buf, sizeof buf);
                apr_hash_set(used, apr_pstrdup(p, buf), APR_HASH_KEY_STRING, "");
            } else {
                memcpy(prev, e[i].id, sizeof prev);
            }
        }
    }
}

/* Ids from the map and the hashes.  Returns 1 when the map should be
 * rewritten (new salted ids, stale entries), filling *newmap. */
int md_assign_ids(apr_array_header_t *folders, apr_hash_t *map, apr_pool_t *p, apr_hash_t **newmap)
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

/* ---------------------------------------------------------------------------
 * Folder id map file: "v1" line, then "<id> <storage>" lines.
 */
apr_hash_t *md_map_read(md_store_t *md, apr_pool_t *p)
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
        if (!md_id_valid(line, AS_STORE_FOLDER_ID_MAX)) {
            continue;
        }
        apr_hash_set(map, apr_pstrdup(p, sp + 1), APR_HASH_KEY_STRING, apr_pstrdup(p, line));
    }
    fclose(f);
    return map;
}

apr_status_t md_map_write(md_store_t *md, apr_hash_t *map, apr_pool_t *p)
{
    const char *path = apr_pstrcat(p, md->root, "/" MAP_FILE, NULL);
    const char *tmp =
        apr_psprintf(p, "%s.tmp.%ld.%lx", path, (long)getpid(), (unsigned long)(uintptr_t)&tmp);
    apr_hash_index_t *hi;
    FILE *f;
    int fd;

    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) {
        return md_errno_status();
    }
    f = fdopen(fd, "w");
    if (!f) {
        apr_status_t rv = md_errno_status();
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
        apr_status_t rv = md_errno_status();
        fclose(f);
        unlink(tmp);
        return rv;
    }
    fclose(f);
    if (rename(tmp, path) != 0) {
        apr_status_t rv = md_errno_status();
        unlink(tmp);
        return rv;
    }
    return APR_SUCCESS;
}
