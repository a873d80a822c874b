/* ValidateCert (as_cmd_validatecert.c), private parts: the EAS status
 * values, the mapping of OpenSSL verification errors to them, and the
 * per-configuration trust store with the verification itself. */
#ifndef AS_VALIDATECERT_H
#define AS_VALIDATECERT_H

#include <openssl/x509.h>

#include "activesync/as_command.h"
#include "activesync/as_log.h"

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

/* The status of an X509_verify_cert error at a chain depth (0 = the
 * certificate being validated). */
int as_vc_map_error(int err, int depth);

/* How serious a status is, to pick one when OpenSSL reports several errors. */
int as_vc_rank(int status);

/* The trust anchors and CRLs of one configuration, shared by the requests
 * of this process (as_validatecert_trust.c). */
typedef struct as_vc_trust_t as_vc_trust_t;

/* The trust store for conf, from the cache or freshly loaded; NULL when the
 * trust anchors cannot be loaded (logged).  Release it with
 * as_vc_trust_release(). */
as_vc_trust_t *as_vc_trust_acquire(const as_server_conf_t *conf, const as_logger_t *log);
void as_vc_trust_release(as_vc_trust_t *t);

typedef struct as_vc_verdict_t {
    int status; /* most serious status found */
    int err;    /* the OpenSSL error behind it */
    int depth;
    int check_crl;
} as_vc_verdict_t;

/* Verify cert (with the untrusted chain) for S/MIME signing against t. */
void as_vc_verify(const as_vc_trust_t *t, X509 *cert, STACK_OF(X509) * chain, int check_crl,
                  as_vc_verdict_t *v);

#endif
