/*  fanfold kernel registry: the built-in kernels (noop, sleep, spin) and a
    job's kernel list resolved by name, shared by workers and --serial. */

#ifndef FANFOLD_KERNELS_H
#define FANFOLD_KERNELS_H

#include <stddef.h>

#include "fanfold/kernel.h"

/* Parses a kernel parameter as a finite number >= 0. Returns 0, or -1. */
int
    ff_parse_number (const char *text, double *value);

/* Returns the built-in kernel called name, or NULL. */
const ff_kernel_t *
    ff_kernels_find (const char *name);

/* Checks the count kernels a plugin at path offers, before any is
   registered: each has this FF_KERNEL_ABI, a name and a run function.
   Sets *fresh to how many names are new (a known name keeps its kernel).
   Returns 0, or -1 with a message naming path and the kernel in error. */
int
    ff_kernels_validate (const char *path, const ff_kernel_t *kernels, size_t count,
                         size_t *fresh, char *error, size_t error_size);

/* Loads the kernels of the plugin at path (a shared library exporting
   FF_PLUGIN_SYMBOL); ff_kernels_find finds them after the built-ins.
   All or nothing: when one kernel is refused, none is registered and the
   library is closed. Returns 0, or -1 with a message naming path in
   error. */
int
    ff_kernels_load (const char *path, char *error, size_t error_size);

/* Writes the names of every known kernel, comma-separated, into out. */
void
    ff_kernels_list (char *out, size_t size);

/* Returns the built-in kernels and sets *count. */
const ff_kernel_t *
    ff_kernels_builtin (size_t *count);

/* Splits a comma-separated kernel list into names[] (at most max, each a
   new string the caller frees). Returns the count, or -1 when the list is
   empty, has an empty name or has more than max names. */
int
    ff_kernels_split (const char *list, char **names, size_t max);

/* Runs kernel on task into out (cleared first). Returns 0 or -1 like
   ff_kernel_t.run; an unknown kernel (NULL) is an error result. */
int
    ff_kernels_run (const ff_kernel_t *kernel, const ff_task_t *task,
                    ff_result_t *out);

/* Frees the buffers of result that grew past keep bytes, so that one huge
   result does not pin memory; the others are kept for reuse. */
void
    ff_result_reset (ff_result_t *result, size_t keep);

#endif
