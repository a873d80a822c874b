/* Fuzz target: an iCalendar file through the Calendar or Tasks codec to
 * EAS and back (as_item_codec.h).  The first input byte chooses the class
 * (bit 0) and the protocol (bits 1-3); the rest is the file.  Besides
 * crashes it checks that what goes to the phone is valid UTF-8 without
 * XML-forbidden controls, that the phone's copy sent back as a change of
 * the file makes a file, and that this file converts again. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "activesync/as_item_codec.h"
#include "activesync/as_meeting.h"
#include "activesync/as_utf8.h"
#include "activesync/as_xml.h"
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const int protocols[] = {121, 140, 141, 160, 161, 141, 141, 161};
    const as_item_codec_t *c;
    as_item_opts_t o;
    apr_pool_t *p;
    xmlDocPtr doc;
    xmlNodePtr app;
    char *file = NULL;
    apr_size_t flen = 0;

    if (size < 1) {
        return 0;
    }
    c = as_item_codec(data[0] & 1 ? AS_CLASS_TASKS : AS_CLASS_CALENDAR);
    CHECK(c != NULL);
    memset(&o, 0, sizeof o);
    o.protocol = protocols[(data[0] >> 1) & 7];
    apr_pool_create(&p, root);
    doc = as_reply_new("AirSync:", "ApplicationData", &app);
    if (c->to_eas((const char *)data + 1, size - 1, &o, app, p) == APR_SUCCESS) {
        check_tree(app);
        (void)c->uid_of((const char *)data + 1, size - 1, p);
        CHECK(c->from_eas(app, o.protocol, (const char *)data + 1, size - 1, NULL, p, &file,
                          &flen) == APR_SUCCESS);
        CHECK(file && strlen(file) == flen);
        xmlFreeDoc(doc);
        doc = as_reply_new("AirSync:", "ApplicationData", &app);
        CHECK(c->to_eas(file, flen, &o, app, p) == APR_SUCCESS);
        check_tree(app);
    }
    xmlFreeDoc(doc);
    apr_pool_destroy(p);
    return 0;
}
