/*  The warm pool's commands; see service.h. Organised as: finding the
    pool, `fanfold submit` (the job as `fanfold run` reads it, a mirror
    ledger of what the server holds, the loop), `fanfold status`, and
    `fanfold serve` (its children and their stop). */

#include "fanfold/launch/service.h"
#include "fanfold/job/delivery.h"
#include "fanfold/job/jobspec.h"
#include "fanfold/job/ledger.h"
#include "fanfold/job/producer.h"
#include "fanfold/job/taskmsg.h"
#include "fanfold/kernels/source.h"
#include "fanfold/launch/rundir.h"
#include "fanfold/launch/run_options.h"
#include "fanfold/launch/serial.h"
#include "fanfold/launch/supervisor.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/options.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_ANSWER_MS 5000            /* the server answers a submit within this */
#define S_STATUS_MS 1000            /* ... and a status request within this */
#define S_ACK_BATCH 256             /* seqs in an ack while results keep coming */
#define S_CLIENT_SOCKETS 64         /* libzmq's socket table in a client process */

/* ------------------------------------------------------- finding the pool */

void
ff_service_client_process (void)
{
    /* libzmq sizes its socket table when the first socket is made, from
       ZMQ_MAX_SOCKETS, which ff_fdlimit_raise set to the descriptor limit:
       20,000 to 65,535 slots made and freed by every submit for its one
       socket (about 1 ms of the process) */
    zmq_ctx_set (zsys_init (), ZMQ_MAX_SOCKETS, S_CLIENT_SOCKETS);
}

/* The topology of the pool: the one given, else the private one `fanfold
   serve` made. Returns it loaded, or NULL having said why. */
static ff_topology_t *
s_topology (const char *given, char *path, size_t size)
{
    char error [512];
    if (given)
        snprintf (path, size, "%s", given);
    else
    if (ff_rundir_find_live (path, size) < 1) {
        ff_log_error ("no pool of yours is running: start one with `fanfold serve`, "
                      "or give -t TOPOLOGY");
        return NULL;
    }
    ff_topology_t *topology = ff_topology_load (path, error, sizeof (error));
    if (!topology)
        ff_log_error ("%s", error);
    return topology;
}

/* A DEALER connected to the pool's clients endpoint. */
static zsock_t *
s_connect (ff_topology_t *topology, ff_security_t **security)
{
    char error [512];
    const char *endpoint = ff_topology_connect (topology, FF_EP_CLIENTS);
    zsock_t *sock = ff_net_socket (ZMQ_DEALER, 2 * ff_topology_settings (topology)->window
                                               + ff_topology_settings (topology)->hwm,
                                   0, FF_MAX_RESULT_MESSAGE);
    if (!sock
    ||  !(*security = ff_security_new (topology, 0, 1, error, sizeof (error)))
    ||  ff_security_connect (*security, sock, endpoint, error, sizeof (error))
    ||  zsock_connect (sock, "%s", endpoint) != 0) {
        ff_log_error ("cannot connect to %s", endpoint);
        zsock_destroy (&sock);
        return NULL;
    }
    return sock;
}

/* Receives one version-2 message within timeout_ms into msg (body holds
   its bytes; the caller closes it). Returns 0, or -1 on time out. */
static int
s_receive (zsock_t *sock, zmq_msg_t *body, ff_msg_t *msg, int timeout_ms)
{
    int64_t deadline = ff_clock_ms () + timeout_ms;
    while (!ff_stop_signal) {
        int rc = ff_net_recv (sock, NULL, body);
        if (rc == 0) {
            if (ff_msg_decode (zmq_msg_data (body), zmq_msg_size (body), msg) == 0
            &&  msg->version == FF_PROTOCOL_POOL)
                return 0;
            zmq_msg_close (body);
            continue;
        }
        if (rc == 1)
            continue;
        int64_t left = deadline - ff_clock_ms ();
        if (left <= 0)
            return -1;
        zmq_pollitem_t item = { zsock_resolve (sock), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, (long) left);
    }
    return -1;
}

/* ---------------------------------------------------------------- submit */

typedef struct {
    ff_run_options_t run;           /* the command line, as `fanfold run` reads it */
    ff_jobspec_t spec;              /* ... and as its ventilator reads it */
    char *vent_argv [FF_MAX_ARGS];  /* the ventilator's command line (head) */
    char **argv;                    /* with the inputs */
    ff_topology_t *topology;        /* the pool's */
    ff_security_t *security;        /* CURVE client keys, or none */
    zsock_t *server;                /* DEALER to the clients endpoint */
    ff_codec_t *codec;              /* encoder, version 2 */
    ff_delivery_t *delivery;        /* reorder, output, joblog, resume state */
    ff_ledger_t *ledger;            /* mirror of the server's ledger of this job */
    ff_dispatch_t *policy;          /* only for ff_jobspec_create_tasks' cost notes */
    ff_producer_t *producer;        /* the job's inputs */
    int input_fd;                   /* --pipe reads this */
    int want_input;                 /* the producer waits for input */
    char job [64];                  /* the id the server gave */
    uint64_t window;                /* as accepted */
    uint64_t sent;                  /* seqs below it went to the server */
    int64_t total;                  /* tasks, once the input is exhausted */
    int told_total;                 /* the server knows total */
    int ended;                      /* the server sent end: status in end_status */
    uint64_t end_status;            /* 0 done; 1 the server stopped; 2 refused */
    int failed;                     /* input or memory failed: the job ends */
    int64_t last_heard;             /* ms: last message from the server */
    int64_t last_hb;                /* ms: our last heartbeat */
    uint64_t workers;               /* able to run the job, as the server says */
    char shm_prefix [96];           /* ff_<uid>_<job>_<pid>_ */
} s_submit_t;

/* Builds the ventilator's command line from the run's options (as
   `fanfold run` builds it for its ventilator) and reads it. */
static int
s_submit_spec (s_submit_t *self, const char *topology)
{
    char *forwarded [FF_MAX_ARGS], error [1024];
    int nforwarded = 0, index, argc = 0;
    self->vent_argv [argc++] = "fanfold-ventilator";
    self->vent_argv [argc++] = "-t";
    self->vent_argv [argc++] = (char *) topology;
    if (ff_options_forward (self->run.options, FF_CMD_VENTILATOR, forwarded, &nforwarded,
                            FF_MAX_ARGS))
        return -1;
    for (index = 0; index < nforwarded; index++) {
        if (strcmp (forwarded [index], "--topology") == 0) {
            index++;
            continue;
        }
        if (argc + 2 >= FF_MAX_ARGS)
            return -1;
        self->vent_argv [argc++] = forwarded [index];
    }
    self->vent_argv [argc++] = "--";
    self->argv = (char **) calloc ((size_t) (argc + self->run.ninputs + 1), sizeof (char *));
    if (!self->argv)
        return -1;
    memcpy (self->argv, self->vent_argv, (size_t) argc * sizeof (char *));
    for (index = 0; index < self->run.ninputs; index++)
        self->argv [argc + index] = self->run.inputs [index];
    if (ff_jobspec_parse (&self->spec, argc + self->run.ninputs, self->argv, error,
                          sizeof (error)) != FF_OPTIONS_OK) {
        ff_log_error ("%s", error);
        return -1;
    }
    return 0;
}

static void
s_send (s_submit_t *self)
{
    ff_net_send (self->server, NULL, 0, ff_codec_data (self->codec), ff_codec_size (self->codec),
                 1000);
}

/* Takes an error record of a task the client made failed (an array
   source that did not load): as the sink takes the ventilator's. */
static int
s_take_local_errors (s_submit_t *self)
{
    int rc;
    while ((rc = ff_taskmsg_next_error (self->codec, self->job, self->ledger)) == 1) {
        ff_msg_t msg;
        ff_item_t item;
        if (ff_msg_decode (ff_codec_data (self->codec), ff_codec_size (self->codec), &msg))
            return -1;
        while (ff_msg_next_item (&msg, &item))
            ff_delivery_take (self->delivery, FF_DELIVERY_VENTILATOR, &item);
    }
    return rc;
}

/* Creates tasks while the mirror ledger has room (as the ventilator does). */
static void
s_produce (s_submit_t *self)
{
    ff_produce_t rc = FF_PRODUCE_UNIT;
    self->want_input = 0;
    while (rc == FF_PRODUCE_UNIT && self->total < 0 && !self->failed
    &&     ff_ledger_room (self->ledger, self->spec.nkernels)) {
        ff_unit_t unit;
        rc = ff_producer_next (self->producer, &unit);
        if (rc == FF_PRODUCE_UNIT
        &&  ff_jobspec_create_tasks (&self->spec, self->ledger, self->policy, &unit))
            self->failed = 1;
        else
        if (rc == FF_PRODUCE_WAIT)
            self->want_input = 1;
        else
        if (rc == FF_PRODUCE_END)
            self->total = (int64_t) ff_ledger_next_seq (self->ledger);
        else
        if (rc == FF_PRODUCE_ERROR) {
            ff_log_error ("%s", ff_producer_error (self->producer));
            self->failed = 1;
        }
    }
}

/* Sends the tasks created since the last call, in seq order, in messages
   of at most FF_MAX_BATCH items (a task the client made failed goes as
   an empty item: its record is written here, a late result is a
   duplicate). Seqs a resumed job wrote are not sent. */
static void
s_send_tasks (s_submit_t *self)
{
    uint64_t next = ff_ledger_next_seq (self->ledger);
    while (self->sent < next) {
        uint64_t seq, first = self->sent;
        size_t count = 0;
        while (first < next && !ff_ledger_task (self->ledger, first))
            first++;                /* written by an earlier run */
        for (seq = first; seq < next && count < FF_MAX_BATCH
                          && ff_ledger_task (self->ledger, seq); seq++)
            count++;
        if (count == 0) {
            self->sent = first;
            break;
        }
        if (ff_codec_tasks_begin (self->codec, self->job, count)) {
            self->failed = 1;
            return;
        }
        for (seq = first; seq < first + count; seq++) {
            const ff_ledger_task_t *task = ff_ledger_task (self->ledger, seq);
            int failed = task->state == FF_SLOT_FAILED || task->state == FF_SLOT_ERROR;
            ff_item_t item;
            memset (&item, 0, offsetof (ff_item_t, arrays));
            item.seq = seq;
            item.kernel = task->kernel;
            item.input = ff_str (task->input? task->input: "");
            if (!failed && task->data) {
                item.data.ptr = (const char *) task->data;
                item.data.len = task->size;
            }
            item.chunk = task->chunk;
            item.chunks = task->chunks;
            if (!failed && task->ref) {
                ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
                size_t narrays = ff_source_slices ((ff_source_t *) task->ref,
                                                   (uint64_t) self->spec.chunk, task->chunk,
                                                   slices), index;
                item.narrays = narrays;
                for (index = 0; index < narrays; index++) {
                    ff_handle_t *handle = &item.arrays [index];
                    const ff_array_t *array = &slices [index].array;
                    memset (handle, 0, sizeof (*handle));
                    handle->name = ff_str (array->name);
                    handle->dtype = (uint32_t) array->dtype;
                    handle->ndim = array->ndim;
                    memcpy (handle->shape, array->shape, sizeof (handle->shape));
                    handle->length = array->size;
                    handle->segment = ff_str (slices [index].segment);
                    handle->offset = slices [index].offset;
                }
            }
            if (ff_codec_tasks_item (self->codec, &item)) {
                self->failed = 1;
                return;
            }
        }
        s_send (self);
        self->sent = first + count;
    }
}

/* Sends what the delivery took since the last ack, and marks the same
   in the mirror ledger (the server does so when it reads the ack, before
   any later tasks). */
static void
s_send_ack (s_submit_t *self)
{
    size_t index, count;
    const uint64_t *seqs = ff_delivery_acks (self->delivery, &count);
    uint64_t written = ff_delivery_written (self->delivery);
    int64_t now = ff_clock_ms ();
    ff_codec_ack_begin (self->codec, self->job, written, count);
    for (index = 0; index < count; index++) {
        ff_codec_ack_seq (self->codec, seqs [index]);
        ff_ledger_ack (self->ledger, seqs [index], now);
    }
    ff_ledger_advance (self->ledger, written, now);
    s_send (self);
    ff_delivery_acks_clear (self->delivery);
}

static void
s_on_server (s_submit_t *self)
{
    int rc, round;
    for (round = 0; round < 1024; round++) {
        zmq_msg_t body;
        ff_msg_t msg;
        ff_item_t item;
        size_t nacks;
        if ((rc = ff_net_recv (self->server, NULL, &body)) < 0)
            break;
        if (rc == 1)
            continue;
        if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg) == 0
        &&  msg.version == FF_PROTOCOL_POOL && ff_str_eq (msg.job, self->job)) {
            self->last_heard = ff_clock_ms ();
            if (msg.type == FF_MSG_RESULT)
                while (ff_msg_next_item (&msg, &item)) {
                    ff_delivery_acks (self->delivery, &nacks);
                    if (nacks == FF_MAX_ACK_SEQS)
                        s_send_ack (self);
                    if (ff_delivery_take (self->delivery, msg.worker, &item)
                        == FF_DELIVERY_WRITE_FAILED)
                        break;
                }
            else
            if (msg.type == FF_MSG_HB)
                self->workers = msg.worker;
            else
            if (msg.type == FF_MSG_END) {
                self->ended = 1;
                self->end_status = msg.status;
            }
        }
        zmq_msg_close (&body);
    }
}

/* Asks for the job; fills self->job and window. Returns 0, or -1 said. */
static int
s_submit_job (s_submit_t *self, uint64_t share)
{
    char client [160];
    zmq_msg_t body;
    ff_msg_t msg;
    ff_net_peer_name (client, sizeof (client));
    ff_codec_submit (self->codec, client, (const char *const *) self->spec.kernel_names,
                     self->spec.nkernels, self->spec.params, self->spec.nparams, share, 0);
    s_send (self);
    while (1) {
        if (s_receive (self->server, &body, &msg, S_ANSWER_MS)) {
            ff_log_error ("no pool answers on %s", ff_topology_connect (self->topology,
                                                                         FF_EP_CLIENTS));
            return -1;
        }
        if (msg.type == FF_MSG_REFUSED) {
            ff_log_error ("the pool refused the job: %.*s", (int) msg.text.len, msg.text.ptr);
            zmq_msg_close (&body);
            return -1;
        }
        if (msg.type == FF_MSG_ACCEPTED && msg.job.len < sizeof (self->job)) {
            snprintf (self->job, sizeof (self->job), "%.*s", (int) msg.job.len, msg.job.ptr);
            self->window = msg.window;
            ff_ledger_config_t ledger = {
                .window = (size_t) msg.window, .window_bytes = (size_t) msg.window_bytes,
                .retries = (uint32_t) self->spec.retries, .release = ff_jobspec_release_source
            };
            zmq_msg_close (&body);
            return (self->ledger = ff_ledger_new (&ledger))? 0: -1;
        }
        zmq_msg_close (&body);
    }
}

static int
s_submit_run (s_submit_t *self, int stdin_closed)
{
    char error [FF_PRODUCER_ERROR_MAX], prefix [64];
    ff_str_t names [FF_MAX_KERNELS];
    size_t index, nacks;
    const ff_settings_t *settings = ff_topology_settings (self->topology);
    for (index = 0; index < self->spec.nkernels; index++)
        names [index] = ff_str (self->spec.kernel_names [index]);
    ff_shm_job_prefix (self->job, prefix, sizeof (prefix));
    snprintf (self->shm_prefix, sizeof (self->shm_prefix), "%s%d_", prefix, (int) getpid ());
    self->producer = ff_jobspec_producer (&self->spec, stdin_closed, self->shm_prefix,
                                          &self->input_fd, error, sizeof (error));
    if (!self->producer) {
        ff_log_error ("%s", error);
        return FF_EXIT_ERROR;
    }
    if (ff_delivery_begin (self->delivery, names, self->spec.nkernels, self->window, -1)) {
        ff_log_error ("cannot begin the job: %s", strerror (errno));
        return FF_EXIT_ERROR;
    }
    /* the first ack: how much an earlier run wrote (the server skips it) */
    ff_ledger_set_skip (self->ledger, ff_delivery_written (self->delivery));
    s_send_ack (self);
    self->last_heard = ff_clock_ms ();
    while (!ff_stop_signal && !ff_delivery_done (self->delivery) && !self->ended
    &&     !self->failed && !ff_delivery_counts (self->delivery)->write_failed) {
        s_produce (self);
        if (s_take_local_errors (self) < 0)
            self->failed = 1;
        s_send_tasks (self);
        if (self->total >= 0 && !self->told_total) {
            ff_codec_total (self->codec, self->job, (uint64_t) self->total);
            s_send (self);
            ff_delivery_set_total (self->delivery, self->total);
            self->told_total = 1;
        }
        int64_t now = ff_clock_ms ();
        if (now - self->last_hb >= FF_CLIENT_HB_MS) {
            ff_codec_client_hb (self->codec, self->job);
            s_send (self);
            self->last_hb = now;
        }
        if (now - self->last_heard > settings->worker_timeout_ms) {
            ff_log_error ("the pool fell silent for %d ms: the job is abandoned",
                          settings->worker_timeout_ms);
            return FF_EXIT_ERROR;
        }
        zmq_pollitem_t items [2] = {
            { zsock_resolve (self->server), 0, ZMQ_POLLIN, 0 },
            { NULL, self->input_fd, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, self->want_input? 2: 1, FF_CLIENT_HB_MS);
        if (rc < 0 && errno != EINTR) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return FF_EXIT_ERROR;
        }
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN))
            s_on_server (self);
        if (rc > 0 && self->want_input && (items [1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
        &&  ff_producer_fill (self->producer) < 0) {
            ff_log_error ("%s", ff_producer_error (self->producer));
            self->failed = 1;
        }
        ff_delivery_acks (self->delivery, &nacks);
        if (nacks) {
            if (ff_delivery_flush (self->delivery))
                break;
            s_send_ack (self);
        }
        ff_delivery_checkpoint (self->delivery, ff_clock_ms (), 0);
    }
    ff_delivery_checkpoint (self->delivery, ff_clock_ms (), 1);
    if (ff_delivery_flush (self->delivery) == 0 && ff_delivery_done (self->delivery)) {
        /* the last ack (the socket's linger sends it): the server ends the
           job on it; its `end` is not waited for, the output is complete */
        s_send_ack (self);
        return ff_delivery_exit_status (self->delivery);
    }
    if (ff_delivery_counts (self->delivery)->write_failed) {
        int code = ff_delivery_counts (self->delivery)->write_errno;
        if (code != EPIPE)
            ff_log_error ("cannot write %s: %s", ff_delivery_output_name (self->delivery),
                          strerror (code));
        ff_codec_cancel (self->codec, self->job);
        s_send (self);
        return ff_delivery_exit_status (self->delivery);
    }
    if (ff_stop_signal) {
        ff_codec_cancel (self->codec, self->job);
        s_send (self);
        return FF_EXIT_SIGNAL_BASE + ff_stop_signal;
    }
    if (self->ended)
        ff_log_error ("the pool ended the job before it was done (%s)",
                      self->end_status == 2? "the client broke the protocol"
                      : "the server stopped");
    else {
        ff_codec_cancel (self->codec, self->job);
        s_send (self);
    }
    return FF_EXIT_ERROR;
}

/* Takes --share N out of argv (in place); returns its value, 1 when not
   given, or 0 (said) when it is not a number from 1 to FF_MAX_SHARE. */
static uint64_t
s_take_share (int *argc, char *argv [])
{
    int index, out = 1;
    uint64_t share = 1;
    for (index = 1; index < *argc; index++) {
        const char *value = NULL;
        if (strcmp (argv [index], "--") == 0) {
            while (index < *argc)
                argv [out++] = argv [index++];
            break;
        }
        if (strcmp (argv [index], "--share") == 0 && index + 1 < *argc)
            value = argv [++index];
        else
        if (strncmp (argv [index], "--share=", 8) == 0)
            value = argv [index] + 8;
        if (!value) {
            argv [out++] = argv [index];
            continue;
        }
        double number;
        char error [256];
        if (ff_option_check (FF_OPT_SHARE, value, &number, error, sizeof (error))) {
            ff_log_error ("%s", error);
            return 0;
        }
        share = (uint64_t) number;
    }
    *argc = out;
    argv [out] = NULL;
    return share;
}

int
ff_service_submit (int argc, char *argv [], int stdin_closed)
{
    s_submit_t self;
    char path [PATH_MAX], error [512], signature [24];
    int rc = FF_EXIT_ERROR;
    char **args = (char **) calloc ((size_t) argc + 1, sizeof (char *));
    if (!args)
        return FF_EXIT_ERROR;
    memcpy (args, argv, (size_t) argc * sizeof (char *));
    memset (&self, 0, sizeof (self));
    self.total = -1;
    self.input_fd = STDIN_FILENO;
    uint64_t share = s_take_share (&argc, args);
    if (share == 0) {
        free (args);
        return FF_EXIT_ERROR;
    }
    switch (ff_run_options_parse (&self.run, argc, args)) {
        case FF_OPTIONS_OK: break;
        case FF_OPTIONS_HELP:
            printf ("usage: fanfold submit [-t TOPOLOGY] [--share N] [the options of run] INPUT...\n"
                    "Runs one job on the pool of `fanfold serve`: the output and exit status\n"
                    "of `fanfold run` with the same options.\n");
            ff_options_usage (FF_CMD_SUBMIT, stdout);
            rc = FF_EXIT_OK;
            goto done;
        default: goto done;
    }
    if (self.run.dry_run) {
        rc = ff_serial_run (&self.run);   /* prints the command lines: no pool needed */
        goto done;
    }
    if (ff_options_given (self.run.options, FF_OPT_INTAKE)
    ||  ff_options_given (self.run.options, FF_OPT_EMIT)) {
        ff_log_error ("--intake and --emit are for `fanfold run`: a pool job reads its "
                      "inputs and writes its output here");
        goto done;
    }
    self.topology = s_topology (ff_options_text (self.run.options, FF_OPT_TOPOLOGY, NULL),
                                path, sizeof (path));
    if (!self.topology || s_submit_spec (&self, path))
        goto done;
    ff_run_options_signature (&self.run, signature, sizeof (signature));
    const char *output = ff_options_text (self.run.options, FF_OPT_OUTPUT, NULL);
    ff_delivery_options_t delivery = {
        .output_path = output, .output_fd = STDOUT_FILENO, .format = self.run.format,
        .joblog_path = ff_options_text (self.run.options, FF_OPT_JOBLOG, NULL),
        .keep_state = output != NULL, .resume = ff_options_given (self.run.options, FF_OPT_RESUME),
        .signature = signature, .list_acks = 1
    };
    self.delivery = ff_delivery_new (&delivery, error, sizeof (error));
    ff_dispatch_config_t policy = { .window = 2, .prefetch = 1, .batch = 1 };
    self.policy = ff_dispatch_new (&policy);
    self.codec = ff_codec_new ();
    if (!self.delivery) {
        ff_log_error ("%s", error);
        goto done;
    }
    if (!self.policy || !self.codec || !(self.server = s_connect (self.topology, &self.security)))
        goto done;
    ff_codec_set_version (self.codec, FF_PROTOCOL_POOL);
    if (s_submit_job (&self, share) == 0)
        rc = s_submit_run (&self, stdin_closed);
done:
    if (self.server)
        zsock_set_linger (self.server, 1000);  /* a cancel or the last ack goes out */
    ff_producer_destroy (&self.producer);
    ff_ledger_destroy (&self.ledger);       /* its segments go with their sources */
    if (self.spec.input_path && self.input_fd != STDIN_FILENO)
        close (self.input_fd);
    ff_dispatch_destroy (&self.policy);
    ff_delivery_destroy (&self.delivery);
    zsock_destroy (&self.server);
    ff_security_destroy (&self.security);
    ff_codec_destroy (&self.codec);
    ff_topology_destroy (&self.topology);
    ff_jobspec_clear (&self.spec);
    free (self.argv);
    ff_run_options_clear (&self.run);
    free (args);
    return rc;
}

/* ---------------------------------------------------------------- status */

/* Reads a number member "key":N of a flat JSON object at text. */
static double
s_json_number (const char *object, const char *end, const char *key)
{
    char pattern [64];
    snprintf (pattern, sizeof (pattern), "\"%s\":", key);
    const char *at = strstr (object, pattern);
    return at && at < end? strtod (at + strlen (pattern), NULL): 0;
}

/* Copies a string member "key":"..." of a flat JSON object into out. */
static void
s_json_text (const char *object, const char *end, const char *key, char *out, size_t size)
{
    char pattern [64];
    snprintf (pattern, sizeof (pattern), "\"%s\":\"", key);
    const char *at = strstr (object, pattern);
    out [0] = 0;
    if (!at || at >= end)
        return;
    at += strlen (pattern);
    const char *stop = strchr (at, '"');
    if (stop)
        snprintf (out, size, "%.*s", (int) (stop - at), at);
}

/* Prints the objects of the array member key of document, one per line
   (jsonl, each with "kind"), or as table rows. */
static void
s_status_rows (const char *doc, const char *key, int jsonl)
{
    char pattern [32];
    snprintf (pattern, sizeof (pattern), "\"%s\":[", key);
    const char *at = strstr (doc, pattern);
    if (!at)
        return;
    at += strlen (pattern);
    while (*at == '{') {
        const char *end = strchr (at, '}');
        if (!end)
            return;
        if (jsonl)
            printf ("{\"kind\":\"%.*s\",%.*s}\n", (int) strlen (key) - 1, key,
                    (int) (end - at - 1), at + 1);
        else
        if (strcmp (key, "jobs") == 0) {
            char job [64], client [64], total [32];
            s_json_text (at, end, "job", job, sizeof (job));
            s_json_text (at, end, "client", client, sizeof (client));
            double count = s_json_number (at, end, "total");
            if (count >= 0)
                snprintf (total, sizeof (total), "%.0f", count);
            else
                snprintf (total, sizeof (total), "?");
            printf ("%-24s %-28s %10.0f/%-10s %10.1f/s %8.1f s %4.0f\n", job, client,
                    s_json_number (at, end, "done"), total, s_json_number (at, end, "rate"),
                    s_json_number (at, end, "age_s"), s_json_number (at, end, "workers"));
        }
        else {
            char name [64], job [64];
            s_json_text (at, end, "name", name, sizeof (name));
            s_json_text (at, end, "job", job, sizeof (job));
            printf ("%-8.0f %-28s %5.0f%% %12.0f  %s\n", s_json_number (at, end, "worker"),
                    name, s_json_number (at, end, "busy_pct"), s_json_number (at, end, "done"),
                    *job? job: "-");
        }
        at = end + 1;
        if (*at == ',')
            at++;
    }
}

int
ff_service_status (int argc, char *argv [])
{
    char path [PATH_MAX], error [512];
    int rc = FF_EXIT_ERROR;
    ff_topology_t *topology = NULL;
    ff_security_t *security = NULL;
    zsock_t *server = NULL;
    ff_codec_t *codec = NULL;
    ff_options_t *options = ff_options_new (FF_CMD_STATUS);
    if (!options)
        return FF_EXIT_ERROR;
    switch (ff_options_parse (options, argc, argv, error, sizeof (error))) {
        case FF_OPTIONS_OK: break;
        case FF_OPTIONS_HELP:
            printf ("usage: fanfold status [-t TOPOLOGY] [--format raw|jsonl]\n"
                    "Prints the pool's jobs, workers and queue.\n");
            ff_options_usage (FF_CMD_STATUS, stdout);
            ff_options_destroy (&options);
            return FF_EXIT_OK;
        default:
            ff_log_error ("%s", error);
            ff_options_destroy (&options);
            return FF_EXIT_ERROR;
    }
    int jsonl = strcmp (ff_options_text (options, FF_OPT_FORMAT, "raw"), "jsonl") == 0;
    topology = s_topology (ff_options_text (options, FF_OPT_TOPOLOGY, NULL), path, sizeof (path));
    if (topology && (codec = ff_codec_new ()) && (server = s_connect (topology, &security))) {
        zmq_msg_t body;
        ff_msg_t msg;
        ff_codec_status (codec, NULL, 0);
        ff_net_send (server, NULL, 0, ff_codec_data (codec), ff_codec_size (codec), 1000);
        while (s_receive (server, &body, &msg, S_STATUS_MS) == 0) {
            if (msg.type == FF_MSG_STATUS && msg.has_text) {
                char *doc = ff_str_dup (msg.text);
                if (doc) {
                    double queue = s_json_number (doc, doc + strlen (doc), "queue");
                    if (jsonl) {
                        s_status_rows (doc, "jobs", 1);
                        s_status_rows (doc, "workers", 1);
                        printf ("{\"kind\":\"queue\",\"queue\":%.0f}\n", queue);
                    }
                    else {
                        printf ("%-24s %-28s %21s %12s %10s %4s\n", "JOB", "CLIENT",
                                "DONE/TOTAL", "RATE", "AGE", "WORKERS");
                        s_status_rows (doc, "jobs", 0);
                        printf ("\n%-8s %-28s %6s %12s  %s\n", "WORKER", "HOST:PID", "BUSY",
                                "DONE", "JOB");
                        s_status_rows (doc, "workers", 0);
                        printf ("\nqueue: %.0f tasks\n", queue);
                    }
                    rc = fflush (stdout) == 0? FF_EXIT_OK: FF_EXIT_ERROR;
                    free (doc);
                }
                zmq_msg_close (&body);
                break;
            }
            zmq_msg_close (&body);
        }
        if (rc != FF_EXIT_OK && !ff_stop_signal)
            ff_log_error ("no pool answers on %s", ff_topology_connect (topology, FF_EP_CLIENTS));
    }
    if (server)
        zsock_set_linger (server, 0);
    zsock_destroy (&server);
    ff_security_destroy (&security);
    ff_codec_destroy (&codec);
    ff_topology_destroy (&topology);
    ff_options_destroy (&options);
    return rc;
}

/* ----------------------------------------------------------------- serve */

#define S_SERVE_STEP_MS 100         /* reap and respawn every step */
#define S_SERVE_GRACE_MS 3000       /* SIGTERM to SIGKILL */
#define S_SERVE_RESPAWN_MAX 1000    /* worker replacements in all */

/* Starts the executable name (next to this one) with argv. Returns the
   pid, or -1. */
static pid_t
s_spawn (const char *name, char *const argv [])
{
    char exe [PATH_MAX];
    snprintf (exe, sizeof (exe), "%s/%s", ff_supervisor_bindir (), name);
    pid_t pid = fork ();
    if (pid == 0) {
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        execv (exe, argv);
        _exit (FF_EXIT_CANNOT_RUN);
    }
    return pid;
}

/* Stops the children: SIGTERM, then SIGKILL past the grace; reaps them. */
static void
s_stop_children (pid_t *pids, size_t count)
{
    size_t index, left = 0;
    int64_t deadline = ff_clock_ms () + S_SERVE_GRACE_MS;
    for (index = 0; index < count; index++)
        if (pids [index] > 0 && kill (pids [index], SIGTERM) == 0)
            left++;
    while (left > 0) {
        for (index = 0; index < count; index++)
            if (pids [index] > 0 && waitpid (pids [index], NULL, WNOHANG) == pids [index]) {
                pids [index] = 0;
                left--;
            }
        if (left == 0)
            break;
        if (ff_clock_ms () > deadline) {
            for (index = 0; index < count; index++)
                if (pids [index] > 0) {
                    kill (pids [index], SIGKILL);
                    waitpid (pids [index], NULL, 0);
                    pids [index] = 0;
                }
            break;
        }
        usleep (20 * 1000);
    }
}

int
ff_service_serve (int argc, char *argv [])
{
    char path [PATH_MAX], runtime [PATH_MAX - 64] = "", error [512];
    int rc = FF_EXIT_ERROR, index;
    ff_topology_t *topology = NULL;
    pid_t *pids = NULL;
    ff_options_t *options = ff_options_new (FF_CMD_SERVER);
    if (!options)
        return FF_EXIT_ERROR;
    switch (ff_options_parse (options, argc, argv, error, sizeof (error))) {
        case FF_OPTIONS_OK: break;
        case FF_OPTIONS_HELP:
            printf ("usage: fanfold serve [-t TOPOLOGY] [-w N] [--insecure] [-v]\n"
                    "Runs a pool of N workers (default: the cores) that serves the jobs of\n"
                    "`fanfold submit`, until SIGINT or SIGTERM.\n");
            ff_options_usage (FF_CMD_SERVER, stdout);
            ff_options_destroy (&options);
            return FF_EXIT_OK;
        default:
            ff_log_error ("%s", error);
            ff_options_destroy (&options);
            return FF_EXIT_ERROR;
    }
    long cores = sysconf (_SC_NPROCESSORS_ONLN);
    int workers = (int) ff_options_long (options, FF_OPT_WORKERS, cores > 0? cores: 1);
    const char *given = ff_options_text (options, FF_OPT_TOPOLOGY, NULL);
    if (given) {
        snprintf (path, sizeof (path), "%s", given);
        topology = ff_topology_load (path, error, sizeof (error));
    }
    else
    if (ff_rundir_create (runtime, sizeof (runtime), error, sizeof (error)) == 0) {
        snprintf (path, sizeof (path), "%s/topology.zpl", runtime);
        topology = ff_topology_local (runtime);
        if (!topology || ff_topology_save (topology, path)) {
            snprintf (error, sizeof (error), "cannot write %.400s", path);
            ff_topology_destroy (&topology);
        }
    }
    if (!topology) {
        ff_log_error ("%s", error);
        goto done;
    }
    if (ff_net_ipc_busy (ff_topology_bind (topology, FF_EP_CONTROL))
    ||  ff_net_ipc_busy (ff_topology_bind (topology, FF_EP_CLIENTS))) {
        ff_log_error ("another job or pool runs on %s", path);
        ff_topology_destroy (&topology);
        goto done;
    }
    pids = (pid_t *) calloc ((size_t) workers + 1, sizeof (pid_t));
    if (!pids)
        goto done;
    char *server_argv [8], *worker_argv [8];
    int nserver = 0, nworker = 0;
    server_argv [nserver++] = "fanfold-server";
    server_argv [nserver++] = "-t";
    server_argv [nserver++] = path;
    if (ff_options_given (options, FF_OPT_INSECURE))
        server_argv [nserver++] = "--insecure";
    if (ff_options_given (options, FF_OPT_VERBOSE))
        server_argv [nserver++] = "-v";
    server_argv [nserver] = NULL;
    worker_argv [nworker++] = "fanfold-worker";
    worker_argv [nworker++] = "-t";
    worker_argv [nworker++] = path;
    if (ff_options_given (options, FF_OPT_VERBOSE))
        worker_argv [nworker++] = "-v";
    worker_argv [nworker] = NULL;
    pids [0] = s_spawn ("fanfold-server", server_argv);
    for (index = 1; index <= workers; index++)
        pids [index] = s_spawn ("fanfold-worker", worker_argv);
    ff_log_info ("pool on %s: server and %d workers", path, workers);
    int respawned = 0;
    rc = FF_EXIT_OK;
    while (!ff_stop_signal) {
        int status;
        pid_t pid = waitpid (-1, &status, WNOHANG);
        if (pid == pids [0] && pid > 0) {
            pids [0] = 0;
            ff_log_error ("the server exited (status %d): the pool stops",
                          WIFEXITED (status)? WEXITSTATUS (status)
                          : FF_EXIT_SIGNAL_BASE + WTERMSIG (status));
            rc = FF_EXIT_ERROR;
            break;
        }
        for (index = 1; pid > 0 && index <= workers; index++)
            if (pids [index] == pid) {
                int cannot = WIFEXITED (status) && (WEXITSTATUS (status) == FF_EXIT_ERROR
                                                    || WEXITSTATUS (status) == FF_EXIT_CANNOT_RUN);
                pids [index] = 0;
                if (!cannot && respawned < S_SERVE_RESPAWN_MAX) {
                    pids [index] = s_spawn ("fanfold-worker", worker_argv);
                    respawned++;
                }
                else
                    ff_log_error ("a worker cannot start (status %d): not replaced",
                                  WIFEXITED (status)? WEXITSTATUS (status): -1);
            }
        if (pid <= 0)
            usleep (S_SERVE_STEP_MS * 1000);
    }
    /* the server first (it ends the jobs and removes their segments), then
       the workers */
    s_stop_children (pids, 1);
    s_stop_children (pids + 1, (size_t) workers);
    ff_rundir_remove_ipc (topology);
    const char *clients = ff_topology_bind (topology, FF_EP_CLIENTS);
    if (strncmp (clients, "ipc://", 6) == 0)
        unlink (clients + 6);
    ff_shm_clean (NULL);
    if (ff_stop_signal)
        rc = FF_EXIT_OK;
done:
    if (*runtime)
        ff_rundir_remove (runtime);
    free (pids);
    ff_topology_destroy (&topology);
    ff_options_destroy (&options);
    return rc;
}
