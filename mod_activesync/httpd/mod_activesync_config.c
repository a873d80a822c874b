/* Directives and per-server configuration of mod_activesync.
 *
 * Directive                          default    meaning
 * ActiveSync On|Off                  Off        serve ActiveSync in this server/vhost
 * ActiveSyncDefaultDomain DOMAIN     (none)     completes bare user names
 * ActiveSyncMaxRequestSize BYTES     32M        larger request bodies get 413
 * ActiveSyncWBXMLLimits DEPTH ELEMS  64 500000  bounds on decoded request bodies
 * ActiveSyncTraceAccount ADDR...     (none)     restrict trace4 protocol dumps
 * ActiveSyncTraceDevice ID...        (none)     restrict trace4 protocol dumps
 * ActiveSyncTrustedCAFile FILE       (none)     ValidateCert trust anchors
 * ActiveSyncTrustedCAPath DIR        (none)     ValidateCert trust anchors (hashed)
 * ActiveSyncCRLFile FILE             (none)     CRLs for ValidateCert CheckCRL
 * ActiveSyncMaildir TEMPLATE         (none)     Maildir of an account (%u %n %d); none: no mail
 * ActiveSyncMaildirFolders S D T J   Sent Drafts Trash Junk  special folder names
 * ActiveSyncCollections TEMPLATE     DATADIR/collections/%u  an account's contacts, calendars,
 *                                               tasks and notes in Radicale's layout (%u %n %d)
 * ActiveSyncProvisioning On|Off|Loose  On       devices must hold the current policy key
 * ActiveSyncProvisioning449 Auto|InBand|Both  Auto  how 14.x devices are told to provision
 * ActiveSyncMaxDevices N|Unlimited   100        device records per account; more are refused
 * ActiveSyncPingHeartbeat MIN MAX    60 3540    Ping HeartbeatInterval bounds (seconds)
 *
 * Global directives (main server only: one data directory and one cap per
 * installation, shared by every virtual host):
 * ActiveSyncDataDir DIR              AS_DATADIR the Berkeley DB environment
 * ActiveSyncMailboxCount N           (no cap)   mailboxes allowed to use ActiveSync
 * ActiveSyncLicenseFile FILE         (none)     signed licence carrying the cap
 * ActiveSyncLicenseKey PUBKEY        (none)     public key verifying the licence
 * ActiveSyncDeviceExpiry UNPROV UNSEEN  1d 180d  remove devices never provisioned / not seen
 *                                               for that long (AGE: N[smhd] or Off)
 * ActiveSyncWedgeRemedy On|Off      On         the parent stops the children attached to a
 *                                               wedged Berkeley DB environment and recovers it
 * ActiveSyncCapMutexWait MS          2000       longest wait for the activesync-cap mutex
 *                                               before a first admission gets 503
 * (and "Mutex MECH activesync-cap" for the cap's global mutex)
 *
 * Licence files are not checked here: an unreadable, invalid or expired
 * licence does not stop httpd; it closes new admissions with an error line
 * at start-up and on each refusal (mod_activesync_db.c).
 *
 * ActiveSync defaults to Off so that loading the module (a2enmod) exposes
 * nothing until the administrator switches it on in the virtual host that
 * should serve it (normally the TLS one).
 */
#include <stddef.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_file_info.h>

#include <httpd.h>
#include <http_config.h>
#include <ap_mpm.h>

#include "activesync/as_collections.h"
#include "activesync/as_itemcache.h"
#include "activesync/as_outbound.h"
#include "activesync/as_maildir.h"
#include "mod_activesync_private.h"
#include "mod_activesync_config.h"

#define UNSET                  -1
#define MAX_REQUEST_SIZE_LIMIT ((apr_off_t)1024 * 1024 * 1024)

static mod_activesync_srv_conf_t *srv_conf(cmd_parms *cmd)
{
    return ap_get_module_config(cmd->server->module_config, &activesync_module);
}

/* The default ActiveSyncSendmail, made again with each configuration (its
 * pool is the configuration's). */
static const as_outbound_t *default_outbound;

void *mod_activesync_create_srv_conf(apr_pool_t *p, server_rec *s)
{
    mod_activesync_srv_conf_t *c = apr_pcalloc(p, sizeof(*c));
    (void)s;
    c->enabled = UNSET;
    c->default_domain = NULL;
    c->max_request_size = UNSET;
    c->wbxml_max_depth = UNSET;
    c->wbxml_max_elements = UNSET;
    c->trace_accounts = NULL;
    c->trace_devices = NULL;
    c->trusted_ca_file = NULL;
    c->trusted_ca_path = NULL;
    c->crl_file = NULL;
    c->data_dir = NULL;
    c->mailbox_count = UNSET;
    c->license_file = NULL;
    c->license_key = NULL;
    c->maildir_template = NULL;
    c->maildir_names = NULL;
    c->collections_template = NULL;
    c->collections_default = NULL;
    c->provisioning = UNSET;
    c->provisioning_449 = UNSET;
    c->ping_min = UNSET;
    c->ping_max = UNSET;
    c->max_devices = UNSET;
    c->device_ages = NULL;
    c->wedge_remedy = UNSET;
    c->cap_mutex_wait_ms = UNSET;
    c->outbound = NULL;
    c->max_message_size = UNSET;
    default_outbound = as_outbound_sendmail(p, AS_OUTBOUND_DEFAULT_COMMAND, 0);
    return c;
}

#define MERGE_VAL(f) n->f = (add->f != UNSET) ? add->f : base->f
#define MERGE_PTR(f) n->f = add->f ? add->f : base->f

void *mod_activesync_merge_srv_conf(apr_pool_t *p, void *basev, void *addv)
{
    const mod_activesync_srv_conf_t *base = basev;
    const mod_activesync_srv_conf_t *add = addv;
    mod_activesync_srv_conf_t *n = apr_pcalloc(p, sizeof(*n));

    MERGE_VAL(enabled);
    MERGE_PTR(default_domain);
    MERGE_VAL(max_request_size);
    /* The two limits come from one directive: take them as a pair. */
    if (add->wbxml_max_depth != UNSET) {
        n->wbxml_max_depth = add->wbxml_max_depth;
        n->wbxml_max_elements = add->wbxml_max_elements;
    } else {
        n->wbxml_max_depth = base->wbxml_max_depth;
        n->wbxml_max_elements = base->wbxml_max_elements;
    }
    MERGE_PTR(trace_accounts);
    MERGE_PTR(trace_devices);
    MERGE_PTR(trusted_ca_file);
    MERGE_PTR(trusted_ca_path);
    MERGE_PTR(crl_file);
    MERGE_PTR(data_dir);
    MERGE_VAL(mailbox_count);
    MERGE_PTR(license_file);
    MERGE_PTR(license_key);
    MERGE_PTR(maildir_template);
    MERGE_PTR(maildir_names);
    MERGE_PTR(collections_template);
    MERGE_PTR(collections_default);
    MERGE_VAL(provisioning);
    MERGE_VAL(provisioning_449);
    MERGE_VAL(ping_min);
    MERGE_VAL(ping_max);
    MERGE_VAL(max_devices);
    MERGE_PTR(device_ages);
    MERGE_PTR(outbound);
    MERGE_VAL(max_message_size);
    MERGE_VAL(wedge_remedy);
    MERGE_VAL(cap_mutex_wait_ms);
    return n;
}

void mod_activesync_config_get(server_rec *s, mod_activesync_conf_t *conf)
{
    static const apr_array_header_t empty = {NULL, sizeof(const char *), 0, 0, NULL};
    const mod_activesync_srv_conf_t *c = ap_get_module_config(s->module_config, &activesync_module);

    conf->enabled = c->enabled != UNSET ? c->enabled : MOD_ACTIVESYNC_DEFAULT_ENABLED;
    conf->default_domain = c->default_domain;
    conf->max_request_size = c->max_request_size != UNSET ? c->max_request_size
                                                          : MOD_ACTIVESYNC_DEFAULT_MAX_REQUEST_SIZE;
    as_wbxml_limits_default(&conf->limits);
    conf->limits.max_size = (apr_size_t)conf->max_request_size;
    if (c->wbxml_max_depth != UNSET) {
        conf->limits.max_depth = (unsigned)c->wbxml_max_depth;
        conf->limits.max_elements = (unsigned)c->wbxml_max_elements;
    }
    conf->trace_accounts = c->trace_accounts ? c->trace_accounts : &empty;
    conf->trace_devices = c->trace_devices ? c->trace_devices : &empty;
    conf->core.trusted_ca_file = c->trusted_ca_file;
    conf->core.trusted_ca_path = c->trusted_ca_path;
    conf->core.crl_file = c->crl_file;
    conf->core.maildir_template = c->maildir_template;
    if (c->maildir_names) {
        conf->core.maildir_names = *c->maildir_names;
    } else {
        memset(&conf->core.maildir_names, 0, sizeof(conf->core.maildir_names));
    }
    /* unset: under the data directory (ActiveSyncDataDir is global, so a
     * virtual host inherits the main server's default) */
    conf->core.collections_template =
        c->collections_template  ? c->collections_template
        : c->collections_default ? c->collections_default
                                 : MOD_ACTIVESYNC_DEFAULT_DATADIR MOD_ACTIVESYNC_COLLECTIONS_SUFFIX;
    conf->core.sync_max_window = 0;
    conf->core.ping_heartbeat_min = c->ping_min != UNSET ? c->ping_min : 0;
    conf->core.ping_heartbeat_max = c->ping_max != UNSET ? c->ping_max : 0;
    conf->core.push_stop.fn = mod_activesync_push_stopping;
    conf->core.push_stop.baton = NULL;
    conf->core.sync_waiter = NULL;
    conf->core.outbound = c->outbound ? c->outbound : default_outbound;
    conf->core.max_message_size = c->max_message_size != UNSET ? (apr_size_t)c->max_message_size
                                                               : (apr_size_t)conf->max_request_size;
    conf->provisioning = c->provisioning != UNSET ? (as_prov_mode_t)c->provisioning
                                                  : MOD_ACTIVESYNC_DEFAULT_PROVISIONING;
    conf->provisioning_449 = c->provisioning_449 != UNSET ? (as_inband_449_t)c->provisioning_449
                                                          : MOD_ACTIVESYNC_DEFAULT_PROV_449;
    conf->max_devices = c->max_devices != UNSET ? (unsigned)c->max_devices : AS_DEVICE_MAX_DEFAULT;
}

void mod_activesync_config_global(server_rec *s, mod_activesync_global_t *g)
{
    const mod_activesync_srv_conf_t *c = ap_get_module_config(s->module_config, &activesync_module);

    g->data_dir = c->data_dir ? c->data_dir : MOD_ACTIVESYNC_DEFAULT_DATADIR;
    g->mailbox_count = c->mailbox_count;
    g->license_file = c->license_file;
    g->license_key = c->license_key;
    if (c->device_ages) {
        g->device_ages = *c->device_ages;
    } else {
        g->device_ages.unprovisioned = AS_DEVICE_EXPIRE_UNPROVISIONED_DEFAULT;
        g->device_ages.unseen = AS_DEVICE_EXPIRE_UNSEEN_DEFAULT;
    }
    g->wedge_remedy =
        c->wedge_remedy != UNSET ? c->wedge_remedy : MOD_ACTIVESYNC_DEFAULT_WEDGE_REMEDY;
    g->cap_mutex_wait = apr_time_from_msec(
        c->cap_mutex_wait_ms != UNSET ? c->cap_mutex_wait_ms : MOD_ACTIVESYNC_DEFAULT_CAP_WAIT_MS);
}

/* ---- setters ------------------------------------------------------------ */

static const char *set_enabled(cmd_parms *cmd, void *dc, int flag)
{
    (void)dc;
    srv_conf(cmd)->enabled = flag ? 1 : 0;
    return NULL;
}

static const char *set_default_domain(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *q;
    (void)dc;
    if (!*arg || *arg == '.' || *arg == '-' || ap_strchr_c(arg, '@')) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a domain name", cmd->cmd->name, arg);
    }
    for (q = arg; *q; q++) {
        if (!apr_isalnum(*q) && *q != '.' && *q != '-') {
            return apr_psprintf(cmd->pool, "%s: '%s' is not a domain name", cmd->cmd->name, arg);
        }
    }
    srv_conf(cmd)->default_domain = apr_pstrdup(cmd->pool, arg);
    ap_str_tolower((char *)srv_conf(cmd)->default_domain);
    return NULL;
}

/* "1048576", "512K", "32M", "1G" into *out, at most max; 0 when not one. */
static int parse_size(const char *arg, apr_off_t max, apr_off_t *out)
{
    apr_off_t v, mult;
    char *end;

    if (apr_strtoff(&v, arg, &end, 10) != APR_SUCCESS || v < 0 || end == arg) {
        return 0;
    }
    switch (apr_tolower(*end)) {
    case '\0':
        mult = 1;
        break;
    case 'k':
        mult = 1024;
        end++;
        break;
    case 'm':
        mult = 1024 * 1024;
        end++;
        break;
    case 'g':
        mult = 1024 * 1024 * 1024;
        end++;
        break;
    default:
        return 0;
    }
    if (*end || v > max / mult) {
        return 0;
    }
    *out = v * mult;
    return 1;
}

/* ActiveSyncMaxRequestSize, ActiveSyncMaxMessageSize: cmd->info is the
 * offset of the apr_off_t field. */
static const char *set_size(cmd_parms *cmd, void *dc, const char *arg)
{
    apr_off_t v;
    (void)dc;

    if (!parse_size(arg, MAX_REQUEST_SIZE_LIMIT, &v) || v == 0) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a size between 1 and 1G bytes",
                            cmd->cmd->name, arg);
    }
    *(apr_off_t *)((char *)srv_conf(cmd) + (size_t)cmd->info) = v;
    return NULL;
}

/* ActiveSyncSendmail "COMMAND ARGS": the MTA's sendmail program, run
 * without a shell; the words are split on blanks. */
static const char *set_sendmail(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    srv_conf(cmd)->outbound = as_outbound_sendmail(cmd->pool, arg, 0);
    if (!srv_conf(cmd)->outbound || arg[0] != '/') {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an absolute program path with arguments",
                            cmd->cmd->name, arg);
    }
    return NULL;
}

/* ActiveSyncItemCache: the bound of the item cache shared by the children
 * (as_itemcache.h), read by post_config; back to the default when the
 * configuration's pool goes (a restart without the directive). */
#define ITEM_CACHE_LIMIT ((apr_off_t)4 * 1024 * 1024 * 1024)
static apr_size_t item_cache_bytes = AS_ITEMCACHE_MAX_BYTES;

static apr_status_t item_cache_default(void *unused)
{
    (void)unused;
    item_cache_bytes = AS_ITEMCACHE_MAX_BYTES;
    return APR_SUCCESS;
}

static const char *set_item_cache(cmd_parms *cmd, void *dc, const char *arg)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    apr_off_t v;
    (void)dc;
    if (err) {
        return err;
    }
    if (!parse_size(arg, ITEM_CACHE_LIMIT, &v) ||
        (v != 0 && v < (apr_off_t)AS_ITEMCACHE_MIN_BYTES)) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not 0 (off) or a size from 64K to 4G",
                            cmd->cmd->name, arg);
    }
    item_cache_bytes = (apr_size_t)v;
    apr_pool_cleanup_register(cmd->pool, NULL, item_cache_default, apr_pool_cleanup_null);
    return NULL;
}

apr_size_t mod_activesync_item_cache_bytes(void)
{
    return item_cache_bytes;
}

static int parse_uint(const char *s, long lo, long hi, int *out)
{
    char *end;
    long v;
    if (!apr_isdigit(*s)) {
        return 0;
    }
    v = strtol(s, &end, 10);
    if (*end || v < lo || v > hi) {
        return 0;
    }
    *out = (int)v;
    return 1;
}

static const char *set_wbxml_limits(cmd_parms *cmd, void *dc, const char *depth,
                                    const char *elements)
{
    mod_activesync_srv_conf_t *c = srv_conf(cmd);
    int d, e;
    (void)dc;
    if (!parse_uint(depth, 2, 4096, &d)) {
        return apr_psprintf(cmd->pool, "%s: DEPTH '%s' must be a number from 2 to 4096",
                            cmd->cmd->name, depth);
    }
    if (!parse_uint(elements, 1, 100000000, &e)) {
        return apr_psprintf(cmd->pool, "%s: ELEMENTS '%s' must be a number from 1 to 100000000",
                            cmd->cmd->name, elements);
    }
    c->wbxml_max_depth = d;
    c->wbxml_max_elements = e;
    return NULL;
}

static const char *add_trace_account(cmd_parms *cmd, void *dc, const char *arg)
{
    mod_activesync_srv_conf_t *c = srv_conf(cmd);
    char *v;
    (void)dc;
    if (!*arg || strlen(arg) > 320) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not an account", cmd->cmd->name, arg);
    }
    if (!c->trace_accounts) {
        c->trace_accounts = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    v = apr_pstrdup(cmd->pool, arg);
    ap_str_tolower(v);
    APR_ARRAY_PUSH(c->trace_accounts, const char *) = v;
    return NULL;
}

static const char *add_trace_device(cmd_parms *cmd, void *dc, const char *arg)
{
    mod_activesync_srv_conf_t *c = srv_conf(cmd);
    (void)dc;
    if (!*arg || strlen(arg) > 64) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a device id", cmd->cmd->name, arg);
    }
    if (!c->trace_devices) {
        c->trace_devices = apr_array_make(cmd->pool, 2, sizeof(const char *));
    }
    APR_ARRAY_PUSH(c->trace_devices, const char *) = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

/* A path relative to ServerRoot that must exist with the given type. */
static const char *existing_path(cmd_parms *cmd, const char *arg, apr_filetype_e type,
                                 const char **out)
{
    apr_finfo_t fi;
    const char *path = ap_server_root_relative(cmd->pool, arg);

    if (!path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    }
    if (apr_stat(&fi, path, APR_FINFO_TYPE, cmd->temp_pool) != APR_SUCCESS || fi.filetype != type) {
        return apr_psprintf(cmd->pool, "%s: '%s' does not exist or is not a %s", cmd->cmd->name,
                            path, type == APR_DIR ? "directory" : "file");
    }
    *out = path;
    return NULL;
}

static const char *set_ca_file(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return existing_path(cmd, arg, APR_REG, &srv_conf(cmd)->trusted_ca_file);
}

static const char *set_ca_path(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return existing_path(cmd, arg, APR_DIR, &srv_conf(cmd)->trusted_ca_path);
}

static const char *set_crl_file(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return existing_path(cmd, arg, APR_REG, &srv_conf(cmd)->crl_file);
}

/* ---- mail and provisioning ------------------------------------------------ */

typedef apr_status_t path_template_fn(apr_pool_t *p, const char *tmpl, const char *account,
                                      const char **path, const char **err);

/* A per-account path template, tried on a sample account: an unknown escape,
 * a relative path and the like are refused now rather than on every
 * request, and so is a template without an account part. */
static const char *account_template(cmd_parms *cmd, const char *arg, path_template_fn *expand,
                                    const char *shared_what, const char **out)
{
    const char *path = NULL, *err = NULL;
    if (expand(cmd->temp_pool, arg, "user@example.com", &path, &err) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool, "%s: '%s' is not a usable template: %s", cmd->cmd->name, arg,
                            err ? err : "(no reason given)");
    }
    if (!ap_strchr_c(arg, '%')) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' names no account part (%%u, %%n or %%d): every account "
                            "would share one %s",
                            cmd->cmd->name, arg, shared_what);
    }
    *out = apr_pstrdup(cmd->pool, arg);
    return NULL;
}

static const char *set_maildir(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return account_template(cmd, arg, as_maildir_path_from_template, "Maildir",
                            &srv_conf(cmd)->maildir_template);
}

static const char *set_collections(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return account_template(cmd, arg, as_collections_path_from_template, "address book",
                            &srv_conf(cmd)->collections_template);
}

/* A Maildir++ folder name ("Sent", or ".Sent" as it appears on disk). */
static const char *folder_name(cmd_parms *cmd, const char *what, const char *arg, const char **out)
{
    const char *q;
    if (*arg == '.') {
        arg++;
    }
    if (!*arg || *arg == '.' || strlen(arg) > 200) {
        goto bad;
    }
    for (q = arg; *q; q++) {
        if (*q == '/' || *q == '\\' || (unsigned char)*q < 0x20 || *q == 0x7f) {
            goto bad;
        }
    }
    if (strstr(arg, "..")) {
        goto bad;
    }
    *out = apr_pstrdup(cmd->pool, arg);
    return NULL;
bad:
    return apr_psprintf(cmd->pool, "%s: '%s' is not a Maildir++ folder name (%s folder)",
                        cmd->cmd->name, arg, what);
}

static const char *set_maildir_folders(cmd_parms *cmd, void *dc, int argc, char *const argv[])
{
    as_maildir_names_t *n;
    const char *err;
    (void)dc;
    if (argc != 4) {
        return apr_psprintf(cmd->pool, "%s takes four names: SENT DRAFTS TRASH JUNK",
                            cmd->cmd->name);
    }
    n = apr_pcalloc(cmd->pool, sizeof(*n));
    if ((err = folder_name(cmd, "sent", argv[0], &n->sent)) ||
        (err = folder_name(cmd, "drafts", argv[1], &n->drafts)) ||
        (err = folder_name(cmd, "trash", argv[2], &n->trash)) ||
        (err = folder_name(cmd, "junk", argv[3], &n->junk))) {
        return err;
    }
    srv_conf(cmd)->maildir_names = n;
    return NULL;
}

/* One of a directive's keywords (case-insensitive) to its value; the error
 * lists them all, in the order given. */
typedef struct {
    const char *word;
    int value;
} keyword_t;

static const char *set_keyword(cmd_parms *cmd, const char *arg, const keyword_t *words, int n,
                               int *out)
{
    const char *list = "";
    int i;
    for (i = 0; i < n; i++) {
        if (!strcasecmp(arg, words[i].word)) {
            *out = words[i].value;
            return NULL;
        }
        list = apr_pstrcat(cmd->temp_pool, list, i ? (i == n - 1 ? " or " : ", ") : "",
                           words[i].word, NULL);
    }
    return apr_psprintf(cmd->pool, "%s: '%s' is not %s", cmd->cmd->name, arg, list);
}

static const char *set_provisioning(cmd_parms *cmd, void *dc, const char *arg)
{
    static const keyword_t words[] = {
        {"On", AS_PROVISIONING_ON}, {"Off", AS_PROVISIONING_OFF}, {"Loose", AS_PROVISIONING_LOOSE}};
    (void)dc;
    return set_keyword(cmd, arg, words, 3, &srv_conf(cmd)->provisioning);
}

static const char *set_provisioning_449(cmd_parms *cmd, void *dc, const char *arg)
{
    static const keyword_t words[] = {
        {"Auto", AS_INBAND_AUTO}, {"InBand", AS_INBAND_ONLY}, {"Both", AS_INBAND_AND_449}};
    (void)dc;
    return set_keyword(cmd, arg, words, 3, &srv_conf(cmd)->provisioning_449);
}

static const char *set_max_devices(cmd_parms *cmd, void *dc, const char *arg)
{
    int n;
    (void)dc;
    if (!strcasecmp(arg, "Unlimited")) {
        srv_conf(cmd)->max_devices = 0;
        return NULL;
    }
    if (!parse_uint(arg, 1, 100000, &n)) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s' must be a number of devices from 1 to 100000 "
                            "or Unlimited",
                            cmd->cmd->name, arg);
    }
    srv_conf(cmd)->max_devices = n;
    return NULL;
}

/* ---- global directives ---------------------------------------------------- */

static const char *set_device_expiry(cmd_parms *cmd, void *dc, const char *unprov,
                                     const char *unseen)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    as_device_ages_t *a = apr_pcalloc(cmd->pool, sizeof(*a));
    (void)dc;
    if (err) {
        return err;
    }
    if (as_device_age_parse(unprov, &a->unprovisioned) != APR_SUCCESS ||
        as_device_age_parse(unseen, &a->unseen) != APR_SUCCESS) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s %s' must be two ages, each a number with s, m, h or d "
                            "(seconds, minutes, hours, days; at most 3650d) or Off",
                            cmd->cmd->name, unprov, unseen);
    }
    srv_conf(cmd)->device_ages = a;
    return NULL;
}

static const char *set_ping_heartbeat(cmd_parms *cmd, void *dc, const char *min, const char *max)
{
    int lo, hi;
    (void)dc;
    /* The protocol's HeartbeatInterval is at most 3540 s (59 minutes). */
    if (!parse_uint(min, 1, 3540, &lo) || !parse_uint(max, 1, 3540, &hi) || lo > hi) {
        return apr_psprintf(cmd->pool,
                            "%s: '%s %s' must be MIN MAX seconds, 1 <= MIN <= MAX <= 3540",
                            cmd->cmd->name, min, max);
    }
    srv_conf(cmd)->ping_min = lo;
    srv_conf(cmd)->ping_max = hi;
    return NULL;
}

static const char *set_wedge_remedy(cmd_parms *cmd, void *dc, int flag)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    (void)dc;
    if (err) {
        return err;
    }
    srv_conf(cmd)->wedge_remedy = flag;
    return NULL;
}

/* A global directive taking one whole number within bounds: which field
 * and bounds, in the directive's cmd->info. */
typedef struct global_uint_t {
    size_t field; /* offsetof(mod_activesync_srv_conf_t, ...) */
    int min, max;
    const char *what; /* "a number of mailboxes" */
} global_uint_t;

/* The same bound as cap.conf, which the admin tool reads back. */
static const global_uint_t mailbox_count = {offsetof(mod_activesync_srv_conf_t, mailbox_count), 0,
                                            100000000, "a number of mailboxes"};
static const global_uint_t cap_mutex_wait = {offsetof(mod_activesync_srv_conf_t, cap_mutex_wait_ms),
                                             1, 60000, "milliseconds"};

static const char *set_global_uint(cmd_parms *cmd, void *dc, const char *arg)
{
    const global_uint_t *g = cmd->info;
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    int n;
    (void)dc;
    if (err) {
        return err;
    }
    if (!parse_uint(arg, g->min, g->max, &n)) {
        return apr_psprintf(cmd->pool, "%s: '%s' must be %s from %d to %d", cmd->cmd->name, arg,
                            g->what, g->min, g->max);
    }
    *(int *)((char *)srv_conf(cmd) + g->field) = n;
    return NULL;
}

static const char *set_global_file(cmd_parms *cmd, const char *arg, const char **out)
{
    const char *err = ap_check_cmd_context(cmd, GLOBAL_ONLY);
    const char *path;
    if (err) {
        return err;
    }
    path = *arg ? ap_server_root_relative(cmd->pool, arg) : NULL;
    if (!path) {
        return apr_psprintf(cmd->pool, "%s: invalid path '%s'", cmd->cmd->name, arg);
    }
    *out = path;
    return NULL;
}

static const char *set_data_dir(cmd_parms *cmd, void *dc, const char *arg)
{
    const char **path = &srv_conf(cmd)->data_dir;
    const char *err = set_global_file(cmd, arg, path);
    (void)dc;
    if (!err && !strcmp(*path, "/")) {
        err =
            apr_psprintf(cmd->pool, "%s: '%s' is not a usable directory path", cmd->cmd->name, arg);
    }
    if (!err) {
        /* the default collections template lives under it ('%' escaped) */
        const char *c;
        apr_array_header_t *t = apr_array_make(cmd->pool, 64, 1);
        for (c = *path; *c; c++) {
            *(char *)apr_array_push(t) = *c;
            if (*c == '%') {
                *(char *)apr_array_push(t) = '%';
            }
        }
        *(char *)apr_array_push(t) = '\0';
        srv_conf(cmd)->collections_default =
            apr_pstrcat(cmd->pool, t->elts, MOD_ACTIVESYNC_COLLECTIONS_SUFFIX, NULL);
    }
    return err;
}

static const char *set_license_file(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_global_file(cmd, arg, &srv_conf(cmd)->license_file);
}

static const char *set_license_key(cmd_parms *cmd, void *dc, const char *arg)
{
    (void)dc;
    return set_global_file(cmd, arg, &srv_conf(cmd)->license_key);
}

const command_rec mod_activesync_cmds[] = {
    AP_INIT_FLAG("ActiveSync", set_enabled, NULL, RSRC_CONF,
                 "On|Off: serve Exchange ActiveSync in this server (default Off)"),
    AP_INIT_TAKE1("ActiveSyncDefaultDomain", set_default_domain, NULL, RSRC_CONF,
                  "domain completing user names given without one"),
    AP_INIT_TAKE1("ActiveSyncMaxRequestSize", set_size,
                  (void *)offsetof(mod_activesync_srv_conf_t, max_request_size), RSRC_CONF,
                  "largest request body in bytes (suffix K, M or G; default 32M)"),
    AP_INIT_TAKE1("ActiveSyncSendmail", set_sendmail, NULL, RSRC_CONF,
                  "the MTA's sendmail command, run without a shell "
                  "(default \"/usr/sbin/sendmail -i\")"),
    AP_INIT_TAKE1("ActiveSyncMaxMessageSize", set_size,
                  (void *)offsetof(mod_activesync_srv_conf_t, max_message_size), RSRC_CONF,
                  "largest message SendMail submits (suffix K, M or G; default the request limit)"),
    AP_INIT_TAKE2("ActiveSyncWBXMLLimits", set_wbxml_limits, NULL, RSRC_CONF,
                  "DEPTH ELEMENTS: nesting and element count allowed in a request "
                  "(default 64 500000)"),
    AP_INIT_ITERATE("ActiveSyncTraceAccount", add_trace_account, NULL, RSRC_CONF,
                    "accounts (user@domain) whose protocol dumps are logged at trace4"),
    AP_INIT_ITERATE("ActiveSyncTraceDevice", add_trace_device, NULL, RSRC_CONF,
                    "device ids whose protocol dumps are logged at trace4"),
    AP_INIT_TAKE1("ActiveSyncTrustedCAFile", set_ca_file, NULL, RSRC_CONF,
                  "PEM file of CA certificates trusted by ValidateCert"),
    AP_INIT_TAKE1("ActiveSyncTrustedCAPath", set_ca_path, NULL, RSRC_CONF,
                  "hashed directory of CA certificates trusted by ValidateCert"),
    AP_INIT_TAKE1("ActiveSyncCRLFile", set_crl_file, NULL, RSRC_CONF,
                  "PEM file of CRLs used by ValidateCert CheckCRL"),
    AP_INIT_TAKE1("ActiveSyncMaildir", set_maildir, NULL, RSRC_CONF,
                  "Maildir of an account: absolute path template with %u (user@domain), "
                  "%n (user), %d (domain); unset: no mail is served"),
    AP_INIT_TAKE_ARGV("ActiveSyncMaildirFolders", set_maildir_folders, NULL, RSRC_CONF,
                      "SENT DRAFTS TRASH JUNK: Maildir++ names of the special folders "
                      "(default Sent Drafts Trash Junk, as Dovecot)"),
    AP_INIT_TAKE1("ActiveSyncCollections", set_collections, NULL, RSRC_CONF,
                  "folder of an account's contacts, calendars, tasks and notes in Radicale's "
                  "layout: absolute path template with %u, %n, %d (default "
                  "DATADIR/collections/%u)"),
    AP_INIT_TAKE1("ActiveSyncProvisioning", set_provisioning, NULL, RSRC_CONF,
                  "On|Off|Loose: devices must accept the policy before they are served "
                  "(default On)"),
    AP_INIT_TAKE1("ActiveSyncProvisioning449", set_provisioning_449, NULL, RSRC_CONF,
                  "Auto|InBand|Both: how EAS 14 devices are told to provision -- in-band "
                  "Status, HTTP 449 with it, or 449 only for devices ignoring the Status "
                  "(default Auto)"),
    AP_INIT_TAKE1("ActiveSyncMaxDevices", set_max_devices, NULL, RSRC_CONF,
                  "N|Unlimited: devices one account may use; a further device is refused "
                  "(status 177; default 100)"),
    AP_INIT_TAKE2("ActiveSyncDeviceExpiry", set_device_expiry, NULL, RSRC_CONF,
                  "UNPROVISIONED UNSEEN: remove devices that never provisioned, and devices "
                  "not seen, for that long (N[smhd] or Off); main server only (default 1d 180d)"),
    AP_INIT_TAKE2("ActiveSyncPingHeartbeat", set_ping_heartbeat, NULL, RSRC_CONF,
                  "MIN MAX: Ping HeartbeatInterval bounds in seconds, per server "
                  "(default 60 3540)"),
    AP_INIT_TAKE1("ActiveSyncDataDir", set_data_dir, NULL, RSRC_CONF,
                  "directory of the Berkeley DB environment (accounts, mailbox registry); "
                  "main server only (default " MOD_ACTIVESYNC_DEFAULT_DATADIR ")"),
    AP_INIT_TAKE1("ActiveSyncMailboxCount", set_global_uint, (void *)&mailbox_count, RSRC_CONF,
                  "number of distinct mailboxes allowed to use ActiveSync; main server only "
                  "(default: no cap)"),
    AP_INIT_TAKE1("ActiveSyncLicenseFile", set_license_file, NULL, RSRC_CONF,
                  "signed licence file carrying the mailbox cap; main server only"),
    AP_INIT_TAKE1("ActiveSyncLicenseKey", set_license_key, NULL, RSRC_CONF,
                  "PEM Ed25519 public key verifying ActiveSyncLicenseFile; main server only"),
    AP_INIT_FLAG("ActiveSyncWedgeRemedy", set_wedge_remedy, NULL, RSRC_CONF,
                 "On|Off: when the Berkeley DB environment is wedged, stop the children "
                 "attached to it and recover it (On), or only log it; main server only "
                 "(default On)"),
    AP_INIT_TAKE1("ActiveSyncCapMutexWait", set_global_uint, (void *)&cap_mutex_wait, RSRC_CONF,
                  "milliseconds a first admission waits for the activesync-cap mutex before "
                  "it gets 503 with Retry-After; main server only (default 2000)"),
    AP_INIT_TAKE1("ActiveSyncItemCache", set_item_cache, NULL, RSRC_CONF,
                  "bytes of converted messages kept for Sync, shared by the children (suffix "
                  "K, M or G; 0 = off); main server only (default 16M)"),
    {NULL},
};
