"""Provisioning end to end (MS-ASPROV through httpd): the gate in front of
every command, the Provision exchange, policy changes, Loose mode, remote
wipe, blocked devices and domain rules, DeviceInformation, malformed
Provision and Settings.

The servers here run with the default ActiveSyncProvisioning On (the
standard servers of the other tests say Off).  Virtual hosts:
  localhost     On, ActiveSyncProvisioning449 Auto (the defaults)
  loose.test    Loose
  inband.test   On, 449 InBand (never 449)
  both.test     On, 449 Both (always 449 with the in-band body)
  off.test      Off (a pending wipe is still delivered)

The server advertises 12.1, 14.0 and 14.1.  12.1 devices always get a
bare 449 (test_versions_and_12x; their whole session is in
test_proto121.py); for 14.x the 449 path is that of a device ignoring the
in-band status, which the Auto mode escalates to 449 after
AS_GATE_449_AFTER (2) in-band demands.  Every test uses devices of its own; every WBXML reply
goes through validate-eas (easclient.decode_reply).
"""

import itertools
import os

import pytest

import easclient
import httpdconf
from e2eharness import STANDARD_ACCOUNTS, admin, check_clean_shutdown, make_maildir, \
    prepare_datadir, write_htpasswd, USERS, Server

POLICY_TYPE = "MS-EAS-Provisioning-WBXML"
_ids = itertools.count(1)


def prov_body(root, port, pki):
    vh = "127.0.0.1:%d" % port
    hosts = ""
    for name, extra in (("localhost", ""),
                        ("loose.test", "ActiveSyncProvisioning Loose"),
                        ("inband.test", "ActiveSyncProvisioning449 InBand"),
                        ("both.test", "ActiveSyncProvisioning449 Both"),
                        ("off.test", "ActiveSyncProvisioning Off")):
        hosts += "<VirtualHost %s>\n    ServerName %s\n    %s\n</VirtualHost>\n" % (vh, name,
                                                                                    extra)
    return (
        "ActiveSync On\n"
        "ActiveSyncDefaultDomain example.com\n"
        'ActiveSyncDataDir "%s/data"\n'
        'ActiveSyncMaildir "%s/mail/%%d/%%n/Maildir"\n' % (root, root)
        + httpdconf.activesync_location(os.path.join(root, "conf", "htpasswd")) + hosts)


@pytest.fixture(scope="module", params=httpdconf.MPMS)
def server(request, run_dir, module_path, sanitize, pki):
    root = os.path.join(run_dir, "test_provision-%s" % request.param)
    srv = Server(root, sanitize=sanitize)
    write_htpasswd(os.path.join(root, "conf", "htpasswd"), USERS)
    srv.datadir = prepare_datadir(os.path.join(root, "data"))
    for account in STANDARD_ACCOUNTS:
        make_maildir(root, account)
    srv.write_conf(module_path, mpm=request.param, body=prov_body(root, srv.port, pki))
    rc, out = srv.check_syntax()
    assert rc == 0, out
    srv.start()
    srv.mpm = request.param
    yield srv
    srv.stop()
    problems = check_clean_shutdown(srv)
    assert not problems, "\n".join(problems)


# ---- a device ----------------------------------------------------------------------


def local(el):
    return el.tag.split("}")[-1] if isinstance(el.tag, str) else None


def child(el, name):
    for c in el:
        if local(c) == name:
            return c
    return None


def text(el, *names):
    for n in names:
        el = child(el, n) if el is not None else None
    return el.text if el is not None else None


class Device:
    """A phone: remembers its policy key and sends it as X-MS-PolicyKey."""

    def __init__(self, server, user="demo@example.com", host="localhost", version="14.1",
                 device_type="TestDevice", agent="mod_activesync-e2e/1.0"):
        self.srv = server
        self.id = "PROV%s%04d" % (server.mpm[:2].upper(), next(_ids))
        if "\\" in user:
            self.account = "%s@%s" % tuple(reversed(user.split("\\", 1)))
        else:
            self.account = user if "@" in user else user + "@example.com"
        self.agent = agent
        self.client = server.client(user).with_(host=host, version=version, device_id=self.id,
                                                device_type=device_type)
        self.key = None

    def post(self, cmd, xml=None, key=Ellipsis, **kw):
        k = self.key if key is Ellipsis else key
        h = {"User-Agent": self.agent}
        if k is not None:
            h["X-MS-PolicyKey"] = str(k)
        h.update(kw.pop("headers", {}))
        return self.client.post(cmd, xml=xml, headers=h, **kw)

    def call(self, cmd, xml=None, status=200, **kw):
        r = self.post(cmd, xml, **kw)
        assert r.status == status, (cmd, r, r.body[:200])
        if r.body:
            assert r.header("Content-Type") == easclient.WBXML_TYPE
            return r, easclient.decode_reply(r.body)
        return r, None

    def foldersync(self, **kw):
        return self.call("FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                                       "</FolderSync>", **kw)

    def provision(self, info=None):
        """Phase 1 and phase 2; returns the final key."""
        r, doc = self.call("Provision", phase1_xml(info), key=None)
        assert text(doc, "Status") == "1"
        pol = child(child(doc, "Policies"), "Policy")
        assert text(pol, "PolicyType") == POLICY_TYPE and text(pol, "Status") == "1"
        temp = text(pol, "PolicyKey")
        assert temp and temp.isdigit() and int(temp) != 0
        assert child(child(pol, "Data"), "EASProvisionDoc") is not None
        r, doc = self.call("Provision", ack_xml(temp), key=temp)
        assert text(doc, "Status") == "1"
        pol = child(child(doc, "Policies"), "Policy")
        assert text(pol, "Status") == "1" and child(pol, "Data") is None
        final = text(pol, "PolicyKey")
        assert final and final.isdigit() and final != temp
        self.key = final
        return final

    def show(self):
        return admin(self.srv.datadir, "device", "show", self.account, self.id, json_out=True)


INFO = {"Model": "Pixel 8", "IMEI": "356789012345678", "FriendlyName": "Ann's phone",
        "OS": "Android 14", "OSLanguage": "de-DE", "PhoneNumber": "+49 170 0000000",
        "UserAgent": "Android-Mail/2024.05", "EnableOutboundSMS": "1",
        "MobileOperator": "Telekom.de"}
INFO_JSON = {"model": "Model", "imei": "IMEI", "friendly_name": "FriendlyName", "os": "OS",
             "os_language": "OSLanguage", "phone_number": "PhoneNumber",
             "user_agent": "UserAgent", "mobile_operator": "MobileOperator"}


def info_xml(info, prefix="settings:"):
    fields = "".join("<{p}{k}>{v}</{p}{k}>".format(p=prefix, k=k, v=v) for k, v in info.items())
    return "<{p}DeviceInformation><{p}Set>{f}</{p}Set></{p}DeviceInformation>".format(
        p=prefix, f=fields)


def phase1_xml(info=None):
    return ('<Provision xmlns="Provision:" xmlns:settings="Settings:">%s<Policies><Policy>'
            "<PolicyType>%s</PolicyType></Policy></Policies></Provision>"
            % (info_xml(info) if info else "", POLICY_TYPE))


def ack_xml(key, status=1):
    return ('<Provision xmlns="Provision:"><Policies><Policy><PolicyType>%s</PolicyType>'
            "<PolicyKey>%s</PolicyKey><Status>%d</Status></Policy></Policies></Provision>"
            % (POLICY_TYPE, key, status))


def our_lines(lines):
    return [ln for ln in lines if "[activesync:" in ln]


# ---- the exchange --------------------------------------------------------------------


def test_full_exchange_14_1(server):
    dev = Device(server)
    # No key: the command's own reply with Status 142, HTTP 200 (in-band).
    r, doc = dev.foldersync()
    assert local(doc) == "FolderSync" and text(doc, "Status") == "142"
    assert not r.header("X-MS-PolicyKey")
    # Key 0 counts as none.
    r, doc = dev.foldersync(key=0)
    assert text(doc, "Status") == "142"
    # Phase 1 with DeviceInformation (14.1), then the acknowledgement.
    r, doc = dev.call("Provision", phase1_xml(INFO), key=None)
    assert text(doc, "DeviceInformation", "Status") == "1"
    temp = text(doc, "Policies", "Policy", "PolicyKey")
    # The temporary key is no key for other commands: 144 (not issued for
    # the current policy).
    r, doc = dev.foldersync(key=temp)
    assert r.status in (200, 449) and text(doc, "Status") == "144"
    r, doc = dev.call("Provision", ack_xml(temp), key=temp)
    final = text(doc, "Policies", "Policy", "PolicyKey")
    dev.key = final
    r, doc = dev.foldersync()
    assert text(doc, "Status") == "1" and child(doc, "Changes") is not None
    j = dev.show()
    assert j["provisioning"]["state"] == "current"
    assert j["provisioning"]["policy_key"] == final and j["provisioning"]["device_status"] == 1
    assert j["information"]["model"] == "Pixel 8" and j["last_command"] == "FolderSync"
    # The base64 request line carries the key in binary.
    q = easclient.base64_query("14.1", "FolderSync", device_id=dev.id, device_type="TestDevice",
                               policy_key=int(final))
    r, doc = dev.call("FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                                    "</FolderSync>", key=None, query=q, version=None)
    assert text(doc, "Status") == "1"
    q = easclient.base64_query("14.1", "FolderSync", device_id=dev.id, device_type="TestDevice")
    r, doc = dev.call("FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                                    "</FolderSync>", key=None, query=q, version=None)
    assert text(doc, "Status") == "142"
    # Other commands are gated the same way; an unparseable key is 144.
    r, doc = dev.call("Settings", '<Settings xmlns="Settings:"><UserInformation><Get/>'
                                  "</UserInformation></Settings>", key="12ab")
    assert local(doc) == "Settings" and text(doc, "Status") == "144"


def test_versions_and_12x(server):
    """12.1 is advertised (14.0 too: the Thunderbird add-on needs it); a 12.1
    device is told to provision with a bare 449 whatever the 449 mode of
    the host (the modes are about 14.x devices), and provisions normally.
    The full 12.1 session is in test_proto121.py."""
    r = server.client().options()
    assert r.status == 200
    versions = r.header("MS-ASProtocolVersions").split(",")
    assert "12.1" in versions and "14.0" in versions and "14.1" in versions
    for host in ("localhost", "inband.test", "both.test"):
        dev = Device(server, host=host, version="12.1")
        r = dev.post("FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                                   "</FolderSync>")
        assert r.status == 449 and r.body == b"", (host, r)
        dev.provision()
        r, doc = dev.foldersync()
        assert text(doc, "Status") == "1"
        assert dev.show()["protocol_version"] == "12.1"


def test_449_escalation_auto(server):
    """A 14.x device that ignores the in-band status: two in-band demands,
    then 449 with the same body until it provisions."""
    dev = Device(server)
    for _ in range(2):
        r, doc = dev.foldersync()
        assert text(doc, "Status") == "142"
    for _ in range(2):
        r, doc = dev.foldersync(status=449)
        assert local(doc) == "FolderSync" and text(doc, "Status") == "142"
        assert r.reason.startswith("Retry after sending a PROVISION")
    dev.provision()
    r, doc = dev.foldersync()
    assert text(doc, "Status") == "1"
    # Any Provision request resets the count: the next demand is in-band again.
    server_key = dev.key
    dev.key = None
    r, doc = dev.foldersync()
    assert text(doc, "Status") == "142"
    dev.key = server_key


def test_449_modes(server):
    dev = Device(server, host="inband.test")
    for _ in range(4):
        r, doc = dev.foldersync()
        assert text(doc, "Status") == "142"
    dev = Device(server, host="both.test")
    r, doc = dev.foldersync(status=449)
    assert text(doc, "Status") == "142"
    dev.provision()
    r, doc = dev.foldersync()
    assert text(doc, "Status") == "1"


def test_stale_key_after_policy_change(server):
    dev = Device(server, user="bob")
    old = dev.provision()
    assert dev.foldersync()[1].find(".//{*}Status").text == "1"
    try:
        admin(server.datadir, "policy", "set", "bob@example.com", "DevicePasswordEnabled=on",
              "MinDevicePasswordLength=6")
        assert dev.show()["provisioning"]["state"].startswith("stale")
        r, doc = dev.foldersync()
        assert r.status in (200, 449) and text(doc, "Status") == "143"
        new = dev.provision()
        assert new != old
        r, doc = dev.foldersync()
        assert text(doc, "Status") == "1"
        # The new policy went to the device.
        r, doc = dev.call("Provision", phase1_xml(), key=None)
        eas = child(child(child(child(doc, "Policies"), "Policy"), "Data"), "EASProvisionDoc")
        assert text(eas, "DevicePasswordEnabled") == "1"
        assert text(eas, "MinDevicePasswordLength") == "6"
        # The old key is now one never issued for this policy.
        r, doc = dev.foldersync(key=old)
        assert text(doc, "Status") in ("143", "144")
    finally:
        admin(server.datadir, "policy", "unset", "bob@example.com", "DevicePasswordEnabled",
              "MinDevicePasswordLength")


def test_loose_mode(server):
    # Never provisioned, never sends a key: served.
    dev = Device(server, host="loose.test")
    for _ in range(3):
        r, doc = dev.foldersync()
        assert text(doc, "Status") == "1"
    r, doc = dev.call("Settings", '<Settings xmlns="Settings:"><UserInformation><Get/>'
                                  "</UserInformation></Settings>")
    assert text(doc, "Status") == "1"
    # A device that sends a key (even 0) is held to On.
    dev0 = Device(server, host="loose.test")
    r, doc = dev0.foldersync(key=0)
    assert text(doc, "Status") == "142"
    # ... and so is one that provisioned before, even without a key later.
    dev.provision()
    assert text(dev.foldersync()[1], "Status") == "1"
    dev.key = None
    r, doc = dev.foldersync()
    assert text(doc, "Status") == "142"


def test_remote_wipe(server):
    dev = Device(server, user="example.com\\carol", device_type="WipePhone")
    dev.provision()
    admin(server.datadir, "device", "wipe", dev.account, dev.id)
    assert dev.show()["wipe"]["state"] == "requested"
    # The next command learns about it: 140.
    r, doc = dev.foldersync()
    assert text(doc, "Status") == "140"
    # Provision answers with RemoteWipe and no Policies.
    r, doc = dev.call("Provision", phase1_xml(), key=None)
    assert text(doc, "Status") == "1"
    assert child(doc, "RemoteWipe") is not None and child(doc, "Policies") is None
    assert dev.show()["wipe"]["state"] == "sent"
    # The device acknowledges and wipes itself.
    r, doc = dev.call("Provision", '<Provision xmlns="Provision:"><RemoteWipe><Status>1</Status>'
                                   "</RemoteWipe></Provision>", key=None)
    assert text(doc, "Status") == "1"
    j = dev.show()
    assert j["wipe"]["state"] == "acknowledged" and j["wipe"]["device_status"] == 1
    assert j["wipe"]["acknowledged"] and j["blocked"] is True
    # Refused from now on, Provision included; one line each.
    for cmd, xml in (("FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                                    "</FolderSync>"),
                     ("Provision", phase1_xml())):
        r, lines = server.call(lambda: dev.post(cmd, xml))
        assert r.status == 403, r
        lines = our_lines(lines)
        assert len(lines) == 1 and "remote wipe" in lines[0] and dev.id in lines[0], lines
    # Removing the device lets it start over.
    admin(server.datadir, "device", "remove", dev.account, dev.id)
    dev.key = None
    assert text(dev.foldersync()[1], "Status") == "142"


def test_wipe_delivered_with_provisioning_off(server):
    dev = Device(server, host="off.test")
    assert text(dev.foldersync()[1], "Status") == "1"
    admin(server.datadir, "device", "wipe", dev.account, dev.id)
    r, doc = dev.foldersync()
    assert text(doc, "Status") == "140"
    r, doc = dev.call("Provision", phase1_xml())
    assert child(doc, "RemoteWipe") is not None
    admin(server.datadir, "device", "wipe", "--cancel", dev.account, dev.id)
    assert text(dev.foldersync()[1], "Status") == "1"


def test_blocked_device(server):
    dev = Device(server)
    dev.provision()
    admin(server.datadir, "device", "block", dev.account, dev.id)
    for cmd, xml in (("FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                                    "</FolderSync>"),
                     ("Provision", phase1_xml())):
        r, lines = server.call(lambda: dev.post(cmd, xml))
        assert r.status == 403, r
        lines = our_lines(lines)
        assert len(lines) == 1 and "blocked" in lines[0] and dev.id in lines[0], lines
    # OPTIONS is not a device request: no gate.
    assert dev.client.options().status == 200
    admin(server.datadir, "device", "unblock", dev.account, dev.id)
    assert text(dev.foldersync()[1], "Status") == "1"


def test_domain_rules(server):
    rules = (("type=Evil*", dict(device_type="EvilPhone")),
             ("agent=BadAgent/*", dict(agent="BadAgent/2.0")))
    try:
        for rule, _ in rules:
            admin(server.datadir, "device", "rule", "add", "example.com", "block", rule)
        for rule, kw in rules:
            dev = Device(server, host="loose.test", **kw)
            r, lines = server.call(lambda: dev.post(
                "FolderSync", '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey>'
                              "</FolderSync>"))
            assert r.status == 403, r
            lines = our_lines(lines)
            assert len(lines) == 1 and "blocked" in lines[0] and rule in lines[0], lines
            # An explicit allow beats the rule.
            admin(server.datadir, "device", "unblock", dev.account, dev.id)
            assert text(dev.foldersync()[1], "Status") == "1"
        # Other devices of the domain are not affected.
        assert text(Device(server, host="loose.test").foldersync()[1], "Status") == "1"
    finally:
        for rule, _ in rules:
            admin(server.datadir, "device", "rule", "remove", "example.com", "block", rule)


def test_settings_device_information(server):
    dev = Device(server, user="tracer@example.com")
    dev.provision()
    info = dict(INFO, Model="SM-S918B", EnableOutboundSMS="0", FriendlyName="Work & play")
    xml = ('<Settings xmlns="Settings:">%s<UserInformation><Get/></UserInformation></Settings>'
           % info_xml({k: v.replace("&", "&amp;") for k, v in info.items()}, prefix=""))
    r, doc = dev.call("Settings", xml)
    assert text(doc, "Status") == "1"
    assert text(doc, "DeviceInformation", "Status") == "1"
    assert "tracer@example.com" in [e.text for e in easclient.find_all(doc, "PrimarySmtpAddress")]
    got = dev.show()["information"]
    for jk, xk in INFO_JSON.items():
        assert got[jk] == info[xk], (jk, got)
    assert got["enable_outbound_sms"] is False and got["recorded"]


def test_malformed_provision_and_settings(server):
    dev = Device(server)
    bad_provision = (
        '<Provision xmlns="Provision:"/>',
        '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>%s</PolicyType></Policy>'
        "<Policy><PolicyType>%s</PolicyType></Policy></Policies></Provision>"
        % (POLICY_TYPE, POLICY_TYPE),
        '<Provision xmlns="Provision:"><Policies><Policy><PolicyType>%s</PolicyType>'
        "<PolicyKey>abc</PolicyKey><Status>1</Status></Policy></Policies></Provision>"
        % POLICY_TYPE,
        '<Provision xmlns="Provision:"><RemoteWipe><Status>7</Status></RemoteWipe></Provision>',
        '<Provision xmlns="Provision:"><Policies><Policy/></Policies></Provision>',
    )
    for xml in bad_provision:
        r, doc = dev.call("Provision", xml, key=None)
        assert local(doc) == "Provision" and text(doc, "Status") == "2", xml
    # Nothing was recorded as provisioned.
    assert dev.show()["provisioning"]["policy_key"] is None
    # The wrong root element is the glue's 400.
    r = dev.post("Provision", '<Settings xmlns="Settings:"><UserInformation><Get/>'
                              "</UserInformation></Settings>")
    assert r.status == 400

    dev.provision()
    bad_settings = (
        '<Settings xmlns="Settings:"><Set><Model>x</Model></Set></Settings>',
        '<Settings xmlns="Settings:"><UserInformation><Get/></UserInformation>'
        "<UserInformation><Get/></UserInformation></Settings>",
    )
    for xml in bad_settings:
        r, doc = dev.call("Settings", xml)
        assert local(doc) == "Settings" and text(doc, "Status") == "2", xml
    # A malformed part: that part's Status 2, the rest answered.
    r, doc = dev.call("Settings", '<Settings xmlns="Settings:"><DeviceInformation><Set>'
                                  "<EnableOutboundSMS>7</EnableOutboundSMS></Set>"
                                  "</DeviceInformation><UserInformation><Get/></UserInformation>"
                                  "</Settings>")
    assert text(doc, "Status") == "1" and text(doc, "DeviceInformation", "Status") == "2"
    assert text(doc, "UserInformation", "Status") == "1"
    assert dev.show()["information"]["enable_outbound_sms"] is None
