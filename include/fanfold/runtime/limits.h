/*  fanfold's exit statuses, defaults and limits: the one home of each
    number that more than one executable (or the launcher and a stage)
    must agree on. Coupled constants are tied with _Static_assert where
    both sides are visible. */

#ifndef FANFOLD_LIMITS_H
#define FANFOLD_LIMITS_H

/* A number of this file as a string literal: FF_TEXT (FF_DEFAULT_RETRIES) is "3". */
#define FF_TEXT_(x) #x
#define FF_TEXT(x) FF_TEXT_ (x)

/* Exit statuses of every executable. */
#define FF_EXIT_OK              0   /* every task succeeded */
#define FF_EXIT_TASKS_FAILED    1   /* the job ended; some tasks are error records */
#define FF_EXIT_ERROR           2   /* usage, input or output error: the job did not end */
#define FF_EXIT_WORKER_FAILED   1   /* worker: its sockets failed (the launcher starts another) */
#define FF_EXIT_WORKER_DROPPED  3   /* worker: the ventilator dropped it (a task ran past --timeout) */
#define FF_EXIT_WORKER_NO_MEMORY 4  /* worker: memory ran out encoding a result message: it left
                                       without a bye, so its tasks run again elsewhere (charged
                                       as a crash) and the launcher starts another */
#define FF_EXIT_WORKER_RECYCLED 70  /* worker: its watchdog ended a task hung past --timeout */
#define FF_EXIT_CANNOT_RUN      127 /* a child the launcher forked could not exec its stage */
#define FF_EXIT_SIGNAL_BASE     128 /* 128 + signal number, as a shell reports it */
#define FF_EXIT_FAILED_MAX      101 /* a job with failed commands exits with their count
                                       (error records included), at most this, as GNU
                                       parallel does */
#define FF_EXIT_PIPE_CLOSED     (FF_EXIT_SIGNAL_BASE + 13) /* the output's reader left
                                       (EPIPE): 128 + SIGPIPE, quietly, as GNU parallel */
#define FF_EXIT_JOB_KILLED      255 /* --halt fail=1 stopped by a task that did not end by
                                       itself (a timeout, a crashed worker): GNU
                                       parallel's exit value -1 */

/* Defaults of job options. */
#define FF_DEFAULT_RETRIES      3   /* --retries: runs of a task before its error record */
#define FF_DEFAULT_RETRIES_TEXT FF_TEXT (FF_DEFAULT_RETRIES) /* the same, as a parameter value */
#define FF_DEFAULT_BLOCK        (1L << 20)   /* --block: bytes of records per task */
#define FF_DEFAULT_MAX_BLOCK    (256L << 20) /* --max-block: the longest record block */
#define FF_DEFAULT_FORMAT       "raw"        /* --format */
#define FF_DEFAULT_KERNEL       "noop"       /* -k */

/* Limits. */
#define FF_MAX_WORKERS          4096 /* workers one ventilator serves at once */
#define FF_WINDOW_PER_WORKER    128  /* the ventilator's window (tasks in flight) grows to
                                       this many tasks per joined worker, never below
                                       the topology's window: a worker that the round
                                       trip through the central stages paces still gets
                                       its tasks in batches (a quarter of its credit a
                                       message) */
#define FF_MAX_WINDOW           (1L << 18) /* ... at most this (or the topology's window
                                       when larger), reached at 2,048 workers: the job
                                       header gives the sink this bound, the size of its
                                       reorder ring (8 bytes a slot); a ledger slot
                                       costs the ventilator 120 bytes, 200 with the
                                       64-byte buffer it keeps for a small task's
                                       payload: 50 MiB at the bound */
#define FF_STAGE_MAX_SOCKETS    64   /* ZeroMQ sockets a worker or the sink may hold
                                       (zsys_set_max_sockets): the worker's control,
                                       results, tasks, its heartbeat's and their pipe;
                                       the sink's control, results, the emitter's two
                                       and ZAP's. libzmq zeroes a slot per allowed
                                       socket at the first one */
#define FF_J0_MAX_WORKERS       64   /* -j 0: one worker per task, at most this many */
#define FF_MAX_RETRIES          1000 /* --retries */
#define FF_MAX_TIMEOUT_S        1e6  /* --timeout, seconds */
#define FF_MAX_PLUGINS          8    /* --plugin given at most this often */
#define FF_MAX_JOBS             64   /* jobs one fanfold-server holds at once (and a
                                       pool worker's job table) */
#define FF_MAX_SHARE            1000 /* --share: a job's weight among the pool's jobs */
#define FF_DEFAULT_CLIENT_TIMEOUT_MS 600 /* a client silent this long loses its job */
#define FF_CLIENT_HB_MS         100  /* a client's heartbeat interval */
#define FF_MAX_CONTROL_MESSAGE  (1LL << 20) /* bytes of one control-channel message */
#define FF_FETCH_CHUNK          (FF_MAX_CONTROL_MESSAGE - (64LL << 10)) /* bytes one fetch
                                       asks for: its answer fits a control message */
#define FF_FETCH_WINDOW         8    /* fetches a worker has in flight at once */
#define FF_FETCH_CACHE_BYTES    (512LL << 20) /* fetched array bytes a worker keeps */
#define FF_FETCH_TIMEOUT_MS     10000 /* a fetch not answered this long fails its task */
#define FF_MAX_TASK_MESSAGE     (1LL << 31) /* bytes of one task message a worker takes */
#define FF_MAX_RESULT_MESSAGE   (1LL << 31) /* bytes of one result message the sink takes */
#define FF_MAX_RESULT           (FF_MAX_RESULT_MESSAGE - (1LL << 20)) /* bytes of one task's result
                                       (body and meta): a larger one becomes an error result */
#define FF_MAX_BLOCK            (1L << 30)  /* --block and --max-block: a block must fit a task message */
#define FF_MAX_CHUNK            (1L << 40)  /* --chunk: bytes of one array task */
#define FF_MAX_ARGS             512  /* arguments of a stage's command line, inputs aside */
#define FF_VENT_FDS_PER_WORKER  7    /* descriptors a worker costs the ventilator: two
                                       control connections, its pipe's listener, mailbox
                                       and connection, and the mailboxes of the pipe's
                                       monitor (libzmq's end and the ventilator's) */
#define FF_FDS_SLACK            16   /* descriptors a stage keeps free beyond its sockets */

/* FF_SANITIZED: 1 in a build under AddressSanitizer (GCC's and clang's
   spellings), where a stage ends through exit () and tears down what it
   made, so that the leak check counts; else a stage whose work is over may
   skip the teardown (_exit) */
#if defined (__SANITIZE_ADDRESS__)
#   define FF_SANITIZED 1
#elif defined (__has_feature)
#   if __has_feature (address_sanitizer)
#       define FF_SANITIZED 1
#   endif
#endif
#ifndef FF_SANITIZED
#   define FF_SANITIZED 0
#endif

_Static_assert (FF_J0_MAX_WORKERS <= FF_MAX_WORKERS, "-j 0 stays within the workers served");
_Static_assert (FF_MAX_BLOCK < FF_MAX_TASK_MESSAGE, "a largest block travels in one task message");
_Static_assert (FF_MAX_RESULT > 0 && FF_MAX_RESULT < FF_MAX_RESULT_MESSAGE,
                "a largest result travels in one result message, with room for its envelope");
_Static_assert (FF_DEFAULT_BLOCK <= FF_DEFAULT_MAX_BLOCK, "the default block fits the default max");
_Static_assert (FF_DEFAULT_MAX_BLOCK <= FF_MAX_BLOCK, "the default max block is allowed");

#endif
