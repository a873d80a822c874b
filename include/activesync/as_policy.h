/* Provisioning policies (MS-ASPROV EASProvisionDoc) as inheritable settings.
 *
 * A policy is the set of EASProvisionDoc settings (as_pol_t, in the order the
 * schema gives them).  Each setting may be defined explicitly at domain,
 * account-class and account level, or inherited; the resolution and the
 * source reporting are the mobility options' (as_inherit_source(),
 * DESIGN §1): the account's explicit value, else the class's, else the
 * domain's, else the built-in default.  The built-in defaults are those of
 * Exchange's "Default" mobile device mailbox policy (no device password,
 * everything allowed, no size or age limits).
 *
 * Storage: the explicit settings of a level live in the level's directory
 * record (as_directory.h, record version 2), so creating, listing and
 * removing domains, classes and accounts keeps options and policies
 * together.
 *
 * Value types:
 *   bool   0/1 (also on/off, yes/no, true/false)
 *   uint   min..max; some also "unlimited" (sent as an empty element, as
 *          Exchange does for MaxAttachmentSize and the like), stored as
 *          AS_POL_EMPTY; some accept only a set of values (age filters)
 *   int    the truncation sizes: -1 (no limit) or 0..max (KB)
 *   list   the two application lists: comma-separated items, each
 *          1..AS_POL_LIST_ITEM_MAX printable characters, at most
 *          AS_POL_LIST_MAX bytes in all
 *
 * Policy key: as_policy_key() hashes the effective policy (a canonical text
 * of every setting, SHA-256) with a per-device nonce into a nonzero uint32.
 * The key of a device therefore changes exactly when the effective policy
 * of its account changes -- an administrator's change at any level reaches
 * every affected device on its next request, without scanning devices --
 * and it does not depend on the protocol version the device speaks (a key
 * that changed with the version made Outlook loop, grommunio-sync #26).
 */
#ifndef AS_POLICY_H
#define AS_POLICY_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <libxml/tree.h>

#include "as_directory.h"

/* The settings, in EASProvisionDoc schema order. */
typedef enum {
    AS_POL_DEVICE_PASSWORD_ENABLED = 0,
    AS_POL_ALPHANUMERIC_PASSWORD_REQUIRED,
    AS_POL_PASSWORD_RECOVERY_ENABLED,
    AS_POL_REQUIRE_STORAGE_CARD_ENCRYPTION,
    AS_POL_ATTACHMENTS_ENABLED,
    AS_POL_MIN_PASSWORD_LENGTH,
    AS_POL_MAX_INACTIVITY_LOCK,
    AS_POL_MAX_FAILED_ATTEMPTS,
    AS_POL_MAX_ATTACHMENT_SIZE,
    AS_POL_ALLOW_SIMPLE_PASSWORD,
    AS_POL_PASSWORD_EXPIRATION,
    AS_POL_PASSWORD_HISTORY,
    AS_POL_ALLOW_STORAGE_CARD,
    AS_POL_ALLOW_CAMERA,
    AS_POL_REQUIRE_DEVICE_ENCRYPTION,
    AS_POL_ALLOW_UNSIGNED_APPLICATIONS,
    AS_POL_ALLOW_UNSIGNED_INSTALLATION_PACKAGES,
    AS_POL_MIN_COMPLEX_CHARACTERS,
    AS_POL_ALLOW_WIFI,
    AS_POL_ALLOW_TEXT_MESSAGING,
    AS_POL_ALLOW_POPIMAP_EMAIL,
    AS_POL_ALLOW_BLUETOOTH,
    AS_POL_ALLOW_IRDA,
    AS_POL_REQUIRE_MANUAL_SYNC_ROAMING,
    AS_POL_ALLOW_DESKTOP_SYNC,
    AS_POL_MAX_CALENDAR_AGE_FILTER,
    AS_POL_ALLOW_HTML_EMAIL,
    AS_POL_MAX_EMAIL_AGE_FILTER,
    AS_POL_MAX_EMAIL_BODY_TRUNCATION,
    AS_POL_MAX_EMAIL_HTML_BODY_TRUNCATION,
    AS_POL_REQUIRE_SIGNED_SMIME,
    AS_POL_REQUIRE_ENCRYPTED_SMIME,
    AS_POL_SIGNED_SMIME_ALGORITHM,
    AS_POL_ENCRYPTION_SMIME_ALGORITHM,
    AS_POL_SMIME_ALGORITHM_NEGOTIATION,
    AS_POL_ALLOW_SMIME_SOFT_CERTS,
    AS_POL_ALLOW_BROWSER,
    AS_POL_ALLOW_CONSUMER_EMAIL,
    AS_POL_ALLOW_REMOTE_DESKTOP,
    AS_POL_ALLOW_INTERNET_SHARING,
    AS_POL_UNAPPROVED_INROM_APPS,
    AS_POL_APPROVED_APPS,
    AS_POL_COUNT
} as_pol_t;

typedef enum { AS_POLT_BOOL = 0, AS_POLT_UINT, AS_POLT_INT, AS_POLT_LIST } as_pol_type_t;

#define AS_POL_EMPTY         (-1) /* uint settings: "unlimited" (empty element) */
#define AS_POL_NLISTS        2
#define AS_POL_LIST_MAX      1024
#define AS_POL_LIST_ITEM_MAX 256

/* Explicit settings of one level (bit n of `defined`: setting n is set). */
typedef struct as_polset_t {
    apr_uint64_t defined;
    long value[AS_POL_COUNT];                      /* bool/uint/int settings */
    char list[AS_POL_NLISTS][AS_POL_LIST_MAX + 1]; /* list settings ("" = empty list) */
} as_polset_t;

/* Effective policy with the level each setting came from. */
typedef struct as_policy_t {
    as_polset_t v; /* every setting defined */
    as_src_t source[AS_POL_COUNT];
} as_policy_t;

/* A set of changes to one level. */
typedef struct as_poledit_t {
    apr_uint64_t set_mask;   /* settings to set, to the values in `values` */
    apr_uint64_t unset_mask; /* settings to make inherited */
    as_polset_t values;
} as_poledit_t;

/* ---- the settings table ----------------------------------------------------- */

const char *as_pol_name(as_pol_t s);    /* EAS element name, "DevicePasswordEnabled" */
int as_pol_from_name(const char *name); /* case-insensitive; -1 when unknown */
as_pol_type_t as_pol_type(as_pol_t s);
const char *as_pol_help(as_pol_t s); /* one line: meaning and accepted values */

/* Value of setting s in a set as text: "1", "900", "unlimited", "-1", list text. */
const char *as_pol_format(apr_pool_t *p, const as_polset_t *set, as_pol_t s);

/* ---- sets ----------------------------------------------------------------------- */

int as_polset_has(const as_polset_t *s, as_pol_t i); /* NULL-safe */
int as_polset_empty(const as_polset_t *s);           /* NULL or nothing defined */
/* Built-in defaults (every setting defined). */
const as_polset_t *as_policy_builtin(void);

/* The resolution rule; any level may be NULL. */
void as_policy_resolve(const as_polset_t *domain, const as_polset_t *cls,
                       const as_polset_t *account, as_policy_t *out);
/* Resolve for an account view (as_dir_account_get / as_dir_txn_resolve). */
void as_policy_resolve_account(const as_dir_account_t *a, as_policy_t *out);

/* ---- edits ---------------------------------------------------------------------- */

/* "Name=value" (set) or "Name" (unset) into edit; AS_DIR_EINVAL with a
 * sentence in *err for an unknown setting or a bad value. */
apr_status_t as_poledit_parse_set(apr_pool_t *p, as_poledit_t *edit, const char *word,
                                  const char **err);
apr_status_t as_poledit_parse_unset(apr_pool_t *p, as_poledit_t *edit, const char *word,
                                    const char **err);
/* Apply an edit to a level's set. */
void as_poledit_apply(as_polset_t *set, const as_poledit_t *edit);

/* ---- record encoding (inside directory records, as_directory.c) ----------------- */

/* Upper bound of as_polset_encode()'s output. */
#define AS_POLSET_ENC_MAX (1 + AS_POL_COUNT * 5 + AS_POL_NLISTS * (3 + AS_POL_LIST_MAX))
/* Encode the defined settings: byte count, then per setting its index and a
 * 4-byte big-endian value, or for lists index, 2-byte length, bytes.
 * Returns the length written (buf holds AS_POLSET_ENC_MAX). */
size_t as_polset_encode(const as_polset_t *s, unsigned char *buf);
/* Decode; 0 or AS_DB_ECORRUPT. */
int as_polset_decode(const unsigned char *buf, size_t len, as_polset_t *s);

/* ---- key and document --------------------------------------------------------------- */

/* The final policy key of a device: nonzero, changes when the effective
 * policy changes (see above). */
apr_uint32_t as_policy_key(const as_policy_t *pol, apr_uint32_t device_nonce);

/* Append <EASProvisionDoc> (namespace "Provision:") with every setting in
 * schema order to parent.  protocol_version selects the elements the version
 * defines ("12.0": only the first twelve; 12.1 and later: all). */
xmlNodePtr as_policy_add_doc(xmlNodePtr parent, const as_policy_t *pol,
                             const char *protocol_version);

#endif
