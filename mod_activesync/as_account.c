/* PLACEHOLDER: replaced by account-name mapping. */
#include "as_account.h"
apr_status_t as_account_canonical(apr_pool_t *p, const char *name, const char *dd, const char **account, const char **err) { (void)p; (void)name; (void)dd; *account = NULL; *err = "not implemented"; return APR_EINVAL; }
void as_account_split(apr_pool_t *p, const char *account, const char **local, const char **domain) { (void)p; (void)account; *local = NULL; *domain = NULL; }
