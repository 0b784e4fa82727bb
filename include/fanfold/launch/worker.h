/*  The worker stage's entry (stages/worker.c). fanfold-worker's main
    calls it; the launcher links it too, so that it starts a local worker
    by fork alone, without an exec (see supervisor.h). */

#ifndef FANFOLD_LAUNCH_WORKER_H
#define FANFOLD_LAUNCH_WORKER_H

/* Runs one worker with the command line of fanfold-worker (argv [0] its
   name): joins the job on -t TOPOLOGY, runs tasks until the job ends or a
   stop signal. Returns the worker's exit status (see its --help). Makes
   the process's ZeroMQ context: the caller must have none (a process
   forked after zmq_ctx_new must not use ZeroMQ). */
int
    ff_worker_main (int argc, char *argv []);

#endif
