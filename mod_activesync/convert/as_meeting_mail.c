/* The invitation carried by a message (as_meeting.h): its text/calendar
 * part, found as the Email conversion finds it, so that MeetingResponse
 * answers exactly the MeetingRequest the phone was shown. */
#include <string.h>

#include "activesync/as_meeting.h"
#include "as_mime_int.h"

apr_status_t as_meeting_mail_calendar(apr_pool_t *p, apr_file_t *file, char **text, apr_size_t *len,
                                      int *cancel)
{
    const char *err = NULL, *cclass = NULL, *mclass;
    msg_t m;
    body_t b;
    apr_status_t rv;

    *text = NULL;
    *len = 0;
    *cancel = 0;
    rv = mime_msg_parse(p, file, &m, &err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (m.broken) {
        mime_msg_free(&m);
        return APR_EINVAL;
    }
    memset(&b, 0, sizeof b);
    mime_find_body(g_mime_message_get_mime_part(m.msg), &b, 0, 1);
    if (!b.calendar) {
        mime_msg_free(&m);
        return APR_ENOENT;
    }
    *text = mime_part_text(p, b.calendar, len);
    mclass = mime_meeting_class(p, b.calendar, *text, &cclass);
    mime_msg_free(&m);
    if (*len > AS_MEETING_CALENDAR_MAX) {
        return APR_EINVAL;
    }
    if (!mclass || (strcmp(mclass, "IPM.Schedule.Meeting.Request") &&
                    strcmp(mclass, "IPM.Schedule.Meeting.Canceled"))) {
        return APR_ENOENT;
    }
    *cancel = !strcmp(mclass, "IPM.Schedule.Meeting.Canceled");
    return APR_SUCCESS;
}
