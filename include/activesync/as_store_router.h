/* One folder hierarchy over an account's stores (DESIGN §2): the mail
 * store (Maildir) and the collection store (as_collections.h) behind one
 * as_store_t.  Folder ids are the backends' own (they do not overlap: see
 * AS_COLLECTIONS_ID_PREFIX), so the ids of existing mail folders stay as
 * they were; the hierarchy token combines both backends' tokens; each item
 * operation goes to the store that owns the folder.  Mail-only operations
 * (flags, special folders, delivery) go to the mail store. */
#ifndef AS_STORE_ROUTER_H
#define AS_STORE_ROUTER_H

#include "as_store.h"

/* mail and/or coll may be NULL (that class of folders is absent); both
 * NULL is APR_EINVAL.  With one store only, *store is that store itself. */
apr_status_t as_store_router_open(apr_pool_t *p, as_store_t *mail, as_store_t *coll,
                                  const as_logger_t *log, as_store_t **store);

#endif
