"""The device limit through httpd (ActiveSyncMaxDevices 3): an account's
fourth device is refused with the protocol's status -- FolderSync/Status
177 and Provision/Status 177 for EAS 14.x (HTTP 200), 403 for 12.1 -- and
exactly one log line naming the account; no record is written for it; the
first three devices are still served; a virtual host with
ActiveSyncMaxDevices Unlimited admits more.  One MPM (event): the limit is
decided in the core's transaction, which test_device_limit.c races.

test_expiry_runs_in_maintenance: devices recorded three days ago that never
provisioned are removed by the children's periodic maintenance
(ActiveSyncDeviceExpiry 1d 180d), with one notice line; a recent device of
the same account stays."""

import itertools
import os
import subprocess
import time

import pytest

import easclient
from e2eharness import STANDARD_ACCOUNTS, USERS, Server, admin, check_clean_shutdown, \
    make_maildir, prepare_datadir, standard_body, start_server, write_htpasswd

ACCOUNT = "bob@example.com"  # authenticates as "bob" (ActiveSyncDefaultDomain)
_ids = itertools.count(1)


def limit_body(root, port, pki):
    vh = "127.0.0.1:%d" % port
    return ("ActiveSyncMaxDevices 3\n"
            "ActiveSyncDeviceExpiry 1d 180d\n"
            + standard_body(root, port, pki)
            + "<VirtualHost %s>\n    ServerName unlimited.test\n"
              "    ActiveSyncMaxDevices Unlimited\n</VirtualHost>\n" % vh)


@pytest.fixture(scope="module")
def server(run_dir, module_path, sanitize, pki):
    srv = start_server(run_dir, "test_device_limit", module_path, "event", sanitize, pki,
                       body_fn=limit_body)
    yield srv
    srv.stop()
    problems = check_clean_shutdown(srv)
    assert not problems, "\n".join(problems)


def status_of(body, root):
    doc = easclient.decode_reply(body)
    assert doc.tag.split("}")[-1] == root
    for c in doc:
        if isinstance(c.tag, str) and c.tag.split("}")[-1] == "Status":
            return c.text
    return None


def foldersync(srv, dev, version="14.1", host="localhost"):
    c = srv.client("bob").with_(device_id=dev, version=version, host=host)
    return c.post("FolderSync", xml='<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                                    "</FolderSync>")


def devices(srv):
    return sorted(d["device_id"] for d in
                  admin(srv.datadir, "device", "list", ACCOUNT, json_out=True)["devices"])


def test_fourth_device_refused(server):
    ids = ["LIM%02d" % next(_ids) for _ in range(5)]
    for dev in ids[:3]:
        r = foldersync(server, dev)
        assert r.status == 200, r
        assert status_of(r.body, "FolderSync") == "1"
    assert devices(server) == sorted(ids[:3])

    # The fourth: in-band status 177 (MaximumDevicesReached), one log line.
    r, lines = server.call(lambda: foldersync(server, ids[3]))
    assert r.status == 200, r
    assert r.header("Content-Type") == easclient.WBXML_TYPE
    assert status_of(r.body, "FolderSync") == "177"
    refusals = [ln for ln in lines if "new device refused" in ln]
    assert len(refusals) == 1, lines
    assert len(lines) == 1, lines
    assert "account=%s" % ACCOUNT in refusals[0] and ids[3] in refusals[0]
    assert "ActiveSyncMaxDevices" in refusals[0] and "3 devices" in refusals[0]
    assert USERS["bob"] not in server.all_error_text()

    # Provision gets its own reply with Status 177.
    c = server.client("bob").with_(device_id=ids[3])
    r = c.post("Provision", xml='<Provision xmlns="Provision:"><Policies><Policy><PolicyType>'
                                "MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies>"
                                "</Provision>")
    assert r.status == 200, r
    assert status_of(r.body, "Provision") == "177"

    # 12.1 has no common status codes: 403.
    r = foldersync(server, ids[4], version="12.1")
    assert r.status == 403, r

    # No record for the refused devices; the first three are still served.
    assert devices(server) == sorted(ids[:3])
    for dev in ids[:3]:
        r = foldersync(server, dev)
        assert r.status == 200 and status_of(r.body, "FolderSync") == "1", r

    # A virtual host without a limit admits the fourth device.
    r = foldersync(server, ids[3], host="unlimited.test")
    assert r.status == 200 and status_of(r.body, "FolderSync") == "1", r
    assert devices(server) == sorted(ids[:4])

    # Removing a device frees a place on the limited host.
    admin(server.datadir, "device", "remove", ACCOUNT, ids[0])
    admin(server.datadir, "device", "remove", ACCOUNT, ids[1])
    r = foldersync(server, ids[4])
    assert r.status == 200 and status_of(r.body, "FolderSync") == "1", r


def as_device(datadir, *args, when=None):
    tool = os.path.join(os.environ.get("AS_TOOLS") or "", "as-device")
    if not os.access(tool, os.X_OK):
        pytest.skip("as-device not built (AS_TOOLS)")
    env = dict(os.environ)
    if when is not None:
        env["AS_DEVICE_NOW"] = str(int(when))
    p = subprocess.run([tool, datadir, *args], capture_output=True, text=True, timeout=60,
                       env=env)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p.stdout.strip()


def test_expiry_runs_in_maintenance(run_dir, module_path, sanitize, pki):
    root = os.path.join(run_dir, "test_device_expiry-event")
    srv = Server(root, sanitize=sanitize)
    write_htpasswd(os.path.join(root, "conf", "htpasswd"), USERS)
    srv.datadir = prepare_datadir(os.path.join(root, "data"))
    for account in STANDARD_ACCOUNTS:
        make_maildir(root, account)
    # Before httpd starts (it gives the data directory's files to its User):
    # two devices of a flood three days ago, one recent device.
    old = time.time() - 3 * 86400
    for dev in ("FLOODA", "FLOODB"):
        as_device(srv.datadir, "contact", ACCOUNT, dev, "Outlook", "14.1", when=old)
    as_device(srv.datadir, "contact", ACCOUNT, "RECENT", "iPhone", "14.1")
    assert devices(srv) == ["FLOODA", "FLOODB", "RECENT"]
    srv.write_conf(module_path, mpm="event", body=limit_body(root, srv.port, pki))
    rc, out = srv.check_syntax()
    assert rc == 0, out
    srv.start()
    try:
        # The first maintenance round of a child (every second) runs the
        # pass; wait for its effect, bounded.
        deadline = time.time() + 30
        while devices(srv) != ["RECENT"] and time.time() < deadline:
            time.sleep(0.2)
        assert devices(srv) == ["RECENT"]
        deadline = time.time() + 10
        while "expired 2 device(s)" not in srv.all_error_text() and time.time() < deadline:
            time.sleep(0.2)
        assert "expired 2 device(s)" in srv.all_error_text()
        r = foldersync(srv, "RECENT")
        assert r.status == 200 and status_of(r.body, "FolderSync") == "1", r
    finally:
        srv.stop()
    problems = check_clean_shutdown(srv)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize("directives,message", [
    ("ActiveSyncMaxDevices 0\n", "from 1 to 100000 or Unlimited"),
    ("ActiveSyncMaxDevices many\n", "from 1 to 100000 or Unlimited"),
    ("ActiveSyncDeviceExpiry 1w 180d\n", "must be two ages"),
    ("ActiveSyncDeviceExpiry 1d\n", "ActiveSyncDeviceExpiry"),
    ("<VirtualHost *:1>\n    ActiveSyncDeviceExpiry 1d 180d\n</VirtualHost>\n",
     "cannot occur within"),
])
def test_directives_checked(run_dir, module_path, sanitize, pki, directives, message):
    root = os.path.join(run_dir, "test_device_directives")
    srv = Server(root, sanitize=sanitize)
    write_htpasswd(os.path.join(root, "conf", "htpasswd"), USERS)
    srv.write_conf(module_path, mpm="event",
                   body=standard_body(root, srv.port, pki) + directives)
    rc, out = srv.check_syntax()
    assert rc != 0 and message in out, out
