/* Push claims: per-(account, device) files whose value says which request
 * of the device is the newest (as_watch.h, SUPERSEDE), kept on the memory
 * file system so that a request never writes to the disk for them.
 *
 * Every Sync and Ping claims, so the claim is on the path of a no-change
 * Sync (issue 10): the directory of the claims is found (and checked) once
 * per process and data directory, the digest is prefetched once, and the
 * claim values come from a per-process random seed and a counter instead
 * of the shared random generator (a lock every thread of the child takes);
 * the file names of the devices seen lately are remembered.
 * A value only has to differ from the other claims of the device. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "activesync/as_watch.h"

static void put_le64(unsigned char *b, apr_uint64_t v)
{
    int i;
    for (i = 0; i < 8; i++) {
        b[i] = (unsigned char)(v >> (8 * i));
    }
}

static apr_uint64_t get_le64(const unsigned char *b)
{
    apr_uint64_t v = 0;
    int i;
    for (i = 7; i >= 0; i--) {
        v = (v << 8) | b[i];
    }
    return v;
}

/* SHA-256, fetched once: EVP_sha256() makes every digest look the
 * implementation up again (a lock and a search in OpenSSL 3). */
static EVP_MD *sha256_md;
static pthread_once_t sha256_once = PTHREAD_ONCE_INIT;

static void sha256_fetch(void)
{
    sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
}

static const EVP_MD *sha256(void)
{
    pthread_once(&sha256_once, sha256_fetch);
    return sha256_md ? sha256_md : EVP_sha256();
}

/* The first 2*n hex digits of SHA-256(text) into hex (2*n+1 bytes). */
static int sha_hex(const char *text, char *hex, unsigned n)
{
    static const char hx[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;

    if (!EVP_Digest(text, strlen(text), md, &mdlen, sha256(), NULL) || mdlen < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        hex[2 * i] = hx[md[i] >> 4];
        hex[2 * i + 1] = hx[md[i] & 15];
    }
    hex[2 * n] = '\0';
    return 1;
}

/* The claim file names of the devices seen lately (the digest of
 * account "\n" device), direct-mapped by a cheap hash of the text. */
#define NAME_SLOTS 256
static struct {
    char *text;
    char hex[33];
} name_slots[NAME_SLOTS];
static pthread_mutex_t name_lock = PTHREAD_MUTEX_INITIALIZER;

static int claim_name(const char *text, char *hex)
{
    apr_uint64_t h = 0xcbf29ce484222325ULL;
    const unsigned char *c;
    unsigned i;
    char *copy;
    int found = 0;

    for (c = (const unsigned char *)text; *c; c++) {
        h = (h ^ *c) * 0x100000001b3ULL;
    }
    i = (unsigned)(h % NAME_SLOTS);
    pthread_mutex_lock(&name_lock);
    if (name_slots[i].text && !strcmp(name_slots[i].text, text)) {
        memcpy(hex, name_slots[i].hex, 33);
        found = 1;
    }
    pthread_mutex_unlock(&name_lock);
    if (found) {
        return 1;
    }
    if (!sha_hex(text, hex, 16)) {
        return 0;
    }
    if ((copy = strdup(text)) != NULL) {
        pthread_mutex_lock(&name_lock);
        free(name_slots[i].text);
        name_slots[i].text = copy;
        memcpy(name_slots[i].hex, hex, 33);
        pthread_mutex_unlock(&name_lock);
    }
    return 1;
}

/* A directory of ours: made if missing, and then a real directory (not a
 * symlink), owned by this user, writable by nobody else. */
static int own_dir(const char *dir)
{
    struct stat st;

    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return 0;
    }
    return lstat(dir, &st) == 0 && S_ISDIR(st.st_mode) && st.st_uid == geteuid() &&
           (st.st_mode & 022) == 0;
}

/* Where the claims of datadir live: AS_WATCH_CLAIM_SHM/mod_activesync-<h>/push
 * (h from the data directory's path) on the memory file system, so that a
 * claim never writes to the disk; DATADIR/push when that cannot be had
 * (no /dev/shm, or its directory is not ours).  Made if missing. */
static const char *find_claim_dir(apr_pool_t *p, const char *datadir)
{
    char hex[33];
    const char *base, *dir;

    if (sha_hex(datadir, hex, 8)) {
        base = apr_pstrcat(p, AS_WATCH_CLAIM_SHM, "/mod_activesync-", hex, NULL);
        if (own_dir(base) && own_dir(apr_pstrcat(p, base, "/push", NULL))) {
            return apr_pstrcat(p, base, "/push", NULL);
        }
    }
    dir = apr_pstrcat(p, datadir, "/push", NULL);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return NULL;
    }
    return dir;
}

/* The directories found, per data directory (a server has one; the
 * slots are reused round robin beyond DIR_SLOTS).  An entry is dropped
 * when a claim cannot open its file there (an administrator removed the
 * directory): the next claim looks again. */
#define DIR_SLOTS 8
static struct {
    char *datadir, *dir;
} dir_slots[DIR_SLOTS];
static unsigned dir_next;
static pthread_mutex_t dir_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *known_claim_dir(apr_pool_t *p, const char *datadir)
{
    const char *dir = NULL;
    int i;

    pthread_mutex_lock(&dir_lock);
    for (i = 0; i < DIR_SLOTS && !dir; i++) {
        if (dir_slots[i].datadir && !strcmp(dir_slots[i].datadir, datadir)) {
            dir = apr_pstrdup(p, dir_slots[i].dir);
        }
    }
    pthread_mutex_unlock(&dir_lock);
    return dir;
}

/* The directory found and remembered (NULL, errno set, when it cannot be
 * had). */
static const char *claim_dir(apr_pool_t *p, const char *datadir)
{
    const char *dir;
    char *dd, *dcopy;
    int i;

    if (!(dir = find_claim_dir(p, datadir))) {
        return NULL;
    }
    dd = strdup(datadir);
    dcopy = strdup(dir);
    if (!dd || !dcopy) {
        free(dd);
        free(dcopy);
        return dir;
    }
    pthread_mutex_lock(&dir_lock);
    i = (int)(dir_next++ % DIR_SLOTS);
    free(dir_slots[i].datadir);
    free(dir_slots[i].dir);
    dir_slots[i].datadir = dd;
    dir_slots[i].dir = dcopy;
    pthread_mutex_unlock(&dir_lock);
    return dir;
}

static void forget_claim_dir(const char *datadir)
{
    int i;

    pthread_mutex_lock(&dir_lock);
    for (i = 0; i < DIR_SLOTS; i++) {
        if (dir_slots[i].datadir && !strcmp(dir_slots[i].datadir, datadir)) {
            free(dir_slots[i].datadir);
            free(dir_slots[i].dir);
            dir_slots[i].datadir = dir_slots[i].dir = NULL;
        }
    }
    pthread_mutex_unlock(&dir_lock);
}

/* A fresh claim value, never 0: a per-process random seed (drawn again in
 * a forked child) plus a counter, mixed (splitmix64).  Two values of one
 * process never repeat; two processes collide with odds 2^-64. */
static int seeded; /* cleared in a forked child */
static pthread_once_t seed_once = PTHREAD_ONCE_INIT;

static void unseed(void)
{
    seeded = 0;
}

static void seed_init(void)
{
    pthread_atfork(NULL, NULL, unseed);
}

static apr_status_t next_claim(apr_uint64_t *claim)
{
    static apr_uint64_t seed, counter;
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    unsigned char buf[8];
    apr_uint64_t z;

    pthread_once(&seed_once, seed_init);
    pthread_mutex_lock(&lock);
    if (!seeded) {
        if (RAND_bytes(buf, sizeof buf) != 1) {
            pthread_mutex_unlock(&lock);
            return APR_EGENERAL;
        }
        seed = get_le64(buf);
        counter = 0;
        seeded = 1;
    }
    do {
        z = seed + 0x9e3779b97f4a7c15ULL * ++counter;
        z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
        z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
        z ^= z >> 31;
    } while (z == 0);
    pthread_mutex_unlock(&lock);
    *claim = z;
    return APR_SUCCESS;
}

apr_status_t as_watch_claim(apr_pool_t *p, const char *datadir, const char *account,
                            const char *device, as_watch_ticket_t **ticket)
{
    unsigned char buf[8];
    char hex[33];
    const char *dir;
    as_watch_ticket_t *t;
    apr_uint64_t claim = 0;
    struct stat st;
    int fd, err, retried;
    ssize_t n;

    if (!datadir || !account || !device || !ticket) {
        return APR_EINVAL;
    }
    if (!claim_name(apr_pstrcat(p, account, "\n", device, NULL), hex)) {
        return APR_EGENERAL;
    }
    /* the data directory is checked when its claims' directory is looked up */
    if (!(dir = known_claim_dir(p, datadir)) && stat(datadir, &st) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (next_claim(&claim) != APR_SUCCESS) {
        return APR_EGENERAL;
    }
    t = apr_pcalloc(p, sizeof(*t));
    t->claim = claim;
    for (retried = 0;; retried = 1) {
        if (!dir && !(dir = claim_dir(p, datadir))) {
            return APR_FROM_OS_ERROR(errno);
        }
        t->path = apr_pstrcat(p, dir, "/", hex, NULL);
        fd = open(t->path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd >= 0) {
            break;
        }
        err = errno;
        forget_claim_dir(datadir); /* removed meanwhile? looked up again */
        dir = NULL;
        if (retried || (err != ENOENT && err != ENOTDIR)) {
            return APR_FROM_OS_ERROR(err);
        }
        if (stat(datadir, &st) != 0) {
            return APR_FROM_OS_ERROR(errno);
        }
    }
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    put_le64(buf, claim);
    n = write(fd, buf, sizeof buf); /* at offset 0: the file was just opened */
    err = errno;
    close(fd); /* releases the lock */
    if (n != (ssize_t)sizeof buf) {
        return n < 0 ? APR_FROM_OS_ERROR(err) : APR_EGENERAL;
    }
    *ticket = t;
    return APR_SUCCESS;
}

int as_watch_ticket_current(const as_watch_ticket_t *t)
{
    unsigned char buf[8];
    ssize_t n;
    int fd;

    if (!t || !t->path) {
        return 0;
    }
    fd = open(t->path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return 0;
    }
    while (flock(fd, LOCK_SH) != 0 && errno == EINTR) {
    }
    n = pread(fd, buf, sizeof buf, 0);
    close(fd);
    return n == (ssize_t)sizeof buf && get_le64(buf) == t->claim;
}
