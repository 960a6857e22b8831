/* Unit tests of the in-flight transaction ring: the watermark moves only
 * over transactions that are closed and fully delivered, in order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_ring.h"

static void test_in_order(void **state)
{
    relay_ring *r = relay_ring_new(3);
    uint64_t wm = 50;
    relay_txn *a = relay_ring_open(r, 100, 0, 1);
    relay_ring_sent(a);
    relay_ring_sent(a);
    uint64_t ida = a->id;
    relay_ring_close(a, 110);
    relay_txn *b = relay_ring_open(r, 200, 0, 2);
    uint64_t idb = b->id;
    relay_ring_sent(b);
    relay_ring_close(b, 210);
    relay_txn *c = relay_ring_open(r, 300, 0, 3);
    assert_true(relay_ring_full(r));
    assert_null(relay_ring_open(r, 400, 0, 4));
    /* b is delivered first: the watermark must still wait for a. */
    assert_int_equal(relay_ring_delivered(r, idb, true), 0);
    assert_int_equal(relay_ring_advance(r, &wm), 0);
    assert_int_equal(wm, 50);
    assert_int_equal(relay_ring_delivered(r, ida, true), 0);
    assert_int_equal(relay_ring_advance(r, &wm), 0);
    assert_int_equal(relay_ring_delivered(r, ida, true), 0);
    assert_int_equal(relay_ring_advance(r, &wm), 2);
    assert_int_equal(wm, 210);
    /* c is open (no commit yet): it holds the watermark although empty. */
    assert_int_equal(relay_ring_advance(r, &wm), 0);
    relay_ring_close(c, 310);
    assert_int_equal(relay_ring_advance(r, &wm), 1);
    assert_int_equal(wm, 310);
    assert_int_equal(relay_ring_count(r), 0);
    assert_int_equal(relay_ring_delivered(r, ida, true), -1); /* gone */
    relay_ring_free(r);
}

static void test_failure_blocks(void **state)
{
    relay_ring *r = relay_ring_new(8);
    uint64_t wm = 0;
    relay_txn *a = relay_ring_open(r, 100, 0, 1);
    uint64_t ida = a->id;
    relay_ring_sent(a);
    relay_ring_close(a, 110);
    relay_txn *b = relay_ring_open(r, 200, 0, 2);
    uint64_t idb = b->id;
    relay_ring_sent(b);
    relay_ring_close(b, 210);
    assert_int_equal(relay_ring_delivered(r, ida, false), 0);
    assert_int_equal(relay_ring_delivered(r, idb, true), 0);
    assert_int_equal(relay_ring_advance(r, &wm), 0);
    assert_int_equal(wm, 0);
    assert_true(relay_ring_failed(r));
    relay_ring_free(r);
}

/* The watermark never moves backwards, and ids survive wrap-around. */
static void test_wrap(void **state)
{
    relay_ring *r = relay_ring_new(2);
    uint64_t wm = 1000;
    for (int i = 0; i < 10; i++) {
        relay_txn *t = relay_ring_open(r, (uint64_t)i * 10, 0, (uint32_t)i);
        uint64_t id = t->id;
        relay_ring_sent(t);
        relay_ring_close(t, (uint64_t)i * 10 + 5);
        assert_int_equal(relay_ring_delivered(r, id, true), 0);
        relay_ring_advance(r, &wm);
    }
    assert_int_equal(wm, 1000);
    relay_txn *t = relay_ring_open(r, 5000, 0, 1);
    relay_ring_close(t, 5005);
    relay_ring_advance(r, &wm);
    assert_int_equal(wm, 5005);
    relay_ring_free(r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_in_order),
                                       cmocka_unit_test(test_failure_blocks),
                                       cmocka_unit_test(test_wrap)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
