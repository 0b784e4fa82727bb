/*  Running one task with its retries; see task.h. */

#include "fanfold/kernels/task.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/topology.h"

#include <assert.h>
#include <inttypes.h>
#include <stdio.h>

int
ff_task_run (const ff_kernel_t *kernel, const ff_task_t *task, const ff_task_policy_t *policy,
             ff_result_t *out, ff_task_outcome_t *outcome)
{
    int rc;
    assert (task && policy && out && outcome);
    outcome->tries = 0;
    do {
        if (policy->running_since)
            *policy->running_since = outcome->tries == 0 && policy->first_ms > 0
                                   ? policy->first_ms: ff_clock_ms ();
        rc = ff_kernels_run (kernel, task, out);
        if (policy->running_since)
            *policy->running_since = 0;
        outcome->tries++;
    } while (rc != 0 && kernel && outcome->tries < policy->retries
             && !(policy->stopped && policy->stopped ()));
    outcome->status = rc == 0? FF_STATUS_OK: FF_STATUS_ERROR;
    outcome->kind = kernel && (kernel->flags & FF_KERNEL_JSON)? FF_KIND_JSON: FF_KIND_BYTES;
    uint64_t limit = ff_task_max_result (task, policy->max_result);
    uint64_t size = (uint64_t) out->data.size + out->meta.size;
    if (size > limit) {
        char message [160];
        snprintf (message, sizeof (message), "result of %" PRIu64 " bytes exceeds the limit of %"
                  PRIu64 " bytes of one result", size, limit);
        uint32_t tries = outcome->tries;
        ff_result_reset (out, 0);   /* the large buffer goes now */
        ff_task_fail (message, out, outcome);
        outcome->tries = tries;
        rc = -1;
    }
    return rc == 0? 0: -1;
}

uint64_t
ff_task_max_result (const ff_task_t *task, uint64_t max_result)
{
    uint64_t limit = max_result? max_result: (uint64_t) FF_MAX_RESULT;
    long asked;                     /* -p max_result=SIZE lowers it */
    const char *param = ff_task_param (task, "max_result", NULL);
    if (param && !ff_parse_size (param, &asked) && asked > 0
    &&  (uint64_t) asked < limit)
        limit = (uint64_t) asked;
    return limit;
}

void
ff_task_fail (const char *message, ff_result_t *out, ff_task_outcome_t *outcome)
{
    assert (message && out && outcome);
    out->data.size = out->meta.size = 0;
    ff_buf_puts (&out->data, message);
    outcome->tries = 1;
    outcome->status = FF_STATUS_ERROR;
    outcome->kind = FF_KIND_BYTES;
}
