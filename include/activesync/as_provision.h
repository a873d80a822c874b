/* Provisioning (MS-ASPROV): the per-request gate and the Provision
 * exchange's state changes.  The Provision command (as_cmd_provision.c)
 * parses and builds the documents; this file decides.
 *
 * THE GATE (as_provision_gate), once per POST, after authentication, the
 * account mapping and the cap gate, before the body is decoded.  In ONE
 * read transaction (plus a small write when the device record must change)
 * it records the contact (as_device_touch's rule), reads the domain's rules
 * and the account's effective policy, and answers:
 *
 *   AS_GATE_SERVE      run the command
 *   AS_GATE_BLOCKED    403 (blocked device: explicit block or a domain rule;
 *                      or an account-only wipe pending for a device whose
 *                      protocol cannot carry it); `reason` for the log line
 *   AS_GATE_WIPED      403: the device acknowledged a remote wipe; refused
 *                      until an administrator removes it
 *   AS_GATE_DEVICE_LIMIT  a device without a record, of an account that
 *                      already has max_devices (ActiveSyncMaxDevices): no
 *                      record is written.  14.0 and later: HTTP 200 with the
 *                      command's root element and the common status 177
 *                      MaximumDevicesReached (MS-ASCMD 2.2.2) -- Provision
 *                      too, in Provision/Status; 12.x (no common status
 *                      codes) and commands whose reply has no top-level
 *                      Status: HTTP 403, what Exchange answers a device it
 *                      does not allow (449 would send it round a
 *                      provisioning loop that can never succeed).
 *   AS_GATE_PROVISION  the device must (re)provision: send `http_status`
 *                      with `doc` as the body when doc is not NULL:
 *                      - protocol 12.x: 449, no body;
 *                      - 14.0 and later: the command's own root element
 *                        with a top-level Status (as_provision_status_doc):
 *                        142 no/zero policy key, 143 the key was valid but
 *                        the policy changed since, 144 a key we never issued
 *                        (or issued for another policy), 140 a remote wipe
 *                        is pending; HTTP 200 -- or 449 with the same body
 *                        (see inband_449); commands whose reply has no
 *                        top-level Status (MeetingResponse, GetAttachment,
 *                        unknown) get 449 without a body.
 *
 * Exempt commands: Provision itself (it must work to provision; a blocked
 * or wiped device is still refused).  OPTIONS never reaches the gate.
 * Ping is NOT exempt (some servers let it through): a device that only
 * pushes must still learn about a policy change or a pending wipe.
 *
 * Modes (ActiveSyncProvisioning):
 *   On     every device must hold the key of the current policy.
 *   Off    no key is demanded (a pending wipe is still delivered, blocks
 *          still apply, and Provision still works for devices that ask).
 *   Loose  as Exchange's AllowNonProvisionableDevices: a device that sends
 *          no policy key at all (no X-MS-PolicyKey header, no key in the
 *          base64 query) and has never provisioned is served; a device that
 *          sends a key (even 0) or has provisioned before is held to On.
 *
 * inband_449 (14.0+ devices): AS_INBAND_ONLY answers 200 with the in-band
 * status; AS_INBAND_AND_449 always answers 449 with the in-band body (what
 * Horde does: "some devices report 14.1 but don't accept the WBXML");
 * AS_INBAND_AUTO (default) answers the first AS_GATE_449_AFTER consecutive
 * demands in-band and, from then on, 449 with the same body -- so only a
 * device that ignores the in-band status sees 449.  The count is kept in the
 * device record (prov_demands) and reset by any Provision request.
 */
#ifndef AS_PROVISION_H
#define AS_PROVISION_H

#include <apr_pools.h>
#include <libxml/tree.h>

#include "as_db.h"
#include "as_device.h"
#include "as_policy.h"

#define AS_POLICY_TYPE_WBXML "MS-EAS-Provisioning-WBXML"

/* Common status codes (MS-ASCMD 2.2.2) used by provisioning. */
#define AS_STATUS_REMOTE_WIPE     140
#define AS_STATUS_NOT_PROVISIONED 142
#define AS_STATUS_POLICY_REFRESH  143
#define AS_STATUS_INVALID_POLICY  144
#define AS_STATUS_MAX_DEVICES     177 /* MaximumDevicesReached */
#define AS_GATE_449_AFTER         2

typedef enum { AS_PROVISIONING_ON = 0, AS_PROVISIONING_OFF, AS_PROVISIONING_LOOSE } as_prov_mode_t;
typedef enum { AS_INBAND_AUTO = 0, AS_INBAND_ONLY, AS_INBAND_AND_449 } as_inband_449_t;

typedef enum {
    AS_GATE_SERVE = 0,
    AS_GATE_PROVISION,
    AS_GATE_BLOCKED,
    AS_GATE_WIPED,
    AS_GATE_DEVICE_LIMIT
} as_gate_verdict_t;

typedef struct as_gate_in_t {
    const char *account;          /* canonical local@domain */
    const char *device_key;       /* request line device_key */
    const char *device_type;      /* request line */
    const char *user_agent;       /* User-Agent header, may be NULL */
    const char *protocol_version; /* the request's version */
    const char *command;          /* canonical name ("Sync"); NULL for an unknown command */
    /* The policy key: the X-MS-PolicyKey header text (plain form; NULL when
     * absent), or for the base64 form has_key/key from the request line. */
    const char *policy_key_header;
    int has_key;
    apr_uint32_t key;
    as_prov_mode_t mode;
    as_inband_449_t inband_449;
    unsigned max_devices; /* device records per account (0: no limit) */
    apr_time_t now;       /* 0: now */
} as_gate_in_t;

typedef struct as_gate_t {
    as_gate_verdict_t verdict;
    int http_status; /* 200 (serve or in-band), 449 or 403 */
    int eas_status;  /* 140/142/143/144 for AS_GATE_PROVISION, 177 for AS_GATE_DEVICE_LIMIT */
    xmlDocPtr doc;   /* body for AS_GATE_PROVISION/DEVICE_LIMIT, or NULL; freed by the caller */
    const char *reason;
    as_device_t device; /* the device record after the contact */
} as_gate_t;

/* The policy key of a request: the header text "1234567890" (decimal
 * uint32; "0" and NULL count as none) or the base64 field.  *present: a key
 * was sent (even 0); returns the key, 0 when none.  A header that is not a
 * decimal uint32 counts as present with key 0xFFFFFFFF-invalid: *valid=0. */
apr_uint32_t as_policy_key_from_request(const char *header, int has_key, apr_uint32_t key,
                                        int *present, int *valid);

/* Is the command exempt from provisioning (Provision)? */
int as_provision_exempt(const char *command);

/* The gate.  Returns APR_SUCCESS with *out filled, or a database status
 * (AS_DB_EUNAVAIL / AS_DB_EBUSY: 503 + Retry-After). */
apr_status_t as_provision_gate(as_db_t *db, apr_pool_t *p, const as_gate_in_t *in, as_gate_t *out);

/* <Root xmlns="Ns:"><Status>status</Status></Root> for a command (the root
 * and namespace of its reply, per the command table), or NULL when its reply
 * has no top-level Status (MeetingResponse, GetAttachment) or the command is
 * unknown: answer 449 without a body then. */
xmlDocPtr as_provision_status_doc(const char *command, int status);

/* ---- the Provision exchange ------------------------------------------------------ */

typedef enum {
    AS_PROVREQ_POLICY = 0, /* phase 1: the policy is requested */
    AS_PROVREQ_ACK,        /* phase 2: the device acknowledges a key with a Status */
    AS_PROVREQ_WIPE_ACK,   /* RemoteWipe/Status or AccountOnlyRemoteWipe/Status */
    AS_PROVREQ_INFO_ONLY   /* only DeviceInformation (nothing to provision) */
} as_provreq_kind_t;

typedef struct as_provreq_t {
    as_provreq_kind_t kind;
    const char *account, *device_key, *device_type, *user_agent, *protocol_version;
    int policy_type_ok;    /* POLICY/ACK: PolicyType is MS-EAS-Provisioning-WBXML */
    apr_uint32_t ack_key;  /* ACK: the key acknowledged (0: not a number) */
    int ack_status;        /* ACK: the device's Status (1 applied ...); WIPE_ACK: its Status */
    int wipe_account_only; /* WIPE_ACK: AccountOnlyRemoteWipe */
    const as_device_info_t *info; /* DeviceInformation to record, or NULL */
    apr_time_t now;               /* 0: now */
} as_provreq_t;

typedef struct as_provres_t {
    int status;        /* Provision Status: 1 ok, 2 protocol error, 3 server error */
    int wipe;          /* 1: answer RemoteWipe, 2: AccountOnlyRemoteWipe (no Policies) */
    int policy_status; /* Policy Status (0: no Policies element) */
    apr_uint32_t key;  /* PolicyKey to send (0: none) */
    int send_doc;      /* include Data/EASProvisionDoc */
    int info_status;   /* DeviceInformation Status to send (0: none) */
    as_policy_t policy;
    const char *log; /* what happened, for a debug line */
} as_provres_t;

/* Apply one Provision request to the device's state (one transaction). */
apr_status_t as_provision_run(as_db_t *db, apr_pool_t *p, const as_provreq_t *req,
                              as_provres_t *res);

/* The effective policy and the current final key of a device (tests, admin). */
apr_status_t as_provision_expected(as_db_t *db, apr_pool_t *p, const char *account,
                                   const char *device_key, as_policy_t *pol, apr_uint32_t *key);

#endif
