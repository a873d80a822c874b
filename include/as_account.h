/* Account names: what Apache authenticated (r->user) and what the client
 * puts in the User parameter, mapped to one canonical "user@domain" form:
 * "user@domain" as is, "DOMAIN\user" to "user@domain", a bare "user"
 * completed with the configured default domain.  Lower-cased; characters
 * that cannot occur in a mailbox address are refused.
 */
#ifndef AS_ACCOUNT_H
#define AS_ACCOUNT_H

#include <apr_pools.h>
#include <apr_errno.h>

#define AS_ACCOUNT_MAX 320

/* On error returns APR_EINVAL and a reason in *err. default_domain may be NULL. */
apr_status_t as_account_canonical(apr_pool_t *p, const char *name, const char *default_domain,
                                  const char **account, const char **err);

/* Local part and domain of a canonical account. */
void as_account_split(apr_pool_t *p, const char *account, const char **local, const char **domain);

#endif
