/* Ping (MS-ASCMD 2.2.1.13): wait for changes in a list of mail folders.
 *
 * Request  Ping{[HeartbeatInterval], [Folders{Folder{Id, Class}+}]} or an
 *          empty body.  What is omitted is taken from the device's
 *          remembered Ping (heartbeat and folder list, kept per (account,
 *          device) in syncstate.db under "P/<account>\t<device>");
 *          nothing remembered and something missing -> Status 3.
 * Reply    Ping{Status, [Folders{Folder*}], [MaxFolders], [HeartbeatInterval]}
 *   1 the heartbeat passed without a change (also: a newer Ping/Sync of the
 *     device took over, or the server stops -- the device asks again);
 *   2 changes: Folders lists the folders a Sync would bring news for;
 *   3 an empty/partial Ping and nothing remembered;
 *   4 malformed request;
 *   5 HeartbeatInterval outside [min, max] (60..3540 s by default; the
 *     minimum stays low, Outlook asks 180 s, eas-protocol §6.3 #7): the
 *     reply carries the nearest allowed bound, nothing is remembered;
 *   6 more than AS_PING_MAX_FOLDERS folders: MaxFolders says the limit;
 *   7 a listed folder no longer exists, or its class is no longer served
 *     to the account (email, contacts or pim off): FolderSync needed;
 *   8 server error (store or database failure).
 * Folders of the classes this server does not serve (no conversion yet:
 * calendar, tasks) and folders the device never synced (no sync state) are
 * ignored silently (Horde, Z-Push ZP-907: answering them loops the device).
 * Mail folders are watched in new/ and cur/, collections (contacts, notes)
 * in their folder, so a file written by any program wakes the Ping.
 *
 * Push: every Ping claims the device (as_watch_claim), which ends an older
 * parked Ping or Sync of the same (account, device) in any process; then it
 * watches new/ and cur/ of its folders, probes them (as_sync_probe: one
 * database read and two stat()s per folder; a "maybe" is confirmed with
 * as_sync_count_changes, which scans only that folder), and parks until
 * an event, the heartbeat, a newer claim or a stop (as_watch.h).  After an
 * event only the folders whose paths fired are probed again.
 *
 * Memory: a parked Ping keeps only its folder ids, the claim ticket and the
 * watch registration (a few hundred bytes in the request pool).  Parsing,
 * the remembered state, the store and its folder listings, and the probes
 * live in a scratch pool with an allocator of its own that is destroyed
 * before parking and after each wake-up, so its memory goes back to the
 * system instead of staying with the parked thread (a probe that has to
 * count changes lists the folder: hundreds of KB for a large one); the
 * decoded request document is freed before parking too (as_command.h).
 */
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_device.h"
#include "activesync/as_item_codec.h"
#include "activesync/as_sync_engine.h"
#include "activesync/as_watch.h"

#define PING_NS "Ping:"

enum {
    PING_NOCHANGE = 1,
    PING_CHANGES = 2,
    PING_MISSING = 3,
    PING_PROTOCOL = 4,
    PING_BADHEARTBEAT = 5,
    PING_TOOMANY = 6,
    PING_HIERARCHY = 7,
    PING_SERVER = 8
};

/* The HeartbeatInterval bounds of the request's server (as_server_conf_t);
 * the protocol's 60..3540 when unset or inconsistent. */
static void hb_bounds(const as_request_t *r, int *lo, int *hi)
{
    int min = r->conf ? r->conf->ping_heartbeat_min : 0;
    int max = r->conf ? r->conf->ping_heartbeat_max : 0;

    *lo = min > 0 ? min : AS_SYNC_HEARTBEAT_MIN;
    *hi = max >= *lo ? max : AS_SYNC_HEARTBEAT_MAX;
}

/* ---- the remembered Ping ------------------------------------------------------ */

typedef struct ping_folder_t {
    const char *id;
    const char *cls; /* "Email", "Calendar" ... */
} ping_folder_t;

typedef struct ping_state_t {
    long heartbeat;              /* seconds; 0: none (request: -1 absent) */
    apr_array_header_t *folders; /* ping_folder_t; NULL: none */
} ping_state_t;

/* 7 bytes + per folder 2 + id (<= 64) + class (<= 32) */
#define PING_REC_MAX (7 + AS_PING_MAX_FOLDERS * 98)

typedef struct ping_baton_t {
    char key[1024];
    size_t klen;
    apr_pool_t *p;
    unsigned char *buf;
    size_t len, cap;
    int found;
} ping_baton_t;

static void ping_key(ping_baton_t *b, const char *account, const char *device)
{
    b->klen = (size_t)apr_snprintf(b->key, sizeof b->key, "P/%s\t%s", account, device);
}

static int ping_get_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    ping_baton_t *b = baton;
    size_t len = b->cap;
    int rc = as_db_get(as_db_handle(db, AS_DB_SYNC), txn, b->key, b->klen, b->buf, &len, 0);
    if (rc == DB_BUFFER_SMALL && len <= PING_REC_MAX) {
        b->buf = apr_palloc(b->p, b->cap = len);
        rc = as_db_get(as_db_handle(db, AS_DB_SYNC), txn, b->key, b->klen, b->buf, &len, 0);
    }
    b->found = rc == 0;
    b->len = rc == 0 ? len : 0;
    return rc == DB_NOTFOUND ? 0 : rc;
}

static int ping_put_fn(as_db_t *db, DB_TXN *txn, void *baton)
{
    ping_baton_t *b = baton;
    return as_db_put(as_db_handle(db, AS_DB_SYNC), txn, b->key, b->klen, b->buf, b->len);
}

/* Record: version 1, heartbeat (4 bytes BE), count (2 bytes BE), then per
 * folder: id length (1), id, class length (1), class. */
static apr_status_t ping_state_get(as_request_t *r, const char *dev, ping_state_t *st)
{
    ping_baton_t b;
    apr_status_t rv;
    size_t off;
    unsigned n, i;

    memset(st, 0, sizeof(*st));
    ping_key(&b, r->account, dev);
    b.p = r->pool;
    b.buf = apr_palloc(r->pool, b.cap = 1024);
    if ((rv = as_db_txn(r->db, AS_DB_TXN_READ, ping_get_fn, &b)) != APR_SUCCESS) {
        return rv;
    }
    if (!b.found) {
        return APR_SUCCESS;
    }
    if (b.len < 7 || b.buf[0] != 1) {
        return AS_DB_ECORRUPT;
    }
    st->heartbeat = (long)((apr_uint32_t)b.buf[1] << 24 | (apr_uint32_t)b.buf[2] << 16 |
                           (apr_uint32_t)b.buf[3] << 8 | b.buf[4]);
    n = (unsigned)b.buf[5] << 8 | b.buf[6];
    off = 7;
    st->folders = n ? apr_array_make(r->pool, (int)n, sizeof(ping_folder_t)) : NULL;
    for (i = 0; i < n; i++) {
        ping_folder_t *f;
        size_t il, cl;
        if (off >= b.len || off + 1 + (il = b.buf[off]) >= b.len ||
            off + 2 + il + (cl = b.buf[off + 1 + il]) > b.len) {
            return AS_DB_ECORRUPT;
        }
        f = apr_array_push(st->folders);
        f->id = apr_pstrmemdup(r->pool, (const char *)b.buf + off + 1, il);
        f->cls = apr_pstrmemdup(r->pool, (const char *)b.buf + off + 2 + il, cl);
        off += 2 + il + cl;
    }
    return APR_SUCCESS;
}

/* Whether two states are the same record (a repeated Ping writes nothing). */
static int ping_state_same(const ping_state_t *a, const ping_state_t *b)
{
    int n = a->folders ? a->folders->nelts : 0, i;

    if (a->heartbeat != b->heartbeat || n != (b->folders ? b->folders->nelts : 0)) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        const ping_folder_t *x = &APR_ARRAY_IDX(a->folders, i, ping_folder_t);
        const ping_folder_t *y = &APR_ARRAY_IDX(b->folders, i, ping_folder_t);
        if (strcmp(x->id, y->id) != 0 || strcmp(x->cls, y->cls) != 0) {
            return 0;
        }
    }
    return 1;
}

static apr_status_t ping_state_put(as_request_t *r, const char *dev, const ping_state_t *st)
{
    ping_baton_t b;
    int n = st->folders ? st->folders->nelts : 0, i;

    ping_key(&b, r->account, dev);
    b.buf = apr_palloc(r->pool, PING_REC_MAX);
    b.buf[0] = 1;
    b.buf[1] = (unsigned char)(st->heartbeat >> 24);
    b.buf[2] = (unsigned char)(st->heartbeat >> 16);
    b.buf[3] = (unsigned char)(st->heartbeat >> 8);
    b.buf[4] = (unsigned char)st->heartbeat;
    b.buf[5] = (unsigned char)(n >> 8);
    b.buf[6] = (unsigned char)n;
    b.len = 7;
    for (i = 0; i < n; i++) {
        const ping_folder_t *f = &APR_ARRAY_IDX(st->folders, i, ping_folder_t);
        size_t il = strlen(f->id), cl = strlen(f->cls);
        b.buf[b.len] = (unsigned char)il;
        memcpy(b.buf + b.len + 1, f->id, il);
        b.buf[b.len + 1 + il] = (unsigned char)cl;
        memcpy(b.buf + b.len + 2 + il, f->cls, cl);
        b.len += 2 + il + cl;
    }
    return as_db_txn(r->db, 0, ping_put_fn, &b);
}

/* ---- request ------------------------------------------------------------------ */

/* 0 ok, else a Ping status.  Absent: heartbeat -1, folders NULL. */
static int parse(as_request_t *r, ping_state_t *in)
{
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL, c, f;

    memset(in, 0, sizeof(*in));
    in->heartbeat = -1;
    if (!root) {
        return 0;
    }
    if (!as_xml_is(root, PING_NS, "Ping")) {
        return PING_PROTOCOL;
    }
    for (c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (as_xml_is(c, PING_NS, "HeartbeatInterval") && in->heartbeat < 0) {
            if ((in->heartbeat = as_sync_number(r->pool, c, -1, 99999999L)) < 0) {
                return PING_PROTOCOL;
            }
        } else if (as_xml_is(c, PING_NS, "Folders") && !in->folders) {
            in->folders = apr_array_make(r->pool, 8, sizeof(ping_folder_t));
            for (f = c->children; f; f = f->next) {
                ping_folder_t *pf;
                const char *id, *cls;
                if (f->type != XML_ELEMENT_NODE) {
                    continue;
                }
                id = as_sync_text(r->pool, as_xml_child(f, PING_NS, "Id"));
                cls = as_sync_text(r->pool, as_xml_child(f, PING_NS, "Class"));
                if (!as_xml_is(f, PING_NS, "Folder") || !id || !*id || strlen(id) > 64 || !cls ||
                    !*cls || strlen(cls) > 32) {
                    return PING_PROTOCOL;
                }
                if (in->folders->nelts > AS_PING_MAX_FOLDERS) {
                    continue; /* counted below; no need to keep more */
                }
                pf = apr_array_push(in->folders);
                pf->id = id;
                pf->cls = cls;
            }
            if (in->folders->nelts == 0) {
                return PING_PROTOCOL;
            }
        } else {
            return PING_PROTOCOL;
        }
    }
    return 0;
}

static xmlDocPtr reply(int status, const char *name, long value)
{
    xmlNodePtr root;
    xmlDocPtr doc = as_reply_new(PING_NS, "Ping", &root);
    char buf[24];
    if (!doc) {
        return NULL;
    }
    apr_snprintf(buf, sizeof buf, "%d", status);
    as_xml_add(root, PING_NS, "Status", buf);
    if (name) {
        apr_snprintf(buf, sizeof buf, "%ld", value);
        as_xml_add(root, PING_NS, name, buf);
    }
    return doc;
}

/* 1 when folders of the class (a Ping Class) are served to the request,
 * -1 when they are served but not to this account (its options), 0 for a
 * class this server does not serve (ignored, as an unknown type). */
static int class_served(const as_request_t *r, const char *name)
{
    int cls = as_class_by_name(name);
    if (cls == AS_CLASS_EMAIL) {
        return as_sync_email_enabled(r) ? 1 : -1;
    }
    if (cls < 0 || !as_item_codec(cls) || !r->conf || !r->conf->collections_template) {
        return 0;
    }
    return as_sync_collection_classes(r) & (1u << cls) ? 1 : -1;
}

/* ---- watching ------------------------------------------------------------------- */

typedef struct watched_t {
    const char *id;
    int first, last; /* watch indexes of its paths (last < first: none) */
} watched_t;

typedef struct ping_ctx_t {
    as_request_t *r;
    as_request_t wr; /* r with pool = the current scratch pool */
    const char *dev;
    as_store_t *st;              /* opened in the scratch pool */
    apr_array_header_t *watched; /* watched_t: the Email folders with state */
    apr_array_header_t *changed; /* const char *: folder ids to report */
} ping_ctx_t;

/* The scratch view (as_sync_int.h) and the store opened in it. */
static apr_status_t scratch_open(ping_ctx_t *c)
{
    c->st = NULL;
    return as_sync_scratch_open(c->r, &c->wr);
}

static void scratch_close(ping_ctx_t *c)
{
    as_sync_scratch_close(c->r, &c->wr);
    c->st = NULL;
}

/* Probe one folder; 0 or a Ping status (7, 8).  Appends it to changed. */
static int probe(ping_ctx_t *c, const char *id, int *has_state)
{
    as_probe_t pr;
    apr_uint32_t n = 0;
    apr_status_t rv = as_sync_probe(c->r->db, c->st, c->wr.pool, c->r->account, c->dev, id, &pr);

    if (rv != APR_SUCCESS) {
        return rv == APR_ENOENT ? PING_HIERARCHY : PING_SERVER;
    }
    if (has_state) {
        *has_state = pr != AS_PROBE_NOSTATE;
    }
    if (pr == AS_PROBE_GONE) {
        return PING_HIERARCHY;
    }
    if (pr != AS_PROBE_MAYBE) {
        return 0;
    }
    /* a token that moved is no proof: count what a Sync would send */
    rv = as_sync_count_changes(c->r->db, c->st, c->wr.pool, c->r->account, c->dev, id, -1, &n);
    if (rv == APR_ENOENT) {
        return PING_HIERARCHY;
    }
    if (rv != APR_SUCCESS && rv != APR_NOTFOUND) {
        return PING_SERVER;
    }
    if (n > 0) {
        APR_ARRAY_PUSH(c->changed, const char *) = apr_pstrdup(c->r->pool, id);
    }
    return 0;
}

/* Probe the folders whose paths fired in the last wait, in a fresh scratch
 * pool and store; 0 or a Ping status. */
static int probe_fired(ping_ctx_t *c, const as_watch_t *w)
{
    int i, status = 0;

    if (scratch_open(c) != APR_SUCCESS) {
        return PING_SERVER;
    }
    for (i = 0; i < c->watched->nelts && !status; i++) {
        const watched_t *wf = &APR_ARRAY_IDX(c->watched, i, watched_t);
        int k, fired = 0;
        for (k = wf->first; k <= wf->last && !fired; k++) {
            fired = as_watch_fired(w, k);
        }
        if (!fired) {
            continue;
        }
        if (!c->st) {
            apr_status_t rv = as_sync_open_store(&c->wr, &c->st);
            if (rv != APR_SUCCESS) { /* email switched off meanwhile: gone */
                status = rv == APR_ENOENT ? PING_HIERARCHY : PING_SERVER;
                break;
            }
        }
        status = probe(c, wf->id, NULL);
    }
    scratch_close(c);
    return status;
}

/* Called with the scratch pool and store of the request's first part open;
 * closes them before parking. */
static int wait_for_changes(ping_ctx_t *c, const as_watch_ticket_t *ticket, long heartbeat)
{
    apr_time_t deadline = apr_time_now() + apr_time_from_sec(heartbeat);
    as_watch_t *w = NULL;
    int i, status;

    if (as_watch_create(c->r->pool, ticket, c->r->log, c->r->conf ? &c->r->conf->push_stop : NULL,
                        &w) != APR_SUCCESS) {
        return PING_SERVER;
    }
    for (i = 0; i < c->watched->nelts; i++) {
        watched_t *wf = &APR_ARRAY_IDX(c->watched, i, watched_t);
        apr_array_header_t *paths = NULL;
        int j, idx;
        wf->first = 0;
        wf->last = -1;
        if (as_store_watch_paths(c->st, wf->id, c->wr.pool, &paths) != APR_SUCCESS) {
            continue;
        }
        for (j = 0; j < paths->nelts; j++) {
            if (as_watch_add(w, APR_ARRAY_IDX(paths, j, const char *), &idx) == APR_SUCCESS) {
                if (wf->last < wf->first) {
                    wf->first = idx;
                }
                wf->last = idx;
            }
        }
    }
    /* the watches are set: look before parking, so nothing falls between */
    for (i = 0; i < c->watched->nelts; i++) {
        if ((status = probe(c, APR_ARRAY_IDX(c->watched, i, watched_t).id, NULL)) != 0) {
            return status;
        }
    }
    /* park light: only the watch, the ticket and the folder ids stay */
    as_sync_park_light(c->r, &c->wr);
    c->st = NULL;
    while (c->changed->nelts == 0) {
        as_watch_result_t res;
        apr_time_t now = apr_time_now();
        if (now >= deadline || as_watch_wait(w, deadline - now, &res) != APR_SUCCESS ||
            res != AS_WATCH_CHANGED) {
            break; /* heartbeat, superseded, stopping: no change */
        }
        if ((status = probe_fired(c, w)) != 0) {
            return status;
        }
    }
    as_watch_close(w);
    return c->changed->nelts ? PING_CHANGES : PING_NOCHANGE;
}

apr_status_t as_cmd_ping(as_request_t *r, as_response_t *resp)
{
    ping_state_t in, saved, eff;
    as_watch_ticket_t *ticket = NULL;
    ping_ctx_t c;
    apr_status_t rv;
    int status, i, listed = 0, hb_min, hb_max;

    if (!r->db) {
        return as_cmd_db_failure(r, resp, AS_DB_EUNAVAIL);
    }
    memset(&c, 0, sizeof(c));
    c.r = r;
    c.dev = r->line && r->line->device_key ? r->line->device_key : "";
    if (scratch_open(&c) != APR_SUCCESS) {
        return APR_ENOMEM;
    }
    if ((status = parse(&c.wr, &in)) != 0) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "Ping from %s/%s: malformed request",
               r->account, c.dev);
        resp->doc = reply(status, NULL, 0);
        return APR_SUCCESS;
    }
    hb_bounds(r, &hb_min, &hb_max);
    if (in.heartbeat >= 0 && in.heartbeat < hb_min) {
        resp->doc = reply(PING_BADHEARTBEAT, "HeartbeatInterval", hb_min);
        return APR_SUCCESS;
    }
    if (in.heartbeat > hb_max) {
        resp->doc = reply(PING_BADHEARTBEAT, "HeartbeatInterval", hb_max);
        return APR_SUCCESS;
    }
    if (in.folders && in.folders->nelts > AS_PING_MAX_FOLDERS) {
        resp->doc = reply(PING_TOOMANY, "MaxFolders", AS_PING_MAX_FOLDERS);
        return APR_SUCCESS;
    }
    if ((rv = ping_state_get(&c.wr, c.dev, &saved)) != APR_SUCCESS && rv != AS_DB_ECORRUPT) {
        return as_cmd_db_failure(r, resp, rv);
    }
    eff.heartbeat = in.heartbeat >= 0 ? in.heartbeat : saved.heartbeat;
    eff.folders = in.folders ? in.folders : saved.folders;
    if (!eff.heartbeat || !eff.folders) {
        resp->doc = reply(PING_MISSING, NULL, 0);
        return APR_SUCCESS;
    }
    if (eff.heartbeat > hb_max) {
        eff.heartbeat = hb_max; /* remembered under other bounds */
    }
    if ((in.heartbeat >= 0 || in.folders) && !ping_state_same(&eff, &saved)) {
        if ((rv = ping_state_put(&c.wr, c.dev, &eff)) != APR_SUCCESS) {
            return as_cmd_db_failure(r, resp, rv);
        }
    }
    /* this Ping ends the device's older parked Ping or Sync */
    if (as_db_home(r->db) &&
        as_watch_claim(r->pool, as_db_home(r->db), r->account, c.dev, &ticket) != APR_SUCCESS) {
        ticket = NULL;
    }
    c.changed = apr_array_make(r->pool, 4, sizeof(const char *));
    c.watched = apr_array_make(r->pool, eff.folders->nelts, sizeof(watched_t));
    for (i = 0; i < eff.folders->nelts; i++) {
        int served = class_served(r, APR_ARRAY_IDX(eff.folders, i, ping_folder_t).cls);
        if (served < 0) {
            /* a class switched off for the account (email, contacts ...): gone */
            resp->doc = reply(PING_HIERARCHY, NULL, 0);
            return APR_SUCCESS;
        }
        listed |= served;
    }
    if (listed && (rv = as_sync_open_store(&c.wr, &c.st)) != APR_SUCCESS) {
        /* nothing served (no Maildir, no collections): the folders are gone */
        resp->doc = reply(rv == APR_ENOENT ? PING_HIERARCHY : PING_SERVER, NULL, 0);
        return APR_SUCCESS;
    }
    for (i = 0; i < eff.folders->nelts; i++) {
        const ping_folder_t *pf = &APR_ARRAY_IDX(eff.folders, i, ping_folder_t);
        int has_state = 0;
        if (class_served(r, pf->cls) <= 0) {
            continue; /* a class this server does not serve: ignored */
        }
        if ((status = probe(&c, pf->id, &has_state)) != 0) {
            resp->doc = reply(status, NULL, 0);
            return APR_SUCCESS;
        }
        if (has_state) {
            watched_t *wf = apr_array_push(c.watched);
            wf->id = apr_pstrdup(r->pool, pf->id); /* outlives the scratch pool */
        }
    }
    status = c.changed->nelts ? PING_CHANGES : wait_for_changes(&c, ticket, eff.heartbeat);
    scratch_close(&c);
    resp->doc = reply(status, NULL, 0);
    if (status == PING_CHANGES && resp->doc) {
        xmlNodePtr folders = as_xml_add(xmlDocGetRootElement(resp->doc), PING_NS, "Folders", NULL);
        for (i = 0; i < c.changed->nelts; i++) {
            const char *id = APR_ARRAY_IDX(c.changed, i, const char *);
            int k, dup = 0;
            for (k = 0; k < i && !dup; k++) {
                dup = !strcmp(id, APR_ARRAY_IDX(c.changed, k, const char *));
            }
            if (!dup) {
                as_xml_add(folders, PING_NS, "Folder", id);
            }
        }
    }
    return APR_SUCCESS;
}
