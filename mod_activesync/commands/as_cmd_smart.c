/* SmartReply and SmartForward (MS-ASCMD 2.2.1.19, 2.2.1.20): a reply to or
 * a forward of a message in the store.
 *
 * Request (14.0+, namespace ComposeMail:)
 *   SmartReply|SmartForward{ClientId, Source{FolderId, ItemId | LongId,
 *   [InstanceId]}, [SaveInSentItems], [ReplaceMime], Mime}
 * Before 14.0 the body is the phone's message (message/rfc822, the glue
 * passes it as req->raw_body) and the request line carries ItemId,
 * CollectionId (or LongId) and SaveInSent; the answer is an HTTP status.
 *
 * Without ReplaceMime the original (read from the store) is added below
 * the phone's text (as_mime_compose.h); with it the phone's message is sent
 * as it is.  Either way the result takes SendMail's path (as_sendmail_run:
 * From and recipient checks, ClientId, the MTA, the Sent copy) and, once
 * the MTA accepted it, the original is marked answered (Maildir R) or
 * forwarded (Dovecot's $Forwarded keyword); the phone sees that as
 * Email2:LastVerbExecuted in its next Sync.
 * Statuses besides SendMail's: 103 malformed request (no ClientId, Mime or
 * Source), 130 email off, 150 the source item does not exist (404 before
 * 14.0), 122 an original larger than ActiveSyncMaxMessageSize.
 * ItemId is the item's ServerId ("folder:item"); a bare item id is taken
 * in FolderId.  LongIds (Search results) are accepted in ServerId form only
 * (this server gives none out).  A Source in a calendar is the meeting:
 * its invitation is made from the item (as_meeting_as_message), so a
 * forward carries it as invite.ics; InstanceId (one occurrence) is
 * ignored: the whole meeting is sent. */
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "as_sendmail.h"
#include "activesync/as_meeting.h"
#include "activesync/as_mime_compose.h"
#include "activesync/as_protocol.h"
#include "activesync/as_sync.h"

#define CM_NS "ComposeMail:"

typedef struct smart_req_t {
    const char *cmd; /* "SmartReply" or "SmartForward" */
    as_compose_kind_t kind;
    const char *client_id;
    const char *folder_id, *item_id, *long_id;
    int save_in_sent, replace_mime;
    const char *mime;
    apr_size_t mime_len;
} smart_req_t;

/* The original, located in the store. */
typedef struct smart_source_t {
    as_store_t *st;
    const char *folder, *item;
    as_compose_kind_t kind;
    int cls; /* the folder's class: a mail is marked, a calendar item is not */
} smart_source_t;

static const char *child_text(as_request_t *r, xmlNodePtr parent, const char *name)
{
    xmlNodePtr n = parent ? as_xml_child(parent, CM_NS, name) : NULL;
    return n ? as_xml_text(r->pool, n, NULL) : NULL;
}

static int parse14(as_request_t *r, smart_req_t *q)
{
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL, n, src;

    if (!root || !as_xml_is(root, CM_NS, q->cmd)) {
        return 0;
    }
    q->client_id = child_text(r, root, "ClientId");
    src = as_xml_child(root, CM_NS, "Source");
    q->folder_id = child_text(r, src, "FolderId");
    q->item_id = child_text(r, src, "ItemId");
    q->long_id = child_text(r, src, "LongId");
    if ((n = as_xml_child(root, CM_NS, "Mime")) != NULL) {
        q->mime = as_xml_text(r->pool, n, &q->mime_len);
    }
    if ((n = as_xml_child(root, CM_NS, "SaveInSentItems")) != NULL) {
        const char *v = as_xml_text(r->pool, n, NULL);
        q->save_in_sent = !v || strcmp(v, "0"); /* an empty element means yes */
    }
    if ((n = as_xml_child(root, CM_NS, "ReplaceMime")) != NULL) {
        const char *v = as_xml_text(r->pool, n, NULL);
        q->replace_mime = !v || strcmp(v, "0");
    }
    return q->client_id && *q->client_id && strlen(q->client_id) <= AS_SENDMAIL_CLIENTID_MAX &&
           !strchr(q->client_id, '\n') && src && ((q->item_id && *q->item_id) || q->long_id);
}

static int parse_request(as_request_t *r, int reply, smart_req_t *q)
{
    int ok;

    memset(q, 0, sizeof(*q));
    q->cmd = reply ? "SmartReply" : "SmartForward";
    q->kind = reply ? AS_COMPOSE_REPLY : AS_COMPOSE_FORWARD;
    if (as_protocol_number(r->protocol_version) < 140) {
        q->mime = r->raw_body;
        q->mime_len = r->raw_len;
        q->save_in_sent = r->line && r->line->save_in_sent == 1;
        q->folder_id = r->line ? r->line->collection_id : NULL;
        q->item_id = r->line ? r->line->item_id : NULL;
        q->long_id = r->line ? r->line->long_id : NULL;
        ok = (q->item_id && *q->item_id) || q->long_id;
    } else {
        ok = parse14(r, q);
    }
    return ok && q->mime && q->mime_len > 0;
}

/* The store ids of the source: ItemId as a ServerId, else FolderId and a
 * bare ItemId; a LongId in ServerId form. */
static int source_ids(as_request_t *r, const smart_req_t *q, const char **folder, const char **item)
{
    if (q->item_id && *q->item_id) {
        if (as_sync_split_serverid(r->pool, q->item_id, folder, item) == APR_SUCCESS) {
            return 1;
        }
        *folder = q->folder_id;
        *item = q->item_id;
        return *folder && *folder && !strchr(*item, ':');
    }
    return q->long_id && as_sync_split_serverid(r->pool, q->long_id, folder, item) == APR_SUCCESS;
}

/* A mail is its own original; a calendar item is replied to or forwarded
 * as the invitation it stands for (as_meeting_as_message); other classes
 * have no message (150). */
static const char *source_as_message(as_request_t *r, smart_source_t *s, const char **data,
                                     apr_size_t *len)
{
    const as_store_folder_t *fd = NULL;

    s->cls = as_store_get_folder(s->st, s->folder, r->pool, &fd) == APR_SUCCESS && fd
                 ? fd->cls
                 : AS_CLASS_EMAIL;
    if (s->cls == AS_CLASS_EMAIL) {
        return NULL;
    }
    if (s->cls == AS_CLASS_CALENDAR &&
        as_meeting_as_message(r->pool, *data, *len, data, len) == APR_SUCCESS) {
        return NULL;
    }
    return "150";
}

/* Open the source and read it into memory (at most max bytes; 0: no
 * bound).  NULL on success, else the status to answer. */
static const char *read_source(as_request_t *r, const smart_req_t *q, smart_source_t *s,
                               apr_size_t max, const char **data, apr_size_t *len)
{
    as_store_msg_t *msg = NULL;
    apr_status_t rv;
    char *buf;

    if (!source_ids(r, q, &s->folder, &s->item)) {
        return "150";
    }
    rv = as_sync_open_store(r, &s->st);
    if (rv == APR_SUCCESS) {
        rv = as_store_open_item(s->st, s->folder, s->item, r->pool, &msg);
    }
    if (rv != APR_SUCCESS) {
        return "150";
    }
    if (max > 0 && msg->item.size > (apr_off_t)max) {
        return "122";
    }
    *len = (apr_size_t)msg->item.size;
    buf = apr_palloc(r->pool, *len + 1);
    if (*len > 0 && apr_file_read_full(msg->file, buf, *len, len) != APR_SUCCESS) {
        return "110";
    }
    buf[*len] = '\0';
    *data = buf;
    return source_as_message(r, s, data, len);
}

/* After the MTA accepted: the original answered or forwarded. */
static void mark_source(as_request_t *r, void *baton)
{
    smart_source_t *s = baton;
    unsigned flag = s->kind == AS_COMPOSE_REPLY ? AS_STORE_ANSWERED : AS_STORE_FORWARDED;
    apr_status_t rv;

    if (s->cls != AS_CLASS_EMAIL) {
        return; /* a calendar item keeps no answered state */
    }
    rv = as_store_set_flags(s->st, s->folder, s->item, flag, 0, NULL);
    if (rv != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_WARNING, rv, "%s from %s: sent, but %s:%s not marked %s",
               s->kind == AS_COMPOSE_REPLY ? "SmartReply" : "SmartForward", r->account, s->folder,
               s->item, s->kind == AS_COMPOSE_REPLY ? "answered" : "forwarded");
    }
}

static apr_status_t refuse(as_request_t *r, as_response_t *resp, const smart_req_t *q,
                           const char *status, const char *why)
{
    as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0, "%s from %s refused (status %s): %s", q->cmd,
           r->account, status, why);
    return as_sendmail_reply_status(r, resp, q->cmd, status);
}

static apr_status_t smart(as_request_t *r, as_response_t *resp, int reply)
{
    apr_size_t max = r->conf ? r->conf->max_message_size : 0, olen = 0;
    const char *orig = NULL, *status, *why = NULL;
    smart_source_t *src = apr_pcalloc(r->pool, sizeof(*src));
    as_sendmail_job_t job;
    smart_req_t q;

    if (!parse_request(r, reply, &q)) {
        return refuse(r, resp, &q, "103", "malformed request (ClientId, Source or Mime missing)");
    }
    if (!as_sync_email_enabled(r)) {
        return refuse(r, resp, &q, "130", "email is off");
    }
    if (max > 0 && q.mime_len > max) {
        return refuse(r, resp, &q, "122", "the phone's message is larger than the limit");
    }
    src->kind = q.kind;
    if ((status = read_source(r, &q, src, max, &orig, &olen)) != NULL) {
        return refuse(r, resp, &q, status,
                      apr_psprintf(r->pool, "source %s%s%s %s", q.folder_id ? q.folder_id : "",
                                   q.folder_id ? "/" : "",
                                   q.item_id ? q.item_id : (q.long_id ? q.long_id : ""),
                                   !strcmp(status, "150")   ? "not found"
                                   : !strcmp(status, "122") ? "larger than the limit"
                                                            : "unreadable"));
    }
    memset(&job, 0, sizeof job);
    job.cmd = q.cmd;
    job.client_id = q.client_id;
    job.save_in_sent = q.save_in_sent;
    job.mime = q.mime;
    job.mime_len = q.mime_len;
    job.accepted = mark_source;
    job.baton = src;
    if (!q.replace_mime) {
        switch (as_mime_compose(r->pool, q.kind, q.mime, q.mime_len, orig, olen, max, &job.mime,
                                &job.mime_len, &why)) {
        case AS_COMPOSE_OK:
            break;
        case AS_COMPOSE_TOO_LARGE:
            return refuse(r, resp, &q, "122", why);
        default:
            return refuse(r, resp, &q, "107", why ? why : "not a message");
        }
    }
    return as_sendmail_run(r, resp, &job);
}

apr_status_t as_cmd_smartreply(as_request_t *r, as_response_t *resp)
{
    return smart(r, resp, 1);
}

apr_status_t as_cmd_smartforward(as_request_t *r, as_response_t *resp)
{
    return smart(r, resp, 0);
}
