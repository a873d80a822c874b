/* SendMail's pieces (private to the commands layer): the message checks
 * and envelope (as_sendmail_msg.c) and the ClientIds already sent
 * (as_sendmail_sent.c). */
#ifndef AS_SENDMAIL_H
#define AS_SENDMAIL_H

#include <apr_pools.h>
#include <apr_tables.h>
#include <apr_time.h>

#include "activesync/as_command.h"
#include "activesync/as_db.h"

#define AS_SENDMAIL_CLIENTID_MAX 64 /* MS-ASCMD: 40; some clients send GUIDs + braces */
#define AS_SENDMAIL_SENT_KEEP    64 /* ClientIds remembered per device */
/* A reservation older than this is left by a process that died while
 * submitting (the submission's wait is bounded by 60 s). */
#define AS_SENDMAIL_RESERVE_TTL apr_time_from_sec(600)

typedef enum {
    AS_SM_OK = 0,
    AS_SM_BAD_MIME, /* not a message: no header section, unparsable */
    AS_SM_NO_RCPT,  /* no recipient in To, Cc and Bcc */
    AS_SM_BAD_RCPT, /* a recipient that is not a plain address */
    AS_SM_TOO_MANY, /* more than AS_OUTBOUND_MAX_RECIPIENTS */
    AS_SM_FROM      /* a From other than the account */
} as_sendmail_check_t;

typedef struct as_sendmail_msg_t {
    const char *submit; /* the message for the MTA: no Bcc header */
    apr_size_t submit_len;
    const char *sent; /* the copy for Sent: with Bcc */
    apr_size_t sent_len;
    apr_array_header_t *recipients; /* const char *, unique (case-insensitive) */
} as_sendmail_msg_t;

/* Who sends: the account, the name shown on a From the server adds, and
 * the other addresses the account may put in From. */
typedef struct as_sendmail_sender_t {
    const char *address;               /* the account (envelope sender) */
    const char *display_name;          /* NULL when none */
    const apr_array_header_t *aliases; /* const char *; NULL when none */
} as_sendmail_sender_t;

/* The sender of r's account (as_sendmail_sender.c): its address, display
 * name and aliases from the directory. */
void as_sendmail_sender_of(as_request_t *r, as_sendmail_sender_t *out);

/* Check the phone's message (raw, len bytes) for sender and build what is
 * submitted and saved: a missing From gets the sender's address (and
 * display name), a missing Date the current time.  *why: a reason for the
 * log. */
as_sendmail_check_t as_sendmail_prepare(apr_pool_t *p, const as_sendmail_sender_t *sender,
                                        const char *raw, apr_size_t len, as_sendmail_msg_t *out,
                                        const char **why);

/* ClientIds (as_sendmail_sent.c).  Database errors are returned (AS_DB_*). */
typedef enum {
    AS_SM_ID_NEW = 0, /* reserved now for this request: submit, then note or release */
    AS_SM_ID_SENT,    /* already sent by (account, device): do not submit again */
    AS_SM_ID_BUSY     /* another request is submitting it right now */
} as_sendmail_id_t;
/* Check and reserve client_id in one transaction. */
apr_status_t as_sendmail_sent_reserve(as_db_t *db, const char *account, const char *device,
                                      const char *client_id, as_sendmail_id_t *state);
/* The reservation becomes "sent" (the last AS_SENDMAIL_SENT_KEEP are kept). */
apr_status_t as_sendmail_sent_note(as_db_t *db, const char *account, const char *device,
                                   const char *client_id);
/* The submission failed: the reservation is dropped, a retry may send. */
apr_status_t as_sendmail_sent_release(as_db_t *db, const char *account, const char *device,
                                      const char *client_id);

/* One message to submit: SendMail, SmartReply and SmartForward share the
 * path from here (as_sendmail_submit.c). */
typedef struct as_sendmail_job_t {
    const char *cmd;       /* "SendMail", "SmartReply", "SmartForward": reply root, logs */
    const char *client_id; /* NULL in the 12.1 form (no ClientId) */
    int save_in_sent;
    const char *mime; /* the message to check and submit */
    apr_size_t mime_len;
    /* Called once the MTA accepted the message (the original's flags); may
     * be NULL. */
    void (*accepted)(as_request_t *r, void *baton);
    void *baton;
} as_sendmail_job_t;

/* The reply of a refused request: cmd{Status} (14.0+) or, before 14.0, the
 * HTTP status of that Status. */
apr_status_t as_sendmail_reply_status(as_request_t *r, as_response_t *resp, const char *cmd,
                                      const char *status);
/* Size bound, checks (as_sendmail_prepare), ClientId reservation,
 * submission, then the ClientId noted, job->accepted and the Sent copy;
 * every refusal answered with its status and a log line. */
apr_status_t as_sendmail_run(as_request_t *r, as_response_t *resp, const as_sendmail_job_t *job);

#endif
