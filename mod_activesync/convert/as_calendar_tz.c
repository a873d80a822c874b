/* The phone's TimeZone blob (TIME_ZONE_INFORMATION, MS-ASDTYPE 2.7.6) to a
 * zone: the builtin (IANA) zone with the same rules in the event's year,
 * else a VTIMEZONE made from the blob.  The other way is meeting_tz_blob
 * (as_meeting_tz.c), which the match below also uses to compare zones. */
#include <string.h>
#include <strings.h>

#include <apr_base64.h>
#include <apr_strings.h>

#include "as_calendar_int.h"
#include "as_meeting_int.h"

#define TZI_SIZE 172

static int get16(const unsigned char *b)
{
    return b[0] | (b[1] << 8);
}

static long get32(const unsigned char *b)
{
    unsigned long u = (unsigned long)b[0] | ((unsigned long)b[1] << 8) |
                      ((unsigned long)b[2] << 16) | ((unsigned long)b[3] << 24);
    return u > 0x7fffffffUL ? (long)(u - 0xffffffffUL) - 1 : (long)u;
}

/* WCHAR[32] (BMP only) to UTF-8. */
static void get_name(const unsigned char *b, char *out, size_t outsz)
{
    size_t o = 0;
    int i;
    for (i = 0; i < 32; i++) {
        unsigned c = (unsigned)get16(b + 2 * i);
        if (c == 0) {
            break;
        }
        if (c < 0x20 || (c >= 0xd800 && c < 0xe000) || c >= 0xfffe) {
            c = '?';
        }
        if (c < 0x80 && o + 1 < outsz) {
            out[o++] = (char)c;
        } else if (c < 0x800 && o + 2 < outsz) {
            out[o++] = (char)(0xc0 | (c >> 6));
            out[o++] = (char)(0x80 | (c & 0x3f));
        } else if (c >= 0x800 && o + 3 < outsz) {
            out[o++] = (char)(0xe0 | (c >> 12));
            out[o++] = (char)(0x80 | ((c >> 6) & 0x3f));
            out[o++] = (char)(0x80 | (c & 0x3f));
        }
    }
    out[o] = '\0';
}

/* A SYSTEMTIME as a yearly rule; -1 when out of range. */
static int get_rule(const unsigned char *b, cal_tzrule_t *r)
{
    r->month = get16(b + 2);
    r->wday = get16(b + 4);
    r->week = get16(b + 6);
    r->hour = get16(b + 8);
    r->minute = get16(b + 10);
    if (r->month == 0) {
        memset(r, 0, sizeof *r);
        return 0;
    }
    if (get16(b) != 0) {
        /* an absolute date (year set): read it as its nth weekday */
        int day = r->week;
        r->week = day > 24 ? 5 : (day - 1) / 7 + 1;
        struct icaltimetype t = icaltime_null_time();
        t.year = get16(b);
        t.month = r->month;
        t.day = day;
        if (t.year < 1 || r->month > 12 || day < 1 || day > 31) {
            return -1;
        }
        t.is_date = 1;
        r->wday = icaltime_day_of_week(t) - 1;
    }
    return r->month > 12 || r->wday > 6 || r->week < 1 || r->week > 5 || r->hour > 23 ||
                   r->minute > 59
               ? -1
               : 0;
}

int cal_tz_decode(const char *b64, cal_tzinfo_t *out)
{
    unsigned char b[TZI_SIZE + 4];
    size_t n = b64 ? strlen(b64) : 0;

    memset(out, 0, sizeof *out);
    if (n == 0 || n > 256 || apr_base64_decode_len(b64) > (int)sizeof b) {
        return -1;
    }
    if (apr_base64_decode_binary(b, b64) != TZI_SIZE) {
        return -1;
    }
    out->bias = (int)get32(b);
    get_name(b + 4, out->std_name, sizeof out->std_name);
    out->std_bias = (int)get32(b + 84);
    get_name(b + 88, out->dst_name, sizeof out->dst_name);
    out->dst_bias = (int)get32(b + 168);
    if (get_rule(b + 68, &out->std) < 0 || get_rule(b + 152, &out->dst) < 0) {
        return -1;
    }
    if (!out->std.month || !out->dst.month) {
        memset(&out->std, 0, sizeof out->std); /* no daylight saving */
        memset(&out->dst, 0, sizeof out->dst);
        out->dst_bias = 0;
    }
    /* offsets beyond +-18 hours are not time zones */
    if (out->bias + out->std_bias < -18 * 60 || out->bias + out->std_bias > 18 * 60 ||
        out->bias + out->dst_bias < -18 * 60 || out->bias + out->dst_bias > 18 * 60) {
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------------------
 * Matching a builtin zone
 */

/* Windows zone names phones send, to the IANA zone meant. */
static const char *const windows_names[][2] = {
    {"W. Europe Standard Time", "Europe/Berlin"},
    {"Romance Standard Time", "Europe/Paris"},
    {"Central Europe Standard Time", "Europe/Budapest"},
    {"Central European Standard Time", "Europe/Warsaw"},
    {"GMT Standard Time", "Europe/London"},
    {"Eastern Standard Time", "America/New_York"},
    {"Central Standard Time", "America/Chicago"},
    {"Mountain Standard Time", "America/Denver"},
    {"Pacific Standard Time", "America/Los_Angeles"},
    {"AUS Eastern Standard Time", "Australia/Sydney"},
    {"India Standard Time", "Asia/Kolkata"},
    {"E. South America Standard Time", "America/Sao_Paulo"},
    {"Tokyo Standard Time", "Asia/Tokyo"},
    {"China Standard Time", "Asia/Shanghai"},
    {"UTC", "UTC"},
};

/* Where several zones share the rules, these win (most used first). */
static const char *const preferred[] = {
    "Europe/Berlin",    "Europe/London",       "America/New_York",   "America/Chicago",
    "America/Denver",   "America/Los_Angeles", "America/Phoenix",    "Australia/Sydney",
    "Asia/Kolkata",     "America/Sao_Paulo",   "Asia/Tokyo",         "Asia/Shanghai",
    "Europe/Helsinki",  "Europe/Moscow",       "Asia/Dubai",         "Pacific/Auckland",
    "Australia/Perth",  "Australia/Brisbane",  "Asia/Singapore",     "America/Halifax",
    "Pacific/Honolulu", "America/Anchorage",   "Pacific/Kiritimati",
};

static int same_rule(const cal_tzrule_t *a, const cal_tzrule_t *b)
{
    return a->month == b->month && a->wday == b->wday && a->week == b->week;
}

/* 0: not the same rules; 1: the same offsets and transition days; 2: also
 * the same transition times. */
static int match_score(apr_pool_t *p, icaltimezone *z, const cal_tzinfo_t *tz, int year)
{
    cal_tzinfo_t c;
    if (cal_tz_decode(meeting_tz_blob(p, z, year), &c) < 0) {
        return 0;
    }
    if (c.bias + c.std_bias != tz->bias + tz->std_bias || !same_rule(&c.std, &tz->std) ||
        !same_rule(&c.dst, &tz->dst) ||
        (tz->dst.month && c.bias + c.dst_bias != tz->bias + tz->dst_bias)) {
        return 0;
    }
    return c.std.hour == tz->std.hour && c.dst.hour == tz->dst.hour &&
                   c.std.minute == tz->std.minute && c.dst.minute == tz->dst.minute
               ? 2
               : 1;
}

int cal_tz_matches(icaltimezone *zone, const cal_tzinfo_t *tz, int year)
{
    apr_pool_t *p;
    int s;
    if (!zone) {
        return tz->bias + tz->std_bias == 0 && !tz->std.month;
    }
    apr_pool_create(&p, NULL);
    s = match_score(p, zone, tz, year);
    apr_pool_destroy(p);
    return s > 0;
}

static icaltimezone *named(const char *name)
{
    size_t i;
    if (!name || !*name) {
        return NULL;
    }
    for (i = 0; i < sizeof windows_names / sizeof windows_names[0]; i++) {
        if (!strcasecmp(name, windows_names[i][0])) {
            return icaltimezone_get_builtin_timezone(windows_names[i][1]);
        }
    }
    return strchr(name, '/') ? icaltimezone_get_builtin_timezone(name) : NULL;
}

icaltimezone *cal_tz_fast(icaltimezone *zone, int year)
{
    const char *tzid = zone ? icaltimezone_get_tzid(zone) : NULL;
    icalcomponent *vtz;
    icaltimezone *twin;
    cal_tzinfo_t tz;
    apr_pool_t *p;
    int same;

    if (!tzid || year < 1900 || year > MEETING_MAX_ZONE_YEAR ||
        icaltimezone_get_builtin_timezone_from_tzid(tzid) == zone) {
        return zone;
    }
    vtz = icaltimezone_get_component(zone);
    twin = named(tzid);
    if (!twin && vtz) {
        twin = named(cal_x_prop(vtz, "X-LIC-LOCATION"));
    }
    if (!twin || twin == zone) {
        return zone;
    }
    apr_pool_create(&p, NULL);
    same = cal_tz_decode(meeting_tz_blob(p, zone, year), &tz) == 0 &&
           match_score(p, twin, &tz, year) == 2;
    apr_pool_destroy(p);
    return same ? twin : zone;
}

icaltimezone *cal_tz_match_builtin(const cal_tzinfo_t *tz, int year)
{
    icalarray *all = icaltimezone_get_builtin_timezones();
    icaltimezone *best = NULL, *z;
    int best_score = 0, s;
    size_t i;
    apr_pool_t *p;

    if (year < 1900 || year > MEETING_MAX_ZONE_YEAR) {
        return NULL;
    }
    apr_pool_create(&p, NULL);
    /* the names as a hint, then the preferred zones, then all of them */
    if ((z = named(tz->std_name)) != NULL && (s = match_score(p, z, tz, year)) > 0) {
        best = z;
        best_score = s;
    }
    for (i = 0; best_score < 2 && i < sizeof preferred / sizeof preferred[0]; i++) {
        z = icaltimezone_get_builtin_timezone(preferred[i]);
        if (z && (s = match_score(p, z, tz, year)) > best_score) {
            best = z;
            best_score = s;
        }
    }
    for (i = 0; best_score < 2 && all && i < all->num_elements; i++) {
        z = icalarray_element_at(all, i);
        apr_pool_clear(p);
        if ((s = match_score(p, z, tz, year)) > best_score) {
            best = z;
            best_score = s;
        }
    }
    apr_pool_destroy(p);
    return best;
}

/* ---------------------------------------------------------------------------
 * A VTIMEZONE from the blob
 */
static int nth_wday(int year, int month, int wday, int week)
{
    struct icaltimetype t = icaltime_null_time();
    int first, day, dim = icaltime_days_in_month(month, year);
    t.year = year;
    t.month = month;
    t.day = 1;
    t.is_date = 1;
    first = icaltime_day_of_week(t) - 1;
    day = 1 + (wday - first + 7) % 7 + 7 * (week - 1);
    while (day > dim) {
        day -= 7;
    }
    return day;
}

static icalcomponent *observance(icalcomponent_kind kind, const cal_tzrule_t *r, int from, int to,
                                 const char *name)
{
    icalcomponent *c = icalcomponent_new(kind);
    struct icaltimetype st = icaltime_null_time();
    st.year = 1970;
    st.month = r->month ? r->month : 1;
    st.day = r->month ? nth_wday(1970, r->month, r->wday, r->week) : 1;
    st.hour = r->hour;
    st.minute = r->minute;
    icalcomponent_add_property(c, icalproperty_new_dtstart(st));
    icalcomponent_add_property(c, icalproperty_new_tzoffsetfrom(from));
    icalcomponent_add_property(c, icalproperty_new_tzoffsetto(to));
    if (name && *name) {
        icalcomponent_add_property(c, icalproperty_new_tzname(name));
    }
    if (r->month) {
        struct icalrecurrencetype rr;
        icalrecurrencetype_clear(&rr);
        rr.freq = ICAL_YEARLY_RECURRENCE;
        rr.by_month[0] = (short)r->month;
        rr.by_day[0] = cal_encode_day(r->wday + 1, r->week == 5 ? -1 : r->week);
        icalcomponent_add_property(c, icalproperty_new_rrule(rr));
    }
    return c;
}

static icalcomponent *vtimezone_of(const cal_tzinfo_t *tz, const char *tzid)
{
    icalcomponent *vtz = icalcomponent_new(ICAL_VTIMEZONE_COMPONENT);
    int std = -(tz->bias + tz->std_bias) * 60, dst = -(tz->bias + tz->dst_bias) * 60;
    icalcomponent_add_property(vtz, icalproperty_new_tzid(tzid));
    if (tz->std.month) {
        icalcomponent_add_component(
            vtz, observance(ICAL_XSTANDARD_COMPONENT, &tz->std, dst, std, tz->std_name));
        icalcomponent_add_component(
            vtz, observance(ICAL_XDAYLIGHT_COMPONENT, &tz->dst, std, dst, tz->dst_name));
    } else {
        icalcomponent_add_component(
            vtz, observance(ICAL_XSTANDARD_COMPONENT, &tz->std, std, std, tz->std_name));
    }
    return vtz;
}

/* A TZID for the blob: its standard name, or its offset. */
static const char *tzid_of(apr_pool_t *p, const cal_tzinfo_t *tz, int n)
{
    int off = -(tz->bias + tz->std_bias);
    const char *base =
        tz->std_name[0] && strlen(tz->std_name) < 64
            ? tz->std_name
            : apr_psprintf(p, "GMT%c%02d:%02d", off < 0 ? '-' : '+', abs(off) / 60, abs(off) % 60);
    return n ? apr_psprintf(p, "%s (%d)", base, n + 1) : base;
}

icaltimezone *cal_tz_from_blob(icalcomponent *root, const cal_tzinfo_t *tz, int year)
{
    icaltimezone *z;
    apr_pool_t *p;
    int n;

    if (tz->bias + tz->std_bias == 0 && !tz->std.month) {
        return NULL; /* UTC */
    }
    z = cal_tz_match_builtin(tz, year);
    if (z) {
        return z;
    }
    apr_pool_create(&p, NULL);
    for (n = 0; n < 100; n++) {
        const char *tzid = tzid_of(p, tz, n);
        z = icalcomponent_get_timezone(root, tzid);
        if (z && match_score(p, z, tz, year) == 2) {
            break; /* the file already has it */
        }
        if (!z) {
            icalcomponent_add_component(root, vtimezone_of(tz, tzid));
            z = icalcomponent_get_timezone(root, tzid);
            break;
        }
    }
    apr_pool_destroy(p);
    return n < 100 ? z : NULL;
}

/* ---------------------------------------------------------------------------
 * A builtin zone written into the file
 */

/* The last year an observance applies in (9999: for ever). */
static int observance_end(icalcomponent *c)
{
    icalproperty *pr = icalcomponent_get_first_property(c, ICAL_DTSTART_PROPERTY);
    int end = pr ? icalproperty_get_dtstart(pr).year : 0;
    for (pr = icalcomponent_get_first_property(c, ICAL_RRULE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(c, ICAL_RRULE_PROPERTY)) {
        struct icalrecurrencetype r = icalproperty_get_rrule(pr);
        end = icaltime_is_null_time(r.until) ? 9999 : (r.until.year > end ? r.until.year : end);
    }
    for (pr = icalcomponent_get_first_property(c, ICAL_RDATE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(c, ICAL_RDATE_PROPERTY)) {
        struct icaldatetimeperiodtype d = icalproperty_get_rdate(pr);
        end = d.time.year > end ? d.time.year : end;
    }
    return end;
}

/* The builtin zone's VTIMEZONE as TZID location, with only the
 * observances from the year before year on (and the last standard one
 * before them): the full history is too much for a file (and for
 * meeting_zones_check). */
static icalcomponent *trimmed_vtimezone(icaltimezone *zone, const char *location, int year)
{
    icalcomponent *src = icaltimezone_get_component(zone), *c, *vtz, *last_std = NULL;
    int kept_std = 0, last_end = -1;

    vtz = icalcomponent_new(ICAL_VTIMEZONE_COMPONENT);
    icalcomponent_add_property(vtz, icalproperty_new_tzid(location));
    for (c = src ? icalcomponent_get_first_component(src, ICAL_ANY_COMPONENT) : NULL; c;
         c = icalcomponent_get_next_component(src, ICAL_ANY_COMPONENT)) {
        int end = observance_end(c), std = icalcomponent_isa(c) == ICAL_XSTANDARD_COMPONENT;
        if (end >= year - 1) {
            icalcomponent_add_component(vtz, icalcomponent_new_clone(c));
            kept_std |= std;
        } else if (std && end >= last_end) {
            last_std = c;
            last_end = end;
        }
    }
    if (last_std && (!kept_std || icalcomponent_count_components(vtz, ICAL_ANY_COMPONENT) < 2)) {
        icalcomponent_add_component(vtz, icalcomponent_new_clone(last_std));
    }
    return vtz;
}

/* The VTIMEZONE written for a builtin zone: its observances from the year
 * before year (1970 at the earliest), or -- for a zone with more of them
 * than meeting_zones_check lets a file have (Africa/Casablanca) -- the
 * zone's rules of year as one yearly pair, as a phone's blob gives them. */
static icalcomponent *zone_for_file(icaltimezone *zone, const char *loc, int year)
{
    icalcomponent *vtz = trimmed_vtimezone(zone, loc, year < 1970 ? 1970 : year);
    icalcomponent *cal = icalcomponent_new(ICAL_VCALENDAR_COMPONENT);
    cal_tzinfo_t tz;
    apr_pool_t *p;
    int ok;

    icalcomponent_add_component(cal, vtz);
    ok = meeting_zones_check(cal) == NULL;
    icalcomponent_remove_component(cal, vtz);
    icalcomponent_free(cal);
    if (ok) {
        return vtz;
    }
    icalcomponent_free(vtz);
    apr_pool_create(&p, NULL);
    if (cal_tz_decode(meeting_tz_blob(p, zone, year), &tz) < 0) {
        memset(&tz, 0, sizeof tz);
    }
    apr_pool_destroy(p);
    return vtimezone_of(&tz, loc);
}

icaltimezone *cal_tz_in_file(icalcomponent *root, icaltimezone *zone, int year)
{
    icalcomponent *src;
    const char *tzid, *loc = NULL;
    icaltimezone *z;

    if (!zone || zone == icaltimezone_get_utc_timezone()) {
        return NULL;
    }
    tzid = icaltimezone_get_tzid(zone);
    if (tzid && icalcomponent_get_timezone(root, tzid) == zone) {
        return zone; /* already the file's */
    }
    src = icaltimezone_get_component(zone);
    loc = src ? cal_x_prop(src, "X-LIC-LOCATION") : NULL;
    for (loc = loc && *loc ? loc : tzid; loc && *loc == '/';) {
        /* "/freeassociation.sourceforge.net/Europe/Berlin": the location */
        const char *next = strchr(loc + 1, '/');
        if (!next || icaltimezone_get_builtin_timezone(next + 1) == zone) {
            loc = next ? next + 1 : NULL;
            break;
        }
        loc = next;
    }
    if (!loc || !*loc) {
        return NULL;
    }
    z = icalcomponent_get_timezone(root, loc);
    if (z) {
        return z; /* the file has one of that name: it stays as it is */
    }
    icalcomponent_add_component(root, zone_for_file(zone, loc, year));
    return icalcomponent_get_timezone(root, loc);
}
