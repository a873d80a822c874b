/* .Radicale.props: one JSON object of string values, as Radicale reads
 * and writes it (json.dump with sorted keys).  Parsed with json-glib; a
 * file that is not such an object is refused with a reason, never used. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>
#include <json-glib/json-glib.h>

#include "coll_internal.h"

#define PROPS_FILE "/.Radicale.props"

static const char *member_string(JsonObject *o, const char *key, apr_pool_t *p)
{
    JsonNode *n = json_object_get_member(o, key);

    if (!n || JSON_NODE_TYPE(n) != JSON_NODE_VALUE ||
        json_node_get_value_type(n) != G_TYPE_STRING) {
        return NULL;
    }
    return apr_pstrdup(p, json_node_get_string(n));
}

/* Parse into a JsonParser; the root object or NULL with *err. */
static JsonParser *parse_object(apr_pool_t *p, const char *data, apr_size_t len, JsonObject **obj,
                                const char **err)
{
    JsonParser *parser;
    GError *gerr = NULL;
    JsonNode *root;

    *obj = NULL;
    if (len > COLL_MAX_PROPS) {
        *err = "larger than 64 KB";
        return NULL;
    }
    if (memchr(data, '\0', len)) {
        *err = "contains a NUL byte";
        return NULL;
    }
    parser = json_parser_new();
    if (!json_parser_load_from_data(parser, data, (gssize)len, &gerr)) {
        *err = apr_psprintf(p, "not JSON: %s", gerr && gerr->message ? gerr->message : "?");
        g_clear_error(&gerr);
        g_object_unref(parser);
        return NULL;
    }
    root = json_parser_get_root(parser);
    if (!root || JSON_NODE_TYPE(root) != JSON_NODE_OBJECT) {
        *err = "not a JSON object";
        g_object_unref(parser);
        return NULL;
    }
    *obj = json_node_get_object(root);
    return parser;
}

apr_status_t coll_props_parse(apr_pool_t *p, const char *data, apr_size_t len, coll_props_t *out,
                              const char **err)
{
    JsonObject *o;
    JsonParser *parser;

    memset(out, 0, sizeof *out);
    *err = NULL;
    parser = parse_object(p, data, len, &o, err);
    if (!parser) {
        return APR_EINVAL;
    }
    out->tag = member_string(o, "tag", p);
    out->displayname = member_string(o, "D:displayname", p);
    out->components = member_string(o, "C:supported-calendar-component-set", p);
    g_object_unref(parser);
    if (out->displayname && coll_display_name_bad(out->displayname)) {
        out->displayname = NULL; /* the directory's name stands in */
    }
    return APR_SUCCESS;
}

apr_status_t coll_props_read(coll_store_t *cs, const char *dir, apr_pool_t *p, coll_props_t *out)
{
    const char *path = apr_pstrcat(p, dir, PROPS_FILE, NULL), *err = NULL;
    char *data;
    apr_size_t len;
    struct stat sb;
    apr_status_t rv = coll_read_file(path, COLL_MAX_PROPS, p, &data, &len, &sb);

    memset(out, 0, sizeof *out);
    if (rv != APR_SUCCESS) {
        if (!APR_STATUS_IS_ENOENT(rv)) {
            coll_log(cs, AS_LOG_WARNING, rv, "cannot read %s%s: collection skipped", path,
                     rv == APR_FROM_OS_ERROR(E2BIG) ? " (larger than 64 KB)" : "");
        }
        return rv;
    }
    rv = coll_props_parse(p, data, len, out, &err);
    if (rv != APR_SUCCESS) {
        coll_log(cs, AS_LOG_WARNING, rv, "%s: %s: collection skipped", path, err);
    }
    return rv;
}

unsigned coll_components_parse(const char *set)
{
    unsigned comps = 0;
    const char *c = set;

    if (!set) {
        return COLL_VEVENT | COLL_VTODO; /* unset: what calendar clients mean by it */
    }
    while (*c) {
        size_t n = strcspn(c, ",");
        while (n > 0 && *c == ' ') {
            c++, n--;
        }
        if (n >= 6 && !strncasecmp(c, "VEVENT", 6)) {
            comps |= COLL_VEVENT;
        } else if (n >= 5 && !strncasecmp(c, "VTODO", 5)) {
            comps |= COLL_VTODO;
        } else if (n >= 8 && !strncasecmp(c, "VJOURNAL", 8)) {
            comps |= COLL_VJOURNAL;
        }
        c += n;
        if (*c == ',') {
            c++;
        }
    }
    return comps;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The object with its members in key order, as text. */
static const char *generate_sorted(JsonObject *o, apr_pool_t *p)
{
    GList *keys = json_object_get_members(o), *k;
    apr_array_header_t *arr = apr_array_make(p, 8, sizeof(const char *));
    JsonObject *sorted = json_object_new();
    JsonNode *root = json_node_new(JSON_NODE_OBJECT);
    JsonGenerator *gen = json_generator_new();
    gchar *text;
    const char *out;
    int i;

    for (k = keys; k; k = k->next) {
        APR_ARRAY_PUSH(arr, const char *) = k->data;
    }
    qsort(arr->elts, (size_t)arr->nelts, sizeof(const char *), cmp_str);
    for (i = 0; i < arr->nelts; i++) {
        const char *key = APR_ARRAY_IDX(arr, i, const char *);
        json_object_set_member(sorted, key, json_node_copy(json_object_get_member(o, key)));
    }
    g_list_free(keys);
    json_node_take_object(root, sorted);
    json_generator_set_root(gen, root);
    text = json_generator_to_data(gen, NULL);
    out = apr_pstrdup(p, text);
    g_free(text);
    g_object_unref(gen);
    json_node_unref(root);
    return out;
}

const char *coll_props_new(apr_pool_t *p, const char *tag, const char *displayname,
                           const char *components)
{
    JsonObject *o = json_object_new();
    const char *out;

    json_object_set_string_member(o, "tag", tag);
    json_object_set_string_member(o, "D:displayname", displayname);
    if (components) {
        json_object_set_string_member(o, "C:supported-calendar-component-set", components);
    }
    out = generate_sorted(o, p);
    json_object_unref(o);
    return out;
}

apr_status_t coll_props_renamed(coll_store_t *cs, const char *dir, const char *displayname,
                                apr_pool_t *p, const char **json)
{
    const char *path = apr_pstrcat(p, dir, PROPS_FILE, NULL), *err = NULL;
    char *data;
    apr_size_t len;
    struct stat sb;
    JsonObject *o;
    JsonParser *parser;
    apr_status_t rv = coll_read_file(path, COLL_MAX_PROPS, p, &data, &len, &sb);

    if (rv != APR_SUCCESS) {
        return rv;
    }
    parser = parse_object(p, data, len, &o, &err);
    if (!parser) {
        coll_log(cs, AS_LOG_WARNING, APR_EINVAL, "%s: %s: not renamed", path, err);
        return APR_EINVAL;
    }
    json_object_set_string_member(o, "D:displayname", displayname);
    *json = generate_sorted(o, p);
    g_object_unref(parser);
    return APR_SUCCESS;
}
