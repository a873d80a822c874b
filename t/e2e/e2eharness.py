"""Shared parts of the end-to-end harness (imported by conftest.py and the
tests): accounts, certificates, the standard server configuration, the
Server class and the clean-shutdown check.  Fixtures are in conftest.py."""

import base64
import json
import os
import pwd
import re
import shutil
import subprocess

import easclient
import httpdconf

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


def _gen_dir():
    """Where server roots go: t/gen when httpd's User (www-data) can reach it,
    else a directory under /tmp (a clone below /root is not traversable)."""
    if os.environ.get("AS_GEN_DIR"):
        return os.environ["AS_GEN_DIR"]
    d = REPO
    while d != os.path.dirname(d):
        if not os.stat(d).st_mode & 0o001:
            return os.path.join("/tmp", "mod_activesync-t-gen")
        d = os.path.dirname(d)
    return os.path.join(REPO, "t", "gen")


GEN = _gen_dir()

# Accounts in the htpasswd file: authenticated name -> password.
USERS = {
    "demo@example.com": "demo-Pw-4711",
    "bob": "bob-Pw-0815",
    "example.com\\carol": "carol-Pw-1234",
    "tracer@example.com": "Tr4ce-S3cret!pw",
}

# The 16-byte binary device id the base64 tests send (not all text bytes,
# so the server renders it as upper-case hex).
BINARY_DEVICE_ID = bytes.fromhex("00ff10e7a28d04ca5d3c7422e3c2ad95")
BINARY_DEVICE_HEX = BINARY_DEVICE_ID.hex().upper()
TRACE_DEVICE = "TRACEDEV1"

# Lines that mean a child crashed or a sanitizer fired.
CRASH_RE = re.compile(
    r"AH00052|exit signal|Segmentation|AddressSanitizer|runtime error:|"
    r"UndefinedBehaviorSanitizer|double free|stack smashing")


# ---- certificates --------------------------------------------------------------

def _openssl(*args, cwd):
    p = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), p.stderr))
    return p.stdout


class Pki:
    """A test CA, certificates it issued (good, revoked), a self-signed
    one, a CRL and a hashed CA directory, made with the openssl CLI."""

    def __init__(self, d):
        self.dir = d
        os.makedirs(d, exist_ok=True)
        os.chmod(d, 0o755)
        ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
        _openssl("req", "-x509", *ec, "-keyout", "ca.key", "-out", "ca.pem", "-days", "3650",
                 "-subj", "/CN=mod_activesync e2e CA",
                 "-addext", "basicConstraints=critical,CA:TRUE",
                 "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
        with open(os.path.join(d, "leaf.ext"), "w") as f:
            f.write("basicConstraints=CA:FALSE\n"
                    "keyUsage=critical,digitalSignature,nonRepudiation\n"
                    "extendedKeyUsage=emailProtection\n"
                    "subjectAltName=email:demo@example.com\n")
        with open(os.path.join(d, "ca.cnf"), "w") as f:
            f.write("[ca]\ndefault_ca=e2e\n[e2e]\ndir=%s\ndatabase=$dir/index.txt\n"
                    "crlnumber=$dir/crlnumber\ndefault_md=sha256\ndefault_crl_days=30\n" % d)
        open(os.path.join(d, "index.txt"), "w").close()
        with open(os.path.join(d, "crlnumber"), "w") as f:
            f.write("01\n")
        for name in ("leaf", "revoked"):
            _openssl("req", "-new", *ec, "-keyout", name + ".key", "-out", name + ".csr",
                     "-subj", "/CN=%s/emailAddress=demo@example.com" % name, cwd=d)
            _openssl("x509", "-req", "-in", name + ".csr", "-CA", "ca.pem", "-CAkey", "ca.key",
                     "-CAcreateserial", "-out", name + ".pem", "-days", "365",
                     "-extfile", "leaf.ext", cwd=d)
        _openssl("req", "-x509", *ec, "-keyout", "self.key", "-out", "self.pem", "-days", "365",
                 "-subj", "/CN=self-signed/emailAddress=demo@example.com", cwd=d)
        _openssl("ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem",
                 "-revoke", "revoked.pem", cwd=d)
        _openssl("ca", "-config", "ca.cnf", "-keyfile", "ca.key", "-cert", "ca.pem",
                 "-gencrl", "-out", "crl.pem", cwd=d)
        self.ca_file = os.path.join(d, "ca.pem")
        self.crl_file = os.path.join(d, "crl.pem")
        self.ca_path = os.path.join(d, "capath")
        os.makedirs(self.ca_path, exist_ok=True)
        shutil.copy(self.ca_file, os.path.join(self.ca_path, "ca.pem"))
        _openssl("rehash", self.ca_path, cwd=d)
        for root, dirs, files in os.walk(d):
            for x in dirs:
                os.chmod(os.path.join(root, x), 0o755)
            for x in files:
                os.chmod(os.path.join(root, x), 0o644)

    def der_b64(self, name):
        der = subprocess.run(["openssl", "x509", "-in", os.path.join(self.dir, name + ".pem"),
                              "-outform", "DER"], capture_output=True, check=True).stdout
        return base64.b64encode(der).decode("ascii")


# ---- the data directory and the admin tool --------------------------------------

# Domains whose accounts inherit activesync on in every standard server
# (the built-in default is off: DESIGN §1).
STANDARD_DOMAINS = ("example.com", "example.org")


def admin_path():
    """The activesync-admin built with the module ($AS_ADMIN, else next to
    $AS_MODULE)."""
    p = os.environ.get("AS_ADMIN")
    if not p and os.environ.get("AS_MODULE"):
        p = os.path.join(os.path.dirname(os.environ["AS_MODULE"]), "activesync-admin")
    return p


def admin(datadir, *args, ok=True, json_out=False, timeout=60):
    """Run activesync-admin -d DATADIR ARGS (as root: it switches to the
    owner of the data directory).  json_out: add --json, return the parsed
    output.  ok: assert exit 0 (None: no check)."""
    cmd = [admin_path(), "-d", datadir] + (["--json"] if json_out else []) + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if ok is True:
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    elif ok is False:
        assert p.returncode != 0, (args, p.stdout, p.stderr)
    if json_out and p.returncode == 0:
        return json.loads(p.stdout)
    return p


def prepare_datadir(datadir, domains=STANDARD_DOMAINS):
    """A data directory owned by httpd's User with `domains` set to
    activesync=on (what an administrator does before the first device)."""
    os.makedirs(datadir, exist_ok=True)
    www = pwd.getpwnam(httpdconf.RUN_USER)
    os.chown(datadir, www.pw_uid, www.pw_gid)
    os.chmod(datadir, 0o750)
    for d in domains:
        admin(datadir, "domain", "add", d)
        admin(datadir, "domain", "set", d, "activesync=on")
    return datadir


# Canonical accounts of USERS (ActiveSyncDefaultDomain example.com).
STANDARD_ACCOUNTS = ("demo@example.com", "bob@example.com", "carol@example.com",
                     "tracer@example.com")


def make_maildir(root, account):
    """ROOT/mail/DOMAIN/USER/Maildir (cur, new, tmp), the standard servers'
    ActiveSyncMaildir, owned by httpd's User; returns its path."""
    local, domain = account.split("@", 1)
    www = pwd.getpwnam(httpdconf.RUN_USER)
    path = os.path.join(root, "mail", domain, local, "Maildir")
    for d in (os.path.join(root, "mail"), os.path.join(root, "mail", domain),
              os.path.join(root, "mail", domain, local), path,
              os.path.join(path, "cur"), os.path.join(path, "new"), os.path.join(path, "tmp")):
        os.makedirs(d, exist_ok=True)
        os.chown(d, www.pw_uid, www.pw_gid)
        os.chmod(d, 0o755 if d in (os.path.join(root, "mail"),
                                   os.path.join(root, "mail", domain)) else 0o700)
    return path


def foreign_files(datadir):
    """Entries of the data directory not owned by httpd's User."""
    www = pwd.getpwnam(httpdconf.RUN_USER)
    out = []
    for f in sorted(os.listdir(datadir)):
        st = os.lstat(os.path.join(datadir, f))
        if st.st_uid != www.pw_uid:
            out.append((f, st.st_uid))
    return out


# ---- the server ----------------------------------------------------------------

def standard_body(root, port, pki):
    """The configuration every e2e server runs."""
    htpasswd = os.path.join(root, "conf", "htpasswd")
    loc = httpdconf.activesync_location
    main = loc(htpasswd)
    deflate = loc(htpasswd, "/deflate" + httpdconf.EAS_PATH, "    SetOutputFilter DEFLATE\n")
    bytype = loc(htpasswd, "/deflate-bytype" + httpdconf.EAS_PATH,
                 "    AddOutputFilterByType DEFLATE application/vnd.ms-sync.wbxml text/html "
                 "text/plain\n")
    vh = "127.0.0.1:%d" % port
    return f"""\
ActiveSync On
ActiveSyncDefaultDomain example.com
ActiveSyncMaxRequestSize 64K
ActiveSyncDataDir "{root}/data"
# Most tests exercise commands, not provisioning: the standard servers serve
# unprovisioned devices; test_provision.py runs servers with the default On.
ActiveSyncProvisioning Off
# Mail of user@domain (make_maildir() creates one).
ActiveSyncMaildir "{root}/mail/%d/%n/Maildir"

{main}
# A location whose administrator forgot authentication.
<Location /noauth/Microsoft-Server-ActiveSync>
    SetHandler activesync
    Require all granted
</Location>
{deflate}
{bytype}
# Control for the deflate tests: an ordinary file, compressed.
Alias /deflate-control "{root}/htdocs"
<Location /deflate-control>
    SetOutputFilter DEFLATE
</Location>

# The first virtual host is the default one (Host: localhost).
<VirtualHost {vh}>
    ServerName localhost
    ActiveSyncTrustedCAFile "{pki.ca_file}"
</VirtualHost>
<VirtualHost {vh}>
    ServerName off.test
    ActiveSync Off
</VirtualHost>
<VirtualHost {vh}>
    ServerName limits.test
    ActiveSyncMaxRequestSize 2048
    ActiveSyncWBXMLLimits 4 20
</VirtualHost>
<VirtualHost {vh}>
    ServerName other.test
    ActiveSyncDefaultDomain example.org
</VirtualHost>
<VirtualHost {vh}>
    ServerName capath.test
    ActiveSyncTrustedCAPath "{pki.ca_path}"
</VirtualHost>
<VirtualHost {vh}>
    ServerName crl.test
    ActiveSyncTrustedCAFile "{pki.ca_file}"
    ActiveSyncCRLFile "{pki.crl_file}"
</VirtualHost>
<VirtualHost {vh}>
    ServerName trace.test
    ErrorLog logs/trace_log
    LogLevel warn activesync:trace4
    ActiveSyncTrustedCAFile "{pki.ca_file}"
    ActiveSyncTraceAccount tracer@example.com
    ActiveSyncTraceDevice {TRACE_DEVICE} {BINARY_DEVICE_HEX}
</VirtualHost>
<VirtualHost {vh}>
    ServerName traceall.test
    ErrorLog logs/traceall_log
    LogLevel warn activesync:trace4
    ActiveSyncMaxRequestSize 1M
</VirtualHost>
"""


def write_htpasswd(path, users):
    if shutil.which("htpasswd"):
        first = True
        for u, pw in users.items():
            args = ["htpasswd", "-b"] + (["-c"] if first else []) + [path, u, pw]
            subprocess.run(args, check=True, capture_output=True)
            first = False
    else:
        import hashlib
        with open(path, "w") as f:
            for u, pw in users.items():
                h = base64.b64encode(hashlib.sha1(pw.encode()).digest()).decode()
                f.write("%s:{SHA}%s\n" % (u, h))
    os.chmod(path, 0o644)


class Server(httpdconf.Httpd):
    """A running e2e server plus helpers for the tests."""

    def client(self, user="demo@example.com", password=None, **kw):
        if user is not None and password is None:
            password = USERS[user]
        return easclient.EasClient(self.port, user=user, password=password, **kw)

    def logs(self):
        d = os.path.join(self.root, "logs")
        return [os.path.join(d, f) for f in sorted(os.listdir(d)) if f.endswith("_log")
                and f != "access_log"]

    def all_error_text(self):
        out = []
        for p in self.logs():
            with open(p, "rb") as f:
                out.append(f.read().decode("utf-8", "replace"))
        return "\n".join(out)

    def trace_log(self, name):
        return os.path.join(self.root, "logs", name)

    def call(self, fn, log=None):
        """Run fn() (one request); return (result, our log lines it caused)."""
        path = log or self.error_log
        mark = self.log_mark(path)
        res = fn()
        lines = [ln for ln in self.log_since(mark, path).splitlines()
                 if "[activesync:" in ln]
        return res, lines


def check_clean_shutdown(srv):
    problems = []
    for p in srv.logs():
        with open(p, "rb") as f:
            for ln in f.read().decode("utf-8", "replace").splitlines():
                if CRASH_RE.search(ln):
                    problems.append("%s: %s" % (os.path.basename(p), ln))
    try:
        with open(srv.access_log) as f:
            for ln in f:
                m = re.search(r'" (\d{3}) ', ln)
                # 501 is the protocol's answer to a command that is not
                # implemented (MS-ASHTTP); any other 5xx is a failure.
                if m and m.group(1).startswith("5") and m.group(1) != "501":
                    problems.append("access_log: %s" % ln.rstrip())
    except OSError:
        pass
    for rep in srv.sanitizer_reports():
        with open(rep, "rb") as f:
            problems.append("%s:\n%s" % (rep, f.read().decode("utf-8", "replace")[:4000]))
    return problems


def start_server(run_dir, name, module_path, mpm, sanitize, pki, body_fn=standard_body,
                 loglevel="warn activesync:info"):
    root = os.path.join(run_dir, "%s-%s" % (name, mpm))
    srv = Server(root, sanitize=sanitize)
    write_htpasswd(os.path.join(root, "conf", "htpasswd"), USERS)
    srv.datadir = prepare_datadir(os.path.join(root, "data"))
    for account in STANDARD_ACCOUNTS:
        make_maildir(root, account)
    srv.write_conf(module_path, mpm=mpm, body=body_fn(root, srv.port, pki), loglevel=loglevel)
    rc, out = srv.check_syntax()
    assert rc == 0, "configuration refused:\n%s" % out
    srv.start()
    srv.mpm = mpm
    return srv
