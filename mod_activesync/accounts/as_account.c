/* Account names to the canonical "user@domain" form; the rules are in
 * include/as_account.h. */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_account.h"

static int is_alnum(unsigned c)
{
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

/* RFC 5321 atext (after lower-casing) minus '/', '%' and '|'. */
static int is_local_char(unsigned c)
{
    return is_alnum(c) || (c && strchr("!#$&'*+-=?^_`{}~", (int)c) != NULL);
}

static char *lower_dup(apr_pool_t *p, const char *s, apr_size_t n)
{
    char *d = apr_pstrmemdup(p, s, n);
    char *c;
    for (c = d; *c; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
        }
    }
    return d;
}

/* Dot-separated atoms: no empty atom. */
static int local_ok(const char *s)
{
    apr_size_t n = strlen(s), i;
    if (n == 0 || n > AS_ACCOUNT_MAX_LOCAL || s[0] == '.' || s[n - 1] == '.') {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (s[i] == '.') {
            if (s[i + 1] == '.') {
                return 0;
            }
        } else if (!is_local_char((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

static int domain_ok(const char *s)
{
    apr_size_t n = strlen(s), i, label = 0;
    if (n == 0 || n > AS_ACCOUNT_MAX_DOMAIN) {
        return 0;
    }
    for (i = 0; i <= n; i++) {
        unsigned c = (unsigned char)s[i];
        if (c == '.' || c == '\0') {
            if (label == 0 || label > 63 || s[i - 1] == '-') {
                return 0;
            }
            label = 0;
            continue;
        }
        if (!is_alnum(c) && c != '-') {
            return 0;
        }
        if (c == '-' && label == 0) {
            return 0;
        }
        label++;
    }
    return 1;
}

apr_status_t as_account_canonical(apr_pool_t *p, const char *name, const char *default_domain,
                                  const char **account, const char **err)
{
    apr_size_t n, i;
    const char *at, *bs;
    char *local, *domain;

    *account = NULL;
    *err = NULL;
    if (!name || !*name) {
        *err = "empty account name";
        return APR_EINVAL;
    }
    for (n = 0; name[n]; n++) {
        unsigned c = (unsigned char)name[n];
        if (n >= AS_ACCOUNT_MAX) {
            *err = "account name too long";
            return APR_EINVAL;
        }
        if (c < 0x20 || c >= 0x7f) {
            *err = "control or non-ASCII character in account name";
            return APR_EINVAL;
        }
    }
    at = strchr(name, '@');
    bs = strchr(name, '\\');
    if (at && strchr(at + 1, '@')) {
        *err = "more than one '@' in account name";
        return APR_EINVAL;
    }
    if (bs && strchr(bs + 1, '\\')) {
        *err = "more than one '\\' in account name";
        return APR_EINVAL;
    }
    if (at && bs) {
        *err = "account name has both '\\' and '@'";
        return APR_EINVAL;
    }

    if (at) {
        local = lower_dup(p, name, (apr_size_t)(at - name));
        domain = lower_dup(p, at + 1, strlen(at + 1));
    } else {
        const char *user = name;
        domain = NULL;
        if (bs) {
            if (bs > name) {
                domain = lower_dup(p, name, (apr_size_t)(bs - name));
            }
            user = bs + 1;
        }
        local = lower_dup(p, user, strlen(user));
        if (!domain) {
            if (!default_domain || !*default_domain) {
                *err = "account name without domain and no default domain";
                return APR_EINVAL;
            }
            /* the default domain is configuration, but check it anyway */
            for (i = 0; default_domain[i]; i++) {
                if (i >= AS_ACCOUNT_MAX_DOMAIN) {
                    *err = "invalid default domain";
                    return APR_EINVAL;
                }
            }
            domain = lower_dup(p, default_domain, i);
            if (!domain_ok(domain)) {
                *err = "invalid default domain";
                return APR_EINVAL;
            }
        }
    }
    if (!local_ok(local)) {
        *err = "invalid local part in account name";
        return APR_EINVAL;
    }
    if (!domain_ok(domain)) {
        *err = "invalid domain in account name";
        return APR_EINVAL;
    }
    if (strlen(local) + 1 + strlen(domain) > AS_ACCOUNT_MAX) {
        *err = "account name too long";
        return APR_EINVAL;
    }
    *account = apr_pstrcat(p, local, "@", domain, NULL);
    return APR_SUCCESS;
}

void as_account_split(apr_pool_t *p, const char *account, const char **local, const char **domain)
{
    const char *at;

    if (!account) {
        *local = NULL;
        *domain = NULL;
        return;
    }
    at = strrchr(account, '@');
    if (!at) {
        *local = apr_pstrdup(p, account);
        *domain = NULL;
        return;
    }
    *local = apr_pstrmemdup(p, account, (apr_size_t)(at - account));
    *domain = apr_pstrdup(p, at + 1);
}
