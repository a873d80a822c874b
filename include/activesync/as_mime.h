/* RFC 5322 / MIME messages to EAS Email items (MS-ASEMAIL, MS-ASAIRS), with
 * GMime 3.
 *
 * INITIALISATION: as_mime_init() sets GMime and libical up once per process
 * (pthread_once: concurrent first callers wait for it to finish; the httpd
 * glue calls it in child_init, tools and tests at start, and the
 * conversions call it too).  Every function is thread-safe: GMime objects
 * are created per call and never shared.
 *
 * TEXT: every string put into the tree is valid UTF-8 without NUL and
 * without the C0 controls XML forbids (TAB, LF, CR are kept).  Encoded
 * words and body charsets are converted with iconv; labels ISO-8859-1 and
 * US-ASCII are read as Windows-1252 (their common superset in real mail,
 * as the WHATWG encoding standard does); unknown charsets and invalid bytes
 * fall back to UTF-8 when the bytes are valid UTF-8, else Windows-1252,
 * and bytes nothing can convert become U+FFFD.
 *
 * FILE: functions taking an apr_file_t read it from offset 0 and leave its
 * file offset undefined.
 */
#ifndef AS_MIME_H
#define AS_MIME_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_file_io.h>
#include <libxml/tree.h>

#include "as_log.h"
#include "as_store.h"

/* GMime's global set-up (g_mime_init); idempotent and thread-safe. */
void as_mime_init(void);
/* Undoes an as_mime_init(), once; no conversion may follow it. */
void as_mime_shutdown(void);

/* One airsyncbase:BodyPreference of the request. */
typedef struct as_mime_bodypref_t {
    int type;              /* 1 plain, 2 HTML, 3 RTF (served as 1), 4 MIME */
    apr_size_t truncation; /* TruncationSize in bytes; 0 = none given (no limit) */
    int all_or_none;       /* AllOrNone */
    int preview;           /* Preview, characters (0 = none; 14.0+) */
} as_mime_bodypref_t;

typedef struct as_mime_opts_t {
    const char *folder_id; /* for FileReference "folder:item:part" */
    const char *item_id;
    unsigned flags;                  /* AS_STORE_SEEN -> Read, AS_STORE_FLAGGED -> Flag */
    apr_time_t received;             /* DateReceived (the Maildir mtime); 0: the Date header */
    int protocol;                    /* 121, 140, 141, 160, 161: Preview needs >= 140 */
    const as_mime_bodypref_t *prefs; /* in request order; NULL/0: Type 1, no limit */
    int nprefs;
    int mime_support;       /* MIMESupport: 0 never, 1 S/MIME only, 2 always (Type 4) */
    const as_logger_t *log; /* for the one line about a broken invitation; NULL: none */
} as_mime_opts_t;

/* Parse the message and append the Email ApplicationData children to
 * appdata (an AirSync:ApplicationData element, or ItemOperations
 * Properties), in this order:
 *   email:To, Cc, From, Subject, ReplyTo, DateReceived, DisplayTo,
 *   ThreadTopic, Importance, Read, airsyncbase:Attachments, airsyncbase:Body,
 *   email:MessageClass, MeetingRequest, InternetCPID, Flag, ContentClass,
 *   airsyncbase:NativeBodyType, and for protocol 14.0 and later
 *   email2:ConversationId, ConversationIndex, LastVerbExecuted (from
 *   o->flags, as_mime_add_last_verb), email:Categories
 * MeetingRequest (see as_meeting.h) comes with a text/calendar part whose
 * METHOD is REQUEST or CANCEL; a calendar libical cannot use makes the item
 * a plain IPM.Note, with one warning logged.  Categories are the Keywords
 * headers (comma-separated, encoded words decoded; left out when none).
 * ConversationId (16 bytes, OPAQUE) is the MD5 of the thread's root
 * Message-ID: the first References entry, else In-Reply-To, else the
 * message's own Message-ID, so every message of a thread shares it (the
 * GUID of a Thread-Index header only when there is no Message-ID at all).
 * ConversationIndex (OPAQUE, MS-ASCON 2.2.2.4) is the 5 time bytes and the
 * response levels of the Thread-Index header when there is a valid one,
 * else 5 bytes of the Date header's FILETIME (its 40 high bits).
 * Address fields show at most 1,000 addresses and 64 KiB each (the first
 * ones, whole; AS_MIME_MAX_ADDRESSES/BYTES in convert/as_mime_int.h).
 * Absent headers are left out (To, Cc, ReplyTo ...); Subject is always
 * present (maybe empty).  The Body element is left out when the body is
 * empty (WP8 crashed on empty bodies).  The Body type is chosen from the
 * preferences: 4 when asked for and allowed by mime_support, else 2 when
 * asked for (and the message has HTML or no Type 1 was asked for: plain
 * text is then wrapped in HTML), else 1 (HTML converted to text when there
 * is no text part).  Truncation is in bytes and never splits a UTF-8
 * character; EstimatedDataSize is the full size of the body in that type;
 * Truncated is 0 or 1; with AllOrNone a body that would be cut has no Data.
 * Type 4 is the message as stored, with CRLF line ends; its Data is a
 * string when it is valid UTF-8 text, else OPAQUE (8-bit mail).
 * Returns APR_SUCCESS, or an error with a static reason in *err (file
 * unreadable, not a message at all). */
apr_status_t as_mime_to_eas(apr_pool_t *p, apr_file_t *msg, const as_mime_opts_t *o,
                            xmlNodePtr appdata, const char **err);

/* email:Read and email:Flag for flags (a Change of read/flag state). */
void as_mime_add_flags(xmlNodePtr appdata, unsigned flags);
/* email2:LastVerbExecuted (14.0+): 3 forwarded (AS_STORE_FORWARDED), else 1
 * replied (AS_STORE_ANSWERED; a reply to all is not told apart); nothing
 * when neither.  No LastVerbExecutionTime: the store keeps no time. */
void as_mime_add_last_verb(xmlNodePtr appdata, unsigned flags);

/* FileReference "folderid:itemid:partpath", e.g. "k3h2a9f0:0k2...:2.1".
 * parse: APR_EINVAL unless it has exactly that form (ids [0-9a-v], part
 * numbers "N(.N)*"); results in pool memory. */
const char *as_mime_fileref(apr_pool_t *p, const char *folder_id, const char *item_id,
                            const char *part);
apr_status_t as_mime_fileref_parse(apr_pool_t *p, const char *ref, const char **folder_id,
                                   const char **item_id, const char **part);

/* One attachment's decoded bytes (a message/rfc822 attachment: the
 * embedded message).  offset/length select a range (ItemOperations Range):
 * length < 0 means up to the end; a range past the end gives 0 bytes.
 * total is the full decoded size.  APR_ENOENT: no such part. */
typedef struct as_mime_attachment_t {
    const char *content_type; /* "application/pdf" */
    const char *name;         /* display name */
    apr_off_t total;          /* decoded size */
    const unsigned char *data;
    apr_size_t len;
} as_mime_attachment_t;

apr_status_t as_mime_attachment(apr_pool_t *p, apr_file_t *msg, const char *part, apr_off_t offset,
                                apr_off_t length, as_mime_attachment_t *out);

/* The same decoded bytes streamed to sink in chunks of at most 64 KiB, in
 * bounded memory (the message file is read as it is decoded; only an
 * embedded message/rfc822 is serialised in memory first).  sink NULL: only
 * measure.  out gets content_type, name and total (data and len stay
 * unset).  A sink error stops the decoding and is returned (total then
 * counts the bytes before the failing chunk); APR_ENOENT: no such part,
 * APR_EINVAL: a malformed part path.  GetAttachment measures first (its
 * Content-Length), then streams. */
typedef apr_status_t as_mime_sink_fn(void *ctx, const unsigned char *data, apr_size_t len);
apr_status_t as_mime_attachment_stream(apr_pool_t *p, apr_file_t *msg, const char *part,
                                       as_mime_sink_fn *sink, void *ctx, as_mime_attachment_t *out);

/* Helpers, exposed for the tests. */
/* The longest prefix of s[0..len) of at most max bytes ending on a UTF-8
 * character boundary (s valid UTF-8). */
apr_size_t as_mime_utf8_cut(const char *s, apr_size_t len, apr_size_t max);
/* HTML to plain text (libxml2's HTML parser): no tags, scripts, styles;
 * entities decoded; line breaks for br, p, div, li, tr, headings. */
char *as_mime_html_to_text(apr_pool_t *p, const char *html, apr_size_t len);
/* Bytes in charset to clean UTF-8 (see TEXT above). */
char *as_mime_to_utf8(apr_pool_t *p, const char *data, apr_size_t len, const char *charset,
                      apr_size_t *outlen);

#endif
