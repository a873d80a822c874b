/* The registry: which catalogued command each handler serves. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_registry.h"
#include "as_cmds.h"

static const struct {
    const char *name;
    as_command_fn *handler;
} bindings[] = {
    {"Sync", as_cmd_sync},
    {"GetAttachment", as_cmd_getattachment},
    {"SendMail", as_cmd_sendmail},
    {"SmartForward", as_cmd_smartforward},
    {"SmartReply", as_cmd_smartreply},
    {"MeetingResponse", as_cmd_meetingresponse},
    {"FolderSync", as_cmd_foldersync},
    {"FolderCreate", as_cmd_foldercreate},
    {"FolderDelete", as_cmd_folderdelete},
    {"FolderUpdate", as_cmd_folderupdate},
    {"MoveItems", as_cmd_moveitems},
    {"GetItemEstimate", as_cmd_getitemestimate},
    {"Settings", as_cmd_settings},
    {"Ping", as_cmd_ping},
    {"ItemOperations", as_cmd_itemoperations},
    {"Provision", as_cmd_provision},
    {"ValidateCert", as_cmd_validatecert},
};

as_command_fn *as_registry_handler(const as_command_t *cmd)
{
    size_t i;

    for (i = 0; cmd && i < sizeof(bindings) / sizeof(bindings[0]); i++) {
        if (!strcmp(bindings[i].name, cmd->name)) {
            return bindings[i].handler;
        }
    }
    return NULL;
}

const char *as_registry_list_implemented(apr_pool_t *p)
{
    const char *list = NULL;
    int code;

    /* Catalogue order: codes 0..23 (MS-ASHTTP), each looked up once. */
    for (code = 0; code < 64; code++) {
        const as_command_t *c = as_command_by_code(code);
        if (c && as_registry_handler(c)) {
            list = list ? apr_pstrcat(p, list, ",", c->name, NULL) : c->name;
        }
    }
    return list ? list : "";
}
