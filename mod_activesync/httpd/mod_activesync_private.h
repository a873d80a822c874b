/* Shared by the glue files other than mod_activesync.c (which defines the
 * module record with AP_DECLARE_MODULE, and so must not repeat
 * APLOG_USE_MODULE). */
#ifndef MOD_ACTIVESYNC_PRIVATE_H
#define MOD_ACTIVESYNC_PRIVATE_H

#include <httpd.h>
#include <http_log.h>

#include "mod_activesync_log.h"
#include "mod_activesync_handler.h"

APLOG_USE_MODULE(activesync);

#endif
