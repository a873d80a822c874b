/* Protocol versions this server fully handles.  Versions are added here
 * only when every command advertised works in them (a client picks the
 * highest version offered, so advertising too much breaks clients). */
#include <stdio.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_protocol.h"

static const struct {
    unsigned byte; /* base64 request line: version x 10 */
    const char *name;
    int supported;
} versions[] = {
    {25, "2.5", 0},   {120, "12.0", 0}, {121, "12.1", 1}, {140, "14.0", 1},
    {141, "14.1", 1}, {160, "16.0", 0}, {161, "16.1", 0},
};

const char *as_protocol_versions(apr_pool_t *p)
{
    const char *list = NULL;
    size_t i;
    for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        if (versions[i].supported) {
            list = list ? apr_pstrcat(p, list, ",", versions[i].name, NULL) : versions[i].name;
        }
    }
    return list ? list : "";
}

int as_protocol_version_supported(const char *version)
{
    size_t i;
    if (!version) {
        return 0;
    }
    for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        if (versions[i].supported && !strcmp(versions[i].name, version)) {
            return 1;
        }
    }
    return 0;
}

const char *as_protocol_version_from_byte(unsigned v)
{
    size_t i;
    for (i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
        if (versions[i].byte == v) {
            return versions[i].name;
        }
    }
    return NULL;
}

int as_protocol_number(const char *v)
{
    int major = 0, minor = 0;
    if (!v || sscanf(v, "%d.%d", &major, &minor) != 2 || major < 0 || minor < 0 || minor > 9) {
        return 0;
    }
    return major * 10 + minor;
}
