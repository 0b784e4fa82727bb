/*  fanfold array kernels: the structure detectors (contacts, hbonds,
    clashes, pistacking; common/kernels/detectors.c) and array statistics (stats;
    common/kernels/stats.c). They read the task's arrays ("coords", "flags",
    "residues", "topology" as made by fanfold/structure.h, or "data") and
    write a JSON object. docs/DETECTORS.md defines each one exactly. */

#ifndef FANFOLD_DETECTORS_H
#define FANFOLD_DETECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "fanfold/kernel.h"

/* The outcome of a neighbour search. */
typedef enum {
    FF_PAIRS_DONE = 0,              /* every pair was visited */
    FF_PAIRS_STOPPED,               /* the visit function asked to stop */
    FF_PAIRS_NO_MEMORY,             /* an allocation failed */
    FF_PAIRS_NOT_FINITE             /* a point has a coordinate not finite */
} ff_pairs_status_t;

/* Called for each pair found, in order of i then j, with the squared
   distance. Returns 0 to go on, -1 to stop the search. */
typedef int (ff_pairs_visit_fn) (void *context, uint32_t i, uint32_t j,
                                 double d2);

/* Visits every pair i < j of the points whose indices are in ids (all of
   0..count-1 when ids is NULL; ids ascending otherwise) with squared
   distance <= cutoff², computed in double; point k is at
   points [k * stride]. Memory O(count) whatever the spread. */
ff_pairs_status_t
    ff_pairs_search (const float *points, size_t stride, const uint32_t *ids,
                     size_t count, double cutoff, ff_pairs_visit_fn *visit,
                     void *context);

/* The kernels, for plugins and direct calls. All are FF_KERNEL_JSON; only
   stats has a fold. A task whose arrays are missing, of the wrong dtype or
   shape, shorter than their shape, or hold non-finite coordinates, and a
   bad parameter, give an error result (run returns -1), never a crash. */
extern const ff_kernel_t ff_kernel_contacts;
extern const ff_kernel_t ff_kernel_hbonds;
extern const ff_kernel_t ff_kernel_clashes;
extern const ff_kernel_t ff_kernel_pistacking;
extern const ff_kernel_t ff_kernel_stats;

/* contacts: pairs i < j of atoms with distance <= cutoff= (default 4.0).
   Result {"atoms":N,"count":M,"pairs":[[i,j],...]}, sorted; with pairs=0
   {"atoms":N,"count":M}. Cost: atoms plus expected pairs. */
double
    ff_contacts_cost (const ff_task_t *task);
int
    ff_contacts_run (const ff_task_t *task, ff_result_t *result);

/* hbonds: donor/acceptor N and O atoms of different residues, 2.5 to 3.5
   apart, with every heavy atom bonded to either at 90° or more from the
   other, or D-H...A >= 120° when the donor has explicit hydrogens. Result
   {"atoms":N,"count":M,"pairs":[[donor,acceptor,d],...]} sorted by donor
   then acceptor, d with 3 decimals. Every detector takes level=residue
   (pairs of ["chain",number,"icode","name"] instead of indices). */
double
    ff_hbonds_cost (const ff_task_t *task);
int
    ff_hbonds_run (const ff_task_t *task, ff_result_t *result);

/* clashes: pairs of atoms more than three bonds apart whose van der Waals
   spheres overlap by overlap= (default 0.4) or more, possible hydrogen
   bonds aside. Result {"atoms":N,"count":M,"pairs":[[i,j,d,overlap],...]},
   i < j, sorted. */
double
    ff_clashes_cost (const ff_task_t *task);
int
    ff_clashes_run (const ff_task_t *task, ff_result_t *result);

/* pistacking: pairs a < b of aromatic rings of different residues that
   stack by PLIP's criteria (centroids 0.5 to 5.5 apart, offset under 2.0,
   planes within 30° of parallel or of perpendicular). Result
   {"rings":R,"count":M,"pairs":[[a,b,d,angle,offset,"parallel"|"tshape"],...]}. */
double
    ff_pistacking_cost (const ff_task_t *task);
int
    ff_pistacking_run (const ff_task_t *task, ff_result_t *result);

/* stats: over the array "data" (any dtype, any shape; a chunk of a larger
   array is fine). Result {"count":N,"sum":S,"min":A,"max":B,"mean":M,
   "std":D,"m2":Q,"dtype":"f8"}: doubles as %.17g, min and max of integer
   dtypes as exact integers, std the population standard deviation, m2 the
   sum of squared deviations from the mean (what the fold needs). A figure
   that is not finite (NaN, infinity), and min, max, mean and std of an
   empty array, are null. Cost: bytes. m2 is summed block by block, of
   FF_STATS_BLOCK elements from the start of the data (common/kernels/stats.c
   says why that count). */
#define FF_STATS_BLOCK 4000

double
    ff_stats_cost (const ff_task_t *task);
int
    ff_stats_run (const ff_task_t *task, ff_result_t *result);

/* Merges the stats result of the next chunk (partial) into acc: copies it
   when acc is empty, else combines them with the parallel formulas of Chan
   et al. (see docs/DETECTORS.md). Returns 0, or -1 leaving acc as it was
   when partial (or acc) is not a stats result or the dtypes differ. */
int
    ff_stats_fold (ff_buf_t *acc, const uint8_t *partial, size_t size);

/* Entries for a kernel table initialiser (a const struct cannot be copied
   into a static initialiser in C, hence the functions above). */
#define FF_DETECTORS_KERNELS \
    { FF_KERNEL_ABI, FF_KERNEL_JSON | FF_KERNEL_ARRAYS, "stats", ff_stats_cost, ff_stats_run, \
      ff_stats_fold }, \
    { FF_KERNEL_ABI, FF_KERNEL_JSON | FF_KERNEL_ARRAYS, "contacts", ff_contacts_cost, \
      ff_contacts_run, NULL }, \
    { FF_KERNEL_ABI, FF_KERNEL_JSON | FF_KERNEL_ARRAYS, "hbonds", ff_hbonds_cost, \
      ff_hbonds_run, NULL }, \
    { FF_KERNEL_ABI, FF_KERNEL_JSON | FF_KERNEL_ARRAYS, "clashes", ff_clashes_cost, \
      ff_clashes_run, NULL }, \
    { FF_KERNEL_ABI, FF_KERNEL_JSON | FF_KERNEL_ARRAYS, "pistacking", ff_pistacking_cost, \
      ff_pistacking_run, NULL }

#endif
