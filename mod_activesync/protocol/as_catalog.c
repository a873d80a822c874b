/* The command catalogue (MS-ASCMD names, MS-ASHTTP codes). */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_catalog.h"

static const as_command_t commands[] = {
    {"Sync", 0, AS_BODY_WBXML_OPTIONAL, "AirSync:", "Sync"},
    {"SendMail", 1, AS_BODY_WBXML, "ComposeMail:", "SendMail"},
    {"SmartForward", 2, AS_BODY_WBXML, "ComposeMail:", "SmartForward"},
    {"SmartReply", 3, AS_BODY_WBXML, "ComposeMail:", "SmartReply"},
    {"GetAttachment", 4, AS_BODY_NONE, NULL, NULL},
    {"FolderSync", 9, AS_BODY_WBXML, "FolderHierarchy:", "FolderSync"},
    {"FolderCreate", 10, AS_BODY_WBXML, "FolderHierarchy:", "FolderCreate"},
    {"FolderDelete", 11, AS_BODY_WBXML, "FolderHierarchy:", "FolderDelete"},
    {"FolderUpdate", 12, AS_BODY_WBXML, "FolderHierarchy:", "FolderUpdate"},
    {"MoveItems", 13, AS_BODY_WBXML, "Move:", "MoveItems"},
    {"GetItemEstimate", 14, AS_BODY_WBXML, "GetItemEstimate:", "GetItemEstimate"},
    {"MeetingResponse", 15, AS_BODY_WBXML, "MeetingResponse:", "MeetingResponse"},
    {"Search", 16, AS_BODY_WBXML, "Search:", "Search"},
    {"Settings", 17, AS_BODY_WBXML, "Settings:", "Settings"},
    {"Ping", 18, AS_BODY_WBXML_OPTIONAL, "Ping:", "Ping"},
    {"ItemOperations", 19, AS_BODY_WBXML, "ItemOperations:", "ItemOperations"},
    {"Provision", 20, AS_BODY_WBXML, "Provision:", "Provision"},
    {"ResolveRecipients", 21, AS_BODY_WBXML, "ResolveRecipients:", "ResolveRecipients"},
    {"ValidateCert", 22, AS_BODY_WBXML, "ValidateCert:", "ValidateCert"},
    {"Find", 23, AS_BODY_WBXML, "Find:", "Find"},
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
