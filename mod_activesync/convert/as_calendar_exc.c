/* EXDATE and RECURRENCE-ID overrides <-> Exceptions/Exception (MS-ASCAL
 * 2.2.2.21).  An Exception carries the original start of its instance
 * (ExceptionStartTime, 16.x airsyncbase:InstanceId) and only the fields in
 * which the instance differs from the series. */
#include <string.h>

#include <apr_strings.h>
#include <libxml/tree.h>

#include "activesync/as_xml.h"
#include "as_calendar_int.h"

static int is_all_day(icalcomponent *ev)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    return pr && icalproperty_get_dtstart(pr).is_date;
}

/* The original start of an instance as UTC seconds. */
static time_t rid_utc(icalcomponent *root, icalproperty *pr, struct icaltimetype t,
                      icaltimezone *zone)
{
    icaltimezone *z = icaltime_is_utc(t) ? NULL : cal_zone_of(root, pr);
    return cal_to_utc(t, z ? z : (icaltime_is_utc(t) ? NULL : zone));
}

static const char *instance_time(apr_pool_t *p, time_t t, int protocol)
{
    return protocol >= 160 ? cal_datetime(p, t) : cal_compact(p, t);
}

static xmlNodePtr new_exception(apr_pool_t *p, xmlNodePtr *list, xmlNodePtr app, time_t orig,
                                const as_item_opts_t *o)
{
    xmlNodePtr ex;
    if (!*list) {
        *list = as_xml_add(app, NS_CAL, "Exceptions", NULL);
    }
    ex = as_xml_add(*list, NS_CAL, "Exception", NULL);
    if (o->protocol >= 160) {
        as_xml_add(ex, NS_BASE, "InstanceId", instance_time(p, orig, o->protocol));
    } else {
        as_xml_add(ex, NS_CAL, "ExceptionStartTime", instance_time(p, orig, o->protocol));
    }
    return ex;
}

/* Move into ex the children of ov (the override's fields) that the
 * series' fields (ma) do not have alike. */
static void move_changed(xmlNodePtr ex, xmlNodePtr ov, xmlNodePtr ma)
{
    xmlNodePtr c, next, m;
    for (c = ov->children; c; c = next) {
        xmlChar *a, *b = NULL;
        int same = 0;
        next = c->next;
        if (c->type != XML_ELEMENT_NODE) {
            continue;
        }
        m = as_xml_child(ma, (const char *)c->ns->href, (const char *)c->name);
        if (m) {
            a = xmlNodeGetContent(c);
            b = xmlNodeGetContent(m);
            same = a && b && !strcmp((const char *)a, (const char *)b);
            xmlFree(a);
            xmlFree(b);
        }
        if (!same) {
            xmlUnlinkNode(c);
            xmlAddChild(ex, c);
        }
    }
}

static void override_to_eas(apr_pool_t *p, icalcomponent *ov, xmlNodePtr ex, xmlNodePtr ma,
                            icaltimezone *zone, const as_item_opts_t *o)
{
    icalproperty *pr = icalcomponent_get_first_property(ov, ICAL_DTSTART_PROPERTY);
    icalcomponent *root = icalcomponent_get_parent(ov);
    xmlNodePtr fields = as_xml_add(ex, NS_CAL, "Fields", NULL);
    struct icaltimetype st, en;

    if (pr) {
        st = icalproperty_get_dtstart(pr);
        as_xml_add(ex, NS_CAL, "StartTime", cal_compact(p, rid_utc(root, pr, st, zone)));
        pr = icalcomponent_get_first_property(ov, ICAL_DTEND_PROPERTY);
        if (pr) {
            en = icalproperty_get_dtend(pr);
            as_xml_add(ex, NS_CAL, "EndTime", cal_compact(p, rid_utc(root, pr, en, zone)));
        } else {
            struct icaldurationtype d = icalcomponent_get_duration(ov);
            as_xml_add(
                ex, NS_CAL, "EndTime",
                cal_compact(p, rid_utc(root,
                                       icalcomponent_get_first_property(ov, ICAL_DTSTART_PROPERTY),
                                       st, zone) +
                                   icaldurationtype_as_int(d)));
        }
        as_xml_add(ex, NS_CAL, "AllDayEvent", st.is_date ? "1" : "0");
    }
    cal_event_fields_to_eas(p, ov, fields, o, 1);
    move_changed(ex, fields, ma);
    xmlUnlinkNode(fields);
    xmlFreeNode(fields);
}

void cal_exceptions_to_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *master,
                           icaltimezone *zone, xmlNodePtr app, const as_item_opts_t *o)
{
    const char *uid = icalcomponent_get_uid(master);
    xmlNodePtr list = NULL, ma = NULL;
    icalcomponent *ov;
    icalproperty *pr;
    int n = 0;

    for (pr = icalcomponent_get_first_property(master, ICAL_EXDATE_PROPERTY);
         pr && n < CAL_MAX_EXCEPTIONS;
         pr = icalcomponent_get_next_property(master, ICAL_EXDATE_PROPERTY), n++) {
        struct icaltimetype t = icalproperty_get_exdate(pr);
        xmlNodePtr ex;
        if (icaltime_is_null_time(t)) {
            continue;
        }
        ex = new_exception(p, &list, app, rid_utc(root, pr, t, zone), o);
        as_xml_add(ex, NS_CAL, "Deleted", "1");
    }
    for (ov = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
         ov && n < CAL_MAX_EXCEPTIONS;
         ov = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        const char *ouid = icalcomponent_get_uid(ov);
        struct icaltimetype t;
        if (ov == master ||
            !(pr = icalcomponent_get_first_property(ov, ICAL_RECURRENCEID_PROPERTY)) ||
            (uid && ouid && strcmp(uid, ouid))) {
            continue;
        }
        t = icalproperty_get_recurrenceid(pr);
        if (icaltime_is_null_time(t)) {
            continue;
        }
        if (!ma) {
            ma = as_xml_add(app, NS_CAL, "Series", NULL); /* scratch: the series' fields */
            cal_event_fields_to_eas(p, master, ma, o, 1);
        }
        override_to_eas(p, ov, new_exception(p, &list, app, rid_utc(root, pr, t, zone), o), ma,
                        zone, o);
        n++;
    }
    if (ma) {
        xmlUnlinkNode(ma);
        xmlFreeNode(ma);
    }
}

/* ---------------------------------------------------------------------------
 * From the phone
 */

/* The file's overrides by original start, computed once: a phone's
 * Exceptions (up to CAL_MAX_EXCEPTIONS) are each looked up here. */
typedef struct rid_index_t {
    int n;
    time_t *rid;
    icalcomponent **ov; /* NULL once taken */
} rid_index_t;

static void index_overrides(apr_pool_t *p, icalcomponent *root, icalcomponent *master,
                            icaltimezone *zone, rid_index_t *ix)
{
    icalcomponent *ov;
    int max = icalcomponent_count_components(root, ICAL_VEVENT_COMPONENT);
    ix->n = 0;
    ix->rid = apr_palloc(p, sizeof *ix->rid * (size_t)(max > 0 ? max : 1));
    ix->ov = apr_palloc(p, sizeof *ix->ov * (size_t)(max > 0 ? max : 1));
    for (ov = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ov && ix->n < max;
         ov = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        icalproperty *pr = icalcomponent_get_first_property(ov, ICAL_RECURRENCEID_PROPERTY);
        if (ov != master && pr) {
            ix->rid[ix->n] = rid_utc(root, pr, icalproperty_get_recurrenceid(pr), zone);
            ix->ov[ix->n++] = ov;
        }
    }
}

/* The override whose RECURRENCE-ID is orig (taken from the index), NULL
 * when none. */
static icalcomponent *take_override(rid_index_t *ix, time_t orig)
{
    int i;
    for (i = 0; i < ix->n; i++) {
        if (ix->ov[i] && ix->rid[i] == orig) {
            icalcomponent *ov = ix->ov[i];
            ix->ov[i] = NULL;
            return ov;
        }
    }
    return NULL;
}

/* An instance's original start as the series writes its DTSTART. */
static struct icaltimetype series_time(icalcomponent *master, time_t t, icaltimezone *zone)
{
    struct icaltimetype v = cal_local_time(t, zone);
    if (is_all_day(master)) {
        v.is_date = 1;
        v.hour = v.minute = v.second = 0;
        v.zone = NULL;
    } else if (zone) {
        v.zone = NULL; /* written with a TZID parameter */
    }
    return v;
}

static icalproperty *with_tzid(icalproperty *pr, struct icaltimetype t, icaltimezone *zone)
{
    if (!t.is_date && zone) {
        icalproperty_add_parameter(pr, icalparameter_new_tzid(icaltimezone_get_tzid(zone)));
    }
    return pr;
}

/* A new override of the instance at orig: a copy of the series at that
 * time, without the series' own rules. */
static icalcomponent *new_override(icalcomponent *root, icalcomponent *master, time_t orig,
                                   icaltimezone *zone)
{
    icalcomponent *ov = icalcomponent_new_clone(master);
    struct icaltimetype rid = series_time(master, orig, zone);
    struct icaldurationtype d = icalcomponent_get_duration(master);
    time_t end = orig + (icaldurationtype_is_bad_duration(d) ? 0 : icaldurationtype_as_int(d));
    struct icaltimetype et = series_time(master, end, zone);

    cal_remove_props(ov, ICAL_RRULE_PROPERTY, NULL);
    cal_remove_props(ov, ICAL_RDATE_PROPERTY, NULL);
    cal_remove_props(ov, ICAL_EXDATE_PROPERTY, NULL);
    cal_remove_props(ov, ICAL_DTSTART_PROPERTY, NULL);
    cal_remove_props(ov, ICAL_DTEND_PROPERTY, NULL);
    cal_remove_props(ov, ICAL_DURATION_PROPERTY, NULL);
    icalcomponent_add_property(ov, with_tzid(icalproperty_new_recurrenceid(rid), rid, zone));
    icalcomponent_add_property(ov, with_tzid(icalproperty_new_dtstart(rid), rid, zone));
    icalcomponent_add_property(ov, with_tzid(icalproperty_new_dtend(et), et, zone));
    icalcomponent_add_component(root, ov);
    return ov;
}

static void add_exdate(icalcomponent *master, time_t orig, icaltimezone *zone)
{
    struct icaltimetype t = series_time(master, orig, zone);
    icalproperty *pr;
    for (pr = icalcomponent_get_first_property(master, ICAL_EXDATE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(master, ICAL_EXDATE_PROPERTY)) {
        if (rid_utc(icalcomponent_get_parent(master), pr, icalproperty_get_exdate(pr), zone) ==
            orig) {
            return;
        }
    }
    icalcomponent_add_property(master, with_tzid(icalproperty_new_exdate(t), t, zone));
}

/* The original start of a phone's Exception; -1 without one. */
static int exception_time(apr_pool_t *p, xmlNodePtr ex, time_t *t)
{
    const char *s = cal_child_text(p, ex, NS_CAL, "ExceptionStartTime");
    if (!s) {
        s = cal_child_text(p, ex, NS_BASE, "InstanceId");
    }
    return s ? cal_parse_time(s, t) : -1;
}

void cal_exceptions_from_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *master,
                             icaltimezone *zone, xmlNodePtr exs)
{
    icalcomponent *ov, *next, *seen = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    icalproperty *pr;
    xmlNodePtr ex;
    rid_index_t ix;
    int n = 0;

    index_overrides(p, root, master, zone, &ix);
    /* the phone's list is the whole list: what is not in it goes */
    cal_remove_props(master, ICAL_EXDATE_PROPERTY, NULL);
    for (ex = exs ? exs->children : NULL; ex && n < CAL_MAX_EXCEPTIONS; ex = ex->next) {
        time_t orig;
        if (!as_xml_is(ex, NS_CAL, "Exception") || exception_time(p, ex, &orig) < 0) {
            continue;
        }
        n++;
        ov = take_override(&ix, orig);
        if (cal_child_int(p, ex, NS_CAL, "Deleted", 0, 1, 0)) {
            add_exdate(master, orig, zone);
            if (ov) {
                icalcomponent_remove_component(root, ov);
                icalcomponent_free(ov);
            }
            continue;
        }
        if (!ov) {
            ov = new_override(root, master, orig, zone);
        }
        if (as_xml_child(ex, NS_CAL, "StartTime")) {
            cal_event_times_from_eas(p, ov, ex, zone, is_all_day(master));
        }
        cal_event_fields_from_eas(p, ov, ex, 1);
        /* park it: overrides left in root afterwards were dropped by the phone */
        icalcomponent_remove_component(root, ov);
        icalcomponent_add_component(seen, ov);
    }
    for (ov = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ov; ov = next) {
        next = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT);
        pr = icalcomponent_get_first_property(ov, ICAL_RECURRENCEID_PROPERTY);
        if (ov != master && pr) {
            icalcomponent_remove_component(root, ov);
            icalcomponent_free(ov);
        }
    }
    while ((ov = icalcomponent_get_first_component(seen, ICAL_VEVENT_COMPONENT)) != NULL) {
        icalcomponent_remove_component(seen, ov);
        icalcomponent_add_component(root, ov);
    }
    icalcomponent_free(seen);
}

/* ---------------------------------------------------------------------------
 * One instance: a 16.x Change or Delete with InstanceId (as_calendar.c),
 * MeetingResponse on one occurrence (as_meeting_answer.c)
 */

/* The override of the instance that started at orig, NULL when none. */
static icalcomponent *override_of(icalcomponent *root, icalcomponent *master, time_t orig,
                                  icaltimezone *zone)
{
    icalcomponent *ov;
    for (ov = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ov;
         ov = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        icalproperty *pr = icalcomponent_get_first_property(ov, ICAL_RECURRENCEID_PROPERTY);
        if (ov != master && pr &&
            rid_utc(root, pr, icalproperty_get_recurrenceid(pr), zone) == orig) {
            return ov;
        }
    }
    return NULL;
}

icalcomponent *cal_instance_override(icalcomponent *root, icalcomponent *master, time_t orig,
                                     icaltimezone *zone)
{
    icalcomponent *ov = override_of(root, master, orig, zone);
    return ov ? ov : new_override(root, master, orig, zone);
}

void cal_instance_delete(icalcomponent *root, icalcomponent *master, time_t orig,
                         icaltimezone *zone)
{
    icalcomponent *ov = override_of(root, master, orig, zone);
    add_exdate(master, orig, zone);
    if (ov) {
        icalcomponent_remove_component(root, ov);
        icalcomponent_free(ov);
    }
}

void cal_instance_from_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *master,
                           icaltimezone *zone, time_t orig, xmlNodePtr app)
{
    icalcomponent *ov;

    if (!app) { /* the instance goes: EXDATE, and its override with it */
        cal_instance_delete(root, master, orig, zone);
        return;
    }
    ov = cal_instance_override(root, master, orig, zone);
    if (as_xml_child(app, NS_CAL, "StartTime")) {
        cal_event_times_from_eas(p, ov, app, zone, is_all_day(master));
    }
    cal_event_fields_from_eas(p, ov, app, 1);
}
