/* Contacts (as_item_codec(AS_CLASS_CONTACTS)): every EAS field from a
 * vCard 3.0, the round trip EAS -> vCard -> EAS, e-mail forms, vCard 2.1
 * quoted-printable and 4.0 input, the Picture limit, the Body, and a Sync
 * reply validated against the EAS schemas.  A phone's Change, birthdays
 * and malformed input: test_contact_change.c. */
#include "contacttest.h"

static const char full_vcard[] = "BEGIN:VCARD\r\n"
                                 "VERSION:3.0\r\n"
                                 "UID:full-1\r\n"
                                 "FN:Dr. Jane Q. Doe Jr.\r\n"
                                 "X-EVOLUTION-FILE-AS:Doe\\, Jane\r\n"
                                 "N:Doe;Jane;Quincy;Dr.;Jr.\r\n"
                                 "NICKNAME:JJ\r\n"
                                 "X-PHONETIC-FIRST-NAME:Jein\r\n"
                                 "X-PHONETIC-LAST-NAME:Dou\r\n"
                                 "X-PHONETIC-ORG:Akume\r\n"
                                 "ORG:Acme Corp;Research\r\n"
                                 "TITLE:Chief Scientist\r\n"
                                 "X-EVOLUTION-OFFICE:B2-104\r\n"
                                 "X-EVOLUTION-MANAGER:Max Boss\r\n"
                                 "X-EVOLUTION-ASSISTANT:Ann Helper\r\n"
                                 "X-EVOLUTION-SPOUSE:John Doe\r\n"
                                 "X-CHILD:Kid One\r\n"
                                 "X-CHILD:Kid Two\r\n"
                                 "EMAIL;TYPE=INTERNET,WORK:jane@acme.example\r\n"
                                 "EMAIL;TYPE=INTERNET,HOME:jane@home.example\r\n"
                                 "EMAIL;TYPE=INTERNET:jq@other.example\r\n"
                                 "IMPP:xmpp:jane@jabber.example\r\n"
                                 "X-SKYPE:jane.doe\r\n"
                                 "IMPP:x-apple:janedoe\r\n"
                                 "TEL;TYPE=WORK,VOICE:+1 555 0101\r\n"
                                 "TEL;TYPE=WORK,VOICE:+1 555 0102\r\n"
                                 "TEL;TYPE=HOME,VOICE:+1 555 0201\r\n"
                                 "TEL;TYPE=HOME:+1 555 0202\r\n"
                                 "TEL;TYPE=CELL:+1 555 0301\r\n"
                                 "TEL;TYPE=CAR:+1 555 0401\r\n"
                                 "TEL;TYPE=PAGER:+1 555 0501\r\n"
                                 "TEL;TYPE=X-EVOLUTION-RADIO:+1 555 0601\r\n"
                                 "TEL;TYPE=WORK,FAX:+1 555 0701\r\n"
                                 "TEL;TYPE=HOME,FAX:+1 555 0801\r\n"
                                 "TEL;TYPE=X-EVOLUTION-ASSISTANT:+1 555 0901\r\n"
                                 "TEL;TYPE=X-EVOLUTION-COMPANY:+1 555 1001\r\n"
                                 "TEL;TYPE=X-MMS:+1 555 1101\r\n"
                                 "ADR;TYPE=WORK:;;1 Acme Way\\nFloor 3;Springfield;IL;62701;USA\r\n"
                                 "ADR;TYPE=HOME:;;12 Elm St;Shelbyville;IL;62565;USA\r\n"
                                 "ADR;TYPE=OTHER:;;Lake House;Lakeside;WI;53000;USA\r\n"
                                 "BDAY:1980-05-12\r\n"
                                 "X-EVOLUTION-ANNIVERSARY:2005-09-03\r\n"
                                 "URL:https://jane.example/\r\n"
                                 "CATEGORIES:Work,VIP\r\n"
                                 "X-EAS-CUSTOMER-ID:C-42\r\n"
                                 "X-EAS-GOVERNMENT-ID:G-7\r\n"
                                 "X-EAS-ACCOUNT-NAME:jdoe\r\n"
                                 "NOTE:First line\\nSecond line\r\n"
                                 "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQ==\r\n"
                                 "END:VCARD\r\n";

START_TEST(vcard_to_every_field)
{
    xmlNodePtr app = to_eas(full_vcard), body;

    ck_field(app, NS_C, "FileAs", "Doe, Jane");
    ck_field(app, NS_C, "FirstName", "Jane");
    ck_field(app, NS_C, "MiddleName", "Quincy");
    ck_field(app, NS_C, "LastName", "Doe");
    ck_field(app, NS_C, "Title", "Dr.");
    ck_field(app, NS_C, "Suffix", "Jr.");
    ck_field(app, NS_C2, "NickName", "JJ");
    ck_field(app, NS_C, "YomiFirstName", "Jein");
    ck_field(app, NS_C, "YomiLastName", "Dou");
    ck_field(app, NS_C, "YomiCompanyName", "Akume");
    ck_field(app, NS_C, "CompanyName", "Acme Corp");
    ck_field(app, NS_C, "Department", "Research");
    ck_field(app, NS_C, "JobTitle", "Chief Scientist");
    ck_field(app, NS_C, "OfficeLocation", "B2-104");
    ck_field(app, NS_C2, "ManagerName", "Max Boss");
    ck_field(app, NS_C, "AssistantName", "Ann Helper");
    ck_field(app, NS_C, "Spouse", "John Doe");
    ck_assert_str_eq(list(app, NS_C, "Children"), "Kid One|Kid Two");
    ck_field(app, NS_C, "Email1Address", "jane@acme.example");
    ck_field(app, NS_C, "Email2Address", "jane@home.example");
    ck_field(app, NS_C, "Email3Address", "jq@other.example");
    ck_field(app, NS_C2, "IMAddress", "xmpp:jane@jabber.example");
    ck_field(app, NS_C2, "IMAddress2", "jane.doe");
    ck_field(app, NS_C2, "IMAddress3", "janedoe");
    ck_field(app, NS_C, "BusinessPhoneNumber", "+1 555 0101");
    ck_field(app, NS_C, "Business2PhoneNumber", "+1 555 0102");
    ck_field(app, NS_C, "HomePhoneNumber", "+1 555 0201");
    ck_field(app, NS_C, "Home2PhoneNumber", "+1 555 0202");
    ck_field(app, NS_C, "MobilePhoneNumber", "+1 555 0301");
    ck_field(app, NS_C, "CarPhoneNumber", "+1 555 0401");
    ck_field(app, NS_C, "PagerNumber", "+1 555 0501");
    ck_field(app, NS_C, "RadioPhoneNumber", "+1 555 0601");
    ck_field(app, NS_C, "BusinessFaxNumber", "+1 555 0701");
    ck_field(app, NS_C, "HomeFaxNumber", "+1 555 0801");
    ck_field(app, NS_C, "AssistantPhoneNumber", "+1 555 0901");
    ck_field(app, NS_C2, "CompanyMainPhone", "+1 555 1001");
    ck_field(app, NS_C2, "MMS", "+1 555 1101");
    ck_field(app, NS_C, "BusinessAddressStreet", "1 Acme Way\nFloor 3");
    ck_field(app, NS_C, "BusinessAddressCity", "Springfield");
    ck_field(app, NS_C, "BusinessAddressState", "IL");
    ck_field(app, NS_C, "BusinessAddressPostalCode", "62701");
    ck_field(app, NS_C, "BusinessAddressCountry", "USA");
    ck_field(app, NS_C, "HomeAddressStreet", "12 Elm St");
    ck_field(app, NS_C, "HomeAddressCity", "Shelbyville");
    ck_field(app, NS_C, "OtherAddressStreet", "Lake House");
    ck_field(app, NS_C, "OtherAddressCountry", "USA");
    ck_field(app, NS_C, "Birthday", "1980-05-12T00:00:00.000Z");
    ck_field(app, NS_C, "Anniversary", "2005-09-03T00:00:00.000Z");
    ck_field(app, NS_C, "WebPage", "https://jane.example/");
    ck_assert_str_eq(list(app, NS_C, "Categories"), "Work|VIP");
    ck_field(app, NS_C2, "CustomerId", "C-42");
    ck_field(app, NS_C2, "GovernmentId", "G-7");
    ck_field(app, NS_C2, "AccountName", "jdoe");
    ck_field(app, NS_C, "Picture", "/9j/4AAQSkZJRgABAQ==");
    body = as_xml_child(app, NS_B, "Body");
    ck_assert_ptr_nonnull(body);
    ck_field(body, NS_B, "Type", "1");
    ck_field(body, NS_B, "Data", "First line\r\nSecond line");
    ck_field(body, NS_B, "Truncated", "0");
    ck_field(body, NS_B, "EstimatedDataSize", "23");
    /* the UID is the item's */
    ck_assert_str_eq(codec->uid_of(full_vcard, strlen(full_vcard), unit_pool), "full-1");
}
END_TEST

/* clang-format off */
static const char *const every_field[] = {
    NS_C, "FileAs", "Doe, Jane",
    NS_C, "FirstName", "Jane",
    NS_C, "MiddleName", "Q",
    NS_C, "LastName", "Doe",
    NS_C, "Title", "Dr.",
    NS_C, "Suffix", "Jr.",
    NS_C, "YomiFirstName", "Jein",
    NS_C, "YomiLastName", "Dou",
    NS_C, "YomiCompanyName", "Akume",
    NS_C2, "NickName", "JJ",
    NS_C, "CompanyName", "Acme; Corp",
    NS_C, "Department", "R&D, Labs",
    NS_C, "JobTitle", "Chief",
    NS_C, "OfficeLocation", "B2",
    NS_C2, "ManagerName", "Max",
    NS_C, "AssistantName", "Ann",
    NS_C, "Spouse", "John",
    NS_C, "WebPage", "https://j.example/",
    NS_C, "Email1Address", "jane@acme.example",
    NS_C, "Email2Address", "j2@x.example",
    NS_C, "Email3Address", "j3@x.example",
    NS_C2, "IMAddress", "jane@jabber.example",
    NS_C2, "IMAddress2", "xmpp:j2@jabber.example",
    NS_C2, "IMAddress3", "skype-jane",
    NS_C, "BusinessPhoneNumber", "101",
    NS_C, "Business2PhoneNumber", "102",
    NS_C, "HomePhoneNumber", "201",
    NS_C, "Home2PhoneNumber", "202",
    NS_C, "MobilePhoneNumber", "301",
    NS_C, "CarPhoneNumber", "401",
    NS_C, "PagerNumber", "501",
    NS_C, "RadioPhoneNumber", "601",
    NS_C, "BusinessFaxNumber", "701",
    NS_C, "HomeFaxNumber", "801",
    NS_C, "AssistantPhoneNumber", "901",
    NS_C2, "CompanyMainPhone", "1001",
    NS_C2, "MMS", "1101",
    NS_C, "BusinessAddressStreet", "1 Way\nFloor 3",
    NS_C, "BusinessAddressCity", "Springfield",
    NS_C, "BusinessAddressState", "IL",
    NS_C, "BusinessAddressPostalCode", "62701",
    NS_C, "BusinessAddressCountry", "USA",
    NS_C, "HomeAddressStreet", "12 Elm St",
    NS_C, "HomeAddressCity", "Shelbyville",
    NS_C, "HomeAddressState", "IL",
    NS_C, "HomeAddressPostalCode", "62565",
    NS_C, "HomeAddressCountry", "USA",
    NS_C, "OtherAddressStreet", "Lake",
    NS_C, "OtherAddressCity", "Lakeside",
    NS_C, "OtherAddressState", "WI",
    NS_C, "OtherAddressPostalCode", "53000",
    NS_C, "OtherAddressCountry", "USA",
    NS_C, "Birthday", "1980-05-12T00:00:00.000Z",
    NS_C, "Anniversary", "2005-09-03T00:00:00.000Z",
    NS_C2, "CustomerId", "C-42",
    NS_C2, "GovernmentId", "G-7",
    NS_C2, "AccountName", "jdoe",
    NS_C, "Picture", "/9j/4AAQSkZJRgABAQ==",
    NULL,
};
/* clang-format on */

START_TEST(eas_round_trip_identity)
{
    xmlNodePtr in = phone_app(every_field), out;
    char *vcard;

    add_list(in, "Categories", "Category", "Work", "V,I;P");
    add_list(in, "Children", "Child", "Kid One", "Kid Two");
    add_body(in, "Line one\r\nLine \\two; three");
    vcard = from_eas(in, NULL);
    ck_assert_ptr_nonnull(strstr(vcard, "VERSION:3.0\r\n"));
    ck_assert_ptr_nonnull(strstr(vcard, "UID:uid-new\r\n"));
    ck_assert_ptr_nonnull(strstr(vcard, "FN:Dr. Jane Q Doe Jr.\r\n"));
    ck_assert_ptr_nonnull(strstr(vcard, "BDAY:1980-05-12\r\n"));
    out = to_eas(vcard);
    ck_assert_str_eq(sorted(out), sorted(in));
    /* and once more through a Change of the stored vCard: nothing moves */
    ck_assert_str_eq(sorted(to_eas(from_eas(out, vcard))), sorted(in));
}
END_TEST

START_TEST(email_forms)
{
    static const char *const f[] = {
        NS_C, "Email1Address", "\"Doe, Jane\" <jane@acme.example>",
        NS_C, "Email2Address", "Jane <j2@acme.example>",
        NS_C, "Email3Address", " j3@acme.example",
        NULL,
    };
    xmlNodePtr out = to_eas(from_eas(phone_app(f), NULL));
    ck_field(out, NS_C, "Email1Address", "jane@acme.example");
    ck_field(out, NS_C, "Email2Address", "j2@acme.example");
    ck_field(out, NS_C, "Email3Address", "j3@acme.example");
    /* no names at all: FN from the first address, FileAs absent */
    ck_field(out, NS_C, "FileAs", "jane@acme.example");
}
END_TEST

/* ---- vCard 2.1 and 4.0 ------------------------------------------------------- */

START_TEST(vcard21_quoted_printable)
{
    static const char v21[] =
        "BEGIN:VCARD\r\n"
        "VERSION:2.1\r\n"
        "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=B6rg;;;\r\n"
        "FN;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:J=C3=B6rg M=C3=BCller\r\n"
        "TEL;WORK;VOICE:+49 30 123\r\n"
        "TEL;CELL:+49 151 456\r\n"
        "TEL;HOME;FAX:+49 30 789\r\n"
        "EMAIL;INTERNET;PREF:joerg@example.de\r\n"
        "ADR;HOME;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:;;Stra=C3=9Fe 1;K=C3=B6ln;;50667;\r\n"
        "NOTE;ENCODING=QUOTED-PRINTABLE:Zeile 1=0D=0AZeile 2 mit einem sehr langen Text, der =\r\n"
        "umbrochen ist\r\n"
        "PHOTO;ENCODING=BASE64;TYPE=JPEG:\r\n"
        " /9j/4AAQSkZJ\r\n"
        " RgABAQ==\r\n"
        "\r\n"
        "END:VCARD\r\n";
    xmlNodePtr app = to_eas(v21);

    ck_field(app, NS_C, "LastName", "M\xc3\xbcller");
    ck_field(app, NS_C, "FirstName", "J\xc3\xb6rg");
    ck_field(app, NS_C, "FileAs", "J\xc3\xb6rg M\xc3\xbcller");
    ck_field(app, NS_C, "BusinessPhoneNumber", "+49 30 123");
    ck_field(app, NS_C, "MobilePhoneNumber", "+49 151 456");
    ck_field(app, NS_C, "HomeFaxNumber", "+49 30 789");
    ck_field(app, NS_C, "Email1Address", "joerg@example.de");
    ck_field(app, NS_C, "HomeAddressStreet",
             "Stra\xc3\x9f"
             "e 1");
    ck_field(app, NS_C, "HomeAddressCity", "K\xc3\xb6ln");
    ck_field(as_xml_child(app, NS_B, "Body"), NS_B, "Data",
             "Zeile 1\r\nZeile 2 mit einem sehr langen Text, der umbrochen ist");
    ck_field(app, NS_C, "Picture", "/9j/4AAQSkZJRgABAQ==");
    /* a Change writes 3.0, in UTF-8 without CHARSET or quoted-printable */
    {
        const char *v = from_eas(app, v21);
        ck_assert_ptr_nonnull(strstr(v, "VERSION:3.0\r\n"));
        ck_assert_ptr_nonnull(strstr(v, "\r\nN:M\xc3\xbcller;J\xc3\xb6rg;;;\r\n"));
        ck_assert_ptr_null(strstr(v, "CHARSET"));
        ck_assert_ptr_null(strstr(v, "QUOTED-PRINTABLE"));
    }
    /* ISO-8859-1 quoted-printable, as old phones export */
    app = to_eas("BEGIN:VCARD\r\nVERSION:2.1\r\nN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:"
                 "M=FCller;J=F6rg\r\nEND:VCARD\r\n");
    ck_field(app, NS_C, "LastName", "M\xc3\xbcller");
    ck_field(app, NS_C, "FirstName", "J\xc3\xb6rg");
}
END_TEST

START_TEST(vcard40)
{
    static const char v40[] = "BEGIN:VCARD\r\n"
                              "VERSION:4.0\r\n"
                              "KIND:individual\r\n"
                              "FN:Ana Lima\r\n"
                              "N:Lima;Ana;;;\r\n"
                              "TEL;VALUE=uri;TYPE=\"cell,voice\":tel:+55-11-5555-0100\r\n"
                              "TEL;VALUE=uri;TYPE=work:tel:+55-11-5555-0200\r\n"
                              "BDAY:--0512\r\n"
                              "ANNIVERSARY:20100619\r\n"
                              "RELATED;TYPE=spouse;VALUE=text:Rui Lima\r\n"
                              "RELATED;TYPE=child;VALUE=text:Bia Lima\r\n"
                              "PHOTO:data:image/jpeg;base64,/9j/4AAQSkZJRgABAQ==\r\n"
                              "GENDER:F\r\n"
                              "END:VCARD\r\n";
    xmlNodePtr app = to_eas(v40);
    char *stored;

    ck_field(app, NS_C, "MobilePhoneNumber", "+55-11-5555-0100");
    ck_field(app, NS_C, "BusinessPhoneNumber", "+55-11-5555-0200");
    ck_field(app, NS_C, "Birthday", "1604-05-12T00:00:00.000Z");
    ck_field(app, NS_C, "Anniversary", "2010-06-19T00:00:00.000Z");
    ck_field(app, NS_C, "Spouse", "Rui Lima");
    ck_assert_str_eq(list(app, NS_C, "Children"), "Bia Lima");
    ck_field(app, NS_C, "Picture", "/9j/4AAQSkZJRgABAQ==");
    /* a Change without Picture: the photo is kept, rewritten as 3.0 data */
    {
        xmlNodePtr pic = as_xml_child(app, NS_C, "Picture");
        xmlUnlinkNode(pic);
        xmlFreeNode(pic);
    }
    stored = from_eas(app, v40);
    ck_assert_ptr_nonnull(strstr(stored, "PHOTO;TYPE=JPEG;ENCODING=b:/9j/4AAQSkZJRgABAQ==\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "GENDER:F"));
    ck_assert_ptr_nonnull(strstr(stored, "BDAY;X-APPLE-OMIT-YEAR=1604:1604-05-12"));
    ck_assert_ptr_nonnull(strstr(stored, "TEL;TYPE=\"cell,voice\":+55-11-5555-0100"));
    as_xml_add(app, NS_C, "Picture", "/9j/4AAQSkZJRgABAQ==");
    ck_assert_str_eq(sorted(to_eas(stored)), sorted(app));
}
END_TEST

START_TEST(labelled_relations)
{
    static const char google[] = "BEGIN:VCARD\r\n"
                                 "VERSION:3.0\r\n"
                                 "FN:Grace Hopper\r\n"
                                 "N:Hopper;Grace;;;\r\n"
                                 "item1.X-ABDATE:1930-06-15\r\n"
                                 "item1.X-ABLabel:_$!<Anniversary>!$_\r\n"
                                 "item2.X-ABRELATEDNAMES:Vincent Hopper\r\n"
                                 "item2.X-ABLabel:_$!<Spouse>!$_\r\n"
                                 "item3.X-ABRELATEDNAMES:Kid A\r\n"
                                 "item3.X-ABLabel:_$!<Child>!$_\r\n"
                                 "item4.X-ABRELATEDNAMES:Kid B\r\n"
                                 "item4.X-ABLabel:Child\r\n"
                                 "item5.X-ABRELATEDNAMES:Walter\r\n"
                                 "item5.X-ABLabel:_$!<Friend>!$_\r\n"
                                 "item6.X-ABDATE:2000-01-01\r\n"
                                 "item6.X-ABLabel:first met\r\n"
                                 "END:VCARD\r\n";
    xmlNodePtr app = to_eas(google), kids;
    char *stored;

    ck_field(app, NS_C, "Anniversary", "1930-06-15T00:00:00.000Z");
    ck_field(app, NS_C, "Spouse", "Vincent Hopper");
    ck_assert_str_eq(list(app, NS_C, "Children"), "Kid A|Kid B");
    /* the phone renames the spouse and drops the second child */
    xmlNodeSetContent(as_xml_child(app, NS_C, "Spouse"), BAD_CAST "Vince Hopper");
    kids = as_xml_child(app, NS_C, "Children");
    kids = xmlGetLastChild(kids);
    xmlUnlinkNode(kids);
    xmlFreeNode(kids);
    stored = from_eas(app, google);
    ck_assert_ptr_nonnull(strstr(stored, "item2.X-ABRELATEDNAMES:Vince Hopper\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "item2.X-ABLabel:_$!<Spouse>!$_\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "item3.X-ABRELATEDNAMES:Kid A\r\n"));
    ck_assert_ptr_null(strstr(stored, "Kid B"));
    ck_assert_ptr_null(strstr(stored, "item4."));
    ck_assert_ptr_nonnull(strstr(stored, "item1.X-ABDATE:1930-06-15\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "item5.X-ABRELATEDNAMES:Walter\r\n"));
    ck_assert_ptr_nonnull(strstr(stored, "item6.X-ABDATE:2000-01-01\r\n"));
    ck_assert_str_eq(sorted(to_eas(stored)), sorted(app));
}
END_TEST

/* ---- Picture and Body ---------------------------------------------------------- */

static const char *photo_vcard(const char *b64)
{
    return apr_pstrcat(unit_pool,
                       "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:p\r\nPHOTO;ENCODING=b;TYPE=JPEG:", b64,
                       "\r\nEND:VCARD\r\n", NULL);
}

START_TEST(picture_limit)
{
    /* 36864 bytes -> 49152 base64 characters: the most MS-ASCNTC allows */
    const char *fits = picture_b64(36864), *over = picture_b64(36867);
    xmlNodePtr app;
    char *huge, *out = NULL;
    apr_size_t len;

    ck_assert_uint_eq(strlen(fits), 49152);
    ck_field(to_eas(photo_vcard(fits)), NS_C, "Picture", fits);
    /* larger: not sent at all (never truncated), and kept on a Change */
    app = to_eas(photo_vcard(over));
    ck_assert_ptr_null(field(app, NS_C, "Picture"));
    ck_assert_ptr_nonnull(strstr(unfold(from_eas(app, photo_vcard(over))), over));
    /* from the phone: stored up to 1 MB of base64, refused above */
    app = new_app();
    as_xml_add(app, NS_C, "FirstName", "p");
    as_xml_add(app, NS_C, "Picture", over);
    ck_assert_ptr_nonnull(strstr(unfold(from_eas(app, NULL)), over));
    huge = apr_pstrdup(unit_pool, picture_b64(1024 * 1024));
    app = new_app();
    as_xml_add(app, NS_C, "Picture", huge);
    ck_assert_int_eq(codec->from_eas(app, 161, NULL, 0, NULL, unit_pool, &out, &len), APR_EINVAL);
}
END_TEST

START_TEST(body_truncation)
{
    char note[2100];
    as_mime_bodypref_t pref[2];
    as_item_opts_t o;
    xmlNodePtr body;
    int i;

    for (i = 0; i < 1000; i++) {
        memcpy(note + 2 * i, "\xc3\xa9", 2); /* é: truncation on a character boundary */
    }
    note[2000] = '\0';
    memset(&o, 0, sizeof o);
    memset(pref, 0, sizeof pref);
    pref[0].type = 2; /* HTML first: contacts have plain text only */
    pref[1].type = 1;
    pref[1].truncation = 101;
    pref[1].preview = 10;
    o.prefs = pref;
    o.nprefs = 2;
    o.protocol = 141;
    body = as_xml_child(to_eas_opts(apr_psprintf(unit_pool,
                                                 "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nNOTE:%s\r\n"
                                                 "END:VCARD\r\n",
                                                 note),
                                    &o),
                        NS_B, "Body");
    ck_assert_ptr_nonnull(body);
    ck_field(body, NS_B, "Type", "1");
    ck_field(body, NS_B, "Truncated", "1");
    ck_field(body, NS_B, "EstimatedDataSize", "2000");
    ck_assert_uint_eq(strlen(field(body, NS_B, "Data")), 100);
    ck_assert_uint_eq(strlen(field(body, NS_B, "Preview")), 20);
    /* AllOrNone: no Data when it would be cut */
    pref[1].all_or_none = 1;
    body = as_xml_child(to_eas_opts(apr_psprintf(unit_pool,
                                                 "BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nNOTE:%s\r\n"
                                                 "END:VCARD\r\n",
                                                 note),
                                    &o),
                        NS_B, "Body");
    ck_assert_ptr_null(as_xml_child(body, NS_B, "Data"));
    /* no note: no Body element at all */
    ck_assert_ptr_null(
        as_xml_child(to_eas("BEGIN:VCARD\r\nVERSION:3.0\r\nFN:x\r\nEND:VCARD\r\n"), NS_B, "Body"));
    /* the legacy contacts Body of a phone is read as well */
    {
        xmlNodePtr app = new_app();
        as_xml_add(app, NS_C, "Body", "old style");
        ck_assert_ptr_nonnull(strstr(from_eas(app, NULL), "NOTE:old style\r\n"));
    }
}
END_TEST

/* ---- schema validation -------------------------------------------------------------- */

START_TEST(sync_reply_validates)
{
    const char *validator = unit_conformance("validate-eas");
    char path[1024], cmd[2048], out[8192];
    unsigned char *wb;
    apr_size_t wblen;
    as_mime_bodypref_t pref;
    as_item_opts_t o;
    xmlNodePtr app;
    FILE *f;
    size_t got;
    int status;

    if (!validator) {
        return;
    }
    memset(&o, 0, sizeof o);
    memset(&pref, 0, sizeof pref);
    pref.type = 1;
    pref.truncation = 10;
    pref.preview = 5;
    o.prefs = &pref;
    o.nprefs = 1;
    o.protocol = 161;
    to_eas_opts(full_vcard, &o);
    app = phone_app(every_field);
    add_list(app, "Categories", "Category", "Work", NULL);
    add_body(app, "note");
    to_eas(from_eas(app, NULL));
    ck_assert_int_eq(as_wbxml_encode(reply, NULL, &wb, &wblen), AS_WBXML_OK);
    snprintf(path, sizeof path, "%s/sync-reply.wbxml", dir);
    ck_assert_int_eq(mg_write(path, wb, wblen, 0), 0);
    free(wb);
    snprintf(cmd, sizeof cmd, "%s %s 2>&1", validator, path);
    f = popen(cmd, "r");
    ck_assert_ptr_nonnull(f);
    got = fread(out, 1, sizeof out - 1, f);
    out[got] = '\0';
    status = pclose(f);
    ck_assert_msg(WIFEXITED(status) && WEXITSTATUS(status) == 0 && strstr(out, "valid"),
                  "validate-eas: %s", out);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("contact");
    TCase *tc = tcase_create("contact");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, vcard_to_every_field);
    tcase_add_test(tc, eas_round_trip_identity);
    tcase_add_test(tc, email_forms);
    tcase_add_test(tc, vcard21_quoted_printable);
    tcase_add_test(tc, vcard40);
    tcase_add_test(tc, labelled_relations);
    tcase_add_test(tc, picture_limit);
    tcase_add_test(tc, body_truncation);
    tcase_add_test(tc, sync_reply_validates);
    suite_add_tcase(s, tc);
    return s;
}
