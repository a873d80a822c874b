"""Calendar and tasks through httpd (issue 12): real WBXML (easclient,
every reply checked by validate-eas) on an account whose collections are
in Radicale's layout.

- FolderSync shows the default calendar (type 8) and task list (type 7);
- the initial Sync of a weekly series in Europe/Berlin with one moved and
  one deleted instance gives Recurrence, Exceptions and the UTC instants;
  an all-day event stays on its date;
- the phone's Add (ClientId -> ServerId) makes an .ics that vobject reads;
  its Change of one field keeps the X- properties; its Delete removes it;
- a task added on the phone and completed there is COMPLETED on disk;
- a Radicale on the same storage finds the phone's event with a time-range
  REPORT at the right instant, and its PUT reaches the phone as an Add.
"""

import base64
import datetime
import glob
import os
import struct

import pytest

import httpdconf
import pimkit
from mailutil import PASSWORD, kid, kids, ln, text
from pimkit import Radicale, files_with, radicale_available, response, setup_phone, write_file

CAL_NS = 'xmlns:cal="Calendar:"'
TASK_NS = 'xmlns:t="Tasks:"'
PY = "/usr/bin/python3"

BERLIN = """BEGIN:VTIMEZONE\r
TZID:Europe/Berlin\r
BEGIN:DAYLIGHT\r
TZOFFSETFROM:+0100\r
TZOFFSETTO:+0200\r
TZNAME:CEST\r
DTSTART:19700329T020000\r
RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r
END:DAYLIGHT\r
BEGIN:STANDARD\r
TZOFFSETFROM:+0200\r
TZOFFSETTO:+0100\r
TZNAME:CET\r
DTSTART:19701025T030000\r
RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r
END:STANDARD\r
END:VTIMEZONE\r
"""


def vcalendar(*components, tz=True):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\n%s%sEND:VCALENDAR\r\n"
            % (BERLIN if tz else "", "".join(components)))


def weekly_series(uid, summary):
    """Mondays 09:00 Berlin from 5 January 2026, ten times; the 12 January
    instance moved to Tuesday 10:00, the 19 January one deleted."""
    return vcalendar(
        "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20251201T100000Z\r\nSUMMARY:%s\r\n"
        "DTSTART;TZID=Europe/Berlin:20260105T090000\r\n"
        "DTEND;TZID=Europe/Berlin:20260105T100000\r\n"
        "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\r\n"
        "EXDATE;TZID=Europe/Berlin:20260119T090000\r\nX-KEEP-ME:series\r\nEND:VEVENT\r\n"
        "BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20251201T100000Z\r\nSUMMARY:%s (moved)\r\n"
        "RECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\n"
        "DTSTART;TZID=Europe/Berlin:20260113T100000\r\n"
        "DTEND;TZID=Europe/Berlin:20260113T110000\r\nEND:VEVENT\r\n"
        % (uid, summary, uid, summary))


def fields(el):
    """Children by MS-ASCAL name: libwbxml prints some with a prefix
    (Recurrence_Type, Exception_StartTime, Exception_Deleted)."""
    out = {}
    for k in kids(el):
        name = ln(k)
        out["ExceptionStartTime" if name == "Exception_StartTime" else name.split("_")[-1]] = k.text
    return out


def check_series(app):
    """The phone's form of weekly_series(): the instants in UTC (CET, +1)."""
    assert text(app, "StartTime") == "20260105T080000Z", app
    assert text(app, "EndTime") == "20260105T090000Z"
    blob = base64.b64decode(text(app, "TimeZone"))
    assert len(blob) == 172
    bias, = struct.unpack_from("<i", blob, 0)
    std_month, = struct.unpack_from("<H", blob, 4 + 64 + 2)
    dst_month, = struct.unpack_from("<H", blob, 4 + 64 + 16 + 4 + 64 + 2)
    dst_bias, = struct.unpack_from("<i", blob, 4 + 64 + 16 + 4 + 64 + 16)
    assert (bias, std_month, dst_month, dst_bias) == (-60, 10, 3, -60)
    rec = kid(app, "Recurrence")
    assert rec is not None, app
    got = fields(rec)
    assert (got.get("Type"), got.get("DayOfWeek"), got.get("Occurrences"),
            got.get("Interval", "1")) == ("1", "2", "10", "1"), got
    excs = kids(kid(app, "Exceptions"), "Exception")
    by_start = {fields(e)["ExceptionStartTime"]: fields(e) for e in excs}
    assert sorted(by_start) == ["20260112T080000Z", "20260119T080000Z"], app
    assert by_start["20260119T080000Z"]["Deleted"] == "1"
    moved = by_start["20260112T080000Z"]
    assert moved.get("Deleted") in (None, "0")
    assert (moved["StartTime"], moved["EndTime"]) == ("20260113T090000Z", "20260113T100000Z")


def read_ics(path):
    """Parsed by another iCalendar reader (vobject, Radicale's)."""
    import vobject
    with open(path, encoding="utf-8") as f:
        return vobject.readOne(f.read())


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def calsrv(request, run_dir, module_path, sanitize, pki):
    yield from pimkit.pim_server(request, run_dir, module_path, sanitize, pki)


def cal_dir(srv, addr, name="calendar"):
    return os.path.join(srv.storage, "collection-root", addr, name)


def setup_calendar(srv, name):
    addr, dev, ph = setup_phone(srv, name, typ=8)
    assert len(dev.folder_by_type(7)) == 1, dev.folders
    assert os.path.isdir(cal_dir(srv, addr))
    return addr, dev, ph


def test_calendar_both_ways(calsrv):
    srv = calsrv
    addr, dev, ph = setup_calendar(srv, "carla")
    cal = cal_dir(srv, addr)
    write_file(os.path.join(cal, "weekly.ics"), weekly_series("weekly-1", "Standup"))
    write_file(os.path.join(cal, "holiday.ics"), vcalendar(
        "BEGIN:VEVENT\r\nUID:allday-1\r\nDTSTAMP:20251201T100000Z\r\nSUMMARY:Holiday\r\n"
        "DTSTART;VALUE=DATE:20260704\r\nDTEND;VALUE=DATE:20260705\r\nEND:VEVENT\r\n", tz=False))
    write_file(os.path.join(cal, "keep.ics"), vcalendar(
        "BEGIN:VEVENT\r\nUID:keep-1\r\nDTSTAMP:20251201T100000Z\r\nSUMMARY:Dentist\r\n"
        "DTSTART;TZID=Europe/Berlin:20260701T150000\r\n"
        "DTEND;TZID=Europe/Berlin:20260701T160000\r\nLOCATION:Main street\r\n"
        "X-CUSTOM-PROP;X-P=1:keep me\r\nURL:https://example.net/d\r\nEND:VEVENT\r\n"))
    assert ph.sync(ns=CAL_NS) is not None
    ph.until_done()
    by_subject = {v.get("Subject"): i for i, v in ph.items.items()}
    assert sorted(by_subject) == ["Dentist", "Holiday", "Standup"], ph.items
    check_series(ph.apps[by_subject["Standup"]])
    assert text(ph.apps[by_subject["Standup"]], "UID") == "weekly-1"
    hol = ph.items[by_subject["Holiday"]]
    assert hol["AllDayEvent"] == "1"
    assert (hol["StartTime"], hol["EndTime"]) == ("20260704T000000Z", "20260705T000000Z")
    dentist = ph.items[by_subject["Dentist"]]
    assert dentist["StartTime"] == "20260701T130000Z"  # CEST, +2
    blob = ph.items[by_subject["Standup"]]["TimeZone"]

    # the phone adds a timed event and an all-day one (midnight Berlin)
    c = ph.sync('<Add><ClientId>ev-1</ClientId><ApplicationData><cal:TimeZone>%s</cal:TimeZone>'
                '<cal:AllDayEvent>0</cal:AllDayEvent><cal:BusyStatus>2</cal:BusyStatus>'
                '<cal:DTStamp>20260301T100000Z</cal:DTStamp>'
                '<cal:EndTime>20260310T100000Z</cal:EndTime>'
                '<cal:StartTime>20260310T090000Z</cal:StartTime>'
                '<cal:Subject>Phone meeting</cal:Subject></ApplicationData></Add>'
                '<Add><ClientId>ev-2</ClientId><ApplicationData><cal:TimeZone>%s</cal:TimeZone>'
                '<cal:AllDayEvent>1</cal:AllDayEvent>'
                '<cal:EndTime>20260710T220000Z</cal:EndTime>'
                '<cal:StartTime>20260709T220000Z</cal:StartTime>'
                '<cal:Subject>Phone day</cal:Subject></ApplicationData></Add>'
                % (blob, blob), ns=CAL_NS)
    adds = {text(a, "ClientId"): a for a in response(c, "Add")}
    assert sorted(adds) == ["ev-1", "ev-2"], ph.last
    for a in adds.values():
        assert text(a, "Status") == "1" and text(a, "ServerId").startswith(ph.fid + ":")
    assert kid(c, "Commands") is None
    made = files_with(cal, "Phone meeting", "*.ics")
    assert len(made) == 1
    ev = read_ics(made[0]).vevent
    assert ev.dtstart.value.astimezone(datetime.timezone.utc).strftime("%Y%m%dT%H%M%S") == \
        "20260310T090000"
    day = files_with(cal, "Phone day", "*.ics")
    assert len(day) == 1
    with open(day[0]) as f:
        body = f.read()
    assert "DTSTART;VALUE=DATE:20260710" in body, body
    assert read_ics(day[0]).vevent.dtstart.value == datetime.date(2026, 7, 10)

    # the phone changes the Dentist's subject: what EAS does not carry stays
    did = by_subject["Dentist"]
    ph.sync('<Change><ServerId>%s:%s</ServerId><ApplicationData><cal:TimeZone>%s</cal:TimeZone>'
            '<cal:AllDayEvent>0</cal:AllDayEvent><cal:EndTime>20260701T140000Z</cal:EndTime>'
            '<cal:Location>Main street</cal:Location>'
            '<cal:StartTime>20260701T130000Z</cal:StartTime>'
            '<cal:Subject>Dentist (moved room)</cal:Subject></ApplicationData></Change>'
            % (ph.fid, did, dentist["TimeZone"]), ns=CAL_NS)
    with open(os.path.join(cal, "keep.ics")) as f:
        body = f.read()
    assert "Dentist (moved room)" in body, body
    assert "X-CUSTOM-PROP;X-P=1:keep me" in body and "URL:https://example.net/d" in body, body
    ev = read_ics(os.path.join(cal, "keep.ics")).vevent
    assert ev.dtstart.value.astimezone(datetime.timezone.utc).hour == 13

    # the phone deletes it: the file goes
    ph.sync('<Delete><ServerId>%s:%s</ServerId></Delete>' % (ph.fid, did), ns=CAL_NS)
    assert not os.path.exists(os.path.join(cal, "keep.ics"))
    assert ph.sync(ns=CAL_NS) is None  # nothing echoed


def test_task_completed_on_the_phone(calsrv):
    srv = calsrv
    addr = srv.add_account("tom")
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    ph = pimkit.Phone(dev, dev.folder_by_type(7)[0])
    tasks = os.path.join(srv.storage, "collection-root", addr, "tasks")
    assert ph.sync(ns=TASK_NS) is not None
    assert ph.sync(ns=TASK_NS) is None
    c = ph.sync('<Add><ClientId>t-1</ClientId><ApplicationData><t:Subject>Buy milk</t:Subject>'
                '<t:Complete>0</t:Complete></ApplicationData></Add>', ns=TASK_NS)
    add = response(c, "Add")
    assert len(add) == 1 and text(add[0], "Status") == "1", ph.last
    tid = text(add[0], "ServerId").split(":")[1]
    made = files_with(tasks, "Buy milk", "*.ics")
    assert len(made) == 1
    with open(made[0]) as f:
        assert "STATUS:COMPLETED" not in f.read()
    ph.sync('<Change><ServerId>%s:%s</ServerId><ApplicationData><t:Subject>Buy milk</t:Subject>'
            '<t:Complete>1</t:Complete><t:DateCompleted>2026-03-01T10:00:00.000Z'
            '</t:DateCompleted></ApplicationData></Change>' % (ph.fid, tid), ns=TASK_NS)
    with open(made[0]) as f:
        body = f.read()
    assert "STATUS:COMPLETED" in body and "COMPLETED:20260301T100000Z" in body, body
    todo = read_ics(made[0]).vtodo
    assert todo.status.value == "COMPLETED"


def _report(rad, path, start, end):
    st, body = rad.request(
        "REPORT", path,
        '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:caldav"><D:prop><D:getetag/><C:calendar-data/>'
        '</D:prop><C:filter><C:comp-filter name="VCALENDAR"><C:comp-filter name="VEVENT">'
        '<C:time-range start="%s" end="%s"/></C:comp-filter></C:comp-filter></C:filter>'
        '</C:calendar-query>' % (start, end), {"Depth": "1", "Content-Type": "text/xml"})
    assert st == 207, (st, body)
    return body


@pytest.mark.skipif(not radicale_available(), reason="python3-radicale is not installed")
def test_radicale_shares_the_calendar(calsrv):
    srv = calsrv
    addr, dev, ph = setup_calendar(srv, "rosa")
    ph.sync(ns=CAL_NS)
    ph.until_done()
    rad = Radicale(srv.storage, addr, PASSWORD)
    try:
        # 10:30-11:30 in Berlin (CET) on 10 March is 09:30Z-10:30Z
        c = ph.sync('<Add><ClientId>r1</ClientId><ApplicationData>'
                    '<cal:EndTime>20260310T103000Z</cal:EndTime>'
                    '<cal:StartTime>20260310T093000Z</cal:StartTime>'
                    '<cal:Subject>From the phone</cal:Subject></ApplicationData></Add>',
                    ns=CAL_NS)
        assert text(response(c, "Add")[0], "Status") == "1", ph.last
        path = "/%s/calendar/" % addr
        assert "From the phone" in _report(rad, path, "20260310T100000Z", "20260310T100100Z")
        assert "From the phone" not in _report(rad, path, "20260310T103000Z", "20260310T110000Z")
        assert "From the phone" not in _report(rad, path, "20260310T090000Z", "20260310T093000Z")
        # a CalDAV client PUTs the weekly series: the phone gets it exactly
        st, _ = rad.request("PUT", path + "dav-weekly.ics", weekly_series("dav-w", "Review"),
                            {"Content-Type": "text/calendar"})
        assert st == 201, st
        c = ph.sync(ns=CAL_NS)
        adds = kids(kid(c, "Commands"), "Add")
        assert [text(kid(a, "ApplicationData"), "Subject") for a in adds] == ["Review"], ph.last
        check_series(kid(adds[0], "ApplicationData"))
        # the instance moved to Tuesday is where CalDAV says it is
        body = _report(rad, path, "20260113T093000Z", "20260113T094000Z")
        assert "dav-w" in body, body
    finally:
        rad.stop()
    rad.verify()
    assert glob.glob(os.path.join(cal_dir(srv, addr), "dav-weekly.ics"))


def _event(uid, summary, start, hours=1, more=""):
    fmt = "%Y%m%dT%H%M%SZ"
    return vcalendar("BEGIN:VEVENT\r\nUID:%s\r\nDTSTAMP:20251201T100000Z\r\nSUMMARY:%s\r\n"
                     "DTSTART:%s\r\nDTEND:%s\r\n%sEND:VEVENT\r\n"
                     % (uid, summary, start.strftime(fmt),
                        (start + datetime.timedelta(hours=hours)).strftime(fmt), more), tz=False)


def estimate(dev, ph, options):
    """GetItemEstimate of the phone's collection with these Options."""
    est = dev.post("GetItemEstimate",
                   '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:">'
                   '<Collections><Collection><airsync:SyncKey>%s</airsync:SyncKey>'
                   '<CollectionId>%s</CollectionId>%s</Collection></Collections>'
                   '</GetItemEstimate>' % (ph.key, ph.fid, options))
    assert text(kid(est.doc, "Response"), "Status") == "1", est
    return int(text(kid(kid(est.doc, "Response"), "Collection"), "Estimate"))


def test_filter_type_window(calsrv):
    """FilterType 5 (one month back) on a calendar, 8 (incomplete) on a
    task list: what is outside is not sent, and leaves as SoftDelete;
    GetItemEstimate counts inside the same window."""
    srv = calsrv
    addr, dev, ph = setup_calendar(srv, "fiona")
    cal = cal_dir(srv, addr)
    now = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    day = datetime.timedelta(days=1)
    write_file(os.path.join(cal, "old.ics"), _event("old", "Old", now - 60 * day))
    write_file(os.path.join(cal, "recent.ics"), _event("recent", "Recent", now - 3 * day))
    write_file(os.path.join(cal, "future.ics"), _event("future", "Future", now + 10 * day))
    # a weekly series begun a year ago, still running: inside by its instances
    write_file(os.path.join(cal, "running.ics"),
               _event("running", "Running", now - 365 * day, more="RRULE:FREQ=WEEKLY\r\n"))
    # a series whose three instances are all over 31 days ago
    write_file(os.path.join(cal, "ended.ics"),
               _event("ended", "Ended", now - 100 * day, more="RRULE:FREQ=WEEKLY;COUNT=3\r\n"))
    ph.options = "<FilterType>5</FilterType>"
    assert ph.sync(ns=CAL_NS) is not None
    ph.until_done()
    assert sorted(v["Subject"] for v in ph.items.values()) == ["Future", "Recent", "Running"]
    # GetItemEstimate counts inside the same window: Old and Ended are not due
    assert estimate(dev, ph, "<airsync:Options><airsync:FilterType>5</airsync:FilterType>"
                    "</airsync:Options>") == 0
    write_file(os.path.join(cal, "older.ics"), _event("older", "Older", now - 90 * day))
    write_file(os.path.join(cal, "soon.ics"), _event("soon", "Soon", now + day))
    assert estimate(dev, ph, "<airsync:Options><airsync:Class>Calendar</airsync:Class>"
                    "<airsync:FilterType>5</airsync:FilterType></airsync:Options>") == 1
    c = ph.sync(ns=CAL_NS)
    assert [ln(x) for x in kids(kid(c, "Commands"))] == ["Add"], ph.last
    # Recent is moved two months back, Old into the window: SoftDelete and Add
    recent = [i for i, v in ph.items.items() if v["Subject"] == "Recent"][0]
    write_file(os.path.join(cal, "recent.ics"), _event("recent", "Recent", now - 60 * day))
    write_file(os.path.join(cal, "old.ics"), _event("old", "Old", now - 2 * day))
    c = ph.sync(ns=CAL_NS)
    cmds = {ln(x): text(x, "ServerId") for x in kids(kid(c, "Commands"))}
    assert sorted(cmds) == ["Add", "SoftDelete"], ph.last
    assert cmds["SoftDelete"] == "%s:%s" % (ph.fid, recent)
    assert sorted(v["Subject"] for v in ph.items.values()) == ["Future", "Old", "Running", "Soon"]
    assert os.path.exists(os.path.join(cal, "recent.ics"))  # only the phone lets it go
    assert ph.sync(ns=CAL_NS) is None

    # tasks: FilterType 8 sends the incomplete ones
    tasks = os.path.join(srv.storage, "collection-root", addr, "tasks")
    todo = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VTODO\r\nUID:%s\r\n"
            "DTSTAMP:20260101T000000Z\r\nSUMMARY:%s\r\n%sEND:VTODO\r\nEND:VCALENDAR\r\n")
    write_file(os.path.join(tasks, "open.ics"), todo % ("open", "Open", ""))
    write_file(os.path.join(tasks, "done.ics"), todo % ("done", "Done", "STATUS:COMPLETED\r\n"))
    tp = pimkit.Phone(dev, dev.folder_by_type(7)[0])
    tp.options = "<FilterType>8</FilterType>"
    assert tp.sync(ns=TASK_NS) is not None
    tp.until_done()
    assert [v["Subject"] for v in tp.items.values()] == ["Open"]
    write_file(os.path.join(tasks, "done2.ics"), todo % ("done2", "Done 2", "STATUS:COMPLETED\r\n"))
    assert estimate(dev, tp, "<airsync:Options><airsync:FilterType>8</airsync:FilterType>"
                    "</airsync:Options>") == 0
    write_file(os.path.join(tasks, "open.ics"),
               todo % ("open", "Open", "STATUS:COMPLETED\r\nCOMPLETED:20260301T100000Z\r\n"))
    c = tp.sync(ns=TASK_NS)
    assert [ln(x) for x in kids(kid(c, "Commands"))] == ["SoftDelete"], tp.last
    assert tp.items == {}
