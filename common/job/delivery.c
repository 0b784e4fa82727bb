/*  fanfold delivery: results in any order in, output in seq order out.
    Organised as: opening (output, resume state, joblog), the job, writing
    one result (record, joblog, counts, fold, emit, output), taking items,
    acks and checkpoints, counts and the invariant check. */

#include "fanfold/job/delivery.h"
#include "fanfold/job/reorder.h"
#include "fanfold/job/state.h"
#include "fanfold/kernels/fold.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"

#include <assert.h>
#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* One early result held until its turn: its header, then its input name,
   body and meta bytes. */
typedef struct {
    uint64_t seq;                   /* sequence number */
    uint32_t kernel;                /* kernel index in the job */
    uint32_t status;                /* FF_STATUS_OK or FF_STATUS_ERROR */
    uint32_t kind;                  /* FF_KIND_BYTES or FF_KIND_JSON */
    size_t input_len;               /* bytes of input name */
    size_t size;                    /* bytes of body */
    size_t meta_len;                /* bytes of meta */
    uint64_t worker;                /* who ran it (FF_DELIVERY_VENTILATOR: nobody) */
    uint32_t attempts;              /* runs in all, on every worker */
    uint64_t start_ms;              /* when it started (Unix ms) */
    uint64_t runtime_us;            /* time in the kernel */
    uint64_t bytes_in;              /* payload bytes */
    uint32_t chunk;                 /* chunk of its input */
    uint32_t chunks;                /* chunks of its input (1: whole) */
    size_t capacity;                /* bytes the block has room for after the header */
    char bytes [];                  /* input name, body, then meta */
} s_held_t;

/* Blocks of written early results are kept for the next ones, so that a
   job in steady state allocates nothing per result: at most one per slot
   of the reorder window, of at most S_SPARE_LARGEST bytes each. */
#define S_SPARE_LARGEST 4096
#define S_SPARE_SMALLEST 128

/* Invariants (ff_delivery_check): those of ff_delivery_counts_t; the
   reorder window is NULL exactly until the job begins, and then releases
   from counts.written, holds only seqs in [written, written + window) and
   never one at written once a take returns; first <= checkpointed <=
   written; nacks <= FF_MAX_ACK_SEQS, and 0 without an ack list;
   0 < nkernels <= FF_MAX_KERNELS once begun; nmarks <= FF_DELIVERY_MAX_MARKS,
   the marks' seqs strictly rising. */
struct ff_delivery {
    ff_output_t *output;            /* formatted writer on fd */
    int fd;                         /* output descriptor */
    int owns_fd;                    /* 1: opened here, closed at destroy */
    char *output_name;              /* its path, or "stdout" */
    FILE *joblog;                   /* --joblog file, or NULL */
    ff_folder_t *folder;            /* folds chunked inputs */
    ff_reorder_t *reorder;          /* early results; NULL until the job begins */
    size_t nkernels;                /* kernels of the job */
    char *kernels [FF_MAX_KERNELS]; /* their names */
    const ff_kernel_t *kernel_objs [FF_MAX_KERNELS]; /* for folding, or NULL */
    uint64_t *acks;                 /* seqs taken since the last clear, or NULL */
    size_t nacks;                   /* how many */
    ff_delivery_emit_fn *emit;      /* gets each written record, or NULL */
    void *emit_arg;                 /* its argument */
    char state_path [4096];         /* OUTPUT.fanfold-state, or "" */
    char signature [80];            /* names the job in the state file */
    int regular;                    /* 1: output_path is a regular file (locked, may
                                       keep state); 0: a stream */
    ff_state_t resumed;             /* the state resumed from; zeros when none */
    ff_state_t saving;              /* the state a checkpoint writes */
    uint64_t mark_seq [FF_DELIVERY_MAX_MARKS]; /* input marks not yet passed by the
                                       written mark (and the first one at or past it) */
    uint64_t mark_hash [FF_DELIVERY_MAX_MARKS]; /* their hashes */
    size_t nmarks;                  /* how many */
    int marks_seen;                 /* 1 once a mark came (or was resumed) */
    uint64_t base_bytes;            /* output bytes kept from an earlier run */
    uint64_t checkpointed;          /* written mark of the last checkpoint */
    int64_t last_checkpoint;        /* when it was made (caller's ms) */
    ff_delivery_counts_t counts;    /* what the summary prints */
    size_t account_at;              /* counts.workers index of the last result's worker */
    uint64_t account_untracked;     /* the last worker found untracked (the table was full) */
    ff_halt_t halt;                 /* --halt; when NEVER, nothing below halts */
    int halted;                     /* 1 once --halt stopped the job: nothing more is written */
    int halt_status;                /* the exit status it earned */
    int halt_waits;                 /* a percent to check once the total is known */
    uint64_t run_failed;            /* results this run wrote that failed (error records) */
    uint64_t run_succeeded;         /* and that succeeded */
    char *tag;                      /* --tag / --tagstring template, or NULL */
    ff_buf_t tag_line;              /* the tag of the record being written */
    char *results_dir;              /* --results DIR, or NULL */
    ff_delivery_fields_fn *fields;  /* a task's fields for --results, or NULL */
    void *fields_arg;               /* its argument */
    uint64_t *done_seqs;            /* joblog resume: seqs done earlier, sorted, or NULL */
    size_t ndone;                   /* how many */
    int pipe;                       /* the joblog's Send counts the payload */
    int joblog_append;              /* 1: the joblog resumed is appended to */
    ff_format_t format;             /* raw or jsonl */
    s_held_t **spare;               /* blocks of written early results, for reuse */
    size_t nspare;                  /* how many */
    size_t spare_max;               /* room in spare: the window */
};

static void
    s_halt_check (ff_delivery_t *self, const ff_record_t *record);

/* ------------------------------------------------------------- opening */

/* Opens output_path without cutting it yet. A regular file is locked for
   the job (a second job on it is refused) and, with keep_state, gets a
   state file next to its real path; with resume, the state is loaded. A
   pipe or device is a stream: no lock, no state, and resume is refused.
   Returns 0 or -1 with a message in error. */
static int
s_open_output (ff_delivery_t *self, const ff_delivery_options_t *options,
               char *error, size_t size)
{
    const char *path = options->output_path;
    struct stat info;
    self->fd = open (path, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
    if (self->fd < 0) {
        snprintf (error, size, "%s: cannot open for writing: %s", path, strerror (errno));
        return -1;
    }
    self->owns_fd = 1;
    if (fstat (self->fd, &info) != 0) {
        snprintf (error, size, "%s: cannot stat: %s", path, strerror (errno));
        return -1;
    }
    self->regular = S_ISREG (info.st_mode);
    if (!self->regular) {
        if (options->resume) {
            snprintf (error, size, "--resume needs a regular file as -o; %s is not one", path);
            return -1;
        }
        return 0;                   /* written as a stream */
    }
    if (flock (self->fd, LOCK_EX | LOCK_NB) != 0) {
        if (errno == EWOULDBLOCK)
            snprintf (error, size, "%s is being written by another fanfold job", path);
        else
            snprintf (error, size, "%s: cannot lock: %s", path, strerror (errno));
        return -1;
    }
    if (options->keep_state) {
        /* next to the file itself: -o /dev/stdout names one elsewhere */
        char *real = realpath (path, NULL);
        int too_long = ff_state_path (real? real: path, self->state_path,
                                      sizeof (self->state_path));
        free (real);
        if (too_long) {
            snprintf (error, size, "%s: path too long", path);
            return -1;
        }
    }
    if (!options->resume)
        return 0;
    ff_state_t *state = &self->resumed;
    if (ff_state_load (self->state_path, state) != 0) {
        if (errno != ENOENT) {
            snprintf (error, size, "%s: not a fanfold state file; cannot resume",
                      self->state_path);
            return -1;
        }
        ff_log_info ("no %s: starting from the beginning", self->state_path);
        memset (state, 0, sizeof (*state));
        return 0;
    }
    if (strcmp (state->signature, self->signature) != 0) {
        snprintf (error, size, "%s belongs to a different job (other options, or inputs "
                  "that changed since); run without --resume to start again", self->state_path);
        return -1;
    }
    if ((uint64_t) info.st_size < state->bytes) {
        snprintf (error, size, "%s is shorter than %s says (%" PRIu64 " bytes); cannot resume",
                  path, self->state_path, state->bytes);
        return -1;
    }
    return 0;
}

/* Opens the joblog without cutting it yet. Returns 0 or -1 with a message
   in error; refuses the output's own file. */
static int
s_open_joblog (ff_delivery_t *self, const char *path, char *error, size_t size)
{
    struct stat joblog, output;
    int fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0) {
        snprintf (error, size, "%s: cannot open for writing: %s", path, strerror (errno));
        return -1;
    }
    if (fstat (fd, &joblog) == 0 && fstat (self->fd, &output) == 0
    &&  joblog.st_dev == output.st_dev && joblog.st_ino == output.st_ino) {
        snprintf (error, size, "--joblog %s is the output file: give each its own", path);
        close (fd);
        return -1;
    }
    self->joblog = fdopen (fd, "a");
    if (!self->joblog) {
        snprintf (error, size, "out of memory");
        close (fd);
        return -1;
    }
    return 0;
}

static int
s_seq_compare (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *) a, y = *(const uint64_t *) b;
    return x < y? -1: x > y;
}

/* Returns 1 when seq is among the tasks a resumed joblog says are done. */
static int
s_done_earlier (const ff_delivery_t *self, uint64_t seq)
{
    return self->ndone
        && bsearch (&seq, self->done_seqs, self->ndone, sizeof (uint64_t), s_seq_compare) != NULL;
}

/* Reads the tasks done from the joblog at path as GNU parallel's --resume
   (every Seq) or --resume-failed (Seqs with Exitval and Signal 0) does:
   the header, then lines of at least 9 tab-separated columns. A missing
   or empty joblog has none. Sets the first seq to write: the Seqs from 1
   on without a gap. Returns 0 or -1 with a message in error. */
static int
s_read_joblog (ff_delivery_t *self, const char *path, ff_joblog_resume_t mode,
               char *error, size_t size)
{
    FILE *file = fopen (path, "r");
    char *line = NULL;
    size_t cap = 0, room = 0, number = 0;
    ssize_t len;
    int rc = 0;
    if (!file && errno == ENOENT)
        return 0;                   /* nothing done yet */
    if (!file) {
        snprintf (error, size, "%s: cannot read: %s", path, strerror (errno));
        return -1;
    }
    while ((len = getline (&line, &cap, file)) >= 0) {
        char *column [9] = { NULL }, *at = line, *end;
        int count = 0;
        number++;
        if (number == 1 && strncmp (line, "Seq\t", 4) == 0)
            continue;
        while (count < 9 && at) {
            column [count++] = at;
            at = strchr (at, '\t');
            if (at)
                *at++ = 0;
        }
        if (len > 0 && line [len - 1] == '\n')
            line [len - 1] = 0;     /* a Command that is the last column */
        errno = 0;
        unsigned long long seq = strtoull (column [0], &end, 10);
        if (count < 9 || end == column [0] || *end || errno || seq == 0) {
            snprintf (error, size, "%s: line %zu is not a joblog line (Seq Host Starttime "
                      "JobRuntime Send Receive Exitval Signal Command)", path, number);
            rc = -1;
            break;
        }
        if (mode == FF_JOBLOG_RESUME_SUCCEEDED
        &&  (strcmp (column [6], "0") != 0 || strcmp (column [7], "0") != 0))
            continue;
        if (self->ndone == room) {
            size_t grown = room? 2 * room: 256;
            uint64_t *seqs = (uint64_t *) realloc (self->done_seqs, grown * sizeof (uint64_t));
            if (!seqs) {
                snprintf (error, size, "out of memory");
                rc = -1;
                break;
            }
            self->done_seqs = seqs;
            room = grown;
        }
        self->done_seqs [self->ndone++] = seq - 1;
    }
    free (line);
    fclose (file);
    if (rc || self->ndone == 0)
        return rc;
    qsort (self->done_seqs, self->ndone, sizeof (uint64_t), s_seq_compare);
    size_t kept = 1, index;
    for (index = 1; index < self->ndone; index++)
        if (self->done_seqs [index] != self->done_seqs [kept - 1])
            self->done_seqs [kept++] = self->done_seqs [index];
    self->ndone = kept;
    /* the first seqs without a gap are never sent again (the ventilator
       skips them); a later one done earlier is dropped when it comes */
    uint64_t first = 0;
    while (first < self->ndone && self->done_seqs [first] == first)
        first++;
    self->counts.first = self->counts.written = self->checkpointed = first;
    if (self->ndone)
        ff_log_info ("resuming from %s: %zu tasks done", path, self->ndone);
    return 0;
}

/* A resumed state: cuts the joblog before its first line past the
   written mark (Seq > written), or a last line cut short, since the
   lines written after the last checkpoint are written again. Lines are
   in seq order. Returns 0, or -1 with errno. */
static int
s_joblog_cut (ff_delivery_t *self, const char *path, uint64_t written)
{
    int fd = fileno (self->joblog);
    FILE *file = fopen (path, "r");
    char *line = NULL;
    size_t cap = 0;
    off_t keep = 0;
    ssize_t len;
    int first = 1;
    if (!file || fseeko (file, 0, SEEK_SET) != 0) {
        if (file)
            fclose (file);
        return -1;
    }
    while ((len = getline (&line, &cap, file)) > 0) {
        char *end;
        unsigned long long seq = strtoull (line, &end, 10);
        if (line [len - 1] != '\n' || (!first && (end == line || seq > written)))
            break;
        keep += len;
        first = 0;
    }
    free (line);
    fclose (file);
    return ftruncate (fd, keep);
}

/* Cuts the output back to what the resumed state says is complete (a
   regular file not resumed: to nothing) and starts the joblog (appended
   to when resuming, after its lines past the written mark are cut; else
   emptied and given its header). Returns 0 or -1 with a message in
   error. */
static int
s_cut (ff_delivery_t *self, const char *path, const char *joblog_path, char *error, size_t size)
{
    const ff_state_t *state = &self->resumed;
    if (self->regular
    &&  (ftruncate (self->fd, (off_t) state->bytes) != 0 || lseek (self->fd, 0, SEEK_END) < 0)) {
        snprintf (error, size, "%s: cannot cut back to %" PRIu64 " bytes: %s", path,
                  state->bytes, strerror (errno));
        return -1;
    }
    if (state->written > 0) {
        self->counts.first = self->counts.written = self->checkpointed = state->written;
        self->base_bytes = state->bytes;
        self->counts.errors = state->errors;
        ff_log_info ("resuming: %" PRIu64 " results (%" PRIu64 " bytes) already in %s",
                     state->written, state->bytes, path);
    }
    if (self->joblog && self->joblog_append) {
        /* a resumed joblog: appended to, with the header when empty */
        struct stat info;
        if (fstat (fileno (self->joblog), &info) == 0 && info.st_size == 0)
            fputs (FF_DELIVERY_JOBLOG_HEADER, self->joblog);
    }
    else
    if (self->joblog && state->written == 0) {
        if (ftruncate (fileno (self->joblog), 0) != 0) {
            snprintf (error, size, "cannot empty the joblog: %s", strerror (errno));
            return -1;
        }
        fputs (FF_DELIVERY_JOBLOG_HEADER, self->joblog);
    }
    else
    if (self->joblog && s_joblog_cut (self, joblog_path, state->written)) {
        snprintf (error, size, "cannot cut the joblog back to %" PRIu64 " tasks: %s",
                  state->written, strerror (errno));
        return -1;
    }
    return 0;
}

ff_delivery_t *
ff_delivery_new (const ff_delivery_options_t *options, char *error, size_t size)
{
    assert (options && error && size > 0);
    const char *signature = options->signature? options->signature: "-";
    assert (!options->keep_state || options->output_path);
    assert (!options->resume || options->keep_state);
    assert (!options->joblog_resume || (options->joblog_path && !options->resume));
    ff_delivery_t *self = (ff_delivery_t *) calloc (1, sizeof (ff_delivery_t));
    if (!self) {
        snprintf (error, size, "out of memory");
        return NULL;
    }
    self->fd = options->output_fd;
    self->counts.total = -1;
    self->emit = options->emit;
    self->emit_arg = options->emit_arg;
    self->halt = options->halt;
    self->fields = options->fields;
    self->fields_arg = options->fields_arg;
    self->pipe = options->pipe;
    self->format = options->format;
    if ((options->tag && !(self->tag = strdup (options->tag)))
    ||  (options->results_dir && !(self->results_dir = strdup (options->results_dir)))) {
        snprintf (error, size, "out of memory");
        goto fail;
    }
    if (options->joblog_resume) {
        self->joblog_append = 1;
        if (s_read_joblog (self, options->joblog_path, options->joblog_resume, error, size))
            goto fail;
    }
    if (strlen (signature) >= sizeof (self->signature) || strpbrk (signature, " \t\n")) {
        snprintf (error, size, "--signature must be one word under %zu bytes",
                  sizeof (self->signature));
        goto fail;
    }
    snprintf (self->signature, sizeof (self->signature), "%s", signature);
    if (options->output_path && s_open_output (self, options, error, size))
        goto fail;
    if (options->joblog_path && s_open_joblog (self, options->joblog_path, error, size))
        goto fail;
    if (s_cut (self, options->output_path? options->output_path: "stdout", options->joblog_path,
               error, size))
        goto fail;
    self->output_name = strdup (options->output_path? options->output_path: "stdout");
    self->output = ff_output_new (self->fd, options->format);
    self->folder = ff_folder_new ();
    if (options->list_acks)
        self->acks = (uint64_t *) calloc (FF_MAX_ACK_SEQS, sizeof (uint64_t));
    if (!self->output_name || !self->output || !self->folder
    ||  (options->list_acks && !self->acks)) {
        snprintf (error, size, "out of memory");
        goto fail;
    }
    ff_output_set_errors (self->output, self->counts.errors);
    ff_output_set_failed (self->output, self->resumed.failed);
    if (self->resumed.marked)
        ff_delivery_mark (self, self->resumed.input_seq, self->resumed.input_hash);
    if (self->resumed.written > 0 && ff_folder_load (self->folder, self->resumed.folds)) {
        snprintf (error, size, "%s: a fold line is malformed; run without --resume to start "
                  "again", self->state_path);
        goto fail;
    }
    return self;
fail:
    ff_delivery_destroy (&self);
    return NULL;
}

void
ff_delivery_destroy (ff_delivery_t **self_p)
{
    if (self_p && *self_p) {
        ff_delivery_t *self = *self_p;
        size_t index;
        ff_output_destroy (&self->output);
        if (self->owns_fd)
            close (self->fd);
        if (self->joblog)
            fclose (self->joblog);
        ff_reorder_destroy (&self->reorder);
        ff_folder_destroy (&self->folder);
        for (index = 0; index < self->nkernels; index++)
            free (self->kernels [index]);
        while (self->nspare > 0)
            free (self->spare [--self->nspare]);
        free (self->spare);
        free (self->acks);
        free (self->output_name);
        free (self->tag);
        free (self->tag_line.data);
        free (self->results_dir);
        free (self->done_seqs);
        free (self);
        *self_p = NULL;
    }
}

/* ------------------------------------------------------------- the job */

int
ff_delivery_begin (ff_delivery_t *self, const ff_str_t *kernels, size_t nkernels,
                   uint64_t window, int64_t total)
{
    size_t index;
    assert (self && (kernels || nkernels == 0));
    if (self->reorder || window == 0 || nkernels == 0 || nkernels > FF_MAX_KERNELS) {
        errno = EINVAL;
        return -1;
    }
    for (index = 0; index < nkernels; index++) {
        self->kernels [index] = ff_str_dup (kernels [index]);
        if (!self->kernels [index])
            goto fail;
        self->kernel_objs [index] = ff_kernels_find (self->kernels [index]);
        self->nkernels = index + 1;
    }
    if (total >= 0 && (uint64_t) total < self->counts.written) {
        errno = ERANGE;             /* fewer tasks than a resumed state wrote */
        goto fail_range;
    }
    self->reorder = ff_reorder_new ((size_t) window, self->counts.first, free);
    if (!self->reorder)
        goto fail;
    /* no spares (and an allocation per early result) when there is no room */
    self->spare = (s_held_t **) calloc ((size_t) window, sizeof (s_held_t *));
    self->spare_max = self->spare? (size_t) window: 0;
    self->counts.total = total < 0? -1: total;
    return 0;
fail:
    errno = ENOMEM;
fail_range:
    for (index = 0; index < self->nkernels; index++) {
        free (self->kernels [index]);
        self->kernels [index] = NULL;
    }
    self->nkernels = 0;
    return -1;
}

int
ff_delivery_set_total (ff_delivery_t *self, int64_t total)
{
    assert (self);
    if (total < 0 || self->counts.total >= 0)
        return 0;
    if ((uint64_t) total < self->counts.written) {
        errno = ERANGE;             /* a resumed state wrote more: never done */
        return -1;
    }
    self->counts.total = total;
    if (self->halt_waits)
        s_halt_check (self, NULL);
    return 1;
}

/* ------------------------------------------------------ writing one result */

/* Builds the output record of a result: its header, input, body, meta. */
static ff_record_t
s_record (ff_delivery_t *self, const s_held_t *held, const char *input, const char *body,
          const char *meta)
{
    ff_record_t record = {
        .seq = held->seq, .input = input, .input_len = held->input_len,
        .kernel = self->kernels [held->kernel], .status = held->status,
        .kind = held->kind, .body = body, .size = held->size, .meta = meta,
        .meta_len = held->meta_len
    };
    return record;
}

/* Finds the member "key": at a member boundary of meta; returns where
   its value starts, or NULL. */
static const char *
s_meta_find (const char *meta, size_t len, const char *key)
{
    size_t key_len = strlen (key), at;
    if (!meta)
        return NULL;
    for (at = 0; at + key_len + 3 <= len; at++)
        if ((at == 0 || meta [at - 1] == ',') && meta [at] == '"'
        &&  memcmp (meta + at + 1, key, key_len) == 0
        &&  meta [at + 1 + key_len] == '"' && meta [at + 2 + key_len] == ':')
            return meta + at + key_len + 3;
    return NULL;
}

/* Reads the integer member key of meta (len bytes, not NUL-terminated)
   into *value; returns 1 when found. */
static int
s_meta_int (const char *meta, size_t len, const char *key, long *value)
{
    const char *at = s_meta_find (meta, len, key), *end;
    int negative = 0, digits = 0;
    long number = 0;
    if (!at)
        return 0;
    end = meta + len;
    if (at < end && *at == '-') {
        negative = 1;
        at++;
    }
    while (at < end && *at >= '0' && *at <= '9' && digits < 18) {
        number = number * 10 + (*at++ - '0');
        digits++;
    }
    *value = negative? -number: number;
    return digits > 0;
}

/* Writes the string member key of meta to file, JSON escapes undone and
   newlines written as NUL (as GNU parallel's joblog does); returns 1 when
   found. */
static int
s_meta_string (FILE *file, const char *meta, size_t len, const char *key)
{
    const char *at = s_meta_find (meta, len, key), *end;
    if (!at || *at != '"')
        return 0;
    end = meta + len;
    for (at++; at < end && *at != '"'; at++) {
        char c = *at;
        if (c == '\\' && at + 1 < end) {
            switch (c = *++at) {
                case 'n': c = '\n'; break;
                case 't': c = '\t'; break;
                case 'r': c = '\r'; break;
                case 'b': c = '\b'; break;
                case 'f': c = '\f'; break;
                case 'u':
                    if (at + 4 < end) {
                        /* ff_json_escape writes u00XX escapes only, for control bytes */
                        char hex [5] = { at [1], at [2], at [3], at [4], 0 };
                        c = (char) strtol (hex, NULL, 16);
                        at += 4;
                    }
                    break;
                default:            /* \" \\ \/ stand for themselves */
                    break;
            }
        }
        fputc (c == '\n'? 0: c, file);
    }
    return 1;
}

/* Writes text to the joblog with tab, newline and backslash escaped. */
static void
s_joblog_escaped (FILE *file, const char *text, size_t len)
{
    size_t index;
    for (index = 0; index < len; index++) {
        char c = text [index];
        if (c == '\t')
            fputs ("\\t", file);
        else
        if (c == '\n')
            fputs ("\\n", file);
        else
        if (c == '\\')
            fputs ("\\\\", file);
        else
            fputc (c, file);
    }
}

/* Writes the joblog line of one result; input is its input name: GNU
   parallel's columns (Seq from 1, Host, Starttime, JobRuntime, Send,
   Receive, Exitval, Signal, Command), then fanfold's (Worker, Attempts,
   Status, Input escaped). Exitval is the command's exit value, -1 for a
   task that did not end by itself; Command is the command line, or the
   kernel and the input name for other kernels. */
static void
s_joblog (ff_delivery_t *self, const s_held_t *held, const char *input, const char *meta)
{
    long exit_value = 0, signal_number = 0;
    if (!self->joblog)
        return;
    int ok = held->status == FF_STATUS_OK;
    int has_exit = s_meta_int (meta, held->meta_len, "exit", &exit_value);
    int has_signal = s_meta_int (meta, held->meta_len, "signal", &signal_number);
    int finished = ok || s_meta_find (meta, held->meta_len, "failed") != NULL;
    if (!ok && !has_exit && !has_signal)
        exit_value = -1;
    fprintf (self->joblog, "%" PRIu64 "\t:\t%.3f\t%10.3f\t%" PRIu64 "\t%zu\t%ld\t%ld\t",
             held->seq + 1, (double) held->start_ms / 1000.0,
             (double) held->runtime_us / 1e6, self->pipe? held->bytes_in: 0,
             finished? held->size: 0, exit_value, signal_number);
    if (!s_meta_string (self->joblog, meta, held->meta_len, "command")) {
        size_t index;
        fputs (self->kernels [held->kernel], self->joblog);
        fputc (' ', self->joblog);
        for (index = 0; index < held->input_len; index++)
            fputc (input [index] == '\n'? 0: input [index], self->joblog);
    }
    fprintf (self->joblog, "\t%" PRIu64 "\t%u\t%s\t", held->worker, held->attempts,
             ok? "ok": "error");
    s_joblog_escaped (self->joblog, input, held->input_len);
    fputc ('\n', self->joblog);
}

/* Counts one written result, and its worker's share of the work. */
static void
s_account (ff_delivery_t *self, const s_held_t *held)
{
    ff_delivery_counts_t *counts = &self->counts;
    size_t index;
    counts->delivered++;
    if (held->attempts > 1)
        counts->retried++;
    /* results come a message of one worker at a time: the last one's
       worker first, before a search of the table */
    index = self->account_at;
    if (index >= counts->nworkers || counts->workers [index].worker != held->worker) {
        if (held->worker == self->account_untracked && held->worker != 0)
            return;
        for (index = 0; index < counts->nworkers; index++)
            if (counts->workers [index].worker == held->worker)
                break;
    }
    self->account_at = index;
    if (index == counts->nworkers) {
        if (index == FF_DELIVERY_MAX_WORKERS) {
            self->account_untracked = held->worker;
            return;
        }
        counts->workers [index].worker = held->worker;
        counts->nworkers++;
    }
    counts->workers [index].tasks++;
    counts->workers [index].busy_us += held->runtime_us;
}

/* Expands the --tag / --tagstring template for one record into
   tag_line: {} is its input name, {#} its seq + 1; the rest as written.
   Returns 0 or -1 when memory runs out. */
static int
s_tag (ff_delivery_t *self, const ff_record_t *record)
{
    const char *at = self->tag;
    char number [24];
    self->tag_line.size = 0;
    while (*at) {
        if (strncmp (at, "{}", 2) == 0) {
            if (record->input_len
            &&  ff_buf_append (&self->tag_line, record->input, record->input_len))
                return -1;
            at += 2;
        }
        else
        if (strncmp (at, "{#}", 3) == 0) {
            snprintf (number, sizeof (number), "%" PRIu64, record->seq + 1);
            if (ff_buf_puts (&self->tag_line, number))
                return -1;
            at += 3;
        }
        else
        if (ff_buf_append (&self->tag_line, at++, 1))
            return -1;
    }
    return ff_buf_append (&self->tag_line, "\t", 1);
}

/* Writes size bytes at data to the file path (created or emptied).
   Returns 0 or -1 with errno. */
static int
s_write_file (const char *path, const void *data, size_t size)
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    const char *at = (const char *) data;
    if (fd < 0)
        return -1;
    while (size > 0) {
        ssize_t done = write (fd, at, size);
        if (done < 0 && errno == EINTR)
            continue;
        if (done < 0) {
            int code = errno;
            close (fd);
            errno = code;
            return -1;
        }
        at += done;
        size -= (size_t) done;
    }
    return close (fd);
}

/* Appends one field to the --results path as GNU parallel names it: `\`
   written `\\` and `/` written `\_`. Returns 0 or -1. */
static int
s_results_field (ff_buf_t *path, size_t number, const char *field, size_t len)
{
    char head [32];
    size_t index;
    snprintf (head, sizeof (head), "/%zu/", number);
    if (ff_buf_puts (path, head))
        return -1;
    for (index = 0; index < len; index++)
        if (field [index] == '\\'? ff_buf_puts (path, "\\\\")
          : field [index] == '/'? ff_buf_puts (path, "\\_")
          : ff_buf_append (path, field + index, 1))
            return -1;
    return 0;
}

/* Makes every directory of path (NUL-terminated, in a buffer it may cut
   and mend). Returns 0 or -1 with errno. */
static int
s_make_dirs (char *path)
{
    char *at;
    for (at = path + 1; ; at++) {
        if (*at != '/' && *at != 0)
            continue;
        char kept = *at;
        *at = 0;
        int rc = mkdir (path, 0755);
        *at = kept;
        if (rc != 0 && errno != EEXIST)
            return -1;
        if (!kept)
            return 0;
    }
}

/* --results: DIR/1/FIELD1/2/FIELD2/... holding seq (seq + 1, no newline),
   stdout (the command's output; empty for a task that did not run to its
   end) and stderr (empty: a command's stderr is not captured). Returns 0
   or -1 with errno. */
static int
s_results (ff_delivery_t *self, const ff_record_t *record, int finished)
{
    ff_buf_t path = { 0 };
    const char *data = record->input;
    size_t size = record->input_len, start = 0, index, number = 1, dir_len;
    char seq [24];
    int rc = -1;
    if (self->fields)
        self->fields (self->fields_arg, record->seq, &data, &size);
    if (ff_buf_puts (&path, self->results_dir))
        goto done;
    for (index = 0; index <= size; index++)
        if (index == size || (self->fields && data [index] == 0)) {
            if (s_results_field (&path, number++, data + start, index - start))
                goto done;
            start = index + 1;
        }
    dir_len = path.size;
    if (ff_buf_append (&path, "\0", 1))
        goto done;
    if (s_make_dirs ((char *) path.data))
        goto done;
    path.size = dir_len;
    snprintf (seq, sizeof (seq), "%" PRIu64, record->seq + 1);
    if (ff_buf_append (&path, "/seq", 5)
    ||  s_write_file ((char *) path.data, seq, strlen (seq)))
        goto done;
    path.size = dir_len;
    if (ff_buf_append (&path, "/stdout", 8)
    ||  s_write_file ((char *) path.data, record->body, finished? record->size: 0))
        goto done;
    path.size = dir_len;
    if (ff_buf_append (&path, "/stderr", 8)
    ||  s_write_file ((char *) path.data, "", 0))
        goto done;
    rc = 0;
done:
    if (rc && errno == 0)
        errno = ENOMEM;
    free (path.data);
    return rc;
}

/* --halt: the exit status when the job halts now, after record (NULL:
   no single task; see ff_delivery_exit_status). */
static int
s_halt_status (ff_delivery_t *self, const ff_record_t *record)
{
    long value;
    if (self->halt.why == FF_HALT_SUCCESS)
        return FF_EXIT_OK;
    if (self->halt.percent && self->counts.total > 0)
        return (int) ceil ((double) self->run_failed * 100.0 / (double) self->counts.total);
    if (self->halt.count == 1 && record) {
        if (record->status == FF_STATUS_OK)
            return FF_EXIT_OK;
        if (s_meta_int (record->meta, record->meta_len, "exit", &value) && value != 0)
            return (int) (value & 0xff);
        if (s_meta_int (record->meta, record->meta_len, "signal", &value) && value != 0)
            return FF_EXIT_SIGNAL_BASE + (int) value;
        return FF_EXIT_JOB_KILLED;
    }
    return self->run_failed < FF_EXIT_FAILED_MAX? (int) self->run_failed: FF_EXIT_FAILED_MAX;
}

/* --halt: checks its condition after record (NULL: the total just became
   known), counting in seq order as GNU parallel counts with -j1. */
static void
s_halt_check (ff_delivery_t *self, const ff_record_t *record)
{
    uint64_t counted;
    if (self->halt.when == FF_HALT_NEVER || self->halted)
        return;
    if (record && record->status != FF_STATUS_OK && self->halt.why == FF_HALT_SUCCESS)
        return;
    if (record && record->status == FF_STATUS_OK && self->halt.why == FF_HALT_FAIL)
        return;
    counted = self->halt.why == FF_HALT_FAIL? self->run_failed
            : self->halt.why == FF_HALT_SUCCESS? self->run_succeeded
            : self->run_failed + self->run_succeeded;
    if (counted == 0)
        return;
    if (self->halt.percent) {
        if (self->counts.total < 0) {
            self->halt_waits = 1;   /* checked again once the total is known */
            return;
        }
        if ((double) counted < (double) self->counts.total * self->halt.percent / 100.0)
            return;
    }
    else
    if (counted < self->halt.count)
        return;
    self->halted = 1;
    self->halt_status = s_halt_status (self, record);
    ff_log_info ("--halt: stopping after task %" PRIu64,
                 record? record->seq: self->counts.written);
}

/* Writes one result whose turn has come: joblog, counts, fold, emit,
   output, --results and --halt. A task done by an earlier run (joblog
   resume), or one after --halt stopped the job, is counted only. */
static ff_delivery_rc_t
s_deliver (ff_delivery_t *self, const s_held_t *held, const char *input, const char *body,
           const char *meta)
{
    ff_record_t record = s_record (self, held, input, body, meta), folded;
    if (self->halted || s_done_earlier (self, held->seq)) {
        s_account (self, held);
        return FF_DELIVERY_WRITTEN;
    }
    s_joblog (self, held, input, meta);
    s_account (self, held);
    if (!ff_folder_take (self->folder, self->kernel_objs [held->kernel], held->kernel,
                         &record, held->chunk, held->chunks, &folded))
        return FF_DELIVERY_WRITTEN;     /* absorbed into a fold */
    ff_delivery_rc_t rc = FF_DELIVERY_WRITTEN;
    if (self->emit && self->emit (self->emit_arg, &folded) != 0)
        rc = FF_DELIVERY_EMIT_FAILED;
    if (self->tag && s_tag (self, &folded) == 0) {
        folded.tag = (const char *) self->tag_line.data;
        folded.tag_len = self->tag_line.size;
    }
    ff_record_t shown = folded;
    if (self->results_dir && self->format == FF_FORMAT_RAW) {
        /* --results: the output goes to the files only, as parallel */
        shown.size = 0;
        shown.kind = FF_KIND_BYTES;
    }
    if (ff_output_write (self->output, &shown) != 0) {
        if (!self->counts.write_failed)
            self->counts.write_errno = errno;
        self->counts.write_failed = 1;
        rc = FF_DELIVERY_WRITE_FAILED;
    }
    int finished = folded.status == FF_STATUS_OK
                || s_meta_find (folded.meta, folded.meta_len, "failed") != NULL;
    if (self->results_dir && rc != FF_DELIVERY_WRITE_FAILED && s_results (self, &folded, finished)) {
        ff_log_error ("--results %s: cannot write the files of task %" PRIu64 ": %s",
                      self->results_dir, folded.seq + 1, strerror (errno));
        if (!self->counts.write_failed)
            self->counts.write_errno = errno;
        self->counts.write_failed = 1;
        rc = FF_DELIVERY_WRITE_FAILED;
    }
    if (folded.status == FF_STATUS_OK)
        self->run_succeeded++;
    else
        self->run_failed++;
    s_halt_check (self, &folded);
    return rc;
}

/* Of two outcomes of one take, the one the caller must hear about. */
static ff_delivery_rc_t
s_worse (ff_delivery_rc_t a, ff_delivery_rc_t b)
{
    if (a == FF_DELIVERY_WRITE_FAILED || b == FF_DELIVERY_WRITE_FAILED)
        return FF_DELIVERY_WRITE_FAILED;
    if (a == FF_DELIVERY_EMIT_FAILED || b == FF_DELIVERY_EMIT_FAILED)
        return FF_DELIVERY_EMIT_FAILED;
    return a;
}

/* Returns a block with room for bytes after its header: a spare one when
   the last one kept is large enough, else a new one. NULL when out of
   memory. */
static s_held_t *
s_held_new (ff_delivery_t *self, size_t bytes)
{
    if (self->nspare > 0 && self->spare [self->nspare - 1]->capacity >= bytes)
        return self->spare [--self->nspare];
    size_t capacity = bytes < S_SPARE_SMALLEST? S_SPARE_SMALLEST: bytes;
    s_held_t *held = (s_held_t *) malloc (sizeof (s_held_t) + capacity);
    if (held)
        held->capacity = capacity;
    return held;
}

/* Keeps a block that was written for the next early result, or frees it. */
static void
s_held_done (ff_delivery_t *self, s_held_t *held)
{
    if (held->capacity <= S_SPARE_LARGEST && self->nspare < self->spare_max)
        self->spare [self->nspare++] = held;
    else
        free (held);
}

/* Writes every held result whose turn has come. */
static ff_delivery_rc_t
s_release (ff_delivery_t *self, ff_delivery_rc_t rc)
{
    s_held_t *held;
    while ((held = (s_held_t *) ff_reorder_pop (self->reorder))) {
        rc = s_worse (rc, s_deliver (self, held, held->bytes, held->bytes + held->input_len,
                                     held->bytes + held->input_len + held->size));
        s_held_done (self, held);
    }
    self->counts.written = ff_reorder_next (self->reorder);
    return rc;
}

/* ------------------------------------------------------------ taking items */

/* Lists seq for the caller to ack. */
static void
s_list_ack (ff_delivery_t *self, uint64_t seq)
{
    if (!self->acks)
        return;
    if (self->nacks < FF_MAX_ACK_SEQS)
        self->acks [self->nacks++] = seq;
    else
        self->counts.unlisted_acks++;
}

ff_delivery_rc_t
ff_delivery_take (ff_delivery_t *self, uint64_t worker, const ff_item_t *item)
{
    assert (self && item);
    if (!self->reorder || item->kernel >= self->nkernels
    ||  (self->counts.total >= 0 && item->seq >= (uint64_t) self->counts.total)) {
        self->counts.refused++;
        return FF_DELIVERY_REFUSED;
    }
    s_held_t header = {
        .seq = item->seq, .kernel = item->kernel, .status = item->status,
        .kind = item->kind, .input_len = item->input.len, .size = item->data.len,
        .meta_len = item->meta.len, .worker = worker,
        /* a worker's result: earlier dispatches plus its own runs; the
           ventilator's error record (no runs): the dispatches it counted */
        .attempts = item->tries? (item->attempt? item->attempt - 1: 0) + item->tries
                               : item->attempt,
        .start_ms = item->start_ms, .runtime_us = item->runtime_us,
        .bytes_in = item->bytes_in, .chunk = item->chunk, .chunks = item->chunks
    };
    if (ff_reorder_claim (self->reorder, item->seq)) {
        /* its turn has come: written from the item, never copied */
        ff_delivery_rc_t rc = s_deliver (self, &header, item->input.ptr, item->data.ptr,
                                         item->meta.ptr);
        s_list_ack (self, item->seq);
        return s_release (self, rc);
    }
    ff_reorder_rc_t put;
    if (item->seq < ff_reorder_next (self->reorder))
        put = FF_REORDER_DUPLICATE;     /* no copy of what is written already */
    else
    if (item->seq - ff_reorder_next (self->reorder) >= ff_reorder_window (self->reorder))
        put = FF_REORDER_OUT_OF_WINDOW;
    else {
        s_held_t *held = s_held_new (self, item->input.len + item->data.len + item->meta.len);
        if (!held)
            return FF_DELIVERY_NO_MEMORY;
        size_t capacity = held->capacity;
        *held = header;
        held->capacity = capacity;
        if (item->input.len)
            memcpy (held->bytes, item->input.ptr, item->input.len);
        if (item->data.len)
            memcpy (held->bytes + item->input.len, item->data.ptr, item->data.len);
        if (item->meta.len)
            memcpy (held->bytes + item->input.len + item->data.len, item->meta.ptr,
                    item->meta.len);
        put = ff_reorder_put (self->reorder, item->seq, held);
        if (put != FF_REORDER_STORED)
            s_held_done (self, held);
    }
    if (put == FF_REORDER_DUPLICATE) {
        self->counts.duplicates++;
        return FF_DELIVERY_DUPLICATE;
    }
    if (put == FF_REORDER_OUT_OF_WINDOW) {
        self->counts.refused++;
        return FF_DELIVERY_OUT_OF_WINDOW;
    }
    s_list_ack (self, item->seq);
    return FF_DELIVERY_HELD;
}

void
ff_delivery_result_item (ff_item_t *item, const ff_kernel_t *kernel, int rc,
                         const ff_result_t *result)
{
    assert (item && result);
    item->status = rc == 0? FF_STATUS_OK: FF_STATUS_ERROR;
    item->kind = kernel && (kernel->flags & FF_KERNEL_JSON)? FF_KIND_JSON: FF_KIND_BYTES;
    item->data.ptr = (const char *) result->data.data;
    item->data.len = result->data.size;
    item->meta.ptr = (const char *) result->meta.data;
    item->meta.len = result->meta.size;
}

uint64_t
ff_delivery_written (ff_delivery_t *self)
{
    assert (self);
    return self->counts.written;
}

int
ff_delivery_halted (ff_delivery_t *self)
{
    assert (self);
    return self->halted;
}

int
ff_delivery_done (ff_delivery_t *self)
{
    assert (self);
    return self->reorder && self->counts.total >= 0
        && self->counts.written == (uint64_t) self->counts.total;
}

/* ----------------------------------------------------------- input marks */

/* Drops the marks that the written mark has passed: the first one at or
   past it is the one a checkpoint keeps. */
static void
s_prune_marks (ff_delivery_t *self)
{
    size_t passed = 0;
    while (passed < self->nmarks && self->mark_seq [passed] < self->counts.written)
        passed++;
    memmove (self->mark_seq, self->mark_seq + passed, (self->nmarks - passed) * sizeof (uint64_t));
    memmove (self->mark_hash, self->mark_hash + passed,
             (self->nmarks - passed) * sizeof (uint64_t));
    self->nmarks -= passed;
}

void
ff_delivery_mark (ff_delivery_t *self, uint64_t seq, uint64_t hash)
{
    assert (self);
    self->marks_seen = 1;
    s_prune_marks (self);
    if (seq < self->counts.written
    ||  (self->nmarks && seq <= self->mark_seq [self->nmarks - 1]))
        return;                     /* passed already, or not rising */
    if (self->nmarks == FF_DELIVERY_MAX_MARKS)
        self->nmarks--;             /* the newest replaces the last: one stays ahead */
    self->mark_seq [self->nmarks] = seq;
    self->mark_hash [self->nmarks] = hash;
    self->nmarks++;
}

int
ff_delivery_resumed_mark (ff_delivery_t *self, uint64_t *seq, uint64_t *hash)
{
    assert (self && seq && hash);
    if (!self->resumed.marked || self->resumed.written == 0)
        return 0;
    *seq = self->resumed.input_seq;
    *hash = self->resumed.input_hash;
    return 1;
}

/* ---------------------------------------------------- acks and checkpoints */

const uint64_t *
ff_delivery_acks (ff_delivery_t *self, size_t *count)
{
    assert (self && count);
    *count = self->reorder? self->nacks: 0;
    return self->acks && self->reorder? self->acks: NULL;
}

void
ff_delivery_acks_clear (ff_delivery_t *self)
{
    assert (self);
    self->nacks = 0;
}

int
ff_delivery_flush (ff_delivery_t *self)
{
    assert (self);
    if (ff_output_flush (self->output) == 0)
        return 0;
    if (!self->counts.write_failed)
        self->counts.write_errno = errno;
    self->counts.write_failed = 1;
    return -1;
}

ff_checkpoint_rc_t
ff_delivery_checkpoint (ff_delivery_t *self, int64_t now_ms, int force)
{
    assert (self);
    uint64_t written = self->counts.written;
    if (!*self->state_path || !self->reorder || written == self->checkpointed
    ||  (!force && now_ms - self->last_checkpoint < FF_DELIVERY_CHECKPOINT_MS))
        return FF_CHECKPOINT_SKIPPED;
    if (ff_delivery_flush (self) != 0)
        return FF_CHECKPOINT_OUTPUT_FAILED;
    if (fdatasync (self->fd) != 0) {
        if (!self->counts.write_failed)
            self->counts.write_errno = errno;
        self->counts.write_failed = 1;
        return FF_CHECKPOINT_OUTPUT_FAILED;
    }
    if (self->joblog) {
        fflush (self->joblog);
        fdatasync (fileno (self->joblog));
    }
    ff_state_t *state = &self->saving;
    memset (state, 0, sizeof (*state));
    snprintf (state->signature, sizeof (state->signature), "%s", self->signature);
    state->written = written;
    state->bytes = self->base_bytes + ff_output_offset (self->output);
    state->errors = ff_output_errors (self->output);
    state->failed = ff_output_failed (self->output);
    if (ff_folder_save (self->folder, state->folds, sizeof (state->folds)) < 0)
        return FF_CHECKPOINT_SKIPPED;   /* folds too large to keep: the last state stands */
    s_prune_marks (self);
    if (self->nmarks) {
        state->marked = 1;
        state->input_seq = self->mark_seq [0];
        state->input_hash = self->mark_hash [0];
    }
    else
    if (self->marks_seen)
        return FF_CHECKPOINT_SKIPPED;   /* no mark covers the records written yet */
    /* a failed save leaves the last one, which claims less: try again later */
    self->last_checkpoint = now_ms;
    if (ff_state_save (self->state_path, state) != 0)
        return FF_CHECKPOINT_STATE_FAILED;
    self->checkpointed = written;
    return FF_CHECKPOINT_SAVED;
}

/* --------------------------------------------------------------- counts */

const ff_delivery_counts_t *
ff_delivery_counts (ff_delivery_t *self)
{
    assert (self);
    self->counts.errors = ff_output_errors (self->output);
    return &self->counts;
}

int
ff_delivery_exit_status (ff_delivery_t *self)
{
    assert (self);
    uint64_t errors = ff_output_errors (self->output);
    if (self->counts.write_failed)
        return self->counts.write_errno == EPIPE? FF_EXIT_PIPE_CLOSED: FF_EXIT_ERROR;
    if (self->halted)
        return self->halt_status;
    if (self->halt.when != FF_HALT_NEVER && self->halt.percent)
        return self->run_failed? (int) ceil ((double) self->run_failed * 100.0
                                             / (double) (self->counts.delivered? self->counts.delivered: 1))
                               : FF_EXIT_OK;
    if (self->halt.when != FF_HALT_NEVER)
        return self->run_failed < FF_EXIT_FAILED_MAX? (int) self->run_failed: FF_EXIT_FAILED_MAX;
    if (ff_output_failed (self->output))
        return errors < FF_EXIT_FAILED_MAX? (int) errors: FF_EXIT_FAILED_MAX;
    return errors? FF_EXIT_TASKS_FAILED: FF_EXIT_OK;
}

const char *
ff_delivery_output_name (ff_delivery_t *self)
{
    assert (self);
    return self->output_name;
}

const char *
ff_delivery_state_path (ff_delivery_t *self)
{
    assert (self);
    return self->state_path;
}

static uint64_t
s_held_seq (const void *item)
{
    return ((const s_held_t *) item)->seq;
}

void
ff_delivery_check (ff_delivery_t *self)
{
    assert (self);
    const ff_delivery_counts_t *counts = &self->counts;
    uint64_t tasks = 0;
    size_t index, other;
    assert (counts->first <= counts->written);
    assert (counts->total < 0 || counts->written <= (uint64_t) counts->total);
    assert (counts->written - counts->first == counts->delivered);
    assert (counts->nworkers <= FF_DELIVERY_MAX_WORKERS);
    for (index = 0; index < counts->nworkers; index++) {
        tasks += counts->workers [index].tasks;
        for (other = index + 1; other < counts->nworkers; other++)
            assert (counts->workers [index].worker != counts->workers [other].worker);
    }
    assert (tasks <= counts->delivered);
    assert (counts->errors <= ff_output_errors (self->output));
    assert (self->counts.first <= self->checkpointed && self->checkpointed <= counts->written);
    assert (self->nacks <= FF_MAX_ACK_SEQS && (self->acks || self->nacks == 0));
    assert (self->nkernels <= FF_MAX_KERNELS);
    assert (self->nmarks <= FF_DELIVERY_MAX_MARKS);
    for (index = 1; index < self->nmarks; index++)
        assert (self->mark_seq [index - 1] < self->mark_seq [index]);
    if (self->reorder) {
        assert (self->nkernels > 0);
        assert (ff_reorder_next (self->reorder) == counts->written);
        assert (!ff_reorder_due (self->reorder));
        ff_reorder_check (self->reorder, s_held_seq);
    }
    else
        assert (counts->written == counts->first && counts->delivered == 0);
    (void) tasks;
    (void) other;
}
