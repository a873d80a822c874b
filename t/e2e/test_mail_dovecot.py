"""A real Dovecot (Debian's dovecot-imapd) on the same Maildir as the
module (issue 4): started by the test on 127.0.0.1 with a private
configuration (own base_dir, a free port, passwd-file passdb/userdb running
as www-data, mail_location maildir:...), stopped by pid.  A message marked
read over IMAP shows as read on the device after the next Sync; a message
the device deletes (Sync Delete: to Trash; DeletesAsMoves 0: expunged)
disappears from INBOX over IMAP; a message Dovecot expunges disappears
from the device; Dovecot's own files in the Maildir are ignored."""

import os
import re

import pytest

from mailutil import (Dovecot, PASSWORD, deliver, dovecot_available, folder_id,  # noqa: F401
                      mail_server, make_message, truth)

INBOX = folder_id("")
TRASH = folder_id("Trash")


@pytest.fixture
def dovecot(mail_server, request):
    if not dovecot_available():
        pytest.fail("dovecot is not installed (build/debian-packages: dovecot-imapd)")
    srv = mail_server
    addr = srv.add_account("imap")
    d = Dovecot(os.path.join(srv.root, "dovecot"), addr, PASSWORD, srv.maildir(addr))
    d.start()
    d.addr = addr
    yield d
    d.stop()
    log = d.tail()
    assert not re.search(r"(?i)\b(panic|fatal|corrupt)", log), log


def uid_of(m, msgid):
    typ, data = m.uid("SEARCH", None, "HEADER", "Message-ID", msgid)
    assert typ == "OK", data
    uids = data[0].split()
    return uids[0] if uids else None


def test_dovecot_same_maildir(mail_server, dovecot):
    srv = mail_server
    md = srv.maildir(dovecot.addr)
    ids = {}
    for tag in ("read", "trash", "expunge", "imapdel"):
        msgid = "%s-%s@e2e.test" % (tag, srv.mpm)
        ids[tag] = (msgid, deliver(md, "", data=make_message("Dovecot %s" % tag, msgid=msgid)))
    dev = srv.device(dovecot.addr)
    assert dev.foldersync("0")["status"] == "1"
    dev.initial_sync(INBOX, window=50)
    dev.initial_sync(TRASH, window=50)
    assert dev.items[INBOX][ids["read"][1]] == (False, False)

    m = dovecot.imap()
    try:
        typ, _ = m.select("INBOX")
        assert typ == "OK"
        # Read over IMAP -> read on the device after the next Sync.
        uid = uid_of(m, ids["read"][0])
        assert uid
        assert m.uid("STORE", uid, "+FLAGS", r"(\Seen)")[0] == "OK"
        m.noop()
        dev.sync_until_done(INBOX)
        assert dev.items[INBOX][ids["read"][1]] == (True, False)
        dev.check_against(md, INBOX)

        # Deleted on the device (moved to Trash) -> gone from INBOX over IMAP.
        for tag, dam in (("trash", None), ("expunge", 0)):
            iid = ids[tag][1]
            r = dev.sync_raw(INBOX, deletes_as_moves=dam,
                             commands="<Delete><ServerId>%s:%s</ServerId></Delete>" % (INBOX, iid))
            dev.apply(r, INBOX)
            del dev.items[INBOX][iid]
        m.noop()
        m.close()
        m.select("INBOX")
        assert uid_of(m, ids["trash"][0]) is None
        assert uid_of(m, ids["expunge"][0]) is None
        assert uid_of(m, ids["read"][0]) is not None
        m.select("Trash")
        assert uid_of(m, ids["trash"][0]) is not None
        assert uid_of(m, ids["expunge"][0]) is None
        # Deleted over IMAP -> gone from the device.
        m.select("INBOX")
        uid = uid_of(m, ids["imapdel"][0])
        m.uid("STORE", uid, "+FLAGS", r"(\Deleted)")
        m.expunge()
        dev.sync_until_done(INBOX)
        assert ids["imapdel"][1] not in dev.items[INBOX]
        dev.check_against(md, INBOX)
        dev.sync_until_done(TRASH)
        dev.check_against(md, TRASH, "Trash")
        # Dovecot's files (dovecot-uidlist, indexes) do not appear as mail
        # or folders.
        assert any(n.startswith("dovecot") for n in os.listdir(md)), os.listdir(md)
        d = dev.foldersync()
        assert d["status"] == "1" and not d["add"] and not d["delete"], d
        # A message appended over IMAP shows on the device.
        m.append("INBOX", None, None, make_message("Appended over IMAP",
                                                   msgid="append-%s@e2e.test" % srv.mpm))
        dev.sync_until_done(INBOX)
        dev.check_against(md, INBOX)
        assert len(dev.items[INBOX]) == len(truth(md))
    finally:
        try:
            m.logout()
        except Exception:
            pass
