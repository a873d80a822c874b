/* Collections in Radicale's layout for the collection store tests
 * (test_collections*.c, test_store_router.c): folders with a
 * .Radicale.props, vCards and iCalendar objects written the way Radicale
 * writes them (temporary file, then rename).  Header-only. */
#ifndef AS_COLLGEN_H
#define AS_COLLGEN_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "mailgen.h"

#define CG_FN static __attribute__((unused))

/* Write path (whole) as another program would: a temporary file, then rename. */
CG_FN void cg_write(const char *path, const char *data)
{
    char tmp[4096];
    FILE *f;

    snprintf(tmp, sizeof tmp, "%s.cgtmp", path);
    f = fopen(tmp, "w");
    if (!f || fputs(data, f) < 0 || fclose(f) != 0 || rename(tmp, path) != 0) {
        abort();
    }
}

/* A collection folder root/name with props (JSON text). */
CG_FN void cg_collection(const char *root, const char *name, const char *props)
{
    char p[4096];

    snprintf(p, sizeof p, "%s/%s", root, name);
    if (mkdir(p, 0755) != 0 && errno != EEXIST) {
        abort();
    }
    snprintf(p, sizeof p, "%s/%s/.Radicale.props", root, name);
    cg_write(p, props);
}

/* A vCard 3.0 of uid and full name fn into buf. */
CG_FN const char *cg_vcard(char *buf, size_t size, const char *uid, const char *fn)
{
    snprintf(buf, size,
             "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:%s\r\nFN:%s\r\nN:%s;;;;\r\nEND:VCARD\r\n", uid, fn,
             fn);
    return buf;
}

/* An iCalendar object with one comp ("VEVENT", "VTODO", "VJOURNAL"). */
CG_FN const char *cg_ical(char *buf, size_t size, const char *comp, const char *uid)
{
    snprintf(buf, size,
             "BEGIN:VCALENDAR\r\nVERSION:2.0\r\nPRODID:-//test//EN\r\nBEGIN:%s\r\nUID:%s\r\n"
             "DTSTAMP:20260101T000000Z\r\nSUMMARY:%s\r\nEND:%s\r\nEND:VCALENDAR\r\n",
             comp, uid, uid, comp);
    return buf;
}

#endif
