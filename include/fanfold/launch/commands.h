/*  The launcher's small commands: `fanfold clean`, `fanfold worker` and
    `fanfold keygen`. Each takes the command's argv (argv [0] is its name)
    and returns the process's exit status. */

#ifndef FANFOLD_LAUNCH_COMMANDS_H
#define FANFOLD_LAUNCH_COMMANDS_H

/* fanfold clean [-t TOPOLOGY]: removes the ipc files of TOPOLOGY (unless
   a job runs on it), the private runtime directories and the shared
   memory of jobs that died. Returns FF_EXIT_OK, or FF_EXIT_ERROR on a bad
   command line or topology. */
int
    ff_command_clean (int argc, char *argv []);

/* fanfold worker [-t TOPOLOGY] [--no-shm] [-v]: becomes fanfold-worker
   (exec) on TOPOLOGY, or without -t on the one private run of this user.
   Returns FF_EXIT_ERROR only when that cannot be done. */
int
    ff_command_worker (int argc, char *argv []);

/* fanfold keygen DIR: writes CURVE certificates for tcp topologies.
   Returns FF_EXIT_OK or FF_EXIT_ERROR. */
int
    ff_command_keygen (int argc, char *argv []);

#endif
