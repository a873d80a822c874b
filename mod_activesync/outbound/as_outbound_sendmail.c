/* The sendmail backend: runs the host MTA's sendmail program without a
 * shell, the message on its standard input, with a bounded wait. */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_outbound.h"

#define MAX_COMMAND_WORDS 32

typedef struct {
    const char **argv; /* the configured words, NULL-terminated */
    int nwords;
    int timeout_ms;
} sendmail_ctx_t;

static char *const child_env[] = {"PATH=/usr/sbin:/usr/bin:/sbin:/bin", NULL};

static long long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* An unlinked temporary file holding the message, positioned at 0. */
static int message_file(const char *msg, apr_size_t len)
{
    const char *dir = getenv("TMPDIR");
    char path[512];
    apr_size_t off = 0;
    int fd;

    if (!dir || !*dir || strlen(dir) > 400) {
        dir = "/tmp";
    }
    snprintf(path, sizeof(path), "%s/as-outbound-XXXXXX", dir);
    fd = mkostemp(path, O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    unlink(path);
    while (off < len) {
        ssize_t w = write(fd, msg + off, len - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            close(fd);
            return -1;
        }
        off += (apr_size_t)w;
    }
    if (lseek(fd, 0, SEEK_SET) != 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static pid_t spawn_child(const sendmail_ctx_t *c, apr_pool_t *p, const char *sender,
                         const apr_array_header_t *rcpts, int in_fd, int out_fd)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t none, all;
    const char **argv;
    int i, n = 0, rc;
    pid_t pid = -1;

    argv = apr_pcalloc(p, sizeof(*argv) * (size_t)(c->nwords + 4 + rcpts->nelts));
    for (i = 0; i < c->nwords; i++) {
        argv[n++] = c->argv[i];
    }
    argv[n++] = "-f";
    argv[n++] = sender;
    argv[n++] = "--";
    for (i = 0; i < rcpts->nelts; i++) {
        argv[n++] = APR_ARRAY_IDX(rcpts, i, const char *);
    }
    argv[n] = NULL;
    if (posix_spawn_file_actions_init(&fa) != 0) {
        return -1;
    }
    if (posix_spawnattr_init(&attr) != 0) {
        posix_spawn_file_actions_destroy(&fa);
        return -1;
    }
    /* The child starts clean: httpd's threads block and ignore signals. */
    sigemptyset(&none);
    sigfillset(&all);
    posix_spawnattr_setsigmask(&attr, &none);
    posix_spawnattr_setsigdefault(&attr, &all);
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    posix_spawn_file_actions_adddup2(&fa, in_fd, 0);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 1);
    posix_spawn_file_actions_adddup2(&fa, out_fd, 2);
    rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv, child_env);
    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? pid : -1;
}

/* Reads the child's output (keeping the first bytes) until EOF and its
 * exit, or the deadline.  Returns 1 and *status when it exited. */
static int collect(pid_t pid, int fd, long long deadline, char *buf, size_t cap, size_t *used,
                   int *status)
{
    int open_fd = 1;

    for (;;) {
        long long left = deadline - now_ms();
        pid_t w;

        if (!open_fd) {
            w = waitpid(pid, status, WNOHANG);
            if (w == pid) {
                return 1;
            }
        }
        if (left <= 0) {
            return 0;
        }
        if (open_fd) {
            struct pollfd pfd = {fd, POLLIN, 0};
            int r = poll(&pfd, 1, (int)(left > 1000 ? 1000 : left));
            if (r > 0) {
                char tmp[4096];
                ssize_t got = read(fd, tmp, sizeof(tmp));
                if (got > 0) {
                    size_t keep = cap - *used < (size_t)got ? cap - *used : (size_t)got;
                    memcpy(buf + *used, tmp, keep);
                    *used += keep;
                } else if (got == 0 || (errno != EINTR && errno != EAGAIN)) {
                    open_fd = 0;
                }
            }
        } else {
            /* The output closed before the exit: poll the exit briefly. */
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

static const char *trimmed_words(apr_pool_t *p, const char *buf, size_t n)
{
    char *s = apr_pstrmemdup(p, buf, n), *c;

    for (c = s; *c; c++) {
        if ((unsigned char)*c < ' ' || (unsigned char)*c == 0x7f) {
            *c = ' ';
        }
    }
    while (n > 0 && s[n - 1] == ' ') {
        s[--n] = '\0';
    }
    return s;
}

static as_outbound_result_t sendmail_submit(const as_outbound_t *ob, apr_pool_t *p,
                                            const char *sender, const apr_array_header_t *rcpts,
                                            const char *msg, apr_size_t len, const char **words)
{
    const sendmail_ctx_t *c = ob->ctx;
    char buf[AS_OUTBOUND_MAX_WORDS];
    size_t used = 0;
    int in_fd, pipefd[2], status = 0, exited;
    pid_t pid;

    if (!as_outbound_address_ok(sender) || !rcpts || rcpts->nelts < 1 ||
        rcpts->nelts > AS_OUTBOUND_MAX_RECIPIENTS) {
        *words = "invalid envelope";
        return AS_OUTBOUND_REFUSED;
    }
    for (int i = 0; i < rcpts->nelts; i++) {
        if (!as_outbound_address_ok(APR_ARRAY_IDX(rcpts, i, const char *))) {
            *words = "invalid recipient address";
            return AS_OUTBOUND_REFUSED;
        }
    }
    in_fd = message_file(msg, len);
    if (in_fd < 0) {
        *words =
            apr_psprintf(p, "cannot write the message to a temporary file: %s", strerror(errno));
        return AS_OUTBOUND_REFUSED;
    }
    if (pipe2(pipefd, O_CLOEXEC) != 0) {
        close(in_fd);
        *words = "cannot create a pipe";
        return AS_OUTBOUND_REFUSED;
    }
    pid = spawn_child(c, p, sender, rcpts, in_fd, pipefd[1]);
    close(in_fd);
    close(pipefd[1]);
    if (pid < 0) {
        close(pipefd[0]);
        *words = apr_psprintf(p, "cannot run %s", c->argv[0]);
        return AS_OUTBOUND_REFUSED;
    }
    exited = collect(pid, pipefd[0], now_ms() + c->timeout_ms, buf, sizeof(buf), &used, &status);
    close(pipefd[0]);
    if (!exited) {
        kill(pid, SIGKILL);
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        *words = apr_psprintf(p, "%s did not finish within %d s%s%s", c->argv[0],
                              c->timeout_ms / 1000, used ? ": " : "", trimmed_words(p, buf, used));
        return AS_OUTBOUND_TIMEOUT;
    }
    *words = trimmed_words(p, buf, used);
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return AS_OUTBOUND_OK;
    }
    *words = apr_psprintf(
        p, "%s %s %d%s%s", c->argv[0], WIFEXITED(status) ? "exited with" : "killed by signal",
        WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status), used ? ": " : "", *words);
    return AS_OUTBOUND_REFUSED;
}

const as_outbound_t *as_outbound_sendmail(apr_pool_t *p, const char *command, int timeout_seconds)
{
    sendmail_ctx_t *c = apr_pcalloc(p, sizeof(*c));
    as_outbound_t *ob = apr_pcalloc(p, sizeof(*ob));
    char *copy, *tok, *last;

    c->argv = apr_pcalloc(p, sizeof(*c->argv) * (MAX_COMMAND_WORDS + 1));
    copy = apr_pstrdup(p, command ? command : "");
    for (tok = apr_strtok(copy, " \t", &last); tok; tok = apr_strtok(NULL, " \t", &last)) {
        if (c->nwords == MAX_COMMAND_WORDS) {
            return NULL;
        }
        c->argv[c->nwords++] = tok;
    }
    if (c->nwords == 0) {
        return NULL;
    }
    c->timeout_ms = (timeout_seconds > 0 ? timeout_seconds : AS_OUTBOUND_DEFAULT_TIMEOUT) * 1000;
    ob->submit = sendmail_submit;
    ob->ctx = c;
    return ob;
}
