/* The item cache (as_itemcache.c) and its use by Sync (as_sync_emit.c): a
 * cached tree is rebuilt exactly, with Read and Flag from the current
 * flags; the bound is respected, oldest entries first; threads and forked
 * processes share one cache, and one that died holding its lock leaves it
 * usable; a file replaced under the same base name (other mtime or size)
 * is converted again; a listed item is served from the cache without
 * opening its file. */
#include <pthread.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <apr_strings.h>

#include "activesync/as_itemcache.h"
#include "activesync/as_sync_coll.h"
#include "activesync/as_sync_engine.h"
#include "activesync/as_wbxml.h"
#include "activesync/as_xml.h"
#include "../../../mod_activesync/sync/as_sync_coll_int.h"
#include "synctest.h"

#define NS_AS   "AirSync:"
#define NS_EM   "Email:"
#define NS_BASE "AirSyncBase:"
#define NS_EM2  "Email2:"

/* An ApplicationData like the converter's, with flags. */
static xmlDocPtr sample(unsigned flags, const char *subject, xmlNodePtr *app)
{
    xmlNodePtr root, body, flag;
    xmlDocPtr doc = as_reply_new(NS_AS, "Sync", &root);
    static const unsigned char id[4] = {0, 1, 0xff, 7};

    *app = as_xml_add(as_xml_add(root, NS_AS, "Add", NULL), NS_AS, "ApplicationData", NULL);
    as_xml_add(*app, NS_EM, "To", "\"John\" <jdoe@example.com>");
    as_xml_add(*app, NS_EM, "Subject", subject);
    as_xml_add(*app, NS_EM, "Read", flags & AS_STORE_SEEN ? "1" : "0");
    body = as_xml_add(*app, NS_BASE, "Body", NULL);
    as_xml_add(body, NS_BASE, "Type", "1");
    as_xml_add(body, NS_BASE, "Data", "Hi  \n\tJohn & <co> ");
    as_xml_add(*app, NS_EM, "ThreadTopic", "");
    flag = as_xml_add(*app, NS_EM, "Flag", NULL);
    if (flags & AS_STORE_FLAGGED) {
        as_xml_add(flag, NS_EM, "Status", "2");
        as_xml_add(flag, NS_EM, "FlagType", "Flag for follow up");
    }
    as_wbxml_set_opaque(as_xml_add(*app, NS_EM2, "ConversationId", NULL), id, sizeof id);
    return doc;
}

static char *dump(xmlDocPtr doc)
{
    xmlChar *s = NULL;
    int n = 0;
    char *r;
    xmlDocDumpMemory(doc, &s, &n);
    r = apr_pstrmemdup(unit_pool, (const char *)s, (apr_size_t)n);
    xmlFree(s);
    return r;
}

/* The WBXML of doc as hex: what the device receives. */
static const char *wire(xmlDocPtr doc)
{
    const unsigned char *out;
    apr_size_t len, i;
    char *hex;
    ck_assert_int_eq(as_wbxml_encode_pool(doc, NULL, unit_pool, &out, &len), AS_WBXML_OK);
    hex = apr_palloc(unit_pool, len * 2 + 1);
    for (i = 0; i < len; i++) {
        snprintf(hex + 2 * i, 3, "%02x", out[i]);
    }
    hex[2 * len] = '\0';
    return hex;
}

/* An empty ApplicationData in a new document. */
static xmlDocPtr empty_app(xmlNodePtr *app)
{
    xmlNodePtr root;
    xmlDocPtr doc = as_reply_new(NS_AS, "Sync", &root);
    *app = as_xml_add(as_xml_add(root, NS_AS, "Add", NULL), NS_AS, "ApplicationData", NULL);
    return doc;
}

START_TEST(test_cache_exact_rebuild)
{
    as_itemcache_t *c = as_itemcache_create(1 << 20);
    as_itemcache_stats_t s;
    xmlNodePtr app, app2, app3;
    xmlDocPtr orig = sample(AS_STORE_SEEN, "Quarterly figures", &app), got, want;

    ck_assert_int_eq(as_itemcache_get(c, "k1", app, 0), 0);
    as_itemcache_put(c, "k1", app);
    /* the same flags: the same tree and bytes */
    got = empty_app(&app2);
    ck_assert_int_eq(as_itemcache_get(c, "k1", app2, AS_STORE_SEEN), 1);
    ck_assert_str_eq(dump(got), dump(orig));
    ck_assert_str_eq(wire(got), wire(orig));
    xmlFreeDoc(got);
    /* other flags: Read and Flag follow them, nothing else changes */
    got = empty_app(&app2);
    ck_assert_int_eq(as_itemcache_get(c, "k1", app2, AS_STORE_FLAGGED), 1);
    want = sample(AS_STORE_FLAGGED, "Quarterly figures", &app3);
    ck_assert_str_eq(wire(got), wire(want));
    ck_assert_str_ne(wire(got), wire(orig));
    as_itemcache_stats(c, &s);
    ck_assert_uint_eq(s.hits, 2);
    ck_assert_uint_eq(s.misses, 1);
    ck_assert_uint_eq(s.stored, 1);
    ck_assert_uint_eq(s.entries, 1);
    xmlFreeDoc(got);
    xmlFreeDoc(want);
    xmlFreeDoc(orig);
    as_itemcache_destroy(c);
}
END_TEST

START_TEST(test_cache_bound)
{
    as_itemcache_t *c = as_itemcache_create(64 * 1024);
    as_itemcache_stats_t s;
    xmlNodePtr app, app2;
    xmlDocPtr doc = sample(0, "Quarterly figures", &app), got;
    char big[20000];
    int i;

    for (i = 0; i < 2000; i++) {
        as_itemcache_put(c, apr_psprintf(unit_pool, "key%d", i), app);
        as_itemcache_stats(c, &s);
        ck_assert_uint_le(s.bytes, 64 * 1024);
    }
    ck_assert_uint_gt(s.evicted, 0);
    ck_assert_uint_lt(s.entries, 2000);
    /* the newest stay, the oldest went */
    got = empty_app(&app2);
    ck_assert_int_eq(as_itemcache_get(c, "key1999", app2, 0), 1);
    xmlFreeDoc(got);
    got = empty_app(&app2);
    ck_assert_int_eq(as_itemcache_get(c, "key0", app2, 0), 0);
    ck_assert_ptr_null(app2->children);
    xmlFreeDoc(got);
    xmlFreeDoc(doc);
    /* an entry over an eighth of the bound is not kept */
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    doc = sample(0, big, &app);
    as_itemcache_put(c, "big", app);
    as_itemcache_stats(c, &s);
    ck_assert_uint_eq(s.refused, 1);
    got = empty_app(&app2);
    ck_assert_int_eq(as_itemcache_get(c, "big", app2, 0), 0);
    xmlFreeDoc(got);
    xmlFreeDoc(doc);
    as_itemcache_destroy(c);
}
END_TEST

/* A tree the cache cannot rebuild exactly is not kept. */
START_TEST(test_cache_refuses_attributes)
{
    as_itemcache_t *c = as_itemcache_create(1 << 20);
    as_itemcache_stats_t s;
    xmlNodePtr app, app2;
    xmlDocPtr doc = sample(0, "x", &app), got;

    xmlSetProp(app->children, BAD_CAST "lang", BAD_CAST "en");
    as_itemcache_put(c, "k", app);
    as_itemcache_stats(c, &s);
    ck_assert_uint_eq(s.refused, 1);
    ck_assert_uint_eq(s.entries, 0);
    got = empty_app(&app2);
    ck_assert_int_eq(as_itemcache_get(c, "k", app2, 0), 0);
    xmlFreeDoc(got);
    xmlFreeDoc(doc);
    as_itemcache_destroy(c);
}
END_TEST

typedef struct thr_t {
    as_itemcache_t *c;
    int id, ok;
} thr_t;

static void *worker(void *arg)
{
    thr_t *t = arg;
    int i;
    t->ok = 1;
    for (i = 0; i < 300; i++) {
        /* ~1.5 KB each, 50 of them: more than the cache holds */
        char subject[1600], key[32]; /* no pool: pools are not thread-safe */
        xmlNodePtr app, app2;
        xmlDocPtr doc, got;
        snprintf(key, sizeof key, "k%d", i % 50);
        snprintf(subject, sizeof subject, "s%d %01500d", i % 50, i % 50);
        doc = sample(0, subject, &app);
        got = empty_app(&app2);
        if (as_itemcache_get(t->c, key, app2, 0)) {
            /* whoever stored it, it is this subject's tree */
            xmlChar *a = NULL, *b = NULL;
            int la, lb;
            xmlDocDumpMemory(doc, &a, &la);
            xmlDocDumpMemory(got, &b, &lb);
            if (la != lb || memcmp(a, b, (size_t)la)) {
                t->ok = 0;
            }
            xmlFree(a);
            xmlFree(b);
        } else {
            as_itemcache_put(t->c, key, app);
        }
        xmlFreeDoc(doc);
        xmlFreeDoc(got);
    }
    return NULL;
}

START_TEST(test_cache_threads)
{
    /* small: evictions happen while others read */
    as_itemcache_t *c = as_itemcache_create(AS_ITEMCACHE_MIN_BYTES);
    pthread_t th[4];
    thr_t t[4];
    as_itemcache_stats_t s;
    int i;

    for (i = 0; i < 4; i++) {
        t[i].c = c;
        t[i].id = i;
        ck_assert_int_eq(pthread_create(&th[i], NULL, worker, &t[i]), 0);
    }
    for (i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(t[i].ok, 1);
    }
    as_itemcache_stats(c, &s);
    ck_assert_uint_eq(s.hits + s.misses, 1200);
    ck_assert_uint_gt(s.evicted, 0);
    ck_assert_uint_le(s.bytes, AS_ITEMCACHE_MIN_BYTES);
    as_itemcache_destroy(c);
}
END_TEST

/* httpd's children share the cache made before they were forked: what one
 * stores, the parent (or a sibling) finds. */
START_TEST(test_cache_shared_by_forks)
{
    as_itemcache_t *c = as_itemcache_create(1 << 20);
    as_itemcache_stats_t s;
    xmlNodePtr app, app2;
    xmlDocPtr doc = sample(AS_STORE_SEEN, "from a child", &app), got;
    int status;
    pid_t pid = fork();

    ck_assert_int_ge(pid, 0);
    if (pid == 0) {
        as_itemcache_put(c, "forked", app);
        _exit(0);
    }
    ck_assert_int_eq(waitpid(pid, &status, 0), pid);
    ck_assert_int_eq(status, 0);
    got = empty_app(&app2);
    ck_assert_int_eq(as_itemcache_get(c, "forked", app2, AS_STORE_SEEN), 1);
    ck_assert_str_eq(wire(got), wire(doc));
    as_itemcache_stats(c, &s);
    ck_assert_uint_eq(s.stored, 1);
    ck_assert_uint_eq(s.hits, 1);
    xmlFreeDoc(got);
    xmlFreeDoc(doc);
    as_itemcache_destroy(c);
}
END_TEST

/* The ring wraps many times over: what is found is always what was stored
 * under that key, and the newest entries are found. */
START_TEST(test_cache_wraps)
{
    as_itemcache_t *c = as_itemcache_create(AS_ITEMCACHE_MIN_BYTES);
    as_itemcache_stats_t s;
    int i, found = 0;

    for (i = 0; i < 3000; i++) {
        /* sizes vary, so the ring's end is met at every offset */
        char subject[700];
        xmlNodePtr app;
        xmlDocPtr doc;
        snprintf(subject, sizeof subject, "%d %0*d", i, (i * 37) % 600, i);
        doc = sample(0, subject, &app);
        as_itemcache_put(c, apr_psprintf(unit_pool, "w%d", i), app);
        xmlFreeDoc(doc);
    }
    for (i = 0; i < 3000; i++) {
        xmlNodePtr app, app2;
        char subject[700];
        xmlDocPtr got = empty_app(&app2), want;
        if (!as_itemcache_get(c, apr_psprintf(unit_pool, "w%d", i), app2, 0)) {
            ck_assert_ptr_null(app2->children);
            xmlFreeDoc(got);
            continue;
        }
        found++;
        snprintf(subject, sizeof subject, "%d %0*d", i, (i * 37) % 600, i);
        want = sample(0, subject, &app);
        ck_assert_str_eq(wire(got), wire(want));
        xmlFreeDoc(got);
        xmlFreeDoc(want);
    }
    as_itemcache_stats(c, &s);
    ck_assert_int_gt(found, 20);
    ck_assert_uint_eq(s.entries, (apr_size_t)found);
    ck_assert_uint_le(s.bytes, AS_ITEMCACHE_MIN_BYTES);
    ck_assert_uint_eq(s.stored, 3000);
    ck_assert_uint_eq(s.evicted + s.entries, 3000);
    as_itemcache_destroy(c);
}
END_TEST

/* ---- through Sync ----------------------------------------------------------------- */

/* The only item of the INBOX. */
static const as_store_item_t *only_item(engine_t *e)
{
    apr_array_header_t *items;
    const char *token;
    ck_assert_int_eq(as_store_list_items(e->run.st, e->inbox, unit_pool, &items, &token),
                     APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    return &APR_ARRAY_IDX(items, 0, as_store_item_t);
}

/* The item's ApplicationData as the device receives it (WBXML, hex). */
static const char *item_wire(engine_t *e, const as_store_item_t *it, xmlDocPtr *docp)
{
    as_sync_coll_req_t q;
    xmlNodePtr app;
    xmlDocPtr doc = empty_app(&app);
    unsigned flags;
    apr_uint64_t etag;

    memset(&q, 0, sizeof q);
    q.id = e->inbox;
    q.prefs[0].type = 1;
    q.prefs[0].truncation = 5120;
    q.nprefs = 1;
    ck_assert_int_eq(
        as_sync_item_appdata(&e->run, &q, e->inbox, it->id, it->name, app, &flags, &etag, NULL),
        APR_SUCCESS);
    ck_assert_uint_eq(flags, it->flags);
    *docp = doc;
    return wire(doc);
}

START_TEST(test_sync_uses_cache)
{
    engine_t e;
    as_store_item_t it;
    as_itemcache_stats_t s0, s;
    const char *first, *again, *seen, *changed;
    xmlDocPtr d1, d2, d3, d4;
    char name[256], path[1200], tmp[1200];
    size_t len;
    char *m = mg_msg_plain(&len, 1), *m2 = mg_msg_plain(&len, 2);
    time_t mtime = time(NULL) - 3600;

    ck_assert_int_eq(mg_deliver(st_root, "cur", 1, "2,", m, len, mtime, name), 0);
    engine_open(&e);
    as_itemcache_stats(as_itemcache_shared(), &s0);
    it = *only_item(&e);
    first = item_wire(&e, &it, &d1);
    again = item_wire(&e, &it, &d2);
    as_itemcache_stats(as_itemcache_shared(), &s);
    ck_assert_uint_eq(s.misses - s0.misses, 1);
    ck_assert_uint_eq(s.hits - s0.hits, 1);
    ck_assert_str_eq(again, first);
    ck_assert_str_eq(sx(d2, "//e:Read"), "0");

    /* a flag change is a rename: the same inode, served from the cache
     * with the new Read and Flag */
    snprintf(path, sizeof path, "%s/cur/%s", st_root, name);
    snprintf(tmp, sizeof tmp, "%s/cur/%sFS", st_root, name);
    ck_assert_int_eq(rename(path, tmp), 0);
    it = *only_item(&e);
    seen = item_wire(&e, &it, &d3);
    as_itemcache_stats(as_itemcache_shared(), &s);
    ck_assert_uint_eq(s.hits - s0.hits, 2);
    ck_assert_str_eq(sx(d3, "//e:Read"), "1");
    ck_assert_str_eq(sx(d3, "//e:Flag/e:Status"), "2");
    ck_assert_str_ne(seen, first);

    /* another file under the same name and size, written later (other
     * mtime): converted again */
    snprintf(path, sizeof path, "%s/tmp/replacement", st_root);
    ck_assert_int_eq(mg_write(path, m2, len, mtime + 1), 0);
    ck_assert_int_eq(rename(path, tmp), 0);
    it = *only_item(&e);
    changed = item_wire(&e, &it, &d4);
    as_itemcache_stats(as_itemcache_shared(), &s);
    ck_assert_uint_eq(s.misses - s0.misses, 2);
    ck_assert_str_ne(changed, seen);
    ck_assert_ptr_nonnull(strstr(sx(d4, "//b:Body/b:Data"), "message 2"));
    xmlFreeDoc(d1);
    xmlFreeDoc(d2);
    xmlFreeDoc(d3);
    xmlFreeDoc(d4);
    free(m);
    free(m2);
}
END_TEST

/* Sets the mtime of path to sec + usec microseconds. */
static void set_mtime(const char *path, time_t sec, long usec)
{
    struct timeval tv[2];
    tv[0].tv_sec = tv[1].tv_sec = sec;
    tv[0].tv_usec = tv[1].tv_usec = usec;
    ck_assert_int_eq(utimes(path, tv), 0);
}

/* A replacement that keeps the size and the second of the mtime differs in
 * the microseconds (the listing's mtime is that precise); one that keeps
 * the mtime but not the size differs in the size: both converted again. */
START_TEST(test_sync_replaced_file_misses)
{
    engine_t e;
    as_store_item_t it;
    as_itemcache_stats_t s0, s;
    xmlDocPtr d1, d2, d3;
    char name[256], path[1200], tmp[1200];
    size_t len, len3;
    char *m = mg_msg_plain(&len, 1), *m2 = mg_msg_plain(&len, 2), *m3 = mg_msg_plain(&len3, 300);
    time_t mtime = time(NULL) - 7200;

    ck_assert_uint_ne(len3, len);
    ck_assert_int_eq(mg_deliver(st_root, "cur", 1, "2,S", m, len, mtime, name), 0);
    snprintf(path, sizeof path, "%s/cur/%s", st_root, name);
    set_mtime(path, mtime, 250000);
    engine_open(&e);
    as_itemcache_stats(as_itemcache_shared(), &s0);
    it = *only_item(&e);
    item_wire(&e, &it, &d1);
    ck_assert_ptr_nonnull(strstr(sx(d1, "//b:Body/b:Data"), "message 1"));

    snprintf(tmp, sizeof tmp, "%s/tmp/replacement", st_root);
    ck_assert_int_eq(mg_write(tmp, m2, len, mtime), 0);
    set_mtime(tmp, mtime, 750000);
    ck_assert_int_eq(rename(tmp, path), 0);
    it = *only_item(&e);
    item_wire(&e, &it, &d2);
    ck_assert_ptr_nonnull(strstr(sx(d2, "//b:Body/b:Data"), "message 2"));

    ck_assert_int_eq(mg_write(tmp, m3, len3, mtime), 0);
    set_mtime(tmp, mtime, 750000);
    ck_assert_int_eq(rename(tmp, path), 0);
    it = *only_item(&e);
    item_wire(&e, &it, &d3);
    ck_assert_ptr_nonnull(strstr(sx(d3, "//b:Body/b:Data"), "message 300"));
    as_itemcache_stats(as_itemcache_shared(), &s);
    ck_assert_uint_eq(s.misses - s0.misses, 3);
    ck_assert_uint_eq(s.hits - s0.hits, 0);
    xmlFreeDoc(d1);
    xmlFreeDoc(d2);
    xmlFreeDoc(d3);
    free(m);
    free(m2);
    free(m3);
}
END_TEST

/* One Add of the listed item it through the Sync reply writer; the reply
 * document in *docp; the number of commands written. */
static int emit_add(engine_t *e, const as_store_item_t *it, xmlDocPtr *docp)
{
    as_sync_coll_req_t q;
    as_deltas_t d;
    as_delta_t *dl;
    as_coll_state_t cs;
    as_cset_t set;
    xmlNodePtr root, coll, commands = NULL;
    int more = 0;

    memset(&q, 0, sizeof q);
    q.id = e->inbox;
    q.prefs[0].type = 1;
    q.prefs[0].truncation = 5120;
    q.nprefs = 1;
    memset(&d, 0, sizeof d);
    d.list = apr_array_make(unit_pool, 1, sizeof(as_delta_t));
    d.start = -1;
    dl = apr_array_push(d.list);
    dl->kind = AS_DELTA_ADD;
    dl->id = it->id;
    dl->item = it;
    memset(&cs, 0, sizeof cs);
    cs.items_loaded = 1;
    as_cset_init(&set, &cs, unit_pool);
    *docp = as_reply_new(NS_AS, "Sync", &root);
    coll = as_xml_add(as_xml_add(root, NS_AS, "Collections", NULL), NS_AS, "Collection", NULL);
    return as_sync_emit_changes(&e->run, &q, &d, &set, coll, &commands, 10, &more,
                                apr_array_make(unit_pool, 1, sizeof(as_sync_undo_t)));
}

/* The reply writer serves a listed item from the cache by what the listing
 * says of it, without opening the file: here it is gone after the listing,
 * and still sent from the cache (without the cache it would be skipped). */
START_TEST(test_sync_listed_item_needs_no_open)
{
    engine_t e;
    as_store_item_t it;
    as_itemcache_stats_t s0, s;
    xmlDocPtr d1, d2, d3;
    char name[256], path[1200];
    size_t len;
    char *m = mg_msg_plain(&len, 7);

    ck_assert_int_eq(mg_deliver(st_root, "cur", 1, "2,F", m, len, time(NULL) - 600, name), 0);
    snprintf(path, sizeof path, "%s/cur/%s", st_root, name);
    engine_open(&e);
    as_itemcache_stats(as_itemcache_shared(), &s0);
    it = *only_item(&e);
    ck_assert_int_eq(emit_add(&e, &it, &d1), 1);
    ck_assert_ptr_nonnull(strstr(sx(d1, "//a:Add/a:ApplicationData/b:Body/b:Data"), "message 7"));
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(emit_add(&e, &it, &d2), 1);
    ck_assert_str_eq(sx(d2, "//a:Add/a:ApplicationData/e:Flag/e:Status"), "2");
    ck_assert_str_eq(wire(d2), wire(d1));
    as_itemcache_stats(as_itemcache_shared(), &s);
    ck_assert_uint_eq(s.hits - s0.hits, 1);
    ck_assert_uint_eq(s.misses - s0.misses, 1); /* the same key is not looked up twice */
    /* another item the cache never saw, gone too: nothing sent */
    it.size++;
    ck_assert_int_eq(emit_add(&e, &it, &d3), 0);
    xmlFreeDoc(d1);
    xmlFreeDoc(d2);
    xmlFreeDoc(d3);
    free(m);
}
END_TEST

/* The cache is shared by every account: one account's entry is never
 * another's, even for a file alike in name, size and mtime. */
START_TEST(test_sync_key_has_account)
{
    engine_t e;
    as_store_item_t it;
    as_itemcache_stats_t s0, s;
    xmlDocPtr d1, d2, d3;
    char name[256];
    size_t len;
    char *m = mg_msg_plain(&len, 5);

    ck_assert_int_eq(mg_deliver(st_root, "cur", 1, "2,", m, len, time(NULL) - 900, name), 0);
    engine_open(&e);
    as_itemcache_stats(as_itemcache_shared(), &s0);
    it = *only_item(&e);
    item_wire(&e, &it, &d1);
    item_wire(&e, &it, &d2);
    e.req.account = "someone.else@example.com"; /* same store: only the account differs */
    item_wire(&e, &it, &d3);
    as_itemcache_stats(as_itemcache_shared(), &s);
    ck_assert_uint_eq(s.hits - s0.hits, 1);
    ck_assert_uint_eq(s.misses - s0.misses, 2);
    xmlFreeDoc(d1);
    xmlFreeDoc(d2);
    xmlFreeDoc(d3);
    free(m);
}
END_TEST

/* ActiveSyncItemCache: the configured bound, 0 = no cache; the process's
 * mapping goes with the configuration's pool (a restart). */
START_TEST(test_cache_configure)
{
    apr_pool_t *conf, *after;
    as_itemcache_stats_t s;

    ck_assert_int_eq(apr_pool_create(&conf, NULL), APR_SUCCESS);
    as_itemcache_configure(conf, 0);
    ck_assert_ptr_null(as_itemcache_shared());
    as_itemcache_configure(conf, 1000); /* raised to the least size */
    ck_assert_ptr_nonnull(as_itemcache_shared());
    as_itemcache_stats(as_itemcache_shared(), &s);
    ck_assert_uint_eq(s.max_bytes, AS_ITEMCACHE_MIN_BYTES);
    as_itemcache_configure(conf, 3 << 20);
    as_itemcache_stats(as_itemcache_shared(), &s);
    ck_assert_uint_eq(s.max_bytes, 3 << 20);
    ck_assert_uint_eq(s.entries, 0);
    apr_pool_destroy(conf);
    ck_assert_ptr_null(as_itemcache_shared());
    /* as before, for the tests after this one in the same process */
    ck_assert_int_eq(apr_pool_create(&after, NULL), APR_SUCCESS);
    as_itemcache_configure(after, AS_ITEMCACHE_MAX_BYTES);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("itemcache");
    TCase *tc = tcase_create("cache");
    TCase *ts = tcase_create("sync");
    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, test_cache_exact_rebuild);
    tcase_add_test(tc, test_cache_bound);
    tcase_add_test(tc, test_cache_refuses_attributes);
    tcase_add_test(tc, test_cache_threads);
    tcase_add_test(tc, test_cache_shared_by_forks);
    tcase_add_test(tc, test_cache_wraps);
    tcase_add_test(tc, test_cache_configure);
    suite_add_tcase(s, tc);
    tcase_add_checked_fixture(ts, st_setup, st_teardown);
    tcase_set_timeout(ts, 60);
    tcase_add_test(ts, test_sync_uses_cache);
    tcase_add_test(ts, test_sync_replaced_file_misses);
    tcase_add_test(ts, test_sync_listed_item_needs_no_open);
    tcase_add_test(ts, test_sync_key_has_account);
    suite_add_tcase(s, ts);
    return s;
}
