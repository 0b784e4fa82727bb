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

/* The two passes over count elements of one element type (KIND 0: signed,
   1: unsigned, 2: float), one function per dtype so that the loops carry
   no switch: the first pass takes the sum (compensated, Neumaier), min and
   max; the second m2 about the mean, with the correction term of the
   corrected two-pass algorithm. Both do the arithmetic of a plain loop in
   element order, so that every dtype gives the same bits as one pass of
   double operations over the array. Elements are little-endian and maybe
   unaligned (memcpy). */
#define S_PASSES(SUFFIX, TYPE, KIND)                                          \
static void                                                                   \
s_first_##SUFFIX (const uint8_t *data, uint64_t count, s_stats_t *stats,      \
                  double *sum_p, double *compensation_p, bool *nan_p)         \
{                                                                             \
    double sum = 0, compensation = 0, fmin = INFINITY, fmax = -INFINITY;      \
    int64_t imin = INT64_MAX, imax = INT64_MIN;                               \
    uint64_t umin = UINT64_MAX, umax = 0;                                     \
    bool nan = false;                                                         \
    for (uint64_t index = 0; index < count; index++) {                        \
        TYPE v;                                                               \
        memcpy (&v, data + sizeof (TYPE) * index, sizeof (TYPE));             \
        double d = (double) v;                                                \
        double t = sum + d;                                                   \
        if (fabs (sum) >= fabs (d))                                           \
            compensation += (sum - t) + d;                                    \
        else                                                                  \
            compensation += (d - t) + sum;                                    \
        sum = t;                                                              \
        if (KIND == 0) {                                                      \
            if ((int64_t) v < imin) imin = (int64_t) v;                       \
            if ((int64_t) v > imax) imax = (int64_t) v;                       \
        }                                                                     \
        if (KIND == 1) {                                                      \
            if ((uint64_t) v < umin) umin = (uint64_t) v;                     \
            if ((uint64_t) v > umax) umax = (uint64_t) v;                     \
        }                                                                     \
        if (KIND == 2) {                                                      \
            if (d < fmin) fmin = d;                                           \
            if (d > fmax) fmax = d;                                           \
            nan |= isnan (d);                                                 \
        }                                                                     \
    }                                                                         \
    stats->imin = imin; stats->imax = imax;                                   \
    stats->umin = umin; stats->umax = umax;                                   \
    stats->fmin = fmin; stats->fmax = fmax;                                   \
    *sum_p = sum;                                                             \
    *compensation_p = compensation;                                           \
    *nan_p = nan;                                                             \
}                                                                             \
                                                                              \
static void                                                                   \
s_second_##SUFFIX (const uint8_t *data, uint64_t count, double mean,          \
                   double *m2_p, double *deviations_p)                        \
{                                                                             \
    double m2 = 0, deviations = 0;                                            \
    for (uint64_t index = 0; index < count; index++) {                        \
        TYPE v;                                                               \
        memcpy (&v, data + sizeof (TYPE) * index, sizeof (TYPE));             \
        double deviation = (double) v - mean;                                 \
        m2 += deviation * deviation;                                          \
        deviations += deviation;                                              \
    }                                                                         \
    *m2_p = m2;                                                               \
    *deviations_p = deviations;                                               \
}

S_PASSES (i8, int8_t, 0)
S_PASSES (i16, int16_t, 0)
S_PASSES (i32, int32_t, 0)
S_PASSES (i64, int64_t, 0)
S_PASSES (u8, uint8_t, 1)
S_PASSES (u16, uint16_t, 1)
S_PASSES (u32, uint32_t, 1)
S_PASSES (u64, uint64_t, 1)
S_PASSES (f32, float, 2)
S_PASSES (f64, double, 2)

/* Computes the figures of count elements of data in two passes (above). */
static void
s_compute (const uint8_t *data, ff_dtype_t dtype, uint64_t count,
           s_stats_t *stats)
{
    memset (stats, 0, sizeof (*stats));
    stats->dtype = dtype;
    stats->count = count;
    double sum = 0, compensation = 0, m2 = 0, deviations = 0;
    bool nan = false;
    switch (dtype) {
        case FF_DTYPE_I8:  s_first_i8 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_I16: s_first_i16 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_I32: s_first_i32 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_I64: s_first_i64 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_U8:  s_first_u8 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_U16: s_first_u16 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_U32: s_first_u32 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_U64: s_first_u64 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_F32: s_first_f32 (data, count, stats, &sum, &compensation, &nan); break;
        case FF_DTYPE_F64: s_first_f64 (data, count, stats, &sum, &compensation, &nan); break;
        default:           s_first_u8 (data, 0, stats, &sum, &compensation, &nan); break;
    }
    if (nan)
        stats->fmin = stats->fmax = NAN;
    stats->sum = isfinite (sum) ? sum + compensation : sum;
    stats->have_range = count > 0;
    if (count == 0) {
        stats->mean = NAN;
        return;
    }
    stats->mean = stats->sum / (double) count;
    switch (dtype) {
        case FF_DTYPE_I8:  s_second_i8 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_I16: s_second_i16 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_I32: s_second_i32 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_I64: s_second_i64 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_U8:  s_second_u8 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_U16: s_second_u16 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_U32: s_second_u32 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_U64: s_second_u64 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_F32: s_second_f32 (data, count, stats->mean, &m2, &deviations); break;
        case FF_DTYPE_F64: s_second_f64 (data, count, stats->mean, &m2, &deviations); break;
        default: break;
    }
    stats->m2 = m2 - deviations * deviations / (double) count;
    if (stats->m2 < 0)
        stats->m2 = 0;
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
    double na = (double) a->count, nb = (double) b->count, n = na + nb;
    double delta = b->mean - a->mean;
    a->mean += delta * nb / n;
    a->m2 += b->m2 + delta * delta * na * nb / n;
    a->sum += b->sum;
    a->count += b->count;
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
