"""The POST request path up to the command: authentication, request line
(plain and base64), account mapping, protocol version, command dispatch.
Every refusal has its status and exactly one log line of ours."""

import base64
import urllib.parse

import pytest

import easclient
from e2eharness import BINARY_DEVICE_ID, USERS
from easclient import TAG_USER, base64_query, plain_query

VC = ('<ValidateCert xmlns="ValidateCert:"><Certificates><Certificate>QUJD</Certificate>'
      '</Certificates></ValidateCert>')


def ok_reply(r):
    assert r.status == 200, r
    assert r.header("Content-Type") == easclient.WBXML_TYPE
    assert int(r.header("Content-Length")) == len(r.body) > 0
    root = easclient.decode_reply(r.body)
    assert root.tag == "{ValidateCert:}ValidateCert"
    return root


def no_secrets(lines):
    text = "\n".join(lines)
    for user, pw in USERS.items():
        assert pw not in text
        assert base64.b64encode(("%s:%s" % (user, pw)).encode()).decode() not in text


# ---- accepted account forms -------------------------------------------------------

@pytest.mark.parametrize("auth_user,user_param,host", [
    ("demo@example.com", "demo@example.com", "localhost"),
    ("demo@example.com", "demo", "localhost"),               # default domain
    ("demo@example.com", "DEMO@Example.COM", "localhost"),   # case-insensitive
    ("demo@example.com", "\\demo", "localhost"),             # empty domain (Android)
    ("bob", "bob", "localhost"),                              # bare Apache user
    ("bob", "bob@example.com", "localhost"),
    ("example.com\\carol", "carol", "localhost"),            # DOMAIN\user
    ("example.com\\carol", "carol@example.com", "localhost"),
    ("example.com\\carol", "example.com\\carol", "localhost"),
    ("bob", "bob@example.org", "other.test"),                 # per-vhost default domain
])
def test_account_forms_accepted(server, auth_user, user_param, host):
    c = server.client(auth_user, host=host)
    r, lines = server.call(lambda: c.post(xml=VC, user=user_param))
    ok_reply(r)
    assert lines == []


@pytest.mark.parametrize("auth_user,user_param,host", [
    ("demo@example.com", "bob", "localhost"),
    ("demo@example.com", "demo@example.org", "localhost"),
    ("bob", "bob@example.com", "other.test"),   # there, bob is bob@example.org
    ("example.com\\carol", "demo", "localhost"),
])
def test_user_mismatch_403(server, auth_user, user_param, host):
    c = server.client(auth_user, host=host)
    r, lines = server.call(lambda: c.post(xml=VC, user=user_param))
    assert r.status == 403
    assert len(lines) == 1, lines
    assert "[activesync:warn]" in lines[0]
    no_secrets(lines)


def test_wrong_password_is_apaches_401(server):
    c = server.client("demo@example.com", password="not-the-password")
    r, lines = server.call(lambda: c.post(xml=VC))
    assert r.status == 401
    assert r.header("WWW-Authenticate").startswith("Basic ")
    assert lines == []  # refused by Apache before the module runs


def test_unknown_user_is_apaches_401(server):
    r = server.client("mallory@example.com", password="x").post(xml=VC)
    assert r.status == 401


def test_location_without_auth_refused(server):
    c = server.client(None, path="/noauth/Microsoft-Server-ActiveSync")
    r, lines = server.call(lambda: c.post(xml=VC, user="demo@example.com"))
    assert r.status == 403
    assert len(lines) == 1, lines
    assert "[activesync:error]" in lines[0]
    assert "authentication" in lines[0]


# ---- request lines ------------------------------------------------------------------

def test_base64_request_line(server, client):
    q = base64_query("14.1", "ValidateCert", device_id=b"v141Device", device_type=b"SmartPhone")
    r, lines = server.call(lambda: client.post(xml=VC, query=q, version=None))
    ok_reply(r)
    assert lines == []


def test_base64_request_line_percent_encoded(server, client):
    q = base64_query("14.1", "ValidateCert", device_id=BINARY_DEVICE_ID, percent_encode=True)
    ok_reply(client.post(xml=VC, query=q, version=None))


@pytest.mark.parametrize("device_id", [b"v141Device", b"v141Device1", b"v141Device12"])
def test_base64_request_line_without_padding(server, client, device_id):
    # Some clients leave the '=' padding out; other servers accept that.
    padded = base64_query("14.1", "ValidateCert", device_id=device_id)
    q = padded.rstrip("=")
    r, lines = server.call(lambda: client.post(xml=VC, query=q, version=None))
    ok_reply(r)
    assert lines == []
    # percent-encoded, too
    ok_reply(client.post(xml=VC, query=urllib.parse.quote(q, safe=""), version=None))
    # half the padding is still a bad request
    if len(padded) - len(q) == 2:
        r, lines = server.call(lambda: client.post(xml=VC, query=q + "=", version=None))
        assert r.status == 400
        assert len(lines) == 1 and "invalid base64" in lines[0], lines


def test_base64_binary_device_id(server, client):
    q = base64_query("14.0", "ValidateCert", device_id=BINARY_DEVICE_ID, device_type=b"WP8",
                     locale=0x0407, policy_key=0)
    ok_reply(client.post(xml=VC, query=q, version=None))


def test_base64_with_user_parameter(server):
    c = server.client("bob")
    q = base64_query("14.1", "ValidateCert", params=[(TAG_USER, b"bob@example.com")])
    ok_reply(c.post(xml=VC, query=q, version=None))
    q = base64_query("14.1", "ValidateCert", params=[(TAG_USER, b"demo")])
    r, lines = server.call(lambda: c.post(xml=VC, query=q, version=None))
    assert r.status == 403
    assert len(lines) == 1, lines


def test_base64_version_wins_over_header(server, client):
    # The blob carries the version; a stray header does not override it.
    q = base64_query("14.1", "ValidateCert")
    ok_reply(client.post(xml=VC, query=q, version="2.5"))


@pytest.mark.parametrize("name,query", [
    ("no query", ""),
    ("no DeviceId", plain_query("ValidateCert", "demo", device_id=None)),
    ("no DeviceType", plain_query("ValidateCert", "demo", device_type=None)),
    ("no Cmd", plain_query(None, "demo")),
    ("no User", plain_query("ValidateCert", None)),
    ("bad DeviceId", plain_query("ValidateCert", "demo", device_id="../etc/passwd")),
    ("control char", plain_query("ValidateCert", "demo\x01")),
    ("bad escape", "Cmd=ValidateCert&User=demo%zz&DeviceId=A&DeviceType=B"),
    ("duplicate Cmd", plain_query("ValidateCert", "demo") + "&Cmd=Sync"),
    ("garbage base64", "!!!!"),
    ("truncated base64", base64.b64encode(
        easclient.base64_line("14.1", "ValidateCert")[:6]).decode()),
    ("base64 12.0", base64_query(120, "ValidateCert")),
    ("base64 unknown version", base64_query(99, "ValidateCert")),
    ("bad account name", plain_query("ValidateCert", "de mo@@example.com")),
])
def test_bad_request_line_400(server, client, name, query):
    r, lines = server.call(lambda: client.post(xml=VC, query=query))
    assert r.status == 400, (name, r)
    assert len(lines) == 1, (name, lines)
    assert "[activesync:info]" in lines[0]
    # The raw query never reaches the log (only parsed, sanitised fields).
    if len(query) > 12:
        assert query not in lines[0]


# ---- protocol version -------------------------------------------------------------

@pytest.mark.parametrize("version", [None, "", "2.5", "12.0", "99.9", "14.1x", "14.1,14.0", "latest"])
def test_bad_version_400(server, client, version):
    advertised = client.options().header("MS-ASProtocolVersions")
    if version and version in advertised.split(","):
        pytest.skip("%s is supported by this build" % version)
    hdr = {"MS-ASProtocolVersion": version} if version is not None else None
    r, lines = server.call(lambda: client.post(xml=VC, version=None, headers=hdr))
    assert r.status == 400
    assert r.header("MS-ASProtocolVersions") == advertised
    assert len(lines) == 1, lines


# ---- commands ---------------------------------------------------------------------

@pytest.mark.parametrize("cmd", ["Frobnicate", "GetHierarchy", "ResolveRecipients", "Search",
                                 "Notify"])
def test_unknown_or_unimplemented_command_501(server, client, cmd):
    advertised = client.options().header("MS-ASProtocolCommands").split(",")
    if cmd in advertised:
        pytest.skip("%s is implemented by this build" % cmd)
    r, lines = server.call(lambda: client.post(cmd=cmd, body=easclient.encode(
        '<Sync xmlns="AirSync:"><Collections/></Sync>')))
    assert r.status == 501
    assert len(lines) == 1, lines
    assert cmd in lines[0]


@pytest.mark.parametrize("code", [16, 7, 99])  # Search (not yet), legacy, unknown
def test_base64_unknown_or_unimplemented_code_501(server, client, code):
    q = base64_query("14.1", code)
    r, lines = server.call(lambda: client.post(body=easclient.encode(VC), query=q, version=None))
    assert r.status == 501
    assert len(lines) == 1, lines

