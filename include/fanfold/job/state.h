/*  fanfold resume state: how far a job's output file is complete, kept in a
    small file next to it (OUTPUT.fanfold-state). It is replaced atomically
    (write a temporary file, fsync, rename, fsync the directory), and only
    after the output itself was synced, so a crash at any instant leaves a
    state that never claims more than the output holds. */

#ifndef FANFOLD_STATE_H
#define FANFOLD_STATE_H

#include <stddef.h>
#include <stdint.h>

#define FF_STATE_SUFFIX ".fanfold-state"

/* Bytes of partial folds a state file holds at most (a checkpoint whose
   folds would not fit is not made). */
#define FF_STATE_MAX_FOLDS 16384

typedef struct {
    char signature [80];            /* what job this is (options, inputs) */
    uint64_t written;               /* results written: seqs 0 .. written-1 */
    uint64_t bytes;                 /* output bytes those results take */
    uint64_t errors;                /* error records among them */
    uint64_t failed;                /* failed commands among the errors */
    int marked;                     /* 1: input_seq and input_hash are set */
    uint64_t input_seq;             /* the input mark: the records that gave the
                                       tasks below this seq (>= written) ... */
    uint64_t input_hash;            /* ... hash to this (ff_producer_hash) */
    char folds [FF_STATE_MAX_FOLDS]; /* folds under way at written, as lines that
                                       start "fold " (ff_folder_save), or "" */
} ff_state_t;

/* Reads the state file at path (a file without the failed line, the
   input line or fold lines, as older ones, has none). Returns 0, or -1 with errno (ENOENT:
   no state; EINVAL: not a state file). */
int
    ff_state_load (const char *path, ff_state_t *state);

/* Replaces the state file at path atomically and durably. Returns 0, or
   -1 with errno. */
int
    ff_state_save (const char *path, const ff_state_t *state);

/* Writes the state file name for output into path. Returns 0, or -1 when
   it does not fit. */
int
    ff_state_path (const char *output, char *path, size_t size);

#endif
