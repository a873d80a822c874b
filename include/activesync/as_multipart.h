/* Multipart ItemOperations replies (MS-ASCMD 2.2.1.10.1.1 MultiPartResponse).
 *
 * A client that sends "MS-ASAcceptMultiPart: T" (or Options bit 0x02 in the
 * base64 request line) may receive ItemOperations data as raw binary parts
 * instead of base64 text in Data elements.  The HTTP body is then
 *
 *     PartsCount                int32 little-endian
 *     PartsCount x { Offset     int32 LE, bytes from the start of the body
 *                    Length }   int32 LE
 *     part 0, part 1, ...       the bytes
 *
 * with Content-Type: application/vnd.ms-sync.multipart.  Part 0 is the
 * WBXML reply; in it each fetched datum is an itemoperations:Part element
 * holding the index of its part (Properties/Part for an attachment,
 * airsyncbase:Body/Part for an item's body), where a plain reply has Data.
 *
 * The command (as_cmd_itemoperations) leaves the binary parts 1..n in
 * as_response_t.parts (array of as_multipart_part_t); the glue encodes
 * resp->doc (part 0) and sends either as_multipart_build()'s single buffer
 * or, to avoid copying large attachments, the as_multipart_header() bytes
 * followed by part 0 and the parts as separate buckets.
 */
#ifndef AS_MULTIPART_H
#define AS_MULTIPART_H

#include <apr_pools.h>
#include <apr_errno.h>
#include <apr_tables.h>

#define AS_MULTIPART_CONTENT_TYPE "application/vnd.ms-sync.multipart"

typedef struct as_multipart_part_t {
    const void *data;
    apr_size_t len;
} as_multipart_part_t;

/* Append a part to *parts (created in p when NULL); returns its index in the
 * reply (1 for the first: part 0 is the WBXML). */
int as_multipart_add(apr_pool_t *p, apr_array_header_t **parts, const void *data, apr_size_t len);

/* The count and metadata that precede the parts, for part 0 of part0_len
 * bytes followed by parts (may be NULL).  APR_EINVAL when the body would
 * not fit the 32-bit offsets (2 GiB). */
apr_status_t as_multipart_header(apr_pool_t *p, apr_size_t part0_len,
                                 const apr_array_header_t *parts, const unsigned char **hdr,
                                 apr_size_t *hdr_len);

/* The whole body in one buffer (header, part 0, parts). */
apr_status_t as_multipart_build(apr_pool_t *p, const void *part0, apr_size_t part0_len,
                                const apr_array_header_t *parts, const unsigned char **out,
                                apr_size_t *out_len);

/* Split a multipart body (tests, clients): *parts receives every part,
 * part 0 included, as as_multipart_part_t pointing into buf.  APR_EINVAL
 * when the structure is inconsistent. */
apr_status_t as_multipart_parse(apr_pool_t *p, const void *buf, apr_size_t len,
                                apr_array_header_t **parts);

#endif
