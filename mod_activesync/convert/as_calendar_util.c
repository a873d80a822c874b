/* Helpers shared by the Calendar and Tasks conversions: parsing within
 * bounds, times in both EAS forms, text, Body, Categories, CLASS and
 * VALARM (as_calendar_int.h). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "activesync/as_mime.h"
#include "activesync/as_utf8.h"
#include "activesync/as_xml.h"
#include "as_calendar_int.h"
#include "as_meeting_int.h"

icalcomponent *cal_parse(const char *data, apr_size_t len, const char **err)
{
    icalcomponent *c, *root;
    char *text;

    if (!data || len == 0 || len > CAL_FILE_MAX) {
        *err = len ? "calendar file too large" : "empty calendar file";
        return NULL;
    }
    text = malloc(len + 1); /* NULs inside end it, as they would in a file */
    if (!text) {
        *err = "out of memory";
        return NULL;
    }
    memcpy(text, data, len);
    text[len] = '\0';
    c = icalparser_parse_string(text);
    free(text);
    if (!c) {
        *err = "not iCalendar";
        return NULL;
    }
    if (icalcomponent_isa(c) == ICAL_VCALENDAR_COMPONENT) {
        root = c;
    } else {
        root = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
        icalcomponent_add_component(root, c);
    }
    if ((*err = meeting_zones_check(root)) != NULL) {
        icalcomponent_free(root);
        return NULL;
    }
    return root;
}

icalcomponent *cal_master(icalcomponent *root, icalcomponent_kind kind)
{
    icalcomponent *c, *first = NULL;
    for (c = icalcomponent_get_first_component(root, kind); c;
         c = icalcomponent_get_next_component(root, kind)) {
        if (!icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY)) {
            return c;
        }
        if (!first) {
            first = c;
        }
    }
    return first;
}

icaltimezone *cal_zone_of(icalcomponent *root, icalproperty *prop)
{
    icalparameter *tzp = prop ? icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER) : NULL;
    const char *tzid = tzp ? icalparameter_get_tzid(tzp) : NULL;
    icaltimezone *z;

    if (!tzid || !*tzid) {
        return NULL;
    }
    z = root ? icalcomponent_get_timezone(root, tzid) : NULL;
    if (!z) {
        z = icaltimezone_get_builtin_timezone_from_tzid(tzid);
    }
    while (!z && *tzid == '/') {
        tzid++;
    }
    if (!z) {
        z = icaltimezone_get_builtin_timezone(tzid);
    }
    return z == icaltimezone_get_utc_timezone() ? NULL : z;
}

const char *cal_clean(apr_pool_t *p, const char *s, int one_line)
{
    size_t n;
    if (!s) {
        return NULL;
    }
    n = strlen(s);
    if (n > CAL_MAX_TEXT) {
        n = as_mime_utf8_cut(s, n, CAL_MAX_TEXT);
    }
    return as_utf8_clean(p, s, n, one_line, NULL);
}

const char *cal_child_text(apr_pool_t *p, xmlNodePtr parent, const char *ns, const char *name)
{
    xmlNodePtr n = parent ? as_xml_child(parent, ns, name) : NULL;
    apr_size_t len;
    const char *s;
    if (!n) {
        return NULL;
    }
    s = as_xml_text(p, n, &len);
    if (!s) {
        return "";
    }
    if (len > CAL_MAX_TEXT) {
        len = as_mime_utf8_cut(s, len, CAL_MAX_TEXT);
    }
    return as_utf8_clean(p, s, len, 0, NULL);
}

int cal_child_int(apr_pool_t *p, xmlNodePtr parent, const char *ns, const char *name, int lo,
                  int hi, int dflt)
{
    const char *s = cal_child_text(p, parent, ns, name);
    char *end;
    long v;
    if (!s || !*s) {
        return dflt;
    }
    v = strtol(s, &end, 10);
    return *end || v < lo || v > hi ? dflt : (int)v;
}

const char *cal_x_prop(icalcomponent *c, const char *name)
{
    icalproperty *pr;
    for (pr = icalcomponent_get_first_property(c, ICAL_X_PROPERTY); pr;
         pr = icalcomponent_get_next_property(c, ICAL_X_PROPERTY)) {
        const char *n = icalproperty_get_x_name(pr);
        if (n && !strcasecmp(n, name)) {
            return icalproperty_get_value_as_string(pr);
        }
    }
    return NULL;
}

void cal_remove_props(icalcomponent *c, icalproperty_kind kind, const char *xname)
{
    icalproperty *pr, *next;
    for (pr = icalcomponent_get_first_property(c, kind); pr; pr = next) {
        next = icalcomponent_get_next_property(c, kind);
        if (xname) {
            const char *n = icalproperty_get_x_name(pr);
            if (!n || strcasecmp(n, xname)) {
                continue;
            }
        }
        icalcomponent_remove_property(c, pr);
        icalproperty_free(pr);
    }
}

void cal_set_x_prop(icalcomponent *c, const char *name, const char *value)
{
    icalproperty *pr;
    cal_remove_props(c, ICAL_X_PROPERTY, name);
    if (value) {
        pr = icalproperty_new_x(value);
        icalproperty_set_x_name(pr, name);
        icalcomponent_add_property(c, pr);
    }
}

/* The BodyPreference for plain text: the first of Type 1 or 2 (served as
 * plain text too), else the first. */
static const as_mime_bodypref_t *plain_pref(const as_item_opts_t *o)
{
    int i;
    if (!o || !o->prefs || o->nprefs <= 0) {
        return NULL;
    }
    for (i = 0; i < o->nprefs; i++) {
        if (o->prefs[i].type == 1 || o->prefs[i].type == 2) {
            return &o->prefs[i];
        }
    }
    return &o->prefs[0];
}

void cal_add_body(apr_pool_t *p, xmlNodePtr app, const char *text, const as_item_opts_t *o)
{
    const as_mime_bodypref_t *bp = plain_pref(o);
    apr_size_t len = text ? strlen(text) : 0, cut = len;
    xmlNodePtr body;
    int truncated = 0;

    if (len == 0) {
        return; /* no empty Body element (WP8) */
    }
    if (bp && bp->truncation > 0 && len > bp->truncation) {
        cut = as_mime_utf8_cut(text, len, bp->truncation);
        truncated = 1;
    }
    body = as_xml_add(app, NS_BASE, "Body", NULL);
    as_xml_add(body, NS_BASE, "Type", "1");
    as_xml_add(body, NS_BASE, "EstimatedDataSize", apr_psprintf(p, "%" APR_SIZE_T_FMT, len));
    as_xml_add(body, NS_BASE, "Truncated", truncated ? "1" : "0");
    if (!(truncated && bp && bp->all_or_none)) {
        as_xml_add(body, NS_BASE, "Data", apr_pstrmemdup(p, text, cut));
    }
}

const char *cal_body_of(apr_pool_t *p, xmlNodePtr app, const char *legacy_ns)
{
    xmlNodePtr b = as_xml_child(app, NS_BASE, "Body");
    if (b) {
        const char *s = cal_child_text(p, b, NS_BASE, "Data");
        return s ? s : "";
    }
    return legacy_ns ? cal_child_text(p, app, legacy_ns, "Body") : NULL;
}

void cal_add_categories(apr_pool_t *p, xmlNodePtr app, const char *ns, icalcomponent *c)
{
    icalproperty *pr;
    xmlNodePtr cats = NULL;
    int n = 0;

    for (pr = icalcomponent_get_first_property(c, ICAL_CATEGORIES_PROPERTY);
         pr && n < CAL_MAX_CATEGORIES;
         pr = icalcomponent_get_next_property(c, ICAL_CATEGORIES_PROPERTY)) {
        /* libical splits CATEGORIES:a,b into one property per value */
        const char *v = icalproperty_get_categories(pr);
        if (v && *v) {
            if (!cats) {
                cats = as_xml_add(app, ns, "Categories", NULL);
            }
            as_xml_add(cats, ns, "Category", cal_clean(p, v, 1));
            n++;
        }
    }
}

void cal_set_categories(apr_pool_t *p, icalcomponent *c, xmlNodePtr app, const char *ns)
{
    xmlNodePtr cats = as_xml_child(app, ns, "Categories"), n;
    int count = 0;
    cal_remove_props(c, ICAL_CATEGORIES_PROPERTY, NULL);
    for (n = cats ? cats->children : NULL; n && count < CAL_MAX_CATEGORIES; n = n->next) {
        const char *v;
        if (n->type != XML_ELEMENT_NODE || !as_xml_is(n, ns, "Category")) {
            continue;
        }
        v = as_xml_text(p, n, NULL);
        if (v && *v) {
            icalcomponent_add_property(c, icalproperty_new_categories(cal_clean(p, v, 1)));
            count++;
        }
    }
}

int cal_sensitivity_of(icalcomponent *c)
{
    icalproperty *pr = icalcomponent_get_first_property(c, ICAL_CLASS_PROPERTY);
    enum icalproperty_class k = pr ? icalproperty_get_class(pr) : ICAL_CLASS_PUBLIC;
    const char *x = cal_x_prop(c, "X-EAS-SENSITIVITY");
    if (k == ICAL_CLASS_PRIVATE) {
        return x && !strcmp(x, "1") ? 1 : 2; /* Personal is kept as PRIVATE + a hint */
    }
    return k == ICAL_CLASS_CONFIDENTIAL ? 3 : 0;
}

void cal_set_sensitivity(icalcomponent *c, int s)
{
    cal_remove_props(c, ICAL_CLASS_PROPERTY, NULL);
    cal_set_x_prop(c, "X-EAS-SENSITIVITY", s == 1 ? "1" : NULL);
    if (s >= 1 && s <= 3) {
        icalcomponent_add_property(
            c, icalproperty_new_class(s == 3 ? ICAL_CLASS_CONFIDENTIAL : ICAL_CLASS_PRIVATE));
    }
}

/* The first VALARM whose TRIGGER is relative to the start. */
static icalcomponent *relative_alarm(icalcomponent *c, icalproperty **trig)
{
    icalcomponent *al;
    for (al = icalcomponent_get_first_component(c, ICAL_VALARM_COMPONENT); al;
         al = icalcomponent_get_next_component(c, ICAL_VALARM_COMPONENT)) {
        icalproperty *pr = icalcomponent_get_first_property(al, ICAL_TRIGGER_PROPERTY);
        icalparameter *rel =
            pr ? icalproperty_get_first_parameter(pr, ICAL_RELATED_PARAMETER) : NULL;
        if (pr && icaltime_is_null_time(icalproperty_get_trigger(pr).time) &&
            (!rel || icalparameter_get_related(rel) != ICAL_RELATED_END)) {
            *trig = pr;
            return al;
        }
    }
    return NULL;
}

int cal_reminder_of(icalcomponent *c)
{
    icalproperty *pr = NULL;
    long long secs;
    if (!relative_alarm(c, &pr)) {
        return -1;
    }
    secs = icaldurationtype_as_int(icalproperty_get_trigger(pr).duration);
    if (secs > 0) {
        return 0; /* after the start: the phone can only remind at it */
    }
    secs = -secs / 60;
    return secs > 65535 ? 65535 : (int)secs;
}

void cal_set_reminder(icalcomponent *c, int minutes)
{
    icalproperty *pr = NULL;
    icalcomponent *al = relative_alarm(c, &pr);
    struct icaltriggertype tr;

    if (minutes < 0) {
        if (al) {
            icalcomponent_remove_component(c, al);
            icalcomponent_free(al);
        }
        return;
    }
    memset(&tr, 0, sizeof tr);
    tr.time = icaltime_null_time();
    tr.duration = icaldurationtype_from_int(-minutes * 60);
    if (al) {
        if (cal_reminder_of(c) != minutes) {
            icalproperty_set_trigger(pr, tr);
        }
        return;
    }
    al = icalcomponent_new(ICAL_VALARM_COMPONENT);
    icalcomponent_add_property(al, icalproperty_new_action(ICAL_ACTION_DISPLAY));
    icalcomponent_add_property(al, icalproperty_new_description("Reminder"));
    icalcomponent_add_property(al, icalproperty_new_trigger(tr));
    icalcomponent_add_component(c, al);
}

/* Is value what the phone was sent for cur (controls sent as spaces)? */
static int same_text(const char *cur, const char *value)
{
    const unsigned char *a = (const unsigned char *)cur, *b = (const unsigned char *)value;
    for (; *a && *b; a++, b++) {
        unsigned char c = *a < 0x20 || *a == 0x7f ? ' ' : *a;
        if (c != *b) {
            return 0;
        }
    }
    return !*a && !*b;
}

void cal_set_text(icalcomponent *ev, icalproperty_kind kind, const char *value)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, kind);
    if (pr && value && *value) {
        const char *cur = kind == ICAL_SUMMARY_PROPERTY    ? icalproperty_get_summary(pr)
                          : kind == ICAL_LOCATION_PROPERTY ? icalproperty_get_location(pr)
                                                           : icalproperty_get_description(pr);
        if (cur && (!strcmp(cur, value) || same_text(cur, value))) {
            return;
        }
    }
    cal_remove_props(ev, kind, NULL);
    if (value && *value) {
        icalproperty *n = icalproperty_new(kind);
        icalproperty_set_value(n, icalvalue_new_text(value));
        icalcomponent_add_property(ev, n);
    }
}

void cal_set_body(icalcomponent *ev, const char *body)
{
    const char *old = icalcomponent_get_description(ev);
    if (!body) {
        return;
    }
    if (old && *body && strlen(body) < strlen(old) && !strncmp(old, body, strlen(body))) {
        return;
    }
    cal_set_text(ev, ICAL_DESCRIPTION_PROPERTY, body);
}

char *cal_serialize(apr_pool_t *p, icalcomponent *root, apr_size_t *len)
{
    char *s = icalcomponent_as_ical_string_r(root);
    char *out = apr_pstrdup(p, s ? s : "");
    free(s);
    *len = strlen(out);
    return out;
}

const char *cal_new_uid(apr_pool_t *p)
{
    unsigned char b[16];
    char *s = apr_palloc(p, 2 * sizeof b + 1);
    size_t i;
    if (apr_generate_random_bytes(b, sizeof b) != APR_SUCCESS) {
        memset(b, 0, sizeof b); /* never in practice; the time still differs */
        apr_time_t now = apr_time_now();
        memcpy(b, &now, sizeof now);
    }
    for (i = 0; i < sizeof b; i++) {
        sprintf(s + 2 * i, "%02x", b[i]);
    }
    return s;
}

short cal_encode_day(int wday, int pos)
{
    /* libical 3.0's encoding (icalrecurrencetype_day_position) */
    int v = wday + 8 * (pos < 0 ? -pos : pos);
    return (short)(pos < 0 ? -v : v);
}
