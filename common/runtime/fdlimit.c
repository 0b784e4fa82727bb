/*  fanfold file-descriptor limits (see fdlimit.h): the raised soft limit,
    and accept/accept4 wrappers that refuse a connection instead of letting
    libzmq see EMFILE. The wrappers run on libzmq's I/O thread; what they
    share with the main thread is atomic or written before any socket. */

#include "fanfold/runtime/fdlimit.h"

#include <czmq.h>
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

typedef int (s_accept_fn) (int, struct sockaddr *, socklen_t *);
typedef int (s_accept4_fn) (int, struct sockaddr *, socklen_t *, int);

static int s_limit = 0;                 /* soft limit once raised; 0: not yet */
static int s_spare = -1;                /* given up to accept and close a connection */
static int s_reserve = 0;               /* free descriptors the guarded listener leaves */
static uint64_t s_refused = 0;          /* connections refused */
static char s_guard_path [sizeof (((struct sockaddr_un *) 0)->sun_path)];
                                        /* the guarded ipc listener's path, or "" */
static int s_guard_port = 0;            /* the guarded tcp listener's port, or 0 */

static int
s_soft_limit (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit))
        return 1024;
    return limit.rlim_cur == RLIM_INFINITY || limit.rlim_cur > INT32_MAX?
        INT32_MAX: (int) limit.rlim_cur;
}

int
ff_fdlimit_raise (void)
{
    struct rlimit limit;
    if (getrlimit (RLIMIT_NOFILE, &limit) == 0 && limit.rlim_cur < limit.rlim_max) {
        rlim_t target = limit.rlim_max;
        /* the kernel refuses more than nr_open, even under an infinite hard limit */
        FILE *file = fopen ("/proc/sys/fs/nr_open", "r");
        unsigned long nr_open = 0;
        if (file && fscanf (file, "%lu", &nr_open) == 1 && nr_open > 0 && target > nr_open)
            target = (rlim_t) nr_open;
        if (file)
            fclose (file);
        if (target > limit.rlim_cur) {
            limit.rlim_cur = target;
            setrlimit (RLIMIT_NOFILE, &limit);
        }
    }
    int soft = s_soft_limit ();
    if (s_spare < 0)
        s_spare = open ("/dev/null", O_RDONLY | O_CLOEXEC);
    /* libzmq refuses a socket past ZMQ_MAX_SOCKETS (1023 by default), far
       below what the descriptors allow */
    void *context = zsys_init ();
    if (context) {
        int sockets = soft, most = zmq_ctx_get (context, ZMQ_SOCKET_LIMIT);
        if (most > 0 && sockets > most)
            sockets = most;
        zmq_ctx_set (context, ZMQ_MAX_SOCKETS, sockets);
    }
    __atomic_store_n (&s_limit, soft, __ATOMIC_RELEASE);
    return soft;
}

int
ff_fdlimit_max (void)
{
    int limit = __atomic_load_n (&s_limit, __ATOMIC_ACQUIRE);
    return limit? limit: s_soft_limit ();
}

void
ff_fdlimit_guard (const char *endpoint)
{
    s_guard_path [0] = 0;
    __atomic_store_n (&s_guard_port, 0, __ATOMIC_RELEASE);
    if (endpoint && strncmp (endpoint, "ipc://", 6) == 0
    &&  strlen (endpoint + 6) < sizeof (s_guard_path))
        strcpy (s_guard_path, endpoint + 6);
    else
    if (endpoint && strncmp (endpoint, "tcp://", 6) == 0) {
        const char *colon = strrchr (endpoint, ':');
        __atomic_store_n (&s_guard_port, colon? atoi (colon + 1): 0, __ATOMIC_RELEASE);
    }
}

void
ff_fdlimit_set_reserve (int reserve)
{
    __atomic_store_n (&s_reserve, reserve < 0? 0: reserve, __ATOMIC_RELEASE);
}

uint64_t
ff_fdlimit_refused (void)
{
    return __atomic_load_n (&s_refused, __ATOMIC_ACQUIRE);
}

int
ff_fdlimit_open_count (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    if (!dir)
        return -1;
    int count = -1;                     /* the directory's own descriptor */
    while (readdir (dir))
        count++;
    closedir (dir);
    return count - 2;                   /* . and .. */
}

/* Whether listener is the guarded one. */
static int
s_guarded (int listener)
{
    union {
        struct sockaddr_un un;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } address;
    socklen_t size = sizeof (address);
    int port = __atomic_load_n (&s_guard_port, __ATOMIC_ACQUIRE);
    if ((!s_guard_path [0] && !port)
    ||  getsockname (listener, (struct sockaddr *) &address, &size))
        return 0;
    if (address.un.sun_family == AF_UNIX)
        return s_guard_path [0] && strncmp (address.un.sun_path, s_guard_path,
                                            sizeof (s_guard_path)) == 0;
    if (address.in.sin_family == AF_INET)
        return port && ntohs (address.in.sin_port) == port;
    if (address.in6.sin6_family == AF_INET6)
        return port && ntohs (address.in6.sin6_port) == port;
    return 0;
}

/* What an accept on listener that returned fd (with errno) becomes: the
   connection, or -1 with ECONNABORTED when it was refused. */
static int
s_admit (int listener, int fd, s_accept4_fn *real, int flags)
{
    if (fd < 0 && (errno == EMFILE || errno == ENFILE) && s_spare >= 0) {
        /* the table is full: take the connection off the backlog with the
           spare descriptor, so that the listener does not wake up again */
        close (s_spare);
        s_spare = -1;
        fd = real (listener, NULL, NULL, flags);
        int error = errno;
        if (fd >= 0)
            close (fd);
        s_spare = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        if (fd < 0 && error != EMFILE && error != ENFILE) {
            errno = error;              /* nothing was waiting after all */
            return -1;
        }
        __atomic_add_fetch (&s_refused, 1, __ATOMIC_ACQ_REL);
        errno = ECONNABORTED;
        return -1;
    }
    if (fd < 0) {
        if (errno == EMFILE || errno == ENFILE)
            errno = ECONNABORTED;       /* libzmq asserts on EMFILE */
        return -1;
    }
    int limit = __atomic_load_n (&s_limit, __ATOMIC_ACQUIRE),
        reserve = __atomic_load_n (&s_reserve, __ATOMIC_ACQUIRE);
    /* descriptors are handed out lowest first: fd is at least the count in use */
    if (limit > 0 && reserve > 0 && fd >= limit - reserve && s_guarded (listener)) {
        close (fd);
        __atomic_add_fetch (&s_refused, 1, __ATOMIC_ACQ_REL);
        errno = ECONNABORTED;
        return -1;
    }
    return fd;
}

static int
s_accept4_plain (int listener, struct sockaddr *address, socklen_t *size, int flags)
{
    static s_accept_fn *real = NULL;
    if (!real)
        real = (s_accept_fn *) dlsym (RTLD_NEXT, "accept");
    (void) flags;
    return real? real (listener, address, size): (errno = ENOSYS, -1);
}

static s_accept4_fn *
s_real_accept4 (void)
{
    static s_accept4_fn *real = NULL;
    if (!real)
        real = (s_accept4_fn *) dlsym (RTLD_NEXT, "accept4");
    return real;
}

/* glibc declares the address as a transparent union (__SOCKADDR_ARG) */
int
accept4 (int listener, __SOCKADDR_ARG address, socklen_t *__restrict size, int flags)
{
    s_accept4_fn *real = s_real_accept4 ();
    if (!real) {
        errno = ENOSYS;
        return -1;
    }
    return s_admit (listener, real (listener, address.__sockaddr__, size, flags), real, flags);
}

int
accept (int listener, __SOCKADDR_ARG address, socklen_t *__restrict size)
{
    return s_admit (listener, s_accept4_plain (listener, address.__sockaddr__, size, 0),
                    s_accept4_plain, 0);
}
