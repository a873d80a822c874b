/* Handlers of the implemented commands (one as_cmd_<name>.c each). */
#ifndef AS_CMDS_H
#define AS_CMDS_H

#include "as_command.h"

as_command_fn as_cmd_validatecert;

#endif
