/* ItemOperations (MS-ASCMD 2.2.1.10) on the mailbox (and Fetch of a
 * contact or note, Properties from its class's conversion):
 *
 *   Fetch{Store=Mailbox, airsync:CollectionId + airsync:ServerId,
 *         Options{Schema, airsync:MIMESupport, airsyncbase:BodyPreference*}}
 *       the whole message, as Sync would send it but untruncated unless a
 *       BodyPreference says otherwise: Fetch{Status, CollectionId, ServerId,
 *       airsync:Class, Properties{email:..., airsyncbase:Body ...}};
 *   Fetch{Store=Mailbox, airsyncbase:FileReference, Options{Range}}
 *       one attachment (FileReference "folder:item:part" as Sync wrote it):
 *       Fetch{Status, FileReference, Properties{airsyncbase:ContentType,
 *       [Range], Total, Data | Part}}.  Range "first-last" (bytes,
 *       inclusive) is echoed only when the client sent one (iOS 10 broke
 *       otherwise, eas-protocol §6.3 #20), clipped to the attachment;
 *   EmptyFolderContents{airsync:CollectionId, Options{DeleteSubFolders}}
 *       removes every message of a mail folder (a folder of contacts or
 *       notes is not found) (for good, not to Trash:
 *       it is how clients empty Deleted Items and Junk) and, with
 *       DeleteSubFolders, its subfolders (special folders are kept);
 *   Move{ConversationId, DstFldId, Options{MoveAlways}} (14.0+)
 *       conversations are not implemented: Status 156 (action not
 *       supported), the request's ConversationId echoed.
 *
 * Reply: ItemOperations{Status, Response{Move*, EmptyFolderContents*,
 * Fetch*}} -- the schema fixes that grouping, so operations are answered in
 * request order within each kind.  A malformed request (wrong root, unknown
 * operation, an operation without its required element, more than
 * IO_MAX_OPS operations) answers Status 2 without Response.
 *
 * Data: base64 text of the decoded bytes.  With req->accept_multipart the
 * bytes go to binary parts instead (as_multipart.h): Properties/Part for an
 * attachment, airsyncbase:Body/Part for a message body.
 *
 * Statuses per operation (MS-ASCMD 2.2.3.177.8):
 *   1 ok; 2 protocol error (missing/invalid elements, LinkId in the
 *   mailbox, Move before 14.0); 3 server error (store failure); 6 item or
 *   folder not found (also: email off for the account, no Maildir
 *   configured, a malformed ServerId, a LongId -- this server issues none);
 *   8 Range invalid (first > last, first beyond the end, an empty
 *   attachment) or wider than IO_MAX_RANGE; 9 store unknown (anything but
 *   "Mailbox", e.g. DocumentLibrary); 11 an attachment larger than
 *   IO_MAX_DATA fetched without Range; 12 the message file cannot be read;
 *   14 the message cannot be converted; 15 FileReference malformed or
 *   pointing at nothing; 17 EmptyFolderContents removed only some items;
 *   156 conversation Move.
 * Access: the account's `email` option (req->access; NULL = on) hides the
 * whole mailbox (as_sync_email_enabled): every mailbox operation answers
 * its not-found status (6, or 15 for a FileReference).
 */
#include <limits.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_device.h"
#include "activesync/as_mime.h"
#include "activesync/as_multipart.h"
#include "activesync/as_sync_engine.h"
#include "activesync/as_wbxml.h"

#define IO_NS     "ItemOperations:"
#define AS_NS     "AirSync:"
#define BASE_NS   "AirSyncBase:"
#define SEARCH_NS "Search:"
#define DL_NS     "DocumentLibrary:"

#define IO_MAX_OPS   64
#define IO_MAX_PREFS 4
/* Largest attachment sent without Range, and largest Range: base64 makes
 * 4/3 of it, within the encoder's 32 MiB. */
#define IO_MAX_DATA  (16 * 1024 * 1024)
#define IO_MAX_RANGE IO_MAX_DATA

enum {
    IO_OK = 1,
    IO_PROTOCOL = 2,
    IO_SERVER = 3,
    IO_NOT_FOUND = 6,
    IO_RANGE = 8,
    IO_STORE = 9,
    IO_TOO_LARGE = 11,
    IO_IO = 12,
    IO_CONVERSION = 14,
    IO_ATTACHMENT = 15,
    IO_PARTIAL = 17,
    IO_NOT_SUPPORTED = 156
};

typedef struct io_ctx_t {
    as_request_t *r;
    as_response_t *resp;
    int proto;
    int opened;       /* store lookup done */
    as_store_t *st;   /* NULL: no mailbox for this request */
    apr_status_t srv; /* why not */
} io_ctx_t;

static const char *num(apr_pool_t *p, long v)
{
    return apr_ltoa(p, v);
}

/* The mailbox, opened on first use; NULL when mail is not served. */
static as_store_t *store(io_ctx_t *c)
{
    if (!c->opened) {
        c->opened = 1;
        c->srv = as_sync_open_store(c->r, &c->st);
        if (c->srv != APR_SUCCESS) {
            c->st = NULL;
        }
    }
    return c->st;
}

/* Status for a store that could not be opened: not found when mail is not
 * served to the request, else a server error. */
static int no_store_status(io_ctx_t *c, int not_found)
{
    return c->srv == APR_ENOENT ? not_found : IO_SERVER;
}

/* Elements of the request: each child element of parent must be one of the
 * (ns, name) pairs in allowed (NULL-terminated); 0 otherwise. */
static int children_allowed(xmlNodePtr parent, const char *const allowed[][2])
{
    xmlNodePtr c;
    for (c = parent->children; c; c = c->next) {
        int i, ok = 0;
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        for (i = 0; allowed[i][0]; i++) {
            if (as_xml_is(c, allowed[i][0], allowed[i][1])) {
                ok = 1;
                break;
            }
        }
        if (!ok) {
            return 0;
        }
    }
    return 1;
}

/* "first-last" -> 1 with the bounds, 0 when malformed. */
static int parse_range(const char *s, apr_off_t *first, apr_off_t *last)
{
    apr_off_t v[2] = {0, 0};
    int k, n;
    for (k = 0; k < 2; k++) {
        for (n = 0; *s >= '0' && *s <= '9'; s++, n++) {
            if (n >= 9) {
                return 0;
            }
            v[k] = v[k] * 10 + (*s - '0');
        }
        if (!n || *s != (k ? '\0' : '-')) {
            return 0;
        }
        s++;
    }
    *first = v[0];
    *last = v[1];
    return 1;
}

/* Fetch Options. */
typedef struct fetch_opts_t {
    xmlNodePtr schema;
    const char *range;
    int mime_support;
    as_mime_bodypref_t prefs[IO_MAX_PREFS];
    int nprefs;
} fetch_opts_t;

static int parse_fetch_options(io_ctx_t *c, xmlNodePtr o, fetch_opts_t *fo)
{
    apr_pool_t *p = c->r->pool;
    xmlNodePtr e;

    memset(fo, 0, sizeof(*fo));
    if (!o) {
        return 0;
    }
    for (e = o->children; e; e = e->next) {
        if (e->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (as_xml_is(e, IO_NS, "Schema")) {
            fo->schema = e;
        } else if (as_xml_is(e, IO_NS, "Range")) {
            if (!(fo->range = as_sync_text(p, e))) {
                return -1;
            }
        } else if (as_xml_is(e, AS_NS, "MIMESupport")) {
            if ((fo->mime_support = (int)as_sync_number(p, e, 0, 2)) < 0) {
                return -1;
            }
        } else if (as_xml_is(e, BASE_NS, "BodyPreference")) {
            if (fo->nprefs == IO_MAX_PREFS) {
                continue;
            }
            if (as_cmd_bodypref(p, e, &fo->prefs[fo->nprefs]) != 0) {
                return -1;
            }
            fo->nprefs++;
        }
        /* UserName, Password (document libraries), BodyPartPreference,
         * rm:RightsManagementSupport: accepted and ignored. */
    }
    return 0;
}

/* Keep only the properties the Schema names (a Schema without children
 * keeps all). */
static void apply_schema(xmlNodePtr props, xmlNodePtr schema)
{
    xmlNodePtr c, next, s;
    int any = 0;

    for (s = schema ? schema->children : NULL; s; s = s->next) {
        any |= s->type == XML_ELEMENT_NODE;
    }
    if (!any) {
        return;
    }
    for (c = props->children; c; c = next) {
        int keep = 0;
        next = c->next;
        for (s = schema->children; s && !keep; s = s->next) {
            keep = s->type == XML_ELEMENT_NODE && s->ns && c->ns &&
                   as_xml_is(c, (const char *)s->ns->href, (const char *)s->name);
        }
        if (!keep) {
            xmlUnlinkNode(c);
            xmlFreeNode(c);
        }
    }
}

/* Whether len bytes fit apr_base64's int lengths once encoded (the
 * callers' caps are far below; this holds whatever they become). */
static int b64_fits(apr_size_t len)
{
    return len <= (apr_size_t)(INT_MAX - 1) / 4 * 3 - 2;
}

/* Base64 text for Data; 0, or -1 (nothing added) when len does not fit. */
static int add_data(xmlNodePtr parent, const char *ns, apr_pool_t *p, const void *data,
                    apr_size_t len)
{
    char *b64;
    int n;
    xmlNodePtr d;

    if (!b64_fits(len)) {
        return -1;
    }
    b64 = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)len));
    n = apr_base64_encode_binary(b64, data, (int)len);
    d = as_xml_add(parent, ns, "Data", NULL);
    if (d && n > 1) {
        xmlNodeAddContentLen(d, BAD_CAST b64, n - 1);
    }
    return 0;
}

/* Multipart: move Body/Data of a fetched message into a part. */
static void body_to_part(io_ctx_t *c, xmlNodePtr props)
{
    xmlNodePtr body = as_xml_child(props, BASE_NS, "Body");
    xmlNodePtr data = body ? as_xml_child(body, BASE_NS, "Data") : NULL;
    const unsigned char *bytes;
    apr_size_t len;
    int idx;

    if (!data || as_wbxml_node_bytes(data, c->r->pool, &bytes, &len) != AS_WBXML_OK) {
        return;
    }
    xmlUnlinkNode(data);
    xmlFreeNode(data);
    idx = as_multipart_add(c->r->pool, &c->resp->parts, bytes, len);
    as_xml_add(body, IO_NS, "Part", num(c->r->pool, idx));
}

static xmlNodePtr fetch_head(xmlNodePtr out)
{
    xmlNodePtr f = as_xml_add(out, IO_NS, "Fetch", NULL);
    as_xml_add(f, IO_NS, "Status", NULL); /* set by set_status() */
    return f;
}

static void set_status(apr_pool_t *p, xmlNodePtr f, int status)
{
    xmlNodePtr s = as_xml_child(f, IO_NS, "Status");
    xmlNodeSetContent(s, BAD_CAST num(p, status));
}

/* A whole contact, note ... (a folder of another class than Email). */
static void fetch_class_item(io_ctx_t *c, xmlNodePtr f, as_store_t *st, int cls, const char *folder,
                             const char *item, const fetch_opts_t *fo)
{
    xmlNodePtr props;
    as_item_opts_t o;
    apr_status_t rv;

    o.protocol = c->proto;
    o.prefs = fo->nprefs ? fo->prefs : NULL;
    o.nprefs = fo->nprefs;
    o.log = c->r->log;
    o.account = c->r->account;
    as_xml_add(f, AS_NS, "Class", as_class_name(cls));
    props = as_xml_add(f, IO_NS, "Properties", NULL);
    rv = as_sync_item_to_eas(st, as_item_codec(cls), folder, item, NULL, &o, props, c->r->pool,
                             NULL, NULL);
    if (rv != APR_SUCCESS) {
        xmlUnlinkNode(props);
        xmlFreeNode(props);
        set_status(c->r->pool, f, rv == APR_ENOENT ? IO_NOT_FOUND : IO_CONVERSION);
        return;
    }
    set_status(c->r->pool, f, IO_OK);
}

/* Whole message (or item of another class) by CollectionId + ServerId. */
static void fetch_item(io_ctx_t *c, xmlNodePtr f, const char *coll, const char *sid,
                       const fetch_opts_t *fo)
{
    apr_pool_t *p = c->r->pool;
    const char *folder = NULL, *item = NULL, *err = NULL;
    as_store_msg_t *msg = NULL;
    const as_store_folder_t *fl = NULL;
    as_mime_opts_t mo;
    xmlNodePtr props;
    as_store_t *st;
    apr_status_t rv;

    if (coll) {
        as_xml_add(f, AS_NS, "CollectionId", coll);
    }
    as_xml_add(f, AS_NS, "ServerId", sid);
    if (as_sync_split_serverid(p, sid, &folder, &item) != APR_SUCCESS ||
        (coll && strcmp(coll, folder))) {
        set_status(p, f, IO_NOT_FOUND);
        return;
    }
    if (!(st = store(c))) {
        set_status(p, f, no_store_status(c, IO_NOT_FOUND));
        return;
    }
    if (as_store_get_folder(st, folder, p, &fl) != APR_SUCCESS) {
        set_status(p, f, IO_NOT_FOUND);
        return;
    }
    if (fl->cls != AS_CLASS_EMAIL) {
        fetch_class_item(c, f, st, fl->cls, folder, item, fo);
        return;
    }
    rv = as_store_open_item(st, folder, item, p, &msg);
    if (rv != APR_SUCCESS) {
        if (rv != APR_ENOENT && rv != APR_EINVAL) {
            as_log(c->r->log, AS_LOG_MARK, AS_LOG_ERR, rv, "ItemOperations: cannot read %s of %s",
                   sid, c->r->account);
        }
        set_status(p, f, rv == APR_ENOENT || rv == APR_EINVAL ? IO_NOT_FOUND : IO_IO);
        return;
    }
    as_sync_mime_opts(&mo, folder, item, &msg->item, c->proto, fo->prefs, fo->nprefs,
                      fo->mime_support, c->r->log);
    as_xml_add(f, AS_NS, "Class", "Email");
    props = as_xml_add(f, IO_NS, "Properties", NULL);
    rv = as_mime_to_eas(p, msg->file, &mo, props, &err);
    if (rv != APR_SUCCESS) {
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_WARNING, rv,
               "ItemOperations: cannot convert %s of %s: %s", sid, c->r->account, err ? err : "?");
        xmlUnlinkNode(props);
        xmlFreeNode(props);
        set_status(p, f, IO_CONVERSION);
        return;
    }
    apply_schema(props, fo->schema);
    if (c->r->accept_multipart) {
        body_to_part(c, props);
    }
    set_status(p, f, IO_OK);
}

static as_store_t *io_store(void *ctx, apr_status_t *why)
{
    io_ctx_t *c = ctx;
    as_store_t *st = store(c);
    *why = c->srv;
    return st;
}

/* One attachment by FileReference. */
static void fetch_attachment(io_ctx_t *c, xmlNodePtr f, const char *ref, const fetch_opts_t *fo)
{
    apr_pool_t *p = c->r->pool;
    const char *part = NULL;
    apr_off_t first = 0, last = -1, length = -1;
    as_mime_attachment_t att;
    as_store_msg_t *msg = NULL;
    xmlNodePtr props;
    apr_status_t rv;
    int store_failed = 0;

    as_xml_add(f, BASE_NS, "FileReference", ref);
    if (fo->range) {
        if (!parse_range(fo->range, &first, &last) || first > last) {
            set_status(p, f, IO_RANGE);
            return;
        }
        length = last - first + 1;
        if (length > IO_MAX_RANGE) {
            set_status(p, f, IO_RANGE);
            return;
        }
    }
    rv = as_cmd_attachment_open(p, ref, io_store, c, &msg, &part, &store_failed);
    if (rv != APR_SUCCESS) {
        set_status(p, f,
                   rv == APR_ENOENT || rv == APR_EINVAL ? IO_ATTACHMENT
                   : store_failed                       ? IO_SERVER
                                                        : IO_IO);
        return;
    }
    memset(&att, 0, sizeof(att));
    rv = as_mime_attachment(p, msg->file, part, first, length, &att);
    if (rv != APR_SUCCESS) {
        set_status(p, f, rv == APR_ENOENT ? IO_ATTACHMENT : IO_CONVERSION);
        return;
    }
    if (fo->range && first >= att.total) {
        set_status(p, f, IO_RANGE); /* also: a Range of an empty attachment */
        return;
    }
    if ((!fo->range && att.total > IO_MAX_DATA) ||
        (!c->r->accept_multipart && !b64_fits(att.len))) {
        set_status(p, f, IO_TOO_LARGE);
        return;
    }
    props = as_xml_add(f, IO_NS, "Properties", NULL);
    as_xml_add(props, BASE_NS, "ContentType",
               att.content_type ? att.content_type : "application/octet-stream");
    if (fo->range) {
        as_xml_add(props, IO_NS, "Range",
                   apr_psprintf(p, "%" APR_OFF_T_FMT "-%" APR_OFF_T_FMT, first,
                                first + (apr_off_t)att.len - 1));
    }
    as_xml_add(props, IO_NS, "Total", apr_off_t_toa(p, att.total));
    if (c->r->accept_multipart) {
        int idx = as_multipart_add(p, &c->resp->parts, att.data, att.len);
        as_xml_add(props, IO_NS, "Part", num(p, idx));
    } else {
        (void)add_data(props, IO_NS, p, att.data, att.len); /* fits: checked above */
    }
    set_status(p, f, IO_OK);
}

static void op_fetch(io_ctx_t *c, xmlNodePtr op, xmlNodePtr out)
{
    apr_pool_t *p = c->r->pool;
    const char *store_name = as_sync_text(p, as_xml_child(op, IO_NS, "Store"));
    const char *coll = as_sync_text(p, as_xml_child(op, AS_NS, "CollectionId"));
    const char *sid = as_sync_text(p, as_xml_child(op, AS_NS, "ServerId"));
    const char *ref = as_sync_text(p, as_xml_child(op, BASE_NS, "FileReference"));
    const char *longid = as_sync_text(p, as_xml_child(op, SEARCH_NS, "LongId"));
    xmlNodePtr f = fetch_head(out);
    fetch_opts_t fo;

    if (!store_name || !*store_name) {
        set_status(p, f, IO_PROTOCOL);
        return;
    }
    if (strcasecmp(store_name, "Mailbox")) {
        set_status(p, f, IO_STORE);
        return;
    }
    if (parse_fetch_options(c, as_xml_child(op, IO_NS, "Options"), &fo) != 0 ||
        as_xml_child(op, DL_NS, "LinkId") || (!!sid + !!ref + !!longid) != 1) {
        set_status(p, f, IO_PROTOCOL);
        return;
    }
    if (ref) {
        fetch_attachment(c, f, ref, &fo);
    } else if (sid) {
        fetch_item(c, f, coll, sid, &fo);
    } else {
        as_xml_add(f, SEARCH_NS, "LongId", longid);
        set_status(p, f, IO_NOT_FOUND);
    }
}

/* Remove every message of folder; 1 ok, 17 some failed, 3 all failed. */
static int empty_items(io_ctx_t *c, const char *folder)
{
    apr_array_header_t *items = NULL;
    unsigned failed = 0;
    apr_status_t rv;
    int i;

    rv = as_store_list_items(c->st, folder, c->r->pool, &items, NULL);
    if (rv != APR_SUCCESS) {
        return rv == APR_ENOENT ? IO_NOT_FOUND : IO_SERVER;
    }
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        rv = as_store_delete_item(c->st, folder, it->id, 0);
        if (rv != APR_SUCCESS && rv != APR_ENOENT) {
            failed++;
        }
    }
    if (failed) {
        as_log(c->r->log, AS_LOG_MARK, AS_LOG_WARNING, 0,
               "EmptyFolderContents: %u of %d messages of %s could not be removed (%s)", failed,
               items->nelts, folder, c->r->account);
    }
    return !failed ? IO_OK : failed == (unsigned)items->nelts ? IO_SERVER : IO_PARTIAL;
}

static int empty_subfolders(io_ctx_t *c, const char *folder)
{
    apr_array_header_t *folders = NULL;
    int i, failed = 0;

    if (as_store_list_folders(c->st, c->r->pool, &folders, NULL) != APR_SUCCESS) {
        return IO_SERVER;
    }
    for (i = 0; i < folders->nelts; i++) {
        const as_store_folder_t *fd = &APR_ARRAY_IDX(folders, i, as_store_folder_t);
        apr_status_t rv;
        if (strcmp(fd->parent_id, folder)) {
            continue;
        }
        rv = as_store_delete_folder(c->st, fd->id);
        if (rv != APR_SUCCESS && rv != APR_ENOENT && rv != AS_STORE_ESPECIAL) {
            failed = 1;
        }
    }
    return failed ? IO_PARTIAL : IO_OK;
}

static void op_empty(io_ctx_t *c, xmlNodePtr op, xmlNodePtr out)
{
    apr_pool_t *p = c->r->pool;
    const char *coll = as_sync_text(p, as_xml_child(op, AS_NS, "CollectionId"));
    xmlNodePtr o = as_xml_child(op, IO_NS, "Options");
    xmlNodePtr e = as_xml_add(out, IO_NS, "EmptyFolderContents", NULL);
    const as_store_folder_t *fd = NULL;
    xmlNodePtr s = as_xml_add(e, IO_NS, "Status", NULL);
    int status, sub;

    as_xml_add(e, AS_NS, "CollectionId", coll ? coll : "");
    if (!coll || !*coll) {
        status = IO_PROTOCOL;
    } else if (!store(c)) {
        status = no_store_status(c, IO_NOT_FOUND);
    } else if (as_store_get_folder(c->st, coll, p, &fd) != APR_SUCCESS ||
               fd->cls != AS_CLASS_EMAIL) {
        status = IO_NOT_FOUND; /* a mail folder's operation: no address book emptied */
    } else {
        status = empty_items(c, coll);
        if (o && as_xml_child(o, IO_NS, "DeleteSubFolders") && status != IO_NOT_FOUND) {
            sub = empty_subfolders(c, coll);
            if (sub != IO_OK) {
                status = status == IO_OK ? IO_PARTIAL : status;
            }
        }
    }
    xmlNodeSetContent(s, BAD_CAST num(p, status));
}

static void op_move(io_ctx_t *c, xmlNodePtr op, xmlNodePtr out)
{
    apr_pool_t *p = c->r->pool;
    const char *conv = as_sync_text(p, as_xml_child(op, IO_NS, "ConversationId"));
    xmlNodePtr m = as_xml_add(out, IO_NS, "Move", NULL);
    int status = c->proto < 140 || !conv || !as_xml_child(op, IO_NS, "DstFldId") ? IO_PROTOCOL
                                                                                 : IO_NOT_SUPPORTED;
    as_xml_add(m, IO_NS, "Status", num(p, status));
    as_xml_add(m, IO_NS, "ConversationId", conv ? conv : "");
}

/* The request's shape: 0 ok, else a reason for the log. */
static const char *check_request(xmlNodePtr root, int *nops)
{
    static const char *const ops[][2] = {
        {IO_NS, "Fetch"}, {IO_NS, "EmptyFolderContents"}, {IO_NS, "Move"}, {NULL, NULL}};
    xmlNodePtr c;

    if (!as_xml_is(root, IO_NS, "ItemOperations")) {
        return "the request is not an ItemOperations document";
    }
    if (!children_allowed(root, ops)) {
        return "an unknown operation";
    }
    *nops = 0;
    for (c = root->children; c; c = c->next) {
        *nops += c->type == XML_ELEMENT_NODE;
    }
    if (*nops == 0 || *nops > IO_MAX_OPS) {
        return *nops ? "too many operations" : "no operation";
    }
    return NULL;
}

apr_status_t as_cmd_itemoperations(as_request_t *r, as_response_t *resp)
{
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL, rroot, response, op;
    xmlNodePtr moves, empties, fetches, n, next;
    const char *why;
    io_ctx_t c;
    int nops = 0;

    memset(&c, 0, sizeof(c));
    c.r = r;
    c.resp = resp;
    c.proto = as_protocol_number(r->protocol_version);
    if (!c.proto) {
        c.proto = 141;
    }
    resp->doc = as_reply_new(IO_NS, "ItemOperations", &rroot);
    if (!resp->doc) {
        return APR_ENOMEM;
    }
    resp->parts = NULL;
    why = check_request(root, &nops);
    if (why) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, 0, "ItemOperations from %s: %s", r->account, why);
        as_xml_add(rroot, IO_NS, "Status", num(r->pool, IO_PROTOCOL));
        return APR_SUCCESS;
    }
    as_xml_add(rroot, IO_NS, "Status", num(r->pool, IO_OK));
    response = as_xml_add(rroot, IO_NS, "Response", NULL);
    /* Scratch parents per kind, merged in schema order below. */
    moves = xmlNewDocNode(resp->doc, NULL, BAD_CAST "m", NULL);
    empties = xmlNewDocNode(resp->doc, NULL, BAD_CAST "e", NULL);
    fetches = xmlNewDocNode(resp->doc, NULL, BAD_CAST "f", NULL);
    xmlAddChild(response, moves);
    xmlAddChild(response, empties);
    xmlAddChild(response, fetches);
    for (op = root->children; op; op = op->next) {
        if (as_xml_is(op, IO_NS, "Fetch")) {
            op_fetch(&c, op, fetches);
        } else if (as_xml_is(op, IO_NS, "EmptyFolderContents")) {
            op_empty(&c, op, empties);
        } else if (as_xml_is(op, IO_NS, "Move")) {
            op_move(&c, op, moves);
        }
    }
    for (n = response->children; n; n = next) {
        xmlNodePtr k, knext;
        next = n->next;
        for (k = n->children; k; k = knext) {
            knext = k->next;
            xmlUnlinkNode(k);
            xmlAddPrevSibling(n, k);
        }
        xmlUnlinkNode(n);
        xmlFreeNode(n);
    }
    return APR_SUCCESS;
}
