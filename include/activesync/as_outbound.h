/* Outbound mail: hands one finished message to the host's MTA.
 *
 * Commands (SendMail) submit through an as_outbound_t so that unit tests
 * can pass a fake; the real one runs the sendmail interface every MTA
 * offers (as_outbound_sendmail).  A submission holds no lock and touches
 * no store. */
#ifndef AS_OUTBOUND_H
#define AS_OUTBOUND_H

#include <apr_pools.h>
#include <apr_tables.h>

typedef enum {
    AS_OUTBOUND_OK = 0,  /* the MTA accepted the message */
    AS_OUTBOUND_REFUSED, /* the MTA said no (non-zero exit), or could not be run */
    AS_OUTBOUND_TIMEOUT  /* no answer within the bound: the child was killed */
} as_outbound_result_t;

/* Bounds of one submission. */
#define AS_OUTBOUND_MAX_RECIPIENTS  500
#define AS_OUTBOUND_MAX_WORDS       1024 /* bytes of the MTA's output kept */
#define AS_OUTBOUND_DEFAULT_COMMAND "/usr/sbin/sendmail -i"
#define AS_OUTBOUND_DEFAULT_TIMEOUT 60 /* seconds */

typedef struct as_outbound_t as_outbound_t;

/* Submit msg (len bytes, a whole RFC 5322 message) from the envelope sender
 * to recipients (const char *, addresses that as_outbound_address_ok
 * accepted).  *words (pool memory, may be NULL): what the MTA said, for
 * the log line, at most AS_OUTBOUND_MAX_WORDS bytes. */
typedef as_outbound_result_t as_outbound_submit_fn(const as_outbound_t *ob, apr_pool_t *p,
                                                   const char *sender,
                                                   const apr_array_header_t *recipients,
                                                   const char *msg, apr_size_t len,
                                                   const char **words);

struct as_outbound_t {
    as_outbound_submit_fn *submit;
    void *ctx;
};

/* Convenience: ob->submit(ob, ...). */
as_outbound_result_t as_outbound_submit(const as_outbound_t *ob, apr_pool_t *p, const char *sender,
                                        const apr_array_header_t *recipients, const char *msg,
                                        apr_size_t len, const char **words);

/* The sendmail backend: runs `command` (e.g. "/usr/sbin/sendmail -i", split
 * on blanks, no shell) with "-f SENDER --" and the recipients appended, the
 * message on its standard input (from an unlinked temporary file), waits
 * at most timeout_seconds (<= 0: AS_OUTBOUND_DEFAULT_TIMEOUT), then kills
 * and reaps it.  NULL when command is empty or has too many words. */
const as_outbound_t *as_outbound_sendmail(apr_pool_t *p, const char *command, int timeout_seconds);

/* Is addr a plain address that may go on the MTA's command line
 * (local@domain, printable ASCII without blanks, quotes, brackets, commas,
 * semicolons or backslashes, not starting with '-', at most 254 bytes)? */
int as_outbound_address_ok(const char *addr);

#endif
