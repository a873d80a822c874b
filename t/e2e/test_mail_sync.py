"""Sync, MoveItems and ItemOperations through httpd on generated Maildirs
(issue 4): a full initial sync of a 10,000-message folder in pages compared
exactly with the Maildir; deliveries, flag changes, Dovecot-style renames
and removals by another program during paging; the resend of a lost reply's
request; client Change / Delete; MoveItems; an attachment fetched by
FileReference with Range.  Every reply passes validate-eas (easclient)."""

import base64
import email
import email.policy
import os
import random
import time

from mailutil import (BODY_PLAIN_5K, SyncError, deliver, find_file, folder_dir, folder_id,
                      kid, kids, mail_server, remove, set_flags, text, truth)  # noqa: F401

INBOX = folder_id("")


def setup_device(srv, name, count=0):
    addr = srv.add_account(name, count=count)
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    return addr, srv.maildir(addr), dev


def test_initial_sync_10000_in_pages(mail_server):
    """10,000 messages (mkmaildir: 15 real-looking ones + 9,985 plain), pages
    of 100 with the plain body truncated at 5 KB: every file once."""
    srv = mail_server
    addr, md, dev = setup_device(srv, "tenk", count=9985)
    want = truth(md)
    assert len(want) == 10000
    t0 = time.monotonic()
    pages = dev.initial_sync(INBOX, window=100, options=BODY_PLAIN_5K)
    elapsed = time.monotonic() - t0
    print("\n# %s: initial sync of 10,000 messages through httpd: %d pages in %.1f s "
          "(%.0f ms/page, including validate-eas and two decoders per reply)"
          % (srv.mpm, pages, elapsed, elapsed * 1000 / pages))
    assert dev.counts[INBOX]["Add"] == 10000
    assert set(dev.items[INBOX]) == set(want)
    dev.check_against(md, INBOX)
    assert pages == 100, pages
    # Nothing changed: an empty reply, the key stays.
    key = dev.keys[INBOX]
    r = dev.sync_raw(INBOX, window=100, options=BODY_PLAIN_5K)
    assert r.status == 200 and r.doc is None and r.body == b"", r
    assert dev.keys[INBOX] == key


def test_changes_by_another_program_during_paging(mail_server):
    srv = mail_server
    addr, md, dev = setup_device(srv, "race", count=600)
    rnd = random.Random(4)
    log = {"delivered": 0, "dovecot_moved": 0, "flagged": 0, "removed": 0}

    def between(page):
        # a delivery into new/ (tmp/ -> new/)
        deliver(md, "", subject="During page %d" % page)
        log["delivered"] += 1
        news = [n for n in os.listdir(os.path.join(md, "new"))]
        curs = [n for n in os.listdir(os.path.join(md, "cur"))]
        # Dovecot style: new/X -> cur/X:2,S
        if news:
            n = rnd.choice(sorted(news))
            os.rename(os.path.join(md, "new", n), os.path.join(md, "cur", n + ":2,S"))
            log["dovecot_moved"] += 1
        # flag change by rename: add F (or drop it)
        if curs:
            n = rnd.choice(sorted(curs))
            base, info = (n.split(":2,", 1) + [""])[:2]
            flags = set(info) ^ {"F"}
            try:
                os.rename(os.path.join(md, "cur", n),
                          os.path.join(md, "cur", base + ":2," + "".join(sorted(flags))))
                log["flagged"] += 1
            except FileNotFoundError:
                pass
        # a removal (expunge)
        curs = sorted(os.listdir(os.path.join(md, "cur")))
        if curs:
            try:
                os.unlink(os.path.join(md, "cur", rnd.choice(curs)))
                log["removed"] += 1
            except FileNotFoundError:
                pass

    pages = dev.initial_sync(INBOX, window=25, options=BODY_PLAIN_5K, between=between)
    # After the last page: sync until an empty reply (the last changes).
    for _ in range(20):
        r = dev.sync_raw(INBOX, window=25, options=BODY_PLAIN_5K)
        more, c = dev.apply(r, INBOX)
        if c is None:
            break
    else:
        raise AssertionError("no quiet Sync after 20 tries")
    print("\n# %s: %d pages with %s" % (srv.mpm, pages, log))
    assert pages >= 20
    dev.check_against(md, INBOX)
    cnt = dev.counts[INBOX]
    assert cnt["Delete"] + cnt.get("SoftDelete", 0) > 0 and cnt["Change"] > 0, cnt


def test_resend_after_lost_reply_and_invalid_key(mail_server):
    srv = mail_server
    addr, md, dev = setup_device(srv, "resend", count=20)
    dev.initial_sync(INBOX, window=10)
    dev.check_against(md, INBOX)
    k1 = dev.keys[INBOX]
    new = [deliver(md, "", subject="resend %d" % i) for i in range(3)]
    first = dev.sync_raw(INBOX, window=10)
    # The reply was lost: the device sends the same request again.
    again = dev.sync_raw(INBOX, window=10)
    assert first.status == again.status == 200
    c1, c2 = dev.collection(first, INBOX), dev.collection(again, INBOX)
    assert text(c1, "Status") == text(c2, "Status") == "1"
    assert text(c1, "SyncKey") == text(c2, "SyncKey") != k1

    def sids(c):
        return [(child.tag, text(child, "ServerId")) for child in kids(kid(c, "Commands"))]
    assert sids(c1) == sids(c2)
    assert sorted(s.split(":")[1] for _, s in sids(c1)) == sorted(new)
    assert first.body == again.body, "the resent request got another reply"
    dev.apply(again, INBOX)
    dev.check_against(md, INBOX)
    k2 = dev.keys[INBOX]
    # The next request with the new key: nothing new, nothing duplicated.
    r = dev.sync_raw(INBOX, window=10)
    assert r.doc is None, r
    # k1 is still N-1 (k2 did not advance: nothing changed), so its resend
    # still gets the same answer (DESIGN 3: only truly unknown keys are 3).
    r = dev.sync_raw(INBOX, key=k1, window=10)
    assert r.body == first.body
    # Keys never issued: Status 3.
    for bad in ("{00000000}77", "12345", "0x"):
        r = dev.sync_raw(INBOX, key=bad, window=10)
        c = dev.collection(r, INBOX)
        assert text(c, "Status") == "3", (bad, r)
    # The server forgot nothing for the good key.
    dev.keys[INBOX] = k2
    deliver(md, "", subject="after the bad keys")
    dev.sync_until_done(INBOX, window=10)
    dev.check_against(md, INBOX)
    k3 = dev.keys[INBOX]
    assert k3 != k2
    # Now k1 is N-2: unknown, Status 3; k2 (N-1) is still answered.
    r = dev.sync_raw(INBOX, key=k1, window=10)
    assert text(dev.collection(r, INBOX), "Status") == "3", r
    r = dev.sync_raw(INBOX, key=k2, window=10)
    assert text(dev.collection(r, INBOX), "Status") == "1", r
    assert text(dev.collection(r, INBOX), "SyncKey") == k3, r


def attachment_part(path, suffix=".pdf"):
    with open(path, "rb") as f:
        msg = email.message_from_binary_file(f, policy=email.policy.default)
    for part in msg.walk():
        fn = part.get_filename() or ""
        if fn.endswith(suffix):
            return part.get_payload(decode=True)
    return None


def fetch_data(props):
    d = kid(props, "Data")
    assert d is not None, props
    raw = (d.text or "").strip()
    return base64.b64decode(raw)


def test_change_delete_move_fetch(mail_server):
    srv = mail_server
    addr, md, dev = setup_device(srv, "ops", count=10)
    work = folder_id("Work")
    trash = folder_id("Trash")
    assert dev.folders[work][2] == 12 and dev.folders[trash][2] == 4
    dev.initial_sync(INBOX, window=50)
    dev.initial_sync(work, window=50)
    dev.check_against(md, INBOX)
    unread = sorted(i for i, (r, _) in truth(md).items() if not r)
    assert len(unread) >= 3

    # Change: Read=1 -> the file gets the S flag (and moves to cur/).
    a = unread[0]
    r = dev.sync_raw(INBOX, commands="<Change><ServerId>%s:%s</ServerId><ApplicationData>"
                     "<email:Read>1</email:Read></ApplicationData></Change>" % (INBOX, a))
    dev.apply(r, INBOX)
    dev.items[INBOX][a] = (True, dev.items[INBOX][a][1])
    sub, name = find_file(md, "", a)
    assert sub == "cur" and "S" in name.split(":2,")[1], name
    # Flag via Change, too (FlagStatus: libwbxml's name of Email 0x3B Status).
    r = dev.sync_raw(INBOX, commands="<Change><ServerId>%s:%s</ServerId><ApplicationData>"
                     "<email:Flag><email:FlagStatus>2</email:FlagStatus><email:FlagType>Flag for follow "
                     "up</email:FlagType></email:Flag></ApplicationData></Change>" % (INBOX, a))
    dev.apply(r, INBOX)
    dev.items[INBOX][a] = (True, True)
    assert "F" in find_file(md, "", a)[1].split(":2,")[1]

    # Delete (DeletesAsMoves default): moved to .Trash, base name kept.
    b = unread[1]
    bname = find_file(md, "", b)[1].split(":")[0]
    r = dev.sync_raw(INBOX, commands="<Delete><ServerId>%s:%s</ServerId></Delete>" % (INBOX, b))
    dev.apply(r, INBOX)
    del dev.items[INBOX][b]
    assert find_file(md, "", b) is None
    tr = [n for s, n in [(s, n) for s in ("new", "cur")
                         for n in os.listdir(os.path.join(folder_dir(md, "Trash"), s))]
          if n.split(":")[0] == bname]
    assert len(tr) == 1, os.listdir(os.path.join(folder_dir(md, "Trash"), "cur"))

    # MoveItems to Work.
    c = unread[2]
    r = dev.post("MoveItems", '<MoveItems xmlns="Move:"><Move><SrcMsgId>%s:%s</SrcMsgId>'
                 '<SrcFldId>%s</SrcFldId><DstFldId>%s</DstFldId></Move></MoveItems>'
                 % (INBOX, c, INBOX, work))
    assert r.status == 200 and r.doc is not None, r
    resp = kid(r.doc, "Response")
    assert text(resp, "Status") == "3", r
    dst = text(resp, "DstMsgId")
    dfid, diid = dst.split(":")
    assert dfid == work
    assert find_file(md, "", c) is None and find_file(md, "Work", diid) is not None
    # The device moved it itself.
    flags = dev.items[INBOX].pop(c)
    dev.items[work][diid] = flags
    # The next Syncs bring neither a Delete in INBOX nor an Add in Work
    # for the move (model asserts no unknown Delete / duplicate Add).
    for fid, storage in ((INBOX, ""), (work, "Work")):
        dev.sync_until_done(fid, window=50)
        dev.check_against(md, fid, storage)

    # ItemOperations: the attachment by FileReference, whole and by Range.
    att_iid = None
    for sub, n in [(s, n) for s in ("new", "cur") for n in os.listdir(os.path.join(md, s))]:
        pdf = attachment_part(os.path.join(md, sub, n))
        if pdf:
            att_iid = (n.split(":")[0], pdf)
            break
    assert att_iid, "no message with a PDF attachment in the generated Maildir"
    from mailutil import item_id
    iid, pdf = item_id(att_iid[0]), att_iid[1]
    r = dev.post("ItemOperations",
                 '<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:" '
                 'xmlns:airsyncbase="AirSyncBase:"><Fetch><Store>Mailbox</Store>'
                 '<airsync:CollectionId>%s</airsync:CollectionId><airsync:ServerId>%s:%s'
                 '</airsync:ServerId><Options><airsyncbase:BodyPreference><airsyncbase:Type>1'
                 '</airsyncbase:Type></airsyncbase:BodyPreference></Options></Fetch>'
                 '</ItemOperations>' % (INBOX, INBOX, iid))
    assert r.status == 200 and r.doc is not None, r
    refs = {text(a, "DisplayName"): text(a, "FileReference")
            for a in r.doc.iter() if isinstance(a.tag, str) and a.tag.endswith("}Attachment")}
    ref = [v for k, v in refs.items() if k.endswith(".pdf")]
    assert len(ref) == 1, refs

    def fetch_ref(rng=None):
        opt = "<Options><Range>%s</Range></Options>" % rng if rng else ""
        r = dev.post("ItemOperations",
                     '<ItemOperations xmlns="ItemOperations:" xmlns:airsyncbase="AirSyncBase:">'
                     '<Fetch><Store>Mailbox</Store><airsyncbase:FileReference>%s'
                     '</airsyncbase:FileReference>%s</Fetch></ItemOperations>' % (ref[0], opt))
        assert r.status == 200 and r.doc is not None, r
        f = [e for e in r.doc.iter() if isinstance(e.tag, str) and e.tag.endswith("}Fetch")][0]
        assert text(f, "Status") == "1", r
        return kid(f, "Properties")

    props = fetch_ref()
    assert fetch_data(props) == pdf
    props = fetch_ref("0-99")
    assert text(props, "Range") == "0-99" and text(props, "Total") == str(len(pdf)), props
    assert fetch_data(props) == pdf[:100]
    last = "%d-%d" % (len(pdf) - 10, len(pdf) - 1)
    props = fetch_ref(last)
    assert fetch_data(props) == pdf[-10:]
