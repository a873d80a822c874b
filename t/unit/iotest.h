/* Fixture of the ItemOperations and MoveItems tests: a generated Maildir
 * for ann@example.org under a temporary root, the server configuration
 * pointing at it, a request runner with the fields those commands read
 * (conf, access, accept_multipart), and folder/item id lookups. */
#ifndef AS_IOTEST_H
#define AS_IOTEST_H

#include <sys/time.h>

#include "as_cmds.h"
#include "activesync/as_cap.h"
#include "activesync/as_maildir.h"
#include "activesync/as_syncstate.h"
#include "cmdtest.h"
#include "mailgen.h"

#define IOT_ACCT "ann@example.org"
#define IOT_DEV  "IODEV1"
#define IOT_FN   static __attribute__((unused))

static char iot_root[512];
static char iot_mbox[600];
static as_server_conf_t iot_conf;

/* The Maildir: INBOX, Sent, Trash, Work, Work.Sub. */
IOT_FN void iot_setup(void)
{
    char d[700];
    mg_tmpdir(iot_root, sizeof iot_root, "io");
    snprintf(d, sizeof d, "%s/example.org", iot_root);
    mg_mkdir(d);
    snprintf(iot_mbox, sizeof iot_mbox, "%s/example.org/ann", iot_root);
    mg_folder(iot_mbox, "");
    mg_folder(iot_mbox, "Sent");
    mg_folder(iot_mbox, "Trash");
    mg_folder(iot_mbox, "Work");
    mg_folder(iot_mbox, "Work.Sub");
    memset(&iot_conf, 0, sizeof iot_conf);
    iot_conf.maildir_template = apr_pstrcat(unit_pool, iot_root, "/%d/%n", NULL);
}

IOT_FN void iot_teardown(void)
{
    mg_rmtree(iot_root);
}

/* Put msg into folder storage ("" INBOX, "Trash" ...) as new/ or cur/ with
 * info; returns its item id (pool copy). */
IOT_FN const char *iot_put(const char *storage, const char *sub, unsigned seq, const char *info,
                           const char *msg, size_t len)
{
    char fdir[800], name[256], id[AS_STORE_ITEM_ID_MAX + 1];
    if (*storage) {
        snprintf(fdir, sizeof fdir, "%s/.%s", iot_mbox, storage);
    } else {
        snprintf(fdir, sizeof fdir, "%s", iot_mbox);
    }
    ck_assert_int_eq(mg_deliver(fdir, sub, seq, info, msg, len, 1709543700 + seq, name), 0);
    as_maildir_item_id(name, id);
    return apr_pstrdup(unit_pool, id);
}

/* A plain message (mg_msg_plain(seq)) put as iot_put does. */
IOT_FN const char *iot_plain(const char *storage, const char *sub, unsigned seq, const char *info)
{
    size_t len;
    char *m = mg_msg_plain(&len, seq);
    const char *id = iot_put(storage, sub, seq, info, m, len);
    free(m);
    return id;
}

/* The folder id of a storage name ("" INBOX, "Work.Sub" ...). */
IOT_FN const char *iot_folder(const char *storage)
{
    as_store_t *st;
    apr_array_header_t *fs;
    const char *path = *storage ? apr_pstrcat(unit_pool, ".", storage, NULL) : "";
    int i;
    ck_assert_int_eq(as_maildir_open(unit_pool, iot_mbox, IOT_ACCT, NULL, 0, NULL, &st),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        if (!strcmp(f->path, path)) {
            return f->id;
        }
    }
    ck_abort_msg("no folder %s", storage);
    return NULL;
}

/* Number of messages in a folder's new/ + cur/. */
IOT_FN int iot_count(const char *storage)
{
    int n = 0, k;
    for (k = 0; k < 2; k++) {
        char d[900];
        DIR *dir;
        struct dirent *de;
        snprintf(d, sizeof d, "%s%s%s/%s", iot_mbox, *storage ? "/." : "", storage,
                 k ? "cur" : "new");
        if (!(dir = opendir(d))) {
            continue;
        }
        while ((de = readdir(dir)) != NULL) {
            n += de->d_name[0] != '.';
        }
        closedir(dir);
    }
    return n;
}

/* qsort order of a sync state's item set. */
IOT_FN int iot_item_cmp(const void *a, const void *b)
{
    return strcmp(((const as_sync_item_t *)a)->id, ((const as_sync_item_t *)b)->id);
}

/* Backdate new/ and cur/ of a folder ("" INBOX, "Work", ...) so its token
 * is settled. */
IOT_FN void iot_settle(const char *storage)
{
    struct timeval tv[2];
    char d[900];
    int k;
    gettimeofday(&tv[0], NULL);
    tv[0].tv_sec -= 30;
    tv[1] = tv[0];
    for (k = 0; k < 2; k++) {
        snprintf(d, sizeof d, "%s%s%s/%s", iot_mbox, *storage ? "/." : "", storage,
                 k ? "cur" : "new");
        utimes(d, tv);
    }
}

/* Settle the folder, then store the device's sync state (key 1) equal to
 * its content, as after a Sync. */
IOT_FN void iot_synced(as_db_t *db, const char *dev, const char *storage, const char *folder)
{
    as_store_t *st;
    apr_array_header_t *items;
    as_coll_state_t cs;
    const char *token;
    int i;

    iot_settle(storage);
    ck_assert_int_eq(as_maildir_open(unit_pool, iot_mbox, IOT_ACCT, NULL, 0, NULL, &st),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_list_items(st, folder, unit_pool, &items, &token), APR_SUCCESS);
    memset(&cs, 0, sizeof cs);
    cs.gen = 5;
    cs.n = 1;
    cs.token = token;
    cs.items_loaded = 1;
    cs.nitems = (apr_uint32_t)items->nelts;
    cs.items = apr_pcalloc(unit_pool, sizeof(as_sync_item_t) * (items->nelts + 1));
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        apr_cpystrn(cs.items[i].id, it->id, sizeof cs.items[i].id);
        cs.items[i].flags = it->flags & AS_SYNC_FLAGS_MASK;
    }
    qsort(cs.items, cs.nitems, sizeof(as_sync_item_t), iot_item_cmp);
    ck_assert_int_eq(as_coll_put(db, IOT_ACCT, dev, folder, 0, 0, &cs, NULL, 0), APR_SUCCESS);
}

typedef struct iot_opts_t {
    const char *version; /* NULL: 14.1 */
    int email_off;       /* access with email off */
    int no_store;        /* no ActiveSyncMaildir */
    int multipart;       /* accept_multipart */
    as_db_t *db;
} iot_opts_t;

/* Run a handler like the glue would, validating a reply document. */
IOT_FN void iot_run(cmdtest_t *t, as_command_fn *fn, const char *cmd, const iot_opts_t *o,
                    const char *xml)
{
    static as_cap_decision_t access;
    static as_server_conf_t none;
    memset(t, 0, sizeof(*t));
    t->line.cmd = cmd;
    t->line.device_id = t->line.device_key = IOT_DEV;
    t->line.device_type = "TestPhone";
    t->req.pool = unit_pool;
    t->req.account = IOT_ACCT;
    t->req.line = &t->line;
    t->req.protocol_version = o && o->version ? o->version : "14.1";
    t->req.body = xml ? cmdtest_tree(xml) : NULL;
    t->req.conf = o && o->no_store ? &none : &iot_conf;
    t->req.db = o ? o->db : NULL;
    t->req.accept_multipart = o && o->multipart;
    if (o && o->email_off) {
        memset(&access, 0, sizeof access);
        access.result = AS_CAP_SERVED;
        access.eff.value[AS_OPT_ACTIVESYNC] = 1;
        t->req.access = &access;
    }
    t->resp.http_status = 200;
    t->resp.headers = apr_table_make(unit_pool, 4);
    t->rv = fn(&t->req, &t->resp);
    if (t->rv == APR_SUCCESS && t->resp.doc) {
        cmdtest_validate(t->resp.doc);
    }
}

#endif
