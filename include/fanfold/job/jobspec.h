/*  fanfold job spec: the ventilator's command line, read through the
    option table (runtime/options.h) and resolved into what the job needs:
    its kernels found (plugins loaded first), the parameters the workers
    get in the welcome (-p pairs, then plugin paths, retries and the time
    limit), how records are cut, and the job id. Fields are read-only once
    ff_jobspec_parse returned FF_OPTIONS_OK. */

#ifndef FANFOLD_JOBSPEC_H
#define FANFOLD_JOBSPEC_H

#include "fanfold/kernel.h"
#include "fanfold/job/dispatch.h"
#include "fanfold/job/ledger.h"
#include "fanfold/job/producer.h"
#include "fanfold/job/reader.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/options.h"

#include <stddef.h>

typedef struct {
    ff_options_t *parsed;           /* the checked option set: texts point into it */
    const char *topology_path;      /* -t */
    char *kernel_names [FF_MAX_KERNELS]; /* -k, split */
    const ff_kernel_t *kernels [FF_MAX_KERNELS]; /* resolved, none NULL */
    size_t nkernels;                /* how many */
    const char *params [2 * FF_MAX_PARAMS]; /* key, value, ...: for the workers */
    size_t nparams;                 /* how many pairs */
    char *param_copies [FF_MAX_PARAMS]; /* -p texts, split at '=' */
    int pipe;                       /* --pipe */
    ff_cut_t cut;                   /* --lines or --block */
    long cut_n;                     /* lines or bytes per block */
    long max_block;                 /* --max-block */
    const char *input_path;         /* --input, NULL for stdin */
    char **args;                    /* positional inputs (in the caller's argv) */
    int nargs;                      /* how many */
    char job_id [40];               /* --job-id, or a random one */
    const char *intake;             /* --intake ENDPOINT, or NULL */
    long chunk;                     /* --chunk SIZE: bytes per array task, 0: whole */
    int insecure;                   /* --insecure: tcp without CURVE keys */
    int fifo;                       /* --fifo: no heavy-first dispatch */
    int arrays;                     /* a kernel reads arrays: load file inputs */
    double timeout;                 /* --timeout seconds, 0 for none */
    int retries;                    /* --retries: attempts before an error record */
    char timeout_text [32];         /* param timeout=, for the workers */
    char retries_text [16];         /* param retries=, for the workers */
    int verbose;                    /* -v */
} ff_jobspec_t;

/* Reads a fanfold-ventilator command line (argv [0] is the program) into
   self. Returns FF_OPTIONS_OK, FF_OPTIONS_HELP, or FF_OPTIONS_ERROR with
   one line in error (without the program's name). Call ff_jobspec_clear
   after any of them. argv must outlive self. */
ff_options_status_t
    ff_jobspec_parse (ff_jobspec_t *self, int argc, char *argv [], char *error,
                      size_t error_size);

/* Makes the producer of the job's inputs: --pipe blocks from --input
   (opened here; *fd is set to it, for the caller to poll and close) or
   from stdin (*fd stays as given), --intake records, or one unit per
   INPUT (arrays loaded into segments named with shm_prefix). With --pipe
   and no --input, a stdin that was closed (stdin_closed: the caller found
   fd 0 closed and opened /dev/null there) is refused, rather than read
   as an empty input. Returns the producer, or NULL with error. */
ff_producer_t *
    ff_jobspec_producer (ff_jobspec_t *self, int stdin_closed, const char *shm_prefix,
                         int *fd, char *error, size_t error_size);

/* Creates in ledger the tasks of one unit: one per kernel, input-major,
   each with its kernel's cost estimate (noted in policy). A unit whose
   source did not load gives error records (its failure is logged).
   Returns 0, or -1 when memory ran out. */
int
    ff_jobspec_create_tasks (ff_jobspec_t *self, ff_ledger_t *ledger, ff_dispatch_t *policy,
                             const ff_unit_t *unit);

/* The ledger's release callback for the tasks ff_jobspec_create_tasks
   makes: drops a task's reference to its array source. */
void
    ff_jobspec_release_source (void *ref, void *arg);

/* Frees what self holds; safe to call twice. */
void
    ff_jobspec_clear (ff_jobspec_t *self);

#endif
