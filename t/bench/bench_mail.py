#!/usr/bin/python3
"""Mail benchmark of mod_activesync (issue 4 §6), one private httpd (event
MPM, 2 children x 600 threads) with a 10,000-message Maildir:

  - requests per second of a no-change Sync of the 10,000-message folder
    against GET of an empty static file, same httpd, same Basic auth (wrk);
  - wall time of the full initial sync of that folder (WindowSize 100,
    plain body truncated at 5 KB; replies only parsed for the key, with
    our codec) against reading every message file of the folder (cat);
  - 1,000 parked Pings (one account, 1,000 device ids, each watching one of
    100 folders): the growth of the RSS of all httpd processes per parked
    Ping, then 100 deliveries (tmp/ -> new/ into one folder each, waking
    the 10 Pings watching it) with the delivery-to-reply latency (median,
    99th percentile, max over all replies).

Run by `make bench` after bench_http.py (which keeps its own measurements) (AS_MODULE, AS_ADMIN, AS_TOOLS).
Env: BENCH_SECONDS, BENCH_CONNECTIONS, BENCH_ROUNDS as bench_http.py;
BENCH_PINGS (default 1000), BENCH_DELIVERIES (default 100), BENCH_KEEP=1.
"""

import base64
import concurrent.futures
import http.client
import os
import re
import shutil
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
DELIVERIES = int(os.environ.get("BENCH_DELIVERIES", "100"))
NFOLDERS = 100
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


def sync_body(fid, key, window=100, options=mailutil.BODY_PLAIN_5K):
    d = mailutil.Device.__new__(mailutil.Device)
    return easclient.encode(mailutil.Device.sync_xml(d, fid, key, window=window,
                                                     options=options if key != "0" else None))


def full_sync(dev, fid, window=100):
    """(key, adds, pages, server seconds)."""
    key, adds, pages, server = "0", 0, 0, 0.0
    more = True
    while more:
        body = sync_body(fid, key, window)
        t0 = time.monotonic()
        data = dev.post("Sync", body)
        server += time.monotonic() - t0
        x = xml_of(data)
        key = re.search(r"<SyncKey>([^<]+)</SyncKey>", x).group(1)
        st = re.search(r"<Status>(\d+)</Status>", x).group(1)
        assert st == "1", x[:500]
        adds += x.count("<Add>")
        more = "<MoreAvailable" in x or pages == 0
        pages += 1
    return key, adds, pages, server


def rss_kb(srv):
    return mailutil.server_rss_kb(srv)


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
    srv.write_conf(module, mpm="event", body=body, loglevel="warn")
    open(os.path.join(root, "htdocs", "empty"), "w").close()
    os.chmod(os.path.join(root, "htdocs", "empty"), 0o644)
    rc, out = srv.check_syntax()
    if rc:
        raise SystemExit("bench-mail: configuration refused:\n%s" % out)
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
    inbox = mailutil.folder_id("")
    addr = srv.add_account("bench", count=9985)
    md = srv.maildir(addr)
    nfiles = len(mailutil.files(md))
    print("mail: one httpd (event MPM, 2 x 600 threads), INBOX of %d messages "
          "(t/tools/mkmaildir)" % nfiles)

    # ---- full initial sync against reading the files ---------------------------
    cat_cmd = "find %s/new %s/cur -type f -print0 | xargs -0 cat > /dev/null" % (md, md)
    subprocess.run(cat_cmd, shell=True, check=True)  # warm the page cache alike
    syncs, cats = [], []
    for i in range(ROUNDS):
        t0 = time.monotonic()
        subprocess.run(cat_cmd, shell=True, check=True)
        cats.append(time.monotonic() - t0)
        dev = Raw(srv.port, addr, "BENCHSYNC%d" % i)
        t0 = time.monotonic()
        key, adds, pages, server = full_sync(dev, inbox)
        syncs.append((time.monotonic() - t0, server, pages, adds, key, dev))
        assert adds == nfiles, (adds, nfiles)
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

    # ---- 1,000 parked Pings ---------------------------------------------------------
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
    devs = []

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
    prep = time.monotonic() - t0
    time.sleep(1)
    before = rss_kb(srv)
    claims = {dv.device_id: dv.claim_value() for dv, _, _ in devs}
    results = {}
    lock = threading.Lock()

    def ping(entry):
        dv, storage, fid = entry
        try:
            st = dv.ping(900, [fid])
        except Exception as e:  # reported below
            st = ("error", repr(e))
        with lock:
            results[dv.device_id] = (time.monotonic(), st)

    threads = [threading.Thread(target=ping, args=(e,), daemon=True) for e in devs]
    t0 = time.monotonic()
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        parked = sum(1 for dv, _, _ in devs if dv.claim_value() != claims[dv.device_id])
        if parked == len(devs) or results:
            break
        time.sleep(0.2)
    park_time = time.monotonic() - t0
    if results:
        raise SystemExit("bench-mail: %d Pings answered before any delivery: %s" % (
            len(results), list(results.items())[:3]))
    time.sleep(2)  # the last claimers reach their wait
    after = rss_kb(srv)
    print("  %d parked Pings (1 account, %d devices, %d folders): parked in %.1f s; RSS of "
          "httpd %d -> %d kB: %.1f kB per parked Ping (%d children, %d threads)"
          % (len(devs), len(devs), NFOLDERS, park_time, before, after,
             (after - before) / float(len(devs)), len(srv.children()), len(threads)))

    lat = []
    per_folder = {}
    for dv, storage, fid in devs:
        per_folder.setdefault(storage, []).append(dv.device_id)
    for k in range(min(DELIVERIES, NFOLDERS)):
        storage = fids[k][0]
        t0 = time.monotonic()
        mailutil.deliver(pmd, storage, subject="bench %d" % k)
        want = per_folder[storage]
        end = time.monotonic() + 30
        while time.monotonic() < end:
            with lock:
                if all(w in results for w in want):
                    break
            time.sleep(0.002)
        with lock:
            for w in want:
                if w not in results:
                    raise SystemExit("bench-mail: Ping of %s not answered 30 s after the "
                                     "delivery" % w)
                ts, st = results[w]
                if st[0] != "2":
                    raise SystemExit("bench-mail: Ping of %s answered %r" % (w, st))
                lat.append((ts - t0) * 1000)
    print("  delivery-to-reply latency over %d deliveries (%d replies): median %.0f ms, "
          "p99 %.0f ms, max %.0f ms" % (min(DELIVERIES, NFOLDERS), len(lat), pct(lat, 50),
                                         pct(lat, 99), max(lat)))
    print("  (preparing the %d devices: %.1f s)" % (len(devs), prep))
    # End the remaining parked Pings quickly: a newer request of each device.
    for t in threads:
        t.join(0)


if __name__ == "__main__":
    main()
