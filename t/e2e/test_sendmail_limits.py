"""SendMail's answers to bad input, end to end (a recording sendmail, so no
MTA): a body that is not a message, a message without recipients or with
a recipient that could pass as an option, an empty Mime, a message over
ActiveSyncMaxMessageSize and a request over ActiveSyncMaxRequestSize each
get their clear status (the 12.1 form its HTTP status), nothing is
submitted, nothing is saved in Sent, and the access log holds no 5xx
(stop_and_check)."""

import os

import pytest

import easclient
from mailutil import files, running_mail_server, text
from composemail import recording_sendmail, sendmail_wbxml, submissions

MAX_MESSAGE = 64 * 1024
MAX_REQUEST = 256 * 1024


@pytest.fixture(scope="module")
def outdir(run_dir):
    return recording_sendmail(run_dir, "limits")


@pytest.fixture(scope="module")
def srv(run_dir, module_path, sanitize, pki, outdir):
    _d, script = outdir
    extra = ('ActiveSyncSendmail "%s -i"\nActiveSyncMaxMessageSize %d\n'
             "ActiveSyncMaxRequestSize %d\n" % (script, MAX_MESSAGE, MAX_REQUEST))
    with running_mail_server(run_dir, "test_sendmail_limits", module_path, sanitize, pki,
                             extra=extra) as s:
        yield s


def status(r):
    return text(easclient.decode_reply(r.body), "Status")


def padded(addr, size):
    head = b"From: %s\r\nTo: bob@example.net\r\nSubject: big\r\n\r\n" % addr.encode()
    return head + b"x" * (size - len(head))


def test_bad_messages_clear_statuses(srv, outdir):
    d, _ = outdir
    addr = srv.add_account("bad")
    dev = srv.device(addr)
    sent_before = files(srv.maildir(addr), "Sent")
    cases = [
        ("not-a-message", b"just some words, no header section", "107"),
        ("no-recipient", b"From: %s\r\nSubject: x\r\n\r\nhi\r\n" % addr.encode(), "119"),
        ("option-recipient", b"To: -oQ/tmp/x@example.net\r\n\r\nhi\r\n", "119"),
        ("empty", b"", "103"),
        ("too-large", padded(addr, MAX_MESSAGE + 1), "122"),
    ]
    for cid, mime, want in cases:
        r, lines = srv.call(lambda: dev.client.post("SendMail", body=sendmail_wbxml(cid, mime)))
        assert r.status == 200, (cid, r.status)
        assert status(r) == want, (cid, status(r))
        assert any(addr in ln for ln in lines), (cid, lines)
    # exactly at the limit: sent
    r = dev.client.post("SendMail", body=sendmail_wbxml("at-limit", padded(addr, MAX_MESSAGE)))
    assert r.status == 200 and not r.body
    assert len(submissions(d)) == 1
    assert files(srv.maildir(addr), "Sent") != sent_before
    # over the request limit: refused by the request bound, not a 5xx
    r = dev.client.post("SendMail", body=sendmail_wbxml("huge", padded(addr, MAX_REQUEST + 1)))
    assert 400 <= r.status < 500, r.status
    assert len(submissions(d)) == 1


def test_bad_messages_12_1(srv, outdir):
    d, _ = outdir
    addr = srv.add_account("bad12")
    dev = srv.device(addr, version="12.1")
    before = len(submissions(d))
    q = easclient.plain_query("SendMail", addr, dev.device_id, "E2EPhone", SaveInSent="T")
    for body, want in ((b"no header section", 400), (b"", 400),
                       (b"From: %s\r\nSubject: x\r\n\r\nno recipient\r\n" % addr.encode(), 400),
                       (padded(addr, MAX_MESSAGE + 1), 413)):
        r = dev.client.post("SendMail", query=q, body=body, content_type="message/rfc822")
        assert r.status == want, (body[:30], r.status)
    assert len(submissions(d)) == before
