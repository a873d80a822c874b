/* A fake MTA for the tests of SendMail, SmartReply and SmartForward: the
 * outbound interface records what would be submitted and answers
 * fake.result; fakeob_setup() gives each test the ItemOperations fixture
 * (iotest.h: a Maildir for IOT_ACCT, a database) with this outbound.
 * Include it after TESTDB_FIXTURE(). */
#ifndef AS_FAKEOUTBOUND_H
#define AS_FAKEOUTBOUND_H

#include <string.h>

#include "activesync/as_outbound.h"
#include "iotest.h"
#include "testdb.h"

typedef struct fake_t {
    as_outbound_result_t result;
    int calls;
    const char *sender, *msg, *rcpts; /* recipients joined by ',' */
    apr_size_t len;
} fake_t;

static fake_t fake;

static as_outbound_result_t fake_submit(const as_outbound_t *ob, apr_pool_t *p, const char *sender,
                                        const apr_array_header_t *r, const char *msg,
                                        apr_size_t len, const char **words)
{
    fake_t *f = ob->ctx;
    f->calls++;
    f->sender = apr_pstrdup(unit_pool, sender);
    f->msg = apr_pstrmemdup(unit_pool, msg, len);
    f->len = len;
    f->rcpts = apr_array_pstrcat(unit_pool, r, ',');
    *words = f->result == AS_OUTBOUND_OK ? "" : "451 4.3.0 try again later";
    (void)p;
    return f->result;
}

static as_outbound_t fake_ob = {fake_submit, &fake};

/* t made into a 12.1 request of cmd (the message in the body, SaveInSent
 * in the request line) for IOT_ACCT's device; the caller runs it. */
static inline void fakeob_request12(cmdtest_t *t, const char *cmd, int save, const char *mime)
{
    memset(t, 0, sizeof(*t));
    t->line.cmd = cmd;
    t->line.device_id = t->line.device_key = IOT_DEV;
    t->line.save_in_sent = save;
    t->req.pool = unit_pool;
    t->req.account = IOT_ACCT;
    t->req.line = &t->line;
    t->req.protocol_version = "12.1";
    t->req.raw_body = mime;
    t->req.raw_len = mime ? strlen(mime) : 0;
    t->req.conf = &iot_conf;
    t->req.db = db;
    t->resp.http_status = 200;
    t->resp.headers = apr_table_make(unit_pool, 4);
}

static void fakeob_setup(void)
{
    testdb_setup();
    iot_setup();
    memset(&fake, 0, sizeof fake);
    iot_conf.outbound = &fake_ob;
}

static void fakeob_teardown(void)
{
    iot_teardown();
    testdb_teardown();
}

#endif
