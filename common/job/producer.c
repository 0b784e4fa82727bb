/*  fanfold producer: the units of a job in order, from arguments (and the
    array sources among them), from a --pipe reader, or from intake records
    the caller hands in. Organised as: the object, the three kinds of
    input, next, the invariants. */

#include "fanfold/job/producer.h"

#include <assert.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    S_ARGUMENTS,                    /* positional inputs */
    S_PIPE,                         /* --pipe blocks from a descriptor */
    S_INTAKE                        /* records handed in */
} s_kind_t;

/* Where a producer is once it cannot hand out more units. */
typedef enum {
    S_GOING = 0,                    /* units may follow */
    S_ENDED,                        /* FF_PRODUCE_END from now on */
    S_FAILED                        /* FF_PRODUCE_ERROR from now on */
} s_state_t;

struct ff_producer {
    s_kind_t kind;                  /* fixed at creation */
    s_state_t state;                /* going, ended or failed */
    uint64_t units;                 /* units handed out */
    char error [FF_PRODUCER_ERROR_MAX]; /* why it failed, or "" */
    char name [FF_PRODUCER_NAME_MAX]; /* name of the last block or record */

    /* arguments */
    char *const *args;              /* positional inputs, borrowed */
    size_t nargs;                   /* how many */
    size_t next_arg;                /* next one to take */
    int arrays;                     /* a kernel reads arrays: load sources */
    uint64_t chunk_bytes;           /* --chunk: bytes per array unit, 0: whole */
    char *shm_prefix;               /* segment prefix, NULL: process memory */
    ff_source_t *current;           /* source being cut, one reference held */
    const char *current_path;       /* its argument */
    uint32_t current_chunk;         /* next chunk of it */
    uint32_t current_chunks;        /* its chunks */
    char failure [FF_PRODUCER_ERROR_MAX]; /* load error of the last failed source */

    /* pipe */
    int fd;                         /* descriptor read, not owned; -1 */
    ff_reader_t *reader;            /* cuts it into blocks */
    size_t max_block;               /* its bound, for the message */

    /* intake */
    uint8_t *record;                /* data of the pending record */
    size_t record_size;             /* its bytes */
    size_t record_cap;              /* bytes allocated at record */
    int record_pending;             /* a record waits to be produced */
    int intake_ended;               /* no record follows */
    uint64_t intake_records;        /* records handed in */
};

/* Sets the error and the failed state; returns FF_PRODUCE_ERROR. */
static ff_produce_t
s_fail (ff_producer_t *self, const char *format, ...)
{
    va_list args;
    va_start (args, format);
    vsnprintf (self->error, sizeof (self->error), format, args);
    va_end (args);
    self->state = S_FAILED;
    return FF_PRODUCE_ERROR;
}

static ff_producer_t *
s_new (s_kind_t kind)
{
    ff_producer_t *self = (ff_producer_t *) calloc (1, sizeof (ff_producer_t));
    if (self) {
        self->kind = kind;
        self->fd = -1;
    }
    return self;
}

ff_producer_t *
ff_producer_new_arguments (char *const *args, size_t nargs, int arrays,
                           uint64_t chunk_bytes, const char *shm_prefix)
{
    if (nargs > 0 && !args)
        return NULL;
    ff_producer_t *self = s_new (S_ARGUMENTS);
    if (!self)
        return NULL;
    self->args = args;
    self->nargs = nargs;
    self->arrays = arrays != 0;
    self->chunk_bytes = chunk_bytes;
    if (shm_prefix) {
        self->shm_prefix = strdup (shm_prefix);
        if (!self->shm_prefix)
            goto fail;
    }
    return self;
fail:
    ff_producer_destroy (&self);
    return NULL;
}

ff_producer_t *
ff_producer_new_pipe (int fd, const char *name, ff_cut_t cut, size_t n,
                      size_t max_block)
{
    ff_producer_t *self = s_new (S_PIPE);
    if (!self)
        return NULL;
    self->fd = fd;
    self->max_block = max_block;
    self->reader = ff_reader_new (fd, name, cut, n, max_block);
    if (!self->reader)
        goto fail;
    return self;
fail:
    ff_producer_destroy (&self);
    return NULL;
}

ff_producer_t *
ff_producer_new_intake (void)
{
    return s_new (S_INTAKE);
}

void
ff_producer_destroy (ff_producer_t **self_p)
{
    if (self_p && *self_p) {
        ff_producer_t *self = *self_p;
        ff_source_unref (&self->current);
        ff_reader_destroy (&self->reader);
        free (self->shm_prefix);
        free (self->record);
        free (self);
        *self_p = NULL;
    }
}

int
ff_producer_fd (ff_producer_t *self)
{
    assert (self);
    return self->fd;
}

const char *
ff_producer_error (ff_producer_t *self)
{
    assert (self);
    return self->error;
}

uint64_t
ff_producer_units (ff_producer_t *self)
{
    assert (self);
    return self->units;
}

/* ----------------------------------------------------------- arguments */

/* Hands out the next chunk of the current source. */
static void
s_chunk_unit (ff_producer_t *self, ff_unit_t *unit)
{
    unit->kind = FF_UNIT_ARRAYS;
    unit->input = self->current_path;
    unit->source = self->current;
    unit->chunk = self->current_chunk++;
    unit->chunks = self->current_chunks;
}

/* Produces the unit of the next argument, loading an array source. */
static ff_produce_t
s_next_argument (ff_producer_t *self, ff_unit_t *unit)
{
    /* the last chunk was handed out by the call before: tasks that keep
       the source hold their own references */
    if (self->current && self->current_chunk == self->current_chunks) {
        ff_source_unref (&self->current);
        self->current_path = NULL;
        self->current_chunk = self->current_chunks = 0;
    }
    if (self->current) {
        s_chunk_unit (self, unit);
        return FF_PRODUCE_UNIT;
    }
    if (self->next_arg == self->nargs) {
        self->state = S_ENDED;
        return FF_PRODUCE_END;
    }
    size_t index = self->next_arg++;
    const char *arg = self->args [index];
    if (!self->arrays || !ff_source_recognises (arg)) {
        unit->input = arg;
        unit->data = (const uint8_t *) arg;
        unit->size = strlen (arg);
        return FF_PRODUCE_UNIT;
    }
    /* the argument's index names its segments: a file given twice is
       loaded twice, into segments of its own */
    self->current = ff_source_load (arg, self->shm_prefix, (unsigned) index,
                                    self->failure, sizeof (self->failure));
    if (!self->current) {
        unit->kind = FF_UNIT_FAILED;
        unit->input = arg;
        unit->failure = self->failure;
        return FF_PRODUCE_UNIT;
    }
    self->current_path = arg;
    self->current_chunk = 0;
    self->current_chunks = ff_source_chunks (self->current, self->chunk_bytes);
    s_chunk_unit (self, unit);
    return FF_PRODUCE_UNIT;
}

/* ---------------------------------------------------------------- pipe */

int
ff_producer_fill (ff_producer_t *self)
{
    assert (self && self->kind == S_PIPE);
    if (self->state != S_GOING)
        return self->state == S_FAILED? -1: 0;
    if (ff_reader_fill (self->reader) >= 0)
        return 0;
    /* ENOBUFS: the buffer holds a whole block, which next hands out */
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR || errno == ENOBUFS)
        return 0;
    s_fail (self, "%s: read failed: %s", ff_reader_name (self->reader), strerror (errno));
    return -1;
}

static ff_produce_t
s_next_block (ff_producer_t *self, ff_unit_t *unit)
{
    ff_block_t block;
    ff_read_t rc = ff_reader_next (self->reader, &block);
    switch (rc) {
        case FF_READ_RECORD:
            ff_reader_block_name (self->reader, &block, self->name, sizeof (self->name));
            unit->input = self->name;
            unit->data = block.data;
            unit->size = block.size;
            return FF_PRODUCE_UNIT;
        case FF_READ_NEED:
            return FF_PRODUCE_WAIT;
        case FF_READ_END:
            self->state = S_ENDED;
            return FF_PRODUCE_END;
        case FF_READ_TOO_LONG:
            break;
    }
    return s_fail (self, "%s: line %" PRIu64 " is longer than --max-block (%zu bytes)",
                   ff_reader_name (self->reader), ff_reader_lines (self->reader) + 1,
                   self->max_block);
}

/* -------------------------------------------------------------- intake */

int
ff_producer_intake (ff_producer_t *self, const char *input, size_t input_len,
                    const void *data, size_t size)
{
    assert (self && self->kind == S_INTAKE);
    assert (!self->record_pending && !self->intake_ended);
    assert (input || input_len == 0);
    assert (data || size == 0);
    if (self->state == S_FAILED)
        return -1;
    self->intake_records++;
    if (size > self->record_cap) {
        uint8_t *grown = (uint8_t *) realloc (self->record, size);
        if (!grown) {
            s_fail (self, "intake: out of memory for record %" PRIu64 " (%zu bytes)",
                    self->intake_records, size);
            return -1;
        }
        self->record = grown;
        self->record_cap = size;
    }
    if (size)
        memcpy (self->record, data, size);
    self->record_size = size;
    if (input_len == 0 || input_len >= sizeof (self->name))
        snprintf (self->name, sizeof (self->name), "intake:%" PRIu64, self->intake_records);
    else
        snprintf (self->name, sizeof (self->name), "%.*s", (int) input_len, input);
    self->record_pending = 1;
    return 0;
}

void
ff_producer_intake_end (ff_producer_t *self)
{
    assert (self && self->kind == S_INTAKE);
    self->intake_ended = 1;
}

static ff_produce_t
s_next_record (ff_producer_t *self, ff_unit_t *unit)
{
    if (self->record_pending) {
        self->record_pending = 0;
        unit->input = self->name;
        unit->data = self->record_size? self->record: (const uint8_t *) "";
        unit->size = self->record_size;
        return FF_PRODUCE_UNIT;
    }
    if (self->intake_ended) {
        self->state = S_ENDED;
        return FF_PRODUCE_END;
    }
    return FF_PRODUCE_WAIT;
}

/* ---------------------------------------------------------------- next */

ff_produce_t
ff_producer_next (ff_producer_t *self, ff_unit_t *unit)
{
    assert (self && unit);
    if (self->state == S_FAILED)
        return FF_PRODUCE_ERROR;
    if (self->state == S_ENDED)
        return FF_PRODUCE_END;
    memset (unit, 0, sizeof (*unit));
    unit->kind = FF_UNIT_INLINE;
    unit->data = (const uint8_t *) "";
    unit->chunks = 1;
    ff_produce_t rc = self->kind == S_ARGUMENTS? s_next_argument (self, unit)
                    : self->kind == S_PIPE? s_next_block (self, unit)
                    : s_next_record (self, unit);
    if (rc == FF_PRODUCE_UNIT)
        unit->index = self->units++;
    return rc;
}

/* ---------------------------------------------------------- invariants */

void
ff_producer_check (ff_producer_t *self)
{
    assert (self);
    assert (self->kind == S_ARGUMENTS || self->kind == S_PIPE || self->kind == S_INTAKE);
    assert (self->state == S_GOING || self->state == S_ENDED || self->state == S_FAILED);
    assert ((self->state == S_FAILED) == (self->error [0] != 0));
    assert ((self->kind == S_PIPE) == (self->reader != NULL));
    assert ((self->kind == S_PIPE) == (self->fd >= 0));
    if (self->kind != S_ARGUMENTS)
        assert (!self->args && !self->nargs && !self->current && !self->shm_prefix);
    if (self->kind != S_INTAKE)
        assert (!self->record && !self->record_pending && !self->intake_ended
                && !self->intake_records);
    assert (self->next_arg <= self->nargs);
    if (self->current) {
        assert (self->arrays);
        assert (self->current_path && self->next_arg > 0
                && self->current_path == self->args [self->next_arg - 1]);
        assert (self->current_chunks >= 1 && self->current_chunk <= self->current_chunks);
        assert (ff_source_refs (self->current) >= 1);
    }
    else
        assert (!self->current_path && self->current_chunk == 0 && self->current_chunks == 0);
    if (self->state == S_ENDED) {
        assert (!self->current && !self->record_pending);
        if (self->kind == S_ARGUMENTS)
            assert (self->next_arg == self->nargs);
        if (self->kind == S_INTAKE)
            assert (self->intake_ended);
    }
    assert (self->record_size <= self->record_cap);
    assert (!self->record_pending || !self->intake_ended || self->state == S_GOING);
    assert (self->units >= (uint64_t) self->next_arg);
    if (self->kind == S_INTAKE)
        assert (self->units + (uint64_t) self->record_pending <= self->intake_records);
}
