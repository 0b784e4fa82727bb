/*  The serial run of `fanfold run` (--serial, or --mode auto on a small
    job): every task runs in this process, through the same code as the
    parallel path: units from ff_producer, each kernel run by ff_task_run,
    results written by ff_delivery. So both write the same bytes. */

#ifndef FANFOLD_LAUNCH_SERIAL_H
#define FANFOLD_LAUNCH_SERIAL_H

#include "fanfold/launch/run_options.h"

/* Runs the job described by run in this process, until every unit is
   done or SIGINT/SIGTERM (ff_stop_signal). Returns the run's exit status:
   FF_EXIT_OK, FF_EXIT_TASKS_FAILED (an error record was written),
   FF_EXIT_ERROR (input or output failed, said on stderr), or 128 + the
   signal. */
int
    ff_serial_run (const ff_run_options_t *run);

#endif
