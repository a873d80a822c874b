/* Contacts: Birthday and Anniversary between EAS dateTimes and vCard
 * dates, without a day's shift (as_contact_int.h, reference §5.5, §6.3
 * #11). */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "as_contact_int.h"

#define NO_YEAR 1604 /* Apple's year for a date without one */

static int days_in(int y, int m)
{
    static const int d[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return m == 2 && leap ? 29 : d[m - 1];
}

static int valid_date(int y, int m, int d)
{
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in(y, m);
}

/* A vCard date -> y, m, d; 0 when it is none. */
static int vcard_date(const char *v, int *y, int *m, int *d)
{
    int h, mi, s;
    if (!v) {
        return 0;
    }
    while (*v == ' ') {
        v++;
    }
    if (v[0] == '-' && v[1] == '-') {
        /* 4.0 without a year: --MMDD or --MM-DD */
        char buf[32];
        apr_snprintf(buf, sizeof buf, "%04d-%s", NO_YEAR, v + 2);
        if (!item_parse_datetime(buf, y, m, d, &h, &mi, &s)) {
            return 0;
        }
    } else if (!item_parse_datetime(v, y, m, d, &h, &mi, &s)) {
        return 0;
    }
    return valid_date(*y, *m, *d);
}

const char *contact_date_to_eas(apr_pool_t *p, const char *v)
{
    int y, m, d;
    if (!vcard_date(v, &y, &m, &d)) {
        return NULL;
    }
    /* 00:00 UTC: the form Exchange, iOS and Samsung use (reference §5.5) */
    return apr_psprintf(p, "%04d-%02d-%02dT00:00:00.000Z", y, m, d);
}

static void next_day(int *y, int *m, int *d)
{
    if (++*d > days_in(*y, *m)) {
        *d = 1;
        if (++*m > 12) {
            *m = 1;
            ++*y;
        }
    }
}

const char *contact_date_from_eas(apr_pool_t *p, const char *eas, const char *old)
{
    int y, m, d, h, mi, s, ny, nm, nd, oy, om, od, next;

    if (!item_parse_datetime(eas, &y, &m, &d, &h, &mi, &s) || !valid_date(y, m, d)) {
        return NULL;
    }
    ny = y;
    nm = m;
    nd = d;
    next_day(&ny, &nm, &nd);
    if (h * 60 + mi < 10 * 60) {
        next = 0; /* 00:00 UTC, 08:00 (AOSP), or a phone west of UTC down to UTC-10 */
    } else if (h * 60 + mi > 12 * 60) {
        next = 1; /* local midnight of a phone east of UTC */
    } else if (old && vcard_date(old, &oy, &om, &od) && oy == ny && om == nm && od == nd) {
        next = 1;
    } else if (old && vcard_date(old, &oy, &om, &od) && oy == y && om == m && od == d) {
        next = 0;
    } else {
        next = h >= 11;
    }
    if (next) {
        y = ny;
        m = nm;
        d = nd;
    }
    if (!valid_date(y, m, d)) {
        return NULL;
    }
    return apr_psprintf(p, "%04d-%02d-%02d", y, m, d);
}
