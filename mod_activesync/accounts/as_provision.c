/* Provisioning: the per-request gate and the Provision exchange's state
 * changes.  See as_provision.h. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_catalog.h"
#include "activesync/as_db_memo.h"
#include "activesync/as_provision.h"
#include "activesync/as_xml.h"
#include "as_device_record.h"

/* ---- policy key of a request ------------------------------------------------------------ */

apr_uint32_t as_policy_key_from_request(const char *header, int has_key, apr_uint32_t key,
                                        int *present, int *valid)
{
    *valid = 1;
    if (!header) {
        *present = has_key;
        return has_key ? key : 0;
    }
    *present = 1;
    {
        const char *s = header;
        apr_uint64_t v = 0;
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (!*s) {
            *present = 0; /* an empty header is no key */
            return 0;
        }
        for (; *s >= '0' && *s <= '9'; s++) {
            v = v * 10 + (apr_uint64_t)(*s - '0');
            if (v > 0xFFFFFFFFu) {
                break;
            }
        }
        while (*s == ' ' || *s == '\t') {
            s++;
        }
        if (*s || v > 0xFFFFFFFFu) {
            *valid = 0;
            return 0;
        }
        return (apr_uint32_t)v;
    }
}

int as_provision_exempt(const char *command)
{
    return command && !strcmp(command, "Provision");
}

/* ---- in-band status documents ------------------------------------------------------------ */

xmlDocPtr as_provision_status_doc(const char *command, int status)
{
    const as_command_t *c = as_command_by_name(command);
    xmlNodePtr root;
    xmlDocPtr doc;
    char num[16];

    /* Replies without a top-level Status: MeetingResponse (Result/Status),
     * GetAttachment (no WBXML at all). */
    if (!c || !c->root_ns || !strcmp(c->name, "MeetingResponse")) {
        return NULL;
    }
    if (!(doc = as_reply_new(c->root_ns, c->root_name, &root))) {
        return NULL;
    }
    apr_snprintf(num, sizeof(num), "%d", status);
    if (!as_xml_add(root, c->root_ns, "Status", num)) {
        xmlFreeDoc(doc);
        return NULL;
    }
    return doc;
}

/* ---- the gate ---------------------------------------------------------------------------------
 */

typedef struct gate_op_t {
    apr_pool_t *p;
    const as_gate_in_t *in;
    as_gate_t *out;
    as_device_contact_t contact;
    int write, need_write;
    int had_record; /* the device's record was read (not made) */
} gate_op_t;

static const char *domain_of(const char *account)
{
    const char *at = strrchr(account, '@');
    return at ? at + 1 : "";
}

static int account_policy(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *account,
                          as_policy_t *pol)
{
    as_dir_account_t a;
    int rc = as_dir_txn_resolve(db, txn, p, account, NULL, 0, &a);
    if (rc == 0) {
        as_policy_resolve_account(&a, pol);
    }
    return rc;
}

/* Decide; returns 1 when the device record changed (prov_demands). */
static int decide(gate_op_t *op, as_db_t *db, DB_TXN *txn, const apr_array_header_t *rules, int *rc)
{
    const as_gate_in_t *in = op->in;
    as_gate_t *out = op->out;
    as_device_t *d = &out->device;
    int version = as_protocol_number(in->protocol_version);
    int present, valid, status;
    apr_uint32_t key, expected;
    const char *reason;
    as_policy_t *pol;

    *rc = 0;
    out->verdict = AS_GATE_SERVE;
    out->http_status = 200;
    out->eas_status = 0;
    out->reason = NULL;
    if (as_device_blocked(op->p, d, rules, &reason)) {
        out->verdict = AS_GATE_BLOCKED;
        out->http_status = 403;
        out->reason = reason;
        return 0;
    }
    if (d->wipe == AS_WIPE_ACKED) {
        out->verdict = AS_GATE_WIPED;
        out->http_status = 403;
        out->reason = "the device acknowledged a remote wipe; it is refused until an "
                      "administrator removes it";
        return 0;
    }
    if (d->wipe == AS_WIPE_REQUESTED) {
        if (as_provision_exempt(in->command)) {
            return 0;
        }
        if (d->wipe_account_only && version < 161) {
            out->verdict = AS_GATE_BLOCKED;
            out->http_status = 403;
            out->reason = apr_psprintf(op->p,
                                       "an account-only wipe is pending but the device now "
                                       "speaks EAS %s, which cannot carry it",
                                       in->protocol_version ? in->protocol_version : "?");
            return 0;
        }
        status = AS_STATUS_REMOTE_WIPE;
        out->reason = "a remote wipe is pending: the device must send Provision";
        goto demand;
    }
    if (as_provision_exempt(in->command) || in->mode == AS_PROVISIONING_OFF) {
        return 0;
    }
    key = as_policy_key_from_request(in->policy_key_header, in->has_key, in->key, &present, &valid);
    if (in->mode == AS_PROVISIONING_LOOSE && !present && d->prov_state != AS_PROV_DONE) {
        return 0;
    }
    pol = apr_palloc(op->p, sizeof(*pol));
    if ((*rc = account_policy(db, txn, op->p, in->account, pol)) != 0) {
        return 0;
    }
    expected = as_policy_key(pol, d->nonce);
    if (d->prov_state == AS_PROV_DONE && present && valid && key == expected) {
        return 0;
    }
    if (!present || (valid && key == 0)) {
        status = AS_STATUS_NOT_PROVISIONED;
        out->reason = "the device is not provisioned (no policy key)";
    } else if (valid && d->policy_key && key == d->policy_key) {
        status = AS_STATUS_POLICY_REFRESH;
        out->reason = "the policy changed since the device provisioned";
    } else {
        status = AS_STATUS_INVALID_POLICY;
        out->reason = "the device sent a policy key this server did not issue for the current "
                      "policy";
    }
demand:
    out->verdict = AS_GATE_PROVISION;
    out->eas_status = status;
    if (version < 140) {
        out->http_status = 449;
        return 0;
    }
    out->http_status = 200;
    if (in->inband_449 == AS_INBAND_AND_449 ||
        (in->inband_449 == AS_INBAND_AUTO && d->prov_demands >= AS_GATE_449_AFTER)) {
        out->http_status = 449;
    }
    if (in->inband_449 == AS_INBAND_AUTO && d->prov_demands < AS_GATE_449_AFTER) {
        d->prov_demands++;
        return 1;
    }
    return 0;
}

/* A device without a record: refuse it when the account already has
 * max_devices.  The read pass only counts (a refused device costs no write);
 * the write pass takes the account's creation lock first, so the count it
 * reads cannot change before the commit. */
static int admit_new_device(gate_op_t *op, as_db_t *db, DB_TXN *txn)
{
    const as_gate_in_t *in = op->in;
    as_gate_t *out = op->out;
    unsigned n = 0;
    int rc;

    out->verdict = AS_GATE_SERVE;
    if (!in->max_devices) {
        return 0;
    }
    if (op->write &&
        (rc = as_device_txn_lock_account(db, txn, in->account, op->contact.now)) != 0) {
        return rc;
    }
    if ((rc = as_device_txn_count(db, txn, in->account, in->max_devices, &n)) != 0) {
        return rc;
    }
    if (op->write) {
        as_db_test_hook(db, "device-counted");
    }
    if (n < in->max_devices) {
        return 0;
    }
    out->verdict = AS_GATE_DEVICE_LIMIT;
    out->eas_status = AS_STATUS_MAX_DEVICES;
    out->http_status = 403;
    out->reason = apr_psprintf(op->p,
                               "the account already has %u devices, the most ActiveSyncMaxDevices "
                               "allows; remove one (activesync-admin device remove) to admit "
                               "another",
                               in->max_devices);
    /* the read pass may have seen a device that the write pass refuses */
    op->need_write = 0;
    return op->write ? AS_DB_ROLLBACK : 0;
}

static int txn_gate(as_db_t *db, DB_TXN *txn, void *baton)
{
    gate_op_t *op = baton;
    const as_gate_in_t *in = op->in;
    as_device_t *d = &op->out->device;
    apr_array_header_t *rules;
    int rc, dirty;

    op->need_write = 0;
    rc = as_device_txn_get(db, txn, op->p, in->account, in->device_key, op->write, d);
    op->had_record = rc == 0;
    if (rc == DB_NOTFOUND) {
        if ((rc = admit_new_device(op, db, txn)) != 0 || op->out->verdict != AS_GATE_SERVE) {
            return rc;
        }
        as_device_init(op->p, d, &op->contact);
        dirty = 1;
    } else if (rc != 0) {
        return rc;
    } else {
        dirty = as_device_contact_update(op->p, d, &op->contact);
    }
    if ((rc = as_device_txn_rules(db, txn, op->p, domain_of(in->account), &rules)) != 0) {
        return rc;
    }
    dirty |= decide(op, db, txn, rules, &rc);
    if (rc != 0) {
        return rc;
    }
    if (!dirty) {
        return 0;
    }
    if (!op->write) {
        op->need_write = 1;
        return AS_DB_ROLLBACK;
    }
    return as_device_txn_put(db, txn, d);
}

/* ---- the gate's memo ------------------------------------------------------------------------
 * A device that is served and whose record needs no write (no new contact
 * to record, nothing demanded) gets the same answer from the same request
 * inputs while the database is unchanged (as_db_memo.h) and until its
 * contact is due again (AS_DEVICE_TOUCH_SEC after the last one recorded):
 * then the read transaction is skipped.  Every refusal and every write
 * goes through the database as before. */
#define GATE_MEMO_TAG "\001gate:"

static int memo_add(unsigned char *key, size_t *n, const void *v, size_t len)
{
    if (*n + len > AS_DB_MEMO_KEY_MAX) {
        return 0;
    }
    memcpy(key + *n, v, len);
    *n += len;
    return 1;
}

/* A string with its length, or 0xFFFF for NULL: no two inputs alike. */
static int memo_add_str(unsigned char *key, size_t *n, const char *s)
{
    size_t l = s ? strlen(s) : 0;
    unsigned char hdr[2];
    if (l > 0xFFFE) {
        return 0;
    }
    hdr[0] = s ? (unsigned char)(l >> 8) : 0xFF;
    hdr[1] = s ? (unsigned char)l : 0xFF;
    return memo_add(key, n, hdr, 2) && memo_add(key, n, s ? s : "", l);
}

/* Every input of the gate; 0 when too long to be memoised. */
static size_t gate_memo_key(const as_gate_in_t *in, unsigned char *key)
{
    size_t n = 0;
    int nums[3] = {in->has_key, (int)in->mode, (int)in->inband_449};
    if (memo_add(key, &n, GATE_MEMO_TAG, sizeof(GATE_MEMO_TAG) - 1) &&
        memo_add_str(key, &n, in->account) && memo_add_str(key, &n, in->device_key) &&
        memo_add_str(key, &n, in->device_type) && memo_add_str(key, &n, in->user_agent) &&
        memo_add_str(key, &n, in->protocol_version) && memo_add_str(key, &n, in->command) &&
        memo_add_str(key, &n, in->policy_key_header) && memo_add(key, &n, nums, sizeof(nums)) &&
        memo_add(key, &n, &in->key, sizeof(in->key)) &&
        memo_add(key, &n, &in->max_devices, sizeof(in->max_devices))) {
        return n;
    }
    return 0;
}

static int gate_memo_get(as_db_t *db, apr_pool_t *p, const as_gate_in_t *in, apr_time_t now,
                         const unsigned char *key, size_t kl, as_gate_t *out)
{
    size_t len = AS_DB_MEMO_VAL_MAX;
    unsigned char *rec = apr_palloc(p, len);

    if (!kl || !as_db_memo_get(db, key, kl, rec, &len, now) ||
        as_devrec_decode(p, rec, len, &out->device) != 0) {
        memset(out, 0, sizeof(*out));
        return 0;
    }
    out->device.account = apr_pstrdup(p, in->account);
    out->device.device_id = apr_pstrdup(p, in->device_key);
    out->verdict = AS_GATE_SERVE;
    out->http_status = 200;
    return 1;
}

static void gate_memo_put(const as_db_mark_t *mark, const unsigned char *key, size_t kl,
                          const as_device_t *d)
{
    size_t len;
    unsigned char *rec;

    if (!kl || !(rec = as_devrec_encode(d, &len))) {
        return;
    }
    as_db_memo_put(mark, key, kl, rec, len,
                   d->last_contact + apr_time_from_sec(AS_DEVICE_TOUCH_SEC));
    free(rec);
}

apr_status_t as_provision_gate(as_db_t *db, apr_pool_t *p, const as_gate_in_t *in, as_gate_t *out)
{
    gate_op_t op;
    apr_status_t rv;
    unsigned char key[AS_DB_MEMO_KEY_MAX];
    size_t kl = gate_memo_key(in, key);
    as_db_mark_t mark;

    memset(out, 0, sizeof(*out));
    memset(&op, 0, sizeof(op));
    op.p = p;
    op.in = in;
    op.out = out;
    op.contact.account = in->account;
    op.contact.device_key = in->device_key;
    op.contact.device_type = in->device_type;
    op.contact.user_agent = in->user_agent;
    op.contact.protocol_version = in->protocol_version;
    op.contact.command = in->command;
    op.contact.now = in->now ? in->now : apr_time_now();
    if (gate_memo_get(db, p, in, op.contact.now, key, kl, out)) {
        return APR_SUCCESS;
    }
    as_db_mark(db, &mark); /* before the read (as_db_memo.h) */
    rv = as_db_txn(db, AS_DB_TXN_READ, txn_gate, &op);
    if (rv == APR_SUCCESS && !op.need_write && op.had_record && out->verdict == AS_GATE_SERVE) {
        gate_memo_put(&mark, key, kl, &out->device);
    }
    if (rv == APR_SUCCESS && op.need_write) {
        op.write = 1;
        rv = as_db_txn(db, 0, txn_gate, &op);
    }
    if (rv != APR_SUCCESS) {
        return rv;
    }
    if (out->verdict == AS_GATE_DEVICE_LIMIT && as_protocol_number(in->protocol_version) >= 140 &&
        (out->doc = as_provision_status_doc(in->command, AS_STATUS_MAX_DEVICES)) != NULL) {
        out->http_status = 200;
    }
    if (out->verdict == AS_GATE_PROVISION && as_protocol_number(in->protocol_version) >= 140) {
        out->doc = as_provision_status_doc(in->command, out->eas_status);
        if (!out->doc) {
            out->http_status = 449;
        }
    }
    return APR_SUCCESS;
}

/* ---- the Provision exchange ---------------------------------------------------------------------
 */

typedef struct prov_op_t {
    apr_pool_t *p;
    const as_provreq_t *req;
    as_provres_t *res;
} prov_op_t;

static apr_uint32_t temp_key(apr_uint32_t avoid1, apr_uint32_t avoid2)
{
    apr_uint32_t v;
    do {
        v = as_random_u32();
    } while (v == avoid1 || v == avoid2);
    return v;
}

static int txn_provision(as_db_t *db, DB_TXN *txn, void *baton)
{
    prov_op_t *op = baton;
    const as_provreq_t *req = op->req;
    as_provres_t *res = op->res;
    as_device_contact_t c;
    as_device_t d;
    apr_uint32_t expected;
    apr_time_t now = req->now ? req->now : apr_time_now();
    int rc;

    memset(res, 0, sizeof(*res));
    memset(&c, 0, sizeof(c));
    c.account = req->account;
    c.device_key = req->device_key;
    c.device_type = req->device_type;
    c.user_agent = req->user_agent;
    c.protocol_version = req->protocol_version;
    c.command = "Provision";
    c.now = now;
    rc = as_device_txn_get(db, txn, op->p, req->account, req->device_key, 1, &d);
    if (rc == DB_NOTFOUND) {
        as_device_init(op->p, &d, &c);
    } else if (rc != 0) {
        return rc;
    } else {
        as_device_contact_update(op->p, &d, &c);
    }
    d.prov_demands = 0;
    if (req->info) {
        as_device_info_merge(op->p, &d, req->info, now);
        res->info_status = 1;
    }
    if ((rc = account_policy(db, txn, op->p, req->account, &res->policy)) != 0) {
        return rc;
    }
    expected = as_policy_key(&res->policy, d.nonce);
    res->status = 1;

    if (req->kind == AS_PROVREQ_WIPE_ACK) {
        if (d.wipe == AS_WIPE_REQUESTED && d.wipe_account_only == req->wipe_account_only) {
            d.wipe = AS_WIPE_ACKED;
            d.wipe_acked = now;
            d.wipe_status = req->ack_status;
            res->log =
                apr_psprintf(op->p, "remote wipe acknowledged with Status %d", req->ack_status);
        } else if (d.wipe == AS_WIPE_ACKED) {
            res->log = "remote wipe acknowledged again";
        } else {
            res->status = 2;
            res->log = "a wipe acknowledgement without a pending wipe of that kind";
        }
    } else if (d.wipe == AS_WIPE_REQUESTED) {
        if (d.wipe_account_only && as_protocol_number(req->protocol_version) < 161) {
            res->status = 2;
            res->log = "an account-only wipe is pending but the device does not speak EAS 16.1";
        } else {
            res->wipe = d.wipe_account_only ? 2 : 1;
            d.wipe_sent = now;
            res->log = d.wipe_account_only ? "account-only remote wipe sent" : "remote wipe sent";
        }
    } else if (d.wipe == AS_WIPE_ACKED) {
        res->status = 2;
        res->log = "the device was wiped";
    } else if (req->kind == AS_PROVREQ_INFO_ONLY) {
        res->log = "device information only";
    } else if (!req->policy_type_ok) {
        res->policy_status = 3; /* unknown PolicyType */
        res->log = "unknown PolicyType";
    } else if (req->kind == AS_PROVREQ_POLICY) {
        d.temp_key = temp_key(expected, d.policy_key);
        if (d.prov_state != AS_PROV_DONE) {
            d.prov_state = AS_PROV_PENDING;
        }
        res->policy_status = 1;
        res->key = d.temp_key;
        res->send_doc = 1;
        res->log = "policy sent with a temporary key";
    } else if (req->ack_status < 1 || req->ack_status > 4) {
        res->status = 2;
        res->log = "policy acknowledgement with an invalid Status";
    } else if ((d.temp_key && req->ack_key == d.temp_key) ||
               (d.prov_state == AS_PROV_DONE && req->ack_key == expected)) {
        d.prov_state = AS_PROV_DONE;
        d.policy_key = expected;
        d.temp_key = 0;
        d.client_status = req->ack_status;
        d.provisioned = now;
        res->policy_status = 1;
        res->key = expected;
        res->log = apr_psprintf(op->p, "policy acknowledged with Status %d: final key issued",
                                req->ack_status);
    } else {
        res->policy_status = 5; /* the client acknowledged the wrong key */
        res->log = "the device acknowledged a key this server did not send";
    }
    return as_device_txn_put(db, txn, &d);
}

apr_status_t as_provision_run(as_db_t *db, apr_pool_t *p, const as_provreq_t *req,
                              as_provres_t *res)
{
    prov_op_t op;
    op.p = p;
    op.req = req;
    op.res = res;
    return as_db_txn(db, 0, txn_provision, &op);
}

typedef struct expect_op_t {
    apr_pool_t *p;
    const char *account, *device_key;
    as_policy_t *pol;
    apr_uint32_t key;
} expect_op_t;

static int txn_expected(as_db_t *db, DB_TXN *txn, void *baton)
{
    expect_op_t *op = baton;
    as_device_t d;
    int rc = as_device_txn_get(db, txn, op->p, op->account, op->device_key, 0, &d);
    if (rc != 0) {
        return rc;
    }
    if ((rc = account_policy(db, txn, op->p, op->account, op->pol)) != 0) {
        return rc;
    }
    op->key = as_policy_key(op->pol, d.nonce);
    return 0;
}

apr_status_t as_provision_expected(as_db_t *db, apr_pool_t *p, const char *account,
                                   const char *device_key, as_policy_t *pol, apr_uint32_t *key)
{
    expect_op_t op;
    apr_status_t rv;
    op.p = p;
    op.account = account;
    op.device_key = device_key;
    op.pol = pol;
    op.key = 0;
    rv = as_db_txn(db, AS_DB_TXN_READ, txn_expected, &op);
    *key = op.key;
    return rv;
}
