"""Who an account may send as, end to end (the module's sendmail is a
recording script, so no MTA is needed): activesync-admin gives the account
a display name and aliases (shown by account show and list); a SendMail
whose From is an alias is submitted with the account as envelope sender; a
From of any other address is refused with Status 130, nothing submitted,
and a log line names the account; a message without From gets the
display name and the account's address; once the alias is removed it is
refused too.  With `email` off SendMail is refused with 130 (403 for the
12.1 form) and nothing is submitted."""

import email
import email.policy
import os

import pytest

import easclient
from e2eharness import admin
from mailutil import running_mail_server, text
from composemail import recording_sendmail, sendmail_wbxml, submissions


@pytest.fixture(scope="module")
def outdir(run_dir):
    return recording_sendmail(run_dir, "identity")


@pytest.fixture(scope="module")
def srv(run_dir, module_path, sanitize, pki, outdir):
    _d, script = outdir
    with running_mail_server(run_dir, "test_sendmail_identity", module_path, sanitize, pki,
                             extra='ActiveSyncSendmail "%s -i"\n' % script) as s:
        yield s


def status(r):
    return text(easclient.decode_reply(r.body), "Status")


def send(dev, client_id, raw):
    return dev.client.post("SendMail", body=sendmail_wbxml(client_id, raw, save=False))


def test_admin_aliases_and_from_check(srv, outdir):
    d, _ = outdir
    addr = srv.add_account("ann")
    dev = srv.device(addr)
    admin(srv.datadir, "account", "set", addr, "name=Ann Ëxample",
          "aliases=Sales@example.com,ann.example@example.org")
    shown = admin(srv.datadir, "account", "show", addr, json_out=True)
    assert shown["name"] == "Ann Ëxample"
    assert shown["aliases"] == ["sales@example.com", "ann.example@example.org"]
    listed = admin(srv.datadir, "account", "list").stdout
    assert "Ann Ëxample" in listed and "sales@example.com" in listed
    assert "aliases     sales@example.com, ann.example@example.org" in admin(
        srv.datadir, "account", "show", addr).stdout
    # a line break can never reach a From header
    p = admin(srv.datadir, "account", "set", addr, "name=Ann\r\nBcc: x@example.net", ok=False)
    assert "control" in p.stderr

    # From an alias: submitted, the envelope sender is the account
    raw = b"From: Sales <SALES@example.com>\r\nTo: bob@example.net\r\nSubject: a\r\n\r\nhi\r\n"
    r = send(dev, "id-1", raw)
    assert r.status == 200 and not r.body, (r.status, r.body)
    (argv, msg), = submissions(d, addr)
    assert argv[:4] == ["-i", "-f", addr, "--"] and argv[4:] == ["bob@example.net"]
    assert b"\r\nFrom: Sales <SALES@example.com>\r\n" in b"\r\n" + msg

    # From anybody else: 130, not submitted, the log names the account
    raw = b"From: boss@example.com\r\nTo: bob@example.net\r\nSubject: b\r\n\r\npay\r\n"
    r, lines = srv.call(lambda: send(dev, "id-2", raw))
    assert r.status == 200 and status(r) == "130"
    assert len(submissions(d, addr)) == 1
    assert any(addr in ln and "130" in ln and "boss@example.com" in ln for ln in lines), lines

    # No From: the display name and the account's address are added
    r = send(dev, "id-3", b"To: bob@example.net\r\nSubject: c\r\n\r\nhi\r\n")
    assert r.status == 200 and not r.body
    msg = submissions(d, addr)[-1][1]
    got = email.message_from_bytes(msg, policy=email.policy.default)
    assert got["From"].addresses[0].display_name == "Ann Ëxample"
    assert got["From"].addresses[0].addr_spec == addr

    # The alias removed: refused like any other address
    admin(srv.datadir, "account", "unset", addr, "aliases")
    assert admin(srv.datadir, "account", "show", addr, json_out=True)["aliases"] == []
    raw = b"From: sales@example.com\r\nTo: bob@example.net\r\nSubject: d\r\n\r\nhi\r\n"
    r = send(dev, "id-4", raw)
    assert status(r) == "130"
    assert len(submissions(d, addr)) == 2


def test_email_off_refuses_sendmail(srv, outdir):
    d, _ = outdir
    addr = srv.add_account("noemail")
    dev = srv.device(addr)
    raw = b"From: %s\r\nTo: bob@example.net\r\nSubject: x\r\n\r\nhi\r\n" % addr.encode()
    r = send(dev, "off-0", raw)
    assert r.status == 200 and not r.body  # email on: sent
    admin(srv.datadir, "account", "set", addr, "email=off")
    r, lines = srv.call(lambda: send(dev, "off-1", raw))
    assert r.status == 200 and status(r) == "130"
    assert any(addr in ln and "email is off" in ln for ln in lines), lines
    dev12 = srv.device(addr, device_id="OLDPHONE12", version="12.1")
    q = easclient.plain_query("SendMail", addr, dev12.device_id, "E2EPhone", SaveInSent="T")
    r = dev12.client.post("SendMail", query=q, body=raw, content_type="message/rfc822")
    assert r.status == 403
    assert len(submissions(d, addr)) == 1
