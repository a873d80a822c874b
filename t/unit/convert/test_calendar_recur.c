/* Every EAS recurrence pattern with a deleted and a moved instance: the
 * instances libical expands from the file are those it expands from the
 * EAS form (a new file made from what the phone was sent) and from the
 * file after the phone sent the event back unchanged, over three years.
 * And RRULEs EAS cannot express stay untouched on a phone's change. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "caltest.h"

#define VTZ_OUTLOOK                                                                                \
    "BEGIN:VTIMEZONE\r\nTZID:W. Europe Standard Time\r\nBEGIN:STANDARD\r\n"                        \
    "DTSTART:16010101T030000\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"                        \
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=10\r\nEND:STANDARD\r\nBEGIN:DAYLIGHT\r\n"                \
    "DTSTART:16010101T020000\r\nTZOFFSETFROM:+0100\r\nTZOFFSETTO:+0200\r\n"                        \
    "RRULE:FREQ=YEARLY;BYDAY=-1SU;BYMONTH=3\r\nEND:DAYLIGHT\r\nEND:VTIMEZONE\r\n"
#define VTZ_NEW_YORK                                                                               \
    "BEGIN:VTIMEZONE\r\nTZID:America/New_York\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:-0500\r\n"         \
    "TZOFFSETTO:-0400\r\nTZNAME:EDT\r\nDTSTART:19700308T020000\r\n"                                \
    "RRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=2SU\r\nEND:DAYLIGHT\r\nBEGIN:STANDARD\r\n"                  \
    "TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nTZNAME:EST\r\nDTSTART:19701101T020000\r\n"          \
    "RRULE:FREQ=YEARLY;BYMONTH=11;BYDAY=1SU\r\nEND:STANDARD\r\nEND:VTIMEZONE\r\n"

#define YEAR3 (3 * 366 * 86400L)
#define MAXI  1200

typedef struct pattern_t {
    const char *tzid; /* NULL: all-day */
    const char *dtstart, *rrule, *exdate, *moved;
    int type, dow, wom;
} pattern_t;

static const pattern_t patterns[] = {
    {"W. Europe Standard Time", "20240304T090000", "FREQ=DAILY;INTERVAL=2;COUNT=300",
     "20240306T090000", "20240308T090000", 0, 0, 0},
    {"America/New_York", "20240304T173000", "FREQ=WEEKLY;BYDAY=MO,WE,FR;UNTIL=20251231T225959Z",
     "20240306T173000", "20240308T173000", 1, 42, 0},
    {"W. Europe Standard Time", "20240305T100000", "FREQ=WEEKLY;INTERVAL=2;BYDAY=TU,TH;WKST=SU",
     "20240307T100000", "20240319T100000", 1, 20, 0},
    {"America/New_York", "20240115T080000", "FREQ=MONTHLY;BYMONTHDAY=15", "20240215T080000",
     "20240315T080000", 2, 0, 0},
    {"W. Europe Standard Time", "20240109T140000", "FREQ=MONTHLY;BYDAY=2TU", "20240213T140000",
     "20240312T140000", 3, 4, 2},
    {"America/New_York", "20240126T160000", "FREQ=MONTHLY;BYDAY=-1FR;COUNT=24", "20240223T160000",
     "20240329T160000", 3, 32, 5},
    {"W. Europe Standard Time", "20240131T180000", "FREQ=MONTHLY;BYMONTHDAY=-1", "20240229T180000",
     "20240331T180000", 3, 127, 5},
    {"America/New_York", "20240101T090000", "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1",
     "20240201T090000", "20240301T090000", 3, 62, 1},
    {"W. Europe Standard Time", "20240320T120000", "FREQ=YEARLY;BYMONTH=3;BYMONTHDAY=20",
     "20250320T120000", "20260320T120000", 5, 0, 0},
    {"America/New_York", "20241128T110000", "FREQ=YEARLY;BYMONTH=11;BYDAY=4TH", "20251127T110000",
     "20261126T110000", 6, 16, 4},
    {"W. Europe Standard Time", "20241027T020000", "FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU;COUNT=5",
     "20251026T020000", "20261025T020000", 6, 1, 5},
    {"America/New_York", "20240304T070000",
     "FREQ=DAILY;BYDAY=MO,TU,WE,TH,FR;UNTIL=20250101T000000Z", "20240305T070000", "20240306T070000",
     1, 62, 0},
    {NULL, "20240301", "FREQ=YEARLY", "20250301", "20260301", 5, 0, 0},
    {NULL, "20240101", "FREQ=WEEKLY;BYDAY=MO", "20240108", "20240115", 1, 2, 0},
};

static void setup(void)
{
    unit_pool_setup();
    as_meeting_init();
}

/* The series as a file: a deleted and a moved (+2 h / +1 day) instance. */
static const char *series_file(const pattern_t *pt)
{
    const char *tz = pt->tzid ? apr_psprintf(unit_pool, ";TZID=%s", pt->tzid) : ";VALUE=DATE";
    const char *moved_to;
    if (pt->tzid) {
        struct icaltimetype m = icaltime_from_string(pt->moved);
        icaltime_adjust(&m, 0, 2, 0, 0);
        moved_to = icaltime_as_ical_string(m);
    } else {
        struct icaltimetype m = icaltime_from_string(pt->moved);
        icaltime_adjust(&m, 1, 0, 0, 0);
        moved_to = icaltime_as_ical_string(m);
    }
    return apr_pstrcat(unit_pool, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n",
                       pt->tzid ? (strchr(pt->tzid, '/') ? VTZ_NEW_YORK : VTZ_OUTLOOK) : "",
                       "BEGIN:VEVENT\r\nUID:series-1@example.org\r\nDTSTAMP:20240101T000000Z\r\n",
                       "DTSTART", tz, ":", pt->dtstart, "\r\nDURATION:", pt->tzid ? "PT1H" : "P1D",
                       "\r\nSUMMARY:Series\r\nRRULE:", pt->rrule, "\r\nEXDATE", tz, ":", pt->exdate,
                       "\r\nEND:VEVENT\r\n",
                       "BEGIN:VEVENT\r\nUID:series-1@example.org\r\nDTSTAMP:20240101T000000Z\r\n",
                       "RECURRENCE-ID", tz, ":", pt->moved, "\r\nDTSTART", tz, ":", moved_to,
                       "\r\nDURATION:", pt->tzid ? "PT1H" : "P1D",
                       "\r\nSUMMARY:Moved\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", NULL);
}

static void same_instances(const char *a, const char *b, const char *what, const pattern_t *pt)
{
    static time_t ia[MAXI], ib[MAXI];
    icalcomponent *root = ct_parse(a);
    time_t from = ct_prop_utc(root, ct_master(root, ICAL_VEVENT_COMPONENT), ICAL_DTSTART_PROPERTY);
    int na, nb, i;
    icalcomponent_free(root);
    na = ct_expand(a, from, from + YEAR3, ia, MAXI);
    nb = ct_expand(b, from, from + YEAR3, ib, MAXI);
    ck_assert_msg(na >= 2, "%s: %d instances", pt->rrule, na);
    ck_assert_msg(na == nb, "%s (%s): %d instances, %d after; file:\n%s", pt->rrule, what, na, nb,
                  b);
    for (i = 0; i < na; i++) {
        ck_assert_msg(ia[i] == ib[i], "%s (%s): instance %d at %ld, after at %ld", pt->rrule, what,
                      i, (long)ia[i], (long)ib[i]);
    }
}

START_TEST(every_pattern_same_instances)
{
    const pattern_t *pt = &patterns[_i];
    const char *file = series_file(pt);
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141), ex;
    const char *s;
    int deleted = 0, moved = 0;

    ck_assert_ptr_nonnull(app);
    ck_assert_str_eq(ct_text(app, CT_CAL, "Recurrence/Type"), apr_itoa(unit_pool, pt->type));
    s = ct_text(app, CT_CAL, "Recurrence/DayOfWeek");
    ck_assert_int_eq(s ? atoi(s) : 0, pt->dow);
    s = ct_text(app, CT_CAL, "Recurrence/WeekOfMonth");
    ck_assert_int_eq(s ? atoi(s) : 0, pt->wom);
    for (ex = as_xml_child(as_xml_child(app, CT_CAL, "Exceptions"), CT_CAL, "Exception"); ex;
         ex = ex->next) {
        deleted += ct_text(ex, CT_CAL, "Deleted") != NULL;
        moved += ct_text(ex, CT_CAL, "StartTime") != NULL;
        ck_assert_ptr_nonnull(ct_text(ex, CT_CAL, "ExceptionStartTime"));
    }
    ck_assert_int_eq(deleted, 1);
    ck_assert_int_eq(moved, 1);

    /* the EAS form alone: the phone's copy sent to another account */
    same_instances(file, ct_from_eas(AS_CLASS_CALENDAR, app, 141, NULL), "EAS form", pt);
    /* the phone sends the event back unchanged */
    same_instances(file, ct_from_eas(AS_CLASS_CALENDAR, app, 141, file), "sent back", pt);
    /* 16.x: InstanceId instead of ExceptionStartTime */
    app = ct_to_eas(AS_CLASS_CALENDAR, file, 161);
    ex = as_xml_child(as_xml_child(app, CT_CAL, "Exceptions"), CT_CAL, "Exception");
    ck_assert_ptr_nonnull(ct_text(ex, CT_BASE, "InstanceId"));
    ck_assert_ptr_null(ct_text(ex, CT_CAL, "ExceptionStartTime"));
    same_instances(file, ct_from_eas(AS_CLASS_CALENDAR, app, 161, NULL), "16.1 form", pt);
}
END_TEST

/* A rule as libical writes it. */
static const char *normal(const char *rule)
{
    struct icalrecurrencetype r = icalrecurrencetype_from_string(rule);
    return apr_pstrdup(unit_pool, icalrecurrencetype_as_string(&r));
}

/* RRULEs EAS can only approximate: the phone gets the nearest form, and the
 * file keeps its rule while the phone sends that form back. */
START_TEST(inexpressible_rules_kept)
{
    static const char *const rules[] = {
        "FREQ=MONTHLY;BYDAY=MO,TU,WE,TH,FR;BYSETPOS=1,-1",
        "FREQ=HOURLY;INTERVAL=6;COUNT=10",
        "FREQ=MONTHLY;BYMONTHDAY=1,15",
        "FREQ=MONTHLY;BYDAY=1MO,3WE",
        "FREQ=YEARLY;BYWEEKNO=20;BYDAY=MO",
        "FREQ=MONTHLY;BYDAY=-2FR",
    };
    size_t i;
    for (i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const char *file = apr_pstrcat(
            unit_pool,
            "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" VTZ_OUTLOOK
            "BEGIN:VEVENT\r\nUID:odd-1\r\nDTSTAMP:20240101T000000Z\r\n"
            "DTSTART;TZID=W. Europe Standard Time:20240101T090000\r\n"
            "DTEND;TZID=W. Europe Standard Time:20240101T093000\r\nSUMMARY:Odd\r\nRRULE:",
            rules[i], "\r\nX-ODD-PROP:kept\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n", NULL);
        xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
        char *back;
        ck_assert_ptr_nonnull(app);
        ct_set(app, CT_CAL, "Subject", "Renamed on the phone");
        back = ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
        ck_assert_msg(strstr(back, apr_pstrcat(unit_pool, "RRULE:", normal(rules[i]), NULL)) !=
                          NULL,
                      "%s changed:\n%s", rules[i], back);
        ck_assert_ptr_nonnull(strstr(back, "DTSTART;TZID=W. Europe Standard Time:20240101T090000"));
        ck_assert_ptr_nonnull(strstr(back, "SUMMARY:Renamed on the phone"));
        ck_assert_ptr_nonnull(strstr(back, "X-ODD-PROP:kept"));
        if (strstr(rules[i], "HOURLY")) {
            ck_assert_ptr_null(as_xml_child(app, CT_CAL, "Recurrence"));
            continue;
        }
        /* a real change of the pattern replaces the rule */
        xmlNodeSetContent(as_xml_child(as_xml_child(app, CT_CAL, "Recurrence"), CT_CAL, "Interval"),
                          BAD_CAST "3");
        back = ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
        ck_assert_msg(strstr(back, normal(rules[i])) == NULL, "%s kept after a change", rules[i]);
        ck_assert_ptr_nonnull(strstr(back, "INTERVAL=3"));
    }
}
END_TEST

/* An event recurring by RDATE only (EAS has no such form): the phone sees
 * one event, and its change keeps the dates and their override. */
START_TEST(rdate_only_kept)
{
    const char *file = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n"
                       "BEGIN:VEVENT\r\nUID:rdate-1\r\nDTSTAMP:20240101T000000Z\r\n"
                       "DTSTART:20240105T100000Z\r\nDTEND:20240105T110000Z\r\nSUMMARY:Course\r\n"
                       "RDATE:20240112T100000Z,20240119T100000Z\r\nEND:VEVENT\r\n"
                       "BEGIN:VEVENT\r\nUID:rdate-1\r\nDTSTAMP:20240101T000000Z\r\n"
                       "RECURRENCE-ID:20240112T100000Z\r\nDTSTART:20240112T140000Z\r\n"
                       "DTEND:20240112T150000Z\r\nSUMMARY:Course (late)\r\nEND:VEVENT\r\n"
                       "END:VCALENDAR\r\n";
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
    char *back;
    ck_assert_ptr_nonnull(app);
    ck_assert_ptr_null(as_xml_child(app, CT_CAL, "Recurrence"));
    ct_set(app, CT_CAL, "Subject", "Course (room 2)");
    back = ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
    ck_assert_msg(
        strstr(back, "SUMMARY:Course (room 2)") && strstr(back, "RDATE:20240112T100000Z") &&
            strstr(back, "RECURRENCE-ID:20240112T100000Z") && strstr(back, "SUMMARY:Course (late)"),
        "%s", back);
}
END_TEST

/* The phone changes one instance: only that override changes. */
START_TEST(one_instance_changed)
{
    const char *file = "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\n" VTZ_NEW_YORK
                       "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20240101T000000Z\r\n"
                       "DTSTART;TZID=America/New_York:20240102T100000\r\n"
                       "DTEND;TZID=America/New_York:20240102T110000\r\nSUMMARY:Weekly\r\n"
                       "RRULE:FREQ=WEEKLY;BYDAY=TU\r\nEND:VEVENT\r\n"
                       "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20240101T000000Z\r\n"
                       "RECURRENCE-ID;TZID=America/New_York:20240109T100000\r\n"
                       "DTSTART;TZID=America/New_York:20240109T120000\r\n"
                       "DTEND;TZID=America/New_York:20240109T130000\r\nSUMMARY:Weekly (later)\r\n"
                       "X-FIRST:one\r\nEND:VEVENT\r\n"
                       "BEGIN:VEVENT\r\nUID:weekly-1\r\nDTSTAMP:20240101T000000Z\r\n"
                       "RECURRENCE-ID;TZID=America/New_York:20240116T100000\r\n"
                       "DTSTART;TZID=America/New_York:20240116T100000\r\n"
                       "DTEND;TZID=America/New_York:20240116T110000\r\nSUMMARY:Weekly (room B)\r\n"
                       "LOCATION:Room B\r\nX-SECOND:two\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141), ex;
    const char *back;
    icalcomponent *root;
    int overrides = 0;

    ck_assert_ptr_nonnull(app);
    for (ex = as_xml_child(as_xml_child(app, CT_CAL, "Exceptions"), CT_CAL, "Exception"); ex;
         ex = ex->next) {
        if (!strcmp(ct_text(ex, CT_CAL, "ExceptionStartTime"), "20240116T150000Z")) {
            ck_assert_str_eq(ct_text(ex, CT_CAL, "Location"), "Room B");
            ct_set(ex, CT_CAL, "Subject", "Weekly (room C)");
            ct_set(ex, CT_CAL, "Location", "Room C");
        }
    }
    /* and deletes the third week */
    ex = as_xml_add(as_xml_child(app, CT_CAL, "Exceptions"), CT_CAL, "Exception", NULL);
    as_xml_add(ex, CT_CAL, "ExceptionStartTime", "20240123T150000Z");
    as_xml_add(ex, CT_CAL, "Deleted", "1");
    back = ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
    root = ct_parse(back);
    {
        icalcomponent *ov;
        for (ov = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ov;
             ov = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
            char *s = icalcomponent_as_ical_string(ov);
            if (!icalcomponent_get_first_property(ov, ICAL_RECURRENCEID_PROPERTY)) {
                ck_assert_ptr_nonnull(strstr(s, "EXDATE;TZID=America/New_York:20240123T100000"));
                continue;
            }
            overrides++;
            if (strstr(s, "X-FIRST")) {
                ck_assert_str_eq(icalcomponent_get_summary(ov), "Weekly (later)");
                ck_assert_ptr_nonnull(strstr(s, "DTSTART;TZID=America/New_York:20240109T120000"));
                ck_assert_ptr_null(icalcomponent_get_location(ov));
            } else {
                ck_assert_ptr_nonnull(strstr(s, "X-SECOND:two"));
                ck_assert_str_eq(icalcomponent_get_summary(ov), "Weekly (room C)");
                ck_assert_str_eq(icalcomponent_get_location(ov), "Room C");
                ck_assert_ptr_nonnull(strstr(s, "DTSTART;TZID=America/New_York:20240116T100000"));
            }
        }
    }
    ck_assert_int_eq(overrides, 2);
    icalcomponent_free(root);
}
END_TEST

/* A file with 3000 overrides: at most 1000 Exceptions go to the phone, and
 * its list comes back through one index, not a search per Exception. */
START_TEST(many_overrides_bounded)
{
    size_t cap = 4000 * 128, len;
    char *file = apr_palloc(unit_pool, cap);
    struct icaltimetype d = icaltime_from_string("20200101T100000Z");
    xmlNodePtr app;
    apr_time_t t0;
    int i;
    len = (size_t)snprintf(file, cap, "%s",
                           "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VEVENT\r\n"
                           "UID:many\r\nDTSTART:20200101T100000Z\r\nDTEND:20200101T110000Z\r\n"
                           "RRULE:FREQ=DAILY\r\nEND:VEVENT\r\n");
    for (i = 0; i < 3000; i++) {
        const char *rid = icaltime_as_ical_string(d);
        len += (size_t)snprintf(file + len, cap - len,
                                "BEGIN:VEVENT\r\nUID:many\r\nRECURRENCE-ID:%s\r\nDTSTART:%s\r\n"
                                "SUMMARY:Changed\r\nEND:VEVENT\r\n",
                                rid, rid);
        icaltime_adjust(&d, 1, 0, 0, 0);
    }
    snprintf(file + len, cap - len, "END:VCALENDAR\r\n");
    app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
    ck_assert_ptr_nonnull(app);
    ck_assert_int_eq(xmlChildElementCount(as_xml_child(app, CT_CAL, "Exceptions")), 1000);
    t0 = apr_time_now();
    ck_assert_ptr_nonnull(
        strstr(ct_from_eas(AS_CLASS_CALENDAR, app, 141, file), "SUMMARY:Changed"));
    printf("# 1000 Exceptions onto a file of 3000 overrides: %.0f ms\n",
           (double)(apr_time_now() - t0) / 1000);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("calendar_recur");
    TCase *tc = tcase_create("recur");
    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_loop_test(tc, every_pattern_same_instances, 0,
                        (int)(sizeof patterns / sizeof patterns[0]));
    tcase_add_test(tc, inexpressible_rules_kept);
    tcase_add_test(tc, rdate_only_kept);
    tcase_add_test(tc, one_instance_changed);
    tcase_add_test(tc, many_overrides_bounded);
    suite_add_tcase(s, tc);
    return s;
}
