/* The Calendar codec on files written the way Google, iCloud, Outlook,
 * Nextcloud and Thunderbird write them (t/data/ics/): each field sent to
 * the phone, what EAS cannot carry kept on the phone's change, malformed
 * files refused or read sanely, and the Sync reply valid against the
 * schemas (when ../shared/conformance is there). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_base64.h>

#include "activesync/as_wbxml.h"
#include "caltest.h"

static void setup(void)
{
    unit_pool_setup();
    as_meeting_init();
}

static const char *ics(const char *name)
{
    apr_size_t len;
    return unit_read_file(apr_pstrcat(unit_pool, "t/data/ics/", name, NULL), &len);
}

#define EQ(app, path, want) ck_assert_str_eq(ct_text(app, CT_CAL, path), want)
#define ABSENT(app, path)   ck_assert_ptr_null(ct_text(app, CT_CAL, path))

static int count_children(xmlNodePtr n, const char *ns, const char *name)
{
    int c = 0;
    for (n = n ? n->children : NULL; n; n = n->next) {
        c += as_xml_is(n, ns, name);
    }
    return c;
}

static xmlNodePtr nth(xmlNodePtr list, const char *name, int i)
{
    xmlNodePtr n;
    for (n = list ? list->children : NULL; n; n = n->next) {
        if (as_xml_is(n, CT_CAL, name) && i-- == 0) {
            return n;
        }
    }
    ck_abort_msg("no %s %d", name, i);
    return NULL;
}

/* The phone renames the event and sends everything else back. */
static const char *renamed(const char *file, xmlNodePtr app)
{
    ct_set(app, CT_CAL, "Subject", "Renamed");
    return ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
}

/* what in the file, its folded lines joined again */
static void keeps(const char *back, const char *what)
{
    char *u = apr_pstrdup(unit_pool, back), *o = u;
    const char *s;
    for (s = back; *s; s++) {
        if (*s == '\r' && s[1] == '\n' && s[2] == ' ') {
            s += 2;
        } else if (*s == '\n' && s[1] == ' ') {
            s++;
        } else {
            *o++ = *s;
        }
    }
    *o = '\0';
    ck_assert_msg(strstr(u, what) != NULL, "lost %s:\n%s", what, back);
}

START_TEST(google_style)
{
    const char *file = ics("google.ics"), *back;
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141), at, ex;

    ck_assert_ptr_nonnull(app);
    EQ(app, "AllDayEvent", "0");
    EQ(app, "StartTime", "20240311T090000Z");
    EQ(app, "EndTime", "20240311T093000Z");
    EQ(app, "DtStamp", "20240301T120000Z");
    EQ(app, "Subject", "Team sync");
    ABSENT(app, "Location");
    ck_assert_str_eq(ct_text(app, CT_BASE, "Body/Data"),
                     "Weekly sync.\nJoin with Google Meet: https://meet.google.com/abc-defg-hij");
    ck_assert_str_eq(ct_text(app, CT_BASE, "Body/Type"), "1");
    EQ(app, "Reminder", "10");
    EQ(app, "BusyStatus", "2");
    EQ(app, "Sensitivity", "0");
    EQ(app, "OrganizerName", "Ann Example");
    EQ(app, "OrganizerEmail", "ann@example.org");
    EQ(app, "UID", "5s3lb8v0ev7mr6ofk1l0rjdcr0@google.com");
    EQ(app, "MeetingStatus", "3");
    EQ(app, "ResponseRequested", "1");
    at = as_xml_child(app, CT_CAL, "Attendees");
    ck_assert_int_eq(count_children(at, CT_CAL, "Attendee"), 2);
    EQ(nth(at, "Attendee", 0), "Name", "Ann Example");
    EQ(nth(at, "Attendee", 0), "AttendeeStatus", "3");
    EQ(nth(at, "Attendee", 1), "Email", "bob@example.com");
    EQ(nth(at, "Attendee", 1), "AttendeeStatus", "5");
    EQ(nth(at, "Attendee", 1), "AttendeeType", "1");
    EQ(app, "Recurrence/Type", "1");
    EQ(app, "Recurrence/DayOfWeek", "2");
    EQ(app, "Recurrence/Interval", "1");
    ex = as_xml_child(app, CT_CAL, "Exceptions");
    ck_assert_int_eq(count_children(ex, CT_CAL, "Exception"), 2);
    EQ(nth(ex, "Exception", 0), "ExceptionStartTime", "20240325T090000Z");
    EQ(nth(ex, "Exception", 0), "Deleted", "1");
    EQ(nth(ex, "Exception", 1), "ExceptionStartTime", "20240318T090000Z");
    EQ(nth(ex, "Exception", 1), "StartTime", "20240318T130000Z");
    EQ(nth(ex, "Exception", 1), "Subject", "Team sync (moved)");
    ABSENT(nth(ex, "Exception", 1), "BusyStatus"); /* as the series: not repeated */

    back = renamed(file, app);
    keeps(back, "SUMMARY:Renamed");
    keeps(back, "X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij");
    keeps(back, "X-WR-CALNAME:Work");
    keeps(back, "ACTION:EMAIL");
    keeps(back, "X-NUM-GUESTS=0");
    keeps(back, "CREATED:20240301T115500Z");
    keeps(back, "SUMMARY:Team sync (moved)");
    keeps(back, "EXDATE;TZID=Europe/Berlin:20240325T100000");
    keeps(back, "DTSTART;TZID=Europe/Berlin:20240311T100000");
    keeps(back, "RRULE:FREQ=WEEKLY;BYDAY=MO");
    keeps(back, "UID:5s3lb8v0ev7mr6ofk1l0rjdcr0@google.com");
}
END_TEST

/* The organizer is the account (any case, with or without mailto:): the
 * phone is told it organised the meeting (MeetingStatus 1, ResponseType
 * 1); an invited account received it (3) and gets its PARTSTAT as
 * ResponseType (NEEDS-ACTION: 5), one not invited 0; an account not known
 * keeps 3 and gets no ResponseType. */
START_TEST(meeting_status_by_account)
{
    const char *file = ics("google.ics");
    static const char *const accounts[] = {"ann@example.org", "ANN@Example.ORG", "bob@example.com",
                                           NULL};
    static const char *const accounts2[] = {"carol@example.com"};
    static const char *const want[] = {"1", "1", "3", "3"};
    static const char *const want_rt[] = {"1", "1", "5", NULL};
    int i;

    for (i = 0; i < 4; i++) {
        as_item_opts_t o;
        xmlNodePtr app;
        memset(&o, 0, sizeof o);
        o.protocol = 141;
        o.account = accounts[i];
        app = ct_to_eas_opts(AS_CLASS_CALENDAR, file, &o);
        ck_assert_ptr_nonnull(app);
        ck_assert_msg(!strcmp(ct_text(app, CT_CAL, "MeetingStatus"), want[i]), "%s: %s",
                      accounts[i] ? accounts[i] : "(none)", ct_text(app, CT_CAL, "MeetingStatus"));
        if (want_rt[i]) {
            ck_assert_str_eq(ct_text(app, CT_CAL, "ResponseType"), want_rt[i]);
        } else {
            ck_assert_ptr_null(ct_text(app, CT_CAL, "ResponseType"));
        }
        o.protocol = 121; /* ResponseType is 14.0+ */
        ck_assert_ptr_null(
            ct_text(ct_to_eas_opts(AS_CLASS_CALENDAR, file, &o), CT_CAL, "ResponseType"));
    }
    {
        as_item_opts_t o;
        memset(&o, 0, sizeof o);
        o.protocol = 141;
        o.account = accounts2[0];
        ck_assert_str_eq(
            ct_text(ct_to_eas_opts(AS_CLASS_CALENDAR, file, &o), CT_CAL, "ResponseType"), "0");
    }
}
END_TEST

START_TEST(icloud_style)
{
    const char *file = ics("icloud.ics"), *back;
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141), cats;

    ck_assert_ptr_nonnull(app);
    EQ(app, "StartTime", "20240415T220000Z");
    EQ(app, "EndTime", "20240415T233000Z");
    EQ(app, "Location", "Union Square Cafe 101 E 19th St, New York");
    EQ(app, "Sensitivity", "2");
    EQ(app, "Reminder", "30");
    EQ(app, "MeetingStatus", "0");
    ABSENT(app, "Attendees");
    ABSENT(app, "Recurrence");
    cats = as_xml_child(app, CT_CAL, "Categories");
    ck_assert_int_eq(count_children(cats, CT_CAL, "Category"), 2);
    ck_assert_str_eq(as_xml_text(unit_pool, nth(cats, "Category", 1), NULL), "Food");
    /* 16.x: airsyncbase:Location */
    ck_assert_str_eq(
        ct_text(ct_to_eas(AS_CLASS_CALENDAR, file, 161), CT_BASE, "Location/DisplayName"),
        "Union Square Cafe 101 E 19th St, New York");

    back = renamed(file, app);
    keeps(back, "X-APPLE-STRUCTURED-LOCATION");
    keeps(back, "URL:https://example.com/booking/42");
    keeps(back, "LOCATION:Union Square Cafe\\n101 E 19th St\\, New York");
    keeps(back, "X-WR-ALARMUID:0C1E4C9A");
    keeps(back, "ACTION:AUDIO");
    keeps(back, "CLASS:PRIVATE");
    keeps(back, "CATEGORIES:Food");
}
END_TEST

START_TEST(outlook_style)
{
    const char *file = ics("outlook.ics"), *back, *uid, *goid;
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141), at;
    unsigned char raw[512];
    char hex[1100];
    int n, i;

    ck_assert_ptr_nonnull(app);
    EQ(app, "StartTime", "20240104T090000Z");
    EQ(app, "EndTime", "20240104T110000Z");
    EQ(app, "BusyStatus", "3");
    EQ(app, "Reminder", "15");
    EQ(app, "Location", "Room 4.01");
    EQ(app, "Recurrence/Type", "3");
    EQ(app, "Recurrence/Interval", "3");
    EQ(app, "Recurrence/WeekOfMonth", "1");
    EQ(app, "Recurrence/DayOfWeek", "16");
    EQ(app, "Recurrence/Until", "20241231T090000Z");
    at = as_xml_child(app, CT_CAL, "Attendees");
    ck_assert_int_eq(count_children(at, CT_CAL, "Attendee"), 3);
    EQ(nth(at, "Attendee", 0), "AttendeeType", "1");
    EQ(nth(at, "Attendee", 1), "AttendeeType", "2");
    EQ(nth(at, "Attendee", 1), "AttendeeStatus", "2");
    EQ(nth(at, "Attendee", 2), "AttendeeType", "3");
    /* the UID a phone matches with the invitation's GlobalObjId */
    uid = ct_text(app, CT_CAL, "UID");
    goid = as_meeting_globalobjid(unit_pool, uid, 0, 0, 0);
    n = apr_base64_decode_binary(raw, goid);
    for (i = 0; i < n; i++) {
        sprintf(hex + 2 * i, "%02X", raw[i]);
    }
    ck_assert_str_eq(hex, uid);

    back = renamed(file, app);
    keeps(back, "X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY");
    keeps(back, "X-MICROSOFT-CDO-BUSYSTATUS:OOF");
    keeps(back, "ROLE=NON-PARTICIPANT");
    keeps(back, "PRIORITY:5");
    keeps(back, "RRULE:FREQ=MONTHLY;UNTIL=20241231T090000Z;INTERVAL=3;BYDAY=1TH");
    keeps(back, "TZID=W. Europe Standard Time:20240104T100000");
}
END_TEST

START_TEST(nextcloud_birthday)
{
    const char *file = ics("nextcloud.ics"), *back;
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);

    ck_assert_ptr_nonnull(app);
    EQ(app, "AllDayEvent", "1");
    EQ(app, "StartTime", "19850617T000000Z");
    EQ(app, "EndTime", "19850618T000000Z");
    EQ(app, "BusyStatus", "0");
    EQ(app, "Recurrence/Type", "5");
    EQ(app, "Recurrence/DayOfMonth", "17");
    EQ(app, "Recurrence/MonthOfYear", "6");
    EQ(app, "Reminder", "900");
    EQ(app, "Categories/Category", "Birthday");
    back = renamed(file, app);
    keeps(back, "DTSTART;VALUE=DATE:19850617");
    keeps(back, "DTEND;VALUE=DATE:19850618");
    keeps(back, "COLOR:gold");
    keeps(back, "ATTACH;FMTTYPE=image/png");
    keeps(back, "TRANSP:TRANSPARENT");
    keeps(back, "RRULE:FREQ=YEARLY");
}
END_TEST

START_TEST(thunderbird_style)
{
    const char *file = ics("thunderbird.ics"), *back;
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);

    ck_assert_ptr_nonnull(app);
    EQ(app, "StartTime", "20240329T200000Z");
    EQ(app, "EndTime", "20240329T213000Z");
    EQ(app, "Recurrence/Type", "3");
    EQ(app, "Recurrence/DayOfWeek", "64");
    EQ(app, "Recurrence/WeekOfMonth", "5");
    EQ(app, "Recurrence/Occurrences", "12");
    EQ(app, "Reminder", "60");
    ck_assert_str_eq(ct_text(app, CT_BASE, "Body/Data"), "Last Saturday of each month.");

    /* the phone's reminder change leaves the second (absolute) alarm */
    ct_set(app, CT_CAL, "Reminder", "5");
    back = renamed(file, app);
    keeps(back, "CONFERENCE;VALUE=URI;FEATURE=VIDEO;LABEL=Stream:https://video.example.net/run");
    keeps(back, "X-MOZ-LASTACK:20240330T060000Z");
    keeps(back, "TRIGGER;VALUE=DATE-TIME:20240329T200000Z");
    keeps(back, "TRIGGER:-PT5M");
    ck_assert_ptr_null(strstr(back, "-PT1H"));
    /* the phone removes the reminder: only the relative alarm goes */
    ct_set(app, CT_CAL, "Reminder", NULL);
    back = ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
    ck_assert_ptr_null(strstr(back, "-PT1H"));
    keeps(back, "TRIGGER;VALUE=DATE-TIME:20240329T200000Z");
}
END_TEST

/* A TZID libical knows but the file has no VTIMEZONE for: the phone's
 * change writes one, under the same name. */
START_TEST(zone_known_by_name_only)
{
    const char *file = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//x//EN\r\nBEGIN:VEVENT\r\n"
                       "UID:named-1\r\nDTSTAMP:20240101T000000Z\r\n"
                       "DTSTART;TZID=America/New_York:20240704T090000\r\n"
                       "DTEND;TZID=America/New_York:20240704T100000\r\nSUMMARY:Parade\r\n"
                       "END:VEVENT\r\nEND:VCALENDAR\r\n";
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
    const char *back;
    EQ(app, "StartTime", "20240704T130000Z");
    back = renamed(file, app);
    keeps(back, "DTSTART;TZID=America/New_York:20240704T090000");
    keeps(back, "TZID:America/New_York");
    EQ(ct_to_eas(AS_CLASS_CALENDAR, back, 141), "StartTime", "20240704T130000Z");

    /* Outlook's all-day event as midnight date-times */
    file = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:ol-allday\r\n"
           "DTSTART;TZID=America/New_York:20240704T000000\r\n"
           "DTEND;TZID=America/New_York:20240705T000000\r\n"
           "X-MICROSOFT-CDO-ALLDAYEVENT:TRUE\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
    EQ(app, "AllDayEvent", "1");
    EQ(app, "StartTime", "20240704T040000Z");
    EQ(app, "EndTime", "20240705T040000Z");
    keeps(ct_from_eas(AS_CLASS_CALENDAR, app, 141, file), "DTSTART;VALUE=DATE:20240704");
}
END_TEST

/* A new event from the phone: every field into the file, and back. */
START_TEST(phone_event_all_fields)
{
    xmlNodePtr app = ct_app(), at, a, rec, body;
    const char *file;
    xmlNodePtr back;

    as_xml_add(app, CT_CAL, "Timezone",
               "xP///"
               "1cALgAgAEUAdQByAG8AcABlACAAUwB0AGEAbgBkAGEAcgBkACAAVABpAG0AZQAAAAAAAAAAAAAAAAAAAAAA"
               "AAAAAAoAAAAFAAMAAAAAAAAAAAAAAFcALgAgAEUAdQByAG8AcABlACAARABhAHkAbABpAGcAaAB0ACAAVAB"
               "pAG0AZQAAAAAAAAAAAAAAAAAAAAAAAAAAAAMAAAAFAAIAAAAAAAAAxP///w==");
    as_xml_add(app, CT_CAL, "AllDayEvent", "0");
    as_xml_add(app, CT_CAL, "StartTime", "20240605T080000Z");
    as_xml_add(app, CT_CAL, "EndTime", "20240605T090000Z");
    as_xml_add(app, CT_CAL, "Subject", "Review");
    as_xml_add(app, CT_CAL, "Location", "Room 1");
    body = as_xml_add(app, CT_BASE, "Body", NULL);
    as_xml_add(body, CT_BASE, "Type", "1");
    as_xml_add(body, CT_BASE, "Data", "Agenda:\n1. numbers");
    as_xml_add(app, CT_CAL, "Reminder", "20");
    as_xml_add(app, CT_CAL, "BusyStatus", "1");
    as_xml_add(app, CT_CAL, "Sensitivity", "3");
    as_xml_add(app, CT_CAL, "MeetingStatus", "1");
    as_xml_add(app, CT_CAL, "OrganizerName", "Me Myself");
    as_xml_add(app, CT_CAL, "OrganizerEmail", "me@example.com");
    as_xml_add(app, CT_CAL, "AppointmentReplyTime", "20240601T100000Z");
    as_xml_add(as_xml_add(app, CT_CAL, "Categories", NULL), CT_CAL, "Category", "Work");
    at = as_xml_add(app, CT_CAL, "Attendees", NULL);
    a = as_xml_add(at, CT_CAL, "Attendee", NULL);
    as_xml_add(a, CT_CAL, "Email", "x@example.net");
    as_xml_add(a, CT_CAL, "Name", "Xena");
    as_xml_add(a, CT_CAL, "AttendeeType", "2");
    as_xml_add(a, CT_CAL, "AttendeeStatus", "4");
    rec = as_xml_add(app, CT_CAL, "Recurrence", NULL);
    as_xml_add(rec, CT_CAL, "Type", "2");
    as_xml_add(rec, CT_CAL, "DayOfMonth", "5");
    as_xml_add(rec, CT_CAL, "Interval", "1");
    as_xml_add(rec, CT_CAL, "Occurrences", "6");
    file = ct_from_eas(AS_CLASS_CALENDAR, app, 141, NULL);
    keeps(file, "DTSTART;TZID=Europe/Berlin:20240605T100000");
    keeps(file, "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE");
    keeps(file, "CLASS:CONFIDENTIAL");
    keeps(file, "PARTSTAT=DECLINED");
    keeps(file, "ROLE=OPT-PARTICIPANT");
    keeps(file, "RRULE:FREQ=MONTHLY;COUNT=6;BYMONTHDAY=5");

    back = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
    EQ(back, "StartTime", "20240605T080000Z");
    EQ(back, "Subject", "Review");
    EQ(back, "Location", "Room 1");
    ck_assert_str_eq(ct_text(back, CT_BASE, "Body/Data"), "Agenda:\n1. numbers");
    EQ(back, "Reminder", "20");
    EQ(back, "BusyStatus", "1");
    EQ(back, "Sensitivity", "3");
    EQ(back, "MeetingStatus", "1");
    EQ(back, "OrganizerEmail", "me@example.com");
    EQ(back, "AppointmentReplyTime", "20240601T100000Z");
    EQ(back, "Categories/Category", "Work");
    EQ(back, "Attendees/Attendee/Name", "Xena");
    EQ(back, "Attendees/Attendee/AttendeeType", "2");
    EQ(back, "Attendees/Attendee/AttendeeStatus", "4");
    EQ(back, "Recurrence/Occurrences", "6");
    ck_assert_int_eq(ct_compact(ct_text(back, CT_CAL, "DtStamp")) > 1700000000, 1);
    ck_assert_uint_ge(strlen(ct_text(back, CT_CAL, "UID")), 16);
    /* sensitivity Personal keeps its hint */
    ct_set(app, CT_CAL, "Sensitivity", "1");
    EQ(ct_to_eas(AS_CLASS_CALENDAR, ct_from_eas(AS_CLASS_CALENDAR, app, 141, NULL), 141),
       "Sensitivity", "1");
}
END_TEST

/* Body truncated to the phone; the truncated text sent back keeps the file's. */
START_TEST(body_truncation)
{
    const char *file = ics("google.ics"), *back;
    as_mime_bodypref_t pref = {1, 12, 0, 0};
    as_item_opts_t o = {141, &pref, 1, NULL, NULL};
    xmlNodePtr app = ct_to_eas_opts(AS_CLASS_CALENDAR, file, &o);
    ck_assert_str_eq(ct_text(app, CT_BASE, "Body/Data"), "Weekly sync.");
    ck_assert_str_eq(ct_text(app, CT_BASE, "Body/Truncated"), "1");
    ck_assert_str_eq(ct_text(app, CT_BASE, "Body/EstimatedDataSize"), "72");
    back = ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
    keeps(back, "Join with Google Meet");
}
END_TEST

START_TEST(malformed_files)
{
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, ics("malformed-no-vtimezone.ics"), 141);
    const char *huge;
    char *big;
    size_t i;

    /* an unknown TZID without VTIMEZONE: read as UTC */
    ck_assert_ptr_nonnull(app);
    EQ(app, "StartTime", "20240601T100000Z");
    ck_assert_str_eq(
        ct_from_eas(AS_CLASS_CALENDAR, app, 141, ics("malformed-no-vtimezone.ics")) != NULL ? "ok"
                                                                                            : "",
        "ok");
    /* a broken RRULE: no Recurrence, never a crash */
    app = ct_to_eas(AS_CLASS_CALENDAR, ics("malformed-rrule.ics"), 141);
    if (app) {
        ck_assert_ptr_null(ct_text(app, CT_CAL, "Recurrence/Type"));
        (void)ct_from_eas(AS_CLASS_CALENDAR, app, 141, ics("malformed-rrule.ics"));
    }
    /* not calendars */
    ck_assert_ptr_null(ct_to_eas(AS_CLASS_CALENDAR, "", 141));
    ck_assert_ptr_null(ct_to_eas(AS_CLASS_CALENDAR, "hello", 141));
    ck_assert_ptr_null(ct_to_eas(AS_CLASS_CALENDAR, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 141));
    ck_assert_ptr_null(ct_to_eas(AS_CLASS_CALENDAR, ics("nextcloud-task.ics"), 141));
    ck_assert_ptr_null(ct_to_eas(
        AS_CLASS_CALENDAR,
        "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:x\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", 141));
    /* huge: refused before libical sees it */
    big = apr_palloc(unit_pool, 5 * 1024 * 1024 + 1);
    huge = "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:h\r\nDTSTART:20240101T000000Z\r\nDESCRIPTION:";
    memcpy(big, huge, strlen(huge));
    for (i = strlen(huge); i < 5 * 1024 * 1024; i++) {
        big[i] = 'x';
    }
    big[i] = '\0';
    ck_assert_ptr_null(ct_to_eas(AS_CLASS_CALENDAR, big, 141));
    /* a VTIMEZONE with a minutely rule is refused (meeting_zones_check) */
    ck_assert_ptr_null(ct_to_eas(
        AS_CLASS_CALENDAR,
        "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:X\r\nBEGIN:STANDARD\r\nDTSTART:"
        "16010101T000000\r\n"
        "TZOFFSETFROM:+0100\r\nTZOFFSETTO:+0100\r\nRRULE:FREQ=MINUTELY\r\nEND:STANDARD\r\n"
        "END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:m\r\nDTSTART;TZID=X:20240101T000000\r\nEND:VEVENT\r\n"
        "END:VCALENDAR\r\n",
        141));
}
END_TEST

/* What a phone may send that makes no event. */
START_TEST(malformed_phone_data)
{
    xmlNodePtr app = ct_app();
    char *out = NULL;
    apr_size_t len;
    const as_item_codec_t *c = as_item_codec(AS_CLASS_CALENDAR);

    as_xml_add(app, CT_CAL, "Subject", "No time");
    ck_assert_int_eq(c->from_eas(app, 141, NULL, 0, NULL, unit_pool, &out, &len), APR_EINVAL);
    as_xml_add(app, CT_CAL, "StartTime", "2024-13-45T99:00:00Z");
    ck_assert_int_eq(c->from_eas(app, 141, NULL, 0, NULL, unit_pool, &out, &len), APR_EINVAL);
    ct_set(app, CT_CAL, "StartTime", "20240101T100000Z");
    as_xml_add(app, CT_CAL, "Timezone", "garbage!!");
    as_xml_add(app, CT_CAL, "EndTime", "20230101T100000Z"); /* before the start */
    as_xml_add(as_xml_add(app, CT_CAL, "Recurrence", NULL), CT_CAL, "Type", "3"); /* no days */
    ck_assert_int_eq(c->from_eas(app, 141, NULL, 0, "given-uid", unit_pool, &out, &len),
                     APR_SUCCESS);
    keeps(out, "DTSTART:20240101T100000Z");
    keeps(out, "DTEND:20240101T100000Z");
    keeps(out, "UID:given-uid");
    ck_assert_ptr_null(strstr(out, "RRULE"));
    ck_assert_int_eq(c->from_eas(app, 141, "not a calendar", 14, NULL, unit_pool, &out, &len),
                     APR_EINVAL);
    ck_assert_str_eq(c->uid_of(ics("google.ics"), strlen(ics("google.ics")), unit_pool),
                     "5s3lb8v0ev7mr6ofk1l0rjdcr0@google.com");
    ck_assert_ptr_null(c->uid_of("junk", 4, unit_pool));
}
END_TEST

START_TEST(sync_reply_validates)
{
    static const char *const files[] = {"google.ics", "icloud.ics", "outlook.ics", "nextcloud.ics",
                                        "thunderbird.ics"};
    static const int protocols[] = {121, 141, 161};
    const char *validator = unit_conformance("validate-eas");
    char path[] = "/tmp/as-cal-XXXXXX", cmd[1024], out[4096];
    size_t i, k, got;
    int fd, status;

    if (!validator) {
        return;
    }
    for (k = 0; k < 3; k++) {
        xmlNodePtr root, coll, commands;
        xmlDocPtr reply = as_reply_new("AirSync:", "Sync", &root);
        unsigned char *wb;
        apr_size_t wblen;
        FILE *f;
        coll = as_xml_add(as_xml_add(root, "AirSync:", "Collections", NULL),
                          "AirSync:", "Collection", NULL);
        as_xml_add(coll, "AirSync:", "SyncKey", "{5b4c3a2e-0000-4000-8000-000000000001}2");
        as_xml_add(coll, "AirSync:", "CollectionId", "c1");
        as_xml_add(coll, "AirSync:", "Status", "1");
        commands = as_xml_add(coll, "AirSync:", "Commands", NULL);
        for (i = 0; i < sizeof files / sizeof files[0]; i++) {
            xmlNodePtr add = as_xml_add(commands, "AirSync:", "Add", NULL);
            xmlNodePtr app;
            as_item_opts_t o = {protocols[k], NULL, 0, NULL, NULL};
            as_xml_add(add, "AirSync:", "ServerId", apr_psprintf(unit_pool, "c1:%d", (int)i));
            app = as_xml_add(add, "AirSync:", "ApplicationData", NULL);
            ck_assert_int_eq(as_item_codec(AS_CLASS_CALENDAR)
                                 ->to_eas(ics(files[i]), strlen(ics(files[i])), &o, app, unit_pool),
                             APR_SUCCESS);
        }
        ck_assert_int_eq(as_wbxml_encode(reply, NULL, &wb, &wblen), AS_WBXML_OK);
        fd = mkstemp(path);
        ck_assert_int_ge(fd, 0);
        ck_assert_int_eq(write(fd, wb, wblen), (ssize_t)wblen);
        close(fd);
        free(wb);
        xmlFreeDoc(reply);
        snprintf(cmd, sizeof cmd, "%s %s 2>&1", validator, path);
        f = popen(cmd, "r");
        ck_assert_ptr_nonnull(f);
        got = fread(out, 1, sizeof out - 1, f);
        out[got] = '\0';
        status = pclose(f);
        unlink(path);
        strcpy(path, "/tmp/as-cal-XXXXXX");
        ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(out, "valid"),
                      "validate-eas (%d): %s", protocols[k], out);
    }
}
END_TEST

/* A diagnostic figure: one recurring meeting with attendees both ways. */
START_TEST(conversion_cost)
{
    static const char *const files[] = {"google.ics", "outlook.ics", "nextcloud.ics"};
    size_t k;
    for (k = 0; k < 3; k++) {
        const char *file = ics(files[k]);
        apr_time_t t0 = apr_time_now(), t1;
        xmlNodePtr app = NULL;
        int i;
        for (i = 0; i < 100; i++) {
            app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
        }
        t1 = apr_time_now();
        for (i = 0; i < 100; i++) {
            (void)ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
        }
        printf("# %s to EAS %.0f us, back onto the file %.0f us\n", files[k],
               (double)(t1 - t0) / 100, (double)(apr_time_now() - t1) / 100);
        ck_assert_ptr_nonnull(app);
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("calendar");
    TCase *tc = tcase_create("calendar");
    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, google_style);
    tcase_add_test(tc, meeting_status_by_account);
    tcase_add_test(tc, icloud_style);
    tcase_add_test(tc, outlook_style);
    tcase_add_test(tc, nextcloud_birthday);
    tcase_add_test(tc, thunderbird_style);
    tcase_add_test(tc, zone_known_by_name_only);
    tcase_add_test(tc, phone_event_all_fields);
    tcase_add_test(tc, body_truncation);
    tcase_add_test(tc, malformed_files);
    tcase_add_test(tc, malformed_phone_data);
    tcase_add_test(tc, sync_reply_validates);
    tcase_add_test(tc, conversion_cost);
    suite_add_tcase(s, tc);
    return s;
}
