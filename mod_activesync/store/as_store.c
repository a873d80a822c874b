/* Store interface helpers (as_store.h). */
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_store.h"

int as_store_token_same(const char *a, const char *b)
{
    size_t la, lb;

    if (!a || !b) {
        return 0;
    }
    la = strlen(a);
    lb = strlen(b);
    if (la == 0 || lb == 0 || a[la - 1] == '!' || b[lb - 1] == '!') {
        return 0; /* unsettled: "maybe changed" */
    }
    return la == lb && memcmp(a, b, la) == 0;
}

const char *as_store_strerror(apr_status_t rv, char *buf, apr_size_t bufsize)
{
    switch (rv) {
    case AS_STORE_ESPECIAL:
        apr_cpystrn(buf, "not allowed on a special folder", bufsize);
        return buf;
    case AS_STORE_ENOPARENT:
        apr_cpystrn(buf, "parent folder not found", bufsize);
        return buf;
    case AS_STORE_ECONFLICT:
        apr_cpystrn(buf, "the item changed meanwhile", bufsize);
        return buf;
    case AS_STORE_ENOTSUP:
        apr_cpystrn(buf, "not supported for this folder's class", bufsize);
        return buf;
    default:
        return apr_strerror(rv, buf, bufsize);
    }
}

static const char *const class_names[AS_CLASS_COUNT] = {"Email", "Contacts", "Calendar", "Tasks",
                                                        "Notes"};

int as_folder_class(int folder_type)
{
    switch (folder_type) {
    case AS_FOLDER_TASKS:
    case AS_FOLDER_USER_TASKS:
        return AS_CLASS_TASKS;
    case AS_FOLDER_CALENDAR:
    case AS_FOLDER_USER_CALENDAR:
        return AS_CLASS_CALENDAR;
    case AS_FOLDER_CONTACTS:
    case AS_FOLDER_USER_CONTACTS:
        return AS_CLASS_CONTACTS;
    case AS_FOLDER_NOTES:
    case AS_FOLDER_USER_NOTES:
        return AS_CLASS_NOTES;
    default:
        return AS_CLASS_EMAIL;
    }
}

const char *as_class_name(int cls)
{
    return cls >= 0 && cls < AS_CLASS_COUNT ? class_names[cls] : NULL;
}

int as_class_by_name(const char *name)
{
    int i;

    for (i = 0; name && i < AS_CLASS_COUNT; i++) {
        if (strcmp(name, class_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

int as_class_default_type(int cls)
{
    static const int types[AS_CLASS_COUNT] = {AS_FOLDER_INBOX, AS_FOLDER_CONTACTS,
                                              AS_FOLDER_CALENDAR, AS_FOLDER_TASKS, AS_FOLDER_NOTES};
    return cls >= 0 && cls < AS_CLASS_COUNT ? types[cls] : -1;
}

int as_class_user_type(int cls)
{
    static const int types[AS_CLASS_COUNT] = {AS_FOLDER_USER_MAIL, AS_FOLDER_USER_CONTACTS,
                                              AS_FOLDER_USER_CALENDAR, AS_FOLDER_USER_TASKS,
                                              AS_FOLDER_USER_NOTES};
    return cls >= 0 && cls < AS_CLASS_COUNT ? types[cls] : -1;
}

apr_status_t as_store_add_item(as_store_t *st, const char *folder_id, const char *name_hint,
                               const void *data, apr_size_t len, apr_pool_t *p,
                               const char **item_id, const char **etag)
{
    if (!st->ops->add_item) {
        return AS_STORE_ENOTSUP;
    }
    return st->ops->add_item(st, folder_id, name_hint, data, len, p, item_id, etag);
}

apr_status_t as_store_replace_item(as_store_t *st, const char *folder_id, const char *item_id,
                                   const char *if_etag, const void *data, apr_size_t len,
                                   apr_pool_t *p, const char **etag)
{
    if (!st->ops->replace_item) {
        return AS_STORE_ENOTSUP;
    }
    return st->ops->replace_item(st, folder_id, item_id, if_etag, data, len, p, etag);
}

apr_status_t as_store_create_folder_typed(as_store_t *st, const char *parent_id, const char *name,
                                          int type, apr_pool_t *p, const char **folder_id)
{
    if (st->ops->create_folder_typed) {
        return st->ops->create_folder_typed(st, parent_id, name, type, p, folder_id);
    }
    if (type != AS_FOLDER_USER_GENERIC && type != AS_FOLDER_USER_MAIL) {
        return AS_STORE_ENOTSUP;
    }
    return st->ops->create_folder(st, parent_id, name, p, folder_id);
}
