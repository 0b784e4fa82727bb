/*  The parallel run; see parallel.h. Organised as: the topology, the
    stages' command lines, and the run with its cleanup. */

#include "fanfold/launch/parallel.h"
#include "fanfold/launch/hosts.h"
#include "fanfold/launch/rundir.h"
#include "fanfold/launch/supervisor.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/runtime/topology.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Where the run's topology lives. */
typedef struct {
    ff_topology_t *topology;        /* loaded or made */
    char path [PATH_MAX];           /* its file */
    char runtime [PATH_MAX - 64];   /* the private runtime directory, or "" */
} s_place_t;

/* Loads the topology given with -t, refusing one another job runs on; or
   makes a private one. Returns 0, or -1 having said why. */
static int
s_place_open (s_place_t *place, const ff_run_options_t *run)
{
    const char *given = ff_options_text (run->options, FF_OPT_TOPOLOGY, NULL);
    char error [512];
    if (given) {
        snprintf (place->path, sizeof (place->path), "%s", given);
        place->topology = ff_topology_load (place->path, error, sizeof (error));
        if (!place->topology) {
            ff_log_error ("%s", error);
            return -1;
        }
        /* its endpoints are another job's: leave that job and its files alone */
        if (ff_net_ipc_busy (ff_topology_bind (place->topology, FF_EP_CONTROL))
        ||  ff_net_ipc_busy (ff_topology_bind (place->topology, FF_EP_RESULTS))) {
            ff_log_error ("another job is running on %s: wait for it, or use another topology",
                          place->path);
            ff_topology_destroy (&place->topology);
            return -1;
        }
    }
    else {
        if (ff_rundir_create (place->runtime, sizeof (place->runtime), error, sizeof (error))) {
            ff_log_error ("%s", error);
            return -1;
        }
        snprintf (place->path, sizeof (place->path), "%s/topology.zpl", place->runtime);
        place->topology = ff_topology_local (place->runtime);
        if (!place->topology || ff_topology_save (place->topology, place->path)) {
            ff_log_error ("cannot write %s", place->path);
            return -1;
        }
    }
    if (ff_topology_prepare_dirs (place->topology, error, sizeof (error))) {
        ff_log_error ("%s", error);
        return -1;
    }
    return 0;
}

/* Removes the run's ipc files and private runtime directory (again, when
   done before: a stage that still closes its socket finds none). */
static void
s_place_remove (void *arg)
{
    s_place_t *place = (s_place_t *) arg;
    if (place->topology)
        ff_rundir_remove_ipc (place->topology);
    if (*place->runtime)
        ff_rundir_remove (place->runtime);
}

/* Removes the run's files and forgets the topology. */
static void
s_place_close (s_place_t *place)
{
    s_place_remove (place);
    ff_topology_destroy (&place->topology);
}

/* The files --results needs beside the run: the job's argument words
   (the sink reads the fields of each task from them) and, when stdin is
   one of several sources or is split by --colsep, a copy of stdin that
   both the ventilator and the sink read instead. */
typedef struct {
    char dir [PATH_MAX - 16];       /* a private temporary directory, or "" */
    char words [PATH_MAX];          /* dir/words */
    char input [PATH_MAX];          /* dir/stdin, once written */
} s_results_t;

/* Copies what is left of stdin to path. Returns 0 or -1 with errno. */
static int
s_copy_stdin (const char *path)
{
    char buffer [65536];
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600), rc = 0;
    if (fd < 0)
        return -1;
    while (rc == 0) {
        ssize_t got = read (STDIN_FILENO, buffer, sizeof (buffer)), at = 0;
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0) {
            rc = got < 0? -1: 0;
            break;
        }
        while (rc == 0 && at < got) {
            ssize_t put = write (fd, buffer + at, (size_t) (got - at));
            if (put > 0)
                at += put;
            else
            if (errno != EINTR)
                rc = -1;
        }
    }
    if (close (fd) != 0)
        rc = -1;
    return rc;
}

/* The number of argument sources in the producer's words: each `:::`
   group, each file after `::::`, and leading words without a marker. */
static int
s_count_sources (const ff_run_options_t *run)
{
    int index, sources = 0, files = 0;
    for (index = 0; index < run->ninputs; index++) {
        const char *word = run->inputs [index];
        if (ff_options_is_marker (word)) {
            files = strncmp (word, "::::", 4) == 0;
            sources += !files;
        }
        else
            sources += files || index == 0;
    }
    return sources;
}

/* With --results and tasks of several fields (several sources, or
   --colsep), writes the words for the sink (--sources) and, when stdin
   is among them, copies it first. Returns 0, or -1 having said why. */
static int
s_results_prepare (s_results_t *results, ff_run_options_t *run)
{
    const char *tmp = getenv ("TMPDIR");
    char error [512];
    int index, from_stdin = -1, files = 0;
    FILE *file;
    if (!ff_options_given (run->options, FF_OPT_RESULTS))
        return 0;
    /* one field per task: the input name is the field */
    if (!ff_options_given (run->options, FF_OPT_COLSEP) && s_count_sources (run) <= 1)
        return 0;
    for (index = 0; index < run->ninputs; index++) {
        if (ff_options_is_marker (run->inputs [index]))
            files = strncmp (run->inputs [index], "::::", 4) == 0;
        else
        if (files && strcmp (run->inputs [index], "-") == 0)
            from_stdin = index;
    }
    snprintf (results->dir, sizeof (results->dir), "%s/fanfold-results.XXXXXX",
              tmp && *tmp? tmp: "/tmp");
    if (!mkdtemp (results->dir)) {
        ff_log_error ("--results: cannot make a directory in %s: %s", tmp && *tmp? tmp: "/tmp",
                      strerror (errno));
        results->dir [0] = 0;
        return -1;
    }
    snprintf (results->words, sizeof (results->words), "%s/words", results->dir);
    if (from_stdin >= 0) {
        snprintf (results->input, sizeof (results->input), "%s/stdin", results->dir);
        if (s_copy_stdin (results->input)) {
            ff_log_error ("--results: cannot copy stdin to %s: %s", results->input,
                          strerror (errno));
            return -1;
        }
        run->inputs [from_stdin] = results->input;
    }
    file = fopen (results->words, "w");
    for (index = 0; file && index < run->ninputs; index++)
        fwrite (run->inputs [index], 1, strlen (run->inputs [index]) + 1, file);
    if (!file || ferror (file) | fclose (file)) {
        ff_log_error ("--results: cannot write %s", results->words);
        return -1;
    }
    if (ff_options_set (run->options, FF_OPT_SOURCES, results->words, error, sizeof (error))) {
        ff_log_error ("%s", error);
        return -1;
    }
    return 0;
}

/* Removes the files of s_results_prepare. */
static void
s_results_remove (s_results_t *results)
{
    if (!*results->dir)
        return;
    unlink (results->words);
    if (*results->input)
        unlink (results->input);
    rmdir (results->dir);
}

/* Builds argv for stage: its name, -t TOPOLOGY, every option of the run
   that the stage accepts, then extra (NULL-terminated, may be NULL).
   Returns 0, or -1 when it does not fit in max. */
static int
s_stage_argv (char **argv, int max, const char *name, ff_command_t stage,
              const ff_run_options_t *run, const char *topology, const char *const *extra)
{
    int argc = 0;
    argv [argc++] = (char *) name;
    argv [argc++] = "-t";
    argv [argc++] = (char *) topology;
    argv [argc] = NULL;
    char *forwarded [FF_MAX_ARGS];
    int nforwarded = 0, index;
    if (ff_options_forward (run->options, stage, forwarded, &nforwarded, FF_MAX_ARGS))
        return -1;
    for (index = 0; index < nforwarded; index++) {
        /* -t is the run's own: the private topology when none was given */
        if (strcmp (forwarded [index], "--topology") == 0) {
            index++;
            continue;
        }
        if (argc + 1 >= max)
            return -1;
        argv [argc++] = forwarded [index];
    }
    for (index = 0; extra && extra [index]; index++) {
        if (argc + 1 >= max)
            return -1;
        argv [argc++] = (char *) extra [index];
    }
    argv [argc] = NULL;
    return 0;
}

/* Checks --emit and --intake before any stage binds them (libzmq would
   bind port 99999 as another one without a word), and that they differ.
   Returns 0, or -1 having said why. */
static int
s_check_endpoints (const ff_run_options_t *run)
{
    const ff_opt_t which [] = { FF_OPT_EMIT, FF_OPT_INTAKE };
    const char *given [2];
    char error [512];
    size_t index;
    for (index = 0; index < 2; index++) {
        given [index] = ff_options_text (run->options, which [index], NULL);
        if (given [index] && ff_net_check_endpoint (given [index], error, sizeof (error))) {
            ff_log_error ("--%s %s", index == 0? "emit": "intake", error);
            return -1;
        }
    }
    if (given [0] && given [1] && strcmp (given [0], given [1]) == 0) {
        ff_log_error ("--emit and --intake both name %s: give each its own endpoint", given [0]);
        return -1;
    }
    return 0;
}

int
ff_parallel_run (ff_run_options_t *run)
{
    s_place_t place;
    s_results_t results;
    char signature [24];
    char *sink [FF_MAX_ARGS], *worker [FF_MAX_ARGS], *head [FF_MAX_ARGS];
    char **ventilator = NULL;
    ff_hosts_t *hosts = NULL;
    int rc = FF_EXIT_ERROR, argc, index;

    memset (&place, 0, sizeof (place));
    memset (&results, 0, sizeof (results));
    if (s_results_prepare (&results, run))
        goto done;
    ff_run_options_signature (run, signature, sizeof (signature));
    const char *sink_extra [] = { "--signature", signature, NULL };
    const char *ventilator_extra [] = { "--", NULL };
    /* --hosts, --slurm: the job's tcp topology and keys, the remote workers */
    if (s_check_endpoints (run) || ff_hosts_start (run, &hosts) || s_place_open (&place, run))
        goto done;
    if (s_stage_argv (sink, FF_MAX_ARGS, "fanfold-sink", FF_CMD_SINK, run, place.path, sink_extra)
    ||  s_stage_argv (worker, FF_MAX_ARGS, "fanfold-worker", FF_CMD_WORKER, run, place.path, NULL)
    ||  s_stage_argv (head, FF_MAX_ARGS, "fanfold-ventilator", FF_CMD_VENTILATOR, run, place.path,
                      ventilator_extra)) {
        ff_log_error ("too many options");
        goto done;
    }
    /* the ventilator's command line ends with the inputs, which may be many */
    for (argc = 0; head [argc]; argc++)
        ;
    ventilator = (char **) calloc ((size_t) (argc + run->ninputs + 1), sizeof (char *));
    if (!ventilator) {
        ff_log_error ("out of memory");
        goto done;
    }
    memcpy (ventilator, head, (size_t) argc * sizeof (char *));
    for (index = 0; index < run->ninputs; index++)
        ventilator [argc + index] = run->inputs [index];
    ff_log_info ("running on %s", place.path);
    /* the stages' ipc endpoints listen from here on, before the stages
       start: every peer connects at its first try */
    ff_stages_t stages = {
        .sink = sink, .ventilator = ventilator, .worker = worker, .workers = run->workers,
        .sink_listener = ff_net_ipc_listen (ff_topology_bind (place.topology, FF_EP_RESULTS),
                                            FF_MAX_WORKERS),
        .ventilator_listener = ff_net_ipc_listen (ff_topology_bind (place.topology,
                                                                    FF_EP_CONTROL),
                                                  FF_MAX_WORKERS),
        .on_signal = s_place_remove, .on_signal_arg = &place
    };
    ff_halt_t halt;
    ff_halt_parse (ff_options_text (run->options, FF_OPT_HALT, NULL), &halt);
    stages.halt = halt.when;
    rc = ff_supervisor_run (&stages);
done:
    s_results_remove (&results);
    free (ventilator);
    ff_hosts_stop (&hosts);
    s_place_close (&place);
    /* the segments of a job whose ventilator was killed */
    ff_shm_clean (NULL);
    return rc;
}
