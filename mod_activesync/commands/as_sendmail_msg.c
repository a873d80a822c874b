/* SendMail's message checks: recipients from To, Cc and Bcc (GMime), the
 * From against the account, and the bytes submitted (without Bcc) and
 * saved (with it).  The phone's bytes are kept as they are: only header
 * lines are removed or added, nothing is re-encoded. */
#include <string.h>
#include <strings.h>

#include <apr_date.h>
#include <apr_lib.h>
#include <apr_strings.h>
#include <gmime/gmime.h>

#include "as_sendmail.h"
#include "activesync/as_mime.h"
#include "activesync/as_outbound.h"

/* Length of the header section (up to and including the empty line), or 0
 * when there is none. */
static apr_size_t header_end(const char *raw, apr_size_t len)
{
    apr_size_t i;

    for (i = 0; i + 1 < len; i++) {
        if (raw[i] == '\n' && raw[i + 1] == '\n') {
            return i + 2;
        }
        if (raw[i] == '\n' && raw[i + 1] == '\r' && i + 2 < len && raw[i + 2] == '\n') {
            return i + 3;
        }
    }
    return 0;
}

static int header_named(const char *line, apr_size_t n, const char *name)
{
    size_t l = strlen(name);

    return n > l && !strncasecmp(line, name, l) && line[l] == ':';
}

/* Copy of the header section without the header `drop` (and its folded
 * lines); *has_from / *has_date say whether those were present. */
static char *headers_without(apr_pool_t *p, const char *raw, apr_size_t hlen, const char *drop,
                             apr_size_t *olen, int *has_from, int *has_date)
{
    char *out = apr_palloc(p, hlen + 1);
    apr_size_t i = 0, o = 0;
    int dropping = 0;

    while (i < hlen) {
        const char *nl = memchr(raw + i, '\n', hlen - i);
        apr_size_t n = nl ? (apr_size_t)(nl - (raw + i)) + 1 : hlen - i;
        const char *line = raw + i;

        if (line[0] != ' ' && line[0] != '\t') {
            dropping = drop && header_named(line, n, drop);
            *has_from |= header_named(line, n, "From");
            *has_date |= header_named(line, n, "Date");
        }
        if (!dropping) {
            memcpy(out + o, line, n);
            o += n;
        }
        i += n;
    }
    *olen = o;
    return out;
}

static as_sendmail_check_t add_list(apr_pool_t *p, InternetAddressList *list,
                                    apr_array_header_t *rcpts, const char **why, int depth)
{
    int i, n = list ? internet_address_list_length(list) : 0;

    for (i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(list, i);
        const char *addr;
        int j, dup = 0;

        if (INTERNET_ADDRESS_IS_GROUP(ia)) {
            as_sendmail_check_t rc;
            if (depth > 0) {
                continue; /* groups do not nest (RFC 5322) */
            }
            rc = add_list(p, internet_address_group_get_members(INTERNET_ADDRESS_GROUP(ia)), rcpts,
                          why, depth + 1);
            if (rc != AS_SM_OK) {
                return rc;
            }
            continue;
        }
        addr = internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia));
        if (!as_outbound_address_ok(addr)) {
            *why = apr_psprintf(p, "recipient \"%.80s\" is not a plain address", addr ? addr : "");
            return AS_SM_BAD_RCPT;
        }
        for (j = 0; j < rcpts->nelts && !dup; j++) {
            dup = !strcasecmp(APR_ARRAY_IDX(rcpts, j, const char *), addr);
        }
        if (dup) {
            continue;
        }
        if (rcpts->nelts >= AS_OUTBOUND_MAX_RECIPIENTS) {
            *why = apr_psprintf(p, "more than %d recipients", AS_OUTBOUND_MAX_RECIPIENTS);
            return AS_SM_TOO_MANY;
        }
        APR_ARRAY_PUSH(rcpts, const char *) = apr_pstrdup(p, addr);
    }
    return AS_SM_OK;
}

/* Is addr the sender's address or one of its aliases? */
static int may_send_as(const as_sendmail_sender_t *sender, const char *addr)
{
    int i;

    if (!strcasecmp(addr, sender->address)) {
        return 1;
    }
    for (i = 0; sender->aliases && i < sender->aliases->nelts; i++) {
        if (!strcasecmp(addr, APR_ARRAY_IDX(sender->aliases, i, const char *))) {
            return 1;
        }
    }
    return 0;
}

static as_sendmail_check_t check_from(apr_pool_t *p, GMimeMessage *m,
                                      const as_sendmail_sender_t *sender, int has_from,
                                      const char **why)
{
    InternetAddressList *from = g_mime_message_get_from(m);
    int i, n = from ? internet_address_list_length(from) : 0;

    if (!has_from) {
        return AS_SM_OK;
    }
    if (n == 0) {
        *why = "a From header without an address";
        return AS_SM_FROM;
    }
    for (i = 0; i < n; i++) {
        InternetAddress *ia = internet_address_list_get_address(from, i);
        const char *addr = INTERNET_ADDRESS_IS_MAILBOX(ia)
                               ? internet_address_mailbox_get_addr(INTERNET_ADDRESS_MAILBOX(ia))
                               : NULL;
        if (!addr || !may_send_as(sender, addr)) {
            *why = apr_psprintf(p, "From \"%.80s\" is not one of the account's addresses",
                                addr ? addr : "(group)");
            return AS_SM_FROM;
        }
    }
    return AS_SM_OK;
}

static as_sendmail_check_t parse_addresses(apr_pool_t *p, const as_sendmail_sender_t *sender,
                                           const char *raw, apr_size_t len, int has_from,
                                           apr_array_header_t *rcpts, const char **why)
{
    static const GMimeAddressType types[] = {GMIME_ADDRESS_TYPE_TO, GMIME_ADDRESS_TYPE_CC,
                                             GMIME_ADDRESS_TYPE_BCC};
    GMimeStream *stream = g_mime_stream_mem_new_with_buffer(raw, len);
    GMimeParser *parser = g_mime_parser_new_with_stream(stream);
    GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);
    as_sendmail_check_t rc = AS_SM_OK;
    size_t i;

    g_object_unref(parser);
    g_object_unref(stream);
    if (!m) {
        *why = "the message cannot be parsed";
        return AS_SM_BAD_MIME;
    }
    rc = check_from(p, m, sender, has_from, why);
    for (i = 0; rc == AS_SM_OK && i < sizeof(types) / sizeof(types[0]); i++) {
        rc = add_list(p, g_mime_message_get_addresses(m, types[i]), rcpts, why, 0);
    }
    g_object_unref(m);
    if (rc == AS_SM_OK && rcpts->nelts == 0) {
        *why = "no recipient in To, Cc or Bcc";
        rc = AS_SM_NO_RCPT;
    }
    return rc;
}

/* The From the server adds: the display name (quoted and, when not ASCII,
 * encoded by GMime) and the account's address. */
static const char *from_header_value(apr_pool_t *p, const as_sendmail_sender_t *sender)
{
    InternetAddress *ia;
    char *enc;
    const char *out;

    if (!sender->display_name || !*sender->display_name) {
        return sender->address;
    }
    ia = internet_address_mailbox_new(sender->display_name, sender->address);
    enc = internet_address_to_string(ia, NULL, TRUE);
    out = apr_pstrdup(p, enc);
    g_free(enc);
    g_object_unref(ia);
    return out;
}

/* prefix + headers + the rest of raw after the header section. */
static const char *assemble(apr_pool_t *p, const char *prefix, const char *hdr, apr_size_t hlen,
                            const char *body, apr_size_t blen, apr_size_t *olen)
{
    apr_size_t pl = strlen(prefix);
    char *out = apr_palloc(p, pl + hlen + blen + 1);

    memcpy(out, prefix, pl);
    memcpy(out + pl, hdr, hlen);
    memcpy(out + pl + hlen, body, blen);
    out[pl + hlen + blen] = '\0';
    *olen = pl + hlen + blen;
    return out;
}

as_sendmail_check_t as_sendmail_prepare(apr_pool_t *p, const as_sendmail_sender_t *sender,
                                        const char *raw, apr_size_t len, as_sendmail_msg_t *out,
                                        const char **why)
{
    apr_size_t hlen = header_end(raw, len), sub_hlen = 0, sent_hlen = 0;
    int has_from = 0, has_date = 0, f2 = 0, d2 = 0;
    const char *sub_hdr, *sent_hdr, *eol, *nl, *prefix = "";
    as_sendmail_check_t rc;

    memset(out, 0, sizeof(*out));
    *why = NULL;
    if (hlen == 0 && len > 0 && raw[len - 1] == '\n') {
        hlen = len; /* headers only, no body */
    }
    if (hlen == 0 || raw[0] == '\n' || raw[0] == '\r' || raw[0] == ' ' || raw[0] == '\t') {
        *why = "no header section";
        return AS_SM_BAD_MIME;
    }
    sub_hdr = headers_without(p, raw, hlen, "Bcc", &sub_hlen, &has_from, &has_date);
    sent_hdr = headers_without(p, raw, hlen, NULL, &sent_hlen, &f2, &d2);
    out->recipients = apr_array_make(p, 8, sizeof(const char *));
    rc = parse_addresses(p, sender, raw, len, has_from, out->recipients, why);
    if (rc != AS_SM_OK) {
        return rc;
    }
    nl = memchr(raw, '\n', hlen);
    eol = nl && nl > raw && nl[-1] == '\r' ? "\r\n" : "\n"; /* the phone's line ends */
    if (!has_from) {
        prefix = apr_pstrcat(p, "From: ", from_header_value(p, sender), eol, NULL);
    }
    if (!has_date) {
        char date[APR_RFC822_DATE_LEN];
        apr_rfc822_date(date, apr_time_now());
        prefix = apr_pstrcat(p, prefix, "Date: ", date, eol, NULL);
    }
    out->submit = assemble(p, prefix, sub_hdr, sub_hlen, raw + hlen, len - hlen, &out->submit_len);
    out->sent = assemble(p, prefix, sent_hdr, sent_hlen, raw + hlen, len - hlen, &out->sent_len);
    return AS_SM_OK;
}
