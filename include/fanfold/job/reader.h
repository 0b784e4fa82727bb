/*  fanfold record reader: cuts a byte stream into blocks of whole lines
    (--lines N or --block SIZE, like parallel --pipe). Reading is separate
    from cutting so that a non-blocking descriptor can be polled: fill reads
    what is there, next returns a block when one is complete. The buffer is
    bounded: a block never exceeds max_block bytes (with --lines, n lines
    that would are cut short at the last line end that fits). */

#ifndef FANFOLD_READER_H
#define FANFOLD_READER_H

#include <stddef.h>
#include <stdint.h>

typedef struct ff_reader ff_reader_t;

typedef enum {
    FF_CUT_LINES,                   /* n lines per block (an empty line that
                                       starts a block does not count, as
                                       with parallel -N) */
    FF_CUT_BYTES                    /* about n bytes per block, at line ends */
} ff_cut_t;

/* What ff_reader_next found. The values are those of the int it returned
   before it had a name, so that callers comparing with 1/0/-1/-2 read
   the same. */
typedef enum {
    FF_READ_RECORD = 1,             /* *block is a complete block */
    FF_READ_NEED = 0,               /* more input is needed: call fill */
    FF_READ_END = -1,               /* the input is exhausted */
    FF_READ_TOO_LONG = -2           /* a line is longer than max_block (errno
                                       E2BIG); the input cannot go on */
} ff_read_t;

/* A block; data is valid until the next call on the reader. */
typedef struct {
    const uint8_t *data;            /* first byte */
    size_t size;                    /* bytes in the block */
    uint64_t first_line;            /* 1-based number of its first line */
    uint64_t last_line;             /* number of its last line */
} ff_block_t;

/* Creates a reader over fd (not closed by the reader); name is used in
   input names and messages. Returns NULL on bad arguments or no memory. */
ff_reader_t *
    ff_reader_new (int fd, const char *name, ff_cut_t cut, size_t n,
                   size_t max_block);

/* Destroys the reader and NULLs the pointer. Safe on NULL. */
void
    ff_reader_destroy (ff_reader_t **self_p);

/* Reads once from the descriptor. Returns the number of bytes read, 0 at
   end of input, or -1 with errno set (EAGAIN: nothing there yet; ENOBUFS:
   the buffer is full, call next first; ENOMEM: it could not grow). */
long
    ff_reader_fill (ff_reader_t *self);

/* Returns FF_READ_RECORD and sets *block when a complete block is
   buffered, FF_READ_NEED when more input is needed (call fill), FF_READ_END
   when the input is exhausted, FF_READ_TOO_LONG with errno E2BIG when a
   single line is longer than max_block (the first line of the refused
   block is ff_reader_lines () + 1). */
ff_read_t
    ff_reader_next (ff_reader_t *self, ff_block_t *block);

/* Returns 1 once end of input has been read. */
int
    ff_reader_eof (ff_reader_t *self);

/* Writes the input name of block ("NAME:FIRST-LAST", line numbers) into
   out. */
void
    ff_reader_block_name (ff_reader_t *self, const ff_block_t *block,
                          char *out, size_t size);

/* Returns the number of lines handed out so far. */
uint64_t
    ff_reader_lines (ff_reader_t *self);

/* Returns a hash of every byte handed out in blocks so far, as one
   stream: equal for two readers that handed out the same bytes, however
   the reads and the blocks fell; different (but for chance) once one
   handed out other bytes or more of them. Costs one multiply per eight
   bytes, paid in bulk, not per block. */
uint64_t
    ff_reader_hash (ff_reader_t *self);

/* Returns the reader's name. */
const char *
    ff_reader_name (ff_reader_t *self);

#endif
