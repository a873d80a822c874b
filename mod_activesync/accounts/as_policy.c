/* Provisioning policies: the EASProvisionDoc settings table, inheritance,
 * edits, record encoding, the policy key and the policy document.  See
 * as_policy.h. */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "activesync/as_command.h"
#include "activesync/as_policy.h"

#define PROV_NS       "Provision:"
#define INT_MAX_VALUE 2147483647L

typedef struct pol_def_t {
    const char *name;
    as_pol_type_t type;
    long min, max;
    int empty_ok;     /* uint: "unlimited" allowed (empty element) */
    unsigned allowed; /* uint: bit v set = value v allowed (0: any in min..max) */
    long builtin;     /* Exchange's Default policy */
    int list_slot;    /* list settings: index into as_polset_t.list */
    int v121;         /* defined from protocol 12.1 on (else 12.0) */
    const char *help;
} pol_def_t;

#define B(name, def, v121, help)                                                                   \
    {                                                                                              \
        name, AS_POLT_BOOL, 0, 1, 0, 0, def, -1, v121, help                                        \
    }
#define U(name, min, max, empty, allowed, def, v121, help)                                         \
    {                                                                                              \
        name, AS_POLT_UINT, min, max, empty, allowed, def, -1, v121, help                          \
    }

static const pol_def_t defs[AS_POL_COUNT] = {
    B("DevicePasswordEnabled", 0, 0, "a device password is required"),
    B("AlphanumericDevicePasswordRequired", 0, 0, "the password must mix letters and digits"),
    B("PasswordRecoveryEnabled", 0, 0, "the device may store a recovery password on the server"),
    B("RequireStorageCardEncryption", 0, 0, "storage cards must be encrypted"),
    B("AttachmentsEnabled", 1, 0, "attachments may be downloaded"),
    U("MinDevicePasswordLength", 1, 16, 1, 0, AS_POL_EMPTY, 0,
      "minimum password length, 1-16 or unlimited (no minimum)"),
    U("MaxInactivityTimeDeviceLock", 0, 9999, 1, 0, AS_POL_EMPTY, 0,
      "seconds of inactivity before the device locks, 0-9999 or unlimited"),
    U("MaxDevicePasswordFailedAttempts", 4, 16, 1, 0, AS_POL_EMPTY, 0,
      "failed password attempts before the device wipes itself, 4-16 or unlimited"),
    U("MaxAttachmentSize", 0, INT_MAX_VALUE, 1, 0, AS_POL_EMPTY, 0,
      "largest attachment downloaded, bytes, or unlimited"),
    B("AllowSimpleDevicePassword", 1, 0, "simple passwords (1234) are allowed"),
    U("DevicePasswordExpiration", 0, 730, 1, 0, AS_POL_EMPTY, 0,
      "days before the password must change, 0-730 or unlimited"),
    U("DevicePasswordHistory", 0, 50, 0, 0, 0, 0,
      "number of previous passwords that may not be reused, 0-50"),
    B("AllowStorageCard", 1, 1, "storage cards may be used"),
    B("AllowCamera", 1, 1, "the camera may be used"),
    B("RequireDeviceEncryption", 0, 1, "the device must be encrypted"),
    B("AllowUnsignedApplications", 1, 1, "unsigned applications may run"),
    B("AllowUnsignedInstallationPackages", 1, 1, "unsigned installation packages may run"),
    U("MinDevicePasswordComplexCharacters", 1, 4, 0, 0, 1, 1,
      "character classes the password must contain, 1-4"),
    B("AllowWiFi", 1, 1, "Wi-Fi may be used"),
    B("AllowTextMessaging", 1, 1, "SMS/text messaging may be used"),
    B("AllowPOPIMAPEmail", 1, 1, "POP/IMAP mail accounts may be used"),
    U("AllowBluetooth", 0, 2, 0, 0, 2, 1, "Bluetooth: 0 disabled, 1 hands-free only, 2 allowed"),
    B("AllowIrDA", 1, 1, "infrared connections may be used"),
    B("RequireManualSyncWhenRoaming", 0, 1, "no automatic sync while roaming"),
    B("AllowDesktopSync", 1, 1, "desktop synchronisation may be used"),
    U("MaxCalendarAgeFilter", 0, 7, 0, (1u << 0) | (1u << 4) | (1u << 5) | (1u << 6) | (1u << 7), 0,
      1, "oldest calendar items synced: 0 all, 4 2 weeks, 5 1 month, 6 3 months, 7 6 months"),
    B("AllowHTMLEmail", 1, 1, "HTML mail may be shown"),
    U("MaxEmailAgeFilter", 0, 5, 0, 0, 0, 1,
      "oldest mail synced: 0 all, 1 1 day, 2 3 days, 3 1 week, 4 2 weeks, 5 1 month"),
    {"MaxEmailBodyTruncationSize", AS_POLT_INT, -1, INT_MAX_VALUE, 0, 0, -1, -1, 1,
     "largest plain-text body sent, KB, or -1 (no limit)"},
    {"MaxEmailHTMLBodyTruncationSize", AS_POLT_INT, -1, INT_MAX_VALUE, 0, 0, -1, -1, 1,
     "largest HTML body sent, KB, or -1 (no limit)"},
    B("RequireSignedSMIMEMessages", 0, 1, "outgoing mail must be S/MIME signed"),
    B("RequireEncryptedSMIMEMessages", 0, 1, "outgoing mail must be S/MIME encrypted"),
    U("RequireSignedSMIMEAlgorithm", 0, 1, 0, 0, 0, 1, "signing algorithm: 0 SHA-1, 1 MD5"),
    U("RequireEncryptionSMIMEAlgorithm", 0, 4, 0, 0, 0, 1,
      "encryption algorithm: 0 3DES, 1 DES, 2 RC2-128, 3 RC2-64, 4 RC2-40"),
    U("AllowSMIMEEncryptionAlgorithmNegotiation", 0, 2, 0, 0, 2, 1,
      "algorithm negotiation: 0 none, 1 strong algorithms only, 2 any"),
    B("AllowSMIMESoftCerts", 1, 1, "soft (file) S/MIME certificates may be used"),
    B("AllowBrowser", 1, 1, "the web browser may be used"),
    B("AllowConsumerEmail", 1, 1, "consumer mail accounts may be used"),
    B("AllowRemoteDesktop", 1, 1, "remote desktop may be used"),
    B("AllowInternetSharing", 1, 1, "internet sharing (tethering) may be used"),
    {"UnapprovedInROMApplicationList", AS_POLT_LIST, 0, 0, 0, 0, 0, 0, 1,
     "built-in applications that may not run: comma-separated names"},
    {"ApprovedApplicationList", AS_POLT_LIST, 0, 0, 0, 0, 0, 1, 1,
     "applications that may be installed: comma-separated SHA-1 hashes"},
};

#undef B
#undef U

/* XML children of the two lists. */
static const char *const list_item[AS_POL_NLISTS] = {"ApplicationName", "Hash"};

/* ---- table ---------------------------------------------------------------------- */

const char *as_pol_name(as_pol_t s)
{
    return (unsigned)s < AS_POL_COUNT ? defs[s].name : "?";
}

int as_pol_from_name(const char *name)
{
    int i;
    for (i = 0; name && i < AS_POL_COUNT; i++) {
        if (!strcasecmp(name, defs[i].name)) {
            return i;
        }
    }
    return -1;
}

as_pol_type_t as_pol_type(as_pol_t s)
{
    return defs[s].type;
}

const char *as_pol_help(as_pol_t s)
{
    return (unsigned)s < AS_POL_COUNT ? defs[s].help : "";
}

const char *as_pol_format(apr_pool_t *p, const as_polset_t *set, as_pol_t s)
{
    const pol_def_t *d = &defs[s];
    long v = set->value[s];

    switch (d->type) {
    case AS_POLT_BOOL:
        return v ? "on" : "off";
    case AS_POLT_UINT:
        return v == AS_POL_EMPTY ? "unlimited" : apr_ltoa(p, v);
    case AS_POLT_INT:
        return apr_ltoa(p, v);
    case AS_POLT_LIST:
        return apr_pstrdup(p, set->list[d->list_slot]);
    }
    return "";
}

/* ---- sets ------------------------------------------------------------------------ */

int as_polset_has(const as_polset_t *s, as_pol_t i)
{
    return s && (unsigned)i < AS_POL_COUNT && ((s->defined >> i) & 1);
}

int as_polset_empty(const as_polset_t *s)
{
    return !s || s->defined == 0;
}

#define ALL_DEFINED ((((apr_uint64_t)1) << AS_POL_COUNT) - 1)

/* The built-in policy defaults: constant, built once, never written after. */
static as_polset_t builtin_set;
static pthread_once_t builtin_once = PTHREAD_ONCE_INIT;

static void builtin_init(void)
{
    int i;
    for (i = 0; i < AS_POL_COUNT; i++) {
        builtin_set.value[i] = defs[i].builtin;
    }
    builtin_set.defined = ALL_DEFINED;
}

const as_polset_t *as_policy_builtin(void)
{
    pthread_once(&builtin_once, builtin_init);
    return &builtin_set;
}

static void copy_setting(as_polset_t *dst, const as_polset_t *src, as_pol_t i)
{
    dst->value[i] = src->value[i];
    if (defs[i].type == AS_POLT_LIST) {
        apr_cpystrn(dst->list[defs[i].list_slot], src->list[defs[i].list_slot],
                    AS_POL_LIST_MAX + 1);
    }
    dst->defined |= ((apr_uint64_t)1) << i;
}

static int polset_has_cb(const void *set, int i)
{
    return as_polset_has(set, (as_pol_t)i);
}

void as_policy_resolve(const as_polset_t *domain, const as_polset_t *cls,
                       const as_polset_t *account, as_policy_t *out)
{
    const void *levels[AS_SRC_LEVELS] = {NULL, domain, cls, account};
    const as_polset_t *builtin = as_policy_builtin();
    int i;

    out->v.defined = 0;
    for (i = 0; i < AS_POL_COUNT; i++) {
        as_src_t s = as_inherit_source(levels, polset_has_cb, i);
        out->source[i] = s;
        copy_setting(&out->v, s == AS_SRC_BUILTIN ? builtin : levels[s], i);
    }
}

void as_policy_resolve_account(const as_dir_account_t *a, as_policy_t *out)
{
    as_policy_resolve(a->pol[AS_SRC_DOMAIN], a->pol[AS_SRC_CLASS], a->pol[AS_SRC_ACCOUNT], out);
}

/* ---- edits ------------------------------------------------------------------------- */

static apr_status_t bad(apr_pool_t *p, const char **err, const char *what, const char *name,
                        const char *val)
{
    *err = apr_psprintf(p, "%s: %s in '%s'", name, what, val);
    return AS_DIR_EINVAL;
}

static int parse_long(const char *s, long *out)
{
    char *end;
    long v;
    if (!*s || (*s != '-' && (*s < '0' || *s > '9'))) {
        return -1;
    }
    errno = 0;
    v = strtol(s, &end, 10);
    if (errno || *end) {
        return -1;
    }
    *out = v;
    return 0;
}

/* Normalise a list: items separated by commas, blanks around them dropped. */
static apr_status_t parse_list(apr_pool_t *p, const pol_def_t *d, const char *val, char *out,
                               const char **err)
{
    size_t n = 0;
    const char *s = val;

    out[0] = '\0';
    while (*s) {
        const char *e = strchr(s, ',');
        const char *end = e ? e : s + strlen(s);
        const char *a = s, *b = end, *c;
        while (a < b && (*a == ' ' || *a == '\t')) {
            a++;
        }
        while (b > a && (b[-1] == ' ' || b[-1] == '\t')) {
            b--;
        }
        if (b == a) {
            if (!e && n == 0 && s == val) {
                break; /* whole value blank: empty list */
            }
            return bad(p, err, "empty item", d->name, val);
        }
        if ((size_t)(b - a) > AS_POL_LIST_ITEM_MAX) {
            return bad(p, err, "an item is too long", d->name, val);
        }
        for (c = a; c < b; c++) {
            if ((unsigned char)*c < 0x20 || *c == 0x7f) {
                return bad(p, err, "control character", d->name, val);
            }
        }
        if (n + (n ? 1 : 0) + (size_t)(b - a) > AS_POL_LIST_MAX) {
            *err =
                apr_psprintf(p, "%s: the list is longer than %d bytes", d->name, AS_POL_LIST_MAX);
            return AS_DIR_EINVAL;
        }
        if (n) {
            out[n++] = ',';
        }
        memcpy(out + n, a, (size_t)(b - a));
        n += (size_t)(b - a);
        out[n] = '\0';
        if (!e) {
            break;
        }
        s = e + 1;
        if (!*s) {
            return bad(p, err, "empty item", d->name, val);
        }
    }
    return APR_SUCCESS;
}

static apr_status_t parse_value(apr_pool_t *p, as_pol_t i, const char *val, as_polset_t *dst,
                                const char **err)
{
    const pol_def_t *d = &defs[i];
    long v;

    switch (d->type) {
    case AS_POLT_BOOL:
        if ((v = as_parse_bool(val)) < 0) {
            *err = apr_psprintf(p, "%s takes on or off (1 or 0), not '%s'", d->name, val);
            return AS_DIR_EINVAL;
        }
        break;
    case AS_POLT_UINT:
        if (d->empty_ok && (!strcasecmp(val, "unlimited") || !strcasecmp(val, "none") || !*val)) {
            v = AS_POL_EMPTY;
            break;
        }
        if (parse_long(val, &v) != 0 || v < d->min || v > d->max ||
            (d->allowed && !((d->allowed >> v) & 1))) {
            *err = apr_psprintf(p, "bad value '%s' for %s (%s)", val, d->name, d->help);
            return AS_DIR_EINVAL;
        }
        break;
    case AS_POLT_INT:
        if (!strcasecmp(val, "unlimited") || !strcasecmp(val, "none")) {
            v = -1;
            break;
        }
        if (parse_long(val, &v) != 0 || v < d->min || v > d->max) {
            *err = apr_psprintf(p, "bad value '%s' for %s (%s)", val, d->name, d->help);
            return AS_DIR_EINVAL;
        }
        break;
    case AS_POLT_LIST:
        dst->value[i] = 0;
        return parse_list(p, d, val, dst->list[d->list_slot], err);
    default:
        return AS_DIR_EINVAL;
    }
    dst->value[i] = v;
    return APR_SUCCESS;
}

apr_status_t as_poledit_parse_set(apr_pool_t *p, as_poledit_t *edit, const char *word,
                                  const char **err)
{
    const char *eq = strchr(word, '=');
    const char *name;
    int i;
    apr_status_t rv;

    if (!eq || eq == word) {
        *err = apr_psprintf(p, "expected SETTING=VALUE, got '%s'", word);
        return AS_DIR_EINVAL;
    }
    name = apr_pstrmemdup(p, word, (apr_size_t)(eq - word));
    if ((i = as_pol_from_name(name)) < 0) {
        *err = apr_psprintf(p,
                            "unknown policy setting '%s' (activesync-admin policy settings "
                            "lists them)",
                            name);
        return AS_DIR_EINVAL;
    }
    if ((rv = parse_value(p, i, eq + 1, &edit->values, err)) != APR_SUCCESS) {
        return rv;
    }
    edit->set_mask |= ((apr_uint64_t)1) << i;
    edit->unset_mask &= ~(((apr_uint64_t)1) << i);
    return APR_SUCCESS;
}

apr_status_t as_poledit_parse_unset(apr_pool_t *p, as_poledit_t *edit, const char *word,
                                    const char **err)
{
    int i;

    if (strchr(word, '=')) {
        *err = apr_psprintf(p, "unset takes setting names without a value, got '%s'", word);
        return AS_DIR_EINVAL;
    }
    if ((i = as_pol_from_name(word)) < 0) {
        *err = apr_psprintf(p,
                            "unknown policy setting '%s' (activesync-admin policy settings "
                            "lists them)",
                            word);
        return AS_DIR_EINVAL;
    }
    edit->unset_mask |= ((apr_uint64_t)1) << i;
    edit->set_mask &= ~(((apr_uint64_t)1) << i);
    return APR_SUCCESS;
}

void as_poledit_apply(as_polset_t *set, const as_poledit_t *edit)
{
    int i;
    for (i = 0; i < AS_POL_COUNT; i++) {
        apr_uint64_t bit = ((apr_uint64_t)1) << i;
        if (edit->set_mask & bit) {
            copy_setting(set, &edit->values, i);
        } else if (edit->unset_mask & bit) {
            set->defined &= ~bit;
            set->value[i] = 0;
            if (defs[i].type == AS_POLT_LIST) {
                set->list[defs[i].list_slot][0] = '\0';
            }
        }
    }
}

/* ---- record encoding ----------------------------------------------------------------- */

size_t as_polset_encode(const as_polset_t *s, unsigned char *buf)
{
    size_t n = 1;
    unsigned count = 0;
    int i;

    for (i = 0; i < AS_POL_COUNT; i++) {
        if (!as_polset_has(s, i)) {
            continue;
        }
        count++;
        buf[n++] = (unsigned char)i;
        if (defs[i].type == AS_POLT_LIST) {
            const char *l = s->list[defs[i].list_slot];
            size_t len = strnlen(l, AS_POL_LIST_MAX);
            buf[n++] = (unsigned char)(len >> 8);
            buf[n++] = (unsigned char)len;
            memcpy(buf + n, l, len);
            n += len;
        } else {
            apr_uint32_t v = (apr_uint32_t)(apr_int32_t)s->value[i];
            buf[n++] = (unsigned char)(v >> 24);
            buf[n++] = (unsigned char)(v >> 16);
            buf[n++] = (unsigned char)(v >> 8);
            buf[n++] = (unsigned char)v;
        }
    }
    buf[0] = (unsigned char)count;
    return n;
}

int as_polset_decode(const unsigned char *buf, size_t len, as_polset_t *s)
{
    size_t n = 1;
    unsigned count, k;

    s->defined = 0;
    if (len < 1) {
        return AS_DB_ECORRUPT;
    }
    count = buf[0];
    for (k = 0; k < count; k++) {
        unsigned i;
        if (n >= len) {
            return AS_DB_ECORRUPT;
        }
        i = buf[n++];
        if (i >= AS_POL_COUNT || as_polset_has(s, i)) {
            return AS_DB_ECORRUPT;
        }
        if (defs[i].type == AS_POLT_LIST) {
            size_t l;
            if (n + 2 > len) {
                return AS_DB_ECORRUPT;
            }
            l = ((size_t)buf[n] << 8) | buf[n + 1];
            n += 2;
            if (l > AS_POL_LIST_MAX || n + l > len || memchr(buf + n, 0, l)) {
                return AS_DB_ECORRUPT;
            }
            memcpy(s->list[defs[i].list_slot], buf + n, l);
            s->list[defs[i].list_slot][l] = '\0';
            s->value[i] = 0;
            n += l;
        } else {
            apr_uint32_t v;
            if (n + 4 > len) {
                return AS_DB_ECORRUPT;
            }
            v = ((apr_uint32_t)buf[n] << 24) | ((apr_uint32_t)buf[n + 1] << 16) |
                ((apr_uint32_t)buf[n + 2] << 8) | buf[n + 3];
            s->value[i] = (long)(apr_int32_t)v;
            n += 4;
        }
        s->defined |= ((apr_uint64_t)1) << i;
    }
    return n == len ? 0 : AS_DB_ECORRUPT;
}

/* ---- key and document -------------------------------------------------------------------- */

apr_uint32_t as_policy_key(const as_policy_t *pol, apr_uint32_t device_nonce)
{
    unsigned char md[EVP_MAX_MD_SIZE], nb[4];
    unsigned int mdlen = 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    apr_uint32_t key = 0;
    char num[24];
    int i;

    if (!ctx) {
        return 1;
    }
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    /* Canonical text: "Name=value\n" for every setting in table order. */
    for (i = 0; i < AS_POL_COUNT; i++) {
        const char *v;
        EVP_DigestUpdate(ctx, defs[i].name, strlen(defs[i].name));
        EVP_DigestUpdate(ctx, "=", 1);
        if (defs[i].type == AS_POLT_LIST) {
            v = pol->v.list[defs[i].list_slot];
        } else {
            apr_snprintf(num, sizeof(num), "%ld", pol->v.value[i]);
            v = num;
        }
        EVP_DigestUpdate(ctx, v, strlen(v));
        EVP_DigestUpdate(ctx, "\n", 1);
    }
    nb[0] = (unsigned char)(device_nonce >> 24);
    nb[1] = (unsigned char)(device_nonce >> 16);
    nb[2] = (unsigned char)(device_nonce >> 8);
    nb[3] = (unsigned char)device_nonce;
    EVP_DigestUpdate(ctx, nb, 4);
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    if (mdlen >= 4) {
        key = ((apr_uint32_t)md[0] << 24) | ((apr_uint32_t)md[1] << 16) |
              ((apr_uint32_t)md[2] << 8) | md[3];
    }
    return key ? key : 1;
}

xmlNodePtr as_policy_add_doc(xmlNodePtr parent, const as_policy_t *pol,
                             const char *protocol_version)
{
    xmlNodePtr doc = as_xml_add(parent, PROV_NS, "EASProvisionDoc", NULL);
    int only120 = protocol_version && !strcmp(protocol_version, "12.0");
    char num[24];
    int i;

    if (!doc) {
        return NULL;
    }
    for (i = 0; i < AS_POL_COUNT; i++) {
        const pol_def_t *d = &defs[i];
        if (only120 && d->v121) {
            break;
        }
        if (d->type == AS_POLT_LIST) {
            xmlNodePtr l = as_xml_add(doc, PROV_NS, d->name, NULL);
            const char *s = pol->v.list[d->list_slot];
            while (l && *s) {
                const char *e = strchr(s, ',');
                size_t n = e ? (size_t)(e - s) : strlen(s);
                char item[AS_POL_LIST_ITEM_MAX + 1];
                apr_cpystrn(item, s, n + 1 < sizeof(item) ? n + 1 : sizeof(item));
                as_xml_add(l, PROV_NS, list_item[d->list_slot], item);
                s += n + (e ? 1 : 0);
            }
            continue;
        }
        if (d->type == AS_POLT_BOOL) {
            as_xml_add(doc, PROV_NS, d->name, pol->v.value[i] ? "1" : "0");
        } else if (d->type == AS_POLT_UINT && pol->v.value[i] == AS_POL_EMPTY) {
            as_xml_add(doc, PROV_NS, d->name, NULL);
        } else {
            apr_snprintf(num, sizeof(num), "%ld", pol->v.value[i]);
            as_xml_add(doc, PROV_NS, d->name, num);
        }
    }
    return doc;
}
