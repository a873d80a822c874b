"""GetAttachment (MS-ASCMD 2.2.1.7), the EAS 12.1 attachment download: a
12.1 device syncs a message with a PDF attachment and an inline image, then
downloads both with the FileReference of the Sync reply as AttachmentName,
in the plain and the base64 request-line forms: HTTP 200, the attachment's
Content-Type, an exact Content-Length and the very bytes of the Maildir
file's part.  A 10 MB attachment comes through whole.  Refusals: a missing
or malformed name (400), a well-formed name of nothing or of another
account's message (500, as MS-ASCMD says for a deleted attachment), email
off for the account (500), and any 14.x request (501, before the body or the
mailbox is touched).  OPTIONS lists GetAttachment.  Each refusal is one
log line.

The server fixture is mail_server's with one difference: the 500s this
module asks for (plain-form GetAttachment of missing attachments) are the
protocol's answer, so the shutdown check allows exactly those."""

import email
import email.policy
import os
import time

import pytest

import easclient
import httpdconf
from e2eharness import admin
from mailutil import (deliver, folder_id, item_id, kid, kids, ln, start_mail_server,
                      stop_and_check, text)

INBOX = folder_id("")
PNG = bytes.fromhex("89504e470d0a1a0a0000000d4948445200000001000000010806000000"
                    "1f15c4890000000d49444154789c6360f8cf00000301010018dd8db40000"
                    "000049454e44ae426082")
PDF = b"%PDF-1.4\n" + bytes((i * 37 + 11) % 256 for i in range(5000))
BIG = os.urandom(10 * 1024 * 1024)
OPTIONS_12 = ("<Options><airsyncbase:BodyPreference><airsyncbase:Type>2</airsyncbase:Type>"
              "<airsyncbase:TruncationSize>5120</airsyncbase:TruncationSize>"
              "</airsyncbase:BodyPreference></Options>")


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def ga_server(request, run_dir, module_path, sanitize, pki):
    srv = start_mail_server(run_dir, "test_getattachment", module_path, request.param, sanitize,
                            pki)
    yield srv
    problems = [p for p in stop_and_check(srv)
                if not (p.startswith("access_log:") and '" 500 ' in p
                        and "Cmd=GetAttachment&" in p)]
    assert not problems, "server (%s) was not clean:\n%s" % (request.param, "\n".join(problems))


def message(subject, parts):
    """A multipart/mixed message: an HTML body with an inline image
    (multipart/related), then the attachments (name, type, bytes)."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = "Carol <carol@example.net>"
    msg["To"] = "someone@example.com"
    msg["Subject"] = subject
    msg["Date"] = time.strftime("%a, %d %b %Y %H:%M:%S +0000", time.gmtime())
    msg["Message-ID"] = "<%s.%d@e2e.test>" % (subject.replace(" ", "."), time.time_ns())
    msg.set_content("See the chart.\n")
    msg.add_alternative('<html><body><p>See the chart:</p><img src="cid:chart@e2e.test">'
                        "</body></html>", subtype="html")
    html = msg.get_payload()[1]
    html.add_related(PNG, maintype="image", subtype="png", cid="<chart@e2e.test>",
                     filename="chart.png", disposition="inline")
    for name, ctype, data in parts:
        main, sub = ctype.split("/")
        msg.add_attachment(data, maintype=main, subtype=sub, filename=name)
    return msg.as_bytes()


def maildir_part(md, iid, name):
    """The decoded bytes of the part named name in the message iid, read
    from the Maildir file itself."""
    for sub in ("new", "cur"):
        for n in os.listdir(os.path.join(md, sub)):
            if item_id(n.split(":")[0]) == iid:
                with open(os.path.join(md, sub, n), "rb") as f:
                    m = email.message_from_bytes(f.read(), policy=email.policy.default)
                for part in m.walk():
                    if part.get_filename() == name:
                        return part.get_payload(decode=True)
    raise AssertionError("no %s in %s" % (name, iid))


def synced_attachments(dev):
    """FolderSync, then a 12.1 Sync of INBOX: {(item id, DisplayName):
    (FileReference, EstimatedDataSize, IsInline)} over every message (the
    generated Maildir has attachments of its own)."""
    assert dev.foldersync("0")["status"] == "1"
    r = dev.sync_raw(INBOX, key="0")
    c = dev.collection(r, INBOX)
    dev.keys[INBOX] = text(c, "SyncKey")
    out = {}
    more = True
    while more:
        r = dev.sync_raw(INBOX, window=50, options=OPTIONS_12)
        c = dev.collection(r, INBOX)
        dev.keys[INBOX] = text(c, "SyncKey")
        more = kid(c, "MoreAvailable") is not None
        cmds = kid(c, "Commands")
        for add in kids(cmds, "Add") if cmds is not None else []:
            iid = text(add, "ServerId").split(":")[1]
            app = kid(add, "ApplicationData")
            # a 12.1 reply: none of the 14.0 Email elements
            assert all(ln(e) not in ("Preview", "ConversationId", "Categories")
                       for e in app.iter() if isinstance(e.tag, str)), r
            atts = kid(app, "Attachments")
            for a in kids(atts, "Attachment") if atts is not None else []:
                out[(iid, text(a, "DisplayName"))] = (text(a, "FileReference"),
                                               int(text(a, "EstimatedDataSize")),
                                               text(a, "IsInline"))
    return out


def get_plain(dev, ref, version=None, **extra):
    params = {} if ref is None else {"AttachmentName": ref}
    params.update(extra)
    q = easclient.plain_query("GetAttachment", dev.addr, dev.device_id, "E2EPhone", **params)
    return dev.client.post("GetAttachment", query=q,
                           version=version if version else Ellipsis)


def get_b64(dev, ref, version="12.1"):
    params = [] if ref is None else [(easclient.TAG_ATTACHMENT_NAME, ref)]
    q = easclient.base64_query(version, "GetAttachment", device_id=dev.device_id,
                               device_type="E2EPhone", params=params)
    return dev.client.post("GetAttachment", query=q, version=None)


def assert_bytes(r, ctype, want):
    assert r.status == 200, r
    assert r.header("Content-Type") == ctype, r
    assert r.header("Content-Length") == str(len(want)), r
    assert r.header("Content-Encoding") is None, r
    assert len(r.body) == len(want)
    assert r.body == want, "the downloaded bytes differ from the Maildir part"


def test_getattachment_12_1(ga_server):
    srv = ga_server
    addr = srv.add_account("getatt", count=1)
    md = srv.maildir(addr)
    iid = deliver(md, data=message("Report", [("report.pdf", "application/pdf", PDF)]))
    big_iid = deliver(md, data=message("Big", [("data.bin", "application/octet-stream", BIG)]))
    dev = srv.device(addr, version="12.1")

    opts = dev.client.options()
    assert opts.status == 200
    assert "GetAttachment" in opts.header("MS-ASProtocolCommands").split(","), opts
    assert "12.1" in opts.header("MS-ASProtocolVersions").split(",")

    atts = synced_attachments(dev)
    assert {(iid, "report.pdf"), (iid, "chart.png"), (big_iid, "data.bin")} <= set(atts), atts
    pdf_ref, pdf_size, _ = atts[(iid, "report.pdf")]
    png_ref, _, png_inline = atts[(iid, "chart.png")]
    big_ref, _, _ = atts[(big_iid, "data.bin")]
    assert png_inline == "1"
    assert pdf_ref.split(":")[0] == INBOX and pdf_ref.split(":")[1] == iid
    assert big_ref.split(":")[1] == big_iid
    assert pdf_size == len(PDF)
    # the truth is the Maildir file, not what the test meant to write
    pdf_md = maildir_part(md, iid, "report.pdf")
    png_md = maildir_part(md, iid, "chart.png")
    assert pdf_md == PDF and png_md == PNG

    for get in (get_plain, get_b64):
        assert_bytes(get(dev, pdf_ref), "application/pdf", pdf_md)
        assert_bytes(get(dev, png_ref), "image/png", png_md)
    # percent-encoded base64 line, as some Windows clients send it
    q = easclient.base64_query("12.1", "GetAttachment", device_id=dev.device_id,
                               device_type="E2EPhone", percent_encode=True,
                               params=[(easclient.TAG_ATTACHMENT_NAME, pdf_ref)])
    assert_bytes(dev.client.post("GetAttachment", query=q, version=None), "application/pdf",
                 pdf_md)
    # a body (there should be none) is ignored, not decoded
    q = easclient.plain_query("GetAttachment", addr, dev.device_id, "E2EPhone",
                              AttachmentName=png_ref)
    assert_bytes(dev.client.post("GetAttachment", query=q, body=b"junk"), "image/png", png_md)

    # 10 MB, streamed: exact length and bytes
    t0 = time.monotonic()
    r = get_plain(dev, big_ref)
    dt = time.monotonic() - t0
    assert_bytes(r, "application/octet-stream", maildir_part(md, big_iid, "data.bin"))
    print("GetAttachment of 10 MB through httpd: %.0f ms" % (dt * 1000))


def test_getattachment_refusals(ga_server):
    srv = ga_server
    addr = srv.add_account("getattbad", count=0)
    other = srv.add_account("getattother", count=2)
    md = srv.maildir(addr)
    iid = deliver(md, data=message("Mine", [("mine.pdf", "application/pdf", PDF)]))
    oiid = deliver(srv.maildir(other), data=message("Theirs", [("theirs.pdf", "application/pdf",
                                                           PDF[::-1])]))
    dev = srv.device(addr, version="12.1")
    odev = srv.device(other, version="12.1")
    ref = synced_attachments(dev)[(iid, "mine.pdf")][0]
    oref = synced_attachments(odev)[(oiid, "theirs.pdf")][0]
    assert_bytes(get_plain(dev, ref), "application/pdf", PDF)

    def refused(fn, status, needle):
        """One refusal: its status, no attachment bytes, exactly one log
        line of ours, naming the reason."""
        r, lines = srv.call(fn)
        assert r.status == status, (r, status, needle)
        assert r.header("Content-Type") != "application/pdf" and PDF[:9] not in r.body, r
        assert len(lines) == 1 and needle in lines[0], (needle, lines)

    refused(lambda: get_plain(dev, None), 400, "no AttachmentName")
    refused(lambda: get_b64(dev, None), 400, "no AttachmentName")
    refused(lambda: get_plain(dev, "report.pdf"), 400, "is not a FileReference")
    refused(lambda: get_plain(dev, ref + ":1"), 400, "is not a FileReference")
    refused(lambda: get_plain(dev, "../../" + ref), 400, "is not a FileReference")
    refused(lambda: get_b64(dev, "x" * 200), 400, "is not a FileReference")
    # well-formed, but nothing there: 500 (MS-ASCMD: a deleted attachment)
    refused(lambda: get_plain(dev, ref.rsplit(":", 1)[0] + ":7"), 500, "no such part")
    refused(lambda: get_plain(dev, "%s:%s:2" % (INBOX, "0" * 13)), 500, "no such attachment")
    # another account's reference names nothing in this mailbox
    refused(lambda: get_plain(dev, oref), 500, "no such attachment")
    # GetAttachment is 12.1 and earlier: 14.x gets 501
    for v in ("14.0", "14.1"):
        refused(lambda: get_plain(dev, ref, version=v), 501,
                "GetAttachment is not part of protocol version " + v)
    refused(lambda: get_b64(dev, ref, version="14.1"), 501,
            "GetAttachment is not part of protocol version 14.1")
    # a 14.1 device of the other account: 501 as well
    odev14 = srv.device(other, device_id="GETATT14", version="14.1")
    refused(lambda: get_plain(odev14, oref), 501, "not part of protocol version 14.1")
    # the owner still gets its own
    assert_bytes(get_plain(odev, oref), "application/pdf", PDF[::-1])
    # not over GET either (MS-ASCMD: POST)
    q = easclient.plain_query("GetAttachment", addr, dev.device_id, "E2EPhone",
                              AttachmentName=ref)
    assert dev.client.request("GET", query=q).status == 405

    # email off for the account: the mailbox is hidden, 500
    admin(srv.datadir, "account", "set", addr, "email=off")
    try:
        refused(lambda: get_plain(dev, ref), 500, "no such attachment")
    finally:
        admin(srv.datadir, "account", "unset", addr, "email")
    assert_bytes(get_plain(dev, ref), "application/pdf", PDF)
