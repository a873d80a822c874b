/* PLACEHOLDER: replaced by the request-line parser. */
#include "as_request_line.h"
apr_status_t as_request_line_parse(apr_pool_t *p, const char *query, as_request_line_t *rl, const char **err) { (void)p; (void)query; (void)rl; *err = "not implemented"; return APR_EINVAL; }
long as_base64_decode_strict(const char *in, apr_size_t len, unsigned char *out) { (void)in; (void)len; (void)out; return -1; }
