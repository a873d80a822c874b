/* Maildir info letters: the standard flags (md_flags_of) and keywords as
 * Dovecot keeps them: the folder's dovecot-keywords
 * file maps the letters a..z of a file's info ("…:2,Sa") to keyword names,
 * one "N name" line each (N 0..25 = 'a' + N).  Only $Forwarded is used
 * (AS_STORE_FORWARDED).  A new mapping is written as Dovecot writes one:
 * the new contents go into dovecot-keywords.lock, created exclusively (the
 * same dot-lock Dovecot takes), which is then renamed over the file, so
 * existing keywords are kept and a reader never sees half a file. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>

#include "md_internal.h"

unsigned md_flags_of(const char *name)
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

#define KW_FILE      "dovecot-keywords"
#define KW_LOCK      "dovecot-keywords.lock"
#define KW_LETTERS   26
#define KW_MAX_BYTES 65536
#define KW_NAME_MAX  255
#define KW_STALE_SEC 30 /* Dovecot's dotlock default: an older lock is left by a crash */
#define KW_TRIES     200

/* names[N] of the folder's file (NULL: free); 0, or -1 when it cannot be
 * read (an absent file maps nothing). */
static int kw_read(const char *dir, apr_pool_t *p, const char **names)
{
    char *buf = apr_palloc(p, KW_MAX_BYTES + 1), *line, *save = NULL;
    int fd = open(apr_pstrcat(p, dir, "/" KW_FILE, NULL), O_RDONLY | O_CLOEXEC);
    ssize_t n;
    size_t len = 0;

    memset(names, 0, sizeof(*names) * KW_LETTERS);
    if (fd < 0) {
        return errno == ENOENT ? 0 : -1;
    }
    while (len < KW_MAX_BYTES && (n = read(fd, buf + len, KW_MAX_BYTES - len)) != 0) {
        if (n < 0 && errno != EINTR) {
            close(fd);
            return -1;
        }
        len += n > 0 ? (size_t)n : 0;
    }
    close(fd);
    buf[len] = '\0';
    for (line = apr_strtok(buf, "\n", &save); line; line = apr_strtok(NULL, "\n", &save)) {
        char *end;
        long idx = strtol(line, &end, 10);
        if (end != line && *end == ' ' && idx >= 0 && idx < KW_LETTERS && end[1] &&
            strlen(end + 1) <= KW_NAME_MAX) {
            names[idx] = end + 1;
        }
    }
    return 0;
}

char md_keyword_letter(const char *dir, const char *name, apr_pool_t *p)
{
    const char *names[KW_LETTERS];
    int i;

    if (kw_read(dir, p, names) != 0) {
        return 0;
    }
    for (i = 0; i < KW_LETTERS; i++) {
        if (names[i] && !strcmp(names[i], name)) {
            return (char)('a' + i);
        }
    }
    return 0;
}

/* Take the dot-lock: its fd, or -1 (errno EBUSY when held too long). */
static int kw_lock(const char *lock)
{
    struct timespec pause = {0, 5 * 1000 * 1000};
    int i;

    for (i = 0; i < KW_TRIES; i++) {
        struct stat sb;
        int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
        if (fd >= 0 || errno != EEXIST) {
            return fd;
        }
        if (stat(lock, &sb) == 0 && sb.st_mtime + KW_STALE_SEC < time(NULL)) {
            unlink(lock);
            continue;
        }
        nanosleep(&pause, NULL); /* another writer for a few ms: wait, bounded */
    }
    errno = EBUSY;
    return -1;
}

apr_status_t md_keyword_add(const char *dir, const char *name, apr_pool_t *p, char *letter)
{
    const char *lock = apr_pstrcat(p, dir, "/" KW_LOCK, NULL), *names[KW_LETTERS];
    char *text = "";
    int fd, i, free_idx = -1;
    apr_status_t rv = APR_SUCCESS;

    *letter = 0;
    if ((fd = kw_lock(lock)) < 0) {
        return md_errno_status();
    }
    if (kw_read(dir, p, names) != 0) {
        rv = md_errno_status();
    }
    for (i = 0; rv == APR_SUCCESS && i < KW_LETTERS; i++) {
        if (names[i] && !strcmp(names[i], name)) {
            *letter = (char)('a' + i); /* added meanwhile */
        } else if (!names[i] && free_idx < 0) {
            free_idx = i;
        }
        if (names[i]) {
            text = apr_psprintf(p, "%s%d %s\n", text, i, names[i]);
        }
    }
    if (rv == APR_SUCCESS && !*letter) {
        if (free_idx < 0) {
            rv = APR_ENOSPC; /* 26 keywords already */
        } else {
            text = apr_psprintf(p, "%s%d %s\n", text, free_idx, name);
            if (write(fd, text, strlen(text)) != (ssize_t)strlen(text) || fsync(fd) != 0 ||
                rename(lock, apr_pstrcat(p, dir, "/" KW_FILE, NULL)) != 0) {
                rv = md_errno_status();
            } else {
                *letter = (char)('a' + free_idx);
                close(fd);
                return APR_SUCCESS;
            }
        }
    }
    close(fd);
    unlink(lock);
    return rv;
}

unsigned md_flags_with(const char *name, char fwd_letter)
{
    const char *info = strstr(name, ":2,");
    unsigned fl = md_flags_of(name);

    if (fwd_letter && info && strchr(info + 3, fwd_letter)) {
        fl |= AS_STORE_FORWARDED;
    }
    return fl;
}
