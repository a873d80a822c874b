/* Writing the reply of the request handler: the status (with the reason
 * phrases httpd does not know), and a body that is one of
 *   - WBXML (or nothing: Content-Length 0, e.g. the empty Sync reply),
 *   - multipart (MS-ASAcceptMultiPart: T or base64 Options 0x02): the
 *     encoded WBXML as part 0 and the binary parts as separate buckets,
 *   - raw (GetAttachment): the command's chunks streamed with an exact
 *     Content-Length.
 * Replies are "Cache-Control: private" and always carry an exact
 * Content-Length (never chunked). */
#include <string.h>

#include <apr_buckets.h>
#include <apr_strings.h>

#include <http_protocol.h>
#include <http_request.h>
#include <util_filter.h>

#include "activesync/as_multipart.h"
#include "activesync/as_wbxml.h"
#include "mod_activesync_handler_ctx.h"
#include "mod_activesync_private.h"

#define WBXML_CONTENT_TYPE "application/vnd.ms-sync.wbxml"

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

int mod_activesync_send_reply(handler_ctx_t *c, int http_status, xmlDocPtr doc,
                              apr_table_t *headers, const apr_array_header_t *parts,
                              const as_raw_body_t *raw)
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
            mod_activesync_trace_doc(c, "reply", doc);
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

int mod_activesync_send_empty(request_rec *r)
{
    return send_body(r, NULL, 0);
}
