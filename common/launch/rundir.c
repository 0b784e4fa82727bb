/*  Private runtime directories of the launcher; see rundir.h. */

#include "fanfold/launch/rundir.h"

#include <dirent.h>
#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_PID_FILE "launcher.pid"
#define S_PREFIX "fanfold-"
#define S_NAME_LEN 14               /* fanfold-XXXXXX */

/* The bases private runtime directories go under, by preference:
   $XDG_RUNTIME_DIR, /dev/shm, /tmp. */
#define S_SHM_BASE "/dev/shm"
#define S_TMP_BASE "/tmp"

/* Where a run's private directory goes: ff_topology_runtime_base (), but
   /dev/shm, a memory file system, in place of /tmp: each worker's task
   pipe is a socket file, whose inode costs a millisecond or more on a
   busy ext4 /tmp and microseconds in memory. */
static const char *
s_base (void)
{
    const char *base = ff_topology_runtime_base ();
    if (strcmp (base, S_TMP_BASE) == 0 && access (S_SHM_BASE, W_OK | X_OK) == 0)
        return S_SHM_BASE;
    return base;
}

int
ff_rundir_create (char *dir, size_t size, char *error, size_t error_size)
{
    /* $XDG_RUNTIME_DIR, or /dev/shm or /tmp when the run's ipc paths
       would not fit a Unix socket address under it */
    const char *base = s_base ();
    char path [PATH_MAX];
    if (snprintf (dir, size, "%s/" S_PREFIX "XXXXXX", base) >= (int) size || !mkdtemp (dir)) {
        snprintf (error, error_size, "cannot create a runtime directory in %s: %s", base,
                  strerror (errno));
        return -1;
    }
    if (snprintf (path, sizeof (path), "%s/" S_PID_FILE, dir) < (int) sizeof (path)) {
        FILE *file = fopen (path, "we");
        if (file) {
            fprintf (file, "%d\n", (int) getpid ());
            fclose (file);
        }
    }
    return 0;
}

void
ff_rundir_remove (const char *dir)
{
    static const char *files [] = { "topology.zpl", S_PID_FILE };
    size_t index;
    for (index = 0; index < sizeof (files) / sizeof (files [0]); index++) {
        char path [PATH_MAX];
        if (snprintf (path, sizeof (path), "%s/%s", dir, files [index]) < (int) sizeof (path))
            unlink (path);
    }
    rmdir (dir);
}

/* Returns 1 when the pid in dir/S_PID_FILE names a live process. */
static int
s_owner_alive (const char *dir)
{
    char path [PATH_MAX];
    int pid = 0;
    if (snprintf (path, sizeof (path), "%s/" S_PID_FILE, dir) >= (int) sizeof (path))
        return 0;
    FILE *file = fopen (path, "re");
    if (!file)
        return 0;
    if (fscanf (file, "%d", &pid) != 1)
        pid = 0;
    fclose (file);
    return pid > 0 && (kill (pid, 0) == 0 || errno == EPERM);
}

/* Returns 1 when name under base is a private runtime directory of this
   user, with its path in dir and its mode in *mode. */
static int
s_runtime_dir (const char *base, const char *name, char *dir, size_t size, mode_t *mode)
{
    struct stat info;
    if (strncmp (name, S_PREFIX, strlen (S_PREFIX)) != 0 || strlen (name) != S_NAME_LEN
    ||  snprintf (dir, size, "%s/%s", base, name) >= (int) size
    ||  lstat (dir, &info) != 0 || !S_ISDIR (info.st_mode) || info.st_uid != getuid ())
        return 0;
    *mode = info.st_mode;
    return 1;
}

/* Removes the files fanfold puts in a runtime directory, and it. Returns 1
   when the directory is gone. */
static int
s_remove_dead (const char *dir)
{
    DIR *inner = opendir (dir);
    struct dirent *file;
    while (inner && (file = readdir (inner))) {
        const char *name = file->d_name;
        if (strcmp (name, "control") == 0 || strcmp (name, "results") == 0
        ||  strcmp (name, "topology.zpl") == 0 || strcmp (name, S_PID_FILE) == 0
        ||  strncmp (name, "task-", 5) == 0) {
            char path [PATH_MAX + 300];
            snprintf (path, sizeof (path), "%s/%s", dir, name);
            unlink (path);
        }
    }
    if (inner)
        closedir (inner);
    return rmdir (dir) == 0;
}

int
ff_rundir_clean (const char *base)
{
    int removed = 0;
    DIR *listing = opendir (base);
    struct dirent *entry;
    if (!listing)
        return 0;
    while ((entry = readdir (listing))) {
        char dir [PATH_MAX];
        mode_t mode;
        if (s_runtime_dir (base, entry->d_name, dir, sizeof (dir), &mode) && !s_owner_alive (dir))
            removed += s_remove_dead (dir);
    }
    closedir (listing);
    return removed;
}

/* Adds the live private runs under base to *found; keeps the first's
   topology path. */
static void
s_find_live (const char *base, int *found, char *topology, size_t size)
{
    DIR *listing = opendir (base);
    struct dirent *entry;
    if (!listing)
        return;
    while ((entry = readdir (listing))) {
        char dir [PATH_MAX];
        mode_t mode;
        if (!s_runtime_dir (base, entry->d_name, dir, sizeof (dir), &mode)
        ||  (mode & 077) != 0 || !s_owner_alive (dir))
            continue;
        if (*found == 0)
            snprintf (topology, size, "%s/topology.zpl", dir);
        (*found)++;
    }
    closedir (listing);
}

int
ff_rundir_find_live (char *topology, size_t size)
{
    int found = 0;
    const char *base = getenv ("XDG_RUNTIME_DIR");
    if (base && access (base, W_OK) == 0)
        s_find_live (base, &found, topology, size);
    if (strcmp (base? base: "", S_SHM_BASE) != 0)
        s_find_live (S_SHM_BASE, &found, topology, size);
    if (strcmp (base? base: "", S_TMP_BASE) != 0)
        s_find_live (S_TMP_BASE, &found, topology, size);
    return found;
}

int
ff_rundir_clean_all (void)
{
    int removed = 0;
    const char *base = getenv ("XDG_RUNTIME_DIR");
    if (base)
        removed += ff_rundir_clean (base);
    if (strcmp (base? base: "", S_SHM_BASE) != 0)
        removed += ff_rundir_clean (S_SHM_BASE);
    if (strcmp (base? base: "", S_TMP_BASE) != 0)
        removed += ff_rundir_clean (S_TMP_BASE);
    return removed;
}

void
ff_rundir_remove_ipc (ff_topology_t *topology)
{
    ff_endpoint_t which [] = { FF_EP_CONTROL, FF_EP_RESULTS };
    size_t index;
    for (index = 0; index < 2; index++) {
        const char *endpoint = ff_topology_bind (topology, which [index]);
        if (strncmp (endpoint, "ipc://", 6) == 0)
            unlink (endpoint + 6);
    }
    /* worker pipes are <tasks>-<n> next to the tasks endpoint */
    const char *tasks = ff_topology_bind (topology, FF_EP_TASKS);
    if (strncmp (tasks, "ipc://", 6) != 0)
        return;
    char dir [PATH_MAX], base [PATH_MAX];
    snprintf (dir, sizeof (dir), "%s", tasks + 6);
    snprintf (base, sizeof (base), "%s-", basename (dir));
    snprintf (dir, sizeof (dir), "%s", tasks + 6);
    char *parent = dirname (dir);
    DIR *listing = opendir (parent);
    struct dirent *entry;
    if (!listing)
        return;
    while ((entry = readdir (listing)))
        if (strncmp (entry->d_name, base, strlen (base)) == 0) {
            char path [PATH_MAX];
            snprintf (path, sizeof (path), "%s/%s", parent, entry->d_name);
            unlink (path);
        }
    closedir (listing);
}
