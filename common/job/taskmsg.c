/*  fanfold task messages (see taskmsg.h): ledger tasks into task batches
    and error records. */

#include "fanfold/job/taskmsg.h"
#include "fanfold/job/producer.h"
#include "fanfold/runtime/log.h"
#include "fanfold/kernels/source.h"

#include <assert.h>
#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

/* Fills the array handles of task: its chunk's segment slices, or the
   bytes themselves. */
static void
s_handles (const ff_ledger_task_t *task, uint64_t chunk_bytes, int inline_bytes,
           ff_item_t *item)
{
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    size_t count = ff_source_slices ((ff_source_t *) task->ref, chunk_bytes, task->chunk,
                                     slices), index;
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

int
ff_taskmsg_tasks (ff_codec_t *codec, const char *job, ff_ledger_t *ledger,
                  const uint64_t *seqs, size_t count, uint64_t chunk_bytes,
                  int inline_bytes)
{
    assert (codec && job && ledger && seqs);
    size_t index;
    int rc = ff_codec_task_begin (codec, job, count);
    for (index = 0; index < count && rc == 0; index++) {
        const ff_ledger_task_t *task = ff_ledger_task (ledger, seqs [index]);
        assert (task);
        ff_item_t item;
        memset (&item, 0, offsetof (ff_item_t, arrays));   /* arrays: up to narrays */
        item.seq = task->seq;
        item.kernel = task->kernel;
        item.input = ff_str (task->input);
        item.data.ptr = (const char *) task->data;
        item.data.len = task->size;
        item.attempt = task->attempts + 1;
        item.chunk = task->chunk;
        item.chunks = task->chunks;
        if (task->ref)
            s_handles (task, chunk_bytes, inline_bytes, &item);
        rc = ff_codec_task_item (codec, &item);
    }
    return rc;
}

const char *
ff_taskmsg_error_text (const ff_ledger_task_t *task, char *text, size_t size)
{
    assert (task && text && size > 0);
    if (task->failure)
        snprintf (text, size, "%s", task->failure);
    else
        snprintf (text, size, "task failed %" PRIu32 " times: %s", task->attempts,
                  task->why? task->why: "?");
    return text;
}

int
ff_taskmsg_error (ff_codec_t *codec, const char *job, const ff_ledger_task_t *task,
                  const char *text)
{
    assert (codec && job && task && text);
    ff_item_t item;
    memset (&item, 0, sizeof (item));
    item.seq = task->seq;
    item.kernel = task->kernel;
    item.status = FF_STATUS_ERROR;
    item.input = ff_str (task->input);
    item.data = ff_str (text);
    item.attempt = task->attempts;
    item.bytes_in = task->size;
    item.chunk = task->chunk;
    item.chunks = task->chunks;
    if (ff_codec_result_begin (codec, job, 0, 1))
        return -1;
    return ff_codec_result_item (codec, &item);
}

int
ff_taskmsg_next_error (ff_codec_t *codec, const char *job, ff_ledger_t *ledger)
{
    const ff_ledger_task_t *task = ff_ledger_next_error (ledger);
    char text [FF_PRODUCER_ERROR_MAX];
    if (!task)
        return 0;
    ff_taskmsg_error_text (task, text, sizeof (text));
    if (!task->failure)
        ff_log_error ("task %" PRIu64 " (%s): %s", task->seq, task->input, text);
    if (ff_taskmsg_error (codec, job, task, text)) {
        ff_log_error ("out of memory for the error record of task %" PRIu64, task->seq);
        return -1;
    }
    return 1;
}
