/* The TimeZone blob both ways (as_calendar_tz.c, meeting_tz_blob), and the
 * instants of events a phone makes in a zone around both DST changes, as
 * the file gives them to a CalDAV client. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libical/ical.h>

#include "../../../mod_activesync/convert/as_calendar_int.h"
#include "../../../mod_activesync/convert/as_meeting_int.h"
#include "caltest.h"

static const char *const zones[] = {"Europe/Berlin",  "America/New_York",  "Australia/Sydney",
                                    "Asia/Kolkata",   "America/Sao_Paulo", "Pacific/Auckland",
                                    "Asia/Kathmandu", "Europe/London"};

static void setup(void)
{
    unit_pool_setup();
    as_meeting_init();
}

static icaltimezone *zone(const char *name)
{
    icaltimezone *z = icaltimezone_get_builtin_timezone(name);
    ck_assert_msg(z != NULL, "no builtin zone %s", name);
    return z;
}

START_TEST(blob_round_trip)
{
    static const int years[] = {2018, 2024, 2026};
    size_t i, y;
    for (i = 0; i < sizeof zones / sizeof zones[0]; i++) {
        for (y = 0; y < 3; y++) {
            icaltimezone *z = zone(zones[i]), *back;
            const char *blob = meeting_tz_blob(unit_pool, z, years[y]);
            cal_tzinfo_t tz;
            ck_assert_int_eq(cal_tz_decode(blob, &tz), 0);
            back = cal_tz_match_builtin(&tz, years[y]);
            ck_assert_msg(back == z, "%s %d came back as %s", zones[i], years[y],
                          back ? icaltimezone_get_tzid(back) : "nothing");
            ck_assert_str_eq(meeting_tz_blob(unit_pool, back, years[y]), blob);
        }
    }
}
END_TEST

/* Brazil gave up daylight saving in 2019. */
START_TEST(sao_paulo_rules_changed)
{
    cal_tzinfo_t tz;
    ck_assert_int_eq(
        cal_tz_decode(meeting_tz_blob(unit_pool, zone("America/Sao_Paulo"), 2024), &tz), 0);
    ck_assert_int_eq(tz.bias, 180);
    ck_assert_int_eq(tz.dst.month, 0);
    ck_assert_int_eq(
        cal_tz_decode(meeting_tz_blob(unit_pool, zone("America/Sao_Paulo"), 2018), &tz), 0);
    ck_assert_int_eq(tz.bias, 180);
    ck_assert_int_eq(tz.dst.month, 11); /* first Sunday of November */
    ck_assert_int_eq(tz.dst.week, 1);
    ck_assert_int_eq(tz.std.month, 2); /* third Sunday of February */
    ck_assert_int_eq(tz.std.week, 3);
    ck_assert_int_eq(tz.dst_bias, -60);
}
END_TEST

START_TEST(southern_and_half_hour)
{
    cal_tzinfo_t tz;
    ck_assert_int_eq(cal_tz_decode(meeting_tz_blob(unit_pool, zone("Australia/Sydney"), 2024), &tz),
                     0);
    ck_assert_int_eq(tz.bias, -600);
    ck_assert_int_eq(tz.dst.month, 10);
    ck_assert_int_eq(tz.std.month, 4);
    ck_assert_int_eq(cal_tz_decode(meeting_tz_blob(unit_pool, zone("Asia/Kolkata"), 2024), &tz), 0);
    ck_assert_int_eq(tz.bias, -330);
    ck_assert_int_eq(tz.std.month, 0);
}
END_TEST

START_TEST(utc_and_broken_blobs)
{
    cal_tzinfo_t tz;
    icalcomponent *root = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    ck_assert_int_eq(cal_tz_decode(meeting_tz_blob(unit_pool, NULL, 2024), &tz), 0);
    ck_assert_int_eq(tz.bias, 0);
    ck_assert_ptr_null(cal_tz_from_blob(root, &tz, 2024));
    ck_assert_int_eq(cal_tz_decode("", &tz), -1);
    ck_assert_int_eq(cal_tz_decode("AAAA", &tz), -1);
    ck_assert_int_eq(cal_tz_decode("!!!!not base64", &tz), -1);
    ck_assert_int_eq(cal_tz_decode(NULL, &tz), -1);
    icalcomponent_free(root);
}
END_TEST

/* A blob (bias, std/dst rules) as a phone would build it. */
static const char *make_blob(int bias, const char *name, int std_month, int std_week, int dst_month,
                             int dst_week, int dst_bias)
{
    unsigned char b[172];
    int i;
    memset(b, 0, sizeof b);
    meeting_put32(b, bias);
    for (i = 0; name[i] && i < 31; i++) {
        b[4 + 2 * i] = (unsigned char)name[i];
        b[88 + 2 * i] = (unsigned char)name[i];
    }
    if (std_month) {
        b[70] = (unsigned char)std_month;
        b[74] = (unsigned char)std_week;
        b[76] = 3; /* 03:00, Sunday */
        b[154] = (unsigned char)dst_month;
        b[158] = (unsigned char)dst_week;
        b[160] = 2;
        meeting_put32(b + 168, dst_bias);
    }
    return meeting_b64(unit_pool, b, sizeof b);
}

/* The phone's new event at utc in the blob's zone, made into a file. */
static char *phone_event(const char *blob, time_t utc, int all_day)
{
    xmlNodePtr app = ct_app();
    as_xml_add(app, CT_CAL, "Timezone", blob);
    as_xml_add(app, CT_CAL, "AllDayEvent", all_day ? "1" : "0");
    as_xml_add(app, CT_CAL, "StartTime", cal_compact(unit_pool, utc));
    as_xml_add(app, CT_CAL, "EndTime", cal_compact(unit_pool, utc + (all_day ? 86400 : 3600)));
    as_xml_add(app, CT_CAL, "Subject", "Made on the phone");
    return ct_from_eas(AS_CLASS_CALENDAR, app, 141, NULL);
}

/* A CalDAV client's view: DTSTART's wall clock in the IANA zone of its TZID. */
static time_t caldav_instant(const char *file, const char *want_tzid)
{
    icalcomponent *root = ct_parse(file), *ev = ct_master(root, ICAL_VEVENT_COMPONENT);
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    icalparameter *tz = icalproperty_get_first_parameter(pr, ICAL_TZID_PARAMETER);
    struct icaltimetype t = icalproperty_get_dtstart(pr);
    time_t s;
    ck_assert_ptr_nonnull(tz);
    ck_assert_str_eq(icalparameter_get_tzid(tz), want_tzid);
    ck_assert_ptr_nonnull(icalcomponent_get_timezone(root, want_tzid)); /* VTIMEZONE written */
    t.zone = NULL;
    s = icaltime_as_timet_with_zone(t, zone(want_tzid));
    ck_assert_int_eq(s, ct_prop_utc(root, ev, ICAL_DTSTART_PROPERTY)); /* and by its VTIMEZONE */
    icalcomponent_free(root);
    return s;
}

static void check_instant(const char *name, int year, int month, int day, int hour)
{
    icaltimezone *z = zone(name);
    struct icaltimetype l = icaltime_null_time();
    time_t utc;
    char *file;
    xmlNodePtr app;

    l.year = year;
    l.month = month;
    l.day = day;
    l.hour = hour;
    l.minute = 30;
    utc = icaltime_as_timet_with_zone(l, z);
    file = phone_event(meeting_tz_blob(unit_pool, z, year), utc, 0);
    ck_assert_msg(caldav_instant(file, name) == utc, "%s %04d-%02d-%02d %02d:30 shifted", name,
                  year, month, day, hour);
    app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
    ck_assert_ptr_nonnull(app);
    ck_assert_int_eq(ct_compact(ct_text(app, CT_CAL, "StartTime")), utc);
    ck_assert_str_eq(ct_text(app, CT_CAL, "Timezone"), meeting_tz_blob(unit_pool, z, year));
}

/* Days around each change of offset in year: before, on, after. */
START_TEST(instants_around_dst_changes)
{
    static const struct {
        const char *name;
        int year;
    } cases[] = {{"Europe/Berlin", 2024},     {"America/New_York", 2024},
                 {"Australia/Sydney", 2024},  {"Asia/Kolkata", 2024},
                 {"America/Sao_Paulo", 2018}, {"America/Sao_Paulo", 2024},
                 {"Pacific/Auckland", 2025},  {"Europe/London", 2026}};
    size_t i;
    int changes;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        icaltimezone *z = zone(cases[i].name);
        struct icaltimetype d = icaltime_null_time();
        int prev = -1;
        d.year = cases[i].year;
        d.month = 1;
        d.day = 1;
        d.hour = 12;
        changes = 0;
        check_instant(cases[i].name, d.year, 1, 15, 9);
        for (; d.year == cases[i].year; icaltime_adjust(&d, 1, 0, 0, 0)) {
            int is_dst, off = icaltimezone_get_utc_offset(z, &d, &is_dst);
            if (prev != -1 && off != prev) {
                struct icaltimetype b = d, a = d;
                icaltime_adjust(&b, -1, 0, 0, 0);
                icaltime_adjust(&a, 1, 0, 0, 0);
                check_instant(cases[i].name, b.year, b.month, b.day, 9);
                check_instant(cases[i].name, d.year, d.month, d.day, 10);
                check_instant(cases[i].name, a.year, a.month, a.day, 9);
                changes++;
            }
            prev = off;
        }
        ck_assert_int_eq(
            changes, !strcmp(cases[i].name, "Asia/Kolkata") ||
                             (cases[i].year == 2024 && !strcmp(cases[i].name, "America/Sao_Paulo"))
                         ? 0
                         : 2);
    }
}
END_TEST

/* No builtin zone has these rules: the file gets the blob's VTIMEZONE. */
START_TEST(custom_zone_written_into_file)
{
    const char *blob = make_blob(-75, "Odd Standard Time", 10, 5, 4, 2, -60); /* UTC+01:15 */
    struct icaltimetype l = icaltime_null_time();
    time_t summer, winter;
    char *file;
    icalcomponent *root;

    /* 2024-07-01 10:00 local = 07:45Z (DST: +02:15); 2024-01-10 10:00 = 08:45Z */
    l.year = 2024;
    l.month = 7;
    l.day = 1;
    l.hour = 7;
    l.minute = 45;
    summer = icaltime_as_timet_with_zone(l, icaltimezone_get_utc_timezone());
    file = phone_event(blob, summer, 0);
    ck_assert_ptr_nonnull(strstr(file, "TZID:Odd Standard Time"));
    ck_assert_ptr_nonnull(strstr(file, "DTSTART;TZID=Odd Standard Time:20240701T100000"));
    root = ct_parse(file);
    ck_assert_int_eq(
        ct_prop_utc(root, ct_master(root, ICAL_VEVENT_COMPONENT), ICAL_DTSTART_PROPERTY), summer);
    icalcomponent_free(root);
    ck_assert_str_eq(ct_text(ct_to_eas(AS_CLASS_CALENDAR, file, 141), CT_CAL, "Timezone"), blob);

    {
        /* the cost of a search through every builtin zone that finds none */
        cal_tzinfo_t tz;
        apr_time_t t0 = apr_time_now();
        int k;
        ck_assert_int_eq(cal_tz_decode(blob, &tz), 0);
        for (k = 0; k < 10; k++) {
            ck_assert_ptr_null(cal_tz_match_builtin(&tz, 2024));
        }
        printf("# builtin zone search without a match: %.1f ms\n",
               (double)(apr_time_now() - t0) / 10 / 1000);
    }
    l.month = 1;
    l.day = 10;
    l.hour = 8;
    winter = icaltime_as_timet_with_zone(l, icaltimezone_get_utc_timezone());
    file = phone_event(blob, winter, 0);
    ck_assert_ptr_nonnull(strstr(file, "DTSTART;TZID=Odd Standard Time:20240110T100000"));
}
END_TEST

/* A file naming a zone without its VTIMEZONE gets one on a phone's change;
 * zones whose history is too long for a file (Casablanca's yearly Ramadan
 * changes, events long ago) still give a file that reads back. */
START_TEST(zone_history_fits_the_file)
{
    static const struct {
        const char *name;
        int year;
    } cases[] = {{"Africa/Casablanca", 2024},
                 {"Asia/Tehran", 2021},
                 {"Europe/Berlin", 1012},
                 {"Europe/Berlin", 1950},
                 {"America/Sao_Paulo", 1985}};
    size_t i;
    for (i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *file = apr_psprintf(
            unit_pool,
            "BEGIN:VCALENDAR\r\nBEGIN:VEVENT\r\nUID:h%d\r\nDTSTART;TZID=%s:%04d0615T120000\r\n"
            "END:VEVENT\r\nEND:VCALENDAR\r\n",
            (int)i, cases[i].name, cases[i].year);
        xmlNodePtr app = ct_to_eas(AS_CLASS_CALENDAR, file, 141), back;
        const char *start;
        char *changed;
        ck_assert_msg(app != NULL, "%s %d refused", cases[i].name, cases[i].year);
        start = ct_text(app, CT_CAL, "StartTime");
        changed = ct_from_eas(AS_CLASS_CALENDAR, app, 141, file);
        back = ct_to_eas(AS_CLASS_CALENDAR, changed, 141);
        ck_assert_msg(back != NULL, "%s %d: file not read back:\n%s", cases[i].name, cases[i].year,
                      changed);
        ck_assert_str_eq(ct_text(back, CT_CAL, "StartTime"), start);
    }
}
END_TEST

/* The date of an all-day event in the zones farthest from UTC. */
START_TEST(all_day_far_zones)
{
    static const char *const far[] = {"Pacific/Kiritimati", "Etc/GMT+12", "Pacific/Pago_Pago"};
    size_t i;
    for (i = 0; i < sizeof far / sizeof far[0]; i++) {
        icaltimezone *z = icaltimezone_get_builtin_timezone(far[i]);
        struct icaltimetype mid = icaltime_null_time();
        time_t utc;
        char *file;
        xmlNodePtr app;
        if (!z) {
            continue; /* not every libical knows Etc/ zones */
        }
        mid.year = 2024;
        mid.month = 3;
        mid.day = 1;
        utc = icaltime_as_timet_with_zone(mid, z);
        file = phone_event(meeting_tz_blob(unit_pool, z, 2024), utc, 1);
        ck_assert_msg(strstr(file, "DTSTART;VALUE=DATE:20240301") != NULL, "%s: %s", far[i], file);
        ck_assert_ptr_nonnull(strstr(file, "DTEND;VALUE=DATE:20240302"));
        app = ct_to_eas(AS_CLASS_CALENDAR, file, 141);
        ck_assert_str_eq(ct_text(app, CT_CAL, "AllDayEvent"), "1");
        ck_assert_int_eq(ct_compact(ct_text(app, CT_CAL, "StartTime")), utc);
        ck_assert_int_eq(ct_compact(ct_text(app, CT_CAL, "EndTime")), utc + 86400);
        /* and back from that form, the same day */
        ck_assert_ptr_nonnull(
            strstr(ct_from_eas(AS_CLASS_CALENDAR, app, 141, file), "DTSTART;VALUE=DATE:20240301"));
        /* 16.x: 00:00:00Z of the date, no TimeZone */
        app = ct_to_eas(AS_CLASS_CALENDAR, file, 161);
        ck_assert_ptr_null(ct_text(app, CT_CAL, "Timezone"));
        ck_assert_str_eq(ct_text(app, CT_CAL, "StartTime"), "20240301T000000Z");
        ck_assert_ptr_nonnull(
            strstr(ct_from_eas(AS_CLASS_CALENDAR, app, 161, file), "DTSTART;VALUE=DATE:20240301"));
    }
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("calendar_tz");
    TCase *tc = tcase_create("tz");
    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, blob_round_trip);
    tcase_add_test(tc, sao_paulo_rules_changed);
    tcase_add_test(tc, southern_and_half_hour);
    tcase_add_test(tc, utc_and_broken_blobs);
    tcase_add_test(tc, instants_around_dst_changes);
    tcase_add_test(tc, custom_zone_written_into_file);
    tcase_add_test(tc, all_day_far_zones);
    tcase_add_test(tc, zone_history_fits_the_file);
    suite_add_tcase(s, tc);
    return s;
}
