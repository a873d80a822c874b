/* collstore_tool -- drive the collection store (as_collections.h) on a
 * root folder, for the Radicale interoperation test and by hand.
 *
 *   collstore_tool ROOT folders                       id type name dirname
 *   collstore_tool ROOT list FOLDER                   id etag size name
 *   collstore_tool ROOT get FOLDER ITEM               the item's bytes
 *   collstore_tool ROOT add FOLDER UID|- < FILE       id etag
 *   collstore_tool ROOT replace FOLDER ITEM ETAG|- < FILE   new etag
 *   collstore_tool ROOT delete FOLDER ITEM
 *   collstore_tool ROOT mkfolder TYPE NAME            id
 *   collstore_tool ROOT rename FOLDER NAME
 *   collstore_tool ROOT rmfolder FOLDER
 *   collstore_tool ROOT default TYPE                  id of the default folder
 *   collstore_tool ROOT token [FOLDER] [N]            the folder's (or hierarchy's) change
 *                                                     token, taken N times (timing)
 *
 * The root and its default collections are made when missing.  Errors go
 * to stderr (with the store's log lines); exit 1, or 3 for an ETag
 * conflict. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "activesync/as_collections.h"

static int fail(const char *what, apr_status_t rv)
{
    char buf[256];
    fprintf(stderr, "collstore_tool: %s: %s\n", what, as_store_strerror(rv, buf, sizeof buf));
    return rv == AS_STORE_ECONFLICT ? 3 : 1;
}

static char *read_stdin(apr_pool_t *p, apr_size_t *len)
{
    apr_size_t cap = 65536, n = 0, got;
    char *buf = malloc(cap), *out;

    while (buf && (got = fread(buf + n, 1, cap - n, stdin)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap);
        }
    }
    if (!buf) {
        exit(1);
    }
    out = apr_pmemdup(p, buf, n + 1);
    out[n] = '\0';
    free(buf);
    *len = n;
    return out;
}

static int cmd_folders(as_store_t *st, apr_pool_t *p)
{
    apr_array_header_t *fs;
    const char *tok;
    apr_status_t rv = as_store_list_folders(st, p, &fs, &tok);
    int i;

    if (rv != APR_SUCCESS) {
        return fail("folders", rv);
    }
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        printf("%s\t%d\t%s\t%s\n", f->id, f->type, f->name, f->path);
    }
    return 0;
}

static int cmd_list(as_store_t *st, const char *folder, apr_pool_t *p)
{
    apr_array_header_t *items;
    apr_status_t rv = as_store_list_items(st, folder, p, &items, NULL);
    int i;

    if (rv != APR_SUCCESS) {
        return fail("list", rv);
    }
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        printf("%s\t%s\t%" APR_OFF_T_FMT "\t%s\n", it->id, it->etag, it->size, it->name);
    }
    return 0;
}

static int cmd_get(as_store_t *st, const char *folder, const char *item, apr_pool_t *p)
{
    as_store_msg_t *m;
    char buf[8192];
    apr_size_t n;
    apr_status_t rv = as_store_open_item(st, folder, item, p, &m);

    if (rv != APR_SUCCESS) {
        return fail("get", rv);
    }
    while (n = sizeof buf, apr_file_read(m->file, buf, &n) == APR_SUCCESS && n > 0) {
        fwrite(buf, 1, n, stdout);
    }
    return 0;
}

static int run(as_store_t *st, int argc, char **argv, apr_pool_t *p)
{
    const char *cmd = argv[2], *id = NULL, *etag = NULL;
    apr_size_t len;
    apr_status_t rv;

    if (!strcmp(cmd, "folders")) {
        return cmd_folders(st, p);
    }
    if (!strcmp(cmd, "list") && argc == 4) {
        return cmd_list(st, argv[3], p);
    }
    if (!strcmp(cmd, "get") && argc == 5) {
        return cmd_get(st, argv[3], argv[4], p);
    }
    if (!strcmp(cmd, "add") && argc == 5) {
        const char *data = read_stdin(p, &len);
        rv = as_store_add_item(st, argv[3], strcmp(argv[4], "-") ? argv[4] : NULL, data, len, p,
                               &id, &etag);
        return rv ? fail("add", rv) : (printf("%s\t%s\n", id, etag), 0);
    }
    if (!strcmp(cmd, "replace") && argc == 6) {
        const char *data = read_stdin(p, &len);
        rv = as_store_replace_item(st, argv[3], argv[4], strcmp(argv[5], "-") ? argv[5] : NULL,
                                   data, len, p, &etag);
        return rv ? fail("replace", rv) : (printf("%s\n", etag), 0);
    }
    if (!strcmp(cmd, "delete") && argc == 5) {
        rv = as_store_delete_item(st, argv[3], argv[4], 0);
        return rv ? fail("delete", rv) : 0;
    }
    if (!strcmp(cmd, "mkfolder") && argc == 5) {
        rv = as_store_create_folder_typed(st, "0", argv[4], atoi(argv[3]), p, &id);
        return rv ? fail("mkfolder", rv) : (printf("%s\n", id), 0);
    }
    if (!strcmp(cmd, "rename") && argc == 5) {
        rv = as_store_rename_folder(st, argv[3], "0", argv[4]);
        return rv ? fail("rename", rv) : 0;
    }
    if (!strcmp(cmd, "rmfolder") && argc == 4) {
        rv = as_store_delete_folder(st, argv[3]);
        return rv ? fail("rmfolder", rv) : 0;
    }
    if (!strcmp(cmd, "token") && argc >= 3 && argc <= 5) {
        long i, n = argc == 5 ? atol(argv[4]) : 1;
        const char *tok = NULL;
        for (i = 0, rv = APR_SUCCESS; i < n && rv == APR_SUCCESS; i++) {
            rv = argc >= 4 && strcmp(argv[3], "-") ? as_store_folder_token(st, argv[3], p, &tok)
                                                   : as_store_hierarchy_token(st, p, &tok);
        }
        return rv ? fail("token", rv) : (printf("%s\n", tok), 0);
    }
    if (!strcmp(cmd, "default") && argc == 4) {
        rv = as_store_special_folder(st, atoi(argv[3]), 1, p, &id);
        return rv ? fail("default", rv) : (printf("%s\n", id), 0);
    }
    fprintf(stderr, "collstore_tool: unknown command or wrong arguments (see the source)\n");
    return 2;
}

int main(int argc, char **argv)
{
    apr_pool_t *p;
    as_store_t *st;
    as_logger_t log;
    int level = AS_LOG_WARNING, rc;
    apr_status_t rv;

    if (argc < 3) {
        fprintf(stderr, "usage: %s ROOT COMMAND [ARGS] (see the source)\n", argv[0]);
        return 2;
    }
    apr_initialize();
    apr_pool_create(&p, NULL);
    as_log_stderr_init(&log, &level);
    rv = as_collections_open(p, argv[1], "tool", (1u << AS_CLASS_COUNT) - 1, 1, &log, &st);
    if (rv != APR_SUCCESS) {
        return fail(argv[1], rv);
    }
    rc = run(st, argc, argv, p);
    fflush(stdout);
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
