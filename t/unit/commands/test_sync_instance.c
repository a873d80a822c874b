/* 16.1 Sync of a calendar through the handler, with the real collection
 * store and Calendar codec: a Change or Delete carrying an
 * airsyncbase:InstanceId outside the ApplicationData changes only that
 * instance of a recurring event (a RECURRENCE-ID override, an EXDATE),
 * keeps the rest of the file, is not echoed, and a second device gets the
 * series with every exception.  (httpd does not serve 16.x yet, so the
 * e2e tests cannot reach this path.) */
#include <stdio.h>
#include <sys/stat.h>

#include "synctest.h"

#define SERIES                                                                                     \
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//unit//EN\r\n"                                     \
    "BEGIN:VEVENT\r\nUID:inst-1\r\nDTSTAMP:20251201T100000Z\r\nSUMMARY:Planning\r\n"               \
    "DTSTART:20260105T080000Z\r\nDTEND:20260105T090000Z\r\n"                                       \
    "RRULE:FREQ=WEEKLY;BYDAY=MO;COUNT=10\r\nEXDATE:20260119T080000Z\r\nX-KEEP-ME:series\r\n"       \
    "END:VEVENT\r\n"                                                                               \
    "BEGIN:VEVENT\r\nUID:inst-1\r\nDTSTAMP:20251201T100000Z\r\nSUMMARY:Planning (moved)\r\n"       \
    "RECURRENCE-ID:20260112T080000Z\r\nDTSTART:20260113T090000Z\r\nDTEND:20260113T100000Z\r\n"     \
    "END:VEVENT\r\nEND:VCALENDAR\r\n"

#define SINGLE                                                                                     \
    "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//unit//EN\r\n"                                     \
    "BEGIN:VEVENT\r\nUID:single-1\r\nDTSTAMP:20251201T100000Z\r\nSUMMARY:Single\r\n"               \
    "DTSTART:20260302T090000Z\r\nDTEND:20260302T100000Z\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n"

#define CAL_NS "xmlns:c=\"Calendar:\""

static char cal_dir[700];

static void pim_setup(void)
{
    st_setup();
    st_conf.collections_template = apr_pstrcat(unit_pool, st_base, "/coll/%n", NULL);
    st_access.eff.value[AS_OPT_PIM] = 1;
    snprintf(cal_dir, sizeof cal_dir, "%s/coll/jdoe/calendar", st_base);
}

static void put_file(const char *name, const char *data)
{
    char path[800];
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", cal_dir, name);
    f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(data, f);
    fclose(f);
}

static const char *get_file(const char *name)
{
    char path[800], *buf = apr_palloc(unit_pool, 65536);
    size_t n;
    FILE *f;
    snprintf(path, sizeof path, "%s/%s", cal_dir, name);
    f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    n = fread(buf, 1, 65535, f);
    buf[n] = '\0';
    fclose(f);
    return buf;
}

/* libical folds nothing this short; count a line's occurrences. */
static int count_of(const char *hay, const char *needle)
{
    int n = 0;
    for (hay = strstr(hay, needle); hay; hay = strstr(hay + 1, needle)) {
        n++;
    }
    return n;
}

/* The calendar's folder id (FolderSync of dev at 16.1). */
static const char *calendar_id(const char *dev)
{
    cmdtest_t t;
    const char *id;
    st_run_dev(&t, as_cmd_foldersync, "FolderSync", dev, "16.1",
               "<FolderSync xmlns=\"FolderHierarchy:\"><SyncKey>0</SyncKey></FolderSync>");
    id = sx(t.resp.doc, "//f:Add[f:Type='8']/f:ServerId");
    ck_assert_str_ne(id, "");
    cmdtest_free(&t);
    return id;
}

/* Sync of dev from key; the reply (caller frees) and the new key. */
static void sync16(cmdtest_t *t, const char *dev, const char *fid, const char **key,
                   const char *commands)
{
    const char *xml = apr_psprintf(
        unit_pool,
        "<Sync xmlns=\"AirSync:\" xmlns:b=\"AirSyncBase:\" " CAL_NS "><Collections><Collection>"
        "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>%s%s%s</Collection>"
        "</Collections></Sync>",
        *key, fid, commands ? "<Commands>" : "", commands ? commands : "",
        commands ? "</Commands>" : "");
    st_run_dev(t, as_cmd_sync, "Sync", dev, "16.1", xml);
    if (t->resp.doc) {
        cmdtest_validate(t->resp.doc);
        ck_assert_str_eq(sx(t->resp.doc, "//a:Collection/a:Status"), "1");
        *key = sx(t->resp.doc, "//a:Collection/a:SyncKey");
    }
}

/* The ServerId of the Add whose Subject is subject. */
static const char *add_of(xmlDocPtr doc, const char *subject)
{
    return sx(doc, apr_psprintf(unit_pool,
                                "//a:Add[a:ApplicationData/*[local-name()='Subject']='%s']"
                                "/a:ServerId",
                                subject));
}

START_TEST(one_instance_changed_and_deleted)
{
    const char *fid = calendar_id(ST_DEV), *key = "0", *key2 = "0", *sid, *single, *body;
    cmdtest_t t;

    put_file("weekly.ics", SERIES);
    put_file("single.ics", SINGLE);
    sync16(&t, ST_DEV, fid, &key, NULL);
    cmdtest_free(&t);
    sync16(&t, ST_DEV, fid, &key, NULL);
    sid = add_of(t.resp.doc, "Planning");
    single = add_of(t.resp.doc, "Single");
    ck_assert_str_ne(sid, "");
    ck_assert_str_ne(single, "");
    cmdtest_free(&t);

    /* 26 January's instance moves to 14:00Z with its own subject */
    sync16(&t, ST_DEV, fid, &key,
           apr_psprintf(unit_pool,
                        "<Change><ServerId>%s</ServerId>"
                        "<b:InstanceId>2026-01-26T08:00:00.000Z</b:InstanceId><ApplicationData>"
                        "<c:Subject>Planning (customer)</c:Subject>"
                        "<c:StartTime>20260126T140000Z</c:StartTime>"
                        "<c:EndTime>20260126T150000Z</c:EndTime></ApplicationData></Change>",
                        sid));
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Responses"), 0);
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Commands"), 0);
    cmdtest_free(&t);
    /* 2 February's goes */
    sync16(&t, ST_DEV, fid, &key,
           apr_psprintf(unit_pool,
                        "<Delete><ServerId>%s</ServerId>"
                        "<b:InstanceId>2026-02-02T08:00:00.000Z</b:InstanceId></Delete>",
                        sid));
    ck_assert_int_eq(sx_count(t.resp.doc, "//a:Responses"), 0);
    cmdtest_free(&t);
    /* nothing echoed to the device that made the changes */
    sync16(&t, ST_DEV, fid, &key, NULL);
    ck_assert_ptr_null(t.resp.doc);
    cmdtest_free(&t);

    body = get_file("weekly.ics");
    ck_assert_msg(count_of(body, "BEGIN:VEVENT") == 3, "%s", body);
    ck_assert_msg(strstr(body, "SUMMARY:Planning\r\n") && strstr(body, "X-KEEP-ME:series") &&
                      strstr(body, "RRULE:FREQ=WEEKLY;COUNT=10;BYDAY=MO") &&
                      strstr(body, "SUMMARY:Planning (moved)") &&
                      strstr(body, "RECURRENCE-ID:20260112T080000Z"),
                  "%s", body);
    ck_assert_msg(strstr(body, "RECURRENCE-ID:20260126T080000Z") &&
                      strstr(body, "SUMMARY:Planning (customer)") &&
                      strstr(body, "DTSTART:20260126T140000Z"),
                  "%s", body);
    ck_assert_msg(strstr(body, "EXDATE:20260119T080000Z") &&
                      strstr(body, "EXDATE:20260202T080000Z"),
                  "%s", body);

    /* another device gets the series with the four exceptions */
    (void)calendar_id("DEV2");
    sync16(&t, "DEV2", fid, &key2, NULL);
    cmdtest_free(&t);
    sync16(&t, "DEV2", fid, &key2, NULL);
    ck_assert_int_eq(sx_count(t.resp.doc, "//*[local-name()='Exception']"), 4);
    ck_assert_int_eq(sx_count(t.resp.doc, "//*[local-name()='Exception']"
                                          "[*[local-name()='Deleted']='1']"),
                     2);
    ck_assert_str_eq(sx(t.resp.doc, "//*[local-name()='Exception'][b:InstanceId="
                                    "'2026-01-26T08:00:00.000Z']/*[local-name()='Subject']"),
                     "Planning (customer)");
    cmdtest_free(&t);

    /* an InstanceId on an event that does not recur: Status 6, file as it was */
    sync16(&t, ST_DEV, fid, &key,
           apr_psprintf(unit_pool,
                        "<Change><ServerId>%s</ServerId>"
                        "<b:InstanceId>2026-03-02T09:00:00.000Z</b:InstanceId><ApplicationData>"
                        "<c:Subject>No</c:Subject></ApplicationData></Change>",
                        single));
    ck_assert_str_eq(sx(t.resp.doc, "//a:Responses/a:Change/a:Status"), "6");
    cmdtest_free(&t);
    ck_assert_str_eq(get_file("single.ics"), SINGLE);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("sync_instance");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, pim_setup, st_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, one_instance_changed_and_deleted);
    suite_add_tcase(s, tc);
    return s;
}
