/* Shared by the Contacts tests (test_contact*.c): a Sync reply to put
 * the converted items in, the conversion both ways, and field lookups. */
#ifndef CONTACTTEST_H
#define CONTACTTEST_H

#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <apr_base64.h>
#include <apr_strings.h>

#include "activesync/as_item_codec.h"
#include "activesync/as_utf8.h"
#include "activesync/as_wbxml.h"
#include "activesync/as_xml.h"
#include "mailgen.h"
#include "unit.h"

#define CT_FN static __attribute__((unused))

#define NS_C  "Contacts:"
#define NS_C2 "Contacts2:"
#define NS_B  "AirSyncBase:"

static const as_item_codec_t *codec;
static xmlDocPtr reply;
static xmlNodePtr commands;
static unsigned seq;
static char dir[512];

CT_FN void setup(void)
{
    xmlNodePtr root, coll;
    unit_pool_setup();
    codec = as_item_codec(AS_CLASS_CONTACTS);
    ck_assert_ptr_nonnull(codec);
    reply = as_reply_new("AirSync:", "Sync", &root);
    coll = as_xml_add(as_xml_add(root, "AirSync:", "Collections", NULL), "AirSync:", "Collection",
                      NULL);
    as_xml_add(coll, "AirSync:", "SyncKey", "{5b4c3a2e-0000-4000-8000-000000000001}2");
    as_xml_add(coll, "AirSync:", "CollectionId", "c1");
    as_xml_add(coll, "AirSync:", "Status", "1");
    commands = as_xml_add(coll, "AirSync:", "Commands", NULL);
    mg_tmpdir(dir, sizeof dir, "contact");
}

CT_FN void teardown(void)
{
    xmlFreeDoc(reply);
    mg_rmtree(dir);
    unit_pool_teardown();
}

/* A new ApplicationData in the reply (a server Add). */
CT_FN xmlNodePtr new_app(void)
{
    xmlNodePtr add = as_xml_add(commands, "AirSync:", "Add", NULL);
    as_xml_add(add, "AirSync:", "ServerId", apr_psprintf(unit_pool, "c1:%u", ++seq));
    return as_xml_add(add, "AirSync:", "ApplicationData", NULL);
}

CT_FN xmlNodePtr to_eas_opts(const char *vcard, const as_item_opts_t *o)
{
    xmlNodePtr app = new_app();
    ck_assert_int_eq(codec->to_eas(vcard, strlen(vcard), o, app, unit_pool), APR_SUCCESS);
    return app;
}

CT_FN xmlNodePtr to_eas(const char *vcard)
{
    as_item_opts_t o;
    memset(&o, 0, sizeof o);
    o.protocol = 161;
    return to_eas_opts(vcard, &o);
}

CT_FN char *from_eas(xmlNodePtr app, const char *old)
{
    char *out = NULL;
    apr_size_t len = 0;
    ck_assert_int_eq(
        codec->from_eas(app, 161, old, old ? strlen(old) : 0, "uid-new", unit_pool, &out, &len),
        APR_SUCCESS);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(strlen(out), len);
    return out;
}

CT_FN const char *field(xmlNodePtr app, const char *ns, const char *name)
{
    xmlNodePtr c = as_xml_child(app, ns, name);
    return c ? as_xml_text(unit_pool, c, NULL) : NULL;
}

#define ck_field(app, ns, name, want)                                                              \
    do {                                                                                           \
        const char *got_ = field(app, ns, name);                                                   \
        ck_assert_msg(got_ && !strcmp(got_, want), "%s: got '%s', want '%s'", name,                \
                      got_ ? got_ : "(none)", want);                                               \
    } while (0)

/* The children of a list element, joined with '|'. */
CT_FN const char *list(xmlNodePtr app, const char *ns, const char *name)
{
    xmlNodePtr l = as_xml_child(app, ns, name), c;
    const char *r = "";
    for (c = l ? l->children : NULL; c; c = c->next) {
        r = apr_pstrcat(unit_pool, r, *r ? "|" : "", as_xml_text(unit_pool, c, NULL), NULL);
    }
    return l ? r : NULL;
}

CT_FN const char *picture_b64(size_t bytes)
{
    char *bin = apr_palloc(unit_pool, bytes), *out;
    size_t i;
    for (i = 0; i < bytes; i++) {
        bin[i] = (char)(i * 7 + 3);
    }
    bin[0] = (char)0xFF;
    bin[1] = (char)0xD8;
    out = apr_palloc(unit_pool, apr_base64_encode_len((int)bytes));
    apr_base64_encode(out, bin, (int)bytes);
    return out;
}

/* ---- EAS -> vCard -> EAS ------------------------------------------------- */

/* The phone's ApplicationData from "ns|name|text" triples (NULL-ended). */
CT_FN xmlNodePtr phone_app(const char *const *f)
{
    xmlNodePtr app = new_app();
    int i;
    for (i = 0; f[i]; i += 3) {
        as_xml_add(app, f[i], f[i + 1], f[i + 2]);
    }
    return app;
}

CT_FN void add_list(xmlNodePtr app, const char *name, const char *child, const char *a,
                    const char *b)
{
    xmlNodePtr l = as_xml_add(app, NS_C, name, NULL);
    as_xml_add(l, NS_C, child, a);
    if (b) {
        as_xml_add(l, NS_C, child, b);
    }
}

CT_FN void add_body(xmlNodePtr app, const char *text)
{
    xmlNodePtr b = as_xml_add(app, NS_B, "Body", NULL);
    as_xml_add(b, NS_B, "Type", "1");
    as_xml_add(b, NS_B, "EstimatedDataSize", apr_itoa(unit_pool, (int)strlen(text)));
    as_xml_add(b, NS_B, "Truncated", "0");
    as_xml_add(b, NS_B, "Data", text);
}

CT_FN int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The elements of app as sorted "name=content" lines. */
CT_FN const char *sorted(xmlNodePtr app)
{
    const char *lines[256], *r = "";
    int n = 0, i;
    xmlNodePtr c;
    for (c = app->children; c && n < 256; c = c->next) {
        xmlChar *t = xmlNodeGetContent(c);
        lines[n++] = apr_psprintf(unit_pool, "%s%s=%s", c->ns ? (const char *)c->ns->href : "",
                                  (const char *)c->name, (const char *)t);
        xmlFree(t);
    }
    qsort(lines, (size_t)n, sizeof lines[0], cmp_str);
    for (i = 0; i < n; i++) {
        r = apr_pstrcat(unit_pool, r, lines[i], "\n", NULL);
    }
    return r;
}

/* A vCard with its folded lines joined. */
CT_FN const char *unfold(const char *s)
{
    char *o = apr_pstrdup(unit_pool, s), *w = o;
    for (; *s; s++) {
        if (s[0] == '\r' && s[1] == '\n' && (s[2] == ' ' || s[2] == '\t')) {
            s += 2;
            continue;
        }
        *w++ = *s;
    }
    *w = '\0';
    return o;
}

/* Every text below n valid UTF-8 without XML-forbidden controls. */
CT_FN void assert_clean(xmlNodePtr n)
{
    for (; n; n = n->next) {
        if (n->type == XML_TEXT_NODE && n->content) {
            const unsigned char *s = n->content;
            size_t len = strlen((const char *)s), i = 0;
            while (i < len) {
                size_t l = as_utf8_seq_xml(s + i, len - i);
                ck_assert_msg(l > 0, "invalid UTF-8 in output");
                ck_assert(s[i] >= 0x20 || s[i] == '\t' || s[i] == '\n' || s[i] == '\r');
                i += l;
            }
        }
        assert_clean(n->children);
    }
}

#endif
