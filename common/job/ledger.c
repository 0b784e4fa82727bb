/*  fanfold ledger: the tasks of one job in flight (see ledger.h for the
    invariants). Organised as: slots and the pending queue, creation, the
    sink's acks, workers and their settlement, dispatch bookkeeping, error
    records, the check. */

#include "fanfold/job/ledger.h"
#include "fanfold/runtime/limits.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ff_ledger_task_t task;          /* what callers see */
    uint8_t *buf;                   /* holds input, data and failure; a small one
                                       is kept for the slot's next task */
    size_t cap;                     /* bytes allocated at buf */
} s_slot_t;

/* A removed worker whose tasks wait to be settled. */
typedef struct {
    uint64_t worker;                /* its id */
    int64_t due;                    /* ms: when its tasks are settled */
    const char *why;                /* why it went (a literal) */
    int crashed;                    /* it died or hung, rather than said bye */
} s_departed_t;

struct ff_ledger {
    ff_ledger_config_t config;      /* as given */
    size_t window;                  /* slots now: config.window, grown with the workers */
    s_slot_t *slots;                /* ring of window slots, seq % window */
    uint64_t *pending;              /* ring of window seqs waiting to be sent */
    size_t pending_head;            /* index of the front entry */
    size_t pending_count;           /* entries, live or stale */
    uint64_t next_seq;              /* next seq to create */
    uint64_t written;               /* every seq below is written by the sink */
    uint64_t skip;                  /* seqs an earlier run wrote (resume) */
    size_t bytes_in_flight;         /* payload bytes of slots not yet DONE */
    size_t nfailed;                 /* FAILED slots */
    uint64_t resent;                /* tasks requeued after their worker went */
    ff_ledger_worker_t *workers;    /* live workers, FF_MAX_WORKERS allocated */
    size_t nworkers;                /* how many */
    s_departed_t departed [FF_LEDGER_MAX_DEPARTED]; /* workers awaiting settlement */
    size_t ndeparted;               /* how many */
    uint64_t *check_seqs;           /* ff_ledger_check's scratch: window seqs, or NULL */
    int *check_held;                /* ff_ledger_check's scratch: 2 per worker, or NULL */
    uint64_t *check_ids;            /* ff_ledger_check's scratch: 1 per worker, or NULL */
    uint64_t check_ops;             /* operations, for FF_CHECK_INVARIANTS */
};

/* Debug builds check every invariant after each operation that changes
   the ledger: -DFF_CHECK_INVARIANTS (or =1) after every one, =N after every
   Nth (the check is O(window), which a job of a million tasks feels). */
#ifdef FF_CHECK_INVARIANTS
#   define S_CHECK(self) \
        do { if (++(self)->check_ops % (FF_CHECK_INVARIANTS) == 0) ff_ledger_check (self); } while (0)
#else
#   define S_CHECK(self) ((void) 0)
#endif

/* ------------------------------------------------- slots and the queue */

static s_slot_t *
s_slot (ff_ledger_t *self, uint64_t seq)
{
    return &self->slots [seq % self->window];
}

/* The slot of seq when seq is in flight, else NULL. */
static s_slot_t *
s_live (ff_ledger_t *self, uint64_t seq)
{
    if (seq < self->written || seq >= self->next_seq)
        return NULL;
    s_slot_t *slot = s_slot (self, seq);
    return slot->task.seq == seq && slot->task.state != FF_SLOT_FREE? slot: NULL;
}

/* Drops a slot's payload; keeps a small buffer unless all. */
static void
s_drop_data (ff_ledger_t *self, s_slot_t *slot, int all)
{
    if (slot->task.data) {
        self->bytes_in_flight -= slot->task.size;
        slot->task.data = NULL;
    }
    slot->task.input = NULL;
    slot->task.failure = NULL;
    if (all || slot->cap > FF_LEDGER_SLOT_KEEP) {
        free (slot->buf);
        slot->buf = NULL;
        slot->cap = 0;
    }
}

static void
s_release (ff_ledger_t *self, s_slot_t *slot)
{
    if (slot->task.ref && self->config.release)
        self->config.release (slot->task.ref, self->config.release_arg);
    slot->task.ref = NULL;
    s_drop_data (self, slot, 0);
    slot->task.state = FF_SLOT_FREE;
}

static size_t
s_ring_at (ff_ledger_t *self, size_t index)
{
    return (self->pending_head + index) % self->window;
}

/* An entry is live when its slot holds the seq in PENDING. */
static int
s_entry_live (ff_ledger_t *self, uint64_t seq)
{
    s_slot_t *slot = s_live (self, seq);
    return slot && slot->task.state == FF_SLOT_PENDING;
}

/* Drops stale entries anywhere in the queue, keeping the order. */
static void
s_compact (ff_ledger_t *self)
{
    size_t index, kept = 0;
    for (index = 0; index < self->pending_count; index++) {
        uint64_t seq = self->pending [s_ring_at (self, index)];
        if (s_entry_live (self, seq))
            self->pending [s_ring_at (self, kept++)] = seq;
    }
    self->pending_count = kept;
}

static void
s_push (ff_ledger_t *self, uint64_t seq, int front)
{
    size_t cap = self->window;
    if (self->pending_count == cap)
        s_compact (self);
    /* a live entry per PENDING slot, and seq is not yet PENDING */
    assert (self->pending_count < cap);
    if (front) {
        self->pending_head = (self->pending_head + cap - 1) % cap;
        self->pending [self->pending_head] = seq;
    }
    else
        self->pending [s_ring_at (self, self->pending_count)] = seq;
    self->pending_count++;
}

/* ---------------------------------------------------------------- life */

ff_ledger_t *
ff_ledger_new (const ff_ledger_config_t *config)
{
    assert (config);
    if (config->window < 1 || config->retries < 1)
        return NULL;
    ff_ledger_t *self = (ff_ledger_t *) calloc (1, sizeof (ff_ledger_t));
    if (!self)
        return NULL;
    self->config = *config;
    if (self->config.window_max < config->window)
        self->config.window_max = config->window;
    self->window = config->window;
    self->slots = (s_slot_t *) calloc (config->window, sizeof (s_slot_t));
    self->pending = (uint64_t *) calloc (config->window, sizeof (uint64_t));
    self->workers = (ff_ledger_worker_t *) calloc (FF_MAX_WORKERS, sizeof (ff_ledger_worker_t));
    if (!self->slots || !self->pending || !self->workers)
        goto fail;
    return self;
fail:
    free (self->slots);
    free (self->pending);
    free (self->workers);
    free (self);
    return NULL;
}

void
ff_ledger_destroy (ff_ledger_t **self_p)
{
    if (self_p && *self_p) {
        ff_ledger_t *self = *self_p;
        /* only the slots of seqs created were ever written: a short job
           in a large window leaves the rest untouched, unmapped pages */
        size_t index, used = self->next_seq < self->window
                           ? (size_t) self->next_seq: self->window;
        for (index = 0; index < used; index++) {
            s_release (self, &self->slots [index]);
            s_drop_data (self, &self->slots [index], 1);
        }
        free (self->slots);
        free (self->pending);
        free (self->workers);
        free (self->check_seqs);
        free (self->check_held);
        free (self->check_ids);
        free (self);
        *self_p = NULL;
    }
}

/* ------------------------------------------------------------ creation */

void
ff_ledger_set_skip (ff_ledger_t *self, uint64_t skip)
{
    assert (self);
    assert (self->next_seq == 0);
    self->skip = skip;
    S_CHECK (self);
}

int
ff_ledger_room (ff_ledger_t *self, size_t count)
{
    assert (self);
    if (self->next_seq + count - self->written > self->window)
        return 0;
    return self->bytes_in_flight < self->config.window_bytes
        || self->next_seq == self->written;
}

ff_ledger_create_t
ff_ledger_create (ff_ledger_t *self, uint32_t kernel, const char *input,
                  const void *data, size_t size, void *ref, uint32_t chunk,
                  uint32_t chunks, double cost, const char *failure)
{
    assert (self);
    assert (input);
    assert (data || size == 0);
    assert (self->next_seq - self->written < self->window);
    if (self->next_seq < self->skip) {
        /* written by an earlier run of this job: only count it */
        self->next_seq++;
        self->written = self->next_seq;
        if (ref && self->config.release)
            self->config.release (ref, self->config.release_arg);
        S_CHECK (self);
        return FF_LEDGER_SKIPPED;
    }
    s_slot_t *slot = s_slot (self, self->next_seq);
    assert (slot->task.state == FF_SLOT_FREE);
    size_t input_len = strlen (input);
    size_t failure_len = failure? strlen (failure) + 1: 0;
    if (size > SIZE_MAX - input_len - 1 - failure_len)
        return FF_LEDGER_NO_MEMORY;
    size_t need = input_len + 1 + size + failure_len;
    if (need > slot->cap) {
        size_t cap = need < 64? 64: need;
        uint8_t *buf = (uint8_t *) malloc (cap);
        if (!buf)
            return FF_LEDGER_NO_MEMORY;
        free (slot->buf);
        slot->buf = buf;
        slot->cap = cap;
    }
    uint8_t *buf = slot->buf;
    memcpy (buf, input, input_len + 1);
    if (size)
        memcpy (buf + input_len + 1, data, size);
    slot->task = (ff_ledger_task_t) {
        .seq = self->next_seq, .kernel = kernel, .input = (const char *) buf,
        .data = buf + input_len + 1, .size = size, .ref = ref, .chunk = chunk,
        .chunks = chunks? chunks: 1, .cost = cost
    };
    self->bytes_in_flight += size;
    if (failure) {
        memcpy (buf + input_len + 1 + size, failure, failure_len);
        slot->task.failure = (const char *) buf + input_len + 1 + size;
        slot->task.state = FF_SLOT_FAILED;
        self->nfailed++;
    }
    else {
        slot->task.state = FF_SLOT_PENDING;
        s_push (self, self->next_seq, 0);
    }
    self->next_seq++;
    S_CHECK (self);
    return FF_LEDGER_CREATED;
}

/* ------------------------------------------------------------ the sink */

/* The live worker with id, or NULL: workers are kept in id order, so
   that an ack finds its holder in O(log workers). */
static ff_ledger_worker_t *
s_worker (ff_ledger_t *self, uint64_t id)
{
    size_t low = 0, high = self->nworkers;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (self->workers [middle].id < id)
            low = middle + 1;
        else
            high = middle;
    }
    return low < self->nworkers && self->workers [low].id == id? &self->workers [low]: NULL;
}

ff_ledger_ack_t
ff_ledger_ack (ff_ledger_t *self, uint64_t seq, int64_t now_ms)
{
    assert (self);
    s_slot_t *slot = s_live (self, seq);
    if (!slot || slot->task.state == FF_SLOT_DONE)
        return FF_LEDGER_ACK_IGNORED;
    if (slot->task.state == FF_SLOT_SENT) {
        ff_ledger_worker_t *worker = s_worker (self, slot->task.worker);
        if (worker) {
            if (--worker->outstanding == 0)
                worker->isolating = 0;
            worker->done++;
            worker->acked_now++;
            worker->busy_since = now_ms;
        }
    }
    else
    if (slot->task.state == FF_SLOT_FAILED)
        self->nfailed--;
    /* a PENDING task leaves a stale entry in the queue */
    slot->task.state = FF_SLOT_DONE;
    slot->task.worker = 0;
    s_drop_data (self, slot, 0);
    S_CHECK (self);
    return FF_LEDGER_ACKED;
}

int
ff_ledger_advance (ff_ledger_t *self, uint64_t mark, int64_t now_ms)
{
    assert (self);
    if (mark > self->next_seq)
        return -1;
    while (self->written < mark) {
        s_slot_t *slot = s_slot (self, self->written);
        if (slot->task.state != FF_SLOT_DONE)
            ff_ledger_ack (self, self->written, now_ms);
        s_release (self, slot);
        self->written++;
    }
    S_CHECK (self);
    return 0;
}

/* ------------------------------------------------------------- workers */

/* Grows the window to at least want slots (doubling, so that a job that
   gains workers one by one copies its ring O(log) times), at most
   window_max. The in-flight seqs move to their slots in the new ring, the
   pending queue keeps its order; the small buffers that free slots kept
   are freed. When memory runs out the window stays as it is. */
static void
s_grow (ff_ledger_t *self, size_t want)
{
    if (want > self->config.window_max)
        want = self->config.window_max;
    if (want <= self->window)
        return;
    size_t window = self->window;
    while (window < want)
        window = window > self->config.window_max / 2? self->config.window_max: 2 * window;
    s_slot_t *slots = (s_slot_t *) calloc (window, sizeof (s_slot_t));
    uint64_t *pending = (uint64_t *) malloc (window * sizeof (uint64_t));
    if (!slots || !pending) {
        free (slots);
        free (pending);
        return;
    }
    size_t index, used = self->next_seq < self->window? (size_t) self->next_seq: self->window;
    for (index = 0; index < used; index++) {
        s_slot_t *slot = &self->slots [index];
        if (slot->task.state == FF_SLOT_FREE)
            s_drop_data (self, slot, 1);
        else
            slots [slot->task.seq % window] = *slot;
    }
    for (index = 0; index < self->pending_count; index++)
        pending [index] = self->pending [s_ring_at (self, index)];
    free (self->slots);
    free (self->pending);
    free (self->check_seqs);
    self->check_seqs = NULL;        /* sized to the window: made again when needed */
    self->slots = slots;
    self->pending = pending;
    self->pending_head = 0;
    self->window = window;
}

int
ff_ledger_worker_add (ff_ledger_t *self, uint64_t id, int credit)
{
    assert (self);
    assert (id != 0 && credit >= 1);
    assert (!s_worker (self, id));
    if (self->nworkers == FF_MAX_WORKERS)
        return -1;
    size_t index = self->nworkers;
    while (index > 0 && self->workers [index - 1].id > id)
        index--;                    /* ids come in rising order: this is the end */
    memmove (&self->workers [index + 1], &self->workers [index],
             (self->nworkers - index) * sizeof (ff_ledger_worker_t));
    self->nworkers++;
    self->workers [index] = (ff_ledger_worker_t) { .id = id, .credit = credit };
    s_grow (self, self->nworkers * self->config.window_per_worker);
    S_CHECK (self);
    return 0;
}

int
ff_ledger_worker_leave (ff_ledger_t *self, uint64_t id, const char *why,
                        int crashed, int64_t now_ms)
{
    assert (self);
    ff_ledger_worker_t *worker = s_worker (self, id);
    if (!worker)
        return -1;
    /* the caller collects the settled and the error records afterwards */
    if (self->ndeparted == FF_LEDGER_MAX_DEPARTED)
        ff_ledger_settle (self, now_ms, 1, NULL, 0);
    self->departed [self->ndeparted++] = (s_departed_t) {
        .worker = id, .due = now_ms + FF_LEDGER_SETTLE_MS, .why = why, .crashed = crashed
    };
    size_t index = (size_t) (worker - self->workers);
    memmove (worker, worker + 1, (--self->nworkers - index) * sizeof (ff_ledger_worker_t));
    S_CHECK (self);
    return 0;
}

/* Settles one departed worker: see ff_ledger_settle. */
static void
s_settle (ff_ledger_t *self, const s_departed_t *gone, ff_ledger_settled_t *report)
{
    uint64_t seq, held = 0;
    *report = (ff_ledger_settled_t) { .worker = gone->worker, .why = gone->why };
    for (seq = self->written; seq < self->next_seq; seq++) {
        s_slot_t *slot = s_slot (self, seq);
        held += slot->task.state == FF_SLOT_SENT && slot->task.worker == gone->worker;
    }
    /* which task ended the worker is known only when it held one: a result
       it had sent may have died in its queue with it, so the oldest task it
       held may have finished. Otherwise none is charged, and each of its
       tasks becomes a suspect: it runs alone on a worker that holds nothing
       else, so that a task that kills its worker is charged when it does it
       again, and its neighbours finish */
    int known = gone->crashed && held == 1;
    for (seq = self->next_seq; seq > self->written; seq--) {
        s_slot_t *slot = s_slot (self, seq - 1);
        if (slot->task.state != FF_SLOT_SENT || slot->task.worker != gone->worker)
            continue;
        slot->task.worker = 0;
        if (gone->crashed && !known)
            slot->task.suspect = 1;
        if (!known && slot->task.attempts > 0)
            slot->task.attempts--;  /* it may not have started there */
        if (known && slot->task.attempts >= self->config.retries) {
            slot->task.state = FF_SLOT_FAILED;
            slot->task.why = gone->why;
            self->nfailed++;
            report->failed++;
        }
        else {
            slot->task.state = FF_SLOT_PENDING;
            s_push (self, seq - 1, 1);
            report->requeued++;
        }
    }
    self->resent += report->requeued;
}

size_t
ff_ledger_settle (ff_ledger_t *self, int64_t now_ms, int all,
                  ff_ledger_settled_t *settled, size_t max)
{
    assert (self);
    size_t index = 0, count = 0;
    while (index < self->ndeparted) {
        s_departed_t gone = self->departed [index];
        if (!all && now_ms < gone.due) {
            index++;
            continue;
        }
        self->departed [index] = self->departed [--self->ndeparted];
        ff_ledger_settled_t report;
        s_settle (self, &gone, &report);
        if (count < max)
            settled [count++] = report;
    }
    S_CHECK (self);
    return count;
}

int64_t
ff_ledger_settle_due (ff_ledger_t *self)
{
    assert (self);
    int64_t due = INT64_MAX;
    size_t index;
    for (index = 0; index < self->ndeparted; index++)
        if (self->departed [index].due < due)
            due = self->departed [index].due;
    return due;
}

size_t
ff_ledger_workers (ff_ledger_t *self)
{
    assert (self);
    return self->nworkers;
}

const ff_ledger_worker_t *
ff_ledger_worker_at (ff_ledger_t *self, size_t index)
{
    assert (self);
    assert (index < self->nworkers);
    return &self->workers [index];
}

const ff_ledger_worker_t *
ff_ledger_worker (ff_ledger_t *self, uint64_t id)
{
    assert (self);
    return s_worker (self, id);
}

void
ff_ledger_worker_pace (ff_ledger_t *self, size_t index, int credit,
                       double task_us, int64_t progress_us)
{
    assert (self);
    assert (index < self->nworkers && credit >= 1);
    ff_ledger_worker_t *worker = &self->workers [index];
    worker->credit = credit;
    worker->task_us = task_us;
    worker->progress_us = progress_us;
    worker->acked_now = 0;
    worker->idle_send_us = 0;
    S_CHECK (self);
}

/* ------------------------------------------------------------ dispatch */

size_t
ff_ledger_pending (ff_ledger_t *self)
{
    assert (self);
    return self->pending_count;
}

const ff_ledger_task_t *
ff_ledger_front (ff_ledger_t *self)
{
    assert (self);
    while (self->pending_count > 0) {
        uint64_t seq = self->pending [self->pending_head];
        if (s_entry_live (self, seq))
            return &s_slot (self, seq)->task;
        self->pending_head = (self->pending_head + 1) % self->window;
        self->pending_count--;
    }
    return NULL;
}

const ff_ledger_task_t *
ff_ledger_pending_at (ff_ledger_t *self, size_t index)
{
    assert (self);
    if (index >= self->pending_count)
        return NULL;
    uint64_t seq = self->pending [s_ring_at (self, index)];
    return s_entry_live (self, seq)? &s_slot (self, seq)->task: NULL;
}

uint64_t
ff_ledger_take (ff_ledger_t *self, size_t index)
{
    assert (self);
    assert (index < self->pending_count);
    size_t at = s_ring_at (self, index);
    uint64_t seq = self->pending [at];
    assert (s_entry_live (self, seq));
    self->pending [at] = self->pending [self->pending_head];
    self->pending_head = (self->pending_head + 1) % self->window;
    self->pending_count--;
    return seq;
}

void
ff_ledger_sent (ff_ledger_t *self, uint64_t worker_id, const uint64_t *seqs,
                size_t count, int64_t now_ms, int64_t now_us)
{
    assert (self);
    ff_ledger_worker_t *worker = s_worker (self, worker_id);
    assert (worker);
    size_t index;
    for (index = 0; index < count; index++) {
        s_slot_t *slot = s_live (self, seqs [index]);
        assert (slot && slot->task.state == FF_SLOT_PENDING);
        slot->task.state = FF_SLOT_SENT;
        slot->task.worker = worker_id;
        slot->task.attempts++;
        if (slot->task.suspect)
            worker->isolating = 1;
    }
    if (worker->outstanding == 0) {
        worker->busy_since = now_ms;
        worker->progress_us = now_us;
        worker->idle_send_us = now_us;
    }
    worker->outstanding += (int) count;
    S_CHECK (self);
}

void
ff_ledger_unsend (ff_ledger_t *self, uint64_t worker_id, const uint64_t *seqs,
                  size_t count, int64_t blocked_until)
{
    assert (self);
    size_t index;
    for (index = count; index > 0; index--) {
        assert (s_entry_live (self, seqs [index - 1]));
        s_push (self, seqs [index - 1], 1);
    }
    ff_ledger_worker_t *worker = s_worker (self, worker_id);
    if (worker)
        worker->blocked_until = blocked_until;
    S_CHECK (self);
}

/* ------------------------------------------------------- error records */

const ff_ledger_task_t *
ff_ledger_next_error (ff_ledger_t *self)
{
    assert (self);
    uint64_t seq;
    if (self->nfailed == 0)
        return NULL;
    for (seq = self->written; seq < self->next_seq; seq++) {
        s_slot_t *slot = s_slot (self, seq);
        if (slot->task.state == FF_SLOT_FAILED) {
            slot->task.state = FF_SLOT_ERROR;
            self->nfailed--;
            S_CHECK (self);
            return &slot->task;
        }
    }
    assert (!"nfailed counts FAILED slots");
    return NULL;
}

void
ff_ledger_unsend_error (ff_ledger_t *self, uint64_t seq)
{
    assert (self);
    s_slot_t *slot = s_live (self, seq);
    assert (slot && slot->task.state == FF_SLOT_ERROR);
    slot->task.state = FF_SLOT_FAILED;
    self->nfailed++;
    S_CHECK (self);
}

size_t
ff_ledger_failed (ff_ledger_t *self)
{
    assert (self);
    return self->nfailed;
}

/* ------------------------------------------------------------- the rest */

const ff_ledger_task_t *
ff_ledger_task (ff_ledger_t *self, uint64_t seq)
{
    assert (self);
    s_slot_t *slot = s_live (self, seq);
    return slot? &slot->task: NULL;
}

uint64_t
ff_ledger_next_seq (ff_ledger_t *self)
{
    assert (self);
    return self->next_seq;
}

uint64_t
ff_ledger_written (ff_ledger_t *self)
{
    assert (self);
    return self->written;
}

size_t
ff_ledger_window (ff_ledger_t *self)
{
    assert (self);
    return self->window;
}

size_t
ff_ledger_bytes (ff_ledger_t *self)
{
    assert (self);
    return self->bytes_in_flight;
}

uint64_t
ff_ledger_resent (ff_ledger_t *self)
{
    assert (self);
    return self->resent;
}

size_t
ff_ledger_departed (ff_ledger_t *self)
{
    assert (self);
    return self->ndeparted;
}

/* ------------------------------------------------------------ the check */

static int
s_departed_id (ff_ledger_t *self, uint64_t id)
{
    size_t index;
    for (index = 0; index < self->ndeparted; index++)
        if (self->departed [index].worker == id)
            return 1;
    return 0;
}

static int
s_seq_compare (const void *a, const void *b)
{
    uint64_t left = *(const uint64_t *) a, right = *(const uint64_t *) b;
    return left < right? -1: left > right;
}

void
ff_ledger_check (ff_ledger_t *self)
{
    assert (self);
    size_t window = self->window, index, other;
    uint64_t seq;
    size_t failed = 0, bytes = 0, pending_slots = 0;
    if (!self->check_seqs)
        self->check_seqs = (uint64_t *) malloc (window * sizeof (uint64_t));
    if (!self->check_held)
        self->check_held = (int *) malloc (2 * FF_MAX_WORKERS * sizeof (int));
    if (!self->check_ids)
        self->check_ids = (uint64_t *) malloc (FF_MAX_WORKERS * sizeof (uint64_t));
    assert (self->check_seqs && self->check_held && self->check_ids);    /* a checking build has the memory */

    assert (self->config.window <= window && window <= self->config.window_max);
    assert (self->written <= self->next_seq);
    assert (self->next_seq <= self->written + window);
    if (self->next_seq <= self->skip)
        assert (self->written == self->next_seq);

    /* slots: in-flight seqs hold their slot, the others are free */
    for (index = 0; index < window; index++) {
        const ff_ledger_task_t *task = &self->slots [index].task;
        int in_flight = task->state != FF_SLOT_FREE;
        if (!in_flight)
            continue;
        assert (task->seq >= self->written && task->seq < self->next_seq);
        assert (task->seq % window == index);
        if (task->state != FF_SLOT_DONE) {
            assert (task->input && task->data);
            bytes += task->size;
        }
        else
            assert (!task->data && !task->input);
        assert ((task->state == FF_SLOT_SENT) == (task->worker != 0));
        if (task->state == FF_SLOT_SENT) {
            assert (task->attempts >= 1 && task->attempts <= self->config.retries);
            assert (s_worker (self, task->worker) || s_departed_id (self, task->worker));
        }
        if (task->state == FF_SLOT_PENDING) {
            assert (task->attempts < self->config.retries);
            pending_slots++;
        }
        if (task->state == FF_SLOT_FAILED || task->state == FF_SLOT_ERROR)
            assert (task->failure || task->why);
        failed += task->state == FF_SLOT_FAILED;
    }
    for (seq = self->written; seq < self->next_seq; seq++)
        assert (s_slot (self, seq)->task.seq == seq
             && s_slot (self, seq)->task.state != FF_SLOT_FREE);
    assert (failed == self->nfailed);
    assert (bytes == self->bytes_in_flight);

    /* the pending queue: one live entry per PENDING slot; stale ones were
       acked while waiting; entries are distinct */
    size_t live = 0;
    assert (self->pending_count <= window);
    for (index = 0; index < self->pending_count; index++) {
        seq = self->pending [s_ring_at (self, index)];
        assert (seq < self->next_seq);
        if (s_entry_live (self, seq))
            live++;
        else
            assert (seq < self->written || s_slot (self, seq)->task.state == FF_SLOT_DONE);
        self->check_seqs [index] = seq;
    }
    assert (live == pending_slots);
    qsort (self->check_seqs, self->pending_count, sizeof (uint64_t), s_seq_compare);
    for (index = 1; index < self->pending_count; index++)
        assert (self->check_seqs [index - 1] != self->check_seqs [index]);

    /* workers: outstanding counts the SENT slots; isolation holds one suspect */
    memset (self->check_held, 0, 2 * FF_MAX_WORKERS * sizeof (int));
    for (seq = self->written; seq < self->next_seq; seq++) {
        const ff_ledger_task_t *task = &s_slot (self, seq)->task;
        ff_ledger_worker_t *holder = task->state == FF_SLOT_SENT? s_worker (self, task->worker): NULL;
        if (holder) {
            self->check_held [2 * (holder - self->workers)]++;
            self->check_held [2 * (holder - self->workers) + 1] += task->suspect;
        }
    }
    for (index = 0; index < self->nworkers; index++) {
        const ff_ledger_worker_t *worker = &self->workers [index];
        int held = self->check_held [2 * index], suspects = self->check_held [2 * index + 1];
        assert (worker->id != 0 && worker->credit >= 1);
        assert (!s_departed_id (self, worker->id));
        assert (index == 0 || self->workers [index - 1].id < worker->id);   /* id order */
        self->check_ids [index] = worker->id;
        assert (held == worker->outstanding);
        if (worker->isolating)
            assert (held == 1 && suspects == 1);
    }
    qsort (self->check_ids, self->nworkers, sizeof (uint64_t), s_seq_compare);
    for (index = 1; index < self->nworkers; index++)
        assert (self->check_ids [index - 1] != self->check_ids [index]);
    assert (self->ndeparted <= FF_LEDGER_MAX_DEPARTED);
    for (index = 0; index < self->ndeparted; index++)
        for (other = index + 1; other < self->ndeparted; other++)
            assert (self->departed [index].worker != self->departed [other].worker);
}
