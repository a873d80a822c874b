/* MIME to EAS Email with GMime 3: the item, FileReferences and attachment
 * data (see as_mime.h). */
#include <string.h>
#include <strings.h>

#include <apr_strings.h>
#include <gmime/gmime.h>

#include "activesync/as_command.h"
#include "activesync/as_log.h"
#include "activesync/as_meeting.h"
#include "activesync/as_mime.h"
#include "as_mime_int.h"

void as_mime_add_flags(xmlNodePtr app, unsigned flags)
{
    xmlNodePtr flag;
    as_xml_add(app, NS_EMAIL, "Read", flags & AS_STORE_SEEN ? "1" : "0");
    flag = as_xml_add(app, NS_EMAIL, "Flag", NULL);
    if (flags & AS_STORE_FLAGGED) {
        as_xml_add(flag, NS_EMAIL, "Status", "2");
        as_xml_add(flag, NS_EMAIL, "FlagType", "Flag for follow up");
    }
}

void as_mime_add_last_verb(xmlNodePtr app, unsigned flags)
{
    if (flags & (AS_STORE_FORWARDED | AS_STORE_ANSWERED)) {
        as_xml_add(app, NS_EMAIL2, "LastVerbExecuted", flags & AS_STORE_FORWARDED ? "3" : "1");
    }
}

/* To, Cc, From, Subject, ReplyTo, DateReceived, DisplayTo, ThreadTopic,
 * Importance, Read; *subject and *when for the later elements. */
static void add_headers(apr_pool_t *p, GMimeMessage *msg, const as_mime_opts_t *o, xmlNodePtr app,
                        const char **subject, apr_time_t *when)
{
    const char *s;

    if ((s = mime_addr_list(p, g_mime_message_get_to(msg), ", ", 0)) != NULL) {
        as_xml_add(app, NS_EMAIL, "To", s);
    }
    if ((s = mime_addr_list(p, g_mime_message_get_cc(msg), ", ", 0)) != NULL) {
        as_xml_add(app, NS_EMAIL, "Cc", s);
    }
    if ((s = mime_addr_list(p, g_mime_message_get_from(msg), ", ", 0)) != NULL) {
        as_xml_add(app, NS_EMAIL, "From", s);
    }
    *subject = mime_clean_header(p, g_mime_message_get_subject(msg));
    if (!*subject) {
        *subject = "";
    }
    as_xml_add(app, NS_EMAIL, "Subject", *subject);
    if ((s = mime_addr_list(p, g_mime_message_get_reply_to(msg), "; ", 0)) != NULL) {
        as_xml_add(app, NS_EMAIL, "ReplyTo", s);
    }
    *when = o->received ? o->received : mime_header_date(msg);
    if (!*when) {
        *when = apr_time_now();
    }
    as_xml_add(app, NS_EMAIL, "DateReceived", mime_date_str(p, *when));
    if ((s = mime_addr_list(p, g_mime_message_get_to(msg), "; ", 1)) != NULL) {
        as_xml_add(app, NS_EMAIL, "DisplayTo", s);
    }
    as_xml_add(app, NS_EMAIL, "ThreadTopic", mime_thread_topic(p, msg, *subject));
    as_xml_add(app, NS_EMAIL, "Importance", apr_itoa(p, mime_importance_of(msg)));
    as_xml_add(app, NS_EMAIL, "Read", o->flags & AS_STORE_SEEN ? "1" : "0");
}

static void add_attachments(apr_pool_t *p, GMimeObject *root, const body_t *b,
                            const as_mime_opts_t *o, xmlNodePtr app)
{
    apr_array_header_t *atts = apr_array_make(p, 4, sizeof(att_t));
    xmlNodePtr list;
    int i;

    mime_list_atts(root, "", b, p, atts, 0);
    if (atts->nelts == 0) {
        return;
    }
    list = as_xml_add(app, NS_BASE, "Attachments", NULL);
    for (i = 0; i < atts->nelts; i++) {
        att_t *a = &APR_ARRAY_IDX(atts, i, att_t);
        xmlNodePtr at = as_xml_add(list, NS_BASE, "Attachment", NULL);
        const char *cid = g_mime_object_get_content_id(a->o);
        const char *disp = g_mime_object_get_disposition(a->o);
        int isinline = disp ? !strcasecmp(disp, "inline") : cid != NULL;

        as_xml_add(at, NS_BASE, "DisplayName", mime_att_name(p, a->o, a->path));
        as_xml_add(at, NS_BASE, "FileReference",
                   as_mime_fileref(p, o->folder_id ? o->folder_id : "0",
                                   o->item_id ? o->item_id : "0", a->path));
        as_xml_add(at, NS_BASE, "Method", apr_itoa(p, a->method));
        as_xml_add(at, NS_BASE, "EstimatedDataSize", apr_off_t_toa(p, mime_decoded_size(a->o)));
        if (cid && *cid) {
            as_xml_add(at, NS_BASE, "ContentId", mime_clean_header(p, cid));
        }
        as_xml_add(at, NS_BASE, "IsInline", isinline ? "1" : "0");
    }
}

/* MessageClass from the calendar part (a usable invitation fills
 * *meeting) and the S/MIME and report structure. */
static const char *message_class(apr_pool_t *p, GMimeMessage *msg, const body_t *b,
                                 const as_mime_opts_t *o, apr_time_t when, const char **cclass,
                                 as_meeting_t **meeting)
{
    const char *mclass = NULL;

    *cclass = NULL;
    *meeting = NULL;
    if (b->calendar) {
        apr_size_t clen;
        char *cal = mime_part_text(p, b->calendar, &clen);
        mclass = mime_meeting_class(p, b->calendar, cal, cclass);
        if (mclass && (!strcmp(mclass, "IPM.Schedule.Meeting.Request") ||
                       !strcmp(mclass, "IPM.Schedule.Meeting.Canceled"))) {
            const char *merr = NULL;
            apr_time_t stamp = mime_header_date(msg);
            if (as_meeting_parse(p, cal, clen, !strcmp(mclass, "IPM.Schedule.Meeting.Canceled"),
                                 stamp ? stamp : when, meeting, &merr) != APR_SUCCESS) {
                /* still a message the user can read */
                as_log(o->log, AS_LOG_MARK, AS_LOG_WARNING, APR_SUCCESS,
                       "MIME: item %s:%s: unusable iCalendar invitation (%s), sent as a plain "
                       "message",
                       o->folder_id ? o->folder_id : "?", o->item_id ? o->item_id : "?",
                       merr ? merr : "?");
                mclass = NULL;
                *cclass = NULL;
                *meeting = NULL;
            }
        }
    }
    if (mclass) {
        return mclass;
    }
    if (b->smime_signed) {
        return "IPM.Note.SMIME.MultipartSigned";
    }
    if (b->smime_enc) {
        return "IPM.Note.SMIME";
    }
    return b->report ? "REPORT.IPM.Note.NDR" : "IPM.Note";
}

apr_status_t as_mime_to_eas(apr_pool_t *p, apr_file_t *file, const as_mime_opts_t *o,
                            xmlNodePtr app, const char **err)
{
    msg_t m;
    apr_status_t rv;
    GMimeObject *root;
    body_t b;
    const char *subject, *mclass, *cclass;
    apr_time_t when;
    xmlNodePtr flag;
    as_meeting_t *meeting;

    *err = NULL;
    rv = mime_msg_parse(p, file, &m, err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    root = g_mime_message_get_mime_part(m.msg);
    memset(&b, 0, sizeof b);
    mime_find_body(root, &b, 0, 1);

    add_headers(p, m.msg, o, app, &subject, &when);
    add_attachments(p, root, &b, o, app);
    rv = mime_add_body_element(p, &m, &b, o, app);
    if (rv != APR_SUCCESS) {
        mime_msg_free(&m);
        *err = "cannot read the message file";
        return rv;
    }
    mclass = message_class(p, m.msg, &b, o, when, &cclass, &meeting);
    as_xml_add(app, NS_EMAIL, "MessageClass", mclass);
    if (meeting) {
        as_meeting_add(p, app, meeting, o->protocol);
    }
    as_xml_add(app, NS_EMAIL, "InternetCPID", "65001");
    flag = as_xml_add(app, NS_EMAIL, "Flag", NULL);
    if (o->flags & AS_STORE_FLAGGED) {
        as_xml_add(flag, NS_EMAIL, "Status", "2");
        as_xml_add(flag, NS_EMAIL, "FlagType", "Flag for follow up");
    }
    as_xml_add(app, NS_EMAIL, "ContentClass", cclass ? cclass : "urn:content-classes:message");
    as_xml_add(app, NS_BASE, "NativeBodyType", b.html ? "2" : "1");
    if (o->protocol >= 140) {
        /* Email2 and Categories are 14.0 elements: never to 12.x clients */
        mime_add_conversation(p, m.msg, subject, when, app);
        as_mime_add_last_verb(app, o->flags);
        mime_add_categories(p, m.msg, m.popts, app);
    }
    mime_msg_free(&m);
    return APR_SUCCESS;
}

/* ---------------------------------------------------------------------------
 * FileReference and attachment data
 */
static int ref_id_ok(const char *s, size_t n, size_t max)
{
    size_t i;
    if (n == 0 || n > max) {
        return 0;
    }
    for (i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'v'))) {
            return 0;
        }
    }
    return 1;
}

static int part_ok(const char *s)
{
    int digits = 0;
    if (!*s || strlen(s) > MAX_PART_PATH) {
        return 0;
    }
    for (; *s; s++) {
        if (*s >= '0' && *s <= '9') {
            if (digits == 0 && *s == '0') {
                return 0;
            }
            digits++;
        } else if (*s == '.' && digits > 0) {
            digits = 0;
        } else {
            return 0;
        }
    }
    return digits > 0;
}

const char *as_mime_fileref(apr_pool_t *p, const char *folder_id, const char *item_id,
                            const char *part)
{
    return apr_pstrcat(p, folder_id, ":", item_id, ":", part, NULL);
}

apr_status_t as_mime_fileref_parse(apr_pool_t *p, const char *ref, const char **folder_id,
                                   const char **item_id, const char **part)
{
    const char *c1, *c2;

    *folder_id = *item_id = *part = NULL;
    if (!ref || !(c1 = strchr(ref, ':')) || !(c2 = strchr(c1 + 1, ':'))) {
        return APR_EINVAL;
    }
    if (!ref_id_ok(ref, (size_t)(c1 - ref), AS_STORE_FOLDER_ID_MAX) ||
        !ref_id_ok(c1 + 1, (size_t)(c2 - c1 - 1), AS_STORE_ITEM_ID_MAX) || !part_ok(c2 + 1)) {
        return APR_EINVAL;
    }
    *folder_id = apr_pstrmemdup(p, ref, (apr_size_t)(c1 - ref));
    *item_id = apr_pstrmemdup(p, c1 + 1, (apr_size_t)(c2 - c1 - 1));
    *part = apr_pstrdup(p, c2 + 1);
    return APR_SUCCESS;
}

apr_status_t as_mime_attachment_stream(apr_pool_t *p, apr_file_t *file, const char *part,
                                       as_mime_sink_fn *sink, void *ctx, as_mime_attachment_t *out)
{
    msg_t m;
    const char *err;
    GMimeObject *o;
    GMimeStream *src;
    apr_status_t rv;
    unsigned char buf[65536];
    apr_off_t pos = 0;
    char *ct;

    memset(out, 0, sizeof *out);
    if (!part || !part_ok(part)) {
        return APR_EINVAL;
    }
    rv = mime_msg_parse(p, file, &m, &err);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    o = mime_part_by_path(m.msg, part);
    if (!o || GMIME_IS_MULTIPART(o)) {
        mime_msg_free(&m);
        return APR_ENOENT;
    }
    ct = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(o));
    out->content_type = apr_pstrdup(p, ct ? ct : "application/octet-stream");
    g_free(ct);
    out->name = mime_att_name(p, o, part);

    /* decode a leaf part from the (persisted) file stream, chunk by chunk:
     * only an embedded message is serialised into memory first */
    if (GMIME_IS_PART(o)) {
        GMimeDataWrapper *w = g_mime_part_get_content(GMIME_PART(o));
        GMimeStream *raw = w ? g_mime_data_wrapper_get_stream(w) : NULL;
        if (raw) {
            GMimeContentEncoding enc = g_mime_data_wrapper_get_encoding(w);
            g_mime_stream_reset(raw);
            src = g_mime_stream_filter_new(raw);
            if (enc == GMIME_CONTENT_ENCODING_BASE64 ||
                enc == GMIME_CONTENT_ENCODING_QUOTEDPRINTABLE ||
                enc == GMIME_CONTENT_ENCODING_UUENCODE) {
                GMimeFilter *flt = g_mime_filter_basic_new(enc, FALSE);
                g_mime_stream_filter_add(GMIME_STREAM_FILTER(src), flt);
                g_object_unref(flt);
            }
        } else {
            src = g_mime_stream_mem_new();
        }
    } else {
        src = mime_decoded_stream(o);
    }
    for (;;) {
        ssize_t n = g_mime_stream_read(src, (char *)buf, sizeof buf);
        if (n <= 0) {
            break;
        }
        if (sink && (rv = sink(ctx, buf, (apr_size_t)n)) != APR_SUCCESS) {
            break;
        }
        pos += n;
    }
    g_object_unref(src);
    out->total = pos;
    mime_msg_free(&m);
    return rv;
}

/* as_mime_attachment's sink: keeps [offset, offset+length) of the stream. */
typedef struct range_sink_t {
    apr_pool_t *p;
    apr_off_t offset, length, pos;
    unsigned char *data;
    apr_size_t len, cap;
} range_sink_t;

static apr_status_t range_sink(void *ctx, const unsigned char *buf, apr_size_t n)
{
    range_sink_t *r = ctx;
    apr_off_t from = r->pos > r->offset ? r->pos : r->offset, to = r->pos + (apr_off_t)n;

    if (r->length >= 0 && r->offset + r->length < to) {
        to = r->offset + r->length;
    }
    if (to > from) {
        apr_size_t k = (apr_size_t)(to - from);
        if (r->len + k > r->cap) {
            unsigned char *nd;
            r->cap = (r->len + k) * 2 + 65536;
            nd = apr_palloc(r->p, r->cap);
            if (r->len) {
                memcpy(nd, r->data, r->len);
            }
            r->data = nd;
        }
        memcpy(r->data + r->len, buf + (from - r->pos), k);
        r->len += k;
    }
    r->pos += (apr_off_t)n;
    return APR_SUCCESS;
}

apr_status_t as_mime_attachment(apr_pool_t *p, apr_file_t *file, const char *part, apr_off_t offset,
                                apr_off_t length, as_mime_attachment_t *out)
{
    range_sink_t r;
    apr_status_t rv;

    memset(out, 0, sizeof *out);
    if (offset < 0) {
        return APR_EINVAL;
    }
    memset(&r, 0, sizeof r);
    r.p = p;
    r.offset = offset;
    r.length = length;
    rv = as_mime_attachment_stream(p, file, part, range_sink, &r, out);
    if (rv != APR_SUCCESS) {
        return rv;
    }
    out->data = r.data ? r.data : (const unsigned char *)"";
    out->len = r.len;
    return APR_SUCCESS;
}
