"""Meeting requests, conversations and categories through httpd (issue 4):
a mailbox with an iCalendar invitation (Google style: VTIMEZONE
Europe/Berlin, a monthly RRULE), its cancellation, a broken calendar, a
reply chain and a message with Keywords is synced by an EAS 14.1, a 14.0 and
a 12.1 device.  Every reply passes validate-eas (easclient); the test checks
the fields a phone shows and that 12.1 gets none of the 14.0 elements."""

import base64
import hashlib
import struct

from mailutil import BODY_PLAIN_5K, deliver, folder_id, kid, kids, mail_server, text  # noqa: F401

INBOX = folder_id("")

VTZ = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
       "TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
       "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
       "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
       "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n")
UID = "e2e-7f3a9c@google.com"


def message(subject, msgid, extra_headers="", ctype="text/plain; charset=utf-8",
            body="Hello.\r\n"):
    return ("From: Org Anizer <org@example.com>\r\nTo: someone@example.com\r\n"
            "Subject: %s\r\nDate: Mon, 04 Mar 2024 10:15:00 +0100\r\nMessage-ID: <%s>\r\n"
            "%sMIME-Version: 1.0\r\nContent-Type: %s\r\n\r\n%s"
            % (subject, msgid, extra_headers, ctype, body)).encode()


def invitation(method, event, subject, msgid):
    cal = ("BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
           "VERSION:2.0\r\nMETHOD:%s\r\n%sBEGIN:VEVENT\r\n%sEND:VEVENT\r\nEND:VCALENDAR\r\n"
           % (method, VTZ, event))
    body = ("--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n%s\r\n--b\r\n"
            "Content-Type: text/calendar; charset=utf-8; method=%s\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n"
            % (subject, method, base64.encodebytes(cal.encode()).decode()))
    return message(subject, msgid, ctype='multipart/alternative; boundary="b"', body=body)


REQUEST = invitation(
    "REQUEST",
    "DTSTART;TZID=Europe/Berlin:20240312T140000\r\nDTEND;TZID=Europe/Berlin:20240312T150000\r\n"
    "RRULE:FREQ=MONTHLY;UNTIL=20241231T225959Z;BYDAY=2TU\r\nDTSTAMP:20240304T091500Z\r\n"
    "ORGANIZER;CN=Org Anizer:mailto:org@example.com\r\nUID:%s\r\n"
    "ATTENDEE;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:someone@example.com\r\n"
    "LOCATION:Raum 2\r\nSEQUENCE:0\r\nSUMMARY:Monthly review\r\n"
    "BEGIN:VALARM\r\nACTION:DISPLAY\r\nDESCRIPTION:x\r\nTRIGGER:-PT10M\r\nEND:VALARM\r\n" % UID,
    "Invitation: Monthly review", "inv.e2e@example.com")
CANCEL = invitation(
    "CANCEL",
    "DTSTART;TZID=Europe/Berlin:20240409T140000\r\nDTEND;TZID=Europe/Berlin:20240409T150000\r\n"
    "DTSTAMP:20240405T120000Z\r\nUID:%s\r\nRECURRENCE-ID;TZID=Europe/Berlin:20240409T140000\r\n"
    "SEQUENCE:1\r\nSTATUS:CANCELLED\r\nSUMMARY:Monthly review\r\n" % UID,
    "Cancelled: Monthly review", "cancel.e2e@example.com")
BROKEN = message("Broken invitation", "broken.e2e@example.com",
                 ctype="text/calendar; charset=utf-8; method=REQUEST",
                 body="BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:x\r\n"
                      "DTSTART:not-a-date\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
TAGGED = message("Tagged", "tagged.e2e@example.com",
                 "Keywords: =?UTF-8?Q?Gesch=C3=A4ftlich?=, \"Project, Alpha\"\r\n")
ROOT = message("Budget", "root.e2e@example.com")
REPLY = message("Re: Budget", "reply.e2e@example.com",
                "In-Reply-To: <root.e2e@example.com>\r\nReferences: <root.e2e@example.com>\r\n")


def synced(srv, name, version):
    """A fresh account with the messages above, fully synced by a device of
    this version; returns ({subject: ApplicationData}, maildir)."""
    addr = srv.add_account(name)
    md = srv.maildir(addr)
    for m in (REQUEST, CANCEL, BROKEN, TAGGED, ROOT, REPLY):
        deliver(md, "", data=m)
    dev = srv.device(addr, version=version)
    assert dev.foldersync("0")["status"] == "1"
    dev.keys[INBOX] = "0"
    r = dev.sync_raw(INBOX, key="0")
    dev.apply(r, INBOX)
    items, more = {}, True
    while more:
        r = dev.sync_raw(INBOX, window=100, options=BODY_PLAIN_5K)  # validated by easclient
        more, c = dev.apply(r, INBOX)
        for add in kids(kid(c, "Commands"), "Add"):
            app = kid(add, "ApplicationData")
            items[text(app, "Subject")] = app
    return items, md


def broken_lines(srv):
    with open(srv.error_log, encoding="utf-8", errors="replace") as f:
        return sum(1 for ln in f if "unusable iCalendar invitation" in ln)


def tzi(b64):
    b = base64.b64decode(b64)
    assert len(b) == 172
    bias, = struct.unpack_from("<i", b, 0)
    std = struct.unpack_from("<8H", b, 68)
    dst = struct.unpack_from("<8H", b, 152)
    dst_bias, = struct.unpack_from("<i", b, 168)
    return bias, std, dst, dst_bias


def test_meeting_request_conversations_categories_14_1(mail_server):
    srv = mail_server
    before = broken_lines(srv)
    items, _ = synced(srv, "meet141", "14.1")

    inv = items["Invitation: Monthly review"]
    assert text(inv, "MessageClass") == "IPM.Schedule.Meeting.Request"
    assert text(inv, "ContentClass") == "urn:content-classes:calendarmessage"
    mr = kid(inv, "MeetingRequest")
    assert mr is not None
    assert text(mr, "StartTime") == "2024-03-12T13:00:00.000Z"
    assert text(mr, "EndTime") == "2024-03-12T14:00:00.000Z"
    assert text(mr, "Location") == "Raum 2"
    assert text(mr, "Reminder") == "10"
    assert text(mr, "InstanceType") == "1"
    rec = kid(kid(mr, "Recurrences"), "Recurrence")
    # libwbxml prints the Email recurrence children as Recurrence_*
    got = {k.tag.split("}")[-1].replace("Recurrence_", ""): k.text for k in kids(rec)}
    assert got == {"Type": "3", "Interval": "1", "Until": "20241231T225959Z",
                   "WeekOfMonth": "2", "DayOfWeek": "4"}, got
    bias, std, dst, dst_bias = tzi(text(mr, "TimeZone"))
    assert (bias, std[1:5], dst[1:5], dst_bias) == (-60, (10, 0, 5, 3), (3, 0, 5, 2), -60)
    goid = base64.b64decode(text(mr, "GlobalObjId"))
    assert goid[:16] == bytes.fromhex("040000008200E00074C5B7101A82E008")
    assert goid[40:52] == b"vCal-Uid\x01\x00\x00\x00" and goid[52:-1] == UID.encode()
    assert text(mr, "MeetingMessageType") == "1"

    can = items["Cancelled: Monthly review"]
    assert text(can, "MessageClass") == "IPM.Schedule.Meeting.Canceled"
    cmr = kid(can, "MeetingRequest")
    assert text(cmr, "RecurrenceId") == "2024-04-09T12:00:00.000Z"
    assert base64.b64decode(text(cmr, "GlobalObjId"))[16:20] == bytes([0x07, 0xE8, 4, 9])

    broken = items["Broken invitation"]
    assert text(broken, "MessageClass") == "IPM.Note"
    assert kid(broken, "MeetingRequest") is None
    assert broken_lines(srv) == before + 1  # one log line, no error

    cats = kid(items["Tagged"], "Categories")
    assert [c.text for c in kids(cats)] == ["Gesch\u00e4ftlich", "Project, Alpha"]

    # wbxml2xml prints OPAQUE as base64
    root_id = base64.b64decode(text(items["Budget"], "ConversationId"))
    assert root_id == hashlib.md5(b"root.e2e@example.com").digest()
    assert base64.b64decode(text(items["Re: Budget"], "ConversationId")) == root_id
    assert len(base64.b64decode(text(items["Budget"], "ConversationIndex"))) == 5


def test_versions_14_0_and_12_1(mail_server):
    srv = mail_server
    items, _ = synced(srv, "meet140", "14.0")
    mr = kid(items["Invitation: Monthly review"], "MeetingRequest")
    assert text(mr, "DisallowNewTimeProposal") == "0"
    assert kid(mr, "MeetingMessageType") is None  # 14.1
    assert kid(items["Tagged"], "Categories") is not None

    items, _ = synced(srv, "meet121", "12.1")
    inv = items["Invitation: Monthly review"]
    mr = kid(inv, "MeetingRequest")
    assert mr is not None and text(mr, "GlobalObjId")
    for el in ("DisallowNewTimeProposal", "MeetingMessageType"):
        assert kid(mr, el) is None, el
    for app in items.values():
        for el in ("ConversationId", "ConversationIndex", "Categories"):
            assert kid(app, el) is None, el
