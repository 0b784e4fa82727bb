/*  fanfold shared memory: read-only segments that carry a job's arrays from
    the ventilator to the workers on its host, so that a task names a
    segment, an offset and a length instead of carrying the bytes.
    Names: ff_<uid>_<job>_<pid>_<hash>_<kind> (pid: the owner's, the
    process that made it or reads it last, so that `fanfold clean` can
    tell a dead owner's segments). Segments are
    created 0600 with O_EXCL, filled once, then only read. A name that
    comes from a peer is checked (prefix, characters, owner, mode, size)
    before it is mapped. A .npy on disk is not copied into a segment: it
    is mapped read-only in place, and named to workers by a file handle
    ("file:DEV:INO:SIZE:MTIME_NS:/absolute/path") that carries the file's
    identity, checked again by whoever maps it. */

#ifndef FANFOLD_SHM_H
#define FANFOLD_SHM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <time.h>

#define FF_SHM_NAME_MAX 128
#define FF_SHM_OWNER_SLACK_S 2.0    /* an owner that started this much after its
                                       segment's ctime still owns it (a clock step) */
#define FF_SHM_FILE_PREFIX "file:"  /* how a file handle starts */
#define FF_SHM_HANDLE_MAX 4200      /* longest file handle text, with its NUL */
_Static_assert (FF_SHM_HANDLE_MAX > 4096 + 5 + 4 * 21, "a file handle holds any path");

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

/* The identity of a file: while all four agree it is the same file with
   the same bytes (as far as the file system says). */
typedef struct {
    uint64_t dev;                   /* st_dev */
    uint64_t ino;                   /* st_ino */
    uint64_t size;                  /* st_size, bytes */
    int64_t mtime_ns;               /* st_mtim in ns since the epoch */
} ff_shm_file_id_t;

/* Maps the regular file at path read-only in place, whole. Opens it with
   O_NOFOLLOW (and O_NONBLOCK, so that a FIFO cannot hang the open), checks
   before mapping that it is a regular file whose identity is *expect (when
   expect is not NULL), and after mapping that neither the open file nor
   the file the path names changed. Fills *id. The mapping's name
   (ff_shm_name) is its file handle. Returns NULL with a message naming the
   file in error. ff_shm_destroy never removes the file. */
ff_shm_t *
    ff_shm_map_file (const char *path, const ff_shm_file_id_t *expect,
                     ff_shm_file_id_t *id, char *error, size_t error_size);

/* Writes the file handle of path (absolute) with identity id into out:
   "file:DEV:INO:SIZE:MTIME_NS:PATH". Returns 0, or -1 when path is not
   absolute or the text does not fit in size or FF_SHM_HANDLE_MAX. */
int
    ff_shm_file_handle (const char *path, const ff_shm_file_id_t *id,
                        char *out, size_t size);

/* Reads a file handle of len bytes (not NUL-terminated) into *id and
   path (NUL-terminated, path_size bytes at most). Returns 0, or -1 when
   text is not exactly that form: the prefix, four decimals, an absolute
   path, no NUL byte. */
int
    ff_shm_file_handle_parse (const char *text, size_t len, ff_shm_file_id_t *id,
                              char *path, size_t path_size);

/* Returns the mapped bytes (writable only for a segment being created). */
uint8_t *
    ff_shm_data (ff_shm_t *self);

/* Returns the segment's size in bytes. */
size_t
    ff_shm_size (ff_shm_t *self);

/* Returns the segment's name, or a mapped file's handle. */
const char *
    ff_shm_name (ff_shm_t *self);

/* Makes a created segment read-only from now on. Returns 0 or -1. */
int
    ff_shm_seal (ff_shm_t *self);

/* Returns 1 when process pid runs and started no later than made (the
   ctime of a segment that names it as owner, give or take
   FF_SHM_OWNER_SLACK_S), 0 when it is gone, a zombie, or a later process
   that reuses the pid. */
int
    ff_shm_owner_live (pid_t pid, const struct timespec *made);

/* Removes this user's segments ff_<uid>_<job>_<pid>_... whose owner <pid>
   is gone (ff_shm_owner_live), whatever program it runs: a ventilator, a
   `fanfold submit`, a Python client or worker; or, with job != NULL, every
   segment of that job. Returns how many. */
int
    ff_shm_clean (const char *job);

#endif
