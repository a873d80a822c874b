/* Contacts: what a phone's Change must keep (a fourth e-mail, X-
 * properties, groups and labels, extra phones, the photo, the UID) and
 * what it removes, birthdays from phones in any time zone, and malformed
 * input (garbage, huge lines, deep nesting, invalid UTF-8). */
#include "contacttest.h"

/* ---- a phone's Change keeps what EAS does not carry ------------------------- */

static const char apple_vcard[] = "BEGIN:VCARD\r\n"
                                  "VERSION:3.0\r\n"
                                  "PRODID:-//Apple Inc.//iPhone OS 17.0//EN\r\n"
                                  "N:Appleseed;Johnny;;;\r\n"
                                  "FN:Johnny Appleseed\r\n"
                                  "ORG:Orchard Inc.;Sales;EMEA\r\n"
                                  "EMAIL;type=INTERNET;type=HOME;type=pref:one@example.com\r\n"
                                  "EMAIL;type=INTERNET;type=WORK:two@example.com\r\n"
                                  "item1.EMAIL;type=INTERNET:three@example.com\r\n"
                                  "item1.X-ABLabel:_$!<Other>!$_\r\n"
                                  "EMAIL;type=INTERNET:four@example.com\r\n"
                                  "EMAIL;type=INTERNET:five@example.com\r\n"
                                  "TEL;type=CELL;type=VOICE;type=pref:+49 151 1\r\n"
                                  "TEL;type=WORK;type=VOICE:+49 30 1\r\n"
                                  "TEL;type=WORK;type=VOICE:+49 30 2\r\n"
                                  "TEL;type=WORK;type=VOICE:+49 30 3\r\n"
                                  "TEL;type=ISDN:+49 30 9\r\n"
                                  "item2.TEL:+49 40 1\r\n"
                                  "item2.X-ABLabel:Summer house\r\n"
                                  "ADR;type=HOME:PO 7;App. 3;Hauptstr. 1;Berlin;;10115;Germany\r\n"
                                  "X-ABRELATEDNAMES;type=pref:Mama\r\n"
                                  "X-SOCIALPROFILE;type=twitter:https://twitter.com/johnny\r\n"
                                  "X-CUSTOM-THING;X-PARAM=1:keep me\r\n"
                                  "GEO:52.52;13.40\r\n"
                                  "NOTE:desktop note\r\n"
                                  "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD/\r\n"
                                  "UID:apple-uid-1\r\n"
                                  "REV:2020-01-01T00:00:00Z\r\n"
                                  "END:VCARD\r\n";

START_TEST(change_keeps_unknown)
{
    xmlNodePtr sent = to_eas(apple_vcard), change;
    char *stored;

    /* what the phone shows of it */
    ck_field(sent, NS_C, "Email3Address", "three@example.com");
    ck_assert_ptr_null(field(sent, NS_C, "Email4Address"));
    ck_field(sent, NS_C, "MobilePhoneNumber", "+49 151 1");
    ck_field(sent, NS_C, "HomePhoneNumber", "+49 40 1");
    ck_field(sent, NS_C, "Department", "Sales");
    ck_field(sent, NS_C, "HomeAddressStreet", "Hauptstr. 1");
    /* the phone changes the first e-mail and the mobile, drops the second
     * work phone, sends no Picture and no Body */
    change = new_app();
    {
        xmlNodePtr c;
        for (c = sent->children; c; c = c->next) {
            if (as_xml_is(c, NS_C, "Picture") || as_xml_is(c, NS_B, "Body") ||
                as_xml_is(c, NS_C, "Business2PhoneNumber")) {
                continue;
            }
            if (as_xml_is(c, NS_C, "Email1Address")) {
                as_xml_add(change, NS_C, "Email1Address", "\"Johnny\" <new@example.com>");
            } else if (as_xml_is(c, NS_C, "MobilePhoneNumber")) {
                as_xml_add(change, NS_C, "MobilePhoneNumber", "+49 151 999");
            } else {
                xmlAddChild(change, xmlCopyNode(c, 1));
            }
        }
    }
    stored = from_eas(change, apple_vcard);
    /* changed in place: group, parameters and place kept */
    ck_assert_ptr_nonnull(strstr(stored, "EMAIL;type=INTERNET,HOME,pref:new@example.com"));
    ck_assert_ptr_nonnull(strstr(stored, "TEL;type=CELL,VOICE,pref:+49 151 999"));
    ck_assert_ptr_null(strstr(stored, "one@example.com"));
    ck_assert_ptr_null(strstr(stored, "+49 30 2\r\n"));
    /* what EAS does not carry */
    ck_assert_ptr_nonnull(strstr(stored, "item1.EMAIL;type=INTERNET:three@example.com\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "item1.X-ABLabel:_$!<Other>!$_\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "four@example.com"));
    ck_assert_ptr_nonnull(strstr(stored, "five@example.com"));
    ck_assert_ptr_nonnull(strstr(stored, "+49 30 3"));
    ck_assert_ptr_nonnull(strstr(stored, "TEL;type=ISDN:+49 30 9"));
    ck_assert_ptr_nonnull(strstr(stored, "item2.TEL:+49 40 1\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "item2.X-ABLabel:Summer house"));
    ck_assert_ptr_nonnull(strstr(stored, "ORG:Orchard Inc.;Sales;EMEA\r\n"));
    ck_assert_ptr_nonnull(
        strstr(stored, "ADR;type=HOME:PO 7;App. 3;Hauptstr. 1;Berlin;;10115;Germany"));
    ck_assert_ptr_nonnull(strstr(stored, "X-ABRELATEDNAMES;type=pref:Mama"));
    ck_assert_ptr_nonnull(strstr(stored, "X-SOCIALPROFILE;type=twitter:"));
    ck_assert_ptr_nonnull(strstr(stored, "X-CUSTOM-THING;X-PARAM=1:keep me"));
    ck_assert_ptr_nonnull(strstr(stored, "GEO:52.52;13.40"));
    ck_assert_ptr_nonnull(strstr(stored, "PRODID:-//Apple Inc.//iPhone OS 17.0//EN"));
    /* Picture and Body not sent: the photo and the note stay */
    ck_assert_ptr_nonnull(strstr(stored, "/9j/4AAQSkZJRgABAQAAAQABAAD/"));
    ck_assert_ptr_nonnull(strstr(stored, "NOTE:desktop note"));
    /* the UID stays, REV is new, FN unchanged */
    ck_assert_ptr_nonnull(strstr(stored, "UID:apple-uid-1\r\n"));
    ck_assert_ptr_null(strstr(stored, "REV:2020"));
    ck_assert_ptr_nonnull(strstr(stored, "FN:Johnny Appleseed\r\n"));
    ck_assert_ptr_null(strstr(stored, "X-EVOLUTION-FILE-AS"));
    ck_assert_str_eq(codec->uid_of(stored, strlen(stored), unit_pool), "apple-uid-1");
    /* an empty Picture (iOS 8.2+) keeps it too; an empty Body removes the note */
    as_xml_add(change, NS_C, "Picture", NULL);
    add_body(change, "");
    stored = from_eas(change, apple_vcard);
    ck_assert_ptr_nonnull(strstr(stored, "/9j/4AAQSkZJRgABAQAAAQABAAD/"));
    ck_assert_ptr_null(strstr(stored, "NOTE"));
    /* fields EAS carries and the Change left out are removed */
    change = new_app();
    as_xml_add(change, NS_C, "FirstName", "Johnny");
    stored = from_eas(change, apple_vcard);
    ck_assert_ptr_null(strstr(stored, "+49 151"));
    ck_assert_ptr_null(strstr(stored, "Hauptstr"));
    ck_assert_ptr_nonnull(strstr(stored, "ADR;type=HOME:PO 7;App. 3;;;;;\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "four@example.com"));
    ck_assert_ptr_nonnull(strstr(stored, "N:;Johnny;;;\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "FN:Johnny\r\n"));
}
END_TEST

/* ---- birthdays ------------------------------------------------------------- */

static const char *bday_of(const char *eas, const char *old)
{
    static const char *const none[] = {NULL};
    xmlNodePtr app = phone_app(none);
    const char *stored, *b, *e;
    as_xml_add(app, NS_C, "FirstName", "B");
    as_xml_add(app, NS_C, "Birthday", eas);
    stored = from_eas(app, old);
    b = strstr(stored, "BDAY");
    ck_assert_ptr_nonnull(b);
    b = strchr(b, ':') + 1;
    e = strstr(b, "\r\n");
    return apr_pstrmemdup(unit_pool, b, (apr_size_t)(e - b));
}

START_TEST(birthdays_any_zone)
{
    static const char old[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nN:;B;;;\r\nFN:B\r\n"
                              "BDAY:1980-05-12\r\nEND:VCARD\r\n";
    /* the forms phones send for 12 May 1980 */
    static const char *const forms[] = {
        "1980-05-12T00:00:00.000Z", /* iOS, Samsung, this server */
        "1980-05-12T08:00:00.000Z", /* AOSP */
        "1980-05-11T22:00:00.000Z", /* Europe/Berlin in summer (UTC+2) */
        "1980-05-11T23:00:00Z",     /* UTC+1 */
        "1980-05-12T05:00:00.000Z", /* UTC-5 */
        "1980-05-12T10:00:00.000Z", /* UTC-10 */
        "1980-05-11T11:00:00.000Z", /* UTC+13 */
        "19800512T000000Z",         /* compact */
        "1980-05-12",               /* date only (WP, Gmail) */
        NULL,
    };
    int i;
    for (i = 0; forms[i]; i++) {
        ck_assert_msg(!strcmp(bday_of(forms[i], NULL), "1980-05-12"), "%s -> %s", forms[i],
                      bday_of(forms[i], NULL));
        ck_assert_str_eq(bday_of(forms[i], old), "1980-05-12");
    }
    /* UTC+14 and UTC-12 share hours of the day with UTC-10 and UTC+12: the
     * stored date decides */
    ck_assert_str_eq(bday_of("1980-05-11T10:00:00.000Z", old), "1980-05-12"); /* UTC+14 */
    ck_assert_str_eq(bday_of("1980-05-12T12:00:00.000Z", old), "1980-05-12"); /* UTC-12 */
    ck_assert_str_eq(bday_of("1980-05-11T12:00:00.000Z", old), "1980-05-12"); /* UTC+12 */
    ck_assert_str_eq(bday_of("1980-05-12T11:00:00.000Z", old), "1980-05-12"); /* UTC-11 */
    /* a month and a year ahead */
    ck_assert_str_eq(bday_of("1999-12-31T22:00:00.000Z", NULL), "2000-01-01");
    ck_assert_str_eq(bday_of("2000-02-28T23:00:00.000Z", NULL), "2000-02-29");
    /* a broken date keeps the stored one; none at all in an Add */
    ck_assert_str_eq(bday_of("garbage", old), "1980-05-12");
    ck_assert_str_eq(bday_of("1980-13-45T00:00:00Z", old), "1980-05-12");
    /* and out: the date at 00:00 UTC whatever the vCard wrote */
    ck_field(to_eas("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nBDAY:19800512\r\nEND:VCARD\r\n"), NS_C,
             "Birthday", "1980-05-12T00:00:00.000Z");
    ck_field(to_eas("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nBDAY:1980-05-12T23:30:00-05:00\r\n"
                    "END:VCARD\r\n"),
             NS_C, "Birthday", "1980-05-12T00:00:00.000Z");
    ck_assert_ptr_null(
        field(to_eas("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nBDAY:soon\r\nEND:VCARD\r\n"), NS_C,
              "Birthday"));
}
END_TEST

/* ---- malformed input ------------------------------------------------------------- */

/* to_eas of data: APR_EINVAL, or a clean conversion whose Change works. */
static apr_status_t survive(const char *data, apr_size_t len)
{
    xmlNodePtr app = new_app();
    apr_status_t rv = codec->to_eas(data, len, NULL, app, unit_pool);
    if (rv == APR_SUCCESS) {
        char *out = NULL;
        apr_size_t outlen = 0;
        assert_clean(app);
        ck_assert_int_eq(codec->from_eas(app, 161, data, len, NULL, unit_pool, &out, &outlen),
                         APR_SUCCESS);
        ck_assert_ptr_nonnull(strstr(out, "BEGIN:VCARD"));
        ck_assert_ptr_nonnull(codec->uid_of(out, outlen, unit_pool)); /* it reads again */
    } else {
        ck_assert_int_eq(rv, APR_EINVAL);
    }
    (void)codec->uid_of(data, len, unit_pool);
    return rv;
}

START_TEST(malformed_input)
{
    static const char bad_utf8[] = "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:a\xff\xfe\xc3(b\x01\x1b"
                                   "c\xed\xa0\x80\r\nN:\xc0\xaf;x;;;\r\nNOTE:\xf4\x90\x80\x80z\r\n"
                                   "EMAIL:\x80@x\r\nEND:VCARD\r\n";
    char *big;
    size_t i, n;
    xmlNodePtr app;

    ck_assert_int_eq(survive("", 0), APR_EINVAL);
    ck_assert_int_eq(survive("garbage", 7), APR_EINVAL);
    ck_assert_int_eq(survive("BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 31), APR_EINVAL);
    ck_assert_ptr_null(codec->uid_of("garbage", 7, unit_pool));
    survive("BEGIN:VCARD", 11);
    survive("BEGIN:VCARD\r\n:::;;;\r\n;;;:\r\nX-\r\n\r\nEND:VCARD\r\n", 40);
    survive("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:a\0hidden\r\nEND:VCARD\r\n", 49);
    ck_assert_int_eq(survive(bad_utf8, sizeof bad_utf8 - 1), APR_SUCCESS);
    /* parameters EVCard would write in a form it cannot read back */
    {
        static const char params[] = "BEGIN:VCARD\r\nVERSION:2.1\r\nN;VERSION:2.1\r\n"
                                     "FN;Q[OTED=J:C3=B6rg\r\nTEL;X=\"a\x01\":1\r\nEND:VCARD\r\n";
        ck_assert_int_eq(survive(params, sizeof params - 1), APR_SUCCESS);
    }
    /* a 4 MB line, 200,000 components, 100,000 parameters, 50,000 phones */
    n = 4 * 1024 * 1024;
    big = malloc(n + 200);
    ck_assert_ptr_nonnull(big);
    strcpy(big, "BEGIN:VCARD\r\nVERSION:3.0\r\nNOTE:");
    i = strlen(big);
    memset(big + i, 'x', n);
    strcpy(big + i + n, "\r\nEND:VCARD\r\n");
    ck_assert_int_eq(survive(big, strlen(big)), APR_SUCCESS);
    memset(big + i, ';', n / 20);
    memcpy(big, "BEGIN:VCARD\r\nVERSION:3.0\r\nADR  :", i);
    strcpy(big + i + n / 20, "\r\nEND:VCARD\r\n");
    survive(big, strlen(big));
    strcpy(big, "BEGIN:VCARD\r\nVERSION:3.0\r\nTEL");
    for (i = 0; i < 100000; i++) {
        strcat(big + strlen(big) - 3, ";T=\"a,b\"");
        if (strlen(big) > n - 100) {
            break;
        }
    }
    strcat(big, ":1\r\nEND:VCARD\r\n");
    survive(big, strlen(big));
    strcpy(big, "BEGIN:VCARD\r\nVERSION:3.0\r\n");
    for (i = 0; i < 50000; i++) {
        strcpy(big + strlen(big), "TEL;TYPE=WORK:+1 555 0101\r\n");
    }
    strcat(big, "END:VCARD\r\n");
    app = new_app();
    ck_assert_int_eq(codec->to_eas(big, strlen(big), NULL, app, unit_pool), APR_SUCCESS);
    ck_field(app, NS_C, "Business2PhoneNumber", "+1 555 0101");
    free(big);
    /* larger than any item: refused unread */
    big = calloc(1, 17 * 1024 * 1024);
    ck_assert_ptr_nonnull(big);
    memcpy(big, "BEGIN:VCARD\r\n", 13);
    ck_assert_int_eq(codec->to_eas(big, 17 * 1024 * 1024, NULL, new_app(), unit_pool), APR_EINVAL);
    free(big);
    /* a phone's text with controls and broken UTF-8 is stored clean */
    app = new_app();
    as_xml_add(app, NS_C, "FirstName", "A\x01\x02");
    as_xml_add(app, NS_C, "Birthday", "99999-99-99T99:99:99Z");
    as_xml_add(app, NS_C, "Anniversary", "");
    as_xml_add(app, NS_C, "Picture", "!!!not base64!!!");
    assert_clean(to_eas(from_eas(app, NULL)));
    /* an empty UID is replaced */
    app = new_app();
    as_xml_add(app, NS_C, "FirstName", "u");
    {
        const char *v =
            from_eas(app, "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:\r\nFN:u\r\nEND:VCARD\r\n");
        ck_assert_str_eq(codec->uid_of(v, strlen(v), unit_pool), "uid-new");
    }
    /* two children in one group share its label: removing both removes it once */
    app = new_app();
    as_xml_add(app, NS_C, "FirstName", "k");
    {
        const char *v = from_eas(app, "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:k\r\n"
                                      "item3.X-ABRELATEDNAMES:A\r\nitem3.X-ABRELATEDNAMES:B\r\n"
                                      "item3.X-ABLabel:_$!<Child>!$_\r\nEND:VCARD\r\n");
        ck_assert_ptr_null(strstr(v, "item3."));
    }
    /* no ApplicationData at all */
    {
        char *out;
        apr_size_t len;
        ck_assert_int_eq(codec->from_eas(NULL, 161, NULL, 0, NULL, unit_pool, &out, &len),
                         APR_EINVAL);
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("contact_change");
    TCase *tc = tcase_create("contact_change");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, change_keeps_unknown);
    tcase_add_test(tc, birthdays_any_zone);
    tcase_add_test(tc, malformed_input);
    suite_add_tcase(s, tc);
    return s;
}
