/* Maildir++ store: the folder tree with special folders and stable ids,
 * item ids stable across flag changes and Dovecot-style renames, flags by
 * rename, move/delete/deliver, O(1) change tokens, races with another
 * program, and the listing time of a 10,000-message folder (reported, not
 * asserted).  Path templates and modified UTF-7: test_maildir_names.c;
 * folder create/rename/delete: test_maildir_folder_ops.c. */
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

#include <apr_strings.h>
#include <apr_hash.h>
#include <apr_time.h>

#include "activesync/as_maildir.h"
#include "mailgen.h"
#include "unit.h"

static char root[512];
static as_store_t *st;

static void md_setup(void)
{
    unit_pool_setup();
    mg_tmpdir(root, sizeof root, "maildir");
    mg_folder(root, "");
}

static void md_teardown(void)
{
    mg_rmtree(root);
    unit_pool_teardown();
}

static as_store_t *open_store(const as_maildir_names_t *names)
{
    as_store_t *s = NULL;
    ck_assert_int_eq(as_maildir_open(unit_pool, root, "jdoe@example.com", names, 0, NULL, &s),
                     APR_SUCCESS);
    return s;
}

static const as_store_folder_t *find_name(apr_array_header_t *fs, const char *name)
{
    int i;
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        if (!strcmp(f->name, name)) {
            return f;
        }
    }
    return NULL;
}

static const as_store_folder_t *find_path(apr_array_header_t *fs, const char *path)
{
    int i;
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *f = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        if (!strcmp(f->path, path)) {
            return f;
        }
    }
    return NULL;
}

static const char *inbox_id(void)
{
    apr_array_header_t *fs;
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(APR_ARRAY_IDX(fs, 0, as_store_folder_t).type, AS_FOLDER_INBOX);
    return APR_ARRAY_IDX(fs, 0, as_store_folder_t).id;
}

static const as_store_item_t *find_item(apr_array_header_t *items, const char *id)
{
    int i;
    for (i = 0; i < items->nelts; i++) {
        const as_store_item_t *it = &APR_ARRAY_IDX(items, i, as_store_item_t);
        if (!strcmp(it->id, id)) {
            return it;
        }
    }
    return NULL;
}

/* ---- folders ------------------------------------------------------------- */

static void make_layout(void)
{
    char p[4096];
    mg_folder(root, "Sent");
    mg_folder(root, "Drafts");
    mg_folder(root, "Trash");
    mg_folder(root, "Junk");
    mg_folder(root, "Work");
    mg_folder(root, "Work.Projects");
    mg_folder(root, "Work.Projects.2024");
    mg_folder(root, "Archive.2023"); /* parent .Archive missing */
    mg_folder(root, "Entw&APw-rfe");
    mg_folder(root, "INBOX.Lists");
    mg_folder(root, "&ZeVnLIqe-.Sub");
    mg_folder(root, "&ZeVnLIqe-");
    /* things that are not folders */
    snprintf(p, sizeof p, "%s/.Half", root);
    mg_mkdir(p); /* no cur/ */
    snprintf(p, sizeof p, "%s/.notadir", root);
    mg_write(p, "x", 1, 0);
    snprintf(p, sizeof p, "%s/dovecot-uidlist", root);
    mg_write(p, "3 V1700000000 N1\n", 17, 0);
    snprintf(p, sizeof p, "%s/dovecot.index.log", root);
    mg_write(p, "xx", 2, 0);
    snprintf(p, sizeof p, "%s/subscriptions", root);
    mg_write(p, "Sent\n", 5, 0);
    snprintf(p, sizeof p, "%s/.Bad..Name", root);
    mg_maildir(p);
}

START_TEST(folder_tree)
{
    apr_array_header_t *fs, *fs2;
    const as_store_folder_t *f, *work, *proj;
    const char *tok;
    int i;

    make_layout();
    st = open_store(NULL);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, &tok), APR_SUCCESS);
    ck_assert_ptr_nonnull(tok);
    ck_assert_int_eq(fs->nelts, 13);
    f = &APR_ARRAY_IDX(fs, 0, as_store_folder_t);
    ck_assert_int_eq(f->type, AS_FOLDER_INBOX);
    ck_assert_str_eq(f->parent_id, "0");
    ck_assert_str_eq(f->name, "Inbox");
    ck_assert_int_eq(find_name(fs, "Sent")->type, AS_FOLDER_SENT);
    ck_assert_int_eq(find_name(fs, "Drafts")->type, AS_FOLDER_DRAFTS);
    ck_assert_int_eq(find_name(fs, "Trash")->type, AS_FOLDER_DELETED);
    ck_assert_int_eq(find_name(fs, "Junk")->type, AS_FOLDER_USER_MAIL);
    work = find_name(fs, "Work");
    proj = find_name(fs, "Projects");
    ck_assert_ptr_nonnull(work);
    ck_assert_ptr_nonnull(proj);
    ck_assert_str_eq(work->parent_id, "0");
    ck_assert_str_eq(proj->parent_id, work->id);
    ck_assert_str_eq(find_name(fs, "2024")->parent_id, proj->id);
    ck_assert_int_eq(proj->type, AS_FOLDER_USER_MAIL);
    /* missing parent: hangs at the root with the missing level in the name */
    ck_assert_str_eq(find_name(fs, "Archive.2023")->parent_id, "0");
    /* modified UTF-7 names */
    ck_assert_ptr_nonnull(find_name(fs, "Entwürfe"));
    ck_assert_str_eq(find_name(fs, "Sub")->parent_id, find_name(fs, "日本語")->id);
    /* INBOX children */
    ck_assert_str_eq(find_name(fs, "Lists")->parent_id, f->id);
    /* not folders */
    ck_assert_ptr_null(find_path(fs, ".Half"));
    ck_assert_ptr_null(find_path(fs, ".notadir"));
    ck_assert_ptr_null(find_path(fs, ".Bad..Name"));
    /* ids: short, safe, unique, stable across handles */
    for (i = 0; i < fs->nelts; i++) {
        const as_store_folder_t *a = &APR_ARRAY_IDX(fs, i, as_store_folder_t);
        int j;
        ck_assert_uint_le(strlen(a->id), AS_STORE_FOLDER_ID_MAX);
        ck_assert_msg(strspn(a->id, "0123456789abcdefghijklmnopqrstuv") == strlen(a->id), "%s",
                      a->id);
        ck_assert_str_ne(a->id, "0");
        for (j = 0; j < i; j++) {
            ck_assert_str_ne(a->id, APR_ARRAY_IDX(fs, j, as_store_folder_t).id);
        }
        /* parents come before children */
        if (strcmp(a->parent_id, "0")) {
            int found = 0;
            for (j = 0; j < i; j++) {
                found |= !strcmp(APR_ARRAY_IDX(fs, j, as_store_folder_t).id, a->parent_id);
            }
            ck_assert_msg(found, "parent of %s listed after it", a->path);
        }
    }
    st = open_store(NULL);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs2, NULL), APR_SUCCESS);
    ck_assert_int_eq(fs2->nelts, fs->nelts);
    for (i = 0; i < fs->nelts; i++) {
        ck_assert_str_eq(APR_ARRAY_IDX(fs2, i, as_store_folder_t).id,
                         APR_ARRAY_IDX(fs, i, as_store_folder_t).id);
    }
    /* get_folder by id */
    {
        const as_store_folder_t *g;
        ck_assert_int_eq(as_store_get_folder(st, proj->id, unit_pool, &g), APR_SUCCESS);
        ck_assert_str_eq(g->name, "Projects");
        ck_assert_int_eq(as_store_get_folder(st, "zzzz", unit_pool, &g), APR_ENOENT);
        ck_assert_int_eq(as_store_get_folder(st, "0", unit_pool, &g), APR_ENOENT);
        ck_assert_int_eq(as_store_get_folder(st, "../x", unit_pool, &g), APR_ENOENT);
    }
}
END_TEST

START_TEST(special_alternatives)
{
    apr_array_header_t *fs;
    as_maildir_names_t names;

    /* Outlook-style names, no Dovecot defaults */
    mg_folder(root, "Sent Items");
    mg_folder(root, "Deleted Items");
    mg_folder(root, "deleted messages");
    mg_folder(root, "Spam");
    mg_folder(root, "Draft");
    st = open_store(NULL);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(find_name(fs, "Sent Items")->type, AS_FOLDER_SENT);
    ck_assert_int_eq(find_name(fs, "Deleted Items")->type, AS_FOLDER_DELETED);
    ck_assert_int_eq(find_name(fs, "deleted messages")->type, AS_FOLDER_USER_MAIL); /* one only */
    ck_assert_int_eq(find_name(fs, "Draft")->type, AS_FOLDER_DRAFTS);

    /* configured names win over the alternatives; case-insensitive */
    mg_folder(root, "Gesendet");
    mg_folder(root, "papierkorb");
    as_maildir_names_default(&names);
    names.sent = "Gesendet";
    names.trash = "Papierkorb";
    st = open_store(&names);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(find_name(fs, "Gesendet")->type, AS_FOLDER_SENT);
    ck_assert_int_eq(find_name(fs, "Sent Items")->type, AS_FOLDER_USER_MAIL);
    ck_assert_int_eq(find_name(fs, "papierkorb")->type, AS_FOLDER_DELETED);
    ck_assert_int_eq(find_name(fs, "Deleted Items")->type, AS_FOLDER_USER_MAIL);
    /* a nested folder named Sent is not special */
    mg_folder(root, "Work");
    mg_folder(root, "Work.Sent");
    names.sent = "Sent";
    st = open_store(&names);
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_int_eq(find_path(fs, ".Work.Sent")->type, AS_FOLDER_USER_MAIL);
    ck_assert_int_eq(find_name(fs, "Sent Items")->type, AS_FOLDER_SENT);
}
END_TEST

START_TEST(open_missing)
{
    as_store_t *s;
    char p[4096];
    snprintf(p, sizeof p, "%s/new-account", root);
    ck_assert_int_eq(as_maildir_open(unit_pool, p, "x@y", NULL, 0, NULL, &s), APR_ENOENT);
    ck_assert_int_eq(as_maildir_open(unit_pool, p, "x@y", NULL, 1, NULL, &s), APR_SUCCESS);
    snprintf(p, sizeof p, "%s/new-account/cur", root);
    ck_assert(access(p, F_OK) == 0);
    ck_assert_int_eq(as_maildir_open(unit_pool, "relative", "x@y", NULL, 1, NULL, &s), APR_EINVAL);
}
END_TEST

/* ---- items ----------------------------------------------------------------- */

static void path_of(char *out, const char *sub, const char *name)
{
    snprintf(out, 4096, "%s/%s/%s", root, sub, name);
}

START_TEST(item_ids_stable)
{
    char n1[256], n2[256], n3[256], a[4096], b[4096];
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    apr_array_header_t *items;
    const char *fid, *id1, *id2, *id3;
    const as_store_item_t *it;
    char id[AS_STORE_ITEM_ID_MAX + 1];

    mg_deliver(root, "new", 1, NULL, m, len, 1700000100, n1);
    mg_deliver(root, "cur", 2, "2,S", m, len, 1700000200, n2);
    mg_deliver(root, "cur", 3, "2,FRS", m, len, 1700000300, n3);
    /* noise a real Maildir has */
    path_of(a, ".", "dovecot-uidlist");
    mg_write(a, "3 V1700000000 N4 G0123\n1 :x\n", 28, 0);
    path_of(a, ".", "dovecot-keywords");
    mg_write(a, "0 $Forwarded\n", 13, 0);
    path_of(a, "cur", ".hidden");
    mg_write(a, "x", 1, 0);
    path_of(a, "cur", "dovecot.tmp");
    mg_write(a, "x", 1, 0);
    path_of(a, "cur", "subdir");
    mg_mkdir(a);
    path_of(a, "tmp", "17000.inprogress");
    mg_write(a, "partial", 7, 0);
    free(m);

    st = open_store(NULL);
    fid = inbox_id();
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 3);
    /* newest first */
    it = &APR_ARRAY_IDX(items, 0, as_store_item_t);
    ck_assert_int_eq(it->flags, AS_STORE_SEEN | AS_STORE_FLAGGED | AS_STORE_ANSWERED);
    ck_assert(it->date == apr_time_from_sec(1700000300));
    ck_assert_int_eq(it->size, (apr_off_t)len);
    id3 = it->id;
    id2 = APR_ARRAY_IDX(items, 1, as_store_item_t).id;
    id1 = APR_ARRAY_IDX(items, 2, as_store_item_t).id;
    ck_assert_int_eq(APR_ARRAY_IDX(items, 1, as_store_item_t).flags, AS_STORE_SEEN);
    ck_assert_int_eq(APR_ARRAY_IDX(items, 2, as_store_item_t).flags, 0);
    ck_assert_uint_eq(strlen(id1), 13);
    ck_assert_str_ne(id1, id2);
    ck_assert_str_ne(id2, id3);
    as_maildir_item_id(n1, id);
    ck_assert_str_eq(id, id1);

    /* "Dovecot" moves new -> cur and changes flags: ids do not change */
    path_of(a, "new", n1);
    snprintf(b, sizeof b, "%s/cur/%s:2,S", root, n1);
    ck_assert_int_eq(rename(a, b), 0);
    path_of(a, "cur", n2);
    snprintf(b, sizeof b, "%s/cur/%.*s:2,FS", root, (int)(strchr(n2, ':') - n2), n2);
    ck_assert_int_eq(rename(a, b), 0);
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 3);
    ck_assert_int_eq(find_item(items, id1)->flags, AS_STORE_SEEN);
    ck_assert_int_eq(find_item(items, id2)->flags, AS_STORE_SEEN | AS_STORE_FLAGGED);
    ck_assert_ptr_nonnull(find_item(items, id3));

    /* the same base name in new/ and cur/ (seen mid-move) is listed once */
    path_of(a, "new", "1700000400.M1P1Q1.host");
    mg_write(a, "x", 1, 1700000400);
    path_of(a, "cur", "1700000400.M1P1Q1.host:2,S");
    mg_write(a, "x", 1, 1700000400);
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 4);
    as_maildir_item_id("1700000400.M1P1Q1.host", id);
    ck_assert_int_eq(find_item(items, id)->flags, AS_STORE_SEEN); /* the cur/ one */
}
END_TEST

START_TEST(flags_by_rename)
{
    char n[256], a[4096];
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    const char *fid, *id;
    apr_array_header_t *items;
    unsigned fl;
    as_store_item_t it;
    DIR *d;
    struct dirent *de;
    int seen = 0;

    mg_deliver(root, "new", 1, NULL, m, len, 1700000100, n);
    free(m);
    st = open_store(NULL);
    fid = inbox_id();
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, NULL), APR_SUCCESS);
    id = APR_ARRAY_IDX(items, 0, as_store_item_t).id;

    ck_assert_int_eq(as_store_set_flags(st, fid, id, AS_STORE_SEEN, 0, &fl), APR_SUCCESS);
    ck_assert_uint_eq(fl, AS_STORE_SEEN);
    snprintf(a, sizeof a, "%s/cur/%s:2,S", root, n);
    ck_assert_msg(access(a, F_OK) == 0, "no %s", a);
    /* Dovecot adds a keyword letter and P; our change keeps them, sorted */
    {
        char b[4096];
        snprintf(b, sizeof b, "%s/cur/%s:2,PSa", root, n);
        ck_assert_int_eq(rename(a, b), 0);
    }
    ck_assert_int_eq(as_store_set_flags(st, fid, id, AS_STORE_FLAGGED, AS_STORE_SEEN, &fl),
                     APR_SUCCESS); /* cached name is stale: rescan */
    ck_assert_uint_eq(fl, AS_STORE_FLAGGED | AS_STORE_PASSED);
    snprintf(a, sizeof a, "%s/cur/%s:2,FPa", root, n);
    ck_assert_msg(access(a, F_OK) == 0, "no %s", a);
    ck_assert_int_eq(as_store_stat_item(st, fid, id, unit_pool, &it), APR_SUCCESS);
    ck_assert_str_eq(it.id, id);
    ck_assert_uint_eq(it.flags, AS_STORE_FLAGGED | AS_STORE_PASSED);
    /* no-op change */
    ck_assert_int_eq(as_store_set_flags(st, fid, id, AS_STORE_FLAGGED, 0, &fl), APR_SUCCESS);
    ck_assert_msg(access(a, F_OK) == 0, "no %s", a);
    /* exactly one file */
    d = opendir(apr_pstrcat(unit_pool, root, "/cur", NULL));
    while ((de = readdir(d)) != NULL) {
        seen += de->d_name[0] != '.';
    }
    closedir(d);
    ck_assert_int_eq(seen, 1);
    /* unknown ids */
    ck_assert_int_eq(as_store_set_flags(st, fid, "0000000000000", AS_STORE_SEEN, 0, NULL),
                     APR_ENOENT);
    ck_assert_int_eq(as_store_set_flags(st, fid, "../../etc", AS_STORE_SEEN, 0, NULL), APR_ENOENT);
    ck_assert_int_eq(as_store_set_flags(st, "nofolder", id, AS_STORE_SEEN, 0, NULL), APR_ENOENT);
}
END_TEST

START_TEST(open_races)
{
    char n[256], a[4096], b[4096];
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    const char *fid, *id;
    apr_array_header_t *items;
    as_store_msg_t *msg;
    char buf[64];
    apr_size_t got = sizeof buf - 1;

    mg_deliver(root, "new", 1, NULL, m, len, 1700000100, n);
    st = open_store(NULL);
    fid = inbox_id();
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, NULL), APR_SUCCESS);
    id = APR_ARRAY_IDX(items, 0, as_store_item_t).id;
    /* renamed by another program after our listing: found by a rescan */
    path_of(a, "new", n);
    snprintf(b, sizeof b, "%s/cur/%s:2,S", root, n);
    ck_assert_int_eq(rename(a, b), 0);
    ck_assert_int_eq(as_store_open_item(st, fid, id, unit_pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(apr_file_read(msg->file, buf, &got), APR_SUCCESS);
    buf[got] = '\0';
    ck_assert_int_eq(strncmp(buf, m, got), 0);
    ck_assert_uint_eq(msg->item.flags, AS_STORE_SEEN);
    ck_assert_int_eq(msg->item.size, (apr_off_t)len);
    /* the open file survives removal */
    ck_assert_int_eq(unlink(b), 0);
    got = 4;
    ck_assert_int_eq(apr_file_read(msg->file, buf, &got), APR_SUCCESS);
    /* removed: not found, after one rescan */
    ck_assert_int_eq(as_store_open_item(st, fid, id, unit_pool, &msg), APR_ENOENT);
    ck_assert_int_eq(as_store_set_flags(st, fid, id, AS_STORE_SEEN, 0, NULL), APR_ENOENT);
    free(m);
}
END_TEST

/* Another program renames files (flag changes, new -> cur) while we list:
 * every listing must hold every message exactly once. */
#define CHURN_N 3000 /* several getdents() buffers, so a rename can slip past readdir() */

typedef struct churn_t {
    atomic_int stop; /* set by the main thread, read by the churn thread */
    int n;
    unsigned renames;
    char names[CHURN_N][200];
} churn_t;

static void *churn_main(void *arg)
{
    churn_t *c = arg;
    unsigned round = 0;
    char a[4096], b[4096];

    while (!c->stop) {
        int i = (int)(round % (unsigned)c->n);
        const char *flags = (round / (unsigned)c->n) % 2 ? "2,S" : "2,FS";
        char *colon = strchr(c->names[i], ':');
        size_t bl = colon ? (size_t)(colon - c->names[i]) : strlen(c->names[i]);
        snprintf(a, sizeof a, "%s/%s/%s", root, colon ? "cur" : "new", c->names[i]);
        snprintf(c->names[i] + bl, 200 - bl, ":%s", flags);
        snprintf(b, sizeof b, "%s/cur/%s", root, c->names[i]);
        rename(a, b);
        round++;
        /* spread the renames over the directory: jump around */
        round += 997;
        c->renames++;
    }
    return NULL;
}

START_TEST(listing_during_renames)
{
    static churn_t c;
    pthread_t th;
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    const char *fid;
    apr_array_header_t *items;
    static char ids[CHURN_N][AS_STORE_ITEM_ID_MAX + 1];
    char name[256];
    int i, round, removed_ok = 1, bad_rounds = 0;

    memset(&c, 0, sizeof c);
    c.n = CHURN_N;
    for (i = 0; i < c.n; i++) {
        mg_deliver(root, "new", (unsigned)i + 1, NULL, m, len, 1700000000 + i, name);
        memcpy(c.names[i], name, strlen(name) + 1 < sizeof c.names[i] ? strlen(name) + 1 : 0);
        as_maildir_item_id(c.names[i], ids[i]);
    }
    free(m);
    st = open_store(NULL);
    fid = inbox_id();
    pthread_create(&th, NULL, churn_main, &c);
    for (round = 0; round < 60; round++) {
        apr_pool_t *p;
        apr_hash_t *h;
        int ok = 1;
        apr_pool_create(&p, unit_pool);
        ck_assert_int_eq(as_store_list_items(st, fid, p, &items, NULL), APR_SUCCESS);
        if (items->nelts != c.n) {
            ok = 0;
        }
        h = apr_hash_make(p);
        for (i = 0; i < items->nelts; i++) {
            apr_hash_set(h, APR_ARRAY_IDX(items, i, as_store_item_t).id, APR_HASH_KEY_STRING, "");
        }
        for (i = 0; i < c.n; i++) {
            if (!apr_hash_get(h, ids[i], APR_HASH_KEY_STRING)) {
                ok = 0;
            }
        }
        if (!ok) {
            removed_ok = 0;
            bad_rounds++;
        }
        /* open by id while files move */
        {
            as_store_msg_t *msg;
            ck_assert_int_eq(as_store_open_item(st, fid, ids[round % c.n], p, &msg), APR_SUCCESS);
        }
        apr_pool_destroy(p);
    }
    c.stop = 1;
    pthread_join(th, NULL);
    fprintf(stderr, "# %u renames by another thread during 60 listings of %d messages\n", c.renames,
            c.n);
    ck_assert_msg(removed_ok, "%d of 60 listings lost or duplicated a message during renames",
                  bad_rounds);
}
END_TEST

START_TEST(move_delete_deliver)
{
    char n[256], a[4096];
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    const char *fid, *id, *nid, *trash, *sent, *did;
    apr_array_header_t *items, *fs;
    as_store_msg_t *msg;
    DIR *d;
    struct dirent *de;
    int ntmp = 0;

    mg_folder(root, "Archive");
    mg_deliver(root, "cur", 1, "2,S", m, len, 1700000100, n);
    st = open_store(NULL);
    fid = inbox_id();
    ck_assert_int_eq(as_store_list_folders(st, unit_pool, &fs, NULL), APR_SUCCESS);
    ck_assert_ptr_null(find_name(fs, "Trash"));
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, NULL), APR_SUCCESS);
    id = APR_ARRAY_IDX(items, 0, as_store_item_t).id;

    /* move to Archive: same id there, flags kept */
    ck_assert_int_eq(as_store_move_item(st, fid, id, find_name(fs, "Archive")->id, unit_pool, &nid),
                     APR_SUCCESS);
    ck_assert_str_eq(nid, id);
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 0);
    ck_assert_int_eq(as_store_list_items(st, find_name(fs, "Archive")->id, unit_pool, &items, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    ck_assert_uint_eq(APR_ARRAY_IDX(items, 0, as_store_item_t).flags, AS_STORE_SEEN);
    /* moving it again: not found in the source */
    ck_assert_int_eq(as_store_move_item(st, fid, id, find_name(fs, "Archive")->id, unit_pool, &nid),
                     APR_ENOENT);
    /* a name clash in the destination gets a new base name (never overwrites) */
    mg_deliver(root, "cur", 1, "2,S", m, len, 1700000100, n); /* same base name again */
    ck_assert_int_eq(as_store_move_item(st, fid, id, find_name(fs, "Archive")->id, unit_pool, &nid),
                     APR_SUCCESS);
    ck_assert_str_ne(nid, id);
    ck_assert_int_eq(as_store_list_items(st, find_name(fs, "Archive")->id, unit_pool, &items, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 2);

    /* delete to trash: Trash is created on demand */
    ck_assert_int_eq(as_store_delete_item(st, find_name(fs, "Archive")->id, nid, 1), APR_SUCCESS);
    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_DELETED, 0, unit_pool, &trash),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_list_items(st, trash, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(items, 0, as_store_item_t).id, nid);
    /* deleting in Trash expunges */
    ck_assert_int_eq(as_store_delete_item(st, trash, nid, 1), APR_SUCCESS);
    ck_assert_int_eq(as_store_list_items(st, trash, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 0);
    /* hard delete */
    ck_assert_int_eq(as_store_delete_item(st, find_name(fs, "Archive")->id, id, 0), APR_SUCCESS);
    ck_assert_int_eq(as_store_list_items(st, find_name(fs, "Archive")->id, unit_pool, &items, NULL),
                     APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 0);

    /* deliver into Sent (created on demand) as seen, with a date */
    ck_assert_int_eq(as_store_special_folder(st, AS_FOLDER_SENT, 1, unit_pool, &sent), APR_SUCCESS);
    ck_assert_int_eq(as_store_deliver(st, sent, m, len, AS_STORE_SEEN,
                                      apr_time_from_sec(1600000000), unit_pool, &did),
                     APR_SUCCESS);
    ck_assert_int_eq(as_store_list_items(st, sent, unit_pool, &items, NULL), APR_SUCCESS);
    ck_assert_int_eq(items->nelts, 1);
    ck_assert_str_eq(APR_ARRAY_IDX(items, 0, as_store_item_t).id, did);
    ck_assert_uint_eq(APR_ARRAY_IDX(items, 0, as_store_item_t).flags, AS_STORE_SEEN);
    ck_assert(APR_ARRAY_IDX(items, 0, as_store_item_t).date == apr_time_from_sec(1600000000));
    ck_assert_int_eq(as_store_open_item(st, sent, did, unit_pool, &msg), APR_SUCCESS);
    ck_assert_int_eq(msg->item.size, (apr_off_t)len);
    /* into the Inbox: new/, no flags */
    ck_assert_int_eq(as_store_deliver(st, fid, m, len, 0, 0, unit_pool, &did), APR_SUCCESS);
    ck_assert_int_eq(as_store_stat_item(st, fid, did, unit_pool, &(as_store_item_t){0}),
                     APR_SUCCESS);
    /* nothing left in tmp/ */
    d = opendir(apr_pstrcat(unit_pool, root, "/tmp", NULL));
    while ((de = readdir(d)) != NULL) {
        ntmp += de->d_name[0] != '.';
    }
    closedir(d);
    ck_assert_int_eq(ntmp, 0);
    path_of(a, "new", "");
    free(m);
}
END_TEST

static void age_dir(const char *sub)
{
    char p[4096];
    struct timeval tv[2] = {{1600000000, 0}, {1600000000, 0}};
    snprintf(p, sizeof p, "%s/%s", root, sub);
    utimes(p, tv);
}

START_TEST(change_tokens)
{
    const char *fid, *t1, *t2, *t3, *id, *h1, *h2;
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    apr_array_header_t *items;

    st = open_store(NULL);
    fid = inbox_id();
    age_dir("new");
    age_dir("cur");
    ck_assert_int_eq(as_store_folder_token(st, fid, unit_pool, &t1), APR_SUCCESS);
    ck_assert_int_eq(as_store_folder_token(st, fid, unit_pool, &t2), APR_SUCCESS);
    ck_assert(as_store_token_same(t1, t2));
    ck_assert_uint_le(strlen(t1), AS_STORE_TOKEN_MAX);
    /* a delivery changes it (and the fresh directory is unsettled) */
    ck_assert_int_eq(as_store_deliver(st, fid, m, len, 0, 0, unit_pool, &id), APR_SUCCESS);
    ck_assert_int_eq(as_store_folder_token(st, fid, unit_pool, &t2), APR_SUCCESS);
    ck_assert(!as_store_token_same(t1, t2));
    ck_assert(!as_store_token_same(t2, t2)); /* unsettled: never "no change" */
    age_dir("new");
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, &t2), APR_SUCCESS);
    ck_assert_int_eq(as_store_folder_token(st, fid, unit_pool, &t3), APR_SUCCESS);
    ck_assert(as_store_token_same(t2, t3));
    /* a flag change (rename into cur/) changes it */
    ck_assert_int_eq(as_store_set_flags(st, fid, id, AS_STORE_SEEN, 0, NULL), APR_SUCCESS);
    ck_assert_int_eq(as_store_folder_token(st, fid, unit_pool, &t3), APR_SUCCESS);
    ck_assert(!as_store_token_same(t2, t3));
    ck_assert(!as_store_token_same(NULL, t3));
    /* hierarchy token */
    {
        struct timeval tv[2] = {{1600000000, 0}, {1600000000, 0}};
        const char *x;
        utimes(root, tv);
        ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &h1), APR_SUCCESS);
        ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &h2), APR_SUCCESS);
        ck_assert(as_store_token_same(h1, h2));
        ck_assert_int_eq(as_store_create_folder(st, "0", "New", unit_pool, &x), APR_SUCCESS);
        ck_assert_int_eq(as_store_hierarchy_token(st, unit_pool, &h2), APR_SUCCESS);
        ck_assert(!as_store_token_same(h1, h2));
    }
    /* watch paths */
    {
        apr_array_header_t *w;
        ck_assert_int_eq(as_store_watch_paths(st, fid, unit_pool, &w), APR_SUCCESS);
        ck_assert_int_eq(w->nelts, 2);
        ck_assert_str_eq(APR_ARRAY_IDX(w, 0, const char *),
                         apr_pstrcat(unit_pool, root, "/new", NULL));
    }
    free(m);
}
END_TEST

START_TEST(listing_10000)
{
    size_t len;
    char *m = mg_msg_plain(&len, 1);
    char name[256];
    const char *fid, *tok;
    apr_array_header_t *items;
    apr_time_t t0, t1, t2, t3;
    int i;
    struct stat sb;

    for (i = 0; i < 10000; i++) {
        mg_deliver(root, i % 10 ? "cur" : "new", (unsigned)i + 1,
                   i % 10 ? (i % 3 ? "2,S" : "2,FS") : NULL, m, len, 1700000000 + i * 60, name);
    }
    free(m);
    st = open_store(NULL);
    fid = inbox_id();
    /* just written: the directories are "hot", the read is checked twice */
    t0 = apr_time_now();
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, &tok), APR_SUCCESS);
    t1 = apr_time_now();
    ck_assert_int_eq(items->nelts, 10000);
    fprintf(stderr, "# listing 10000 messages right after delivery: %.1f ms\n",
            (double)(t1 - t0) / 1000.0);
    age_dir("new");
    age_dir("cur");
    st = open_store(NULL);
    t0 = apr_time_now();
    ck_assert_int_eq(as_store_list_items(st, fid, unit_pool, &items, &tok), APR_SUCCESS);
    t1 = apr_time_now();
    ck_assert_int_eq(items->nelts, 10000);
    /* all ids distinct (the listing would have salted a collision) */
    {
        apr_hash_t *h = apr_hash_make(unit_pool);
        for (i = 0; i < items->nelts; i++) {
            apr_hash_set(h, APR_ARRAY_IDX(items, i, as_store_item_t).id, APR_HASH_KEY_STRING, "");
        }
        ck_assert_int_eq((int)apr_hash_count(h), 10000);
    }
    /* resolving one id (fresh handle: one scan without stat) */
    st = open_store(NULL);
    t2 = apr_time_now();
    ck_assert_int_eq(as_store_stat_item(st, fid, APR_ARRAY_IDX(items, 5000, as_store_item_t).id,
                                        unit_pool, &(as_store_item_t){0}),
                     APR_SUCCESS);
    t3 = apr_time_now();
    fprintf(stderr, "# listing 10000 messages: %.1f ms; resolving one id: %.1f ms\n",
            (double)(t1 - t0) / 1000.0, (double)(t3 - t2) / 1000.0);
    /* the no-change check is two stat()s; time 1000 of them */
    t0 = apr_time_now();
    for (i = 0; i < 1000; i++) {
        ck_assert_int_eq(as_store_folder_token(st, fid, unit_pool, &tok), APR_SUCCESS);
    }
    t1 = apr_time_now();
    fprintf(stderr, "# folder token (no-change check): %.2f us each\n", (double)(t1 - t0) / 1000.0);
    ck_assert_int_eq(stat(root, &sb), 0);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("maildir");
    TCase *tc = tcase_create("maildir");

    tcase_add_checked_fixture(tc, md_setup, md_teardown);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, folder_tree);
    tcase_add_test(tc, special_alternatives);
    tcase_add_test(tc, open_missing);
    tcase_add_test(tc, item_ids_stable);
    tcase_add_test(tc, flags_by_rename);
    tcase_add_test(tc, open_races);
    tcase_add_test(tc, listing_during_renames);
    tcase_add_test(tc, move_delete_deliver);
    tcase_add_test(tc, change_tokens);
    tcase_add_test(tc, listing_10000);
    suite_add_tcase(s, tc);
    return s;
}
