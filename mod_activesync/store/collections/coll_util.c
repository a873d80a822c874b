/* Collection store helpers: errno, clocks, digests, random names,
 * Radicale's storage lock, atomic writes, change tokens, reading files. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>
#include <openssl/evp.h>
#include <openssl/rand.h>

#include "coll_internal.h"

apr_status_t coll_errno_status(void)
{
    return errno ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
}

void coll_log(coll_store_t *cs, int level, apr_status_t rv, const char *fmt, ...)
{
    char msg[1024];
    va_list ap;

    va_start(ap, fmt);
    apr_vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    as_log(cs->pub.log, AS_LOG_MARK, level, rv, "collections %s: %s", cs->pub.account, msg);
}

int64_t coll_ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

int64_t coll_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return coll_ts_ns(&ts);
}

void coll_sha256_hex(const void *data, apr_size_t len, char out[COLL_ETAG_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0, i;

    if (EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        memset(md, 0, sizeof md); /* cannot happen with OpenSSL's SHA-256 */
        n = 32;
    }
    for (i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
}

const char *coll_random_name(apr_pool_t *p)
{
    unsigned char b[16];

    if (RAND_bytes(b, sizeof b) != 1) {
        apr_generate_random_bytes(b, sizeof b);
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* a version 4 UUID, as CardDAV clients make */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
    return apr_psprintf(p, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x",
                        b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11],
                        b[12], b[13], b[14], b[15]);
}

/* Radicale's RwLock: flock() on .Radicale.lock of the storage folder,
 * shared for readers, exclusive for writers.  Radicale blocks; we poll so
 * that a stuck holder costs a bounded wait and a log line, not a thread. */
int coll_lock(coll_store_t *cs, apr_status_t *rv)
{
    int fd;
    apr_time_t deadline = apr_time_now() + cs->lock_wait;
    apr_interval_time_t pause = 1000;

    if (cs->lock_depth > 0) { /* this handle holds it already */
        cs->lock_depth++;
        *rv = APR_SUCCESS;
        return cs->lock_fd;
    }
    fd = open(cs->lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0660);
    if (fd < 0) {
        *rv = coll_errno_status();
        coll_log(cs, AS_LOG_ERR, *rv, "cannot open the storage lock %s", cs->lock_path);
        return -1;
    }
    for (;;) {
        if (flock(fd, LOCK_EX | LOCK_NB) == 0) {
            *rv = APR_SUCCESS;
            cs->lock_fd = fd;
            cs->lock_depth = 1;
            return fd;
        }
        if (errno != EWOULDBLOCK && errno != EINTR) {
            *rv = coll_errno_status();
            close(fd);
            coll_log(cs, AS_LOG_ERR, *rv, "cannot lock %s", cs->lock_path);
            return -1;
        }
        if (apr_time_now() >= deadline) {
            close(fd);
            *rv = APR_TIMEUP;
            coll_log(cs, AS_LOG_WARNING, *rv,
                     "the storage lock %s is held too long by another "
                     "program (Radicale?): write given up",
                     cs->lock_path);
            return -1;
        }
        apr_sleep(pause);
        pause = pause < 50000 ? pause * 2 : 50000;
    }
}

void coll_unlock(coll_store_t *cs, int fd)
{
    if (fd >= 0 && fd == cs->lock_fd && --cs->lock_depth == 0) {
        close(fd); /* releases the flock */
        cs->lock_fd = -1;
    }
}

static int write_all(int fd, const char *data, apr_size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, data, len);
        if (n < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        data += n;
        len -= (apr_size_t)n;
    }
    return 0;
}

apr_status_t coll_write_file(coll_store_t *cs, const char *dir, const char *name, const void *data,
                             apr_size_t len, int replace, apr_pool_t *p)
{
    const char *tmp = apr_pstrcat(p, dir, "/" COLL_TMP_PREFIX, coll_random_name(p), NULL);
    const char *dst = apr_pstrcat(p, dir, "/", name, NULL);
    apr_status_t rv;
    int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0664);

    if (fd < 0) {
        rv = coll_errno_status();
        coll_log(cs, AS_LOG_ERR, rv, "cannot create %s", tmp);
        return rv;
    }
    if (write_all(fd, data, len) != 0 || fsync(fd) != 0) {
        rv = coll_errno_status();
        close(fd);
        unlink(tmp);
        coll_log(cs, AS_LOG_ERR, rv, "cannot write %s", tmp);
        return rv;
    }
    close(fd);
    if ((replace ? rename(tmp, dst) : as_store_rename_noreplace(tmp, dst)) != 0) {
        rv = errno == EEXIST ? APR_EEXIST : coll_errno_status();
        unlink(tmp);
        if (rv != APR_EEXIST) {
            coll_log(cs, AS_LOG_ERR, rv, "cannot rename into %s", dst);
        }
        return rv;
    }
    as_store_fsync_dir(dir);
    return APR_SUCCESS;
}

const char *coll_dir_token(apr_pool_t *p, const struct stat *sb)
{
    int64_t m = coll_ts_ns(&sb->st_mtim);
    int unsettled = m > coll_now_ns() - COLL_SETTLE_NS;

    return apr_psprintf(p, "c%" APR_UINT64_T_HEX_FMT ".%" APR_INT64_T_FMT "%s",
                        (apr_uint64_t)sb->st_ino, (apr_int64_t)m, unsettled ? "!" : "");
}

apr_status_t coll_remove_tree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    apr_status_t rv = APR_SUCCESS;
    int dfd;

    if (!d) {
        return coll_errno_status();
    }
    dfd = dirfd(d);
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        if (fstatat(dfd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode)) {
            char sub[4096];
            if (snprintf(sub, sizeof sub, "%s/%s", path, de->d_name) >= (int)sizeof sub) {
                rv = APR_ENAMETOOLONG;
                continue;
            }
            if (coll_remove_tree(sub) != APR_SUCCESS) {
                rv = APR_EGENERAL;
            }
        } else if (unlinkat(dfd, de->d_name, 0) != 0 && errno != ENOENT) {
            rv = coll_errno_status();
        }
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT) {
        rv = coll_errno_status();
    }
    return rv;
}

apr_status_t coll_read_file(const char *path, apr_off_t max, apr_pool_t *p, char **data,
                            apr_size_t *len, struct stat *sb)
{
    int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    apr_size_t got = 0;
    char *buf;

    if (fd < 0) {
        return errno == ELOOP ? APR_EINVAL : coll_errno_status();
    }
    if (fstat(fd, sb) != 0) {
        apr_status_t rv = coll_errno_status();
        close(fd);
        return rv;
    }
    if (!S_ISREG(sb->st_mode) || sb->st_size > max) {
        close(fd);
        return S_ISREG(sb->st_mode) ? APR_FROM_OS_ERROR(E2BIG) : APR_EINVAL;
    }
    buf = apr_palloc(p, (apr_size_t)sb->st_size + 1);
    while (got < (apr_size_t)sb->st_size) {
        ssize_t n = read(fd, buf + got, (apr_size_t)sb->st_size - got);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break; /* shrunk meanwhile: what is there */
        }
        got += (apr_size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    *data = buf;
    *len = got;
    return APR_SUCCESS;
}

/* Our temporary files and directories are renamed into place (or removed)
 * within moments; one an hour old was left by a crash. */
void coll_drop_stale(coll_store_t *cs, int dfd, const char *dir, const char *name)
{
    struct stat sb;
    char path[4096];

    if (strncmp(name, COLL_TMP_PREFIX, sizeof COLL_TMP_PREFIX - 1) ||
        fstatat(dfd, name, &sb, AT_SYMLINK_NOFOLLOW) != 0 ||
        coll_ts_ns(&sb.st_mtim) > coll_now_ns() - COLL_STALE_NS) {
        return;
    }
    apr_snprintf(path, sizeof path, "%s/%s", dir, name);
    coll_log(cs, AS_LOG_NOTICE, 0, "removing %s, left by an interrupted write", path);
    if (S_ISDIR(sb.st_mode)) {
        coll_remove_tree(path);
    } else {
        unlinkat(dfd, name, 0);
    }
}
