"""build/demo-server: starts a working server with the demo account and a
sample Maildir, and stops it by pid."""

import email
import email.policy
import os
import subprocess

import pytest

import easclient
import httpdconf
from e2eharness import REPO

DEMO = os.path.join(REPO, "build", "demo-server")


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_demo_server(run_dir, module_path, sanitize, mpm):
    root = os.path.join(run_dir, "demo-" + mpm)
    port = httpdconf.free_port()
    env = dict(os.environ, DEMO_ROOT=root, DEMO_PORT=str(port), DEMO_MPM=mpm,
               AS_SANITIZE="1" if sanitize else "0")
    p = subprocess.run([DEMO, "start", module_path], env=env, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    h = httpdconf.Httpd(root, port=port, sanitize=sanitize)
    pid = h.pid()
    try:
        out = p.stdout
        assert "http://127.0.0.1:%d/Microsoft-Server-ActiveSync" % port in out
        assert "demo@example.com" in out and "password:  demo" in out
        assert "curl -i -u demo@example.com:demo -X OPTIONS" in out
        c = easclient.EasClient(port, user="demo@example.com", password="demo")
        r = c.options()
        assert r.status == 200 and r.header("MS-ASProtocolVersions")
        assert easclient.EasClient(port, user="demo@example.com", password="x").options() \
            .status == 401
        r = c.post(xml='<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>QUJD'
                       '</Certificate></Certificates></ValidateCert>')
        assert r.status == 200
        easclient.decode_reply(r.body)
        # A second start refuses while one runs.
        p2 = subprocess.run([DEMO, "start", module_path], env=env, capture_output=True,
                            text=True)
        assert p2.returncode != 0 and "already running" in p2.stderr
    finally:
        s = subprocess.run([DEMO, "stop"], env=env, capture_output=True, text=True)
    assert s.returncode == 0, s.stderr
    assert not h._alive(pid)
    assert not h._instance_pids()
    assert not h.sanitizer_reports()

    md = os.path.join(root, "mail", "example.com", "demo", "Maildir")
    for folder in ("", ".Sent", ".Drafts", ".Trash"):
        for sub in ("cur", "new", "tmp"):
            assert os.path.isdir(os.path.join(md, folder, sub))
    msgs = []
    for dirpath, _, files in os.walk(md):
        if os.path.basename(dirpath) in ("cur", "new"):
            for f in files:
                with open(os.path.join(dirpath, f), "rb") as fh:
                    msgs.append((dirpath, f, email.message_from_binary_file(
                        fh, policy=email.policy.default)))
    assert len(msgs) >= 5
    for d, f, m in msgs:
        assert m["Message-ID"] and m["Date"] and m["From"] and m["Subject"], f
        if os.path.basename(d) == "cur":
            assert ":2," in f
    atts = [a.get_filename() for _, _, m in msgs for a in m.iter_attachments()]
    assert "q2-figures.csv" in atts and "chart.png" in atts
