/* The request body buffer (as_body_buf.h): memory follows the bytes that
 * arrive, not the announced Content-Length; growth is geometric and
 * bounded; the contents survive every growth. */
#include <string.h>

#include "activesync/as_body_buf.h"
#include "unit.h"

static unsigned char chunk[100000];

static void fill_chunk(void)
{
    apr_size_t i;
    for (i = 0; i < sizeof(chunk); i++) {
        chunk[i] = (unsigned char)(i * 7 + 3);
    }
}

/* data[0..len) is the pattern of chunk appended in pieces of `piece`. */
static void assert_contents(const as_body_buf_t *b, apr_size_t piece)
{
    apr_size_t i;
    for (i = 0; i < b->len; i++) {
        ck_assert_uint_eq(b->data[i], chunk[i % piece]);
    }
}

START_TEST(large_announcement_small_body)
{
    /* 15 MiB announced under a 16 MiB bound, 10 bytes sent: 16 KiB held */
    as_body_buf_t b;
    as_body_buf_init(&b, 16 * 1024 * 1024, 15 * 1024 * 1024);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
    ck_assert_int_eq(as_body_buf_append(&b, "0123456789", 10), APR_SUCCESS);
    ck_assert_uint_eq(b.len, 10);
    ck_assert_uint_eq(b.cap, AS_BODY_BUF_FIRST);
    ck_assert_int_eq(memcmp(b.data, "0123456789", 10), 0);
    as_body_buf_free(&b);
}
END_TEST

START_TEST(nothing_sent_nothing_allocated)
{
    as_body_buf_t b;
    as_body_buf_init(&b, 1024 * 1024, 1000000);
    ck_assert_int_eq(as_body_buf_append(&b, "", 0), APR_SUCCESS);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.cap, 0);
    as_body_buf_free(&b);
}
END_TEST

START_TEST(small_announcement_exact)
{
    /* a body smaller than the first allocation costs exactly its size */
    as_body_buf_t b;
    as_body_buf_init(&b, 64 * 1024, 300);
    ck_assert_int_eq(as_body_buf_append(&b, chunk, 200), APR_SUCCESS);
    ck_assert_uint_eq(b.cap, 300);
    ck_assert_int_eq(as_body_buf_append(&b, chunk, 100), APR_SUCCESS);
    ck_assert_uint_eq(b.cap, 300);
    ck_assert_uint_eq(b.len, 300);
    as_body_buf_free(&b);
}
END_TEST

START_TEST(geometric_growth)
{
    /* unknown length (chunked), 1000-byte pieces up to 1 MB: the capacity
     * doubles from 16 KiB, so there are 7 allocations, and it is never more
     * than twice what has arrived */
    as_body_buf_t b;
    apr_size_t last = 0, i;
    unsigned allocations = 0;

    as_body_buf_init(&b, 2 * 1024 * 1024, -1);
    for (i = 0; i < 1000; i++) {
        ck_assert_int_eq(as_body_buf_append(&b, chunk, 1000), APR_SUCCESS);
        if (b.cap != last) {
            ck_assert_uint_eq(b.cap, last ? last * 2 : AS_BODY_BUF_FIRST);
            last = b.cap;
            allocations++;
        }
        ck_assert_uint_le(b.cap, b.len > AS_BODY_BUF_FIRST / 2 ? 2 * b.len : AS_BODY_BUF_FIRST);
    }
    ck_assert_uint_eq(b.len, 1000000);
    ck_assert_uint_eq(b.cap, 1024 * 1024);
    ck_assert_uint_eq(allocations, 7);
    assert_contents(&b, 1000);
    as_body_buf_free(&b);
}
END_TEST

START_TEST(one_large_piece)
{
    /* a piece larger than a doubling: the capacity jumps to the next step */
    as_body_buf_t b;
    as_body_buf_init(&b, 1024 * 1024, -1);
    ck_assert_int_eq(as_body_buf_append(&b, chunk, 100000), APR_SUCCESS);
    ck_assert_uint_eq(b.cap, 8 * AS_BODY_BUF_FIRST);
    assert_contents(&b, 100000);
    as_body_buf_free(&b);
}
END_TEST

START_TEST(bounded)
{
    /* the bound caps the capacity and refuses the byte beyond it */
    as_body_buf_t b;
    apr_size_t i;

    as_body_buf_init(&b, 50000, 50000);
    for (i = 0; i < 50; i++) {
        ck_assert_int_eq(as_body_buf_append(&b, chunk, 1000), APR_SUCCESS);
        ck_assert_uint_le(b.cap, 50000);
    }
    ck_assert_uint_eq(b.cap, 50000);
    ck_assert_int_eq(as_body_buf_append(&b, chunk, 1), APR_ENOSPC);
    ck_assert_uint_eq(b.len, 50000);
    ck_assert_int_eq(as_body_buf_append(&b, chunk, (apr_size_t)-1), APR_ENOSPC);
    assert_contents(&b, 1000);
    /* a bound below the first allocation */
    as_body_buf_free(&b);
    as_body_buf_init(&b, 100, -1);
    ck_assert_int_eq(as_body_buf_append(&b, chunk, 101), APR_ENOSPC);
    ck_assert_ptr_null(b.data);
    ck_assert_int_eq(as_body_buf_append(&b, chunk, 100), APR_SUCCESS);
    ck_assert_uint_eq(b.cap, 100);
    as_body_buf_free(&b);
}
END_TEST

START_TEST(free_empties)
{
    as_body_buf_t b;
    as_body_buf_init(&b, 4096, -1);
    ck_assert_int_eq(as_body_buf_append(&b, chunk, 10), APR_SUCCESS);
    as_body_buf_free(&b);
    ck_assert_ptr_null(b.data);
    ck_assert_uint_eq(b.len, 0);
    ck_assert_uint_eq(b.cap, 0);
    as_body_buf_free(&b);
    ck_assert_ptr_null(b.data);
}
END_TEST

Suite *unit_suite(void)
{
    Suite *s = suite_create("body_buf");
    TCase *tc = tcase_create("body_buf");

    fill_chunk();
    tcase_add_checked_fixture(tc, unit_pool_setup, unit_pool_teardown);
    tcase_add_test(tc, large_announcement_small_body);
    tcase_add_test(tc, nothing_sent_nothing_allocated);
    tcase_add_test(tc, small_announcement_exact);
    tcase_add_test(tc, geometric_growth);
    tcase_add_test(tc, one_large_piece);
    tcase_add_test(tc, bounded);
    tcase_add_test(tc, free_empties);
    suite_add_tcase(s, tc);
    return s;
}
