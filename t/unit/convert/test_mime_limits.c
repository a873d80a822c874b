/* MIME to EAS under hostile sizes: a message with 30,000 recipients is
 * converted in a child process limited to 1 GB of address space and 20 s
 * of CPU (the old quadratic join needed 16 GB and 43 s), and shows at most
 * AS_MIME_MAX_ADDRESSES addresses and AS_MIME_MAX_ADDRESS_BYTES bytes per
 * field; the priority headers map to Importance in their order; the
 * meeting parser refuses an over-long UID or calendar itself, and time
 * zones that would make libical expand rules for minutes. */
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_portable.h>
#include <apr_strings.h>

#include "activesync/as_command.h"
#include "activesync/as_meeting.h"
#include "activesync/as_mime.h"
#include "unit.h"

/* The documented bounds (mod_activesync/convert/as_mime_int.h). */
#define MAX_ADDRESSES     1000
#define MAX_ADDRESS_BYTES (64 * 1024)

#define MANY 30000

static void setup(void)
{
    unit_pool_setup();
    as_mime_init();
}

/* The message in an anonymous in-memory file. */
static apr_file_t *mem_file(const char *data, size_t len)
{
    int fd = memfd_create("msg", 0);
    apr_os_file_t ofd;
    apr_file_t *f = NULL;

    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
    ofd = fd;
    ck_assert_int_eq(apr_os_file_put(&f, &ofd, APR_FOPEN_READ, unit_pool), APR_SUCCESS);
    return f;
}

static xmlNodePtr convert(const char *msg, xmlDocPtr *doc)
{
    xmlNodePtr root, app;
    as_mime_opts_t o;
    const char *err = NULL;
    apr_file_t *f = mem_file(msg, strlen(msg));

    memset(&o, 0, sizeof o);
    o.protocol = 141;
    *doc = as_reply_new("AirSync:", "Sync", &root);
    app = as_xml_add(root, "AirSync:", "ApplicationData", NULL);
    if (as_mime_to_eas(unit_pool, f, &o, app, &err) != APR_SUCCESS) {
        xmlFreeDoc(*doc);
        return NULL;
    }
    return app;
}

static const char *field(xmlNodePtr app, const char *name)
{
    xmlNodePtr n;
    for (n = app->children; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE && !strcmp((const char *)n->name, name)) {
            xmlChar *c = xmlNodeGetContent(n);
            const char *s = apr_pstrdup(unit_pool, (const char *)c);
            xmlFree(c);
            return s;
        }
    }
    return NULL;
}

static int count(const char *s, const char *what)
{
    int n = 0;
    while (s && (s = strstr(s, what)) != NULL) {
        n++;
        s += strlen(what);
    }
    return n;
}

/* A header line of n addresses "Name i <ui@example.com>", folded. */
static char *address_header(const char *name, int n, const char *display)
{
    apr_array_header_t *a = apr_array_make(unit_pool, n + 2, sizeof(const char *));
    int i;

    APR_ARRAY_PUSH(a, const char *) = apr_pstrcat(unit_pool, name, ": ", NULL);
    for (i = 0; i < n; i++) {
        APR_ARRAY_PUSH(a, const char *) = apr_psprintf(unit_pool, "%s%s %05d <u%05d@example.com>",
                                                       i ? ",\n " : "", display, i, i);
    }
    APR_ARRAY_PUSH(a, const char *) = "\n";
    return apr_array_pstrcat(unit_pool, a, 0);
}

/* Runs in the limited child: 0 when the fields have the expected bounds. */
static int check_many(const char *msg)
{
    xmlDocPtr doc;
    xmlNodePtr app = convert(msg, &doc);
    const char *to, *cc, *dto;

    if (!app) {
        return 2;
    }
    to = field(app, "To");
    cc = field(app, "Cc");
    dto = field(app, "DisplayTo");
    if (count(to, "@example.com") != MAX_ADDRESSES || count(cc, "@example.com") != MAX_ADDRESSES) {
        return 3;
    }
    if (strncmp(to, "\"Person 00000\" <u00000@example.com>, \"Person 00001\"", 50) ||
        !strstr(to, "<u00999@example.com>") || strstr(to, "u01000@")) {
        return 4; /* the first addresses, in order */
    }
    if (count(dto, "Person ") != MAX_ADDRESSES || strstr(dto, "@")) {
        return 5;
    }
    return 0;
}

START_TEST(thirty_thousand_recipients)
{
    const char *msg =
        apr_pstrcat(unit_pool, "From: a@example.com\n", address_header("To", MANY, "Person"),
                    address_header("Cc", MANY, "Person"), "Subject: many\n\nbody\n", NULL);
    pid_t pid;
    int status = 0;

    ck_assert_int_gt(strlen(msg), 1800000); /* two 900 KB headers */
    pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit cpu = {20, 20};
#if !defined(__SANITIZE_ADDRESS__)
        struct rlimit as = {1024UL << 20, 1024UL << 20};
        setrlimit(RLIMIT_AS, &as);
#endif
        setrlimit(RLIMIT_CPU, &cpu);
        _exit(check_many(msg));
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "conversion killed by signal %d (memory or CPU limit)",
                  WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}
END_TEST

START_TEST(address_bytes_bound)
{
    char name[1001];
    const char *msg, *to;
    xmlDocPtr doc;
    xmlNodePtr app;

    memset(name, 'n', 1000);
    name[1000] = '\0';
    msg = apr_pstrcat(unit_pool, "From: a@example.com\n", address_header("To", 300, name),
                      "Subject: long names\n\nbody\n", NULL);
    app = convert(msg, &doc);
    ck_assert_ptr_nonnull(app);
    to = field(app, "To");
    ck_assert_ptr_nonnull(to);
    ck_assert_uint_le(strlen(to), MAX_ADDRESS_BYTES);
    ck_assert_uint_gt(strlen(to), MAX_ADDRESS_BYTES - 1100);
    ck_assert_int_eq(to[strlen(to) - 1], '>'); /* whole addresses only */
    ck_assert_int_eq(count(to, "@example.com>"), count(to, "\"nnnn"));
    xmlFreeDoc(doc);
}
END_TEST

static const char *importance(const char *headers)
{
    xmlDocPtr doc;
    xmlNodePtr app = convert(
        apr_pstrcat(unit_pool, "From: a@example.com\nSubject: s\n", headers, "\nbody\n", NULL),
        &doc);
    const char *v;
    ck_assert_ptr_nonnull(app);
    v = field(app, "Importance");
    xmlFreeDoc(doc);
    return v;
}

START_TEST(priority_headers)
{
    ck_assert_str_eq(importance(""), "1");
    ck_assert_str_eq(importance("Importance: High\n"), "2");
    ck_assert_str_eq(importance("Importance: low\n"), "0");
    ck_assert_str_eq(importance("Importance: whatever\nX-Priority: 1\n"), "1");
    ck_assert_str_eq(importance("X-Priority: 2 (High)\n"), "2");
    ck_assert_str_eq(importance("X-Priority: 5 (Lowest)\n"), "0");
    ck_assert_str_eq(importance("X-Priority: 3\nX-MSMail-Priority: High\n"), "1");
    ck_assert_str_eq(importance("X-MSMail-Priority: High\n"), "2");
    ck_assert_str_eq(importance("X-MSMail-Priority: Low\n"), "0");
    ck_assert_str_eq(importance("Priority: urgent\n"), "2");
    ck_assert_str_eq(importance("Priority: non-urgent\n"), "0");
    ck_assert_str_eq(importance("Priority: normal\n"), "1");
    ck_assert_str_eq(importance("Priority: urgent\nImportance: low\n"), "0");
}
END_TEST

static const char *calendar(const char *uid)
{
    return apr_pstrcat(unit_pool, "BEGIN:VCALENDAR\r\nMETHOD:REQUEST\r\nBEGIN:VEVENT\r\nUID:", uid,
                       "\r\nDTSTART:20260301T100000Z\r\nDTEND:20260301T110000Z\r\n"
                       "BEGIN:VALARM\r\nTRIGGER:-PT15M\r\nEND:VALARM\r\n"
                       "END:VEVENT\r\nEND:VCALENDAR\r\n",
                       NULL);
}

/* The meeting code checks its own lengths instead of relying on callers. */
START_TEST(meeting_bounds)
{
    char *uid = apr_palloc(unit_pool, AS_MEETING_UID_MAX + 2);
    as_meeting_t *m = NULL;
    const char *err = NULL, *cal;
    char *big;

    memset(uid, 'u', AS_MEETING_UID_MAX + 1);
    uid[AS_MEETING_UID_MAX + 1] = '\0';
    ck_assert_ptr_null(as_meeting_globalobjid(unit_pool, uid, 0, 0, 0));
    cal = calendar(uid);
    ck_assert_int_eq(as_meeting_parse(unit_pool, cal, strlen(cal), 0, 0, &m, &err), APR_EINVAL);
    ck_assert_str_eq(err, "UID too long");
    ck_assert_ptr_null(m);

    uid[AS_MEETING_UID_MAX] = '\0'; /* at the bound: accepted */
    cal = calendar(uid);
    ck_assert_int_eq(as_meeting_parse(unit_pool, cal, strlen(cal), 0, 0, &m, &err), APR_SUCCESS);
    ck_assert_ptr_nonnull(as_meeting_globalobjid(unit_pool, uid, 2026, 3, 1));

    big = apr_palloc(unit_pool, AS_MEETING_CALENDAR_MAX + 1);
    memset(big, ' ', AS_MEETING_CALENDAR_MAX + 1);
    memcpy(big, cal, strlen(cal));
    ck_assert_int_eq(as_meeting_parse(unit_pool, big, AS_MEETING_CALENDAR_MAX + 1, 0, 0, &m, &err),
                     APR_EINVAL);
    ck_assert_str_eq(err, "calendar too large");
}
END_TEST

/* A zone rule libical would expand every minute since 2020: refused
 * before libical converts a time with it (it used to spin for minutes),
 * in a child limited to 10 s of CPU; 400 yearly rules (9 s) likewise.
 * An ordinary two-rule zone still parses. */
static int check_zone(int rules, const char *freq)
{
    apr_array_header_t *a = apr_array_make(unit_pool, rules + 4, sizeof(const char *));
    as_meeting_t *m = NULL;
    const char *err = NULL, *cal;
    int i;

    APR_ARRAY_PUSH(a, const char *) = "BEGIN:VCALENDAR\r\nBEGIN:VTIMEZONE\r\nTZID:E\r\n";
    for (i = 0; i < rules; i++) {
        APR_ARRAY_PUSH(a, const char *) = apr_psprintf(
            unit_pool,
            "BEGIN:%s\r\nDTSTART:16010101T0%d0000\r\nRRULE:FREQ=%s;BYMONTH=%d;BYDAY=1SU\r\n"
            "TZOFFSETFROM:-0400\r\nTZOFFSETTO:-0500\r\nEND:%s\r\n",
            i % 2 ? "DAYLIGHT" : "STANDARD", i % 10, freq, i % 12 + 1,
            i % 2 ? "DAYLIGHT" : "STANDARD");
    }
    APR_ARRAY_PUSH(a, const char *) =
        "END:VTIMEZONE\r\nBEGIN:VEVENT\r\nUID:x\r\nDTSTART;TZID=E:20370305T100000\r\n"
        "DTEND;TZID=E:20370305T110000\r\nEND:VEVENT\r\nEND:VCALENDAR\r\n";
    cal = apr_array_pstrcat(unit_pool, a, 0);
    if (as_meeting_parse(unit_pool, cal, strlen(cal), 0, 0, &m, &err) == APR_SUCCESS) {
        return rules <= 2 && !strcmp(freq, "YEARLY") ? 0 : 2;
    }
    return rules > 2 || strcmp(freq, "YEARLY") ? 0 : 3;
}

static void run_limited(int rules, const char *freq)
{
    int status = 0;
    pid_t pid = fork();
    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        struct rlimit cpu = {10, 10};
        setrlimit(RLIMIT_CPU, &cpu);
        _exit(check_zone(rules, freq));
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_msg(WIFEXITED(status), "%d %s rules: killed by signal %d (CPU limit)", rules, freq,
                  WIFSIGNALED(status) ? WTERMSIG(status) : -1);
    ck_assert_int_eq(WEXITSTATUS(status), 0);
}

START_TEST(costly_time_zones)
{
    run_limited(2, "YEARLY");
    run_limited(1, "MINUTELY");
    run_limited(400, "YEARLY");
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("mime_limits");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, unit_pool_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, thirty_thousand_recipients);
    tcase_add_test(tc, address_bytes_bound);
    tcase_add_test(tc, priority_headers);
    tcase_add_test(tc, meeting_bounds);
    tcase_add_test(tc, costly_time_zones);
    suite_add_tcase(s, tc);
    return s;
}
