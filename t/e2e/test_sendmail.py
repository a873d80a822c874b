"""SendMail (14.1) through ActiveSyncSendmail: the module's sendmail is a
recording script written by the test (its argv and standard input go to
files), so no MTA is needed.  A message with a non-ASCII subject and an
attachment arrives byte for byte (minus its Bcc header) with -f the
account and the To, Cc and Bcc recipients after "--"; the Sent copy (with
Bcc, read) appears in the next Sync of Sent; the same ClientId sent again
is answered 118 and not submitted twice; a From of another address is
refused with 130 and nothing is submitted; an MTA that exits 75 gets 120,
its words in the log and no Sent copy, and the retry with the same ClientId
once it works is sent once.  The 12.1 form (message/rfc822) too."""

import email.message
import email.policy
import os

import pytest

import easclient
from mailutil import files, running_mail_server, text
from composemail import recording_sendmail, sendmail_wbxml, submissions

PDF = b"%PDF-1.4\n" + bytes((i * 37 + 11) % 256 for i in range(20000))


@pytest.fixture(scope="module")
def outdir(run_dir):
    return recording_sendmail(run_dir, "sendmail", can_fail=True)


@pytest.fixture(scope="module")
def sm_server(run_dir, module_path, sanitize, pki, outdir):
    d, script = outdir
    with running_mail_server(run_dir, "test_sendmail", module_path, sanitize, pki,
                             extra='ActiveSyncSendmail "%s -i"\n' % script) as srv:
        yield srv


def build_message(addr):
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Ann <%s>" % addr.upper()
    msg["To"] = "Bob <bob@example.net>"
    msg["Cc"] = "carol@example.org"
    msg["Bcc"] = "secret@example.com"
    msg["Subject"] = "Grüße – été 日本"
    msg["Date"] = "Mon, 07 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = "<sendmail-e2e@example.com>"
    msg.set_content("Héllo, the report is attached.\n")
    msg.add_attachment(PDF, maintype="application", subtype="pdf", filename="report.pdf")
    return msg.as_bytes()


def strip_bcc(raw):
    head, sep, body = raw.partition(b"\r\n\r\n")
    lines = [ln for ln in head.split(b"\r\n") if not ln.lower().startswith(b"bcc:")]
    return b"\r\n".join(lines) + sep + body


def test_sendmail_submits_and_saves(sm_server, outdir):
    d, _ = outdir
    srv = sm_server
    addr = srv.add_account("sender")
    dev = srv.device(addr)
    assert "SendMail" in dev.client.options().header("MS-ASProtocolCommands").split(",")
    raw = build_message(addr)
    assert b"Bcc: secret@example.com\r\n" in raw
    assert dev.foldersync("0")["status"] == "1"
    sent, = dev.folder_by_type(5)
    dev.initial_sync(sent)
    before = set(dev.items[sent])
    files_before = set(files(srv.maildir(addr), "Sent"))

    r = dev.client.post("SendMail", body=sendmail_wbxml("e2e-1", raw))
    assert r.status == 200 and not r.body, (r.status, r.body)
    subs = submissions(d)
    assert len(subs) == 1
    argv, got = subs[0]
    assert argv == ["-i", "-f", addr, "--", "bob@example.net", "carol@example.org",
                    "secret@example.com"], argv
    assert got == strip_bcc(raw)
    assert b"secret@example.com" not in got

    # The Sent copy, with Bcc, read, seen by the next Sync of Sent.
    dev.sync(sent)
    new = set(dev.items[sent]) - before
    assert len(new) == 1 and set(dev.items[sent]) >= before
    read, _flag = dev.items[sent][new.pop()]
    assert read
    names = set(files(srv.maildir(addr), "Sent")) - files_before
    assert len(names) == 1
    sub, name = names.pop()
    with open(os.path.join(srv.maildir(addr), ".Sent", sub, name), "rb") as f:
        assert f.read() == raw  # the Sent copy keeps the Bcc

    # The phone lost the reply and sends again: not submitted twice.
    r = dev.client.post("SendMail", body=sendmail_wbxml("e2e-1", raw))
    assert r.status == 200
    assert text_status(r) == "118"
    assert len(submissions(d)) == 1
    assert len(files(srv.maildir(addr), "Sent")) == len(files_before) + 1


def text_status(r):
    return text(easclient.decode_reply(r.body), "Status")


def test_sendmail_other_from_refused(sm_server, outdir):
    d, _ = outdir
    srv = sm_server
    addr = srv.add_account("mallory")
    dev = srv.device(addr)
    before = len(submissions(d))
    raw = (b"From: boss@example.com\r\nTo: bob@example.net\r\nSubject: x\r\n\r\nPay now.\r\n")
    r, lines = srv.call(lambda: dev.client.post("SendMail", body=sendmail_wbxml("m-1", raw)))
    assert r.status == 200
    assert text_status(r) == "130"
    assert len(submissions(d)) == before
    assert any(addr in ln for ln in lines), lines


def test_sendmail_12_1_rfc822(sm_server, outdir):
    """The 12.1 form: the message itself as the body (message/rfc822) and
    SaveInSent=T in the request line; HTTP 200 with no body."""
    d, _ = outdir
    srv = sm_server
    addr = srv.add_account("old")
    dev = srv.device(addr, version="12.1")
    raw = build_message(addr)
    before, files_before = len(submissions(d)), len(files(srv.maildir(addr), "Sent"))
    q = easclient.plain_query("SendMail", addr, dev.device_id, "E2EPhone", SaveInSent="T")
    r = dev.client.post("SendMail", query=q, body=raw, content_type="message/rfc822")
    assert r.status == 200 and not r.body, (r.status, r.body)
    subs = submissions(d)
    assert len(subs) == before + 1
    new = [s for s in subs if s[0][2] == addr]
    assert len(new) == 1 and new[0][1] == strip_bcc(raw)
    assert len(files(srv.maildir(addr), "Sent")) == files_before + 1
    # another From: 403, nothing submitted
    raw = b"From: boss@example.com\r\nTo: bob@example.net\r\n\r\nx\r\n"
    r = dev.client.post("SendMail", query=q, body=raw, content_type="message/rfc822")
    assert r.status == 403
    assert len(submissions(d)) == before + 1


def test_sendmail_mta_failure_then_retry(sm_server, outdir):
    d, _ = outdir
    srv = sm_server
    addr = srv.add_account("retry")
    dev = srv.device(addr)
    raw = build_message(addr)
    before, files_before = len(submissions(d)), len(files(srv.maildir(addr), "Sent"))
    flag = os.path.join(d, "FAIL")
    open(flag, "w").close()
    try:
        r, lines = srv.call(lambda: dev.client.post("SendMail",
                                                    body=sendmail_wbxml("retry-1", raw)))
    finally:
        os.unlink(flag)
    assert r.status == 200 and text_status(r) == "120"
    assert len(submissions(d)) == before
    assert len(files(srv.maildir(addr), "Sent")) == files_before
    assert any(addr in ln and "queue file write error" in ln for ln in lines), lines
    r = dev.client.post("SendMail", body=sendmail_wbxml("retry-1", raw))
    assert r.status == 200 and not r.body
    r = dev.client.post("SendMail", body=sendmail_wbxml("retry-1", raw))
    assert text_status(r) == "118"
    assert len(submissions(d)) == before + 1
    assert len(files(srv.maildir(addr), "Sent")) == files_before + 1
