/* Maildir backend helpers: errno, clocks, the root lock, unique Maildir
 * names, change tokens (as_store.h CHANGE TOKENS). */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_internal.h"

apr_status_t md_errno_status(void)
{
    return errno ? APR_FROM_OS_ERROR(errno) : APR_EGENERAL;
}

void md_log_errno(md_store_t *md, apr_status_t rv, const char *what, const char *path)
{
    as_log(md->pub.log, AS_LOG_MARK, AS_LOG_ERR, rv, "maildir %s: %s %s", md->pub.account, what,
           path);
}

int md_is_dir_at(int dfd, const char *name)
{
    struct stat sb;
    return fstatat(dfd, name, &sb, 0) == 0 && S_ISDIR(sb.st_mode);
}

int64_t md_ts_ns(const struct timespec *ts)
{
    return (int64_t)ts->tv_sec * 1000000000LL + ts->tv_nsec;
}

int64_t md_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return md_ts_ns(&ts);
}

/* flock() of the root directory: serialises map updates and folder
 * renames between threads and processes (each call opens its own fd). */
int md_lock(md_store_t *md)
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

void md_unlock(int fd)
{
    if (fd >= 0) {
        close(fd); /* releases the flock */
    }
}

/* Unique Maildir base name (time.MusecPpidQn_Rrand.host,S=size). */
const char *md_unique_name(apr_pool_t *p, apr_size_t size)
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

const char *md_token_of(apr_pool_t *p, const struct stat *a, const struct stat *b)
{
    int64_t now = md_now_ns(), ma = md_ts_ns(&a->st_mtim), mb = b ? md_ts_ns(&b->st_mtim) : 0;
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

apr_status_t md_stat_pair(const md_folder_t *f, apr_pool_t *p, struct stat *sn, struct stat *sc)
{
    if (stat(apr_pstrcat(p, f->dir, "/cur", NULL), sc) != 0) {
        return errno == ENOENT || errno == ENOTDIR ? APR_ENOENT : md_errno_status();
    }
    if (stat(apr_pstrcat(p, f->dir, "/new", NULL), sn) != 0) {
        if (errno != ENOENT) {
            return md_errno_status();
        }
        memset(sn, 0, sizeof *sn); /* new/ missing: count as empty */
    }
    return APR_SUCCESS;
}
