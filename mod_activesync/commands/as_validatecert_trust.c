/* ValidateCert trust stores and verification (as_validatecert.h).
 *
 * The trust store (anchors and CRLs) is loaded once per process and
 * configuration and shared by threads: it is read-only during
 * verification, and OpenSSL locks its own lazy caches.  The cache below is
 * the one process-wide state of ValidateCert, kept on purpose: loading the
 * system store parses every root, far more work than one verification.  It
 * holds no configuration of its own -- entries are keyed by the paths of
 * the request's as_server_conf_t -- so virtual hosts with different trust
 * settings get different stores. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "as_validatecert.h"

typedef struct vc_trust_t {
    X509_STORE *store;         /* trust anchors */
    STACK_OF(X509_CRL) * crls; /* from crl_file; possibly empty */
} vc_trust_t;

/* A loaded trust store shared by the requests of this process: loading the
 * system store parses every root, far more work than one verification.
 * Keyed by the configured paths and revalidated by stat() on each use, so
 * an edited CA or CRL file still applies without a restart.  Requests hold
 * a reference; a replaced entry is freed by its last user. */
struct as_vc_trust_t {
    vc_trust_t trust;
    char *key;     /* "file\npath\ncrl" */
    char *stamp;   /* identity + mtime + size of each configured file */
    unsigned refs; /* the cache's own reference plus one per user */
};
typedef struct as_vc_trust_t vc_cached_t;

#define VC_CACHE_SLOTS 8
/* The process-wide cache (see the top of the file): keyed by configuration. */
static vc_cached_t *vc_cache[VC_CACHE_SLOTS];
static unsigned vc_cache_next;
static pthread_mutex_t vc_cache_lock = PTHREAD_MUTEX_INITIALIZER;

static const char *vc_ssl_error(char *buf, size_t len)
{
    unsigned long e = ERR_peek_last_error();
    if (!e) {
        return "no OpenSSL error";
    }
    ERR_error_string_n(e, buf, len);
    return buf;
}

static void vc_trust_free(vc_trust_t *t)
{
    X509_STORE_free(t->store);
    sk_X509_CRL_pop_free(t->crls, X509_CRL_free);
    t->store = NULL;
    t->crls = NULL;
}

/* Read every CRL of a PEM file into t->crls. */
static int vc_load_crls(vc_trust_t *t, const char *file, const as_logger_t *log)
{
    BIO *bio = BIO_new_file(file, "r");
    STACK_OF(X509_INFO) * infos;
    char ebuf[256];
    int i, n = 0;

    if (!bio) {
        as_log(log, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
               "ValidateCert: cannot read the CRL file %s: %s", file,
               vc_ssl_error(ebuf, sizeof(ebuf)));
        return 0;
    }
    infos = PEM_X509_INFO_read_bio(bio, NULL, NULL, NULL);
    BIO_free(bio);
    if (!infos) {
        as_log(log, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
               "ValidateCert: cannot parse the CRL file %s: %s", file,
               vc_ssl_error(ebuf, sizeof(ebuf)));
        return 0;
    }
    for (i = 0; i < sk_X509_INFO_num(infos); i++) {
        X509_INFO *info = sk_X509_INFO_value(infos, i);
        if (info->crl && sk_X509_CRL_push(t->crls, info->crl)) {
            info->crl = NULL; /* now owned by t->crls */
            n++;
        }
    }
    sk_X509_INFO_pop_free(infos, X509_INFO_free);
    if (!n) {
        as_log(log, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS, "ValidateCert: no CRL in %s", file);
    }
    return n > 0;
}

/* Build the trust store of this server.  Returns 0 when the configured trust
 * anchors cannot be loaded; a bad CRL file is logged and leaves no CRL (so
 * CheckCRL=1 answers "revocation status cannot be determined"). */
static int vc_trust_load(const as_server_conf_t *conf, const as_logger_t *log, vc_trust_t *t)
{
    const char *file = conf ? conf->trusted_ca_file : NULL;
    const char *path = conf ? conf->trusted_ca_path : NULL;
    char ebuf[256];

    t->store = X509_STORE_new();
    t->crls = sk_X509_CRL_new_null();
    if (!t->store || !t->crls) {
        as_log(log, AS_LOG_MARK, AS_LOG_ERR, APR_ENOMEM,
               "ValidateCert: no memory for the trust store");
        vc_trust_free(t);
        return 0;
    }
    if (file && X509_STORE_load_file(t->store, file) != 1) {
        as_log(log, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
               "ValidateCert: cannot load the trusted CA file %s: %s", file,
               vc_ssl_error(ebuf, sizeof(ebuf)));
        vc_trust_free(t);
        return 0;
    }
    if (path && X509_STORE_load_path(t->store, path) != 1) {
        as_log(log, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
               "ValidateCert: cannot use the trusted CA directory %s: %s", path,
               vc_ssl_error(ebuf, sizeof(ebuf)));
        vc_trust_free(t);
        return 0;
    }
    if (!file && !path && X509_STORE_set_default_paths(t->store) != 1) {
        as_log(log, AS_LOG_MARK, AS_LOG_ERR, APR_SUCCESS,
               "ValidateCert: cannot load the system trust store: %s",
               vc_ssl_error(ebuf, sizeof(ebuf)));
        vc_trust_free(t);
        return 0;
    }
    if (conf && conf->crl_file) {
        vc_load_crls(t, conf->crl_file, log);
    }
    return 1;
}

/* Stamp of one configured file or directory: changes when it is replaced
 * or modified (a missing one stamps as "-"). */
static void vc_stamp_add(char *buf, size_t len, const char *path)
{
    struct stat st;
    size_t n = strlen(buf);
    if (!path || stat(path, &st) != 0) {
        snprintf(buf + n, len - n, "-;");
        return;
    }
    snprintf(buf + n, len - n, "%lu:%lu:%ld.%09ld:%lld;", (unsigned long)st.st_dev,
             (unsigned long)st.st_ino, (long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec,
             (long long)st.st_size);
}

void as_vc_trust_release(as_vc_trust_t *c)
{
    int last;
    if (!c) {
        return;
    }
    pthread_mutex_lock(&vc_cache_lock);
    last = --c->refs == 0;
    pthread_mutex_unlock(&vc_cache_lock);
    if (last) {
        vc_trust_free(&c->trust);
        free(c->key);
        free(c->stamp);
        free(c);
    }
}

as_vc_trust_t *as_vc_trust_acquire(const as_server_conf_t *conf, const as_logger_t *log)
{
    const char *file = conf ? conf->trusted_ca_file : NULL;
    const char *path = conf ? conf->trusted_ca_path : NULL;
    const char *crl = conf ? conf->crl_file : NULL;
    char key[3 * 4096 + 8], stamp[512] = "";
    vc_cached_t *c = NULL, *old = NULL;
    unsigned i;

    snprintf(key, sizeof(key), "%s\n%s\n%s", file ? file : "", path ? path : "", crl ? crl : "");
    vc_stamp_add(stamp, sizeof(stamp), file);
    vc_stamp_add(stamp, sizeof(stamp), path);
    vc_stamp_add(stamp, sizeof(stamp), crl);

    pthread_mutex_lock(&vc_cache_lock);
    for (i = 0; i < VC_CACHE_SLOTS; i++) {
        if (vc_cache[i] && !strcmp(vc_cache[i]->key, key) && !strcmp(vc_cache[i]->stamp, stamp)) {
            c = vc_cache[i];
            c->refs++;
            break;
        }
    }
    pthread_mutex_unlock(&vc_cache_lock);
    if (c) {
        return c;
    }

    /* Load outside the lock: another thread may load the same store at the
     * same time; the later one simply replaces the earlier in the cache. */
    if (!(c = calloc(1, sizeof(*c))) || !(c->key = strdup(key)) || !(c->stamp = strdup(stamp))) {
        if (c) {
            free(c->key);
            free(c);
        }
        return NULL;
    }
    if (!vc_trust_load(conf, log, &c->trust)) {
        free(c->key);
        free(c->stamp);
        free(c);
        return NULL;
    }
    c->refs = 2; /* the cache's and the caller's */
    pthread_mutex_lock(&vc_cache_lock);
    for (i = 0; i < VC_CACHE_SLOTS && !old; i++) {
        if (vc_cache[i] && !strcmp(vc_cache[i]->key, key)) {
            old = vc_cache[i];
            vc_cache[i] = c;
        }
    }
    if (!old) {
        i = vc_cache_next++ % VC_CACHE_SLOTS;
        old = vc_cache[i];
        vc_cache[i] = c;
    }
    pthread_mutex_unlock(&vc_cache_lock);
    as_vc_trust_release(old);
    return c;
}

/* ---- verification ------------------------------------------------------ */

/* Record every error and let OpenSSL go on, so the worst one can be chosen. */
static int vc_verify_cb(int ok, X509_STORE_CTX *ctx)
{
    as_vc_verdict_t *v = X509_STORE_CTX_get_app_data(ctx);
    int err, depth, status;

    if (ok || !v) {
        return ok;
    }
    err = X509_STORE_CTX_get_error(ctx);
    depth = X509_STORE_CTX_get_error_depth(ctx);
    status = as_vc_map_error(err, depth);
    /* An unverifiable revocation status counts only with CheckCRL=1, and
     * never for a trust anchor (depth at or above the trusted part). */
    if (status == VC_REVOCATION_UNKNOWN &&
        (!v->check_crl || depth >= X509_STORE_CTX_get_num_untrusted(ctx))) {
        return 1;
    }
    if (as_vc_rank(status) > as_vc_rank(v->status)) {
        v->status = status;
        v->err = err;
        v->depth = depth;
    }
    return 1;
}

void as_vc_verify(const as_vc_trust_t *trust, X509 *cert, STACK_OF(X509) * chain, int check_crl,
                  as_vc_verdict_t *v)
{
    const vc_trust_t *t = &trust->trust;
    X509_STORE_CTX *ctx = X509_STORE_CTX_new();
    unsigned long flags = X509_V_FLAG_PARTIAL_CHAIN;
    int rc;

    v->status = VC_OK;
    v->err = X509_V_OK;
    v->depth = 0;
    v->check_crl = check_crl;
    if (!ctx || !X509_STORE_CTX_init(ctx, t->store, cert, chain) ||
        !X509_STORE_CTX_set_purpose(ctx, X509_PURPOSE_SMIME_SIGN)) {
        v->status = VC_SERVER_ERROR;
        v->err = X509_V_ERR_OUT_OF_MEM;
        X509_STORE_CTX_free(ctx);
        return;
    }
    if (check_crl || sk_X509_CRL_num(t->crls) > 0) {
        flags |= X509_V_FLAG_CRL_CHECK | X509_V_FLAG_CRL_CHECK_ALL;
        X509_STORE_CTX_set0_crls(ctx, t->crls);
    }
    X509_STORE_CTX_set_flags(ctx, flags);
    X509_STORE_CTX_set_app_data(ctx, v);
    X509_STORE_CTX_set_verify_cb(ctx, vc_verify_cb);
    rc = X509_verify_cert(ctx);
    if (rc <= 0 && v->status == VC_OK) {
        /* Failed without telling the callback: an internal error. */
        v->err = X509_STORE_CTX_get_error(ctx);
        v->depth = X509_STORE_CTX_get_error_depth(ctx);
        v->status = v->err == X509_V_OK ? VC_SERVER_ERROR : as_vc_map_error(v->err, v->depth);
        if (v->status == VC_OK || v->status == VC_REVOCATION_UNKNOWN) {
            v->status = VC_SERVER_ERROR;
        }
    }
    X509_STORE_CTX_free(ctx);
}
