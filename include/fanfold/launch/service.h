/*  The launcher's commands of the warm pool (docs/SERVICE.md): `fanfold
    serve` (fanfold-server and N local workers, respawned), `fanfold
    submit` (one job on the pool: the producer and the delivery of `fanfold
    run`, with the server in between) and `fanfold status`. Each takes the
    command's argv (argv [0] is its name) and returns the exit status. */

#ifndef FANFOLD_LAUNCH_SERVICE_H
#define FANFOLD_LAUNCH_SERVICE_H

/* fanfold serve [-t TOPOLOGY] [-w N] [--insecure] [-v]: runs the server
   and N workers (default: the cores) until SIGINT or SIGTERM, then stops
   them and removes the ipc files (and, without -t, the private runtime
   directory, where `fanfold worker`, `submit` and `status` find the pool
   without -t). Returns FF_EXIT_OK once stopped, FF_EXIT_ERROR when the
   server could not start or died. */
int
    ff_service_serve (int argc, char *argv []);

/* Sizes libzmq's socket table for a process whose sockets are those of
   submit or status (one each). Call before any socket is made, and only
   in such a process: `fanfold submit` and `fanfold status` do; a program
   that calls ff_service_submit beside sockets of its own does not. */
void
    ff_service_client_process (void);

/* fanfold submit [-t TOPOLOGY] [--share N] [the job options of run]: the
   same output bytes and exit status as `fanfold run` with those options
   (FF_EXIT_ERROR when the server refuses the job, cannot be reached or
   falls silent; 128 + N when stopped by signal N, which cancels the job). */
int
    ff_service_submit (int argc, char *argv [], int stdin_closed);

/* fanfold status [-t TOPOLOGY] [--format raw|jsonl]: prints the pool's
   jobs, workers and queue as a table (raw, the default) or as one JSON
   object per line (jsonl). Returns FF_EXIT_OK, or FF_EXIT_ERROR when no
   server answers within a second. */
int
    ff_service_status (int argc, char *argv []);

#endif
