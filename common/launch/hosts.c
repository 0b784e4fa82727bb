/*  Workers on other hosts; see hosts.h and docs/CLUSTER.md. Organised as:
    SPEC parsing, small helpers (memfds, addresses, the job's text), the
    launcher side (keys, topology, the connection manager), and the remote
    launcher (`fanfold remote-workers`). */

#include "fanfold/launch/hosts.h"
#include "fanfold/launch/rundir.h"
#include "fanfold/launch/supervisor.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <arpa/inet.h>
#include <czmq.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define S_MAGIC "fanfold-job 1"     /* first line of what a remote launcher reads */
#define S_JOB_MAX 65536             /* longest job text */
#define S_READ_JOB_MS 15000         /* a remote launcher waits this long for its job */
#define S_REACH_MS 8000             /* ... and this long for the stages to answer */
#define S_STOP_GRACE_MS 3000        /* SIGTERM to SIGKILL */
#define S_LINK_GRACE_MS 1000        /* stdin closed to SIGKILL of a connection (a
                                       host cut off never answers the close) */
#define S_MAX_ARGS 64               /* words of an ssh or srun command line */
#define S_RESPAWN_MAX 20            /* replacements of crashed workers, per host */

/* ---------------------------------------------------------- SPEC */

/* Trims blanks at both ends of text, in place. */
static char *
s_trim (char *text)
{
    while (isspace ((unsigned char) *text))
        text++;
    size_t len = strlen (text);
    while (len && isspace ((unsigned char) text [len - 1]))
        text [--len] = 0;
    return text;
}

int
ff_hosts_parse (const char *spec, ff_host_t *hosts, int max, char *error, size_t error_size)
{
    char *copy = strdup (spec), *save = NULL, *entry;
    int count = 0;
    if (!copy) {
        snprintf (error, error_size, "out of memory");
        return -1;
    }
    for (entry = strtok_r (copy, ",", &save); entry; entry = strtok_r (NULL, ",", &save)) {
        char *text = s_trim (entry), *slash = strchr (text, '/');
        ff_host_t host = { .workers = 0 };
        if (!*text)
            continue;
        if (slash) {
            char *end;
            *slash = 0;
            long workers = strtol (text, &end, 10);
            if (end == text || *end || workers < 1 || workers > FF_MAX_WORKERS) {
                snprintf (error, error_size, "--hosts: \"%s/%s\": expected N/HOST with N from 1 to %d",
                          text, slash + 1, FF_MAX_WORKERS);
                goto fail;
            }
            host.workers = (int) workers;
            text = s_trim (slash + 1);
        }
        if (!*text || strlen (text) >= sizeof (host.name) || text [0] == '-'
        ||  strpbrk (text, " \t'\"\\;&|$`")) {
            snprintf (error, error_size, "--hosts: \"%s\" is not a host, user@host or :", text);
            goto fail;
        }
        snprintf (host.name, sizeof (host.name), "%s", text);
        host.local = strcmp (text, ":") == 0;
        if (count == max) {
            snprintf (error, error_size, "--hosts: more than %d hosts", max);
            goto fail;
        }
        hosts [count++] = host;
    }
    free (copy);
    if (count == 0) {
        snprintf (error, error_size, "--hosts: no host given");
        return -1;
    }
    return count;
fail:
    free (copy);
    return -1;
}

/* Reads a --hosts-file: entries one per line (or comma-separated), '#'
   starts a comment. Returns how many, or -1 with a line in error. */
static int
s_parse_file (const char *path, ff_host_t *hosts, int max, char *error, size_t error_size)
{
    FILE *file = fopen (path, "re");
    char line [1024];
    int count = 0, number = 0;
    if (!file) {
        snprintf (error, error_size, "--hosts-file %s: %s", path, strerror (errno));
        return -1;
    }
    while (fgets (line, sizeof (line), file)) {
        number++;
        line [strcspn (line, "#\r\n")] = 0;
        if (!*s_trim (line))
            continue;
        int got = ff_hosts_parse (line, hosts + count, max - count, error, error_size);
        if (got < 0) {
            size_t len = strlen (error);
            snprintf (error + len, error_size - len, " (%s:%d)", path, number);
            fclose (file);
            return -1;
        }
        count += got;
    }
    fclose (file);
    if (count == 0)
        snprintf (error, error_size, "--hosts-file %s: no host in it", path);
    return count? count: -1;
}

/* ---------------------------------------------------------- helpers */

/* An anonymous file holding text, inherited by children (no close-on-exec):
   its path /proc/self/fd/N is the same in them. Returns the fd, or -1. */
static int
s_memfd (const char *name, const char *text)
{
    int fd = memfd_create (name, 0);
    if (fd < 0)
        return -1;
    size_t len = strlen (text), done = 0;
    while (done < len) {
        ssize_t put = write (fd, text + done, len - done);
        if (put <= 0) {
            close (fd);
            return -1;
        }
        done += (size_t) put;
    }
    return fd;
}

/* The text of a czmq certificate file: public key, and secret when given. */
static char *
s_cert_text (const char *name, const char *public_key, const char *secret_key)
{
    return zsys_sprintf ("#   fanfold job certificate (this job only)\n"
                         "metadata\n    name = \"%s\"\ncurve\n    public-key = \"%s\"\n%s%s%s",
                         name, public_key, secret_key? "    secret-key = \"": "",
                         secret_key? secret_key: "", secret_key? "\"\n": "");
}

/* Appends every section of root but the ones named in skip (NULL-ended)
   as ZPL to text. Returns the new text (the old one is freed), or NULL. */
static char *
s_sections (char *text, zconfig_t *root, const char *const *skip)
{
    zconfig_t *section, *item;
    for (section = zconfig_child (root); section && text; section = zconfig_next (section)) {
        const char *name = zconfig_name (section);
        int skipped = 0, index;
        for (index = 0; skip && skip [index]; index++)
            skipped |= strcmp (name, skip [index]) == 0;
        if (skipped)
            continue;
        char *more = zsys_sprintf ("%s%s\n", text, name);
        free (text);
        text = more;
        for (item = zconfig_child (section); item && text; item = zconfig_next (item)) {
            const char *value = zconfig_value (item);
            more = zsys_sprintf ("%s    %s = \"%s\"\n", text, zconfig_name (item),
                                 value? value: "");
            free (text);
            text = more;
        }
    }
    return text;
}

/* Splits the port off a tcp bind endpoint (tcp://HOST:PORT). Returns the
   port, or -1 when it is not a fixed one. */
static int
s_endpoint_port (const char *endpoint)
{
    const char *colon = endpoint? strrchr (endpoint, ':'): NULL;
    if (!colon || strncmp (endpoint, "tcp://", 6) != 0)
        return -1;
    char *end;
    long port = strtol (colon + 1, &end, 10);
    return end != colon + 1 && !*end && port > 0 && port < 65536? (int) port: -1;
}

/* A tcp port free on this host now (the stages bind it a moment later). */
static int
s_free_port (void)
{
    struct sockaddr_in address = { .sin_family = AF_INET };
    socklen_t len = sizeof (address);
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), port = -1;
    if (fd < 0)
        return -1;
    if (bind (fd, (struct sockaddr *) &address, len) == 0
    &&  getsockname (fd, (struct sockaddr *) &address, &len) == 0)
        port = ntohs (address.sin_port);
    close (fd);
    return port;
}

/* The address of this host on the route to name (an IPv4 host or name).
   Returns 0 with it in out, or -1. */
static int
s_route_address (const char *name, char *out, size_t size)
{
    struct addrinfo hints = { .ai_family = AF_INET, .ai_socktype = SOCK_DGRAM }, *found = NULL;
    if (getaddrinfo (name, "9", &hints, &found) != 0 || !found)
        return -1;
    struct sockaddr_in local;
    socklen_t len = sizeof (local);
    int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0), rc = -1;
    if (fd >= 0 && connect (fd, found->ai_addr, found->ai_addrlen) == 0
    &&  getsockname (fd, (struct sockaddr *) &local, &len) == 0
    &&  inet_ntop (AF_INET, &local.sin_addr, out, (socklen_t) size)
    &&  strncmp (out, "127.", 4) != 0)
        rc = 0;
    if (fd >= 0)
        close (fd);
    freeaddrinfo (found);
    return rc;
}

/* The first IPv4 address of an interface that is up and not loopback. */
static int
s_first_address (char *out, size_t size)
{
    struct ifaddrs *list, *at;
    int rc = -1;
    if (getifaddrs (&list) != 0)
        return -1;
    for (at = list; at && rc; at = at->ifa_next)
        if (at->ifa_addr && at->ifa_addr->sa_family == AF_INET
        &&  (at->ifa_flags & IFF_UP) && !(at->ifa_flags & IFF_LOOPBACK)
        &&  inet_ntop (AF_INET, &((struct sockaddr_in *) at->ifa_addr)->sin_addr, out,
                       (socklen_t) size))
            rc = 0;
    freeifaddrs (list);
    return rc;
}

/* Splits command (blanks between words, no quoting) into argv after
   *argc words. Returns 0, or -1 when it does not fit. */
static int
s_split_words (char *command, char **argv, int *argc, int max)
{
    char *save = NULL, *word;
    for (word = strtok_r (command, " \t", &save); word; word = strtok_r (NULL, " \t", &save)) {
        if (*argc + 1 >= max)
            return -1;
        argv [(*argc)++] = word;
    }
    argv [*argc] = NULL;
    return 0;
}

/* The ssh command: $FANFOLD_SSH (words, like GNU parallel's --ssh), or ssh. */
static const char *
s_ssh_command (void)
{
    const char *command = getenv ("FANFOLD_SSH");
    return command && *command? command: "ssh";
}

/* The address ssh would connect to for name (an alias of ssh_config is
   resolved with `ssh -G`). Returns 0 with it in out, or -1. */
static int
s_ssh_hostname (const char *name, char *out, size_t size)
{
    char *command = zsys_sprintf ("%s -G '%s' 2>/dev/null", s_ssh_command (), name);
    FILE *stream = command? popen (command, "re"): NULL;
    char line [512];
    int rc = -1;
    free (command);
    if (!stream)
        return -1;
    while (fgets (line, sizeof (line), stream))
        if (rc && strncmp (line, "hostname ", 9) == 0) {
            line [strcspn (line, "\r\n")] = 0;
            if (strlen (line + 9) < size) {
                memcpy (out, line + 9, strlen (line + 9) + 1);
                rc = 0;
            }
        }
    pclose (stream);
    return rc;
}

/* ---------------------------------------------------- the launcher side */

/* One connection: an ssh or srun process and its pipes. */
typedef struct {
    char name [FF_HOSTS_NAME_MAX];  /* the host, as the user named it */
    pid_t pid;                      /* ssh or srun, 0 once reaped */
    int input;                      /* its stdin (the job, then the liveness), or -1 */
    int output;                     /* its stdout and stderr, or -1 */
    char line [1024];               /* the output line being read */
    size_t line_len;                /* bytes of it */
} s_link_t;

struct ff_hosts {
    pid_t manager;                  /* the process that holds the connections */
    int fds [3];                    /* memfds: server secret, server public, client secret */
    char rundir [PATH_MAX - 64];    /* 0700 directory of allowed/ and the topology */
    char allowed_cert [PATH_MAX];   /* allowed/job.cert (the job's client public key) */
    char topology [64];             /* /proc/self/fd/N of the job's topology */
    int topology_fd;                /* its memfd */
};

/* What the manager needs: the hosts and the job text they are sent. */
typedef struct {
    ff_host_t hosts [FF_HOSTS_MAX]; /* the remote ones */
    int count;                      /* how many */
    const char *job;                /* the job text each remote launcher reads */
    const char *remote_bin;         /* fanfold on the hosts */
    int slurm;                      /* 1: srun per node; 0: ssh per host */
    int verbose;                    /* -v */
} s_plan_t;

/* Writes all of text to fd (a pipe). Returns 0 or -1. */
static int
s_write_all (int fd, const char *text, size_t len)
{
    while (len) {
        ssize_t put = write (fd, text, len);
        if (put < 0 && errno == EINTR)
            continue;
        if (put <= 0)
            return -1;
        text += put;
        len -= (size_t) put;
    }
    return 0;
}

/* Starts the connection of one host: ssh (or srun) running the remote
   launcher, its stdin and output on pipes. Returns 0 or -1. */
static int
s_link_start (s_link_t *link, const s_plan_t *plan, const ff_host_t *host)
{
    int in [2], out [2];
    char command [1024], count [16], quoted [PATH_MAX + 8];
    char *argv [S_MAX_ARGS];
    int argc = 0;
    snprintf (link->name, sizeof (link->name), "%s", host->name);
    link->input = link->output = -1;
    if (host->workers)
        snprintf (count, sizeof (count), "%d", host->workers);
    else
        snprintf (count, sizeof (count), "auto");
    if (plan->slurm) {
        /* one step per node, sharing the allocation with the batch step;
           its CPUs are the node's, for the workers it starts */
        snprintf (command, sizeof (command), "srun --nodes=1 --ntasks=1 --overlap "
                  "--kill-on-bad-exit=0 --quiet --cpus-per-task=%d", host->cpus > 0? host->cpus: 1);
        s_split_words (command, argv, &argc, S_MAX_ARGS);
        argv [argc++] = "--nodelist";
        argv [argc++] = link->name;
        argv [argc++] = (char *) plan->remote_bin;
    }
    else {
        snprintf (command, sizeof (command), "%s", s_ssh_command ());
        if (s_split_words (command, argv, &argc, S_MAX_ARGS - 12))
            return -1;
        argv [argc++] = "-T";
        argv [argc++] = "-x";
        argv [argc++] = "-o";
        argv [argc++] = "BatchMode=yes";
        argv [argc++] = "-o";
        argv [argc++] = "ConnectTimeout=10";
        argv [argc++] = "-o";
        argv [argc++] = "ServerAliveInterval=5";
        argv [argc++] = link->name;
        /* the remote shell reads this one word: quote it */
        snprintf (quoted, sizeof (quoted), "'%s'", plan->remote_bin);
        argv [argc++] = quoted;
    }
    argv [argc++] = "remote-workers";
    argv [argc++] = count;
    if (plan->verbose)
        argv [argc++] = "-v";
    argv [argc] = NULL;
    if (pipe2 (in, O_CLOEXEC) != 0)
        return -1;
    if (pipe2 (out, O_CLOEXEC) != 0) {
        close (in [0]);
        close (in [1]);
        return -1;
    }
    link->pid = fork ();
    if (link->pid == 0) {
        dup2 (in [0], STDIN_FILENO);
        dup2 (out [1], STDOUT_FILENO);
        dup2 (out [1], STDERR_FILENO);
        signal (SIGINT, SIG_DFL);
        signal (SIGTERM, SIG_DFL);
        execvp (argv [0], argv);
        fprintf (stderr, "cannot run %s: %s\n", argv [0], strerror (errno));
        _exit (FF_EXIT_CANNOT_RUN);
    }
    close (in [0]);
    close (out [1]);
    link->input = in [1];
    link->output = out [0];
    if (link->pid < 0) {
        close (link->input);
        close (link->output);
        link->input = link->output = -1;
        return -1;
    }
    fcntl (link->output, F_SETFL, O_NONBLOCK);
    char header [64];
    snprintf (header, sizeof (header), S_MAGIC " %zu\n", strlen (plan->job));
    if (s_write_all (link->input, header, strlen (header))
    ||  s_write_all (link->input, plan->job, strlen (plan->job)))
        ff_log_error ("%s: cannot send the job to its connection", link->name);
    return 0;
}

/* Reads what a connection printed; says each line, naming the host. */
static void
s_link_read (s_link_t *link)
{
    char buffer [4096];
    ssize_t got;
    while ((got = read (link->output, buffer, sizeof (buffer))) > 0) {
        ssize_t index;
        for (index = 0; index < got; index++) {
            char c = buffer [index];
            if (c == '\n' || link->line_len + 1 == sizeof (link->line)) {
                link->line [link->line_len] = 0;
                if (link->line_len)
                    ff_log_error ("host %s: %s", link->name, link->line);
                link->line_len = 0;
            }
            if (c != '\n')
                link->line [link->line_len++] = c;
        }
    }
    if (got == 0 || (got < 0 && errno != EAGAIN && errno != EINTR)) {
        close (link->output);
        link->output = -1;
    }
}

/* The manager: holds one connection per host until SIGTERM (or the
   launcher's end), saying what each host reports and when one fails. */
static void
s_manage (const s_plan_t *plan)
{
    s_link_t *links = (s_link_t *) calloc ((size_t) plan->count, sizeof (s_link_t));
    int index, live = 0, stopping = 0;
    int64_t deadline = 0;
    if (!links)
        _exit (FF_EXIT_OK);
    for (index = 0; index < plan->count; index++) {
        if (s_link_start (&links [index], plan, &plan->hosts [index]))
            ff_log_error ("host %s: cannot start its connection: %s", plan->hosts [index].name,
                          strerror (errno));
        else
            live++;
    }
    while (live > 0) {
        struct pollfd items [FF_HOSTS_MAX];
        int nitems = 0;
        for (index = 0; index < plan->count; index++)
            if (links [index].output >= 0) {
                items [nitems].fd = links [index].output;
                items [nitems].events = POLLIN;
                nitems++;
            }
        poll (items, (nfds_t) nitems, 100);
        for (index = 0; index < plan->count; index++)
            if (links [index].output >= 0)
                s_link_read (&links [index]);
        int status;
        pid_t pid;
        while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
            for (index = 0; index < plan->count; index++)
                if (links [index].pid == pid) {
                    s_link_t *link = &links [index];
                    if (link->output >= 0)
                        s_link_read (link);
                    int code = WIFEXITED (status)? WEXITSTATUS (status)
                                                 : FF_EXIT_SIGNAL_BASE + WTERMSIG (status);
                    if (!stopping && code != FF_EXIT_OK)
                        ff_log_error ("host %s: its workers are not in the job (%s exited %d); "
                                      "the job goes on with the other hosts", link->name,
                                      plan->slurm? "srun": "ssh", code);
                    link->pid = 0;
                    if (link->input >= 0)
                        close (link->input);
                    link->input = -1;
                    live--;
                }
        if (ff_stop_signal && !stopping) {
            /* closing stdin stops the remote workers; then the connections */
            stopping = 1;
            deadline = ff_clock_ms () + S_LINK_GRACE_MS;
            for (index = 0; index < plan->count; index++)
                if (links [index].input >= 0) {
                    close (links [index].input);
                    links [index].input = -1;
                }
        }
        if (stopping && deadline && ff_clock_ms () >= deadline) {
            for (index = 0; index < plan->count; index++)
                if (links [index].pid > 0)
                    kill (links [index].pid, SIGKILL);
            deadline = 0;
        }
    }
    for (index = 0; index < plan->count; index++)
        if (links [index].output >= 0)
            close (links [index].output);
    free (links);
}

/* The nodes of the Slurm allocation and the workers of each: one per
   allocated CPU (SLURM_JOB_CPUS_PER_NODE, "2(x3),4"), divided by
   SLURM_CPUS_PER_TASK, or SLURM_NTASKS_PER_NODE when given. Returns how
   many nodes, or -1 with a line in error. */
static int
s_slurm_nodes (ff_host_t *hosts, int max, char *error, size_t error_size)
{
    const char *nodelist = getenv ("SLURM_JOB_NODELIST");
    if (!nodelist || !*nodelist) {
        snprintf (error, error_size, "--slurm: not inside a Slurm allocation (no SLURM_JOB_NODELIST): "
                                     "use sbatch or salloc");
        return -1;
    }
    char *command = zsys_sprintf ("scontrol show hostnames '%s'", nodelist);
    FILE *stream = command? popen (command, "re"): NULL;
    char line [FF_HOSTS_NAME_MAX];
    int count = 0;
    free (command);
    if (!stream) {
        snprintf (error, error_size, "--slurm: cannot run scontrol");
        return -1;
    }
    while (count < max && fgets (line, sizeof (line), stream)) {
        line [strcspn (line, "\r\n")] = 0;
        if (!*line)
            continue;
        snprintf (hosts [count].name, sizeof (hosts [count].name), "%s", line);
        hosts [count].local = 0;
        hosts [count].workers = 0;
        hosts [count].cpus = 0;
        count++;
    }
    pclose (stream);
    if (count == 0) {
        snprintf (error, error_size, "--slurm: scontrol named no node of %s", nodelist);
        return -1;
    }
    const char *per_node = getenv ("SLURM_NTASKS_PER_NODE");
    const char *cpus = getenv ("SLURM_JOB_CPUS_PER_NODE");
    const char *per_task = getenv ("SLURM_CPUS_PER_TASK");
    long divide = per_task? strtol (per_task, NULL, 10): 1, fixed = per_node? strtol (per_node, NULL, 10): 0;
    int node = 0;
    if (divide < 1)
        divide = 1;
    while (cpus && *cpus && node < count) {
        char *end;
        long value = strtol (cpus, &end, 10), repeat = 1;
        if (end == cpus)
            break;
        if (strncmp (end, "(x", 2) == 0)
            repeat = strtol (end + 2, &end, 10), end += *end == ')';
        for (; repeat > 0 && node < count; repeat--) {
            hosts [node].cpus = (int) value;
            hosts [node++].workers = (int) (value / divide > 0? value / divide: 1);
        }
        cpus = *end == ','? end + 1: end;
    }
    for (node = 0; node < count; node++)
        if (fixed > 0)
            hosts [node].workers = (int) fixed;
    return count;
}

/* The address the remote workers reach this host at: the route to the
   first remote host, else the first address of an interface. */
static int
s_here_address (const ff_host_t *hosts, int count, int slurm, char *out, size_t size)
{
    int index;
    for (index = 0; index < count && !slurm; index++) {
        char name [FF_HOSTS_NAME_MAX];
        if (hosts [index].local || s_ssh_hostname (hosts [index].name, name, sizeof (name)))
            continue;
        if (s_route_address (name, out, size) == 0)
            return 0;
    }
    return s_first_address (out, size);
}

/* Writes the job's topology sections (everything but security) from the
   file the user gave, or a default on address. Returns the text or NULL. */
static char *
s_job_sections (const ff_run_options_t *run, const char *address, char *error, size_t error_size)
{
    const char *given = ff_options_text (run->options, FF_OPT_TOPOLOGY, NULL);
    if (!given) {
        int control = s_free_port (), results = s_free_port ();
        if (control < 0 || results < 0 || control == results) {
            snprintf (error, error_size, "cannot find free tcp ports");
            return NULL;
        }
        return zsys_sprintf ("#   fanfold job topology (--hosts)\n"
                             "ventilator\n    host = \"%s\"\n    control = \"tcp://*:%d\"\n"
                             "    tasks = \"tcp://*:*\"\nsink\n    host = \"%s\"\n"
                             "    results = \"tcp://*:%d\"\n",
                             address, control, address, results);
    }
    zconfig_t *root = zconfig_load (given);
    if (!root) {
        snprintf (error, error_size, "%s: cannot read the topology", given);
        return NULL;
    }
    const char *control = zconfig_get (root, "ventilator/control", "");
    const char *results = zconfig_get (root, "sink/results", "");
    if (s_endpoint_port (control) < 0 || s_endpoint_port (results) < 0) {
        snprintf (error, error_size, "%s: with --hosts, ventilator/control and sink/results must be "
                  "tcp endpoints with fixed ports", given);
        zconfig_destroy (&root);
        return NULL;
    }
    const char *skip [] = { "security", NULL };
    char *text = s_sections (strdup ("#   fanfold job topology (--hosts, from -t)\n"), root, skip);
    zconfig_destroy (&root);
    return text;
}

void
ff_hosts_stop (ff_hosts_t **self_p)
{
    if (self_p && *self_p) {
        ff_hosts_t *self = *self_p;
        int index;
        if (self->manager > 0) {
            kill (self->manager, SIGTERM);
            int64_t deadline = ff_clock_ms () + S_STOP_GRACE_MS + 1000;
            while (waitpid (self->manager, NULL, WNOHANG) == 0 && ff_clock_ms () < deadline)
                usleep (10000);
            if (kill (self->manager, 0) == 0) {
                kill (self->manager, SIGKILL);
                waitpid (self->manager, NULL, 0);
            }
        }
        for (index = 0; index < 3; index++)
            if (self->fds [index] >= 0)
                close (self->fds [index]);
        if (self->topology_fd >= 0)
            close (self->topology_fd);
        if (*self->allowed_cert) {
            char allowed [PATH_MAX];
            unlink (self->allowed_cert);
            snprintf (allowed, sizeof (allowed), "%s/allowed", self->rundir);
            rmdir (allowed);
        }
        if (*self->rundir)
            ff_rundir_remove (self->rundir);
        free (self);
        *self_p = NULL;
    }
}

int
ff_hosts_start (ff_run_options_t *run, ff_hosts_t **self_p)
{
    static s_plan_t plan;           /* read by the manager after fork */
    ff_hosts_t *self = NULL;
    zcert_t *server = NULL, *client = NULL;
    char error [512] = "", address [INET_ADDRSTRLEN + 1] = "", path [PATH_MAX];
    char *sections = NULL, *text = NULL, *job = NULL;
    ff_host_t all [FF_HOSTS_MAX];
    int count, index, local = 0, rc = -1;
    const char *spec = ff_options_text (run->options, FF_OPT_HOSTS, NULL);
    const char *file = ff_options_text (run->options, FF_OPT_HOSTS_FILE, NULL);
    int slurm = ff_options_given (run->options, FF_OPT_SLURM) > 0;

    *self_p = NULL;
    if (!spec && !file && !slurm)
        return 0;
    if (!!spec + !!file + slurm > 1) {
        ff_log_error ("--hosts, --hosts-file and --slurm exclude each other");
        return -1;
    }
    count = slurm? s_slurm_nodes (all, FF_HOSTS_MAX, error, sizeof (error))
          : file? s_parse_file (file, all, FF_HOSTS_MAX, error, sizeof (error))
          : ff_hosts_parse (spec, all, FF_HOSTS_MAX, error, sizeof (error));
    if (count < 0)
        goto done;
    memset (&plan, 0, sizeof (plan));
    for (index = 0; index < count; index++) {
        if (all [index].local)
            local += all [index].workers? all [index].workers: (int) sysconf (_SC_NPROCESSORS_ONLN);
        else
            plan.hosts [plan.count++] = all [index];
    }
    if (!ff_options_given (run->options, FF_OPT_WORKERS))
        run->workers = local;
    if (s_here_address (all, count, slurm, address, sizeof (address))) {
        snprintf (error, sizeof (error), "cannot tell this host's address: run with -t TOPOLOGY "
                  "naming ventilator/host and sink/host");
        goto done;
    }
    if (!(self = (ff_hosts_t *) calloc (1, sizeof (ff_hosts_t))))
        goto nomem;
    self->fds [0] = self->fds [1] = self->fds [2] = self->topology_fd = -1;
    /* the job's keys: one server pair, one client pair, this job only */
    server = zcert_new ();
    client = zcert_new ();
    if (!server || !client)
        goto nomem;
    char *server_secret = s_cert_text ("fanfold job server", zcert_public_txt (server),
                                       zcert_secret_txt (server));
    char *server_public = s_cert_text ("fanfold job server", zcert_public_txt (server), NULL);
    char *client_secret = s_cert_text ("fanfold job client", zcert_public_txt (client),
                                       zcert_secret_txt (client));
    char *client_public = s_cert_text ("fanfold job client", zcert_public_txt (client), NULL);
    if (server_secret && server_public && client_secret) {
        self->fds [0] = s_memfd ("fanfold-server-secret", server_secret);
        self->fds [1] = s_memfd ("fanfold-server-public", server_public);
        self->fds [2] = s_memfd ("fanfold-client-secret", client_secret);
    }
    zstr_free (&server_secret);
    zstr_free (&server_public);
    zstr_free (&client_secret);
    int public_ok = 0;
    /* the allowed directory holds the one client public key of the job */
    if (ff_rundir_create (self->rundir, sizeof (self->rundir), error, sizeof (error)) == 0
    &&  snprintf (path, sizeof (path), "%s/allowed", self->rundir) < (int) sizeof (path)
    &&  mkdir (path, 0700) == 0
    &&  snprintf (self->allowed_cert, sizeof (self->allowed_cert), "%s/job.cert", path)
        < (int) sizeof (self->allowed_cert) && client_public) {
        FILE *stream = fopen (self->allowed_cert, "we");
        public_ok = stream && fputs (client_public, stream) >= 0;
        if (stream && fclose (stream))
            public_ok = 0;
    }
    zstr_free (&client_public);
    if (!public_ok || self->fds [0] < 0 || self->fds [1] < 0 || self->fds [2] < 0) {
        if (!*error)
            snprintf (error, sizeof (error), "cannot write the job's keys: %s", strerror (errno));
        goto done;
    }
    sections = s_job_sections (run, address, error, sizeof (error));
    if (!sections)
        goto done;
    text = zsys_sprintf ("%ssecurity\n    server_secret = \"/proc/self/fd/%d\"\n"
                         "    server_public = \"/proc/self/fd/%d\"\n"
                         "    client_secret = \"/proc/self/fd/%d\"\n    allowed = \"%s/allowed\"\n",
                         sections, self->fds [0], self->fds [1], self->fds [2], self->rundir);
    job = zsys_sprintf ("%skeys\n    server_public = \"%s\"\n    client_public = \"%s\"\n"
                        "    client_secret = \"%s\"\n", sections, zcert_public_txt (server),
                        zcert_public_txt (client), zcert_secret_txt (client));
    if (!text || !job)
        goto nomem;
    self->topology_fd = s_memfd ("fanfold-topology", text);
    snprintf (self->topology, sizeof (self->topology), "/proc/self/fd/%d", self->topology_fd);
    if (self->topology_fd < 0
    ||  ff_options_set (run->options, FF_OPT_TOPOLOGY, self->topology, error, sizeof (error)))
        goto done;
    ff_log_info ("%d hosts, %d local workers; stages on %s", plan.count, run->workers, address);
    plan.job = job;
    plan.remote_bin = ff_options_text (run->options, FF_OPT_REMOTE_BIN, "fanfold");
    plan.slurm = slurm;
    plan.verbose = run->verbose;
    self->manager = fork ();
    if (self->manager == 0) {
        /* the connections need no key file: only the job text */
        prctl (PR_SET_PDEATHSIG, SIGTERM);
        for (index = 0; index < 3; index++)
            close (self->fds [index]);
        close (self->topology_fd);
        /* the job's input and output are the stages': let them go */
        int null = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        if (null >= 0) {
            dup2 (null, STDIN_FILENO);
            close (null);
        }
        dup2 (STDERR_FILENO, STDOUT_FILENO);
        s_manage (&plan);
        _exit (FF_EXIT_OK);
    }
    if (self->manager < 0) {
        snprintf (error, sizeof (error), "cannot fork: %s", strerror (errno));
        goto done;
    }
    rc = 0;
    goto done;
nomem:
    snprintf (error, sizeof (error), "out of memory");
done:
    if (rc && *error)
        ff_log_error ("%s", error);
    if (rc)
        ff_hosts_stop (&self);
    zcert_destroy (&server);
    zcert_destroy (&client);
    if (job) {
        memset (job, 0, strlen (job));  /* the client secret: not left in freed memory */
        free (job);
    }
    free (text);
    free (sections);
    *self_p = self;
    return rc;
}

/* ---------------------------------------------------- the remote side */

/* Reads the job from stdin: the magic line with its length, then the
   text. Returns it (caller frees), or NULL with a line in error. */
static char *
s_read_job (char *error, size_t error_size)
{
    char header [64];
    size_t have = 0, want = 0;
    char *job = NULL;
    int64_t deadline = ff_clock_ms () + S_READ_JOB_MS;
    while (1) {
        int64_t left = deadline - ff_clock_ms ();
        struct pollfd item = { STDIN_FILENO, POLLIN, 0 };
        if (left <= 0 || ff_stop_signal) {
            snprintf (error, error_size, "no job on stdin within %d s", S_READ_JOB_MS / 1000);
            break;
        }
        if (poll (&item, 1, (int) left) <= 0)
            continue;
        if (!job) {
            /* the header, one byte at a time: what follows is the job */
            ssize_t got = read (STDIN_FILENO, header + have, 1);
            if (got <= 0) {
                snprintf (error, error_size, "stdin closed before the job came");
                break;
            }
            if (header [have] != '\n') {
                if (++have == sizeof (header)) {
                    snprintf (error, error_size, "not a fanfold job on stdin");
                    break;
                }
                continue;
            }
            header [have] = 0;
            char *end;
            if (strncmp (header, S_MAGIC " ", strlen (S_MAGIC) + 1) != 0
            ||  (want = strtoul (header + strlen (S_MAGIC) + 1, &end, 10)) == 0 || *end
            ||  want > S_JOB_MAX) {
                snprintf (error, error_size, "not a fanfold job on stdin (another fanfold version?)");
                break;
            }
            if (!(job = (char *) calloc (1, want + 1))) {
                snprintf (error, error_size, "out of memory");
                break;
            }
            have = 0;
            continue;
        }
        ssize_t got = read (STDIN_FILENO, job + have, want - have);
        if (got <= 0) {
            snprintf (error, error_size, "stdin closed in the middle of the job");
            break;
        }
        have += (size_t) got;
        if (have == want)
            return job;
    }
    free (job);
    return NULL;
}

/* Connects to host:port over tcp until it answers or deadline passes.
   Returns 0, or -1 with the last reason in error. */
static int
s_reach (const char *host, int port, int64_t deadline, char *error, size_t error_size)
{
    char service [16];
    snprintf (service, sizeof (service), "%d", port);
    error [0] = 0;
    while (1) {
        struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *found = NULL;
        int rc = getaddrinfo (host, service, &hints, &found);
        if (rc != 0) {
            snprintf (error, error_size, "cannot resolve %s: %s", host, gai_strerror (rc));
            return -1;
        }
        int fd = socket (found->ai_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        int connected = -1;
        if (fd >= 0) {
            connected = connect (fd, found->ai_addr, found->ai_addrlen);
            if (connected != 0 && errno == EINPROGRESS) {
                struct pollfd item = { fd, POLLOUT, 0 };
                int64_t left = deadline - ff_clock_ms ();
                int err = ETIMEDOUT;
                socklen_t len = sizeof (err);
                if (left > 0 && poll (&item, 1, (int) left) == 1)
                    getsockopt (fd, SOL_SOCKET, SO_ERROR, &err, &len);
                connected = err? -1: 0;
                errno = err;
            }
        }
        /* a refusal says more than the deadline that cut the last try short */
        if (connected != 0 && (errno != ETIMEDOUT || !*error))
            snprintf (error, error_size, "cannot reach the stages at %s:%d: %s", host, port,
                      strerror (errno));
        if (fd >= 0)
            close (fd);
        freeaddrinfo (found);
        if (connected == 0)
            return 0;
        if (ff_clock_ms () >= deadline || ff_stop_signal)
            return -1;
        usleep (100000);            /* the stages may not have bound yet */
    }
}

/* Checks that this host reaches the ventilator and the sink of job. */
static int
s_reach_stages (zconfig_t *job, char *error, size_t error_size)
{
    int64_t deadline = ff_clock_ms () + S_REACH_MS;
    const char *vent_host = zconfig_get (job, "ventilator/host", "localhost");
    const char *sink_host = zconfig_get (job, "sink/host", "localhost");
    int control = s_endpoint_port (zconfig_get (job, "ventilator/control", NULL));
    int results = s_endpoint_port (zconfig_get (job, "sink/results", NULL));
    if (control < 0 || results < 0) {
        snprintf (error, error_size, "the job names no tcp ports for its stages");
        return -1;
    }
    return s_reach (vent_host, control, deadline, error, error_size)
        || s_reach (sink_host, results, deadline, error, error_size)? -1: 0;
}

/* Starts one worker: fanfold-worker next to this executable. */
static pid_t
s_spawn_worker (const char *topology, int verbose)
{
    char path [PATH_MAX];
    snprintf (path, sizeof (path), "%s/fanfold-worker", ff_supervisor_bindir ());
    pid_t pid = fork ();
    if (pid != 0)
        return pid;
    prctl (PR_SET_PDEATHSIG, SIGTERM);
    signal (SIGINT, SIG_DFL);
    signal (SIGTERM, SIG_DFL);
    int null = open ("/dev/null", O_RDWR);
    if (null >= 0) {
        dup2 (null, STDIN_FILENO);
        dup2 (STDERR_FILENO, STDOUT_FILENO);
        close (null);
    }
    char *argv [] = { "fanfold-worker", "-t", (char *) topology, "--no-shm",
                      verbose? "-v": NULL, NULL };
    execv (path, argv);
    fprintf (stderr, "cannot run %s: %s\n", path, strerror (errno));
    _exit (FF_EXIT_CANNOT_RUN);
}

int
ff_hosts_remote (int argc, char *argv [])
{
    char error [512] = "", name [256] = "";
    int verbose = argc > 2 && strcmp (argv [2], "-v") == 0;
    long workers = 0;
    int index, fds [3] = { -1, -1, -1 }, rc = FF_EXIT_ERROR;
    char *job = NULL, *text = NULL, *worker_topology = NULL;
    zconfig_t *root = NULL;
    pid_t *pids = NULL;

    ff_log_init ("fanfold remote-workers", verbose);
    signal (SIGPIPE, SIG_IGN);
    gethostname (name, sizeof (name) - 1);
    if (argc < 2 || (strcmp (argv [1], "auto") != 0
                     && ((workers = strtol (argv [1], NULL, 10)) < 1 || workers > FF_MAX_WORKERS))) {
        fprintf (stderr, "usage: fanfold remote-workers N|auto [-v]  (the job comes on stdin)\n");
        return FF_EXIT_ERROR;
    }
    if (workers == 0)
        workers = sysconf (_SC_NPROCESSORS_ONLN) > 0? sysconf (_SC_NPROCESSORS_ONLN): 1;
    if (!(job = s_read_job (error, sizeof (error))))
        goto done;
    zchunk_t *chunk = zchunk_new (job, strlen (job));
    root = chunk? zconfig_chunk_load (chunk): NULL;
    zchunk_destroy (&chunk);
    const char *server_public = root? zconfig_get (root, "keys/server_public", NULL): NULL;
    const char *client_public = root? zconfig_get (root, "keys/client_public", NULL): NULL;
    const char *client_secret = root? zconfig_get (root, "keys/client_secret", NULL): NULL;
    if (!server_public || !client_public || !client_secret) {
        snprintf (error, sizeof (error), "the job on stdin has no keys");
        goto done;
    }
    if (s_reach_stages (root, error, sizeof (error)))
        goto done;
    /* the keys live in anonymous files the workers inherit: no path on
       disk, nothing on a command line or in the environment */
    char *public_text = s_cert_text ("fanfold job server", server_public, NULL);
    char *secret_text = s_cert_text ("fanfold job client", client_public, client_secret);
    if (public_text && secret_text) {
        fds [0] = s_memfd ("fanfold-server-public", public_text);
        fds [1] = s_memfd ("fanfold-client-secret", secret_text);
    }
    if (secret_text)
        memset (secret_text, 0, strlen (secret_text));
    zstr_free (&public_text);
    zstr_free (&secret_text);
    const char *skip [] = { "keys", "security", NULL };
    text = s_sections (strdup ("#   fanfold job topology (remote workers)\n"), root, skip);
    if (fds [0] < 0 || fds [1] < 0 || !text) {
        snprintf (error, sizeof (error), "cannot hold the job's keys: %s", strerror (errno));
        goto done;
    }
    worker_topology = zsys_sprintf ("%ssecurity\n    server_public = \"/proc/self/fd/%d\"\n"
                                    "    client_secret = \"/proc/self/fd/%d\"\n",
                                    text, fds [0], fds [1]);
    fds [2] = worker_topology? s_memfd ("fanfold-topology", worker_topology): -1;
    pids = (pid_t *) calloc ((size_t) workers, sizeof (pid_t));
    if (fds [2] < 0 || !pids) {
        snprintf (error, sizeof (error), "cannot write the workers' topology");
        goto done;
    }
    char topology [64];
    snprintf (topology, sizeof (topology), "/proc/self/fd/%d", fds [2]);
    for (index = 0; index < workers; index++)
        pids [index] = s_spawn_worker (topology, verbose);
    ff_log_info ("%s: %ld workers started", name, workers);

    /* until the job ends (every worker left) or the connection closes */
    int running = (int) workers, respawned = 0, stdin_open = 1;
    while (running > 0 && stdin_open && !ff_stop_signal) {
        struct pollfd item = { STDIN_FILENO, POLLIN, 0 };
        if (poll (&item, 1, 200) > 0 && (item.revents & (POLLIN | POLLHUP | POLLERR))) {
            char drain [256];
            ssize_t got = read (STDIN_FILENO, drain, sizeof (drain));
            if (got == 0 || (got < 0 && errno != EINTR && errno != EAGAIN))
                stdin_open = 0;
        }
        int status;
        pid_t pid;
        while ((pid = waitpid (-1, &status, WNOHANG)) > 0)
            for (index = 0; index < workers; index++)
                if (pids [index] == pid) {
                    int code = WIFEXITED (status)? WEXITSTATUS (status)
                                                 : FF_EXIT_SIGNAL_BASE + WTERMSIG (status);
                    pids [index] = 0;
                    running--;
                    if (code != FF_EXIT_OK && code != FF_EXIT_ERROR && respawned < S_RESPAWN_MAX) {
                        ff_log_info ("%s: worker %d ended with %d: replaced", name, (int) pid, code);
                        pids [index] = s_spawn_worker (topology, verbose);
                        running += pids [index] > 0;
                        respawned++;
                    }
                    else
                    if (code != FF_EXIT_OK)
                        ff_log_error ("%s: worker %d ended with %d", name, (int) pid, code);
                }
    }
    rc = FF_EXIT_OK;
    if (running > 0) {
        /* the connection closed, or a signal: stop the workers */
        int64_t deadline = ff_clock_ms () + S_STOP_GRACE_MS;
        for (index = 0; index < workers; index++)
            if (pids [index] > 0)
                kill (pids [index], SIGTERM);
        while (running > 0) {
            pid_t pid = waitpid (-1, NULL, WNOHANG);
            if (pid > 0) {
                for (index = 0; index < workers; index++)
                    if (pids [index] == pid) {
                        pids [index] = 0;
                        running--;
                    }
                continue;
            }
            if (pid < 0 && errno == ECHILD)
                break;
            if (ff_clock_ms () >= deadline) {
                for (index = 0; index < workers; index++)
                    if (pids [index] > 0)
                        kill (pids [index], SIGKILL);
                deadline = INT64_MAX;
            }
            usleep (10000);
        }
    }
done:
    if (rc != FF_EXIT_OK)
        ff_log_error ("%s: %s", *name? name: "this host", error);
    if (job) {
        memset (job, 0, strlen (job));
        free (job);
    }
    zconfig_destroy (&root);
    free (text);
    free (worker_topology);
    free (pids);
    for (index = 0; index < 3; index++)
        if (fds [index] >= 0)
            close (fds [index]);
    return rc;
}
