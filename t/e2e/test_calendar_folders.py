"""User calendars (13) and task lists (15), and push of calendar changes,
through httpd with a real Radicale on the same storage (issue 12):

- a calendar made over CalDAV (MKCALENDAR) shows as type 13 after
  FolderSync, and an event PUT into it syncs; a collection holding both
  VEVENT and VTODO (extended MKCOL) shows as one 13 and one 15 folder;
- FolderCreate of type 13 and 15 makes collections that Radicale's
  PROPFIND lists with their display name and component set; an event
  added on the phone into the new calendar is served by CalDAV;
  FolderUpdate renames (PROPFIND shows the new name), FolderDelete
  removes them (404); a mixed collection cannot be deleted from the
  phone (Status 3);
- a Ping on the calendar is answered within a second of a CalDAV PUT
  into it (and one on a task list of a PUT of a task).
"""

import re
import time

import pytest

import httpdconf
import pimkit
from mailutil import PASSWORD, Background, kid, kids, ln, text, wait_until
from pimkit import Radicale, radicale_available, response

pytestmark = pytest.mark.skipif(not radicale_available(),
                                reason="python3-radicale is not installed")

CAL_NS = 'xmlns:cal="Calendar:"'
TASK_NS = 'xmlns:t="Tasks:"'
CALDAV = "urn:ietf:params:xml:ns:caldav"


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def fsrv(request, run_dir, module_path, sanitize, pki):
    yield from pimkit.pim_server(request, run_dir, module_path, sanitize, pki)


def event(uid, summary, start="20260310T090000Z", end="20260310T100000Z"):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VEVENT\r\nUID:%s\r\n"
            "DTSTAMP:20260101T000000Z\r\nSUMMARY:%s\r\nDTSTART:%s\r\nDTEND:%s\r\nEND:VEVENT\r\n"
            "END:VCALENDAR\r\n" % (uid, summary, start, end))


def todo(uid, summary):
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VTODO\r\nUID:%s\r\n"
            "DTSTAMP:20260101T000000Z\r\nSUMMARY:%s\r\nEND:VTODO\r\nEND:VCALENDAR\r\n"
            % (uid, summary))


def mkcalendar(rad, path, name, comps):
    st, body = rad.request(
        "MKCOL", path,
        '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="%s"><D:set><D:prop>'
        '<D:resourcetype><D:collection/><C:calendar/></D:resourcetype>'
        '<D:displayname>%s</D:displayname><C:supported-calendar-component-set>%s'
        '</C:supported-calendar-component-set></D:prop></D:set></D:mkcol>'
        % (CALDAV, name, "".join('<C:comp name="%s"/>' % c for c in comps)),
        {"Content-Type": "text/xml"})
    assert st == 201, (st, body)


def calendars(rad, addr):
    """Radicale's PROPFIND of the account: {href: (displayname, [components])}."""
    st, body = rad.request(
        "PROPFIND", "/%s/" % addr,
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="%s"><D:prop><D:displayname/>'
        '<C:supported-calendar-component-set/></D:prop></D:propfind>' % CALDAV,
        {"Depth": "1", "Content-Type": "text/xml"})
    assert st == 207, (st, body)
    out = {}
    for resp in re.findall(r"<(?:\w+:)?response\b.*?</(?:\w+:)?response>", body, re.S):
        href = re.search(r"<(?:\w+:)?href>([^<]*)</", resp).group(1)
        name = re.search(r"<(?:\w+:)?displayname>([^<]*)</", resp)
        comps = re.findall(r'<(?:\w+:)?comp name="(\w+)"', resp)
        if name:
            out[href] = (name.group(1), sorted(comps))
    return out


def folder_cmd(dev, cmd, inner):
    r = dev.post(cmd, '<%s xmlns="FolderHierarchy:"><SyncKey>%s</SyncKey>%s</%s>'
                 % (cmd, dev.hier_key, inner, cmd))
    assert r.status == 200 and r.doc is not None, r
    if text(r.doc, "Status") == "1":
        dev.hier_key = text(r.doc, "SyncKey")
    return r


def by_name(dev, typ):
    return {name: fid for fid, (_, name, t) in dev.folders.items() if t == typ}


def test_user_calendars_and_task_lists(fsrv):
    srv = fsrv
    addr = srv.add_account("ursula")
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    rad = Radicale(srv.storage, addr, PASSWORD)
    try:
        # made over CalDAV: a calendar, and a collection of events and tasks
        mkcalendar(rad, "/%s/work/" % addr, "Work", ["VEVENT"])
        mkcalendar(rad, "/%s/mixed/" % addr, "Family", ["VEVENT", "VTODO"])
        st, _ = rad.request("PUT", "/%s/work/w1.ics" % addr, event("w1", "Work review"),
                            {"Content-Type": "text/calendar"})
        assert st == 201, st
        st, _ = rad.request("PUT", "/%s/mixed/t1.ics" % addr, todo("t1", "Family chore"),
                            {"Content-Type": "text/calendar"})
        assert st == 201, st
        d = dev.foldersync()
        added = sorted((name, t) for _, _, name, t in d["add"])
        assert added == [("Family", 13), ("Family", 15), ("Work", 13)], d
        # the default folders stay the defaults
        assert len(dev.folder_by_type(8)) == 1 and len(dev.folder_by_type(7)) == 1
        work = pimkit.Phone(dev, by_name(dev, 13)["Work"])
        assert work.sync(ns=CAL_NS) is not None
        work.until_done()
        assert [v["Subject"] for v in work.items.values()] == ["Work review"]
        fam_tasks = pimkit.Phone(dev, by_name(dev, 15)["Family"])
        assert fam_tasks.sync(ns=TASK_NS) is not None
        fam_tasks.until_done()
        assert [v["Subject"] for v in fam_tasks.items.values()] == ["Family chore"]
        fam_events = pimkit.Phone(dev, by_name(dev, 13)["Family"])
        assert fam_events.sync(ns=CAL_NS) is not None
        assert fam_events.sync(ns=CAL_NS) is None  # the task is not an event
        # a collection that is two folders cannot go from the phone
        r = folder_cmd(dev, "FolderDelete", "<ServerId>%s</ServerId>" % fam_events.fid)
        assert text(r.doc, "Status") == "3", r

        # made on the phone: a calendar and a task list Radicale lists
        r = folder_cmd(dev, "FolderCreate", "<ParentId>0</ParentId><DisplayName>Trips"
                       "</DisplayName><Type>13</Type>")
        assert text(r.doc, "Status") == "1", r
        trips = text(r.doc, "ServerId")
        r = folder_cmd(dev, "FolderCreate", "<ParentId>0</ParentId><DisplayName>Groceries"
                       "</DisplayName><Type>15</Type>")
        assert text(r.doc, "Status") == "1", r
        groceries = text(r.doc, "ServerId")
        d = dev.foldersync()
        assert not (d["add"] or d["update"] or d["delete"]), d
        cals = calendars(rad, addr)
        by_display = {v[0]: (href, v[1]) for href, v in cals.items()}
        assert by_display["Trips"][1] == ["VEVENT"], cals
        assert by_display["Groceries"][1] == ["VTODO"], cals
        trips_href = by_display["Trips"][0]
        # an event added on the phone into the new calendar is served by CalDAV
        tp = pimkit.Phone(dev, trips)
        tp.sync(ns=CAL_NS)
        c = tp.sync('<Add><ClientId>trip-1</ClientId><ApplicationData>'
                    '<cal:EndTime>20260601T100000Z</cal:EndTime>'
                    '<cal:StartTime>20260601T080000Z</cal:StartTime>'
                    '<cal:Subject>Flight</cal:Subject></ApplicationData></Add>', ns=CAL_NS)
        assert text(response(c, "Add")[0], "Status") == "1", tp.last
        st, body = rad.request(
            "REPORT", trips_href,
            '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="%s"><D:prop>'
            '<C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR">'
            '<C:comp-filter name="VEVENT"/></C:comp-filter></C:filter></C:calendar-query>'
            % CALDAV, {"Depth": "1", "Content-Type": "text/xml"})
        assert st == 207 and "SUMMARY:Flight" in body, (st, body)
        # a task added on the phone into the new list likewise
        gp = pimkit.Phone(dev, groceries)
        gp.sync(ns=TASK_NS)
        c = gp.sync('<Add><ClientId>g-1</ClientId><ApplicationData><t:Subject>Bread</t:Subject>'
                    '<t:Complete>0</t:Complete></ApplicationData></Add>', ns=TASK_NS)
        assert text(response(c, "Add")[0], "Status") == "1", gp.last
        st, body = rad.request(
            "REPORT", by_display["Groceries"][0],
            '<?xml version="1.0"?><C:calendar-query xmlns:D="DAV:" xmlns:C="%s"><D:prop>'
            '<C:calendar-data/></D:prop><C:filter><C:comp-filter name="VCALENDAR">'
            '<C:comp-filter name="VTODO"/></C:comp-filter></C:filter></C:calendar-query>'
            % CALDAV, {"Depth": "1", "Content-Type": "text/xml"})
        assert st == 207 and "SUMMARY:Bread" in body, (st, body)

        # rename and delete from the phone
        r = folder_cmd(dev, "FolderUpdate", "<ServerId>%s</ServerId><ParentId>0</ParentId>"
                       "<DisplayName>Journeys</DisplayName>" % trips)
        assert text(r.doc, "Status") == "1", r
        assert calendars(rad, addr)[trips_href] == ("Journeys", ["VEVENT"])
        for fid in (trips, groceries):
            r = folder_cmd(dev, "FolderDelete", "<ServerId>%s</ServerId>" % fid)
            assert text(r.doc, "Status") == "1", r
        names = [v[0] for v in calendars(rad, addr).values()]
        assert "Journeys" not in names and "Groceries" not in names, names
        st, _ = rad.request("GET", trips_href)
        assert st == 404, st
        # a calendar removed over CalDAV leaves the phone's hierarchy
        st, _ = rad.request("DELETE", "/%s/work/" % addr)
        assert st == 200, st
        d = dev.foldersync()
        assert d["delete"] == [work.fid], d
    finally:
        rad.stop()
    rad.verify()


def _ping(dev, fid, cls, heartbeat=300):
    r = dev.post("Ping", '<Ping xmlns="Ping:"><HeartbeatInterval>%d</HeartbeatInterval><Folders>'
                 '<Folder><Id>%s</Id><Class>%s</Class></Folder></Folders></Ping>'
                 % (heartbeat, fid, cls))
    assert r.status == 200 and r.doc is not None, r
    fl = kid(r.doc, "Folders")
    return text(r.doc, "Status"), [f.text for f in kids(fl)] if fl is not None else []


def _woken_by_put(srv, dev, ph, cls, rad, path, body):
    """Park a Ping on ph's folder, PUT body over CalDAV: the latency."""
    before = dev.claim_value()
    job = Background(lambda: _ping(dev, ph.fid, cls))
    # parked: the device's claim file changed (bounded wait, no fixed sleep)
    assert wait_until(lambda: dev.claim_value() not in (None, before) or job.done(), 30)
    assert not job.done(), job.value
    t0 = time.monotonic()
    st, _ = rad.request("PUT", path, body, {"Content-Type": "text/calendar"})
    assert st == 201, st
    assert job.result(30) == ("2", [ph.fid])
    latency = time.monotonic() - t0
    print("\n# %s: %s Ping answered %.0f ms after the CalDAV PUT" % (srv.mpm, cls, latency * 1000))
    return latency


def test_push_on_caldav_put(fsrv, sanitize):
    srv = fsrv
    addr = srv.add_account("petra")
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    cal = pimkit.Phone(dev, dev.folder_by_type(8)[0])
    tasks = pimkit.Phone(dev, dev.folder_by_type(7)[0])
    for ph, ns in ((cal, CAL_NS), (tasks, TASK_NS)):
        ph.sync(ns=ns)
        assert ph.sync(ns=ns) is None
    # within a second (ASan builds are slower: five)
    bound = 5 if sanitize else 1
    rad = Radicale(srv.storage, addr, PASSWORD)
    try:
        lat = _woken_by_put(srv, dev, cal, "Calendar", rad, "/%s/calendar/p1.ics" % addr,
                            event("p1", "Pushed"))
        assert lat < bound, lat
        c = cal.sync(ns=CAL_NS)
        adds = [kid(x, "ApplicationData") for x in kids(kid(c, "Commands"), "Add")]
        assert [text(a, "Subject") for a in adds] == ["Pushed"], cal.last
        lat = _woken_by_put(srv, dev, tasks, "Tasks", rad, "/%s/tasks/t1.ics" % addr,
                            todo("t1", "Pushed task"))
        assert lat < bound, lat
        c = tasks.sync(ns=TASK_NS)
        assert [ln(x) for x in kids(kid(c, "Commands"))] == ["Add"], tasks.last
    finally:
        rad.stop()
    rad.verify()
