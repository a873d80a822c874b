/* Codec throughput, measured side by side on the same documents:
 *   ours-tree   WBXML -> libxml2 tree -> WBXML (what the module does per request)
 *   ours-text   WBXML -> tree -> XML text, XML text -> tree -> WBXML
 *   libwbxml    wbxml2xml + xml2wbxml (Debian's libwbxml2 0.11.8, same boundaries as ours-text)
 * Input: the XML documents given on the command line, encoded once by our
 * encoder; documents libwbxml cannot round-trip (code page 25 and the other
 * 16.1 tokens it lacks) are left out for all three.  Output: MB/s of WBXML
 * processed and the ratios. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <libxml/parser.h>
#include <wbxml.h>

#include "activesync/as_wbxml.h"

/* Exported by libwbxml2 but not declared in its installed headers. */
void wbxml_free(void *ptr);

typedef struct {
    unsigned char *wbxml;
    unsigned long len;
} doc_t;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static char *slurp(const char *path, long *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    if (!f) {
        return NULL;
    }
    fseek(f, 0, SEEK_END);
    *len = ftell(f);
    fseek(f, 0, SEEK_SET);
    buf = malloc(*len + 1);
    if (fread(buf, 1, *len, f) != (size_t)*len) {
        free(buf);
        fclose(f);
        return NULL;
    }
    buf[*len] = 0;
    fclose(f);
    return buf;
}

static int round_libwbxml(doc_t *docs, int n, const as_wbxml_limits_t *lim);

static int libwbxml_encode(const char *xml, unsigned long len, unsigned char **out,
                           unsigned long *outlen)
{
    WBXMLConvXML2WBXML *conv;
    WB_ULONG n = 0;
    int rc;
    if (wbxml_conv_xml2wbxml_create(&conv) != WBXML_OK) {
        return -1;
    }
    wbxml_conv_xml2wbxml_set_version(conv, WBXML_VERSION_13);
    wbxml_conv_xml2wbxml_disable_string_table(conv);
    wbxml_conv_xml2wbxml_disable_public_id(conv);
    rc = wbxml_conv_xml2wbxml_run(conv, (WB_UTINY *)xml, len, out, &n);
    wbxml_conv_xml2wbxml_destroy(conv);
    *outlen = n;
    return rc == WBXML_OK ? 0 : -1;
}

static int libwbxml_decode(const unsigned char *wb, unsigned long len, unsigned char **xml,
                           unsigned long *xmllen)
{
    WBXMLConvWBXML2XML *conv;
    WB_ULONG n = 0;
    int rc;
    if (wbxml_conv_wbxml2xml_create(&conv) != WBXML_OK) {
        return -1;
    }
    wbxml_conv_wbxml2xml_set_language(conv, WBXML_LANG_ACTIVESYNC);
    wbxml_conv_wbxml2xml_set_gen_type(conv, WBXML_GEN_XML_COMPACT);
    rc = wbxml_conv_wbxml2xml_run(conv, (WB_UTINY *)wb, len, xml, &n);
    wbxml_conv_wbxml2xml_destroy(conv);
    *xmllen = n;
    return rc == WBXML_OK ? 0 : -1;
}

/* Runs one round trip of every document; returns 0 on success. */
static int round_ours_tree(doc_t *docs, int n, const as_wbxml_limits_t *lim)
{
    int i;
    for (i = 0; i < n; i++) {
        xmlDocPtr d;
        unsigned char *out;
        apr_size_t outlen;
        if (as_wbxml_decode(docs[i].wbxml, docs[i].len, lim, &d, NULL) != AS_WBXML_OK) {
            return -1;
        }
        if (as_wbxml_encode(d, lim, &out, &outlen) != AS_WBXML_OK) {
            xmlFreeDoc(d);
            return -1;
        }
        free(out);
        xmlFreeDoc(d);
    }
    return 0;
}

static int round_ours_text(doc_t *docs, int n, const as_wbxml_limits_t *lim)
{
    int i;
    for (i = 0; i < n; i++) {
        xmlDocPtr d, d2;
        xmlChar *text;
        int textlen;
        unsigned char *out;
        apr_size_t outlen;
        if (as_wbxml_decode(docs[i].wbxml, docs[i].len, lim, &d, NULL) != AS_WBXML_OK) {
            return -1;
        }
        xmlDocDumpMemory(d, &text, &textlen);
        xmlFreeDoc(d);
        d2 = xmlReadMemory((const char *)text, textlen, NULL, NULL, XML_PARSE_NONET);
        xmlFree(text);
        if (!d2 || as_wbxml_encode(d2, lim, &out, &outlen) != AS_WBXML_OK) {
            xmlFreeDoc(d2);
            return -1;
        }
        free(out);
        xmlFreeDoc(d2);
    }
    return 0;
}

static int round_libwbxml(doc_t *docs, int n, const as_wbxml_limits_t *lim)
{
    int i;
    (void)lim;
    for (i = 0; i < n; i++) {
        unsigned char *xml, *out;
        unsigned long xmllen, outlen;
        if (libwbxml_decode(docs[i].wbxml, docs[i].len, &xml, &xmllen)) {
            return -1;
        }
        if (libwbxml_encode((const char *)xml, xmllen, &out, &outlen)) {
            wbxml_free(xml);
            return -1;
        }
        wbxml_free(xml);
        wbxml_free(out);
    }
    return 0;
}

typedef int round_fn(doc_t *, int, const as_wbxml_limits_t *);

/* MB/s of WBXML input over enough rounds to last about `seconds`. */
static double measure(round_fn *fn, doc_t *docs, int n, unsigned long bytes, double seconds,
                      const as_wbxml_limits_t *lim)
{
    double t0 = now(), t;
    long rounds = 0;
    do {
        if (fn(docs, n, lim) != 0) {
            return -1;
        }
        rounds++;
        t = now() - t0;
    } while (t < seconds);
    return (double)bytes * rounds / t / 1e6;
}

int main(int argc, char **argv)
{
    as_wbxml_limits_t lim;
    doc_t *docs = calloc(argc, sizeof(doc_t));
    int i, n = 0;
    unsigned long bytes = 0;
    double seconds = getenv("BENCH_SECONDS") ? atof(getenv("BENCH_SECONDS")) : 2.0;
    double tree, text, lib;

    xmlInitParser();
    as_wbxml_limits_default(&lim);
    for (i = 1; i < argc; i++) {
        long len;
        char *xml = slurp(argv[i], &len);
        xmlDocPtr d =
            xml ? xmlReadMemory(xml, len, NULL, NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS) : NULL;
        apr_size_t wlen = 0;
        free(xml);
        if (!d || as_wbxml_encode(d, &lim, &docs[n].wbxml, &wlen) != AS_WBXML_OK) {
            fprintf(stderr, "codec_bench: cannot encode %s\n", argv[i]);
            return 1;
        }
        xmlFreeDoc(d);
        docs[n].len = wlen;
        if (round_libwbxml(&docs[n], 1, &lim) != 0) {
            fprintf(stderr, "left out (libwbxml cannot round-trip it): %s\n", argv[i]);
            free(docs[n].wbxml);
            continue;
        }
        bytes += docs[n].len;
        n++;
    }
    if (n == 0) {
        fprintf(stderr, "usage: codec_bench DOC.xml...\n");
        return 2;
    }
    /* Interleave the three so that machine noise hits all of them alike. */
    tree = measure(round_ours_tree, docs, n, bytes, seconds, &lim);
    lib = measure(round_libwbxml, docs, n, bytes, seconds, &lim);
    text = measure(round_ours_text, docs, n, bytes, seconds, &lim);
    if (tree < 0 || lib < 0 || text < 0) {
        fprintf(stderr, "codec_bench: a round trip failed\n");
        return 1;
    }
    printf("codec: %d documents, %lu bytes of WBXML per round\n", n, bytes);
    printf("  ours  decode+encode (tree)      %8.1f MB/s   %.2fx libwbxml\n", tree, tree / lib);
    printf("  ours  decode+encode (XML text)  %8.1f MB/s   %.2fx libwbxml\n", text, text / lib);
    printf("  libwbxml wbxml2xml+xml2wbxml    %8.1f MB/s   1.00x\n", lib);
    return 0;
}
