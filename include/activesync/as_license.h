/* Signed licence documents carrying the mailbox cap (Ed25519, OpenSSL 3).
 *
 * The document is UTF-8 text, one "key: value" per line (LF line ends),
 * easy to read and to diff; '#' lines are comments.  Example:
 *
 *   # mod_activesync licence
 *   format: mod_activesync-license 1
 *   id: 2025-0042
 *   licensee: Example School
 *   mailboxes: 200
 *   issued: 2025-01-15
 *   expires: 2026-01-15
 *   signature: 3q2+7w...(88 base64 characters)...==
 *
 * Rules:
 * - `format` (exactly "mod_activesync-license 1"), `licensee`, `mailboxes`
 *   (1..10000000) and `expires` (YYYY-MM-DD) are required; `id` and `issued`
 *   (YYYY-MM-DD) are optional; no other key, no key twice, no empty value,
 *   no control characters, one space after the colon.
 * - `signature` is the last line: the base64 Ed25519 signature (64 bytes) of
 *   every byte of the file BEFORE the start of that line (comments
 *   included).  Changing any of those bytes breaks the signature.
 * - The licence is valid through the whole `expires` day (UTC): it expires
 *   at 00:00 UTC of the following day.
 * - Keys are PEM files: the vendor's private key (PKCS#8, mode 0600) and the
 *   public key (SubjectPublicKeyInfo) configured with ActiveSyncLicenseKey.
 */
#ifndef AS_LICENSE_H
#define AS_LICENSE_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>

typedef enum {
    AS_LIC_VALID = 0,     /* signature good, not expired */
    AS_LIC_EXPIRED,       /* signature good, expired (msg names the date) */
    AS_LIC_BAD_SIGNATURE, /* well formed, but not signed by this key (or altered) */
    AS_LIC_MALFORMED,     /* not a licence document (msg says what is wrong) */
    AS_LIC_UNREADABLE,    /* the licence file cannot be read */
    AS_LIC_BAD_KEY,       /* the public key cannot be read or is not Ed25519 */
    AS_LIC_UNVERIFIED     /* parsed only: no key given */
} as_license_status_t;

#define AS_LICENSE_FORMAT "mod_activesync-license 1"

typedef struct as_license_t {
    const char *id; /* optional, NULL when absent */
    const char *licensee;
    unsigned mailboxes;
    const char *issued;    /* optional YYYY-MM-DD */
    const char *expires;   /* YYYY-MM-DD */
    apr_time_t expires_at; /* first instant the licence is no longer valid */
} as_license_t;

const char *as_license_status_name(as_license_status_t s); /* "valid", "expired", ... */

/* Parse without verifying: AS_LIC_UNVERIFIED when well formed, else
 * AS_LIC_MALFORMED with *msg. */
as_license_status_t as_license_parse(apr_pool_t *p, const char *text, apr_size_t len,
                                     as_license_t *out, const char **msg);

/* Parse and verify against a PEM public key held in memory. */
as_license_status_t as_license_verify(apr_pool_t *p, const char *text, apr_size_t len,
                                      const char *pubkey_pem, apr_size_t keylen, apr_time_t now,
                                      as_license_t *out, const char **msg);

/* The same from files (pubkey_path NULL: parse only, AS_LIC_UNVERIFIED).
 * *msg is always set to one sentence for a person (also on success). */
as_license_status_t as_license_verify_file(apr_pool_t *p, const char *path, const char *pubkey_path,
                                           apr_time_t now, as_license_t *out, const char **msg);

/* Create a new Ed25519 key pair: private key PEM at priv_path (0600) and
 * public key PEM at pub_path (0644).  Existing files are never overwritten
 * (APR_EEXIST). */
apr_status_t as_license_keygen(apr_pool_t *p, const char *priv_path, const char *pub_path,
                               const char **msg);

/* Produce a signed document for lic (id/issued optional; expires required;
 * expires_at ignored) with the private key at priv_path. */
apr_status_t as_license_sign(apr_pool_t *p, const as_license_t *lic, const char *priv_path,
                             const char **text, const char **msg);

/* "YYYY-MM-DD" -> 00:00 UTC of that day; -1 on a bad date. */
apr_time_t as_license_parse_date(const char *s);

#endif
