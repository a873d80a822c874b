"""Helpers of the mail end-to-end tests (test_mail_*.py, issue 4): a server
whose accounts have generated Maildirs, the mail commands as a device
sends them, a device model that applies Sync replies, the truth read from
the Maildir independently of the module, and a private Dovecot.

A mail server (start_mail_server) is the standard e2e httpd with its own
data directory and

    ActiveSyncMaildir  ROOT/mail/%d/%n/Maildir
    ActiveSyncProvisioning Off

Accounts (NAME@example.com, one password for all, {SHA} in their own
htpasswd file that mod_authn_file rereads per request) are added by the
tests while the server runs, each with its own Maildir made by the C
generator ($AS_TOOLS/mkmaildir) and owned by www-data, so tests of one
server never share a mailbox.

Item ids are computed here from the file names (the Maildir backend's
documented hash of the base name, as_maildir.h), so the set of ServerIds a
device received is compared with the directory listing, not with the
module's own view.
"""

import base64
import contextlib
import hashlib
import os
import pwd
import shutil
import signal
import socket
import subprocess
import threading
import time

from lxml import etree

import easclient
import httpdconf
from e2eharness import CRASH_RE, Server, admin, prepare_datadir, write_htpasswd, USERS

DOMAIN = "example.com"
PASSWORD = "Mail-Pw-4242"
WWW = pwd.getpwnam(httpdconf.RUN_USER)

BODY_PLAIN_5K = ("<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
                 "<airsyncbase:TruncationSize>5120</airsyncbase:TruncationSize>"
                 "</airsyncbase:BodyPreference></Options>")


# ---- ids (as_maildir.h: FNV-1a 64 + murmur3 finaliser, base32 [0-9a-v]) --------

M64 = (1 << 64) - 1


def _hash64(data, salt):
    h = 0xcbf29ce484222325 ^ ((salt * 0x9e3779b97f4a7c15) & M64)
    for b in data:
        h ^= b
        h = (h * 0x100000001b3) & M64
    h ^= h >> 33
    h = (h * 0xff51afd7ed558ccd) & M64
    h ^= h >> 33
    h = (h * 0xc4ceb9fe1a85ec53) & M64
    h ^= h >> 33
    return h


def _b32(h, n):
    digits = "0123456789abcdefghijklmnopqrstuv"
    out = []
    for _ in range(n):
        out.append(digits[h & 31])
        h >>= 5
    return "".join(reversed(out))


def item_id(filename):
    """The item id of a Maildir file name (base name before ':')."""
    return _b32(_hash64(filename.split(":", 1)[0].encode(), 0), 13)


def folder_id(storage):
    """The folder id of an on-disk folder name ("" INBOX, "Work.Projects")."""
    return _b32(_hash64(storage.encode(), 0x100), 8)


# ---- the Maildir, read independently -----------------------------------------------

def folder_dir(maildir, storage):
    return maildir if storage == "" else os.path.join(maildir, "." + storage)


def flags_of(name):
    info = name.split(":2,", 1)[1] if ":2," in name else ""
    return ("S" in info, "F" in info)


def truth(maildir, storage=""):
    """{item id: (read, flagged)} of a folder, from new/ and cur/."""
    d = folder_dir(maildir, storage)
    out = {}
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(d, sub)):
            if n.startswith("."):
                continue
            iid = item_id(n)
            assert iid not in out, "two files with id %s in %s" % (iid, d)
            out[iid] = flags_of(n)
    return out


def find_file(maildir, storage, iid):
    """(sub, name) of the file with this item id, or None."""
    d = folder_dir(maildir, storage)
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(d, sub)):
            if not n.startswith(".") and item_id(n) == iid:
                return sub, n
    return None


def files(maildir, storage=""):
    d = folder_dir(maildir, storage)
    return [(s, n) for s in ("new", "cur") for n in sorted(os.listdir(os.path.join(d, s)))
            if not n.startswith(".")]


_seq = [0]
_seq_lock = threading.Lock()


def unique_name():
    with _seq_lock:
        _seq[0] += 1
        n = _seq[0]
    return "%d.M%dP%dQ%d.e2e-test" % (int(time.time()), n, os.getpid(), n)


def make_message(subject, body="Hello from the e2e tests.\n", msgid=None):
    msgid = msgid or "%s@e2e.test" % unique_name()
    return ("From: Test Sender <sender@example.org>\r\nTo: someone@example.com\r\n"
            "Subject: %s\r\nDate: %s\r\nMessage-ID: <%s>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=utf-8\r\n\r\n%s" % (
                subject, time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime()), msgid,
                body)).encode()


def deliver(maildir, storage="", data=None, subject="Delivered by the test"):
    """Deliver like an MTA: write tmp/NAME, then rename into new/.  Returns
    the item id."""
    d = folder_dir(maildir, storage)
    name = unique_name()
    tmp = os.path.join(d, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(data or make_message(subject))
        f.flush()
        os.fsync(f.fileno())
    os.chown(tmp, WWW.pw_uid, WWW.pw_gid)
    os.rename(tmp, os.path.join(d, "new", name))
    return item_id(name)


def set_flags(maildir, storage, iid, flags, to_cur=True):
    """Rename the file of iid to cur/BASE:2,FLAGS (Dovecot style)."""
    sub, n = find_file(maildir, storage, iid)
    d = folder_dir(maildir, storage)
    base = n.split(":", 1)[0]
    dst = os.path.join(d, "cur" if to_cur else sub, base + ":2," + "".join(sorted(flags)))
    os.rename(os.path.join(d, sub, n), dst)


def remove(maildir, storage, iid):
    sub, n = find_file(maildir, storage, iid)
    os.unlink(os.path.join(folder_dir(maildir, storage), sub, n))


def chown_tree(path):
    for dirpath, dirs, fs in os.walk(path):
        os.chown(dirpath, WWW.pw_uid, WWW.pw_gid)
        for x in fs:
            os.chown(os.path.join(dirpath, x), WWW.pw_uid, WWW.pw_gid)


def mkmaildir_path():
    t = easclient.as_tools()
    p = os.path.join(t, "mkmaildir") if t else None
    assert p and os.access(p, os.X_OK), "mkmaildir is not built ($AS_TOOLS/mkmaildir)"
    return p


def generate(maildir, count=0, large=False):
    """A Maildir that looks like real mail (t/tools/mkmaildir), owned by www-data."""
    args = [mkmaildir_path(), maildir, str(count)] + (["--large"] if large else [])
    subprocess.run(args, check=True, capture_output=True)
    chown_tree(maildir)
    return maildir


# ---- the server ---------------------------------------------------------------------

def mail_body(root, port, pki, extra=""):
    htpasswd = os.path.join(root, "conf", "mail-htpasswd")
    if not os.path.exists(htpasswd):
        open(htpasswd, "w").close()
        os.chmod(htpasswd, 0o644)
    mail = os.path.join(root, "mail")
    os.makedirs(os.path.join(mail, DOMAIN), exist_ok=True)
    for d in (mail, os.path.join(mail, DOMAIN)):
        os.chmod(d, 0o755)
    return ("ActiveSync On\nActiveSyncDefaultDomain %s\n"
            'ActiveSyncDataDir "%s/data"\n'
            'ActiveSyncMaildir "%s/%%d/%%n/Maildir"\n'
            "ActiveSyncProvisioning Off\n"
            "Timeout 300\n%s\n" % (DOMAIN, root, mail, extra)
            + httpdconf.activesync_location(htpasswd))


class MailServer(Server):
    """A mail e2e server: Server plus accounts with Maildirs."""

    def setup_mail(self):
        self.htpasswd = os.path.join(self.root, "conf", "mail-htpasswd")
        self.mail = os.path.join(self.root, "mail")
        self._users = set()
        self._lock = threading.Lock()
        self.killed = set()

    def add_account(self, name, count=0, large=False, maildir=True):
        """NAME@example.com with a generated Maildir (count extra plain
        messages in INBOX); returns the address."""
        addr = "%s@%s" % (name, DOMAIN)
        sha = "{SHA}" + base64.b64encode(hashlib.sha1(PASSWORD.encode()).digest()).decode()
        with self._lock:
            assert addr not in self._users, addr
            self._users.add(addr)
            with open(self.htpasswd, "a") as f:
                f.write("%s:%s\n" % (addr, sha))
        home = os.path.join(self.mail, DOMAIN, name)
        os.makedirs(home, exist_ok=True)
        os.chown(home, WWW.pw_uid, WWW.pw_gid)
        os.chmod(home, 0o755)
        if maildir:
            generate(self.maildir(addr), count, large)
        return addr

    def maildir(self, addr):
        local, dom = addr.split("@")
        return os.path.join(self.mail, dom, local, "Maildir")

    def device(self, addr, device_id=None, version="14.1"):
        dev = device_id or ("DEV" + hashlib.sha1(addr.encode()).hexdigest()[:12].upper())
        return Device(self, addr, dev, version)


def start_mail_server(run_dir, name, module_path, mpm, sanitize, pki, extra="",
                      loglevel="warn activesync:info"):
    root = os.path.join(run_dir, "%s-%s" % (name, mpm))
    srv = MailServer(root, sanitize=sanitize)
    srv.setup_mail()
    write_htpasswd(os.path.join(root, "conf", "htpasswd"), USERS)
    srv.datadir = prepare_datadir(os.path.join(root, "data"))
    srv.write_conf(module_path, mpm=mpm, body=mail_body(root, srv.port, pki, extra),
                   loglevel=loglevel)
    rc, out = srv.check_syntax()
    assert rc == 0, "configuration refused:\n%s" % out
    srv.start()
    srv.mpm = mpm
    return srv


def stop_and_check(srv, allow_503=False):
    """Stop srv; the problems of check_clean_shutdown (a 503 with
    Retry-After is allowed after a kill -9, while a child's database
    environment is recovered)."""
    from e2eharness import check_clean_shutdown
    srv.stop()
    problems = check_clean_shutdown(srv)
    if allow_503:
        problems = [p for p in problems if not (p.startswith("access_log:") and '" 503 ' in p)]
    return problems


@contextlib.contextmanager
def running_mail_server(run_dir, name, module_path, sanitize, pki, extra="",
                        mpm=httpdconf.MPMS[0]):
    """start_mail_server for a with-block: the server is stopped at its end,
    also on failure, and must have stopped clean (stop_and_check)."""
    srv = start_mail_server(run_dir, name, module_path, mpm, sanitize, pki, extra=extra)
    try:
        yield srv
    finally:
        problems = stop_and_check(srv)
    assert not problems, "server %s was not clean:\n%s" % (name, "\n".join(problems))


# ---- replies ------------------------------------------------------------------------

def ln(el):
    return etree.QName(el).localname


def kids(el, name=None):
    return [c for c in el if isinstance(c.tag, str) and (name is None or ln(c) == name)]


def kid(el, name):
    k = kids(el, name)
    return k[0] if k else None


def text(el, name, default=None):
    k = kid(el, name) if el is not None else None
    return (k.text or "") if k is not None else default


def path(el, *names):
    for n in names:
        if el is None:
            return None
        el = kid(el, n)
    return el


class Reply:
    """An HTTP reply: status, raw body, the decoded (validated) document."""

    def __init__(self, resp):
        self.resp = resp
        self.status = resp.status
        self.body = resp.body
        self.doc = None
        if resp.status == 200 and resp.body:
            self.doc = easclient.decode_reply(resp.body)

    def __repr__(self):
        return "<Reply %d %s>" % (self.status, etree.tostring(self.doc)[:2000]
                                  if self.doc is not None else repr(self.body[:200]))


# ---- the device ---------------------------------------------------------------------

NS = ('xmlns="%s" xmlns:airsync="AirSync:" xmlns:airsyncbase="AirSyncBase:" '
      'xmlns:email="Email:"')


class SyncError(AssertionError):
    pass


class LongClient(easclient.EasClient):
    """EasClient whose HTTP timeout is settable (a parked Ping lasts longer
    than easclient's 30 s)."""

    http_timeout = 150

    def request(self, method, query=None, body=None, headers=None, chunked=False,
                chunk_size=4096, path=None):
        import http.client as hc
        url = (path or self.path) + ("?" + query if query else "")
        h = {"Host": self.host, "User-Agent": "mod_activesync-e2e/1.0",
             "Authorization": self.auth_header()}
        h.update(headers or {})
        h = {k: v for k, v in h.items() if v is not None}
        conn = hc.HTTPConnection("127.0.0.1", self.port, timeout=self.http_timeout)
        try:
            conn.request(method, url, body=body, headers=h)
            r = conn.getresponse()
            return easclient.Response(r.status, r.reason, r.headers, r.read())
        finally:
            conn.close()


class Device:
    """One (account, device) with the state a phone keeps: the hierarchy
    key and folders, per collection the sync key and the items it holds
    ({item id: (read, flagged)})."""

    def __init__(self, srv, addr, device_id, version="14.1"):
        self.srv = srv
        self.addr = addr
        self.device_id = device_id
        self.client = LongClient(srv.port, user=addr, password=PASSWORD,
                                          device_id=device_id, device_type="E2EPhone",
                                          version=version)
        self.hier_key = "0"
        self.folders = {}  # id -> (parent, name, type)
        self.gone_with_parent = set()
        self.keys = {}
        self.items = {}
        self.counts = {}

    # -- transport
    def post(self, cmd, xml, retry_503=True, timeout_s=120):
        deadline = time.monotonic() + timeout_s
        while True:
            r = self.client.post(cmd, xml=xml) if xml is not None else self.client.post(cmd)
            if r.status == 503 and retry_503 and time.monotonic() < deadline:
                time.sleep(min(5, int(r.header("Retry-After") or 1)))
                continue
            return Reply(r)

    # -- FolderSync
    def foldersync(self, key=None):
        key = self.hier_key if key is None else key
        r = self.post("FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>%s</SyncKey>'
                      '</FolderSync>' % key)
        assert r.status == 200 and r.doc is not None, r
        st = text(r.doc, "Status")
        delta = {"add": [], "update": [], "delete": [], "status": st}
        if st != "1":
            return delta
        self.hier_key = text(r.doc, "SyncKey")
        ch = kid(r.doc, "Changes")
        for c in kids(ch) if ch is not None else []:
            if ln(c) == "Count":
                continue
            sid = text(c, "ServerId")
            if ln(c) == "Delete":
                if sid in self.gone_with_parent:
                    delta["delete"].append(sid)
                    continue
                assert sid in self.folders, ("Delete of unknown folder", sid)
                # a folder's subfolders go with it (a server may or may not
                # list them too)
                gone, grew = {sid}, True
                while grew:
                    kids_ = {f for f, e in self.folders.items() if e[0] in gone} - gone
                    grew = bool(kids_)
                    gone |= kids_
                for f in gone:
                    del self.folders[f]
                self.gone_with_parent |= gone - {sid}
                delta["delete"].append(sid)
                continue
            ent = (text(c, "ParentId"), text(c, "DisplayName"), int(text(c, "Type")))
            if ln(c) == "Add":
                assert sid not in self.folders, ("duplicate folder Add", sid)
                delta["add"].append((sid,) + ent)
            else:
                assert sid in self.folders, ("Update of unknown folder", sid)
                delta["update"].append((sid,) + ent)
            self.folders[sid] = ent
        return delta

    def folder_by_name(self, name):
        for fid, (_, n, _) in self.folders.items():
            if n == name:
                return fid
        raise KeyError(name)

    def folder_by_type(self, typ):
        return [fid for fid, (_, _, t) in self.folders.items() if t == typ]

    # -- Sync
    def sync_xml(self, fid, key, window=None, options=None, commands=None, get_changes=None,
                 deletes_as_moves=None, wait=None):
        parts = ["<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>" % (key, fid)]
        if deletes_as_moves is not None:
            parts.append("<DeletesAsMoves>%d</DeletesAsMoves>" % deletes_as_moves)
        if get_changes is not None:
            parts.append("<GetChanges>%d</GetChanges>" % get_changes)
        if window:
            parts.append("<WindowSize>%d</WindowSize>" % window)
        if options:
            parts.append(options)
        if commands:
            parts.append("<Commands>%s</Commands>" % commands)
        w = "<Wait>%d</Wait>" % wait if wait is not None else ""
        return ("<Sync %s><Collections><Collection>%s</Collection></Collections>%s</Sync>"
                % (NS % "AirSync:", "".join(parts), w))

    def sync_raw(self, fid, key=None, **kw):
        key = self.keys.get(fid, "0") if key is None else key
        return self.post("Sync", self.sync_xml(fid, key, **kw))

    def collection(self, r, fid):
        assert r.status == 200, r
        if r.doc is None:
            return None
        top = text(r.doc, "Status")
        if top is not None and top != "1":
            raise SyncError("Sync Status %s: %r" % (top, r))
        for c in r.doc.iter():
            if isinstance(c.tag, str) and ln(c) == "Collection" and text(c, "CollectionId") == fid:
                return c
        raise SyncError("no collection %s in %r" % (fid, r))

    def apply(self, r, fid):
        """Apply a Sync reply to the model; returns (more, collection)."""
        c = self.collection(r, fid)
        if c is None:  # empty reply: nothing changed, key unchanged
            return False, None
        st = text(c, "Status")
        if st != "1":
            raise SyncError("collection %s Status %s: %r" % (fid, st, r))
        self.keys[fid] = text(c, "SyncKey")
        have = self.items.setdefault(fid, {})
        cnt = self.counts.setdefault(fid, {"Add": 0, "Change": 0, "Delete": 0,
                                           "SoftDelete": 0})
        cmds = kid(c, "Commands")
        for cmd in kids(cmds) if cmds is not None else []:
            sid = text(cmd, "ServerId")
            f, iid = sid.split(":")
            assert f == fid, sid
            kind = ln(cmd)
            cnt[kind] = cnt.get(kind, 0) + 1
            if kind == "Add":
                assert iid not in have, "duplicate Add of %s" % sid
                have[iid] = appdata_flags(kid(cmd, "ApplicationData"))
            elif kind == "Change":
                assert iid in have, "Change of unknown %s" % sid
                old = have[iid]
                new = appdata_flags(kid(cmd, "ApplicationData"), old)
                have[iid] = new
            elif kind in ("Delete", "SoftDelete"):
                assert iid in have, "%s of unknown %s" % (kind, sid)
                del have[iid]
            else:
                raise AssertionError("unexpected command %s" % kind)
        return kid(c, "MoreAvailable") is not None, c

    def sync(self, fid, **kw):
        r = self.sync_raw(fid, **kw)
        more, c = self.apply(r, fid)
        return r, more, c

    def initial_sync(self, fid, window=100, options=BODY_PLAIN_5K, between=None, max_pages=10000):
        """Key 0, then pages until MoreAvailable is gone; returns pages."""
        self.keys[fid] = "0"
        self.items[fid] = {}
        r = self.sync_raw(fid, key="0")
        c = self.collection(r, fid)
        assert text(c, "Status") == "1", r
        assert kid(c, "Commands") is None, r
        self.keys[fid] = text(c, "SyncKey")
        return self.sync_until_done(fid, window, options, between, max_pages)

    def sync_until_done(self, fid, window=100, options=BODY_PLAIN_5K, between=None,
                        max_pages=10000):
        pages, more = 0, True
        while more:
            if between:
                between(pages)
            r = self.sync_raw(fid, window=window, options=options)
            more, c = self.apply(r, fid)
            if c is not None:
                cmds = kid(c, "Commands")
                assert cmds is None or len(kids(cmds)) <= window, len(kids(cmds))
            pages += 1
            assert pages < max_pages
        return pages

    def check_against(self, maildir, fid, storage=""):
        """The model equals the Maildir (ids and read/flag state)."""
        want = truth(maildir, storage)
        have = self.items.get(fid, {})
        missing = set(want) - set(have)
        extra = set(have) - set(want)
        assert not missing and not extra, "device vs Maildir: missing %d %s, extra %d %s" % (
            len(missing), sorted(missing)[:5], len(extra), sorted(extra)[:5])
        wrong = {i: (have[i], want[i]) for i in want if have[i] != want[i]}
        assert not wrong, "flags differ (device, Maildir): %s" % dict(list(wrong.items())[:5])

    # -- Ping
    def ping_xml(self, heartbeat, fids):
        fs = "".join("<Folder><Id>%s</Id><Class>Email</Class></Folder>" % f for f in fids)
        return ('<Ping xmlns="Ping:"><HeartbeatInterval>%d</HeartbeatInterval><Folders>%s'
                '</Folders></Ping>' % (heartbeat, fs))

    def ping(self, heartbeat, fids):
        r = self.post("Ping", self.ping_xml(heartbeat, fids))
        assert r.status == 200 and r.doc is not None, r
        fl = kid(r.doc, "Folders")
        return text(r.doc, "Status"), [f.text for f in kids(fl)] if fl is not None else []

    def claim_file(self):
        """The claim file of this (account, device) (as_watch.h)."""
        h = hashlib.sha256(("%s\n%s" % (self.addr, self.device_id)).encode()).hexdigest()[:32]
        return os.path.join(claim_dir(self.srv.datadir), h)

    def claim_value(self):
        try:
            with open(self.claim_file(), "rb") as f:
                return f.read()
        except OSError:
            return None


def claim_dir(datadir):
    """Where the server keeps the push claims of datadir (as_watch.h,
    SUPERSEDE): /dev/shm/mod_activesync-<d>/push, else DATADIR/push."""
    real = os.path.realpath(datadir)
    d = hashlib.sha256(real.encode()).hexdigest()[:16]
    shm = os.path.join("/dev/shm", "mod_activesync-" + d, "push")
    return shm if os.path.isdir(shm) or os.path.isdir("/dev/shm") else os.path.join(real, "push")


def appdata_flags(app, old=(False, False)):
    read, flag = old
    if app is None:
        return old
    r = kid(app, "Read")
    if r is not None:
        read = (r.text or "").strip() == "1"
    f = kid(app, "Flag")
    if f is not None:
        # libwbxml (whose decoding the tests read) says FlagStatus
        flag = (text(f, "Status") or text(f, "FlagStatus")) == "2"
    return (read, flag)


def wait_until(pred, timeout=30, step=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


class Background:
    """Run fn() in a thread; result()/exception after join."""

    def __init__(self, fn):
        self.value = None
        self.error = None
        self.started = time.monotonic()
        self.ended = None
        self.t = threading.Thread(target=self._run, args=(fn,), daemon=True)
        self.t.start()

    def _run(self, fn):
        try:
            self.value = fn()
        except BaseException as e:  # noqa: B902 - reported by result()
            self.error = e
        self.ended = time.monotonic()

    def done(self):
        return not self.t.is_alive()

    def result(self, timeout):
        self.t.join(timeout)
        assert not self.t.is_alive(), "request still running after %ss" % timeout
        if self.error:
            raise self.error
        return self.value

    def elapsed(self):
        return (self.ended or time.monotonic()) - self.started


# ---- Dovecot ------------------------------------------------------------------------

DOVECOT = "/usr/sbin/dovecot"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Dovecot:
    """A private Dovecot (imap only) on 127.0.0.1 serving one account whose
    Maildir is `maildir`, running as www-data like the module."""

    def __init__(self, base, user, password, maildir):
        self.base = base
        self.user = user
        self.password = password
        self.port = free_port()
        os.makedirs(base, exist_ok=True)
        os.chmod(base, 0o755)
        self.conf = os.path.join(base, "dovecot.conf")
        passwd = os.path.join(base, "passwd")
        with open(passwd, "w") as f:
            f.write("%s:{PLAIN}%s:%d:%d::%s::\n" % (user, password, WWW.pw_uid, WWW.pw_gid,
                                                   os.path.dirname(maildir)))
        os.chmod(passwd, 0o644)
        self.log = os.path.join(base, "dovecot.log")
        with open(self.conf, "w") as f:
            f.write(f"""\
base_dir = {base}/run
state_dir = {base}/state
instance_name = e2e-{os.getpid()}-{self.port}
protocols = imap
listen = 127.0.0.1
log_path = {self.log}
info_log_path = {self.log}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{maildir}
mail_fsync = always
maildir_very_dirty_syncs = no
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {passwd}
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {passwd}
}}
namespace inbox {{
  inbox = yes
  separator = .
  mailbox Trash {{
    special_use = \\Trash
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service submission-login {{
  inet_listener submission {{
    port = 0
  }}
}}
service lmtp {{
  unix_listener lmtp {{
    mode = 0600
  }}
}}
""")
        self.pid = None

    def start(self, timeout=20):
        # The daemon keeps its stdout/stderr: a file, never a pipe we would
        # wait on for ever.
        out = os.path.join(self.base, "dovecot.start")
        with open(out, "wb") as f:
            p = subprocess.run([DOVECOT, "-c", self.conf], stdin=subprocess.DEVNULL, stdout=f,
                               stderr=subprocess.STDOUT, timeout=30)
        with open(out, "rb") as f:
            msg = f.read().decode("utf-8", "replace")
        assert p.returncode == 0, "dovecot did not start: %s" % msg
        pidfile = os.path.join(self.base, "run", "master.pid")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                with open(pidfile) as f:
                    self.pid = int(f.read().strip())
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return
            except (OSError, ValueError):
                time.sleep(0.05)
        raise AssertionError("dovecot did not listen on %d: %s" % (self.port, self.tail()))

    def tail(self):
        try:
            with open(self.log) as f:
                return f.read()[-3000:]
        except OSError:
            return "(no log)"

    def stop(self, timeout=20):
        if not self.pid:
            return
        try:
            os.kill(self.pid, signal.SIGTERM)
        except ProcessLookupError:
            self.pid = None
            return
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                break
            time.sleep(0.05)
        else:
            os.kill(self.pid, signal.SIGKILL)
        self.pid = None

    def imap(self):
        import imaplib
        m = imaplib.IMAP4("127.0.0.1", self.port, timeout=30)
        m.login(self.user, self.password)
        return m


def dovecot_available():
    return os.access(DOVECOT, os.X_OK)


def server_rss_kb(srv):
    """Sum of VmRSS over the parent and all children of srv (kB)."""
    total = 0
    for pid in [srv.pid()] + srv.children():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        total += int(line.split()[1])
        except (OSError, TypeError):
            pass
    return total


__all__ = ["CRASH_RE", "admin", "shutil", "mail_server"]


# ---- the fixture (imported by the test modules) ------------------------------------------

import pytest  # noqa: E402


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def mail_server(request, run_dir, module_path, sanitize, pki):
    """One mail server per test module and MPM.  The module may set
    SERVER_EXTRA (configuration lines), ALLOW_503 (kill -9 tests)."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    srv = start_mail_server(run_dir, name, module_path, request.param, sanitize, pki,
                            extra=getattr(request.module, "SERVER_EXTRA", ""))
    yield srv
    problems = stop_and_check(srv, allow_503=getattr(request.module, "ALLOW_503", False))
    assert not problems, "server %s (%s) was not clean:\n%s" % (
        name, request.param, "\n".join(problems))
