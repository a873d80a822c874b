"""Contacts and notes through httpd (issue 11): real WBXML (easclient) on
an account whose collections are in Radicale's layout
(`ActiveSyncCollections STORAGE/collection-root/%u`).

- FolderSync shows the default address book (type 9) and notes (type 10);
- the initial Sync sends the contacts on disk, in pages;
- the phone's Add (resent: nothing twice), Change and Delete land in the
  .vcf files, with what EAS cannot carry kept;
- a file edited on disk by another program arrives as a Change;
  GetItemEstimate counts it; ItemOperations fetches a contact;
- a Radicale on the same storage (started here, htpasswd authentication)
  serves the phone's contact, and its PUT reaches the phone and wakes a
  parked Ping; `radicale --verify-storage` is clean afterwards;
- notes both ways;
- with `contacts` off the address book leaves the hierarchy and a Sync of
  it is refused.
"""

import glob
import os
import time

import pytest

import httpdconf
import pimkit
from mailutil import NS, PASSWORD, Background, admin, kid, kids, ln, text, wait_until
from pimkit import (CONTACTS_NS, Radicale, book_dir, files_with, radicale_available, response,
                    setup_phone, vcard, write_file)


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def csrv(request, run_dir, module_path, sanitize, pki):
    yield from pimkit.pim_server(request, run_dir, module_path, sanitize, pki)


def test_contacts_both_ways(csrv):
    srv = csrv
    addr, dev, ph = setup_phone(srv, "ann")
    assert dev.folders[ph.fid][1] and len(dev.folder_by_type(10)) == 1  # notes too
    book = book_dir(srv, addr)
    assert os.path.isdir(book)
    for i in range(5):
        write_file(os.path.join(book, "p%d.vcf" % i), vcard("p%d" % i, "First%d" % i, "Last%d" % i))
    write_file(os.path.join(book, "keep.vcf"),
               vcard("keep", "Kim", "Keeper", "EMAIL:k1@example.net\r\nEMAIL:k2@example.net\r\n"
                     "EMAIL:k3@example.net\r\nEMAIL:k4@example.net\r\nX-CUSTOM:keep me\r\n"))
    # initial sync in pages of 2
    assert ph.sync() is not None
    pages = ph.until_done(window=2)
    assert pages == 3, pages
    assert len(ph.items) == 6
    names = sorted(v.get("LastName") for v in ph.items.values())
    assert names == ["Keeper"] + ["Last%d" % i for i in range(5)], names
    keep = [i for i, v in ph.items.items() if v.get("LastName") == "Keeper"][0]
    gone = [i for i, v in ph.items.items() if v.get("LastName") == "Last0"][0]
    # the phone adds, changes and deletes
    add = ('<Add><ClientId>new-1</ClientId><ApplicationData><c:FirstName>Phil</c:FirstName>'
           '<c:LastName>Phone</c:LastName><c:Email1Address>phil@example.net</c:Email1Address>'
           '</ApplicationData></Add>')
    key_before = ph.key
    c = ph.sync(add + '<Change><ServerId>%s:%s</ServerId><ApplicationData>'
                '<c:FirstName>Kim</c:FirstName><c:LastName>Changed</c:LastName>'
                '<c:Email1Address>k1@example.net</c:Email1Address></ApplicationData></Change>'
                '<Delete><ServerId>%s:%s</ServerId></Delete>' % (ph.fid, keep, ph.fid, gone))
    adds = response(c, "Add")
    assert len(adds) == 1 and text(adds[0], "Status") == "1"
    assert text(adds[0], "ClientId") == "new-1"
    new_sid = text(adds[0], "ServerId")
    assert new_sid.startswith(ph.fid + ":")
    assert response(c, "Change") == [] and response(c, "Delete") == []
    assert kid(c, "Commands") is None  # the phone's own changes are not echoed
    key_after = ph.key
    ph.items[new_sid.split(":")[1]] = {"LastName": "Phone"}
    ph.items[keep]["LastName"] = "Changed"
    del ph.items[gone]
    assert len(files_with(book, "phil@example.net")) == 1
    changed = open(os.path.join(book, "keep.vcf")).read()
    assert "Changed" in changed and "X-CUSTOM:keep me" in changed and "k4@example.net" in changed
    assert not os.path.exists(os.path.join(book, "p0.vcf"))
    # the reply was lost: the same request again makes nothing twice
    c = ph.sync(add, key=key_before)
    assert ph.key == key_after
    assert [text(a, "ServerId") for a in response(c, "Add")] == [new_sid]
    assert len(files_with(book, "phil@example.net")) == 1
    # another program edits a file (same size): a Change with the whole contact
    write_file(os.path.join(book, "p1.vcf"), vcard("p1", "First1", "Edit1"))
    est = dev.post("GetItemEstimate",
                   '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:">'
                   '<Collections><Collection><airsync:SyncKey>%s</airsync:SyncKey>'
                   '<CollectionId>%s</CollectionId></Collection></Collections></GetItemEstimate>'
                   % (ph.key, ph.fid))
    assert text(kid(est.doc, "Response"), "Status") == "1", est
    assert text(kid(kid(est.doc, "Response"), "Collection"), "Estimate") == "1", est
    c = ph.sync()
    cmds = kids(kid(c, "Commands"))
    assert [ln(x) for x in cmds] == ["Change"], ph.last
    assert text(kid(cmds[0], "ApplicationData"), "LastName") == "Edit1"
    assert text(kid(cmds[0], "ApplicationData"), "FirstName") == "First1"
    # nothing more: an empty reply
    assert ph.sync() is None and ph.last.body == b""
    # ItemOperations Fetch of a contact
    io = dev.post("ItemOperations",
                  '<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:"><Fetch>'
                  '<Store>Mailbox</Store><airsync:CollectionId>%s</airsync:CollectionId>'
                  '<airsync:ServerId>%s:%s</airsync:ServerId></Fetch></ItemOperations>'
                  % (ph.fid, ph.fid, keep))
    f = kid(kid(io.doc, "Response"), "Fetch")
    assert text(f, "Status") == "1", io
    assert text(f, "Class") == "Contacts"
    assert text(kid(f, "Properties"), "LastName") == "Changed", io


def test_notes_both_ways(csrv):
    srv = csrv
    addr, dev, ph = setup_phone(srv, "nora", typ=10)
    notes = book_dir(srv, addr, "notes")
    assert os.path.isdir(notes)
    write_file(os.path.join(notes, "n1.ics"),
               "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:VJOURNAL\r\n"
               "UID:n1\r\nDTSTAMP:20260101T100000Z\r\nSUMMARY:Shopping\r\n"
               "DESCRIPTION:milk\r\nX-OTHER:kept\r\nEND:VJOURNAL\r\nEND:VCALENDAR\r\n")
    ns = 'xmlns:n="Notes:"'
    # MS-ASNOTE: Supported in a Notes Sync is a protocol error (Status 4)
    r = dev.post("Sync", "<Sync %s %s><Collections><Collection><SyncKey>0</SyncKey>"
                 "<CollectionId>%s</CollectionId><Supported><n:Subject/></Supported></Collection>"
                 "</Collections></Sync>" % (NS % "AirSync:", ns, ph.fid))
    assert text(kid(kid(r.doc, "Collections"), "Collection"), "Status") == "4", r
    assert ph.sync(ns=ns) is not None
    ph.until_done()
    assert [v.get("Subject") for v in ph.items.values()] == ["Shopping"]
    c = ph.sync('<Add><ClientId>note-1</ClientId><ApplicationData><n:Subject>From the phone'
                '</n:Subject><n:MessageClass>IPM.StickyNote</n:MessageClass></ApplicationData>'
                '</Add>', ns=ns)
    assert text(response(c, "Add")[0], "Status") == "1", ph.last
    assert len(files_with(notes, "From the phone", "*.ics")) == 1
    nid = list(ph.items)[0]
    ph.sync('<Change><ServerId>%s:%s</ServerId><ApplicationData><n:Subject>Groceries'
            '</n:Subject></ApplicationData></Change>' % (ph.fid, nid), ns=ns)
    body = open(os.path.join(notes, "n1.ics")).read()
    assert "Groceries" in body and "X-OTHER:kept" in body, body


def test_contacts_off(csrv):
    srv = csrv
    addr, dev, ph = setup_phone(srv, "olga")
    assert ph.sync() is not None
    admin(srv.datadir, "account", "set", addr, "contacts=off")
    r = dev.post("Sync", "<Sync %s><Collections><Collection><SyncKey>%s</SyncKey>"
                 "<CollectionId>%s</CollectionId></Collection></Collections></Sync>"
                 % (NS % "AirSync:", ph.key, ph.fid))
    # the device still lists it: FolderSync needed
    assert text(kid(kid(r.doc, "Collections"), "Collection"), "Status") == "12", r
    delta = dev.foldersync()
    assert ph.fid in delta["delete"], delta
    assert len(dev.folder_by_type(10)) == 1  # notes follow pim, still on
    r = dev.post("Sync", "<Sync %s><Collections><Collection><SyncKey>%s</SyncKey>"
                 "<CollectionId>%s</CollectionId></Collection></Collections></Sync>"
                 % (NS % "AirSync:", ph.key, ph.fid))
    assert text(kid(kid(r.doc, "Collections"), "Collection"), "Status") == "8", r
    admin(srv.datadir, "account", "set", addr, "contacts=on")
    assert ph.fid in [a[0] for a in dev.foldersync()["add"]]


# ---- a real Radicale on the same storage ----------------------------------------------

def _ping(dev, fid, heartbeat=300):
    r = dev.post("Ping", '<Ping xmlns="Ping:"><HeartbeatInterval>%d</HeartbeatInterval><Folders>'
                 '<Folder><Id>%s</Id><Class>Contacts</Class></Folder></Folders></Ping>'
                 % (heartbeat, fid))
    assert r.status == 200 and r.doc is not None, r
    fl = kid(r.doc, "Folders")
    return text(r.doc, "Status"), [f.text for f in kids(fl)] if fl is not None else []


@pytest.mark.skipif(not radicale_available(), reason="python3-radicale is not installed")
def test_radicale_shares_the_address_book(csrv):
    srv = csrv
    addr, dev, ph = setup_phone(srv, "rita")
    ph.sync()
    ph.until_done()
    rad = Radicale(srv.storage, addr, PASSWORD)
    try:
        # the phone adds a contact: CardDAV clients see it (GET, REPORT)
        c = ph.sync('<Add><ClientId>r1</ClientId><ApplicationData><c:FirstName>Rad</c:FirstName>'
                    '<c:LastName>FromPhone</c:LastName></ApplicationData></Add>')
        assert text(response(c, "Add")[0], "Status") == "1"
        st, body = rad.request("PROPFIND", "/%s/contacts/" % addr,
                               '<?xml version="1.0"?><propfind xmlns="DAV:"><prop><getetag/>'
                               '</prop></propfind>', {"Depth": "1", "Content-Type": "text/xml"})
        assert st == 207, (st, body)
        st, body = rad.request(
            "REPORT", "/%s/contacts/" % addr,
            '<?xml version="1.0"?><C:addressbook-query xmlns:D="DAV:" '
            'xmlns:C="urn:ietf:params:xml:ns:carddav"><D:prop><D:getetag/><C:address-data/>'
            '</D:prop></C:addressbook-query>', {"Depth": "1", "Content-Type": "text/xml"})
        assert st == 207 and "FromPhone" in body, (st, body)
        href = files_with(book_dir(srv, addr), "FromPhone")[0]
        st, body = rad.request("GET", "/%s/contacts/%s" % (addr, os.path.basename(href)))
        assert st == 200 and "FromPhone" in body
        # a parked Ping wakes when a CardDAV client PUTs a contact
        before = dev.claim_value()
        job = Background(lambda: _ping(dev, ph.fid))
        assert wait_until(lambda: dev.claim_value() not in (None, before) or job.done(), 30)
        assert not job.done(), job.value
        t0 = time.monotonic()
        st, _ = rad.request("PUT", "/%s/contacts/dav-1.vcf" % addr, vcard("dav-1", "Dav", "Put"),
                            {"Content-Type": "text/vcard"})
        assert st == 201, st
        assert job.result(30) == ("2", [ph.fid])
        latency = time.monotonic() - t0
        print("\n# %s: Ping answered %.0f ms after the CardDAV PUT" % (srv.mpm, latency * 1000))
        assert latency < 5
        c = ph.sync()
        adds = [kid(x, "ApplicationData") for x in kids(kid(c, "Commands"), "Add")]
        assert [text(a, "LastName") for a in adds] == ["Put"]
        # a change over CardDAV reaches the phone as a Change
        st, _ = rad.request("PUT", "/%s/contacts/dav-1.vcf" % addr, vcard("dav-1", "Dav", "Put2"),
                            {"Content-Type": "text/vcard"})
        assert st in (201, 204), st
        c = ph.sync()
        assert [ln(x) for x in kids(kid(c, "Commands"))] == ["Change"]
    finally:
        rad.stop()
    rad.verify()


def _folder_cmd(dev, cmd, inner):
    r = dev.post(cmd, '<%s xmlns="FolderHierarchy:"><SyncKey>%s</SyncKey>%s</%s>'
                 % (cmd, dev.hier_key, inner, cmd))
    assert r.status == 200 and r.doc is not None, r
    if text(r.doc, "Status") == "1":
        dev.hier_key = text(r.doc, "SyncKey")
    return r


def _props_with(root, needle):
    return [p for p in glob.glob(os.path.join(root, "*", ".Radicale.props"))
            if needle in open(p).read()]


def test_folder_create_update_delete_collections(csrv):
    srv = csrv
    addr, dev, ph = setup_phone(srv, "fred")
    root = os.path.join(srv.storage, "collection-root", addr)
    r = _folder_cmd(dev, "FolderCreate", "<ParentId>0</ParentId><DisplayName>Friends</DisplayName>"
                    "<Type>14</Type>")
    assert text(r.doc, "Status") == "1", r
    fid = text(r.doc, "ServerId")
    made = _props_with(root, "Friends")
    assert len(made) == 1 and "VADDRESSBOOK" in open(made[0]).read()
    # a note list too
    r = _folder_cmd(dev, "FolderCreate", "<ParentId>0</ParentId><DisplayName>Ideas</DisplayName>"
                    "<Type>17</Type>")
    assert text(r.doc, "Status") == "1", r
    notes_fid = text(r.doc, "ServerId")
    # the device knows them now: the next FolderSync has nothing new
    d = dev.foldersync()
    assert not (d["add"] or d["update"] or d["delete"]), d
    # a type that cannot be created: Status 10, nothing made
    r = _folder_cmd(dev, "FolderCreate", "<ParentId>0</ParentId><DisplayName>Odd</DisplayName>"
                    "<Type>19</Type>")
    assert text(r.doc, "Status") == "10", r
    assert not _props_with(root, "Odd")
    # rename, then delete
    r = _folder_cmd(dev, "FolderUpdate", "<ServerId>%s</ServerId><ParentId>0</ParentId>"
                    "<DisplayName>Best friends</DisplayName>" % fid)
    assert text(r.doc, "Status") == "1", r
    assert len(_props_with(root, "Best friends")) == 1
    for f in (fid, notes_fid):
        r = _folder_cmd(dev, "FolderDelete", "<ServerId>%s</ServerId>" % f)
        assert text(r.doc, "Status") == "1", r
    assert not _props_with(root, "Best friends") and not _props_with(root, "Ideas")
    # the default address book stays: Status 3 (special folder)
    r = _folder_cmd(dev, "FolderDelete", "<ServerId>%s</ServerId>" % ph.fid)
    assert text(r.doc, "Status") == "3", r
    d = dev.foldersync()
    assert not (d["add"] or d["update"] or d["delete"]), d


def test_email_off_contacts_on_121(csrv):
    """Contacts without mail, from a 12.1 device (Class in the collection):
    the address book syncs, the mail operations find no folder."""
    srv = csrv
    addr = srv.add_account("eve")
    admin(srv.datadir, "account", "set", addr, "email=off")
    dev = srv.device(addr, version="12.1")
    d = dev.foldersync("0")
    assert d["status"] == "1", d
    # contacts and the pim classes: tasks 7, calendar 8, contacts 9, notes 10
    assert sorted(t for _, _, _, t in d["add"]) == [7, 8, 9, 10], d
    fid = dev.folder_by_type(9)[0]
    write_file(os.path.join(book_dir(srv, addr), "e1.vcf"), vcard("e1", "Evi", "Dent"))
    keys = {}

    def sync12(key, commands=""):
        r = dev.post("Sync", "<Sync %s %s><Collections><Collection><Class>Contacts</Class>"
                     "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>%s</Collection>"
                     "</Collections></Sync>" % (NS % "AirSync:", CONTACTS_NS, key, fid,
                                                 commands and "<Commands>%s</Commands>" % commands))
        c = [e for e in r.doc.iter() if isinstance(e.tag, str) and ln(e) == "Collection"][0]
        assert text(c, "Status") == "1", r
        keys["k"] = text(c, "SyncKey")
        return c

    sync12("0")
    c = sync12(keys["k"])
    adds = kids(kid(c, "Commands"), "Add")
    assert [text(kid(a, "ApplicationData"), "LastName") for a in adds] == ["Dent"]
    sid = text(adds[0], "ServerId")
    # mail operations on a contact find no mail folder
    r = dev.post("MoveItems", '<MoveItems xmlns="Move:"><Move><SrcMsgId>%s</SrcMsgId>'
                 '<SrcFldId>%s</SrcFldId><DstFldId>%s</DstFldId></Move></MoveItems>'
                 % (sid, fid, dev.folder_by_type(10)[0]))
    assert text(kid(r.doc, "Response"), "Status") == "1", r
    r = dev.post("ItemOperations", '<ItemOperations xmlns="ItemOperations:" '
                 'xmlns:airsync="AirSync:"><EmptyFolderContents><airsync:CollectionId>%s'
                 '</airsync:CollectionId></EmptyFolderContents></ItemOperations>' % fid)
    assert text(kid(kid(r.doc, "Response"), "EmptyFolderContents"), "Status") == "6", r
    assert os.path.exists(os.path.join(book_dir(srv, addr), "e1.vcf"))


def test_sync_wait_woken_by_a_file(csrv):
    """A Sync with Wait on the address book parks, and a .vcf written by
    another program ends it with the Add."""
    srv = csrv
    addr, dev, ph = setup_phone(srv, "walt")
    ph.sync()
    assert ph.sync() is None  # empty book: nothing
    before = dev.claim_value()
    xml = ("<Sync %s><Collections><Collection><SyncKey>%s</SyncKey><CollectionId>%s"
           "</CollectionId></Collection></Collections><Wait>5</Wait></Sync>"
           % (NS % "AirSync:", ph.key, ph.fid))
    job = Background(lambda: dev.post("Sync", xml))
    assert wait_until(lambda: dev.claim_value() not in (None, before) or job.done(), 30)
    assert not job.done(), job.value
    t0 = time.monotonic()
    write_file(os.path.join(book_dir(srv, addr), "w1.vcf"), vcard("w1", "Wanda", "Waited"))
    r = job.result(60)
    latency = time.monotonic() - t0
    print("\n# %s: Sync with Wait answered %.0f ms after the file was written"
          % (srv.mpm, latency * 1000))
    assert latency < 5, latency
    adds = [e for e in r.doc.iter() if isinstance(e.tag, str) and ln(e) == "Add"]
    assert [text(kid(a, "ApplicationData"), "LastName") for a in adds] == ["Waited"], r
