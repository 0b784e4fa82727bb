/*  Workers on other hosts: `fanfold run --hosts SPEC`, `--hosts-file F`
    and `--slurm`. The stages run here on tcp with a CURVE key pair made
    for the job; each host gets one connection (ssh, or srun inside a Slurm
    allocation) to `fanfold remote-workers`, which reads the job's
    endpoints and keys from its stdin, starts that host's workers and
    stops them when the connection closes. docs/CLUSTER.md tells why. */

#ifndef FANFOLD_LAUNCH_HOSTS_H
#define FANFOLD_LAUNCH_HOSTS_H

#include "fanfold/launch/run_options.h"

#include <stddef.h>

#define FF_HOSTS_MAX 256            /* hosts in one SPEC or file */
#define FF_HOSTS_NAME_MAX 256       /* user@host */

/* One entry of a SPEC: `host`, `N/host`, `user@host`, or `:` (here). */
typedef struct {
    char name [FF_HOSTS_NAME_MAX];  /* [user@]host as ssh takes it; ":" for here */
    int workers;                    /* N, or 0: as many as the host has cores */
    int local;                      /* 1 for ":" */
    int cpus;                       /* Slurm: CPUs allocated on the node, or 0 */
} ff_host_t;

/* The remote side of one run: its connections and the job's key files. */
typedef struct ff_hosts ff_hosts_t;

/* Parses SPEC (GNU parallel's --sshlogin form: entries separated by
   commas) into hosts, at most max. Returns how many, or -1 with one line
   in error naming the bad entry. */
int
    ff_hosts_parse (const char *spec, ff_host_t *hosts, int max,
                    char *error, size_t error_size);

/* When run names --hosts, --hosts-file or --slurm: makes the job's keys,
   writes the job's tcp topology (from -t when given, its security section
   replaced) and points run at it, sets the local workers (":" entries, or
   -w), and starts one connection per host in a process of its own. Sets
   *self_p (NULL when no host option was given). Returns 0, or -1 having
   said why on stderr. */
int
    ff_hosts_start (ff_run_options_t *run, ff_hosts_t **self_p);

/* Closes every connection (the remote workers stop), removes the job's
   key files; NULLs the pointer. Safe on NULL. */
void
    ff_hosts_stop (ff_hosts_t **self_p);

/* `fanfold remote-workers N|auto [-v]`: the remote launcher. Reads the
   job (topology and keys) from stdin, checks that the stages answer,
   starts N workers (--no-shm) and stops them when stdin closes. Returns
   the exit status: 0 when the workers ended with the job or were stopped,
   FF_EXIT_ERROR when the job could not be read or the stages not reached. */
int
    ff_hosts_remote (int argc, char *argv []);

#endif
