/* The Calendar class: an iCalendar file (a VEVENT series with its
 * overrides) <-> EAS Calendar ApplicationData (MS-ASCAL), for the item
 * codec (as_item_codec.h).
 *
 * Times go to the phone in UTC (Compact DateTime) with the TimeZone blob of
 * DTSTART's zone; all-day events are DATE values, sent as midnight to
 * midnight in the file's zone (16.x: 00:00:00Z, no TimeZone).  A phone's
 * change is applied onto the current file: what EAS does not carry stays,
 * and an RRULE that EAS can only approximate stays as it is while the
 * phone sends back that approximation. */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "activesync/as_meeting.h"
#include "activesync/as_xml.h"
#include "as_calendar_int.h"
#include "as_meeting_int.h"

/* The zone an all-day event is expressed in: the file's only VTIMEZONE. */
static icaltimezone *all_day_zone(icalcomponent *root)
{
    icalcomponent *vtz = icalcomponent_get_first_component(root, ICAL_VTIMEZONE_COMPONENT);
    icalproperty *pr;
    if (!vtz || icalcomponent_get_next_component(root, ICAL_VTIMEZONE_COMPONENT)) {
        return NULL;
    }
    pr = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
    return pr ? icalcomponent_get_timezone(root, icalproperty_get_tzid(pr)) : NULL;
}

/* The series' zone: DTSTART's, or for a DATE the all-day zone. */
static icaltimezone *series_zone(icalcomponent *root, icalcomponent *ev, int protocol)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    struct icaltimetype st = pr ? icalproperty_get_dtstart(pr) : icaltime_null_time();
    if (st.is_date) {
        return protocol >= 160 ? NULL : all_day_zone(root);
    }
    return icaltime_is_utc(st) ? NULL : cal_zone_of(root, pr);
}

static time_t end_of(icalcomponent *root, icalcomponent *ev, struct icaltimetype st, time_t start,
                     icaltimezone *zone)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
    time_t end;
    if (pr) {
        struct icaltimetype et = icalproperty_get_dtend(pr);
        icaltimezone *ez = et.is_date || icaltime_is_utc(et) ? NULL : cal_zone_of(root, pr);
        end = cal_to_utc(et, et.is_date ? zone : ez);
    } else if ((pr = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY)) != NULL) {
        end = start + icaldurationtype_as_int(icalproperty_get_duration(pr));
    } else {
        end = start + (st.is_date ? 86400 : 0);
    }
    return end < start ? start : end;
}

static void recurrence_to_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *ev,
                              struct icaltimetype st, icaltimezone *zone, xmlNodePtr app,
                              const as_item_opts_t *o)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
    cal_recur_t e;
    if (!pr || icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY) ||
        cal_recur_from_rrule(icalproperty_get_rrule(pr), st, zone, &e) < 0) {
        return;
    }
    cal_recur_add(p, app, NS_CAL, &e, o->protocol, 0);
    cal_exceptions_to_eas(p, root, ev, zone, app, o);
}

/* Outlook writes some all-day events as midnight date-times with
 * X-MICROSOFT-CDO-ALLDAYEVENT:TRUE; up to 14.1 they are all-day events in
 * that zone as they stand (16.x would need the dates at 00:00:00Z). */
static int outlook_all_day(icalcomponent *ev, struct icaltimetype st, const as_item_opts_t *o)
{
    const char *x = cal_x_prop(ev, "X-MICROSOFT-CDO-ALLDAYEVENT");
    return o->protocol < 160 && x && !strcasecmp(x, "TRUE") && !st.is_date && st.hour == 0 &&
           st.minute == 0 && st.second == 0;
}

static apr_status_t event_to_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *ev,
                                 const as_item_opts_t *o, xmlNodePtr app)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    struct icaltimetype st = pr ? icalproperty_get_dtstart(pr) : icaltime_null_time(), t;
    const char *uid = icalcomponent_get_uid(ev);
    icaltimezone *zone;
    time_t start;

    if (!pr || icaltime_is_null_time(st) || !icaltime_is_valid_time(st) || !uid || !*uid ||
        strlen(uid) > AS_MEETING_UID_MAX) {
        return APR_EINVAL;
    }
    zone = series_zone(root, ev, o->protocol);
    start = cal_to_utc(st, zone);
    if (!(st.is_date && o->protocol >= 160)) {
        as_xml_add(app, NS_CAL, "Timezone", meeting_tz_blob(p, zone, st.year));
    }
    as_xml_add(app, NS_CAL, "AllDayEvent", st.is_date || outlook_all_day(ev, st, o) ? "1" : "0");
    cal_event_fields_to_eas(p, ev, app, o, 0);
    cal_people_to_eas(p, ev, app, o->protocol, o->account);
    t = icalcomponent_get_dtstamp(ev);
    as_xml_add(app, NS_CAL, "DtStamp",
               cal_compact(p, icaltime_is_null_time(t) ? start : cal_to_utc(t, NULL)));
    as_xml_add(app, NS_CAL, "StartTime", cal_compact(p, start));
    as_xml_add(app, NS_CAL, "EndTime", cal_compact(p, end_of(root, ev, st, start, zone)));
    as_xml_add(app, NS_CAL, "UID", cal_clean(p, uid, 1));
    recurrence_to_eas(p, root, ev, st, zone, app, o);
    return APR_SUCCESS;
}

static apr_status_t calendar_to_eas(const char *data, apr_size_t len, const as_item_opts_t *o,
                                    xmlNodePtr appdata, apr_pool_t *p)
{
    const char *err = NULL;
    icalcomponent *root = cal_parse(data, len, &err), *ev;
    apr_status_t rv;

    if (!root) {
        if (o->log) {
            as_log(o->log, AS_LOG_MARK, AS_LOG_INFO, APR_EINVAL, "calendar item skipped: %s", err);
        }
        return APR_EINVAL;
    }
    ev = cal_master(root, ICAL_VEVENT_COMPONENT);
    rv = ev ? event_to_eas(p, root, ev, o, appdata) : APR_EINVAL;
    if (rv != APR_SUCCESS && o->log) {
        as_log(o->log, AS_LOG_MARK, AS_LOG_INFO, rv, "calendar item skipped: %s",
               ev ? "VEVENT without UID or a valid DTSTART" : "no VEVENT");
    }
    icalcomponent_free(root);
    return rv;
}

/* ---------------------------------------------------------------------------
 * From the phone
 */

/* What the file said before the phone's change. */
typedef struct before_t {
    int has_rrule, has_form;
    int has_rdate; /* RDATEs EAS cannot show: the phone never saw them */
    cal_recur_t form;
} before_t;

static void remember(icalcomponent *root, icalcomponent *ev, before_t *b)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
    icalproperty *dt = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    struct icaltimetype st = dt ? icalproperty_get_dtstart(dt) : icaltime_null_time();
    memset(b, 0, sizeof *b);
    b->has_rrule = pr != NULL;
    b->has_rdate = icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY) != NULL;
    if (pr && dt) {
        b->has_form = cal_recur_from_rrule(icalproperty_get_rrule(pr), st,
                                           st.is_date ? all_day_zone(root) : cal_zone_of(root, dt),
                                           &b->form) == 0;
    }
}

/* The series' rules: the phone's Recurrence, or the file's RRULE when the
 * phone only sent back the form it was given. */
static void recurrence_from_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *ev,
                                xmlNodePtr app, icaltimezone *zone, const before_t *b)
{
    xmlNodePtr rec = as_xml_child(app, NS_CAL, "Recurrence");
    icalproperty *dt = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    struct icaltimetype st = icalproperty_get_dtstart(dt);
    icalcomponent *ov, *next;
    cal_recur_t e;

    if (!rec || cal_recur_read(p, rec, NS_CAL, &e) < 0) {
        if ((b->has_rrule && !b->has_form) || (!b->has_rrule && b->has_rdate)) {
            return; /* a rule, or dates, the phone was never shown */
        }
        cal_remove_props(ev, ICAL_RRULE_PROPERTY, NULL);
        cal_remove_props(ev, ICAL_RDATE_PROPERTY, NULL);
        cal_remove_props(ev, ICAL_EXDATE_PROPERTY, NULL);
        for (ov = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ov; ov = next) {
            next = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT);
            if (ov != ev && icalcomponent_get_first_property(ov, ICAL_RECURRENCEID_PROPERTY)) {
                icalcomponent_remove_component(root, ov);
                icalcomponent_free(ov);
            }
        }
        return;
    }
    if (!(b->has_rrule && b->has_form && cal_recur_equal(&b->form, &e))) {
        cal_remove_props(ev, ICAL_RRULE_PROPERTY, NULL);
        icalcomponent_add_property(ev, icalproperty_new_rrule(cal_recur_to_rrule(&e, st, zone)));
    }
    if (as_xml_child(app, NS_CAL, "Exceptions")) {
        cal_exceptions_from_eas(p, root, ev, zone, as_xml_child(app, NS_CAL, "Exceptions"));
    }
}

/* The zone of the phone's times: its TimeZone blob's, else the file's. */
static icaltimezone *phone_zone(apr_pool_t *p, icalcomponent *root, icalcomponent *ev,
                                xmlNodePtr app, int protocol, int *all_day)
{
    const char *blob = cal_child_text(p, app, NS_CAL, "Timezone");
    const char *st = cal_child_text(p, app, NS_CAL, "StartTime");
    icalproperty *dt = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    cal_tzinfo_t tz;
    time_t start = 0;

    *all_day = cal_child_int(p, app, NS_CAL, "AllDayEvent", 0, 1, 0);
    if (st) {
        (void)cal_parse_time(st, &start);
    }
    if (blob && *blob && cal_tz_decode(blob, &tz) == 0 && !(*all_day && protocol >= 160)) {
        int year = cal_utc_time(start).year;
        icaltimezone *old = dt ? series_zone(root, ev, protocol) : NULL;
        if (old && cal_tz_matches(old, &tz, year)) {
            /* the file's zone says the same: its TZID stays (a zone known
             * only by name gets its VTIMEZONE written) */
            return cal_tz_in_file(root, old, year);
        }
        return cal_tz_in_file(root, cal_tz_from_blob(root, &tz, year), year);
    }
    if (*all_day) {
        return protocol >= 160 ? NULL : all_day_zone(root);
    }
    return dt ? series_zone(root, ev, protocol) : NULL;
}

static icalcomponent *new_calendar(void)
{
    icalcomponent *root = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    icalcomponent_add_property(root, icalproperty_new_version("2.0"));
    icalcomponent_add_property(root, icalproperty_new_prodid("-//mod_activesync//EAS//EN"));
    return root;
}

static apr_status_t calendar_from_eas(xmlNodePtr app, int protocol, const char *old,
                                      apr_size_t oldlen, const char *uid, apr_pool_t *p, char **out,
                                      apr_size_t *outlen)
{
    const char *err = NULL, *phone_uid;
    icalcomponent *root = old ? cal_parse(old, oldlen, &err) : new_calendar(), *ev;
    icaltimezone *zone;
    before_t b;
    int all_day;
    struct icaltimetype now = cal_utc_time(apr_time_sec(apr_time_now()));

    if (!root) {
        return APR_EINVAL;
    }
    ev = cal_master(root, ICAL_VEVENT_COMPONENT);
    if (!ev) {
        ev = icalcomponent_new(ICAL_VEVENT_COMPONENT);
        icalcomponent_add_component(root, ev);
    }
    remember(root, ev, &b);
    zone = phone_zone(p, root, ev, app, protocol, &all_day);
    if (cal_event_times_from_eas(p, ev, app, zone, all_day) < 0) {
        icalcomponent_free(root);
        return APR_EINVAL;
    }
    phone_uid = cal_child_text(p, app, NS_CAL, "UID");
    if (!icalcomponent_get_uid(ev) || !*icalcomponent_get_uid(ev)) {
        icalcomponent_set_uid(ev, uid ? uid
                                  : phone_uid && *phone_uid && protocol < 160
                                      ? cal_clean(p, phone_uid, 1)
                                      : cal_new_uid(p));
    }
    icalcomponent_set_dtstamp(ev, now);
    cal_event_fields_from_eas(p, ev, app, 0);
    cal_people_from_eas(p, ev, app);
    recurrence_from_eas(p, root, ev, app, zone, &b);
    cal_remove_props(ev, ICAL_LASTMODIFIED_PROPERTY, NULL);
    icalcomponent_add_property(ev, icalproperty_new_lastmodified(now));
    *out = cal_serialize(p, root, outlen);
    icalcomponent_free(root);
    return APR_SUCCESS;
}

apr_status_t cal_event_instance_from_eas(xmlNodePtr app, int protocol, const char *instance_id,
                                         const char *old, apr_size_t oldlen, apr_pool_t *p,
                                         char **out, apr_size_t *outlen)
{
    const char *err = NULL;
    icalcomponent *root = old ? cal_parse(old, oldlen, &err) : NULL, *ev;
    struct icaltimetype now = cal_utc_time(apr_time_sec(apr_time_now()));
    time_t orig;

    if (!root) {
        return APR_EINVAL;
    }
    ev = cal_master(root, ICAL_VEVENT_COMPONENT);
    /* an instance of a series only (one not in the series gets an override
     * no CalDAV client shows: the phone asked for that instant) */
    if (!ev || !icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY) || !instance_id ||
        cal_parse_time(instance_id, &orig) < 0) {
        icalcomponent_free(root);
        return APR_EINVAL;
    }
    cal_instance_from_eas(p, root, ev, series_zone(root, ev, protocol), orig, app);
    icalcomponent_set_dtstamp(ev, now);
    cal_remove_props(ev, ICAL_LASTMODIFIED_PROPERTY, NULL);
    icalcomponent_add_property(ev, icalproperty_new_lastmodified(now));
    *out = cal_serialize(p, root, outlen);
    icalcomponent_free(root);
    return APR_SUCCESS;
}

static const char *calendar_uid_of(const char *data, apr_size_t len, apr_pool_t *p)
{
    const char *err, *uid;
    icalcomponent *root = cal_parse(data, len, &err), *ev;
    if (!root) {
        return NULL;
    }
    ev = cal_master(root, ICAL_VEVENT_COMPONENT);
    uid = ev ? icalcomponent_get_uid(ev) : NULL;
    uid = uid && *uid ? apr_pstrdup(p, uid) : NULL;
    icalcomponent_free(root);
    return uid;
}

const as_item_codec_t as_calendar_codec = {AS_CLASS_CALENDAR, calendar_to_eas, calendar_from_eas,
                                           calendar_uid_of};
