/* Fuzz target: .Radicale.props parsing (coll_props_parse of the
 * collection store) and the props the store writes back.  Every input is
 * refused with a reason or parsed; a parsed display name is one the store
 * accepts, and props rebuilt from what was parsed parse again to the same
 * values. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <apr_general.h>
#include <apr_strings.h>

#include "../../mod_activesync/store/collections/coll_internal.h"
#include "fuzz.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: invariant failed: %s\n", __FILE__, __LINE__, #cond);           \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static apr_pool_t *root;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    apr_initialize();
    apr_pool_create(&root, NULL);
    return 0;
}

static int same(const char *a, const char *b)
{
    return (!a && !b) || (a && b && !strcmp(a, b));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    apr_pool_t *p;
    coll_props_t props, again;
    const char *err = NULL, *json;
    apr_status_t rv;

    apr_pool_create(&p, root);
    rv = coll_props_parse(p, (const char *)data, size, &props, &err);
    if (rv != APR_SUCCESS) {
        CHECK(rv == APR_EINVAL && err && *err);
    } else {
        CHECK(!props.displayname || !coll_display_name_bad(props.displayname));
        (void)coll_components_parse(props.components);
        if (props.tag && props.displayname) {
            json = coll_props_new(p, props.tag, props.displayname, props.components);
            CHECK(coll_props_parse(p, json, strlen(json), &again, &err) == APR_SUCCESS);
            CHECK(same(props.tag, again.tag) && same(props.displayname, again.displayname) &&
                  same(props.components, again.components));
        }
    }
    apr_pool_destroy(p);
    return 0;
}
