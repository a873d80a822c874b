/* The Tasks class: an iCalendar VTODO <-> EAS Tasks ApplicationData
 * (MS-ASTASK), for the item codec (as_item_codec.h).
 *
 * Dates go both as the real instant (UtcStartDate, UtcDueDate) and as the
 * local wall clock written as if it were UTC (StartDate, DueDate).  A DATE
 * value is midnight in both.  A phone's date at midnight becomes a DATE
 * again unless the file had a time there. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_xml.h"
#include "as_calendar_int.h"

/* PRIORITY 1-4 high, 5 (or none) normal, 6-9 low (RFC 5545 3.8.1.9). */
static int importance_of(icalcomponent *td)
{
    icalproperty *pr = icalcomponent_get_first_property(td, ICAL_PRIORITY_PROPERTY);
    int v = pr ? icalproperty_get_priority(pr) : 0;
    return v >= 1 && v <= 4 ? 2 : (v >= 6 ? 0 : 1);
}

/* A DTSTART or DUE as the pair (real instant, local clock as UTC). */
static int date_pair(icalcomponent *root, icalproperty *pr, struct icaltimetype t, time_t *utc,
                     time_t *local)
{
    icaltimezone *z;
    if (!pr || icaltime_is_null_time(t) || !icaltime_is_valid_time(t)) {
        return -1;
    }
    z = t.is_date || icaltime_is_utc(t) ? NULL : cal_zone_of(root, pr);
    *utc = cal_to_utc(t, z);
    *local = cal_to_utc(t, NULL);
    return 0;
}

static void add_dates(apr_pool_t *p, icalcomponent *root, icalcomponent *td, xmlNodePtr app,
                      icalproperty_kind kind, const char *local_name, const char *utc_name)
{
    icalproperty *pr = icalcomponent_get_first_property(td, kind);
    time_t utc, local;
    struct icaltimetype t = !pr                             ? icaltime_null_time()
                            : kind == ICAL_DTSTART_PROPERTY ? icalproperty_get_dtstart(pr)
                                                            : icalproperty_get_due(pr);
    if (date_pair(root, pr, t, &utc, &local) == 0) {
        as_xml_add(app, NS_TASK, utc_name, cal_datetime(p, utc));
        as_xml_add(app, NS_TASK, local_name, cal_datetime(p, local));
    }
}

static int is_complete(icalcomponent *td)
{
    icalproperty *pr = icalcomponent_get_first_property(td, ICAL_PERCENTCOMPLETE_PROPERTY);
    return icalcomponent_get_status(td) == ICAL_STATUS_COMPLETED ||
           icalcomponent_get_first_property(td, ICAL_COMPLETED_PROPERTY) ||
           (pr && icalproperty_get_percentcomplete(pr) >= 100);
}

/* The instant of the first VALARM, or -1. */
static time_t reminder_time(icalcomponent *root, icalcomponent *td)
{
    icalcomponent *al = icalcomponent_get_first_component(td, ICAL_VALARM_COMPONENT);
    icalproperty *pr = al ? icalcomponent_get_first_property(al, ICAL_TRIGGER_PROPERTY) : NULL;
    icalparameter *rel;
    struct icaltriggertype tr;
    icalproperty *base;
    time_t utc, local;

    if (!pr) {
        return -1;
    }
    tr = icalproperty_get_trigger(pr);
    if (!icaltime_is_null_time(tr.time)) {
        return cal_to_utc(tr.time, NULL);
    }
    rel = icalproperty_get_first_parameter(pr, ICAL_RELATED_PARAMETER);
    base = icalcomponent_get_first_property(
        td, rel && icalparameter_get_related(rel) == ICAL_RELATED_END ? ICAL_DUE_PROPERTY
                                                                      : ICAL_DTSTART_PROPERTY);
    if (!base) {
        base = icalcomponent_get_first_property(td, ICAL_DUE_PROPERTY);
    }
    if (!base ||
        date_pair(root, base,
                  icalproperty_isa(base) == ICAL_DUE_PROPERTY ? icalproperty_get_due(base)
                                                              : icalproperty_get_dtstart(base),
                  &utc, &local) < 0) {
        return -1;
    }
    return utc + icaldurationtype_as_int(tr.duration);
}

static void recurrence_to_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *td, xmlNodePtr app,
                              const as_item_opts_t *o)
{
    icalproperty *rr = icalcomponent_get_first_property(td, ICAL_RRULE_PROPERTY);
    icalproperty *dt = icalcomponent_get_first_property(td, ICAL_DTSTART_PROPERTY);
    struct icaltimetype st;
    xmlNodePtr r;
    cal_recur_t e;
    const char *s;
    time_t utc, local;

    if (!dt) {
        dt = icalcomponent_get_first_property(td, ICAL_DUE_PROPERTY);
    }
    if (!rr || !dt) {
        return;
    }
    st = icalproperty_isa(dt) == ICAL_DUE_PROPERTY ? icalproperty_get_due(dt)
                                                   : icalproperty_get_dtstart(dt);
    if (date_pair(root, dt, st, &utc, &local) < 0 ||
        cal_recur_from_rrule(icalproperty_get_rrule(rr), st,
                             st.is_date || icaltime_is_utc(st) ? NULL : cal_zone_of(root, dt),
                             &e) < 0) {
        return;
    }
    cal_recur_add(p, app, NS_TASK, &e, o->protocol, 1);
    r = as_xml_child(app, NS_TASK, "Recurrence");
    as_xml_add(r, NS_TASK, "Start", cal_datetime(p, local));
    if (e.until && !e.occurrences) {
        as_xml_add(r, NS_TASK, "Until", cal_datetime(p, e.until));
    }
    if (e.occurrences) {
        as_xml_add(r, NS_TASK, "Occurrences",
                   apr_itoa(p, e.occurrences > 255 ? 255 : e.occurrences));
    }
    as_xml_add(r, NS_TASK, "Interval", apr_itoa(p, e.interval));
    if (e.dom) {
        as_xml_add(r, NS_TASK, "DayOfMonth", apr_itoa(p, e.dom));
    }
    if (e.dow && e.type != 0) {
        as_xml_add(r, NS_TASK, "DayOfWeek", apr_itoa(p, e.dow));
    }
    if (e.wom) {
        as_xml_add(r, NS_TASK, "WeekOfMonth", apr_itoa(p, e.wom));
    }
    if (e.moy) {
        as_xml_add(r, NS_TASK, "MonthOfYear", apr_itoa(p, e.moy));
    }
    s = cal_x_prop(td, "X-EAS-REGENERATE");
    as_xml_add(r, NS_TASK, "Regenerate", s && !strcmp(s, "1") ? "1" : "0");
    s = cal_x_prop(td, "X-EAS-DEADOCCUR");
    as_xml_add(r, NS_TASK, "DeadOccur", s && !strcmp(s, "1") ? "1" : "0");
    if (o->protocol >= 141 && e.fdow >= 0) {
        as_xml_add(r, NS_TASK, "FirstDayOfWeek", apr_itoa(p, e.fdow));
    }
}

static apr_status_t todo_to_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *td,
                                const as_item_opts_t *o, xmlNodePtr app)
{
    const char *s = icalcomponent_get_summary(td);
    icalproperty *pr;
    time_t rt;
    int done = is_complete(td);

    as_xml_add(app, NS_TASK, "Subject", s ? cal_clean(p, s, 1) : "");
    s = icalcomponent_get_description(td);
    cal_add_body(p, app, s ? cal_clean(p, s, 0) : NULL, o);
    as_xml_add(app, NS_TASK, "Importance", apr_itoa(p, importance_of(td)));
    add_dates(p, root, td, app, ICAL_DTSTART_PROPERTY, "StartDate", "UtcStartDate");
    add_dates(p, root, td, app, ICAL_DUE_PROPERTY, "DueDate", "UtcDueDate");
    cal_add_categories(p, app, NS_TASK, td);
    recurrence_to_eas(p, root, td, app, o);
    as_xml_add(app, NS_TASK, "Complete", done ? "1" : "0");
    if (done) {
        struct icaltimetype t = icaltime_null_time();
        pr = icalcomponent_get_first_property(td, ICAL_COMPLETED_PROPERTY);
        if (pr) {
            t = icalproperty_get_completed(pr);
        }
        if (icaltime_is_null_time(t)) {
            t = icalcomponent_get_dtstamp(td);
        }
        if (!icaltime_is_null_time(t)) {
            as_xml_add(app, NS_TASK, "DateCompleted", cal_datetime(p, cal_to_utc(t, NULL)));
        }
    }
    as_xml_add(app, NS_TASK, "Sensitivity", apr_itoa(p, cal_sensitivity_of(td)));
    rt = reminder_time(root, td);
    as_xml_add(app, NS_TASK, "ReminderSet", rt >= 0 ? "1" : "0");
    if (rt >= 0) {
        as_xml_add(app, NS_TASK, "ReminderTime", cal_datetime(p, rt));
    }
    return APR_SUCCESS;
}

static apr_status_t task_to_eas(const char *data, apr_size_t len, const as_item_opts_t *o,
                                xmlNodePtr appdata, apr_pool_t *p)
{
    const char *err = NULL;
    icalcomponent *root = cal_parse(data, len, &err), *td;
    apr_status_t rv;

    td = root ? cal_master(root, ICAL_VTODO_COMPONENT) : NULL;
    if (!td) {
        if (o->log) {
            as_log(o->log, AS_LOG_MARK, AS_LOG_INFO, APR_EINVAL, "task item skipped: %s",
                   root ? "no VTODO" : err);
        }
        if (root) {
            icalcomponent_free(root);
        }
        return APR_EINVAL;
    }
    rv = todo_to_eas(p, root, td, o, appdata);
    icalcomponent_free(root);
    return rv;
}

/* ---------------------------------------------------------------------------
 * From the phone
 */

/* DTSTART or DUE from the phone's pair; absent: removed. */
static void set_date(apr_pool_t *p, icalcomponent *root, icalcomponent *td, xmlNodePtr app,
                     icalproperty_kind kind, const char *local_name, const char *utc_name)
{
    icalproperty *pr = icalcomponent_get_first_property(td, kind), *n;
    struct icaltimetype old = !pr                             ? icaltime_null_time()
                              : kind == ICAL_DTSTART_PROPERTY ? icalproperty_get_dtstart(pr)
                                                              : icalproperty_get_due(pr);
    icaltimezone *zone = pr && !old.is_date && !icaltime_is_utc(old) ? cal_zone_of(root, pr) : NULL;
    const char *ls = cal_child_text(p, app, NS_TASK, local_name);
    const char *us = cal_child_text(p, app, NS_TASK, utc_name);
    time_t local = 0, utc = 0;
    int have_local = ls && cal_parse_time(ls, &local) == 0;
    int have_utc = us && cal_parse_time(us, &utc) == 0;
    struct icaltimetype t;

    if (!have_local && !have_utc) {
        cal_remove_props(td, kind, NULL);
        return;
    }
    if (!have_utc) {
        utc = local;
    }
    if (!have_local) {
        local = utc;
    }
    t = cal_utc_time(local);
    if (pr && !icaltime_is_null_time(old) ? old.is_date
                                          : (t.hour == 0 && t.minute == 0 && t.second == 0)) {
        t.is_date = 1; /* a day, as the file (or a date picker) has it */
        t.hour = t.minute = t.second = 0;
        t.zone = NULL;
        zone = NULL;
    } else {
        t = cal_local_time(utc, zone);
        if (zone) {
            t.zone = NULL;
        }
    }
    cal_remove_props(td, kind, NULL);
    n = kind == ICAL_DTSTART_PROPERTY ? icalproperty_new_dtstart(t) : icalproperty_new_due(t);
    if (zone) {
        icalproperty_add_parameter(n, icalparameter_new_tzid(icaltimezone_get_tzid(zone)));
    }
    icalcomponent_add_property(td, n);
}

static void set_complete(apr_pool_t *p, icalcomponent *td, xmlNodePtr app)
{
    int done = cal_child_int(p, app, NS_TASK, "Complete", 0, 1, 0);
    const char *when = cal_child_text(p, app, NS_TASK, "DateCompleted");
    time_t t;

    if (done == is_complete(td) && (!done || !when)) {
        return;
    }
    cal_remove_props(td, ICAL_COMPLETED_PROPERTY, NULL);
    cal_remove_props(td, ICAL_PERCENTCOMPLETE_PROPERTY, NULL);
    cal_remove_props(td, ICAL_STATUS_PROPERTY, NULL);
    if (done) {
        if (!when || cal_parse_time(when, &t) < 0) {
            t = apr_time_sec(apr_time_now());
        }
        icalcomponent_add_property(td, icalproperty_new_completed(cal_utc_time(t)));
        icalcomponent_add_property(td, icalproperty_new_percentcomplete(100));
        icalcomponent_add_property(td, icalproperty_new_status(ICAL_STATUS_COMPLETED));
    } else {
        icalcomponent_add_property(td, icalproperty_new_status(ICAL_STATUS_NEEDSACTION));
    }
}

static void set_reminder(apr_pool_t *p, icalcomponent *root, icalcomponent *td, xmlNodePtr app)
{
    int set = cal_child_int(p, app, NS_TASK, "ReminderSet", 0, 1, 0);
    const char *s = cal_child_text(p, app, NS_TASK, "ReminderTime");
    icalcomponent *al = icalcomponent_get_first_component(td, ICAL_VALARM_COMPONENT);
    struct icaltriggertype tr;
    time_t t;

    if (set && (!s || cal_parse_time(s, &t) < 0)) {
        return; /* a reminder at no time: the file's stays */
    }
    if (set && reminder_time(root, td) == t) {
        return;
    }
    if (al) {
        icalcomponent_remove_component(td, al);
        icalcomponent_free(al);
    }
    if (!set) {
        return;
    }
    memset(&tr, 0, sizeof tr);
    tr.time = cal_utc_time(t);
    al = icalcomponent_new(ICAL_VALARM_COMPONENT);
    icalcomponent_add_property(al, icalproperty_new_action(ICAL_ACTION_DISPLAY));
    icalcomponent_add_property(al, icalproperty_new_description("Reminder"));
    icalcomponent_add_property(al, icalproperty_new_trigger(tr));
    icalcomponent_add_component(td, al);
}

static void set_recurrence(apr_pool_t *p, icalcomponent *root, icalcomponent *td, xmlNodePtr app)
{
    xmlNodePtr rec = as_xml_child(app, NS_TASK, "Recurrence");
    icalproperty *rr = icalcomponent_get_first_property(td, ICAL_RRULE_PROPERTY);
    icalproperty *dt = icalcomponent_get_first_property(td, ICAL_DTSTART_PROPERTY);
    struct icaltimetype st;
    icaltimezone *zone;
    cal_recur_t e, old;
    int has_old;

    if (!dt) {
        dt = icalcomponent_get_first_property(td, ICAL_DUE_PROPERTY);
    }
    st = !dt ? icaltime_null_time()
             : (icalproperty_isa(dt) == ICAL_DUE_PROPERTY ? icalproperty_get_due(dt)
                                                          : icalproperty_get_dtstart(dt));
    zone = dt && !st.is_date && !icaltime_is_utc(st) ? cal_zone_of(root, dt) : NULL;
    has_old = rr && dt && cal_recur_from_rrule(icalproperty_get_rrule(rr), st, zone, &old) == 0;
    if (!rec || !dt || cal_recur_read(p, rec, NS_TASK, &e) < 0) {
        if (!rr || has_old) {
            cal_remove_props(td, ICAL_RRULE_PROPERTY, NULL);
            cal_set_x_prop(td, "X-EAS-REGENERATE", NULL);
            cal_set_x_prop(td, "X-EAS-DEADOCCUR", NULL);
        }
        return;
    }
    if (!(has_old && cal_recur_equal(&old, &e))) {
        cal_remove_props(td, ICAL_RRULE_PROPERTY, NULL);
        icalcomponent_add_property(td, icalproperty_new_rrule(cal_recur_to_rrule(&e, st, zone)));
    }
    cal_set_x_prop(td, "X-EAS-REGENERATE",
                   cal_child_int(p, rec, NS_TASK, "Regenerate", 0, 1, 0) ? "1" : NULL);
    cal_set_x_prop(td, "X-EAS-DEADOCCUR",
                   cal_child_int(p, rec, NS_TASK, "DeadOccur", 0, 1, 0) ? "1" : NULL);
}

static void todo_from_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *td, xmlNodePtr app)
{
    static const int priority[] = {9, 5, 1};
    const char *s = cal_child_text(p, app, NS_TASK, "Subject");
    int v;

    cal_set_text(td, ICAL_SUMMARY_PROPERTY, s ? cal_clean(p, s, 1) : NULL);
    cal_set_body(td, cal_body_of(p, app, NS_TASK));
    v = cal_child_int(p, app, NS_TASK, "Importance", 0, 2, 1);
    if (v != importance_of(td)) {
        cal_remove_props(td, ICAL_PRIORITY_PROPERTY, NULL);
        icalcomponent_add_property(td, icalproperty_new_priority(priority[v]));
    }
    set_date(p, root, td, app, ICAL_DTSTART_PROPERTY, "StartDate", "UtcStartDate");
    set_date(p, root, td, app, ICAL_DUE_PROPERTY, "DueDate", "UtcDueDate");
    cal_remove_props(td, ICAL_DURATION_PROPERTY, NULL);
    set_complete(p, td, app);
    v = cal_child_int(p, app, NS_TASK, "Sensitivity", 0, 3, 0);
    if (v != cal_sensitivity_of(td)) {
        cal_set_sensitivity(td, v);
    }
    cal_set_categories(p, td, app, NS_TASK);
    set_reminder(p, root, td, app);
    set_recurrence(p, root, td, app);
}

static apr_status_t task_from_eas(xmlNodePtr app, int protocol, const char *old, apr_size_t oldlen,
                                  const char *uid, apr_pool_t *p, char **out, apr_size_t *outlen)
{
    const char *err = NULL;
    icalcomponent *root, *td;
    struct icaltimetype now = cal_utc_time(apr_time_sec(apr_time_now()));

    (void)protocol;
    if (old) {
        root = cal_parse(old, oldlen, &err);
    } else {
        root = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
        icalcomponent_add_property(root, icalproperty_new_version("2.0"));
        icalcomponent_add_property(root, icalproperty_new_prodid("-//mod_activesync//EAS//EN"));
    }
    if (!root) {
        return APR_EINVAL;
    }
    td = cal_master(root, ICAL_VTODO_COMPONENT);
    if (!td) {
        td = icalcomponent_new(ICAL_VTODO_COMPONENT);
        icalcomponent_add_component(root, td);
    }
    todo_from_eas(p, root, td, app);
    if (!icalcomponent_get_uid(td) || !*icalcomponent_get_uid(td)) {
        icalcomponent_set_uid(td, uid ? uid : cal_new_uid(p));
    }
    icalcomponent_set_dtstamp(td, now);
    cal_remove_props(td, ICAL_LASTMODIFIED_PROPERTY, NULL);
    icalcomponent_add_property(td, icalproperty_new_lastmodified(now));
    *out = cal_serialize(p, root, outlen);
    icalcomponent_free(root);
    return APR_SUCCESS;
}

static const char *task_uid_of(const char *data, apr_size_t len, apr_pool_t *p)
{
    const char *err, *uid;
    icalcomponent *root = cal_parse(data, len, &err), *td;
    if (!root) {
        return NULL;
    }
    td = cal_master(root, ICAL_VTODO_COMPONENT);
    uid = td ? icalcomponent_get_uid(td) : NULL;
    uid = uid && *uid ? apr_pstrdup(p, uid) : NULL;
    icalcomponent_free(root);
    return uid;
}

const as_item_codec_t as_task_codec = {AS_CLASS_TASKS, task_to_eas, task_from_eas, task_uid_of};
