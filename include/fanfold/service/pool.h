/*  fanfold pool: the job table of fanfold-server. Each job has its own
    ff_ledger (what is in flight, who holds it) and its own ff_dispatch
    policy; the pool adds the workers to the ledgers of the jobs they can
    run, and chooses which job sends next: weighted round-robin over the
    jobs with pending tasks (a job sends up to `share` messages in a row),
    each job's tasks only to workers that can run its kernels, and a worker
    holds tasks of one job at a time (so that its credit is the job's, and
    a cancel names one job). No sockets and no clock: times are given.

    Invariants (ff_pool_check asserts every one, and each ledger's):
    - at most FF_MAX_JOBS jobs, ids distinct, increasing, never reused;
    - at most FF_MAX_WORKERS workers, ids distinct;
    - a live worker is in the ledger of exactly the jobs it can run (a
      py-only worker in the jobs of py: kernels, another in the others);
    - no worker holds tasks of two jobs at once;
    - a job's told list holds distinct live workers that can run it. */

#ifndef FANFOLD_POOL_H
#define FANFOLD_POOL_H

#include "fanfold/job/dispatch.h"
#include "fanfold/job/ledger.h"
#include "fanfold/runtime/codec.h"

#include <stddef.h>
#include <stdint.h>

/* Longest wire id of a job, NUL included. */
#define FF_POOL_NAME_MAX 48

/* Longest routing id kept for a job's client. */
#define FF_POOL_ROUTING_MAX 256

/* How the pool makes each job's ledger and policy. */
typedef struct {
    const char *name;               /* the pool's id: jobs are "<name>-<n>" */
    size_t window;                  /* each job's ledger window */
    size_t window_bytes;            /* each job's payload bytes in flight */
    int prefetch;                   /* dispatch: tasks a worker holds beyond one */
    int batch;                      /* dispatch: most tasks in one message */
    ff_ledger_release_fn *release;  /* each ledger's release callback, or NULL */
} ff_pool_config_t;

/* A job. Fields are the pool's, but for those marked "caller's". */
typedef struct {
    uint64_t id;                    /* from 1, never reused */
    char name [FF_POOL_NAME_MAX];   /* wire id */
    uint32_t share;                 /* weight: messages in a row when its turn comes */
    int py;                         /* its kernels are py:MODULE:FUNC ones */
    ff_ledger_t *ledger;            /* its tasks in flight */
    ff_dispatch_t *policy;          /* who gets what within it */
    uint64_t *told;                 /* workers that got its jobspec */
    size_t ntold;                   /* how many */
    uint32_t turns;                 /* messages sent in its current turn */
    int64_t total;                  /* caller's: task count, -1 until known */
    int started;                    /* caller's: the client's first ack came */
    uint8_t routing [FF_POOL_ROUTING_MAX]; /* caller's: the client's routing id */
    size_t routing_len;             /* caller's: its length */
    int64_t last_seen;              /* caller's: ms of the client's last message */
    int64_t created;                /* caller's: ms it was accepted */
    char client [64];               /* caller's: the client's host:pid */
    void *spec;                     /* caller's: kernels and params, freed by the caller */
} ff_pool_job_t;

/* A worker as the pool sees it. */
typedef struct {
    uint64_t id;                    /* the peers' id */
    int py;                         /* runs only py: kernels (hello flag bit 1) */
    int64_t blocked_until;          /* ms: its pipe refused a send */
    uint64_t done;                  /* caller's: tasks acked */
    uint64_t last_job;              /* caller's: job it last got tasks of */
} ff_pool_worker_t;

typedef struct ff_pool ff_pool_t;

/* Creates an empty pool. Returns NULL when memory runs out or the
   dispatch settings are out of range. config->name is copied. */
ff_pool_t *
    ff_pool_new (const ff_pool_config_t *config);

/* Destroys every job (their ledgers release their references) and NULLs
   the pointer. Safe on NULL. */
void
    ff_pool_destroy (ff_pool_t **self_p);

/* Asserts every invariant above. */
void
    ff_pool_check (ff_pool_t *self);

/* Returns 1 when the kernel names are all py: ones, 0 when none is, -1
   when they mix (such a job is refused). */
int
    ff_pool_kernels_py (const ff_str_t *kernels, size_t nkernels);

/* --- jobs */

/* Adds a job with share (1..FF_MAX_SHARE), py (its kernels' kind) and
   retries (>= 1), every live worker that can run it in its ledger.
   Returns the job, or NULL when FF_MAX_JOBS are held or memory ran out. */
ff_pool_job_t *
    ff_pool_job_add (ff_pool_t *self, uint32_t share, int py, uint32_t retries);

/* Removes job id and destroys its ledger. Returns 0, or -1 when unknown. */
int
    ff_pool_job_remove (ff_pool_t *self, uint64_t id);

/* The job with id, or with wire id name (len bytes); NULL when none. */
ff_pool_job_t *
    ff_pool_job (ff_pool_t *self, uint64_t id);
ff_pool_job_t *
    ff_pool_job_named (ff_pool_t *self, const char *name, size_t len);

/* Jobs held, and the one at index (the order changes on remove). */
size_t
    ff_pool_jobs (ff_pool_t *self);
ff_pool_job_t *
    ff_pool_job_at (ff_pool_t *self, size_t index);

/* Whether worker got job's jobspec (1 or 0), and marks that it did.
   tell returns 0, or -1 when memory ran out. */
int
    ff_pool_told (ff_pool_job_t *job, uint64_t worker);
int
    ff_pool_tell (ff_pool_job_t *job, uint64_t worker);

/* Forgets that worker got job's jobspec (it joined again: its job table
   is empty). */
void
    ff_pool_untell (ff_pool_job_t *job, uint64_t worker);

/* Tasks worker holds of job (0 when it is in no such ledger). */
int
    ff_pool_holds (ff_pool_job_t *job, uint64_t worker);

/* --- workers */

/* Adds a worker with credit (the dispatch's initial credit) to every job
   it can run. Returns 0, or -1 when FF_MAX_WORKERS are live, id is known
   or memory ran out. */
int
    ff_pool_worker_add (ff_pool_t *self, uint64_t id, int py);

/* A worker leaves every job it is in (ff_ledger_worker_leave, with why,
   crashed and now_ms) and the told lists. Returns 0, or -1 when unknown. */
int
    ff_pool_worker_leave (ff_pool_t *self, uint64_t id, const char *why, int crashed,
                          int64_t now_ms);

/* The worker with id, or NULL; workers, and the one at index. */
ff_pool_worker_t *
    ff_pool_worker (ff_pool_t *self, uint64_t id);
size_t
    ff_pool_workers (ff_pool_t *self);
ff_pool_worker_t *
    ff_pool_worker_at (ff_pool_t *self, size_t index);

/* The job worker holds tasks of now, or NULL. */
ff_pool_job_t *
    ff_pool_worker_job (ff_pool_t *self, uint64_t worker);

/* --- dispatch */

/* Plans the next message: the job whose turn it is, among those with
   pending tasks and a free worker that can run them (one that holds no
   task of another job); writes its id to *job, the worker to *worker
   and the seqs (room for FF_MAX_BATCH) taken from its ledger. Returns
   their count, 0 when nothing should be sent now. The caller sends them,
   then calls ff_pool_sent or ff_pool_unsend. */
size_t
    ff_pool_plan (ff_pool_t *self, int64_t now_ms, uint64_t *job, uint64_t *worker,
                  uint64_t *seqs);

/* Whether a job other than job, run by the same kind of workers, has
   tasks waiting to be sent (1 or 0). The server frees a worker's credit
   as its results pass only when none does: a worker topped up before it
   drains keeps its job, which is what a lone job wants and the others
   must not suffer; with others waiting, credit comes back with the
   client's ack, and a worker that drains takes the next job's turn. */
int
    ff_pool_others_wait (ff_pool_t *self, ff_pool_job_t *job);

/* The planned seqs went to worker (ff_ledger_sent). */
void
    ff_pool_sent (ff_pool_t *self, uint64_t job, uint64_t worker, const uint64_t *seqs,
                  size_t count, int64_t now_ms, int64_t now_us);

/* The planned seqs could not go: back to the front, worker blocked until
   blocked_until (ff_ledger_unsend). */
void
    ff_pool_unsend (ff_pool_t *self, uint64_t job, uint64_t worker, const uint64_t *seqs,
                    size_t count, int64_t blocked_until);

#endif
