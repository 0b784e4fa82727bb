/*  fanfold's standard descriptors: every executable makes sure fds 0, 1
    and 2 are open before it creates any socket or file, so that neither
    a log line nor a read of "stdin" lands on a descriptor that libzmq or
    the output has taken (an eventfd, the -o file). */

#ifndef FANFOLD_STDFDS_H
#define FANFOLD_STDFDS_H

/* Bits of what ff_stdfds_guard found closed (and opened to /dev/null). */
#define FF_STDFDS_IN   1            /* fd 0, standard input, was closed */
#define FF_STDFDS_OUT  2            /* fd 1, standard output, was closed */
#define FF_STDFDS_ERR  4            /* fd 2, standard error, was closed */

/* Opens /dev/null on each of fds 0, 1 and 2 that is closed (read-only on
   0, write-only on 1 and 2). Call it first in main, before any socket,
   thread or file exists. Returns the FF_STDFDS_* bits of the fds it found
   closed (0 when all were open), or -1 when /dev/null could not be opened
   (errno set; a standard fd may then still be closed). */
int
    ff_stdfds_guard (void);

#endif
