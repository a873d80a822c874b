/* Sync (MS-ASCMD 2.2.1.21) for mail collections.
 *
 * Request: Sync{[Collections{Collection{SyncKey, CollectionId, [Class],
 * [DeletesAsMoves], [GetChanges], [WindowSize], [ConversationMode],
 * [Options{FilterType, BodyPreference*, MIMESupport, MIMETruncation,
 * Conflict ...}], [Commands{Add | Change | Delete | Fetch}]}*}],
 * [Wait | HeartbeatInterval], [WindowSize], [Partial]}, or no body at all.
 *
 * Per collection (state: as_syncstate.h):
 *   SyncKey 0   new generation, key {g}1, no items (Commands ignored).
 *   key N       client Commands first (Change: Read/Flag -> set_flags;
 *               Delete -> Trash, or removal with DeletesAsMoves 0 or in
 *               Trash; Fetch -> Responses/Fetch; Add -> Status 6: mail is
 *               not created by Sync before 16.0), answered in Responses
 *               only on failure (Change/Delete) or always (Fetch, Add).
 *               Then, with GetChanges (default on), server changes: the
 *               header's folder token is compared (O(1)); only when it
 *               differs, changes are pending, the FilterType changed or an
 *               item left the window is the folder listed and compared
 *               with the device's item set (as_sync_deltas): Delete,
 *               SoftDelete, Change, Add (newest first), at most WindowSize
 *               (the collection's, and what the global WindowSize leaves)
 *               and about AS_SYNC_REPLY_BUDGET bytes; MoreAvailable when
 *               more remain.  The device's set changes only by what was
 *               sent, so deliveries, flag changes, renames and removals by
 *               other programs between pages are neither lost nor sent
 *               twice.  A reply with changes (either way) carries {g}N+1
 *               and is stored; otherwise the key stays N.
 *   key N-1     the device lost reply N: the stored reply N again; from
 *               the third consecutive resend on, loop detection (below,
 *               sync_resend) narrows reply N, then skips the item.
 *   other       Status 3 (SyncKey 0 in the reply).
 *   Unknown or disabled (email off) collection: Status 8; a folder the
 *   device's hierarchy still lists but which is gone: Status 12.
 * Conflicts (Options/Conflict, default 1 = server wins): a Change of a
 *   Read/Flag the server changed since the device got it is answered
 *   Status 7 and the server's state is sent as a Change.
 * Collection reply order: SyncKey, CollectionId, Status, [Responses],
 *   [MoreAvailable], [Commands] -- for 12.1 too: Class there is optional in
 *   12.1 (MS-ASCMD 2.2.3.27.6), the published SyncResponse schema has no
 *   place for it, and the device knows the class from the folder type.
 * Whole request: no body or Partial -> the cached last full request (per
 *   device; Partial merges its collections into it); none cached -> Status
 *   13.  Wait (1-59 min) / HeartbeatInterval (60-3540 s, 14.0+) out of
 *   range -> Status 14 + Limit; both, or HeartbeatInterval from a 12.1
 *   device -> 4; more than AS_SYNC_MAX_COLLECTIONS -> 15 +
 *   Limit.  When no collection has anything to say the reply is empty
 *   (HTTP 200, no body), which also ends a Wait without changes.
 * Memory: a parked Sync (Wait / HeartbeatInterval) keeps only what its next
 *   round needs -- the collections' ids, keys and options, the claim ticket
 *   and the watch registration -- in the request pool.  Parsing, the cache,
 *   the stored state, the store and its listings and the per-collection
 *   replies live in a scratch view with an allocator of its own
 *   (as_sync_int.h), closed before parking and after each wake-up's round;
 *   the request documents are freed before parking (as_command.h).
 */
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_device.h"
#include "activesync/as_mime.h"
#include "activesync/as_sync_engine.h"
#include "activesync/as_watch.h"

#define AS_NS    "AirSync:"
#define BASE_NS  "AirSyncBase:"
#define EMAIL_NS "Email:"

enum {
    SYNC_OK = 1,
    SYNC_BADKEY = 3,
    SYNC_PROTOCOL = 4,
    SYNC_SERVER = 5,
    SYNC_CONVERSION = 6,
    SYNC_CONFLICT = 7,
    SYNC_NOTFOUND = 8,
    SYNC_HIERARCHY = 12,
    SYNC_INCOMPLETE = 13,
    SYNC_BADWAIT = 14,
    SYNC_TOOMANY = 15,
};

typedef struct coll_req_t {
    const char *id;
    const char *key;
    int get_changes; /* -1 absent */
    int window;      /* effective WindowSize */
    int filter;
    int deletes_as_moves;
    int conflict; /* 1 server wins, 0 client wins */
    as_mime_bodypref_t prefs[4];
    int nprefs;
    int mime_support;
    xmlNodePtr commands;
} coll_req_t;

typedef struct coll_res_t {
    xmlDocPtr doc;   /* Sync{Collections{Collection}} of this collection */
    xmlNodePtr coll; /* its Collection element */
    int nothing;     /* no change either way, key unchanged: may be left out */
} coll_res_t;

typedef struct sync_ctx_t {
    as_request_t *own; /* the request: what outlives parking is in own->pool */
    as_request_t wr;   /* its scratch view (as_sync_int.h): the per-request work */
    as_request_t *r;   /* &wr */
    const char *dev;
    as_store_t *st; /* NULL: mail off (or parked); opened in the scratch view */
    int proto;
    int global_left; /* items the global WindowSize still allows; -1: no limit */
    as_hier_state_t hs;
    int hs_loaded;
} sync_ctx_t;

static xmlDocPtr top_status(int status, long limit)
{
    xmlNodePtr root;
    xmlDocPtr doc = as_reply_new(AS_NS, "Sync", &root);
    as_sync_add_num(root, AS_NS, "Status", status);
    if (limit >= 0) {
        as_sync_add_num(root, AS_NS, "Limit", limit);
    }
    return doc;
}

static int is_elem(xmlNodePtr n)
{
    return n && n->type == XML_ELEMENT_NODE;
}

/* ---- request parsing ---------------------------------------------------------------- */

static int parse_bool(apr_pool_t *p, xmlNodePtr n, int def)
{
    const char *t;
    if (!n) {
        return def;
    }
    t = as_sync_text(p, n);
    if (!t) {
        return -2;
    }
    return !*t || !strcmp(t, "1") ? 1 : !strcmp(t, "0") ? 0 : -2;
}

static apr_size_t mime_truncation(long v)
{
    static const apr_size_t sizes[] = {0, 4096, 5120, 7168, 10240, 20480, 51200, 102400, 0};
    return v >= 0 && v <= 8 ? sizes[v] : 0;
}

/* Options (the first one for Email or without Class). */
static int parse_options(sync_ctx_t *c, xmlNodePtr coll, coll_req_t *q)
{
    apr_pool_t *p = c->r->pool;
    xmlNodePtr o, e;
    long mt = -1;

    for (o = coll->children; o; o = o->next) {
        const char *cls;
        if (!as_xml_is(o, AS_NS, "Options")) {
            continue;
        }
        cls = as_sync_text(p, as_xml_child(o, AS_NS, "Class"));
        if (!cls || !strcmp(cls, "Email")) {
            break;
        }
    }
    if (!o) {
        return 0;
    }
    for (e = o->children; e; e = e->next) {
        if (!is_elem(e)) {
            continue;
        }
        if (as_xml_is(e, AS_NS, "FilterType")) {
            q->filter = (int)as_sync_number(p, e, 0, 8);
            if (q->filter < 0) {
                return -1;
            }
            if (q->filter > 5) {
                q->filter = 0; /* calendar/task values: no window for mail */
            }
        } else if (as_xml_is(e, AS_NS, "MIMESupport")) {
            if ((q->mime_support = (int)as_sync_number(p, e, 0, 2)) < 0) {
                return -1;
            }
        } else if (as_xml_is(e, AS_NS, "MIMETruncation")) {
            if ((mt = as_sync_number(p, e, 8, 8)) < 0) {
                return -1;
            }
        } else if (as_xml_is(e, AS_NS, "Conflict")) {
            if ((q->conflict = (int)as_sync_number(p, e, 1, 2)) < 0) {
                return -1;
            }
        } else if (as_xml_is(e, BASE_NS, "BodyPreference") && q->nprefs < 4) {
            if (as_cmd_bodypref(p, e, &q->prefs[q->nprefs]) != 0) {
                return -1;
            }
            q->nprefs++;
        }
    }
    if (mt >= 0) {
        int i;
        for (i = 0; i < q->nprefs; i++) {
            if (q->prefs[i].type == 4 && !q->prefs[i].truncation) {
                q->prefs[i].truncation = mime_truncation(mt);
            }
        }
    }
    return 0;
}

static int parse_collection(sync_ctx_t *c, xmlNodePtr coll, int max_window, coll_req_t *q)
{
    apr_pool_t *p = c->r->pool;
    long w;
    memset(q, 0, sizeof(*q));
    /* kept while parked: every round answers with them */
    q->id = as_sync_text(c->own->pool, as_xml_child(coll, AS_NS, "CollectionId"));
    q->key = as_sync_text(c->own->pool, as_xml_child(coll, AS_NS, "SyncKey"));
    if (!q->id || !q->key || strlen(q->key) > 64 || strlen(q->id) > 64) {
        return -1;
    }
    q->get_changes = parse_bool(p, as_xml_child(coll, AS_NS, "GetChanges"), -1);
    q->deletes_as_moves = parse_bool(p, as_xml_child(coll, AS_NS, "DeletesAsMoves"), 1);
    if (q->get_changes == -2 || q->deletes_as_moves == -2) {
        return -1;
    }
    w = as_sync_number(p, as_xml_child(coll, AS_NS, "WindowSize"), AS_SYNC_WINDOW_DEFAULT,
                       999999999L);
    if (w < 0) {
        return -1;
    }
    q->window = w == 0 || w > max_window ? max_window : (int)w;
    q->conflict = 1;
    q->commands = as_xml_child(coll, AS_NS, "Commands");
    return parse_options(c, coll, q);
}

/* ---- client commands ------------------------------------------------------------------ */

/* The device's item set, as an editable array with removal marks. */
typedef struct cset_t {
    as_coll_state_t *cs;
    apr_array_header_t *added; /* as_sync_item_t */
    unsigned char *removed;
    int changed;
} cset_t;

static void cset_remove(cset_t *s, const char *id)
{
    int k = as_coll_find(s->cs, id);
    if (k >= 0 && !s->removed[k]) {
        s->removed[k] = 1;
        s->changed = 1;
    }
}

static void cset_set_flags(cset_t *s, const char *id, unsigned flags)
{
    int k = as_coll_find(s->cs, id);
    if (k >= 0) {
        s->cs->items[k].flags = flags & AS_SYNC_FLAGS_MASK;
        s->changed = 1;
    }
}

static void cset_add(cset_t *s, const char *id, unsigned flags)
{
    as_sync_item_t *it = apr_array_push(s->added);
    apr_cpystrn(it->id, id, sizeof(it->id));
    it->flags = flags & (AS_SYNC_FLAGS_MASK | AS_SYNC_SKIPPED);
    s->changed = 1;
}

static int item_cmp(const void *a, const void *b)
{
    return strcmp(((const as_sync_item_t *)a)->id, ((const as_sync_item_t *)b)->id);
}

/* Apply the marks: the new sorted set in cs. */
static void cset_commit(cset_t *s, apr_pool_t *p)
{
    as_coll_state_t *cs = s->cs;
    apr_uint32_t n = 0, i;
    as_sync_item_t *out =
        apr_palloc(p, sizeof(as_sync_item_t) * (cs->nitems + (apr_uint32_t)s->added->nelts + 1));
    for (i = 0; i < cs->nitems; i++) {
        if (!s->removed[i]) {
            out[n++] = cs->items[i];
        }
    }
    for (i = 0; i < (apr_uint32_t)s->added->nelts; i++) {
        out[n++] = APR_ARRAY_IDX(s->added, i, as_sync_item_t);
    }
    qsort(out, n, sizeof(as_sync_item_t), item_cmp);
    cs->items = out;
    cs->nitems = n;
    cs->items_loaded = 1;
}

static xmlNodePtr responses_of(xmlNodePtr *resp, xmlNodePtr scratch)
{
    if (!*resp) {
        *resp = as_xml_add(scratch, AS_NS, "Responses", NULL);
    }
    return *resp;
}

static void response_status(xmlNodePtr *resp, xmlNodePtr scratch, const char *what, const char *sid,
                            int status)
{
    xmlNodePtr e = as_xml_add(responses_of(resp, scratch), AS_NS, what, NULL);
    as_xml_add(e, AS_NS, "ServerId", sid);
    as_sync_add_num(e, AS_NS, "Status", status);
}

/* Email ApplicationData of an item into appdata; APR_ENOENT when it is gone. */
static apr_status_t item_appdata(sync_ctx_t *c, const coll_req_t *q, const char *folder,
                                 const char *item, xmlNodePtr appdata, unsigned *flags,
                                 apr_off_t *size)
{
    apr_pool_t *sp;
    as_store_msg_t *msg = NULL;
    as_mime_opts_t o;
    const char *err = NULL;
    apr_status_t rv;

    apr_pool_create(&sp, c->r->pool);
    rv = as_store_open_item(c->st, folder, item, sp, &msg);
    if (rv != APR_SUCCESS) {
        apr_pool_destroy(sp);
        return rv;
    }
    as_sync_mime_opts(&o, folder, item, &msg->item, c->proto, q->prefs, q->nprefs, q->mime_support,
                      c->r->log);
    if (as_mime_to_eas(sp, msg->file, &o, appdata, &err) != APR_SUCCESS) {
        /* not a message at all: still an item the device should see */
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
               "Sync: item %s:%s (%s) not readable as mail: %s", folder, item,
               msg->item.name ? msg->item.name : "?", err ? err : "?");
        as_xml_add(appdata, EMAIL_NS, "Subject", "");
        as_mime_add_flags(appdata, msg->item.flags);
    }
    *flags = msg->item.flags;
    if (size) {
        *size = msg->item.size;
    }
    apr_pool_destroy(sp);
    return APR_SUCCESS;
}

/* Change: the Read / Flag values the device sets (-1 untouched). */
static void change_values(apr_pool_t *p, xmlNodePtr app, int *read, int *flag)
{
    xmlNodePtr e;
    *read = *flag = -1;
    if (!app) {
        return;
    }
    if ((e = as_xml_child(app, EMAIL_NS, "Read"))) {
        const char *t = as_sync_text(p, e);
        *read = t && !strcmp(t, "1");
    }
    if ((e = as_xml_child(app, EMAIL_NS, "Flag"))) {
        const char *t = as_sync_text(p, as_xml_child(e, EMAIL_NS, "Status"));
        *flag = t && !strcmp(t, "2");
    }
}

/* Run the client's Commands; returns 1 when one changed something (the
 * key then advances). */
static int client_commands(sync_ctx_t *c, const coll_req_t *q, cset_t *set, xmlNodePtr scratch,
                           xmlNodePtr *resp)
{
    apr_pool_t *p = c->r->pool;
    xmlNodePtr cmd;
    int changed = 0;

    for (cmd = q->commands ? q->commands->children : NULL; cmd; cmd = cmd->next) {
        const char *sid, *folder = NULL, *item = NULL;
        as_store_item_t cur;
        apr_status_t rv;
        if (!is_elem(cmd)) {
            continue;
        }
        if (as_xml_is(cmd, AS_NS, "Add")) {
            const char *cid = as_sync_text(p, as_xml_child(cmd, AS_NS, "ClientId"));
            changed = 1;
            if (cid) {
                xmlNodePtr e = as_xml_add(responses_of(resp, scratch), AS_NS, "Add", NULL);
                as_xml_add(e, AS_NS, "ClientId", cid);
                as_sync_add_num(e, AS_NS, "Status", SYNC_CONVERSION);
            }
            continue;
        }
        sid = as_sync_text(p, as_xml_child(cmd, AS_NS, "ServerId"));
        if (!sid) {
            continue;
        }
        if (as_sync_split_serverid(p, sid, &folder, &item) != APR_SUCCESS ||
            strcmp(folder, q->id)) {
            folder = NULL;
        }
        if (as_xml_is(cmd, AS_NS, "Fetch")) {
            xmlNodePtr e = as_xml_add(responses_of(resp, scratch), AS_NS, "Fetch", NULL);
            xmlNodePtr app, st_node;
            unsigned fl;
            as_xml_add(e, AS_NS, "ServerId", sid);
            st_node = as_xml_add(e, AS_NS, "Status", "1");
            app = as_xml_add(e, AS_NS, "ApplicationData", NULL);
            rv = folder ? item_appdata(c, q, folder, item, app, &fl, NULL) : APR_ENOENT;
            if (rv != APR_SUCCESS) {
                xmlNodeSetContent(st_node, BAD_CAST apr_itoa(p, SYNC_NOTFOUND));
                xmlUnlinkNode(app);
                xmlFreeNode(app);
            }
            continue;
        }
        if (!as_xml_is(cmd, AS_NS, "Change") && !as_xml_is(cmd, AS_NS, "Delete")) {
            continue;
        }
        changed = 1;
        rv = folder ? as_store_stat_item(c->st, folder, item, p, &cur) : APR_ENOENT;
        if (as_xml_is(cmd, AS_NS, "Delete")) {
            if (rv == APR_SUCCESS) {
                rv = as_store_delete_item(c->st, folder, item, q->deletes_as_moves);
            }
            if (folder) {
                cset_remove(set, item);
            }
            if (rv != APR_SUCCESS) {
                response_status(resp, scratch, "Delete", sid,
                                rv == APR_ENOENT ? SYNC_NOTFOUND : SYNC_SERVER);
            }
            continue;
        }
        /* Change */
        {
            int read, flag, k = folder ? as_coll_find(set->cs, item) : -1;
            unsigned setf = 0, clearf = 0, now = 0;
            change_values(p, as_xml_child(cmd, AS_NS, "ApplicationData"), &read, &flag);
            if (rv != APR_SUCCESS) {
                response_status(resp, scratch, "Change", sid,
                                rv == APR_ENOENT ? SYNC_NOTFOUND : SYNC_SERVER);
                continue;
            }
            if (k >= 0 && q->conflict == 1) {
                unsigned had = set->cs->items[k].flags;
                if ((read >= 0 && (had & AS_STORE_SEEN) != (cur.flags & AS_STORE_SEEN)) ||
                    (flag >= 0 && (had & AS_STORE_FLAGGED) != (cur.flags & AS_STORE_FLAGGED))) {
                    response_status(resp, scratch, "Change", sid, SYNC_CONFLICT);
                    continue;
                }
            }
            if (read >= 0) {
                *(read ? &setf : &clearf) |= AS_STORE_SEEN;
            }
            if (flag >= 0) {
                *(flag ? &setf : &clearf) |= AS_STORE_FLAGGED;
            }
            rv = (setf | clearf) ? as_store_set_flags(c->st, folder, item, setf, clearf, &now)
                                 : APR_SUCCESS;
            if (rv != APR_SUCCESS) {
                response_status(resp, scratch, "Change", sid,
                                rv == APR_ENOENT ? SYNC_NOTFOUND : SYNC_SERVER);
                continue;
            }
            if (k >= 0 && (setf | clearf)) {
                /* the device has what it asked for; other fields as before */
                unsigned had = set->cs->items[k].flags;
                unsigned mask =
                    (read >= 0 ? AS_STORE_SEEN : 0) | (flag >= 0 ? AS_STORE_FLAGGED : 0);
                cset_set_flags(set, item, (had & ~mask) | (now & mask));
            }
        }
    }
    return changed;
}

/* ---- one collection ------------------------------------------------------------------- */

static void collection_head(sync_ctx_t *c, coll_res_t *res, const char *key, const char *id,
                            int status)
{
    xmlNodePtr root, colls;
    res->doc = as_reply_new(AS_NS, "Sync", &root);
    colls = as_xml_add(root, AS_NS, "Collections", NULL);
    res->coll = as_xml_add(colls, AS_NS, "Collection", NULL);
    /* every namespace of the subtree declared on Collection itself, so that it
     * can be copied into the reply and stored/replayed on its own */
    xmlSetNs(res->coll, xmlNewNs(res->coll, BAD_CAST AS_NS, NULL));
    xmlNewNs(res->coll, BAD_CAST EMAIL_NS, BAD_CAST "email");
    xmlNewNs(res->coll, BAD_CAST BASE_NS, BAD_CAST "airsyncbase");
    as_xml_add(res->coll, AS_NS, "SyncKey", key);
    as_xml_add(res->coll, AS_NS, "CollectionId", id);
    as_sync_add_num(res->coll, AS_NS, "Status", status);
}

static void res_reset(coll_res_t *res)
{
    if (res->doc) {
        xmlFreeDoc(res->doc);
    }
    memset(res, 0, sizeof(*res));
}

static void undo_push(apr_array_header_t *undo, const cset_t *set, const char *id, int kind)
{
    as_sync_undo_t *u = apr_array_push(undo);
    int k = as_coll_find(set->cs, id);
    apr_cpystrn(u->id, id, sizeof(u->id));
    u->kind = kind;
    u->flags = k >= 0 ? set->cs->items[k].flags : 0;
}

/* Emit server changes into commands (created on demand under coll), at most
 * limit; updates set and records in undo how (loop detection).  Returns the
 * number sent; *more when some remain. */
static int emit_changes(sync_ctx_t *c, const coll_req_t *q, const as_deltas_t *d, cset_t *set,
                        xmlNodePtr coll, xmlNodePtr *commands, int limit, int *more,
                        apr_array_header_t *undo)
{
    apr_size_t budget = 0;
    int i, sent = 0;

    *more = 0;
    for (i = 0; i < d->list->nelts; i++) {
        const as_delta_t *dl = &APR_ARRAY_IDX(d->list, i, as_delta_t);
        const char *sid;
        xmlNodePtr e;
        if (sent >= limit || (sent > 0 && budget >= AS_SYNC_REPLY_BUDGET)) {
            *more = 1;
            break;
        }
        sid = as_sync_serverid(c->r->pool, q->id, dl->id);
        if (dl->kind == AS_DELTA_ADD) {
            unsigned flags = 0;
            apr_off_t size = 0;
            apr_status_t rv;
            if (!*commands) {
                *commands = as_xml_add(coll, AS_NS, "Commands", NULL);
            }
            /* built in place: namespaces must resolve in the tree */
            e = as_xml_add(*commands, AS_NS, "Add", NULL);
            as_xml_add(e, AS_NS, "ServerId", sid);
            rv = item_appdata(c, q, q->id, dl->id, as_xml_add(e, AS_NS, "ApplicationData", NULL),
                              &flags, &size);
            if (rv != APR_SUCCESS) {
                xmlUnlinkNode(e); /* gone meanwhile: nothing to send */
                xmlFreeNode(e);
                continue;
            }
            undo_push(undo, set, dl->id, AS_UNDO_ADDED);
            cset_add(set, dl->id, flags);
            budget += 1024 + (apr_size_t)size;
        } else {
            static const char *const names[] = {NULL, "Delete", "SoftDelete", "Change"};
            if (!*commands) {
                *commands = as_xml_add(coll, AS_NS, "Commands", NULL);
            }
            e = as_xml_add(*commands, AS_NS, names[dl->kind], NULL);
            as_xml_add(e, AS_NS, "ServerId", sid);
            undo_push(undo, set, dl->id,
                      dl->kind == AS_DELTA_CHANGE ? AS_UNDO_FLAGS : AS_UNDO_REMOVED);
            if (dl->kind == AS_DELTA_CHANGE) {
                as_mime_add_flags(as_xml_add(e, AS_NS, "ApplicationData", NULL), dl->item->flags);
                cset_set_flags(set, dl->id, dl->item->flags);
            } else {
                cset_remove(set, dl->id);
            }
            budget += 128;
        }
        sent++;
    }
    return sent;
}

/* Does the device's hierarchy know the folder (-> Status 12 when gone)? */
static int hierarchy_knows(sync_ctx_t *c, const char *id)
{
    if (!c->hs_loaded) {
        if (as_hier_get(c->r->db, c->r->pool, c->r->account, c->dev, &c->hs) != APR_SUCCESS) {
            return 0;
        }
        c->hs_loaded = 1;
    }
    return as_hier_find(c->hs.folders, id) != NULL;
}

/* ---- loop detection ------------------------------------------------------------------- */

/* A device that resends key N-1 again and again has not lost reply N: the
 * reply breaks it (an item it cannot take, a reply too big for its
 * time-out; eas-protocol §3.18, §6.3 #8).  Each LOOP_RESENDS-th consecutive
 * resend of the same reply escalates one step:
 *   - reply N has several server changes: it is rebuilt from the set at N-1
 *     (reply N's changes undone) with a window of 1, and the following
 *     replies carry one change each until those changes are through
 *     (careful), so the next loop pins one item;
 *   - reply N has one change, an Add: that item is skipped -- kept in the
 *     set marked AS_SYNC_SKIPPED, so it is never offered to this device again
 *     while it exists (a new copy has a new id and is tried afresh; a SyncKey
 *     0 resync tries it again) -- and reply N is rebuilt without it;
 *   - anything else (one Delete/Change, only Responses): nothing to narrow,
 *     the reply is replayed (logged once).
 * The key stays N: the device never took reply N, so replacing it loses
 * nothing.  The Responses of reply N (client commands, already carried out)
 * are kept as they were.  One or two resends (a lost reply) still get reply
 * N byte for byte. */
#define LOOP_RESENDS 3

static const char *dev_name(const sync_ctx_t *c)
{
    return c->r->line && c->r->line->device_id ? c->r->line->device_id : c->dev;
}

/* Reply N again, built from the set at N-1 with at most one change; skip:
 * the id of an item never to send to this device. */
static apr_status_t sync_rebuild(sync_ctx_t *c, const coll_req_t *q, const as_coll_state_t *hdr,
                                 const char *old_xml, apr_size_t old_len,
                                 const apr_array_header_t *undo, const char *skip, coll_res_t *res)
{
    as_request_t *r = c->r;
    as_coll_state_t cs, ns;
    as_deltas_t d;
    cset_t set;
    xmlDocPtr old;
    xmlNodePtr commands = NULL;
    apr_array_header_t *nundo = apr_array_make(r->pool, 2, sizeof(as_sync_undo_t));
    const char *xml;
    apr_size_t xml_len;
    apr_uint32_t careful;
    apr_status_t rv;
    int i, sent, more = 0;

    if ((rv = as_coll_get(r->db, r->pool, r->account, c->dev, q->id, 1, &cs)) != APR_SUCCESS) {
        return rv;
    }
    if (cs.gen != hdr->gen || cs.n != hdr->n || cs.resends != hdr->resends) {
        return AS_SYNC_ESTALE;
    }
    /* the set at N-1: reply N's server changes undone */
    memset(&set, 0, sizeof(set));
    set.cs = &cs;
    set.added = apr_array_make(r->pool, 4, sizeof(as_sync_item_t));
    set.removed = apr_pcalloc(r->pool, cs.nitems + 1);
    for (i = 0; i < undo->nelts; i++) {
        const as_sync_undo_t *u = &APR_ARRAY_IDX(undo, i, as_sync_undo_t);
        if (u->kind == AS_UNDO_ADDED) {
            cset_remove(&set, u->id);
        } else if (u->kind == AS_UNDO_REMOVED && as_coll_find(&cs, u->id) < 0) {
            cset_add(&set, u->id, u->flags);
        } else if (u->kind == AS_UNDO_FLAGS) {
            cset_set_flags(&set, u->id, u->flags);
        }
    }
    if (skip) {
        cset_add(&set, skip, AS_SYNC_SKIPPED);
    }
    cset_commit(&set, r->pool);
    set.removed = apr_pcalloc(r->pool, cs.nitems + 1);
    apr_array_clear(set.added);
    if ((rv = as_sync_deltas(c->st, r->pool, q->id, &cs, q->filter, &d)) != APR_SUCCESS) {
        collection_head(c, res, q->key, q->id, rv == APR_ENOENT ? SYNC_HIERARCHY : SYNC_SERVER);
        return APR_SUCCESS;
    }
    collection_head(c, res, as_synckey_format(r->pool, cs.gen, cs.n), q->id, SYNC_OK);
    if ((old = xmlReadMemory(old_xml, (int)old_len, "reply.xml", NULL,
                             XML_PARSE_NONET | XML_PARSE_HUGE))) {
        xmlNodePtr oc = as_xml_child(as_xml_child(xmlDocGetRootElement(old), AS_NS, "Collections"),
                                     AS_NS, "Collection");
        xmlNodePtr resp = oc ? as_xml_child(oc, AS_NS, "Responses") : NULL;
        if (resp) {
            xmlAddChild(res->coll, xmlDocCopyNode(resp, res->doc, 1));
        }
        xmlFreeDoc(old);
    }
    for (i = 0; i < d.forget->nelts; i++) {
        cset_remove(&set, APR_ARRAY_IDX(d.forget, i, const char *));
    }
    sent = emit_changes(c, q, &d, &set, res->coll, &commands, 1, &more, nundo);
    if (c->global_left >= 0) {
        c->global_left = c->global_left > sent ? c->global_left - sent : 0;
    }
    if (more) {
        xmlNodePtr ma = as_xml_add(res->coll, AS_NS, "MoreAvailable", NULL);
        if (commands) {
            xmlUnlinkNode(ma);
            xmlAddPrevSibling(commands, ma);
        }
    }
    cset_commit(&set, r->pool);
    careful = hdr->careful > (apr_uint32_t)undo->nelts ? hdr->careful : (apr_uint32_t)undo->nelts;
    ns = cs;
    ns.filter_type = q->filter;
    ns.pending = more;
    ns.token = more ? NULL : d.token;
    ns.expire = as_sync_expiry(&cs, d.items, as_sync_filter_span(q->filter), r->pool);
    ns.resends = 0;
    ns.careful = more && careful > (apr_uint32_t)sent ? careful - (apr_uint32_t)sent : 0;
    xml = as_sync_doc_xml(res->doc, r->pool, &xml_len);
    rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, hdr->gen, hdr->n, &ns, xml, xml_len,
                          nundo, (long)hdr->resends);
    if (rv != APR_SUCCESS) {
        res_reset(res);
        return rv;
    }
    if (skip) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
               "Sync loop: account %s device %s collection %s: item %s skipped, the device "
               "resent key %s %u times for it",
               r->account, dev_name(c), q->id, as_sync_serverid(r->pool, q->id, skip), q->key,
               hdr->resends);
    } else {
        as_log(r->log, AS_LOG_MARK, AS_LOG_NOTICE, APR_SUCCESS,
               "Sync loop: account %s device %s collection %s: key %s resent %u times, reply "
               "of %d changes rebuilt with one",
               r->account, dev_name(c), q->id, q->key, hdr->resends, undo->nelts);
    }
    return APR_SUCCESS;
}

/* Key N-1: reply N again (lost reply), or the next loop step. */
static apr_status_t sync_resend(sync_ctx_t *c, const coll_req_t *q, const as_coll_state_t *cs,
                                coll_res_t *res)
{
    as_request_t *r = c->r;
    apr_array_header_t *undo = NULL;
    as_coll_state_t nh;
    apr_uint32_t rn = 0;
    const char *xml;
    apr_size_t xml_len;
    apr_status_t rv;

    if ((rv = as_coll_get_undo(r->db, r->pool, r->account, c->dev, q->id, &rn, &xml, &xml_len,
                               &undo)) != APR_SUCCESS) {
        return rv;
    }
    if (rn != cs->n || !xml) {
        collection_head(c, res, "0", q->id, SYNC_BADKEY);
        return APR_SUCCESS;
    }
    nh = *cs;
    nh.resends = cs->resends + 1;
    if (undo && nh.resends >= LOOP_RESENDS && c->st) {
        const as_sync_undo_t *u = undo->nelts ? &APR_ARRAY_IDX(undo, 0, as_sync_undo_t) : NULL;
        as_coll_state_t h = *cs;
        h.resends = nh.resends;
        if (undo->nelts > 1 || (u && u->kind == AS_UNDO_ADDED)) {
            /* count this resend first: the rebuild's compare-and-set expects it */
            nh.items_loaded = 0;
            rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, cs->gen, cs->n, &nh, NULL, 0,
                                  NULL, (long)cs->resends);
            if (rv != APR_SUCCESS) {
                return rv;
            }
            return sync_rebuild(c, q, &h, xml, xml_len, undo, undo->nelts == 1 ? u->id : NULL, res);
        }
        if (nh.resends == LOOP_RESENDS) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
                   "Sync loop: account %s device %s collection %s: key %s resent %u times, "
                   "nothing to narrow in the reply",
                   r->account, dev_name(c), q->id, q->key, nh.resends);
        }
    }
    nh.items_loaded = 0;
    rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, cs->gen, cs->n, &nh, NULL, 0, NULL,
                          (long)cs->resends);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if ((res->doc = xmlReadMemory(xml, (int)xml_len, "reply.xml", NULL,
                                  XML_PARSE_NONET | XML_PARSE_HUGE))) {
        xmlNodePtr root = xmlDocGetRootElement(res->doc);
        res->coll = as_xml_child(as_xml_child(root, AS_NS, "Collections"), AS_NS, "Collection");
        if (res->coll) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
                   "Sync: %s resent key %s: reply replayed", q->id, q->key);
            return APR_SUCCESS;
        }
        res_reset(res);
    }
    collection_head(c, res, "0", q->id, SYNC_BADKEY);
    return APR_SUCCESS;
}

static apr_status_t sync_one(sync_ctx_t *c, const coll_req_t *q, int first, coll_res_t *res)
{
    as_request_t *r = c->r;
    const as_store_folder_t *folder = NULL;
    int tries;

    memset(res, 0, sizeof(*res));
    if (!c->st || as_store_get_folder(c->st, q->id, r->pool, &folder) != APR_SUCCESS) {
        collection_head(c, res, q->key, q->id,
                        c->st && hierarchy_knows(c, q->id) ? SYNC_HIERARCHY : SYNC_NOTFOUND);
        return APR_SUCCESS;
    }
    for (tries = 0; tries < 5; tries++) {
        as_coll_state_t cs, ns;
        as_key_match_t m;
        apr_status_t rv;
        const char *token = NULL, *xml;
        apr_size_t xml_len;
        xmlNodePtr resp_scratch, responses = NULL, commands = NULL;
        cset_t set;
        int client_changed = 0, sent = 0, more = 0, scanned = 0, want;
        as_deltas_t d;
        apr_array_header_t *undo = apr_array_make(r->pool, 16, sizeof(as_sync_undo_t));
        int forgot = 0;

        res_reset(res);
        if ((rv = as_coll_get(r->db, r->pool, r->account, c->dev, q->id, 0, &cs)) != APR_SUCCESS) {
            return rv;
        }
        m = as_synckey_match(q->key, cs.gen, cs.n);
        if (m == AS_KEY_UNKNOWN) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
                   "Sync: unknown key %s for %s (%s/%s)", q->key, q->id, r->account, c->dev);
            collection_head(c, res, "0", q->id, SYNC_BADKEY);
            return APR_SUCCESS;
        }
        if (m == AS_KEY_INITIAL) {
            memset(&ns, 0, sizeof(ns));
            ns.gen = as_synckey_new_gen();
            ns.n = 1;
            ns.filter_type = q->filter;
            ns.items = NULL;
            ns.items_loaded = 1;
            rv = as_coll_put(r->db, r->account, c->dev, q->id, cs.gen, cs.n, &ns, NULL, 0);
            if (rv == AS_SYNC_ESTALE) {
                continue;
            }
            if (rv != APR_SUCCESS) {
                return rv;
            }
            collection_head(c, res, as_synckey_format(r->pool, ns.gen, ns.n), q->id, SYNC_OK);
            return APR_SUCCESS;
        }
        if (m == AS_KEY_PREVIOUS) {
            rv = sync_resend(c, q, &cs, res);
            if (rv == AS_SYNC_ESTALE) {
                continue;
            }
            return rv;
        }
        /* AS_KEY_CURRENT */
        if (cs.resends) {
            /* the device took reply N: resends of N-1 are no longer consecutive */
            ns = cs;
            ns.resends = 0;
            ns.items_loaded = 0;
            rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, cs.gen, cs.n, &ns, NULL, 0,
                                  NULL, (long)cs.resends);
            if (rv == AS_SYNC_ESTALE) {
                continue;
            }
            if (rv != APR_SUCCESS) {
                return rv;
            }
            cs.resends = 0;
        }
        want = q->get_changes != 0;
        if (!want && !(first && q->commands)) {
            collection_head(c, res, q->key, q->id, SYNC_OK);
            res->nothing = 1;
            return APR_SUCCESS;
        }
        if (!(first && q->commands)) {
            if ((rv = as_store_folder_token(c->st, q->id, r->pool, &token)) != APR_SUCCESS) {
                collection_head(c, res, q->key, q->id,
                                rv == APR_ENOENT ? SYNC_HIERARCHY : SYNC_SERVER);
                return APR_SUCCESS;
            }
            if (as_sync_header_unchanged(&cs, token, q->filter)) {
                collection_head(c, res, q->key, q->id, SYNC_OK);
                res->nothing = 1;
                return APR_SUCCESS;
            }
        }
        if ((rv = as_coll_get(r->db, r->pool, r->account, c->dev, q->id, 1, &cs)) != APR_SUCCESS) {
            return rv;
        }
        if (as_synckey_match(q->key, cs.gen, cs.n) != AS_KEY_CURRENT) {
            continue; /* advanced meanwhile */
        }
        memset(&set, 0, sizeof(set));
        set.cs = &cs;
        set.added = apr_array_make(r->pool, 16, sizeof(as_sync_item_t));
        set.removed = apr_pcalloc(r->pool, cs.nitems + 1);
        collection_head(c, res, q->key, q->id, SYNC_OK);
        /* Responses and Commands are built apart, then placed in order */
        resp_scratch = as_xml_add(res->coll, AS_NS, "Scratch", NULL);
        if (first && q->commands) {
            client_changed = client_commands(c, q, &set, resp_scratch, &responses);
            if (set.changed) {
                /* the set as the commands left it, before the deltas */
                cset_commit(&set, r->pool);
                set.removed = apr_pcalloc(r->pool, cs.nitems + 1);
                apr_array_clear(set.added);
                set.changed = 0;
            }
        }
        if (want) {
            int limit = q->window;
            if (c->global_left >= 0 && c->global_left < limit) {
                limit = c->global_left;
            }
            if (cs.careful && limit > 1) {
                limit = 1; /* after a loop: one change per reply (sync_resend) */
            }
            if ((rv = as_sync_deltas(c->st, r->pool, q->id, &cs, q->filter, &d)) != APR_SUCCESS) {
                xmlUnlinkNode(resp_scratch);
                xmlFreeNode(resp_scratch);
                collection_head(c, res, q->key, q->id,
                                rv == APR_ENOENT ? SYNC_HIERARCHY : SYNC_SERVER);
                return APR_SUCCESS;
            }
            scanned = 1;
            for (forgot = 0; forgot < d.forget->nelts; forgot++) {
                cset_remove(&set, APR_ARRAY_IDX(d.forget, forgot, const char *));
            }
            sent = emit_changes(c, q, &d, &set, res->coll, &commands, limit, &more, undo);
            if (c->global_left >= 0) {
                c->global_left -= sent;
            }
        }
        /* order: ..., Status, Responses, MoreAvailable, Commands */
        if (responses) {
            xmlUnlinkNode(responses);
            xmlAddPrevSibling(resp_scratch, responses);
        }
        if (more) {
            xmlNodePtr ma = as_xml_add(res->coll, AS_NS, "MoreAvailable", NULL);
            xmlUnlinkNode(ma);
            xmlAddPrevSibling(resp_scratch, ma);
        }
        if (commands) {
            xmlUnlinkNode(commands);
            xmlAddPrevSibling(resp_scratch, commands);
        }
        xmlUnlinkNode(resp_scratch);
        xmlFreeNode(resp_scratch);
        cset_commit(&set, r->pool);
        ns = cs;
        ns.filter_type = q->filter;
        ns.pending = more;
        ns.token = scanned && !more ? d.token : NULL;
        ns.expire =
            scanned ? as_sync_expiry(&cs, d.items, as_sync_filter_span(q->filter), r->pool) : 0;
        ns.careful = more && cs.careful > (apr_uint32_t)sent ? cs.careful - (apr_uint32_t)sent : 0;
        if (!client_changed && sent == 0) {
            /* nothing either way: the key stays; remember what was seen (and
             * skipped items the device never had, gone now) */
            ns.items_loaded = forgot > 0;
            rv = as_coll_put(r->db, r->account, c->dev, q->id, cs.gen, cs.n, &ns, NULL, 0);
            if (rv == AS_SYNC_ESTALE) {
                continue;
            }
            if (rv != APR_SUCCESS) {
                return rv;
            }
            res->nothing = responses == NULL;
            return APR_SUCCESS;
        }
        ns.n = cs.n + 1;
        xmlNodeSetContent(as_xml_child(res->coll, AS_NS, "SyncKey"),
                          BAD_CAST as_synckey_format(r->pool, ns.gen, ns.n));
        xml = as_sync_doc_xml(res->doc, r->pool, &xml_len);
        if (xml_len > 8 * AS_SYNC_REPLY_BUDGET) {
            xml = NULL; /* too big to keep: a resend of N then answers Status 3 */
        }
        ns.resends = 0;
        rv = as_coll_put_undo(r->db, r->account, c->dev, q->id, cs.gen, cs.n, &ns, xml, xml_len,
                              xml ? undo : NULL, -1);
        if (rv == AS_SYNC_ESTALE) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            return rv;
        }
        return APR_SUCCESS;
    }
    return AS_DB_EBUSY;
}

/* ---- the request as a whole ------------------------------------------------------------ */

/* Commands removed: what is cached for the empty/Partial forms. */
static char *cache_form(xmlDocPtr doc, apr_pool_t *p, apr_size_t *len)
{
    xmlDocPtr copy = xmlCopyDoc(doc, 1);
    xmlNodePtr root = xmlDocGetRootElement(copy), colls, coll, n;
    char *s;
    for (n = root ? root->children : NULL; n;) {
        xmlNodePtr next = n->next;
        if (as_xml_is(n, AS_NS, "Partial")) {
            xmlUnlinkNode(n);
            xmlFreeNode(n);
        }
        n = next;
    }
    colls = root ? as_xml_child(root, AS_NS, "Collections") : NULL;
    for (coll = colls ? colls->children : NULL; coll; coll = coll->next) {
        xmlNodePtr cmds = as_xml_child(coll, AS_NS, "Commands");
        if (cmds) {
            xmlUnlinkNode(cmds);
            xmlFreeNode(cmds);
        }
    }
    s = as_sync_doc_xml(copy, p, len);
    xmlFreeDoc(copy);
    return s;
}

static const char *coll_id_of(apr_pool_t *p, xmlNodePtr coll)
{
    return as_sync_text(p, as_xml_child(coll, AS_NS, "CollectionId"));
}

/* The request to run: the body itself, or the cached one (empty form), or
 * the cached one with the body's collections and settings merged in
 * (Partial).  *cache_it: write the result to the cache.  NULL doc and
 * status 13 when the cache is needed and absent. */
static apr_status_t effective_request(sync_ctx_t *c, xmlDocPtr *out, int *cache_it, int *status)
{
    as_request_t *r = c->r;
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL;
    xmlNodePtr croot, ccolls, n, coll;
    xmlDocPtr cached;
    const char *xml;
    apr_size_t len;
    apr_status_t rv;
    int partial;

    *out = NULL;
    *cache_it = 0;
    *status = 0;
    if (root && !as_xml_is(root, AS_NS, "Sync")) {
        *status = SYNC_PROTOCOL;
        return APR_SUCCESS;
    }
    partial =
        !root || as_xml_child(root, AS_NS, "Partial") || !as_xml_child(root, AS_NS, "Collections");
    if (!partial) {
        /* taken over, not copied: freed with the request's own document
         * (as_command.h), at the latest before parking */
        *out = r->body;
        r->body = c->own->body = NULL;
        *cache_it = 1;
        return APR_SUCCESS;
    }
    if ((rv = as_sync_cache_get(r->db, r->pool, r->account, c->dev, &xml, &len)) != APR_SUCCESS) {
        return rv;
    }
    if (!xml || !(cached = xmlReadMemory(xml, (int)len, "cache.xml", NULL,
                                         XML_PARSE_NONET | XML_PARSE_HUGE))) {
        *status = SYNC_INCOMPLETE;
        return APR_SUCCESS;
    }
    croot = xmlDocGetRootElement(cached);
    ccolls = as_xml_child(croot, AS_NS, "Collections");
    /* the cached keys are stale: the device is at the state's current key */
    for (coll = ccolls ? ccolls->children : NULL; coll; coll = coll->next) {
        as_coll_state_t cs;
        const char *id = coll_id_of(r->pool, coll);
        xmlNodePtr k = as_xml_child(coll, AS_NS, "SyncKey");
        if (id && k && as_coll_get(r->db, r->pool, r->account, c->dev, id, 0, &cs) == APR_SUCCESS &&
            cs.n > 0) {
            xmlNodeSetContent(k, BAD_CAST as_synckey_format(r->pool, cs.gen, cs.n));
        }
    }
    if (root) {
        xmlNodePtr rcolls = as_xml_child(root, AS_NS, "Collections");
        /* settings of the body replace the cached ones */
        for (n = root->children; n; n = n->next) {
            xmlNodePtr old;
            if (!is_elem(n) || as_xml_is(n, AS_NS, "Collections") ||
                as_xml_is(n, AS_NS, "Partial")) {
                continue;
            }
            if (as_xml_is(n, AS_NS, "Wait") || as_xml_is(n, AS_NS, "HeartbeatInterval")) {
                xmlNodePtr w;
                while ((w = as_xml_child(croot, AS_NS, "Wait")) ||
                       (w = as_xml_child(croot, AS_NS, "HeartbeatInterval"))) {
                    xmlUnlinkNode(w);
                    xmlFreeNode(w);
                }
            } else if ((old = as_xml_child(croot, n->ns ? (const char *)n->ns->href : "",
                                           (const char *)n->name))) {
                xmlUnlinkNode(old);
                xmlFreeNode(old);
            }
            xmlAddChild(croot, xmlDocCopyNode(n, cached, 1));
        }
        if (!ccolls) {
            ccolls = as_xml_add(croot, AS_NS, "Collections", NULL);
        }
        for (coll = rcolls ? rcolls->children : NULL; coll; coll = coll->next) {
            const char *id = is_elem(coll) ? coll_id_of(r->pool, coll) : NULL;
            xmlNodePtr old = NULL, cp;
            if (!id) {
                continue;
            }
            for (old = ccolls->children; old; old = old->next) {
                const char *oid = is_elem(old) ? coll_id_of(r->pool, old) : NULL;
                if (oid && !strcmp(oid, id)) {
                    break;
                }
            }
            cp = xmlDocCopyNode(coll, cached, 1);
            if (old) {
                xmlNodePtr opts = as_xml_child(old, AS_NS, "Options");
                if (opts && !as_xml_child(cp, AS_NS, "Options")) {
                    xmlAddChild(cp, xmlDocCopyNode(opts, cached, 1));
                }
                xmlReplaceNode(old, cp);
                xmlFreeNode(old);
            } else {
                xmlAddChild(ccolls, cp);
            }
        }
        *cache_it = 1;
    }
    *out = cached;
    return APR_SUCCESS;
}

/* The default waiter: inotify through as_watch.h (new/ and cur/ of every
 * collection, and the device's claim so a newer request ends the wait). */
static apr_status_t watch_start(sync_ctx_t *c, const as_watch_ticket_t *ticket,
                                const apr_array_header_t *ids, as_watch_t **w)
{
    apr_status_t rv;
    int i, j;
    *w = NULL;
    if ((rv = as_watch_create(c->own->pool, ticket, c->r->log,
                              c->r->conf ? &c->r->conf->push_stop : NULL, w)) != APR_SUCCESS) {
        return rv;
    }
    for (i = 0; i < ids->nelts; i++) {
        apr_array_header_t *paths = NULL;
        if (as_store_watch_paths(c->st, APR_ARRAY_IDX(ids, i, const char *), c->r->pool, &paths) !=
            APR_SUCCESS) {
            continue;
        }
        for (j = 0; j < paths->nelts; j++) {
            as_watch_add(*w, APR_ARRAY_IDX(paths, j, const char *), NULL);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t watch_wait(void *baton, const as_request_t *req, as_store_t *st,
                               const apr_array_header_t *folder_ids, apr_interval_time_t timeout)
{
    as_watch_result_t res = AS_WATCH_TIMEOUT;
    (void)req;
    (void)st;
    (void)folder_ids;
    if (as_watch_wait(baton, timeout, &res) != APR_SUCCESS || res != AS_WATCH_CHANGED) {
        return APR_TIMEUP; /* timeout, superseded, stopping: answer "no change" */
    }
    return APR_SUCCESS;
}

/* The scratch view and what lives in it: the store, the hierarchy state. */
static apr_status_t scratch_open(sync_ctx_t *c)
{
    c->st = NULL;
    c->hs_loaded = 0;
    return as_sync_scratch_open(c->own, &c->wr);
}

static void scratch_close(sync_ctx_t *c)
{
    as_sync_scratch_close(c->own, &c->wr);
    c->st = NULL;
    c->hs_loaded = 0;
}

/* Sync every collection again (no client Commands: they ran once). */
static apr_status_t sync_round(sync_ctx_t *c, const apr_array_header_t *qs, apr_array_header_t *res,
                               int *anything)
{
    int i;
    for (i = 0; i < qs->nelts; i++) {
        coll_res_t *cr = &APR_ARRAY_IDX(res, i, coll_res_t);
        apr_status_t rv;
        res_reset(cr);
        if ((rv = sync_one(c, &APR_ARRAY_IDX(qs, i, coll_req_t), 0, cr)) != APR_SUCCESS) {
            return rv;
        }
        *anything |= !cr->nothing;
    }
    return APR_SUCCESS;
}

/* Push: nothing to say yet, so wait for a change, the end of the wait, a
 * newer request of the device or a stop, syncing again into res after each
 * wake-up.  Parked, the request keeps only what the next round needs, in
 * own->pool: the collections (ids, keys, options), their ids, the claim
 * ticket and the watch.  The request documents (*req, the decoded body)
 * are freed before the first wait, the previous round's results (nothing
 * to say) are dropped, and the scratch view with the store is closed
 * before each wait and opened afresh after it.  A registered waiter
 * (as_sync.h) gets the store, so the scratch view stays open for it.
 * *status: SYNC_SERVER when the store cannot be opened again. */
static apr_status_t sync_wait(sync_ctx_t *c, const as_watch_ticket_t *ticket,
                              apr_array_header_t *qs, apr_array_header_t *res,
                              const apr_array_header_t *ids, apr_interval_time_t wait,
                              xmlDocPtr *req, int *anything, int *status)
{
    const as_sync_waiter_t *waiter = c->r->conf ? c->r->conf->sync_waiter : NULL;
    as_sync_wait_fn *fn = waiter ? waiter->fn : NULL;
    void *baton = waiter ? waiter->baton : NULL;
    apr_time_t deadline = apr_time_now() + wait;
    as_watch_t *w = NULL;
    apr_status_t rv = APR_SUCCESS;
    int i;

    if (!fn) {
        if (watch_start(c, ticket, ids, &w) != APR_SUCCESS) {
            return APR_SUCCESS; /* no way to wait: no change */
        }
        fn = watch_wait;
        baton = w;
        /* the watches are set: look once more before parking, so that a
         * change between the first look and the wait is not missed */
        if ((rv = sync_round(c, qs, res, anything)) != APR_SUCCESS || *anything) {
            as_watch_close(w);
            return rv;
        }
    }
    for (i = 0; i < qs->nelts; i++) {
        APR_ARRAY_IDX(qs, i, coll_req_t).commands = NULL; /* in *req; run once */
    }
    xmlFreeDoc(*req);
    *req = NULL;
    while (!*anything && apr_time_now() < deadline) {
        for (i = 0; i < res->nelts; i++) {
            res_reset(&APR_ARRAY_IDX(res, i, coll_res_t));
        }
        if (w) {
            as_sync_park_light(c->own, &c->wr);
            c->st = NULL;
            c->hs_loaded = 0;
        }
        if (fn(baton, c->r, c->st, ids, deadline - apr_time_now()) != APR_SUCCESS) {
            break;
        }
        if (w &&
            (scratch_open(c) != APR_SUCCESS || as_sync_open_store(c->r, &c->st) != APR_SUCCESS)) {
            *status = SYNC_SERVER;
            break;
        }
        if ((rv = sync_round(c, qs, res, anything)) != APR_SUCCESS) {
            break;
        }
    }
    if (w) {
        as_watch_close(w);
    }
    return rv;
}

apr_status_t as_cmd_sync(as_request_t *r, as_response_t *resp)
{
    sync_ctx_t c;
    xmlDocPtr req = NULL, doc;
    xmlNodePtr root, colls, coll, out_colls;
    apr_array_header_t *qs, *res, *ids;
    apr_interval_time_t wait = 0;
    int status = 0, cache_it = 0, max_window, i, anything = 0;
    as_watch_ticket_t *ticket = NULL;
    long gw;
    apr_status_t rv;

    if (!r->db) {
        return as_cmd_db_failure(r, resp, AS_DB_EUNAVAIL);
    }
    memset(&c, 0, sizeof(c));
    c.own = r;
    c.r = &c.wr;
    if (scratch_open(&c) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    c.dev = r->line && r->line->device_key ? r->line->device_key : "";
    c.proto = as_protocol_number(r->protocol_version);
    if (!c.proto) {
        c.proto = 141;
    }
    max_window = r->conf && r->conf->sync_max_window > 0 && r->conf->sync_max_window < 512
                     ? r->conf->sync_max_window
                     : AS_SYNC_WINDOW_MAX;
    if ((rv = effective_request(&c, &req, &cache_it, &status)) != APR_SUCCESS) {
        return as_cmd_db_failure(r, resp, rv);
    }
    if (status) {
        resp->doc = top_status(status, -1);
        return APR_SUCCESS;
    }
    root = xmlDocGetRootElement(req);
    /* Wait / HeartbeatInterval */
    {
        xmlNodePtr w = as_xml_child(root, AS_NS, "Wait");
        xmlNodePtr h = as_xml_child(root, AS_NS, "HeartbeatInterval");
        /* HeartbeatInterval in Sync is 14.0+ (MS-ASCMD 2.2.3.88.2); 12.1
         * has Wait only. */
        if ((w && h) || (h && c.proto < 140)) {
            status = SYNC_PROTOCOL;
        } else if (w || h) {
            long v = as_sync_number(c.r->pool, w ? w : h, 0, 999999999L);
            long lo = w ? AS_SYNC_HEARTBEAT_MIN / 60 : AS_SYNC_HEARTBEAT_MIN;
            long hi = w ? AS_SYNC_HEARTBEAT_MAX / 60 : AS_SYNC_HEARTBEAT_MAX;
            if (v < 0) {
                status = SYNC_PROTOCOL;
            } else if (v < lo || v > hi) {
                xmlFreeDoc(req);
                resp->doc = top_status(SYNC_BADWAIT, v < lo ? lo : hi);
                return APR_SUCCESS;
            } else {
                wait = apr_time_from_sec(w ? v * 60 : v);
            }
        }
    }
    gw = as_sync_number(c.r->pool, as_xml_child(root, AS_NS, "WindowSize"), -1, 999999999L);
    c.global_left = gw < 0 ? -1 : gw == 0 || gw > max_window ? max_window : (int)gw;
    colls = as_xml_child(root, AS_NS, "Collections");
    for (i = 0, coll = colls ? colls->children : NULL; coll; coll = coll->next) {
        i += is_elem(coll);
    }
    /* kept while parked: sized to the request, not to a default */
    qs = apr_array_make(r->pool, i > 0 && i <= AS_SYNC_MAX_COLLECTIONS ? i : 1, sizeof(coll_req_t));
    for (coll = colls ? colls->children : NULL; coll && !status; coll = coll->next) {
        coll_req_t *q;
        int k;
        if (!is_elem(coll)) {
            continue;
        }
        if (!as_xml_is(coll, AS_NS, "Collection")) {
            status = SYNC_PROTOCOL;
            break;
        }
        q = apr_array_push(qs);
        if (parse_collection(&c, coll, max_window, q) != 0) {
            status = SYNC_PROTOCOL;
        }
        for (k = 0; k < qs->nelts - 1 && !status; k++) {
            if (!strcmp(APR_ARRAY_IDX(qs, k, coll_req_t).id, q->id)) {
                status = SYNC_PROTOCOL; /* the same collection twice */
            }
        }
    }
    if (!status && qs->nelts == 0) {
        status = SYNC_INCOMPLETE;
    }
    if (status) {
        xmlFreeDoc(req);
        resp->doc = top_status(status, -1);
        return APR_SUCCESS;
    }
    if (qs->nelts > AS_SYNC_MAX_COLLECTIONS) {
        xmlFreeDoc(req);
        resp->doc = top_status(SYNC_TOOMANY, AS_SYNC_MAX_COLLECTIONS);
        return APR_SUCCESS;
    }
    if (cache_it) {
        apr_size_t len;
        char *xml = cache_form(req, c.r->pool, &len);
        if (xml && (rv = as_sync_cache_put(r->db, r->account, c.dev, xml, len)) != APR_SUCCESS) {
            xmlFreeDoc(req);
            return as_cmd_db_failure(r, resp, rv);
        }
    }
    /* a request of the device ends its parked Ping/Sync (as_watch.h) */
    if (as_db_home(r->db) &&
        as_watch_claim(r->pool, as_db_home(r->db), r->account, c.dev, &ticket) != APR_SUCCESS) {
        ticket = NULL;
    }
    if (as_sync_email_enabled(r) && as_sync_open_store(c.r, &c.st) != APR_SUCCESS) {
        c.st = NULL;
        xmlFreeDoc(req);
        resp->doc = top_status(SYNC_SERVER, -1);
        return APR_SUCCESS;
    }
    res = apr_array_make(r->pool, qs->nelts, sizeof(coll_res_t));
    ids = apr_array_make(r->pool, qs->nelts, sizeof(const char *));
    for (i = 0; i < qs->nelts; i++) {
        coll_res_t *cr = apr_array_push(res);
        const coll_req_t *q = &APR_ARRAY_IDX(qs, i, coll_req_t);
        if ((rv = sync_one(&c, q, 1, cr)) != APR_SUCCESS) {
            goto fail;
        }
        APR_ARRAY_PUSH(ids, const char *) = q->id;
        anything |= !cr->nothing;
    }
    /* push: wait for a change when nothing is to be said */
    if (!anything && wait > 0 && c.st) {
        rv = sync_wait(&c, ticket, qs, res, ids, wait, &req, &anything, &status);
        if (rv != APR_SUCCESS) {
            goto fail;
        }
    }
    if (req) {
        xmlFreeDoc(req);
        req = NULL;
    }
    scratch_close(&c);
    if (status || !anything) {
        for (i = 0; i < res->nelts; i++) {
            res_reset(&APR_ARRAY_IDX(res, i, coll_res_t));
        }
        /* the store is gone meanwhile, or an empty reply: nothing changed */
        resp->doc = status ? top_status(status, -1) : NULL;
        return APR_SUCCESS;
    }
    doc = as_reply_new(AS_NS, "Sync", &root);
    out_colls = as_xml_add(root, AS_NS, "Collections", NULL);
    for (i = 0; i < res->nelts; i++) {
        coll_res_t *cr = &APR_ARRAY_IDX(res, i, coll_res_t);
        /* self-contained (collection_head): the copy keeps its namespaces */
        xmlAddChild(out_colls, xmlDocCopyNode(cr->coll, doc, 1));
        res_reset(cr);
    }
    resp->doc = doc;
    return APR_SUCCESS;

fail:
    for (i = 0; i < res->nelts; i++) {
        res_reset(&APR_ARRAY_IDX(res, i, coll_res_t));
    }
    if (req) {
        xmlFreeDoc(req);
    }
    return as_cmd_db_failure(r, resp, rv);
}
