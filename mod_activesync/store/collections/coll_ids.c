/* Collection store ids (as_collections.h IDS) and the checks that every
 * name from a client or from the disk passes before it touches a path.
 * Folder ids: 'v' + 9 base32 digits of SHA-256(directory name, component);
 * item ids: 13 base32 digits of SHA-256(file name), so another program
 * rewriting a file under the same name keeps its id. */
#include <string.h>

#include <apr_strings.h>
#include <openssl/evp.h>

#include "coll_internal.h"

static const char digits[] = "0123456789abcdefghijklmnopqrstuv";

/* The first digits*5 bits of bytes, in base32 [0-9a-v]. */
void coll_b32(const unsigned char *bytes, int digits_n, char *out)
{
    int i;

    for (i = 0; i < digits_n; i++) {
        int bit = i * 5, byte = bit / 8, shift = bit % 8;
        unsigned v = ((unsigned)bytes[byte] << 8) | bytes[byte + 1];
        out[i] = digits[(v >> (11 - shift)) & 31];
    }
    out[digits_n] = '\0';
}

static void digest(const char *a, size_t alen, const char *b, size_t blen, unsigned char md[32])
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned n = 0;

    memset(md, 0, 32);
    if (ctx && EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) == 1) {
        EVP_DigestUpdate(ctx, a, alen);
        EVP_DigestUpdate(ctx, b, blen);
        EVP_DigestFinal_ex(ctx, md, &n);
    }
    EVP_MD_CTX_free(ctx);
}

void coll_folder_id(const char *dirname, unsigned comp, char out[COLL_FOLDER_ID_LEN + 1])
{
    unsigned char md[32];
    char c[2] = {(char)('0' + comp), '\0'};

    /* "\0" keeps "ab"+"1" apart from "a"+"b1" */
    digest(dirname, strlen(dirname) + 1, c, 1, md);
    out[0] = AS_COLLECTIONS_ID_PREFIX;
    coll_b32(md, COLL_FOLDER_ID_LEN - 1, out + 1);
}

void coll_item_id(const char *name, char out[COLL_ITEM_ID_LEN + 1])
{
    unsigned char md[32];

    digest(name, strlen(name), "", 0, md);
    coll_b32(md, COLL_ITEM_ID_LEN, out);
}

static int b32_valid(const char *id, size_t len)
{
    size_t i;

    for (i = 0; i < len; i++) {
        if (!id[i] || !strchr(digits, id[i])) {
            return 0;
        }
    }
    return id[len] == '\0';
}

int coll_folder_id_valid(const char *id)
{
    return id && id[0] == AS_COLLECTIONS_ID_PREFIX && b32_valid(id + 1, COLL_FOLDER_ID_LEN - 1);
}

int coll_item_id_valid(const char *id)
{
    return id && b32_valid(id, COLL_ITEM_ID_LEN);
}

int coll_entry_name_ok(const char *name)
{
    size_t n = name ? strlen(name) : 0;

    return n > 0 && n <= 255 && name[0] != '.' && !strchr(name, '/') && name[n - 1] != '~';
}

static int utf8_valid(const unsigned char *s)
{
    while (*s) {
        int n = *s < 0x80             ? 0
                : (*s & 0xe0) == 0xc0 ? 1
                : (*s & 0xf0) == 0xe0 ? 2
                : (*s & 0xf8) == 0xf0 ? 3
                                      : -1;
        if (n < 0 || (n == 1 && *s < 0xc2)) {
            return 0;
        }
        s++;
        while (n-- > 0) {
            if ((*s & 0xc0) != 0x80) {
                return 0;
            }
            s++;
        }
    }
    return 1;
}

const char *coll_display_name_bad(const char *name)
{
    const unsigned char *c;
    size_t n = name ? strlen(name) : 0;

    if (n == 0 || n > COLL_MAX_NAME) {
        return "empty or longer than 255 bytes";
    }
    for (c = (const unsigned char *)name; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return "a control character";
        }
    }
    if (!utf8_valid((const unsigned char *)name)) {
        return "not UTF-8";
    }
    return NULL;
}

/* A UID escaped into a file name: letters, digits and "-_.@+=" kept,
 * everything else (and '%') as %XX, so two UIDs never share a name; a
 * leading dot escaped too (dot-files are Radicale's and ours). */
const char *coll_item_file_name(apr_pool_t *p, const char *uid, int cls)
{
    const char *ext = cls == AS_CLASS_CONTACTS ? ".vcf" : ".ics";
    apr_array_header_t *out;
    const unsigned char *c;

    if (!uid || !*uid || strlen(uid) > COLL_MAX_FILE_NAME) {
        return apr_pstrcat(p, coll_random_name(p), ext, NULL);
    }
    out = apr_array_make(p, (int)strlen(uid) * 3 + 8, 1);
    for (c = (const unsigned char *)uid; *c; c++) {
        int keep = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
                   (*c >= '0' && *c <= '9') || strchr("-_@+=", *c) ||
                   (*c == '.' && c != (const unsigned char *)uid);
        if (keep && *c) {
            *(char *)apr_array_push(out) = (char)*c;
        } else {
            char esc[4];
            apr_snprintf(esc, sizeof esc, "%%%02X", *c);
            memcpy(apr_array_push(out), esc, 1);
            memcpy(apr_array_push(out), esc + 1, 1);
            memcpy(apr_array_push(out), esc + 2, 1);
        }
    }
    *(char *)apr_array_push(out) = '\0';
    if (strlen(out->elts) > COLL_MAX_FILE_NAME) {
        char hex[COLL_ETAG_LEN + 1];
        coll_sha256_hex(uid, strlen(uid), hex);
        return apr_pstrcat(p, hex, ext, NULL);
    }
    return apr_pstrcat(p, out->elts, ext, NULL);
}
