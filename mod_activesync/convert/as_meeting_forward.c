/* A calendar item as the invitation message a reply or forward is made of
 * (SmartReply/SmartForward whose Source is in a calendar): see
 * as_meeting.h. */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <gmime/gmime.h>
#include <libical/ical.h>

#include "activesync/as_meeting.h"
#include "activesync/as_mime.h"
#include "as_calendar_int.h"

/* The event that stands for the item: its first VEVENT without
 * RECURRENCE-ID (the series), else its first VEVENT. */
static icalcomponent *master_of(icalcomponent *root)
{
    icalcomponent *ev, *first = icalcomponent_get_first_component(root, ICAL_VEVENT_COMPONENT);
    for (ev = first; ev; ev = icalcomponent_get_next_component(root, ICAL_VEVENT_COMPONENT)) {
        if (!icalcomponent_get_first_property(ev, ICAL_RECURRENCEID_PROPERTY)) {
            return ev;
        }
    }
    return first;
}

static const char *address_of(const char *v)
{
    return v && !strncasecmp(v, "mailto:", 7) ? v + 7 : v;
}

static void add_person(GMimeMessage *m, GMimeAddressType type, icalproperty *pr, const char *v)
{
    icalparameter *cn = icalproperty_get_first_parameter(pr, ICAL_CN_PARAMETER);
    const char *addr = address_of(v);
    if (addr && *addr && strchr(addr, '@')) {
        g_mime_message_add_mailbox(m, type, cn ? icalparameter_get_cn(cn) : NULL, addr);
    }
}

/* "When: ..." as UTC, the way a reader of any zone can place it. */
static const char *when_line(apr_pool_t *p, icalcomponent *ev)
{
    struct icaltimetype s = icalcomponent_get_dtstart(ev);
    if (icaltime_is_null_time(s)) {
        return "";
    }
    if (s.is_date) {
        return apr_psprintf(p, "When: %04d-%02d-%02d (all day)\n", s.year, s.month, s.day);
    }
    s = icaltime_convert_to_zone(s, icaltimezone_get_utc_timezone());
    return apr_psprintf(
        p, "When: %04d-%02d-%02d %02d:%02d UTC%s\n", s.year, s.month, s.day, s.hour, s.minute,
        icalcomponent_get_first_property(ev, ICAL_RRULE_PROPERTY) ? " (recurring)" : "");
}

static GMimeObject *text_part(const char *type, const char *subtype, const char *text,
                              const char *method)
{
    GMimePart *part = g_mime_part_new_with_type(type, subtype);
    GMimeStream *s = g_mime_stream_mem_new_with_buffer(text, strlen(text));
    GMimeDataWrapper *w = g_mime_data_wrapper_new_with_stream(s, GMIME_CONTENT_ENCODING_DEFAULT);

    g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "charset", "utf-8");
    if (method) {
        g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "method", method);
        g_mime_object_set_content_type_parameter(GMIME_OBJECT(part), "name", "invite.ics");
        g_mime_object_set_disposition(GMIME_OBJECT(part), GMIME_DISPOSITION_ATTACHMENT);
        g_mime_part_set_filename(part, "invite.ics");
    }
    g_mime_part_set_content(part, w);
    g_mime_part_set_content_encoding(part, GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE);
    g_object_unref(w);
    g_object_unref(s);
    return GMIME_OBJECT(part);
}

static const char *to_bytes(apr_pool_t *p, GMimeMessage *m, apr_size_t *len)
{
    GMimeStream *s = g_mime_stream_mem_new();
    GByteArray *a = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(s));
    const char *out;

    g_mime_object_write_to_stream(GMIME_OBJECT(m), NULL, s);
    out = apr_pstrmemdup(p, (const char *)a->data, a->len);
    *len = a->len;
    g_object_unref(s);
    return out;
}

apr_status_t as_meeting_as_message(apr_pool_t *p, const char *ics, apr_size_t len, const char **msg,
                                   apr_size_t *msg_len)
{
    icalcomponent *root, *ev;
    icalproperty *pr;
    GMimeMessage *m;
    GMimeMultipart *mixed;
    const char *s, *text;
    char *cal;

    as_mime_init(); /* GMime set up (once per process) */
    if (len > AS_MEETING_CALENDAR_MAX ||
        !(root = icalparser_parse_string(apr_pstrmemdup(p, ics, len)))) {
        return APR_EINVAL;
    }
    if (icalcomponent_isa(root) != ICAL_VCALENDAR_COMPONENT || !(ev = master_of(root))) {
        icalcomponent_free(root);
        return APR_EINVAL;
    }
    m = g_mime_message_new(TRUE);
    if ((pr = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY)) != NULL) {
        add_person(m, GMIME_ADDRESS_TYPE_FROM, pr, icalproperty_get_organizer(pr));
    }
    for (pr = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(ev, ICAL_ATTENDEE_PROPERTY)) {
        add_person(m, GMIME_ADDRESS_TYPE_TO, pr, icalproperty_get_attendee(pr));
    }
    s = icalcomponent_get_summary(ev);
    g_mime_message_set_subject(m, s ? s : "", "utf-8");
    s = icalcomponent_get_location(ev);
    text = apr_pstrcat(p, when_line(p, ev), s && *s ? "Where: " : "", s && *s ? s : "",
                       s && *s ? "\n" : "", NULL);
    s = icalcomponent_get_description(ev);
    text = apr_pstrcat(p, text, "\n", s ? s : "", "\n", NULL);
    /* the attachment is the item as an invitation (METHOD:REQUEST) */
    icalcomponent_set_method(root, ICAL_METHOD_REQUEST);
    cal = icalcomponent_as_ical_string_r(root);
    icalcomponent_free(root);
    mixed = g_mime_multipart_new_with_subtype("mixed");
    g_mime_multipart_add(mixed, text_part("text", "plain", text, NULL));
    g_mime_multipart_add(mixed, text_part("text", "calendar", cal ? cal : "", "REQUEST"));
    free(cal);
    g_mime_message_set_mime_part(m, GMIME_OBJECT(mixed));
    g_object_unref(mixed);
    *msg = to_bytes(p, m, msg_len);
    g_object_unref(m);
    return APR_SUCCESS;
}
