/*  The options of `fanfold run`; see run_options.h. Organised as: parsing
    and resolving, the --mode auto estimate, and the job's signature. */

#include "fanfold/launch/run_options.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Starting the topology costs about this much (processes, sockets). */
#define S_STARTUP_US 60000.0

static int
    s_small_job (const ff_run_options_t *self, const char **why);

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
    return rc;
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
    &&  (s_apply_exec (self, error, sizeof (error))
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
    self->inputs = ff_options_inputs (self->options, &self->ninputs);
    self->workers = (int) ff_options_long (self->options, FF_OPT_WORKERS,
                                           sysconf (_SC_NPROCESSORS_ONLN));
    if (!ff_options_given (self->options, FF_OPT_WORKERS) && self->workers < 1)
        self->workers = 1;
    if (strcmp (ff_options_text (self->options, FF_OPT_DISPATCH, "heavy"), "fifo") == 0
    &&  ff_options_set (self->options, FF_OPT_FIFO, NULL, error, sizeof (error)))
        return FF_OPTIONS_ERROR;
    if (isatty (STDERR_FILENO)
    &&  ff_options_set (self->options, FF_OPT_PROGRESS, NULL, error, sizeof (error)))
        return FF_OPTIONS_ERROR;
    s_decide_mode (self);
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
        FF_OPT_PIPE, FF_OPT_INTAKE, FF_OPT_EMIT, FF_OPT_RESUME, FF_OPT_JOBLOG,
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
    if ((size_t) self->ninputs * self->nkernels <= 1) {
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
    for (input = 0; input < self->ninputs; input++)
        s_fnv (&hash, self->inputs [input]);
    snprintf (out, size, "%016" PRIx64, hash);
}
