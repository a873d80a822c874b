/* as-device: play a device against a data directory, for the admin tool's
 * tests (t/admin/test_admin_device.py).
 *
 *   as-device DATADIR contact ACCOUNT DEVICEID TYPE VERSION [USER-AGENT]
 *       record a request (as the glue's gate does) and print the gate's
 *       verdict: "serve", "provision STATUS HTTP", "blocked", "wiped";
 *       AS_DEVICE_NOW=SECONDS in the environment dates the contact
 *   as-device DATADIR provision ACCOUNT DEVICEID VERSION
 *       run the two-phase exchange; print the final key (or "wipe N" when
 *       the server answered with a wipe)
 *   as-device DATADIR wipe-ack ACCOUNT DEVICEID VERSION [account-only]
 *       acknowledge a wipe with Status 1
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>

#include "activesync/as_db.h"
#include "activesync/as_provision.h"

static int usage(void)
{
    fprintf(stderr, "usage: as-device DATADIR contact|provision|wipe-ack ACCOUNT DEVICEID ...\n");
    return 2;
}

int main(int argc, const char *const *argv)
{
    apr_pool_t *p;
    as_db_t *db = NULL;
    apr_status_t rv;
    int rc = 0;

    if (argc < 5) {
        return usage();
    }
    apr_app_initialize(&argc, &argv, NULL);
    apr_pool_create(&p, NULL);
    if ((rv = as_db_open(&db, argv[1], NULL, NULL)) != APR_SUCCESS) {
        fprintf(stderr, "as-device: cannot open %s\n", argv[1]);
        return 1;
    }
    if (!strcmp(argv[2], "contact") && argc >= 7) {
        as_gate_in_t in;
        as_gate_t g;
        memset(&in, 0, sizeof(in));
        in.account = argv[3];
        in.device_key = argv[4];
        in.device_type = argv[5];
        in.protocol_version = argv[6];
        in.user_agent = argc > 7 ? argv[7] : NULL;
        in.command = "Sync";
        in.policy_key_header = "0";
        in.inband_449 = AS_INBAND_ONLY;
        /* tests of expiry play devices seen long ago */
        in.now = getenv("AS_DEVICE_NOW") ? apr_time_from_sec(atoll(getenv("AS_DEVICE_NOW"))) : 0;
        if ((rv = as_provision_gate(db, p, &in, &g)) != APR_SUCCESS) {
            rc = 1;
        } else if (g.verdict == AS_GATE_SERVE) {
            printf("serve\n");
        } else if (g.verdict == AS_GATE_PROVISION) {
            printf("provision %d %d\n", g.eas_status, g.http_status);
        } else {
            printf("%s\n", g.verdict == AS_GATE_BLOCKED ? "blocked" : "wiped");
        }
        if (g.doc) {
            xmlFreeDoc(g.doc);
        }
    } else if ((!strcmp(argv[2], "provision") || !strcmp(argv[2], "wipe-ack")) && argc >= 6) {
        as_provreq_t req;
        as_provres_t res;
        memset(&req, 0, sizeof(req));
        req.account = argv[3];
        req.device_key = argv[4];
        req.device_type = NULL; /* keep what the contact recorded */
        req.protocol_version = argv[5];
        req.policy_type_ok = 1;
        if (!strcmp(argv[2], "wipe-ack")) {
            req.kind = AS_PROVREQ_WIPE_ACK;
            req.ack_status = 1;
            req.wipe_account_only = argc > 6 && !strcmp(argv[6], "account-only");
            rv = as_provision_run(db, p, &req, &res);
            printf("status %d\n", res.status);
        } else {
            req.kind = AS_PROVREQ_POLICY;
            rv = as_provision_run(db, p, &req, &res);
            if (rv == APR_SUCCESS && res.wipe) {
                printf("wipe %d\n", res.wipe);
            } else if (rv == APR_SUCCESS) {
                req.kind = AS_PROVREQ_ACK;
                req.ack_key = res.key;
                req.ack_status = 1;
                rv = as_provision_run(db, p, &req, &res);
                printf("%u\n", res.key);
            }
        }
        rc = rv != APR_SUCCESS;
    } else {
        rc = usage();
    }
    as_db_close(db);
    apr_pool_destroy(p);
    apr_terminate();
    return rc;
}
