/* Private to MeetingResponse (as_cmd_meetingresponse.c: the request and the
 * reply; as_meetingresp_answer.c: one Request answered in the store). */
#ifndef AS_MEETINGRESP_H
#define AS_MEETINGRESP_H

#include "activesync/as_command.h"
#include "activesync/as_store.h"

/* At most this many Request elements in one command (more: 400). */
#define AS_MEETINGRESP_MAX_REQUESTS 100
/* Status values (MS-ASCMD 2.2.3.177.9), and the common "access denied". */
#define AS_MR_OK            1
#define AS_MR_INVALID       2
#define AS_MR_MAILBOX       3
#define AS_MR_SERVER        4
#define AS_MR_ACCESS_DENIED 130

typedef struct as_meetingresp_req_t {
    int response;              /* 1 accept, 2 tentative, 3 decline */
    const char *request_id;    /* ServerId of the invitation mail or the calendar item */
    const char *collection_id; /* for the log only: the folder is the RequestId's */
    int has_instance;          /* InstanceId (14.1+): one occurrence */
    apr_time_t instance;
} as_meetingresp_req_t;

/* Answer one Request in the account's store st: the Status, and the
 * calendar item's ServerId in *calendar_id for an event that stays. */
int as_meetingresp_answer(as_request_t *r, as_store_t *st, const as_meetingresp_req_t *q,
                          const char **calendar_id);

#endif
