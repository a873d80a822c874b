/* Fuzz target: the Contacts conversion (as_item_codec(AS_CLASS_CONTACTS),
 * evolution-data-server's EVCard underneath): a stored vCard -> EAS, the
 * phone sending that back as a Change -> the vCard to store, and that
 * vCard -> EAS again.  Besides crashes it checks that every text written
 * to EAS is valid UTF-8 without XML-forbidden controls, that a Change of a
 * readable vCard always makes a vCard that reads again with its UID, and
 * that an unreadable one is refused with APR_EINVAL. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "activesync/as_item_codec.h"
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

static apr_status_t free_doc(void *doc)
{
    xmlFreeDoc(doc);
    return APR_SUCCESS;
}

/* to_eas into a fresh ApplicationData; its status. */
static apr_status_t convert(const as_item_codec_t *c, const char *data, size_t len,
                            const as_item_opts_t *o, xmlNodePtr *app, apr_pool_t *p)
{
    xmlNodePtr r;
    xmlDocPtr doc = as_reply_new("AirSync:", "Sync", &r);
    apr_status_t rv;
    *app = as_xml_add(r, "AirSync:", "ApplicationData", NULL);
    rv = c->to_eas(data, len, o, *app, p);
    check_tree(r);
    apr_pool_cleanup_register(p, doc, free_doc, apr_pool_cleanup_null);
    return rv;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const as_item_codec_t *c = as_item_codec(AS_CLASS_CONTACTS);
    as_mime_bodypref_t pref = {1, 64, 0, 20};
    as_item_opts_t o = {161, &pref, 1, NULL, NULL};
    apr_pool_t *p;
    xmlNodePtr app, again;
    char *out = NULL;
    apr_size_t outlen = 0;
    const char *uid;

    apr_pool_create(&p, root);
    uid = c->uid_of((const char *)data, size, p);
    if (convert(c, (const char *)data, size, &o, &app, p) == APR_SUCCESS) {
        CHECK(c->from_eas(app, 161, (const char *)data, size, NULL, p, &out, &outlen) ==
              APR_SUCCESS);
        CHECK(out && strlen(out) == outlen);
        CHECK(convert(c, out, outlen, NULL, &again, p) == APR_SUCCESS);
        CHECK(c->uid_of(out, outlen, p) != NULL);
        if (uid && !strchr(uid, '\r') && !strchr(uid, '\n')) {
            CHECK(!strcmp(c->uid_of(out, outlen, p), uid)); /* the UID is kept */
        }
    } else {
        CHECK(uid == NULL);
    }
    apr_pool_destroy(p);
    return 0;
}
