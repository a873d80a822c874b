/* MIME parsing with GMime: the message, its decoded parts, where the body
 * and the attachments are (see as_mime.h). */
#include <errno.h>
#include <pthread.h>
#include <unistd.h>

#include <apr_portable.h>
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <gmime/gmime.h>

#include "activesync/as_command.h"
#include "activesync/as_meeting.h"
#include "activesync/as_mime.h"
#include "as_mime_int.h"

/* ---------------------------------------------------------------------------
 * Init
 */
/* GMime and libical are set up once per process: pthread_once makes a
 * second thread wait until the first has finished (a plain flag would let
 * it through while g_mime_init() is still running). */
static pthread_once_t mime_once = PTHREAD_ONCE_INIT;
static int mime_up, mime_down;

static void mime_init_once(void)
{
    g_mime_init();
    as_meeting_init();
    __atomic_store_n(&mime_up, 1, __ATOMIC_SEQ_CST);
}

void as_mime_init(void)
{
    pthread_once(&mime_once, mime_init_once);
}

void as_mime_shutdown(void)
{
    /* only after an init, and only once; there is no init again after it */
    if (__atomic_load_n(&mime_up, __ATOMIC_SEQ_CST) &&
        !__atomic_exchange_n(&mime_down, 1, __ATOMIC_SEQ_CST)) {
        g_mime_shutdown();
    }
}

/* ---------------------------------------------------------------------------
 * Reading the message
 */
void mime_msg_free(msg_t *m)
{
    if (m->msg) {
        g_object_unref(m->msg);
    }
    if (m->popts) {
        g_mime_parser_options_free(m->popts);
    }
    m->msg = NULL;
    m->popts = NULL;
}

apr_status_t mime_msg_parse(apr_pool_t *p, apr_file_t *file, msg_t *m, const char **err)
{
    static const char *fallback[] = {"UTF-8", "windows-1252", NULL};
    apr_os_file_t fd;
    GMimeStream *stream;
    GMimeParser *parser;
    int dfd;

    memset(m, 0, sizeof *m);
    m->p = p;
    as_mime_init();
    if (apr_os_file_get(&fd, file) != APR_SUCCESS) {
        *err = "cannot get the message file";
        return APR_EBADF;
    }
    m->fd = fd;
    dfd = dup(fd);
    if (dfd < 0) {
        *err = "cannot duplicate the message file descriptor";
        return APR_FROM_OS_ERROR(errno);
    }
    if (lseek(dfd, 0, SEEK_SET) != 0) {
        close(dfd);
        *err = "cannot seek in the message file";
        return APR_FROM_OS_ERROR(errno);
    }
    stream = g_mime_stream_fs_new(dfd); /* owns dfd */
    parser = g_mime_parser_new_with_stream(stream);
    g_object_unref(stream);
    g_mime_parser_set_format(parser, GMIME_FORMAT_MESSAGE);
    g_mime_parser_set_persist_stream(parser, TRUE);
    m->popts = g_mime_parser_options_new();
    g_mime_parser_options_set_fallback_charsets(m->popts, fallback);
    g_mime_parser_options_set_rfc2047_compliance_mode(m->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_address_compliance_mode(m->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    g_mime_parser_options_set_parameter_compliance_mode(m->popts, GMIME_RFC_COMPLIANCE_LOOSE);
    m->msg = g_mime_parser_construct_message(parser, m->popts);
    g_object_unref(parser);
    if (!m->msg) {
        /* empty or not a message at all: an empty message, so the item
         * still shows (and can be deleted) instead of breaking a sync */
        m->msg = g_mime_message_new(TRUE);
        m->broken = 1;
    }
    return APR_SUCCESS;
}

/* Decoded content of a leaf part (or the serialised message of a message
 * part) into a GByteArray-backed memory stream; NULL on failure. */
GMimeStream *mime_decoded_stream(GMimeObject *o)
{
    GMimeStream *mem = g_mime_stream_mem_new();

    if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        if (inner) {
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, mem);
        }
    } else if (GMIME_IS_PART(o)) {
        GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
        if (w) {
            g_mime_data_wrapper_write_to_stream(w, mem);
        }
    }
    g_mime_stream_reset(mem);
    return mem;
}

apr_off_t mime_decoded_size(GMimeObject *o)
{
    GMimeStream *ns = g_mime_stream_null_new();
    apr_off_t n = 0;

    if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        if (inner) {
            g_mime_object_write_to_stream(GMIME_OBJECT(inner), NULL, ns);
        }
    } else if (GMIME_IS_PART(o)) {
        GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
        if (w) {
            g_mime_data_wrapper_write_to_stream(w, ns);
        }
    }
    n = (apr_off_t)GMIME_STREAM_NULL(ns)->written;
    g_object_unref(ns);
    return n;
}

/* Text of a text part as clean UTF-8 in pool memory. */
char *mime_part_text(apr_pool_t *p, GMimeObject *o, apr_size_t *len)
{
    GMimeStream *mem = mime_decoded_stream(o);
    GByteArray *ba = g_mime_stream_mem_get_byte_array(GMIME_STREAM_MEM(mem));
    const char *cs = g_mime_object_get_content_type_parameter(o, "charset");
    char *t =
        as_mime_to_utf8(p, ba && ba->len ? (const char *)ba->data : "", ba ? ba->len : 0, cs, len);
    g_object_unref(mem);
    return t;
}

/* ---------------------------------------------------------------------------
 * Structure: body parts and attachments
 */
static int mime_ct_is(GMimeObject *o, const char *type, const char *sub)
{
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    return ct && g_mime_content_type_is_type(ct, type, sub);
}

static int mime_is_attachment_disp(GMimeObject *o)
{
    const char *d = g_mime_object_get_disposition(o);
    return d && !strcasecmp(d, "attachment");
}

static int has_filename(GMimeObject *o)
{
    return GMIME_IS_PART(o) && g_mime_part_get_filename(GMIME_PART(o)) != NULL;
}

static void take_text(GMimeObject *o, body_t *b, int strict)
{
    if (mime_is_attachment_disp(o) || (strict && has_filename(o))) {
        return;
    }
    if (mime_ct_is(o, "text", "plain") && !b->plain) {
        b->plain = o;
    } else if (mime_ct_is(o, "text", "html") && !b->html) {
        b->html = o;
    } else if (mime_ct_is(o, "text", "calendar") && !b->calendar) {
        b->calendar = o;
    }
}

void mime_find_body(GMimeObject *o, body_t *b, int depth, int first_in_mixed)
{
    int i, n;

    if (!o || depth > MAX_DEPTH) {
        return;
    }
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        n = g_mime_multipart_get_count(mp);
        if (mime_ct_is(o, "multipart", "alternative")) {
            for (i = 0; i < n; i++) {
                GMimeObject *c = g_mime_multipart_get_part(mp, i);
                if (GMIME_IS_MULTIPART(c)) {
                    body_t sub;
                    memset(&sub, 0, sizeof sub);
                    mime_find_body(c, &sub, depth + 1, 1);
                    if (sub.html && !b->html) {
                        b->html = sub.html;
                    }
                    if (sub.plain && !b->plain) {
                        b->plain = sub.plain;
                    }
                    if (sub.calendar && !b->calendar) {
                        b->calendar = sub.calendar;
                    }
                } else {
                    take_text(c, b, 0);
                }
            }
        } else if (mime_ct_is(o, "multipart", "related")) {
            const char *start = g_mime_object_get_content_type_parameter(o, "start");
            GMimeObject *root = NULL;
            if (start) {
                for (i = 0; i < n && !root; i++) {
                    GMimeObject *c = g_mime_multipart_get_part(mp, i);
                    const char *cid = g_mime_object_get_content_id(c);
                    if (cid && strstr(start, cid)) {
                        root = c;
                    }
                }
            }
            mime_find_body(root ? root : (n > 0 ? g_mime_multipart_get_part(mp, 0) : NULL), b,
                           depth + 1, 1);
        } else if (mime_ct_is(o, "multipart", "signed")) {
            b->smime_signed = 1;
            mime_find_body(n > 0 ? g_mime_multipart_get_part(mp, 0) : NULL, b, depth + 1, 1);
        } else {
            if (mime_ct_is(o, "multipart", "report")) {
                b->report = 1;
            }
            /* mixed and the rest: the first part that holds a body */
            for (i = 0; i < n; i++) {
                GMimeObject *c = g_mime_multipart_get_part(mp, i);
                mime_find_body(c, b, depth + 1, i == 0);
                if (b->plain || b->html) {
                    break;
                }
            }
        }
    } else if (GMIME_IS_APPLICATION_PKCS7_MIME(o) || mime_ct_is(o, "application", "x-pkcs7-mime")) {
        b->smime_enc = 1;
    } else if (GMIME_IS_PART(o)) {
        take_text(o, b, !first_in_mixed);
    }
}

void mime_list_atts(GMimeObject *o, const char *path, const body_t *b, apr_pool_t *p,
                    apr_array_header_t *out, int depth)
{
    int i, n;

    if (!o || depth > MAX_DEPTH || out->nelts >= MAX_PARTS) {
        return;
    }
    if (GMIME_IS_MULTIPART(o)) {
        GMimeMultipart *mp = GMIME_MULTIPART(o);
        int alt = mime_ct_is(o, "multipart", "alternative");
        int sig = mime_ct_is(o, "multipart", "signed");
        n = g_mime_multipart_get_count(mp);
        for (i = 0; i < n; i++) {
            GMimeObject *c = g_mime_multipart_get_part(mp, i);
            const char *cp =
                *path ? apr_psprintf(p, "%s.%d", path, i + 1) : apr_psprintf(p, "%d", i + 1);
            if (sig && i > 0) {
                continue; /* the signature */
            }
            if (strlen(cp) > MAX_PART_PATH) {
                continue; /* a FileReference nobody could fetch (fuzz_mime) */
            }
            if (alt && !GMIME_IS_MULTIPART(c) && mime_ct_is(c, "text", "*") &&
                !mime_is_attachment_disp(c)) {
                continue; /* another rendering of the body */
            }
            mime_list_atts(c, cp, b, p, out, depth + 1);
        }
        return;
    }
    if (o == b->plain || o == b->html || o == b->calendar) {
        return;
    }
    if (GMIME_IS_MESSAGE_PART(o) || GMIME_IS_PART(o)) {
        att_t *a = apr_array_push(out);
        a->o = o;
        a->path = *path ? path : "1";
        a->method = GMIME_IS_MESSAGE_PART(o) ? 5 : 1;
    }
}

GMimeObject *mime_part_by_path(GMimeMessage *msg, const char *path)
{
    GMimeObject *o = g_mime_message_get_mime_part(msg);
    const char *c = path;

    if (!o) {
        return NULL;
    }
    if (!GMIME_IS_MULTIPART(o)) {
        return !strcmp(path, "1") ? o : NULL;
    }
    while (*c) {
        char *end;
        long idx = strtol(c, &end, 10);
        if (end == c || idx < 1 || !GMIME_IS_MULTIPART(o) ||
            idx > g_mime_multipart_get_count(GMIME_MULTIPART(o))) {
            return NULL;
        }
        o = g_mime_multipart_get_part(GMIME_MULTIPART(o), (int)idx - 1);
        if (*end == '.') {
            end++;
        } else if (*end) {
            return NULL;
        }
        c = end;
    }
    return o;
}

static const char *ext_for(GMimeObject *o)
{
    static const struct {
        const char *type, *ext;
    } map[] = {
        {"image/png", ".png"},       {"image/jpeg", ".jpg"},     {"image/gif", ".gif"},
        {"application/pdf", ".pdf"}, {"text/plain", ".txt"},     {"text/html", ".html"},
        {"text/calendar", ".ics"},   {"message/rfc822", ".eml"}, {"application/zip", ".zip"}};
    GMimeContentType *ct = g_mime_object_get_content_type(o);
    size_t i;

    for (i = 0; ct && i < sizeof map / sizeof map[0]; i++) {
        const char *slash = strchr(map[i].type, '/');
        char t[32];
        memcpy(t, map[i].type, (size_t)(slash - map[i].type));
        t[slash - map[i].type] = '\0';
        if (g_mime_content_type_is_type(ct, t, slash + 1)) {
            return map[i].ext;
        }
    }
    return ".dat";
}

const char *mime_att_name(apr_pool_t *p, GMimeObject *o, const char *path)
{
    const char *n = NULL;
    if (GMIME_IS_PART(o)) {
        n = g_mime_part_get_filename(GMIME_PART(o));
    }
    if (!n) {
        n = g_mime_object_get_content_type_parameter(o, "name");
    }
    if (n && *n) {
        const char *c = mime_clean_header(p, n);
        /* no path components in a name a phone may save as a file */
        const char *s = strrchr(c, '/');
        c = s ? s + 1 : c;
        s = strrchr(c, '\\');
        c = s ? s + 1 : c;
        if (*c) {
            return c;
        }
    }
    if (GMIME_IS_MESSAGE_PART(o)) {
        GMimeMessage *inner = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));
        const char *subj = inner ? g_mime_message_get_subject(inner) : NULL;
        if (subj && *subj) {
            char *s = apr_pstrcat(p, mime_clean_header(p, subj), ".eml", NULL), *c;
            for (c = s; *c; c++) {
                if (*c == '/' || *c == '\\') {
                    *c = '_';
                }
            }
            return s;
        }
    }
    return apr_pstrcat(p, "attachment-", path, ext_for(o), NULL);
}
