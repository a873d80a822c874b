/* MeetingResponse (MS-ASCMD 2.2.1.11): the phone accepts, tentatively
 * accepts or declines an invitation -- a mail in a mail folder, or an item
 * of a calendar folder -- and the server writes the answer into the
 * account's calendar (as_meetingresp_answer.c).
 *
 * Request  MeetingResponse{Request{UserResponse 1|2|3, [CollectionId],
 *          RequestId | search:LongId, [InstanceId 14.1+]}...}
 * Reply    MeetingResponse{Result{RequestId, Status, [CalendarId]}...}, one
 *          Result per Request in their order:
 *   1   done; CalendarId is the calendar item's ServerId (as Sync shows it)
 *       when the event stays in the calendar (accept, tentative)
 *   2   invalid: a bad or unknown RequestId, a mail without an invitation,
 *       a LongId, an InstanceId of a mail or naming no occurrence, an
 *       invitation whose UID has control characters, the account's own
 *       meeting; before 14.0 also what 130 says
 *   3   the mailbox or calendar could not be read or written (transient)
 *   130 (14.0+) email off for an invitation mail, or pim off (no calendar)
 * The server sends no reply mail in any version: up to 14.1 the phone
 * sends the iTIP reply itself with SendMail (MS-ASCMD 2.2.1.11), and the
 * 16.x SendResponse is not done yet (the answer is still stored).
 * InstanceId is read from 14.1 on, as the protocol has it.
 * A request that is not MeetingResponse, has no Request, more than
 * AS_MEETINGRESP_MAX_REQUESTS of them, or a Request without a valid
 * UserResponse is answered 400. */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "as_meetingresp.h"
#include "activesync/as_collections.h"
#include "activesync/as_protocol.h"
#include "activesync/as_sync.h"
#include "activesync/as_sync_engine.h"

#define MR_NS "MeetingResponse:"

/* An InstanceId: yyyy-mm-ddThh:mm:ss(.sss)Z, or Compact DateTime. */
static int parse_instance(const char *s, apr_time_t *t)
{
    apr_time_exp_t e;
    int y, mo, d, h, mi, sec, n = 0;

    if (!s || (sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6 &&
               sscanf(s, "%4d%2d%2dT%2d%2d%2d%n", &y, &mo, &d, &h, &mi, &sec, &n) != 6)) {
        return -1;
    }
    if (y < 1601 || y > 9999 || mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 ||
        sec > 60 || h < 0 || mi < 0 || sec < 0) {
        return -1;
    }
    memset(&e, 0, sizeof e);
    e.tm_year = y - 1900;
    e.tm_mon = mo - 1;
    e.tm_mday = d;
    e.tm_hour = h;
    e.tm_min = mi;
    e.tm_sec = sec;
    return apr_time_exp_gmt_get(t, &e) == APR_SUCCESS ? 0 : -1;
}

static const char *leaf(apr_pool_t *p, xmlNodePtr req, const char *name)
{
    return as_sync_text(p, as_xml_child(req, MR_NS, name));
}

/* One Request; 0 when malformed beyond a Status (no valid UserResponse).
 * A missing RequestId (a LongId) or a bad InstanceId leaves *bad set. */
static int parse_one(as_request_t *r, xmlNodePtr req, as_meetingresp_req_t *q, int *bad)
{
    const char *s = leaf(r->pool, req, "UserResponse"), *inst;

    memset(q, 0, sizeof *q);
    *bad = 0;
    if (!s || strlen(s) != 1 || s[0] < '1' || s[0] > '3') {
        return 0;
    }
    q->response = s[0] - '0';
    q->request_id = leaf(r->pool, req, "RequestId");
    q->collection_id = leaf(r->pool, req, "CollectionId");
    inst = as_protocol_number(r->protocol_version) >= 141 ? leaf(r->pool, req, "InstanceId") : NULL;
    if (inst) {
        q->has_instance = 1;
        *bad = parse_instance(inst, &q->instance) < 0;
    }
    if (!q->request_id || strlen(q->request_id) > 64) {
        *bad = 1;
        q->request_id = NULL;
    }
    return 1;
}

/* Does a ServerId name an item of a collection (a calendar) rather than a
 * mail?  Collection folder ids are the prefix letter and longer than mail
 * folder ids (as_collections.h). */
static int is_collection_item(const char *sid)
{
    const char *colon = strchr(sid, ':');
    return sid[0] == AS_COLLECTIONS_ID_PREFIX && colon && colon - sid > 8;
}

/* The reason the account may not answer this Request, NULL when it may. */
static const char *refusal(as_request_t *r, const as_meetingresp_req_t *q)
{
    if (!(as_sync_collection_classes(r) & (1u << AS_CLASS_CALENDAR))) {
        return "calendars (pim) are off";
    }
    if (q->request_id && !is_collection_item(q->request_id) && !as_sync_email_enabled(r)) {
        return "email is off";
    }
    return NULL;
}

static void add_result(as_request_t *r, xmlNodePtr root, const as_meetingresp_req_t *q, int status,
                       const char *calendar_id)
{
    xmlNodePtr res = as_xml_add(root, MR_NS, "Result", NULL);
    if (q->request_id) {
        as_xml_add(res, MR_NS, "RequestId", q->request_id);
    }
    as_xml_add(res, MR_NS, "Status", apr_itoa(r->pool, status));
    if (calendar_id) {
        as_xml_add(res, MR_NS, "CalendarId", calendar_id);
    }
}

/* One Request answered: its Status (and *calendar_id). */
static int answer(as_request_t *r, as_store_t **st, const as_meetingresp_req_t *q, int bad,
                  const char **calendar_id)
{
    static const char *const words[] = {"", "accept", "tentative", "decline"};
    const char *why = bad ? NULL : refusal(r, q);
    apr_status_t rv;
    int status;

    *calendar_id = NULL;
    if (bad) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0,
               "MeetingResponse from %s: no usable RequestId or InstanceId", r->account);
        return AS_MR_INVALID;
    }
    if (why) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0, "MeetingResponse from %s refused: %s",
               r->account, why);
        return as_protocol_number(r->protocol_version) >= 140 ? AS_MR_ACCESS_DENIED : AS_MR_INVALID;
    }
    if (!*st && (rv = as_sync_open_store(r, st)) != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, rv, "MeetingResponse from %s: no store",
               r->account);
        return AS_MR_MAILBOX;
    }
    status = as_meetingresp_answer(r, *st, q, calendar_id);
    as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "MeetingResponse from %s: %s %s: status %d%s%s",
           r->account, words[q->response], q->request_id, status, *calendar_id ? " -> " : "",
           *calendar_id ? *calendar_id : "");
    return status;
}

apr_status_t as_cmd_meetingresponse(as_request_t *r, as_response_t *resp)
{
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL, n, out;
    as_meetingresp_req_t *reqs;
    int count = 0, i, *bad;
    as_store_t *st = NULL;

    if (!root || !as_xml_is(root, MR_NS, "MeetingResponse")) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "MeetingResponse from %s: malformed request",
               r->account);
        return APR_EINVAL;
    }
    reqs = apr_pcalloc(r->pool, sizeof *reqs * AS_MEETINGRESP_MAX_REQUESTS);
    bad = apr_pcalloc(r->pool, sizeof *bad * AS_MEETINGRESP_MAX_REQUESTS);
    for (n = root->children; n; n = n->next) {
        if (n->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (!as_xml_is(n, MR_NS, "Request") || count == AS_MEETINGRESP_MAX_REQUESTS ||
            !parse_one(r, n, &reqs[count], &bad[count])) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0,
                   "MeetingResponse from %s: malformed request (Request %d)", r->account,
                   count + 1);
            return APR_EINVAL;
        }
        count++;
    }
    if (count == 0) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "MeetingResponse from %s: no Request",
               r->account);
        return APR_EINVAL;
    }
    resp->doc = as_reply_new(MR_NS, "MeetingResponse", &out);
    for (i = 0; i < count; i++) {
        const char *calendar_id = NULL;
        int status = answer(r, &st, &reqs[i], bad[i], &calendar_id);
        add_result(r, out, &reqs[i], status, calendar_id);
    }
    return APR_SUCCESS;
}
