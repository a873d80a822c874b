"""Long requests through httpd (the glue's part): a parked Ping outlives
httpd's Timeout (nothing is read from or written to the socket while it
waits), answers "no change" within about a second of a graceful restart or
a stop (the child's stop check wakes it, as_watch.h), and
ActiveSyncPingHeartbeat reaches the core.  Also: the new directives refuse
bad values at start-up."""

import concurrent.futures
import os
import time

import pytest

import easclient
import httpdconf
from e2eharness import check_clean_shutdown, standard_body, start_server
from mailutil import claim_dir


def body(root, port, pki):
    # Timeout far below the heartbeat; the bounds (per server) allow 2 s.
    return standard_body(root, port, pki) + "\nTimeout 2\nActiveSyncPingHeartbeat 2 600\n"


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def server(request, run_dir, module_path, sanitize, pki):
    srv = start_server(run_dir, "test_longpoll", module_path, request.param, sanitize, pki,
                       body_fn=body)
    yield srv
    srv.stop()
    problems = check_clean_shutdown(srv)
    assert not problems, "\n".join(problems)


def inbox_id(client):
    r = client.post("FolderSync", xml='<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                                      "</FolderSync>")
    assert r.status == 200, r
    doc = easclient.decode_reply(r.body)
    for add in easclient.find_all(doc, "Add"):
        kids = {easclient.etree.QName(c).localname: c.text for c in add}
        if kids.get("Type") == "2":
            return kids["ServerId"]
    raise AssertionError("no Inbox in %s" % easclient.etree.tostring(doc))


def ping_xml(heartbeat, folder):
    return ('<Ping xmlns="Ping:"><HeartbeatInterval>%d</HeartbeatInterval><Folders><Folder>'
            "<Id>%s</Id><Class>Email</Class></Folder></Folders></Ping>" % (heartbeat, folder))


def ping(client, heartbeat, folder):
    t0 = time.monotonic()
    r = client.post("Ping", xml=ping_xml(heartbeat, folder))
    took = time.monotonic() - t0
    assert r.status == 200, r
    doc = easclient.decode_reply(r.body)
    return easclient.find_all(doc, "Status")[0].text, doc, took


def test_ping_outlives_httpd_timeout(server):
    c = server.client().with_(device_id="LONGPOLL1")
    folder = inbox_id(c)
    status, _, took = ping(c, 5, folder)
    assert status == "1" and 4.5 <= took < 15, (status, took)


def test_heartbeat_bounds_directive(server):
    c = server.client().with_(device_id="LONGPOLL2")
    folder = inbox_id(c)
    status, doc, took = ping(c, 601, folder)
    assert status == "5" and easclient.find_all(doc, "HeartbeatInterval")[0].text == "600"
    status, doc, took = ping(c, 1, folder)
    assert status == "5" and easclient.find_all(doc, "HeartbeatInterval")[0].text == "2"


def _claims(server):
    """{file: mtime} of the push claims (as_watch.h)."""
    d = claim_dir(server.datadir)
    try:
        names = os.listdir(d)
    except FileNotFoundError:
        return {}
    return {n: os.stat(os.path.join(d, n)).st_mtime_ns for n in names}


def _parked(server, client, folder, heartbeat=300):
    """Start a Ping and return once it is in the handler: its claim is written
    just before it watches and parks (observed, not slept for)."""
    before = _claims(server)
    pool = concurrent.futures.ThreadPoolExecutor(1)
    fut = pool.submit(ping, client, heartbeat, folder)
    deadline = time.monotonic() + 30
    while _claims(server) == before and not fut.done() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _claims(server) != before, "the Ping did not claim its device within 30 s"
    assert not fut.done(), fut.result()
    return pool, fut


def test_graceful_restart_wakes_parked_ping(server):
    c = server.client().with_(device_id="LONGPOLL3")
    folder = inbox_id(c)
    pool, fut = _parked(server, c, folder)
    t0 = time.monotonic()
    server.graceful()
    status, _, _ = fut.result(timeout=20)
    woke = time.monotonic() - t0
    pool.shutdown()
    assert status == "1"
    assert woke < 4, woke
    # The new generation serves.
    assert ping(c, 2, folder)[0] == "1"


@pytest.mark.parametrize("stop_mpm", httpdconf.MPMS)
def test_stop_is_not_held_up_by_parked_ping(run_dir, module_path, sanitize, pki, stop_mpm):
    srv = start_server(run_dir, "longpoll-stop", module_path, stop_mpm, sanitize, pki,
                       body_fn=body)
    try:
        c = srv.client().with_(device_id="LONGPOLL4")
        folder = inbox_id(c)
        pool, fut = _parked(srv, c, folder)
        t0 = time.monotonic()
        srv.stop()
        took = time.monotonic() - t0
        try:
            status = fut.result(timeout=20)[0]
        except Exception:  # the connection may be closed by the stop
            status = None
        pool.shutdown()
        assert took < 4, took
        assert status in ("1", None)
    finally:
        srv.stop()
    assert not check_clean_shutdown(srv)


BAD = (
    ("ActiveSyncPingHeartbeat 600 60", "MIN <= MAX"),
    ("ActiveSyncPingHeartbeat 60 4000", "MIN <= MAX"),
    ("ActiveSyncMaildir relative/%u", "not a usable template"),
    ("ActiveSyncMaildir /var/mail/%x/Maildir", "not a usable template"),
    ("ActiveSyncMaildir /var/mail/shared", "names no account part"),
    ("ActiveSyncCollections relative/%u", "not a usable template"),
    ("ActiveSyncCollections /var/lib/radicale/%x", "not a usable template"),
    ("ActiveSyncCollections /var/lib/radicale/shared", "share one address book"),
    ("ActiveSyncMaildirFolders Sent Drafts Trash", "four names"),
    ("ActiveSyncMaildirFolders Sent Dr/afts Trash Junk", "not a Maildir++ folder name"),
    ("ActiveSyncProvisioning Maybe", "not On, Off or Loose"),
    ("ActiveSyncProvisioning449 Sometimes", "not Auto, InBand or Both"),
)


@pytest.mark.parametrize("line,message", BAD)
def test_bad_directives_refused(run_dir, module_path, sanitize, line, message):
    root = os.path.join(run_dir, "longpoll-conf")
    h = httpdconf.Httpd(root, sanitize=sanitize)
    h.write_conf(module_path, body="ActiveSync On\n%s\n" % line)
    rc, out = h.check_syntax()
    assert rc != 0 and message in out, out


def test_good_directives_accepted(run_dir, module_path, sanitize):
    root = os.path.join(run_dir, "longpoll-conf-ok")
    h = httpdconf.Httpd(root, sanitize=sanitize)
    h.write_conf(module_path, body="ActiveSync On\nActiveSyncMaildir /var/vmail/%d/%n/Maildir\n"
                                   "ActiveSyncMaildirFolders .Sent Drafts 'Deleted Items' Spam\n"
                                   "ActiveSyncProvisioning Loose\n"
                                   "ActiveSyncProvisioning449 Both\n"
                                   "ActiveSyncPingHeartbeat 120 1800\n")
    rc, out = h.check_syntax()
    assert rc == 0, out
