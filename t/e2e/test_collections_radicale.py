"""The collection store and a real Radicale on the same folder: Debian's
python3-radicale serves the storage over CardDAV on 127.0.0.1 (no
authentication, stopped by its pid) while t/tools/collstore_tool works on
the account's collections through our store (as_collections.h).

- a vCard PUT over CardDAV is seen by our store, with Radicale's ETag;
- an item written through our store is served by Radicale (GET, PROPFIND);
- a change on each side reaches the other, ids stay, ETag conflicts;
- collections created, renamed and deleted through our store (address
  books and calendars) are what Radicale serves, and MKCOL shows here;
- our writes wait for Radicale's storage lock;
- `radicale --verify-storage` is clean after each test.
"""

import base64
import os
import shutil
import subprocess
import tempfile
import urllib.error
import urllib.request

import pytest

from pimkit import free_port, stop_process, wait_listening

USER = "jo"
PY = "/usr/bin/python3"


def _radicale_available():
    return subprocess.run([PY, "-c", "import radicale"], capture_output=True).returncode == 0


pytestmark = pytest.mark.skipif(not _radicale_available(),
                                reason="python3-radicale is not installed")


def _tool():
    t = os.path.join(os.environ.get("AS_TOOLS") or "", "collstore_tool")
    if not os.access(t, os.X_OK):
        pytest.skip("collstore_tool is not built ($AS_TOOLS/collstore_tool)")
    return t


class Radicale:
    def __init__(self, storage):
        self.storage = storage
        self.port = free_port()
        self.log = open(os.path.join(storage, "..", "radicale.log"), "wb")
        self.proc = subprocess.Popen(
            [PY, "-m", "radicale", "--server-hosts", "127.0.0.1:%d" % self.port,
             "--storage-filesystem-folder", storage, "--auth-type", "none",
             "--rights-type", "owner_only", "--logging-level", "info"],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        wait_listening(self.proc, self.port)

    def stop(self):
        stop_process(self.proc)
        self.log.close()

    def request(self, method, path, body=None, headers=None):
        h = {"Authorization": "Basic " + base64.b64encode(b"%s:x" % USER.encode()).decode()}
        h.update(headers or {})
        req = urllib.request.Request("http://127.0.0.1:%d%s" % (self.port, path),
                                     data=body.encode() if isinstance(body, str) else body,
                                     method=method, headers=h)
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                return r.status, dict(r.headers), r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read().decode()


@pytest.fixture
def env():
    base = tempfile.mkdtemp(prefix="as-radicale-")
    storage = os.path.join(base, "storage")
    os.makedirs(storage)
    root = os.path.join(storage, "collection-root", USER)
    tool = _tool()
    # our store makes the account's default collections
    folders = run(tool, root, "folders")
    rad = Radicale(storage)
    try:
        yield {"root": root, "tool": tool, "rad": rad, "storage": storage,
               "folders": folders}
        rad.stop()
        verify = subprocess.run([PY, "-m", "radicale", "--storage-filesystem-folder", storage,
                                 "--verify-storage"], capture_output=True, text=True, timeout=120)
        out = verify.stdout + verify.stderr
        assert "ERROR" not in out and "CRITICAL" not in out, out
    finally:
        if rad.proc.poll() is None:
            rad.stop()
        shutil.rmtree(base, ignore_errors=True)


def run(tool, root, *args, stdin=None, ok=True):
    p = subprocess.run([tool, root] + list(args), input=stdin, capture_output=True, text=True,
                       timeout=60)
    if ok:
        assert p.returncode == 0, p.stderr
        return p.stdout
    return p


def folder_ids(out):
    """{type: (id, name, dirname)} of `collstore_tool folders`."""
    res = {}
    for line in out.splitlines():
        fid, typ, name, dirname = line.split("\t")
        res.setdefault(int(typ), (fid, name, dirname))
    return res


def items(env, fid):
    """{file name: (id, etag)} of `collstore_tool list`."""
    res = {}
    for line in run(env["tool"], env["root"], "list", fid).splitlines():
        iid, etag, _size, name = line.split("\t")
        res[name] = (iid, etag)
    return res


def vcard(uid, fn):
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s\r\nN:%s;;;;\r\nEND:VCARD\r\n"
            % (uid, fn, fn))


def test_carddav_put_seen_by_store(env):
    rad = env["rad"]
    book = folder_ids(env["folders"])[9]
    assert book[2] == "contacts"
    st, hdr, _ = rad.request("PUT", "/%s/contacts/from-dav.vcf" % USER, vcard("from-dav", "Dav One"),
                             {"Content-Type": "text/vcard"})
    assert st == 201, st
    listed = items(env, book[0])
    assert "from-dav.vcf" in listed
    iid, etag = listed["from-dav.vcf"]
    # Radicale's ETag is the SHA-256 of the bytes it wrote: ours agrees
    assert hdr["ETag"].strip('"') == etag
    body = run(env["tool"], env["root"], "get", book[0], iid)
    assert "FN:Dav One" in body
    # a change over CardDAV: same id, new ETag
    st, hdr, _ = rad.request("PUT", "/%s/contacts/from-dav.vcf" % USER,
                             vcard("from-dav", "Dav Two"), {"Content-Type": "text/vcard"})
    assert st in (201, 204), st
    iid2, etag2 = items(env, book[0])["from-dav.vcf"]
    assert iid2 == iid and etag2 != etag and hdr["ETag"].strip('"') == etag2
    # our replace with the old ETag is a conflict and changes nothing
    p = run(env["tool"], env["root"], "replace", book[0], iid, etag, stdin=vcard("from-dav", "X"),
            ok=False)
    assert p.returncode == 3, p.stderr
    st, _, body = rad.request("GET", "/%s/contacts/from-dav.vcf" % USER)
    assert st == 200 and "Dav Two" in body


def test_store_write_served_by_radicale(env):
    rad = env["rad"]
    book = folder_ids(env["folders"])[9]
    out = run(env["tool"], env["root"], "add", book[0], "from-eas", stdin=vcard("from-eas", "Eas One"))
    iid, etag = out.split()
    st, _, body = rad.request("GET", "/%s/contacts/from-eas.vcf" % USER)
    assert st == 200 and "FN:Eas One" in body
    st, _, body = rad.request("PROPFIND", "/%s/contacts/" % USER,
                              '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/>'
                              '</prop></propfind>', {"Depth": "1", "Content-Type": "text/xml"})
    assert st == 207 and "/%s/contacts/from-eas.vcf" % USER in body
    # replace with the current ETag: Radicale serves the new content
    run(env["tool"], env["root"], "replace", book[0], iid, etag, stdin=vcard("from-eas", "Eas Two"))
    st, _, body = rad.request("GET", "/%s/contacts/from-eas.vcf" % USER)
    assert st == 200 and "FN:Eas Two" in body
    # a REPORT (addressbook-multiget) finds it too
    st, _, body = rad.request(
        "REPORT", "/%s/contacts/" % USER,
        '<?xml version="1.0"?><C:addressbook-multiget xmlns:D="DAV:" '
        'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/>'
        '</D:prop><D:href>/%s/contacts/from-eas.vcf</D:href></C:addressbook-multiget>' % USER,
        {"Depth": "1", "Content-Type": "text/xml"})
    assert st == 207 and "Eas Two" in body
    # delete through our store: gone for Radicale
    run(env["tool"], env["root"], "delete", book[0], iid)
    st, _, _ = rad.request("GET", "/%s/contacts/from-eas.vcf" % USER)
    assert st == 404


def test_collections_managed_by_store(env):
    rad = env["rad"]
    fid = run(env["tool"], env["root"], "mkfolder", "14", "Friends").strip()
    dirname = folder_ids(run(env["tool"], env["root"], "folders"))[14][2]
    st, _, body = rad.request("PROPFIND", "/%s/%s/" % (USER, dirname),
                              '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><displayname/>'
                              '<resourcetype/></prop></propfind>',
                              {"Depth": "0", "Content-Type": "text/xml"})
    assert st == 207 and "Friends" in body and "addressbook" in body
    run(env["tool"], env["root"], "rename", fid, "Best friends")
    st, _, body = rad.request("PROPFIND", "/%s/%s/" % (USER, dirname),
                              '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><displayname/>'
                              '</prop></propfind>', {"Depth": "0", "Content-Type": "text/xml"})
    assert st == 207 and "Best friends" in body
    # a collection made by a CardDAV client shows up as a folder of ours
    st, _, _ = rad.request(
        "MKCOL", "/%s/work-book/" % USER,
        '<?xml version="1.0"?><D:mkcol xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:carddav">'
        '<D:set><D:prop><D:resourcetype><D:collection/><C:addressbook/></D:resourcetype>'
        '<D:displayname>Work</D:displayname></D:prop></D:set></D:mkcol>',
        {"Content-Type": "text/xml"})
    assert st == 201, st
    names = [line.split("\t")[2] for line in run(env["tool"], env["root"], "folders").splitlines()]
    assert "Work" in names
    run(env["tool"], env["root"], "rmfolder", fid)
    st, _, _ = rad.request("PROPFIND", "/%s/%s/" % (USER, dirname), None, {"Depth": "0"})
    assert st == 404


def test_write_waits_for_radicale_lock(env):
    """A process holding Radicale's own RwLock for writing keeps our write
    out until it lets go."""
    book = folder_ids(env["folders"])[9]
    holder = subprocess.Popen(
        [PY, "-c",
         "import sys\n"
         "from radicale import pathutils\n"
         "lock = pathutils.RwLock(sys.argv[1])\n"
         "with lock.acquire('w'):\n"
         "    print('held', flush=True)\n"
         "    sys.stdin.readline()\n",
         os.path.join(env["storage"], ".Radicale.lock")],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        writer = subprocess.Popen([env["tool"], env["root"], "add", book[0], "locked"],
                                  stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True)
        writer.stdin.write(vcard("locked", "Locked"))
        writer.stdin.close()
        path = os.path.join(env["root"], "contacts", "locked.vcf")
        assert not os.path.exists(path)  # still held
        holder.stdin.write("\n")
        holder.stdin.flush()
        assert holder.wait(timeout=30) == 0
        assert writer.wait(timeout=60) == 0, writer.stderr.read()
        assert os.path.exists(path)
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait()


def test_calendar_collections(env):
    """A task list made through our store is a VTODO calendar for Radicale;
    an event PUT over CalDAV shows in our calendar folder, not the task list."""
    rad = env["rad"]
    fid = run(env["tool"], env["root"], "mkfolder", "15", "Chores").strip()
    dirname = [line.split("\t")[3] for line in run(env["tool"], env["root"], "folders").splitlines()
               if line.split("\t")[0] == fid][0]
    st, _, body = rad.request(
        "PROPFIND", "/%s/%s/" % (USER, dirname),
        '<?xml version="1.0"?><D:propfind xmlns:D="DAV:" xmlns:C="urn:ietf:params:xml:ns:caldav">'
        '<D:prop><D:resourcetype/><C:supported-calendar-component-set/></D:prop></D:propfind>',
        {"Depth": "0", "Content-Type": "text/xml"})
    assert st == 207 and "calendar" in body and "VTODO" in body and "VEVENT" not in body, body
    event = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VEVENT\r\n"
             "UID:ev-1\r\nDTSTAMP:20260101T000000Z\r\nDTSTART:20260105T100000Z\r\n"
             "DTEND:20260105T110000Z\r\nSUMMARY:Standup\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")
    st, hdr, _ = rad.request("PUT", "/%s/calendar/ev-1.ics" % USER, event,
                             {"Content-Type": "text/calendar"})
    assert st == 201, st
    folders = folder_ids(run(env["tool"], env["root"], "folders"))
    cal = items(env, folders[8][0])
    assert cal["ev-1.ics"][1] == hdr["ETag"].strip('"')
    assert "ev-1.ics" not in items(env, folders[7][0])
    assert items(env, fid) == {}
