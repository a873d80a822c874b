/* Is an event or a task inside a Sync's FilterType window (the in_window
 * member of as_item_codec.h)?  An event is when any of its instances
 * overlaps the window: the master's RRULE is expanded with libical's
 * iterator (from near the window's start when the rule has no COUNT), at
 * most CAL_WINDOW_STEPS instances; a series still undecided
 * after that many counts as inside (sending too much is safe, hiding an
 * event is not).  A task is inside while it is not completed. */
#include "as_calendar_int.h"

static int overlaps(time_t s, time_t e, time_t start, time_t end)
{
    return (e > s ? e : s + 1) > start && s < end;
}

/* The instants of DTSTART/DTEND of ev (all-day: midnight UTC of the date,
 * one day long when DTEND is absent); -1 without a usable DTSTART. */
static int span_of(icalcomponent *root, icalcomponent *ev, struct icaltimetype *st,
                   icaltimezone **zone, time_t *s, time_t *len)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    time_t e;

    *st = pr ? icalproperty_get_dtstart(pr) : icaltime_null_time();
    if (!pr || icaltime_is_null_time(*st) || !icaltime_is_valid_time(*st)) {
        return -1;
    }
    *zone = st->is_date || icaltime_is_utc(*st) ? NULL : cal_zone_of(root, pr);
    *s = cal_to_utc(*st, *zone);
    if ((pr = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY)) != NULL) {
        struct icaltimetype et = icalproperty_get_dtend(pr);
        e = cal_to_utc(et, et.is_date || icaltime_is_utc(et) ? NULL : cal_zone_of(root, pr));
    } else if ((pr = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY)) != NULL) {
        e = *s + icaldurationtype_as_int(icalproperty_get_duration(pr));
    } else {
        e = *s + (st->is_date ? 86400 : 0);
    }
    *len = e > *s ? e - *s : 0;
    return 0;
}

static int excluded(icalcomponent *ev, struct icaltimetype t)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY);
    int n = 0;
    for (; pr && n < CAL_MAX_EXCEPTIONS;
         pr = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY), n++) {
        struct icaltimetype x = icalproperty_get_exdate(pr);
        if (x.year == t.year && x.month == t.month && x.day == t.day &&
            (x.is_date || (x.hour == t.hour && x.minute == t.minute && x.second == t.second))) {
            return 1;
        }
    }
    return 0;
}

/* Any instance of the master's RRULE in [start, end)?  1 also when the
 * bound of steps is reached undecided. */
static int series_in(icalcomponent *ev, icalproperty *rr, struct icaltimetype st,
                     icaltimezone *zone, time_t len, time_t start, time_t end)
{
    struct icalrecurrencetype rule = icalproperty_get_rrule(rr);
    icalrecur_iterator *it = icalrecur_iterator_new(rule, st);
    struct icaltimetype t;
    time_t from = start - len - 86400; /* a day's margin for zone offsets */
    int steps, found = -1;

    if (!it) {
        return 1;
    }
    if (rule.count == 0 && from > cal_to_utc(st, zone)) {
        /* an old series without COUNT: start the expansion near the window
         * (libical cannot with COUNT; on failure it starts at DTSTART) */
        t = cal_local_time(from, zone);
        if (st.is_date) {
            t.is_date = 1;
            t.hour = t.minute = t.second = 0;
        }
        icalrecur_iterator_set_start(it, t);
    }
    for (steps = 0; steps < CAL_WINDOW_STEPS && found < 0; steps++) {
        time_t s;
        t = icalrecur_iterator_next(it);
        if (icaltime_is_null_time(t)) {
            found = 0; /* the series ended before the window */
            break;
        }
        s = cal_to_utc(t, zone);
        if (s >= end) {
            found = 0;
        } else if (overlaps(s, s + len, start, end) && !excluded(ev, t)) {
            found = 1;
        }
    }
    icalrecur_iterator_free(it);
    return found < 0 ? 1 : found;
}

static int event_in(icalcomponent *root, time_t start, time_t end)
{
    icalcomponent *ev = cal_master(root, ICAL_VEVENT_COMPONENT), *c;
    struct icaltimetype st;
    icaltimezone *zone;
    time_t s, len;
    icalproperty *rr;
    int n = 0;

    if (!ev || span_of(root, ev, &st, &zone, &s, &len) < 0) {
        return 1; /* not readable as an event: the conversion decides */
    }
    /* a moved instance may be inside while its series is not */
    for (c = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
         c && n < CAL_MAX_EXCEPTIONS;
         c = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT), n++) {
        struct icaltimetype ct;
        icaltimezone *cz;
        time_t cs, cl;
        if (c != ev && span_of(root, c, &ct, &cz, &cs, &cl) == 0 &&
            overlaps(cs, cs + cl, start, end)) {
            return 1;
        }
    }
    if (icalcomponent_get_first_property(ev, ICAL_RDATE_PROPERTY)) {
        return 1; /* extra dates: not worth expanding, send it */
    }
    rr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
    if (!rr) {
        return overlaps(s, s + len, start, end);
    }
    return series_in(ev, rr, st, zone, len, start, end);
}

static time_t clamp_sec(apr_time_t t)
{
    return (time_t)apr_time_sec(t);
}

int cal_event_in_window(const char *data, apr_size_t len, apr_time_t start, apr_time_t end)
{
    const char *err = NULL;
    icalcomponent *root = cal_parse(data, len, &err);
    int in;
    if (!root) {
        return 1;
    }
    in = event_in(root, clamp_sec(start), end > 0 ? clamp_sec(end) : (time_t)253402300799);
    icalcomponent_free(root);
    return in;
}

int cal_task_in_window(const char *data, apr_size_t len, apr_time_t start, apr_time_t end)
{
    const char *err = NULL;
    icalcomponent *root = cal_parse(data, len, &err), *td;
    icalproperty *pr;
    int in = 1;
    (void)start;
    (void)end;
    if (!root) {
        return 1;
    }
    td = cal_master(root, ICAL_VTODO_COMPONENT);
    if (td) {
        pr = icalcomponent_get_first_property(td, ICAL_PERCENTCOMPLETE_PROPERTY);
        in = !(icalcomponent_get_status(td) == ICAL_STATUS_COMPLETED ||
               icalcomponent_get_first_property(td, ICAL_COMPLETED_PROPERTY) ||
               (pr && icalproperty_get_percentcomplete(pr) >= 100));
    }
    icalcomponent_free(root);
    return in;
}
