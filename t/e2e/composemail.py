"""WBXML bodies of the ComposeMail commands (code page 21) built by hand, so
that the phone's message bytes reach the server untouched (OPAQUE): one
builder for SendMail, SmartReply and SmartForward, shared by the tests."""

import email
import email.message
import email.policy
import os
import stat

import easclient
from mailutil import text

# ComposeMail tokens
SEND_MAIL, SMART_FORWARD, SMART_REPLY = 0x05, 0x06, 0x07
SAVE_IN_SENT, REPLACE_MIME, SOURCE, FOLDER_ID, ITEM_ID, MIME, CLIENT_ID = (
    0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x10, 0x11)

HEAD = b"\x03\x01\x6a\x00\x00\x15"  # WBXML 1.3, UTF-8, no string table, page 21


def mb_u_int32(n):
    out = [n & 0x7F]
    n >>= 7
    while n:
        out.append(0x80 | (n & 0x7F))
        n >>= 7
    return bytes(reversed(out))


def str_i(tok, s):
    return bytes([0x40 | tok, 0x03]) + s.encode() + b"\x00\x01"


def compose_wbxml(cmd_tok, client_id, mime, source=None, save=True, replace=False):
    """CMD{ClientId, [Source{FolderId, ItemId}], [SaveInSentItems],
    [ReplaceMime], Mime as OPAQUE}; source: (folder id, item server id)."""
    b = bytearray(HEAD)
    b.append(0x40 | cmd_tok)
    b += str_i(CLIENT_ID, client_id)
    if source is not None:
        b.append(0x40 | SOURCE)
        b += str_i(FOLDER_ID, source[0]) + str_i(ITEM_ID, source[1])
        b.append(0x01)
    if save:
        b.append(SAVE_IN_SENT)
    if replace:
        b.append(REPLACE_MIME)
    b += bytes([0x40 | MIME, 0xC3]) + mb_u_int32(len(mime)) + mime + b"\x01"
    b.append(0x01)
    return bytes(b)


def sendmail_wbxml(client_id, mime, save=True):
    return compose_wbxml(SEND_MAIL, client_id, mime, save=save)


def smart_wbxml(cmd_tok, client_id, folder, item, mime, replace=False, save=True):
    return compose_wbxml(cmd_tok, client_id, mime, source=(folder, item), save=save,
                         replace=replace)


def recording_sendmail(run_dir, name, can_fail=False):
    """A stand-in for the MTA's sendmail: a script that records each
    submission as DIR/PID.argv (its arguments) and DIR/PID.msg (its standard
    input) and exits 0.  DIR is world-writable (httpd's children run as
    another user).  can_fail: while a file DIR/FAIL exists the script refuses
    as an MTA does (words on stderr, exit 75).  Returns (DIR, script)."""
    d = os.path.join(run_dir, name + "-out")
    os.makedirs(d, exist_ok=True)
    os.chmod(d, 0o1777)
    script = os.path.join(run_dir, name + "-sendmail.sh")
    fail = ('if [ -e "%s/FAIL" ]; then echo "451 4.3.0 queue file write error" >&2; exit 75; fi\n'
            % d) if can_fail else ""
    with open(script, "w") as f:
        f.write('#!/bin/sh\n%sn="%s/$$"\nprintf \'%%s\\n\' "$@" > "$n.argv"\ncat > "$n.msg"\n'
                "exit 0\n" % (fail, d))
    os.chmod(script, stat.S_IRWXU | stat.S_IRGRP | stat.S_IXGRP | stat.S_IROTH | stat.S_IXOTH)
    return d, script


def submissions(d, sender=None):
    """(argv, message) of every submission recorded in d (only those with
    sender among the arguments when given), oldest first."""
    out = []
    names = [n for n in os.listdir(d) if n.endswith(".msg")]
    for n in sorted(names, key=lambda n: os.stat(os.path.join(d, n)).st_mtime_ns):
        with open(os.path.join(d, n[:-4] + ".argv")) as f:
            argv = f.read().splitlines()
        if sender is None or sender in argv:
            with open(os.path.join(d, n), "rb") as f:
                out.append((argv, f.read()))
    return out


def phone_message(addr, to, subject, body="Yes, nine is fine. – Ann\n"):
    """The phone's own message (with a Bcc the MTA must not see)."""
    msg = email.message.EmailMessage(policy=email.policy.SMTP)
    msg["From"] = addr
    msg["To"] = to
    msg["Bcc"] = "hidden@example.org"
    msg["Subject"] = subject
    msg["Date"] = "Mon, 07 Dec 2026 11:00:00 +0000"
    msg.set_content(body)
    return msg.as_bytes()


def text_body(raw):
    """The message and its text (canonical CRLF line ends made LF)."""
    m = email.message_from_bytes(raw, policy=email.policy.default)
    return m, m.get_body(preferencelist=("plain",)).get_content().replace("\r\n", "\n")


def status_of(r):
    """The Status of a ComposeMail reply."""
    return text(easclient.decode_reply(r.body), "Status")
