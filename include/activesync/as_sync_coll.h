/* The Sync engine for one mail collection: the client's Commands applied to
 * the store, the server's changes paged into a reply, the state advanced,
 * and loop detection when the device resends a key (as_sync_collection.c;
 * the protocol and its rules: commands/as_cmd_sync.c).  The Sync command
 * parses the request into as_sync_coll_req_t, runs as_sync_collection() for
 * each collection and assembles the replies. */
#ifndef AS_SYNC_COLL_H
#define AS_SYNC_COLL_H

#include "as_item_codec.h"
#include "as_mime.h"
#include "as_sync.h"

#define AS_SYNC_AS_NS    "AirSync:"
#define AS_SYNC_BASE_NS  "AirSyncBase:"
#define AS_SYNC_EMAIL_NS "Email:"

/* Sync Status values (MS-ASCMD 2.2.3.177.16). */
enum {
    AS_SYNC_STATUS_OK = 1,
    AS_SYNC_STATUS_BADKEY = 3,
    AS_SYNC_STATUS_PROTOCOL = 4,
    AS_SYNC_STATUS_SERVER = 5,
    AS_SYNC_STATUS_CONVERSION = 6,
    AS_SYNC_STATUS_CONFLICT = 7,
    AS_SYNC_STATUS_NOTFOUND = 8,
    AS_SYNC_STATUS_HIERARCHY = 12,
    AS_SYNC_STATUS_INCOMPLETE = 13,
    AS_SYNC_STATUS_BADWAIT = 14,
    AS_SYNC_STATUS_TOOMANY = 15,
};

/* Body preferences kept per collection (more are ignored). */
#define AS_SYNC_MAX_PREFS 4

/* One collection of the request. */
typedef struct as_sync_coll_req_t {
    const char *id;
    const char *key;
    int get_changes; /* -1 absent */
    int window;      /* effective WindowSize */
    int filter;
    int deletes_as_moves;
    int conflict; /* 1 server wins, 0 client wins */
    as_mime_bodypref_t prefs[AS_SYNC_MAX_PREFS];
    int nprefs;
    int mime_support;
    xmlNodePtr commands; /* the client's Commands, NULL: none (or already run) */
    /* set by as_sync_collection from the folder: */
    int cls;                      /* as_item_class_t of its items */
    const as_item_codec_t *codec; /* their conversion (NULL for Email) */
    const char *req_class;        /* the request's Class element (12.1), NULL when absent */
    int supported;                /* the request has a Supported element */
} as_sync_coll_req_t;

/* Its reply. */
typedef struct as_sync_coll_res_t {
    xmlDocPtr doc;   /* Sync{Collections{Collection}} of this collection */
    xmlNodePtr coll; /* its Collection element, every namespace declared on it */
    int nothing;     /* no change either way, key unchanged: may be left out */
} as_sync_coll_res_t;

/* What a Sync request's collections share. */
typedef struct as_sync_run_t {
    as_request_t *r; /* the request (its scratch view while the command parks) */
    const char *dev; /* device key */
    as_store_t *st;  /* NULL: mail off */
    int proto;
    int global_left;    /* items the request's WindowSize still allows; -1: no limit */
    as_hier_state_t hs; /* the device's hierarchy, loaded on demand */
    int hs_loaded;
    /* The conversion of a class; NULL: as_item_codec() (tests give their own). */
    const as_item_codec_t *(*codec_of)(int cls);
} as_sync_run_t;

/* Sync one collection into res (the caller frees it with
 * as_sync_coll_res_reset).  first: the request's first round, in which the
 * client's Commands run.  Errors are the state database's (the command
 * answers 503); everything else is a Status in res. */
apr_status_t as_sync_collection(as_sync_run_t *c, const as_sync_coll_req_t *q, int first,
                                as_sync_coll_res_t *res);
/* Free res->doc and clear res. */
void as_sync_coll_res_reset(as_sync_coll_res_t *res);

#endif
