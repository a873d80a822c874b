/* Contacts: a stored vCard (2.1, 3.0 or 4.0, read with evolution-data-
 * server's EVCard) -> the EAS Contacts ApplicationData (MS-ASCNTC), and
 * the codec of the class. */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "activesync/as_utf8.h"
#include "activesync/as_xml.h"
#include "as_contact_int.h"

/* The IM address as the phone shows it: our own "x-apple:" prefix (the
 * URI scheme IMPP needs when the phone gave none) left out. */
static const char *im_text(apr_pool_t *p, EVCardAttribute *a)
{
    const char *v = contact_value(p, a);
    if (v && !strncasecmp(v, "x-apple:", 8)) {
        v += 8;
    }
    return v;
}

static void add_names(apr_pool_t *p, const contact_view_t *v, xmlNodePtr app)
{
    const char *fileas = contact_value(p, v->fileas ? v->fileas : v->fn);
    int i;

    item_add_text(p, app, NS_CONTACTS, "FileAs", fileas);
    for (i = 0; i < 5 && v->n; i++) {
        item_add_text(p, app, contact_n_parts[i].ns, contact_n_parts[i].name,
                      contact_component(p, v->n, contact_n_parts[i].index));
    }
    for (i = 0; i < 2 && v->org; i++) {
        item_add_text(p, app, contact_org_parts[i].ns, contact_org_parts[i].name,
                      contact_component(p, v->org, contact_org_parts[i].index));
    }
    for (i = 0; i < CONTACT_SINGLES; i++) {
        const char *val = contact_value(p, v->single[i]);
        if (val && contact_singles[i].date) {
            val = contact_date_to_eas(p, val);
        }
        item_add_text(p, app, contact_singles[i].ns, contact_singles[i].name, val);
    }
}

static void add_addresses(apr_pool_t *p, const contact_view_t *v, xmlNodePtr app)
{
    int c, k;
    for (c = 0; c < ADR_CLASSES; c++) {
        for (k = 0; k < 5 && v->adr[c]; k++) {
            item_add_text(
                p, app, NS_CONTACTS,
                apr_pstrcat(p, contact_adrs[c].prefix, "Address", contact_adr_parts[k], NULL),
                contact_component(p, v->adr[c], k + 2));
        }
    }
}

static void add_lists(apr_pool_t *p, EVCard *vc, const contact_view_t *cv, xmlNodePtr app)
{
    const char **cats = apr_pcalloc(p, (AS_ITEM_MAX_LIST + 1) * sizeof *cats);
    const char **kids = apr_pcalloc(p, (AS_ITEM_MAX_LIST + 1) * sizeof *kids);
    int nc = 0, i;
    GList *l, *v;

    for (l = e_vcard_get_attributes(vc); l; l = l->next) {
        if (contact_attr_is(l->data, "CATEGORIES")) {
            for (v = e_vcard_attribute_get_values(l->data); v && nc < AS_ITEM_MAX_LIST;
                 v = v->next) {
                if (v->data && *(const char *)v->data) {
                    cats[nc++] = apr_pstrdup(p, v->data);
                }
            }
        }
    }
    for (i = 0; i < cv->nchild; i++) {
        kids[i] = contact_value(p, cv->child[i]);
    }
    item_add_list(p, app, NS_CONTACTS, "Categories", "Category", cats);
    item_add_list(p, app, NS_CONTACTS, "Children", "Child", kids);
}

static apr_status_t contact_to_eas(const char *data, apr_size_t len, const as_item_opts_t *o,
                                   xmlNodePtr app, apr_pool_t *p)
{
    EVCard *vc = contact_parse(data, len);
    contact_view_t v;
    const char *photo;
    int i, k;

    if (!vc) {
        return APR_EINVAL;
    }
    contact_view(vc, &v);
    add_names(p, &v, app);
    for (i = 0; i < CONTACT_EMAILS; i++) {
        item_add_text(p, app, NS_CONTACTS, apr_psprintf(p, "Email%dAddress", i + 1),
                      contact_value(p, v.email[i]));
    }
    for (i = 0; i < CONTACT_IMS; i++) {
        item_add_text(p, app, NS_CONTACTS2, i ? apr_psprintf(p, "IMAddress%d", i + 1) : "IMAddress",
                      im_text(p, v.im[i]));
    }
    for (k = 0; contact_phones[k].name; k++) {
        const char *tel = contact_value(p, v.tel[contact_phones[k].cls][contact_phones[k].slot]);
        if (tel && !strncasecmp(tel, "tel:", 4)) {
            tel += 4; /* vCard 4.0 TEL;VALUE=uri */
        }
        item_add_text(p, app, contact_phones[k].ns, contact_phones[k].name, tel);
    }
    add_addresses(p, &v, app);
    add_lists(p, vc, &v, app);
    photo = v.photo ? contact_photo_b64(p, v.photo) : NULL;
    if (photo && strlen(photo) <= AS_CONTACT_PICTURE_MAX) {
        as_xml_add(app, NS_CONTACTS, "Picture", photo);
    } else if (photo && o && o->log) {
        as_log(o->log, AS_LOG_MARK, AS_LOG_INFO, 0,
               "contact picture of %" APR_SIZE_T_FMT " base64 bytes not sent (limit %d)",
               strlen(photo), AS_CONTACT_PICTURE_MAX);
    }
    item_add_body(p, app, contact_value(p, v.note), o);
    g_object_unref(vc);
    return APR_SUCCESS;
}

static const char *contact_uid_of(const char *data, apr_size_t len, apr_pool_t *p)
{
    EVCard *vc = contact_parse(data, len);
    EVCardAttribute *a = vc ? e_vcard_get_attribute(vc, EVC_UID) : NULL;
    const char *uid = a ? contact_value(p, a) : NULL;
    if (vc) {
        g_object_unref(vc);
    }
    /* as it is written back (as_contact_from.c cleans text that is not UTF-8) */
    return uid && *uid ? as_utf8_clean(p, uid, strlen(uid), 0, NULL) : NULL;
}

const as_item_codec_t as_contact_codec = {
    AS_CLASS_CONTACTS,
    contact_to_eas,
    contact_from_eas,
    contact_uid_of,
};
