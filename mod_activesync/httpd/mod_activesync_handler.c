/* The request handler: HTTP in, core call, HTTP out.
 *
 * This file maps HTTP onto the core library and nothing more.  Below, the
 * POST steps come in the order they run, and handle_post() strings them
 * together; the body is read and decoded in mod_activesync_handler_body.c,
 * the reply written in mod_activesync_handler_reply.c, log-safe text and
 * the trace dumps are in mod_activesync_handler_trace.c.  What the handler
 * decides itself is only what HTTP decides:
 *
 *   ActiveSync Off            DECLINED (core answers 404)
 *   OPTIONS                   200, empty body, MS-ASProtocolVersions/-Commands.
 *                             Without r->user (no Apache authentication on
 *                             the location) it is answered as is: it carries
 *                             no account data.  With r->user the account
 *                             goes through the cap gate first, like a
 *                             command (an account not allowed to use
 *                             ActiveSync gets 403 here too)
 *   any method but OPTIONS and POST
 *                             405 with Allow: OPTIONS, POST
 *   POST without r->user      403: Apache authentication is not configured for
 *                             the location (a 401 would need a challenge this
 *                             module cannot issue; authentication is Apache's)
 *   bad request line          400
 *   User parameter is another account than the authenticated one
 *                             403
 *   protocol version missing or unsupported
 *                             400 with MS-ASProtocolVersions
 *   unknown or unimplemented command, or one the request's protocol
 *   version does not have (GetAttachment from 14.0 on)
 *                             501
 *   the cap gate (mod_activesync_db.c), only now, so that the refusals
 *   above never touch the registry, and before the body is read:
 *     effective activesync off, cap reached, licence invalid
 *                             403 (one line naming the account and why)
 *     database or mutex unavailable
 *                             503 with Retry-After
 *   the provisioning gate (as_provision.h, mod_activesync_db.c), next,
 *   still before the body is read:
 *     device blocked (administrator or domain rule), or wiped
 *                             403 (one line)
 *     the device must (re)provision
 *                             the gate's answer: 200 with the command's
 *                             root element and Status 142/143/144/140
 *                             (14.x), or 449 with that body or none
 *     database unavailable or busy
 *                             503 with Retry-After
 *   body over ActiveSyncMaxRequestSize
 *                             413 (Content-Length checked before reading,
 *                             chunked bodies while reading; the buffer
 *                             grows with the bytes received, never to the
 *                             announced length up front)
 *   body missing, not WBXML, undecodable, or with the wrong root element
 *                             400
 *   command handler result    APR_SUCCESS: its status, headers and reply
 *                             (no reply document: Content-Length 0, e.g.
 *                             the empty Sync reply; binary parts with
 *                             MS-ASAcceptMultiPart: T or base64 Options
 *                             0x02: application/vnd.ms-sync.multipart;
 *                             a raw body (GetAttachment): its own
 *                             Content-Type, streamed with an exact
 *                             Content-Length);
 *                             APR_EINVAL: 400; APR_ENOTIMPL: 501; other: 500
 *
 * Long requests: Ping and Sync with Wait park in the command (as_watch.h)
 * for up to 59 minutes after the body has been read.  httpd's Timeout only
 * bounds socket reads and writes, none of which happens while parked, and
 * nothing here imposes a shorter limit; a reverse proxy in front needs a
 * longer read timeout (README).  On a graceful restart or stop the parked
 * requests answer "no change" within about a second (mod_activesync.c).
 *
 * Each refusal writes exactly one log line (ASY tag, parsed fields only:
 * never the query string, the Authorization header or a password) and
 * changes nothing (except the cap's own refusal, which sets the account's
 * activesync explicitly off, as DESIGN §1 says).  Levels: error for the
 * missing authentication and an invalid licence (configuration faults),
 * warn for 403 account refusals, info for the other client errors (bad
 * requests are the client's problem, not the admin's).
 *
 * Replies are never compressed: mod_deflate/mod_brotli are switched off for
 * the request (no-gzip, no-brotli, Accept-Encoding dropped), because clients
 * mishandle compressed or altered empty replies.  Command dumps: a command
 * refused before its body is read (unknown, not implemented, version, ...)
 * is not dumped; its body is never decoded.
 *
 * At "LogLevel activesync:trace4" the decoded request and the reply are
 * logged as XML, with the content of every element named Password replaced,
 * for the accounts and devices named by ActiveSyncTraceAccount and
 * ActiveSyncTraceDevice (for every request when neither is set).  The
 * request is dumped right after decoding, before its root element is
 * checked, so a request refused for its root element is dumped too.
 */
#include <string.h>

#include <apr_strings.h>

#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>

#include <libxml/tree.h>

#include "activesync/as_account.h"
#include "activesync/as_command.h"
#include "activesync/as_protocol.h"
#include "activesync/as_provision.h"
#include "activesync/as_registry.h"
#include "mod_activesync_config.h"
#include "mod_activesync_db.h"
#include "mod_activesync_handler_ctx.h"
#include "mod_activesync_private.h"

static volatile int requests_active;

int mod_activesync_requests_active(void)
{
    return __atomic_load_n(&requests_active, __ATOMIC_SEQ_CST);
}

/* ---- OPTIONS -------------------------------------------------------------- */

static int handle_options(handler_ctx_t *c)
{
    request_rec *r = c->r;
    int rv;

    /* An authenticated OPTIONS is the first thing a device sends: the
     * account passes the same gate as a command. */
    if (r->user && *r->user) {
        const char *err = NULL;
        if (as_account_canonical(r->pool, r->user, c->conf.default_domain, &c->account, &err) !=
                APR_SUCCESS ||
            !c->account) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          ASLOGNO(11032) "OPTIONS: authenticated user '%s' is not an account "
                                         "name: %s",
                          mod_activesync_logsafe(r->pool, r->user, 100),
                          err ? err : "(no reason given)");
            return HTTP_FORBIDDEN;
        }
        c->who = apr_psprintf(r->pool, "Cmd=OPTIONS account=%s", c->account);
        rv = mod_activesync_gate(r, c->account, c->who, &c->access);
        if (rv != OK) {
            return rv;
        }
    }
    rv = ap_discard_request_body(r);
    if (rv != OK) {
        return rv;
    }
    apr_table_setn(r->headers_out, "MS-ASProtocolVersions", as_protocol_versions(r->pool));
    apr_table_setn(r->headers_out, "MS-ASProtocolCommands", as_registry_list_implemented(r->pool));
    apr_table_setn(r->headers_out, "Allow", "OPTIONS,POST");
    apr_table_setn(r->headers_out, "Public", "OPTIONS,POST");
    apr_table_setn(r->headers_out, "Cache-Control", "private");
    return mod_activesync_send_empty(r);
}

/* ---- POST: the steps, in the order they run ------------------------------ */

/* Authentication is Apache's: without a user, the location lacks it. */
static int require_user(handler_ctx_t *c)
{
    request_rec *r = c->r;

    if (r->user && *r->user) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                  ASLOGNO(11010) "no authenticated user for %s: configure Apache "
                                 "authentication (AuthType, AuthUserFile or another "
                                 "provider, Require valid-user) for this location",
                  mod_activesync_logsafe(r->pool, r->uri, 200));
    return HTTP_FORBIDDEN;
}

static int parse_request_line(handler_ctx_t *c)
{
    request_rec *r = c->r;
    const char *err = NULL;

    if (as_request_line_parse(r->pool, r->args ? r->args : "", &c->line, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ASLOGNO(11011) "bad request line: %s",
                      err ? err : "(no reason given)");
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

/* r->user names the account; a User parameter must name the same one. */
static int map_account(handler_ctx_t *c)
{
    request_rec *r = c->r;
    const char *err = NULL, *other = NULL;

    if (as_account_canonical(r->pool, r->user, c->conf.default_domain, &c->account, &err) !=
            APR_SUCCESS ||
        !c->account) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(11012) "authenticated user '%s' is not an account name: %s",
                      mod_activesync_logsafe(r->pool, r->user, 100),
                      err ? err : "(no reason given)");
        return HTTP_FORBIDDEN;
    }
    c->who = apr_psprintf(
        r->pool, "Cmd=%s account=%s device=%s",
        mod_activesync_logsafe(r->pool, c->line.cmd ? c->line.cmd : c->line.cmd_unknown, 40),
        c->account, mod_activesync_logsafe(r->pool, c->line.device_id, 80));
    if (!c->line.user) {
        return OK;
    }
    if (as_account_canonical(r->pool, c->line.user, c->conf.default_domain, &other, &err) !=
            APR_SUCCESS ||
        !other) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      ASLOGNO(11013) "User parameter '%s' is not an account name: %s",
                      mod_activesync_logsafe(r->pool, c->line.user, 100),
                      err ? err : "(no reason given)");
        return HTTP_BAD_REQUEST;
    }
    if (strcmp(other, c->account)) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(11014) "authenticated user '%s' (account %s) sent "
                                     "User=%s (account %s): refused",
                      mod_activesync_logsafe(r->pool, r->user, 100), c->account,
                      mod_activesync_logsafe(r->pool, c->line.user, 100), other);
        return HTTP_FORBIDDEN;
    }
    return OK;
}

static int refuse_version(handler_ctx_t *c)
{
    apr_table_setn(c->r->err_headers_out, "MS-ASProtocolVersions",
                   as_protocol_versions(c->r->pool));
    return HTTP_BAD_REQUEST;
}

/* The protocol version: from the base64 request line, else the header. */
static int check_version(handler_ctx_t *c)
{
    request_rec *r = c->r;

    if (c->line.base64) {
        c->version = c->line.protocol_version;
    } else {
        c->version = apr_table_get(r->headers_in, "MS-ASProtocolVersion");
    }
    if (!c->version || !*c->version) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ASLOGNO(11015) "%s: no protocol version (%s)",
                      c->who,
                      c->line.base64 ? "none in the base64 request line"
                                     : "MS-ASProtocolVersion header missing");
        return refuse_version(c);
    }
    if (!as_protocol_version_supported(c->version)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      ASLOGNO(11016) "%s: protocol version '%s' is not supported "
                                     "(supported: %s)",
                      c->who, mod_activesync_logsafe(r->pool, c->version, 20),
                      as_protocol_versions(r->pool));
        return refuse_version(c);
    }
    return OK;
}

/* The command: known, implemented, and part of the request's version. */
static int find_command(handler_ctx_t *c)
{
    request_rec *r = c->r;

    /* The parser leaves cmd NULL for a well-formed command it does not
     * know (cmd_unknown names it): 501, like a known one without handler. */
    c->cmd = c->line.cmd ? as_command_by_name(c->line.cmd) : NULL;
    if (!c->cmd) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ASLOGNO(11017) "%s: unknown command %s", c->who,
                      mod_activesync_logsafe(
                          r->pool, c->line.cmd_unknown ? c->line.cmd_unknown : c->line.cmd, 40));
        return HTTP_NOT_IMPLEMENTED;
    }
    if (!as_registry_handler(c->cmd)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ASLOGNO(11018) "%s: command not implemented",
                      c->who);
        return HTTP_NOT_IMPLEMENTED;
    }
    if (!as_command_in_version(c->cmd, as_protocol_number(c->version))) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      ASLOGNO(11040) "%s: %s is not part of protocol version %s", c->who,
                      c->cmd->name, c->version);
        return HTTP_NOT_IMPLEMENTED;
    }
    return OK;
}

/* The provisioning gate (as_provision.h).  OK: serve the command; DONE: the
 * device was told to provision (the reply is sent); else the HTTP status
 * (403, 503) to answer, logged already. */
static int provision_gate(handler_ctx_t *c)
{
    request_rec *r = c->r;
    as_gate_in_t in;
    as_gate_t g;
    int status;

    memset(&in, 0, sizeof(in));
    in.account = c->account;
    in.device_key = c->line.device_key;
    in.device_type = c->line.device_type;
    in.user_agent = apr_table_get(r->headers_in, "User-Agent");
    in.protocol_version = c->version;
    in.command = c->cmd->name;
    if (!c->line.base64) {
        in.policy_key_header = apr_table_get(r->headers_in, "X-MS-PolicyKey");
    }
    in.has_key = c->line.has_policy_key;
    in.key = c->line.policy_key;
    in.mode = c->conf.provisioning;
    in.inband_449 = c->conf.provisioning_449;
    in.max_devices = c->conf.max_devices;
    status = mod_activesync_provision_gate(r, &in, c->who, &g);
    if (status != OK) {
        return status;
    }
    mod_activesync_keep_doc(r, g.doc);
    if (g.verdict == AS_GATE_DEVICE_LIMIT) {
        /* the one line of the refusal (c->who names the account and device) */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(11090) "%s: new device refused: %s (status %d, HTTP %d)", c->who,
                      g.reason, g.eas_status, g.http_status);
        if (!g.doc) {
            return HTTP_FORBIDDEN;
        }
        c->trace = mod_activesync_trace_wanted(c);
        status = mod_activesync_send_reply(c, g.http_status, g.doc, NULL, NULL, NULL);
        return status == OK ? DONE : status;
    }
    if (g.verdict != AS_GATE_PROVISION) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  ASLOGNO(11036) "%s: the device must provision first (status %d, HTTP %d%s)",
                  c->who, g.eas_status, g.http_status, g.doc ? ", in-band" : "");
    c->trace = mod_activesync_trace_wanted(c);
    status = mod_activesync_send_reply(c, g.http_status, g.doc, NULL, NULL, NULL);
    return status == OK ? DONE : status;
}

/* The cap gate, then the device (blocked, wiped, or not holding the
 * current policy key): after every refusal that needs no database, before
 * the body is read.  OK, DONE (the provisioning answer is sent) or the
 * HTTP status. */
static int pass_gates(handler_ctx_t *c)
{
    int status = mod_activesync_gate(c->r, c->account, c->who, &c->access);

    if (status != OK) {
        return status;
    }
    return provision_gate(c);
}

/* Multipart replies: base64 Options bit 0x02, else the header. */
static int accepts_multipart(handler_ctx_t *c)
{
    const char *mp;

    if (c->line.accept_multipart >= 0) {
        return c->line.accept_multipart ? 1 : 0;
    }
    mp = apr_table_get(c->r->headers_in, "MS-ASAcceptMultiPart");
    return mp && !strcasecmp(mp, "T");
}

/* Run the command on the decoded body.  OK (resp filled) or the HTTP
 * status its failure maps to (logged). */
static int run_command(handler_ctx_t *c, xmlDocPtr doc, as_request_t *req, as_response_t *resp)
{
    request_rec *r = c->r;
    apr_status_t rv;

    memset(req, 0, sizeof(*req));
    req->pool = r->pool;
    req->log = &c->log;
    req->account = c->account;
    req->line = &c->line;
    req->protocol_version = c->version;
    req->user_agent = apr_table_get(r->headers_in, "User-Agent");
    req->body = doc;
    req->raw_body = c->raw_body;
    req->raw_len = c->raw_len;
    req->conf = &c->conf.core;
    req->access = &c->access;
    req->accept_multipart = accepts_multipart(c);
    memset(resp, 0, sizeof(*resp));
    resp->http_status = HTTP_OK;
    resp->headers = apr_table_make(r->pool, 4);

    /* The environment for commands that keep state (NULL only if it
     * became unavailable since the gate). */
    req->db = mod_activesync_db_enter();
    rv = as_registry_handler(c->cmd)(req, resp);
    if (doc && !req->body) { /* the command freed it early (as_command.h) */
        mod_activesync_forget_doc(r, doc);
    }
    if (req->db) {
        mod_activesync_db_leave();
    }
    mod_activesync_keep_doc(r, resp->doc);
    if (rv == APR_SUCCESS) {
        return OK;
    }
    if (rv == APR_ENOTIMPL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, ASLOGNO(11024) "%s: not implemented", c->who);
        return HTTP_NOT_IMPLEMENTED;
    }
    if (rv == APR_EINVAL) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                      ASLOGNO(11025) "%s: request refused by the command", c->who);
        return HTTP_BAD_REQUEST;
    }
    ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r, ASLOGNO(11026) "%s: command failed", c->who);
    return HTTP_INTERNAL_SERVER_ERROR;
}

static int handle_post(handler_ctx_t *c)
{
    request_rec *r = c->r;
    xmlDocPtr doc = NULL;
    as_request_t req;
    as_response_t resp;
    int status;

    /* Refusals that need neither the database nor the body come first. */
    if ((status = require_user(c)) != OK || (status = parse_request_line(c)) != OK ||
        (status = map_account(c)) != OK || (status = check_version(c)) != OK ||
        (status = find_command(c)) != OK) {
        return status;
    }
    status = pass_gates(c);
    if (status != OK) {
        return status == DONE ? OK : status;
    }
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ASLOGNO(11019) "%s type=%s version=%s form=%s",
                  c->who, mod_activesync_logsafe(r->pool, c->line.device_type, 80), c->version,
                  c->line.base64 ? "base64" : "plain");
    status = mod_activesync_read_request(c, &doc);
    if (status != OK) {
        return status;
    }
    status = run_command(c, doc, &req, &resp);
    if (status != OK) {
        return status;
    }
    return mod_activesync_send_reply(c, resp.http_status, resp.doc, resp.headers,
                                     req.accept_multipart ? resp.parts : NULL, resp.raw);
}

/* ---- entry ---------------------------------------------------------------- */

int mod_activesync_handler(request_rec *r)
{
    handler_ctx_t *c;

    if (!r->handler || strcmp(r->handler, MOD_ACTIVESYNC_HANDLER_NAME)) {
        return DECLINED;
    }
    c = apr_pcalloc(r->pool, sizeof(*c));
    c->r = r;
    mod_activesync_config_get(r->server, &c->conf);
    if (!c->conf.enabled) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE1, 0, r,
                      ASLOGNO(11030) "ActiveSync is Off in this server: declined");
        return DECLINED;
    }
    mod_activesync_logger_request(&c->log, r);
    c->line.cmd_code = -1;

    /* Replies are never compressed or otherwise re-encoded. */
    apr_table_setn(r->subprocess_env, "no-gzip", "1");
    apr_table_setn(r->subprocess_env, "no-brotli", "1");
    apr_table_unset(r->headers_in, "Accept-Encoding");
    apr_table_setn(r->err_headers_out, "MS-Server-ActiveSync", AS_SERVER_VERSION);

    switch (r->method_number) {
    case M_OPTIONS:
        return handle_options(c);
    case M_POST: {
        int rv;
        __atomic_add_fetch(&requests_active, 1, __ATOMIC_SEQ_CST);
        rv = handle_post(c);
        __atomic_sub_fetch(&requests_active, 1, __ATOMIC_SEQ_CST);
        return rv;
    }
    default:
        /* Allow: OPTIONS, POST (httpd adds TRACE while TraceEnable is on,
         * which core answers itself before any handler). */
        ap_allow_methods(r, REPLACE_ALLOW, "OPTIONS", "POST", NULL);
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      ASLOGNO(11031) "method %s is not part of ActiveSync (OPTIONS, POST)",
                      mod_activesync_logsafe(r->pool, r->method, 20));
        return HTTP_METHOD_NOT_ALLOWED;
    }
}
