/* PLACEHOLDER: replaced by the codec. */
#include "as_wbxml.h"
void as_wbxml_limits_default(as_wbxml_limits_t *lim) { lim->max_size = 32u << 20; lim->max_depth = 64; lim->max_elements = 500000; }
const char *as_wbxml_strerror(as_wbxml_err_t err) { (void)err; return "not implemented"; }
as_wbxml_err_t as_wbxml_decode(const unsigned char *buf, apr_size_t len, const as_wbxml_limits_t *lim, xmlDocPtr *doc, apr_size_t *off) { (void)buf; (void)len; (void)lim; (void)off; *doc = NULL; return AS_WBXML_E_TREE; }
as_wbxml_err_t as_wbxml_encode(xmlDocPtr doc, const as_wbxml_limits_t *lim, unsigned char **out, apr_size_t *outlen) { (void)doc; (void)lim; *out = NULL; *outlen = 0; return AS_WBXML_E_TREE; }
as_wbxml_err_t as_wbxml_encode_pool(xmlDocPtr doc, const as_wbxml_limits_t *lim, apr_pool_t *p, const unsigned char **out, apr_size_t *outlen) { (void)doc; (void)lim; (void)p; *out = NULL; *outlen = 0; return AS_WBXML_E_TREE; }
int as_wbxml_looks_like(const unsigned char *buf, apr_size_t len) { return len >= 4 && buf[0] == 3; }
