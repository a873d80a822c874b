/* Invitations in the inbox and in the calendar (issue 12 part 5), and the
 * answer written into the calendar file (MeetingResponse, issue 13 part 6).
 *
 * Identity: one invitation file (t/data/ics/invitation.ics) is made into
 * the MeetingRequest of a mail (as_meeting_parse/add) and into the
 * calendar item (the Calendar codec), with a plain UID, an Outlook
 * GlobalObjectId UID in upper and in lower case; the GlobalObjId, decoded
 * as a phone decodes it (the "vCal-Uid" data, else the bytes as
 * upper-case hex), must be the calendar item's UID, and for 16.x both
 * carry calendar:UID alike.  Answers: accept makes the event with the
 * account's PARTSTAT (address matched case-insensitively), a second
 * answer changes the same event, a newer invitation replaces it and an
 * older one does not, decline and cancellation remove, an occurrence gets
 * its override or EXDATE, and the organiser cannot answer. */
#include <stdio.h>
#include <string.h>

#include <apr_base64.h>

#include "caltest.h"

#define ACCT      "ann@example.org"
#define PLAIN_UID "budget-2026-q4@example.com"
#define HEX_UID                                                                                    \
    "040000008200E00074C5B7101A82E00800000000D0C1A4B2C35ADA01000000000000000010000000F3D2C1B0A998" \
    "87"                                                                                           \
    "76655443322110FFEE"

static void setup(void)
{
    unit_pool_setup();
    as_meeting_init();
}

static const char *invitation(void)
{
    apr_size_t len;
    return unit_read_file("t/data/ics/invitation.ics", &len);
}

/* s with every from replaced by to. */
static const char *replace(const char *s, const char *from, const char *to)
{
    const char *hit;
    char *out = "";
    while ((hit = strstr(s, from)) != NULL) {
        out = apr_pstrcat(unit_pool, out, apr_pstrmemdup(unit_pool, s, (apr_size_t)(hit - s)), to,
                          NULL);
        s = hit + strlen(from);
    }
    return apr_pstrcat(unit_pool, out, s, NULL);
}

static const char *with_uid(const char *uid)
{
    return replace(invitation(), "UID:" PLAIN_UID, apr_pstrcat(unit_pool, "UID:", uid, NULL));
}

/* Folded lines joined, so a test can look for a parameter. */
static const char *unfold(const char *s)
{
    return replace(s, "\r\n ", "");
}

static int count(const char *s, const char *needle)
{
    int n = 0;
    for (s = strstr(s, needle); s; s = strstr(s + 1, needle)) {
        n++;
    }
    return n;
}

/* The UID a phone reads from a GlobalObjId (MS-ASEMAIL 2.2.2.44): the
 * "vCal-Uid" data, else the GlobalObjectId without its instance date as
 * upper-case hex. */
static const char *goid_uid(const char *b64)
{
    unsigned char g[8192];
    char *hex;
    int n = apr_base64_decode_binary(g, b64), i;

    ck_assert_int_ge(n, 40);
    if (n > 53 && !memcmp(g + 40, "vCal-Uid", 8)) {
        ck_assert_int_eq(g[n - 1], 0);
        return apr_pstrmemdup(unit_pool, (const char *)g + 52, (apr_size_t)(n - 53));
    }
    g[16] = g[17] = g[18] = g[19] = 0;
    hex = apr_palloc(unit_pool, (apr_size_t)n * 2 + 1);
    for (i = 0; i < n; i++) {
        sprintf(hex + 2 * i, "%02X", g[i]);
    }
    return hex;
}

/* The MeetingRequest of the invitation for protocol. */
static xmlNodePtr meeting_request(const char *ics, int protocol)
{
    as_meeting_t *m = NULL;
    const char *err = NULL;
    xmlNodePtr app = ct_app();
    ck_assert_int_eq(as_meeting_parse(unit_pool, ics, strlen(ics), 0, 0, &m, &err), APR_SUCCESS);
    as_meeting_add(unit_pool, app, m, protocol);
    return as_xml_child(app, "Email:", "MeetingRequest");
}

/* The identity a phone sees on both sides, for 14.1 and 16.1. */
static void same_identity(const char *ics, const char *calendar_file)
{
    xmlNodePtr mr = meeting_request(ics, 141),
               cal = ct_to_eas(AS_CLASS_CALENDAR, calendar_file, 141);
    const char *goid = ct_text(mr, "Email:", "GlobalObjId");
    ck_assert_ptr_nonnull(cal);
    ck_assert_ptr_nonnull(goid);
    ck_assert_str_eq(goid_uid(goid), ct_text(cal, CT_CAL, "UID"));

    mr = meeting_request(ics, 161);
    cal = ct_to_eas(AS_CLASS_CALENDAR, calendar_file, 161);
    ck_assert_ptr_null(ct_text(mr, "Email:", "GlobalObjId"));
    ck_assert_str_eq(ct_text(mr, CT_CAL, "UID"), ct_text(cal, CT_CAL, "UID"));
}

static as_meeting_answer_t answer_of(int response)
{
    as_meeting_answer_t a;
    memset(&a, 0, sizeof a);
    a.response = response;
    a.account = ACCT;
    a.now = apr_time_from_sec(1796000000);
    return a;
}

/* as_meeting_answer expecting success; NULL: remove the event. */
static const char *answer(const char *invite, const char *old, const as_meeting_answer_t *a)
{
    char *out = NULL;
    apr_size_t len = 0;
    const char *err = NULL;
    apr_status_t rv = as_meeting_answer(unit_pool, invite, invite ? strlen(invite) : 0, old,
                                        old ? strlen(old) : 0, a, &out, &len, &err);
    ck_assert_msg(rv == APR_SUCCESS, "answer failed: %d %s", rv, err ? err : "");
    if (out) {
        ck_assert_int_eq(strlen(out), len);
    }
    return out;
}

/* The AttendeeStatus the phone sees for the account. */
static const char *status_of_account(const char *file)
{
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141), at, a;
    ck_assert_ptr_nonnull(app);
    at = as_xml_child(app, CT_CAL, "Attendees");
    for (a = at ? at->children : NULL; a; a = a->next) {
        const char *email = ct_text(a, CT_CAL, "Email");
        if (email && !strcasecmp(email, ACCT)) {
            return ct_text(a, CT_CAL, "AttendeeStatus");
        }
    }
    return NULL;
}

START_TEST(identity_plain_uid)
{
    const char *ics = invitation();
    as_meeting_answer_t a = answer_of(AS_MEETING_ACCEPT);
    same_identity(ics, ics);
    /* and the file MeetingResponse writes */
    same_identity(ics, answer(ics, NULL, &a));
}
END_TEST

START_TEST(identity_outlook_uid)
{
    const char *ics = with_uid(HEX_UID);
    as_meeting_answer_t a = answer_of(AS_MEETING_ACCEPT);
    same_identity(ics, ics);
    same_identity(ics, answer(ics, NULL, &a));
    /* the Outlook form: the GlobalObjId is the UID's bytes themselves */
    ck_assert_str_eq(goid_uid(ct_text(meeting_request(ics, 141), "Email:", "GlobalObjId")),
                     HEX_UID);
}
END_TEST

START_TEST(identity_lower_case_hex_uid)
{
    const char *lower = apr_pstrdup(unit_pool, HEX_UID), *ics;
    char *l = (char *)lower;
    for (; *l; l++) {
        if (*l >= 'A' && *l <= 'F') {
            *l = (char)(*l - 'A' + 'a');
        }
    }
    ics = with_uid(lower);
    same_identity(ics, ics);
}
END_TEST

START_TEST(accept_makes_the_event)
{
    as_meeting_answer_t a = answer_of(AS_MEETING_ACCEPT);
    const char *out = answer(invitation(), NULL, &a), *u = unfold(out);

    ck_assert_ptr_null(strstr(out, "METHOD:"));
    ck_assert_ptr_nonnull(strstr(u, "PARTSTAT=ACCEPTED"));
    ck_assert_int_eq(count(u, "mailto:Ann@Example.ORG"), 1);
    ck_assert_int_eq(count(u, "PARTSTAT=NEEDS-ACTION"), 1); /* Fay's stays */
    ck_assert_ptr_nonnull(strstr(u, "X-MICROSOFT-CDO-BUSYSTATUS:BUSY"));
    ck_assert_ptr_nonnull(strstr(u, "X-EAS-APPOINTMENTREPLYTIME:"));
    ck_assert_str_eq(status_of_account(out), "3");
    ck_assert_str_eq(ct_text(ct_to_eas(AS_CLASS_CALENDAR, out, 141), CT_CAL, "BusyStatus"), "2");
}
END_TEST

START_TEST(second_answer_changes_the_same_event)
{
    as_meeting_answer_t a = answer_of(AS_MEETING_ACCEPT), t = answer_of(AS_MEETING_TENTATIVE);
    const char *first = answer(invitation(), NULL, &a);
    const char *again = answer(invitation(), first, &a);
    const char *tent = answer(invitation(), again, &t), *u = unfold(tent);

    ck_assert_int_eq(count(again, "BEGIN:VEVENT"), 1);
    ck_assert_int_eq(count(tent, "BEGIN:VEVENT"), 1);
    ck_assert_int_eq(count(u, "mailto:Ann@Example.ORG"), 1);
    ck_assert_ptr_nonnull(strstr(u, "PARTSTAT=TENTATIVE"));
    ck_assert_ptr_null(strstr(u, "PARTSTAT=ACCEPTED"));
    ck_assert_ptr_nonnull(strstr(u, "X-MICROSOFT-CDO-BUSYSTATUS:TENTATIVE"));
    ck_assert_str_eq(status_of_account(tent), "2");
    ck_assert_str_eq(ct_text(ct_to_eas(AS_CLASS_CALENDAR, tent, 141), CT_CAL, "BusyStatus"), "1");
    /* answering the calendar item itself */
    ck_assert_str_eq(status_of_account(answer(NULL, tent, &a)), "3");
}
END_TEST

START_TEST(newer_invitation_replaces_older_does_not)
{
    as_meeting_answer_t a = answer_of(AS_MEETING_ACCEPT);
    const char *v0 = answer(invitation(), NULL, &a);
    const char *newer = replace(replace(invitation(), "SEQUENCE:0", "SEQUENCE:2"),
                                "SUMMARY;LANGUAGE=en-US:Budget review", "SUMMARY:Budget (moved)");
    const char *v2 = answer(newer, v0, &a);
    const char *v3 = answer(invitation(), v2, &a); /* the old one again */

    ck_assert_ptr_nonnull(strstr(v2, "SUMMARY:Budget (moved)"));
    ck_assert_ptr_nonnull(strstr(v3, "SUMMARY:Budget (moved)"));
    ck_assert_int_eq(count(v3, "BEGIN:VEVENT"), 1);
    ck_assert_str_eq(status_of_account(v3), "3");
}
END_TEST

START_TEST(decline_and_cancel_remove)
{
    as_meeting_answer_t a = answer_of(AS_MEETING_ACCEPT), d = answer_of(AS_MEETING_DECLINE);
    const char *ev = answer(invitation(), NULL, &a);
    const char *cancel = replace(invitation(), "METHOD:REQUEST", "METHOD:CANCEL");
    char *out = (char *)"x";
    apr_size_t len;
    const char *err;

    ck_assert_ptr_null(answer(invitation(), ev, &d));
    ck_assert_ptr_null(answer(NULL, ev, &d));
    ck_assert_ptr_null(answer(invitation(), NULL, &d)); /* nothing there: nothing made */
    ck_assert_ptr_null(answer(cancel, ev, &a));         /* any answer applies it */
    /* a cancellation of an event the calendar does not hold */
    ck_assert_int_eq(
        as_meeting_answer(unit_pool, cancel, strlen(cancel), NULL, 0, &a, &out, &len, &err),
        APR_ENOENT);
    ck_assert_ptr_null(out);
}
END_TEST

START_TEST(organiser_cannot_answer)
{
    as_meeting_answer_t a = answer_of(AS_MEETING_ACCEPT);
    char *out = NULL;
    apr_size_t len;
    const char *err, *ics = invitation();
    a.account = "DANA@example.com";
    ck_assert_int_eq(as_meeting_answer(unit_pool, ics, strlen(ics), NULL, 0, &a, &out, &len, &err),
                     AS_MEETING_EORGANIZER);
    a.account = ACCT;
    ck_assert_int_eq(as_meeting_answer(unit_pool, "garbage", 7, NULL, 0, &a, &out, &len, &err),
                     APR_EINVAL);
    ck_assert_ptr_nonnull(err);
}
END_TEST

START_TEST(attendee_added_when_not_listed)
{
    as_meeting_answer_t a = answer_of(AS_MEETING_ACCEPT);
    const char *u;
    a.account = "list-member@example.org";
    u = unfold(answer(invitation(), NULL, &a));
    ck_assert_ptr_nonnull(strstr(u, "ATTENDEE;PARTSTAT=ACCEPTED:mailto:list-member@example.org"));
}
END_TEST

START_TEST(one_occurrence)
{
    as_meeting_answer_t a = answer_of(AS_MEETING_TENTATIVE), d = answer_of(AS_MEETING_DECLINE);
    as_meeting_answer_t yes = answer_of(AS_MEETING_ACCEPT);
    const char *weekly = replace(invitation(), "CLASS:PUBLIC", "RRULE:FREQ=WEEKLY;COUNT=4");
    const char *base = answer(weekly, NULL, &d), *one, *u, *err = NULL;
    char *out;
    apr_size_t len;

    ck_assert_ptr_null(base); /* declining the series: nothing */
    base = answer(weekly, NULL, &yes);
    /* the second occurrence, 17 December 14:00 CET = 13:00 UTC */
    a.has_instance = d.has_instance = 1;
    a.instance = d.instance = apr_time_from_sec(1797512400);
    one = answer(NULL, base, &a);
    u = unfold(one);
    ck_assert_int_eq(count(u, "BEGIN:VEVENT"), 2);
    ck_assert_ptr_nonnull(strstr(u, "RECURRENCE-ID;TZID=W. Europe Standard Time:20261217T140000"));
    ck_assert_int_eq(count(u, "PARTSTAT=TENTATIVE"), 1);
    ck_assert_int_eq(count(u, "PARTSTAT=ACCEPTED"), 1);
    u = unfold(answer(NULL, one, &d));
    ck_assert_int_eq(count(u, "BEGIN:VEVENT"), 1);
    ck_assert_ptr_nonnull(strstr(u, "EXDATE;TZID=W. Europe Standard Time:20261217T140000"));
    /* a time that is no occurrence of the series (a day later) */
    a.instance = apr_time_from_sec(1797512400 + 86400);
    ck_assert_int_eq(as_meeting_answer(unit_pool, NULL, 0, one, strlen(one), &a, &out, &len, &err),
                     APR_EINVAL);
    /* after the last one (COUNT=4: 31 December is the last) */
    a.instance = apr_time_from_sec(1797512400 + 3 * 7 * 86400);
    ck_assert_int_eq(as_meeting_answer(unit_pool, NULL, 0, one, strlen(one), &a, &out, &len, &err),
                     APR_EINVAL);
    a.instance = apr_time_from_sec(1797512400 + 2 * 7 * 86400);
    ck_assert_ptr_nonnull(answer(NULL, one, &a));
    a.instance = apr_time_from_sec(1797512400);
    /* an occurrence of an event that does not recur */
    ck_assert_int_eq(as_meeting_answer(unit_pool, NULL, 0, invitation(), strlen(invitation()), &a,
                                       &out, &len, &err),
                     APR_EINVAL);
}
END_TEST

START_TEST(uid_of_invitation)
{
    int cancel = 1;
    const char *ics = invitation();
    ck_assert_str_eq(as_meeting_uid_of(unit_pool, ics, strlen(ics), &cancel), PLAIN_UID);
    ck_assert_int_eq(cancel, 0);
    ics = replace(ics, "METHOD:REQUEST", "METHOD:CANCEL");
    ck_assert_str_eq(as_meeting_uid_of(unit_pool, ics, strlen(ics), &cancel), PLAIN_UID);
    ck_assert_int_eq(cancel, 1);
    ck_assert_ptr_null(
        as_meeting_uid_of(unit_pool, "BEGIN:VCALENDAR\r\nEND:VCALENDAR\r\n", 31, &cancel));
    /* a UID libical would write otherwise (a control character) is not used */
    ics = replace(invitation(), "UID:" PLAIN_UID, "UID:" PLAIN_UID "\x03");
    ck_assert_ptr_null(as_meeting_uid_of(unit_pool, ics, strlen(ics), &cancel));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("meeting_answer");
    TCase *tc = tcase_create("meeting_answer");
    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, identity_plain_uid);
    tcase_add_test(tc, identity_outlook_uid);
    tcase_add_test(tc, identity_lower_case_hex_uid);
    tcase_add_test(tc, accept_makes_the_event);
    tcase_add_test(tc, second_answer_changes_the_same_event);
    tcase_add_test(tc, newer_invitation_replaces_older_does_not);
    tcase_add_test(tc, decline_and_cancel_remove);
    tcase_add_test(tc, organiser_cannot_answer);
    tcase_add_test(tc, attendee_added_when_not_listed);
    tcase_add_test(tc, one_occurrence);
    tcase_add_test(tc, uid_of_invitation);
    suite_add_tcase(s, tc);
    return s;
}
