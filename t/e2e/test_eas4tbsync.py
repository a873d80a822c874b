"""The real client EAS-4-TbSync (../shared/clients/eas4tbsync, see its
README) against the module: OPTIONS, Provision, Settings, FolderSync, and on
the first contacts folder Sync from key 0, GetItemEstimate, the
MoreAvailable download, client Add/Change/Delete, ItemOperations Fetch and
an incremental Sync with nothing pending.  Every step must pass.

Skipped, with the reason, when ../shared is not beside the repository."""

import os
import subprocess

import pytest

import sharedkit
from test_contacts_sync import book_dir, csrv, vcard, write_file  # noqa: F401
from mailutil import PASSWORD


def test_eas4tbsync_passes_every_step(csrv, tmp_path):
    run = sharedkit.tool("clients", "eas4tbsync/run")
    if run is None:
        pytest.skip("../shared/clients/eas4tbsync not found: the real-client test needs the "
                    "shared kit beside the repository")
    srv = csrv
    addr = srv.add_account("tb%s" % srv.mpm)
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"  # makes the default collections
    book = book_dir(srv, addr)
    # enough contacts for a MoreAvailable loop
    for i in range(30):
        write_file(os.path.join(book, "tb%d.vcf" % i), vcard("tb%d" % i, "Tb%d" % i, "Bird%d" % i))
    url = "http://127.0.0.1:%d/Microsoft-Server-ActiveSync" % srv.port
    p = subprocess.run([run, "--url", url, "--user", addr, "--password", PASSWORD,
                        "--trace-dir", str(tmp_path / "trace")],
                       capture_output=True, text=True, timeout=900)
    out = p.stdout + p.stderr
    print("\n# eas4tbsync (%s):\n%s" % (srv.mpm, p.stdout))
    assert p.returncode == 0, out
    assert " 0 failed" in out, out
    assert "FAIL" not in p.stdout, out
