/* One MeetingResponse Request answered in the account's store
 * (as_meetingresp.h): the invitation read from the mail (its text/calendar
 * part) or the calendar item itself, the calendar's item of the same UID
 * found in any calendar folder (so an answer never makes a second copy),
 * the answer written with the store's add_item / replace_item (ETag
 * checked: a change made meanwhile by a CalDAV client is read again) or
 * the event removed, and the invitation mail marked read and answered. */
#include <string.h>

#include <apr_strings.h>

#include "as_meetingresp.h"
#include "activesync/as_item_codec.h"
#include "activesync/as_meeting.h"
#include "activesync/as_mime.h"
#include "activesync/as_sync.h"

/* Calendar files are at most this large (the collection store's bound). */
#define MR_FILE_MAX (4 * 1024 * 1024)
/* Tries of read-answer-write when another writer got in between. */
#define MR_TRIES 3
/* Bytes of the UID looked for in a file before it is parsed. */
#define MR_UID_PREFIX 40

/* The calendar's item of the event (folder NULL: none yet). */
typedef struct event_t {
    const char *folder, *item, *etag;
    char *data;
    apr_size_t len;
} event_t;

static apr_status_t read_msg(as_store_msg_t *msg, apr_pool_t *p, char **data, apr_size_t *len)
{
    apr_size_t n = (apr_size_t)msg->item.size;
    if (msg->item.size < 0 || msg->item.size > MR_FILE_MAX) {
        return APR_EINVAL;
    }
    *data = apr_palloc(p, n + 1);
    *len = n;
    (*data)[n] = '\0';
    return n ? apr_file_read_full(msg->file, *data, n, NULL) : APR_SUCCESS;
}

static apr_status_t read_item(as_store_t *st, const char *folder, const char *item, apr_pool_t *p,
                              event_t *ev)
{
    as_store_msg_t *msg = NULL;
    apr_pool_t *sp;
    apr_status_t rv;

    apr_pool_create(&sp, p); /* the file is closed with it */
    rv = as_store_open_item(st, folder, item, sp, &msg);
    if (rv == APR_SUCCESS) {
        rv = read_msg(msg, p, &ev->data, &ev->len);
        ev->etag = msg->item.etag ? apr_pstrdup(p, msg->item.etag) : NULL;
        ev->folder = apr_pstrdup(p, folder);
        ev->item = apr_pstrdup(p, item);
    }
    apr_pool_destroy(sp);
    return rv;
}

/* The part of the UID a file holds verbatim on its UID line: up to the
 * first character iCalendar escapes, and within the first folded line. */
static apr_size_t uid_prefix(const char *uid)
{
    apr_size_t n = strcspn(uid, ",;\\\r\n");
    return n > MR_UID_PREFIX ? MR_UID_PREFIX : n;
}

/* Does folder f hold the event of uid?  Every file is looked at (O(folder)),
 * parsed only when it holds the UID's first bytes. */
static apr_status_t find_in(as_store_t *st, const char *folder, const char *uid, apr_pool_t *p,
                            event_t *out)
{
    const as_item_codec_t *codec = as_item_codec(AS_CLASS_CALENDAR);
    apr_array_header_t *items = NULL;
    apr_size_t plen = uid_prefix(uid);
    apr_pool_t *sp;
    apr_status_t rv;
    int i;

    rv = as_store_list_items(st, folder, p, &items, NULL);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    apr_pool_create(&sp, p);
    for (i = 0; i < items->nelts && !out->folder; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        event_t ev;
        const char *u;
        memset(&ev, 0, sizeof ev);
        apr_pool_clear(sp);
        if (read_item(st, folder, it->id, sp, &ev) != APR_SUCCESS ||
            (plen && !memmem(ev.data, ev.len, uid, plen))) {
            continue; /* gone meanwhile, or another event */
        }
        u = codec ? codec->uid_of(ev.data, ev.len, sp) : NULL;
        if (u && !strcmp(u, uid)) {
            rv = read_item(st, folder, it->id, p, out); /* into the request's pool */
        }
    }
    apr_pool_destroy(sp);
    return rv == APR_ENOENT ? APR_SUCCESS : rv;
}

/* The event of uid in the account's calendars, the default one first;
 * out->folder NULL when there is none. */
static apr_status_t find_event(as_store_t *st, const char *uid, apr_pool_t *p, event_t *out)
{
    apr_array_header_t *folders = NULL;
    apr_status_t rv;
    int pass, i;

    memset(out, 0, sizeof *out);
    rv = as_store_list_folders(st, p, &folders, NULL);
    for (pass = 0; pass < 2 && rv == APR_SUCCESS && !out->folder; pass++) {
        for (i = 0; i < folders->nelts && rv == APR_SUCCESS && !out->folder; i++) {
            const as_store_folder_t *f = &APR_ARRAY_IDX(folders, i, as_store_folder_t);
            if (f->cls == AS_CLASS_CALENDAR && (f->type == AS_FOLDER_CALENDAR) == (pass == 0)) {
                rv = find_in(st, f->id, uid, p, out);
            }
        }
    }
    return rv;
}

/* Where the answer starts from: the invitation of a mail (*invite) and
 * the calendar's event of its UID, or the calendar item itself.  A
 * Status, AS_MR_OK to go on. */
static int source_of(as_request_t *r, as_store_t *st, const as_meetingresp_req_t *q,
                     const as_store_folder_t *f, const char *item, char **invite, apr_size_t *ilen,
                     event_t *ev)
{
    as_store_msg_t *msg = NULL;
    const char *uid;
    apr_status_t rv;
    int cancel = 0;

    memset(ev, 0, sizeof *ev);
    *invite = NULL;
    if (f->cls == AS_CLASS_CALENDAR) {
        rv = read_item(st, f->id, item, r->pool, ev);
        return rv == APR_SUCCESS ? AS_MR_OK : (rv == APR_ENOENT ? AS_MR_INVALID : AS_MR_MAILBOX);
    }
    if (f->cls != AS_CLASS_EMAIL || q->has_instance) {
        return AS_MR_INVALID; /* InstanceId names an occurrence of a calendar item only */
    }
    rv = as_store_open_item(st, f->id, item, r->pool, &msg);
    if (rv != APR_SUCCESS) {
        return rv == APR_ENOENT ? AS_MR_INVALID : AS_MR_MAILBOX;
    }
    as_mime_init();
    rv = as_meeting_mail_calendar(r->pool, msg->file, invite, ilen, &cancel);
    apr_file_close(msg->file);
    if (rv != APR_SUCCESS || !(uid = as_meeting_uid_of(r->pool, *invite, *ilen, NULL))) {
        return AS_MR_INVALID; /* not an invitation, or one without a usable event */
    }
    rv = find_event(st, uid, r->pool, ev);
    return rv == APR_SUCCESS ? AS_MR_OK : AS_MR_MAILBOX;
}

/* Store the answer; APR_SUCCESS, or the store's error (AS_STORE_ECONFLICT,
 * APR_EEXIST: someone else wrote meanwhile: try again). */
static apr_status_t store_answer(as_request_t *r, as_store_t *st, const event_t *ev,
                                 const char *uid, const char *data, apr_size_t len,
                                 const char **calendar_id)
{
    const char *folder = ev->folder, *item = ev->item;
    apr_status_t rv;

    *calendar_id = NULL;
    if (!data) {
        rv = folder ? as_store_delete_item(st, folder, item, 0) : APR_SUCCESS;
        return rv == APR_ENOENT ? APR_SUCCESS : rv;
    }
    if (folder) {
        rv = as_store_replace_item(st, folder, item, ev->etag, data, len, r->pool, NULL);
    } else {
        rv = as_store_special_folder(st, AS_FOLDER_CALENDAR, 1, r->pool, &folder);
        if (rv == APR_SUCCESS) {
            rv = as_store_add_item(st, folder, uid, data, len, r->pool, &item, NULL);
        }
    }
    if (rv == APR_SUCCESS) {
        *calendar_id = as_sync_serverid(r->pool, folder, item);
    }
    return rv;
}

static int status_of_answer(as_request_t *r, const as_meetingresp_req_t *q, apr_status_t rv,
                            const char *err)
{
    if (rv == AS_MEETING_EORGANIZER) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0,
               "MeetingResponse from %s: %s: the account organises this meeting", r->account,
               q->request_id);
    } else {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, rv, "MeetingResponse from %s: %s: %s", r->account,
               q->request_id, err ? err : "not a usable event");
    }
    return AS_MR_INVALID;
}

/* One try: read, answer, write.  *again: someone else wrote meanwhile. */
static int answer_once(as_request_t *r, as_store_t *st, const as_meetingresp_req_t *q,
                       const as_store_folder_t *f, const char *item, const char **calendar_id,
                       int *again)
{
    as_meeting_answer_t a;
    char *invite = NULL, *out = NULL;
    apr_size_t ilen = 0, olen = 0;
    const char *err = NULL, *uid;
    event_t ev;
    apr_status_t rv;
    int status = source_of(r, st, q, f, item, &invite, &ilen, &ev);

    *again = 0;
    if (status != AS_MR_OK) {
        return status;
    }
    memset(&a, 0, sizeof a);
    a.response = q->response;
    a.account = r->account;
    a.has_instance = q->has_instance;
    a.instance = q->instance;
    a.now = apr_time_now();
    rv = as_meeting_answer(r->pool, invite, ilen, ev.data, ev.len, &a, &out, &olen, &err);
    if (rv == APR_ENOENT) {
        return AS_MR_OK; /* a cancellation of an event the calendar does not hold */
    }
    if (rv != APR_SUCCESS) {
        return status_of_answer(r, q, rv, err);
    }
    uid = invite ? as_meeting_uid_of(r->pool, invite, ilen, NULL) : NULL;
    rv = store_answer(r, st, &ev, uid, out, olen, calendar_id);
    if (rv == AS_STORE_ECONFLICT || rv == APR_EEXIST || (rv == APR_ENOENT && ev.folder)) {
        *again = 1;
        return AS_MR_MAILBOX;
    }
    if (rv != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_ERR, rv,
               "MeetingResponse from %s: %s: the calendar could not be written", r->account,
               q->request_id);
        return AS_MR_MAILBOX;
    }
    return AS_MR_OK;
}

int as_meetingresp_answer(as_request_t *r, as_store_t *st, const as_meetingresp_req_t *q,
                          const char **calendar_id)
{
    const as_store_folder_t *f = NULL;
    const char *folder, *item;
    int status = AS_MR_INVALID, again = 1, n;
    apr_status_t rv;

    *calendar_id = NULL;
    if (as_sync_split_serverid(r->pool, q->request_id, &folder, &item) != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "MeetingResponse from %s: bad RequestId",
               r->account);
        return AS_MR_INVALID;
    }
    rv = as_store_get_folder(st, folder, r->pool, &f);
    if (rv != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, rv, "MeetingResponse from %s: %s: no such folder",
               r->account, q->request_id);
        return rv == APR_ENOENT ? AS_MR_INVALID : AS_MR_MAILBOX;
    }
    for (n = 0; n < MR_TRIES && again; n++) {
        status = answer_once(r, st, q, f, item, calendar_id, &again);
    }
    if (again) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, 0,
               "MeetingResponse from %s: %s: the calendar kept changing meanwhile", r->account,
               q->request_id);
    }
    if (status == AS_MR_OK && f->cls == AS_CLASS_EMAIL) {
        /* the invitation shows it was answered (Read, and the answered flag) */
        rv = as_store_set_flags(st, f->id, item, AS_STORE_SEEN | AS_STORE_ANSWERED, 0, NULL);
        if (rv != APR_SUCCESS) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_WARNING, rv,
                   "MeetingResponse from %s: %s answered, but its flags not set", r->account,
                   q->request_id);
        }
    }
    return status;
}
