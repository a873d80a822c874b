/* The Tasks codec: VTODO files as Nextcloud and Thunderbird write them,
 * field by field; a task completed on the phone is COMPLETED in the file;
 * a new task from the phone; what EAS cannot carry is kept. */
#include <string.h>

#include "caltest.h"

static void setup(void)
{
    unit_pool_setup();
    as_meeting_init();
}

static const char *ics(const char *name)
{
    apr_size_t len;
    return unit_read_file(apr_pstrcat(unit_pool, "t/data/ics/", name, NULL), &len);
}

#define EQ(app, path, want) ck_assert_str_eq(ct_text(app, CT_TASK, path), want)
#define ABSENT(app, path)   ck_assert_ptr_null(ct_text(app, CT_TASK, path))

static void keeps(const char *back, const char *what)
{
    ck_assert_msg(strstr(back, what) != NULL, "lost %s:\n%s", what, back);
}

START_TEST(nextcloud_task)
{
    const char *file = ics("nextcloud-task.ics"), *back;
    xmlNodePtr app = ct_to_eas(AS_CLASS_TASKS, file, 141);

    ck_assert_ptr_nonnull(app);
    EQ(app, "Subject", "File the tax return");
    ck_assert_str_eq(ct_text(app, CT_BASE, "Body/Data"), "Receipts are in the blue folder.");
    EQ(app, "Importance", "2");
    EQ(app, "StartDate", "2024-05-01T00:00:00.000Z");
    EQ(app, "UtcStartDate", "2024-05-01T00:00:00.000Z");
    EQ(app, "DueDate", "2024-05-31T00:00:00.000Z");
    EQ(app, "UtcDueDate", "2024-05-31T00:00:00.000Z");
    EQ(app, "Complete", "0");
    ABSENT(app, "DateCompleted");
    EQ(app, "Sensitivity", "3");
    EQ(app, "Categories/Category", "Home");
    EQ(app, "ReminderSet", "1");
    EQ(app, "ReminderTime", "2024-05-30T07:00:00.000Z");
    ABSENT(app, "Recurrence");

    /* completed on the phone */
    ct_set(app, CT_TASK, "Complete", "1");
    ct_set(app, CT_TASK, "DateCompleted", "2024-05-20T10:11:12.000Z");
    back = ct_from_eas(AS_CLASS_TASKS, app, 141, file);
    keeps(back, "STATUS:COMPLETED");
    keeps(back, "COMPLETED:20240520T101112Z");
    keeps(back, "PERCENT-COMPLETE:100");
    keeps(back, "DUE;VALUE=DATE:20240531");
    keeps(back, "DTSTART;VALUE=DATE:20240501");
    keeps(back, "PRIORITY:1");
    keeps(back, "RELATED-TO;RELTYPE=PARENT:7a1b2c3d-task-0000");
    keeps(back, "X-APPLE-SORT-ORDER:12");
    keeps(back, "CLASS:CONFIDENTIAL");
    keeps(back, "TRIGGER;VALUE=DATE-TIME:20240530T070000Z");
    keeps(back, "UID:7a1b2c3d-task-0001");
    ck_assert_str_eq(as_item_codec(AS_CLASS_TASKS)->uid_of(back, strlen(back), unit_pool),
                     "7a1b2c3d-task-0001");
}
END_TEST

START_TEST(thunderbird_task)
{
    const char *file = ics("thunderbird-task.ics"), *back;
    xmlNodePtr app = ct_to_eas(AS_CLASS_TASKS, file, 141);

    ck_assert_ptr_nonnull(app);
    EQ(app, "Importance", "0");
    EQ(app, "Complete", "1");
    EQ(app, "DateCompleted", "2024-01-10T09:59:00.000Z");
    EQ(app, "UtcStartDate", "2024-01-08T08:00:00.000Z");
    EQ(app, "StartDate", "2024-01-08T09:00:00.000Z");
    EQ(app, "UtcDueDate", "2024-01-08T17:00:00.000Z");
    EQ(app, "DueDate", "2024-01-08T18:00:00.000Z");
    EQ(app, "Recurrence/Type", "1");
    EQ(app, "Recurrence/DayOfWeek", "2");
    EQ(app, "Recurrence/Start", "2024-01-08T09:00:00.000Z");
    EQ(app, "Recurrence/Regenerate", "0");
    EQ(app, "Recurrence/DeadOccur", "0");
    EQ(app, "ReminderSet", "1");
    EQ(app, "ReminderTime", "2024-01-08T16:30:00.000Z"); /* 30 min before the due time */

    /* reopened on the phone */
    ct_set(app, CT_TASK, "Complete", "0");
    ct_set(app, CT_TASK, "DateCompleted", NULL);
    back = ct_from_eas(AS_CLASS_TASKS, app, 141, file);
    keeps(back, "STATUS:NEEDS-ACTION");
    ck_assert_ptr_null(strstr(back, "COMPLETED:"));
    keeps(back, "DUE;TZID=Europe/Berlin:20240108T180000");
    keeps(back, "DTSTART;TZID=Europe/Berlin:20240108T090000");
    keeps(back, "RRULE:FREQ=WEEKLY;BYDAY=MO");
    keeps(back, "X-MOZ-GENERATION:4");
    keeps(back, "TRIGGER;RELATED=END:-PT30M"); /* the same instant: untouched */
    keeps(back, "PRIORITY:9");
}
END_TEST

START_TEST(phone_task)
{
    xmlNodePtr app = ct_app(), rec;
    const char *file;
    xmlNodePtr back;

    as_xml_add(app, CT_TASK, "Subject", "Call the plumber");
    as_xml_add(app, CT_TASK, "Importance", "2");
    as_xml_add(app, CT_TASK, "UtcDueDate", "2024-06-09T22:00:00.000Z");
    as_xml_add(app, CT_TASK, "DueDate", "2024-06-10T00:00:00.000Z"); /* a day in UTC+2 */
    as_xml_add(app, CT_TASK, "UtcStartDate", "2024-06-01T07:30:00.000Z");
    as_xml_add(app, CT_TASK, "StartDate", "2024-06-01T09:30:00.000Z");
    as_xml_add(app, CT_TASK, "Complete", "0");
    as_xml_add(app, CT_TASK, "Sensitivity", "2");
    as_xml_add(app, CT_TASK, "ReminderSet", "1");
    as_xml_add(app, CT_TASK, "ReminderTime", "2024-06-09T06:00:00.000Z");
    as_xml_add(as_xml_add(app, CT_TASK, "Categories", NULL), CT_TASK, "Category", "Home");
    rec = as_xml_add(app, CT_TASK, "Recurrence", NULL);
    as_xml_add(rec, CT_TASK, "Type", "2");
    as_xml_add(rec, CT_TASK, "Start", "2024-06-01T09:30:00.000Z");
    as_xml_add(rec, CT_TASK, "Interval", "1");
    as_xml_add(rec, CT_TASK, "DayOfMonth", "10");
    as_xml_add(rec, CT_TASK, "Regenerate", "1");
    file = ct_from_eas(AS_CLASS_TASKS, app, 141, NULL);
    keeps(file, "BEGIN:VTODO");
    keeps(file, "DUE;VALUE=DATE:20240610");
    keeps(file, "DTSTART:20240601T073000Z");
    keeps(file, "PRIORITY:1");
    keeps(file, "CLASS:PRIVATE");
    keeps(file, "TRIGGER;VALUE=DATE-TIME:20240609T060000Z");
    keeps(file, "RRULE:FREQ=MONTHLY;BYMONTHDAY=10");
    keeps(file, "X-EAS-REGENERATE:1");
    keeps(file, "UID:");

    back = ct_to_eas(AS_CLASS_TASKS, file, 141);
    EQ(back, "Subject", "Call the plumber");
    EQ(back, "Importance", "2");
    EQ(back, "DueDate", "2024-06-10T00:00:00.000Z");
    EQ(back, "UtcStartDate", "2024-06-01T07:30:00.000Z");
    EQ(back, "Sensitivity", "2");
    EQ(back, "ReminderTime", "2024-06-09T06:00:00.000Z");
    EQ(back, "Recurrence/Type", "2");
    EQ(back, "Recurrence/DayOfMonth", "10");
    EQ(back, "Recurrence/Regenerate", "1");
    EQ(back, "Categories/Category", "Home");

    /* the reminder and the recurrence removed on the phone */
    ct_set(app, CT_TASK, "ReminderSet", "0");
    ct_set(app, CT_TASK, "Recurrence", NULL);
    file = ct_from_eas(AS_CLASS_TASKS, app, 141, file);
    ck_assert_ptr_null(strstr(file, "VALARM"));
    ck_assert_ptr_null(strstr(file, "RRULE"));
    ck_assert_ptr_null(strstr(file, "X-EAS-REGENERATE"));
}
END_TEST

START_TEST(malformed_tasks)
{
    char *out;
    apr_size_t len;
    const as_item_codec_t *c = as_item_codec(AS_CLASS_TASKS);

    ck_assert_ptr_null(ct_to_eas(AS_CLASS_TASKS, ics("google.ics"), 141)); /* no VTODO */
    ck_assert_ptr_null(ct_to_eas(AS_CLASS_TASKS, "junk", 141));
    ck_assert_ptr_null(c->uid_of("junk", 4, unit_pool));
    ck_assert_int_eq(c->from_eas(ct_app(), 141, "junk", 4, NULL, unit_pool, &out, &len),
                     APR_EINVAL);
    /* a bare VTODO without anything: a sane item */
    ck_assert_ptr_nonnull(ct_to_eas(
        AS_CLASS_TASKS, "BEGIN:VCALENDAR\r\nBEGIN:VTODO\r\nEND:VTODO\r\nEND:VCALENDAR\r\n", 141));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("task");
    TCase *tc = tcase_create("task");
    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_add_test(tc, nextcloud_task);
    tcase_add_test(tc, thunderbird_task);
    tcase_add_test(tc, phone_task);
    tcase_add_test(tc, malformed_tasks);
    suite_add_tcase(s, tc);
    return s;
}
