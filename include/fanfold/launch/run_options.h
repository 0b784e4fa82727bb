/*  The options of `fanfold run`, read through the option table
    (runtime/options.h) and resolved for the run: kernels and plugins
    loaded, --exec turned into the exec kernel's parameters, the worker
    count, and the mode (serial or parallel) decided. The parallel run
    forwards the same option set to its stages, so they see what the user
    gave, checked by the same rules. */

#ifndef FANFOLD_LAUNCH_RUN_OPTIONS_H
#define FANFOLD_LAUNCH_RUN_OPTIONS_H

#include "fanfold/kernel.h"
#include "fanfold/job/output.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/options.h"

/* A `fanfold run` command line, resolved. Fields are read-only once
   ff_run_options_parse returned FF_OPTIONS_OK. */
typedef struct {
    ff_options_t *options;          /* the checked option set, stage options included */
    char *kernel_names [FF_MAX_KERNELS]; /* -k, split (or "exec" for --exec) */
    const ff_kernel_t *kernels [FF_MAX_KERNELS]; /* resolved, none NULL */
    size_t nkernels;                /* how many */
    char *param_copies [FF_MAX_PARAMS]; /* -p texts, split in place at '=' */
    const char *params [2 * FF_MAX_PARAMS]; /* key, value, ...: -p, then cmd= and pipe= of --exec */
    size_t nparams;                 /* pairs */
    char **inputs;                  /* the producer's words (ff_producer_new_sources):
                                       each -a FILE as `:::: FILE`, then the
                                       positional inputs, or `:::: -` when stdin
                                       is the source; owned array, borrowed strings */
    int ninputs;                    /* how many */
    char *command;                  /* the command's trailing words joined, or NULL */
    int dry_run;                    /* --dry-run: print the command lines, run nothing */
    int workers;                    /* -w, or the number of cores */
    int serial;                     /* 1: run in this process; 0: start the stages */
    ff_format_t format;             /* --format */
    int verbose;                    /* -v */
} ff_run_options_t;

/* Reads argv (argv [0] is "run") into self: the option table's checks,
   then the launcher's own (kernels known, plugins load, -o is none of the
   job's inputs nor its stdin, by device and inode; the command as
   trailing words; -a and stdin as argument sources; -j and -N as parallel
   reads them; the exec kernel's shell, failed_output, args, command and
   retries parameters; the -k guard, -w 0 without -t), then the mode
   (--mode auto picks serial for a job smaller than starting the stages).
   Says what is wrong in one line on stderr. Returns FF_OPTIONS_OK,
   FF_OPTIONS_HELP, or FF_OPTIONS_ERROR; call ff_run_options_clear after
   any of them. */
ff_options_status_t
    ff_run_options_parse (ff_run_options_t *self, int argc, char *argv []);

/* The number of workers `-j SPEC` asks for on a host with cores cores,
   as GNU parallel reads it: N, N% of the cores, +N or -N cores (at least
   1), 0: tasks workers (at most FF_J0_MAX_WORKERS; tasks < 0: unknown,
   FF_J0_MAX_WORKERS). Returns -1 when spec is not one of these. */
int
    ff_run_options_jobs (const char *spec, int cores, int64_t tasks);

/* Frees what self holds; safe to call twice. */
void
    ff_run_options_clear (ff_run_options_t *self);

/* Writes a word that names the job by what decides its output (kernels,
   parameters, how the input is cut, the format, the inputs by name, and
   by size and modification time for regular files): the sink's
   --resume refuses another job's state file by it. */
void
    ff_run_options_signature (const ff_run_options_t *self, char *out, size_t size);

#endif
