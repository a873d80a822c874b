#!/usr/bin/python3
"""Calendar benchmark of mod_activesync (issue 12), one private httpd (event
MPM) with one calendar of 10,000 events over five years (four back, one
ahead) in Radicale's layout (`ActiveSyncCollections`): single events (UTC
and Europe/Berlin with its VTIMEZONE, some with attendees), all-day events,
weekly series with an EXDATE and a moved instance, daily series with an
UNTIL, monthly series on the 2nd Tuesday with no end.

  - the full initial sync (WindowSize 100) with FilterType 6 (3 months) and
    0 (all): wall time, time waiting for httpd and CPU of httpd's children,
    against reading the files (cat) and reading + parsing them with libical
    (t/tools/ical_parse).  Cold: the first device after httpd started (item
    cache empty, every file parsed, the window decided for each); warm: the
    median of the next devices (conversions and window decisions cached);
    Per page (the requests after SyncKey 0): median, p90 and max of the
    time waiting for httpd and httpd's CPU, cold and warm (and over the
    pages of all warm runs: raise BENCH_ROUNDS for a precise CPU figure):
    the cost of a page should be the page, not the calendar (compare
    BENCH_EVENTS=1000 and 10000);
  - requests per second of a no-change Sync of the calendar (FilterType 0
    and 6) against GET of an empty static file, same httpd, same Basic auth
    (wrk).

Env: BENCH_EVENTS (default 10000), BENCH_FILTERS (default "6,0"),
BENCH_PARTS (default "sync,nochange"; "sync" skips wrk), BENCH_ITEMCACHE
(ActiveSyncItemCache, default the module's), BENCH_SECONDS,
BENCH_CONNECTIONS, BENCH_ROUNDS as bench_mail.py; AS_MODULE, AS_ADMIN,
AS_TOOLS."""

import datetime
import glob
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))
sys.path.insert(0, HERE)

import bench_mail  # noqa: E402
import easclient  # noqa: E402
import httpdconf  # noqa: E402
import mailutil  # noqa: E402
from e2eharness import prepare_datadir  # noqa: E402

NEVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
ROUNDS = max(2, bench_mail.ROUNDS)
FILTERS = tuple(int(f) for f in os.environ.get("BENCH_FILTERS", "6,0").split(","))
PARTS = os.environ.get("BENCH_PARTS", "sync,nochange").split(",")
# ActiveSyncItemCache for the run (default: the module's, 16M)
CACHE = ("ActiveSyncItemCache %s\n" % os.environ["BENCH_ITEMCACHE"]
         if os.environ.get("BENCH_ITEMCACHE") else "")

BERLIN = ("BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"
          "TZOFFSETTO:+0200\r\nTZNAME:CEST\r\nDTSTART:19700329T020000\r\n"
          "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"
          "TZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\nTZNAME:CET\r\nDTSTART:19701025T030000\r\n"
          "RRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n")


def _t(d, fmt="%Y%m%dT%H%M%S"):
    return d.strftime(fmt)


def event(i, start):
    """The i-th file: one of six kinds, by i % 10."""
    kind = i % 10
    end = start + datetime.timedelta(hours=1)
    head = ("BEGIN:VEVENT\r\nUID:bench-%d@example.net\r\nDTSTAMP:20200101T000000Z\r\n"
            "SUMMARY:Event %d\r\nLOCATION:Room %d\r\nDESCRIPTION:Agenda of event %d\\, "
            "with a few words of text.\r\n" % (i, i, i % 40, i))
    tz, body = "", ""
    if kind == 0:  # weekly in Berlin, 26 times, one deleted and one moved instance
        tz = BERLIN
        exd = start + datetime.timedelta(weeks=3)
        moved = start + datetime.timedelta(weeks=5)
        body = (head + "DTSTART;TZID=Europe/Berlin:%s\r\nDTEND;TZID=Europe/Berlin:%s\r\n"
                "RRULE:FREQ=WEEKLY;COUNT=26\r\nEXDATE;TZID=Europe/Berlin:%s\r\nEND:VEVENT\r\n"
                "BEGIN:VEVENT\r\nUID:bench-%d@example.net\r\nDTSTAMP:20200101T000000Z\r\n"
                "SUMMARY:Event %d (moved)\r\nRECURRENCE-ID;TZID=Europe/Berlin:%s\r\n"
                "DTSTART;TZID=Europe/Berlin:%s\r\nDTEND;TZID=Europe/Berlin:%s\r\nEND:VEVENT\r\n"
                % (_t(start), _t(end), _t(exd), i, i, _t(moved),
                   _t(moved + datetime.timedelta(days=1)),
                   _t(moved + datetime.timedelta(days=1, hours=1))))
    elif kind == 1:  # monthly on the 2nd Tuesday, no end
        body = (head + "DTSTART:%sZ\r\nDTEND:%sZ\r\nRRULE:FREQ=MONTHLY;BYDAY=2TU\r\n"
                "END:VEVENT\r\n" % (_t(start), _t(end)))
    elif kind == 2:  # all-day
        body = (head + "DTSTART;VALUE=DATE:%s\r\nDTEND;VALUE=DATE:%s\r\nEND:VEVENT\r\n"
                % (_t(start, "%Y%m%d"), _t(start + datetime.timedelta(days=1), "%Y%m%d")))
    elif kind == 3:  # daily for ten days
        body = (head + "DTSTART:%sZ\r\nDTEND:%sZ\r\nRRULE:FREQ=DAILY;UNTIL=%sZ\r\nEND:VEVENT\r\n"
                % (_t(start), _t(end), _t(start + datetime.timedelta(days=9))))
    elif kind in (4, 5):  # a meeting in Berlin with attendees
        tz = BERLIN
        body = (head + "DTSTART;TZID=Europe/Berlin:%s\r\nDTEND;TZID=Europe/Berlin:%s\r\n"
                "ORGANIZER;CN=Olga Organizer:mailto:olga@example.net\r\n"
                "ATTENDEE;CN=Ann;PARTSTAT=ACCEPTED;ROLE=REQ-PARTICIPANT:mailto:ann@example.net\r\n"
                "ATTENDEE;CN=Bob;PARTSTAT=NEEDS-ACTION;RSVP=TRUE:mailto:bob@example.net\r\n"
                "BEGIN:VALARM\r\nACTION:DISPLAY\r\nTRIGGER:-PT15M\r\nDESCRIPTION:Reminder\r\n"
                "END:VALARM\r\nEND:VEVENT\r\n" % (_t(start), _t(end)))
    else:  # a single event in UTC
        body = head + "DTSTART:%sZ\r\nDTEND:%sZ\r\nEND:VEVENT\r\n" % (_t(start), _t(end))
    return ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//bench//EN\r\n%s%sEND:VCALENDAR\r\n"
            % (tz, body))


def write_calendar(cal):
    today = datetime.datetime.utcnow().replace(hour=9, minute=0, second=0, microsecond=0)
    first = today - datetime.timedelta(days=4 * 365)
    step = datetime.timedelta(days=5 * 365) / NEVENTS
    for i in range(NEVENTS):
        with open(os.path.join(cal, "bench-%d.ics" % i), "w", newline="") as f:
            f.write(event(i, first + i * step))


def sync_body(fid, key, filt, window=100):
    opts = "<Options><FilterType>%d</FilterType></Options>" % filt if filt is not None else ""
    return easclient.encode(
        "<Sync %s><Collections><Collection><SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>"
        "<WindowSize>%d</WindowSize>%s</Collection></Collections></Sync>"
        % (mailutil.NS % "AirSync:", key, fid, window, opts))


def full_sync(srv, dev, fid, filt):
    key, adds, pages, server, more, per_page = "0", 0, 0, 0.0, True, []
    cpu0, t0 = bench_mail.children_cpu(srv), time.monotonic()
    while more:
        t1 = time.monotonic()
        data = dev.post("Sync", sync_body(fid, key, filt), timeout=600)
        server += time.monotonic() - t1
        if pages > 0:  # not the SyncKey 0 request (no items)
            per_page.append(time.monotonic() - t1)
        x = bench_mail.xml_of(data)
        key = re.search(r"<SyncKey>([^<]+)</SyncKey>", x).group(1)
        adds += x.count("<Add>")
        more = "<MoreAvailable" in x or pages == 0
        pages += 1
    return {"wall": time.monotonic() - t0, "server": server, "pages": pages, "adds": adds,
            "key": key, "dev": dev, "cpu": bench_mail.children_cpu(srv) - cpu0,
            "per_page": sorted(per_page),
            "slowest": 1 + per_page.index(max(per_page)) if per_page else 0}


def page_ms(r):
    """Median, p90 and max of a sync's page times, in ms."""
    t = r["per_page"] or [0.0]
    return (1000 * t[len(t) // 2], 1000 * t[min(len(t) - 1, (len(t) * 9) // 10)],
            1000 * t[-1])


def timed(cmd):
    t0 = time.monotonic()
    out = subprocess.run(cmd, shell=True, check=True, capture_output=True, text=True).stdout
    return time.monotonic() - t0, out


def main():
    module = os.environ["AS_MODULE"]
    os.environ.setdefault("AS_ADMIN", os.path.join(os.path.dirname(module), "activesync-admin"))
    tools = os.environ.setdefault("AS_TOOLS", os.path.join(os.path.dirname(module), "t", "tools"))
    root = tempfile.mkdtemp(prefix="mod_activesync-bench-calendar-")
    os.chmod(root, 0o755)
    coll = os.path.join(root, "collections")
    os.makedirs(coll)
    os.chown(coll, mailutil.WWW.pw_uid, mailutil.WWW.pw_gid)
    srv = mailutil.MailServer(root)
    srv.setup_mail()
    srv.datadir = prepare_datadir(os.path.join(root, "data"), ("example.com",))
    body = mailutil.mail_body(root, srv.port, None,
                              extra='ActiveSyncCollections "%s/%%u"\nAlias /static "%s/htdocs"\n'
                              % (coll, root) + CACHE)
    body += ("<Location /static>\n    AuthType Basic\n    AuthName \"ActiveSync\"\n"
             "    AuthBasicProvider file\n    AuthUserFile \"%s\"\n    Require valid-user\n"
             "</Location>\n" % srv.htpasswd)
    srv.write_conf(module, mpm="event", body=body, loglevel="warn activesync:notice")
    open(os.path.join(root, "htdocs", "empty"), "w").close()
    os.chmod(os.path.join(root, "htdocs", "empty"), 0o644)
    srv.start()
    try:
        run(srv, root, coll, os.path.join(tools, "ical_parse"))
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)


def floor(cal, parse_tool):
    """Median seconds of cat and of ical_parse over all the files."""
    files = sorted(glob.glob(os.path.join(cal, "*.ics")))
    listing = os.path.join(cal, "..", "bench-files")
    with open(listing, "w") as f:
        f.write("\0".join(files))
    cat_cmd = "xargs -0 cat < %s > /dev/null" % listing
    parse_cmd = "xargs -0 %s < %s" % (parse_tool, listing)
    timed(cat_cmd)
    cats, parses = [], []
    for _ in range(ROUNDS):
        cats.append(timed(cat_cmd)[0])
        t, out = timed(parse_cmd)
        parses.append(t)
    assert " 0 unparsed" in out, out
    return sorted(cats)[len(cats) // 2], sorted(parses)[len(parses) // 2]


def run(srv, root, coll, parse_tool):
    addr = srv.add_account("bench")
    first = bench_mail.Raw(srv.port, addr, "BENCHFS")
    fs = bench_mail.xml_of(first.post("FolderSync", easclient.encode(
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>')))
    fid = re.search(r"<ServerId>([^<]+)</ServerId>\s*<ParentId>[^<]*</ParentId>\s*"
                    r"<DisplayName>[^<]*</DisplayName>\s*<Type>8</Type>", fs).group(1)
    cal = os.path.join(coll, addr, "calendar")
    write_calendar(cal)
    subprocess.run(["chown", "-R", "%d:%d" % (mailutil.WWW.pw_uid, mailutil.WWW.pw_gid), cal],
                   check=True)
    time.sleep(2.1)  # a folder written in the last 2 s has an unsettled token
    print("calendar: one httpd (event MPM), one calendar of %d events over 5 years" % NEVENTS)
    cat, parse = floor(cal, parse_tool)
    print("  floor: cat of the files %.3f s   read + libical parse (ical_parse) %.3f s"
          % (cat, parse))
    done = {}
    for filt in FILTERS:
        srv.stop()  # an empty item cache: the first device is cold
        srv.start()
        runs = []
        for i in range(ROUNDS):
            dev = bench_mail.Raw(srv.port, addr, "BENCHF%dR%d" % (filt, i))
            runs.append(full_sync(srv, dev, fid, filt))
            assert runs[-1]["adds"] == runs[0]["adds"], (runs[-1]["adds"], runs[0]["adds"])
        cold = runs[0]
        warm = sorted(runs[1:], key=lambda r: r["wall"])[(len(runs) - 1) // 2]
        for tag, r in (("cold", cold), ("warm", warm)):
            print("  initial sync FilterType %d (%s): %d events in %d pages, %.2f s wall, "
                  "%.2f s waiting for httpd, httpd CPU %.2f s   ratio to parse: wall %.1f, "
                  "CPU %.1f   (to cat: %.0f)"
                  % (filt, tag, r["adds"], r["pages"], r["wall"], r["server"], r["cpu"],
                     r["wall"] / parse, r["cpu"] / parse, r["wall"] / cat))
            print("    per page FilterType %d (%s, %d events): median %.1f ms   p90 %.1f ms   "
                  "max %.1f ms (page %d)   httpd CPU %.1f ms"
                  % ((filt, tag, NEVENTS) + page_ms(r) + (
                      r["slowest"], 1000 * r["cpu"] / max(1, len(r["per_page"])))))
        # every warm run's pages together: CPU is counted in clock ticks (10 ms)
        pool = sorted(t for r in runs[1:] for t in r["per_page"])
        cpu = sum(r["cpu"] for r in runs[1:])
        print("    per page FilterType %d (warm, all %d runs, %d pages): median %.1f ms   "
              "p90 %.1f ms   httpd CPU %.2f ms"
              % ((filt, len(runs) - 1, len(pool)) + page_ms({"per_page": pool})[:2]
                 + (1000 * cpu / max(1, len(pool)),)))
        if filt == 0:
            assert cold["adds"] == NEVENTS, cold["adds"]
        done[filt] = dict(warm, fid=fid)
    if "nochange" in PARTS:
        nochange(srv, root, addr, done)


def nochange(srv, root, addr, done):
    script = os.path.join(root, "bench.lua")
    with open(script, "w") as f:
        f.write(bench_mail.WRK_SCRIPT)
    empty = os.path.join(root, "empty.bin")
    open(empty, "wb").close()
    base = "http://127.0.0.1:%d" % srv.port
    for filt, r in sorted(done.items()):
        body = sync_body(r["fid"], r["key"], filt)
        assert r["dev"].post("Sync", body) == b"", "the no-change Sync was not empty"
        path = os.path.join(root, "sync%d.bin" % filt)
        with open(path, "wb") as f:
            f.write(body)
        q = easclient.plain_query("Sync", addr, r["dev"].device, "Bench")
        m_runs, s_runs = [], []
        for _ in range(ROUNDS):
            s_runs.append(bench_mail.wrk(base + "/static/empty", "GET", empty,
                                         bench_mail.auth(addr), script))
            m_runs.append(bench_mail.wrk(base + httpdconf.EAS_PATH + "?" + q, "POST", path,
                                         bench_mail.auth(addr), script))
        m, s = sorted(m_runs)[ROUNDS // 2], sorted(s_runs)[ROUNDS // 2]
        print("  no-change Sync FilterType %d (%d events) %9.0f req/s   static %9.0f req/s   "
              "ratio %.2f" % (filt, NEVENTS, m, s, m / s))


if __name__ == "__main__":
    main()
