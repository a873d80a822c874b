/* An invitation's answer written into the calendar file (as_meeting.h):
 * the event made or updated from the invitation, the account's PARTSTAT
 * and busy status, and a decline or a cancellation removing the event or
 * one of its occurrences.  Works on the files only; the command stores the
 * result through the store contract. */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "activesync/as_meeting.h"
#include "as_calendar_int.h"

static const char *address_of(const char *v)
{
    if (v && !strncasecmp(v, "mailto:", 7)) {
        return v + 7;
    }
    return v;
}

static int is_rid(icalcomponent *ev)
{
    return icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY) != NULL;
}

/* The VEVENT without RECURRENCE-ID, NULL when the file holds only
 * overrides. */
static icalcomponent *master_of(icalcomponent *root)
{
    icalcomponent *ev;
    for (ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ev;
         ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        if (!is_rid(ev)) {
            return ev;
        }
    }
    return NULL;
}

/* Does the account organise any event of the file? */
static int organised_by(icalcomponent *root, const char *account)
{
    icalcomponent *ev;
    for (ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ev;
         ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
        const char *a = pr ? address_of(icalproperty_get_organizer(pr)) : NULL;
        if (a && !strcasecmp(a, account)) {
            return 1;
        }
    }
    return 0;
}

/* The series' zone: DTSTART's, or for a DATE the file's only VTIMEZONE
 * (as the Calendar conversion reads all-day events). */
static icaltimezone *series_zone(icalcomponent *root, icalcomponent *ev)
{
    icalproperty *pr = ev ? icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY) : NULL;
    struct icaltimetype t;
    icalcomponent *vtz;

    if (!pr) {
        return NULL;
    }
    t = icalproperty_get_dtstart(pr);
    if (!t.is_date) {
        return icaltime_is_utc(t) ? NULL : cal_zone_of(root, pr);
    }
    vtz = icalcomponent_get_first_component(root, ICAL_VTIMEZONE_COMPONENT);
    if (!vtz || icalcomponent_get_next_component(root, ICAL_VTIMEZONE_COMPONENT)) {
        return NULL;
    }
    pr = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
    return pr ? icalcomponent_get_timezone(root, icalproperty_get_tzid(pr)) : NULL;
}

/* An override's original start in UTC seconds. */
static time_t rid_of(icalcomponent *root, icalcomponent *ev, icaltimezone *zone)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
    struct icaltimetype t = icalproperty_get_recurrenceid(pr);
    icaltimezone *z = icaltime_is_utc(t) ? NULL : cal_zone_of(root, pr);
    return cal_to_utc(t, z ? z : (icaltime_is_utc(t) ? NULL : zone));
}

static icalcomponent *override_at(icalcomponent *root, time_t t, icaltimezone *zone)
{
    icalcomponent *ev;
    for (ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ev;
         ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        if (is_rid(ev) && rid_of(root, ev, zone) == t) {
            return ev;
        }
    }
    return NULL;
}

/* Is t (UTC) the original start of an instance of the series m: an
 * override's RECURRENCE-ID, or a start its RRULE gives (libical's
 * iterator, at most CAL_WINDOW_STEPS instances; a series still undecided
 * then counts as having it)? */
static int is_instance(icalcomponent *root, icalcomponent *m, time_t t, icaltimezone *zone)
{
    icalproperty *rr = icalcomponent_get_first_property(m, ICAL_RRULE_PROPERTY);
    icalproperty *dt = icalcomponent_get_first_property(m, ICAL_DTSTART_PROPERTY);
    struct icaltimetype st, next;
    icalrecur_iterator *it;
    int steps, found = -1;

    if (!rr || !dt) {
        return 0;
    }
    if (override_at(root, t, zone)) {
        return 1;
    }
    st = icalproperty_get_dtstart(dt);
    it = icalrecur_iterator_new(icalproperty_get_rrule(rr), st);
    if (!it) {
        return 0;
    }
    for (steps = 0; steps < CAL_WINDOW_STEPS && found < 0; steps++) {
        time_t u;
        next = icalrecur_iterator_next(it);
        if (icaltime_is_null_time(next)) {
            found = 0;
            break;
        }
        u = cal_to_utc(next, icaltime_is_utc(next) ? NULL : zone);
        if (u >= t) {
            found = u == t;
        }
    }
    icalrecur_iterator_free(it);
    return found != 0;
}

/* The invitation's VTIMEZONEs that the file lacks, copied into it. */
static void copy_zones(icalcomponent *from, icalcomponent *to)
{
    icalcomponent *vtz;
    for (vtz = icalcomponent_get_first_component(from, ICAL_VTIMEZONE_COMPONENT); vtz;
         vtz = icalcomponent_get_next_component(from, ICAL_VTIMEZONE_COMPONENT)) {
        icalproperty *pr = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
        const char *tzid = pr ? icalproperty_get_tzid(pr) : NULL;
        if (tzid && !icalcomponent_get_timezone(to, tzid)) {
            icalcomponent_add_component(to, icalcomponent_new_clone(vtz));
        }
    }
}

/* The invitation onto the current file; returns the root that holds the
 * result (inv or old).  A series replaces the file unless it is older
 * (a lower SEQUENCE); overrides replace those of their RECURRENCE-ID
 * unless older. */
static icalcomponent *merge(icalcomponent *inv, icalcomponent *old)
{
    icalcomponent *im = master_of(inv), *om = master_of(old), *ev, *next, *cur;
    icaltimezone *izone, *ozone;

    if (im) {
        return !om || icalcomponent_get_sequence(im) >= icalcomponent_get_sequence(om) ? inv : old;
    }
    izone = series_zone(inv, icalcomponent_get_first_component(inv, ICAL_VEVENT_COMPONENT));
    ozone = series_zone(old, om);
    copy_zones(inv, old);
    for (ev = icalcomponent_get_first_component(inv, ICAL_VEVENT_COMPONENT); ev; ev = next) {
        next = icalcomponent_get_next_component(inv, ICAL_VEVENT_COMPONENT);
        cur = override_at(old, rid_of(inv, ev, izone), ozone);
        if (cur && icalcomponent_get_sequence(cur) > icalcomponent_get_sequence(ev)) {
            continue;
        }
        if (cur) {
            icalcomponent_remove_component(old, cur);
            icalcomponent_free(cur);
        }
        icalcomponent_remove_component(inv, ev);
        icalcomponent_add_component(old, ev);
    }
    return old;
}

/* The account's answer on one VEVENT. */
static void set_answer(apr_pool_t *p, icalcomponent *ev, const as_meeting_answer_t *a)
{
    icalproperty *pr;
    const char *intended;
    time_t now = (time_t)apr_time_sec(a->now);

    for (pr = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(ev, ICAL_ATTENDEE_PROPERTY)) {
        const char *addr = address_of(icalproperty_get_attendee(pr));
        if (addr && !strcasecmp(addr, a->account)) {
            break;
        }
    }
    if (!pr) {
        /* invited through a list or an alias: the answer is still recorded */
        pr = icalproperty_new_attendee(apr_pstrcat(p, "mailto:", a->account, NULL));
        icalcomponent_add_property(ev, pr);
    }
    icalproperty_remove_parameter_by_kind(pr, ICAL_PARTSTAT_PARAMETER);
    icalproperty_add_parameter(pr, icalparameter_new_partstat(a->response == AS_MEETING_TENTATIVE
                                                                  ? ICAL_PARTSTAT_TENTATIVE
                                                                  : ICAL_PARTSTAT_ACCEPTED));
    /* Outlook invites as TENTATIVE with the status meant once accepted */
    intended = cal_x_prop(ev, "X-MICROSOFT-CDO-INTENDEDSTATUS");
    if (a->response == AS_MEETING_TENTATIVE) {
        cal_set_x_prop(ev, "X-MICROSOFT-CDO-BUSYSTATUS", "TENTATIVE");
    } else {
        cal_set_x_prop(ev, "X-MICROSOFT-CDO-BUSYSTATUS",
                       intended ? apr_pstrdup(p, intended) : NULL); /* NULL: TRANSP decides */
    }
    cal_set_x_prop(ev, "X-EAS-APPOINTMENTREPLYTIME", cal_compact(p, now));
    cal_remove_props(ev, ICAL_LASTMODIFIED_PROPERTY, NULL);
    icalcomponent_add_property(ev, icalproperty_new_lastmodified(cal_utc_time(now)));
}

/* Remove the occurrences the invitation (overrides only) names from the
 * series of root; 0 when root has no series (the whole file goes). */
static int drop_occurrences(icalcomponent *inv, icalcomponent *root)
{
    icalcomponent *m = master_of(root), *ev;
    icaltimezone *izone, *zone;

    if (!m) {
        return 0;
    }
    izone = series_zone(inv, icalcomponent_get_first_component(inv, ICAL_VEVENT_COMPONENT));
    zone = series_zone(root, m);
    for (ev = icalcomponent_get_first_component(inv, ICAL_VEVENT_COMPONENT); ev;
         ev = icalcomponent_get_next_component(inv, ICAL_VEVENT_COMPONENT)) {
        cal_instance_delete(root, m, rid_of(inv, ev, izone), zone);
    }
    return 1;
}

/* Decline or cancellation: the file to keep (the series without the
 * occurrences), or NULL for the whole event removed. */
static icalcomponent *removal(icalcomponent *inv, icalcomponent *old, const as_meeting_answer_t *a,
                              const char **err)
{
    icalcomponent *base = old ? old : inv, *m = master_of(base);

    if (a->has_instance) {
        if (!m || !is_instance(base, m, (time_t)apr_time_sec(a->instance), series_zone(base, m))) {
            *err = "no such occurrence of the event";
            return NULL;
        }
        cal_instance_delete(base, m, (time_t)apr_time_sec(a->instance), series_zone(base, m));
        return base;
    }
    if (inv && !master_of(inv) && old && drop_occurrences(inv, old)) {
        return old;
    }
    return NULL;
}

static icalcomponent *parse_or_fail(const char *data, apr_size_t len, const char **err)
{
    icalcomponent *root = cal_parse(data, len, err);
    if (root && !icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT)) {
        icalcomponent_free(root);
        *err = "no VEVENT";
        return NULL;
    }
    return root;
}

static int is_cancel(icalcomponent *root)
{
    icalproperty *pr = icalcomponent_get_first_property(root, ICAL_METHOD_PROPERTY);
    return pr && icalproperty_get_method(pr) == ICAL_METHOD_CANCEL;
}

/* Accept or tentative: the invitation merged, the answer on the events
 * it concerns. */
static icalcomponent *acceptance(apr_pool_t *p, icalcomponent *inv, icalcomponent *old,
                                 const as_meeting_answer_t *a, const char **err)
{
    icalcomponent *root, *ev, *m;

    if (a->has_instance) {
        root = old ? old : inv;
        m = master_of(root);
        if (!m || !is_instance(root, m, (time_t)apr_time_sec(a->instance), series_zone(root, m))) {
            *err = "no such occurrence of the event";
            return NULL;
        }
        set_answer(
            p,
            cal_instance_override(root, m, (time_t)apr_time_sec(a->instance), series_zone(root, m)),
            a);
        return root;
    }
    if (inv && !master_of(inv)) {
        /* an invitation for some occurrences: the answer is for them */
        for (ev = icalcomponent_get_first_component(inv, ICAL_VEVENT_COMPONENT); ev;
             ev = icalcomponent_get_next_component(inv, ICAL_VEVENT_COMPONENT)) {
            set_answer(p, ev, a);
        }
        return old ? merge(inv, old) : inv;
    }
    root = inv && old ? merge(inv, old) : (inv ? inv : old);
    for (ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ev;
         ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        set_answer(p, ev, a);
    }
    return root;
}

apr_status_t as_meeting_answer(apr_pool_t *p, const char *invite, apr_size_t ilen, const char *old,
                               apr_size_t olen, const as_meeting_answer_t *a, char **out,
                               apr_size_t *outlen, const char **err)
{
    icalcomponent *inv = NULL, *cur = NULL, *root;
    apr_status_t rv = APR_SUCCESS;
    int cancel = 0;

    *out = NULL;
    *outlen = 0;
    *err = NULL;
    if ((!invite && !old) || !a->account) {
        *err = "nothing to answer";
        return APR_EINVAL;
    }
    if (invite && !(inv = parse_or_fail(invite, ilen, err))) {
        return APR_EINVAL;
    }
    if (old && !(cur = parse_or_fail(old, olen, err))) {
        if (inv) {
            icalcomponent_free(inv);
        }
        return APR_EINVAL;
    }
    if (inv) {
        cancel = is_cancel(inv);
        cal_remove_props(inv, ICAL_METHOD_PROPERTY, NULL);
    }
    if ((inv && organised_by(inv, a->account)) || (cur && organised_by(cur, a->account))) {
        rv = AS_MEETING_EORGANIZER;
    } else if (cancel && !cur) {
        rv = APR_ENOENT; /* nothing in the calendar to cancel */
    } else {
        root = cancel || a->response == AS_MEETING_DECLINE ? removal(inv, cur, a, err)
                                                           : acceptance(p, inv, cur, a, err);
        if (*err) {
            rv = APR_EINVAL;
        } else if (root) {
            *out = cal_serialize(p, root, outlen);
        }
    }
    if (inv) {
        icalcomponent_free(inv);
    }
    if (cur) {
        icalcomponent_free(cur);
    }
    return rv;
}

/* Control characters in a UID do not survive libical's writing of the
 * file: such a UID could not be found again, so it is not used. */
static int has_controls(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f) {
            return 1;
        }
    }
    return 0;
}

const char *as_meeting_uid_of(apr_pool_t *p, const char *text, apr_size_t len, int *cancel)
{
    const char *err = NULL, *uid;
    icalcomponent *root = parse_or_fail(text, len, &err), *ev;

    if (cancel) {
        *cancel = 0;
    }
    if (!root) {
        return NULL;
    }
    if (cancel) {
        *cancel = is_cancel(root);
    }
    ev = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
    uid = icalcomponent_get_uid(ev);
    uid = uid && *uid && strlen(uid) <= AS_MEETING_UID_MAX && !has_controls(uid)
              ? apr_pstrdup(p, uid)
              : NULL;
    icalcomponent_free(root);
    return uid;
}
