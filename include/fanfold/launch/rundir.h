/*  The launcher's private runtime directories (fanfold-XXXXXX, 0700, under
    ff_topology_runtime_base (): $XDG_RUNTIME_DIR, or when that is missing
    or too long for the run's ipc paths /dev/shm, a memory file system,
    else /tmp) and the files a run leaves in them: creating
    one for a run, finding the live one a worker joins, and removing what
    dead runs left behind. */

#ifndef FANFOLD_LAUNCH_RUNDIR_H
#define FANFOLD_LAUNCH_RUNDIR_H

#include "fanfold/runtime/topology.h"

#include <stddef.h>

/* Makes a private runtime directory for this process's run, with a pid
   file that tells `fanfold clean` whether its launcher lives. Writes its
   path to dir. Returns 0, or -1 with a line in error. */
int
    ff_rundir_create (char *dir, size_t size, char *error, size_t error_size);

/* Removes dir/name for the files fanfold puts in a runtime directory
   (topology.zpl, the pid file), then the directory if it is empty. */
void
    ff_rundir_remove (const char *dir);

/* Removes the private runtime directories under base whose launcher is
   gone, with the files fanfold put in them. Returns how many. */
int
    ff_rundir_clean (const char *base);

/* ff_rundir_clean of every base: $XDG_RUNTIME_DIR, /dev/shm and /tmp.
   Returns how many directories it removed. */
int
    ff_rundir_clean_all (void);

/* Finds the live private runs of this user (0700 directories whose
   launcher lives) under $XDG_RUNTIME_DIR, /dev/shm and /tmp. Returns how many, and
   writes the topology path of the first to topology. */
int
    ff_rundir_find_live (char *topology, size_t size);

/* Removes the ipc files a topology binds, and every worker task pipe. */
void
    ff_rundir_remove_ipc (ff_topology_t *topology);

#endif
