/* Command table and dispatch.  A command handler gets the decoded request
 * and fills in a response; the glue owns HTTP. */
#ifndef AS_COMMAND_H
#define AS_COMMAND_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <libxml/tree.h>

#include "as_log.h"
#include "as_request_line.h"

typedef enum {
    AS_BODY_NONE = 0,      /* no body expected */
    AS_BODY_WBXML,         /* a WBXML body is required */
    AS_BODY_WBXML_OPTIONAL /* e.g. the empty Sync and Ping forms */
} as_body_kind_t;

typedef struct as_request_t {
    apr_pool_t *pool;
    const as_logger_t *log;
    const char *account; /* canonical user@domain */
    const as_request_line_t *line;
    const char *protocol_version;        /* "14.1" */
    const char *user_agent;              /* may be NULL */
    xmlDocPtr body;                      /* decoded request, NULL when empty */
    const struct as_server_conf_t *conf; /* core settings from the glue */
} as_request_t;

typedef struct as_response_t {
    int http_status;      /* 200 unless the command says otherwise */
    xmlDocPtr doc;        /* reply to encode; NULL: empty body.  Freed by the caller */
    apr_table_t *headers; /* extra response headers */
} as_response_t;

/* A command handler.  APR_SUCCESS: send resp (http_status, doc, headers).
 * Otherwise the glue answers without a body: APR_EINVAL 400 (the request
 * is malformed beyond what the protocol's Status can say), APR_ENOTIMPL 501,
 * anything else 500.  Protocol-level errors belong in the reply's Status
 * with APR_SUCCESS. */
typedef apr_status_t as_command_fn(as_request_t *req, as_response_t *resp);

typedef struct as_command_t {
    const char *name; /* "Sync" */
    int code;         /* MS-ASHTTP base64 command code */
    as_body_kind_t body;
    const char *root_ns;    /* namespace of the request root, e.g. "AirSync:" */
    const char *root_name;  /* its local name */
    as_command_fn *handler; /* NULL: not implemented (501, not advertised) */
} as_command_t;

/* Lookup by name (case-sensitive, as MS-ASHTTP names them) or by code. */
const as_command_t *as_command_by_name(const char *name);
const as_command_t *as_command_by_code(int code);
/* Comma-separated names of the implemented commands, for MS-ASProtocolCommands. */
const char *as_command_list_implemented(apr_pool_t *p);

/* Settings the core needs from the configuration. */
typedef struct as_server_conf_t {
    const char *trusted_ca_file; /* ValidateCert trust anchors (PEM bundle) */
    const char *trusted_ca_path; /* or a hashed directory */
    const char *crl_file;        /* CRLs for ValidateCert CheckCRL */
} as_server_conf_t;

/* Start a reply document with a root element in a code-page namespace. */
xmlDocPtr as_reply_new(const char *ns, const char *root, xmlNodePtr *root_out);
/* Add a child element with text content (text may be NULL for empty). */
xmlNodePtr as_xml_add(xmlNodePtr parent, const char *ns, const char *name, const char *text);
/* First child element of parent with this namespace and name, or NULL. */
xmlNodePtr as_xml_child(xmlNodePtr parent, const char *ns, const char *name);
/* Does the element have this namespace and local name? */
int as_xml_is(xmlNodePtr node, const char *ns, const char *name);

#endif
