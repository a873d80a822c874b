/* ValidateCert command: request shapes, reply structure, and the mapping of
 * certificate verification results to MS-ASCMD statuses.
 *
 * The test PKI is made here with the OpenSSL API (EC P-256, a few
 * milliseconds), once per run in an unchecked fixture, and written to a
 * temporary directory as PEM files for the trust store and CRL settings. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libxml/tree.h>
#include <libxml/xmlschemas.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "activesync/as_command.h"
#include "activesync/as_wbxml.h"
#include "unit.h"
#include "as_cmds.h"

#define NS  "ValidateCert:"
#define DAY (24L * 3600L)

/* The schema from the conformance kit beside the repository (../shared). */
#define XSD_FILE "xsd/ValidateCertResponse.xsd"
#define XSD      AS_SRCDIR "/../shared/conformance/" XSD_FILE

/* ---- test PKI ------------------------------------------------------------ */

typedef struct cert_t {
    X509 *x;
    EVP_PKEY *k;
    char *b64; /* base64 of the DER */
} cert_t;

static char tmpdir[64];
static long next_serial = 1000;

static cert_t root, inter, evil_root, inter_revoked, inter_expired, not_ca;
static cert_t leaf_direct, leaf_inter, leaf_expired, leaf_future, leaf_server, leaf_keyenc;
static cert_t leaf_revoked, leaf_under_revoked, leaf_under_expired, leaf_evil, leaf_self,
    leaf_under_not_ca;
static char *tampered_b64;

/* Files in tmpdir. */
static char f_root[128], f_inter[128], f_missing[128], f_crl_all[128], f_crl_stale[128],
    f_crl_garbage[128];

static void add_ext(X509 *x, X509V3_CTX *ctx, int nid, const char *value)
{
    X509_EXTENSION *ext;
    if (!value) {
        return;
    }
    ext = X509V3_EXT_conf_nid(NULL, ctx, nid, value);
    ck_assert_msg(ext != NULL, "extension %d=%s", nid, value);
    ck_assert(X509_add_ext(x, ext, -1));
    X509_EXTENSION_free(ext);
}

static char *der_b64(const unsigned char *der, int len)
{
    char *out = malloc((size_t)(len + 2) / 3 * 4 + 1);
    ck_assert_ptr_nonnull(out);
    EVP_EncodeBlock((unsigned char *)out, der, len);
    return out;
}

static char *cert_b64(X509 *x)
{
    unsigned char *der = NULL;
    int len = i2d_X509(x, &der);
    char *out;
    ck_assert_int_gt(len, 0);
    out = der_b64(der, len);
    OPENSSL_free(der);
    return out;
}

/* A certificate for cn, issued by issuer (NULL: self-signed), valid from
 * now+nb_days to now+na_days, with the given extension values (NULL: none). */
static void make_cert(cert_t *c, const char *cn, const cert_t *issuer, long nb_days, long na_days,
                      const char *bc, const char *ku, const char *eku)
{
    X509V3_CTX ctx;
    X509_NAME *name;
    char san[160];

    c->k = EVP_EC_gen("P-256");
    ck_assert_ptr_nonnull(c->k);
    c->x = X509_new();
    ck_assert(X509_set_version(c->x, X509_VERSION_3));
    ck_assert(ASN1_INTEGER_set(X509_get_serialNumber(c->x), next_serial++));
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notBefore(c->x), nb_days * DAY));
    ck_assert_ptr_nonnull(X509_gmtime_adj(X509_getm_notAfter(c->x), na_days * DAY));
    name = X509_get_subject_name(c->x);
    ck_assert(X509_NAME_add_entry_by_txt(name, "O", MBSTRING_UTF8,
                                         (const unsigned char *)"mod_activesync test", -1, -1, 0));
    ck_assert(X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
                                         -1, 0));
    ck_assert(X509_set_issuer_name(c->x, issuer ? X509_get_subject_name(issuer->x) : name));
    ck_assert(X509_set_pubkey(c->x, c->k));

    X509V3_set_ctx_nodb(&ctx);
    X509V3_set_ctx(&ctx, issuer ? issuer->x : c->x, c->x, NULL, NULL, 0);
    add_ext(c->x, &ctx, NID_basic_constraints, bc);
    add_ext(c->x, &ctx, NID_key_usage, ku);
    add_ext(c->x, &ctx, NID_ext_key_usage, eku);
    add_ext(c->x, &ctx, NID_subject_key_identifier, "hash");
    add_ext(c->x, &ctx, NID_authority_key_identifier, "keyid:always");
    if (!bc || !strstr(bc, "CA:TRUE")) {
        snprintf(san, sizeof(san), "email:%s@example.org", cn);
        for (char *s = san; *s; s++) {
            if (*s == ' ') {
                *s = '.';
            }
        }
        add_ext(c->x, &ctx, NID_subject_alt_name, san);
    }
    ck_assert_int_gt(X509_sign(c->x, issuer ? issuer->k : c->k, EVP_sha256()), 0);
    c->b64 = cert_b64(c->x);
}

#define CA_BC   "critical,CA:TRUE"
#define CA_KU   "critical,keyCertSign,cRLSign"
#define SIG_KU  "critical,digitalSignature,nonRepudiation"
#define SMIME   "emailProtection"
#define LEAF_BC "critical,CA:FALSE"

static void make_leaf(cert_t *c, const char *cn, const cert_t *issuer)
{
    make_cert(c, cn, issuer, -1, 365, LEAF_BC, SIG_KU, SMIME);
}

static X509_CRL *make_crl(const cert_t *issuer, const cert_t *const *revoked, int nrevoked,
                          long last_days, long next_days)
{
    X509_CRL *crl = X509_CRL_new();
    ASN1_TIME *t;
    int i;

    ck_assert_ptr_nonnull(crl);
    ck_assert(X509_CRL_set_version(crl, X509_CRL_VERSION_2));
    ck_assert(X509_CRL_set_issuer_name(crl, X509_get_subject_name(issuer->x)));
    t = ASN1_TIME_adj(NULL, time(NULL), (int)last_days, 0);
    ck_assert(X509_CRL_set1_lastUpdate(crl, t));
    ASN1_TIME_free(t);
    t = ASN1_TIME_adj(NULL, time(NULL), (int)next_days, 0);
    ck_assert(X509_CRL_set1_nextUpdate(crl, t));
    for (i = 0; i < nrevoked; i++) {
        X509_REVOKED *r = X509_REVOKED_new();
        ck_assert(X509_REVOKED_set_serialNumber(r, X509_get_serialNumber(revoked[i]->x)));
        ck_assert(X509_REVOKED_set_revocationDate(r, t));
        ck_assert(X509_CRL_add0_revoked(crl, r));
    }
    ASN1_TIME_free(t);
    ck_assert(X509_CRL_sort(crl));
    ck_assert_int_gt(X509_CRL_sign(crl, issuer->k, EVP_sha256()), 0);
    return crl;
}

static void write_certs(const char *path, const cert_t *const *certs, int n)
{
    FILE *f = fopen(path, "w");
    int i;
    ck_assert_ptr_nonnull(f);
    for (i = 0; i < n; i++) {
        ck_assert(PEM_write_X509(f, certs[i]->x));
    }
    fclose(f);
}

static void write_crls(const char *path, X509_CRL **crls, int n)
{
    FILE *f = fopen(path, "w");
    int i;
    ck_assert_ptr_nonnull(f);
    for (i = 0; i < n; i++) {
        ck_assert(PEM_write_X509_CRL(f, crls[i]));
        X509_CRL_free(crls[i]);
    }
    fclose(f);
}

static void pki_setup(void)
{
    X509_CRL *crls[3];
    unsigned char *der = NULL;
    int len;

    strcpy(tmpdir, "/tmp/as-validatecert-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(tmpdir));

    make_cert(&root, "Test Root CA", NULL, -10, 3650, CA_BC, CA_KU, NULL);
    make_cert(&inter, "Test Issuing CA", &root, -5, 1825, CA_BC, CA_KU, NULL);
    make_cert(&evil_root, "Untrusted Root CA", NULL, -10, 3650, CA_BC, CA_KU, NULL);
    make_cert(&inter_revoked, "Revoked Issuing CA", &root, -5, 1825, CA_BC, CA_KU, NULL);
    make_cert(&inter_expired, "Expired Issuing CA", &root, -400, -2, CA_BC, CA_KU, NULL);
    /* An end-entity certificate (no keyUsage, so chain building accepts it
     * as an issuer) that signs another one. */
    make_cert(&not_ca, "Not A CA", &root, -1, 365, LEAF_BC, NULL, SMIME);

    make_leaf(&leaf_direct, "leaf direct", &root);
    make_leaf(&leaf_inter, "leaf inter", &inter);
    make_cert(&leaf_expired, "leaf expired", &root, -30, -1, LEAF_BC, SIG_KU, SMIME);
    make_cert(&leaf_future, "leaf future", &root, 1, 30, LEAF_BC, SIG_KU, SMIME);
    make_cert(&leaf_server, "leaf server", &root, -1, 365, LEAF_BC, "critical,digitalSignature",
              "serverAuth");
    make_cert(&leaf_keyenc, "leaf keyenc", &root, -1, 365, LEAF_BC, "critical,keyEncipherment",
              SMIME);
    make_leaf(&leaf_revoked, "leaf revoked", &root);
    make_leaf(&leaf_under_revoked, "leaf under revoked CA", &inter_revoked);
    make_cert(&leaf_under_expired, "leaf under expired CA", &inter_expired, -30, 30, LEAF_BC,
              SIG_KU, SMIME);
    make_leaf(&leaf_evil, "leaf evil", &evil_root);
    make_cert(&leaf_self, "leaf self", NULL, -1, 365, LEAF_BC, SIG_KU, SMIME);
    make_leaf(&leaf_under_not_ca, "leaf under not a CA", &not_ca);

    /* leaf_direct with the last byte of its signature changed. */
    len = i2d_X509(leaf_direct.x, &der);
    ck_assert_int_gt(len, 0);
    der[len - 1] ^= 0x01;
    tampered_b64 = der_b64(der, len);
    OPENSSL_free(der);

    snprintf(f_root, sizeof(f_root), "%s/root.pem", tmpdir);
    snprintf(f_inter, sizeof(f_inter), "%s/inter.pem", tmpdir);
    snprintf(f_missing, sizeof(f_missing), "%s/missing.pem", tmpdir);
    snprintf(f_crl_all, sizeof(f_crl_all), "%s/crl-all.pem", tmpdir);
    snprintf(f_crl_stale, sizeof(f_crl_stale), "%s/crl-stale.pem", tmpdir);
    snprintf(f_crl_garbage, sizeof(f_crl_garbage), "%s/crl-garbage.pem", tmpdir);

    write_certs(f_root, (const cert_t *const[]){&root}, 1);
    write_certs(f_inter, (const cert_t *const[]){&inter}, 1);

    /* The root revokes leaf_revoked and inter_revoked; each issuing CA has
     * a CRL too. */
    crls[0] = make_crl(&root, (const cert_t *const[]){&leaf_revoked, &inter_revoked}, 2, -1, 30);
    crls[1] = make_crl(&inter, NULL, 0, -1, 30);
    crls[2] = make_crl(&inter_revoked, NULL, 0, -1, 30);
    write_crls(f_crl_all, crls, 3);
    /* A root CRL whose nextUpdate has passed. */
    crls[0] = make_crl(&root, NULL, 0, -30, -1);
    write_crls(f_crl_stale, crls, 1);
    {
        FILE *f = fopen(f_crl_garbage, "w");
        ck_assert_ptr_nonnull(f);
        fputs("-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n", f);
        fclose(f);
    }
}

static void cert_free(cert_t *c)
{
    X509_free(c->x);
    EVP_PKEY_free(c->k);
    free(c->b64);
}

static void pki_teardown(void)
{
    cert_t *all[] = {
        &root,        &inter,       &evil_root,        &inter_revoked,      &inter_expired,
        &not_ca,      &leaf_direct, &leaf_inter,       &leaf_expired,       &leaf_future,
        &leaf_server, &leaf_keyenc, &leaf_revoked,     &leaf_under_revoked, &leaf_under_expired,
        &leaf_evil,   &leaf_self,   &leaf_under_not_ca};
    size_t i;
    for (i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        cert_free(all[i]);
    }
    free(tampered_b64);
    unlink(f_root);
    unlink(f_inter);
    unlink(f_crl_all);
    unlink(f_crl_stale);
    unlink(f_crl_garbage);
    rmdir(tmpdir);
}

/* ---- capturing logger ---------------------------------------------------- */

#define MAX_LINES 256
static char log_lines[MAX_LINES][512];
static int log_levels[MAX_LINES];
static int log_count;

static int cap_enabled(void *baton, int level)
{
    (void)baton;
    (void)level;
    return 1;
}

static void cap_print(void *baton, const char *file, int line, int level, apr_status_t rv,
                      const char *msg)
{
    (void)baton;
    (void)file;
    (void)line;
    (void)rv;
    if (log_count < MAX_LINES) {
        log_levels[log_count] = level;
        snprintf(log_lines[log_count++], sizeof(log_lines[0]), "%s", msg);
    }
}

static const as_logger_t cap_logger = {cap_enabled, cap_print, NULL};

/* ---- requests and replies ------------------------------------------------- */

static xmlDocPtr req_new(void)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr r = xmlNewDocNode(doc, NULL, BAD_CAST "ValidateCert", NULL);
    xmlDocSetRootElement(doc, r);
    xmlSetNs(r, xmlNewNs(r, BAD_CAST NS, NULL));
    return doc;
}

static xmlNodePtr req_el(xmlNodePtr parent, const char *name, const char *text)
{
    xmlNsPtr ns = xmlSearchNsByHref(parent->doc, parent, BAD_CAST NS);
    return xmlNewTextChild(parent, ns, BAD_CAST name, text ? BAD_CAST text : NULL);
}

static xmlNodePtr req_list(xmlDocPtr doc, const char *name)
{
    return req_el(xmlDocGetRootElement(doc), name, NULL);
}

/* A request: chain (NULL-terminated, may be NULL), certs (NULL-terminated),
 * CheckCRL text (NULL: absent). */
static xmlDocPtr req_make(const char *const *chain, const char *const *certs, const char *checkcrl)
{
    xmlDocPtr doc = req_new();
    xmlNodePtr l;
    if (chain) {
        l = req_list(doc, "CertificateChain");
        for (; *chain; chain++) {
            req_el(l, "Certificate", *chain);
        }
    }
    l = req_list(doc, "Certificates");
    for (; *certs; certs++) {
        req_el(l, "Certificate", *certs);
    }
    if (checkcrl) {
        req_el(xmlDocGetRootElement(doc), "CheckCRL", checkcrl);
    }
    return doc;
}

static as_server_conf_t conf_root(const char *crl_file)
{
    as_server_conf_t c = {.trusted_ca_file = f_root, .crl_file = crl_file};
    return c;
}

/* Run the command on body (consumed) and return the reply. */
static xmlDocPtr run(xmlDocPtr body, const as_server_conf_t *conf)
{
    as_request_t req;
    as_response_t resp;

    memset(&req, 0, sizeof(req));
    memset(&resp, 0, sizeof(resp));
    req.pool = unit_pool;
    req.log = &cap_logger;
    req.account = "alice@example.org";
    req.protocol_version = "14.1";
    req.body = body;
    req.conf = conf;
    log_count = 0;
    ck_assert_int_eq(as_cmd_validatecert(&req, &resp), APR_SUCCESS);
    ck_assert_int_eq(resp.http_status, 200);
    ck_assert_ptr_nonnull(resp.doc);
    if (body) {
        xmlFreeDoc(body);
    }
    return resp.doc;
}

static xmlNodePtr next_el(xmlNodePtr n)
{
    while (n && n->type != XML_ELEMENT_NODE) {
        n = n->next;
    }
    return n;
}

static int el_is(xmlNodePtr n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && n->ns && !strcmp((const char *)n->ns->href, NS) &&
           !strcmp((const char *)n->name, name);
}

static int el_int(xmlNodePtr n)
{
    xmlChar *t = xmlNodeGetContent(n);
    int v = atoi((const char *)t);
    xmlFree(t);
    return v;
}

/* The conformance kit's schema of the reply, when present (parsed once). */
static xmlSchemaPtr reply_schema;

static void quiet(void *ctx, const char *msg, ...)
{
    (void)ctx;
    (void)msg;
}

static void schema_setup(void)
{
    xmlSchemaParserCtxtPtr pctx;

    if (access(XSD, R_OK) != 0) {
        return; /* no kit: check_schema skips each check (unit_conformance) */
    }
    /* The EAS namespace names are not URIs: libxml2 warns, harmlessly. */
    xmlSetGenericErrorFunc(NULL, quiet);
    pctx = xmlSchemaNewParserCtxt(XSD);
    reply_schema = xmlSchemaParse(pctx);
    xmlSchemaFreeParserCtxt(pctx);
    xmlSetGenericErrorFunc(NULL, NULL);
    ck_assert_ptr_nonnull(reply_schema);
}

static void schema_teardown(void)
{
    xmlSchemaFree(reply_schema);
    reply_schema = NULL;
}

/* Validate the reply against the schema, with the namespace spelled as the
 * schema does ("ValidateCert"). */
static void check_schema(xmlDocPtr reply)
{
    xmlSchemaValidCtxtPtr vctx;
    xmlDocPtr copy;
    xmlNsPtr ns;

    if (!reply_schema) {
        ck_assert_ptr_null(unit_conformance(XSD_FILE)); /* counted as skipped */
        return;
    }
    copy = xmlCopyDoc(reply, 1);
    for (ns = xmlDocGetRootElement(copy)->nsDef; ns; ns = ns->next) {
        if (!strcmp((const char *)ns->href, NS)) {
            xmlFree((xmlChar *)ns->href);
            ns->href = xmlStrdup(BAD_CAST "ValidateCert");
        }
    }
    vctx = xmlSchemaNewValidCtxt(reply_schema);
    ck_assert_msg(xmlSchemaValidateDoc(vctx, copy) == 0, "reply does not match %s", XSD);
    xmlSchemaFreeValidCtxt(vctx);
    xmlFreeDoc(copy);
}

/* The reply is ValidateCert{Status=top, Certificate{Status=expected[i]}*n}
 * and nothing else. */
static void check_reply(xmlDocPtr reply, int top, const int *expected, int n)
{
    xmlNodePtr r = xmlDocGetRootElement(reply), c, s;
    int i;

    ck_assert(el_is(r, "ValidateCert"));
    c = next_el(r->children);
    ck_assert_msg(el_is(c, "Status"), "first child is Status");
    ck_assert_int_eq(el_int(c), top);
    for (i = 0; i < n; i++) {
        c = next_el(c->next);
        ck_assert_msg(el_is(c, "Certificate"), "Certificate %d present", i + 1);
        s = next_el(c->children);
        ck_assert(el_is(s, "Status"));
        ck_assert_msg(el_int(s) == expected[i], "certificate %d: status %d, expected %d", i + 1,
                      el_int(s), expected[i]);
        ck_assert_ptr_null(next_el(s->next));
    }
    ck_assert_msg(next_el(c->next) == NULL, "no more than %d Certificate elements", n);
    check_schema(reply);
    xmlFreeDoc(reply);
}

/* One certificate, with a chain (may be NULL) and CheckCRL, against conf. */
static void expect1(const as_server_conf_t *conf, const char *const *chain, const char *cert,
                    const char *checkcrl, int status)
{
    const char *certs[] = {cert, NULL};
    check_reply(run(req_make(chain, certs, checkcrl), conf), 1, &status, 1);
}

static void expect_protocol_error(xmlDocPtr body)
{
    as_server_conf_t conf = conf_root(NULL);
    check_reply(run(body, &conf), 2, NULL, 0);
}

/* ---- trust and chains ------------------------------------------------------ */

START_TEST(valid_direct)
{
    as_server_conf_t conf = conf_root(NULL);
    expect1(&conf, NULL, leaf_direct.b64, NULL, 1);
    expect1(&conf, NULL, leaf_direct.b64, "0", 1);
}
END_TEST

START_TEST(valid_via_intermediate)
{
    as_server_conf_t conf = conf_root(NULL);
    const char *chain[] = {inter.b64, NULL};
    expect1(&conf, chain, leaf_inter.b64, NULL, 1);
    /* The root in the chain as well does no harm. */
    const char *chain2[] = {inter.b64, root.b64, NULL};
    expect1(&conf, chain2, leaf_inter.b64, NULL, 1);
}
END_TEST

START_TEST(missing_intermediate)
{
    as_server_conf_t conf = conf_root(NULL);
    expect1(&conf, NULL, leaf_inter.b64, NULL, 5);
    /* A chain with something else in it does not help. */
    const char *chain[] = {evil_root.b64, NULL};
    expect1(&conf, chain, leaf_inter.b64, NULL, 5);
}
END_TEST

START_TEST(untrusted_root)
{
    as_server_conf_t conf = conf_root(NULL);
    const char *chain[] = {evil_root.b64, NULL};
    expect1(&conf, chain, leaf_evil.b64, NULL, 4);
    /* Without the root the issuer is simply unknown: no chain. */
    expect1(&conf, NULL, leaf_evil.b64, NULL, 5);
    /* A self-signed end-entity certificate. */
    expect1(&conf, NULL, leaf_self.b64, NULL, 4);
}
END_TEST

START_TEST(intermediate_as_anchor)
{
    /* Trusting the issuing CA alone is enough (partial chains). */
    as_server_conf_t conf = {.trusted_ca_file = f_inter};
    expect1(&conf, NULL, leaf_inter.b64, NULL, 1);
    expect1(&conf, NULL, leaf_direct.b64, NULL, 5);
}
END_TEST

START_TEST(trusted_ca_path)
{
    /* A directory without hashed links: nothing in it is found. */
    as_server_conf_t conf = {.trusted_ca_path = tmpdir};
    expect1(&conf, NULL, leaf_direct.b64, NULL, 5);
}
END_TEST

START_TEST(system_store)
{
    /* No trust setting: the system store, which knows nothing of the test CA. */
    as_server_conf_t conf = {0};
    expect1(&conf, NULL, leaf_direct.b64, NULL, 5);
    expect1(&conf, NULL, leaf_self.b64, NULL, 4);
    check_reply(run(req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, NULL), NULL), 1,
                (const int[]){5}, 1);
}
END_TEST

START_TEST(trust_store_unreadable)
{
    as_server_conf_t conf = {.trusted_ca_file = f_missing};
    check_reply(run(req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, NULL), &conf), 17,
                NULL, 0);
}
END_TEST

/* ---- dates, purpose, signature, CA misuse ------------------------------------ */

START_TEST(expired)
{
    as_server_conf_t conf = conf_root(NULL);
    expect1(&conf, NULL, leaf_expired.b64, NULL, 7);
}
END_TEST

START_TEST(not_yet_valid)
{
    as_server_conf_t conf = conf_root(NULL);
    expect1(&conf, NULL, leaf_future.b64, NULL, 7);
}
END_TEST

START_TEST(issuer_expired)
{
    as_server_conf_t conf = conf_root(NULL);
    const char *chain[] = {inter_expired.b64, NULL};
    expect1(&conf, chain, leaf_under_expired.b64, NULL, 8);
}
END_TEST

START_TEST(wrong_eku)
{
    as_server_conf_t conf = conf_root(NULL);
    expect1(&conf, NULL, leaf_server.b64, NULL, 6);
}
END_TEST

START_TEST(wrong_key_usage)
{
    as_server_conf_t conf = conf_root(NULL);
    expect1(&conf, NULL, leaf_keyenc.b64, NULL, 6);
    /* A CA certificate is not a signing certificate either. */
    expect1(&conf, NULL, inter.b64, NULL, 6);
}
END_TEST

START_TEST(bad_signature)
{
    as_server_conf_t conf = conf_root(NULL);
    expect1(&conf, NULL, tampered_b64, NULL, 3);
}
END_TEST

START_TEST(end_entity_as_ca)
{
    as_server_conf_t conf = conf_root(NULL);
    const char *chain[] = {not_ca.b64, NULL};
    expect1(&conf, chain, leaf_under_not_ca.b64, NULL, 11);
}
END_TEST

/* ---- revocation ------------------------------------------------------------ */

START_TEST(revoked_checkcrl)
{
    as_server_conf_t conf = conf_root(f_crl_all);
    expect1(&conf, NULL, leaf_revoked.b64, "1", 13);
    expect1(&conf, NULL, leaf_direct.b64, "1", 1);
    const char *chain[] = {inter.b64, NULL};
    expect1(&conf, chain, leaf_inter.b64, "1", 1);
}
END_TEST

/* The trust store is cached per process: a CRL file rewritten in place
 * (cron refreshing it) must still apply to the next request. */
START_TEST(crl_file_rewritten_in_place)
{
    char path[160];
    const cert_t *revoked[] = {&leaf_direct};
    X509_CRL *crl;
    as_server_conf_t conf;

    snprintf(path, sizeof(path), "%s/crl-rewritten.pem", tmpdir);
    crl = make_crl(&root, NULL, 0, -1, 30);
    write_crls(path, &crl, 1);
    conf = conf_root(path);
    expect1(&conf, NULL, leaf_direct.b64, "1", 1);
    expect1(&conf, NULL, leaf_direct.b64, "1", 1); /* served from the cache */
    crl = make_crl(&root, revoked, 1, -1, 30);
    write_crls(path, &crl, 1);
    expect1(&conf, NULL, leaf_direct.b64, "1", 13);
    unlink(path);
    expect1(&conf, NULL, leaf_direct.b64, "1", 16);
}
END_TEST

START_TEST(revoked_without_checkcrl)
{
    /* A revocation the server knows is reported whatever CheckCRL says. */
    as_server_conf_t conf = conf_root(f_crl_all);
    expect1(&conf, NULL, leaf_revoked.b64, NULL, 13);
    expect1(&conf, NULL, leaf_revoked.b64, "0", 13);
}
END_TEST

START_TEST(revoked_issuer)
{
    as_server_conf_t conf = conf_root(f_crl_all);
    const char *chain[] = {inter_revoked.b64, NULL};
    expect1(&conf, chain, leaf_under_revoked.b64, "1", 15);
    expect1(&conf, chain, leaf_under_revoked.b64, "0", 15);
}
END_TEST

START_TEST(checkcrl_without_crl)
{
    as_server_conf_t conf = conf_root(NULL);
    expect1(&conf, NULL, leaf_direct.b64, "1", 16);
    expect1(&conf, NULL, leaf_direct.b64, "0", 1);
    /* A CRL for the root but none for the issuing CA. */
    as_server_conf_t conf2 = conf_root(f_crl_stale);
    const char *chain[] = {inter.b64, NULL};
    expect1(&conf2, chain, leaf_inter.b64, "1", 16);
    /* Another problem is reported before an unknown revocation status. */
    expect1(&conf, NULL, leaf_expired.b64, "1", 7);
}
END_TEST

START_TEST(checkcrl_stale_crl)
{
    as_server_conf_t conf = conf_root(f_crl_stale);
    expect1(&conf, NULL, leaf_direct.b64, "1", 16);
    expect1(&conf, NULL, leaf_direct.b64, "0", 1);
}
END_TEST

START_TEST(crl_file_broken)
{
    as_server_conf_t conf = conf_root(f_crl_garbage);
    expect1(&conf, NULL, leaf_direct.b64, "1", 16);
    ck_assert_int_ge(log_count, 1);
    ck_assert_int_eq(log_levels[0], AS_LOG_ERR);
    conf = conf_root(f_missing);
    expect1(&conf, NULL, leaf_direct.b64, "1", 16);
    expect1(&conf, NULL, leaf_direct.b64, NULL, 1);
}
END_TEST

/* ---- junk --------------------------------------------------------------------- */

START_TEST(garbage_base64)
{
    static const char *const bad[] = {"@@@@", "QUJD-", "QQ==QQ==", "Q", "QUJD=", "====", "QU=JD"};
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        expect_protocol_error(req_make(NULL, (const char *const[]){bad[i], NULL}, NULL));
    }
    /* In the chain too. */
    expect_protocol_error(req_make((const char *const[]){"%%%", NULL},
                                   (const char *const[]){leaf_direct.b64, NULL}, NULL));
    /* Among good ones. */
    expect_protocol_error(
        req_make(NULL, (const char *const[]){leaf_direct.b64, "not base64!", NULL}, NULL));
}
END_TEST

START_TEST(der_junk)
{
    as_server_conf_t conf = conf_root(NULL);
    char *trailing;
    unsigned char *der = NULL, *buf;
    int len = i2d_X509(leaf_direct.x, &der);

    /* "hello world!" */
    expect1(&conf, NULL, "aGVsbG8gd29ybGQh", NULL, 10);
    /* A DER SEQUENCE that is no certificate. */
    expect1(&conf, NULL, "MAMCAQE=", NULL, 10);
    /* A certificate followed by a byte. */
    buf = malloc((size_t)len + 1);
    memcpy(buf, der, (size_t)len);
    buf[len] = 0;
    trailing = der_b64(buf, len + 1);
    expect1(&conf, NULL, trailing, NULL, 10);
    /* A truncated certificate. */
    free(trailing);
    trailing = der_b64(buf, len - 10);
    expect1(&conf, NULL, trailing, NULL, 10);
    free(trailing);
    free(buf);
    OPENSSL_free(der);
}
END_TEST

START_TEST(chain_junk)
{
    as_server_conf_t conf = conf_root(NULL);
    const char *chain[] = {inter.b64, "aGVsbG8gd29ybGQh", NULL};
    const char *certs[] = {leaf_inter.b64, "aGVsbG8=", NULL};
    check_reply(run(req_make(chain, certs, NULL), &conf), 1, (const int[]){5, 10}, 2);
}
END_TEST

START_TEST(base64_line_breaks)
{
    as_server_conf_t conf = conf_root(NULL);
    size_t n = strlen(leaf_direct.b64), i, o = 0;
    char *wrapped = malloc(n + n / 64 * 2 + 8);
    wrapped[o++] = '\n';
    for (i = 0; i < n; i++) {
        if (i && i % 64 == 0) {
            wrapped[o++] = '\r';
            wrapped[o++] = '\n';
        }
        wrapped[o++] = leaf_direct.b64[i];
    }
    wrapped[o++] = ' ';
    wrapped[o] = '\0';
    expect1(&conf, NULL, wrapped, NULL, 1);
    free(wrapped);
}
END_TEST

START_TEST(opaque_content)
{
    as_server_conf_t conf = conf_root(NULL);
    xmlDocPtr doc = req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, NULL);
    xmlNodePtr cert = next_el(next_el(xmlDocGetRootElement(doc)->children)->children);
    xmlNsPtr ins =
        xmlNewNs(xmlDocGetRootElement(doc), BAD_CAST AS_WBXML_NS_INTERNAL, BAD_CAST "as");
    char *twice;

    /* The decoder's form of OPAQUE DER: base64 text plus the marker. */
    xmlSetNsProp(cert, ins, BAD_CAST AS_WBXML_OPAQUE_ATTR, BAD_CAST "base64");
    check_reply(run(doc, &conf), 1, (const int[]){1}, 1);

    /* OPAQUE holding the base64 text of the certificate. */
    twice = der_b64((const unsigned char *)leaf_direct.b64, (int)strlen(leaf_direct.b64));
    doc = req_make(NULL, (const char *const[]){twice, NULL}, NULL);
    cert = next_el(next_el(xmlDocGetRootElement(doc)->children)->children);
    ins = xmlNewNs(xmlDocGetRootElement(doc), BAD_CAST AS_WBXML_NS_INTERNAL, BAD_CAST "as");
    xmlSetNsProp(cert, ins, BAD_CAST AS_WBXML_OPAQUE_ATTR, BAD_CAST "base64");
    check_reply(run(doc, &conf), 1, (const int[]){1}, 1);
    /* Without the marker that is not a certificate. */
    expect1(&conf, NULL, twice, NULL, 10);
    free(twice);
}
END_TEST

START_TEST(mixed_results_in_order)
{
    as_server_conf_t conf = conf_root(f_crl_all);
    const char *chain[] = {inter.b64, NULL};
    const char *certs[] = {leaf_direct.b64, leaf_expired.b64, "aGVsbG8=",
                           leaf_server.b64, leaf_revoked.b64, leaf_inter.b64,
                           leaf_evil.b64,   tampered_b64,     NULL};
    check_reply(run(req_make(chain, certs, "1"), &conf), 1, (const int[]){1, 7, 10, 6, 13, 1, 5, 3},
                8);
}
END_TEST

START_TEST(one_hundred_certificates)
{
    as_server_conf_t conf = conf_root(NULL);
    const char *certs[102];
    int expected[100], i;

    for (i = 0; i < 100; i++) {
        certs[i] = i % 2 ? leaf_expired.b64 : leaf_direct.b64;
        expected[i] = i % 2 ? 7 : 1;
    }
    certs[100] = NULL;
    check_reply(run(req_make(NULL, certs, NULL), &conf), 1, expected, 100);
    /* 101 is too many; so are 100 plus a chain. */
    certs[100] = leaf_direct.b64;
    certs[101] = NULL;
    expect_protocol_error(req_make(NULL, certs, NULL));
    certs[100] = NULL;
    expect_protocol_error(req_make((const char *const[]){inter.b64, NULL}, certs, NULL));
}
END_TEST

START_TEST(huge_certificate)
{
    size_t n = 70 * 1024;
    char *big = malloc(n + 1);
    memset(big, 'A', n);
    big[n] = '\0';
    expect_protocol_error(req_make(NULL, (const char *const[]){big, NULL}, NULL));
    free(big);
}
END_TEST

/* ---- request shape ------------------------------------------------------------ */

START_TEST(missing_certificates)
{
    xmlDocPtr doc = req_new();
    req_el(xmlDocGetRootElement(doc), "CheckCRL", "1");
    expect_protocol_error(doc);
    /* Only a chain. */
    doc = req_new();
    req_el(req_list(doc, "CertificateChain"), "Certificate", inter.b64);
    expect_protocol_error(doc);
    /* Certificates without Certificate. */
    doc = req_new();
    req_list(doc, "Certificates");
    expect_protocol_error(doc);
    /* An empty ValidateCert. */
    expect_protocol_error(req_new());
}
END_TEST

START_TEST(empty_elements)
{
    expect_protocol_error(req_make(NULL, (const char *const[]){"", NULL}, NULL));
    expect_protocol_error(req_make(NULL, (const char *const[]){" \r\n ", NULL}, NULL));
    expect_protocol_error(req_make((const char *const[]){"", NULL},
                                   (const char *const[]){leaf_direct.b64, NULL}, NULL));
    /* An empty CertificateChain. */
    xmlDocPtr doc = req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, NULL);
    req_list(doc, "CertificateChain");
    expect_protocol_error(doc);
}
END_TEST

START_TEST(checkcrl_values)
{
    as_server_conf_t conf = conf_root(f_crl_all);
    expect1(&conf, NULL, leaf_direct.b64, " 1\n", 1);
    expect_protocol_error(req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, "yes"));
    expect_protocol_error(req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, "2"));
    expect_protocol_error(req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, "10"));
    expect_protocol_error(req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, ""));
}
END_TEST

START_TEST(wrong_root)
{
    xmlDocPtr doc = xmlNewDoc(BAD_CAST "1.0");
    xmlNodePtr r = xmlNewDocNode(doc, NULL, BAD_CAST "Sync", NULL);
    xmlDocSetRootElement(doc, r);
    xmlSetNs(r, xmlNewNs(r, BAD_CAST "AirSync:", NULL));
    expect_protocol_error(doc);

    /* The right name in the wrong namespace. */
    doc = xmlNewDoc(BAD_CAST "1.0");
    r = xmlNewDocNode(doc, NULL, BAD_CAST "ValidateCert", NULL);
    xmlDocSetRootElement(doc, r);
    xmlSetNs(r, xmlNewNs(r, BAD_CAST "ResolveRecipients:", NULL));
    expect_protocol_error(doc);

    /* No body at all. */
    expect_protocol_error(NULL);
}
END_TEST

START_TEST(unexpected_structure)
{
    xmlDocPtr doc;
    xmlNodePtr l;

    /* Two Certificates lists. */
    doc = req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, NULL);
    req_el(req_list(doc, "Certificates"), "Certificate", leaf_direct.b64);
    expect_protocol_error(doc);
    /* Two CheckCRL. */
    doc = req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, "1");
    req_el(xmlDocGetRootElement(doc), "CheckCRL", "1");
    expect_protocol_error(doc);
    /* A Status in the request. */
    doc = req_make(NULL, (const char *const[]){leaf_direct.b64, NULL}, NULL);
    req_el(xmlDocGetRootElement(doc), "Status", "1");
    expect_protocol_error(doc);
    /* Something else than Certificate in Certificates. */
    doc = req_new();
    l = req_list(doc, "Certificates");
    req_el(l, "Certificate", leaf_direct.b64);
    req_el(l, "CheckCRL", "1");
    expect_protocol_error(doc);
    /* A Certificate with an element inside. */
    doc = req_new();
    l = req_el(req_list(doc, "Certificates"), "Certificate", NULL);
    req_el(l, "Certificate", leaf_direct.b64);
    expect_protocol_error(doc);
}
END_TEST

/* ---- logging ------------------------------------------------------------------ */

START_TEST(one_debug_line_per_certificate)
{
    as_server_conf_t conf = conf_root(NULL);
    const char *certs[] = {leaf_direct.b64, leaf_expired.b64, "aGVsbG8=", NULL};
    int i, lines = 0;

    check_reply(run(req_make(NULL, certs, NULL), &conf), 1, (const int[]){1, 7, 10}, 3);
    for (i = 0; i < log_count; i++) {
        ck_assert_ptr_null(strstr(log_lines[i], leaf_direct.b64));
        ck_assert_ptr_null(strstr(log_lines[i], "aGVsbG8="));
        if (strstr(log_lines[i], "ValidateCert: certificate ")) {
            ck_assert_int_eq(log_levels[i], AS_LOG_DEBUG);
            lines++;
        }
    }
    ck_assert_int_eq(lines, 3);
    ck_assert_ptr_nonnull(strstr(log_lines[0], "CN=leaf direct"));
    ck_assert_ptr_nonnull(strstr(log_lines[0], "status 1"));
    ck_assert_ptr_nonnull(strstr(log_lines[1], "CN=leaf expired"));
    ck_assert_ptr_nonnull(strstr(log_lines[1], "status 7"));
    ck_assert_ptr_nonnull(strstr(log_lines[2], "status 10"));
}
END_TEST

/* The schema check above rejects a reply in the wrong order. */
START_TEST(schema_check_bites)
{
    xmlNodePtr r, c;
    xmlDocPtr doc;
    xmlSchemaValidCtxtPtr vctx;

    if (!reply_schema) {
        return;
    }
    doc = as_reply_new("ValidateCert", "ValidateCert", &r);
    c = xmlNewChild(r, r->ns, BAD_CAST "Certificate", NULL);
    xmlNewTextChild(c, r->ns, BAD_CAST "Status", BAD_CAST "1");
    xmlNewTextChild(r, r->ns, BAD_CAST "Status", BAD_CAST "1");
    vctx = xmlSchemaNewValidCtxt(reply_schema);
    xmlSchemaSetValidErrors(vctx, quiet, quiet, NULL);
    ck_assert_int_ne(xmlSchemaValidateDoc(vctx, doc), 0);
    xmlSchemaFreeValidCtxt(vctx);
    xmlFreeDoc(doc);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("validatecert");
    TCase *tc;

    tc = tcase_create("trust");
    tcase_add_unchecked_fixture(tc, pki_setup, pki_teardown);
    tcase_add_unchecked_fixture(tc, schema_setup, schema_teardown);
    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, valid_direct);
    tcase_add_test(tc, crl_file_rewritten_in_place);
    tcase_add_test(tc, valid_via_intermediate);
    tcase_add_test(tc, missing_intermediate);
    tcase_add_test(tc, untrusted_root);
    tcase_add_test(tc, intermediate_as_anchor);
    tcase_add_test(tc, trusted_ca_path);
    tcase_add_test(tc, system_store);
    tcase_add_test(tc, trust_store_unreadable);
    tcase_add_test(tc, expired);
    tcase_add_test(tc, not_yet_valid);
    tcase_add_test(tc, issuer_expired);
    tcase_add_test(tc, wrong_eku);
    tcase_add_test(tc, wrong_key_usage);
    tcase_add_test(tc, bad_signature);
    tcase_add_test(tc, end_entity_as_ca);
    tcase_add_test(tc, revoked_checkcrl);
    tcase_add_test(tc, revoked_without_checkcrl);
    tcase_add_test(tc, revoked_issuer);
    tcase_add_test(tc, checkcrl_without_crl);
    tcase_add_test(tc, checkcrl_stale_crl);
    tcase_add_test(tc, crl_file_broken);
    tcase_add_test(tc, garbage_base64);
    tcase_add_test(tc, der_junk);
    tcase_add_test(tc, chain_junk);
    tcase_add_test(tc, base64_line_breaks);
    tcase_add_test(tc, opaque_content);
    tcase_add_test(tc, mixed_results_in_order);
    tcase_add_test(tc, one_hundred_certificates);
    tcase_add_test(tc, huge_certificate);
    tcase_add_test(tc, missing_certificates);
    tcase_add_test(tc, empty_elements);
    tcase_add_test(tc, checkcrl_values);
    tcase_add_test(tc, wrong_root);
    tcase_add_test(tc, unexpected_structure);
    tcase_add_test(tc, one_debug_line_per_certificate);
    tcase_add_test(tc, schema_check_bites);
    suite_add_tcase(s, tc);
    return s;
}
