/*  fanfold array sources: map a .npy in place (no copy: the file on disk
    is already memory every process can share), or load a structure once
    into shared memory or process memory, and hand out the slices of each
    task. */

#include "fanfold/kernels/source.h"
#include "fanfold/kernels/npy.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/kernels/structure.h"
#include "fanfold/runtime/codec.h"

/* a task carries every array of one source */
_Static_assert (FF_SOURCE_MAX_ARRAYS == FF_MAX_ARRAYS, "a task must hold every array of a source");

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct ff_source {
    size_t refs;                    /* holders; the last one destroys it */
    int is_npy;                     /* a .npy (else a structure) */
    size_t narrays;                 /* arrays held */
    ff_array_t arrays [FF_SOURCE_MAX_ARRAYS]; /* their description, data here */
    ff_shm_t *segments [FF_SOURCE_MAX_ARRAYS]; /* their segments, or NULL */
    ff_shm_t *file;                 /* .npy: the file mapped in place */
    uint64_t data_offset;           /* .npy: file offset of the first element */
    uint8_t *heap [FF_SOURCE_MAX_ARRAYS]; /* or their memory */
    size_t itemsize;                /* .npy: bytes per element */
    uint64_t count;                 /* .npy: elements */
    uint64_t bytes;                 /* bytes of every array */
};

static int
s_ends_with (const char *text, const char *suffix)
{
    size_t len = strlen (text), slen = strlen (suffix);
    return len >= slen && strcmp (text + len - slen, suffix) == 0;
}

static int
s_is_directory (const char *path)
{
    struct stat info;
    return stat (path, &info) == 0 && S_ISDIR (info.st_mode);
}

int
ff_source_recognises (const char *path)
{
    /* a directory is claimed too, so that its task says what it is */
    return s_ends_with (path, ".npy") || ff_structure_recognises (path) || s_is_directory (path);
}

/* Names a file by path, size and time, so that two jobs' segments differ. */
static uint64_t
s_file_hash (const char *path)
{
    struct stat info;
    uint64_t hash = 0xcbf29ce484222325ull;
    const unsigned char *at;
    for (at = (const unsigned char *) path; *at; at++)
        hash = (hash ^ *at) * 0x100000001b3ull;
    if (stat (path, &info) == 0) {
        hash = (hash ^ (uint64_t) info.st_size) * 0x100000001b3ull;
        hash = (hash ^ (uint64_t) info.st_mtime) * 0x100000001b3ull;
        hash = (hash ^ (uint64_t) info.st_ino) * 0x100000001b3ull;
    }
    return hash;
}

/* Makes room for array index of size bytes: a segment or heap memory. */
static uint8_t *
s_room (ff_source_t *self, size_t index, size_t size, const char *prefix,
        const char *path, unsigned n, char *error, size_t error_size)
{
    if (!prefix) {
        self->heap [index] = (uint8_t *) malloc (size? size: 1);
        if (!self->heap [index])
            snprintf (error, error_size, "%s: out of memory for %zu bytes", path, size);
        return self->heap [index];
    }
    char name [FF_SHM_NAME_MAX];
    snprintf (name, sizeof (name), "%s%016" PRIx64 "_%u_%s", prefix, s_file_hash (path), n,
              self->arrays [index].name);
    self->segments [index] = ff_shm_create (name, size);
    if (!self->segments [index]) {
        snprintf (error, error_size, "%s: cannot create shared memory %s (%zu bytes): %s",
                  path, name, size, strerror (errno));
        return NULL;
    }
    /* an empty array has no mapping, but is not a failure */
    return size? ff_shm_data (self->segments [index]): (uint8_t *) "";
}

/* Maps the .npy at path in place, read-only, whatever prefix says: its
   handle names the file (by absolute path and identity) to workers. */
static int
s_load_npy (ff_source_t *self, const char *path, char *error, size_t error_size)
{
    ff_npy_t npy, mapped;
    ff_shm_file_id_t id;
    if (ff_npy_read (path, &npy, error, error_size))
        return -1;
    char *real = realpath (path, NULL);
    if (!real) {
        snprintf (error, error_size, "%s: cannot resolve the path: %s", path, strerror (errno));
        return -1;
    }
    self->file = ff_shm_map_file (real, NULL, &id, error, error_size);
    free (real);
    if (!self->file)
        return -1;
    /* the header again, from the mapping: the file read is the file mapped */
    size_t size = ff_shm_size (self->file);
    if (size < npy.offset
    ||  ff_npy_parse (ff_shm_data (self->file), (size_t) npy.offset, size, path, &mapped,
                      NULL, 0)
    ||  mapped.offset != npy.offset || mapped.bytes != npy.bytes || mapped.dtype != npy.dtype) {
        snprintf (error, error_size, "%s: changed while it was being read", path);
        return -1;
    }
    self->is_npy = 1;
    self->narrays = 1;
    self->itemsize = npy.itemsize;
    self->count = npy.count;
    ff_array_t *array = &self->arrays [0];
    array->name = "data";
    array->dtype = npy.dtype;
    array->ndim = npy.ndim;
    memcpy (array->shape, npy.shape, sizeof (array->shape));
    array->size = (size_t) npy.bytes;
    array->data = ff_shm_data (self->file) + npy.offset;
    self->data_offset = npy.offset;
    return 0;
}

static int
s_load_structure (ff_source_t *self, const char *path, const char *prefix, unsigned n,
                  char *error, size_t error_size)
{
    const ff_array_t *arrays;
    ff_structure_t *structure = ff_structure_load (path, error, error_size);
    if (!structure)
        return -1;
    size_t count = ff_structure_arrays (structure, &arrays), index;
    if (count > FF_SOURCE_MAX_ARRAYS)
        count = FF_SOURCE_MAX_ARRAYS;
    for (index = 0; index < count; index++) {
        self->arrays [index] = arrays [index];
        uint8_t *data = s_room (self, index, arrays [index].size, prefix, path, n,
                                error, error_size);
        if (!data) {
            ff_structure_destroy (&structure);
            return -1;
        }
        if (arrays [index].size)
            memcpy (data, arrays [index].data, arrays [index].size);
        self->arrays [index].data = data;
        self->narrays = index + 1;
    }
    ff_structure_destroy (&structure);
    return 0;
}

ff_source_t *
ff_source_load (const char *path, const char *prefix, unsigned n,
                char *error, size_t error_size)
{
    ff_source_t *self = (ff_source_t *) calloc (1, sizeof (ff_source_t));
    size_t index;
    if (!self) {
        snprintf (error, error_size, "%s: out of memory", path);
        return NULL;
    }
    self->refs = 1;
    if (s_is_directory (path)) {
        snprintf (error, error_size, "%s: is a directory", path);
        ff_source_destroy (&self);
        return NULL;
    }
    int rc = s_ends_with (path, ".npy")
           ? s_load_npy (self, path, error, error_size)
           : s_load_structure (self, path, prefix, n, error, error_size);
    if (rc) {
        ff_source_destroy (&self);
        return NULL;
    }
    for (index = 0; index < self->narrays; index++) {
        self->bytes += self->arrays [index].size;
        if (self->segments [index])
            ff_shm_seal (self->segments [index]);
    }
    return self;
}

void
ff_source_destroy (ff_source_t **self_p)
{
    ff_source_unref (self_p);
}

ff_source_t *
ff_source_ref (ff_source_t *self)
{
    assert (self && self->refs > 0);
    self->refs++;
    return self;
}

size_t
ff_source_refs (ff_source_t *self)
{
    return self->refs;
}

void
ff_source_unref (ff_source_t **self_p)
{
    if (self_p && *self_p) {
        ff_source_t *self = *self_p;
        size_t index;
        *self_p = NULL;
        assert (self->refs > 0);
        if (--self->refs > 0)
            return;
        for (index = 0; index < FF_SOURCE_MAX_ARRAYS; index++) {
            ff_shm_destroy (&self->segments [index], 1);
            free (self->heap [index]);
        }
        ff_shm_destroy (&self->file, 0);
        free (self);
    }
}

uint64_t
ff_source_bytes (ff_source_t *self)
{
    return self->bytes;
}

/* Elements per chunk of about chunk_bytes (at least one). */
static uint64_t
s_per_chunk (ff_source_t *self, uint64_t chunk_bytes)
{
    uint64_t per = chunk_bytes / self->itemsize;
    return per? per: 1;
}

uint32_t
ff_source_chunks (ff_source_t *self, uint64_t chunk_bytes)
{
    if (!self->is_npy || chunk_bytes == 0 || self->count == 0)
        return 1;
    uint64_t per = s_per_chunk (self, chunk_bytes);
    uint64_t chunks = (self->count + per - 1) / per;
    return chunks > UINT32_MAX? UINT32_MAX: (uint32_t) chunks;
}

size_t
ff_source_slices (ff_source_t *self, uint64_t chunk_bytes, uint32_t index,
                  ff_slice_t *slices)
{
    size_t array;
    for (array = 0; array < self->narrays; array++) {
        slices [array].array = self->arrays [array];
        slices [array].segment = self->segments [array]? ff_shm_name (self->segments [array])
                               : self->file? ff_shm_name (self->file): "";
        slices [array].offset = self->file? self->data_offset: 0;
    }
    if (self->is_npy && ff_source_chunks (self, chunk_bytes) > 1) {
        /* a chunk is a flat slice of the elements */
        uint64_t per = s_per_chunk (self, chunk_bytes);
        uint64_t first = (uint64_t) index * per;
        uint64_t count = first + per > self->count? self->count - first: per;
        ff_array_t *slice = &slices [0].array;
        slice->ndim = 1;
        memset (slice->shape, 0, sizeof (slice->shape));
        slice->shape [0] = count;
        slices [0].offset = self->data_offset + first * self->itemsize;
        slice->data = (const uint8_t *) self->arrays [0].data + first * self->itemsize;
        slice->size = (size_t) (count * self->itemsize);
    }
    return self->narrays;
}
