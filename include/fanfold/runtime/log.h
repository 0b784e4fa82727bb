/*  fanfold logging: one line per event on stderr, prefixed with the stage
    name. Errors always print; info with -v; rejects are rate-limited. */

#ifndef FANFOLD_LOG_H
#define FANFOLD_LOG_H

#include <stdint.h>

/* Opens /dev/null on each of descriptors 0, 1 and 2 that is closed, so
   that no file or socket opened later takes their place (a log line would
   land in it, or output in a ZeroMQ eventfd). Call first in main, before
   any file or socket exists. */
void
    ff_stdio_guard (void);

/* Sets the stage name printed before every line and the verbosity. */
void
    ff_log_init (const char *stage, int verbose);

/* Returns the verbosity set by ff_log_init. */
int
    ff_log_verbose (void);

/* Prints an error line. */
void
    ff_log_error (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

/* Prints an info line when verbose. */
void
    ff_log_info (const char *format, ...) __attribute__ ((format (printf, 1, 2)));

/* Counts one rejected message in *counter and prints a line about it at
   most once a second, with the running count. */
void
    ff_log_reject (uint64_t *counter, const char *format, ...)
    __attribute__ ((format (printf, 2, 3)));

/* Returns a monotonic clock in milliseconds. */
int64_t
    ff_clock_ms (void);

/* Returns a monotonic clock in microseconds. */
int64_t
    ff_clock_us (void);

#endif
