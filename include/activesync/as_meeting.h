/* iCalendar invitations (a text/calendar part with METHOD:REQUEST or
 * CANCEL) to the email:MeetingRequest element of MS-ASEMAIL, with libical.
 *
 * INITIALISATION: as_meeting_init() once per process before threads start
 * (as_mime_init() calls it).  After that the functions are thread-safe:
 * every libical object is created and freed within one call.
 *
 * What is read from the first VEVENT: DTSTART/DTEND/DURATION (all-day for
 * DATE values or X-MICROSOFT-CDO-ALLDAYEVENT), DTSTAMP, RRULE (DAILY,
 * WEEKLY, MONTHLY, YEARLY with INTERVAL, COUNT or UNTIL, BYDAY, BYMONTHDAY,
 * BYMONTH, BYSETPOS), RECURRENCE-ID, LOCATION, ORGANIZER, CLASS, TRANSP and
 * X-MICROSOFT-CDO-INTENDEDSTATUS/BUSYSTATUS, the first VALARM's relative
 * TRIGGER, ATTENDEE RSVP, SEQUENCE, X-MICROSOFT-DISALLOW-COUNTER, UID, and
 * the VTIMEZONE of DTSTART's TZID (or the system zone of that name when the
 * calendar lacks it) for the TimeZone blob.  Times are sent in UTC.
 */
#ifndef AS_MEETING_H
#define AS_MEETING_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>
#include <apr_file_io.h>
#include <libxml/tree.h>

typedef struct as_meeting_t as_meeting_t;

/* Local bounds: a larger calendar part, or a longer UID, is refused as
 * broken (the message is then sent as a plain IPM.Note). */
#define AS_MEETING_CALENDAR_MAX (16 * 1024 * 1024)
#define AS_MEETING_UID_MAX      4096

/* libical's process-wide settings (errors never abort); idempotent. */
void as_meeting_init(void);

/* Parse the calendar text.  cancel: the message is a cancellation (its
 * METHOD, decided by the caller).  stamp: DtStamp when the event has none.
 * APR_SUCCESS with *out in pool memory, or APR_EINVAL with a static reason
 * in *err when the calendar is broken (unparsable, no VEVENT, no UID or no
 * DTSTART) or over the bounds above. */
apr_status_t as_meeting_parse(apr_pool_t *p, const char *text, apr_size_t len, int cancel,
                              apr_time_t stamp, as_meeting_t **out, const char **err);

/* Append email:MeetingRequest for protocol (121, 140, 141, 160, 161), its
 * children in the order of Email.xsd: AllDayEvent, StartTime, DtStamp,
 * EndTime, InstanceType, Location (16.x: airsyncbase:Location), Organizer,
 * RecurrenceId, Reminder, ResponseRequested, Recurrences, Sensitivity,
 * BusyStatus, TimeZone, then GlobalObjId, DisallowNewTimeProposal (14.0+),
 * email2:MeetingMessageType (14.1+) -- or, for 16.x, DisallowNewTimeProposal,
 * MeetingMessageType and calendar:UID instead of GlobalObjId. */
void as_meeting_add(apr_pool_t *p, xmlNodePtr app, const as_meeting_t *m, int protocol);

/* Helpers, exposed for the tests. */
/* base64 of the Outlook GlobalObjectId (MS-OXOCAL 2.2.1.27) for uid: the
 * decoded bytes when uid is the hex form of one (an Outlook UID), else the
 * "vCal-Uid" wrapping (MS-ASEMAIL 3.1.4.7).  year/month/day: the original
 * date of an exception's occurrence, 0 otherwise.  NULL when uid is longer
 * than AS_MEETING_UID_MAX. */
const char *as_meeting_globalobjid(apr_pool_t *p, const char *uid, int year, int month, int day);

/* ---------------------------------------------------------------------------
 * Answering an invitation (MeetingResponse): as_meeting_mail.c reads the
 * invitation out of a message, as_meeting_answer.c writes the answer into
 * the calendar file.
 */

/* The invitation in the message file msg: its text/calendar part (the
 * first one, as the Email conversion takes it) as UTF-8 in pool memory,
 * and *cancel for a cancellation -- the METHOD the phone was shown
 * (IPM.Schedule.Meeting.Request or .Canceled).  APR_ENOENT: the message
 * has no such part (none, or a REPLY); APR_EINVAL: over
 * AS_MEETING_CALENDAR_MAX, or not a message. */
apr_status_t as_meeting_mail_calendar(apr_pool_t *p, apr_file_t *msg, char **text, apr_size_t *len,
                                      int *cancel);

/* The UID of the first VEVENT of an iCalendar text (pool copy), NULL when
 * it has none, one with control characters or longer than
 * AS_MEETING_UID_MAX, or is not iCalendar; *cancel (may be NULL) is set
 * for METHOD:CANCEL. */
const char *as_meeting_uid_of(apr_pool_t *p, const char *text, apr_size_t len, int *cancel);

/* A calendar item (an iCalendar file) as the message a SmartReply or
 * SmartForward of it is composed from (as_meeting_forward.c): From the
 * ORGANIZER, To the attendees, Subject the SUMMARY, a text part with when
 * (UTC), where and the description, and the whole item attached as an
 * invitation (text/calendar; method=REQUEST, invite.ics), so a forward
 * carries the meeting to its new recipients.  APR_EINVAL: not iCalendar,
 * no VEVENT, or over AS_MEETING_CALENDAR_MAX. */
apr_status_t as_meeting_as_message(apr_pool_t *p, const char *ics, apr_size_t len, const char **msg,
                                   apr_size_t *msg_len);

/* The account's answer (MeetingResponse UserResponse). */
#define AS_MEETING_ACCEPT    1
#define AS_MEETING_TENTATIVE 2
#define AS_MEETING_DECLINE   3

/* as_meeting_answer: the account organises the meeting (it cannot answer
 * its own invitation). */
#define AS_MEETING_EORGANIZER (APR_OS_START_USERERR + 3200)

typedef struct as_meeting_answer_t {
    int response;        /* AS_MEETING_ACCEPT ... */
    const char *account; /* the attendee: the account's address */
    int has_instance;    /* an answer for one occurrence (InstanceId) */
    apr_time_t instance; /* its original start */
    apr_time_t now;      /* the reply time */
} as_meeting_answer_t;

/* The calendar file of the event after the answer.
 *   invite (may be NULL): the invitation's iCalendar (METHOD:REQUEST or
 *     CANCEL, from a mail);
 *   old (may be NULL): the calendar's current file of that UID;
 *   at least one of them is given.
 * An invitation makes or updates the event (a newer SEQUENCE replaces
 * the series, an invitation for one occurrence replaces that override;
 * an older one changes nothing but the answer).  Accept and tentative set
 * the account's ATTENDEE (matched by address, case-insensitively; added
 * when missing) to PARTSTAT=ACCEPTED/TENTATIVE, the busy status, and
 * X-EAS-APPOINTMENTREPLYTIME; METHOD is dropped (a stored calendar object
 * has none).  Decline removes the event, or with an instance that
 * occurrence (EXDATE).  A cancellation removes the event (the whole
 * series), or the cancelled occurrence, whatever the answer.
 * *out NULL with APR_SUCCESS: remove the event's file.
 * APR_ENOENT: a cancellation of an event that old does not hold (nothing
 * to do).  APR_EINVAL with *err: no usable VEVENT, or an instance that
 * the series does not have (bounded expansion of its RRULE).
 * AS_MEETING_EORGANIZER. */
apr_status_t as_meeting_answer(apr_pool_t *p, const char *invite, apr_size_t ilen, const char *old,
                               apr_size_t olen, const as_meeting_answer_t *a, char **out,
                               apr_size_t *outlen, const char **err);

#endif
