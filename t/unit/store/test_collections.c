/* Collection store (as_collections.h): default collections, listing with
 * ETags, ids stable across a rewrite by another program, an edit that
 * keeps the size and the second still seen, add/replace (ETag conflict)/
 * delete, calendars shown as a calendar and a task list, bad
 * .Radicale.props skipped with a log line, collections created, renamed
 * and deleted, change tokens, client ids that are not ours.  The storage
 * lock: test_collections_lock.c; the router: test_store_router.c. */
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "activesync/as_collections.h"
#include "collgen.h"
#include "unit.h"

#define ALL_CLASSES ((1u << AS_CLASS_COUNT) - 1)

static char root[512];
static as_store_t *st;

static void setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "coll");
}

static void teardown(void)
{
    mg_rmtree(root);
    unit_pool_teardown();
}

static as_store_t *open_root(unsigned classes, int create)
{
    as_store_t *s = NULL;
    ck_assert_int_eq(
        as_collections_open(unit_pool, root, "jdoe@example.com", classes, create, NULL, &s),
        APR_SUCCESS);
    return s;
}

static const char *path_in(const char *a, const char *b)
{
    return b ? apr_pstrcat(unit_pool, root, "/", a, "/", b, NULL)
             : apr_pstrcat(unit_pool, root, "/", a, NULL);
}

/* The folder named name (display name), or NULL. */
static const as_store_folder_t *folder_named(as_store_t *s, const char *name, int type)
{
    apr_array_header_t *fs;
    int i;
    ck_assert_int_eq(as_store_list_folders(s, unit_pool, &fs, NULL), APR_SUCCESS);
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        if (!strcmp(f->name, name) && (type == 0 || f->type == type)) {
            return f;
        }
    }
    return NULL;
}

static apr_array_header_t *items_of(as_store_t *s, const char *fid)
{
    apr_array_header_t *items;
    ck_assert_int_eq(as_store_list_items(s, fid, unit_pool, &items, NULL), APR_SUCCESS);
    return items;
}

static const as_store_item_t *item_named(apr_array_header_t *items, const char *name)
{
    int i;
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        if (!strcmp(it->name, name)) {
            return it;
        }
    }
    return NULL;
}

static const char *sha256_hex(const char *data)
{
    unsigned char md[32];
    unsigned n = 0, i;
    char *out = apr_palloc(unit_pool, 65);
    EVP_Digest(data, strlen(data), md, &n, EVP_sha256(), NULL);
    for (i = 0; i < 32; i++) {
        sprintf(out + 2 * i, "%02x", md[i]);
    }
    return out;
}

static void set_mtime(const char *path, time_t sec, long nsec)
{
    struct timespec ts[2] = {{sec, nsec}, {sec, nsec}};
    ck_assert_int_eq(utimensat(AT_FDCWD, path, ts, 0), 0);
}

static const char *file_text(const char *path)
{
    FILE *fp = fopen(path, "r");
    char *buf = apr_pcalloc(unit_pool, 65536);
    size_t n;
    ck_assert_ptr_nonnull(fp);
    n = fread(buf, 1, 65535, fp);
    fclose(fp);
    buf[n] = '\0';
    return buf;
}

static const char *book_props = "{\"D:displayname\": \"Book\", \"tag\": \"VADDRESSBOOK\"}";

START_TEST(defaults_created)
{
    apr_array_header_t *fs, *fs2;
    const char *t1, *t2;
    int i;

    st = open_root(ALL_CLASSES, 1);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, &t1), APR_SUCCESS);
    ck_assert_int_eq(fs->nelts, 4);
    ck_assert_int_eq(APR_ARRAY_IDX(fs, 0, as_store_folder_t).type, AS_FOLDER_CONTACTS);
    ck_assert_int_eq(APR_ARRAY_IDX(fs, 1, as_store_folder_t).type, AS_FOLDER_CALENDAR);
    ck_assert_int_eq(APR_ARRAY_IDX(fs, 2, as_store_folder_t).type, AS_FOLDER_TASKS);
    ck_assert_int_eq(APR_ARRAY_IDX(fs, 3, as_store_folder_t).type, AS_FOLDER_NOTES);
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        ck_assert_int_eq(strlen(f->id), 10);
        ck_assert_int_eq(f->id[0], 'v');
        ck_assert_str_eq(f->parent_id, "0");
        ck_assert_int_eq(f->cls, as_folder_class(f->type));
    }
    ck_assert_int_eq(access(path_in("contacts", ".Radicale.props"), R_OK), 0);
    ck_assert_str_eq(file_text(path_in("contacts", ".Radicale.props")),
                     "{\"D:displayname\":\"Contacts\",\"tag\":\"VADDRESSBOOK\"}");
    /* a second handle makes nothing new and sees the same ids */
    st = open_root(ALL_CLASSES, 1);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs2, &t2), APR_SUCCESS);
    ck_assert_int_eq(fs2->nelts, 4);
    for (i = 0; i < fs->nelts; i++) {
        ck_assert_str_eq(APR_ARRAY_IDX(fs, i, as_store_folder_t).id,
                         APR_ARRAY_IDX(fs2, i, as_store_folder_t).id);
    }
}
END_TEST

START_TEST(defaults_per_class)
{
    apr_array_header_t *fs;
    const char *id;

    /* contacts only: one address book, nothing else made */
    st = open_root(1u << AS_CLASS_CONTACTS, 1);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(fs->nelts, 1);
    ck_assert_int_eq(APR_ARRAY_IDX(fs, 0, as_store_folder_t).type, AS_FOLDER_CONTACTS);
    ck_assert_int_ne(access(path_in("calendar", NULL), F_OK), 0);
    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_CONTACTS, 0, unit_pool, &id),
                     APR_SUCCESS);
    ck_assert_str_eq(id, APR_ARRAY_IDX(fs, 0, as_store_folder_t).id);
    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_CALENDAR, 1, unit_pool, &id),
                     APR_ENOENT);
    /* without create nothing is made */
    mg_rmtree(path_in("contacts", NULL));
    st = open_root(ALL_CLASSES, 0);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(fs->nelts, 0);
}
END_TEST

START_TEST(list_ids_and_etags)
{
    char v[512];
    const as_store_folder_t *f;
    apr_array_header_t *items;
    const as_store_item_t *a, *a2;
    const char *id_a, *etag_a, *va;

    cg_collection(root, "book", book_props);
    va = apr_pstrdup(unit_pool, cg_vcard(v, sizeof v, "a", "Alice"));
    cg_write(path_in("book", "a.vcf"), va);
    cg_write(path_in("book", "b.vcf"), cg_vcard(v, sizeof v, "b", "Bob"));
    cg_write(path_in("book", "c.vcf"), cg_vcard(v, sizeof v, "c", "Carol"));
    cg_write(path_in("book", ".hidden.vcf"), va);
    cg_write(path_in("book", "a.vcf~"), va);
    ck_assert_int_eq(symlink("/etc/passwd", path_in("book", "link.vcf")), 0);
    cg_write(path_in("book", "junk.vcf"), "this is not a vCard\n");
    st = open_root(ALL_CLASSES, 0);
    f = folder_named(st, "Book", AS_FOLDER_CONTACTS);
    ck_assert_ptr_nonnull(f);
    items = items_of(st, f->id);
    ck_assert_int_eq(items->nelts, 3);
    a = item_named(items, "a.vcf");
    ck_assert_ptr_nonnull(a);
    ck_assert_str_eq(a->etag, sha256_hex(va)); /* the same digest as Radicale's ETag */
    ck_assert_int_eq(a->size, (apr_off_t)strlen(va));
    ck_assert_int_le(strlen(a->id), AS_STORE_ITEM_ID_MAX);
    id_a = apr_pstrdup(unit_pool, a->id);
    etag_a = apr_pstrdup(unit_pool, a->etag);
    /* another program rewrites a.vcf: same id, new ETag */
    cg_write(path_in("book", "a.vcf"), cg_vcard(v, sizeof v, "a", "Alice Smith"));
    items = items_of(st, f->id);
    a2 = item_named(items, "a.vcf");
    ck_assert_str_eq(a2->id, id_a);
    ck_assert_str_ne(a2->etag, etag_a);
    /* and a fresh handle agrees */
    st = open_root(ALL_CLASSES, 0);
    items = items_of(st, f->id);
    ck_assert_str_eq(item_named(items, "a.vcf")->id, id_a);
}
END_TEST

START_TEST(same_size_same_second_edit)
{
    char v[512];
    const as_store_folder_t *f;
    as_store_item_t it;
    const char *id, *e1;
    time_t t = time(NULL) - 100;

    cg_collection(root, "book", book_props);
    cg_write(path_in("book", "x.vcf"), cg_vcard(v, sizeof v, "x", "Anna"));
    set_mtime(path_in("book", "x.vcf"), t, 0);
    st = open_root(ALL_CLASSES, 0);
    f = folder_named(st, "Book", 0);
    id = apr_pstrdup(unit_pool, APR_ARRAY_IDX(items_of(st, f->id), 0, as_store_item_t).id);
    ck_assert_int_eq(as_store_stat_item(st, f->id, id, unit_pool, &it), APR_SUCCESS);
    e1 = apr_pstrdup(unit_pool, it.etag);
    /* same length, same second (and nanosecond) of mtime */
    cg_write(path_in("book", "x.vcf"), cg_vcard(v, sizeof v, "x", "Anne"));
    set_mtime(path_in("book", "x.vcf"), t, 0);
    ck_assert_int_eq(as_store_stat_item(st, f->id, id, unit_pool, &it), APR_SUCCESS);
    ck_assert_str_ne(it.etag, e1);
    ck_assert_str_ne(APR_ARRAY_IDX(items_of(st, f->id), 0, as_store_item_t).etag, e1);
}
END_TEST

START_TEST(add_replace_delete)
{
    char v[512], big_uid[300];
    const as_store_folder_t *f;
    const char *id, *etag, *etag2, *id2, *v1, *v2, *name;
    as_store_msg_t *m;
    char *big;
    apr_size_t n = 5 * 1024 * 1024;

    st = open_root(ALL_CLASSES, 1);
    f = folder_named(st, "Contacts", AS_FOLDER_CONTACTS);
    v1 = apr_pstrdup(unit_pool, cg_vcard(v, sizeof v, "uid/1 x", "One"));
    ck_assert_int_eq(as_store_add_item(st, f->id, "uid/1 x", v1, strlen(v1), unit_pool, &id, &etag),
                     APR_SUCCESS);
    ck_assert_str_eq(etag, sha256_hex(v1));
    name = APR_ARRAY_IDX(items_of(st, f->id), 0, as_store_item_t).name;
    ck_assert_str_eq(name, "uid%2F1%20x.vcf");
    ck_assert_str_eq(file_text(path_in("contacts", name)), v1);
    /* the same UID again: refused, the file kept */
    ck_assert_int_eq(as_store_add_item(st, f->id, "uid/1 x", "BEGIN:VCARD\r\nEND:VCARD\r\n", 24,
                                       unit_pool, NULL, NULL),
                     APR_EEXIST);
    ck_assert_str_eq(file_text(path_in("contacts", name)), v1);
    /* no UID: a random name; a dot at the start is escaped */
    ck_assert_int_eq(as_store_add_item(st, f->id, NULL, v1, strlen(v1), unit_pool, &id2, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_add_item(st, f->id, "..", v1, strlen(v1), unit_pool, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(access(path_in("contacts", "%2E..vcf"), F_OK), 0);
    memset(big_uid, 'u', sizeof big_uid - 1);
    big_uid[sizeof big_uid - 1] = '\0';
    ck_assert_int_eq(as_store_add_item(st, f->id, big_uid, v1, strlen(v1), unit_pool, NULL, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(items_of(st, f->id)->nelts, 4);
    /* replace: stale ETag -> conflict, nothing written */
    v2 = apr_pstrdup(unit_pool, cg_vcard(v, sizeof v, "uid/1 x", "One Two"));
    ck_assert_int_eq(as_store_replace_item(st, f->id, id, sha256_hex("other"), v2, strlen(v2),
                                           unit_pool, &etag2),
                     AS_STORE_ECONFLICT);
    ck_assert_str_eq(file_text(path_in("contacts", name)), v1);
    ck_assert_int_eq(as_store_replace_item(st, f->id, id, etag, v2, strlen(v2), unit_pool, &etag2),
                     APR_SUCCESS);
    ck_assert_str_eq(etag2, sha256_hex(v2));
    ck_assert_str_eq(file_text(path_in("contacts", name)), v2);
    ck_assert_int_eq(as_store_open_item(st, f->id, id, unit_pool, &m), APR_SUCCESS);
    ck_assert_str_eq(m->item.etag, etag2);
    /* unconditional replace */
    ck_assert_int_eq(as_store_replace_item(st, f->id, id, NULL, v1, strlen(v1), unit_pool, NULL),
                     APR_SUCCESS);
    /* bad content and sizes are refused */
    ck_assert_int_eq(as_store_add_item(st, f->id, "z", "hello\n", 6, unit_pool, NULL, NULL),
                     APR_EINVAL);
    big = apr_palloc(unit_pool, n);
    memset(big, 'A', n);
    memcpy(big, "BEGIN:VCARD\r\n", 13);
    ck_assert_int_eq(as_store_add_item(st, f->id, "big", big, n, unit_pool, NULL, NULL),
                     APR_EINVAL);
    /* delete, then it is gone for every operation */
    ck_assert_int_eq(as_store_delete_item(st, f->id, id, 1), APR_SUCCESS);
    ck_assert_int_ne(access(path_in("contacts", name), F_OK), 0);
    ck_assert_int_eq(as_store_delete_item(st, f->id, id, 0), APR_ENOENT);
    ck_assert_int_eq(as_store_replace_item(st, f->id, id, NULL, v1, strlen(v1), unit_pool, NULL),
                     APR_ENOENT);
    ck_assert_int_eq(as_store_open_item(st, f->id, id, unit_pool, &m), APR_ENOENT);
    /* mail-only operations are refused (mail_operations_refused) */
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "Mail", AS_FOLDER_USER_MAIL, unit_pool, &id),
        AS_STORE_ENOTSUP);
    /* no temporary file left behind */
    ck_assert_int_eq(items_of(st, f->id)->nelts, 3);
}
END_TEST

/* The mail-only operations answer "not supported", never a NULL call, so a
 * mail command that reaches a collection (email off: the router is the
 * collection store itself) is refused cleanly. */
START_TEST(mail_operations_refused)
{
    const as_store_folder_t *f;
    const char *id, *out = NULL;
    char v[512];
    const char *v1;
    unsigned flags = 0;

    st = open_root(ALL_CLASSES, 1);
    f = folder_named(st, "Contacts", AS_FOLDER_CONTACTS);
    v1 = apr_pstrdup(unit_pool, cg_vcard(v, sizeof v, "u-mail-ops", "Ops"));
    ck_assert_int_eq(
        as_store_add_item(st, f->id, "u-mail-ops", v1, strlen(v1), unit_pool, &id, NULL),
        APR_SUCCESS);
    ck_assert_int_eq(as_store_set_flags(st, f->id, id, AS_STORE_SEEN, 0, &flags), AS_STORE_ENOTSUP);
    ck_assert_int_eq(as_store_move_item(st, f->id, id, f->id, unit_pool, &out), AS_STORE_ENOTSUP);
    ck_assert_int_eq(as_store_deliver(st, f->id, "x", 1, 0, 0, unit_pool, &out), AS_STORE_ENOTSUP);
    ck_assert_int_eq(as_store_create_folder(st, "0", "Mail", unit_pool, &out), AS_STORE_ENOTSUP);
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "Mail", AS_FOLDER_USER_MAIL, unit_pool, &out),
        AS_STORE_ENOTSUP);
    ck_assert_int_eq(items_of(st, f->id)->nelts, 1);
    ck_assert_str_eq(file_text(path_in("contacts", "u-mail-ops.vcf")), v1);
}
END_TEST

START_TEST(calendar_split)
{
    char v[512];
    const as_store_folder_t *cal, *tasks;
    apr_array_header_t *items;
    const char *id;

    cg_collection(root, "cal",
                  "{\"C:supported-calendar-component-set\": \"VEVENT,VTODO\", "
                  "\"D:displayname\": \"Home\", \"tag\": \"VCALENDAR\"}");
    cg_collection(root, "journal",
                  "{\"C:supported-calendar-component-set\": \"VJOURNAL\", "
                  "\"D:displayname\": \"Jot\", \"tag\": \"VCALENDAR\"}");
    cg_write(path_in("cal", "e1.ics"), cg_ical(v, sizeof v, "VEVENT", "e1"));
    cg_write(path_in("cal", "t1.ics"), cg_ical(v, sizeof v, "VTODO", "t1"));
    cg_write(path_in("journal", "j1.ics"), cg_ical(v, sizeof v, "VJOURNAL", "j1"));
    st = open_root(ALL_CLASSES, 0);
    cal = folder_named(st, "Home", AS_FOLDER_CALENDAR);
    tasks = folder_named(st, "Home", AS_FOLDER_TASKS);
    ck_assert_ptr_nonnull(cal);
    ck_assert_ptr_nonnull(tasks);
    ck_assert_str_ne(cal->id, tasks->id);
    ck_assert_ptr_nonnull(folder_named(st, "Jot", AS_FOLDER_NOTES));
    items = items_of(st, cal->id);
    ck_assert_int_eq(items->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(items, 0, as_store_item_t).name, "e1.ics");
    items = items_of(st, tasks->id);
    ck_assert_int_eq(items->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(items, 0, as_store_item_t).name, "t1.ics");
    /* an event is not an item of the task list */
    ck_assert_int_eq(
        as_store_delete_item(st, tasks->id,
                             APR_ARRAY_IDX(items_of(st, cal->id), 0, as_store_item_t).id, 0),
        APR_ENOENT);
    /* a task added to the task list lands in the same collection */
    cg_ical(v, sizeof v, "VTODO", "t2");
    ck_assert_int_eq(as_store_add_item(st, tasks->id, "t2", v, strlen(v), unit_pool, &id, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(access(path_in("cal", "t2.ics"), F_OK), 0);
    cg_ical(v, sizeof v, "VEVENT", "e2");
    ck_assert_int_eq(as_store_add_item(st, tasks->id, "e2", v, strlen(v), unit_pool, &id, NULL),
                     APR_EINVAL);
    /* the calendar and the task list of one collection are not deleted */
    ck_assert_int_eq(as_store_delete_folder(st, tasks->id), AS_STORE_ESPECIAL);
    /* notes off: the journal is not shown */
    st = open_root(ALL_CLASSES & ~(1u << AS_CLASS_NOTES), 0);
    ck_assert_ptr_null(folder_named(st, "Jot", 0));
}
END_TEST

START_TEST(bad_props_skipped)
{
    char *big = apr_palloc(unit_pool, 70000);
    apr_array_header_t *fs;

    memset(big, ' ', 69999);
    big[0] = '{';
    big[69998] = '}';
    big[69999] = '\0';
    cg_collection(root, "good", book_props);
    cg_collection(root, "notjson", "{\"tag\": \"VADDRESSBOOK\", ");
    cg_collection(root, "array", "[\"tag\", \"VADDRESSBOOK\"]");
    cg_collection(root, "numtag", "{\"tag\": 5}");
    cg_collection(root, "nul", "{\"tag\": \"VADDRESSBOOK\"}");
    cg_collection(root, "big", big);
    cg_collection(root, "other", "{\"tag\": \"VSOMETHING\"}");
    cg_collection(root, "badname", "{\"tag\": \"VADDRESSBOOK\", \"D:displayname\": \"a\\u0001b\"}");
    mkdir(path_in("plain", NULL), 0755); /* no props: not a collection */
    st = open_root(ALL_CLASSES, 0);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(fs->nelts, 3); /* good, nul (valid JSON) and badname (the directory's name) */
    ck_assert_ptr_nonnull(folder_named(st, "Book", 0));
    ck_assert_ptr_nonnull(folder_named(st, "badname", 0));
}
END_TEST

START_TEST(folder_ops)
{
    const as_store_folder_t *f;
    const char *id, *tok1, *tok2, *props;
    apr_array_header_t *fs;
    char v[512];

    st = open_root(ALL_CLASSES, 1);
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "Work", AS_FOLDER_USER_CONTACTS, unit_pool, &id),
        APR_SUCCESS);
    f = folder_named(st, "Work", AS_FOLDER_USER_CONTACTS);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->id, id);
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "Work", AS_FOLDER_USER_CONTACTS, unit_pool, NULL),
        APR_EEXIST);
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "Work", AS_FOLDER_USER_TASKS, unit_pool, NULL),
        APR_SUCCESS); /* another class may share the name */
    ck_assert_int_eq(
        as_store_create_folder_typed(st, id, "Sub", AS_FOLDER_USER_CONTACTS, unit_pool, NULL),
        AS_STORE_ENOPARENT);
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "a\nb", AS_FOLDER_USER_CONTACTS, unit_pool, NULL),
        APR_EINVAL);
    ck_assert_int_eq(
        as_store_create_folder_typed(st, "0", "x", AS_FOLDER_CONTACTS, unit_pool, NULL),
        AS_STORE_ENOTSUP);
    /* rename: the display name changes, the directory, the id and the
     * other properties stay */
    cg_write(apr_pstrcat(unit_pool, root, "/", f->path, "/.Radicale.props", NULL),
             "{\"D:displayname\": \"Work\", \"ICAL:calendar-color\": \"#ff0000\", "
             "\"tag\": \"VADDRESSBOOK\"}");
    cg_write(apr_pstrcat(unit_pool, root, "/", f->path, "/w.vcf", NULL),
             cg_vcard(v, sizeof v, "w", "W"));
    ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &tok1), APR_SUCCESS);
    ck_assert_int_eq(as_store_rename_folder(st, id, "0", "Jobs"), APR_SUCCESS);
    ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &tok2), APR_SUCCESS);
    ck_assert(!as_store_token_same(tok1, tok2));
    ck_assert_str_ne(tok1, tok2);
    f = folder_named(st, "Jobs", AS_FOLDER_USER_CONTACTS);
    ck_assert_ptr_nonnull(f);
    ck_assert_str_eq(f->id, id);
    props = file_text(apr_pstrcat(unit_pool, root, "/", f->path, "/.Radicale.props", NULL));
    ck_assert_ptr_nonnull(strstr(props, "\"ICAL:calendar-color\":\"#ff0000\""));
    ck_assert_ptr_nonnull(strstr(props, "\"D:displayname\":\"Jobs\""));
    ck_assert_int_eq(items_of(st, id)->nelts, 1);
    ck_assert_int_eq(as_store_rename_folder(st, id, "0", "Contacts"), APR_EEXIST);
    /* default folders stay */
    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_CONTACTS, 0, unit_pool, &id),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_rename_folder(st, id, "0", "Mine"), AS_STORE_ESPECIAL);
    ck_assert_int_eq(as_store_delete_folder(st, id), AS_STORE_ESPECIAL);
    /* delete a user folder with its items */
    ck_assert_int_eq(as_store_delete_folder(st, f->id), APR_SUCCESS);
    ck_assert_ptr_null(folder_named(st, "Jobs", 0));
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(fs->nelts, 5);
    ck_assert_int_eq(as_store_delete_folder(st, f->id), APR_ENOENT);
}
END_TEST

START_TEST(tokens_and_bad_ids)
{
    char v[512];
    const as_store_folder_t *f;
    const char *t1, *t2, *t3, *id;
    apr_array_header_t *items, *paths;
    as_store_item_t it;
    as_store_msg_t *m;
    time_t past = time(NULL) - 100;

    cg_collection(root, "book", book_props);
    cg_write(path_in("book", "a.vcf"), cg_vcard(v, sizeof v, "a", "A"));
    set_mtime(path_in("book", NULL), past, 0);
    set_mtime(path_in("book", ".Radicale.props"), past, 0);
    set_mtime(root, past, 0);
    st = open_root(ALL_CLASSES, 0);
    f = folder_named(st, "Book", 0);
    ck_assert_int_eq(as_store_list_items(st, f->id, unit_pool, &items, &t1), APR_SUCCESS);
    ck_assert_int_eq(as_store_folder_token(st, f->id, unit_pool, &t2), APR_SUCCESS);
    ck_assert(as_store_token_same(t1, t2));
    ck_assert_int_le(strlen(t1), AS_STORE_TOKEN_MAX);
    ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &t1), APR_SUCCESS);
    ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &t2), APR_SUCCESS);
    ck_assert(as_store_token_same(t1, t2));
    ck_assert_int_eq(as_store_folder_token(st, f->id, unit_pool, &t2), APR_SUCCESS);
    /* a change by another program */
    cg_write(path_in("book", "b.vcf"), cg_vcard(v, sizeof v, "b", "B"));
    ck_assert_int_eq(as_store_folder_token(st, f->id, unit_pool, &t3), APR_SUCCESS);
    ck_assert(!as_store_token_same(t2, t3));
    ck_assert_int_eq(as_store_watch_paths(st, f->id, unit_pool, &paths), APR_SUCCESS);
    ck_assert_str_eq(APR_ARRAY_IDX(paths, 0, const char *), path_in("book", NULL));
    /* ids that are not ours never reach a path */
    ck_assert_int_eq(as_store_list_items(st, "../../etc", unit_pool, &items, NULL), APR_ENOENT);
    ck_assert_int_eq(as_store_list_items(st, "v000000000", unit_pool, &items, NULL), APR_ENOENT);
    ck_assert_int_eq(as_store_stat_item(st, f->id, "../a.vcf", unit_pool, &it), APR_ENOENT);
    ck_assert_int_eq(as_store_open_item(st, f->id, "", unit_pool, &m), APR_ENOENT);
    ck_assert_int_eq(as_store_delete_item(st, f->id, "zzzzzzzzzzzzz", 0), APR_ENOENT);
    /* open_item_at with a name that is not the id's */
    id = APR_ARRAY_IDX(items_of(st, f->id), 0, as_store_item_t).id;
    ck_assert_int_eq(as_store_open_item_at(st, f->id, id, "../../../etc/passwd", unit_pool, &m),
                     APR_SUCCESS);
    ck_assert_str_eq(m->item.id, id);
    ck_assert_int_eq(as_store_open_item_at(st, f->id, id, m->item.name, unit_pool, &m),
                     APR_SUCCESS);
}
END_TEST

START_TEST(path_template)
{
    const char *path, *err;

    ck_assert_int_eq(as_collections_path_from_template(unit_pool, "/srv/r/collection-root/%u",
                                                       "jo@example.com", &path, &err),
                     APR_SUCCESS);
    ck_assert_str_eq(path, "/srv/r/collection-root/jo@example.com");
    ck_assert_int_eq(
        as_collections_path_from_template(unit_pool, "/srv/%x", "jo@example.com", &path, &err),
        APR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "collections"));
    ck_assert_int_eq(as_collections_path_from_template(unit_pool, "/srv/%n", "../x", &path, &err),
                     APR_EINVAL);
    /* Radicale's lock: the storage folder above collection-root */
    mkdir(apr_pstrcat(unit_pool, root, "/collection-root", NULL), 0755);
    ck_assert_int_eq(as_collections_open(unit_pool,
                                         apr_pstrcat(unit_pool, root, "/collection-root/jo", NULL),
                                         "jo", ALL_CLASSES, 1, NULL, &st),
                     APR_SUCCESS);
    ck_assert_str_eq(as_collections_lock_path(st),
                     apr_pstrcat(unit_pool, root, "/.Radicale.lock", NULL));
    ck_assert_int_eq(as_collections_open(unit_pool, apr_pstrcat(unit_pool, root, "/u", NULL), "u",
                                         ALL_CLASSES, 1, NULL, &st),
                     APR_SUCCESS);
    ck_assert_str_eq(as_collections_lock_path(st),
                     apr_pstrcat(unit_pool, root, "/.Radicale.lock", NULL));
    ck_assert_int_eq(as_collections_open(unit_pool, "relative", "u", ALL_CLASSES, 1, NULL, &st),
                     APR_EINVAL);
}
END_TEST

START_TEST(stale_temporaries_removed)
{
    char v[512];
    const as_store_folder_t *f;
    time_t old = time(NULL) - 7200;

    cg_collection(root, "book", book_props);
    cg_write(path_in("book", "a.vcf"), cg_vcard(v, sizeof v, "a", "A"));
    cg_write(path_in("book", ".activesync.tmp-old"), v);
    set_mtime(path_in("book", ".activesync.tmp-old"), old, 0);
    cg_write(path_in("book", ".activesync.tmp-new"), v);
    cg_write(path_in("book", ".Radicale.tmp-old"), v); /* Radicale's: not ours to remove */
    set_mtime(path_in("book", ".Radicale.tmp-old"), old, 0);
    cg_collection(root, ".activesync.tmp-del-old", book_props);
    set_mtime(path_in(".activesync.tmp-del-old", NULL), old, 0);
    st = open_root(ALL_CLASSES, 0);
    f = folder_named(st, "Book", 0);
    ck_assert_int_eq(items_of(st, f->id)->nelts, 1);
    ck_assert_int_ne(access(path_in("book", ".activesync.tmp-old"), F_OK), 0);
    ck_assert_int_ne(access(path_in(".activesync.tmp-del-old", NULL), F_OK), 0);
    ck_assert_int_eq(access(path_in("book", ".activesync.tmp-new"), F_OK), 0);
    ck_assert_int_eq(access(path_in("book", ".Radicale.tmp-old"), F_OK), 0);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("collections");
    TCase *tc = tcase_create("collections");

    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, defaults_created);
    tcase_add_test(tc, defaults_per_class);
    tcase_add_test(tc, list_ids_and_etags);
    tcase_add_test(tc, same_size_same_second_edit);
    tcase_add_test(tc, add_replace_delete);
    tcase_add_test(tc, mail_operations_refused);
    tcase_add_test(tc, calendar_split);
    tcase_add_test(tc, bad_props_skipped);
    tcase_add_test(tc, folder_ops);
    tcase_add_test(tc, tokens_and_bad_ids);
    tcase_add_test(tc, path_template);
    tcase_add_test(tc, stale_temporaries_removed);
    suite_add_tcase(s, tc);
    return s;
}
