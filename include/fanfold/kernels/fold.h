/*  fanfold folding: turns the partial results of a chunked input back into
    one result per input and kernel, merging them in seq order with the
    kernel's fold function, so the figures do not depend on which worker
    finished first. Shared by the sink and --serial. */

#ifndef FANFOLD_FOLD_H
#define FANFOLD_FOLD_H

#include <stdint.h>

#include "fanfold/runtime/codec.h"
#include "fanfold/kernel.h"
#include "fanfold/job/output.h"

typedef struct ff_folder ff_folder_t;

/* Creates a folder. NULL when memory runs out. */
ff_folder_t *
    ff_folder_new (void);

/* Destroys the folder; NULLs the pointer; safe on NULL. */
void
    ff_folder_destroy (ff_folder_t **self_p);

/* Offers record, the result of chunk of chunks of its input, for kernel
   (index kernel_index in the job; NULL or no fold: nothing to fold). Call
   in seq order. Returns 1 with *out set when a record is ready to write
   (record itself, or the folded one, valid until the next call), or 0
   when the record was absorbed into a fold still waiting for chunks. */
int
    ff_folder_take (ff_folder_t *self, const ff_kernel_t *kernel,
                    uint32_t kernel_index, const ff_record_t *record,
                    uint32_t chunk, uint32_t chunks, ff_record_t *out);

/* Writes the folds under way (a chunk taken, the last not yet) into out
   as text, one line per fold starting "fold ", for the resume state; ""
   when none. Returns the length written, or -1 when it does not fit in
   size bytes. */
int
    ff_folder_save (ff_folder_t *self, char *out, size_t size);

/* Restores folds under way from text written by ff_folder_save, so that
   a resumed job goes on with the next chunk. Returns 0, or -1 when the
   text is malformed (folds read before the fault are kept). */
int
    ff_folder_load (ff_folder_t *self, const char *text);

#endif
