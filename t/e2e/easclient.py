"""A small Exchange ActiveSync client for the end-to-end tests.

- request lines: plain (Cmd=..&User=..&DeviceId=..&DeviceType=..) and the
  base64 binary form (MS-ASHTTP 2.2.1.1.1.1), built byte by byte here;
- WBXML: requests are encoded with libwbxml's xml2wbxml (independent of our
  codec); replies are decoded with libwbxml's wbxml2xml and, when built,
  with our codec's CLI ($AS_TOOLS/as-wbxml), and the two decodings must agree;
- every WBXML reply is checked with the conformance kit's validate-eas
  (../shared/conformance; skipped and reported when it is not there).

HTTP goes through http.client on a fresh connection per request, so what
the server sends is seen unaltered (no transparent decompression).
"""

import base64
import functools
import http.client
import os
import subprocess
import tempfile
import urllib.parse

from lxml import etree

import sharedkit

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
WBXML_TYPE = "application/vnd.ms-sync.wbxml"
EAS_PATH = "/Microsoft-Server-ActiveSync"
DOCTYPE = (
    '<!DOCTYPE ActiveSync PUBLIC "-//MICROSOFT//DTD ActiveSync//EN" '
    '"http://www.microsoft.com/">'
)

# MS-ASHTTP command codes of the base64 form.
COMMAND_CODES = {
    "Sync": 0, "SendMail": 1, "SmartForward": 2, "SmartReply": 3, "GetAttachment": 4,
    "FolderSync": 9, "FolderCreate": 10, "FolderDelete": 11, "FolderUpdate": 12,
    "MoveItems": 13, "GetItemEstimate": 14, "MeetingResponse": 15, "Search": 16,
    "Settings": 17, "Ping": 18, "ItemOperations": 19, "Provision": 20,
    "ResolveRecipients": 21, "ValidateCert": 22, "Find": 23,
}
ALL_VERSIONS = ("2.5", "12.0", "12.1", "14.0", "14.1", "16.0", "16.1")

# Base64 form parameter tags.
TAG_ATTACHMENT_NAME, TAG_COLLECTION_ID, TAG_ITEM_ID, TAG_LONG_ID = 0, 1, 3, 4
TAG_OCCURRENCE, TAG_OPTIONS, TAG_USER = 6, 7, 8


def as_tools():
    return os.environ.get("AS_TOOLS") or ""


def our_codec():
    """Path of our codec CLI, or None when it is not built."""
    t = as_tools()
    p = os.path.join(t, "as-wbxml") if t else None
    return p if p and os.access(p, os.X_OK) else None


# ---- request lines -----------------------------------------------------------

def plain_query(cmd, user, device_id="E2EDEVICE0001", device_type="TestDevice", **params):
    q = []
    if cmd is not None:
        q.append(("Cmd", cmd))
    if user is not None:
        q.append(("User", user))
    if device_id is not None:
        q.append(("DeviceId", device_id))
    if device_type is not None:
        q.append(("DeviceType", device_type))
    q.extend(params.items())
    return urllib.parse.urlencode(q)


def base64_line(version, cmd, device_id=b"E2EB64DEVICE", device_type=b"TestDevice",
                locale=0x0409, policy_key=None, params=()):
    """The raw bytes of a base64 request line.  version: "14.1" or a byte;
    cmd: a command name or a code; device_id/device_type: bytes or str;
    params: (tag, bytes) pairs."""
    if isinstance(version, str):
        version = int(round(float(version) * 10))
    if isinstance(cmd, str):
        cmd = COMMAND_CODES[cmd]
    if isinstance(device_id, str):
        device_id = device_id.encode()
    if isinstance(device_type, str):
        device_type = device_type.encode()
    b = bytearray([version, cmd, locale & 0xFF, (locale >> 8) & 0xFF])
    b.append(len(device_id))
    b += device_id
    if policy_key is None:
        b.append(0)
    else:
        b.append(4)
        b += int(policy_key).to_bytes(4, "little")
    b.append(len(device_type))
    b += device_type
    for tag, value in params:
        if isinstance(value, str):
            value = value.encode()
        b += bytes([tag, len(value)]) + value
    return bytes(b)


def base64_query(*args, percent_encode=False, **kw):
    q = base64.b64encode(base64_line(*args, **kw)).decode("ascii")
    if percent_encode:
        q = urllib.parse.quote(q, safe="")
    return q


# ---- WBXML -----------------------------------------------------------------

def xml_doc(body):
    """An EAS XML document as xml2wbxml wants it."""
    return '<?xml version="1.0" encoding="utf-8"?>\n%s\n%s\n' % (DOCTYPE, body.strip())


@functools.lru_cache(maxsize=256)
def encode(xml_body):
    """XML (the element part; DOCTYPE added) to WBXML with libwbxml."""
    with tempfile.TemporaryDirectory() as d:
        src, dst = os.path.join(d, "in.xml"), os.path.join(d, "out.wbxml")
        with open(src, "w") as f:
            f.write(xml_doc(xml_body))
        p = subprocess.run(["xml2wbxml", "-a", "-n", "-v", "1.3", "-o", dst, src],
                           capture_output=True, text=True)
        if p.returncode != 0 or not os.path.exists(dst):
            raise RuntimeError("xml2wbxml failed: %s%s" % (p.stdout, p.stderr))
        with open(dst, "rb") as f:
            return f.read()


def _tree(xml_bytes):
    parser = etree.XMLParser(remove_blank_text=True, resolve_entities=False, no_network=True)
    return etree.fromstring(xml_bytes, parser)


@functools.lru_cache(maxsize=1)
def _libwbxml_names():
    """{(namespace, libwbxml name): our name} from t/data/libwbxml-names.tsv
    (libwbxml spells some tags otherwise, e.g. Email "Reply-To", "FlagStatus")."""
    pages = ["AirSync", "Contacts", "Email", "AirNotify", "Calendar", "Move",
             "GetItemEstimate", "FolderHierarchy", "MeetingResponse", "Tasks",
             "ResolveRecipients", "ValidateCert", "Contacts2", "Ping", "Provision",
             "Search", "GAL", "AirSyncBase", "Settings", "DocumentLibrary",
             "ItemOperations", "ComposeMail", "Email2", "Notes", "RightsManagement", "Find"]
    out = {}
    try:
        with open(os.path.join(REPO, "t", "data", "libwbxml-names.tsv"), encoding="utf-8") as f:
            for line in f:
                if line.startswith("#") or not line.strip():
                    continue
                page, _tok, ours, lib = line.rstrip("\n").split("\t")
                if ours != "-" and lib != "-":
                    out[(pages[int(page)], lib)] = ours
    except OSError:
        pass
    return out


def _canon(el):
    """(namespace without trailing colon, local name, text, children);
    libwbxml's tag spellings are mapped to ours."""
    q = etree.QName(el)
    ns = (q.namespace or "").rstrip(":")
    if ns == "Gal":
        ns = "GAL"
    name = _libwbxml_names().get((ns, q.localname), q.localname)
    text = (el.text or "").strip() if len(el) == 0 else ""
    # wbxml2xml prints a CR as is, and XML parsing turns CR LF into LF
    # (XML 1.0 2.11); ours is printed as &#13; and survives: compare the
    # line ends as XML would have them
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return (ns, name, text, [_canon(c) for c in el if isinstance(c.tag, str)])


def decode_libwbxml(data):
    with tempfile.NamedTemporaryFile(suffix=".wbxml") as f:
        f.write(data)
        f.flush()
        p = subprocess.run(["wbxml2xml", "-l", "ACTIVESYNC", "-o", "-", f.name],
                           capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("wbxml2xml failed: %r" % p.stderr)
    out = p.stdout
    # wbxml2xml appends a status line after the document.
    end = out.rfind(b">")
    return out[: end + 1]


def decode_ours(data):
    tool = our_codec()
    if not tool:
        return None
    p = subprocess.run([tool, "decode", "-", "-"], input=data, capture_output=True)
    if p.returncode != 0:
        raise RuntimeError("as-wbxml decode failed (%d): %r" % (p.returncode, p.stderr))
    return p.stdout


def validate(data):
    """Run validate-eas on a WBXML reply; returns its output (asserts valid),
    or None when the conformance kit is not there (the check is skipped)."""
    validator = sharedkit.tool("conformance", "validate-eas")
    if validator is None:
        return None
    with tempfile.NamedTemporaryFile(suffix=".wbxml") as f:
        f.write(data)
        f.flush()
        p = subprocess.run([validator, f.name], capture_output=True, text=True)
    out = p.stdout + p.stderr
    assert p.returncode == 0 and out.strip().splitlines()[-1] == "valid", (
        "validate-eas rejected the reply:\n%s" % out)
    return out


def decode_reply(data):
    """Decode a WBXML reply with libwbxml (and our codec when built, which
    must agree), check it with validate-eas, return the lxml root element."""
    validate(data)
    lib = _tree(decode_libwbxml(data))
    ours = decode_ours(data)
    if ours is not None:
        assert _canon(_tree(ours)) == _canon(lib), (
            "decoders disagree:\nlibwbxml: %s\nours: %s" % (etree.tostring(lib), ours))
    return lib


def find_all(el, name):
    """Descendant elements with this local name, any namespace."""
    return [e for e in el.iter() if isinstance(e.tag, str) and etree.QName(e).localname == name]


# ---- HTTP ------------------------------------------------------------------

class Response:
    def __init__(self, status, reason, headers, body):
        self.status = status
        self.reason = reason
        self.headers = headers  # http.client.HTTPMessage: case-insensitive
        self.body = body

    def header(self, name):
        return self.headers.get(name)

    def header_all(self, name):
        return self.headers.get_all(name) or []

    def __repr__(self):
        return "<Response %d %s %r %d bytes>" % (self.status, self.reason,
                                                  dict(self.headers), len(self.body))


class EasClient:
    def __init__(self, port, user=None, password=None, host="localhost", path=EAS_PATH,
                 version="14.1", device_id="E2EDEVICE0001", device_type="TestDevice"):
        self.port = port
        self.user = user
        self.password = password
        self.host = host
        self.path = path
        self.version = version
        self.device_id = device_id
        self.device_type = device_type

    def with_(self, **kw):
        c = EasClient(self.port)
        c.__dict__.update(self.__dict__)
        c.__dict__.update(kw)
        return c

    def auth_header(self):
        if self.user is None:
            return None
        tok = base64.b64encode(("%s:%s" % (self.user, self.password)).encode()).decode()
        return "Basic " + tok

    def request(self, method, query=None, body=None, headers=None, chunked=False,
                chunk_size=4096, path=None):
        url = path or self.path
        if query:
            url += "?" + query
        h = {"Host": self.host, "User-Agent": "mod_activesync-e2e/1.0"}
        a = self.auth_header()
        if a:
            h["Authorization"] = a
        if headers:
            h.update(headers)
        h = {k: v for k, v in h.items() if v is not None}
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            if chunked:
                data = body or b""
                chunks = (data[i:i + chunk_size] for i in range(0, len(data), chunk_size))
                h["Transfer-Encoding"] = "chunked"
                conn.request(method, url, body=chunks, headers=h, encode_chunked=True)
            else:
                conn.request(method, url, body=body, headers=h)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, r.reason, r.headers, data)
        finally:
            conn.close()

    def options(self, query=None, **kw):
        return self.request("OPTIONS", query=query, **kw)

    def post(self, cmd="ValidateCert", body=None, xml=None, query=None, user=Ellipsis,
             version=Ellipsis, content_type=WBXML_TYPE, headers=None, **kw):
        """POST a command.  xml: request XML (element part) encoded with
        libwbxml; body: raw bytes; query: a ready request line (else a plain
        one from cmd/user/device).  user=Ellipsis: the authenticated user;
        version=None: no MS-ASProtocolVersion header."""
        if xml is not None:
            body = encode(xml)
        if query is None:
            u = self.user if user is Ellipsis else user
            query = plain_query(cmd, u, self.device_id, self.device_type)
        h = {"Content-Type": content_type if body else None}
        v = self.version if version is Ellipsis else version
        if v is not None:
            h["MS-ASProtocolVersion"] = v
        if headers:
            h.update(headers)
        return self.request("POST", query=query, body=body, headers=h, **kw)
