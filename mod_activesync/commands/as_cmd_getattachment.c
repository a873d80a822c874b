/* GetAttachment (MS-ASCMD 2.2.1.7), EAS 12.1 and earlier: the attachment
 * named by the request line's AttachmentName (a FileReference
 * "folder:item:part" as Sync writes it), no request body.  The reply is
 * the decoded attachment itself: HTTP 200, Content-Type the part's media
 * type, the raw bytes as body (as_raw_body_t), streamed from the message
 * file in bounded memory: one pass measures the decoded size for
 * Content-Length, a second one sends the bytes.
 *
 * Errors are HTTP statuses, each with one log line and an empty body:
 *   400  AttachmentName missing or not a well-formed FileReference (a
 *        client bug: no retry helps);
 *   500  the attachment is not there: the message or part is gone, or the
 *        reference belongs to another mailbox (it is looked up in the
 *        account's own Maildir only), or mail is not served to the account
 *        (`email` off, no ActiveSyncMaildir).  MS-ASCMD answers a deleted
 *        attachment with 500, as Exchange does; also a store failure;
 *   501  a 14.0+ request (the glue refuses it before the gates with
 *        as_command_in_version; checked again here).
 */
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_device.h"
#include "activesync/as_mime.h"
#include "activesync/as_store.h"
#include "activesync/as_sync.h"

#define GA_LOG_NAME 100 /* bytes of a bad AttachmentName shown in the log */

typedef struct ga_body_t {
    apr_pool_t *pool;
    const as_logger_t *log;
    const char *account, *ref, *part;
    apr_file_t *file;
    apr_off_t total;
} ga_body_t;

static as_store_t *ga_store(void *ctx, apr_status_t *why)
{
    as_store_t *st = NULL;
    *why = as_sync_open_store(ctx, &st);
    return *why == APR_SUCCESS ? st : NULL;
}

/* The media type for Content-Type: "type/subtype" of RFC 2045 token
 * characters, else application/octet-stream (nothing from the message
 * reaches a header unchecked). */
static const char *media_type(const char *ct)
{
    static const char tspecial[] = "()<>@,;:\\\"/[]?=";
    const char *s;
    int slash = 0, run = 0;

    for (s = ct; s && *s; s++) {
        if (*s == '/' && run && !slash) {
            slash = 1;
            run = 0;
        } else if (*s > ' ' && *s < 0x7f && !strchr(tspecial, *s)) {
            run++;
        } else {
            return "application/octet-stream";
        }
    }
    return ct && slash && run ? ct : "application/octet-stream";
}

/* The second pass: the bytes to the glue's sink.  A sink error (the client
 * went away) or an unreadable file is the glue's to log, with the bytes
 * sent; a decoded size that changed since the first pass is logged here. */
static apr_status_t produce(void *ctx, as_raw_sink_fn *sink, void *sink_ctx)
{
    ga_body_t *b = ctx;
    as_mime_attachment_t att;
    apr_status_t rv = as_mime_attachment_stream(b->pool, b->file, b->part, sink, sink_ctx, &att);

    if (rv == APR_SUCCESS && att.total != b->total) {
        /* cannot happen with an open Maildir file; never send a lie */
        as_log(b->log, AS_LOG_MARK, AS_LOG_ERR, 0,
               "GetAttachment: %s of %s decoded to %" APR_OFF_T_FMT
               " bytes, then to %" APR_OFF_T_FMT,
               b->ref, b->account, b->total, att.total);
        rv = APR_EGENERAL;
    }
    return rv;
}

static apr_status_t refuse(as_request_t *r, as_response_t *resp, int http, int level,
                           apr_status_t rv, const char *why)
{
    as_log(r->log, AS_LOG_MARK, level, rv, "GetAttachment from %s: %s (HTTP %d)", r->account, why,
           http);
    resp->http_status = http;
    resp->doc = NULL;
    resp->raw = NULL;
    return APR_SUCCESS;
}

apr_status_t as_cmd_getattachment(as_request_t *r, as_response_t *resp)
{
    const char *ref = r->line ? r->line->attachment_name : NULL, *part = NULL;
    as_store_msg_t *msg = NULL;
    as_mime_attachment_t att;
    as_raw_body_t *raw;
    ga_body_t *b;
    int store_failed = 0;
    apr_status_t rv;

    if (!as_command_in_version(as_command_by_name("GetAttachment"),
                               as_protocol_number(r->protocol_version))) {
        return APR_ENOTIMPL;
    }
    if (!ref || !*ref) {
        return refuse(r, resp, 400, AS_LOG_INFO, 0, "no AttachmentName in the request line");
    }
    rv = as_cmd_attachment_open(r->pool, ref, ga_store, r, &msg, &part, &store_failed);
    if (rv == APR_EINVAL) {
        return refuse(r, resp, 400, AS_LOG_INFO, 0,
                      apr_psprintf(r->pool,
                                   "AttachmentName '%.*s%s' is not a FileReference "
                                   "(folder:item:part)",
                                   GA_LOG_NAME, ref, strlen(ref) > GA_LOG_NAME ? "..." : ""));
    }
    if (rv == APR_ENOENT) {
        return refuse(r, resp, 500, AS_LOG_INFO, 0,
                      apr_psprintf(r->pool, "%s: no such attachment in the mailbox", ref));
    }
    if (rv != APR_SUCCESS) {
        return refuse(r, resp, 500, AS_LOG_ERR, rv,
                      apr_psprintf(r->pool, "%s: cannot %s", ref,
                                   store_failed ? "open the mailbox" : "read the message"));
    }
    /* first pass: the part exists, and its decoded size */
    rv = as_mime_attachment_stream(r->pool, msg->file, part, NULL, NULL, &att);
    if (rv == APR_ENOENT || rv == APR_EINVAL) {
        return refuse(r, resp, 500, AS_LOG_INFO, 0,
                      apr_psprintf(r->pool, "%s: the message has no such part", ref));
    }
    if (rv != APR_SUCCESS) {
        return refuse(r, resp, 500, AS_LOG_ERR, rv,
                      apr_psprintf(r->pool, "%s: cannot decode the attachment", ref));
    }
    b = apr_pcalloc(r->pool, sizeof(*b));
    b->pool = r->pool;
    b->log = r->log;
    b->account = r->account;
    b->ref = ref;
    b->part = part;
    b->file = msg->file;
    b->total = att.total;
    raw = apr_pcalloc(r->pool, sizeof(*raw));
    raw->content_type = media_type(att.content_type);
    raw->length = att.total;
    raw->produce = produce;
    raw->ctx = b;
    resp->http_status = 200;
    resp->doc = NULL;
    resp->raw = raw;
    as_log(r->log, AS_LOG_MARK, AS_LOG_DEBUG, 0,
           "GetAttachment: %s of %s, %s, %" APR_OFF_T_FMT " bytes", ref, r->account,
           raw->content_type, att.total);
    return APR_SUCCESS;
}
