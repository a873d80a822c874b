/* Private to the Contacts conversion (as_contact*.c): where each EAS
 * field lives in a vCard (EVCard of evolution-data-server).
 *
 * Fields with several instances in a vCard (e-mail, IM, phones of a kind,
 * addresses of a kind) fill EAS's slots in document order: the first
 * three EMAIL are Email1-3Address, the first two work phones are
 * Business/Business2PhoneNumber, and so on.  contact_view() finds the
 * attribute behind each slot; as_contact_from.c updates that attribute in
 * place (its group, parameters and position stay), removes it when the
 * phone sent no value, or appends a new one; attributes behind no slot are
 * never touched. */
#ifndef AS_CONTACT_INT_H
#define AS_CONTACT_INT_H

#include <apr_pools.h>
/* The umbrella header is the only one it allows; through libedataserver
 * it declares functions with GLib's deprecated GTimeVal. */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
#include <libebook-contacts/libebook-contacts.h>
#pragma GCC diagnostic pop

#include "as_item_int.h"

/* MS-ASCNTC 2.2.2.58: a Picture is at most 48 KB of base64 text. */
#define AS_CONTACT_PICTURE_MAX 49152
/* A phone's Picture up to this much base64 is stored (clients send more
 * than the spec allows; Z-Push raised its limit to 5 MB), a larger one
 * makes the item refused. */
#define AS_CONTACT_PICTURE_IN_MAX (1024 * 1024)

enum {
    TEL_BUSINESS,
    TEL_HOME,
    TEL_MOBILE,
    TEL_CAR,
    TEL_PAGER,
    TEL_RADIO,
    TEL_BFAX,
    TEL_HFAX,
    TEL_ASSISTANT,
    TEL_COMPANY,
    TEL_MMS,
    TEL_CLASSES
};
enum { ADR_BUSINESS, ADR_HOME, ADR_OTHER, ADR_CLASSES };
#define CONTACT_EMAILS 3
#define CONTACT_IMS    3
#define TEL_SLOTS      2 /* Business2, Home2 */

/* One phone element: its class and slot, and the TYPE of a new TEL. */
typedef struct contact_phone_t {
    const char *ns, *name;
    int cls, slot;
    const char *types; /* comma-separated */
} contact_phone_t;
extern const contact_phone_t contact_phones[];

/* The address kinds: element prefix ("Business"), TYPE of a new ADR. */
typedef struct contact_adr_t {
    const char *prefix, *type;
} contact_adr_t;
extern const contact_adr_t contact_adrs[ADR_CLASSES];
/* Street, City, State, PostalCode, Country: ADR components 2-6. */
extern const char *const contact_adr_parts[5];

/* A one-instance field kept in a property of its own: the first property
 * matching one of names (a name, "NAME;type" for a TYPE, or "NAME@label"
 * for Apple's and Google's grouped "item1.X-ABDATE" with its
 * "item1.X-ABLabel:_$!<Anniversary>!$_") holds it; a new one is written
 * as names[0]. */
typedef struct contact_single_t {
    const char *ns, *name;
    const char *names[6];
    int date; /* Birthday, Anniversary */
} contact_single_t;
extern const contact_single_t contact_singles[];
#define CONTACT_SINGLES 15

/* Components of N and ORG carried by EAS. */
typedef struct contact_part_t {
    const char *ns, *name;
    int index;
} contact_part_t;
extern const contact_part_t contact_n_parts[5];
extern const contact_part_t contact_org_parts[2];

/* The attributes behind the EAS fields of one vCard (NULL: none). */
typedef struct contact_view_t {
    EVCardAttribute *tel[TEL_CLASSES][TEL_SLOTS];
    EVCardAttribute *email[CONTACT_EMAILS], *im[CONTACT_IMS], *adr[ADR_CLASSES];
    EVCardAttribute *single[CONTACT_SINGLES];
    EVCardAttribute *n, *org, *fn, *fileas, *note, *photo;
    /* the Children, and the X-ABLabel of each (NULL: not labelled) */
    EVCardAttribute *child[AS_ITEM_MAX_LIST], *child_label[AS_ITEM_MAX_LIST];
    int nchild;
} contact_view_t;

/* ---- as_contact_map.c */
/* Parse a stored vCard (NULL: not one, or too large). */
EVCard *contact_parse(const char *data, apr_size_t len);
void contact_view(EVCard *vc, contact_view_t *v);
/* Does the attribute have this TYPE (any case, "a,b" lists and vCard 2.1
 * bare parameters too)? */
int contact_has_type(EVCardAttribute *a, const char *type);
/* Its values joined with ';' (a single text, as written), NULL: none. */
const char *contact_value(apr_pool_t *p, EVCardAttribute *a);
/* Value number i of a structured attribute (N, ORG, ADR), "" when absent. */
const char *contact_component(apr_pool_t *p, EVCardAttribute *a, int i);
/* An inline picture as base64 (data: URIs too), NULL for none or a URI. */
const char *contact_photo_b64(apr_pool_t *p, EVCardAttribute *a);
/* Is it a property of an instant-messaging address? */
int contact_is_im(EVCardAttribute *a);
/* Does the attribute match "NAME" or "NAME;type"? */
int contact_attr_is(EVCardAttribute *a, const char *spec);
/* Children: the properties read as Child ("NAME", "NAME;type" or
 * "NAME@label"), the first one written. */
extern const char *const contact_child_names[];

/* ---- as_contact_date.c */
/* A vCard date (2.1/3.0 "1980-05-12", "19800512", with a time; 4.0
 * "--0512"; no year becomes 1604, as Apple writes it) -> the EAS value
 * "1980-05-12T00:00:00.000Z"; NULL when it is no date. */
const char *contact_date_to_eas(apr_pool_t *p, const char *v);
/* The phone's dateTime -> a vCard date "YYYY-MM-DD".  Phones send the
 * date at 00:00 UTC, at 08:00 UTC (AOSP) or at their local midnight
 * expressed in UTC (1980-05-11T22:00Z from UTC+2, 1980-05-12T12:00Z from
 * UTC-12, 1980-05-11T10:00Z from UTC+14), so a time of day names one of
 * two dates: that day (the phone west of UTC or on a fixed hour) or the
 * next (east of UTC).  Both are possible between 10:00 and 12:00 UTC; the
 * one the stored vCard has (old, may be NULL) wins, else 10:xx is that
 * day (UTC-10: Hawaii, Tahiti) and 11:00-12:00 the next (UTC+13/+12: New
 * Zealand, Tonga, Samoa, Fiji).  NULL when it is no date. */
const char *contact_date_from_eas(apr_pool_t *p, const char *eas, const char *old);

/* ---- as_contact_from.c */
apr_status_t contact_from_eas(xmlNodePtr app, int protocol, const char *old, apr_size_t oldlen,
                              const char *uid, apr_pool_t *p, char **out, apr_size_t *outlen);

#endif
