/* Unit tests of the WBXML codec (mod_activesync/wbxml/as_wbxml_*.c). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_file_info.h>
#include <apr_strings.h>
#include <apr_tables.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include "activesync/as_codepages.h"
#include "activesync/as_wbxml.h"
#include "unit.h"

/* ---- helpers ------------------------------------------------------------- */

/* Hex string ("03 01 6A 00 ...", blanks ignored) to bytes in unit_pool. */
static unsigned char *hex(const char *s, apr_size_t *len)
{
    unsigned char *out = apr_palloc(unit_pool, strlen(s) / 2 + 1);
    apr_size_t n = 0;
    int hi = -1;

    for (; *s; s++) {
        int v;
        if (*s == ' ' || *s == '\n') {
            continue;
        }
        if (*s >= '0' && *s <= '9') {
            v = *s - '0';
        } else if (*s >= 'a' && *s <= 'f') {
            v = *s - 'a' + 10;
        } else if (*s >= 'A' && *s <= 'F') {
            v = *s - 'A' + 10;
        } else {
            ck_abort_msg("bad hex digit '%c'", *s);
            return NULL;
        }
        if (hi < 0) {
            hi = v;
        } else {
            out[n++] = (unsigned char)(hi << 4 | v);
            hi = -1;
        }
    }
    ck_assert_msg(hi < 0, "odd number of hex digits");
    *len = n;
    return out;
}

static const char *tohex(const unsigned char *b, apr_size_t n)
{
    char *s = apr_palloc(unit_pool, n * 3 + 1), *p = s;
    apr_size_t i;
    for (i = 0; i < n; i++) {
        p += sprintf(p, i ? " %02X" : "%02X", b[i]);
    }
    *p = '\0';
    return s;
}

static int all_blank(const xmlChar *s)
{
    for (; s && *s; s++) {
        if (*s != ' ' && *s != '\t' && *s != '\n' && *s != '\r') {
            return 0;
        }
    }
    return 1;
}

/* Canonical text of a tree: {ns}name[opaque](children) with text as "..."
 * (adjacent text merged; blank text beside element children dropped; ns
 * without trailing colon normalized). */
static void canon(xmlNodePtr n, apr_array_header_t *out)
{
    xmlNodePtr c;
    int has_elem = 0;
    const char *ns = n->ns && n->ns->href ? (const char *)n->ns->href : "";
    size_t nl = strlen(ns);
    char *text = NULL;

    APR_ARRAY_PUSH(out, const char *) =
        apr_psprintf(unit_pool, "{%.*s}%s%s(", (int)(nl && ns[nl - 1] == ':' ? nl - 1 : nl), ns,
                     (const char *)n->name, as_wbxml_is_opaque(n) ? "[opaque]" : "");
    for (c = n->children; c; c = c->next) {
        has_elem |= c->type == XML_ELEMENT_NODE;
    }
    for (c = n->children;; c = c->next) {
        if (c && (c->type == XML_TEXT_NODE || c->type == XML_CDATA_SECTION_NODE)) {
            text = apr_pstrcat(unit_pool, text ? text : "", (const char *)c->content, NULL);
            continue;
        }
        if (text && !(has_elem && all_blank(BAD_CAST text))) {
            APR_ARRAY_PUSH(out, const char *) = apr_psprintf(unit_pool, "\"%s\"", text);
        }
        text = NULL;
        if (!c) {
            break;
        }
        if (c->type == XML_ELEMENT_NODE) {
            canon(c, out);
        }
    }
    APR_ARRAY_PUSH(out, const char *) = ")";
}

static const char *canon_doc(xmlDocPtr doc)
{
    apr_array_header_t *a = apr_array_make(unit_pool, 64, sizeof(const char *));
    ck_assert_ptr_nonnull(xmlDocGetRootElement(doc));
    canon(xmlDocGetRootElement(doc), a);
    return apr_array_pstrcat(unit_pool, a, 0);
}

static xmlDocPtr parse_xml(const char *xml, apr_size_t len)
{
    xmlDocPtr doc =
        xmlReadMemory(xml, (int)len, "test.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
    ck_assert_msg(doc != NULL, "test XML not well-formed");
    return doc;
}

static xmlDocPtr decode_ok(const unsigned char *b, apr_size_t n)
{
    xmlDocPtr doc = NULL;
    apr_size_t off = 0;
    as_wbxml_err_t rv = as_wbxml_decode(b, n, NULL, &doc, &off);
    ck_assert_msg(rv == AS_WBXML_OK, "decode failed: %s at %lu", as_wbxml_strerror(rv),
                  (unsigned long)off);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static as_wbxml_err_t decode_err(const char *hexs, apr_size_t *off)
{
    apr_size_t n, o = 12345;
    const unsigned char *b = hex(hexs, &n);
    xmlDocPtr doc = (xmlDocPtr)1;
    as_wbxml_err_t rv = as_wbxml_decode(b, n, NULL, &doc, &o);
    ck_assert_msg(rv != AS_WBXML_OK, "decode of %s should fail", hexs);
    ck_assert_ptr_null(doc);
    ck_assert_uint_le(o, n);
    if (off) {
        *off = o;
    }
    return rv;
}

/* Encode doc and compare with the expected hex. */
static void encode_is(xmlDocPtr doc, const char *hexs)
{
    apr_size_t n, wn;
    const unsigned char *want = hex(hexs, &n);
    unsigned char *w = NULL;
    as_wbxml_err_t rv = as_wbxml_encode(doc, NULL, &w, &wn);

    ck_assert_msg(rv == AS_WBXML_OK, "encode failed: %s", as_wbxml_strerror(rv));
    ck_assert_msg(wn == n && !memcmp(w, want, n), "encoded\n  %s\nwanted\n  %s", tohex(w, wn),
                  tohex(want, n));
    free(w);
}

static as_wbxml_err_t encode_xml(const char *xml, unsigned char **w, apr_size_t *wn)
{
    xmlDocPtr doc = parse_xml(xml, strlen(xml));
    as_wbxml_err_t rv = as_wbxml_encode(doc, NULL, w, wn);
    xmlFreeDoc(doc);
    return rv;
}

static void xml_encodes_to(const char *xml, const char *hexs)
{
    xmlDocPtr doc = parse_xml(xml, strlen(xml));
    encode_is(doc, hexs);
    xmlFreeDoc(doc);
}

static as_wbxml_err_t xml_encode_err(const char *xml)
{
    unsigned char *w = (unsigned char *)1;
    apr_size_t wn = 99;
    as_wbxml_err_t rv = encode_xml(xml, &w, &wn);
    ck_assert_msg(rv != AS_WBXML_OK, "encode of %s should fail", xml);
    ck_assert_ptr_null(w);
    ck_assert_uint_eq(wn, 0);
    return rv;
}

/* Decode hex and compare with the canonical form of xml. */
static void decodes_to(const char *hexs, const char *xml)
{
    apr_size_t n;
    const unsigned char *b = hex(hexs, &n);
    xmlDocPtr got = decode_ok(b, n), want = parse_xml(xml, strlen(xml));
    const char *cg = canon_doc(got), *cw = canon_doc(want);
    ck_assert_msg(!strcmp(cg, cw), "decoded\n  %s\nwanted\n  %s", cg, cw);
    xmlFreeDoc(got);
    xmlFreeDoc(want);
}

/* Every prefix of a valid document must be rejected cleanly. */
static void all_prefixes_fail(const unsigned char *b, apr_size_t n)
{
    apr_size_t i;
    for (i = 0; i < n; i++) {
        xmlDocPtr doc = NULL;
        apr_size_t off = 0;
        as_wbxml_err_t rv = as_wbxml_decode(b, i, NULL, &doc, &off);
        ck_assert_msg(rv != AS_WBXML_OK, "prefix of %lu bytes (of %lu) decoded", (unsigned long)i,
                      (unsigned long)n);
        ck_assert_ptr_null(doc);
        ck_assert_uint_le(off, i);
    }
}

/* ---- the MS-ASWBXML section 3 example and the other vectors -------------- */

static const char ms_example_hex[] =
    "03 01 6A 00 45 5C 4F 50 03 43 6F 6E 74 61 63 74 73 00 01 4B 03 32 00 01 52 03 32 00 01 4E "
    "03 31 00 01 56 47 4D 03 32 3A 31 00 01 5D 00 11 4A 46 03 31 00 01 4C 03 30 00 01 4D 03 31 "
    "00 01 01 00 01 5E 03 46 75 6E 6B 2C 20 44 6F 6E 00 01 5F 03 44 6F 6E 00 01 69 03 46 75 6E "
    "6B 00 01 00 11 56 03 31 00 01 01 01 01 01 01 01";

static const char ms_example_xml[] =
    "<Sync xmlns='AirSync:' xmlns:asb='AirSyncBase:' xmlns:c='Contacts:'><Collections>"
    "<Collection><Class>Contacts</Class><SyncKey>2</SyncKey><CollectionId>2</CollectionId>"
    "<Status>1</Status><Commands><Add><ServerId>2:1</ServerId><ApplicationData>"
    "<asb:Body><asb:Type>1</asb:Type><asb:EstimatedDataSize>0</asb:EstimatedDataSize>"
    "<asb:Truncated>1</asb:Truncated></asb:Body><c:FileAs>Funk, Don</c:FileAs>"
    "<c:FirstName>Don</c:FirstName><c:LastName>Funk</c:LastName>"
    "<asb:NativeBodyType>1</asb:NativeBodyType></ApplicationData></Add></Commands>"
    "</Collection></Collections></Sync>";

START_TEST(ms_example_decodes)
{
    apr_size_t n;
    const unsigned char *b = hex(ms_example_hex, &n);
    xmlDocPtr doc = decode_ok(b, n);
    xmlNodePtr root = xmlDocGetRootElement(doc);

    decodes_to(ms_example_hex, ms_example_xml);
    /* namespaces as documented: root default, others prefixed */
    ck_assert_str_eq((const char *)root->name, "Sync");
    ck_assert_str_eq((const char *)root->ns->href, "AirSync:");
    ck_assert_ptr_null(root->ns->prefix);
    xmlFreeDoc(doc);
}
END_TEST

START_TEST(ms_example_encodes_back)
{
    apr_size_t n;
    const unsigned char *b = hex(ms_example_hex, &n);
    xmlDocPtr doc = decode_ok(b, n), x = parse_xml(ms_example_xml, strlen(ms_example_xml));

    encode_is(doc, ms_example_hex);
    encode_is(x, ms_example_hex);
    xmlFreeDoc(doc);
    xmlFreeDoc(x);
}
END_TEST

START_TEST(foldersync_vector)
{
    static const char h[] = "03 01 6A 00 00 07 56 52 03 30 00 01 01";
    static const char x[] =
        "<FolderSync xmlns='FolderHierarchy:'><SyncKey>0</SyncKey></FolderSync>";
    decodes_to(h, x);
    xml_encodes_to(x, h);
}
END_TEST

START_TEST(ping_vector)
{
    static const char h[] = "03 01 6A 00 00 0D 45 48 03 34 38 30 00 01 49 4A 4B 03 31 00 01 4C "
                            "03 45 6D 61 69 6C 00 01 01 01 01";
    static const char x[] = "<Ping xmlns='Ping:'><HeartbeatInterval>480</HeartbeatInterval>"
                            "<Folders><Folder><Id>1</Id><Class>Email</Class></Folder></Folders>"
                            "</Ping>";
    decodes_to(h, x);
    xml_encodes_to(x, h);
}
END_TEST

START_TEST(sanity_tokens)
{
    /* eas-protocol.md 2.3: AirSync Sync 45, Collections 5C, MoreAvailable 14,
     * Contacts FileAs 5E ... */
    xml_encodes_to("<Sync xmlns='AirSync:'><Collections><Collection><MoreAvailable/>"
                   "<WindowSize>5</WindowSize></Collection></Collections></Sync>",
                   "03 01 6A 00 45 5C 4F 14 55 03 35 00 01 01 01 01");
    xml_encodes_to("<Sync xmlns='AirSync:'><FileAs xmlns='Contacts:'>a</FileAs>"
                   "<LastName xmlns='Contacts:'>b</LastName></Sync>",
                   "03 01 6A 00 45 00 01 5E 03 61 00 01 69 03 62 00 01 01");
    /* ComposeMail SendMail 21:0x05, Email2 Send 22:0x17 (empty) */
    xml_encodes_to("<SendMail xmlns='ComposeMail:'><Send xmlns='Email2:'/></SendMail>",
                   "03 01 6A 00 00 15 45 00 16 17 01");
}
END_TEST

/* ---- corpus round trip ---------------------------------------------------- */

static apr_array_header_t *corpus_files(void)
{
    apr_array_header_t *files = apr_array_make(unit_pool, 80, sizeof(const char *));
    const char *dir = AS_SRCDIR "/t/data/wbxml";
    apr_dir_t *d;
    apr_finfo_t fi;

    ck_assert_msg(apr_dir_open(&d, dir, unit_pool) == APR_SUCCESS, "cannot open %s", dir);
    while (apr_dir_read(&fi, APR_FINFO_NAME | APR_FINFO_TYPE, d) == APR_SUCCESS) {
        size_t l = strlen(fi.name);
        if (l > 4 && !strcmp(fi.name + l - 4, ".xml")) {
            APR_ARRAY_PUSH(files, const char *) =
                apr_pstrcat(unit_pool, "t/data/wbxml/", fi.name, NULL);
        }
    }
    apr_dir_close(d);
    return files;
}

static void note_pages(xmlNodePtr n, int *pages)
{
    for (; n; n = n->next) {
        if (n->type == XML_ELEMENT_NODE) {
            int p = n->ns ? as_codepage_by_ns((const char *)n->ns->href) : -1;
            ck_assert_msg(p >= 0, "element %s without EAS namespace", n->name);
            pages[p] = 1;
            note_pages(n->children, pages);
        }
    }
}

START_TEST(corpus_round_trip)
{
    apr_array_header_t *files = corpus_files();
    int pages[AS_CODEPAGE_COUNT] = {0}, i;

    ck_assert_int_ge(files->nelts, 40);
    for (i = 0; i < files->nelts; i++) {
        const char *f = APR_ARRAY_IDX(files, i, const char *);
        apr_size_t len, wn, wn2;
        const char *xml = unit_read_file(f, &len);
        xmlDocPtr src = parse_xml(xml, len), dec, dec2;
        unsigned char *w, *w2;
        as_wbxml_err_t rv;
        const char *c1, *c2;

        note_pages(xmlDocGetRootElement(src), pages);
        rv = as_wbxml_encode(src, NULL, &w, &wn);
        ck_assert_msg(rv == AS_WBXML_OK, "%s: encode: %s", f, as_wbxml_strerror(rv));
        ck_assert_msg(wn > 4 && !memcmp(w, "\x03\x01\x6a\x00", 4), "%s: header", f);
        dec = decode_ok(w, wn);
        c1 = canon_doc(src);
        c2 = canon_doc(dec);
        ck_assert_msg(!strcmp(c1, c2), "%s: decode(encode(doc)) != doc\n%s\n%s", f, c1, c2);
        /* and the decoded tree encodes to the same bytes */
        rv = as_wbxml_encode(dec, NULL, &w2, &wn2);
        ck_assert_int_eq(rv, AS_WBXML_OK);
        ck_assert_msg(wn == wn2 && !memcmp(w, w2, wn), "%s: encode(decode(b)) != b", f);
        dec2 = decode_ok(w2, wn2);
        ck_assert_str_eq(canon_doc(dec2), c2);
        /* truncation anywhere is an error, never a crash */
        if (wn < 4096) {
            all_prefixes_fail(w, wn);
        }
        free(w);
        free(w2);
        xmlFreeDoc(src);
        xmlFreeDoc(dec);
        xmlFreeDoc(dec2);
    }
    for (i = 0; i < AS_CODEPAGE_COUNT; i++) {
        ck_assert_msg(pages[i], "code page %d not used by the corpus", i);
    }
}
END_TEST

START_TEST(truncated_everywhere)
{
    apr_size_t n;
    const unsigned char *b = hex(ms_example_hex, &n);
    all_prefixes_fail(b, n);
    b = hex("03 01 6A 00 00 0D 45 48 03 34 38 30 00 01 49 4A 4B 03 31 00 01 4C "
            "03 45 6D 61 69 6C 00 01 01 01 01",
            &n);
    all_prefixes_fail(b, n);
    b = hex("03 01 6A 00 45 4B C3 81 00 00 01", &n); /* declared OPAQUE of 128 */
    ck_assert_int_eq(decode_err("03 01 6A 00 45 4B C3 81 00 00 01", NULL), AS_WBXML_E_TRUNCATED);
    b = hex("03 00 05 6A 06 61 62 00 63 00 00 45 4B 83 03 01 01", &n);
    all_prefixes_fail(b, n);
    xmlFreeDoc(decode_ok(b, n));
}
END_TEST

/* ---- structure and tokens ------------------------------------------------- */

START_TEST(switch_page_before_end)
{
    /* Thunderbird: SWITCH_PAGE right before END; and before the root. */
    decodes_to("03 01 6A 00 45 5C 4F 4B 03 31 00 01 00 07 01 01 00 11 01",
               "<Sync xmlns='AirSync:'><Collections><Collection><SyncKey>1</SyncKey>"
               "</Collection></Collections></Sync>");
    decodes_to("03 01 6A 00 00 07 00 00 00 0D 45 00 00 00 0D 01", "<Ping xmlns='Ping:'/>");
    /* page persists across END */
    decodes_to("03 01 6A 00 45 00 11 4A 46 03 31 00 01 01 56 01 01",
               "<Sync xmlns='AirSync:' xmlns:b='AirSyncBase:'><b:Body><b:Type>1</b:Type></b:Body>"
               "<b:NativeBodyType/></Sync>");
}
END_TEST

START_TEST(empty_elements)
{
    static const char x[] = "<Sync xmlns='AirSync:'><GetChanges/><SyncKey/></Sync>";
    decodes_to("03 01 6A 00 45 13 0B 01", x);                         /* no content bit */
    decodes_to("03 01 6A 00 45 53 01 4B 01 01", x);                   /* content bit + END */
    decodes_to("03 01 6A 00 45 53 03 00 01 4B 03 00 03 00 01 01", x); /* empty strings */
    decodes_to("03 01 6A 00 05", "<Sync xmlns='AirSync:'/>");
    decodes_to("03 01 6A 00 45 01", "<Sync xmlns='AirSync:'/>");
    xml_encodes_to(x, "03 01 6A 00 45 13 0B 01");
    xml_encodes_to("<Sync xmlns='AirSync:'><GetChanges></GetChanges><SyncKey>"
                   "<!-- nothing --></SyncKey></Sync>",
                   "03 01 6A 00 45 13 0B 01");
    xml_encodes_to("<Sync xmlns='AirSync:'/>", "03 01 6A 00 05");
}
END_TEST

START_TEST(strings_merge_and_blanks)
{
    /* consecutive strings make one text node */
    decodes_to("03 01 6A 00 45 4B 03 61 00 03 62 63 00 03 00 01 01",
               "<Sync xmlns='AirSync:'><SyncKey>abc</SyncKey></Sync>");
    /* blank strings between elements are dropped, blanks in leaves kept */
    decodes_to("03 01 6A 00 45 03 0A 20 00 4B 03 20 31 0A 00 01 03 20 00 14 03 09 00 01",
               "<Sync xmlns='AirSync:'><SyncKey> 1\n</SyncKey><MoreAvailable/></Sync>");
    /* indented XML encodes like compact XML; blank leaf text is data */
    xml_encodes_to("<Sync xmlns='AirSync:'>\n  <SyncKey>1</SyncKey>\n  <Status> </Status>\n"
                   "</Sync>\n",
                   "03 01 6A 00 45 4B 03 31 00 01 4E 03 20 00 01 01");
    /* mixed content (not EAS, but representable) round trips */
    decodes_to("03 01 6A 00 45 03 61 00 14 03 62 00 01",
               "<Sync xmlns='AirSync:'>a<MoreAvailable/>b</Sync>");
    xml_encodes_to("<Sync xmlns='AirSync:'>a<MoreAvailable/>b</Sync>",
                   "03 01 6A 00 45 03 61 00 14 03 62 00 01");
    /* entities and character references are plain text */
    xml_encodes_to("<Sync xmlns='AirSync:'><SyncKey>&lt;&amp;&#x263A;</SyncKey></Sync>",
                   "03 01 6A 00 45 4B 03 3C 26 E2 98 BA 00 01 01");
}
END_TEST

START_TEST(attribute_tokens_rejected)
{
    apr_size_t off;
    ck_assert_int_eq(decode_err("03 01 6A 00 C5 01 01", &off), AS_WBXML_E_ATTR);
    ck_assert_uint_eq(off, 4);
    ck_assert_int_eq(decode_err("03 01 6A 00 85 01", NULL), AS_WBXML_E_ATTR);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 CB 01 01 01", &off), AS_WBXML_E_ATTR);
    ck_assert_uint_eq(off, 5);
    ck_assert_int_eq(decode_err("03 01 6A 00 84 00 01", NULL), AS_WBXML_E_ATTR); /* LITERAL_A */
    ck_assert_int_eq(decode_err("03 01 6A 00 45 C4 00 01 01", NULL), AS_WBXML_E_ATTR); /* _AC */
}
END_TEST

START_TEST(ext_tokens_rejected)
{
    static const char *const tok[] = {"02", "04", "40", "41", "42", "43", "44",
                                      "80", "81", "82", "C0", "C1", "C2"};
    size_t i;
    for (i = 0; i < sizeof(tok) / sizeof(tok[0]); i++) {
        apr_size_t off;
        char *h = apr_psprintf(unit_pool, "03 01 6A 00 45 %s 00 00 01", tok[i]);
        ck_assert_msg(decode_err(h, &off) == AS_WBXML_E_EXT, "token %s", tok[i]);
        ck_assert_uint_eq(off, 5);
        /* also as the very first body token */
        h = apr_psprintf(unit_pool, "03 01 6A 00 %s 00 00", tok[i]);
        ck_assert_msg(decode_err(h, NULL) == AS_WBXML_E_EXT, "token %s first", tok[i]);
    }
}
END_TEST

START_TEST(unknown_tokens_and_pages)
{
    apr_size_t off;
    /* AirSync has nothing at 0x3F, MeetingResponse nothing at 0x0F */
    ck_assert_int_eq(decode_err("03 01 6A 00 45 7F 01 01", &off), AS_WBXML_E_TOKEN);
    ck_assert_uint_eq(off, 5);
    ck_assert_int_eq(decode_err("03 01 6A 00 00 08 0F", NULL), AS_WBXML_E_TOKEN);
    /* pages 26 and 255 do not exist */
    ck_assert_int_eq(decode_err("03 01 6A 00 00 1A 45 01", &off), AS_WBXML_E_PAGE);
    ck_assert_uint_eq(off, 4);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 00 FF 01", NULL), AS_WBXML_E_PAGE);
    /* page 25 (Find) exists */
    decodes_to("03 01 6A 00 00 19 45 01", "<Find xmlns='Find:'/>");
}
END_TEST

START_TEST(structure_errors)
{
    ck_assert_int_eq(decode_err("03 01 6A 00 01", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 03 61 00 45 01", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 C3 01 00 45 01", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 01 45 01", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 05 05", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 01 01", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 01 00", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00", NULL), AS_WBXML_E_TRUNCATED);
    ck_assert_int_eq(decode_err("03 01 6A 00 00 00", NULL), AS_WBXML_E_TRUNCATED);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 4B 03 61", NULL), AS_WBXML_E_TRUNCATED);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 00", NULL), AS_WBXML_E_TRUNCATED);
}
END_TEST

START_TEST(header_errors)
{
    ck_assert_int_eq(decode_err("", NULL), AS_WBXML_E_TRUNCATED);
    ck_assert_int_eq(decode_err("00 01 6A 00 45 01", NULL), AS_WBXML_E_HEADER);
    ck_assert_int_eq(decode_err("04 01 6A 00 45 01", NULL), AS_WBXML_E_HEADER);
    ck_assert_int_eq(decode_err("03 01 04 00 45 01", NULL), AS_WBXML_E_HEADER); /* latin-1 */
    ck_assert_int_eq(decode_err("03 01 00 00 45 01", NULL), AS_WBXML_E_HEADER);
    ck_assert_int_eq(decode_err("03 81 81 81 81 81 01 6A 00 45 01", NULL), AS_WBXML_E_INTEGER);
    ck_assert_int_eq(decode_err("03 90 80 80 80 00 6A 00 45 01", NULL), AS_WBXML_E_INTEGER);
    ck_assert_int_eq(decode_err("03 01 6A 8F FF FF FF 7F 45 01", NULL), AS_WBXML_E_STRTBL);
    ck_assert_int_eq(decode_err("03 01", NULL), AS_WBXML_E_TRUNCATED);
    ck_assert_int_eq(decode_err("03 01 6A", NULL), AS_WBXML_E_TRUNCATED);
    /* accepted: versions 1.1-1.3, other public ids, 2-byte charset 00 6A,
     * public id 0 + string-table index */
    decodes_to("01 01 6A 00 05", "<Sync xmlns='AirSync:'/>");
    decodes_to("02 04 6A 00 05", "<Sync xmlns='AirSync:'/>");
    decodes_to("03 81 01 80 6A 00 05", "<Sync xmlns='AirSync:'/>");
    decodes_to("03 01 80 6A 80 00 05", "<Sync xmlns='AirSync:'/>"); /* non-minimal */
    decodes_to("03 00 00 6A 03 61 62 00 05", "<Sync xmlns='AirSync:'/>");
    ck_assert_int_eq(decode_err("03 00 03 6A 03 61 62 00 05", NULL), AS_WBXML_E_STRTBL);
    ck_assert_int_eq(decode_err("03 00 00 6A 02 61 62 05", NULL), AS_WBXML_E_STRTBL);
}
END_TEST

START_TEST(string_table)
{
    apr_size_t off;
    /* table "ab\0c\xC3\xA9\0"; references at 0, 3, 1 */
    decodes_to("03 01 6A 07 61 62 00 63 C3 A9 00 45 4B 83 00 01 52 83 03 01 4E 83 01 03 21 00 01 "
               "01",
               "<Sync xmlns='AirSync:'><SyncKey>ab</SyncKey><CollectionId>c\xC3\xA9</CollectionId>"
               "<Status>b!</Status></Sync>");
    /* out of range, at the end, unterminated, middle of a character */
    ck_assert_int_eq(decode_err("03 01 6A 03 61 62 00 45 4B 83 03 01 01", &off), AS_WBXML_E_STRTBL);
    ck_assert_uint_eq(off, 9);
    ck_assert_int_eq(decode_err("03 01 6A 03 61 62 00 45 4B 83 8F 7F 01 01", NULL),
                     AS_WBXML_E_STRTBL);
    ck_assert_int_eq(decode_err("03 01 6A 02 61 62 45 4B 83 00 01 01", NULL), AS_WBXML_E_STRTBL);
    ck_assert_int_eq(decode_err("03 01 6A 03 C3 A9 00 45 4B 83 01 01 01", NULL), AS_WBXML_E_UTF8);
    /* table itself not UTF-8 */
    ck_assert_int_eq(decode_err("03 01 6A 02 FF 00 45 01", NULL), AS_WBXML_E_UTF8);
    /* longer than the input */
    ck_assert_int_eq(decode_err("03 01 6A 10 61 00 45 01", NULL), AS_WBXML_E_STRTBL);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 4B 83", NULL), AS_WBXML_E_TRUNCATED);
    ck_assert_int_eq(decode_err("03 01 6A 00 83 00 45 01", NULL), AS_WBXML_E_STRUCTURE);
}
END_TEST

START_TEST(string_table_amplification_bounded)
{
    /* a 1000-byte string referenced 2000 times would make 2 MB of text */
    as_wbxml_limits_t lim;
    apr_size_t n = 0, i;
    unsigned char *b = malloc(8 + 1001 + 3 * 2000 + 4);
    xmlDocPtr doc = NULL;

    b[n++] = 3;
    b[n++] = 1;
    b[n++] = 0x6A;
    b[n++] = 0x87; /* 1001 = 0x3E9 -> 87 69 */
    b[n++] = 0x69;
    memset(b + n, 'x', 1000);
    n += 1000;
    b[n++] = 0;
    b[n++] = 0x45;
    b[n++] = 0x4B;
    for (i = 0; i < 2000; i++) {
        b[n++] = 0x83;
        b[n++] = 0;
    }
    b[n++] = 1;
    b[n++] = 1;
    as_wbxml_limits_default(&lim);
    lim.max_size = 1 << 20;
    ck_assert_int_eq(as_wbxml_decode(b, n, &lim, &doc, NULL), AS_WBXML_E_LIMIT);
    ck_assert_ptr_null(doc);
    lim.max_size = 4 << 20;
    ck_assert_int_eq(as_wbxml_decode(b, n, &lim, &doc, NULL), AS_WBXML_OK);
    ck_assert_uint_eq(strlen((const char *)xmlDocGetRootElement(doc)->children->children->content),
                      2000000);
    xmlFreeDoc(doc);
    free(b);
}
END_TEST

START_TEST(utf8_validation)
{
    static const char *const bad[] = {
        "C0 80",       /* overlong NUL */
        "C1 BF",       /* overlong */
        "E0 80 80",    /* overlong */
        "ED A0 80",    /* surrogate */
        "F4 90 80 80", /* > U+10FFFF */
        "F5 80 80 80", "FF", "80", "C3", "E2 98", "C3 28", "F0 9F 98",
    };
    size_t i;
    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char *h = apr_psprintf(unit_pool, "03 01 6A 00 45 4B 03 41 %s 00 01 01", bad[i]);
        ck_assert_msg(decode_err(h, NULL) == AS_WBXML_E_UTF8, "%s accepted", bad[i]);
    }
    /* the longest valid forms pass; long ASCII runs take the fast path */
    decodes_to("03 01 6A 00 45 4B 03 41 C2 80 DF BF E0 A0 80 EF BF BD F0 90 80 80 F4 8F BF BF "
               "41 42 43 44 45 46 47 48 49 4A 00 01 01",
               "<Sync xmlns='AirSync:'><SyncKey>A\xC2\x80\xDF\xBF\xE0\xA0\x80\xEF\xBF\xBD"
               "\xF0\x90\x80\x80\xF4\x8F\xBF\xBF"
               "ABCDEFGHIJ</SyncKey></Sync>");
    /* a bad byte after 8-byte aligned ASCII */
    ck_assert_int_eq(decode_err("03 01 6A 00 45 4B 03 41 41 41 41 41 41 41 41 41 41 41 41 41 41 "
                                "41 41 FE 00 01 01",
                                NULL),
                     AS_WBXML_E_UTF8);
}
END_TEST

START_TEST(limits)
{
    as_wbxml_limits_t lim;
    apr_size_t n;
    const unsigned char *b = hex(ms_example_hex, &n); /* depth 8, 19 elements */
    xmlDocPtr doc = NULL;
    unsigned char *w;
    apr_size_t wn;

    as_wbxml_limits_default(&lim);
    ck_assert_uint_eq(lim.max_size, 32u << 20);
    ck_assert_uint_eq(lim.max_depth, 64);
    ck_assert_uint_eq(lim.max_elements, 500000);

    lim.max_depth = 7;
    ck_assert_int_eq(as_wbxml_decode(b, n, &lim, &doc, NULL), AS_WBXML_E_LIMIT);
    lim.max_depth = 8;
    ck_assert_int_eq(as_wbxml_decode(b, n, &lim, &doc, NULL), AS_WBXML_OK);
    lim.max_depth = 7;
    ck_assert_int_eq(as_wbxml_encode(doc, &lim, &w, &wn), AS_WBXML_E_LIMIT);
    lim.max_depth = 8;
    lim.max_elements = 18;
    ck_assert_int_eq(as_wbxml_encode(doc, &lim, &w, &wn), AS_WBXML_E_LIMIT);
    lim.max_elements = 19;
    lim.max_size = n - 1;
    ck_assert_int_eq(as_wbxml_encode(doc, &lim, &w, &wn), AS_WBXML_E_LIMIT);
    lim.max_size = n;
    ck_assert_int_eq(as_wbxml_encode(doc, &lim, &w, &wn), AS_WBXML_OK);
    free(w);
    xmlFreeDoc(doc);

    as_wbxml_limits_default(&lim);
    lim.max_elements = 18;
    ck_assert_int_eq(as_wbxml_decode(b, n, &lim, &doc, NULL), AS_WBXML_E_LIMIT);
    lim.max_elements = 19;
    ck_assert_int_eq(as_wbxml_decode(b, n, &lim, &doc, NULL), AS_WBXML_OK);
    xmlFreeDoc(doc);
    lim.max_size = n - 1;
    ck_assert_int_eq(as_wbxml_decode(b, n, &lim, &doc, NULL), AS_WBXML_E_LIMIT);
    ck_assert_ptr_null(doc);
}
END_TEST

START_TEST(deep_nesting_rejected)
{
    /* 100000 nested Collections with the default depth limit */
    apr_size_t n = 100000, i;
    unsigned char *b = malloc(4 + 2 * n);
    xmlDocPtr doc = NULL;
    apr_size_t off = 0;

    memcpy(b, "\x03\x01\x6a\x00", 4);
    for (i = 0; i < n; i++) {
        b[4 + i] = 0x5C;
        b[4 + n + i] = 0x01;
    }
    ck_assert_int_eq(as_wbxml_decode(b, 4 + 2 * n, NULL, &doc, &off), AS_WBXML_E_LIMIT);
    ck_assert_uint_eq(off, 4 + 64);
    free(b);
}
END_TEST

START_TEST(many_siblings_linear)
{
    /* 200000 empty siblings and 200000 strings: must be quick (no quadratic
     * appends) and round trip */
    apr_size_t n = 200000, i, k = 0, wn;
    unsigned char *b = malloc(4 + 1 + n + 1 + 3 + 3 * n + 2 + 1), *w;
    xmlDocPtr doc;

    memcpy(b, "\x03\x01\x6a\x00", 4);
    k = 4;
    b[k++] = 0x45;
    for (i = 0; i < n; i++) {
        b[k++] = 0x14;
    }
    b[k++] = 0x4B;
    for (i = 0; i < n; i++) {
        b[k++] = 0x03;
        b[k++] = 'a';
        b[k++] = 0x00;
    }
    b[k++] = 0x01;
    b[k++] = 0x01;
    doc = decode_ok(b, k);
    ck_assert_int_eq(as_wbxml_encode(doc, NULL, &w, &wn), AS_WBXML_OK);
    ck_assert_uint_eq(wn, 4 + 1 + n + 1 + 1 + n + 1 + 1 + 1);
    free(w);
    xmlFreeDoc(doc);
    free(b);
}
END_TEST

/* ---- OPAQUE --------------------------------------------------------------- */

START_TEST(opaque_round_trip)
{
    static const unsigned char bytes[] = {0x00, 0x01, 0x02, 0xFF, 0x00, 0x80, 0x0A};
    static const char h[] = "03 01 6A 00 00 16 49 C3 07 00 01 02 FF 00 80 0A 01";
    apr_size_t n, wn, blen;
    const unsigned char *b = hex(h, &n), *data;
    xmlDocPtr doc = decode_ok(b, n);
    xmlNodePtr root = xmlDocGetRootElement(doc), c = root->children;
    unsigned char *w;

    /* ConversationId marked, base64 of the bytes; empty ConversationIndex */
    ck_assert_str_eq((const char *)root->name, "ConversationId");
    ck_assert(as_wbxml_is_opaque(root));
    ck_assert_str_eq((const char *)c->content, "AAEC/wCACg==");
    ck_assert(as_wbxml_node_bytes(root, unit_pool, &data, &blen) == AS_WBXML_OK);
    ck_assert_uint_eq(blen, sizeof(bytes));
    ck_assert(!memcmp(data, bytes, sizeof(bytes)));
    xmlFreeDoc(doc);

    b = hex("03 01 6A 00 00 16 45 49 C3 07 00 01 02 FF 00 80 0A 01 4A C3 00 01 01", &n);
    doc = decode_ok(b, n);
    ck_assert_int_eq(as_wbxml_encode(doc, NULL, &w, &wn), AS_WBXML_OK);
    ck_assert_msg(wn == n && !memcmp(w, b, n), "%s", tohex(w, wn));
    free(w);
    xmlFreeDoc(doc);
}
END_TEST

START_TEST(opaque_forms)
{
    apr_size_t blen;
    const unsigned char *data;
    unsigned char big[300];
    xmlDocPtr doc;
    xmlNodePtr root, e;
    size_t i;

    /* several OPAQUE tokens concatenate; SWITCH_PAGE between them is fine */
    decodes_to("03 01 6A 00 00 15 50 C3 02 41 42 00 15 C3 01 43 01",
               "<Mime xmlns='ComposeMail:' xmlns:as='urn:mod-activesync:wbxml' "
               "as:opaque='base64'>QUJD</Mime>");
    /* mixing OPAQUE with strings or elements is refused */
    ck_assert_int_eq(decode_err("03 01 6A 00 45 4B 03 61 00 C3 01 41 01 01", NULL),
                     AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 4B C3 01 41 03 61 00 01 01", NULL),
                     AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 C3 01 41 0B 01", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 0B C3 01 41 01", NULL), AS_WBXML_E_STRUCTURE);
    ck_assert_int_eq(decode_err("03 01 6A 00 45 4B C3 90 80 80 80 00 01 01", NULL),
                     AS_WBXML_E_INTEGER);

    /* built with the helper: multi-byte length, encodes as OPAQUE */
    for (i = 0; i < sizeof(big); i++) {
        big[i] = (unsigned char)(i * 7);
    }
    doc = xmlNewDoc(BAD_CAST "1.0");
    root = xmlNewDocNode(doc, NULL, BAD_CAST "SendMail", NULL);
    xmlDocSetRootElement(doc, root);
    xmlSetNs(root, xmlNewNs(root, BAD_CAST "ComposeMail:", NULL));
    e = xmlNewChild(root, root->ns, BAD_CAST "Mime", BAD_CAST "replaced");
    ck_assert_int_eq(as_wbxml_set_opaque(e, big, sizeof(big)), AS_WBXML_OK);
    ck_assert(as_wbxml_is_opaque(e));
    ck_assert(as_wbxml_node_bytes(e, unit_pool, &data, &blen) == AS_WBXML_OK);
    ck_assert_uint_eq(blen, sizeof(big));
    ck_assert(!memcmp(data, big, sizeof(big)));
    {
        unsigned char *w;
        apr_size_t wn;
        xmlDocPtr d2;
        ck_assert_int_eq(as_wbxml_encode(doc, NULL, &w, &wn), AS_WBXML_OK);
        ck_assert_uint_eq(wn, 4 + 2 + 1 + 1 + 1 + 2 + sizeof(big) + 1 + 1);
        ck_assert(!memcmp(w + 4, "\x00\x15\x45\x50\xC3\x82\x2C", 7));
        d2 = decode_ok(w, wn);
        ck_assert_str_eq(canon_doc(d2), canon_doc(doc));
        free(w);
        xmlFreeDoc(d2);
    }
    /* empty opaque content */
    ck_assert_int_eq(as_wbxml_set_opaque(e, NULL, 0), AS_WBXML_OK);
    encode_is(doc, "03 01 6A 00 00 15 45 50 C3 00 01 01");
    /* a marked element whose text is not base64 */
    xmlNodeSetContent(e, BAD_CAST "not base64!");
    ck_assert(as_wbxml_node_bytes(e, unit_pool, &data, &blen) == AS_WBXML_E_TREE);
    ck_assert_ptr_null(data);
    /* plain text: node_bytes gives the text */
    e = xmlNewChild(root, root->ns, BAD_CAST "ClientId", BAD_CAST "x1");
    ck_assert(as_wbxml_node_bytes(e, unit_pool, &data, &blen) == AS_WBXML_OK);
    ck_assert_uint_eq(blen, 2);
    ck_assert_str_eq((const char *)data, "x1");
    xmlFreeDoc(doc);

    /* base64 in XML may carry line breaks; bad base64 is refused */
    xml_encodes_to("<Mime xmlns='ComposeMail:' xmlns:x='urn:mod-activesync:wbxml' "
                   "x:opaque='base64'>\n QUJD\n RA==\n</Mime>",
                   "03 01 6A 00 00 15 50 C3 04 41 42 43 44 01");
    ck_assert_int_eq(xml_encode_err("<Mime xmlns='ComposeMail:' "
                                    "xmlns:x='urn:mod-activesync:wbxml' x:opaque='base64'>QUJ"
                                    "</Mime>"),
                     AS_WBXML_E_TREE);
    ck_assert_int_eq(xml_encode_err("<Mime xmlns='ComposeMail:' "
                                    "xmlns:x='urn:mod-activesync:wbxml' x:opaque='base64'>Q=JD"
                                    "</Mime>"),
                     AS_WBXML_E_TREE);
    ck_assert_int_eq(xml_encode_err("<Mime xmlns='ComposeMail:' "
                                    "xmlns:x='urn:mod-activesync:wbxml' x:opaque='base64'>QQ==QQ=="
                                    "</Mime>"),
                     AS_WBXML_E_TREE);
    ck_assert_int_eq(xml_encode_err("<Mime xmlns='ComposeMail:' "
                                    "xmlns:x='urn:mod-activesync:wbxml' x:opaque='hex'>41</Mime>"),
                     AS_WBXML_E_ATTR);
    ck_assert_int_eq(xml_encode_err("<SendMail xmlns='ComposeMail:' "
                                    "xmlns:x='urn:mod-activesync:wbxml' x:opaque='base64'>"
                                    "<Mime/></SendMail>"),
                     AS_WBXML_E_TREE);
}
END_TEST

/* ---- encoder -------------------------------------------------------------- */

START_TEST(encoder_pages_and_namespaces)
{
    /* no SWITCH_PAGE for page 0 at the start; only on change; namespace
     * with or without colon, any prefix */
    xml_encodes_to("<a:Sync xmlns:a='AirSync'><a:SyncKey>1</a:SyncKey>"
                   "<Type xmlns='AirSyncBase:'>2</Type><b:Type xmlns:b='AirSyncBase'>3</b:Type>"
                   "<a:Status>4</a:Status></a:Sync>",
                   "03 01 6A 00 45 4B 03 31 00 01 00 11 46 03 32 00 01 46 03 33 00 01 00 00 4E "
                   "03 34 00 01 01");
    xml_encodes_to("<FolderSync xmlns='FolderHierarchy:'/>", "03 01 6A 00 00 07 16");
}
END_TEST

START_TEST(encoder_errors)
{
    unsigned char *w = (unsigned char *)1;
    apr_size_t wn = 1;
    xmlDocPtr doc;
    xmlNodePtr root;

    ck_assert_int_eq(xml_encode_err("<Sync/>"), AS_WBXML_E_TREE);
    ck_assert_int_eq(xml_encode_err("<Sync xmlns='urn:other'/>"), AS_WBXML_E_TREE);
    ck_assert_int_eq(xml_encode_err("<Sync xmlns='AirSync:'><Nonsense/></Sync>"), AS_WBXML_E_TREE);
    ck_assert_int_eq(xml_encode_err("<Sync xmlns='AirSync:'><Sync xmlns='Ping:'/></Sync>"),
                     AS_WBXML_E_TREE);
    ck_assert_int_eq(xml_encode_err("<Sync xmlns='AirSync:'><SyncKey a='1'/></Sync>"),
                     AS_WBXML_E_ATTR);
    ck_assert_int_eq(xml_encode_err("<!DOCTYPE Sync [<!ENTITY e 'x'>]>"
                                    "<Sync xmlns='AirSync:'><SyncKey>&e;</SyncKey></Sync>"),
                     AS_WBXML_E_TREE);
    ck_assert_int_eq(as_wbxml_encode(NULL, NULL, &w, &wn), AS_WBXML_E_TREE);
    ck_assert_ptr_null(w);

    /* text that is not UTF-8 */
    doc = xmlNewDoc(BAD_CAST "1.0");
    root = xmlNewDocNode(doc, NULL, BAD_CAST "Sync", NULL);
    xmlDocSetRootElement(doc, root);
    xmlSetNs(root, xmlNewNs(root, BAD_CAST "AirSync:", NULL));
    ck_assert_int_eq(as_wbxml_encode(doc, NULL, &w, &wn), AS_WBXML_OK);
    free(w);
    xmlNewTextChild(root, root->ns, BAD_CAST "SyncKey", BAD_CAST "ok");
    xmlAddChild(xmlNewChild(root, root->ns, BAD_CAST "Status", NULL),
                xmlNewText(BAD_CAST "\xC3\x28"));
    ck_assert_int_eq(as_wbxml_encode(doc, NULL, &w, &wn), AS_WBXML_E_UTF8);
    ck_assert_ptr_null(w);
    xmlFreeDoc(doc);
}
END_TEST

START_TEST(encode_pool_copy)
{
    const unsigned char *out;
    apr_size_t n;
    xmlDocPtr doc = parse_xml(ms_example_xml, strlen(ms_example_xml));
    apr_size_t hn;
    const unsigned char *want = hex(ms_example_hex, &hn);

    ck_assert_int_eq(as_wbxml_encode_pool(doc, NULL, unit_pool, &out, &n), AS_WBXML_OK);
    ck_assert_uint_eq(n, hn);
    ck_assert(!memcmp(out, want, n));
    xmlFreeDoc(doc);
    doc = parse_xml("<x/>", 4);
    ck_assert_int_eq(as_wbxml_encode_pool(doc, NULL, unit_pool, &out, &n), AS_WBXML_E_TREE);
    ck_assert_ptr_null(out);
    xmlFreeDoc(doc);
}
END_TEST

/* ---- misc ----------------------------------------------------------------- */

static int looks(const char *h)
{
    apr_size_t n;
    const unsigned char *b = hex(h, &n);
    return as_wbxml_looks_like(b, n);
}

START_TEST(looks_like)
{
    ck_assert(looks("03 01 6A 00 45 01"));
    ck_assert(looks("01 01 6A 00"));
    ck_assert(looks("03 00 00 6A 00"));
    ck_assert(!looks("03 01 6A"));
    ck_assert(!looks("00 01 6A 00"));
    ck_assert(!looks("03 01 04 00"));
    ck_assert(!as_wbxml_looks_like((const unsigned char *)"<?xml", 5));
    ck_assert(!as_wbxml_looks_like(NULL, 0));
}
END_TEST

START_TEST(strerror_all)
{
    int e;
    for (e = AS_WBXML_OK; e <= AS_WBXML_E_TREE; e++) {
        const char *s = as_wbxml_strerror((as_wbxml_err_t)e);
        ck_assert_ptr_nonnull(s);
        ck_assert(strlen(s) > 3);
        if (e > AS_WBXML_OK) {
            ck_assert_str_ne(s, as_wbxml_strerror((as_wbxml_err_t)(e - 1)));
        }
    }
    ck_assert_ptr_nonnull(as_wbxml_strerror((as_wbxml_err_t)999));
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("wbxml");
    TCase *tc = tcase_create("vectors");

    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, ms_example_decodes);
    tcase_add_test(tc, ms_example_encodes_back);
    tcase_add_test(tc, foldersync_vector);
    tcase_add_test(tc, ping_vector);
    tcase_add_test(tc, sanity_tokens);
    suite_add_tcase(s, tc);

    tc = tcase_create("corpus");
    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, corpus_round_trip);
    tcase_add_test(tc, truncated_everywhere);
    suite_add_tcase(s, tc);

    tc = tcase_create("decoder");
    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, switch_page_before_end);
    tcase_add_test(tc, empty_elements);
    tcase_add_test(tc, strings_merge_and_blanks);
    tcase_add_test(tc, attribute_tokens_rejected);
    tcase_add_test(tc, ext_tokens_rejected);
    tcase_add_test(tc, unknown_tokens_and_pages);
    tcase_add_test(tc, structure_errors);
    tcase_add_test(tc, header_errors);
    tcase_add_test(tc, string_table);
    tcase_add_test(tc, string_table_amplification_bounded);
    tcase_add_test(tc, utf8_validation);
    tcase_add_test(tc, limits);
    tcase_add_test(tc, deep_nesting_rejected);
    tcase_add_test(tc, many_siblings_linear);
    suite_add_tcase(s, tc);

    tc = tcase_create("opaque");
    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, opaque_round_trip);
    tcase_add_test(tc, opaque_forms);
    suite_add_tcase(s, tc);

    tc = tcase_create("encoder");
    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, encoder_pages_and_namespaces);
    tcase_add_test(tc, encoder_errors);
    tcase_add_test(tc, encode_pool_copy);
    tcase_add_test(tc, looks_like);
    tcase_add_test(tc, strerror_all);
    suite_add_tcase(s, tc);
    return s;
}
