/* Private to as_meeting.c and as_meeting_tz.c. */
#ifndef AS_MEETING_INT_H
#define AS_MEETING_INT_H

#include <stddef.h>
#include <apr_pools.h>
#include <libical/ical.h>

/* 32-bit little-endian. */
void meeting_put32(unsigned char *b, long v);
/* base64 of d in pool memory; NULL when len does not fit apr_base64's int. */
const char *meeting_b64(apr_pool_t *p, const unsigned char *d, size_t len);
/* The base64 TimeZone blob of zone for year; all zeros (UTC) for NULL. */
const char *meeting_tz_blob(apr_pool_t *p, icaltimezone *zone, int year);

/* Times after this year are read as UTC: converting them in a zone would
 * make libical expand its rules that far. */
#define MEETING_MAX_ZONE_YEAR 2100

/* NULL when the calendar's VTIMEZONEs are cheap for libical to convert
 * with (a few yearly rules), else why not. */
const char *meeting_zones_check(icalcomponent *root);

#endif
