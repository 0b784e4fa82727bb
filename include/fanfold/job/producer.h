/*  fanfold producer: the inputs of a job, one unit at a time, in order.
    A unit is one positional argument, one --pipe block of whole lines,
    one intake record, or one chunk of an array source (a .npy or a
    structure, loaded once). The caller numbers the tasks: it makes one
    task per kernel of each unit, input-major, and skips what a resumed
    job had written. The producer owns no socket and never blocks: with
    --pipe it says when it needs input (FF_PRODUCE_WAIT) and reads once
    per ff_producer_fill, so a blocking descriptor (--serial) and a
    polled one (the ventilator) give the same units. */

#ifndef FANFOLD_PRODUCER_H
#define FANFOLD_PRODUCER_H

#include <stddef.h>
#include <stdint.h>

#include "fanfold/job/reader.h"
#include "fanfold/kernels/source.h"

/* Input names are cut to this size, NUL included: block names and intake
   names (an intake name of this length or more becomes "intake:N"). */
#define FF_PRODUCER_NAME_MAX 512

/* Room for the text of a source that failed to load, or of an error. */
#define FF_PRODUCER_ERROR_MAX 640

typedef struct ff_producer ff_producer_t;

/* What a unit carries. */
typedef enum {
    FF_UNIT_INLINE = 0,             /* bytes: an argument (its text), a
                                       record block, an intake record */
    FF_UNIT_ARRAYS,                 /* one chunk of a loaded array source */
    FF_UNIT_FAILED                  /* an array source that did not load:
                                       its tasks are error records whose
                                       text is failure */
} ff_unit_kind_t;

/* One unit. Everything it points to is valid until the next call on the
   producer; a caller that keeps the source takes a reference to it. */
typedef struct {
    ff_unit_kind_t kind;            /* see above */
    uint64_t index;                 /* units produced before this one */
    const char *input;              /* input name: the argument, the path,
                                       "NAME:FIRST-LAST" for a block, the
                                       intake name or "intake:N" */
    const uint8_t *data;            /* payload, "" unless FF_UNIT_INLINE */
    size_t size;                    /* payload bytes, 0 unless inline */
    ff_source_t *source;            /* FF_UNIT_ARRAYS: the source, borrowed
                                       (ff_source_ref to keep it); else NULL */
    uint32_t chunk;                 /* chunk of the source, 0 otherwise */
    uint32_t chunks;                /* chunks of the source (ff_source_chunks
                                       with the producer's chunk bytes), 1
                                       otherwise */
    const char *failure;            /* FF_UNIT_FAILED: the load error, which
                                       names the file; else NULL */
} ff_unit_t;

/* What ff_producer_next found. */
typedef enum {
    FF_PRODUCE_UNIT = 0,            /* *unit is the next unit */
    FF_PRODUCE_WAIT,                /* input is needed: --pipe, poll the
                                       descriptor for reading and call
                                       ff_producer_fill (or just fill, when
                                       it blocks); intake, hand the next
                                       record or the end */
    FF_PRODUCE_END,                 /* every unit was produced */
    FF_PRODUCE_ERROR                /* the input cannot go on; the job ends.
                                       ff_producer_error says why, in one line
                                       for the log (a line longer than
                                       --max-block, a read error, no memory) */
} ff_produce_t;

/* Invariants, checked by ff_producer_check:
   - a producer has one kind, fixed at creation: arguments, pipe (it has a
     reader) or intake;
   - arguments: next_arg <= nargs; a current source exists only while its
     chunks are handed out, with current_chunk <= current_chunks, and the
     producer holds one reference to it until the call after its last chunk;
   - intake: at most one record is pending, and none once the end was handed;
   - units counts every unit handed out, failed ones included;
   - once FF_PRODUCE_ERROR or FF_PRODUCE_END is returned, every later next
     returns the same. */

/* Creates a producer of positional arguments (borrowed: they must outlive
   the producer). Each is one FF_UNIT_INLINE unit (name = data = the
   argument), except, when arrays is set (a kernel reads arrays), a path
   that ff_source_recognises: when reached, a .npy is mapped read-only in
   place (workers get file handles) and a structure is loaded into
   segments named with shm_prefix (NULL: into this process's memory); it gives
   ff_source_chunks (chunk_bytes) FF_UNIT_ARRAYS units, or one
   FF_UNIT_FAILED unit when it does not load. Returns NULL when out of
   memory. */
ff_producer_t *
    ff_producer_new_arguments (char *const *args, size_t nargs, int arrays,
                               uint64_t chunk_bytes, const char *shm_prefix);

/* How the argument sources of a job (parallel's :::, ::::, -a, stdin)
   are read and combined. */
typedef struct {
    int null;                       /* records end at NUL, not at newline
                                       (-0); a ::: word is then one record */
    int link;                       /* --link: the i-th record of each source,
                                       shorter ones recycled; else the
                                       cartesian product, last source fastest */
    const char *colsep;             /* --colsep REGEX: each record split into
                                       fields (perl's \t \n \s \S \d \D \w
                                       \W read as such, otherwise POSIX
                                       extended); NULL: a record is one field */
    int fd;                         /* what `:::: -` reads (stdin), not owned;
                                       -1: none */
    int arrays;                     /* bare words: as ff_producer_new_arguments */
    uint64_t chunk_bytes;           /* bare words: as ff_producer_new_arguments */
    const char *shm_prefix;         /* bare words: as ff_producer_new_arguments */
} ff_sources_t;

/* Creates the producer of a job's arguments from words as parallel reads
   them: `::: A B...` is a source of the words A, B (each split at
   newlines unless null), `:::: F G...` one source per file (`-` is
   config->fd), `:::+` and `::::+` link their sources to the one before.
   Leading words before any marker are one `:::` source; words with no
   marker and no colsep are the positional arguments of
   ff_producer_new_arguments (array sources included). A unit is one
   combination of records: its data the fields joined by NUL bytes (the
   exec kernel's args=nul), its name the fields joined by spaces. Files
   are read whole here; the fd is read through ff_producer_fill: a lone
   `:::: -` record by record (FF_PRODUCE_WAIT when it needs input), else
   whole before the first unit. Returns NULL with a line in error (a file
   that does not open, a bad REGEX, `-` given twice or without an fd, no
   memory). */
ff_producer_t *
    ff_producer_new_sources (char *const *words, size_t nwords, const ff_sources_t *config,
                             char *error, size_t error_size);

/* Returns the number of units the producer will give, or -1 when it is not
   known yet (records still to read from a descriptor, array sources). */
int64_t
    ff_producer_total (ff_producer_t *self);

/* Creates a producer of --pipe blocks read from fd (not owned, not closed;
   blocking or not), cut as ff_reader_new does with name, cut, n and
   max_block. Returns NULL on bad arguments (those ff_reader_new refuses)
   or when out of memory. */
ff_producer_t *
    ff_producer_new_pipe (int fd, const char *name, ff_cut_t cut, size_t n,
                          size_t max_block);

/* Creates a producer of records that the caller hands in one at a time
   (ff_producer_intake), then the end (ff_producer_intake_end). Returns
   NULL when out of memory. */
ff_producer_t *
    ff_producer_new_intake (void);

/* Destroys the producer and NULLs the pointer; safe on NULL. A source it
   was cutting loses the producer's reference only: references the caller
   took stay valid. */
void
    ff_producer_destroy (ff_producer_t **self_p);

/* Produces the next unit into *unit: FF_PRODUCE_UNIT, FF_PRODUCE_WAIT,
   FF_PRODUCE_END or FF_PRODUCE_ERROR (see ff_produce_t). Loads an array
   source when it reaches one. */
ff_produce_t
    ff_producer_next (ff_producer_t *self, ff_unit_t *unit);

/* With --pipe, or sources that read a descriptor, reads once from it (it blocks when the
   descriptor does). Returns 0 when it read bytes, the end of input, or
   nothing yet (EAGAIN, EINTR); -1 on a read error, after which
   ff_producer_next returns FF_PRODUCE_ERROR. Call it after
   FF_PRODUCE_WAIT. */
int
    ff_producer_fill (ff_producer_t *self);

/* With intake, hands in the next record (copied): its name (input_len
   bytes; an empty name, or one of FF_PRODUCER_NAME_MAX bytes or more,
   becomes "intake:N", N counting the records from 1) and its data. Call
   it after FF_PRODUCE_WAIT, once. Returns 0, or -1 when out of memory,
   after which ff_producer_next returns FF_PRODUCE_ERROR. */
int
    ff_producer_intake (ff_producer_t *self, const char *input, size_t input_len,
                        const void *data, size_t size);

/* With intake, says that no record follows: ff_producer_next returns
   FF_PRODUCE_END once the pending record, if any, is produced. */
void
    ff_producer_intake_end (ff_producer_t *self);

/* Returns the descriptor a producer reads (to poll: --pipe, or a source
   reading stdin), or -1. */
int
    ff_producer_fd (ff_producer_t *self);

/* Returns the text of the error behind FF_PRODUCE_ERROR (for the log,
   naming the input), or "" when there was none. */
const char *
    ff_producer_error (ff_producer_t *self);

/* Returns the number of units produced so far. */
uint64_t
    ff_producer_units (ff_producer_t *self);

/* Returns a running hash of every unit handed out so far (its name, its
   bytes and its chunk index, in order; with --pipe, the bytes of the
   blocks as one stream and the input's name, which with the same cut
   options give the same blocks and names): equal for two runs that read the
   same records, different (but for chance) once one read another record.
   A resumed job compares it, at a unit boundary, with what the earlier run
   recorded (its state file's input mark). 0 before the first unit. */
uint64_t
    ff_producer_hash (ff_producer_t *self);

/* Asserts every invariant above. */
void
    ff_producer_check (ff_producer_t *self);

#endif
