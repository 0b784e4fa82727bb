/*  fanfold-sink: a poll loop that pulls results from every worker and hands
    their items to ff_delivery (which drops duplicates, holds early results
    and writes them in seq order), acks what it took and how far it has
    written, draws progress and serves --emit. Organised as: options, job,
    acks, emit, results, control, loop, main. */

#include "fanfold/job/delivery.h"
#include "fanfold/job/output.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_MAX_RESULT_MESSAGE (1LL << 31)
#define S_MAX_CONTROL_MESSAGE (1LL << 20)
#define S_HELLO_EVERY_MS 500
#define S_DRAIN_PER_ROUND 256

/* How long the sink stays up after end-of-stream for --emit consumers. */
#define S_EMIT_DRAIN_MS 30000

/* While results keep coming, acks wait for this many seqs or this many
   milliseconds (credit must come back before a slow task's successor is
   due); once none is waiting, whatever is listed goes at once. */
#define S_ACK_BATCH 256
#define S_ACK_EVERY_MS 1

/* Buffered output is written at least this often while results keep
   coming (a reader sees them, and one that left is noticed). */
#define S_FLUSH_EVERY_MS 100

typedef struct {
    const char *topology_path;      /* -t */
    const char *output_path;        /* -o, NULL for stdout */
    ff_format_t format;             /* --format */
    const char *joblog_path;        /* --joblog, or NULL */
    const char *emit;               /* --emit ENDPOINT, or NULL */
    const char *signature;          /* --signature: names the job for --resume */
    int resume;                     /* --resume */
    int insecure;                   /* --insecure: tcp without CURVE keys */
    int progress;                   /* --progress: a progress line on stderr */
    int verbose;                    /* -v */
} s_options_t;

typedef struct {
    s_options_t options;            /* command line */
    ff_topology_t *topology;        /* endpoints and tuning */
    zsock_t *results;               /* PULL, bound */
    zsock_t *control;               /* DEALER to the ventilator */
    ff_codec_t *codec;              /* encoder */
    ff_delivery_t *delivery;        /* reorder, output, fold, joblog, resume state */
    char *job;                      /* job id, once known */
    ff_security_t *security;        /* CURVE keys and the ZAP handler */
    int64_t last_ack;               /* when the last ack went out */
    int64_t last_flush;             /* when the output was last written out */
    uint64_t live_workers;          /* as the ventilator's heartbeat says */
    int64_t started_us;             /* when the job header arrived */
    int64_t last_progress;          /* when the progress line was drawn */
    uint64_t rejected;              /* messages or items refused */
    int write_reported;             /* the failed write was logged */
    int emit_gave_up;               /* no --emit consumer came in time: emit no more */
    int64_t emit_alone_ms;          /* time spent waiting with no consumer connected */
    zsock_t *emit;                  /* PUSH of results in seq order, or NULL */
    zsock_t *emit_monitor;          /* PAIR: connect/disconnect events of emit */
    int emit_peers;                 /* consumers connected to emit */
    ff_codec_t *emit_codec;         /* its encoder */
} s_sink_t;

/* Logs the first failed write to the output; the exit status says it too.
   A closed pipe (its reader left, as `| head` does) is not an error to
   report: the job ends quietly. */
static void
s_write_failed (s_sink_t *self)
{
    if (self->write_reported)
        return;
    self->write_reported = 1;
    if (ff_delivery_counts (self->delivery)->write_errno == EPIPE)
        return;
    ff_log_error ("cannot write %s: %s", ff_delivery_output_name (self->delivery),
                  strerror (ff_delivery_counts (self->delivery)->write_errno));
}

/* 1 once a write to the output failed: the job stops at once. */
static int
s_output_failed (s_sink_t *self)
{
    return ff_delivery_counts (self->delivery)->write_failed;
}

/* Makes the output durable and records how far it goes in the state file
   (at most every FF_DELIVERY_CHECKPOINT_MS unless forced). */
static void
s_checkpoint (s_sink_t *self, int force)
{
    ff_checkpoint_rc_t rc = ff_delivery_checkpoint (self->delivery, ff_clock_ms (), force);
    if (rc == FF_CHECKPOINT_OUTPUT_FAILED)
        s_write_failed (self);
    else
    if (rc == FF_CHECKPOINT_STATE_FAILED)
        ff_log_error ("cannot save %s: %s", ff_delivery_state_path (self->delivery),
                      strerror (errno));
}

/* Draws the progress line on stderr: done/total, rate, ETA, workers. */
static void
s_progress (s_sink_t *self, int final)
{
    int64_t now = ff_clock_ms ();
    if (!self->options.progress || !self->job
    ||  (!final && now - self->last_progress < 200))
        return;
    self->last_progress = now;
    const ff_delivery_counts_t *counts = ff_delivery_counts (self->delivery);
    uint64_t done = counts->written - counts->first;
    double seconds = (double) (ff_clock_us () - self->started_us) / 1e6;
    double rate = seconds > 0? (double) done / seconds: 0;
    char total [32] = "?", eta [32] = "";
    if (counts->total >= 0) {
        snprintf (total, sizeof (total), "%" PRIu64, (uint64_t) counts->total - counts->first);
        if (rate > 0 && !final)
            snprintf (eta, sizeof (eta), "  ETA %.1f s",
                      (double) ((uint64_t) counts->total - counts->first - done) / rate);
    }
    fprintf (stderr, "\r\033[Kfanfold: %" PRIu64 "/%s tasks  %.0f/s%s  %" PRIu64 " workers%s",
             done, total, rate, eta, self->live_workers, final? "\n": "");
    fflush (stderr);
}

static int
s_on_job (s_sink_t *self, const ff_msg_t *msg)
{
    if (self->job) {
        if (!ff_str_eq (msg->job, self->job))
            ff_log_reject (&self->rejected, "job message for another job");
        else
        if (ff_delivery_set_total (self->delivery, msg->total))
            ff_log_info ("job has %" PRId64 " tasks", msg->total);
        return 0;
    }
    if (!(self->job = ff_str_dup (msg->job)))
        return -1;
    if (ff_delivery_begin (self->delivery, msg->kernels, msg->nkernels, msg->window,
                           msg->total)) {
        free (self->job);
        self->job = NULL;
        if (errno != EINVAL)
            return -1;
        ff_log_reject (&self->rejected, "job message without kernels or with too many");
        return 0;
    }
    self->last_ack = 0;             /* ack at once: the ventilator waits for it */
    self->started_us = ff_clock_us ();
    ff_log_info ("serving job %s", self->job);
    return 0;
}

/* Sends the written mark and the seqs taken since the last ack. */
static void
s_send_ack (s_sink_t *self)
{
    size_t index, count;
    if (!self->job)
        return;
    const uint64_t *seqs = ff_delivery_acks (self->delivery, &count);
    ff_codec_ack_begin (self->codec, self->job, ff_delivery_written (self->delivery), count);
    for (index = 0; index < count; index++)
        ff_codec_ack_seq (self->codec, seqs [index]);
    if (ff_net_send (self->control, NULL, 0, ff_codec_data (self->codec),
                     ff_codec_size (self->codec), 1000) == 0)
        ff_delivery_acks_clear (self->delivery);
    self->last_ack = ff_clock_ms ();
}

/* Counts the consumers that connected to or left the emit socket. */
static void
s_emit_events (s_sink_t *self)
{
    zmq_msg_t frame;
    while (1) {
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, zsock_resolve (self->emit_monitor), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            return;
        }
        int more = zmq_msg_more (&frame);
        if (zmq_msg_size (&frame) == 6) {
            uint16_t event;
            memcpy (&event, zmq_msg_data (&frame), sizeof (event));
            if (event == ZMQ_EVENT_ACCEPTED)
                self->emit_peers++;
            else
            if (event == ZMQ_EVENT_DISCONNECTED && self->emit_peers > 0)
                self->emit_peers--;
        }
        zmq_msg_close (&frame);
        if (more)
            ff_net_drain (self->emit_monitor);     /* the endpoint frame */
    }
}

/* After end-of-stream: keeps the emit socket open until every consumer has
   left (a consumer closes after eos), at most wait_ms. libzmq can leave
   the tail of a closed PUSH socket's queue unsent when its peer is slow,
   so the stream is complete only while the socket stays open. */
static void
s_await_emit_consumers (s_sink_t *self, int wait_ms)
{
    int64_t deadline = ff_clock_ms () + wait_ms;
    if (!self->emit_monitor)
        return;
    s_emit_events (self);
    if (self->emit_peers > 0)
        ff_log_info ("waiting for %d --emit consumer(s) to take the end of the stream",
                     self->emit_peers);
    while (self->emit_peers > 0 && !ff_stop_signal && !zsys_interrupted
           && ff_clock_ms () < deadline) {
        zmq_pollitem_t item = { zsock_resolve (self->emit_monitor), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 50);
        /* the socket's own commands are processed when it is used */
        (void) zsock_events (self->emit);
        s_emit_events (self);
    }
    if (self->emit_peers > 0)
        ff_log_error ("an --emit consumer still connected after %d s: closing", wait_ms / 1000);
}

/* Sends the current emit message, waiting while the consumer is slow (it
   holds the job back, as a slow disk would), but never past a stop, and
   not more than S_EMIT_DRAIN_MS in all while no consumer is connected:
   then the stream is given up (the exit status says so). Returns 0, or -1
   when stopped or given up. */
static int
s_emit_send (s_sink_t *self)
{
    if (self->emit_gave_up)
        return -1;
    while (1) {
        int64_t started = ff_clock_ms ();
        if (ff_net_send (self->emit, NULL, 0, ff_codec_data (self->emit_codec),
                         ff_codec_size (self->emit_codec), 1000) == 0)
            return 0;
        if (ff_stop_signal || zsys_interrupted)
            return -1;
        s_emit_events (self);
        if (self->emit_peers > 0)
            self->emit_alone_ms = 0;
        else
            self->emit_alone_ms += ff_clock_ms () - started;
        if (self->emit_alone_ms >= S_EMIT_DRAIN_MS) {
            ff_log_error ("no --emit consumer on %s for %d s: the results are not emitted",
                          self->options.emit, S_EMIT_DRAIN_MS / 1000);
            self->emit_gave_up = 1;
            zsock_set_linger (self->emit, 0);
            return -1;
        }
    }
}

/* The delivery's emit callback: one written record on the emit socket. */
static int
s_emit (void *arg, const ff_record_t *record)
{
    s_sink_t *self = (s_sink_t *) arg;
    ff_codec_emit (self->emit_codec, record->seq, record->input, record->input_len,
                   record->kernel, record->status, record->body, record->size,
                   record->meta, record->meta_len);
    return s_emit_send (self);
}

/* Hands one result item to the delivery, sending the ack list first when
   it is full, and reports what the delivery refused. */
static void
s_take_item (s_sink_t *self, uint64_t worker, const ff_item_t *item)
{
    size_t nacks;
    ff_delivery_acks (self->delivery, &nacks);
    if (nacks == FF_MAX_ACK_SEQS)
        s_send_ack (self);
    switch (ff_delivery_take (self->delivery, worker, item)) {
        case FF_DELIVERY_REFUSED:
            ff_log_reject (&self->rejected, "result with seq %" PRIu64 " or kernel %u outside the job",
                           item->seq, item->kernel);
            break;
        case FF_DELIVERY_OUT_OF_WINDOW:
            ff_log_reject (&self->rejected, "result %" PRIu64 " outside the reorder window",
                           item->seq);
            break;
        case FF_DELIVERY_NO_MEMORY:
            ff_log_error ("out of memory holding result %" PRIu64, item->seq);
            break;
        case FF_DELIVERY_WRITE_FAILED:
            s_write_failed (self);
            break;
        default:                    /* written, held, duplicate, emit stopped */
            break;
    }
}

static void
s_on_results (s_sink_t *self)
{
    int round, rc;
    for (round = 0; round < S_DRAIN_PER_ROUND; round++) {
        zmq_msg_t body;
        ff_msg_t msg;
        ff_item_t item;
        if ((rc = ff_net_recv (self->results, NULL, &body)) < 0)
            break;
        if (rc == 1) {
            ff_log_reject (&self->rejected, "multipart message on results");
            continue;
        }
        if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg)
        ||  msg.type != FF_MSG_RESULT || !self->job || !ff_str_eq (msg.job, self->job)
        ||  msg.worker == FF_DELIVERY_VENTILATOR)
            ff_log_reject (&self->rejected, "malformed or foreign result message");
        else
            while (ff_msg_next_item (&msg, &item))
                s_take_item (self, msg.worker, &item);
        zmq_msg_close (&body);
    }
}

static int
s_on_control (s_sink_t *self)
{
    zmq_msg_t body;
    ff_msg_t msg;
    int rc;
    while ((rc = ff_net_recv (self->control, NULL, &body)) >= 0) {
        if (rc == 1)
            continue;
        if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg) == 0) {
            if (msg.type == FF_MSG_HB)
                self->live_workers = msg.worker;
            if (msg.type == FF_MSG_JOB && s_on_job (self, &msg)) {
                zmq_msg_close (&body);
                return -1;
            }
            if (msg.type == FF_MSG_RESULT && self->job && ff_str_eq (msg.job, self->job)) {
                /* the ventilator gave up on a task: its error record */
                ff_item_t item;
                while (ff_msg_next_item (&msg, &item))
                    s_take_item (self, FF_DELIVERY_VENTILATOR, &item);
            }
        }
        else
            ff_log_reject (&self->rejected, "malformed control message");
        zmq_msg_close (&body);
    }
    return 0;
}

/* With -v: tasks, retries, duration, rate, and per worker tasks and busy %. */
static void
s_summary (s_sink_t *self)
{
    size_t index;
    const ff_delivery_counts_t *counts = ff_delivery_counts (self->delivery);
    double seconds = (double) (ff_clock_us () - self->started_us) / 1e6;
    uint64_t written = (uint64_t) counts->total - counts->first;
    ff_log_info ("%" PRIu64 " tasks in %.3f s (%.0f/s): %" PRIu64 " errors, %" PRIu64
                 " took more than one attempt, %" PRIu64 " duplicates dropped, %" PRIu64
                 " messages refused", written, seconds, seconds > 0? written / seconds: 0,
                 counts->errors, counts->retried, counts->duplicates, self->rejected);
    for (index = 0; index < counts->nworkers; index++)
        if (counts->workers [index].worker != FF_DELIVERY_VENTILATOR)
            ff_log_info ("  worker %" PRIu64 ": %" PRIu64 " tasks, busy %.0f%%",
                         counts->workers [index].worker, counts->workers [index].tasks,
                         seconds > 0? 100.0 * (double) counts->workers [index].busy_us
                                      / 1e6 / seconds: 0);
}

static int
s_done (s_sink_t *self)
{
    return self->job && ff_delivery_done (self->delivery);
}

/* After the last ack: waits at most wait_ms for the ventilator's `end`,
   which says that it has every ack, then lets the control socket close at
   once. Without it, an ack queued for a ventilator that had already left
   would hold the exit for the whole linger time. */
static void
s_await_end (s_sink_t *self, int wait_ms)
{
    int64_t deadline = ff_clock_ms () + wait_ms;
    int64_t now;
    while (!ff_stop_signal && !zsys_interrupted && (now = ff_clock_ms ()) < deadline) {
        zmq_pollitem_t item = { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 };
        if (zmq_poll (&item, 1, (long) (deadline - now)) <= 0)
            continue;
        zmq_msg_t body;
        ff_msg_t msg;
        int rc, ended = 0;
        while (!ended && (rc = ff_net_recv (self->control, NULL, &body)) >= 0) {
            if (rc == 1)
                continue;
            if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg) == 0
            &&  msg.type == FF_MSG_END && ff_str_eq (msg.job, self->job))
                ended = 1;
            zmq_msg_close (&body);
        }
        if (ended)
            break;
    }
    zsock_set_linger (self->control, 0);
}

static int
s_run (s_sink_t *self)
{
    const ff_settings_t *settings = ff_topology_settings (self->topology);
    int64_t last_hello = 0;
    size_t nacks = 0;
    while (!ff_stop_signal && !zsys_interrupted && !s_done (self) && !s_output_failed (self)) {
        int64_t now = ff_clock_ms ();
        if (!self->job && now - last_hello >= S_HELLO_EVERY_MS) {
            ff_codec_hello (self->codec, "sink", "sink", 0);
            ff_net_send (self->control, NULL, 0, ff_codec_data (self->codec),
                         ff_codec_size (self->codec), 0);
            last_hello = now;
        }
        zmq_pollitem_t items [2] = {
            { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->results), 0, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, 2, nacks? 0: settings->heartbeat_ms);
        if (rc < 0 && errno != EINTR) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return FF_EXIT_ERROR;
        }
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN) && s_on_control (self)) {
            ff_log_error ("out of memory");
            return FF_EXIT_ERROR;
        }
        if (rc > 0 && (items [1].revents & ZMQ_POLLIN))
            s_on_results (self);
        ff_delivery_acks (self->delivery, &nacks);
        int64_t since_ack = ff_clock_ms () - self->last_ack;
        if (self->job && ((nacks && (nacks >= S_ACK_BATCH || rc == 0
                                     || since_ack >= S_ACK_EVERY_MS))
                          || since_ack >= settings->heartbeat_ms)) {
            if ((!nacks || rc == 0) && ff_delivery_flush (self->delivery))
                s_write_failed (self);
            s_send_ack (self);
            ff_delivery_acks (self->delivery, &nacks);
        }
        if (self->job && ff_clock_ms () - self->last_flush >= S_FLUSH_EVERY_MS) {
            if (ff_delivery_flush (self->delivery))
                s_write_failed (self);
            self->last_flush = ff_clock_ms ();
        }
        s_checkpoint (self, 0);
        s_progress (self, 0);
    }
    if (s_output_failed (self)) {
        /* stop at once: the launcher ends the other stages */
        s_write_failed (self);
        zsock_set_linger (self->control, 0);
        return ff_delivery_exit_status (self->delivery);
    }
    s_checkpoint (self, 1);
    s_progress (self, 1);
    if (ff_delivery_flush (self->delivery))
        s_write_failed (self);
    if (!s_done (self))
        return FF_EXIT_SIGNAL_BASE + SIGINT;
    s_send_ack (self);
    s_await_end (self, settings->linger_ms);
    if (self->emit) {
        ff_codec_eos (self->emit_codec, ff_delivery_written (self->delivery));
        s_emit_send (self);
        s_await_emit_consumers (self, S_EMIT_DRAIN_MS);
    }
    s_summary (self);
    int rc = ff_delivery_exit_status (self->delivery);
    return self->emit_gave_up && rc != FF_EXIT_PIPE_CLOSED? FF_EXIT_ERROR: rc;
}

static void
s_usage (FILE *stream)
{
    fprintf (stream,
             "usage: fanfold-sink -t TOPOLOGY [-o FILE] [--format raw|jsonl] [--joblog FILE]\n"
             "                    [--resume] [--signature WORD] [--emit ENDPOINT]\n"
             "                    [--plugin LIB.so] [--insecure] [--progress] [-v]\n"
             "Collects the results of the job on TOPOLOGY and writes them in seq\n"
             "order. Exits 0 when every task succeeded, 1 when some failed, 2 on error.\n");
}

int
main (int argc, char *argv [])
{
    static const struct option longs [] = {
        { "topology", required_argument, NULL, 't' },
        { "output", required_argument, NULL, 'o' },
        { "format", required_argument, NULL, 'f' },
        { "joblog", required_argument, NULL, 'J' },
        { "emit", required_argument, NULL, 'E' },
        { "insecure", no_argument, NULL, 'N' },
        { "progress", no_argument, NULL, 'P' },
        { "plugin", required_argument, NULL, 'G' },
        { "resume", no_argument, NULL, 'R' },
        { "signature", required_argument, NULL, 'S' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    s_sink_t self;
    char error [512];
    int opt, rc = 1;

    memset (&self, 0, sizeof (self));
    while ((opt = getopt_long (argc, argv, "t:o:vh", longs, NULL)) != -1) {
        switch (opt) {
            case 't': self.options.topology_path = optarg; break;
            case 'o': self.options.output_path = optarg; break;
            case 'f':
                if (ff_format_parse (optarg, &self.options.format)) {
                    fprintf (stderr, "fanfold-sink: --format %s: expected raw or jsonl\n", optarg);
                    return FF_EXIT_ERROR;
                }
                break;
            case 'J': self.options.joblog_path = optarg; break;
            case 'E': self.options.emit = optarg; break;
            case 'N': self.options.insecure = 1; break;
            case 'P': self.options.progress = 1; break;
            case 'G':               /* a plugin kernel that folds must fold here too */
                if (ff_kernels_load (optarg, error, sizeof (error))) {
                    fprintf (stderr, "fanfold-sink: %s\n", error);
                    return FF_EXIT_ERROR;
                }
                break;
            case 'R': self.options.resume = 1; break;
            case 'S': self.options.signature = optarg; break;
            case 'v': self.options.verbose = 1; break;
            case 'h': s_usage (stdout); return FF_EXIT_OK;
            default: s_usage (stderr); return FF_EXIT_ERROR;
        }
    }
    if (!self.options.topology_path || optind != argc) {
        s_usage (stderr);
        return FF_EXIT_ERROR;
    }
    if (self.options.resume && !self.options.output_path) {
        fprintf (stderr, "fanfold-sink: --resume needs -o FILE\n");
        return FF_EXIT_ERROR;
    }
    ff_log_init ("fanfold-sink", self.options.verbose);
    ff_signals_install ();
    self.topology = ff_topology_load (self.options.topology_path, error, sizeof (error));
    if (!self.topology) {
        ff_log_error ("%s", error);
        return FF_EXIT_ERROR;
    }
    ff_delivery_options_t delivery = {
        /* with --emit and no -o, results go to the emit socket only */
        .output_path = self.options.output_path? self.options.output_path
                     : self.options.emit? "/dev/null": NULL,
        .output_fd = STDOUT_FILENO, .format = self.options.format,
        .joblog_path = self.options.joblog_path,
        .keep_state = self.options.output_path != NULL, .resume = self.options.resume,
        .signature = self.options.signature, .list_acks = 1,
        .emit = self.options.emit? s_emit: NULL, .emit_arg = &self
    };
    self.delivery = ff_delivery_new (&delivery, error, sizeof (error));
    if (!self.delivery) {
        ff_log_error ("%s", error);
        ff_topology_destroy (&self.topology);
        return FF_EXIT_ERROR;
    }
    const ff_settings_t *settings = ff_topology_settings (self.topology);
    const char *bind = ff_topology_bind (self.topology, FF_EP_RESULTS);
    if (self.options.emit) {
        /* results go to the emit socket, and to -o FILE when given: not stdout */
        self.emit_codec = ff_codec_new ();
        /* a consumer may be slower than the job: give it time to take
           the tail of the stream before this process exits */
        self.emit = ff_net_socket (ZMQ_PUSH, settings->hwm, 30000, -1);
        if (!self.emit || !self.emit_codec || zsock_bind (self.emit, "%s", self.options.emit) < 0) {
            ff_log_error ("cannot bind --emit %s: %s", self.options.emit, zmq_strerror (errno));
            goto cleanup;
        }
        char monitor [64];
        snprintf (monitor, sizeof (monitor), "inproc://emit-monitor-%d", (int) getpid ());
        self.emit_monitor = ff_net_socket (ZMQ_PAIR, settings->hwm, 0, -1);
        if (!self.emit_monitor
        ||  zmq_socket_monitor (zsock_resolve (self.emit), monitor,
                                ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0
        ||  zsock_connect (self.emit_monitor, "%s", monitor) != 0) {
            ff_log_error ("cannot watch --emit %s: %s", self.options.emit, zmq_strerror (errno));
            goto cleanup;
        }
    }
    self.codec = ff_codec_new ();
    self.results = ff_net_socket (ZMQ_PULL, settings->hwm, 0, S_MAX_RESULT_MESSAGE);
    self.control = ff_net_socket (ZMQ_DEALER, settings->hwm, settings->linger_ms, S_MAX_CONTROL_MESSAGE);
    if (!self.codec || !self.results || !self.control)
        ff_log_error ("cannot create sockets");
    else
    if (ff_topology_prepare_dirs (self.topology, error, sizeof (error)))
        ff_log_error ("%s", error);
    else
    if (!(self.security = ff_security_new (self.topology, 1, self.options.insecure,
                                           error, sizeof (error)))
    ||  ff_security_bind (self.security, self.results, bind, error, sizeof (error))
    ||  ff_security_connect (self.security, self.control,
                             ff_topology_connect (self.topology, FF_EP_CONTROL),
                             error, sizeof (error)))
        ff_log_error ("%s", error);
    else
    if (ff_net_ipc_busy (bind))
        ff_log_error ("another job is running on %s: wait for it, or use another topology", bind);
    else
    if (zsock_bind (self.results, "%s", bind) < 0)
        ff_log_error ("cannot bind %s: %s", bind, zmq_strerror (errno));
    else
    if (zsock_connect (self.control, "%s", ff_topology_connect (self.topology, FF_EP_CONTROL)) != 0)
        ff_log_error ("cannot connect to %s", ff_topology_connect (self.topology, FF_EP_CONTROL));
    else
        rc = s_run (&self);
cleanup:
    ff_delivery_destroy (&self.delivery);
    if (self.emit_monitor)
        zmq_socket_monitor (zsock_resolve (self.emit), NULL, 0);
    zsock_destroy (&self.emit_monitor);
    if (self.emit && strncmp (self.options.emit, "ipc://", 6) == 0
    &&  self.options.emit [6] != '@')
        unlink (self.options.emit + 6);     /* the ipc file this sink bound */
    zsock_destroy (&self.emit);
    ff_codec_destroy (&self.emit_codec);
    free (self.job);
    zsock_destroy (&self.results);
    zsock_destroy (&self.control);
    ff_security_destroy (&self.security);
    ff_codec_destroy (&self.codec);
    ff_topology_destroy (&self.topology);
    return rc;
}
