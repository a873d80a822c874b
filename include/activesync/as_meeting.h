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

#endif
