/* The EAS request line (MS-ASHTTP 2.2.1.1.1): the plain query
 * "Cmd=Sync&User=..&DeviceId=..&DeviceType=.." and the base64-encoded binary
 * form.  Both parse into the same structure; the parser validates every
 * field so that nothing a client sends reaches a path or a log unchecked.
 */
#ifndef AS_REQUEST_LINE_H
#define AS_REQUEST_LINE_H

#include <apr_pools.h>
#include <apr_errno.h>

/* Bounds on what a request line may carry. */
#define AS_RL_MAX_QUERY     4096
#define AS_RL_MAX_DEVICE_ID 64   /* characters after hex rendering of binary ids */
#define AS_RL_MAX_FIELD     256

typedef struct as_request_line_t {
    int base64;                 /* the binary form was used */
    const char *cmd;            /* canonical command name ("Sync") */
    int cmd_code;               /* MS-ASHTTP command code, -1 when unknown */
    const char *user;           /* as sent: "jdoe", "jdoe@example.com", "EX\\jdoe" */
    const char *device_id;      /* binary ids rendered as upper-case hex */
    const char *device_type;
    const char *protocol_version; /* base64 form only ("14.1"); NULL otherwise */
    int has_policy_key;
    apr_uint32_t policy_key;    /* base64 form: little-endian on the wire */
    apr_uint16_t locale;        /* base64 form: LCID, little-endian on the wire */
    /* Command parameters (NULL when absent). */
    const char *attachment_name;
    const char *collection_id;
    const char *item_id;
    const char *long_id;
    const char *occurrence;
    int save_in_sent;           /* -1 absent, 0 F, 1 T */
    int accept_multipart;       /* base64 Options bit 0x02 */
} as_request_line_t;

/* Parse the query string (r->args, without '?').  On error returns
 * APR_EINVAL and sets *err to a message fit for a log line (it never quotes
 * more than a short, sanitised part of the input). */
apr_status_t as_request_line_parse(apr_pool_t *p, const char *query, as_request_line_t *rl,
                                   const char **err);

/* Strict RFC 4648 base64 decode (padding required; no whitespace); returns
 * the decoded length or -1.  `out` must hold (len/4)*3 bytes. */
long as_base64_decode_strict(const char *in, apr_size_t len, unsigned char *out);

#endif
