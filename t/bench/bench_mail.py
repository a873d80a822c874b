#!/usr/bin/python3
"""Mail benchmark of mod_activesync (issue 4 §6), one private httpd (event
MPM, 2 children x 600 threads) with a 10,000-message Maildir:

  - requests per second of a no-change Sync of the 10,000-message folder
    against GET of an empty static file, same httpd, same Basic auth (wrk);
  - wall time of the full initial sync of that folder (WindowSize 100,
    plain body truncated at 5 KB; replies only scanned in process for the
    key, the status, the Adds and MoreAvailable, checked against our codec on
    a few pages) against reading every message file of the folder (cat), the
    median of BENCH_ROUNDS devices, and the first device's sync against the
    second one's (the item cache: the second parses no MIME);
  - 1,000 parked Pings (one account, 1,000 device ids, each watching one of
    100 folders), memory and latency, side by side in the same httpd:
      baseline: 1,000 connections that each hold a worker thread without the
        module (request headers never finished), i.e. the first use of the
        threads (stacks, connection and request pools);
      round 1: 1,000 parked Pings on those already used threads, then 100
        deliveries (tmp/ -> new/ into one folder each, waking the 10 Pings
        watching it); round 2: the same again (steady state);
    memory as RSS and PSS summed over httpd's processes (PSS counts pages
    the children share once) and the heap in use (mallinfo2 of each child,
    logged once a second when httpd runs with AS_BENCH_PUSH_STATS=1, a
    bench-only switch), each per held request; "Ping minus baseline" is
    round 1 measured from the fresh server less the baseline.  Latency is
    from the rename into new/ to the first byte of each reply, read by one
    epoll loop on raw sockets (decoding and validate-eas run afterwards, off
    the timed path), as median, 99th percentile and max, with one Ping alone
    for comparison;
  - with BENCH_PARTS containing "syncwait" (default), the same for 1,000
    parked Syncs with Wait (59 minutes, one collection each, the same
    devices after the Pings): two rounds on the threads already used, each
    woken by the deliveries with the Add under the next key, and one Sync
    alone; "per parked Sync" is comparable to the Pings' rounds.

Run by `make bench` after bench_http.py (which keeps its own measurements) (AS_MODULE, AS_ADMIN, AS_TOOLS).
Env: BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_ROUNDS as bench_http.py;
BENCH_PINGS (default 1000), BENCH_KEEP=1,
BENCH_PARTS (default "sync,ping,syncwait": which parts run), BENCH_SETTLE (seconds to wait
for the Pings to park, default 180), BENCH_SIZES (e.g. "1000,10000,50000": with the sync
part, the per-page time of the initial sync of an INBOX of each size, and how much a
child's RSS grew; default none).
"""

import base64
import concurrent.futures
import http.client
import os
import re
import selectors
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

import easclient  # noqa: E402
import httpdconf  # noqa: E402
import mailutil  # noqa: E402
from e2eharness import prepare_datadir  # noqa: E402

SECONDS = os.environ.get("BENCH_SECONDS", "5")
CONNECTIONS = os.environ.get("BENCH_CONNECTIONS", "16")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
PINGS = int(os.environ.get("BENCH_PINGS", "1000"))
NFOLDERS = 100
PARTS = os.environ.get("BENCH_PARTS", "sync,ping,syncwait").split(",")
SIZES = [int(x) for x in os.environ.get("BENCH_SIZES", "").split(",") if x.strip()]
PW = mailutil.PASSWORD

WRK_SCRIPT = """
local f = io.open(os.getenv("BENCH_BODY"), "rb")
local body = f:read("*a")
f:close()
wrk.method = os.getenv("BENCH_METHOD")
wrk.headers["Authorization"] = os.getenv("BENCH_AUTH")
if #body > 0 then
  wrk.body = body
  wrk.headers["Content-Type"] = "application/vnd.ms-sync.wbxml"
  wrk.headers["MS-ASProtocolVersion"] = "14.1"
end
"""

MPM = """
ServerLimit 2
StartServers 2
ThreadLimit 600
ThreadsPerChild 600
MaxRequestWorkers 1200
MinSpareThreads 100
MaxSpareThreads 1200
ListenBacklog 2048
MaxKeepAliveRequests 0
"""


def pct(v, p):
    v = sorted(v)
    return v[min(len(v) - 1, int(round(p / 100.0 * (len(v) - 1))))] if v else float("nan")


def auth(user):
    return "Basic " + base64.b64encode(("%s:%s" % (user, PW)).encode()).decode()


def wrk(url, method, body_file, auth_hdr, script):
    env = dict(os.environ, BENCH_METHOD=method, BENCH_BODY=body_file, BENCH_AUTH=auth_hdr)
    out = subprocess.run(["wrk", "-t2", "-c" + CONNECTIONS, "-d" + SECONDS + "s", "-s", script,
                          url], env=env, capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out:
        raise SystemExit("bench: errors during %s %s:\n%s" % (method, url, out))
    return float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))


class Raw:
    """Minimal device: one POST, the key and MoreAvailable from our codec."""

    def __init__(self, port, user, device):
        self.port, self.user, self.device = port, user, device

    def post(self, cmd, body, timeout=60):
        q = easclient.plain_query(cmd, self.user, self.device, "Bench")
        c = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            c.request("POST", httpdconf.EAS_PATH + "?" + q, body=body, headers={
                "Authorization": auth(self.user), "MS-ASProtocolVersion": "14.1",
                "Content-Type": easclient.WBXML_TYPE})
            r = c.getresponse()
            data = r.read()
            if r.status != 200:
                raise RuntimeError("%s: HTTP %d" % (cmd, r.status))
            return data
        finally:
            c.close()


def xml_of(data):
    return easclient.decode_ours(data).decode("utf-8", "replace") if data else ""


SYNC_BODIES = {}
KEY_SLOT = "BENCHKEYSLOT"


def sync_body(fid, key, window=100, options=mailutil.BODY_PLAIN_5K):
    """The Sync request; encoded once per shape (one xml2wbxml process), the
    key then put in place (an inline string: nothing else to adjust)."""
    shape = (fid, key == "0", window, options)
    if shape not in SYNC_BODIES:
        d = mailutil.Device.__new__(mailutil.Device)
        SYNC_BODIES[shape] = easclient.encode(mailutil.Device.sync_xml(
            d, fid, KEY_SLOT, window=window, options=options if key != "0" else None))
    body = SYNC_BODIES[shape]
    assert body.count(KEY_SLOT.encode() + b"\0") == 1
    return body.replace(KEY_SLOT.encode() + b"\0", key.encode() + b"\0")


def mb_uint(data, i):
    v = 0
    while True:
        b = data[i]
        i += 1
        v = (v << 7) | (b & 0x7F)
        if not b & 0x80:
            return v, i


def scan_sync(data):
    """(SyncKey, Status, Adds, MoreAvailable) of a Sync reply, read from its
    WBXML in process (AirSync code page 0 only): the client's own cost stays
    small next to the server's, as a phone's native decoder's would, rather
    than one codec process per page."""
    ADD, SYNCKEY, STATUS, MORE = 0x07, 0x0B, 0x0E, 0x14
    i = 1
    _, i = mb_uint(data, i)  # public id
    _, i = mb_uint(data, i)  # charset
    n, i = mb_uint(data, i)  # string table
    i += n
    page, stack, key, status, adds, more, text = 0, [], None, None, 0, False, None
    while i < len(data):
        t = data[i]
        i += 1
        if t == 0x00:  # SWITCH_PAGE
            page = data[i]
            i += 1
        elif t == 0x01:  # END
            stack.pop()
        elif t == 0x03:  # STR_I
            j = data.index(b"\0", i)
            text = data[i:j].decode("utf-8", "replace")
            if stack and stack[-1] == (0, SYNCKEY) and key is None:
                key = text
            elif stack and stack[-1] == (0, STATUS) and status is None:
                status = text
            i = j + 1
        elif t == 0xC3:  # OPAQUE
            n, i = mb_uint(data, i)
            i += n
        elif t in (0x02, 0x80, 0x81, 0x82, 0x83):  # ENTITY, EXT_T_*, STR_T
            _, i = mb_uint(data, i)
        elif t in (0x40, 0x41, 0x42, 0x43, 0x44, 0x04, 0x84, 0xC0, 0xC1, 0xC2, 0xC4):
            raise ValueError("WBXML token 0x%02x not used by EAS" % t)
        else:
            tag = (page, t & 0x3F)
            if tag == (0, ADD):
                adds += 1
            elif tag == (0, MORE):
                more = True
            if t & 0x40:
                stack.append(tag)
    return key, status, adds, more


def full_sync(dev, fid, window=100, page_times=None):
    """(key, adds, pages, server seconds); page_times (a list) gets the time
    of each page after key 0."""
    key, adds, pages, server = "0", 0, 0, 0.0
    more = True
    while more:
        body = sync_body(fid, key, window)
        t0 = time.monotonic()
        data = dev.post("Sync", body)
        took = time.monotonic() - t0
        server += took
        if page_times is not None and key != "0":
            page_times.append(took)
        key, st, n, more_available = scan_sync(data)
        assert st == "1", xml_of(data)[:500]
        adds += n
        more = more_available or pages == 0
        pages += 1
    return key, adds, pages, server


def check_scan(dev, fid):
    """scan_sync against our codec on the first pages of an initial sync."""
    key = "0"
    for _ in range(3):
        data = dev.post("Sync", sync_body(fid, key))
        x = xml_of(data)
        want = (re.search(r"<SyncKey>([^<]+)</SyncKey>", x).group(1),
                re.search(r"<Status>(\d+)</Status>", x).group(1), x.count("<Add>"),
                "<MoreAvailable" in x)
        assert scan_sync(data) == want, (scan_sync(data), want)
        key = want[0]


def main():
    module = os.environ["AS_MODULE"]
    os.environ.setdefault("AS_ADMIN", os.path.join(os.path.dirname(module), "activesync-admin"))
    os.environ.setdefault("AS_TOOLS", os.path.join(os.path.dirname(module), "t", "tools"))
    root = tempfile.mkdtemp(prefix="mod_activesync-bench-mail-")
    os.chmod(root, 0o755)
    srv = mailutil.MailServer(root)
    srv.setup_mail()
    srv.datadir = prepare_datadir(os.path.join(root, "data"), ("example.com",))
    body = mailutil.mail_body(root, srv.port, None, extra=MPM + 'Alias /static "%s/htdocs"\n'
                              % root)
    body += ("<Location /static>\n    AuthType Basic\n    AuthName \"ActiveSync\"\n"
             "    AuthBasicProvider file\n    AuthUserFile \"%s\"\n    Require valid-user\n"
             "</Location>\n" % srv.htpasswd)
    srv.write_conf(module, mpm="event", body=body, loglevel="warn activesync:notice")
    open(os.path.join(root, "htdocs", "empty"), "w").close()
    os.chmod(os.path.join(root, "htdocs", "empty"), 0o644)
    rc, out = srv.check_syntax()
    if rc:
        raise SystemExit("bench-mail: configuration refused:\n%s" % out)
    os.environ["AS_BENCH_PUSH_STATS"] = "1"  # children log their heap (bench only)
    srv.start()
    try:
        run(srv, root)
    finally:
        srv.stop()
        if os.environ.get("BENCH_KEEP") != "1":
            shutil.rmtree(root, ignore_errors=True)
        else:
            print("bench-mail: kept", root)


def run(srv, root):
    print("mail: one httpd (event MPM, 2 x 600 threads)")
    if "sync" in PARTS:
        sync_and_static(srv, root)
        if SIZES:
            paging_by_size(srv)
    if "ping" in PARTS:
        parked_pings(srv)
    if "syncwait" in PARTS:
        parked_syncs(srv)


def sync_and_static(srv, root):
    inbox = mailutil.folder_id("")
    addr = srv.add_account("bench", count=9985)
    md = srv.maildir(addr)
    nfiles = len(mailutil.files(md))
    print("  INBOX of %d messages (t/tools/mkmaildir)" % nfiles)

    # ---- full initial sync against reading the files ---------------------------
    cat_cmd = "find %s/new %s/cur -type f -print0 | xargs -0 cat > /dev/null" % (md, md)
    subprocess.run(cat_cmd, shell=True, check=True)  # warm the page cache alike
    syncs, cats = [], []
    cpus = []
    for i in range(ROUNDS):
        t0 = time.monotonic()
        subprocess.run(cat_cmd, shell=True, check=True)
        cats.append(time.monotonic() - t0)
        dev = Raw(srv.port, addr, "BENCHSYNC%d" % i)
        c0 = children_cpu(srv)
        t0 = time.monotonic()
        key, adds, pages, server = full_sync(dev, inbox)
        syncs.append((time.monotonic() - t0, server, pages, adds, key, dev))
        cpus.append(children_cpu(srv) - c0)
        assert adds == nfiles, (adds, nfiles)
    check_scan(Raw(srv.port, addr, "BENCHSCAN"), inbox)
    if len(syncs) > 1:
        # the same folder for another device: the item cache (sync/as_itemcache.c)
        # serves what the first device's sync converted
        (w1, s1), (w2, s2) = syncs[0][:2], syncs[1][:2]
        print("  second device initial sync of the same folder: %.2f s wall (%.2f s waiting "
              "for httpd), first device %.2f s (%.2f s)   speed-up %.1fx wall, %.1fx httpd"
              % (w2, s2, w1, s1, w1 / w2, s1 / s2))
        # CPU time of httpd's children: what other programs on the box do
        # (load) changes the waits above, hardly this
        print("  httpd CPU (children, user+system): first device %.2f s, second %.2f s"
              "   speed-up %.1fx" % (cpus[0], cpus[1], cpus[0] / max(cpus[1], 0.01)))
    syncs.sort(key=lambda s: s[0])
    wall, server, pages, adds, key, dev = syncs[len(syncs) // 2]
    cat = sorted(cats)[len(cats) // 2]
    print("  initial sync, WindowSize 100, plain body <= 5 KB: %d items in %d pages, "
          "%.2f s wall (%.2f s waiting for httpd)   cat of the files %.3f s   ratio %.0f"
          % (adds, pages, wall, server, cat, server / cat))

    # ---- no-change Sync against a static file -------------------------------------
    nochange = sync_body(inbox, key)
    assert dev.post("Sync", nochange) == b"", "the no-change Sync was not empty"
    files = {}
    for name, data in (("empty", b""), ("sync", nochange)):
        files[name] = os.path.join(root, name + ".bin")
        with open(files[name], "wb") as f:
            f.write(data)
    script = os.path.join(root, "bench.lua")
    with open(script, "w") as f:
        f.write(WRK_SCRIPT)
    base = "http://127.0.0.1:%d" % srv.port
    q = easclient.plain_query("Sync", addr, dev.device, "Bench")
    m_runs, s_runs = [], []
    for _ in range(ROUNDS):
        s_runs.append(wrk(base + "/static/empty", "GET", files["empty"], auth(addr), script))
        m_runs.append(wrk(base + httpdconf.EAS_PATH + "?" + q, "POST", files["sync"], auth(addr),
                          script))
    m, s = sorted(m_runs)[ROUNDS // 2], sorted(s_runs)[ROUNDS // 2]
    print("  no-change Sync (10,000 items) %9.0f req/s   static %9.0f req/s   ratio %.2f"
          % (m, s, m / s))


def children_cpu(srv):
    """Seconds of CPU (user + system) used so far by httpd's children."""
    tick, total = os.sysconf("SC_CLK_TCK"), 0
    for pid in srv.children():
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime
        except (OSError, TypeError, IndexError, ValueError):
            pass
    return total / float(tick)


def child_rss_kb(srv):
    """{pid: RSS kB} of httpd's children."""
    out = {}
    for pid in srv.children():
        try:
            with open("/proc/%d/status" % pid) as f:
                for line in f:
                    if line.startswith("VmRSS:"):
                        out[pid] = int(line.split()[1])
        except (OSError, TypeError):
            pass
    return out


def paging_by_size(srv):
    """Per-page time of the initial sync (WindowSize 100) of an INBOX of each
    size in BENCH_SIZES: each page should cost the same whatever the folder's
    size (the listing is kept by the sync index while the folder is unchanged)."""
    inbox = mailutil.folder_id("")
    print("  initial sync per page, WindowSize 100 (BENCH_SIZES):")
    for size in SIZES:
        addr = srv.add_account("pages%d" % size, count=max(0, size - 15))
        nfiles = len(mailutil.files(srv.maildir(addr)))
        time.sleep(2.1)  # a folder written in the last 2 s has an unsettled token: never kept
        before = child_rss_kb(srv)
        times = []
        t0 = time.monotonic()
        key, adds, pages, server = full_sync(Raw(srv.port, addr, "PAGES%d" % size), inbox,
                                             page_times=times)
        wall = time.monotonic() - t0
        assert adds == nfiles, (adds, nfiles)
        after = child_rss_kb(srv)
        grow = max([after.get(pid, 0) - kb for pid, kb in before.items()] or [0]) / 1024.0
        times.sort()
        print("    %6d messages %4d pages %7.2f s   per page: median %6.1f ms  p90 %6.1f ms  "
              "max %6.1f ms   child RSS growth <= %.1f MB"
              % (nfiles, pages, wall, 1000 * times[len(times) // 2],
                 1000 * times[int(len(times) * 0.9)], 1000 * times[-1], grow))


# ---- parked Pings ----------------------------------------------------------------------------
#
# The Ping clients are raw sockets watched by one epoll loop that stamps the
# arrival of each reply's first byte: decoding and validating replies
# (three subprocesses each in easclient) is kept off the timed path and done
# once per distinct reply afterwards.  A delivery is timed from its rename
# into new/ (tmp/ written and synced before).

class Parked:
    """Requests left open on raw sockets; a thread stamps and collects replies."""

    def __init__(self):
        self.sel = selectors.DefaultSelector()
        self.lock = threading.Lock()
        self.first, self.data, self.closed = {}, {}, set()
        self.stop = False
        self.thread = threading.Thread(target=self.loop, daemon=True)
        self.thread.start()

    def send(self, port, key, raw):
        s = socket.create_connection(("127.0.0.1", port), timeout=30)
        s.sendall(raw)
        s.setblocking(False)
        with self.lock:
            self.data[key] = b""
        self.sel.register(s, selectors.EVENT_READ, key)
        return s

    def loop(self):
        while not self.stop:
            try:
                ready = self.sel.select(0.02)
            except (OSError, ValueError, KeyError):
                continue
            for k, _ in ready:
                now = time.monotonic()
                try:
                    chunk = k.fileobj.recv(65536)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                with self.lock:
                    if chunk:
                        self.first.setdefault(k.data, now)
                        self.data[k.data] += chunk
                    else:
                        self.closed.add(k.data)
                if not chunk:
                    self.sel.unregister(k.fileobj)
                    k.fileobj.close()

    def answered(self, keys):
        with self.lock:
            return all(k in self.closed for k in keys)

    def close(self):
        self.stop = True
        self.thread.join()
        for k in list(self.sel.get_map().values()):
            k.fileobj.close()


def ping_raw(port, addr, device, body, cmd="Ping"):
    q = easclient.plain_query(cmd, addr, device, "E2EPhone")
    head = ("POST %s?%s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nAuthorization: %s\r\n"
            "MS-ASProtocolVersion: 14.1\r\nContent-Type: %s\r\nContent-Length: %d\r\n"
            "Connection: close\r\n\r\n" % (httpdconf.EAS_PATH, q, port, auth(addr),
                                               easclient.WBXML_TYPE, len(body)))
    return head.encode() + body


_checked = {}


def ping_status(raw):
    """(Status, [folder ids]) of a raw HTTP reply; each distinct reply body is
    decoded and validated (validate-eas) once."""
    head, _, body = raw.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        return ("http", head.split(b"\r\n")[0].decode("latin-1")), []
    if body not in _checked:
        doc = easclient.decode_reply(body)
        fl = mailutil.kid(doc, "Folders")
        _checked[body] = (mailutil.text(doc, "Status"),
                          [f.text for f in mailutil.kids(fl)] if fl is not None else [])
    return _checked[body]


def proc_mem_kb(srv):
    """(RSS, PSS) summed over httpd's processes, kB.  PSS counts a page shared
    by the children once (the Berkeley DB regions, libraries)."""
    rss = pss = 0
    for pid in [srv.pid()] + srv.children():
        try:
            with open("/proc/%d/smaps_rollup" % pid) as f:
                for line in f:
                    if line.startswith("Rss:"):
                        rss += int(line.split()[1])
                    elif line.startswith("Pss:"):
                        pss += int(line.split()[1])
        except (OSError, TypeError):
            pass
    return rss, pss


STATS_RE = re.compile(r"push stats: pid=(\d+) waits=(\d+) watches=\d+ watch_bytes=(\d+) "
                      r"heap_in_use=(\d+)")


def push_stats(srv):
    """{pid: (waits, watch bytes, heap in use)} from the latest AS_BENCH_PUSH_STATS
    line of each live child."""
    live, last = set(srv.children()), {}
    with open(srv.error_log, errors="replace") as f:
        for line in f:
            m = STATS_RE.search(line)
            if m and int(m.group(1)) in live:
                last[int(m.group(1))] = tuple(int(x) for x in m.groups()[1:])
    return last


def waits_parked(srv):
    return sum(v[0] for v in push_stats(srv).values())


def heap_bytes(srv):
    return sum(v[2] for v in push_stats(srv).values())


def settle(srv, waits, timeout=float(os.environ.get("BENCH_SETTLE", "180"))):
    """Until the children report `waits` parked waits, then two quiet seconds
    (the stats lines are written once a second when something changed)."""
    deadline = time.monotonic() + timeout
    while waits_parked(srv) != waits:
        if time.monotonic() > deadline:
            raise SystemExit("bench-mail: %d waits parked, expected %d" % (waits_parked(srv),
                                                                           waits))
        time.sleep(0.2)
    time.sleep(2.2)


def blocked_in_poll(srv):
    """Threads of the children sleeping in poll() or epoll_wait(): the
    listeners, the push dispatchers, and workers reading a request."""
    n = 0
    for pid in srv.children():
        for tid in os.listdir("/proc/%d/task" % pid):
            try:
                with open("/proc/%d/task/%s/wchan" % (pid, tid)) as f:
                    n += "poll" in f.read()
            except OSError:
                pass
    return n


class Mem:
    """One memory figure: RSS and PSS of httpd (kB) and the heap in use (bytes)."""

    def __init__(self, srv):
        self.rss, self.pss = proc_mem_kb(srv)
        self.heap = heap_bytes(srv)

    def per(self, other, n):
        """Growth from other to self per unit, kB: (RSS, PSS, heap)."""
        return ((self.rss - other.rss) / float(n), (self.pss - other.pss) / float(n),
                (self.heap - other.heap) / 1024.0 / n)


def deliver_timed(maildir, storage, subject):
    """tmp/ written and synced, then the rename into new/; returns (time of
    the rename, path in new/)."""
    d = mailutil.folder_dir(maildir, storage)
    name = mailutil.unique_name()
    tmp = os.path.join(d, "tmp", name)
    with open(tmp, "wb") as f:
        f.write(mailutil.make_message(subject))
        f.flush()
        os.fsync(f.fileno())
    os.chown(tmp, mailutil.WWW.pw_uid, mailutil.WWW.pw_gid)
    t0 = time.monotonic()
    os.rename(tmp, os.path.join(d, "new", name))
    return t0, os.path.join(d, "new", name)


class PingKind:
    """What ping_round parks: a Ping of the device's folder, answered Status 2.
    The delivered files are removed afterwards (the devices never synced
    them), so the next round parks again."""
    name, keep = "Ping", False

    def __init__(self, devs):
        self.bodies = {fid: easclient.encode(devs[0][0].ping_xml(900, [fid]))
                       for fid in set(d[2] for d in devs)}

    def raws(self, srv, devs):
        return [ping_raw(srv.port, dv.addr, dv.device_id, self.bodies[fid])
                for dv, storage, fid in devs]

    def check(self, dv, fid, raw):
        return ping_status(raw)[0] == "2"


class SyncWaitKind:
    """A Sync with Wait of the device's folder at its current key, answered
    with the Add of the delivery under the next key, which the device then
    holds: the delivered files stay."""
    name, keep = "Sync", True

    def __init__(self, devs):
        self.validated = False

    def raws(self, srv, devs):
        def one(d):
            dv, storage, fid = d
            xml = dv.sync_xml(fid, dv.keys[fid], window=100, options=mailutil.BODY_PLAIN_5K,
                              wait=59)
            return ping_raw(srv.port, dv.addr, dv.device_id, easclient.encode(xml), "Sync")
        with concurrent.futures.ThreadPoolExecutor(8) as ex:
            return list(ex.map(one, devs))

    def check(self, dv, fid, raw):
        head, _, body = raw.partition(b"\r\n\r\n")
        if not head.startswith(b"HTTP/1.1 200") or not body:
            return False
        if not self.validated:
            easclient.decode_reply(body)  # validate-eas, once per round
            self.validated = True
        x = xml_of(body)
        key = re.search(r"<SyncKey>([^<]+)</SyncKey>", x)
        st = re.search(r"<Status>(\d+)</Status>", x)
        if not key or not st or st.group(1) != "1" or "<Add>" not in x:
            return False
        dv.keys[fid] = key.group(1)
        return True


def ping_round(srv, pmd, devs, kind, tag):
    """Park one request (kind) per device, measure, then deliver into each
    of their folders one after the other; returns (Mem before, Mem parked,
    seconds to park, latencies ms)."""
    raws = kind.raws(srv, devs)
    kind.validated = False
    settle(srv, 0)
    before = Mem(srv)
    parked = Parked()
    t0 = time.monotonic()
    for (dv, storage, fid), raw in zip(devs, raws):
        parked.send(srv.port, dv.device_id, raw)
    settle(srv, len(devs))
    park_time = time.monotonic() - t0
    with parked.lock:
        if parked.first:
            raise SystemExit("bench-mail: %s: %d %ss answered before any delivery: %r"
                             % (tag, len(parked.first), kind.name,
                                list(parked.data.items())[:2]))
    mem = Mem(srv)
    per_folder = {}
    for dv, storage, fid in devs:
        per_folder.setdefault(storage, []).append(dv.device_id)
    lat, delivered = [], []
    for storage in sorted(per_folder):
        want = per_folder[storage]
        t0, path = deliver_timed(pmd, storage, "bench %s %s" % (tag, storage))
        delivered.append(path)
        end = time.monotonic() + 30
        while not parked.answered(want) and time.monotonic() < end:
            time.sleep(0.001)
        for w in want:
            if w not in parked.closed:
                raise SystemExit("bench-mail: %s: %s of %s not answered 30 s after the "
                                 "delivery" % (tag, kind.name, w))
            lat.append((parked.first[w] - t0) * 1000)
    for dv, storage, fid in devs:
        if not kind.check(dv, fid, parked.data[dv.device_id]):
            raise SystemExit("bench-mail: %s: %s of %s answered %r" % (
                tag, kind.name, dv.device_id, parked.data[dv.device_id][:300]))
    # the Pings of folders without a delivery: a newer Ping of the device ends
    # them (Status 1) -- the next round, or the stop
    parked.stop = True
    parked.thread.join()
    if not kind.keep:
        for path in delivered:
            os.unlink(path)
    return before, mem, park_time, lat, parked


def alone(srv, pmd, d, kind, n=10):
    """Latencies (ms) of n deliveries to one parked request alone."""
    dv, storage, fid = d
    single = []
    for k in range(n):
        p = Parked()
        p.send(srv.port, dv.device_id, kind.raws(srv, [d])[0])
        settle(srv, 1)
        t0, path = deliver_timed(pmd, storage, "single %s %d" % (kind.name, k))
        end = time.monotonic() + 30
        while not p.answered([dv.device_id]) and time.monotonic() < end:
            time.sleep(0.001)
        assert kind.check(dv, fid, p.data[dv.device_id]), p.data[dv.device_id][:300]
        single.append((p.first[dv.device_id] - t0) * 1000)
        p.close()
        if not kind.keep:
            os.unlink(path)
    return single


_push = {}


def push_devices(srv):
    """The push devices, made once for the Ping and Sync Wait parts: one
    account, PINGS device ids, each after FolderSync and the initial Sync of
    one of NFOLDERS empty folders.  Returns (devices, Maildir, seconds)."""
    if _push:
        return _push["devs"], _push["pmd"], _push["prep"]
    paddr = srv.add_account("pinger", count=0)
    pmd = srv.maildir(paddr)
    fids = []
    for k in range(NFOLDERS):
        name = "F%03d" % k
        d = os.path.join(pmd, "." + name)
        for sub in ("cur", "new", "tmp"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        mailutil.chown_tree(d)
        fids.append((name, mailutil.folder_id(name)))

    def prepare(i):
        dv = mailutil.Device(srv, paddr, "PING%04d" % i)
        storage, fid = fids[i % NFOLDERS]
        dv.foldersync("0")
        assert fid in dv.folders
        dv.initial_sync(fid, window=100)
        return dv, storage, fid

    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        devs = list(ex.map(prepare, range(PINGS)))
    _push.update(devs=devs, pmd=pmd, prep=time.monotonic() - t0)
    return devs, pmd, _push["prep"]


def parked_pings(srv):
    devs, pmd, prep = push_devices(srv)
    kind = PingKind(devs)
    settle(srv, 0)
    m0 = Mem(srv)

    # -- baseline: the same number of worker threads held without the module
    # (request headers sent up to the last line, never ended: each worker
    # blocks reading them, Timeout 300)
    idle_poll = blocked_in_poll(srv)  # listeners and push dispatchers
    held = []
    for i in range(PINGS):
        s = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
        s.sendall(b"GET /static/empty HTTP/1.1\r\nHost: localhost\r\nX-Bench: %d\r\n" % i)
        held.append(s)
    deadline = time.monotonic() + 60
    while blocked_in_poll(srv) - idle_poll < PINGS and time.monotonic() < deadline:
        time.sleep(0.2)
    reading = blocked_in_poll(srv) - idle_poll
    time.sleep(2.2)
    mb = Mem(srv)
    for s in held:
        s.close()
    deadline = time.monotonic() + 60
    while blocked_in_poll(srv) > idle_poll and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(2.2)
    mb_after = Mem(srv)

    # -- two rounds of parked Pings
    ndel = min(len(devs), NFOLDERS)
    m1_0, m1, park1, lat1, p1 = ping_round(srv, pmd, devs, kind, "round 1")
    m2_0, m2, park2, lat2, p2 = ping_round(srv, pmd, devs, kind, "round 2")
    # -- one Ping alone, same server: the latency without the crowd
    single = alone(srv, pmd, devs[0], kind)
    p1.close()
    p2.close()

    n = len(devs)
    b = mb.per(m0, n)
    r1 = m1.per(m1_0, n)
    r2 = m2.per(m2_0, n)
    r1_0 = m1.per(m0, n)
    print("  %d parked Pings (1 account, %d devices, %d folders; preparing them %.1f s); "
          "memory of httpd summed over its processes: RSS | PSS kB per held request, "
          "heap = malloc in use (children's mallinfo2, AS_BENCH_PUSH_STATS)" % (
              n, n, NFOLDERS, prep))
    print("    baseline, %d requests holding a worker thread without the module (headers "
          "never finished; %d workers seen reading): %.1f | %.1f kB, heap %.1f kB "
          "(first use of the threads)" % (n, reading, b[0], b[1], b[2]))
    print("    round 1, parked in %.1f s, threads used once by the baseline:   %.1f | %.1f kB, "
          "heap %.1f kB   (from the fresh server: %.1f | %.1f kB)" % (
              park1, r1[0], r1[1], r1[2], r1_0[0], r1_0[1]))
    print("    round 2, parked in %.1f s (steady state):                       %.1f | %.1f kB, "
          "heap %.1f kB" % (park2, r2[0], r2[1], r2[2]))
    print("    Ping minus baseline (round 1 from the fresh server, less the baseline): "
          "%.1f | %.1f kB per parked Ping" % (r1_0[0] - b[0], r1_0[1] - b[1]))
    print("    RSS of httpd: fresh %d kB, baseline held %d, released %d, round 1 %d -> %d, "
          "round 2 %d -> %d kB (%d children)" % (m0.rss, mb.rss, mb_after.rss, m1_0.rss, m1.rss,
                                                  m2_0.rss, m2.rss, len(srv.children())))
    for tag, lat in (("round 1", lat1), ("round 2", lat2)):
        print("  delivery-to-reply latency, %s, %d deliveries (%d replies, %d Pings parked): "
              "median %.0f ms, p99 %.0f ms, max %.0f ms" % (
                  tag, ndel, len(lat), n, pct(lat, 50), pct(lat, 99), max(lat)))
    print("  delivery-to-reply latency, one Ping alone, 10 deliveries: median %.0f ms, "
          "max %.0f ms   ratio of the medians (1,000 / 1): %.2f" % (
              pct(single, 50), max(single), pct(lat2, 50) / pct(single, 50)))


def parked_syncs(srv):
    """Parked Syncs with Wait, on the push devices (after the Pings when they
    ran: the threads are then used already, as in the Pings' rounds)."""
    devs, pmd, prep = push_devices(srv)
    kind = SyncWaitKind(devs)
    ndel = min(len(devs), NFOLDERS)
    m1_0, m1, park1, lat1, p1 = ping_round(srv, pmd, devs, kind, "Sync round 1")
    m2_0, m2, park2, lat2, p2 = ping_round(srv, pmd, devs, kind, "Sync round 2")
    single = alone(srv, pmd, devs[0], kind)
    p1.close()
    p2.close()
    n = len(devs)
    r1, r2 = m1.per(m1_0, n), m2.per(m2_0, n)
    print("  %d parked Syncs with Wait (the same devices, one collection each, 59 minutes): "
          "RSS | PSS kB per parked Sync, heap as above" % n)
    print("    round 1, parked in %.1f s:   %.1f | %.1f kB, heap %.1f kB" % (
        park1, r1[0], r1[1], r1[2]))
    print("    round 2, parked in %.1f s:   %.1f | %.1f kB, heap %.1f kB" % (
        park2, r2[0], r2[1], r2[2]))
    print("    RSS of httpd: round 1 %d -> %d, round 2 %d -> %d kB" % (
        m1_0.rss, m1.rss, m2_0.rss, m2.rss))
    for tag, lat in (("round 1", lat1), ("round 2", lat2)):
        print("  delivery-to-reply latency, Sync %s, %d deliveries (%d replies, %d parked): "
              "median %.0f ms, p99 %.0f ms, max %.0f ms" % (
                  tag, ndel, len(lat), n, pct(lat, 50), pct(lat, 99), max(lat)))
    print("  delivery-to-reply latency, one Sync alone, 10 deliveries: median %.0f ms, "
          "max %.0f ms" % (pct(single, 50), max(single)))



if __name__ == "__main__":
    main()
