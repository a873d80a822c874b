/* PLACEHOLDER: replaced by the ValidateCert command. */
#include "as_cmds.h"
apr_status_t as_cmd_validatecert(as_request_t *req, as_response_t *resp) { (void)req; (void)resp; return APR_ENOTIMPL; }
