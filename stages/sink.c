/*  fanfold-sink: a poll loop that pulls results from every worker and hands
    their items to ff_delivery (which drops duplicates, holds early results
    and writes them in seq order), acks what it took and how far it has
    written, draws progress and serves --emit. Organised as: options, job,
    acks, results, control, loop, main; the --emit stream is ff_emitter. */

#include "fanfold/job/delivery.h"
#include "fanfold/job/output.h"
#include "fanfold/job/producer.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/launch/stages.h"
#include "fanfold/runtime/fdlimit.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/emitter.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/options.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/stdfds.h"
#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_HELLO_EVERY_MS 500
#define S_DRAIN_PER_ROUND 256

/* While results keep coming, acks wait for this many seqs or this many
   milliseconds (credit must come back before a slow task's successor is
   due); once none is waiting, whatever is listed goes at once. */
#define S_ACK_BATCH 256
#define S_ACK_EVERY_MS 1

/* The acks of tasks that run long are held a share of their time, at
   most S_ACK_HOLD_MAX_MS (and only from S_ACK_EVERY_MS on), when results
   come closer together than that: the ventilator wakes once for several,
   and a worker's next task still comes well before its queued one ends.
   While acks are held the sink does not wake for each result: one
   wake-up at the hold's end takes every result that came meanwhile. */
#define S_ACK_HOLD_TASK_SHARE 4
#define S_ACK_HOLD_MAX_MS 4

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
    int resume_failed;              /* --resume-failed */
    ff_halt_t halt;                 /* --halt */
    const char *tag;                /* --tag ("{}") or --tagstring, or NULL */
    const char *results_dir;        /* --results DIR, or NULL */
    int pipe;                       /* --pipe: the joblog's Send counts the blocks */
    const char *sources;            /* --sources FILE: the argument words, or NULL */
    ff_sources_t config;            /* how they are read: --null, --link, --colsep */
    int insecure;                   /* --insecure: tcp without CURVE keys */
    int progress;                   /* --progress, or --eta / --bar on a terminal */
    int bar;                        /* --bar: the progress line is a bar */
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
    ff_emitter_t *emitter;          /* --emit: results in seq order, or NULL */
    char *words_buf;                /* --sources: the file's bytes */
    char **words;                   /* the words in it */
    ff_producer_t *producer;        /* --results: the units again, for their fields */
    uint64_t units;                 /* units it produced */
    uint64_t nkernels;              /* kernels of the job: seqs per unit */
    int refused;                    /* the job cannot end (fewer tasks than resumed) */
    ff_item_t *items;               /* room for one result message's items */
    ff_net_wait_t wait;             /* control and results, polled once per wake-up */
    int64_t task_us;                /* mean time in the kernel of recent results */
    int64_t gap_us;                 /* mean time between recent result messages */
    int64_t last_results_us;        /* the last wake-up for results */
    int64_t listed_since_us;        /* when the first seq since the last ack was listed, or 0 */
} s_sink_t;

/* The items of s_sink_t's wait. Each is marked drained once read until
   EAGAIN; control is marked not drained again by each send on it (an ack:
   the send may take the signal of a message that came), so that it is
   asked ZMQ_EVENTS before the next wait only after a send. */
#define S_CONTROL 0
#define S_RESULTS 1

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
    if (self->options.bar && counts->total > 0) {
        /* --bar: parallel's shape, a percent and a bar that fills */
        uint64_t all = (uint64_t) counts->total - counts->first;
        int percent = all? (int) (100 * done / all): 100, filled = percent / 5;
        fprintf (stderr, "\r\033[K%3d%% %" PRIu64 ":%" PRIu64 "=%s [%.*s%*s]%s", percent,
                 done, all - done, *eta? eta + 2: "", filled, "####################",
                 20 - filled, "", final? "\n": "");
    }
    else
    fprintf (stderr, "\r\033[Kfanfold: %" PRIu64 "/%s tasks  %.0f/s%s  %" PRIu64 " workers%s",
             done, total, rate, eta, self->live_workers, final? "\n": "");
    fflush (stderr);
}

/* A resumed output holds more results than the job has tasks (its input
   shrank, or the state file is another's): the job could never end. */
static int
s_fewer_tasks (s_sink_t *self, int64_t total)
{
    ff_log_error ("--resume: the job has %" PRId64 " tasks, fewer than the %" PRIu64
                  " that %s says were written; run without --resume to start again",
                  total, ff_delivery_written (self->delivery),
                  ff_delivery_state_path (self->delivery));
    self->refused = 1;
    return 0;
}

static int
s_on_job (s_sink_t *self, const ff_msg_t *msg)
{
    if (self->job) {
        if (!ff_str_eq (msg->job, self->job))
            ff_log_reject (&self->rejected, "job message for another job");
        else {
            int set = ff_delivery_set_total (self->delivery, msg->total);
            if (set > 0)
                ff_log_info ("job has %" PRId64 " tasks", msg->total);
            if (set < 0)
                return s_fewer_tasks (self, msg->total);
        }
        return 0;
    }
    if (!(self->job = ff_str_dup (msg->job)))
        return -1;
    if (ff_delivery_begin (self->delivery, msg->kernels, msg->nkernels, msg->window,
                           msg->total)) {
        free (self->job);
        self->job = NULL;
        if (errno == ERANGE)
            return s_fewer_tasks (self, msg->total);
        if (errno != EINVAL)
            return -1;
        ff_log_reject (&self->rejected, "job message without kernels or with too many");
        return 0;
    }
    self->nkernels = msg->nkernels;
    uint64_t seq, hash;
    if (ff_delivery_resumed_mark (self->delivery, &seq, &hash)) {
        /* before the first ack: the ventilator checks the records it reads
           again against the earlier run's before it makes a new task */
        ff_codec_mark (self->codec, self->job, seq, hash);
        ff_net_send (self->control, NULL, 0, ff_codec_data (self->codec),
                     ff_codec_size (self->codec), 1000);
        self->wait.drained [S_CONTROL] = 0;
    }
    self->last_ack = 0;             /* ack at once: the ventilator waits for it */
    self->started_us = ff_clock_us ();
    ff_log_info ("serving job %s", self->job);
    return 0;
}

/* --results: reads the argument words the launcher wrote (NUL after
   each) and makes a producer of the job's units from them, to give the
   fields of each task (the results name a directory per field). Returns
   0, or -1 having said why. */
static int
s_sources_open (s_sink_t *self)
{
    char error [FF_PRODUCER_ERROR_MAX];
    size_t size = 0, cap = 0, count = 0, index, start = 0, got;
    FILE *file = fopen (self->options.sources, "r");
    if (!file) {
        ff_log_error ("%s: cannot read: %s", self->options.sources, strerror (errno));
        return -1;
    }
    do {
        if (cap - size < 65536) {
            char *grown = (char *) realloc (self->words_buf, cap = 2 * cap + 65536);
            if (!grown) {
                fclose (file);
                ff_log_error ("out of memory");
                return -1;
            }
            self->words_buf = grown;
        }
        size += got = fread (self->words_buf + size, 1, cap - size, file);
    } while (got > 0);
    fclose (file);
    for (index = 0; index < size; index++)
        count += self->words_buf [index] == 0;
    self->words = (char **) calloc (count + 1, sizeof (char *));
    if (!self->words) {
        ff_log_error ("out of memory");
        return -1;
    }
    for (count = 0, index = 0; index < size; index++)
        if (self->words_buf [index] == 0) {
            self->words [count++] = self->words_buf + start;
            start = index + 1;
        }
    self->producer = ff_producer_new_sources (self->words, count, &self->options.config,
                                              error, sizeof (error));
    if (!self->producer)
        ff_log_error ("%s", error);
    return self->producer? 0: -1;
}

/* The delivery's fields callback: the fields of task seq, from the
   producer of the same words (results come in seq order). */
static int
s_fields (void *arg, uint64_t seq, const char **data, size_t *size)
{
    s_sink_t *self = (s_sink_t *) arg;
    uint64_t unit_index = seq / (self->nkernels? self->nkernels: 1);
    ff_unit_t unit;
    if (!self->producer || unit_index < self->units)
        return -1;
    while (self->units <= unit_index) {
        if (ff_producer_next (self->producer, &unit) != FF_PRODUCE_UNIT
        ||  unit.kind != FF_UNIT_INLINE)
            return -1;
        self->units++;
    }
    *data = (const char *) unit.data;
    *size = unit.size;
    return 0;
}

/* Sends the written mark and the seqs taken since the last ack that it
   does not cover: the ventilator acks every seq below the mark, so a
   result written at once (the usual case) costs no seq in the ack. */
static void
s_send_ack (s_sink_t *self)
{
    size_t index, count, listed = 0;
    if (!self->job)
        return;
    const uint64_t *seqs = ff_delivery_acks (self->delivery, &count);
    uint64_t written = ff_delivery_written (self->delivery);
    for (index = 0; index < count; index++)
        listed += seqs [index] >= written;
    ff_codec_ack_begin (self->codec, self->job, written, listed);
    for (index = 0; index < count; index++)
        if (seqs [index] >= written)
            ff_codec_ack_seq (self->codec, seqs [index]);
    self->wait.drained [S_CONTROL] = 0;
    if (ff_net_send (self->control, NULL, 0, ff_codec_data (self->codec),
                     ff_codec_size (self->codec), 1000) == 0) {
        ff_delivery_acks_clear (self->delivery);
        self->listed_since_us = 0;
    }
    self->last_ack = ff_clock_ms ();
}

/* The delivery's emit callback: one written record on the emit socket. */
static int
s_emit (void *arg, const ff_record_t *record)
{
    s_sink_t *self = (s_sink_t *) arg;
    return ff_emitter_send (self->emitter, record);
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
    self->task_us += ((int64_t) item->runtime_us - self->task_us) / 8;
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
    size_t index;
    int64_t now_us = ff_clock_us (), since_us = now_us - self->last_results_us;
    int messages = 0;
    self->wait.drained [S_RESULTS] = 0;     /* unless the loop ends on EAGAIN */
    for (round = 0; round < S_DRAIN_PER_ROUND; round++) {
        zmq_msg_t body;
        ff_msg_t msg;
        if ((rc = ff_net_recv (self->results, NULL, &body)) < 0) {
            ff_net_wait_read (&self->wait, S_RESULTS, rc);
            break;
        }
        if (rc == 1) {
            ff_log_reject (&self->rejected, "multipart message on results");
            continue;
        }
        if (ff_msg_decode_items (zmq_msg_data (&body), zmq_msg_size (&body), &msg, self->items)
        ||  msg.type != FF_MSG_RESULT || !self->job || !ff_str_eq (msg.job, self->job)
        ||  msg.worker == FF_DELIVERY_VENTILATOR)
            ff_log_reject (&self->rejected, "malformed or foreign result message");
        else
            /* the decode read every item into self->items: taken from
               there, not copied out again */
            for (index = 0; index < msg.count; index++)
                s_take_item (self, msg.worker, &self->items [index]);
        zmq_msg_close (&body);
        messages++;
    }
    /* the mean time between result messages (a wake-up after a hold takes
       several) */
    if (messages > 0) {
        if (self->last_results_us)
            self->gap_us += (since_us / messages - self->gap_us) / 8;
        self->last_results_us = now_us;
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
            if (msg.type == FF_MSG_MARK && self->job && ff_str_eq (msg.job, self->job))
                ff_delivery_mark (self->delivery, msg.written, msg.hash);
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
    ff_net_wait_read (&self->wait, S_CONTROL, rc);
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

/* How long the acks listed may wait for more results: 0 (they go now),
   or the milliseconds left of the hold (a share of the task time, see
   S_ACK_HOLD_TASK_SHARE) since the first was listed, when tasks run long
   and their results come close together. */
static int
s_ack_hold_ms (s_sink_t *self, int64_t now_us)
{
    int64_t hold_us = self->task_us / S_ACK_HOLD_TASK_SHARE;
    if (hold_us > S_ACK_HOLD_MAX_MS * 1000)
        hold_us = S_ACK_HOLD_MAX_MS * 1000;
    int64_t left = self->listed_since_us + hold_us - now_us;
    if (hold_us < S_ACK_EVERY_MS * 1000 || self->gap_us >= hold_us
    ||  !self->listed_since_us || left <= 0)
        return 0;
    return (int) ((left + 999) / 1000);
}

static int
s_run (s_sink_t *self)
{
    const ff_settings_t *settings = ff_topology_settings (self->topology);
    int64_t last_hello = 0;
    size_t nacks = 0;
    int hold_ms = 0;
    while (!ff_stop_signal && !zsys_interrupted && !s_done (self) && !s_output_failed (self)
           && !ff_delivery_halted (self->delivery) && !self->refused) {
        int64_t now = ff_clock_ms ();
        if (!self->job && now - last_hello >= S_HELLO_EVERY_MS) {
            ff_codec_hello (self->codec, "sink", "sink", 0);
            ff_net_send (self->control, NULL, 0, ff_codec_data (self->codec),
                         ff_codec_size (self->codec), 0);
            self->wait.drained [S_CONTROL] = 0;
            last_hello = now;
        }
        /* with acks waiting the loop must not sleep: it only asks whether
           more results came before it sends them */
        int ready [2];
        self->wait.count = hold_ms? S_RESULTS: S_RESULTS + 1;   /* held: control only */
        int rc = ff_net_wait (&self->wait, ready, hold_ms? hold_ms
                                                : nacks? 0: settings->heartbeat_ms);
        self->wait.count = S_RESULTS + 1;
        if (hold_ms && rc >= 0)
            ready [S_RESULTS] = 1;  /* what came while the acks were held */
        if (rc < 0) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return FF_EXIT_ERROR;
        }
        if (ready [S_CONTROL] && s_on_control (self)) {
            ff_log_error ("out of memory");
            return FF_EXIT_ERROR;
        }
        if (ready [S_RESULTS])
            s_on_results (self);
        ff_delivery_acks (self->delivery, &nacks);
        int64_t now_us = ff_clock_us ();
        if (nacks && !self->listed_since_us)
            self->listed_since_us = now_us;
        hold_ms = nacks && nacks < S_ACK_BATCH && rc == 0? s_ack_hold_ms (self, now_us): 0;
        int64_t since_ack = ff_clock_ms () - self->last_ack;
        if (self->job && ((nacks && !hold_ms && (nacks >= S_ACK_BATCH || rc == 0
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
    if (self->refused) {
        zsock_set_linger (self->control, 0);
        return FF_EXIT_ERROR;
    }
    if (s_output_failed (self)) {
        /* stop at once: the launcher ends the other stages */
        s_write_failed (self);
        zsock_set_linger (self->control, 0);
        return ff_delivery_exit_status (self->delivery);
    }
    if (ff_delivery_halted (self->delivery)) {
        /* --halt: what is written stays; the launcher ends the other
           stages (and, for now, the commands running) */
        s_checkpoint (self, 1);
        s_progress (self, 1);
        if (ff_delivery_flush (self->delivery))
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
    if (self->emitter) {
        ff_emitter_finish (self->emitter, ff_delivery_written (self->delivery));
    }
    s_summary (self);
    int rc = ff_delivery_exit_status (self->delivery);
    return ff_emitter_gave_up (self->emitter) && rc != FF_EXIT_PIPE_CLOSED? FF_EXIT_ERROR: rc;
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
    ff_options_usage (FF_CMD_SINK, stream);
}

/* Reads the command line through the option table into options, and
   loads the plugins (a plugin kernel that folds must fold here too).
   Returns FF_OPTIONS_OK, or FF_OPTIONS_HELP / FF_OPTIONS_ERROR (said). */
static ff_options_status_t
s_parse_options (s_options_t *options, int argc, char *argv [])
{
    char error [512];
    const char *plugin;
    int index;
    ff_options_t *parsed = ff_options_new (FF_CMD_SINK);
    if (!parsed)
        return FF_OPTIONS_ERROR;
    /* -t TOPOLOGY is required by the option table's rules for the sink */
    ff_options_status_t status = ff_options_parse (parsed, argc, argv, error, sizeof (error));
    if (status == FF_OPTIONS_OK
    &&  ff_format_parse (ff_options_text (parsed, FF_OPT_FORMAT, FF_DEFAULT_FORMAT), &options->format)) {
        snprintf (error, sizeof (error), "--format: expected raw or jsonl");
        status = FF_OPTIONS_ERROR;
    }
    for (index = 0; status == FF_OPTIONS_OK
                 && (plugin = ff_options_nth (parsed, FF_OPT_PLUGIN, index)); index++)
        if (ff_kernels_load (plugin, error, sizeof (error)))
            status = FF_OPTIONS_ERROR;
    if (status == FF_OPTIONS_ERROR)
        fprintf (stderr, "fanfold-sink: %s\n", error);
    options->topology_path = ff_options_text (parsed, FF_OPT_TOPOLOGY, NULL);
    options->output_path = ff_options_text (parsed, FF_OPT_OUTPUT, NULL);
    options->joblog_path = ff_options_text (parsed, FF_OPT_JOBLOG, NULL);
    options->emit = ff_options_text (parsed, FF_OPT_EMIT, NULL);
    options->signature = ff_options_text (parsed, FF_OPT_SIGNATURE, NULL);
    options->resume = ff_options_given (parsed, FF_OPT_RESUME) > 0;
    options->resume_failed = ff_options_given (parsed, FF_OPT_RESUME_FAILED) > 0;
    ff_halt_parse (ff_options_text (parsed, FF_OPT_HALT, NULL), &options->halt);
    options->tag = ff_options_text (parsed, FF_OPT_TAGSTRING,
                                    ff_options_given (parsed, FF_OPT_TAG)? "{}": NULL);
    options->results_dir = ff_options_text (parsed, FF_OPT_RESULTS, NULL);
    options->pipe = ff_options_given (parsed, FF_OPT_PIPE) > 0;
    options->sources = ff_options_text (parsed, FF_OPT_SOURCES, NULL);
    options->config = (ff_sources_t) {
        .null = ff_options_given (parsed, FF_OPT_NULL), .link = ff_options_given (parsed, FF_OPT_LINK),
        .colsep = ff_options_text (parsed, FF_OPT_COLSEP, NULL), .fd = -1
    };
    options->insecure = ff_options_given (parsed, FF_OPT_INSECURE) > 0;
    options->bar = ff_options_given (parsed, FF_OPT_BAR) > 0;
    options->progress = ff_options_given (parsed, FF_OPT_PROGRESS) > 0
                     || ((options->bar || ff_options_given (parsed, FF_OPT_ETA))
                         && isatty (STDERR_FILENO));
    options->verbose = ff_options_given (parsed, FF_OPT_VERBOSE) > 0;
    ff_options_destroy (&parsed);
    return status;
}

int
ff_sink_main (int argc, char *argv [])
{
    s_sink_t self;
    char error [512];
    int rc = FF_EXIT_ERROR;

    if (ff_stdfds_guard () < 0)     /* before any file or socket exists */
        return FF_EXIT_ERROR;
    memset (&self, 0, sizeof (self));
    ff_options_status_t parsed = s_parse_options (&self.options, argc, argv);
    if (parsed == FF_OPTIONS_HELP) {
        s_usage (stdout);
        return FF_EXIT_OK;
    }
    if (parsed != FF_OPTIONS_OK)
        return FF_EXIT_ERROR;
    ff_log_init ("fanfold-sink", self.options.verbose);
    ff_signals_install ();
    ff_fdlimit_raise ();
    /* a descriptor per worker's connection, but a few sockets: libzmq
       zeroes a slot per allowed socket when the first is made */
    zsys_set_max_sockets (FF_STAGE_MAX_SOCKETS);
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
        .keep_state = self.options.output_path != NULL,
        .resume = self.options.resume && self.options.output_path && !self.options.resume_failed,
        .signature = self.options.signature, .list_acks = 1,
        .emit = self.options.emit? s_emit: NULL, .emit_arg = &self,
        .halt = self.options.halt, .tag = self.options.tag,
        .results_dir = self.options.results_dir, .pipe = self.options.pipe,
        .fields = self.options.sources? s_fields: NULL, .fields_arg = &self,
        /* --resume without -o FILE, or --resume-failed: the joblog says what is done */
        .joblog_resume = self.options.resume_failed? FF_JOBLOG_RESUME_SUCCEEDED
                       : self.options.resume && !self.options.output_path? FF_JOBLOG_RESUME_DONE
                       : FF_JOBLOG_RESUME_NONE
    };
    self.delivery = ff_delivery_new (&delivery, error, sizeof (error));
    if (!self.delivery) {
        ff_log_error ("%s", error);
        ff_topology_destroy (&self.topology);
        return FF_EXIT_ERROR;
    }
    if (self.options.sources && s_sources_open (&self))
        goto cleanup;
    const ff_settings_t *settings = ff_topology_settings (self.topology);
    const char *bind = ff_topology_bind (self.topology, FF_EP_RESULTS);
    /* results go to the emit socket, and to -o FILE when given: not stdout */
    if (self.options.emit
    &&  !(self.emitter = ff_emitter_new (self.options.emit, settings->hwm, error, sizeof (error)))) {
        ff_log_error ("%s", error);
        goto cleanup;
    }
    self.codec = ff_codec_new ();
    self.items = (ff_item_t *) calloc (FF_MAX_BATCH, sizeof (ff_item_t));
    self.results = ff_net_socket (ZMQ_PULL, settings->hwm, 0, FF_MAX_RESULT_MESSAGE);
    self.control = ff_net_socket (ZMQ_DEALER, settings->hwm, settings->linger_ms, FF_MAX_CONTROL_MESSAGE);
    if (self.results && self.control)
        self.wait = (ff_net_wait_t) {
            .sockets = { zsock_resolve (self.control), zsock_resolve (self.results) },
            .fds = { -1, -1 }, .count = 2
        };
    if (!self.codec || !self.items || !self.results || !self.control)
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
    if (ff_net_bind (self.results, bind, error, sizeof (error)))   /* the launcher's socket, if any */
        ff_log_error ("%s", error);
    else
    if (zsock_connect (self.control, "%s", ff_topology_connect (self.topology, FF_EP_CONTROL)) != 0)
        ff_log_error ("cannot connect to %s", ff_topology_connect (self.topology, FF_EP_CONTROL));
    else
        rc = s_run (&self);
cleanup:
    ff_delivery_destroy (&self.delivery);
    ff_producer_destroy (&self.producer);
    free (self.words);
    free (self.words_buf);
    ff_emitter_destroy (&self.emitter);
    free (self.job);
    zsock_destroy (&self.results);
    zsock_destroy (&self.control);
    ff_security_destroy (&self.security);
    ff_codec_destroy (&self.codec);
    free (self.items);
    ff_topology_destroy (&self.topology);
    return rc;
}

/* Weak, so that the launcher, which links this file for ff_sink_main,
   keeps its own main. */
__attribute__ ((weak)) int
main (int argc, char *argv [])
{
    return ff_sink_main (argc, argv);
}
