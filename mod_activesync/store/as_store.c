/* Store interface helpers (as_store.h). */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_store.h"

int as_store_token_same(const char *a, const char *b)
{
    size_t la, lb;

    if (!a || !b) {
        return 0;
    }
    la = strlen(a);
    lb = strlen(b);
    if (la == 0 || lb == 0 || a[la - 1] == '!' || b[lb - 1] == '!') {
        return 0; /* unsettled: "maybe changed" */
    }
    return la == lb && memcmp(a, b, la) == 0;
}

const char *as_store_strerror(apr_status_t rv, char *buf, apr_size_t bufsize)
{
    switch (rv) {
    case AS_STORE_ESPECIAL:
        apr_cpystrn(buf, "not allowed on a special folder", bufsize);
        return buf;
    case AS_STORE_ENOPARENT:
        apr_cpystrn(buf, "parent folder not found", bufsize);
        return buf;
    default:
        return apr_strerror(rv, buf, bufsize);
    }
}
