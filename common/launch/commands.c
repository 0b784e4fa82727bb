/*  The launcher's small commands; see commands.h. */

#include "fanfold/launch/commands.h"
#include "fanfold/launch/rundir.h"
#include "fanfold/launch/supervisor.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/options.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/runtime/topology.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Parses argv for command into a new set; prints usage on help and on an
   error (with the error's line). Returns the set, or NULL with *status
   the exit status to return. */
static ff_options_t *
s_parse (ff_command_t command, int argc, char *argv [], const char *usage, int *status)
{
    char error [512];
    ff_options_t *options = ff_options_new (command);
    ff_options_status_t parsed = options? ff_options_parse (options, argc, argv, error, sizeof (error))
                                        : FF_OPTIONS_ERROR;
    if (parsed == FF_OPTIONS_OK)
        return options;
    if (parsed == FF_OPTIONS_ERROR && options)
        ff_log_error ("%s", error);
    fprintf (parsed == FF_OPTIONS_HELP? stdout: stderr, "usage: %s\n", usage);
    ff_options_usage (command, parsed == FF_OPTIONS_HELP? stdout: stderr);
    *status = parsed == FF_OPTIONS_HELP? FF_EXIT_OK: FF_EXIT_ERROR;
    ff_options_destroy (&options);
    return NULL;
}

int
ff_command_clean (int argc, char *argv [])
{
    int status = FF_EXIT_OK, dirs = 0, segments;
    ff_options_t *options = s_parse (FF_CMD_CLEAN, argc, argv, "fanfold clean [-t TOPOLOGY]",
                                     &status);
    if (!options)
        return status;
    const char *path = ff_options_text (options, FF_OPT_TOPOLOGY, NULL);
    if (path) {
        char error [512];
        ff_topology_t *topology = ff_topology_load (path, error, sizeof (error));
        if (!topology) {
            ff_log_error ("%s", error);
            ff_options_destroy (&options);
            return FF_EXIT_ERROR;
        }
        /* a live job on the topology listens on its control endpoint */
        if (ff_net_ipc_busy (ff_topology_bind (topology, FF_EP_CONTROL)))
            ff_log_error ("a job is running on %s: its files stay", path);
        else {
            ff_rundir_remove_ipc (topology);
            dirs++;
        }
        ff_topology_destroy (&topology);
    }
    dirs += ff_rundir_clean_all ();
    segments = ff_shm_clean (NULL);
    fprintf (stderr, "fanfold clean: %d runtime directories, %d shared-memory segments removed\n",
             dirs, segments);
    ff_options_destroy (&options);
    return FF_EXIT_OK;
}

int
ff_command_worker (int argc, char *argv [])
{
    char path [PATH_MAX];
    char topology [PATH_MAX + 32] = "";
    char *with_topology [FF_MAX_ARGS];
    char **worker_argv = argv;
    int index, status = FF_EXIT_OK;
    if (snprintf (path, sizeof (path), "%s/fanfold-worker", ff_supervisor_bindir ())
        >= (int) sizeof (path))
        return FF_EXIT_ERROR;
    ff_options_t *options = s_parse (FF_CMD_WORKER, argc, argv,
                                     "fanfold worker [-t TOPOLOGY] [--no-shm] [-v]", &status);
    if (!options)
        return status;
    int has_topology = ff_options_given (options, FF_OPT_TOPOLOGY) > 0;
    ff_options_destroy (&options);
    if (argc + 3 > FF_MAX_ARGS) {
        ff_log_error ("too many arguments");
        return FF_EXIT_ERROR;
    }
    if (!has_topology) {
        /* no -t: join the one job this user runs on a private topology */
        int found = ff_rundir_find_live (topology, sizeof (topology));
        if (found != 1) {
            ff_log_error (found == 0? "no job of yours runs on a private topology: give -t TOPOLOGY"
                          : "%d jobs of yours run on private topologies: give -t TOPOLOGY", found);
            return FF_EXIT_ERROR;
        }
        with_topology [0] = argv [0];
        with_topology [1] = "-t";
        with_topology [2] = topology;
        for (index = 1; index < argc; index++)
            with_topology [index + 2] = argv [index];
        with_topology [argc + 2] = NULL;
        worker_argv = with_topology;
    }
    worker_argv [0] = "fanfold-worker";
    execv (path, worker_argv);
    ff_log_error ("cannot run %s: %s", path, strerror (errno));
    return FF_EXIT_ERROR;
}

/* The files ff_security_keygen writes in a key directory. */
static const char *s_key_files [] = {
    "server.cert", "server.cert_secret", "client.cert_secret", "allowed/client.cert"
};

int
ff_command_keygen (int argc, char *argv [])
{
    char error [512];
    const char *dir = NULL;
    int force = 0, index;
    for (index = 1; index < argc; index++) {
        if (strcmp (argv [index], "--force") == 0 || strcmp (argv [index], "-f") == 0)
            force = 1;
        else
        if (strcmp (argv [index], "--help") == 0 || strcmp (argv [index], "-h") == 0) {
            printf ("usage: fanfold keygen [--force] DIR\n");
            return FF_EXIT_OK;
        }
        else
        if (argv [index][0] != '-' && !dir)
            dir = argv [index];
        else {
            dir = NULL;
            break;
        }
    }
    if (!dir) {
        fprintf (stderr, "usage: fanfold keygen [--force] DIR\n");
        return FF_EXIT_ERROR;
    }
    /* every remote worker holds these keys: new ones lock them all out */
    for (index = 0; !force && index < (int) (sizeof (s_key_files) / sizeof (s_key_files [0]));
         index++) {
        char path [PATH_MAX];
        struct stat info;
        if (snprintf (path, sizeof (path), "%s/%s", dir, s_key_files [index]) < (int) sizeof (path)
        &&  lstat (path, &info) == 0) {
            ff_log_error ("%s exists: new keys would lock out every worker holding the "
                          "current ones; give --force to replace them", path);
            return FF_EXIT_ERROR;
        }
    }
    if (ff_security_keygen (dir, error, sizeof (error))) {
        ff_log_error ("%s", error);
        return FF_EXIT_ERROR;
    }
    fprintf (stderr, "fanfold keygen: %s/server.cert, server.cert_secret, client.cert_secret, "
             "allowed/client.cert\n", dir);
    return FF_EXIT_OK;
}
