/* Account names: what Apache authenticated (r->user) and what the client
 * puts in the User parameter, mapped to one canonical "user@domain" form.
 * Compare the canonical forms of both, never the raw strings.
 *
 *  - "user@domain"   as is (exactly one '@').
 *  - "DOMAIN\user"   "user@domain": the part before the backslash is taken
 *                    as the domain name, as given (lower-cased).  It is NOT
 *                    replaced by the default domain, even when it has no dot
 *                    (a NetBIOS name such as "EXAMPLE"): two principals
 *                    "ACME\bob" and "GLOBEX\bob" that an authn provider tells
 *                    apart must not collapse into one account.  So
 *                    "EXAMPLE\jdoe" is "jdoe@example", not "jdoe@example.com";
 *                    a deployment that needs NetBIOS-to-DNS mapping must
 *                    authenticate users under their mail address (or a
 *                    future mapping directive does it).
 *  - "\user"         (empty domain, sent by some Android clients) and a bare
 *    "user"          "user@default_domain"; an error when there is no
 *                    default domain.
 *  - "DOMAIN\user@d" (both separators) is refused as ambiguous.
 *
 * The result is lower-cased (ASCII; non-ASCII names are refused:
 * internationalised domains must be given in A-label "xn--" form) and
 * validated so that it is safe as a database key and a path component:
 *  - local part: 1..64 characters of RFC 5321 atext without '/', '%', '|'
 *    (letters, digits and !#$&'*+-=?^_`{}~), dot-separated: no leading or
 *    trailing dot, no "..";
 *  - domain: 1..253 characters, dot-separated labels of 1..63 letters,
 *    digits and '-' (no leading or trailing '-'), no empty label (so no
 *    leading/trailing dot and no ".."); no address literals;
 *  - whole account at most AS_ACCOUNT_MAX characters; input longer than
 *    AS_ACCOUNT_MAX is refused before any mapping.
 */
#ifndef AS_ACCOUNT_H
#define AS_ACCOUNT_H

#include <apr_pools.h>
#include <apr_errno.h>

#define AS_ACCOUNT_MAX        320
#define AS_ACCOUNT_MAX_LOCAL  64
#define AS_ACCOUNT_MAX_DOMAIN 253

/* On error returns APR_EINVAL, *account NULL and a reason in *err (static
 * text: it never quotes the name).  default_domain may be NULL or ""; when
 * used it is validated like any domain (a bad one is an error). */
apr_status_t as_account_canonical(apr_pool_t *p, const char *name, const char *default_domain,
                                  const char **account, const char **err);

/* Local part and domain of a canonical account (split at the last '@';
 * both pool copies).  Without '@' the local part is the whole string and
 * *domain is NULL; a NULL account gives NULL for both. */
void as_account_split(apr_pool_t *p, const char *account, const char **local, const char **domain);

#endif
