/*  fanfold structure detectors: contacts, hbonds, clashes, pistacking.
    Organised as: a JSON writer; array checks; the neighbour search (a
    sparse cell list shared by all four: points hashed into cells of the
    cutoff's size, each point compared with the 27 cells around its own);
    then each kernel's cost and run. Definitions: docs/DETECTORS.md. */

#include "fanfold/kernels/detectors.h"
#include "fanfold/kernels/structure.h"
#include "fanfold/kernels/structure_gemmi.h"
#include "fanfold/kernels/task.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define S_DENSITY   0.05            /* heavy atoms per cubic Å in a protein */
#define S_GRID_MAX  ((1u << 20) - 2) /* cells per axis at most */
#define S_PI        3.14159265358979323846

/* The limits of the detectors; docs/DETECTORS.md gives the source of each. */
#define S_HBOND_MIN 2.5             /* hbonds: shortest donor-acceptor (Å) */
#define S_HBOND_MAX 3.5             /* hbonds: longest donor-acceptor (Å) */
#define S_HBOND_HEAVY_ANGLE 90.0    /* hbonds: X-D...A and D...A-Y at least */
#define S_HBOND_HYDROGEN_ANGLE 120.0 /* hbonds: D-H...A at least */
#define S_STACK_MIN 0.5             /* pistacking: centroids farther than (Å) */
#define S_STACK_MAX 5.5             /* pistacking: centroids closer than (Å) */
#define S_STACK_ANGLE_DEV 30.0      /* pistacking: degrees from 0 or 90 */
#define S_STACK_OFFSET_MAX 2.0      /* pistacking: offset below (Å) */
#define S_CLASH_REACH 3.6           /* clashes: search radius in a protein,
                                       twice the radius of S (1.8 Å) */

/* ---------------------------------------------------------- JSON writer */

/* Appends to the result, remembering a failed allocation. */
typedef struct {
    ff_buf_t *buf;                  /* where the text goes */
    int failed;                     /* an append ran out of memory */
} s_json_t;

static void
s_put (s_json_t *json, const char *text)
{
    if (ff_buf_puts (json->buf, text) != 0)
        json->failed = 1;
}

static void
s_uint (s_json_t *json, uint64_t value)
{
    char digits [24];
    size_t at = sizeof (digits);
    do {
        digits [--at] = (char) ('0' + value % 10);
        value /= 10;
    } while (value);
    if (ff_buf_append (json->buf, digits + at, sizeof (digits) - at) != 0)
        json->failed = 1;
}

/* Appends a distance or an angle with 3 decimals. */
static void
s_fixed (s_json_t *json, double value)
{
    char text [64];
    snprintf (text, sizeof (text), "%.3f", value);
    s_put (json, text);
}

/* Replaces whatever the result holds with a one-line error message. */
static int __attribute__ ((format (printf, 2, 3)))
s_error (ff_result_t *result, const char *format, ...)
{
    char message [320];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof (message), format, args);
    va_end (args);
    result->data.size = 0;
    ff_buf_puts (&result->data, message);
    return -1;
}

/* Ends a run: -1 with "out of memory" when an append failed, else 0. */
static int
s_finish (s_json_t *json, ff_result_t *result, const char *kernel)
{
    if (json->failed)
        return s_error (result, "%s: out of memory", kernel);
    return 0;
}

/* --------------------------------------------------------- array checks */

/* Finds array name in task with dtype, ndim 1 or 2 (columns > 0 wants
   shape [n][columns], 0 wants shape [n]) and enough bytes; sets *rows.
   Returns the data, or NULL with an error result. */
static const void *
s_array (const ff_task_t *task, ff_result_t *result, const char *kernel,
         const char *name, ff_dtype_t dtype, size_t item, uint64_t columns,
         size_t *rows)
{
    static const char *types [] = {
        "?", "int8", "int16", "int32", "int64", "uint8", "uint16", "uint32",
        "uint64", "float32", "float64"
    };
    const ff_array_t *array = ff_task_array (task, name);
    if (!array) {
        s_error (result, "%s: the task has no \"%s\" array", kernel, name);
        return NULL;
    }
    bool shaped = columns ? array->ndim == 2 && array->shape [1] == columns
                          : array->ndim == 1;
    if (array->dtype != dtype || !shaped) {
        if (columns)
            s_error (result, "%s: \"%s\" must be %s [N][%" PRIu64 "]",
                     kernel, name, types [dtype], columns);
        else
            s_error (result, "%s: \"%s\" must be %s [N]", kernel, name,
                     types [dtype]);
        return NULL;
    }
    uint64_t count = array->shape [0], per_row = columns ? columns : 1;
    if (count > UINT32_MAX
    ||  count * per_row * item > array->size
    ||  (count && !array->data)) {
        s_error (result, "%s: \"%s\" holds %zu bytes, fewer than its shape "
                 "needs (or more than 2^32 rows)", kernel, name, array->size);
        return NULL;
    }
    *rows = (size_t) count;
    return array->data ? array->data : (const void *) "";
}

/* The arrays of an atom detector. */
typedef struct {
    const float *coords;            /* [atoms][3] */
    const uint16_t *flags;          /* [atoms], or NULL when not needed */
    const uint32_t *residues;       /* [atoms], or NULL when not needed */
    size_t atoms;                   /* N */
} s_atoms_t;

/* Loads coords (and flags and residues when full) into *atoms. Returns 0,
   or -1 with an error result. */
static int
s_atoms (const ff_task_t *task, ff_result_t *result, const char *kernel,
         bool full, s_atoms_t *atoms)
{
    memset (atoms, 0, sizeof (*atoms));
    atoms->coords = (const float *) s_array (task, result, kernel, "coords",
                                             FF_DTYPE_F32, 4, 3, &atoms->atoms);
    if (!atoms->coords)
        return -1;
    if (!full)
        return 0;
    size_t count;
    atoms->flags = (const uint16_t *) s_array (task, result, kernel, "flags",
                                               FF_DTYPE_U16, 2, 0, &count);
    if (!atoms->flags)
        return -1;
    if (count != atoms->atoms)
        return s_error (result, "%s: \"flags\" has %zu rows, \"coords\" %zu",
                        kernel, count, atoms->atoms);
    atoms->residues = (const uint32_t *) s_array (task, result, kernel,
                                                  "residues", FF_DTYPE_U32, 4,
                                                  0, &count);
    if (!atoms->residues)
        return -1;
    if (count != atoms->atoms)
        return s_error (result, "%s: \"residues\" has %zu rows, \"coords\" %zu",
                        kernel, count, atoms->atoms);
    return 0;
}

/* Parses parameter key as a finite number >= 0. Returns 0 or -1 with an
   error result. */
static int
s_distance_param (const ff_task_t *task, ff_result_t *result,
                  const char *kernel, const char *key, const char *fallback,
                  double *value)
{
    const char *text = ff_task_param (task, key, fallback);
    char *end;
    errno = 0;
    double parsed = strtod (text, &end);
    if (errno || end == text || *end || !isfinite (parsed) || parsed < 0)
        return s_error (result, "%s: parameter %s=%.64s is not a "
                        "non-negative number", kernel, key, text);
    *value = parsed;
    return 0;
}

/* ----------------------------------------------------- neighbour search */

/* A point's cell key and its point index. */
typedef struct {
    uint64_t key;                   /* cell: x << 42 | y << 21 | z */
    uint32_t id;                    /* point index */
} s_slot_t;

/* A non-empty cell: its key and its points in the sorted slots. */
typedef struct {
    uint64_t key;                   /* cell key */
    uint32_t first;                 /* first slot */
    uint32_t count;                 /* slots */
} s_cell_t;

/* A candidate neighbour of the current point. */
typedef struct {
    uint32_t id;                    /* point index */
    double d2;                      /* squared distance */
} s_near_t;

static int
s_slot_compare (const void *a, const void *b)
{
    const s_slot_t *left = (const s_slot_t *) a, *right = (const s_slot_t *) b;
    if (left->key != right->key)
        return left->key < right->key ? -1 : 1;
    return left->id < right->id ? -1 : left->id > right->id;
}

static int
s_near_compare (const void *a, const void *b)
{
    const s_near_t *left = (const s_near_t *) a, *right = (const s_near_t *) b;
    return left->id < right->id ? -1 : left->id > right->id;
}

static uint64_t
s_mix (uint64_t value)
{
    value = (value ^ (value >> 30)) * 0xbf58476d1ce4e5b9ull;
    value = (value ^ (value >> 27)) * 0x94d049bb133111ebull;
    return value ^ (value >> 31);
}

ff_pairs_status_t
ff_pairs_search (const float *points, size_t stride, const uint32_t *ids,
                 size_t count, double cutoff, ff_pairs_visit_fn *visit,
                 void *context)
{
    if (count < 2)
        return FF_PAIRS_DONE;
    double low [3], high [3];
    size_t index;
    int axis;
    for (axis = 0; axis < 3; axis++) {
        low [axis] = INFINITY;
        high [axis] = -INFINITY;
    }
    for (index = 0; index < count; index++) {
        const float *p = points + stride * (ids ? ids [index] : index);
        for (axis = 0; axis < 3; axis++) {
            if (!isfinite (p [axis]))
                return FF_PAIRS_NOT_FINITE;
            if (p [axis] < low [axis])
                low [axis] = p [axis];
            if (p [axis] > high [axis])
                high [axis] = p [axis];
        }
    }
    /* cells a little larger than the cutoff, so that rounding never puts
       two points within the cutoff two cells apart; and at most S_GRID_MAX
       of them per axis, so that any spread of coordinates fits the keys */
    double cell = cutoff * (1 + 1e-6) + 1e-9;
    for (axis = 0; axis < 3; axis++)
        if ((high [axis] - low [axis]) / cell > S_GRID_MAX - 1)
            cell = (high [axis] - low [axis]) / (S_GRID_MAX - 1);
    double cut2 = cutoff * cutoff;

    ff_pairs_status_t status = FF_PAIRS_NO_MEMORY;
    s_slot_t *slots = (s_slot_t *) malloc (count * sizeof (s_slot_t));
    uint64_t *keys = (uint64_t *) malloc (count * sizeof (uint64_t));
    s_cell_t *cells = (s_cell_t *) malloc (count * sizeof (s_cell_t));
    size_t table_cap = 16;
    while (table_cap < 2 * count)
        table_cap *= 2;
    uint32_t *table = (uint32_t *) malloc (table_cap * sizeof (uint32_t));
    size_t near_cap = 64, near_count;
    s_near_t *near = (s_near_t *) malloc (near_cap * sizeof (s_near_t));
    if (!slots || !keys || !cells || !table || !near)
        goto done;

    for (index = 0; index < count; index++) {
        uint32_t id = ids ? ids [index] : (uint32_t) index;
        const float *p = points + stride * id;
        uint64_t key = 0;
        for (axis = 0; axis < 3; axis++) {
            double at = floor ((p [axis] - low [axis]) / cell);
            uint64_t c = at < 0 ? 0 : at > S_GRID_MAX ? S_GRID_MAX : (uint64_t) at;
            key = key << 21 | c;
        }
        keys [index] = key;
        slots [index].key = key;
        slots [index].id = id;
    }
    qsort (slots, count, sizeof (s_slot_t), s_slot_compare);
    size_t ncells = 0;
    for (index = 0; index < count; index++) {
        if (ncells == 0 || cells [ncells - 1].key != slots [index].key) {
            cells [ncells].key = slots [index].key;
            cells [ncells].first = (uint32_t) index;
            cells [ncells].count = 0;
            ncells++;
        }
        cells [ncells - 1].count++;
    }
    memset (table, 0xff, table_cap * sizeof (uint32_t));
    for (index = 0; index < ncells; index++) {
        size_t at = (size_t) s_mix (cells [index].key) & (table_cap - 1);
        while (table [at] != UINT32_MAX)
            at = (at + 1) & (table_cap - 1);
        table [at] = (uint32_t) index;
    }

    for (index = 0; index < count; index++) {
        uint32_t id = ids ? ids [index] : (uint32_t) index;
        const float *p = points + stride * id;
        int64_t cx = (int64_t) (keys [index] >> 42),
                cy = (int64_t) (keys [index] >> 21 & 0x1fffff),
                cz = (int64_t) (keys [index] & 0x1fffff);
        near_count = 0;
        for (int64_t x = cx - 1; x <= cx + 1; x++)
        for (int64_t y = cy - 1; y <= cy + 1; y++)
        for (int64_t z = cz - 1; z <= cz + 1; z++) {
            if (x < 0 || y < 0 || z < 0
            ||  x > S_GRID_MAX || y > S_GRID_MAX || z > S_GRID_MAX)
                continue;
            uint64_t key = (uint64_t) x << 42 | (uint64_t) y << 21 | (uint64_t) z;
            size_t at = (size_t) s_mix (key) & (table_cap - 1);
            while (table [at] != UINT32_MAX && cells [table [at]].key != key)
                at = (at + 1) & (table_cap - 1);
            if (table [at] == UINT32_MAX)
                continue;
            const s_cell_t *c = &cells [table [at]];
            for (uint32_t slot = c->first; slot < c->first + c->count; slot++) {
                uint32_t other = slots [slot].id;
                if (other <= id)
                    continue;
                const float *q = points + stride * other;
                double dx = (double) p [0] - (double) q [0],
                       dy = (double) p [1] - (double) q [1],
                       dz = (double) p [2] - (double) q [2];
                double d2 = dx * dx + dy * dy + dz * dz;
                if (d2 > cut2)
                    continue;
                if (near_count == near_cap) {
                    s_near_t *grown = (s_near_t *) realloc (near,
                                          2 * near_cap * sizeof (s_near_t));
                    if (!grown)
                        goto done;
                    near = grown;
                    near_cap *= 2;
                }
                near [near_count].id = other;
                near [near_count].d2 = d2;
                near_count++;
            }
        }
        /* each cell lists its points by id: with one cell in reach (atoms
           piled up) the candidates are in order already */
        size_t unsorted = 1;
        while (unsorted < near_count && near [unsorted - 1].id < near [unsorted].id)
            unsorted++;
        if (unsorted < near_count)
            qsort (near, near_count, sizeof (s_near_t), s_near_compare);
        for (size_t k = 0; k < near_count; k++)
            if (visit (context, id, near [k].id, near [k].d2) != 0) {
                status = FF_PAIRS_STOPPED;
                goto done;
            }
    }
    status = FF_PAIRS_DONE;
done:
    free (slots);
    free (keys);
    free (cells);
    free (table);
    free (near);
    return status;
}

/* Reports a search that did not finish as an error result. A stop comes
   from a visit that ran out of memory. */
static int
s_pairs_failed (ff_result_t *result, const char *kernel, const char *what,
                ff_pairs_status_t status)
{
    if (status == FF_PAIRS_NOT_FINITE)
        return s_error (result, "%s: \"%s\" holds a coordinate that is not "
                        "finite", kernel, what);
    return s_error (result, "%s: out of memory", kernel);
}

/* ------------------------------------------------------ found pairs */

/* The class of a stacked ring pair. */
typedef enum {
    S_STACK_NONE = 0,               /* neither (not reported) */
    S_STACK_PARALLEL,               /* face to face, "parallel" */
    S_STACK_TSHAPE                  /* edge to face, "tshape" */
} s_stack_class_t;

/* The columns a kernel reports per pair. */
typedef enum {
    S_ROW_PAIR,                     /* contacts: [i,j] */
    S_ROW_DISTANCE,                 /* hbonds: [donor,acceptor,d] */
    S_ROW_OVERLAP,                  /* clashes: [i,j,d,overlap] */
    S_ROW_STACKING                  /* pistacking: [a,b,d,angle,offset,class] */
} s_row_t;

/* One found pair. */
typedef struct {
    uint32_t a;                     /* first index (i, donor, ring a) */
    uint32_t b;                     /* second index (j, acceptor, ring b) */
    double d;                       /* distance */
    double x;                       /* clashes: overlap; pistacking: angle */
    double offset;                  /* pistacking: offset */
    s_stack_class_t stack;          /* pistacking: class */
    double rank;                    /* of pairs of the same two residues,
                                       the lowest is kept: d, or -overlap */
} s_pair_t;

/* The pairs a kernel found, and what its visit function reads. */
typedef struct {
    s_pair_t *pairs;                /* the pairs */
    size_t count;                   /* pairs found */
    size_t cap;                     /* allocated */
    bool keep;                      /* store the pairs, or only count them */
    const s_atoms_t *atoms;         /* the atoms searched */
    const ff_topology_t *topology;  /* elements, bonds, rings, residues */
    const uint32_t *start;          /* bonded neighbours of atom k: */
    const uint32_t *next;           /*   next [start [k] .. start [k + 1]) */
    const double *radii;            /* clashes: van der Waals radius per atom */
    double limit;                   /* clashes: overlap; hbonds: shortest² */
    s_row_t row;                    /* the columns each kept pair writes */
    uint64_t max_bytes;             /* the job's max_result; 0: no bound (residues) */
    uint64_t bytes;                 /* least bytes the kept pairs take in the result */
    bool too_large;                 /* bytes passed max_bytes: the search stopped */
    ff_buf_t *stream;               /* contacts by atom: "[i,j]," written here at
                                       once, in visit order (already sorted), instead
                                       of keeping the pair; or NULL */
} s_found_t;

/* The largest result of one task: FF_MAX_RESULT, or the job's lower
   max_result=SIZE (docs/PROTOCOL.md section 3.1). A detector stops its
   search once its pairs pass it, instead of building a result that the
   worker would only replace by an error. */
static uint64_t
s_max_result (const ff_task_t *task)
{
    return ff_task_max_result (task, 0);
}

/* Decimal digits of value. */
static unsigned
s_digits (uint32_t value)
{
    unsigned digits = 1;
    while (value >= 10) {
        value /= 10;
        digits++;
    }
    return digits;
}

/* Writes value in decimal at text (room for 10 digits); returns the
   digits written. */
static size_t
s_decimal (char *text, uint32_t value)
{
    unsigned digits = s_digits (value);
    for (unsigned at = digits; at > 0; at--) {
        text [at - 1] = (char) ('0' + value % 10);
        value /= 10;
    }
    return digits;
}

/* The fewest bytes the pair (a, b) takes in a result with the columns of
   row: "[a,b" and each fixed-point column (at least "0.000" and a comma),
   the class of a stacking, "]" and the comma before the next. */
static uint64_t
s_pair_bytes (s_row_t row, uint32_t a, uint32_t b)
{
    uint64_t bytes = 4 + s_digits (a) + s_digits (b);
    if (row == S_ROW_DISTANCE)
        bytes += 6;
    if (row == S_ROW_OVERLAP)
        bytes += 12;
    if (row == S_ROW_STACKING)
        bytes += 18 + 9;
    return bytes;
}

/* The error result of a search stopped by max_result. */
static int
s_too_large (ff_result_t *result, const char *kernel, const s_found_t *found)
{
    return s_error (result, "%s: result of more than %" PRIu64 " bytes exceeds the limit "
                    "of %" PRIu64 " bytes of one result (max_result): stopped after %zu pairs",
                    kernel, found->bytes, found->max_bytes, found->count);
}

/* Appends a pair (or counts it). Returns the pair kept, or NULL when it
   is only counted or memory ran out (*failed says which). */
static s_pair_t *
s_found_add (s_found_t *found, uint32_t a, uint32_t b, double d2, bool *failed)
{
    *failed = false;
    if (!found->keep) {
        found->count++;
        return NULL;
    }
    if (found->max_bytes) {
        found->bytes += s_pair_bytes (found->row, a, b);
        if (found->bytes > found->max_bytes) {
            found->too_large = *failed = true;
            return NULL;
        }
    }
    if (found->stream) {
        /* written at once: the buffer never grows past the limit */
        char text [32];
        size_t len = 0;
        text [len++] = '[';
        len += s_decimal (text + len, a);
        text [len++] = ',';
        len += s_decimal (text + len, b);
        text [len++] = ']';
        text [len++] = ',';
        if (ff_buf_append (found->stream, text, len) != 0)
            *failed = true;
        else
            found->count++;
        return NULL;
    }
    if (found->count == found->cap) {
        size_t cap = found->cap ? found->cap * 2 : 1024;
        s_pair_t *grown = (s_pair_t *) realloc (found->pairs,
                                                cap * sizeof (s_pair_t));
        if (!grown) {
            *failed = true;
            return NULL;
        }
        found->pairs = grown;
        found->cap = cap;
    }
    s_pair_t *pair = &found->pairs [found->count++];
    memset (pair, 0, sizeof (*pair));
    pair->a = a;
    pair->b = b;
    pair->d = sqrt (d2);
    pair->rank = pair->d;
    return pair;
}

/* Appends a JSON string with the escapes JSON needs. */
static void
s_string (s_json_t *json, const char *text, size_t size)
{
    s_put (json, "\"");
    for (size_t index = 0; index < size && text [index]; index++) {
        unsigned char c = (unsigned char) text [index];
        char escaped [8];
        if (c == '"' || c == '\\')
            snprintf (escaped, sizeof (escaped), "\\%c", c);
        else
        if (c < 0x20 || c >= 0x7f)
            snprintf (escaped, sizeof (escaped), "\\u%04x", c);
        else
            escaped [0] = (char) c, escaped [1] = 0;
        s_put (json, escaped);
    }
    s_put (json, "\"");
}

/* Appends residue ordinal r as ["chain",number,"icode","name"]. */
static void
s_residue (s_json_t *json, const ff_topology_t *topology, uint32_t r)
{
    const ff_topology_residue_t *residue = &topology->residues [r];
    char number [16];
    s_put (json, "[");
    s_string (json, residue->chain, sizeof (residue->chain));
    snprintf (number, sizeof (number), ",%" PRId32 ",", residue->number);
    s_put (json, number);
    char icode [2] = { residue->icode == ' ' ? 0 : residue->icode, 0 };
    s_string (json, icode, 1);
    s_put (json, ",");
    s_string (json, residue->name, sizeof (residue->name));
    s_put (json, "]");
}

/* Appends one index of a pair: the index itself, or its residue. */
static void
s_index (s_json_t *json, const ff_topology_t *residues, uint32_t index)
{
    if (residues)
        s_residue (json, residues, index);
    else
        s_uint (json, index);
}

/* Writes {"<what>":n,"count":M,"pairs":[...]} with the columns of row.
   With residues, a and b of each pair are residue ordinals written as
   residues. */
static int
s_write (ff_result_t *result, const char *kernel, const char *what, size_t n,
         const s_found_t *found, s_row_t row, const ff_topology_t *residues)
{
    static const char *classes [] = { "none", "parallel", "tshape" };
    s_json_t json = { &result->data, 0 };
    s_put (&json, "{\"");
    s_put (&json, what);
    s_put (&json, "\":");
    s_uint (&json, n);
    s_put (&json, ",\"count\":");
    s_uint (&json, found->count);
    if (found->keep) {
        s_put (&json, ",\"pairs\":[");
        for (size_t index = 0; index < found->count && !json.failed; index++) {
            const s_pair_t *pair = &found->pairs [index];
            s_put (&json, index ? ",[" : "[");
            s_index (&json, residues, pair->a);
            s_put (&json, ",");
            s_index (&json, residues, pair->b);
            if (row != S_ROW_PAIR) {
                s_put (&json, ",");
                s_fixed (&json, pair->d);
            }
            if (row == S_ROW_OVERLAP || row == S_ROW_STACKING) {
                s_put (&json, ",");
                s_fixed (&json, pair->x);
            }
            if (row == S_ROW_STACKING) {
                s_put (&json, ",");
                s_fixed (&json, pair->offset);
                s_put (&json, ",\"");
                s_put (&json, classes [pair->stack]);
                s_put (&json, "\"");
            }
            s_put (&json, "]");
        }
        s_put (&json, "]");
    }
    s_put (&json, "}");
    return s_finish (&json, result, kernel);
}

/* Cost of a search among n points at radius r with density points/Å³. */
static double
s_search_cost (double n, double r, double density)
{
    return n + n * density * 4.0 / 3.0 * S_PI * r * r * r / 2;
}

static double
s_rows (const ff_task_t *task, const char *name)
{
    const ff_array_t *array = ff_task_array (task, name);
    return array && array->ndim >= 1 ? (double) array->shape [0] : 0;
}

static int
s_pair_compare (const void *a, const void *b)
{
    const s_pair_t *left = (const s_pair_t *) a, *right = (const s_pair_t *) b;
    if (left->a != right->a)
        return left->a < right->a ? -1 : 1;
    return left->b < right->b ? -1 : left->b > right->b;
}

/* ------------------------------------------------- topology, residues */

/* The topology of a task, in an aligned copy when its bytes are not. */
typedef struct {
    ff_topology_t view;             /* the parts */
    void *copy;                     /* owned aligned copy, or NULL */
} s_topology_t;

/* Reads the "topology" array of a task with atoms atoms. Returns 0, or -1
   with an error result. */
static int
s_topology (const ff_task_t *task, ff_result_t *result, const char *kernel,
            size_t atoms, bool check_atoms, s_topology_t *topology)
{
    memset (topology, 0, sizeof (*topology));
    size_t bytes;
    const uint8_t *data = (const uint8_t *) s_array (task, result, kernel,
                                                     "topology", FF_DTYPE_U8,
                                                     1, 0, &bytes);
    if (!data)
        return -1;
    if ((uintptr_t) data % 8 != 0) {
        topology->copy = malloc (bytes ? bytes : 1);
        if (!topology->copy)
            return s_error (result, "%s: out of memory", kernel);
        memcpy (topology->copy, data, bytes);
        data = (const uint8_t *) topology->copy;
    }
    char why [160];
    if (ff_topology_view (data, bytes, &topology->view, why, sizeof (why)) != 0) {
        free (topology->copy);
        topology->copy = NULL;
        return s_error (result, "%s: %s", kernel, why);
    }
    if (check_atoms && topology->view.header->atoms != atoms) {
        free (topology->copy);
        topology->copy = NULL;
        return s_error (result, "%s: \"topology\" describes %" PRIu32
                        " atoms, \"coords\" has %zu", kernel,
                        topology->view.header->atoms, atoms);
    }
    return 0;
}

/* A detector that needs bonds refuses a structure whose bonds are unknown
   (FF_TOPOLOGY_NO_BONDS). Returns 0, or -1 with an error result. */
static int
s_need_bonds (ff_result_t *result, const char *kernel, s_topology_t *topology)
{
    if (!(topology->view.header->flags & FF_TOPOLOGY_NO_BONDS))
        return 0;
    free (topology->copy);
    topology->copy = NULL;
    return s_error (result, "%s: the atoms are packed too densely for bonds (an atom has "
                    "more than %d atoms within bond distance)", kernel, FF_BOND_MAX_PER_ATOM);
}

/* Parses level= (atom or residue). Returns 0 or -1 with an error result. */
static int
s_level_param (const ff_task_t *task, ff_result_t *result, const char *kernel,
               bool *residue)
{
    const char *level = ff_task_param (task, "level", "atom");
    if (strcmp (level, "atom") != 0 && strcmp (level, "residue") != 0)
        return s_error (result, "%s: parameter level=%.64s is not atom or "
                        "residue", kernel, level);
    *residue = strcmp (level, "residue") == 0;
    return 0;
}

/* Checks that every residue ordinal is named in the topology. */
static int
s_residues_named (ff_result_t *result, const char *kernel,
                  const s_atoms_t *atoms, const ff_topology_t *topology)
{
    for (size_t atom = 0; atom < atoms->atoms; atom++)
        if (atoms->residues [atom] >= topology->header->residues)
            return s_error (result, "%s: atom %zu is in residue %" PRIu32
                            ", \"topology\" names %" PRIu32, kernel, atom,
                            atoms->residues [atom], topology->header->residues);
    return 0;
}

/* Orders residue pairs, and the better pair of two first: the shorter
   distance, or for clashes the larger overlap. */
static int
s_residue_compare (const void *a, const void *b)
{
    const s_pair_t *left = (const s_pair_t *) a, *right = (const s_pair_t *) b;
    int order = s_pair_compare (a, b);
    if (order)
        return order;
    return left->rank < right->rank ? -1 : left->rank > right->rank;
}

/* Turns found atom (or ring) pairs into residue pairs: a and b become
   residue ordinals (for symmetric kernels the smaller first), pairs
   within one residue go, and of the pairs of two residues the first by
   s_residue_compare stays. ring_residues maps rings to residues when the
   pairs are of rings; residues maps atoms otherwise. */
static void
s_to_residues (s_found_t *found, const uint32_t *residues,
               const ff_topology_t *rings, bool symmetric)
{
    size_t kept = 0;
    for (size_t index = 0; index < found->count; index++) {
        s_pair_t pair = found->pairs [index];
        uint32_t ra = rings ? rings->rings [pair.a].residue : residues [pair.a];
        uint32_t rb = rings ? rings->rings [pair.b].residue : residues [pair.b];
        if (ra == rb)
            continue;
        if (symmetric && ra > rb) {
            uint32_t swap = ra;
            ra = rb;
            rb = swap;
        }
        pair.a = ra;
        pair.b = rb;
        found->pairs [kept++] = pair;
    }
    found->count = kept;
    if (kept > 1)
        qsort (found->pairs, kept, sizeof (s_pair_t), s_residue_compare);
    kept = 0;
    for (size_t index = 0; index < found->count; index++)
        if (kept == 0 || found->pairs [kept - 1].a != found->pairs [index].a
                      || found->pairs [kept - 1].b != found->pairs [index].b)
            found->pairs [kept++] = found->pairs [index];
    found->count = kept;
}

/* ------------------------------------------------------- bond graph */

/* Builds the neighbour lists of the bonds: atom k's bonded atoms are
   next [start [k] .. start [k + 1]). Returns 0 or -1 (out of memory). */
static int
s_graph (const ff_topology_t *topology, uint32_t **start_p, uint32_t **next_p)
{
    size_t atoms = topology->header->atoms, bonds = topology->header->bonds;
    uint32_t *start = (uint32_t *) calloc (atoms + 2, sizeof (uint32_t));
    uint32_t *next = (uint32_t *) malloc ((2 * bonds + 1) * sizeof (uint32_t));
    uint32_t *fill = (uint32_t *) calloc (atoms + 1, sizeof (uint32_t));
    if (!start || !next || !fill) {
        free (start);
        free (next);
        free (fill);
        return -1;
    }
    for (size_t bond = 0; bond < bonds; bond++) {
        start [topology->bonds [2 * bond] + 2]++;
        start [topology->bonds [2 * bond + 1] + 2]++;
    }
    for (size_t atom = 0; atom < atoms; atom++)
        start [atom + 2] += start [atom + 1];
    /* start [k + 1] is now where atom k's list begins */
    for (size_t bond = 0; bond < bonds; bond++) {
        uint32_t i = topology->bonds [2 * bond], j = topology->bonds [2 * bond + 1];
        next [start [i + 1] + fill [i]++] = j;
        next [start [j + 1] + fill [j]++] = i;
    }
    memmove (start, start + 1, (atoms + 1) * sizeof (uint32_t));
    free (fill);
    *start_p = start;
    *next_p = next;
    return 0;
}

/* Returns true when j is at most three bonds from i. */
static bool
s_within_three_bonds (const uint32_t *start, const uint32_t *next, uint32_t i,
                      uint32_t j)
{
    for (uint32_t one = start [i]; one < start [i + 1]; one++) {
        uint32_t a = next [one];
        if (a == j)
            return true;
        for (uint32_t two = start [a]; two < start [a + 1]; two++) {
            uint32_t b = next [two];
            if (b == j)
                return true;
            for (uint32_t three = start [b]; three < start [b + 1]; three++)
                if (next [three] == j)
                    return true;
        }
    }
    return false;
}

/* ------------------------------------------------------------- contacts */

static int
s_contacts_visit (void *context, uint32_t i, uint32_t j, double d2)
{
    bool failed;
    s_found_add ((s_found_t *) context, i, j, d2, &failed);
    return failed ? -1 : 0;
}

/* Ends a result whose pairs were written at base as "[i,j]," each: puts
   the header in front of them (moving them, not copying them elsewhere)
   and closes the list. Returns 0, or -1 with "out of memory". */
static int
s_contacts_close (ff_result_t *result, size_t base, size_t atoms, size_t count)
{
    ff_buf_t *data = &result->data;
    char head [96];
    int len = snprintf (head, sizeof (head), "{\"atoms\":%zu,\"count\":%zu,\"pairs\":[",
                        atoms, count);
    if (count)
        data->size--;               /* the comma after the last pair */
    size_t body = data->size - base;
    if (ff_buf_append (data, head, (size_t) len) != 0 || ff_buf_puts (data, "]}") != 0)
        return s_error (result, "contacts: out of memory");
    memmove (data->data + base + len, data->data + base, body);
    memcpy (data->data + base, head, (size_t) len);
    memcpy (data->data + base + len + body, "]}", 2);
    return 0;
}

double
ff_contacts_cost (const ff_task_t *task)
{
    double cutoff = 4.0;
    const char *text = ff_task_param (task, "cutoff", "4.0");
    double parsed = strtod (text, NULL);
    if (isfinite (parsed) && parsed >= 0)
        cutoff = parsed < 100 ? parsed : 100;
    return s_search_cost (s_rows (task, "coords"), cutoff, S_DENSITY);
}

int
ff_contacts_run (const ff_task_t *task, ff_result_t *result)
{
    s_atoms_t atoms;
    double cutoff;
    bool by_residue;
    if (s_level_param (task, result, "contacts", &by_residue) != 0
    ||  s_atoms (task, result, "contacts", by_residue, &atoms) != 0
    ||  s_distance_param (task, result, "contacts", "cutoff", "4.0", &cutoff))
        return -1;
    const char *pairs = ff_task_param (task, "pairs", "1");
    if (strcmp (pairs, "0") != 0 && strcmp (pairs, "1") != 0)
        return s_error (result, "contacts: parameter pairs=%.64s is not 0 or 1",
                        pairs);
    s_topology_t topology = { { NULL, NULL, NULL, NULL, NULL, NULL }, NULL };
    if (by_residue
    &&  (s_topology (task, result, "contacts", atoms.atoms, true, &topology) != 0
      || s_residues_named (result, "contacts", &atoms, &topology.view) != 0)) {
        free (topology.copy);
        return -1;
    }
    s_found_t found;
    memset (&found, 0, sizeof (found));
    found.keep = strcmp (pairs, "1") == 0 || by_residue;
    found.row = S_ROW_PAIR;
    found.max_bytes = by_residue ? 0 : s_max_result (task);
    size_t base = result->data.size;
    if (found.keep && !by_residue)
        found.stream = &result->data;
    ff_pairs_status_t status = ff_pairs_search (atoms.coords, 3, NULL,
                                                atoms.atoms, cutoff,
                                                s_contacts_visit, &found);
    int rc;
    if (status == FF_PAIRS_DONE && found.stream)
        rc = s_contacts_close (result, base, atoms.atoms, found.count);
    else
    if (status == FF_PAIRS_DONE) {
        if (by_residue)
            s_to_residues (&found, atoms.residues, NULL, true);
        found.keep = strcmp (pairs, "1") == 0;
        rc = s_write (result, "contacts", "atoms", atoms.atoms, &found,
                      S_ROW_PAIR, by_residue ? &topology.view : NULL);
    }
    else
    if (found.too_large)
        rc = s_too_large (result, "contacts", &found);
    else
        rc = s_pairs_failed (result, "contacts", "coords", status);
    free (found.pairs);
    free (topology.copy);
    return rc;
}

/* --------------------------------------------------------------- hbonds */

#define S_POLAR (FF_ATOM_N | FF_ATOM_O)
#define S_HBOND (FF_ATOM_DONOR | FF_ATOM_ACCEPTOR)

/* Returns the angle at b of the points a, b, c in degrees (0 when two of
   them coincide). */
static double
s_angle (const float *a, const float *b, const float *c)
{
    double u [3], v [3], dot = 0, uu = 0, vv = 0;
    for (int axis = 0; axis < 3; axis++) {
        u [axis] = (double) a [axis] - b [axis];
        v [axis] = (double) c [axis] - b [axis];
        dot += u [axis] * v [axis];
        uu += u [axis] * u [axis];
        vv += v [axis] * v [axis];
    }
    if (uu == 0 || vv == 0)
        return 0;
    double cosine = dot / sqrt (uu * vv);
    cosine = cosine > 1 ? 1 : cosine < -1 ? -1 : cosine;
    return acos (cosine) * 180.0 / S_PI;
}

/* Returns true when every heavy atom bonded to atom (but other) makes an
   angle of at least S_HBOND_HEAVY_ANGLE with it at atom. */
static bool
s_heavy_angles (const s_found_t *found, uint32_t atom, uint32_t other)
{
    const float *coords = found->atoms->coords;
    for (uint32_t k = found->start [atom]; k < found->start [atom + 1]; k++)
        if (s_angle (coords + 3 * (size_t) found->next [k], coords + 3 * (size_t) atom,
                     coords + 3 * (size_t) other) < S_HBOND_HEAVY_ANGLE)
            return false;
    return true;
}

/* The hydrogens of each atom: hydrogen_of [first [k] .. first [k + 1]). */
typedef struct {
    uint32_t *first;                /* [atoms + 1] */
    uint32_t *order;                /* [hydrogens] hydrogen indices */
} s_hydrogens_t;

/* Returns true when donor to acceptor is a hydrogen bond by its angles:
   at the acceptor, every bonded heavy atom at S_HBOND_HEAVY_ANGLE or
   more; at the donor, with hydrogens on it, one D-H...A angle of at least
   S_HBOND_HYDROGEN_ANGLE, else every bonded heavy atom as at the
   acceptor. */
static bool
s_hbond_angles (const s_found_t *found, const s_hydrogens_t *hydrogens,
                uint32_t donor, uint32_t acceptor)
{
    if (!s_heavy_angles (found, acceptor, donor))
        return false;
    uint32_t first = hydrogens->first [donor], last = hydrogens->first [donor + 1];
    if (first == last)
        return s_heavy_angles (found, donor, acceptor);
    const float *coords = found->atoms->coords;
    for (uint32_t k = first; k < last; k++) {
        const ff_topology_hydrogen_t *h = &found->topology->hydrogens [hydrogens->order [k]];
        if (s_angle (coords + 3 * (size_t) donor, h->xyz,
                     coords + 3 * (size_t) acceptor) >= S_HBOND_HYDROGEN_ANGLE)
            return true;
    }
    return false;
}

typedef struct {
    s_found_t *found;               /* the pairs */
    const s_hydrogens_t *hydrogens; /* hydrogens per atom */
} s_hbonds_t;

static int
s_hbonds_visit (void *context, uint32_t i, uint32_t j, double d2)
{
    s_hbonds_t *hbonds = (s_hbonds_t *) context;
    s_found_t *found = hbonds->found;
    const s_atoms_t *atoms = found->atoms;
    if (d2 < found->limit || atoms->residues [i] == atoms->residues [j])
        return 0;
    uint16_t fi = atoms->flags [i], fj = atoms->flags [j];
    bool failed = false;
    if ((fi & FF_ATOM_DONOR) && (fj & FF_ATOM_ACCEPTOR)
    &&  s_hbond_angles (found, hbonds->hydrogens, i, j))
        s_found_add (found, i, j, d2, &failed);
    if (!failed && (fj & FF_ATOM_DONOR) && (fi & FF_ATOM_ACCEPTOR)
    &&  s_hbond_angles (found, hbonds->hydrogens, j, i))
        s_found_add (found, j, i, d2, &failed);
    return failed ? -1 : 0;
}

double
ff_hbonds_cost (const ff_task_t *task)
{
    /* about a third of the atoms are polar */
    return s_search_cost (s_rows (task, "coords"), S_HBOND_MAX, S_DENSITY / 3);
}

int
ff_hbonds_run (const ff_task_t *task, ff_result_t *result)
{
    s_atoms_t atoms;
    s_topology_t topology;
    bool by_residue;
    if (s_level_param (task, result, "hbonds", &by_residue) != 0
    ||  s_atoms (task, result, "hbonds", true, &atoms) != 0
    ||  s_topology (task, result, "hbonds", atoms.atoms, true, &topology) != 0
    ||  s_need_bonds (result, "hbonds", &topology) != 0)
        return -1;
    int rc = -1;
    uint32_t *ids = (uint32_t *) malloc ((atoms.atoms ? atoms.atoms : 1)
                                         * sizeof (uint32_t));
    uint32_t *start = NULL, *next = NULL;
    const ff_topology_header_t *header = topology.view.header;
    s_hydrogens_t hydrogens = {
        (uint32_t *) calloc (atoms.atoms + 2, sizeof (uint32_t)),
        (uint32_t *) malloc ((header->hydrogens + 1) * sizeof (uint32_t))
    };
    s_found_t found;
    memset (&found, 0, sizeof (found));
    if (by_residue && s_residues_named (result, "hbonds", &atoms, &topology.view) != 0)
        goto done;
    if (!ids || !hydrogens.first || !hydrogens.order
    ||  s_graph (&topology.view, &start, &next) != 0) {
        rc = s_error (result, "hbonds: out of memory");
        goto done;
    }
    /* hydrogens grouped by the atom they are bonded to */
    for (uint32_t h = 0; h < header->hydrogens; h++)
        hydrogens.first [topology.view.hydrogens [h].atom + 2]++;
    for (size_t atom = 0; atom < atoms.atoms; atom++)
        hydrogens.first [atom + 2] += hydrogens.first [atom + 1];
    for (uint32_t h = 0; h < header->hydrogens; h++)
        hydrogens.order [hydrogens.first [topology.view.hydrogens [h].atom + 1]++] = h;
    size_t count = 0;
    for (size_t atom = 0; atom < atoms.atoms; atom++)
        if ((atoms.flags [atom] & S_POLAR) && (atoms.flags [atom] & S_HBOND))
            ids [count++] = (uint32_t) atom;
    found.keep = true;
    found.atoms = &atoms;
    found.topology = &topology.view;
    found.start = start;
    found.next = next;
    found.limit = S_HBOND_MIN * S_HBOND_MIN;
    found.row = S_ROW_DISTANCE;
    found.max_bytes = by_residue ? 0 : s_max_result (task);
    s_hbonds_t context = { &found, &hydrogens };
    ff_pairs_status_t status = ff_pairs_search (atoms.coords, 3, ids, count,
                                                S_HBOND_MAX, s_hbonds_visit,
                                                &context);
    if (status == FF_PAIRS_DONE) {
        if (found.count > 1)
            qsort (found.pairs, found.count, sizeof (s_pair_t), s_pair_compare);
        if (by_residue)
            s_to_residues (&found, atoms.residues, NULL, false);
        rc = s_write (result, "hbonds", "atoms", atoms.atoms, &found,
                      S_ROW_DISTANCE, by_residue ? &topology.view : NULL);
    }
    else
    if (found.too_large)
        rc = s_too_large (result, "hbonds", &found);
    else
        rc = s_pairs_failed (result, "hbonds", "coords", status);
done:
    free (found.pairs);
    free (ids);
    free (start);
    free (next);
    free (hydrogens.first);
    free (hydrogens.order);
    free (topology.copy);
    return rc;
}

/* -------------------------------------------------------------- clashes */

static int
s_clashes_visit (void *context, uint32_t i, uint32_t j, double d2)
{
    s_found_t *found = (s_found_t *) context;
    const s_atoms_t *atoms = found->atoms;
    double d = sqrt (d2);
    double overlap = found->radii [i] + found->radii [j] - d;
    if (!(overlap >= found->limit))
        return 0;
    uint16_t fi = atoms->flags [i], fj = atoms->flags [j];
    if (d2 >= S_HBOND_MIN * S_HBOND_MIN
    &&  (((fi & FF_ATOM_DONOR) && (fj & FF_ATOM_ACCEPTOR))
      || ((fj & FF_ATOM_DONOR) && (fi & FF_ATOM_ACCEPTOR))))
        return 0;                   /* a possible hydrogen bond */
    if (s_within_three_bonds (found->start, found->next, i, j))
        return 0;
    bool failed;
    s_pair_t *pair = s_found_add (found, i, j, d2, &failed);
    if (pair) {
        pair->x = overlap;
        pair->rank = -overlap;
    }
    return failed ? -1 : 0;
}

double
ff_clashes_cost (const ff_task_t *task)
{
    return s_search_cost (s_rows (task, "coords"), S_CLASH_REACH, S_DENSITY);
}

int
ff_clashes_run (const ff_task_t *task, ff_result_t *result)
{
    s_atoms_t atoms;
    s_topology_t topology;
    double overlap;
    bool by_residue;
    if (s_level_param (task, result, "clashes", &by_residue) != 0
    ||  s_atoms (task, result, "clashes", true, &atoms) != 0
    ||  s_distance_param (task, result, "clashes", "overlap", "0.4", &overlap))
        return -1;
    if (ff_task_param (task, "min", NULL))
        return s_error (result, "clashes: parameter min= is gone: clashes are "
                        "van der Waals overlaps of at least overlap= (default "
                        "0.4 Å), see docs/DETECTORS.md");
    if (s_topology (task, result, "clashes", atoms.atoms, true, &topology) != 0
    ||  s_need_bonds (result, "clashes", &topology) != 0)
        return -1;
    int rc = -1;
    uint32_t *start = NULL, *next = NULL;
    double *radii = (double *) malloc ((atoms.atoms ? atoms.atoms : 1)
                                       * sizeof (double));
    s_found_t found;
    memset (&found, 0, sizeof (found));
    if (by_residue && s_residues_named (result, "clashes", &atoms, &topology.view) != 0)
        goto done;
    if (!radii || s_graph (&topology.view, &start, &next) != 0) {
        rc = s_error (result, "clashes: out of memory");
        goto done;
    }
    double table [256], largest = 0;
    for (unsigned number = 0; number < 256; number++)
        table [number] = ff_element_vdw_radius (number);
    for (size_t atom = 0; atom < atoms.atoms; atom++) {
        radii [atom] = table [topology.view.elements [atom]];
        if (radii [atom] > largest)
            largest = radii [atom];
    }
    found.keep = true;
    found.atoms = &atoms;
    found.topology = &topology.view;
    found.start = start;
    found.next = next;
    found.radii = radii;
    found.limit = overlap;
    found.row = S_ROW_OVERLAP;
    found.max_bytes = by_residue ? 0 : s_max_result (task);
    double cutoff = 2 * largest - overlap;
    ff_pairs_status_t status = ff_pairs_search (atoms.coords, 3, NULL,
                                                atoms.atoms, cutoff > 0 ? cutoff : 0,
                                                s_clashes_visit, &found);
    if (status == FF_PAIRS_DONE) {
        if (by_residue)
            s_to_residues (&found, atoms.residues, NULL, true);
        rc = s_write (result, "clashes", "atoms", atoms.atoms, &found,
                      S_ROW_OVERLAP, by_residue ? &topology.view : NULL);
    }
    else
    if (found.too_large)
        rc = s_too_large (result, "clashes", &found);
    else
        rc = s_pairs_failed (result, "clashes", "coords", status);
done:
    free (found.pairs);
    free (radii);
    free (start);
    free (next);
    free (topology.copy);
    return rc;
}

/* ----------------------------------------------------------- pistacking */

/* Returns the distance from centroid a to the projection of centroid b on
   the plane of ring a. */
static double
s_offset (const ff_topology_ring_t *a, const ff_topology_ring_t *b)
{
    double delta [3], along = 0, length2 = 0, normal2 = 0;
    for (int axis = 0; axis < 3; axis++) {
        delta [axis] = (double) b->centroid [axis] - a->centroid [axis];
        along += delta [axis] * a->normal [axis];
        length2 += delta [axis] * delta [axis];
        normal2 += (double) a->normal [axis] * a->normal [axis];
    }
    double in_plane = length2 - along * along / normal2;
    return sqrt (in_plane > 0 ? in_plane : 0);
}

static int
s_stacking_visit (void *context, uint32_t a, uint32_t b, double d2)
{
    s_found_t *found = (s_found_t *) context;
    const ff_topology_ring_t *ra = &found->topology->rings [a];
    const ff_topology_ring_t *rb = &found->topology->rings [b];
    if (ra->residue == rb->residue || d2 <= S_STACK_MIN * S_STACK_MIN
    ||  d2 >= S_STACK_MAX * S_STACK_MAX)
        return 0;
    double dot = 0, la = 0, lb = 0;
    for (int axis = 0; axis < 3; axis++) {
        dot += (double) ra->normal [axis] * rb->normal [axis];
        la += (double) ra->normal [axis] * ra->normal [axis];
        lb += (double) rb->normal [axis] * rb->normal [axis];
    }
    double cosine = fabs (dot) / sqrt (la * lb);
    if (cosine > 1)
        cosine = 1;
    double angle = acos (cosine) * 180.0 / S_PI;
    double offset_a = s_offset (ra, rb), offset_b = s_offset (rb, ra);
    double offset = offset_a < offset_b ? offset_a : offset_b;
    s_stack_class_t stack = S_STACK_NONE;
    if (offset < S_STACK_OFFSET_MAX) {
        if (angle < S_STACK_ANGLE_DEV)
            stack = S_STACK_PARALLEL;
        else
        if (angle > 90 - S_STACK_ANGLE_DEV)
            stack = S_STACK_TSHAPE;
    }
    if (stack == S_STACK_NONE)
        return 0;
    bool failed;
    s_pair_t *pair = s_found_add (found, a, b, d2, &failed);
    if (pair) {
        pair->x = angle;
        pair->offset = offset;
        pair->stack = stack;
    }
    return failed ? -1 : 0;
}

/* Returns the ring count of a task's topology, 0 when it has none. */
static double
s_topology_rings (const ff_task_t *task)
{
    const ff_array_t *array = ff_task_array (task, "topology");
    ff_topology_header_t header;
    if (!array || !array->data || array->size < sizeof (header))
        return 0;
    memcpy (&header, array->data, sizeof (header));
    return header.magic == FF_TOPOLOGY_MAGIC ? header.rings : 0;
}

double
ff_pistacking_cost (const ff_task_t *task)
{
    /* rings are sparse: about one per 70 atoms */
    return s_search_cost (s_topology_rings (task), S_STACK_MAX, S_DENSITY / 70);
}

int
ff_pistacking_run (const ff_task_t *task, ff_result_t *result)
{
    s_topology_t topology;
    bool by_residue;
    if (s_level_param (task, result, "pistacking", &by_residue) != 0
    ||  s_topology (task, result, "pistacking", 0, false, &topology) != 0)
        return -1;
    const ff_topology_t *view = &topology.view;
    size_t rings = view->header->rings;
    for (size_t index = 0; index < rings; index++) {
        const float *normal = view->rings [index].normal;
        double length = (double) normal [0] * normal [0]
                      + (double) normal [1] * normal [1]
                      + (double) normal [2] * normal [2];
        if (!isfinite (length) || length < 1e-12) {
            free (topology.copy);
            return s_error (result, "pistacking: ring %zu has no normal "
                            "(zero or not finite)", index);
        }
    }
    s_found_t found;
    memset (&found, 0, sizeof (found));
    found.keep = true;
    found.topology = view;
    found.row = S_ROW_STACKING;
    found.max_bytes = by_residue ? 0 : s_max_result (task);
    ff_pairs_status_t status = ff_pairs_search (view->rings [0].centroid,
                                                sizeof (ff_topology_ring_t) / sizeof (float),
                                                NULL, rings, S_STACK_MAX,
                                                s_stacking_visit, &found);
    int rc;
    if (status == FF_PAIRS_DONE) {
        if (by_residue)
            s_to_residues (&found, NULL, view, true);
        rc = s_write (result, "pistacking", "rings", rings, &found,
                      S_ROW_STACKING, by_residue ? view : NULL);
    }
    else
    if (found.too_large)
        rc = s_too_large (result, "pistacking", &found);
    else
        rc = s_pairs_failed (result, "pistacking", "rings", status);
    free (found.pairs);
    free (topology.copy);
    return rc;
}

/* -------------------------------------------------------------- kernels */

const ff_kernel_t ff_kernel_contacts = {
    FF_KERNEL_ABI, FF_KERNEL_JSON, "contacts",
    ff_contacts_cost, ff_contacts_run, NULL
};

const ff_kernel_t ff_kernel_hbonds = {
    FF_KERNEL_ABI, FF_KERNEL_JSON, "hbonds",
    ff_hbonds_cost, ff_hbonds_run, NULL
};

const ff_kernel_t ff_kernel_clashes = {
    FF_KERNEL_ABI, FF_KERNEL_JSON, "clashes",
    ff_clashes_cost, ff_clashes_run, NULL
};

const ff_kernel_t ff_kernel_pistacking = {
    FF_KERNEL_ABI, FF_KERNEL_JSON, "pistacking",
    ff_pistacking_cost, ff_pistacking_run, NULL
};
