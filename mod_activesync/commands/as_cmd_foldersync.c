/* FolderSync, FolderCreate, FolderUpdate, FolderDelete (MS-ASCMD 2.2.1.3-6)
 * for the account's folders: the mail folders of its Maildir and its
 * collections (contacts, notes ...), one hierarchy (as_sync_open_store).
 *
 * State (as_syncstate.h, record H per (account, device)): the hierarchy key
 * "{gen}N", the folder set the device has at N and at N-1, the hierarchy
 * token at which the set was computed, and reply N.
 *
 * FolderSync
 *   SyncKey 0          new generation, key 1, every folder as Add (parents
 *                      first).
 *   SyncKey N          the hierarchy token is compared first (O(1)); when it
 *                      differs the folders are listed and compared with the
 *                      device's set: Update (name, parent or type changed),
 *                      Delete (gone; a folder whose parent is deleted too is
 *                      not listed separately), Add.  No delta: Status 1, the
 *                      same key, Count 0 (the key never advances without a
 *                      change).  Otherwise key N+1.
 *   SyncKey N-1        the device lost reply N: reply N again, byte for byte;
 *                      when there is none (a folder command came after it),
 *                      the deltas are recomputed against the set at N-1 and
 *                      the state at N is replaced.
 *   other              Status 9 (the device restarts at 0).
 *   Reply: FolderSync{Status, SyncKey, Changes{Count, Update*, Delete*, Add*}}.
 * FolderCreate{SyncKey, ParentId, DisplayName, Type}: mail folders (Type 1
 *   or 12) in the Maildir, calendar/contacts/tasks/notes folders (13, 14,
 *   15, 17) as collections (as_store_create_folder_typed); Status 1 +
 *   SyncKey + ServerId; 2 exists, 3 a special name, 5 parent not found, 9
 *   key, 10 malformed (also: another Type, or a type whose class is not
 *   served to the account), 6 server error.
 * FolderUpdate{SyncKey, ServerId, ParentId, DisplayName}: rename and/or
 *   move; 2 exists, 3 special folder, 4 not found, 5 parent not found.
 * FolderDelete{SyncKey, ServerId}: 3 special folder, 4 not found.
 * The folder commands accept the keys N (-> N+1) and N-1 (applied to the
 * set at N-1, the state at N replaced).  With email off the mail folders
 * are unknown, with contacts (pim) off the contact (note) folders; with
 * nothing served Create answers 5 (no parent, "0" included), Update/Delete 4.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_sync_engine.h"

#define FH_NS "FolderHierarchy:"

enum {
    FS_OK = 1,
    FS_EXISTS = 2,
    FS_SPECIAL = 3,
    FS_NOTFOUND = 4,
    FS_NOPARENT = 5,
    FS_SERVER = 6,
    FS_BADKEY = 9,
    FS_MALFORMED = 10,
};

static const char *device_of(const as_request_t *r)
{
    return r->line && r->line->device_key ? r->line->device_key : "";
}

static xmlDocPtr status_reply(const char *root, int status)
{
    xmlNodePtr r;
    xmlDocPtr doc = as_reply_new(FH_NS, root, &r);
    if (doc) {
        as_sync_add_num(r, FH_NS, "Status", status);
    }
    return doc;
}

/* Two tokens that are the same text (a stored token equal to the current
 * one need not be written again, settled or not). */
static int same_text(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

/* The folders the request may see: the store's (mail when email is on,
 * contacts and notes when their options are), none otherwise.  *st stays
 * NULL when the request may see no folder. */
static apr_status_t current_folders(as_request_t *r, as_store_t **st, apr_array_header_t **set,
                                    const char **token)
{
    apr_status_t rv;
    *set = apr_array_make(r->pool, 1, sizeof(as_store_folder_t));
    *token = "none";
    *st = NULL;
    if (!as_sync_store_enabled(r)) {
        return APR_SUCCESS;
    }
    if ((rv = as_sync_open_store(r, st)) != APR_SUCCESS) {
        return rv;
    }
    return as_store_list_folders(*st, r->pool, set, token);
}

static int same_folder(const as_store_folder_t *a, const as_store_folder_t *b)
{
    return !strcmp(a->name, b->name) && !strcmp(a->parent_id, b->parent_id) && a->type == b->type;
}

static void add_folder(xmlNodePtr parent, const char *what, const as_store_folder_t *f)
{
    xmlNodePtr e = as_xml_add(parent, FH_NS, what, NULL);
    as_xml_add(e, FH_NS, "ServerId", f->id);
    if (strcmp(what, "Delete")) {
        as_xml_add(e, FH_NS, "ParentId", f->parent_id);
        as_xml_add(e, FH_NS, "DisplayName", f->name);
        as_sync_add_num(e, FH_NS, "Type", f->type);
    }
}

/* Changes{Count, Update*, Delete*, Add*} from old to new; returns Count. */
static int diff_folders(apr_pool_t *p, const apr_array_header_t *old, const apr_array_header_t *cur,
                        xmlNodePtr changes)
{
    apr_array_header_t *upd = apr_array_make(p, 4, sizeof(const as_store_folder_t *));
    apr_array_header_t *del = apr_array_make(p, 4, sizeof(const as_store_folder_t *));
    apr_array_header_t *add = apr_array_make(p, 4, sizeof(const as_store_folder_t *));
    int i, count;

    for (i = 0; i < cur->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(cur, i, as_store_folder_t);
        const as_store_folder_t *o = as_hier_find(old, f->id);
        if (!o) {
            APR_ARRAY_PUSH(add, const as_store_folder_t *) = f;
        } else if (!same_folder(o, f)) {
            APR_ARRAY_PUSH(upd, const as_store_folder_t *) = f;
        }
    }
    for (i = 0; i < old->nelts; i++) {
        const as_store_folder_t *o = &APR_ARRAY_IDX(old, i, as_store_folder_t);
        const as_store_folder_t *parent = as_hier_find(old, o->parent_id);
        if (as_hier_find(cur, o->id)) {
            continue;
        }
        /* a child of a deleted folder goes with it */
        if (parent && !as_hier_find(cur, parent->id)) {
            continue;
        }
        APR_ARRAY_PUSH(del, const as_store_folder_t *) = o;
    }
    count = upd->nelts + del->nelts + add->nelts;
    as_sync_add_num(changes, FH_NS, "Count", count);
    for (i = 0; i < upd->nelts; i++) {
        add_folder(changes, "Update", APR_ARRAY_IDX(upd, i, const as_store_folder_t *));
    }
    for (i = 0; i < del->nelts; i++) {
        add_folder(changes, "Delete", APR_ARRAY_IDX(del, i, const as_store_folder_t *));
    }
    for (i = 0; i < add->nelts; i++) {
        add_folder(changes, "Add", APR_ARRAY_IDX(add, i, const as_store_folder_t *));
    }
    return count;
}

static apr_array_header_t *copy_set(apr_pool_t *p, const apr_array_header_t *set)
{
    return apr_array_copy(p, set);
}

static const char *leaf(as_request_t *r, xmlNodePtr parent, const char *name, int *bad)
{
    xmlNodePtr c, found = NULL;
    for (c = parent->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (as_xml_is(c, FH_NS, name)) {
            if (found) {
                *bad = 1;
            }
            found = c;
        }
    }
    if (!found) {
        return NULL;
    }
    {
        const char *t = as_sync_text(r->pool, found);
        if (!t) {
            *bad = 1;
        }
        return t;
    }
}

static int root_is(as_request_t *r, const char *name)
{
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL;
    return root && as_xml_is(root, FH_NS, name);
}

/* ---- FolderSync --------------------------------------------------------------------- */

apr_status_t as_cmd_foldersync(as_request_t *r, as_response_t *resp)
{
    const char *dev = device_of(r), *key, *token;
    as_hier_state_t hs, ns;
    apr_array_header_t *cur, *base;
    as_store_t *st = NULL;
    as_key_match_t m;
    xmlNodePtr root, changes;
    xmlDocPtr doc;
    apr_status_t rv;
    int bad = 0, count, tries;

    if (!r->db) {
        return as_cmd_db_failure(r, resp, AS_DB_EUNAVAIL);
    }
    if (!root_is(r, "FolderSync") ||
        !(key = leaf(r, xmlDocGetRootElement(r->body), "SyncKey", &bad)) || bad ||
        strlen(key) > 64) {
        resp->doc = status_reply("FolderSync", FS_MALFORMED);
        return APR_SUCCESS;
    }
    for (tries = 0; tries < 5; tries++) {
        if ((rv = as_hier_get(r->db, r->pool, r->account, dev, &hs)) != APR_SUCCESS) {
            return as_cmd_db_failure(r, resp, rv);
        }
        m = as_synckey_match(key, hs.gen, hs.n);
        if (m == AS_KEY_UNKNOWN) {
            as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
                   "FolderSync: unknown hierarchy key %s for %s/%s", key, r->account, dev);
            resp->doc = status_reply("FolderSync", FS_BADKEY);
            return APR_SUCCESS;
        }
        if (m == AS_KEY_PREVIOUS && hs.reply) {
            /* the device lost reply N: the same reply again */
            resp->doc = xmlReadMemory(hs.reply, (int)hs.reply_len, "reply.xml", NULL,
                                      XML_PARSE_NONET | XML_PARSE_HUGE);
            if (resp->doc) {
                return APR_SUCCESS;
            }
        }
        if (m == AS_KEY_CURRENT) {
            const char *t = NULL;
            if (!as_sync_store_enabled(r) && hs.folders->nelts == 0) {
                t = "none";
            } else if (as_sync_store_enabled(r)) {
                if ((rv = as_sync_open_store(r, &st)) != APR_SUCCESS) {
                    resp->doc = status_reply("FolderSync", FS_SERVER);
                    return APR_SUCCESS;
                }
                if (as_store_hierarchy_token(st, r->pool, &t) != APR_SUCCESS) {
                    t = NULL;
                }
            }
            if (t && as_store_token_same(t, hs.token)) {
                goto nochange;
            }
        }
        if ((rv = current_folders(r, &st, &cur, &token)) != APR_SUCCESS) {
            resp->doc = status_reply("FolderSync", FS_SERVER);
            return APR_SUCCESS;
        }
        base = m == AS_KEY_INITIAL   ? apr_array_make(r->pool, 1, sizeof(as_store_folder_t))
               : m == AS_KEY_CURRENT ? hs.folders
                                     : hs.prev;
        doc = as_reply_new(FH_NS, "FolderSync", &root);
        as_sync_add_num(root, FH_NS, "Status", FS_OK);
        memset(&ns, 0, sizeof(ns));
        ns.gen = m == AS_KEY_INITIAL ? as_synckey_new_gen() : hs.gen;
        ns.n = m == AS_KEY_INITIAL ? 1 : m == AS_KEY_CURRENT ? hs.n + 1 : hs.n;
        as_xml_add(root, FH_NS, "SyncKey", as_synckey_format(r->pool, ns.gen, ns.n));
        changes = as_xml_add(root, FH_NS, "Changes", NULL);
        count = diff_folders(r->pool, base, cur, changes);
        if (count == 0 && m == AS_KEY_CURRENT) {
            /* nothing new: remember the token (when it is new), keep the key */
            xmlFreeDoc(doc);
            if (same_text(hs.token, token)) {
                goto nochange;
            }
            hs.token = token;
            rv = as_hier_put(r->db, r->account, dev, hs.gen, hs.n, &hs);
            if (rv == AS_SYNC_ESTALE) {
                continue;
            }
            if (rv != APR_SUCCESS) {
                return as_cmd_db_failure(r, resp, rv);
            }
            goto nochange;
        }
        ns.token = token;
        ns.folders = copy_set(r->pool, cur);
        ns.prev = m == AS_KEY_INITIAL   ? apr_array_make(r->pool, 1, sizeof(as_store_folder_t))
                  : m == AS_KEY_CURRENT ? hs.folders
                                        : hs.prev;
        ns.reply = as_sync_doc_xml(doc, r->pool, &ns.reply_len);
        rv = as_hier_put(r->db, r->account, dev, hs.gen, hs.n, &ns);
        if (rv == AS_SYNC_ESTALE) {
            xmlFreeDoc(doc);
            continue;
        }
        if (rv != APR_SUCCESS) {
            xmlFreeDoc(doc);
            return as_cmd_db_failure(r, resp, rv);
        }
        resp->doc = doc;
        return APR_SUCCESS;
    }
    return as_cmd_db_failure(r, resp, AS_DB_EBUSY);

nochange:
    doc = as_reply_new(FH_NS, "FolderSync", &root);
    as_sync_add_num(root, FH_NS, "Status", FS_OK);
    as_xml_add(root, FH_NS, "SyncKey", key);
    as_sync_add_num(as_xml_add(root, FH_NS, "Changes", NULL), FH_NS, "Count", 0);
    resp->doc = doc;
    return APR_SUCCESS;
}

/* ---- FolderCreate / FolderUpdate / FolderDelete ------------------------------------ */

typedef enum { OP_CREATE, OP_UPDATE, OP_DELETE } folder_op_t;

static int store_status(apr_status_t rv, folder_op_t op)
{
    switch (rv) {
    case APR_SUCCESS:
        return FS_OK;
    case APR_EEXIST:
        return FS_EXISTS;
    case AS_STORE_ESPECIAL:
        return FS_SPECIAL;
    case AS_STORE_ENOPARENT:
        return FS_NOPARENT;
    case APR_ENOENT:
        return op == OP_CREATE ? FS_NOPARENT : FS_NOTFOUND;
    case APR_EINVAL:
    case AS_STORE_ENOTSUP:
        return FS_MALFORMED;
    default:
        return FS_SERVER;
    }
}

static const char *const op_roots[] = {"FolderCreate", "FolderUpdate", "FolderDelete"};

/* One FolderCreate / FolderUpdate / FolderDelete request. */
typedef struct folder_req_t {
    folder_op_t op;
    const char *key, *server_id, *parent, *name, *type;
    int type_num;       /* FolderCreate: the Type */
    const char *new_id; /* FolderCreate: the folder made */
    as_store_t *st;
} folder_req_t;

/* The types of the folders a device may create (MS-ASCMD FolderCreate Type):
 * mail (1, 12) and the user-created calendar, contacts, tasks and notes
 * folders (13, 14, 15, 17). */
static int creatable_type(const char *s, int *type)
{
    static const char *const ok[] = {"1", "12", "13", "14", "15", "17"};
    size_t i;
    for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        if (!strcmp(s, ok[i])) {
            *type = atoi(s);
            return 1;
        }
    }
    return 0;
}

/* The request's fields into fr; 0, or the Status to answer. */
static int folder_parse(as_request_t *r, folder_op_t op, folder_req_t *fr)
{
    xmlNodePtr in;
    int bad = 0;

    memset(fr, 0, sizeof(*fr));
    fr->op = op;
    if (!root_is(r, op_roots[op])) {
        return FS_MALFORMED;
    }
    in = xmlDocGetRootElement(r->body);
    fr->key = leaf(r, in, "SyncKey", &bad);
    if (op != OP_CREATE) {
        fr->server_id = leaf(r, in, "ServerId", &bad);
    }
    if (op != OP_DELETE) {
        fr->parent = leaf(r, in, "ParentId", &bad);
        fr->name = leaf(r, in, "DisplayName", &bad);
    }
    if (op == OP_CREATE) {
        fr->type = leaf(r, in, "Type", &bad);
    }
    if (bad || !fr->key || (op != OP_CREATE && !fr->server_id) ||
        (op != OP_DELETE && (!fr->parent || !fr->name || !*fr->name)) ||
        (op == OP_CREATE && !fr->type)) {
        return FS_MALFORMED;
    }
    if (op == OP_CREATE && !creatable_type(fr->type, &fr->type_num)) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
               "FolderCreate: folder type %s cannot be created", fr->type);
        return FS_MALFORMED;
    }
    return 0;
}

/* Is the class of a folder type served to the request? */
static int type_served(const as_request_t *r, int type)
{
    int cls = as_folder_class(type);
    return cls == AS_CLASS_EMAIL ? as_sync_email_enabled(r)
                                 : (as_sync_collection_classes(r) & (1u << cls)) != 0;
}

/* Carry the operation out in the store; 0, or the Status to answer. */
static int folder_apply(as_request_t *r, folder_req_t *fr)
{
    apr_status_t rv;
    int s;

    if (!as_sync_store_enabled(r)) {
        return fr->op == OP_CREATE ? FS_NOPARENT : FS_NOTFOUND;
    }
    if (as_sync_open_store(r, &fr->st) != APR_SUCCESS) {
        return FS_SERVER;
    }
    switch (fr->op) {
    case OP_CREATE:
        if (!type_served(r, fr->type_num)) {
            /* mail, contacts or notes not served to the account: nowhere to put it */
            as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
                   "FolderCreate: folders of type %d are not served to %s", fr->type_num,
                   r->account);
            return FS_MALFORMED;
        }
        rv = as_store_create_folder_typed(fr->st, fr->parent, fr->name, fr->type_num, r->pool,
                                          &fr->new_id);
        break;
    case OP_UPDATE:
        rv = as_store_rename_folder(fr->st, fr->server_id, fr->parent, fr->name);
        break;
    default:
        rv = as_store_delete_folder(fr->st, fr->server_id);
        break;
    }
    if (rv == APR_SUCCESS) {
        return 0;
    }
    s = store_status(rv, fr->op);
    as_log(r->log, AS_LOG_MARK, s == FS_SERVER ? AS_LOG_ERR : AS_LOG_INFO, rv,
           "%s: refused (status %d)", op_roots[fr->op], s);
    return s;
}

/* Is f the deleted folder or below it (in the device's set base)? */
static int below_deleted(const apr_array_header_t *base, const as_store_folder_t *f,
                         const char *deleted)
{
    const as_store_folder_t *a;
    for (a = f; a; a = as_hier_find(base, a->parent_id)) {
        if (!strcmp(a->id, deleted)) {
            return 1;
        }
    }
    return 0;
}

/* The folder as the store has it now, or as the request described it. */
static void folder_now(as_request_t *r, const folder_req_t *fr, const char *id,
                       as_store_folder_t *f)
{
    const as_store_folder_t *now = NULL;
    if (as_store_get_folder(fr->st, id, r->pool, &now) == APR_SUCCESS) {
        *f = *now;
        return;
    }
    f->id = id;
    f->parent_id = fr->parent;
    f->name = fr->name;
    if (fr->op == OP_CREATE) {
        f->type = fr->type_num == AS_FOLDER_USER_GENERIC ? AS_FOLDER_USER_MAIL : fr->type_num;
        f->cls = as_folder_class(f->type);
        f->path = "";
    }
}

/* The device's folder set base with the change applied. */
static apr_array_header_t *folder_set_after(as_request_t *r, const folder_req_t *fr,
                                            const apr_array_header_t *base)
{
    apr_array_header_t *set = apr_array_make(r->pool, base->nelts + 1, sizeof(as_store_folder_t));
    int i;

    for (i = 0; i < base->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(base, i, as_store_folder_t);
        if (fr->op == OP_DELETE && below_deleted(base, f, fr->server_id)) {
            continue; /* the folder and everything below it */
        }
        *(as_store_folder_t *)apr_array_push(set) = *f;
        if (fr->op == OP_UPDATE && !strcmp(f->id, fr->server_id)) {
            folder_now(r, fr, fr->server_id,
                       &APR_ARRAY_IDX(set, set->nelts - 1, as_store_folder_t));
        }
    }
    if (fr->op == OP_CREATE) {
        as_store_folder_t *f = apr_array_push(set);
        folder_now(r, fr, fr->new_id, f);
    }
    return set;
}

static apr_status_t folder_op(as_request_t *r, as_response_t *resp, folder_op_t op)
{
    const char *dev = device_of(r);
    folder_req_t fr;
    xmlNodePtr root;
    int status, tries;

    if (!r->db) {
        return as_cmd_db_failure(r, resp, AS_DB_EUNAVAIL);
    }
    if ((status = folder_parse(r, op, &fr)) != 0) {
        resp->doc = status_reply(op_roots[op], status);
        return APR_SUCCESS;
    }
    for (tries = 0; tries < 5; tries++) {
        as_hier_state_t hs, ns;
        as_key_match_t m;
        apr_status_t rv;

        if ((rv = as_hier_get(r->db, r->pool, r->account, dev, &hs)) != APR_SUCCESS) {
            return as_cmd_db_failure(r, resp, rv);
        }
        m = as_synckey_match(fr.key, hs.gen, hs.n);
        if (m != AS_KEY_CURRENT && m != AS_KEY_PREVIOUS) {
            resp->doc = status_reply(op_roots[op], FS_BADKEY);
            return APR_SUCCESS;
        }
        if (tries == 0 && (status = folder_apply(r, &fr)) != 0) {
            resp->doc = status_reply(op_roots[op], status);
            return APR_SUCCESS;
        }
        memset(&ns, 0, sizeof(ns));
        ns.gen = hs.gen;
        ns.n = m == AS_KEY_CURRENT ? hs.n + 1 : hs.n;
        ns.folders = folder_set_after(r, &fr, m == AS_KEY_CURRENT ? hs.folders : hs.prev);
        ns.prev = m == AS_KEY_CURRENT ? hs.folders : hs.prev;
        ns.token = NULL; /* the disk changed: the next FolderSync compares */
        rv = as_hier_put(r->db, r->account, dev, hs.gen, hs.n, &ns);
        if (rv == AS_SYNC_ESTALE) {
            continue;
        }
        if (rv != APR_SUCCESS) {
            return as_cmd_db_failure(r, resp, rv);
        }
        if (op == OP_DELETE) {
            as_coll_drop(r->db, r->account, dev, fr.server_id);
        }
        resp->doc = as_reply_new(FH_NS, op_roots[op], &root);
        as_sync_add_num(root, FH_NS, "Status", FS_OK);
        as_xml_add(root, FH_NS, "SyncKey", as_synckey_format(r->pool, ns.gen, ns.n));
        if (op == OP_CREATE) {
            as_xml_add(root, FH_NS, "ServerId", fr.new_id);
        }
        return APR_SUCCESS;
    }
    return as_cmd_db_failure(r, resp, AS_DB_EBUSY);
}

apr_status_t as_cmd_foldercreate(as_request_t *r, as_response_t *resp)
{
    return folder_op(r, resp, OP_CREATE);
}

apr_status_t as_cmd_folderupdate(as_request_t *r, as_response_t *resp)
{
    return folder_op(r, resp, OP_UPDATE);
}

apr_status_t as_cmd_folderdelete(as_request_t *r, as_response_t *resp)
{
    return folder_op(r, resp, OP_DELETE);
}
