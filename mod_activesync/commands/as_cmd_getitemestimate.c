/* GetItemEstimate (MS-ASCMD 2.2.1.9) for mail collections and those of the
 * other classes (contacts, notes: changes counted by ETag).
 *
 * Request: GetItemEstimate{Collections{Collection{[Class], airsync:SyncKey,
 * CollectionId, [ConversationMode], [airsync:Options{FilterType, Class}] |
 * [airsync:FilterType] (12.1)}+}}.  The FilterType is the folder class's
 * window (mail dates, calendar 4-7, tasks 8), the one Sync would use.
 * Reply, one Response per collection in request order:
 *   Response{Status, Collection{CollectionId, [Estimate]}}
 *   Status 1 with Estimate = the number of changes a Sync would send now
 *     (exact: the same delta computation; O(1) when the folder's token says
 *     nothing changed), 2 unknown collection or its class off, 3 the collection
 *     has no sync state yet or the key is 0 (Sync first), 4 an unknown key
 *     (N and N-1 are accepted).  Keys never change.
 * A request that is not GetItemEstimate{Collections{Collection+}}, or a
 * Collection without CollectionId or SyncKey, answers GetItemEstimate{Status
 * 2} (the command's status table has no protocol-error value; 2 "invalid
 * collection" is the nearest).
 */
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_sync_engine.h"

#define GIE_NS "GetItemEstimate:"
#define AS_NS  "AirSync:"

enum { GIE_OK = 1, GIE_BADCOLL = 2, GIE_NOTPRIMED = 3, GIE_BADKEY = 4 };

static apr_status_t malformed(as_response_t *resp)
{
    xmlNodePtr root;
    resp->doc = as_reply_new(GIE_NS, "GetItemEstimate", &root);
    as_sync_add_num(root, GIE_NS, "Status", GIE_BADCOLL);
    return APR_SUCCESS;
}

/* The FilterType the folder's class honours: 12.1's airsync:FilterType, or
 * the one in the first Options without Class or with a class of folders
 * (the SMS Options beside a mail folder's are not ours), as Sync reads it;
 * the class keeps its own values (as_sync_filter_for_class), so a calendar
 * or task list is counted inside the same window Sync sends. */
static int filter_of(apr_pool_t *p, xmlNodePtr coll, int folder_cls)
{
    xmlNodePtr o, f = as_xml_child(coll, AS_NS, "FilterType");
    long v;
    for (o = coll->children; !f && o; o = o->next) {
        const char *cls;
        if (!as_xml_is(o, AS_NS, "Options")) {
            continue;
        }
        cls = as_sync_text(p, as_xml_child(o, AS_NS, "Class"));
        if (!cls || as_class_by_name(cls) >= 0) {
            f = as_xml_child(o, AS_NS, "FilterType");
            break;
        }
    }
    v = as_sync_number(p, f, 0, 8);
    return as_sync_filter_for_class(folder_cls, v < 0 ? 0 : (int)v);
}

apr_status_t as_cmd_getitemestimate(as_request_t *r, as_response_t *resp)
{
    const char *dev = r->line && r->line->device_key ? r->line->device_key : "";
    xmlNodePtr in = r->body ? xmlDocGetRootElement(r->body) : NULL, colls, coll, root;
    as_store_t *st = NULL;
    xmlDocPtr doc;
    int n = 0;

    if (!r->db) {
        return as_cmd_db_failure(r, resp, AS_DB_EUNAVAIL);
    }
    if (!in || !as_xml_is(in, GIE_NS, "GetItemEstimate") ||
        !(colls = as_xml_child(in, GIE_NS, "Collections"))) {
        return malformed(resp);
    }
    for (coll = colls->children; coll; coll = coll->next) {
        if (as_xml_is(coll, GIE_NS, "Collection")) {
            const char *id = as_sync_text(r->pool, as_xml_child(coll, GIE_NS, "CollectionId"));
            const char *key = as_sync_text(r->pool, as_xml_child(coll, AS_NS, "SyncKey"));
            if (!id || !key) {
                return malformed(resp);
            }
            n++;
        }
    }
    if (n == 0 || n > AS_SYNC_MAX_COLLECTIONS) {
        return malformed(resp);
    }
    if (as_sync_store_enabled(r) && as_sync_open_store(r, &st) != APR_SUCCESS) {
        st = NULL;
    }
    doc = as_reply_new(GIE_NS, "GetItemEstimate", &root);
    for (coll = colls->children; coll; coll = coll->next) {
        const char *id, *key;
        const as_store_folder_t *f = NULL;
        as_coll_state_t cs;
        apr_uint32_t count = 0;
        apr_status_t rv;
        int status = GIE_OK;
        xmlNodePtr rs, c;

        if (!as_xml_is(coll, GIE_NS, "Collection")) {
            continue;
        }
        id = as_sync_text(r->pool, as_xml_child(coll, GIE_NS, "CollectionId"));
        key = as_sync_text(r->pool, as_xml_child(coll, AS_NS, "SyncKey"));
        if (!st || as_store_get_folder(st, id, r->pool, &f) != APR_SUCCESS) {
            status = GIE_BADCOLL;
        } else if ((rv = as_coll_get(r->db, r->pool, r->account, dev, id, 0, &cs)) != APR_SUCCESS) {
            xmlFreeDoc(doc);
            return as_cmd_db_failure(r, resp, rv);
        } else if (!strcmp(key, "0") || cs.n == 0) {
            status = GIE_NOTPRIMED;
        } else if (as_synckey_match(key, cs.gen, cs.n) != AS_KEY_CURRENT &&
                   as_synckey_match(key, cs.gen, cs.n) != AS_KEY_PREVIOUS) {
            status = GIE_BADKEY;
        } else {
            rv = as_sync_count_changes(r->db, st, r->pool, r->account, dev, id,
                                       filter_of(r->pool, coll, f->cls), &count);
            if (rv == APR_NOTFOUND) {
                status = GIE_NOTPRIMED;
            } else if (rv == APR_ENOENT) {
                status = GIE_BADCOLL;
            } else if (rv != APR_SUCCESS) {
                xmlFreeDoc(doc);
                return as_cmd_db_failure(r, resp, rv);
            }
        }
        rs = as_xml_add(root, GIE_NS, "Response", NULL);
        as_sync_add_num(rs, GIE_NS, "Status", status);
        c = as_xml_add(rs, GIE_NS, "Collection", NULL);
        as_xml_add(c, GIE_NS, "CollectionId", id);
        if (status == GIE_OK) {
            as_sync_add_num(c, GIE_NS, "Estimate", (long)count);
        }
    }
    resp->doc = doc;
    return APR_SUCCESS;
}
