/* The request handler: HTTP in, core call, HTTP out.
 *
 * This file maps HTTP onto the core library and nothing more.  What it
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
 *                             chunked bodies while reading)
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
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_buckets.h>

#include <http_core.h>
#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include <libxml/tree.h>

#include "activesync/as_account.h"
#include "activesync/as_cap.h"
#include "activesync/as_command.h"
#include "activesync/as_device.h"
#include "activesync/as_multipart.h"
#include "activesync/as_protocol.h"
#include "activesync/as_provision.h"
#include "activesync/as_registry.h"
#include "activesync/as_request_line.h"
#include "activesync/as_wbxml.h"
#include "mod_activesync_config.h"
#include "mod_activesync_db.h"
#include "mod_activesync_private.h"

#define WBXML_CONTENT_TYPE "application/vnd.ms-sync.wbxml"
#define READ_CHUNK         8192
#define MAX_DUMP           (256 * 1024) /* bytes of XML dumped per document */

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
} handler_ctx_t;

static volatile int requests_active;

int mod_activesync_requests_active(void)
{
    return __atomic_load_n(&requests_active, __ATOMIC_SEQ_CST);
}

/* ---- small helpers ------------------------------------------------------ */

/* Client-supplied text made safe for one log line: printable ASCII kept,
 * everything else as \xHH, at most `max` input bytes. */
static const char *logsafe(apr_pool_t *p, const char *s, apr_size_t max)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t i, n;
    char *out, *o;

    if (!s) {
        return "(none)";
    }
    n = strlen(s);
    if (n > max) {
        n = max;
    }
    o = out = apr_palloc(p, n * 4 + 4);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    if (strlen(s) > max) {
        *o++ = '.';
        *o++ = '.';
        *o++ = '.';
    }
    *o = '\0';
    return out;
}

static apr_status_t free_doc(void *doc)
{
    xmlFreeDoc(doc);
    return APR_SUCCESS;
}

/* The document is freed with the request pool. */
static void keep_doc(request_rec *r, xmlDocPtr doc)
{
    if (doc) {
        apr_pool_cleanup_register(r->pool, doc, free_doc, apr_pool_cleanup_null);
    }
}

/* Reason phrases httpd does not know. */
static const char *status_line(int status)
{
    switch (status) {
    case 449:
        return "449 Retry after sending a PROVISION command";
    case 451:
        return "451 Redirect";
    case 456:
        return "456 Account blocked";
    case 457:
        return "457 Password expired";
    default:
        return NULL;
    }
}

/* Send a (possibly empty) WBXML body with an exact Content-Length. */
static int send_body(request_rec *r, const unsigned char *data, apr_size_t len)
{
    apr_bucket_brigade *bb;

    ap_set_content_type(r, WBXML_CONTENT_TYPE);
    ap_set_content_length(r, (apr_off_t)len);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    if (len && !r->header_only) {
        APR_BRIGADE_INSERT_TAIL(
            bb, apr_bucket_transient_create((const char *)data, len, r->connection->bucket_alloc));
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(r->connection->bucket_alloc));
    return ap_pass_brigade_fchk(r, bb, ASLOGNO(11001) "sending the reply failed");
}

/* A multipart reply (as_multipart.h): the header, part 0 (the encoded
 * WBXML) and the binary parts as separate buckets, not copied into one
 * buffer (attachments can be large), with an exact Content-Length. */
static int send_multipart(handler_ctx_t *c, const unsigned char *part0, apr_size_t part0_len,
                          const apr_array_header_t *parts)
{
    request_rec *r = c->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    const unsigned char *hdr = NULL;
    apr_size_t hdr_len = 0;
    apr_off_t total;
    apr_bucket_brigade *bb;
    int i;

    if (as_multipart_header(r->pool, part0_len, parts, &hdr, &hdr_len) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      ASLOGNO(11033) "%s: the multipart reply would be over 2 GiB", c->who);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    total = (apr_off_t)hdr_len + (apr_off_t)part0_len;
    for (i = 0; i < parts->nelts; i++) {
        total += (apr_off_t)APR_ARRAY_IDX(parts, i, as_multipart_part_t).len;
    }
    ap_set_content_type(r, AS_MULTIPART_CONTENT_TYPE);
    ap_set_content_length(r, total);
    bb = apr_brigade_create(r->pool, ba);
    if (!r->header_only) {
        /* Pool memory of the request: transient buckets (copied only if a
         * filter sets them aside). */
        APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_transient_create((const char *)hdr, hdr_len, ba));
        if (part0_len) {
            APR_BRIGADE_INSERT_TAIL(
                bb, apr_bucket_transient_create((const char *)part0, part0_len, ba));
        }
        for (i = 0; i < parts->nelts; i++) {
            const as_multipart_part_t *pt = &APR_ARRAY_IDX(parts, i, as_multipart_part_t);
            if (pt->len) {
                APR_BRIGADE_INSERT_TAIL(
                    bb, apr_bucket_transient_create((const char *)pt->data, pt->len, ba));
            }
        }
    }
    APR_BRIGADE_INSERT_TAIL(bb, apr_bucket_eos_create(ba));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  ASLOGNO(11034) "%s: multipart reply, %d binary parts, %" APR_OFF_T_FMT " bytes",
                  c->who, parts->nelts, total);
    return ap_pass_brigade_fchk(r, bb, ASLOGNO(11035) "sending the multipart reply failed");
}

/* A raw reply body (as_raw_body_t, GetAttachment): each chunk the command
 * produces is passed down the filter chain at once, so memory stays bounded
 * whatever the size; httpd's core output filter blocks when the client
 * reads slowly. */
typedef struct raw_sink_t {
    request_rec *r;
    apr_bucket_brigade *bb;
    apr_off_t sent;
} raw_sink_t;

static apr_status_t raw_sink(void *ctx, const unsigned char *data, apr_size_t len)
{
    raw_sink_t *s = ctx;
    apr_status_t rv;

    if (!len) {
        return APR_SUCCESS;
    }
    APR_BRIGADE_INSERT_TAIL(s->bb, apr_bucket_transient_create((const char *)data, len,
                                                               s->r->connection->bucket_alloc));
    rv = ap_pass_brigade(s->r->output_filters, s->bb);
    apr_brigade_cleanup(s->bb);
    if (rv == APR_SUCCESS) {
        s->sent += (apr_off_t)len;
    }
    return rv != APR_SUCCESS ? rv : s->r->connection->aborted ? APR_ECONNABORTED : APR_SUCCESS;
}

static int send_raw(handler_ctx_t *c, const as_raw_body_t *raw)
{
    request_rec *r = c->r;
    apr_bucket_alloc_t *ba = r->connection->bucket_alloc;
    raw_sink_t s;
    apr_status_t rv = APR_SUCCESS;

    ap_set_content_type(r, raw->content_type);
    ap_set_content_length(r, raw->length);
    s.r = r;
    s.bb = apr_brigade_create(r->pool, ba);
    s.sent = 0;
    if (!r->header_only && raw->length > 0) {
        rv = raw->produce(raw->ctx, raw_sink, &s);
    }
    if (rv != APR_SUCCESS || (!r->header_only && s.sent != raw->length)) {
        /* the status line went out with the first chunk: all that is left
         * is to end the connection short of Content-Length, which the client
         * sees as a failed download */
        ap_log_rerror(APLOG_MARK, rv == APR_ECONNABORTED ? APLOG_INFO : APLOG_ERR, rv, r,
                      ASLOGNO(11041) "%s: raw reply cut after %" APR_OFF_T_FMT " of %" APR_OFF_T_FMT
                                     " bytes",
                      c->who, s.sent, raw->length);
        r->connection->keepalive = AP_CONN_CLOSE;
        r->connection->aborted = 1;
        return OK;
    }
    APR_BRIGADE_INSERT_TAIL(s.bb, apr_bucket_eos_create(ba));
    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r,
                  ASLOGNO(11042) "%s: raw reply, %s, %" APR_OFF_T_FMT " bytes", c->who,
                  raw->content_type, raw->length);
    return ap_pass_brigade_fchk(r, s.bb, ASLOGNO(11043) "sending the raw reply failed");
}

/* ---- trace dumps -------------------------------------------------------- */

static int trace_wanted(handler_ctx_t *c)
{
    request_rec *r = c->r;
    int i;

    if (!APLOG_R_IS_LEVEL(r, APLOG_TRACE4)) {
        return 0;
    }
    if (c->conf.trace_accounts->nelts == 0 && c->conf.trace_devices->nelts == 0) {
        return 1;
    }
    for (i = 0; i < c->conf.trace_accounts->nelts; i++) {
        const char *want = APR_ARRAY_IDX(c->conf.trace_accounts, i, const char *);
        const char *canon = NULL, *err = NULL;
        if (as_account_canonical(r->pool, want, c->conf.default_domain, &canon, &err) !=
                APR_SUCCESS ||
            !canon) {
            canon = want;
        }
        if (c->account && !strcasecmp(canon, c->account)) {
            return 1;
        }
    }
    for (i = 0; i < c->conf.trace_devices->nelts; i++) {
        const char *want = APR_ARRAY_IDX(c->conf.trace_devices, i, const char *);
        if (c->line.device_id && !strcasecmp(want, c->line.device_id)) {
            return 1;
        }
    }
    return 0;
}

/* Replace the content of every element named Password, whatever its code
 * page (ItemOperations, Search, Provision ...). */
static void redact(xmlNodePtr node)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (!strcmp((const char *)node->name, "Password")) {
            xmlNodeSetContent(node, BAD_CAST "(redacted)");
            continue;
        }
        redact(node->children);
    }
}

static void dump_doc(handler_ctx_t *c, const char *what, xmlDocPtr doc)
{
    request_rec *r = c->r;
    xmlDocPtr copy;
    xmlChar *mem = NULL;
    int size = 0;
    char *text, *line, *next;

    copy = xmlCopyDoc(doc, 1);
    if (!copy) {
        return;
    }
    redact(xmlDocGetRootElement(copy));
    xmlDocDumpFormatMemoryEnc(copy, &mem, &size, "UTF-8", 1);
    xmlFreeDoc(copy);
    if (!mem) {
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE4, 0, r, ASLOGNO(11002) "%s of %s, %d bytes of XML:", what,
                  c->who, size);
    /* One log line per XML line; a huge document (attachments) is cut. */
    text = apr_pstrmemdup(r->pool, (const char *)mem,
                          size > MAX_DUMP ? (apr_size_t)MAX_DUMP : (apr_size_t)size);
    xmlFree(mem);
    for (line = text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        if (!strncmp(line, "<?xml", 5) || !*line) {
            continue;
        }
        ap_log_rerror(APLOG_MARK, APLOG_TRACE4, 0, r, ASLOGNO(11003) "%s| %s", what,
                      logsafe(r->pool, line, 4000));
    }
    if (size > MAX_DUMP) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE4, 0, r,
                      ASLOGNO(11009) "%s| (dump cut after %d of %d bytes)", what, MAX_DUMP, size);
    }
}

/* ---- request body ------------------------------------------------------- */

typedef struct body_buf_t {
    char *data;
    apr_size_t len, cap;
} body_buf_t;

static apr_status_t free_body(void *b)
{
    free(((body_buf_t *)b)->data);
    return APR_SUCCESS;
}

/* Read the body, at most max bytes, into a malloc()ed buffer of the
 * Content-Length when there is one (*bufp; freed by a cleanup of the request
 * pool, or earlier with release_body once decoded: a parked Ping would
 * otherwise hold it for up to an hour).  Returns OK or an HTTP status
 * (after logging one line). */
static int read_body(handler_ctx_t *c, body_buf_t **bufp)
{
    request_rec *r = c->r;
    apr_off_t max = c->conf.max_request_size, cl = -1;
    const char *clh = apr_table_get(r->headers_in, "Content-Length");
    body_buf_t *buf = apr_pcalloc(r->pool, sizeof(*buf));
    apr_bucket_brigade *bb;
    int seen_eos = 0;

    *bufp = buf;
    if (clh) {
        char *end;
        /* HTTP_IN has validated the header; a value above the bound is
         * refused before a byte is read. */
        if (apr_strtoff(&cl, clh, &end, 10) == APR_SUCCESS && !*end && cl > max) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          ASLOGNO(11004) "%s: request body of %" APR_OFF_T_FMT
                                         " bytes is over ActiveSyncMaxRequestSize %" APR_OFF_T_FMT,
                          c->who, cl, max);
            return HTTP_REQUEST_ENTITY_TOO_LARGE;
        }
        if (*end) {
            cl = -1;
        }
    }
    apr_pool_cleanup_register(r->pool, buf, free_body, apr_pool_cleanup_null);
    bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    while (!seen_eos) {
        apr_bucket *b;
        apr_status_t rv =
            ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, READ_CHUNK);
        if (rv != APR_SUCCESS) {
            int status = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                          ASLOGNO(11005) "%s: reading the request body failed (HTTP %d)", c->who,
                          status);
            return status;
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb); b = APR_BUCKET_NEXT(b)) {
            const char *data;
            apr_size_t n;
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (APR_BUCKET_IS_METADATA(b)) {
                continue;
            }
            rv = apr_bucket_read(b, &data, &n, APR_BLOCK_READ);
            if (rv != APR_SUCCESS) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                              ASLOGNO(11006) "%s: reading the request body failed", c->who);
                return HTTP_BAD_REQUEST;
            }
            if ((apr_off_t)(buf->len + n) > max) {
                ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                              ASLOGNO(11007) "%s: request body is over "
                                             "ActiveSyncMaxRequestSize %" APR_OFF_T_FMT " bytes",
                              c->who, max);
                return HTTP_REQUEST_ENTITY_TOO_LARGE;
            }
            if (buf->len + n > buf->cap) {
                apr_size_t cap = buf->cap ? buf->cap : cl > 0 ? (apr_size_t)cl : 16384;
                char *nd;
                while (cap < buf->len + n) {
                    cap *= 2;
                }
                if ((apr_off_t)cap > max) {
                    cap = (apr_size_t)max;
                }
                nd = realloc(buf->data, cap);
                if (!nd) {
                    ap_log_rerror(APLOG_MARK, APLOG_ERR, APR_ENOMEM, r,
                                  ASLOGNO(11008) "%s: no memory for the request body", c->who);
                    return HTTP_INTERNAL_SERVER_ERROR;
                }
                buf->data = nd;
                buf->cap = cap;
            }
            memcpy(buf->data + buf->len, data, n);
            buf->len += n;
        }
        apr_brigade_cleanup(bb);
    }
    return OK;
}

static void release_body(request_rec *r, body_buf_t *buf)
{
    apr_pool_cleanup_run(r->pool, buf, free_body);
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

/* Answer with status, extra headers and doc (NULL: an empty body, e.g. the
 * empty Sync reply: 200, Content-Length 0, the WBXML content type);
 * parts: a multipart reply (doc is part 0); raw: a raw body instead of doc. */
static int send_reply(handler_ctx_t *c, int http_status, xmlDocPtr doc, apr_table_t *headers,
                      const apr_array_header_t *parts, const as_raw_body_t *raw)
{
    request_rec *r = c->r;

    if (http_status < 200 || http_status > 599) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      ASLOGNO(11027) "%s: command returned HTTP status %d", c->who, http_status);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    r->status = http_status;
    if (status_line(http_status)) {
        r->status_line = status_line(http_status);
    }
    if (headers) {
        apr_table_overlap(r->headers_out, headers, APR_OVERLAP_TABLES_SET);
    }
    apr_table_setn(r->headers_out, "Cache-Control", "private");

    if (raw && !doc) {
        return send_raw(c, raw);
    }
    if (doc) {
        const unsigned char *out = NULL;
        apr_size_t outlen = 0;
        as_wbxml_limits_t lim;
        as_wbxml_err_t werr;

        if (c->trace) {
            dump_doc(c, "reply", doc);
        }
        /* The reply is ours: decode-side limits do not apply. */
        as_wbxml_limits_default(&lim);
        lim.max_size = (apr_size_t)1 << 30;
        lim.max_depth = 4096;
        lim.max_elements = 100000000;
        werr = as_wbxml_encode_pool(doc, &lim, r->pool, &out, &outlen);
        if (werr != AS_WBXML_OK || (!out && outlen)) {
            ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                          ASLOGNO(11028) "%s: encoding the reply failed: %s", c->who,
                          as_wbxml_strerror(werr));
            r->status = HTTP_OK;
            r->status_line = NULL;
            return HTTP_INTERNAL_SERVER_ERROR;
        }
        if (parts && parts->nelts > 0) {
            return send_multipart(c, out, outlen, parts);
        }
        return send_body(r, out, outlen);
    }
    return send_body(r, NULL, 0);
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
    keep_doc(r, g.doc);
    if (g.verdict == AS_GATE_DEVICE_LIMIT) {
        /* the one line of the refusal (c->who names the account and device) */
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(11090) "%s: new device refused: %s (status %d, HTTP %d)", c->who,
                      g.reason, g.eas_status, g.http_status);
        if (!g.doc) {
            return HTTP_FORBIDDEN;
        }
        c->trace = trace_wanted(c);
        status = send_reply(c, g.http_status, g.doc, NULL, NULL, NULL);
        return status == OK ? DONE : status;
    }
    if (g.verdict != AS_GATE_PROVISION) {
        return OK;
    }
    ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                  ASLOGNO(11036) "%s: the device must provision first (status %d, HTTP %d%s)",
                  c->who, g.eas_status, g.http_status, g.doc ? ", in-band" : "");
    c->trace = trace_wanted(c);
    status = send_reply(c, g.http_status, g.doc, NULL, NULL, NULL);
    return status == OK ? DONE : status;
}

/* ---- methods ------------------------------------------------------------ */

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
                          logsafe(r->pool, r->user, 100), err ? err : "(no reason given)");
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
    return send_body(r, NULL, 0);
}

static int refuse_version(handler_ctx_t *c)
{
    apr_table_setn(c->r->err_headers_out, "MS-ASProtocolVersions",
                   as_protocol_versions(c->r->pool));
    return HTTP_BAD_REQUEST;
}

static int handle_post(handler_ctx_t *c)
{
    request_rec *r = c->r;
    const char *err = NULL;
    const unsigned char *body;
    apr_size_t body_len;
    body_buf_t *raw = NULL;
    xmlDocPtr doc = NULL;
    xmlNodePtr root;
    as_request_t req;
    as_response_t resp;
    apr_status_t rv;
    int status;

    /* Authentication is Apache's: without a user, the location lacks it. */
    if (!r->user || !*r->user) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, 0, r,
                      ASLOGNO(11010) "no authenticated user for %s: configure Apache "
                                     "authentication (AuthType, AuthUserFile or another "
                                     "provider, Require valid-user) for this location",
                      logsafe(r->pool, r->uri, 200));
        return HTTP_FORBIDDEN;
    }

    if (as_request_line_parse(r->pool, r->args ? r->args : "", &c->line, &err) != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r, ASLOGNO(11011) "bad request line: %s",
                      err ? err : "(no reason given)");
        return HTTP_BAD_REQUEST;
    }

    if (as_account_canonical(r->pool, r->user, c->conf.default_domain, &c->account, &err) !=
            APR_SUCCESS ||
        !c->account) {
        ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                      ASLOGNO(11012) "authenticated user '%s' is not an account name: %s",
                      logsafe(r->pool, r->user, 100), err ? err : "(no reason given)");
        return HTTP_FORBIDDEN;
    }
    c->who = apr_psprintf(r->pool, "Cmd=%s account=%s device=%s",
                          logsafe(r->pool, c->line.cmd ? c->line.cmd : c->line.cmd_unknown, 40),
                          c->account, logsafe(r->pool, c->line.device_id, 80));
    if (c->line.user) {
        const char *other = NULL;
        if (as_account_canonical(r->pool, c->line.user, c->conf.default_domain, &other, &err) !=
                APR_SUCCESS ||
            !other) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          ASLOGNO(11013) "User parameter '%s' is not an account name: %s",
                          logsafe(r->pool, c->line.user, 100), err ? err : "(no reason given)");
            return HTTP_BAD_REQUEST;
        }
        if (strcmp(other, c->account)) {
            ap_log_rerror(APLOG_MARK, APLOG_WARNING, 0, r,
                          ASLOGNO(11014) "authenticated user '%s' (account %s) sent "
                                         "User=%s (account %s): refused",
                          logsafe(r->pool, r->user, 100), c->account,
                          logsafe(r->pool, c->line.user, 100), other);
            return HTTP_FORBIDDEN;
        }
    }

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
                      c->who, logsafe(r->pool, c->version, 20), as_protocol_versions(r->pool));
        return refuse_version(c);
    }

    /* The parser leaves cmd NULL for a well-formed command it does not
     * know (cmd_unknown names it): 501, like a known one without handler. */
    c->cmd = c->line.cmd ? as_command_by_name(c->line.cmd) : NULL;
    if (!c->cmd) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r, ASLOGNO(11017) "%s: unknown command %s", c->who,
            logsafe(r->pool, c->line.cmd_unknown ? c->line.cmd_unknown : c->line.cmd, 40));
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

    /* The cap gate: after every refusal that needs no database, before the
     * body is read or decoded. */
    status = mod_activesync_gate(r, c->account, c->who, &c->access);
    if (status != OK) {
        return status;
    }
    /* Then the device: blocked, wiped, or not holding the current policy
     * key -- still before the body is read. */
    status = provision_gate(c);
    if (status == DONE) {
        return OK;
    }
    if (status != OK) {
        return status;
    }

    ap_log_rerror(APLOG_MARK, APLOG_DEBUG, 0, r, ASLOGNO(11019) "%s type=%s version=%s form=%s",
                  c->who, logsafe(r->pool, c->line.device_type, 80), c->version,
                  c->line.base64 ? "base64" : "plain");

    status = read_body(c, &raw);
    if (status != OK) {
        return status;
    }
    body = (const unsigned char *)raw->data;
    body_len = raw->len;
    if (body_len == 0) {
        if (c->cmd->body == AS_BODY_WBXML) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          ASLOGNO(11020) "%s: the request has no body; "
                                         "a WBXML body is required",
                          c->who);
            return HTTP_BAD_REQUEST;
        }
    } else if (c->cmd->body != AS_BODY_NONE) {
        as_wbxml_err_t werr;
        apr_size_t off = 0;

        if (!as_wbxml_looks_like(body, body_len)) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          ASLOGNO(11021) "%s: the body is not WBXML "
                                         "(Content-Type %s, %" APR_SIZE_T_FMT " bytes)",
                          c->who,
                          logsafe(r->pool, apr_table_get(r->headers_in, "Content-Type"), 80),
                          body_len);
            return HTTP_BAD_REQUEST;
        }
        werr = as_wbxml_decode(body, body_len, &c->conf.limits, &doc, &off);
        if (werr != AS_WBXML_OK || !doc) {
            if (doc) {
                xmlFreeDoc(doc);
            }
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          ASLOGNO(11022) "%s: WBXML decoding failed at byte "
                                         "%" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT ": %s",
                          c->who, off, body_len, as_wbxml_strerror(werr));
            return HTTP_BAD_REQUEST;
        }
        keep_doc(r, doc);
        c->trace = trace_wanted(c);
        if (c->trace) {
            dump_doc(c, "request", doc);
        }
        root = xmlDocGetRootElement(doc);
        if (!c->cmd->root_ns || !c->cmd->root_name ||
            !as_xml_is(root, c->cmd->root_ns, c->cmd->root_name)) {
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, 0, r,
                ASLOGNO(11023) "%s: the body's root element is "
                               "%s%s, expected %s%s",
                c->who, root && root->ns && root->ns->href ? (const char *)root->ns->href : "",
                root ? (const char *)root->name : "(none)", c->cmd->root_ns ? c->cmd->root_ns : "",
                c->cmd->root_name ? c->cmd->root_name : "(none)");
            return HTTP_BAD_REQUEST;
        }
    }
    if (!doc) {
        c->trace = trace_wanted(c);
    }
    /* decoded (the document holds copies): the raw bytes are not needed */
    release_body(r, raw);
    body = NULL;

    memset(&req, 0, sizeof(req));
    req.pool = r->pool;
    req.log = &c->log;
    req.account = c->account;
    req.line = &c->line;
    req.protocol_version = c->version;
    req.user_agent = apr_table_get(r->headers_in, "User-Agent");
    req.body = doc;
    req.conf = &c->conf.core;
    req.access = &c->access;
    if (c->line.accept_multipart >= 0) {
        req.accept_multipart = c->line.accept_multipart ? 1 : 0;
    } else {
        const char *mp = apr_table_get(r->headers_in, "MS-ASAcceptMultiPart");
        req.accept_multipart = mp && !strcasecmp(mp, "T");
    }
    memset(&resp, 0, sizeof(resp));
    resp.http_status = HTTP_OK;
    resp.headers = apr_table_make(r->pool, 4);

    /* The environment for commands that keep state (NULL only if it
     * became unavailable since the gate). */
    req.db = mod_activesync_db_enter();
    rv = as_registry_handler(c->cmd)(&req, &resp);
    if (doc && !req.body) { /* the command freed it early (as_command.h) */
        apr_pool_cleanup_kill(r->pool, doc, free_doc);
    }
    if (req.db) {
        mod_activesync_db_leave();
    }
    keep_doc(r, resp.doc);
    if (rv != APR_SUCCESS) {
        if (rv == APR_ENOTIMPL) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r, ASLOGNO(11024) "%s: not implemented",
                          c->who);
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

    return send_reply(c, resp.http_status, resp.doc, resp.headers,
                      req.accept_multipart ? resp.parts : NULL, resp.raw);
}

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
                      logsafe(r->pool, r->method, 20));
        return HTTP_METHOD_NOT_ALLOWED;
    }
}
