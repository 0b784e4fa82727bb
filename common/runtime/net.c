/*  fanfold socket helpers: limits on every socket, bounded receive and
    send, and the stop flag set by SIGINT/SIGTERM/SIGHUP. */

#include "fanfold/runtime/net.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

volatile sig_atomic_t ff_stop_signal = 0;

static void
s_on_signal (int signum)
{
    ff_stop_signal = signum;
}

void
ff_signals_install (void)
{
    struct sigaction action;
    zsys_handler_set (NULL);
    /* czmq logs (zconfig's syntax errors, zauth) on stdout by default,
       where a stage may be writing the job's output */
    zsys_set_logstream (stderr);
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGHUP, &action, NULL);     /* a closed terminal or ssh session: as TERM */
    signal (SIGPIPE, SIG_IGN);
}

void
ff_signals_add_job_over (sigset_t *set)
{
    assert (set);
    sigaddset (set, FF_SIGNAL_JOB_OVER);
}

int
ff_signals_job_over_blocked (void)
{
    sigset_t current;
    sigemptyset (&current);
    if (pthread_sigmask (SIG_BLOCK, NULL, &current) != 0)
        return 0;
    return sigismember (&current, FF_SIGNAL_JOB_OVER) == 1;
}

int
ff_net_fds_free (int count)
{
    int fds [16], opened, index, error = 0;
    if (count > 16)
        count = 16;
    for (opened = 0; opened < count; opened++)
        if ((fds [opened] = open ("/dev/null", O_RDONLY | O_CLOEXEC)) < 0) {
            error = errno;
            break;
        }
    for (index = 0; index < opened; index++)
        close (fds [index]);
    if (opened < count)
        errno = error;
    return opened == count;
}

zsock_t *
ff_net_new (int type)
{
    /* czmq asserts when libzmq cannot make a socket for want of a
       descriptor for its mailbox: make sure one is free first (a socket
       closed with zmq_close frees its own only later, in libzmq's reaper,
       so a trial socket would not do) */
    return ff_net_fds_free (1)? zsock_new (type): NULL;
}

zsock_t *
ff_net_socket (int type, int hwm, int linger_ms, int64_t maxmsg)
{
    zsock_t *sock = ff_net_new (type);
    if (!sock)
        return NULL;
    void *handle = zsock_resolve (sock);
    /* a peer that starts before the stage it connects to joins within 10 ms,
       not libzmq's default 100 ms; retries back off to a second */
    int reconnect = 10, reconnect_max = 1000;
    zmq_setsockopt (handle, ZMQ_RECONNECT_IVL, &reconnect, sizeof (reconnect));
    zmq_setsockopt (handle, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof (reconnect_max));
    zmq_setsockopt (handle, ZMQ_SNDHWM, &hwm, sizeof (hwm));
    zmq_setsockopt (handle, ZMQ_RCVHWM, &hwm, sizeof (hwm));
    zmq_setsockopt (handle, ZMQ_LINGER, &linger_ms, sizeof (linger_ms));
    zmq_setsockopt (handle, ZMQ_MAXMSGSIZE, &maxmsg, sizeof (maxmsg));
    if (type == ZMQ_ROUTER) {
        int mandatory = 1;
        zmq_setsockopt (handle, ZMQ_ROUTER_MANDATORY, &mandatory, sizeof (mandatory));
    }
    return sock;
}

/* Whether the socket of item index has a message, asked of ZMQ_EVENTS
   (which takes the commands its mailbox holds). Returns 1, 0, or -1. */
static int
s_wait_has_message (ff_net_wait_t *wait, int index)
{
    int events = 0;
    size_t size = sizeof (events);
    if (zmq_getsockopt (wait->sockets [index], ZMQ_EVENTS, &events, &size) != 0) {
        wait->drained [index] = 0;
        return errno == EINTR? 0: -1;   /* a signal: the caller looks again */
    }
    wait->drained [index] = (events & ZMQ_POLLIN) == 0;
    return !wait->drained [index];
}

ff_net_send_state_t
ff_net_can_send (void *handle)
{
    int events = 0;
    size_t size = sizeof (events);
    if (zmq_getsockopt (handle, ZMQ_EVENTS, &events, &size) != 0)
        return errno == EINTR? FF_NET_SEND_FULL: FF_NET_SEND_ERROR;
    return events & ZMQ_POLLOUT? FF_NET_SEND_READY: FF_NET_SEND_FULL;
}

int
ff_net_wait (ff_net_wait_t *wait, int *ready, int timeout_ms)
{
    struct pollfd fds [FF_NET_WAIT_MAX + FF_NET_WAIT_WRITABLE_MAX];
    int index, found = 0, plain = 0, unasked = 0, can_send = 0, rc;
    ff_net_send_state_t state;
    assert (wait->count >= 0 && wait->count <= FF_NET_WAIT_MAX);
    assert (wait->nwritable >= 0 && wait->nwritable <= FF_NET_WAIT_WRITABLE_MAX);
    for (index = 0; index < wait->count; index++) {
        ready [index] = 0;
        if (!wait->sockets [index])
            plain += wait->fds [index] >= 0 && !wait->fds_wake_only;
        else
        if (wait->drained [index])
            unasked++;
        else {
            if ((rc = s_wait_has_message (wait, index)) < 0)
                return -1;
            found += ready [index] = rc;
        }
    }
    /* asked first, as a drained socket is not: the question takes the
       commands that came, so the descriptor signals only the next one */
    for (index = 0; index < wait->nwritable && !can_send; index++) {
        if ((state = ff_net_can_send (wait->writable [index])) == FF_NET_SEND_ERROR)
            return -1;
        can_send = state == FF_NET_SEND_READY;
    }
    /* a drained socket is looked at by its descriptor even when another
       has a message, so that a steady stream on one starves no other */
    if ((found || can_send) && !plain && !unasked)
        return found;
    for (index = 0; index < wait->count + wait->nwritable; index++) {
        void *handle = index < wait->count? wait->sockets [index]
                                          : wait->writable [index - wait->count];
        size_t size = sizeof (fds [index].fd);
        fds [index].fd = index < wait->count? wait->fds [index]: -1;
        fds [index].events = POLLIN;
        fds [index].revents = 0;
        if (handle && zmq_getsockopt (handle, ZMQ_FD, &fds [index].fd, &size) != 0)
            return -1;
    }
    if ((rc = poll (fds, (nfds_t) (wait->count + wait->nwritable),
                    found || can_send? 0: timeout_ms)) < 0)
        return errno == EINTR? found: -1;
    for (index = 0; rc > 0 && index < wait->count; index++) {
        if (!fds [index].revents || ready [index])
            continue;
        if (!wait->sockets [index])
            ready [index] = 1;
        else
        if ((ready [index] = s_wait_has_message (wait, index)) < 0)
            return -1;
        found += ready [index];
    }
    return found;
}

void
ff_net_wait_read (ff_net_wait_t *wait, int index, int rc)
{
    wait->drained [index] = rc < 0 && errno == EAGAIN;
}

void
ff_net_drain (zsock_t *sock)
{
    void *handle = zsock_resolve (sock);
    int more = 1;
    while (more) {
        zmq_msg_t frame;
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&frame);
            return;
        }
        more = zmq_msg_more (&frame);
        zmq_msg_close (&frame);
    }
}

int
ff_net_recv (zsock_t *sock, zmq_msg_t *routing, zmq_msg_t *body)
{
    void *handle = zsock_resolve (sock);
    zmq_msg_init (body);
    if (routing) {
        zmq_msg_init (routing);
        if (zmq_msg_recv (routing, handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (routing);
            zmq_msg_close (body);
            return -1;
        }
        if (!zmq_msg_more (routing)) {
            zmq_msg_close (routing);
            zmq_msg_close (body);
            return 1;
        }
    }
    if (zmq_msg_recv (body, handle, ZMQ_DONTWAIT) < 0) {
        if (routing)
            zmq_msg_close (routing);
        zmq_msg_close (body);
        return routing? 1: -1;
    }
    if (zmq_msg_more (body)) {
        ff_net_drain (sock);
        if (routing)
            zmq_msg_close (routing);
        zmq_msg_close (body);
        return 1;
    }
    return 0;
}

int
ff_net_send (zsock_t *sock, const void *routing, size_t routing_len,
             const void *data, size_t size, int timeout_ms)
{
    void *handle = zsock_resolve (sock);
    int flags = timeout_ms > 0? 0: ZMQ_DONTWAIT;
    if (timeout_ms > 0)
        zmq_setsockopt (handle, ZMQ_SNDTIMEO, &timeout_ms, sizeof (timeout_ms));
    if (routing_len > 0
    &&  zmq_send (handle, routing, routing_len, flags | ZMQ_SNDMORE) < 0)
        return -1;
    if (zmq_send (handle, data, size, flags) < 0)
        return -1;
    return 0;
}

int
ff_net_check_endpoint (const char *endpoint, char *error, size_t error_size)
{
    assert (endpoint);
    if (strncmp (endpoint, "ipc://", 6) == 0) {
        const char *path = endpoint + 6;
        if (path [0] != '/') {
            snprintf (error, error_size, "%s: expected ipc:///absolute/path", endpoint);
            return -1;
        }
        if (strlen (path) > FF_NET_IPC_PATH_MAX) {
            snprintf (error, error_size,
                      "%s: the ipc path has %zu characters, more than the %d a Unix "
                      "socket address holds: use a shorter directory",
                      endpoint, strlen (path), FF_NET_IPC_PATH_MAX);
            return -1;
        }
        return 0;
    }
    if (strncmp (endpoint, "tcp://", 6) == 0) {
        const char *host = endpoint + 6;
        const char *colon = strrchr (host, ':');
        if (!colon || colon == host) {
            snprintf (error, error_size, "%s: expected tcp://host:port", endpoint);
            return -1;
        }
        const char *port = colon + 1;
        if (strcmp (port, "*") == 0)
            return 0;               /* a port the system picks */
        /* czmq's range form, a free port from FIRST to LAST: "*[54000-54999]" */
        int first, last, used = 0;
        if (sscanf (port, "*[%d-%d]%n", &first, &last, &used) == 2 && used > 0 && !port [used]
        &&  first >= 1 && first <= last && last <= 65535)
            return 0;
        char *end;
        errno = 0;
        long number = *port >= '0' && *port <= '9'? strtol (port, &end, 10): -1;
        if (number < 1 || number > 65535 || errno || *end) {
            snprintf (error, error_size,
                      "%s: port \"%s\" is not a number from 1 to 65535 (or * for any, "
                      "or *[FIRST-LAST] for one in a range)",
                      endpoint, port);
            return -1;
        }
        return 0;
    }
    snprintf (error, error_size, "%s: expected ipc:///absolute/path or tcp://host:port",
              endpoint);
    return -1;
}

int
ff_net_ipc_busy (const char *endpoint)
{
    struct sockaddr_un address;
    _Static_assert (FF_NET_IPC_PATH_MAX < sizeof (address.sun_path),
                    "an ipc path and its NUL fit in sun_path");
    if (strncmp (endpoint, "ipc://", 6) != 0 || strlen (endpoint + 6) >= sizeof (address.sun_path))
        return 0;
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return 0;
    memset (&address, 0, sizeof (address));
    address.sun_family = AF_UNIX;
    strcpy (address.sun_path, endpoint + 6);
    int busy = connect (fd, (struct sockaddr *) &address, sizeof (address)) == 0;
    close (fd);
    return busy;
}

/* Fills address with the path of an ipc endpoint. Returns its length
   for bind and connect, or 0 when endpoint is no ipc path that fits. */
static socklen_t
s_ipc_address (const char *endpoint, struct sockaddr_un *address)
{
    if (strncmp (endpoint, "ipc://", 6) != 0 || strlen (endpoint + 6) >= sizeof (address->sun_path))
        return 0;
    memset (address, 0, sizeof (*address));
    address->sun_family = AF_UNIX;
    strcpy (address->sun_path, endpoint + 6);
    return (socklen_t) sizeof (*address);
}

int
ff_net_ipc_listen (const char *endpoint, int backlog)
{
    struct sockaddr_un address;
    socklen_t size = s_ipc_address (endpoint, &address);
    if (!size) {
        errno = EINVAL;
        return -1;
    }
    int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    unlink (address.sun_path);
    if (bind (fd, (struct sockaddr *) &address, size) != 0 || listen (fd, backlog) != 0) {
        int error = errno;
        close (fd);
        errno = error;
        return -1;
    }
    return fd;
}

static int s_handed = -1;           /* ff_net_hand_listener's, until taken */

void
ff_net_hand_listener (int fd)
{
    s_handed = fd;
}

/* The listening socket ff_net_hand_listener gave, else the one
   FF_NET_LISTEN_FD_ENV names, when it listens on endpoint's ipc path;
   else -1. */
static int
s_inherited_listener (const char *endpoint)
{
    const char *given = getenv (FF_NET_LISTEN_FD_ENV);
    struct sockaddr_un wanted, bound;
    socklen_t size = sizeof (bound);
    int listening = 0;
    socklen_t flag_size = sizeof (listening);
    char *end = "";
    long fd = s_handed;
    if (fd < 0 && given && *given)
        fd = strtol (given, &end, 10);
    if (*end || fd <= STDERR_FILENO || fd > INT32_MAX || !s_ipc_address (endpoint, &wanted))
        return -1;
    memset (&bound, 0, sizeof (bound));
    if (getsockname ((int) fd, (struct sockaddr *) &bound, &size) != 0
    ||  bound.sun_family != AF_UNIX || strcmp (bound.sun_path, wanted.sun_path) != 0
    ||  getsockopt ((int) fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &flag_size) != 0
    ||  !listening)
        return -1;
    return (int) fd;
}

int
ff_net_bind (zsock_t *sock, const char *endpoint, char *error, size_t error_size)
{
    int inherited = s_inherited_listener (endpoint);
    if (inherited >= 0) {
        /* the stage's from now on: no child of it sees the variable, and
           libzmq closes the socket with the stage's own */
        s_handed = -1;
        if (getenv (FF_NET_LISTEN_FD_ENV))
            unsetenv (FF_NET_LISTEN_FD_ENV);
        fcntl (inherited, F_SETFD, FD_CLOEXEC);
        fcntl (inherited, F_SETFL, fcntl (inherited, F_GETFL) | O_NONBLOCK);
        if (zmq_setsockopt (zsock_resolve (sock), ZMQ_USE_FD, &inherited, sizeof (inherited)) == 0
        &&  zsock_bind (sock, "%s", endpoint) >= 0)
            return 0;
        snprintf (error, error_size, "cannot listen on %s: %s", endpoint, zmq_strerror (errno));
        return -1;
    }
    if (ff_net_ipc_busy (endpoint)) {
        snprintf (error, error_size, "another job is running on %s: wait for it, or use another "
                  "topology", endpoint);
        return -1;
    }
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        snprintf (error, error_size, "cannot bind %s: %s", endpoint, zmq_strerror (errno));
        return -1;
    }
    return 0;
}

void
ff_net_peer_name (char *name, size_t size)
{
    char host [128] = "localhost";
    gethostname (host, sizeof (host) - 1);
    host [sizeof (host) - 1] = 0;
    snprintf (name, size, "%s:%d", host, (int) getpid ());
}
