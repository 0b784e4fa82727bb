/*  fanfold producer: the units of a job in order, from arguments (and the
    array sources among them), from argument sources as parallel reads
    them (:::, ::::, stdin), from a --pipe reader, or from intake records
    the caller hands in. Organised as: the object, the kinds of input,
    next, the invariants. */

#include "fanfold/job/producer.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/options.h"

#include <assert.h>
#include <regex.h>
#include <unistd.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum {
    S_ARGUMENTS,                    /* positional inputs */
    S_SOURCES,                      /* argument sources: :::, ::::, stdin */
    S_PIPE,                         /* --pipe blocks from a descriptor */
    S_INTAKE                        /* records handed in */
} s_kind_t;

/* Where a producer is once it cannot hand out more units. */
typedef enum {
    S_GOING = 0,                    /* units may follow */
    S_ENDED,                        /* FF_PRODUCE_END from now on */
    S_FAILED                        /* FF_PRODUCE_ERROR from now on */
} s_state_t;

#define S_MAX_SOURCES 64            /* argument sources of one job */

typedef struct s_source s_source_t;

struct ff_producer {
    s_kind_t kind;                  /* fixed at creation */
    s_state_t state;                /* going, ended or failed */
    uint64_t units;                 /* units handed out */
    uint64_t hash;                  /* running hash of them (ff_producer_hash) */
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

    /* sources */
    s_source_t *sources;            /* the sources, in the order given */
    size_t nsources;                /* how many */
    int null;                       /* records end at NUL */
    int colsep_set;                 /* colsep holds a compiled regex */
    regex_t colsep;                 /* --colsep */
    int streaming;                  /* one source, read from fd record by record */
    uint8_t *in;                    /* bytes read from fd, not yet records */
    size_t in_len;                  /* how many */
    size_t in_pos;                  /* streaming: bytes before it were handed out */
    size_t in_cap;                  /* bytes allocated at in */
    int in_eof;                     /* fd is at its end */
    uint64_t total;                 /* combinations, once every source is read */
    uint64_t next_unit;             /* the next combination */
    char *field_buf;                /* the unit's data: fields joined by NUL */
    size_t field_len;               /* its bytes */
    size_t field_cap;               /* bytes allocated */
    char *name_buf;                 /* the unit's name: fields joined by spaces */
    size_t name_cap;                /* bytes allocated */

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

/* One argument source: its records, owned. */
struct s_source {
    char **records;                 /* the records */
    size_t *lens;                   /* their bytes */
    size_t count;                   /* how many */
    size_t cap;                     /* room at records and lens */
    int group;                      /* sources of a group are linked */
    int from_fd;                    /* read from the producer's fd */
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
        size_t index, record;
        for (index = 0; index < self->nsources; index++) {
            for (record = 0; record < self->sources [index].count; record++)
                free (self->sources [index].records [record]);
            free (self->sources [index].records);
            free (self->sources [index].lens);
        }
        free (self->sources);
        if (self->colsep_set)
            regfree (&self->colsep);
        free (self->in);
        free (self->field_buf);
        free (self->name_buf);
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

/* ------------------------------------------------------------- sources */

/* Appends a copy of len bytes at text as a record of source. */
static int
s_source_add (s_source_t *source, const char *text, size_t len)
{
    if (source->count == source->cap) {
        size_t cap = source->cap? 2 * source->cap: 16;
        char **records = (char **) realloc (source->records, cap * sizeof (char *));
        if (!records)
            return -1;
        source->records = records;
        size_t *lens = (size_t *) realloc (source->lens, cap * sizeof (size_t));
        if (!lens)
            return -1;
        source->lens = lens;
        source->cap = cap;
    }
    char *copy = (char *) malloc (len + 1);
    if (!copy)
        return -1;
    memcpy (copy, text, len);
    copy [len] = 0;
    source->records [source->count] = copy;
    source->lens [source->count] = len;
    source->count++;
    return 0;
}

/* Adds the records of len bytes at text, cut at sep; a last record
   without sep counts, a last sep makes no empty record. */
static int
s_source_split (s_source_t *source, const char *text, size_t len, char sep)
{
    size_t start = 0, at;
    for (at = 0; at < len; at++)
        if (text [at] == sep) {
            if (s_source_add (source, text + start, at - start))
                return -1;
            start = at + 1;
        }
    return start < len? s_source_add (source, text + start, len - start): 0;
}

/* Makes a new source in group; NULL when out of memory. */
static s_source_t *
s_source_new (ff_producer_t *self, int group)
{
    if (self->nsources == S_MAX_SOURCES)
        return NULL;
    s_source_t *grown = (s_source_t *) realloc (self->sources,
                                                (self->nsources + 1) * sizeof (s_source_t));
    if (!grown)
        return NULL;
    self->sources = grown;
    s_source_t *source = &self->sources [self->nsources++];
    memset (source, 0, sizeof (*source));
    source->group = group;
    return source;
}

/* Reads the file at path whole into source. Returns 0, or -1 with error. */
static int
s_source_read_file (ff_producer_t *self, s_source_t *source, const char *path,
                    char *error, size_t error_size)
{
    FILE *file = fopen (path, "rb");
    char *text = NULL;
    size_t len = 0, cap = 0;
    int rc = -1;
    if (!file) {
        snprintf (error, error_size, "%s: cannot open: %s", path, strerror (errno));
        return -1;
    }
    for (;;) {
        if (cap - len < 65536) {
            char *grown = len + 65536 > (size_t) FF_MAX_BLOCK? NULL
                        : (char *) realloc (text, cap + 65536);
            if (!grown) {
                snprintf (error, error_size, "%s: too large or out of memory", path);
                goto done;
            }
            text = grown;
            cap += 65536;
        }
        size_t got = fread (text + len, 1, cap - len, file);
        len += got;
        if (got == 0)
            break;
    }
    if (ferror (file)) {
        snprintf (error, error_size, "%s: read failed", path);
        goto done;
    }
    if (s_source_split (source, text, len, self->null? 0: '\n')) {
        snprintf (error, error_size, "out of memory");
        goto done;
    }
    rc = 0;
done:
    free (text);
    fclose (file);
    return rc;
}

/* Translates perl's escapes \t \n \s \S \d \D \w \W of --colsep into a
   POSIX extended expression and compiles it. Returns 0, or -1 with error. */
static int
s_colsep_compile (ff_producer_t *self, const char *perl, char *error, size_t error_size)
{
    size_t len = strlen (perl), at;
    char *posix = (char *) malloc (12 * len + 1), *put = posix;
    if (!posix) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    if (strstr (perl, "(?")) {
        snprintf (error, error_size, "--colsep %s: perl's (?...) forms are not supported", perl);
        free (posix);
        return -1;
    }
    for (at = 0; at < len; at++) {
        const char *with = NULL;
        if (perl [at] == '\\' && at + 1 < len) {
            switch (perl [at + 1]) {
                case 't': with = "\t"; break;
                case 'n': with = "\n"; break;
                case 's': with = "[[:space:]]"; break;
                case 'S': with = "[^[:space:]]"; break;
                case 'd': with = "[0-9]"; break;
                case 'D': with = "[^0-9]"; break;
                case 'w': with = "[[:alnum:]_]"; break;
                case 'W': with = "[^[:alnum:]_]"; break;
            }
        }
        if (with) {
            strcpy (put, with);
            put += strlen (with);
            at++;
        }
        else
            *put++ = perl [at];
    }
    *put = 0;
    int rc = regcomp (&self->colsep, posix, REG_EXTENDED);
    free (posix);
    if (rc) {
        char text [128];
        regerror (rc, &self->colsep, text, sizeof (text));
        snprintf (error, error_size, "--colsep %s: %s", perl, text);
        return -1;
    }
    self->colsep_set = 1;
    return 0;
}

/* Appends len bytes at text to the unit's data (NUL before every field
   but the first) and name (space before every field but the first). */
static int
s_field_add (ff_producer_t *self, const char *text, size_t len, int first)
{
    size_t need = self->field_len + len + 2;
    if (need > self->field_cap) {
        size_t cap = need * 2;
        char *field = (char *) realloc (self->field_buf, cap);
        if (!field)
            return -1;
        self->field_buf = field;
        char *name = (char *) realloc (self->name_buf, cap);
        if (!name)
            return -1;
        self->name_buf = name;
        self->field_cap = self->name_cap = cap;
    }
    if (!first) {
        self->field_buf [self->field_len] = 0;
        self->name_buf [self->field_len] = ' ';
        self->field_len++;
    }
    memcpy (self->field_buf + self->field_len, text, len);
    memcpy (self->name_buf + self->field_len, text, len);
    self->field_len += len;
    self->name_buf [self->field_len] = 0;
    return 0;
}

/* Appends the fields of one record (split by --colsep, empty fields
   included, as perl's split with limit -1). */
static int
s_record_fields (ff_producer_t *self, const char *record, size_t len, int *first)
{
    size_t start = 0, from = 0;
    if (self->colsep_set) {
        regmatch_t match;
        while (from <= len) {
            match.rm_so = (regoff_t) from;
            match.rm_eo = (regoff_t) len;
            if (regexec (&self->colsep, record, 1, &match, REG_STARTEND | (from? REG_NOTBOL: 0)))
                break;
            if (match.rm_eo == match.rm_so) {
                /* an empty match splits nothing here: look one byte on */
                from = (size_t) match.rm_so + 1;
                continue;
            }
            if (s_field_add (self, record + start, (size_t) match.rm_so - start, *first))
                return -1;
            *first = 0;
            start = from = (size_t) match.rm_eo;
        }
    }
    if (s_field_add (self, record + start, len - start, *first))
        return -1;
    *first = 0;
    return 0;
}

/* Computes the number of combinations once every source is read. */
static int
s_sources_total (ff_producer_t *self)
{
    uint64_t total = 1;
    size_t index = 0;
    while (index < self->nsources) {
        int group = self->sources [index].group;
        uint64_t longest = 0;
        int empty = 0;
        for (; index < self->nsources && self->sources [index].group == group; index++) {
            if (self->sources [index].count == 0)
                empty = 1;
            if (self->sources [index].count > longest)
                longest = self->sources [index].count;
        }
        if (empty)
            longest = 0;
        if (longest && total > UINT64_MAX / longest)
            return -1;
        total *= longest;
    }
    self->total = self->nsources? total: 0;
    return 0;
}

ff_producer_t *
ff_producer_new_sources (char *const *words, size_t nwords, const ff_sources_t *config,
                         char *error, size_t error_size)
{
    size_t index;
    int markers = 0, group = -1, files = 0, linked = 0, stdin_taken = 0;
    assert (config && (words || nwords == 0));
    for (index = 0; index < nwords; index++)
        markers |= ff_options_is_marker (words [index]);
    if (!markers && !config->colsep) {
        ff_producer_t *self = ff_producer_new_arguments (words, nwords, config->arrays,
                                                         config->chunk_bytes, config->shm_prefix);
        if (!self)
            snprintf (error, error_size, "out of memory");
        return self;
    }
    ff_producer_t *self = s_new (S_SOURCES);
    if (!self) {
        snprintf (error, error_size, "out of memory");
        return NULL;
    }
    self->null = config->null != 0;
    if (config->colsep && s_colsep_compile (self, config->colsep, error, error_size))
        goto fail;
    s_source_t *source = NULL;
    for (index = 0; index < nwords; index++) {
        const char *word = words [index];
        if (ff_options_is_marker (word)) {
            files = word [3] == ':';
            linked = word [files? 4: 3] == '+';
            if (!linked || group < 0)
                group++;
            source = NULL;
            if (!files && !(source = s_source_new (self, config->link? 0: group)))
                goto oom;
            continue;
        }
        if (!files && !source) {
            /* words before any marker: a ::: source */
            group++;
            if (!(source = s_source_new (self, config->link? 0: group)))
                goto oom;
        }
        if (!files) {
            /* parallel reads ::: words back line by line: a newline splits
               one (and "a\n" ends with an empty argument); -0 keeps it */
            size_t len = strlen (word);
            if (self->null? s_source_add (source, word, len)
                          : s_source_split (source, word, len, '\n')
                            || ((len == 0 || word [len - 1] == '\n')
                                && s_source_add (source, "", 0)))
                goto oom;
            continue;
        }
        /* a file of ::::; after the first, each file starts a group of its own */
        if (source && !linked)
            group++;
        if (!(source = s_source_new (self, config->link? 0: group)))
            goto oom;
        if (strcmp (word, "-") == 0) {
            if (config->fd < 0 || stdin_taken) {
                snprintf (error, error_size, ":::: -: %s",
                          stdin_taken? "stdin is given twice": "no stdin to read");
                goto fail;
            }
            stdin_taken = 1;
            source->from_fd = 1;
            self->fd = config->fd;
        }
        else
        if (s_source_read_file (self, source, word, error, error_size))
            goto fail;
    }
    self->streaming = self->nsources == 1 && stdin_taken;
    if (!stdin_taken && s_sources_total (self)) {
        snprintf (error, error_size, "too many combinations of the sources");
        goto fail;
    }
    return self;
oom:
    snprintf (error, error_size, self->nsources == S_MAX_SOURCES
              ? "more than %d argument sources": "out of memory", S_MAX_SOURCES);
fail:
    ff_producer_destroy (&self);
    return NULL;
}

int64_t
ff_producer_total (ff_producer_t *self)
{
    assert (self);
    if (self->kind == S_SOURCES)
        return self->fd < 0 || (self->in_eof && !self->streaming)? (int64_t) self->total: -1;
    if (self->kind == S_ARGUMENTS && !self->arrays)
        return (int64_t) self->nargs;
    return -1;
}

/* Reads once from the sources' fd. */
static int
s_sources_fill (ff_producer_t *self)
{
    if (self->in_eof)
        return 0;
    if (self->in_pos > 0) {
        /* records before in_pos were handed out */
        memmove (self->in, self->in + self->in_pos, self->in_len - self->in_pos);
        self->in_len -= self->in_pos;
        self->in_pos = 0;
    }
    if (self->in_cap - self->in_len < 65536) {
        size_t cap = self->in_cap + 65536 + self->in_cap / 2;
        uint8_t *grown = cap > (size_t) FF_MAX_BLOCK + 65536? NULL
                       : (uint8_t *) realloc (self->in, cap);
        if (!grown) {
            s_fail (self, "stdin: %s", cap > (size_t) FF_MAX_BLOCK + 65536
                    ? "an argument source read whole is larger than 1 GiB": "out of memory");
            return -1;
        }
        self->in = grown;
        self->in_cap = cap;
    }
    ssize_t got = read (self->fd, self->in + self->in_len, self->in_cap - self->in_len);
    if (got < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
            return 0;
        s_fail (self, "stdin: read failed: %s", strerror (errno));
        return -1;
    }
    if (got == 0)
        self->in_eof = 1;
    self->in_len += (size_t) got;
    if (self->in_eof && !self->streaming) {
        s_source_t *source = NULL;
        size_t index;
        for (index = 0; index < self->nsources; index++)
            if (self->sources [index].from_fd)
                source = &self->sources [index];
        assert (source);
        if (s_source_split (source, (const char *) self->in, self->in_len,
                            self->null? 0: '\n')) {
            s_fail (self, "stdin: out of memory");
            return -1;
        }
        self->in_len = 0;
        if (s_sources_total (self)) {
            s_fail (self, "too many combinations of the sources");
            return -1;
        }
    }
    return 0;
}

/* Produces the next combination of the sources. */
static ff_produce_t
s_next_combination (ff_producer_t *self, ff_unit_t *unit)
{
    int first = 1;
    self->field_len = 0;
    if (self->streaming) {
        char sep = self->null? 0: '\n';
        uint8_t *at = self->in + self->in_pos;
        size_t left = self->in_len - self->in_pos;
        uint8_t *end = left? (uint8_t *) memchr (at, sep, left): NULL;
        size_t len = end? (size_t) (end - at): left;
        if (!end && !self->in_eof)
            return FF_PRODUCE_WAIT;
        if (!end && len == 0) {
            self->state = S_ENDED;
            return FF_PRODUCE_END;
        }
        if (s_record_fields (self, (const char *) at, len, &first))
            return s_fail (self, "out of memory");
        self->in_pos += end? len + 1: len;
    }
    else {
        if (self->fd >= 0 && !self->in_eof)
            return FF_PRODUCE_WAIT;
        if (self->next_unit == self->total) {
            self->state = S_ENDED;
            return FF_PRODUCE_END;
        }
        /* the combination's index, read in mixed radix: last group fastest */
        uint64_t rest = self->next_unit++, picks [S_MAX_SOURCES] = { 0 };
        size_t index = self->nsources;
        while (index > 0) {
            int group = self->sources [index - 1].group;
            uint64_t longest = 0;
            size_t first_of_group = index;
            while (first_of_group > 0 && self->sources [first_of_group - 1].group == group) {
                first_of_group--;
                if (self->sources [first_of_group].count > longest)
                    longest = self->sources [first_of_group].count;
            }
            uint64_t pick = rest % longest;
            rest /= longest;
            for (; index > first_of_group; index--)
                picks [index - 1] = pick;
        }
        for (index = 0; index < self->nsources; index++) {
            const s_source_t *source = &self->sources [index];
            size_t record = (size_t) (picks [index] % source->count);
            if (s_record_fields (self, source->records [record], source->lens [record], &first))
                return s_fail (self, "out of memory");
        }
    }
    unit->input = self->name_buf;
    unit->data = (const uint8_t *) self->field_buf;
    unit->size = self->field_len;
    return FF_PRODUCE_UNIT;
}

/* ---------------------------------------------------------------- pipe */

int
ff_producer_fill (ff_producer_t *self)
{
    assert (self && (self->kind == S_PIPE || (self->kind == S_SOURCES && self->fd >= 0)));
    if (self->state != S_GOING)
        return self->state == S_FAILED? -1: 0;
    if (self->kind == S_SOURCES)
        return s_sources_fill (self);
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

/* Folds size bytes at data into the running hash h, eight at a time: one
   multiply per word, so a --pipe job of gigabytes pays well under a second.
   Not a cryptographic hash: it tells a changed input from the same one. */
static uint64_t
s_hash_bytes (uint64_t h, const void *data, size_t size)
{
    const uint8_t *at = (const uint8_t *) data;
    uint64_t word;
    h = (h ^ (uint64_t) size) * 0x9E3779B97F4A7C15ULL;
    for (; size >= 8; at += 8, size -= 8) {
        memcpy (&word, at, 8);
        h = (h ^ word) * 0xFF51AFD7ED558CCDULL;
        h ^= h >> 32;
    }
    word = 0;
    memcpy (&word, at, size);
    h = (h ^ word) * 0xC4CEB9FE1A85EC53ULL;
    return h ^ (h >> 29);
}

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
                    : self->kind == S_SOURCES? s_next_combination (self, unit)
                    : self->kind == S_PIPE? s_next_block (self, unit)
                    : s_next_record (self, unit);
    if (rc == FF_PRODUCE_UNIT) {
        unit->index = self->units++;
        /* a block's name and chunk follow from the stream and the cut
           options: the reader hashes the stream's bytes in bulk */
        if (self->kind != S_PIPE) {
            self->hash = s_hash_bytes (self->hash, unit->input, strlen (unit->input));
            self->hash = s_hash_bytes (self->hash, unit->data, unit->size);
            self->hash = s_hash_bytes (self->hash, &unit->chunk, sizeof (unit->chunk));
        }
    }
    return rc;
}

uint64_t
ff_producer_hash (ff_producer_t *self)
{
    assert (self);
    if (self->kind != S_PIPE || self->units == 0)
        return self->hash;
    /* the stream's bytes, then the name its blocks are called by */
    const char *name = ff_reader_name (self->reader);
    return s_hash_bytes (ff_reader_hash (self->reader), name, strlen (name));
}

/* ---------------------------------------------------------- invariants */

void
ff_producer_check (ff_producer_t *self)
{
    assert (self);
    assert (self->kind == S_ARGUMENTS || self->kind == S_SOURCES || self->kind == S_PIPE
            || self->kind == S_INTAKE);
    assert (self->state == S_GOING || self->state == S_ENDED || self->state == S_FAILED);
    assert ((self->state == S_FAILED) == (self->error [0] != 0));
    assert ((self->kind == S_PIPE) == (self->reader != NULL));
    assert (self->kind != S_PIPE || self->fd >= 0);
    assert (self->kind == S_PIPE || self->kind == S_SOURCES || self->fd < 0);
    if (self->kind != S_SOURCES)
        assert (!self->sources && !self->nsources && !self->in && !self->colsep_set);
    else {
        assert (self->nsources <= S_MAX_SOURCES);
        assert (self->in_pos <= self->in_len && self->in_len <= self->in_cap);
        assert (!self->streaming || (self->nsources == 1 && self->sources [0].from_fd));
        assert (self->streaming || self->next_unit <= self->total);
        assert (self->field_len <= self->field_cap);
    }
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
