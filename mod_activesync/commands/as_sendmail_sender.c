/* Who the account sends as: the address it logged in with, and the display
 * name and aliases of its directory record (activesync-admin account set
 * ADDRESS name=... aliases=...).  One read of that record, answered from
 * the per-process memo while the database is unchanged; nothing written.
 * Without a database (or when it cannot be read) the account may send as
 * itself only, which is the safe side. */
#include <string.h>

#include "as_sendmail.h"
#include "activesync/as_directory.h"
#include "activesync/as_log.h"

void as_sendmail_sender_of(as_request_t *r, as_sendmail_sender_t *out)
{
    apr_status_t rv;

    memset(out, 0, sizeof(*out));
    out->address = r->account;
    if (!r->db || !r->account) {
        return;
    }
    rv = as_dir_account_identity(r->db, r->pool, r->account, &out->display_name, &out->aliases);
    if (rv != APR_SUCCESS) {
        as_log(r->log, AS_LOG_MARK, AS_LOG_WARNING, rv,
               "SendMail from %s: the account's aliases cannot be read; only its own address "
               "is accepted as From",
               r->account);
        out->display_name = NULL;
        out->aliases = NULL;
    }
}
