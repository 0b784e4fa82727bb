/*  fanfold stats kernel: count, sum, min, max, mean and population std of
    the array "data", in double, and its fold, which merges the results of
    consecutive chunks with the parallel formulas of Chan, Golub and LeVeque
    so that the folded figures match one pass over the whole array. */

#include "fanfold/kernels/detectors.h"
#include "fanfold/kernels/npy.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The bits of a result must not depend on the compiler's choice to fuse a
   multiply and an add (GCC fuses by default wherever the target has FMA:
   -march=native on x86-64, aarch64), so contraction is off in this file */
#pragma GCC optimize ("fp-contract=off")

/* The figures of a stats result, as computed or as read back. */
typedef struct {
    ff_dtype_t dtype;               /* element type of the data */
    uint64_t count;                 /* elements */
    double sum;                     /* sum (NaN when not finite) */
    double mean;                    /* mean (NaN when count is 0) */
    double m2;                      /* sum of squared deviations from mean */
    bool have_range;                /* integer min and max are set */
    int64_t imin, imax;             /* min, max of signed integer dtypes */
    uint64_t umin, umax;            /* min, max of unsigned integer dtypes */
    double fmin, fmax;              /* min, max of float dtypes; NaN when
                                       an element is NaN (like np.min) */
} s_stats_t;

static bool
s_signed (ff_dtype_t dtype)
{
    return dtype >= FF_DTYPE_I8 && dtype <= FF_DTYPE_I64;
}

static bool
s_unsigned (ff_dtype_t dtype)
{
    return dtype >= FF_DTYPE_U8 && dtype <= FF_DTYPE_U64;
}

/* The two passes over count elements of one element type, in S_LANES
   lanes: element i goes to lane i % S_LANES, each lane keeps its own
   accumulators, and the lanes are combined at the end in lane order. The
   lanes are independent add chains, so the loops run at the throughput of
   the adds instead of their latency; they are written with vector types,
   which do the IEEE operations of a plain loop lane by lane (no
   reassociation, and no fused multiply-add: contraction is off in this
   file and in the Makefile's flags), so the bits depend only on the
   elements and their count: never on the vector width, the alignment of
   the data or the process that runs them. Elements are little-endian and
   maybe unaligned (memcpy).

   The passes go block by block, S_BLOCK elements from the start of the
   data: pass 1 over a block, then pass 2 over the same block while its
   bytes are still in the cache, so that each byte is read from memory
   once. Pass 1 carries its lanes (sum, min, max, NaN) from block to
   block, so the sum is that of one pass over all the elements. Pass 2 of
   a block takes its deviations from the block's own mean, and the
   blocks' (count, mean, m2) are merged in block order with the formulas
   of Chan, Golub and LeVeque, as the fold merges chunks. */
#define S_LANES 8

/* Elements per block, a multiple of S_LANES: 16 KB of float32, which
   pass 2 reads again from the core's first-level cache. Short blocks
   also keep m2 accurate: 500 squares per lane and block, the blocks
   merged like the halves of a pairwise sum. Not a power of two: the
   mean of 2^k integers, or of float32 of one magnitude, is a short binary
   fraction, then the squares of the deviations all end in the same low
   bits, each addition to a lane rounds the same way, and m2 drifted (70
   ulp on the float32 data of tests/check_stats.c with 8,192); a mean of
   4,000 elements has a fraction of full length, and those roundings
   cancel. */
#define S_BLOCK FF_STATS_BLOCK
/* a block ends at a lane boundary: only the last block has a tail */
_Static_assert (S_BLOCK % S_LANES == 0, "a block of whole lanes");

/* The accumulators of a pass, one per lane. */
typedef struct {
    double sum [S_LANES];           /* pass 1: running sum; pass 2: Σ d² */
    double comp [S_LANES];          /* pass 1: Σ of the rounding errors of
                                       sum; pass 2: Σ d */
} s_lanes_sums_t;

/* The blocks or chunks merged so far: their elements, mean and m2. */
typedef struct {
    uint64_t count;                 /* elements */
    double mean;                    /* their mean, less origin */
    double m2;                      /* their sum of squared deviations */
    double origin;                  /* blocks: the first block's pass-1
                                       mean; chunks: 0 */
} s_moments_t;

/* Adds d to the lane sums (sum, comp) with Knuth's TwoSum: comp gathers the
   exact rounding error of every addition to sum (the figure Neumaier's
   branch computes, without the branch). */
#define S_TWO_SUM(sum, comp, d) do {                                          \
    __typeof__ (sum) t_ = (sum) + (d), z_ = t_ - (sum);                       \
    (comp) += ((sum) - (t_ - z_)) + ((d) - z_);                               \
    (sum) = t_;                                                               \
} while (0)

/* The compensated total of pass 1's lanes: the lane sums added in lane
   order with TwoSum, plus every error gathered (as accurate as
   Neumaier's sum in one lane). */
static double
s_total (const double *sum, const double *comp)
{
    double total = 0, compensation = 0;
    for (int lane = 0; lane < S_LANES; lane++)
        S_TWO_SUM (total, compensation, sum [lane]);
    for (int lane = 0; lane < S_LANES; lane++)
        compensation += comp [lane];
    return isfinite (total) ? total + compensation : total;
}

/* The mean of the count elements of a block that took pass 1's lanes from
   before to after: the total of the lanes' differences (exact for the
   first block, whose lanes start at 0). */
static double
s_block_mean (const s_lanes_sums_t *before, const s_lanes_sums_t *after,
              uint64_t count)
{
    double sum [S_LANES], comp [S_LANES];
    for (int lane = 0; lane < S_LANES; lane++) {
        sum [lane] = after->sum [lane] - before->sum [lane];
        comp [lane] = after->comp [lane] - before->comp [lane];
    }
    return s_total (sum, comp) / (double) count;
}

/* Merges (count, mean, m2) of b into a (Chan et al.). */
static void
s_chan (s_moments_t *a, uint64_t count, double mean, double m2)
{
    if (count == 0)
        return;
    if (a->count == 0) {
        a->count = count;
        a->mean = mean;
        a->m2 = m2;
        return;
    }
    double na = (double) a->count, nb = (double) count, n = na + nb;
    double delta = mean - a->mean;
    a->mean += delta * nb / n;
    a->m2 += m2 + delta * delta * na * nb / n;
    a->count += count;
}

/* Merges a block of count elements into moments: its pass 2 gave the
   lanes of Σ d² and Σ d, d = x − shift, shift its pass-1 mean; its m2 is
   Σ d² − (Σ d)² / count, the corrected two-pass algorithm, with each Σ
   the lanes' in lane order. The means are merged less the first block's
   shift: the blocks of data far from 0 have close shifts, whose
   difference is exact, so the merge's mean differences keep the digits
   that absolute means would round away. */
static void
s_block_add (s_moments_t *moments, uint64_t count, double shift,
             const s_lanes_sums_t *lanes)
{
    double m2 = 0, deviations = 0;
    for (int lane = 0; lane < S_LANES; lane++) {
        m2 += lanes->sum [lane];
        deviations += lanes->comp [lane];
    }
    m2 -= deviations * deviations / (double) count;
    if (moments->count == 0)
        moments->origin = shift;
    s_chan (moments, count, (shift - moments->origin) + deviations / (double) count,
            m2 < 0 ? 0 : m2);
}

/* Picks a where mask is set, else b (vectors of one size; MASK_T the
   integer vector type of mask). */
#define S_PICK(MASK_T, mask, a, b)                                            \
    ((__typeof__ (a)) (((MASK_T) (a) & (mask)) | ((MASK_T) (b) & ~(mask))))

/* The loops come in two widths of vector, W doubles (S_LANES / W vectors
   per step): W = 2 everywhere (SSE2, NEON), and W = 4 with AVX2 on x86-64,
   chosen when the CPU has it. Vector k holds lanes k·W to k·W + W − 1 in
   both, so both do the same operations on the same lanes. */
typedef double s_d2 __attribute__ ((vector_size (2 * sizeof (double))));
typedef double s_d4 __attribute__ ((vector_size (4 * sizeof (double))));

#if defined (__x86_64__) && defined (__GNUC__)
#   define S_AVX2 1
#else
#   define S_AVX2 0
#endif

/* The passes of dtype SUFFIX (KIND 0: signed, 1: unsigned, 2: float) in
   vectors of W doubles. s_first_X_W: pass 1 over the whole steps of
   S_LANES elements from index to end, into the lane sums and their errors,
   min, max and whether an element is NaN (state, kept from block to
   block); s_second_X_W: pass 2 over them, into the lanes of Σ d² and Σ d,
   d = x − shift. Each returns the index after its last step; each is a
   function of its own, so that each loop has the vector registers to
   itself. s_passes_X_W: both passes, block by block, into lanes (pass 1's
   final sums), stats and nan_p (the extremes) and moments (m2). MASK is
   the signed integer of TYPE's size, LOW and HIGH the range of TYPE. */
#define S_PASSES_W(SUFFIX, TYPE, KIND, MASK, LOW, HIGH, W, ATTRIBUTES)        \
typedef TYPE s_vec_##SUFFIX##_##W __attribute__ ((vector_size (W * sizeof (TYPE)))); \
typedef MASK s_mask_##SUFFIX##_##W __attribute__ ((vector_size (W * sizeof (TYPE)))); \
                                                                              \
typedef struct {                                                              \
    s_d##W sum [S_LANES / W], comp [S_LANES / W];                             \
    s_vec_##SUFFIX##_##W lo [S_LANES / W], hi [S_LANES / W];                  \
    s_mask_##SUFFIX##_##W nan [S_LANES / W];                                  \
} s_first_##SUFFIX##_##W##_t;                                                 \
                                                                              \
ATTRIBUTES __attribute__ ((noinline)) static uint64_t                         \
s_first_##SUFFIX##_##W (const uint8_t *data, uint64_t index, uint64_t end,    \
                        s_first_##SUFFIX##_##W##_t *state)                    \
{                                                                             \
    enum { K = S_LANES / W };                                                 \
    s_d##W sum [K], comp [K];                                                 \
    s_vec_##SUFFIX##_##W lo [K], hi [K];                                      \
    s_mask_##SUFFIX##_##W nan [K];                                            \
    for (int k = 0; k < K; k++) {                                             \
        sum [k] = state->sum [k];                                             \
        comp [k] = state->comp [k];                                           \
        lo [k] = state->lo [k];                                               \
        hi [k] = state->hi [k];                                               \
        nan [k] = state->nan [k];                                             \
    }                                                                         \
    for (; end - index >= S_LANES; index += S_LANES)                          \
        _Pragma ("GCC unroll 4")                                              \
        for (int k = 0; k < K; k++) {                                         \
            s_vec_##SUFFIX##_##W v;                                           \
            memcpy (&v, data + sizeof (TYPE) * (index + k * W), sizeof (v));  \
            s_d##W d = __builtin_convertvector (v, s_d##W);                   \
            S_TWO_SUM (sum [k], comp [k], d);                                 \
            s_mask_##SUFFIX##_##W below = v < lo [k], above = v > hi [k];     \
            lo [k] = S_PICK (s_mask_##SUFFIX##_##W, below, v, lo [k]);        \
            hi [k] = S_PICK (s_mask_##SUFFIX##_##W, above, v, hi [k]);        \
            if (KIND == 2)                                                    \
                nan [k] |= v != v;                                            \
        }                                                                     \
    for (int k = 0; k < K; k++) {                                             \
        state->sum [k] = sum [k];                                             \
        state->comp [k] = comp [k];                                           \
        state->lo [k] = lo [k];                                               \
        state->hi [k] = hi [k];                                               \
        state->nan [k] = nan [k];                                             \
    }                                                                         \
    return index;                                                             \
}                                                                             \
                                                                              \
ATTRIBUTES __attribute__ ((noinline)) static uint64_t                         \
s_second_##SUFFIX##_##W (const uint8_t *data, uint64_t index, uint64_t end,   \
                         double shift, s_lanes_sums_t *lanes)                 \
{                                                                             \
    enum { K = S_LANES / W };                                                 \
    s_d##W m2 [K], deviations [K], means;                                     \
    for (int lane = 0; lane < W; lane++)                                      \
        means [lane] = shift;                                                 \
    for (int k = 0; k < K; k++)                                               \
        m2 [k] = deviations [k] = (s_d##W) { 0 };                             \
    for (; end - index >= S_LANES; index += S_LANES)                          \
        _Pragma ("GCC unroll 4")                                              \
        for (int k = 0; k < K; k++) {                                         \
            s_vec_##SUFFIX##_##W v;                                           \
            memcpy (&v, data + sizeof (TYPE) * (index + k * W), sizeof (v));  \
            s_d##W deviation = __builtin_convertvector (v, s_d##W) - means;   \
            m2 [k] += deviation * deviation;                                  \
            deviations [k] += deviation;                                      \
        }                                                                     \
    for (int k = 0; k < K; k++) {                                             \
        memcpy (lanes->sum + k * W, &m2 [k], sizeof (m2 [k]));                \
        memcpy (lanes->comp + k * W, &deviations [k], sizeof (deviations [k]));\
    }                                                                         \
    return index;                                                             \
}                                                                             \
                                                                              \
ATTRIBUTES static void                                                        \
s_passes_##SUFFIX##_##W (const uint8_t *data, uint64_t count, s_stats_t *stats,\
                         s_lanes_sums_t *lanes, s_moments_t *moments,         \
                         bool *nan_p)                                         \
{                                                                             \
    enum { K = S_LANES / W };                                                 \
    s_first_##SUFFIX##_##W##_t state;                                         \
    for (int k = 0; k < K; k++)                                               \
        for (int lane = 0; lane < W; lane++) {                                \
            state.sum [k][lane] = state.comp [k][lane] = 0;                   \
            state.lo [k][lane] = HIGH;                                        \
            state.hi [k][lane] = LOW;                                         \
            state.nan [k][lane] = 0;                                          \
        }                                                                     \
    for (uint64_t start = 0; start < count; start += S_BLOCK) {               \
        uint64_t end = count - start > S_BLOCK ? start + S_BLOCK : count;     \
        s_lanes_sums_t before;                                                \
        memcpy (before.sum, state.sum, sizeof (before.sum));                  \
        memcpy (before.comp, state.comp, sizeof (before.comp));               \
        uint64_t index = s_first_##SUFFIX##_##W (data, start, end, &state);   \
        memcpy (lanes->sum, state.sum, sizeof (lanes->sum));                  \
        memcpy (lanes->comp, state.comp, sizeof (lanes->comp));               \
        if (end == count) {                                                   \
            /* the last block: its tail (blocks before it have none), and    \
               the extremes of all */                                         \
            TYPE low [S_LANES], high [S_LANES];                               \
            MASK nans [S_LANES];                                              \
            memcpy (low, state.lo, sizeof (low));                             \
            memcpy (high, state.hi, sizeof (high));                           \
            memcpy (nans, state.nan, sizeof (nans));                          \
            s_first_tail_##SUFFIX (data, index, end, lanes, low, high, nans); \
            s_extremes_##SUFFIX (stats, low, high, nans, nan_p);              \
        }                                                                     \
        double shift = s_block_mean (&before, lanes, end - start);            \
        s_lanes_sums_t squares;                                               \
        index = s_second_##SUFFIX##_##W (data, start, end, shift, &squares);  \
        s_second_tail_##SUFFIX (data, index, end, shift, &squares);           \
        s_block_add (moments, end - start, shift, &squares);                  \
    }                                                                         \
}

/* The scalar parts of dtype SUFFIX: the last count % S_LANES elements
   (from index) into lanes 0, 1, ...; the lanes' extremes merged in lane
   order (the first of equal ones wins); and the choice of a width. */
#define S_PASSES(SUFFIX, TYPE, KIND, MASK, LOW, HIGH)                         \
static void                                                                   \
s_first_tail_##SUFFIX (const uint8_t *data, uint64_t index, uint64_t count,   \
                       s_lanes_sums_t *lanes, TYPE *low, TYPE *high, MASK *nans) \
{                                                                             \
    for (int lane = 0; index < count; index++, lane++) {                      \
        TYPE v;                                                               \
        memcpy (&v, data + sizeof (TYPE) * index, sizeof (TYPE));             \
        double d = (double) v;                                                \
        S_TWO_SUM (lanes->sum [lane], lanes->comp [lane], d);                 \
        if (v < low [lane]) low [lane] = v;                                   \
        if (v > high [lane]) high [lane] = v;                                 \
        if (KIND == 2 && v != v) nans [lane] = -1;                            \
    }                                                                         \
}                                                                             \
                                                                              \
static void                                                                   \
s_extremes_##SUFFIX (s_stats_t *stats, const TYPE *low, const TYPE *high,     \
                     const MASK *nans, bool *nan_p)                           \
{                                                                             \
    for (int lane = 0; lane < S_LANES; lane++) {                              \
        if (KIND == 0) {                                                      \
            if ((int64_t) low [lane] < stats->imin) stats->imin = (int64_t) low [lane]; \
            if ((int64_t) high [lane] > stats->imax) stats->imax = (int64_t) high [lane]; \
        }                                                                     \
        if (KIND == 1) {                                                      \
            if ((uint64_t) low [lane] < stats->umin) stats->umin = (uint64_t) low [lane]; \
            if ((uint64_t) high [lane] > stats->umax) stats->umax = (uint64_t) high [lane]; \
        }                                                                     \
        if (KIND == 2) {                                                      \
            if ((double) low [lane] < stats->fmin) stats->fmin = (double) low [lane]; \
            if ((double) high [lane] > stats->fmax) stats->fmax = (double) high [lane]; \
            *nan_p |= nans [lane] != 0;                                       \
        }                                                                     \
    }                                                                         \
}                                                                             \
                                                                              \
static void                                                                   \
s_second_tail_##SUFFIX (const uint8_t *data, uint64_t index, uint64_t count,  \
                        double mean, s_lanes_sums_t *lanes)                   \
{                                                                             \
    for (int lane = 0; index < count; index++, lane++) {                      \
        TYPE v;                                                               \
        memcpy (&v, data + sizeof (TYPE) * index, sizeof (TYPE));             \
        double deviation = (double) v - mean;                                 \
        lanes->sum [lane] += deviation * deviation;                           \
        lanes->comp [lane] += deviation;                                      \
    }                                                                         \
}                                                                             \
                                                                              \
S_PASSES_W (SUFFIX, TYPE, KIND, MASK, LOW, HIGH, 2, )                         \
S_PASSES_AVX2 (SUFFIX, TYPE, KIND, MASK, LOW, HIGH)                           \
                                                                              \
static void                                                                   \
s_passes_##SUFFIX (const uint8_t *data, uint64_t count, s_stats_t *stats,     \
                   s_lanes_sums_t *lanes, s_moments_t *moments, bool *nan_p)  \
{                                                                             \
    if (s_avx2 ())                                                            \
        S_CALL_AVX2 (s_passes_##SUFFIX, data, count, stats, lanes, moments, nan_p); \
    else                                                                      \
        s_passes_##SUFFIX##_2 (data, count, stats, lanes, moments, nan_p);    \
}

#if S_AVX2
#   define S_PASSES_AVX2(SUFFIX, TYPE, KIND, MASK, LOW, HIGH)                 \
        S_PASSES_W (SUFFIX, TYPE, KIND, MASK, LOW, HIGH, 4,                   \
                    __attribute__ ((target ("avx2"))))
#   define S_CALL_AVX2(NAME, ...) NAME##_4 (__VA_ARGS__)

/* Whether the CPU runs AVX2 (asked once; threads that ask at once store
   the same answer). */
static bool
s_avx2 (void)
{
    static int known = -1;
    int answer = __atomic_load_n (&known, __ATOMIC_RELAXED);
    if (answer < 0) {
        __builtin_cpu_init ();
        answer = __builtin_cpu_supports ("avx2") ? 1 : 0;
        __atomic_store_n (&known, answer, __ATOMIC_RELAXED);
    }
    return answer == 1;
}
#else
#   define S_PASSES_AVX2(SUFFIX, TYPE, KIND, MASK, LOW, HIGH)
#   define S_CALL_AVX2(NAME, ...) NAME##_2 (__VA_ARGS__)
#   define s_avx2() false
#endif

S_PASSES (i8, int8_t, 0, int8_t, INT8_MIN, INT8_MAX)
S_PASSES (i16, int16_t, 0, int16_t, INT16_MIN, INT16_MAX)
S_PASSES (i32, int32_t, 0, int32_t, INT32_MIN, INT32_MAX)
S_PASSES (i64, int64_t, 0, int64_t, INT64_MIN, INT64_MAX)
S_PASSES (u8, uint8_t, 1, int8_t, 0, UINT8_MAX)
S_PASSES (u16, uint16_t, 1, int16_t, 0, UINT16_MAX)
S_PASSES (u32, uint32_t, 1, int32_t, 0, UINT32_MAX)
S_PASSES (u64, uint64_t, 1, int64_t, 0, UINT64_MAX)
S_PASSES (f32, float, 2, int32_t, -INFINITY, INFINITY)
S_PASSES (f64, double, 2, int64_t, -INFINITY, INFINITY)

/* Computes the figures of count elements of data in two passes, block by
   block (above): the sum is the compensated total of pass 1's lanes, the
   mean that sum over count, and m2 the blocks' merged (none when the sum
   is not finite, as when each deviation is taken from a mean that is
   not). */
static void
s_compute (const uint8_t *data, ff_dtype_t dtype, uint64_t count,
           s_stats_t *stats)
{
    memset (stats, 0, sizeof (*stats));
    stats->dtype = dtype;
    stats->count = count;
    stats->imin = INT64_MAX; stats->imax = INT64_MIN;
    stats->umin = UINT64_MAX; stats->umax = 0;
    stats->fmin = INFINITY; stats->fmax = -INFINITY;
    s_lanes_sums_t lanes;
    memset (&lanes, 0, sizeof (lanes));
    s_moments_t moments = { 0, 0, 0, 0 };
    bool nan = false;
    switch (dtype) {
        case FF_DTYPE_I8:  s_passes_i8 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_I16: s_passes_i16 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_I32: s_passes_i32 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_I64: s_passes_i64 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_U8:  s_passes_u8 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_U16: s_passes_u16 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_U32: s_passes_u32 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_U64: s_passes_u64 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_F32: s_passes_f32 (data, count, stats, &lanes, &moments, &nan); break;
        case FF_DTYPE_F64: s_passes_f64 (data, count, stats, &lanes, &moments, &nan); break;
        default:           break;
    }
    if (nan)
        stats->fmin = stats->fmax = NAN;
    stats->sum = s_total (lanes.sum, lanes.comp);
    stats->have_range = count > 0;
    if (count == 0) {
        stats->mean = NAN;
        return;
    }
    stats->mean = stats->sum / (double) count;
    stats->m2 = isfinite (stats->sum) ? moments.m2 : NAN;
}

/* Appends a double as %.17g, or null when it is not finite. */
static int
s_double (ff_buf_t *out, const char *key, double value)
{
    char text [64];
    if (isfinite (value))
        snprintf (text, sizeof (text), ",\"%s\":%.17g", key, value);
    else
        snprintf (text, sizeof (text), ",\"%s\":null", key);
    return ff_buf_puts (out, text);
}

/* Appends min or max (which = 0 or 1) of stats. */
static int
s_extreme (ff_buf_t *out, const s_stats_t *stats, int which)
{
    const char *key = which ? "max" : "min";
    char text [64];
    if (stats->dtype >= FF_DTYPE_F32)
        return s_double (out, key, which ? stats->fmax : stats->fmin);
    if (!stats->have_range)
        snprintf (text, sizeof (text), ",\"%s\":null", key);
    else
    if (s_signed (stats->dtype))
        snprintf (text, sizeof (text), ",\"%s\":%" PRId64, key,
                  which ? stats->imax : stats->imin);
    else
    if (s_unsigned (stats->dtype))
        snprintf (text, sizeof (text), ",\"%s\":%" PRIu64, key,
                  which ? stats->umax : stats->umin);
    return ff_buf_puts (out, text);
}

/* Writes the result object of stats into out. Returns 0 or -1. */
static int
s_write (ff_buf_t *out, const s_stats_t *stats)
{
    char text [64];
    snprintf (text, sizeof (text), "{\"count\":%" PRIu64, stats->count);
    double std = stats->count ? sqrt (stats->m2 / (double) stats->count) : NAN;
    int rc = ff_buf_puts (out, text);
    rc |= s_double (out, "sum", stats->sum);
    rc |= s_extreme (out, stats, 0);
    rc |= s_extreme (out, stats, 1);
    rc |= s_double (out, "mean", stats->mean);
    rc |= s_double (out, "std", std);
    rc |= s_double (out, "m2", stats->m2);
    snprintf (text, sizeof (text), ",\"dtype\":\"%s\"}",
              ff_npy_dtype_name (stats->dtype));
    rc |= ff_buf_puts (out, text);
    return rc ? -1 : 0;
}

double
ff_stats_cost (const ff_task_t *task)
{
    const ff_array_t *array = ff_task_array (task, "data");
    return array ? (double) array->size : (double) task->size;
}

int
ff_stats_run (const ff_task_t *task, ff_result_t *result)
{
    const ff_array_t *array = ff_task_array (task, "data");
    char message [256];
    if (!array) {
        ff_buf_puts (&result->data, "stats: the task has no \"data\" array");
        return -1;
    }
    size_t item = ff_npy_dtype_size (array->dtype);
    uint64_t count = 1;
    bool fits = item > 0 && array->ndim >= 1 && array->ndim <= FF_MAX_DIMS;
    for (uint32_t dim = 0; fits && dim < array->ndim; dim++) {
        if (array->shape [dim] && count > UINT64_MAX / array->shape [dim])
            fits = false;
        else
            count *= array->shape [dim];
    }
    if (!fits || count > array->size / item || (count && !array->data)) {
        snprintf (message, sizeof (message), "stats: \"data\" (dtype %d, "
                  "%u dims, %zu bytes) is not a valid array of its shape",
                  (int) array->dtype, array->ndim, array->size);
        ff_buf_puts (&result->data, message);
        return -1;
    }
    s_stats_t stats;
    s_compute ((const uint8_t *) array->data, array->dtype, count, &stats);
    if (s_write (&result->data, &stats) != 0) {
        result->data.size = 0;
        ff_buf_puts (&result->data, "stats: out of memory");
        return -1;
    }
    return 0;
}

/* ----------------------------------------------------------------- fold */

/* A cursor over a result being read back. */
typedef struct {
    const char *at;                 /* next character */
    const char *end;                /* one past the last */
} s_text_t;

static void
s_space (s_text_t *text)
{
    while (text->at < text->end && (*text->at == ' ' || *text->at == '\t'
                                 || *text->at == '\n' || *text->at == '\r'))
        text->at++;
}

/* Reads a JSON string without escapes, or a bare token (a number, null),
   into out. Returns 0 or -1. */
static int
s_token (s_text_t *text, char *out, size_t size, bool *quoted)
{
    s_space (text);
    size_t length = 0;
    *quoted = text->at < text->end && *text->at == '"';
    if (*quoted) {
        text->at++;
        while (text->at < text->end && *text->at != '"') {
            if (*text->at == '\\' || length + 1 >= size)
                return -1;
            out [length++] = *text->at++;
        }
        if (text->at == text->end)
            return -1;
        text->at++;
    }
    else
        while (text->at < text->end && strchr ("0123456789+-.eEnul", *text->at)) {
            if (length + 1 >= size)
                return -1;
            out [length++] = *text->at++;
        }
    out [length] = 0;
    return length || *quoted ? 0 : -1;
}

static int
s_read_double (const char *token, double *value)
{
    if (strcmp (token, "null") == 0) {
        *value = NAN;
        return 0;
    }
    char *end;
    errno = 0;
    *value = strtod (token, &end);
    return *token && !*end && !errno ? 0 : -1;
}

/* Reads min or max (which = 0 or 1) of a result whose dtype is known. */
static int
s_read_extreme (const char *token, s_stats_t *stats, int which)
{
    char *end;
    if (stats->dtype >= FF_DTYPE_F32)
        return s_read_double (token, which ? &stats->fmax : &stats->fmin);
    if (strcmp (token, "null") == 0) {
        stats->have_range = false;
        return 0;
    }
    errno = 0;
    if (s_signed (stats->dtype)) {
        int64_t value = strtoll (token, &end, 10);
        *(which ? &stats->imax : &stats->imin) = value;
    }
    else
    if (s_unsigned (stats->dtype)) {
        if (*token == '-')
            return -1;
        uint64_t value = strtoull (token, &end, 10);
        *(which ? &stats->umax : &stats->umin) = value;
    }
    else
        return -1;
    return *token && !*end && !errno ? 0 : -1;
}

/* Reads a stats result back. Returns 0 or -1 when it is not one. */
static int
s_read (const uint8_t *data, size_t size, s_stats_t *stats)
{
    enum { COUNT, SUM, MIN, MAX, MEAN, STD, M2, DTYPE, KEYS };
    static const char *names [KEYS] = {
        "count", "sum", "min", "max", "mean", "std", "m2", "dtype"
    };
    char values [KEYS][64];
    bool seen [KEYS] = { false };
    s_text_t text = { (const char *) data, (const char *) data + size };
    memset (stats, 0, sizeof (*stats));
    s_space (&text);
    if (text.at == text.end || *text.at++ != '{')
        return -1;
    while (1) {
        char key [16], value [64];
        bool quoted;
        if (s_token (&text, key, sizeof (key), &quoted) != 0 || !quoted)
            return -1;
        s_space (&text);
        if (text.at == text.end || *text.at++ != ':')
            return -1;
        if (s_token (&text, value, sizeof (value), &quoted) != 0)
            return -1;
        for (int index = 0; index < KEYS; index++)
            if (strcmp (key, names [index]) == 0) {
                if (seen [index] || quoted != (index == DTYPE))
                    return -1;
                seen [index] = true;
                memcpy (values [index], value, sizeof (value));
            }
        s_space (&text);
        if (text.at == text.end)
            return -1;
        char next = *text.at++;
        if (next == '}')
            break;
        if (next != ',')
            return -1;
    }
    s_space (&text);
    if (text.at != text.end)
        return -1;
    for (int index = 0; index < KEYS; index++)
        if (!seen [index] && index != STD)
            return -1;

    for (int dtype = FF_DTYPE_I8; dtype <= FF_DTYPE_F64; dtype++)
        if (strcmp (values [DTYPE], ff_npy_dtype_name ((ff_dtype_t) dtype)) == 0)
            stats->dtype = (ff_dtype_t) dtype;
    if (stats->dtype == FF_DTYPE_NONE)
        return -1;
    char *end;
    errno = 0;
    stats->count = strtoull (values [COUNT], &end, 10);
    if (!*values [COUNT] || *end || errno || values [COUNT][0] == '-')
        return -1;
    stats->have_range = stats->count > 0;
    if (s_read_double (values [SUM], &stats->sum)
    ||  s_read_double (values [MEAN], &stats->mean)
    ||  s_read_double (values [M2], &stats->m2)
    ||  s_read_extreme (values [MIN], stats, 0)
    ||  s_read_extreme (values [MAX], stats, 1))
        return -1;
    if (stats->count > 0 && !stats->have_range)
        return -1;                  /* integers always have a range */
    return 0;
}

/* Merges b into a (Chan et al.). */
static void
s_merge (s_stats_t *a, const s_stats_t *b)
{
    if (b->count == 0)
        return;
    if (a->count == 0) {
        *a = *b;
        return;
    }
    s_moments_t moments = { a->count, a->mean, a->m2, 0 };
    s_chan (&moments, b->count, b->mean, b->m2);
    a->mean = moments.mean;
    a->m2 = moments.m2;
    a->sum += b->sum;
    a->count = moments.count;
    if (s_signed (a->dtype)) {
        if (b->imin < a->imin) a->imin = b->imin;
        if (b->imax > a->imax) a->imax = b->imax;
    }
    else
    if (s_unsigned (a->dtype)) {
        if (b->umin < a->umin) a->umin = b->umin;
        if (b->umax > a->umax) a->umax = b->umax;
    }
    else {
        /* a null (read as NaN) extreme is not finite and stays null */
        a->fmin = isnan (a->fmin) || isnan (b->fmin) ? NAN
                : b->fmin < a->fmin ? b->fmin : a->fmin;
        a->fmax = isnan (a->fmax) || isnan (b->fmax) ? NAN
                : b->fmax > a->fmax ? b->fmax : a->fmax;
    }
}

int
ff_stats_fold (ff_buf_t *acc, const uint8_t *partial, size_t size)
{
    s_stats_t total, next;
    if (s_read (partial, size, &next) != 0)
        return -1;
    if (acc->size == 0)
        total = next;
    else {
        if (s_read (acc->data, acc->size, &total) != 0
        ||  total.dtype != next.dtype)
            return -1;
        s_merge (&total, &next);
    }
    ff_buf_t out = { NULL, 0, 0 };
    if (s_write (&out, &total) != 0) {
        free (out.data);
        return -1;
    }
    acc->size = 0;
    int rc = ff_buf_append (acc, out.data, out.size);
    free (out.data);
    return rc;
}

const ff_kernel_t ff_kernel_stats = {
    FF_KERNEL_ABI, FF_KERNEL_JSON, "stats",
    ff_stats_cost, ff_stats_run, ff_stats_fold
};
