/* Per-server configuration of mod_activesync (httpd glue).
 *
 * Every directive is server/virtual-host scoped, except the global ones
 * (ActiveSyncDataDir, ActiveSyncMailboxCount, ActiveSyncLicenseFile,
 * ActiveSyncLicenseKey, ActiveSyncDeviceExpiry, ActiveSyncWedgeRemedy,
 * ActiveSyncCapMutexWait: main server only).  Fields start "unset"
 * (-1 or NULL) and the merge takes the virtual host's value when it set one,
 * else the main server's; mod_activesync_config_get() fills in the built-in
 * defaults, so the handler never sees an unset value.
 */
#ifndef MOD_ACTIVESYNC_CONFIG_H
#define MOD_ACTIVESYNC_CONFIG_H

#include <httpd.h>
#include <http_config.h>
#include <apr_tables.h>

#include "activesync/as_command.h"
#include "activesync/as_device.h"
#include "activesync/as_provision.h"
#include "activesync/as_wbxml.h"

/* Built-in defaults (see conf.d/activesync.conf). */
#define MOD_ACTIVESYNC_DEFAULT_ENABLED          0
#define MOD_ACTIVESYNC_DEFAULT_MAX_REQUEST_SIZE ((apr_off_t)32 * 1024 * 1024)
/* Secure by default, like Exchange: every device must provision. */
#define MOD_ACTIVESYNC_DEFAULT_PROVISIONING AS_PROVISIONING_ON
#define MOD_ACTIVESYNC_DEFAULT_PROV_449     AS_INBAND_AUTO

typedef struct mod_activesync_srv_conf_t {
    int enabled;                             /* ActiveSync On|Off; -1 unset */
    const char *default_domain;              /* ActiveSyncDefaultDomain; NULL unset */
    apr_off_t max_request_size;              /* ActiveSyncMaxRequestSize; -1 unset */
    int wbxml_max_depth;                     /* ActiveSyncWBXMLLimits DEPTH; -1 unset */
    int wbxml_max_elements;                  /* ActiveSyncWBXMLLimits ... ELEMENTS; -1 unset */
    apr_array_header_t *trace_accounts;      /* ActiveSyncTraceAccount; NULL unset */
    apr_array_header_t *trace_devices;       /* ActiveSyncTraceDevice; NULL unset */
    const char *trusted_ca_file;             /* ActiveSyncTrustedCAFile; NULL unset */
    const char *trusted_ca_path;             /* ActiveSyncTrustedCAPath; NULL unset */
    const char *crl_file;                    /* ActiveSyncCRLFile; NULL unset */
    const char *maildir_template;            /* ActiveSyncMaildir; NULL unset (no mail) */
    const as_maildir_names_t *maildir_names; /* ActiveSyncMaildirFolders; NULL unset */
    const char *collections_template;        /* ActiveSyncCollections; NULL unset */
    const char *collections_default;         /* DATADIR/collections/%u of ActiveSyncDataDir */
    int provisioning;                        /* ActiveSyncProvisioning (as_prov_mode_t); -1 unset */
    int provisioning_449; /* ActiveSyncProvisioning449 (as_inband_449_t); -1 unset */
    int max_devices;      /* ActiveSyncMaxDevices (0 Unlimited); -1 unset */
    /* Global (main server only, GLOBAL_ONLY): see mod_activesync_global_t. */
    const char *data_dir;     /* ActiveSyncDataDir; NULL unset */
    int mailbox_count;        /* ActiveSyncMailboxCount; -1 unset (no cap) */
    const char *license_file; /* ActiveSyncLicenseFile; NULL unset */
    const char *license_key;  /* ActiveSyncLicenseKey; NULL unset */
    int ping_min, ping_max;   /* ActiveSyncPingHeartbeat (per server); -1 unset */

    /* ActiveSyncDeviceExpiry; NULL unset */
    as_device_ages_t *device_ages;
    int wedge_remedy;                     /* ActiveSyncWedgeRemedy On|Off; -1 unset */
    int cap_mutex_wait_ms;                /* ActiveSyncCapMutexWait; -1 unset */
    const struct as_outbound_t *outbound; /* ActiveSyncSendmail; NULL unset (the default) */
    apr_off_t max_message_size;           /* ActiveSyncMaxMessageSize; -1 unset */
} mod_activesync_srv_conf_t;

/* The effective settings of a server, defaults applied. */
typedef struct mod_activesync_conf_t {
    int enabled;
    const char *default_domain; /* may be NULL */
    apr_off_t max_request_size;
    as_wbxml_limits_t limits;                 /* decoding limits for request bodies */
    const apr_array_header_t *trace_accounts; /* const char *; may be empty */
    const apr_array_header_t *trace_devices;  /* const char *; may be empty */
    as_server_conf_t core;
    as_prov_mode_t provisioning;
    as_inband_449_t provisioning_449;
    unsigned max_devices; /* 0: no limit */
} mod_activesync_conf_t;

/* Settings of the whole installation, not of a virtual host: the Berkeley
 * DB environment and the mailbox cap are shared by every server, so these
 * directives are allowed in the main server configuration only. */
typedef struct mod_activesync_global_t {
    const char *data_dir;     /* absolute; default MOD_ACTIVESYNC_DEFAULT_DATADIR */
    int mailbox_count;        /* -1: no ActiveSyncMailboxCount */
    const char *license_file; /* NULL: no licence */
    const char *license_key;  /* NULL: no public key */
    /* ActiveSyncDeviceExpiry (an age 0: that rule is off) */
    as_device_ages_t device_ages;
    int wedge_remedy;                   /* the parent may stop children and recover a wedge */
    apr_interval_time_t cap_mutex_wait; /* bound on the activesync-cap mutex wait */
} mod_activesync_global_t;

#ifndef AS_DEFAULT_DATADIR
#define AS_DEFAULT_DATADIR "/var/lib/activesync"
#endif
#define MOD_ACTIVESYNC_DEFAULT_DATADIR      AS_DEFAULT_DATADIR
#define MOD_ACTIVESYNC_COLLECTIONS_SUFFIX   "/collections/%u"
#define MOD_ACTIVESYNC_DEFAULT_WEDGE_REMEDY 1
#define MOD_ACTIVESYNC_DEFAULT_CAP_WAIT_MS  2000

extern const command_rec mod_activesync_cmds[];

/* The stop check every server's configuration gives its parked requests
 * (as_server_conf_t push_stop): 1 when this child stops in a way that ends
 * them -- a restart or a stop, not the MPM's housekeeping (mod_activesync.c). */
int mod_activesync_push_stopping(void *baton);

void *mod_activesync_create_srv_conf(apr_pool_t *p, server_rec *s);
void *mod_activesync_merge_srv_conf(apr_pool_t *p, void *basev, void *addv);

/* Effective configuration of s; fills *conf. */
void mod_activesync_config_get(server_rec *s, mod_activesync_conf_t *conf);

/* The global settings (from the main server s), defaults applied. */
void mod_activesync_config_global(server_rec *s, mod_activesync_global_t *g);
/* ActiveSyncItemCache: bytes of the item cache (0: off). */
apr_size_t mod_activesync_item_cache_bytes(void);

#endif
