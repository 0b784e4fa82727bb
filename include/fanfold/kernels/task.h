/*  Running one task: its kernel up to `retries` times until a run
    succeeds, the result in a reused buffer, and the outcome (tries,
    status, kind) as the result item and the output record carry it. The
    worker and `fanfold run --serial` both run tasks through it. */

#ifndef FANFOLD_TASK_H
#define FANFOLD_TASK_H

#include "fanfold/kernel.h"
#include "fanfold/runtime/codec.h"

#include <stdint.h>

/* How one task is run. Owned by the caller; read-only here. */
typedef struct {
    uint32_t retries;               /* runs at most (0 counts as 1) */
    int (*stopped) (void);          /* nonzero: no further try; NULL: never */
    volatile int64_t *running_since; /* set to the try's start (ff_clock_ms), 0 after; or NULL */
    int64_t first_ms;               /* ff_clock_ms of the first try's start, 0 to read the clock */
    uint64_t max_result;            /* largest result (body and meta), bytes; 0: FF_MAX_RESULT */
} ff_task_policy_t;

/* What running one task gave. */
typedef struct {
    uint32_t tries;                 /* runs made, >= 1 */
    uint32_t status;                /* FF_STATUS_OK or FF_STATUS_ERROR */
    uint32_t kind;                  /* FF_KIND_JSON for a JSON kernel's result, else FF_KIND_BYTES */
} ff_task_outcome_t;

/* Runs kernel on task until a run succeeds, at most policy->retries runs,
   fewer when policy->stopped says so between runs. A NULL kernel is one
   failed run ("unknown kernel"). out holds the last run's result (or its
   error text); outcome says how it went. A result larger than
   policy->max_result (or the task's parameter max_result=SIZE, when
   smaller) is replaced by an error naming the limit (the sink
   takes no larger one; a kernel that gives it would give it again: no
   further try). Returns 0 when a run succeeded, -1 when every run failed
   or the result was too large. */
int
    ff_task_run (const ff_kernel_t *kernel, const ff_task_t *task,
                 const ff_task_policy_t *policy, ff_result_t *out,
                 ff_task_outcome_t *outcome);

/* Returns the largest result (body and meta) of task, in bytes:
   max_result (0: FF_MAX_RESULT), or the task's parameter max_result=SIZE
   when smaller. Kernels that build large results (the detectors) stop
   once they pass it. */
uint64_t
    ff_task_max_result (const ff_task_t *task, uint64_t max_result);

/* Makes the error record of a task that cannot run (its input could not be
   read, a handle is bad): message in out, one try, FF_STATUS_ERROR,
   FF_KIND_BYTES. */
void
    ff_task_fail (const char *message, ff_result_t *out, ff_task_outcome_t *outcome);

#endif
