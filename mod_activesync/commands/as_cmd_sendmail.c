/* SendMail (MS-ASCMD 2.2.1.17), 14.0 and later: the phone's message is
 * submitted through the configured outbound (as_outbound.h) and, when
 * asked, a copy goes into the Sent folder.
 *
 * Request  SendMail{ClientId, [AccountId], [SaveInSentItems], Mime}
 *          (namespace ComposeMail:)
 * Reply    empty (HTTP 200) on success, else SendMail{Status}:
 *   103 malformed request (no ClientId or Mime, a ClientId over 64 bytes)
 *   107 the Mime is not a message
 *   110 server error (the Sent copy cannot be made is NOT one: logged only)
 *   115 more recipients than AS_OUTBOUND_MAX_RECIPIENTS
 *   118 this ClientId was already sent by the device: not submitted again
 *   119 no recipient, or a recipient that is not a plain address
 *   120 the MTA refused, failed or timed out (its words are logged); the
 *       phone keeps the message and retries, nothing is saved in Sent
 *   122 larger than ActiveSyncMaxMessageSize
 *   130 email off for the account, or a From that is not the account's
 * Before 14.0 the body is the message itself (message/rfc822, the glue
 * passes it as req->raw_body) with SaveInSent=T in the request line, there
 * is no ClientId, and the answer is an HTTP status: 200 sent (empty),
 * 400 malformed or no recipient, 403 another From or email off, 413 too
 * large, 500 the MTA refused or timed out (http_status12).
 */
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "as_sendmail.h"
#include "activesync/as_mime.h"
#include "activesync/as_outbound.h"
#include "activesync/as_protocol.h"
#include "activesync/as_sync.h"

#define CM_NS "ComposeMail:"

typedef struct sendmail_req_t {
    const char *client_id;
    const char *mime;
    apr_size_t mime_len;
    int save_in_sent;
} sendmail_req_t;

/* The HTTP status of a Status for the 12.1 form. */
static int http_status12(const char *status)
{
    if (!strcmp(status, "118")) {
        return 200;
    }
    if (!strcmp(status, "130")) {
        return 403;
    }
    if (!strcmp(status, "122")) {
        return 413;
    }
    if (!strcmp(status, "120") || !strcmp(status, "110")) {
        return 500;
    }
    return 400;
}

static apr_status_t reply_status(as_request_t *r, as_response_t *resp, const char *status)
{
    xmlNodePtr root;

    if (as_protocol_number(r->protocol_version) < 140) {
        resp->http_status = http_status12(status);
        return APR_SUCCESS;
    }
    resp->doc = as_reply_new(CM_NS, "SendMail", &root);
    as_xml_add(root, CM_NS, "Status", status);
    return APR_SUCCESS;
}

static int parse_request(as_request_t *r, sendmail_req_t *q)
{
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL, n;

    memset(q, 0, sizeof(*q));
    if (as_protocol_number(r->protocol_version) < 140) {
        q->mime = r->raw_body;
        q->mime_len = r->raw_len;
        q->save_in_sent = r->line && r->line->save_in_sent == 1;
        return q->mime && q->mime_len > 0;
    }
    if (!root || !as_xml_is(root, CM_NS, "SendMail")) {
        return 0;
    }
    if ((n = as_xml_child(root, CM_NS, "ClientId")) != NULL) {
        q->client_id = as_xml_text(r->pool, n, NULL);
    }
    if ((n = as_xml_child(root, CM_NS, "Mime")) != NULL) {
        q->mime = as_xml_text(r->pool, n, &q->mime_len);
    }
    if ((n = as_xml_child(root, CM_NS, "SaveInSentItems")) != NULL) {
        const char *v = as_xml_text(r->pool, n, NULL);
        q->save_in_sent = !v || strcmp(v, "0"); /* an empty element means yes */
    }
    return q->client_id && *q->client_id && strlen(q->client_id) <= AS_SENDMAIL_CLIENTID_MAX &&
           !strchr(q->client_id, '\n') && q->mime && q->mime_len > 0;
}

static const char *check_status(as_sendmail_check_t c)
{
    switch (c) {
    case AS_SM_OK:
        return NULL;
    case AS_SM_BAD_MIME:
        return "107";
    case AS_SM_NO_RCPT:
    case AS_SM_BAD_RCPT:
        return "119";
    case AS_SM_TOO_MANY:
        return "115";
    case AS_SM_FROM:
        return "130";
    }
    return "110";
}

/* The copy in Sent, read; a failure is logged (the message went out). */
static void save_in_sent(as_request_t *r, const as_sendmail_msg_t *m)
{
    as_store_t *st = NULL;
    const char *folder = NULL;
    apr_status_t rv = as_sync_open_store(r, &st);

    if (rv == APR_SUCCESS) {
        rv = as_store_special_folder(st, AS_FOLDER_SENT, 1, r->pool, &folder);
    }
    if (rv == APR_SUCCESS) {
        rv = as_store_deliver(st, folder, m->sent, m->sent_len, AS_STORE_SEEN, 0, r->pool, NULL);
    }
    if (rv != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, rv,
               "SendMail from %s: sent, but the copy in Sent failed", r->account);
    }
}

static apr_status_t submit(as_request_t *r, as_response_t *resp, const sendmail_req_t *q,
                           const as_sendmail_msg_t *m)
{
    const char *device = r->line ? r->line->device_key : NULL;
    const char *words = NULL;
    as_outbound_result_t res;
    int already = 0;
    apr_status_t rv = APR_SUCCESS;

    /* The 12.1 form has no ClientId: nothing to remember. */
    if (q->client_id && !r->db) {
        return as_cmd_db_failure(r, resp, AS_DB_EUNAVAIL);
    }
    if (q->client_id && (rv = as_sendmail_sent_check(r->db, r->account, device, q->client_id,
                                                     &already)) != APR_SUCCESS) {
        return as_cmd_db_failure(r, resp, rv);
    }
    if (already) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0,
               "SendMail from %s: ClientId %s already sent, not submitted again", r->account,
               q->client_id);
        return reply_status(r, resp, "118");
    }
    res = as_outbound_submit(r->conf ? r->conf->outbound : NULL, r->pool, r->account, m->recipients,
                             m->submit, m->submit_len, &words);
    if (res != AS_OUTBOUND_OK) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, 0, "SendMail from %s: submission %s: %s",
               r->account, res == AS_OUTBOUND_TIMEOUT ? "timed out" : "refused",
               words ? words : "");
        return reply_status(r, resp, "120");
    }
    as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0,
           "SendMail from %s: %" APR_SIZE_T_FMT " bytes to %d recipient(s) submitted", r->account,
           m->submit_len, m->recipients->nelts);
    if (q->client_id &&
        (rv = as_sendmail_sent_note(r->db, r->account, device, q->client_id)) != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, rv,
               "SendMail from %s: sent, but ClientId %s not remembered", r->account, q->client_id);
    }
    if (q->save_in_sent) {
        save_in_sent(r, m);
    }
    return APR_SUCCESS;
}

apr_status_t as_cmd_sendmail(as_request_t *r, as_response_t *resp)
{
    apr_size_t max = r->conf ? r->conf->max_message_size : 0;
    const char *why = NULL, *status;
    as_sendmail_sender_t sender;
    as_sendmail_msg_t m;
    sendmail_req_t q;

    if (!parse_request(r, &q)) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "SendMail from %s: malformed request",
               r->account);
        return reply_status(r, resp, "103");
    }
    if (!as_sync_email_enabled(r)) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0, "SendMail from %s refused: email is off",
               r->account);
        return reply_status(r, resp, "130");
    }
    if (max > 0 && q.mime_len > max) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0,
               "SendMail from %s refused: %" APR_SIZE_T_FMT " bytes, more than %" APR_SIZE_T_FMT,
               r->account, q.mime_len, max);
        return reply_status(r, resp, "122");
    }
    as_mime_init();
    as_sendmail_sender_of(r, &sender);
    status = check_status(as_sendmail_prepare(r->pool, &sender, q.mime, q.mime_len, &m, &why));
    if (status) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0, "SendMail from %s refused (status %s): %s",
               r->account, status, why ? why : "");
        return reply_status(r, resp, status);
    }
    return submit(r, resp, &q, &m);
}
