/*  fanfold file-descriptor limits: every stage raises its soft
    RLIMIT_NOFILE to the hard limit at start and sizes libzmq's socket
    table to match, and no stage aborts when descriptors run out.

    libzmq 4.3 asserts when accept () on an ipc listener fails with EMFILE
    (src/ipc_listener.cpp), and spins on a tcp listener that keeps failing.
    This module therefore wraps accept and accept4 for the whole process:
    when the table is full it gives up a spare descriptor it holds, accepts
    the pending connection and closes it at once (the peer sees a refused
    connection and retries later), and hands libzmq ECONNABORTED, which it
    ignores. A listener can also be guarded: a connection on it is refused
    while fewer than `reserve` descriptors are left, so that peers that
    only knock (a worker the ventilator has no room for) cannot take the
    descriptors promised to the workers it admitted. */

#ifndef FANFOLD_FDLIMIT_H
#define FANFOLD_FDLIMIT_H

#include <stdint.h>

/* Raises the soft RLIMIT_NOFILE to the hard limit (at most the kernel's
   nr_open), keeps one spare descriptor for refusing connections, and sets
   ZMQ_MAX_SOCKETS of czmq's context to the same number (at most libzmq's
   ZMQ_SOCKET_LIMIT). Call it first in main, before any socket: libzmq
   sizes its socket table when the first socket is made. Returns the soft
   limit now in force; a limit that cannot be raised is kept (and
   returned). Safe to call twice. */
int
    ff_fdlimit_raise (void);

/* The soft RLIMIT_NOFILE as ff_fdlimit_raise left it (the current one if
   it was not called). */
int
    ff_fdlimit_max (void);

/* Guards the listener bound on endpoint (ipc:// or tcp://, as bound):
   from now on a connection accepted on it is closed at once, as if the
   table were full, while fewer than the reserve set with
   ff_fdlimit_set_reserve are free. One listener at a time; NULL removes
   the guard. */
void
    ff_fdlimit_guard (const char *endpoint);

/* Sets how many descriptors the guarded listener must leave free. */
void
    ff_fdlimit_set_reserve (int reserve);

/* Connections refused so far (guard or full table), for logs. */
uint64_t
    ff_fdlimit_refused (void);

/* Descriptors open in this process (counted in /proc/self/fd), or -1. */
int
    ff_fdlimit_open_count (void);

#endif
