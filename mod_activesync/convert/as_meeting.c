/* iCalendar invitations to email:MeetingRequest with libical: see as_meeting.h. */
#include <string.h>
#include <strings.h>

#include <apr_base64.h>
#include <apr_strings.h>
#include <libical/ical.h>

#include "activesync/as_command.h"
#include "activesync/as_meeting.h"
#include "activesync/as_utf8.h"
#include "as_calendar_int.h"
#include "as_meeting_int.h"

#define NS_EMAIL  "Email:"
#define NS_EMAIL2 "Email2:"
#define NS_BASE   "AirSyncBase:"
#define NS_CAL    "Calendar:"

typedef struct recur_t {
    int type; /* 0 daily, 1 weekly, 2 monthly, 3 monthly nth, 5 yearly, 6 yearly nth */
    int interval, count;
    const char *until; /* compact UTC, or NULL */
    int week, mday, wdays, month;
} recur_t;

struct as_meeting_t {
    int cancel, all_day, instance_type, sensitivity, busy, reminder, response_requested;
    int disallow_counter, sequence;
    apr_time_t start, end, stamp, recurrence_id;
    const char *location, *organizer, *uid, *tz_b64;
    int rid_year, rid_month, rid_day;
    const recur_t *recur;
};

void as_meeting_init(void)
{
    /* broken input must come back as an error, never abort the process */
    icalerror_set_errors_are_fatal(0);
    (void)icaltimezone_get_utc_timezone();
}

/* ---------------------------------------------------------------------------
 * Small helpers
 */
static const char *dt_str(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;
    apr_time_exp_gmt(&e, t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", e.tm_year + 1900, e.tm_mon + 1,
                        e.tm_mday, e.tm_hour, e.tm_min, e.tm_sec);
}

static const char *compact_str(apr_pool_t *p, apr_time_t t)
{
    apr_time_exp_t e;
    apr_time_exp_gmt(&e, t);
    return apr_psprintf(p, "%04d%02d%02dT%02d%02d%02dZ", e.tm_year + 1900, e.tm_mon + 1, e.tm_mday,
                        e.tm_hour, e.tm_min, e.tm_sec);
}

/* Text from the calendar as one clean line of UTF-8 (libical has already
 * unescaped it; it may still hold invalid bytes or controls). */
static const char *clean(apr_pool_t *p, const char *s)
{
    return s ? as_utf8_clean(p, s, strlen(s), 1, NULL) : NULL;
}

static const char *x_prop(icalcomponent *c, const char *name)
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

static icaltimezone *utc_zone(void)
{
    return icaltimezone_get_utc_timezone();
}

/* The zone of a date-time property: the one libical attached from the
 * calendar's VTIMEZONE, else the system zone named by TZID, else NULL
 * (UTC or floating, both read as UTC). */
static icaltimezone *zone_of(icalproperty *prop, struct icaltimetype *t)
{
    icalparameter *tzp;
    const char *tzid;
    icaltimezone *z;

    if (icaltime_is_utc(*t)) {
        return NULL;
    }
    if (t->zone) {
        return (icaltimezone *)t->zone;
    }
    tzp = prop ? icalproperty_get_first_parameter(prop, ICAL_TZID_PARAMETER) : NULL;
    tzid = tzp ? icalparameter_get_tzid(tzp) : NULL;
    if (!tzid || !*tzid) {
        return NULL;
    }
    while (*tzid == '/') {
        tzid++;
    }
    z = icaltimezone_get_builtin_timezone(tzid);
    if (z) {
        *t = icaltime_set_timezone(t, z);
    }
    return z;
}

#define MAX_UTC_SECONDS ((time_t)253402300799) /* 9999-12-31T23:59:59Z */
#define MIN_UTC_SECONDS ((time_t)-62135596800) /* 0001-01-01T00:00:00Z */

/* A DATE or DATE-TIME as UTC; dates are midnight in zone (NULL: UTC). */
static apr_time_t to_utc(struct icaltimetype t, icaltimezone *zone)
{
    time_t s;
    if (t.year > MEETING_MAX_ZONE_YEAR) {
        zone = NULL; /* see meeting_zones_check */
    }
    if (t.is_date) {
        t.is_date = 0;
        t.hour = t.minute = t.second = 0;
    }
    zone = cal_tz_fast(zone, t.year); /* a builtin twin: no expansion per call */
    s = icaltime_as_timet_with_zone(t, zone ? zone : utc_zone());
    /* libical gives seconds for any year it parsed (found: 5.6 million
     * years): keep within 0001..9999, whose microseconds fit apr_time_t */
    if (s > MAX_UTC_SECONDS) {
        s = MAX_UTC_SECONDS;
    } else if (s < MIN_UTC_SECONDS) {
        s = MIN_UTC_SECONDS;
    }
    return apr_time_from_sec(s);
}

/* ---------------------------------------------------------------------------
 * GlobalObjId
 */
static const unsigned char goid_head[16] = {0x04, 0x00, 0x00, 0x00, 0x82, 0x00, 0xE0, 0x00,
                                            0x74, 0xC5, 0xB7, 0x10, 0x1A, 0x82, 0xE0, 0x08};

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

const char *as_meeting_globalobjid(apr_pool_t *p, const char *uid, int year, int month, int day)
{
    size_t n = strlen(uid), i;
    unsigned char *b;
    size_t len;
    int outlook = n >= 82 && n % 2 == 0 && n < 8192;

    if (n > AS_MEETING_UID_MAX) {
        return NULL; /* as_meeting_parse refuses such UIDs: the sizes below fit */
    }

    /* An Outlook UID is the hex of a GlobalObjectId (MS-OXCICAL UID), in
     * upper case as Outlook and Exchange write it.  A phone reads the
     * GlobalObjId of such bytes back as upper-case hex and compares it
     * with the calendar item's UID: a UID in lower or mixed case would
     * not match, so it is wrapped as "vCal-Uid" like any other UID. */
    for (i = 0; outlook && i < n; i++) {
        outlook = hexval(uid[i]) >= 0 && !(uid[i] >= 'a' && uid[i] <= 'f');
    }
    if (outlook) {
        len = n / 2;
        b = apr_palloc(p, len);
        for (i = 0; i < len; i++) {
            b[i] = (unsigned char)(hexval(uid[2 * i]) << 4 | hexval(uid[2 * i + 1]));
        }
        outlook = !memcmp(b, goid_head, 16);
    }
    if (!outlook) {
        /* head, date 4, creation time 8, reserved 8, size 4, then the data:
         * "vCal-Uid", 01 00 00 00, the UID, NUL */
        size_t dlen = 8 + 4 + n + 1;
        len = 40 + dlen;
        b = apr_pcalloc(p, len);
        memcpy(b, goid_head, 16);
        meeting_put32(b + 36, (long)dlen); /* at most AS_MEETING_UID_MAX + 13 */
        memcpy(b + 40, "vCal-Uid\x01\x00\x00\x00", 12);
        memcpy(b + 52, uid, n + 1);
    }
    b[16] = (unsigned char)((year >> 8) & 0xff); /* big-endian, unlike the rest */
    b[17] = (unsigned char)(year & 0xff);
    b[18] = (unsigned char)month;
    b[19] = (unsigned char)day;
    return meeting_b64(p, b, len);
}

/* ---------------------------------------------------------------------------
 * Recurrence: the Calendar class's mapping (as_calendar_recur.c)
 */
static const recur_t *recur_of(apr_pool_t *p, icalproperty *pr, struct icaltimetype start,
                               icaltimezone *zone)
{
    cal_recur_t e;
    recur_t *o;

    if (cal_recur_from_rrule(icalproperty_get_rrule(pr), start, zone, &e) < 0) {
        return NULL; /* SECONDLY ... HOURLY: no EAS pattern */
    }
    o = apr_pcalloc(p, sizeof *o);
    o->type = e.type;
    o->interval = e.interval;
    o->count = e.occurrences;
    o->until = e.until ? compact_str(p, apr_time_from_sec(e.until)) : NULL;
    o->week = e.wom;
    o->mday = e.dom;
    o->wdays = e.dow;
    o->month = e.moy;
    return o;
}

/* ---------------------------------------------------------------------------
 * Parsing
 */
static int busy_word(const char *s)
{
    if (!s) {
        return -1;
    }
    if (!strcasecmp(s, "FREE")) {
        return 0;
    }
    if (!strcasecmp(s, "TENTATIVE")) {
        return 1;
    }
    if (!strcasecmp(s, "BUSY")) {
        return 2;
    }
    if (!strcasecmp(s, "OOF")) {
        return 3;
    }
    if (!strcasecmp(s, "WORKINGELSEWHERE")) {
        return 4;
    }
    return -1;
}

static const char *organizer_of(apr_pool_t *p, icalcomponent *ev)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
    icalparameter *cn;
    const char *addr, *name;
    if (!pr || !(addr = icalproperty_get_organizer(pr))) {
        return NULL;
    }
    if (!strncasecmp(addr, "mailto:", 7)) {
        addr = addr + 7;
    }
    addr = clean(p, addr);
    cn = icalproperty_get_first_parameter(pr, ICAL_CN_PARAMETER);
    name = cn ? clean(p, icalparameter_get_cn(cn)) : NULL;
    if (name && *name && *addr) {
        char *q = apr_palloc(p, strlen(name) * 2 + 3), *o = q;
        *o++ = '"';
        for (; *name; name++) {
            if (*name == '"' || *name == '\\') {
                *o++ = '\\';
            }
            *o++ = *name;
        }
        *o++ = '"';
        *o = '\0';
        return apr_pstrcat(p, q, " <", addr, ">", NULL);
    }
    return *addr ? addr : NULL;
}

/* RSVP=TRUE on an attendee, or no attendee saying either way: a reply is
 * wanted.  Only when every RSVP parameter says FALSE is none asked for. */
static int response_requested(icalcomponent *ev)
{
    icalproperty *pr;
    int any = 0, yes = 0;
    for (pr = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(ev, ICAL_ATTENDEE_PROPERTY)) {
        icalparameter *rs = icalproperty_get_first_parameter(pr, ICAL_RSVP_PARAMETER);
        if (rs) {
            any = 1;
            yes |= icalparameter_get_rsvp(rs) == ICAL_RSVP_TRUE;
        }
    }
    return yes || !any;
}

static int reminder_of(icalcomponent *ev)
{
    icalcomponent *al = icalcomponent_get_first_component(ev, ICAL_VALARM_COMPONENT);
    icalproperty *pr = al ? icalcomponent_get_first_property(al, ICAL_TRIGGER_PROPERTY) : NULL;
    icalparameter *rel;
    struct icaltriggertype tr;
    int secs;
    long long minutes;

    if (!pr) {
        return -1;
    }
    rel = icalproperty_get_first_parameter(pr, ICAL_RELATED_PARAMETER);
    if (rel && icalparameter_get_related(rel) == ICAL_RELATED_END) {
        return -1;
    }
    tr = icalproperty_get_trigger(pr);
    if (!icaltime_is_null_time(tr.time)) {
        return -1; /* absolute trigger */
    }
    secs = icaldurationtype_as_int(tr.duration);
    if (secs > 0) {
        return -1; /* after the start: not a reminder */
    }
    minutes = -(long long)secs / 60; /* -INT_MIN does not fit an int */
    return minutes > 65535 ? 65535 : (int)minutes;
}

/* The calendar's first VEVENT (the root itself may be one); NULL if none. */
static icalcomponent *first_event(icalcomponent *root)
{
    if (icalcomponent_isa(root) == ICAL_VEVENT_COMPONENT) {
        return root;
    }
    if (icalcomponent_isa(root) == ICAL_VCALENDAR_COMPONENT) {
        return icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
    }
    return NULL;
}

/* StartTime, EndTime, AllDayEvent, DtStamp, RecurrenceId, InstanceType and
 * the recurrence; returns the zone of DTSTART (NULL: UTC). */
static icaltimezone *parse_times(apr_pool_t *p, icalcomponent *root, icalcomponent *ev,
                                 icalproperty *dtprop, struct icaltimetype start, apr_time_t stamp,
                                 as_meeting_t *m)
{
    icaltimezone *zone = zone_of(dtprop, &start);
    icalproperty *pr;
    struct icaltimetype t;
    const char *s;

    if (start.is_date && !zone) {
        /* an all-day event: midnight in the calendar's only VTIMEZONE */
        icalcomponent *vtz = icalcomponent_get_first_component(root, ICAL_VTIMEZONE_COMPONENT);
        if (vtz && !icalcomponent_get_next_component(root, ICAL_VTIMEZONE_COMPONENT)) {
            pr = icalcomponent_get_first_property(vtz, ICAL_TZID_PROPERTY);
            zone = pr ? icalcomponent_get_timezone(root, icalproperty_get_tzid(pr)) : NULL;
        }
    }
    m->start = to_utc(start, zone);
    s = x_prop(ev, "X-MICROSOFT-CDO-ALLDAYEVENT");
    m->all_day = start.is_date || (s && !strcasecmp(s, "TRUE"));

    pr = icalcomponent_get_first_property(ev, ICAL_DTEND_PROPERTY);
    if (pr) {
        struct icaltimetype end = icalcomponent_get_dtend(ev); /* with the zone resolved */
        icaltimezone *ez = zone_of(pr, &end);
        m->end = to_utc(end, ez || !end.is_date ? ez : zone);
    } else if ((pr = icalcomponent_get_first_property(ev, ICAL_DURATION_PROPERTY)) != NULL) {
        m->end =
            m->start + apr_time_from_sec(icaldurationtype_as_int(icalproperty_get_duration(pr)));
    } else {
        m->end = m->start + (start.is_date ? apr_time_from_sec(86400) : 0);
    }
    if (m->end < m->start) {
        m->end = m->start;
    }

    t = icalcomponent_get_dtstamp(ev);
    m->stamp = !icaltime_is_null_time(t) ? to_utc(t, NULL) : stamp;

    pr = icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY);
    if (pr) {
        t = icalproperty_get_recurrenceid(pr);
        if (!icaltime_is_null_time(t)) {
            icaltimezone *rz = zone_of(pr, &t);
            m->recurrence_id = to_utc(t, rz || !t.is_date ? rz : zone);
            m->rid_year = t.year;
            m->rid_month = t.month;
            m->rid_day = t.day;
        }
    }
    pr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
    m->instance_type = m->recurrence_id ? 3 : (pr ? 1 : 0);
    if (pr && !m->recurrence_id) {
        m->recur = recur_of(p, pr, start, zone);
    }
    return zone;
}

/* Location, Organizer, Reminder, ResponseRequested, Sensitivity,
 * BusyStatus, DisallowNewTimeProposal and the SEQUENCE. */
static void parse_attributes(apr_pool_t *p, icalcomponent *ev, as_meeting_t *m)
{
    icalproperty *pr;
    const char *s = icalcomponent_get_location(ev);

    m->location = s && *s ? clean(p, s) : NULL;
    m->organizer = organizer_of(p, ev);
    m->reminder = reminder_of(ev);
    m->response_requested = m->cancel ? 0 : response_requested(ev);

    m->sensitivity = 0;
    pr = icalcomponent_get_first_property(ev, ICAL_CLASS_PROPERTY);
    if (pr) {
        enum icalproperty_class c = icalproperty_get_class(pr);
        m->sensitivity = c == ICAL_CLASS_PRIVATE ? 2 : (c == ICAL_CLASS_CONFIDENTIAL ? 3 : 0);
    }

    m->busy = busy_word(x_prop(ev, "X-MICROSOFT-CDO-INTENDEDSTATUS"));
    if (m->busy < 0) {
        m->busy = busy_word(x_prop(ev, "X-MICROSOFT-CDO-BUSYSTATUS"));
    }
    if (m->busy < 0) {
        pr = icalcomponent_get_first_property(ev, ICAL_TRANSP_PROPERTY);
        m->busy = pr && icalproperty_get_transp(pr) == ICAL_TRANSP_TRANSPARENT ? 0 : 2;
    }
    if (m->cancel) {
        m->busy = 0; /* the slot is free again */
    }

    s = x_prop(ev, "X-MICROSOFT-DISALLOW-COUNTER");
    m->disallow_counter = s && !strcasecmp(s, "TRUE");
    m->sequence = icalcomponent_get_sequence(ev);
}

apr_status_t as_meeting_parse(apr_pool_t *p, const char *text, apr_size_t len, int cancel,
                              apr_time_t stamp, as_meeting_t **out, const char **err)
{
    icalcomponent *root, *ev;
    icalproperty *dtprop;
    struct icaltimetype start;
    icaltimezone *zone;
    as_meeting_t *m;
    const char *s;

    *out = NULL;
    *err = NULL;
    if (len > AS_MEETING_CALENDAR_MAX) {
        *err = "calendar too large";
        return APR_EINVAL;
    }
    /* NUL-terminated; NULs inside end it */
    root = icalparser_parse_string(apr_pstrmemdup(p, text, len));
    if (!root) {
        *err = "not iCalendar";
        return APR_EINVAL;
    }
    ev = first_event(root);
    if (!ev || (*err = meeting_zones_check(root)) != NULL) {
        icalcomponent_free(root);
        if (!*err) {
            *err = "no VEVENT";
        }
        return APR_EINVAL;
    }
    s = icalcomponent_get_uid(ev);
    dtprop = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY);
    start = icalcomponent_get_dtstart(ev);
    if (!s || !*s || !dtprop || icaltime_is_null_time(start) || !icaltime_is_valid_time(start)) {
        *err = !s || !*s ? "VEVENT without UID" : "VEVENT without a valid DTSTART";
        icalcomponent_free(root); /* s points into it */
        return APR_EINVAL;
    }
    m = apr_pcalloc(p, sizeof *m);
    m->cancel = cancel;
    m->uid = clean(p, s);
    if (strlen(m->uid) > AS_MEETING_UID_MAX) {
        icalcomponent_free(root);
        *err = "UID too long";
        return APR_EINVAL;
    }
    zone = parse_times(p, root, ev, dtprop, start, stamp, m);
    parse_attributes(p, ev, m);
    m->tz_b64 = meeting_tz_blob(p, zone, start.year);
    icalcomponent_free(root);
    *out = m;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * Output
 */
void as_meeting_add(apr_pool_t *p, xmlNodePtr app, const as_meeting_t *m, int protocol)
{
    xmlNodePtr mr = as_xml_add(app, NS_EMAIL, "MeetingRequest", NULL);

    as_xml_add(mr, NS_EMAIL, "AllDayEvent", m->all_day ? "1" : "0");
    as_xml_add(mr, NS_EMAIL, "StartTime", dt_str(p, m->start));
    as_xml_add(mr, NS_EMAIL, "DtStamp", dt_str(p, m->stamp));
    as_xml_add(mr, NS_EMAIL, "EndTime", dt_str(p, m->end));
    as_xml_add(mr, NS_EMAIL, "InstanceType", apr_itoa(p, m->instance_type));
    if (m->location) {
        if (protocol >= 160) {
            as_xml_add(as_xml_add(mr, NS_BASE, "Location", NULL), NS_BASE, "DisplayName",
                       m->location);
        } else {
            as_xml_add(mr, NS_EMAIL, "Location", m->location);
        }
    }
    if (m->organizer) {
        as_xml_add(mr, NS_EMAIL, "Organizer", m->organizer);
    }
    if (m->recurrence_id) {
        as_xml_add(mr, NS_EMAIL, "RecurrenceId", dt_str(p, m->recurrence_id));
    }
    if (m->reminder >= 0) {
        as_xml_add(mr, NS_EMAIL, "Reminder", apr_itoa(p, m->reminder));
    }
    as_xml_add(mr, NS_EMAIL, "ResponseRequested", m->response_requested ? "1" : "0");
    if (m->recur) {
        const recur_t *r = m->recur;
        xmlNodePtr rn =
            as_xml_add(as_xml_add(mr, NS_EMAIL, "Recurrences", NULL), NS_EMAIL, "Recurrence", NULL);
        as_xml_add(rn, NS_EMAIL, "Type", apr_itoa(p, r->type));
        as_xml_add(rn, NS_EMAIL, "Interval", apr_itoa(p, r->interval));
        if (r->until) {
            as_xml_add(rn, NS_EMAIL, "Until", r->until);
        }
        if (r->count) {
            as_xml_add(rn, NS_EMAIL, "Occurrences", apr_itoa(p, r->count));
        }
        if (r->week) {
            as_xml_add(rn, NS_EMAIL, "WeekOfMonth", apr_itoa(p, r->week));
        }
        if (r->mday) {
            as_xml_add(rn, NS_EMAIL, "DayOfMonth", apr_itoa(p, r->mday));
        }
        if (r->wdays) {
            as_xml_add(rn, NS_EMAIL, "DayOfWeek", apr_itoa(p, r->wdays));
        }
        if (r->month) {
            as_xml_add(rn, NS_EMAIL, "MonthOfYear", apr_itoa(p, r->month));
        }
    }
    as_xml_add(mr, NS_EMAIL, "Sensitivity", apr_itoa(p, m->sensitivity));
    as_xml_add(mr, NS_EMAIL, "BusyStatus",
               apr_itoa(p, m->busy == 4 && protocol < 160 ? 2 : m->busy));
    as_xml_add(mr, NS_EMAIL, "TimeZone", m->tz_b64);
    if (protocol < 160) {
        const char *goid = as_meeting_globalobjid(p, m->uid, m->rid_year, m->rid_month, m->rid_day);
        if (goid) { /* always: as_meeting_parse bounds the UID */
            as_xml_add(mr, NS_EMAIL, "GlobalObjId", goid);
        }
    }
    if (protocol >= 140) {
        as_xml_add(mr, NS_EMAIL, "DisallowNewTimeProposal", m->disallow_counter ? "1" : "0");
    }
    if (protocol >= 141) {
        /* 1 a new request, 2 a full update (a later SEQUENCE), 0 otherwise */
        as_xml_add(mr, NS_EMAIL2, "MeetingMessageType",
                   m->cancel ? "0" : (m->sequence > 0 ? "2" : "1"));
    }
    if (protocol >= 160) {
        as_xml_add(mr, NS_CAL, "UID", m->uid);
    }
}
