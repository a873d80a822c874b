/* The directory: CRUD of domains, classes and accounts, and the whole
 * inheritance matrix (every combination of set/unset at domain, class and
 * account level, per option, checking value and source). */
#include <apr_strings.h>

#include "activesync/as_account_service.h"
#include "activesync/as_cap.h"
#include "activesync/as_directory.h"
#include "testdb.h"
#include "unit.h"

static char *dir;
static as_db_t *db;

static void setup(void)
{
    unit_pool_setup();
    dir = testdb_mkdtemp();
    db = testdb_open(dir);
}

static void teardown(void)
{
    as_db_close(db);
    db = NULL;
    testdb_rmrf(dir);
    free(dir);
    unit_pool_teardown();
}

static as_optedit_t edit_words(const char *const *words, int unset, int allow_class)
{
    as_optedit_t e;
    const char *err;
    memset(&e, 0, sizeof(e));
    for (; *words; words++) {
        apr_status_t rv = unset ? as_optedit_parse_unset(unit_pool, &e, *words, allow_class, &err)
                                : as_optedit_parse_set(unit_pool, &e, *words, allow_class, &err);
        ck_assert_msg(rv == APR_SUCCESS, "parse %s: %s", *words, err);
    }
    return e;
}

static void set1(const char *what, const char *name, const char *word)
{
    const char *words[2] = {word, NULL};
    as_optedit_t e = edit_words(words, 0, !strcmp(what, "account"));
    const char *err = NULL;
    apr_status_t rv;

    if (!strcmp(what, "domain")) {
        rv = as_dir_domain_update(db, unit_pool, name, &e, &err);
    } else if (!strcmp(what, "class")) {
        const char *d, *c;
        ck_assert(as_dir_class_path(unit_pool, name, &d, &c, &err) == APR_SUCCESS);
        rv = as_dir_class_update(db, unit_pool, d, c, &e, &err);
    } else {
        rv = as_svc_account_update(db, unit_pool, name, &e, NULL, &err);
    }
    ck_assert_msg(rv == APR_SUCCESS, "%s set %s %s: %s", what, name, word, err ? err : "?");
}

/* ---- the pure resolution rule -------------------------------------------- */

START_TEST(resolve_rule_exhaustive)
{
    /* Each level: 0 absent (NULL), 1 present but unset, 2 on, 3 off. */
    int d, c, a, o;
    for (o = 0; o < AS_OPT_COUNT; o++) {
        for (d = 0; d < 4; d++) {
            for (c = 0; c < 4; c++) {
                for (a = 0; a < 4; a++) {
                    as_optset_t ds = {0, 0}, cs = {0, 0}, as = {0, 0};
                    as_effective_t eff;
                    int want;
                    as_src_t src;
                    if (d >= 2) {
                        as_optset_set(&ds, o, d == 2);
                    }
                    if (c >= 2) {
                        as_optset_set(&cs, o, c == 2);
                    }
                    if (a >= 2) {
                        as_optset_set(&as, o, a == 2);
                    }
                    as_opts_resolve(d ? &ds : NULL, c ? &cs : NULL, a ? &as : NULL, &eff);
                    if (a >= 2) {
                        want = a == 2, src = AS_SRC_ACCOUNT;
                    } else if (c >= 2) {
                        want = c == 2, src = AS_SRC_CLASS;
                    } else if (d >= 2) {
                        want = d == 2, src = AS_SRC_DOMAIN;
                    } else {
                        want = o == AS_OPT_ACTIVESYNC ? 0 : 1, src = AS_SRC_BUILTIN;
                    }
                    ck_assert_int_eq(eff.value[o], want);
                    ck_assert_int_eq(eff.source[o], src);
                }
            }
        }
    }
}
END_TEST

START_TEST(builtin_defaults)
{
    as_effective_t eff;
    as_opts_resolve(NULL, NULL, NULL, &eff);
    ck_assert_int_eq(eff.value[AS_OPT_ACTIVESYNC], 0);
    ck_assert_int_eq(eff.value[AS_OPT_EMAIL], 1);
    ck_assert_int_eq(eff.value[AS_OPT_CONTACTS], 1);
    ck_assert_int_eq(eff.value[AS_OPT_PIM], 1);
    ck_assert_str_eq(as_src_name(eff.source[AS_OPT_PIM]), "built-in");
    ck_assert_str_eq(as_opt_name(AS_OPT_CONTACTS), "contacts");
    ck_assert_int_eq(as_opt_from_name("PIM"), AS_OPT_PIM);
    ck_assert_int_eq(as_opt_from_name("calendar"), -1);
}
END_TEST

/* ---- the whole matrix through the store ---------------------------------------- */

enum { D_UNKNOWN, D_UNSET, D_ON, D_OFF, D_N };
enum { C_NONE, C_UNSET, C_ON, C_OFF, C_N };
enum { A_NOREC, A_UNSET, A_ON, A_OFF, A_N };
static const char *const dnames[] = {"unknown", "unset", "on", "off"};
static const char *const cnames[] = {"none", "unset", "on", "off"};
static const char *const anames[] = {"norec", "unset", "on", "off"};

/* The option used to give an "unset" account a record. */
static int other_opt(int o)
{
    return (o + 1) % AS_OPT_COUNT;
}

START_TEST(inheritance_matrix)
{
    int o = _i; /* one loop iteration per option */
    int d, c, a, checked = 0;
    const char *on = apr_psprintf(unit_pool, "%s=on", as_opt_name(o));
    const char *off = apr_psprintf(unit_pool, "%s=off", as_opt_name(o));

    /* Build: one domain per domain state, three classes in each known domain,
     * one account per (class state, account state). */
    for (d = 0; d < D_N; d++) {
        const char *dom = apr_psprintf(unit_pool, "d%s.o%d.test", dnames[d], o);
        if (d == D_UNKNOWN) {
            continue;
        }
        ck_assert(as_dir_domain_add(db, unit_pool, dom, NULL) == APR_SUCCESS);
        if (d == D_ON) {
            set1("domain", dom, on);
        } else if (d == D_OFF) {
            set1("domain", dom, off);
        }
        for (c = C_UNSET; c < C_N; c++) {
            const char *cp = apr_psprintf(unit_pool, "%s/c%s", dom, cnames[c]);
            ck_assert(as_dir_class_add(db, unit_pool, dom,
                                       apr_psprintf(unit_pool, "c%s", cnames[c]),
                                       NULL) == APR_SUCCESS);
            if (c == C_ON) {
                set1("class", cp, on);
            } else if (c == C_OFF) {
                set1("class", cp, off);
            }
        }
        for (c = 0; c < C_N; c++) {
            for (a = 0; a < A_N; a++) {
                const char *addr = apr_psprintf(unit_pool, "u-%s-%s@%s", cnames[c], anames[a], dom);
                if (a == A_NOREC && c != C_NONE) {
                    continue; /* membership needs a record */
                }
                if (c != C_NONE) {
                    set1("account", addr, apr_psprintf(unit_pool, "class=c%s", cnames[c]));
                }
                if (a == A_UNSET && c == C_NONE) {
                    /* A record that leaves option o inherited. */
                    set1("account", addr,
                         apr_psprintf(unit_pool, "%s=%s", as_opt_name(other_opt(o)),
                                      other_opt(o) == AS_OPT_ACTIVESYNC ? "on" : "off"));
                }
                if (a == A_ON) {
                    set1("account", addr, on);
                } else if (a == A_OFF) {
                    set1("account", addr, off);
                }
            }
        }
    }

    /* Check every combination against an independent oracle. */
    for (d = 0; d < D_N; d++) {
        const char *dom = apr_psprintf(unit_pool, "d%s.o%d.test", dnames[d], o);
        for (c = 0; c < C_N; c++) {
            for (a = 0; a < A_N; a++) {
                const char *addr = apr_psprintf(unit_pool, "u-%s-%s@%s", cnames[c], anames[a], dom);
                as_dir_account_t acct;
                int want, i;
                as_src_t src;
                const char *err = NULL;

                if (a == A_NOREC && c != C_NONE) {
                    continue;
                }
                if (d == D_UNKNOWN && (c != C_NONE || a != A_NOREC)) {
                    continue; /* impossible: checked separately below */
                }
                ck_assert(as_svc_account_get(db, unit_pool, addr, &acct, &err) == APR_SUCCESS);
                if (a == A_ON || a == A_OFF) {
                    want = a == A_ON, src = AS_SRC_ACCOUNT;
                } else if (c == C_ON || c == C_OFF) {
                    want = c == C_ON, src = AS_SRC_CLASS;
                } else if (d == D_ON || d == D_OFF) {
                    want = d == D_ON, src = AS_SRC_DOMAIN;
                } else {
                    want = o == AS_OPT_ACTIVESYNC ? 0 : 1, src = AS_SRC_BUILTIN;
                }
                ck_assert_msg(acct.eff.value[o] == want && acct.eff.source[o] == src,
                              "%s option %s: got %d from %s, want %d from %s", addr, as_opt_name(o),
                              acct.eff.value[o], as_src_name(acct.eff.source[o]), want,
                              as_src_name(src));
                ck_assert_int_eq(acct.has_record, a != A_NOREC);
                ck_assert_int_eq(acct.domain_known, d != D_UNKNOWN);
                if (c != C_NONE) {
                    ck_assert_str_eq(acct.class_name, apr_psprintf(unit_pool, "c%s", cnames[c]));
                    ck_assert(acct.class_known);
                } else {
                    ck_assert_ptr_null(acct.class_name);
                }
                /* The explicit flags say exactly what was set on the account. */
                ck_assert_int_eq(as_optset_has(&acct.opts, o), a == A_ON || a == A_OFF);
                /* Other options: untouched ones are built-in. */
                for (i = 0; i < AS_OPT_COUNT; i++) {
                    if (i == o) {
                        continue;
                    }
                    if (i == other_opt(o) && a == A_UNSET && c == C_NONE) {
                        ck_assert_int_eq(acct.eff.source[i], AS_SRC_ACCOUNT);
                        ck_assert_int_eq(acct.eff.value[i], i == AS_OPT_ACTIVESYNC);
                        continue;
                    }
                    ck_assert_int_eq(acct.eff.source[i], AS_SRC_BUILTIN);
                    ck_assert_int_eq(acct.eff.value[i], i != AS_OPT_ACTIVESYNC);
                }
                checked++;
            }
        }
        /* Class views: what a member without own settings gets. */
        if (d != D_UNKNOWN) {
            as_dir_domain_t dv;
            ck_assert(as_dir_domain_get(db, unit_pool, dom, &dv, NULL) == APR_SUCCESS);
            ck_assert_int_eq(dv.eff.source[o], d == D_UNSET ? AS_SRC_BUILTIN : AS_SRC_DOMAIN);
            ck_assert_int_eq(dv.nclasses, 3);
            for (c = C_UNSET; c < C_N; c++) {
                as_dir_class_t cv;
                ck_assert(as_dir_class_get(db, unit_pool, dom,
                                           apr_psprintf(unit_pool, "c%s", cnames[c]), &cv,
                                           NULL) == APR_SUCCESS);
                if (c == C_UNSET) {
                    ck_assert_int_eq(cv.eff.source[o],
                                     d == D_UNSET ? AS_SRC_BUILTIN : AS_SRC_DOMAIN);
                } else {
                    ck_assert_int_eq(cv.eff.source[o], AS_SRC_CLASS);
                    ck_assert_int_eq(cv.eff.value[o], c == C_ON);
                }
                ck_assert_int_eq(cv.nmembers, 3); /* unset, on, off accounts */
            }
        }
    }
    ck_assert_int_eq(checked, 3 * (4 + 3 * 3) + 1); /* 3 known domains x 13 + unknown */

    /* The unknown domain: resolution gives built-ins; nothing can be set. */
    {
        const char *dom = apr_psprintf(unit_pool, "dunknown.o%d.test", o);
        const char *err = NULL;
        as_optedit_t e;
        const char *w[2] = {on, NULL};
        e = edit_words(w, 0, 1);
        ck_assert_int_eq(as_svc_account_update(db, unit_pool, apr_psprintf(unit_pool, "x@%s", dom),
                                               &e, NULL, &err),
                         AS_DIR_ENODOMAIN);
        ck_assert_ptr_nonnull(strstr(err, "unknown domain"));
        ck_assert_int_eq(as_dir_class_add(db, unit_pool, dom, "c", &err), AS_DIR_ENODOMAIN);
    }
}
END_TEST

START_TEST(all_options_mixed_levels)
{
    as_dir_account_t a;
    /* activesync from the domain, email from the class, contacts from the
     * account, pim built-in. */
    ck_assert(as_dir_domain_add(db, unit_pool, "Example.ORG", NULL) == APR_SUCCESS);
    set1("domain", "example.org", "activesync=on");
    ck_assert(as_dir_class_add(db, unit_pool, "example.org", "Staff", NULL) == APR_SUCCESS);
    set1("class", "example.org/staff", "email=off");
    set1("account", "Bob@Example.org", "class=staff");
    set1("account", "bob@example.org", "contacts=off");
    ck_assert(as_svc_account_get(db, unit_pool, "BOB@example.org", &a, NULL) == APR_SUCCESS);
    ck_assert_str_eq(a.address, "bob@example.org");
    ck_assert_int_eq(a.eff.value[AS_OPT_ACTIVESYNC], 1);
    ck_assert_int_eq(a.eff.source[AS_OPT_ACTIVESYNC], AS_SRC_DOMAIN);
    ck_assert_int_eq(a.eff.value[AS_OPT_EMAIL], 0);
    ck_assert_int_eq(a.eff.source[AS_OPT_EMAIL], AS_SRC_CLASS);
    ck_assert_int_eq(a.eff.value[AS_OPT_CONTACTS], 0);
    ck_assert_int_eq(a.eff.source[AS_OPT_CONTACTS], AS_SRC_ACCOUNT);
    ck_assert_int_eq(a.eff.value[AS_OPT_PIM], 1);
    ck_assert_int_eq(a.eff.source[AS_OPT_PIM], AS_SRC_BUILTIN);

    /* Unsetting everything removes the record: back to pure inheritance. */
    {
        const char *w[] = {"contacts", "class", NULL};
        as_optedit_t e = edit_words(w, 1, 1);
        ck_assert(as_svc_account_update(db, unit_pool, "bob@example.org", &e, NULL, NULL) ==
                  APR_SUCCESS);
    }
    ck_assert(as_svc_account_get(db, unit_pool, "bob@example.org", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.has_record, 0);
    ck_assert_int_eq(a.eff.source[AS_OPT_EMAIL], AS_SRC_BUILTIN);
    ck_assert_int_eq(a.eff.source[AS_OPT_ACTIVESYNC], AS_SRC_DOMAIN);

    /* Domain unset: back to built-in. */
    {
        const char *w[] = {"activesync", NULL};
        as_optedit_t e = edit_words(w, 1, 0);
        ck_assert(as_dir_domain_update(db, unit_pool, "example.org", &e, NULL) == APR_SUCCESS);
    }
    ck_assert(as_svc_account_get(db, unit_pool, "bob@example.org", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.eff.value[AS_OPT_ACTIVESYNC], 0);
    ck_assert_int_eq(a.eff.source[AS_OPT_ACTIVESYNC], AS_SRC_BUILTIN);
}
END_TEST

/* ---- CRUD and errors ---------------------------------------------------------- */

START_TEST(domain_crud)
{
    apr_array_header_t *arr;
    as_dir_domain_t *d;
    const char *err = NULL;

    ck_assert(as_dir_domain_add(db, unit_pool, "b.test", NULL) == APR_SUCCESS);
    ck_assert(as_dir_domain_add(db, unit_pool, "a.test", NULL) == APR_SUCCESS);
    ck_assert_int_eq(as_dir_domain_add(db, unit_pool, "A.test", &err), AS_DIR_EEXIST);
    ck_assert_ptr_nonnull(strstr(err, "already exists"));
    ck_assert_int_eq(as_dir_domain_add(db, unit_pool, "bad_domain", &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_dir_domain_add(db, unit_pool, "-x.test", &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_dir_domain_add(db, unit_pool, "x..test", &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_dir_domain_add(db, unit_pool, "", &err), AS_DIR_EINVAL);
    ck_assert(as_dir_domain_list(db, unit_pool, &arr, NULL) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 2);
    d = &APR_ARRAY_IDX(arr, 0, as_dir_domain_t);
    ck_assert_str_eq(d->name, "a.test");
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 1, as_dir_domain_t).name, "b.test");
    ck_assert_int_eq(as_dir_domain_get(db, unit_pool, "c.test", d, &err), AS_DIR_ENODOMAIN);
    ck_assert_str_eq(err, "unknown domain 'c.test'");
    ck_assert_int_eq(as_svc_domain_remove(db, unit_pool, "c.test", 0, &err), AS_DIR_ENODOMAIN);
    ck_assert(as_svc_domain_remove(db, unit_pool, "a.test", 0, NULL) == APR_SUCCESS);
    ck_assert(as_dir_domain_list(db, unit_pool, &arr, NULL) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 1);
}
END_TEST

START_TEST(domain_remove_refuses_then_cascades)
{
    const char *err = NULL;
    as_dir_account_t a;
    as_cap_decision_t dec;
    apr_array_header_t *arr;
    unsigned n;

    ck_assert(as_dir_domain_add(db, unit_pool, "x.test", NULL) == APR_SUCCESS);
    ck_assert(as_dir_domain_add(db, unit_pool, "y.test", NULL) == APR_SUCCESS);
    set1("domain", "x.test", "activesync=on");
    set1("domain", "y.test", "activesync=on");
    ck_assert(as_dir_class_add(db, unit_pool, "x.test", "k", NULL) == APR_SUCCESS);
    set1("account", "a@x.test", "class=k");
    ck_assert(as_cap_admit(db, unit_pool, "b@x.test", NULL, &dec) == APR_SUCCESS);
    ck_assert_int_eq(dec.result, AS_CAP_ADMITTED);
    ck_assert(as_cap_admit(db, unit_pool, "c@y.test", NULL, &dec) == APR_SUCCESS);
    ck_assert_int_eq(as_svc_domain_remove(db, unit_pool, "x.test", 0, &err), AS_DIR_ENOTEMPTY);
    ck_assert_ptr_nonnull(strstr(err, "--force"));
    ck_assert(as_svc_domain_remove(db, unit_pool, "x.test", 1, &err) == APR_SUCCESS);
    ck_assert(as_svc_account_get(db, unit_pool, "a@x.test", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.has_record, 0);
    ck_assert_int_eq(a.domain_known, 0);
    ck_assert(as_svc_account_get(db, unit_pool, "b@x.test", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.registered, 0);
    ck_assert(as_dir_class_list(db, unit_pool, NULL, &arr, NULL) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 0);
    ck_assert(as_cap_count(db, &n) == APR_SUCCESS);
    ck_assert_int_eq(n, 1); /* c@y.test only */
    /* Re-adding the domain starts clean. */
    ck_assert(as_dir_domain_add(db, unit_pool, "x.test", NULL) == APR_SUCCESS);
    ck_assert(as_dir_class_list(db, unit_pool, "x.test", &arr, NULL) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 0);
}
END_TEST

START_TEST(class_crud)
{
    const char *err = NULL, *d, *c;
    apr_array_header_t *arr;
    as_dir_account_t a;
    as_dir_class_t cv;

    ck_assert_int_eq(as_dir_class_add(db, unit_pool, "none.test", "k", &err), AS_DIR_ENODOMAIN);
    ck_assert_ptr_nonnull(strstr(err, "unknown domain 'none.test'"));
    ck_assert(as_dir_domain_add(db, unit_pool, "x.test", NULL) == APR_SUCCESS);
    ck_assert(as_dir_class_add(db, unit_pool, "x.test", "Teachers", NULL) == APR_SUCCESS);
    ck_assert(as_dir_class_add(db, unit_pool, "x.test", "pupils", NULL) == APR_SUCCESS);
    ck_assert_int_eq(as_dir_class_add(db, unit_pool, "x.test", "teachers", &err), AS_DIR_EEXIST);
    ck_assert_int_eq(as_dir_class_add(db, unit_pool, "x.test", "bad/name", &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_dir_class_path(unit_pool, "x.test", &d, &c, &err), AS_DIR_EINVAL);
    ck_assert(as_dir_class_list(db, unit_pool, "x.test", &arr, NULL) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 2);
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 0, as_dir_class_t).name, "pupils");
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 1, as_dir_class_t).name, "teachers");
    ck_assert_int_eq(as_dir_class_get(db, unit_pool, "x.test", "nope", &cv, &err), AS_DIR_ENOCLASS);
    ck_assert_str_eq(err, "unknown class 'x.test/nope'");
    ck_assert_int_eq(as_dir_class_list(db, unit_pool, "none.test", &arr, &err), AS_DIR_ENODOMAIN);

    /* Membership: unknown class refused. */
    {
        const char *w[] = {"class=nope", NULL};
        as_optedit_t e = edit_words(w, 0, 1);
        ck_assert_int_eq(as_svc_account_update(db, unit_pool, "a@x.test", &e, NULL, &err),
                         AS_DIR_ENOCLASS);
        ck_assert_ptr_nonnull(strstr(err, "unknown class 'x.test/nope'"));
    }
    set1("account", "a@x.test", "class=pupils");
    set1("account", "b@x.test", "class=pupils");
    set1("account", "b@x.test", "pim=off");
    ck_assert_int_eq(as_dir_class_remove(db, unit_pool, "x.test", "pupils", 0, &err),
                     AS_DIR_ENOTEMPTY);
    ck_assert_ptr_nonnull(strstr(err, "2 member(s)"));
    ck_assert(as_dir_class_remove(db, unit_pool, "x.test", "pupils", 1, NULL) == APR_SUCCESS);
    ck_assert(as_svc_account_get(db, unit_pool, "a@x.test", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.has_record, 0);
    ck_assert(as_svc_account_get(db, unit_pool, "b@x.test", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.has_record, 1);
    ck_assert_ptr_null(a.class_name);
    ck_assert_int_eq(a.eff.value[AS_OPT_PIM], 0);
    ck_assert_int_eq(as_dir_class_remove(db, unit_pool, "x.test", "pupils", 0, &err),
                     AS_DIR_ENOCLASS);
}
END_TEST

START_TEST(account_crud_and_parsing)
{
    const char *err = NULL, *out, *dom;
    as_optedit_t e;
    apr_array_header_t *arr;
    as_dir_account_t a;

    memset(&e, 0, sizeof(e));
    ck_assert_int_eq(as_optedit_parse_set(unit_pool, &e, "calendar=on", 1, &err), AS_DIR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "unknown option 'calendar'"));
    ck_assert_int_eq(as_optedit_parse_set(unit_pool, &e, "email=maybe", 1, &err), AS_DIR_EINVAL);
    ck_assert_ptr_nonnull(strstr(err, "bad value 'maybe'"));
    ck_assert_int_eq(as_optedit_parse_set(unit_pool, &e, "email", 1, &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_optedit_parse_set(unit_pool, &e, "class=x", 0, &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_optedit_parse_unset(unit_pool, &e, "email=on", 1, &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_optedit_parse_unset(unit_pool, &e, "class", 0, &err), AS_DIR_EINVAL);
    ck_assert(as_optedit_parse_set(unit_pool, &e, "EMAIL=Yes", 0, &err) == APR_SUCCESS);
    ck_assert_int_eq(e.set_mask, 1 << AS_OPT_EMAIL);
    ck_assert_int_eq(e.set_value, 1 << AS_OPT_EMAIL);

    ck_assert(as_dir_account_name(unit_pool, "John.Doe+x@Mail.Example.ORG", &out, &dom, &err) ==
              APR_SUCCESS);
    ck_assert_str_eq(out, "john.doe+x@mail.example.org");
    ck_assert_str_eq(dom, "mail.example.org");
    ck_assert_int_eq(as_dir_account_name(unit_pool, "nodomain", &out, &dom, &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_dir_account_name(unit_pool, "a b@x.test", &out, &dom, &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_dir_account_name(unit_pool, "a/b@x.test", &out, &dom, &err), AS_DIR_EINVAL);
    ck_assert_int_eq(as_dir_account_name(unit_pool, "@x.test", &out, &dom, &err), AS_DIR_EINVAL);

    ck_assert(as_dir_domain_add(db, unit_pool, "x.test", NULL) == APR_SUCCESS);
    ck_assert(as_dir_domain_add(db, unit_pool, "w.test", NULL) == APR_SUCCESS);
    set1("account", "zed@x.test", "email=off");
    set1("account", "amy@x.test", "pim=off");
    set1("account", "bob@w.test", "contacts=off");
    ck_assert(as_svc_account_list(db, unit_pool, NULL, &arr, NULL) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 3);
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 0, as_dir_account_t).address, "bob@w.test");
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 1, as_dir_account_t).address, "amy@x.test");
    ck_assert_str_eq(APR_ARRAY_IDX(arr, 2, as_dir_account_t).address, "zed@x.test");
    ck_assert(as_svc_account_list(db, unit_pool, "x.test", &arr, NULL) == APR_SUCCESS);
    ck_assert_int_eq(arr->nelts, 2);
    ck_assert_int_eq(APR_ARRAY_IDX(arr, 1, as_dir_account_t).eff.value[AS_OPT_EMAIL], 0);

    ck_assert(as_svc_account_remove(db, unit_pool, "zed@x.test", NULL) == APR_SUCCESS);
    ck_assert_int_eq(as_svc_account_remove(db, unit_pool, "zed@x.test", &err), AS_DIR_ENOACCOUNT);
    ck_assert_ptr_nonnull(strstr(err, "no such account"));
    ck_assert(as_svc_account_get(db, unit_pool, "zed@x.test", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.has_record, 0);

    /* An authenticated user with no record inherits everything. */
    ck_assert(as_svc_account_get(db, unit_pool, "new@x.test", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.has_record, 0);
    ck_assert_int_eq(a.domain_known, 1);
    ck_assert_int_eq(a.eff.source[AS_OPT_EMAIL], AS_SRC_BUILTIN);
}
END_TEST

START_TEST(records_survive_reopen)
{
    as_dir_account_t a;
    ck_assert(as_dir_domain_add(db, unit_pool, "x.test", NULL) == APR_SUCCESS);
    set1("domain", "x.test", "pim=off");
    set1("account", "a@x.test", "email=off");
    as_db_close(db);
    db = testdb_open(dir);
    ck_assert(as_svc_account_get(db, unit_pool, "a@x.test", &a, NULL) == APR_SUCCESS);
    ck_assert_int_eq(a.eff.value[AS_OPT_EMAIL], 0);
    ck_assert_int_eq(a.eff.source[AS_OPT_EMAIL], AS_SRC_ACCOUNT);
    ck_assert_int_eq(a.eff.value[AS_OPT_PIM], 0);
    ck_assert_int_eq(a.eff.source[AS_OPT_PIM], AS_SRC_DOMAIN);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("directory");
    TCase *tc = tcase_create("rule");
    TCase *td = tcase_create("store");

    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, resolve_rule_exhaustive);
    tcase_add_test(tc, builtin_defaults);
    suite_add_tcase(s, tc);

    tcase_add_checked_fixture(td, setup, teardown);
    tcase_set_timeout(td, 30);
    tcase_add_loop_test(td, inheritance_matrix, 0, AS_OPT_COUNT);
    tcase_add_test(td, all_options_mixed_levels);
    tcase_add_test(td, domain_crud);
    tcase_add_test(td, domain_remove_refuses_then_cascades);
    tcase_add_test(td, class_crud);
    tcase_add_test(td, account_crud_and_parsing);
    tcase_add_test(td, records_survive_reopen);
    suite_add_tcase(s, td);
    return s;
}
