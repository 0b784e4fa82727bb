/*  fanfold shared memory: read-only segments that carry a job's arrays from
    the ventilator to the workers on its host, so that a task names a
    segment, an offset and a length instead of carrying the bytes.
    Names: ff_<uid>_<job>_<pid>_<hash>_<kind> (pid: the ventilator's, so
    that `fanfold clean` can tell a dead job's segments). Segments are
    created 0600 with O_EXCL, filled once, then only read. A name that
    comes from a peer is checked (prefix, characters, owner, mode, size)
    before it is mapped. */

#ifndef FANFOLD_SHM_H
#define FANFOLD_SHM_H

#include <stddef.h>
#include <stdint.h>

#define FF_SHM_NAME_MAX 128

typedef struct ff_shm ff_shm_t;

/* Writes the name prefix of a job's segments, "ff_<uid>_<job>_", into out. */
void
    ff_shm_job_prefix (const char *job, char *out, size_t size);

/* Creates segment name (without the leading '/') of size bytes, 0600,
   O_EXCL, mapped read-write for filling. Returns NULL with errno. */
ff_shm_t *
    ff_shm_create (const char *name, size_t size);

/* Opens and maps read-only segment name, after checking that it starts
   with prefix, has no '/', belongs to this user with mode 0600, and holds
   at least min_size bytes. Returns NULL with a message in error. */
ff_shm_t *
    ff_shm_open (const char *name, const char *prefix, size_t min_size,
                 char *error, size_t error_size);

/* Unmaps and closes; with unlink, also removes the name. NULLs the
   pointer; safe on NULL. */
void
    ff_shm_destroy (ff_shm_t **self_p, int unlink);

/* Returns the mapped bytes (writable only for a segment being created). */
uint8_t *
    ff_shm_data (ff_shm_t *self);

/* Returns the segment's size in bytes. */
size_t
    ff_shm_size (ff_shm_t *self);

/* Returns the segment's name. */
const char *
    ff_shm_name (ff_shm_t *self);

/* Makes a created segment read-only from now on. Returns 0 or -1. */
int
    ff_shm_seal (ff_shm_t *self);

/* Removes this user's segments whose ventilator process is gone (or, with
   job != NULL, every segment of that job). Returns how many. */
int
    ff_shm_clean (const char *job);

#endif
