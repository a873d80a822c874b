"""The mailbox cap through httpd (DESIGN §1, issue 3): the documented case
under both MPMs, OPTIONS at the gate, refusals that never touch the
registry, and the admin tool run as root against a live data directory.

The documented case: a domain whose 500 accounts inherit ActiveSync on,
ActiveSyncMailboxCount 200, 32 concurrent clients across several children.
The first 200 distinct accounts are served; every later one gets 403 and
from then on shows activesync off, explicitly defined on the account; the
registry holds exactly 200; the 200 keep access across a graceful restart,
a hard restart and a full stop/start; disabling one frees a slot that a
newly enabled account takes; enabling another while full is refused by the
admin tool with a message naming the cap.
"""

import collections
import os
import re
import subprocess
import threading

import pytest

import easclient
import httpdconf
from caputil import DOMAIN, account, finish, start_cap_server

NACC, CAP = 500, 200

# Each MPM with another mechanism for "Mutex ... activesync-cap" (the
# template's "Mutex file:... default" covers the rest).
MUTEX = {"event": "flock", "prefork": "pthread"}


def startup_recoveries(srv):
    return srv.all_error_text().count("ASY12003")


def all_statuses(srv, fn=None):
    """Every account once, 32 at a time: {account: status}."""
    return srv.storm(srv.users, fn)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_documented_case_500_accounts_cap_200(run_dir, module_path, sanitize, pki, mpm):
    mutex = "Mutex %s:%s/run activesync-cap\n" % (MUTEX[mpm], os.path.join(
        run_dir, "doc-%s" % mpm)) if MUTEX[mpm] != "pthread" else "Mutex pthread activesync-cap\n"
    srv = start_cap_server(run_dir, "doc", module_path, mpm, sanitize, pki, NACC, cap=CAP,
                           extra=mutex)
    try:
        # "Mutex ... activesync-cap" is a known mutex type and took effect.
        out = subprocess.run(srv._cmd("-t", "-D", "DUMP_RUN_CFG"), capture_output=True,
                             text=True, env=srv._env()).stdout
        assert re.search(r"Mutex activesync-cap: .*mechanism=%s" % MUTEX[mpm], out), out
        log = srv.all_error_text()
        assert "mailbox cap: 200 mailboxes, from ActiveSyncMailboxCount 200" in log
        assert "[activesync:error]" not in log
        # The admin tool created the environment: recovered once at start.
        assert startup_recoveries(srv) == 1
        assert len(srv.children()) >= 3, srv.children()
        with open(os.path.join(srv.datadir, "cap.conf")) as f:
            assert "mailbox-count: 200" in f.read()

        # ---- the storm: 500 distinct accounts, 32 clients, several children.
        mark = srv.log_mark()
        first = all_statuses(srv)
        count = collections.Counter(first.values())
        assert count == {200: CAP, 403: NACC - CAP}, count
        admitted = {a for a, s in first.items() if s == 200}
        refused = set(srv.users) - admitted
        assert srv.mailbox_count() == CAP
        assert srv.registered() == admitted
        # Exactly one log line per refusal, naming the account and the cap.
        lines = srv.our_lines(mark)
        assert len(lines) == len(refused), (len(lines), lines[:3])
        for a in refused:
            mine = [ln for ln in lines if ln.split("ASY12029: ")[-1].startswith(a + ":")]
            assert len(mine) == 1, (a, mine)
            assert "[activesync:warn]" in mine[0]
            assert "the mailbox cap of 200 is reached (ActiveSyncMailboxCount 200)" in mine[0]
        # From then on: activesync off, explicitly defined on the account.
        accts = srv.accounts()
        for a in refused:
            o = accts[a]["options"]["activesync"]
            assert o == {"value": False, "source": "account", "explicit": True}, (a, o)
            assert not accts[a]["registered"]
        for a in admitted:
            o = accts[a]["options"]["activesync"]
            assert o == {"value": True, "source": "domain", "explicit": False}, (a, o)
            assert accts[a]["registered"] and accts[a]["admitted"]
        srv.check_registry_in_step(CAP)
        one = sorted(refused)[0]
        show = srv.admin("account", "show", one).stdout
        assert re.search(r"activesync\s+off\s+\(account, explicit\)", show), show
        assert "not registered" in show

        # Again: same answers; the refusal now names the explicit option.
        mark = srv.log_mark()
        again = all_statuses(srv)
        assert again == first
        lines = srv.our_lines(mark)
        assert len(lines) == len(refused)
        assert all("option activesync is off (set at account level)" in ln for ln in lines)

        # OPTIONS goes through the same gate when a user is authenticated.
        a, r = sorted(admitted)[0], sorted(refused)[0]
        ok = srv.eas(a).options()
        assert ok.status == 200 and ok.header("MS-ASProtocolVersions")
        no = srv.eas(r).options()
        assert no.status == 403 and no.header("MS-ASProtocolVersions") is None

        def still_the_same(what):
            now = all_statuses(srv)
            assert now == first, (what, collections.Counter(
                (first[u], now[u]) for u in srv.users if first[u] != now[u]))
            assert srv.mailbox_count() == CAP

        # ---- restarts: the 200 keep access, nobody else gets in.
        srv.graceful()
        still_the_same("graceful")
        assert startup_recoveries(srv) == 1  # never on a graceful restart
        srv.hard_restart()
        still_the_same("-k restart")
        assert startup_recoveries(srv) == 2  # the children are gone: recovery runs
        srv.stop()
        srv.start()
        still_the_same("stop/start")
        assert startup_recoveries(srv) == 3

        # ---- disabling one frees its slot; a newly enabled account takes it.
        gone, newcomer, third = sorted(admitted)[0], sorted(refused)[0], sorted(refused)[1]
        srv.admin("account", "set", gone, "activesync=off")
        assert srv.mailbox_count() == CAP - 1
        assert srv.post(gone) == 403
        p = srv.admin("account", "set", newcomer, "activesync=on")
        assert "registered" in p.stdout, p.stdout
        assert srv.mailbox_count() == CAP
        assert srv.post(newcomer) == 200
        assert srv.options(newcomer) == 200
        # Enabling another while full: refused, naming the cap.
        p = srv.admin("account", "set", third, "activesync=on", ok=False)
        assert p.returncode == 1
        assert "mailbox cap of 200 is reached" in p.stderr, p.stderr
        assert srv.post(third) == 403
        srv.check_registry_in_step(CAP)
        # Re-enabling the disabled one is refused too (the registry is full).
        assert "mailbox cap of 200" in srv.admin("account", "set", gone, "activesync=on",
                                                 ok=False).stderr
    finally:
        finish(srv)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_refusals_before_the_gate_never_touch_the_registry(run_dir, module_path, sanitize,
                                                           pki, mpm):
    off = ("<VirtualHost 127.0.0.1:*>\n    ServerName off.test\n    ActiveSync Off\n"
           "</VirtualHost>\n<VirtualHost 127.0.0.1:*>\n    ServerName localhost\n"
           "</VirtualHost>\n")
    noauth = ("<Location /noauth/Microsoft-Server-ActiveSync>\n    SetHandler activesync\n"
              "    Require all granted\n</Location>\n")
    srv = start_cap_server(run_dir, "before", module_path, mpm, sanitize, pki, 10, cap=1,
                           extra=off + noauth)
    try:
        u = account(0)
        c = srv.eas(u)
        body = srv.request_body
        advertised = set(easclient.EasClient(srv.port, path="/noauth" + easclient.EAS_PATH)
                         .options().header("MS-ASProtocolCommands").split(","))
        for cmd in sorted(set(easclient.COMMAND_CODES) - advertised)[:3]:
            assert c.post(cmd=cmd, body=body).status == 501, cmd       # not implemented
        assert c.post(cmd="Frobnicate", body=body).status == 501      # unknown
        assert c.post(body=body, version="9.9").status == 400         # version
        assert c.post(body=body, version=None).status == 400          # no version
        assert c.post(body=body, user=account(1)).status == 403       # User mismatch
        assert c.post(body=body, query="Cmd=ValidateCert&User=%00").status == 400
        assert c.with_(host="off.test").post(body=body).status == 404  # ActiveSync Off
        # (OPTIONS there is core's generic answer, not ActiveSync's.)
        assert c.with_(host="off.test").options().header("MS-ASProtocolVersions") is None
        # OPTIONS without an authenticated user: answered as before.
        r = easclient.EasClient(srv.port, path="/noauth/Microsoft-Server-ActiveSync").options()
        assert r.status == 200 and r.header("MS-ASProtocolVersions")
        assert srv.mailbox_count() == 0 and srv.accounts() == {}
        # The first request that passes every check takes the only slot.
        assert srv.post(account(2)) == 200
        assert srv.registered() == {account(2)}
        assert srv.post(u) == 403
        assert srv.options(account(3)) == 403
    finally:
        finish(srv)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_options_gate_and_effective_options(run_dir, module_path, sanitize, pki, mpm):
    """An account whose effective activesync is off (domain, class or
    account level) gets 403 on OPTIONS and POST with one line naming the
    level; an unknown domain resolves to the built-in default (off)."""
    srv = start_cap_server(run_dir, "optgate", module_path, mpm, sanitize, pki, 6,
                           domains=(DOMAIN, "example.org"))
    try:
        srv.admin("domain", "set", "example.org", "activesync=off")
        srv.admin("class", "add", DOMAIN + "/interns")
        srv.admin("class", "set", DOMAIN + "/interns", "activesync=off")
        srv.admin("account", "set", account(1), "class=interns")
        srv.admin("account", "set", account(2), "activesync=off")
        srv.admin("account", "set", account(3), "class=interns", "activesync=on")
        cases = {account(0): (200, None), account(1): (403, "class"),
                 account(2): (403, "account"), account(3): (200, None)}
        for a, (want, level) in cases.items():
            mark = srv.log_mark()
            assert srv.options(a) == want, a
            assert srv.post(a) == want, a
            lines = srv.our_lines(mark)
            if want == 200:
                assert lines == [], lines
            else:
                assert len(lines) == 2, lines  # one per request
                assert all(("%s: ActiveSync refused: option activesync is off (set at %s "
                            "level)" % (a, level)) in ln for ln in lines), lines
        # A user of an unknown domain and of a domain set off.
        from caputil import write_htpasswd
        write_htpasswd(os.path.join(srv.root, "conf", "htpasswd"),
                       srv.users + ["x@example.org", "y@unknown.test"])
        for who, level in (("x@example.org", "domain"), ("y@unknown.test", "built-in")):
            mark = srv.log_mark()
            assert srv.post(who) == 403
            lines = srv.our_lines(mark)
            assert len(lines) == 1 and "set at %s level" % level in lines[0], lines
        # Refusals for the option never create a record or take a slot.
        assert srv.registered() == {account(0), account(3)}
    finally:
        finish(srv)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_admin_tool_as_root_on_live_datadir(run_dir, module_path, sanitize, pki, mpm):
    """activesync-admin run as root while httpd serves: it works on the
    same environment, leaves no root-owned file, and the children keep
    serving (reads and new admissions) afterwards."""
    assert os.geteuid() == 0
    srv = start_cap_server(run_dir, "rootadm", module_path, mpm, sanitize, pki, 60, cap=40)
    stop = threading.Event()
    seen = collections.Counter()
    lock = threading.Lock()

    def load():
        i = 0
        while not stop.is_set():
            st = srv.post(account(i % 20))
            with lock:
                seen[st] += 1
            i += 1

    try:
        threads = [threading.Thread(target=load) for _ in range(4)]
        for t in threads:
            t.start()
        for i in range(20, 30):
            srv.admin("account", "set", account(i), "activesync=on")   # reserves a slot
            srv.admin("account", "show", account(i), json_out=True)
            srv.admin("mailbox", "list", json_out=True)
        srv.admin("domain", "set", DOMAIN, "pim=off")
        srv.admin("class", "add", DOMAIN + "/staff")
        srv.admin("account", "set", account(30), "class=staff", "contacts=off")
        srv.admin("account", "set", account(25), "activesync=off")     # frees it
        srv.admin("domain", "unset", DOMAIN, "pim")
        stop.set()
        for t in threads:
            t.join()
        assert set(seen) == {200}, seen
        from e2eharness import foreign_files
        assert foreign_files(srv.datadir) == []
        # The children still work: served, reserved-by-admin and new ones.
        assert srv.post(account(0)) == 200
        assert srv.post(account(21)) == 200
        assert srv.post(account(25)) == 403
        for i in range(31, 40):
            assert srv.post(account(i)) == 200
        # 20 + 9 reserved (30 was never enabled) + 9 new = 38; one free slot.
        assert srv.mailbox_count() == 38
        reg, _ = srv.check_registry_in_step(40)
        m = {x["address"]: x for x in srv.admin("mailbox", "list", json_out=True)["mailboxes"]}
        assert m[account(21)]["by"] == "admin" and m[account(0)]["by"] == "request"
        assert foreign_files(srv.datadir) == []
    finally:
        stop.set()
        finish(srv)


def test_datadir_with_foreign_files_is_not_given_away(run_dir, module_path, sanitize, pki):
    """A mistyped ActiveSyncDataDir (a directory holding other files) must
    not be handed to the httpd user: httpd refuses to start and says why;
    an empty or missing directory is created and given to it."""
    from caputil import CapServer
    srv = CapServer(os.path.join(run_dir, "foreign-event"), sanitize=sanitize)
    datadir = os.path.join(srv.root, "data")
    os.makedirs(datadir)
    with open(os.path.join(datadir, "notes.txt"), "w") as f:
        f.write("not ours\n")
    srv.datadir = datadir
    srv.setup(module_path, "event", pki, 3, cap=5)
    from httpdconf import HttpdError
    with pytest.raises(HttpdError):
        srv.start(timeout=3)
    log = srv.all_error_text()
    assert "ASY12011" in log and "notes.txt" in log and "not a mod_activesync file" in log, log
    st = os.stat(datadir)
    assert st.st_uid == 0 and os.stat(os.path.join(datadir, "notes.txt")).st_uid == 0
    srv.stop()
    # Without the stranger it starts, and the directory is the User's.
    os.unlink(os.path.join(datadir, "notes.txt"))
    srv.start()
    try:
        from e2eharness import foreign_files
        import pwd
        assert os.stat(datadir).st_uid == pwd.getpwnam(httpdconf.RUN_USER).pw_uid
        assert srv.post(account(0)) == 403  # no domain set up: built-in default off
        assert foreign_files(datadir) == []
    finally:
        finish(srv)
