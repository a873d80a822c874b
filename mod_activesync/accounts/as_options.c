/* Option values, their inheritance, command-line edits and the checks of
 * domain, class and account names: the leaf of the accounts layer, used by
 * the directory, the policies, the cap and the devices alike. */
#include <stdlib.h>
#include <string.h>

#include <apr_strings.h>

#include "activesync/as_options.h"
#include "activesync/as_utf8.h"

#define CLASS_MAX  64
#define DOMAIN_MAX 253
#define LOCAL_MAX  64

/* ---- options ------------------------------------------------------------ */

static const char *const opt_names[AS_OPT_COUNT] = {"activesync", "email", "contacts", "pim"};
static const int opt_builtin[AS_OPT_COUNT] = {0, 1, 1, 1};
static const char *const src_names[] = {"built-in", "domain", "class", "account"};

const char *as_opt_name(as_opt_t o)
{
    return (unsigned)o < AS_OPT_COUNT ? opt_names[o] : "?";
}

int as_opt_from_name(const char *name)
{
    int i;
    for (i = 0; i < AS_OPT_COUNT; i++) {
        if (!strcasecmp(name, opt_names[i])) {
            return i;
        }
    }
    return -1;
}

const char *as_src_name(as_src_t s)
{
    return (unsigned)s <= AS_SRC_ACCOUNT ? src_names[s] : "?";
}

int as_opt_builtin(as_opt_t o)
{
    return opt_builtin[o];
}

int as_optset_has(const as_optset_t *s, as_opt_t o)
{
    return s && (s->defined >> o) & 1;
}

int as_optset_get(const as_optset_t *s, as_opt_t o)
{
    return (s->value >> o) & 1;
}

void as_optset_set(as_optset_t *s, as_opt_t o, int on)
{
    s->defined |= (unsigned char)(1u << o);
    if (on) {
        s->value |= (unsigned char)(1u << o);
    } else {
        s->value &= (unsigned char)~(1u << o);
    }
}

void as_optset_unset(as_optset_t *s, as_opt_t o)
{
    s->defined &= (unsigned char)~(1u << o);
    s->value &= (unsigned char)~(1u << o);
}

as_src_t as_inherit_source(const void *const levels[AS_SRC_LEVELS], as_inherit_has_fn *has, int i)
{
    int s;
    for (s = AS_SRC_ACCOUNT; s > AS_SRC_BUILTIN; s--) {
        if (levels[s] && has(levels[s], i)) {
            return (as_src_t)s;
        }
    }
    return AS_SRC_BUILTIN;
}

static int optset_has_cb(const void *set, int i)
{
    return as_optset_has(set, (as_opt_t)i);
}

void as_opts_resolve(const as_optset_t *domain, const as_optset_t *cls, const as_optset_t *account,
                     as_effective_t *out)
{
    const void *levels[AS_SRC_LEVELS] = {NULL, domain, cls, account};
    int i;

    for (i = 0; i < AS_OPT_COUNT; i++) {
        as_src_t s = as_inherit_source(levels, optset_has_cb, i);
        out->source[i] = s;
        out->value[i] = s == AS_SRC_BUILTIN ? opt_builtin[i] : as_optset_get(levels[s], i);
    }
}

int as_parse_bool(const char *v)
{
    static const char *const on[] = {"on", "yes", "true", "1", "enabled", "enable", NULL};
    static const char *const off[] = {"off", "no", "false", "0", "disabled", "disable", NULL};
    int i;
    for (i = 0; on[i]; i++) {
        if (!strcasecmp(v, on[i])) {
            return 1;
        }
    }
    for (i = 0; off[i]; i++) {
        if (!strcasecmp(v, off[i])) {
            return 0;
        }
    }
    return -1;
}

static const char *known_options(int allow_class)
{
    return allow_class ? "activesync, email, contacts, pim, class, name, aliases"
                       : "activesync, email, contacts, pim";
}

/* name=DISPLAY NAME: UTF-8 without control characters (it becomes a From
 * header's phrase, so no line break may reach it). */
static apr_status_t parse_display_name(apr_pool_t *p, as_optedit_t *edit, const char *val,
                                       const char **err)
{
    size_t n = strlen(val), i, l;

    if (n == 0 || n > AS_DIR_NAME_MAX) {
        *err = apr_psprintf(p, "bad name: 1 to %d bytes, got %" APR_SIZE_T_FMT, AS_DIR_NAME_MAX, n);
        return AS_DIR_EINVAL;
    }
    for (i = 0; i < n; i += l) {
        const unsigned char *c = (const unsigned char *)val + i;
        l = as_utf8_seq(c, n - i);
        if (l == 0 || *c < 0x20 || *c == 0x7f || (*c == 0xc2 && c[1] < 0xa0)) {
            *err = "bad name: only printable UTF-8 (no control characters)";
            return AS_DIR_EINVAL;
        }
    }
    edit->display_name = apr_pstrdup(p, val);
    edit->unset_display_name = 0;
    return APR_SUCCESS;
}

/* aliases=ADDR[,ADDR...]: account-style addresses, lower-cased, without
 * duplicates. */
static apr_status_t parse_aliases(apr_pool_t *p, as_optedit_t *edit, const char *val,
                                  const char **err)
{
    apr_array_header_t *out = apr_array_make(p, 4, sizeof(const char *));
    char *copy = apr_pstrdup(p, val), *last = NULL, *w;
    int i;

    for (w = apr_strtok(copy, ",", &last); w; w = apr_strtok(NULL, ",", &last)) {
        const char *addr;
        if (as_dir_account_name(p, w, &addr, NULL, err) != APR_SUCCESS) {
            *err = apr_psprintf(p, "bad alias: %s", *err);
            return AS_DIR_EINVAL;
        }
        for (i = 0; i < out->nelts && strcmp(APR_ARRAY_IDX(out, i, const char *), addr); i++) {
        }
        if (i < out->nelts) {
            continue;
        }
        if (out->nelts == AS_DIR_ALIASES_MAX) {
            *err = apr_psprintf(p, "too many aliases: at most %d", AS_DIR_ALIASES_MAX);
            return AS_DIR_EINVAL;
        }
        APR_ARRAY_PUSH(out, const char *) = addr;
    }
    if (out->nelts == 0) {
        *err = "aliases= needs at least one address (use unset aliases to remove them)";
        return AS_DIR_EINVAL;
    }
    edit->aliases = out;
    edit->unset_aliases = 0;
    return APR_SUCCESS;
}

apr_status_t as_optedit_parse_set(apr_pool_t *p, as_optedit_t *edit, const char *word,
                                  int allow_class, const char **err)
{
    const char *eq = strchr(word, '=');
    const char *name, *val;
    int o, b;

    if (!eq || eq == word) {
        *err = apr_psprintf(p, "expected OPTION=on|off, got '%s'", word);
        return AS_DIR_EINVAL;
    }
    name = apr_pstrmemdup(p, word, (apr_size_t)(eq - word));
    val = eq + 1;
    if (allow_class && !strcasecmp(name, "class")) {
        const char *c;
        if (as_dir_class_name(p, val, &c, err) != APR_SUCCESS) {
            return AS_DIR_EINVAL;
        }
        edit->class_name = c;
        edit->unset_class = 0;
        return APR_SUCCESS;
    }
    if (allow_class && !strcasecmp(name, "name")) {
        return parse_display_name(p, edit, val, err);
    }
    if (allow_class && !strcasecmp(name, "aliases")) {
        return parse_aliases(p, edit, val, err);
    }
    o = as_opt_from_name(name);
    if (o < 0) {
        *err = apr_psprintf(p, "unknown option '%s' (known: %s)", name, known_options(allow_class));
        return AS_DIR_EINVAL;
    }
    b = as_parse_bool(val);
    if (b < 0) {
        *err = apr_psprintf(p, "bad value '%s' for %s: use on or off", val, opt_names[o]);
        return AS_DIR_EINVAL;
    }
    edit->set_mask |= (unsigned char)(1u << o);
    if (b) {
        edit->set_value |= (unsigned char)(1u << o);
    } else {
        edit->set_value &= (unsigned char)~(1u << o);
    }
    edit->unset_mask &= (unsigned char)~(1u << o);
    return APR_SUCCESS;
}

apr_status_t as_optedit_parse_unset(apr_pool_t *p, as_optedit_t *edit, const char *word,
                                    int allow_class, const char **err)
{
    int o;

    if (allow_class && !strcasecmp(word, "class")) {
        edit->unset_class = 1;
        edit->class_name = NULL;
        return APR_SUCCESS;
    }
    if (allow_class && !strcasecmp(word, "name")) {
        edit->unset_display_name = 1;
        edit->display_name = NULL;
        return APR_SUCCESS;
    }
    if (allow_class && !strcasecmp(word, "aliases")) {
        edit->unset_aliases = 1;
        edit->aliases = NULL;
        return APR_SUCCESS;
    }
    if (strchr(word, '=')) {
        *err = apr_psprintf(p, "unset takes option names without a value, got '%s'", word);
        return AS_DIR_EINVAL;
    }
    o = as_opt_from_name(word);
    if (o < 0) {
        *err = apr_psprintf(p, "unknown option '%s' (known: %s)", word, known_options(allow_class));
        return AS_DIR_EINVAL;
    }
    edit->unset_mask |= (unsigned char)(1u << o);
    edit->set_mask &= (unsigned char)~(1u << o);
    edit->set_value &= (unsigned char)~(1u << o);
    return APR_SUCCESS;
}

/* ---- names ---------------------------------------------------------------- */

/* A pool copy of in with ASCII letters in lower case. */
static char *lower_dup(apr_pool_t *p, const char *in)
{
    char *s = apr_pstrdup(p, in);
    char *c;
    for (c = s; *c; c++) {
        if (*c >= 'A' && *c <= 'Z') {
            *c = (char)(*c - 'A' + 'a');
        }
    }
    return s;
}

apr_status_t as_dir_domain_name(apr_pool_t *p, const char *in, const char **out, const char **err)
{
    size_t n = in ? strlen(in) : 0, i, label = 0;
    char *s;

    if (n == 0 || n > DOMAIN_MAX) {
        *err = apr_psprintf(p, "invalid domain name '%s' (1 to %d characters)", in ? in : "",
                            DOMAIN_MAX);
        return AS_DIR_EINVAL;
    }
    s = lower_dup(p, in);
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (c == '.') {
            if (label == 0 || s[i - 1] == '-') {
                goto bad;
            }
            label = 0;
            continue;
        }
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-')) {
            goto bad;
        }
        if (c == '-' && label == 0) {
            goto bad;
        }
        if (++label > 63) {
            goto bad;
        }
    }
    if (label == 0 || s[n - 1] == '-') {
        goto bad;
    }
    *out = s;
    return APR_SUCCESS;
bad:
    *err = apr_psprintf(p,
                        "invalid domain name '%s' (letters, digits, '-' and '.' separating "
                        "labels of at most 63 characters)",
                        in);
    return AS_DIR_EINVAL;
}

apr_status_t as_dir_class_name(apr_pool_t *p, const char *in, const char **out, const char **err)
{
    size_t n = in ? strlen(in) : 0, i;
    char *s;

    if (n == 0 || n > CLASS_MAX) {
        goto bad;
    }
    s = lower_dup(p, in);
    for (i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.')) {
            goto bad;
        }
    }
    if (s[0] == '.') {
        goto bad;
    }
    *out = s;
    return APR_SUCCESS;
bad:
    *err = apr_psprintf(p, "invalid class name '%s' (1 to %d of letters, digits, '.', '_', '-')",
                        in ? in : "", CLASS_MAX);
    return AS_DIR_EINVAL;
}

apr_status_t as_dir_account_name(apr_pool_t *p, const char *in, const char **out,
                                 const char **domain, const char **err)
{
    const char *at = in ? strrchr(in, '@') : NULL;
    size_t n, i;
    char *local;
    const char *dom;

    if (!at || at == in) {
        *err = apr_psprintf(p, "invalid account '%s': expected user@domain", in ? in : "");
        return AS_DIR_EINVAL;
    }
    n = (size_t)(at - in);
    if (n > LOCAL_MAX) {
        *err = apr_psprintf(p, "invalid account '%s': user part longer than %d characters", in,
                            LOCAL_MAX);
        return AS_DIR_EINVAL;
    }
    local = apr_pstrmemdup(p, in, n);
    for (i = 0; i < n; i++) {
        unsigned char c = (unsigned char)local[i];
        if (c >= 'A' && c <= 'Z') {
            local[i] = (char)(c - 'A' + 'a');
            continue;
        }
        if (c <= 0x20 || c >= 0x7f || strchr("@/\\\",:;<>", c)) {
            *err = apr_psprintf(p, "invalid account '%s': character '%c' not allowed", in,
                                c > 0x20 && c < 0x7f ? c : '?');
            return AS_DIR_EINVAL;
        }
    }
    if (as_dir_domain_name(p, at + 1, &dom, err) != APR_SUCCESS) {
        *err = apr_psprintf(p, "invalid account '%s': %s", in, *err);
        return AS_DIR_EINVAL;
    }
    *out = apr_pstrcat(p, local, "@", dom, NULL);
    if (domain) {
        *domain = dom;
    }
    return APR_SUCCESS;
}

apr_status_t as_dir_class_path(apr_pool_t *p, const char *in, const char **domain, const char **cls,
                               const char **err)
{
    const char *slash = in ? strchr(in, '/') : NULL;

    if (!slash) {
        *err = apr_psprintf(p, "expected DOMAIN/CLASS, got '%s'", in ? in : "");
        return AS_DIR_EINVAL;
    }
    if (as_dir_domain_name(p, apr_pstrmemdup(p, in, (apr_size_t)(slash - in)), domain, err) !=
            APR_SUCCESS ||
        as_dir_class_name(p, slash + 1, cls, err) != APR_SUCCESS) {
        return AS_DIR_EINVAL;
    }
    return APR_SUCCESS;
}
