/*  fanfold job spec: the ventilator's options resolved (see jobspec.h). */

#include "fanfold/job/jobspec.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/kernels/source.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Adds the parameter key=value for the workers. Returns 0, or -1 when
   FF_MAX_PARAMS are given. */
static int
s_add_param (ff_jobspec_t *self, const char *key, const char *value)
{
    if (self->nparams == FF_MAX_PARAMS)
        return -1;
    self->params [2 * self->nparams] = key;
    self->params [2 * self->nparams++ + 1] = value;
    return 0;
}

/* A random job id of 16 hex digits. */
static void
s_make_job_id (char *job, size_t size)
{
    unsigned char bytes [8] = { 0 };
    int fd = open ("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd < 0 || read (fd, bytes, sizeof (bytes)) != (ssize_t) sizeof (bytes)) {
        uint64_t mix = (uint64_t) getpid () * 0x9e3779b97f4a7c15ull ^ (uint64_t) ff_clock_ms ();
        memcpy (bytes, &mix, sizeof (bytes));
    }
    if (fd >= 0)
        close (fd);
    snprintf (job, size, "%02x%02x%02x%02x%02x%02x%02x%02x", bytes [0], bytes [1],
              bytes [2], bytes [3], bytes [4], bytes [5], bytes [6], bytes [7]);
}

/* The workers' parameters: -p pairs, plugin paths (loaded here too),
   retries and the time limit. Returns 0, or -1 with error. */
static int
s_params (ff_jobspec_t *self, char *error, size_t error_size)
{
    const char *text;
    int index;
    for (index = 0; (text = ff_options_nth (self->parsed, FF_OPT_PARAM, index)); index++) {
        char *copy = self->param_copies [index] = strdup (text);
        char *equals = copy? strchr (copy, '='): NULL;
        if (!equals || s_add_param (self, copy, equals + 1)) {
            snprintf (error, error_size, "-p %s: too many parameters", text);
            return -1;
        }
        *equals = 0;
    }
    for (index = 0; (text = ff_options_nth (self->parsed, FF_OPT_PLUGIN, index)); index++) {
        /* workers load it too: it names a path on their host */
        if (ff_kernels_load (text, error, error_size))
            return -1;
        if (s_add_param (self, "plugin", text)) {
            snprintf (error, error_size, "too many -p parameters");
            return -1;
        }
    }
    /* -p retries=N (the launcher's retries=1 for commands) is the workers'
       value; --retries stays the ledger's, for crashed and hung workers */
    int retries_given = 0;
    for (index = 0; index < (int) self->nparams; index++)
        retries_given |= strcmp (self->params [2 * index], "retries") == 0;
    snprintf (self->retries_text, sizeof (self->retries_text), "%d", self->retries);
    snprintf (self->timeout_text, sizeof (self->timeout_text), "%g", self->timeout);
    if ((!retries_given && s_add_param (self, "retries", self->retries_text))
    ||  (self->timeout > 0 && s_add_param (self, "timeout", self->timeout_text))) {
        snprintf (error, error_size, "too many -p parameters");
        return -1;
    }
    return 0;
}

/* Splits -k and finds each kernel. Returns 0, or -1 with error. */
static int
s_kernels (ff_jobspec_t *self, char *error, size_t error_size)
{
    const char *list = ff_options_text (self->parsed, FF_OPT_KERNEL, FF_DEFAULT_KERNEL);
    int count = ff_kernels_split (list, self->kernel_names, FF_MAX_KERNELS);
    size_t index;
    if (count < 0) {
        snprintf (error, error_size, "-k %s: expected KERNEL[,KERNEL...]", list);
        return -1;
    }
    self->nkernels = (size_t) count;
    for (index = 0; index < self->nkernels; index++) {
        self->kernels [index] = ff_kernels_find (self->kernel_names [index]);
        if (!self->kernels [index]) {
            char known [1024];
            ff_kernels_list (known, sizeof (known));
            snprintf (error, error_size, "unknown kernel '%.64s' (known: %s)",
                      self->kernel_names [index], known);
            return -1;
        }
        if (self->kernels [index]->flags & FF_KERNEL_ARRAYS)
            self->arrays = 1;
    }
    return 0;
}

ff_options_status_t
ff_jobspec_parse (ff_jobspec_t *self, int argc, char *argv [], char *error, size_t error_size)
{
    memset (self, 0, sizeof (*self));
    ff_options_t *parsed = self->parsed = ff_options_new (FF_CMD_VENTILATOR);
    if (!parsed) {
        snprintf (error, error_size, "out of memory");
        return FF_OPTIONS_ERROR;
    }
    ff_options_status_t status = ff_options_parse (parsed, argc, argv, error, error_size);
    if (status != FF_OPTIONS_OK)
        return status;
    self->topology_path = ff_options_text (parsed, FF_OPT_TOPOLOGY, NULL);
    self->pipe = ff_options_given (parsed, FF_OPT_PIPE) > 0;
    self->cut = ff_options_given (parsed, FF_OPT_LINES)? FF_CUT_LINES: FF_CUT_BYTES;
    self->max_block = ff_options_long (parsed, FF_OPT_MAX_BLOCK, FF_DEFAULT_MAX_BLOCK);
    /* the default block shrinks to a smaller --max-block */
    self->cut_n = ff_options_long (parsed, FF_OPT_LINES, ff_options_long (parsed, FF_OPT_BLOCK,
                                   FF_DEFAULT_BLOCK < self->max_block? FF_DEFAULT_BLOCK
                                                                     : self->max_block));
    self->input_path = ff_options_text (parsed, FF_OPT_INPUT, NULL);
    self->intake = ff_options_text (parsed, FF_OPT_INTAKE, NULL);
    self->chunk = ff_options_long (parsed, FF_OPT_CHUNK, 0);
    self->insecure = ff_options_given (parsed, FF_OPT_INSECURE) > 0;
    self->fifo = ff_options_given (parsed, FF_OPT_FIFO) > 0;
    self->timeout = ff_options_seconds (parsed, FF_OPT_TIMEOUT, 0);
    self->retries = (int) ff_options_long (parsed, FF_OPT_RETRIES, FF_DEFAULT_RETRIES);
    self->verbose = ff_options_given (parsed, FF_OPT_VERBOSE) > 0;
    self->args = ff_options_inputs (parsed, &self->nargs);
    if (ff_options_given (parsed, FF_OPT_JOB_ID))
        snprintf (self->job_id, sizeof (self->job_id), "%s",
                  ff_options_text (parsed, FF_OPT_JOB_ID, ""));
    else
        s_make_job_id (self->job_id, sizeof (self->job_id));
    if (s_params (self, error, error_size) || s_kernels (self, error, error_size))
        return FF_OPTIONS_ERROR;
    return FF_OPTIONS_OK;
}

void
ff_jobspec_clear (ff_jobspec_t *self)
{
    size_t index;
    for (index = 0; index < self->nkernels; index++)
        free (self->kernel_names [index]);
    for (index = 0; index < FF_MAX_PARAMS; index++)
        free (self->param_copies [index]);
    ff_options_destroy (&self->parsed);
    memset (self, 0, sizeof (*self));
}

ff_producer_t *
ff_jobspec_producer (ff_jobspec_t *self, int stdin_closed, const char *shm_prefix, int *fd,
                     char *error, size_t error_size)
{
    ff_producer_t *producer;
    if (self->intake)
        producer = ff_producer_new_intake ();
    else
    if (!self->pipe) {
        /* arguments, `:::`/`::::` sources (`-` is stdin), --null, --link, --colsep */
        ff_sources_t sources = {
            .null = ff_options_given (self->parsed, FF_OPT_NULL) > 0,
            .link = ff_options_given (self->parsed, FF_OPT_LINK) > 0,
            .colsep = ff_options_text (self->parsed, FF_OPT_COLSEP, NULL),
            .fd = stdin_closed? -1: *fd, .arrays = self->arrays,
            .chunk_bytes = (uint64_t) self->chunk, .shm_prefix = shm_prefix
        };
        return ff_producer_new_sources (self->args, (size_t) self->nargs, &sources,
                                        error, error_size);
    }
    else
    if (!self->input_path && stdin_closed) {
        snprintf (error, error_size, "--pipe reads records from stdin, but stdin is closed");
        return NULL;
    }
    else {
        int input = self->input_path? open (self->input_path, O_RDONLY | O_CLOEXEC): *fd;
        if (input < 0) {
            snprintf (error, error_size, "%s: cannot open: %s", self->input_path, strerror (errno));
            return NULL;
        }
        producer = ff_producer_new_pipe (input, self->input_path? self->input_path: "stdin",
                                         self->cut, (size_t) self->cut_n, (size_t) self->max_block);
        if (producer)
            *fd = input;
        else
        if (self->input_path)
            close (input);
    }
    if (!producer)
        snprintf (error, error_size, "out of memory for the input");
    return producer;
}

/* Asks the kernel how heavy the task of unit is. */
static double
s_estimate (ff_jobspec_t *self, ff_ledger_t *ledger, const ff_unit_t *unit, size_t kernel_index)
{
    const ff_kernel_t *kernel = self->kernels [kernel_index];
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ff_array_t arrays [FF_SOURCE_MAX_ARRAYS];
    size_t count = 0, index;
    if (!kernel || !kernel->cost)
        return 0;
    if (unit->source) {
        count = ff_source_slices (unit->source, (uint64_t) self->chunk, unit->chunk, slices);
        for (index = 0; index < count; index++)
            arrays [index] = slices [index].array;
    }
    ff_task_t task = {
        .seq = ff_ledger_next_seq (ledger), .input = unit->input, .data = unit->data,
        .size = unit->size, .params = self->params, .nparams = self->nparams,
        .arrays = arrays, .narrays = count
    };
    return kernel->cost (&task);
}

int
ff_jobspec_create_tasks (ff_jobspec_t *self, ff_ledger_t *ledger, ff_dispatch_t *policy,
                         const ff_unit_t *unit)
{
    size_t kernel;
    if (unit->kind == FF_UNIT_FAILED)
        ff_log_error ("%s", unit->failure);
    for (kernel = 0; kernel < self->nkernels; kernel++) {
        double cost = s_estimate (self, ledger, unit, kernel);
        ff_source_t *ref = unit->source? ff_source_ref (unit->source): NULL;
        ff_ledger_create_t rc = ff_ledger_create (ledger, (uint32_t) kernel, unit->input,
                                                  unit->data, unit->size, ref, unit->chunk,
                                                  unit->chunks, cost, unit->failure);
        if (rc == FF_LEDGER_NO_MEMORY) {
            ff_source_unref (&ref);
            ff_log_error ("out of memory for task %" PRIu64, ff_ledger_next_seq (ledger));
            return -1;
        }
        if (rc == FF_LEDGER_CREATED)
            ff_dispatch_note_cost (policy, cost);
    }
    return 0;
}

void
ff_jobspec_release_source (void *ref, void *arg)
{
    ff_source_t *source = (ff_source_t *) ref;
    (void) arg;
    ff_source_unref (&source);
}
