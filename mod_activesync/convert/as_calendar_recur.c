/* RRULE <-> the EAS Recurrence (MS-ASCAL 2.2.2.39, MS-ASTASK 2.2.2.19).
 *
 * EAS knows six patterns: daily (0), weekly on days (1), monthly on a day
 * (2), monthly on the nth weekday (3), yearly on a date (5) and yearly on
 * the nth weekday (6).  A rule outside them gets the nearest pattern with
 * exact = 0; the caller then keeps the file's RRULE while the phone sends
 * that same pattern back. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_xml.h"
#include "as_calendar_int.h"

static int count(const short *a, int max)
{
    int n = 0;
    while (n < max && a[n] != ICAL_RECURRENCE_ARRAY_MAX) {
        n++;
    }
    return n;
}

/* BYDAY as the EAS bit mask (1 Sunday .. 64 Saturday); *pos the common
 * position (0 none), *mixed when the days have different positions. */
static int day_mask(const struct icalrecurrencetype *r, int *pos, int *mixed)
{
    int i, mask = 0;
    *pos = 0;
    *mixed = 0;
    for (i = 0; i < ICAL_BY_DAY_SIZE && r->by_day[i] != ICAL_RECURRENCE_ARRAY_MAX; i++) {
        int wd = (int)icalrecurrencetype_day_day_of_week(r->by_day[i]);
        int ps = icalrecurrencetype_day_position(r->by_day[i]);
        if (wd >= 1 && wd <= 7) {
            mask |= 1 << (wd - 1);
        }
        if (i == 0) {
            *pos = ps;
        } else if (ps != *pos) {
            *mixed = 1;
        }
    }
    return mask;
}

/* What BYxxx parts a pattern cannot say. */
static int extras(const struct icalrecurrencetype *r)
{
    return count(r->by_second, ICAL_BY_SECOND_SIZE) || count(r->by_minute, ICAL_BY_MINUTE_SIZE) ||
           count(r->by_hour, ICAL_BY_HOUR_SIZE) || count(r->by_year_day, ICAL_BY_YEARDAY_SIZE) ||
           count(r->by_week_no, ICAL_BY_WEEKNO_SIZE) ||
           count(r->by_set_pos, ICAL_BY_SETPOS_SIZE) > 1 ||
           count(r->by_month_day, ICAL_BY_MONTHDAY_SIZE) > 1 ||
           count(r->by_month, ICAL_BY_MONTH_SIZE) > 1;
}

/* MONTHLY/YEARLY: the day-of-month or nth-weekday form. */
static void month_form(const struct icalrecurrencetype *r, struct icaltimetype start,
                       cal_recur_t *o, int nth_type, int day_type)
{
    int pos, mixed, mask = day_mask(r, &pos, &mixed);
    int setpos = r->by_set_pos[0] != ICAL_RECURRENCE_ARRAY_MAX ? r->by_set_pos[0] : 0;
    int mday = r->by_month_day[0] != ICAL_RECURRENCE_ARRAY_MAX ? r->by_month_day[0] : 0;

    if (mask) {
        int n = pos ? pos : setpos;
        o->type = nth_type;
        o->dow = mask;
        o->wom = n == -1 || n > 4 ? 5 : (n < -1 ? 5 : (n == 0 ? 1 : n));
        if (mixed || n == 0 || n < -1 || n > 5 || (pos && setpos) || mday) {
            o->exact = 0;
        }
        if (pos && mask & (mask - 1)) {
            o->exact = 0; /* BYDAY=1MO,1TU: not "the first of Monday and Tuesday" */
        }
    } else if (mday < 0) {
        o->type = nth_type; /* the last day of the month */
        o->dow = 127;
        o->wom = 5;
        if (mday != -1 || setpos) {
            o->exact = 0;
        }
    } else {
        o->type = day_type;
        o->dom = mday ? mday : start.day;
        if (setpos) {
            o->exact = 0;
        }
    }
}

int cal_recur_from_rrule(struct icalrecurrencetype r, struct icaltimetype start, icaltimezone *zone,
                         cal_recur_t *o)
{
    int pos, mixed, mask = day_mask(&r, &pos, &mixed);

    memset(o, 0, sizeof *o);
    o->exact = !extras(&r);
    o->fdow = r.week_start >= ICAL_SUNDAY_WEEKDAY && r.week_start <= ICAL_SATURDAY_WEEKDAY
                  ? (int)r.week_start - 1
                  : -1;
    switch (r.freq) {
    case ICAL_DAILY_RECURRENCE:
        if (mask) {
            o->type = 1; /* every weekday: the weekly form */
            o->dow = mask;
            o->exact &= r.interval <= 1 && !pos && !count(r.by_month_day, ICAL_BY_MONTHDAY_SIZE);
        } else {
            o->type = 0;
            o->exact &= !count(r.by_month_day, ICAL_BY_MONTHDAY_SIZE) &&
                        !count(r.by_month, ICAL_BY_MONTH_SIZE);
        }
        break;
    case ICAL_WEEKLY_RECURRENCE:
        o->type = 1;
        o->dow = mask ? mask : 1 << (icaltime_day_of_week(start) - 1);
        o->exact &= !pos && !count(r.by_month_day, ICAL_BY_MONTHDAY_SIZE) &&
                    !count(r.by_month, ICAL_BY_MONTH_SIZE) &&
                    !count(r.by_set_pos, ICAL_BY_SETPOS_SIZE);
        break;
    case ICAL_MONTHLY_RECURRENCE:
        month_form(&r, start, o, 3, 2);
        o->exact &= !count(r.by_month, ICAL_BY_MONTH_SIZE);
        break;
    case ICAL_YEARLY_RECURRENCE:
        month_form(&r, start, o, 6, 5);
        o->moy = r.by_month[0] != ICAL_RECURRENCE_ARRAY_MAX ? r.by_month[0] : start.month;
        if (!count(r.by_month, ICAL_BY_MONTH_SIZE) && (o->type == 6 || count(r.by_month_day, 1))) {
            o->exact = 0; /* YEARLY;BYDAY=... without BYMONTH: every month's */
        }
        break;
    default:
        return -1; /* SECONDLY, MINUTELY, HOURLY */
    }
    o->interval = r.interval > 1 ? (r.interval > 999 ? 999 : r.interval) : 1;
    if (r.interval > 999) {
        o->exact = 0;
    }
    o->occurrences = r.count > 0 ? (r.count > 999 ? 999 : r.count) : 0;
    if (r.count > 999) {
        o->exact = 0;
    }
    if (!icaltime_is_null_time(r.until)) {
        struct icaltimetype u = r.until;
        if (u.is_date && !start.is_date) {
            u.is_date = 0; /* the last occurrence starts that day */
            u.hour = start.hour;
            u.minute = start.minute;
            u.second = start.second;
        }
        o->until = cal_to_utc(u, icaltime_is_utc(r.until) ? NULL : zone);
    }
    return 0;
}

struct icalrecurrencetype cal_recur_to_rrule(const cal_recur_t *e, struct icaltimetype start,
                                             icaltimezone *zone)
{
    static const icalrecurrencetype_frequency freq[] = {
        ICAL_DAILY_RECURRENCE,   ICAL_WEEKLY_RECURRENCE, ICAL_MONTHLY_RECURRENCE,
        ICAL_MONTHLY_RECURRENCE, ICAL_YEARLY_RECURRENCE, ICAL_YEARLY_RECURRENCE,
        ICAL_YEARLY_RECURRENCE};
    struct icalrecurrencetype r;
    int i, n = 0, type = e->type == 4 ? 5 : e->type;
    int nth = type == 3 || type == 6;
    int single = e->dow && !(e->dow & (e->dow - 1));

    icalrecurrencetype_clear(&r);
    r.freq = type >= 0 && type <= 6 ? freq[type] : ICAL_WEEKLY_RECURRENCE;
    r.interval = (short)(e->interval > 1 ? e->interval : 1);
    r.count = e->occurrences > 0 ? e->occurrences : 0;
    if (e->fdow >= 0 && e->fdow <= 6) {
        r.week_start = (icalrecurrencetype_weekday)(e->fdow + 1);
    }
    if (nth && e->dow == 127 && e->wom == 5) {
        r.by_month_day[0] = -1;
    } else if (type == 1 || nth || (type == 0 && e->dow)) {
        int pos = nth && single ? (e->wom == 5 ? -1 : e->wom) : 0;
        int dow = e->dow ? e->dow : 1 << (icaltime_day_of_week(start) - 1);
        for (i = 0; i < 7; i++) {
            if (dow & (1 << i)) {
                r.by_day[n++] = cal_encode_day(i + 1, pos);
            }
        }
        if (nth && !single) {
            r.by_set_pos[0] = (short)(e->wom == 5 ? -1 : e->wom);
        }
        if (type == 0) {
            r.freq = ICAL_WEEKLY_RECURRENCE; /* daily on some days */
        }
    } else if (type == 2 || type == 5) {
        r.by_month_day[0] = (short)(e->dom >= 1 && e->dom <= 31 ? e->dom : start.day);
    }
    if (type == 5 || type == 6) {
        r.by_month[0] = (short)(e->moy >= 1 && e->moy <= 12 ? e->moy : start.month);
    }
    if (e->until && !r.count) {
        if (start.is_date) {
            struct icaltimetype u = cal_local_time(e->until, zone);
            u.is_date = 1;
            u.hour = u.minute = u.second = 0;
            u.zone = NULL;
            r.until = u;
        } else {
            struct icaltimetype l = cal_local_time(e->until, zone);
            time_t until = e->until;
            if (l.hour == 0 && l.minute == 0 && l.second == 0 &&
                (start.hour || start.minute || start.second)) {
                until += 86399; /* "until that day" from a date picker */
            }
            r.until = cal_utc_time(until);
        }
    }
    return r;
}

int cal_recur_equal(const cal_recur_t *a, const cal_recur_t *b)
{
    int nth = a->type == 3 || a->type == 6, day = a->type == 2 || a->type == 5;
    return a->type == b->type && a->interval == b->interval && a->occurrences == b->occurrences &&
           (a->until == 0) == (b->until == 0) &&
           (a->until == 0 || labs(a->until - b->until) < 86400) &&
           (a->type == 0 || day || a->dow == b->dow) && (!nth || a->wom == b->wom) &&
           (!day || a->dom == b->dom) && (a->type < 5 || a->moy == b->moy);
}

static void add_int(apr_pool_t *p, xmlNodePtr n, const char *ns, const char *name, int v)
{
    as_xml_add(n, ns, name, apr_itoa(p, v));
}

void cal_recur_add(apr_pool_t *p, xmlNodePtr app, const char *ns, const cal_recur_t *e,
                   int protocol, int tasks)
{
    xmlNodePtr r = as_xml_add(app, ns, "Recurrence", NULL);
    add_int(p, r, ns, "Type", e->type);
    if (tasks) {
        return; /* the caller adds the rest in the Tasks form */
    }
    if (e->occurrences) {
        add_int(p, r, ns, "Occurrences", e->occurrences);
    }
    add_int(p, r, ns, "Interval", e->interval);
    if (e->wom) {
        add_int(p, r, ns, "WeekOfMonth", e->wom);
    }
    if (e->dow && e->type != 0) {
        add_int(p, r, ns, "DayOfWeek", e->dow);
    }
    if (e->moy) {
        add_int(p, r, ns, "MonthOfYear", e->moy);
    }
    if (e->until && !e->occurrences) {
        as_xml_add(r, ns, "Until", cal_compact(p, e->until));
    }
    if (e->dom) {
        add_int(p, r, ns, "DayOfMonth", e->dom);
    }
    if (protocol >= 141 && e->fdow >= 0) {
        add_int(p, r, ns, "FirstDayOfWeek", e->fdow);
    }
}

int cal_recur_read(apr_pool_t *p, xmlNodePtr rec, const char *ns, cal_recur_t *o)
{
    const char *until = cal_child_text(p, rec, ns, "Until");
    memset(o, 0, sizeof *o);
    o->exact = 1;
    o->type = cal_child_int(p, rec, ns, "Type", 0, 6, -1);
    if (o->type < 0) {
        return -1;
    }
    o->interval = cal_child_int(p, rec, ns, "Interval", 1, 999, 1);
    o->occurrences = cal_child_int(p, rec, ns, "Occurrences", 1, 999, 0);
    o->dow = cal_child_int(p, rec, ns, "DayOfWeek", 1, 127, 0);
    o->dom = cal_child_int(p, rec, ns, "DayOfMonth", 1, 31, 0);
    o->wom = cal_child_int(p, rec, ns, "WeekOfMonth", 1, 5, 0);
    o->moy = cal_child_int(p, rec, ns, "MonthOfYear", 1, 12, 0);
    o->fdow = cal_child_int(p, rec, ns, "FirstDayOfWeek", 0, 6, -1);
    if (until && cal_parse_time(until, &o->until) < 0) {
        o->until = 0;
    }
    if ((o->type == 3 || o->type == 6) && (!o->dow || !o->wom)) {
        return -1;
    }
    if (o->type == 1 && !o->dow) {
        return -1;
    }
    return 0;
}
