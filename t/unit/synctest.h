/* Helpers for the sync engine tests (test_sync.c, test_foldersync.c): a
 * Berkeley DB environment and a generated Maildir per test, a server
 * configuration pointing at it, handlers run on decoded request trees,
 * XPath with the mail namespaces, and a model of the device that applies
 * Sync replies and checks that no Add duplicates and no Delete misses. */
#ifndef AS_SYNCTEST_H
#define AS_SYNCTEST_H

#include <apr_hash.h>

#include "as_cmds.h"
#include "activesync/as_cap.h"
#include "activesync/as_sync.h"
#include "cmdtest.h"
#include "activesync/as_sync_coll.h"
#include "mailgen.h"
#include "testdb.h"
#include "unit.h"

#define ST_ACCT "jdoe@example.com"
#define ST_DEV  "DEV1"

TESTDB_FIXTURE()

static char st_base[512]; /* the template's directory */
static char st_root[600]; /* the account's Maildir */
static as_server_conf_t st_conf;
static as_cap_decision_t st_access;
static int st_email_off;

static __attribute__((unused)) void st_setup(void)
{
    testdb_setup();
    mg_tmpdir(st_base, sizeof st_base, "sync");
    snprintf(st_root, sizeof st_root, "%s/jdoe", st_base);
    mg_folder(st_root, "");
    memset(&st_conf, 0, sizeof(st_conf));
    st_conf.maildir_template = apr_pstrcat(unit_pool, st_base, "/%n", NULL);
    memset(&st_access, 0, sizeof(st_access));
    st_access.eff.value[AS_OPT_ACTIVESYNC] = 1;
    st_access.eff.value[AS_OPT_EMAIL] = 1;
    st_email_off = 0;
}

static __attribute__((unused)) void st_teardown(void)
{
    mg_rmtree(st_base);
    testdb_teardown();
}

/* Run a handler with the test configuration; xml NULL: no body. */
static __attribute__((unused)) void st_run_dev(cmdtest_t *t, as_command_fn *fn, const char *cmd,
                                               const char *dev, const char *version,
                                               const char *xml)
{
    memset(t, 0, sizeof(*t));
    t->line.cmd = cmd;
    t->line.device_id = dev;
    t->line.device_key = dev;
    t->line.device_type = "TestPhone";
    t->req.pool = unit_pool;
    t->req.account = ST_ACCT;
    t->req.line = &t->line;
    t->req.protocol_version = version;
    t->req.user_agent = "TestAgent/1.0";
    t->req.body = xml ? cmdtest_tree(xml) : NULL;
    t->req.db = db;
    t->req.conf = &st_conf;
    t->req.log = cmdtest_log;
    st_access.eff.value[AS_OPT_EMAIL] = !st_email_off;
    t->req.access = &st_access;
    t->resp.http_status = 200;
    t->resp.headers = apr_table_make(unit_pool, 4);
    t->rv = fn(&t->req, &t->resp);
    ck_assert_int_eq(t->rv, APR_SUCCESS);
}

static __attribute__((unused)) void st_run(cmdtest_t *t, as_command_fn *fn, const char *cmd,
                                           const char *xml)
{
    st_run_dev(t, fn, cmd, ST_DEV, "14.1", xml);
}

/* XPath with the prefixes a (AirSync), e (Email), b (AirSyncBase),
 * f (FolderHierarchy), g (GetItemEstimate). */
static __attribute__((unused)) xmlXPathObjectPtr st_eval(xmlDocPtr doc, const char *expr)
{
    static const char *const ns[][2] = {
        {"a", "AirSync:"},         {"e", "Email:"},           {"b", "AirSyncBase:"},
        {"f", "FolderHierarchy:"}, {"g", "GetItemEstimate:"},
    };
    xmlXPathContextPtr ctx = xmlXPathNewContext(doc);
    xmlXPathObjectPtr o;
    size_t i;
    for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
        xmlXPathRegisterNs(ctx, BAD_CAST ns[i][0], BAD_CAST ns[i][1]);
    }
    o = xmlXPathEvalExpression(BAD_CAST expr, ctx);
    xmlXPathFreeContext(ctx);
    ck_assert_msg(o != NULL, "bad XPath %s", expr);
    return o;
}

static __attribute__((unused)) const char *sx(xmlDocPtr doc, const char *expr)
{
    xmlXPathObjectPtr o = st_eval(doc, expr);
    xmlChar *s = xmlXPathCastToString(o);
    const char *r = apr_pstrdup(unit_pool, (const char *)s);
    xmlFree(s);
    xmlXPathFreeObject(o);
    return r;
}

static __attribute__((unused)) int sx_count(xmlDocPtr doc, const char *expr)
{
    xmlXPathObjectPtr o = st_eval(doc, apr_psprintf(unit_pool, "count(%s)", expr));
    int n = (int)xmlXPathCastToNumber(o);
    xmlXPathFreeObject(o);
    return n;
}

/* The reply's WBXML bytes. */
static __attribute__((unused)) const char *st_wbxml(xmlDocPtr doc, apr_size_t *len)
{
    unsigned char *wb = NULL;
    const char *r;
    ck_assert_int_eq(as_wbxml_encode(doc, NULL, &wb, len), AS_WBXML_OK);
    r = apr_pmemdup(unit_pool, wb, *len);
    free(wb);
    return r;
}

/* ---- the Maildir ----------------------------------------------------------------- */

static __attribute__((unused)) as_store_t *st_store(void)
{
    as_store_t *s = NULL;
    ck_assert_int_eq(as_maildir_open(unit_pool, st_root, ST_ACCT, NULL, 0, NULL, &s), APR_SUCCESS);
    return s;
}

static __attribute__((unused)) const char *st_folder_id(const char *path)
{
    apr_array_header_t *fs;
    int i;
    ck_assert_int_eq(as_store_list_folders(st_store(), unit_pool, &fs, NULL), APR_SUCCESS);
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        if (!strcmp(f->path, path)) {
            return f->id;
        }
    }
    ck_abort_msg("no folder %s", path);
    return NULL;
}

/* id -> flags (SEEN|FLAGGED) of every message of a folder (the truth). */
static __attribute__((unused)) apr_hash_t *st_truth(const char *fid)
{
    apr_array_header_t *items;
    apr_hash_t *h = apr_hash_make(unit_pool);
    int i;
    ck_assert_int_eq(as_store_list_items(st_store(), fid, unit_pool, &items, NULL), APR_SUCCESS);
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        apr_hash_set(h, apr_pstrdup(unit_pool, it->id), APR_HASH_KEY_STRING,
                     apr_itoa(unit_pool, (int)(it->flags & AS_SYNC_FLAGS_MASK)));
    }
    return h;
}

/* Fill folder fdir (st_root or st_root/.X) with n plain messages, one a
 * minute apart ending about an hour ago; every 10th in new/, others in cur/
 * with flags. */
static __attribute__((unused)) void st_fill(const char *fdir, unsigned first, unsigned n)
{
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    char name[256];
    unsigned i;
    time_t now = time(NULL);
    for (i = first; i < first + n; i++) {
        mg_deliver(fdir, i % 10 ? "cur" : "new", i + 1, i % 10 ? (i % 3 ? "2,S" : "2,FS") : NULL, m,
                   len, now - 3600 - (time_t)(first + n - i) * 60, name);
    }
    free(m);
}

/* ---- the device model ------------------------------------------------------------ */

typedef struct st_model_t {
    apr_hash_t *items; /* id -> flags text */
    const char *key;
    int adds, deletes, changes, softdeletes;
} st_model_t;

static __attribute__((unused)) unsigned st_appdata_flags(xmlNodePtr app)
{
    unsigned f = 0;
    xmlNodePtr c;
    for (c = app ? app->children : NULL; c; c = c->next) {
        if (as_xml_is(c, "Email:", "Read")) {
            xmlChar *t = xmlNodeGetContent(c);
            if (t && !strcmp((const char *)t, "1")) {
                f |= AS_STORE_SEEN;
            }
            xmlFree(t);
        } else if (as_xml_is(c, "Email:", "Flag")) {
            xmlNodePtr s = as_xml_child(c, "Email:", "Status");
            xmlChar *t = s ? xmlNodeGetContent(s) : NULL;
            if (t && !strcmp((const char *)t, "2")) {
                f |= AS_STORE_FLAGGED;
            }
            xmlFree(t);
        }
    }
    return f;
}

/* Apply the Commands of collection fid in a reply; returns MoreAvailable. */
static __attribute__((unused)) int st_model_apply(st_model_t *m, xmlDocPtr doc, const char *fid)
{
    xmlXPathObjectPtr o =
        st_eval(doc, apr_psprintf(unit_pool,
                                  "/a:Sync/a:Collections/a:Collection[a:CollectionId='%s']", fid));
    xmlNodePtr coll, cmds, c;
    int more;
    ck_assert_msg(o->nodesetval && o->nodesetval->nodeNr == 1, "no collection %s in %s", fid,
                  cmdtest_xml(doc));
    coll = o->nodesetval->nodeTab[0];
    xmlXPathFreeObject(o);
    ck_assert_str_eq(
        sx(doc, apr_psprintf(unit_pool, "//a:Collection[a:CollectionId='%s']/a:Status", fid)), "1");
    m->key = sx(doc, apr_psprintf(unit_pool, "//a:Collection[a:CollectionId='%s']/a:SyncKey", fid));
    more = as_xml_child(coll, "AirSync:", "MoreAvailable") != NULL;
    cmds = as_xml_child(coll, "AirSync:", "Commands");
    for (c = cmds ? cmds->children : NULL; c; c = c->next) {
        xmlNodePtr sidn = as_xml_child(c, "AirSync:", "ServerId");
        xmlChar *sid = xmlNodeGetContent(sidn);
        const char *id = strchr((const char *)sid, ':') + 1;
        int have = apr_hash_get(m->items, id, APR_HASH_KEY_STRING) != NULL;
        ck_assert(!strncmp((const char *)sid, fid, strlen(fid)));
        if (as_xml_is(c, "AirSync:", "Add")) {
            ck_assert_msg(!have, "duplicate Add of %s", sid);
            apr_hash_set(m->items, apr_pstrdup(unit_pool, id), APR_HASH_KEY_STRING,
                         apr_itoa(unit_pool, (int)st_appdata_flags(
                                                 as_xml_child(c, "AirSync:", "ApplicationData"))));
            m->adds++;
        } else if (as_xml_is(c, "AirSync:", "Change")) {
            ck_assert_msg(have, "Change of unknown %s", sid);
            apr_hash_set(m->items, apr_pstrdup(unit_pool, id), APR_HASH_KEY_STRING,
                         apr_itoa(unit_pool, (int)st_appdata_flags(
                                                 as_xml_child(c, "AirSync:", "ApplicationData"))));
            m->changes++;
        } else {
            ck_assert_msg(have, "Delete of unknown %s", sid);
            apr_hash_set(m->items, id, APR_HASH_KEY_STRING, NULL);
            if (as_xml_is(c, "AirSync:", "SoftDelete")) {
                m->softdeletes++;
            } else {
                m->deletes++;
            }
        }
        xmlFree(sid);
    }
    return more;
}

/* The model equals the truth (ids and flags). */
static __attribute__((unused)) void st_model_check(st_model_t *m, apr_hash_t *truth)
{
    apr_hash_index_t *hi;
    ck_assert_int_eq(apr_hash_count(m->items), apr_hash_count(truth));
    for (hi = apr_hash_first(unit_pool, truth); hi; hi = apr_hash_next(hi)) {
        const void *k;
        void *v;
        const char *mine;
        apr_hash_this(hi, &k, NULL, &v);
        mine = apr_hash_get(m->items, k, APR_HASH_KEY_STRING);
        ck_assert_msg(mine != NULL, "item %s missing on the device", (const char *)k);
        ck_assert_msg(!strcmp(mine, v), "item %s: device flags %s, store %s", (const char *)k, mine,
                      (const char *)v);
    }
}

static __attribute__((unused)) const char *st_sync_xml(const char *fid, const char *key, int window,
                                                       const char *extra)
{
    return apr_psprintf(
        unit_pool,
        "<Sync xmlns=\"AirSync:\" xmlns:b=\"AirSyncBase:\"><Collections><Collection>"
        "<SyncKey>%s</SyncKey><CollectionId>%s</CollectionId>%s%s</Collection>"
        "</Collections></Sync>",
        key, fid, window ? apr_psprintf(unit_pool, "<WindowSize>%d</WindowSize>", window) : "",
        extra ? extra : "");
}

/* The Sync engine driven without the command (as_sync_coll.h): a request
 * of ST_ACCT/ST_DEV in 14.1 on the test store, its Inbox id. */
typedef struct engine_t {
    as_request_t req;
    as_request_line_t line;
    as_sync_run_t run;
    const char *inbox;
} engine_t;

static inline void engine_open(engine_t *e)
{
    memset(e, 0, sizeof(*e));
    e->line.cmd = "Sync";
    e->line.device_id = ST_DEV;
    e->line.device_key = ST_DEV;
    e->req.pool = unit_pool;
    e->req.account = ST_ACCT;
    e->req.line = &e->line;
    e->req.protocol_version = "14.1";
    e->req.db = db;
    e->req.conf = &st_conf;
    e->req.access = &st_access;
    e->run.r = &e->req;
    e->run.dev = ST_DEV;
    e->run.proto = 141;
    e->run.global_left = -1;
    ck_assert_int_eq(as_sync_open_store(&e->req, &e->run.st), APR_SUCCESS);
    e->inbox = st_folder_id("");
}

#endif
