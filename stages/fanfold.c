/*  fanfold: the launcher. Reads the command and hands it to its unit in
    common/launch/: `run` (options in run_options, then the serial run or
    the parallel one with its supervisor), `worker`, `clean` and `keygen`
    (commands). */

#include "fanfold/launch/commands.h"
#include "fanfold/launch/hosts.h"
#include "fanfold/launch/parallel.h"
#include "fanfold/launch/run_options.h"
#include "fanfold/launch/serial.h"
#include "fanfold/launch/service.h"
#include "fanfold/launch/stages.h"
#include "fanfold/launch/supervisor.h"
#include "fanfold/launch/worker.h"
#include "fanfold/runtime/fdlimit.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/options.h"
#include "fanfold/runtime/stdfds.h"

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* Set when the launcher started with fd 0 closed (ff_stdfds_guard put
   /dev/null there): --pipe would read nothing from it. */
static int s_stdin_closed = 0;

static void
s_usage (FILE *stream)
{
    fprintf (stream,
        "usage: fanfold run [-t TOPOLOGY] [-w N] [-o FILE] [--format raw|jsonl]\n"
        "                   [-k KERNEL[,KERNEL...]] [-p KEY=VALUE]...\n"
        "                   [--pipe [--block SIZE | --lines N] [--input FILE]]\n"
        "                   [--max-block SIZE] [--exec CMD] [--chunk SIZE] [--plugin LIB.so]\n"
        "                   [--timeout SECONDS] [--retries N] [--joblog FILE] [--resume]\n"
        "                   [--intake ENDPOINT] [--emit ENDPOINT] [--insecure] [--progress]\n"
        "                   [--mode auto|serial|parallel] [--dispatch heavy|fifo] [--serial]\n"
        "                   [--hosts SPEC | --hosts-file FILE | --slurm] [--remote-bin PATH]\n"
        "                   [-v] [--] INPUT...\n"
        "       fanfold worker [-t TOPOLOGY] [--no-shm] [-v]\n"
        "       fanfold serve [-t TOPOLOGY] [-w N] [-v]\n"
        "       fanfold submit [-t TOPOLOGY] [--share N] [options of run] INPUT...\n"
        "       fanfold status [-t TOPOLOGY] [--format raw|jsonl]\n"
        "       fanfold clean [-t TOPOLOGY]\n"
        "       fanfold keygen [--force] DIR\n"
        "\n"
        "run      runs a job: records from stdin with --pipe, else one task per INPUT;\n"
        "         -w N local workers (default: the number of cores; 0 waits for\n"
        "         workers added by hand); results in input order on stdout or -o.\n"
        "worker   adds one worker to the job running on TOPOLOGY; without -t, to\n"
        "         the one job of yours running on a private topology.\n"
        "serve    a warm pool: fanfold-server and N workers that stay up across jobs.\n"
        "submit   runs one job on the pool: the output and exit status of run.\n"
        "status   the pool's jobs, workers and queue.\n"
        "clean    removes the shared memory and ipc files of jobs that died.\n"
        "keygen   writes CURVE certificates for tcp topologies; --force replaces\n"
        "         existing ones (every remote worker then needs the new ones).\n"
        "remote-workers N|auto  what --hosts and --slurm run on each host (the job on stdin).\n"
        "kernels  noop, sleep (ms=, jitter=1), spin (us=), exec (--exec), stats,\n"
        "         contacts, hbonds, clashes, pistacking, and plugins (--plugin).\n"
        "exit     %d every task succeeded, %d some failed, %d error, %d interrupted.\n"
        "\n"
        "options of run:\n",
        FF_EXIT_OK, FF_EXIT_TASKS_FAILED, FF_EXIT_ERROR, FF_EXIT_SIGNAL_BASE + 2);
    ff_options_usage (FF_CMD_RUN, stream);
}

static void
s_on_signal (int signum)
{
    ff_stop_signal = signum;
}

/* Catches SIGINT, SIGTERM and SIGHUP into ff_stop_signal and ignores
   SIGPIPE, as ff_signals_install does, without czmq's zsys_init: a
   parallel run starts no ZeroMQ context here (it holds an unstarted one,
   with no thread), so that its workers can be forked from this process
   (ff_supervisor_init). */
static void
s_catch_signals (void)
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    sigaction (SIGHUP, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
}

/* What a command that uses ZeroMQ here needs first: czmq's signal and
   log settings, and the descriptor limit raised with its socket limit. */
static void
s_zmq_setup (void)
{
    ff_signals_install ();
    ff_fdlimit_raise ();
}

/* fanfold run: reads the options, then runs the job here or on stages. */
static int
s_cmd_run (int argc, char *argv [])
{
    ff_run_options_t run;
    int rc;
    s_catch_signals ();
    switch (ff_run_options_parse (&run, argc, argv)) {
        case FF_OPTIONS_OK:
            /* the stages inherit /dev/null as stdin: say why nothing came */
            if (s_stdin_closed && ff_options_given (run.options, FF_OPT_PIPE)
            &&  !ff_options_given (run.options, FF_OPT_INPUT)) {
                ff_log_error ("--pipe reads standard input, which is closed: "
                              "give --input FILE or open stdin");
                rc = FF_EXIT_ERROR;
            }
            else
            if (run.serial) {
                s_zmq_setup ();
                rc = ff_serial_run (&run);
            }
            else
                rc = ff_parallel_run (&run);
            break;
        case FF_OPTIONS_HELP:
            s_usage (stdout);
            rc = FF_EXIT_OK;
            break;
        default:
            rc = FF_EXIT_ERROR;
            break;
    }
    ff_run_options_clear (&run);
    return rc;
}

int
main (int argc, char *argv [])
{
    /* before any file or socket: a closed fd 0, 1 or 2 would become one
       of them, and the stages inherit 0 (the ventilator), 1 (the sink)
       and 2 (all) from here */
    int closed = ff_stdfds_guard ();
    if (closed < 0)
        return FF_EXIT_ERROR;
    s_stdin_closed = (closed & FF_STDFDS_IN) != 0;
    ff_log_init ("fanfold", 0);
    ff_supervisor_init (argc, argv, ff_worker_main);
    ff_supervisor_stage_entries (ff_sink_main, ff_ventilator_main);
    if (argc < 2) {
        s_usage (stderr);
        return FF_EXIT_ERROR;
    }
    const char *command = argv [1];
    if (strcmp (command, "run") == 0)
        return s_cmd_run (argc - 1, argv + 1);
    s_zmq_setup ();
    if (strcmp (command, "worker") == 0)
        return ff_command_worker (argc - 1, argv + 1);
    if (strcmp (command, "serve") == 0)
        return ff_service_serve (argc - 1, argv + 1);
    if (strcmp (command, "submit") == 0) {
        ff_service_client_process ();
        return ff_service_submit (argc - 1, argv + 1, s_stdin_closed);
    }
    if (strcmp (command, "status") == 0) {
        ff_service_client_process ();
        return ff_service_status (argc - 1, argv + 1);
    }
    if (strcmp (command, "clean") == 0)
        return ff_command_clean (argc - 1, argv + 1);
    if (strcmp (command, "keygen") == 0)
        return ff_command_keygen (argc - 1, argv + 1);
    if (strcmp (command, "remote-workers") == 0)
        return ff_hosts_remote (argc - 1, argv + 1);
    if (strcmp (command, "--help") == 0 || strcmp (command, "-h") == 0
    ||  strcmp (command, "help") == 0) {
        s_usage (stdout);
        return FF_EXIT_OK;
    }
    ff_log_error ("unknown command '%s'", command);
    s_usage (stderr);
    return FF_EXIT_ERROR;
}
