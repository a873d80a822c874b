/* The directory: domains, classes, accounts and option resolution.  See
 * as_directory.h for the rules and the record encoding. */
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include <apr_hash.h>
#include <apr_strings.h>

#include "activesync/as_directory.h"
#include "activesync/as_policy.h"
#include "as_directory_record.h"

/* ---- operation context ------------------------------------------------------ */

typedef struct op_t {
    apr_pool_t *p;
    const char *domain, *cls, *address, *local;
    int force;
    const as_optedit_t *edit;
    const char *err; /* message on failure */
    void *out;
    apr_array_header_t *arr;
} op_t;

/* One transaction with a sentence for a person on failure (as_db_fail). */
#define fail(op, code, ...)         as_db_fail((op)->p, &(op)->err, (code), __VA_ARGS__)
#define run(db, flags, fn, op, out) as_db_txn_explained(db, flags, fn, op, &(op)->err, out)

/* Read the record of op's class ('c', op->cls set) or domain ('d') into r,
 * with its key; an unknown one fails with the usual message. */
static int rec_need(DB *d, DB_TXN *txn, op_t *op, char kind, char *key, size_t *kl, rec_t *r,
                    int rmw)
{
    int rc;
    *kl = as_dirrec_key(key, kind, op->domain, kind == 'c' ? op->cls : NULL);
    rc = as_dirrec_get(d, txn, key, *kl, r, rmw);
    if (rc != DB_NOTFOUND) {
        return rc;
    }
    if (kind == 'c') {
        return fail(op, AS_DIR_ENOCLASS, "unknown class '%s/%s'", op->domain, op->cls);
    }
    return fail(op, AS_DIR_ENODOMAIN, "unknown domain '%s'", op->domain);
}

static int need_domain(as_db_t *db, DB_TXN *txn, op_t *op, rec_t *r)
{
    char key[KEY_MAX];
    size_t kl = as_dirrec_key(key, 'd', op->domain, NULL);
    rec_t tmp;
    int rc = as_dirrec_get(as_db_handle(db, AS_DB_DIRECTORY), txn, key, kl, r ? r : &tmp, 0);
    if (rc == DB_NOTFOUND) {
        return fail(op, AS_DIR_ENODOMAIN, "unknown domain '%s' (add it with: domain add %s)",
                    op->domain, op->domain);
    }
    return rc;
}

/* Add op's class (op->cls set, its domain must exist) or domain, empty. */
static int txn_add(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    DB *d = as_db_handle(db, AS_DB_DIRECTORY);
    char key[KEY_MAX];
    size_t kl = as_dirrec_key(key, op->cls ? 'c' : 'd', op->domain, op->cls);
    rec_t r;
    as_optset_t none = {0, 0};
    int rc;

    op->err = NULL;
    if (op->cls && (rc = need_domain(db, txn, op, NULL)) != 0) {
        return rc;
    }
    rc = as_dirrec_get(d, txn, key, kl, &r, 1);
    if (rc == 0) {
        return op->cls
                   ? fail(op, AS_DIR_EEXIST, "class '%s/%s' already exists", op->domain, op->cls)
                   : fail(op, AS_DIR_EEXIST, "domain '%s' already exists", op->domain);
    }
    if (rc != DB_NOTFOUND) {
        return rc;
    }
    return as_dirrec_put(d, txn, key, kl, &none, NULL, NULL, NULL, 0);
}

/* Apply op->edit to op's class (op->cls set, its domain must exist) or domain. */
static int txn_update(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    DB *d = as_db_handle(db, AS_DB_DIRECTORY);
    char key[KEY_MAX];
    size_t kl;
    rec_t r;
    int rc;

    op->err = NULL;
    if (op->cls && (rc = need_domain(db, txn, op, NULL)) != 0) {
        return rc;
    }
    if ((rc = rec_need(d, txn, op, op->cls ? 'c' : 'd', key, &kl, &r, 1)) != 0) {
        return rc;
    }
    as_dirrec_apply_edit(&r.opts, &r.pol, op->edit);
    return as_dirrec_put(d, txn, key, kl, &r.opts, NULL, &r.pol, r.ident, r.ident_len);
}

/* Listing: collect the records under a prefix, then fill one output item
 * per record with the kind's callback. */
typedef struct list_t {
    apr_pool_t *p;
    apr_array_header_t *names; /* keys without prefix */
    apr_array_header_t *recs;  /* rec_t */
} list_t;

typedef int fill_fn(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *name, const rec_t *r,
                    void *out);

static int list_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    list_t *l = baton;
    rec_t *r = apr_array_push(l->recs);
    int rc = as_dirrec_decode(val, vlen, r);
    if (rc != 0) {
        return rc;
    }
    APR_ARRAY_PUSH(l->names, const char *) = apr_pstrmemdup(l->p, (const char *)key + 2, klen - 2);
    return 0;
}

static int list_fill(as_db_t *db, DB_TXN *txn, op_t *op, char kind, size_t elt, fill_fn *fill)
{
    list_t l;
    int rc, i;

    l.p = op->p;
    l.names = apr_array_make(op->p, 8, sizeof(const char *));
    l.recs = apr_array_make(op->p, 8, sizeof(rec_t));
    op->arr = apr_array_make(op->p, 8, (int)elt);
    if ((rc = as_dirrec_scan(as_db_handle(db, AS_DB_DIRECTORY), txn, kind, op->domain, list_cb,
                             &l)) != 0) {
        return rc;
    }
    for (i = 0; i < l.names->nelts; i++) {
        rc = fill(db, txn, op->p, APR_ARRAY_IDX(l.names, i, const char *),
                  &APR_ARRAY_IDX(l.recs, i, rec_t), apr_array_push(op->arr));
        if (rc != 0) {
            return rc;
        }
    }
    return 0;
}

/* Run a list transaction, for domain's items only when domain is set. */
static apr_status_t list_op(as_db_t *db, apr_pool_t *p, const char *domain, as_db_txn_fn *fn,
                            apr_array_header_t **out, const char **err)
{
    op_t op = {0};
    apr_status_t rv;

    op.p = p;
    *out = NULL;
    if (domain && as_dir_domain_name(p, domain, &op.domain, err ? err : &op.err) != APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    rv = run(db, AS_DB_TXN_READ, fn, &op, err);
    if (rv == APR_SUCCESS) {
        *out = op.arr;
    }
    return rv;
}

/* ---- domains ---------------------------------------------------------------- */

apr_status_t as_dir_domain_add(as_db_t *db, apr_pool_t *p, const char *name, const char **err)
{
    op_t op = {0};
    op.p = p;
    if (as_dir_domain_name(p, name, &op.domain, err ? err : &op.err) != APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    return run(db, 0, txn_add, &op, err);
}

static int fill_domain(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *name, const rec_t *r,
                       void *vout)
{
    DB *d = as_db_handle(db, AS_DB_DIRECTORY);
    as_dir_domain_t *out = vout;
    int rc;

    memset(out, 0, sizeof(*out));
    out->name = apr_pstrdup(p, name);
    out->opts = r->opts;
    out->mtime = r->mtime;
    out->pol = as_dirrec_pol_dup(p, &r->pol);
    as_opts_resolve(&r->opts, NULL, NULL, &out->eff);
    if ((rc = as_dirrec_scan_count(d, txn, 'c', name, NULL, &out->nclasses)) != 0) {
        return rc;
    }
    return as_dirrec_scan_count(d, txn, 'a', name, NULL, &out->naccounts);
}

static int txn_domain_get(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    char key[KEY_MAX];
    size_t kl;
    rec_t r;
    int rc = rec_need(as_db_handle(db, AS_DB_DIRECTORY), txn, op, 'd', key, &kl, &r, 0);

    if (rc != 0) {
        return rc;
    }
    return fill_domain(db, txn, op->p, op->domain, &r, op->out);
}

apr_status_t as_dir_domain_get(as_db_t *db, apr_pool_t *p, const char *name, as_dir_domain_t *out,
                               const char **err)
{
    op_t op = {0};
    op.p = p;
    op.out = out;
    if (as_dir_domain_name(p, name, &op.domain, err ? err : &op.err) != APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    return run(db, AS_DB_TXN_READ, txn_domain_get, &op, err);
}

static int txn_domain_list(as_db_t *db, DB_TXN *txn, void *baton)
{
    return list_fill(db, txn, baton, 'd', sizeof(as_dir_domain_t), fill_domain);
}

apr_status_t as_dir_domain_list(as_db_t *db, apr_pool_t *p, apr_array_header_t **out,
                                const char **err)
{
    return list_op(db, p, NULL, txn_domain_list, out, err);
}

apr_status_t as_dir_domain_update(as_db_t *db, apr_pool_t *p, const char *name,
                                  const as_optedit_t *edit, const char **err)
{
    op_t op = {0};
    op.p = p;
    op.edit = edit;
    if (as_dir_domain_name(p, name, &op.domain, err ? err : &op.err) != APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    if (edit->class_name || edit->unset_class || edit->display_name || edit->unset_display_name ||
        edit->aliases || edit->unset_aliases) {
        if (err) {
            *err = "a domain has no class membership, name or aliases";
        }
        return AS_DIR_EINVAL;
    }
    return run(db, 0, txn_update, &op, err);
}

/* ---- classes ---------------------------------------------------------------- */

static apr_status_t class_op(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                             op_t *op, const char **err)
{
    const char *e = NULL;
    op->p = p;
    if (as_dir_domain_name(p, domain, &op->domain, &e) != APR_SUCCESS ||
        as_dir_class_name(p, cls, &op->cls, &e) != APR_SUCCESS) {
        if (err) {
            *err = e;
        }
        return AS_DIR_EINVAL;
    }
    return APR_SUCCESS;
}

apr_status_t as_dir_class_add(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                              const char **err)
{
    op_t op = {0};
    apr_status_t rv = class_op(db, p, domain, cls, &op, err);
    return rv ? rv : run(db, 0, txn_add, &op, err);
}

static int txn_class_remove(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    DB *d = as_db_handle(db, AS_DB_DIRECTORY);
    char key[KEY_MAX];
    size_t kl;
    rec_t r;
    count_t members = {0, op->cls, NULL, op->p};
    int rc, i;

    op->err = NULL;
    if ((rc = rec_need(d, txn, op, 'c', key, &kl, &r, 1)) != 0) {
        return rc;
    }
    members.keys = apr_array_make(op->p, 8, sizeof(const char *));
    if ((rc = as_dirrec_scan(d, txn, 'a', op->domain, as_dirrec_count_cb, &members)) != 0) {
        return rc;
    }
    if (members.n && !op->force) {
        return fail(op, AS_DIR_ENOTEMPTY,
                    "class '%s/%s' still has %d member(s); use --force to remove it (members "
                    "then inherit from the domain)",
                    op->domain, op->cls, members.n);
    }
    for (i = 0; i < members.keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(members.keys, i, const char *);
        rec_t m;
        if ((rc = as_dirrec_get(d, txn, k, strlen(k), &m, 1)) != 0) {
            return rc;
        }
        if (m.opts.defined == 0 && as_polset_empty(&m.pol) && m.ident_len == 0) {
            rc = as_db_del(d, txn, k, strlen(k));
        } else {
            rc = as_dirrec_put(d, txn, k, strlen(k), &m.opts, NULL, &m.pol, m.ident, m.ident_len);
        }
        if (rc != 0) {
            return rc;
        }
    }
    return as_db_del(d, txn, key, kl);
}

apr_status_t as_dir_class_remove(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                                 int force, const char **err)
{
    op_t op = {0};
    apr_status_t rv = class_op(db, p, domain, cls, &op, err);
    op.force = force;
    return rv ? rv : run(db, 0, txn_class_remove, &op, err);
}

static int fill_class(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *domain, const char *cls,
                      const rec_t *r, const rec_t *dr, as_dir_class_t *out)
{
    memset(out, 0, sizeof(*out));
    out->domain = apr_pstrdup(p, domain);
    out->name = apr_pstrdup(p, cls);
    out->opts = r->opts;
    out->mtime = r->mtime;
    out->pol = as_dirrec_pol_dup(p, &r->pol);
    out->pol_domain = dr ? as_dirrec_pol_dup(p, &dr->pol) : NULL;
    as_opts_resolve(dr ? &dr->opts : NULL, &r->opts, NULL, &out->eff);
    return as_dirrec_scan_count(as_db_handle(db, AS_DB_DIRECTORY), txn, 'a', domain, cls,
                                &out->nmembers);
}

static int txn_class_get(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    char key[KEY_MAX];
    size_t kl;
    rec_t r, dr;
    int rc;

    op->err = NULL;
    if ((rc = need_domain(db, txn, op, &dr)) != 0 ||
        (rc = rec_need(as_db_handle(db, AS_DB_DIRECTORY), txn, op, 'c', key, &kl, &r, 0)) != 0) {
        return rc;
    }
    return fill_class(db, txn, op->p, op->domain, op->cls, &r, &dr, op->out);
}

apr_status_t as_dir_class_get(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                              as_dir_class_t *out, const char **err)
{
    op_t op = {0};
    apr_status_t rv = class_op(db, p, domain, cls, &op, err);
    op.out = out;
    return rv ? rv : run(db, AS_DB_TXN_READ, txn_class_get, &op, err);
}

/* A listed class "DOMAIN/CLASS", with its domain's record when there is one. */
static int fill_class_item(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *name,
                           const rec_t *r, void *out)
{
    const char *slash = strchr(name, '/');
    const char *dom = apr_pstrmemdup(p, name, (apr_size_t)(slash - name));
    char dkey[KEY_MAX];
    rec_t dr;
    size_t kl = as_dirrec_key(dkey, 'd', dom, NULL);
    int rc = as_dirrec_get(as_db_handle(db, AS_DB_DIRECTORY), txn, dkey, kl, &dr, 0);

    if (rc != 0 && rc != DB_NOTFOUND) {
        return rc;
    }
    return fill_class(db, txn, p, dom, slash + 1, r, rc == 0 ? &dr : NULL, out);
}

static int txn_class_list(as_db_t *db, DB_TXN *txn, void *baton)
{
    op_t *op = baton;
    int rc;

    op->err = NULL;
    if (op->domain && (rc = need_domain(db, txn, op, NULL)) != 0) {
        return rc;
    }
    return list_fill(db, txn, op, 'c', sizeof(as_dir_class_t), fill_class_item);
}

apr_status_t as_dir_class_list(as_db_t *db, apr_pool_t *p, const char *domain,
                               apr_array_header_t **out, const char **err)
{
    return list_op(db, p, domain, txn_class_list, out, err);
}

apr_status_t as_dir_class_update(as_db_t *db, apr_pool_t *p, const char *domain, const char *cls,
                                 const as_optedit_t *edit, const char **err)
{
    op_t op = {0};
    apr_status_t rv = class_op(db, p, domain, cls, &op, err);
    if (rv) {
        return rv;
    }
    if (edit->class_name || edit->unset_class || edit->display_name || edit->unset_display_name ||
        edit->aliases || edit->unset_aliases) {
        if (err) {
            *err = "a class has no class membership, name or aliases";
        }
        return AS_DIR_EINVAL;
    }
    op.edit = edit;
    return run(db, 0, txn_update, &op, err);
}

/* ---- accounts ----------------------------------------------------------------- */

int as_dir_txn_resolve(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *address,
                       const char *domain, int rmw, as_dir_account_t *out)
{
    DB *d = as_db_handle(db, AS_DB_DIRECTORY);
    char key[KEY_MAX];
    const char *local, *dom;
    rec_t dr, ar, cr;
    size_t kl;
    int rc;

    memset(out, 0, sizeof(*out));
    as_dirrec_split_address(p, address, &local, &dom);
    if (domain) {
        dom = domain;
    }
    out->address = address;
    out->domain = dom;

    kl = as_dirrec_key(key, 'd', dom, NULL);
    rc = as_dirrec_get(d, txn, key, kl, &dr, 0);
    if (rc != 0 && rc != DB_NOTFOUND) {
        return rc;
    }
    out->domain_known = rc == 0;

    kl = as_dirrec_key(key, 'a', dom, local);
    rc = as_dirrec_get(d, txn, key, kl, &ar, rmw);
    if (rc != 0 && rc != DB_NOTFOUND) {
        return rc;
    }
    out->has_record = rc == 0;
    if (out->domain_known) {
        out->pol[AS_SRC_DOMAIN] = as_dirrec_pol_dup(p, &dr.pol);
    }
    if (out->has_record) {
        out->opts = ar.opts;
        out->mtime = ar.mtime;
        out->pol[AS_SRC_ACCOUNT] = as_dirrec_pol_dup(p, &ar.pol);
        as_dirrec_ident_decode(p, ar.ident, ar.ident_len, &out->display_name, &out->aliases);
        if (ar.cls[0]) {
            out->class_name = apr_pstrdup(p, ar.cls);
        }
    }
    if (out->class_name) {
        kl = as_dirrec_key(key, 'c', dom, out->class_name);
        rc = as_dirrec_get(d, txn, key, kl, &cr, 0);
        if (rc != 0 && rc != DB_NOTFOUND) {
            return rc;
        }
        out->class_known = rc == 0;
        if (out->class_known) {
            out->pol[AS_SRC_CLASS] = as_dirrec_pol_dup(p, &cr.pol);
        }
    }
    as_opts_resolve(out->domain_known ? &dr.opts : NULL, out->class_known ? &cr.opts : NULL,
                    out->has_record ? &out->opts : NULL, &out->eff);
    return 0;
}

int as_dir_txn_store_account(as_db_t *db, DB_TXN *txn, const as_dir_account_t *acct)
{
    DB *d = as_db_handle(db, AS_DB_DIRECTORY);
    char key[KEY_MAX];
    const char *at = strrchr(acct->address, '@');
    char local[LOCAL_MAX + 1];
    unsigned char ident[IDENT_MAX];
    size_t kl, ll = (size_t)(at - acct->address), il;
    int rc;

    if (ll > LOCAL_MAX) {
        return AS_DIR_EINVAL;
    }
    memcpy(local, acct->address, ll);
    local[ll] = '\0';
    kl = as_dirrec_key(key, 'a', at + 1, local);
    il = as_dirrec_ident_encode(ident, acct->display_name, acct->aliases);
    if ((acct->opts.defined & OPT_MASK) == 0 && !acct->class_name &&
        as_polset_empty(acct->pol[AS_SRC_ACCOUNT]) && il == 0) {
        rc = as_db_del(d, txn, key, kl);
        return rc == DB_NOTFOUND ? 0 : rc;
    }
    return as_dirrec_put(d, txn, key, kl, &acct->opts, acct->class_name, acct->pol[AS_SRC_ACCOUNT],
                         ident, il);
}

int as_dir_txn_domain_exists(as_db_t *db, DB_TXN *txn, const char *domain, int *exists)
{
    char key[KEY_MAX];
    size_t kl = as_dirrec_key(key, 'd', domain, NULL);
    rec_t r;
    int rc = as_dirrec_get(as_db_handle(db, AS_DB_DIRECTORY), txn, key, kl, &r, 0);

    *exists = rc == 0;
    return rc == DB_NOTFOUND ? 0 : rc;
}

/* A building block's failure message in *err (when asked for). */
static int block_fail(op_t *op, int rc, const char **err)
{
    if (err) {
        *err = op->err;
    }
    return rc;
}

int as_dir_txn_domain_purge(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *domain, int force,
                            unsigned nreg, apr_array_header_t *gone, const char **err)
{
    op_t op = {0};
    DB *d = as_db_handle(db, AS_DB_DIRECTORY);
    char key[KEY_MAX], prefix[KEY_MAX];
    size_t kl, pl = as_dirrec_prefix(prefix, 'a', domain);
    rec_t r;
    count_t classes = {0, NULL, NULL, p}, accounts = {0, NULL, NULL, p};
    int rc, i;

    op.p = p;
    op.domain = domain;
    if ((rc = rec_need(d, txn, &op, 'd', key, &kl, &r, 1)) != 0) {
        return block_fail(&op, rc, err);
    }
    classes.keys = apr_array_make(p, 8, sizeof(const char *));
    accounts.keys = apr_array_make(p, 8, sizeof(const char *));
    if ((rc = as_dirrec_scan(d, txn, 'c', domain, as_dirrec_count_cb, &classes)) != 0 ||
        (rc = as_dirrec_scan(d, txn, 'a', domain, as_dirrec_count_cb, &accounts)) != 0) {
        return rc;
    }
    if ((classes.n || accounts.n || nreg) && !force) {
        return block_fail(&op,
                          fail(&op, AS_DIR_ENOTEMPTY,
                               "domain '%s' still has %d class(es), %d account record(s) and %u "
                               "registered mailbox(es); use --force to remove them with it",
                               domain, classes.n, accounts.n, nreg),
                          err);
    }
    for (i = 0; i < classes.keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(classes.keys, i, const char *);
        if ((rc = as_db_del(d, txn, k, strlen(k))) != 0) {
            return rc;
        }
    }
    for (i = 0; i < accounts.keys->nelts; i++) {
        const char *k = APR_ARRAY_IDX(accounts.keys, i, const char *);
        if ((rc = as_db_del(d, txn, k, strlen(k))) != 0) {
            return rc;
        }
        /* "a:DOMAIN/LOCAL" -> "LOCAL@DOMAIN" */
        APR_ARRAY_PUSH(gone, const char *) = apr_pstrcat(p, k + pl, "@", domain, NULL);
    }
    return as_db_del(d, txn, key, kl);
}

int as_dir_txn_account_edit(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *address,
                            const char *domain, const as_optedit_t *e, const char **err)
{
    op_t op = {0};
    as_dir_account_t a;
    as_polset_t pol;
    int rc;

    op.p = p;
    op.domain = domain;
    if ((rc = need_domain(db, txn, &op, NULL)) != 0) {
        return block_fail(&op, rc, err);
    }
    if (e->class_name) {
        char key[KEY_MAX];
        rec_t cr;
        size_t kl = as_dirrec_key(key, 'c', domain, e->class_name);
        rc = as_dirrec_get(as_db_handle(db, AS_DB_DIRECTORY), txn, key, kl, &cr, 0);
        if (rc == DB_NOTFOUND) {
            return block_fail(&op,
                              fail(&op, AS_DIR_ENOCLASS,
                                   "unknown class '%s/%s' (add it with: class add %s/%s)", domain,
                                   e->class_name, domain, e->class_name),
                              err);
        }
        if (rc != 0) {
            return rc;
        }
    }
    if ((rc = as_dir_txn_resolve(db, txn, p, address, domain, 1, &a)) != 0) {
        return rc;
    }
    if (a.pol[AS_SRC_ACCOUNT]) {
        pol = *a.pol[AS_SRC_ACCOUNT];
    } else {
        pol.defined = 0;
    }
    as_dirrec_apply_edit(&a.opts, &pol, e);
    a.pol[AS_SRC_ACCOUNT] = &pol;
    if (e->class_name) {
        a.class_name = e->class_name;
    } else if (e->unset_class) {
        a.class_name = NULL;
    }
    if (e->display_name || e->unset_display_name) {
        a.display_name = e->display_name;
    }
    if (e->aliases || e->unset_aliases) {
        a.aliases = e->aliases;
    }
    return as_dir_txn_store_account(db, txn, &a);
}

int as_dir_txn_account_delete(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *address,
                              int *had_record)
{
    char key[KEY_MAX];
    const char *local, *dom;
    size_t kl;
    int rc;

    as_dirrec_split_address(p, address, &local, &dom);
    kl = as_dirrec_key(key, 'a', dom, local);
    rc = as_db_del(as_db_handle(db, AS_DB_DIRECTORY), txn, key, kl);
    *had_record = rc == 0;
    return rc == DB_NOTFOUND ? 0 : rc;
}

typedef struct acct_scan_t {
    apr_pool_t *p;
    apr_hash_t *seen;          /* "domain/local" -> as_dir_account_t* */
    apr_array_header_t *order; /* "domain/local" */
} acct_scan_t;

static int acct_scan_cb(void *baton, const void *key, size_t klen, const void *val, size_t vlen)
{
    acct_scan_t *s = baton;
    const char *name = apr_pstrmemdup(s->p, (const char *)key + 2, klen - 2);
    (void)val;
    (void)vlen;
    if (!strchr(name, '/')) {
        return 0;
    }
    if (!apr_hash_get(s->seen, name, APR_HASH_KEY_STRING)) {
        apr_hash_set(s->seen, name, APR_HASH_KEY_STRING, name);
        APR_ARRAY_PUSH(s->order, const char *) = name;
    }
    return 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

int as_dir_txn_account_addresses(as_db_t *db, DB_TXN *txn, apr_pool_t *p, const char *domain,
                                 apr_array_header_t **out)
{
    acct_scan_t s;
    int rc, i;

    s.p = p;
    s.seen = apr_hash_make(p);
    s.order = apr_array_make(p, 16, sizeof(const char *));
    /* accounts with settings, then those with only a mailbox slot ("m:"
     * records of the registry share the key layout) */
    if ((rc = as_dirrec_scan(as_db_handle(db, AS_DB_DIRECTORY), txn, 'a', domain, acct_scan_cb,
                             &s)) != 0 ||
        (rc = as_dirrec_scan(as_db_handle(db, AS_DB_REGISTRY), txn, 'm', domain, acct_scan_cb,
                             &s)) != 0) {
        return rc;
    }
    qsort(s.order->elts, (size_t)s.order->nelts, sizeof(const char *), cmp_str);
    for (i = 0; i < s.order->nelts; i++) {
        const char *name = APR_ARRAY_IDX(s.order, i, const char *);
        const char *slash = strchr(name, '/');
        APR_ARRAY_IDX(s.order, i, const char *) = apr_pstrcat(
            p, slash + 1, "@", apr_pstrmemdup(p, name, (apr_size_t)(slash - name)), NULL);
    }
    *out = s.order;
    return 0;
}
