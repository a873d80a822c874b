/* Helpers several command handlers share: database failures, the device
 * identity of a request, DeviceInformation (Provision, Settings), body
 * preferences (ItemOperations, Sync) and attachment references
 * (ItemOperations, GetAttachment).  Declared in as_cmds.h. */
#include <stddef.h>
#include <string.h>

#include "as_cmds.h"
#include "activesync/as_device.h"
#include "activesync/as_mime.h"
#include "activesync/as_sync_engine.h"

#define SET_NS  "Settings:"
#define BASE_NS "AirSyncBase:"

apr_status_t as_cmd_db_failure(as_request_t *req, as_response_t *resp, apr_status_t rv)
{
    if (rv == AS_DB_EUNAVAIL || rv == AS_DB_EBUSY) {
        as_log(req->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS, "%s: %s (503)",
               req->line && req->line->cmd ? req->line->cmd : "command", as_db_strerror(rv));
        if (resp->doc) {
            xmlFreeDoc(resp->doc);
            resp->doc = NULL;
        }
        resp->http_status = 503;
        if (resp->headers) {
            apr_table_setn(resp->headers, "Retry-After", "5");
        }
        return APR_SUCCESS;
    }
    return rv;
}

void as_cmd_contact(const as_request_t *req, as_device_contact_t *c)
{
    memset(c, 0, sizeof(*c));
    c->account = req->account;
    c->device_key = req->line ? req->line->device_key : NULL;
    c->device_type = req->line ? req->line->device_type : NULL;
    c->user_agent = req->user_agent;
    c->protocol_version = req->protocol_version;
    c->command = req->line ? req->line->cmd : NULL;
}

/* ---- DeviceInformation (Provision, Settings) ---- */

int as_cmd_has_element_children(xmlNodePtr n)
{
    xmlNodePtr c;
    for (c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            return 1;
        }
    }
    return 0;
}

static const struct {
    const char *name;
    size_t off;
} info_fields[] = {
    {"Model", offsetof(as_device_info_t, model)},
    {"IMEI", offsetof(as_device_info_t, imei)},
    {"FriendlyName", offsetof(as_device_info_t, friendly_name)},
    {"OS", offsetof(as_device_info_t, os)},
    {"OSLanguage", offsetof(as_device_info_t, os_language)},
    {"PhoneNumber", offsetof(as_device_info_t, phone_number)},
    {"UserAgent", offsetof(as_device_info_t, user_agent)},
    {"MobileOperator", offsetof(as_device_info_t, mobile_operator)},
};
#define NINFO (sizeof(info_fields) / sizeof(info_fields[0]))

apr_status_t as_settings_device_info(apr_pool_t *p, xmlNodePtr set, as_device_info_t *info,
                                     const char **why)
{
    xmlNodePtr c;
    size_t i;

    memset(info, 0, sizeof(*info));
    info->enable_outbound_sms = -1;
    if (!as_xml_is(set, SET_NS, "Set")) {
        *why = "DeviceInformation without Set";
        return APR_EINVAL;
    }
    for (c = set->children; c; c = c->next) {
        const char *text;
        apr_size_t len;
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (!c->ns || strcmp((const char *)c->ns->href, SET_NS) || as_cmd_has_element_children(c) ||
            !(text = as_xml_text(p, c, &len))) {
            *why = "a malformed DeviceInformation field";
            return APR_EINVAL;
        }
        if (!strcmp((const char *)c->name, "EnableOutboundSMS")) {
            if (info->enable_outbound_sms >= 0 || (strcmp(text, "0") && strcmp(text, "1"))) {
                *why = "EnableOutboundSMS is not 0 or 1, or repeated";
                return APR_EINVAL;
            }
            info->enable_outbound_sms = text[0] - '0';
            continue;
        }
        for (i = 0; i < NINFO; i++) {
            if (!strcmp((const char *)c->name, info_fields[i].name)) {
                break;
            }
        }
        if (i == NINFO) {
            *why = "an unknown element in DeviceInformation";
            return APR_EINVAL;
        }
        if (*(const char **)((char *)info + info_fields[i].off) || len > AS_DEVICE_FIELD_MAX) {
            *why = "a DeviceInformation field repeated or longer than 1024 bytes";
            return APR_EINVAL;
        }
        *(const char **)((char *)info + info_fields[i].off) = text;
    }
    return APR_SUCCESS;
}

/* ---- ItemOperations, Sync, GetAttachment ---- */

int as_cmd_bodypref(apr_pool_t *p, xmlNodePtr e, struct as_mime_bodypref_t *bp)
{
    xmlNodePtr c;
    long v;
    memset(bp, 0, sizeof(*bp));
    if ((v = as_sync_number(p, as_xml_child(e, BASE_NS, "Type"), -1, 8)) < 1) {
        return -1;
    }
    bp->type = (int)v;
    if ((v = as_sync_number(p, as_xml_child(e, BASE_NS, "TruncationSize"), 0, 999999999L)) < 0) {
        return -1;
    }
    bp->truncation = (apr_size_t)v;
    v = 0;
    if ((c = as_xml_child(e, BASE_NS, "AllOrNone")) != NULL) {
        const char *t = as_sync_text(p, c); /* an empty element means true */
        if (!t || (*t && (v = as_sync_number(p, c, 0, 1)) < 0)) {
            return -1;
        }
        bp->all_or_none = !*t || v == 1;
    }
    if ((v = as_sync_number(p, as_xml_child(e, BASE_NS, "Preview"), 0, 255)) < 0) {
        return -1;
    }
    bp->preview = (int)v;
    return 0;
}

apr_status_t as_cmd_attachment_open(apr_pool_t *p, const char *ref, as_cmd_store_fn *open_store,
                                    void *ctx, as_store_msg_t **msg, const char **part,
                                    int *store_failed)
{
    const char *folder = NULL, *item = NULL;
    apr_status_t rv = APR_SUCCESS;
    as_store_t *st;

    *msg = NULL;
    *store_failed = 0;
    if (as_mime_fileref_parse(p, ref, &folder, &item, part) != APR_SUCCESS) {
        return APR_EINVAL;
    }
    if (!(st = open_store(ctx, &rv))) {
        *store_failed = rv != APR_ENOENT;
        return rv == APR_SUCCESS ? APR_ENOENT : rv;
    }
    rv = as_store_open_item(st, folder, item, p, msg);
    /* a well-formed id the store refuses names nothing here either */
    return rv == APR_EINVAL ? APR_ENOENT : rv;
}
