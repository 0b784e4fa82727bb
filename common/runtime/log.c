/*  fanfold logging to stderr, and the monotonic clock the stages share. */

#include "fanfold/runtime/log.h"

#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

static const char *s_stage = "fanfold";
static int s_verbose = 0;
static int64_t s_last_reject = -1000000;

void
ff_log_init (const char *stage, int verbose)
{
    s_stage = stage;
    s_verbose = verbose;
}

int
ff_log_verbose (void)
{
    return s_verbose;
}

void
ff_stdio_guard (void)
{
    int fd;
    for (fd = 0; fd <= 2; fd++)
        if (fcntl (fd, F_GETFD) < 0) {
            /* open returns the lowest free descriptor: this one */
            int null = open ("/dev/null", fd == 0? O_RDONLY: O_WRONLY);
            if (null >= 0 && null != fd)
                close (null);       /* fd was taken meanwhile: nothing to fill */
        }
}

static void
s_print (const char *format, va_list args)
{
    char line [1024];
    vsnprintf (line, sizeof (line), format, args);
    fprintf (stderr, "%s: %s\n", s_stage, line);
}

void
ff_log_error (const char *format, ...)
{
    va_list args;
    va_start (args, format);
    s_print (format, args);
    va_end (args);
}

void
ff_log_info (const char *format, ...)
{
    if (!s_verbose)
        return;
    va_list args;
    va_start (args, format);
    s_print (format, args);
    va_end (args);
}

void
ff_log_reject (uint64_t *counter, const char *format, ...)
{
    (*counter)++;
    int64_t now = ff_clock_ms ();
    if (now - s_last_reject < 1000)
        return;
    s_last_reject = now;
    char line [512];
    va_list args;
    va_start (args, format);
    vsnprintf (line, sizeof (line), format, args);
    va_end (args);
    fprintf (stderr, "%s: dropped: %s (%" PRIu64 " dropped so far)\n",
             s_stage, line, *counter);
}

int64_t
ff_clock_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

int64_t
ff_clock_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}
