/*  The worker's heartbeat thread: sends a heartbeat to the ventilator every
    hb_ms on its own socket, so that a long task does not look like a dead
    worker, and, with a task time limit, is the watchdog that ends a worker
    whose kernel hangs past it (exit FF_EXIT_WORKER_RECYCLED).

    Shared with the main thread (last_sent): a main thread that sends hb
    itself between tasks, from its main control socket, leaves the thread
    nothing to send; the thread then opens its socket only once a batch runs
    long enough that the main thread is late (ff_heartbeat_due). */

#ifndef FANFOLD_HEARTBEAT_H
#define FANFOLD_HEARTBEAT_H

#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/security.h"

#include <czmq.h>
#include <stdint.h>

/* Arguments of the heartbeat thread, owned by the main thread; they must
   outlive the thread. pipe is set by ff_heartbeat_new. */
typedef struct {
    const char *endpoint;           /* ventilator control */
    const char *job;                /* job id */
    uint64_t worker;                /* our worker id */
    int hb_ms;                      /* interval */
    int64_t timeout_ms;             /* task time limit, 0 for none (a pool's worker sets
                                       each batch's, with __atomic_store_n) */
    volatile int64_t *running_since; /* main thread: when its task started, or 0 */
    ff_security_t *security;        /* CURVE client keys, or none */
    uint64_t version;               /* of its hb: 0 or 1, or 2 in a pool */
    void (*on_message) (const ff_msg_t *msg, void *arg); /* called in the thread
                                       with each message the ventilator or server
                                       sends to this socket (a pool's cancel), or NULL */
    void *on_message_arg;           /* its second argument */
    volatile int64_t *last_sent;    /* NULL: the thread sends every hb_ms from the start
                                       (a pool's worker, whose socket must be known for
                                       cancels). Else when an hb last went out from
                                       either thread (ff_clock_ms), and the thread sends
                                       only when the main thread is late */
    zsock_t *pipe;                  /* the thread's end of the stop pipe */
} ff_heartbeat_args_t;

typedef struct ff_heartbeat ff_heartbeat_t;

/* Starts the heartbeat thread on args. Returns NULL when the pipe or the
   thread cannot be made. */
ff_heartbeat_t *
    ff_heartbeat_new (ff_heartbeat_args_t *args);

/* Whether the heartbeat thread sends an hb at now, when the last one went
   out at last_sent. The main thread sends one between batches once hb_ms
   has passed; the thread only when a quarter of hb_ms more has passed (the
   main thread runs a long batch), so that a job of short tasks never
   needs it. Returns 0 and sets *wait_ms to the time until then (at most
   hb_ms) when nothing is due. */
int
    ff_heartbeat_due (int64_t now, int64_t last_sent, int hb_ms, int *wait_ms);

/* Stops the thread, waits until it has closed its sockets, and NULLs the
   pointer; safe on NULL. */
void
    ff_heartbeat_destroy (ff_heartbeat_t **self_p);

#endif
