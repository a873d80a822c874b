"""Request bodies (WBXML required, decoded within limits, root element
checked, size bounded) and replies (never compressed, exact length)."""

import gzip
import os

import pytest

import easclient
from easclient import WBXML_TYPE, encode

VC = ('<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>QUJD</Certificate>'
      '</Certificates></ValidateCert>')


def refused(server, fn, status):
    r, lines = server.call(fn)
    assert r.status == status, r
    assert len(lines) == 1, lines
    return r, lines[0]


# ---- what the body must be ----------------------------------------------------------

def test_missing_body_400(server, client):
    r, line = refused(server, lambda: client.post(body=None), 400)
    assert "no body" in line


def test_text_body_400(server, client):
    r, line = refused(server, lambda: client.post(
        body=b"<ValidateCert/>", content_type="text/xml"), 400)
    assert "not WBXML" in line
    assert "text/xml" in line


def test_binary_garbage_400(server, client):
    refused(server, lambda: client.post(body=bytes(range(256)) * 4), 400)


@pytest.mark.parametrize("cut", [4, 6, 9, 12, -1])
def test_truncated_wbxml_400(server, client, cut):
    data = encode(VC)
    r, line = refused(server, lambda: client.post(body=data[:cut]), 400)
    assert "WBXML" in line


@pytest.mark.parametrize("name,data", [
    ("unknown tag", b"\x03\x01\x6a\x00\x00\x0b\x7f\x01"),
    ("bad page", b"\x03\x01\x6a\x00\x00\x7e\x45\x01"),
    ("attribute", b"\x03\x01\x6a\x00\x00\x0b\xc5\x01\x01"),
    ("two roots", b"\x03\x01\x6a\x00\x00\x0b\x05\x05"),
    ("bad utf-8", b"\x03\x01\x6a\x00\x00\x0b\x45\x46\x47\x03\xff\xfe\x00\x01\x01\x01"),
    ("trailing bytes", b"\x03\x01\x6a\x00\x00\x0b\x05\x00"),
    ("huge mb_u_int32", b"\x03\x01\x6a\xff\xff\xff\xff\xff\xff\x00"),
])
def test_malformed_wbxml_400(server, client, name, data):
    r, line = refused(server, lambda: client.post(body=data), 400)
    assert "WBXML decoding failed at byte" in line, (name, line)


def test_wrong_root_element_400(server, client):
    r, line = refused(server, lambda: client.post(
        xml='<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>'), 400)
    assert "FolderSync" in line and "ValidateCert" in line


def test_root_on_another_code_page_400(server, client):
    data = b"\x03\x01\x6a\x00\x05"  # <Sync xmlns="AirSync:"/>, page 0
    r, line = refused(server, lambda: client.post(body=data), 400)
    assert "root element" in line


def test_depth_limit_400(server):
    c = server.client(host="limits.test")  # ActiveSyncWBXMLLimits 4 20
    ok = c.post(xml=VC)
    assert ok.status == 200
    deep = ('<ValidateCert xmlns="ValidateCert:"><Certificates><Certificates><Certificates>'
            '<Certificate>QUJD</Certificate></Certificates></Certificates></Certificates>'
            '</ValidateCert>')
    r, line = refused(server, lambda: c.post(xml=deep), 400)
    assert "limit" in line.lower()


def test_element_count_limit_400(server):
    c = server.client(host="limits.test")
    many = ('<ValidateCert xmlns="ValidateCert:"><Certificates>%s</Certificates>'
            '</ValidateCert>' % ("<Certificate>QUJD</Certificate>" * 30))
    r, line = refused(server, lambda: c.post(xml=many), 400)
    assert "limit" in line.lower()
    # The same document is fine where the default limits apply.
    assert server.client().post(xml=many).status == 200


# ---- size bound (ActiveSyncMaxRequestSize) ----------------------------------------------

def _padded(n):
    """A ValidateCert request of exactly n bytes or more (certificate text padding)."""
    base = len(encode(VC))
    pad = max(0, n - base)
    return encode(VC.replace("QUJD", "QUJD" * (1 + pad // 4)))


def test_limit_content_length_413(server):
    c = server.client(host="limits.test")  # 2048 bytes
    body = _padded(4096)
    r, line = refused(server, lambda: c.post(body=body), 413)
    assert "ActiveSyncMaxRequestSize" in line


def test_limit_chunked_413(server):
    c = server.client(host="limits.test")
    body = _padded(4096)
    r, line = refused(server, lambda: c.post(body=body, chunked=True, chunk_size=512), 413)
    assert "ActiveSyncMaxRequestSize" in line


def test_limit_main_server_chunked_413(server, client):
    body = _padded(100 * 1024)  # ActiveSyncMaxRequestSize 64K
    refused(server, lambda: client.post(body=body, chunked=True), 413)
    refused(server, lambda: client.post(body=body), 413)


def test_under_limit_chunked_ok(server):
    c = server.client(host="limits.test")
    body = _padded(1500)
    assert len(body) < 2048
    r = c.post(body=body, chunked=True, chunk_size=100)
    assert r.status == 200
    easclient.decode_reply(r.body)


def test_expect_100_continue(server, client):
    r = client.post(xml=VC, headers={"Expect": "100-continue"})
    assert r.status == 200


def test_bad_chunked_encoding_4xx(server, client):
    import socket
    req = (b"POST /Microsoft-Server-ActiveSync?" + easclient.plain_query(
        "ValidateCert", "demo@example.com").encode() + b" HTTP/1.1\r\n"
        b"Host: localhost\r\nAuthorization: " + client.auth_header().encode() + b"\r\n"
        b"MS-ASProtocolVersion: 14.1\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"zz\r\nabc\r\n0\r\n\r\n")
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as s:
        s.sendall(req)
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    status = int(data.split(b" ", 2)[1])
    assert 400 <= status < 500, data[:200]


# ---- replies are never compressed ------------------------------------------------------

@pytest.mark.parametrize("path", ["/deflate/Microsoft-Server-ActiveSync",
                                  "/deflate-bytype/Microsoft-Server-ActiveSync"])
def test_deflate_never_compresses_reply(server, path):
    c = server.client(path=path)
    r = c.post(xml=VC, headers={"Accept-Encoding": "gzip, deflate"})
    assert r.status == 200
    assert r.header("Content-Encoding") is None
    assert r.header("Content-Type") == WBXML_TYPE
    assert int(r.header("Content-Length")) == len(r.body)
    assert r.body[:1] == b"\x03"  # WBXML, not gzip (1f 8b)
    easclient.decode_reply(r.body)


@pytest.mark.parametrize("path", ["/deflate/Microsoft-Server-ActiveSync",
                                  "/deflate-bytype/Microsoft-Server-ActiveSync"])
def test_deflate_empty_reply_stays_empty(server, path):
    c = server.client(path=path)
    r = c.options(headers={"Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.header("Content-Encoding") is None
    assert r.header("Content-Length") == "0"
    assert r.header("Content-Type") == WBXML_TYPE
    assert r.body == b""


def test_deflate_control(server):
    """Control: the same filter does compress an ordinary response here, so
    the tests above prove something; and the module's own refusal pages
    are not compressed either."""
    with open(os.path.join(server.root, "htdocs", "big.txt"), "w") as f:
        f.write("compress me " * 2000)
    c = server.client(None)
    r = c.request("GET", path="/deflate-control/big.txt", headers={"Accept-Encoding": "gzip"})
    assert r.status == 200
    assert r.header("Content-Encoding") == "gzip"
    assert gzip.decompress(r.body).startswith(b"compress me")
    r = server.client(path="/deflate/Microsoft-Server-ActiveSync").request(
        "GET", headers={"Accept-Encoding": "gzip"})
    assert r.status == 405
    assert r.header("Content-Encoding") is None


def test_reply_length_exact_and_not_chunked(server, client):
    r = client.post(xml=VC)
    assert r.header("Transfer-Encoding") is None
    assert int(r.header("Content-Length")) == len(r.body)
