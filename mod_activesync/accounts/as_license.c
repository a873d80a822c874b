/* Signed licence documents: see as_license.h for the format. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <apr_file_io.h>
#include <apr_strings.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>

#include "activesync/as_base64.h"
#include "activesync/as_license.h"

#define SIG_LEN     64
#define SIG_B64_LEN 88
#define MAX_DOC     16384
#define MAX_MAILBOX 10000000u

const char *as_license_status_name(as_license_status_t s)
{
    switch (s) {
    case AS_LIC_VALID:
        return "valid";
    case AS_LIC_EXPIRED:
        return "expired";
    case AS_LIC_BAD_SIGNATURE:
        return "bad-signature";
    case AS_LIC_MALFORMED:
        return "malformed";
    case AS_LIC_UNREADABLE:
        return "unreadable";
    case AS_LIC_BAD_KEY:
        return "bad-key";
    case AS_LIC_UNVERIFIED:
        return "unverified";
    }
    return "?";
}

apr_time_t as_license_parse_date(const char *s)
{
    apr_time_exp_t tm;
    apr_time_t t;
    int y, m, d, i;
    static const int mdays[] = {31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};

    if (!s || strlen(s) != 10 || s[4] != '-' || s[7] != '-') {
        return -1;
    }
    for (i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return -1;
        }
    }
    y = atoi(s);
    m = atoi(s + 5);
    d = atoi(s + 8);
    if (y < 1970 || y > 9999 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1]) {
        return -1;
    }
    if (m == 2 && d == 29 && !((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return -1;
    }
    memset(&tm, 0, sizeof(tm));
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    if (apr_time_exp_gmt_get(&t, &tm) != APR_SUCCESS) {
        return -1;
    }
    return t;
}

/* ---- parsing ---------------------------------------------------------------- */

typedef struct parsed_t {
    as_license_t lic;
    const char *signed_part; /* bytes covered by the signature */
    apr_size_t signed_len;
    unsigned char sig[SIG_LEN];
} parsed_t;

static as_license_status_t malformed(apr_pool_t *p, const char **msg, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static as_license_status_t malformed(apr_pool_t *p, const char **msg, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    *msg = apr_psprintf(p, "malformed licence: %s", apr_pvsprintf(p, fmt, ap));
    va_end(ap);
    return AS_LIC_MALFORMED;
}

/* The signature line: 88 characters of canonical base64 of 64 bytes; the
 * signed part is everything before this line. */
static as_license_status_t parse_signature(apr_pool_t *p, const char *text, const char *line,
                                           const char *val, int lineno, parsed_t *out,
                                           const char **msg)
{
    apr_size_t vl = strlen(val), n;
    char buf[SIG_B64_LEN + 8];

    if (vl != SIG_B64_LEN || val[86] != '=' || val[87] != '=') {
        return malformed(p, msg, "line %d: the signature is not 88 base64 characters", lineno);
    }
    if (!as_b64_decode(val, vl, (unsigned char *)buf, &n, 0)) {
        return malformed(p, msg, "line %d: the signature is not base64", lineno);
    }
    if (n != SIG_LEN) {
        return malformed(p, msg, "line %d: the signature is not 64 bytes", lineno);
    }
    /* Only the canonical encoding: the unused low bits of the last
     * character must be zero, so no byte of the document can change
     * without notice. */
    if (!as_b64_decode(val, vl, (unsigned char *)buf, &n, AS_B64_CANONICAL)) {
        return malformed(p, msg, "line %d: the signature is not canonical base64", lineno);
    }
    memcpy(out->sig, buf, SIG_LEN);
    out->signed_part = text;
    out->signed_len = (apr_size_t)(line - text);
    return AS_LIC_UNVERIFIED;
}

/* One "key: value" line other than the signature. */
static as_license_status_t parse_field(apr_pool_t *p, const char *key, const char *val, int lineno,
                                       int *have_format, parsed_t *out, const char **msg)
{
    apr_time_t t;
#define ONCE(field)                                                                                \
    if (out->lic.field) {                                                                          \
        return malformed(p, msg, "line %d: '%s' appears twice", lineno, key);                      \
    }
    if (!strcmp(key, "format")) {
        if (*have_format) {
            return malformed(p, msg, "line %d: 'format' appears twice", lineno);
        }
        if (strcmp(val, AS_LICENSE_FORMAT) != 0) {
            return malformed(p, msg, "line %d: unknown format '%s' (expected '%s')", lineno, val,
                             AS_LICENSE_FORMAT);
        }
        *have_format = 1;
    } else if (!strcmp(key, "id")) {
        ONCE(id);
        out->lic.id = val;
    } else if (!strcmp(key, "licensee")) {
        ONCE(licensee);
        out->lic.licensee = val;
    } else if (!strcmp(key, "mailboxes")) {
        char *e;
        unsigned long n;
        if (out->lic.mailboxes) {
            return malformed(p, msg, "line %d: 'mailboxes' appears twice", lineno);
        }
        errno = 0;
        n = strtoul(val, &e, 10);
        if (errno || *e || val[0] < '0' || val[0] > '9' || n == 0 || n > MAX_MAILBOX) {
            return malformed(p, msg, "line %d: mailboxes must be a number from 1 to %u", lineno,
                             MAX_MAILBOX);
        }
        out->lic.mailboxes = (unsigned)n;
    } else if (!strcmp(key, "issued")) {
        ONCE(issued);
        if (as_license_parse_date(val) < 0) {
            return malformed(p, msg, "line %d: issued must be a date YYYY-MM-DD", lineno);
        }
        out->lic.issued = val;
    } else if (!strcmp(key, "expires")) {
        ONCE(expires);
        if ((t = as_license_parse_date(val)) < 0) {
            return malformed(p, msg, "line %d: expires must be a date YYYY-MM-DD", lineno);
        }
        out->lic.expires = val;
        out->lic.expires_at = t + apr_time_from_sec(86400);
    } else {
        return malformed(p, msg, "line %d: unknown key '%s'", lineno, key);
    }
#undef ONCE
    return AS_LIC_UNVERIFIED;
}

/* After the last line: every required line was there. */
static as_license_status_t parse_complete(apr_pool_t *p, const parsed_t *out, int have_format,
                                          int have_sig, const char **msg)
{
    if (!have_format) {
        return malformed(p, msg, "no 'format: %s' line", AS_LICENSE_FORMAT);
    }
    if (!out->lic.licensee) {
        return malformed(p, msg, "no 'licensee' line");
    }
    if (!out->lic.mailboxes) {
        return malformed(p, msg, "no 'mailboxes' line");
    }
    if (!out->lic.expires) {
        return malformed(p, msg, "no 'expires' line");
    }
    if (!have_sig) {
        return malformed(p, msg, "no 'signature' line (the document is not signed)");
    }
    *msg = NULL;
    return AS_LIC_UNVERIFIED;
}

static as_license_status_t parse(apr_pool_t *p, const char *text, apr_size_t len, parsed_t *out,
                                 const char **msg)
{
    apr_size_t pos = 0;
    int lineno = 0, have_format = 0, have_sig = 0;
    as_license_status_t st;

    memset(out, 0, sizeof(*out));
    if (len == 0) {
        return malformed(p, msg, "the document is empty");
    }
    if (len > MAX_DOC) {
        return malformed(p, msg, "the document is larger than %d bytes", MAX_DOC);
    }
    while (pos < len) {
        const char *line = text + pos, *nl, *colon, *val;
        apr_size_t ll, i;
        const char *key;

        nl = memchr(line, '\n', len - pos);
        ll = nl ? (apr_size_t)(nl - line) : len - pos;
        lineno++;
        if (have_sig) {
            return malformed(p, msg, "line %d: nothing may follow the signature line", lineno);
        }
        for (i = 0; i < ll; i++) {
            unsigned char c = (unsigned char)line[i];
            if (c < 0x20 || c == 0x7f) {
                return malformed(p, msg, "line %d: control character (byte 0x%02x)", lineno, c);
            }
        }
        pos += ll + (nl ? 1 : 0);
        if (ll == 0 || line[0] == '#') {
            continue;
        }
        colon = memchr(line, ':', ll);
        /* ">=": colon[2] must be inside the line (an empty value is refused
         * too; the fuzzer found the read past "key: " at the end) */
        if (!colon || colon == line || (apr_size_t)(colon - line) + 2 >= ll || colon[1] != ' ' ||
            colon[2] == ' ') {
            return malformed(p, msg, "line %d: expected 'key: value'", lineno);
        }
        key = apr_pstrmemdup(p, line, (apr_size_t)(colon - line));
        val = apr_pstrmemdup(p, colon + 2, ll - (apr_size_t)(colon - line) - 2);
        if (!strcmp(key, "signature")) {
            st = parse_signature(p, text, line, val, lineno, out, msg);
            have_sig = 1;
        } else {
            st = parse_field(p, key, val, lineno, &have_format, out, msg);
        }
        if (st != AS_LIC_UNVERIFIED) {
            return st;
        }
    }
    return parse_complete(p, out, have_format, have_sig, msg);
}

as_license_status_t as_license_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                     as_license_t *out, const char **msg)
{
    parsed_t pr;
    as_license_status_t st = parse(p, text, len, &pr, msg);
    *out = pr.lic;
    if (st == AS_LIC_UNVERIFIED) {
        *msg = "licence parsed but not verified (no public key given)";
    }
    return st;
}

/* ---- keys ---------------------------------------------------------------------- */

static const char *ssl_error(apr_pool_t *p)
{
    unsigned long e = ERR_get_error();
    char buf[256];

    if (!e) {
        return "unknown OpenSSL error";
    }
    ERR_error_string_n(e, buf, sizeof(buf));
    ERR_clear_error();
    return apr_pstrdup(p, buf);
}

static EVP_PKEY *load_pubkey(const char *pem, apr_size_t len)
{
    BIO *b = BIO_new_mem_buf(pem, (int)len);
    EVP_PKEY *k;

    if (!b) {
        return NULL;
    }
    k = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL);
    BIO_free(b);
    if (k && EVP_PKEY_get_id(k) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(k);
        k = NULL;
    }
    return k;
}

as_license_status_t as_license_verify(apr_pool_t *p, const char *text, apr_size_t len,
                                      const char *pubkey_pem, apr_size_t keylen, apr_time_t now,
                                      as_license_t *out, const char **msg)
{
    parsed_t pr;
    as_license_status_t st = parse(p, text, len, &pr, msg);
    EVP_PKEY *key;
    EVP_MD_CTX *ctx;
    int ok;

    *out = pr.lic;
    if (st != AS_LIC_UNVERIFIED) {
        return st;
    }
    key = load_pubkey(pubkey_pem, keylen);
    if (!key) {
        ERR_clear_error();
        *msg = "the public key is not a PEM Ed25519 public key";
        return AS_LIC_BAD_KEY;
    }
    ctx = EVP_MD_CTX_new();
    ok = ctx && EVP_DigestVerifyInit(ctx, NULL, NULL, NULL, key) == 1 &&
         EVP_DigestVerify(ctx, pr.sig, SIG_LEN, (const unsigned char *)pr.signed_part,
                          pr.signed_len) == 1;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    ERR_clear_error();
    if (!ok) {
        *msg = "bad signature: the licence was not signed with this key, or it was altered";
        return AS_LIC_BAD_SIGNATURE;
    }
    if (now >= pr.lic.expires_at) {
        *msg = apr_psprintf(p, "the licence for %s expired on %s", pr.lic.licensee, pr.lic.expires);
        return AS_LIC_EXPIRED;
    }
    *msg = apr_psprintf(p, "valid licence for %s: %u mailboxes until %s", pr.lic.licensee,
                        pr.lic.mailboxes, pr.lic.expires);
    return AS_LIC_VALID;
}

static apr_status_t read_small_file(apr_pool_t *p, const char *path, char **buf, apr_size_t *len)
{
    apr_file_t *f;
    apr_finfo_t fi;
    apr_status_t rv;

    rv = apr_file_open(&f, path, APR_READ | APR_BINARY, 0, p);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    rv = apr_file_info_get(&fi, APR_FINFO_SIZE, f);
    if (rv == APR_SUCCESS && fi.size > MAX_DOC * 4) {
        rv = APR_EINVAL;
    }
    if (rv == APR_SUCCESS) {
        *len = (apr_size_t)fi.size;
        *buf = apr_palloc(p, *len + 1);
        rv = apr_file_read_full(f, *buf, *len, NULL);
        if (*len == 0) {
            rv = APR_SUCCESS;
        }
        (*buf)[*len] = '\0';
    }
    apr_file_close(f);
    return rv;
}

as_license_status_t as_license_verify_file(apr_pool_t *p, const char *path, const char *pubkey_path,
                                           apr_time_t now, as_license_t *out, const char **msg)
{
    char *text, *key;
    apr_size_t len, klen;
    apr_status_t rv;
    char ebuf[128];
    as_license_status_t st;

    memset(out, 0, sizeof(*out));
    rv = read_small_file(p, path, &text, &len);
    if (rv != APR_SUCCESS) {
        *msg = apr_psprintf(p, "cannot read licence file %s: %s", path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
        return AS_LIC_UNREADABLE;
    }
    if (!pubkey_path) {
        st = as_license_parse(p, text, len, out, msg);
        if (st == AS_LIC_MALFORMED) {
            *msg = apr_psprintf(p, "%s: %s", path, *msg);
        }
        return st;
    }
    rv = read_small_file(p, pubkey_path, &key, &klen);
    if (rv != APR_SUCCESS) {
        *msg = apr_psprintf(p, "cannot read licence public key %s: %s", pubkey_path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
        return AS_LIC_BAD_KEY;
    }
    st = as_license_verify(p, text, len, key, klen, now, out, msg);
    if (st == AS_LIC_BAD_KEY) {
        *msg = apr_psprintf(p, "%s: %s", pubkey_path, *msg);
    } else {
        *msg = apr_psprintf(p, "licence %s: %s", path, *msg);
    }
    return st;
}

static apr_status_t write_new_file(const char *path, mode_t mode, const char *data, apr_size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
    apr_size_t off = 0;

    if (fd < 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    while (off < len) {
        ssize_t n = write(fd, data + off, len - off);
        if (n < 0) {
            apr_status_t rv = APR_FROM_OS_ERROR(errno);
            close(fd);
            unlink(path);
            return rv;
        }
        off += (apr_size_t)n;
    }
    fchmod(fd, mode);
    if (close(fd) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    return APR_SUCCESS;
}

static const char *bio_text(apr_pool_t *p, BIO *b, apr_size_t *len)
{
    char *data;
    long n = BIO_get_mem_data(b, &data);
    *len = (apr_size_t)n;
    return apr_pstrmemdup(p, data, (apr_size_t)n);
}

apr_status_t as_license_keygen(apr_pool_t *p, const char *priv_path, const char *pub_path,
                               const char **msg)
{
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_id(EVP_PKEY_ED25519, NULL);
    EVP_PKEY *key = NULL;
    BIO *bpriv = NULL, *bpub = NULL;
    const char *priv, *pub;
    apr_size_t privlen, publen;
    apr_status_t rv = APR_EGENERAL;
    struct stat st;
    char ebuf[128];

    *msg = NULL;
    if (stat(priv_path, &st) == 0 || stat(pub_path, &st) == 0) {
        *msg = apr_psprintf(p, "refusing to overwrite an existing key file (%s or %s)", priv_path,
                            pub_path);
        EVP_PKEY_CTX_free(ctx);
        return APR_EEXIST;
    }
    if (!ctx || EVP_PKEY_keygen_init(ctx) != 1 || EVP_PKEY_keygen(ctx, &key) != 1) {
        *msg = apr_psprintf(p, "key generation failed: %s", ssl_error(p));
        goto out;
    }
    bpriv = BIO_new(BIO_s_mem());
    bpub = BIO_new(BIO_s_mem());
    if (!bpriv || !bpub || PEM_write_bio_PrivateKey(bpriv, key, NULL, NULL, 0, NULL, NULL) != 1 ||
        PEM_write_bio_PUBKEY(bpub, key) != 1) {
        *msg = apr_psprintf(p, "cannot encode the keys: %s", ssl_error(p));
        goto out;
    }
    priv = bio_text(p, bpriv, &privlen);
    pub = bio_text(p, bpub, &publen);
    rv = write_new_file(priv_path, 0600, priv, privlen);
    if (rv != APR_SUCCESS) {
        *msg =
            apr_psprintf(p, "cannot write %s: %s", priv_path, apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto out;
    }
    rv = write_new_file(pub_path, 0644, pub, publen);
    if (rv != APR_SUCCESS) {
        unlink(priv_path);
        *msg =
            apr_psprintf(p, "cannot write %s: %s", pub_path, apr_strerror(rv, ebuf, sizeof(ebuf)));
        goto out;
    }
out:
    BIO_free(bpriv);
    BIO_free(bpub);
    EVP_PKEY_free(key);
    EVP_PKEY_CTX_free(ctx);
    return rv;
}

static int value_ok(const char *v)
{
    const unsigned char *s = (const unsigned char *)v;
    if (!v || !*v || *v == ' ') {
        return 0;
    }
    for (; *s; s++) {
        if (*s < 0x20 || *s == 0x7f) {
            return 0;
        }
    }
    return 1;
}

apr_status_t as_license_sign(apr_pool_t *p, const as_license_t *lic, const char *priv_path,
                             const char **text, const char **msg)
{
    char *pem;
    apr_size_t pemlen, siglen = SIG_LEN;
    apr_status_t rv;
    BIO *b;
    EVP_PKEY *key;
    EVP_MD_CTX *ctx;
    unsigned char sig[SIG_LEN];
    char b64[SIG_B64_LEN + 8];
    const char *body;
    char ebuf[128];
    int ok;
    parsed_t check;
    const char *m2;

    *text = NULL;
    *msg = NULL;
    if (!value_ok(lic->licensee) || (lic->id && !value_ok(lic->id))) {
        *msg = "licensee and id must be non-empty text without control characters";
        return APR_EINVAL;
    }
    if (lic->mailboxes == 0 || lic->mailboxes > MAX_MAILBOX) {
        *msg = apr_psprintf(p, "mailboxes must be from 1 to %u", MAX_MAILBOX);
        return APR_EINVAL;
    }
    if (as_license_parse_date(lic->expires) < 0 ||
        (lic->issued && as_license_parse_date(lic->issued) < 0)) {
        *msg = "dates must be YYYY-MM-DD";
        return APR_EINVAL;
    }
    rv = read_small_file(p, priv_path, &pem, &pemlen);
    if (rv != APR_SUCCESS) {
        *msg = apr_psprintf(p, "cannot read private key %s: %s", priv_path,
                            apr_strerror(rv, ebuf, sizeof(ebuf)));
        return rv;
    }
    b = BIO_new_mem_buf(pem, (int)pemlen);
    key = b ? PEM_read_bio_PrivateKey(b, NULL, NULL, NULL) : NULL;
    BIO_free(b);
    if (!key || EVP_PKEY_get_id(key) != EVP_PKEY_ED25519) {
        EVP_PKEY_free(key);
        ERR_clear_error();
        *msg = apr_psprintf(p, "%s is not a PEM Ed25519 private key", priv_path);
        return APR_EINVAL;
    }
    body = apr_psprintf(p,
                        "# mod_activesync licence\nformat: %s\n%s%s%slicensee: %s\n"
                        "mailboxes: %u\n%s%s%sexpires: %s\n",
                        AS_LICENSE_FORMAT, lic->id ? "id: " : "", lic->id ? lic->id : "",
                        lic->id ? "\n" : "", lic->licensee, lic->mailboxes,
                        lic->issued ? "issued: " : "", lic->issued ? lic->issued : "",
                        lic->issued ? "\n" : "", lic->expires);
    ctx = EVP_MD_CTX_new();
    ok = ctx && EVP_DigestSignInit(ctx, NULL, NULL, NULL, key) == 1 &&
         EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)body, strlen(body)) == 1 &&
         siglen == SIG_LEN;
    EVP_MD_CTX_free(ctx);
    EVP_PKEY_free(key);
    if (!ok) {
        *msg = apr_psprintf(p, "signing failed: %s", ssl_error(p));
        return APR_EGENERAL;
    }
    as_b64_encode(sig, SIG_LEN, b64, 0);
    *text = apr_pstrcat(p, body, "signature: ", b64, "\n", NULL);
    /* The result must parse (catches e.g. a licensee starting with '#'). */
    if (parse(p, *text, strlen(*text), &check, &m2) != AS_LIC_UNVERIFIED) {
        *msg = m2;
        *text = NULL;
        return APR_EINVAL;
    }
    return APR_SUCCESS;
}
