/* Settings: DeviceInformation Set (every field recorded), UserInformation
 * Get (12.x/14.0 and 14.1 forms), Oof Get/Set, DevicePassword Set,
 * RightsManagementInformation Get (14.1 only), several parts answered in order, and
 * malformed requests.  Every reply is checked with validate-eas. */
#include <apr_strings.h>

#include "activesync/as_device.h"
#include "activesync/as_directory.h"
#include "cmdtest.h"
#include "testdb.h"
#include "unit.h"
#include "as_cmds.h"

#define ACCT "ann@example.org"
#define DEV  "SETDEV"

TESTDB_FIXTURE()

static void settings(cmdtest_t *t, const char *version, const char *xml)
{
    cmdtest_run(t, as_cmd_settings, db, "Settings", ACCT, DEV, "iPhone", version, "Apple-iPhone/1",
                xml);
    ck_assert_int_eq(t->rv, APR_SUCCESS);
    ck_assert_int_eq(t->resp.http_status, 200);
    ck_assert_ptr_nonnull(t->resp.doc);
    cmdtest_validate(t->resp.doc);
}

#define S(x) "<Settings xmlns=\"Settings:\">" x "</Settings>"

START_TEST(device_information_every_field)
{
    cmdtest_t t;
    as_device_t d;
    const char *err = NULL;

    settings(&t, "14.1",
             S("<DeviceInformation><Set><Model>iPhone15,2</Model><IMEI>356938035643809</IMEI>"
               "<FriendlyName>Ann's iPhone</FriendlyName><OS>iOS 17.2 21C62</OS>"
               "<OSLanguage>English</OSLanguage><PhoneNumber>+15551234</PhoneNumber>"
               "<UserAgent>iOS/17.2 (21C62) dataaccessd/1.0</UserAgent>"
               "<EnableOutboundSMS>0</EnableOutboundSMS><MobileOperator>Carrier</MobileOperator>"
               "</Set></DeviceInformation>"));
    ck_assert_str_eq(xp(t.resp.doc, "/s:Settings/s:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "/s:Settings/s:DeviceInformation/s:Status"), "1");
    cmdtest_free(&t);
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == APR_SUCCESS);
    ck_assert_str_eq(d.info.model, "iPhone15,2");
    ck_assert_str_eq(d.info.imei, "356938035643809");
    ck_assert_str_eq(d.info.friendly_name, "Ann's iPhone");
    ck_assert_str_eq(d.info.os, "iOS 17.2 21C62");
    ck_assert_str_eq(d.info.os_language, "English");
    ck_assert_str_eq(d.info.phone_number, "+15551234");
    ck_assert_str_eq(d.info.user_agent, "iOS/17.2 (21C62) dataaccessd/1.0");
    ck_assert_int_eq(d.info.enable_outbound_sms, 0);
    ck_assert_str_eq(d.info.mobile_operator, "Carrier");
    ck_assert_str_eq(d.device_type, "iPhone");
    ck_assert_str_eq(d.user_agent, "Apple-iPhone/1");
    ck_assert_str_eq(d.last_command, "Settings");
}
END_TEST

START_TEST(user_information_by_version)
{
    cmdtest_t t;

    settings(&t, "14.0", S("<UserInformation><Get/></UserInformation>"));
    ck_assert_str_eq(xp(t.resp.doc, "//s:UserInformation/s:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//s:UserInformation/s:Get/s:EmailAddresses/s:SMTPAddress"),
                     ACCT);
    ck_assert_int_eq(xp_count(t.resp.doc, "//s:Accounts"), 0);
    cmdtest_free(&t);

    settings(&t, "14.1", S("<UserInformation><Get/></UserInformation>"));
    ck_assert_str_eq(xp(t.resp.doc, "//s:Get/s:Accounts/s:Account/s:EmailAddresses/"
                                    "s:PrimarySmtpAddress"),
                     ACCT);
    cmdtest_free(&t);

    settings(&t, "12.1", S("<UserInformation><Get/></UserInformation>"));
    ck_assert_str_eq(xp(t.resp.doc, "//s:EmailAddresses/s:SMTPAddress"), ACCT);
    ck_assert_int_eq(xp_count(t.resp.doc, "//s:Accounts"), 0);
    cmdtest_free(&t);
}
END_TEST

/* RightsManagementInformation is a 14.1 element: before that it is unknown,
 * a protocol error for the whole request. */
START_TEST(rights_management_needs_14_1)
{
    static const char *const old[] = {"12.1", "14.0"};
    cmdtest_t t;
    size_t i;

    for (i = 0; i < sizeof(old) / sizeof(old[0]); i++) {
        settings(&t, old[i],
                 S("<UserInformation><Get/></UserInformation>"
                   "<RightsManagementInformation><Get/></RightsManagementInformation>"));
        ck_assert_str_eq(xp(t.resp.doc, "/s:Settings/s:Status"), "2");
        ck_assert_int_eq(xp_count(t.resp.doc, "//s:RightsManagementInformation"), 0);
        ck_assert_int_eq(xp_count(t.resp.doc, "//s:UserInformation"), 0);
        cmdtest_free(&t);
    }
    settings(&t, "14.1", S("<RightsManagementInformation><Get/></RightsManagementInformation>"));
    ck_assert_str_eq(xp(t.resp.doc, "/s:Settings/s:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//s:RightsManagementInformation/s:Status"), "1");
    cmdtest_free(&t);
}
END_TEST

START_TEST(oof_password_rights_in_order)
{
    cmdtest_t t;

    settings(&t, "14.1",
             S("<UserInformation><Get/></UserInformation>"
               "<Oof><Get><BodyType>Text</BodyType></Get></Oof>"
               "<DevicePassword><Set><Password>secret</Password></Set></DevicePassword>"
               "<RightsManagementInformation><Get/></RightsManagementInformation>"
               "<DeviceInformation><Set><Model>X</Model></Set></DeviceInformation>"));
    ck_assert_str_eq(xp(t.resp.doc, "local-name(/s:Settings/*[1])"), "Status");
    ck_assert_str_eq(xp(t.resp.doc, "local-name(/s:Settings/*[2])"), "UserInformation");
    ck_assert_str_eq(xp(t.resp.doc, "local-name(/s:Settings/*[3])"), "Oof");
    ck_assert_str_eq(xp(t.resp.doc, "local-name(/s:Settings/*[4])"), "DevicePassword");
    ck_assert_str_eq(xp(t.resp.doc, "local-name(/s:Settings/*[5])"), "RightsManagementInformation");
    ck_assert_str_eq(xp(t.resp.doc, "local-name(/s:Settings/*[6])"), "DeviceInformation");
    ck_assert_str_eq(xp(t.resp.doc, "//s:Oof/s:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//s:Oof/s:Get/s:OofState"), "0");
    ck_assert_str_eq(xp(t.resp.doc, "//s:DevicePassword/s:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//s:RightsManagementInformation/s:Status"), "1");
    ck_assert_int_eq(xp_count(t.resp.doc, "//s:RightsManagementInformation/s:Get/"
                                          "rm:RightsManagementTemplates"),
                     1);
    cmdtest_free(&t);

    /* Oof Set: not supported (no out-of-office store). */
    settings(&t, "14.1",
             S("<Oof><Set><OofState>1</OofState><OofMessage><AppliesToInternal/>"
               "<Enabled>1</Enabled><ReplyMessage>Away</ReplyMessage><BodyType>Text</BodyType>"
               "</OofMessage></Set></Oof>"));
    ck_assert_str_eq(xp(t.resp.doc, "/s:Settings/s:Status"), "1");
    ck_assert_str_eq(xp(t.resp.doc, "//s:Oof/s:Status"), "7");
    ck_assert_int_eq(xp_count(t.resp.doc, "//s:Oof/s:Get"), 0);
    cmdtest_free(&t);
}
END_TEST

START_TEST(malformed)
{
    static const char *const whole[] = {
        "<Provision xmlns=\"Provision:\"><Status>1</Status></Provision>",
        S(""),
        S("<Status>1</Status>"),
        S("<Oof><Get/></Oof><Oof><Get/></Oof>"),
        S("<UserInformation><Get/></UserInformation><DeviceInformation><Set><Model>A</Model>"
          "</Set></DeviceInformation><UserInformation><Get/></UserInformation>"),
        S("<RightsManagementInformation/>"),
        NULL,
    };
    static const char *const part[][2] = {
        {S("<Oof/>"), "Oof"},
        {S("<Oof><Get/><Set/></Oof>"), "Oof"},
        {S("<UserInformation/>"), "UserInformation"},
        {S("<UserInformation><Set/></UserInformation>"), "UserInformation"},
        {S("<DevicePassword><Set/></DevicePassword>"), "DevicePassword"},
        {S("<DevicePassword><Get/></DevicePassword>"), "DevicePassword"},
        {S("<DeviceInformation/>"), "DeviceInformation"},
        {S("<DeviceInformation><Get/></DeviceInformation>"), "DeviceInformation"},
        {S("<DeviceInformation><Set><Model>A</Model><Model>B</Model></Set></DeviceInformation>"),
         "DeviceInformation"},
        {S("<DeviceInformation><Set><EnableOutboundSMS>2</EnableOutboundSMS></Set>"
           "</DeviceInformation>"),
         "DeviceInformation"},
        {S("<DeviceInformation><Set><Model><OS>x</OS></Model></Set></DeviceInformation>"),
         "DeviceInformation"},
        {S("<DeviceInformation><Set><Password>x</Password></Set></DeviceInformation>"),
         "DeviceInformation"},
        {NULL, NULL},
    };
    cmdtest_t t;
    as_device_t d;
    const char *err = NULL;
    int i;

    for (i = 0; whole[i]; i++) {
        settings(&t, "14.1", whole[i]);
        ck_assert_msg(!strcmp(xp(t.resp.doc, "/s:Settings/s:Status"), "2"), "accepted %s",
                      whole[i]);
        ck_assert_int_eq(xp_count(t.resp.doc, "/s:Settings/*"), 1);
        cmdtest_free(&t);
    }
    for (i = 0; part[i][0]; i++) {
        settings(&t, "14.1", part[i][0]);
        ck_assert_str_eq(xp(t.resp.doc, "/s:Settings/s:Status"), "1");
        ck_assert_msg(!strcmp(xp(t.resp.doc,
                                 apr_psprintf(unit_pool, "/s:Settings/s:%s/s:Status", part[i][1])),
                              "2"),
                      "part accepted: %s", part[i][0]);
        cmdtest_free(&t);
    }
    /* A field over 1024 bytes. */
    {
        char *big = apr_palloc(unit_pool, 1100);
        memset(big, 'a', 1025);
        big[1025] = '\0';
        settings(&t, "14.1",
                 apr_psprintf(unit_pool,
                              S("<DeviceInformation><Set><Model>%s</Model></Set>"
                                "</DeviceInformation>"),
                              big));
        ck_assert_str_eq(xp(t.resp.doc, "//s:DeviceInformation/s:Status"), "2");
        cmdtest_free(&t);
    }
    /* No body. */
    cmdtest_run(&t, as_cmd_settings, db, "Settings", ACCT, DEV, "iPhone", "14.1", NULL, NULL);
    ck_assert_str_eq(xp(t.resp.doc, "/s:Settings/s:Status"), "2");
    cmdtest_free(&t);
    /* Nothing recorded by the malformed requests. */
    ck_assert(as_device_get(db, unit_pool, ACCT, DEV, &d, &err) == AS_DEV_ENODEVICE);
    /* No database: 503. */
    cmdtest_run(&t, as_cmd_settings, NULL, "Settings", ACCT, DEV, "iPhone", "14.1", NULL,
                S("<DeviceInformation><Set><Model>A</Model></Set></DeviceInformation>"));
    ck_assert_int_eq(t.resp.http_status, 503);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("settings");
    TCase *tc = tcase_create("settings");
    tcase_add_checked_fixture(tc, testdb_setup, testdb_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, device_information_every_field);
    tcase_add_test(tc, user_information_by_version);
    tcase_add_test(tc, rights_management_needs_14_1);
    tcase_add_test(tc, oof_password_rights_in_order);
    tcase_add_test(tc, malformed);
    suite_add_tcase(s, tc);
    return s;
}
