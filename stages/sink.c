/*  fanfold-sink: pulls results from every worker, drops duplicates, holds
    out-of-order results in a bounded reorder buffer and writes them in seq
    order; acks what it received and how far it has written to the
    ventilator. Organised as: options, job state, results, control, loop. */

#include "fanfold/runtime/codec.h"
#include "fanfold/kernels/fold.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/job/output.h"
#include "fanfold/job/reorder.h"
#include "fanfold/runtime/security.h"
#include "fanfold/job/state.h"
#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

#define S_CHECKPOINT_EVERY_MS 500

/* One result held until its turn: header, then input, then body bytes. */
typedef struct {
    uint64_t seq;                   /* sequence number */
    uint32_t kernel;                /* kernel index */
    uint32_t status;                /* FF_STATUS_* */
    uint32_t kind;                  /* FF_KIND_* */
    size_t input_len;               /* bytes of input name */
    size_t size;                    /* bytes of body */
    size_t meta_len;                /* bytes of meta */
    uint64_t worker;                /* who ran it (0: the ventilator gave up) */
    uint32_t attempts;              /* runs in all, on every worker */
    uint64_t start_ms;              /* when it started (Unix ms) */
    uint64_t runtime_us;            /* time in the kernel */
    uint64_t bytes_in;              /* payload bytes */
    uint32_t chunk;                 /* chunk of its input */
    uint32_t chunks;                /* chunks of its input */
    char bytes [];                  /* input name, body, then meta */
} s_held_t;

typedef struct {
    s_options_t options;            /* command line */
    ff_topology_t *topology;        /* endpoints and tuning */
    zsock_t *results;               /* PULL, bound */
    zsock_t *control;               /* DEALER to the ventilator */
    ff_codec_t *codec;              /* encoder */
    ff_output_t *output;            /* formatted writer */
    int output_fd;                  /* its descriptor */
    ff_reorder_t *reorder;          /* out-of-order results */
    char *job;                      /* job id, once known */
    size_t nkernels;                /* kernels of the job */
    char *kernels [FF_MAX_KERNELS]; /* their names */
    const ff_kernel_t *kernel_objs [FF_MAX_KERNELS]; /* for folding, or NULL */
    ff_folder_t *folder;            /* folds chunked inputs */
    ff_security_t *security;        /* CURVE keys and the ZAP handler */
    int64_t total;                  /* task count, -1 until known */
    uint64_t *acks;                 /* seqs received since the last ack */
    size_t nacks;                   /* how many */
    int64_t last_ack;               /* when the last ack went out */
    uint64_t live_workers;          /* as the ventilator's heartbeat says */
    int64_t started_us;             /* when the job header arrived */
    int64_t last_progress;          /* when the progress line was drawn */
    uint64_t retried;               /* results that took more than one attempt */
    struct {
        uint64_t worker;            /* worker id */
        uint64_t tasks;             /* its results written */
        uint64_t busy_us;           /* time in its kernels */
    } per_worker [64];              /* -v summary, first 64 workers */
    size_t nper_worker;             /* how many */
    uint64_t duplicates;            /* results dropped as duplicates */
    uint64_t rejected;              /* messages or items refused */
    int write_failed;               /* the output could not be written */
    FILE *joblog;                   /* --joblog file, or NULL */
    zsock_t *emit;                  /* PUSH of results in seq order, or NULL */
    zsock_t *emit_monitor;          /* PAIR: connect/disconnect events of emit */
    int emit_peers;                 /* consumers connected to emit */
    ff_codec_t *emit_codec;         /* its encoder */
    char state_path [4096];         /* OUTPUT.fanfold-state, or "" */
    uint64_t first;                 /* first seq to write (after a resume) */
    uint64_t base_bytes;            /* output bytes kept from an earlier run */
    uint64_t checkpointed;          /* written count of the last checkpoint */
    int64_t last_checkpoint;        /* when it was made */
    uint64_t resumed_errors;        /* error records an earlier run wrote */
} s_sink_t;

/* Makes the output and the joblog durable, then records how far they go in
   the state file. Skipped when nothing new was written, or (unless force)
   when the last checkpoint is recent. */
static void
s_checkpoint (s_sink_t *self, int force)
{
    if (!*self->state_path || !self->reorder)
        return;
    uint64_t written = ff_reorder_next (self->reorder);
    int64_t now = ff_clock_ms ();
    if (written == self->checkpointed
    ||  (!force && now - self->last_checkpoint < S_CHECKPOINT_EVERY_MS))
        return;
    if (ff_output_flush (self->output) || fdatasync (self->output_fd) != 0) {
        if (!self->write_failed)
            ff_log_error ("cannot write %s: %s", self->options.output_path, strerror (errno));
        self->write_failed = 1;
        return;
    }
    if (self->joblog) {
        fflush (self->joblog);
        fdatasync (fileno (self->joblog));
    }
    ff_state_t state;
    memset (&state, 0, sizeof (state));
    snprintf (state.signature, sizeof (state.signature), "%s",
              self->options.signature? self->options.signature: "-");
    state.written = written;
    state.bytes = self->base_bytes + ff_output_offset (self->output);
    state.errors = ff_output_errors (self->output);
    if (ff_state_save (self->state_path, &state) != 0)
        ff_log_error ("cannot save %s: %s", self->state_path, strerror (errno));
    self->checkpointed = written;
    self->last_checkpoint = now;
}

/* Counts one written result for the -v summary. */
static void
s_account (s_sink_t *self, const s_held_t *held)
{
    size_t index;
    if (held->attempts > 1)
        self->retried++;
    for (index = 0; index < self->nper_worker; index++)
        if (self->per_worker [index].worker == held->worker)
            break;
    if (index == self->nper_worker) {
        if (index == 64)
            return;
        self->per_worker [index].worker = held->worker;
        self->nper_worker++;
    }
    self->per_worker [index].tasks++;
    self->per_worker [index].busy_us += held->runtime_us;
}

/* Draws the progress line on stderr: done/total, rate, ETA, workers. */
static void
s_progress (s_sink_t *self, int final)
{
    int64_t now = ff_clock_ms ();
    if (!self->options.progress || !self->reorder
    ||  (!final && now - self->last_progress < 200))
        return;
    self->last_progress = now;
    uint64_t done = ff_reorder_next (self->reorder) - self->first;
    double seconds = (double) (ff_clock_us () - self->started_us) / 1e6;
    double rate = seconds > 0? (double) done / seconds: 0;
    char total [32] = "?", eta [32] = "";
    if (self->total >= 0) {
        snprintf (total, sizeof (total), "%" PRIu64, (uint64_t) self->total - self->first);
        if (rate > 0 && !final)
            snprintf (eta, sizeof (eta), "  ETA %.1f s",
                      (double) ((uint64_t) self->total - self->first - done) / rate);
    }
    fprintf (stderr, "\r\033[Kfanfold: %" PRIu64 "/%s tasks  %.0f/s%s  %" PRIu64 " workers%s",
             done, total, rate, eta, self->live_workers, final? "\n": "");
    fflush (stderr);
}

/* Writes the joblog line of one result; input is its input name. */
static void
s_joblog (s_sink_t *self, const s_held_t *held, const char *input)
{
    size_t index;
    if (!self->joblog)
        return;
    fprintf (self->joblog, "%" PRIu64 "\t%" PRIu64 "\t%.3f\t%.3f\t%u\t%" PRIu64 "\t%zu\t%s\t",
             held->seq, held->worker, (double) held->start_ms / 1000.0,
             (double) held->runtime_us / 1e6, held->attempts, held->bytes_in,
             held->status == FF_STATUS_OK? held->size: 0,
             held->status == FF_STATUS_OK? "ok": "error");
    for (index = 0; index < held->input_len; index++) {
        char c = input [index];
        if (c == '\t')
            fputs ("\\t", self->joblog);
        else
        if (c == '\n')
            fputs ("\\n", self->joblog);
        else
        if (c == '\\')
            fputs ("\\\\", self->joblog);
        else
            fputc (c, self->joblog);
    }
    fputc ('\n', self->joblog);
}

static int
s_on_job (s_sink_t *self, const ff_msg_t *msg)
{
    size_t index;
    if (self->job) {
        if (!ff_str_eq (msg->job, self->job)) {
            ff_log_reject (&self->rejected, "job message for another job");
            return 0;
        }
        if (msg->total >= 0 && self->total < 0) {
            self->total = msg->total;
            ff_log_info ("job has %" PRId64 " tasks", self->total);
        }
        return 0;
    }
    self->job = ff_str_dup (msg->job);
    self->reorder = ff_reorder_new (msg->window, self->first, free);
    self->checkpointed = self->first;
    self->acks = (uint64_t *) calloc (FF_MAX_ACK_SEQS, sizeof (uint64_t));
    if (!self->job || !self->reorder || !self->acks)
        return -1;
    for (index = 0; index < msg->nkernels; index++) {
        self->kernels [index] = ff_str_dup (msg->kernels [index]);
        if (!self->kernels [index])
            return -1;
        self->kernel_objs [index] = ff_kernels_find (self->kernels [index]);
        self->nkernels = index + 1;
    }
    self->total = msg->total;
    self->last_ack = 0;             /* ack at once: the ventilator waits for it */
    self->started_us = ff_clock_us ();
    ff_log_info ("serving job %s", self->job);
    return 0;
}

static void
s_send_ack (s_sink_t *self)
{
    size_t index;
    if (!self->job)
        return;
    ff_codec_ack_begin (self->codec, self->job, ff_reorder_next (self->reorder),
                        self->nacks);
    for (index = 0; index < self->nacks; index++)
        ff_codec_ack_seq (self->codec, self->acks [index]);
    if (ff_net_send (self->control, NULL, 0, ff_codec_data (self->codec),
                     ff_codec_size (self->codec), 1000) == 0)
        self->nacks = 0;
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
   holds the job back, as a slow disk would), but never past a stop. */
static void
s_emit_send (s_sink_t *self)
{
    while (ff_net_send (self->emit, NULL, 0, ff_codec_data (self->emit_codec),
                        ff_codec_size (self->emit_codec), 1000) != 0)
        if (ff_stop_signal || zsys_interrupted)
            return;
}

static void
s_emit (s_sink_t *self, const ff_record_t *record)
{
    ff_codec_emit (self->emit_codec, record->seq, record->input, record->input_len,
                   record->kernel, record->status, record->body, record->size,
                   record->meta, record->meta_len);
    s_emit_send (self);
}

/* Writes one result whose turn has come (its header, and its input, body
   and meta bytes): joblog, accounts, fold, emit and output. */
static void
s_deliver (s_sink_t *self, const s_held_t *held, const char *input, const char *body,
           const char *meta)
{
    ff_record_t record = {
        .seq = held->seq, .input = input, .input_len = held->input_len,
        .kernel = self->kernels [held->kernel], .status = held->status,
        .kind = held->kind, .body = body, .size = held->size, .meta = meta,
        .meta_len = held->meta_len
    };
    s_joblog (self, held, input);
    s_account (self, held);
    ff_record_t folded;
    if (!ff_folder_take (self->folder, self->kernel_objs [held->kernel], held->kernel,
                         &record, held->chunk, held->chunks, &folded))
        return;                     /* absorbed into a fold */
    if (self->emit)
        s_emit (self, &folded);
    if (ff_output_write (self->output, &folded) && !self->write_failed) {
        ff_log_error ("cannot write %s: %s",
                      self->options.output_path? self->options.output_path: "stdout",
                      strerror (errno));
        self->write_failed = 1;
    }
}

/* Writes every held result whose turn has come. */
static void
s_release (s_sink_t *self)
{
    s_held_t *held;
    if (!self->reorder)
        return;                     /* results (or junk) came before the job */
    while ((held = (s_held_t *) ff_reorder_pop (self->reorder))) {
        s_deliver (self, held, held->bytes, held->bytes + held->input_len,
                   held->bytes + held->input_len + held->size);
        free (held);
    }
}

/* Lists seq in the next ack, sending the ack first when it is full. */
static void
s_ack (s_sink_t *self, uint64_t seq)
{
    if (self->nacks == FF_MAX_ACK_SEQS)
        s_send_ack (self);
    if (self->nacks < FF_MAX_ACK_SEQS)
        self->acks [self->nacks++] = seq;
}

static void
s_take_item (s_sink_t *self, uint64_t worker, const ff_item_t *item)
{
    if (item->kernel >= self->nkernels
    ||  (self->total >= 0 && item->seq >= (uint64_t) self->total)) {
        ff_log_reject (&self->rejected, "result with seq %" PRIu64 " or kernel %u outside the job",
                       item->seq, item->kernel);
        return;
    }
    s_held_t header = {
        .seq = item->seq, .kernel = item->kernel, .status = item->status,
        .kind = item->kind, .input_len = item->input.len, .size = item->data.len,
        .meta_len = item->meta.len, .worker = worker,
        /* a worker's result: earlier dispatches plus its own runs; the
           ventilator's error record (no runs): the dispatches it counted */
        .attempts = item->tries? (item->attempt? item->attempt - 1: 0) + item->tries
                               : item->attempt,
        .start_ms = item->start_ms, .runtime_us = item->runtime_us,
        .bytes_in = item->bytes_in, .chunk = item->chunk, .chunks = item->chunks
    };
    if (self->reorder && ff_reorder_claim (self->reorder, item->seq)) {
        /* its turn has come: written from the message, never copied */
        s_deliver (self, &header, item->input.ptr, item->data.ptr, item->meta.ptr);
        s_ack (self, item->seq);
        return;
    }
    s_held_t *held = (s_held_t *) malloc (sizeof (s_held_t) + item->input.len
                                          + item->data.len + item->meta.len);
    if (!held) {
        ff_log_error ("out of memory holding result %" PRIu64, item->seq);
        return;
    }
    *held = header;
    memcpy (held->bytes, item->input.ptr, item->input.len);
    memcpy (held->bytes + item->input.len, item->data.ptr, item->data.len);
    memcpy (held->bytes + item->input.len + item->data.len, item->meta.ptr, item->meta.len);
    ff_reorder_rc_t rc = ff_reorder_put (self->reorder, item->seq, held);
    if (rc != FF_REORDER_STORED) {
        if (rc == FF_REORDER_DUPLICATE)
            self->duplicates++;
        else
            ff_log_reject (&self->rejected, "result %" PRIu64 " outside the reorder window",
                           item->seq);
        free (held);
        return;
    }
    s_ack (self, item->seq);
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
        ||  msg.worker == 0)
            ff_log_reject (&self->rejected, "malformed or foreign result message");
        else
            while (ff_msg_next_item (&msg, &item))
                s_take_item (self, msg.worker, &item);
        zmq_msg_close (&body);
    }
    s_release (self);
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
                    s_take_item (self, 0, &item);
                s_release (self);
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
    double seconds = (double) (ff_clock_us () - self->started_us) / 1e6;
    uint64_t written = (uint64_t) self->total - self->first;
    ff_log_info ("%" PRIu64 " tasks in %.3f s (%.0f/s): %" PRIu64 " errors, %" PRIu64
                 " took more than one attempt, %" PRIu64 " duplicates dropped, %" PRIu64
                 " messages refused", written, seconds, seconds > 0? written / seconds: 0,
                 ff_output_errors (self->output), self->retried, self->duplicates,
                 self->rejected);
    for (index = 0; index < self->nper_worker; index++)
        if (self->per_worker [index].worker)
            ff_log_info ("  worker %" PRIu64 ": %" PRIu64 " tasks, busy %.0f%%",
                         self->per_worker [index].worker, self->per_worker [index].tasks,
                         seconds > 0? 100.0 * (double) self->per_worker [index].busy_us
                                      / 1e6 / seconds: 0);
}

static int
s_done (s_sink_t *self)
{
    return self->job && self->total >= 0
        && ff_reorder_next (self->reorder) == (uint64_t) self->total;
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
    while (!ff_stop_signal && !zsys_interrupted && !s_done (self)) {
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
        int rc = zmq_poll (items, 2, self->nacks? 0: settings->heartbeat_ms);
        if (rc < 0 && errno != EINTR) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return 2;
        }
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN) && s_on_control (self)) {
            ff_log_error ("out of memory");
            return 2;
        }
        if (rc > 0 && (items [1].revents & ZMQ_POLLIN))
            s_on_results (self);
        int64_t since_ack = ff_clock_ms () - self->last_ack;
        if (self->job && ((self->nacks && (self->nacks >= S_ACK_BATCH || rc == 0
                                           || since_ack >= S_ACK_EVERY_MS))
                          || since_ack >= settings->heartbeat_ms)) {
            if (!self->nacks || rc == 0)
                ff_output_flush (self->output);
            s_send_ack (self);
        }
        s_checkpoint (self, 0);
        s_progress (self, 0);
    }
    s_checkpoint (self, 1);
    s_progress (self, 1);
    if (ff_output_flush (self->output) && !self->write_failed) {
        ff_log_error ("cannot write output: %s", strerror (errno));
        self->write_failed = 1;
    }
    if (!s_done (self))
        return 130;
    s_send_ack (self);
    s_await_end (self, settings->linger_ms);
    if (self->emit) {
        ff_codec_eos (self->emit_codec, (uint64_t) self->total);
        s_emit_send (self);
        s_await_emit_consumers (self, S_EMIT_DRAIN_MS);
    }
    s_summary (self);
    if (self->write_failed)
        return 2;
    return ff_output_errors (self->output)? 1: 0;
}

/* Opens -o FILE and the joblog. With --resume, keeps what the state file
   says is complete (cutting off anything after it) and starts after it. */
static int
s_open_output (s_sink_t *self)
{
    const char *path = self->options.output_path;
    int flags = O_WRONLY | O_CREAT | O_CLOEXEC;
    ff_state_t state;
    if (ff_state_path (path, self->state_path, sizeof (self->state_path))) {
        ff_log_error ("%s: path too long", path);
        return -1;
    }
    memset (&state, 0, sizeof (state));
    if (self->options.resume) {
        if (ff_state_load (self->state_path, &state) != 0) {
            if (errno != ENOENT) {
                ff_log_error ("%s: not a fanfold state file; cannot resume", self->state_path);
                return -1;
            }
            ff_log_info ("no %s: starting from the beginning", self->state_path);
            memset (&state, 0, sizeof (state));
        }
        else
        if (strcmp (state.signature, self->options.signature? self->options.signature: "-") != 0) {
            ff_log_error ("%s belongs to a different job (other options or inputs); "
                          "run without --resume to start again", self->state_path);
            return -1;
        }
    }
    if (!self->options.resume || state.written == 0)
        flags |= O_TRUNC;
    self->output_fd = open (path, flags, 0644);
    if (self->output_fd < 0) {
        ff_log_error ("%s: cannot open for writing: %s", path, strerror (errno));
        return -1;
    }
    if (state.written > 0) {
        struct stat info;
        if (fstat (self->output_fd, &info) != 0 || (uint64_t) info.st_size < state.bytes) {
            ff_log_error ("%s is shorter than %s says (%" PRIu64 " bytes); cannot resume",
                          path, self->state_path, state.bytes);
            return -1;
        }
        if (ftruncate (self->output_fd, (off_t) state.bytes) != 0
        ||  lseek (self->output_fd, 0, SEEK_END) < 0) {
            ff_log_error ("%s: cannot cut back to %" PRIu64 " bytes: %s", path, state.bytes,
                          strerror (errno));
            return -1;
        }
        self->first = state.written;
        self->base_bytes = state.bytes;
        self->resumed_errors = state.errors;
        ff_log_info ("resuming: %" PRIu64 " results (%" PRIu64 " bytes) already in %s",
                     state.written, state.bytes, path);
    }
    return 0;
}

/* Opens the joblog: appended to when resuming, else started with a header. */
static int
s_open_joblog (s_sink_t *self)
{
    int resumed = self->first > 0;
    self->joblog = fopen (self->options.joblog_path, resumed? "ae": "we");
    if (!self->joblog) {
        ff_log_error ("%s: cannot open for writing: %s", self->options.joblog_path,
                      strerror (errno));
        return -1;
    }
    if (!resumed)
        fputs ("seq\tworker\tstart\truntime\tattempts\tbytes_in\tbytes_out\tstatus\tinput\n",
               self->joblog);
    return 0;
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
    size_t index;

    memset (&self, 0, sizeof (self));
    self.total = -1;
    self.output_fd = STDOUT_FILENO;
    while ((opt = getopt_long (argc, argv, "t:o:vh", longs, NULL)) != -1) {
        switch (opt) {
            case 't': self.options.topology_path = optarg; break;
            case 'o': self.options.output_path = optarg; break;
            case 'f':
                if (ff_format_parse (optarg, &self.options.format)) {
                    fprintf (stderr, "fanfold-sink: --format %s: expected raw or jsonl\n", optarg);
                    return 2;
                }
                break;
            case 'J': self.options.joblog_path = optarg; break;
            case 'E': self.options.emit = optarg; break;
            case 'N': self.options.insecure = 1; break;
            case 'P': self.options.progress = 1; break;
            case 'G': {
                /* a plugin kernel that folds must fold here too */
                char error [512];
                if (ff_kernels_load (optarg, error, sizeof (error))) {
                    fprintf (stderr, "fanfold-sink: %s\n", error);
                    return 2;
                }
                break;
            }
            case 'R': self.options.resume = 1; break;
            case 'S': self.options.signature = optarg; break;
            case 'v': self.options.verbose = 1; break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return 2;
        }
    }
    if (!self.options.topology_path || optind != argc) {
        s_usage (stderr);
        return 2;
    }
    if (self.options.resume && !self.options.output_path) {
        fprintf (stderr, "fanfold-sink: --resume needs -o FILE\n");
        return 2;
    }
    if (self.options.signature && (strlen (self.options.signature) >= 80
                                   || strpbrk (self.options.signature, " \t\n"))) {
        fprintf (stderr, "fanfold-sink: --signature must be one word under 80 bytes\n");
        return 2;
    }
    ff_log_init ("fanfold-sink", self.options.verbose);
    ff_signals_install ();
    self.topology = ff_topology_load (self.options.topology_path, error, sizeof (error));
    if (!self.topology) {
        ff_log_error ("%s", error);
        return 2;
    }
    if ((self.options.output_path && s_open_output (&self))
    ||  (self.options.joblog_path && s_open_joblog (&self))) {
        if (self.output_fd != STDOUT_FILENO)
            close (self.output_fd);
        ff_topology_destroy (&self.topology);
        return 2;
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
        if (!self.options.output_path)
            self.output_fd = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    }
    self.codec = ff_codec_new ();
    self.output = ff_output_new (self.output_fd, self.options.format);
    self.folder = ff_folder_new ();
    if (self.output)
        ff_output_set_errors (self.output, self.resumed_errors);
    self.results = ff_net_socket (ZMQ_PULL, settings->hwm, 0, S_MAX_RESULT_MESSAGE);
    self.control = ff_net_socket (ZMQ_DEALER, settings->hwm, settings->linger_ms, S_MAX_CONTROL_MESSAGE);
    if (!self.codec || !self.output || !self.results || !self.control)
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
    ff_output_destroy (&self.output);
    if (self.output_fd != STDOUT_FILENO)
        close (self.output_fd);
    if (self.joblog)
        fclose (self.joblog);
    if (self.emit_monitor)
        zmq_socket_monitor (zsock_resolve (self.emit), NULL, 0);
    zsock_destroy (&self.emit_monitor);
    zsock_destroy (&self.emit);
    ff_codec_destroy (&self.emit_codec);
    ff_reorder_destroy (&self.reorder);
    ff_folder_destroy (&self.folder);
    for (index = 0; index < self.nkernels; index++)
        free (self.kernels [index]);
    free (self.job);
    free (self.acks);
    zsock_destroy (&self.results);
    zsock_destroy (&self.control);
    ff_security_destroy (&self.security);
    ff_codec_destroy (&self.codec);
    ff_topology_destroy (&self.topology);
    return rc;
}
