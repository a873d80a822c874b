"""Shared by the PIM e2e tests (contacts, notes, calendar, tasks): a server
whose collections are in Radicale's layout, a phone syncing one collection,
files written as another program would, and a real Radicale on the same
storage."""

import base64
import glob
import os
import socket
import subprocess
import time
import urllib.error
import urllib.request

from mailutil import (NS, WWW, kid, kids, ln, start_mail_server, stop_and_check,  # noqa: F401
                      text)

PY = "/usr/bin/python3"
CONTACTS_NS = 'xmlns:c="Contacts:"'


def pim_server(request, run_dir, module_path, sanitize, pki, extra=""):
    """The body of a module fixture (yield from it): httpd with
    ActiveSyncCollections on a fresh storage (and extra configuration
    lines), checked clean at the end."""
    name = request.module.__name__.rsplit(".", 1)[-1]
    root = os.path.join(run_dir, "%s-%s" % (name, request.param))
    storage = os.path.join(root, "storage")
    for d in (root, storage, os.path.join(storage, "collection-root")):
        os.makedirs(d, exist_ok=True)
        os.chown(d, WWW.pw_uid, WWW.pw_gid)
    srv = start_mail_server(run_dir, name, module_path, request.param, sanitize, pki,
                            extra='ActiveSyncCollections "%s/collection-root/%%u"\n%s' % (storage,
                                                                                       extra))
    srv.storage = storage
    yield srv
    problems = stop_and_check(srv)
    assert not problems, "server not clean:\n%s" % "\n".join(problems)


def book_dir(srv, addr, name="contacts"):
    return os.path.join(srv.storage, "collection-root", addr, name)


def write_file(path, data):
    """Another program writes a file (atomically, as Radicale does)."""
    tmp = os.path.join(os.path.dirname(path), ".tmp-%d" % os.getpid())
    with open(tmp, "w", newline="") as f:
        f.write(data)
    os.chown(tmp, WWW.pw_uid, WWW.pw_gid)
    os.rename(tmp, path)


def vcard(uid, first, last, extra=""):
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s %s\r\nN:%s;%s;;;\r\n%sEND:VCARD\r\n"
            % (uid, first, last, last, first, extra))


def files_with(folder, needle, pattern="*.vcf"):
    out = []
    for p in glob.glob(os.path.join(folder, pattern)):
        with open(p, encoding="utf-8", errors="replace") as f:
            if needle in f.read():
                out.append(p)
    return out


class Phone:
    """A device syncing one collection: {item id: {field: value}}."""

    def __init__(self, dev, fid):
        self.dev, self.fid = dev, fid
        self.key = "0"
        self.options = None  # Options sent with every Sync (e.g. a FilterType)
        self.items = {}
        self.apps = {}  # item id: the ApplicationData element (nested fields)
        self.last = None

    def sync(self, commands=None, window=None, key=None, ns=CONTACTS_NS):
        parts = ["<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>"
                 % (self.key if key is None else key, self.fid)]
        if window:
            parts.append("<WindowSize>%d</WindowSize>" % window)
        if self.options:
            parts.append("<Options>%s</Options>" % self.options)
        if commands:
            parts.append("<Commands>%s</Commands>" % commands)
        xml = ("<Sync %s %s><Collections><Collection>%s</Collection></Collections></Sync>"
               % (NS % "AirSync:", ns, "".join(parts)))
        r = self.dev.post("Sync", xml)
        assert r.status == 200, r
        self.last = r
        if r.doc is None:
            return None
        c = [e for e in r.doc.iter() if isinstance(e.tag, str) and ln(e) == "Collection"][0]
        assert text(c, "Status") == "1", r
        self.key = text(c, "SyncKey")
        cmds = kid(c, "Commands")
        for cmd in kids(cmds) if cmds is not None else []:
            iid = text(cmd, "ServerId").split(":")[1]
            if ln(cmd) == "Add":
                assert iid not in self.items, "duplicate Add %s" % iid
            elif ln(cmd) == "Change":
                assert iid in self.items, "Change of unknown %s" % iid
            if ln(cmd) in ("Add", "Change"):
                app = kid(cmd, "ApplicationData")
                assert app is not None and len(kids(app)) > 0, r
                self.items[iid] = {ln(e): e.text for e in kids(app)}
                self.apps[iid] = app
            else:
                assert iid in self.items, "%s of unknown %s" % (ln(cmd), iid)
                del self.items[iid]
                self.apps.pop(iid, None)
        return c

    def until_done(self, window=100):
        n = 0
        while True:
            c = self.sync(window=window)
            n += 1
            if c is None or kid(c, "MoreAvailable") is None:
                return n
            assert n < 100


def response(c, kind):
    resp = kid(c, "Responses")
    return kids(resp, kind) if resp is not None else []


def setup_phone(srv, name, typ=9):
    addr = srv.add_account(name)
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    fids = dev.folder_by_type(typ)
    assert len(fids) == 1, dev.folders
    return addr, dev, Phone(dev, fids[0])


def radicale_available():
    return subprocess.run([PY, "-c", "import radicale"], capture_output=True).returncode == 0


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_listening(proc, port, seconds=30):
    """Wait until proc (a server started by a test) listens on 127.0.0.1:port."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            assert proc.poll() is None, "the server exited at start"
            time.sleep(0.1)
    raise AssertionError("the server did not listen within %d s" % seconds)


def stop_process(proc):
    """Stop a server started by a test: SIGTERM, then SIGKILL after 20 s."""
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class Radicale:
    """Radicale as httpd's user on the storage, htpasswd authentication."""

    def __init__(self, storage, user, password):
        self.user, self.password = user, password
        self.storage = storage
        self.port = free_port()
        self.htpasswd = os.path.join(storage, "..", "radicale-users")
        with open(self.htpasswd, "w") as f:
            f.write("%s:%s\n" % (user, password))
        os.chmod(self.htpasswd, 0o644)
        self.log = open(os.path.join(storage, "..", "radicale-%d.log" % self.port), "wb")

        def drop():
            os.setgid(WWW.pw_gid)
            os.setuid(WWW.pw_uid)
        self.proc = subprocess.Popen(
            [PY, "-m", "radicale", "--server-hosts", "127.0.0.1:%d" % self.port,
             "--storage-filesystem-folder", storage, "--auth-type", "htpasswd",
             "--auth-htpasswd-filename", self.htpasswd, "--auth-htpasswd-encryption", "plain",
             "--rights-type", "owner_only", "--logging-level", "info"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            preexec_fn=drop, cwd="/")
        wait_listening(self.proc, self.port)

    def stop(self):
        stop_process(self.proc)
        self.log.close()

    def request(self, method, path, body=None, headers=None):
        cred = base64.b64encode(("%s:%s" % (self.user, self.password)).encode()).decode()
        h = {"Authorization": "Basic " + cred}
        h.update(headers or {})
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     data=body.encode() if isinstance(body, str) else body,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.read().decode()

    def verify(self):
        p = subprocess.run([PY, "-m", "radicale", "--storage-filesystem-folder", self.storage,
                            "--verify-storage"], capture_output=True, text=True, timeout=120)
        out = p.stdout + p.stderr
        assert p.returncode == 0 and "ERROR" not in out and "CRITICAL" not in out, out

