/* Private to the Calendar and Tasks conversions (as_calendar*.c,
 * as_task*.c): iCalendar VEVENT/VTODO <-> EAS ApplicationData. */
#ifndef AS_CALENDAR_INT_H
#define AS_CALENDAR_INT_H

#include <apr_pools.h>
#include <apr_time.h>
#include <libical/ical.h>
#include <libxml/tree.h>

#include "activesync/as_item_codec.h"

#define NS_CAL  "Calendar:"
#define NS_TASK "Tasks:"
#define NS_BASE "AirSyncBase:"

/* Bounds on what a file or a phone may make us do. */
#define CAL_FILE_MAX       (4 * 1024 * 1024) /* an item's iCalendar file */
#define CAL_MAX_EXCEPTIONS 1000              /* Exceptions (the schema's maxOccurs) */
#define CAL_MAX_ATTENDEES  1000
#define CAL_MAX_CATEGORIES 300
#define CAL_MAX_TEXT       (1024 * 1024) /* Subject, Location, Body */

/* Instances of a recurring series looked at for a FilterType window
 * (as_calendar_window.c): a daily series is decided over 27 years. */
#define CAL_WINDOW_STEPS 10000

/* The codecs (as_calendar.c, as_task.c), registered in as_item_codec.c. */
extern const as_item_codec_t as_calendar_codec;
extern const as_item_codec_t as_task_codec;

/* as_item_in_window_fn of events and tasks (as_calendar_window.c). */
int cal_event_in_window(const char *data, apr_size_t len, apr_time_t start, apr_time_t end);
int cal_task_in_window(const char *data, apr_size_t len, apr_time_t start, apr_time_t end);

/* ---- as_calendar_util.c: parsing, times, text ---- */

/* The file parsed as one VCALENDAR (a bare component is wrapped), its
 * zones within meeting_zones_check's bounds; NULL with *err otherwise. */
icalcomponent *cal_parse(const char *data, apr_size_t len, const char **err);
/* The first component of kind without RECURRENCE-ID (the master), else the
 * first one of kind; NULL when none. */
icalcomponent *cal_master(icalcomponent *root, icalcomponent_kind kind);
/* The zone of a DATE-TIME property: its VTIMEZONE in the file, else the
 * builtin zone of its TZID; NULL for UTC, floating or unknown (read as
 * UTC). */
icaltimezone *cal_zone_of(icalcomponent *root, icalproperty *prop);
/* t (a DATE is midnight) in zone (NULL: UTC) as seconds since the epoch,
 * clamped to years 1..9999. */
time_t cal_to_utc(struct icaltimetype t, icaltimezone *zone);
/* Compact DateTime (yyyymmddThhmmssZ) and dateTime (yyyy-mm-ddThh:mm:ss.000Z). */
const char *cal_compact(apr_pool_t *p, time_t t);
const char *cal_datetime(apr_pool_t *p, time_t t);
/* Either form (and yyyy-mm-dd), leniently; -1 when unreadable. */
int cal_parse_time(const char *s, time_t *out);
/* t as a UTC icaltimetype. */
struct icaltimetype cal_utc_time(time_t t);
/* t as the wall clock of zone (NULL: UTC, is_utc set). */
struct icaltimetype cal_local_time(time_t t, icaltimezone *zone);

/* The text of the child ns:name of parent (NULL: absent), cleaned to valid
 * UTF-8 and at most CAL_MAX_TEXT bytes. */
const char *cal_child_text(apr_pool_t *p, xmlNodePtr parent, const char *ns, const char *name);
/* The child as an integer in [lo, hi]; dflt when absent or out of range. */
int cal_child_int(apr_pool_t *p, xmlNodePtr parent, const char *ns, const char *name, int lo,
                  int hi, int dflt);
/* Text from the file as XML-safe UTF-8 (one_line: no line breaks). */
const char *cal_clean(apr_pool_t *p, const char *s, int one_line);
/* The value of the first X- property name of c, or NULL. */
const char *cal_x_prop(icalcomponent *c, const char *name);
/* Remove every property of kind (for ICAL_X_PROPERTY: only those named
 * xname) from c. */
void cal_remove_props(icalcomponent *c, icalproperty_kind kind, const char *xname);
/* Replace the X- property name with value (NULL: remove). */
void cal_set_x_prop(icalcomponent *c, const char *name, const char *value);

/* airsyncbase:Body (Type 1, truncated as the first preference asks) of
 * text; nothing for an empty text. */
void cal_add_body(apr_pool_t *p, xmlNodePtr app, const char *text, const as_item_opts_t *o);
/* The phone's body text (airsyncbase:Body/Data or the legacy ns:Body), NULL
 * when absent. */
const char *cal_body_of(apr_pool_t *p, xmlNodePtr app, const char *legacy_ns);
/* Categories/Category <-> CATEGORIES (one property per value written). */
void cal_add_categories(apr_pool_t *p, xmlNodePtr app, const char *ns, icalcomponent *c);
void cal_set_categories(apr_pool_t *p, icalcomponent *c, xmlNodePtr app, const char *ns);
/* CLASS <-> Sensitivity 0..3. */
int cal_sensitivity_of(icalcomponent *c);
void cal_set_sensitivity(icalcomponent *c, int s);
/* The first relative VALARM's minutes before the start (related to
 * START), -1 without one. */
int cal_reminder_of(icalcomponent *c);
/* Set (minutes >= 0) or remove (-1) the reminder: the first relative
 * VALARM's TRIGGER is changed, other VALARMs are kept. */
void cal_set_reminder(icalcomponent *c, int minutes);
/* SUMMARY, LOCATION or DESCRIPTION to value ("" or NULL: removed), left
 * alone when it already says that. */
void cal_set_text(icalcomponent *c, icalproperty_kind kind, const char *value);
/* DESCRIPTION from the phone's body (NULL: unchanged); a truncated copy of
 * what the phone was sent leaves the file's. */
void cal_set_body(icalcomponent *c, const char *body);
/* The serialised calendar in pool memory. */
char *cal_serialize(apr_pool_t *p, icalcomponent *root, apr_size_t *len);
/* A new UID (random, hex). */
const char *cal_new_uid(apr_pool_t *p);

/* A BYDAY entry: weekday 1 (Sunday) .. 7, position (0: every). */
short cal_encode_day(int wday, int pos);

/* ---- as_calendar_tz.c: the TimeZone blob ---- */

typedef struct cal_tzrule_t {
    int month, wday, week, hour, minute; /* month 0: none */
} cal_tzrule_t;

typedef struct cal_tzinfo_t {
    int bias, std_bias, dst_bias; /* minutes, UTC = local + bias */
    cal_tzrule_t std, dst;
    char std_name[96], dst_name[96]; /* UTF-8 */
} cal_tzinfo_t;

/* Decode a base64 blob; -1 when it is not 172 bytes or its rules are out of
 * range. */
int cal_tz_decode(const char *b64, cal_tzinfo_t *out);
/* The zone the blob describes for year: a builtin zone with the same rules
 * (names as a hint), else a VTIMEZONE made from the blob, added to root
 * unless root already has one of that TZID; NULL for UTC. */
icaltimezone *cal_tz_from_blob(icalcomponent *root, const cal_tzinfo_t *tz, int year);
/* Does zone (NULL: UTC) have tz's rules in year? */
int cal_tz_matches(icaltimezone *zone, const cal_tzinfo_t *tz, int year);
/* The zone to compute with in year: the builtin zone of the same name
 * (an IANA or Windows name) when its rules that year are the file's --
 * libical expands a file's VTIMEZONE from its DTSTART on every parse (an
 * Outlook zone from 1601: ~10 ms), a builtin zone once a process -- else
 * zone itself. */
icaltimezone *cal_tz_fast(icaltimezone *zone, int year);
/* The builtin zone matching tz for year, NULL when none does. */
icaltimezone *cal_tz_match_builtin(const cal_tzinfo_t *tz, int year);

/* The zone as the file writes it: its VTIMEZONE of that name (a builtin
 * zone's, TZID its IANA name, added when missing); NULL for UTC. */
icaltimezone *cal_tz_in_file(icalcomponent *root, icaltimezone *zone, int year);

/* ---- as_calendar_recur.c: RRULE <-> Recurrence ---- */

typedef struct cal_recur_t {
    int type; /* 0 daily, 1 weekly, 2 monthly, 3 monthly nth, 5 yearly, 6 yearly nth */
    int interval, occurrences;
    time_t until; /* 0: none */
    int dow, dom, wom, moy;
    int fdow;  /* FirstDayOfWeek 0..6, -1 unset */
    int exact; /* the RRULE says exactly this (else: the nearest form) */
} cal_recur_t;

/* The EAS form of the rule for a series starting at start (in zone); -1
 * when there is none (e.g. FREQ=HOURLY). */
int cal_recur_from_rrule(struct icalrecurrencetype r, struct icaltimetype start, icaltimezone *zone,
                         cal_recur_t *out);
/* The RRULE of an EAS form; start: the series' DTSTART (for UNTIL's form). */
struct icalrecurrencetype cal_recur_to_rrule(const cal_recur_t *e, struct icaltimetype start,
                                             icaltimezone *zone);
/* Do two EAS forms describe the same recurrence? */
int cal_recur_equal(const cal_recur_t *a, const cal_recur_t *b);
/* ns:Recurrence <-> cal_recur_t (tasks: ns Tasks, with their own extras
 * handled by the caller). */
void cal_recur_add(apr_pool_t *p, xmlNodePtr app, const char *ns, const cal_recur_t *e,
                   int protocol, int tasks);
int cal_recur_read(apr_pool_t *p, xmlNodePtr rec, const char *ns, cal_recur_t *out);

/* ---- as_calendar_people.c: organizer and attendees ---- */

void cal_people_to_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app, int protocol,
                       const char *account);
void cal_people_from_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app);

/* ---- as_calendar_exc.c: exceptions ---- */

/* Exceptions of the series (EXDATEs and overrides in root). */
void cal_exceptions_to_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *master,
                           icaltimezone *zone, xmlNodePtr app, const as_item_opts_t *o);
/* Apply the phone's Exceptions to root (the master already updated). */
void cal_exceptions_from_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *master,
                             icaltimezone *zone, xmlNodePtr exs);
/* The override of the instance whose original start is orig (made from
 * the series when there is none yet), and the instance deleted (EXDATE,
 * its override removed): for MeetingResponse on one occurrence. */
icalcomponent *cal_instance_override(icalcomponent *root, icalcomponent *master, time_t orig,
                                     icaltimezone *zone);
void cal_instance_delete(icalcomponent *root, icalcomponent *master, time_t orig,
                         icaltimezone *zone);
/* 16.x: the phone's Change (app) or Delete (app NULL) of the one instance
 * of the series whose original start is orig (InstanceId outside the
 * ApplicationData): its override is made or changed (only the fields the
 * phone sent), or an EXDATE replaces it; other instances stay. */
void cal_instance_from_eas(apr_pool_t *p, icalcomponent *root, icalcomponent *master,
                           icaltimezone *zone, time_t orig, xmlNodePtr app);

/* ---- as_calendar_event.c: fields common to an event and an exception ---- */

/* the codec's entry for as_item_instance() (as_calendar.c) */
apr_status_t cal_event_instance_from_eas(xmlNodePtr app, int protocol, const char *instance_id,
                                         const char *old, apr_size_t oldlen, apr_pool_t *p,
                                         char **out, apr_size_t *outlen);
/* Subject, Location, Body, Reminder, BusyStatus, Sensitivity... of ev. */
void cal_event_fields_to_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app,
                             const as_item_opts_t *o, int exception);
/* The phone's fields onto ev; exception: only those present change. */
void cal_event_fields_from_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app, int exception);
/* StartTime/EndTime/AllDayEvent onto ev in zone (NULL: UTC). */
int cal_event_times_from_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app, icaltimezone *zone,
                             int all_day_default);

#endif
