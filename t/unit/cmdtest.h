/* Helpers for unit tests of command handlers: request trees as the glue
 * hands them over (XML text -> WBXML -> decoded tree), a request/response
 * pair, XPath checks on replies, and schema validation of replies with
 * ../shared/conformance/validate-eas (skipped when the kit is not there:
 * unit_conformance). */
#ifndef AS_CMDTEST_H
#define AS_CMDTEST_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>
#include <apr_strings.h>
#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include "activesync/as_command.h"
#include "activesync/as_wbxml.h"
#include "unit.h"

/* XML text -> WBXML -> the decoded tree the glue would pass. */
static inline xmlDocPtr cmdtest_tree(const char *xml)
{
    xmlDocPtr src = xmlReadMemory(xml, (int)strlen(xml), "req.xml", NULL, XML_PARSE_NONET), dec;
    unsigned char *wb = NULL;
    apr_size_t wl = 0;
    ck_assert_msg(src != NULL, "bad test XML: %s", xml);
    ck_assert_int_eq(as_wbxml_encode(src, NULL, &wb, &wl), AS_WBXML_OK);
    xmlFreeDoc(src);
    ck_assert_int_eq(as_wbxml_decode(wb, wl, NULL, &dec, NULL), AS_WBXML_OK);
    free(wb);
    return dec;
}

/* The logger cmdtest_run() puts in the request (NULL: none); a test that
 * checks log lines sets it and puts it back. */
static __attribute__((unused)) const as_logger_t *cmdtest_log;

typedef struct cmdtest_t {
    as_request_t req;
    as_request_line_t line;
    as_response_t resp;
    apr_status_t rv;
} cmdtest_t;

/* Run a handler for account/device with the request xml (NULL: no body). */
static inline void cmdtest_run(cmdtest_t *t, as_command_fn *fn, as_db_t *db, const char *cmd,
                               const char *account, const char *devid, const char *devtype,
                               const char *version, const char *ua, const char *xml)
{
    memset(t, 0, sizeof(*t));
    t->line.cmd = cmd;
    t->line.device_id = devid;
    t->line.device_key = devid;
    t->line.device_type = devtype;
    t->req.pool = unit_pool;
    t->req.log = cmdtest_log;
    t->req.account = account;
    t->req.line = &t->line;
    t->req.protocol_version = version;
    t->req.user_agent = ua;
    t->req.body = xml ? cmdtest_tree(xml) : NULL;
    t->req.db = db;
    t->resp.http_status = 200;
    t->resp.headers = apr_table_make(unit_pool, 4);
    t->rv = fn(&t->req, &t->resp);
}

static inline void cmdtest_free(cmdtest_t *t)
{
    if (t->req.body) {
        xmlFreeDoc(t->req.body);
    }
    if (t->resp.doc) {
        xmlFreeDoc(t->resp.doc);
    }
    memset(t, 0, sizeof(*t));
}

/* XPath on a reply; prefixes p: Provision, s: Settings, plus the namespace
 * of every command root used in tests.  Returns the string value of the
 * expression (pool copy; "" for an empty node set). */
static inline xmlXPathObjectPtr cmdtest_eval(xmlDocPtr doc, const char *expr)
{
    static const char *const ns[][2] = {
        {"p", "Provision:"},    {"s", "Settings:"},        {"f", "FolderHierarchy:"},
        {"a", "AirSync:"},      {"ping", "Ping:"},         {"rm", "RightsManagement:"},
        {"v", "ValidateCert:"}, {"io", "ItemOperations:"}, {"find", "Find:"},
    };
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o;
    size_t i;
    ck_assert_ptr_nonnull(ctx);
    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        xmlXPathRegisterNs(ctx, BAD_CAST ns[i][0], BAD_CAST ns[i][1]);
    }
    o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    xmlXPathFreeContext(ctx);
    ck_assert_msg(o != NULL, "bad XPath %s", expr);
    return o;
}

static inline const char *xp(xmlDocPtr doc, const char *expr)
{
    xmlXPathObjectPtr o = cmdtest_eval(doc, expr);
    xmlChar *s = xmlXPathCastToString(o);
    const char *r = apr_pstrdup(unit_pool, (const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(o);
    return r;
}

static inline int xp_count(xmlDocPtr doc, const char *expr)
{
    char *e = apr_psprintf(unit_pool, "count(%s)", expr);
    xmlXPathObjectPtr o = cmdtest_eval(doc, e);
    int n = (int)xmlXPathCastToNumber(o);
    xmlXPathFreeObject(o);
    return n;
}

/* The reply as XML text (for failure messages). */
static inline const char *cmdtest_xml(xmlDocPtr doc)
{
    xmlChar *s = NULL;
    int n = 0;
    const char *r;
    xmlDocDumpMemory(doc, &s, &n);
    r = apr_pstrmemdup(unit_pool, (const char *)s, (apr_size_t)n);
    xmlFree(s);
    return r;
}

/* Encode the reply to WBXML and run validate-eas on it (or, with xml, on
 * the XML form: for tokens libwbxml cannot decode).  Without the kit the
 * check is skipped (and reported by the program's last TAP line). */
static inline void cmdtest_validate_as(xmlDocPtr doc, int xml)
{
    const char *validator = unit_conformance("validate-eas");
    char path[] = "/tmp/as-unit-reply-XXXXXX";
    int fd, rc;
    char *cmd;
    if (!validator) {
        return;
    }
    fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    if (xml) {
        xmlChar *s = NULL;
        int n = 0;
        xmlDocDumpMemory(doc, &s, &n);
        ck_assert_int_eq(write(fd, s, (size_t)n), n);
        xmlFree(s);
    } else {
        unsigned char *wb = NULL;
        apr_size_t wl = 0;
        ck_assert_int_eq(as_wbxml_encode(doc, NULL, &wb, &wl), AS_WBXML_OK);
        ck_assert_int_eq(write(fd, wb, wl), (ssize_t)wl);
        free(wb);
    }
    close(fd);
    cmd =
        apr_psprintf(unit_pool, "%s %s%s >%s.out 2>&1", validator, xml ? "--xml " : "", path, path);
    rc = system(cmd);
    if (rc != 0) {
        apr_size_t len;
        const char *out = "";
        FILE *f = fopen(apr_pstrcat(unit_pool, path, ".out", NULL), "r");
        if (f) {
            char *buf = apr_pcalloc(unit_pool, 8192);
            len = fread(buf, 1, 8191, f);
            (void)len;
            fclose(f);
            out = buf;
        }
        unlink(path);
        unlink(apr_pstrcat(unit_pool, path, ".out", NULL));
        ck_abort_msg("validate-eas rejected the reply:\n%s\n%s", cmdtest_xml(doc), out);
    }
    unlink(path);
    unlink(apr_pstrcat(unit_pool, path, ".out", NULL));
}

static inline void cmdtest_validate(xmlDocPtr doc)
{
    cmdtest_validate_as(doc, 0);
}

#endif
