/* Provisioning policies: the settings table and built-in defaults, the
 * inheritance matrix with sources (pure and through the directory), edits,
 * record encoding, the policy document and the policy key (it changes
 * exactly when the effective policy changes). */
#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_directory.h"
#include "activesync/as_policy.h"
#include "cmdtest.h"
#include "testdb.h"
#include "unit.h"

TESTDB_FIXTURE()

static as_poledit_t *edit(int unset, const char *w1, const char *w2)
{
    as_poledit_t *e = apr_pcalloc(unit_pool, sizeof(*e));
    const char *err = NULL, *words[2] = {w1, w2};
    int i;
    for (i = 0; i < 2 && words[i]; i++) {
        apr_status_t rv = unset ? as_poledit_parse_unset(unit_pool, e, words[i], &err)
                                : as_poledit_parse_set(unit_pool, e, words[i], &err);
        ck_assert_msg(rv == APR_SUCCESS, "%s: %s", words[i], err ? err : "?");
    }
    return e;
}

/* Apply a policy edit at a level: "example.org", "example.org/staff" or an address. */
static void pol_level(const char *level, int unset, const char *w1, const char *w2)
{
    as_optedit_t oe;
    const char *err = NULL, *d, *c;
    apr_status_t rv;

    memset(&oe, 0, sizeof(oe));
    oe.policy = edit(unset, w1, w2);
    if (strchr(level, '@')) {
        rv = as_svc_account_update(db, unit_pool, level, &oe, NULL, &err);
    } else if (strchr(level, '/')) {
        ck_assert(as_dir_class_path(unit_pool, level, &d, &c, &err) == APR_SUCCESS);
        rv = as_dir_class_update(db, unit_pool, d, c, &oe, &err);
    } else {
        rv = as_dir_domain_update(db, unit_pool, level, &oe, &err);
    }
    ck_assert_msg(rv == APR_SUCCESS, "%s: %s", level, err ? err : "?");
}

static void account_policy(const char *address, as_policy_t *pol)
{
    as_dir_account_t a;
    const char *err = NULL;
    ck_assert_msg(as_svc_account_get(db, unit_pool, address, &a, &err) == APR_SUCCESS, "%s", err);
    as_policy_resolve_account(&a, pol);
}

static void join_class(const char *address, const char *cls)
{
    as_optedit_t oe;
    const char *err = NULL;
    memset(&oe, 0, sizeof(oe));
    oe.class_name = cls;
    ck_assert_msg(as_svc_account_update(db, unit_pool, address, &oe, NULL, &err) == APR_SUCCESS,
                  "%s", err);
}

/* ---- table and defaults ------------------------------------------------------- */

START_TEST(builtin_is_exchange_default)
{
    as_policy_t pol;
    int i;

    as_policy_resolve(NULL, NULL, NULL, &pol);
    for (i = 0; i < AS_POL_COUNT; i++) {
        ck_assert_int_eq(pol.source[i], AS_SRC_BUILTIN);
        ck_assert(as_polset_has(&pol.v, i));
        ck_assert_int_eq(as_pol_from_name(as_pol_name(i)), i);
        ck_assert(as_pol_help(i)[0]);
    }
    ck_assert_int_eq(pol.v.value[AS_POL_DEVICE_PASSWORD_ENABLED], 0);
    ck_assert_int_eq(pol.v.value[AS_POL_ATTACHMENTS_ENABLED], 1);
    ck_assert_int_eq(pol.v.value[AS_POL_ALLOW_CAMERA], 1);
    ck_assert_int_eq(pol.v.value[AS_POL_MAX_ATTACHMENT_SIZE], AS_POL_EMPTY);
    ck_assert_int_eq(pol.v.value[AS_POL_MAX_INACTIVITY_LOCK], AS_POL_EMPTY);
    ck_assert_int_eq(pol.v.value[AS_POL_MAX_EMAIL_BODY_TRUNCATION], -1);
    ck_assert_int_eq(pol.v.value[AS_POL_ALLOW_BLUETOOTH], 2);
    ck_assert_int_eq(pol.v.value[AS_POL_MIN_COMPLEX_CHARACTERS], 1);
    ck_assert_str_eq(pol.v.list[0], "");
    ck_assert_int_eq(as_pol_from_name("devicepasswordenabled"), AS_POL_DEVICE_PASSWORD_ENABLED);
    ck_assert_int_eq(as_pol_from_name("NoSuchThing"), -1);
    ck_assert_str_eq(as_pol_format(unit_pool, &pol.v, AS_POL_MAX_ATTACHMENT_SIZE), "unlimited");
    ck_assert_str_eq(as_pol_format(unit_pool, &pol.v, AS_POL_ALLOW_CAMERA), "on");
}
END_TEST

/* ---- resolution ------------------------------------------------------------------ */

START_TEST(resolve_matrix_pure)
{
    /* For three settings of different types, each level: 0 absent, 1 present
     * without the setting, 2 set to value A, 3 set to value B. */
    static const as_pol_t settings[] = {AS_POL_DEVICE_PASSWORD_ENABLED, AS_POL_MIN_PASSWORD_LENGTH,
                                        AS_POL_MAX_EMAIL_AGE_FILTER};
    static const long va[] = {1, 6, 3}, vb[] = {0, 8, 5};
    size_t k;
    int d, c, a;

    for (k = 0; k < 3; k++) {
        as_pol_t s = settings[k];
        for (d = 0; d < 4; d++) {
            for (c = 0; c < 4; c++) {
                for (a = 0; a < 4; a++) {
                    as_polset_t *lv[3];
                    int code[3] = {d, c, a}, i;
                    as_policy_t pol;
                    long want = as_policy_builtin()->value[s];
                    as_src_t src = AS_SRC_BUILTIN;
                    for (i = 0; i < 3; i++) {
                        lv[i] = apr_pcalloc(unit_pool, sizeof(as_polset_t));
                        if (code[i] >= 2) {
                            lv[i]->defined = ((apr_uint64_t)1) << s;
                            lv[i]->value[s] = code[i] == 2 ? va[k] : vb[k];
                            want = lv[i]->value[s];
                            src = (as_src_t)(AS_SRC_DOMAIN + i);
                        }
                    }
                    as_policy_resolve(d ? lv[0] : NULL, c ? lv[1] : NULL, a ? lv[2] : NULL, &pol);
                    ck_assert_int_eq(pol.v.value[s], want);
                    ck_assert_int_eq(pol.source[s], src);
                    /* Other settings stay built-in. */
                    ck_assert_int_eq(pol.source[AS_POL_ALLOW_WIFI], AS_SRC_BUILTIN);
                }
            }
        }
    }
}
END_TEST

START_TEST(inheritance_through_directory)
{
    as_policy_t pol;
    const char *err = NULL;
    as_dir_account_t a;

    ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
    ck_assert(as_dir_class_add(db, unit_pool, "example.org", "staff", &err) == APR_SUCCESS);
    join_class("ann@example.org", "staff");

    account_policy("ann@example.org", &pol);
    ck_assert_int_eq(pol.source[AS_POL_DEVICE_PASSWORD_ENABLED], AS_SRC_BUILTIN);

    pol_level("example.org", 0, "DevicePasswordEnabled=on", "MinDevicePasswordLength=4");
    account_policy("ann@example.org", &pol);
    ck_assert_int_eq(pol.v.value[AS_POL_DEVICE_PASSWORD_ENABLED], 1);
    ck_assert_int_eq(pol.source[AS_POL_DEVICE_PASSWORD_ENABLED], AS_SRC_DOMAIN);
    ck_assert_int_eq(pol.v.value[AS_POL_MIN_PASSWORD_LENGTH], 4);

    pol_level("example.org/staff", 0, "MinDevicePasswordLength=8", NULL);
    account_policy("ann@example.org", &pol);
    ck_assert_int_eq(pol.v.value[AS_POL_MIN_PASSWORD_LENGTH], 8);
    ck_assert_int_eq(pol.source[AS_POL_MIN_PASSWORD_LENGTH], AS_SRC_CLASS);
    ck_assert_int_eq(pol.source[AS_POL_DEVICE_PASSWORD_ENABLED], AS_SRC_DOMAIN);

    pol_level("ann@example.org", 0, "MinDevicePasswordLength=12", "AllowCamera=off");
    account_policy("ann@example.org", &pol);
    ck_assert_int_eq(pol.v.value[AS_POL_MIN_PASSWORD_LENGTH], 12);
    ck_assert_int_eq(pol.source[AS_POL_MIN_PASSWORD_LENGTH], AS_SRC_ACCOUNT);
    ck_assert_int_eq(pol.v.value[AS_POL_ALLOW_CAMERA], 0);

    /* Another member of the class and a user without a record. */
    join_class("bob@example.org", "staff");
    account_policy("bob@example.org", &pol);
    ck_assert_int_eq(pol.v.value[AS_POL_MIN_PASSWORD_LENGTH], 8);
    account_policy("carl@example.org", &pol);
    ck_assert_int_eq(pol.v.value[AS_POL_MIN_PASSWORD_LENGTH], 4);
    ck_assert_int_eq(pol.source[AS_POL_MIN_PASSWORD_LENGTH], AS_SRC_DOMAIN);
    /* Unknown domain: built-in. */
    account_policy("x@elsewhere.org", &pol);
    ck_assert_int_eq(pol.source[AS_POL_DEVICE_PASSWORD_ENABLED], AS_SRC_BUILTIN);

    /* Unset walks back up. */
    pol_level("ann@example.org", 1, "MinDevicePasswordLength", NULL);
    account_policy("ann@example.org", &pol);
    ck_assert_int_eq(pol.v.value[AS_POL_MIN_PASSWORD_LENGTH], 8);
    ck_assert_int_eq(pol.source[AS_POL_MIN_PASSWORD_LENGTH], AS_SRC_CLASS);
    ck_assert_int_eq(pol.source[AS_POL_ALLOW_CAMERA], AS_SRC_ACCOUNT);

    /* Policy settings survive option edits and class changes, and an
     * account with only policy settings keeps its record. */
    {
        as_optedit_t oe;
        memset(&oe, 0, sizeof(oe));
        oe.unset_class = 1;
        ck_assert(as_svc_account_update(db, unit_pool, "ann@example.org", &oe, NULL, &err) ==
                  APR_SUCCESS);
    }
    ck_assert(as_svc_account_get(db, unit_pool, "ann@example.org", &a, &err) == APR_SUCCESS);
    ck_assert(a.has_record);
    ck_assert_ptr_nonnull(a.pol[AS_SRC_ACCOUNT]);
    as_policy_resolve_account(&a, &pol);
    ck_assert_int_eq(pol.v.value[AS_POL_MIN_PASSWORD_LENGTH], 4);
    pol_level("ann@example.org", 1, "AllowCamera", NULL);
    ck_assert(as_svc_account_get(db, unit_pool, "ann@example.org", &a, &err) == APR_SUCCESS);
    ck_assert(!a.has_record); /* nothing explicit left: record gone */
}
END_TEST

START_TEST(class_and_domain_views_carry_policy)
{
    const char *err = NULL;
    as_dir_class_t c;
    as_dir_domain_t d;
    apr_array_header_t *accts;

    ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
    ck_assert(as_dir_class_add(db, unit_pool, "example.org", "kids", &err) == APR_SUCCESS);
    pol_level("example.org", 0, "AllowBrowser=0", NULL);
    pol_level("example.org/kids", 0, "MaxEmailAgeFilter=2", NULL);
    ck_assert(as_dir_class_get(db, unit_pool, "example.org", "kids", &c, &err) == APR_SUCCESS);
    ck_assert(as_polset_has(c.pol, AS_POL_MAX_EMAIL_AGE_FILTER));
    ck_assert(as_polset_has(c.pol_domain, AS_POL_ALLOW_BROWSER));
    ck_assert(as_dir_domain_get(db, unit_pool, "example.org", &d, &err) == APR_SUCCESS);
    ck_assert(as_polset_has(d.pol, AS_POL_ALLOW_BROWSER));
    ck_assert(!as_polset_has(d.pol, AS_POL_MAX_EMAIL_AGE_FILTER));
    /* A class member that only has policy settings is listed; class remove
     * --force keeps its settings. */
    join_class("kid@example.org", "kids");
    pol_level("kid@example.org", 0, "AllowCamera=0", NULL);
    ck_assert(as_dir_class_remove(db, unit_pool, "example.org", "kids", 1, &err) == APR_SUCCESS);
    ck_assert(as_svc_account_list(db, unit_pool, "example.org", &accts, &err) == APR_SUCCESS);
    ck_assert_int_eq(accts->nelts, 1);
    ck_assert(as_polset_has(APR_ARRAY_IDX(accts, 0, as_dir_account_t).pol[AS_SRC_ACCOUNT],
                            AS_POL_ALLOW_CAMERA));
    /* Domain remove --force removes everything. */
    ck_assert(as_svc_domain_remove(db, unit_pool, "example.org", 1, &err) == APR_SUCCESS);
    ck_assert(as_svc_account_list(db, unit_pool, NULL, &accts, &err) == APR_SUCCESS);
    ck_assert_int_eq(accts->nelts, 0);
}
END_TEST

START_TEST(policy_edit_errors)
{
    as_poledit_t e;
    const char *err = NULL;
    as_optedit_t oe;
    static const char *const bad[] = {
        "NoSuch=1",
        "DevicePasswordEnabled=maybe",
        "MinDevicePasswordLength=0",
        "MinDevicePasswordLength=17",
        "MaxDevicePasswordFailedAttempts=3",
        "MaxCalendarAgeFilter=3", /* only 0, 4-7 */
        "MaxEmailAgeFilter=6",
        "DevicePasswordHistory=unlimited", /* no "unlimited" for it */
        "MaxEmailBodyTruncationSize=-2",
        "MaxAttachmentSize=12abc",
        "MaxAttachmentSize=99999999999",
        "AllowBluetooth=3",
        "ApprovedApplicationList=a,,b",
        "ApprovedApplicationList=a,",
        "=1",
        "DevicePasswordEnabled",
        NULL,
    };
    int i;

    for (i = 0; bad[i]; i++) {
        memset(&e, 0, sizeof(e));
        err = NULL;
        ck_assert_msg(as_poledit_parse_set(unit_pool, &e, bad[i], &err) == AS_DIR_EINVAL,
                      "accepted %s", bad[i]);
        ck_assert_msg(err && *err, "no message for %s", bad[i]);
    }
    memset(&e, 0, sizeof(e));
    ck_assert(as_poledit_parse_unset(unit_pool, &e, "AllowCamera=1", &err) == AS_DIR_EINVAL);
    ck_assert(as_poledit_parse_unset(unit_pool, &e, "Bogus", &err) == AS_DIR_EINVAL);
    /* Accepted forms. */
    memset(&e, 0, sizeof(e));
    ck_assert(as_poledit_parse_set(unit_pool, &e, "maxattachmentsize=unlimited", &err) == 0);
    ck_assert_int_eq(e.values.value[AS_POL_MAX_ATTACHMENT_SIZE], AS_POL_EMPTY);
    ck_assert(as_poledit_parse_set(unit_pool, &e, "MaxCalendarAgeFilter=6", &err) == 0);
    ck_assert(as_poledit_parse_set(unit_pool, &e, "AllowCamera=no", &err) == 0);
    ck_assert_int_eq(e.values.value[AS_POL_ALLOW_CAMERA], 0);
    ck_assert(as_poledit_parse_set(unit_pool, &e, "MaxEmailHTMLBodyTruncationSize=-1", &err) == 0);
    ck_assert(as_poledit_parse_set(unit_pool, &e, "ApprovedApplicationList= ab12 , cd34", &err) ==
              0);
    ck_assert_str_eq(e.values.list[1], "ab12,cd34");
    /* Unknown domain / class through the directory. */
    memset(&oe, 0, sizeof(oe));
    oe.policy = &e;
    ck_assert(as_dir_domain_update(db, unit_pool, "nowhere.org", &oe, &err) == AS_DIR_ENODOMAIN);
    ck_assert(as_svc_account_update(db, unit_pool, "a@nowhere.org", &oe, NULL, &err) ==
              AS_DIR_ENODOMAIN);
    ck_assert(strstr(err, "nowhere.org"));
}
END_TEST

START_TEST(encode_decode)
{
    as_polset_t s, d;
    unsigned char buf[AS_POLSET_ENC_MAX];
    size_t n;

    memset(&s, 0, sizeof(s));
    n = as_polset_encode(&s, buf);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(as_polset_decode(buf, n, &d), 0);
    ck_assert(as_polset_empty(&d));

    s.defined = (((apr_uint64_t)1) << AS_POL_COUNT) - 1;
    memcpy(s.value, as_policy_builtin()->value, sizeof(s.value));
    s.value[AS_POL_MAX_ATTACHMENT_SIZE] = 2147483647;
    memset(s.list[0], 'x', AS_POL_LIST_MAX);
    s.list[0][AS_POL_LIST_MAX] = '\0';
    strcpy(s.list[1], "h1,h2");
    n = as_polset_encode(&s, buf);
    ck_assert_uint_le(n, AS_POLSET_ENC_MAX);
    ck_assert_int_eq(as_polset_decode(buf, n, &d), 0);
    ck_assert(d.defined == s.defined);
    ck_assert(memcmp(d.value, s.value, sizeof(s.value)) == 0);
    ck_assert_str_eq(d.list[1], "h1,h2");
    ck_assert_uint_eq(strlen(d.list[0]), AS_POL_LIST_MAX);
    /* Corruptions. */
    ck_assert_int_eq(as_polset_decode(buf, n - 1, &d), AS_DB_ECORRUPT);
    ck_assert_int_eq(as_polset_decode(buf, 0, &d), AS_DB_ECORRUPT);
    {
        unsigned char b2[8] = {1, 200, 0, 0, 0, 1};
        ck_assert_int_eq(as_polset_decode(b2, 6, &d), AS_DB_ECORRUPT); /* bad index */
    }
    {
        unsigned char b3[] = {2, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0};
        ck_assert_int_eq(as_polset_decode(b3, sizeof(b3), &d), AS_DB_ECORRUPT); /* duplicate */
    }
}
END_TEST

/* ---- key ------------------------------------------------------------------------- */

START_TEST(key_changes_exactly_with_effective_policy)
{
    as_policy_t pol;
    apr_uint32_t k0, k;
    const char *err = NULL;

    ck_assert(as_dir_domain_add(db, unit_pool, "example.org", &err) == APR_SUCCESS);
    ck_assert(as_dir_class_add(db, unit_pool, "example.org", "staff", &err) == APR_SUCCESS);
    join_class("ann@example.org", "staff");
    account_policy("ann@example.org", &pol);
    k0 = as_policy_key(&pol, 42);
    ck_assert_uint_ne(k0, 0);
    ck_assert_uint_eq(as_policy_key(&pol, 42), k0); /* stable */
    ck_assert_uint_ne(as_policy_key(&pol, 43), k0); /* per device */

    /* Same value explicitly at the account: effective policy unchanged. */
    pol_level("ann@example.org", 0, "AllowCamera=on", NULL);
    account_policy("ann@example.org", &pol);
    ck_assert_int_eq(pol.source[AS_POL_ALLOW_CAMERA], AS_SRC_ACCOUNT);
    ck_assert_uint_eq(as_policy_key(&pol, 42), k0);

    /* A domain change hidden by the class: unchanged. */
    pol_level("example.org/staff", 0, "MaxEmailAgeFilter=3", NULL);
    account_policy("ann@example.org", &pol);
    k = as_policy_key(&pol, 42);
    ck_assert_uint_ne(k, k0); /* the class change itself is effective */
    k0 = k;
    pol_level("example.org", 0, "MaxEmailAgeFilter=5", NULL);
    account_policy("ann@example.org", &pol);
    ck_assert_uint_eq(as_policy_key(&pol, 42), k0);

    /* A domain change that reaches the account: changed; undoing it: back. */
    pol_level("example.org", 0, "DevicePasswordEnabled=1", NULL);
    account_policy("ann@example.org", &pol);
    k = as_policy_key(&pol, 42);
    ck_assert_uint_ne(k, k0);
    pol_level("example.org", 1, "DevicePasswordEnabled", NULL);
    account_policy("ann@example.org", &pol);
    ck_assert_uint_eq(as_policy_key(&pol, 42), k0);

    /* Lists count too. */
    pol_level("ann@example.org", 0, "UnapprovedInROMApplicationList=Game", NULL);
    account_policy("ann@example.org", &pol);
    ck_assert_uint_ne(as_policy_key(&pol, 42), k0);
}
END_TEST

/* ---- document ----------------------------------------------------------------------- */

static xmlDocPtr provision_doc(const as_policy_t *pol, const char *version)
{
    xmlNodePtr root, p;
    xmlDocPtr doc = as_reply_new("Provision:", "Provision", &root);
    as_xml_add(root, "Provision:", "Status", "1");
    p = as_xml_add(as_xml_add(root, "Provision:", "Policies", NULL), "Provision:", "Policy", NULL);
    as_xml_add(p, "Provision:", "PolicyType", "MS-EAS-Provisioning-WBXML");
    as_xml_add(p, "Provision:", "Status", "1");
    as_xml_add(p, "Provision:", "PolicyKey", "1234");
    ck_assert_ptr_nonnull(
        as_policy_add_doc(as_xml_add(p, "Provision:", "Data", NULL), pol, version));
    return doc;
}

START_TEST(document_order_and_versions)
{
    as_policy_t pol;
    as_polset_t acct;
    xmlDocPtr doc;
    int i;

    memset(&acct, 0, sizeof(acct));
    acct.defined = (((apr_uint64_t)1) << AS_POL_MIN_PASSWORD_LENGTH) |
                   (((apr_uint64_t)1) << AS_POL_APPROVED_APPS) |
                   (((apr_uint64_t)1) << AS_POL_MAX_EMAIL_BODY_TRUNCATION);
    acct.value[AS_POL_MIN_PASSWORD_LENGTH] = 6;
    acct.value[AS_POL_MAX_EMAIL_BODY_TRUNCATION] = 100;
    strcpy(acct.list[1], "0123abcd,4567ef00");
    as_policy_resolve(NULL, NULL, &acct, &pol);

    doc = provision_doc(&pol, "14.1");
    ck_assert_int_eq(xp_count(doc, "//p:EASProvisionDoc/*"), AS_POL_COUNT);
    for (i = 0; i < AS_POL_COUNT; i++) {
        ck_assert_str_eq(
            xp(doc, apr_psprintf(unit_pool, "local-name(//p:EASProvisionDoc/*[%d])", i + 1)),
            as_pol_name(i));
    }
    ck_assert_str_eq(xp(doc, "//p:MinDevicePasswordLength"), "6");
    ck_assert_str_eq(xp(doc, "//p:MaxAttachmentSize"), "");
    ck_assert_str_eq(xp(doc, "//p:AllowCamera"), "1");
    ck_assert_str_eq(xp(doc, "//p:MaxEmailBodyTruncationSize"), "100");
    ck_assert_int_eq(xp_count(doc, "//p:ApprovedApplicationList/p:Hash"), 2);
    ck_assert_str_eq(xp(doc, "//p:ApprovedApplicationList/p:Hash[2]"), "4567ef00");
    ck_assert_int_eq(xp_count(doc, "//p:UnapprovedInROMApplicationList/*"), 0);
    cmdtest_validate(doc);
    xmlFreeDoc(doc);

    doc = provision_doc(&pol, "12.0");
    ck_assert_int_eq(xp_count(doc, "//p:EASProvisionDoc/*"), 12);
    cmdtest_validate(doc);
    xmlFreeDoc(doc);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("policy");
    TCase *tc = tcase_create("policy");
    tcase_add_checked_fixture(tc, testdb_setup, testdb_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, builtin_is_exchange_default);
    tcase_add_test(tc, resolve_matrix_pure);
    tcase_add_test(tc, inheritance_through_directory);
    tcase_add_test(tc, class_and_domain_views_carry_policy);
    tcase_add_test(tc, policy_edit_errors);
    tcase_add_test(tc, encode_decode);
    tcase_add_test(tc, key_changes_exactly_with_effective_policy);
    tcase_add_test(tc, document_order_and_versions);
    suite_add_tcase(s, tc);
    return s;
}
