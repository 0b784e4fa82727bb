/*  fanfold-ventilator: a poll loop that reads the job through ff_producer,
    records every task in an ff_ledger (what is in flight, who holds it,
    since when, within a window that the sink's acks move forward) and
    sends what ff_dispatch plans to each worker over that worker's own PUSH
    pipe. Organised as: options, input, peers (workers and the sink),
    dispatch, the loop. */

#include "fanfold/job/dispatch.h"
#include "fanfold/job/ledger.h"
#include "fanfold/job/producer.h"
#include "fanfold/job/taskmsg.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/kernels/source.h"
#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <fcntl.h>
#include <getopt.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_CONTROL_MESSAGE (1LL << 20)
#define S_MAX_WORKERS FF_MAX_WORKERS
#define S_RETRY_BLOCKED_MS 5


typedef struct {
    const char *topology_path;      /* -t */
    char *kernel_names [FF_MAX_KERNELS]; /* -k, split */
    const ff_kernel_t *kernels [FF_MAX_KERNELS]; /* resolved once */
    size_t nkernels;                /* how many */
    const char *params [2 * FF_MAX_PARAMS]; /* -p KEY=VALUE, split */
    size_t nparams;                 /* how many pairs */
    int pipe;                       /* --pipe */
    ff_cut_t cut;                   /* --lines or --block */
    long cut_n;                     /* lines or bytes per block */
    long max_block;                 /* --max-block */
    const char *input_path;         /* --input, NULL for stdin */
    char **args;                    /* positional inputs */
    int nargs;                      /* how many */
    const char *job_id;             /* --job-id, or a random one */
    const char *intake;             /* --intake ENDPOINT, or NULL */
    long chunk;                     /* --chunk SIZE: bytes per array task, 0: whole */
    int insecure;                   /* --insecure: tcp without CURVE keys */
    int fifo;                       /* --fifo: no heavy-first dispatch */
    int arrays;                     /* a kernel reads arrays: load file inputs */
    double timeout;                 /* --timeout seconds, 0 for none */
    int retries;                    /* --retries: attempts before an error record */
    ff_sources_t sources;           /* --null, --link, --colsep: how INPUTs combine */
    char timeout_text [32];         /* param timeout=, for the workers */
    char retries_text [16];         /* param retries=, for the workers */
    int verbose;                    /* -v */
} s_options_t;

/* A peer on the control socket: a worker. What it holds is the ledger's. */
typedef struct {
    uint64_t id;                    /* worker id, from 1 */
    uint8_t routing [256];          /* ROUTER id of its control socket */
    size_t routing_len;             /* its length */
    zsock_t *push;                  /* its task pipe (bound here) */
    char *endpoint;                 /* where it connects for its pipe */
    char *name;                     /* host:pid it gave */
    int64_t last_seen;              /* last message from it */
    int no_shm;                     /* it cannot map segments: send bytes */
} s_peer_t;

typedef struct {
    s_options_t options;            /* command line */
    ff_topology_t *topology;        /* endpoints and tuning */
    const ff_settings_t *settings;  /* its tuning */
    char job [40];                  /* job id */
    zsock_t *control;               /* ROUTER, bound */
    ff_codec_t *codec;              /* encoder */
    ff_ledger_t *ledger;            /* tasks in flight */
    ff_dispatch_t *policy;          /* who gets what */
    ff_producer_t *producer;        /* the job's inputs, unit by unit */
    int64_t total;                  /* task count once input is exhausted */
    int input_fd;                   /* records come from here, with --pipe */
    int want_input;                 /* the producer waits for input */
    zsock_t *intake;                /* PULL for records, with --intake */
    s_peer_t *workers [S_MAX_WORKERS]; /* joined workers */
    size_t nworkers;                /* how many */
    uint64_t last_worker_id;        /* last id handed out */
    uint8_t sink_routing [256];     /* the sink's ROUTER id */
    size_t sink_routing_len;        /* 0 until the sink says hello */
    int sink_ready;                 /* the sink acked the job header */
    int sink_told_total;            /* the sink knows total */
    int64_t last_hb;                /* last heartbeat round */
    uint64_t rejected;              /* refused messages */
    char shm_prefix [96];           /* ff_<uid>_<job>_<pid>_ */
    ff_security_t *security;        /* CURVE keys and the ZAP handler */
    int failed;                     /* input failed: end the job */
} s_vent_t;

/* --------------------------------------------------------------- input */

static void
s_send_to (s_vent_t *self, const uint8_t *routing, size_t routing_len)
{
    ff_net_send (self->control, routing, routing_len, ff_codec_data (self->codec),
                 ff_codec_size (self->codec), 0);
}

/* The ledger's release callback: a task's reference to its source. */
static void
s_release_source (void *ref, void *arg)
{
    ff_source_t *source = (ff_source_t *) ref;
    (void) arg;
    ff_source_unref (&source);
}

/* Sends the sink the error records the ledger owes it: tasks that failed
   for good. Each stays in flight, held by no worker, until the sink acks. */
static void
s_send_errors (s_vent_t *self)
{
    const ff_ledger_task_t *task;
    while ((task = ff_ledger_next_error (self->ledger))) {
        char text [FF_PRODUCER_ERROR_MAX];
        ff_taskmsg_error_text (task, text, sizeof (text));
        if (!task->failure)
            ff_log_error ("task %" PRIu64 " (%s): %s", task->seq, task->input, text);
        if (ff_taskmsg_error (self->codec, self->job, task, text)) {
            ff_log_error ("out of memory for the error record of task %" PRIu64, task->seq);
            self->failed = 1;
            return;
        }
        s_send_to (self, self->sink_routing, self->sink_routing_len);
    }
}

/* Asks the kernel how heavy the task of unit is. */
static double
s_estimate (s_vent_t *self, const ff_unit_t *unit, size_t kernel_index)
{
    const ff_kernel_t *kernel = self->options.kernels [kernel_index];
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ff_array_t arrays [FF_SOURCE_MAX_ARRAYS];
    size_t count = 0, index;
    if (!kernel || !kernel->cost)
        return 0;
    if (unit->source) {
        count = ff_source_slices (unit->source, (uint64_t) self->options.chunk, unit->chunk,
                                  slices);
        for (index = 0; index < count; index++)
            arrays [index] = slices [index].array;
    }
    ff_task_t task = {
        .seq = ff_ledger_next_seq (self->ledger), .input = unit->input, .data = unit->data,
        .size = unit->size, .params = self->options.params, .nparams = self->options.nparams,
        .arrays = arrays, .narrays = count
    };
    return kernel->cost (&task);
}

/* Creates the tasks of one unit: one per kernel, input-major. A unit whose
   source did not load gives error records. Returns 0, or -1 when out of
   memory. */
static int
s_create_tasks (s_vent_t *self, const ff_unit_t *unit)
{
    size_t kernel;
    if (unit->kind == FF_UNIT_FAILED)
        ff_log_error ("%s", unit->failure);
    for (kernel = 0; kernel < self->options.nkernels; kernel++) {
        double cost = s_estimate (self, unit, kernel);
        ff_source_t *ref = unit->source? ff_source_ref (unit->source): NULL;
        ff_ledger_create_t rc = ff_ledger_create (self->ledger, (uint32_t) kernel, unit->input,
                                                  unit->data, unit->size, ref, unit->chunk,
                                                  unit->chunks, cost, unit->failure);
        if (rc == FF_LEDGER_NO_MEMORY) {
            ff_source_unref (&ref);
            ff_log_error ("out of memory for task %" PRIu64, ff_ledger_next_seq (self->ledger));
            return -1;
        }
        if (rc == FF_LEDGER_CREATED)
            ff_dispatch_note_cost (self->policy, cost);
    }
    return 0;
}

static int
s_room (s_vent_t *self)
{
    return self->sink_ready && self->total < 0 && !self->failed
        && ff_ledger_room (self->ledger, self->options.nkernels);
}

/* Hands the producer one message from the intake socket. Returns 1 when
   it took one (or refused a bad one), 0 when nothing is waiting. */
static int
s_take_intake (s_vent_t *self)
{
    zmq_msg_t body;
    ff_msg_t msg;
    int rc = ff_net_recv (self->intake, NULL, &body);
    if (rc < 0)
        return 0;
    if (rc == 1) {
        ff_log_reject (&self->rejected, "multipart message on intake");
        return 1;
    }
    if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg)
    ||  (msg.type != FF_MSG_RECORD && msg.type != FF_MSG_EOS))
        ff_log_reject (&self->rejected, "intake takes record and eos messages only");
    else
    if (msg.type == FF_MSG_EOS) {
        /* closing the intake tells the producer everything was taken:
           ZeroMQ drops what a producer still queues when it leaves early */
        ff_producer_intake_end (self->producer);
        zsock_destroy (&self->intake);
    }
    else
        ff_producer_intake (self->producer, msg.record.input.ptr, msg.record.input.len,
                            msg.record.data.ptr, msg.record.data.len);
    zmq_msg_close (&body);
    return 1;
}

/* Creates tasks while there is room and input. */
static void
s_produce (s_vent_t *self)
{
    ff_produce_t rc = FF_PRODUCE_UNIT;
    self->want_input = 0;
    while (rc == FF_PRODUCE_UNIT && s_room (self)) {
        ff_unit_t unit;
        rc = ff_producer_next (self->producer, &unit);
        if (rc == FF_PRODUCE_UNIT && s_create_tasks (self, &unit))
            self->failed = 1;
        else
        if (rc == FF_PRODUCE_WAIT && self->intake && s_take_intake (self))
            rc = FF_PRODUCE_UNIT;   /* the producer has a record or the end */
        else
        if (rc == FF_PRODUCE_WAIT)
            self->want_input = 1;
        else
        if (rc == FF_PRODUCE_END) {
            self->total = (int64_t) ff_ledger_next_seq (self->ledger);
            ff_log_info ("input exhausted: %" PRId64 " tasks", self->total);
        }
        else
        if (rc == FF_PRODUCE_ERROR) {
            ff_log_error ("%s", ff_producer_error (self->producer));
            self->failed = 1;
        }
    }
}

/* --------------------------------------------------------------- peers */

static void
s_send_job (s_vent_t *self)
{
    ff_codec_job (self->codec, self->job, (const char *const *) self->options.kernel_names,
                  self->options.nkernels, self->total, (uint64_t) self->settings->window);
    s_send_to (self, self->sink_routing, self->sink_routing_len);
    self->sink_told_total = self->total >= 0;
}

static void
s_send_welcome (s_vent_t *self, s_peer_t *peer)
{
    ff_codec_welcome (self->codec, self->job, peer->id, peer->endpoint,
                      (uint64_t) self->settings->heartbeat_ms,
                      (const char *const *) self->options.kernel_names, self->options.nkernels,
                      self->options.params, self->options.nparams);
    s_send_to (self, peer->routing, peer->routing_len);
}

static s_peer_t *
s_find_worker (s_vent_t *self, uint64_t id)
{
    size_t index;
    for (index = 0; index < self->nworkers; index++)
        if (self->workers [index]->id == id)
            return self->workers [index];
    return NULL;
}

static void
s_peer_destroy (s_peer_t **peer_p)
{
    if (peer_p && *peer_p) {
        s_peer_t *peer = *peer_p;
        zsock_destroy (&peer->push);
        free (peer->endpoint);
        free (peer->name);
        free (peer);
        *peer_p = NULL;
    }
}

/* Settles the departed workers that are due (all of them with all), and
   sends the error records that gives. */
static void
s_settle (s_vent_t *self, int all)
{
    ff_ledger_settled_t settled [FF_LEDGER_MAX_DEPARTED];
    size_t count = ff_ledger_settle (self->ledger, ff_clock_ms (), all, settled,
                                     FF_LEDGER_MAX_DEPARTED), index;
    for (index = 0; index < count; index++)
        ff_log_info ("worker %" PRIu64 " %s: %" PRIu64 " of its tasks go to others",
                     settled [index].worker, settled [index].why, settled [index].requeued);
    s_send_errors (self);
}

/* Removes a worker; its tasks are sent again once it is settled. crashed:
   it died or hung (a task it held may have ended it), rather than left. */
static void
s_remove_worker (s_vent_t *self, s_peer_t *peer, const char *why, int crashed)
{
    size_t index;
    ff_log_info ("worker %" PRIu64 " (%s) %s", peer->id, peer->name, why);
    if (ff_ledger_departed (self->ledger) == FF_LEDGER_MAX_DEPARTED)
        s_settle (self, 1);
    ff_ledger_worker_leave (self->ledger, peer->id, why, crashed, ff_clock_ms ());
    for (index = 0; index < self->nworkers; index++)
        if (self->workers [index] == peer) {
            self->workers [index] = self->workers [--self->nworkers];
            break;
        }
    s_peer_destroy (&peer);
}

/* Binds a new pipe for a worker and returns its connect endpoint. */
static int
s_bind_pipe (s_vent_t *self, s_peer_t *peer)
{
    const char *base = ff_topology_bind (self->topology, FF_EP_TASKS);
    /* credit, not the HWM, bounds what a worker holds: libzmq learns that
       the peer consumed messages lazily, so a tiny HWM stalls sends. A
       PUSH receives nothing: the inbound limit only stops a bogus peer's
       frame length from sizing libzmq's allocations */
    peer->push = ff_net_socket (ZMQ_PUSH, self->settings->hwm, 0, S_MAX_CONTROL_MESSAGE);
    if (!peer->push)
        return -1;
    char error [512];
    if (ff_security_bind (self->security, peer->push, base, error, sizeof (error))) {
        ff_log_error ("%s", error);
        return -1;
    }
    if (strncmp (base, "ipc://", 6) == 0) {
        if (zsock_bind (peer->push, "%s-%" PRIu64, base, peer->id) < 0)
            return -1;
        peer->endpoint = zsys_sprintf ("%s-%" PRIu64, base, peer->id);
    }
    else {
        int port = zsock_bind (peer->push, "%s", base);
        if (port < 0)
            return -1;
        const char *host = ff_topology_ventilator_host (self->topology);
        peer->endpoint = zsys_sprintf ("tcp://%s:%d", host, port);
    }
    return peer->endpoint? 0: -1;
}

static void
s_on_hello (s_vent_t *self, zmq_msg_t *routing, const ff_msg_t *msg)
{
    size_t index, routing_len = zmq_msg_size (routing);
    if (ff_str_eq (msg->role, "sink")) {
        /* once the sink has acked, another peer cannot take its place:
           its acks would be refused from then on and the job would hang */
        if (self->sink_ready
        &&  (routing_len != self->sink_routing_len
        ||   memcmp (zmq_msg_data (routing), self->sink_routing, routing_len) != 0)) {
            ff_log_reject (&self->rejected, "sink hello from a second peer");
            return;
        }
        memcpy (self->sink_routing, zmq_msg_data (routing), routing_len);
        self->sink_routing_len = routing_len;
        s_send_job (self);
        return;
    }
    for (index = 0; index < self->nworkers; index++) {
        s_peer_t *peer = self->workers [index];
        if (peer->routing_len == routing_len
        &&  memcmp (peer->routing, zmq_msg_data (routing), routing_len) == 0) {
            s_send_welcome (self, peer);     /* its hello crossed our welcome */
            return;
        }
    }
    if (self->nworkers == S_MAX_WORKERS) {
        ff_log_reject (&self->rejected, "worker hello past %d workers", S_MAX_WORKERS);
        return;
    }
    s_peer_t *peer = (s_peer_t *) calloc (1, sizeof (s_peer_t));
    if (!peer)
        return;
    peer->id = ++self->last_worker_id;
    memcpy (peer->routing, zmq_msg_data (routing), routing_len);
    peer->routing_len = routing_len;
    peer->name = ff_str_dup (msg->name);
    peer->last_seen = ff_clock_ms ();
    peer->no_shm = (msg->flags & FF_HELLO_NO_SHM) != 0;
    if (!peer->name || s_bind_pipe (self, peer)) {
        ff_log_error ("cannot make a task pipe for worker %" PRIu64 ": %s",
                      peer->id, zmq_strerror (errno));
        s_peer_destroy (&peer);
        return;
    }
    if (ff_ledger_worker_add (self->ledger, peer->id, ff_dispatch_initial_credit (self->policy))) {
        s_peer_destroy (&peer);
        return;
    }
    self->workers [self->nworkers++] = peer;
    s_send_welcome (self, peer);
    ff_log_info ("worker %" PRIu64 " (%s) joined on %s", peer->id, peer->name, peer->endpoint);
}

static void
s_on_ack (s_vent_t *self, zmq_msg_t *routing, ff_msg_t *msg)
{
    uint64_t seq;
    if (!self->sink_routing_len || zmq_msg_size (routing) != self->sink_routing_len
    ||  memcmp (zmq_msg_data (routing), self->sink_routing, self->sink_routing_len) != 0) {
        ff_log_reject (&self->rejected, "ack from a peer that is not the sink");
        return;
    }
    if (!self->sink_ready) {
        /* the sink's first ack says how much an earlier run wrote */
        self->sink_ready = 1;
        ff_ledger_set_skip (self->ledger, msg->written);
        if (msg->written)
            ff_log_info ("sink ready; resuming after %" PRIu64 " tasks", msg->written);
        else
            ff_log_info ("sink ready");
    }
    int64_t now_us = ff_clock_us (), now_ms = now_us / 1000;
    while (ff_msg_next_seq (msg, &seq))
        ff_ledger_ack (self->ledger, seq, now_ms);
    ff_ledger_advance (self->ledger, msg->written, now_ms);  /* a mark ahead: refused */
    ff_dispatch_adapt (self->policy, self->ledger, now_us);
}

static void
s_on_control (s_vent_t *self)
{
    int rc, round;
    for (round = 0; round < 1024; round++) {
        zmq_msg_t routing, body;
        ff_msg_t msg;
        if ((rc = ff_net_recv (self->control, &routing, &body)) < 0)
            break;
        if (rc == 1) {
            ff_log_reject (&self->rejected, "message with unexpected frames on control");
            continue;
        }
        if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg))
            ff_log_reject (&self->rejected, "malformed control message");
        else
        if (msg.type == FF_MSG_HELLO)
            s_on_hello (self, &routing, &msg);
        else
        if (!ff_str_eq (msg.job, self->job))
            ff_log_reject (&self->rejected, "%s for another job", ff_msg_type_name (msg.type));
        else
        if (msg.type == FF_MSG_ACK)
            s_on_ack (self, &routing, &msg);
        else
        if (msg.type == FF_MSG_HB || msg.type == FF_MSG_BYE) {
            s_peer_t *peer = s_find_worker (self, msg.worker);
            if (peer && msg.type == FF_MSG_HB)
                peer->last_seen = ff_clock_ms ();
            else
            if (peer)
                s_remove_worker (self, peer, "left", 0);
        }
        else
            ff_log_reject (&self->rejected, "unexpected %s on control", ff_msg_type_name (msg.type));
        zmq_msg_close (&routing);
        zmq_msg_close (&body);
    }
}

/* Whether peer has run its current task past --timeout. */
static int
s_overdue (s_vent_t *self, s_peer_t *peer, int64_t now)
{
    const ff_ledger_worker_t *held = ff_ledger_worker (self->ledger, peer->id);
    return self->options.timeout > 0 && held->outstanding > 0
        && now - held->busy_since > (int64_t) (self->options.timeout * 1000);
}

/* Heartbeats to every peer; a worker that is gone or silent is removed. */
static void
s_heartbeat (s_vent_t *self)
{
    int64_t now = ff_clock_ms ();
    size_t index;
    if (now - self->last_hb < self->settings->heartbeat_ms)
        return;
    self->last_hb = now;
    for (index = 0; index < self->nworkers; ) {
        s_peer_t *peer = self->workers [index];
        ff_codec_hb (self->codec, self->job, peer->id);
        int rc = ff_net_send (self->control, peer->routing, peer->routing_len,
                              ff_codec_data (self->codec), ff_codec_size (self->codec), 0);
        if (rc != 0 && errno == EHOSTUNREACH)
            s_remove_worker (self, peer, "its worker disconnected", 1);
        else
        if (now - peer->last_seen > self->settings->worker_timeout_ms)
            s_remove_worker (self, peer, "its worker went silent", 1);
        else
        if (s_overdue (self, peer, now)) {
            /* a worker that comes back gets told to leave: it exits 3 */
            ff_codec_end (self->codec, self->job, 2);
            s_send_to (self, peer->routing, peer->routing_len);
            s_remove_worker (self, peer, "it ran past --timeout", 1);
        }
        else
            index++;
    }
    if (self->sink_routing_len) {
        /* to the sink, the worker field carries how many workers are live */
        ff_codec_hb (self->codec, self->job, self->nworkers);
        s_send_to (self, self->sink_routing, self->sink_routing_len);
    }
}


/* ------------------------------------------------------------ dispatch */

/* Sends the tasks seqs to peer in one message. Returns 0, or -1 when
   memory ran out or its pipe is not connected yet. */
static int
s_send_tasks (s_vent_t *self, s_peer_t *peer, const uint64_t *seqs, size_t count)
{
    if (ff_taskmsg_tasks (self->codec, self->job, self->ledger, seqs, count,
                          (uint64_t) self->options.chunk, peer->no_shm)) {
        ff_log_error ("out of memory encoding %zu tasks for worker %" PRIu64 ": sent later",
                      count, peer->id);
        return -1;
    }
    return ff_net_send (peer->push, NULL, 0, ff_codec_data (self->codec),
                        ff_codec_size (self->codec), 0) == 0? 0: -1;
}

/* Sends what the policy plans while any worker has credit. A message that
   cannot go puts its tasks back, and its worker waits a moment. */
static void
s_dispatch (s_vent_t *self)
{
    int64_t now_us = ff_clock_us (), now_ms = now_us / 1000;
    uint64_t seqs [FF_MAX_BATCH], worker;
    size_t count;
    while ((count = ff_dispatch_plan (self->policy, self->ledger, now_ms, &worker, seqs)) > 0) {
        if (s_send_tasks (self, s_find_worker (self, worker), seqs, count) == 0)
            ff_ledger_sent (self->ledger, worker, seqs, count, now_ms, now_us);
        else
            ff_ledger_unsend (self->ledger, worker, seqs, count, now_ms + S_RETRY_BLOCKED_MS);
    }
}

/* ---------------------------------------------------------------- loop */

static int
s_finished (s_vent_t *self)
{
    return self->total >= 0 && ff_ledger_written (self->ledger) == (uint64_t) self->total;
}

static void
s_end_workers (s_vent_t *self, uint64_t status)
{
    size_t index;
    for (index = 0; index < self->nworkers; index++) {
        ff_codec_end (self->codec, self->job, status);
        s_send_to (self, self->workers [index]->routing, self->workers [index]->routing_len);
    }
    /* the sink too: it waits for this before closing, so that its last
       ack cannot be held back by a ventilator already gone */
    if (self->sink_routing_len) {
        ff_codec_end (self->codec, self->job, status);
        s_send_to (self, self->sink_routing, self->sink_routing_len);
    }
}

/* How long the loop may sleep: until the next heartbeat, the next worker
   to settle, or a blocked pipe's retry. */
static int
s_poll_timeout (s_vent_t *self)
{
    int64_t now = ff_clock_ms (), due = ff_ledger_settle_due (self->ledger);
    int timeout = self->settings->heartbeat_ms;
    size_t index, count = ff_ledger_workers (self->ledger);
    if (due != INT64_MAX && due - now + 1 < timeout)
        timeout = due - now + 1 < 0? 0: (int) (due - now + 1);
    for (index = 0; index < count && ff_ledger_pending (self->ledger); index++)
        if (ff_ledger_worker_at (self->ledger, index)->blocked_until > now)
            timeout = S_RETRY_BLOCKED_MS;
    return timeout;
}

static int
s_run (s_vent_t *self)
{
    while (!ff_stop_signal && !zsys_interrupted && !s_finished (self) && !self->failed) {
        s_produce (self);
        s_send_errors (self);
        if (self->total >= 0 && self->sink_ready && !self->sink_told_total)
            s_send_job (self);
        s_dispatch (self);
        s_heartbeat (self);
        if (ff_ledger_departed (self->ledger))
            s_settle (self, 0);
        zmq_pollitem_t items [2] = {
            { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
            { self->intake? zsock_resolve (self->intake): NULL,
              self->intake? -1: self->input_fd, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, self->want_input? 2: 1, s_poll_timeout (self));
        if (rc < 0 && errno != EINTR) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return 1;
        }
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN))
            s_on_control (self);
        if (rc > 0 && self->want_input && !self->intake
        &&  (items [1].revents & (ZMQ_POLLIN | ZMQ_POLLERR))
        &&  ff_producer_fill (self->producer) < 0) {
            ff_log_error ("%s", ff_producer_error (self->producer));
            self->failed = 1;
        }
    }
    if (self->failed) {
        s_end_workers (self, 1);
        return 1;
    }
    if (!s_finished (self))
        return 130;
    s_end_workers (self, 0);
    ff_log_info ("job %s done: %" PRId64 " tasks, %" PRIu64 " sent again, %" PRIu64
                 " messages refused", self->job, self->total, ff_ledger_resent (self->ledger),
                 self->rejected);
    return 0;
}

/* ------------------------------------------------------------- options */

static void
s_usage (FILE *stream)
{
    fprintf (stream,
             "usage: fanfold-ventilator -t TOPOLOGY -k KERNEL[,KERNEL...] [-p KEY=VALUE]...\n"
             "                          [--pipe [--lines N | --block SIZE] [--input FILE]]\n"
             "                          [--max-block SIZE] [--timeout SECONDS] [--retries N]\n"
             "                          [--intake ENDPOINT] [--plugin LIB.so] [--chunk SIZE]\n"
             "                          [--job-id ID] [-v] [INPUT...]\n"
             "Reads the job (records from stdin with --pipe, else one task per INPUT),\n"
             "and hands tasks to the workers that join TOPOLOGY, least-loaded first.\n");
}

static int
s_parse_options (s_options_t *options, int argc, char *argv [])
{
    static const struct option longs [] = {
        { "topology", required_argument, NULL, 't' },
        { "kernel", required_argument, NULL, 'k' },
        { "param", required_argument, NULL, 'p' },
        { "pipe", no_argument, NULL, 'P' },
        { "lines", required_argument, NULL, 'L' },
        { "block", required_argument, NULL, 'B' },
        { "max-block", required_argument, NULL, 'M' },
        { "input", required_argument, NULL, 'i' },
        { "job-id", required_argument, NULL, 'j' },
        { "timeout", required_argument, NULL, 'T' },
        { "plugin", required_argument, NULL, 'G' },
        { "intake", required_argument, NULL, 'I' },
        { "chunk", required_argument, NULL, 'C' },
        { "insecure", no_argument, NULL, 'N' },
        { "fifo", no_argument, NULL, 'F' },
        { "retries", required_argument, NULL, 'R' },
        { "null", no_argument, NULL, '0' },
        { "link", no_argument, NULL, 'l' },
        { "colsep", required_argument, NULL, 'c' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    const char *kernels = "noop";
    int opt, count;
    options->retries = FF_DEFAULT_RETRIES;
    options->cut = FF_CUT_BYTES;
    options->cut_n = 1L << 20;
    options->max_block = 256L << 20;
    while ((opt = getopt_long (argc, argv, "+t:k:p:vh", longs, NULL)) != -1) {
        switch (opt) {
            case 't': options->topology_path = optarg; break;
            case 'k': kernels = optarg; break;
            case 'p': {
                char *equals = strchr (optarg, '=');
                if (!equals || equals == optarg || options->nparams == FF_MAX_PARAMS) {
                    fprintf (stderr, "fanfold-ventilator: -p %s: expected KEY=VALUE\n", optarg);
                    return 2;
                }
                *equals = 0;
                options->params [2 * options->nparams] = optarg;
                options->params [2 * options->nparams + 1] = equals + 1;
                options->nparams++;
                break;
            }
            case 'P': options->pipe = 1; break;
            case 'L': case 'B': case 'M': {
                long value;
                if (ff_parse_size (optarg, &value) || value <= 0) {
                    fprintf (stderr, "fanfold-ventilator: --%s %s: expected a positive %s\n",
                             opt == 'L'? "lines": opt == 'B'? "block": "max-block", optarg,
                             opt == 'L'? "count": "size");
                    return 2;
                }
                if (opt == 'M')
                    options->max_block = value;
                else {
                    options->cut = opt == 'L'? FF_CUT_LINES: FF_CUT_BYTES;
                    options->cut_n = value;
                }
                break;
            }
            case 'i': options->input_path = optarg; break;
            case 'j': options->job_id = optarg; break;
            case 'I': options->intake = optarg; break;
            case 'N': options->insecure = 1; break;
            case 'F': options->fifo = 1; break;
            case 'C':
                if (ff_parse_size (optarg, &options->chunk) || options->chunk <= 0) {
                    fprintf (stderr, "fanfold-ventilator: --chunk %s: expected a size\n", optarg);
                    return 2;
                }
                break;
            case 'G': {
                char error [512];
                if (ff_kernels_load (optarg, error, sizeof (error))
                ||  options->nparams == FF_MAX_PARAMS) {
                    fprintf (stderr, "fanfold-ventilator: %s\n", error);
                    return 2;
                }
                /* workers load it too: it names a path on their host */
                options->params [2 * options->nparams] = "plugin";
                options->params [2 * options->nparams + 1] = optarg;
                options->nparams++;
                break;
            }
            case 'T': {
                char *end;
                options->timeout = strtod (optarg, &end);
                if (*end || end == optarg || !(options->timeout >= 0) || options->timeout > 1e6) {
                    fprintf (stderr, "fanfold-ventilator: --timeout %s: expected seconds\n", optarg);
                    return 2;
                }
                break;
            }
            case 'R': {
                long value;
                if (ff_parse_size (optarg, &value) || value < 1 || value > 1000) {
                    fprintf (stderr, "fanfold-ventilator: --retries %s: expected 1 to 1000\n", optarg);
                    return 2;
                }
                options->retries = (int) value;
                break;
            }
            case '0': options->sources.null = 1; break;
            case 'l': options->sources.link = 1; break;
            case 'c': options->sources.colsep = optarg; break;
            case 'v': options->verbose = 1; break;
            case 'h': s_usage (stdout); exit (0);
            default: s_usage (stderr); return 2;
        }
    }
    if (!options->topology_path) {
        s_usage (stderr);
        return 2;
    }
    count = ff_kernels_split (kernels, options->kernel_names, FF_MAX_KERNELS);
    if (count < 0) {
        fprintf (stderr, "fanfold-ventilator: -k %s: expected KERNEL[,KERNEL...]\n", kernels);
        return 2;
    }
    options->nkernels = (size_t) count;
    for (size_t index = 0; index < options->nkernels; index++) {
        options->kernels [index] = ff_kernels_find (options->kernel_names [index]);
        if (!options->kernels [index]) {
            char known [1024];
            ff_kernels_list (known, sizeof (known));
            fprintf (stderr, "fanfold-ventilator: unknown kernel '%s' (known: %s)\n",
                     options->kernel_names [index], known);
            return 2;
        }
        if (options->kernels [index]->flags & FF_KERNEL_ARRAYS)
            options->arrays = 1;
    }
    if (options->cut == FF_CUT_BYTES && options->cut_n > options->max_block
    &&  options->cut_n == 1L << 20)
        options->cut_n = options->max_block;    /* the default block shrinks */
    if (options->cut == FF_CUT_BYTES && options->cut_n > options->max_block) {
        fprintf (stderr, "fanfold-ventilator: --block is larger than --max-block\n");
        return 2;
    }
    /* workers learn the time limit and the retries from the job's params */
    if (options->nparams + 2 > FF_MAX_PARAMS) {
        fprintf (stderr, "fanfold-ventilator: too many -p parameters\n");
        return 2;
    }
    snprintf (options->retries_text, sizeof (options->retries_text), "%d", options->retries);
    int retries_given = 0;      /* -p retries=1: a failed command runs once */
    for (size_t index = 0; index < options->nparams; index++)
        retries_given |= strcmp (options->params [2 * index], "retries") == 0;
    if (!retries_given) {
        options->params [2 * options->nparams] = "retries";
        options->params [2 * options->nparams + 1] = options->retries_text;
        options->nparams++;
    }
    if (options->timeout > 0) {
        snprintf (options->timeout_text, sizeof (options->timeout_text), "%g", options->timeout);
        options->params [2 * options->nparams] = "timeout";
        options->params [2 * options->nparams + 1] = options->timeout_text;
        options->nparams++;
    }
    options->args = argv + optind;
    options->nargs = argc - optind;
    if (options->intake && (options->pipe || options->nargs > 0)) {
        fprintf (stderr, "fanfold-ventilator: --intake takes the records: no --pipe, no INPUT\n");
        return 2;
    }
    if (options->pipe && options->nargs > 0) {
        fprintf (stderr, "fanfold-ventilator: --pipe takes records from stdin, not INPUT arguments\n");
        return 2;
    }
    return 0;
}

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

static void
s_vent_cleanup (s_vent_t *self)
{
    size_t index;
    while (self->nworkers > 0)
        s_peer_destroy (&self->workers [--self->nworkers]);
    ff_ledger_destroy (&self->ledger);
    ff_dispatch_destroy (&self->policy);
    ff_producer_destroy (&self->producer);
    if (self->options.input_path && self->input_fd >= 0)
        close (self->input_fd);
    for (index = 0; index < self->options.nkernels; index++)
        free (self->options.kernel_names [index]);
    zsock_destroy (&self->intake);
    zsock_destroy (&self->control);
    ff_security_destroy (&self->security);
    ff_codec_destroy (&self->codec);
    ff_topology_destroy (&self->topology);
}

int
main (int argc, char *argv [])
{
    s_vent_t self;
    char error [512];
    int rc;

    memset (&self, 0, sizeof (self));
    self.total = -1;
    self.input_fd = STDIN_FILENO;
    if ((rc = s_parse_options (&self.options, argc, argv)))
        goto done;
    rc = 2;
    ff_log_init ("fanfold-ventilator", self.options.verbose);
    ff_signals_install ();
    self.topology = ff_topology_load (self.options.topology_path, error, sizeof (error));
    if (!self.topology) {
        ff_log_error ("%s", error);
        goto done;
    }
    self.settings = ff_topology_settings (self.topology);
    if ((size_t) self.settings->window < self.options.nkernels) {
        ff_log_error ("window (%d) is smaller than the number of kernels", self.settings->window);
        goto done;
    }
    if (self.options.job_id)
        snprintf (self.job, sizeof (self.job), "%s", self.options.job_id);
    else
        s_make_job_id (self.job, sizeof (self.job));
    {
        char prefix [64];
        ff_shm_job_prefix (self.job, prefix, sizeof (prefix));
        snprintf (self.shm_prefix, sizeof (self.shm_prefix), "%s%d_", prefix, (int) getpid ());
    }
    /* segments left by jobs whose ventilator died are removed */
    int stale = ff_shm_clean (NULL);
    if (stale)
        ff_log_info ("removed %d shared-memory segments of dead jobs", stale);
    if (self.options.pipe) {
        if (self.options.input_path) {
            self.input_fd = open (self.options.input_path, O_RDONLY | O_CLOEXEC);
            if (self.input_fd < 0) {
                ff_log_error ("%s: cannot open: %s", self.options.input_path, strerror (errno));
                goto done;
            }
        }
        self.producer = ff_producer_new_pipe (self.input_fd,
                                              self.options.input_path? self.options.input_path
                                                                     : "stdin",
                                              self.options.cut, (size_t) self.options.cut_n,
                                              (size_t) self.options.max_block);
    }
    else
    if (self.options.intake)
        self.producer = ff_producer_new_intake ();
    else {
        self.options.sources.fd = STDIN_FILENO;
        self.options.sources.arrays = self.options.arrays;
        self.options.sources.chunk_bytes = (uint64_t) self.options.chunk;
        self.options.sources.shm_prefix = self.shm_prefix;
        self.producer = ff_producer_new_sources (self.options.args, (size_t) self.options.nargs,
                                                 &self.options.sources, error, sizeof (error));
        if (!self.producer) {
            ff_log_error ("%s", error);
            goto done;
        }
    }
    ff_ledger_config_t ledger = {
        .window = (size_t) self.settings->window,
        .window_bytes = (size_t) self.settings->window_bytes,
        .retries = (uint32_t) self.options.retries, .release = s_release_source
    };
    ff_dispatch_config_t policy = {
        .window = self.settings->window, .prefetch = self.settings->prefetch,
        .batch = self.settings->batch, .fifo = self.options.fifo
    };
    self.ledger = ff_ledger_new (&ledger);
    self.policy = ff_dispatch_new (&policy);
    self.codec = ff_codec_new ();
    self.control = ff_net_socket (ZMQ_ROUTER, self.settings->hwm, self.settings->linger_ms,
                                  S_MAX_CONTROL_MESSAGE);
    if (!self.producer || !self.ledger || !self.policy || !self.codec || !self.control) {
        ff_log_error ("cannot allocate the input, the ledger or the control socket");
        goto done;
    }
    if (ff_topology_prepare_dirs (self.topology, error, sizeof (error))) {
        ff_log_error ("%s", error);
        goto done;
    }
    self.security = ff_security_new (self.topology, 1, self.options.insecure, error, sizeof (error));
    if (!self.security
    ||  ff_security_bind (self.security, self.control, ff_topology_bind (self.topology, FF_EP_CONTROL),
                          error, sizeof (error))) {
        ff_log_error ("%s", error);
        goto done;
    }
    if (ff_net_ipc_busy (ff_topology_bind (self.topology, FF_EP_CONTROL))) {
        ff_log_error ("another job is running on %s: wait for it, or use another topology",
                      ff_topology_bind (self.topology, FF_EP_CONTROL));
        goto done;
    }
    if (zsock_bind (self.control, "%s", ff_topology_bind (self.topology, FF_EP_CONTROL)) < 0) {
        ff_log_error ("cannot bind %s: %s", ff_topology_bind (self.topology, FF_EP_CONTROL),
                      zmq_strerror (errno));
        goto done;
    }
    if (self.options.intake) {
        /* a small HWM: a producer that runs ahead waits, memory stays bounded */
        self.intake = ff_net_socket (ZMQ_PULL, 16, 0, self.options.max_block + 4096);
        if (!self.intake || zsock_bind (self.intake, "%s", self.options.intake) < 0) {
            ff_log_error ("cannot bind --intake %s: %s", self.options.intake, zmq_strerror (errno));
            goto done;
        }
    }
    ff_log_info ("job %s on %s", self.job, ff_topology_bind (self.topology, FF_EP_CONTROL));
    rc = s_run (&self);
done:
    s_vent_cleanup (&self);
    return rc;
}
