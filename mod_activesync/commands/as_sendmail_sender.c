/* Who the account sends as: the address it logged in with.  Display names
 * and aliases come from the account's directory record (not kept yet:
 * none, so From must be the account itself). */
#include <string.h>

#include "as_sendmail.h"

void as_sendmail_sender_of(as_request_t *r, as_sendmail_sender_t *out)
{
    memset(out, 0, sizeof(*out));
    out->address = r->account;
}
