/*  The supervisor of a parallel run; see supervisor.h. Organised as: the
    children table, spawning and reaping, stopping, and the run. */

#include "fanfold/launch/supervisor.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <czmq.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <netdb.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_STOP_GRACE_MS 3000        /* SIGTERM to SIGKILL */
#define S_END_GRACE_MS 50           /* workers leave by themselves at the job's end */
#define S_WAIT_STEP_MS 200          /* the supervisor's reap wait */
#define S_REAP_SLICE_MS 50          /* the longest wait for SIGCHLD at a time */
#define S_SINK_GONE_GRACE_MS 2000   /* a sink that ended: the ventilator follows within this */
/* A sink that ended with 0 wrote the whole output: the ventilator's stop
   closes a pipe, a monitor and a connection per worker, about 1 s at 2,850
   workers on 2 busy cores, so it gets longer before it is stopped (status 2) */
#define S_SINK_DONE_GRACE_MS 10000
#define S_RESPAWN_PER_WORKER 20     /* replacements allowed: 20 per worker ... */
#define S_RESPAWN_BASE 100          /* ... plus this many */
#define S_HALT_GRACE_MS 200         /* --halt now: SIGTERM to SIGKILL of the commands */
#define S_MAX_COMMANDS 4096         /* command groups --halt now ends at once */

static char s_bindir [PATH_MAX];
static ff_worker_entry_t *s_worker_entry = NULL; /* a local worker's entry, or NULL: exec */
static ff_worker_entry_t *s_sink_entry = NULL;      /* the sink's, or NULL: exec */
static ff_worker_entry_t *s_ventilator_entry = NULL; /* the ventilator's, or NULL: exec */
static char *s_title = NULL;        /* the launcher's argv and environ strings, one area */
static size_t s_title_size = 0;     /* its size */

void
ff_supervisor_init (int argc, char *argv [], ff_worker_entry_t *worker_entry)
{
    extern char **environ;
    char *end = argv [0];
    int index;
    ff_supervisor_find_bindir (argv [0]);
    s_worker_entry = worker_entry;
    /* the area a forked worker writes its command line over: argv's
       strings and, after them, environ's, while they follow each other */
    for (index = 0; index < argc && argv [index] == end; index++)
        end += strlen (argv [index]) + 1;
    if (index < argc)
        return;
    for (index = 0; environ && environ [index] && environ [index] == end; index++)
        end += strlen (environ [index]) + 1;
    s_title = argv [0];
    s_title_size = (size_t) (end - argv [0]);
}

void
ff_supervisor_stage_entries (ff_worker_entry_t *sink, ff_worker_entry_t *ventilator)
{
    s_sink_entry = sink;
    s_ventilator_entry = ventilator;
}

void
ff_supervisor_find_bindir (const char *argv0)
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

const char *
ff_supervisor_bindir (void)
{
    return s_bindir;
}

int
ff_supervisor_status (int sink_status, int ventilator_status)
{
    if (sink_status == FF_EXIT_PIPE_CLOSED)
        return sink_status;         /* the reader left: the others were stopped for it */
    if (ventilator_status != FF_EXIT_OK)
        return FF_EXIT_ERROR;
    if (sink_status >= FF_EXIT_OK && sink_status <= FF_EXIT_FAILED_MAX)
        return sink_status;         /* 0, or the failed tasks */
    return FF_EXIT_ERROR;
}

/* ------------------------------------------------------ the children */

/* The children of one run. */
typedef struct {
    pid_t pids [FF_MAX_WORKERS + 2]; /* running children, 0 once reaped */
    size_t count;                   /* slots used */
    pid_t sink;                     /* the sink's pid */
    pid_t ventilator;               /* the ventilator's pid */
    int sink_status;                /* its exit status once reaped, or -1 */
    int ventilator_status;          /* its exit status once reaped, or -1 */
    int respawn_wanted;             /* workers that died and should be replaced */
    int respawned;                  /* workers replaced so far */
    int worker_failed;              /* a worker's usage/setup error, or 0 */
    double cpu_sink;                /* seconds of CPU (user + system, every thread) */
    double cpu_ventilator;          /* of each central stage once reaped, */
    double cpu_workers;             /* and of every worker reaped */
    int told_over;                  /* the workers were sent SIGUSR1 */
} s_children_t;

/* A worker that exited with this status could not start (a usage or setup
   error, or no executable): another would fail the same way. */
static int
s_worker_cannot_start (int status)
{
    return status == FF_EXIT_ERROR || status == FF_EXIT_CANNOT_RUN;
}

/* The environment of a stage started with exec: the launcher's, without
   a FF_NET_LISTEN_FD_ENV of its own, and with listener's number when
   listener >= 0. Returns a NULL-terminated array (free it, and its last
   string when listener >= 0), or NULL when out of memory. Not inlined
   into s_spawn, whose locals vfork may clobber. */
static __attribute__ ((noinline)) char **
s_stage_environ (int listener)
{
    extern char **environ;
    size_t count, index, kept = 0, name = strlen (FF_NET_LISTEN_FD_ENV);
    for (count = 0; environ && environ [count]; count++)
        ;
    char **copy = (char **) calloc (count + 2, sizeof (char *));
    if (!copy)
        return NULL;
    for (index = 0; index < count; index++)
        if (strncmp (environ [index], FF_NET_LISTEN_FD_ENV, name) != 0
        ||  environ [index][name] != '=')
            copy [kept++] = environ [index];
    if (listener >= 0) {
        char entry [64];
        snprintf (entry, sizeof (entry), "%s=%d", FF_NET_LISTEN_FD_ENV, listener);
        if (!(copy [kept] = strdup (entry))) {
            free (copy);
            return NULL;
        }
    }
    return copy;
}

/* Starts bindir/argv [0]; stdin from /dev/null unless keep_stdin, stdout
   to stderr unless keep_stdout; listener (>= 0) is handed down open, its
   number in FF_NET_LISTEN_FD_ENV; a worker starts with SIGUSR1 blocked
   (see ff_supervisor_run). Returns the pid, or -1. The child is
   made with vfork, as posix_spawn does, so that starting 256 workers
   costs no copy of the launcher's page tables: until it execs it shares
   the launcher's memory, so it only makes system calls, with every
   signal blocked until SIGINT, SIGTERM and SIGHUP are back at their
   defaults (SIGPIPE stays ignored, as after fork). It asks for SIGTERM
   when the launcher dies, which posix_spawn cannot. */
static pid_t
s_spawn (char *const argv [], int keep_stdin, int keep_stdout, int listener, int worker)
{
    char path [PATH_MAX];
    if (snprintf (path, sizeof (path), "%s/%s", s_bindir, argv [0]) >= (int) sizeof (path))
        return -1;
    char **environment = s_stage_environ (listener);
    if (!environment) {
        errno = ENOMEM;
        return -1;
    }
    volatile int failed = 0;        /* the child's errno when it could not exec */
    int null = keep_stdin? -1: open ("/dev/null", O_RDONLY | O_CLOEXEC);
    sigset_t all, saved, child;
    sigfillset (&all);
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    child = saved;
    if (worker)
        ff_signals_add_job_over (&child);   /* held until the worker takes it */
    pid_t pid = vfork ();
    if (pid == 0) {
        struct sigaction fallback;
        memset (&fallback, 0, sizeof (fallback));
        fallback.sa_handler = SIG_DFL;
        sigaction (SIGINT, &fallback, NULL);
        sigaction (SIGTERM, &fallback, NULL);
        sigaction (SIGHUP, &fallback, NULL);
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        sigprocmask (SIG_SETMASK, &child, NULL);
        if (null >= 0)
            dup2 (null, STDIN_FILENO);
        if (!keep_stdout)
            dup2 (STDERR_FILENO, STDOUT_FILENO);
        if (listener >= 0)
            fcntl (listener, F_SETFD, 0);   /* the child's descriptor table: its own */
        execve (path, argv, environment);
        failed = errno;             /* the launcher's memory: it reads it once we exit */
        _exit (FF_EXIT_CANNOT_RUN);
    }
    int error = errno;
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    if (null >= 0)
        close (null);
    if (listener >= 0) {
        size_t last;
        for (last = 0; environment [last]; last++)
            ;
        free (environment [last - 1]);
    }
    free (environment);
    if (failed)
        ff_log_error ("cannot run %s: %s", path, strerror (failed));
    errno = error;
    return pid;
}

/* Returns 1 when this process runs one thread: it may fork a worker that
   calls an entry (libzmq's threads would not follow, their locks might). */
static int
s_single_threaded (void)
{
    char line [256];
    int threads = 0;
    FILE *status = fopen ("/proc/self/status", "re");
    while (status && fgets (line, sizeof (line), status))
        if (sscanf (line, "Threads: %d", &threads) == 1)
            break;
    if (status)
        fclose (status);
    return threads == 1;
}

/* In a forked child: closes what exec would have (every descriptor
   above 2 marked close-on-exec), as the launcher's files are none of the
   worker's; descriptors it inherits on purpose stay. */
static void
s_close_on_exec (void)
{
    DIR *fds = opendir ("/proc/self/fd");
    struct dirent *entry;
    if (!fds)
        return;
    int own = dirfd (fds);
    while ((entry = readdir (fds))) {
        int fd = atoi (entry->d_name);
        if (fd > STDERR_FILENO && fd != own && (fcntl (fd, F_GETFD) & FD_CLOEXEC))
            close (fd);
    }
    closedir (fds);
}

/* In a forked child: writes argv over the launcher's command line (as
   setproctitle does), so that ps and `pgrep -f "fanfold-worker -t T"`
   see the worker's, and names the process after argv [0]. environ's
   strings, part of that area, are copied first. */
static void
s_set_title (char *const argv [])
{
    extern char **environ;
    size_t count, index, at = 0;
    prctl (PR_SET_NAME, argv [0]);
    if (!s_title || s_title_size < 2)
        return;
    for (count = 0; environ && environ [count]; count++)
        ;
    char **copy = (char **) calloc (count + 1, sizeof (char *));
    if (!copy)
        return;
    for (index = 0; index < count; index++)
        if (!(copy [index] = strdup (environ [index])))
            return;                 /* the launcher's line stays */
    environ = copy;
    /* one line, words joined by spaces, ending in a NUL: when it runs
       past argv's area, the kernel reads on to that NUL */
    memset (s_title, 0, s_title_size);
    for (index = 0; argv [index] && at + 1 < s_title_size; index++) {
        size_t len = strlen (argv [index]);
        if (index > 0)
            s_title [at++] = ' ';
        if (len > s_title_size - 1 - at)
            len = s_title_size - 1 - at;
        memcpy (s_title + at, argv [index], len);
        at += len;
    }
}

/* A ZeroMQ context made before the forks and never started: no socket,
   so no thread (the children may still be forked). While it lives, the
   libraries' one-time set-up that every context's creation runs is done:
   OpenPGM's pgm_init (the PGM protocol's lookup, which loads glibc's NSS
   module, and a CPUID probe) and libsodium's sodium_init (another CPUID
   probe). Each forked stage inherits it done: under a hypervisor each
   CPUID traps, tens of microseconds a process. */
static void *s_warm_context = NULL;

static void
s_warm_children (void)
{
    if (!s_warm_context)
        s_warm_context = zmq_ctx_new ();
    if (!s_warm_context)
        getprotobyname ("pgm");     /* the lookup alone, as before */
    endprotoent ();
}

static void
s_warm_end (void)
{
    if (s_warm_context)
        zmq_ctx_term (s_warm_context);
    s_warm_context = NULL;
}

/* Starts a stage by fork alone: the child runs entry, loaded already,
   with argv as its command line, instead of an exec, which costs
   milliseconds of loading and relocation. This process has no started
   ZeroMQ context (no thread: s_warm_context is made but never started,
   and the child inherits only its eventfd), so the child makes its own. stdin from /dev/null unless keep_stdin, stdout to stderr
   unless keep_stdout, listener (>= 0) handed down (ff_net_hand_listener).
   Returns the pid, or -1. */
static pid_t
s_fork_entry (ff_worker_entry_t *entry, char *const stage_argv [], int keep_stdin,
              int keep_stdout, int listener)
{
    int null = keep_stdin? -1: open ("/dev/null", O_RDONLY | O_CLOEXEC);
    pid_t launcher = getpid ();
    sigset_t all, saved;
    sigfillset (&all);
    fflush (NULL);                  /* nothing buffered is written twice */
    pthread_sigmask (SIG_SETMASK, &all, &saved);
    pid_t pid = fork ();
    if (pid == 0) {
        /* SIGINT, SIGTERM and SIGHUP keep the launcher's handler, which
           sets ff_stop_signal: the stage's own, set the same way */
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        if (getppid () != launcher)
            _exit (FF_EXIT_OK);     /* the launcher died before the line above */
        if (null >= 0)
            dup2 (null, STDIN_FILENO);
        if (!keep_stdout)
            dup2 (STDERR_FILENO, STDOUT_FILENO);
        /* not through the environment, whose strings s_set_title copies:
           ff_net_bind would drop the copy of the variable, and leak it */
        unsetenv (FF_NET_LISTEN_FD_ENV);
        if (listener >= 0) {
            fcntl (listener, F_SETFD, 0);
            ff_net_hand_listener (listener);
        }
        s_close_on_exec ();
        /* its words may point into the launcher's command line: copy
           them before writing over that */
        int argc;
        char *argv [FF_MAX_ARGS];
        for (argc = 0; stage_argv [argc] && argc + 1 < FF_MAX_ARGS; argc++)
            if (!(argv [argc] = strdup (stage_argv [argc])))
                _exit (FF_EXIT_CANNOT_RUN);
        argv [argc] = NULL;
        s_set_title (argv);
        if (entry == s_worker_entry)
            ff_signals_add_job_over (&saved);   /* held until the worker takes it */
        sigprocmask (SIG_SETMASK, &saved, NULL);
        int rc = entry (argc, argv);
        /* the stage's ZeroMQ context ends (it flushes what lingers), then
           the process, without the launcher's libraries' destructors (a
           worker whose job is over has already left through _exit, see
           ff_worker_main); under a sanitizer, exit, whose leak check
           counts */
        zsys_shutdown ();
        fflush (NULL);
        if (FF_SANITIZED)
            exit (rc);
        _exit (rc);
    }
    int error = errno;
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    if (null >= 0)
        close (null);
    if (pid < 0)
        ff_log_error ("cannot start %s: %s", stage_argv [0], strerror (error));
    errno = error;
    return pid;
}

/* Starts a local worker with stages->worker as its command line: by fork
   alone (s_fork_entry) with a worker entry (ff_supervisor_init) and one
   thread here, else by s_spawn. Returns the pid, or -1. */
static pid_t
s_spawn_worker (const ff_stages_t *stages, int may_fork)
{
    if (!s_worker_entry || !may_fork)
        return s_spawn (stages->worker, 0, 0, -1, 1);
    return s_fork_entry (s_worker_entry, stages->worker, 0, 0, -1);
}

/* Starts the sink or the ventilator (argv [0] names which): by fork alone
   when its entry is known (ff_supervisor_stage_entries) and may_fork,
   else by s_spawn. */
static pid_t
s_spawn_stage (char *const argv [], int keep_stdin, int keep_stdout, int listener,
               ff_worker_entry_t *entry, int may_fork)
{
    if (!entry || !may_fork)
        return s_spawn (argv, keep_stdin, keep_stdout, listener, 0);
    return s_fork_entry (entry, argv, keep_stdin, keep_stdout, listener);
}

/* Puts pid in the first free slot. */
static void
s_adopt (s_children_t *children, pid_t pid)
{
    size_t slot;
    if (pid <= 0)
        return;
    for (slot = 0; slot < children->count && children->pids [slot] > 0; slot++)
        ;
    if (slot == sizeof (children->pids) / sizeof (children->pids [0]))
        return;                     /* cannot happen: at most workers + 2 live */
    children->pids [slot] = pid;
    if (slot == children->count)
        children->count++;
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

/* Records the exit of pid with status code, after cpu seconds of CPU. */
static void
s_on_exit (s_children_t *children, pid_t pid, int code, double cpu)
{
    size_t index;
    if (pid == children->sink)
        children->cpu_sink += cpu;
    else
    if (pid == children->ventilator)
        children->cpu_ventilator += cpu;
    else
        children->cpu_workers += cpu;
    for (index = 0; index < children->count; index++)
        if (children->pids [index] == pid)
            children->pids [index] = 0;
    if (pid == children->sink)
        children->sink_status = code;
    else
    if (pid == children->ventilator)
        children->ventilator_status = code;
    else
    if (s_worker_cannot_start (code)) {
        if (!children->worker_failed && children->ventilator_status < 0)
            children->worker_failed = code;
    }
    else
    if (code != FF_EXIT_OK) {
        /* killed, dropped for a hung task, or recycled */
        ff_log_info ("worker %d ended with status %d", (int) pid, code);
        children->respawn_wanted++;
    }
}

/* Reaps what has exited, waiting at most wait_ms for the first; returns
   early on a signal unless ignore_signal. The wait is for SIGCHLD itself
   (and the stop signals), not a sleep between looks: an exit is seen at
   once. Both are blocked while it looks, so that one that comes between
   a look and the wait stays pending for the wait. */
static void
s_reap (s_children_t *children, int wait_ms, int ignore_signal)
{
    int64_t deadline = ff_clock_ms () + wait_ms;
    int reaped = 0, caught = 0;
    sigset_t wanted, saved;
    sigemptyset (&wanted);
    sigaddset (&wanted, SIGCHLD);
    sigaddset (&wanted, SIGINT);
    sigaddset (&wanted, SIGTERM);
    sigaddset (&wanted, SIGHUP);
    pthread_sigmask (SIG_BLOCK, &wanted, &saved);
    while (1) {
        int status;
        struct rusage usage;
        pid_t pid = wait4 (-1, &status, WNOHANG, &usage);
        if (pid > 0) {
            reaped = 1;
            s_on_exit (children, pid, WIFEXITED (status)? WEXITSTATUS (status)
                                      : FF_EXIT_SIGNAL_BASE + WTERMSIG (status),
                       usage.ru_utime.tv_sec + usage.ru_utime.tv_usec / 1e6
                       + usage.ru_stime.tv_sec + usage.ru_stime.tv_usec / 1e6);
            continue;
        }
        int64_t left = deadline - ff_clock_ms ();
        if (reaped || ((ff_stop_signal || caught) && !ignore_signal) || left <= 0
        ||  s_running (children) == 0)
            break;
        /* at most S_REAP_SLICE_MS at a time: a signal another thread took
           costs no more */
        if (left > S_REAP_SLICE_MS)
            left = S_REAP_SLICE_MS;
        struct timespec pause = { (time_t) (left / 1000), (long) (left % 1000) * 1000000 };
        int signum = sigtimedwait (&wanted, NULL, &pause);
        if (signum > 0 && signum != SIGCHLD)
            caught = signum;
    }
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    /* a stop signal the wait took from the queue: raised again, so that
       its handler runs */
    if (caught)
        raise (caught);
}

/* Stops every child: SIGTERM (and SIGCONT, so a stopped one sees it),
   then SIGKILL after grace_ms; returns once all are reaped. */
static void
s_stop_all (s_children_t *children, int grace_ms)
{
    int64_t deadline = ff_clock_ms () + grace_ms;
    s_signal_all (children, SIGTERM);
    s_signal_all (children, SIGCONT);
    while (s_running (children) && ff_clock_ms () < deadline)
        s_reap (children, 20, 1);
    if (s_running (children)) {
        s_signal_all (children, SIGKILL);
        while (s_running (children))
            s_reap (children, 20, 1);
    }
}

/* Once the ventilator has ended well, every task is written: tells the
   workers (not the sink) by SIGUSR1 that the job is over, once. A worker
   that joined leaves on the ventilator's `end` all the same; one that had
   not joined yet leaves on this, while the sink still finishes. */
static void
s_tell_over (s_children_t *children)
{
    size_t index;
    if (children->told_over || children->ventilator_status != FF_EXIT_OK)
        return;
    children->told_over = 1;
    for (index = 0; index < children->count; index++)
        if (children->pids [index] > 0 && children->pids [index] != children->sink)
            kill (children->pids [index], FF_SIGNAL_JOB_OVER);
}

/* Returns 1 when pid is a worker of children (not the sink or the
   ventilator). */
static int
s_is_worker (const s_children_t *children, pid_t pid)
{
    size_t index;
    if (pid <= 0 || pid == children->sink || pid == children->ventilator)
        return 0;
    for (index = 0; index < children->count; index++)
        if (children->pids [index] == pid)
            return 1;
    return 0;
}

/* Finds the command groups the workers lead: the children of a worker
   that lead their own process group (the exec kernel starts each command
   so). Fills groups, at most max; returns how many. */
static size_t
s_find_commands (const s_children_t *children, pid_t *groups, size_t max)
{
    DIR *proc = opendir ("/proc");
    struct dirent *entry;
    size_t count = 0;
    if (!proc)
        return 0;
    while (count < max && (entry = readdir (proc))) {
        char path [300], line [512];
        if (!isdigit ((unsigned char) entry->d_name [0]))
            continue;
        snprintf (path, sizeof (path), "/proc/%s/stat", entry->d_name);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            continue;
        ssize_t len = read (fd, line, sizeof (line) - 1);
        close (fd);
        if (len <= 0)
            continue;
        line [len] = 0;
        /* pid (comm) state ppid pgrp ...: comm may hold anything */
        char *after = strrchr (line, ')');
        long pid = strtol (line, NULL, 10), ppid, pgrp;
        char state;
        if (!after || sscanf (after + 1, " %c %ld %ld", &state, &ppid, &pgrp) != 3)
            continue;
        if (pgrp == pid && s_is_worker (children, (pid_t) ppid))
            groups [count++] = (pid_t) pid;
    }
    closedir (proc);
    return count;
}

/* --halt now: ends every command the local workers run, with what it
   started (its process group): the stages are told to stop (a stopped
   worker takes no new task), then each command group found gets SIGTERM
   and, S_HALT_GRACE_MS later, SIGKILL, as GNU parallel kills its running
   jobs; again until the workers are gone (one may have been starting a
   command), for at most S_STOP_GRACE_MS. */
static void
s_kill_commands (s_children_t *children)
{
    pid_t groups [S_MAX_COMMANDS];
    int64_t deadline = ff_clock_ms () + S_STOP_GRACE_MS;
    s_signal_all (children, SIGTERM);
    while (s_running (children) && ff_clock_ms () < deadline) {
        size_t count = s_find_commands (children, groups, S_MAX_COMMANDS), index;
        for (index = 0; index < count; index++)
            kill (-groups [index], SIGTERM);
        s_reap (children, count? S_HALT_GRACE_MS: 20, 1);
        for (index = 0; index < count; index++)
            kill (-groups [index], SIGKILL);
    }
}

/* --halt soon: no new command starts (a stopped worker takes no task)
   and the running ones end by themselves, as GNU parallel waits for its
   running jobs; a signal cuts the wait short. */
static void
s_finish_commands (s_children_t *children)
{
    pid_t groups [S_MAX_COMMANDS];
    s_signal_all (children, SIGTERM);
    while (!ff_stop_signal && s_running (children)
           && s_find_commands (children, groups, S_MAX_COMMANDS) > 0)
        s_reap (children, S_WAIT_STEP_MS, 0);
}

/* ------------------------------------------------------------ the run */

/* Replaces the workers that died, while the ventilator runs, up to limit
   replacements in all. */
static void
s_respawn (s_children_t *children, const ff_stages_t *stages, int limit)
{
    while (children->respawn_wanted > 0 && children->ventilator_status < 0
           && children->respawned < limit) {
        children->respawn_wanted--;
        children->respawned++;
        s_adopt (children, s_spawn_worker (stages, s_single_threaded ()));
        if (children->respawned == limit)
            ff_log_error ("workers keep dying: %d replaced, no more", limit);
    }
}

/* Waits until the sink and the ventilator have both exited, a stage
   failed, or a signal came. A stage that fails, at its start or later,
   has said why on stderr; this adds that the job stops. The sink leaves
   after the ventilator's `end`, so a sink that ended well while the
   ventilator still runs after S_SINK_GONE_GRACE_MS ended before the job
   did (it could not start, or its output failed: its exit status alone
   does not tell, as it may count failed tasks). A sink killed by a
   signal stops the job at once; one whose output's reader left, quietly. */
static void
s_wait_for_job (s_children_t *children, const ff_stages_t *stages)
{
    int limit = S_RESPAWN_PER_WORKER * stages->workers + S_RESPAWN_BASE;
    int64_t sink_gone = -1;
    while (!ff_stop_signal && (children->sink_status < 0 || children->ventilator_status < 0)) {
        s_reap (children, S_WAIT_STEP_MS, 0);
        s_respawn (children, stages, limit);
        s_tell_over (children);
        if (children->ventilator_status > 0 && children->sink_status < 0) {
            ff_log_error ("the ventilator failed (exit %d); stopping", children->ventilator_status);
            return;
        }
        if (children->worker_failed) {
            ff_log_error ("a worker could not start (exit %d); stopping", children->worker_failed);
            return;
        }
        if (children->sink_status < 0 || children->ventilator_status >= 0)
            continue;
        /* the sink is gone, the ventilator runs */
        if (children->sink_status == FF_EXIT_PIPE_CLOSED || stages->halt != FF_HALT_NEVER)
            return;                 /* the output's reader left, or --halt: quietly */
        if (children->sink_status >= FF_EXIT_CANNOT_RUN) {
            ff_log_error ("the sink failed (exit %d); stopping", children->sink_status);
            return;
        }
        if (sink_gone < 0)
            sink_gone = ff_clock_ms ();
        else
        if (ff_clock_ms () - sink_gone >= (children->sink_status == FF_EXIT_OK
                                           ? S_SINK_DONE_GRACE_MS: S_SINK_GONE_GRACE_MS)) {
            ff_log_error ("the sink ended (exit %d) while the ventilator still runs; stopping",
                          children->sink_status);
            return;
        }
    }
}

int
ff_supervisor_run (const ff_stages_t *stages)
{
    s_children_t children;
    int index, rc = FF_EXIT_ERROR;
    memset (&children, 0, sizeof (children));
    children.sink_status = children.ventilator_status = -1;
    /* one thread here: the stages may be forked, not exec'd */
    int may_fork = s_single_threaded ();
    if (may_fork && (s_worker_entry || s_sink_entry || s_ventilator_entry))
        s_warm_children ();
    /* the ventilator first: its start is the longest, and every other
       stage waits for it */
    children.ventilator = s_spawn_stage (stages->ventilator, 1, 0, stages->ventilator_listener,
                                         s_ventilator_entry, may_fork);
    s_adopt (&children, children.ventilator);
    /* each listening socket is its stage's now, and only its: with no
       copy left here or in a later child, a peer that connects after the
       stage died is refused, not kept waiting */
    if (stages->ventilator_listener >= 0)
        close (stages->ventilator_listener);
    children.sink = s_spawn_stage (stages->sink, 0, 1, stages->sink_listener, s_sink_entry,
                                   may_fork);
    s_adopt (&children, children.sink);
    if (stages->sink_listener >= 0)
        close (stages->sink_listener);
    int64_t spawn_us = ff_clock_us ();
    for (index = 0; index < stages->workers; index++)
        s_adopt (&children, s_spawn_worker (stages, may_fork));
    spawn_us = ff_clock_us () - spawn_us;
    if (children.sink <= 0 || children.ventilator <= 0)
        ff_log_error ("cannot start the stages: %s", strerror (errno));
    else {
        ff_log_info ("sink %d, ventilator %d, %d workers (started in %.3f s)",
                     (int) children.sink, (int) children.ventilator, stages->workers,
                     spawn_us / 1e6);
        s_wait_for_job (&children, stages);
        /* --halt: the sink ended the job, or ended after it */
        int halted = stages->halt != FF_HALT_NEVER && children.sink_status >= 0
                  && children.ventilator_status <= 0;
        rc = children.worker_failed? FF_EXIT_ERROR
           : halted? children.sink_status
           : ff_supervisor_status (children.sink_status, children.ventilator_status);
        if (halted && stages->halt == FF_HALT_NOW && children.ventilator_status < 0)
            s_kill_commands (&children);
        if (halted && stages->halt == FF_HALT_SOON && children.ventilator_status < 0)
            s_finish_commands (&children);
        /* workers leave by themselves at the job's end, told by the
           ventilator; one that had not joined yet, or joined as it ended,
           was told by SIGUSR1 (s_tell_over). They get a moment, then are
           stopped */
        s_tell_over (&children);
        int64_t grace_end = ff_clock_ms () + S_END_GRACE_MS;
        while (s_running (&children) && !ff_stop_signal && ff_clock_ms () < grace_end)
            s_reap (&children, (int) (grace_end - ff_clock_ms ()), 0);
    }
    /* a hang-up may be followed by a kill: the run's files go first */
    if (ff_stop_signal && stages->on_signal)
        stages->on_signal (stages->on_signal_arg);
    s_stop_all (&children, S_STOP_GRACE_MS);
    /* forked stages run no timing wrapper: what each used, for -v and
       bench/cpu.py */
    ff_log_info ("cpu: ventilator %.3f s, sink %.3f s, workers %.3f s (user + system, every thread)",
                 children.cpu_ventilator, children.cpu_sink, children.cpu_workers);
    s_warm_end ();
    if (ff_stop_signal)
        rc = FF_EXIT_SIGNAL_BASE + ff_stop_signal;
    return rc;
}
