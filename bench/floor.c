/*  The machine's floor under rows 4a-4c: what its processes cost with
    no fanfold and no messages at all.

    floor sleep N K MS   N forked processes, each sleeping K times MS ms,
                         every sleep ending MS ms after its own start, as
                         the `sleep` kernel's task does; exits when all
                         have ended. Rows 4a and 4b: ideal ÷ this wall
                         time is the most any fan-out of N processes
                         reaches on this machine.
    floor start N        forks N processes that exit at once and reaps
                         them; prints the fork loop's seconds and the
                         whole time with the reaping. Row 4c: the least a
                         spawn loop of N processes costs here.
    floor touch          prints what this machine charges for memory a
                         new process touches: µs per first read of a page
                         it inherited, per first write of one (copy on
                         write), and per fault on a fresh page.

    Exit 0; 1 with a message when a call fails or a child does not exit
    0; 2 with the usage on bad arguments. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_PROCESSES 100000      /* N of sleep and start */
#define S_MAX_SLEEPS    1000000     /* K of sleep */
#define S_MAX_MS        86400000    /* MS of sleep: a day */
#define S_TOUCH_PAGES   4096        /* pages of each kind that touch times */

/* Seconds on the monotonic clock, or a negative number when it fails. */
static double
s_now (void)
{
    struct timespec now;
    if (clock_gettime (CLOCK_MONOTONIC, &now) != 0)
        return -1;
    return now.tv_sec + now.tv_nsec / 1e9;
}

static int
s_fail (const char *what)
{
    fprintf (stderr, "floor: %s: %s\n", what, strerror (errno));
    return 1;
}

/* Reaps every child; returns 0, or 1 (said why) when one did not exit 0. */
static int
s_reap_all (void)
{
    int status, failed = 0;
    pid_t pid;
    while ((pid = wait (&status)) > 0 || (pid < 0 && errno == EINTR)) {
        if (pid < 0 || (WIFEXITED (status) && WEXITSTATUS (status) == 0))
            continue;
        if (WIFEXITED (status))
            fprintf (stderr, "floor: process %d exited %d\n", (int) pid, WEXITSTATUS (status));
        else
            fprintf (stderr, "floor: process %d ended by signal %d\n", (int) pid,
                     WIFSIGNALED (status)? WTERMSIG (status): 0);
        failed = 1;
    }
    return failed;
}

static void
s_sleeper (long count, long ms)
{
    for (long index = 0; index < count; index++) {
        struct timespec until;
        if (clock_gettime (CLOCK_MONOTONIC, &until) != 0)
            _exit (s_fail ("clock_gettime"));
        until.tv_sec += ms / 1000;
        until.tv_nsec += ms % 1000 * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        int rc;
        while ((rc = clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &until, NULL)) == EINTR)
            ;
        if (rc != 0) {
            errno = rc;
            _exit (s_fail ("clock_nanosleep"));
        }
    }
    _exit (0);
}

/* Forks processes children, each running s_sleeper (count, ms), or
   exiting at once when count is 0. Returns 0, or 1 (said why) when a fork
   failed: the children made so far are stopped and reaped. */
static int
s_fork_all (long processes, long count, long ms)
{
    pid_t *pids = calloc ((size_t) processes, sizeof (pid_t));
    if (!pids)
        return s_fail ("calloc");
    for (long index = 0; index < processes; index++) {
        pid_t pid = fork ();
        if (pid < 0) {
            int error = errno;
            for (long made = 0; made < index; made++)
                kill (pids [made], SIGTERM);
            s_reap_all ();
            free (pids);
            errno = error;
            return s_fail ("fork");
        }
        if (pid == 0 && count > 0)
            s_sleeper (count, ms);
        if (pid == 0)
            _exit (0);
        pids [index] = pid;
    }
    free (pids);
    return 0;
}

static int
s_sleep (long processes, long count, long ms)
{
    double started = s_now ();
    if (s_fork_all (processes, count, ms))
        return 1;
    int failed = s_reap_all ();
    double wall = s_now () - started, ideal = (double) count * ms / 1000.0;
    if (started < 0 || wall < 0)
        return s_fail ("clock_gettime");
    printf ("sleep: %ld processes × %ld × %ld ms: %.3f s (ideal %.3f s, %.3f of it)\n",
            processes, count, ms, wall, ideal, ideal / wall);
    return failed;
}

static int
s_start (long processes)
{
    double started = s_now ();
    if (s_fork_all (processes, 0, 0))
        return 1;
    double loop = s_now () - started;
    int failed = s_reap_all ();
    double whole = s_now () - started;
    if (started < 0 || loop < 0 || whole < 0)
        return s_fail ("clock_gettime");
    printf ("start: %ld processes: loop %.3f s, with reaping %.3f s\n", processes, loop, whole);
    return failed;
}

/* µs per page of touching count pages at base, a byte each: reading
   them, or writing them when writing. */
static double
s_touch (volatile char *base, size_t count, long page, int writing)
{
    double started = s_now ();
    char sum = 0;
    for (size_t index = 0; index < count; index++)
        if (writing)
            base [index * page] = 2;
        else
            sum += base [index * page];
    (void) sum;
    return (s_now () - started) / count * 1e6;
}

static int
s_touches (void)
{
    long page = sysconf (_SC_PAGESIZE);
    if (page <= 0)
        return s_fail ("sysconf (_SC_PAGESIZE)");
    size_t size = (size_t) S_TOUCH_PAGES * page;
    char *inherited = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (inherited == MAP_FAILED)
        return s_fail ("mmap");
    memset (inherited, 1, size);
    fflush (stdout);
    pid_t pid = fork ();
    if (pid < 0)
        return s_fail ("fork");
    if (pid == 0) {
        double read_us = s_touch (inherited, S_TOUCH_PAGES / 2, page, 0);
        double write_us = s_touch (inherited + S_TOUCH_PAGES / 2 * page, S_TOUCH_PAGES / 2, page, 1);
        char *fresh = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (fresh == MAP_FAILED)
            _exit (s_fail ("mmap"));
        double fresh_us = s_touch (fresh, S_TOUCH_PAGES, page, 1);
        if (s_now () < 0)
            _exit (s_fail ("clock_gettime"));
        printf ("touch: µs per page in a new process: first read of an inherited one %.2f, "
                "first write of one %.2f, fresh page %.2f\n", read_us, write_us, fresh_us);
        fflush (stdout);
        _exit (0);
    }
    return s_reap_all ();
}

/* Reads a whole number in [1, high] from text into value; 0, or -1. */
static int
s_number (const char *text, long high, long *value)
{
    char *end;
    errno = 0;
    *value = strtol (text, &end, 10);
    return errno || end == text || *end || *value < 1 || *value > high? -1: 0;
}

int
main (int argc, char *argv [])
{
    long processes, count, ms;
    if (argc == 5 && strcmp (argv [1], "sleep") == 0
    &&  s_number (argv [2], S_MAX_PROCESSES, &processes) == 0
    &&  s_number (argv [3], S_MAX_SLEEPS, &count) == 0
    &&  s_number (argv [4], S_MAX_MS, &ms) == 0)
        return s_sleep (processes, count, ms);
    if (argc == 3 && strcmp (argv [1], "start") == 0
    &&  s_number (argv [2], S_MAX_PROCESSES, &processes) == 0)
        return s_start (processes);
    if (argc == 2 && strcmp (argv [1], "touch") == 0)
        return s_touches ();
    fprintf (stderr, "usage: floor sleep N K MS | floor start N | floor touch\n"
                     "  N from 1 to %d, K from 1 to %d, MS from 1 to %d\n",
             S_MAX_PROCESSES, S_MAX_SLEEPS, S_MAX_MS);
    return 2;
}
