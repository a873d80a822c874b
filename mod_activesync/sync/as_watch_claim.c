/* Push claims: per-(account, device) files whose value says which request
 * of the device is the newest (as_watch.h, SUPERSEDE), kept on the memory
 * file system so that a request never writes to the disk for them. */
#include <errno.h>
#include <fcntl.h>
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

/* The first 2*n hex digits of SHA-256(text) into hex (2*n+1 bytes). */
static int sha_hex(const char *text, char *hex, unsigned n)
{
    static const char hx[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0, i;

    if (!EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) || mdlen < n) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        hex[2 * i] = hx[md[i] >> 4];
        hex[2 * i + 1] = hx[md[i] & 15];
    }
    hex[2 * n] = '\0';
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
 * (no /dev/shm, or its directory is not ours). */
static const char *claim_dir(apr_pool_t *p, const char *datadir)
{
    char hex[33];
    const char *base;

    if (sha_hex(datadir, hex, 8)) {
        base = apr_pstrcat(p, AS_WATCH_CLAIM_SHM, "/mod_activesync-", hex, NULL);
        if (own_dir(base) && own_dir(apr_pstrcat(p, base, "/push", NULL))) {
            return apr_pstrcat(p, base, "/push", NULL);
        }
    }
    return apr_pstrcat(p, datadir, "/push", NULL);
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
    int fd, err;
    ssize_t n;

    if (!datadir || !account || !device || !ticket) {
        return APR_EINVAL;
    }
    if (!sha_hex(apr_pstrcat(p, account, "\n", device, NULL), hex, 16)) {
        return APR_EGENERAL;
    }
    if (stat(datadir, &st) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    dir = claim_dir(p, datadir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        return APR_FROM_OS_ERROR(errno);
    }
    while (claim == 0) {
        if (RAND_bytes(buf, sizeof buf) != 1) {
            return APR_EGENERAL;
        }
        claim = get_le64(buf);
    }
    t = apr_pcalloc(p, sizeof(*t));
    t->path = apr_pstrcat(p, dir, "/", hex, NULL);
    t->claim = claim;
    fd = open(t->path, O_WRONLY | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
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
