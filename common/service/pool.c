/*  fanfold pool: the job table of fanfold-server; see pool.h. Organised
    as: the table, jobs, workers, dispatch, and the check. */

#include "fanfold/service/pool.h"
#include "fanfold/runtime/limits.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct ff_pool {
    ff_pool_config_t config;        /* as given; name copied below */
    char name [FF_POOL_NAME_MAX - 12]; /* the pool's id */
    ff_pool_job_t *jobs [FF_MAX_JOBS]; /* held jobs, in the order they came */
    size_t njobs;                   /* how many */
    uint64_t next_id;               /* the next job's id */
    size_t cursor;                  /* round-robin: index of the job whose turn it is */
    ff_pool_worker_t *workers;      /* live workers */
    size_t nworkers;                /* how many */
    size_t workers_cap;             /* allocated */
};

ff_pool_t *
ff_pool_new (const ff_pool_config_t *config)
{
    assert (config && config->name);
    if (config->window < 1 || config->batch < 1 || config->batch > FF_MAX_BATCH
    ||  config->prefetch < 0)
        return NULL;
    ff_pool_t *self = (ff_pool_t *) calloc (1, sizeof (ff_pool_t));
    if (!self)
        return NULL;
    self->config = *config;
    snprintf (self->name, sizeof (self->name), "%s", config->name);
    self->config.name = self->name;
    self->next_id = 1;
    return self;
}

static void
s_job_free (ff_pool_job_t **job_p)
{
    ff_pool_job_t *job = *job_p;
    if (job) {
        ff_ledger_destroy (&job->ledger);
        ff_dispatch_destroy (&job->policy);
        free (job->told);
        free (job);
        *job_p = NULL;
    }
}

void
ff_pool_destroy (ff_pool_t **self_p)
{
    if (self_p && *self_p) {
        ff_pool_t *self = *self_p;
        size_t index;
        for (index = 0; index < self->njobs; index++)
            s_job_free (&self->jobs [index]);
        free (self->workers);
        free (self);
        *self_p = NULL;
    }
}

int
ff_pool_kernels_py (const ff_str_t *kernels, size_t nkernels)
{
    size_t index, py = 0;
    for (index = 0; index < nkernels; index++)
        if (kernels [index].len >= 3 && memcmp (kernels [index].ptr, "py:", 3) == 0)
            py++;
    return py == 0? 0: py == nkernels? 1: -1;
}

/* ------------------------------------------------------------------ jobs */

static int
s_can_run (const ff_pool_worker_t *worker, const ff_pool_job_t *job)
{
    return worker->py == job->py;
}

ff_pool_job_t *
ff_pool_job_add (ff_pool_t *self, uint32_t share, int py, uint32_t retries)
{
    assert (self);
    assert (share >= 1 && retries >= 1);
    if (self->njobs == FF_MAX_JOBS)
        return NULL;
    ff_pool_job_t *job = (ff_pool_job_t *) calloc (1, sizeof (ff_pool_job_t));
    if (!job)
        return NULL;
    ff_ledger_config_t ledger = {
        .window = self->config.window, .window_bytes = self->config.window_bytes,
        .retries = retries, .release = self->config.release
    };
    ff_dispatch_config_t policy = {
        .window = (int) self->config.window, .prefetch = self->config.prefetch,
        .batch = self->config.batch, .fifo = 0
    };
    job->ledger = ff_ledger_new (&ledger);
    job->policy = ff_dispatch_new (&policy);
    if (!job->ledger || !job->policy)
        goto fail;
    size_t index;
    job->py = py? 1: 0;
    for (index = 0; index < self->nworkers; index++)
        if (s_can_run (&self->workers [index], job)
        &&  ff_ledger_worker_add (job->ledger, self->workers [index].id,
                                  ff_dispatch_initial_credit (job->policy)))
            goto fail;
    job->id = self->next_id++;
    job->share = share;
    job->total = -1;
    snprintf (job->name, sizeof (job->name), "%s-%" PRIu64, self->name, job->id);
    self->jobs [self->njobs++] = job;
    return job;
fail:
    s_job_free (&job);
    return NULL;
}

static size_t
s_job_index (ff_pool_t *self, uint64_t id)
{
    size_t index;
    for (index = 0; index < self->njobs; index++)
        if (self->jobs [index]->id == id)
            return index;
    return SIZE_MAX;
}

int
ff_pool_job_remove (ff_pool_t *self, uint64_t id)
{
    assert (self);
    size_t index = s_job_index (self, id);
    if (index == SIZE_MAX)
        return -1;
    s_job_free (&self->jobs [index]);
    /* keep the order (the round-robin walks it) */
    memmove (self->jobs + index, self->jobs + index + 1,
             (self->njobs - index - 1) * sizeof (ff_pool_job_t *));
    self->njobs--;
    if (self->cursor > index)
        self->cursor--;
    if (self->cursor >= self->njobs)
        self->cursor = 0;
    return 0;
}

ff_pool_job_t *
ff_pool_job (ff_pool_t *self, uint64_t id)
{
    size_t index = s_job_index (self, id);
    return index == SIZE_MAX? NULL: self->jobs [index];
}

ff_pool_job_t *
ff_pool_job_named (ff_pool_t *self, const char *name, size_t len)
{
    size_t index;
    for (index = 0; index < self->njobs; index++)
        if (strlen (self->jobs [index]->name) == len
        &&  memcmp (self->jobs [index]->name, name, len) == 0)
            return self->jobs [index];
    return NULL;
}

size_t
ff_pool_jobs (ff_pool_t *self)
{
    return self->njobs;
}

ff_pool_job_t *
ff_pool_job_at (ff_pool_t *self, size_t index)
{
    return index < self->njobs? self->jobs [index]: NULL;
}

int
ff_pool_told (ff_pool_job_t *job, uint64_t worker)
{
    size_t index;
    for (index = 0; index < job->ntold; index++)
        if (job->told [index] == worker)
            return 1;
    return 0;
}

int
ff_pool_tell (ff_pool_job_t *job, uint64_t worker)
{
    if (ff_pool_told (job, worker))
        return 0;
    uint64_t *grown = (uint64_t *) realloc (job->told, (job->ntold + 1) * sizeof (uint64_t));
    if (!grown)
        return -1;
    job->told = grown;
    job->told [job->ntold++] = worker;
    return 0;
}

void
ff_pool_untell (ff_pool_job_t *job, uint64_t worker)
{
    size_t index;
    for (index = 0; index < job->ntold; index++)
        if (job->told [index] == worker) {
            job->told [index] = job->told [--job->ntold];
            return;
        }
}

int
ff_pool_holds (ff_pool_job_t *job, uint64_t worker)
{
    const ff_ledger_worker_t *held = ff_ledger_worker (job->ledger, worker);
    return held? held->outstanding: 0;
}

/* --------------------------------------------------------------- workers */

ff_pool_worker_t *
ff_pool_worker (ff_pool_t *self, uint64_t id)
{
    size_t index;
    for (index = 0; index < self->nworkers; index++)
        if (self->workers [index].id == id)
            return &self->workers [index];
    return NULL;
}

size_t
ff_pool_workers (ff_pool_t *self)
{
    return self->nworkers;
}

ff_pool_worker_t *
ff_pool_worker_at (ff_pool_t *self, size_t index)
{
    return index < self->nworkers? &self->workers [index]: NULL;
}

int
ff_pool_worker_add (ff_pool_t *self, uint64_t id, int py)
{
    assert (self);
    assert (id != 0);
    size_t index;
    if (self->nworkers == FF_MAX_WORKERS || ff_pool_worker (self, id))
        return -1;
    if (self->nworkers == self->workers_cap) {
        size_t cap = self->workers_cap? 2 * self->workers_cap: 16;
        ff_pool_worker_t *grown = (ff_pool_worker_t *) realloc (self->workers,
                                                              cap * sizeof (ff_pool_worker_t));
        if (!grown)
            return -1;
        self->workers = grown;
        self->workers_cap = cap;
    }
    ff_pool_worker_t worker = { .id = id, .py = py? 1: 0 };
    for (index = 0; index < self->njobs; index++) {
        ff_pool_job_t *job = self->jobs [index];
        if (s_can_run (&worker, job)
        &&  ff_ledger_worker_add (job->ledger, id, ff_dispatch_initial_credit (job->policy))) {
            /* undo: it leaves the jobs it joined, holding nothing */
            while (index-- > 0)
                if (s_can_run (&worker, self->jobs [index]))
                    ff_ledger_worker_leave (self->jobs [index]->ledger, id, "could not join",
                                            0, 0);
            return -1;
        }
    }
    self->workers [self->nworkers++] = worker;
    return 0;
}

int
ff_pool_worker_leave (ff_pool_t *self, uint64_t id, const char *why, int crashed,
                      int64_t now_ms)
{
    assert (self);
    ff_pool_worker_t *worker = ff_pool_worker (self, id);
    size_t index;
    if (!worker)
        return -1;
    for (index = 0; index < self->njobs; index++) {
        ff_pool_job_t *job = self->jobs [index];
        ff_pool_untell (job, id);
        if (!ff_ledger_worker (job->ledger, id))
            continue;
        if (ff_ledger_departed (job->ledger) == FF_LEDGER_MAX_DEPARTED) {
            ff_ledger_settled_t settled [FF_LEDGER_MAX_DEPARTED];
            ff_ledger_settle (job->ledger, now_ms, 1, settled, FF_LEDGER_MAX_DEPARTED);
        }
        ff_ledger_worker_leave (job->ledger, id, why, crashed, now_ms);
    }
    *worker = self->workers [--self->nworkers];
    return 0;
}

ff_pool_job_t *
ff_pool_worker_job (ff_pool_t *self, uint64_t worker)
{
    size_t index;
    for (index = 0; index < self->njobs; index++)
        if (ff_pool_holds (self->jobs [index], worker) > 0)
            return self->jobs [index];
    return NULL;
}

/* -------------------------------------------------------------- dispatch */

int
ff_pool_others_wait (ff_pool_t *self, ff_pool_job_t *job)
{
    assert (self && job);
    size_t index;
    for (index = 0; index < self->njobs; index++)
        if (self->jobs [index] != job && self->jobs [index]->py == job->py
        &&  ff_ledger_pending (self->jobs [index]->ledger) > 0)
            return 1;
    return 0;
}

/* Before job plans: a worker that holds tasks of another job is blocked
   for this plan; the others get their own blocked_until back. */
static void
s_block_busy (ff_pool_t *self, ff_pool_job_t *job, int64_t now_ms)
{
    size_t index, count = ff_ledger_workers (job->ledger);
    for (index = 0; index < count; index++) {
        const ff_ledger_worker_t *held = ff_ledger_worker_at (job->ledger, index);
        ff_pool_worker_t *worker = ff_pool_worker (self, held->id);
        ff_pool_job_t *busy = held->outstanding? job: ff_pool_worker_job (self, held->id);
        int64_t until = busy && busy != job? now_ms + 1: worker? worker->blocked_until: 0;
        if (held->blocked_until != until)
            ff_ledger_unsend (job->ledger, held->id, NULL, 0, until);
    }
}

size_t
ff_pool_plan (ff_pool_t *self, int64_t now_ms, uint64_t *job_id, uint64_t *worker,
              uint64_t *seqs)
{
    assert (self);
    size_t pass;
    for (pass = 0; pass < self->njobs; pass++) {
        if (self->cursor >= self->njobs)
            self->cursor = 0;
        ff_pool_job_t *job = self->jobs [self->cursor];
        if (ff_ledger_pending (job->ledger) > 0 && ff_ledger_workers (job->ledger) > 0) {
            s_block_busy (self, job, now_ms);
            size_t count = ff_dispatch_plan (job->policy, job->ledger, now_ms, worker, seqs);
            if (count > 0) {
                *job_id = job->id;
                if (++job->turns >= job->share) {
                    job->turns = 0;
                    self->cursor++;
                }
                return count;
            }
        }
        job->turns = 0;
        self->cursor++;
    }
    return 0;
}

void
ff_pool_sent (ff_pool_t *self, uint64_t job_id, uint64_t worker, const uint64_t *seqs,
              size_t count, int64_t now_ms, int64_t now_us)
{
    ff_pool_job_t *job = ff_pool_job (self, job_id);
    assert (job);
    ff_ledger_sent (job->ledger, worker, seqs, count, now_ms, now_us);
    ff_pool_worker_t *held = ff_pool_worker (self, worker);
    if (held)
        held->last_job = job_id;
}

void
ff_pool_unsend (ff_pool_t *self, uint64_t job_id, uint64_t worker, const uint64_t *seqs,
                size_t count, int64_t blocked_until)
{
    ff_pool_job_t *job = ff_pool_job (self, job_id);
    assert (job);
    ff_ledger_unsend (job->ledger, worker, seqs, count, blocked_until);
    ff_pool_worker_t *held = ff_pool_worker (self, worker);
    if (held)
        held->blocked_until = blocked_until;
}

/* ----------------------------------------------------------------- check */

void
ff_pool_check (ff_pool_t *self)
{
    size_t index, other, at;
    assert (self->njobs <= FF_MAX_JOBS);
    assert (self->nworkers <= FF_MAX_WORKERS);
    for (index = 0; index < self->njobs; index++) {
        ff_pool_job_t *job = self->jobs [index];
        ff_ledger_check (job->ledger);
        assert (job->id > 0 && job->id < self->next_id);
        assert (index == 0 || self->jobs [index - 1]->id < job->id);
        assert (job->share >= 1);
        /* its ledger holds exactly the live workers that can run it */
        size_t eligible = 0;
        for (other = 0; other < self->nworkers; other++) {
            int in = ff_ledger_worker (job->ledger, self->workers [other].id) != NULL;
            assert (in == s_can_run (&self->workers [other], job));
            eligible += (size_t) in;
        }
        assert (ff_ledger_workers (job->ledger) == eligible);
        for (at = 0; at < job->ntold; at++) {
            ff_pool_worker_t *worker = ff_pool_worker (self, job->told [at]);
            assert (worker && s_can_run (worker, job));
            for (other = at + 1; other < job->ntold; other++)
                assert (job->told [other] != job->told [at]);
        }
    }
    for (index = 0; index < self->nworkers; index++) {
        size_t holding = 0;
        for (other = index + 1; other < self->nworkers; other++)
            assert (self->workers [other].id != self->workers [index].id);
        for (other = 0; other < self->njobs; other++)
            holding += ff_pool_holds (self->jobs [other], self->workers [index].id) > 0;
        assert (holding <= 1);
    }
}
