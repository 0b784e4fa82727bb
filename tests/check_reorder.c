/*  Unit tests for the reorder buffer: items put in any order within the
    window come back strictly by seq; duplicates and far seqs are refused. */

#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "fanfold/job/reorder.h"

#define S_MANY 1000

static size_t s_freed;              /* calls to s_count_free */

static void
s_count_free (void *item)
{
    s_freed++;
    free (item);
}

/* A heap item holding its seq, so that a pop can be checked. */
static uint64_t *
s_item (uint64_t seq)
{
    uint64_t *item = malloc (sizeof (uint64_t));
    ck_assert_ptr_nonnull (item);
    *item = seq;
    return item;
}

/* Pops everything that is ready and checks it comes in seq order from
   *expected; returns how many were popped. */
static size_t
s_drain (ff_reorder_t *reorder, uint64_t *expected)
{
    size_t popped = 0;
    uint64_t *item;
    while ((item = ff_reorder_pop (reorder))) {
        ck_assert_uint_eq (*item, *expected);
        (*expected)++;
        popped++;
        free (item);
    }
    return popped;
}

START_TEST (test_reorder_releases_each_item_at_once_when_items_arrive_in_order)
{
    ff_reorder_t *reorder = ff_reorder_new (4, 0, free);
    uint64_t seq, expected = 0;
    ck_assert_ptr_nonnull (reorder);
    for (seq = 0; seq < 10; seq++) {
        ck_assert_int_eq (ff_reorder_put (reorder, seq, s_item (seq)),
                          FF_REORDER_STORED);
        ck_assert_uint_eq (ff_reorder_held (reorder), 1);
        ck_assert_uint_eq (s_drain (reorder, &expected), 1);
        ck_assert_uint_eq (ff_reorder_next (reorder), seq + 1);
    }
    ck_assert_uint_eq (ff_reorder_held (reorder), 0);
    ff_reorder_destroy (&reorder);
    ck_assert_ptr_null (reorder);
}
END_TEST

START_TEST (test_reorder_claim_passes_only_the_next_seq_when_nothing_is_held_for_it)
{
    ff_reorder_t *reorder = ff_reorder_new (4, 5, free);
    uint64_t expected = 7;
    ck_assert_ptr_nonnull (reorder);
    ck_assert_int_eq (ff_reorder_claim (reorder, 6), 0);     /* not its turn */
    ck_assert_int_eq (ff_reorder_claim (reorder, 4), 0);     /* already past */
    ck_assert_int_eq (ff_reorder_claim (reorder, 5), 1);
    ck_assert_uint_eq (ff_reorder_next (reorder), 6);
    ck_assert_int_eq (ff_reorder_claim (reorder, 5), 0);     /* a duplicate */
    /* 6 held: a second 6 is neither claimed nor stored */
    ck_assert_int_eq (ff_reorder_put (reorder, 7, s_item (7)), FF_REORDER_STORED);
    ck_assert_int_eq (ff_reorder_put (reorder, 6, s_item (6)), FF_REORDER_STORED);
    ck_assert_int_eq (ff_reorder_claim (reorder, 6), 0);
    uint64_t *six = ff_reorder_pop (reorder);
    ck_assert_ptr_nonnull (six);
    ck_assert_uint_eq (*six, 6);
    free (six);
    ck_assert_uint_eq (s_drain (reorder, &expected), 1);     /* 7 */
    ck_assert_uint_eq (ff_reorder_next (reorder), 8);
    ck_assert_uint_eq (ff_reorder_held (reorder), 0);
    ff_reorder_destroy (&reorder);
}
END_TEST

START_TEST (test_reorder_releases_in_seq_order_when_items_arrive_reversed)
{
    ff_reorder_t *reorder = ff_reorder_new (8, 0, free);
    uint64_t expected = 0;
    int seq;
    for (seq = 7; seq >= 1; seq--) {
        ck_assert_int_eq (ff_reorder_put (reorder, (uint64_t) seq, s_item ((uint64_t) seq)),
                          FF_REORDER_STORED);
        ck_assert_ptr_null (ff_reorder_pop (reorder));
    }
    ck_assert_uint_eq (ff_reorder_held (reorder), 7);
    ck_assert_int_eq (ff_reorder_put (reorder, 0, s_item (0)), FF_REORDER_STORED);
    ck_assert_uint_eq (s_drain (reorder, &expected), 8);
    ck_assert_uint_eq (ff_reorder_next (reorder), 8);
    ck_assert_uint_eq (ff_reorder_held (reorder), 0);
    ff_reorder_destroy (&reorder);
}
END_TEST

START_TEST (test_reorder_releases_a_random_permutation_of_1000_seqs_in_order)
{
    uint64_t order [S_MANY], expected = 0, state = 0x2545f4914f6cdd1dull;
    size_t index, popped = 0;
    for (index = 0; index < S_MANY; index++)
        order [index] = index;
    for (index = S_MANY - 1; index > 0; index--) {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        size_t other = (size_t) (state % (index + 1));
        uint64_t swap = order [index];
        order [index] = order [other];
        order [other] = swap;
    }
    ff_reorder_t *reorder = ff_reorder_new (S_MANY, 0, free);
    for (index = 0; index < S_MANY; index++) {
        ck_assert_int_eq (ff_reorder_put (reorder, order [index], s_item (order [index])),
                          FF_REORDER_STORED);
        popped += s_drain (reorder, &expected);
    }
    ck_assert_uint_eq (popped, S_MANY);
    ck_assert_uint_eq (expected, S_MANY);
    ck_assert_uint_eq (ff_reorder_held (reorder), 0);
    ff_reorder_destroy (&reorder);
}
END_TEST

START_TEST (test_reorder_starts_releasing_at_the_first_seq_it_was_given)
{
    ff_reorder_t *reorder = ff_reorder_new (8, 100, free);
    uint64_t expected = 100;
    ck_assert_uint_eq (ff_reorder_next (reorder), 100);
    ck_assert_int_eq (ff_reorder_put (reorder, 101, s_item (101)), FF_REORDER_STORED);
    ck_assert_ptr_null (ff_reorder_pop (reorder));
    ck_assert_int_eq (ff_reorder_put (reorder, 100, s_item (100)), FF_REORDER_STORED);
    ck_assert_uint_eq (s_drain (reorder, &expected), 2);
    ck_assert_uint_eq (ff_reorder_next (reorder), 102);
    ff_reorder_destroy (&reorder);
}
END_TEST

START_TEST (test_reorder_destroy_frees_every_item_still_held)
{
    ff_reorder_t *reorder = ff_reorder_new (16, 0, s_count_free);
    uint64_t seq;
    s_freed = 0;
    for (seq = 1; seq <= 5; seq++)
        ck_assert_int_eq (ff_reorder_put (reorder, seq * 2, s_item (seq * 2)),
                          FF_REORDER_STORED);
    ck_assert_uint_eq (ff_reorder_held (reorder), 5);
    ff_reorder_destroy (&reorder);
    ck_assert_ptr_null (reorder);
    ck_assert_uint_eq (s_freed, 5);
    ff_reorder_destroy (&reorder);      /* a second call is harmless */
    ck_assert_uint_eq (s_freed, 5);
}
END_TEST

START_TEST (test_reorder_destroy_frees_held_items_past_the_rings_wrap)
{
    /* next at 13 of 16 slots: the items held lie in slots 14, 15, 0 and 3 */
    ff_reorder_t *reorder = ff_reorder_new (16, 13, s_count_free);
    const uint64_t seqs [] = { 14, 15, 16, 19 };
    size_t index;
    s_freed = 0;
    for (index = 0; index < 4; index++)
        ck_assert_int_eq (ff_reorder_put (reorder, seqs [index], s_item (seqs [index])),
                          FF_REORDER_STORED);
    ff_reorder_destroy (&reorder);
    ck_assert_uint_eq (s_freed, 4);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_reorder_refuses_a_window_of_0)
{
    ck_assert_ptr_null (ff_reorder_new (0, 0, free));
}
END_TEST

START_TEST (test_reorder_refuses_a_seq_that_was_already_released)
{
    ff_reorder_t *reorder = ff_reorder_new (4, 0, free);
    uint64_t item = 0, expected = 0;
    ck_assert_int_eq (ff_reorder_put (reorder, 0, s_item (0)), FF_REORDER_STORED);
    ck_assert_uint_eq (s_drain (reorder, &expected), 1);
    ck_assert_int_eq (ff_reorder_put (reorder, 0, &item), FF_REORDER_DUPLICATE);
    ck_assert_uint_eq (ff_reorder_held (reorder), 0);
    ck_assert_uint_eq (ff_reorder_next (reorder), 1);
    ff_reorder_destroy (&reorder);
}
END_TEST

START_TEST (test_reorder_refuses_a_seq_that_is_already_held_and_keeps_the_first)
{
    ff_reorder_t *reorder = ff_reorder_new (4, 0, free);
    uint64_t *first = s_item (2), second = 2;
    ck_assert_int_eq (ff_reorder_put (reorder, 2, first), FF_REORDER_STORED);
    ck_assert_int_eq (ff_reorder_put (reorder, 2, &second), FF_REORDER_DUPLICATE);
    ck_assert_uint_eq (ff_reorder_held (reorder), 1);
    ck_assert_int_eq (ff_reorder_put (reorder, 0, s_item (0)), FF_REORDER_STORED);
    ck_assert_int_eq (ff_reorder_put (reorder, 1, s_item (1)), FF_REORDER_STORED);
    free (ff_reorder_pop (reorder));
    free (ff_reorder_pop (reorder));
    ck_assert_ptr_eq (ff_reorder_pop (reorder), first);
    free (first);
    ff_reorder_destroy (&reorder);
}
END_TEST

START_TEST (test_reorder_refuses_a_seq_at_or_past_next_plus_window)
{
    ff_reorder_t *reorder = ff_reorder_new (4, 10, free);
    uint64_t item = 0, expected = 10;
    ck_assert_int_eq (ff_reorder_put (reorder, 14, &item), FF_REORDER_OUT_OF_WINDOW);
    ck_assert_int_eq (ff_reorder_put (reorder, UINT64_MAX, &item),
                      FF_REORDER_OUT_OF_WINDOW);
    ck_assert_uint_eq (ff_reorder_held (reorder), 0);
    ck_assert_int_eq (ff_reorder_put (reorder, 13, s_item (13)), FF_REORDER_STORED);
    ck_assert_int_eq (ff_reorder_put (reorder, 10, s_item (10)), FF_REORDER_STORED);
    ck_assert_uint_eq (s_drain (reorder, &expected), 1);
    /* the window slid by one: 14 fits now, 15 still does not */
    ck_assert_int_eq (ff_reorder_put (reorder, 15, &item), FF_REORDER_OUT_OF_WINDOW);
    ck_assert_int_eq (ff_reorder_put (reorder, 14, s_item (14)), FF_REORDER_STORED);
    ck_assert_uint_eq (ff_reorder_held (reorder), 2);
    ff_reorder_destroy (&reorder);
}
END_TEST

/* Returns the seq an s_item holds. */
static uint64_t
s_item_seq (const void *item)
{
    return *(const uint64_t *) item;
}

START_TEST (test_reorder_says_when_the_next_seq_is_due_and_checks_its_slots)
{
    ff_reorder_t *reorder = ff_reorder_new (4, 10, s_count_free);
    ck_assert_uint_eq (ff_reorder_window (reorder), 4);
    ck_assert_int_eq (ff_reorder_due (reorder), 0);
    ck_assert_int_eq (ff_reorder_put (reorder, 12, s_item (12)), FF_REORDER_STORED);
    ck_assert_int_eq (ff_reorder_due (reorder), 0);
    ff_reorder_check (reorder, s_item_seq);
    ck_assert_int_eq (ff_reorder_put (reorder, 10, s_item (10)), FF_REORDER_STORED);
    ck_assert_int_eq (ff_reorder_due (reorder), 1);
    ff_reorder_check (reorder, s_item_seq);
    free (ff_reorder_pop (reorder));
    ck_assert_int_eq (ff_reorder_due (reorder), 0);
    ff_reorder_check (reorder, NULL);
    ff_reorder_destroy (&reorder);
}
END_TEST

Suite *
reorder_suite (void)
{
    Suite *suite = suite_create ("reorder");

    TCase *tc = tcase_create ("order");
    tcase_add_test (tc, test_reorder_releases_each_item_at_once_when_items_arrive_in_order);
    tcase_add_test (tc, test_reorder_claim_passes_only_the_next_seq_when_nothing_is_held_for_it);
    tcase_add_test (tc, test_reorder_releases_in_seq_order_when_items_arrive_reversed);
    tcase_add_test (tc, test_reorder_releases_a_random_permutation_of_1000_seqs_in_order);
    tcase_add_test (tc, test_reorder_starts_releasing_at_the_first_seq_it_was_given);
    tcase_add_test (tc, test_reorder_destroy_frees_every_item_still_held);
    tcase_add_test (tc, test_reorder_destroy_frees_held_items_past_the_rings_wrap);
    tcase_add_test (tc, test_reorder_says_when_the_next_seq_is_due_and_checks_its_slots);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_add_test (tc, test_reorder_refuses_a_window_of_0);
    tcase_add_test (tc, test_reorder_refuses_a_seq_that_was_already_released);
    tcase_add_test (tc, test_reorder_refuses_a_seq_that_is_already_held_and_keeps_the_first);
    tcase_add_test (tc, test_reorder_refuses_a_seq_at_or_past_next_plus_window);
    suite_add_tcase (suite, tc);
    return suite;
}
