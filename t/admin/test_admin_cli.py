"""activesync-admin end to end: every command, --json output, error exits,
and file ownership when run as root on a data directory owned by the httpd
user.  AS_ADMIN gives the built tool (default obj/activesync-admin)."""
import json
import os
import pwd
import subprocess

import pytest

ADMIN = os.environ.get("AS_ADMIN") or os.path.join(
    os.path.dirname(__file__), "..", "..", "obj", "activesync-admin")


def run(datadir, *args, ok=True, code=None):
    p = subprocess.run([ADMIN, "-d", str(datadir), *args], capture_output=True, text=True,
                       timeout=60)
    if code is not None:
        assert p.returncode == code, (args, p.returncode, p.stdout, p.stderr)
    elif ok:
        assert p.returncode == 0, (args, p.returncode, p.stdout, p.stderr)
    else:
        assert p.returncode != 0, (args, p.stdout, p.stderr)
    return p


def js(datadir, *args):
    return json.loads(run(datadir, "--json", *args).stdout)


@pytest.fixture
def d(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    return data


def test_help_version_and_usage_errors(d):
    assert "domain add" in run(d, "--help").stdout
    assert "activesync-admin" in run(d, "--version").stdout
    run(d, code=2)
    assert "unknown command" in run(d, "frobnicate", code=2).stderr
    assert "unknown option" in run(d, "--bogus", "domain", "list", code=2).stderr
    run(d, "domain", "add", code=2)
    run(d, "domain", "set", "x.test", code=2)
    run(d, "account", "show", code=2)
    run(d, "mailbox", "list", "extra", code=2)
    run(d, "license", "show", code=2)


def test_domain_commands(d):
    run(d, "domain", "add", "Example.ORG")
    assert "already exists" in run(d, "domain", "add", "example.org", code=1).stderr
    assert "invalid domain" in run(d, "domain", "add", "bad_name", code=1).stderr
    run(d, "domain", "set", "example.org", "activesync=on", "contacts=off")
    doms = js(d, "domain", "list")["domains"]
    assert [x["name"] for x in doms] == ["example.org"]
    o = doms[0]["options"]
    assert o["activesync"] == {"value": True, "source": "domain", "explicit": True}
    assert o["contacts"] == {"value": False, "source": "domain", "explicit": True}
    assert o["email"] == {"value": True, "source": "built-in", "explicit": False}
    show = run(d, "domain", "show", "example.org").stdout
    assert "activesync  on   (domain, explicit)" in show
    assert "pim         on   (built-in)" in show
    run(d, "domain", "unset", "example.org", "contacts")
    assert js(d, "domain", "show", "example.org")["options"]["contacts"]["source"] == "built-in"
    err = run(d, "domain", "set", "example.org", "calendar=on", code=1).stderr
    assert "unknown option 'calendar'" in err
    assert "bad value" in run(d, "domain", "set", "example.org", "email=maybe", code=1).stderr
    assert "unknown domain" in run(d, "domain", "show", "nope.test", code=1).stderr
    assert "unknown domain" in run(d, "domain", "set", "nope.test", "email=off", code=1).stderr
    assert "unknown domain" in run(d, "domain", "remove", "nope.test", code=1).stderr
    run(d, "domain", "remove", "example.org")
    assert js(d, "domain", "list") == {"domains": []}


def test_class_commands(d):
    run(d, "domain", "add", "x.test")
    assert "unknown domain" in run(d, "class", "add", "nope.test/staff", code=1).stderr
    assert "DOMAIN/CLASS" in run(d, "class", "add", "staff", code=1).stderr
    run(d, "class", "add", "x.test/Staff")
    run(d, "class", "set", "x.test/staff", "email=off")
    c = js(d, "class", "show", "x.test/staff")
    assert c["name"] == "staff" and c["members"] == 0
    assert c["options"]["email"] == {"value": False, "source": "class", "explicit": True}
    assert c["options"]["activesync"]["source"] == "built-in"
    assert [x["name"] for x in js(d, "class", "list")["classes"]] == ["staff"]
    assert [x["name"] for x in js(d, "class", "list", "x.test")["classes"]] == ["staff"]
    assert "email       off  (class, explicit)" in run(d, "class", "show", "x.test/staff").stdout
    run(d, "class", "unset", "x.test/staff", "email")
    assert "unknown class" in run(d, "class", "show", "x.test/nope", code=1).stderr
    run(d, "account", "set", "a@x.test", "class=staff")
    err = run(d, "class", "remove", "x.test/staff", code=1).stderr
    assert "1 member" in err and "--force" in err
    run(d, "class", "remove", "--force", "x.test/staff")
    assert js(d, "class", "list")["classes"] == []
    assert js(d, "account", "show", "a@x.test")["record"] is False


def test_account_commands_and_sources(d):
    run(d, "domain", "add", "x.test")
    run(d, "domain", "set", "x.test", "activesync=on")
    run(d, "class", "add", "x.test/staff")
    run(d, "class", "set", "x.test/staff", "email=off")
    # No record: inherits everything.
    a = js(d, "account", "show", "New@X.test")
    assert a["address"] == "new@x.test" and a["record"] is False
    assert a["options"]["activesync"] == {"value": True, "source": "domain", "explicit": False}
    # Unknown domain: built-in defaults.
    a = js(d, "account", "show", "u@unknown.test")
    assert a["domain_known"] is False
    assert a["options"]["activesync"] == {"value": False, "source": "built-in", "explicit": False}
    assert "unknown domain" in run(d, "account", "set", "u@unknown.test", "pim=off", code=1).stderr
    assert "unknown class" in run(d, "account", "set", "b@x.test", "class=nope", code=1).stderr
    run(d, "account", "set", "bob@x.test", "class=staff", "pim=off")
    a = js(d, "account", "show", "bob@x.test")
    assert a["class"] == "staff" and a["record"] is True
    assert a["options"]["email"]["source"] == "class"
    assert a["options"]["pim"] == {"value": False, "source": "account", "explicit": True}
    text = run(d, "account", "show", "bob@x.test").stdout
    assert "class       staff" in text and "pim         off  (account, explicit)" in text
    assert [x["address"] for x in js(d, "account", "list")["accounts"]] == ["bob@x.test"]
    assert js(d, "account", "list", "x.test")["accounts"][0]["class"] == "staff"
    assert "bob@x.test" in run(d, "account", "list").stdout
    run(d, "account", "unset", "bob@x.test", "pim", "class")
    assert js(d, "account", "show", "bob@x.test")["record"] is False
    assert "invalid account" in run(d, "account", "show", "nodomain", code=1).stderr
    assert "no such account" in run(d, "account", "remove", "ghost@x.test", code=1).stderr
    assert "unknown option" in run(d, "account", "unset", "bob@x.test", "colour", code=1).stderr


def test_cap_enable_disable_and_mailboxes(d):
    run(d, "domain", "add", "x.test")
    run(d, "--cap", "2", "account", "set", "a@x.test", "activesync=on")
    run(d, "--cap", "2", "account", "set", "b@x.test", "activesync=on")
    err = run(d, "--cap", "2", "account", "set", "c@x.test", "activesync=on", code=1).stderr
    assert "mailbox cap of 2 is reached" in err and "c@x.test" in err
    assert js(d, "account", "show", "c@x.test")["options"]["activesync"]["value"] is False
    m = js(d, "--cap", "2", "mailbox", "list")
    assert m["count"] == 2 and m["cap"]["max"] == 2 and m["cap"]["mode"] == "limited"
    assert [x["address"] for x in m["mailboxes"]] == ["a@x.test", "b@x.test"]
    assert all(x["by"] == "admin" and x["admitted"].endswith("Z") for x in m["mailboxes"])
    assert "FIRST ADMISSION" in run(d, "mailbox", "list").stdout
    c = js(d, "--cap", "2", "mailbox", "count")
    assert c["count"] == 2 and c["records"] == 2 and c["consistent"] is True
    assert "full" in run(d, "--cap", "2", "mailbox", "count").stdout
    # Disable frees a slot, which an enable takes.
    run(d, "--cap", "2", "account", "set", "a@x.test", "activesync=off")
    assert js(d, "mailbox", "count")["count"] == 1
    run(d, "--cap", "2", "account", "set", "c@x.test", "activesync=on")
    # Removal frees a slot.
    run(d, "account", "remove", "b@x.test")
    assert js(d, "mailbox", "count")["count"] == 1
    assert "--cap takes a number" in run(d, "--cap", "lots", "mailbox", "count", code=2).stderr


def test_cap_conf_written_by_module_is_used(d):
    (d / "cap.conf").write_text("# test\nmailbox-count: 1\n")
    run(d, "domain", "add", "x.test")
    run(d, "account", "set", "a@x.test", "activesync=on")
    err = run(d, "account", "set", "b@x.test", "activesync=on", code=1).stderr
    assert "cap of 1" in err and "ActiveSyncMailboxCount 1" in err
    c = js(d, "mailbox", "count")
    assert c["cap"]["max"] == 1 and c["cap"]["from"].endswith("cap.conf")
    # The command line overrides it.
    run(d, "--cap", "none", "account", "set", "b@x.test", "activesync=on")


def test_domain_remove_force_releases_slots(d):
    run(d, "domain", "add", "x.test")
    run(d, "class", "add", "x.test/k")
    run(d, "account", "set", "a@x.test", "activesync=on", "class=k")
    err = run(d, "domain", "remove", "x.test", code=1).stderr
    assert "--force" in err
    run(d, "domain", "remove", "x.test", "--force")
    assert js(d, "mailbox", "count")["count"] == 0
    assert js(d, "account", "list")["accounts"] == []


def test_license_commands(d, tmp_path):
    priv, pub = tmp_path / "v.key", tmp_path / "v.pub"
    run(d, "license", "keygen", str(priv), str(pub))
    assert oct(priv.stat().st_mode & 0o777) == "0o600"
    assert "overwrite" in run(d, "license", "keygen", str(priv), str(pub), code=1).stderr
    lic = tmp_path / "lic.txt"
    run(d, "license", "sign", "--key", str(priv), "--licensee", "Example School",
        "--mailboxes", "3", "--expires", "2999-12-31", "--issued", "2025-01-15",
        "--id", "A-1", "-o", str(lic))
    text = lic.read_text()
    assert "licensee: Example School\n" in text and "\nsignature: " in text
    s = js(d, "license", "show", str(lic), "--key", str(pub))
    assert s["status"] == "valid" and s["mailboxes"] == 3 and s["licensee"] == "Example School"
    assert s["id"] == "A-1" and s["issued"] == "2025-01-15"
    assert "valid" in run(d, "license", "show", str(lic), "--key", str(pub)).stdout
    assert js(d, "license", "show", str(lic))["status"] == "unverified"
    # Signed to stdout.
    out = run(d, "license", "sign", "--key", str(priv), "--licensee", "X", "--mailboxes", "1",
              "--expires", "2000-01-01").stdout
    old = tmp_path / "old.txt"
    old.write_text(out)
    err = run(d, "license", "show", str(old), "--key", str(pub), code=1).stderr
    assert "expired on 2000-01-01" in err
    # Another key, tampering, malformed, unreadable.
    priv2, pub2 = tmp_path / "o.key", tmp_path / "o.pub"
    run(d, "license", "keygen", str(priv2), str(pub2))
    assert "bad signature" in run(d, "license", "show", str(lic), "--key", str(pub2),
                                  code=1).stderr
    bad = tmp_path / "bad.txt"
    bad.write_text(text.replace("mailboxes: 3", "mailboxes: 9"))
    assert js_fail(d, "license", "show", str(bad), "--key", str(pub))["status"] == "bad-signature"
    bad.write_text("hello\n")
    assert "malformed" in run(d, "license", "show", str(bad), "--key", str(pub), code=1).stderr
    assert "cannot read" in run(d, "license", "show", str(tmp_path / "none"), code=1).stderr
    run(d, "license", "sign", "--key", str(priv), "--licensee", "X", code=2)
    assert "--expires" in run(d, "license", "sign", "--key", str(priv), "--licensee", "X",
                              "--mailboxes", "1", "--expires", "soon", code=1).stderr
    # The licence as the cap of explicit enables.
    run(d, "domain", "add", "x.test")
    for u in ("a", "b", "c"):
        run(d, "--license", str(lic), "--license-key", str(pub), "account", "set",
            f"{u}@x.test", "activesync=on")
    err = run(d, "--license", str(lic), "--license-key", str(pub), "account", "set",
              "e@x.test", "activesync=on", code=1).stderr
    assert "cap of 3" in err and "Example School" in err
    err = run(d, "--license", str(old), "--license-key", str(pub), "account", "set",
              "e@x.test", "activesync=on", code=1).stderr
    assert "no new mailbox" in err and "expired" in err


def js_fail(datadir, *args):
    p = run(datadir, "--json", *args, code=1)
    return json.loads(p.stdout)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_run_leaves_files_owned_by_datadir_owner():
    import shutil
    import tempfile
    from pathlib import Path
    www = pwd.getpwnam("www-data")
    top = Path(tempfile.mkdtemp(prefix="as-admin-", dir="/tmp"))  # traversable by www-data
    top.chmod(0o755)
    data = top / "data"
    data.mkdir()
    os.chown(data, www.pw_uid, www.pw_gid)
    try:
        _root_run_checks(data, www)
    finally:
        shutil.rmtree(top)


def _root_run_checks(data, www):
    run(data, "domain", "add", "x.test")
    run(data, "account", "set", "a@x.test", "activesync=on")
    files = list(data.iterdir())
    assert files
    for f in files:
        st = f.lstat()
        assert (st.st_uid, st.st_gid) == (www.pw_uid, www.pw_gid), f
    # The httpd user can use the environment afterwards.
    p = subprocess.run(["runuser", "-u", "www-data", "--", ADMIN, "-d", str(data), "--json",
                        "mailbox", "count"], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, p.stderr
    assert json.loads(p.stdout)["count"] == 1


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root")
def test_root_refuses_missing_datadir(tmp_path):
    err = run(tmp_path / "missing", "domain", "list", code=1).stderr
    assert "does not exist" in err
