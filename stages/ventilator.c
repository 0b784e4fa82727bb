/*  fanfold-ventilator: a poll loop that reads the job through ff_producer,
    records every task in an ff_ledger (what is in flight, who holds it,
    since when, within a window that the sink's acks move forward) and
    sends what ff_dispatch plans to each worker over that worker's own PUSH
    pipe. Organised as: options, input, peers (workers and the sink),
    dispatch, the loop. */

#include "fanfold/job/dispatch.h"
#include "fanfold/job/jobspec.h"
#include "fanfold/job/ledger.h"
#include "fanfold/job/peers.h"
#include "fanfold/job/producer.h"
#include "fanfold/job/taskmsg.h"
#include "fanfold/launch/stages.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/fdlimit.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/runtime/stdfds.h"
#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define S_RETRY_BLOCKED_MS 5
#define S_CONTROL_ROUND 1024        /* control messages read per loop */

/* An idle worker that counts task messages as hearing us gets this many
   hb per worker_timeout_ms (at most one a heartbeat_ms): enough that a
   late or lost one is no silence. */
#define S_HB_PER_TIMEOUT 4

/* Why a worker whose task pipe a second peer connected to is removed: the
   pipe closes (with both connections), its tasks go to others, and the
   worker joins again after a silence, with a new pipe. */
#define S_INTRUDED "has a second peer on its task pipe: closed it, the worker joins again"


typedef struct {
    ff_jobspec_t spec;              /* command line */
    ff_topology_t *topology;        /* endpoints and tuning */
    const ff_settings_t *settings;  /* its tuning */
    zsock_t *control;               /* ROUTER, bound (the peers' own) */
    ff_codec_t *codec;              /* encoder */
    ff_ledger_t *ledger;            /* tasks in flight */
    ff_dispatch_t *policy;          /* who gets what */
    ff_producer_t *producer;        /* the job's inputs, unit by unit */
    int64_t total;                  /* task count once input is exhausted */
    int input_fd;                   /* records come from here, with --pipe */
    int want_input;                 /* the producer waits for input */
    zsock_t *intake;                /* PULL for records, with --intake */
    ff_peers_t *peers;              /* joined workers and their pipes */
    int sink_ready;                 /* the sink acked the job header */
    int sink_told_total;            /* the sink knows total */
    int64_t last_hb;                /* last heartbeat round */
    uint64_t rejected;              /* refused messages */
    char shm_prefix [96];           /* ff_<uid>_<job>_<pid>_ */
    ff_security_t *security;        /* CURVE keys and the ZAP handler */
    int failed;                     /* input failed: end the job */
    int expect_mark;                /* resuming: the earlier run's input mark is unchecked */
    uint64_t expect_seq;            /* its seq: the records below it ... */
    uint64_t expect_hash;           /* ... hashed to this */
    uint64_t marked;                /* seq of the last input mark sent to the sink */
    uint64_t skip;                  /* tasks an earlier run wrote (the sink's first ack) */
    uint64_t unsent_error;          /* seq of the last error record the sink's pipe
                                       refused (its error is logged already) */
    size_t capacity;                /* workers the descriptors allow at once */
    size_t window_max;              /* the window grows up to this: the sink's reorder ring */
    uint64_t refused_workers;       /* hellos refused: no room or no pipe */
    uint64_t refused_seen;          /* connections refused, as last logged */
    int64_t refused_logged;         /* ms: when refused connections were last logged */
    int control_backlog;            /* the last read of control left messages waiting */
    int control_drained;            /* control was read until EAGAIN and not sent on
                                       since (a send may take the signal of a message
                                       that came): the wait asks it no ZMQ_EVENTS */
} s_vent_t;

/* --------------------------------------------------------------- input */

/* Sends the codec's message to routing without waiting. Returns 0, or -1
   when it could not go (EAGAIN: the peer's pipe is full; EHOSTUNREACH:
   the peer is gone). */
static int
s_send_to (s_vent_t *self, const uint8_t *routing, size_t routing_len)
{
    self->control_drained = 0;
    return ff_net_send (self->control, routing, routing_len, ff_codec_data (self->codec),
                        ff_codec_size (self->codec), 0) == 0? 0: -1;
}

static int
s_send_sink (s_vent_t *self)
{
    const ff_peer_sink_t *sink = ff_peers_sink (self->peers);
    return s_send_to (self, sink->routing, sink->routing_len);
}

/* Sends the sink the error records the ledger owes it: tasks that failed
   for good. Each stays in flight, held by no worker, until the sink acks.
   A record the sink's pipe refuses goes back to the ledger (FAILED) and
   is sent again on a later round: a lost one would hang the job. */
static void
s_send_errors (s_vent_t *self)
{
    const ff_ledger_task_t *task;
    char text [FF_PRODUCER_ERROR_MAX];
    if (!ff_peers_sink (self->peers)->routing_len)
        return;
    while ((task = ff_ledger_next_error (self->ledger))) {
        ff_taskmsg_error_text (task, text, sizeof (text));
        if (!task->failure && task->seq != self->unsent_error)
            ff_log_error ("task %" PRIu64 " (%s): %s", task->seq, task->input, text);
        if (ff_taskmsg_error (self->codec, self->spec.job_id, task, text)) {
            ff_log_error ("out of memory for the error record of task %" PRIu64, task->seq);
            ff_ledger_unsend_error (self->ledger, task->seq);
            self->failed = 1;
            return;
        }
        if (s_send_sink (self) != 0) {
            self->unsent_error = task->seq;     /* logged once */
            ff_ledger_unsend_error (self->ledger, task->seq);
            return;
        }
    }
}

static int
s_room (s_vent_t *self)
{
    return self->sink_ready && self->total < 0 && !self->failed
        && ff_ledger_room (self->ledger, self->spec.nkernels);
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

/* Resuming: at the first unit boundary at or past the earlier run's input
   mark, the records read again must hash as they did, or the output would
   mix two inputs. Returns 0, or -1 (logged) when they differ. */
static int
s_check_mark (s_vent_t *self, int ended)
{
    uint64_t next = ff_ledger_next_seq (self->ledger);
    if (!self->expect_mark || (next < self->expect_seq && !ended))
        return 0;
    self->expect_mark = 0;
    if (next == self->expect_seq && ff_producer_hash (self->producer) == self->expect_hash) {
        ff_log_info ("resume: the records of the first %" PRIu64 " tasks are the earlier "
                     "run's", next);
        return 0;
    }
    ff_log_error ("--resume: the input is not the one the interrupted run read (the "
                  "records that gave its first %" PRIu64 " tasks differ); run without "
                  "--resume to start again", self->expect_seq);
    return -1;
}

/* Tells the sink how far the tasks made so far go and what the records
   behind them hash to: its state file keeps it for a --resume. */
static void
s_send_mark (s_vent_t *self)
{
    uint64_t next = ff_ledger_next_seq (self->ledger);
    if (!self->sink_ready || self->failed || next <= self->marked)
        return;
    ff_codec_mark (self->codec, self->spec.job_id, next, ff_producer_hash (self->producer));
    if (s_send_sink (self) == 0)
        self->marked = next;
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
        if (rc == FF_PRODUCE_UNIT
        &&  (ff_jobspec_create_tasks (&self->spec, self->ledger, self->policy, &unit)
             || s_check_mark (self, 0)))
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
            if (s_check_mark (self, 1))
                self->failed = 1;
            else
            if ((uint64_t) self->total < self->skip) {
                ff_log_error ("--resume: the job has %" PRId64 " tasks, fewer than the %"
                              PRIu64 " the earlier run wrote; run without --resume to "
                              "start again", self->total, self->skip);
                self->failed = 1;
            }
        }
        else
        if (rc == FF_PRODUCE_ERROR) {
            ff_log_error ("%s", ff_producer_error (self->producer));
            self->failed = 1;
        }
    }
    s_send_mark (self);
}

/* --------------------------------------------------------------- peers */

/* Sizes admission to the descriptors this process may open: each worker
   costs FF_VENT_FDS_PER_WORKER of them, beyond what is open now and a
   slack. A worker past that is refused, not served with a pipe that
   libzmq could not accept. */
static void
s_size_admission (s_vent_t *self)
{
    int limit = ff_fdlimit_max (), open = ff_fdlimit_open_count ();
    self->capacity = ff_peers_fit_fds (self->peers);
    ff_log_info ("admits up to %zu workers: %d file descriptors (ulimit -n), %d open, "
                 "%d per worker", self->capacity, limit, open, FF_VENT_FDS_PER_WORKER);
}

/* Logs, at most once a second with the heartbeat, connections the
   descriptor guard refused since the last line. */
static void
s_log_refused_connections (s_vent_t *self)
{
    uint64_t refused = ff_fdlimit_refused ();
    if (refused == self->refused_seen)
        return;
    ff_log_error ("refused %" PRIu64 " connections: out of file descriptors (ulimit -n %d, "
                  "%zu of at most %zu workers joined)", refused - self->refused_seen,
                  ff_fdlimit_max (), ff_peers_count (self->peers), self->capacity);
    self->refused_seen = refused;
}

static void
s_send_job (s_vent_t *self)
{
    ff_codec_job (self->codec, self->spec.job_id, (const char *const *) self->spec.kernel_names,
                  self->spec.nkernels, self->total, (uint64_t) self->window_max);
    /* one the sink's pipe refuses is sent again: its first by the sink's
       next hello, the one with the total by the loop */
    if (s_send_sink (self) == 0)
        self->sink_told_total = self->total >= 0;
}

/* The interval of the hb a worker sends, and of those it gets while idle:
   heartbeat_ms; for a worker that hears its tasks (FF_HELLO_HEARS_TASKS),
   a quarter of worker_timeout_ms when that is longer, so that heartbeats
   cost S_HB_PER_TIMEOUT messages each way per worker_timeout_ms. */
static int64_t
s_hb_every (s_vent_t *self, const ff_peer_t *peer)
{
    int64_t every = self->settings->worker_timeout_ms / S_HB_PER_TIMEOUT;
    return peer->hears_tasks && every > self->settings->heartbeat_ms? every
                                                                    : self->settings->heartbeat_ms;
}

static void
s_send_welcome (s_vent_t *self, ff_peer_t *peer)
{
    ff_codec_welcome (self->codec, self->spec.job_id, peer->id, peer->endpoint,
                      (uint64_t) s_hb_every (self, peer),
                      (const char *const *) self->spec.kernel_names, self->spec.nkernels,
                      self->spec.params, self->spec.nparams);
    s_send_to (self, peer->routing, peer->routing_len);
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
s_remove_worker (s_vent_t *self, ff_peer_t *peer, const char *why, int crashed)
{
    ff_log_info ("worker %" PRIu64 " (%s) %s", peer->id, peer->name, why);
    if (ff_ledger_departed (self->ledger) == FF_LEDGER_MAX_DEPARTED)
        s_settle (self, 1);
    ff_ledger_worker_leave (self->ledger, peer->id, why, crashed, ff_clock_ms ());
    ff_peers_remove (self->peers, peer->id);
}

static void
s_on_hello (s_vent_t *self, zmq_msg_t *routing, const ff_msg_t *msg)
{
    size_t routing_len = zmq_msg_size (routing);
    if (ff_str_eq (msg->role, "sink")) {
        /* once the sink has acked, another peer cannot take its place:
           its acks would be refused from then on and the job would hang */
        if (ff_peers_sink_hello (self->peers, zmq_msg_data (routing), routing_len,
                                 self->sink_ready)) {
            ff_log_reject (&self->rejected, "sink hello from a second peer");
            return;
        }
        s_send_job (self);
        return;
    }
    ff_peer_t *peer;
    char error [512];
    ff_peers_hello_t rc = ff_peers_hello (self->peers, zmq_msg_data (routing), routing_len,
                                          msg->name.ptr, msg->name.len, msg->flags,
                                          ff_clock_ms (), &peer, error, sizeof (error));
    if (rc == FF_PEERS_KNOWN) {
        s_send_welcome (self, peer);        /* its hello crossed our welcome */
        return;
    }
    /* a refused worker is not answered: it says hello again, and joins
       once a worker leaves */
    if (rc == FF_PEERS_FULL) {
        ff_log_reject (&self->refused_workers, "worker %.*s refused: %zu workers joined, the "
                       "most that %d file descriptors (ulimit -n) hold at %d each",
                       (int) msg->name.len, msg->name.ptr, self->capacity,
                       ff_fdlimit_max (), FF_VENT_FDS_PER_WORKER);
        return;
    }
    if (rc == FF_PEERS_FAILED) {
        ff_log_reject (&self->refused_workers, "worker %.*s refused: cannot make its task "
                       "pipe: %s", (int) msg->name.len, msg->name.ptr, error);
        return;
    }
    if (ff_ledger_worker_add (self->ledger, peer->id, ff_dispatch_initial_credit (self->policy))) {
        ff_peers_remove (self->peers, peer->id);
        return;
    }
    s_send_welcome (self, peer);
    ff_log_info ("worker %" PRIu64 " (%s) joined on %s", peer->id, peer->name, peer->endpoint);
}

static void
s_on_ack (s_vent_t *self, zmq_msg_t *routing, ff_msg_t *msg)
{
    uint64_t seq;
    if (!ff_peers_is_sink (self->peers, zmq_msg_data (routing), zmq_msg_size (routing))) {
        ff_log_reject (&self->rejected, "ack from a peer that is not the sink");
        return;
    }
    if (!self->sink_ready) {
        /* the sink's first ack says how much an earlier run wrote */
        self->sink_ready = 1;
        ff_ledger_set_skip (self->ledger, msg->written);
        self->skip = msg->written;
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
    self->control_backlog = 1;
    for (round = 0; round < S_CONTROL_ROUND; round++) {
        zmq_msg_t routing, body;
        ff_msg_t msg;
        if ((rc = ff_net_recv (self->control, &routing, &body)) < 0) {
            self->control_backlog = 0;
            self->control_drained = errno == EAGAIN;
            break;
        }
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
        if (!ff_str_eq (msg.job, self->spec.job_id))
            ff_log_reject (&self->rejected, "%s for another job", ff_msg_type_name (msg.type));
        else
        if (msg.type == FF_MSG_ACK)
            s_on_ack (self, &routing, &msg);
        else
        if (msg.type == FF_MSG_MARK
        &&  ff_peers_is_sink (self->peers, zmq_msg_data (&routing), zmq_msg_size (&routing))
        &&  !self->sink_ready) {
            /* the earlier run's input mark, just before the sink's first ack */
            self->expect_mark = 1;
            self->expect_seq = msg.written;
            self->expect_hash = msg.hash;
        }
        else
        if (msg.type == FF_MSG_HB || msg.type == FF_MSG_BYE) {
            ff_peer_t *peer = ff_peers_heard (self->peers, &msg, zmq_msg_data (&routing),
                                              zmq_msg_size (&routing), &self->rejected);
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
s_overdue (s_vent_t *self, ff_peer_t *peer, int64_t now)
{
    const ff_ledger_worker_t *held = ff_ledger_worker (self->ledger, peer->id);
    return self->spec.timeout > 0 && held->outstanding > 0
        && now - held->busy_since > (int64_t) (self->spec.timeout * 1000);
}

/* Whether peer needs an hb this round: one that counts task messages as
   hearing us (FF_HELLO_HEARS_TASKS) gets none while its tasks come, and,
   idle, one every s_hb_every; any other, every round. */
static int
s_hb_due (s_vent_t *self, ff_peer_t *peer, int64_t now)
{
    return !peer->hears_tasks || now - peer->last_told >= s_hb_every (self, peer);
}

/* Heartbeats to the peers that need one; a worker that is gone or silent
   is removed. */
static void
s_heartbeat (s_vent_t *self)
{
    int64_t now = ff_clock_ms ();
    size_t index;
    if (now - self->last_hb < self->settings->heartbeat_ms)
        return;
    self->last_hb = now;
    if (now - self->refused_logged >= 1000) {
        self->refused_logged = now;
        s_log_refused_connections (self);
    }
    /* a worker's heartbeats may wait unread behind thousands of messages
       (a few thousand workers joining at once): silence counts only when
       the last read of control drained it */
    for (index = 0; index < ff_peers_count (self->peers); ) {
        ff_peer_t *peer = ff_peers_at (self->peers, index);
        int rc = 0;
        if (s_hb_due (self, peer, now)) {
            ff_codec_hb (self->codec, self->spec.job_id, peer->id);
            rc = s_send_to (self, peer->routing, peer->routing_len);
            peer->last_told = now;
        }
        if (rc != 0 && errno == EHOSTUNREACH)
            s_remove_worker (self, peer, "its worker disconnected", 1);
        else
        if (ff_peers_pipe_intruded (self->peers, peer))
            s_remove_worker (self, peer, S_INTRUDED, 0);
        else
        if (!self->control_backlog && now - peer->last_seen > self->settings->worker_timeout_ms)
            s_remove_worker (self, peer, "its worker went silent", 1);
        else
        if (s_overdue (self, peer, now)) {
            /* a worker that comes back gets told to leave: it exits 3 */
            ff_codec_end (self->codec, self->spec.job_id, 2);
            s_send_to (self, peer->routing, peer->routing_len);
            s_remove_worker (self, peer, "it ran past --timeout", 1);
        }
        else
            index++;
    }
    /* a peer that holds tasks and never reads them (it finished nothing
       while others sit idle) costs a bounded delay: they go to others */
    ff_peer_t *unread = ff_peers_find (self->peers,
                                       ff_dispatch_unread (self->policy, self->ledger, now,
                                                           self->settings->worker_timeout_ms));
    if (unread)
        s_remove_worker (self, unread, "finished nothing while others were idle: it does "
                         "not read its tasks", 0);
    if (ff_peers_sink (self->peers)->routing_len) {
        /* to the sink, the worker field carries how many workers are live */
        ff_codec_hb (self->codec, self->spec.job_id, ff_peers_count (self->peers));
        s_send_sink (self);
    }
}


/* ------------------------------------------------------------ dispatch */

/* Sends the message encoded in codec on sock without waiting, and without
   a copy: the codec lends its buffer to libzmq (a copy goes when every
   buffer is out). Returns 0 or -1. */
static int
s_send_lent (ff_codec_t *codec, zsock_t *sock)
{
    void *data, *hint;
    size_t size;
    ff_codec_free_fn *free_fn;
    zmq_msg_t msg;
    if (ff_codec_lend (codec, &data, &size, &free_fn, &hint))
        return ff_net_send (sock, NULL, 0, ff_codec_data (codec), ff_codec_size (codec), 0);
    if (zmq_msg_init_data (&msg, data, size, free_fn, hint)) {
        free_fn (data, hint);       /* given back, bytes intact: send a copy */
        return ff_net_send (sock, NULL, 0, data, size, 0);
    }
    if (zmq_msg_send (&msg, zsock_resolve (sock), ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);       /* gives the buffer back */
        return -1;
    }
    return 0;
}

/* Sends the tasks seqs to peer in one message. Returns 0, or -1 when
   memory ran out or its pipe refused the message (not connected yet, or
   full: then peer->pipe_refused is set, until a send goes). */
static int
s_send_tasks (s_vent_t *self, ff_peer_t *peer, const uint64_t *seqs, size_t count)
{
    if (ff_taskmsg_tasks (self->codec, self->spec.job_id, self->ledger, seqs, count,
                          (uint64_t) self->spec.chunk, peer->no_shm)) {
        ff_log_error ("out of memory encoding %zu tasks for worker %" PRIu64 ": sent later",
                      count, peer->id);
        return -1;
    }
    peer->pipe_refused = s_send_lent (self->codec, peer->push) != 0;
    return peer->pipe_refused? -1: 0;
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
        ff_peer_t *peer = ff_peers_find (self->peers, worker);
        if (ff_peers_pipe_intruded (self->peers, peer)) {
            /* whatever went before went to the worker alone */
            ff_ledger_unsend (self->ledger, worker, seqs, count, now_ms);
            s_remove_worker (self, peer, S_INTRUDED, 0);
        }
        else
        if (s_send_tasks (self, peer, seqs, count) == 0) {
            ff_ledger_sent (self->ledger, worker, seqs, count, now_ms, now_us);
            peer->last_told = now_ms;
        }
        else
            ff_ledger_unsend (self->ledger, worker, seqs, count, now_ms + S_RETRY_BLOCKED_MS);
    }
}

/* The pipes of workers that wait after their pipe refused a send (a pipe
   whose worker has not connected yet, as after every welcome, or a full
   one), at most FF_NET_WAIT_WRITABLE_MAX: the loop waits on them too, and
   s_unblock_pipes lets each worker have tasks as soon as its pipe takes
   a message, not S_RETRY_BLOCKED_MS later. A worker held back because
   memory ran out waits the timer only. Fills pipes and workers; sets
   *any when any worker waits, so that the loop wakes for the timer;
   returns how many pipes. One walk of the workers per wake-up. */
static int
s_blocked_pipes (s_vent_t *self, void **pipes, uint64_t *workers, int *any)
{
    int64_t now = ff_clock_ms ();
    size_t index, count = ff_ledger_workers (self->ledger);
    int found = 0;
    *any = 0;
    if (!ff_ledger_pending (self->ledger))
        return 0;
    for (index = 0; index < count && found < FF_NET_WAIT_WRITABLE_MAX; index++) {
        const ff_ledger_worker_t *worker = ff_ledger_worker_at (self->ledger, index);
        if (worker->blocked_until <= now)
            continue;
        *any = 1;
        ff_peer_t *peer = ff_peers_find (self->peers, worker->id);
        if (peer && peer->push && peer->pipe_refused) {
            workers [found] = worker->id;
            pipes [found++] = zsock_resolve (peer->push);
        }
    }
    return found;
}

/* Unblocks each worker of s_blocked_pipes whose pipe can take a message. */
static void
s_unblock_pipes (s_vent_t *self, void **pipes, const uint64_t *workers, int count)
{
    int index;
    for (index = 0; index < count; index++)
        if (ff_net_can_send (pipes [index]) == FF_NET_SEND_READY)
            ff_ledger_unsend (self->ledger, workers [index], NULL, 0, 0);
}

/* ---------------------------------------------------------------- loop */

/* Every task is written, and the sink has been told the total (a job
   header its pipe refused goes again first: without it the sink would
   wait for more). */
static int
s_finished (s_vent_t *self)
{
    return self->total >= 0 && ff_ledger_written (self->ledger) == (uint64_t) self->total
        && self->sink_told_total;
}

static void
s_end_workers (s_vent_t *self, uint64_t status)
{
    size_t index;
    for (index = 0; index < ff_peers_count (self->peers); index++) {
        ff_peer_t *peer = ff_peers_at (self->peers, index);
        ff_codec_end (self->codec, self->spec.job_id, status);
        s_send_to (self, peer->routing, peer->routing_len);
    }
    /* the sink too: it waits for this before closing, so that its last
       ack cannot be held back by a ventilator already gone */
    if (ff_peers_sink (self->peers)->routing_len) {
        ff_codec_end (self->codec, self->spec.job_id, status);
        s_send_sink (self);
    }
}

/* How long the loop may sleep: until the next heartbeat, the next worker
   to settle, or a blocked pipe's retry. */
static int
s_poll_timeout (s_vent_t *self, int blocked)
{
    int64_t now = ff_clock_ms (), due = ff_ledger_settle_due (self->ledger);
    int timeout = self->settings->heartbeat_ms;
    if (due != INT64_MAX && due - now + 1 < timeout)
        timeout = due - now + 1 < 0? 0: (int) (due - now + 1);
    if (blocked)
        timeout = S_RETRY_BLOCKED_MS;
    /* error records or a total that the sink's pipe refused: soon again */
    if ((self->sink_ready && ff_ledger_failed (self->ledger))
    ||  (self->total >= 0 && self->sink_ready && !self->sink_told_total))
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
        /* one poll(2) per wake-up: control, once sent on, is asked
           ZMQ_EVENTS first (acks that came are read without a wait), and
           only then; the intake socket or input fd only while input is
           wanted */
        void *pipes [FF_NET_WAIT_WRITABLE_MAX];
        uint64_t blocked [FF_NET_WAIT_WRITABLE_MAX];
        ff_net_wait_t wait = {
            .sockets = { zsock_resolve (self->control),
                         self->intake? zsock_resolve (self->intake): NULL },
            .fds = { -1, self->intake? -1: self->input_fd },
            .drained = { self->control_drained },
            .count = self->want_input? 2: 1,
            .writable = pipes
        };
        int any_blocked;
        wait.nwritable = s_blocked_pipes (self, pipes, blocked, &any_blocked);
        int ready [2] = { 0, 0 };
        int rc = ff_net_wait (&wait, ready, s_poll_timeout (self, any_blocked));
        self->control_drained = wait.drained [0];
        s_unblock_pipes (self, pipes, blocked, wait.nwritable);
        if (rc < 0) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return FF_EXIT_ERROR;
        }
        if (ready [0])
            s_on_control (self);
        if (rc > 0 && self->want_input && !self->intake && ready [1]
        &&  ff_producer_fill (self->producer) < 0) {
            ff_log_error ("%s", ff_producer_error (self->producer));
            self->failed = 1;
        }
    }
    if (self->failed) {
        s_end_workers (self, 1);
        return FF_EXIT_ERROR;       /* the job was abandoned: its reason is logged */
    }
    if (!s_finished (self))         /* stopped: 128 + the signal, as a shell says */
        return FF_EXIT_SIGNAL_BASE + (ff_stop_signal? (int) ff_stop_signal: SIGINT);
    s_end_workers (self, 0);
    ff_log_info ("job %s done: %" PRId64 " tasks, %" PRIu64 " sent again, %" PRIu64
                 " messages refused", self->spec.job_id, self->total, ff_ledger_resent (self->ledger),
                 self->rejected);
    return FF_EXIT_OK;
}

/* ------------------------------------------------------------- options */

static void
s_usage (FILE *stream)
{
    fprintf (stream, "usage: fanfold-ventilator -t TOPOLOGY [OPTION]... [INPUT...]\n"
             "Reads the job (records from stdin with --pipe, else one task per INPUT),\n"
             "and hands tasks to the workers that join TOPOLOGY, least-loaded first.\n");
    ff_options_usage (FF_CMD_VENTILATOR, stream);
}

static void
s_vent_cleanup (s_vent_t *self)
{
    ff_peers_destroy (&self->peers);
    ff_ledger_destroy (&self->ledger);
    ff_dispatch_destroy (&self->policy);
    ff_producer_destroy (&self->producer);
    if (self->spec.input_path && self->input_fd != STDIN_FILENO)
        close (self->input_fd);
    ff_jobspec_clear (&self->spec);
    zsock_destroy (&self->intake);
    ff_security_destroy (&self->security);
    ff_codec_destroy (&self->codec);
    ff_topology_destroy (&self->topology);
}

/* The cores this ventilator may run on (its affinity), when its workers
   share them: an ipc topology, one host. 0 over tcp, where workers may be
   on other hosts and their wake-ups cost these cores nothing, or when the
   affinity is unknown: then the workers are never a crowd (dispatch.h). */
static int
s_local_cores (ff_topology_t *topology)
{
    if (strncmp (ff_topology_connect (topology, FF_EP_CONTROL), "ipc://", 6) != 0)
        return 0;
    cpu_set_t set;
    CPU_ZERO (&set);
    if (sched_getaffinity (0, sizeof (set), &set) != 0)
        return 0;
    return CPU_COUNT (&set);
}

int
ff_ventilator_main (int argc, char *argv [])
{
    s_vent_t self;
    char error [1024];
    int rc;

    /* before any socket: a closed fd 0, 1 or 2 would become one of them */
    int closed = ff_stdfds_guard ();
    if (closed < 0) {
        fprintf (stderr, "fanfold-ventilator: cannot open /dev/null: %s\n", strerror (errno));
        return FF_EXIT_ERROR;
    }
    memset (&self, 0, sizeof (self));
    self.total = -1;
    self.unsent_error = UINT64_MAX;
    self.input_fd = STDIN_FILENO;
    switch (ff_jobspec_parse (&self.spec, argc, argv, error, sizeof (error))) {
        case FF_OPTIONS_OK: break;
        case FF_OPTIONS_HELP: s_usage (stdout); rc = FF_EXIT_OK; goto done;
        case FF_OPTIONS_ERROR:
            fprintf (stderr, "fanfold-ventilator: %s\n", error);
            rc = FF_EXIT_ERROR;
            goto done;
    }
    rc = FF_EXIT_ERROR;
    ff_log_init ("fanfold-ventilator", self.spec.verbose);
    ff_signals_install ();
    ff_fdlimit_raise ();
    self.topology = ff_topology_load (self.spec.topology_path, error, sizeof (error));
    if (!self.topology) {
        ff_log_error ("%s", error);
        goto done;
    }
    self.settings = ff_topology_settings (self.topology);
    if ((size_t) self.settings->window < self.spec.nkernels) {
        ff_log_error ("window (%d) is smaller than the number of kernels", self.settings->window);
        goto done;
    }
    {
        char prefix [64];
        ff_shm_job_prefix (self.spec.job_id, prefix, sizeof (prefix));
        snprintf (self.shm_prefix, sizeof (self.shm_prefix), "%s%d_", prefix, (int) getpid ());
    }
    /* segments left by jobs whose ventilator died are removed */
    int stale = ff_shm_clean (NULL);
    if (stale)
        ff_log_info ("removed %d shared-memory segments of dead jobs", stale);
    self.producer = ff_jobspec_producer (&self.spec, closed & FF_STDFDS_IN, self.shm_prefix,
                                         &self.input_fd, error, sizeof (error));
    if (!self.producer) {
        ff_log_error ("%s", error);
        goto done;
    }
    /* the window grows as workers join, up to the bound the sink is told */
    self.window_max = self.settings->window > FF_MAX_WINDOW? (size_t) self.settings->window
                                                            : (size_t) FF_MAX_WINDOW;
    ff_ledger_config_t ledger = {
        .window = (size_t) self.settings->window,
        .window_per_worker = FF_WINDOW_PER_WORKER, .window_max = self.window_max,
        .window_bytes = (size_t) self.settings->window_bytes,
        .retries = (uint32_t) self.spec.retries, .release = ff_jobspec_release_source
    };
    ff_dispatch_config_t policy = {
        .window = self.settings->window, .prefetch = self.settings->prefetch,
        .batch = self.settings->batch, .fifo = self.spec.fifo,
        .cores = s_local_cores (self.topology)
    };
    self.ledger = ff_ledger_new (&ledger);
    self.policy = ff_dispatch_new (&policy);
    self.codec = ff_codec_new ();
    if (!self.producer || !self.ledger || !self.policy || !self.codec) {
        ff_log_error ("cannot allocate the input or the ledger");
        goto done;
    }
    if (ff_topology_prepare_dirs (self.topology, error, sizeof (error))) {
        ff_log_error ("%s", error);
        goto done;
    }
    self.security = ff_security_new (self.topology, 1, self.spec.insecure, error, sizeof (error));
    if (self.security)
        self.peers = ff_peers_new (self.topology, self.security, error, sizeof (error));
    if (!self.peers) {
        ff_log_error ("%s", error);
        goto done;
    }
    self.control = ff_peers_control (self.peers);
    s_size_admission (&self);
    if (self.spec.intake) {
        /* a small HWM: a producer that runs ahead waits, memory stays bounded */
        self.intake = ff_net_socket (ZMQ_PULL, 16, 0, self.spec.max_block + 4096);
        if (!self.intake || zsock_bind (self.intake, "%s", self.spec.intake) < 0) {
            ff_log_error ("cannot bind --intake %s: %s", self.spec.intake, zmq_strerror (errno));
            goto done;
        }
    }
    ff_log_info ("job %s on %s", self.spec.job_id, ff_topology_bind (self.topology, FF_EP_CONTROL));
    rc = s_run (&self);
done:
    s_vent_cleanup (&self);
    return rc;
}

/* Weak, so that the launcher, which links this file for ff_ventilator_main,
   keeps its own main. */
__attribute__ ((weak)) int
main (int argc, char *argv [])
{
    return ff_ventilator_main (argc, argv);
}
