/* What the files of the request handler share: the state of one request
 * and the steps the other files provide.
 *
 *   mod_activesync_handler.c        the methods and the gates, in order
 *   mod_activesync_handler_body.c   reading and decoding the request body
 *   mod_activesync_handler_reply.c  writing the reply (WBXML, multipart, raw)
 *   mod_activesync_handler_trace.c  log-safe text and the trace4 XML dumps
 */
#ifndef MOD_ACTIVESYNC_HANDLER_CTX_H
#define MOD_ACTIVESYNC_HANDLER_CTX_H

#include <httpd.h>

#include <libxml/tree.h>

#include "activesync/as_cap.h"
#include "activesync/as_command.h"
#include "activesync/as_log.h"
#include "activesync/as_request_line.h"
#include "mod_activesync_config.h"

typedef struct handler_ctx_t {
    request_rec *r;
    mod_activesync_conf_t conf;
    as_logger_t log;
    as_request_line_t line;
    const as_command_t *cmd;
    const char *account;
    const char *version;
    const char *who;          /* "Cmd=.. account=.. device=..": context for log lines */
    int trace;                /* protocol dumps wanted for this request */
    as_cap_decision_t access; /* the cap gate's decision (allowed) */
    const char *raw_body;     /* SendMail's message/rfc822 body (before 14.0), or NULL */
    apr_size_t raw_len;
} handler_ctx_t;

/* ---- mod_activesync_handler_trace.c ---- */

/* Client-supplied text made safe for one log line: printable ASCII kept,
 * everything else as \xHH, at most `max` input bytes ("(none)" for NULL). */
const char *mod_activesync_logsafe(apr_pool_t *p, const char *s, apr_size_t max);

/* Whether this request is dumped (LogLevel activesync:trace4 and
 * ActiveSyncTraceAccount / ActiveSyncTraceDevice). */
int mod_activesync_trace_wanted(handler_ctx_t *c);

/* Log doc as XML at trace4, Password contents redacted; what: "request",
 * "reply". */
void mod_activesync_trace_doc(handler_ctx_t *c, const char *what, xmlDocPtr doc);

/* ---- mod_activesync_handler_body.c ---- */

/* The document is freed with the request pool. */
void mod_activesync_keep_doc(request_rec *r, xmlDocPtr doc);

/* A kept document that its user freed itself: the pool must not again. */
void mod_activesync_forget_doc(request_rec *r, xmlDocPtr doc);

/* Read the body (bounded by ActiveSyncMaxRequestSize) and decode it as the
 * command wants (*docp: NULL for a command without a body, kept in the
 * request pool otherwise).  The raw bytes are freed before it returns.
 * OK, or the HTTP status to answer (logged already). */
int mod_activesync_read_request(handler_ctx_t *c, xmlDocPtr *docp);

/* ---- mod_activesync_handler_reply.c ---- */

/* An empty WBXML reply with Content-Length 0 (OPTIONS). */
int mod_activesync_send_empty(request_rec *r);

/* Answer with status, extra headers and doc (NULL: an empty body, e.g. the
 * empty Sync reply: 200, Content-Length 0, the WBXML content type);
 * parts: a multipart reply (doc is part 0); raw: a raw body instead of doc. */
int mod_activesync_send_reply(handler_ctx_t *c, int http_status, xmlDocPtr doc,
                              apr_table_t *headers, const apr_array_header_t *parts,
                              const as_raw_body_t *raw);

#endif
