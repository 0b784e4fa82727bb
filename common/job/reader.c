/*  fanfold record reader: a bounded buffer over a descriptor, cut into
    blocks of whole lines. fill appends what read() gives; next looks for a
    cut point in what is buffered and, at end of input, flushes the rest. */

#include "fanfold/job/reader.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_READ_CHUNK (256 * 1024)

struct ff_reader {
    int fd;                         /* descriptor read from, not owned */
    char *name;                     /* name for input names */
    ff_cut_t cut;                   /* lines or bytes */
    size_t n;                       /* lines or bytes per block */
    size_t max_block;               /* largest block allowed */
    uint8_t *buffer;                /* buffered input */
    size_t cap;                     /* allocated size of buffer */
    size_t start;                   /* first byte not yet handed out */
    size_t end;                     /* one past the last byte read */
    uint64_t lines;                 /* lines handed out so far */
    int eof;                        /* end of input was read */
    size_t name_len;                /* strlen (name) */
    size_t hashed;                  /* buffer offset up to which the bytes
                                       handed out are in the hash (<= start) */
    uint64_t hash;                  /* running hash of the whole 8-byte words */
    uint8_t tail [8];               /* bytes after the last whole word */
    size_t ntail;                   /* how many */
    uint64_t hashed_bytes;          /* bytes in the hash */
};

/* ------------------------------------------------------------ the hash

   The bytes handed out are hashed as one stream, a buffer at a time (at
   compaction and when the hash is asked for), not block by block: eight
   bytes cost one multiply whatever the blocks are, and the value does not
   depend on how the reads or the blocks fell. Not a cryptographic hash: it
   tells a changed input from the same one. */

static inline uint64_t
s_fold_word (uint64_t h, uint64_t word)
{
    h = (h ^ word) * 0xFF51AFD7ED558CCDULL;
    return h ^ (h >> 32);
}

/* Adds size bytes at data to the stream hash. */
static void
s_hash_add (ff_reader_t *self, const uint8_t *data, size_t size)
{
    uint64_t word, h = self->hash;
    self->hashed_bytes += size;
    if (self->ntail) {
        size_t take = 8 - self->ntail < size? 8 - self->ntail: size;
        memcpy (self->tail + self->ntail, data, take);
        self->ntail += take;
        data += take;
        size -= take;
        if (self->ntail < 8) {
            self->hash = h;
            return;
        }
        memcpy (&word, self->tail, 8);
        h = s_fold_word (h, word);
        self->ntail = 0;
    }
    for (; size >= 8; data += 8, size -= 8) {
        memcpy (&word, data, 8);
        h = s_fold_word (h, word);
    }
    memcpy (self->tail, data, size);
    self->ntail = size;
    self->hash = h;
}

/* Brings the hash up to the bytes handed out so far. */
static void
s_hash_catch_up (ff_reader_t *self)
{
    if (self->hashed < self->start)
        s_hash_add (self, self->buffer + self->hashed, self->start - self->hashed);
    self->hashed = self->start;
}

uint64_t
ff_reader_hash (ff_reader_t *self)
{
    s_hash_catch_up (self);
    uint64_t word = 0, h = self->hash;
    memcpy (&word, self->tail, self->ntail);
    h = (h ^ word ^ (uint64_t) self->ntail << 56) * 0xC4CEB9FE1A85EC53ULL;
    h = (h ^ self->hashed_bytes) * 0x9E3779B97F4A7C15ULL;
    return h ^ (h >> 29);
}

ff_reader_t *
ff_reader_new (int fd, const char *name, ff_cut_t cut, size_t n,
               size_t max_block)
{
    if (fd < 0 || !name || n == 0 || max_block == 0
    ||  (cut == FF_CUT_BYTES && n > max_block))
        return NULL;
    ff_reader_t *self = (ff_reader_t *) calloc (1, sizeof (ff_reader_t));
    if (!self)
        return NULL;
    self->fd = fd;
    self->cut = cut;
    self->n = n;
    self->max_block = max_block;
    self->name = strdup (name);
    if (!self->name)
        goto fail;
    self->name_len = strlen (name);
    return self;
fail:
    ff_reader_destroy (&self);
    return NULL;
}

void
ff_reader_destroy (ff_reader_t **self_p)
{
    if (self_p && *self_p) {
        ff_reader_t *self = *self_p;
        free (self->name);
        free (self->buffer);
        free (self);
        *self_p = NULL;
    }
}

const char *
ff_reader_name (ff_reader_t *self)
{
    return self->name;
}

/* Writes value in decimal just before end, two digits a step; returns
   where the digits start. */
static char *
s_decimal (uint64_t value, char *end)
{
    static const char pairs [] =
        "00010203040506070809101112131415161718192021222324252627282930313233343536373839"
        "40414243444546474849505152535455565758596061626364656667686970717273747576777879"
        "8081828384858687888990919293949596979899";
    char *at = end;
    while (value >= 100) {
        unsigned pair = (unsigned) (value % 100);
        value /= 100;
        at -= 2;
        memcpy (at, pairs + 2 * pair, 2);
    }
    if (value >= 10) {
        at -= 2;
        memcpy (at, pairs + 2 * value, 2);
    }
    else
        *--at = (char) ('0' + value);
    return at;
}

void
ff_reader_block_name (ff_reader_t *self, const ff_block_t *block, char *out,
                      size_t size)
{
    /* what snprintf ("%s:%lu-%lu") gives, without its cost per block */
    char lines [48];
    char *end = lines + sizeof (lines);
    char *at = s_decimal (block->last_line, end);
    if (block->first_line == block->last_line) {
        /* one line: the same digits twice */
        size_t digits = (size_t) (end - at);
        *--at = '-';
        at -= digits;
        memcpy (at, at + digits + 1, digits);
    }
    else {
        *--at = '-';
        at = s_decimal (block->first_line, at);
    }
    *--at = ':';
    size_t name_len = self->name_len;
    size_t lines_len = (size_t) (end - at);
    if (size == 0)
        return;
    if (name_len > size - 1)
        name_len = size - 1;
    memcpy (out, self->name, name_len);
    if (lines_len > size - 1 - name_len)
        lines_len = size - 1 - name_len;
    memcpy (out + name_len, at, lines_len);
    out [name_len + lines_len] = 0;
}

uint64_t
ff_reader_lines (ff_reader_t *self)
{
    return self->lines;
}

int
ff_reader_eof (ff_reader_t *self)
{
    return self->eof;
}

/* Makes room for one read: compacts, then grows up to the bound.
   Returns 0, -1 when the buffer is full (it holds a whole block), or -2
   when growing it ran out of memory. */
static int
s_make_room (ff_reader_t *self)
{
    if (self->start > 0 && self->cap - self->end < S_READ_CHUNK) {
        s_hash_catch_up (self);     /* the bytes before start are dropped */
        self->hashed = 0;
        memmove (self->buffer, self->buffer + self->start,
                 self->end - self->start);
        self->end -= self->start;
        self->start = 0;
    }
    if (self->cap - self->end >= S_READ_CHUNK)
        return 0;
    size_t limit = self->max_block + S_READ_CHUNK;
    if (self->cap >= limit)
        return self->end < self->cap? 0: -1;
    size_t cap = self->cap? self->cap * 2: 2 * S_READ_CHUNK;
    while (cap < self->end + S_READ_CHUNK)
        cap *= 2;
    if (cap > limit)
        cap = limit;
    uint8_t *grown = (uint8_t *) realloc (self->buffer, cap);
    if (!grown)
        return -2;                  /* out of memory: not a full buffer */
    self->buffer = grown;
    self->cap = cap;
    return 0;
}

long
ff_reader_fill (ff_reader_t *self)
{
    if (self->eof)
        return 0;
    int room = s_make_room (self);
    if (room) {
        errno = room == -2? ENOMEM: ENOBUFS;
        return -1;
    }
    ssize_t got;
    do
        got = read (self->fd, self->buffer + self->end, self->cap - self->end);
    while (got < 0 && errno == EINTR);
    if (got < 0)
        return -1;
    if (got == 0)
        self->eof = 1;
    self->end += (size_t) got;
    return (long) got;
}

/* Returns the offset one past the last newline in [from, to), or 0. */
static size_t
s_last_newline (const uint8_t *buffer, size_t from, size_t to)
{
    const uint8_t *hit = (const uint8_t *) memrchr (buffer + from, '\n', to - from);
    return hit? (size_t) (hit - buffer) + 1: 0;
}

/* Returns the offset one past the count-th newline from from, or 0. */
static size_t
s_nth_newline (const uint8_t *buffer, size_t from, size_t to, size_t count)
{
    size_t at = from;
    while (count > 0 && at < to) {
        const uint8_t *hit = (const uint8_t *) memchr (buffer + at, '\n', to - at);
        if (!hit)
            return 0;
        at = (size_t) (hit - buffer) + 1;
        count--;
    }
    return count == 0? at: 0;
}

/* Hands out [start, cut) as a block and counts its lines; known is its
   newlines when the caller counted them, else 0. */
static void
s_hand_out (ff_reader_t *self, size_t cut, ff_block_t *block, uint64_t known)
{
    const uint8_t *data = self->buffer + self->start;
    size_t size = cut - self->start;
    uint64_t newlines = known;
    const uint8_t *at = data, *end = data + size;
    while (!known && at < end && (at = (const uint8_t *) memchr (at, '\n', (size_t) (end - at)))) {
        newlines++;
        at++;
    }
    if (size > 0 && data [size - 1] != '\n')
        newlines++;                 /* a last line without its newline */
    block->data = data;
    block->size = size;
    block->first_line = self->lines + 1;
    block->last_line = self->lines + newlines;
    self->lines += newlines;
    self->start = cut;
}

ff_read_t
ff_reader_next (ff_reader_t *self, ff_block_t *block)
{
    size_t avail = self->end - self->start;
    size_t cut = 0;
    uint64_t known = 0;             /* the block's newlines, when counted */

    if (avail == 0)
        return self->eof? FF_READ_END: FF_READ_NEED;
    if (self->cut == FF_CUT_LINES) {
        /* as GNU parallel -N does, records are counted from the second
           byte: an empty line that starts a block joins the next record */
        size_t scan = avail < self->max_block? avail: self->max_block;
        cut = s_nth_newline (self->buffer, self->start + 1, self->start + scan,
                             self->n);
        if (cut)                    /* n from the second byte, and maybe the first */
            known = self->n + (self->buffer [self->start] == '\n');
        /* n lines that do not fit in max_block: fewer lines, whole ones */
        if (!cut && avail >= self->max_block)
            cut = s_last_newline (self->buffer, self->start, self->start + scan);
    }
    else
    if (avail >= self->n) {
        cut = s_last_newline (self->buffer, self->start, self->start + self->n);
        if (!cut) {
            /* a line longer than the block: the block is that whole line */
            size_t scan = avail < self->max_block? avail: self->max_block;
            cut = s_nth_newline (self->buffer, self->start + self->n,
                                 self->start + scan, 1);
        }
    }
    if (!cut) {
        if (self->eof) {
            if (avail > self->max_block) {
                errno = E2BIG;
                return FF_READ_TOO_LONG;
            }
            cut = self->end;
        }
        else
        if (avail >= self->max_block) {
            errno = E2BIG;
            return FF_READ_TOO_LONG;
        }
        else
            return FF_READ_NEED;
    }
    s_hand_out (self, cut, block, known);
    return FF_READ_RECORD;
}
