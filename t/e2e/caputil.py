"""Helpers of the mailbox-cap end-to-end tests (test_cap*.py): a server per
test with its own data directory, many accounts, concurrent clients, and
the admin tool's view of the registry.

A cap server serves one domain (example.net) whose accounts u000 ..
uNNN@example.net all inherit activesync=on from the domain, behind Basic
auth from an htpasswd file with one {SHA} password for all (cheap to
check, so the clients measure the module rather than the password
hashing).  Every test starts its own server(s) with a fresh data
directory: nothing depends on another test's leftovers.
"""

import base64
import concurrent.futures
import hashlib
import http.client
import os
import random
import threading
import time

import easclient
import httpdconf
from e2eharness import (CRASH_RE, Server, admin, check_clean_shutdown, foreign_files,
                        prepare_datadir)

DOMAIN = "example.net"
PASSWORD = "Cap-Pw-2718"

# More than one child under both MPMs (the template's defaults give event a
# single child): the cap must hold across processes, not only threads.
MPM_CHILDREN = """\
<IfModule mpm_event_module>
    ServerLimit 4
    StartServers 4
    ThreadLimit 8
    ThreadsPerChild 8
    MaxRequestWorkers 32
    MinSpareThreads 8
    MaxSpareThreads 32
</IfModule>
<IfModule mpm_prefork_module>
    ServerLimit 16
    StartServers 8
    MinSpareServers 6
    MaxSpareServers 16
    MaxRequestWorkers 16
</IfModule>
"""


def account(i):
    return "u%03d@%s" % (i, DOMAIN)


def vc_xml(cert_b64):
    return ('<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>%s</Certificate>'
            '</Certificates></ValidateCert>' % cert_b64)


def write_htpasswd(path, users, password=PASSWORD):
    h = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    with open(path, "w") as f:
        for u in users:
            f.write("%s:{SHA}%s\n" % (u, h))
    os.chmod(path, 0o644)


def cap_body(root, pki, cap=None, license=None, key=None, extra=""):
    lines = ["ActiveSync On", "ActiveSyncProvisioning Off", 'ActiveSyncDataDir "%s/data"' % root,
             'ActiveSyncTrustedCAFile "%s"' % pki.ca_file]
    if cap is not None:
        lines.append("ActiveSyncMailboxCount %d" % cap)
    if license:
        lines.append('ActiveSyncLicenseFile "%s"' % license)
    if key:
        lines.append('ActiveSyncLicenseKey "%s"' % key)
    return ("\n".join(lines) + "\n" + MPM_CHILDREN + extra + "\n"
            + httpdconf.activesync_location(os.path.join(root, "conf", "htpasswd")))


class CapServer(Server):
    """A server of the cap tests: Server plus the data directory, the
    accounts and request helpers."""

    def setup(self, module_path, mpm, pki, naccounts, cap=None, license=None, key=None,
              extra="", domains=(DOMAIN,), loglevel="warn activesync:info"):
        self.mpm = mpm
        self.pki = pki
        self.module_path = module_path
        self.users = [account(i) for i in range(naccounts)]
        write_htpasswd(os.path.join(self.root, "conf", "htpasswd"), self.users)
        self.datadir = os.path.join(self.root, "data")
        if not os.path.isdir(self.datadir):
            prepare_datadir(self.datadir, domains)
        self.configure(cap=cap, license=license, key=key, extra=extra, loglevel=loglevel)
        self.cert = pki.der_b64("leaf")
        self.request_body = easclient.encode(vc_xml(self.cert))
        self._validated = set()
        self._lock = threading.Lock()
        return self

    def configure(self, cap=None, license=None, key=None, extra="",
                  loglevel="warn activesync:info"):
        self.write_conf(self.module_path, mpm=self.mpm, loglevel=loglevel,
                        body=cap_body(self.root, self.pki, cap, license, key, extra))
        rc, out = self.check_syntax()
        assert rc == 0, "configuration refused:\n%s" % out

    # ---- requests ------------------------------------------------------------
    def eas(self, user):
        return easclient.EasClient(self.port, user=user, password=PASSWORD,
                                   device_id="CAP%s" % user.split("@")[0].upper())

    def post(self, user):
        """One ValidateCert POST; returns the HTTP status.  A 200 reply is
        checked (validate-eas and both decoders) once per distinct body."""
        r = self.eas(user).post(body=self.request_body)
        if r.status == 200:
            self._check_reply(r.body)
        return r.status

    def options(self, user):
        return self.eas(user).options().status

    def _check_reply(self, body):
        with self._lock:
            if body in self._validated:
                return
        root = easclient.decode_reply(body)
        st = [e.text for e in easclient.find_all(root, "Status")]
        assert st and all(s == "1" for s in st), st
        with self._lock:
            self._validated.add(body)

    def storm(self, users, fn=None, threads=32):
        """fn(user) for every user, `threads` at a time; {user: result}."""
        fn = fn or self.post
        with concurrent.futures.ThreadPoolExecutor(threads) as ex:
            return dict(zip(users, ex.map(fn, users)))

    # ---- the admin tool's view -------------------------------------------------
    def admin(self, *args, **kw):
        return admin(self.datadir, *args, **kw)

    def mailbox_count(self):
        j = self.admin("mailbox", "count", json_out=True)
        assert j["consistent"], j
        return j["count"]

    def registered(self):
        return {m["address"] for m in self.admin("mailbox", "list", json_out=True)["mailboxes"]}

    def accounts(self):
        """{address: account json} of the accounts with a record or a slot."""
        j = self.admin("account", "list", DOMAIN, json_out=True)
        return {a["address"]: a for a in j["accounts"]}

    def check_registry_in_step(self, cap):
        """The registry never above the cap, counter == records, and in step
        with the account records: no registered account is explicitly off,
        every account with activesync explicitly off is unregistered.
        Returns (registered set, explicitly-off set)."""
        n = self.mailbox_count()
        assert cap is None or n <= cap, (n, cap)
        accts = self.accounts()
        reg, off = set(), set()
        for a, j in accts.items():
            o = j["options"]["activesync"]
            if j["registered"]:
                reg.add(a)
                assert not (o["explicit"] and not o["value"]), j
            if o["explicit"] and not o["value"]:
                off.add(a)
                assert not j["registered"], j
        assert len(reg) == n, (len(reg), n)
        return reg, off

    def our_lines(self, mark):
        return [ln for ln in self.log_since(mark).splitlines() if "[activesync:" in ln]


def start_cap_server(run_dir, name, module_path, mpm, sanitize, pki, naccounts, **kw):
    srv = CapServer(os.path.join(run_dir, "%s-%s" % (name, mpm)), sanitize=sanitize)
    srv.setup(module_path, mpm, pki, naccounts, **kw)
    srv.start()
    return srv


def finish(srv, allow_5xx=False):
    """Stop srv and assert it was clean: no crash line, no sanitizer report,
    no 5xx in the access log (unless allowed: a kill storm answers 503 while
    a child's environment is being recovered), no root-owned file in the
    data directory."""
    srv.stop()
    problems = check_clean_shutdown(srv)
    if allow_5xx:
        problems = [p for p in problems if not (p.startswith("access_log:") and '" 503 ' in p)]
    assert not problems, "server %s was not clean:\n%s" % (srv.root, "\n".join(problems))
    assert not foreign_files(srv.datadir), foreign_files(srv.datadir)


def crash_lines(srv):
    return [ln for ln in srv.all_error_text().splitlines() if CRASH_RE.search(ln)]


def wait_until(pred, timeout=30, step=0.1):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        v = pred()
        if v:
            return v
        time.sleep(step)
    return pred()


def shuffled(seq, seed):
    out = list(seq)
    random.Random(seed).shuffle(out)
    return out


def raw_conn_ok(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        c.request("GET", "/")
        c.getresponse().read()
        c.close()
        return True
    except OSError:
        return False
