/*  fanfold socket helpers shared by the stages: sockets created with every
    limit set, single-frame receive (multipart floods are drained and
    refused), sends that never block forever, and the stop signal flag. */

#ifndef FANFOLD_NET_H
#define FANFOLD_NET_H

#include <czmq.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>

/* Set by SIGINT/SIGTERM/SIGHUP once ff_signals_install has run: the signal number. */
extern volatile sig_atomic_t ff_stop_signal;

/* Installs SIGINT/SIGTERM/SIGHUP handlers that set ff_stop_signal (no
   restart, so a blocking poll returns; a hang-up stops a stage as TERM
   does, cleaning up), and ignores SIGPIPE. Disables czmq's handler. */
void
    ff_signals_install (void);

/* The signal by which `fanfold run` tells its workers that the job is
   over. It starts them with it blocked: that mark says that the launcher
   will send it, and keeps one sent early until the worker takes it. */
#define FF_SIGNAL_JOB_OVER SIGUSR1

/* Adds FF_SIGNAL_JOB_OVER to set (a sigset_t, initialised). */
void
    ff_signals_add_job_over (sigset_t *set);

/* Whether FF_SIGNAL_JOB_OVER is blocked in the calling thread: a
   worker's entry asks this for the launcher's mark. */
int
    ff_signals_job_over_blocked (void);

/* Creates a bare socket of type, or returns NULL (errno EMFILE) when no
   descriptor is free for it, where czmq's zsock_new would abort. */
zsock_t *
    ff_net_new (int type);

/* Whether count descriptors (at most 16) can be opened now: each is opened
   and closed again. 0 (errno EMFILE or ENFILE) when fewer are free. */
int
    ff_net_fds_free (int count);

/* Creates a socket of type with send/receive HWM hwm, linger linger_ms and
   a largest accepted message of maxmsg bytes (-1: no limit). NULL on
   failure. */
zsock_t *
    ff_net_socket (int type, int hwm, int linger_ms, int64_t maxmsg);

/* Receives one message without waiting. With routing != NULL the socket is
   a ROUTER: the first frame is the peer's routing id. A message with more
   frames than expected is drained and refused. Returns 0 with body (and
   routing) initialised and owned by the caller, 1 when a message was
   refused, or -1 when nothing is waiting (errno EAGAIN) or on error. */
int
    ff_net_recv (zsock_t *sock, zmq_msg_t *routing, zmq_msg_t *body);

/* A set of sockets to wait on with one poll(2) per wake-up, where
   zmq_poll costs a zero-timeout poll of every socket's mailbox before and
   after its wait. A socket marked drained (read until EAGAIN, and not sent
   on since: a send may take the signal of a message that came) is not
   asked ZMQ_EVENTS; its ZMQ_FD says when something came. */
#define FF_NET_WAIT_MAX 4
#define FF_NET_WAIT_WRITABLE_MAX 64     /* sockets waited on until they can send */

typedef struct {
    void *sockets [FF_NET_WAIT_MAX];    /* libzmq handles, or NULL */
    int fds [FF_NET_WAIT_MAX];          /* with a NULL socket: a plain fd, or -1 */
    int drained [FF_NET_WAIT_MAX];      /* 1: no message waits until its fd says so */
    int count;                          /* items in use */
    int fds_wake_only;                  /* 1: plain fds only end a wait (the caller
                                           keeps its own flag of what they say):
                                           not polled when a socket has a message */
    void *const *writable;              /* libzmq handles waited on until one can
                                           send (a pipe whose peer has not
                                           connected yet, or a full one), or NULL */
    int nwritable;                      /* how many, at most FF_NET_WAIT_WRITABLE_MAX */
} ff_net_wait_t;

/* Waits at most timeout_ms (0: not at all) until an item has a message (a
   socket) or is readable or in error (a plain fd), or one of the writable
   sockets can send. ready [i] is 1 for each such item; which writable
   socket can send, the caller asks ff_net_can_send. Each socket found
   without a message is marked drained. A socket not marked drained is
   asked ZMQ_EVENTS; the descriptors of the others (and the plain fds)
   are polled once, without waiting when a message was found, and not at
   all when every socket was asked (and fds_wake_only, or no plain fd).
   Returns how many items are ready, 0 on timeout, on a signal, or when
   only a writable socket woke it, -1 with errno. */
int
    ff_net_wait (ff_net_wait_t *wait, int *ready, int timeout_ms);

/* What ff_net_can_send found. */
typedef enum {
    FF_NET_SEND_READY,              /* a message can go now */
    FF_NET_SEND_FULL,               /* not now: no peer yet, or its pipe is full
                                       (or a signal came while asking) */
    FF_NET_SEND_ERROR               /* the socket failed (errno says why) */
} ff_net_send_state_t;

/* Whether the libzmq socket handle can send a message now (ZMQ_EVENTS
   has ZMQ_POLLOUT, asked after the commands its mailbox holds: a pipe
   that just connected counts). */
ff_net_send_state_t
    ff_net_can_send (void *handle);

/* Marks item index drained when rc and errno, from the ff_net_recv that
   ended its read loop, say that nothing more waits; else not drained. */
void
    ff_net_wait_read (ff_net_wait_t *wait, int index, int rc);

/* Receives and drops, without waiting, the frames left of a multipart
   message whose first frames were read. */
void
    ff_net_drain (zsock_t *sock);

/* Sends one message, to routing (ROUTER) when routing_len > 0. Waits at
   most timeout_ms (0: not at all). Returns 0, or -1 with errno (EAGAIN:
   would block; EHOSTUNREACH: no such peer). */
int
    ff_net_send (zsock_t *sock, const void *routing, size_t routing_len,
                 const void *data, size_t size, int timeout_ms);

/* Longest ipc path (after ipc://) a Unix socket address holds: sun_path
   is 108 bytes on Linux, with its terminating NUL. */
#define FF_NET_IPC_PATH_MAX 107

/* Checks an endpoint given by a user (topology, --intake, --emit) before
   anything binds or connects it: ipc:///absolute/path of at most
   FF_NET_IPC_PATH_MAX characters, or tcp://host:port with port 1 to 65535
   or "*". libzmq would otherwise bind port 99999 as 34463 without a word.
   Returns 0, or -1 with a message naming the endpoint and the limit in
   error. */
int
    ff_net_check_endpoint (const char *endpoint, char *error, size_t error_size);

/* Returns 1 when endpoint is an ipc path on which a live socket listens
   (binding it again would take it from that job), else 0. */
int
    ff_net_ipc_busy (const char *endpoint);

/* The environment variable through which a launcher hands a stage the
   listening socket it made for the stage's ipc endpoint: the descriptor's
   number. A peer started at once connects to that socket at its first
   try, before the stage runs, instead of retrying every 10 ms or more
   until the stage has bound. */
#define FF_NET_LISTEN_FD_ENV "FANFOLD_LISTEN_FD"

/* Makes a listening socket on the ipc endpoint (any file there is
   removed first: the caller checked it is no live job's), close-on-exec.
   Returns the descriptor, or -1 with errno (EINVAL: not an ipc endpoint,
   or its path is too long). */
int
    ff_net_ipc_listen (const char *endpoint, int backlog);

/* In a stage forked from a launcher (no exec): the listening socket the
   launcher made for it, as FF_NET_LISTEN_FD_ENV would name it. */
void
    ff_net_hand_listener (int fd);

/* Binds sock to endpoint. On the listening socket given to
   ff_net_hand_listener or named by FF_NET_LISTEN_FD_ENV when that one
   listens on exactly this ipc path (the variable is then removed, and
   the socket is the stage's); else
   refuses an ipc path that another live socket listens on, then binds.
   Returns 0, or -1 having written why into error. */
int
    ff_net_bind (zsock_t *sock, const char *endpoint, char *error, size_t error_size);

/* Writes "host:pid" into name. */
void
    ff_net_peer_name (char *name, size_t size);

#endif
