"""Sync loop detection through httpd (eas-protocol §3.18, §6.3 #8): a
device that cannot take one item keeps resending its previous SyncKey.
The first two resends are lost replies as far as the server can tell and
get the stored reply byte for byte; the third gets the reply rebuilt with
one change, the following changes come one per reply, and when the reply
carrying only the bad item loops as well the item is skipped, with one log
line naming account, device, collection and ServerId.  In the end the
device holds exactly the Maildir minus that item.  Every reply passes
validate-eas (easclient)."""

from mailutil import (BODY_PLAIN_5K, deliver, folder_id, kid, kids, mail_server, set_flags,  # noqa: F401
                      text, truth)

INBOX = folder_id("")


def adds_of(r):
    return [text(a, "ServerId") for a in r.doc.iter()
            if isinstance(a.tag, str) and a.tag.endswith("}Add") and text(a, "ServerId")]


def commands_of(r):
    c = [e for e in r.doc.iter() if isinstance(e.tag, str) and e.tag.endswith("}Commands")]
    return kids(c[0]) if c else []


def test_poison_item_is_narrowed_and_skipped(mail_server):
    srv = mail_server
    addr = srv.add_account("loop", count=10)
    md = srv.maildir(addr)
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    want = truth(md)
    assert len(want) >= 20
    mark = srv.log_mark(srv.error_log)

    r = dev.sync_raw(INBOX, key="0")
    dev.apply(r, INBOX)
    dev.items[INBOX] = {}
    bad = None
    requests = resends = 0
    first_body = None
    rebuilt_seen = False
    more = True
    while more:
        key = dev.keys[INBOX]
        r = dev.sync_raw(INBOX, window=100, options=BODY_PLAIN_5K)
        assert r.status == 200 and r.doc is not None, r
        requests += 1
        assert requests < 100, "the loop did not end"
        if bad is None:
            sids = adds_of(r)
            assert len(sids) >= 5, len(sids)
            bad = sids[4]  # the device chokes on the fifth item
        if bad in adds_of(r):
            # the device breaks on this reply and resends the same key
            if resends == 0:
                first_body = r.body
            elif resends < 3:
                assert r.body == first_body, "resend %d: the reply changed" % resends
            resends += 1
            assert resends <= 3, "the third resend was not answered differently"
            assert dev.keys[INBOX] == key
            continue
        if resends == 3 and not rebuilt_seen:
            # the 20-item reply, resent three times: rebuilt with one change
            assert len(commands_of(r)) == 1, r
            rebuilt_seen = True
        # one change per reply from the first loop on
        assert len(commands_of(r)) <= 1, r
        resends = 0
        more, _ = dev.apply(r, INBOX)
    assert rebuilt_seen

    bad_iid = bad.split(":")[1]
    have = dev.items[INBOX]
    assert bad_iid not in have
    expect = dict(want)
    del expect[bad_iid]
    assert have == expect, "device vs Maildir minus the skipped item differ"
    assert dev.counts[INBOX]["Add"] == len(want) - 1

    log = srv.log_since(mark, srv.error_log)
    lines = [ln for ln in log.splitlines() if "item %s skipped" % bad in ln]
    assert len(lines) == 1, log[-3000:]
    print("\n# %s: %d requests; %s" % (srv.mpm, requests, lines[0].split("] ", 3)[-1]))
    assert ("account %s device %s collection %s" % (addr, dev.device_id, INBOX)) in lines[0]
    assert sum("rebuilt with one" in ln for ln in log.splitlines()) == 1, log[-3000:]

    # The skipped item is not offered again, not even after a flag change;
    # new mail still arrives, exactly once.
    set_flags(md, "", bad_iid, "FS")
    r = dev.sync_raw(INBOX, window=100, options=BODY_PLAIN_5K)
    assert r.status == 200 and r.doc is None, r
    deliver(md, "", subject="after the loop")
    dev.sync_until_done(INBOX, window=100)
    expect = truth(md)
    del expect[bad_iid]
    assert dev.items[INBOX] == expect


def test_single_lost_reply_still_identical(mail_server):
    """One lost reply (a single resend) gets the identical reply; the device
    then goes on from it without loss or duplicate."""
    srv = mail_server
    addr = srv.add_account("lost", count=5)
    md = srv.maildir(addr)
    dev = srv.device(addr)
    assert dev.foldersync("0")["status"] == "1"
    r = dev.sync_raw(INBOX, key="0")
    dev.apply(r, INBOX)
    dev.items[INBOX] = {}
    k1 = dev.keys[INBOX]
    r1 = dev.sync_raw(INBOX, window=7, options=BODY_PLAIN_5K)
    r2 = dev.sync_raw(INBOX, key=k1, window=7, options=BODY_PLAIN_5K)
    assert r1.body == r2.body and len(commands_of(r2)) == 7
    more, _ = dev.apply(r2, INBOX)
    assert more
    dev.sync_until_done(INBOX, window=7)
    dev.check_against(md, INBOX)
