"""FolderSync through httpd on generated Maildirs (issue 4): the initial
hierarchy with the EAS folder types, folders added / renamed / removed on
disk by another program arriving as deltas, and an account with email off
seeing no mail folder and getting the protocol's not-found statuses."""

import os
import shutil

from mailutil import (admin, chown_tree, folder_id, kid, mail_server, text)  # noqa: F401

# (on-disk name, display name, type, parent on-disk name or None)
EXPECTED = [
    ("", None, 2, None),
    ("Sent", "Sent", 5, None),
    ("Drafts", "Drafts", 3, None),
    ("Trash", "Trash", 4, None),
    ("Junk", "Junk", 12, None),
    ("Work", "Work", 12, None),
    ("Work.Projects", "Projects", 12, "Work"),
    ("Entw&APw-rfe", "Entw\u00fcrfe", 12, None),
]
# The mail folder types; the account's contacts and notes (types 9, 10)
# are in the same hierarchy (test_contacts_sync.py).
MAIL_TYPES = (1, 2, 3, 4, 5, 6, 12)


def mail_adds(adds):
    return [a for a in adds if a[3] in MAIL_TYPES]


def mkfolder(maildir, storage):
    d = os.path.join(maildir, "." + storage)
    for s in ("cur", "new", "tmp"):
        os.makedirs(os.path.join(d, s), exist_ok=True)
    open(os.path.join(d, "maildirfolder"), "w").close()
    chown_tree(d)


def test_foldersync_initial_and_disk_deltas(mail_server):
    srv = mail_server
    addr = srv.add_account("folders")
    md = srv.maildir(addr)
    dev = srv.device(addr)
    d = dev.foldersync("0")
    assert d["status"] == "1", d
    assert dev.hier_key not in ("0", "", None)
    assert not d["update"] and not d["delete"]
    assert len(mail_adds(d["add"])) == len(EXPECTED), d["add"]
    got = {sid: (parent, name, typ) for sid, parent, name, typ in mail_adds(d["add"])}
    for storage, name, typ, parent in EXPECTED:
        fid = folder_id(storage)
        assert fid in got, (storage, fid, got)
        p, n, t = got[fid]
        assert t == typ, (storage, got[fid])
        if name is not None:
            assert n == name, (storage, got[fid])
        assert p == (folder_id(parent) if parent else "0"), (storage, got[fid])
    # exactly one folder of each special type
    for typ in (2, 3, 4, 5):
        assert len(dev.folder_by_type(typ)) == 1, (typ, got)

    # No change: no delta.
    key = dev.hier_key
    d = dev.foldersync()
    assert d["status"] == "1" and not (d["add"] or d["update"] or d["delete"]), d

    # Another program adds, renames and removes folders on disk.
    mkfolder(md, "Added")
    mkfolder(md, "Work.Added Child")
    os.rename(os.path.join(md, ".Work.Projects"), os.path.join(md, ".Work.Renamed"))
    shutil.rmtree(os.path.join(md, ".Junk"))
    d = dev.foldersync()
    assert d["status"] == "1", d
    assert dev.hier_key != key
    adds = {sid: (p, n, t) for sid, p, n, t in d["add"]}
    assert adds == {
        folder_id("Added"): ("0", "Added", 12),
        folder_id("Work.Added Child"): (folder_id("Work"), "Added Child", 12),
        folder_id("Work.Renamed"): (folder_id("Work"), "Renamed", 12),
    }, d
    # A rename by another program is Delete + Add (as_maildir.h).
    assert sorted(d["delete"]) == sorted([folder_id("Work.Projects"), folder_id("Junk")]), d
    assert not d["update"], d

    # A folder removed together with its child; the rest stays.
    shutil.rmtree(os.path.join(md, ".Work.Renamed"))
    d = dev.foldersync()
    assert d["delete"] == [folder_id("Work.Renamed")] and not d["add"], d

    # A second device starting from scratch sees the current hierarchy.
    dev2 = srv.device(addr, device_id="FOLDERSDEV2")
    dev2.foldersync("0")
    assert dev2.folders == dev.folders

    # An unknown hierarchy key: Status 9 (resync).
    d = dev.foldersync("999999999")
    assert d["status"] == "9", d


def test_email_off_hides_mail(mail_server):
    srv = mail_server
    addr = srv.add_account("noemail")
    dev = srv.device(addr)
    # With email on the folders are there and the Inbox syncs ...
    assert dev.foldersync("0")["status"] == "1"
    inbox = folder_id("")
    assert inbox in dev.folders
    dev.initial_sync(inbox, window=50)
    assert len(dev.items[inbox]) > 0
    # ... then the administrator switches email off for the account.
    admin(srv.datadir, "account", "set", addr, "email=off")
    dev2 = srv.device(addr, device_id="NOEMAILDEV2")
    d = dev2.foldersync("0")
    assert d["status"] == "1", d
    assert mail_adds(d["add"]) == [], d
    assert d["add"], d  # contacts and notes stay
    # The device that knew the folders: they are deleted (or the hierarchy
    # is reset); in no case does a mail folder remain.
    d = dev.foldersync()
    assert d["status"] in ("1", "9"), d
    if d["status"] == "1":
        assert not [f for f, e in dev.folders.items() if e[2] in MAIL_TYPES], (d, dev.folders)
    # Sync on a mail collection: not found (collection Status 8), with the
    # device's old key and with key 0.
    for key in (dev.keys[inbox], "0"):
        r = dev.sync_raw(inbox, key=key)
        assert r.status == 200 and r.doc is not None, r
        top = text(r.doc, "Status")
        coll = [c for c in r.doc.iter() if isinstance(c.tag, str) and
                c.tag.endswith("Collection") and kid(c, "Status") is not None]
        st = text(coll[0], "Status") if coll else top
        assert st == "8", r
    # GetItemEstimate: Status 2 (collection not found).
    r = dev.post("GetItemEstimate",
                 '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:">'
                 '<Collections><Collection><airsync:SyncKey>%s</airsync:SyncKey>'
                 '<CollectionId>%s</CollectionId></Collection></Collections>'
                 '</GetItemEstimate>' % (dev.keys[inbox], inbox))
    assert r.status == 200 and r.doc is not None, r
    sts = [e.text for e in r.doc.iter() if isinstance(e.tag, str) and e.tag.endswith("Status")]
    assert "2" in sts, r
    # Switched back on: everything is there again.
    admin(srv.datadir, "account", "set", addr, "email=on")
    dev3 = srv.device(addr, device_id="NOEMAILDEV3")
    assert len(mail_adds(dev3.foldersync("0")["add"])) == len(EXPECTED)
