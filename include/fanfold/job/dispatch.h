/*  fanfold dispatch policy: which worker gets the next tasks and how many,
    over the bookkeeping of an ff_ledger. The least-loaded worker relative
    to its credit (a rotating start breaks ties), heavy-first within a
    lookahead of the pending queue for slow tasks, a quarter of the credit
    per message (half once the credit is FF_DISPATCH_HALF_CREDIT, or
    FF_DISPATCH_MESSAGE_US of work for tasks of a few milliseconds), and
    credit sized from the pace of each worker's acks and the round trip
    through the central stages. A suspect task goes alone to a worker that
    holds nothing. No sockets and no clock: the time is given. */

#ifndef FANFOLD_DISPATCH_H
#define FANFOLD_DISPATCH_H

#include "fanfold/job/ledger.h"

#include <stddef.h>
#include <stdint.h>

/* Heavy-first dispatch looks this far into the pending queue. */
#define FF_DISPATCH_LOOKAHEAD 64

/* A worker holds about this much work, so that tiny tasks travel in
   batches and the round trip to the sink does not idle it; slow tasks keep
   the credit at prefetch + 1, which keeps the load balanced. */
#define FF_DISPATCH_QUEUE_TARGET_US 3000.0
#define FF_DISPATCH_MAX_CREDIT 2048

/* ... or, when the central stages' round trip is longer (many workers, a
   busy machine), this many round trips of work. A worker's pace comes
   from its acks, so a worker that the round trip starves paces at round
   trip ÷ credit whatever its work: sized from that pace alone, its credit
   would stay where it is (at the floor, one task a message) while the
   messages it takes keep the round trip long. Sized to twice the round
   trip, the credit of a worker that the round trip starves doubles at
   each ack until it holds a round trip of its own work. The round trip is
   the time from a send to a worker that held nothing to the first ack of
   it, so it includes one message of work: a factor of 2 against a
   message of at most a quarter of the credit cannot ratchet the credit
   of slow tasks up. */
#define FF_DISPATCH_ROUND_TRIPS 2.0

/* The round trip is a minimum that rises by 1/this of the gap at each
   longer sample: the quickest round trip is the one without work or
   queueing, and a machine that gets busier is followed within tens of
   acks. */
#define FF_DISPATCH_ROUND_TRIP_RISE 32.0

/* A worker with at least this credit takes half its credit a message,
   not a quarter: fast tasks, where each message costs the central stages
   more than the balance of smaller batches buys. The round trip comes
   only from workers under this credit: their messages hold a quarter of
   it at most, which keeps the argument above; a first ack after half a
   credit of work would raise the round trip with the credit, and the
   credit with the round trip. */
#define FF_DISPATCH_HALF_CREDIT 32

/* Tasks of a few milliseconds travel this much work a message (the
   nearest count of tasks, when it is 2 or more, and at most
   FF_DISPATCH_MESSAGE_TASKS: 10 ms tasks 4 a message, 3 ms ones 4 too),
   and a worker holds prefetch + 1 such messages. Every
   message costs each stage wake-ups (its main thread, its I/O thread,
   its peer's): some 100 us of CPU in all on a loaded machine, a few
   percent of a 3 ms task, and on 2 cores with 256 workers more than the
   work. Sized by the pace of acks, which the wake-ups slow down: at 20
   ms, 256 workers of 10 ms tasks on 2 cores pace at 15 to 20 ms a task
   and never batch. The credit may be larger (two round trips of work),
   the message is not. The cost is a tail: a result waits for its
   message's last task; at a job's end, messages of half this work or
   more go only to workers that hold nothing, each its share of what is
   left (ff_dispatch_plan), so that no task queues behind a long message
   while a worker is idle. Jobs whose task costs differ keep one slow task
   a message. */
#define FF_DISPATCH_MESSAGE_US 40000.0

/* ... and at most this many tasks a message: a worker that runs 40 ms of
   spinning tasks between two messages got about half the CPU of one that
   runs 3 or 12 ms on a machine shared with other jobs (row 3 beside two
   busy loops: 7.1 to 8.9 s against 3.8 to 7.1 s for one task a message,
   4.4 to 6.9 s for 4), while 4 a message cut the messages of 10 ms tasks
   as much as 40 ms did. Tiny tasks go by the batch, as their credit
   (FF_DISPATCH_QUEUE_TARGET_US) sends them. */
#define FF_DISPATCH_MESSAGE_TASKS 4

/* A crowd: more than FF_DISPATCH_CROWD workers per core of the machine
   that pays each message's wake-ups (ff_dispatch_config_t.cores). Then
   tasks that travel together go FF_DISPATCH_CROWD_FACTOR times the work
   and the tasks a message (10 ms tasks: 8, credit 16). The cap of 4
   keeps the share of CPU of a few workers that spin beside other jobs;
   in a crowd the workers share the cores among themselves whatever the
   message, while each message's wake-ups (the ventilator's, the sink's,
   the worker's main and I/O threads) come out of the same cores: 256
   workers of 10 ms tasks on 2 cores, 8 a message, took 1.60 s of worker
   CPU instead of 2.05 and the ventilator 0.37 s instead of 0.47
   (bench/RESULTS.md, row 4b); 16 a message bought no more. */
#define FF_DISPATCH_CROWD 16
#define FF_DISPATCH_CROWD_FACTOR 2

/* Heavy-first applies to workers whose credit is at most this: order
   matters for slow tasks only, fast ones leave no tail. */
#define FF_DISPATCH_SLOW_CREDIT 8

/* A worker that has finished nothing holds its tasks for at most this
   many times the slowest task seen (and at least the caller's floor)
   while another worker is idle: see ff_dispatch_unread. */
#define FF_DISPATCH_UNREAD_FACTOR 8

typedef struct {
    int window;                     /* the ledger's first window (credit stays <= half of
                                       the ledger's window now) */
    int prefetch;                   /* tasks a worker holds beyond one: the least credit */
    int batch;                      /* most tasks in one message, 1 .. FF_MAX_BATCH */
    int fifo;                       /* send in seq order: no heavy-first */
    int cores;                      /* cores the central stages and the workers share
                                       (the ventilator's affinity, ipc topologies), whose
                                       wake-ups each message costs; 0: unknown or workers
                                       on other hosts, never a crowd */
} ff_dispatch_config_t;

typedef struct ff_dispatch ff_dispatch_t;

/* Creates a policy. Returns NULL when memory runs out or batch is out of
   range. */
ff_dispatch_t *
    ff_dispatch_new (const ff_dispatch_config_t *config);

/* Destroys a policy and NULLs the pointer. Safe on NULL. */
void
    ff_dispatch_destroy (ff_dispatch_t **self_p);

/* The credit a new worker starts with: prefetch + 1. */
int
    ff_dispatch_initial_credit (ff_dispatch_t *self);

/* Notes a task's cost estimate: heavy-first applies once they differ. */
void
    ff_dispatch_note_cost (ff_dispatch_t *self, double cost);

/* Plans the next message: takes from ledger's pending queue the tasks
   that go to one worker now, writes its id to *worker and the seqs to
   seqs (room for FF_MAX_BATCH), and returns their count; 0 when nothing
   should be sent now (no pending task, no worker with credit, or a
   suspect at the head waits for an idle worker). The caller sends them
   and then calls ff_ledger_sent, or ff_ledger_unsend when it cannot. */
size_t
    ff_dispatch_plan (ff_dispatch_t *self, ff_ledger_t *ledger, int64_t now_ms,
                      uint64_t *worker, uint64_t *seqs);

/* Learns each worker's time per task from the acks it got since its last
   pace (now_us is the time of this ack), and the central stages' round
   trip from workers that were sent tasks while they held none (and at
   most a quarter of their credit); sizes each credit to hold about
   FF_DISPATCH_QUEUE_TARGET_US of work, or FF_DISPATCH_ROUND_TRIPS round
   trips when that is longer, and for tasks that travel together at least
   prefetch + 1 messages of FF_DISPATCH_MESSAGE_US. Call after each ack
   message. */
void
    ff_dispatch_adapt (ff_dispatch_t *self, ff_ledger_t *ledger, int64_t now_us);

/* A worker that seems not to read its task pipe: it has finished no task
   since it joined, yet has held tasks for longer than the bound, while
   another worker holds nothing and could run them. The bound is the
   larger of floor_ms (the caller's worker timeout) and
   FF_DISPATCH_UNREAD_FACTOR times the slowest task time ff_dispatch_adapt
   has seen; before any task time is known there is no bound, so a first
   long task is never taken back. Returns that worker's id (the caller
   removes it, uncharged, as one that left), or 0 when none. */
uint64_t
    ff_dispatch_unread (ff_dispatch_t *self, ff_ledger_t *ledger, int64_t now_ms,
                        int64_t floor_ms);

/* The slowest time per task seen by ff_dispatch_adapt, in us; 0 before
   any. */
double
    ff_dispatch_slowest_us (ff_dispatch_t *self);

/* The round trip ff_dispatch_adapt has learnt, in us; 0 before any. */
double
    ff_dispatch_round_trip_us (ff_dispatch_t *self);

#endif
