/* Notes (MS-ASNOTE, 14.0+): a VJOURNAL in a VCALENDAR (libical) <-> the
 * EAS Notes ApplicationData: SUMMARY is Subject, DESCRIPTION the Body
 * (Type 1), CATEGORIES the Categories, LAST-MODIFIED the
 * LastModifiedDate; MessageClass is always IPM.StickyNote.  A phone's
 * change rewrites those properties in the stored component and keeps
 * every other one (UID, DTSTART, X- properties, other components). */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <libical/ical.h>

#include "activesync/as_utf8.h"
#include "activesync/as_xml.h"
#include "as_item_int.h"

/* The stored calendar (NULL: not one) and its first VJOURNAL in *j. */
static icalcomponent *note_parse(const char *data, apr_size_t len, icalcomponent **j)
{
    icalcomponent *top;
    char *copy;

    *j = NULL;
    if (!data || len == 0 || len > AS_ITEM_MAX_BYTES) {
        return NULL;
    }
    /* broken input must come back as an error, never abort the process */
    icalerror_set_errors_are_fatal(0);
    copy = malloc(len + 1);
    if (!copy) {
        return NULL;
    }
    memcpy(copy, data, len);
    copy[len] = '\0';
    top = icalparser_parse_string(copy);
    free(copy);
    if (!top) {
        return NULL;
    }
    if (icalcomponent_isa(top) == ICAL_VJOURNAL_COMPONENT) {
        *j = top;
    } else if (icalcomponent_isa(top) == ICAL_VCALENDAR_COMPONENT) {
        *j = icalcomponent_get_first_component(top, ICAL_VJOURNAL_COMPONENT);
    }
    if (!*j) {
        icalcomponent_free(top);
        return NULL;
    }
    return top;
}

static const char *text_of(icalcomponent *j, icalproperty_kind kind)
{
    icalproperty *pr = icalcomponent_get_first_property(j, kind);
    const char *v = pr ? icalproperty_get_value_as_string(pr) : NULL;
    if (!pr || !v) {
        return NULL;
    }
    /* the text value, unescaped */
    return kind == ICAL_SUMMARY_PROPERTY       ? icalproperty_get_summary(pr)
           : kind == ICAL_DESCRIPTION_PROPERTY ? icalproperty_get_description(pr)
                                               : v;
}

static apr_status_t note_to_eas(const char *data, apr_size_t len, const as_item_opts_t *o,
                                xmlNodePtr app, apr_pool_t *p)
{
    icalcomponent *j, *top = note_parse(data, len, &j);
    icalproperty *pr;
    const char **cats;
    int n = 0;

    if (!top) {
        return APR_EINVAL;
    }
    item_add_text(p, app, NS_NOTES, "Subject", text_of(j, ICAL_SUMMARY_PROPERTY));
    item_add_body(p, app, text_of(j, ICAL_DESCRIPTION_PROPERTY), o);
    as_xml_add(app, NS_NOTES, "MessageClass", "IPM.StickyNote");
    pr = icalcomponent_get_first_property(j, ICAL_LASTMODIFIED_PROPERTY);
    if (!pr) {
        pr = icalcomponent_get_first_property(j, ICAL_DTSTAMP_PROPERTY);
    }
    if (pr) {
        struct icaltimetype t = icalproperty_get_lastmodified(pr);
        if (!icaltime_is_null_time(t) && icaltime_is_valid_time(t)) {
            as_xml_add(app, NS_NOTES, "LastModifiedDate",
                       item_utc_str(p, apr_time_from_sec(icaltime_as_timet(t))));
        }
    }
    cats = apr_pcalloc(p, (AS_ITEM_MAX_LIST + 1) * sizeof *cats);
    for (pr = icalcomponent_get_first_property(j, ICAL_CATEGORIES_PROPERTY);
         pr && n < AS_ITEM_MAX_LIST;
         pr = icalcomponent_get_next_property(j, ICAL_CATEGORIES_PROPERTY)) {
        const char *c = icalproperty_get_categories(pr);
        if (c && *c) {
            cats[n++] = apr_pstrdup(p, c);
        }
    }
    item_add_list(p, app, NS_NOTES, "Categories", "Category", cats);
    icalcomponent_free(top);
    return APR_SUCCESS;
}

static void remove_props(icalcomponent *j, icalproperty_kind kind)
{
    icalproperty *pr;
    while ((pr = icalcomponent_get_first_property(j, kind)) != NULL) {
        icalcomponent_remove_property(j, pr);
        icalproperty_free(pr);
    }
}

static struct icaltimetype utc_time(apr_time_t t)
{
    return icaltime_from_timet_with_zone((time_t)apr_time_sec(t), 0,
                                         icaltimezone_get_utc_timezone());
}

/* A new calendar with one VJOURNAL. */
static icalcomponent *note_new(apr_pool_t *p, const char *uid, icalcomponent **j)
{
    icalcomponent *top = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);

    icalcomponent_add_property(top, icalproperty_new_version("2.0"));
    icalcomponent_add_property(top, icalproperty_new_prodid("-//mod_activesync//Notes//EN"));
    *j = icalcomponent_new(ICAL_VJOURNAL_COMPONENT);
    icalcomponent_add_property(*j, icalproperty_new_uid(item_uid_or_new(p, uid)));
    icalcomponent_add_property(*j, icalproperty_new_dtstart(utc_time(apr_time_now())));
    icalcomponent_add_component(top, *j);
    return top;
}

static apr_status_t note_from_eas(xmlNodePtr app, int protocol, const char *old, apr_size_t oldlen,
                                  const char *uid, apr_pool_t *p, char **out, apr_size_t *outlen)
{
    icalcomponent *j, *top = old ? note_parse(old, oldlen, &j) : NULL;
    const char *subject = item_child_text(p, app, NS_NOTES, "Subject"), *body, *lm;
    const char **cats;
    int present, y, mo, d, h, mi, s, i;
    apr_time_t when = apr_time_now();
    char *ics;

    (void)protocol;
    if (!app) {
        return APR_EINVAL;
    }
    if (!top) {
        top = note_new(p, uid, &j);
    } else if (!icalcomponent_get_uid(j) || !*icalcomponent_get_uid(j)) {
        /* none, or an empty one: every stored item has a UID */
        remove_props(j, ICAL_UID_PROPERTY);
        icalcomponent_add_property(j, icalproperty_new_uid(item_uid_or_new(p, uid)));
    }
    remove_props(j, ICAL_SUMMARY_PROPERTY);
    if (subject && *subject) {
        icalcomponent_add_property(j, icalproperty_new_summary(subject));
    }
    body = item_body_of(p, app, NULL, &present);
    if (present) {
        remove_props(j, ICAL_DESCRIPTION_PROPERTY);
        if (body && *body) {
            icalcomponent_add_property(j, icalproperty_new_description(body));
        }
    }
    remove_props(j, ICAL_CATEGORIES_PROPERTY);
    cats = item_list_of(p, app, NS_NOTES, "Categories", "Category", &present);
    for (i = 0; cats[i]; i++) {
        icalcomponent_add_property(j, icalproperty_new_categories(cats[i]));
    }
    lm = item_child_text(p, app, NS_NOTES, "LastModifiedDate");
    if (lm && item_parse_datetime(lm, &y, &mo, &d, &h, &mi, &s) && y >= 1970 && y < 10000) {
        apr_time_exp_t e = {0};
        e.tm_year = y - 1900;
        e.tm_mon = mo - 1;
        e.tm_mday = d;
        e.tm_hour = h;
        e.tm_min = mi;
        e.tm_sec = s > 59 ? 59 : s;
        if (apr_time_exp_gmt_get(&when, &e) != APR_SUCCESS) {
            when = apr_time_now();
        }
    }
    remove_props(j, ICAL_LASTMODIFIED_PROPERTY);
    icalcomponent_add_property(j, icalproperty_new_lastmodified(utc_time(when)));
    remove_props(j, ICAL_DTSTAMP_PROPERTY);
    icalcomponent_add_property(j, icalproperty_new_dtstamp(utc_time(apr_time_now())));

    ics = icalcomponent_as_ical_string_r(top);
    icalcomponent_free(top);
    if (!ics) {
        return APR_EINVAL;
    }
    *outlen = strlen(ics);
    *out = apr_pstrmemdup(p, ics, *outlen);
    free(ics);
    return APR_SUCCESS;
}

static const char *note_uid_of(const char *data, apr_size_t len, apr_pool_t *p)
{
    icalcomponent *j, *top = note_parse(data, len, &j);
    const char *uid = top ? icalcomponent_get_uid(j) : NULL;
    uid = uid && *uid ? as_utf8_clean(p, uid, strlen(uid), 0, NULL) : NULL;
    if (top) {
        icalcomponent_free(top);
    }
    return uid;
}

const as_item_codec_t as_note_codec = {
    AS_CLASS_NOTES,
    note_to_eas,
    note_from_eas,
    note_uid_of,
};
