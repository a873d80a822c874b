/* Provisioning: the two-phase exchange through the Provision handler (14.1
 * and 12.1) with decoded request trees, the gate (missing, stale and
 * invalid keys, Loose and Off modes, 449 escalation, blocks), remote wipe
 * (full and 16.1 account-only) and malformed requests.  Every reply is
 * encoded and checked with shared/conformance/validate-eas. */
#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_account_service.h"
#include "activesync/as_device.h"
#include "activesync/as_directory.h"
#include "activesync/as_policy.h"
#include "activesync/as_provision.h"
#include "cmdtest.h"
#include "testdb.h"
#include "unit.h"

#define ACCT "ann@example.org"
#define DEV  "DEV1"
#define TYPE "TestPhone"

TESTDB_FIXTURE()

static void setup(void)
{
    const char *err = NULL;
    testdb_setup();
    ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
}

static as_gate_t gate_full(const char *dev, const char *version, const char *cmd,
                           const char *keyhdr, as_prov_mode_t mode, as_inband_449_t inband)
{
    as_gate_in_t in;
    as_gate_t out;
    memset(&in, 0, sizeof(in));
    in.account = ACCT;
    in.device_key = dev;
    in.device_type = TYPE;
    in.user_agent = "TestAgent/1.0";
    in.protocol_version = version;
    in.command = cmd;
    in.policy_key_header = keyhdr;
    in.mode = mode;
    in.inband_449 = inband;
    ck_assert(as_provision_gate(db, unit_pool, &in, &out) == APR_SUCCESS);
    if (out.doc) {
        cmdtest_validate(out.doc);
    }
    return out;
}

static as_gate_t gate(const char *version, const char *cmd, const char *keyhdr)
{
    return gate_full(DEV, version, cmd, keyhdr, AS_PROVISIONING_ON, AS_INBAND_ONLY);
}

static void gate_free(as_gate_t *g)
{
    if (g->doc) {
        xmlFreeDoc(g->doc);
        g->doc = NULL;
    }
}

static void expect_serve(const char *version, const char *cmd, const char *key)
{
    as_gate_t g = gate(version, cmd, key);
    ck_assert_msg(g.verdict == AS_GATE_SERVE, "verdict %d (%s)", g.verdict,
                  g.reason ? g.reason : "");
    ck_assert_int_eq(g.http_status, 200);
    ck_assert_ptr_null(g.doc);
}

/* A provisioning demand: in-band status (14.x) or 449 (12.x). */
static void expect_demand(const char *version, const char *cmd, const char *key, int status)
{
    as_gate_t g = gate(version, cmd, key);
    ck_assert_msg(g.verdict == AS_GATE_PROVISION, "verdict %d", g.verdict);
    ck_assert_int_eq(g.eas_status, status);
    ck_assert_ptr_nonnull(g.reason);
    if (as_protocol_number(version) < 140) {
        ck_assert_int_eq(g.http_status, 449);
        ck_assert_ptr_null(g.doc);
    } else {
        ck_assert_int_eq(g.http_status, 200);
        ck_assert_ptr_nonnull(g.doc);
        ck_assert_str_eq(xp(g.doc, "/*/*[local-name()='Status']"), apr_itoa(unit_pool, status));
        ck_assert_str_eq((const char *)xmlDocGetRootElement(g.doc)->name, cmd);
    }
    gate_free(&g);
}

/* Run Provision; the reply is validated (xml: with --xml). */
static void provision_as(cmdtest_t *t, const char *dev, const char *version, const char *xml,
                         int validate_xml)
{
    cmdtest_run(t, as_cmd_provision, db, "Provision", ACCT, dev, TYPE, version, "TestAgent/1.0",
                xml);
    ck_assert_int_eq(t->rv, APR_SUCCESS);
    ck_assert_int_eq(t->resp.http_status, 200);
    ck_assert_ptr_nonnull(t->resp.doc);
    cmdtest_validate_as(t->resp.doc, validate_xml);
}

static void provision(cmdtest_t *t, const char *version, const char *xml)
{
    provision_as(t, DEV, version, xml, 0);
}

#define PHASE1                                                                                     \
    "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML"      \
    "</PolicyType></Policy></Policies></Provision>"

#define PHASE1_INFO                                                                                \
    "<Provision xmlns=\"Provision:\" xmlns:settings=\"Settings:\"><settings:DeviceInformation>"    \
    "<settings:Set><settings:Model>Pixel 8</settings:Model><settings:IMEI>35693803564380"          \
    "</settings:IMEI><settings:FriendlyName>Ann</settings:FriendlyName><settings:OS>Android 14"    \
    "</settings:OS><settings:OSLanguage>en</settings:OSLanguage><settings:PhoneNumber>+1555"       \
    "</settings:PhoneNumber><settings:UserAgent>Android-Mail</settings:UserAgent>"                 \
    "<settings:MobileOperator>Op</settings:MobileOperator></settings:Set>"                         \
    "</settings:DeviceInformation><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML"         \
    "</PolicyType></Policy></Policies></Provision>"

static const char *ack_xml(const char *key, const char *status)
{
    return apr_psprintf(unit_pool,
                        "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType>"
                        "MS-EAS-Provisioning-WBXML</PolicyType><PolicyKey>%s</PolicyKey>"
                        "<Status>%s</Status></Policy></Policies></Provision>",
                        key, status);
}

/* The whole exchange; returns the final key as text. */
static const char *do_provision(const char *dev, const char *version, int with_info)
{
    cmdtest_t t;
    const char *temp, *final;

    provision_as(&t, dev, version, with_info ? PHASE1_INFO : PHASE1, 0);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//p:Policy/p:PolicyType"), "MS-EAS-Provisioning-WBXML");
    ck_assert_str_eq(xp(t.resp.doc, "//p:Policy/p:Status"), "1");
    ck_assert_int_eq(xp_count(t.resp.doc, "//p:Policy/p:Data/p:EASProvisionDoc"), 1);
    ck_assert_int_eq(xp_count(t.resp.doc, "/p:Provision/s:DeviceInformation"), with_info);
    if (with_info) {
        ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/s:DeviceInformation/s:Status"), "1");
        /* schema order: DeviceInformation first */
        ck_assert_str_eq(xp(t.resp.doc, "local-name(/p:Provision/*[1])"), "DeviceInformation");
    }
    temp = xp(t.resp.doc, "//p:Policy/p:PolicyKey");
    ck_assert(strlen(temp) > 0 && strcmp(temp, "0"));
    cmdtest_free(&t);

    provision_as(&t, dev, version, ack_xml(temp, "1"), 0);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//p:Policy/p:Status"), "1");
    ck_assert_int_eq(xp_count(t.resp.doc, "//p:Data"), 0);
    final = xp(t.resp.doc, "//p:Policy/p:PolicyKey");
    ck_assert(strlen(final) > 0 && strcmp(final, temp) && strcmp(final, "0"));
    cmdtest_free(&t);
    return final;
}

/* ---- the exchange ------------------------------------------------------------- */

START_TEST(two_phase_14_1)
{
    const char *final;
    as_device_t d;
    as_policy_t pol;
    apr_uint32_t expected;
    const char *err = NULL;

    expect_demand("14.1", "FolderSync", NULL, AS_STATUS_NOT_PROVISIONED);
    expect_demand("14.1", "FolderSync", "0", AS_STATUS_NOT_PROVISIONED);
    expect_demand("14.1", "Ping", "0", AS_STATUS_NOT_PROVISIONED); /* Ping is not exempt */
    final = do_provision(DEV, "14.1", 1);
    expect_serve("14.1", "FolderSync", final);
    expect_serve("14.1", "Sync", final);
    expect_demand("14.1", "Sync", "12345", AS_STATUS_INVALID_POLICY);
    expect_demand("14.1", "Sync", "garbage", AS_STATUS_INVALID_POLICY);

    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == APR_SUCCESS);
    ck_assert_int_eq(d.prov_state, AS_PROV_DONE);
    ck_assert_int_eq(d.client_status, 1);
    ck_assert(d.provisioned > 0);
    ck_assert_str_eq(apr_psprintf(unit_pool, "%u", d.policy_key), final);
    ck_assert_str_eq(d.info.model, "Pixel 8");
    ck_assert_str_eq(d.info.mobile_operator, "Op");
    ck_assert(as_provision_expected(db, unit_pool, ACCT, DEV, &pol, &expected) == APR_SUCCESS);
    ck_assert_uint_eq(expected, d.policy_key);
}
END_TEST

START_TEST(two_phase_12_1)
{
    const char *final, *err = NULL;
    cmdtest_t t;
    as_device_t d;

    /* DeviceInformation inside Provision is a 14.1 element (MS-ASPROV
     * 2.2.2.53): a 12.1 or 14.0 request carrying it is malformed, gets no
     * key and records nothing. */
    provision(&t, "12.1", PHASE1_INFO);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "2");
    ck_assert_int_eq(xp_count(t.resp.doc, "//p:Policies"), 0);
    ck_assert_int_eq(xp_count(t.resp.doc, "//s:DeviceInformation"), 0);
    cmdtest_free(&t);
    provision(&t, "14.0", PHASE1_INFO);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "2");
    cmdtest_free(&t);
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == AS_DEV_ENODEVICE);

    expect_demand("12.1", "FolderSync", NULL, AS_STATUS_NOT_PROVISIONED);
    final = do_provision(DEV, "12.1", 0);
    expect_serve("12.1", "FolderSync", final);
    expect_demand("12.1", "Sync", "1", AS_STATUS_INVALID_POLICY);
}
END_TEST

START_TEST(temporary_key_is_not_a_final_key)
{
    cmdtest_t t;
    const char *temp;

    provision(&t, "14.1", PHASE1);
    temp = xp(t.resp.doc, "//p:Policy/p:PolicyKey");
    cmdtest_free(&t);
    expect_demand("14.1", "Sync", temp, AS_STATUS_INVALID_POLICY);
    /* Acknowledging another key: Policy Status 5, no key. */
    provision(&t, "14.1", ack_xml("77", "1"));
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//p:Policy/p:Status"), "5");
    ck_assert_int_eq(xp_count(t.resp.doc, "//p:PolicyKey"), 0);
    cmdtest_free(&t);
    /* The right temporary key still works. */
    provision(&t, "14.1", ack_xml(temp, "2"));
    ck_assert_str_eq(xp(t.resp.doc, "//p:Policy/p:Status"), "1");
    expect_serve("14.1", "Sync", xp(t.resp.doc, "//p:Policy/p:PolicyKey"));
    cmdtest_free(&t);
    /* A repeated acknowledgement of the final key is answered again. */
    {
        as_policy_t pol;
        apr_uint32_t k;
        ck_assert(as_provision_expected(db, unit_pool, ACCT, DEV, &pol, &k) == APR_SUCCESS);
        provision(&t, "14.1", ack_xml(apr_psprintf(unit_pool, "%u", k), "1"));
        ck_assert_str_eq(xp(t.resp.doc, "//p:Policy/p:PolicyKey"),
                         apr_psprintf(unit_pool, "%u", k));
        cmdtest_free(&t);
    }
}
END_TEST

START_TEST(stale_key_after_policy_change)
{
    const char *final14, *final12, *err = NULL, *again;
    as_optedit_t oe;
    as_poledit_t pe;

    final14 = do_provision(DEV, "14.1", 0);
    final12 = do_provision("DEV12", "12.1", 0);
    expect_serve("14.1", "Sync", final14);
    expect_serve("14.1", "Sync", final14); /* memoised (as_db_memo.h) */

    memset(&oe, 0, sizeof(oe));
    memset(&pe, 0, sizeof(pe));
    ck_assert(as_poledit_parse_set(unit_pool, &pe, "DevicePasswordEnabled=1", &err) == 0);
    oe.policy = &pe;
    ck_assert(as_dir_domain_update(db, unit_pool, "example.org", &oe, &err) == APR_SUCCESS);

    expect_demand("14.1", "Sync", final14, AS_STATUS_POLICY_REFRESH);
    {
        as_gate_t g =
            gate_full("DEV12", "12.1", "Sync", final12, AS_PROVISIONING_ON, AS_INBAND_ONLY);
        ck_assert_int_eq(g.verdict, AS_GATE_PROVISION);
        ck_assert_int_eq(g.http_status, 449);
        ck_assert_int_eq(g.eas_status, AS_STATUS_POLICY_REFRESH);
    }
    again = do_provision(DEV, "14.1", 0);
    ck_assert_str_ne(again, final14);
    expect_serve("14.1", "Sync", again);
    expect_demand("14.1", "Sync", final14, AS_STATUS_INVALID_POLICY);
}
END_TEST

START_TEST(loose_and_off_modes)
{
    as_gate_t g;
    const char *final;

    /* Loose: a device that never sends a key and never provisioned syncs. */
    g = gate_full(DEV, "14.1", "Sync", NULL, AS_PROVISIONING_LOOSE, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    g = gate_full(DEV, "12.1", "FolderSync", NULL, AS_PROVISIONING_LOOSE, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    /* ... but one that sends a key (even 0) must provision. */
    g = gate_full(DEV, "14.1", "Sync", "0", AS_PROVISIONING_LOOSE, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_PROVISION);
    ck_assert_int_eq(g.eas_status, AS_STATUS_NOT_PROVISIONED);
    gate_free(&g);
    /* Off: nothing is demanded. */
    g = gate_full(DEV, "14.1", "Sync", "0", AS_PROVISIONING_OFF, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    g = gate_full(DEV, "14.1", "Sync", "4711", AS_PROVISIONING_OFF, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    /* Once provisioned, Loose holds the device to its key. */
    final = do_provision(DEV, "14.1", 0);
    g = gate_full(DEV, "14.1", "Sync", final, AS_PROVISIONING_LOOSE, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_SERVE);
    g = gate_full(DEV, "14.1", "Sync", NULL, AS_PROVISIONING_LOOSE, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_PROVISION);
    gate_free(&g);
}
END_TEST

START_TEST(auto_449_for_devices_ignoring_inband)
{
    as_gate_t g;
    int i;

    for (i = 0; i < AS_GATE_449_AFTER; i++) {
        g = gate_full(DEV, "14.1", "FolderSync", "0", AS_PROVISIONING_ON, AS_INBAND_AUTO);
        ck_assert_int_eq(g.http_status, 200);
        ck_assert_ptr_nonnull(g.doc);
        gate_free(&g);
    }
    g = gate_full(DEV, "14.1", "FolderSync", "0", AS_PROVISIONING_ON, AS_INBAND_AUTO);
    ck_assert_int_eq(g.http_status, 449);
    ck_assert_ptr_nonnull(g.doc); /* 449 with the in-band body, as Horde does */
    gate_free(&g);
    /* Sending Provision resets the count. */
    {
        cmdtest_t t;
        provision(&t, "14.1", PHASE1);
        cmdtest_free(&t);
    }
    g = gate_full(DEV, "14.1", "FolderSync", "0", AS_PROVISIONING_ON, AS_INBAND_AUTO);
    ck_assert_int_eq(g.http_status, 200);
    gate_free(&g);
    g = gate_full(DEV, "14.1", "FolderSync", "0", AS_PROVISIONING_ON, AS_INBAND_AND_449);
    ck_assert_int_eq(g.http_status, 449);
    ck_assert_ptr_nonnull(g.doc);
    gate_free(&g);
    /* A command whose reply has no top-level Status: 449 without a body. */
    g = gate_full(DEV, "14.1", "MeetingResponse", "0", AS_PROVISIONING_ON, AS_INBAND_ONLY);
    ck_assert_int_eq(g.http_status, 449);
    ck_assert_ptr_null(g.doc);
}
END_TEST

START_TEST(blocked_devices)
{
    as_gate_t g;
    as_device_rule_t r;
    const char *err = NULL;

    ck_assert(as_device_rule_parse(unit_pool, "block", "type=test*", &r, &err) == APR_SUCCESS);
    ck_assert(as_device_rule_add(db, unit_pool, "example.org", &r, &err) == APR_SUCCESS);
    g = gate("14.1", "Sync", "0");
    ck_assert_int_eq(g.verdict, AS_GATE_BLOCKED);
    ck_assert_int_eq(g.http_status, 403);
    ck_assert(strstr(g.reason, "type=test*"));
    g = gate("14.1", "Provision", "0");
    ck_assert_int_eq(g.verdict, AS_GATE_BLOCKED);
    /* The device record exists (created by the first contact): allow it. */
    ck_assert(as_device_set_access(db, unit_pool, ACCT, DEV, AS_ACCESS_ALLOW, &err) == APR_SUCCESS);
    expect_demand("14.1", "Sync", "0", AS_STATUS_NOT_PROVISIONED);
    ck_assert(as_device_set_access(db, unit_pool, ACCT, DEV, AS_ACCESS_BLOCK, &err) == APR_SUCCESS);
    g = gate_full(DEV, "14.1", "Sync", "0", AS_PROVISIONING_OFF, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_BLOCKED);
    ck_assert(strstr(g.reason, "administrator"));
}
END_TEST

/* ---- remote wipe ---------------------------------------------------------------- */

START_TEST(full_wipe)
{
    const char *final = do_provision(DEV, "14.1", 0), *err = NULL;
    as_device_t d;
    as_gate_t g;
    cmdtest_t t;

    ck_assert(as_device_wipe(db, unit_pool, ACCT, DEV, 0, &err) == APR_SUCCESS);
    expect_demand("14.1", "Sync", final, AS_STATUS_REMOTE_WIPE);
    expect_demand("14.1", "Ping", final, AS_STATUS_REMOTE_WIPE);
    g = gate_full(DEV, "14.1", "Sync", final, AS_PROVISIONING_OFF, AS_INBAND_ONLY);
    ck_assert_int_eq(g.eas_status, AS_STATUS_REMOTE_WIPE); /* whatever the mode */
    gate_free(&g);
    expect_serve("14.1", "Provision", final);

    /* Any Provision now gets the wipe, without Policies. */
    provision(&t, "14.1", PHASE1);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "1");
    ck_assert_int_eq(xp_count(t.resp.doc, "/p:Provision/p:RemoteWipe"), 1);
    ck_assert_int_eq(xp_count(t.resp.doc, "//p:Policies"), 0);
    cmdtest_free(&t);
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == APR_SUCCESS);
    ck_assert(d.wipe_sent > 0);
    ck_assert_int_eq(d.wipe, AS_WIPE_REQUESTED);

    /* The wrong kind of acknowledgement is a protocol error. */
    provision(&t, "14.1",
              "<Provision xmlns=\"Provision:\"><AccountOnlyRemoteWipe><Status>1</Status>"
              "</AccountOnlyRemoteWipe></Provision>");
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "2");
    cmdtest_free(&t);
    /* The acknowledgement is recorded with its time. */
    provision(&t, "14.1",
              "<Provision xmlns=\"Provision:\"><RemoteWipe><Status>1</Status></RemoteWipe>"
              "</Provision>");
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "1");
    cmdtest_free(&t);
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == APR_SUCCESS);
    ck_assert_int_eq(d.wipe, AS_WIPE_ACKED);
    ck_assert_int_eq(d.wipe_status, 1);
    ck_assert(d.wipe_acked >= d.wipe_sent);

    /* Refused afterwards, Provision included, until removed. */
    g = gate("14.1", "Sync", final);
    ck_assert_int_eq(g.verdict, AS_GATE_WIPED);
    ck_assert_int_eq(g.http_status, 403);
    g = gate("14.1", "Provision", final);
    ck_assert_int_eq(g.verdict, AS_GATE_WIPED);
    provision(&t, "14.1", PHASE1);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "2");
    cmdtest_free(&t);
    ck_assert(as_device_wipe(db, unit_pool, ACCT, DEV, 0, &err) == AS_DEV_EREFUSED);
    ck_assert(as_svc_device_remove(db, unit_pool, ACCT, DEV, &err) == APR_SUCCESS);
    expect_demand("14.1", "Sync", final, AS_STATUS_INVALID_POLICY); /* a new device */
}
END_TEST

START_TEST(full_wipe_12_1)
{
    const char *final = do_provision(DEV, "12.1", 0), *err = NULL;
    cmdtest_t t;
    as_gate_t g;

    ck_assert(as_device_wipe(db, unit_pool, ACCT, DEV, 0, &err) == APR_SUCCESS);
    g = gate("12.1", "Sync", final);
    ck_assert_int_eq(g.verdict, AS_GATE_PROVISION);
    ck_assert_int_eq(g.http_status, 449);
    provision(&t, "12.1", PHASE1);
    ck_assert_int_eq(xp_count(t.resp.doc, "/p:Provision/p:RemoteWipe"), 1);
    cmdtest_free(&t);
    provision(&t, "12.1",
              "<Provision xmlns=\"Provision:\"><RemoteWipe><Status>2</Status></RemoteWipe>"
              "</Provision>");
    cmdtest_free(&t);
    g = gate("12.1", "Sync", final);
    ck_assert_int_eq(g.verdict, AS_GATE_WIPED);
}
END_TEST

START_TEST(account_only_wipe_16_1)
{
    as_device_contact_t c;
    const char *err = NULL;
    as_device_t d;
    cmdtest_t t;
    as_gate_t g;

    memset(&c, 0, sizeof(c));
    c.account = ACCT;
    c.device_key = "IOS16";
    c.device_type = TYPE;
    c.protocol_version = "16.1";
    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);
    ck_assert(as_device_wipe(db, unit_pool, ACCT, "IOS16", 1, &err) == APR_SUCCESS);

    /* A 16.1 Provision gets AccountOnlyRemoteWipe (libwbxml cannot decode
     * that token: validated as XML). */
    provision_as(&t, "IOS16", "16.1", PHASE1, 1);
    ck_assert_int_eq(xp_count(t.resp.doc, "/p:Provision/p:AccountOnlyRemoteWipe"), 1);
    ck_assert_int_eq(xp_count(t.resp.doc, "/p:Provision/p:RemoteWipe"), 0);
    {
        /* It also encodes, with token 0x3B on page 14. */
        unsigned char *wb = NULL;
        apr_size_t wl = 0, i;
        int found = 0;
        ck_assert_int_eq(as_wbxml_encode(t.resp.doc, NULL, &wb, &wl), AS_WBXML_OK);
        for (i = 0; i < wl; i++) {
            found |= wb[i] == 0x3B;
        }
        free(wb);
        ck_assert(found);
    }
    cmdtest_free(&t);
    /* If the device falls back to 14.1 it is refused rather than sent a full wipe. */
    g = gate_full("IOS16", "14.1", "Sync", "0", AS_PROVISIONING_ON, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_BLOCKED);
    ck_assert(strstr(g.reason, "account-only"));
    provision_as(&t, "IOS16", "14.1", PHASE1, 0);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "2");
    ck_assert_int_eq(xp_count(t.resp.doc, "//p:RemoteWipe"), 0);
    cmdtest_free(&t);

    provision_as(&t, "IOS16", "16.1",
                 "<Provision xmlns=\"Provision:\"><AccountOnlyRemoteWipe><Status>1</Status>"
                 "</AccountOnlyRemoteWipe></Provision>",
                 1);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "1");
    cmdtest_free(&t);
    ck_assert(as_device_get(db, unit_pool, ACCT, "IOS16", &d, &err) == APR_SUCCESS);
    ck_assert_int_eq(d.wipe, AS_WIPE_ACKED);
    ck_assert(d.wipe_account_only);
    g = gate_full("IOS16", "16.1", "Sync", "0", AS_PROVISIONING_ON, AS_INBAND_ONLY);
    ck_assert_int_eq(g.verdict, AS_GATE_WIPED);
}
END_TEST

/* ---- malformed requests ------------------------------------------------------------ */

START_TEST(malformed_requests)
{
    static const char *const bad[] = {
        "<Settings xmlns=\"Settings:\"><Status>1</Status></Settings>",
        "<Provision xmlns=\"Provision:\"/>",
        "<Provision xmlns=\"Provision:\"><Policies/></Provision>",
        "<Provision xmlns=\"Provision:\"><Policies><Policy/></Policies></Provision>",
        "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML"
        "</PolicyType></Policy><Policy><PolicyType>x</PolicyType></Policy></Policies></Provision>",
        "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML"
        "</PolicyType><PolicyKey>abc</PolicyKey><Status>1</Status></Policy></Policies></Provision>",
        "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML"
        "</PolicyType><Status>1</Status></Policy></Policies></Provision>",
        "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML"
        "</PolicyType><PolicyKey>99999999999</PolicyKey><Status>1</Status></Policy></Policies>"
        "</Provision>",
        "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType>MS-EAS-Provisioning-WBXML"
        "</PolicyType><PolicyType>x</PolicyType></Policy></Policies></Provision>",
        "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType><Data/></PolicyType>"
        "</Policy></Policies></Provision>",
        "<Provision xmlns=\"Provision:\"><RemoteWipe/></Provision>",
        "<Provision xmlns=\"Provision:\"><RemoteWipe><Status>3</Status></RemoteWipe></Provision>",
        "<Provision xmlns=\"Provision:\"><RemoteWipe><Status>1</Status></RemoteWipe><RemoteWipe>"
        "<Status>1</Status></RemoteWipe></Provision>",
        "<Provision xmlns=\"Provision:\"><Status>1</Status></Provision>",
        "<Provision xmlns=\"Provision:\" xmlns:s=\"Settings:\"><s:DeviceInformation><s:Set>"
        "<s:OofState>1</s:OofState></s:Set></s:DeviceInformation><Policies><Policy><PolicyType>"
        "MS-EAS-Provisioning-WBXML</PolicyType></Policy></Policies></Provision>",
        "<Provision xmlns=\"Provision:\" xmlns:s=\"Settings:\"><s:DeviceInformation/></Provision>",
        NULL,
    };
    cmdtest_t t;
    as_device_t d;
    const char *err = NULL;
    int i;

    for (i = 0; bad[i]; i++) {
        provision(&t, "14.1", bad[i]);
        ck_assert_msg(!strcmp(xp(t.resp.doc, "/p:Provision/p:Status"), "2"), "accepted: %s",
                      bad[i]);
        ck_assert_int_eq(xp_count(t.resp.doc, "//p:Policies"), 0);
        cmdtest_free(&t);
    }
    /* No body at all. */
    cmdtest_run(&t, as_cmd_provision, db, "Provision", ACCT, DEV, TYPE, "14.1", NULL, NULL);
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "2");
    cmdtest_validate(t.resp.doc);
    cmdtest_free(&t);
    /* Nothing was recorded. */
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == AS_DEV_ENODEVICE);

    /* Well-formed but not acceptable: an acknowledgement with Status 7 (protocol
     * error), an unknown PolicyType (Policy Status 3). */
    provision(&t, "14.1", ack_xml("5", "7"));
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "2");
    cmdtest_free(&t);
    provision(&t, "14.1",
              "<Provision xmlns=\"Provision:\"><Policies><Policy><PolicyType>"
              "MS-WAP-Provisioning-XML</PolicyType></Policy></Policies></Provision>");
    ck_assert_str_eq(xp(t.resp.doc, "/p:Provision/p:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//p:Policy/p:Status"), "3");
    ck_assert_str_eq(xp(t.resp.doc, "//p:Policy/p:PolicyType"), "MS-WAP-Provisioning-XML");
    ck_assert_int_eq(xp_count(t.resp.doc, "//p:PolicyKey"), 0);
    cmdtest_free(&t);
    /* A database that is not available: 503 with Retry-After. */
    cmdtest_run(&t, as_cmd_provision, NULL, "Provision", ACCT, DEV, TYPE, "14.1", NULL, PHASE1);
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_int_eq(t.resp.http_status, 503);
    ck_assert_ptr_null(t.resp.doc);
    ck_assert_ptr_nonnull(apr_table_get(t.resp.headers, "Retry-After"));
    cmdtest_free(&t);
}
END_TEST

/* ---- helpers ----------------------------------------------------------------------- */

START_TEST(inband_documents_for_every_command)
{
    static const char *const cmds[] = {
        "Sync",         "SendMail",     "SmartForward", "SmartReply",     "FolderSync",
        "FolderCreate", "FolderDelete", "FolderUpdate", "MoveItems",      "GetItemEstimate",
        "Search",       "Settings",     "Ping",         "ItemOperations", "ResolveRecipients",
        "ValidateCert", "Find",         NULL,
    };
    int i;

    for (i = 0; cmds[i]; i++) {
        xmlDocPtr doc = as_provision_status_doc(cmds[i], AS_STATUS_POLICY_REFRESH);
        ck_assert_msg(doc != NULL, "%s", cmds[i]);
        ck_assert_str_eq((const char *)xmlDocGetRootElement(doc)->name, cmds[i]);
        ck_assert_str_eq(xp(doc, "/*/*[local-name()='Status']"), "143");
        cmdtest_validate_as(doc, !strcmp(cmds[i], "Find"));
        xmlFreeDoc(doc);
    }
    ck_assert_ptr_null(as_provision_status_doc("MeetingResponse", 142));
    ck_assert_ptr_null(as_provision_status_doc("GetAttachment", 142));
    ck_assert_ptr_null(as_provision_status_doc("Bogus", 142));
    ck_assert_ptr_null(as_provision_status_doc(NULL, 142));
    ck_assert(as_provision_exempt("Provision"));
    ck_assert(!as_provision_exempt("Ping"));
    ck_assert(!as_provision_exempt(NULL));
}
END_TEST

START_TEST(policy_key_of_request)
{
    int present, valid;
    ck_assert_uint_eq(as_policy_key_from_request(NULL, 0, 0, &present, &valid), 0);
    ck_assert(!present && valid);
    ck_assert_uint_eq(as_policy_key_from_request(NULL, 1, 77, &present, &valid), 77);
    ck_assert(present && valid);
    ck_assert_uint_eq(as_policy_key_from_request("0", 0, 0, &present, &valid), 0);
    ck_assert(present && valid);
    ck_assert_uint_eq(as_policy_key_from_request(" 4294967295 ", 0, 0, &present, &valid),
                      4294967295u);
    ck_assert(present && valid);
    as_policy_key_from_request("4294967296", 0, 0, &present, &valid);
    ck_assert(present && !valid);
    as_policy_key_from_request("12a", 0, 0, &present, &valid);
    ck_assert(present && !valid);
    as_policy_key_from_request("-1", 0, 0, &present, &valid);
    ck_assert(present && !valid);
    as_policy_key_from_request("", 0, 0, &present, &valid);
    ck_assert(!present);
}
END_TEST

START_TEST(policy_document_follows_settings)
{
    const char *err = NULL;
    as_optedit_t oe;
    as_poledit_t pe;
    cmdtest_t t;

    memset(&oe, 0, sizeof(oe));
    memset(&pe, 0, sizeof(pe));
    ck_assert(as_poledit_parse_set(unit_pool, &pe, "MinDevicePasswordLength=6", &err) == 0);
    ck_assert(as_poledit_parse_set(unit_pool, &pe, "DevicePasswordEnabled=1", &err) == 0);
    oe.policy = &pe;
    ck_assert(as_svc_account_update(db, unit_pool, ACCT, &oe, NULL, &err) == APR_SUCCESS);
    provision(&t, "14.1", PHASE1);
    ck_assert_str_eq(xp(t.resp.doc, "//p:EASProvisionDoc/p:DevicePasswordEnabled"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//p:EASProvisionDoc/p:MinDevicePasswordLength"), "6");
    ck_assert_str_eq(xp(t.resp.doc, "//p:EASProvisionDoc/p:AllowCamera"), "1");
    cmdtest_free(&t);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("provision");
    TCase *tc = tcase_create("provision");
    tcase_add_checked_fixture(tc, setup, testdb_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, two_phase_14_1);
    tcase_add_test(tc, two_phase_12_1);
    tcase_add_test(tc, temporary_key_is_not_a_final_key);
    tcase_add_test(tc, stale_key_after_policy_change);
    tcase_add_test(tc, loose_and_off_modes);
    tcase_add_test(tc, auto_449_for_devices_ignoring_inband);
    tcase_add_test(tc, blocked_devices);
    tcase_add_test(tc, full_wipe);
    tcase_add_test(tc, full_wipe_12_1);
    tcase_add_test(tc, account_only_wipe_16_1);
    tcase_add_test(tc, malformed_requests);
    tcase_add_test(tc, inband_documents_for_every_command);
    tcase_add_test(tc, policy_key_of_request);
    tcase_add_test(tc, policy_document_follows_settings);
    suite_add_tcase(s, tc);
    return s;
}
