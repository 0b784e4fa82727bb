/*  fanfold's exit statuses, defaults and limits: the one home of each
    number that more than one executable (or the launcher and a stage)
    must agree on. Coupled constants are tied with _Static_assert where
    both sides are visible. */

#ifndef FANFOLD_LIMITS_H
#define FANFOLD_LIMITS_H

/* Exit statuses of every executable. */
#define FF_EXIT_OK              0   /* every task succeeded */
#define FF_EXIT_TASKS_FAILED    1   /* the job ended; some tasks are error records */
#define FF_EXIT_ERROR           2   /* usage, input or output error: the job did not end */
#define FF_EXIT_WORKER_DROPPED  3   /* worker: the ventilator dropped it (a task ran past --timeout) */
#define FF_EXIT_WORKER_RECYCLED 70  /* worker: its watchdog ended a task hung past --timeout */
#define FF_EXIT_SIGNAL_BASE     128 /* 128 + signal number, as a shell reports it */
#define FF_EXIT_FAILED_MAX      101 /* a job with failed commands exits with their count
                                       (error records included), at most this, as GNU
                                       parallel does */
#define FF_EXIT_PIPE_CLOSED     (FF_EXIT_SIGNAL_BASE + 13) /* the output's reader left
                                       (EPIPE): 128 + SIGPIPE, quietly, as GNU parallel */

/* Defaults of job options. */
#define FF_DEFAULT_RETRIES      3   /* --retries: runs of a task before its error record */
#define FF_DEFAULT_RETRIES_TEXT "3" /* the same, as a parameter value */

/* Limits. */
#define FF_MAX_WORKERS          4096 /* workers one ventilator serves at once */

#endif
