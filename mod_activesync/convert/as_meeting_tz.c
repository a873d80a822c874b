/* The EAS TimeZone blob (TIME_ZONE_INFORMATION, MS-ASDTYPE 2.7.6) of a
 * libical zone: see as_meeting.h. */
#include <limits.h>
#include <string.h>

#include <apr_base64.h>
#include <apr_strings.h>
#include <libical/ical.h>

#include "activesync/as_utf8.h"
#include "as_meeting_int.h"

#define TZI_SIZE 172

/* ---------------------------------------------------------------------------
 * TimeZone: TIME_ZONE_INFORMATION (MS-ASDTYPE 2.7.6) from a VTIMEZONE
 */
typedef struct tzpart_t {
    int found, offset; /* TZOFFSETTO, seconds east of UTC */
    int month, wday, week, hour, minute, second;
    const char *name;
} tzpart_t;

static int days_in_month(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) {
        return 29;
    }
    return m >= 1 && m <= 12 ? d[m - 1] : 31;
}

/* The STANDARD or DAYLIGHT rule in force in year: the one with the latest
 * DTSTART whose RRULE reaches year (or, without RRULE, that starts in
 * year); for STANDARD also the latest one begun before (a zone that gave
 * up daylight saving).  Returns the transition as a recurring rule. */
static void tz_part(icalcomponent *vtz, icalcomponent_kind kind, int year, tzpart_t *out)
{
    icalcomponent *c, *best = NULL, *last = NULL;
    struct icaltimetype best_start = icaltime_null_time(), last_start = icaltime_null_time();
    struct icalrecurrencetype rr;
    icalproperty *pr;
    struct icaltimetype st;
    int have_rr = 0;

    memset(out, 0, sizeof *out);
    for (c = icalcomponent_get_first_component(vtz, kind); c;
         c = icalcomponent_get_next_component(vtz, kind)) {
        int active;
        pr = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
        if (!pr || !icalcomponent_get_first_property(c, ICAL_TZOFFSETTO_PROPERTY)) {
            continue;
        }
        st = icalproperty_get_dtstart(pr);
        if (icaltime_is_null_time(st) || st.year > year) {
            continue;
        }
        pr = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY);
        if (pr) {
            struct icalrecurrencetype r = icalproperty_get_rrule(pr);
            active = r.freq == ICAL_YEARLY_RECURRENCE &&
                     (icaltime_is_null_time(r.until) || r.until.year >= year);
        } else {
            active = st.year == year;
        }
        if (active && (!best || icaltime_compare(st, best_start) > 0)) {
            best = c;
            best_start = st;
        }
        if (!last || icaltime_compare(st, last_start) > 0) {
            last = c;
            last_start = st;
        }
    }
    if (!best && kind == ICAL_XSTANDARD_COMPONENT) {
        best = last;
        best_start = last_start;
    }
    if (!best) {
        return;
    }
    out->found = 1;
    out->offset = icalproperty_get_tzoffsetto(
        icalcomponent_get_first_property(best, ICAL_TZOFFSETTO_PROPERTY));
    pr = icalcomponent_get_first_property(best, ICAL_TZNAME_PROPERTY);
    out->name = pr ? icalproperty_get_tzname(pr) : NULL;
    out->hour = best_start.hour;
    out->minute = best_start.minute;
    out->second = best_start.second;
    pr = icalcomponent_get_first_property(best, ICAL_RRULE_PROPERTY);
    if (pr) {
        rr = icalproperty_get_rrule(pr);
        have_rr = rr.by_month[0] != ICAL_RECURRENCE_ARRAY_MAX &&
                  rr.by_day[0] != ICAL_RECURRENCE_ARRAY_MAX;
    }
    if (have_rr) {
        int pos = icalrecurrencetype_day_position(rr.by_day[0]);
        out->month = rr.by_month[0];
        out->wday = (int)icalrecurrencetype_day_day_of_week(rr.by_day[0]) - 1;
        if (pos == 0 && rr.by_set_pos[0] != ICAL_RECURRENCE_ARRAY_MAX) {
            pos = rr.by_set_pos[0];
        }
        if (pos == 0 && rr.by_month_day[0] != ICAL_RECURRENCE_ARRAY_MAX) {
            /* BYDAY=SU;BYMONTHDAY=8,...,14: the second Sunday */
            int md = rr.by_month_day[0];
            pos = md >= 25 || md < 0 ? -1 : (md - 1) / 7 + 1;
        }
        out->week = pos < 0 || pos > 4 ? 5 : (pos == 0 ? 1 : pos);
    } else {
        /* one dated transition (no rule): read it as "the nth weekday" */
        struct icaltimetype d = best_start;
        d.year = year;
        out->month = d.month;
        out->wday = icaltime_day_of_week(d) - 1;
        out->week = d.day + 7 > days_in_month(d.year, d.month) ? 5 : (d.day - 1) / 7 + 1;
    }
    if (out->month < 1 || out->month > 12 || out->wday < 0 || out->wday > 6) {
        out->found = 0;
    }
}

static void put16(unsigned char *b, unsigned v)
{
    b[0] = (unsigned char)(v & 0xff);
    b[1] = (unsigned char)((v >> 8) & 0xff);
}

void meeting_put32(unsigned char *b, long v)
{
    unsigned long u = (unsigned long)v;
    put16(b, (unsigned)(u & 0xffff));
    put16(b + 2, (unsigned)((u >> 16) & 0xffff));
}

/* UTF-8 name into WCHAR[32] (at most 31 units, NUL-terminated). */
static void put_name(unsigned char *b, const char *s)
{
    int n = 0;
    const unsigned char *c = (const unsigned char *)s;
    const unsigned char *end = c ? c + strlen(s) : NULL;
    while (c && *c && n < 31) {
        size_t l = as_utf8_seq_xml(c, (size_t)(end - c));
        unsigned cp;
        if (l == 0) {
            cp = '?';
            l = 1;
        } else if (l == 1) {
            cp = c[0];
        } else if (l == 2) {
            cp = ((c[0] & 0x1fu) << 6) | (c[1] & 0x3fu);
        } else if (l == 3) {
            cp = ((c[0] & 0x0fu) << 12) | ((c[1] & 0x3fu) << 6) | (c[2] & 0x3fu);
        } else {
            cp = '?'; /* outside the BMP: not worth a surrogate pair here */
        }
        put16(b + 2 * n++, cp);
        c += l;
    }
}

static void put_systemtime(unsigned char *b, const tzpart_t *t)
{
    put16(b, 0); /* year 0: a yearly rule */
    put16(b + 2, (unsigned)t->month);
    put16(b + 4, (unsigned)t->wday);
    put16(b + 6, (unsigned)t->week);
    put16(b + 8, (unsigned)t->hour);
    put16(b + 10, (unsigned)t->minute);
    put16(b + 12, (unsigned)t->second);
    put16(b + 14, 0);
}

/* base64 of d; NULL when len does not fit apr_base64's int lengths. */
const char *meeting_b64(apr_pool_t *p, const unsigned char *d, size_t len)
{
    char *o;
    if (len > (size_t)(INT_MAX / 4) * 3 - 3) {
        return NULL;
    }
    o = apr_palloc(p, (apr_size_t)apr_base64_encode_len((int)len));
    apr_base64_encode_binary(o, d, (int)len);
    return o;
}

/* The blob for zone in year; all zeros (UTC) without a zone. */
const char *meeting_tz_blob(apr_pool_t *p, icaltimezone *zone, int year)
{
    unsigned char b[TZI_SIZE];
    icalcomponent *vtz = zone ? icaltimezone_get_component(zone) : NULL;
    tzpart_t std, dst;
    const char *tzid = zone ? icaltimezone_get_tzid(zone) : NULL;

    memset(b, 0, sizeof b);
    if (!vtz) {
        return meeting_b64(p, b, TZI_SIZE);
    }
    tz_part(vtz, ICAL_XSTANDARD_COMPONENT, year, &std);
    tz_part(vtz, ICAL_XDAYLIGHT_COMPONENT, year, &dst);
    if (!std.found) {
        return meeting_b64(p, b, TZI_SIZE);
    }
    meeting_put32(b, -(long)(std.offset / 60));               /* Bias */
    put_name(b + 4, std.name && *std.name ? std.name : tzid); /* StandardName */
    if (dst.found && dst.offset != std.offset) {
        put_systemtime(b + 68, &std); /* StandardDate */
        put_name(b + 88, dst.name && *dst.name ? dst.name : tzid);
        put_systemtime(b + 152, &dst);                                   /* DaylightDate */
        meeting_put32(b + 168, -(long)((dst.offset - std.offset) / 60)); /* DaylightBias */
    }
    return meeting_b64(p, b, TZI_SIZE);
}

/* ---------------------------------------------------------------------------
 * Cost of the calendar's own zones
 *
 * libical converts a time in a VTIMEZONE by expanding every rule of it,
 * occurrence by occurrence, from the rule's DTSTART to the year converted:
 * a 250-byte FREQ=MINUTELY rule hung a conversion for minutes, and 400
 * yearly rules took 9 s.  Real zones have a few yearly rules, one
 * transition a year; anything else is refused before libical sees it.
 */
#define MAX_VTIMEZONES 16
#define MAX_TZ_RULES   64   /* STANDARD and DAYLIGHT components in all */
#define MAX_TZ_YEARS   4000 /* sum over RRULEs of the years they expand */

static int list_len(const short *a, int max)
{
    int n = 0;
    while (n < max && a[n] != ICAL_RECURRENCE_ARRAY_MAX) {
        n++;
    }
    return n;
}

/* One yearly transition (BYMONTH and BYDAY at most one each, BYMONTHDAY
 * a week at most, nothing finer)? */
static int rule_is_yearly_transition(const struct icalrecurrencetype *r)
{
    return r->freq == ICAL_YEARLY_RECURRENCE && list_len(r->by_month, ICAL_BY_MONTH_SIZE) <= 1 &&
           list_len(r->by_day, ICAL_BY_DAY_SIZE) <= 1 &&
           list_len(r->by_month_day, ICAL_BY_MONTHDAY_SIZE) <= 7 &&
           list_len(r->by_second, ICAL_BY_SECOND_SIZE) <= 1 &&
           list_len(r->by_minute, ICAL_BY_MINUTE_SIZE) <= 1 &&
           list_len(r->by_hour, ICAL_BY_HOUR_SIZE) <= 1 &&
           list_len(r->by_year_day, ICAL_BY_YEARDAY_SIZE) == 0 &&
           list_len(r->by_week_no, ICAL_BY_WEEKNO_SIZE) == 0 &&
           list_len(r->by_set_pos, ICAL_BY_SETPOS_SIZE) <= 1;
}

/* The years one STANDARD/DAYLIGHT component makes libical expand; -1 for a
 * rule that is not a yearly transition. */
static long rule_years(icalcomponent *c)
{
    icalproperty *pr = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
    struct icaltimetype st = pr ? icalproperty_get_dtstart(pr) : icaltime_null_time();
    long years = 0;

    for (pr = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(c, ICAL_RRULE_PROPERTY)) {
        struct icalrecurrencetype r = icalproperty_get_rrule(pr);
        if (!rule_is_yearly_transition(&r)) {
            return -1;
        }
        years += st.year < MEETING_MAX_ZONE_YEAR + 1 ? MEETING_MAX_ZONE_YEAR + 1 - st.year : 0;
    }
    return years;
}

const char *meeting_zones_check(icalcomponent *root)
{
    icalcomponent *vtz, *c;
    int zones = 0, rules = 0;
    long years = 0;

    for (vtz = icalcomponent_get_first_component(root, ICAL_VTIMEZONE_COMPONENT); vtz;
         vtz = icalcomponent_get_next_component(root, ICAL_VTIMEZONE_COMPONENT)) {
        if (++zones > MAX_VTIMEZONES) {
            return "too many VTIMEZONEs";
        }
        for (c = icalcomponent_get_first_component(vtz, ICAL_ANY_COMPONENT); c;
             c = icalcomponent_get_next_component(vtz, ICAL_ANY_COMPONENT)) {
            long y = rule_years(c);
            if (y < 0) {
                return "VTIMEZONE rule is not one yearly transition";
            }
            years += y;
            if (++rules > MAX_TZ_RULES || years > MAX_TZ_YEARS) {
                return "VTIMEZONE too complex";
            }
        }
    }
    return NULL;
}
