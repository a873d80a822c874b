/* Times for the Calendar and Tasks conversions: a DATE or DATE-TIME in a
 * zone as UTC and back, the two EAS forms (Compact DateTime and dateTime)
 * both ways (as_calendar_int.h). */
#include <string.h>

#include <apr_strings.h>

#include "as_calendar_int.h"
#include "as_meeting_int.h"

/* libical writes no DATE or DATE-TIME after the year 3000: times are
 * kept before it, with a day to spare for an all-day event's end */
#define MAX_UTC_SECONDS ((time_t)32503679999)  /* 2999-12-31T23:59:59Z */
#define MIN_UTC_SECONDS ((time_t)-62135596800) /* 0001-01-01T00:00:00Z */

time_t cal_to_utc(struct icaltimetype t, icaltimezone *zone)
{
    time_t s;
    if (t.year > MEETING_MAX_ZONE_YEAR || t.year < 1) {
        zone = NULL; /* libical would expand the zone's rules that far */
    }
    if (t.is_date) {
        t.is_date = 0;
        t.hour = t.minute = t.second = 0;
    }
    t.zone = NULL;
    zone = cal_tz_fast(zone, t.year);
    s = icaltime_as_timet_with_zone(t, zone ? zone : icaltimezone_get_utc_timezone());
    return s > MAX_UTC_SECONDS ? MAX_UTC_SECONDS : (s < MIN_UTC_SECONDS ? MIN_UTC_SECONDS : s);
}

struct icaltimetype cal_utc_time(time_t t)
{
    /* within the years of cal_to_utc */
    t = t > MAX_UTC_SECONDS ? MAX_UTC_SECONDS : (t < MIN_UTC_SECONDS ? MIN_UTC_SECONDS : t);
    return icaltime_from_timet_with_zone(t, 0, icaltimezone_get_utc_timezone());
}

struct icaltimetype cal_local_time(time_t t, icaltimezone *zone)
{
    struct icaltimetype u = cal_utc_time(t);
    if (!zone || u.year > MEETING_MAX_ZONE_YEAR) {
        return u;
    }
    icaltimezone_convert_time(&u, icaltimezone_get_utc_timezone(), cal_tz_fast(zone, u.year));
    u.zone = zone;
    return u;
}

const char *cal_compact(apr_pool_t *p, time_t t)
{
    struct icaltimetype u = cal_utc_time(t);
    return apr_psprintf(p, "%04d%02d%02dT%02d%02d%02dZ", u.year, u.month, u.day, u.hour, u.minute,
                        u.second);
}

const char *cal_datetime(apr_pool_t *p, time_t t)
{
    struct icaltimetype u = cal_utc_time(t);
    return apr_psprintf(p, "%04d-%02d-%02dT%02d:%02d:%02d.000Z", u.year, u.month, u.day, u.hour,
                        u.minute, u.second);
}

/* n digits at *s into *v; advances *s. */
static int digits(const char **s, int n, int *v)
{
    int i;
    *v = 0;
    for (i = 0; i < n; i++) {
        if ((*s)[i] < '0' || (*s)[i] > '9') {
            return -1;
        }
        *v = *v * 10 + ((*s)[i] - '0');
    }
    *s += n;
    return 0;
}

static int skip(const char **s, char c)
{
    if (**s == c) {
        (*s)++;
        return 1;
    }
    return 0;
}

int cal_parse_time(const char *s, time_t *out)
{
    struct icaltimetype t = icaltime_null_time();
    int dashed;

    if (!s) {
        return -1;
    }
    while (*s == ' ') {
        s++;
    }
    if (digits(&s, 4, &t.year) < 0) {
        return -1;
    }
    dashed = skip(&s, '-');
    if (digits(&s, 2, &t.month) < 0 || (dashed && !skip(&s, '-')) || digits(&s, 2, &t.day) < 0) {
        return -1;
    }
    if (skip(&s, 'T') || skip(&s, 't') || skip(&s, ' ')) {
        int colon;
        if (digits(&s, 2, &t.hour) < 0) {
            return -1;
        }
        colon = skip(&s, ':');
        if (digits(&s, 2, &t.minute) < 0 || (colon && !skip(&s, ':')) ||
            digits(&s, 2, &t.second) < 0) {
            return -1;
        }
        if (skip(&s, '.')) {
            while (*s >= '0' && *s <= '9') {
                s++;
            }
        }
    }
    if (t.month < 1 || t.month > 12 || t.day < 1 ||
        t.day > icaltime_days_in_month(t.month, t.year) || t.hour > 23 || t.minute > 59 ||
        t.second > 60 || t.year < 1) {
        return -1;
    }
    *out = cal_to_utc(t, NULL);
    return 0;
}
