/* The FilterType window question of events and tasks (as_item_window):
 * single events, all-day dates, recurring series in Europe/Berlin across
 * the DST change, EXDATE and moved instances, the bound on expanded
 * instances, and incomplete tasks. */
#include <string.h>
#include <time.h>

#include "caltest.h"

#define BERLIN                                                                                     \
    "BEGIN:VTIMEZONE\r\nTZID:Europe/Berlin\r\nBEGIN:DAYLIGHT\r\nTZOFFSETFROM:+0100\r\n"            \
    "TZOFFSETTO:+0200\r\nDTSTART:19700329T020000\r\nRRULE:FREQ=YEARLY;BYMONTH=3;BYDAY=-1SU\r\n"    \
    "END:DAYLIGHT\r\nBEGIN:STANDARD\r\nTZOFFSETFROM:+0200\r\nTZOFFSETTO:+0100\r\n"                 \
    "DTSTART:19701025T030000\r\nRRULE:FREQ=YEARLY;BYMONTH=10;BYDAY=-1SU\r\nEND:STANDARD\r\n"       \
    "END:VTIMEZONE\r\n"

static void setup(void)
{
    unit_pool_setup();
    as_meeting_init();
}

/* yyyymmddThhmmssZ as an apr_time_t */
static apr_time_t at(const char *s)
{
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    ck_assert_int_eq(sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
                            &tm.tm_hour, &tm.tm_min, &tm.tm_sec),
                     6);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    return apr_time_from_sec(timegm(&tm));
}

static const char *cal(const char *body)
{
    return apr_pstrcat(unit_pool, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\n", BERLIN,
                       body, "END:VCALENDAR\r\n", NULL);
}

static int in(int cls, const char *file, const char *start, const char *end)
{
    as_item_in_window_fn f = as_item_window(cls);
    ck_assert_ptr_nonnull(f);
    return f(file, strlen(file), start ? at(start) : 0, end ? at(end) : 0);
}

#define EV(file, s, e) in(AS_CLASS_CALENDAR, file, s, e)

START_TEST(only_calendar_and_tasks_have_a_window)
{
    ck_assert_ptr_null(as_item_window(AS_CLASS_CONTACTS));
    ck_assert_ptr_null(as_item_window(AS_CLASS_NOTES));
    ck_assert_ptr_null(as_item_window(AS_CLASS_EMAIL));
}
END_TEST

START_TEST(single_event)
{
    const char *f = cal("BEGIN:VEVENT\r\nUID:a\r\nDTSTAMP:20260101T000000Z\r\n"
                        "DTSTART:20260310T090000Z\r\nDTEND:20260310T100000Z\r\nEND:VEVENT\r\n");
    ck_assert_int_eq(EV(f, "20260301T000000Z", NULL), 1);
    ck_assert_int_eq(EV(f, "20260310T093000Z", NULL), 1); /* still going on */
    ck_assert_int_eq(EV(f, "20260310T100000Z", NULL), 0); /* just ended */
    ck_assert_int_eq(EV(f, "20260311T000000Z", NULL), 0);
    ck_assert_int_eq(EV(f, "20260301T000000Z", "20260310T090000Z"), 0); /* ends at its start */
}
END_TEST

START_TEST(all_day_on_its_date)
{
    const char *f = cal("BEGIN:VEVENT\r\nUID:d\r\nDTSTAMP:20260101T000000Z\r\n"
                        "DTSTART;VALUE=DATE:20260704\r\nEND:VEVENT\r\n");
    ck_assert_int_eq(EV(f, "20260704T120000Z", NULL), 1);
    ck_assert_int_eq(EV(f, "20260705T000000Z", NULL), 0);
}
END_TEST

/* Mondays 09:00 Berlin from 5 January 2026: the 30 March one is 07:00Z
 * (CEST), an hour earlier in UTC than the winter ones. */
static const char *weekly(int count, const char *more)
{
    return cal(apr_psprintf(unit_pool,
                            "BEGIN:VEVENT\r\nUID:w\r\nDTSTAMP:20260101T000000Z\r\n"
                            "DTSTART;TZID=Europe/Berlin:20260105T090000\r\n"
                            "DTEND;TZID=Europe/Berlin:20260105T100000\r\n"
                            "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=%d\r\n%sEND:VEVENT\r\n",
                            count, more));
}

static const char *weekly_open(void)
{
    return cal("BEGIN:VEVENT\r\nUID:wo\r\nDTSTAMP:20260101T000000Z\r\n"
               "DTSTART;TZID=Europe/Berlin:20100104T090000\r\n"
               "DTEND;TZID=Europe/Berlin:20100104T100000\r\nRRULE:FREQ=WEEKLY;BYDAY=MO\r\n"
               "END:VEVENT\r\n");
}

START_TEST(series_judged_by_its_instances)
{
    const char *f = weekly(13, ""); /* the last one is 30 March */
    ck_assert_int_eq(EV(f, "20260330T073000Z", "20260330T074500Z"), 1);
    ck_assert_int_eq(EV(f, "20260330T080000Z", "20260330T083000Z"), 0); /* CET would say 1 */
    ck_assert_int_eq(EV(f, "20260331T000000Z", NULL), 0);
    ck_assert_int_eq(EV(f, "20250101T000000Z", "20250201T000000Z"), 0); /* before it */
    /* the last instance deleted: the series ends on 23 March */
    f = weekly(13, "EXDATE;TZID=Europe/Berlin:20260330T090000\r\n");
    ck_assert_int_eq(EV(f, "20260324T000000Z", NULL), 0);
    ck_assert_int_eq(EV(f, "20260323T000000Z", NULL), 1);
}
END_TEST

START_TEST(moved_instance_counts)
{
    const char *series = "BEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20260101T000000Z\r\n"
                         "DTSTART;TZID=Europe/Berlin:20260105T090000\r\n"
                         "DTEND;TZID=Europe/Berlin:20260105T100000\r\n"
                         "RRULE:FREQ=WEEKLY;COUNT=2\r\nEND:VEVENT\r\n";
    const char *moved = "BEGIN:VEVENT\r\nUID:m\r\nDTSTAMP:20260101T000000Z\r\n"
                        "RECURRENCE-ID;TZID=Europe/Berlin:20260112T090000\r\n"
                        "DTSTART;TZID=Europe/Berlin:20260401T090000\r\n"
                        "DTEND;TZID=Europe/Berlin:20260401T100000\r\nEND:VEVENT\r\n";
    ck_assert_int_eq(EV(cal(series), "20260301T000000Z", NULL), 0);
    ck_assert_int_eq(EV(cal(apr_pstrcat(unit_pool, series, moved, NULL)), "20260301T000000Z", NULL),
                     1);
}
END_TEST

START_TEST(unbounded_series_and_the_bound)
{
    /* weekly since 2010, no end: found in 2026 (about 840 steps) */
    const char *f = cal("BEGIN:VEVENT\r\nUID:u\r\nDTSTAMP:20260101T000000Z\r\n"
                        "DTSTART:20100104T090000Z\r\nDTEND:20100104T100000Z\r\n"
                        "RRULE:FREQ=WEEKLY\r\nEND:VEVENT\r\n");
    ck_assert_int_eq(EV(f, "20260301T000000Z", NULL), 1);
    /* expanded from near the window: between two Mondays nothing, on one something */
    ck_assert_int_eq(EV(f, "20260310T000000Z", "20260315T000000Z"), 0);
    ck_assert_int_eq(EV(f, "20260316T093000Z", "20260316T103000Z"), 1);
    /* an UNTIL in 2020: out */
    f = cal(
        "BEGIN:VEVENT\r\nUID:v\r\nDTSTAMP:20260101T000000Z\r\n"
        "DTSTART:20100104T090000Z\r\nRRULE:FREQ=WEEKLY;UNTIL=20200101T000000Z\r\nEND:VEVENT\r\n");
    ck_assert_int_eq(EV(f, "20260301T000000Z", NULL), 0);
    /* a Berlin series with no end, expanded from 2026: the DST instant */
    f = weekly_open();
    ck_assert_int_eq(EV(f, "20270329T073000Z", "20270329T074500Z"), 1);
    ck_assert_int_eq(EV(f, "20270329T080000Z", "20270329T083000Z"), 0);
    /* daily, five times in 1990: out */
    f = cal("BEGIN:VEVENT\r\nUID:o\r\nDTSTAMP:20260101T000000Z\r\n"
            "DTSTART:19900101T090000Z\r\nRRULE:FREQ=DAILY;COUNT=5\r\nEND:VEVENT\r\n");
    ck_assert_int_eq(EV(f, "20260301T000000Z", NULL), 0);
    /* every minute since 1990, no end: expanded from the window, inside */
    f = cal("BEGIN:VEVENT\r\nUID:x\r\nDTSTAMP:20260101T000000Z\r\n"
            "DTSTART:19900101T090000Z\r\nRRULE:FREQ=MINUTELY\r\nEND:VEVENT\r\n");
    ck_assert_int_eq(EV(f, "20260301T000000Z", NULL), 1);
    /* with a COUNT libical expands from DTSTART: undecided after
     * CAL_WINDOW_STEPS, so inside (whereas its last instance is in 2009) */
    f = cal("BEGIN:VEVENT\r\nUID:y\r\nDTSTAMP:20260101T000000Z\r\n"
            "DTSTART:19900101T090000Z\r\nRRULE:FREQ=MINUTELY;COUNT=10000000\r\nEND:VEVENT\r\n");
    {
        /* the worst case: every step taken (a diagnostic, not a bound) */
        apr_time_t t0 = apr_time_now();
        ck_assert_int_eq(EV(f, "20260301T000000Z", NULL), 1);
        printf("# window of a series undecided after the bound of steps: %.1f ms\n",
               (double)(apr_time_now() - t0) / 1000);
    }
}
END_TEST

START_TEST(unreadable_is_inside)
{
    ck_assert_int_eq(EV("not a calendar", "20260301T000000Z", NULL), 1);
    ck_assert_int_eq(in(AS_CLASS_TASKS, "BEGIN:VCARD\r\nEND:VCARD\r\n", NULL, NULL), 1);
}
END_TEST

static int task_in(const char *props)
{
    const char *todo = apr_pstrcat(
        unit_pool, "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//t//EN\r\nBEGIN:VTODO\r\n",
        "UID:t\r\nDTSTAMP:20260101T000000Z\r\nSUMMARY:x\r\n", props,
        "END:VTODO\r\nEND:VCALENDAR\r\n", NULL);
    return in(AS_CLASS_TASKS, todo, NULL, NULL);
}

START_TEST(tasks_incomplete_only)
{
    ck_assert_int_eq(task_in(""), 1);
    ck_assert_int_eq(task_in("STATUS:NEEDS-ACTION\r\n"), 1);
    ck_assert_int_eq(task_in("STATUS:COMPLETED\r\n"), 0);
    ck_assert_int_eq(task_in("COMPLETED:20260301T100000Z\r\n"), 0);
    ck_assert_int_eq(task_in("PERCENT-COMPLETE:100\r\n"), 0);
    ck_assert_int_eq(task_in("PERCENT-COMPLETE:50\r\n"), 1);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("calendar_window");
    TCase *tc = tcase_create("window");
    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_add_test(tc, only_calendar_and_tasks_have_a_window);
    tcase_add_test(tc, single_event);
    tcase_add_test(tc, all_day_on_its_date);
    tcase_add_test(tc, series_judged_by_its_instances);
    tcase_add_test(tc, moved_instance_counts);
    tcase_add_test(tc, unbounded_series_and_the_bound);
    tcase_add_test(tc, unreadable_is_inside);
    tcase_add_test(tc, tasks_incomplete_only);
    suite_add_tcase(s, tc);
    return s;
}
