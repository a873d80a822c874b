/* Messages for the Email fields of EAS 14 (test_mime.c): Keywords with
 * encoded words, a reply chain, and iCalendar invitations as Outlook and
 * Google send them (VTIMEZONE Europe/Berlin, RRULEs), a cancellation and
 * broken calendars.  Header-only, on top of mailgen.h. */
#ifndef AS_CALGEN_H
#define AS_CALGEN_H

#include "mailgen.h"

/* Keywords over two headers: encoded words in two charsets, a quoted item
 * holding a comma, a repeat and an empty item. */
MG_FN char *mg_msg_keywords(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "Bob <bob@example.org>", "jdoe@example.com", "Tagged", MG_DATE,
               "kw.1@example.org");
    mg_puts(&b, "Keywords: =?UTF-8?Q?Gesch=C3=A4ftlich?=, Urgent,\n \"Project, Alpha\", ,\n"
                "Keywords: Urgent, =?ISO-8859-1?Q?R=E9sum=E9?=\n"
                "Content-Type: text/plain; charset=us-ascii\n\nTagged.\n");
    *len = b.len;
    return b.s;
}

/* One message of a thread: refs/irt may be NULL; tindex: a Thread-Index
 * header value or NULL. */
MG_FN char *mg_msg_thread(size_t *len, const char *msgid, const char *irt, const char *refs,
                          const char *tindex, const char *date)
{
    mg_buf_t b = {0};
    mg_headers(&b, "Ann <ann@example.org>", "jdoe@example.com", "Re: Budget 2024", date, msgid);
    if (irt) {
        mg_printf(&b, "In-Reply-To: %s\n", irt);
    }
    if (refs) {
        mg_printf(&b, "References: %s\n", refs);
    }
    if (tindex) {
        mg_printf(&b, "Thread-Topic: Budget 2024\nThread-Index: %s\n", tindex);
    }
    mg_puts(&b, "Content-Type: text/plain; charset=us-ascii\n\nSee below.\n");
    *len = b.len;
    return b.s;
}

/* A VTIMEZONE as Outlook writes it: Windows zone name, rules from 1601. */
#define CG_VTZ_OUTLOOK                                                                             \
    "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\n"                        \
    "DTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"                        \
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\n"                       \
    "BEGIN:DAYLIGHT\r\nDTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"      \
    "RRULE:FREQ=YEARLY;INTERVAL=1;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"

/* ... and as Google writes it: the Olson name, 1970 rules, TZNAMEs. */
#define CG_VTZ_GOOGLE                                                                              \
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nX-LIC-LOCATION:Europe/Berlin\r\n"                    \
    "BEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\nTZNAME:CEST\r\n"                  \
    "DTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\n"        \
    "BEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\n"                   \
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"       \
    "END:VTIMEZONE\r\n"

/* The Outlook UID of MS-ASEMAIL 4.3 example 1 (the hex of a GlobalObjectId). */
#define CG_OUTLOOK_UID                                                                             \
    "040000008200E00074C5B7101A82E00800000000E040C9C12685C4010000000000000000100000000BF0ED4B6E4E" \
    "E94"                                                                                          \
    "E9E39E3867B378EF3"

/* Outlook: a weekly meeting (Tuesday and Thursday, 10 times) in summer
 * time, CRLF line ends, the calendar part base64-encoded. */
MG_FN char *mg_msg_invite_outlook(size_t *len)
{
    static const char cal[] =
        "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nPRODID:Microsoft Exchange Server 2010\r\n"
        "VERSION:2.0\r\n" CG_VTZ_OUTLOOK "BEGIN:VEVENT\r\n"
        "ORGANIZER;CN=\"M\xc3\xbcller, Hans\":mailto:hans.mueller@example.de\r\n"
        "ATTENDEE;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;CN=John Doe:mailto:"
        "jdoe@example.com\r\n"
        "DESCRIPTION;LANGUAGE=de-DE:Jour fixe\\n\r\n"
        "RRULE:FREQ=WEEKLY;COUNT=10;INTERVAL=1;BYDAY=TU,TH;WKST=MO\r\n"
        "UID:" CG_OUTLOOK_UID "\r\n"
        "SUMMARY;LANGUAGE=de-DE:Jour fixe\r\n"
        "DTSTART;TZID=W. Europe Standard Time:20240702T093000\r\n"
        "DTEND;TZID=W. Europe Standard Time:20240702T100000\r\n"
        "CLASS:PUBLIC\r\nPRIORITY:5\r\nDTSTAMP:20240620T081500Z\r\nTRANSP:OPAQUE\r\n"
        "STATUS:CONFIRMED\r\nSEQUENCE:0\r\nLOCATION;LANGUAGE=de-DE:Raum M\xc3\xbcnchen 2\r\n"
        "X-MICROSOFT-CDO-APPT-SEQUENCE:0\r\nX-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE\r\n"
        "X-MICROSOFT-CDO-INTENDEDSTATUS:BUSY\r\nX-MICROSOFT-CDO-ALLDAYEVENT:FALSE\r\n"
        "X-MICROSOFT-CDO-IMPORTANCE:1\r\nX-MICROSOFT-CDO-INSTTYPE:1\r\n"
        "X-MICROSOFT-DISALLOW-COUNTER:TRUE\r\n"
        "BEGIN:VALARM\r\nDESCRIPTION:REMINDER\r\nTRIGGER;RELATED=START:-PT15M\r\nACTION:DISPLAY\r\n"
        "END:VALARM\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    mg_buf_t b = {0};
    mg_headers(&b, "\"M\xc3\xbcller, Hans\" <hans.mueller@example.de>", "jdoe@example.com",
               "Jour fixe", "Thu, 20 Jun 2024 10:15:00 +0200", "outlook.inv@example.de");
    mg_puts(&b, "Thread-Topic: Jour fixe\r\nThread-Index: AdrC8e8qkq1sGw4RT0aT3p3l0SNqTw==\r\n"
                "Content-Type: multipart/alternative; boundary=\"_000_outlook_\"\r\n\r\n"
                "--_000_outlook_\r\nContent-Type: text/plain; charset=\"utf-8\"\r\n"
                "Content-Transfer-Encoding: 8bit\r\n\r\nJour fixe\r\n\r\n"
                "--_000_outlook_\r\nContent-Type: text/calendar; charset=\"utf-8\"; "
                "method=REQUEST\r\nContent-Transfer-Encoding: base64\r\n\r\n");
    mg_base64(&b, (const unsigned char *)cal, sizeof cal - 1);
    mg_puts(&b, "\r\n--_000_outlook_--\r\n");
    *len = b.len;
    return b.s;
}

#define CG_GOOGLE_UID "4k1lr9u0pkvd8j6f0r2q7d5t3c@google.com"

/* Google: the second Tuesday of each month until the end of 2024, in
 * winter time, with the .ics also attached. */
MG_FN char *mg_msg_invite_google(size_t *len)
{
    static const char cal[] =
        "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\nVERSION:2.0\r\n"
        "CALSCALE:GREGORIAN\r\nMETHOD:REQUEST\r\n" CG_VTZ_GOOGLE "BEGIN:VEVENT\r\n"
        "DTSTART;TZID=Europe/Berlin:20240312T140000\r\n"
        "DTEND;TZID=Europe/Berlin:20240312T150000\r\n"
        "RRULE:FREQ=MONTHLY;UNTIL=20241231T225959Z;BYDAY=2TU\r\n"
        "DTSTAMP:20240304T091500Z\r\nORGANIZER;CN=Org Anizer:mailto:org@example.com\r\n"
        "UID:" CG_GOOGLE_UID "\r\n"
        "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=\r\n"
        " TRUE;CN=jdoe@example.com;X-NUM-GUESTS=0:mailto:jdoe@example.com\r\n"
        "X-GOOGLE-CONFERENCE:https://meet.google.com/abc-defg-hij\r\n"
        "CREATED:20240304T091400Z\r\nDESCRIPTION:Monthly review\r\n"
        "LAST-MODIFIED:20240304T091500Z\r\nLOCATION:\r\nSEQUENCE:0\r\nSTATUS:CONFIRMED\r\n"
        "SUMMARY:Monthly review\r\nTRANSP:OPAQUE\r\n"
        "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-P0DT0H30M0S\r\nEND:VALARM\r\n"
        "END:VEVENT\r\nEND:VCALENDAR\r\n";
    mg_buf_t b = {0};
    mg_headers(&b, "Org Anizer <org@example.com>", "jdoe@example.com",
               "Invitation: Monthly review @ Monthly from 14:00 to 15:00 on the second Tuesday "
               "(CET) (jdoe@example.com)",
               MG_DATE, "000000000000a1b2c3d4e5f60718@google.com");
    mg_puts(&b, "Content-Type: multipart/mixed; boundary=\"000000000000mixed\"\n\n"
                "--000000000000mixed\n"
                "Content-Type: multipart/alternative; boundary=\"000000000000alt\"\n\n"
                "--000000000000alt\nContent-Type: text/plain; charset=\"UTF-8\"\n"
                "Content-Transfer-Encoding: quoted-printable\n\nMonthly review\n\n"
                "--000000000000alt\nContent-Type: text/html; charset=\"UTF-8\"\n\n"
                "<p>Monthly review</p>\n\n"
                "--000000000000alt\nContent-Type: text/calendar; charset=\"UTF-8\"; "
                "method=REQUEST\nContent-Transfer-Encoding: 7bit\n\n");
    mg_puts(&b, cal);
    mg_puts(&b, "\n--000000000000alt--\n\n--000000000000mixed\n"
                "Content-Type: application/ics; name=\"invite.ics\"\n"
                "Content-Disposition: attachment; filename=\"invite.ics\"\n"
                "Content-Transfer-Encoding: base64\n\n");
    mg_base64(&b, (const unsigned char *)cal, sizeof cal - 1);
    mg_puts(&b, "\n--000000000000mixed--\n");
    *len = b.len;
    return b.s;
}

/* Google cancels one occurrence (9 April, summer time) of that series. */
MG_FN char *mg_msg_cancel(size_t *len)
{
    mg_buf_t b = {0};
    mg_headers(&b, "Org Anizer <org@example.com>", "jdoe@example.com",
               "Cancelled event: Monthly review @ Tue 9 Apr 2024 14:00 - 15:00 (CEST)", MG_DATE,
               "000000000000cancel@google.com");
    mg_puts(&b, "Content-Type: multipart/alternative; boundary=\"c\"\n\n--c\n"
                "Content-Type: text/plain; charset=UTF-8\n\nThis event has been cancelled.\n--c\n"
                "Content-Type: text/calendar; charset=UTF-8; method=CANCEL\n\n"
                "BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
                "VERSION:2.0\r\nMETHOD:CANCEL\r\n" CG_VTZ_GOOGLE "BEGIN:VEVENT\r\n"
                "DTSTART;TZID=Europe/Berlin:20240409T140000\r\n"
                "DTEND;TZID=Europe/Berlin:20240409T150000\r\n"
                "DTSTAMP:20240405T120000Z\r\nORGANIZER;CN=Org Anizer:mailto:org@example.com\r\n"
                "UID:" CG_GOOGLE_UID "\r\n"
                "RECURRENCE-ID;TZID=Europe/Berlin:20240409T140000\r\nSEQUENCE:1\r\n"
                "STATUS:CANCELLED\r\nSUMMARY:Monthly review\r\nTRANSP:OPAQUE\r\n"
                "END:VEVENT\r\nEND:VCALENDAR\r\n--c--\n");
    *len = b.len;
    return b.s;
}

/* Broken calendars marked METHOD=REQUEST: which 0 is not iCalendar at all,
 * 1 has an event with a date libical cannot read, 2 is cut off before the
 * event. */
MG_FN char *mg_msg_invite_broken(size_t *len, int which)
{
    static const char *const cals[] = {
        "this is not a calendar\n\x01\x02 at all\n",
        "BEGIN:VCALENDAR\nVERSION:2.0\nMETHOD:REQUEST\nBEGIN:VEVENT\nUID:broken-1@example.com\n"
        "DTSTART:2024-13-45 25:61\nSUMMARY:Bad date\nEND:VEVENT\nEND:VCALENDAR\n",
        "BEGIN:VCALENDAR\nVERSION:2.0\nMETHOD:REQUEST\nBEGIN:VTIMEZONE\nTZID:Europe/Berlin\n"};
    mg_buf_t b = {0};
    mg_headers(&b, "Org <org@example.com>", "jdoe@example.com", "Broken invitation", MG_DATE,
               "broken.inv@example.com");
    mg_puts(&b, "Content-Type: multipart/alternative; boundary=\"cal\"\n\n--cal\n"
                "Content-Type: text/plain; charset=utf-8\n\nStill readable.\n--cal\n"
                "Content-Type: text/calendar; charset=utf-8; method=REQUEST\n\n");
    mg_puts(&b, cals[which]);
    mg_puts(&b, "--cal--\n");
    *len = b.len;
    return b.s;
}

#endif
