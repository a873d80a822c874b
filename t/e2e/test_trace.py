"""Protocol dumps at LogLevel activesync:trace4: only for the configured
trace account/device (or for everyone when none is configured), passwords
redacted, never the Authorization header or a raw query string.

Virtual hosts (see e2eharness.standard_body):
  trace.test     trace4, ActiveSyncTraceAccount tracer@example.com,
                 ActiveSyncTraceDevice TRACEDEV1 <binary device id in hex>
  traceall.test  trace4, no filter
Each has its own ErrorLog, so dumps are counted per request.
"""

import base64
import re

import pytest

from e2eharness import BINARY_DEVICE_ID, TRACE_DEVICE, USERS
from easclient import base64_query, plain_query

VC = ('<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>QUJD</Certificate>'
      '</Certificates></ValidateCert>')
SECRET = "Hunter2-Pa55word-Xq"
IO_WITH_PASSWORD = (
    '<ItemOperations xmlns="ItemOperations:" xmlns:airsync="AirSync:"><Fetch>'
    '<Store>DocumentLibrary</Store><LinkId>\\\\server\\share\\file.txt</LinkId><Options>'
    '<UserName>demo</UserName><Password>%s</Password></Options></Fetch></ItemOperations>'
    % SECRET)
SEARCH_WITH_PASSWORD = (
    '<Search xmlns="Search:"><Store><Name>DocumentLibrary</Name><Query><EqualTo>'
    '<LinkId>\\\\server\\share</LinkId><Value>x</Value></EqualTo></Query><Options>'
    '<UserName>demo</UserName><Password>%s</Password></Options></Store></Search>' % SECRET)


def dump_lines(server, logname, fn):
    path = server.trace_log(logname)
    mark = server.log_mark(path)
    r = fn()
    text = server.log_since(mark, path)
    return r, [ln for ln in text.splitlines() if "[activesync:trace4]" in ln], text


def assert_no_secrets(text):
    for user, pw in USERS.items():
        assert pw not in text
        assert base64.b64encode(("%s:%s" % (user, pw)).encode()).decode() not in text
        assert base64.b64encode(pw.encode()).decode() not in text
    assert SECRET not in text
    assert "Authorization" not in text
    assert "Basic " not in text


def test_trace_account_dumped(server):
    c = server.client("tracer@example.com", host="trace.test")
    r, dumps, text = dump_lines(server, "trace_log", lambda: c.post(xml=VC))
    assert r.status == 200
    assert any("request| <ValidateCert" in ln for ln in dumps), text
    assert any("request|     <Certificate>QUJD</Certificate>" in ln for ln in dumps), text
    assert any("reply| <ValidateCert" in ln for ln in dumps), text
    assert any("reply|   <Status>" in ln for ln in dumps), text
    assert_no_secrets(text)
    # Parsed fields only, never the raw query.
    assert "Cmd=ValidateCert&" not in text


def test_other_account_not_dumped(server):
    c = server.client("demo@example.com", host="trace.test")
    r, dumps, text = dump_lines(server, "trace_log", lambda: c.post(xml=VC))
    assert r.status == 200
    assert dumps == [], text


def test_trace_device_dumped(server):
    c = server.client("demo@example.com", host="trace.test", device_id=TRACE_DEVICE.lower())
    r, dumps, text = dump_lines(server, "trace_log", lambda: c.post(xml=VC))
    assert r.status == 200
    assert any("request|" in ln for ln in dumps), text


def test_trace_binary_device_dumped(server):
    """A base64 request line with a binary device id matches the hex form
    given to ActiveSyncTraceDevice."""
    c = server.client("demo@example.com", host="trace.test")
    q = base64_query("14.1", "ValidateCert", device_id=BINARY_DEVICE_ID)
    r, dumps, text = dump_lines(server, "trace_log",
                                lambda: c.post(xml=VC, query=q, version=None))
    assert r.status == 200
    assert any("reply|" in ln for ln in dumps), text


def test_no_filter_dumps_everyone(server):
    c = server.client("bob", host="traceall.test")
    r, dumps, text = dump_lines(server, "traceall_log", lambda: c.post(xml=VC))
    assert r.status == 200
    assert any("request|" in ln for ln in dumps) and any("reply|" in ln for ln in dumps)


def test_huge_dump_is_cut(server):
    c = server.client("bob", host="traceall.test")
    big = VC.replace("QUJD", "QUJD" * 100000)  # 400 KB of text
    r, dumps, text = dump_lines(server, "traceall_log", lambda: c.post(xml=big))
    assert r.status == 200
    assert any("request| (dump cut after 262144 of" in ln for ln in dumps), dumps[-3:]
    assert sum(len(ln) for ln in dumps) < 400000


def test_not_traced_at_info(server, client):
    # The default vhost runs at activesync:info: no dumps at all.
    r, dumps, text = dump_lines(server, "error_log", lambda: client.post(xml=VC))
    assert r.status == 200
    assert dumps == []


def test_password_redacted_in_dump(server):
    """A document with a Password element, sent where it is decoded and
    dumped (ValidateCert's endpoint; refused for its root element): the dump
    shows the element with its content replaced."""
    c = server.client("tracer@example.com", host="traceall.test")
    r, dumps, text = dump_lines(server, "traceall_log",
                                lambda: c.post(cmd="ValidateCert", xml=IO_WITH_PASSWORD))
    assert r.status == 400
    assert any("<Password>(redacted)</Password>" in ln for ln in dumps), text
    assert any("<UserName>demo</UserName>" in ln for ln in dumps), text
    assert_no_secrets(text)
    refusals = [ln for ln in text.splitlines()
                if re.search(r"\[activesync:(info|notice|warn|error)\]", ln)]
    assert len(refusals) == 1, refusals


@pytest.mark.parametrize("cmd,xml", [("ItemOperations", IO_WITH_PASSWORD),
                                     ("Search", SEARCH_WITH_PASSWORD)])
def test_password_never_logged(server, cmd, xml):
    """Commands whose documents carry passwords: whatever the answer
    (501 while not implemented), no log has the secret."""
    c = server.client("tracer@example.com", host="traceall.test")
    r, dumps, text = dump_lines(server, "traceall_log", lambda: c.post(cmd=cmd, xml=xml))
    assert r.status in (200, 400, 501)
    assert_no_secrets(text)
    if r.status == 200:
        assert any("(redacted)" in ln for ln in dumps)


def test_no_secret_in_any_log(server):
    """After all of the above (same server): no error log holds a password,
    its base64, or an Authorization header."""
    for user in USERS:
        c = server.client(user, host="traceall.test")
        c.post(xml=VC)
        c.post(xml=VC, query=plain_query("ValidateCert", "someone-else@example.com"))
    assert_no_secrets(server.all_error_text())
