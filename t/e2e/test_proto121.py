"""EAS 12.1 end to end (issue 5): the server advertises 12.1 next to 14.0
and 14.1, and a 12.1 device goes through the whole provisioning exchange
the 12.x way -- HTTP 449 with no body, never the in-band 142-144 of 14.0+
-- then a short mail session in 12.1 forms: FolderSync, Sync with Class in
the request's Collection, GetItemEstimate with Class and FilterType
directly in Collection, Ping, Settings with the pre-14.1 UserInformation; the 14.0-only Sync HeartbeatInterval is a
protocol error.  Last, removing the account with activesync-admin takes its
device records and sync state with it.

The mail server (mailutil) runs with ActiveSyncProvisioning On here.
Every WBXML reply goes through validate-eas (mailutil.Reply)."""

from e2eharness import admin
from mailutil import Device, Reply, folder_id, kid, kids, ln, mail_server, text  # noqa: F401

SERVER_EXTRA = "ActiveSyncProvisioning On"
INBOX = folder_id("")
POLICY_TYPE = "MS-EAS-Provisioning-WBXML"
# a 14.0 BodyPreference child a 12.1 device might still send: ignored
PREVIEW = ("<Options><airsyncbase:BodyPreference><airsyncbase:Type>1</airsyncbase:Type>"
           "<airsyncbase:TruncationSize>512</airsyncbase:TruncationSize>"
           "<airsyncbase:Preview>100</airsyncbase:Preview></airsyncbase:BodyPreference>"
           "</Options>")
FS0 = '<FolderSync xmlns="FolderHierarchy:"><SyncKey>0</SyncKey></FolderSync>'


class Device121(Device):
    """A 12.1 phone: sends X-MS-PolicyKey once it has a key, Class in each
    Sync Collection."""

    def __init__(self, srv, addr, device_id):
        super().__init__(srv, addr, device_id, version="12.1")
        self.key = None

    def post(self, cmd, xml, retry_503=True, timeout_s=120, key=Ellipsis):
        k = self.key if key is Ellipsis else key
        h = {"X-MS-PolicyKey": str(k)} if k is not None else None
        return Reply(self.client.post(cmd, xml=xml, headers=h))

    def sync_xml(self, fid, key, **kw):
        xml = super().sync_xml(fid, key, **kw)
        return xml.replace("<Collection><SyncKey>", "<Collection><Class>Email</Class><SyncKey>", 1)

    def provision(self):
        """Phase 1 (no DeviceInformation: a 14.1 element), the acknowledgement;
        returns (temporary, final) keys."""
        r = self.post("Provision", phase1_xml(), key=None)
        assert r.status == 200 and r.doc is not None, r
        assert text(r.doc, "Status") == "1", r
        assert kid(r.doc, "DeviceInformation") is None, r
        pol = kid(kid(r.doc, "Policies"), "Policy")
        assert text(pol, "PolicyType") == POLICY_TYPE and text(pol, "Status") == "1", r
        temp = text(pol, "PolicyKey")
        assert temp and temp.isdigit() and int(temp) != 0
        assert kid(kid(pol, "Data"), "EASProvisionDoc") is not None, r
        # the temporary key opens nothing but the acknowledgement
        assert_449(self.post("FolderSync", FS0, key=temp))
        r = self.post("Provision", ack_xml(temp), key=temp)
        assert r.status == 200 and text(r.doc, "Status") == "1", r
        pol = kid(kid(r.doc, "Policies"), "Policy")
        assert text(pol, "Status") == "1" and kid(pol, "Data") is None, r
        final = text(pol, "PolicyKey")
        assert final and final.isdigit() and final != temp
        self.key = final
        return temp, final


def phase1_xml(info=""):
    return ('<Provision xmlns="Provision:" xmlns:settings="Settings:">%s<Policies><Policy>'
            "<PolicyType>%s</PolicyType></Policy></Policies></Provision>" % (info, POLICY_TYPE))


def ack_xml(key):
    return ('<Provision xmlns="Provision:"><Policies><Policy><PolicyType>%s</PolicyType>'
            "<PolicyKey>%s</PolicyKey><Status>1</Status></Policy></Policies></Provision>"
            % (POLICY_TYPE, key))


def assert_449(r):
    """The 12.x demand: HTTP 449 and no WBXML body (no in-band 142-144)."""
    assert r.status == 449 and r.body == b"", r
    assert r.resp.reason.startswith("Retry after sending a PROVISION"), r.resp.reason


def new_device(srv, name, count):
    addr = srv.add_account(name, count=count)
    return addr, Device121(srv, addr, ("V121%s%s" % (srv.mpm[:2], name)).upper())


def test_options_advertise_12_1(mail_server):
    addr, dev = new_device(mail_server, "opt121", 0)
    r = dev.client.options()
    assert r.status == 200
    versions = r.header("MS-ASProtocolVersions").split(",")
    assert "12.1" in versions and "14.0" in versions and "14.1" in versions, versions


def test_provisioning_exchange_12_1(mail_server):
    srv = mail_server
    addr, dev = new_device(srv, "prov121", 3)
    # Unprovisioned: every gated command gets a bare 449, with or without key 0.
    assert_449(dev.post("FolderSync", FS0))
    assert_449(dev.post("FolderSync", FS0, key=0))
    assert_449(dev.post("Sync", dev.sync_xml(INBOX, "0")))
    # DeviceInformation inside Provision is 14.1+: a protocol error in 12.1.
    info = ("<settings:DeviceInformation><settings:Set><settings:Model>WM6</settings:Model>"
            "</settings:Set></settings:DeviceInformation>")
    r = dev.post("Provision", phase1_xml(info), key=None)
    assert r.status == 200 and text(r.doc, "Status") == "2" and kid(r.doc, "Policies") is None, r
    temp, final = dev.provision()
    # With the final key: FolderSync and Sync work.
    assert dev.foldersync("0")["status"] == "1"
    r, more, c = dev.sync(INBOX)  # key 0
    assert text(c, "Status") == "1"
    r, more, c = dev.sync(INBOX, window=100)
    assert dev.counts[INBOX]["Add"] == 3 + 15  # mkmaildir's 15 real-looking ones
    shown = admin(srv.datadir, "device", "show", addr, dev.device_id, json_out=True)
    assert shown["provisioning"]["state"] == "current"
    assert shown["provisioning"]["policy_key"] == final
    assert shown["protocol_version"] == "12.1"
    # A policy change makes the key stale: 449 again (no in-band 143), then a
    # new exchange gives a new key that works.
    try:
        admin(srv.datadir, "policy", "set", addr, "DevicePasswordEnabled=on",
              "MinDevicePasswordLength=6")
        assert_449(dev.post("FolderSync", FS0))
        assert_449(dev.post("Sync", dev.sync_xml(INBOX, dev.keys[INBOX])))
        old = final
        temp, final = dev.provision()
        assert final != old
        assert dev.foldersync()["status"] == "1"
        r = dev.sync_raw(INBOX)
        assert r.status == 200 and r.body == b"", r  # nothing new: the empty reply
        assert_449(dev.post("FolderSync", FS0, key=old))
    finally:
        admin(srv.datadir, "policy", "unset", addr, "DevicePasswordEnabled",
              "MinDevicePasswordLength")


def estimate_121(dev, fid, filter_type):
    return dev.post("GetItemEstimate",
                    '<GetItemEstimate xmlns="GetItemEstimate:" xmlns:airsync="AirSync:">'
                    "<Collections><Collection><Class>Email</Class><CollectionId>%s</CollectionId>"
                    "<airsync:FilterType>%d</airsync:FilterType><airsync:SyncKey>%s"
                    "</airsync:SyncKey></Collection></Collections></GetItemEstimate>"
                    % (fid, filter_type, dev.keys[fid]))


def test_mail_session_12_1_then_account_removal(mail_server):
    srv = mail_server
    addr, dev = new_device(srv, "mail121", 10)  # 25 messages in INBOX
    dev.provision()
    # Settings: UserInformation in its pre-14.1 shape; DeviceInformation here.
    r = dev.post("Settings", '<Settings xmlns="Settings:"><DeviceInformation><Set><Model>WM6.1'
                             '</Model><UserAgent>MSFT-PPC/5.2</UserAgent></Set>'
                             '</DeviceInformation><UserInformation><Get/></UserInformation>'
                             '</Settings>')
    assert r.status == 200 and text(r.doc, "Status") == "1", r
    assert text(kid(r.doc, "DeviceInformation"), "Status") == "1", r
    get = kid(kid(r.doc, "UserInformation"), "Get")
    assert kid(get, "Accounts") is None, r
    smtp = kids(kid(get, "EmailAddresses"))  # libwbxml decodes it as "SmtpAddress"
    assert [ln(e).lower() for e in smtp] == ["smtpaddress"] and smtp[0].text == addr, r
    assert dev.foldersync("0")["status"] == "1"
    assert INBOX in dev.folders
    # Sync: initial key, then one page of 5 (MoreAvailable).
    r, more, c = dev.sync(INBOX)
    assert text(c, "Status") == "1" and kid(c, "Commands") is None
    r, more, c = dev.sync(INBOX, window=5, options=PREVIEW)
    assert more and dev.counts[INBOX]["Add"] == 5
    assert all(ln(e) != "Class" for e in kids(c)), r  # the reply has no Class (schema)
    # no 14.0 Email elements for a 12.1 device (Email2 page, Categories, Preview)
    for e in c.iter():
        if isinstance(e.tag, str):
            assert not e.tag.startswith("{Email2:}"), e.tag
            assert ln(e) not in ("Categories", "Preview", "ConversationId"), e.tag
    # GetItemEstimate, 12.1 form: the 20 not yet sent.
    r = estimate_121(dev, INBOX, 0)
    assert r.status == 200, r
    resp = kid(r.doc, "Response")
    assert text(resp, "Status") == "1", r
    assert text(kid(resp, "Collection"), "Estimate") == "20", r
    # Ping: changes are waiting, so Status 2 at once, naming INBOX.
    status, folders = dev.ping(300, [INBOX])
    assert status == "2" and folders == [INBOX]
    # Sync push in 12.1 is Wait (minutes); HeartbeatInterval is 14.0+ (Status 4).
    body = dev.sync_xml(INBOX, dev.keys[INBOX]).replace(
        "</Collections>", "</Collections><HeartbeatInterval>300</HeartbeatInterval>")
    r = dev.post("Sync", body)
    assert r.status == 200 and text(r.doc, "Status") == "4", r
    r = dev.sync_raw(INBOX, wait=60)
    assert r.status == 200 and text(r.doc, "Status") == "14" and text(r.doc, "Limit") == "59", r
    old_hier, old_key = dev.hier_key, dev.keys[INBOX]

    # activesync-admin account remove takes the device and its sync state.
    listed = admin(srv.datadir, "device", "list", addr, json_out=True)["devices"]
    assert [d["device_id"] for d in listed] == [dev.device_id]
    out = admin(srv.datadir, "account", "remove", addr).stdout
    assert "1 device record(s)" in out, out
    assert admin(srv.datadir, "device", "list", addr, json_out=True) == {"devices": []}
    # The account (still allowed by its domain) starts clean: the device is new
    # and must provision; its old hierarchy and collection keys are unknown.
    assert_449(dev.post("FolderSync", FS0))
    dev.provision()
    assert dev.foldersync(old_hier)["status"] == "9"
    r = dev.sync_raw(INBOX, key=old_key)
    c = dev.collection(r, INBOX)
    assert text(c, "Status") == "3", r
    listed = admin(srv.datadir, "device", "list", addr, json_out=True)["devices"]
    assert [d["device_id"] for d in listed] == [dev.device_id]
    assert listed[0]["provisioning"]["state"] == "current"
