/* WBXML codec, shared part: limits, error messages, UTF-8 validation and
 * the code-page lookup tables the decoder and the encoder share.
 *
 * The tables are the one process-wide state of the codec: built once
 * (pthread_once) from the constant as_codepages.h and never written again,
 * so every thread, virtual host and test reads the same immutable data. */
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "as_wbxml_int.h"

void as_wbxml_limits_default(as_wbxml_limits_t *lim)
{
    lim->max_size = (apr_size_t)32 << 20;
    lim->max_depth = 64;
    lim->max_elements = 500000;
}

const char *as_wbxml_strerror(as_wbxml_err_t err)
{
    switch (err) {
    case AS_WBXML_OK:
        return "success";
    case AS_WBXML_E_TRUNCATED:
        return "WBXML input ends inside a token or an element";
    case AS_WBXML_E_HEADER:
        return "WBXML header not acceptable (version, public id or charset)";
    case AS_WBXML_E_STRTBL:
        return "WBXML string table malformed or referenced outside its bounds";
    case AS_WBXML_E_TOKEN:
        return "unknown WBXML tag on its code page";
    case AS_WBXML_E_PAGE:
        return "WBXML SWITCH_PAGE to a code page that does not exist";
    case AS_WBXML_E_ATTR:
        return "WBXML attributes are not used by ActiveSync";
    case AS_WBXML_E_EXT:
        return "WBXML ENTITY, PI, EXT or LITERAL token not used by ActiveSync";
    case AS_WBXML_E_STRUCTURE:
        return "WBXML document structure malformed";
    case AS_WBXML_E_UTF8:
        return "string is not valid UTF-8";
    case AS_WBXML_E_LIMIT:
        return "WBXML document over a size, depth or element limit";
    case AS_WBXML_E_INTEGER:
        return "WBXML multi-byte integer too long";
    case AS_WBXML_E_NOMEM:
        return "out of memory";
    case AS_WBXML_E_TREE:
        return "document cannot be encoded as ActiveSync WBXML";
    }
    return "unknown WBXML error";
}

int as_wbxml_utf8_valid(const unsigned char *s, size_t n)
{
    const unsigned char *end = s + n;

    while (s < end) {
        unsigned c;
        /* ASCII fast path, 8 bytes at a time. */
        while ((size_t)(end - s) >= 8) {
            uint64_t w;
            memcpy(&w, s, 8);
            if (w & UINT64_C(0x8080808080808080)) {
                break;
            }
            s += 8;
        }
        if (s >= end) {
            break;
        }
        c = *s;
        if (c < 0x80) {
            s++;
        } else if (c >= 0xC2 && c <= 0xDF) {
            if (end - s < 2 || (s[1] & 0xC0) != 0x80) {
                return 0;
            }
            s += 2;
        } else if (c >= 0xE0 && c <= 0xEF) {
            if (end - s < 3 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80) {
                return 0;
            }
            if ((c == 0xE0 && s[1] < 0xA0) || (c == 0xED && s[1] > 0x9F)) {
                return 0; /* overlong, surrogate */
            }
            s += 3;
        } else if (c >= 0xF0 && c <= 0xF4) {
            if (end - s < 4 || (s[1] & 0xC0) != 0x80 || (s[2] & 0xC0) != 0x80 ||
                (s[3] & 0xC0) != 0x80) {
                return 0;
            }
            if ((c == 0xF0 && s[1] < 0x90) || (c == 0xF4 && s[1] > 0x8F)) {
                return 0; /* overlong, > U+10FFFF */
            }
            s += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

/* ---- code-page tables ------------------------------------------------------ */

/* Name -> token: open addressing over every (page, name) of as_codepages. */
#define TAGHASH_SIZE 2048 /* power of two, > 2 * number of tags */

typedef struct {
    const char *name; /* NULL: free slot */
    unsigned char page;
    unsigned char token;
} taghash_ent_t;

/* Built once from constant tables, read-only after (see the top of the file). */
static taghash_ent_t taghash[TAGHASH_SIZE];
static pthread_once_t tables_once = PTHREAD_ONCE_INIT;

/* Token -> name (as_wbxml_int.h); insertions into a decoded document's
 * dictionary (by whoever edits the tree later) go to the document's own. */
static as_wbxml_names_t names;

/* (interned name pointer, page) -> token, for trees this decoder built:
 * their element names are the very pointers of names.names. */
#define PTRHASH_SIZE 2048 /* power of two, > 2 * number of tags */

static struct {
    const xmlChar *name;
    unsigned char page;
    unsigned char token;
} ptrhash[PTRHASH_SIZE];

static unsigned ptrhash_fn(const xmlChar *name, unsigned page)
{
    uintptr_t v = (uintptr_t)name >> 3;
    return (unsigned)((v ^ (v >> 17) ^ (page << 5)) * 2654435761u) >> 21;
}

static unsigned taghash_fn(unsigned page, const unsigned char *name)
{
    unsigned h = 2166136261u ^ (page * 16777619u);
    while (*name) {
        h = (h ^ *name++) * 16777619u;
    }
    return h ^ (h >> 15);
}

static void tables_init(void)
{
    unsigned page;
    size_t i;

    names.names_dict = xmlDictCreate(); /* never freed; NULL: no sharing */

    for (page = 0; page < AS_CODEPAGE_COUNT; page++) {
        const as_codepage_t *cp = as_codepage(page);
        if (!cp) {
            continue;
        }
        for (i = 0; i < cp->ntags; i++) {
            unsigned h;
            if (!cp->tags[i].name) {
                continue;
            }
            h = taghash_fn(page, (const unsigned char *)cp->tags[i].name) & (TAGHASH_SIZE - 1);
            while (taghash[h].name) {
                h = (h + 1) & (TAGHASH_SIZE - 1);
            }
            taghash[h].name = cp->tags[i].name;
            taghash[h].page = (unsigned char)page;
            taghash[h].token = cp->tags[i].token;
            if (names.names_dict && cp->tags[i].token < 64) {
                const xmlChar *in = xmlDictLookup(names.names_dict, BAD_CAST cp->tags[i].name, -1);
                names.names[page][cp->tags[i].token] = in;
                if (in) {
                    h = ptrhash_fn(in, page) & (PTRHASH_SIZE - 1);
                    while (ptrhash[h].name) {
                        h = (h + 1) & (PTRHASH_SIZE - 1);
                    }
                    ptrhash[h].name = in;
                    ptrhash[h].page = (unsigned char)page;
                    ptrhash[h].token = cp->tags[i].token;
                }
            }
        }
    }
    if (names.names_dict) {
        /* the marker attribute's name too: decoding never writes to the
         * document's own dictionary */
        (void)xmlDictLookup(names.names_dict, BAD_CAST AS_WBXML_OPAQUE_ATTR, -1);
    }
}

int as_wbxml_tag_token(unsigned page, const xmlChar *name)
{
    unsigned h = ptrhash_fn(name, page) & (PTRHASH_SIZE - 1);

    while (ptrhash[h].name) {
        if (ptrhash[h].name == name && ptrhash[h].page == page) {
            return ptrhash[h].token;
        }
        h = (h + 1) & (PTRHASH_SIZE - 1);
    }
    h = taghash_fn(page, name) & (TAGHASH_SIZE - 1);

    while (taghash[h].name) {
        if (taghash[h].page == page && !strcmp(taghash[h].name, (const char *)name)) {
            return taghash[h].token;
        }
        h = (h + 1) & (TAGHASH_SIZE - 1);
    }
    return -1;
}

const as_wbxml_names_t *as_wbxml_names(void)
{
    pthread_once(&tables_once, tables_init);
    return &names;
}
