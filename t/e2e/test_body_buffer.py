"""The request body buffer follows the bytes that arrive, not the announced
Content-Length: it starts at 16 KiB (or the Content-Length when smaller)
and doubles as data comes in, bounded by ActiveSyncMaxRequestSize.

The buffer's size is read from its trace2 log line ("request body buffer
now N bytes"), which the traceall.test virtual host (LogLevel
activesync:trace4, ActiveSyncMaxRequestSize 1M) writes."""

import re
import socket

import easclient
from easclient import encode, plain_query

VC = ('<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>QUJD</Certificate>'
      '</Certificates></ValidateCert>')
FIRST = 16384
BUFFER_RE = re.compile(r"request body buffer now (\d+) bytes \((\d+) received\)")


def buffer_sizes(lines):
    return [(int(m.group(1)), int(m.group(2))) for m in map(BUFFER_RE.search, lines) if m]


def raw_post(server, client, announced, sent):
    """POST with Content-Length `announced`, send `sent` bytes of body, close
    our half of the connection; return the status line the server answers
    (b"" if it answers nothing)."""
    query = plain_query("ValidateCert", "bob")
    head = ("POST %s?%s HTTP/1.1\r\nHost: traceall.test\r\nAuthorization: %s\r\n"
            "MS-ASProtocolVersion: 14.1\r\nContent-Type: %s\r\nContent-Length: %d\r\n\r\n"
            % (easclient.EAS_PATH, query, client.auth_header(), easclient.WBXML_TYPE,
               announced)).encode()
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as s:
        s.sendall(head + sent)
        s.shutdown(socket.SHUT_WR)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    return data.split(b"\r\n", 1)[0]


def test_large_announcement_small_body(server):
    """~1 MB announced, 100 bytes sent, then the client gives up: the server
    held 16 KiB, not the announced megabyte."""
    client = server.client("bob", host="traceall.test")
    body = encode(VC)[:100].ljust(100, b"\0")
    status, lines = server.call(lambda: raw_post(server, client, 1000000, body),
                                log=server.trace_log("traceall_log"))
    assert status == b"" or b" 400 " in status, status
    assert buffer_sizes(lines) == [(FIRST, 100)], lines
    failed = [ln for ln in lines if "reading the request body failed after 100 bytes" in ln]
    assert len(failed) == 1, lines


def test_small_body_one_exact_allocation(server):
    """A body smaller than 16 KiB costs one allocation of its own size."""
    client = server.client("bob", host="traceall.test")
    body = encode(VC)
    r, lines = server.call(lambda: client.post(body=body), log=server.trace_log("traceall_log"))
    assert r.status == 200, r
    assert buffer_sizes(lines) == [(len(body), len(body))], lines


def test_growth_is_geometric_and_bounded(server):
    """A 200 KB body, sent chunked (no length announced): the buffer goes
    16 KiB, 32 KiB, ... doubling, and ends below twice the body."""
    client = server.client("bob", host="traceall.test")
    body = encode(VC.replace("QUJD", "QUJD" * 50000))
    assert 200000 < len(body) < 262144
    r, lines = server.call(lambda: client.post(body=body, chunked=True, chunk_size=4096),
                           log=server.trace_log("traceall_log"))
    assert r.status == 200, r
    sizes = [cap for cap, _ in buffer_sizes(lines)]
    assert sizes == [FIRST << k for k in range(len(sizes))], sizes
    assert sizes[-1] == 262144, sizes
    for cap, received in buffer_sizes(lines):
        assert received <= cap < 2 * received or cap == FIRST, lines
