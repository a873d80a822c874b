/* The data directory, the Berkeley DB environment, the mailbox cap and the
 * per-request gate (httpd glue; see mod_activesync_db.c). */
#ifndef MOD_ACTIVESYNC_DB_H
#define MOD_ACTIVESYNC_DB_H

#include <httpd.h>

#include "activesync/as_cap.h"
#include "activesync/as_db.h"
#include "activesync/as_provision.h"

/* pre_config: register the "activesync-cap" mutex type (Mutex directive). */
int mod_activesync_db_pre_config(apr_pool_t *pconf);

/* post_config, second pass only: data directory, recovery at a real start,
 * the cap (logged), cap.conf, the global mutex.  Returns OK or an error that
 * stops httpd. */
int mod_activesync_db_post_config(apr_pool_t *pconf, apr_pool_t *ptemp, server_rec *s);

/* monitor (parent, every ~10 s; mod_activesync_wedge.c): notice a wedged
 * environment (a child killed inside a Berkeley DB mutex) and, with
 * ActiveSyncWedgeRemedy On, stop the children attached to it and recover it
 * in a helper process.  Never blocks. */
int mod_activesync_db_monitor(apr_pool_t *p, server_rec *s);

/* Test hook of the maintenance thread (AS_TEST_WEDGE_FILE): 1 when this
 * child now holds the open lock for good, as a wedged child would. */
int mod_activesync_wedge_simulate(void);

/* child_init: attach the mutex, open the environment, start the per-child
 * maintenance thread; everything is released in a pchild pre-cleanup. */
void mod_activesync_db_child_init(apr_pool_t *pchild, server_rec *s);

/* The cap gate for the canonical `account` (DESIGN §2: after request-line,
 * account, version and command checks, before the body is read).  Returns
 * OK with *dec filled (an allowed decision), or the HTTP status to answer
 * after logging exactly one line: 403 for an account not allowed to use
 * ActiveSync (dec->reason), 503 with Retry-After when the database or the
 * mutex is unavailable.  `who` gives the request context for log lines. */
int mod_activesync_gate(request_rec *r, const char *account, const char *who,
                        as_cap_decision_t *dec);

/* The provisioning gate (as_provision.h) after the cap gate, before the
 * body is read.  Returns OK with *g filled (AS_GATE_SERVE or
 * AS_GATE_PROVISION: the caller answers g->http_status with g->doc, which
 * it must free), or the HTTP status to answer after logging exactly one
 * line: 403 for a blocked or wiped device, 503 with Retry-After when the
 * database is unavailable or busy. */
int mod_activesync_provision_gate(request_rec *r, const as_gate_in_t *in, const char *who,
                                  as_gate_t *g);

/* Async-signal-safe: the child is exiting from a signal handler (prefork's
 * SIGTERM/SIGHUP), so its pchild cleanup must leave the handle and the
 * maintenance thread alone, as a crash would, rather than join and close. */
void mod_activesync_db_abandon(void);

/* For request code that uses the environment beyond the gate (stores, sync
 * state): the process's handle, or NULL when it is not available (answer
 * 503).  Every non-NULL enter must be paired with a leave on the same
 * thread: a child exiting on a signal in the middle (prefork) then leaves
 * the handle alone instead of closing it under the interrupted call. */
as_db_t *mod_activesync_db_enter(void);
void mod_activesync_db_leave(void);

#endif
