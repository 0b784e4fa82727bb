/*  The parallel run of `fanfold run`: the topology (the one given, or a
    private ipc one in a fresh runtime directory), the stages' command
    lines built from the same option set, the supervisor, and the cleanup
    of ipc files, the runtime directory and the job's segments. */

#ifndef FANFOLD_LAUNCH_PARALLEL_H
#define FANFOLD_LAUNCH_PARALLEL_H

#include "fanfold/launch/run_options.h"

/* Runs the job described by run on its stages and waits for it. Returns
   the run's exit status (FF_EXIT_OK, FF_EXIT_TASKS_FAILED, FF_EXIT_ERROR,
   or 128 + a signal); says what went wrong on stderr. */
int
    ff_parallel_run (ff_run_options_t *run);

#endif
