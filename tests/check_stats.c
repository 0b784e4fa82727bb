/*  Unit tests for the stats kernel's arithmetic: every dtype against exact
    figures from Python (math.fsum, and fractions for m2), against the
    single-lane algorithm the kernel used before (it must be at least as
    accurate), and bit for bit against a plain scalar loop of its own lane
    algorithm, at every alignment and every tail length. NaN, infinities
    and the vector path's extremes have their own tests. */

#include <check.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fanfold/kernels/detectors.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/kernels/npy.h"

/* ------------------------------------------------------------- helpers */

/* Runs stats over count elements of data; returns the result text (the
   caller frees it). The kernel must succeed. */
static char *
s_stats (ff_dtype_t dtype, const void *data, size_t count)
{
    size_t item = ff_npy_dtype_size (dtype);
    ff_array_t array = { "data", dtype, 1, { count, 0, 0, 0 }, data, count * item };
    ff_task_t task = { 1, "test", NULL, 0, NULL, 0, &array, 1 };
    ff_result_t result;
    memset (&result, 0, sizeof (result));
    int rc = ff_kernels_run (&ff_kernel_stats, &task, &result);
    ck_assert_int_eq (ff_buf_append (&result.data, "", 1), 0);
    free (result.meta.data);
    ck_assert_msg (rc == 0, "stats failed: %s", (char *) result.data.data);
    return (char *) result.data.data;
}

/* The number after "key": in a result (NaN for null). */
static double
s_member (const char *text, const char *key)
{
    char pattern [32];
    snprintf (pattern, sizeof (pattern), "\"%s\":", key);
    const char *at = strstr (text, pattern);
    ck_assert_msg (at != NULL, "no %s in %s", key, text);
    at += strlen (pattern);
    return strncmp (at, "null", 4) == 0 ? NAN : strtod (at, NULL);
}

/* Element index of count elements of dtype in data, as a double. */
static double
s_value (ff_dtype_t dtype, const uint8_t *data, size_t index)
{
    union { int8_t i8; int16_t i16; int32_t i32; int64_t i64; uint8_t u8;
            uint16_t u16; uint32_t u32; uint64_t u64; float f32; double f64; } v;
    size_t item = ff_npy_dtype_size (dtype);
    memcpy (&v, data + index * item, item);
    switch (dtype) {
        case FF_DTYPE_I8:  return (double) v.i8;
        case FF_DTYPE_I16: return (double) v.i16;
        case FF_DTYPE_I32: return (double) v.i32;
        case FF_DTYPE_I64: return (double) v.i64;
        case FF_DTYPE_U8:  return (double) v.u8;
        case FF_DTYPE_U16: return (double) v.u16;
        case FF_DTYPE_U32: return (double) v.u32;
        case FF_DTYPE_U64: return (double) v.u64;
        case FF_DTYPE_F32: return (double) v.f32;
        default:           return v.f64;
    }
}

/* Adds d to (sum, comp) with TwoSum. */
static void
s_two_sum (double *sum, double *comp, double d)
{
    double t = *sum + d, z = t - *sum;
    *comp += (*sum - (t - z)) + (d - z);
    *sum = t;
}

/* The kernel's block */
#define S_BLOCK FF_STATS_BLOCK

/* The compensated total of lane sums: added in lane order with TwoSum,
   plus every error gathered. */
static double
s_total (const double *sum, const double *comp)
{
    double total = 0, correction = 0;
    for (int lane = 0; lane < 8; lane++)
        s_two_sum (&total, &correction, sum [lane]);
    for (int lane = 0; lane < 8; lane++)
        correction += comp [lane];
    return isfinite (total) ? total + correction : total;
}

/* The kernel's algorithm as a plain scalar loop: element i in lane i % 8,
   TwoSum per lane over all the elements, lanes added in order; m2 block
   by block of S_BLOCK elements, each from the lanes of Σ d² and Σ d
   against the block's mean (from the change of the sum's lanes over the
   block), and the blocks merged in order with Chan's formulas, their
   means less the first block's. */
static void
s_lanes_model (const double *x, size_t count, double *sum_p, double *m2_p)
{
    double sum [8] = { 0 }, comp [8] = { 0 };
    double merged = 0, mean = 0, m2 = 0, origin = 0;
    for (size_t start = 0; start < count; start += S_BLOCK) {
        size_t end = count - start > S_BLOCK ? start + S_BLOCK : count;
        double n = (double) (end - start), was_sum [8], was_comp [8];
        memcpy (was_sum, sum, sizeof (sum));
        memcpy (was_comp, comp, sizeof (comp));
        for (size_t index = start; index < end; index++)
            s_two_sum (&sum [index % 8], &comp [index % 8], x [index]);
        for (int lane = 0; lane < 8; lane++) {
            was_sum [lane] = sum [lane] - was_sum [lane];
            was_comp [lane] = comp [lane] - was_comp [lane];
        }
        double shift = s_total (was_sum, was_comp) / n;
        double squares [8] = { 0 }, deviations [8] = { 0 };
        for (size_t index = start; index < end; index++) {
            double deviation = x [index] - shift;
            squares [index % 8] += deviation * deviation;
            deviations [index % 8] += deviation;
        }
        double q = 0, e = 0;
        for (int lane = 0; lane < 8; lane++) {
            q += squares [lane];
            e += deviations [lane];
        }
        q -= e * e / n;
        if (q < 0)
            q = 0;
        if (start == 0) {
            origin = shift;
            merged = n;
            mean = e / n;
            m2 = q;
            continue;
        }
        double delta = ((shift - origin) + e / n) - mean, total = merged + n;
        mean += delta * n / total;
        m2 += q + delta * delta * merged * n / total;
        merged = total;
    }
    *sum_p = s_total (sum, comp);
    *m2_p = isfinite (*sum_p) ? m2 : NAN;
}

/* The algorithm of the kernel before lanes: one Neumaier sum in element
   order, one Σ d² and Σ d. */
static void
s_one_lane (const double *x, size_t count, double *sum_p, double *m2_p)
{
    double sum = 0, comp = 0;
    for (size_t index = 0; index < count; index++)
        s_two_sum (&sum, &comp, x [index]);
    *sum_p = isfinite (sum) ? sum + comp : sum;
    double mean = *sum_p / (double) count, m2 = 0, e = 0;
    for (size_t index = 0; index < count; index++) {
        double deviation = x [index] - mean;
        m2 += deviation * deviation;
        e += deviation;
    }
    m2 -= e * e / (double) count;
    *m2_p = m2 < 0 ? 0 : m2;
}

static uint64_t
s_next (uint64_t *state)
{
    *state = *state * 6364136223846793005ull + 1442695040888963407ull;
    return *state;
}

/* ------------------------------------------------------------- accuracy */

/* The data sets Python makes: name, dtype, and how it is made. */
static const struct {
    const char *name;               /* file stem */
    ff_dtype_t dtype;               /* element type */
    const char *make;               /* numpy expression over r and n */
} s_sets [] = {
    { "f4_offset", FF_DTYPE_F32, "r.normal (1e4, 1, n).astype ('<f4')" },
    { "f4_normal", FF_DTYPE_F32, "r.normal (1, 3, n).astype ('<f4')" },
    { "f8_range", FF_DTYPE_F64, "(r.normal (0, 1, n) * 10.0 ** r.uniform (-8, 15, n)).astype ('<f8')" },
    { "f8_offset", FF_DTYPE_F64, "(1e9 + r.normal (0, 1e-3, n)).astype ('<f8')" },
    { "f8_cancel", FF_DTYPE_F64, "np.concatenate ([[1e20, -1e20], r.normal (0, 1, n - 2)]).astype ('<f8')" },
    { "i1", FF_DTYPE_I8, "r.integers (-128, 128, n).astype ('<i1')" },
    { "i2", FF_DTYPE_I16, "r.integers (-32768, 32768, n).astype ('<i2')" },
    { "i4", FF_DTYPE_I32, "r.integers (-2**31, 2**31, n).astype ('<i4')" },
    { "i8", FF_DTYPE_I64, "r.integers (-2**63, 2**63 - 1, n, endpoint = True).astype ('<i8')" },
    { "u1", FF_DTYPE_U8, "r.integers (0, 256, n).astype ('<u1')" },
    { "u2", FF_DTYPE_U16, "r.integers (0, 65536, n).astype ('<u2')" },
    { "u4", FF_DTYPE_U32, "r.integers (0, 2**32, n).astype ('<u4')" },
    { "u8", FF_DTYPE_U64, "r.integers (0, 2**64 - 1, n, endpoint = True, dtype = np.uint64).astype ('<u8')" },
    { "f8_trend", FF_DTYPE_F64, "(np.arange (n) * 1e3 + r.normal (0, 1, n)).astype ('<f8')" },
    { "f4_steps", FF_DTYPE_F32, "(np.repeat (r.uniform (-1e6, 1e6, n // 997 + 1), 997)[:n] + r.normal (0, 1, n)).astype ('<f4')" },
};
#define S_SETS (sizeof (s_sets) / sizeof (s_sets [0]))
#define S_COUNT 20011               /* elements per set: 2501 steps of 8, and 3;
                                       5 blocks of the kernel, the last of 11 */

/* Makes every set in dir with numpy: NAME.bin (raw little-endian) and
   NAME.txt: the exact sum of the elements as doubles, correctly rounded
   (math.fsum), and their exact m2 rounded once (fractions). */
static void
s_make_sets (const char *dir)
{
    char script [4096];
    size_t used = (size_t) snprintf (script, sizeof (script),
        "import math, numpy as np\n"
        "from fractions import Fraction as F\n"
        "r = np.random.default_rng (17)\n"
        "n = %d\n"
        "sets = {}\n", S_COUNT);
    for (size_t set = 0; set < S_SETS; set++)
        used += (size_t) snprintf (script + used, sizeof (script) - used,
                                   "sets ['%s'] = %s\n", s_sets [set].name, s_sets [set].make);
    snprintf (script + used, sizeof (script) - used,
        "for name, a in sets.items ():\n"
        "    open (name + '.bin', 'wb').write (a.tobytes ())\n"
        "    d = [float (x) for x in a.astype (np.float64)]\n"
        "    s = sum (F (x) for x in d)\n"
        "    q = sum (F (x) * F (x) for x in d)\n"
        "    m2 = q - s * s / len (d)\n"
        "    open (name + '.txt', 'w').write ('%%r %%r' %% (math.fsum (d), float (m2)))\n");
    char path [512];
    snprintf (path, sizeof (path), "%s/make.py", dir);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    ck_assert_int_eq (fputs (script, file) >= 0, 1);
    ck_assert_int_eq (fclose (file), 0);
    char command [1024];
    snprintf (command, sizeof (command), "cd %s && /usr/bin/python3 make.py", dir);
    ck_assert_int_eq (system (command), 0);
}

/* Reads dir/NAME.EXT whole; *size its bytes. */
static uint8_t *
s_slurp (const char *dir, const char *name, const char *ext, size_t *size)
{
    char path [512];
    snprintf (path, sizeof (path), "%s/%s.%s", dir, name, ext);
    FILE *file = fopen (path, "rb");
    ck_assert_msg (file != NULL, "%s", path);
    uint8_t *data = (uint8_t *) malloc (8 * S_COUNT + 1);
    ck_assert_ptr_nonnull (data);
    *size = fread (data, 1, 8 * S_COUNT, file);
    data [*size] = 0;
    fclose (file);
    return data;
}

static void
s_remove_sets (const char *dir)
{
    char command [600];
    snprintf (command, sizeof (command), "rm -rf %s", dir);
    ck_assert_int_eq (system (command), 0);
}

START_TEST (test_stats_of_every_dtype_are_within_an_ulp_of_the_exact_sum_and_m2)
{
    char dir [] = "/tmp/fanfold-stats-exact-XXXXXX";
    ck_assert_ptr_nonnull (mkdtemp (dir));
    s_make_sets (dir);
    double *x = (double *) malloc (S_COUNT * sizeof (double));
    ck_assert_ptr_nonnull (x);
    for (size_t set = 0; set < S_SETS; set++) {
        size_t size, text_size;
        uint8_t *data = s_slurp (dir, s_sets [set].name, "bin", &size);
        ck_assert_uint_eq (size, S_COUNT * ff_npy_dtype_size (s_sets [set].dtype));
        char *exact = (char *) s_slurp (dir, s_sets [set].name, "txt", &text_size);
        double sum, m2;
        ck_assert_int_eq (sscanf (exact, "%lf %lf", &sum, &m2), 2);
        char *got = s_stats (s_sets [set].dtype, data, S_COUNT);
        double got_sum = s_member (got, "sum"), got_m2 = s_member (got, "m2");
        for (size_t index = 0; index < S_COUNT; index++)
            x [index] = s_value (s_sets [set].dtype, data, index);
        double old_sum, old_m2, abs_sum = 0;
        s_one_lane (x, S_COUNT, &old_sum, &old_m2);
        for (size_t index = 0; index < S_COUNT; index++)
            abs_sum += fabs (x [index]);
        /* compensated: within an ulp of the sum, plus n·ε² of Σ|x| */
        double sum_tolerance = 2 * DBL_EPSILON * fabs (sum)
                             + S_COUNT * DBL_EPSILON * DBL_EPSILON * abs_sum;
        ck_assert_msg (fabs (got_sum - sum) <= sum_tolerance,
                       "%s: sum %.17g, exact %.17g (one lane: %.17g)",
                       s_sets [set].name, got_sum, sum, old_sum);
        /* m2 of 5 blocks of 500 terms per lane: well within 1e-13
           relative, and no further from the exact m2 than the one-lane
           algorithm was (or within 4 ulp of it) */
        double error = fabs (got_m2 - m2), old_error = fabs (old_m2 - m2);
        ck_assert_msg (error <= 1e-13 * m2,
                       "%s: m2 %.17g, exact %.17g", s_sets [set].name, got_m2, m2);
        ck_assert_msg (error <= old_error || error <= 4 * DBL_EPSILON * m2,
                       "%s: m2 %.17g is %.3g off the exact %.17g; one lane %.3g",
                       s_sets [set].name, got_m2, error, m2, old_error);
        free (got);
        free (exact);
        free (data);
    }
    free (x);
    s_remove_sets (dir);
}
END_TEST

/* Fills count elements of dtype at data (from state) and checks the
   kernel's sum and m2 against the bits of the plain loop's. */
static void
s_check_bits (ff_dtype_t dtype, uint8_t *data, size_t count, size_t offset,
              double *x, uint64_t *state)
{
    size_t item = ff_npy_dtype_size (dtype);
    for (size_t index = 0; index < count * item; index++)
        data [index] = (uint8_t) (s_next (state) >> 56);
    if (dtype == FF_DTYPE_F32)
        for (size_t index = 0; index < count; index++) {
            float f = (float) ((double) (s_next (state) >> 11) / 9007199254740992.0
                               * 1e4 - 2e3);
            memcpy (data + 4 * index, &f, 4);
        }
    if (dtype == FF_DTYPE_F64)
        for (size_t index = 0; index < count; index++) {
            double d = ldexp ((double) (s_next (state) >> 11), (int) (count % 60) - 53)
                     - (double) index;
            memcpy (data + 8 * index, &d, 8);
        }
    for (size_t index = 0; index < count; index++)
        x [index] = s_value (dtype, data, index);
    double sum, m2;
    s_lanes_model (x, count, &sum, &m2);
    char *got = s_stats (dtype, data, count);
    ck_assert_msg (s_member (got, "sum") == sum && s_member (got, "m2") == m2,
                   "dtype %d, %zu elements at +%zu: %s; the plain loop gives "
                   "sum %.17g, m2 %.17g", (int) dtype, count, offset, got, sum, m2);
    free (got);
}

START_TEST (test_stats_are_the_bits_of_the_plain_lane_loop_at_every_alignment_and_tail)
{
    /* count 0 to 40 after offsets of 0 to 7 bytes: every tail length, the
       vector loop taken 0 to 5 times, data aligned or not; then counts
       about the ends of 1 to 3 blocks, at two offsets */
    static const ff_dtype_t dtypes [] = {
        FF_DTYPE_I8, FF_DTYPE_I16, FF_DTYPE_I32, FF_DTYPE_I64, FF_DTYPE_U8,
        FF_DTYPE_U16, FF_DTYPE_U32, FF_DTYPE_U64, FF_DTYPE_F32, FF_DTYPE_F64
    };
    static const size_t long_counts [] = {
        S_BLOCK - 1, S_BLOCK, S_BLOCK + 1, 2 * S_BLOCK + 7, 3 * S_BLOCK + 8
    };
    enum { MOST = 3 * S_BLOCK + 8 };
    uint8_t *bytes = (uint8_t *) malloc (8 * MOST + 8);
    double *x = (double *) malloc (MOST * sizeof (double));
    ck_assert_ptr_nonnull (bytes);
    ck_assert_ptr_nonnull (x);
    uint64_t state = 11;
    for (size_t type = 0; type < sizeof (dtypes) / sizeof (dtypes [0]); type++) {
        for (size_t count = 1; count <= 40; count++)
            for (size_t offset = 0; offset < 8; offset++)
                s_check_bits (dtypes [type], bytes + offset, count, offset, x, &state);
        for (size_t at = 0; at < sizeof (long_counts) / sizeof (long_counts [0]); at++)
            for (size_t offset = 0; offset < 8; offset += 5)
                s_check_bits (dtypes [type], bytes + offset, long_counts [at], offset,
                              x, &state);
    }
    free (x);
    free (bytes);
}
END_TEST

/* ------------------------------------------------------- special values */

START_TEST (test_stats_see_nan_in_any_lane_and_in_the_tail)
{
    double f64 [21];
    float f32 [21];
    for (size_t at = 0; at < 21; at++) {
        for (size_t index = 0; index < 21; index++) {
            f64 [index] = (double) index;
            f32 [index] = (float) index;
        }
        f64 [at] = NAN;
        f32 [at] = NAN;
        char *got = s_stats (FF_DTYPE_F64, f64, 21);
        ck_assert_msg (strstr (got, "\"sum\":null,\"min\":null,\"max\":null,") != NULL,
                       "NaN at %zu: %s", at, got);
        free (got);
        got = s_stats (FF_DTYPE_F32, f32, 21);
        ck_assert_msg (strstr (got, "\"sum\":null,\"min\":null,\"max\":null,") != NULL,
                       "NaN at %zu: %s", at, got);
        free (got);
    }
}
END_TEST

START_TEST (test_stats_of_infinities_without_nan_keep_finite_extremes_and_a_null_sum)
{
    /* +inf in lane 1 and -inf in lane 6: the sum is NaN (null), min and
       max are the infinities (null), and with only +inf the sum is null
       but min is finite */
    double values [19];
    for (size_t index = 0; index < 19; index++)
        values [index] = (double) index - 9;
    values [9] = INFINITY;
    char *got = s_stats (FF_DTYPE_F64, values, 19);
    ck_assert_str_eq (got, "{\"count\":19,\"sum\":null,\"min\":-9,\"max\":null,"
                      "\"mean\":null,\"std\":null,\"m2\":null,\"dtype\":\"f8\"}");
    free (got);
    values [14] = -INFINITY;
    got = s_stats (FF_DTYPE_F64, values, 19);
    ck_assert_str_eq (got, "{\"count\":19,\"sum\":null,\"min\":null,\"max\":null,"
                      "\"mean\":null,\"std\":null,\"m2\":null,\"dtype\":\"f8\"}");
    free (got);
}
END_TEST

START_TEST (test_stats_find_integer_extremes_in_every_lane)
{
    /* the extremes of int64 and uint64, each in every position of 19
       elements (the vector loop twice and a tail of 3) */
    for (size_t at = 0; at < 19; at++) {
        int64_t i64 [19];
        uint64_t u64 [19];
        int8_t i8 [19];
        for (size_t index = 0; index < 19; index++) {
            i64 [index] = (int64_t) index;
            u64 [index] = 100 + index;
            i8 [index] = (int8_t) index;
        }
        i64 [at] = INT64_MIN;
        i64 [18 - at] = INT64_MAX;
        u64 [at] = UINT64_MAX;
        u64 [18 - at] = 0;
        i8 [at] = INT8_MIN;
        i8 [18 - at] = INT8_MAX;
        if (at == 9)
            continue;               /* both extremes at one place */
        char *got = s_stats (FF_DTYPE_I64, i64, 19);
        ck_assert_msg (strstr (got, "\"min\":-9223372036854775808,\"max\":9223372036854775807,"),
                       "at %zu: %s", at, got);
        free (got);
        got = s_stats (FF_DTYPE_U64, u64, 19);
        ck_assert_msg (strstr (got, "\"min\":0,\"max\":18446744073709551615,"), "at %zu: %s", at, got);
        free (got);
        got = s_stats (FF_DTYPE_I8, i8, 19);
        ck_assert_msg (strstr (got, "\"min\":-128,\"max\":127,"), "at %zu: %s", at, got);
        free (got);
    }
}
END_TEST

Suite *
stats_suite (void)
{
    Suite *suite = suite_create ("stats");
    TCase *tc = tcase_create ("arithmetic");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_stats_of_every_dtype_are_within_an_ulp_of_the_exact_sum_and_m2);
    tcase_add_test (tc, test_stats_are_the_bits_of_the_plain_lane_loop_at_every_alignment_and_tail);
    suite_add_tcase (suite, tc);
    tc = tcase_create ("special values");
    tcase_add_test (tc, test_stats_see_nan_in_any_lane_and_in_the_tail);
    tcase_add_test (tc, test_stats_of_infinities_without_nan_keep_finite_extremes_and_a_null_sum);
    tcase_add_test (tc, test_stats_find_integer_extremes_in_every_lane);
    suite_add_tcase (suite, tc);
    return suite;
}
