/* Log-safe text and the trace4 dumps of the request handler.
 *
 * At "LogLevel activesync:trace4" the decoded request and the reply are
 * logged as XML, one log line per XML line, with the content of every
 * element named Password replaced, for the accounts and devices named by
 * ActiveSyncTraceAccount and ActiveSyncTraceDevice (for every request when
 * neither is set).  A dump is cut after MAX_DUMP bytes of XML. */
#include <string.h>

#include <apr_strings.h>

#include <httpd.h>
#include <http_log.h>

#include "activesync/as_account.h"
#include "mod_activesync_handler_ctx.h"
#include "mod_activesync_private.h"

#define MAX_DUMP (256 * 1024) /* bytes of XML dumped per document */

const char *mod_activesync_logsafe(apr_pool_t *p, const char *s, apr_size_t max)
{
    static const char hex[] = "0123456789abcdef";
    apr_size_t i, n;
    char *out, *o;

    if (!s) {
        return "(none)";
    }
    n = strlen(s);
    if (n > max) {
        n = max;
    }
    o = out = apr_palloc(p, n * 4 + 4);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c >= 0x7f || c == '\\') {
            *o++ = '\\';
            *o++ = 'x';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        } else {
            *o++ = (char)c;
        }
    }
    if (strlen(s) > max) {
        *o++ = '.';
        *o++ = '.';
        *o++ = '.';
    }
    *o = '\0';
    return out;
}

int mod_activesync_trace_wanted(handler_ctx_t *c)
{
    request_rec *r = c->r;
    int i;

    if (!APLOG_R_IS_LEVEL(r, APLOG_TRACE4)) {
        return 0;
    }
    if (c->conf.trace_accounts->nelts == 0 && c->conf.trace_devices->nelts == 0) {
        return 1;
    }
    for (i = 0; i < c->conf.trace_accounts->nelts; i++) {
        const char *want = APR_ARRAY_IDX(c->conf.trace_accounts, i, const char *);
        const char *canon = NULL, *err = NULL;
        if (as_account_canonical(r->pool, want, c->conf.default_domain, &canon, &err) !=
                APR_SUCCESS ||
            !canon) {
            canon = want;
        }
        if (c->account && !strcasecmp(canon, c->account)) {
            return 1;
        }
    }
    for (i = 0; i < c->conf.trace_devices->nelts; i++) {
        const char *want = APR_ARRAY_IDX(c->conf.trace_devices, i, const char *);
        if (c->line.device_id && !strcasecmp(want, c->line.device_id)) {
            return 1;
        }
    }
    return 0;
}

/* Replace the content of every element named Password, whatever its code
 * page (ItemOperations, Search, Provision ...). */
static void redact(xmlNodePtr node)
{
    for (; node; node = node->next) {
        if (node->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (!strcmp((const char *)node->name, "Password")) {
            xmlNodeSetContent(node, BAD_CAST "(redacted)");
            continue;
        }
        redact(node->children);
    }
}

void mod_activesync_trace_doc(handler_ctx_t *c, const char *what, xmlDocPtr doc)
{
    request_rec *r = c->r;
    xmlDocPtr copy;
    xmlChar *mem = NULL;
    int size = 0;
    char *text, *line, *next;

    copy = xmlCopyDoc(doc, 1);
    if (!copy) {
        return;
    }
    redact(xmlDocGetRootElement(copy));
    xmlDocDumpFormatMemoryEnc(copy, &mem, &size, "UTF-8", 1);
    xmlFreeDoc(copy);
    if (!mem || size < 0) { /* libxml2 reports the size as an int */
        xmlFree(mem);
        return;
    }
    ap_log_rerror(APLOG_MARK, APLOG_TRACE4, 0, r, ASLOGNO(11002) "%s of %s, %d bytes of XML:", what,
                  c->who, size);
    /* One log line per XML line; a huge document (attachments) is cut. */
    text = apr_pstrmemdup(r->pool, (const char *)mem,
                          size > MAX_DUMP ? (apr_size_t)MAX_DUMP : (apr_size_t)size);
    xmlFree(mem);
    for (line = text; line && *line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        if (!strncmp(line, "<?xml", 5) || !*line) {
            continue;
        }
        ap_log_rerror(APLOG_MARK, APLOG_TRACE4, 0, r, ASLOGNO(11003) "%s| %s", what,
                      mod_activesync_logsafe(r->pool, line, 4000));
    }
    if (size > MAX_DUMP) {
        ap_log_rerror(APLOG_MARK, APLOG_TRACE4, 0, r,
                      ASLOGNO(11009) "%s| (dump cut after %d of %d bytes)", what, MAX_DUMP, size);
    }
}
