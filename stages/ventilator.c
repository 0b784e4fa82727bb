/*  fanfold-ventilator: reads the job, numbers tasks from 0, and sends each
    to the least-loaded worker over that worker's own PUSH pipe, keeping a
    ledger of what is in flight (who holds it, since when) within a window
    that the sink's acks move forward. Organised as: options, the ledger,
    the input source, peers (workers and the sink), dispatch, the loop. */

#include "fanfold/runtime/codec.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/job/reader.h"
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
    char timeout_text [32];         /* param timeout=, for the workers */
    char retries_text [16];         /* param retries=, for the workers */
    int verbose;                    /* -v */
} s_options_t;

/* ------------------------------------------------------------- ledger */

typedef enum {
    S_FREE = 0,                     /* no task */
    S_PENDING,                      /* waiting to be sent (again) */
    S_SENT,                         /* held by a worker */
    S_DONE                          /* acked by the sink, not yet written */
} s_state_t;

/* A loaded array source and the tasks that still refer to it. */
typedef struct {
    ff_source_t *source;            /* its arrays, in shared memory */
    size_t refs;                    /* slots that refer to it */
    int complete;                   /* every task of it was created */
} s_source_t;

typedef struct {
    uint64_t seq;                   /* sequence number */
    s_state_t state;                /* see above */
    s_source_t *source;             /* arrays of the task, or NULL */
    uint32_t chunk;                 /* chunk of the source */
    uint32_t chunks;                /* chunks of the source (1: whole) */
    uint32_t kernel;                /* kernel index */
    char *input;                    /* input name, in buf; NULL once done */
    uint8_t *data;                  /* payload, in buf after the name; NULL once done */
    size_t size;                    /* payload bytes */
    uint8_t *buf;                   /* holds input and data; a small one is kept for
                                       the next task of this slot */
    size_t cap;                     /* bytes allocated at buf */
    uint64_t worker;                /* holder while S_SENT */
    uint32_t attempts;              /* times sent */
    int suspect;                    /* a worker died holding it and others: it
                                       runs alone on an otherwise idle worker */
    double cost;                    /* the kernel's estimate: heavier goes first */
} s_slot_t;

/* A removed worker whose tasks wait to be sent again: what it sent before
   it went may still be on its way to the sink, and acks then tell a task
   that finished from the one that was running. */
typedef struct {
    uint64_t worker;                /* its id */
    int64_t due;                    /* when its tasks are settled */
    const char *why;                /* why it was removed (a literal) */
    int crashed;                    /* it died or hung, rather than said bye */
} s_departed_t;

#define S_MAX_DEPARTED 64
#define S_SETTLE_MS 300

/* A slot keeps a buffer up to this size for its next task, so that small
   tasks cost no malloc; a bigger one (a record block) is freed when done. */
#define S_SLOT_KEEP 4096

/* Heavy-first dispatch looks this far into the pending queue. */
#define S_LOOKAHEAD 64

/* A peer on the control socket: a worker. */
typedef struct {
    uint64_t id;                    /* worker id, from 1 */
    uint8_t routing [256];          /* ROUTER id of its control socket */
    size_t routing_len;             /* its length */
    zsock_t *push;                  /* its task pipe (bound here) */
    char *endpoint;                 /* where it connects for its pipe */
    char *name;                     /* host:pid it gave */
    int outstanding;                /* tasks it holds */
    int64_t last_seen;              /* last message from it */
    int64_t blocked_until;          /* pipe not connected yet: retry then */
    int64_t busy_since;             /* when its current task started */
    uint64_t done;                  /* tasks it finished */
    int no_shm;                     /* it cannot map segments: send bytes */
    int credit;                     /* tasks it may hold: adapts to task speed */
    double task_us;                 /* smoothed time per task, 0 until known */
    int64_t progress_us;            /* start of the current measurement */
    uint32_t acked_now;             /* tasks acked in the ack being read */
    int isolating;                  /* it holds a suspect task alone and gets
                                       nothing else until that is acked */
} s_peer_t;

/* A worker holds about this much work, so that tiny tasks travel in
   batches and the round trip to the sink does not idle it; slow tasks keep
   the credit at prefetch + 1, which keeps the load balanced. */
#define S_QUEUE_TARGET_US 3000.0
#define S_MAX_CREDIT 1024

typedef struct {
    s_options_t options;            /* command line */
    ff_topology_t *topology;        /* endpoints and tuning */
    const ff_settings_t *settings;  /* its tuning */
    char job [40];                  /* job id */
    zsock_t *control;               /* ROUTER, bound */
    ff_codec_t *codec;              /* encoder */
    s_slot_t *slots;                /* ledger ring, window slots */
    uint64_t *pending;              /* ring of seqs waiting to be sent */
    size_t pending_head;            /* index of the first */
    size_t pending_count;           /* how many */
    uint64_t next_seq;              /* next seq to create */
    uint64_t written;               /* sink: every seq below is written */
    uint64_t skip;                  /* seqs the sink had written before (resume) */
    int64_t total;                  /* task count once input is exhausted */
    size_t bytes_in_flight;         /* payload bytes held by the ledger */
    int input_fd;                   /* records come from here */
    ff_reader_t *reader;            /* cuts records, with --pipe */
    int next_arg;                   /* next positional input */
    int want_input;                 /* the reader needs the descriptor */
    zsock_t *intake;                /* PULL for records, with --intake */
    uint64_t intake_records;        /* records taken from it */
    s_peer_t *workers [S_MAX_WORKERS]; /* joined workers */
    size_t nworkers;                /* how many */
    size_t rotate;                  /* where the least-loaded search starts */
    uint64_t last_worker_id;        /* last id handed out */
    uint8_t sink_routing [256];     /* the sink's ROUTER id */
    size_t sink_routing_len;        /* 0 until the sink says hello */
    int sink_ready;                 /* the sink acked the job header */
    int sink_told_total;            /* the sink knows total */
    int64_t last_hb;                /* last heartbeat round */
    uint64_t rejected;              /* refused messages */
    uint64_t resent;                /* tasks sent again after a loss */
    s_departed_t departed [S_MAX_DEPARTED]; /* removed workers whose tasks wait */
    size_t ndeparted;               /* how many */
    double min_cost;                /* lowest estimate seen */
    double max_cost;                /* highest estimate seen: if they differ, */
                                    /* dispatch is heavy-first */
    int costs_seen;                 /* min_cost and max_cost are set */
    s_source_t *current;            /* source whose chunks are being made */
    uint32_t current_chunk;         /* next chunk of it */
    uint32_t current_chunks;        /* its chunks */
    char shm_prefix [96];           /* ff_<uid>_<job>_<pid>_ */
    ff_security_t *security;        /* CURVE keys and the ZAP handler */
    int failed;                     /* input failed: end the job */
} s_vent_t;

static s_slot_t *
s_slot (s_vent_t *self, uint64_t seq)
{
    return &self->slots [seq % (uint64_t) self->settings->window];
}

/* Drops one reference to a source; the last one removes its segments. */
static void
s_source_unref (s_vent_t *self, s_source_t *ref)
{
    if (ref->refs > 0)
        ref->refs--;
    if (ref->refs == 0 && ref->complete && ref != self->current) {
        ff_source_destroy (&ref->source);
        free (ref);
    }
}

/* Drops the slot's payload and name; keeps a small buffer unless all. */
static void
s_slot_drop_data (s_vent_t *self, s_slot_t *slot, int all)
{
    if (slot->data) {
        self->bytes_in_flight -= slot->size;
        slot->data = NULL;
    }
    slot->input = NULL;
    if (all || slot->cap > S_SLOT_KEEP) {
        free (slot->buf);
        slot->buf = NULL;
        slot->cap = 0;
    }
}

static void
s_slot_release (s_vent_t *self, s_slot_t *slot)
{
    if (slot->source) {
        s_source_unref (self, slot->source);
        slot->source = NULL;
    }
    s_slot_drop_data (self, slot, 0);
    slot->state = S_FREE;
}

static void
s_pending_push (s_vent_t *self, uint64_t seq, int front)
{
    size_t cap = (size_t) self->settings->window;
    assert (self->pending_count < cap);
    if (front) {
        self->pending_head = (self->pending_head + cap - 1) % cap;
        self->pending [self->pending_head] = seq;
    }
    else
        self->pending [(self->pending_head + self->pending_count) % cap] = seq;
    self->pending_count++;
}

/* Takes the next task to send: with heavy_first, the heaviest of the
   first S_LOOKAHEAD pending ones when estimates differ (a short tail),
   else the first. */
static uint64_t
s_pending_take (s_vent_t *self, int heavy_first)
{
    size_t cap = (size_t) self->settings->window, best = 0, index;
    if (heavy_first && self->max_cost > self->min_cost) {
        size_t look = self->pending_count < S_LOOKAHEAD? self->pending_count: S_LOOKAHEAD;
        double heaviest = -1;
        for (index = 0; index < look; index++) {
            uint64_t seq = self->pending [(self->pending_head + index) % cap];
            s_slot_t *slot = &self->slots [seq % cap];
            if (slot->seq == seq && slot->state == S_PENDING && slot->cost > heaviest) {
                heaviest = slot->cost;
                best = index;
            }
        }
        if (best) {
            size_t at = (self->pending_head + best) % cap;
            uint64_t chosen = self->pending [at];
            self->pending [at] = self->pending [self->pending_head];
            self->pending [self->pending_head] = chosen;
        }
    }
    uint64_t seq = self->pending [self->pending_head];
    self->pending_head = (self->pending_head + 1) % cap;
    self->pending_count--;
    return seq;
}

/* Marks seq done (acked by the sink) and credits its holder. */
static void
s_complete (s_vent_t *self, uint64_t seq, int64_t now_ms)
{
    s_slot_t *slot = s_slot (self, seq);
    size_t index;
    if (seq >= self->next_seq || slot->seq != seq
    ||  (slot->state != S_SENT && slot->state != S_PENDING))
        return;
    if (slot->state == S_SENT)
        for (index = 0; index < self->nworkers; index++)
            if (self->workers [index]->id == slot->worker) {
                if (--self->workers [index]->outstanding == 0)
                    self->workers [index]->isolating = 0;
                self->workers [index]->done++;
                self->workers [index]->acked_now++;
                self->workers [index]->busy_since = now_ms;
                break;
            }
    slot->state = S_DONE;
    s_slot_drop_data (self, slot, 0);
}

/* Moves the written mark: those slots are free again. */
static void
s_advance_written (s_vent_t *self, uint64_t written)
{
    if (written > self->next_seq)
        return;                     /* a mark ahead of what exists: refuse */
    int64_t now_ms = ff_clock_ms ();
    while (self->written < written) {
        s_slot_t *slot = s_slot (self, self->written);
        if (slot->state != S_DONE)
            s_complete (self, self->written, now_ms);
        s_slot_release (self, slot);
        self->written++;
    }
}

/* --------------------------------------------------------------- input */

static void
s_send_to (s_vent_t *self, const uint8_t *routing, size_t routing_len)
{
    ff_net_send (self->control, routing, routing_len, ff_codec_data (self->codec),
                 ff_codec_size (self->codec), 0);
}

/* Sends the sink an error record for slot: the task failed for good. The
   slot stays in flight, held by no worker, until the sink acks it. */
static void
s_error_record (s_vent_t *self, s_slot_t *slot, const char *message)
{
    ff_item_t item;
    memset (&item, 0, sizeof (item));
    item.seq = slot->seq;
    item.kernel = slot->kernel;
    item.status = FF_STATUS_ERROR;
    item.input = ff_str (slot->input);
    item.data = ff_str (message);
    item.attempt = slot->attempts;
    item.bytes_in = slot->size;
    item.chunk = slot->chunk;
    item.chunks = slot->chunks;
    ff_codec_result_begin (self->codec, self->job, 0, 1);
    ff_codec_result_item (self->codec, &item);
    s_send_to (self, self->sink_routing, self->sink_routing_len);
    slot->state = S_SENT;
    slot->worker = 0;
}

/* Asks the slot's kernel how heavy its task is. */
static void
s_estimate (s_vent_t *self, s_slot_t *slot)
{
    const ff_kernel_t *kernel = self->options.kernels [slot->kernel];
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ff_array_t arrays [FF_SOURCE_MAX_ARRAYS];
    size_t count = 0, index;
    if (!kernel || !kernel->cost)
        return;
    if (slot->source) {
        count = ff_source_slices (slot->source->source, (uint64_t) self->options.chunk,
                                  slot->chunk, slices);
        for (index = 0; index < count; index++)
            arrays [index] = slices [index].array;
    }
    ff_task_t task = {
        .seq = slot->seq, .input = slot->input, .data = slot->data, .size = slot->size,
        .params = self->options.params, .nparams = self->options.nparams,
        .arrays = arrays, .narrays = count
    };
    slot->cost = kernel->cost (&task);
    if (!self->costs_seen || slot->cost < self->min_cost)
        self->min_cost = slot->cost;
    if (!self->costs_seen || slot->cost > self->max_cost)
        self->max_cost = slot->cost;
    self->costs_seen = 1;
}

/* Creates the tasks of one input (or one chunk of an array source): one
   per kernel, input-major. With failure != NULL they are error records. */
static int
s_create_task (s_vent_t *self, const char *input, const void *data, size_t size,
               s_source_t *source, uint32_t chunk, uint32_t chunks,
               const char *failure)
{
    size_t kernel;
    for (kernel = 0; kernel < self->options.nkernels; kernel++) {
        if (self->next_seq < self->skip) {
            /* written by an earlier run of this job: only count it */
            self->next_seq++;
            self->written = self->next_seq;
            continue;
        }
        s_slot_t *slot = s_slot (self, self->next_seq);
        assert (slot->state == S_FREE);
        uint8_t *buf = slot->buf;
        size_t cap = slot->cap;
        size_t input_len = strlen (input);
        size_t need = input_len + 1 + size;
        if (need > cap) {
            free (buf);
            cap = need < 64? 64: need;
            buf = (uint8_t *) malloc (cap);
            if (!buf) {
                slot->buf = NULL;
                slot->cap = 0;
                ff_log_error ("out of memory for task %" PRIu64, self->next_seq);
                return -1;
            }
        }
        memset (slot, 0, sizeof (*slot));
        slot->buf = buf;
        slot->cap = cap;
        slot->seq = self->next_seq;
        slot->kernel = (uint32_t) kernel;
        memcpy (buf, input, input_len + 1);
        memcpy (buf + input_len + 1, data, size);
        slot->input = (char *) buf;
        slot->data = buf + input_len + 1;
        slot->size = size;
        slot->chunk = chunk;
        slot->chunks = chunks? chunks: 1;
        if (source) {
            slot->source = source;
            source->refs++;
        }
        self->bytes_in_flight += size;
        s_estimate (self, slot);
        if (failure)
            s_error_record (self, slot, failure);
        else {
            slot->state = S_PENDING;
            s_pending_push (self, self->next_seq, 0);
        }
        self->next_seq++;
    }
    return 0;
}

static int
s_create (s_vent_t *self, const char *input, const void *data, size_t size)
{
    return s_create_task (self, input, data, size, NULL, 0, 1, NULL);
}

/* Creates the tasks of the next chunk of an array input (.npy or a
   structure), loading it into shared memory first. A file that cannot be
   loaded gives error records naming it; the job goes on. Returns 1 when the
   input is finished, 0 when chunks remain, -1 when out of memory. */
static int
s_create_array_chunk (s_vent_t *self, const char *path)
{
    if (!self->current) {
        char error [512];
        s_source_t *ref = (s_source_t *) calloc (1, sizeof (s_source_t));
        if (!ref)
            return -1;
        ref->source = ff_source_load (path, self->shm_prefix, (unsigned) self->next_arg,
                                      error, sizeof (error));
        if (!ref->source) {
            free (ref);
            ff_log_error ("%s", error);
            return s_create_task (self, path, "", 0, NULL, 0, 1, error) == 0? 1: -1;
        }
        self->current = ref;
        self->current_chunk = 0;
        self->current_chunks = ff_source_chunks (ref->source, (uint64_t) self->options.chunk);
    }
    s_source_t *ref = self->current;
    if (s_create_task (self, path, "", 0, ref, self->current_chunk, self->current_chunks, NULL))
        return -1;
    if (++self->current_chunk < self->current_chunks)
        return 0;
    self->current = NULL;
    ref->complete = 1;
    ref->refs++;                    /* released by the unref below */
    s_source_unref (self, ref);
    return 1;
}

static int
s_room (s_vent_t *self)
{
    if (!self->sink_ready || self->total >= 0 || self->failed)
        return 0;
    if (self->next_seq + self->options.nkernels - self->written
        > (uint64_t) self->settings->window)
        return 0;
    return self->bytes_in_flight < (size_t) self->settings->window_bytes
        || self->next_seq == self->written;
}

/* Takes one message from the intake socket. Returns 1 when it made
   tasks (or refused a bad message), 0 when nothing is waiting, -1 at the
   end of the stream. */
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
    rc = 1;
    if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg)
    ||  (msg.type != FF_MSG_RECORD && msg.type != FF_MSG_EOS))
        ff_log_reject (&self->rejected, "intake takes record and eos messages only");
    else
    if (msg.type == FF_MSG_EOS) {
        /* closing the intake tells the producer everything was taken:
           ZeroMQ drops what a producer still queues when it leaves early */
        rc = -1;
        zmq_msg_close (&body);
        zsock_destroy (&self->intake);
        return rc;
    }
    else {
        char input [512];
        self->intake_records++;
        if (msg.record.input.len == 0 || msg.record.input.len >= sizeof (input))
            snprintf (input, sizeof (input), "intake:%" PRIu64, self->intake_records);
        else
            snprintf (input, sizeof (input), "%.*s", (int) msg.record.input.len,
                      msg.record.input.ptr);
        if (s_create (self, input, msg.record.data.ptr, msg.record.data.len))
            self->failed = 1;
    }
    zmq_msg_close (&body);
    return rc;
}

/* Creates tasks while there is room and input. */
static void
s_produce (s_vent_t *self)
{
    int64_t total_before = self->total;
    self->want_input = 0;
    while (s_room (self)) {
        if (self->options.intake) {
            if (!self->intake)
                break;
            int rc = s_take_intake (self);
            if (rc == 0) {
                self->want_input = 1;
                break;
            }
            if (rc < 0) {
                self->total = (int64_t) self->next_seq;
                break;
            }
            continue;
        }
        if (!self->options.pipe) {
            if (self->next_arg == self->options.nargs) {
                self->total = (int64_t) self->next_seq;
                break;
            }
            const char *arg = self->options.args [self->next_arg];
            if (self->options.arrays && ff_source_recognises (arg)) {
                int rc = s_create_array_chunk (self, arg);
                if (rc < 0)
                    self->failed = 1;
                if (rc != 0)
                    self->next_arg++;
                continue;
            }
            self->next_arg++;
            if (s_create (self, arg, arg, strlen (arg)))
                self->failed = 1;
            continue;
        }
        ff_block_t block;
        int rc = ff_reader_next (self->reader, &block);
        if (rc == 1) {
            char input [512];
            ff_reader_block_name (self->reader, &block, input, sizeof (input));
            if (s_create (self, input, block.data, block.size))
                self->failed = 1;
        }
        else
        if (rc == 0) {
            self->want_input = 1;
            break;
        }
        else
        if (rc == -1) {
            self->total = (int64_t) self->next_seq;
            break;
        }
        else {
            ff_log_error ("%s: line %" PRIu64 " is longer than --max-block (%ld bytes)",
                          ff_reader_name (self->reader), ff_reader_lines (self->reader) + 1,
                          self->options.max_block);
            self->failed = 1;
        }
    }
    if (self->total >= 0 && total_before < 0)
        ff_log_info ("input exhausted: %" PRId64 " tasks", self->total);
}

static void
s_read_input (s_vent_t *self)
{
    if (ff_reader_fill (self->reader) < 0 && errno != EAGAIN && errno != EINTR) {
        ff_log_error ("%s: read failed: %s", ff_reader_name (self->reader), strerror (errno));
        self->failed = 1;
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

/* Tells the sink that a task failed for good: an error record at its seq. */
static void
s_give_up (s_vent_t *self, s_slot_t *slot, const char *why)
{
    char message [256];
    snprintf (message, sizeof (message), "task failed %u times: %s", slot->attempts, why);
    s_error_record (self, slot, message);
    ff_log_error ("task %" PRIu64 " (%s): %s", slot->seq, slot->input, message);
}

/* Sends again every task a removed worker still held, lowest seq first.
   A task counts as an attempt only when it certainly ran there; once it has
   used up its attempts it becomes an error record instead. */
static void
s_requeue_orphans (s_vent_t *self, uint64_t worker, const char *why, int crashed)
{
    uint64_t seq, requeued = 0, held = 0;
    for (seq = self->written; seq < self->next_seq; seq++) {
        s_slot_t *slot = s_slot (self, seq);
        held += slot->state == S_SENT && slot->worker == worker;
    }
    /* which task ended the worker is known only when it held one: a result
       it had sent may have died in its queue with it, so the oldest task it
       held may have finished. Otherwise none is charged, and each of its
       tasks becomes a suspect: it runs alone on a worker that holds nothing
       else, so that a task that kills its worker is charged when it does it
       again, and its neighbours finish */
    int known = crashed && held == 1;
    for (seq = self->next_seq; seq > self->written; seq--) {
        s_slot_t *slot = s_slot (self, seq - 1);
        if (slot->state != S_SENT || slot->worker != worker)
            continue;
        if (crashed && !known)
            slot->suspect = 1;
        if (!known && slot->attempts > 0)
            slot->attempts--;       /* it may not have started there */
        if (known && slot->attempts >= (uint32_t) self->options.retries)
            s_give_up (self, slot, why);
        else {
            slot->state = S_PENDING;
            s_pending_push (self, seq - 1, 1);
            requeued++;
        }
    }
    self->resent += requeued;
    ff_log_info ("worker %" PRIu64 " %s: %" PRIu64 " of its tasks go to others",
                 worker, why, requeued);
}

/* Settles the workers removed at least S_SETTLE_MS ago (all of them with
   all): by then the results they sent before they went have been acked,
   so a task that finished is not taken for the one that was running. */
static void
s_settle_departed (s_vent_t *self, int all)
{
    int64_t now = ff_clock_ms ();
    size_t index = 0;
    while (index < self->ndeparted) {
        s_departed_t *gone = &self->departed [index];
        if (!all && now < gone->due) {
            index++;
            continue;
        }
        s_requeue_orphans (self, gone->worker, gone->why, gone->crashed);
        self->departed [index] = self->departed [--self->ndeparted];
    }
}

/* Removes a worker; its tasks are sent again once it is settled. crashed:
   it died or hung (a task it held may have ended it), rather than left. */
static void
s_remove_worker (s_vent_t *self, s_peer_t *peer, const char *why, int crashed)
{
    size_t index;
    ff_log_info ("worker %" PRIu64 " (%s) %s", peer->id, peer->name, why);
    if (self->ndeparted == S_MAX_DEPARTED)
        s_settle_departed (self, 1);
    self->departed [self->ndeparted++] = (s_departed_t) {
        .worker = peer->id, .due = ff_clock_ms () + S_SETTLE_MS, .why = why,
        .crashed = crashed
    };
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
    peer->credit = self->settings->prefetch + 1;
    if (!peer->name || s_bind_pipe (self, peer)) {
        ff_log_error ("cannot make a task pipe for worker %" PRIu64 ": %s",
                      peer->id, zmq_strerror (errno));
        s_peer_destroy (&peer);
        return;
    }
    self->workers [self->nworkers++] = peer;
    s_send_welcome (self, peer);
    ff_log_info ("worker %" PRIu64 " (%s) joined on %s", peer->id, peer->name, peer->endpoint);
}

/* Learns how long a worker's tasks take from the pace of its acks, and
   sizes its credit to hold about S_QUEUE_TARGET_US of work. */
static void
s_adapt_credit (s_vent_t *self, s_peer_t *peer)
{
    int64_t now = ff_clock_us ();
    if (peer->progress_us > 0 && now > peer->progress_us) {
        double sample = (double) (now - peer->progress_us) / peer->acked_now;
        peer->task_us = peer->task_us > 0? 0.7 * peer->task_us + 0.3 * sample: sample;
        int floor = self->settings->prefetch + 1;
        int ceiling = self->settings->window / 2 < S_MAX_CREDIT? self->settings->window / 2
                                                               : S_MAX_CREDIT;
        double wanted = S_QUEUE_TARGET_US / (peer->task_us > 1? peer->task_us: 1);
        peer->credit = wanted < floor? floor: wanted > ceiling? (ceiling > floor? ceiling: floor)
                     : (int) wanted;
    }
    peer->progress_us = peer->outstanding > 0? now: 0;
    peer->acked_now = 0;
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
        self->skip = msg->written;
        if (self->skip)
            ff_log_info ("sink ready; resuming after %" PRIu64 " tasks", self->skip);
        else
            ff_log_info ("sink ready");
    }
    int64_t now_ms = ff_clock_ms ();
    while (ff_msg_next_seq (msg, &seq))
        s_complete (self, seq, now_ms);
    s_advance_written (self, msg->written);
    size_t index;
    for (index = 0; index < self->nworkers; index++)
        if (self->workers [index]->acked_now)
            s_adapt_credit (self, self->workers [index]);
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
        if (self->options.timeout > 0 && peer->outstanding > 0
        &&  now - peer->busy_since > (int64_t) (self->options.timeout * 1000)) {
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

/* Fills the array handles of slot's task: segment slices, or the bytes
   themselves for a worker that cannot map the segments. */
static void
s_handles (s_vent_t *self, s_slot_t *slot, int inline_bytes, ff_item_t *item)
{
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    size_t count = ff_source_slices (slot->source->source, (uint64_t) self->options.chunk,
                                     slot->chunk, slices), index;
    item->narrays = count;
    for (index = 0; index < count; index++) {
        ff_handle_t *handle = &item->arrays [index];
        const ff_array_t *array = &slices [index].array;
        memset (handle, 0, sizeof (*handle));
        handle->name = ff_str (array->name);
        handle->dtype = (uint32_t) array->dtype;
        handle->ndim = array->ndim;
        memcpy (handle->shape, array->shape, sizeof (handle->shape));
        handle->length = array->size;
        if (inline_bytes) {
            handle->bytes.ptr = (const char *) array->data;
            handle->bytes.len = array->size;
        }
        else {
            handle->segment = ff_str (slices [index].segment);
            handle->offset = slices [index].offset;
        }
    }
}

/* Returns the worker with the fewest tasks that can take one, or NULL. */
static s_peer_t *
s_least_loaded (s_vent_t *self, int64_t now)
{
    s_peer_t *best = NULL;
    size_t step;
    for (step = 0; step < self->nworkers; step++) {
        s_peer_t *peer = self->workers [(self->rotate + step) % self->nworkers];
        if (peer->outstanding >= peer->credit || now < peer->blocked_until || peer->isolating)
            continue;
        /* the least loaded relative to what it may hold */
        if (!best || (int64_t) peer->outstanding * best->credit
                     < (int64_t) best->outstanding * peer->credit)
            best = peer;
    }
    self->rotate++;
    return best;
}

/* A worker that holds nothing, for a suspect task; NULL when none. */
static s_peer_t *
s_idle_peer (s_vent_t *self, int64_t now)
{
    size_t index;
    for (index = 0; index < self->nworkers; index++) {
        s_peer_t *peer = self->workers [index];
        if (peer->outstanding == 0 && !peer->isolating && now >= peer->blocked_until
        &&  peer->credit > 0)
            return peer;
    }
    return NULL;
}

/* Sends pending tasks to the least-loaded workers while any has credit. */
static void
s_dispatch (s_vent_t *self)
{
    int64_t now = ff_clock_ms ();
    uint64_t batch [FF_MAX_BATCH];
    while (self->pending_count > 0) {
        uint64_t next = self->pending [self->pending_head];
        s_slot_t *front = s_slot (self, next);
        s_peer_t *peer = front->seq == next && front->state == S_PENDING && front->suspect
                       ? s_idle_peer (self, now): s_least_loaded (self, now);
        if (!peer)
            return;
        /* a message holds at most a quarter of the worker's credit: slow
           tasks (credit under 8) travel one per message, so that a task
           that kills its worker takes no finished neighbour with it. A
           worker with half its credit queued can wait for a full message:
           it is the least loaded, so all can */
        size_t room = (size_t) (peer->credit - peer->outstanding);
        size_t full = (size_t) peer->credit / 4;
        if (full > (size_t) self->settings->batch)
            full = (size_t) self->settings->batch;
        if (full < 1)
            full = 1;
        if (room < full && peer->outstanding >= peer->credit / 2)
            return;
        size_t limit = room < full? room: full, count = 0, index;
        while (count < limit && self->pending_count > 0) {
            /* order matters for slow tasks only: fast ones leave no tail */
            uint64_t seq = s_pending_take (self, !self->options.fifo && peer->credit <= 8);
            s_slot_t *slot = s_slot (self, seq);
            if (slot->seq != seq || slot->state != S_PENDING)
                continue;
            if (slot->suspect && (count > 0 || peer->outstanding > 0)) {
                s_pending_push (self, seq, 1);  /* it goes next, alone */
                break;
            }
            batch [count++] = seq;
            if (slot->suspect) {
                peer->isolating = 1;
                break;
            }
        }
        if (count == 0)
            continue;
        ff_codec_task_begin (self->codec, self->job, count);
        for (index = 0; index < count; index++) {
            s_slot_t *slot = s_slot (self, batch [index]);
            ff_item_t item;
            memset (&item, 0, offsetof (ff_item_t, arrays));   /* arrays: up to narrays */
            item.seq = slot->seq;
            item.kernel = slot->kernel;
            item.input = ff_str (slot->input);
            item.data.ptr = (const char *) slot->data;
            item.data.len = slot->size;
            item.attempt = slot->attempts + 1;
            item.chunk = slot->chunk;
            item.chunks = slot->chunks;
            if (slot->source)
                s_handles (self, slot, peer->no_shm, &item);
            ff_codec_task_item (self->codec, &item);
        }
        if (ff_net_send (peer->push, NULL, 0, ff_codec_data (self->codec),
                         ff_codec_size (self->codec), 0) != 0) {
            /* its pipe is not connected yet: put the tasks back, in order */
            for (index = count; index > 0; index--)
                s_pending_push (self, batch [index - 1], 1);
            peer->isolating = 0;
            peer->blocked_until = now + S_RETRY_BLOCKED_MS;
            continue;
        }
        for (index = 0; index < count; index++) {
            s_slot_t *slot = s_slot (self, batch [index]);
            slot->state = S_SENT;
            slot->worker = peer->id;
            slot->attempts++;
        }
        if (peer->outstanding == 0) {
            peer->busy_since = now;
            peer->progress_us = ff_clock_us ();
        }
        peer->outstanding += (int) count;
    }
}

/* ---------------------------------------------------------------- loop */

static int
s_finished (s_vent_t *self)
{
    return self->total >= 0 && self->written == (uint64_t) self->total;
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

static int
s_run (s_vent_t *self)
{
    while (!ff_stop_signal && !zsys_interrupted && !s_finished (self) && !self->failed) {
        s_produce (self);
        if (self->total >= 0 && self->sink_ready && !self->sink_told_total)
            s_send_job (self);
        s_dispatch (self);
        s_heartbeat (self);
        if (self->ndeparted)
            s_settle_departed (self, 0);
        int64_t now = ff_clock_ms ();
        int timeout = self->settings->heartbeat_ms;
        size_t index;
        for (index = 0; index < self->ndeparted; index++)
            if (self->departed [index].due - now + 1 < timeout)
                timeout = (int) (self->departed [index].due - now + 1);
        if (timeout < 0)
            timeout = 0;
        for (index = 0; index < self->nworkers; index++)
            if (self->workers [index]->blocked_until > now && self->pending_count)
                timeout = S_RETRY_BLOCKED_MS;
        zmq_pollitem_t items [2] = {
            { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
            { self->intake? zsock_resolve (self->intake): NULL,
              self->intake? -1: self->input_fd, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, self->want_input? 2: 1, timeout);
        if (rc < 0 && errno != EINTR) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return 1;
        }
        if (rc > 0 && (items [0].revents & ZMQ_POLLIN))
            s_on_control (self);
        if (rc > 0 && self->want_input && !self->intake
        &&  (items [1].revents & (ZMQ_POLLIN | ZMQ_POLLERR)))
            s_read_input (self);
    }
    if (self->failed) {
        s_end_workers (self, 1);
        return 1;
    }
    if (!s_finished (self))
        return 130;
    s_end_workers (self, 0);
    ff_log_info ("job %s done: %" PRId64 " tasks, %" PRIu64 " sent again, %" PRIu64
                 " messages refused", self->job, self->total, self->resent, self->rejected);
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
    options->params [2 * options->nparams] = "retries";
    options->params [2 * options->nparams + 1] = options->retries_text;
    options->nparams++;
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
    if (self->current) {
        s_source_t *current = self->current;
        self->current = NULL;
        current->complete = 1;
        current->refs++;
        s_source_unref (self, current);
    }
    if (self->slots)
        for (index = 0; index < (size_t) self->settings->window; index++) {
            s_slot_release (self, &self->slots [index]);
            s_slot_drop_data (self, &self->slots [index], 1);
        }
    free (self->slots);
    free (self->pending);
    ff_reader_destroy (&self->reader);
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
        self.reader = ff_reader_new (self.input_fd,
                                     self.options.input_path? self.options.input_path: "stdin",
                                     self.options.cut, (size_t) self.options.cut_n,
                                     (size_t) self.options.max_block);
        if (!self.reader)
            goto done;
    }
    self.slots = (s_slot_t *) calloc ((size_t) self.settings->window, sizeof (s_slot_t));
    self.pending = (uint64_t *) calloc ((size_t) self.settings->window, sizeof (uint64_t));
    self.codec = ff_codec_new ();
    self.control = ff_net_socket (ZMQ_ROUTER, self.settings->hwm, self.settings->linger_ms,
                                  S_MAX_CONTROL_MESSAGE);
    if (!self.slots || !self.pending || !self.codec || !self.control) {
        ff_log_error ("cannot allocate the ledger or the control socket");
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
