/* MeetingResponse with a Maildir and a collection store in a temporary
 * directory: accepting an invitation mail makes one calendar file with the
 * account's PARTSTAT and returns its ServerId; answering again (or
 * answering the calendar item) changes that file, never a second one --
 * also when a CalDAV client named the file otherwise; tentative, decline
 * (removes), a cancellation (removes), bad RequestIds, the organiser,
 * 12.1 against 14.1 (InstanceId, the access status), email or pim off,
 * and malformed requests.  Every reply is checked by validate-eas. */
#include <dirent.h>

#include "iotest.h"
#include "activesync/as_sync.h"

static char cal_dir[700];
static as_cap_decision_t access_;
static const char *inbox;

static const char *invitation_ics(const char *method)
{
    apr_size_t len;
    const char *ics = unit_read_file("t/data/ics/invitation.ics", &len), *hit;
    if (strcmp(method, "REQUEST") && (hit = strstr(ics, "METHOD:REQUEST")) != NULL) {
        ics = apr_pstrcat(unit_pool, apr_pstrmemdup(unit_pool, ics, (apr_size_t)(hit - ics)),
                          "METHOD:", method, hit + strlen("METHOD:REQUEST"), NULL);
    }
    return ics;
}

/* An invitation mail (text and text/calendar) in the INBOX. */
static const char *put_invitation(unsigned seq, const char *method)
{
    const char *msg = apr_psprintf(
        unit_pool,
        "From: Dana Boss <dana@example.com>\r\nTo: ann@example.org\r\n"
        "Subject: Budget review\r\nDate: Tue, 01 Dec 2026 10:15:00 +0000\r\n"
        "Message-ID: <inv%u@example.com>\r\nMIME-Version: 1.0\r\n"
        "Content-Type: multipart/alternative; boundary=\"b\"\r\n\r\n"
        "--b\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nBudget review\r\n"
        "--b\r\nContent-Type: text/calendar; charset=utf-8; method=%s\r\n\r\n%s\r\n--b--\r\n",
        seq, method, invitation_ics(method));
    return iot_put("", "cur", seq, ":2,", msg, strlen(msg));
}

static void setup(void)
{
    unit_pool_setup();
    iot_setup();
    iot_conf.collections_template = apr_pstrcat(unit_pool, iot_root, "/coll/%u", NULL);
    snprintf(cal_dir, sizeof cal_dir, "%s/coll/%s/calendar", iot_root, IOT_ACCT);
    memset(&access_, 0, sizeof access_);
    access_.result = AS_CAP_SERVED;
    access_.eff.value[AS_OPT_ACTIVESYNC] = 1;
    access_.eff.value[AS_OPT_EMAIL] = 1;
    access_.eff.value[AS_OPT_PIM] = 1;
    inbox = iot_folder("");
}

static void teardown(void)
{
    iot_teardown();
    unit_pool_teardown();
}

static void run(cmdtest_t *t, const char *version, const char *xml)
{
    memset(t, 0, sizeof(*t));
    t->line.cmd = "MeetingResponse";
    t->line.device_id = t->line.device_key = IOT_DEV;
    t->line.device_type = "TestPhone";
    t->req.pool = unit_pool;
    t->req.account = IOT_ACCT;
    t->req.line = &t->line;
    t->req.protocol_version = version;
    t->req.body = xml ? cmdtest_tree(xml) : NULL;
    t->req.conf = &iot_conf;
    t->req.access = &access_;
    t->resp.http_status = 200;
    t->resp.headers = apr_table_make(unit_pool, 4);
    t->rv = as_cmd_meetingresponse(&t->req, &t->resp);
    if (t->rv == APR_SUCCESS && t->resp.doc) {
        cmdtest_validate(t->resp.doc);
    }
}

static const char *request(int response, const char *request_id, const char *extra)
{
    return apr_psprintf(unit_pool,
                        "<Request><UserResponse>%d</UserResponse><CollectionId>%s</CollectionId>"
                        "<RequestId>%s</RequestId>%s</Request>",
                        response, inbox, request_id, extra ? extra : "");
}

/* One Request answered: its Status; *calendar_id (may be NULL) its
 * CalendarId (NULL when absent). */
static int respond_v(const char *version, int response, const char *request_id, const char *extra,
                     const char **calendar_id)
{
    cmdtest_t t;
    const char *s, *cid;
    run(&t, version,
        apr_pstrcat(unit_pool, "<MeetingResponse xmlns=\"MeetingResponse:\">",
                    request(response, request_id, extra), "</MeetingResponse>", NULL));
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(t.resp.doc);
    ck_assert_int_eq(xp_count(t.resp.doc, "/*/*[local-name()='Result']"), 1);
    ck_assert_str_eq(xp(t.resp.doc, "/*/*/*[local-name()='RequestId']"), request_id);
    s = xp(t.resp.doc, "/*/*/*[local-name()='Status']");
    cid = xp(t.resp.doc, "/*/*/*[local-name()='CalendarId']");
    if (calendar_id) {
        *calendar_id = *cid ? cid : NULL;
    }
    cmdtest_free(&t);
    return atoi(s);
}

static int respond(int response, const char *request_id, const char **calendar_id)
{
    return respond_v("14.1", response, request_id, NULL, calendar_id);
}

/* A file by its absolute path, NUL-terminated (unit_read_file takes
 * paths in the source tree). */
static const char *read_abs(const char *path)
{
    FILE *f = fopen(path, "rb");
    char *buf = apr_palloc(unit_pool, 1 << 20);
    size_t n;
    ck_assert_msg(f != NULL, "cannot open %s", path);
    n = fread(buf, 1, (1 << 20) - 1, f);
    fclose(f);
    buf[n] = '\0';
    return buf;
}

/* The calendar's files (*.ics) and the text of the only one. */
static int cal_files(const char **only)
{
    DIR *d = opendir(cal_dir);
    struct dirent *e;
    int n = 0;
    if (only) {
        *only = NULL;
    }
    if (!d) {
        return 0;
    }
    while ((e = readdir(d)) != NULL) {
        size_t l = strlen(e->d_name);
        if (e->d_name[0] != '.' && l > 4 && !strcmp(e->d_name + l - 4, ".ics")) {
            n++;
            if (only) {
                *only = read_abs(apr_pstrcat(unit_pool, cal_dir, "/", e->d_name, NULL));
            }
        }
    }
    closedir(d);
    return n;
}

static const char *unfolded(const char *s)
{
    char *out = apr_pstrdup(unit_pool, s), *o = out;
    for (; *s; s++) {
        if (s[0] == '\r' && s[1] == '\n' && s[2] == ' ') {
            s += 2;
            continue;
        }
        *o++ = *s;
    }
    *o = '\0';
    return out;
}

/* The account's ATTENDEE line of a calendar file. */
static const char *ann_line(const char *file)
{
    const char *u = unfolded(file), *end = strstr(u, "mailto:Ann@Example.ORG"), *start = end;
    ck_assert_ptr_nonnull(end);
    while (start > u && start[-1] != '\n') {
        start--;
    }
    return apr_pstrmemdup(unit_pool, start, (apr_size_t)(end - start));
}

static const char *sid(const char *item)
{
    return apr_pstrcat(unit_pool, inbox, ":", item, NULL);
}

/* The Maildir flags of the one message in INBOX cur/ whose name has seq's stamp. */
static int mail_has_flags(const char *flags)
{
    char cmd[900], buf[600];
    FILE *f;
    int found = 0;
    snprintf(cmd, sizeof cmd, "ls %s/cur", iot_mbox);
    f = popen(cmd, "r");
    while (fgets(buf, sizeof buf, f)) {
        const char *info = strstr(buf, ":2,");
        found |= info && strncmp(info + 3, flags, strlen(flags)) == 0;
    }
    pclose(f);
    return found;
}

START_TEST(accept_creates_then_updates)
{
    const char *mail = put_invitation(1, "REQUEST"), *cid = NULL, *cid2 = NULL, *file;

    ck_assert_int_eq(respond(1, sid(mail), &cid), 1);
    ck_assert_ptr_nonnull(cid);
    ck_assert_int_eq(cid[0], 'v'); /* a collection folder's item */
    ck_assert_int_eq(cal_files(&file), 1);
    ck_assert_ptr_nonnull(strstr(ann_line(file), "PARTSTAT=ACCEPTED"));
    ck_assert_ptr_null(strstr(file, "METHOD:"));
    ck_assert_msg(mail_has_flags("RS"), "the invitation is not marked read and answered");

    /* the same invitation again: the same item, no second file */
    ck_assert_int_eq(respond(1, sid(mail), &cid2), 1);
    ck_assert_str_eq(cid2, cid);
    ck_assert_int_eq(cal_files(NULL), 1);

    /* tentative from the calendar item itself (Outlook, iOS do so) */
    ck_assert_int_eq(respond(2, cid, &cid2), 1);
    ck_assert_str_eq(cid2, cid);
    ck_assert_int_eq(cal_files(&file), 1);
    ck_assert_ptr_nonnull(strstr(ann_line(file), "PARTSTAT=TENTATIVE"));
    ck_assert_ptr_null(strstr(unfolded(file), "PARTSTAT=ACCEPTED"));
}
END_TEST

START_TEST(event_of_another_name_is_updated)
{
    const char *mail = put_invitation(2, "REQUEST"), *cid = NULL, *file;
    char path[800];

    ck_assert_int_eq(cal_files(NULL), 0);
    ck_assert_int_eq(respond(2, sid(mail), &cid), 1); /* makes the collections */
    ck_assert_int_eq(respond(3, sid(mail), NULL), 1); /* and removes the event again */
    ck_assert_int_eq(cal_files(NULL), 0);
    /* a CalDAV client stored the event under a name of its own */
    snprintf(path, sizeof path, "%s/caldav-client-name.ics", cal_dir);
    file = invitation_ics("REQUEST");
    ck_assert_int_eq(mg_write(path, file, strlen(file), 1796000000), 0);
    ck_assert_int_eq(respond(1, sid(mail), &cid), 1);
    ck_assert_int_eq(cal_files(NULL), 1);
    file = read_abs(path);
    ck_assert_ptr_nonnull(strstr(ann_line(file), "PARTSTAT=ACCEPTED"));
}
END_TEST

START_TEST(decline_removes)
{
    const char *mail = put_invitation(3, "REQUEST"), *cid = NULL;
    ck_assert_int_eq(respond(1, sid(mail), &cid), 1);
    ck_assert_int_eq(cal_files(NULL), 1);
    ck_assert_int_eq(respond(3, sid(mail), &cid), 1);
    ck_assert_ptr_null(cid);
    ck_assert_int_eq(cal_files(NULL), 0);
    ck_assert_msg(mail_has_flags("RS"), "the invitation is not marked answered");
}
END_TEST

START_TEST(cancellation_removes)
{
    const char *mail = put_invitation(4, "REQUEST"), *cancel = put_invitation(5, "CANCEL");
    const char *cid = (const char *)"x";
    /* nothing to cancel yet: done, nothing in the calendar */
    ck_assert_int_eq(respond(1, sid(cancel), &cid), 1);
    ck_assert_ptr_null(cid);
    ck_assert_int_eq(respond(1, sid(mail), &cid), 1);
    ck_assert_int_eq(cal_files(NULL), 1);
    ck_assert_int_eq(respond(1, sid(cancel), &cid), 1);
    ck_assert_ptr_null(cid);
    ck_assert_int_eq(cal_files(NULL), 0);
}
END_TEST

START_TEST(bad_request_ids)
{
    const char *plain = iot_plain("", "cur", 6, ":2,"), *mail = put_invitation(7, "REQUEST");
    cmdtest_t t;

    ck_assert_int_eq(respond(1, "garbage", NULL), 2);
    ck_assert_int_eq(respond(1, "0123abcd:0123", NULL), 2);      /* no such folder */
    ck_assert_int_eq(respond(1, sid("0000000000009"), NULL), 2); /* no such mail */
    ck_assert_int_eq(respond(1, sid(plain), NULL), 2);           /* not an invitation */
    ck_assert_int_eq(cal_files(NULL), 0);
    /* several Requests: one Result each, in order */
    run(&t, "14.1",
        apr_pstrcat(unit_pool, "<MeetingResponse xmlns=\"MeetingResponse:\">",
                    request(1, sid(plain), NULL), request(1, sid(mail), NULL), "</MeetingResponse>",
                    NULL));
    ck_assert_int_eq(t.rv, APR_SUCCESS);
    ck_assert_int_eq(xp_count(t.resp.doc, "/*/*[local-name()='Result']"), 2);
    ck_assert_str_eq(xp(t.resp.doc, "/*/*[1]/*[local-name()='Status']"), "2");
    ck_assert_str_eq(xp(t.resp.doc, "/*/*[2]/*[local-name()='Status']"), "1");
    ck_assert_int_eq(xp_count(t.resp.doc, "/*/*[1]/*[local-name()='CalendarId']"), 0);
    ck_assert_int_eq(xp_count(t.resp.doc, "/*/*[2]/*[local-name()='CalendarId']"), 1);
    cmdtest_free(&t);
}
END_TEST

/* s with the first from replaced by to. */
static const char *replace(const char *s, const char *from, const char *to)
{
    const char *hit = strstr(s, from);
    ck_assert_ptr_nonnull(hit);
    return apr_pstrcat(unit_pool, apr_pstrmemdup(unit_pool, s, (apr_size_t)(hit - s)), to,
                       hit + strlen(from), NULL);
}

/* The item id of the calendar file name in folder. */
static const char *item_named(const char *folder, const char *name)
{
    cmdtest_t t;
    apr_array_header_t *items;
    as_store_t *st;
    int i;
    memset(&t, 0, sizeof t);
    t.req.pool = unit_pool;
    t.req.account = IOT_ACCT;
    t.req.conf = &iot_conf;
    t.req.access = &access_;
    ck_assert_int_eq(as_sync_open_store(&t.req, &st), APR_SUCCESS);
    ck_assert_int_eq(as_store_list_items(st, folder, unit_pool, &items, NULL), APR_SUCCESS);
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        if (it->name && strstr(it->name, name)) {
            return it->id;
        }
    }
    ck_abort_msg("no item %s", name);
    return NULL;
}

START_TEST(organiser_gets_status_2)
{
    const char *mail = put_invitation(8, "REQUEST"), *cid = NULL, *own;
    char path[800];

    ck_assert_int_eq(respond(1, sid(mail), &cid), 1); /* the calendar exists now */
    /* a meeting the account organises, in its calendar */
    own = replace(invitation_ics("REQUEST"), "mailto:dana@example.com", "mailto:ANN@example.org");
    own = replace(own, "UID:budget-2026-q4@example.com", "UID:own-meeting");
    snprintf(path, sizeof path, "%s/own.ics", cal_dir);
    ck_assert_int_eq(mg_write(path, own, strlen(own), 1796000000), 0);
    cid = apr_pstrndup(unit_pool, cid, (apr_size_t)(strchr(cid, ':') - cid));
    ck_assert_int_eq(respond(1, as_sync_serverid(unit_pool, cid, item_named(cid, "own.ics")), NULL),
                     2);
    ck_assert_int_eq(cal_files(NULL), 2);
}
END_TEST

START_TEST(versions_and_access)
{
    const char *mail = put_invitation(9, "REQUEST"), *cid = NULL, *again = NULL;
    const char *inst = "<InstanceId>2026-12-10T13:00:00.000Z</InstanceId>";

    /* InstanceId is 14.1's: it names an occurrence of a calendar item only */
    ck_assert_int_eq(respond_v("14.1", 1, sid(mail), inst, NULL), 2);
    ck_assert_int_eq(respond_v("12.1", 1, sid(mail), inst, NULL), 1); /* not read before 14.1 */
    ck_assert_int_eq(respond_v("14.0", 1, sid(mail), inst, NULL), 1);
    ck_assert_int_eq(respond_v("14.1", 1, sid(mail), "<InstanceId>soon</InstanceId>", NULL), 2);
    /* pim off: no calendar to write to */
    access_.eff.value[AS_OPT_PIM] = 0;
    ck_assert_int_eq(respond_v("14.1", 1, sid(mail), NULL, NULL), 130);
    ck_assert_int_eq(respond_v("12.1", 1, sid(mail), NULL, NULL), 2);
    /* email off: an invitation mail cannot be read, the calendar item can */
    access_.eff.value[AS_OPT_PIM] = 1;
    ck_assert_int_eq(respond_v("14.1", 1, sid(mail), NULL, &cid), 1);
    access_.eff.value[AS_OPT_EMAIL] = 0;
    ck_assert_int_eq(respond_v("14.1", 1, sid(mail), NULL, NULL), 130);
    ck_assert_int_eq(respond_v("12.1", 1, sid(mail), NULL, NULL), 2);
    ck_assert_int_eq(respond_v("14.1", 2, cid, NULL, &again), 1);
    ck_assert_str_eq(again, cid);
}
END_TEST

START_TEST(malformed_requests)
{
    cmdtest_t t;
    run(&t, "14.1", NULL);
    ck_assert_int_eq(t.rv, APR_EINVAL);
    cmdtest_free(&t);
    run(&t, "14.1", "<MeetingResponse xmlns=\"MeetingResponse:\"/>");
    ck_assert_int_eq(t.rv, APR_EINVAL);
    cmdtest_free(&t);
    run(&t, "14.1",
        apr_pstrcat(unit_pool, "<MeetingResponse xmlns=\"MeetingResponse:\">",
                    request(4, "a:b", NULL), "</MeetingResponse>", NULL));
    ck_assert_int_eq(t.rv, APR_EINVAL);
    cmdtest_free(&t);
    run(&t, "14.1", "<Sync xmlns=\"AirSync:\"/>");
    ck_assert_int_eq(t.rv, APR_EINVAL);
    cmdtest_free(&t);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("meetingresponse");
    TCase *tc = tcase_create("meetingresponse");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, accept_creates_then_updates);
    tcase_add_test(tc, event_of_another_name_is_updated);
    tcase_add_test(tc, decline_removes);
    tcase_add_test(tc, cancellation_removes);
    tcase_add_test(tc, bad_request_ids);
    tcase_add_test(tc, organiser_gets_status_2);
    tcase_add_test(tc, versions_and_access);
    tcase_add_test(tc, malformed_requests);
    suite_add_tcase(s, tc);
    return s;
}
