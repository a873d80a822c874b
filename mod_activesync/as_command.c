/* The command table (MS-ASCMD names, MS-ASHTTP codes).  A command without a
 * handler is known but not implemented: it is answered 501 and advertised
 * nowhere. */
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "as_command.h"

static const as_command_t commands[] = {
    {"Sync", 0, AS_BODY_WBXML_OPTIONAL, "AirSync:", "Sync", as_cmd_sync},
    {"SendMail", 1, AS_BODY_WBXML, "ComposeMail:", "SendMail", NULL},
    {"SmartForward", 2, AS_BODY_WBXML, "ComposeMail:", "SmartForward", NULL},
    {"SmartReply", 3, AS_BODY_WBXML, "ComposeMail:", "SmartReply", NULL},
    {"GetAttachment", 4, AS_BODY_NONE, NULL, NULL, as_cmd_getattachment},
    {"FolderSync", 9, AS_BODY_WBXML, "FolderHierarchy:", "FolderSync", as_cmd_foldersync},
    {"FolderCreate", 10, AS_BODY_WBXML, "FolderHierarchy:", "FolderCreate", as_cmd_foldercreate},
    {"FolderDelete", 11, AS_BODY_WBXML, "FolderHierarchy:", "FolderDelete", as_cmd_folderdelete},
    {"FolderUpdate", 12, AS_BODY_WBXML, "FolderHierarchy:", "FolderUpdate", as_cmd_folderupdate},
    {"MoveItems", 13, AS_BODY_WBXML, "Move:", "MoveItems", as_cmd_moveitems},
    {"GetItemEstimate", 14, AS_BODY_WBXML, "GetItemEstimate:", "GetItemEstimate",
     as_cmd_getitemestimate},
    {"MeetingResponse", 15, AS_BODY_WBXML, "MeetingResponse:", "MeetingResponse", NULL},
    {"Search", 16, AS_BODY_WBXML, "Search:", "Search", NULL},
    {"Settings", 17, AS_BODY_WBXML, "Settings:", "Settings", as_cmd_settings},
    {"Ping", 18, AS_BODY_WBXML_OPTIONAL, "Ping:", "Ping", as_cmd_ping},
    {"ItemOperations", 19, AS_BODY_WBXML, "ItemOperations:", "ItemOperations",
     as_cmd_itemoperations},
    {"Provision", 20, AS_BODY_WBXML, "Provision:", "Provision", as_cmd_provision},
    {"ResolveRecipients", 21, AS_BODY_WBXML, "ResolveRecipients:", "ResolveRecipients", NULL},
    {"ValidateCert", 22, AS_BODY_WBXML, "ValidateCert:", "ValidateCert", as_cmd_validatecert},
    {"Find", 23, AS_BODY_WBXML, "Find:", "Find", NULL},
};

#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

const as_command_t *as_command_by_name(const char *name)
{
    size_t i;
    if (!name) {
        return NULL;
    }
    for (i = 0; i < NCOMMANDS; i++) {
        if (!strcmp(commands[i].name, name)) {
            return &commands[i];
        }
    }
    return NULL;
}

const as_command_t *as_command_by_code(int code)
{
    size_t i;
    for (i = 0; i < NCOMMANDS; i++) {
        if (commands[i].code == code) {
            return &commands[i];
        }
    }
    return NULL;
}

const char *as_command_list_implemented(apr_pool_t *p)
{
    const char *list = NULL;
    size_t i;
    for (i = 0; i < NCOMMANDS; i++) {
        if (commands[i].handler) {
            list = list ? apr_pstrcat(p, list, ",", commands[i].name, NULL) : commands[i].name;
        }
    }
    return list ? list : "";
}

/* Commands that MS-ASCMD retires after a version: the last one that has them. */
static const struct {
    const char *name;
    int last;
} retired[] = {
    {"GetAttachment", 121}, /* 14.0+: ItemOperations Fetch */
};

int as_command_in_version(const as_command_t *cmd, int proto)
{
    size_t i;
    for (i = 0; cmd && i < sizeof(retired) / sizeof(retired[0]); i++) {
        if (!strcmp(cmd->name, retired[i].name)) {
            return proto > 0 && proto <= retired[i].last;
        }
    }
    return cmd != NULL;
}
