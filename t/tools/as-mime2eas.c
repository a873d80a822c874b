/* as-mime2eas -- print the EAS Email ApplicationData mod_activesync makes of
 * a message file (debugging aid for convert/as_mime*.c).
 *
 *   as-mime2eas FILE [TYPE [TRUNCATION [PREVIEW]]] [--flags=SF] [--wbxml OUT]
 *
 * TYPE is the BodyPreference type (1, 2 or 4; default 1, MIMESupport 2),
 * TRUNCATION bytes (0 = none), PREVIEW characters.  Prints the XML of a
 * one-item Sync reply; --wbxml also writes it encoded, for validate-eas. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <libxml/parser.h>

#include "activesync/as_command.h"
#include "activesync/as_mime.h"
#include "activesync/as_wbxml.h"

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    apr_file_t *f;
    xmlDocPtr doc;
    xmlNodePtr root, coll, add, app;
    as_mime_bodypref_t pref = {1, 0, 0, 0};
    as_mime_opts_t o;
    const char *err = NULL, *wbxml = NULL;
    int a, npos = 0;

    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    xmlInitParser();
    as_mime_init();
    memset(&o, 0, sizeof o);
    for (a = 2; a < argc; a++) {
        if (!strncmp(argv[a], "--flags=", 8)) {
            o.flags = (strchr(argv[a] + 8, 'S') ? AS_STORE_SEEN : 0) |
                      (strchr(argv[a] + 8, 'F') ? AS_STORE_FLAGGED : 0);
        } else if (!strcmp(argv[a], "--wbxml") && a + 1 < argc) {
            wbxml = argv[++a];
        } else if (npos == 0) {
            pref.type = atoi(argv[a]), npos++;
        } else if (npos == 1) {
            pref.truncation = (apr_size_t)atol(argv[a]), npos++;
        } else {
            pref.preview = atoi(argv[a]), npos++;
        }
    }
    if (argc < 2 || apr_file_open(&f, argv[1], APR_FOPEN_READ, 0, p) != APR_SUCCESS) {
        fprintf(stderr, "usage: %s FILE [TYPE [TRUNCATION [PREVIEW]]] [--flags=SF] [--wbxml OUT]\n",
                argv[0]);
        return 2;
    }
    o.folder_id = "k3h2a9f0";
    o.item_id = "0123456789abc";
    o.protocol = 141;
    o.mime_support = 2;
    o.prefs = &pref;
    o.nprefs = 1;
    doc = as_reply_new("AirSync:", "Sync", &root);
    coll = as_xml_add(as_xml_add(root, "AirSync:", "Collections", NULL), "AirSync:", "Collection",
                      NULL);
    as_xml_add(coll, "AirSync:", "SyncKey", "1");
    as_xml_add(coll, "AirSync:", "CollectionId", o.folder_id);
    as_xml_add(coll, "AirSync:", "Status", "1");
    add = as_xml_add(as_xml_add(coll, "AirSync:", "Commands", NULL), "AirSync:", "Add", NULL);
    as_xml_add(add, "AirSync:", "ServerId", "k3h2a9f0:0123456789abc");
    app = as_xml_add(add, "AirSync:", "ApplicationData", NULL);
    if (as_mime_to_eas(p, f, &o, app, &err) != APR_SUCCESS) {
        fprintf(stderr, "%s: %s\n", argv[1], err ? err : "failed");
        return 1;
    }
    xmlDocFormatDump(stdout, doc, 1);
    if (wbxml) {
        unsigned char *out;
        apr_size_t len;
        FILE *w = fopen(wbxml, "wb");
        if (!w || as_wbxml_encode(doc, NULL, &out, &len) != AS_WBXML_OK) {
            fprintf(stderr, "cannot encode/write %s\n", wbxml);
            return 1;
        }
        fwrite(out, 1, len, w);
        fclose(w);
        free(out);
    }
    xmlFreeDoc(doc);
    apr_pool_destroy(p);
    return 0;
}
