/* The request body of the handler: read within ActiveSyncMaxRequestSize,
 * then decoded from WBXML and checked against the command's root element.
 *
 *   Content-Length over the bound      413 before a byte is read
 *   a chunked body over the bound      413 as soon as it passes it
 *   no body for a command that needs one, not WBXML, undecodable, or
 *   with the wrong root element        400
 *
 * Memory follows the bytes that arrive (as_body_buf.h): the buffer starts
 * at 16 KiB (or the Content-Length when smaller) and doubles as data comes
 * in, so announcing a large body costs nothing until it is sent.  The raw
 * bytes are freed as soon as the body is decoded (the document holds
 * copies): a parked Ping would otherwise hold them for up to an hour.
 *
 * The decoded documents of a request (the body, the command's reply, the
 * provisioning gate's answer) are freed with the request pool. */
#include <string.h>
#include <strings.h>

#include <apr_buckets.h>
#include <apr_strings.h>

#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "activesync/as_body_buf.h"
#include "activesync/as_protocol.h"
#include "activesync/as_wbxml.h"
#include "activesync/as_xml.h"
#include "mod_activesync_handler_ctx.h"
#include "mod_activesync_private.h"

#define READ_CHUNK 8192

/* ---- documents of the request ------------------------------------------- */

static apr_status_t free_doc(void *doc)
{
    xmlFreeDoc(doc);
    return APR_SUCCESS;
}

void mod_activesync_keep_doc(request_rec *r, xmlDocPtr doc)
{
    if (doc) {
        apr_pool_cleanup_register(r->pool, doc, free_doc, apr_pool_cleanup_null);
    }
}

void mod_activesync_forget_doc(request_rec *r, xmlDocPtr doc)
{
    if (doc) {
        apr_pool_cleanup_kill(r->pool, doc, free_doc);
    }
}

/* ---- reading ------------------------------------------------------------ */

static apr_status_t free_body(void *b)
{
    as_body_buf_free(b);
    return APR_SUCCESS;
}

/* The Content-Length, or -1 (chunked, or a header HTTP_IN let through that
 * is no plain number); a value over the bound is refused (413) before a
 * byte is read.  OK or 413. */
static int announced_length(handler_ctx_t *c, apr_off_t *cl)
{
    request_rec *r = c->r;
    const char *clh = apr_table_get(r->headers_in, "Content-Length");
    char *end;

    *cl = -1;
    if (!clh || apr_strtoff(cl, clh, &end, 10) != APR_SUCCESS || *end || *cl < 0) {
        *cl = -1;
        return OK;
    }
    if (*cl > c->conf.max_request_size) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      ASLOGNO(11004) "%s: request body of %" APR_OFF_T_FMT
                                     " bytes is over ActiveSyncMaxRequestSize %" APR_OFF_T_FMT,
                      c->who, *cl, c->conf.max_request_size);
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    return OK;
}

/* Append the data of one bucket.  OK or the HTTP status (logged). */
static int take_bucket(handler_ctx_t *c, apr_bucket *b, as_body_buf_t *buf)
{
    request_rec *r = c->r;
    apr_size_t cap = buf->cap, n;
    const char *data;
    apr_status_t rv;

    rv = apr_bucket_read(b, &data, &n, APR_BLOCK_READ);
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, rv, r,
                      ASLOGNO(11006) "%s: reading the request body failed", c->who);
        return HTTP_BAD_REQUEST;
    }
    rv = as_body_buf_append(buf, data, n);
    if (rv == APR_ENOSPC) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      ASLOGNO(11007) "%s: request body is over "
                                     "ActiveSyncMaxRequestSize %" APR_OFF_T_FMT " bytes",
                      c->who, c->conf.max_request_size);
        return HTTP_REQUEST_ENTITY_TOO_LARGE;
    }
    if (rv != APR_SUCCESS) {
        ap_log_rerror(APLOG_MARK, APLOG_ERR, rv, r,
                      ASLOGNO(11008) "%s: no memory for the request body", c->who);
        return HTTP_INTERNAL_SERVER_ERROR;
    }
    if (buf->cap != cap) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE2, 0, r,
                      ASLOGNO(11044) "%s: request body buffer now %" APR_SIZE_T_FMT
                                     " bytes (%" APR_SIZE_T_FMT " received)",
                      c->who, buf->cap, buf->len);
    }
    return OK;
}

/* Read the whole body into buf.  OK or the HTTP status (logged). */
static int read_body(handler_ctx_t *c, as_body_buf_t *buf)
{
    request_rec *r = c->r;
    apr_bucket_brigade *bb = apr_brigade_create(r->pool, r->connection->bucket_alloc);
    int seen_eos = 0, status = OK;

    while (!seen_eos && status == OK) {
        apr_bucket *b;
        apr_status_t rv =
            ap_get_brigade(r->input_filters, bb, AP_MODE_READBYTES, APR_BLOCK_READ, READ_CHUNK);
        if (rv != APR_SUCCESS) {
            status = ap_map_http_request_error(rv, HTTP_BAD_REQUEST);
            ap_log_rerror(
                APLOG_MARK, APLOG_INFO, rv, r,
                ASLOGNO(11005) "%s: reading the request body failed after %" APR_SIZE_T_FMT
                               " bytes (HTTP %d)",
                c->who, buf->len, status);
            return status;
        }
        for (b = APR_BRIGADE_FIRST(bb); b != APR_BRIGADE_SENTINEL(bb) && status == OK;
             b = APR_BUCKET_NEXT(b)) {
            if (APR_BUCKET_IS_EOS(b)) {
                seen_eos = 1;
                break;
            }
            if (!APR_BUCKET_IS_METADATA(b)) {
                status = take_bucket(c, b, buf);
            }
        }
        apr_brigade_cleanup(bb);
    }
    return status;
}

/* ---- decoding ----------------------------------------------------------- */

/* SendMail, SmartReply and SmartForward before 14.0 send the message
 * itself (Content-Type message/rfc822) instead of WBXML. */
static int takes_rfc822(const handler_ctx_t *c)
{
    const char *ct = apr_table_get(c->r->headers_in, "Content-Type");
    const char *n = c->cmd->name;

    return (!strcmp(n, "SendMail") || !strcmp(n, "SmartReply") || !strcmp(n, "SmartForward")) &&
           as_protocol_number(c->version) < 140 && ct && !strncasecmp(ct, "message/rfc822", 14);
}

/* The body as the command wants it: nothing, or a WBXML document with its
 * root element.  OK (*docp NULL or kept in the pool) or 400 (logged). */
static int decode_body(handler_ctx_t *c, const as_body_buf_t *buf, xmlDocPtr *docp)
{
    request_rec *r = c->r;
    const unsigned char *body = buf->data;
    apr_size_t off = 0;
    as_wbxml_err_t werr;
    xmlDocPtr doc = NULL;
    xmlNodePtr root;

    if (buf->len == 0) {
        if (c->cmd->body == AS_BODY_WBXML) {
            ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                          ASLOGNO(11020) "%s: the request has no body; "
                                         "a WBXML body is required",
                          c->who);
            return HTTP_BAD_REQUEST;
        }
        return OK;
    }
    if (c->cmd->body == AS_BODY_NONE) {
        return OK;
    }
    if (takes_rfc822(c) && !as_wbxml_looks_like(body, buf->len)) {
        c->raw_body = apr_pmemdup(r->pool, body, buf->len); /* SendMail before 14.0 */
        c->raw_len = buf->len;
        return OK;
    }
    if (!as_wbxml_looks_like(body, buf->len)) {
        ap_log_rerror(
            APLOG_MARK, APLOG_INFO, 0, r,
            ASLOGNO(11021) "%s: the body is not WBXML "
                           "(Content-Type %s, %" APR_SIZE_T_FMT " bytes)",
            c->who,
            mod_activesync_logsafe(r->pool, apr_table_get(r->headers_in, "Content-Type"), 80),
            buf->len);
        return HTTP_BAD_REQUEST;
    }
    werr = as_wbxml_decode(body, buf->len, &c->conf.limits, &doc, &off);
    if (werr != AS_WBXML_OK || !doc) {
        if (doc) {
            xmlFreeDoc(doc);
        }
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      ASLOGNO(11022) "%s: WBXML decoding failed at byte "
                                     "%" APR_SIZE_T_FMT " of %" APR_SIZE_T_FMT ": %s",
                      c->who, off, buf->len, as_wbxml_strerror(werr));
        return HTTP_BAD_REQUEST;
    }
    mod_activesync_keep_doc(r, doc);
    *docp = doc;
    /* dumped before the root check: a request refused for it is dumped too */
    c->trace = mod_activesync_trace_wanted(c);
    if (c->trace) {
        mod_activesync_trace_doc(c, "request", doc);
    }
    root = xmlDocGetRootElement(doc);
    if (!c->cmd->root_ns || !c->cmd->root_name ||
        !as_xml_is(root, c->cmd->root_ns, c->cmd->root_name)) {
        ap_log_rerror(APLOG_MARK, APLOG_INFO, 0, r,
                      ASLOGNO(11023) "%s: the body's root element is %s%s, expected %s%s", c->who,
                      root && root->ns && root->ns->href ? (const char *)root->ns->href : "",
                      root ? (const char *)root->name : "(none)",
                      c->cmd->root_ns ? c->cmd->root_ns : "",
                      c->cmd->root_name ? c->cmd->root_name : "(none)");
        return HTTP_BAD_REQUEST;
    }
    return OK;
}

int mod_activesync_read_request(handler_ctx_t *c, xmlDocPtr *docp)
{
    request_rec *r = c->r;
    as_body_buf_t *buf = apr_palloc(r->pool, sizeof(*buf));
    apr_off_t cl;
    int status;

    *docp = NULL;
    status = announced_length(c, &cl);
    if (status != OK) {
        return status;
    }
    as_body_buf_init(buf, c->conf.max_request_size, cl);
    apr_pool_cleanup_register(r->pool, buf, free_body, apr_pool_cleanup_null);
    status = read_body(c, buf);
    if (status == OK) {
        status = decode_body(c, buf, docp);
    }
    /* decoded (the document holds copies), or refused: the bytes go now */
    apr_pool_cleanup_run(r->pool, buf, free_body);
    if (status == OK && !*docp) {
        c->trace = mod_activesync_trace_wanted(c);
    }
    return status;
}
