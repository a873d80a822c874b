/* Fuzz target: incoming mail, MIME to EAS (as_mime_to_eas), the largest
 * surface an outsider controls.  Each input is one message, converted for
 * three clients (plain text with truncation and preview on 16.1, HTML on
 * 14.1, MIME on 12.1); every attachment it lists is fetched (a range, and
 * streamed).  The input is also fed to the HTML-to-text converter and to
 * the charset converter directly.
 *
 * Besides crashes it checks the promises of as_mime.h: every string in the
 * tree is valid UTF-8 without the controls XML forbids, a FileReference
 * parses back, a range is no longer than asked and the streamed total
 * equals the fetched total. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memfd_create */
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_portable.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "activesync/as_command.h"
#include "activesync/as_mime.h"
#include "activesync/as_utf8.h"
#include "activesync/as_wbxml.h"
#include "fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static apr_pool_t *root;
static int memfd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    xmlInitParser();
    as_mime_init();
    apr_pool_create(&root, NULL);
    memfd = memfd_create("fuzz_mime", 0);
    CHECK(memfd >= 0);
    return 0;
}

/* Valid UTF-8 with only TAB, LF and CR below U+0020. */
static int xml_text_ok(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t l = as_utf8_seq_xml((const unsigned char *)s + i, n - i);
        if (!l || ((unsigned char)s[i] < 0x20 && s[i] != '\t' && s[i] != '\n' && s[i] != '\r')) {
            return 0;
        }
        i += l;
    }
    return 1;
}

static void check_tree(xmlNodePtr n)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content) {
            CHECK(xml_text_ok((const char *)n->content, strlen((const char *)n->content)));
        }
        if (n->type == XML_ELEMENT_NODE && !as_wbxml_is_opaque(n)) {
            check_tree(n->children);
        }
    }
}

static apr_status_t count_sink(void *ctx, const unsigned char *data, apr_size_t len)
{
    (void)data;
    *(apr_off_t *)ctx += (apr_off_t)len;
    return APR_SUCCESS;
}

/* Every attachment of the item: a 100-byte range and the streamed size. */
static void fetch_attachments(apr_pool_t *p, apr_file_t *f, xmlNodePtr app)
{
    xmlNodePtr list, at, c;

    for (list = app->children; list; list = list->next) {
        if (strcmp((const char *)list->name, "Attachments")) {
            continue;
        }
        for (at = list->children; at; at = at->next) {
            for (c = at->children; c; c = c->next) {
                const char *ref = (const char *)c->children->content, *fid, *iid, *part;
                as_mime_attachment_t a, s;
                apr_off_t streamed = 0;
                if (strcmp((const char *)c->name, "FileReference")) {
                    continue;
                }
                CHECK(as_mime_fileref_parse(p, ref, &fid, &iid, &part) == APR_SUCCESS);
                if (as_mime_attachment(p, f, part, 1, 100, &a) != APR_SUCCESS) {
                    continue;
                }
                CHECK(a.len <= 100 && a.content_type && a.name);
                CHECK(as_mime_attachment_stream(p, f, part, count_sink, &streamed, &s) ==
                      APR_SUCCESS);
                CHECK(s.total == a.total && streamed == s.total);
            }
        }
    }
}

static void convert(apr_pool_t *p, apr_file_t *f, int protocol, int type, int mime_support,
                    apr_size_t truncation, int preview)
{
    as_mime_bodypref_t bp = {type, truncation, 0, preview};
    as_mime_opts_t o;
    xmlNodePtr r, app;
    xmlDocPtr doc = as_reply_new("AirSync:", "Sync", &r);
    const char *err = NULL;

    memset(&o, 0, sizeof o);
    o.folder_id = "k3h2a9f0";
    o.item_id = "0123456789abc";
    o.protocol = protocol;
    o.prefs = &bp;
    o.nprefs = 1;
    o.mime_support = mime_support;
    app = as_xml_add(r, "AirSync:", "ApplicationData", NULL);
    if (as_mime_to_eas(p, f, &o, app, &err) == APR_SUCCESS) {
        check_tree(app);
        if (type == 1) {
            fetch_attachments(p, f, app);
        }
    } else {
        CHECK(err != NULL);
    }
    xmlFreeDoc(doc);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const char *const charsets[] = {NULL,          "utf-8",     "iso-8859-1", "windows-1251",
                                           "iso-2022-jp", "shift_jis", "x-unknown",  "utf-16"};
    apr_pool_t *p;
    apr_file_t *f = NULL;
    apr_os_file_t fd = memfd;
    char *txt;
    apr_size_t n = 0;

    apr_pool_create(&p, root);
    CHECK(ftruncate(memfd, 0) == 0);
    CHECK(size == 0 || pwrite(memfd, data, size, 0) == (ssize_t)size);
    CHECK(apr_os_file_put(&f, &fd, APR_FOPEN_READ, p) == APR_SUCCESS);

    convert(p, f, 161, 1, 0, 100, 50);
    convert(p, f, 141, 2, 0, 0, 0);
    convert(p, f, 121, 4, 2, 2000, 0);

    txt = as_mime_html_to_text(p, (const char *)data, size);
    CHECK(txt && xml_text_ok(txt, strlen(txt)));
    txt = as_mime_to_utf8(p, (const char *)data, size, charsets[size % 8], &n);
    CHECK(txt && xml_text_ok(txt, n));
    apr_pool_destroy(p);
    return 0;
}
