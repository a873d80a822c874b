/* Generated Maildirs for the tests (test_maildir.c, test_mime.c) and the
 * t/tools/mkmaildir program: Maildir++ trees as Postfix/Dovecot write them
 * and a corpus of messages that look like real mail (multipart/alternative,
 * attachments, inline images, nested messages, encoded words, ISO-8859 and
 * Windows-1252 bodies, calendar invitations, S/MIME, broken MIME, large
 * attachments).  Header-only (static functions), plain libc. */
#ifndef AS_MAILGEN_H
#define AS_MAILGEN_H

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#define MG_FN static __attribute__((unused))

/* A growable string. */
typedef struct mg_buf_t {
    char *s;
    size_t len, cap;
} mg_buf_t;

MG_FN void mg_put(mg_buf_t *b, const void *d, size_t n)
{
    if (b->len + n + 1 > b->cap) {
        size_t nc = b->cap ? b->cap * 2 : 4096;
        while (nc < b->len + n + 1) {
            nc *= 2;
        }
        b->s = realloc(b->s, nc);
        if (!b->s) {
            abort();
        }
        b->cap = nc;
    }
    memcpy(b->s + b->len, d, n);
    b->len += n;
    b->s[b->len] = '\0';
}

MG_FN void mg_puts(mg_buf_t *b, const char *s)
{
    mg_put(b, s, strlen(s));
}

MG_FN void mg_printf(mg_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
MG_FN void mg_printf(mg_buf_t *b, const char *fmt, ...)
{
    char tmp[4096];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    if (n < 0) {
        abort();
    }
    if ((size_t)n < sizeof tmp) {
        mg_put(b, tmp, (size_t)n);
    } else {
        char *big = malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        mg_put(b, big, (size_t)n);
        free(big);
    }
}

/* ---- files and directories ---------------------------------------------- */

MG_FN int mg_mkdir(const char *path)
{
    return mkdir(path, 0700) == 0 || errno == EEXIST ? 0 : -1;
}

MG_FN void mg_maildir(const char *dir)
{
    char p[4096];
    mg_mkdir(dir);
    snprintf(p, sizeof p, "%s/cur", dir);
    mg_mkdir(p);
    snprintf(p, sizeof p, "%s/new", dir);
    mg_mkdir(p);
    snprintf(p, sizeof p, "%s/tmp", dir);
    mg_mkdir(p);
}

/* root/.storage as a Maildir++ folder (storage "" = root). */
MG_FN void mg_folder(const char *root, const char *storage)
{
    char p[4096];
    if (!*storage) {
        mg_maildir(root);
        return;
    }
    snprintf(p, sizeof p, "%s/.%s", root, storage);
    mg_maildir(p);
    snprintf(p, sizeof p, "%s/.%s/maildirfolder", root, storage);
    close(open(p, O_WRONLY | O_CREAT, 0600));
}

MG_FN int mg_write(const char *path, const void *data, size_t len, time_t mtime)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    const char *d = data;
    size_t done = 0;

    if (fd < 0) {
        return -1;
    }
    while (done < len) {
        ssize_t w = write(fd, d + done, len - done);
        if (w <= 0) {
            close(fd);
            return -1;
        }
        done += (size_t)w;
    }
    close(fd);
    if (mtime) {
        struct timeval tv[2];
        tv[0].tv_sec = tv[1].tv_sec = mtime;
        tv[0].tv_usec = tv[1].tv_usec = 0;
        utimes(path, tv);
    }
    return 0;
}

/* Write a message into folder dir (root or root/.X) as sub ("new"/"cur")
 * with a Dovecot-like base name built from seq; info e.g. "2,S" or NULL.
 * The file name (inside sub) is returned in name (size >= 256). */
MG_FN int mg_deliver(const char *fdir, const char *sub, unsigned seq, const char *info,
                     const char *msg, size_t len, time_t mtime, char *name)
{
    char path[4096];
    snprintf(name, 256, "%ld.M%uP%uQ%u.mailhost.example,S=%zu,W=%zu%s%s",
             (long)(mtime ? mtime : 1700000000), seq * 7919u % 1000000u, 4242u + seq % 97u, seq,
             len, len + len / 40, info ? ":" : "", info ? info : "");
    snprintf(path, sizeof path, "%s/%s/%s", fdir, sub, name);
    return mg_write(path, msg, len, mtime);
}

MG_FN void mg_rmtree(const char *path)
{
    DIR *d = opendir(path);
    struct dirent *de;
    char p[4096];

    if (!d) {
        unlink(path);
        return;
    }
    while ((de = readdir(d)) != NULL) {
        struct stat sb;
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, "..")) {
            continue;
        }
        snprintf(p, sizeof p, "%s/%s", path, de->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode)) {
            mg_rmtree(p);
        } else {
            unlink(p);
        }
    }
    closedir(d);
    rmdir(path);
}

/* A fresh temporary directory (mkdtemp) into path[size]. */
MG_FN void mg_tmpdir(char *path, size_t size, const char *tag)
{
    const char *t = getenv("TMPDIR");
    snprintf(path, size, "%s/as-%s-XXXXXX", t && *t ? t : "/tmp", tag);
    if (!mkdtemp(path)) {
        abort();
    }
}

/* ---- message corpus ------------------------------------------------------ */

MG_FN void mg_base64(mg_buf_t *b, const unsigned char *d, size_t n)
{
    static const char a[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t i, col = 0;
    for (i = 0; i + 2 < n; i += 3) {
        char q[4] = {a[d[i] >> 2], a[((d[i] & 3) << 4) | (d[i + 1] >> 4)],
                     a[((d[i + 1] & 15) << 2) | (d[i + 2] >> 6)], a[d[i + 2] & 63]};
        mg_put(b, q, 4);
        if ((col += 4) >= 76) {
            mg_puts(b, "\n");
            col = 0;
        }
    }
    if (n - i == 1) {
        char q[4] = {a[d[i] >> 2], a[(d[i] & 3) << 4], '=', '='};
        mg_put(b, q, 4);
    } else if (n - i == 2) {
        char q[4] = {a[d[i] >> 2], a[((d[i] & 3) << 4) | (d[i + 1] >> 4)], a[(d[i + 1] & 15) << 2],
                     '='};
        mg_put(b, q, 4);
    }
    mg_puts(b, "\n");
}

/* Deterministic pseudo-random bytes. */
MG_FN void mg_bytes(unsigned char *d, size_t n, unsigned seed)
{
    unsigned x = seed * 2654435761u + 1;
    size_t i;
    for (i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        d[i] = (unsigned char)(x >> 3);
    }
}

MG_FN const unsigned char mg_png[] = {
    0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x48,
    0x44, 0x52, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01, 0x08, 0x06, 0x00, 0x00,
    0x00, 0x1f, 0x15, 0xc4, 0x89, 0x00, 0x00, 0x00, 0x0d, 0x49, 0x44, 0x41, 0x54, 0x78,
    0x9c, 0x63, 0xf8, 0xcf, 0xc0, 0xf0, 0x1f, 0x00, 0x05, 0x00, 0x01, 0xff, 0x89, 0x99,
    0x3d, 0x1d, 0x00, 0x00, 0x00, 0x00, 0x49, 0x45, 0x4e, 0x44, 0xae, 0x42, 0x60, 0x82};

MG_FN void mg_headers(mg_buf_t *b, const char *from, const char *to, const char *subject,
                      const char *date, const char *msgid)
{
    mg_printf(b,
              "Return-Path: <sender@example.org>\n"
              "Delivered-To: jdoe@example.com\n"
              "Received: from mx.example.org (mx.example.org [192.0.2.25])\n"
              "\tby mailhost.example.com (Postfix) with ESMTPS id 4Vx2Lq0abcz9\n"
              "\tfor <jdoe@example.com>; %s\n"
              "From: %s\nTo: %s\nSubject: %s\nDate: %s\nMessage-ID: <%s>\nMIME-Version: 1.0\n",
              date, from, to, subject, date, msgid);
}

#define MG_DATE "Mon, 04 Mar 2024 10:15:00 +0100"

/* 1. plain ASCII */
MG_FN char *mg_msg_plain(size_t *len, unsigned n)
{
    mg_buf_t b = {0};
    mg_headers(&b, "\"Bob Example\" <bob@example.org>", "\"John Doe\" <jdoe@example.com>",
               "Quarterly figures", MG_DATE, "plain@example.org");
    mg_printf(&b,
              "Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n"
              "Hi John,\n\nthe figures are attached (message %u).\n\nBob\n",
              n);
    *len = b.len;
    return b.s;
}

/* 2. multipart/alternative, UTF-8, encoded-word subject and names */
MG_FN char *mg_msg_alternative(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "=?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <juergen@example.de>",
               "\"John Doe\" <jdoe@example.com>, =?UTF-8?Q?Ren=C3=A9e_Dupont?= <renee@example.fr>",
               "=?UTF-8?B?R3LDvMOfZSBhdXMgTcO8bmNoZW4g4oKsIOKckw==?=", MG_DATE, "alt@example.de");
    mg_puts(&b,
            "Cc: Team <team@example.com>\nReply-To: Jürgen <reply@example.de>, other@example.de\n"
            "Importance: high\n"
            "Content-Type: multipart/alternative; boundary=\"b1_alt\"\n\n"
            "This is a multi-part message in MIME format.\n\n"
            "--b1_alt\nContent-Type: text/plain; charset=UTF-8\n"
            "Content-Transfer-Encoding: quoted-printable\n\n"
            "Gr=C3=BC=C3=9Fe aus M=C3=BCnchen =E2=82=AC 10 =E2=9C=93\n"
            "Zweite Zeile.\n\n"
            "--b1_alt\nContent-Type: text/html; charset=UTF-8\n"
            "Content-Transfer-Encoding: 8bit\n\n"
            "<html><head><style>p{color:red}</style></head><body>"
            "<p>Grüße aus <b>München</b> &euro; 10 ✓</p><p>Zweite&nbsp;Zeile.</p>"
            "</body></html>\n\n"
            "--b1_alt--\n");
    *len = b.len;
    return b.s;
}

/* 3. mixed: related (html + inline cid image) + PDF attachment */
MG_FN char *mg_msg_attach(size_t *len)
{
    mg_buf_t b = {0};
    unsigned char pdf[3000];
    memcpy(pdf, "%PDF-1.4\n", 9);
    mg_bytes(pdf + 9, sizeof pdf - 9, 7);
    mg_headers(&b, "Carol <carol@example.net>", "jdoe@example.com", "Report with picture", MG_DATE,
               "attach@example.net");
    mg_puts(&b, "X-Priority: 5 (Lowest)\n"
                "Content-Type: multipart/mixed; boundary=\"mix\"\n\n--mix\n"
                "Content-Type: multipart/related; boundary=\"rel\"; type=\"text/html\"\n\n--rel\n"
                "Content-Type: text/html; charset=us-ascii\n\n"
                "<html><body><p>See the chart:</p><img src=\"cid:chart1@example.net\"><br>"
                "Regards<br>Carol</body></html>\n"
                "--rel\nContent-Type: image/png\nContent-Transfer-Encoding: base64\n"
                "Content-ID: <chart1@example.net>\nContent-Disposition: inline; "
                "filename=\"chart.png\"\n\n");
    mg_base64(&b, mg_png, sizeof mg_png);
    mg_puts(
        &b,
        "--rel--\n\n--mix\nContent-Type: application/pdf; name=\"report.pdf\"\n"
        "Content-Transfer-Encoding: base64\n"
        "Content-Disposition: attachment;\n filename*=UTF-8''Bericht%20%C3%BCber%202024.pdf\n\n");
    mg_base64(&b, pdf, sizeof pdf);
    mg_puts(&b, "--mix--\n");
    *len = b.len;
    return b.s;
}

/* 4. a forwarded message (message/rfc822) */
MG_FN char *mg_msg_nested(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "Dave <dave@example.com>", "jdoe@example.com", "Fwd: Lunch?", MG_DATE,
               "fwd@example.com");
    mg_puts(&b, "Content-Type: multipart/mixed; boundary=\"outer\"\n\n--outer\n"
                "Content-Type: text/plain; charset=utf-8\n\nSee below.\n\n--outer\n"
                "Content-Type: message/rfc822\nContent-Disposition: attachment\n\n"
                "From: Eve <eve@example.com>\nTo: dave@example.com\nSubject: Lunch?\n"
                "Date: Sun, 03 Mar 2024 12:00:00 +0000\nMIME-Version: 1.0\n"
                "Content-Type: multipart/mixed; boundary=\"inner\"\n\n--inner\n"
                "Content-Type: text/plain\n\nLunch at noon?\n--inner\n"
                "Content-Type: text/plain; name=\"menu.txt\"\nContent-Disposition: attachment; "
                "filename=\"menu.txt\"\n\n"
                "Soup\nSalad\n--inner--\n\n--outer--\n");
    *len = b.len;
    return b.s;
}

/* 5. ISO-8859-1 quoted-printable body, Q-encoded ISO-8859-1 name */
MG_FN char *mg_msg_latin1(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "=?ISO-8859-1?Q?Fran=E7ois_L=E9vesque?= <francois@example.fr>",
               "jdoe@example.com", "=?ISO-8859-1?Q?Caf=E9_cr=E8me?=", MG_DATE, "latin1@example.fr");
    mg_puts(&b, "Content-Type: text/plain; charset=ISO-8859-1\n"
                "Content-Transfer-Encoding: quoted-printable\n\n"
                "Un caf=E9 cr=E8me co=FBte 2 =A3 ou 3 =80? Tr=E8s =ABcher=BB.\n");
    *len = b.len;
    return b.s;
}

/* 6. ISO-8859-15 8bit body with the euro sign (0xA4) */
MG_FN char *mg_msg_latin9(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "shop@example.de", "jdoe@example.com", "Rechnung", MG_DATE, "latin9@example.de");
    mg_puts(&b, "Content-Type: text/plain; charset=iso-8859-15\nContent-Transfer-Encoding: 8bit\n\n"
                "Betrag: 42 \xa4, Stra\xdf"
                "e\n");
    *len = b.len;
    return b.s;
}

/* 7. Windows-1252 body (euro 0x80, smart quotes 0x93/0x94, dash 0x96), and
 * the same bytes mislabelled ISO-8859-1 as Outlook often sends them */
MG_FN char *mg_msg_cp1252(size_t *len, int mislabel)
{
    mg_buf_t b = {0};
    mg_headers(&b, "\"Outlook User\" <user@example.com>", "jdoe@example.com",
               mislabel ? "Quotes (latin1 label)" : "Quotes", MG_DATE, "cp1252@example.com");
    mg_printf(&b, "Content-Type: text/plain; charset=\"%s\"\nContent-Transfer-Encoding: 8bit\n\n",
              mislabel ? "iso-8859-1" : "windows-1252");
    mg_puts(&b, "He said \x93hello\x94 \x96 it costs 5 \x80.\n");
    *len = b.len;
    return b.s;
}

/* 8. a large attachment of about size bytes (base64) */
MG_FN char *mg_msg_large(size_t *len, size_t size)
{
    mg_buf_t b = {0};
    unsigned char *d = malloc(size);
    mg_bytes(d, size, 99);
    mg_headers(&b, "big@example.org", "jdoe@example.com", "Big file", MG_DATE, "big@example.org");
    mg_puts(&b, "Content-Type: multipart/mixed; boundary=\"big\"\n\n--big\n"
                "Content-Type: text/plain\n\nThe file.\n--big\n"
                "Content-Type: application/octet-stream; name=\"data.bin\"\n"
                "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; "
                "filename=\"data.bin\"\n\n");
    mg_base64(&b, d, size);
    mg_puts(&b, "--big--\n");
    free(d);
    *len = b.len;
    return b.s;
}

/* 9a. broken: the closing boundary is missing, bad base64 */
MG_FN char *mg_msg_broken_mime(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "broken@example.org", "jdoe@example.com", "Broken", MG_DATE, "br@example.org");
    mg_puts(&b, "Content-Type: multipart/mixed; boundary=\"nb\"\n\n--nb\n"
                "Content-Type: text/plain\n\nBody text.\n--nb\n"
                "Content-Type: application/octet-stream; name=\"bad.bin\"\n"
                "Content-Transfer-Encoding: base64\n\n"
                "SGVsbG8*!!@@ this is not base64 ===\nd29y\n");
    *len = b.len;
    return b.s;
}

/* 9b. broken: no Content-Type at all, 8-bit (Latin-1 and UTF-8) raw
 * headers, a NUL byte and control characters in the body */
MG_FN char *mg_msg_broken_headers(size_t *len)
{
    mg_buf_t b = {0};
    mg_puts(&b, "From: M\xfcller <mueller@example.de>\nTo: jdoe@example.com\n"
                "Subject: R\xc3\xa9sum\xc3\xa9 f\xfcr dich\nDate: not a date\n\n"
                "Line one\n");
    {
        static const char tail[] = "NUL:\0:\x01\x02\x1b end\n";
        mg_put(&b, tail, sizeof tail - 1);
    }
    *len = b.len;
    return b.s;
}

/* 10. HTML only, with entities, a script and a list */
MG_FN char *mg_msg_html_only(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "News <news@example.com>", "jdoe@example.com", "Newsletter", MG_DATE,
               "html@example.com");
    mg_puts(&b, "Content-Type: text/html; charset=utf-8\nContent-Transfer-Encoding: 7bit\n\n"
                "<!DOCTYPE html><html><head><title>T</title><script>var x = 1 < 2;</script></head>"
                "<body><h1>Hello &amp; welcome</h1><p>Line&nbsp;one<br>Line two</p>"
                "<ul><li>First &lt;item&gt;</li><li>Caf&eacute; &#8364; &#x2713;</li></ul>"
                "<table><tr><td>a</td><td>b</td></tr></table></body></html>\n");
    *len = b.len;
    return b.s;
}

/* 11. a calendar invitation (METHOD:REQUEST) */
MG_FN char *mg_msg_invite(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "Org <org@example.com>", "jdoe@example.com", "Invitation: Planning", MG_DATE,
               "inv@example.com");
    mg_puts(
        &b,
        "Content-Type: multipart/alternative; boundary=\"cal\"\n\n--cal\n"
        "Content-Type: text/plain; charset=utf-8\n\nPlanning meeting.\n--cal\n"
        "Content-Type: text/calendar; charset=utf-8; method=REQUEST\n\n"
        "BEGIN:VCALENDAR\nPRODID:-//Example//EN\nVERSION:2.0\nMETHOD:REQUEST\n"
        "BEGIN:VEVENT\nUID:12345@example.com\nDTSTAMP:20240304T091500Z\n"
        "DTSTART:20240305T100000Z\nDTEND:20240305T110000Z\nSUMMARY:Planning\n"
        "ORGANIZER:mailto:org@example.com\nATTENDEE;PARTSTAT=NEEDS-ACTION:mailto:jdoe@example.com\n"
        "END:VEVENT\nEND:VCALENDAR\n--cal--\n");
    *len = b.len;
    return b.s;
}

/* 12. S/MIME signed */
MG_FN char *mg_msg_signed(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "signer@example.com", "jdoe@example.com", "Signed", MG_DATE, "sig@example.com");
    mg_puts(&b,
            "Content-Type: multipart/signed; protocol=\"application/pkcs7-signature\"; "
            "micalg=sha-256; boundary=\"sig\"\n\n--sig\n"
            "Content-Type: text/plain; charset=us-ascii\n\nSigned text.\n--sig\n"
            "Content-Type: application/pkcs7-signature; name=\"smime.p7s\"\n"
            "Content-Transfer-Encoding: base64\nContent-Disposition: attachment; "
            "filename=\"smime.p7s\"\n\n"
            "MIAGCSqGSIb3DQEHAqCAMIACAQExDzANBglghkgBZQMEAgEFADCABgkqhkiG9w0BBwEAAA==\n--sig--\n");
    *len = b.len;
    return b.s;
}

/* 13. unknown charset with 8-bit bytes; and a long UTF-8 body of 3-byte
 * characters for truncation tests */
MG_FN char *mg_msg_unknown_charset(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "x@example.org", "jdoe@example.com", "=?x-bogus?Q?Bogus_=E9?=", MG_DATE,
               "bogus@example.org");
    mg_puts(
        &b,
        "Content-Type: text/plain; charset=x-no-such-charset\nContent-Transfer-Encoding: 8bit\n\n"
        "Caf\xe9 and na\xefve.\n");
    *len = b.len;
    return b.s;
}

MG_FN char *mg_msg_cjk(size_t *len)
{
    mg_buf_t b = {0};
    int i;
    mg_headers(&b, "jp@example.jp", "jdoe@example.com", "=?UTF-8?B?5pel5pys6Kqe?=", MG_DATE,
               "cjk@example.jp");
    mg_puts(&b, "Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n");
    for (i = 0; i < 100; i++) {
        mg_puts(&b, "\xe6\x97\xa5\xe6\x9c\xac\xe8\xaa\x9e"); /* 日本語: 3 x 3 bytes */
    }
    mg_puts(&b, "\n");
    *len = b.len;
    return b.s;
}

#endif
