"""Packaging: `make install DESTDIR=...` layout, the shipped
conf.d/activesync.{load,conf} (Debian mods-available style), the default of
the ActiveSync switch (Off) and every documented directive example."""

import filecmp
import os
import re
import subprocess

import pytest

import httpdconf
from e2eharness import (REPO, USERS, Server, admin, check_clean_shutdown, prepare_datadir,
                        write_htpasswd)

CONF = os.path.join(REPO, "conf.d", "activesync.conf")
LOAD = os.path.join(REPO, "conf.d", "activesync.load")


def test_load_file():
    with open(LOAD) as f:
        lines = [ln.strip() for ln in f if ln.strip() and not ln.startswith("#")]
    assert lines == ["LoadModule activesync_module "
                     "/usr/lib/apache2/modules/mod_activesync.so"]


def test_make_install_layout(run_dir, module_path, sanitize):
    rel = os.path.relpath(os.path.dirname(module_path), REPO)
    if rel.startswith("..") or os.path.basename(module_path) != "mod_activesync.so":
        pytest.skip("AS_MODULE is not a build of this tree")
    dest = os.path.join(run_dir, "destdir")
    # -o all: install what is built, never rebuild in the middle of a test run.
    p = subprocess.run(["make", "-s", "-o", "all", "O=" + rel,
                        "SANITIZE=" + ("1" if sanitize else "0"), "DESTDIR=" + dest, "install"],
                       cwd=REPO, capture_output=True, text=True)
    assert p.returncode == 0, p.stdout + p.stderr
    so = os.path.join(dest, "usr/lib/apache2/modules/mod_activesync.so")
    assert filecmp.cmp(so, module_path, shallow=False)
    avail = os.path.join(dest, "etc/apache2/mods-available")
    assert filecmp.cmp(os.path.join(avail, "activesync.load"), LOAD, shallow=False)
    assert filecmp.cmp(os.path.join(avail, "activesync.conf"), CONF, shallow=False)
    found = [os.path.join(r, f) for r, _, fs in os.walk(dest) for f in fs]
    admin = [f for f in found if f.endswith("/bin/activesync-admin")]
    assert len(admin) == 1 and os.access(admin[0], os.X_OK)


def _instance(run_dir, name, module_path, mpm, sanitize, body):
    srv = Server(os.path.join(run_dir, "%s-%s" % (name, mpm)), sanitize=sanitize)
    write_htpasswd(os.path.join(srv.root, "conf", "htpasswd"), USERS)
    srv.write_conf(module_path, mpm=mpm, body=body)
    return srv


def _uncommented(pki, root):
    """The shipped activesync.conf with every commented directive enabled and
    paths pointing at files that exist here."""
    out = []
    with open(CONF) as f:
        for ln in f:
            m = re.match(r"^(\s*)#([A-Z][A-Za-z]+)(\s.*)?$", ln.rstrip("\n"))
            if m:
                ln = m.group(1) + m.group(2) + (m.group(3) or "") + "\n"
            out.append(ln)
    text = "".join(out)
    text = text.replace("/etc/apache2/activesync.htpasswd", root + "/conf/htpasswd")
    text = text.replace("/etc/apache2/activesync-crl.pem", pki.crl_file)
    text = text.replace("/var/lib/activesync", root + "/data")
    text = text.replace("${APACHE_LOCK_DIR}", root + "/run")
    text = text.replace("/etc/apache2/activesync.license", root + "/conf/activesync.license")
    text = text.replace("/etc/apache2/activesync-license.pub", root + "/conf/license.pub")
    return text


def _licence(root, mailboxes=200):
    """A key pair and a valid licence where the shipped examples expect them."""
    conf = os.path.join(root, "conf")
    priv, pub = os.path.join(conf, "license.key"), os.path.join(conf, "license.pub")
    admin(conf, "license", "keygen", priv, pub)
    admin(conf, "license", "sign", "--key", priv, "--licensee", "e2e", "--mailboxes",
          str(mailboxes), "--expires", "2099-12-31", "-o",
          os.path.join(conf, "activesync.license"))
    os.chmod(pub, 0o644)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_shipped_conf_default_is_off(run_dir, module_path, sanitize, mpm):
    """Only the shipped files: the module loads, the location exists, and
    nothing is served until ActiveSync On."""
    srv = _instance(run_dir, "shipped", module_path, mpm, sanitize, "Include %s\n" % CONF)
    rc, out = srv.check_syntax()
    assert rc == 0, out
    srv.start()
    try:
        c = srv_client(srv)
        r = c.options()
        assert r.header("MS-ASProtocolVersions") is None
        r = c.post(xml='<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>QUJD'
                       '</Certificate></Certificates></ValidateCert>')
        assert r.status == 404
    finally:
        srv.stop()
    assert not check_clean_shutdown(srv)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_shipped_conf_all_examples(run_dir, module_path, sanitize, pki, mpm):
    """Every commented directive in activesync.conf, enabled, is accepted,
    and the result serves ActiveSync with Basic auth."""
    srv = _instance(run_dir, "examples", module_path, mpm, sanitize, "")
    conf = os.path.join(srv.root, "conf", "activesync.conf")
    with open(conf, "w") as f:
        f.write(_uncommented(pki, srv.root))
    prepare_datadir(os.path.join(srv.root, "data"))
    _licence(srv.root)
    srv.write_conf(module_path, mpm=mpm, body="Include %s\n" % conf)
    rc, out = srv.check_syntax()
    assert rc == 0, out
    srv.start()
    try:
        c = srv_client(srv)
        r = c.options()
        assert r.status == 200 and r.header("MS-ASProtocolVersions")
        assert srv_client(srv, password="wrong").options().status == 401
        r = c.post(xml='<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>QUJD'
                       '</Certificate></Certificates></ValidateCert>')
        assert r.status == 200
        # ActiveSyncMailboxCount 200 and a licence for 200: the count wins
        # as the smaller-or-equal one, and the start-up line says so.
        with open(srv.error_log) as f:
            log = f.read()
        assert "mailbox cap: 200 mailboxes, from ActiveSyncMailboxCount 200" in log or \
            "mailbox cap: 200 mailboxes, from licence" in log, log
    finally:
        srv.stop()
    assert not check_clean_shutdown(srv)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
@pytest.mark.parametrize("directive,error", [
    ("ActiveSync Maybe", "On or Off"),
    ("ActiveSyncDefaultDomain bad/domain", "not a domain"),
    ("ActiveSyncMaxRequestSize 0", "size"),
    ("ActiveSyncMaxRequestSize 2G", "size"),
    ("ActiveSyncMaxRequestSize 12X", "size"),
    ("ActiveSyncWBXMLLimits 1 100", "DEPTH"),
    ("ActiveSyncWBXMLLimits 10 x", "ELEMENTS"),
    ("ActiveSyncTrustedCAFile /nonexistent/ca.pem", "does not exist"),
    ("ActiveSyncTrustedCAPath /etc/hostname", "directory"),
    ("ActiveSyncCRLFile /nonexistent/crl.pem", "does not exist"),
    ("ActiveSyncMailboxCount -1", "number of mailboxes"),
    ("ActiveSyncMailboxCount lots", "number of mailboxes"),
    ("ActiveSyncDataDir /", "not a usable directory"),
    ("ActiveSyncProvisioning Maybe", "is not On, Off or Loose"),
    ("ActiveSyncProvisioning449 Never", "is not Auto, InBand or Both"),
    ("<VirtualHost 127.0.0.1:1>\nActiveSyncDataDir /tmp/x\n</VirtualHost>",
     "cannot occur within"),
    ("<VirtualHost 127.0.0.1:1>\nActiveSyncMailboxCount 5\n</VirtualHost>",
     "cannot occur within"),
    ("<VirtualHost 127.0.0.1:1>\nActiveSyncLicenseFile /tmp/l\n</VirtualHost>",
     "cannot occur within"),
    ("<VirtualHost 127.0.0.1:1>\nActiveSyncLicenseKey /tmp/k\n</VirtualHost>",
     "cannot occur within"),
])
def test_bad_directive_values_refused(run_dir, module_path, sanitize, mpm, directive, error):
    name = "baddir-%s" % re.sub(r"[^a-z0-9]", "", directive.lower())[:40]
    srv = _instance(run_dir, name, module_path, mpm, sanitize, directive + "\n")
    rc, out = srv.check_syntax()
    assert rc != 0
    assert error in out, out


def srv_client(srv, password=None):
    import easclient
    return easclient.EasClient(srv.port, user="demo@example.com",
                               password=password or USERS["demo@example.com"])
