"""SmartReply and SmartForward whose Source is a calendar item: the reply
or forward is composed from the invitation the item stands for; a forward
carries it as invite.ics (METHOD:REQUEST, the same UID), a reply quotes its
when, where and description, and the calendar file is not changed.  A
Source that is no message (an unknown folder) gets 150."""

import os

import pytest

import httpdconf
import pimkit
from composemail import (SMART_FORWARD, SMART_REPLY, phone_message, recording_sendmail,
                         smart_wbxml, status_of, submissions, text_body)


@pytest.fixture(scope="module")
def outdir(run_dir):
    return recording_sendmail(run_dir, "smartcal")


@pytest.fixture(scope="module", params=[httpdconf.MPMS[0]])
def pimsrv(request, run_dir, module_path, sanitize, pki, outdir):
    _, script = outdir
    yield from pimkit.pim_server(request, run_dir, module_path, sanitize, pki,
                                 extra='ActiveSyncSendmail "%s -i"\n' % script)


MEETING = ("BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//e2e//EN\r\nBEGIN:VEVENT\r\n"
           "UID:fwd-meeting-1@example.net\r\nDTSTAMP:20261201T100000Z\r\n"
           "DTSTART:20261215T130000Z\r\nDTEND:20261215T140000Z\r\nSUMMARY:Budget 2027\r\n"
           "LOCATION:Room 4\r\nDESCRIPTION:Numbers first.\r\n"
           "ORGANIZER;CN=Org Anizer:mailto:org@example.net\r\n"
           "ATTENDEE;CN=Cal Endar;PARTSTAT=ACCEPTED:mailto:%s\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n")


def test_forward_and_reply_of_a_calendar_item(pimsrv, outdir):
    """A Source in the calendar is the meeting: a forward carries it as an
    invitation (invite.ics, METHOD:REQUEST, the same UID), a reply quotes
    its when/where/description; the calendar file is not changed."""
    d, _ = outdir
    srv = pimsrv
    addr, dev, ph = pimkit.setup_phone(srv, "calfwd", typ=8)
    cal = os.path.join(srv.storage, "collection-root", addr, "calendar")
    path = os.path.join(cal, "budget.ics")
    pimkit.write_file(path, MEETING % addr)
    with open(path, "rb") as f:
        before = f.read()
    ph.sync(ns='xmlns:cal="Calendar:"')  # SyncKey 0
    ph.until_done()
    iid, = ph.items
    fid = ph.fid
    sid = "%s:%s" % (fid, iid)

    r = dev.client.post("SmartForward", body=smart_wbxml(
        SMART_FORWARD, "calfwd-1", fid, sid, phone_message(addr, "new@example.org", "Fwd: Budget",
                                                          "Please join.\n")))
    assert r.status == 200 and not r.body, (r.status, r.body)
    (argv, got), = submissions(d, addr)
    assert argv[-2:] == ["new@example.org", "hidden@example.org"], argv
    m, txt = text_body(got)
    assert txt.startswith("Please join.\n"), txt
    assert "Budget 2027" in txt and "When: 2026-12-15 13:00 UTC" in txt, txt
    invite, = [p for p in m.iter_attachments() if p.get_content_type() == "text/calendar"]
    assert invite.get_filename() == "invite.ics"
    assert invite.get_param("method") == "REQUEST"
    ics = invite.get_content().replace("\r\n", "\n")
    assert "METHOD:REQUEST" in ics and "UID:fwd-meeting-1@example.net" in ics, ics

    r = dev.client.post("SmartReply", body=smart_wbxml(
        SMART_REPLY, "calrep-1", fid, sid, phone_message(addr, "org@example.net", "Re: Budget",
                                                        "Can we start at 14:00?\n")))
    assert r.status == 200 and not r.body, (r.status, r.body)
    _argv, got = submissions(d, addr)[-1]
    _m, txt = text_body(got)
    assert txt.startswith("Can we start at 14:00?\n"), txt
    assert "Org Anizer wrote:" in txt and "> Where: Room 4" in txt and "> Numbers first." in txt
    with open(path, "rb") as f:
        assert f.read() == before  # nothing marked on a calendar item

    # a contact is no message: 150
    r = dev.client.post("SmartForward", body=smart_wbxml(
        SMART_FORWARD, "calfwd-2", "nope", "nope:0000000000000", phone_message(
            addr, "new@example.org", "Fwd", "x\n")))
    assert status_of(r) == "150"
