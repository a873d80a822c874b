/* The fields an event and an exception of it share (MS-ASCAL): Subject,
 * Location, Body, Reminder, BusyStatus, Sensitivity, Categories,
 * MeetingStatus, AppointmentReplyTime, StartTime/EndTime/AllDayEvent. */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "activesync/as_xml.h"
#include "as_calendar_int.h"
#include "as_meeting_int.h"

static const char *const busy_words[] = {"FREE", "TENTATIVE", "BUSY", "OOF", "WORKINGELSEWHERE"};

static int busy_of(icalcomponent *ev)
{
    const char *s = cal_x_prop(ev, "X-MICROSOFT-CDO-BUSYSTATUS");
    icalproperty *pr;
    int i;
    for (i = 0; s && i < 5; i++) {
        if (!strcasecmp(s, busy_words[i])) {
            return i;
        }
    }
    if (icalcomponent_get_status(ev) == ICAL_STATUS_TENTATIVE) {
        return 1;
    }
    pr = icalcomponent_get_first_property(ev, ICAL_TRANSP_PROPERTY);
    return pr && icalproperty_get_transp(pr) == ICAL_TRANSP_TRANSPARENT ? 0 : 2;
}

static void set_busy(icalcomponent *ev, int b)
{
    if (b == busy_of(ev)) {
        return;
    }
    cal_remove_props(ev, ICAL_TRANSP_PROPERTY, NULL);
    icalcomponent_add_property(
        ev, icalproperty_new_transp(b == 0 ? ICAL_TRANSP_TRANSPARENT : ICAL_TRANSP_OPAQUE));
    /* the X- property for what TRANSP cannot say, or where there was one */
    if (b == 1 || b == 3 || b == 4 || cal_x_prop(ev, "X-MICROSOFT-CDO-BUSYSTATUS")) {
        cal_set_x_prop(ev, "X-MICROSOFT-CDO-BUSYSTATUS", busy_words[b]);
    }
}

static int has_attendees(icalcomponent *ev)
{
    return icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY) != NULL;
}

/* Is the ORGANIZER's address the account's? */
static int organised_by(icalcomponent *ev, const char *account)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
    const char *v = pr ? icalproperty_get_organizer(pr) : NULL;

    if (!v || !account) {
        return 0;
    }
    if (!strncasecmp(v, "mailto:", 7)) {
        v += 7;
    }
    return !strcasecmp(v, account);
}

/* 0 appointment, 1 organised by the user, 3 received, +4 canceled: a
 * phone's choice is kept in X-EAS-MEETINGSTATUS; else a meeting whose
 * ORGANIZER is the account (when known) is the user's, any other
 * received. */
static int meeting_status_of(icalcomponent *ev, const char *account)
{
    const char *x = cal_x_prop(ev, "X-EAS-MEETINGSTATUS");
    int base = x && (!strcmp(x, "1") || !strcmp(x, "3"))
                   ? x[0] - '0'
                   : (has_attendees(ev) ? (organised_by(ev, account) ? 1 : 3) : 0);
    if (icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED) {
        return base == 0 ? 5 : base + 4;
    }
    return base;
}

static int response_requested(icalcomponent *ev)
{
    icalproperty *pr;
    for (pr = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(ev, ICAL_ATTENDEE_PROPERTY)) {
        icalparameter *rs = icalproperty_get_first_parameter(pr, ICAL_RSVP_PARAMETER);
        if (rs && icalparameter_get_rsvp(rs) == ICAL_RSVP_TRUE) {
            return 1;
        }
    }
    return 0;
}

void cal_event_fields_to_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app,
                             const as_item_opts_t *o, int exception)
{
    const char *s;
    int r = cal_reminder_of(ev);

    s = icalcomponent_get_summary(ev);
    if (s && *s) {
        as_xml_add(app, NS_CAL, "Subject", cal_clean(p, s, 1));
    }
    s = icalcomponent_get_location(ev);
    if (s && *s) {
        if (o->protocol >= 160) {
            as_xml_add(as_xml_add(app, NS_BASE, "Location", NULL), NS_BASE, "DisplayName",
                       cal_clean(p, s, 1));
        } else {
            as_xml_add(app, NS_CAL, "Location", cal_clean(p, s, 1));
        }
    }
    s = icalcomponent_get_description(ev);
    cal_add_body(p, app, s ? cal_clean(p, s, 0) : NULL, o);
    if (r >= 0) {
        as_xml_add(app, NS_CAL, "Reminder", apr_itoa(p, r));
    }
    r = busy_of(ev);
    as_xml_add(app, NS_CAL, "BusyStatus", apr_itoa(p, r == 4 && o->protocol < 160 ? 2 : r));
    as_xml_add(app, NS_CAL, "Sensitivity", apr_itoa(p, cal_sensitivity_of(ev)));
    cal_add_categories(p, app, NS_CAL, ev);
    as_xml_add(app, NS_CAL, "MeetingStatus", apr_itoa(p, meeting_status_of(ev, o->account)));
    s = cal_x_prop(ev, "X-EAS-APPOINTMENTREPLYTIME");
    if (o->protocol >= 140 && s) {
        time_t t;
        if (cal_parse_time(s, &t) == 0) {
            as_xml_add(app, NS_CAL, "AppointmentReplyTime", cal_compact(p, t));
        }
    }
    if (!exception && o->protocol >= 140 && has_attendees(ev)) {
        as_xml_add(app, NS_CAL, "ResponseRequested", response_requested(ev) ? "1" : "0");
    }
}

static const char *location_of(apr_pool_t *p, xmlNodePtr app)
{
    xmlNodePtr l = as_xml_child(app, NS_BASE, "Location");
    if (l) {
        const char *s = cal_child_text(p, l, NS_BASE, "DisplayName");
        return s ? s : "";
    }
    return cal_child_text(p, app, NS_CAL, "Location");
}

void cal_event_fields_from_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app, int exception)
{
    const char *s;
    int v;

    /* an exception changes what it carries; an event is all it carries */
    s = cal_child_text(p, app, NS_CAL, "Subject");
    if (s || !exception) {
        cal_set_text(ev, ICAL_SUMMARY_PROPERTY, s ? cal_clean(p, s, 1) : NULL);
    }
    s = location_of(p, app);
    if (s || !exception) {
        cal_set_text(ev, ICAL_LOCATION_PROPERTY, s ? cal_clean(p, s, 1) : NULL);
    }
    cal_set_body(ev, cal_body_of(p, app, NS_CAL));
    v = cal_child_int(p, app, NS_CAL, "Reminder", 0, 65535, -2);
    if (v != -2 || !exception) {
        if (v != cal_reminder_of(ev)) {
            cal_set_reminder(ev, v >= 0 ? v : -1);
        }
    }
    v = cal_child_int(p, app, NS_CAL, "BusyStatus", 0, 4, -1);
    if (v >= 0) {
        set_busy(ev, v);
    }
    v = cal_child_int(p, app, NS_CAL, "Sensitivity", 0, 3, exception ? -1 : 0);
    if (v >= 0 && v != cal_sensitivity_of(ev)) {
        cal_set_sensitivity(ev, v);
    }
    if (as_xml_child(app, NS_CAL, "Categories") || !exception) {
        cal_set_categories(p, ev, app, NS_CAL);
    }
    v = cal_child_int(p, app, NS_CAL, "MeetingStatus", 0, 15, -1);
    if (v >= 0 && v != meeting_status_of(ev, NULL)) {
        cal_set_x_prop(ev, "X-EAS-MEETINGSTATUS", (v & 3) == 1 ? "1" : ((v & 3) == 3 ? "3" : NULL));
        if (v & 4) {
            icalcomponent_set_status(ev, ICAL_STATUS_CANCELLED);
        } else if (icalcomponent_get_status(ev) == ICAL_STATUS_CANCELLED) {
            icalcomponent_set_status(ev, ICAL_STATUS_CONFIRMED);
        }
    }
    s = cal_child_text(p, app, NS_CAL, "AppointmentReplyTime");
    if (s) {
        time_t t;
        cal_set_x_prop(ev, "X-EAS-APPOINTMENTREPLYTIME",
                       cal_parse_time(s, &t) == 0 ? cal_compact(p, t) : NULL);
    }
}

/* A date-time property (DTSTART, DTEND) set to t in zone, or as a DATE. */
static void set_time(icalcomponent *ev, icalproperty_kind kind, struct icaltimetype t,
                     icaltimezone *zone)
{
    icalproperty *pr;
    cal_remove_props(ev, kind, NULL);
    pr = kind == ICAL_DTSTART_PROPERTY ? icalproperty_new_dtstart(t) : icalproperty_new_dtend(t);
    if (!t.is_date && zone) {
        icalproperty_add_parameter(pr, icalparameter_new_tzid(icaltimezone_get_tzid(zone)));
    }
    icalcomponent_add_property(ev, pr);
}

/* The date a phone means by an all-day instant: its nearest midnight in zone. */
static struct icaltimetype day_of(time_t t, icaltimezone *zone)
{
    struct icaltimetype d = cal_local_time(t + 12 * 3600, zone);
    d.is_date = 1;
    d.hour = d.minute = d.second = 0;
    d.zone = NULL;
    return d;
}

int cal_event_times_from_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app, icaltimezone *zone,
                             int all_day_default)
{
    const char *st = cal_child_text(p, app, NS_CAL, "StartTime");
    const char *en = cal_child_text(p, app, NS_CAL, "EndTime");
    int all_day = cal_child_int(p, app, NS_CAL, "AllDayEvent", 0, 1, all_day_default);
    time_t start, end;

    if (!st || cal_parse_time(st, &start) < 0) {
        return -1;
    }
    if (!en || cal_parse_time(en, &end) < 0 || end < start) {
        end = start + (all_day ? 86400 : 0);
    }
    if (all_day) {
        struct icaltimetype ds = day_of(start, zone), de = day_of(end, zone);
        if (icaltime_compare_date_only(de, ds) <= 0) {
            de = ds;
            icaltime_adjust(&de, 1, 0, 0, 0);
        }
        set_time(ev, ICAL_DTSTART_PROPERTY, ds, NULL);
        set_time(ev, ICAL_DTEND_PROPERTY, de, NULL);
    } else {
        struct icaltimetype ls, le;
        if (zone && (cal_utc_time(start).year >= MEETING_MAX_ZONE_YEAR ||
                     cal_utc_time(end).year >= MEETING_MAX_ZONE_YEAR)) {
            zone = NULL; /* see cal_to_utc */
        }
        ls = cal_local_time(start, zone);
        le = cal_local_time(end, zone);
        if (zone) {
            ls.zone = le.zone = NULL; /* written with its TZID parameter */
        }
        set_time(ev, ICAL_DTSTART_PROPERTY, ls, zone);
        set_time(ev, ICAL_DTEND_PROPERTY, le, zone);
    }
    cal_remove_props(ev, ICAL_DURATION_PROPERTY, NULL);
    if (all_day) {
        cal_set_x_prop(ev, "X-MICROSOFT-CDO-ALLDAYEVENT", NULL);
    }
    return 0;
}
