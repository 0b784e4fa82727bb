/*  The serial run; see serial.h. Organised as: the job's parameters, one
    unit (every kernel on it), and the run. */

#include "fanfold/launch/serial.h"
#include "fanfold/job/delivery.h"
#include "fanfold/job/producer.h"
#include "fanfold/kernels/exec.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/kernels/task.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FF_DRY_RUN_MAX_FIELDS 256  /* fields of one --dry-run line */

/* What running one unit needs; one per run. */
typedef struct {
    const ff_run_options_t *run;    /* the command line */
    const char *params [2 * (FF_MAX_PARAMS + 2)]; /* what a worker gets: -p, retries, timeout */
    size_t nparams;                 /* pairs */
    char retries_text [24];         /* the retries pair's value */
    char timeout_text [32];         /* the timeout pair's value */
    ff_task_policy_t policy;        /* retries and the stop flag */
    uint64_t chunk_bytes;           /* --chunk, 0: whole arrays */
    uint64_t seq;                   /* the next task's seq */
    ff_delivery_t *delivery;        /* writes the results in seq order */
    ff_result_t out;                /* one kernel result, reused */
    const ff_unit_t *unit;          /* the unit being run, for --results */
} s_serial_t;

static int
s_stopped (void)
{
    return ff_stop_signal != 0;
}

/* The job's parameters as the ventilator gives them to a worker. */
static void
s_params (s_serial_t *self)
{
    const ff_options_t *options = self->run->options;
    size_t index;
    int retries_given = 0;
    /* the order the ventilator's welcome has (common/job/jobspec.c): the
       job's -p pairs (with the launcher's exec ones), then retries unless
       a pair gave it, then the time limit; a kernel takes the first pair */
    for (index = 0; index < self->run->nparams; index++) {
        self->params [2 * self->nparams] = self->run->params [2 * index];
        self->params [2 * self->nparams + 1] = self->run->params [2 * index + 1];
        retries_given |= strcmp (self->run->params [2 * index], "retries") == 0;
        self->nparams++;
    }
    if (!retries_given) {
        snprintf (self->retries_text, sizeof (self->retries_text), "%ld",
                  ff_options_long (options, FF_OPT_RETRIES, FF_DEFAULT_RETRIES));
        self->params [2 * self->nparams] = "retries";
        self->params [2 * self->nparams + 1] = self->retries_text;
        self->nparams++;
    }
    double timeout = ff_options_seconds (options, FF_OPT_TIMEOUT, 0);
    if (timeout > 0) {
        snprintf (self->timeout_text, sizeof (self->timeout_text), "%g", timeout);
        self->params [2 * self->nparams] = "timeout";
        self->params [2 * self->nparams + 1] = self->timeout_text;
        self->nparams++;
    }
}

/* Says that the output failed, unless its reader left (a closed pipe
   ends the job quietly, with FF_EXIT_PIPE_CLOSED). */
static void
s_write_failed (ff_delivery_t *delivery)
{
    int code = ff_delivery_counts (delivery)->write_errno;
    if (code != EPIPE)
        ff_log_error ("cannot write %s: %s", ff_delivery_output_name (delivery),
                      strerror (code));
}

/* The delivery's fields callback: the unit being run is seq's. */
static int
s_fields (void *arg, uint64_t seq, const char **data, size_t *size)
{
    s_serial_t *self = (s_serial_t *) arg;
    (void) seq;
    if (!self->unit || self->unit->kind != FF_UNIT_INLINE)
        return -1;
    *data = (const char *) self->unit->data;
    *size = self->unit->size;
    return 0;
}

/* Runs every kernel on one unit, input-major, and hands each result to
   the delivery. Returns 0, or -1 when the output failed (said) or --halt
   stopped the job. */
static int
s_run_unit (s_serial_t *self, const ff_unit_t *unit)
{
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ff_array_t arrays [FF_SOURCE_MAX_ARRAYS];
    size_t narrays = 0, index, input_len = strlen (unit->input);
    if (unit->kind == FF_UNIT_FAILED)
        ff_log_error ("%s", unit->failure);
    if (unit->kind == FF_UNIT_ARRAYS) {
        narrays = ff_source_slices (unit->source, self->chunk_bytes, unit->chunk, slices);
        for (index = 0; index < narrays; index++)
            arrays [index] = slices [index].array;
    }
    for (index = 0; index < self->run->nkernels; index++) {
        ff_task_t task = {
            .seq = self->seq, .input = unit->input, .data = unit->data, .size = unit->size,
            .params = self->params, .nparams = self->nparams,
            .arrays = narrays? arrays: NULL, .narrays = narrays
        };
        ff_task_outcome_t outcome;
        if (unit->kind == FF_UNIT_FAILED)
            ff_task_fail (unit->failure, &self->out, &outcome);
        else
            ff_task_run (self->run->kernels [index], &task, &self->policy, &self->out, &outcome);
        /* a result has no arrays: what is before them is the whole item,
           and zeroing the handles too would cost more than the rest */
        ff_item_t item;
        memset (&item, 0, offsetof (ff_item_t, arrays));
        item.seq = self->seq++;
        item.kernel = (uint32_t) index;
        item.status = outcome.status;
        item.kind = outcome.kind;
        item.input = (ff_str_t) { unit->input, input_len };
        item.data = (ff_str_t) { (const char *) self->out.data.data, self->out.data.size };
        item.meta = (ff_str_t) { (const char *) self->out.meta.data, self->out.meta.size };
        item.attempt = 1;
        item.tries = outcome.tries;
        item.bytes_in = unit->size;
        item.chunk = unit->chunk;
        item.chunks = unit->chunks;
        self->unit = unit;
        ff_delivery_rc_t rc = ff_delivery_take (self->delivery, 0, &item);
        self->unit = NULL;
        if (rc == FF_DELIVERY_WRITE_FAILED) {
            s_write_failed (self->delivery);
            return -1;
        }
        /* each seq is due when it comes: nothing else can happen */
        assert (rc == FF_DELIVERY_WRITTEN);
        if (ff_delivery_halted (self->delivery))
            return -1;
    }
    return 0;
}

/* --dry-run: writes the command line of each unit's task, one per line,
   as the exec kernel would build it in slot 1. Returns 0 or -1 (said). */
static int
s_dry_run (s_serial_t *self, const ff_unit_t *unit)
{
    ff_exec_arg_t args [FF_DRY_RUN_MAX_FIELDS];
    const char *cmd = NULL;
    size_t index, nargs = 0, start = 0;
    int pipe = 0;
    for (index = 0; index < self->nparams; index++) {
        if (strcmp (self->params [2 * index], "cmd") == 0)
            cmd = self->params [2 * index + 1];
        if (strcmp (self->params [2 * index], "pipe") == 0)
            pipe = strcmp (self->params [2 * index + 1], "1") == 0;
    }
    if (!cmd) {
        ff_log_error ("--dry-run prints the commands of the exec kernel: give a command");
        return -1;
    }
    if (!pipe)
        for (index = 0; index <= unit->size && nargs < FF_DRY_RUN_MAX_FIELDS; index++)
            if (index == unit->size || unit->data [index] == 0) {
                args [nargs].text = (const char *) unit->data + start;
                args [nargs].len = index - start;
                nargs++;
                start = index + 1;
            }
    ff_buf_t line = { 0 };
    int rc = ff_exec_line (&line, cmd, args, nargs, self->seq++, "1", 0);
    if (rc == 0 && (fwrite (line.data, 1, line.size, stdout) != line.size || putchar ('\n') == EOF))
        rc = -1;
    free (line.data);
    if (rc)
        ff_log_error ("cannot write the command line: %s", strerror (errno));
    return rc;
}

/* Makes the producer of the run's units: --pipe blocks from stdin or
   --input (opened into *in_fd), else the positional arguments. */
static ff_producer_t *
s_producer (const ff_run_options_t *run, uint64_t chunk_bytes, int *in_fd)
{
    const ff_options_t *options = run->options;
    if (!ff_options_given (options, FF_OPT_PIPE)) {
        int arrays = 0;
        size_t index;
        for (index = 0; index < run->nkernels; index++)
            arrays |= (run->kernels [index]->flags & FF_KERNEL_ARRAYS) != 0;
        ff_sources_t config = {
            .null = ff_options_given (options, FF_OPT_NULL),
            .link = ff_options_given (options, FF_OPT_LINK),
            .colsep = ff_options_text (options, FF_OPT_COLSEP, NULL),
            .fd = STDIN_FILENO, .arrays = arrays, .chunk_bytes = chunk_bytes
        };
        char error [FF_PRODUCER_ERROR_MAX];
        ff_producer_t *producer = ff_producer_new_sources (run->inputs, (size_t) run->ninputs,
                                                           &config, error, sizeof (error));
        if (!producer)
            ff_log_error ("%s", error);
        return producer;
    }
    const char *input = ff_options_text (options, FF_OPT_INPUT, NULL);
    long max_block = ff_options_long (options, FF_OPT_MAX_BLOCK, FF_DEFAULT_MAX_BLOCK);
    long n = ff_options_long (options, FF_OPT_LINES, 0);
    ff_cut_t cut = n? FF_CUT_LINES: FF_CUT_BYTES;
    if (cut == FF_CUT_BYTES) {
        /* the default block shrinks to a smaller --max-block; a given one
           was checked against it */
        n = ff_options_long (options, FF_OPT_BLOCK, FF_DEFAULT_BLOCK);
        if (n > max_block)
            n = max_block;
    }
    if (input) {
        *in_fd = open (input, O_RDONLY | O_CLOEXEC);
        if (*in_fd < 0) {
            ff_log_error ("%s: cannot open: %s", input, strerror (errno));
            return NULL;
        }
    }
    return ff_producer_new_pipe (*in_fd, input? input: "stdin", cut, (size_t) n,
                                 (size_t) max_block);
}

int
ff_serial_run (const ff_run_options_t *run)
{
    s_serial_t self;
    ff_str_t names [FF_MAX_KERNELS];
    int in_fd = STDIN_FILENO, rc = FF_EXIT_ERROR;
    size_t index;
    char error [512];
    ff_producer_t *producer = NULL;

    memset (&self, 0, sizeof (self));
    self.run = run;
    s_params (&self);
    /* as a worker reads them: the last retries parameter counts */
    for (index = 0; index < self.nparams; index++)
        if (strcmp (self.params [2 * index], "retries") == 0)
            self.policy.retries = (uint32_t) strtoul (self.params [2 * index + 1], NULL, 10);
    if (self.policy.retries < 1)
        self.policy.retries = 1;
    self.policy.stopped = s_stopped;
    self.chunk_bytes = (uint64_t) ff_options_long (run->options, FF_OPT_CHUNK, 0);
    const ff_options_t *options = run->options;
    ff_delivery_options_t delivery = {
        .output_path = ff_options_text (options, FF_OPT_OUTPUT, NULL),
        .output_fd = STDOUT_FILENO, .format = run->format,
        .tag = ff_options_text (options, FF_OPT_TAGSTRING,
                                ff_options_given (options, FF_OPT_TAG)? "{}": NULL),
        .results_dir = ff_options_text (options, FF_OPT_RESULTS, NULL),
        .fields = ff_options_given (options, FF_OPT_PIPE)? NULL: s_fields, .fields_arg = &self,
        .pipe = ff_options_given (options, FF_OPT_PIPE) > 0
    };
    ff_halt_parse (ff_options_text (options, FF_OPT_HALT, NULL), &delivery.halt);
    self.delivery = ff_delivery_new (&delivery, error, sizeof (error));
    if (!self.delivery) {
        ff_log_error ("%s", error);
        return FF_EXIT_ERROR;
    }
    for (index = 0; index < run->nkernels; index++)
        names [index] = (ff_str_t) { run->kernel_names [index], strlen (run->kernel_names [index]) };
    if (ff_delivery_begin (self.delivery, names, run->nkernels, 1, -1)) {
        ff_log_error ("cannot begin the job: %s", strerror (errno));
        goto done;
    }
    producer = s_producer (run, self.chunk_bytes, &in_fd);
    if (!producer)
        goto done;
    ff_delivery_set_total (self.delivery, ff_producer_total (producer)
                                          * (int64_t) run->nkernels);
    while (!ff_stop_signal) {
        ff_unit_t unit;
        ff_produce_t got = ff_producer_next (producer, &unit);
        if (got == FF_PRODUCE_WAIT)
            ff_producer_fill (producer);    /* a read error shows at the next call */
        else
        if (got == FF_PRODUCE_ERROR) {
            ff_log_error ("%s", ff_producer_error (producer));
            goto done;
        }
        else
        if (got == FF_PRODUCE_END)
            break;
        else
        if (run->dry_run? s_dry_run (&self, &unit): s_run_unit (&self, &unit)) {
            rc = ff_delivery_exit_status (self.delivery);
            goto done;
        }
    }
    if (ff_stop_signal)
        rc = FF_EXIT_SIGNAL_BASE + ff_stop_signal;
    else {
        if (ff_delivery_flush (self.delivery))
            s_write_failed (self.delivery);
        rc = ff_delivery_exit_status (self.delivery);
    }
done:
    ff_producer_destroy (&producer);
    ff_delivery_destroy (&self.delivery);
    ff_result_reset (&self.out, 0);
    if (in_fd != STDIN_FILENO)
        close (in_fd);
    return rc;
}
