/*  fanfold dispatch policy over the ledger (see dispatch.h): worker
    choice, heavy-first lookahead, message size and credit. */

#include "fanfold/job/dispatch.h"
#include "fanfold/runtime/codec.h"

#include <assert.h>
#include <stdlib.h>

struct ff_dispatch {
    ff_dispatch_config_t config;    /* as given */
    size_t rotate;                  /* where the least-loaded search starts */
    double min_cost;                /* lowest estimate seen */
    double max_cost;                /* highest estimate seen: heavy-first when they differ */
    int costs_seen;                 /* min_cost and max_cost are set */
    double slowest_us;              /* the slowest time per task measured, 0: none yet */
    double round_trip_us;           /* send to a worker that held nothing → its first
                                       ack: a rising minimum, 0: none yet */
    int scale;                      /* how many times the work and tasks of a message of
                                       tasks that travel together: 1, or
                                       FF_DISPATCH_CROWD_FACTOR in a crowd (FF_DISPATCH_CROWD) */
};

ff_dispatch_t *
ff_dispatch_new (const ff_dispatch_config_t *config)
{
    assert (config);
    if (config->batch < 1 || config->batch > FF_MAX_BATCH || config->prefetch < 0
    ||  config->window < 1 || config->cores < 0)
        return NULL;
    ff_dispatch_t *self = (ff_dispatch_t *) calloc (1, sizeof (ff_dispatch_t));
    if (self) {
        self->config = *config;
        self->scale = 1;
    }
    return self;
}

void
ff_dispatch_destroy (ff_dispatch_t **self_p)
{
    if (self_p && *self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

int
ff_dispatch_initial_credit (ff_dispatch_t *self)
{
    assert (self);
    return self->config.prefetch + 1;
}

void
ff_dispatch_note_cost (ff_dispatch_t *self, double cost)
{
    assert (self);
    if (!self->costs_seen || cost < self->min_cost)
        self->min_cost = cost;
    if (!self->costs_seen || cost > self->max_cost)
        self->max_cost = cost;
    self->costs_seen = 1;
}

/* The worker with the fewest tasks relative to its credit that can take
   one, or NULL. It holds nothing when any such worker holds nothing. */
static const ff_ledger_worker_t *
s_least_loaded (ff_dispatch_t *self, ff_ledger_t *ledger, int64_t now_ms)
{
    const ff_ledger_worker_t *best = NULL;
    size_t count = ff_ledger_workers (ledger), step;
    for (step = 0; step < count; step++) {
        const ff_ledger_worker_t *worker = ff_ledger_worker_at (ledger, (self->rotate + step) % count);
        if (worker->outstanding >= worker->credit || now_ms < worker->blocked_until
        ||  worker->isolating)
            continue;
        if (!best || (int64_t) worker->outstanding * best->credit
                     < (int64_t) best->outstanding * worker->credit)
            best = worker;
        if (worker->outstanding == 0)
            break;                  /* none is less loaded: no need to look further */
    }
    self->rotate++;
    return best;
}

/* The index of the heaviest live task among the first
   FF_DISPATCH_LOOKAHEAD pending entries; the front is live. */
static size_t
s_heaviest (ff_ledger_t *ledger)
{
    size_t look = ff_ledger_pending (ledger), best = 0, index;
    double heaviest = -1;
    if (look > FF_DISPATCH_LOOKAHEAD)
        look = FF_DISPATCH_LOOKAHEAD;
    for (index = 0; index < look; index++) {
        const ff_ledger_task_t *task = ff_ledger_pending_at (ledger, index);
        if (task && task->cost > heaviest) {
            heaviest = task->cost;
            best = index;
        }
    }
    return best;
}

/* Whether the tasks of a worker of pace task_us travel together: its
   pace is known and the job's task costs do not differ (then slow tasks
   go one by one, heaviest first or in seq order, so that two heavy ones
   never queue on one worker, nor light ones behind a heavy one). */
static int
s_together (ff_dispatch_t *self, double task_us)
{
    return task_us > 0 && !(self->max_cost > self->min_cost);
}

/* Sets the scale of messages by whether ledger's workers are a crowd: more
   than FF_DISPATCH_CROWD a core, when the cores are known. */
static void
s_note_scale (ff_dispatch_t *self, ff_ledger_t *ledger)
{
    int crowd = self->config.cores > 0
             && ff_ledger_workers (ledger) > (size_t) FF_DISPATCH_CROWD * (size_t) self->config.cores;
    self->scale = crowd? FF_DISPATCH_CROWD_FACTOR: 1;
}

/* The work of a message of tasks that travel together, in us:
   FF_DISPATCH_MESSAGE_US, scale times. */
static double
s_message_us (ff_dispatch_t *self)
{
    return self->scale * FF_DISPATCH_MESSAGE_US;
}

/* The tasks of task_us that make s_message_us of work, the nearest
   count, at most FF_DISPATCH_MESSAGE_TASKS scale times and batch; 0 when
   that is less than 2. */
static int
s_work_batch (ff_dispatch_t *self, double task_us)
{
    int most = self->scale * FF_DISPATCH_MESSAGE_TASKS;
    double tasks = s_message_us (self) / task_us + 0.5;
    if (tasks < 2)
        return 0;
    if (tasks > most)
        tasks = most;
    return tasks < self->config.batch? (int) tasks: self->config.batch;
}

/* The tasks of a message that are a quarter of credit, at least 1. */
static size_t
s_quarter (int credit)
{
    return credit / 4 > 1? (size_t) credit / 4: 1;
}

/* The tasks a message of tasks of task_us holds when they travel
   together: s_work_batch when s_together, else 0. The one predicate for
   "tasks that travel together" (0: they do not, or one task makes a
   message). */
static int
s_together_batch (ff_dispatch_t *self, double task_us)
{
    return s_together (self, task_us)? s_work_batch (self, task_us): 0;
}

/* The tasks of a message of worker's tasks when they travel together:
   1 / (prefetch + 1) of its credit, at most s_together_batch of its pace
   (so at most s_work_batch's most and batch, whatever sized the
   credit); 0 when they do not travel together. */
static size_t
s_together_tasks (ff_dispatch_t *self, const ff_ledger_worker_t *worker)
{
    size_t work = (size_t) s_together_batch (self, worker->task_us);
    size_t share = (size_t) worker->credit / (size_t) (self->config.prefetch + 1);
    return share < work? share: work;
}

/* The tasks of a full message to worker. A quarter of its credit, so
   that a task that kills its worker takes few finished neighbours with
   it; from FF_DISPATCH_HALF_CREDIT on, half of it. Whenever its tasks
   travel together, s_together_tasks when that is more: that many in
   flight keep the worker busy, at fewer messages a task.
   ff_dispatch_adapt sizes the credit of tasks of a few milliseconds to
   s_message_us of work a message: each message costs every
   stage wake-ups, which for such tasks weigh more than the task. */
static size_t
s_full (ff_dispatch_t *self, const ff_ledger_worker_t *worker)
{
    size_t batch = (size_t) self->config.batch;
    size_t full = s_quarter (worker->credit);
    if (worker->credit >= FF_DISPATCH_HALF_CREDIT)
        full = (size_t) worker->credit / 2;
    full = full > batch? batch: full;
    size_t together = s_together_tasks (self, worker);
    return together > full? together: full;
}

/* How many tasks the next message to worker holds, 0 to wait: a full
   message (s_full), or what its credit has room for. Tasks that travel
   together in long messages (at least half s_message_us of
   work) go a full message at a time only while the pending queue holds a
   full message for every worker. Below that (the job's end, or a reader
   slower than the workers) a worker that holds tasks gets none until it
   has acked them all, and one that holds none gets its share of what is
   left (pending, and held by all workers), at least one task: the last
   tasks spread over the workers instead of queueing behind one worker's
   long message while another is idle. Short tasks fill their messages
   whatever the queue. A worker that holds more than its credit less a
   full message waits for a full one: it is the least loaded, so all
   can. */
static size_t
s_message_size (ff_dispatch_t *self, ff_ledger_t *ledger, const ff_ledger_worker_t *worker)
{
    size_t room = (size_t) (worker->credit - worker->outstanding);
    size_t full = s_full (self, worker);
    size_t workers = ff_ledger_workers (ledger), pending = ff_ledger_pending (ledger);
    if (s_together_tasks (self, worker) > 0
    &&  full * worker->task_us >= s_message_us (self) / 2 && pending < workers * full) {
        if (worker->outstanding > 0)
            return 0;
        size_t left = pending, index;
        for (index = 0; index < workers; index++)
            left += (size_t) ff_ledger_worker_at (ledger, index)->outstanding;
        size_t share = (left + workers - 1) / workers;
        if (share < full)
            full = share;
    }
    if (room < full && worker->outstanding >= worker->credit / 2)
        return 0;
    return room < full? room: full;
}

size_t
ff_dispatch_plan (ff_dispatch_t *self, ff_ledger_t *ledger, int64_t now_ms,
                  uint64_t *worker_id, uint64_t *seqs)
{
    assert (self && ledger && worker_id && seqs);
    if (!ff_ledger_front (ledger))
        return 0;
    s_note_scale (self, ledger);
    const ff_ledger_worker_t *worker = s_least_loaded (self, ledger, now_ms);
    if (!worker)
        return 0;
    int heavy_first = !self->config.fifo && worker->credit <= FF_DISPATCH_SLOW_CREDIT
                   && self->max_cost > self->min_cost;
    const ff_ledger_task_t *first = ff_ledger_pending_at (ledger, heavy_first? s_heaviest (ledger): 0);
    /* a suspect runs alone on a worker that holds nothing: the least loaded
       holds something only when every worker does */
    if (first->suspect && worker->outstanding > 0)
        return 0;
    size_t limit = s_message_size (self, ledger, worker), count = 0;
    while (count < limit && ff_ledger_front (ledger)) {
        size_t index = heavy_first? s_heaviest (ledger): 0;
        const ff_ledger_task_t *task = ff_ledger_pending_at (ledger, index);
        if (task->suspect && count > 0)
            break;                  /* it goes next, alone */
        seqs [count++] = ff_ledger_take (ledger, index);
        if (task->suspect)
            break;
    }
    *worker_id = worker->id;
    return count;
}

/* Takes a round-trip sample: a new minimum at once, a longer one by
   1/FF_DISPATCH_ROUND_TRIP_RISE of the gap. */
static void
s_note_round_trip (ff_dispatch_t *self, double sample)
{
    if (self->round_trip_us <= 0 || sample < self->round_trip_us)
        self->round_trip_us = sample;
    else
        self->round_trip_us += (sample - self->round_trip_us) / FF_DISPATCH_ROUND_TRIP_RISE;
}

void
ff_dispatch_adapt (ff_dispatch_t *self, ff_ledger_t *ledger, int64_t now_us)
{
    assert (self && ledger);
    int floor = self->config.prefetch + 1;
    size_t window = ff_ledger_window (ledger);     /* it grows as workers join */
    int ceiling = window / 2 < FF_DISPATCH_MAX_CREDIT? (int) (window / 2): FF_DISPATCH_MAX_CREDIT;
    if (ceiling < floor)
        ceiling = floor;
    s_note_scale (self, ledger);
    size_t count = ff_ledger_workers (ledger), index;
    for (index = 0; index < count; index++) {
        const ff_ledger_worker_t *worker = ff_ledger_worker_at (ledger, index);
        /* a worker sent more than a quarter of its credit a message
           (half of it from FF_DISPATCH_HALF_CREDIT, or its tasks travel
           together): its first ack came after that much work, which would
           ratchet the credit up (see dispatch.h) */
        if (worker->acked_now && worker->idle_send_us > 0 && now_us > worker->idle_send_us
        &&  s_full (self, worker) <= s_quarter (worker->credit))
            s_note_round_trip (self, (double) (now_us - worker->idle_send_us));
    }
    double target = FF_DISPATCH_ROUND_TRIPS * self->round_trip_us;
    if (target < FF_DISPATCH_QUEUE_TARGET_US)
        target = FF_DISPATCH_QUEUE_TARGET_US;
    for (index = 0; index < count; index++) {
        const ff_ledger_worker_t *worker = ff_ledger_worker_at (ledger, index);
        if (!worker->acked_now)
            continue;
        int credit = worker->credit;
        double task_us = worker->task_us;
        if (worker->progress_us > 0 && now_us > worker->progress_us) {
            double sample = (double) (now_us - worker->progress_us) / worker->acked_now;
            if (sample > self->slowest_us)
                self->slowest_us = sample;
            task_us = task_us > 0? 0.7 * task_us + 0.3 * sample: sample;
            double wanted = target / (task_us > 1? task_us: 1);
            credit = wanted < floor? floor: wanted > ceiling? ceiling: (int) wanted;
            /* tasks that travel together: prefetch + 1 messages of
               s_message_us of work at least */
            int by_work = s_together_batch (self, task_us) * floor;
            if (credit < by_work)
                credit = by_work < ceiling? by_work: ceiling;
        }
        ff_ledger_worker_pace (ledger, index, credit, task_us,
                               worker->outstanding > 0? now_us: 0);
    }
}

uint64_t
ff_dispatch_unread (ff_dispatch_t *self, ff_ledger_t *ledger, int64_t now_ms, int64_t floor_ms)
{
    assert (self && ledger);
    size_t count = ff_ledger_workers (ledger), index;
    const ff_ledger_worker_t *stalled = NULL;
    int idle = 0;
    if (self->slowest_us <= 0)
        return 0;
    int64_t bound = (int64_t) (FF_DISPATCH_UNREAD_FACTOR * self->slowest_us / 1000);
    if (bound < floor_ms)
        bound = floor_ms;
    for (index = 0; index < count; index++) {
        const ff_ledger_worker_t *worker = ff_ledger_worker_at (ledger, index);
        if (worker->outstanding == 0)
            idle = 1;
        else
        if (worker->done == 0 && now_ms - worker->busy_since > bound && !stalled)
            stalled = worker;
    }
    return idle && stalled? stalled->id: 0;
}

double
ff_dispatch_slowest_us (ff_dispatch_t *self)
{
    assert (self);
    return self->slowest_us;
}

double
ff_dispatch_round_trip_us (ff_dispatch_t *self)
{
    assert (self);
    return self->round_trip_us;
}
