/* The request handler of mod_activesync (SetHandler activesync). */
#ifndef MOD_ACTIVESYNC_HANDLER_H
#define MOD_ACTIVESYNC_HANDLER_H

#include <httpd.h>

#define MOD_ACTIVESYNC_HANDLER_NAME "activesync"

int mod_activesync_handler(request_rec *r);

#endif
