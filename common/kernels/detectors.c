/*  fanfold structure detectors: contacts, hbonds, clashes, pistacking.
    Organised as: a JSON writer; array checks; the neighbour search (a
    sparse cell list shared by all four: points hashed into cells of the
    cutoff's size, each point compared with the 27 cells around its own);
    then each kernel's cost and run. Definitions: docs/DETECTORS.md. */

#include "fanfold/kernels/detectors.h"
#include "fanfold/kernels/structure.h"

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

#define S_HBOND_MIN 2.5             /* hbonds: shortest donor-acceptor */
#define S_HBOND_MAX 3.5             /* hbonds: longest donor-acceptor */
#define S_STACK_MAX 5.5             /* pistacking: longest centroid distance */

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

/* Called for each pair found, in order of i then j. Returns 0 or -1. */
typedef int (s_visit_fn) (void *context, uint32_t i, uint32_t j, double d2);

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

/* Visits every pair i < j of the points whose indices are in ids (all
   count points 0..count-1 when ids is NULL; ascending otherwise) with
   squared distance <= cutoff², computed in double. Point k is at
   points [k * stride]. Returns 0, -1 when memory runs out or visit fails,
   -2 when a point is not finite. */
static int
s_pairs (const float *points, size_t stride, const uint32_t *ids,
         size_t count, double cutoff, s_visit_fn *visit, void *context)
{
    if (count < 2)
        return 0;
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
                return -2;
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

    int rc = -1;
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
        if (near_count > 1)
            qsort (near, near_count, sizeof (s_near_t), s_near_compare);
        for (size_t k = 0; k < near_count; k++)
            if (visit (context, id, near [k].id, near [k].d2) != 0)
                goto done;
    }
    rc = 0;
done:
    free (slots);
    free (keys);
    free (cells);
    free (table);
    free (near);
    return rc;
}

/* Reports a failed s_pairs as an error result. */
static int
s_pairs_failed (ff_result_t *result, const char *kernel, const char *what,
                int rc)
{
    if (rc == -2)
        return s_error (result, "%s: \"%s\" holds a coordinate that is not "
                        "finite", kernel, what);
    return s_error (result, "%s: out of memory", kernel);
}

/* A growing list of found pairs: two indices and a distance. */
typedef struct {
    uint32_t a;                     /* first index (i, donor, ring a) */
    uint32_t b;                     /* second index (j, acceptor, ring b) */
    double d;                       /* distance, or 0 when not kept */
    double angle;                   /* pistacking: angle between normals */
} s_pair_t;

typedef struct {
    s_pair_t *pairs;                /* the pairs */
    size_t count;                   /* pairs found */
    size_t cap;                     /* allocated */
    bool keep;                      /* store the pairs, or only count them */
    const s_atoms_t *atoms;         /* the atoms searched */
    double limit2;                  /* clashes: min²; hbonds: shortest² */
    const float *rings;             /* pistacking: the rings */
} s_found_t;

static int
s_found_add (s_found_t *found, uint32_t a, uint32_t b, double d2)
{
    if (found->keep) {
        if (found->count == found->cap) {
            size_t cap = found->cap ? found->cap * 2 : 1024;
            s_pair_t *grown = (s_pair_t *) realloc (found->pairs,
                                                    cap * sizeof (s_pair_t));
            if (!grown)
                return -1;
            found->pairs = grown;
            found->cap = cap;
        }
        s_pair_t *pair = &found->pairs [found->count];
        pair->a = a;
        pair->b = b;
        pair->d = sqrt (d2);
        pair->angle = 0;
    }
    found->count++;
    return 0;
}

/* Writes {"<what>":n,"count":M,"pairs":[...]} with columns members per
   pair (2: a, b; 3: and d; 4: and angle). */
static int
s_write (ff_result_t *result, const char *kernel, const char *what, size_t n,
         const s_found_t *found, int columns)
{
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
            s_uint (&json, pair->a);
            s_put (&json, ",");
            s_uint (&json, pair->b);
            if (columns >= 3) {
                s_put (&json, ",");
                s_fixed (&json, pair->d);
            }
            if (columns >= 4) {
                s_put (&json, ",");
                s_fixed (&json, pair->angle);
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

/* ------------------------------------------------------------- contacts */

static int
s_contacts_visit (void *context, uint32_t i, uint32_t j, double d2)
{
    return s_found_add ((s_found_t *) context, i, j, d2);
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
    if (s_atoms (task, result, "contacts", false, &atoms) != 0
    ||  s_distance_param (task, result, "contacts", "cutoff", "4.0", &cutoff))
        return -1;
    const char *pairs = ff_task_param (task, "pairs", "1");
    if (strcmp (pairs, "0") != 0 && strcmp (pairs, "1") != 0)
        return s_error (result, "contacts: parameter pairs=%.64s is not 0 or 1",
                        pairs);
    s_found_t found;
    memset (&found, 0, sizeof (found));
    found.keep = strcmp (pairs, "1") == 0;
    int rc = s_pairs (atoms.coords, 3, NULL, atoms.atoms, cutoff,
                      s_contacts_visit, &found);
    if (rc == 0)
        rc = s_write (result, "contacts", "atoms", atoms.atoms, &found, 2);
    else
        rc = s_pairs_failed (result, "contacts", "coords", rc);
    free (found.pairs);
    return rc;
}

/* --------------------------------------------------------------- hbonds */

#define S_POLAR (FF_ATOM_N | FF_ATOM_O)
#define S_HBOND (FF_ATOM_DONOR | FF_ATOM_ACCEPTOR)

static int
s_hbonds_visit (void *context, uint32_t i, uint32_t j, double d2)
{
    s_found_t *found = (s_found_t *) context;
    const s_atoms_t *atoms = found->atoms;
    if (d2 < found->limit2 || atoms->residues [i] == atoms->residues [j])
        return 0;
    uint16_t fi = atoms->flags [i], fj = atoms->flags [j];
    if ((fi & FF_ATOM_DONOR) && (fj & FF_ATOM_ACCEPTOR)
    &&  s_found_add (found, i, j, d2) != 0)
        return -1;
    if ((fj & FF_ATOM_DONOR) && (fi & FF_ATOM_ACCEPTOR)
    &&  s_found_add (found, j, i, d2) != 0)
        return -1;
    return 0;
}

static int
s_pair_compare (const void *a, const void *b)
{
    const s_pair_t *left = (const s_pair_t *) a, *right = (const s_pair_t *) b;
    if (left->a != right->a)
        return left->a < right->a ? -1 : 1;
    return left->b < right->b ? -1 : left->b > right->b;
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
    if (s_atoms (task, result, "hbonds", true, &atoms) != 0)
        return -1;
    uint32_t *ids = (uint32_t *) malloc ((atoms.atoms ? atoms.atoms : 1)
                                         * sizeof (uint32_t));
    if (!ids)
        return s_error (result, "hbonds: out of memory");
    size_t count = 0;
    for (size_t atom = 0; atom < atoms.atoms; atom++)
        if ((atoms.flags [atom] & S_POLAR) && (atoms.flags [atom] & S_HBOND))
            ids [count++] = (uint32_t) atom;
    s_found_t found;
    memset (&found, 0, sizeof (found));
    found.keep = true;
    found.atoms = &atoms;
    found.limit2 = S_HBOND_MIN * S_HBOND_MIN;
    int rc = s_pairs (atoms.coords, 3, ids, count, S_HBOND_MAX,
                      s_hbonds_visit, &found);
    if (rc == 0) {
        if (found.count > 1)
            qsort (found.pairs, found.count, sizeof (s_pair_t), s_pair_compare);
        rc = s_write (result, "hbonds", "atoms", atoms.atoms, &found, 3);
    }
    else
        rc = s_pairs_failed (result, "hbonds", "coords", rc);
    free (found.pairs);
    free (ids);
    return rc;
}

/* -------------------------------------------------------------- clashes */

static int
s_clashes_visit (void *context, uint32_t i, uint32_t j, double d2)
{
    s_found_t *found = (s_found_t *) context;
    const s_atoms_t *atoms = found->atoms;
    uint32_t ri = atoms->residues [i], rj = atoms->residues [j];
    if (d2 >= found->limit2 || ri == rj)
        return 0;
    uint16_t fi = atoms->flags [i], fj = atoms->flags [j];
    if ((fi & FF_ATOM_BACKBONE_C) && (fj & FF_ATOM_BACKBONE_N) && rj == ri + 1)
        return 0;                   /* the peptide bond C(k)-N(k+1) */
    if ((fj & FF_ATOM_BACKBONE_C) && (fi & FF_ATOM_BACKBONE_N) && ri == rj + 1)
        return 0;
    return s_found_add (found, i, j, d2);
}

double
ff_clashes_cost (const ff_task_t *task)
{
    double limit = 3.0;
    double parsed = strtod (ff_task_param (task, "min", "3.0"), NULL);
    if (isfinite (parsed) && parsed >= 0)
        limit = parsed < 100 ? parsed : 100;
    return s_search_cost (s_rows (task, "coords"), limit, S_DENSITY);
}

int
ff_clashes_run (const ff_task_t *task, ff_result_t *result)
{
    s_atoms_t atoms;
    double limit;
    if (s_atoms (task, result, "clashes", true, &atoms) != 0
    ||  s_distance_param (task, result, "clashes", "min", "3.0", &limit))
        return -1;
    s_found_t found;
    memset (&found, 0, sizeof (found));
    found.keep = true;
    found.atoms = &atoms;
    found.limit2 = limit * limit;
    int rc = s_pairs (atoms.coords, 3, NULL, atoms.atoms, limit,
                      s_clashes_visit, &found);
    if (rc == 0)
        rc = s_write (result, "clashes", "atoms", atoms.atoms, &found, 3);
    else
        rc = s_pairs_failed (result, "clashes", "coords", rc);
    free (found.pairs);
    return rc;
}

/* ----------------------------------------------------------- pistacking */

static int
s_stacking_visit (void *context, uint32_t a, uint32_t b, double d2)
{
    s_found_t *found = (s_found_t *) context;
    if (s_found_add (found, a, b, d2) != 0)
        return -1;
    const float *na = found->rings + 6 * (size_t) a + 3;
    const float *nb = found->rings + 6 * (size_t) b + 3;
    double dot = 0, la = 0, lb = 0;
    for (int axis = 0; axis < 3; axis++) {
        dot += (double) na [axis] * nb [axis];
        la += (double) na [axis] * na [axis];
        lb += (double) nb [axis] * nb [axis];
    }
    double cosine = fabs (dot) / sqrt (la * lb);
    if (cosine > 1)
        cosine = 1;
    found->pairs [found->count - 1].angle = acos (cosine) * 180.0 / S_PI;
    return 0;
}

double
ff_pistacking_cost (const ff_task_t *task)
{
    /* rings are sparse: about one per 70 atoms */
    return s_search_cost (s_rows (task, "rings"), S_STACK_MAX, S_DENSITY / 70);
}

int
ff_pistacking_run (const ff_task_t *task, ff_result_t *result)
{
    size_t rings;
    const float *ring = (const float *) s_array (task, result, "pistacking",
                                                 "rings", FF_DTYPE_F32, 4, 6,
                                                 &rings);
    if (!ring)
        return -1;
    for (size_t index = 0; index < rings; index++) {
        const float *normal = ring + 6 * index + 3;
        double length = (double) normal [0] * normal [0]
                      + (double) normal [1] * normal [1]
                      + (double) normal [2] * normal [2];
        if (!isfinite (length) || length < 1e-12)
            return s_error (result, "pistacking: ring %zu has no normal "
                            "(zero or not finite)", index);
    }
    s_found_t found;
    memset (&found, 0, sizeof (found));
    found.keep = true;
    found.rings = ring;
    int rc = s_pairs (ring, 6, NULL, rings, S_STACK_MAX, s_stacking_visit,
                      &found);
    if (rc == 0)
        rc = s_write (result, "pistacking", "rings", rings, &found, 4);
    else
        rc = s_pairs_failed (result, "pistacking", "rings", rc);
    free (found.pairs);
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
