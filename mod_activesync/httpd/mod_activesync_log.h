/* Log tags and the as_logger_t bridge of the httpd glue. */
#ifndef MOD_ACTIVESYNC_LOG_H
#define MOD_ACTIVESYNC_LOG_H

#include <httpd.h>

#include "activesync/as_log.h"

/* Log tags of the glue: "ASY" plus five digits, one per call site, never
 * reused.  The glue uses 10000-10999 (mod_activesync.c, _config.c, _log.c),
 * 11000-11999 (mod_activesync_handler.c) and 12000-12999
 * (mod_activesync_db.c). */
#define ASLOGNO(n) "ASY" #n ": "

/* A logger writing through ap_log_rerror() for request r, so lines carry the
 * client and honour per-directory and per-module LogLevel. */
void mod_activesync_logger_request(as_logger_t *lg, request_rec *r);
/* A logger writing through ap_log_error() for server s. */
void mod_activesync_logger_server(as_logger_t *lg, server_rec *s);

#endif
