/* Work on the data directory without an open handle: ownership for the
 * root parent, recovery while nobody is attached, and which processes are
 * attached (as_db.h). */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_info.h>
#include <apr_file_io.h>
#include <apr_strings.h>

#include "as_db_private.h"

apr_status_t as_db_prepare_home(apr_pool_t *p, const char *path, uid_t uid, gid_t gid,
                                const char **msg)
{
    apr_status_t rv;
    struct stat st;
    DIR *dir;
    struct dirent *de;

    *msg = NULL;
    rv = apr_dir_make_recursive(path,
                                APR_FPROT_UREAD | APR_FPROT_UWRITE | APR_FPROT_UEXECUTE |
                                    APR_FPROT_GREAD | APR_FPROT_GEXECUTE,
                                p);
    if (rv != APR_SUCCESS) {
        *msg = apr_psprintf(p, "cannot create data directory %s", path);
        return rv;
    }
    if (stat(path, &st) != 0 || !S_ISDIR(st.st_mode)) {
        *msg = apr_psprintf(p, "%s is not a directory", path);
        return errno ? APR_FROM_OS_ERROR(errno) : APR_ENOTDIR;
    }
    if (uid == (uid_t)-1 && gid == (gid_t)-1) {
        return APR_SUCCESS;
    }
    if ((uid != (uid_t)-1 && st.st_uid != uid) || (gid != (gid_t)-1 && st.st_gid != gid)) {
        if (chown(path, uid, gid) != 0) {
            rv = APR_FROM_OS_ERROR(errno);
            *msg = apr_psprintf(p, "cannot give data directory %s to uid %ld gid %ld", path,
                                (long)uid, (long)gid);
            return rv;
        }
    }
    dir = opendir(path);
    if (!dir) {
        rv = APR_FROM_OS_ERROR(errno);
        *msg = apr_psprintf(p, "cannot read data directory %s", path);
        return rv;
    }
    while ((de = readdir(dir)) != NULL) {
        const char *f;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        f = apr_pstrcat(p, path, "/", de->d_name, NULL);
        if (lstat(f, &st) != 0) {
            continue;
        }
        if ((uid != (uid_t)-1 && st.st_uid != uid) || (gid != (gid_t)-1 && st.st_gid != gid)) {
            if (lchown(f, uid, gid) != 0) {
                rv = APR_FROM_OS_ERROR(errno);
                *msg =
                    apr_psprintf(p, "cannot give %s to uid %ld gid %ld", f, (long)uid, (long)gid);
                closedir(dir);
                return rv;
            }
        }
    }
    closedir(dir);
    return APR_SUCCESS;
}

/* A handle for work on an environment nobody has open: its home, the
 * default options and the caller's logger (NULL: silent). */
static void offline_handle(as_db_t *tmp, const char *home, const as_logger_t *lg)
{
    memset(tmp, 0, sizeof(*tmp));
    tmp->home = (char *)home;
    as_db_options_default(&tmp->opt);
    if (lg) {
        tmp->lg = *lg;
    }
}

/* Recovery with the open lock (fd) held, which it then releases. */
static apr_status_t recover_and_unlock(as_db_t *tmp, int fd)
{
    int rc = as_db_force_recovery(tmp);

    as_db_unlock_open_file(fd);
    if (rc != 0) {
        as_log(&tmp->lg, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS, "recovery of %s failed: %s",
               tmp->home, db_strerror(rc));
        return rc > 0 ? APR_FROM_OS_ERROR(rc) : AS_DB_EFAIL;
    }
    return APR_SUCCESS;
}

apr_status_t as_db_recover_offline(const char *home, const as_logger_t *lg)
{
    as_db_t tmp;
    int fd;

    offline_handle(&tmp, home, lg);
    fd = as_db_lock_open_file(&tmp, 6000);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(-fd);
    }
    return recover_and_unlock(&tmp, fd);
}

/* ---- who is attached ------------------------------------------------------- */

#define REGISTER_FILE     "__db.register"
#define REGISTER_MAX_SCAN (1024 * 1024) /* bytes of __db.register examined */

static int add_pid(pid_t *out, size_t max, size_t *n, pid_t pid)
{
    size_t i;
    for (i = 0; i < *n; i++) {
        if (out[i] == pid) {
            return 0;
        }
    }
    if (*n < max) {
        out[(*n)++] = pid;
    }
    return 1;
}

/* Every process holding an fcntl lock on some byte of `path`.  F_GETLK
 * names one conflicting lock per query, not necessarily the lowest, so the
 * file is walked one byte at a time, jumping over each lock found. */
static void lock_holders(const char *path, pid_t *out, size_t max, size_t *n)
{
    struct stat sb;
    off_t off = 0, end;
    int fd = open(path, O_RDONLY | O_CLOEXEC);

    if (fd < 0) {
        return;
    }
    /* Read-only: F_GETLK with F_WRLCK still reports every lock (a read lock
     * conflicts with a write lock); we take none, so closing drops nothing. */
    end = fstat(fd, &sb) == 0 ? sb.st_size : 0;
    if (end < 1) {
        end = 1; /* as_open.lock is empty: its lock covers offset 0 onwards */
    }
    if (end > REGISTER_MAX_SCAN) {
        end = REGISTER_MAX_SCAN;
    }
    while (off < end) {
        struct flock fl;
        memset(&fl, 0, sizeof(fl));
        fl.l_type = F_WRLCK;
        fl.l_whence = SEEK_SET;
        fl.l_start = off;
        fl.l_len = 1;
        if (fcntl(fd, F_GETLK, &fl) != 0) {
            break;
        }
        if (fl.l_type == F_UNLCK) {
            off++;
            continue;
        }
        add_pid(out, max, n, fl.l_pid);
        if (fl.l_len == 0) {
            break; /* to the end of the file */
        }
        off = fl.l_start + fl.l_len > off ? fl.l_start + fl.l_len : off + 1;
    }
    close(fd);
}

size_t as_db_attached(const char *home, pid_t *out, size_t max)
{
    char path[PATH_MAX];
    size_t n = 0;

    apr_snprintf(path, sizeof(path), "%s/%s", home, REGISTER_FILE);
    lock_holders(path, out, max, &n);
    apr_snprintf(path, sizeof(path), "%s/%s", home, OPEN_LOCK_FILE);
    lock_holders(path, out, max, &n);
    return n;
}

apr_status_t as_db_recover_detached(const char *home, const as_logger_t *lg, pid_t *attached)
{
    as_db_t tmp;
    char path[PATH_MAX];
    pid_t pids[1];
    size_t n = 0;
    int fd;

    *attached = 0;
    offline_handle(&tmp, home, lg);
    /* Holding the open lock, no process can register meanwhile: every
     * opener (children, activesync-admin) takes it first. */
    fd = as_db_lock_open_file(&tmp, 1000);
    if (fd < 0) {
        return APR_FROM_OS_ERROR(-fd);
    }
    apr_snprintf(path, sizeof(path), "%s/%s", home, REGISTER_FILE);
    lock_holders(path, pids, 1, &n);
    if (n > 0) {
        as_db_unlock_open_file(fd);
        *attached = pids[0];
        return APR_EBUSY;
    }
    return recover_and_unlock(&tmp, fd);
}

int as_db_gate_opens(const char *home)
{
    char path[PATH_MAX];
    struct flock fl;
    int fd;

    apr_snprintf(path, sizeof(path), "%s/%s", home, GATE_FILE);
    /* 0644: openers running as another user only read-lock-test it. */
    fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return -errno;
    }
    memset(&fl, 0, sizeof(fl));
    fl.l_type = F_WRLCK;
    fl.l_whence = SEEK_SET;
    if (fcntl(fd, F_SETLK, &fl) != 0) {
        int e = errno;
        close(fd);
        return -e;
    }
    return fd;
}

void as_db_ungate_opens(int fd)
{
    if (fd >= 0) {
        close(fd); /* releases the lock */
    }
}
