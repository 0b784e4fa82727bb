/*  fanfold task messages: the ledger's tasks encoded for the wire, a batch
    of tasks for a worker and an error record for the sink. No sockets: the
    caller sends what the codec holds. */

#ifndef FANFOLD_TASKMSG_H
#define FANFOLD_TASKMSG_H

#include "fanfold/job/ledger.h"
#include "fanfold/runtime/codec.h"

#include <stddef.h>
#include <stdint.h>

/* Encodes the in-flight tasks seqs [0 .. count - 1] of ledger as one task
   message of job. A task whose ref is an ff_source_t carries the handles
   of its chunk (chunk_bytes per chunk): segment slices, or the bytes
   themselves with inline_bytes (a worker that cannot map segments).
   Returns 0, or -1 when memory ran out: the codec's message is then
   incomplete and must not be sent. */
int
    ff_taskmsg_tasks (ff_codec_t *codec, const char *job, ff_ledger_t *ledger,
                      const uint64_t *seqs, size_t count, uint64_t chunk_bytes,
                      int inline_bytes);

/* Writes the error text of a FAILED or ERROR task into text: the reason
   given at creation, or "task failed N times: WHY". Returns text. */
const char *
    ff_taskmsg_error_text (const ff_ledger_task_t *task, char *text, size_t size);

/* Encodes task's error record carrying text (a result message of job from
   worker 0). Returns 0, or -1 when memory ran out. */
int
    ff_taskmsg_error (ff_codec_t *codec, const char *job, const ff_ledger_task_t *task,
                      const char *text);

/* Takes the ledger's next error record (ff_ledger_next_error) and encodes
   it for the sink, logging the error of a task that failed its retries.
   Returns 1 when the codec holds it (the caller sends it), 0 when none is
   left, -1 when memory ran out (logged; the record is lost: end the job). */
int
    ff_taskmsg_next_error (ff_codec_t *codec, const char *job, ff_ledger_t *ledger);

#endif
