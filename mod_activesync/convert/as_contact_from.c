/* Contacts: the phone's ApplicationData -> the vCard to store, merged into
 * the stored one so that nothing EAS cannot carry is lost.
 *
 * What the phone sends replaces the fields EAS carries: a field absent
 * from a Change is removed (MS-ASCMD: the client sends the whole item),
 * each in the attribute that held it (group, parameters and place kept).
 * Two exceptions, as other servers make them (reference §5.5, §6.3 #16):
 *  - Picture: absent or empty, the stored photo stays.  iOS 4 never sends
 *    a Picture and iOS 8.2 and later send an empty one that does not mean
 *    "delete", and a photo the phone was never sent (too large, a URI) must
 *    survive; a photo is removed on the desktop, not by the phone.
 *  - Body: absent, the stored note stays (a phone that got it truncated
 *    does not send it back); present, it replaces the note (empty: none).
 * Everything else (a fourth e-mail, phones beyond EAS's slots, X-
 * properties, groups and labels, the UID) is kept as it was.  The vCard is
 * written as 3.0: see as_contact.c. */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "activesync/as_utf8.h"
#include "activesync/as_xml.h"
#include "as_contact_int.h"

/* Set the attribute behind a slot to value: in place, removed (no value)
 * or appended as name with TYPE types. */
static EVCardAttribute *set_slot(EVCard *vc, EVCardAttribute *a, const char *name,
                                 const char *types, const char *value)
{
    if (!value || !*value) {
        if (a) {
            e_vcard_remove_attribute(vc, a);
        }
        return NULL;
    }
    if (a) {
        e_vcard_attribute_remove_values(a);
        e_vcard_attribute_remove_param(a, "VALUE"); /* 4.0 TEL;VALUE=uri: now a text */
        e_vcard_attribute_add_value(a, value);
        return a;
    }
    a = e_vcard_attribute_new(NULL, name);
    if (types && *types) {
        EVCardAttributeParam *tp = e_vcard_attribute_param_new(EVC_TYPE);
        gchar **t = g_strsplit(types, ",", -1);
        int i;
        for (i = 0; t[i]; i++) {
            e_vcard_attribute_param_add_value(tp, t[i]);
        }
        g_strfreev(t);
        e_vcard_attribute_add_param(a, tp);
    }
    e_vcard_attribute_add_value(a, value);
    e_vcard_append_attribute(vc, a);
    return a;
}

/* Replace components first..first+n of a structured attribute (the others
 * kept); without any value it is removed unless keep_empty. */
static EVCardAttribute *set_parts(EVCard *vc, EVCardAttribute *a, const char *name,
                                  const char *type, int first, const char **vals, int n,
                                  int keep_empty, apr_pool_t *p)
{
    const char *comp[16];
    int total = first + n, i, any = 0;
    GList *l;

    for (i = 0, l = a ? e_vcard_attribute_get_values(a) : NULL; l && i < 16; l = l->next, i++) {
        total = i + 1 > total ? i + 1 : total;
    }
    for (i = 0; i < total; i++) {
        comp[i] = i >= first && i < first + n ? (vals[i - first] ? vals[i - first] : "")
                                              : contact_component(p, a, i);
        any |= *comp[i] != '\0';
    }
    if (!any && !keep_empty) {
        if (a) {
            e_vcard_remove_attribute(vc, a);
        }
        return NULL;
    }
    if (!a) {
        a = e_vcard_attribute_new(NULL, name);
        if (type) {
            e_vcard_attribute_add_param_with_value(a, e_vcard_attribute_param_new(EVC_TYPE), type);
        }
        e_vcard_append_attribute(vc, a);
    }
    e_vcard_attribute_remove_values(a);
    for (i = 0; i < total; i++) {
        e_vcard_attribute_add_value(a, comp[i]);
    }
    return a;
}

/* "Name" <addr> or Name <addr> -> addr; a plain address as it is. */
static const char *email_addr(apr_pool_t *p, const char *s)
{
    const char *lt, *gt;
    if (!s) {
        return NULL;
    }
    lt = strrchr(s, '<');
    gt = lt ? strchr(lt, '>') : NULL;
    if (lt && gt && gt > lt + 1) {
        return apr_pstrmemdup(p, lt + 1, (apr_size_t)(gt - lt - 1));
    }
    while (*s == ' ') {
        s++;
    }
    return s;
}

/* Remove every attribute matching one of specs (NULL-terminated). */
static void remove_all(EVCard *vc, const char *const *specs)
{
    GList *l, *doomed = NULL;
    int i;
    for (l = e_vcard_get_attributes(vc); l; l = l->next) {
        for (i = 0; specs[i]; i++) {
            if (contact_attr_is(l->data, specs[i])) {
                doomed = g_list_prepend(doomed, l->data);
                break;
            }
        }
    }
    for (l = doomed; l; l = l->next) {
        e_vcard_remove_attribute(vc, l->data);
    }
    g_list_free(doomed);
}

static const char *join_names(apr_pool_t *p, const char **n)
{
    /* prefix given additional family suffix, as evolution-data-server does */
    static const int order[] = {3, 1, 2, 0, 4};
    const char *s = "";
    int i;
    for (i = 0; i < 5; i++) {
        if (n[order[i]] && *n[order[i]]) {
            s = *s ? apr_pstrcat(p, s, " ", n[order[i]], NULL) : n[order[i]];
        }
    }
    return s;
}

/* N, ORG, FN and FileAs (X-EVOLUTION-FILE-AS). */
static void apply_names(apr_pool_t *p, EVCard *vc, const contact_view_t *v, xmlNodePtr app)
{
    const char *n[5], *org[2], *fileas = item_child_text(p, app, NS_CONTACTS, "FileAs");
    const char *sent = contact_value(p, v->fileas ? v->fileas : v->fn), *fn;
    int i, same_names = v->n != NULL;

    for (i = 0; i < 5; i++) {
        n[i] = item_child_text(p, app, NS_CONTACTS, contact_n_parts[i].name);
        same_names &= !strcmp(n[i] ? n[i] : "", contact_component(p, v->n, i));
    }
    for (i = 0; i < 2; i++) {
        org[i] = item_child_text(p, app, NS_CONTACTS, contact_org_parts[i].name);
    }
    set_parts(vc, v->n, EVC_N, NULL, 0, n, 5, 1, p);
    set_parts(vc, v->org, EVC_ORG, NULL, 0, org, 2, 0, p);
    if (same_names && v->fn && fileas && sent && !strcmp(fileas, sent)) {
        return; /* names and FileAs unchanged: FN and FileAs as they were */
    }
    fn = join_names(p, n);
    if (!*fn) {
        const char *mail = email_addr(p, item_child_text(p, app, NS_CONTACTS, "Email1Address"));
        fn = fileas && *fileas ? fileas : org[0] && *org[0] ? org[0] : mail ? mail : "";
    }
    set_slot(vc, v->fn, EVC_FN, NULL, fn);
    if (!e_vcard_get_attribute(vc, EVC_FN)) {
        /* vCard 3.0 needs an FN, even an empty one */
        e_vcard_append_attribute_with_value(vc, e_vcard_attribute_new(NULL, EVC_FN), "");
    }
    set_slot(vc, v->fileas, EVC_X_FILE_AS, NULL, fileas && strcmp(fileas, fn) ? fileas : NULL);
}

static void apply_singles(apr_pool_t *p, EVCard *vc, const contact_view_t *v, xmlNodePtr app)
{
    EVCardAttribute *a;
    int i;
    for (i = 0; i < CONTACT_SINGLES; i++) {
        const contact_single_t *f = &contact_singles[i];
        const char *val = item_child_text(p, app, f->ns, f->name);
        if (f->date && val && *val) {
            const char *d = contact_date_from_eas(p, val, contact_value(p, v->single[i]));
            if (!d) {
                continue; /* a broken date: the stored one stays */
            }
            if (v->single[i]) {
                e_vcard_attribute_remove_param(v->single[i], "VALUE");
                e_vcard_attribute_remove_param(v->single[i], "X-APPLE-OMIT-YEAR");
            }
            val = d;
        }
        a = set_slot(vc, v->single[i], f->names[0], NULL, val);
        if (a && f->date && !strncmp(val, "1604-", 5)) {
            /* no year: written as Apple does, which evolution-data-server reads */
            e_vcard_attribute_add_param_with_value(
                a, e_vcard_attribute_param_new("X-APPLE-OMIT-YEAR"), "1604");
        }
    }
}

static void apply_slots(apr_pool_t *p, EVCard *vc, const contact_view_t *v, xmlNodePtr app)
{
    int i, c, k;
    for (i = 0; i < CONTACT_EMAILS; i++) {
        const char *e =
            item_child_text(p, app, NS_CONTACTS, apr_psprintf(p, "Email%dAddress", i + 1));
        set_slot(vc, v->email[i], EVC_EMAIL, "INTERNET", email_addr(p, e));
    }
    for (i = 0; i < CONTACT_IMS; i++) {
        const char *im = item_child_text(p, app, NS_CONTACTS2,
                                         i ? apr_psprintf(p, "IMAddress%d", i + 1) : "IMAddress");
        /* IMPP holds a URI: a bare handle gets Apple's "x-apple:" scheme */
        if (im && *im && !v->im[i] && !strchr(im, ':')) {
            im = apr_pstrcat(p, "x-apple:", im, NULL);
        }
        set_slot(vc, v->im[i], "IMPP", NULL, im);
    }
    for (k = 0; contact_phones[k].name; k++) {
        const contact_phone_t *f = &contact_phones[k];
        set_slot(vc, v->tel[f->cls][f->slot], EVC_TEL, f->types,
                 item_child_text(p, app, f->ns, f->name));
    }
    for (c = 0; c < ADR_CLASSES; c++) {
        const char *parts[5];
        for (k = 0; k < 5; k++) {
            parts[k] = item_child_text(
                p, app, NS_CONTACTS,
                apr_pstrcat(p, contact_adrs[c].prefix, "Address", contact_adr_parts[k], NULL));
        }
        set_parts(vc, v->adr[c], EVC_ADR, contact_adrs[c].type, 2, parts, 5, 0, p);
    }
}

static void apply_lists(apr_pool_t *p, EVCard *vc, const contact_view_t *v, xmlNodePtr app)
{
    static const char *const cat_spec[] = {"CATEGORIES", NULL};
    int present, i;
    const char **cats = item_list_of(p, app, NS_CONTACTS, "Categories", "Category", &present);
    const char **kids = item_list_of(p, app, NS_CONTACTS, "Children", "Child", &present);

    remove_all(vc, cat_spec);
    if (cats[0]) {
        EVCardAttribute *a = e_vcard_attribute_new(NULL, EVC_CATEGORIES);
        for (i = 0; cats[i]; i++) {
            e_vcard_attribute_add_value(a, cats[i]);
        }
        e_vcard_append_attribute(vc, a);
    }
    /* the children in place, as many as there were; the rest removed or
     * appended */
    for (i = 0; i < v->nchild || kids[i]; i++) {
        EVCardAttribute *a = i < v->nchild ? v->child[i] : NULL;
        /* a removed child's label goes too, unless another child of the
         * group took it already (two children can share one group) */
        if (a && !kids[i] && v->child_label[i] &&
            g_list_find(e_vcard_get_attributes(vc), v->child_label[i])) {
            e_vcard_remove_attribute(vc, v->child_label[i]);
        }
        set_slot(vc, a, contact_child_names[0], NULL, kids[i]);
    }
}

/* The photo: the phone's when it sent one, else the stored one (a 4.0
 * data: URI rewritten as 3.0 inline data, which EVCard writes intact). */
static apr_status_t apply_picture(apr_pool_t *p, EVCard *vc, const contact_view_t *v,
                                  xmlNodePtr app)
{
    xmlNodePtr pn = as_xml_child(app, NS_CONTACTS, "Picture");
    const char *pic = pn ? as_xml_text(p, pn, NULL) : NULL, *b64 = NULL;
    EVCardAttribute *a = v->photo;

    if (pic && *pic) {
        gsize n = 0;
        guchar *bin;
        if (strlen(pic) > AS_CONTACT_PICTURE_IN_MAX) {
            return APR_EINVAL;
        }
        bin = g_base64_decode(pic, &n);
        if (n > 0) {
            gchar *e = g_base64_encode(bin, n);
            b64 = apr_pstrdup(p, e);
            g_free(e);
        }
        g_free(bin);
    } else if (a) {
        const char *val = contact_value(p, a);
        if (!val || strncasecmp(val, "data:", 5) != 0) {
            return APR_SUCCESS; /* kept as it is */
        }
        b64 = contact_photo_b64(p, a);
    }
    if (!b64) {
        return APR_SUCCESS;
    }
    if (a) {
        e_vcard_remove_attribute(vc, a);
    }
    a = e_vcard_attribute_new(NULL, EVC_PHOTO);
    e_vcard_attribute_add_param_with_value(a, e_vcard_attribute_param_new(EVC_ENCODING), "b");
    e_vcard_attribute_add_param_with_value(a, e_vcard_attribute_param_new(EVC_TYPE), "JPEG");
    e_vcard_attribute_add_value(a, b64);
    e_vcard_append_attribute(vc, a);
    return APR_SUCCESS;
}

static void apply_uid_rev(apr_pool_t *p, EVCard *vc, const char *uid)
{
    static const char *const rev_spec[] = {"REV", NULL};
    apr_time_exp_t e;

    const char *old = contact_value(p, e_vcard_get_attribute(vc, EVC_UID));
    if (!old || !*old) {
        /* none, or an empty one: every stored item has a UID */
        static const char *const uid_spec[] = {"UID", NULL};
        remove_all(vc, uid_spec);
        e_vcard_append_attribute_with_value(vc, e_vcard_attribute_new(NULL, EVC_UID),
                                            item_uid_or_new(p, uid));
    }
    remove_all(vc, rev_spec);
    apr_time_exp_gmt(&e, apr_time_now());
    e_vcard_append_attribute_with_value(vc, e_vcard_attribute_new(NULL, EVC_REV),
                                        apr_psprintf(p, "%04d%02d%02dT%02d%02d%02dZ",
                                                     e.tm_year + 1900, e.tm_mon + 1, e.tm_mday,
                                                     e.tm_hour, e.tm_min, e.tm_sec));
}

static int token_ok(const char *s)
{
    for (; s && *s; s++) {
        if (!((*s >= 'A' && *s <= 'Z') || (*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
              *s == '-' || *s == '_')) {
            return 0;
        }
    }
    return s != NULL;
}

/* Does s mention QUOTED-PRINTABLE (EVCard reads a parameter named
 * "QUOTED-PRINTABLExyz" as one)? */
static int mentions_qp(const char *s)
{
    for (; s && *s; s++) {
        if (!strncasecmp(s, "QUOTED-PRINTABLE", 16)) {
            return 1;
        }
    }
    return 0;
}

static int param_ok(EVCardAttributeParam *pa, int *binary)
{
    const char *name = e_vcard_attribute_param_get_name(pa);
    GList *v = e_vcard_attribute_param_get_values(pa);
    if (!token_ok(name) || !strcasecmp(name, "CHARSET") || mentions_qp(name)) {
        return 0; /* 3.0 is UTF-8, and EVCard has decoded quoted-printable */
    }
    if (!strcasecmp(name, "ENCODING")) {
        int b = v && v->data && (!strcasecmp(v->data, "b") || !strcasecmp(v->data, "BASE64"));
        *binary |= b;
        return b;
    }
    for (; v; v = v->next) {
        const unsigned char *c = v->data;
        for (; c && *c; c++) {
            if (*c < 0x20 || *c == '"' || *c == 0x7F) {
                return 0;
            }
        }
        if (mentions_qp(v->data)) {
            return 0;
        }
    }
    return 1;
}

/* Make each attribute EVCard read from a broken file writable in a form it
 * reads back: parameters with a name such as "Q[X", a quote or a control
 * in a value, a CHARSET (3.0 is UTF-8: it would be converted twice) or a
 * quoted-printable ENCODING (already decoded) are dropped, and text that
 * is not UTF-8 is cleaned. */
static void make_writable(apr_pool_t *p, EVCard *vc)
{
    GList *l, *pl, *v;
    for (l = e_vcard_get_attributes(vc); l; l = l->next) {
        GList *doomed = NULL, *vals = NULL;
        int binary = 0, clean = 1;
        for (pl = e_vcard_attribute_get_params(l->data); pl; pl = pl->next) {
            if (!param_ok(pl->data, &binary)) {
                const char *name = e_vcard_attribute_param_get_name(pl->data);
                doomed = g_list_prepend(doomed, g_strdup(name ? name : ""));
            }
        }
        for (pl = doomed; pl; pl = pl->next) {
            e_vcard_attribute_remove_param(l->data, pl->data);
        }
        g_list_free_full(doomed, g_free);
        for (v = e_vcard_attribute_get_values(l->data); v && !binary; v = v->next) {
            clean &= v->data == NULL || g_utf8_validate(v->data, -1, NULL);
        }
        if (clean) {
            continue;
        }
        for (v = e_vcard_attribute_get_values(l->data); v; v = v->next) {
            const char *t = v->data ? v->data : "";
            vals = g_list_append(vals, as_utf8_clean(p, t, strlen(t), 0, NULL));
        }
        e_vcard_attribute_remove_values(l->data);
        for (v = vals; v; v = v->next) {
            e_vcard_attribute_add_value(l->data, v->data);
        }
        g_list_free(vals);
    }
}

apr_status_t contact_from_eas(xmlNodePtr app, int protocol, const char *old, apr_size_t oldlen,
                              const char *uid, apr_pool_t *p, char **out, apr_size_t *outlen)
{
    EVCard *vc = old ? contact_parse(old, oldlen) : NULL;
    contact_view_t v;
    int present;
    const char *body;
    gchar *s;

    (void)protocol; /* 12.0 and later: airsyncbase:Body; a 2.5-style contacts Body read too */
    if (!app) {
        return APR_EINVAL;
    }
    if (!vc) {
        vc = e_vcard_new(); /* an Add, or a stored file that was no vCard */
    }
    contact_view(vc, &v);
    if (apply_picture(p, vc, &v, app) != APR_SUCCESS) {
        g_object_unref(vc);
        return APR_EINVAL;
    }
    apply_names(p, vc, &v, app);
    apply_singles(p, vc, &v, app);
    apply_slots(p, vc, &v, app);
    apply_lists(p, vc, &v, app);
    body = item_body_of(p, app, NS_CONTACTS, &present);
    if (present) {
        set_slot(vc, v.note, EVC_NOTE, NULL, body);
    }
    apply_uid_rev(p, vc, uid);
    make_writable(p, vc);
    s = e_vcard_to_string(vc, EVC_FORMAT_VCARD_30);
    g_object_unref(vc);
    *outlen = strlen(s);
    *out = apr_pstrmemdup(p, s, *outlen);
    g_free(s);
    /* what is stored must read again, with its UID (a last guard against
     * a file EVCard writes in a form it cannot read) */
    vc = contact_parse(*out, *outlen);
    if (!vc || !e_vcard_get_attribute(vc, EVC_UID)) {
        if (vc) {
            g_object_unref(vc);
        }
        return APR_EINVAL;
    }
    g_object_unref(vc);
    return APR_SUCCESS;
}
