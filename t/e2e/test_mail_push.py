"""Push through httpd (issue 4): a parked Ping woken by a delivery into
new/ (tmp/ -> new/ by the test, as an MTA does), a newer Ping of the same
device ending the older one, and kill -9 of the children while a Ping or a
Sync with Wait is parked, after which the device continues with its keys.

A Ping parks after it claimed the device (a file on /dev/shm, as_watch.h);
the tests wait for that file to change instead of sleeping, so a delivery
made "too early" is still a delivery after the claim, which the Ping must
see (its watches are set before its first look at the folders)."""

import os
import signal
import time

from mailutil import (Background, deliver, folder_id, mail_server, text,  # noqa: F401
                      wait_until)

INBOX = folder_id("")
# kill -9 of a child while its Berkeley DB environment is being recovered
# may answer 503 with Retry-After (the device retries).
ALLOW_503 = True


def synced_device(srv, name, device_id=None):
    addr = srv.add_account(name, count=5)
    dev = srv.device(addr, device_id=device_id)
    assert dev.foldersync("0")["status"] == "1"
    dev.initial_sync(INBOX, window=50)
    return addr, srv.maildir(addr), dev


def park(dev, fn):
    """Start fn() in the background once the device's claim changed."""
    before = dev.claim_value()
    job = Background(fn)
    assert wait_until(lambda: dev.claim_value() not in (None, before) or job.done(),
                      timeout=30), "the request never claimed the device"
    assert not job.done(), "the request ended at once: %r" % (job.value or job.error)
    return job


def test_ping_woken_by_delivery(mail_server):
    srv = mail_server
    addr, md, dev = synced_device(srv, "pingwake")
    job = park(dev, lambda: dev.ping(300, [INBOX]))
    t0 = time.monotonic()
    iid = deliver(md, "", subject="push me")
    status, folders = job.result(30)
    latency = time.monotonic() - t0
    print("\n# %s: Ping answered %.0f ms after the delivery" % (srv.mpm, latency * 1000))
    assert status == "2" and folders == [INBOX], (status, folders)
    assert latency < 5, latency
    dev.sync_until_done(INBOX)
    assert iid in dev.items[INBOX]
    dev.check_against(md, INBOX)
    # Nothing new: an immediate Ping parks again (not 2).
    job = park(dev, lambda: dev.ping(300, [INBOX]))
    deliver(md, "", subject="push me again")
    assert job.result(30)[0] == "2"


def test_newer_ping_ends_older(mail_server):
    srv = mail_server
    addr, md, dev = synced_device(srv, "pingnewer")
    older = park(dev, lambda: dev.ping(300, [INBOX]))
    newer = park(dev, lambda: dev.ping(300, [INBOX]))
    status, folders = older.result(30)
    assert status == "1" and folders == [], (status, folders)
    assert older.elapsed() < 30
    assert not newer.done()
    # Another device of the same account is not affected.
    dev2 = srv.device(addr, device_id="PINGNEWER2")
    assert dev2.foldersync("0")["status"] == "1"
    dev2.initial_sync(INBOX, window=50)
    other = park(dev2, lambda: dev2.ping(300, [INBOX]))
    deliver(md, "", subject="for both")
    assert newer.result(30) == ("2", [INBOX])
    assert other.result(30) == ("2", [INBOX])


def kill_children(srv):
    kids = srv.children()
    assert kids
    for pid in kids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    srv.killed |= set(kids)
    # The parent starts new children.
    assert wait_until(lambda: set(srv.children()) - set(kids), timeout=30), "no new child"
    return kids


def test_kill_children_with_parked_ping(mail_server):
    srv = mail_server
    addr, md, dev = synced_device(srv, "killping")
    key = dev.keys[INBOX]
    job = park(dev, lambda: dev.ping(300, [INBOX]))
    kill_children(srv)
    job.t.join(30)
    assert job.done()
    assert job.error is not None or job.value is None, job.value  # the connection broke
    new = [deliver(md, "", subject="after kill %d" % i) for i in range(3)]
    # The device's next request: a Ping (the remembered folders) sees the mail.
    status, folders = dev.ping(300, [INBOX])
    assert status == "2" and folders == [INBOX], (status, folders)
    # Its Sync key is still valid; the three new messages arrive once.
    dev.sync_until_done(INBOX)
    assert dev.keys[INBOX] != key
    assert set(new) <= set(dev.items[INBOX])
    dev.check_against(md, INBOX)


def test_kill_children_with_parked_sync(mail_server):
    srv = mail_server
    addr, md, dev = synced_device(srv, "killsync")
    key = dev.keys[INBOX]
    job = park(dev, lambda: dev.sync_raw(INBOX, window=50, wait=5))
    kill_children(srv)
    job.t.join(30)
    assert job.done()
    new = [deliver(md, "", subject="after kill %d" % i) for i in range(3)]
    assert dev.keys[INBOX] == key
    dev.sync_until_done(INBOX)
    assert dev.keys[INBOX] != key
    assert set(new) <= set(dev.items[INBOX])
    dev.check_against(md, INBOX)
    # Paging interrupted by kill -9: a page is asked, the children die, the
    # device asks again with the same key (it never got the reply).
    for i in range(120):
        deliver(md, "", subject="batch %d" % i)
    r = dev.sync_raw(INBOX, window=50)       # reply "lost": not applied
    kill_children(srv)
    again = dev.sync_raw(INBOX, window=50)   # same key
    assert again.body == r.body
    dev.apply(again, INBOX)
    dev.sync_until_done(INBOX, window=50)
    dev.check_against(md, INBOX)


def test_sync_wait_woken_by_delivery(mail_server):
    srv = mail_server
    addr, md, dev = synced_device(srv, "syncwait")
    job = park(dev, lambda: dev.sync_raw(INBOX, window=50, wait=5))
    iid = deliver(md, "", subject="wake the sync")
    r = job.result(30)
    more, c = dev.apply(r, INBOX)
    assert c is not None and text(c, "Status") == "1", r
    assert iid in dev.items[INBOX]
    dev.check_against(md, INBOX)
