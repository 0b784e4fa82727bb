/*  fanfold peers: the ventilator's control socket, and the sink and the
    workers that joined on it, each worker with its own
    task pipe (a PUSH socket bound for it alone), and who may speak for it
    on the control socket. A worker is known by the routing id of the
    control socket that said hello (its main socket: it gets the welcome,
    the ventilator's hb and end); a second routing id, its heartbeat
    socket, is learned from the first hb that names the worker after its
    hello. hb and bye count only from one of these two.

    Invariants: ids are distinct and never reused; every peer has a bound
    pipe and its endpoint; at most the capacity (<= FF_MAX_WORKERS) peers. */

#ifndef FANFOLD_PEERS_H
#define FANFOLD_PEERS_H

#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

/* Longest routing id kept (ZeroMQ's are at most 255 bytes). */
#define FF_PEERS_ROUTING_MAX 256

/* The sink as the ventilator knows it. */
typedef struct {
    uint8_t routing [FF_PEERS_ROUTING_MAX]; /* its control socket's routing id */
    size_t routing_len;             /* 0 until it says hello */
} ff_peer_sink_t;

/* A worker as the ventilator's sockets see it (read-only to callers, but
   for last_seen and last_told, which the caller keeps). What it holds is
   the ledger's. */
typedef struct {
    uint64_t id;                    /* worker id, from 1 */
    uint8_t routing [FF_PEERS_ROUTING_MAX]; /* its main control socket's routing id */
    size_t routing_len;             /* its length */
    uint8_t hb_routing [FF_PEERS_ROUTING_MAX]; /* its heartbeat socket's routing id */
    size_t hb_routing_len;          /* 0 until learned */
    zsock_t *push;                  /* its task pipe, bound here */
    zsock_t *monitor;               /* PAIR: the pipe's connection events */
    int connections;                /* peers connected to the pipe now, as the
                                       events read so far say */
    char *endpoint;                 /* where it connects its pipe */
    char *name;                     /* host:pid it gave in its hello */
    int64_t last_seen;              /* ms: last message from it (the caller's) */
    int64_t last_told;              /* ms: last task message or hb sent to it (the caller's) */
    int no_shm;                     /* it cannot map segments: send array bytes */
    int pipe_refused;               /* 1: its pipe refused the last task message (the
                                       caller's): worth waiting on until it takes one */
    int hears_tasks;                /* a task message counts as hearing us (FF_HELLO_HEARS_TASKS) */
} ff_peer_t;

typedef struct ff_peers ff_peers_t;

/* Creates an empty set and binds its control socket (a ROUTER) on
   topology's control endpoint with security's keys; each worker's pipe
   will bind on the task endpoint. topology and security must outlive it.
   Returns NULL with a line in error when memory runs out or the control
   endpoint cannot be bound (another job's ipc socket listens there, say). */
ff_peers_t *
    ff_peers_new (ff_topology_t *topology, ff_security_t *security, char *error,
                  size_t error_size);

/* Admits at most capacity workers at once (FF_MAX_WORKERS at most, and
   by default): a hello past it gets FF_PEERS_FULL. */
void
    ff_peers_set_capacity (ff_peers_t *self, size_t capacity);

/* Sets the capacity to the workers the descriptors this process may still
   open can serve: FF_VENT_FDS_PER_WORKER each, beyond those open now and
   FF_FDS_SLACK (call after ff_fdlimit_raise). From then on the control
   listener is guarded (ff_fdlimit_guard): as workers join and leave, the
   descriptors the workers still to be admitted need are kept from peers
   that only connect to control. Returns the capacity. */
size_t
    ff_peers_fit_fds (ff_peers_t *self);

/* The control socket, owned by the set: every peer's messages arrive on
   it, and replies go out on it to a routing id. */
zsock_t *
    ff_peers_control (ff_peers_t *self);

/* Destroys the set, closing every pipe and the control socket, and NULLs
   the pointer. Safe on NULL. */
void
    ff_peers_destroy (ff_peers_t **self_p);

typedef enum {
    FF_PEERS_JOINED,                /* a new worker: its pipe is bound */
    FF_PEERS_KNOWN,                 /* this socket said hello before: the same worker */
    FF_PEERS_FULL,                  /* the capacity is reached: refused */
    FF_PEERS_FAILED                 /* its pipe could not be made: error says why */
} ff_peers_hello_t;

/* A worker's hello from the control socket routing (routing_len bytes),
   with its name (name_len bytes, copied) and FF_HELLO_* flags, at now_ms. Sets *peer to the new or
   known worker (FF_PEERS_JOINED, FF_PEERS_KNOWN), else to NULL. A known
   worker forgets its heartbeat socket: a worker that says hello again
   starts a new one once welcomed. */
ff_peers_hello_t
    ff_peers_hello (ff_peers_t *self, const void *routing, size_t routing_len,
                    const char *name, size_t name_len, uint64_t flags, int64_t now_ms,
                    ff_peer_t **peer, char *error, size_t error_size);

/* The sink's hello from routing: from now on the sink is known by it,
   unless locked (the sink's first ack was taken) and routing is not the
   known sink's. Returns 0, or -1 when refused. */
int
    ff_peers_sink_hello (ff_peers_t *self, const void *routing, size_t routing_len, int locked);

/* Returns 1 when routing is the sink's, else 0. */
int
    ff_peers_is_sink (ff_peers_t *self, const void *routing, size_t routing_len);

/* The sink (routing_len 0 until it said hello). */
const ff_peer_sink_t *
    ff_peers_sink (ff_peers_t *self);

/* The worker id when routing may speak for it: its main socket, or its
   heartbeat socket. With learn (an hb), a worker whose heartbeat socket
   is not known yet learns it from routing. Returns the worker, or NULL
   when id is unknown or routing is not its own. */
ff_peer_t *
    ff_peers_match (ff_peers_t *self, uint64_t id, const void *routing,
                    size_t routing_len, int learn);

/* Takes a worker's hb or bye (msg) that came from routing: an hb
   refreshes its worker's last_seen; an hb or bye naming a live worker
   from a socket that is not that worker's is refused and counted in
   *rejected. Returns the worker a bye came from, which the caller
   removes, or NULL. */
ff_peer_t *
    ff_peers_heard (ff_peers_t *self, const ff_msg_t *msg, const void *routing,
                    size_t routing_len, uint64_t *rejected);

/* The worker with id, or NULL. */
ff_peer_t *
    ff_peers_find (ff_peers_t *self, uint64_t id);

/* Workers joined, and the one at index (0 .. count - 1), in id order:
   indexes move when a worker is removed. */
size_t
    ff_peers_count (ff_peers_t *self);
ff_peer_t *
    ff_peers_at (ff_peers_t *self, size_t index);

/* Whether a second peer has connected to peer's task pipe: reads the
   pipe's pending connection events (accepted, disconnected) and returns 1
   when more than one peer is connected (or was, since the last call),
   else 0. Only the worker the welcome named is meant to connect: a PUSH
   would deal tasks to any other in turn, and they would be lost. The
   event of a connection comes before its handshake, so a caller that
   asks before each send never sends a task that the other peer could
   take; it must then close the pipe (remove the worker: it joins again
   after a silence, with a new pipe). */
int
    ff_peers_pipe_intruded (ff_peers_t *self, ff_peer_t *peer);

/* Removes the worker with id, closing its pipe. Returns 0, or -1 when id
   is unknown. */
int
    ff_peers_remove (ff_peers_t *self, uint64_t id);

#endif
