/* The client's Commands in a Sync collection, applied to the store and to
 * the device's item set (as_sync_coll_int.h): Change (Read / Flag, with
 * the server-wins conflict check), Delete (to Trash, or removed with
 * DeletesAsMoves 0 or in Trash), Fetch (answered in Responses) and Add
 * (Status 6: Sync does not create mail before 16.0).  In a collection of
 * another class (contacts, notes ...) Add and Change carry whole items
 * (as_sync_client_item.c) and Delete removes the item; a 16.x Change or
 * Delete with an InstanceId changes or excludes one instance of a series. */
#include <string.h>

#include <apr_strings.h>

#include "as_sync_coll_int.h"

/* One collection's commands being run. */
typedef struct client_t {
    as_sync_run_t *c;
    const as_sync_coll_req_t *q;
    as_cset_t *set;
    xmlNodePtr scratch; /* where Responses is created */
    xmlNodePtr *resp;   /* Responses, NULL until needed */
} client_t;

static int is_elem(xmlNodePtr n)
{
    return n && n->type == XML_ELEMENT_NODE;
}

static xmlNodePtr responses_of(client_t *k)
{
    if (!*k->resp) {
        *k->resp = as_xml_add(k->scratch, AS_SYNC_AS_NS, "Responses", NULL);
    }
    return *k->resp;
}

static void response_status(client_t *k, const char *what, const char *sid, int status)
{
    xmlNodePtr e = as_xml_add(responses_of(k), AS_SYNC_AS_NS, what, NULL);
    as_xml_add(e, AS_SYNC_AS_NS, "ServerId", sid);
    as_sync_add_num(e, AS_SYNC_AS_NS, "Status", status);
}

/* A store failure of a Change or Delete. */
static void response_failed(client_t *k, const char *what, const char *sid, apr_status_t rv)
{
    response_status(k, what, sid,
                    rv == APR_ENOENT ? AS_SYNC_STATUS_NOTFOUND : AS_SYNC_STATUS_SERVER);
}

/* Add: mail is not created by Sync (Status 6); an item of another class
 * is (as_sync_client_item.c).  Returns 1 when the set changed. */
static int client_add(client_t *k, xmlNodePtr cmd)
{
    apr_pool_t *p = k->c->r->pool;
    const char *cid = as_sync_text(p, as_xml_child(cmd, AS_SYNC_AS_NS, "ClientId"));
    const char *item = NULL;
    int status = AS_SYNC_STATUS_CONVERSION;
    xmlNodePtr e;

    if (cid && strlen(cid) > AS_SYNC_CLIENTID_MAX) {
        cid = NULL; /* not a ClientId the protocol allows (at most 64 characters) */
    } else if (cid && k->q->cls != AS_CLASS_EMAIL) {
        status = as_sync_client_item_add(
            k->c, k->q, k->set, cid, as_xml_child(cmd, AS_SYNC_AS_NS, "ApplicationData"), &item);
    }
    if (!cid) {
        return 0;
    }
    e = as_xml_add(responses_of(k), AS_SYNC_AS_NS, "Add", NULL);
    as_xml_add(e, AS_SYNC_AS_NS, "ClientId", cid);
    if (item) {
        as_xml_add(e, AS_SYNC_AS_NS, "ServerId", as_sync_serverid(p, k->q->id, item));
    }
    as_sync_add_num(e, AS_SYNC_AS_NS, "Status", status);
    return 1;
}

/* folder NULL: the ServerId names no item of this collection. */
static void client_fetch(client_t *k, const char *sid, const char *folder, const char *item)
{
    xmlNodePtr e = as_xml_add(responses_of(k), AS_SYNC_AS_NS, "Fetch", NULL);
    xmlNodePtr app, st_node;
    unsigned fl;
    apr_uint64_t etag;
    apr_status_t rv;

    as_xml_add(e, AS_SYNC_AS_NS, "ServerId", sid);
    st_node = as_xml_add(e, AS_SYNC_AS_NS, "Status", "1");
    app = as_xml_add(e, AS_SYNC_AS_NS, "ApplicationData", NULL);
    rv = folder ? as_sync_item_appdata(k->c, k->q, folder, item, NULL, app, &fl, &etag, NULL)
                : APR_ENOENT;
    if (rv != APR_SUCCESS) {
        xmlNodeSetContent(st_node, BAD_CAST apr_itoa(k->c->r->pool,
                                                     rv == APR_ENOENT ? AS_SYNC_STATUS_NOTFOUND
                                                                      : AS_SYNC_STATUS_CONVERSION));
        xmlUnlinkNode(app);
        xmlFreeNode(app);
    }
}

/* 16.x: the InstanceId of a Change or Delete of one instance of a
 * recurring event, NULL when there is none (the whole item). */
static const char *instance_of(client_t *k, xmlNodePtr cmd)
{
    return k->q->cls == AS_CLASS_EMAIL
               ? NULL
               : as_sync_text(k->c->r->pool, as_xml_child(cmd, AS_SYNC_BASE_NS, "InstanceId"));
}

/* rv: whether the item exists (as_store_stat_item). */
static void client_delete(client_t *k, xmlNodePtr cmd, const char *sid, const char *folder,
                          const char *item, apr_status_t rv)
{
    const char *instance = instance_of(k, cmd);
    if (rv == APR_SUCCESS && instance) {
        /* one instance goes: the series stays, with an exclusion */
        int status = as_sync_client_item_change(k->c, k->q, k->set, item, NULL, instance);
        if (status != AS_SYNC_STATUS_OK) {
            response_status(k, "Delete", sid, status);
        }
        return;
    }
    if (rv == APR_SUCCESS) {
        /* no Deleted Items for the other classes: the item goes */
        rv = as_store_delete_item(k->c->st, folder, item,
                                  k->q->cls == AS_CLASS_EMAIL && k->q->deletes_as_moves);
    }
    if (folder) {
        as_cset_remove(k->set, item);
    }
    if (rv != APR_SUCCESS) {
        response_failed(k, "Delete", sid, rv);
    }
}

/* Change: the Read / Flag values the device sets (-1 untouched). */
static void change_values(apr_pool_t *p, xmlNodePtr app, int *read, int *flag)
{
    xmlNodePtr e;
    *read = *flag = -1;
    if (!app) {
        return;
    }
    if ((e = as_xml_child(app, AS_SYNC_EMAIL_NS, "Read"))) {
        const char *t = as_sync_text(p, e);
        *read = t && !strcmp(t, "1");
    }
    if ((e = as_xml_child(app, AS_SYNC_EMAIL_NS, "Flag"))) {
        const char *t = as_sync_text(p, as_xml_child(e, AS_SYNC_EMAIL_NS, "Status"));
        *flag = t && !strcmp(t, "2");
    }
}

/* rv and cur: the item as it is now (as_store_stat_item). */
static void client_change(client_t *k, xmlNodePtr cmd, const char *sid, const char *folder,
                          const char *item, apr_status_t rv, const as_store_item_t *cur)
{
    as_cset_t *set = k->set;
    int read, flag, idx = folder ? as_coll_find(set->cs, item) : -1;
    unsigned setf = 0, clearf = 0, now = 0;

    change_values(k->c->r->pool, as_xml_child(cmd, AS_SYNC_AS_NS, "ApplicationData"), &read, &flag);
    if (rv != APR_SUCCESS) {
        response_failed(k, "Change", sid, rv);
        return;
    }
    if (k->q->cls != AS_CLASS_EMAIL) {
        xmlNodePtr app = as_xml_child(cmd, AS_SYNC_AS_NS, "ApplicationData");
        /* without ApplicationData a Change is refused, InstanceId or not */
        int status = as_sync_client_item_change(k->c, k->q, set, item, app,
                                                app ? instance_of(k, cmd) : NULL);
        if (status != AS_SYNC_STATUS_OK) {
            response_status(k, "Change", sid, status);
        }
        return;
    }
    if (idx >= 0 && k->q->conflict == 1) {
        /* server wins: the device changes what the server changed since */
        unsigned had = set->cs->items[idx].flags;
        if ((read >= 0 && (had & AS_STORE_SEEN) != (cur->flags & AS_STORE_SEEN)) ||
            (flag >= 0 && (had & AS_STORE_FLAGGED) != (cur->flags & AS_STORE_FLAGGED))) {
            response_status(k, "Change", sid, AS_SYNC_STATUS_CONFLICT);
            return;
        }
    }
    if (read >= 0) {
        *(read ? &setf : &clearf) |= AS_STORE_SEEN;
    }
    if (flag >= 0) {
        *(flag ? &setf : &clearf) |= AS_STORE_FLAGGED;
    }
    rv = (setf | clearf) ? as_store_set_flags(k->c->st, folder, item, setf, clearf, &now)
                         : APR_SUCCESS;
    if (rv != APR_SUCCESS) {
        response_failed(k, "Change", sid, rv);
        return;
    }
    if (idx >= 0 && (setf | clearf)) {
        /* the device has what it asked for; other fields as before */
        unsigned had = set->cs->items[idx].flags;
        unsigned mask = (read >= 0 ? AS_STORE_SEEN : 0) | (flag >= 0 ? AS_STORE_FLAGGED : 0);
        as_cset_set_flags(set, item, (had & ~mask) | (now & mask));
    }
}

int as_sync_client_commands(as_sync_run_t *c, const as_sync_coll_req_t *q, as_cset_t *set,
                            xmlNodePtr scratch, xmlNodePtr *resp)
{
    apr_pool_t *p = c->r->pool;
    client_t k = {c, q, set, scratch, resp};
    xmlNodePtr cmd;
    int changed = 0;

    for (cmd = q->commands ? q->commands->children : NULL; cmd; cmd = cmd->next) {
        const char *sid, *folder = NULL, *item = NULL;
        as_store_item_t cur;
        apr_status_t rv;
        if (!is_elem(cmd)) {
            continue;
        }
        if (as_xml_is(cmd, AS_SYNC_AS_NS, "Add")) {
            changed |= client_add(&k, cmd);
            continue;
        }
        sid = as_sync_text(p, as_xml_child(cmd, AS_SYNC_AS_NS, "ServerId"));
        if (!sid) {
            continue;
        }
        if (as_sync_split_serverid(p, sid, &folder, &item) != APR_SUCCESS ||
            strcmp(folder, q->id)) {
            folder = NULL;
        }
        if (as_xml_is(cmd, AS_SYNC_AS_NS, "Fetch")) {
            client_fetch(&k, sid, folder, item);
            continue;
        }
        if (!as_xml_is(cmd, AS_SYNC_AS_NS, "Change") && !as_xml_is(cmd, AS_SYNC_AS_NS, "Delete")) {
            continue;
        }
        changed = 1;
        rv = folder ? as_store_stat_item(c->st, folder, item, p, &cur) : APR_ENOENT;
        if (as_xml_is(cmd, AS_SYNC_AS_NS, "Delete")) {
            client_delete(&k, cmd, sid, folder, item, rv);
        } else {
            client_change(&k, cmd, sid, folder, item, rv, &cur);
        }
    }
    return changed;
}
