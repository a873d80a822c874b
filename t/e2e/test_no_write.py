"""A request that changes nothing writes nothing (issue 10).

The server runs under strace (-f -y: every syscall of every process and
thread, with the path of each fd).  After a warm-up that leaves the device
in its steady state (FolderSync, the Inbox synced to a steady key, Settings
once, the Ping folder set registered), a marker request opens a file in the
document root; after it come the requests that change nothing: a Sync with
the current key, a Ping that times out, a FolderSync with the current key,
a GetItemEstimate and the same Settings again; then a second marker.  In
between, the trace must show no fsync/fdatasync, no pwrite64/pwritev, no
rename and no write to a file under the data directory (writes to sockets,
pipes and the logs are fine).  Then a Sync that gets a new key (a delivered
message) must still write and sync the database: durable changes stay
durable.  The trace is read after the server stopped (strace flushes at
exit), and strace writes events in the order it sees them, so everything
between the two marker opens happened between the two marker requests."""

import os
import re
import shutil
import subprocess
import time
import uuid

import pytest

import httpdconf
from e2eharness import prepare_datadir, write_htpasswd, USERS
from mailutil import MailServer, deliver, folder_id, ln, mail_body, stop_and_check, text

INBOX = folder_id("")
HEARTBEAT = 2
TRACED = "fsync,fdatasync,pwrite64,pwritev,write,rename,renameat,renameat2,openat"
SETTINGS = ('<Settings xmlns="Settings:"><DeviceInformation><Set><Model>NoWrite 1</Model>'
            '<FriendlyName>Quiet phone</FriendlyName><OS>TestOS 1</OS></Set>'
            '</DeviceInformation></Settings>')

pytestmark = pytest.mark.skipif(shutil.which("strace") is None, reason="strace not installed")


class TracedServer(MailServer):
    """A MailServer whose httpd runs in the foreground under strace."""

    def start(self, timeout=20):
        self.trace = os.path.join(self.root, "strace.out")
        cmd = ["strace", "-f", "-y", "-qq", "-e", "trace=" + TRACED, "-o", self.trace,
               httpdconf.APACHE2, "-d", self.root, "-f", self.conf, "-DFOREGROUND"]
        self.strace = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                       stderr=subprocess.DEVNULL, env=self._env())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() and self._port_open():
                return self.pid()
            assert self.strace.poll() is None, self.tail_error_log()
            time.sleep(0.05)
        raise AssertionError("httpd under strace did not start\n%s" % self.tail_error_log())

    def stop(self, timeout=20):
        super().stop(timeout)
        if getattr(self, "strace", None) is not None:
            self.strace.wait(timeout=timeout)


def start_traced(run_dir, module_path, sanitize, pki):
    root = os.path.join(run_dir, "no-write-event")
    srv = TracedServer(root, sanitize=sanitize)
    srv.setup_mail()
    write_htpasswd(os.path.join(root, "conf", "htpasswd"), USERS)
    srv.datadir = prepare_datadir(os.path.join(root, "data"))
    extra = "ActiveSyncPingHeartbeat %d 600\n" % HEARTBEAT
    srv.write_conf(module_path, mpm="event", body=mail_body(root, srv.port, pki, extra))
    rc, out = srv.check_syntax()
    assert rc == 0, out
    srv.start()
    srv.mpm = "event"
    return srv


def marker(srv, name):
    """GET a file of the document root: its openat() marks the trace."""
    path = os.path.join(srv.root, "htdocs", name)
    with open(path, "w") as f:
        f.write("mark\n")
    os.chmod(path, 0o644)
    r = srv.client(user=None).request("GET", path="/" + name)
    assert r.status == 200, r
    return path


SYSCALL = re.compile(r"^(?:\[pid\s+\d+\]\s+|\d+\s+)?(\w+)\((.*)$")


def between(trace, first, second):
    """The syscall lines of the trace between the opens of the two markers
    (an interrupted call is completed by its '<... resumed>' line)."""
    out, inside = [], False
    with open(trace, errors="replace") as f:
        for ln in f:
            if first in ln and "openat" in ln:
                inside = True
                continue
            if second in ln and "openat" in ln:
                break
            if inside:
                out.append(ln.rstrip("\n"))
    assert inside, "marker %s not in the trace" % first
    return out


def offending(lines, datadir):
    """The lines that wrote durably or touched the data directory."""
    bad = []
    for ln in lines:
        m = SYSCALL.match(ln)
        if not m:
            continue
        call, args = m.groups()
        if call in ("fsync", "fdatasync", "pwrite64", "pwritev", "rename", "renameat",
                    "renameat2"):
            bad.append(ln)
        elif call == "write" and datadir in args.split(",", 1)[0]:
            bad.append(ln)
        elif call == "openat" and datadir in args and "O_TRUNC" in args:
            bad.append(ln)
    return bad


def settle(maildir):
    """Date the Maildir's (or the collections') directories a minute back: folder tokens taken
    within two seconds of a change are "unsettled" (as_store.h) and the
    first request after they settle records the settled token once, which
    is a change of state; the test's warm-up must end in the steady state."""
    past = time.time() - 60
    for root, dirs, files in os.walk(maildir):
        for d in dirs:
            os.utime(os.path.join(root, d), (past, past))
        for f in files:
            if f.startswith(".Radicale.props"):  # a collection's token includes it
                os.utime(os.path.join(root, f), (past, past))
    os.utime(maildir, (past, past))


def settings(dev):
    r = dev.post("Settings", SETTINGS)
    assert r.status == 200 and text(r.doc, "Status") == "1", r


def get_item_estimate(dev):
    r = dev.post("GetItemEstimate",
                 '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:">'
                 '<Collections><Collection><airsync:SyncKey>%s</airsync:SyncKey>'
                 '<CollectionId>%s</CollectionId></Collection></Collections>'
                 '</GetItemEstimate>' % (dev.keys[INBOX], INBOX))
    assert r.status == 200 and r.doc is not None, r
    est = [e.text for e in r.doc.iter() if isinstance(e.tag, str) and ln(e) == "Estimate"]
    assert est == ["0"], r


def test_no_change_requests_write_nothing(run_dir, module_path, sanitize, pki):
    srv = start_traced(run_dir, module_path, sanitize, pki)
    try:
        addr = srv.add_account("quiet", count=3)
        settle(srv.maildir(addr))
        dev = srv.device(addr)
        # warm-up: hierarchy, Inbox to a steady key, Settings, Ping registration
        assert dev.foldersync("0")["status"] == "1"
        # the first FolderSync made the default collections (contacts, notes):
        # settle them too, and let one FolderSync record the settled token
        settle(os.path.join(srv.datadir, "collections", addr))
        assert dev.foldersync()["status"] == "1"
        dev.initial_sync(INBOX, window=50)
        key = dev.keys[INBOX]
        r, _, c = dev.sync(INBOX)
        assert c is None and dev.keys[INBOX] == key, r
        settings(dev)
        assert dev.ping(HEARTBEAT, [INBOX]) == ("1", [])
        get_item_estimate(dev)
        hier = dev.hier_key

        def sync():
            r, _, c = dev.sync(INBOX)
            assert c is None and dev.keys[INBOX] == key, r

        def foldersync():
            delta = dev.foldersync()
            assert delta["status"] == "1" and dev.hier_key == hier, delta
            assert not (delta["add"] or delta["update"] or delta["delete"]), delta

        steps = (("Sync", sync), ("Ping", lambda: dev.ping(HEARTBEAT, [INBOX]) == ("1", [])),
                 ("FolderSync", foldersync), ("GetItemEstimate", lambda: get_item_estimate(dev)),
                 ("Settings", lambda: settings(dev)))
        tags = []
        for name, step in steps:
            tags.append((name, uuid.uuid4().hex))
            marker(srv, "begin-%s.txt" % tags[-1][1])
            step()
        tags.append(("end", uuid.uuid4().hex))
        marker(srv, "begin-%s.txt" % tags[-1][1])

        # A durable change: a delivered message gives a new sync key.
        tag2 = uuid.uuid4().hex
        marker(srv, "begin-%s.txt" % tag2)
        deliver(srv.maildir(addr), "", subject="a change")
        r, _, c = dev.sync(INBOX)
        assert c is not None and dev.keys[INBOX] != key, r
        marker(srv, "end-%s.txt" % tag2)
    finally:
        srv.stop()
    bad = []
    for (name, tag), (_, nxt) in zip(tags, tags[1:]):
        quiet = between(srv.trace, "begin-%s.txt" % tag, "begin-%s.txt" % nxt)
        assert quiet, "nothing traced for %s" % name
        bad += ["%s: %s" % (name, ln) for ln in offending(quiet, srv.datadir)]
    assert not bad, "requests that change nothing wrote:\n" + "\n".join(bad[:40])
    changed = between(srv.trace, "begin-%s.txt" % tag2, "end-%s.txt" % tag2)
    syncs = [ln for ln in changed if SYSCALL.match(ln) and
             SYSCALL.match(ln).group(1) in ("fsync", "fdatasync")]
    writes = [ln for ln in offending(changed, srv.datadir) if "pwrite" in ln or "write(" in ln]
    assert syncs and writes, "a new sync key was not written durably:\n" + "\n".join(changed[:80])
    assert not stop_and_check(srv)
