/*  The options of `fanfold run`; see run_options.h. Organised as: parsing
    and resolving, the --mode auto estimate, and the job's signature. */

#include "fanfold/launch/run_options.h"
#include "fanfold/job/producer.h"
#include "fanfold/kernels/exec.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"

#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Starting the topology costs about this much (processes, sockets). */
#define S_STARTUP_US 60000.0

static int
    s_small_job (const ff_run_options_t *self, const char **why);
static int64_t
    s_count_units (const ff_run_options_t *self);

/* The tasks of the positional inputs: one each, and for a regular file
   of more bytes than --chunk (when given) as many as the chunks it is
   cut in (an upper bound: a .npy header counts too). */
static int64_t
s_chunked_units (const ff_run_options_t *self)
{
    int64_t chunk = ff_options_long (self->options, FF_OPT_CHUNK, 0);
    int64_t units = 0;
    int input;
    for (input = 0; input < self->ninputs; input++) {
        struct stat info;
        if (chunk > 0 && stat (self->inputs [input], &info) == 0 && S_ISREG (info.st_mode)
        &&  info.st_size > chunk)
            units += (info.st_size + chunk - 1) / chunk;
        else
            units++;
    }
    return units;
}

/* Splits every -p KEY=VALUE (the table checked the '=') into params. */
static int
s_split_params (ff_run_options_t *self)
{
    const char *text;
    while ((text = ff_options_nth (self->options, FF_OPT_PARAM, (int) self->nparams))) {
        char *copy = strdup (text);
        if (!copy)
            return -1;
        char *equals = strchr (copy, '=');
        *equals = 0;
        self->param_copies [self->nparams] = copy;
        self->params [2 * self->nparams] = copy;
        self->params [2 * self->nparams + 1] = equals + 1;
        self->nparams++;
    }
    return 0;
}

/* Adds -p KEY=VALUE as if it had been given. */
static int
s_set_param (ff_run_options_t *self, const char *key, const char *value, char *error,
             size_t error_size)
{
    char *param = (char *) malloc (strlen (key) + strlen (value) + 2);
    if (!param) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    sprintf (param, "%s=%s", key, value);
    int rc = ff_options_set (self->options, FF_OPT_PARAM, param, error, error_size);
    free (param);
    return rc;
}

/* The command as trailing words: joined by single spaces, unquoted, as
   parallel joins them, into --exec. The -k guard: `-k stats x.npy` named
   a kernel before -k meant --keep-order. */
static int
s_apply_words (ff_run_options_t *self, char *error, size_t error_size)
{
    int nwords, ninputs, index;
    char **words = ff_options_command (self->options, &nwords);
    ff_options_inputs (self->options, &ninputs);
    if (nwords == 0)
        return 0;
    if (ff_options_given (self->options, FF_OPT_KEEP_ORDER) && ninputs == 0
    &&  !ff_options_given (self->options, FF_OPT_ARG_FILE)) {
        char *names [FF_MAX_KERNELS];
        int count = ff_kernels_split (words [0], names, FF_MAX_KERNELS), known = count > 0;
        for (index = 0; index < count; index++) {
            known &= ff_kernels_find (names [index]) != NULL;
            free (names [index]);
        }
        if (known) {
            snprintf (error, error_size, "-k now means --keep-order (output is always in "
                      "order); name kernels with -K %s", words [0]);
            return -1;
        }
    }
    size_t len = 1;
    for (index = 0; index < nwords; index++)
        len += strlen (words [index]) + 1;
    self->command = (char *) malloc (len);
    if (!self->command) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    *self->command = 0;
    for (index = 0; index < nwords; index++) {
        if (index)
            strcat (self->command, " ");
        strcat (self->command, words [index]);
    }
    return ff_options_set (self->options, FF_OPT_EXEC, self->command, error, error_size);
}

/* The exec kernel's parameters besides cmd: the shell, a failed command's
   output kept, argument tuples, the joblog's command, and one run of a
   failing command unless --retries is given (docs/PARALLEL.md 5.1). */
static int
s_exec_params (ff_run_options_t *self, char *error, size_t error_size)
{
    const char *forced = ff_options_text (self->options, FF_OPT_SHELL, getenv ("PARALLEL_SHELL"));
    const char *shell = ff_exec_shell_choose (forced, getenv ("SHELL"));
    if (s_set_param (self, "shell", shell, error, error_size))
        return -1;
    /* jsonl keeps today's error record ("error":"command exited with
       status N") until the delivery reads the meta's "failed" member */
    if (strcmp (ff_options_text (self->options, FF_OPT_FORMAT, FF_DEFAULT_FORMAT), "raw") == 0
    &&  s_set_param (self, "failed_output", "1", error, error_size))
        return -1;
    if (!ff_options_given (self->options, FF_OPT_PIPE)
    &&  s_set_param (self, "args", "nul", error, error_size))
        return -1;
    if (ff_options_given (self->options, FF_OPT_JOBLOG)
    &&  s_set_param (self, "command", "1", error, error_size))
        return -1;
    if (!ff_options_given (self->options, FF_OPT_RETRIES)
    &&  s_set_param (self, "retries", "1", error, error_size))
        return -1;
    return 0;
}

/* --exec CMD is the exec kernel with cmd= (and pipe=1 with --pipe). */
static int
s_apply_exec (ff_run_options_t *self, char *error, size_t error_size)
{
    const char *command = ff_options_text (self->options, FF_OPT_EXEC, NULL);
    if (!command)
        return 0;
    if (!ff_options_given (self->options, FF_OPT_KERNEL)
    &&  ff_options_set (self->options, FF_OPT_KERNEL, "exec", error, error_size))
        return -1;
    char *param = (char *) malloc (strlen (command) + 5);
    if (!param) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    sprintf (param, "cmd=%s", command);
    int rc = ff_options_set (self->options, FF_OPT_PARAM, param, error, error_size);
    free (param);
    if (rc == 0 && ff_options_given (self->options, FF_OPT_PIPE))
        rc = ff_options_set (self->options, FF_OPT_PARAM, "pipe=1", error, error_size);
    if (rc == 0 && strcmp (ff_options_text (self->options, FF_OPT_KERNEL, ""), "exec") == 0)
        rc = s_exec_params (self, error, error_size);
    return rc;
}

/* -N n with --pipe is --lines n. */
static int
s_apply_max_args (ff_run_options_t *self, char *error, size_t error_size)
{
    const char *n = ff_options_text (self->options, FF_OPT_MAX_ARGS, NULL);
    if (!n)
        return 0;
    ff_options_clear (self->options, FF_OPT_MAX_ARGS);
    return ff_options_set (self->options, FF_OPT_LINES, n, error, error_size);
}

/* The producer's words: each -a FILE as `:::: FILE`, then the inputs; with
   no source, no --pipe and no --intake, stdin (`:::: -`), unless it is a
   terminal. */
static int
s_sources (ff_run_options_t *self, char *error, size_t error_size)
{
    static char quad [] = "::::", dash [] = "-";
    int ninputs, files = ff_options_given (self->options, FF_OPT_ARG_FILE), index;
    char **inputs = ff_options_inputs (self->options, &ninputs);
    int from_stdin = ninputs == 0 && files == 0 && !ff_options_given (self->options, FF_OPT_PIPE)
                  && !ff_options_given (self->options, FF_OPT_INTAKE);
    if (from_stdin && isatty (STDIN_FILENO)) {
        snprintf (error, error_size, "no input: give arguments after :::, files with -a FILE "
                  "or ::::, or pipe arguments on stdin, one per line");
        return -1;
    }
    self->inputs = (char **) calloc ((size_t) (2 * files + ninputs + 3), sizeof (char *));
    if (!self->inputs) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    for (index = 0; index < files; index++) {
        self->inputs [self->ninputs++] = quad;
        self->inputs [self->ninputs++] = (char *) ff_options_nth (self->options, FF_OPT_ARG_FILE,
                                                                   index);
    }
    if (files && ninputs && !ff_options_is_marker (inputs [0]))
        self->inputs [self->ninputs++] = ":::";
    for (index = 0; index < ninputs; index++)
        self->inputs [self->ninputs++] = inputs [index];
    if (from_stdin) {
        self->inputs [self->ninputs++] = quad;
        self->inputs [self->ninputs++] = dash;
    }
    return 0;
}

/* The number of units the sources give, or -1 when unknown (stdin). */
static int64_t
s_count_units (const ff_run_options_t *self)
{
    int index;
    char error [256];
    for (index = 0; index < self->ninputs; index++)
        if (strcmp (self->inputs [index], "-") == 0)
            return -1;
    ff_sources_t config = {
        .null = ff_options_given (self->options, FF_OPT_NULL),
        .link = ff_options_given (self->options, FF_OPT_LINK),
        .colsep = ff_options_text (self->options, FF_OPT_COLSEP, NULL), .fd = -1
    };
    ff_producer_t *producer = ff_producer_new_sources (self->inputs, (size_t) self->ninputs,
                                                       &config, error, sizeof (error));
    int64_t total = producer? ff_producer_total (producer): -1;
    ff_producer_destroy (&producer);
    return total;
}

int
ff_run_options_jobs (const char *spec, int cores, int64_t tasks)
{
    char *end;
    long value;
    int percent;
    if (!spec || !*spec || (!isdigit ((unsigned char) *spec) && *spec != '+' && *spec != '-'))
        return -1;
    errno = 0;
    value = strtol (spec, &end, 10);
    percent = *end == '%';
    if (errno || end == spec || (*end && !(percent && !end [1])) || value > FF_MAX_WORKERS
    ||  value < -FF_MAX_WORKERS || (percent && (*spec == '+' || *spec == '-')))
        return -1;
    if (cores < 1)
        cores = 1;
    long workers = percent? cores * value / 100
                 : *spec == '+' || *spec == '-'? cores + value
                 : value;
    if (!percent && *spec != '+' && *spec != '-' && value == 0)
        workers = tasks >= 0 && tasks < FF_J0_MAX_WORKERS? (long) tasks: FF_J0_MAX_WORKERS;
    if (workers < 1)
        workers = 1;
    return workers > FF_MAX_WORKERS? FF_MAX_WORKERS: (int) workers;
}

/* Loads every --plugin and gives the stages its absolute path. */
static int
s_load_plugins (ff_run_options_t *self, char *error, size_t error_size)
{
    char *absolute [FF_MAX_PLUGINS];
    int count = 0, index, rc = 0;
    const char *path;
    while (count < FF_MAX_PLUGINS && (path = ff_options_nth (self->options, FF_OPT_PLUGIN, count))) {
        absolute [count] = realpath (path, NULL);
        if (!absolute [count]) {
            snprintf (error, error_size, "--plugin %s: no such file", path);
            rc = -1;
            break;
        }
        count++;
        if (ff_kernels_load (absolute [count - 1], error, error_size)) {
            rc = -1;
            break;
        }
    }
    if (rc == 0) {
        ff_options_clear (self->options, FF_OPT_PLUGIN);
        for (index = 0; index < count && rc == 0; index++)
            rc = ff_options_set (self->options, FF_OPT_PLUGIN, absolute [index], error, error_size);
    }
    for (index = 0; index < count; index++)
        free (absolute [index]);
    return rc;
}

/* Splits -k and finds each kernel; says which are unknown. */
static int
s_resolve_kernels (ff_run_options_t *self)
{
    const char *list = ff_options_text (self->options, FF_OPT_KERNEL, FF_DEFAULT_KERNEL);
    int count = ff_kernels_split (list, self->kernel_names, FF_MAX_KERNELS), rc = 0;
    size_t index;
    if (count < 0) {
        ff_log_error ("-k %s: expected KERNEL[,KERNEL...]", list);
        return -1;
    }
    self->nkernels = (size_t) count;
    for (index = 0; index < self->nkernels; index++) {
        self->kernels [index] = ff_kernels_find (self->kernel_names [index]);
        if (!self->kernels [index]) {
            char known [1024];
            ff_kernels_list (known, sizeof (known));
            ff_log_error ("unknown kernel '%s' (known: %s)", self->kernel_names [index], known);
            rc = -1;
        }
    }
    return rc;
}

/* Decides serial or parallel: --mode, else --serial, else auto. */
static void
s_decide_mode (ff_run_options_t *self)
{
    const char *mode = ff_options_text (self->options, FF_OPT_MODE,
                                        ff_options_given (self->options, FF_OPT_SERIAL)? "serial": "auto");
    if (strcmp (mode, "auto") == 0) {
        const char *why = NULL;
        self->serial = s_small_job (self, &why);
        ff_log_info ("--mode auto: %s (%s)", self->serial? "serial": "parallel", why);
    }
    else
        self->serial = strcmp (mode, "serial") == 0;
}

/* Returns 1, having said so, when -o names a file the job reads (an
   INPUT, --input FILE, or stdin when the records or arguments come from
   it), compared by device and inode before anything is opened for
   writing: the output would truncate its own input. */
static int
s_output_is_input (const ff_run_options_t *self)
{
    const char *output = ff_options_text (self->options, FF_OPT_OUTPUT, NULL);
    const char *input = ff_options_text (self->options, FF_OPT_INPUT, NULL);
    struct stat out, in;
    int index;
    if (!output || stat (output, &out) != 0 || !S_ISREG (out.st_mode))
        return 0;
    for (index = -1; index < self->ninputs; index++) {
        const char *path = index < 0? input: self->inputs [index];
        if (path && stat (path, &in) == 0 && in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
            ff_log_error ("-o %s is an input of the job (%s): it would be overwritten",
                          output, path);
            return 1;
        }
    }
    if (!input && !ff_options_given (self->options, FF_OPT_INTAKE)
    &&  fstat (STDIN_FILENO, &in) == 0
    &&  in.st_dev == out.st_dev && in.st_ino == out.st_ino) {
        ff_log_error ("-o %s is the job's standard input: it would be overwritten", output);
        return 1;
    }
    return 0;
}

ff_options_status_t
ff_run_options_parse (ff_run_options_t *self, int argc, char *argv [])
{
    char error [512];
    ff_options_status_t status;
    memset (self, 0, sizeof (*self));
    self->options = ff_options_new (FF_CMD_RUN);
    if (!self->options)
        return FF_OPTIONS_ERROR;
    status = ff_options_parse (self->options, argc, argv, error, sizeof (error));
    self->verbose = ff_options_given (self->options, FF_OPT_VERBOSE) > 0;
    ff_log_init ("fanfold", self->verbose);
    if (status == FF_OPTIONS_HELP)
        return status;
    if (status == FF_OPTIONS_OK
    &&  (s_apply_words (self, error, sizeof (error))
         || s_apply_max_args (self, error, sizeof (error))
         || s_apply_exec (self, error, sizeof (error))
         || s_sources (self, error, sizeof (error))
         || s_load_plugins (self, error, sizeof (error))
         || ff_options_validate (self->options, error, sizeof (error))))
        status = FF_OPTIONS_ERROR;
    if (status == FF_OPTIONS_ERROR) {
        ff_log_error ("%s", error);
        return status;
    }
    if (s_split_params (self) || s_resolve_kernels (self))
        return FF_OPTIONS_ERROR;
    ff_format_parse (ff_options_text (self->options, FF_OPT_FORMAT, FF_DEFAULT_FORMAT),
                     &self->format);
    self->dry_run = ff_options_given (self->options, FF_OPT_DRY_RUN) > 0;
    int cores = (int) sysconf (_SC_NPROCESSORS_ONLN);
    self->workers = (int) ff_options_long (self->options, FF_OPT_WORKERS, cores);
    if (!ff_options_given (self->options, FF_OPT_WORKERS) && self->workers < 1)
        self->workers = 1;
    /* -w 0 without -t is a private job that `fanfold worker` (without -t)
       joins; never a silent wait: say so (parallel's -j 0 is -j here) */
    if (ff_options_given (self->options, FF_OPT_WORKERS) && self->workers == 0
    &&  !ff_options_given (self->options, FF_OPT_TOPOLOGY))
        fprintf (stderr, "fanfold: -w 0 starts no worker: the job waits for `fanfold worker` "
                 "run on this host (for one worker per task, as parallel's -j0, give -j 0)\n");
    if (ff_options_given (self->options, FF_OPT_JOBS) && !ff_options_given (self->options, FF_OPT_WORKERS)) {
        const char *spec = ff_options_text (self->options, FF_OPT_JOBS, "");
        int64_t tasks = strcmp (spec, "0") == 0? s_count_units (self): -1;
        self->workers = ff_run_options_jobs (spec, cores, tasks);
        if (self->workers < 0) {
            ff_log_error ("-j %s: expected N, N%%, +N, -N or 0", spec);
            return FF_OPTIONS_ERROR;
        }
    }
    /* commands on arguments start in input order, as parallel starts its
       jobs: an argument's length says nothing of its command's work, and
       output then flows from the first task on (`| head` ends early) */
    int commands = self->nkernels == 1 && strcmp (self->kernel_names [0], "exec") == 0
                && !ff_options_given (self->options, FF_OPT_PIPE);
    const char *dispatch = ff_options_text (self->options, FF_OPT_DISPATCH,
                                            commands? "fifo": "heavy");
    if (strcmp (dispatch, "fifo") == 0
    &&  ff_options_set (self->options, FF_OPT_FIFO, NULL, error, sizeof (error)))
        return FF_OPTIONS_ERROR;
    if (isatty (STDERR_FILENO)
    &&  ff_options_set (self->options, FF_OPT_PROGRESS, NULL, error, sizeof (error)))
        return FF_OPTIONS_ERROR;
    if (s_output_is_input (self))
        return FF_OPTIONS_ERROR;
    s_decide_mode (self);
    if (self->dry_run)
        self->serial = 1;           /* nothing runs: no stage to start */
    return FF_OPTIONS_OK;
}

void
ff_run_options_clear (ff_run_options_t *self)
{
    size_t index;
    for (index = 0; index < self->nkernels; index++)
        free (self->kernel_names [index]);
    for (index = 0; index < self->nparams; index++)
        free (self->param_copies [index]);
    ff_options_destroy (&self->options);
    free (self->inputs);
    free (self->command);
    memset (self, 0, sizeof (*self));
}

/* ------------------------------------------------------------- auto mode */

/* Returns 1 when the job is smaller than starting the topology: its tasks
   are arguments whose kernels estimate their own time (sleep, spin) and
   add up to less than S_STARTUP_US, or trivial ones (noop), or it has a
   single task. Anything open-ended (records, intake, exec, arrays, plugins,
   a topology or workers added by hand) runs in parallel. *why says which. */
static int
s_small_job (const ff_run_options_t *self, const char **why)
{
    static const ff_opt_t parallel_only [] = {
        FF_OPT_PIPE, FF_OPT_INTAKE, FF_OPT_EMIT, FF_OPT_RESUME, FF_OPT_RESUME_FAILED,
        FF_OPT_JOBLOG,
        FF_OPT_HOSTS, FF_OPT_HOSTS_FILE, FF_OPT_SLURM
    };
    size_t kernel, index;
    int input;
    if (ff_options_given (self->options, FF_OPT_TOPOLOGY)
    ||  (ff_options_given (self->options, FF_OPT_WORKERS) && self->workers == 0)) {
        *why = "a topology or -w 0: workers may join";
        return 0;
    }
    for (index = 0; index < sizeof (parallel_only) / sizeof (parallel_only [0]); index++)
        if (ff_options_given (self->options, parallel_only [index])) {
            *why = "a stream, or options of the parallel mode";
            return 0;
        }
    int sources = 0;
    for (input = 0; input < self->ninputs; input++)
        sources |= ff_options_is_marker (self->inputs [input]);
    int64_t units = sources? s_count_units (self): s_chunked_units (self);
    if (units < 0) {
        *why = "arguments read from stdin";
        return 0;
    }
    if ((uint64_t) units * self->nkernels <= 1) {
        *why = "a single task";
        return 1;
    }
    double estimate = 0;
    for (kernel = 0; kernel < self->nkernels; kernel++) {
        const char *name = self->kernel_names [kernel];
        int timed = strcmp (name, "sleep") == 0 || strcmp (name, "spin") == 0;
        if (!timed && strcmp (name, "noop") != 0) {
            *why = "kernels whose cost is unknown";
            return 0;
        }
        if (timed && sources) {
            *why = "timed kernels on argument sources";
            return 0;
        }
        for (input = 0; timed && input < self->ninputs; input++) {
            ff_task_t task = { .seq = (uint64_t) input, .input = self->inputs [input],
                               .data = (const uint8_t *) self->inputs [input],
                               .size = strlen (self->inputs [input]),
                               .params = self->params, .nparams = self->nparams };
            estimate += self->kernels [kernel]->cost (&task);
        }
    }
    *why = estimate < S_STARTUP_US? "its estimated work is less than starting the stages"
                                  : "its estimated work outweighs starting the stages";
    return estimate < S_STARTUP_US;
}

/* ------------------------------------------------------------- signature */

static void
s_fnv (uint64_t *hash, const char *text)
{
    const unsigned char *at = (const unsigned char *) (text? text: "");
    do {
        *hash ^= *at;
        *hash *= 0x100000001b3ull;
    } while (*at++);
}

/* Mixes a cheap fingerprint of the file at path into hash: its size and
   modification time, when it is a regular file (an argument that names no
   file adds nothing). A --resume after the input changed is then refused. */
static void
s_fingerprint (uint64_t *hash, const char *path)
{
    struct stat info;
    char text [96];
    if (!path || stat (path, &info) != 0 || !S_ISREG (info.st_mode))
        return;
    snprintf (text, sizeof (text), "%jd:%jd.%09ld", (intmax_t) info.st_size,
              (intmax_t) info.st_mtim.tv_sec, (long) info.st_mtim.tv_nsec);
    s_fnv (hash, text);
}

void
ff_run_options_signature (const ff_run_options_t *self, char *out, size_t size)
{
    static const ff_opt_t cut [] = {
        FF_OPT_LINES, FF_OPT_BLOCK, FF_OPT_MAX_BLOCK, FF_OPT_INPUT
    };
    const ff_options_t *options = self->options;
    uint64_t hash = 0xcbf29ce484222325ull;
    const char *param;
    size_t index;
    int input;
    s_fnv (&hash, ff_options_text (options, FF_OPT_KERNEL, FF_DEFAULT_KERNEL));
    for (input = 0; (param = ff_options_nth (options, FF_OPT_PARAM, input)); input++)
        s_fnv (&hash, param);
    s_fnv (&hash, ff_options_given (options, FF_OPT_PIPE)? "pipe": "args");
    for (index = 0; index < sizeof (cut) / sizeof (cut [0]); index++)
        s_fnv (&hash, ff_options_text (options, cut [index], NULL));
    s_fnv (&hash, ff_options_text (options, FF_OPT_FORMAT, FF_DEFAULT_FORMAT));
    s_fnv (&hash, ff_options_text (options, FF_OPT_RETRIES, NULL));
    s_fnv (&hash, ff_options_text (options, FF_OPT_CHUNK, NULL));
    for (input = 0; input < self->ninputs; input++) {
        s_fnv (&hash, self->inputs [input]);
        s_fingerprint (&hash, self->inputs [input]);
    }
    s_fingerprint (&hash, ff_options_text (options, FF_OPT_INPUT, NULL));
    snprintf (out, size, "%016" PRIx64, hash);
}
