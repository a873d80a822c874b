/* Conversion of one stored item of a class other than Email (a vCard, an
 * iCalendar object) to and from its EAS ApplicationData (convert layer).
 *
 * The Sync engine, ItemOperations and Search find the conversion of a
 * folder's class with as_item_codec(); each class has its own file
 * (as_contact.c for Contacts, as_note.c for Notes, and later the calendar
 * and tasks).  A conversion never loses what the phone cannot show:
 * from_eas() is given the item's current file and keeps every property
 * that EAS does not carry. */
#ifndef AS_ITEM_CODEC_H
#define AS_ITEM_CODEC_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_time.h>
#include <libxml/tree.h>

#include "as_log.h"
#include "as_mime.h"
#include "as_store.h"

/* What the request asks of the conversion to EAS. */
typedef struct as_item_opts_t {
    int protocol;                    /* 121, 140, 141, 160, 161 */
    const as_mime_bodypref_t *prefs; /* BodyPreference (Body: plain text, truncated) */
    int nprefs;
    const as_logger_t *log; /* for a line about an item that cannot be read; NULL: none */
    const char *account;    /* the account's address (an event it organises is MeetingStatus
                             * 1, not 3); NULL: not known */
} as_item_opts_t;

typedef struct as_item_codec_t {
    int cls; /* as_item_class_t */
    /* The item's file (data, len) -> the ApplicationData children appended
     * to appdata (namespaces declared as as_xml does).  APR_EINVAL: not an
     * item of this class (it is then not sent; logged by the caller). */
    apr_status_t (*to_eas)(const char *data, apr_size_t len, const as_item_opts_t *o,
                           xmlNodePtr appdata, apr_pool_t *p);
    /* The phone's ApplicationData -> the file to store.  old/oldlen: the
     * item's current file (NULL for an Add): what EAS does not carry is
     * kept from it, and so is its UID.  uid: the UID of a new item (NULL:
     * one is made).  *out is NUL-terminated pool memory.  APR_EINVAL: the
     * ApplicationData cannot make an item (Sync Status 6). */
    apr_status_t (*from_eas)(xmlNodePtr appdata, int protocol, const char *old, apr_size_t oldlen,
                             const char *uid, apr_pool_t *p, char **out, apr_size_t *outlen);
    /* The UID of a stored item (for the file's name and duplicate checks),
     * NULL when it has none. */
    const char *(*uid_of)(const char *data, apr_size_t len, apr_pool_t *p);
} as_item_codec_t;

/* The conversion of a class, NULL for Email (the MIME conversion) and for
 * classes not served yet. */
const as_item_codec_t *as_item_codec(int cls);

/* Is a stored item inside a Sync's FilterType window?  For an event: does
 * any instance (a recurring series expanded within a bound of steps; a
 * series still undecided then counts as inside) overlap [start, end)
 * (end 0: no end)?  For a task: is it incomplete (FilterType 8; start and
 * end are not used)?  1 also for a file that cannot be read (its
 * conversion then decides).  Cost: one parse of the file. */
typedef int (*as_item_in_window_fn)(const char *data, apr_size_t len, apr_time_t start,
                                    apr_time_t end);
/* The window question of a class (Calendar, Tasks), NULL for the classes
 * without one.  Kept apart from as_item_codec_t so that the codecs of the
 * other classes need not name it. */
as_item_in_window_fn as_item_window(int cls);

/* 16.x: the phone's Change (appdata) or Delete (appdata NULL) of one
 * instance of a recurring item, named by its InstanceId (the original
 * start, UTC) outside the ApplicationData, applied onto the current file
 * old: only that instance changes (an override, or an exclusion).
 * APR_EINVAL: old is no series, or the InstanceId is no time. */
typedef apr_status_t (*as_item_instance_fn)(xmlNodePtr appdata, int protocol,
                                            const char *instance_id, const char *old,
                                            apr_size_t oldlen, apr_pool_t *p, char **out,
                                            apr_size_t *outlen);
/* The instance change of a class (Calendar), NULL for the others. */
as_item_instance_fn as_item_instance(int cls);

#endif
