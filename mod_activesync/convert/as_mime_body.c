/* The airsyncbase:Body of an item: which type, its text, truncation and
 * preview (see as_mime.h). */
#include <errno.h>
#include <limits.h>
#include <sys/stat.h>
#include <unistd.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <gmime/gmime.h>

#include "activesync/as_command.h"
#include "activesync/as_mime.h"
#include "activesync/as_wbxml.h"
#include "as_mime_int.h"

/* ---------------------------------------------------------------------------
 * Raw message (Type 4)
 */
static apr_status_t mime_read_raw(apr_pool_t *p, int fd, char **data, apr_size_t *len)
{
    struct stat sb;
    char *buf, *o;
    apr_size_t n = 0, i, k, lf = 0;

    if (fstat(fd, &sb) != 0) {
        return APR_FROM_OS_ERROR(errno);
    }
    if (sb.st_size > MAX_MIME_RAW) {
        return APR_ENOSPC;
    }
    buf = apr_palloc(p, (apr_size_t)sb.st_size + 1);
    while (n < (apr_size_t)sb.st_size) {
        ssize_t r = pread(fd, buf + n, (apr_size_t)sb.st_size - n, (off_t)n);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return APR_FROM_OS_ERROR(errno);
        }
        if (r == 0) {
            break;
        }
        n += (apr_size_t)r;
    }
    for (i = 0; i < n; i++) {
        lf += buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r');
    }
    o = apr_palloc(p, n + lf + 1);
    for (i = 0, k = 0; i < n; i++) {
        if (buf[i] == '\n' && (i == 0 || buf[i - 1] != '\r')) {
            o[k++] = '\r';
        }
        o[k++] = buf[i];
    }
    o[k] = '\0';
    *data = o;
    *len = k;
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * The item
 */
static int mime_choose_type(const as_mime_opts_t *o, int smime, int has_html,
                            const as_mime_bodypref_t **pref)
{
    int i, best = 0, best_rank = -1, want1 = 0;

    *pref = NULL;
    for (i = 0; i < o->nprefs; i++) {
        want1 |= o->prefs[i].type == 1 || o->prefs[i].type == 3;
    }
    for (i = 0; i < o->nprefs; i++) {
        const as_mime_bodypref_t *bp = &o->prefs[i];
        int rank;
        switch (bp->type) {
        case 4:
            if (!(o->mime_support == 2 || (o->mime_support == 1 && smime))) {
                continue;
            }
            rank = 4;
            break;
        case 2:
            rank = has_html || !want1 ? 3 : 1;
            break;
        case 1:
            rank = 2;
            break;
        case 3:
            rank = 0; /* no RTF: plain text instead */
            break;
        default:
            continue;
        }
        if (rank > best_rank) {
            best_rank = rank;
            best = bp->type == 3 ? 1 : bp->type;
            *pref = bp;
        }
    }
    if (best == 0) {
        /* none usable (e.g. only Type 4 without MIMESupport): plain text,
         * with that preference's limits */
        best = 1;
        if (o->nprefs > 0 && !*pref) {
            *pref = &o->prefs[0];
        }
    }
    return best;
}

static void mime_add_body(apr_pool_t *p, xmlNodePtr app, int type, const as_mime_bodypref_t *bp,
                          const char *data, apr_size_t len, int raw_ok, const char *preview_src,
                          int protocol)
{
    xmlNodePtr body, dn;
    apr_size_t cut = len;
    int truncated = 0, text_ok;

    if (len == 0) {
        return; /* no empty Body element */
    }
    text_ok = raw_ok ? mime_xml_text_ok(data, len) : 1;
    if (bp && bp->truncation > 0 && len > bp->truncation) {
        cut = text_ok ? as_mime_utf8_cut(data, len, bp->truncation) : bp->truncation;
        truncated = 1;
    }
    if (text_ok && cut > (apr_size_t)INT_MAX) {
        /* libxml2 takes an int length: cut there, not wrap (never reached
         * with the store's message size caps) */
        cut = as_mime_utf8_cut(data, len, (apr_size_t)INT_MAX);
        truncated = 1;
    }
    body = as_xml_add(app, NS_BASE, "Body", NULL);
    as_xml_add(body, NS_BASE, "Type", apr_itoa(p, type));
    as_xml_add(body, NS_BASE, "EstimatedDataSize", apr_psprintf(p, "%" APR_SIZE_T_FMT, len));
    as_xml_add(body, NS_BASE, "Truncated", truncated ? "1" : "0");
    if (!(truncated && bp && bp->all_or_none)) {
        if (text_ok) {
            dn = as_xml_add(body, NS_BASE, "Data", NULL);
            xmlNodeAddContentLen(dn, BAD_CAST data, (int)cut);
        } else {
            dn = as_xml_add(body, NS_BASE, "Data", NULL);
            as_wbxml_set_opaque(dn, data, cut);
        }
    }
    if (bp && bp->preview > 0 && protocol >= 140 && preview_src && *preview_src) {
        as_xml_add(
            body, NS_BASE, "Preview",
            mime_preview_of(p, preview_src, bp->preview > MAX_PREVIEW ? MAX_PREVIEW : bp->preview));
    }
}

apr_status_t mime_add_body_element(apr_pool_t *p, const msg_t *m, const body_t *b,
                                   const as_mime_opts_t *o, xmlNodePtr app)
{
    const as_mime_bodypref_t *bp;
    char *plain = NULL, *html = NULL;
    apr_size_t plain_len = 0, html_len = 0;
    int smime = b->smime_signed || b->smime_enc, type;

    if (b->plain) {
        plain = mime_part_text(p, b->plain, &plain_len);
    }
    if (b->html) {
        html = mime_part_text(p, b->html, &html_len);
    }
    if (!plain && html) {
        plain = as_mime_html_to_text(p, html, html_len);
        plain_len = strlen(plain);
    }
    if (!plain && smime) {
        plain = "This message is signed or encrypted (S/MIME): open it on a client that "
                "shows the original message.";
        plain_len = strlen(plain);
    }
    type = mime_choose_type(o, smime, html != NULL, &bp);
    if (type == 4) {
        char *raw = NULL;
        apr_size_t rawlen = 0;
        apr_status_t rv = mime_read_raw(p, m->fd, &raw, &rawlen);
        if (rv != APR_SUCCESS) {
            return rv;
        }
        mime_add_body(p, app, 4, bp, raw, rawlen, 1, plain, o->protocol);
    } else if (type == 2) {
        if (!html && plain) {
            html = mime_text_to_html(p, plain, plain_len);
            html_len = strlen(html);
        }
        mime_add_body(p, app, 2, bp, html ? html : "", html ? html_len : 0, 0, plain, o->protocol);
    } else {
        mime_add_body(p, app, 1, bp, plain ? plain : "", plain ? plain_len : 0, 0, plain,
                      o->protocol);
    }
    return APR_SUCCESS;
}
