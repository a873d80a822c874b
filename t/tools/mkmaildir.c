/* mkmaildir -- write a Maildir++ tree that looks like a real mailbox, for
 * end-to-end tests and benchmarks.
 *
 *   mkmaildir DIR [COUNT] [--large]
 *
 * DIR gets INBOX with the test corpus of t/unit/mailgen.h (multipart/
 * alternative, attachments and inline images, a nested message, encoded
 * words, ISO-8859-1/15 and Windows-1252 bodies, broken MIME, HTML only, a
 * calendar invitation, S/MIME signed, unknown charset, CJK) plus COUNT
 * (default 0) plain messages, one in ten still in new/, a third flagged,
 * the rest seen; and the folders Sent, Drafts, Trash, Junk, Work,
 * Work.Projects and Entw&APw-rfe ("Entwürfe") with a few messages each.
 * --large adds a message with a 10 MB attachment.  File mtimes are the
 * delivery times (one minute apart, ending now).  Prints the number of
 * messages written per folder. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "mailgen.h"

#define MAX_COUNT 1000000

static unsigned seq;

static void put(const char *fdir, const char *sub, const char *info, char *m, size_t len, time_t t)
{
    char name[256];
    if (mg_deliver(fdir, sub, ++seq, info, m, len, t, name) != 0) {
        perror(fdir);
        exit(1);
    }
    free(m);
}

/* the generator runs before len is read */
#define PUT(dir, sub, info, expr, when)                                                            \
    do {                                                                                           \
        char *m_ = (expr);                                                                         \
        put((dir), (sub), (info), m_, len, (when));                                                \
    } while (0)

int main(int argc, char **argv)
{
    const char *root;
    long count = 0, i;
    int large = 0, a;
    time_t now = time(NULL), t;
    size_t len;
    char sub[4096];
    static const char *const folders[] = {"Sent", "Drafts",        "Trash",       "Junk",
                                          "Work", "Work.Projects", "Entw&APw-rfe"};

    if (argc < 2) {
        fprintf(stderr, "usage: %s DIR [COUNT] [--large]\n", argv[0]);
        return 2;
    }
    root = argv[1];
    for (a = 2; a < argc; a++) {
        if (!strcmp(argv[a], "--large")) {
            large = 1;
        } else {
            char *end;
            errno = 0;
            count = strtol(argv[a], &end, 10);
            /* the cap keeps the message numbers ((unsigned)i) in range */
            if (errno || end == argv[a] || *end || count < 0 || count > MAX_COUNT) {
                fprintf(stderr, "%s: COUNT must be 0..%d\n", argv[0], MAX_COUNT);
                return 2;
            }
        }
    }
    mg_folder(root, "");
    t = now - (time_t)(count + 40) * 60;
    PUT(root, "cur", "2,S", mg_msg_plain(&len, 0), t += 60);
    PUT(root, "new", NULL, mg_msg_alternative(&len), t += 60);
    PUT(root, "cur", "2,FS", mg_msg_attach(&len), t += 60);
    PUT(root, "cur", "2,S", mg_msg_nested(&len), t += 60);
    PUT(root, "new", NULL, mg_msg_latin1(&len), t += 60);
    PUT(root, "cur", "2,", mg_msg_latin9(&len), t += 60);
    PUT(root, "cur", "2,S", mg_msg_cp1252(&len, 0), t += 60);
    PUT(root, "cur", "2,S", mg_msg_cp1252(&len, 1), t += 60);
    PUT(root, "cur", "2,S", mg_msg_broken_mime(&len), t += 60);
    PUT(root, "cur", "2,S", mg_msg_broken_headers(&len), t += 60);
    PUT(root, "new", NULL, mg_msg_html_only(&len), t += 60);
    PUT(root, "new", NULL, mg_msg_invite(&len), t += 60);
    PUT(root, "cur", "2,S", mg_msg_signed(&len), t += 60);
    PUT(root, "cur", "2,S", mg_msg_unknown_charset(&len), t += 60);
    PUT(root, "cur", "2,RS", mg_msg_cjk(&len), t += 60);
    if (large) {
        PUT(root, "cur", "2,S", mg_msg_large(&len, 10 * 1024 * 1024), t += 60);
    }
    for (i = 0; i < count; i++) {
        t += 60;
        PUT(root, i % 10 == 0 ? "new" : "cur", i % 10 == 0 ? NULL : (i % 3 == 0 ? "2,FS" : "2,S"),
            mg_msg_plain(&len, (unsigned)i), t);
    }
    printf("INBOX %ld\n", 15 + large + count);
    for (a = 0; a < (int)(sizeof folders / sizeof folders[0]); a++) {
        mg_folder(root, folders[a]);
        snprintf(sub, sizeof sub, "%s/.%s", root, folders[a]);
        PUT(sub, "cur", "2,S", mg_msg_plain(&len, 1000u + (unsigned)a), now - 3600);
        PUT(sub, "cur", "2,S", mg_msg_alternative(&len), now - 3000);
        printf("%s 2\n", folders[a]);
    }
    return 0;
}
