/* Private to the item conversions other than Email (as_item_codec.h):
 * the codec of each class and the pieces they share.  Files:
 *   as_item_codec.c      the codec of a class
 *   as_item_util.c       clean text, dates, UIDs, Body, Categories
 *   as_contact.c         Contacts: vCard -> EAS
 *   as_contact_from.c    Contacts: EAS -> vCard (merged into the old vCard)
 *   as_contact_map.c     Contacts: which vCard property holds which EAS field
 *   as_contact_date.c    Contacts: Birthday/Anniversary <-> vCard dates
 *   as_note.c            Notes: VJOURNAL <-> EAS */
#ifndef AS_ITEM_INT_H
#define AS_ITEM_INT_H

#include <apr_pools.h>
#include <apr_time.h>
#include <libxml/tree.h>

#include "activesync/as_item_codec.h"

#define NS_CONTACTS  "Contacts:"
#define NS_CONTACTS2 "Contacts2:"
#define NS_BASE      "AirSyncBase:"
#define NS_NOTES     "Notes:"

/* A stored item larger than this is not read (a vCard with a 5 MB photo
 * still fits; the store's own caps are lower). */
#define AS_ITEM_MAX_BYTES (16 * 1024 * 1024)
/* Categories and Children: at most this many (Contacts.xsd/Notes.xsd
 * maxOccurs), each at most this many bytes. */
#define AS_ITEM_MAX_LIST  300
#define AS_ITEM_MAX_FIELD (32 * 1024)

extern const as_item_codec_t as_contact_codec;
extern const as_item_codec_t as_note_codec;

/* ---- as_item_util.c */
/* Add <ns:name>text</ns:name> with the text made fit for XML (invalid
 * UTF-8 replaced, forbidden controls dropped, at most AS_ITEM_MAX_FIELD
 * bytes); nothing when text is NULL or empty. */
xmlNodePtr item_add_text(apr_pool_t *p, xmlNodePtr parent, const char *ns, const char *name,
                         const char *text);
/* The airsyncbase:Body (Type 1) of a note text: the first plain-text (or
 * RTF-as-plain) BodyPreference decides TruncationSize, AllOrNone and
 * Preview; no element for an empty text. */
void item_add_body(apr_pool_t *p, xmlNodePtr app, const char *text, const as_item_opts_t *o);
/* The text of the phone's Body (airsyncbase:Body/Data, or a legacy
 * bodyns:Body when bodyns is not NULL): *present 0 when there is no Body
 * element at all.  Line ends become LF. */
const char *item_body_of(apr_pool_t *p, xmlNodePtr app, const char *bodyns, int *present);
/* The text of ns:name below parent, clean UTF-8 (bounded), NULL when absent. */
const char *item_child_text(apr_pool_t *p, xmlNodePtr parent, const char *ns, const char *name);
/* uid when it is given (not empty), else a new random UUID. */
const char *item_uid_or_new(apr_pool_t *p, const char *uid);
/* "2024-03-05T10:00:00.000Z" */
const char *item_utc_str(apr_pool_t *p, apr_time_t t);
/* Parse an EAS dateTime ("YYYY-MM-DDTHH:MM:SS[.fff]Z", also without the
 * Z, the fraction or the dashes/colons): its fields; 0 when it is none. */
int item_parse_datetime(const char *s, int *y, int *mo, int *d, int *h, int *mi, int *sec);
/* The texts of each ns:child below ns:list (at most AS_ITEM_MAX_LIST,
 * empty ones skipped), NULL-terminated; *present 0 when list is absent. */
const char **item_list_of(apr_pool_t *p, xmlNodePtr app, const char *ns, const char *list,
                          const char *child, int *present);
/* Append ns:list with one ns:child per text (none when texts is empty). */
void item_add_list(apr_pool_t *p, xmlNodePtr app, const char *ns, const char *list,
                   const char *child, const char *const *texts);

#endif
