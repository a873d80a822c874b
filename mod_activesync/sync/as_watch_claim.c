/* Push claims: per-(account, device) files in DATADIR/push whose value
 * says which request of the device is the newest (as_watch.h, SUPERSEDE). */
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

apr_status_t as_watch_claim(apr_pool_t *p, const char *datadir, const char *account,
                            const char *device, as_watch_ticket_t **ticket)
{
    unsigned char md[EVP_MAX_MD_SIZE], buf[8];
    unsigned int mdlen = 0, i;
    char hex[33];
    const char *dir, *key;
    as_watch_ticket_t *t;
    apr_uint64_t claim = 0;
    int fd;
    ssize_t n;

    if (!datadir || !account || !device || !ticket) {
        return APR_EINVAL;
    }
    key = apr_pstrcat(p, account, "\n", device, NULL);
    if (!EVP_Digest(key, strlen(key), md, &mdlen, EVP_sha256(), NULL) || mdlen < 16) {
        return APR_EGENERAL;
    }
    for (i = 0; i < 16; i++) {
        static const char hx[] = "0123456789abcdef";
        hex[2 * i] = hx[md[i] >> 4];
        hex[2 * i + 1] = hx[md[i] & 15];
    }
    hex[32] = '\0';
    dir = apr_pstrcat(p, datadir, "/push", NULL);
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
    fd = open(t->path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
    }
    put_le64(buf, claim);
    n = pwrite(fd, buf, sizeof buf, 0);
    i = (unsigned)errno;
    close(fd); /* releases the lock */
    if (n != (ssize_t)sizeof buf) {
        return n < 0 ? APR_FROM_OS_ERROR((int)i) : APR_EGENERAL;
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
