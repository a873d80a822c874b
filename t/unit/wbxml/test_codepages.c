/* Unit tests of the EAS WBXML code page tables (as_codepages.c). */
#include <ctype.h>
#include <string.h>

#include "unit.h"
#include "activesync/as_codepages.h"

/* Expected shape of every page.  "spec" = tags MS-ASWBXML lists for protocol
 * 12.0-16.1 (Microsoft's Interop-TestSuites encoder has the same, except that
 * it lacks MeetingResponse 0x10/0x11 of 16.1); "legacy" = 2.x-era tokens we
 * also decode (Z-Push/grommunio and libwbxml both define them).  The "spec"
 * column is count A of eas-protocol.md section 2.2 (586 in all). */
static const struct {
    const char *name;
    size_t spec;
    size_t legacy;
    unsigned max;
} expect[AS_CODEPAGE_COUNT] = {
    {"AirSync", 33, 4, 0x29},           /* Version, Truncation, RTFTruncation, NotifyGUID */
    {"Contacts", 54, 4, 0x3E},          /* Body, BodySize, BodyTruncated, Rtf */
    {"Email", 45, 14, 0x3F},            /* 0x05-0x0E, 0x10, 0x36-0x38 */
    {"AirNotify", 0, 19, 0x17},         /* whole page obsolete: 0x05-0x17 */
    {"Calendar", 45, 3, 0x3C},          /* Body, BodyTruncated, Rtf */
    {"Move", 8, 0, 0x0C},               /* */
    {"GetItemEstimate", 8, 2, 0x0E},    /* Version, DateTime */
    {"FolderHierarchy", 17, 3, 0x18},   /* Response, ContentClass, Version */
    {"MeetingResponse", 12, 1, 0x12},   /* Version */
    {"Tasks", 30, 4, 0x26},             /* Body, BodySize, BodyTruncated, Rtf */
    {"ResolveRecipients", 25, 0, 0x1D}, /* */
    {"ValidateCert", 6, 0, 0x0A},       /* */
    {"Contacts2", 10, 0, 0x0E},         /* */
    {"Ping", 8, 1, 0x0D},               /* AutdState */
    {"Provision", 54, 1, 0x3B},         /* DocumentBrowseEnabled */
    {"Search", 27, 2, 0x23},            /* Schema, Supported */
    {"GAL", 14, 0, 0x12},               /* */
    {"AirSyncBase", 40, 0, 0x2D},       /* */
    {"Settings", 38, 0, 0x2B},          /* */
    {"DocumentLibrary", 8, 0, 0x0C},    /* */
    {"ItemOperations", 21, 0, 0x19},    /* */
    {"ComposeMail", 18, 0, 0x18},       /* */
    {"Email2", 18, 0, 0x17},            /* */
    {"Notes", 5, 0, 0x09},              /* */
    {"RightsManagement", 20, 0, 0x18},  /* */
    {"Find", 22, 0, 0x22},              /* */
};

/* page, token, name: eas-protocol.md section 2.3 plus the 16.x additions. */
static const struct {
    unsigned page;
    unsigned token;
    const char *name;
} known[] = {
    {0, 0x05, "Sync"},
    {0, 0x1C, "Collections"},
    {0, 0x0F, "Collection"},
    {0, 0x10, "Class"},
    {0, 0x0B, "SyncKey"},
    {0, 0x12, "CollectionId"},
    {0, 0x0E, "Status"},
    {0, 0x16, "Commands"},
    {0, 0x07, "Add"},
    {0, 0x0D, "ServerId"},
    {0, 0x1D, "ApplicationData"},
    {0, 0x14, "MoreAvailable"},
    {0, 0x15, "WindowSize"},
    {7, 0x16, "FolderSync"},
    {7, 0x12, "SyncKey"},
    {7, 0x0E, "Changes"},
    {7, 0x17, "Count"},
    {7, 0x0F, "Add"},
    {7, 0x08, "ServerId"},
    {7, 0x09, "ParentId"},
    {7, 0x07, "DisplayName"},
    {7, 0x0A, "Type"},
    {13, 0x05, "Ping"},
    {13, 0x08, "HeartbeatInterval"},
    {13, 0x09, "Folders"},
    {13, 0x0A, "Folder"},
    {13, 0x0B, "Id"},
    {13, 0x0C, "Class"},
    {14, 0x05, "Provision"},
    {14, 0x06, "Policies"},
    {14, 0x07, "Policy"},
    {14, 0x08, "PolicyType"},
    {14, 0x09, "PolicyKey"},
    {14, 0x0A, "Data"},
    {14, 0x0B, "Status"},
    {14, 0x0C, "RemoteWipe"},
    {14, 0x0D, "EASProvisionDoc"},
    {14, 0x10, "RequireStorageCardEncryption"},
    {14, 0x3B, "AccountOnlyRemoteWipe"},
    {17, 0x05, "BodyPreference"},
    {17, 0x06, "Type"},
    {17, 0x07, "TruncationSize"},
    {17, 0x0A, "Body"},
    {17, 0x0B, "Data"},
    {17, 0x0C, "EstimatedDataSize"},
    {17, 0x0D, "Truncated"},
    {17, 0x16, "NativeBodyType"},
    {17, 0x18, "Preview"},
    {17, 0x1C, "Add"},
    {17, 0x1D, "Delete"},
    {17, 0x1E, "ClientId"},
    {17, 0x1F, "Content"},
    {17, 0x20, "Location"},
    {17, 0x2C, "LocationUri"},
    {17, 0x2D, "InstanceId"},
    {2, 0x14, "Subject"},
    {2, 0x18, "From"},
    {2, 0x0F, "DateReceived"},
    {2, 0x15, "Read"},
    {2, 0x19, "ReplyTo"},
    {2, 0x1D, "DtStamp"},
    {2, 0x33, "TimeZone"},
    {2, 0x3B, "Status"},
    {2, 0x05, "Attachment"},
    {2, 0x36, "MIMEData"},
    {1, 0x1E, "FileAs"},
    {1, 0x1F, "FirstName"},
    {1, 0x29, "LastName"},
    {1, 0x07, "AssistantPhoneNumber"},
    {1, 0x09, "Body"},
    {1, 0x3B, "Rtf"},
    {4, 0x05, "Timezone"},
    {4, 0x3C, "ClientUid"},
    {8, 0x10, "ProposedStartTime"},
    {8, 0x11, "ProposedEndTime"},
    {8, 0x12, "SendResponse"},
    {11, 0x09, "CheckCRL"},
    {18, 0x05, "Settings"},
    {18, 0x08, "Set"},
    {18, 0x16, "DeviceInformation"},
    {18, 0x17, "Model"},
    {18, 0x1F, "SMTPAddress"},
    {18, 0x2B, "RightsManagementInformation"},
    {21, 0x05, "SendMail"},
    {21, 0x08, "SaveInSentItems"},
    {21, 0x10, "Mime"},
    {21, 0x11, "ClientId"},
    {21, 0x15, "Forwardees"},
    {21, 0x18, "ForwardeeEmail"},
    {22, 0x15, "IsDraft"},
    {22, 0x16, "Bcc"},
    {22, 0x17, "Send"},
    {24, 0x12, "Owner"},
    {24, 0x18, "RemoveRightsManagementProtection"},
    {25, 0x05, "Find"},
    {25, 0x0E, "DeepTraversal"},
    {25, 0x11, "Response"},
    {25, 0x19, "GalSearchCriterion"},
    {25, 0x20, "MaxPictures"},
    {25, 0x22, "Picture"},
};

/* Tokens that must stay unassigned (gaps in the spec tables). */
static const struct {
    unsigned page;
    unsigned token;
} gaps[] = {
    {0, 0x2A},  {2, 0x40},  {4, 0x2B},  {4, 0x32},  {8, 0x0F},  {15, 0x06}, {15, 0x16},
    {17, 0x09}, {18, 0x2A}, {21, 0x0A}, {21, 0x14}, {22, 0x14}, {25, 0x0F}, {25, 0x10},
    {25, 0x1A}, {25, 0x1F}, {25, 0x23}, {13, 0x0E}, {3, 0x18},
};

START_TEST(test_page_shape)
{
    unsigned p = (unsigned)_i;
    const as_codepage_t *cp = as_codepage(p);
    char lower[64];
    size_t i;

    ck_assert_ptr_nonnull(cp);
    ck_assert_uint_eq(cp->page, p);
    ck_assert_str_eq(cp->name, expect[p].name);
    /* namespace = name + ":" */
    ck_assert_uint_eq(strlen(cp->ns), strlen(cp->name) + 1);
    ck_assert(strncmp(cp->ns, cp->name, strlen(cp->name)) == 0);
    ck_assert_int_eq(cp->ns[strlen(cp->name)], ':');
    /* prefix = lower-case name */
    ck_assert_uint_lt(strlen(cp->name), sizeof(lower));
    for (i = 0; cp->name[i]; i++) {
        lower[i] = (char)tolower((unsigned char)cp->name[i]);
    }
    lower[i] = '\0';
    ck_assert_str_eq(cp->prefix, lower);

    ck_assert_ptr_nonnull(cp->tags);
    ck_assert_msg(cp->ntags == expect[p].spec + expect[p].legacy,
                  "page %u (%s): %zu tags, expected %zu", p, cp->name, cp->ntags,
                  expect[p].spec + expect[p].legacy);
    ck_assert_msg(cp->tags[cp->ntags - 1].token == expect[p].max,
                  "page %u (%s): highest token 0x%02X, expected 0x%02X", p, cp->name,
                  cp->tags[cp->ntags - 1].token, expect[p].max);
}
END_TEST

START_TEST(test_total)
{
    size_t total = 0, spec = 0;
    unsigned p;

    for (p = 0; p < AS_CODEPAGE_COUNT; p++) {
        total += as_codepage(p)->ntags;
        spec += expect[p].spec;
    }
    ck_assert_uint_eq(spec, 586);
    ck_assert_uint_eq(total, 644);
}
END_TEST

/* Sorted, in range, unique tokens and names, plausible XML names. */
START_TEST(test_page_wellformed)
{
    const as_codepage_t *cp = as_codepage((unsigned)_i);
    size_t i, j;

    for (i = 0; i < cp->ntags; i++) {
        const char *n = cp->tags[i].name;

        ck_assert_uint_ge(cp->tags[i].token, 0x05);
        ck_assert_uint_le(cp->tags[i].token, 0x3F);
        if (i > 0) {
            ck_assert_msg(cp->tags[i - 1].token < cp->tags[i].token,
                          "page %s: token 0x%02X not sorted/unique", cp->name, cp->tags[i].token);
        }
        ck_assert_ptr_nonnull(n);
        ck_assert_msg(isupper((unsigned char)n[0]), "page %s: name %s", cp->name, n);
        for (j = 0; n[j]; j++) {
            ck_assert_msg(isalnum((unsigned char)n[j]), "page %s: name %s", cp->name, n);
        }
        for (j = 0; j < i; j++) {
            ck_assert_msg(strcmp(cp->tags[j].name, n) != 0, "page %s: duplicate name %s", cp->name,
                          n);
        }
    }
}
END_TEST

/* name -> token -> name for every tag, and token -> name for every byte. */
START_TEST(test_round_trip)
{
    unsigned p = (unsigned)_i;
    const as_codepage_t *cp = as_codepage(p);
    size_t i, found = 0;
    unsigned t;

    for (i = 0; i < cp->ntags; i++) {
        ck_assert_int_eq(as_codepage_tag_token(p, cp->tags[i].name), cp->tags[i].token);
        ck_assert_str_eq(as_codepage_tag_name(p, cp->tags[i].token), cp->tags[i].name);
        ck_assert_ptr_eq(as_codepage_tag_name(p, cp->tags[i].token), cp->tags[i].name);
    }
    for (t = 0; t < 0x100; t++) {
        const char *n = as_codepage_tag_name(p, t);

        if (n) {
            ck_assert_uint_ge(t, 0x05);
            ck_assert_uint_le(t, 0x3F);
            ck_assert_int_eq(as_codepage_tag_token(p, n), (int)t);
            found++;
        }
    }
    ck_assert_uint_eq(found, cp->ntags);
}
END_TEST

START_TEST(test_known_tokens)
{
    size_t i;

    for (i = 0; i < sizeof(known) / sizeof(known[0]); i++) {
        const char *n = as_codepage_tag_name(known[i].page, known[i].token);

        ck_assert_msg(n && strcmp(n, known[i].name) == 0, "page %u token 0x%02X: %s, expected %s",
                      known[i].page, known[i].token, n ? n : "(null)", known[i].name);
        ck_assert_int_eq(as_codepage_tag_token(known[i].page, known[i].name), (int)known[i].token);
    }
    for (i = 0; i < sizeof(gaps) / sizeof(gaps[0]); i++) {
        ck_assert_msg(as_codepage_tag_name(gaps[i].page, gaps[i].token) == NULL,
                      "page %u token 0x%02X should be unassigned", gaps[i].page, gaps[i].token);
    }
}
END_TEST

START_TEST(test_bad_input)
{
    unsigned p;

    ck_assert_ptr_null(as_codepage(AS_CODEPAGE_COUNT));
    ck_assert_ptr_null(as_codepage(255));
    ck_assert_ptr_null(as_codepage((unsigned)-1));
    ck_assert_ptr_null(as_codepage_tag_name(AS_CODEPAGE_COUNT, 0x05));
    ck_assert_ptr_null(as_codepage_tag_name((unsigned)-1, 0x05));
    ck_assert_int_eq(as_codepage_tag_token(AS_CODEPAGE_COUNT, "Sync"), -1);
    ck_assert_int_eq(as_codepage_tag_token((unsigned)-1, "Sync"), -1);
    for (p = 0; p < AS_CODEPAGE_COUNT; p++) {
        unsigned t;

        /* global tokens, and tag bytes with the content/attribute bits */
        for (t = 0; t < 0x05; t++) {
            ck_assert_ptr_null(as_codepage_tag_name(p, t));
        }
        ck_assert_ptr_null(as_codepage_tag_name(p, 0x40));
        ck_assert_ptr_null(as_codepage_tag_name(p, 0x45));
        ck_assert_ptr_null(as_codepage_tag_name(p, 0xC5));
        ck_assert_ptr_null(as_codepage_tag_name(p, 0x105));
        ck_assert_ptr_null(as_codepage_tag_name(p, (unsigned)-1));
        ck_assert_int_eq(as_codepage_tag_token(p, NULL), -1);
        ck_assert_int_eq(as_codepage_tag_token(p, ""), -1);
        ck_assert_int_eq(as_codepage_tag_token(p, "NoSuchTag"), -1);
    }
    /* names are case-sensitive and page-specific */
    ck_assert_int_eq(as_codepage_tag_token(0, "sync"), -1);
    ck_assert_int_eq(as_codepage_tag_token(0, "Sync "), -1);
    ck_assert_int_eq(as_codepage_tag_token(0, "FolderSync"), -1);
    ck_assert_int_eq(as_codepage_tag_token(7, "FolderSync"), 0x16);
    /* libwbxml's spellings are not ours */
    ck_assert_int_eq(as_codepage_tag_token(2, "Reply-To"), -1);
    ck_assert_int_eq(as_codepage_tag_token(4, "Attendee_Email"), -1);
}
END_TEST

START_TEST(test_namespace)
{
    unsigned p;

    for (p = 0; p < AS_CODEPAGE_COUNT; p++) {
        const as_codepage_t *cp = as_codepage(p);

        ck_assert_int_eq(as_codepage_by_ns(cp->ns), (int)p);
        ck_assert_int_eq(as_codepage_by_ns(cp->name), (int)p);
    }
    ck_assert_int_eq(as_codepage_by_ns("AirSync:"), 0);
    ck_assert_int_eq(as_codepage_by_ns("AirSync"), 0);
    ck_assert_int_eq(as_codepage_by_ns("AirSyncBase:"), 17);
    ck_assert_int_eq(as_codepage_by_ns("AirSyncBase"), 17);
    ck_assert_int_eq(as_codepage_by_ns("Contacts2"), 12);
    ck_assert_int_eq(as_codepage_by_ns("Email2:"), 22);
    ck_assert_int_eq(as_codepage_by_ns("FolderHierarchy:"), 7);
    ck_assert_int_eq(as_codepage_by_ns("GAL:"), 16);
    ck_assert_int_eq(as_codepage_by_ns("GAL"), 16);
    ck_assert_int_eq(as_codepage_by_ns("Gal:"), 16); /* libwbxml */
    ck_assert_int_eq(as_codepage_by_ns("Gal"), 16);
    ck_assert_int_eq(as_codepage_by_ns("Find:"), 25);
    ck_assert_str_eq(as_codepage(16)->ns, "GAL:");

    ck_assert_int_eq(as_codepage_by_ns(NULL), -1);
    ck_assert_int_eq(as_codepage_by_ns(""), -1);
    ck_assert_int_eq(as_codepage_by_ns(":"), -1);
    ck_assert_int_eq(as_codepage_by_ns("AirSync::"), -1);
    ck_assert_int_eq(as_codepage_by_ns("AirSync: "), -1);
    ck_assert_int_eq(as_codepage_by_ns("AirSyn"), -1);
    ck_assert_int_eq(as_codepage_by_ns("airsync"), -1);
    ck_assert_int_eq(as_codepage_by_ns("AirSyncX"), -1);
    ck_assert_int_eq(as_codepage_by_ns("Email3"), -1);
    ck_assert_int_eq(as_codepage_by_ns("POOMMAIL:"), -1);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("codepages");
    TCase *tc = tcase_create("tables");

    tcase_add_loop_test(tc, test_page_shape, 0, AS_CODEPAGE_COUNT);
    tcase_add_test(tc, test_total);
    tcase_add_loop_test(tc, test_page_wellformed, 0, AS_CODEPAGE_COUNT);
    tcase_add_loop_test(tc, test_round_trip, 0, AS_CODEPAGE_COUNT);
    tcase_add_test(tc, test_known_tokens);
    tcase_add_test(tc, test_bad_input);
    tcase_add_test(tc, test_namespace);
    suite_add_tcase(s, tc);
    return s;
}
