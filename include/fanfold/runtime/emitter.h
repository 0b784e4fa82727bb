/*  fanfold's --emit stream: a bound PUSH socket that sends every written
    result in seq order, watches its consumers (a socket monitor), gives
    up after a bounded time with none, and keeps the socket open after
    end-of-stream until its consumers have left. Used by the sink. */

#ifndef FANFOLD_EMITTER_H
#define FANFOLD_EMITTER_H

#include "fanfold/job/output.h"

#include <stdint.h>

/* How long the stream waits in all with no consumer connected, and how
   long it stays open after end-of-stream for consumers to leave. */
#define FF_EMIT_DRAIN_MS 30000

typedef struct ff_emitter ff_emitter_t;

/* Binds a PUSH socket on endpoint (hwm messages deep) and watches it.
   Returns the emitter, or NULL with a message naming the endpoint in
   error. The caller owns it. */
ff_emitter_t *
    ff_emitter_new (const char *endpoint, int hwm, char *error, size_t size);

/* Closes the socket, removes the ipc file it bound and frees the emitter;
   safe with NULL or twice. */
void
    ff_emitter_destroy (ff_emitter_t **self_p);

/* Sends one record, waiting while the consumer is slow (it holds the job
   back, as a slow disk would), but never past a stop signal, and not more
   than FF_EMIT_DRAIN_MS in all while no consumer is connected: then the
   stream is given up (said once). Returns 0, or -1 when stopped, given up
   or out of memory. */
int
    ff_emitter_send (ff_emitter_t *self, const ff_record_t *record);

/* Sends end-of-stream (written: seqs in the stream), then keeps the socket
   open until every consumer has left, at most FF_EMIT_DRAIN_MS (libzmq can
   leave the tail of a closed PUSH queue unsent to a slow consumer). */
void
    ff_emitter_finish (ff_emitter_t *self, uint64_t written);

/* 1 when the stream was given up for want of a consumer, else 0. */
int
    ff_emitter_gave_up (const ff_emitter_t *self);

#endif
