/* The request handler of mod_activesync (SetHandler activesync). */
#ifndef MOD_ACTIVESYNC_HANDLER_H
#define MOD_ACTIVESYNC_HANDLER_H

#include <httpd.h>

#define MOD_ACTIVESYNC_HANDLER_NAME "activesync"

int mod_activesync_handler(request_rec *r);

/* Requests of this process inside the handler now (child exit decides with
 * it whether the push machinery can be shut down). */
int mod_activesync_requests_active(void);

#endif
