"""SendMail through a real Postfix (Debian `postfix`; postfixkit.py starts a
private instance with its own configuration directory, delivering into one
Maildir per recipient, and stops it at the end, also on failure).  The
module's ActiveSyncSendmail is that Postfix's sendmail.

* A 14.1 SendMail with a non-ASCII subject and body and a 10 MB attachment
  arrives in every recipient's Maildir (To, Cc and two Bcc) with the right
  headers, the text and the attachment's decoded bytes intact, and no Bcc
  header in any delivered copy; the Sent copy exists exactly once and keeps
  its Bcc; the phone sees it in its next Sync of Sent.  The same ClientId
  sent again is answered 118 and delivered to nobody a second time.
* Postfix stopped: Postfix's sendmail still accepts the message into its
  maildrop queue (that is Postfix's design), so SendMail succeeds, the Sent
  copy is made once, nothing is delivered until Postfix starts again, and
  then it is delivered exactly once.
* Postfix refusing the submission (authorized_submit_users without httpd's
  user): SendMail answers 120 with Postfix's words in the error log and
  makes no Sent copy; once the submission is allowed again the phone's retry
  with the same ClientId is delivered exactly once.

* SmartReply and SmartForward composed by the server (no ReplaceMime):
  the reply arrives quoting the original with In-Reply-To, the forward
  with the original's attachment intact; one copy each; the original is
  answered (R) and $Forwarded on disk.

Skipped (with the reason) where /usr/sbin/postfix is missing or the test
does not run as root.  Deliveries are awaited by polling the Maildirs with
a deadline, never by sleeping."""

import email.message
import email.policy
import os
import random

import pytest

import easclient
import httpdconf
import postfixkit
from composemail import SMART_FORWARD, SMART_REPLY, sendmail_wbxml, smart_wbxml
from mailutil import deliver, files, find_file, running_mail_server, text


TO = "bob@example.net"
CC = "carol@example.org"
BCC = ["dave@example.org", "eve@example.net"]
ALL = [TO, CC] + BCC
SUBJECT = "Grüße – été 日本 ✓"
BODY = "Héllo Bob,\nthe 10 MB file is attached. Ça va ? 日本語のテキスト.\n"
BIG = random.Random(13).randbytes(10 * 1024 * 1024)


@pytest.fixture(scope="module")
def postfix():
    reason = postfixkit.available()
    if reason:
        pytest.skip(reason)
    pf = postfixkit.PrivatePostfix(ALL, submit_group=httpdconf.RUN_GROUP)
    pf.start()
    try:
        yield pf
    finally:
        pf.stop()
    pf.remove()


@pytest.fixture(scope="module")
def srv(run_dir, module_path, sanitize, pki, postfix):
    extra = ('ActiveSyncSendmail "%s"\n'
             "ActiveSyncMaxRequestSize 24M\n"
             "ActiveSyncMaxMessageSize 20M\n" % postfix.sendmail_command())
    with running_mail_server(run_dir, "test_postfix", module_path, sanitize, pki,
                             extra=extra) as s:
        yield s


def status(r):
    return text(easclient.decode_reply(r.body), "Status")


def message(addr, subject=SUBJECT, attachment=None, msgid="<postfix-e2e@example.com>"):
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Ann Example <%s>" % addr
    msg["To"] = "Bob <%s>" % TO
    msg["Cc"] = CC
    msg["Bcc"] = ", ".join(BCC)
    msg["Subject"] = subject
    msg["Date"] = "Mon, 07 Dec 2026 10:00:00 +0000"
    msg["Message-ID"] = msgid
    msg.set_content(BODY)
    if attachment is not None:
        msg.add_attachment(attachment, maintype="application", subtype="octet-stream",
                           filename="big.bin")
    return msg.as_bytes()


def sent_copies(srv, addr, before=()):
    """The messages in addr's Sent folder that are not in `before`."""
    out = []
    for sub, name in sorted(set(files(srv.maildir(addr), "Sent")) - set(before)):
        with open(os.path.join(srv.maildir(addr), ".Sent", sub, name), "rb") as f:
            out.append(f.read())
    return out


def head_of(raw):
    return raw.split(b"\r\n\r\n", 1)[0].split(b"\n\n", 1)[0]


TRACE = (b"return-path:", b"x-original-to:", b"delivered-to:", b"received:")


def headers_not_by_postfix(raw):
    """The header section without the trace fields Postfix adds (which name
    the recipient of this copy)."""
    out, skip = [], False
    for line in head_of(raw).replace(b"\r\n", b"\n").split(b"\n"):
        if line[:1] in (b" ", b"\t"):
            if not skip:
                out.append(line)
            continue
        skip = line.lower().startswith(TRACE)
        if not skip:
            out.append(line)
    return b"\n".join(out)


def test_delivered_intact_bcc_hidden_sent_once(srv, postfix):
    addr = srv.add_account("ann")
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    sent, = dev.folder_by_type(5)
    dev.initial_sync(sent)
    before = set(dev.items[sent])
    old = files(srv.maildir(addr), "Sent")  # the generated Maildir has some
    raw = message(addr, attachment=BIG)
    assert len(raw) > 13 * 1024 * 1024

    r = dev.client.post("SendMail", body=sendmail_wbxml("pf-1", raw))
    assert r.status == 200 and not r.body, (r.status, r.body[:200])

    for rcpt in ALL:
        got, = postfix.wait_for(rcpt, 1)
        assert got["Subject"] == SUBJECT
        assert got["From"] == "Ann Example <%s>" % addr
        assert got["To"] == "Bob <%s>" % TO
        assert got["Cc"] == CC
        assert got["Message-ID"] == "<postfix-e2e@example.com>"
        assert got["Return-Path"] == "<%s>" % addr  # the envelope sender is the account
        assert got["Delivered-To"] == rcpt
        assert got["Bcc"] is None
        sender_head = headers_not_by_postfix(postfix.delivered(rcpt)[0])
        for b in BCC:  # no Bcc address in what the sender wrote
            assert b.encode() not in sender_head, (rcpt, sender_head)
        text_part = got.get_body(preferencelist=("plain",))
        assert text_part.get_content() == BODY
        att, = list(got.iter_attachments())
        assert att.get_filename() == "big.bin"
        assert att.get_payload(decode=True) == BIG

    # exactly one Sent copy, with its Bcc, read; the phone sees it
    copies = sent_copies(srv, addr, old)
    assert len(copies) == 1
    assert copies[0] == raw
    assert b"Bcc: " + ", ".join(BCC).encode() in head_of(copies[0])
    dev.sync(sent)
    new = set(dev.items[sent]) - before
    assert len(new) == 1
    assert dev.items[sent][new.pop()][0]  # read

    # the phone lost the reply and sends again: 118, delivered to nobody twice
    r = dev.client.post("SendMail", body=sendmail_wbxml("pf-1", raw))
    assert r.status == 200 and status(r) == "118"
    assert postfix.wait_queue_empty()
    for rcpt in ALL:
        assert len(postfix.delivered(rcpt)) == 1, rcpt
    assert len(sent_copies(srv, addr, old)) == 1


def test_postfix_stopped_queues_then_delivers_once(srv, postfix):
    addr = srv.add_account("queued")
    dev = srv.device(addr)
    base = {rcpt: len(postfix.delivered(rcpt)) for rcpt in ALL}
    old = files(srv.maildir(addr), "Sent")
    raw = message(addr, subject="While Postfix was down", msgid="<pf-stopped@example.com>")
    postfix.stop()
    try:
        assert postfix.master_pid() is None
        r = dev.client.post("SendMail", body=sendmail_wbxml("pf-down", raw))
        assert r.status == 200 and not r.body, (r.status, r.body[:200])
        assert len(sent_copies(srv, addr, old)) == 1
        assert not postfix.queue_empty()  # in Postfix's maildrop, not delivered
        for rcpt in ALL:
            assert len(postfix.delivered(rcpt)) == base[rcpt]
    finally:
        postfix.start()
    for rcpt in ALL:
        msgs = postfix.wait_for(rcpt, base[rcpt] + 1)
        assert [m["Message-ID"] for m in msgs].count("<pf-stopped@example.com>") == 1
    r = dev.client.post("SendMail", body=sendmail_wbxml("pf-down", raw))
    assert status(r) == "118"
    assert postfix.wait_queue_empty()
    for rcpt in ALL:
        assert len(postfix.delivered(rcpt)) == base[rcpt] + 1
    assert len(sent_copies(srv, addr, old)) == 1


def test_postfix_refuses_then_retry_delivers_once(srv, postfix):
    addr = srv.add_account("refused")
    dev = srv.device(addr)
    base = {rcpt: len(postfix.delivered(rcpt)) for rcpt in ALL}
    old = files(srv.maildir(addr), "Sent")
    raw = message(addr, subject="Refused first", msgid="<pf-refused@example.com>")
    postfix.set_param("authorized_submit_users", "root")
    try:
        r, lines = srv.call(lambda: dev.client.post("SendMail",
                                                    body=sendmail_wbxml("pf-retry", raw)))
    finally:
        postfix.set_param("authorized_submit_users", "static:anyone")
    assert r.status == 200 and status(r) == "120"
    assert any(addr in ln and "not allowed to submit mail" in ln for ln in lines), lines
    assert sent_copies(srv, addr, old) == []
    assert postfix.queue_empty()

    r = dev.client.post("SendMail", body=sendmail_wbxml("pf-retry", raw))
    assert r.status == 200 and not r.body, (r.status, r.body[:200])
    for rcpt in ALL:
        msgs = postfix.wait_for(rcpt, base[rcpt] + 1)
        assert [m["Message-ID"] for m in msgs].count("<pf-refused@example.com>") == 1
    assert postfix.wait_queue_empty()
    for rcpt in ALL:
        assert len(postfix.delivered(rcpt)) == base[rcpt] + 1
    assert len(sent_copies(srv, addr, old)) == 1


def test_smartreply_and_smartforward_delivered(srv, postfix):
    """SmartReply and SmartForward (server-composed, without ReplaceMime)
    through Postfix: the reply quotes the original with In-Reply-To set, the
    forward carries the original's attachment; each recipient gets one copy."""
    addr = srv.add_account("smart")
    orig = email.message.EmailMessage(policy=email.policy.SMTP)
    orig["From"] = "Bob <%s>" % TO
    orig["To"] = addr
    orig["Subject"] = "Plän"
    orig["Date"] = "Mon, 07 Dec 2026 09:00:00 +0000"
    orig["Message-ID"] = "<pf-orig@example.net>"
    orig.set_content("Nine o'clock? Grüße\n")
    orig.add_attachment(BIG[:200000], maintype="application", subtype="pdf", filename="plan.pdf")
    iid = deliver(srv.maildir(addr), "", orig.as_bytes())
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    inbox, = dev.folder_by_type(2)
    dev.initial_sync(inbox)
    base = {rcpt: len(postfix.delivered(rcpt)) for rcpt in (TO, CC)}

    def mine(to, subject, body):
        m = email.message.EmailMessage(policy=email.policy.SMTP)
        m["From"] = addr
        m["To"] = to
        m["Subject"] = subject
        m.set_content(body)
        return m.as_bytes()

    src = "%s:%s" % (inbox, iid)
    r = dev.client.post("SmartReply", body=smart_wbxml(
        SMART_REPLY, "pf-rep", inbox, src, mine(TO, "Re: Plän", "Nine is fine.\n")))
    assert r.status == 200 and not r.body, (r.status, r.body[:200])
    r = dev.client.post("SmartForward", body=smart_wbxml(
        SMART_FORWARD, "pf-fwd", inbox, src, mine(CC, "Fwd: Plän", "For you.\n")))
    assert r.status == 200 and not r.body, (r.status, r.body[:200])

    reply = postfix.wait_for(TO, base[TO] + 1)[-1]
    assert reply["Subject"] == "Re: Plän" and reply["In-Reply-To"] == "<pf-orig@example.net>"
    txt = reply.get_body(preferencelist=("plain",)).get_content()
    assert txt.startswith("Nine is fine.\n") and "> Nine o'clock? Grüße" in txt, txt
    fwd = postfix.wait_for(CC, base[CC] + 1)[-1]
    assert fwd["Subject"] == "Fwd: Plän"
    assert "Nine o'clock? Grüße" in fwd.get_body(preferencelist=("plain",)).get_content()
    att, = list(fwd.iter_attachments())
    assert att.get_filename() == "plan.pdf" and att.get_payload(decode=True) == BIG[:200000]
    assert postfix.wait_queue_empty()
    for rcpt in (TO, CC):
        assert len(postfix.delivered(rcpt)) == base[rcpt] + 1
    _sub, name = find_file(srv.maildir(addr), "", iid)
    with open(os.path.join(srv.maildir(addr), "dovecot-keywords")) as kw:
        n, = [int(ln.split()[0]) for ln in kw if ln.split()[1:] == ["$Forwarded"]]
    assert {"R", chr(ord("a") + n)} <= set(name.split(":2,")[1]), name  # answered, $Forwarded
