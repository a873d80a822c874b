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
 *   status and the most serious one (as_vc_rank) is answered, so an expired
 *   certificate is reported as expired even when its CRL is missing too.
 *
 * Statuses: as_validatecert_status.c; trust stores (loaded once per process
 * and configuration) and verification: as_validatecert_trust.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/x509.h>

#include "activesync/as_base64.h"
#include "as_cmds.h"
#include "as_validatecert.h"
#include "activesync/as_wbxml.h"

#define VC_NS "ValidateCert:"

/* Certificate elements in one request, both lists together (Exchange's limit,
 * MS-ASCMD 3.1.5.8), and characters of base64 in one of them. */
#define VC_MAX_CERTS 100
#define VC_MAX_B64   (64 * 1024)

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

/* A decoded request: items[0..nchain) is the CertificateChain, then the
 * ncerts requested Certificates. */
typedef struct vc_request_t {
    vc_item_t items[VC_MAX_CERTS];
    int nitems, nchain, ncerts, check_crl;
} vc_request_t;

/* Check the shape of the request and decode its certificates into q.
 * Returns NULL, or why the request is a protocol error. */
static const char *vc_parse(xmlDocPtr body, vc_request_t *q)
{
    xmlNodePtr root, c, certs = NULL, chainel = NULL, crlel = NULL;
    const char *why = NULL;

    root = body ? xmlDocGetRootElement(body) : NULL;
    if (!as_xml_is(root, VC_NS, "ValidateCert")) {
        return "the request is not a ValidateCert document";
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
            return why;
        }
    }
    if (!certs) {
        return "no Certificates element";
    }
    if (crlel && (q->check_crl = vc_check_crl(crlel)) < 0) {
        return "CheckCRL is neither 0 nor 1";
    }
    /* The chain first, so that items[0..nchain) is the chain. */
    if (chainel && !vc_collect(chainel, q->items, &q->nitems, &q->nchain)) {
        return "a CertificateChain that is empty, too long, or not base64";
    }
    if (!vc_collect(certs, q->items, &q->nitems, &q->ncerts)) {
        return "Certificates that are empty, too many, or not base64";
    }
    return NULL;
}

/* The status of every requested certificate into statuses[0..ncerts).
 * chain: the usable CertificateChain entries; chain_ok 0 when one was not
 * a certificate. */
static void vc_check_all(const vc_request_t *q, const as_vc_trust_t *trust, STACK_OF(X509) * chain,
                         int chain_ok, const as_logger_t *log, int *statuses)
{
    int i;

    for (i = 0; i < q->ncerts; i++) {
        const vc_item_t *it = &q->items[q->nchain + i];
        as_vc_verdict_t v;
        char subject[256];

        if (!it->cert) {
            statuses[i] = VC_BAD_FORMAT;
            as_log(log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
                   "ValidateCert: certificate %d of %d is not a DER X.509 certificate: status %d",
                   i + 1, q->ncerts, statuses[i]);
            continue;
        }
        vc_subject(it->cert, subject, sizeof(subject));
        if (!chain_ok) {
            statuses[i] = VC_CHAIN;
            as_log(log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
                   "ValidateCert: certificate %d of %d \"%s\": status %d (unusable "
                   "CertificateChain)",
                   i + 1, q->ncerts, subject, statuses[i]);
            continue;
        }
        as_vc_verify(trust, it->cert, chain, q->check_crl, &v);
        statuses[i] = v.status;
        as_log(log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
               "ValidateCert: certificate %d of %d \"%s\": status %d (%s, depth %d%s)", i + 1,
               q->ncerts, subject, v.status,
               v.status == VC_OK ? "valid for S/MIME signing"
                                 : X509_verify_cert_error_string(v.err),
               v.depth, q->check_crl ? ", CheckCRL" : "");
    }
}

apr_status_t as_cmd_validatecert(as_request_t *req, as_response_t *resp)
{
    const as_logger_t *log = req->log;
    vc_request_t q;
    int statuses[VC_MAX_CERTS];
    STACK_OF(X509) *chain = NULL;
    as_vc_trust_t *trust = NULL;
    int chain_ok = 1, i;
    const char *why;
    apr_status_t rv;

    memset(&q, 0, sizeof(q));
    /* Leave the thread's OpenSSL error queue as we found it (mod_ssl reads
     * it on the same thread). */
    ERR_set_mark();

    if ((why = vc_parse(req->body, &q)) != NULL) {
        as_log(log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS, "ValidateCert: protocol error: %s", why);
        rv = vc_reply(resp, VC_PROTOCOL, NULL, 0);
        goto done;
    }
    if (!(trust = as_vc_trust_acquire(req->conf, log)) || !(chain = sk_X509_new_null())) {
        rv = vc_reply(resp, VC_SERVER_ERROR, NULL, 0);
        goto done;
    }
    for (i = 0; i < q.nchain; i++) {
        if (!q.items[i].cert) {
            chain_ok = 0;
            as_log(log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS,
                   "ValidateCert: CertificateChain entry %d is not a DER X.509 certificate", i + 1);
        } else if (!sk_X509_push(chain, q.items[i].cert)) {
            rv = vc_reply(resp, VC_SERVER_ERROR, NULL, 0);
            goto done;
        }
    }
    vc_check_all(&q, trust, chain, chain_ok, log, statuses);
    rv = vc_reply(resp, VC_OK, statuses, q.ncerts);

done:
    sk_X509_free(chain); /* the certificates belong to items */
    vc_items_free(q.items, q.nitems);
    as_vc_trust_release(trust);
    ERR_pop_to_mark();
    return rv;
}
