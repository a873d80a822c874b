/* Settings (MS-ASCMD 2.2.1.18): device information, user information,
 * out-of-office, device password, rights-management templates.
 *
 * Request (namespace "Settings:"), any of these children, each at most once
 * (the reply schema, SettingsResponse.xsd, allows each once), answered in
 * request order:
 *   Oof{Get{BodyType} | Set{...}}
 *       Get: Status 1 and OofState 0 (disabled): there is no out-of-office
 *       store yet.  Set: Status SETTINGS_OOF_SET_STATUS (below).
 *   DeviceInformation{Set{Model, IMEI, FriendlyName, OS, OSLanguage,
 *       PhoneNumber, UserAgent, EnableOutboundSMS, MobileOperator}}
 *       recorded in the device record (as_device_set_info); Status 1.
 *   UserInformation{Get}
 *       the account's primary SMTP address: EmailAddresses{SMTPAddress}
 *       for 12.x/14.0, Accounts{Account{EmailAddresses{PrimarySmtpAddress}}}
 *       for 14.1 and later.  The directory knows no other addresses yet.
 *   DevicePassword{Set{Password}}
 *       accepted (Status 1) and not stored: recovery passwords are off in
 *       the built-in policy (PasswordRecoveryEnabled) and the password is
 *       never logged.
 *   RightsManagementInformation{Get} (14.1 and later)
 *       Status 1 with no templates (no IRM server).
 * Errors: a document that is not Settings, an unknown or repeated child,
 * a RightsManagementInformation without Get (its reply must hold Get)
 * -> <Settings><Status>2</Status></Settings> (protocol error) and nothing
 * recorded.  A malformed part (Oof without Get/Set, a bad DeviceInformation
 * field, UserInformation without Get, ...) -> that part's Status 2; the
 * other parts are answered normally (top-level Status 1).
 */
#include <stddef.h>
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_device.h"
#include "activesync/as_wbxml.h"

#define SET_NS "Settings:"
#define RM_NS  "RightsManagement:"

enum {
    SETTINGS_OK = 1,
    SETTINGS_PROTOCOL = 2,
    SETTINGS_DENIED_BY_POLICY = 7,
};

/* Oof Set while there is no out-of-office store.  The Settings status table
 * (MS-ASCMD 2.2.3.177.15) has no "not supported" value; 7 "denied by
 * policy" says what is true -- this server does not let the device change
 * the out-of-office state -- where 2 "protocol error" (Z-Push's choice)
 * would blame a well-formed request. */
#define SETTINGS_OOF_SET_STATUS SETTINGS_DENIED_BY_POLICY

/* ---- parts -------------------------------------------------------------------------- */

static void add_status(xmlNodePtr parent, int status)
{
    char num[8];
    apr_snprintf(num, sizeof(num), "%d", status);
    as_xml_add(parent, SET_NS, "Status", num);
}

/* The only element child of n, or NULL (also when there are several). */
static xmlNodePtr only_child(xmlNodePtr n)
{
    xmlNodePtr c, found = NULL;
    for (c = n->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            if (found) {
                return NULL;
            }
            found = c;
        }
    }
    return found;
}

static void oof(as_request_t *req, xmlNodePtr in, xmlNodePtr out)
{
    xmlNodePtr op = only_child(in);
    xmlNodePtr o = as_xml_add(out, SET_NS, "Oof", NULL);

    if (as_xml_is(op, SET_NS, "Get")) {
        xmlNodePtr g;
        add_status(o, SETTINGS_OK);
        g = as_xml_add(o, SET_NS, "Get", NULL);
        as_xml_add(g, SET_NS, "OofState", "0");
    } else if (as_xml_is(op, SET_NS, "Set")) {
        as_log(req->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS,
               "Settings: Oof Set refused (no out-of-office store)");
        add_status(o, SETTINGS_OOF_SET_STATUS);
    } else {
        add_status(o, SETTINGS_PROTOCOL);
    }
}

static apr_status_t device_information(as_request_t *req, xmlNodePtr in, xmlNodePtr out)
{
    xmlNodePtr o = as_xml_add(out, SET_NS, "DeviceInformation", NULL);
    as_device_info_t info;
    as_device_contact_t c;
    const char *why = NULL;
    apr_status_t rv;

    if (as_settings_device_info(req->pool, only_child(in), &info, &why) != APR_SUCCESS) {
        as_log(req->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS, "Settings: %s", why);
        add_status(o, SETTINGS_PROTOCOL);
        return APR_SUCCESS;
    }
    as_cmd_contact(req, &c);
    if ((rv = as_device_set_info(req->db, req->pool, &c, &info)) != APR_SUCCESS) {
        return rv;
    }
    add_status(o, SETTINGS_OK);
    return APR_SUCCESS;
}

static void user_information(as_request_t *req, xmlNodePtr in, xmlNodePtr out)
{
    xmlNodePtr o = as_xml_add(out, SET_NS, "UserInformation", NULL);
    xmlNodePtr g, e;

    if (!as_xml_is(only_child(in), SET_NS, "Get")) {
        add_status(o, SETTINGS_PROTOCOL);
        return;
    }
    add_status(o, SETTINGS_OK);
    g = as_xml_add(o, SET_NS, "Get", NULL);
    if (as_protocol_number(req->protocol_version) >= 141) {
        xmlNodePtr a = as_xml_add(as_xml_add(g, SET_NS, "Accounts", NULL), SET_NS, "Account", NULL);
        e = as_xml_add(a, SET_NS, "EmailAddresses", NULL);
        as_xml_add(e, SET_NS, "PrimarySmtpAddress", req->account);
    } else {
        e = as_xml_add(g, SET_NS, "EmailAddresses", NULL);
        as_xml_add(e, SET_NS, "SMTPAddress", req->account);
    }
}

static void device_password(as_request_t *req, xmlNodePtr in, xmlNodePtr out)
{
    xmlNodePtr o = as_xml_add(out, SET_NS, "DevicePassword", NULL);
    xmlNodePtr set = only_child(in), pw = set ? only_child(set) : NULL;
    apr_size_t len = 0;

    if (!as_xml_is(set, SET_NS, "Set") || !as_xml_is(pw, SET_NS, "Password") ||
        as_cmd_has_element_children(pw) || !as_xml_text(req->pool, pw, &len) || len > 255) {
        add_status(o, SETTINGS_PROTOCOL);
        return;
    }
    add_status(o, SETTINGS_OK);
}

static void rights_management(xmlNodePtr out)
{
    xmlNodePtr o = as_xml_add(out, SET_NS, "RightsManagementInformation", NULL);
    add_status(o, SETTINGS_OK);
    as_xml_add(as_xml_add(o, SET_NS, "Get", NULL), RM_NS, "RightsManagementTemplates", NULL);
}

/* ---- the command ---------------------------------------------------------------------- */

static apr_status_t protocol_error(as_request_t *req, as_response_t *resp, const char *why)
{
    xmlNodePtr root;
    as_log(req->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS, "Settings: protocol error: %s", why);
    if (resp->doc) {
        xmlFreeDoc(resp->doc);
    }
    resp->doc = as_reply_new(SET_NS, "Settings", &root);
    if (!resp->doc) {
        return APR_ENOMEM;
    }
    add_status(root, SETTINGS_PROTOCOL);
    return APR_SUCCESS;
}

static const char *const parts[] = {"Oof", "DeviceInformation", "UserInformation", "DevicePassword",
                                    "RightsManagementInformation"};
#define NPARTS (sizeof(parts) / sizeof(parts[0]))

apr_status_t as_cmd_settings(as_request_t *req, as_response_t *resp)
{
    xmlNodePtr in = req->body ? xmlDocGetRootElement(req->body) : NULL, c, out;
    unsigned seen = 0;
    size_t i;

    if (!as_xml_is(in, SET_NS, "Settings")) {
        return protocol_error(req, resp, "the request is not a Settings document");
    }
    /* Check the shape first, so that a malformed document records nothing. */
    for (c = in->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        for (i = 0; i < NPARTS; i++) {
            if (as_xml_is(c, SET_NS, parts[i])) {
                break;
            }
        }
        /* RightsManagementInformation exists from 14.1 on (MS-ASCMD
         * 2.2.3.151); for older versions it is an unknown element. */
        if (i == NPARTS || (i == NPARTS - 1 && as_protocol_number(req->protocol_version) < 141)) {
            return protocol_error(req, resp, "an unknown element in Settings");
        }
        if (seen & (1u << i)) {
            return protocol_error(req, resp, "a repeated element in Settings");
        }
        /* The reply schema demands Get in RightsManagementInformation: a
         * malformed one can only be answered as a whole. */
        if (i == NPARTS - 1 && !as_xml_is(only_child(c), SET_NS, "Get")) {
            return protocol_error(req, resp, "RightsManagementInformation without Get");
        }
        seen |= 1u << i;
    }
    if (!seen) {
        return protocol_error(req, resp, "an empty Settings request");
    }
    if (!req->db && (seen & (1u << 1))) {
        return as_cmd_db_failure(req, resp, AS_DB_EUNAVAIL);
    }
    resp->doc = as_reply_new(SET_NS, "Settings", &out);
    if (!resp->doc) {
        return APR_ENOMEM;
    }
    add_status(out, SETTINGS_OK);
    for (c = in->children; c; c = c->next) {
        if (as_xml_is(c, SET_NS, "Oof")) {
            oof(req, c, out);
        } else if (as_xml_is(c, SET_NS, "DeviceInformation")) {
            apr_status_t rv = device_information(req, c, out);
            if (rv != APR_SUCCESS) {
                return as_cmd_db_failure(req, resp, rv);
            }
        } else if (as_xml_is(c, SET_NS, "UserInformation")) {
            user_information(req, c, out);
        } else if (as_xml_is(c, SET_NS, "DevicePassword")) {
            device_password(req, c, out);
        } else if (as_xml_is(c, SET_NS, "RightsManagementInformation")) {
            rights_management(out);
        }
    }
    return APR_SUCCESS;
}
