/*  fanfold delivery: takes the results of a job in any order and writes
    each seq once, in seq order: it drops duplicates and seqs outside the
    window, holds early results in the bounded reorder window, builds the
    output record of each result, folds chunked partial results, writes raw
    or jsonl output, one joblog line per task and the emit record (through a
    callback), keeps the resume state next to -o, and counts what the
    progress line and the summary print. It says what to ack; it has no
    socket and reads no clock (times are passed in). The sink feeds it the
    items of decoded result messages; --serial feeds it the items it builds
    from its own kernel runs: both write through the same code, which is why
    their bytes are the same. */

#ifndef FANFOLD_DELIVERY_H
#define FANFOLD_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "fanfold/kernel.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/options.h"
#include "fanfold/job/output.h"

typedef struct ff_delivery ff_delivery_t;

/* The worker id of an error record that the ventilator made for a task it
   gave up on: no worker ran it (its attempts are the dispatches counted). */
#define FF_DELIVERY_VENTILATOR 0

/* Workers the counts keep apart for the summary; results of later ones
   are counted in the totals only. */
#define FF_DELIVERY_MAX_WORKERS 64

/* Checkpoints of the resume state come at most this often unless forced. */
#define FF_DELIVERY_CHECKPOINT_MS 500

/* Input marks held at once (see ff_delivery_mark). */
#define FF_DELIVERY_MAX_MARKS 64

/* The joblog's first line (a resumed job appends without it): GNU
   parallel's nine columns, then fanfold's own four (docs/PARALLEL.md). */
#define FF_DELIVERY_JOBLOG_HEADER \
    "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand" \
    "\tWorker\tAttempts\tStatus\tInput\n"

/* What --resume reads from a joblog (a job without -o FILE state). */
typedef enum {
    FF_JOBLOG_RESUME_NONE = 0,      /* the joblog is started afresh */
    FF_JOBLOG_RESUME_DONE,          /* --resume: every Seq in it is done */
    FF_JOBLOG_RESUME_SUCCEEDED      /* --resume-failed: the Seqs with Exitval and
                                       Signal 0 are done; the others run again */
} ff_joblog_resume_t;

/* Gives the fields of task seq (its payload: fields joined by NUL) for
   --results, in *data and *size, valid until the next call; called in
   seq order. Returns 0, or -1 when unknown (the input name is then the
   one field). */
typedef int (ff_delivery_fields_fn) (void *arg, uint64_t seq, const char **data,
                                     size_t *size);

/* Called with every record the delivery writes (after folding), in seq
   order, before it goes to the output. Returns 0, or -1 when the record
   could not be passed on (the take then says FF_DELIVERY_EMIT_FAILED). */
typedef int (ff_delivery_emit_fn) (void *arg, const ff_record_t *record);

/* How a delivery writes. Read by ff_delivery_new only: strings are copied
   or used during the call. */
typedef struct {
    const char *output_path;        /* -o FILE, opened and closed by the delivery;
                                       NULL: write to output_fd */
    int output_fd;                  /* written when output_path is NULL; never closed */
    ff_format_t format;             /* raw or jsonl */
    const char *joblog_path;        /* --joblog FILE, or NULL for none */
    int keep_state;                 /* 1: checkpoint OUTPUT.fanfold-state next to
                                       output_path (needs output_path) */
    int resume;                     /* 1: keep what the state file says is written
                                       and start after it (needs keep_state) */
    const char *signature;          /* names the job in the state file; NULL: "-" */
    int list_acks;                  /* 1: list each taken seq for the caller to ack */
    ff_delivery_emit_fn *emit;      /* called with each written record, or NULL */
    void *emit_arg;                 /* its first argument */
    ff_halt_t halt;                 /* --halt; zeros: never */
    const char *tag;                /* --tag ("{}") or --tagstring: raw output lines
                                       get it ({} the input name, {#} seq + 1) and a
                                       tab in front; NULL: none */
    const char *results_dir;        /* --results DIR, or NULL; raw output then goes to
                                       its files only, as parallel's */
    ff_delivery_fields_fn *fields;  /* the fields of a task for --results, or NULL */
    void *fields_arg;               /* its first argument */
    ff_joblog_resume_t joblog_resume; /* run only what the joblog lacks (needs
                                       joblog_path; not with resume) */
    int pipe;                       /* 1: the payload is the command's stdin (the
                                       joblog's Send column counts it) */
} ff_delivery_options_t;

/* Outcome of ff_delivery_take. The item is never kept by reference: a
   held one is copied. */
typedef enum {
    FF_DELIVERY_WRITTEN = 0,        /* its turn had come: written (or absorbed into a
                                       fold), with every held result now due; listed to ack */
    FF_DELIVERY_HELD,               /* early: copied into the reorder window; listed to ack */
    FF_DELIVERY_DUPLICATE,          /* its seq is written or held already: dropped */
    FF_DELIVERY_OUT_OF_WINDOW,      /* seq at or past written + window: dropped, not
                                       acked (the ventilator sends it again) */
    FF_DELIVERY_REFUSED,            /* no job begun, or kernel index or seq outside
                                       the job: dropped */
    FF_DELIVERY_NO_MEMORY,          /* could not be held: dropped, not acked */
    FF_DELIVERY_WRITE_FAILED,       /* taken and listed to ack, but a write to the output
                                       failed (errno says why); sticky in the counts */
    FF_DELIVERY_EMIT_FAILED         /* taken, written and listed to ack, but the emit
                                       callback failed for a record */
} ff_delivery_rc_t;

/* Outcome of ff_delivery_checkpoint. */
typedef enum {
    FF_CHECKPOINT_SKIPPED = 0,      /* no state kept, nothing new written, or (unforced)
                                       the last checkpoint is recent */
    FF_CHECKPOINT_SAVED,            /* output (and joblog) synced, then the state saved */
    FF_CHECKPOINT_OUTPUT_FAILED,    /* the output could not be flushed or synced (errno);
                                       the state was left as it was */
    FF_CHECKPOINT_STATE_FAILED      /* the state file could not be replaced (errno) */
} ff_checkpoint_rc_t;

/* Results written by one worker, for the summary. */
typedef struct {
    uint64_t worker;                /* worker id (FF_DELIVERY_VENTILATOR: error records) */
    uint64_t tasks;                 /* its results written */
    uint64_t busy_us;               /* time in its kernels */
} ff_delivery_worker_t;

/* What the progress line and the summary print. Invariants (checked by
   ff_delivery_check):
       first <= written, and written <= total when total >= 0;
       written - first == delivered (every seq this run wrote, one each);
       the sum of workers [i].tasks <= delivered;
       nworkers <= FF_DELIVERY_MAX_WORKERS, and their ids are distinct;
       errors counts the error records in the output, earlier runs included. */
typedef struct {
    uint64_t first;                 /* first seq this run writes (after a resume) */
    uint64_t written;               /* every seq below it is written */
    int64_t total;                  /* seqs in the job, -1 until known */
    uint64_t delivered;             /* results this run wrote (or folded) */
    uint64_t errors;                /* error records written, earlier runs included */
    uint64_t retried;               /* results that took more than one attempt */
    uint64_t duplicates;            /* items dropped as duplicates */
    uint64_t refused;               /* items refused: outside the job or the window */
    uint64_t unlisted_acks;         /* seqs taken while the ack list was full */
    int write_failed;               /* 1 once a write to the output failed */
    int write_errno;                /* errno of the first failed write */
    size_t nworkers;                /* workers listed */
    ff_delivery_worker_t workers [FF_DELIVERY_MAX_WORKERS]; /* first ones seen */
} ff_delivery_counts_t;

/* Creates a delivery: opens options->output_path and the joblog, then
   cuts them (the output to nothing, or with resume back to what the state
   file says is complete, its folds under way restored; a missing state
   file starts from the beginning; the joblog appended to when resuming,
   else started with FF_DELIVERY_JOBLOG_HEADER). A regular output file is
   locked (flock) until the delivery is destroyed: a second delivery on it
   is refused before anything is cut. A pipe or device is written as a
   stream: no lock, no state file, and resume is refused. The state file
   lies next to the output's real path. A joblog that is the output's file
   (same device and inode) is refused. Results are taken once
   ff_delivery_begin has named the job's kernels. Returns NULL with a
   one-line message naming the file in error ("out of memory" when memory
   runs out), having closed what it opened. */
ff_delivery_t *
    ff_delivery_new (const ff_delivery_options_t *options, char *error, size_t size);

/* Flushes the output, closes what the delivery opened, frees every held
   result; NULLs the pointer; safe on NULL. Does not checkpoint: call
   ff_delivery_checkpoint (force) first to record the end. */
void
    ff_delivery_destroy (ff_delivery_t **self_p);

/* Begins the job: its nkernels kernel names (copied; a kernel found in
   the kernel table with a fold function folds chunked inputs), the
   reorder window in seqs (> 0) and the task count (-1 when unknown).
   Returns 0, or -1 with errno: EINVAL when already begun, window is 0 or
   nkernels is 0 or above FF_MAX_KERNELS; ERANGE when total is known and
   below the written mark (a resumed state wrote more tasks than the job
   has: the job could never end); ENOMEM. */
int
    ff_delivery_begin (ff_delivery_t *self, const ff_str_t *kernels,
                       size_t nkernels, uint64_t window, int64_t total);

/* Sets the task count once it is known (total >= 0); a later or negative
   one is ignored. Returns 1 when it was set, 0 when ignored, -1 with errno
   ERANGE (not set) when total is below the written mark: a resumed state
   wrote more tasks than the job has, and the job could never end. */
int
    ff_delivery_set_total (ff_delivery_t *self, int64_t total);

/* Takes one result item (a decoded result message's, or one built with
   ff_delivery_result_item) run by worker (FF_DELIVERY_VENTILATOR for an
   error record). When its seq is due it is written at once from the
   item's bytes, then every held result now due; an early one is copied
   and held; see ff_delivery_rc_t for the rest. The item's bytes are read
   during the call only. Never fails on what a peer sent: a bad item is
   an outcome, not an assertion. */
ff_delivery_rc_t
    ff_delivery_take (ff_delivery_t *self, uint64_t worker, const ff_item_t *item);

/* Fills the result fields of item from one kernel run, as a worker does:
   status FF_STATUS_OK when rc is 0, else FF_STATUS_ERROR; kind FF_KIND_JSON
   when kernel has FF_KERNEL_JSON, else FF_KIND_BYTES (kernel NULL: an
   error record made without running it); data and meta point into
   result (valid while it is). seq, kernel, input, attempt, tries,
   start_ms, runtime_us, bytes_in, chunk and chunks are the caller's. */
void
    ff_delivery_result_item (ff_item_t *item, const ff_kernel_t *kernel, int rc,
                             const ff_result_t *result);

/* Returns the written mark: every seq below it is written (or folded). */
uint64_t
    ff_delivery_written (ff_delivery_t *self);

/* Returns 1 when the job has begun, its total is known and every seq is
   written, else 0. */
int
    ff_delivery_done (ff_delivery_t *self);

/* Returns 1 once --halt stopped the job: the result that met its
   condition (counted in seq order) is written and no later one will be;
   the caller ends the job (now: killing what runs). Else 0. */
int
    ff_delivery_halted (ff_delivery_t *self);

/* Returns the seqs taken (written or held) since the last
   ff_delivery_acks_clear, their count in *count; the array is the
   delivery's, valid until the next take or clear. The list holds at most
   FF_MAX_ACK_SEQS (a seq taken while it is full is counted in
   unlisted_acks: the written mark covers it once written): a caller that
   acks in batches sends and clears it when *count reaches that. Returns
   NULL with 0 without list_acks or before the job begins. */
const uint64_t *
    ff_delivery_acks (ff_delivery_t *self, size_t *count);

/* Empties the list of seqs to ack (they were sent). */
void
    ff_delivery_acks_clear (ff_delivery_t *self);

/* Writes what the output buffers. Returns 0, or -1 with errno (then
   write_failed is set in the counts). */
int
    ff_delivery_flush (ff_delivery_t *self);

/* With keep_state: when something was written since the last checkpoint
   and (unless force) FF_DELIVERY_CHECKPOINT_MS have passed since it at
   now_ms, makes the output and the joblog durable, then replaces the
   state file atomically with the written mark, the output's bytes, the
   error and failed counts and the folds under way (when these do not fit
   in FF_STATE_MAX_FOLDS, the checkpoint is skipped). A state file never
   claims more than the output holds. */
ff_checkpoint_rc_t
    ff_delivery_checkpoint (ff_delivery_t *self, int64_t now_ms, int force);

/* Records an input mark: the records that gave the tasks below seq hash to
   hash (the ventilator's ff_producer_hash at a unit boundary). Marks come
   in rising seq order; one at or below the last, or below the written
   mark, is ignored; when FF_DELIVERY_MAX_MARKS are held the newest
   replaces the last. Once a mark came, a checkpoint saves the first mark
   at or past the written mark, so that a resumed job can check that the
   records behind every written result are the same (and is skipped while
   no mark covers them). */
void
    ff_delivery_mark (ff_delivery_t *self, uint64_t seq, uint64_t hash);

/* With resume: the input mark of the state resumed from, in *seq and
   *hash. Returns 1, or 0 when it had none (nothing written, or a state
   without marks). */
int
    ff_delivery_resumed_mark (ff_delivery_t *self, uint64_t *seq, uint64_t *hash);

/* Returns the counts, brought up to date; the struct is the delivery's,
   valid until it is destroyed, read-only for the caller. */
const ff_delivery_counts_t *
    ff_delivery_counts (ff_delivery_t *self);

/* Returns the exit status the job's output earns (earlier runs included):
   FF_EXIT_PIPE_CLOSED when a write failed with EPIPE (the reader left),
   FF_EXIT_ERROR when one failed otherwise; after --halt stopped the job,
   GNU parallel's status (fail=1 or done=1: the halting task's exit value,
   128 + its signal, or FF_EXIT_JOB_KILLED for a fault; a count: the
   failed tasks, at most FF_EXIT_FAILED_MAX; a percent: the percent of
   tasks that failed, rounded up; success: 0); with a --halt percent, that
   percent of the tasks written; with failed commands (see
   ff_output_failed) the number of error records, at most
   FF_EXIT_FAILED_MAX, as GNU parallel; FF_EXIT_TASKS_FAILED when only
   other error records were written; else FF_EXIT_OK. */
int
    ff_delivery_exit_status (ff_delivery_t *self);

/* Returns the output's name for messages: the path, or "stdout". */
const char *
    ff_delivery_output_name (ff_delivery_t *self);

/* Returns the state file's path, or "" without keep_state. */
const char *
    ff_delivery_state_path (ff_delivery_t *self);

/* Asserts every invariant of the delivery (of its counts, above, and of
   its reorder window: every held result lies in [written, written +
   window) at its slot, none is held at the written mark, the ack list is
   within its bound). A programmer's check, for tests and debug builds. */
void
    ff_delivery_check (ff_delivery_t *self);

#endif
