/* Handlers of the implemented commands (one as_cmd_<name>.c each). */
#ifndef AS_CMDS_H
#define AS_CMDS_H

#include "activesync/as_command.h"
#include "activesync/as_device.h"

as_command_fn as_cmd_validatecert;
as_command_fn as_cmd_provision;
as_command_fn as_cmd_settings;
/* Mail sync engine (as_cmd_foldersync.c, as_cmd_sync.c, as_cmd_getitemestimate.c; as_sync.h) */
as_command_fn as_cmd_foldersync;
as_command_fn as_cmd_foldercreate;
as_command_fn as_cmd_folderupdate;
as_command_fn as_cmd_folderdelete;
as_command_fn as_cmd_sync;
as_command_fn as_cmd_getitemestimate;
/* ItemOperations, MoveItems, Ping (as_cmd_itemoperations.c, as_cmd_moveitems.c, as_cmd_ping.c) */
as_command_fn as_cmd_itemoperations;
as_command_fn as_cmd_moveitems;
as_command_fn as_cmd_ping;
/* GetAttachment (12.1 and earlier; as_cmd_getattachment.c) */
as_command_fn as_cmd_getattachment;
/* SendMail, 14.0+ (as_cmd_sendmail.c) */
as_command_fn as_cmd_sendmail;
/* SmartReply, SmartForward (as_cmd_smart.c) */
as_command_fn as_cmd_smartreply;
as_command_fn as_cmd_smartforward;
/* MeetingResponse (as_cmd_meetingresponse.c) */
as_command_fn as_cmd_meetingresponse;
#define AS_PING_MAX_FOLDERS 300
/* Parse an airsyncbase:BodyPreference element (Type 1..8 required,
 * TruncationSize, AllOrNone 0/1 or empty (true), Preview 0..255); 0, or -1 when malformed.
 * For every command that takes body preferences (ItemOperations, Sync).
 * This and the helpers below: as_cmd_common.c. */
struct as_mime_bodypref_t;
int as_cmd_bodypref(apr_pool_t *p, xmlNodePtr e, struct as_mime_bodypref_t *bp);

/* The message holding the attachment a FileReference names ("folder:item:part"
 * as Sync writes it, as_mime_fileref_parse), for ItemOperations Fetch and
 * GetAttachment.  store(ctx, &why) gives the
 * request's mailbox (as_sync_open_store), asked only once the reference is
 * well-formed; NULL with why APR_ENOENT when mail is not served to the
 * request.  APR_EINVAL: malformed reference; APR_ENOENT: no mailbox or no
 * such message; another error: the store (*store_failed set) or the message
 * file failed.  On success *msg and *part (the part path). */
struct as_store_t;
struct as_store_msg_t;
typedef struct as_store_t *as_cmd_store_fn(void *ctx, apr_status_t *why);
apr_status_t as_cmd_attachment_open(apr_pool_t *p, const char *ref, as_cmd_store_fn *store,
                                    void *ctx, struct as_store_msg_t **msg, const char **part,
                                    int *store_failed);

/* Shared by Provision and Settings. */

/* Parse Settings DeviceInformation/Set (set = the Set element).  APR_EINVAL
 * and a reason for the log in *why when malformed. */
apr_status_t as_settings_device_info(apr_pool_t *p, xmlNodePtr set, as_device_info_t *info,
                                     const char **why);
/* 1 when n has an element child (a field that must be a leaf). */
int as_cmd_has_element_children(xmlNodePtr n);
/* A database failure of a command: db NULL (pass AS_DB_EUNAVAIL),
 * AS_DB_EUNAVAIL or AS_DB_EBUSY -> 503 with Retry-After, no body, and
 * APR_SUCCESS (the handler returns that); other codes are returned as is. */
apr_status_t as_cmd_db_failure(as_request_t *req, as_response_t *resp, apr_status_t rv);
/* The device identity of a request (account, device key and type, User-Agent,
 * version, command). */
void as_cmd_contact(const as_request_t *req, as_device_contact_t *c);

#endif
