"""Multipart ItemOperations replies through httpd (MS-ASCMD 2.2.1.10,
MultiPartResponse; as_multipart.h): asked for with the MS-ASAcceptMultiPart
header or with Options bit 0x02 of the base64 request line.  The framing is
parsed here (count, then offset/length pairs, int32 little-endian, parts
back to back up to the end of the body); part 0 is WBXML and passes
validate-eas; the binary parts equal the attachment and the message file in
the Maildir (the message with CRLF line ends), for whole attachments,
Ranges of one and whole items."""

import email
import email.policy
import os
import struct

import easclient
from mailutil import folder_id, item_id, mail_server  # noqa: F401

INBOX = folder_id("")
MP_TYPE = "application/vnd.ms-sync.multipart"
IO = ('xmlns="ItemOperations:" xmlns:airsync="AirSync:" xmlns:airsyncbase="AirSyncBase:"')


def parse_multipart(body):
    """The parts of a multipart body, checking the framing exactly."""
    assert len(body) >= 4
    (n,) = struct.unpack_from("<i", body, 0)
    assert 1 <= n <= 1000, n
    hdr = 4 + 8 * n
    assert len(body) >= hdr
    parts, expect = [], hdr
    for i in range(n):
        off, ln = struct.unpack_from("<ii", body, 4 + 8 * i)
        assert off == expect and ln >= 0, (i, off, ln, expect)
        parts.append(body[off:off + ln])
        expect = off + ln
    assert expect == len(body), "trailing or missing bytes: %d != %d" % (expect, len(body))
    return parts


def local(el):
    return el.tag.rsplit("}", 1)[-1] if isinstance(el.tag, str) else ""


def fetches(doc):
    return [e for e in doc.iter() if local(e) == "Fetch"]


def child(el, name):
    for c in el:
        if local(c) == name:
            return c
    return None


def find(el, name):
    for c in el.iter():
        if local(c) == name:
            return c
    return None


def message_with_pdf(md):
    for sub in ("new", "cur"):
        for n in sorted(os.listdir(os.path.join(md, sub))):
            p = os.path.join(md, sub, n)
            with open(p, "rb") as f:
                raw = f.read()
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            for part in msg.walk():
                if (part.get_filename() or "").endswith(".pdf"):
                    return item_id(n.split(":")[0]), raw, part.get_payload(decode=True)
    raise AssertionError("no message with a PDF attachment in the generated Maildir")


class MP:
    """ItemOperations with multipart replies, in either request form."""

    def __init__(self, dev, form):
        self.dev, self.form = dev, form

    def post(self, xml, allow_plain=False):
        c = self.dev.client
        if self.form == "header":
            r = c.post("ItemOperations", xml=xml, headers={"MS-ASAcceptMultiPart": "T"})
        else:
            q = easclient.base64_query("14.1", "ItemOperations", device_id=self.dev.device_id,
                                       device_type="E2EPhone", params=[(7, b"\x02")])
            r = c.post("ItemOperations", xml=xml, query=q)
        assert r.status == 200, r
        if allow_plain and r.header("Content-Type") == easclient.WBXML_TYPE:
            return easclient.decode_reply(r.body), [r.body]
        assert (r.header("Content-Type") or "").startswith(MP_TYPE), r.header("Content-Type")
        parts = parse_multipart(r.body)
        doc = easclient.decode_reply(parts[0])  # validate-eas on part 0
        return doc, parts


def part_bytes(parts, el):
    """The bytes of the part a Part element names (Data must be absent)."""
    p = find(el, "Part")
    assert p is not None and find(el, "Data") is None, el
    idx = int(p.text)
    assert 1 <= idx < len(parts), (idx, len(parts))
    return parts[idx]


def test_multipart_itemoperations(mail_server):
    srv = mail_server
    addr = srv.add_account("multipart", count=2)
    md = srv.maildir(addr)
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    iid, raw, pdf = message_with_pdf(md)
    sid = "%s:%s" % (INBOX, iid)

    # the FileReference, from a plain (non-multipart) fetch of the item
    r = dev.post("ItemOperations",
                 '<ItemOperations %s><Fetch><Store>Mailbox</Store>'
                 '<airsync:CollectionId>%s</airsync:CollectionId><airsync:ServerId>%s'
                 '</airsync:ServerId></Fetch></ItemOperations>' % (IO, INBOX, sid))
    assert r.status == 200 and r.doc is not None, r
    refs = [find(a, "FileReference").text for a in r.doc.iter()
            if local(a) == "Attachment" and (find(a, "DisplayName").text or "").endswith(".pdf")]
    assert len(refs) == 1, refs
    ref = refs[0]

    def att_fetch(rng=None):
        opt = "<Options><Range>%s</Range></Options>" % rng if rng else ""
        return ('<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>%s'
                '</airsyncbase:FileReference>%s</Fetch>' % (ref, opt))

    item_fetch = ('<Fetch><Store>Mailbox</Store><airsync:CollectionId>%s</airsync:CollectionId>'
                  '<airsync:ServerId>%s</airsync:ServerId><Options><airsync:MIMESupport>2'
                  '</airsync:MIMESupport><airsyncbase:BodyPreference><airsyncbase:Type>4'
                  '</airsyncbase:Type></airsyncbase:BodyPreference></Options></Fetch>'
                  % (INBOX, sid))

    for form in ("header", "base64"):
        mp = MP(dev, form)
        # an attachment and a whole item (MIME) in one request: three parts
        doc, parts = mp.post("<ItemOperations %s>%s%s</ItemOperations>"
                             % (IO, att_fetch(), item_fetch))
        assert len(parts) == 3, [len(p) for p in parts]
        fa, fi = fetches(doc)
        assert child(fa, "Status").text == "1" and child(fi, "Status").text == "1"
        assert part_bytes(parts, child(fa, "Properties")) == pdf
        body = find(child(fi, "Properties"), "Body")
        assert find(body, "Type").text == "4"
        # the Maildir file with CRLF line ends (the wire form of MIME)
        crlf = raw.replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")
        assert part_bytes(parts, body) == crlf, "the MIME part differs from the Maildir file"
        assert {int(find(fa, "Part").text), int(find(body, "Part").text)} == {1, 2}

        # Ranges of the attachment
        total = len(pdf)
        for rng, want in (("0-99", pdf[:100]),
                          ("%d-%d" % (total - 10, total - 1), pdf[-10:]),
                          ("100-%d" % (total + 500), pdf[100:])):
            doc, parts = mp.post("<ItemOperations %s>%s</ItemOperations>" % (IO, att_fetch(rng)))
            assert len(parts) == 2
            (f,) = fetches(doc)
            props = child(f, "Properties")
            assert child(f, "Status").text == "1"
            assert find(props, "Total").text == str(total)
            first = int(rng.split("-")[0])
            assert find(props, "Range").text == "%d-%d" % (first, first + len(want) - 1)
            assert part_bytes(parts, props) == want, rng

        # a Range past the end: an error status, no binary part (the server
        # then answers plain WBXML, which a multipart client also takes)
        doc, parts = mp.post("<ItemOperations %s>%s</ItemOperations>"
                             % (IO, att_fetch("%d-%d" % (total, total + 5))), allow_plain=True)
        assert len(parts) == 1
        (f,) = fetches(doc)
        assert child(f, "Status").text != "1"
