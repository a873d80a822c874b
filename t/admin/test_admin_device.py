"""activesync-admin device and policy commands: listing and showing devices
(text and --json), block/unblock/remove, wipe (full, account-only refused
below EAS 16.1, cancel), domain rules, and policy show/set/unset with
sources.  Devices are played by t/tools/as-device (AS_TOOLS gives the
directory; default obj/t/tools)."""
import os
import subprocess

import pytest

from test_admin_cli import js, run  # the same runner for activesync-admin

HERE = os.path.dirname(__file__)
TOOLS = os.environ.get("AS_TOOLS") or os.path.join(HERE, "..", "..", "obj", "t", "tools")
DEVICE = os.path.join(TOOLS, "as-device")


def device(datadir, *args):
    if not os.access(DEVICE, os.X_OK):
        pytest.skip("as-device not built (make O=... %s)" % DEVICE)
    p = subprocess.run([DEVICE, str(datadir), *args], capture_output=True, text=True, timeout=60)
    assert p.returncode == 0, (args, p.stdout, p.stderr)
    return p.stdout.strip()


@pytest.fixture
def d(tmp_path):
    data = tmp_path / "data"
    data.mkdir()
    run(data, "domain", "add", "example.org")
    return data


def test_device_list_show_and_access(d):
    assert "no devices" in run(d, "device", "list").stdout
    assert device(d, "contact", "ann@example.org", "APPL1", "iPhone", "14.1",
                  "Apple-iPhone/1") == "provision 142 200"
    device(d, "contact", "bob@example.org", "TB1", "TbSync", "14.0")
    key = device(d, "provision", "ann@example.org", "APPL1", "14.1")
    assert key.isdigit()

    out = run(d, "device", "list").stdout
    assert "APPL1" in out and "TB1" in out and "current" in out
    devs = js(d, "device", "list", "ann@example.org")["devices"]
    assert [x["device_id"] for x in devs] == ["APPL1"]
    assert devs[0]["provisioning"]["state"] == "current"
    assert devs[0]["provisioning"]["policy_key"] == key
    assert devs[0]["device_type"] == "iPhone"
    assert devs[0]["user_agent"] == "Apple-iPhone/1"
    assert devs[0]["blocked"] is False
    assert len(js(d, "device", "list", "example.org")["devices"]) == 2

    show = run(d, "device", "show", "ann@example.org", "appl1").stdout
    assert "device APPL1 of ann@example.org" in show and "current" in show

    # A policy change makes the key stale.
    run(d, "policy", "set", "example.org", "DevicePasswordEnabled=on")
    assert js(d, "device", "show", "ann@example.org", "APPL1")["provisioning"]["state"].startswith(
        "stale")

    run(d, "device", "block", "ann@example.org", "APPL1")
    j = js(d, "device", "show", "ann@example.org", "APPL1")
    assert j["blocked"] is True and j["explicit_access"] == "block"
    assert device(d, "contact", "ann@example.org", "APPL1", "iPhone", "14.1") == "blocked"
    run(d, "device", "unblock", "ann@example.org", "APPL1")
    assert js(d, "device", "show", "ann@example.org", "APPL1")["explicit_access"] == "allow"

    err = run(d, "device", "show", "ann@example.org", "NOPE", code=1).stderr
    assert "no device 'NOPE' for account ann@example.org" in err
    assert "invalid device id" in run(d, "device", "block", "ann@example.org", "b a d",
                                      code=1).stderr
    run(d, "device", "remove", "bob@example.org", "TB1")
    assert js(d, "device", "list", "bob@example.org") == {"devices": []}
    run(d, "device", "remove", "bob@example.org", "TB1", code=1)
    run(d, "device", "show", "ann@example.org", code=2)
    run(d, "device", "frob", code=2)
    run(d, "device", "block", "--account-only", "ann@example.org", "APPL1", code=2)


def test_device_wipe(d):
    device(d, "contact", "ann@example.org", "OLD", "Android", "14.1")
    device(d, "contact", "ann@example.org", "NEW", "iPhone", "16.1")

    err = run(d, "device", "wipe", "--account-only", "ann@example.org", "OLD", code=1).stderr
    assert "account-only wipe exists only in EAS 16.1" in err and "14.1" in err
    run(d, "device", "wipe", "--account-only", "ann@example.org", "NEW")
    assert js(d, "device", "show", "ann@example.org", "NEW")["wipe"]["account_only"] is True

    run(d, "device", "wipe", "ann@example.org", "OLD")
    assert device(d, "contact", "ann@example.org", "OLD", "Android", "14.1") == "provision 140 200"
    assert js(d, "device", "show", "ann@example.org", "OLD")["wipe"]["state"] == "requested"
    assert device(d, "provision", "ann@example.org", "OLD", "14.1") == "wipe 1"
    assert js(d, "device", "show", "ann@example.org", "OLD")["wipe"]["state"] == "sent"
    assert device(d, "wipe-ack", "ann@example.org", "OLD", "14.1") == "status 1"
    j = js(d, "device", "show", "ann@example.org", "OLD")
    assert j["wipe"]["state"] == "acknowledged" and j["wipe"]["acknowledged"]
    assert j["blocked"] is True
    assert "wiped" in run(d, "device", "list").stdout
    assert device(d, "contact", "ann@example.org", "OLD", "Android", "14.1") == "wiped"
    assert "already wiped" in run(d, "device", "wipe", "ann@example.org", "OLD", code=1).stderr
    run(d, "device", "remove", "ann@example.org", "OLD")
    assert device(d, "contact", "ann@example.org", "OLD", "Android", "14.1") == "provision 142 200"

    run(d, "device", "wipe", "--cancel", "ann@example.org", "NEW")
    assert js(d, "device", "show", "ann@example.org", "NEW")["wipe"]["state"] == "none"
    assert "no wipe is pending" in run(d, "device", "wipe", "--cancel", "ann@example.org", "NEW",
                                       code=1).stderr


def test_device_rules(d):
    device(d, "contact", "ann@example.org", "IP1", "iPhone", "14.1", "Apple-iPhone9C1/1402")
    assert "no device rules" in run(d, "device", "rule", "list", "example.org").stdout
    run(d, "device", "rule", "add", "example.org", "allow", "agent=Apple-iPhone9*")
    run(d, "device", "rule", "add", "example.org", "block", "type=iPhone")
    assert "already has the rule" in run(d, "device", "rule", "add", "example.org", "block",
                                         "type=iPhone", code=1).stderr
    rules = js(d, "device", "rule", "list", "example.org")["rules"]
    assert rules == [{"action": "allow", "field": "agent", "pattern": "Apple-iPhone9*"},
                     {"action": "block", "field": "type", "pattern": "iPhone"}]
    assert "1. allow agent=Apple-iPhone9*" in run(d, "device", "rule", "list",
                                                  "example.org").stdout
    # First match wins: the allow rule matches this user agent.
    assert js(d, "device", "show", "ann@example.org", "IP1")["blocked"] is False
    run(d, "device", "rule", "remove", "example.org", "allow", "agent=Apple-iPhone9*")
    j = js(d, "device", "show", "ann@example.org", "IP1")
    assert j["blocked"] is True and "block type=iPhone" in j["access"]
    assert device(d, "contact", "ann@example.org", "IP1", "iPhone", "14.1") == "blocked"
    # An explicit unblock beats the rule.
    run(d, "device", "unblock", "ann@example.org", "IP1")
    assert js(d, "device", "show", "ann@example.org", "IP1")["blocked"] is False

    assert "has no rule" in run(d, "device", "rule", "remove", "example.org", "allow",
                                "type=x", code=1).stderr
    assert "'allow' or 'block'" in run(d, "device", "rule", "add", "example.org", "deny",
                                       "type=x", code=1).stderr
    assert "type=GLOB or agent=GLOB" in run(d, "device", "rule", "add", "example.org", "block",
                                            "model=x", code=1).stderr
    assert "unknown domain" in run(d, "device", "rule", "list", "nope.test", code=1).stderr
    run(d, "device", "rule", "add", "example.org", "block", code=2)


def test_policy_commands(d):
    run(d, "class", "add", "example.org/staff")
    run(d, "account", "set", "ann@example.org", "class=staff")
    run(d, "policy", "set", "example.org", "DevicePasswordEnabled=on",
        "MinDevicePasswordLength=6")
    run(d, "policy", "set", "example.org/staff", "minDevicePasswordLength=8")
    run(d, "policy", "set", "ann@example.org", "AllowCamera=off", "MaxAttachmentSize=unlimited")

    p = js(d, "policy", "show", "ann@example.org")
    assert p["kind"] == "account"
    pol = p["policy"]
    assert pol["DevicePasswordEnabled"] == {"value": True, "source": "domain", "explicit": False}
    assert pol["MinDevicePasswordLength"] == {"value": 8, "source": "class", "explicit": False}
    assert pol["AllowCamera"] == {"value": False, "source": "account", "explicit": True}
    assert pol["MaxAttachmentSize"] == {"value": "unlimited", "source": "account",
                                        "explicit": True}
    assert pol["AllowWiFi"] == {"value": True, "source": "built-in", "explicit": False}
    assert js(d, "policy", "show", "example.org/staff")["policy"]["MinDevicePasswordLength"] == {
        "value": 8, "source": "class", "explicit": True}
    dom = js(d, "policy", "show", "example.org")["policy"]
    assert dom["MinDevicePasswordLength"] == {"value": 6, "source": "domain", "explicit": True}

    text = run(d, "policy", "show", "ann@example.org").stdout
    assert "AllowCamera" in text and "(account, explicit)" in text and "(class)" in text

    run(d, "policy", "unset", "example.org/staff", "MinDevicePasswordLength")
    assert js(d, "policy", "show", "ann@example.org")["policy"]["MinDevicePasswordLength"][
        "source"] == "domain"
    # A user without a record inherits from the domain.
    assert js(d, "policy", "show", "zed@example.org")["policy"]["DevicePasswordEnabled"][
        "source"] == "domain"

    assert "unknown policy setting 'Bogus'" in run(d, "policy", "set", "example.org", "Bogus=1",
                                                   code=1).stderr
    assert "bad value" in run(d, "policy", "set", "example.org", "MaxEmailAgeFilter=9",
                              code=1).stderr
    assert "unknown domain" in run(d, "policy", "set", "nope.test", "AllowCamera=0",
                                   code=1).stderr
    assert "unknown class" in run(d, "policy", "show", "example.org/nope", code=1).stderr
    assert "without a value" in run(d, "policy", "unset", "example.org", "AllowCamera=0",
                                    code=1).stderr
    run(d, "policy", "set", "example.org", code=2)
    run(d, "policy", "show", code=2)

    settings = js(d, "policy", "settings")["settings"]
    names = [s["name"] for s in settings]
    assert names[0] == "DevicePasswordEnabled" and "ApprovedApplicationList" in names
    assert {"name": "AllowCamera", "type": "bool", "default": True} == {
        k: v for k, v in settings[names.index("AllowCamera")].items() if k != "help"}
    assert "MaxEmailAgeFilter" in run(d, "policy", "settings").stdout


def test_account_remove_takes_its_devices(d):
    """account remove deletes the account's device records (and their sync
    state): device list no longer shows them, a device of the account coming
    back is new and must provision; other accounts keep theirs."""
    run(d, "account", "set", "ann@example.org", "email=on")
    device(d, "contact", "ann@example.org", "APPL1", "iPhone", "12.1", "Apple-iPhone/1")
    key = device(d, "provision", "ann@example.org", "APPL1", "12.1")
    device(d, "contact", "ann@example.org", "ANDR2", "Android", "14.1")
    device(d, "contact", "anna@example.org", "APPL1", "iPhone", "14.1")
    run(d, "device", "wipe", "ann@example.org", "ANDR2")
    assert device(d, "contact", "ann@example.org", "ANDR2", "Android", "14.1") == \
        "provision 140 200"
    assert len(js(d, "device", "list", "ann@example.org")["devices"]) == 2

    out = run(d, "account", "remove", "ann@example.org").stdout
    assert "2 device record(s)" in out
    assert js(d, "device", "list", "ann@example.org") == {"devices": []}
    lines = run(d, "device", "list", "example.org").stdout.splitlines()
    assert [ln.split()[0] for ln in lines[1:]] == ["anna@example.org"], lines
    assert [x["account"] for x in js(d, "device", "list", "example.org")["devices"]] == \
        ["anna@example.org"]
    run(d, "device", "show", "ann@example.org", "APPL1", code=1)
    run(d, "account", "remove", "ann@example.org", code=1)  # nothing left to remove

    # Re-added, it starts clean: the devices come back as new ones, without
    # the old key and without the wipe that was pending.
    run(d, "account", "set", "ann@example.org", "email=on")
    assert device(d, "contact", "ann@example.org", "ANDR2", "Android", "14.1") == \
        "provision 142 200"
    device(d, "contact", "ann@example.org", "APPL1", "iPhone", "12.1")
    show = js(d, "device", "show", "ann@example.org", "APPL1")
    assert show["provisioning"]["policy_key"] != key
    assert show["provisioning"]["state"] != "current"


def test_device_expire(d):
    """device expire: removes the devices that never provisioned and are idle
    (and those not seen for long), keeps the others; ages are checked."""
    import time
    old = str(int(time.time()) - 3 * 86400)
    env = dict(os.environ, AS_DEVICE_NOW=old)
    for dev in ("FLOOD1", "FLOOD2"):
        p = subprocess.run([DEVICE, str(d), "contact", "ann@example.org", dev, "Outlook", "14.1"],
                           capture_output=True, text=True, timeout=60, env=env)
        assert p.returncode == 0, p.stderr
    device(d, "contact", "ann@example.org", "NEW1", "iPhone", "14.1")
    device(d, "contact", "bob@example.org", "FLOOD1", "iPhone", "14.1")
    device(d, "provision", "bob@example.org", "FLOOD1", "14.1")

    run(d, "device", "expire", "1d", code=2)
    assert "each age" in run(d, "device", "expire", "1w", "180d", code=2).stderr
    run(d, "device", "expire", "off", "off", code=2)
    j = js(d, "device", "expire")
    assert j["expired"] == 2 and j["passes"] >= 1
    left = sorted((x["account"], x["device_id"]) for x in js(d, "device", "list")["devices"])
    assert left == [("ann@example.org", "NEW1"), ("bob@example.org", "FLOOD1")]
    assert "0 device(s) expired" in run(d, "device", "expire", "12h", "off").stdout
