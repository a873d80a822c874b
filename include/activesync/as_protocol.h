/* What this server speaks: protocol versions and the command table.  The
 * OPTIONS reply is built from here, so only what is implemented is
 * advertised. */
#ifndef AS_PROTOCOL_H
#define AS_PROTOCOL_H

#include <apr_pools.h>

/* Server build reported in MS-Server-ActiveSync. */
#define AS_SERVER_VERSION "14.1"

/* "12.1,14.0,14.1": the versions fully handled, for MS-ASProtocolVersions. */
const char *as_protocol_versions(apr_pool_t *p);
int as_protocol_version_supported(const char *version);
/* Base64 request line byte (140) to "14.0"; NULL when not a known version. */
const char *as_protocol_version_from_byte(unsigned v);

/* "14.1" -> 141, comparable as a number; 0 when malformed. */
int as_protocol_number(const char *version);

#endif
