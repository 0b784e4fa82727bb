/*  fanfold: the launcher. `fanfold run` starts a sink, a ventilator and N
    workers on a topology (a private ipc one by default), waits for the job
    and stops them; `--serial` runs the same kernels in this process.
    `fanfold worker` adds a worker to a running topology. Organised as:
    options, process control, the parallel run, the serial run, commands. */

#include "fanfold/kernels/fold.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/kernels/source.h"

#include <sys/socket.h>
#include <sys/un.h>
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/job/output.h"
#include "fanfold/job/reader.h"
#include "fanfold/runtime/topology.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_WORKERS 4096
#define S_MAX_ARGS 512
#define S_STOP_GRACE_MS 3000
#define S_END_GRACE_MS 50

typedef struct {
    const char *topology_path;      /* -t, NULL for a private one */
    int workers;                    /* -w */
    const char *output_path;        /* -o */
    const char *format;             /* --format */
    const char *kernels;            /* -k */
    const char *params [64];        /* -p KEY=VALUE as given */
    int nparams;                    /* how many */
    int pipe;                       /* --pipe */
    const char *lines;              /* --lines */
    const char *block;              /* --block */
    const char *max_block;          /* --max-block */
    const char *input_path;         /* --input */
    int serial;                     /* --serial */
    const char *timeout;            /* --timeout SECONDS */
    const char *retries;            /* --retries N */
    const char *joblog;             /* --joblog FILE */
    int resume;                     /* --resume */
    const char *chunk;              /* --chunk SIZE */
    int insecure;                   /* --insecure */
    int progress;                   /* --progress, or stderr is a terminal */
    const char *mode;               /* --mode auto|serial|parallel */
    int workers_given;              /* -w was given */
    int fifo;                       /* --dispatch fifo */
    const char *intake;             /* --intake ENDPOINT */
    const char *emit;               /* --emit ENDPOINT */
    const char *plugins [8];        /* --plugin LIB.so, absolute */
    int nplugins;                   /* how many */
    int verbose;                    /* -v */
    char **inputs;                  /* positional INPUTs */
    int ninputs;                    /* how many */
} s_options_t;

static volatile sig_atomic_t s_signal = 0;

static void
s_on_signal (int signum)
{
    s_signal = signum;
}

/* ------------------------------------------------------ process control */

/* Children this launcher started. */
typedef struct {
    pid_t pids [S_MAX_WORKERS + 2]; /* running children, 0 once reaped */
    size_t count;                   /* slots used */
    pid_t sink;                     /* the sink's pid */
    pid_t ventilator;               /* the ventilator's pid */
    int sink_status;                /* its exit status once reaped, or -1 */
    int ventilator_status;          /* its exit status once reaped, or -1 */
    int respawn_wanted;             /* workers that died and should be replaced */
    int respawned;                  /* workers replaced so far */
} s_children_t;


static char s_bindir [PATH_MAX];

/* Finds the directory of this executable: the stages live next to it. */
static void
s_find_bindir (const char *argv0)
{
    char path [PATH_MAX];
    ssize_t len = readlink ("/proc/self/exe", path, sizeof (path) - 1);
    if (len > 0)
        path [len] = 0;
    else
        snprintf (path, sizeof (path), "%s", argv0);
    if (snprintf (s_bindir, sizeof (s_bindir), "%s", dirname (path)) >= (int) sizeof (s_bindir))
        s_bindir [0] = 0;
}

/* Starts bindir/name with argv; stdin from /dev/null unless keep_stdin,
   stdout to stderr unless keep_stdout. Returns the pid, or -1. */
static pid_t
s_spawn (const char *name, char *const argv [], int keep_stdin, int keep_stdout)
{
    char path [PATH_MAX];
    if (snprintf (path, sizeof (path), "%s/%s", s_bindir, name) >= (int) sizeof (path))
        return -1;
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    signal (SIGINT, SIG_DFL);
    signal (SIGTERM, SIG_DFL);
    if (!keep_stdin) {
        int null = open ("/dev/null", O_RDONLY);
        if (null >= 0) {
            dup2 (null, STDIN_FILENO);
            close (null);
        }
    }
    if (!keep_stdout)
        dup2 (STDERR_FILENO, STDOUT_FILENO);
    execv (path, argv);
    fprintf (stderr, "fanfold: cannot run %s: %s\n", path, strerror (errno));
    _exit (127);
}

static void
s_signal_all (s_children_t *children, int signum)
{
    size_t index;
    for (index = 0; index < children->count; index++)
        if (children->pids [index] > 0)
            kill (children->pids [index], signum);
}

static size_t
s_running (s_children_t *children)
{
    size_t index, running = 0;
    for (index = 0; index < children->count; index++)
        running += children->pids [index] > 0;
    return running;
}

/* Reaps what has exited, waiting at most wait_ms for the first. */
static void
s_reap (s_children_t *children, int wait_ms)
{
    int64_t deadline = ff_clock_ms () + wait_ms;
    int reaped = 0;
    while (1) {
        int status;
        pid_t pid = waitpid (-1, &status, WNOHANG);
        if (pid > 0) {
            reaped = 1;
            size_t index;
            int code = WIFEXITED (status)? WEXITSTATUS (status): 128 + WTERMSIG (status);
            for (index = 0; index < children->count; index++)
                if (children->pids [index] == pid)
                    children->pids [index] = 0;
            if (pid == children->sink)
                children->sink_status = code;
            else
            if (pid == children->ventilator)
                children->ventilator_status = code;
            else
            if (code != FF_EXIT_OK && code != FF_EXIT_ERROR) {
                /* killed, dropped for a hung task, or recycled: replace it */
                ff_log_info ("worker %d ended with status %d", (int) pid, code);
                children->respawn_wanted++;
            }
            continue;
        }
        if (reaped || s_signal || ff_clock_ms () >= deadline || s_running (children) == 0)
            return;
        struct timespec pause = { 0, 2 * 1000000 };
        nanosleep (&pause, NULL);
    }
}

/* Stops every child: SIGTERM, then SIGKILL after the grace period. */
static void
s_stop_all (s_children_t *children, int grace_ms)
{
    int64_t deadline = ff_clock_ms () + grace_ms;
    s_signal_all (children, SIGTERM);
    s_signal_all (children, SIGCONT);      /* a stopped stage must see it */
    while (s_running (children) && ff_clock_ms () < deadline) {
        sig_atomic_t saved = s_signal;
        s_signal = 0;
        s_reap (children, 20);
        s_signal = saved;
    }
    if (s_running (children)) {
        s_signal_all (children, SIGKILL);
        while (s_running (children)) {
            sig_atomic_t saved = s_signal;
            s_signal = 0;
            s_reap (children, 20);
            s_signal = saved;
        }
    }
}

/* Removes the ipc files a topology binds (and every worker pipe). */
static void
s_remove_ipc_files (ff_topology_t *topology)
{
    ff_endpoint_t which [] = { FF_EP_CONTROL, FF_EP_RESULTS };
    size_t index;
    for (index = 0; index < 2; index++) {
        const char *endpoint = ff_topology_bind (topology, which [index]);
        if (strncmp (endpoint, "ipc://", 6) == 0)
            unlink (endpoint + 6);
    }
    const char *tasks = ff_topology_bind (topology, FF_EP_TASKS);
    if (strncmp (tasks, "ipc://", 6) != 0)
        return;
    char dir [PATH_MAX], base [PATH_MAX];
    snprintf (dir, sizeof (dir), "%s", tasks + 6);
    snprintf (base, sizeof (base), "%s-", basename (dir));
    snprintf (dir, sizeof (dir), "%s", tasks + 6);
    char *parent = dirname (dir);
    DIR *listing = opendir (parent);
    if (!listing)
        return;
    struct dirent *entry;
    while ((entry = readdir (listing)))
        if (strncmp (entry->d_name, base, strlen (base)) == 0) {
            char path [PATH_MAX];
            snprintf (path, sizeof (path), "%s/%s", parent, entry->d_name);
            unlink (path);
        }
    closedir (listing);
}

/* ---------------------------------------------------------- parallel run */

#define S_PID_FILE "launcher.pid"

static void
s_write_pid (const char *dir)
{
    char path [PATH_MAX];
    if (snprintf (path, sizeof (path), "%s/" S_PID_FILE, dir) >= (int) sizeof (path))
        return;
    FILE *file = fopen (path, "we");
    if (file) {
        fprintf (file, "%d\n", (int) getpid ());
        fclose (file);
    }
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

/* Returns 1 when name under base is a private runtime directory
   (fanfold-XXXXXX) of this user, with its path in dir and its mode in
   *mode. */
static int
s_runtime_dir (const char *base, const char *name, char *dir, size_t size, mode_t *mode)
{
    struct stat info;
    if (strncmp (name, "fanfold-", 8) != 0 || strlen (name) != 14
    ||  snprintf (dir, size, "%s/%s", base, name) >= (int) size
    ||  lstat (dir, &info) != 0 || !S_ISDIR (info.st_mode) || info.st_uid != getuid ())
        return 0;
    *mode = info.st_mode;
    return 1;
}

/* Removes private runtime directories (fanfold-XXXXXX) under base whose
   launcher is gone, and what fanfold put in them. Returns how many. */
static int
s_clean_runtime_dirs (const char *base)
{
    int removed = 0;
    DIR *listing = opendir (base);
    if (!listing)
        return 0;
    struct dirent *entry;
    while ((entry = readdir (listing))) {
        char dir [PATH_MAX];
        mode_t mode;
        if (!s_runtime_dir (base, entry->d_name, dir, sizeof (dir), &mode) || s_owner_alive (dir))
            continue;
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
        if (rmdir (dir) == 0)
            removed++;
    }
    closedir (listing);
    return removed;
}

static void
s_fnv (uint64_t *hash, const char *text)
{
    const unsigned char *at = (const unsigned char *) (text? text: "");
    do {
        *hash ^= *at;
        *hash *= 0x100000001b3ull;
    } while (*at++);
}

/* Names the job by what decides its output: kernels, parameters, how the
   input is cut, the format and the inputs. --resume refuses another job's
   state file. */
static void
s_signature (const s_options_t *options, char *out, size_t size)
{
    uint64_t hash = 0xcbf29ce484222325ull;
    int index;
    s_fnv (&hash, options->kernels);
    for (index = 0; index < options->nparams; index++)
        s_fnv (&hash, options->params [index]);
    s_fnv (&hash, options->pipe? "pipe": "args");
    s_fnv (&hash, options->lines);
    s_fnv (&hash, options->block);
    s_fnv (&hash, options->max_block);
    s_fnv (&hash, options->input_path);
    s_fnv (&hash, options->format);
    s_fnv (&hash, options->retries);
    s_fnv (&hash, options->chunk);
    for (index = 0; index < options->ninputs; index++)
        s_fnv (&hash, options->inputs [index]);
    snprintf (out, size, "%016" PRIx64, hash);
}

/* Appends an argument to a fixed-size argv. */
static void
s_arg (char **argv, int *argc, const char *text)
{
    if (*argc < S_MAX_ARGS - 1) {
        argv [(*argc)++] = (char *) text;
        argv [*argc] = NULL;
    }
}

static int
s_run_parallel (s_options_t *options)
{
    char runtime [PATH_MAX - 64] = "", topology_path [PATH_MAX], error [512];
    ff_topology_t *topology = NULL;
    s_children_t children;
    char *argv [S_MAX_ARGS];
    int argc, index, rc = 2;

    memset (&children, 0, sizeof (children));
    children.sink_status = children.ventilator_status = -1;
    if (options->topology_path) {
        snprintf (topology_path, sizeof (topology_path), "%s", options->topology_path);
        topology = ff_topology_load (topology_path, error, sizeof (error));
        if (!topology) {
            ff_log_error ("%s", error);
            return 2;
        }
        /* its endpoints are another job's: leave that job and its files alone */
        if (ff_net_ipc_busy (ff_topology_bind (topology, FF_EP_CONTROL))
        ||  ff_net_ipc_busy (ff_topology_bind (topology, FF_EP_RESULTS))) {
            ff_log_error ("another job is running on %s: wait for it, or use another topology",
                          topology_path);
            ff_topology_destroy (&topology);
            return 2;
        }
    }
    else {
        const char *base = getenv ("XDG_RUNTIME_DIR");
        if (!base || access (base, W_OK) != 0)
            base = "/tmp";
        snprintf (runtime, sizeof (runtime), "%s/fanfold-XXXXXX", base);
        if (!mkdtemp (runtime)) {
            ff_log_error ("cannot create a runtime directory in %s: %s", base, strerror (errno));
            return 2;
        }
        snprintf (topology_path, sizeof (topology_path), "%s/topology.zpl", runtime);
        topology = ff_topology_local (runtime);
        if (!topology || ff_topology_save (topology, topology_path)) {
            ff_log_error ("cannot write %s", topology_path);
            goto done;
        }
        s_write_pid (runtime);      /* `fanfold clean` tells a dead job by it */
    }
    if (ff_topology_prepare_dirs (topology, error, sizeof (error))) {
        ff_log_error ("%s", error);
        goto done;
    }

    argc = 0;
    s_arg (argv, &argc, "fanfold-sink");
    s_arg (argv, &argc, "-t");
    s_arg (argv, &argc, topology_path);
    if (options->output_path) {
        s_arg (argv, &argc, "-o");
        s_arg (argv, &argc, options->output_path);
    }
    s_arg (argv, &argc, "--format");
    s_arg (argv, &argc, options->format);
    if (options->joblog) {
        s_arg (argv, &argc, "--joblog");
        s_arg (argv, &argc, options->joblog);
    }
    char signature [24];
    s_signature (options, signature, sizeof (signature));
    s_arg (argv, &argc, "--signature");
    s_arg (argv, &argc, signature);
    if (options->resume)
        s_arg (argv, &argc, "--resume");
    if (options->insecure)
        s_arg (argv, &argc, "--insecure");
    if (options->progress)
        s_arg (argv, &argc, "--progress");
    for (index = 0; index < options->nplugins; index++) {
        s_arg (argv, &argc, "--plugin");
        s_arg (argv, &argc, options->plugins [index]);
    }
    if (options->emit) {
        s_arg (argv, &argc, "--emit");
        s_arg (argv, &argc, options->emit);
    }
    if (options->verbose)
        s_arg (argv, &argc, "-v");
    children.sink = s_spawn ("fanfold-sink", argv, 0, 1);
    if (children.sink > 0)
        children.pids [children.count++] = children.sink;

    argc = 0;
    s_arg (argv, &argc, "fanfold-ventilator");
    s_arg (argv, &argc, "-t");
    s_arg (argv, &argc, topology_path);
    s_arg (argv, &argc, "-k");
    s_arg (argv, &argc, options->kernels);
    for (index = 0; index < options->nparams; index++) {
        s_arg (argv, &argc, "-p");
        s_arg (argv, &argc, options->params [index]);
    }
    if (options->pipe) {
        s_arg (argv, &argc, "--pipe");
        if (options->lines) {
            s_arg (argv, &argc, "--lines");
            s_arg (argv, &argc, options->lines);
        }
        if (options->block) {
            s_arg (argv, &argc, "--block");
            s_arg (argv, &argc, options->block);
        }
        if (options->input_path) {
            s_arg (argv, &argc, "--input");
            s_arg (argv, &argc, options->input_path);
        }
    }
    if (options->max_block) {
        s_arg (argv, &argc, "--max-block");
        s_arg (argv, &argc, options->max_block);
    }
    if (options->timeout) {
        s_arg (argv, &argc, "--timeout");
        s_arg (argv, &argc, options->timeout);
    }
    if (options->retries) {
        s_arg (argv, &argc, "--retries");
        s_arg (argv, &argc, options->retries);
    }
    for (index = 0; index < options->nplugins; index++) {
        s_arg (argv, &argc, "--plugin");
        s_arg (argv, &argc, options->plugins [index]);
    }
    if (options->intake) {
        s_arg (argv, &argc, "--intake");
        s_arg (argv, &argc, options->intake);
    }
    if (options->chunk) {
        s_arg (argv, &argc, "--chunk");
        s_arg (argv, &argc, options->chunk);
    }
    if (options->insecure)
        s_arg (argv, &argc, "--insecure");
    if (options->fifo)
        s_arg (argv, &argc, "--fifo");
    if (options->verbose)
        s_arg (argv, &argc, "-v");
    s_arg (argv, &argc, "--");
    char **vent_argv = argv;
    char **big_argv = NULL;
    if (options->ninputs > 0) {
        /* inputs may be many: build a heap argv */
        big_argv = (char **) calloc ((size_t) (argc + options->ninputs + 1), sizeof (char *));
        if (!big_argv)
            goto stop;
        memcpy (big_argv, argv, (size_t) argc * sizeof (char *));
        for (index = 0; index < options->ninputs; index++)
            big_argv [argc + index] = options->inputs [index];
        vent_argv = big_argv;
    }
    children.ventilator = s_spawn ("fanfold-ventilator", vent_argv, 1, 0);
    free (big_argv);
    if (children.ventilator > 0)
        children.pids [children.count++] = children.ventilator;

    argc = 0;
    s_arg (argv, &argc, "fanfold-worker");
    s_arg (argv, &argc, "-t");
    s_arg (argv, &argc, topology_path);
    if (options->verbose)
        s_arg (argv, &argc, "-v");
    for (index = 0; index < options->workers; index++) {
        pid_t pid = s_spawn ("fanfold-worker", argv, 0, 0);
        if (pid > 0)
            children.pids [children.count++] = pid;
    }
    if (children.sink <= 0 || children.ventilator <= 0) {
        ff_log_error ("cannot start the stages: %s", strerror (errno));
        goto stop;
    }
    ff_log_info ("running on %s: sink %d, ventilator %d, %d workers", topology_path,
                 (int) children.sink, (int) children.ventilator, options->workers);

    /* wait for the job: both the ventilator and the sink must finish */
    int respawn_limit = 20 * options->workers + 100;
    while (!s_signal && (children.sink_status < 0 || children.ventilator_status < 0)) {
        s_reap (&children, 200);
        while (children.respawn_wanted > 0 && children.ventilator_status < 0
               && children.respawned < respawn_limit) {
            pid_t pid = s_spawn ("fanfold-worker", argv, 0, 0);
            size_t slot;
            children.respawn_wanted--;
            children.respawned++;
            for (slot = 0; slot < children.count && children.pids [slot] > 0; slot++)
                ;
            if (pid > 0) {
                children.pids [slot] = pid;
                if (slot == children.count)
                    children.count++;
            }
            if (children.respawned == respawn_limit)
                ff_log_error ("workers keep dying: %d replaced, no more", respawn_limit);
        }
        if (children.ventilator_status > 0 && children.sink_status < 0) {
            ff_log_error ("the ventilator failed (exit %d); stopping", children.ventilator_status);
            break;
        }
        if (children.sink_status >= 2 && children.ventilator_status < 0) {
            ff_log_error ("the sink failed (exit %d); stopping", children.sink_status);
            break;
        }
    }
    if (s_signal) {
        rc = 128 + s_signal;
        goto stop;
    }
    if (children.sink_status == 0 && children.ventilator_status == 0)
        rc = 0;
    else
    if (children.sink_status == 1 && children.ventilator_status == 0)
        rc = 1;                     /* every task ran; some failed */
    else
        rc = 2;
    /* workers leave by themselves at the job's end; give them a moment
       (one that had not joined yet is stopped) */
    int64_t grace_end = ff_clock_ms () + S_END_GRACE_MS;
    while (s_running (&children) && !s_signal && ff_clock_ms () < grace_end)
        s_reap (&children, (int) (grace_end - ff_clock_ms ()));
stop:
    s_stop_all (&children, S_STOP_GRACE_MS);
    if (s_signal && rc < 128)
        rc = 128 + s_signal;
done:
    if (topology)
        s_remove_ipc_files (topology);
    ff_topology_destroy (&topology);
    if (*runtime) {
        char pid_path [PATH_MAX];
        unlink (topology_path);
        if (snprintf (pid_path, sizeof (pid_path), "%s/" S_PID_FILE, runtime) < (int) sizeof (pid_path))
            unlink (pid_path);
        rmdir (runtime);
    }
    /* the segments of a job whose ventilator was killed */
    ff_shm_clean (NULL);
    return rc;
}

/* ------------------------------------------------------------ serial run */

/* What --serial needs to run one task the way a worker and the sink would. */
typedef struct {
    const ff_kernel_t *const *kernels; /* resolved kernels */
    char **names;                   /* their names */
    size_t nkernels;                /* how many */
    const char *const *params;      /* key, value, ... (retries first) */
    size_t nparams;                 /* pairs */
    long retries;                   /* runs of a failing task */
    uint64_t seq;                   /* next seq */
    ff_output_t *output;            /* the output */
    ff_result_t *out;               /* one result, reused */
    ff_folder_t *folder;            /* folds chunked inputs */
} s_serial_t;

/* Runs every kernel on one input (or one chunk), in seq order; failure
   != NULL makes error records instead, as the ventilator does. */
static int
s_serial_task (s_serial_t *ctx, const char *input, const void *data, size_t size,
               const ff_array_t *arrays, size_t narrays, uint32_t chunk, uint32_t chunks,
               const char *failure)
{
    size_t index;
    for (index = 0; index < ctx->nkernels; index++) {
        ff_task_t task = {
            .seq = ctx->seq, .input = input, .data = (const uint8_t *) data, .size = size,
            .params = ctx->params, .nparams = ctx->nparams,
            .arrays = arrays, .narrays = narrays
        };
        int rc = -1, tries = 0;
        ctx->out->data.size = ctx->out->meta.size = 0;
        if (failure)
            ff_buf_puts (&ctx->out->data, failure);
        else
            do
                rc = ff_kernels_run (ctx->kernels [index], &task, ctx->out);
            while (rc != 0 && ++tries < ctx->retries && !s_signal);
        ff_record_t record = {
            .seq = ctx->seq, .input = input, .input_len = strlen (input),
            .kernel = ctx->names [index], .status = rc == 0? 0: 1,
            .kind = failure? 0: (ctx->kernels [index]->flags & FF_KERNEL_JSON)? 1: 0,
            .body = ctx->out->data.data, .size = ctx->out->data.size,
            .meta = (const char *) ctx->out->meta.data, .meta_len = ctx->out->meta.size
        }, folded;
        ctx->seq++;
        if (!ff_folder_take (ctx->folder, ctx->kernels [index], (uint32_t) index, &record,
                             chunk, chunks, &folded))
            continue;
        if (ff_output_write (ctx->output, &folded)) {
            ff_log_error ("cannot write output: %s", strerror (errno));
            return -1;
        }
    }
    return 0;
}

/* Loads an array input into memory and runs its chunks. */
static int
s_serial_source (s_serial_t *ctx, const char *path, long chunk_bytes)
{
    char error [512];
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ff_array_t arrays [FF_SOURCE_MAX_ARRAYS];
    ff_source_t *source = ff_source_load (path, NULL, 0, error, sizeof (error));
    if (!source) {
        ff_log_error ("%s", error);
        return s_serial_task (ctx, path, "", 0, NULL, 0, 0, 1, error);
    }
    uint32_t chunks = ff_source_chunks (source, (uint64_t) chunk_bytes), chunk;
    int rc = 0;
    for (chunk = 0; chunk < chunks && rc == 0 && !s_signal; chunk++) {
        size_t count = ff_source_slices (source, (uint64_t) chunk_bytes, chunk, slices), index;
        for (index = 0; index < count; index++)
            arrays [index] = slices [index].array;
        rc = s_serial_task (ctx, path, "", 0, arrays, count, chunk, chunks, NULL);
    }
    ff_source_destroy (&source);
    return rc;
}

static int
s_run_serial (s_options_t *options, char **names, size_t nkernels)
{
    const ff_kernel_t *kernels [32];
    const char *params [2 * 66];
    char *copies [64] = { NULL };
    size_t nparams = 0, index;
    int out_fd = STDOUT_FILENO, in_fd = STDIN_FILENO, rc = 2;
    ff_output_t *output = NULL;
    ff_reader_t *reader = NULL;
    ff_result_t out;
    ff_format_t format;
    s_serial_t ctx;

    memset (&out, 0, sizeof (out));
    memset (&ctx, 0, sizeof (ctx));
    for (index = 0; index < nkernels; index++)
        kernels [index] = ff_kernels_find (names [index]);
    /* the same job parameters a worker gets from the ventilator */
    params [2 * nparams] = "retries";
    params [2 * nparams + 1] = options->retries? options->retries: FF_DEFAULT_RETRIES_TEXT;
    nparams++;
    if (options->timeout) {
        params [2 * nparams] = "timeout";
        params [2 * nparams + 1] = options->timeout;
        nparams++;
    }
    for (index = 0; index < (size_t) options->nparams; index++) {
        copies [index] = strdup (options->params [index]);
        if (!copies [index])
            goto done;
        char *equals = strchr (copies [index], '=');
        *equals = 0;
        params [2 * nparams] = copies [index];
        params [2 * nparams + 1] = equals + 1;
        nparams++;
    }
    ff_format_parse (options->format, &format);
    if (options->output_path) {
        out_fd = open (options->output_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
        if (out_fd < 0) {
            ff_log_error ("%s: cannot open for writing: %s", options->output_path, strerror (errno));
            return 2;
        }
    }
    output = ff_output_new (out_fd, format);
    ctx.folder = ff_folder_new ();
    if (!output || !ctx.folder)
        goto done;
    ctx.kernels = kernels;
    ctx.names = names;
    ctx.nkernels = nkernels;
    ctx.params = params;
    ctx.nparams = nparams;
    ctx.retries = FF_DEFAULT_RETRIES;
    ff_parse_size (params [1], &ctx.retries);     /* params start with retries= */
    ctx.output = output;
    ctx.out = &out;
    long chunk_bytes = 0;
    int arrays = 0;
    if (options->chunk)
        ff_parse_size (options->chunk, &chunk_bytes);
    for (index = 0; index < nkernels; index++)
        if (kernels [index]->flags & FF_KERNEL_ARRAYS)
            arrays = 1;
    if (options->pipe) {
        long n = 1L << 20, max_block = 256L << 20;
        ff_cut_t cut = options->lines? FF_CUT_LINES: FF_CUT_BYTES;
        if (options->lines)
            ff_parse_size (options->lines, &n);
        else
        if (options->block)
            ff_parse_size (options->block, &n);
        if (options->max_block)
            ff_parse_size (options->max_block, &max_block);
        if (cut == FF_CUT_BYTES && n > max_block && !options->block)
            n = max_block;          /* the default block shrinks, as in the ventilator */
        if (options->input_path) {
            in_fd = open (options->input_path, O_RDONLY | O_CLOEXEC);
            if (in_fd < 0) {
                ff_log_error ("%s: cannot open: %s", options->input_path, strerror (errno));
                goto done;
            }
        }
        reader = ff_reader_new (in_fd, options->input_path? options->input_path: "stdin",
                                cut, (size_t) n, (size_t) max_block);
        if (!reader)
            goto done;
        while (!s_signal) {
            ff_block_t block;
            int got = ff_reader_next (reader, &block);
            if (got == 0) {
                if (ff_reader_fill (reader) < 0 && errno != EINTR) {
                    ff_log_error ("%s: read failed: %s", ff_reader_name (reader), strerror (errno));
                    goto done;
                }
                continue;
            }
            if (got == -1)
                break;
            if (got == -2) {
                ff_log_error ("%s: line %" PRIu64 " is longer than --max-block (%ld bytes)",
                              ff_reader_name (reader), ff_reader_lines (reader) + 1, max_block);
                goto done;
            }
            char input [512];
            ff_reader_block_name (reader, &block, input, sizeof (input));
            if (s_serial_task (&ctx, input, block.data, block.size, NULL, 0, 0, 1, NULL))
                goto done;
        }
    }
    else
        for (index = 0; index < (size_t) options->ninputs && !s_signal; index++) {
            const char *arg = options->inputs [index];
            int failed = arrays && ff_source_recognises (arg)
                       ? s_serial_source (&ctx, arg, chunk_bytes)
                       : s_serial_task (&ctx, arg, arg, strlen (arg), NULL, 0, 0, 1, NULL);
            if (failed)
                goto done;
        }
    if (s_signal)
        rc = 128 + s_signal;
    else
    if (ff_output_flush (output)) {
        ff_log_error ("cannot write output: %s", strerror (errno));
        rc = 2;
    }
    else
        rc = ff_output_errors (output)? 1: 0;
done:
    ff_output_destroy (&output);
    ff_reader_destroy (&reader);
    ff_folder_destroy (&ctx.folder);
    ff_result_reset (&out, 0);
    for (index = 0; index < 64; index++)
        free (copies [index]);
    if (in_fd != STDIN_FILENO)
        close (in_fd);
    if (out_fd != STDOUT_FILENO)
        close (out_fd);
    return rc;
}

/* ------------------------------------------------------------- auto mode */

/* Starting the topology costs about this much (processes, sockets). */
#define S_STARTUP_US 60000.0

/* Returns 1 when the job is smaller than starting the topology: its tasks
   are arguments whose kernels estimate their own time (sleep, spin) and
   add up to less than S_STARTUP_US, or trivial ones (noop), or it has a
   single task. Anything open-ended (records, intake, exec, arrays, plugins,
   a topology or workers added by hand) runs in parallel. *why says which. */
static int
s_small_job (const s_options_t *options, char **names, size_t nkernels, const char **why)
{
    size_t kernel;
    int index, param;
    if (options->topology_path || (options->workers_given && options->workers == 0)) {
        *why = "a topology or -w 0: workers may join";
        return 0;
    }
    if (options->pipe || options->intake || options->emit || options->resume || options->joblog) {
        *why = "a stream, or options of the parallel mode";
        return 0;
    }
    if ((size_t) options->ninputs * nkernels <= 1) {
        *why = "a single task";
        return 1;
    }
    const char *params [2 * 64];
    char copies [64][128];
    size_t nparams = 0;
    for (param = 0; param < options->nparams && param < 64; param++) {
        snprintf (copies [param], sizeof (copies [param]), "%s", options->params [param]);
        char *equals = strchr (copies [param], '=');
        if (!equals)
            continue;
        *equals = 0;
        params [2 * nparams] = copies [param];
        params [2 * nparams + 1] = equals + 1;
        nparams++;
    }
    double estimate = 0;
    for (kernel = 0; kernel < nkernels; kernel++) {
        int timed = strcmp (names [kernel], "sleep") == 0 || strcmp (names [kernel], "spin") == 0;
        if (!timed && strcmp (names [kernel], "noop") != 0) {
            *why = "kernels whose cost is unknown";
            return 0;
        }
        const ff_kernel_t *found = ff_kernels_find (names [kernel]);
        for (index = 0; timed && index < options->ninputs; index++) {
            ff_task_t task = { .seq = (uint64_t) index, .input = options->inputs [index],
                               .data = (const uint8_t *) options->inputs [index],
                               .size = strlen (options->inputs [index]),
                               .params = params, .nparams = nparams };
            estimate += found->cost (&task);
        }
    }
    *why = estimate < S_STARTUP_US? "its estimated work is less than starting the stages"
                                  : "its estimated work outweighs starting the stages";
    return estimate < S_STARTUP_US;
}

/* -------------------------------------------------------------- commands */

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
        "                   [-v] [--] INPUT...\n"
        "       fanfold worker [-t TOPOLOGY] [--no-shm] [-v]\n"
        "       fanfold clean [-t TOPOLOGY]\n"
        "       fanfold keygen DIR\n"
        "\n"
        "run      runs a job: records from stdin with --pipe, else one task per INPUT;\n"
        "         -w N local workers (default: the number of cores; 0 waits for\n"
        "         workers added by hand); results in input order on stdout or -o.\n"
        "worker   adds one worker to the job running on TOPOLOGY; without -t, to\n"
        "         the one job of yours running on a private topology.\n"
        "clean    removes the shared memory and ipc files of jobs that died.\n"
        "keygen   writes CURVE certificates for tcp topologies.\n"
        "kernels  noop, sleep (ms=, jitter=1), spin (us=), exec (--exec), stats,\n"
        "         contacts, hbonds, clashes, pistacking, and plugins (--plugin).\n"
        "exit     0 every task succeeded, 1 some failed, 2 error, 130 interrupted.\n");
}

static int
s_cmd_run (int argc, char *argv [])
{
    static const struct option longs [] = {
        { "topology", required_argument, NULL, 't' },
        { "workers", required_argument, NULL, 'w' },
        { "output", required_argument, NULL, 'o' },
        { "format", required_argument, NULL, 'f' },
        { "kernel", required_argument, NULL, 'k' },
        { "param", required_argument, NULL, 'p' },
        { "pipe", no_argument, NULL, 'P' },
        { "lines", required_argument, NULL, 'L' },
        { "block", required_argument, NULL, 'B' },
        { "max-block", required_argument, NULL, 'M' },
        { "input", required_argument, NULL, 'i' },
        { "serial", no_argument, NULL, 'S' },
        { "exec", required_argument, NULL, 'X' },
        { "plugin", required_argument, NULL, 'G' },
        { "intake", required_argument, NULL, 'I' },
        { "chunk", required_argument, NULL, 'K' },
        { "insecure", no_argument, NULL, 'Q' },
        { "progress", no_argument, NULL, 'g' },
        { "mode", required_argument, NULL, 'm' },
        { "dispatch", required_argument, NULL, 'D' },
        { "emit", required_argument, NULL, 'E' },
        { "timeout", required_argument, NULL, 'T' },
        { "retries", required_argument, NULL, 'R' },
        { "joblog", required_argument, NULL, 'J' },
        { "resume", no_argument, NULL, 'U' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    s_options_t options;
    char *names [32];
    int opt, count, index, rc;
    long value;
    ff_format_t format;
    const char *exec_cmd = NULL;
    char *cmd_param = NULL;
    int kernels_given = 0;

    memset (&options, 0, sizeof (options));
    options.workers = (int) sysconf (_SC_NPROCESSORS_ONLN);
    if (options.workers < 1)
        options.workers = 1;
    options.format = "raw";
    options.kernels = "noop";
    optind = 1;
    while ((opt = getopt_long (argc, argv, "+t:w:o:k:p:vh", longs, NULL)) != -1) {
        switch (opt) {
            case 't': options.topology_path = optarg; break;
            case 'w':
                if (ff_parse_size (optarg, &value) || value > S_MAX_WORKERS) {
                    ff_log_error ("-w %s: expected a worker count from 0 to %d", optarg, S_MAX_WORKERS);
                    return 2;
                }
                options.workers = (int) value;
                options.workers_given = 1;
                break;
            case 'o': options.output_path = optarg; break;
            case 'f': options.format = optarg; break;
            case 'k': options.kernels = optarg; kernels_given = 1; break;
            case 'X': exec_cmd = optarg; break;
            case 'I': options.intake = optarg; break;
            case 'Q': options.insecure = 1; break;
            case 'g': options.progress = 1; break;
            case 'D':
                if (strcmp (optarg, "heavy") && strcmp (optarg, "fifo")) {
                    ff_log_error ("--dispatch %s: expected heavy or fifo", optarg);
                    return 2;
                }
                options.fifo = strcmp (optarg, "fifo") == 0;
                break;
            case 'm':
                if (strcmp (optarg, "auto") && strcmp (optarg, "serial") && strcmp (optarg, "parallel")) {
                    ff_log_error ("--mode %s: expected auto, serial or parallel", optarg);
                    return 2;
                }
                options.mode = optarg;
                break;
            case 'K':
                if (ff_parse_size (optarg, &value) || value <= 0) {
                    ff_log_error ("--chunk %s: expected a size such as 4M", optarg);
                    return 2;
                }
                options.chunk = optarg;
                break;
            case 'E': options.emit = optarg; break;
            case 'G': {
                char error [512];
                char *absolute = realpath (optarg, NULL);
                if (!absolute || options.nplugins == 8
                ||  ff_kernels_load (absolute, error, sizeof (error))) {
                    ff_log_error ("%s", absolute? error: "--plugin: no such file");
                    free (absolute);
                    return 2;
                }
                options.plugins [options.nplugins++] = absolute;     /* freed at the end */
                break;
            }
            case 'p':
                if (!strchr (optarg, '=') || *optarg == '=' || options.nparams >= 62) {
                    ff_log_error ("-p %s: expected KEY=VALUE", optarg);
                    return 2;
                }
                options.params [options.nparams++] = optarg;
                break;
            case 'P': options.pipe = 1; break;
            case 'L': case 'B': case 'M':
                if (ff_parse_size (optarg, &value) || value <= 0) {
                    ff_log_error ("--%s %s: expected a positive number",
                                  opt == 'L'? "lines": opt == 'B'? "block": "max-block", optarg);
                    return 2;
                }
                if (opt == 'L')
                    options.lines = optarg;
                else
                if (opt == 'B')
                    options.block = optarg;
                else
                    options.max_block = optarg;
                break;
            case 'i': options.input_path = optarg; break;
            case 'S': options.serial = 1; break;
            case 'T': {
                char *end;
                double seconds = strtod (optarg, &end);
                if (*end || end == optarg || !(seconds > 0) || seconds > 1e6) {
                    ff_log_error ("--timeout %s: expected seconds (more than 0)", optarg);
                    return 2;
                }
                options.timeout = optarg;
                break;
            }
            case 'R':
                if (ff_parse_size (optarg, &value) || value < 1 || value > 1000) {
                    ff_log_error ("--retries %s: expected a count from 1 to 1000", optarg);
                    return 2;
                }
                options.retries = optarg;
                break;
            case 'J': options.joblog = optarg; break;
            case 'U': options.resume = 1; break;
            case 'v': options.verbose = 1; break;
            case 'h': s_usage (stdout); return 0;
            default: s_usage (stderr); return 2;
        }
    }
    ff_log_init ("fanfold", options.verbose);
    if (ff_format_parse (options.format, &format)) {
        ff_log_error ("--format %s: expected raw or jsonl", options.format);
        return 2;
    }
    if (options.lines && options.block) {
        ff_log_error ("--lines and --block cannot be combined");
        return 2;
    }
    if ((options.lines || options.block || options.input_path) && !options.pipe) {
        ff_log_error ("--lines, --block and --input go with --pipe");
        return 2;
    }
    if (options.resume && (!options.output_path || options.serial)) {
        ff_log_error ("--resume needs -o FILE and the parallel mode");
        return 2;
    }
    if (options.serial && (options.intake || options.emit)) {
        ff_log_error ("--intake and --emit are sockets of the parallel mode: not with --serial");
        return 2;
    }
    if (options.intake && (options.pipe || argc > optind)) {
        ff_log_error ("--intake takes the records: no --pipe, no INPUT");
        return 2;
    }
    if (options.serial && options.joblog) {
        ff_log_error ("--joblog is written by the sink: not with --serial");
        return 2;
    }
    options.inputs = argv + optind;
    options.ninputs = argc - optind;
    if (exec_cmd) {
        /* --exec CMD is the exec kernel with cmd= (and pipe=1 with --pipe) */
        if (!kernels_given)
            options.kernels = "exec";
        cmd_param = (char *) malloc (strlen (exec_cmd) + 5);
        if (!cmd_param)
            return 2;
        sprintf (cmd_param, "cmd=%s", exec_cmd);
        options.params [options.nparams++] = cmd_param;
        if (options.pipe)
            options.params [options.nparams++] = "pipe=1";
    }
    else
    if (strstr (options.kernels, "exec")) {
        ff_log_error ("the exec kernel needs --exec CMD");
        return 2;
    }
    if (options.pipe && options.ninputs > 0) {
        ff_log_error ("--pipe reads records from stdin (or --input), not INPUT arguments");
        return 2;
    }
    count = ff_kernels_split (options.kernels, names, 32);
    if (count < 0) {
        ff_log_error ("-k %s: expected KERNEL[,KERNEL...]", options.kernels);
        return 2;
    }
    rc = 0;
    for (index = 0; index < count; index++)
        if (!ff_kernels_find (names [index])) {
            char known [1024];
            ff_kernels_list (known, sizeof (known));
            ff_log_error ("unknown kernel '%s' (known: %s)", names [index], known);
            rc = 2;
        }
    if (!options.mode)
        options.mode = options.serial? "serial": "auto";
    if (isatty (STDERR_FILENO))
        options.progress = 1;
    if (rc == 0 && strcmp (options.mode, "auto") == 0) {
        const char *why = NULL;
        options.serial = s_small_job (&options, names, (size_t) count, &why);
        ff_log_info ("--mode auto: %s (%s)", options.serial? "serial": "parallel", why);
    }
    else
        options.serial = strcmp (options.mode, "serial") == 0;
    if (rc == 0 && options.serial
    &&  (options.resume || options.joblog || options.intake || options.emit)) {
        ff_log_error ("--resume, --joblog, --intake and --emit need --mode parallel");
        rc = 2;
    }
    if (rc == 0)
        rc = options.serial? s_run_serial (&options, names, (size_t) count)
                           : s_run_parallel (&options);
    for (index = 0; index < count; index++)
        free (names [index]);
    free (cmd_param);
    for (index = 0; index < options.nplugins; index++)
        free ((char *) options.plugins [index]);
    return rc;
}

/* fanfold clean [-t TOPOLOGY]: removes what dead jobs left behind. */
static int
s_cmd_clean (int argc, char *argv [])
{
    const char *topology_path = NULL;
    int opt, dirs = 0, segments;
    static const struct option longs [] = {
        { "topology", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 }
    };
    optind = 1;
    while ((opt = getopt_long (argc, argv, "t:h", longs, NULL)) != -1) {
        if (opt == 't')
            topology_path = optarg;
        else {
            fprintf (opt == 'h'? stdout: stderr, "usage: fanfold clean [-t TOPOLOGY]\n");
            return opt == 'h'? 0: 2;
        }
    }
    if (topology_path) {
        char error [512];
        ff_topology_t *topology = ff_topology_load (topology_path, error, sizeof (error));
        if (!topology) {
            ff_log_error ("%s", error);
            return 2;
        }
        /* a live job on the topology listens on its control endpoint: a
           plain connect tells, without taking the endpoint over */
        const char *control = ff_topology_bind (topology, FF_EP_CONTROL);
        int busy = 0;
        if (strncmp (control, "ipc://", 6) == 0 && access (control + 6, F_OK) == 0) {
            struct sockaddr_un address;
            int fd = socket (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
            memset (&address, 0, sizeof (address));
            address.sun_family = AF_UNIX;
            snprintf (address.sun_path, sizeof (address.sun_path), "%s", control + 6);
            busy = fd >= 0 && connect (fd, (struct sockaddr *) &address, sizeof (address)) == 0;
            if (fd >= 0)
                close (fd);
        }
        if (busy)
            ff_log_error ("a job is running on %s: its files stay", topology_path);
        else {
            s_remove_ipc_files (topology);
            dirs++;
        }
        ff_topology_destroy (&topology);
    }
    const char *base = getenv ("XDG_RUNTIME_DIR");
    if (base)
        dirs += s_clean_runtime_dirs (base);
    dirs += s_clean_runtime_dirs ("/tmp");
    segments = ff_shm_clean (NULL);
    fprintf (stderr, "fanfold clean: %d runtime directories, %d shared-memory segments removed\n",
             dirs, segments);
    return 0;
}

/* Finds the private run of this user that a worker without -t joins: the
   one fanfold-XXXXXX directory under base whose launcher is alive. Adds
   each one found to *found and keeps the first in topology. */
static void
s_find_private_runs (const char *base, int *found, char *topology, size_t size)
{
    DIR *listing = opendir (base);
    if (!listing)
        return;
    struct dirent *entry;
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

static int
s_cmd_worker (int argc, char *argv [])
{
    char path [PATH_MAX];
    char topology [PATH_MAX + 32] = "";
    int index, has_topology = 0;
    if (snprintf (path, sizeof (path), "%s/fanfold-worker", s_bindir) >= (int) sizeof (path))
        return 2;
    for (index = 1; index < argc; index++)
        if (strncmp (argv [index], "-t", 2) == 0
        ||  strcmp (argv [index], "-h") == 0 || strcmp (argv [index], "--help") == 0)
            has_topology = 1;
    if (argc + 3 > S_MAX_ARGS) {
        ff_log_error ("too many arguments");
        return 2;
    }
    char **worker_argv = argv;
    char *with_topology [S_MAX_ARGS];
    if (!has_topology) {
        /* no -t: join the one job this user runs on a private topology */
        int found = 0;
        const char *base = getenv ("XDG_RUNTIME_DIR");
        if (base && access (base, W_OK) == 0)
            s_find_private_runs (base, &found, topology, sizeof (topology));
        if (strcmp (base? base: "", "/tmp") != 0)
            s_find_private_runs ("/tmp", &found, topology, sizeof (topology));
        if (found != 1) {
            ff_log_error (found == 0? "no job of yours runs on a private topology: give -t TOPOLOGY"
                          : "%d jobs of yours run on private topologies: give -t TOPOLOGY", found);
            return 2;
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
    return 2;
}

int
main (int argc, char *argv [])
{
    struct sigaction action;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_signal;
    sigemptyset (&action.sa_mask);
    sigaction (SIGINT, &action, NULL);
    sigaction (SIGTERM, &action, NULL);
    signal (SIGPIPE, SIG_IGN);
    ff_log_init ("fanfold", 0);
    s_find_bindir (argv [0]);
    if (argc < 2) {
        s_usage (stderr);
        return 2;
    }
    if (strcmp (argv [1], "run") == 0)
        return s_cmd_run (argc - 1, argv + 1);
    if (strcmp (argv [1], "worker") == 0)
        return s_cmd_worker (argc - 1, argv + 1);
    if (strcmp (argv [1], "clean") == 0)
        return s_cmd_clean (argc - 1, argv + 1);
    if (strcmp (argv [1], "keygen") == 0) {
        char error [512];
        if (argc != 3 || argv [2][0] == '-') {
            fprintf (stderr, "usage: fanfold keygen DIR\n");
            return 2;
        }
        if (ff_security_keygen (argv [2], error, sizeof (error))) {
            ff_log_error ("%s", error);
            return 2;
        }
        fprintf (stderr, "fanfold keygen: %s/server.cert, server.cert_secret, client.cert_secret, "
                 "allowed/client.cert\n", argv [2]);
        return 0;
    }
    if (strcmp (argv [1], "--help") == 0 || strcmp (argv [1], "-h") == 0 || strcmp (argv [1], "help") == 0) {
        s_usage (stdout);
        return 0;
    }
    ff_log_error ("unknown command '%s'", argv [1]);
    s_usage (stderr);
    return 2;
}
