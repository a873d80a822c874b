/* The EAS request line (MS-ASHTTP 2.2.1.1.1): the plain query
 * "Cmd=Sync&User=..&DeviceId=..&DeviceType=.." and the base64-encoded binary
 * form.  Both parse into the same structure; the parser validates every
 * field so that nothing a client sends reaches a path or a log unchecked.
 *
 * Which form: a query is the plain form iff, once trailing '=' characters
 * (base64 padding) are set aside, it still contains '=' or '&'.  A valid
 * base64 query can contain neither, and every plain query carries at least
 * one "name=value" or two parameters.  The base64 form is percent-decoded
 * first (clients may send '+', '/', '=' as %2B, %2F, %3D; a raw '+' stays a
 * '+'), then decoded strictly (RFC 4648 alphabet, canonical trailing
 * bits, no white space).  The '=' padding may be complete or left out
 * altogether, as other servers accept (some clients omit it); a partial
 * padding ("xx=") is refused.
 *
 * Plain form:
 *  - application/x-www-form-urlencoded semantics: "%XX" is decoded and '+'
 *    is a space.  A malformed "%" escape is an error.  Empty segments
 *    ("a=1&&b=2", a trailing '&') are skipped.
 *  - Parameter names are matched case-insensitively ("cmd=" = "Cmd="), as
 *    Exchange (IIS/ASP.NET) does; values are case-preserving.
 *  - A known parameter given twice is an error.  Unknown parameters are
 *    ignored (counted in unknown_params) after the same checks as known
 *    ones (valid escapes, no control characters, valid UTF-8, bounded
 *    length): a real server must not break on a client that adds something.
 *  - A known optional parameter with an empty value ("ItemId=") counts as
 *    absent (it still counts for the duplicate check).
 *
 * Values, both forms: valid UTF-8 with no control characters (C0, DEL, C1)
 * and at most AS_RL_MAX_FIELD bytes (User: AS_RL_MAX_USER).  In addition:
 *  - Cmd (plain): 1..AS_RL_MAX_CMD ASCII letters.
 *  - DeviceId: [A-Za-z0-9_-], 1..AS_RL_MAX_DEVICE_ID characters.  Base64
 *    form: when every byte of the id is in that set, the id is that text
 *    ("v140Device"); otherwise the id is binary (WP8/Windows send a raw
 *    16-byte GUID) and is rendered as upper-case hex of all its bytes, the
 *    form those devices use in their plain-text OPTIONS request.  A binary
 *    id may thus be at most AS_RL_MAX_DEVICE_ID / 2 bytes.  (A binary id
 *    whose bytes all happen to fall in the text set -- probability about
 *    2^-32 for a random 16-byte GUID -- is taken as text.)
 *  - DeviceType: [A-Za-z0-9._-], 1..AS_RL_MAX_DEVICE_TYPE characters.
 *  - SaveInSent (plain): "T" or "F" (either case).
 *  - AttachmentName, CollectionId, ItemId, LongId, Occurrence: opaque;
 *    only the generic checks above apply, so the command that uses one
 *    must validate it again before it goes near a path or a key.
 *
 * Base64 form: version byte (as_protocol_version_from_byte; the form exists
 * only for 12.1 and later, so 2.5 and 12.0 are refused as well as unknown
 * bytes), command code, locale (uint16 LE), DeviceId (length > 0), policy
 * key (length 0 or 4, uint32 LE), DeviceType (length > 0), then parameters
 * {tag, length, value}: 0 AttachmentName, 1 CollectionId, 3 ItemId,
 * 4 LongId, 6 Occurrence, 7 Options (exactly one byte: 0x01 SaveInSent,
 * 0x02 AcceptMultiPart; other bits ignored), 8 User.  Legacy tags 2 and 5,
 * unknown tags, duplicate tags, a length beyond the data and trailing bytes
 * are errors.  User is optional in this form (Windows clients omit it):
 * user is then NULL and the glue relies on the authenticated r->user.
 *
 * Commands: a known name or code gives cmd/cmd_code from the command table
 * (names are matched case-sensitively, as_command_by_name).  A well-formed
 * but unknown command (plain: a name of letters not in the table; base64:
 * a code not in the table, including the legacy codes 5-8) is NOT an error:
 * cmd is NULL and cmd_unknown holds a log-safe rendering ("GetHierarchy",
 * "code 7"), so the glue can answer 501 Not Implemented, as it does for
 * table commands without a handler.  Malformed input is APR_EINVAL (400).
 */
#ifndef AS_REQUEST_LINE_H
#define AS_REQUEST_LINE_H

#include <apr_pools.h>
#include <apr_errno.h>

/* Bounds on what a request line may carry. */
#define AS_RL_MAX_QUERY       4096 /* raw query string, bytes */
#define AS_RL_MAX_DEVICE_ID   64   /* characters after hex rendering of binary ids */
#define AS_RL_MAX_DEVICE_TYPE 64
#define AS_RL_MAX_CMD         32
#define AS_RL_MAX_USER        320 /* = AS_ACCOUNT_MAX: "DOMAIN\user" or "local@domain" */
#define AS_RL_MAX_FIELD       256 /* any other value, bytes after decoding */

/* Flags for as_request_line_parse_ex(). */
#define AS_RL_LENIENT 0x01 /* nothing is required; NULL or "" is fine (OPTIONS) */

typedef struct as_request_line_t {
    int base64;      /* the binary form was used */
    const char *cmd; /* canonical command name ("Sync"); NULL: absent (lenient) or unknown */
    int cmd_code;    /* code of cmd; base64 form: the code byte even when unknown;
                        -1 when absent or an unknown plain name */
    const char *cmd_unknown; /* non-NULL iff a command was given that is not in the table:
                                a log-safe rendering ("Notify", "code 7") -> answer 501 */
    const char *user;        /* as sent: "jdoe", "jdoe@example.com", "EX\\jdoe"; NULL when
                                absent (base64 form, lenient mode) -- canonicalise it with
                                as_account_canonical() before comparing it with r->user */
    const char *device_id;   /* as sent; binary ids rendered as upper-case hex */
    const char *device_key;  /* device_id upper-cased: use this one as a database key or
                                file name component (device ids are case-insensitive) */
    const char *device_type;
    const char *protocol_version; /* base64 form only ("14.1"); NULL otherwise */
    int has_policy_key;           /* base64 form: a 4-byte policy key was present */
    apr_uint32_t policy_key;      /* base64 form: little-endian on the wire */
    apr_uint16_t locale;          /* base64 form: LCID, little-endian on the wire; 0 otherwise */
    /* Command parameters (NULL when absent). */
    const char *attachment_name;
    const char *collection_id;
    const char *item_id;
    const char *long_id;
    const char *occurrence;
    int save_in_sent;     /* -1 absent, 0 F, 1 T (plain SaveInSent, base64 Options 0x01) */
    int accept_multipart; /* -1 absent (always in the plain form, which uses the
                             MS-ASAcceptMultiPart header), else base64 Options bit 0x02 */
    int unknown_params;   /* plain form: number of ignored unknown parameters */
} as_request_line_t;

/* Parse the query string (r->args, without '?').  Cmd, User, DeviceId and
 * DeviceType are required (plain form; base64: all but User).  On error
 * returns APR_EINVAL and sets *err to a message fit for a log line (static
 * text or numbers; at most a short, sanitised excerpt of the input), and
 * *rl is reset to the empty state (all NULL / -1 / 0). */
apr_status_t as_request_line_parse(apr_pool_t *p, const char *query, as_request_line_t *rl,
                                   const char **err);

/* The same with flags: AS_RL_LENIENT for OPTIONS, where any parameter may be
 * missing and the query may be NULL or empty; whatever is present is
 * validated as usual (the glue may ignore an error and answer OPTIONS
 * anyway, without using *rl). */
apr_status_t as_request_line_parse_ex(apr_pool_t *p, const char *query, int flags,
                                      as_request_line_t *rl, const char **err);

#endif
