/* Private to the MIME conversion (as_mime*.c): the parsed message, where
 * its body and attachments are, and the helpers the files share.  Files:
 *   as_mime_text.c    charsets, clean header text, HTML <-> text, previews
 *   as_mime_parse.c   init, GMime parsing, decoded parts, body/attachment search
 *   as_mime_fields.c  header fields (addresses, importance, dates, class,
 *                     categories, conversation)
 *   as_mime_body.c    the airsyncbase:Body element
 *   as_mime.c         the item (as_mime_to_eas), FileReference, attachments
 *   as_mime_compose.c SmartReply/SmartForward composition (as_mime_compose.h) */
#ifndef AS_MIME_INT_H
#define AS_MIME_INT_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <gmime/gmime.h>
#include <libxml/tree.h>

#include "activesync/as_mime.h"

#define NS_EMAIL  "Email:"
#define NS_BASE   "AirSyncBase:"
#define NS_EMAIL2 "Email2:"

#define MAX_DEPTH      32
#define MAX_PARTS      1000
#define MAX_PART_PATH  64 /* bytes of "1.2.3": FileReferences with longer ones are refused */
#define MAX_PREVIEW    255
#define MAX_MIME_RAW   (64 * 1024 * 1024)
#define MAX_CATEGORIES 300 /* Email.xsd: Category maxOccurs */
#define MAX_CATEGORY   255 /* bytes */
/* Address fields (To, Cc, From, ReplyTo, DisplayTo) show at most this many
 * addresses and this many bytes; the rest of a longer list is left out. */
#define AS_MIME_MAX_ADDRESSES     1000
#define AS_MIME_MAX_ADDRESS_BYTES (64 * 1024)

/* ---- as_mime_text.c */
/* Valid UTF-8 with only the XML-legal controls (TAB, LF, CR)? */
int mime_xml_text_ok(const char *s, size_t n);
/* Clean UTF-8 header text with line breaks and tabs folded into blanks. */
const char *mime_clean_header(apr_pool_t *p, const char *s);
/* Plain text wrapped in a minimal HTML document. */
char *mime_text_to_html(apr_pool_t *p, const char *s, size_t n);
/* Whitespace collapsed into single blanks, at most max characters. */
char *mime_preview_of(apr_pool_t *p, const char *s, int max);

/* ---- as_mime_parse.c */
typedef struct msg_t {
    apr_pool_t *p;
    GMimeParserOptions *popts;
    GMimeMessage *msg;
    int fd;     /* the caller's descriptor (not owned) */
    int broken; /* the file could not be parsed as a message */
} msg_t;

/* Where the body is: the first plain, HTML and calendar parts. */
typedef struct body_t {
    GMimeObject *plain, *html, *calendar;
    int smime_signed, smime_enc, report;
    int nparts;
} body_t;

/* One attachment: its part, part path ("2.1") and EAS Method. */
typedef struct att_t {
    GMimeObject *o;
    const char *path;
    int method;
} att_t;

/* An unparsable file gives an empty message (m->broken). */
apr_status_t mime_msg_parse(apr_pool_t *p, apr_file_t *file, msg_t *m, const char **err);
void mime_msg_free(msg_t *m);
/* Decoded content of a leaf part (or the serialised message of a message
 * part) in a memory stream the caller unrefs. */
GMimeStream *mime_decoded_stream(GMimeObject *o);
apr_off_t mime_decoded_size(GMimeObject *o);
/* Text of a text part as clean UTF-8 in pool memory. */
char *mime_part_text(apr_pool_t *p, GMimeObject *o, apr_size_t *len);
void mime_find_body(GMimeObject *o, body_t *b, int depth, int first_in_mixed);
/* Appends att_t to out (at most MAX_PARTS). */
void mime_list_atts(GMimeObject *o, const char *path, const body_t *b, apr_pool_t *p,
                    apr_array_header_t *out, int depth);
GMimeObject *mime_part_by_path(GMimeMessage *msg, const char *path);
/* The display name of an attachment (no path components). */
const char *mime_att_name(apr_pool_t *p, GMimeObject *o, const char *path);

/* ---- as_mime_fields.c */
/* Addresses as '"Name" <addr>' (names: display names only) joined by sep,
 * bounded by AS_MIME_MAX_ADDRESSES/BYTES; NULL when there is none. */
const char *mime_addr_list(apr_pool_t *p, InternetAddressList *l, const char *sep, int names);
const char *mime_thread_topic(apr_pool_t *p, GMimeMessage *msg, const char *subject);
/* email:Importance 0 low, 1 normal, 2 high from the priority headers. */
int mime_importance_of(GMimeMessage *msg);
const char *mime_date_str(apr_pool_t *p, apr_time_t t);
/* The Date header, 0 when absent. */
apr_time_t mime_header_date(GMimeMessage *msg);
/* The MessageClass of a calendar part (NULL: not a meeting message). */
const char *mime_meeting_class(apr_pool_t *p, GMimeObject *cal, char *text,
                               const char **content_class);
void mime_add_categories(apr_pool_t *p, GMimeMessage *msg, GMimeParserOptions *popts,
                         xmlNodePtr app);
void mime_add_conversation(apr_pool_t *p, GMimeMessage *msg, const char *subject, apr_time_t when,
                           xmlNodePtr app);

/* ---- as_mime_body.c */
/* airsyncbase:Body for the message (see as_mime_to_eas); an error only
 * when the raw message (Type 4) cannot be read. */
apr_status_t mime_add_body_element(apr_pool_t *p, const msg_t *m, const body_t *b,
                                   const as_mime_opts_t *o, xmlNodePtr app);

#endif
