/* SmartReply and SmartForward without ReplaceMime (MS-ASCMD 2.2.1.19,
 * 2.2.1.20): the server puts the original message below the phone's text,
 * as Exchange does.  Pure GMime work on memory, no store, no httpd.
 *
 * The result keeps every header of the phone's message (From, To, Bcc,
 * Subject ... are checked afterwards as for SendMail) and gets a new body:
 *   reply    the phone's text, then "On DATE, NAME wrote:" and the
 *            original's text with every line quoted ("> ", ">" before a
 *            line already quoted); In-Reply-To and References are set from
 *            the original's Message-ID and References unless the phone set
 *            them.  The original's attachments are not carried (Exchange
 *            does not either).
 *   forward  the phone's text, then a "Forwarded message" block (From,
 *            Date, Subject, To, Cc of the original) and the original's
 *            text unquoted; every attachment of the original that is not
 *            marked inline (Content-Disposition: inline) is carried over.
 * Body type: the result has the phone's body type.  A phone's HTML gets the
 * original's HTML (its <body> content; the plain text converted when there
 * is no HTML) in a <blockquote type="cite"> (reply) or a <div> (forward);
 * the phone's plain text gets the original's plain text (its HTML
 * converted to text when it has none); a phone sending both gets both
 * (multipart/alternative).  The phone's own attachments are kept.  Text
 * parts are UTF-8, quoted-printable or base64 as GMime finds best; line
 * ends follow the phone's message (CRLF or LF).
 * An original GMime cannot parse counts as an empty message.
 * The cost is linear in the two inputs; a result over max bytes (0: no
 * bound) is refused with AS_COMPOSE_TOO_LARGE. */
#ifndef AS_MIME_COMPOSE_H
#define AS_MIME_COMPOSE_H

#include <apr_pools.h>

typedef enum { AS_COMPOSE_REPLY = 1, AS_COMPOSE_FORWARD = 3 } as_compose_kind_t;

typedef enum {
    AS_COMPOSE_OK = 0,
    AS_COMPOSE_BAD_NEW,  /* the phone's message has no header section or cannot be parsed */
    AS_COMPOSE_TOO_LARGE /* the result is larger than max */
} as_compose_status_t;

/* Compose mine (the phone's message) with orig (the stored original); *out
 * (pool memory, NUL-terminated, may contain NUL bytes of binary parts)
 * and *out_len receive the message; *why a static reason on failure. */
as_compose_status_t as_mime_compose(apr_pool_t *p, as_compose_kind_t kind, const char *mine,
                                    apr_size_t mine_len, const char *orig, apr_size_t orig_len,
                                    apr_size_t max, const char **out, apr_size_t *out_len,
                                    const char **why);

#endif
