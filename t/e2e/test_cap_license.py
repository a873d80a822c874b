"""Licences through httpd: keys and licences made with `activesync-admin
license keygen/sign`; a valid licence admits its count; an expired one, one
signed by another key and one changed after signing admit no new mailbox
(registered ones stay served, as_cap.h), nothing is written on the refused
account, and the error log says why at start-up and on each refusal."""

import os

import pytest

import httpdconf
from caputil import account, finish, start_cap_server
from e2eharness import admin


@pytest.fixture(scope="module")
def keys(run_dir):
    d = os.path.join(run_dir, "license-keys")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o755)
    out = {}
    for name in ("vendor", "other"):
        priv, pub = os.path.join(d, name + ".key"), os.path.join(d, name + ".pub")
        admin(d, "license", "keygen", priv, pub)
        out[name] = (priv, pub)
    return d, out


def sign(keys, name, key="vendor", mailboxes=3, expires="2099-12-31"):
    d, k = keys
    path = os.path.join(d, name + ".license")
    admin(d, "license", "sign", "--key", k[key][0], "--licensee", "Example School",
          "--mailboxes", str(mailboxes), "--expires", expires, "--id", name, "-o", path)
    os.chmod(path, 0o644)
    return path


def refusals(srv, mark):
    return [ln for ln in srv.our_lines(mark) if "ASY12029" in ln]


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
def test_valid_then_expired_licence(run_dir, module_path, sanitize, pki, mpm, keys):
    valid = sign(keys, "valid-" + mpm, mailboxes=3)
    pub = keys[1]["vendor"][1]
    srv = start_cap_server(run_dir, "lic", module_path, mpm, sanitize, pki, 10,
                           license=valid, key=pub)
    try:
        log = srv.all_error_text()
        assert ("mailbox cap: 3 mailboxes, from licence %s (Example School, 3 mailboxes, "
                "expires 2099-12-31)" % valid) in log, log
        got = {a: srv.post(a) for a in srv.users[:5]}
        assert list(got.values()) == [200, 200, 200, 403, 403], got
        assert srv.mailbox_count() == 3
        j = srv.admin("mailbox", "count", json_out=True)
        assert j["cap"]["mode"] == "limited" and j["cap"]["max"] == 3, j
        # A smaller ActiveSyncMailboxCount wins over the licence.
        srv.configure(cap=2, license=valid, key=pub)
        srv.graceful()
        assert "mailbox cap: 2 mailboxes, from ActiveSyncMailboxCount 2 (below the licence" \
            in srv.all_error_text()
        assert srv.post(account(0)) == 200  # registered: still served above the new cap
        srv.stop()

        # The same installation with an expired licence.
        expired = sign(keys, "expired-" + mpm, mailboxes=50, expires="2020-01-31")
        srv.configure(license=expired, key=pub)
        mark = srv.log_mark()
        srv.start()
        start = srv.log_since(mark)
        assert "[activesync:error]" in start and "ASY12008" in start, start
        assert "expired on 2020-01-31" in start, start
        # Registered mailboxes stay served; no new one is admitted.
        assert [srv.post(a) for a in srv.users[:3]] == [200, 200, 200]
        mark = srv.log_mark()
        assert srv.post(account(7)) == 403
        assert srv.options(account(7)) == 403
        lines = refusals(srv, mark)
        assert len(lines) == 2, lines  # one per refusal, each saying why
        for ln in lines:
            assert "[activesync:error]" in ln and account(7) in ln
            assert "expired on 2020-01-31" in ln, ln
        # A configuration problem is not a decision about the account:
        # nothing was written on it.
        a = srv.admin("account", "show", account(7), json_out=True)
        assert a["record"] is False and a["registered"] is False, a
        assert a["options"]["activesync"]["source"] == "domain"
        assert srv.mailbox_count() == 3
        # The admin tool refuses explicit enables for the same reason.
        p = srv.admin("account", "set", account(8), "activesync=on", ok=False)
        assert "no new mailbox can be admitted" in p.stderr and "expired" in p.stderr, p.stderr
    finally:
        finish(srv)


@pytest.mark.parametrize("mpm", httpdconf.MPMS)
@pytest.mark.parametrize("case", ["other-key", "tampered", "no-key", "missing-file"])
def test_invalid_licence_admits_nobody(run_dir, module_path, sanitize, pki, mpm, keys, case):
    d, k = keys
    pub = k["vendor"][1]
    if case == "other-key":
        lic = sign(keys, "other-%s" % mpm, key="other")
        why = "bad signature"
    elif case == "tampered":
        lic = sign(keys, "tampered-%s" % mpm, mailboxes=3)
        with open(lic) as f:
            text = f.read()
        assert "mailboxes: 3\n" in text
        with open(lic, "w") as f:
            f.write(text.replace("mailboxes: 3\n", "mailboxes: 300\n"))
        why = "altered"
    elif case == "no-key":
        lic, pub = sign(keys, "nokey-%s" % mpm), None
        why = "no public key configured"
    else:
        lic = os.path.join(d, "does-not-exist.license")
        why = "cannot read licence file"
    srv = start_cap_server(run_dir, "badlic-%s" % case, module_path, mpm, sanitize, pki, 4,
                           license=lic, key=pub)
    try:
        log = srv.all_error_text()
        start = [ln for ln in log.splitlines() if "ASY12008" in ln]
        assert len(start) == 1 and "[activesync:error]" in start[0], log
        assert why in start[0], start
        for a in srv.users:
            mark = srv.log_mark()
            assert srv.post(a) == 403
            lines = refusals(srv, mark)
            assert len(lines) == 1 and why in lines[0] and a in lines[0], lines
        assert srv.mailbox_count() == 0 and srv.accounts() == {}
    finally:
        finish(srv)
