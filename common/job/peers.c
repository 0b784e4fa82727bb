/*  fanfold peers: the ventilator's workers, their task pipes and the
    routing ids that may speak for them (see peers.h). */

#include "fanfold/job/peers.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/fdlimit.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <stdio.h>

#include <assert.h>
#include <inttypes.h>
#include <string.h>

_Static_assert (FF_VENT_FDS_PER_WORKER <= 16, "ff_net_fds_free checks at most 16 descriptors");

/* A PUSH receives nothing: the inbound limit only keeps a bogus peer's
   frame length from sizing libzmq's allocations. */
#define S_MAX_INBOUND (1LL << 20)

/* Slots of the index of joined workers by routing id: a power of two, at
   most a quarter full. */
#define S_INDEX_SLOTS (FF_MAX_WORKERS * 4)
_Static_assert ((S_INDEX_SLOTS & (S_INDEX_SLOTS - 1)) == 0, "index slots: a power of two");

struct ff_peers {
    zsock_t *control;               /* ROUTER, bound on the control endpoint */
    ff_topology_t *topology;        /* endpoints (borrowed) */
    ff_security_t *security;        /* keys for the pipes (borrowed) */
    int hwm;                        /* HWM of each pipe */
    ff_peer_t **peers;              /* joined workers, FF_MAX_WORKERS allocated */
    size_t count;                   /* how many */
    ff_peer_t **index;              /* the same by routing id: open addressing, S_INDEX_SLOTS */
    size_t capacity;                /* most workers admitted at once (<= FF_MAX_WORKERS) */
    int fitted;                     /* capacity sized to the descriptors: keep their reserve */
    uint64_t last_id;               /* last id handed out */
    ff_peer_sink_t sink;            /* the sink */
};

/* Keeps free, against peers that only connect to control, the descriptors
   the workers still to be admitted will need beyond their first
   connection (their pipe and their heartbeat socket's connection). */
static void
s_reserve_fds (ff_peers_t *self)
{
    if (!self->fitted)
        return;
    size_t left = self->capacity > self->count? self->capacity - self->count: 0;
    ff_fdlimit_set_reserve (FF_FDS_SLACK + (int) left * (FF_VENT_FDS_PER_WORKER - 1));
}

static void
s_peer_destroy (ff_peer_t **peer_p)
{
    if (peer_p && *peer_p) {
        ff_peer_t *peer = *peer_p;
        if (peer->push && peer->monitor)
            zmq_socket_monitor (zsock_resolve (peer->push), NULL, 0);
        zsock_destroy (&peer->monitor);
        zsock_destroy (&peer->push);
        free (peer->endpoint);
        free (peer->name);
        free (peer);
        *peer_p = NULL;
    }
}

static int
s_same (const uint8_t *known, size_t known_len, const void *routing, size_t routing_len)
{
    return known_len > 0 && known_len == routing_len && memcmp (known, routing, known_len) == 0;
}

/* The routing index: a hello finds its worker in O(1), not by a walk over
   every joined worker (at the descriptor limit, each refused worker says
   hello every second, thousands of them). Linear probing; a removal
   shifts back the entries after it, so there are no tombstones. */
static size_t
s_slot_of (const void *routing, size_t routing_len)
{
    const uint8_t *byte = (const uint8_t *) routing;
    uint64_t hash = 1469598103934665603ULL;         /* FNV-1a */
    size_t at;
    for (at = 0; at < routing_len; at++)
        hash = (hash ^ byte [at]) * 1099511628211ULL;
    return (size_t) (hash ^ (hash >> 32)) & (S_INDEX_SLOTS - 1);
}

static ff_peer_t *
s_index_find (ff_peers_t *self, const void *routing, size_t routing_len)
{
    size_t slot = s_slot_of (routing, routing_len);
    while (self->index [slot]) {
        ff_peer_t *peer = self->index [slot];
        if (s_same (peer->routing, peer->routing_len, routing, routing_len))
            return peer;
        slot = (slot + 1) & (S_INDEX_SLOTS - 1);
    }
    return NULL;
}

static void
s_index_add (ff_peers_t *self, ff_peer_t *peer)
{
    size_t slot = s_slot_of (peer->routing, peer->routing_len);
    while (self->index [slot])
        slot = (slot + 1) & (S_INDEX_SLOTS - 1);
    self->index [slot] = peer;
}

static void
s_index_remove (ff_peers_t *self, ff_peer_t *peer)
{
    const size_t mask = S_INDEX_SLOTS - 1;
    size_t hole = s_slot_of (peer->routing, peer->routing_len);
    while (self->index [hole] && self->index [hole] != peer)
        hole = (hole + 1) & mask;
    if (!self->index [hole])
        return;
    /* an entry after the hole moves into it when the hole lies between
       its home slot and where it sits */
    size_t next;
    for (next = (hole + 1) & mask; self->index [next]; next = (next + 1) & mask) {
        size_t home = s_slot_of (self->index [next]->routing, self->index [next]->routing_len);
        if (((next - home) & mask) >= ((next - hole) & mask)) {
            self->index [hole] = self->index [next];
            hole = next;
        }
    }
    self->index [hole] = NULL;
}

ff_peers_t *
ff_peers_new (ff_topology_t *topology, ff_security_t *security, char *error, size_t error_size)
{
    assert (topology);
    const ff_settings_t *settings = ff_topology_settings (topology);
    const char *endpoint = ff_topology_bind (topology, FF_EP_CONTROL);
    ff_peers_t *self = (ff_peers_t *) calloc (1, sizeof (ff_peers_t));
    if (!self)
        goto fail;
    self->peers = (ff_peer_t **) calloc (FF_MAX_WORKERS, sizeof (ff_peer_t *));
    self->index = (ff_peer_t **) calloc (S_INDEX_SLOTS, sizeof (ff_peer_t *));
    self->control = ff_net_socket (ZMQ_ROUTER, settings->hwm, settings->linger_ms,
                                   FF_MAX_CONTROL_MESSAGE);
    if (!self->peers || !self->index || !self->control)
        goto fail;
    self->topology = topology;
    self->security = security;
    self->hwm = settings->hwm;
    self->capacity = FF_MAX_WORKERS;
    if (ff_security_bind (security, self->control, endpoint, error, error_size)) {
        ff_peers_destroy (&self);
        return NULL;
    }
    /* on the launcher's listening socket, when it made one */
    if (ff_net_bind (self->control, endpoint, error, error_size)) {
        ff_peers_destroy (&self);
        return NULL;
    }
    return self;
fail:
    snprintf (error, error_size, "cannot allocate the control socket");
    ff_peers_destroy (&self);
    return NULL;
}

void
ff_peers_destroy (ff_peers_t **self_p)
{
    if (self_p && *self_p) {
        ff_peers_t *self = *self_p;
        /* Thousands of pipes close in two passes. First every pipe's
           monitor stops: libzmq walks all the inproc endpoints of the
           context (one per monitor) each time a socket ends, so sockets
           ending while those endpoints remain cost O(pipes) each. Then the
           sockets close oldest first: czmq looks a closing socket up from
           the head of its list of open sockets, where the oldest are. */
        size_t index;
        for (index = 0; index < self->count; index++) {
            ff_peer_t *peer = self->peers [index];
            if (peer->push && peer->monitor)
                zmq_socket_monitor (zsock_resolve (peer->push), NULL, 0);
        }
        for (index = 0; index < self->count; index++)
            s_peer_destroy (&self->peers [index]);
        self->count = 0;
        free (self->peers);
        free (self->index);
        zsock_destroy (&self->control);
        free (self);
        *self_p = NULL;
    }
}

void
ff_peers_set_capacity (ff_peers_t *self, size_t capacity)
{
    assert (self);
    self->capacity = capacity < FF_MAX_WORKERS? capacity: FF_MAX_WORKERS;
}

size_t
ff_peers_fit_fds (ff_peers_t *self)
{
    assert (self);
    int limit = ff_fdlimit_max (), open = ff_fdlimit_open_count ();
    long room = (long) limit - (open < 0? 64: open) - FF_FDS_SLACK;
    ff_peers_set_capacity (self, room > FF_VENT_FDS_PER_WORKER?
                                 (size_t) room / FF_VENT_FDS_PER_WORKER: 1);
    ff_fdlimit_guard (ff_topology_bind (self->topology, FF_EP_CONTROL));
    self->fitted = 1;
    s_reserve_fds (self);
    return self->capacity;
}

zsock_t *
ff_peers_control (ff_peers_t *self)
{
    assert (self);
    return self->control;
}

/* Binds a new pipe for peer and sets its connect endpoint: the task
   endpoint with -ID for ipc, a port of the system's choice for tcp.
   Returns 0, or -1 with error. */
static int
s_bind_pipe (ff_peers_t *self, ff_peer_t *peer, char *error, size_t error_size)
{
    const char *base = ff_topology_bind (self->topology, FF_EP_TASKS);
    /* credit, not the HWM, bounds what a worker holds: libzmq learns that
       the peer consumed messages lazily, so a tiny HWM stalls sends */
    peer->push = ff_net_socket (ZMQ_PUSH, self->hwm, 0, S_MAX_INBOUND);
    if (!peer->push) {
        snprintf (error, error_size, "cannot create a socket: %s", zmq_strerror (errno));
        return -1;
    }
    if (ff_security_bind (self->security, peer->push, base, error, error_size))
        return -1;
    /* watched from before the bind: no connection goes unseen */
    char watch [64];
    snprintf (watch, sizeof (watch), "inproc://ff-pipe-%p-%" PRIu64, (void *) self, peer->id);
    if (zmq_socket_monitor (zsock_resolve (peer->push), watch,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0
    ||  !(peer->monitor = ff_net_new (ZMQ_PAIR))
    ||  zsock_connect (peer->monitor, "%s", watch) != 0) {
        snprintf (error, error_size, "cannot watch a task pipe: %s", zmq_strerror (errno));
        return -1;
    }
    if (strncmp (base, "ipc://", 6) == 0) {
        if (zsock_bind (peer->push, "%s-%" PRIu64, base, peer->id) < 0)
            goto fail;
        peer->endpoint = zsys_sprintf ("%s-%" PRIu64, base, peer->id);
    }
    else {
        int port = zsock_bind (peer->push, "%s", base);
        if (port < 0)
            goto fail;
        peer->endpoint = zsys_sprintf ("tcp://%s:%d",
                                       ff_topology_ventilator_host (self->topology), port);
    }
    if (!peer->endpoint) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    return 0;
fail:
    snprintf (error, error_size, "cannot bind %s: %s", base, zmq_strerror (errno));
    return -1;
}

ff_peers_hello_t
ff_peers_hello (ff_peers_t *self, const void *routing, size_t routing_len,
                const char *name, size_t name_len, uint64_t flags, int64_t now_ms,
                ff_peer_t **peer_p, char *error, size_t error_size)
{
    assert (self && peer_p);
    *peer_p = NULL;
    ff_peer_t *known = s_index_find (self, routing, routing_len);
    if (known) {
        known->hb_routing_len = 0;
        known->last_seen = now_ms;
        *peer_p = known;
        return FF_PEERS_KNOWN;
    }
    if (self->count >= self->capacity) {
        snprintf (error, error_size, "worker hello past %zu workers", self->capacity);
        return FF_PEERS_FULL;
    }
    if (routing_len == 0 || routing_len > FF_PEERS_ROUTING_MAX) {
        snprintf (error, error_size, "routing id of %zu bytes", routing_len);
        return FF_PEERS_FAILED;
    }
    ff_peer_t *peer = (ff_peer_t *) calloc (1, sizeof (ff_peer_t));
    if (!peer) {
        snprintf (error, error_size, "out of memory");
        return FF_PEERS_FAILED;
    }
    peer->id = ++self->last_id;
    memcpy (peer->routing, routing, routing_len);
    peer->routing_len = routing_len;
    peer->name = strndup (name? name: "", name? name_len: 0);
    peer->last_seen = peer->last_told = now_ms;
    peer->no_shm = (flags & FF_HELLO_NO_SHM) != 0;
    peer->hears_tasks = (flags & FF_HELLO_HEARS_TASKS) != 0;
    if (!peer->name) {
        snprintf (error, error_size, "out of memory");
        s_peer_destroy (&peer);
        return FF_PEERS_FAILED;
    }
    /* the descriptors of sockets closed a moment ago come back only when
       libzmq's reaper gets to them: a worker that came to take a leaver's
       place waits for them, refused, instead of running the pipe's sockets
       out of descriptors half way */
    if (!ff_net_fds_free (FF_VENT_FDS_PER_WORKER)) {
        snprintf (error, error_size, "fewer than %d descriptors free (ulimit -n %d)",
                  FF_VENT_FDS_PER_WORKER, ff_fdlimit_max ());
        s_peer_destroy (&peer);
        return FF_PEERS_FAILED;
    }
    if (s_bind_pipe (self, peer, error, error_size)) {
        s_peer_destroy (&peer);
        return FF_PEERS_FAILED;
    }
    self->peers [self->count++] = peer;
    s_index_add (self, peer);
    s_reserve_fds (self);
    *peer_p = peer;
    return FF_PEERS_JOINED;
}

ff_peer_t *
ff_peers_match (ff_peers_t *self, uint64_t id, const void *routing,
                size_t routing_len, int learn)
{
    ff_peer_t *peer = ff_peers_find (self, id);
    if (!peer)
        return NULL;
    if (s_same (peer->routing, peer->routing_len, routing, routing_len)
    ||  s_same (peer->hb_routing, peer->hb_routing_len, routing, routing_len))
        return peer;
    if (learn && peer->hb_routing_len == 0
    &&  routing_len > 0 && routing_len <= FF_PEERS_ROUTING_MAX) {
        memcpy (peer->hb_routing, routing, routing_len);
        peer->hb_routing_len = routing_len;
        return peer;
    }
    return NULL;
}

/* The index of the first peer whose id is at least id: peers are kept
   in id order (ids rise as workers join), so that a dispatch finds its
   worker in O(log workers). */
static size_t
s_lower_bound (ff_peers_t *self, uint64_t id)
{
    size_t low = 0, high = self->count;
    while (low < high) {
        size_t middle = low + (high - low) / 2;
        if (self->peers [middle]->id < id)
            low = middle + 1;
        else
            high = middle;
    }
    return low;
}

ff_peer_t *
ff_peers_find (ff_peers_t *self, uint64_t id)
{
    assert (self);
    size_t index = s_lower_bound (self, id);
    return index < self->count && self->peers [index]->id == id? self->peers [index]: NULL;
}

size_t
ff_peers_count (ff_peers_t *self)
{
    assert (self);
    return self->count;
}

ff_peer_t *
ff_peers_at (ff_peers_t *self, size_t index)
{
    assert (self && index < self->count);
    return self->peers [index];
}

int
ff_peers_pipe_intruded (ff_peers_t *self, ff_peer_t *peer)
{
    assert (self && peer);
    int intruded = 0, round;
    /* ZMQ_EVENTS processes the socket's commands at once (a receive may
       put that off for up to a millisecond): an event already sent is seen.
       Without one waiting, no receive is tried: a receive that finds
       nothing asks the socket's mailbox again (a poll and a getpid), and
       this runs before every task message */
    if (!(zsock_events (peer->monitor) & ZMQ_POLLIN))
        return peer->connections > 1;
    /* a bounded drain: each event is a connection made or lost */
    for (round = 0; round < 64; round++) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, zsock_resolve (peer->monitor), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            break;
        }
        uint16_t event = 0;
        if (zmq_msg_size (&frame) >= sizeof (event))
            memcpy (&event, zmq_msg_data (&frame), sizeof (event));
        int more = zmq_msg_more (&frame);
        zmq_msg_close (&frame);
        while (more) {              /* the endpoint frame */
            zmq_msg_init (&frame);
            if (zmq_msg_recv (&frame, zsock_resolve (peer->monitor), ZMQ_DONTWAIT) < 0)
                more = 0;
            else
                more = zmq_msg_more (&frame);
            zmq_msg_close (&frame);
        }
        if (event == ZMQ_EVENT_ACCEPTED && ++peer->connections > 1)
            intruded = 1;
        if (event == ZMQ_EVENT_DISCONNECTED && peer->connections > 0)
            peer->connections--;
    }
    return intruded || peer->connections > 1;
}

int
ff_peers_remove (ff_peers_t *self, uint64_t id)
{
    assert (self);
    size_t index = s_lower_bound (self, id);
    if (index == self->count || self->peers [index]->id != id)
        return -1;
    s_index_remove (self, self->peers [index]);
    s_peer_destroy (&self->peers [index]);
    memmove (&self->peers [index], &self->peers [index + 1],
             (--self->count - index) * sizeof (ff_peer_t *));
    s_reserve_fds (self);
    return 0;
}

int
ff_peers_sink_hello (ff_peers_t *self, const void *routing, size_t routing_len, int locked)
{
    assert (self);
    if ((locked && !ff_peers_is_sink (self, routing, routing_len))
    ||  routing_len == 0 || routing_len > FF_PEERS_ROUTING_MAX)
        return -1;
    memcpy (self->sink.routing, routing, routing_len);
    self->sink.routing_len = routing_len;
    return 0;
}

int
ff_peers_is_sink (ff_peers_t *self, const void *routing, size_t routing_len)
{
    assert (self);
    return s_same (self->sink.routing, self->sink.routing_len, routing, routing_len);
}

const ff_peer_sink_t *
ff_peers_sink (ff_peers_t *self)
{
    assert (self);
    return &self->sink;
}

ff_peer_t *
ff_peers_heard (ff_peers_t *self, const ff_msg_t *msg, const void *routing,
                size_t routing_len, uint64_t *rejected)
{
    assert (self && msg && rejected);
    ff_peer_t *peer = ff_peers_match (self, msg->worker, routing, routing_len,
                                      msg->type == FF_MSG_HB);
    if (!peer) {
        if (ff_peers_find (self, msg->worker))
            ff_log_reject (rejected, "%s for worker %" PRIu64 " from another peer",
                           ff_msg_type_name (msg->type), msg->worker);
        return NULL;
    }
    if (msg->type == FF_MSG_HB) {
        peer->last_seen = ff_clock_ms ();
        return NULL;
    }
    return peer;
}
