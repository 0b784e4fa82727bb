/*  The second figure of row 9 (bench/pool_latency.py): the latency of a
    job submitted by a library call, without starting a process. Calls
    ff_service_submit (the code behind `fanfold submit`) COUNT times in
    one process, its output to /dev/null, and prints one line per call:
    the seconds it took.
    Usage: submit_call TOPOLOGY COUNT [JOB OPTIONS AND INPUTS...] */

#include "fanfold/launch/service.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

int
main (int argc, char *argv [])
{
    if (argc < 3) {
        fprintf (stderr, "usage: submit_call TOPOLOGY COUNT [JOB...]\n");
        return 2;
    }
    int count = atoi (argv [2]), index, null = open ("/dev/null", O_WRONLY);
    int out = dup (STDOUT_FILENO);
    FILE *report = fdopen (out, "w");
    char *args [256];
    int nargs = 0;
    args [nargs++] = "submit";
    args [nargs++] = "-t";
    args [nargs++] = argv [1];
    for (index = 3; index < argc && nargs < 254; index++)
        args [nargs++] = argv [index];
    args [nargs] = NULL;
    ff_signals_install ();
    ff_log_init ("submit_call", 0);
    for (index = 0; index < count; index++) {
        char *copy [256];
        memcpy (copy, args, sizeof (char *) * (size_t) (nargs + 1));
        struct timespec start, end;
        clock_gettime (CLOCK_MONOTONIC, &start);
        dup2 (null, STDOUT_FILENO);
        int rc = ff_service_submit (nargs, copy, 0);
        fflush (stdout);
        clock_gettime (CLOCK_MONOTONIC, &end);
        if (rc != 0) {
            fprintf (stderr, "submit_call: call %d exited %d\n", index, rc);
            return 1;
        }
        fprintf (report, "%.6f\n", (double) (end.tv_sec - start.tv_sec)
                                   + (double) (end.tv_nsec - start.tv_nsec) / 1e9);
    }
    fclose (report);
    return 0;
}
