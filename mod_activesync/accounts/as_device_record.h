/* The device record codec and keys of devices.db (private to the accounts
 * layer).  See as_device.h for the encoding. */
#ifndef AS_DEVICE_RECORD_H
#define AS_DEVICE_RECORD_H

#include <stddef.h>

#include "activesync/as_device.h"

#define AS_DEVREC_KEY_MAX (2 + 253 + 1 + 64 + 1 + 64 + 1)
#define AS_DEVREC_ID_MAX  64

/* "v:DOMAIN/LOCAL/DEVICEKEY" into buf (AS_DEVREC_KEY_MAX bytes); with
 * device_key NULL the account's prefix "v:DOMAIN/LOCAL/".  Returns the length. */
size_t as_devrec_key(char *buf, const char *account, const char *device_key);
/* Account and device id of d from a key "v:dom/local/DEV". */
int as_devrec_from_key(apr_pool_t *p, const char *key, size_t klen, as_device_t *d);
/* Decode a record value into d (cleared by the caller with as_devrec_clear). */
int as_devrec_decode(apr_pool_t *p, const unsigned char *buf, size_t len, as_device_t *d);
void as_devrec_clear(as_device_t *d);
/* The record value of d in a malloc()ed buffer (NULL when out of memory). */
unsigned char *as_devrec_encode(const as_device_t *d, size_t *len);
/* Validate and upper-case a device id from the administrator (AS_DIR_EINVAL
 * with *err). */
apr_status_t as_devrec_admin_id(apr_pool_t *p, const char *in, const char **out, const char **err);

#endif
