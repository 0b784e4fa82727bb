/*  fanfold ledger: the tasks of one job that are in flight. A ring of
    `window` slots (seq % window), which grows (doubling) to
    window_per_worker slots per live worker, at most window_max, as workers
    join, and never shrinks; a queue of tasks waiting to be sent, what
    each worker holds, workers that left and wait to be settled, and the
    error records the job owes the sink. No sockets, no clock: every
    operation that needs the time is given it, and operations say what the
    caller must do (send these error records) instead of doing it.

    Invariants (ff_ledger_check asserts every one):
    - config.window <= window <= window_max.
    - written <= next_seq <= written + window. Every seq below written is
      written by the sink; seqs in [written, next_seq) are in flight.
    - The slot of an in-flight seq holds that seq in a state other than
      FF_SLOT_FREE; every other slot is FF_SLOT_FREE.
    - Every FF_SLOT_PENDING slot has exactly one entry in the pending queue.
      An entry may be stale (its slot no longer PENDING at that seq) only
      because its task was acked while it waited, a late result of a worker
      that had left: its slot is then DONE, or the seq is below written.
      Entries are distinct seqs and pending_count <= window: stale entries
      are dropped when they reach the front and when the queue fills.
    - A FF_SLOT_SENT slot is held by a live worker or by a departed one not
      yet settled; a live worker's outstanding count equals the SENT slots
      it holds. A SENT slot has 1 <= attempts <= retries; a PENDING one has
      attempts < retries.
    - A worker is isolating only while it holds exactly one task, a suspect.
    - nfailed equals the FF_SLOT_FAILED slots; bytes_in_flight equals the
      payload bytes of slots not yet DONE.
    - Departed workers are at most FF_LEDGER_MAX_DEPARTED, distinct, and
      none of them is live.
    - Below skip (a resumed job), created seqs are written at once. */

#ifndef FANFOLD_LEDGER_H
#define FANFOLD_LEDGER_H

#include <stddef.h>
#include <stdint.h>

/* A departed worker's tasks are settled this long after it went: by then
   the results it sent before it went have been acked. */
#define FF_LEDGER_SETTLE_MS 300

/* Departed workers waiting to be settled; one more settles them all. */
#define FF_LEDGER_MAX_DEPARTED 64

/* A slot keeps a payload buffer up to this size for its next task, so
   that small tasks cost no malloc; a bigger one is freed when done. */
#define FF_LEDGER_SLOT_KEEP 4096

typedef enum {
    FF_SLOT_FREE = 0,               /* no task */
    FF_SLOT_PENDING,                /* waiting in the pending queue to be sent (again) */
    FF_SLOT_SENT,                   /* held by a worker (live, or departed and not settled) */
    FF_SLOT_FAILED,                 /* failed for good: its error record is still to be sent */
    FF_SLOT_ERROR,                  /* its error record went to the sink; held by no worker */
    FF_SLOT_DONE                    /* acked by the sink, not yet written */
} ff_slot_state_t;

/* One task, as the ledger shows it (read-only to callers). */
typedef struct {
    uint64_t seq;                   /* sequence number */
    ff_slot_state_t state;          /* see above */
    uint32_t kernel;                /* kernel index */
    const char *input;              /* input name; NULL once DONE */
    const uint8_t *data;            /* payload; NULL once DONE */
    size_t size;                    /* payload bytes */
    void *ref;                      /* the caller's reference (an array source), or NULL */
    uint32_t chunk;                 /* chunk of the source */
    uint32_t chunks;                /* chunks of the source (1: whole) */
    uint64_t worker;                /* holder while SENT, else 0 */
    uint32_t attempts;              /* times sent and charged */
    int suspect;                    /* a worker died holding it and others: it runs
                                       alone on an otherwise idle worker */
    double cost;                    /* the kernel's estimate: heavier goes first */
    const char *failure;            /* FAILED/ERROR: the reason given at creation, or NULL */
    const char *why;                /* FAILED/ERROR after retries: why its last worker went */
} ff_ledger_task_t;

/* A worker as the ledger sees it (read-only to callers). */
typedef struct {
    uint64_t id;                    /* worker id, never 0 */
    int outstanding;                /* SENT slots it holds */
    int credit;                     /* tasks it may hold, >= 1 */
    int isolating;                  /* it holds a suspect alone and gets nothing else */
    int64_t busy_since;             /* ms: its current task started (sent or last ack) */
    int64_t blocked_until;          /* ms: its pipe refused a send: none before then */
    uint64_t done;                  /* tasks it finished */
    double task_us;                 /* smoothed time per task, 0 until known */
    int64_t progress_us;            /* us: start of the current pace measurement, 0: none */
    uint32_t acked_now;             /* tasks acked since its pace was last set */
    int64_t idle_send_us;           /* us: it was sent tasks while it held none and its
                                       pace was not set since (the round trip starts
                                       here), 0: not so */
} ff_ledger_worker_t;

/* A departed worker that was settled: for the caller's log. */
typedef struct {
    uint64_t worker;                /* its id */
    const char *why;                /* why it went (the caller's literal) */
    uint64_t requeued;              /* tasks sent back to the pending queue */
    uint64_t failed;                /* tasks that became error records */
} ff_ledger_settled_t;

/* Releases a task's reference when its slot is freed. */
typedef void (ff_ledger_release_fn) (void *ref, void *arg);

typedef struct {
    size_t window;                  /* slots: tasks in flight, >= 1, at first */
    size_t window_per_worker;       /* the window grows to this many slots per live
                                       worker (0: it never grows) ... */
    size_t window_max;              /* ... up to this (below window: window) */
    size_t window_bytes;            /* payload bytes in flight before creation waits */
    uint32_t retries;               /* charged runs of a task before its error record, >= 1 */
    ff_ledger_release_fn *release;  /* called on each ref when its slot is freed, or NULL */
    void *release_arg;              /* its second argument */
} ff_ledger_config_t;

typedef struct ff_ledger ff_ledger_t;

/* Creates a ledger. Returns NULL when memory runs out. */
ff_ledger_t *
    ff_ledger_new (const ff_ledger_config_t *config);

/* Destroys a ledger, releasing every reference it holds, and NULLs the
   pointer. Safe on NULL. */
void
    ff_ledger_destroy (ff_ledger_t **self_p);

/* Asserts every invariant above. O(window + workers log workers). A
   build with -DFF_CHECK_INVARIANTS runs it after every operation that
   changes the ledger (=N: after every Nth); tests call it themselves. */
void
    ff_ledger_check (ff_ledger_t *self);

/* --- creation */

/* Sets how many seqs an earlier run of the job wrote; before any create. */
void
    ff_ledger_set_skip (ff_ledger_t *self, uint64_t skip);

/* Returns 1 when count more tasks may be created now (the window and the
   byte budget allow it), else 0. */
int
    ff_ledger_room (ff_ledger_t *self, size_t count);

typedef enum {
    FF_LEDGER_CREATED,              /* the task waits in the pending queue (or is FAILED) */
    FF_LEDGER_SKIPPED,              /* below skip: counted as written */
    FF_LEDGER_NO_MEMORY             /* nothing created */
} ff_ledger_create_t;

/* Creates task next_seq: copies input and data, holds ref (released
   through the config's callback when the slot is freed, also on
   FF_LEDGER_SKIPPED; on FF_LEDGER_NO_MEMORY the caller keeps it). With
   failure != NULL the task is FAILED at once: an error record carrying
   failure. Call only when ff_ledger_room allows. */
ff_ledger_create_t
    ff_ledger_create (ff_ledger_t *self, uint32_t kernel, const char *input,
                      const void *data, size_t size, void *ref, uint32_t chunk,
                      uint32_t chunks, double cost, const char *failure);

/* --- the sink */

typedef enum {
    FF_LEDGER_ACKED,                /* the task became DONE */
    FF_LEDGER_ACK_IGNORED           /* unknown seq, or already DONE */
} ff_ledger_ack_t;

/* Marks seq acked by the sink; its holder, if live, gets its credit back. */
ff_ledger_ack_t
    ff_ledger_ack (ff_ledger_t *self, uint64_t seq, int64_t now_ms);

/* Moves written forward to mark (the sink wrote every seq below it):
   those slots are freed. Returns 0, or -1 when mark > next_seq (refused,
   nothing changes). A mark at or below written changes nothing. */
int
    ff_ledger_advance (ff_ledger_t *self, uint64_t mark, int64_t now_ms);

/* --- workers */

/* Adds a worker that may hold credit tasks, and grows the window to
   window_per_worker slots per live worker (at most window_max; when
   memory runs out it stays as it is). Returns 0, or -1 when
   FF_MAX_WORKERS are live. id must be new (never added before). */
int
    ff_ledger_worker_add (ff_ledger_t *self, uint64_t id, int credit);

/* Removes a live worker; the tasks it holds are settled at
   now_ms + FF_LEDGER_SETTLE_MS (or at once, with the others, when
   FF_LEDGER_MAX_DEPARTED already wait). crashed: it died or hung, so a task
   it held may have ended it; else it said bye. why must outlive the ledger
   (a literal). Returns 0, or -1 when id is not live. */
int
    ff_ledger_worker_leave (ff_ledger_t *self, uint64_t id, const char *why,
                            int crashed, int64_t now_ms);

/* Settles departed workers whose time has come (all of them with all):
   each task one still holds goes back to the front of the pending queue,
   lowest seq first. When a crashed worker held exactly one task, that task
   is charged (and FAILED once it used its retries); otherwise no task is
   charged (an attempt is given back) and, if it crashed, each becomes a
   suspect. Fills up to max entries of settled; returns how many. */
size_t
    ff_ledger_settle (ff_ledger_t *self, int64_t now_ms, int all,
                      ff_ledger_settled_t *settled, size_t max);

/* Returns the earliest time a departed worker is due, or INT64_MAX. */
int64_t
    ff_ledger_settle_due (ff_ledger_t *self);

/* Live workers, and the one at index (0 .. count - 1), in id order (an
   ack finds its holder by binary search): indexes move when a worker
   joins or leaves. */
size_t
    ff_ledger_workers (ff_ledger_t *self);
const ff_ledger_worker_t *
    ff_ledger_worker_at (ff_ledger_t *self, size_t index);

/* Returns the live worker with id, or NULL. */
const ff_ledger_worker_t *
    ff_ledger_worker (ff_ledger_t *self, uint64_t id);

/* Sets the pace of the worker at index: its credit (>= 1), its time per
   task and the start of its next measurement; acked_now and idle_send_us
   go back to 0. */
void
    ff_ledger_worker_pace (ff_ledger_t *self, size_t index, int credit,
                           double task_us, int64_t progress_us);

/* --- dispatch */

/* Pending queue entries, live or stale. */
size_t
    ff_ledger_pending (ff_ledger_t *self);

/* Drops stale entries at the front of the pending queue and returns the
   task at the front, or NULL when the queue is empty. */
const ff_ledger_task_t *
    ff_ledger_front (ff_ledger_t *self);

/* The task of pending entry index (0: the front), or NULL when the entry
   is stale or index >= ff_ledger_pending. */
const ff_ledger_task_t *
    ff_ledger_pending_at (ff_ledger_t *self, size_t index);

/* Takes the live entry index out of the pending queue (the front moves to
   its place) and returns its seq. The task stays PENDING until
   ff_ledger_sent or ff_ledger_unsend. */
uint64_t
    ff_ledger_take (ff_ledger_t *self, size_t index);

/* Records that worker now holds the taken tasks seqs [0 .. count - 1]:
   they are SENT, one more attempt each; a suspect among them isolates the
   worker. now_us starts a pace measurement, and is its idle_send_us, when
   it held nothing. */
void
    ff_ledger_sent (ff_ledger_t *self, uint64_t worker, const uint64_t *seqs,
                    size_t count, int64_t now_ms, int64_t now_us);

/* Puts the taken tasks seqs back at the front of the pending queue, in
   their order, uncharged (their message could not be sent to worker); the
   worker gets nothing before blocked_until (ms). */
void
    ff_ledger_unsend (ff_ledger_t *self, uint64_t worker, const uint64_t *seqs,
                      size_t count, int64_t blocked_until);

/* --- error records */

/* Returns the lowest FAILED task, now ERROR (its record is the caller's to
   send), or NULL when none is left. */
const ff_ledger_task_t *
    ff_ledger_next_error (ff_ledger_t *self);

/* Puts the ERROR task seq back to FAILED: its record, just returned by
   ff_ledger_next_error, could not be sent (the sink's pipe was full), so
   ff_ledger_next_error returns it again. seq must be an ERROR task. */
void
    ff_ledger_unsend_error (ff_ledger_t *self, uint64_t seq);

/* FAILED tasks: error records still to send. */
size_t
    ff_ledger_failed (ff_ledger_t *self);

/* --- the rest */

/* The task of an in-flight seq, or NULL. */
const ff_ledger_task_t *
    ff_ledger_task (ff_ledger_t *self, uint64_t seq);

uint64_t
    ff_ledger_next_seq (ff_ledger_t *self);
uint64_t
    ff_ledger_written (ff_ledger_t *self);
/* The window now: it grows as workers join. */
size_t
    ff_ledger_window (ff_ledger_t *self);
size_t
    ff_ledger_bytes (ff_ledger_t *self);
/* Tasks sent back to the pending queue after their worker went. */
uint64_t
    ff_ledger_resent (ff_ledger_t *self);
/* Departed workers not yet settled. */
size_t
    ff_ledger_departed (ff_ledger_t *self);

#endif
