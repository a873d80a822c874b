/* SendMail (MS-ASCMD 2.2.1.17), 14.0 and later: the phone's message is
 * submitted through the configured outbound (as_outbound.h) and, when
 * asked, a copy goes into the Sent folder.
 *
 * Request  SendMail{ClientId, [AccountId], [SaveInSentItems], Mime}
 *          (namespace ComposeMail:)
 * Reply    empty (HTTP 200) on success, else SendMail{Status}:
 *   103 malformed request (no ClientId or Mime, a ClientId over 64 bytes)
 *   130 email off for the account
 *   and those of the shared submission path (as_sendmail_submit.c): 107,
 *   111, 115, 118, 119, 120 (the MTA refused: nothing saved in Sent, the
 *   phone retries), 122, 130 (a From that is not the account's); a failed
 *   Sent copy is logged only (the message went out)
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
#include "activesync/as_protocol.h"
#include "activesync/as_sync.h"

#define CM_NS "ComposeMail:"

typedef struct sendmail_req_t {
    const char *client_id;
    const char *mime;
    apr_size_t mime_len;
    int save_in_sent;
} sendmail_req_t;

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

apr_status_t as_cmd_sendmail(as_request_t *r, as_response_t *resp)
{
    as_sendmail_job_t job;
    sendmail_req_t q;

    if (!parse_request(r, &q)) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "SendMail from %s: malformed request",
               r->account);
        return as_sendmail_reply_status(r, resp, "SendMail", "103");
    }
    if (!as_sync_email_enabled(r)) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0, "SendMail from %s refused: email is off",
               r->account);
        return as_sendmail_reply_status(r, resp, "SendMail", "130");
    }
    memset(&job, 0, sizeof job);
    job.cmd = "SendMail";
    job.client_id = q.client_id;
    job.save_in_sent = q.save_in_sent;
    job.mime = q.mime;
    job.mime_len = q.mime_len;
    return as_sendmail_run(r, resp, &job);
}
