/* ical_parse -- read and parse iCalendar files with libical, nothing more:
 * the floor a calendar benchmark compares the module with.
 *
 *   ical_parse FILE...
 *
 * Each file is read whole and parsed (icalparser_parse_string); prints the
 * number of files, of VEVENT/VTODO components and of files that did not
 * parse.  Exit 1 when a file cannot be read. */
#include <stdio.h>
#include <stdlib.h>

#include <libical/ical.h>

#define MAX_FILE (4 * 1024 * 1024) /* the module's item bound */

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf;
    if (!f) {
        return NULL;
    }
    buf = malloc(MAX_FILE + 1);
    if (!buf) {
        fclose(f);
        return NULL;
    }
    *len = fread(buf, 1, MAX_FILE, f);
    buf[*len] = '\0';
    fclose(f);
    return buf;
}

int main(int argc, char **argv)
{
    long files = 0, comps = 0, bad = 0;
    int i;

    for (i = 1; i < argc; i++) {
        size_t len = 0;
        char *data = read_all(argv[i], &len);
        icalcomponent *root;
        if (!data) {
            perror(argv[i]);
            return 1;
        }
        files++;
        root = icalparser_parse_string(data);
        if (!root) {
            bad++;
        } else {
            comps += icalcomponent_count_components(root, ICAL_VEVENT_COMPONENT) +
                     icalcomponent_count_components(root, ICAL_VTODO_COMPONENT);
            icalcomponent_free(root);
        }
        free(data);
    }
    printf("%ld files, %ld components, %ld unparsed\n", files, comps, bad);
    return 0;
}
