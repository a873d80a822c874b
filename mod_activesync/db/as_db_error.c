/* Texts and status mapping of the environment's error codes, and the
 * libdb version check (as_db.h). */
#include <db.h>

#include <apr_strings.h>

#include "activesync/as_db.h"

const char *as_db_strerror(apr_status_t rv)
{
    switch (rv) {
    case AS_DB_EUNAVAIL:
        return "the database environment is being recovered; try again shortly";
    case AS_DB_EBUSY:
        return "the database stayed busy (lock contention); try again";
    case AS_DB_EFORK:
        return "database handle used in a process other than the one that opened it";
    case AS_DB_EVERSION:
        return "the Berkeley DB library does not match the version compiled against";
    case AS_DB_ECORRUPT:
        return "a database record could not be decoded";
    case AS_DB_EFAIL:
        return "database error (see the log)";
    case AS_DB_ESTUCK:
        return "the database environment panicked and could not be reopened";
    case AS_DIR_ENODOMAIN:
        return "unknown domain";
    case AS_DIR_ENOCLASS:
        return "unknown class";
    case AS_DIR_ENOACCOUNT:
        return "no such account";
    case AS_DIR_EEXIST:
        return "already exists";
    case AS_DIR_ENOTEMPTY:
        return "still in use";
    case AS_DIR_EINVAL:
        return "invalid name, option or value";
    case AS_CAP_EFULL:
        return "the mailbox cap is reached";
    case AS_CAP_ECLOSED:
        return "no valid licence: new mailboxes cannot be admitted";
    case APR_NOTFOUND:
        return "not found";
    default:
        return "error";
    }
}

apr_status_t as_db_status(int rc)
{
    switch (rc) {
    case 0:
        return APR_SUCCESS;
    case DB_NOTFOUND:
        return APR_NOTFOUND;
    case DB_LOCK_DEADLOCK:
    case DB_LOCK_NOTGRANTED:
        return AS_DB_EBUSY;
    case DB_RUNRECOVERY:
        return AS_DB_EUNAVAIL;
    default:
        if (rc > 0) {
            return (apr_status_t)rc; /* errno or already an apr_status_t */
        }
        return AS_DB_EFAIL;
    }
}

apr_status_t as_db_check_version(const char **msg)
{
    int major, minor, patch;
    static char buf[160]; /* the message outlives the call; same text for every caller */

    (void)db_version(&major, &minor, &patch);
    if (major != DB_VERSION_MAJOR || minor != DB_VERSION_MINOR) {
        apr_snprintf(buf, sizeof(buf),
                     "Berkeley DB runtime %d.%d.%d differs from the compiled header %d.%d.%d",
                     major, minor, patch, DB_VERSION_MAJOR, DB_VERSION_MINOR, DB_VERSION_PATCH);
        if (msg) {
            *msg = buf;
        }
        return AS_DB_EVERSION;
    }
    if (msg) {
        *msg = NULL;
    }
    return APR_SUCCESS;
}
