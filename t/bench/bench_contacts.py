#!/usr/bin/python3
"""Contacts benchmark of mod_activesync (issue 11), one private httpd (event
MPM) with an address book of 5,000 vCards in Radicale's layout
(`ActiveSyncCollections`):

  - wall time of the full initial sync of the address book (WindowSize 100;
    replies parsed only for the key) against reading every .vcf file (cat);
  - requests per second of a no-change Sync of the address book against GET
    of an empty static file, same httpd, same Basic auth (wrk).

Env: BENCH_CONTACTS (default 5000), BENCH_SECONDS, BENCH_CONNECTIONS,
BENCH_ROUNDS as bench_mail.py; AS_MODULE, AS_ADMIN, AS_TOOLS."""

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

NCONTACTS = int(os.environ.get("BENCH_CONTACTS", "5000"))
ROUNDS = bench_mail.ROUNDS


def vcard(i):
    return ("BEGIN:VCARD\r\nVERSION:3.0\r\nUID:bench-%d\r\nFN:Person %d Example\r\n"
            "N:Example;Person %d;;;\r\nEMAIL;TYPE=work:person%d@example.net\r\n"
            "TEL;TYPE=cell:+33 6 12 34 %02d %02d\r\nORG:Bench Inc.;Unit %d\r\n"
            "ADR;TYPE=home:;;%d Main Street;Springfield;;12345;USA\r\nEND:VCARD\r\n"
            % (i, i, i, i, i % 100, i % 97, i % 10, i))


def sync_body(fid, key, window=100):
    return easclient.encode(
        "<Sync %s><Collections><Collection><SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>"
        "<WindowSize>%d</WindowSize></Collection></Collections></Sync>"
        % (mailutil.NS % "AirSync:", key, fid, window))


def full_sync(dev, fid):
    key, adds, pages, server, more = "0", 0, 0, 0.0, True
    while more:
        t0 = time.monotonic()
        data = dev.post("Sync", sync_body(fid, key))
        server += time.monotonic() - t0
        x = bench_mail.xml_of(data)
        key = re.search(r"<SyncKey>([^<]+)</SyncKey>", x).group(1)
        adds += x.count("<Add>")
        more = "<MoreAvailable" in x or pages == 0
        pages += 1
    return key, adds, pages, server


def main():
    module = os.environ["AS_MODULE"]
    os.environ.setdefault("AS_ADMIN", os.path.join(os.path.dirname(module), "activesync-admin"))
    root = tempfile.mkdtemp(prefix="mod_activesync-bench-contacts-")
    os.chmod(root, 0o755)
    coll = os.path.join(root, "collections")
    os.makedirs(coll)
    os.chown(coll, mailutil.WWW.pw_uid, mailutil.WWW.pw_gid)
    srv = mailutil.MailServer(root)
    srv.setup_mail()
    srv.datadir = prepare_datadir(os.path.join(root, "data"), ("example.com",))
    body = mailutil.mail_body(root, srv.port, None,
                              extra='ActiveSyncCollections "%s/%%u"\nAlias /static "%s/htdocs"\n'
                              % (coll, root))
    body += ("<Location /static>\n    AuthType Basic\n    AuthName \"ActiveSync\"\n"
             "    AuthBasicProvider file\n    AuthUserFile \"%s\"\n    Require valid-user\n"
             "</Location>\n" % srv.htpasswd)
    srv.write_conf(module, mpm="event", body=body, loglevel="warn activesync:notice")
    open(os.path.join(root, "htdocs", "empty"), "w").close()
    os.chmod(os.path.join(root, "htdocs", "empty"), 0o644)
    srv.start()
    try:
        run(srv, root, coll)
    finally:
        srv.stop()
        shutil.rmtree(root, ignore_errors=True)


def run(srv, root, coll):
    addr = srv.add_account("bench")
    first = bench_mail.Raw(srv.port, addr, "BENCHFS")
    fs = bench_mail.xml_of(first.post("FolderSync", easclient.encode(
        '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>')))
    fid = re.search(r"<ServerId>([^<]+)</ServerId>\s*<ParentId>[^<]*</ParentId>\s*"
                    r"<DisplayName>[^<]*</DisplayName>\s*<Type>9</Type>", fs).group(1)
    book = os.path.join(coll, addr, "contacts")
    for i in range(NCONTACTS):
        with open(os.path.join(book, "bench-%d.vcf" % i), "w", newline="") as f:
            f.write(vcard(i))
    subprocess.run(["chown", "-R", "%d:%d" % (mailutil.WWW.pw_uid, mailutil.WWW.pw_gid), book],
                   check=True)
    time.sleep(2.1)  # a folder written in the last 2 s has an unsettled token
    print("contacts: one httpd (event MPM), an address book of %d vCards" % NCONTACTS)
    cat_cmd = "find %s -name '*.vcf' -print0 | xargs -0 cat > /dev/null" % book
    subprocess.run(cat_cmd, shell=True, check=True)
    syncs, cats = [], []
    for i in range(ROUNDS):
        t0 = time.monotonic()
        subprocess.run(cat_cmd, shell=True, check=True)
        cats.append(time.monotonic() - t0)
        dev = bench_mail.Raw(srv.port, addr, "BENCHC%d" % i)
        t0 = time.monotonic()
        key, adds, pages, server = full_sync(dev, fid)
        syncs.append((time.monotonic() - t0, server, pages, adds, key, dev))
        assert adds == NCONTACTS, (adds, NCONTACTS)
    syncs.sort(key=lambda s: s[0])
    wall, server, pages, adds, key, dev = syncs[len(syncs) // 2]
    cat = sorted(cats)[len(cats) // 2]
    print("  initial sync, WindowSize 100: %d contacts in %d pages, %.2f s wall (%.2f s "
          "waiting for httpd)   cat of the files %.3f s   ratio %.0f"
          % (adds, pages, wall, server, cat, server / cat))
    nochange = sync_body(fid, key)
    assert dev.post("Sync", nochange) == b"", "the no-change Sync was not empty"
    files = {}
    for name, data in (("empty", b""), ("sync", nochange)):
        files[name] = os.path.join(root, name + ".bin")
        with open(files[name], "wb") as f:
            f.write(data)
    script = os.path.join(root, "bench.lua")
    with open(script, "w") as f:
        f.write(bench_mail.WRK_SCRIPT)
    base = "http://127.0.0.1:%d" % srv.port
    q = easclient.plain_query("Sync", addr, dev.device, "Bench")
    m_runs, s_runs = [], []
    for _ in range(ROUNDS):
        s_runs.append(bench_mail.wrk(base + "/static/empty", "GET", files["empty"],
                                     bench_mail.auth(addr), script))
        m_runs.append(bench_mail.wrk(base + httpdconf.EAS_PATH + "?" + q, "POST", files["sync"],
                                     bench_mail.auth(addr), script))
    m, s = sorted(m_runs)[ROUNDS // 2], sorted(s_runs)[ROUNDS // 2]
    print("  no-change Sync (%d contacts) %9.0f req/s   static %9.0f req/s   ratio %.2f"
          % (NCONTACTS, m, s, m / s))


if __name__ == "__main__":
    main()
