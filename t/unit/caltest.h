/* Shared by the Calendar and Tasks conversion tests (test_calendar*.c,
 * test_task.c): the item codec called as the Sync engine calls it, the
 * ApplicationData read back, and a series expanded by libical.
 * Header-only; every document lives until the test's pool is destroyed. */
#ifndef AS_CALTEST_H
#define AS_CALTEST_H

#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <libical/ical.h>
#include <libxml/tree.h>

#include "activesync/as_item_codec.h"
#include "activesync/as_meeting.h"
#include "activesync/as_xml.h"
#include "unit.h"

#define CT_CAL  "Calendar:"
#define CT_TASK "Tasks:"
#define CT_BASE "AirSyncBase:"

#ifndef CT_FN
#define CT_FN static inline __attribute__((unused))
#endif

static apr_status_t ct_free_doc(void *d)
{
    xmlFreeDoc(d);
    return APR_SUCCESS;
}

/* An empty AirSync:ApplicationData in a document freed with unit_pool. */
CT_FN xmlNodePtr ct_app(void)
{
    xmlNodePtr app;
    xmlDocPtr doc = as_reply_new("AirSync:", "ApplicationData", &app);
    apr_pool_cleanup_register(unit_pool, doc, ct_free_doc, apr_pool_cleanup_null);
    return app;
}

/* The file converted for protocol; NULL when the codec refused it. */
CT_FN xmlNodePtr ct_to_eas_opts(int cls, const char *file, const as_item_opts_t *o)
{
    xmlNodePtr app = ct_app();
    if (as_item_codec(cls)->to_eas(file, strlen(file), o, app, unit_pool) != APR_SUCCESS) {
        return NULL;
    }
    return app;
}

CT_FN xmlNodePtr ct_to_eas(int cls, const char *file, int protocol)
{
    as_item_opts_t o;
    memset(&o, 0, sizeof o);
    o.protocol = protocol;
    return ct_to_eas_opts(cls, file, &o);
}

/* The text of ns:name below n (a path "A/B" walks down); NULL when absent. */
CT_FN const char *ct_text(xmlNodePtr n, const char *ns, const char *path)
{
    char *copy = apr_pstrdup(unit_pool, path), *save = NULL, *part;
    for (part = strtok_r(copy, "/", &save); part && n; part = strtok_r(NULL, "/", &save)) {
        n = as_xml_child(n, ns, part);
    }
    return n ? as_xml_text(unit_pool, n, NULL) : NULL;
}

/* The phone's ApplicationData made into a file (old: the current file). */
CT_FN char *ct_from_eas(int cls, xmlNodePtr app, int protocol, const char *old)
{
    char *out = NULL;
    apr_size_t len = 0;
    apr_status_t rv = as_item_codec(cls)->from_eas(app, protocol, old, old ? strlen(old) : 0, NULL,
                                                   unit_pool, &out, &len);
    ck_assert_int_eq(rv, APR_SUCCESS);
    ck_assert_ptr_nonnull(out);
    ck_assert_uint_eq(strlen(out), len);
    return out;
}

/* Replace (or add) the text of app's child ns:name. */
CT_FN void ct_set(xmlNodePtr app, const char *ns, const char *name, const char *text)
{
    xmlNodePtr n = as_xml_child(app, ns, name);
    if (n) {
        xmlUnlinkNode(n);
        xmlFreeNode(n);
    }
    if (text) {
        as_xml_add(app, ns, name, text);
    }
}

CT_FN icalcomponent *ct_parse(const char *file)
{
    icalcomponent *c = icalparser_parse_string(file);
    ck_assert_ptr_nonnull(c);
    return c;
}

/* The first component of kind without RECURRENCE-ID. */
CT_FN icalcomponent *ct_master(icalcomponent *root, icalcomponent_kind kind)
{
    icalcomponent *c;
    for (c = icalcomponent_get_first_component(root, kind); c;
         c = icalcomponent_get_next_component(root, kind)) {
        if (!icalcomponent_get_first_property(c, ICAL_RECURRENCEID_PROPERTY)) {
            return c;
        }
    }
    return NULL;
}

/* A date-time property of the file's master as UTC seconds (DATE: midnight
 * UTC), libical resolving its TZID from the file's VTIMEZONEs. */
CT_FN time_t ct_prop_utc(icalcomponent *root, icalcomponent *c, icalproperty_kind kind)
{
    icalproperty *pr = icalcomponent_get_first_property(c, kind);
    struct icaltimetype t;
    icalparameter *tz;
    icaltimezone *z = NULL;
    ck_assert_ptr_nonnull(pr);
    t = icalvalue_get_datetime(icalproperty_get_value(pr));
    tz = icalproperty_get_first_parameter(pr, ICAL_TZID_PARAMETER);
    if (tz) {
        z = icalcomponent_get_timezone(root, icalparameter_get_tzid(tz));
        if (!z) {
            z = icaltimezone_get_builtin_timezone(icalparameter_get_tzid(tz));
        }
        ck_assert_msg(z != NULL, "TZID %s has no zone", icalparameter_get_tzid(tz));
    }
    if (t.is_date) {
        t.is_date = 0;
        t.hour = t.minute = t.second = 0;
    }
    t.zone = NULL;
    return icaltime_as_timet_with_zone(t, z ? z : icaltimezone_get_utc_timezone());
}

/* Compact DateTime to seconds. */
CT_FN time_t ct_compact(const char *s)
{
    struct icaltimetype t = icaltime_from_string(s);
    ck_assert_msg(!icaltime_is_null_time(t), "bad time %s", s ? s : "(null)");
    t.zone = NULL;
    return icaltime_as_timet_with_zone(t, icaltimezone_get_utc_timezone());
}

/* The instances (UTC seconds, sorted) of the file's series within
 * [from, to): RRULE and RDATE from DTSTART, minus EXDATEs, each overridden
 * instance at its override's DTSTART.  At most max; returns the count. */
CT_FN int ct_expand(const char *file, time_t from, time_t to, time_t *out, int max)
{
    icalcomponent *root = ct_parse(file), *ev = ct_master(root, ICAL_VEVENT_COMPONENT), *ov;
    icalproperty *dt = icalcomponent_get_first_property(ev, ICAL_DTSTART_PROPERTY), *pr;
    struct icaltimetype st = icalproperty_get_dtstart(dt), t;
    icalparameter *tz = icalproperty_get_first_parameter(dt, ICAL_TZID_PARAMETER);
    icaltimezone *z = NULL;
    icalrecur_iterator *it;
    int n = 0, i, j;

    if (tz) {
        z = icalcomponent_get_timezone(root, icalparameter_get_tzid(tz));
        if (!z) {
            z = icaltimezone_get_builtin_timezone(icalparameter_get_tzid(tz));
        }
    }
    if (!z || st.is_date) {
        z = icaltimezone_get_utc_timezone();
    }
    st.zone = NULL;
    pr = icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY);
    ck_assert_ptr_nonnull(pr);
    it = icalrecur_iterator_new(icalproperty_get_rrule(pr), st);
    ck_assert_ptr_nonnull(it);
    while (n < max && !icaltime_is_null_time(t = icalrecur_iterator_next(it))) {
        time_t s;
        int skip = 0;
        t.zone = NULL;
        if (t.is_date) {
            t.is_date = 0;
        }
        s = icaltime_as_timet_with_zone(t, z);
        if (s >= to) {
            break;
        }
        for (pr = icalcomponent_get_first_property(ev, ICAL_EXDATE_PROPERTY); pr && !skip;
             pr = icalcomponent_get_next_property(ev, ICAL_EXDATE_PROPERTY)) {
            struct icaltimetype x = icalproperty_get_exdate(pr);
            x.zone = NULL;
            x.is_date = 0;
            skip = icaltime_as_timet_with_zone(x, icaltime_is_utc(icalproperty_get_exdate(pr))
                                                      ? icaltimezone_get_utc_timezone()
                                                      : z) == s ||
                   (icalproperty_get_exdate(pr).is_date &&
                    icaltime_compare_date_only(icalproperty_get_exdate(pr), t) == 0);
        }
        for (ov = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT); ov && !skip;
             ov = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
            pr = icalcomponent_get_first_property(ov, ICAL_RECURRENCEID_PROPERTY);
            if (pr && ct_prop_utc(root, ov, ICAL_RECURRENCEID_PROPERTY) == s) {
                s = ct_prop_utc(root, ov, ICAL_DTSTART_PROPERTY);
            }
        }
        if (!skip && s >= from) {
            out[n++] = s;
        }
    }
    icalrecur_iterator_free(it);
    icalcomponent_free(root);
    for (i = 1; i < n; i++) { /* moved instances may be out of order */
        for (j = i; j > 0 && out[j - 1] > out[j]; j--) {
            time_t x = out[j];
            out[j] = out[j - 1];
            out[j - 1] = x;
        }
    }
    return n;
}

#endif
