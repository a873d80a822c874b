/* The command catalogue: every command MS-ASCMD names, with its MS-ASHTTP
 * code, the body it takes and the root element of that body.  A leaf of the
 * protocol layer: which commands are implemented, and by what, is the
 * registry's business (as_registry.h). */
#ifndef AS_CATALOG_H
#define AS_CATALOG_H

typedef enum {
    AS_BODY_NONE = 0,      /* no body expected */
    AS_BODY_WBXML,         /* a WBXML body is required */
    AS_BODY_WBXML_OPTIONAL /* e.g. the empty Sync and Ping forms */
} as_body_kind_t;

typedef struct as_command_t {
    const char *name; /* "Sync" */
    int code;         /* MS-ASHTTP base64 command code */
    as_body_kind_t body;
    const char *root_ns;   /* namespace of the request root, e.g. "AirSync:" */
    const char *root_name; /* its local name */
} as_command_t;

/* Lookup by name (case-sensitive, as MS-ASHTTP names them) or by code. */
const as_command_t *as_command_by_name(const char *name);
const as_command_t *as_command_by_code(int code);
/* Does the command exist in protocol version proto (as_protocol_number: 121,
 * 140 ...)?  MS-ASCMD retires some: GetAttachment is 12.1 and earlier only
 * (14.0+ fetch attachments with ItemOperations).  The server still lists
 * such a command in MS-ASProtocolCommands (the list is per server, not per
 * version: Exchange 2010 lists GetAttachment next to 14.0); a request in a
 * version without it is answered 501 like an unimplemented command. */
int as_command_in_version(const as_command_t *cmd, int proto);

#endif
