/* Contacts: which vCard property holds which EAS field (as_contact_int.h).
 * New properties are written the way evolution-data-server writes them
 * (X-EVOLUTION-* for what vCard 3.0 has no property for), and the forms
 * other programs write (vCard 4.0 RELATED and ANNIVERSARY, Outlook's
 * X-MS-*, Apple's X-PHONETIC-*) are read as well. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "as_contact_int.h"

const contact_phone_t contact_phones[] = {
    {NS_CONTACTS, "BusinessPhoneNumber", TEL_BUSINESS, 0, "WORK,VOICE"},
    {NS_CONTACTS, "Business2PhoneNumber", TEL_BUSINESS, 1, "WORK,VOICE"},
    {NS_CONTACTS, "HomePhoneNumber", TEL_HOME, 0, "HOME,VOICE"},
    {NS_CONTACTS, "Home2PhoneNumber", TEL_HOME, 1, "HOME,VOICE"},
    {NS_CONTACTS, "MobilePhoneNumber", TEL_MOBILE, 0, "CELL"},
    {NS_CONTACTS, "CarPhoneNumber", TEL_CAR, 0, "CAR"},
    {NS_CONTACTS, "PagerNumber", TEL_PAGER, 0, "PAGER"},
    {NS_CONTACTS, "RadioPhoneNumber", TEL_RADIO, 0, "X-EVOLUTION-RADIO"},
    {NS_CONTACTS, "BusinessFaxNumber", TEL_BFAX, 0, "WORK,FAX"},
    {NS_CONTACTS, "HomeFaxNumber", TEL_HFAX, 0, "HOME,FAX"},
    {NS_CONTACTS, "AssistantPhoneNumber", TEL_ASSISTANT, 0, "X-EVOLUTION-ASSISTANT"},
    {NS_CONTACTS2, "CompanyMainPhone", TEL_COMPANY, 0, "X-EVOLUTION-COMPANY"},
    {NS_CONTACTS2, "MMS", TEL_MMS, 0, "X-MMS"},
    {NULL, NULL, 0, 0, NULL},
};

const contact_adr_t contact_adrs[ADR_CLASSES] = {
    {"Business", "WORK"},
    {"Home", "HOME"},
    {"Other", "OTHER"},
};
const char *const contact_adr_parts[5] = {"Street", "City", "State", "PostalCode", "Country"};

const contact_single_t contact_singles[CONTACT_SINGLES] = {
    {NS_CONTACTS, "YomiFirstName", {"X-PHONETIC-FIRST-NAME"}, 0},
    {NS_CONTACTS, "YomiLastName", {"X-PHONETIC-LAST-NAME"}, 0},
    {NS_CONTACTS, "YomiCompanyName", {"X-PHONETIC-ORG"}, 0},
    {NS_CONTACTS2, "NickName", {"NICKNAME"}, 0},
    {NS_CONTACTS, "JobTitle", {"TITLE"}, 0},
    {NS_CONTACTS, "OfficeLocation", {"X-EVOLUTION-OFFICE", "X-MS-OFFICELOCATION"}, 0},
    {NS_CONTACTS2,
     "ManagerName",
     {"X-EVOLUTION-MANAGER", "X-MANAGER", "X-MS-MANAGER", "X-ABRELATEDNAMES@Manager"},
     0},
    {NS_CONTACTS,
     "AssistantName",
     {"X-EVOLUTION-ASSISTANT", "X-ASSISTANT", "X-MS-ASSISTANT", "X-ABRELATEDNAMES@Assistant"},
     0},
    {NS_CONTACTS,
     "Spouse",
     {"X-EVOLUTION-SPOUSE", "X-SPOUSE", "X-MS-SPOUSE", "RELATED;spouse", "X-ABRELATEDNAMES@Spouse"},
     0},
    {NS_CONTACTS, "WebPage", {"URL"}, 0},
    {NS_CONTACTS, "Birthday", {"BDAY"}, 1},
    {NS_CONTACTS,
     "Anniversary",
     {"X-EVOLUTION-ANNIVERSARY", "ANNIVERSARY", "X-ANNIVERSARY", "X-MS-ANNIVERSARY",
      "X-ABDATE@Anniversary"},
     1},
    {NS_CONTACTS2, "CustomerId", {"X-EAS-CUSTOMER-ID"}, 0},
    {NS_CONTACTS2, "GovernmentId", {"X-EAS-GOVERNMENT-ID"}, 0},
    {NS_CONTACTS2, "AccountName", {"X-EAS-ACCOUNT-NAME"}, 0},
};

const char *const contact_child_names[] = {"X-CHILD", "X-MS-CHILD", "RELATED;child",
                                           "X-ABRELATEDNAMES@Child", NULL};

/* N: family; given; additional; prefix; suffix.  ORG: name; unit. */
const contact_part_t contact_n_parts[5] = {
    {NS_CONTACTS, "LastName", 0}, {NS_CONTACTS, "FirstName", 1}, {NS_CONTACTS, "MiddleName", 2},
    {NS_CONTACTS, "Title", 3},    {NS_CONTACTS, "Suffix", 4},
};
const contact_part_t contact_org_parts[2] = {
    {NS_CONTACTS, "CompanyName", 0},
    {NS_CONTACTS, "Department", 1},
};

/* IM properties: RFC 4770 IMPP and the older per-service ones. */
static const char *const im_names[] = {
    "IMPP",    "X-JABBER",      "X-AIM",    "X-ICQ",      "X-MSN",       "X-YAHOO",
    "X-SKYPE", "X-GOOGLE-TALK", "X-MATRIX", "X-GADUGADU", "X-GROUPWISE", NULL,
};

static int has_token(const char *list, const char *tok)
{
    size_t n = strlen(tok);
    while (list && *list) {
        const char *e = strchr(list, ',');
        size_t l = e ? (size_t)(e - list) : strlen(list);
        if (l == n && !strncasecmp(list, tok, n)) {
            return 1;
        }
        list = e ? e + 1 : NULL;
    }
    return 0;
}

int contact_has_type(EVCardAttribute *a, const char *type)
{
    GList *p, *v;
    for (p = e_vcard_attribute_get_params(a); p; p = p->next) {
        const char *name = e_vcard_attribute_param_get_name(p->data);
        int is_type = name && !strcasecmp(name, "TYPE");
        if (name && !is_type && !strcasecmp(name, type)) {
            return 1; /* vCard 2.1 "TEL;WORK" kept as a bare parameter */
        }
        for (v = is_type ? e_vcard_attribute_param_get_values(p->data) : NULL; v; v = v->next) {
            if (has_token(v->data, type)) {
                return 1;
            }
        }
    }
    return 0;
}

int contact_attr_is(EVCardAttribute *a, const char *spec)
{
    const char *name = e_vcard_attribute_get_name(a), *semi = strchr(spec, ';');
    size_t n = semi ? (size_t)(semi - spec) : strlen(spec);
    if (!name || strlen(name) != n || strncasecmp(name, spec, n)) {
        return 0;
    }
    return !semi || contact_has_type(a, semi + 1);
}

int contact_is_im(EVCardAttribute *a)
{
    int i;
    for (i = 0; im_names[i]; i++) {
        if (contact_attr_is(a, im_names[i])) {
            return 1;
        }
    }
    return 0;
}

const char *contact_value(apr_pool_t *p, EVCardAttribute *a)
{
    GList *v;
    const char *s = NULL;
    for (v = a ? e_vcard_attribute_get_values(a) : NULL; v; v = v->next) {
        s = s ? apr_pstrcat(p, s, ";", (const char *)v->data, NULL)
              : apr_pstrdup(p, v->data ? (const char *)v->data : "");
    }
    return s;
}

const char *contact_component(apr_pool_t *p, EVCardAttribute *a, int i)
{
    GList *v = a ? g_list_nth(e_vcard_attribute_get_values(a), (guint)i) : NULL;
    return v && v->data ? apr_pstrdup(p, v->data) : "";
}

static int tel_class(EVCardAttribute *a)
{
    int work = contact_has_type(a, "WORK"), home = contact_has_type(a, "HOME");
    static const char *const other[] = {"ISDN",
                                        "VIDEO",
                                        "BBS",
                                        "MODEM",
                                        "TEXTPHONE",
                                        "TEXT",
                                        "X-EVOLUTION-CALLBACK",
                                        "X-EVOLUTION-TELEX",
                                        "X-EVOLUTION-TTYTDD",
                                        NULL};
    int i;

    if (contact_has_type(a, "FAX")) {
        return work && !home ? TEL_BFAX : TEL_HFAX;
    }
    if (contact_has_type(a, "PAGER")) {
        return TEL_PAGER;
    }
    if (contact_has_type(a, "CAR")) {
        return TEL_CAR;
    }
    if (contact_has_type(a, "X-EVOLUTION-RADIO") || contact_has_type(a, "RADIO")) {
        return TEL_RADIO;
    }
    if (contact_has_type(a, "X-EVOLUTION-ASSISTANT") || contact_has_type(a, "ASSISTANT")) {
        return TEL_ASSISTANT;
    }
    if (contact_has_type(a, "X-EVOLUTION-COMPANY") || contact_has_type(a, "MAIN")) {
        return TEL_COMPANY;
    }
    if (contact_has_type(a, "X-MMS") || contact_has_type(a, "MMS")) {
        return TEL_MMS;
    }
    if (contact_has_type(a, "CELL") || contact_has_type(a, "MOBILE") ||
        contact_has_type(a, "IPHONE")) {
        return TEL_MOBILE;
    }
    if (work) {
        return TEL_BUSINESS;
    }
    for (i = 0; other[i]; i++) {
        if (contact_has_type(a, other[i])) {
            return -1; /* kinds EAS has no field for: left alone */
        }
    }
    return TEL_HOME; /* HOME, VOICE, OTHER or no type */
}

static int adr_class(EVCardAttribute *a)
{
    if (contact_has_type(a, "WORK")) {
        return ADR_BUSINESS;
    }
    return contact_has_type(a, "HOME") ? ADR_HOME : ADR_OTHER;
}

/* Does a (labelled label, or not labelled: NULL) match spec? */
static int matches(EVCardAttribute *a, const char *label, const char *spec)
{
    const char *at = strchr(spec, '@'), *name = e_vcard_attribute_get_name(a);
    size_t n = at ? (size_t)(at - spec) : 0;
    if (!at) {
        return contact_attr_is(a, spec);
    }
    return label && name && strlen(name) == n && !strncasecmp(name, spec, n) &&
           !strcasecmp(label, at + 1);
}

static int view_single(EVCardAttribute *a, const char *label, contact_view_t *v)
{
    int i, k;
    for (i = 0; i < CONTACT_SINGLES; i++) {
        for (k = 0; !v->single[i] && contact_singles[i].names[k]; k++) {
            if (matches(a, label, contact_singles[i].names[k])) {
                v->single[i] = a;
                return 1;
            }
        }
    }
    return 0;
}

static void view_child(EVCardAttribute *a, const char *label, EVCardAttribute *label_attr,
                       contact_view_t *v)
{
    int k;
    for (k = 0; contact_child_names[k] && v->nchild < AS_ITEM_MAX_LIST; k++) {
        if (matches(a, label, contact_child_names[k])) {
            v->child_label[v->nchild] = label ? label_attr : NULL;
            v->child[v->nchild++] = a;
            return;
        }
    }
}

/* The X-ABLabel attribute of each group: "_$!<Spouse>!$_" is read as
 * "Spouse". */
static GHashTable *group_labels(EVCard *vc)
{
    GHashTable *h = g_hash_table_new(g_str_hash, g_str_equal);
    GList *l;
    for (l = e_vcard_get_attributes(vc); l; l = l->next) {
        const char *g = e_vcard_attribute_get_group(l->data);
        if (g && contact_attr_is(l->data, "X-ABLabel") && !g_hash_table_contains(h, g)) {
            g_hash_table_insert(h, (gpointer)g, l->data);
        }
    }
    return h;
}

static const char *label_text(apr_pool_t *p, EVCardAttribute *la)
{
    GList *v = la ? e_vcard_attribute_get_values(la) : NULL;
    const char *s = v && v->data ? v->data : NULL;
    size_t n;
    if (!s) {
        return NULL;
    }
    n = strlen(s);
    if (n > 8 && !strncmp(s, "_$!<", 4) && !strcmp(s + n - 4, ">!$_")) {
        return apr_pstrmemdup(p, s + 4, n - 8);
    }
    return s;
}

static void view_slot(EVCardAttribute **slots, int n, EVCardAttribute *a)
{
    int i;
    for (i = 0; i < n; i++) {
        if (!slots[i]) {
            slots[i] = a;
            return;
        }
    }
}

void contact_view(EVCard *vc, contact_view_t *v)
{
    GHashTable *labels = group_labels(vc);
    apr_pool_t *p;
    GList *l;

    memset(v, 0, sizeof *v);
    apr_pool_create(&p, NULL);
    for (l = e_vcard_get_attributes(vc); l; l = l->next) {
        EVCardAttribute *a = l->data, *la = NULL;
        const char *name = e_vcard_attribute_get_name(a), *group = e_vcard_attribute_get_group(a);
        const char *label = NULL;
        int c;
        if (!name) {
            continue;
        }
        if (group && (la = g_hash_table_lookup(labels, group)) != NULL) {
            apr_pool_clear(p);
            label = label_text(p, la);
        }
#define FIRST(field, prop)                                                                         \
    if (!strcasecmp(name, prop)) {                                                                 \
        v->field = v->field ? v->field : a;                                                        \
        continue;                                                                                  \
    }
        FIRST(n, "N")
        FIRST(org, "ORG")
        FIRST(fn, "FN")
        FIRST(fileas, "X-EVOLUTION-FILE-AS")
        FIRST(note, "NOTE")
        FIRST(photo, "PHOTO")
#undef FIRST
        if (!strcasecmp(name, "EMAIL")) {
            view_slot(v->email, CONTACT_EMAILS, a);
        } else if (!strcasecmp(name, "TEL")) {
            if ((c = tel_class(a)) >= 0) {
                view_slot(v->tel[c], c == TEL_BUSINESS || c == TEL_HOME ? TEL_SLOTS : 1, a);
            }
        } else if (!strcasecmp(name, "ADR")) {
            view_slot(&v->adr[adr_class(a)], 1, a);
        } else if (contact_is_im(a)) {
            view_slot(v->im, CONTACT_IMS, a);
        } else if (!view_single(a, label, v)) {
            view_child(a, label, la, v);
        }
    }
    apr_pool_destroy(p);
    g_hash_table_destroy(labels);
}

const char *contact_photo_b64(apr_pool_t *p, EVCardAttribute *a)
{
    const char *v = contact_value(p, a), *enc;
    GList *dec, *pl;
    gchar *b64;
    const char *out;

    if (!v || !*v) {
        return NULL;
    }
    if (!strncasecmp(v, "data:", 5)) {
        /* vCard 4.0: data:image/jpeg;base64,... */
        gsize n = 0;
        guchar *bin;
        enc = strstr(v, ";base64,");
        if (!enc || !enc[8]) {
            return NULL;
        }
        bin = g_base64_decode(enc + 8, &n);
        b64 = n ? g_base64_encode(bin, n) : NULL;
        g_free(bin);
        out = b64 ? apr_pstrdup(p, b64) : NULL;
        g_free(b64);
        return out;
    }
    pl = e_vcard_attribute_get_param(a, "ENCODING");
    if (!contact_has_type(a, "BASE64") &&
        !(pl && pl->data && (!strcasecmp(pl->data, "b") || !strcasecmp(pl->data, "BASE64")))) {
        return NULL; /* a URI: not fetched */
    }
    /* re-encoded: no line breaks or blanks from the file */
    dec = e_vcard_attribute_get_values_decoded(a);
    if (!dec || !dec->data || ((GString *)dec->data)->len == 0) {
        return NULL;
    }
    b64 = g_base64_encode((const guchar *)((GString *)dec->data)->str, ((GString *)dec->data)->len);
    out = apr_pstrdup(p, b64);
    g_free(b64);
    return out;
}

/* EVCard's complaints about a broken file go to stderr unformatted (the
 * server's error log); the caller logs its own line for an item that
 * cannot be read, so they are dropped. */
static void quiet(const gchar *domain, GLogLevelFlags level, const gchar *msg, gpointer data)
{
    (void)domain;
    (void)level;
    (void)msg;
    (void)data;
}

static void quiet_evcard(void)
{
    static gsize done = 0;
    if (g_once_init_enter(&done)) {
        g_log_set_handler("libebook-contacts", G_LOG_LEVEL_WARNING | G_LOG_LEVEL_MESSAGE, quiet,
                          NULL);
        g_once_init_leave(&done, 1);
    }
}

/* Does s[0..n) hold word, in any case? */
static int has_word(const char *s, apr_size_t n, const char *word)
{
    apr_size_t w = strlen(word), i;
    for (i = 0; i + w <= n; i++) {
        if (!strncasecmp(s + i, word, w)) {
            return 1;
        }
    }
    return 0;
}

/* Would EVCard give up on the line s..ce after reading a group ("item.",
 * "a.b.:x", "g.;p:x", "a. b:c", "g.name" without a value)?
 * evolution-data-server 3.46 leaks the group's buffer on each such line,
 * so they are left out (it skips them anyway).  This follows its reading
 * of a property's group and name; a byte above 0x7F after a group counts
 * as giving up. */
static int bad_group(const char *s, const char *ce)
{
    int group = 0;
    apr_size_t len = 0;
    for (; s < ce; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == ':' || c == ';') {
            return len == 0 && group;
        }
        if (c == '.') {
            group |= len > 0;
            len = 0;
        } else if ((c < 0x80 && isalnum(c)) || c == '-' || c == '_') {
            len++;
        } else {
            return group;
        }
    }
    return group; /* no value */
}

/* bad_group() on the property starting at line, its folded lines joined
 * (EVCard unfolds before reading the group: "it\r\n em." is "item."). */
static int bad_header(const char *line, const char *end)
{
    char buf[512];
    apr_size_t n = 0;
    const char *c = line;
    while (c < end && n < sizeof buf) {
        if (*c == '\r' || *c == '\n') {
            const char *b = c + 1 + (c[0] == '\r' && c + 1 < end && c[1] == '\n');
            if (b < end && (*b == ' ' || *b == '\t')) {
                c = b + 1; /* a fold */
                continue;
            }
            break;
        }
        buf[n++] = *c;
        if (*c == ':' || *c == ';') {
            break;
        }
        c++;
    }
    if (n == sizeof buf) {
        return memchr(buf, '.', n) != NULL; /* a header this long: no group is kept */
    }
    return bad_group(buf, buf + n);
}

/* A copy of s (up to a NUL byte, ending with a line break) made fit for
 * EVCard: vCard 2.1
 * quoted-printable soft line breaks ("=" at the end of a line) joined
 * (evolution-data-server 3.46 leaves "=" and the line break in the
 * value), and lines with a broken group left out (bad_group). */
static char *qp_join(const char *s, apr_size_t n)
{
    const char *line = s, *end = s + strnlen(s, n);
    char *out = g_malloc((gsize)(end - s) + 3), *w = out;
    int qp = 0, joined = 0, skip = 0;

    while (line < end) {
        /* a line ends at LF, CRLF or a lone CR, as EVCard reads it */
        const char *ce = line, *next;
        while (ce < end && *ce != '\n' && *ce != '\r') {
            ce++;
        }
        next = ce + (ce < end && *ce == '\r');
        next += next < end && *next == '\n';
        if (!joined && *line != ' ' && *line != '\t') {
            /* quoted-printable is a parameter: after the first ';', before ':' */
            const char *colon = memchr(line, ':', (size_t)(ce - line));
            const char *semi = colon ? memchr(line, ';', (size_t)(colon - line)) : NULL;
            qp = semi && has_word(semi, (apr_size_t)(colon - semi), "QUOTED-PRINTABLE");
            skip = bad_header(line, end);
        }
        joined = qp && ce > line && ce[-1] == '=';
        if (skip) {
            /* the line and its folded continuation left out */
        } else if (joined) {
            memcpy(w, line, (size_t)(ce - 1 - line));
            w += ce - 1 - line;
        } else {
            memcpy(w, line, (size_t)(next - line));
            w += next - line;
        }
        line = next;
    }
    if (w == out || w[-1] != '\n') {
        /* EVCard's quoted-printable and escape decoding read past a "=" or
         * "\" at the very end of the text (evolution-data-server 3.46) */
        *w++ = '\r';
        *w++ = '\n';
    }
    *w = '\0';
    return out;
}

EVCard *contact_parse(const char *data, apr_size_t len)
{
    const char *s = data, *end = data + len;
    EVCard *vc;
    char *copy, *valid;

    if (!data || len == 0 || len > AS_ITEM_MAX_BYTES) {
        return NULL;
    }
    if (len >= 3 && !memcmp(s, "\xEF\xBB\xBF", 3)) {
        s += 3; /* a byte order mark */
    }
    while (s < end && isspace((unsigned char)*s)) {
        s++;
    }
    if ((apr_size_t)(end - s) < 11 || strncasecmp(s, "BEGIN:VCARD", 11) != 0) {
        return NULL;
    }
    quiet_evcard();
    /* EVCard walks the text with g_utf8_next_char(): an invalid lead byte
     * near the end makes it step over the terminating NUL and read past
     * the buffer (evolution-data-server 3.46), so it only sees valid
     * UTF-8 (invalid bytes become U+FFFD, as EVCard itself does for 8-bit
     * values) */
    valid = g_utf8_make_valid(s, (gssize)strnlen(s, (size_t)(end - s)));
    copy = qp_join(valid, strlen(valid));
    g_free(valid);
    vc = e_vcard_new_from_string(copy);
    g_free(copy);
    if (vc && !e_vcard_get_attributes(vc)) {
        g_object_unref(vc);
        vc = NULL;
    }
    return vc;
}
