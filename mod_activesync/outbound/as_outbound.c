/* The outbound interface's shared helpers: dispatch and address checks. */
#include <string.h>

#include "activesync/as_outbound.h"

as_outbound_result_t as_outbound_submit(const as_outbound_t *ob, apr_pool_t *p, const char *sender,
                                        const apr_array_header_t *recipients, const char *msg,
                                        apr_size_t len, const char **words)
{
    if (words) {
        *words = NULL;
    }
    if (!ob || !ob->submit) {
        if (words) {
            *words = "no outbound mail configured";
        }
        return AS_OUTBOUND_REFUSED;
    }
    return ob->submit(ob, p, sender, recipients, msg, len, words);
}

int as_outbound_address_ok(const char *addr)
{
    const char *at;
    size_t n, i;

    if (!addr || addr[0] == '-' || addr[0] == '@') {
        return 0;
    }
    n = strlen(addr);
    at = strrchr(addr, '@');
    if (n > 254 || !at || at[1] == '\0' || strchr(addr, '@') != at) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)addr[i];
        if (c <= ' ' || c >= 0x7f || strchr("\"'()<>[],;:\\`|&$", c)) {
            return 0;
        }
    }
    return 1;
}
