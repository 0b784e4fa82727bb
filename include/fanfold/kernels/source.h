/*  fanfold array sources: one input file (.npy, or a structure: .pdb,
    .pdb.gz, .ent, .cif, .xyz) loaded once into arrays. A .npy is mapped
    read-only in place (its slices name the file by a file handle, see
    shm.h); a structure is parsed into shared-memory segments (for the
    ventilator and its workers) or into this process's memory (for
    --serial). A source is shared by reference count among the tasks that
    refer to it, and cut into tasks: a .npy into chunks of about chunk
    bytes over slices of the file, a structure into one task over its four
    arrays (coords, flags, residues, topology). */

#ifndef FANFOLD_SOURCE_H
#define FANFOLD_SOURCE_H

#include <stddef.h>
#include <stdint.h>

#include "fanfold/kernel.h"

#define FF_SOURCE_MAX_ARRAYS 4

typedef struct ff_source ff_source_t;

/* One array of one task: the array (data valid in this process) and where
   it lives in shared memory. */
typedef struct {
    ff_array_t array;               /* name, dtype, shape, data, size */
    const char *segment;            /* segment name, a .npy's file handle,
                                       or "" in process memory */
    uint64_t offset;                /* byte offset of data in the segment
                                       or the file */
} ff_slice_t;

/* Returns 1 when path names a file that ff_source_load reads, or a
   directory (which ff_source_load refuses as such). */
int
    ff_source_recognises (const char *path);

/* Loads path. A .npy is mapped in place whatever prefix is, after its
   header is checked. A structure's arrays go, with prefix
   ("ff_<uid>_<job>_<pid>_"), into new segments named
   prefix<hash>_<n>_<kind>; with NULL, into memory. Returns NULL with a
   message naming the file (and line) in error. */
ff_source_t *
    ff_source_load (const char *path, const char *prefix, unsigned n,
                    char *error, size_t error_size);

/* Drops one reference to the source (ff_source_load gives the first); the
   last one unmaps the arrays and removes the segments. NULLs the pointer;
   safe on NULL. The same as ff_source_unref, for an owner that never
   shared the source. */
void
    ff_source_destroy (ff_source_t **self_p);

/* Takes one more reference to the source, for a holder that keeps it
   (a task that refers to its arrays). Returns self. */
ff_source_t *
    ff_source_ref (ff_source_t *self);

/* Drops the reference held at *self_p and NULLs it; the last reference
   destroys the source. Safe on NULL. */
void
    ff_source_unref (ff_source_t **self_p);

/* Returns the references held (at least 1 while the source exists). */
size_t
    ff_source_refs (ff_source_t *self);

/* Returns the number of tasks the source makes with chunks of chunk_bytes
   (0: one task for the whole array). */
uint32_t
    ff_source_chunks (ff_source_t *self, uint64_t chunk_bytes);

/* Fills slices (at most FF_SOURCE_MAX_ARRAYS) for chunk index of
   ff_source_chunks (chunk_bytes) and returns how many. */
size_t
    ff_source_slices (ff_source_t *self, uint64_t chunk_bytes, uint32_t index,
                      ff_slice_t *slices);

/* Returns the bytes the source's arrays take. */
uint64_t
    ff_source_bytes (ff_source_t *self);

#endif
