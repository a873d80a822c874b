/* MoveItems (MS-ASCMD 2.2.1.12): move mail between folders.
 *
 * Request  MoveItems{Move{SrcMsgId, SrcFldId, DstFldId}+}  (namespace Move:)
 * Reply    MoveItems{Response{SrcMsgId, Status, [DstMsgId]}+}, one Response
 *          per Move, in request order.
 *
 * Status per move (MS-ASCMD 2.2.3.177.9):
 *   1 invalid source: SrcMsgId malformed, not in SrcFldId, or gone; SrcFldId
 *     unknown; the mailbox not served to the request (email off, no
 *     Maildir configured);
 *   2 invalid destination: DstFldId missing or unknown;
 *   3 success, DstMsgId = the item's ServerId in the destination (the
 *     Maildir store keeps the item id, so only the folder part changes);
 *   4 source and destination are the same folder;
 *   5 the move failed (I/O error, the store refused);
 *   7 the source or destination was locked (EAGAIN/EBUSY from the store).
 * A request that is not a MoveItems document with 1..AS_MOVE_MAX Move
 * elements each holding a SrcMsgId answers MoveItems{Status 103} (invalid
 * XML, 14.0+) or HTTP 400 (older versions), and moves nothing.
 *
 * A successful move is noted in the device's sync state
 * (as_sync_note_moved): the next Sync sends the device neither a Delete
 * for the source nor an Add for the destination (Outlook would show
 * duplicates, eas-protocol §6.3 #17).
 */
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_device.h"
#include "activesync/as_sync_engine.h"

#define MOVE_NS     "Move:"
#define AS_MOVE_MAX 512

enum { MV_BAD_SOURCE = 1, MV_BAD_DEST = 2, MV_OK = 3, MV_SAME = 4, MV_FAILED = 5, MV_LOCKED = 7 };

typedef struct move_ctx_t {
    as_request_t *r;
    int opened;
    as_store_t *st;
} move_ctx_t;

static int move_one(move_ctx_t *c, const char *sid, const char *src, const char *dst,
                    const char **dst_sid)
{
    apr_pool_t *p = c->r->pool;
    const char *folder = NULL, *item = NULL, *new_item = NULL;
    const as_store_folder_t *fd;
    as_store_item_t it;
    apr_status_t rv;

    if (!src || !*src || as_sync_split_serverid(p, sid, &folder, &item) != APR_SUCCESS ||
        strcmp(folder, src)) {
        return MV_BAD_SOURCE;
    }
    if (!dst || !*dst) {
        return MV_BAD_DEST;
    }
    if (!strcmp(src, dst)) {
        return MV_SAME;
    }
    if (!c->opened) {
        c->opened = 1;
        if (as_sync_open_store(c->r, &c->st) != APR_SUCCESS) {
            c->st = NULL;
        }
    }
    if (!c->st || as_store_get_folder(c->st, src, p, &fd) != APR_SUCCESS ||
        fd->cls != AS_CLASS_EMAIL) {
        return MV_BAD_SOURCE; /* messages only: contacts and notes are not moved */
    }
    if (as_store_get_folder(c->st, dst, p, &fd) != APR_SUCCESS || fd->cls != AS_CLASS_EMAIL) {
        return MV_BAD_DEST;
    }
    rv = as_store_move_item(c->st, src, item, dst, p, &new_item);
    if (rv == APR_ENOENT || rv == APR_EINVAL) {
        return MV_BAD_SOURCE;
    }
    if (rv != APR_SUCCESS) {
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_ERR, rv, "MoveItems: cannot move %s to %s for %s",
               sid, dst, c->r->account);
        return APR_STATUS_IS_EAGAIN(rv) || APR_STATUS_IS_EBUSY(rv) ? MV_LOCKED : MV_FAILED;
    }
    *dst_sid = as_sync_serverid(p, dst, new_item);
    if (c->r->db && c->r->line && c->r->line->device_key) {
        unsigned flags = 0;
        if (as_store_stat_item(c->st, dst, new_item, p, &it) == APR_SUCCESS) {
            flags = it.flags;
        }
        rv = as_sync_note_moved(c->r->db, c->r->account, c->r->line->device_key, src, item, dst,
                                new_item, flags);
        if (rv != APR_SUCCESS) {
            as_log(c->r->log, AS_LOG_MARK, AS_LOG_WARNING, rv,
                   "MoveItems: moved %s to %s for %s, but the sync state was not updated "
                   "(the device may see the message twice)",
                   sid, dst, c->r->account);
        }
    }
    return MV_OK;
}

/* The SrcMsgId of a Move, NULL when missing or not 1..64 characters (the
 * reply's schema bound). */
static const char *src_msg_id(apr_pool_t *p, xmlNodePtr move)
{
    const char *s = as_sync_text(p, as_xml_child(move, MOVE_NS, "SrcMsgId"));
    return s && *s && strlen(s) <= 64 ? s : NULL;
}

apr_status_t as_cmd_moveitems(as_request_t *r, as_response_t *resp)
{
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL, rroot, m;
    move_ctx_t c;
    int n = 0, bad = !as_xml_is(root, MOVE_NS, "MoveItems");

    for (m = bad ? NULL : root->children; m && !bad; m = m->next) {
        if (m->type != XML_ELEMENT_NODE) {
            continue;
        }
        bad = !as_xml_is(m, MOVE_NS, "Move") || ++n > AS_MOVE_MAX || !src_msg_id(r->pool, m);
    }
    if (bad || n == 0) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "MoveItems from %s: malformed request",
               r->account);
        if (as_protocol_number(r->protocol_version) < 140) {
            return APR_EINVAL;
        }
        resp->doc = as_reply_new(MOVE_NS, "MoveItems", &rroot);
        as_xml_add(rroot, MOVE_NS, "Status", "103");
        return APR_SUCCESS;
    }
    memset(&c, 0, sizeof(c));
    c.r = r;
    resp->doc = as_reply_new(MOVE_NS, "MoveItems", &rroot);
    if (!resp->doc) {
        return APR_ENOMEM;
    }
    for (m = root->children; m; m = m->next) {
        const char *sid, *dst_sid = NULL;
        xmlNodePtr res;
        int status;
        if (m->type != XML_ELEMENT_NODE) {
            continue;
        }
        sid = src_msg_id(r->pool, m);
        status = move_one(&c, sid, as_sync_text(r->pool, as_xml_child(m, MOVE_NS, "SrcFldId")),
                          as_sync_text(r->pool, as_xml_child(m, MOVE_NS, "DstFldId")), &dst_sid);
        res = as_xml_add(rroot, MOVE_NS, "Response", NULL);
        as_xml_add(res, MOVE_NS, "SrcMsgId", sid);
        as_xml_add(res, MOVE_NS, "Status", apr_itoa(r->pool, status));
        if (dst_sid) {
            as_xml_add(res, MOVE_NS, "DstMsgId", dst_sid);
        }
    }
    return APR_SUCCESS;
}
