/* ORGANIZER and ATTENDEE <-> OrganizerName/OrganizerEmail and
 * Attendees/Attendee{Email, Name, AttendeeStatus, AttendeeType}. */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>

#include "activesync/as_xml.h"
#include "as_calendar_int.h"

static const char *address_of(const char *v)
{
    if (v && !strncasecmp(v, "mailto:", 7)) {
        return v + 7;
    }
    return v;
}

static const char *cn_of(icalproperty *pr)
{
    icalparameter *cn = icalproperty_get_first_parameter(pr, ICAL_CN_PARAMETER);
    return cn ? icalparameter_get_cn(cn) : NULL;
}

static int status_of(icalproperty *pr)
{
    icalparameter *ps = icalproperty_get_first_parameter(pr, ICAL_PARTSTAT_PARAMETER);
    switch (ps ? icalparameter_get_partstat(ps) : ICAL_PARTSTAT_NONE) {
    case ICAL_PARTSTAT_ACCEPTED:
        return 3;
    case ICAL_PARTSTAT_TENTATIVE:
        return 2;
    case ICAL_PARTSTAT_DECLINED:
        return 4;
    case ICAL_PARTSTAT_NEEDSACTION:
        return 5;
    default:
        return 0;
    }
}

static int type_of(icalproperty *pr)
{
    icalparameter *cu = icalproperty_get_first_parameter(pr, ICAL_CUTYPE_PARAMETER);
    icalparameter *role = icalproperty_get_first_parameter(pr, ICAL_ROLE_PARAMETER);
    if (cu && (icalparameter_get_cutype(cu) == ICAL_CUTYPE_RESOURCE ||
               icalparameter_get_cutype(cu) == ICAL_CUTYPE_ROOM)) {
        return 3;
    }
    return role && icalparameter_get_role(role) == ICAL_ROLE_OPTPARTICIPANT ? 2 : 1;
}

/* ResponseType (14.0+): the user's own answer to a meeting -- 1 the
 * account organises it, else its ATTENDEE's PARTSTAT (2 tentative, 3
 * accepted, 4 declined, 5 not yet; 0 when the account is not listed). */
static void add_response_type(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app, const char *account)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
    const char *org = pr ? address_of(icalproperty_get_organizer(pr)) : NULL;
    int t = 0;

    if (org && !strcasecmp(org, account)) {
        t = 1;
    }
    for (pr = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY); pr && !t;
         pr = icalcomponent_get_next_property(ev, ICAL_ATTENDEE_PROPERTY)) {
        const char *addr = address_of(icalproperty_get_attendee(pr));
        if (addr && !strcasecmp(addr, account)) {
            t = status_of(pr);
            break;
        }
    }
    as_xml_add(app, NS_CAL, "ResponseType", apr_itoa(p, t));
}

void cal_people_to_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app, int protocol,
                       const char *account)
{
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
    xmlNodePtr list = NULL;
    int n = 0;

    if (pr && address_of(icalproperty_get_organizer(pr))) {
        const char *name = cn_of(pr), *addr = address_of(icalproperty_get_organizer(pr));
        if (name && *name) {
            as_xml_add(app, NS_CAL, "OrganizerName", cal_clean(p, name, 1));
        }
        if (*addr) {
            as_xml_add(app, NS_CAL, "OrganizerEmail", cal_clean(p, addr, 1));
        }
    }
    for (pr = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY);
         pr && n < CAL_MAX_ATTENDEES;
         pr = icalcomponent_get_next_property(ev, ICAL_ATTENDEE_PROPERTY)) {
        const char *addr = address_of(icalproperty_get_attendee(pr)), *name = cn_of(pr);
        xmlNodePtr a;
        if (!addr || !*addr) {
            continue;
        }
        if (!list) {
            list = as_xml_add(app, NS_CAL, "Attendees", NULL);
        }
        a = as_xml_add(list, NS_CAL, "Attendee", NULL);
        as_xml_add(a, NS_CAL, "Email", cal_clean(p, addr, 1));
        as_xml_add(a, NS_CAL, "Name", cal_clean(p, name && *name ? name : addr, 1));
        if (protocol >= 120) {
            as_xml_add(a, NS_CAL, "AttendeeStatus", apr_itoa(p, status_of(pr)));
            as_xml_add(a, NS_CAL, "AttendeeType", apr_itoa(p, type_of(pr)));
        }
        n++;
    }
    if (list && account && protocol >= 140) {
        add_response_type(p, ev, app, account);
    }
}

static void set_param(icalproperty *pr, icalparameter_kind kind, icalparameter *value)
{
    icalproperty_remove_parameter_by_kind(pr, kind);
    if (value) {
        icalproperty_add_parameter(pr, value);
    }
}

static icalproperty *find_attendee(icalcomponent *ev, const char *addr)
{
    icalproperty *pr;
    for (pr = icalcomponent_get_first_property(ev, ICAL_ATTENDEE_PROPERTY); pr;
         pr = icalcomponent_get_next_property(ev, ICAL_ATTENDEE_PROPERTY)) {
        const char *a = address_of(icalproperty_get_attendee(pr));
        if (a && !strcasecmp(a, addr)) {
            return pr;
        }
    }
    return NULL;
}

/* One Attendee onto pr (a kept ATTENDEE keeps its other parameters). */
static void attendee_from_eas(apr_pool_t *p, icalproperty *pr, xmlNodePtr a, const char *addr)
{
    static const icalparameter_partstat ps[] = {ICAL_PARTSTAT_NONE,      ICAL_PARTSTAT_NONE,
                                                ICAL_PARTSTAT_TENTATIVE, ICAL_PARTSTAT_ACCEPTED,
                                                ICAL_PARTSTAT_DECLINED,  ICAL_PARTSTAT_NEEDSACTION};
    const char *name = cal_child_text(p, a, NS_CAL, "Name");
    int status = cal_child_int(p, a, NS_CAL, "AttendeeStatus", 0, 5, -1);
    int type = cal_child_int(p, a, NS_CAL, "AttendeeType", 1, 3, -1);

    if (name && *name && strcasecmp(name, addr)) {
        set_param(pr, ICAL_CN_PARAMETER, icalparameter_new_cn(cal_clean(p, name, 1)));
    }
    if (status >= 2) {
        set_param(pr, ICAL_PARTSTAT_PARAMETER, icalparameter_new_partstat(ps[status]));
    }
    if (type == 3) {
        set_param(pr, ICAL_CUTYPE_PARAMETER, icalparameter_new_cutype(ICAL_CUTYPE_RESOURCE));
    } else if (type > 0) {
        if (icalproperty_get_first_parameter(pr, ICAL_CUTYPE_PARAMETER) && type_of(pr) == 3) {
            set_param(pr, ICAL_CUTYPE_PARAMETER, NULL);
        }
        if (type != type_of(pr)) {
            set_param(pr, ICAL_ROLE_PARAMETER,
                      icalparameter_new_role(type == 2 ? ICAL_ROLE_OPTPARTICIPANT
                                                       : ICAL_ROLE_REQPARTICIPANT));
        }
    }
}

static void organizer_from_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app)
{
    const char *email = cal_child_text(p, app, NS_CAL, "OrganizerEmail");
    const char *name = cal_child_text(p, app, NS_CAL, "OrganizerName");
    icalproperty *pr = icalcomponent_get_first_property(ev, ICAL_ORGANIZER_PROPERTY);
    const char *old = pr ? address_of(icalproperty_get_organizer(pr)) : NULL;

    if (!email || !*email || strchr(email, '\n')) {
        return; /* 16.x phones do not send it: the file's stays */
    }
    if (!pr || !old || strcasecmp(old, email)) {
        cal_remove_props(ev, ICAL_ORGANIZER_PROPERTY, NULL);
        pr = icalproperty_new_organizer(apr_pstrcat(p, "mailto:", email, NULL));
        icalcomponent_add_property(ev, pr);
    }
    if (name && *name) {
        set_param(pr, ICAL_CN_PARAMETER, icalparameter_new_cn(cal_clean(p, name, 1)));
    }
}

void cal_people_from_eas(apr_pool_t *p, icalcomponent *ev, xmlNodePtr app)
{
    xmlNodePtr list = as_xml_child(app, NS_CAL, "Attendees"), a;
    icalcomponent *keep;
    icalproperty *pr;
    int n = 0;

    organizer_from_eas(p, ev, app);
    if (!list) {
        return; /* absent: the file's attendees stay (a phone may not show them) */
    }
    /* the new list, each kept ATTENDEE moved over with its parameters */
    keep = icalcomponent_new(ICAL_VEVENT_COMPONENT);
    for (a = list->children; a && n < CAL_MAX_ATTENDEES; a = a->next) {
        const char *addr;
        if (a->type != XML_ELEMENT_NODE || !as_xml_is(a, NS_CAL, "Attendee")) {
            continue;
        }
        addr = cal_child_text(p, a, NS_CAL, "Email");
        if (!addr || !*addr || strchr(addr, '\n') || find_attendee(keep, addr)) {
            continue;
        }
        pr = find_attendee(ev, addr);
        if (pr) {
            icalcomponent_remove_property(ev, pr);
        } else {
            pr = icalproperty_new_attendee(apr_pstrcat(p, "mailto:", addr, NULL));
        }
        attendee_from_eas(p, pr, a, addr);
        icalcomponent_add_property(keep, pr);
        n++;
    }
    cal_remove_props(ev, ICAL_ATTENDEE_PROPERTY, NULL);
    while ((pr = icalcomponent_get_first_property(keep, ICAL_ATTENDEE_PROPERTY)) != NULL) {
        icalcomponent_remove_property(keep, pr);
        icalcomponent_add_property(ev, pr);
    }
    icalcomponent_free(keep);
}
