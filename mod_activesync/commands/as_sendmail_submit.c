/* The submission path SendMail, SmartReply and SmartForward share: the
 * size bound, the message checks, the ClientId reservation, the outbound,
 * and after the MTA accepted: the ClientId noted, the caller's hook and the
 * copy in Sent.  Statuses (MS-ASCMD common status codes, 14.0+):
 *   107 not a message, 111 the same ClientId is being submitted by another
 *   request right now (retry later), 115 too many recipients, 118 ClientId
 *   already sent, 119 no or bad recipient, 120 the MTA refused or timed
 *   out, 122 larger than ActiveSyncMaxMessageSize, 130 a From that is not
 *   the account's.  Before 14.0 they become HTTP statuses (http_status12). */
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "as_sendmail.h"
#include "activesync/as_mime.h"
#include "activesync/as_outbound.h"
#include "activesync/as_protocol.h"
#include "activesync/as_sync.h"

#define CM_NS "ComposeMail:"

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
    if (!strcmp(status, "150")) {
        return 404;
    }
    if (!strcmp(status, "111")) {
        return 503;
    }
    if (!strcmp(status, "120") || !strcmp(status, "110")) {
        return 500;
    }
    return 400;
}

apr_status_t as_sendmail_reply_status(as_request_t *r, as_response_t *resp, const char *cmd,
                                      const char *status)
{
    xmlNodePtr root;

    if (as_protocol_number(r->protocol_version) < 140) {
        resp->http_status = http_status12(status);
        return APR_SUCCESS;
    }
    resp->doc = as_reply_new(CM_NS, cmd, &root);
    as_xml_add(root, CM_NS, "Status", status);
    return APR_SUCCESS;
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
static void save_in_sent(as_request_t *r, const char *cmd, const as_sendmail_msg_t *m)
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
        as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, rv, "%s from %s: sent, but the copy in Sent failed",
               cmd, r->account);
    }
}

/* Reserve the ClientId: NULL to go on, else the status to answer. */
static const char *reserve(as_request_t *r, const as_sendmail_job_t *job, apr_status_t *rv)
{
    const char *device = r->line ? r->line->device_key : NULL;
    as_sendmail_id_t state = AS_SM_ID_NEW;

    *rv = APR_SUCCESS;
    if (!job->client_id) {
        return NULL; /* the 12.1 form has no ClientId: nothing to remember */
    }
    if (!r->db) {
        *rv = AS_DB_EUNAVAIL;
        return NULL;
    }
    *rv = as_sendmail_sent_reserve(r->db, r->account, device, job->client_id, &state);
    if (*rv != APR_SUCCESS || state == AS_SM_ID_NEW) {
        return NULL;
    }
    as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "%s from %s: ClientId %s %s, not submitted again",
           job->cmd, r->account, job->client_id,
           state == AS_SM_ID_SENT ? "already sent" : "being submitted by another request");
    return state == AS_SM_ID_SENT ? "118" : "111";
}

static apr_status_t submit(as_request_t *r, as_response_t *resp, const as_sendmail_job_t *job,
                           const as_sendmail_msg_t *m)
{
    const char *device = r->line ? r->line->device_key : NULL;
    const char *words = NULL, *status;
    as_outbound_result_t res;
    apr_status_t rv;

    if ((status = reserve(r, job, &rv)) != NULL) {
        return as_sendmail_reply_status(r, resp, job->cmd, status);
    }
    if (rv != APR_SUCCESS) {
        return as_cmd_db_failure(r, resp, rv);
    }
    res = as_outbound_submit(r->conf ? r->conf->outbound : NULL, r->pool, r->account, m->recipients,
                             m->submit, m->submit_len, &words);
    if (res != AS_OUTBOUND_OK) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, 0, "%s from %s: submission %s: %s", job->cmd,
               r->account, res == AS_OUTBOUND_TIMEOUT ? "timed out" : "refused",
               words ? words : "");
        if (job->client_id && (rv = as_sendmail_sent_release(r->db, r->account, device,
                                                             job->client_id)) != APR_SUCCESS) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, rv,
                   "%s from %s: ClientId %s still reserved (a retry waits for it to expire)",
                   job->cmd, r->account, job->client_id);
        }
        return as_sendmail_reply_status(r, resp, job->cmd, "120");
    }
    as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0,
           "%s from %s: %" APR_SIZE_T_FMT " bytes to %d recipient(s) submitted", job->cmd,
           r->account, m->submit_len, m->recipients->nelts);
    if (job->client_id &&
        (rv = as_sendmail_sent_note(r->db, r->account, device, job->client_id)) != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, rv,
               "%s from %s: sent, but ClientId %s not remembered", job->cmd, r->account,
               job->client_id);
    }
    if (job->accepted) {
        job->accepted(r, job->baton);
    }
    if (job->save_in_sent) {
        save_in_sent(r, job->cmd, m);
    }
    return APR_SUCCESS;
}

apr_status_t as_sendmail_run(as_request_t *r, as_response_t *resp, const as_sendmail_job_t *job)
{
    apr_size_t max = r->conf ? r->conf->max_message_size : 0;
    const char *why = NULL, *status;
    as_sendmail_sender_t sender;
    as_sendmail_msg_t m;

    if (max > 0 && job->mime_len > max) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0,
               "%s from %s refused: %" APR_SIZE_T_FMT " bytes, more than %" APR_SIZE_T_FMT,
               job->cmd, r->account, job->mime_len, max);
        return as_sendmail_reply_status(r, resp, job->cmd, "122");
    }
    as_mime_init();
    as_sendmail_sender_of(r, &sender);
    status =
        check_status(as_sendmail_prepare(r->pool, &sender, job->mime, job->mime_len, &m, &why));
    if (status) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0, "%s from %s refused (status %s): %s",
               job->cmd, r->account, status, why ? why : "");
        return as_sendmail_reply_status(r, resp, job->cmd, status);
    }
    return submit(r, resp, job, &m);
}
