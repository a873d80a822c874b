/* Fuzz target: the text/calendar invitation parser (as_meeting_parse, on
 * libical) and the MeetingRequest it writes for every protocol family.
 * The first input byte chooses a cancellation; the rest is the calendar.
 * Besides crashes it checks that a parsed invitation writes only valid
 * UTF-8 without XML-forbidden controls, and that a refusal has a reason.
 * The calendar is also answered (MeetingResponse's as_meeting_answer) as
 * an invitation and as the calendar's current file, the answer and an
 * occurrence chosen by the first byte: an answer that succeeds must parse
 * again as a calendar of the same UID.  The calendar made into the message
 * a SmartForward of a calendar item sends (as_meeting_as_message) must
 * have a header section and be as long as it says. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "activesync/as_command.h"
#include "activesync/as_meeting.h"
#include "activesync/as_utf8.h"
#include "fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    xmlInitParser();
    as_meeting_init();
    apr_pool_create(&root, NULL);
    return 0;
}

static void check_tree(xmlNodePtr n)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content) {
            const unsigned char *s = n->content;
            size_t len = strlen((const char *)s), i = 0;
            while (i < len) {
                size_t l = as_utf8_seq_xml(s + i, len - i);
                CHECK(l > 0 && (s[i] >= 0x20 || s[i] == '\t' || s[i] == '\n' || s[i] == '\r'));
                i += l;
            }
        }
        check_tree(n->children);
    }
}

/* as_meeting_answer on the input: a refusal has a reason; a file made
 * names the same UID. */
static void answer(apr_pool_t *p, const char *cal, size_t len, unsigned flags, int as_old)
{
    as_meeting_answer_t a;
    char *out = NULL;
    apr_size_t olen = 0;
    const char *err = NULL, *uid = as_meeting_uid_of(p, cal, len, NULL);
    apr_status_t rv;

    memset(&a, 0, sizeof a);
    a.response = 1 + (int)((flags >> 1) % 3);
    a.account = "ann@example.org";
    a.has_instance = (flags & 8) != 0;
    a.instance = apr_time_from_sec(1797512400);
    a.now = apr_time_from_sec(1796000000);
    rv = as_meeting_answer(p, as_old ? NULL : cal, as_old ? 0 : len, as_old ? cal : NULL,
                           as_old ? len : 0, &a, &out, &olen, &err);
    if (rv == APR_EINVAL) {
        CHECK(err && !out);
    } else if (rv == APR_SUCCESS && out) {
        const char *again = as_meeting_uid_of(p, out, olen, NULL);
        CHECK(strlen(out) == olen);
        CHECK(!uid || (again && !strcmp(again, uid)));
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int protocols[] = {121, 140, 141, 160, 161};
    apr_pool_t *p;
    as_meeting_t *m = NULL;
    const char *err = NULL;
    size_t i;

    if (size < 1) {
        return 0;
    }
    apr_pool_create(&p, root);
    if (as_meeting_parse(p, (const char *)data + 1, size - 1, data[0] & 1,
                         apr_time_from_sec(1700000000), &m, &err) == APR_SUCCESS) {
        CHECK(m && !err);
        for (i = 0; i < sizeof protocols / sizeof protocols[0]; i++) {
            xmlNodePtr r;
            xmlDocPtr doc = as_reply_new("AirSync:", "Sync", &r);
            as_meeting_add(p, r, m, protocols[i]);
            check_tree(r);
            xmlFreeDoc(doc);
        }
    } else {
        CHECK(!m && err);
    }
    answer(p, (const char *)data + 1, size - 1, data[0], 0);
    answer(p, (const char *)data + 1, size - 1, data[0], 1);
    {
        const char *msg = NULL;
        apr_size_t mlen = 0;
        if (as_meeting_as_message(p, (const char *)data + 1, size - 1, &msg, &mlen) ==
            APR_SUCCESS) {
            CHECK(msg && mlen > 0 && strlen(msg) == mlen && strstr(msg, "\n\n") != NULL);
        } else {
            CHECK(!msg);
        }
    }
    /* the GlobalObjId of the input as a UID */
    if (size <= AS_MEETING_UID_MAX && !memchr(data, 0, size)) {
        char *uid = apr_pstrmemdup(p, (const char *)data, size);
        CHECK(as_meeting_globalobjid(p, uid, 2024, 3, 5) != NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
