"""A private Postfix for the e2e tests: the Debian `postfix` package's
programs, started as root with a configuration directory of its own in a
temporary directory, delivering into one Maildir per recipient, and
stopped again (always) by the test.

    with PrivatePostfix(["bob@example.net"], submit_group="www-data") as pf:
        cmd = pf.sendmail_command()   # for ActiveSyncSendmail
        ...
        msgs = pf.wait_for("bob@example.net", 1)

Layout under the temporary directory:
  etc/      main.cf, master.cf, the virtual mailbox table (texthash: no
            postmap needed)
  queue/    queue_directory (Postfix creates its subdirectories)
  data/     data_directory
  bin/      command_directory: links to /usr/sbin/post*, except postdrop
            and postqueue, which are copies WITHOUT the set-gid bit (see below)
  mail/     virtual_mailbox_base: mail/<domain>/<local>/Maildir/
  maillog   Postfix's log (maillog_file, through postlogd)

Why a command directory of its own: Postfix's sendmail hands the message
to postdrop, which is set-gid postdrop; a set-gid Postfix program run by a
user other than root accepts a non-default configuration directory only
when the DEFAULT main.cf lists it in alternate_config_directories.  The
test must not write /etc/postfix/main.cf (with debconf "No configuration"
there is none), and httpd's children run as www-data.  So the private
instance's command_directory holds a postdrop without the set-gid bit:
run by www-data it takes MAIL_CONFIG as any unprivileged program does, and
setgid_group is httpd's group, so www-data may write the maildrop queue
and signal pickup.  Mail submitted through the private sendmail therefore
goes through Postfix's own sendmail, postdrop, pickup, cleanup, qmgr and
virtual(8) delivery: nothing is simulated.

No TCP port is opened: the master.cf has no smtp inet service (and
inet_interfaces is loopback-only anyway); mail for domains not listed is
bounced by the error transport, never sent out.
"""

import email
import email.policy
import grp
import os
import pwd
import shutil
import signal
import subprocess
import tempfile
import time

POSTFIX = "/usr/sbin/postfix"
SENDMAIL = "/usr/sbin/sendmail"

# pickup, cleanup, qmgr, the rewrite and bounce services and virtual(8)
# delivery; nothing chrooted, no network listener.
MASTER_CF = """\
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""


def available():
    """None when Postfix can be used here, else the reason it cannot."""
    for p in (POSTFIX, SENDMAIL, "/usr/sbin/postdrop"):
        if not os.path.exists(p):
            return "%s is missing (install the Debian package postfix)" % p
    if os.geteuid() != 0:
        return "starting Postfix needs root"
    try:
        pwd.getpwnam("postfix")
    except KeyError:
        return "no postfix user"
    return None


class PrivatePostfix:
    """One private Postfix instance.  recipients: the addresses it delivers
    to (each into its own Maildir); submit_group: the group of the users
    that submit through sendmail_command() (httpd's Group)."""

    def __init__(self, recipients, submit_group, message_size_limit=64 * 1024 * 1024):
        self.recipients = list(recipients)
        self.submit_group = submit_group
        self.size_limit = message_size_limit
        self.base = None
        self.running = False

    # ---- paths -------------------------------------------------------------------
    @property
    def config_dir(self):
        return os.path.join(self.base, "etc")

    @property
    def queue_dir(self):
        return os.path.join(self.base, "queue")

    def maildir(self, addr):
        local, dom = addr.split("@")
        return os.path.join(self.base, "mail", dom, local, "Maildir")

    def sendmail_command(self):
        """The ActiveSyncSendmail value: Postfix's sendmail on this instance.
        The configuration directory goes in MAIL_CONFIG (through env, since
        the module runs the command without a shell): Postfix's sendmail
        run by a user other than root reads the default main.cf before it
        looks at -C, and there is none."""
        return "/usr/bin/env MAIL_CONFIG=%s %s -i" % (self.config_dir, SENDMAIL)

    # ---- set up ------------------------------------------------------------------
    def _write_config(self):
        www_gid = grp.getgrnam(self.submit_group).gr_gid
        pf = pwd.getpwnam("postfix")
        for d in ("etc", "queue", "data", "bin", "mail"):
            os.makedirs(os.path.join(self.base, d))
        os.chown(os.path.join(self.base, "data"), pf.pw_uid, pf.pw_gid)
        # the Maildirs belong to the postfix user (virtual_uid_maps)
        os.chown(os.path.join(self.base, "mail"), pf.pw_uid, pf.pw_gid)
        bindir = os.path.join(self.base, "bin")
        for name in os.listdir("/usr/sbin"):
            if not name.startswith("post"):
                continue
            src = os.path.join("/usr/sbin", name)
            dst = os.path.join(bindir, name)
            if name in ("postdrop", "postqueue"):
                shutil.copyfile(src, dst)
                os.chmod(dst, 0o755)  # no set-gid bit (see the module's text)
            else:
                os.symlink(src, dst)
        vmap = os.path.join(self.config_dir, "vmailbox")
        with open(vmap, "w") as f:
            for addr in self.recipients:
                local, dom = addr.split("@")
                f.write("%s %s/%s/Maildir/\n" % (addr, dom, local))
        domains = sorted({a.split("@")[1] for a in self.recipients})
        main = {
            "compatibility_level": "3.6",
            "myhostname": "postfix-e2e.localdomain",
            "mydomain": "localdomain",
            "myorigin": "$myhostname",
            "mydestination": "",
            "inet_interfaces": "loopback-only",
            "inet_protocols": "ipv4",
            "queue_directory": self.queue_dir,
            "data_directory": os.path.join(self.base, "data"),
            "command_directory": bindir,
            "mail_owner": "postfix",
            "setgid_group": self.submit_group,
            "maillog_file": os.path.join(self.base, "maillog"),
            "maillog_file_prefixes": self.base,
            "virtual_mailbox_domains": " ".join(domains),
            "virtual_mailbox_base": os.path.join(self.base, "mail"),
            "virtual_mailbox_maps": "texthash:%s" % vmap,
            "virtual_uid_maps": "static:%d" % pf.pw_uid,
            "virtual_gid_maps": "static:%d" % pf.pw_gid,
            "virtual_mailbox_limit": "0",
            "message_size_limit": str(self.size_limit),
            "local_transport": "error:no local delivery in the e2e Postfix",
            "default_transport": "error:no relaying from the e2e Postfix",
            "relay_transport": "error:no relaying from the e2e Postfix",
            "alias_maps": "",
            "alias_database": "",
            "biff": "no",
            "smtputf8_enable": "no",
            "append_dot_mydomain": "no",
            "queue_run_delay": "1s",
            "minimal_backoff_time": "1s",
            "maximal_backoff_time": "2s",
            "daemon_timeout": "60s",
        }
        with open(os.path.join(self.config_dir, "main.cf"), "w") as f:
            for k, v in main.items():
                f.write("%s = %s\n" % (k, v))
        with open(os.path.join(self.config_dir, "master.cf"), "w") as f:
            f.write(MASTER_CF)
        os.chmod(self.base, 0o755)
        for d in ("etc", "bin", "queue"):
            os.chmod(os.path.join(self.base, d), 0o755)
        self._www_gid = www_gid

    def _postfix(self, *args, check=True):
        p = subprocess.run([POSTFIX, "-c", self.config_dir] + list(args),
                           capture_output=True, text=True, timeout=60)
        if check and p.returncode != 0:
            raise RuntimeError("postfix %s: %s%s\n%s" % (" ".join(args), p.stdout, p.stderr,
                                                        self.log()))
        return p

    def set_param(self, name, value):
        """Change one main.cf parameter (sendmail and postdrop read main.cf
        on every submission; the daemons are reloaded)."""
        subprocess.run(["/usr/sbin/postconf", "-c", self.config_dir, "-e",
                        "%s=%s" % (name, value)], check=True, timeout=30)
        if self.master_pid():
            self._postfix("reload")

    def master_pid(self):
        try:
            with open(os.path.join(self.queue_dir, "pid", "master.pid")) as f:
                pid = int(f.read().split()[0])
            return pid if self._alive(pid) else None
        except (OSError, ValueError, IndexError):
            return None

    def start(self, timeout=20):
        """Start the master and wait until pickup listens (bounded)."""
        if self.base is None:
            self.base = tempfile.mkdtemp(prefix="as-postfix-")
            self._write_config()
        self._postfix("start")
        fifo = os.path.join(self.queue_dir, "public", "pickup")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.master_pid() and os.path.exists(fifo):
                self.running = True
                return
            time.sleep(0.05)
        raise RuntimeError("Postfix did not start within %ss:\n%s" % (timeout, self.log()))

    def stop(self, timeout=20):
        """Stop the master (postfix stop), then by its pid if it lingers;
        wait until it is gone (bounded)."""
        pid = self.master_pid()
        if pid is None:
            self.running = False
            return
        self._postfix("stop", check=False)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._alive(pid):
            time.sleep(0.05)
        if self._alive(pid):
            os.kill(pid, signal.SIGKILL)
        self.running = False

    @staticmethod
    def _alive(pid):
        try:
            os.kill(pid, 0)
        except OSError:
            return False
        # a zombie is not alive (the master is not our child, but be safe)
        try:
            with open("/proc/%d/stat" % pid) as f:
                return f.read().split(")")[-1].split()[0] != "Z"
        except OSError:
            return False

    def remove(self):
        if self.base:
            shutil.rmtree(self.base, ignore_errors=True)
            self.base = None

    def __enter__(self):
        try:
            self.start()
        except Exception:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        if exc[0] is None:
            self.remove()
        return False

    # ---- looking at the result -------------------------------------------------------
    def log(self):
        try:
            with open(os.path.join(self.base, "maillog"), errors="replace") as f:
                return f.read()
        except (OSError, TypeError):
            return ""

    def delivered(self, addr):
        """The raw messages in addr's Maildir (new/ and cur/), sorted by name."""
        out = []
        md = self.maildir(addr)
        for sub in ("new", "cur"):
            d = os.path.join(md, sub)
            if not os.path.isdir(d):
                continue
            for name in sorted(os.listdir(d)):
                with open(os.path.join(d, name), "rb") as f:
                    out.append(f.read())
        return out

    def wait_for(self, addr, count, timeout=30):
        """Poll addr's Maildir until it holds `count` messages (bounded);
        return them parsed (email.message.EmailMessage)."""
        deadline = time.monotonic() + timeout
        while True:
            raw = self.delivered(addr)
            if len(raw) >= count or time.monotonic() >= deadline:
                break
            time.sleep(0.05)
        assert len(raw) >= count, "%s: %d of %d message(s) after %ss\n%s" % (
            addr, len(raw), count, timeout, self.log()[-4000:])
        return [email.message_from_bytes(r, policy=email.policy.default) for r in raw]

    def queue_empty(self):
        """No message left in the queue (all delivered or bounced)."""
        for sub in ("maildrop", "incoming", "active", "deferred"):
            d = os.path.join(self.queue_dir, sub)
            for _root, _dirs, names in os.walk(d):
                if names:
                    return False
        return True

    def wait_queue_empty(self, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.queue_empty():
                return True
            time.sleep(0.05)
        return self.queue_empty()
