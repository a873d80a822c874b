/* Provision (MS-ASPROV; MS-ASCMD 2.2.1.14): policy download and
 * acknowledgement, remote wipe, DeviceInformation (14.1).  The decisions
 * are as_provision_run()'s (as_provision.c); this file reads the request
 * and writes the reply.
 *
 * Requests (namespace "Provision:"):
 *   phase 1   Provision{[settings:DeviceInformation{Set{...}}] (14.1+),
 *                       Policies{Policy{PolicyType}}}
 *   phase 2   Provision{Policies{Policy{PolicyType, PolicyKey, Status}}}
 *   wipe ack  Provision{RemoteWipe{Status}} | Provision{AccountOnlyRemoteWipe{Status}}
 *   info      Provision{settings:DeviceInformation{Set{...}}}
 * Reply (ProvisionResponse.xsd order):
 *   Provision{[settings:DeviceInformation{settings:Status}], Status,
 *             [Policies{Policy{PolicyType, Status, [PolicyKey],
 *                              [Data{EASProvisionDoc}]}}],
 *             [RemoteWipe | AccountOnlyRemoteWipe]}
 *   A pending wipe answers any Provision that is not a wipe acknowledgement
 *   with Status 1 and RemoteWipe (AccountOnlyRemoteWipe for 16.1), without
 *   Policies.
 * Malformed requests (wrong root, unknown or repeated elements, a Policy
 * without PolicyType, an acknowledgement without a numeric PolicyKey or
 * Status, a wipe acknowledgement without Status 1 or 2, nothing to do,
 * DeviceInformation from a device speaking a version before 14.1) answer
 * Provision Status 2 and change nothing.
 */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "as_cmds.h"
#include "activesync/as_provision.h"

#define PROV_NS "Provision:"
#define SET_NS  "Settings:"

/* Unsigned decimal of at most 10 digits fitting 32 bits; -1 otherwise. */
static long long parse_u32(const char *s)
{
    long long v = 0;
    int n = 0;
    if (!s || !*s) {
        return -1;
    }
    for (; *s; s++, n++) {
        if (*s < '0' || *s > '9' || n >= 10) {
            return -1;
        }
        v = v * 10 + (*s - '0');
    }
    return v > 0xFFFFFFFFLL ? -1 : v;
}

/* Text of the only `name` child of parent (NULL when absent, repeated, or
 * not a leaf); *dup set when it occurs more than once. */
static const char *leaf(apr_pool_t *p, xmlNodePtr parent, const char *name, int *bad)
{
    xmlNodePtr c, found = NULL;
    for (c = parent->children; c; c = c->next) {
        if (as_xml_is(c, PROV_NS, name)) {
            if (found) {
                *bad = 1;
                return NULL;
            }
            found = c;
        }
    }
    if (!found) {
        return NULL;
    }
    for (c = found->children; c; c = c->next) {
        if (c->type == XML_ELEMENT_NODE) {
            *bad = 1;
            return NULL;
        }
    }
    return as_xml_text(p, found, NULL);
}

/* Are all element children of n in PROV_NS and among names (NULL-ended)? */
static int only_children(xmlNodePtr n, const char *const *names)
{
    xmlNodePtr c;
    for (c = n->children; c; c = c->next) {
        const char *const *nm;
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        for (nm = names; *nm; nm++) {
            if (as_xml_is(c, PROV_NS, *nm)) {
                break;
            }
        }
        if (!*nm) {
            return 0;
        }
    }
    return 1;
}

typedef struct parsed_t {
    as_provreq_t req;
    as_device_info_t info;
    const char *policy_type; /* as sent, echoed in the reply */
} parsed_t;

static const char *parse(as_request_t *r, parsed_t *pp)
{
    static const char *const policy_children[] = {"PolicyType", "PolicyKey", "Status", "Data",
                                                  NULL};
    static const char *const wipe_children[] = {"Status", NULL};
    xmlNodePtr root = r->body ? xmlDocGetRootElement(r->body) : NULL, c;
    xmlNodePtr info = NULL, policies = NULL, wipe = NULL, policy = NULL;
    as_provreq_t *req = &pp->req;
    int bad = 0;

    if (!as_xml_is(root, PROV_NS, "Provision")) {
        return "the request is not a Provision document";
    }
    for (c = root->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (as_xml_is(c, SET_NS, "DeviceInformation")) {
            if (info) {
                return "two DeviceInformation elements";
            }
            info = c;
        } else if (as_xml_is(c, PROV_NS, "Policies")) {
            if (policies) {
                return "two Policies elements";
            }
            policies = c;
        } else if (as_xml_is(c, PROV_NS, "RemoteWipe") ||
                   as_xml_is(c, PROV_NS, "AccountOnlyRemoteWipe")) {
            if (wipe) {
                return "two wipe acknowledgements";
            }
            wipe = c;
        } else {
            return "an unexpected element in Provision";
        }
    }
    if (info) {
        xmlNodePtr set = NULL;
        const char *why = NULL;
        /* MS-ASPROV 2.2.2.53: only 14.1 and later carry it here; older
         * versions send DeviceInformation with Settings. */
        if (as_protocol_number(r->protocol_version) < 141) {
            return "DeviceInformation in Provision before EAS 14.1";
        }
        for (c = info->children; c; c = c->next) {
            if (c->type == XML_ELEMENT_NODE) {
                if (set) {
                    return "DeviceInformation with more than a Set";
                }
                set = c;
            }
        }
        if (as_settings_device_info(r->pool, set, &pp->info, &why) != APR_SUCCESS) {
            return why;
        }
        req->info = &pp->info;
    }
    if (wipe) {
        const char *st;
        if (policies) {
            return "a wipe acknowledgement together with Policies";
        }
        if (!only_children(wipe, wipe_children) || !(st = leaf(r->pool, wipe, "Status", &bad)) ||
            bad || (strcmp(st, "1") && strcmp(st, "2"))) {
            return "a wipe acknowledgement without Status 1 or 2";
        }
        req->kind = AS_PROVREQ_WIPE_ACK;
        req->ack_status = st[0] - '0';
        req->wipe_account_only = as_xml_is(wipe, PROV_NS, "AccountOnlyRemoteWipe");
        return NULL;
    }
    if (!policies) {
        if (!info) {
            return "nothing to do (no Policies, no wipe acknowledgement)";
        }
        req->kind = AS_PROVREQ_INFO_ONLY;
        return NULL;
    }
    for (c = policies->children; c; c = c->next) {
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        if (!as_xml_is(c, PROV_NS, "Policy") || policy) {
            return "Policies must hold exactly one Policy";
        }
        policy = c;
    }
    if (!policy || !only_children(policy, policy_children)) {
        return "Policies must hold exactly one Policy of PolicyType, PolicyKey, Status";
    }
    pp->policy_type = leaf(r->pool, policy, "PolicyType", &bad);
    if (!pp->policy_type || bad || !*pp->policy_type || strlen(pp->policy_type) > 64) {
        return "a Policy without a valid PolicyType";
    }
    req->policy_type_ok = !strcmp(pp->policy_type, AS_POLICY_TYPE_WBXML);
    {
        const char *key = leaf(r->pool, policy, "PolicyKey", &bad);
        const char *st = leaf(r->pool, policy, "Status", &bad);
        long long k, s;
        if (bad) {
            return "a repeated or malformed PolicyKey or Status";
        }
        if (!st) {
            req->kind = AS_PROVREQ_POLICY; /* phase 1; a PolicyKey sent here is ignored */
            return NULL;
        }
        if ((k = parse_u32(key)) < 0 || (s = parse_u32(st)) < 0 || s > 255) {
            return "an acknowledgement without a numeric PolicyKey and Status";
        }
        req->kind = AS_PROVREQ_ACK;
        req->ack_key = (apr_uint32_t)k;
        req->ack_status = (int)s;
    }
    return NULL;
}

static void add_num(xmlNodePtr parent, const char *ns, const char *name, unsigned long v)
{
    char num[24];
    apr_snprintf(num, sizeof(num), "%lu", v);
    as_xml_add(parent, ns, name, num);
}

static apr_status_t reply(as_request_t *r, as_response_t *resp, const parsed_t *pp,
                          const as_provres_t *res)
{
    xmlNodePtr root;

    resp->doc = as_reply_new(PROV_NS, "Provision", &root);
    if (!resp->doc) {
        return APR_ENOMEM;
    }
    if (res->info_status) {
        add_num(as_xml_add(root, SET_NS, "DeviceInformation", NULL), SET_NS, "Status",
                (unsigned long)res->info_status);
    }
    add_num(root, PROV_NS, "Status", (unsigned long)res->status);
    if (res->wipe) {
        as_xml_add(root, PROV_NS, res->wipe == 2 ? "AccountOnlyRemoteWipe" : "RemoteWipe", NULL);
        return APR_SUCCESS;
    }
    if (res->policy_status) {
        xmlNodePtr pol =
            as_xml_add(as_xml_add(root, PROV_NS, "Policies", NULL), PROV_NS, "Policy", NULL);
        as_xml_add(pol, PROV_NS, "PolicyType", pp->policy_type);
        add_num(pol, PROV_NS, "Status", (unsigned long)res->policy_status);
        if (res->key) {
            add_num(pol, PROV_NS, "PolicyKey", (unsigned long)res->key);
        }
        if (res->send_doc) {
            as_policy_add_doc(as_xml_add(pol, PROV_NS, "Data", NULL), &res->policy,
                              r->protocol_version);
        }
    }
    return APR_SUCCESS;
}

apr_status_t as_cmd_provision(as_request_t *r, as_response_t *resp)
{
    parsed_t pp;
    as_provres_t *res = apr_pcalloc(r->pool, sizeof(*res));
    as_device_contact_t c;
    const char *why;
    apr_status_t rv;

    memset(&pp, 0, sizeof(pp));
    if ((why = parse(r, &pp)) != NULL) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_INFO, APR_SUCCESS, "Provision: protocol error: %s", why);
        res->status = 2;
        return reply(r, resp, &pp, res);
    }
    if (!r->db) {
        return as_cmd_db_failure(r, resp, AS_DB_EUNAVAIL);
    }
    as_cmd_contact(r, &c);
    pp.req.account = c.account;
    pp.req.device_key = c.device_key;
    pp.req.device_type = c.device_type;
    pp.req.user_agent = c.user_agent;
    pp.req.protocol_version = c.protocol_version;
    if ((rv = as_provision_run(r->db, r->pool, &pp.req, res)) != APR_SUCCESS) {
        return as_cmd_db_failure(r, resp, rv);
    }
    as_log(r->log, AS_LOG_MARK, AS_LOG_DEBUG, APR_SUCCESS, "Provision: %s",
           res->log ? res->log : "done");
    return reply(r, resp, &pp, res);
}
