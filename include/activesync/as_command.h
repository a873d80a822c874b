/* The contract of a command handler: it gets the decoded request and fills
 * in a response; the glue owns HTTP. */
#ifndef AS_COMMAND_H
#define AS_COMMAND_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>
#include <libxml/tree.h>

#include "as_db.h"
#include "as_log.h"
#include "as_maildir.h"
#include "as_catalog.h"
#include "as_request_line.h"
#include "as_xml.h"
#include "as_watch.h"

struct as_cap_decision_t; /* as_cap.h */
struct as_sync_waiter_t;  /* as_sync.h */

typedef struct as_request_t {
    apr_pool_t *pool;
    const as_logger_t *log;
    const char *account; /* canonical user@domain */
    const as_request_line_t *line;
    const char *protocol_version; /* "14.1" */
    const char *user_agent;       /* may be NULL */
    /* Decoded request, NULL when empty.  A command that parks (Ping) may
     * free it early: xmlFreeDoc(body), then body = NULL; the caller then
     * forgets it. */
    xmlDocPtr body;
    const struct as_server_conf_t *conf; /* core settings from the glue */
    as_db_t *db; /* the process's Berkeley DB environment (Provision, Settings) */
    /* The cap gate's decision for the account (as_cap.h): access->eff holds
     * the effective email/contacts/pim options (with their sources) that
     * FolderSync and the stores use to hide disabled classes.  Always set
     * by the glue for a command it dispatches; NULL only in unit tests. */
    const struct as_cap_decision_t *access;
    /* The client accepts a multipart reply (ItemOperations): header
     * MS-ASAcceptMultiPart: T, or Options bit 0x02 of the base64 request
     * line.  Set by the glue; 0 in unit tests unless set. */
    int accept_multipart;
    /* The raw body of a command that takes one instead of WBXML (SendMail
     * before 14.0: a message/rfc822 body), raw_len bytes in the pool;
     * NULL otherwise (body is then the decoded WBXML). */
    const char *raw_body;
    apr_size_t raw_len;
} as_request_t;

typedef struct as_response_t {
    int http_status;      /* 200 unless the command says otherwise */
    xmlDocPtr doc;        /* reply to encode; NULL: empty body.  Freed by the caller */
    apr_table_t *headers; /* extra response headers */
    /* Multipart reply (ItemOperations, only when req->accept_multipart):
     * binary parts 1..n (as_multipart_part_t, as_multipart.h) to send after
     * the encoded doc (part 0) as application/vnd.ms-sync.multipart.  NULL:
     * a plain WBXML reply. */
    apr_array_header_t *parts;
    /* A raw reply body instead of WBXML (GetAttachment), NULL: none.  doc
     * must then be NULL. */
    const struct as_raw_body_t *raw;
} as_response_t;

/* A raw body: exactly length bytes of content_type, produced on demand so
 * that large ones are never held in memory.  The glue sets Content-Type and
 * Content-Length, then calls produce once with a sink that sends each chunk
 * on.  A failure after the headers went out (produce's error, or fewer
 * bytes than announced) can only end the connection early. */
typedef apr_status_t as_raw_sink_fn(void *sink_ctx, const unsigned char *data, apr_size_t len);
typedef struct as_raw_body_t {
    const char *content_type; /* a valid media type, e.g. "image/png" */
    apr_off_t length;
    apr_status_t (*produce)(void *ctx, as_raw_sink_fn *sink, void *sink_ctx);
    void *ctx;
} as_raw_body_t;

/* A command handler.  APR_SUCCESS: send resp (http_status, doc, headers).
 * Otherwise the glue answers without a body: APR_EINVAL 400 (the request
 * is malformed beyond what the protocol's Status can say), APR_ENOTIMPL 501,
 * anything else 500.  Protocol-level errors belong in the reply's Status
 * with APR_SUCCESS. */
typedef apr_status_t as_command_fn(as_request_t *req, as_response_t *resp);

/* Settings the core needs from the configuration. */
typedef struct as_server_conf_t {
    const char *trusted_ca_file; /* ValidateCert trust anchors (PEM bundle) */
    const char *trusted_ca_path; /* or a hashed directory */
    const char *crl_file;        /* CRLs for ValidateCert CheckCRL */
    /* Mail (FolderSync, Sync, GetItemEstimate; as_sync.h).  maildir_template:
     * `ActiveSyncMaildir TEMPLATE` (%u %n %d, see as_maildir_path_from_template);
     * NULL = no mail store: mail folders are absent, as with email off.
     * maildir_names: `ActiveSyncMaildirFolders Sent Drafts Trash Junk`; a NULL
     * member = Dovecot's default name.  sync_max_window: the largest WindowSize
     * served (0 = 512, the protocol maximum); a larger request is clamped. */
    const char *maildir_template;
    as_maildir_names_t maildir_names;
    /* Contacts, calendars, tasks, notes: `ActiveSyncCollections TEMPLATE`
     * (%u %n %d), the folder of an account's collections in Radicale's
     * layout (as_collections.h); the glue fills in its default,
     * DATADIR/collections/%u, so it is never NULL there. */
    const char *collections_template;
    int sync_max_window;
    /* `ActiveSyncPingHeartbeat MIN MAX`: Ping's HeartbeatInterval bounds in
     * seconds; 0 (or MIN > MAX) = the protocol's 60..3540. */
    int ping_heartbeat_min, ping_heartbeat_max;
    /* Parked Ping and Sync waits end ("no change") when this says the server
     * stops (as_watch.h); fn NULL: only as_watch_stop() ends them early.
     * The glue sets the MPM's state. */
    as_watch_stop_check_t push_stop;
    /* Replaces the inotify wait of Sync with Wait (as_sync.h); NULL: inotify.
     * Tests and other schedulers. */
    const struct as_sync_waiter_t *sync_waiter;
    /* SendMail (as_outbound.h): where messages go, `ActiveSyncSendmail`;
     * NULL: SendMail answers the submission-failure status.  Tests pass a
     * fake.  max_message_size: `ActiveSyncMaxMessageSize`, the largest
     * message submitted in bytes; 0: only the request limit bounds it. */
    const struct as_outbound_t *outbound;
    apr_size_t max_message_size;
} as_server_conf_t;

#endif
