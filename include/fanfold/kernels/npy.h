/*  fanfold .npy headers: reads the header of a NumPy .npy file (format
    versions 1.0, 2.0 and 3.0) and says where its data is. Only what
    fanfold's array kernels read is accepted: little-endian (or '|') ints
    i1..i8, u1..u8 and floats f4, f8, C order, at most FF_MAX_DIMS dims. */

#ifndef FANFOLD_NPY_H
#define FANFOLD_NPY_H

#include <stddef.h>
#include <stdint.h>

#include "fanfold/kernel.h"

/* What a .npy header says. */
typedef struct {
    uint8_t major;                  /* format version: 1, 2 or 3 */
    uint8_t minor;                  /* 0 */
    ff_dtype_t dtype;               /* element type */
    size_t itemsize;                /* bytes per element */
    uint32_t ndim;                  /* dimensions, 1..FF_MAX_DIMS; a 0-d
                                       array reads as shape (1,) */
    uint64_t shape [FF_MAX_DIMS];   /* extent of each dimension */
    uint64_t count;                 /* elements: the product of shape */
    uint64_t offset;                /* file offset of the first element */
    uint64_t bytes;                 /* data bytes: count * itemsize */
} ff_npy_t;

/* Parses the .npy header at the start of buffer, which holds size bytes
   of the file (the whole of it when file_size is 0; file_size > size says
   the buffer holds only the first size bytes of a longer file). name is
   used in messages. Returns 0 and fills *npy, or -1 with a one-line
   message naming the file in error: bad magic, unknown version, truncated
   or malformed header, unsupported dtype (big-endian, bool, complex,
   strings, objects, structured, half), fortran_order True, more than
   FF_MAX_DIMS dimensions, or fewer data bytes than the shape needs. */
int
    ff_npy_parse (const void *buffer, size_t size, uint64_t file_size,
                  const char *name, ff_npy_t *npy,
                  char *error, size_t error_size);

/* Reads the header of the .npy file at path (the data is not read) and
   checks the file holds all the data. Returns 0 or -1 with a message
   naming the file in error, as ff_npy_parse, or for an unreadable file. */
int
    ff_npy_read (const char *path, ff_npy_t *npy,
                 char *error, size_t error_size);

/* Returns numpy's name of dtype ("f8", "u2", ...), or "?". */
const char *
    ff_npy_dtype_name (ff_dtype_t dtype);

/* Returns the size in bytes of one element of dtype, or 0 for NONE. */
size_t
    ff_npy_dtype_size (ff_dtype_t dtype);

#endif
