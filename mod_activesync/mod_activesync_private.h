/* Shared by the glue files other than mod_activesync.c. */
#ifndef MOD_ACTIVESYNC_PRIVATE_H
#define MOD_ACTIVESYNC_PRIVATE_H
#include <httpd.h>
#include <http_log.h>
APLOG_USE_MODULE(activesync);
#endif
