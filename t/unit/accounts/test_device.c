/* Devices: contact recording (and its write economy), DeviceInformation,
 * listing, access (explicit and domain rules, precedence), wipe orders,
 * removal, and removal with the account or domain (sync state included). */
#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_device.h"
#include "activesync/as_directory.h"
#include "activesync/as_syncstate.h"
#include "testdb.h"
#include "unit.h"

TESTDB_FIXTURE()

static void setup(void)
{
    const char *err = NULL;
    testdb_setup();
    ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
}

static as_device_contact_t contact(const char *account, const char *dev, const char *type,
                                   const char *ua, const char *version, const char *cmd,
                                   apr_time_t now)
{
    as_device_contact_t c;
    memset(&c, 0, sizeof(c));
    c.account = account;
    c.device_key = dev;
    c.device_type = type;
    c.user_agent = ua;
    c.protocol_version = version;
    c.command = cmd;
    c.now = now;
    return c;
}

static as_device_t get(const char *account, const char *dev)
{
    as_device_t d;
    const char *err = NULL;
    apr_status_t rv = as_device_get(db, unit_pool, account, dev, &d, &err);
    ck_assert_msg(rv == APR_SUCCESS, "get %s %s: %s", account, dev, err ? err : "?");
    return d;
}

START_TEST(touch_creates_and_economises)
{
    apr_time_t t0 = apr_time_from_sec(1700000000);
    as_device_contact_t c =
        contact("ann@example.org", "APPL123", "iPhone", "Apple-iPhone/1", "14.1", "FolderSync", t0);
    as_device_t d, d2;

    ck_assert(as_device_touch(db, unit_pool, &c, &d) == APR_SUCCESS);
    ck_assert_str_eq(d.device_type, "iPhone");
    ck_assert(d.nonce != 0);
    d2 = get("ann@example.org", "appl123"); /* the admin side upper-cases ids */
    ck_assert_int_eq(d2.first_contact, t0);
    ck_assert_int_eq(d2.last_contact, t0);
    ck_assert_str_eq(d2.last_command, "FolderSync");
    ck_assert_str_eq(d2.user_agent, "Apple-iPhone/1");
    ck_assert_str_eq(d2.protocol_version, "14.1");
    ck_assert_uint_eq(d2.nonce, d.nonce);
    ck_assert_int_eq(d2.info.enable_outbound_sms, -1);

    /* Within AS_DEVICE_TOUCH_SEC, same identity: nothing written. */
    c = contact("ann@example.org", "APPL123", "iPhone", "Apple-iPhone/1", "14.1", "Sync",
                t0 + apr_time_from_sec(AS_DEVICE_TOUCH_SEC / 2));
    ck_assert(as_device_touch(db, unit_pool, &c, &d) == APR_SUCCESS);
    d2 = get("ann@example.org", "APPL123");
    ck_assert_int_eq(d2.last_contact, t0);
    ck_assert_str_eq(d2.last_command, "FolderSync");

    /* AS_DEVICE_TOUCH_SEC later: written. */
    c.now = t0 + apr_time_from_sec(AS_DEVICE_TOUCH_SEC + 1);
    c.command = "Ping";
    ck_assert(as_device_touch(db, unit_pool, &c, &d) == APR_SUCCESS);
    d2 = get("ann@example.org", "APPL123");
    ck_assert_int_eq(d2.last_contact, c.now);
    ck_assert_str_eq(d2.last_command, "Ping");
    ck_assert_int_eq(d2.first_contact, t0);

    /* A new User-Agent or version is recorded at once. */
    c.now += apr_time_from_sec(1);
    c.user_agent = "Apple-iPhone/2";
    c.command = "Sync";
    ck_assert(as_device_touch(db, unit_pool, &c, &d) == APR_SUCCESS);
    d2 = get("ann@example.org", "APPL123");
    ck_assert_str_eq(d2.user_agent, "Apple-iPhone/2");
    ck_assert_str_eq(d2.last_command, "Sync");

    /* Same id, other account: another device. */
    c = contact("bob@example.org", "APPL123", "iPhone", NULL, "14.0", "Sync", t0);
    ck_assert(as_device_touch(db, unit_pool, &c, &d) == APR_SUCCESS);
    ck_assert_ptr_null(get("bob@example.org", "APPL123").user_agent);
    ck_assert_str_eq(get("ann@example.org", "APPL123").protocol_version, "14.1");
}
END_TEST

START_TEST(device_information_merges)
{
    as_device_contact_t c =
        contact("ann@example.org", "DEV1", "Android", "Android/9", "14.1", "Settings", 0);
    as_device_info_t info;
    as_device_t d;

    memset(&info, 0, sizeof(info));
    info.enable_outbound_sms = -1;
    info.model = "Pixel";
    info.imei = "356938035643809";
    info.friendly_name = "Ann's phone";
    info.os = "Android 14";
    info.os_language = "en-GB";
    info.phone_number = "+441234567890";
    info.user_agent = "Android-Mail/2024";
    info.mobile_operator = "Op";
    info.enable_outbound_sms = 1;
    ck_assert(as_device_set_info(db, unit_pool, &c, &info) == APR_SUCCESS);
    d = get("ann@example.org", "DEV1");
    ck_assert_str_eq(d.info.model, "Pixel");
    ck_assert_str_eq(d.info.imei, "356938035643809");
    ck_assert_str_eq(d.info.friendly_name, "Ann's phone");
    ck_assert_str_eq(d.info.os, "Android 14");
    ck_assert_str_eq(d.info.os_language, "en-GB");
    ck_assert_str_eq(d.info.phone_number, "+441234567890");
    ck_assert_str_eq(d.info.user_agent, "Android-Mail/2024");
    ck_assert_str_eq(d.info.mobile_operator, "Op");
    ck_assert_int_eq(d.info.enable_outbound_sms, 1);
    ck_assert(d.info_time > 0);
    ck_assert_str_eq(d.device_type, "Android");

    /* A later Set overwrites what it sends, keeps the rest. */
    memset(&info, 0, sizeof(info));
    info.enable_outbound_sms = -1;
    info.os = "Android 15";
    ck_assert(as_device_set_info(db, unit_pool, &c, &info) == APR_SUCCESS);
    d = get("ann@example.org", "DEV1");
    ck_assert_str_eq(d.info.os, "Android 15");
    ck_assert_str_eq(d.info.model, "Pixel");
    ck_assert_int_eq(d.info.enable_outbound_sms, 1);
}
END_TEST

START_TEST(list_and_remove)
{
    const char *err = NULL;
    apr_array_header_t *arr;
    as_device_contact_t c;
    as_device_t d;

    ck_assert(as_dir_domain_add(db, unit_pool, "other.net", &err) == APR_SUCCESS);
    c = contact("ann@example.org", "B2", "iPad", NULL, "14.1", "Sync", 0);
    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);
    c = contact("ann@example.org", "A1", "iPhone", NULL, "14.1", "Sync", 0);
    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);
    c = contact("bob@example.org", "C3", "TbSync", NULL, "14.0", "Sync", 0);
    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);
    c = contact("zed@other.net", "D4", "WP8", NULL, "14.0", "Sync", 0);
    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);

    ck_assert(as_device_list(db, unit_pool, NULL, &arr, &err) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 4);
    ck_assert(as_device_list(db, unit_pool, "example.org", &arr, &err) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 3);
    ck_assert(as_device_list(db, unit_pool, "Ann@Example.org", &arr, &err) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 0, as_device_t).device_id, "A1");
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 1, as_device_t).device_id, "B2");
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 0, as_device_t).account, "ann@example.org");
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 0, as_device_t).device_type, "iPhone");
    ck_assert(as_device_list(db, unit_pool, "nobody@example.org", &arr, &err) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 0);
    ck_assert(as_device_list(db, unit_pool, "bad domain", &arr, &err) == AS_DIR_EINVAL);

    ck_assert(as_svc_device_remove(db, unit_pool, "ann@example.org", "a1", &err) == APR_SUCCESS);
    ck_assert(as_device_get(db, unit_pool, "ann@example.org", "A1", &d, &err) == AS_DEV_ENODEVICE);
    ck_assert(strstr(err, "A1") && strstr(err, "ann@example.org"));
    ck_assert(as_svc_device_remove(db, unit_pool, "ann@example.org", "A1", &err) ==
              AS_DEV_ENODEVICE);
    ck_assert(as_device_get(db, unit_pool, "ann@example.org", "bad id!", &d, &err) ==
              AS_DIR_EINVAL);
    ck_assert(as_device_get(db, unit_pool, "no-at-sign", "A1", &d, &err) == AS_DIR_EINVAL);
}
END_TEST

START_TEST(access_precedence)
{
    const char *err = NULL, *reason = NULL;
    as_device_rule_t r;
    apr_array_header_t *rules;
    as_device_t d;
    as_device_contact_t c;

    c = contact("ann@example.org", "IPH", "iPhone", "Apple-iPhone9C1/1402.72", "14.1", "Sync", 0);
    ck_assert(as_device_touch(db, unit_pool, &c, &d) == APR_SUCCESS);

    /* Default: allowed. */
    ck_assert(as_device_rule_list(db, unit_pool, "example.org", &rules, &err) == APR_SUCCESS);
    ck_assert_int_eq(rules->nelts, 0);
    ck_assert(!as_device_blocked(unit_pool, &d, rules, &reason));

    /* A block rule on the type (case-insensitive glob). */
    ck_assert(as_device_rule_parse(unit_pool, "block", "type=IPHONE*", &r, &err) == APR_SUCCESS);
    ck_assert(as_device_rule_add(db, unit_pool, "example.org", &r, &err) == APR_SUCCESS);
    ck_assert(as_device_rule_add(db, unit_pool, "example.org", &r, &err) == AS_DIR_EEXIST);
    ck_assert(as_device_rule_list(db, unit_pool, "example.org", &rules, &err) == APR_SUCCESS);
    ck_assert(as_device_blocked(unit_pool, &d, rules, &reason));
    ck_assert(strstr(reason, "block type=IPHONE*"));

    /* An earlier allow rule wins (first match): add allow, then re-add block. */
    ck_assert(as_device_rule_remove(db, unit_pool, "example.org", &r, &err) == APR_SUCCESS);
    ck_assert(as_device_rule_remove(db, unit_pool, "example.org", &r, &err) == AS_DIR_EINVAL);
    {
        as_device_rule_t allow;
        ck_assert(as_device_rule_parse(unit_pool, "allow", "agent=Apple-iPhone9*", &allow, &err) ==
                  APR_SUCCESS);
        ck_assert(as_device_rule_add(db, unit_pool, "example.org", &allow, &err) == APR_SUCCESS);
    }
    ck_assert(as_device_rule_add(db, unit_pool, "example.org", &r, &err) == APR_SUCCESS);
    ck_assert(as_device_rule_list(db, unit_pool, "example.org", &rules, &err) == APR_SUCCESS);
    ck_assert_int_eq(rules->nelts, 2);
    ck_assert_int_eq(APR_ARRAY_IDX(rules, 0, as_device_rule_t).action, AS_RULE_ALLOW);
    ck_assert(!as_device_blocked(unit_pool, &d, rules, &reason));
    d.user_agent = "Apple-iPhone7C2/1";
    ck_assert(as_device_blocked(unit_pool, &d, rules, &reason));
    d.user_agent = NULL; /* no User-Agent: matches as "" */
    ck_assert(as_device_blocked(unit_pool, &d, rules, &reason));

    /* Explicit access beats the rules. */
    ck_assert(as_device_set_access(db, unit_pool, "ann@example.org", "iph", AS_ACCESS_ALLOW,
                                   &err) == APR_SUCCESS);
    d = get("ann@example.org", "IPH");
    ck_assert_int_eq(d.access, AS_ACCESS_ALLOW);
    d.user_agent = "Other";
    ck_assert(!as_device_blocked(unit_pool, &d, rules, &reason));
    ck_assert(as_device_set_access(db, unit_pool, "ann@example.org", "IPH", AS_ACCESS_BLOCK,
                                   &err) == APR_SUCCESS);
    d = get("ann@example.org", "IPH");
    ck_assert(as_device_blocked(unit_pool, &d, NULL, &reason));
    ck_assert(strstr(reason, "administrator"));
    ck_assert(as_device_set_access(db, unit_pool, "ann@example.org", "NOPE", AS_ACCESS_BLOCK,
                                   &err) == AS_DEV_ENODEVICE);

    /* Rule syntax and unknown domains. */
    ck_assert(as_device_rule_parse(unit_pool, "deny", "type=x", &r, &err) == AS_DIR_EINVAL);
    ck_assert(as_device_rule_parse(unit_pool, "allow", "model=x", &r, &err) == AS_DIR_EINVAL);
    ck_assert(as_device_rule_parse(unit_pool, "allow", "type=", &r, &err) == AS_DIR_EINVAL);
    ck_assert(as_device_rule_parse(unit_pool, "allow", "type", &r, &err) == AS_DIR_EINVAL);
    ck_assert(as_device_rule_parse(unit_pool, "allow", "type=a", &r, &err) == APR_SUCCESS);
    ck_assert(as_device_rule_add(db, unit_pool, "nowhere.org", &r, &err) == AS_DIR_ENODOMAIN);
    ck_assert(as_device_rule_list(db, unit_pool, "nowhere.org", &rules, &err) == AS_DIR_ENODOMAIN);
}
END_TEST

START_TEST(wipe_orders)
{
    const char *err = NULL;
    as_device_contact_t c;
    as_device_t d;

    c = contact("ann@example.org", "OLD", "Android", NULL, "14.1", "Sync", 0);
    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);
    c = contact("ann@example.org", "NEW", "iPhone", NULL, "16.1", "Sync", 0);
    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);

    /* Account-only needs 16.1. */
    ck_assert(as_device_wipe(db, unit_pool, "ann@example.org", "OLD", 1, &err) == AS_DEV_EREFUSED);
    ck_assert(strstr(err, "14.1") && strstr(err, "16.1"));
    ck_assert_int_eq(get("ann@example.org", "OLD").wipe, AS_WIPE_NONE);
    ck_assert(as_device_wipe(db, unit_pool, "ann@example.org", "NEW", 1, &err) == APR_SUCCESS);
    d = get("ann@example.org", "NEW");
    ck_assert_int_eq(d.wipe, AS_WIPE_REQUESTED);
    ck_assert(d.wipe_account_only);
    ck_assert(d.wipe_requested > 0);

    /* Full wipe: ordered, repeated (no-op), cancelled, ordered again. */
    ck_assert(as_device_wipe(db, unit_pool, "ann@example.org", "OLD", 0, &err) == APR_SUCCESS);
    ck_assert(as_device_wipe(db, unit_pool, "ann@example.org", "OLD", 0, &err) == APR_SUCCESS);
    ck_assert(as_device_wipe(db, unit_pool, "ann@example.org", "OLD", 1, &err) == AS_DEV_EREFUSED);
    ck_assert(as_device_wipe_cancel(db, unit_pool, "ann@example.org", "OLD", &err) == APR_SUCCESS);
    ck_assert_int_eq(get("ann@example.org", "OLD").wipe, AS_WIPE_NONE);
    ck_assert(as_device_wipe_cancel(db, unit_pool, "ann@example.org", "OLD", &err) ==
              AS_DEV_EREFUSED);
    ck_assert(as_device_wipe(db, unit_pool, "ann@example.org", "GONE", 0, &err) ==
              AS_DEV_ENODEVICE);
    /* Escalating an account-only order to a full wipe is allowed. */
    ck_assert(as_device_wipe(db, unit_pool, "ann@example.org", "NEW", 0, &err) == APR_SUCCESS);
    ck_assert(!get("ann@example.org", "NEW").wipe_account_only);
}
END_TEST

START_TEST(record_survives_reopen)
{
    as_device_contact_t c = contact("ann@example.org", "KEEP", "iPhone", "UA", "14.1", "Sync", 0);
    as_device_t before, after;
    const char *err = NULL;

    ck_assert(as_device_touch(db, unit_pool, &c, NULL) == APR_SUCCESS);
    ck_assert(as_device_set_access(db, unit_pool, "ann@example.org", "KEEP", AS_ACCESS_BLOCK,
                                   &err) == APR_SUCCESS);
    before = get("ann@example.org", "KEEP");
    as_db_close(db);
    db = testdb_open(dir);
    after = get("ann@example.org", "KEEP");
    ck_assert_uint_eq(after.nonce, before.nonce);
    ck_assert_int_eq(after.access, AS_ACCESS_BLOCK);
    ck_assert_int_eq(after.access_changed, before.access_changed);
    ck_assert_str_eq(after.user_agent, "UA");
    ck_assert_int_eq(as_protocol_number("16.1"), 161);
    ck_assert_int_eq(as_protocol_number("2.5"), 25);
    ck_assert_int_eq(as_protocol_number(NULL), 0);
    ck_assert_int_eq(as_protocol_number("x"), 0);
}
END_TEST

/* ---- removal with the account ------------------------------------------------------- */

static void device_with_state(const char *account, const char *dev, const char *req)
{
    as_device_contact_t c = contact(account, dev, "iPhone", "Apple-iPhone/1", "12.1", "Sync",
                                    apr_time_from_sec(1700000000));
    as_device_t d;
    ck_assert(as_device_touch(db, unit_pool, &c, &d) == APR_SUCCESS);
    ck_assert(as_sync_cache_put(db, account, dev, req, strlen(req)) == APR_SUCCESS);
}

static const char *cached(const char *account, const char *dev)
{
    const char *xml = NULL;
    apr_size_t len = 0;
    ck_assert(as_sync_cache_get(db, unit_pool, account, dev, &xml, &len) == APR_SUCCESS);
    return xml;
}

static int ndevices(const char *scope)
{
    apr_array_header_t *arr;
    ck_assert(as_device_list(db, unit_pool, scope, &arr, NULL) == APR_SUCCESS);
    return arr->nelts;
}

START_TEST(account_removal_takes_devices)
{
    const char *err = NULL;
    as_optedit_t e;
    as_device_t d;
    int n = -1;

    memset(&e, 0, sizeof(e));
    ck_assert(as_optedit_parse_set(unit_pool, &e, "email=on", 1, &err) == APR_SUCCESS);
    ck_assert(as_svc_account_update(db, unit_pool, "ann@example.org", &e, NULL, &err) ==
              APR_SUCCESS);
    device_with_state("ann@example.org", "APPL1", "<Sync>ann1</Sync>");
    device_with_state("ann@example.org", "ANDR2", "<Sync>ann2</Sync>");
    ck_assert(as_device_wipe(db, unit_pool, "ann@example.org", "APPL1", 0, &err) == APR_SUCCESS);
    /* neighbours that must survive: a longer local part, another domain */
    ck_assert(as_dir_domain_add(db, unit_pool, "example.net", &err) == APR_SUCCESS);
    device_with_state("anna@example.org", "APPL1", "<Sync>anna</Sync>");
    device_with_state("ann@example.net", "APPL1", "<Sync>net</Sync>");
    ck_assert_int_eq(ndevices("ann@example.org"), 2);

    ck_assert(as_svc_account_remove_ex(db, unit_pool, "Ann@Example.org", &n, &err) == APR_SUCCESS);
    ck_assert_int_eq(n, 2);
    ck_assert_int_eq(ndevices("ann@example.org"), 0);
    ck_assert_ptr_null(cached("ann@example.org", "APPL1"));
    ck_assert_ptr_null(cached("ann@example.org", "ANDR2"));
    ck_assert_int_eq(ndevices("anna@example.org"), 1);
    ck_assert_str_eq(cached("anna@example.org", "APPL1"), "<Sync>anna</Sync>");
    ck_assert_int_eq(ndevices("ann@example.net"), 1);
    ck_assert_str_eq(cached("ann@example.net", "APPL1"), "<Sync>net</Sync>");
    ck_assert_int_eq(as_svc_account_remove(db, unit_pool, "ann@example.org", &err),
                     AS_DIR_ENOACCOUNT);

    /* re-added, the account starts clean: the device is new (no wipe, no key) */
    ck_assert(as_svc_account_update(db, unit_pool, "ann@example.org", &e, NULL, &err) ==
              APR_SUCCESS);
    ck_assert_int_eq(as_device_get(db, unit_pool, "ann@example.org", "APPL1", &d, &err),
                     AS_DEV_ENODEVICE);
    device_with_state("ann@example.org", "APPL1", "<Sync>again</Sync>");
    d = get("ann@example.org", "APPL1");
    ck_assert_int_eq(d.wipe, AS_WIPE_NONE);
    ck_assert_uint_eq(d.policy_key, 0);

    /* an account known only by its devices (no record, no slot) is removable */
    device_with_state("bob@example.org", "B1", "<Sync>bob</Sync>");
    ck_assert(as_svc_account_remove_ex(db, unit_pool, "bob@example.org", &n, &err) == APR_SUCCESS);
    ck_assert_int_eq(n, 1);
    ck_assert_ptr_null(cached("bob@example.org", "B1"));

    /* domain removal takes the devices of all its accounts and its device
     * rules: the domain added again starts without the old blocks */
    {
        as_device_rule_t r;
        apr_array_header_t *rules;
        ck_assert(as_device_rule_parse(unit_pool, "block", "type=IPHONE*", &r, &err) ==
                  APR_SUCCESS);
        ck_assert(as_device_rule_add(db, unit_pool, "example.org", &r, &err) == APR_SUCCESS);
        ck_assert(as_device_rule_add(db, unit_pool, "example.net", &r, &err) == APR_SUCCESS);
        ck_assert(as_svc_domain_remove(db, unit_pool, "example.org", 1, &err) == APR_SUCCESS);
        ck_assert_int_eq(ndevices("example.org"), 0);
        ck_assert_ptr_null(cached("ann@example.org", "APPL1"));
        ck_assert_ptr_null(cached("anna@example.org", "APPL1"));
        ck_assert_int_eq(ndevices("example.net"), 1);
        ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
        ck_assert(as_device_rule_list(db, unit_pool, "example.org", &rules, &err) == APR_SUCCESS);
        ck_assert_int_eq(rules->nelts, 0);
        ck_assert(as_device_rule_list(db, unit_pool, "example.net", &rules, &err) == APR_SUCCESS);
        ck_assert_int_eq(rules->nelts, 1);
    }
}
END_TEST

/* device remove: the record and the device's sync state, nobody else's */
START_TEST(device_removal_takes_sync_state)
{
    const char *err = NULL;
    device_with_state("cat@example.org", "APPL1", "<Sync>cat1</Sync>");
    device_with_state("cat@example.org", "APPL12", "<Sync>cat12</Sync>");
    device_with_state("cat@example.org", "ANDR2", "<Sync>cat2</Sync>");
    ck_assert(as_svc_device_remove(db, unit_pool, "cat@example.org", "appl1", &err) == APR_SUCCESS);
    ck_assert_int_eq(ndevices("cat@example.org"), 2);
    ck_assert_ptr_null(cached("cat@example.org", "APPL1"));
    ck_assert_str_eq(cached("cat@example.org", "APPL12"), "<Sync>cat12</Sync>");
    ck_assert_str_eq(cached("cat@example.org", "ANDR2"), "<Sync>cat2</Sync>");
    ck_assert_int_eq(as_svc_device_remove(db, unit_pool, "cat@example.org", "APPL1", &err),
                     AS_DEV_ENODEVICE);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("device");
    TCase *tc = tcase_create("device");
    tcase_add_checked_fixture(tc, setup, testdb_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, touch_creates_and_economises);
    tcase_add_test(tc, device_information_merges);
    tcase_add_test(tc, list_and_remove);
    tcase_add_test(tc, access_precedence);
    tcase_add_test(tc, wipe_orders);
    tcase_add_test(tc, record_survives_reopen);
    tcase_add_test(tc, account_removal_takes_devices);
    tcase_add_test(tc, device_removal_takes_sync_state);
    suite_add_tcase(s, tc);
    return s;
}
