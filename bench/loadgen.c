/*  loadgen: N simulated workers that speak docs/PROTOCOL.md and answer
    every task at once (noop: the result is the payload), to measure the
    central stages alone. It runs a job's command (normally `fanfold run
    -w 0 -t TOPOLOGY ...`, which starts the sink and the ventilator and no
    worker), finds the ventilator and the sink among that command's
    children, connects WORKERS workers to TOPOLOGY from THREADS threads
    (one zmq context each), and reports:
      - tasks/s from the moment every worker joined (or joining stopped)
        to the job's end;
      - CPU µs per task of the ventilator and of the sink over that time
        (/proc/PID/task/T/schedstat, nanoseconds);
      - RSS and descriptors each stage gained per joined worker.

    Usage: loadgen -t TOPOLOGY -n WORKERS [-p PROCESSES] [-j THREADS]
                   [-l NOFILE | -s NOFILE] [-b] [-r REPORT] -- COMMAND [ARG...]
    The workers run in PROCESSES processes (default 1; each has its own
    descriptors, about 6 a worker) of THREADS / PROCESSES threads each.
    COMMAND inherits stdin and stdout (the job's input and output); with
    -l it runs with soft and hard RLIMIT_NOFILE NOFILE (as after `ulimit -n
    NOFILE`), with -s with the soft limit NOFILE (`ulimit -Sn NOFILE`).
    -b holds every task until joining is over, so that the whole job runs
    with every worker connected (tasks wait in their pipes meanwhile). Each simulated worker sends its heartbeats from its main
    control socket (PROTOCOL.md allows it), so it costs the ventilator one
    control connection and its pipe. Exit status: COMMAND's, or 2.

    Organised as: clocks and /proc, the wire (msgpack), a simulated worker,
    a thread of workers, main. */

#include <czmq.h>
#include <msgpack.h>
#include <zmq.h>

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define S_MAX_THREADS 64
#define S_MAX_PROCS 16
#define S_HELLO_MS 1000             /* a worker not welcomed says hello again */
#define S_SWEEP_MS 10               /* timers (hello, hb) are checked this often */
#define S_SETTLE_MS 2000            /* joining stopped: no welcome for this long */
#define S_JOIN_TIMEOUT_MS 120000    /* most time given to joining */
#define S_HELLO_HEARS_TASKS 4       /* hello flag (PROTOCOL.md): a task message counts as
                                       hearing the ventilator, as for fanfold-worker (a
                                       simulated worker never checks for silence) */

/* ------------------------------------------------------ clocks and /proc */

static int64_t
s_now_us (void)
{
    struct timespec now;
    clock_gettime (CLOCK_MONOTONIC, &now);
    return (int64_t) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

/* CPU time of every thread of pid, in ns; -1 when it is gone. */
static int64_t
s_cpu_ns (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/task", (int) pid);
    DIR *dir = opendir (path);
    if (!dir)
        return -1;
    int64_t total = 0;
    struct dirent *entry;
    while ((entry = readdir (dir))) {
        if (entry->d_name [0] == '.')
            continue;
        char file [320];
        snprintf (file, sizeof (file), "/proc/%d/task/%s/schedstat", (int) pid, entry->d_name);
        FILE *stream = fopen (file, "r");
        long long ns = 0;
        if (stream && fscanf (stream, "%lld", &ns) == 1)
            total += ns;
        if (stream)
            fclose (stream);
    }
    closedir (dir);
    return total;
}

/* VmRSS of pid in KiB; -1 when it is gone. */
static long
s_rss_kib (pid_t pid)
{
    char path [64], line [256];
    long kib = -1;
    snprintf (path, sizeof (path), "/proc/%d/status", (int) pid);
    FILE *stream = fopen (path, "r");
    if (!stream)
        return -1;
    while (fgets (line, sizeof (line), stream))
        if (sscanf (line, "VmRSS: %ld", &kib) == 1)
            break;
    fclose (stream);
    return kib;
}

/* Open descriptors of pid; -1 when it is gone. */
static long
s_fds (pid_t pid)
{
    char path [64];
    snprintf (path, sizeof (path), "/proc/%d/fd", (int) pid);
    DIR *dir = opendir (path);
    if (!dir)
        return -1;
    long count = 0;
    struct dirent *entry;
    while ((entry = readdir (dir)))
        if (entry->d_name [0] != '.')
            count++;
    closedir (dir);
    return count;
}

/* Finds the ventilator and the sink among the children of parent (or
   parent itself). Returns 0 when both are found. */
static int
s_find_stages (pid_t parent, pid_t *ventilator, pid_t *sink)
{
    char path [96], comm [64];
    snprintf (path, sizeof (path), "/proc/%d/task/%d/children", (int) parent, (int) parent);
    FILE *stream = fopen (path, "r");
    if (!stream)
        return -1;
    int pid;
    while (fscanf (stream, "%d", &pid) == 1) {
        char file [64];
        snprintf (file, sizeof (file), "/proc/%d/comm", pid);
        FILE *name = fopen (file, "r");
        if (name && fgets (comm, sizeof (comm), name)) {
            if (strncmp (comm, "fanfold-ventila", 15) == 0)
                *ventilator = pid;
            else
            if (strncmp (comm, "fanfold-sink", 12) == 0)
                *sink = pid;
        }
        if (name)
            fclose (name);
    }
    fclose (stream);
    return *ventilator > 0 && *sink > 0? 0: -1;
}

/* -------------------------------------------------------------- the wire */

static void
s_pack_str (msgpack_packer *pk, const char *text, size_t len)
{
    msgpack_pack_str (pk, len);
    msgpack_pack_str_body (pk, text, len);
}

/* The str or bin of obj (empty for anything else). */
static size_t
s_bytes (const msgpack_object *obj, const char **ptr)
{
    if (obj->type == MSGPACK_OBJECT_STR) {
        *ptr = obj->via.str.ptr;
        return obj->via.str.size;
    }
    if (obj->type == MSGPACK_OBJECT_BIN) {
        *ptr = obj->via.bin.ptr;
        return obj->via.bin.size;
    }
    *ptr = "";
    return 0;
}

static int
s_is_type (const msgpack_object *msg, const char *type, uint32_t arity)
{
    if (msg->type != MSGPACK_OBJECT_ARRAY || msg->via.array.size != arity)
        return 0;
    const msgpack_object *name = &msg->via.array.ptr [1];
    size_t len = strlen (type);
    return name->type == MSGPACK_OBJECT_STR && name->via.str.size == len
        && memcmp (name->via.str.ptr, type, len) == 0;
}

/* ----------------------------------------------------- a simulated worker */

typedef struct {
    void *control;                  /* DEALER to the ventilator's control */
    void *tasks;                    /* PULL from its pipe, once welcomed */
    void *results;                  /* PUSH to the sink, once welcomed */
    char job [80];                  /* from the welcome */
    uint64_t id;                    /* worker id from the welcome; 0 before */
    int hb_ms;                      /* heartbeat interval from the welcome */
    int64_t due_us;                 /* next hello or hb */
    int ended;                      /* end received */
    char name [48];                 /* loadgen:PID:N */
} s_sim_t;

/* Shared by every thread and process of loadgen, and main: a MAP_SHARED
   mapping made before the worker processes fork. */
typedef struct {
    char control [512];             /* endpoint to connect */
    char results [512];             /* endpoint to connect */
    atomic_int stop;                /* main says: leave */
    atomic_int hold;                /* main says: read no task yet (-b) */
    atomic_long welcomed;           /* workers welcomed */
    atomic_long ended;              /* workers that received end */
    atomic_long answered;           /* tasks answered */
    atomic_long messages;           /* task messages answered */
    atomic_long errors;             /* malformed messages, failed sends */
    atomic_llong first_end_us;      /* when the first end arrived; 0 before */
} s_shared_t;

static s_shared_t *s_shared;

typedef struct {
    int index;                      /* thread number */
    s_sim_t *sims;                  /* its workers */
    size_t count;                   /* how many */
    void *context;                  /* its own zmq context */
    int epoll;                      /* ZMQ_FD of every socket it reads */
    msgpack_sbuffer buffer;         /* the message being written */
    msgpack_unpacked unpacked;      /* the message being read */
    pthread_t thread;               /* the thread */
} s_thread_t;

static void *
s_socket (s_thread_t *self, int type)
{
    void *socket = zmq_socket (self->context, type);
    int zero = 0, hwm = 1000, reconnect = 10, reconnect_max = 1000, timeout = 5000;
    if (!socket)
        return NULL;
    zmq_setsockopt (socket, ZMQ_LINGER, &zero, sizeof (zero));
    zmq_setsockopt (socket, ZMQ_SNDHWM, &hwm, sizeof (hwm));
    zmq_setsockopt (socket, ZMQ_RCVHWM, &hwm, sizeof (hwm));
    zmq_setsockopt (socket, ZMQ_RECONNECT_IVL, &reconnect, sizeof (reconnect));
    zmq_setsockopt (socket, ZMQ_RECONNECT_IVL_MAX, &reconnect_max, sizeof (reconnect_max));
    zmq_setsockopt (socket, ZMQ_SNDTIMEO, &timeout, sizeof (timeout));
    return socket;
}

/* Watches socket's ZMQ_FD; tag says which worker and which socket. */
static void
s_watch (s_thread_t *self, void *socket, uint64_t tag)
{
    int fd;
    size_t size = sizeof (fd);
    struct epoll_event event = { .events = EPOLLIN, .data.u64 = tag };
    if (zmq_getsockopt (socket, ZMQ_FD, &fd, &size) == 0)
        epoll_ctl (self->epoll, EPOLL_CTL_ADD, fd, &event);
}

static void
s_send_buffer (s_thread_t *self, void *socket, int flags)
{
    if (zmq_send (socket, self->buffer.data, self->buffer.size, flags) < 0)
        atomic_fetch_add (&s_shared->errors, 1);
}

static void
s_send_hello (s_thread_t *self, s_sim_t *sim)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->buffer);
    msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "hello", 5);
    s_pack_str (&pk, "worker", 6);
    s_pack_str (&pk, sim->name, strlen (sim->name));
    msgpack_pack_uint8 (&pk, S_HELLO_HEARS_TASKS);
    s_send_buffer (self, sim->control, ZMQ_DONTWAIT);
}

static void
s_send_hb (s_thread_t *self, s_sim_t *sim)
{
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->buffer);
    msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 4);
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "hb", 2);
    s_pack_str (&pk, sim->job, strlen (sim->job));
    msgpack_pack_uint64 (&pk, sim->id);
    s_send_buffer (self, sim->control, ZMQ_DONTWAIT);
}

static void
s_on_welcome (s_thread_t *self, s_sim_t *sim, size_t index, const msgpack_object *fields)
{
    const char *job, *endpoint;
    size_t job_len = s_bytes (&fields [2], &job), endpoint_len = s_bytes (&fields [4], &endpoint);
    if (fields [3].type != MSGPACK_OBJECT_POSITIVE_INTEGER || job_len >= sizeof (sim->job)
    ||  fields [5].type != MSGPACK_OBJECT_POSITIVE_INTEGER || endpoint_len >= 512) {
        atomic_fetch_add (&s_shared->errors, 1);
        return;
    }
    if (sim->id == fields [3].via.u64 && strlen (sim->job) == job_len
    &&  memcmp (sim->job, job, job_len) == 0)
        return;                     /* a repeated welcome: still in */
    if (sim->id) {
        atomic_fetch_add (&s_shared->errors, 1);   /* another job: not simulated */
        return;
    }
    char target [512];
    memcpy (target, endpoint, endpoint_len);
    target [endpoint_len] = 0;
    memcpy (sim->job, job, job_len);
    sim->job [job_len] = 0;
    sim->id = fields [3].via.u64;
    sim->hb_ms = (int) fields [5].via.u64;
    sim->tasks = s_socket (self, ZMQ_PULL);
    sim->results = s_socket (self, ZMQ_PUSH);
    if (!sim->tasks || !sim->results || zmq_connect (sim->tasks, target)
    ||  zmq_connect (sim->results, s_shared->results)) {
        fprintf (stderr, "loadgen: worker %s cannot connect its pipe: %s\n", sim->name,
                 zmq_strerror (zmq_errno ()));
        atomic_fetch_add (&s_shared->errors, 1);
        return;
    }
    s_watch (self, sim->tasks, (uint64_t) index << 1 | 1);
    sim->due_us = s_now_us () + (int64_t) sim->hb_ms * 1000;
    atomic_fetch_add (&s_shared->welcomed, 1);
}

/* Reads everything waiting on sim's control socket. */
static void
s_drain_control (s_thread_t *self, s_sim_t *sim, size_t index)
{
    zmq_msg_t msg;
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, sim->control, ZMQ_DONTWAIT) >= 0) {
        size_t offset = 0;
        if (msgpack_unpack_next (&self->unpacked, zmq_msg_data (&msg), zmq_msg_size (&msg),
                                 &offset) != MSGPACK_UNPACK_SUCCESS) {
            atomic_fetch_add (&s_shared->errors, 1);
            continue;
        }
        const msgpack_object *obj = &self->unpacked.data;
        if (s_is_type (obj, "welcome", 8))
            s_on_welcome (self, sim, index, obj->via.array.ptr);
        else
        if (s_is_type (obj, "end", 4) && sim->id && !sim->ended) {
            sim->ended = 1;
            long long expected = 0;
            atomic_compare_exchange_strong (&s_shared->first_end_us, &expected, s_now_us ());
            atomic_fetch_add (&s_shared->ended, 1);
        }
    }
    zmq_msg_close (&msg);
}

/* Answers one task message: every item's result is its payload. */
static void
s_answer (s_thread_t *self, s_sim_t *sim, const void *data, size_t size)
{
    size_t offset = 0;
    if (msgpack_unpack_next (&self->unpacked, data, size, &offset) != MSGPACK_UNPACK_SUCCESS
    ||  !s_is_type (&self->unpacked.data, "task", 4)
    ||  self->unpacked.data.via.array.ptr [3].type != MSGPACK_OBJECT_ARRAY) {
        atomic_fetch_add (&s_shared->errors, 1);
        return;
    }
    const msgpack_object *fields = self->unpacked.data.via.array.ptr;
    const msgpack_object_array *items = &fields [3].via.array;
    const char *job;
    size_t job_len = s_bytes (&fields [2], &job), index;
    msgpack_packer pk;
    msgpack_sbuffer_clear (&self->buffer);
    msgpack_packer_init (&pk, &self->buffer, msgpack_sbuffer_write);
    msgpack_pack_array (&pk, 5);
    msgpack_pack_uint8 (&pk, 1);
    s_pack_str (&pk, "result", 6);
    s_pack_str (&pk, job, job_len);
    msgpack_pack_uint64 (&pk, sim->id);
    msgpack_pack_array (&pk, items->size);
    for (index = 0; index < items->size; index++) {
        const msgpack_object *item = &items->ptr [index];
        if (item->type != MSGPACK_OBJECT_ARRAY || item->via.array.size != 8) {
            atomic_fetch_add (&s_shared->errors, 1);
            return;
        }
        const msgpack_object *f = item->via.array.ptr;
        const char *input, *payload;
        size_t input_len = s_bytes (&f [2], &input), payload_len = s_bytes (&f [3], &payload);
        msgpack_pack_array (&pk, 8);
        msgpack_pack_object (&pk, f [0]);           /* seq */
        msgpack_pack_object (&pk, f [1]);           /* kernel */
        msgpack_pack_uint8 (&pk, 0);                /* status ok */
        msgpack_pack_uint8 (&pk, 0);                /* kind bytes */
        s_pack_str (&pk, input, input_len);
        msgpack_pack_bin (&pk, payload_len);
        msgpack_pack_bin_body (&pk, payload, payload_len);
        s_pack_str (&pk, "", 0);                    /* meta */
        msgpack_pack_array (&pk, 7);
        msgpack_pack_object (&pk, f [4]);           /* attempt */
        msgpack_pack_uint8 (&pk, 1);                /* tries */
        msgpack_pack_uint8 (&pk, 0);                /* start_ms */
        msgpack_pack_uint8 (&pk, 0);                /* runtime_us */
        msgpack_pack_uint64 (&pk, payload_len);     /* bytes_in */
        msgpack_pack_object (&pk, f [5]);           /* chunk */
        msgpack_pack_object (&pk, f [6]);           /* chunks */
    }
    s_send_buffer (self, sim->results, 0);
    atomic_fetch_add (&s_shared->answered, (long) items->size);
    atomic_fetch_add (&s_shared->messages, 1);
}

/* Answers everything waiting on sim's pipe. */
static void
s_drain_tasks (s_thread_t *self, s_sim_t *sim)
{
    zmq_msg_t msg;
    if (!sim->tasks)
        return;
    if (atomic_load (&s_shared->hold)) {
        int events;
        size_t size = sizeof (events);
        zmq_getsockopt (sim->tasks, ZMQ_EVENTS, &events, &size);   /* quiets ZMQ_FD */
        return;
    }
    zmq_msg_init (&msg);
    while (zmq_msg_recv (&msg, sim->tasks, ZMQ_DONTWAIT) >= 0)
        s_answer (self, sim, zmq_msg_data (&msg), zmq_msg_size (&msg));
    zmq_msg_close (&msg);
}

/* Every S_SWEEP_MS: hello until welcomed, then hb from the same socket; a
   send can take the socket's signal, so control is read after it. */
static void
s_sweep (s_thread_t *self, int64_t *next_sweep)
{
    int64_t now = s_now_us ();
    size_t index;
    if (now < *next_sweep)
        return;
    *next_sweep = now + S_SWEEP_MS * 1000;
    for (index = 0; index < self->count; index++) {
        s_sim_t *sim = &self->sims [index];
        if (!sim->control || sim->ended || now < sim->due_us)
            continue;
        if (sim->id) {
            s_send_hb (self, sim);
            sim->due_us = now + (int64_t) sim->hb_ms * 1000;
        }
        else {
            s_send_hello (self, sim);
            sim->due_us = now + S_HELLO_MS * 1000;
        }
        s_drain_control (self, sim, index);
    }
}

/* --------------------------------------------------- a thread of workers */

static void *
s_thread_run (void *arg)
{
    s_thread_t *self = (s_thread_t *) arg;
    size_t index;
    int64_t next_sweep = 0, next_drain = 0;
    for (index = 0; index < self->count; index++) {
        s_sim_t *sim = &self->sims [index];
        snprintf (sim->name, sizeof (sim->name), "loadgen:%d:%d.%zu", (int) getpid (),
                  self->index, index);
        sim->control = s_socket (self, ZMQ_DEALER);
        if (!sim->control || zmq_connect (sim->control, s_shared->control)) {
            fprintf (stderr, "loadgen: cannot connect worker %s: %s\n", sim->name,
                     zmq_strerror (zmq_errno ()));
            atomic_fetch_add (&s_shared->errors, 1);
            continue;
        }
        s_watch (self, sim->control, (uint64_t) index << 1);
        s_send_hello (self, sim);
        sim->due_us = s_now_us () + S_HELLO_MS * 1000;
    }
    while (!atomic_load (&s_shared->stop)) {
        struct epoll_event events [256];
        int count = epoll_wait (self->epoll, events, 256, S_SWEEP_MS), event;
        for (event = 0; event < count; event++) {
            size_t which = (size_t) (events [event].data.u64 >> 1);
            if (events [event].data.u64 & 1)
                s_drain_tasks (self, &self->sims [which]);
            else
                s_drain_control (self, &self->sims [which], which);
            /* a batch of full pipes (a large window) takes long to answer:
               the heartbeats still go out on time */
            s_sweep (self, &next_sweep);
        }
        s_sweep (self, &next_sweep);
        int64_t now = s_now_us ();
        if (now >= next_drain) {
            /* ZMQ_FD is edge-like: a safety net against a missed signal */
            next_drain = now + 100000;
            for (index = 0; index < self->count; index++)
                if (self->sims [index].control) {
                    s_drain_control (self, &self->sims [index], index);
                    s_drain_tasks (self, &self->sims [index]);
                }
        }
    }
    for (index = 0; index < self->count; index++) {
        s_sim_t *sim = &self->sims [index];
        if (sim->control)
            zmq_close (sim->control);
        if (sim->tasks)
            zmq_close (sim->tasks);
        if (sim->results)
            zmq_close (sim->results);
    }
    return NULL;
}

/* Runs count workers, from first, in threads threads of this process
   until main says stop. Returns 0, or 2 when it could not start. */
static int
s_run_workers (long first, long count, long threads)
{
    if (threads > count)
        threads = count;
    s_thread_t *pool = (s_thread_t *) calloc ((size_t) threads, sizeof (s_thread_t));
    s_sim_t *sims = (s_sim_t *) calloc ((size_t) count, sizeof (s_sim_t));
    if (!pool || !sims) {
        fprintf (stderr, "loadgen: out of memory\n");
        return 2;
    }
    size_t next = 0;
    long index;
    for (index = 0; index < threads; index++) {
        s_thread_t *self = &pool [index];
        self->index = (int) (first + index);
        self->count = (size_t) (count / threads + (index < count % threads? 1: 0));
        self->sims = sims + next;
        next += self->count;
        self->context = zmq_ctx_new ();
        if (self->context)
            zmq_ctx_set (self->context, ZMQ_MAX_SOCKETS, (int) self->count * 4 + 64);
        self->epoll = epoll_create1 (EPOLL_CLOEXEC);
        msgpack_sbuffer_init (&self->buffer);
        msgpack_unpacked_init (&self->unpacked);
        if (!self->context || self->epoll < 0
        ||  pthread_create (&self->thread, NULL, s_thread_run, self)) {
            fprintf (stderr, "loadgen: cannot start thread %ld\n", index);
            return 2;
        }
    }
    for (index = 0; index < threads; index++) {
        pthread_join (pool [index].thread, NULL);
        msgpack_sbuffer_destroy (&pool [index].buffer);
        msgpack_unpacked_destroy (&pool [index].unpacked);
        close (pool [index].epoll);
        zmq_ctx_term (pool [index].context);
    }
    free (pool);
    free (sims);
    return 0;
}

/* ------------------------------------------------------------------ main */

/* The connect form of a bound endpoint of the topology, %u replaced. */
static int
s_endpoint (zconfig_t *config, const char *key, char *out, size_t size)
{
    const char *value = zconfig_get (config, key, NULL);
    if (!value)
        return -1;
    char *percent = strstr (value, "%u"), *star;
    if (percent)
        snprintf (out, size, "%.*s%u%s", (int) (percent - value), value, (unsigned) getuid (),
                  percent + 2);
    else
        snprintf (out, size, "%s", value);
    if ((star = strstr (out, "tcp://*:"))) {
        char rest [512];
        snprintf (rest, sizeof (rest), "%s", star + 8);
        snprintf (star, size - (size_t) (star - out), "tcp://127.0.0.1:%s", rest);
    }
    return 0;
}

typedef struct {
    int64_t us;                     /* when */
    long answered;                  /* tasks answered by then */
    int64_t cpu [2];                /* ventilator, sink CPU ns */
} s_sample_t;

static void
s_sample (s_sample_t *sample, pid_t ventilator, pid_t sink)
{
    int64_t cpu;
    sample->us = s_now_us ();
    sample->answered = atomic_load (&s_shared->answered);
    if ((cpu = s_cpu_ns (ventilator)) >= 0)
        sample->cpu [0] = cpu;
    if ((cpu = s_cpu_ns (sink)) >= 0)
        sample->cpu [1] = cpu;
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: loadgen -t TOPOLOGY -n WORKERS [-p PROCESSES] [-j THREADS] "
             "[-l NOFILE | -s NOFILE] [-b] [-r REPORT] -- COMMAND [ARG...]\n");
}

int
main (int argc, char *argv [])
{
    const char *topology = NULL, *report = NULL;
    long workers = 0, threads = 4, nofile = 0, soft = 0, procs = 1;
    int option, hold = 0;
    while ((option = getopt (argc, argv, "t:n:j:p:l:s:r:bh")) != -1) {
        switch (option) {
            case 't': topology = optarg; break;
            case 'n': workers = atol (optarg); break;
            case 'j': threads = atol (optarg); break;
            case 'l': nofile = atol (optarg); break;
            case 's': soft = atol (optarg); break;
            case 'b': hold = 1; break;
            case 'p': procs = atol (optarg); break;
            case 'r': report = optarg; break;
            default: s_usage (); return 2;
        }
    }
    if (!topology || workers < 1 || threads < 1 || threads > S_MAX_THREADS || procs < 1
    ||  procs > S_MAX_PROCS || optind >= argc) {
        s_usage ();
        return 2;
    }
    if (procs > workers)
        procs = workers;
    s_shared = (s_shared_t *) mmap (NULL, sizeof (s_shared_t), PROT_READ | PROT_WRITE,
                                    MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (s_shared == MAP_FAILED) {
        perror ("loadgen: mmap");
        return 2;
    }
    atomic_store (&s_shared->hold, hold);
    zsys_init ();
    zsys_handler_set (NULL);
    zconfig_t *config = zconfig_load (topology);
    if (!config || s_endpoint (config, "ventilator/control", s_shared->control,
                               sizeof (s_shared->control))
    ||  s_endpoint (config, "sink/results", s_shared->results, sizeof (s_shared->results))) {
        fprintf (stderr, "loadgen: cannot read the endpoints of %s\n", topology);
        return 2;
    }
    zconfig_destroy (&config);

    /* each worker costs this process about 6 descriptors: as many as the
       system allows (root may raise the hard limit too) */
    struct rlimit limit;
    getrlimit (RLIMIT_NOFILE, &limit);
    rlim_t want = (rlim_t) (workers / procs + 1) * 8 + 256;
    if (limit.rlim_max < want) {
        struct rlimit raised = { want, want };
        if (setrlimit (RLIMIT_NOFILE, &raised) == 0)
            limit = raised;
    }
    limit.rlim_cur = limit.rlim_max;
    setrlimit (RLIMIT_NOFILE, &limit);
    signal (SIGPIPE, SIG_IGN);

    pid_t child = fork ();
    if (child < 0) {
        perror ("loadgen: fork");
        return 2;
    }
    if (child == 0) {
        if (nofile > 0) {
            struct rlimit fixed = { (rlim_t) nofile, (rlim_t) nofile };
            if (setrlimit (RLIMIT_NOFILE, &fixed))
                perror ("loadgen: setrlimit");
        }
        else
        if (soft > 0) {
            struct rlimit lowered;
            getrlimit (RLIMIT_NOFILE, &lowered);
            lowered.rlim_cur = (rlim_t) soft;
            if (setrlimit (RLIMIT_NOFILE, &lowered))
                perror ("loadgen: setrlimit");
        }
        execvp (argv [optind], argv + optind);
        perror ("loadgen: exec");
        _exit (127);
    }
    pid_t ventilator = 0, sink = 0;
    int64_t started = s_now_us ();
    int status = 0, exited = 0;
    while (s_find_stages (child, &ventilator, &sink)) {
        if (waitpid (child, &status, WNOHANG) == child || s_now_us () - started > 10000000) {
            fprintf (stderr, "loadgen: no ventilator and sink under pid %d\n", (int) child);
            if (!exited && waitpid (child, &status, WNOHANG) == 0) {
                kill (child, SIGTERM);
                waitpid (child, &status, 0);
            }
            return 2;
        }
        usleep (5000);
    }
    usleep (200000);                /* the sink has said hello: the stages at rest */
    long rss0 [2] = { s_rss_kib (ventilator), s_rss_kib (sink) },
         fds0 [2] = { s_fds (ventilator), s_fds (sink) };

    /* the workers, in processes of their own: each has its own descriptors */
    pid_t helpers [S_MAX_PROCS];
    long first = 0, proc;
    for (proc = 0; proc < procs; proc++) {
        long count = workers / procs + (proc < workers % procs? 1: 0);
        helpers [proc] = fork ();
        if (helpers [proc] == 0)
            _exit (s_run_workers (first, count, threads / procs > 0? threads / procs: 1));
        if (helpers [proc] < 0) {
            perror ("loadgen: fork");
            atomic_store (&s_shared->stop, 1);
            return 2;
        }
        first += count;
    }

    /* joining: until every worker is in, or none joined for a while */
    int64_t join_started = s_now_us (), last_join = join_started;
    long joined = 0;
    while (!exited) {
        long now_joined = atomic_load (&s_shared->welcomed);
        int64_t now = s_now_us ();
        if (now_joined != joined) {
            joined = now_joined;
            last_join = now;
        }
        if (joined == workers || (joined > 0 && now - last_join > S_SETTLE_MS * 1000)
        ||  now - join_started > S_JOIN_TIMEOUT_MS * 1000LL || atomic_load (&s_shared->first_end_us))
            break;
        if (waitpid (child, &status, WNOHANG) == child)
            exited = 1;
        usleep (2000);
    }
    int64_t join_us = s_now_us () - join_started;
    atomic_store (&s_shared->hold, 0);
    long rss1 [2] = { s_rss_kib (ventilator), s_rss_kib (sink) },
         fds1 [2] = { s_fds (ventilator), s_fds (sink) };
    s_sample_t begin = { 0 }, last = { 0 };
    s_sample (&begin, ventilator, sink);
    last = begin;
    /* the job: until the first end (everything written), sampling CPU */
    while (!exited && !atomic_load (&s_shared->first_end_us)) {
        s_sample (&last, ventilator, sink);
        if (waitpid (child, &status, WNOHANG) == child)
            exited = 1;
        usleep (10000);
    }
    s_sample (&last, ventilator, sink);
    int64_t end_us = atomic_load (&s_shared->first_end_us);
    if (!end_us)
        end_us = last.us;
    if (!exited)
        waitpid (child, &status, 0);
    atomic_store (&s_shared->stop, 1);
    for (proc = 0; proc < procs; proc++)
        waitpid (helpers [proc], NULL, 0);

    long tasks = last.answered - begin.answered;
    double seconds = (double) (end_us - begin.us) / 1e6;
    double rate = seconds > 0? tasks / seconds: 0;
    double vent_us = tasks? (double) (last.cpu [0] - begin.cpu [0]) / 1e3 / tasks: 0,
           sink_us = tasks? (double) (last.cpu [1] - begin.cpu [1]) / 1e3 / tasks: 0;
    double vent_kib = joined? (double) (rss1 [0] - rss0 [0]) / joined: 0,
           sink_kib = joined? (double) (rss1 [1] - rss0 [1]) / joined: 0,
           vent_fds = joined? (double) (fds1 [0] - fds0 [0]) / joined: 0,
           sink_fds = joined? (double) (fds1 [1] - fds0 [1]) / joined: 0;
    int code = WIFEXITED (status)? WEXITSTATUS (status): 128 + WTERMSIG (status);
    fprintf (stderr, "loadgen: %ld workers, %ld joined in %.2f s (%ld refused); %ld tasks in "
             "%.3f s after joining: %.0f tasks/s, %ld messages; CPU per task: ventilator "
             "%.3f us, sink %.3f us; per joined worker: ventilator %.1f KiB %.2f fds, sink "
             "%.1f KiB %.2f fds; %ld errors; job exit %d\n",
             workers, joined, join_us / 1e6, workers - joined, tasks, seconds, rate,
             atomic_load (&s_shared->messages), vent_us, sink_us, vent_kib, vent_fds, sink_kib,
             sink_fds, atomic_load (&s_shared->errors), code);
    if (report) {
        FILE *stream = fopen (report, "w");
        if (stream) {
            fprintf (stream, "{\"workers\": %ld, \"joined\": %ld, \"join_s\": %.3f, "
                     "\"tasks\": %ld, \"seconds\": %.4f, \"tasks_per_s\": %.0f, "
                     "\"messages\": %ld, \"ventilator_us_per_task\": %.4f, "
                     "\"sink_us_per_task\": %.4f, \"ventilator_kib_per_worker\": %.2f, "
                     "\"sink_kib_per_worker\": %.2f, \"ventilator_fds_per_worker\": %.2f, "
                     "\"sink_fds_per_worker\": %.2f, \"errors\": %ld, \"exit\": %d}\n",
                     workers, joined, join_us / 1e6, tasks, seconds, rate,
                     atomic_load (&s_shared->messages), vent_us, sink_us, vent_kib, sink_kib,
                     vent_fds, sink_fds, atomic_load (&s_shared->errors), code);
            fclose (stream);
        }
    }
    return code;
}
