"""ValidateCert end to end with real certificates (openssl CLI): the reply
is WBXML that validate-eas accepts and both decoders read the same way, and
the ActiveSyncTrustedCAFile / ActiveSyncTrustedCAPath / ActiveSyncCRLFile
directives reach the command."""

import pytest

import easclient
from easclient import base64_query, find_all


def vc_xml(*certs, check_crl=None):
    body = "".join("<Certificate>%s</Certificate>" % c for c in certs)
    crl = "" if check_crl is None else "<CheckCRL>%d</CheckCRL>" % check_crl
    return ('<ValidateCert xmlns="ValidateCert:"><Certificates>%s</Certificates>%s'
            '</ValidateCert>' % (body, crl))


def statuses(resp):
    assert resp.status == 200, resp
    assert resp.header("Content-Type") == easclient.WBXML_TYPE
    assert int(resp.header("Content-Length")) == len(resp.body)
    root = easclient.decode_reply(resp.body)  # validate-eas + both decoders
    top = [e for e in root if e.tag.endswith("}Status")]
    assert len(top) == 1
    certs = [int(find_all(c, "Status")[0].text) for c in find_all(root, "Certificate")]
    return int(top[0].text), certs


def test_trusted_certificate_valid(server, client, pki):
    r, lines = server.call(lambda: client.post(xml=vc_xml(pki.der_b64("leaf"))))
    assert statuses(r) == (1, [1])
    assert lines == []


def test_untrusted_and_garbage(server, client, pki):
    r = client.post(xml=vc_xml(pki.der_b64("self"), "QUJD", pki.der_b64("leaf")))
    top, certs = statuses(r)
    assert top == 1
    assert certs[0] not in (1,) and certs[1] not in (1,) and certs[2] == 1, certs


def test_base64_line_binary_device(server, client, pki):
    from e2eharness import BINARY_DEVICE_ID
    q = base64_query("14.1", "ValidateCert", device_id=BINARY_DEVICE_ID)
    r = client.post(xml=vc_xml(pki.der_b64("leaf")), query=q, version=None)
    assert statuses(r) == (1, [1])


def test_malformed_request_is_protocol_status_not_http_error(server, client):
    # Well-formed WBXML with the right root but no Certificates: the command
    # answers with its own Status, over HTTP 200.
    r = client.post(xml='<ValidateCert xmlns="ValidateCert:"><CheckCRL>1</CheckCRL>'
                        '</ValidateCert>')
    top, certs = statuses(r)
    assert top != 1 and certs == []


def test_system_store_does_not_trust_test_ca(server, pki):
    # other.test sets no CA directive: the system store applies.
    c = server.client("bob", host="other.test")
    top, certs = statuses(c.post(xml=vc_xml(pki.der_b64("leaf")), user="bob@example.org"))
    assert top == 1 and certs[0] != 1


def test_ca_path_directive(server, pki):
    c = server.client(host="capath.test")
    assert statuses(c.post(xml=vc_xml(pki.der_b64("leaf")))) == (1, [1])


@pytest.mark.parametrize("check_crl", [None, 0, 1])
def test_crl_file_directive(server, pki, check_crl):
    c = server.client(host="crl.test")
    top, certs = statuses(c.post(xml=vc_xml(pki.der_b64("leaf"), pki.der_b64("revoked"),
                                            check_crl=check_crl)))
    assert top == 1
    assert certs[0] == 1
    assert certs[1] == 13  # revoked


def test_many_requests_stable(server, client, pki):
    """A burst on one server: no leak of state between requests."""
    leaf = pki.der_b64("leaf")
    for i in range(20):
        r = client.post(xml=vc_xml(leaf) if i % 2 else vc_xml("QUJD"))
        assert r.status == 200
