"""OPTIONS, methods, the service switch: what the endpoint advertises and
that the advertisement matches what POST accepts."""

import easclient
from easclient import ALL_VERSIONS, COMMAND_CODES, WBXML_TYPE


def _versions(resp):
    return resp.header("MS-ASProtocolVersions").split(",")


def test_options_headers(server, client):
    r, lines = server.call(lambda: client.options())
    assert r.status == 200
    assert r.body == b""
    assert r.header("Content-Length") == "0"
    assert r.header("Content-Type") == WBXML_TYPE
    assert r.header("Allow") == "OPTIONS,POST"
    assert r.header("Public") == "OPTIONS,POST"
    assert r.header("Cache-Control") == "private"
    assert r.header("MS-Server-ActiveSync")
    assert r.header("Content-Encoding") is None
    versions = _versions(r)
    assert versions and all(v in ALL_VERSIONS for v in versions), versions
    assert versions == sorted(versions, key=lambda v: tuple(map(int, v.split(".")))), versions
    assert "14.1" in versions
    # 12.1 is handled in full; 14.0 must stay listed (the Thunderbird add-on
    # refuses to sync otherwise)
    assert "12.1" in versions and "14.0" in versions
    commands = r.header("MS-ASProtocolCommands").split(",")
    assert all(c in COMMAND_CODES for c in commands), commands
    assert len(set(commands)) == len(commands)
    assert "ValidateCert" in commands
    assert "Provision" in commands and "Settings" in commands
    assert "Sync" in commands and "FolderSync" in commands and "Ping" in commands
    # Not implemented yet: must not be advertised.
    assert "Search" not in commands and "ResolveRecipients" not in commands
    # implemented: advertised
    assert "SmartReply" in commands and "SmartForward" in commands
    assert lines == []  # a normal request logs nothing at info


def test_options_with_request_line(server, client):
    # Clients send OPTIONS with the plain query, some with none (both fine).
    r = client.options(query=easclient.plain_query("Sync", "demo@example.com"))
    assert r.status == 200
    assert r.header("MS-ASProtocolVersions")


def test_options_requires_apache_auth(server):
    r = server.client("demo@example.com", password="wrong").options()
    assert r.status == 401
    assert r.header("WWW-Authenticate", ).startswith("Basic")
    assert r.header("MS-ASProtocolVersions") is None


def test_advertised_commands_are_exactly_the_implemented_ones(server, client):
    """Every advertised command is dispatched (not 501); every other known
    command is answered 501."""
    advertised = set(client.options().header("MS-ASProtocolCommands").split(","))
    for cmd in COMMAND_CODES:
        # GetAttachment exists up to 12.1 (14.x gets 501: test_getattachment.py)
        r = client.post(cmd=cmd, body=None, version="12.1" if cmd == "GetAttachment" else Ellipsis)
        if cmd in advertised:
            assert r.status != 501, (cmd, r)
            assert r.status < 500, (cmd, r)
        else:
            assert r.status == 501, (cmd, r)


def test_advertised_versions_are_exactly_the_supported_ones(server, client):
    advertised = _versions(client.options())
    vc = "<ValidateCert xmlns=\"ValidateCert:\"><Certificates><Certificate>QUJD</Certificate>" \
         "</Certificates></ValidateCert>"
    for v in ALL_VERSIONS:
        r = client.post(xml=vc, version=v)
        if v in advertised:
            assert r.status == 200, (v, r)
        else:
            assert r.status == 400, (v, r)
            assert _versions(r) == advertised


def test_get_is_405(server, client):
    r, lines = server.call(lambda: client.request("GET"))
    assert r.status == 405
    allow = [m.strip() for m in r.header("Allow").split(",")]
    # httpd appends TRACE while TraceEnable is on (core answers TRACE itself).
    assert sorted(set(allow) - {"TRACE"}) == ["OPTIONS", "POST"], allow
    assert len(lines) == 1 and "ASY" in lines[0], lines


def test_head_and_put_are_405(server, client):
    for m in ("HEAD", "PUT", "DELETE"):
        r, lines = server.call(lambda: client.request(m, body=b"x" if m == "PUT" else None))
        assert r.status == 405, m
        assert len(lines) == 1, (m, lines)


def test_activesync_off_serves_nothing(server):
    c = server.client(host="off.test")
    r = c.options()
    assert r.header("MS-ASProtocolVersions") is None
    assert r.header("MS-ASProtocolCommands") is None
    assert r.header("MS-Server-ActiveSync") is None
    r = c.post(xml="<ValidateCert xmlns=\"ValidateCert:\"><Certificates><Certificate>QUJD"
                   "</Certificate></Certificates></ValidateCert>")
    assert r.status == 404
    assert r.header("MS-Server-ActiveSync") is None
    assert c.request("GET").status == 404


def test_other_paths_untouched(server, client):
    # Only the configured location is ActiveSync.
    r = client.request("POST", path="/elsewhere", query="Cmd=Sync", body=b"x")
    assert r.status in (404, 405)
    assert r.header("MS-Server-ActiveSync") is None
