/* ValidateCert (MS-ASCMD 2.2.1.22): the device hands the server S/MIME
 * certificates (base64 DER, usually taken from a signed message) and asks
 * whether each one is good for signing mail, as this server sees it.
 *
 * Request (namespace "ValidateCert:"):
 *   ValidateCert{ [CertificateChain{Certificate+}], Certificates{Certificate+}, [CheckCRL] }
 * Response:
 *   ValidateCert{ Status, Certificate{Status}* }  -- one Certificate per requested
 *   certificate, in request order (ValidateCertResponse.xsd).
 *
 * Decisions (see the status table in the reply to the lead / README):
 * - The top-level Status is 2 (protocol error) and no Certificate follows when
 *   the request is malformed: wrong root, no Certificates, an empty
 *   Certificate, text that is not base64, more than VC_MAX_CERTS Certificate
 *   elements, a Certificate over VC_MAX_B64 characters, CheckCRL not 0/1.
 *   It is 17 (server error) when the trust anchors cannot be loaded.
 * - Base64 that decodes to something that is not one DER X.509 certificate is
 *   an item error: 10 ("certificate format is incorrect") for a requested
 *   certificate; a broken CertificateChain entry gives every requested
 *   certificate 5 ("chain not created correctly").
 * - Trust anchors: trusted_ca_file and/or trusted_ca_path; the system store
 *   when neither is set.  Every certificate of the trust store is an anchor
 *   (X509_V_FLAG_PARTIAL_CHAIN), so an administrator may trust an issuing CA
 *   without its root.
 * - Revocation: CRLs come from crl_file only; nothing is ever fetched.  When
 *   CRLs are configured they are always consulted, so a certificate a local CRL
 *   revokes is reported revoked whatever CheckCRL says.  CheckCRL=1 means the
 *   server must not ignore an unverifiable revocation status (MS-ASCMD
 *   2.2.3.26): a certificate of the path (other than the trust anchor) without
 *   a usable CRL gets 16; with CheckCRL=0 that is ignored.
 * - OpenSSL is asked to continue past errors; every error is mapped to an EAS
 *   status and the most serious one (vc_rank) is answered, so an expired
 *   certificate is reported as expired even when its CRL is missing too.
 *
 * The trust store (anchors and CRLs) is loaded once per process and
 * configuration and shared by threads (vc_trust_acquire): it is read-only
 * during verification, and OpenSSL locks its own lazy caches.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <openssl/x509v3.h>

#include "activesync/as_base64.h"
#include "as_cmds.h"
#include "activesync/as_wbxml.h"

#define VC_NS "ValidateCert:"

/* Certificate elements in one request, both lists together (Exchange's limit,
 * MS-ASCMD 3.1.5.8), and characters of base64 in one of them. */
#define VC_MAX_CERTS 100
#define VC_MAX_B64   (64 * 1024)

/* ValidateCert Status values (MS-ASCMD 2.2.3.177.18). */
enum {
    VC_OK = 1,                  /* success */
    VC_PROTOCOL = 2,            /* protocol error (global) */
    VC_SIGNATURE = 3,           /* the signature in the digital ID cannot be validated */
    VC_UNTRUSTED = 4,           /* issued by an untrusted source */
    VC_CHAIN = 5,               /* the chain was not created correctly */
    VC_NOT_FOR_SIGNING = 6,     /* not valid for signing email */
    VC_TIME = 7,                /* expired or not yet valid */
    VC_CHAIN_TIME = 8,          /* validity periods in the chain are not consistent */
    VC_MISUSED = 9,             /* a digital ID in the chain is used incorrectly */
    VC_BAD_FORMAT = 10,         /* information missing or incorrect (format) */
    VC_CA_MISUSED = 11,         /* end-entity used as a CA (or the reverse) */
    VC_ADDRESS = 12,            /* does not match the recipient's address */
    VC_REVOKED = 13,            /* revoked */
    VC_CRL_OFFLINE = 14,        /* revocation server cannot be contacted (never used) */
    VC_CHAIN_REVOKED = 15,      /* a digital ID in the chain has been revoked */
    VC_REVOCATION_UNKNOWN = 16, /* revocation status cannot be determined */
    VC_SERVER_ERROR = 17        /* unknown server error */
};

/* Map an X509_verify_cert error at a chain depth (0 = the certificate being
 * validated) to a ValidateCert status. */
static int vc_map_error(int err, int depth)
{
    switch (err) {
    case X509_V_OK:
        return VC_OK;

    /* Signatures and keys. */
    case X509_V_ERR_UNABLE_TO_DECRYPT_CERT_SIGNATURE:
    case X509_V_ERR_UNABLE_TO_DECODE_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_CERT_SIGNATURE_FAILURE:
    case X509_V_ERR_NO_ISSUER_PUBLIC_KEY:
    case X509_V_ERR_EE_KEY_TOO_SMALL:
    case X509_V_ERR_CA_KEY_TOO_SMALL:
    case X509_V_ERR_CA_MD_TOO_WEAK:
    case X509_V_ERR_SUITE_B_INVALID_VERSION:
    case X509_V_ERR_SUITE_B_INVALID_ALGORITHM:
    case X509_V_ERR_SUITE_B_INVALID_CURVE:
    case X509_V_ERR_SUITE_B_INVALID_SIGNATURE_ALGORITHM:
    case X509_V_ERR_SUITE_B_LOS_NOT_ALLOWED:
    case X509_V_ERR_SUITE_B_CANNOT_SIGN_P_384_WITH_P_256:
#ifdef X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM
    case X509_V_ERR_UNSUPPORTED_SIGNATURE_ALGORITHM:
#endif
#ifdef X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH
    case X509_V_ERR_SIGNATURE_ALGORITHM_MISMATCH:
#endif
#ifdef X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY
    case X509_V_ERR_SIGNATURE_ALGORITHM_INCONSISTENCY:
#endif
        return VC_SIGNATURE;

    /* The path ends in a self-signed certificate the server does not trust,
     * or in one it explicitly distrusts (CERT_E_UNTRUSTEDROOT). */
    case X509_V_ERR_DEPTH_ZERO_SELF_SIGNED_CERT:
    case X509_V_ERR_SELF_SIGNED_CERT_IN_CHAIN:
    case X509_V_ERR_CERT_UNTRUSTED:
    case X509_V_ERR_CERT_REJECTED:
        return VC_UNTRUSTED;

    /* No path could be built: an issuer is missing (the client left out an
     * intermediate, or the CA is unknown here), loops, too long
     * (CERT_E_CHAINING). */
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT:
    case X509_V_ERR_UNABLE_TO_GET_ISSUER_CERT_LOCALLY:
    case X509_V_ERR_UNABLE_TO_VERIFY_LEAF_SIGNATURE:
    case X509_V_ERR_CERT_CHAIN_TOO_LONG:
    case X509_V_ERR_SUBJECT_ISSUER_MISMATCH:
    case X509_V_ERR_AKID_SKID_MISMATCH:
    case X509_V_ERR_AKID_ISSUER_SERIAL_MISMATCH:
    case X509_V_ERR_PATH_LOOP:
        return VC_CHAIN;

    /* Validity periods: the certificate itself (7) or one of its issuers (8). */
    case X509_V_ERR_CERT_NOT_YET_VALID:
    case X509_V_ERR_CERT_HAS_EXPIRED:
        return depth == 0 ? VC_TIME : VC_CHAIN_TIME;

    /* Purpose (S/MIME signing: extended key usage emailProtection, key usage
     * digitalSignature or nonRepudiation, Netscape cert type). */
    case X509_V_ERR_INVALID_PURPOSE:
    case X509_V_ERR_KEYUSAGE_NO_DIGITAL_SIGNATURE:
        return depth == 0 ? VC_NOT_FOR_SIGNING : VC_MISUSED;

    /* A certificate acting as a CA that may not be one, or the reverse. */
    case X509_V_ERR_INVALID_CA:
    case X509_V_ERR_KEYUSAGE_NO_CERTSIGN:
    case X509_V_ERR_PATH_LENGTH_EXCEEDED:
    case X509_V_ERR_INVALID_NON_CA:
    case X509_V_ERR_PROXY_PATH_LENGTH_EXCEEDED:
        return VC_CA_MISUSED;

    /* Used outside what its issuers allow: name constraints, policies, proxy
     * certificates. */
    case X509_V_ERR_PERMITTED_VIOLATION:
    case X509_V_ERR_EXCLUDED_VIOLATION:
    case X509_V_ERR_SUBTREE_MINMAX:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_TYPE:
    case X509_V_ERR_UNSUPPORTED_CONSTRAINT_SYNTAX:
    case X509_V_ERR_UNSUPPORTED_NAME_SYNTAX:
    case X509_V_ERR_NO_EXPLICIT_POLICY:
    case X509_V_ERR_PROXY_CERTIFICATES_NOT_ALLOWED:
    case X509_V_ERR_PROXY_SUBJECT_NAME_VIOLATION:
        return VC_MISUSED;

    case X509_V_ERR_EMAIL_MISMATCH:
    case X509_V_ERR_HOSTNAME_MISMATCH:
    case X509_V_ERR_IP_ADDRESS_MISMATCH:
        return VC_ADDRESS;

    case X509_V_ERR_CERT_REVOKED:
        return depth == 0 ? VC_REVOKED : VC_CHAIN_REVOKED;

    /* No usable CRL: missing, expired, badly signed, out of scope. */
    case X509_V_ERR_UNABLE_TO_GET_CRL:
    case X509_V_ERR_UNABLE_TO_DECRYPT_CRL_SIGNATURE:
    case X509_V_ERR_CRL_SIGNATURE_FAILURE:
    case X509_V_ERR_CRL_NOT_YET_VALID:
    case X509_V_ERR_CRL_HAS_EXPIRED:
    case X509_V_ERR_ERROR_IN_CRL_LAST_UPDATE_FIELD:
    case X509_V_ERR_ERROR_IN_CRL_NEXT_UPDATE_FIELD:
    case X509_V_ERR_UNABLE_TO_GET_CRL_ISSUER:
    case X509_V_ERR_KEYUSAGE_NO_CRL_SIGN:
    case X509_V_ERR_UNHANDLED_CRITICAL_CRL_EXTENSION:
    case X509_V_ERR_DIFFERENT_CRL_SCOPE:
    case X509_V_ERR_CRL_PATH_VALIDATION_ERROR:
#ifdef X509_V_ERR_OCSP_VERIFY_NEEDED
    case X509_V_ERR_OCSP_VERIFY_NEEDED:
    case X509_V_ERR_OCSP_VERIFY_FAILED:
    case X509_V_ERR_OCSP_CERT_UNKNOWN:
#endif
        return VC_REVOCATION_UNKNOWN;

    /* The verifier itself failed. */
    case X509_V_ERR_UNSPECIFIED:
    case X509_V_ERR_OUT_OF_MEM:
    case X509_V_ERR_INVALID_CALL:
    case X509_V_ERR_STORE_LOOKUP:
        return VC_SERVER_ERROR;

    /* Malformed fields and extensions (ERROR_IN_CERT_NOT_*_FIELD,
     * UNHANDLED_CRITICAL_EXTENSION, INVALID_EXTENSION, ...) and anything newer
     * OpenSSL reports about the certificate's content. */
    default:
        return VC_BAD_FORMAT;
    }
}

/* How serious a status is, to pick one when OpenSSL reports several errors:
 * a failing verifier, then forgery, then trust and path, then revocation,
 * misuse, dates, purpose, format, and last an unknown revocation status. */
static int vc_rank(int status)
{
    switch (status) {
    case VC_SERVER_ERROR:
        return 100;
    case VC_SIGNATURE:
        return 90;
    case VC_UNTRUSTED:
        return 80;
    case VC_CHAIN:
        return 75;
    case VC_REVOKED:
        return 70;
    case VC_CHAIN_REVOKED:
        return 68;
    case VC_CA_MISUSED:
        return 60;
    case VC_MISUSED:
        return 55;
    case VC_TIME:
        return 50;
    case VC_CHAIN_TIME:
        return 48;
    case VC_NOT_FOR_SIGNING:
        return 45;
    case VC_ADDRESS:
        return 40;
    case VC_BAD_FORMAT:
        return 35;
    case VC_REVOCATION_UNKNOWN:
        return 20;
    default:
        return 0;
    }
}

/* ---- trust anchors and CRLs ------------------------------------------ */

typedef struct vc_trust_t {
    X509_STORE *store;         /* trust anchors */
    STACK_OF(X509_CRL) * crls; /* from crl_file; possibly empty */
} vc_trust_t;

/* A loaded trust store shared by the requests of this process: loading the
 * system store parses every root, far more work than one verification.
 * Keyed by the configured paths and revalidated by stat() on each use, so
 * an edited CA or CRL file still applies without a restart.  Requests hold
 * a reference; a replaced entry is freed by its last user. */
typedef struct vc_cached_t {
    vc_trust_t trust;
    char *key;     /* "file\npath\ncrl" */
    char *stamp;   /* identity + mtime + size of each configured file */
    unsigned refs; /* the cache's own reference plus one per user */
} vc_cached_t;

#define VC_CACHE_SLOTS 8
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

static void vc_cached_release(vc_cached_t *c)
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

/* The trust store for conf, from the cache or freshly loaded; NULL when the
 * trust anchors cannot be loaded.  Release it with vc_cached_release(). */
static vc_cached_t *vc_trust_acquire(const as_server_conf_t *conf, const as_logger_t *log)
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
    vc_cached_release(old);
    return c;
}

/* ---- decoding the request -------------------------------------------- */

/* The certificate's base64: white space skipped, the last group padded or
 * not.  Returns a malloc()ed buffer, or NULL for invalid or empty input. */
static unsigned char *vc_b64_decode(const unsigned char *in, size_t len, size_t *outlen)
{
    unsigned char *out = malloc(AS_B64_DECODED_MAX(len));

    if (out && as_b64_decode(in, len, out, outlen, AS_B64_BLANKS | AS_B64_PAD_OPTIONAL) &&
        *outlen > 0) {
        return out;
    }
    free(out);
    return NULL;
}

/* One Certificate element of the request. */
typedef struct vc_item_t {
    unsigned char *der; /* decoded bytes (malloc) */
    size_t len;
    X509 *cert; /* NULL: not one DER certificate */
} vc_item_t;

/* Decode a Certificate element into it->der.  Returns 0 for a protocol error
 * (element content, empty, too long, not base64). */
static int vc_item_decode(xmlNodePtr node, vc_item_t *it)
{
    xmlNodePtr c;
    xmlChar *text;
    const unsigned char *p;
    size_t len;

    for (c = node->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return 0;
        }
    }
    text = xmlNodeGetContent(node);
    if (!text) {
        return 0;
    }
    len = strlen((const char *)text);
    it->der = len <= VC_MAX_B64 ? vc_b64_decode(text, len, &it->len) : NULL;
    xmlFree(text);
    if (!it->der) {
        return 0;
    }
    /* OPAQUE content arrives base64-encoded by the decoder: it should then
     * be the DER itself, but a client may have put the base64 text in it. */
    if (it->der[0] != 0x30 &&
        xmlHasNsProp(node, BAD_CAST AS_WBXML_OPAQUE_ATTR, BAD_CAST AS_WBXML_NS_INTERNAL)) {
        size_t len2;
        unsigned char *der2 = vc_b64_decode(it->der, it->len, &len2);
        if (der2) {
            free(it->der);
            it->der = der2;
            it->len = len2;
        }
    }
    /* One certificate and nothing after it. */
    p = it->der;
    it->cert = d2i_X509(NULL, &p, (long)it->len);
    if (it->cert && p != it->der + it->len) {
        X509_free(it->cert);
        it->cert = NULL;
    }
    return 1;
}

static void vc_items_free(vc_item_t *items, int n)
{
    int i;
    for (i = 0; i < n; i++) {
        free(items[i].der);
        X509_free(items[i].cert);
    }
}

/* Collect the Certificate children of a list element into items[*n...].
 * Returns 0 on a protocol error. */
static int vc_collect(xmlNodePtr list, vc_item_t *items, int *n, int *count)
{
    xmlNodePtr c;
    int found = 0;

    for (c = list->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (!as_xml_is(c, VC_NS, "Certificate") || *n >= VC_MAX_CERTS) {
            return 0;
        }
        if (!vc_item_decode(c, &items[(*n)++])) {
            return 0;
        }
        found++;
    }
    *count = found;
    return found > 0;
}

/* ---- verification ------------------------------------------------------ */

typedef struct vc_verdict_t {
    int status; /* most serious status so far */
    int err;    /* the OpenSSL error behind it */
    int depth;
    int check_crl;
} vc_verdict_t;

/* Record every error and let OpenSSL go on, so the worst one can be chosen. */
static int vc_verify_cb(int ok, X509_STORE_CTX *ctx)
{
    vc_verdict_t *v = X509_STORE_CTX_get_app_data(ctx);
    int err, depth, status;

    if (ok || !v) {
        return ok;
    }
    err = X509_STORE_CTX_get_error(ctx);
    depth = X509_STORE_CTX_get_error_depth(ctx);
    status = vc_map_error(err, depth);
    /* An unverifiable revocation status counts only with CheckCRL=1, and
     * never for a trust anchor (depth at or above the trusted part). */
    if (status == VC_REVOCATION_UNKNOWN &&
        (!v->check_crl || depth >= X509_STORE_CTX_get_num_untrusted(ctx))) {
        return 1;
    }
    if (vc_rank(status) > vc_rank(v->status)) {
        v->status = status;
        v->err = err;
        v->depth = depth;
    }
    return 1;
}

static void vc_verify(const vc_trust_t *t, X509 *cert, STACK_OF(X509) * chain, int check_crl,
                      vc_verdict_t *v)
{
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
        v->status = v->err == X509_V_OK ? VC_SERVER_ERROR : vc_map_error(v->err, v->depth);
        if (v->status == VC_OK || v->status == VC_REVOCATION_UNKNOWN) {
            v->status = VC_SERVER_ERROR;
        }
    }
    X509_STORE_CTX_free(ctx);
}

/* Subject in RFC 2253 form (control and non-ASCII bytes escaped), for logs. */
static void vc_subject(X509 *cert, char *buf, int len)
{
    BIO *bio = BIO_new(BIO_s_mem());
    int n = 0;

    if (bio && X509_NAME_print_ex(bio, X509_get_subject_name(cert), 0, XN_FLAG_RFC2253) >= 0) {
        n = BIO_read(bio, buf, len - 1);
    }
    BIO_free(bio);
    buf[n > 0 ? n : 0] = '\0';
}

/* ---- the command --------------------------------------------------------- */

static apr_status_t vc_reply(as_response_t *resp, int status, const int *statuses, int n)
{
    xmlNodePtr root, c;
    char buf[16];
    int i;

    resp->http_status = 200;
    resp->doc = as_reply_new(VC_NS, "ValidateCert", &root);
    if (!resp->doc) {
        return APR_ENOMEM;
    }
    snprintf(buf, sizeof(buf), "%d", status);
    if (!as_xml_add(root, VC_NS, "Status", buf)) {
        goto nomem;
    }
    for (i = 0; i < n; i++) {
        snprintf(buf, sizeof(buf), "%d", statuses[i]);
        if (!(c = as_xml_add(root, VC_NS, "Certificate", NULL)) ||
            !as_xml_add(c, VC_NS, "Status", buf)) {
            goto nomem;
        }
    }
    return APR_SUCCESS;
nomem:
    xmlFreeDoc(resp->doc);
    resp->doc = NULL;
    return APR_ENOMEM;
}

/* Parse CheckCRL: "0" or "1", white space around allowed.  -1 if invalid. */
static int vc_check_crl(xmlNodePtr node)
{
    xmlChar *text = xmlNodeGetContent(node);
    const char *s = (const char *)text;
    int v = -1;

    if (s) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            s++;
        }
        if (*s == '0' || *s == '1') {
            v = *s++ - '0';
        }
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            s++;
        }
        if (*s) {
            v = -1;
        }
    }
    xmlFree(text);
    return v;
}

apr_status_t as_cmd_validatecert(as_request_t *req, as_response_t *resp)
{
    const as_logger_t *log = req->log;
    vc_item_t items[VC_MAX_CERTS];
    int statuses[VC_MAX_CERTS];
    xmlNodePtr root, c, certs = NULL, chainel = NULL, crlel = NULL;
    STACK_OF(X509) *chain = NULL;
    vc_cached_t *trust = NULL;
    int nitems = 0, nchain = 0, ncerts = 0, check_crl = 0, chain_ok = 1, i;
    const char *why = NULL;
    apr_status_t rv;

    memset(items, 0, sizeof(items));
    /* Leave the thread's OpenSSL error queue as we found it (mod_ssl reads
     * it on the same thread). */
    ERR_set_mark();

    /* Shape of the request. */
    root = req->body ? xmlDocGetRootElement(req->body) : NULL;
    if (!as_xml_is(root, VC_NS, "ValidateCert")) {
        why = "the request is not a ValidateCert document";
        goto protocol_error;
    }
    for (c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (as_xml_is(c, VC_NS, "Certificates")) {
            why = certs ? "two Certificates elements" : NULL;
            certs = c;
        } else if (as_xml_is(c, VC_NS, "CertificateChain")) {
            why = chainel ? "two CertificateChain elements" : NULL;
            chainel = c;
        } else if (as_xml_is(c, VC_NS, "CheckCRL")) {
            why = crlel ? "two CheckCRL elements" : NULL;
            crlel = c;
        } else {
            why = "an unexpected element in ValidateCert";
        }
        if (why) {
            goto protocol_error;
        }
    }
    if (!certs) {
        why = "no Certificates element";
        goto protocol_error;
    }
    if (crlel && (check_crl = vc_check_crl(crlel)) < 0) {
        why = "CheckCRL is neither 0 nor 1";
        goto protocol_error;
    }
    /* The chain first, so that items[0..nchain) is the chain. */
    if (chainel && !vc_collect(chainel, items, &nitems, &nchain)) {
        why = "a CertificateChain that is empty, too long, or not base64";
        goto protocol_error;
    }
    if (!vc_collect(certs, items, &nitems, &ncerts)) {
        why = "Certificates that are empty, too many, or not base64";
        goto protocol_error;
    }

    if (!(trust = vc_trust_acquire(req->conf, log))) {
        rv = vc_reply(resp, VC_SERVER_ERROR, NULL, 0);
        goto done;
    }
    if (!(chain = sk_X509_new_null())) {
        rv = vc_reply(resp, VC_SERVER_ERROR, NULL, 0);
        goto done;
    }
    for (i = 0; i < nchain; i++) {
        if (!items[i].cert) {
            chain_ok = 0;
            as_log(log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
                   "ValidateCert: CertificateChain entry %d is not a DER X.509 certificate", i + 1);
        } else if (!sk_X509_push(chain, items[i].cert)) {
            rv = vc_reply(resp, VC_SERVER_ERROR, NULL, 0);
            goto done;
        }
    }

    for (i = 0; i < ncerts; i++) {
        vc_item_t *it = &items[nchain + i];
        vc_verdict_t v;
        char subject[256];

        if (!it->cert) {
            statuses[i] = VC_BAD_FORMAT;
            as_log(log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
                   "ValidateCert: certificate %d of %d is not a DER X.509 certificate: status %d",
                   i + 1, ncerts, statuses[i]);
            continue;
        }
        vc_subject(it->cert, subject, sizeof(subject));
        if (!chain_ok) {
            statuses[i] = VC_CHAIN;
            as_log(log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
                   "ValidateCert: certificate %d of %d \"%s\": status %d (unusable "
                   "CertificateChain)",
                   i + 1, ncerts, subject, statuses[i]);
            continue;
        }
        vc_verify(&trust->trust, it->cert, chain, check_crl, &v);
        statuses[i] = v.status;
        as_log(log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
               "ValidateCert: certificate %d of %d \"%s\": status %d (%s, depth %d%s)", i + 1,
               ncerts, subject, v.status,
               v.status == VC_OK ? "valid for S/MIME signing"
                                 : X509_verify_cert_error_string(v.err),
               v.depth, check_crl ? ", CheckCRL" : "");
    }
    rv = vc_reply(resp, VC_OK, statuses, ncerts);
    goto done;

protocol_error:
    as_log(log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS, "ValidateCert: protocol error: %s", why);
    rv = vc_reply(resp, VC_PROTOCOL, NULL, 0);

done:
    sk_X509_free(chain); /* the certificates belong to items */
    vc_items_free(items, nitems);
    vc_cached_release(trust);
    ERR_pop_to_mark();
    return rv;
}
