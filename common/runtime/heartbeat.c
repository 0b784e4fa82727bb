/*  The worker's heartbeat thread and watchdog; see heartbeat.h. */

#include "fanfold/runtime/heartbeat.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <pthread.h>
#include <stdlib.h>

/* The heartbeat thread as the main thread holds it. A plain thread, joined
   when stopped, rather than a zactor: zactor_destroy returns before the
   actor has closed its pipe, and czmq's exit handler sleeps 200 ms when it
   finds a socket still open, which a short job would pay at every exit. */
struct ff_heartbeat {
    pthread_t thread;               /* runs s_heartbeat_run */
    zsock_t *pipe;                  /* our end of the stop pipe */
};

#define S_WATCHDOG_GRACE_MS 2000

int
ff_heartbeat_due (int64_t now, int64_t last_sent, int hb_ms, int *wait_ms)
{
    int64_t left = last_sent + hb_ms + hb_ms / 4 - now;
    if (left <= 0)
        return 1;
    *wait_ms = left < hb_ms? (int) left: hb_ms;
    return 0;
}

/* Opens the thread's control socket and encodes its hb into codec.
   Returns 0, or -1 (logged). */
static int
s_open (ff_heartbeat_args_t *args, zsock_t **control, ff_codec_t **codec)
{
    char error [256];
    *control = ff_net_socket (ZMQ_DEALER, 16, 0, FF_MAX_CONTROL_MESSAGE);
    *codec = ff_codec_new ();
    if (!*control || !*codec
    ||  ff_security_connect (args->security, *control, args->endpoint, error, sizeof (error))
    ||  zsock_connect (*control, "%s", args->endpoint) != 0) {
        ff_log_error ("the heartbeat thread cannot connect to %s", args->endpoint);
        return -1;
    }
    if (args->version)
        ff_codec_set_version (*codec, args->version);
    ff_codec_hb (*codec, args->job, args->worker);
    return 0;
}

/* Sends a heartbeat every hb_ms on its own socket, so that a long task
   does not look like a dead worker, until the pipe says $TERM. With
   last_sent the main thread sends between tasks, and the thread only when
   the main thread is late: its socket is opened at its first hb, so a job
   of short tasks never opens it. With a task time limit it is also the
   watchdog: a kernel still running well past the limit cannot be stopped
   from outside, so the worker process ends itself and the ventilator
   sends the task elsewhere. */
static void *
s_heartbeat_run (void *arg)
{
    ff_heartbeat_args_t *args = (ff_heartbeat_args_t *) arg;
    zsock_t *pipe = args->pipe;
    zsock_t *control = NULL;
    ff_codec_t *codec = NULL;
    int stop = 0;
    if (!args->last_sent && s_open (args, &control, &codec))
        stop = 1;
    while (!stop) {
        int64_t since = *args->running_since;
        /* a pool's worker sets the limit of each batch's job */
        int64_t limit = __atomic_load_n (&args->timeout_ms, __ATOMIC_ACQUIRE);
        if (limit > 0 && since > 0 && ff_clock_ms () - since > limit + S_WATCHDOG_GRACE_MS) {
            ff_log_error ("a task has run past --timeout (%.1f s): recycling this worker",
                          (double) limit / 1000);
            _exit (FF_EXIT_WORKER_RECYCLED);
        }
        int64_t now = ff_clock_ms ();
        int wait_ms = args->hb_ms;
        if (!args->last_sent
        ||  ff_heartbeat_due (now, __atomic_load_n (args->last_sent, __ATOMIC_ACQUIRE),
                              args->hb_ms, &wait_ms)) {
            if (!control && s_open (args, &control, &codec))
                break;
            ff_net_send (control, NULL, 0, ff_codec_data (codec), ff_codec_size (codec), 0);
            if (args->last_sent)
                __atomic_store_n (args->last_sent, now, __ATOMIC_RELEASE);
        }
        zmq_pollitem_t items [2] = {
            { zsock_resolve (pipe), 0, ZMQ_POLLIN, 0 },
            { control? zsock_resolve (control): NULL, 0, ZMQ_POLLIN, 0 }
        };
        int64_t next = now + wait_ms;
        while (!stop) {
            int64_t left = next - ff_clock_ms ();
            if (zmq_poll (items, args->on_message && control? 2: 1, left > 0? (long) left: 0) <= 0)
                break;              /* time to look again */
            if (items [0].revents & ZMQ_POLLIN) {
                char *command = zstr_recv (pipe);
                stop = !command || streq (command, "$TERM");
                zstr_free (&command);
            }
            if (args->on_message && control && (items [1].revents & ZMQ_POLLIN)) {
                /* a pool's cancel, read while the task still runs */
                zmq_msg_t body;
                ff_msg_t msg;
                int rc;
                while ((rc = ff_net_recv (control, NULL, &body)) >= 0) {
                    if (rc == 1)
                        continue;
                    if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg) == 0)
                        args->on_message (&msg, args->on_message_arg);
                    zmq_msg_close (&body);
                }
            }
        }
    }
    ff_codec_destroy (&codec);
    zsock_destroy (&control);
    zsock_destroy (&args->pipe);
    return NULL;
}

ff_heartbeat_t *
ff_heartbeat_new (ff_heartbeat_args_t *args)
{
    ff_heartbeat_t *self = (ff_heartbeat_t *) calloc (1, sizeof (ff_heartbeat_t));
    if (!self)
        return NULL;
    self->pipe = zsys_create_pipe (&args->pipe);
    if (!self->pipe)
        goto fail;
    if (pthread_create (&self->thread, NULL, s_heartbeat_run, args) != 0) {
        zsock_destroy (&args->pipe);
        goto fail;
    }
    return self;
fail:
    zsock_destroy (&self->pipe);
    free (self);
    return NULL;
}

void
ff_heartbeat_destroy (ff_heartbeat_t **self_p)
{
    if (self_p && *self_p) {
        ff_heartbeat_t *self = *self_p;
        zstr_send (self->pipe, "$TERM");
        pthread_join (self->thread, NULL);
        zsock_destroy (&self->pipe);
        free (self);
        *self_p = NULL;
    }
}
