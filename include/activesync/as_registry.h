/* The command registry: binds the catalogue's commands (as_catalog.h) to
 * their handlers.  The top of the core: the only place that knows every
 * command file, so no command and nothing below the commands depends on it. */
#ifndef AS_REGISTRY_H
#define AS_REGISTRY_H

#include <apr_pools.h>

#include "as_catalog.h"
#include "as_command.h"

/* The handler of a catalogued command; NULL when it is not implemented
 * (answered 501 and advertised nowhere) or cmd is NULL. */
as_command_fn *as_registry_handler(const as_command_t *cmd);

/* Comma-separated names of the implemented commands, in catalogue order,
 * for MS-ASProtocolCommands. */
const char *as_registry_list_implemented(apr_pool_t *p);

#endif
