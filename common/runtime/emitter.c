/*  fanfold's --emit stream (see emitter.h): the PUSH socket, the monitor
    that counts its consumers, sends with a bounded wait, end-of-stream. */

#include "fanfold/runtime/emitter.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct ff_emitter {
    char *endpoint;                 /* where it is bound */
    zsock_t *push;                  /* the stream, in seq order */
    zsock_t *monitor;               /* PAIR: connect/disconnect events of push */
    ff_codec_t *codec;              /* encodes records and eos */
    int peers;                      /* consumers connected now */
    int64_t alone_ms;               /* time spent waiting with no consumer */
    int gave_up;                    /* no consumer came in time: send no more */
};

/* Counts the consumers that connected to or left the socket. */
static void
s_events (ff_emitter_t *self)
{
    zmq_msg_t frame;
    while (1) {
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, zsock_resolve (self->monitor), ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            return;
        }
        int more = zmq_msg_more (&frame);
        if (zmq_msg_size (&frame) == 6) {
            uint16_t event;
            memcpy (&event, zmq_msg_data (&frame), sizeof (event));
            if (event == ZMQ_EVENT_ACCEPTED)
                self->peers++;
            else
            if (event == ZMQ_EVENT_DISCONNECTED && self->peers > 0)
                self->peers--;
        }
        zmq_msg_close (&frame);
        if (more)
            ff_net_drain (self->monitor);   /* the endpoint frame */
    }
}

ff_emitter_t *
ff_emitter_new (const char *endpoint, int hwm, char *error, size_t size)
{
    char monitor [64];
    ff_emitter_t *self = (ff_emitter_t *) calloc (1, sizeof (ff_emitter_t));
    if (!self || !(self->endpoint = strdup (endpoint)) || !(self->codec = ff_codec_new ())) {
        snprintf (error, size, "--emit %s: out of memory", endpoint);
        goto fail;
    }
    /* a consumer may be slower than the job: give it time to take the
       tail of the stream before the socket closes */
    self->push = ff_net_socket (ZMQ_PUSH, hwm, FF_EMIT_DRAIN_MS, -1);
    if (!self->push || zsock_bind (self->push, "%s", endpoint) < 0) {
        snprintf (error, size, "cannot bind --emit %s: %s", endpoint, zmq_strerror (errno));
        goto fail;
    }
    snprintf (monitor, sizeof (monitor), "inproc://emit-monitor-%d-%p", (int) getpid (), (void *) self);
    self->monitor = ff_net_socket (ZMQ_PAIR, hwm, 0, -1);
    if (!self->monitor
    ||  zmq_socket_monitor (zsock_resolve (self->push), monitor,
                            ZMQ_EVENT_ACCEPTED | ZMQ_EVENT_DISCONNECTED) != 0
    ||  zsock_connect (self->monitor, "%s", monitor) != 0) {
        snprintf (error, size, "cannot watch --emit %s: %s", endpoint, zmq_strerror (errno));
        goto fail;
    }
    return self;
fail:
    ff_emitter_destroy (&self);
    return NULL;
}

void
ff_emitter_destroy (ff_emitter_t **self_p)
{
    if (self_p && *self_p) {
        ff_emitter_t *self = *self_p;
        if (self->monitor)
            zmq_socket_monitor (zsock_resolve (self->push), NULL, 0);
        zsock_destroy (&self->monitor);
        if (self->push && strncmp (self->endpoint, "ipc://", 6) == 0
        &&  self->endpoint [6] != '@')
            unlink (self->endpoint + 6);    /* the ipc file this socket bound */
        zsock_destroy (&self->push);
        ff_codec_destroy (&self->codec);
        free (self->endpoint);
        free (self);
        *self_p = NULL;
    }
}

/* Sends the encoded message: see ff_emitter_send. */
static int
s_send (ff_emitter_t *self)
{
    if (self->gave_up)
        return -1;
    while (1) {
        int64_t started = ff_clock_ms ();
        if (ff_net_send (self->push, NULL, 0, ff_codec_data (self->codec),
                         ff_codec_size (self->codec), 1000) == 0)
            return 0;
        if (ff_stop_signal || zsys_interrupted)
            return -1;
        s_events (self);
        if (self->peers > 0)
            self->alone_ms = 0;
        else
            self->alone_ms += ff_clock_ms () - started;
        if (self->alone_ms >= FF_EMIT_DRAIN_MS) {
            ff_log_error ("no --emit consumer on %s for %d s: the results are not emitted",
                          self->endpoint, FF_EMIT_DRAIN_MS / 1000);
            self->gave_up = 1;
            zsock_set_linger (self->push, 0);
            return -1;
        }
    }
}

int
ff_emitter_send (ff_emitter_t *self, const ff_record_t *record)
{
    assert (self);
    ff_codec_emit (self->codec, record->seq, record->input, record->input_len,
                   record->kernel, record->status, record->body, record->size,
                   record->meta, record->meta_len);
    return s_send (self);
}

void
ff_emitter_finish (ff_emitter_t *self, uint64_t written)
{
    assert (self);
    ff_codec_eos (self->codec, written);
    s_send (self);
    int64_t deadline = ff_clock_ms () + FF_EMIT_DRAIN_MS;
    s_events (self);
    if (self->gave_up)
        return;
    if (self->peers > 0)
        ff_log_info ("waiting for %d --emit consumer(s) to take the end of the stream",
                     self->peers);
    while (self->peers > 0 && !ff_stop_signal && !zsys_interrupted
           && ff_clock_ms () < deadline) {
        zmq_pollitem_t item = { zsock_resolve (self->monitor), 0, ZMQ_POLLIN, 0 };
        zmq_poll (&item, 1, 50);
        /* the socket's own commands are processed when it is used */
        (void) zsock_events (self->push);
        s_events (self);
    }
    if (self->peers > 0)
        ff_log_error ("an --emit consumer still connected after %d s: closing",
                      FF_EMIT_DRAIN_MS / 1000);
}

int
ff_emitter_gave_up (const ff_emitter_t *self)
{
    return self && self->gave_up;
}
