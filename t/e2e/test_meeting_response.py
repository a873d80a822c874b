"""MeetingResponse through httpd (issue 13 part 6), with a real Radicale on
the same files: an invitation delivered into the INBOX Maildir is synced
by the phone; accepting it puts the event into the calendar the phone
syncs (the Add's ServerId is the CalendarId, its UID the one the
invitation's GlobalObjId carries) and into Radicale's REPORT/GET with
PARTSTAT=ACCEPTED for the account; the invitation shows as read; a 12.1
phone answers the calendar item itself (tentative) and the same event
changes; declining removes the event from both.  Every reply is checked
by validate-eas (easclient)."""

import base64
import glob
import os

import pytest

import httpdconf
import pimkit
from mailutil import BODY_PLAIN_5K, PASSWORD, deliver, folder_id, kid, kids, ln, text
from pimkit import Phone, Radicale, radicale_available

CAL_NS = 'xmlns:cal="Calendar:"'
INBOX = folder_id("")
UID = "e2e-budget-2026@calendar.example.net"

VTZ = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
       "TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
       "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
       "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
       "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n")


def invitation(attendee):
    """A Google-style invitation for 15 December 2026, 14:00-15:00 Berlin
    (13:00Z), to attendee (written in another case than the account)."""
    cal = ("BEGIN:VCALENDAR\r\nPRODID:-//Google Inc//Google Calendar 70.9054//EN\r\n"
           "VERSION:2.0\r\nMETHOD:REQUEST\r\n%sBEGIN:VEVENT\r\n"
           "DTSTART;TZID=Europe/Berlin:20261215T140000\r\n"
           "DTEND;TZID=Europe/Berlin:20261215T150000\r\nDTSTAMP:20261201T091500Z\r\n"
           "ORGANIZER;CN=Org Anizer:mailto:org@example.net\r\nUID:%s\r\n"
           "ATTENDEE;CUTYPE=INDIVIDUAL;ROLE=REQ-PARTICIPANT;PARTSTAT=NEEDS-ACTION;RSVP=TRUE;"
           "CN=%s:mailto:%s\r\n"
           "ATTENDEE;PARTSTAT=ACCEPTED;CN=Org Anizer:mailto:org@example.net\r\n"
           "LOCATION:Raum 2\r\nSEQUENCE:0\r\nSTATUS:CONFIRMED\r\nSUMMARY:Budget 2027\r\n"
           "END:VEVENT\r\nEND:VCALENDAR\r\n" % (VTZ, UID, attendee, attendee))
    body = ("--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBudget 2027\r\n--b\r\n"
            "Content-Type: text/calendar; charset=utf-8; method=REQUEST\r\n"
            "Content-Transfer-Encoding: base64\r\n\r\n%s\r\n--b--\r\n"
            % base64.encodebytes(cal.encode()).decode())
    return ("From: Org Anizer <org@example.net>\r\nTo: %s\r\nSubject: Invitation: Budget 2027\r\n"
            "Date: Tue, 01 Dec 2026 10:15:00 +0100\r\nMessage-ID: <inv.mr.e2e@example.net>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary=\"b\"\r\n\r\n%s"
            % (attendee, body)).encode()


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def mrsrv(request, run_dir, module_path, sanitize, pki):
    yield from pimkit.pim_server(request, run_dir, module_path, sanitize, pki)


def fields(el):
    """Children by name (libwbxml prints some with a prefix: Attendee_Email)."""
    return {ln(k).split("_")[-1]: k.text for k in kids(el)}


def goid_uid(b64):
    """The UID a phone reads from a GlobalObjId (vCal-Uid data, else hex)."""
    g = base64.b64decode(b64)
    if g[40:48] == b"vCal-Uid":
        return g[52:-1].decode()
    return (g[:16] + b"\0\0\0\0" + g[20:]).hex().upper()


def meeting_response(dev, response, request_id, collection=INBOX):
    r = dev.post("MeetingResponse",
                 '<MeetingResponse xmlns="MeetingResponse:"><Request>'
                 "<UserResponse>%d</UserResponse><CollectionId>%s</CollectionId>"
                 "<RequestId>%s</RequestId></Request></MeetingResponse>"
                 % (response, collection, request_id))
    assert r.status == 200 and r.doc is not None, r
    results = kids(r.doc, "Result")
    assert len(results) == 1, r
    assert text(results[0], "RequestId") == request_id
    return text(results[0], "Status"), text(results[0], "CalendarId")


def inbox_items(dev):
    """Sync the INBOX to the end; {item id: ApplicationData} of the Adds
    and Changes this round."""
    seen, more = {}, True
    while more:
        r = dev.sync_raw(INBOX, window=100, options=BODY_PLAIN_5K)
        more, c = dev.apply(r, INBOX)
        for cmd in kids(kid(c, "Commands")) if c is not None and kid(c, "Commands") is not None \
                else []:
            if ln(cmd) in ("Add", "Change"):
                seen[text(cmd, "ServerId").split(":")[1]] = kid(cmd, "ApplicationData")
    return seen


def report(rad, path):
    st, body = rad.request(
        "REPORT", path,
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
        '</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        '<C:time-range start="20261215T130000Z" end="20261215T130100Z"/></C:comp-filter>'
        '</C:comp-filter></C:filter></C:calendar-query>',
        {"Depth": "1", "Content-Type": "text/xml"})
    assert st == 207, (st, body)
    return unfold(body)


def unfold(ics):
    return ics.replace("&#13;", "").replace("\r", "").replace("\n ", "")


def attendee_line(ics, addr):
    lines = [ln_ for ln_ in unfold(ics).split("\n")
             if ln_.lstrip().startswith("ATTENDEE") and ("mailto:" + addr) in ln_.lower()]
    assert len(lines) == 1, ics
    return lines[0]


@pytest.mark.skipif(not radicale_available(), reason="python3-radicale is not installed")
def test_accept_tentative_decline(mrsrv):
    srv = mrsrv
    addr = srv.add_account("mira")
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    [calfid] = dev.folder_by_type(8)
    ph = Phone(dev, calfid)
    assert ph.sync(ns=CAL_NS) is not None
    assert ph.sync(ns=CAL_NS) is None  # an empty calendar

    iid = deliver(srv.maildir(addr), "", data=invitation(addr.upper()))
    dev.keys[INBOX] = "0"
    dev.apply(dev.sync_raw(INBOX, key="0"), INBOX)
    inv = inbox_items(dev)[iid]
    assert text(inv, "MessageClass") == "IPM.Schedule.Meeting.Request"
    assert text(inv, "Read") == "0"
    goid = text(kid(inv, "MeetingRequest"), "GlobalObjId")

    rad = Radicale(srv.storage, addr, PASSWORD)
    try:
        path = "/%s/calendar/" % addr
        assert UID not in report(rad, path)

        # accept: the event is in the phone's calendar under the CalendarId
        status, cal_id = meeting_response(dev, 1, "%s:%s" % (INBOX, iid))
        assert status == "1" and cal_id and cal_id.startswith(calfid + ":"), (status, cal_id)
        c = ph.sync(ns=CAL_NS)
        adds = kids(kid(c, "Commands"), "Add")
        assert [text(a, "ServerId") for a in adds] == [cal_id], ph.last
        app = ph.apps[cal_id.split(":")[1]]
        assert text(app, "UID") == UID == goid_uid(goid)  # one meeting, not two
        assert text(app, "Subject") == "Budget 2027"
        assert text(app, "StartTime") == "20261215T130000Z"
        mine = [f for f in map(fields, kids(kid(app, "Attendees"), "Attendee"))
                if f["Email"].lower() == addr]
        # libwbxml prints AttendeeStatus as Attendee_Status
        assert [f.get("AttendeeStatus", f.get("Status")) for f in mine] == ["3"], mine
        assert text(app, "ResponseType") == "3" and text(app, "MeetingStatus") == "3"
        # ... and in CalDAV, with the account's PARTSTAT
        body = report(rad, path)
        assert UID in body, body
        assert "PARTSTAT=ACCEPTED" in attendee_line(body, addr)
        # the invitation shows it was answered: read on the next Sync
        changed = inbox_items(dev)
        assert text(changed[iid], "Read") == "1", changed

        # a 12.1 phone answers the calendar item itself: the same event changes
        old = srv.device(addr, device_id="MROLDPHONE", version="12.1")
        assert old.foldersync("0")["status"] == "1"
        status, cal_id2 = meeting_response(old, 2, cal_id, collection=calfid)
        assert (status, cal_id2) == ("1", cal_id)
        c = ph.sync(ns=CAL_NS)
        assert [ln(x) for x in kids(kid(c, "Commands"))] == ["Change"], ph.last
        assert text(ph.apps[cal_id.split(":")[1]], "ResponseType") == "2"
        assert "PARTSTAT=TENTATIVE" in attendee_line(report(rad, path), addr)
        [name] = [os.path.basename(f) for f in glob.glob(
            os.path.join(srv.storage, "collection-root", addr, "calendar", "*.ics"))]
        st, ics = rad.request("GET", path + name)
        assert st == 200 and ics.count("BEGIN:VEVENT") == 1 and UID in unfold(ics), ics

        # decline: gone from the phone's calendar and from CalDAV
        status, cal_id3 = meeting_response(dev, 3, "%s:%s" % (INBOX, iid))
        assert (status, cal_id3) == ("1", None)
        c = ph.sync(ns=CAL_NS)
        assert [ln(x) for x in kids(kid(c, "Commands"))] == ["Delete"], ph.last
        assert ph.items == {}
        assert UID not in report(rad, path)

        # a RequestId that is no invitation
        status, cal_id4 = meeting_response(dev, 1, "%s:%s" % (INBOX, "0000000000009"))
        assert (status, cal_id4) == ("2", None)
    finally:
        rad.stop()
    rad.verify()

