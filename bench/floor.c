/*  The machine's floor under rows 4a-4c: what its processes cost with
    no fanfold and no messages at all.

    floor sleep N K MS   N forked processes, each sleeping K times MS ms
                         (absolute deadlines, so no drift), the way
                         `-K sleep` sleeps; exits when all have ended.
                         Rows 4a and 4b: ideal ÷ this wall time is the
                         most any fan-out of N processes reaches here.
    floor start N        forks N processes that exit at once and reaps
                         them; prints the fork loop's seconds and the
                         whole time with the reaping. Row 4c: the least a
                         spawn loop of N processes costs here.
    floor touch          prints what this machine charges for memory a
                         new process touches: µs per first read of a page
                         it inherited, per first write of one (copy on
                         write), and per fault on a fresh page.

    Exit 0, or 1 with a message when a call fails. */

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_TOUCH_PAGES 4096

static double
s_now (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return now.tv_sec + now.tv_nsec / 1e9;
}

static int
s_fail (const char *what)
{
    fprintf (stderr, "floor: %s: %s\n", what, strerror (errno));
    return 1;
}

/* Reaps every child; returns 0, or 1 when one did not exit 0. */
static int
s_reap_all (void)
{
    int status, failed = 0;
    pid_t pid;
    while ((pid = wait (&status)) > 0 || (pid < 0 && errno == EINTR))
        if (pid > 0 && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
            failed = 1;
    return failed;
}

static void
s_sleeper (long count, long ms)
{
    struct timespec at;
    clock_gettime (CLOCK_MONOTONIC, &at);
    for (long index = 0; index < count; index++) {
        at.tv_nsec += ms * 1000000L;
        at.tv_sec += at.tv_nsec / 1000000000L;
        at.tv_nsec %= 1000000000L;
        while (clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &at, NULL) == EINTR)
            ;
    }
    _exit (0);
}

static int
s_sleep (long processes, long count, long ms)
{
    double started = s_now ();
    for (long index = 0; index < processes; index++) {
        pid_t pid = fork ();
        if (pid < 0) {
            s_fail ("fork");
            kill (0, SIGTERM);
            return 1;
        }
        if (pid == 0)
            s_sleeper (count, ms);
    }
    int failed = s_reap_all ();
    double wall = s_now () - started, ideal = count * ms / 1000.0;
    printf ("sleep: %ld processes × %ld × %ld ms: %.3f s (ideal %.3f s, %.3f of it)\n",
            processes, count, ms, wall, ideal, ideal / wall);
    return failed;
}

static int
s_start (long processes)
{
    double started = s_now ();
    for (long index = 0; index < processes; index++) {
        pid_t pid = fork ();
        if (pid < 0)
            return s_fail ("fork");
        if (pid == 0)
            _exit (0);
    }
    double loop = s_now () - started;
    int failed = s_reap_all ();
    printf ("start: %ld processes: loop %.3f s, with reaping %.3f s\n",
            processes, loop, s_now () - started);
    return failed;
}

/* µs per page of touching count pages at base, one byte each. */
static double
s_touch (volatile char *base, size_t count, int write)
{
    long page = sysconf (_SC_PAGESIZE);
    double started = s_now ();
    char sum = 0;
    for (size_t index = 0; index < count; index++)
        if (write)
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
        double read = s_touch (inherited, S_TOUCH_PAGES / 2, 0);
        double write = s_touch (inherited + S_TOUCH_PAGES / 2 * page, S_TOUCH_PAGES / 2, 1);
        char *fresh = mmap (NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (fresh == MAP_FAILED)
            _exit (s_fail ("mmap"));
        double fault = s_touch (fresh, S_TOUCH_PAGES, 1);
        printf ("touch: µs per page in a new process: first read of an inherited one %.2f, "
                "first write of one %.2f, fresh page %.2f\n", read, write, fault);
        fflush (stdout);
        _exit (0);
    }
    return s_reap_all ();
}

int
main (int argc, char *argv [])
{
    if (argc == 5 && strcmp (argv [1], "sleep") == 0
    &&  atol (argv [2]) > 0 && atol (argv [3]) > 0 && atol (argv [4]) > 0)
        return s_sleep (atol (argv [2]), atol (argv [3]), atol (argv [4]));
    if (argc == 3 && strcmp (argv [1], "start") == 0 && atol (argv [2]) > 0)
        return s_start (atol (argv [2]));
    if (argc == 2 && strcmp (argv [1], "touch") == 0)
        return s_touches ();
    fprintf (stderr, "usage: floor sleep N K MS | floor start N | floor touch\n");
    return 2;
}
