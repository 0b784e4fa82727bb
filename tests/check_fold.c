/*  Unit tests for folding: records of kernels without a fold pass through;
    the stats kernel's results over the chunks of an array fold into the
    figures of the whole array, kernel by kernel when they interleave; in
    "limits", a failed chunk, a chunk out of turn and a partial result that
    is no stats result make an error record. */

#include <check.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fanfold/kernels/fold.h"
#include "fanfold/kernels/kernels.h"

#define S_COUNT 11                      /* elements of the test arrays */

/* Fills values with count numbers that depend on salt: integers, so that
   every sum is exact, with repeats, negatives and a spread. */
static void
s_fill (double *values, size_t count, int salt)
{
    for (size_t index = 0; index < count; index++)
        values [index] = (double) ((int) ((index * 7 + (size_t) salt * 3) % 13) - 5 + salt * 10);
}

/* Runs stats on count values from first; the text is in result. */
static void
s_run_stats (const double *values, size_t first, size_t count, ff_result_t *result)
{
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    ck_assert_ptr_nonnull (stats);
    ff_array_t array;
    memset (&array, 0, sizeof (array));
    array.name = "data";
    array.dtype = FF_DTYPE_F64;
    array.ndim = 1;
    array.shape [0] = count;
    array.data = values + first;
    array.size = count * sizeof (double);
    ff_task_t task;
    memset (&task, 0, sizeof (task));
    task.input = "big.npy";
    task.arrays = &array;
    task.narrays = 1;
    ck_assert_int_eq (ff_kernels_run (stats, &task, result), 0);
}

/* Makes the record of result for seq and chunk. */
static ff_record_t
s_record (uint64_t seq, const char *input, const ff_result_t *result, uint32_t status)
{
    ff_record_t record;
    memset (&record, 0, sizeof (record));
    record.seq = seq;
    record.input = input;
    record.input_len = strlen (input);
    record.kernel = "stats";
    record.status = status;
    record.kind = FF_KIND_JSON;
    record.body = result->data.data;
    record.size = result->data.size;
    return record;
}

/* Returns the figure key of a stats result (NaN for null). */
static double
s_figure (const ff_record_t *record, const char *key)
{
    char text [512], pattern [32];
    ck_assert_uint_lt (record->size, sizeof (text));
    memcpy (text, record->body, record->size);
    text [record->size] = 0;
    snprintf (pattern, sizeof (pattern), "\"%s\":", key);
    const char *at = strstr (text, pattern);
    ck_assert_msg (at != NULL, "no %s in %s", key, text);
    at += strlen (pattern);
    if (strncmp (at, "null", 4) == 0)
        return NAN;
    char *end;
    double value = strtod (at, &end);
    ck_assert_msg (end != at, "%s of %s is not a number", key, text);
    return value;
}

/* Checks that record holds the stats of count values, computed here. */
static void
s_assert_stats_of (const ff_record_t *record, const double *values, size_t count)
{
    double sum = 0, min = values [0], max = values [0], m2 = 0;
    for (size_t index = 0; index < count; index++) {
        sum += values [index];
        if (values [index] < min) min = values [index];
        if (values [index] > max) max = values [index];
    }
    double mean = sum / (double) count;
    for (size_t index = 0; index < count; index++)
        m2 += (values [index] - mean) * (values [index] - mean);
    ck_assert_uint_eq (record->status, FF_STATUS_OK);
    ck_assert_double_eq (s_figure (record, "count"), (double) count);
    ck_assert_double_eq (s_figure (record, "sum"), sum);
    ck_assert_double_eq (s_figure (record, "min"), min);
    ck_assert_double_eq (s_figure (record, "max"), max);
    ck_assert_double_eq_tol (s_figure (record, "mean"), mean, 1e-12 * fabs (mean) + 1e-12);
    ck_assert_double_eq_tol (s_figure (record, "m2"), m2, 1e-12 * m2 + 1e-12);
    ck_assert_double_eq_tol (s_figure (record, "std"), sqrt (m2 / (double) count), 1e-12);
    ck_assert_ptr_nonnull (memmem (record->body, record->size, "\"dtype\":\"f8\"", 12));
}

/* Checks that record is an error whose message contains what. */
static void
s_assert_error (const ff_record_t *record, const char *what)
{
    ck_assert_uint_eq (record->status, FF_STATUS_ERROR);
    ck_assert_msg (memmem (record->body, record->size, what, strlen (what)) != NULL,
                   "error \"%.*s\" does not mention \"%s\"", (int) record->size,
                   (const char *) record->body, what);
}

static void
s_free (ff_result_t *result)
{
    free (result->data.data);
    free (result->meta.data);
}

/* -------------------------------------------------------------- folding */

START_TEST (test_fold_passes_records_of_a_kernel_without_fold_through_unchanged)
{
    ff_folder_t *folder = ff_folder_new ();
    ck_assert_ptr_nonnull (folder);
    const ff_kernel_t *noop = ff_kernels_find ("noop");
    ck_assert_ptr_nonnull (noop);
    ck_assert_ptr_null (noop->fold);
    ff_record_t record, out;
    memset (&record, 0, sizeof (record));
    record.seq = 9;
    record.input = "big.npy";
    record.input_len = 7;
    record.kernel = "noop";
    record.body = "abc";
    record.size = 3;
    record.meta = "\"exit\":0";
    record.meta_len = 8;
    for (uint32_t chunk = 0; chunk < 3; chunk++) {
        record.seq = 9 + chunk;
        ck_assert_int_eq (ff_folder_take (folder, noop, 0, &record, chunk, 3, &out), 1);
        ck_assert_mem_eq (&out, &record, sizeof (record));
    }
    /* no kernel at all is nothing to fold either */
    ck_assert_int_eq (ff_folder_take (folder, NULL, 0, &record, 1, 3, &out), 1);
    ck_assert_mem_eq (&out, &record, sizeof (record));
    ff_folder_destroy (&folder);
    ck_assert_ptr_null (folder);
    ff_folder_destroy (&folder);
}
END_TEST

START_TEST (test_fold_passes_a_record_of_one_chunk_through_unchanged)
{
    double values [S_COUNT];
    ff_result_t result;
    memset (&result, 0, sizeof (result));
    s_fill (values, S_COUNT, 1);
    s_run_stats (values, 0, S_COUNT, &result);
    ff_folder_t *folder = ff_folder_new ();
    ff_record_t record = s_record (4, "big.npy", &result, FF_STATUS_OK), out;
    ck_assert_int_eq (ff_folder_take (folder, ff_kernels_find ("stats"), 0, &record, 0, 1, &out), 1);
    ck_assert_mem_eq (&out, &record, sizeof (record));
    s_assert_stats_of (&out, values, S_COUNT);
    ff_folder_destroy (&folder);
    s_free (&result);
}
END_TEST

START_TEST (test_fold_merges_three_stats_chunks_into_the_stats_of_the_whole_array)
{
    static const size_t first [3] = { 0, 4, 8 }, count [3] = { 4, 4, 3 };
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    double values [S_COUNT];
    ff_result_t results [3];
    memset (results, 0, sizeof (results));
    s_fill (values, S_COUNT, 2);
    ff_folder_t *folder = ff_folder_new ();
    ff_record_t out;
    for (uint32_t chunk = 0; chunk < 3; chunk++) {
        s_run_stats (values, first [chunk], count [chunk], &results [chunk]);
        ff_record_t record = s_record (40 + chunk, "big.npy", &results [chunk], FF_STATUS_OK);
        ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, chunk, 3, &out),
                          chunk == 2? 1: 0);
    }
    ck_assert_uint_eq (out.seq, 40);
    ck_assert_uint_eq (out.input_len, 7);
    ck_assert_mem_eq (out.input, "big.npy", 7);
    ck_assert_str_eq (out.kernel, "stats");
    ck_assert_uint_eq (out.kind, FF_KIND_JSON);
    s_assert_stats_of (&out, values, S_COUNT);
    ff_folder_destroy (&folder);
    for (size_t index = 0; index < 3; index++)
        s_free (&results [index]);
}
END_TEST

START_TEST (test_fold_saved_after_one_chunk_and_loaded_in_another_folder_goes_on_to_the_same_stats)
{
    static const size_t first [3] = { 0, 4, 8 }, count [3] = { 4, 4, 3 };
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    double values [S_COUNT];
    ff_result_t results [3];
    char text [4096];
    memset (results, 0, sizeof (results));
    s_fill (values, S_COUNT, 2);
    ff_folder_t *before = ff_folder_new (), *after = ff_folder_new ();
    ff_record_t out;
    ck_assert_int_eq (ff_folder_save (before, text, sizeof (text)), 0);
    ck_assert_str_eq (text, "");
    s_run_stats (values, first [0], count [0], &results [0]);
    ff_record_t record = s_record (40, "big.npy", &results [0], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (before, stats, 1, &record, 0, 3, &out), 0);
    ck_assert_int_gt (ff_folder_save (before, text, sizeof (text)), 0);
    ck_assert_int_eq (strncmp (text, "fold 1 40 1 0 ", 14), 0);
    ck_assert_int_eq (ff_folder_save (before, text, 8), -1);     /* does not fit */
    ck_assert_int_gt (ff_folder_save (before, text, sizeof (text)), 0);
    ck_assert_int_eq (ff_folder_load (after, text), 0);
    for (uint32_t chunk = 1; chunk < 3; chunk++) {
        s_run_stats (values, first [chunk], count [chunk], &results [chunk]);
        record = s_record (40 + chunk, "big.npy", &results [chunk], FF_STATUS_OK);
        ck_assert_int_eq (ff_folder_take (after, stats, 1, &record, chunk, 3, &out),
                          chunk == 2? 1: 0);
    }
    ck_assert_uint_eq (out.seq, 40);
    ck_assert_mem_eq (out.input, "big.npy", 7);
    s_assert_stats_of (&out, values, S_COUNT);
    ck_assert_int_eq (ff_folder_load (after, "fold 1 40 1 0 zz -\n"), -1);
    ck_assert_int_eq (ff_folder_load (after, "fold 99 40 1 0 - -\n"), -1);
    ff_folder_destroy (&before);
    ff_folder_destroy (&after);
    for (size_t index = 0; index < 3; index++)
        s_free (&results [index]);
}
END_TEST

START_TEST (test_fold_keeps_two_kernels_apart_when_their_chunks_interleave)
{
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    double a [S_COUNT], b [S_COUNT];
    ff_result_t results [4];
    memset (results, 0, sizeof (results));
    s_fill (a, S_COUNT, 3);
    s_fill (b, S_COUNT, 4);
    /* input-major order: chunk 0 of k0, of k1, then chunk 1 of k0, of k1 */
    s_run_stats (a, 0, 6, &results [0]);
    s_run_stats (b, 0, 6, &results [1]);
    s_run_stats (a, 6, 5, &results [2]);
    s_run_stats (b, 6, 5, &results [3]);
    ff_folder_t *folder = ff_folder_new ();
    ff_record_t record, out;

    record = s_record (10, "a.npy", &results [0], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 0, 2, &out), 0);
    record = s_record (11, "a.npy", &results [1], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 1, &record, 0, 2, &out), 0);
    record = s_record (12, "a.npy", &results [2], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 1, 2, &out), 1);
    ck_assert_uint_eq (out.seq, 10);
    s_assert_stats_of (&out, a, S_COUNT);
    record = s_record (13, "a.npy", &results [3], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 1, &record, 1, 2, &out), 1);
    ck_assert_uint_eq (out.seq, 11);
    s_assert_stats_of (&out, b, S_COUNT);

    ff_folder_destroy (&folder);
    for (size_t index = 0; index < 4; index++)
        s_free (&results [index]);
}
END_TEST

START_TEST (test_fold_starts_afresh_for_the_next_input)
{
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    double a [S_COUNT], b [S_COUNT];
    ff_result_t results [4];
    memset (results, 0, sizeof (results));
    s_fill (a, S_COUNT, 5);
    s_fill (b, S_COUNT, 6);
    s_run_stats (a, 0, 5, &results [0]);
    s_run_stats (a, 5, 6, &results [1]);
    s_run_stats (b, 0, 5, &results [2]);
    s_run_stats (b, 5, 6, &results [3]);
    ff_folder_t *folder = ff_folder_new ();
    ff_record_t record, out;
    for (uint32_t index = 0; index < 4; index++) {
        record = s_record (index, index < 2? "a.npy": "b.npy", &results [index], FF_STATUS_OK);
        ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, index % 2, 2, &out),
                          (int) (index % 2));
        if (index == 1)
            s_assert_stats_of (&out, a, S_COUNT);
    }
    ck_assert_uint_eq (out.seq, 2);
    ck_assert_uint_eq (out.input_len, 5);
    ck_assert_mem_eq (out.input, "b.npy", 5);
    s_assert_stats_of (&out, b, S_COUNT);
    ff_folder_destroy (&folder);
    for (size_t index = 0; index < 4; index++)
        s_free (&results [index]);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_fold_makes_an_error_naming_the_chunk_that_failed)
{
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    double values [S_COUNT];
    ff_result_t results [3];
    memset (results, 0, sizeof (results));
    s_fill (values, S_COUNT, 7);
    s_run_stats (values, 0, 4, &results [0]);
    ff_buf_puts (&results [1].data, "stats: boom");
    s_run_stats (values, 8, 3, &results [2]);
    ff_folder_t *folder = ff_folder_new ();
    ff_record_t record, out;
    for (uint32_t chunk = 0; chunk < 3; chunk++) {
        record = s_record (20 + chunk, "big.npy", &results [chunk],
                           chunk == 1? FF_STATUS_ERROR: FF_STATUS_OK);
        ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, chunk, 3, &out),
                          chunk == 2? 1: 0);
    }
    ck_assert_uint_eq (out.seq, 20);
    s_assert_error (&out, "chunk 1 of 3");
    s_assert_error (&out, "stats: boom");
    ck_assert_mem_eq (out.input, "big.npy", 7);
    ff_folder_destroy (&folder);
    for (size_t index = 0; index < 3; index++)
        s_free (&results [index]);
}
END_TEST

START_TEST (test_fold_makes_an_error_of_a_chunk_that_comes_before_chunk_0)
{
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    double values [S_COUNT];
    ff_result_t results [2];
    memset (results, 0, sizeof (results));
    s_fill (values, S_COUNT, 8);
    s_run_stats (values, 0, 6, &results [0]);
    s_run_stats (values, 6, 5, &results [1]);
    ff_folder_t *folder = ff_folder_new ();
    ff_record_t record, out;

    record = s_record (31, "big.npy", &results [1], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 1, 2, &out), 1);
    ck_assert_uint_eq (out.seq, 31);
    s_assert_error (&out, "chunk 1 of 2");

    /* the next input folds as if nothing had happened */
    record = s_record (32, "big.npy", &results [0], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 0, 2, &out), 0);
    record = s_record (33, "big.npy", &results [1], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 1, 2, &out), 1);
    ck_assert_uint_eq (out.seq, 32);
    s_assert_stats_of (&out, values, S_COUNT);
    ff_folder_destroy (&folder);
    s_free (&results [0]);
    s_free (&results [1]);
}
END_TEST

START_TEST (test_fold_makes_an_error_of_a_chunk_skipped_in_the_middle)
{
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    double values [S_COUNT];
    ff_result_t results [3];
    memset (results, 0, sizeof (results));
    s_fill (values, S_COUNT, 9);
    s_run_stats (values, 0, 4, &results [0]);
    s_run_stats (values, 8, 3, &results [2]);
    ff_folder_t *folder = ff_folder_new ();
    ff_record_t record, out;
    record = s_record (50, "big.npy", &results [0], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 0, 3, &out), 0);
    record = s_record (52, "big.npy", &results [2], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 2, 3, &out), 1);
    ck_assert_uint_eq (out.status, FF_STATUS_ERROR);
    s_assert_error (&out, "chunk 2 of 3");
    ff_folder_destroy (&folder);
    s_free (&results [0]);
    s_free (&results [2]);
}
END_TEST

START_TEST (test_fold_makes_an_error_of_a_partial_that_is_no_stats_result)
{
    const ff_kernel_t *stats = ff_kernels_find ("stats");
    double values [S_COUNT];
    ff_result_t results [2];
    memset (results, 0, sizeof (results));
    s_fill (values, S_COUNT, 10);
    s_run_stats (values, 0, 6, &results [0]);
    ff_buf_puts (&results [1].data, "{\"count\":\"many\"}");
    ff_folder_t *folder = ff_folder_new ();
    ff_record_t record, out;
    record = s_record (60, "big.npy", &results [0], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 0, 2, &out), 0);
    record = s_record (61, "big.npy", &results [1], FF_STATUS_OK);
    ck_assert_int_eq (ff_folder_take (folder, stats, 0, &record, 1, 2, &out), 1);
    ck_assert_uint_eq (out.seq, 60);
    s_assert_error (&out, "cannot fold");
    ff_folder_destroy (&folder);
    s_free (&results [0]);
    s_free (&results [1]);
}
END_TEST

Suite *
fold_suite (void)
{
    Suite *suite = suite_create ("fold");

    TCase *tc = tcase_create ("folding");
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, test_fold_passes_records_of_a_kernel_without_fold_through_unchanged);
    tcase_add_test (tc, test_fold_passes_a_record_of_one_chunk_through_unchanged);
    tcase_add_test (tc, test_fold_merges_three_stats_chunks_into_the_stats_of_the_whole_array);
    tcase_add_test (tc, test_fold_keeps_two_kernels_apart_when_their_chunks_interleave);
    tcase_add_test (tc, test_fold_starts_afresh_for_the_next_input);
    tcase_add_test (tc, test_fold_saved_after_one_chunk_and_loaded_in_another_folder_goes_on_to_the_same_stats);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, test_fold_makes_an_error_naming_the_chunk_that_failed);
    tcase_add_test (tc, test_fold_makes_an_error_of_a_chunk_that_comes_before_chunk_0);
    tcase_add_test (tc, test_fold_makes_an_error_of_a_chunk_skipped_in_the_middle);
    tcase_add_test (tc, test_fold_makes_an_error_of_a_partial_that_is_no_stats_result);
    suite_add_tcase (suite, tc);
    return suite;
}
