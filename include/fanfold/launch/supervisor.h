/*  The launcher's supervisor: starts the sink, the ventilator and N
    workers of one parallel run as child processes, waits for the job,
    replaces workers that die, stops every child on the way out, and turns
    the stages' exit statuses into the run's (the exit matrix). */

#ifndef FANFOLD_LAUNCH_SUPERVISOR_H
#define FANFOLD_LAUNCH_SUPERVISOR_H

#include "fanfold/runtime/options.h"

/* The command lines of one run's stages, NULL-terminated, argv [0] the
   executable's name (found next to the launcher). Owned by the caller. */
typedef struct {
    char *const *sink;              /* fanfold-sink */
    char *const *ventilator;        /* fanfold-ventilator: takes the launcher's stdin */
    char *const *worker;            /* fanfold-worker, for each worker and each replacement */
    int workers;                    /* workers to start */
    void (*on_signal) (void *arg);  /* called once when a signal stops the run, before
                                       the stages are: its files can go at once; or NULL */
    void *on_signal_arg;            /* its argument */
    int sink_listener;              /* a listening socket on the sink's ipc endpoint, */
    int ventilator_listener;        /* and on the ventilator's, handed to each (-1: none);
                                       ff_supervisor_run closes them once they are */
    ff_halt_when_t halt;            /* --halt: the sink may end the job early, and its
                                       exit status is the run's; NOW: the commands the
                                       local workers run are killed then */
} ff_stages_t;

/* A worker's entry: ff_worker_main (launch/worker.h). */
typedef int (ff_worker_entry_t) (int argc, char *argv []);

/* Called once by the launcher's main, with its own argc and argv: finds
   the stages' directory (ff_supervisor_find_bindir) and remembers
   worker_entry. Given one (not NULL), ff_supervisor_run starts each
   local worker by fork alone, the child calling worker_entry with the
   worker's command line, which it also writes over the launcher's own
   (ps and pgrep -f show fanfold-worker); the caller must then make no
   ZeroMQ context and start no thread before the run ends. NULL: every
   stage is started with exec. */
void
    ff_supervisor_init (int argc, char *argv [], ff_worker_entry_t *worker_entry);

/* Called by the launcher's main after ff_supervisor_init: the sink's and
   the ventilator's entries (launch/stages.h; NULL: that stage is started
   with exec). With one thread here, ff_supervisor_run forks each stage
   that has one, as it does a worker, instead of an exec: the same
   command line (written over the launcher's, and the process named after
   it), stdin and stdout, and listening socket. */
void
    ff_supervisor_stage_entries (ff_worker_entry_t *sink, ff_worker_entry_t *ventilator);

/* Remembers the directory of the running executable (from /proc/self/exe,
   else argv0): the stages are found there. */
void
    ff_supervisor_find_bindir (const char *argv0);

/* The directory ff_supervisor_find_bindir found ("" before). */
const char *
    ff_supervisor_bindir (void);

/* Runs the stages until the job ends (both the sink and the ventilator
   have exited), a stage fails (the ventilator or the sink exits before
   the job ends, a worker cannot start), or SIGINT/SIGTERM/SIGHUP arrives
   (ff_stop_signal); then stops every child still running (SIGTERM,
   SIGKILL after a grace period) and reaps it. A worker that dies of
   anything but a usage or setup error is replaced (a bounded number of
   times). With --halt, a sink that ends (quietly) ends the job: with
   FF_HALT_NOW the commands the local workers run (the process groups
   their exec kernels lead) get SIGTERM, then SIGKILL, before the stages
   stop. Returns the run's exit status: ff_supervisor_status of the
   stages' (with --halt, the sink's status unless the ventilator failed),
   FF_EXIT_ERROR when a worker could not start, or 128 + the signal. */
int
    ff_supervisor_run (const ff_stages_t *stages);

/* The exit matrix: the run's exit status from the sink's and the
   ventilator's (-1 when one did not exit). FF_EXIT_PIPE_CLOSED when the
   sink's output reader left (the others were stopped for it); when the
   ventilator finished, the sink's status when it is FF_EXIT_OK or a count
   of failed tasks (up to FF_EXIT_FAILED_MAX: see ff_delivery_exit_status);
   FF_EXIT_ERROR otherwise. */
int
    ff_supervisor_status (int sink_status, int ventilator_status);

#endif
