/* as-wbxml: the mod_activesync WBXML codec on the command line.
 *
 *   as-wbxml encode IN.xml OUT.wbxml
 *   as-wbxml decode IN.wbxml OUT.xml
 *
 * "-" reads stdin / writes stdout.  XML input is read like libwbxml's
 * xml2wbxml reads it (namespaces xmlns="AirSync:", xmlns:email="Email:" ...;
 * a DOCTYPE is allowed but not needed), without network access, DTD loading
 * or entity expansion; ignorable blanks are dropped.  XML output is
 * indented, with the namespaces as the decoder builds them.
 *
 * Exit status: 0 done, 1 the codec refused the input, 2 usage or I/O error.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "activesync/as_wbxml.h"

static unsigned char *read_all(const char *path, size_t *len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    unsigned char *buf = NULL;
    size_t n = 0, cap = 0;

    if (!f) {
        fprintf(stderr, "as-wbxml: %s: %s\n", path, strerror(errno));
        return NULL;
    }
    for (;;) {
        size_t got;
        if (cap - n < 65536) {
            unsigned char *nb;
            cap = cap ? cap * 2 : 131072;
            nb = realloc(buf, cap);
            if (!nb) {
                fprintf(stderr, "as-wbxml: out of memory\n");
                free(buf);
                buf = NULL;
                break;
            }
            buf = nb;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror(f)) {
                fprintf(stderr, "as-wbxml: %s: read error\n", path);
                free(buf);
                buf = NULL;
            }
            break;
        }
    }
    if (f != stdin) {
        fclose(f);
    }
    *len = n;
    return buf;
}

static int write_all(const char *path, const void *buf, size_t len)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "wb") : stdout;
    int ok;

    if (!f) {
        fprintf(stderr, "as-wbxml: %s: %s\n", path, strerror(errno));
        return 0;
    }
    ok = fwrite(buf, 1, len, f) == len;
    ok = (f == stdout ? fflush(f) : fclose(f)) == 0 && ok;
    if (!ok) {
        fprintf(stderr, "as-wbxml: %s: write error\n", path);
    }
    return ok;
}

static int do_encode(const char *in, const char *out)
{
    size_t len;
    unsigned char *buf = read_all(in, &len), *wb;
    xmlDocPtr doc;
    apr_size_t wblen;
    as_wbxml_err_t rv;
    int ok;

    if (!buf) {
        return 2;
    }
    if (len > (size_t)INT32_MAX) {
        fprintf(stderr, "as-wbxml: %s: too large\n", in);
        free(buf);
        return 2;
    }
    doc = xmlReadMemory((const char *)buf, (int)len, strcmp(in, "-") ? in : "stdin", NULL,
                        XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    free(buf);
    if (!doc) {
        fprintf(stderr, "as-wbxml: %s: not well-formed XML\n", in);
        return 1;
    }
    rv = as_wbxml_encode(doc, NULL, &wb, &wblen);
    xmlFreeDoc(doc);
    if (rv != AS_WBXML_OK) {
        fprintf(stderr, "as-wbxml: %s: %s\n", in, as_wbxml_strerror(rv));
        return 1;
    }
    ok = write_all(out, wb, wblen);
    free(wb);
    return ok ? 0 : 2;
}

static int do_decode(const char *in, const char *out)
{
    size_t len;
    unsigned char *buf = read_all(in, &len);
    xmlDocPtr doc;
    xmlChar *xml = NULL;
    apr_size_t off = 0;
    as_wbxml_err_t rv;
    int xlen = 0, ok;

    if (!buf) {
        return 2;
    }
    rv = as_wbxml_decode(buf, len, NULL, &doc, &off);
    free(buf);
    if (rv != AS_WBXML_OK) {
        fprintf(stderr, "as-wbxml: %s: %s (at byte %lu)\n", in, as_wbxml_strerror(rv),
                (unsigned long)off);
        return 1;
    }
    xmlDocDumpFormatMemoryEnc(doc, &xml, &xlen, "UTF-8", 1);
    xmlFreeDoc(doc);
    if (!xml) {
        fprintf(stderr, "as-wbxml: out of memory\n");
        return 2;
    }
    ok = write_all(out, xml, (size_t)xlen);
    xmlFree(xml);
    return ok ? 0 : 2;
}

int main(int argc, char **argv)
{
    int rc;

    if (argc != 4 || (strcmp(argv[1], "encode") && strcmp(argv[1], "decode"))) {
        fprintf(stderr, "usage: as-wbxml encode IN.xml OUT.wbxml\n"
                        "       as-wbxml decode IN.wbxml OUT.xml\n");
        return 2;
    }
    xmlInitParser();
    rc = !strcmp(argv[1], "encode") ? do_encode(argv[2], argv[3]) : do_decode(argv[2], argv[3]);
    return rc;
}
