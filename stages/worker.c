/*  fanfold-worker: joins a ventilator, pulls task batches from its own
    pipe, runs each task's kernel and pushes the results to the sink.
    Organised as: the job, joining (hello/welcome),
    running a batch, and the main loop. */

#include "fanfold/launch/worker.h"
#include "fanfold/runtime/fdlimit.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/heartbeat.h"
#include "fanfold/kernels/exec.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/kernels/npy.h"
#include "fanfold/kernels/task.h"
#include "fanfold/runtime/options.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/runtime/stdfds.h"
#include "fanfold/runtime/topology.h"

#include <czmq.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#define S_HELLO_EVERY_MS 1000
#define S_MAX_MAPS 16
#define S_MAX_CANCELLED 16          /* pool: cancelled jobs remembered until forgotten */
#define S_JOB_ID_MAX 64             /* pool: a job id kept for cancel, NUL included */

typedef struct {
    const char *topology_path;      /* -t */
    int no_shm;                     /* --no-shm */
    int verbose;                    /* -v */
} s_options_t;

/* The job this worker serves, from the welcome. */
typedef struct {
    char *id;                       /* job id */
    uint64_t worker;                /* our worker id */
    int hb_ms;                      /* heartbeat interval */
    size_t nkernels;                /* kernels in the job */
    char *kernel_names [FF_MAX_KERNELS]; /* their names */
    const ff_kernel_t *kernels [FF_MAX_KERNELS]; /* resolved, NULL if unknown */
    size_t nparams;                 /* key/value pairs */
    char *params [2 * (FF_MAX_PARAMS + 1)]; /* key, value, ...: the welcome's, then slot */
    uint32_t retries;               /* runs of a failing task, param retries */
    int64_t timeout_ms;             /* param timeout, 0 for none */
} s_job_t;

static void
s_job_clear (s_job_t *job)
{
    size_t index;
    free (job->id);
    for (index = 0; index < job->nkernels; index++)
        free (job->kernel_names [index]);
    for (index = 0; index < 2 * job->nparams; index++)
        free (job->params [index]);
    memset (job, 0, sizeof (*job));
}

static int
s_job_from_welcome (s_job_t *job, const ff_msg_t *msg, uint64_t worker)
{
    size_t index;
    s_job_clear (job);
    job->id = ff_str_dup (msg->job);
    job->worker = worker;
    job->hb_ms = msg->hb_ms > 0 && msg->hb_ms < 60000? (int) msg->hb_ms: 250;
    if (!job->id)
        return -1;
    for (index = 0; index < 2 * msg->nparams; index++) {
        job->params [index] = ff_str_dup (msg->params [index]);
        if (!job->params [index])
            return -1;
        job->nparams = (index + 2) / 2;
    }
    /* the job slot ({%}, $PARALLEL_JOBSLOT): this worker's id, from 1; a
       -p slot= of the job comes first and so wins (docs/PARALLEL.md 5.3) */
    char slot [24];
    snprintf (slot, sizeof (slot), "%" PRIu64, job->worker);
    job->params [2 * job->nparams] = strdup ("slot");
    job->params [2 * job->nparams + 1] = strdup (slot);
    job->nparams++;
    if (!job->params [2 * job->nparams - 2] || !job->params [2 * job->nparams - 1])
        return -1;
    /* job-level parameters: plugins to load first, retries, time limit */
    job->retries = FF_DEFAULT_RETRIES;
    for (index = 0; index < job->nparams; index++) {
        const char *key = job->params [2 * index], *value = job->params [2 * index + 1];
        char error [512];
        if (strcmp (key, "plugin") == 0 && ff_kernels_load (value, error, sizeof (error)))
            ff_log_error ("%s", error);
        if (strcmp (key, "retries") == 0)
            job->retries = (uint32_t) strtoul (value, NULL, 10);
        if (strcmp (key, "timeout") == 0)
            job->timeout_ms = (int64_t) (strtod (value, NULL) * 1000);
    }
    if (job->retries < 1)
        job->retries = 1;
    for (index = 0; index < msg->nkernels; index++) {
        job->kernel_names [index] = ff_str_dup (msg->kernels [index]);
        if (!job->kernel_names [index])
            return -1;
        job->nkernels = index + 1;
        job->kernels [index] = ff_kernels_find (job->kernel_names [index]);
        if (!job->kernels [index])
            ff_log_error ("job %s uses kernel '%s', which this worker does not have",
                          job->id, job->kernel_names [index]);
    }
    return 0;
}

/* An array's bytes fetched from the server (pool, --no-shm). */
typedef struct {
    char job [S_JOB_ID_MAX];        /* the job whose task named it */
    char *segment;                  /* segment name or file handle (in data) */
    size_t segment_len;             /* its length */
    uint64_t offset;                /* the handle's offset */
    uint64_t length;                /* the handle's length: bytes held */
    char *bytes;                    /* the bytes (in data) */
    uint64_t pin;                   /* the task that used it last (fetch_pin) */
    char data [];                   /* bytes, then the segment text */
} s_fetched_t;

#define S_FETCH_ENTRIES 64          /* arrays the fetch cache holds */

/* ---------------------------------------------------------- the worker */

typedef struct {
    s_options_t options;            /* command line */
    ff_topology_t *topology;        /* endpoints and tuning */
    zsock_t *control;               /* DEALER to the ventilator */
    zsock_t *tasks;                 /* PULL from our pipe, once welcomed */
    zsock_t *results;               /* PUSH to the sink */
    ff_heartbeat_t *heartbeat;      /* heartbeat thread, once welcomed */
    ff_heartbeat_args_t hb_args;    /* its arguments */
    ff_codec_t *hb_codec;           /* our hb, sent from control between tasks */
    volatile int64_t hb_sent;       /* when an hb last went out (either thread) */
    ff_codec_t *codec;              /* encoder */
    ff_item_t *items;               /* room for one task message's items */
    s_job_t job;                    /* the job served */
    int welcomed;                   /* a welcome was accepted */
    int ended;                      /* the ventilator ended the job */
    int64_t last_heard;             /* last message from the ventilator */
    uint64_t rejected;              /* refused messages */
    uint64_t done;                  /* tasks run */
    uint64_t batches;               /* task messages run */
    uint64_t joins;                 /* welcomes accepted: a new one means a new job */
    volatile int64_t running_since; /* when the running task started, or 0 */
    int dropped;                    /* the ventilator dropped this worker */
    int no_memory;                  /* a result message could not be encoded: leave */
    ff_shm_t *maps [S_MAX_MAPS];    /* mapped segments and files, oldest first */
    ff_npy_t map_npy [S_MAX_MAPS];  /* a mapped file's .npy header (zero for a segment) */
    size_t nmaps;                   /* how many */
    char shm_prefix [64];           /* ff_<uid>_<job>_: the job's segments */
    ff_security_t *security;        /* CURVE client keys, or none */
    ff_result_t out;                /* one kernel result */
    char name [160];                /* host:pid */
    int pool;                       /* welcomed by a fanfold-server (version 2): each
                                       job's kernels and params come in its jobspec */
    s_job_t *jobs [FF_MAX_JOBS];    /* pool: the jobs it was told about, oldest first */
    size_t njobs;                   /* how many */
    pthread_mutex_t lock;           /* pool: guards running and cancelled (the
                                       heartbeat thread reads a cancel) */
    char running [S_JOB_ID_MAX];     /* pool: the job of the batch that runs, or "" */
    char cancelled [S_MAX_CANCELLED][S_JOB_ID_MAX]; /* pool: jobs cancelled, not yet forgotten */
    size_t ncancelled;              /* how many (a ring: the oldest is overwritten) */
    s_fetched_t *fetched [S_FETCH_ENTRIES]; /* pool, --no-shm: fetched arrays, oldest first */
    size_t nfetched;                /* how many */
    uint64_t fetched_bytes;         /* their bytes, at most FF_FETCH_CACHE_BYTES but for
                                       the running task's */
    uint64_t fetch_pin;             /* counts tasks: an entry with this pin is in use */
    uint64_t fetches;               /* arrays fetched */
    uint64_t fetch_hits;            /* arrays found in the cache */
    ff_codec_t *fetch_codec;        /* encodes fetches: codec holds the batch's results */
    ff_net_wait_t wait;             /* control, the task pipe and the job-over eventfd,
                                       one poll(2) per wake-up (S_CONTROL, S_TASKS, S_OVER) */
} s_worker_t;

/* The items of s_worker_t's wait. A socket is marked drained once read
   until EAGAIN; control is marked not drained again by each send on it
   (the send may take the signal of a message that came) and by a fetch's
   own reads; the task pipe by a new pipe. The eventfd only ends a wait:
   s_job_over says what it says. */
#define S_CONTROL 0
#define S_TASKS 1
#define S_OVER 2

/* ------------------------------------------------------------- the pool */

/* A cancel for job (from the server, on either control socket): a
   command of that job that runs now is killed, and its queued tasks are
   dropped without an answer until its forget. Called from the heartbeat
   thread too. */
static void
s_pool_cancel (s_worker_t *self, ff_str_t job)
{
    pthread_mutex_lock (&self->lock);
    snprintf (self->cancelled [self->ncancelled++ % S_MAX_CANCELLED], S_JOB_ID_MAX, "%.*s",
              (int) (job.len < S_JOB_ID_MAX - 1? job.len: S_JOB_ID_MAX - 1), job.ptr);
    if (*self->running && ff_str_eq (job, self->running))
        ff_exec_cancel (1);
    pthread_mutex_unlock (&self->lock);
}

/* The heartbeat thread's callback: a cancel from the server. */
static void
s_on_hb_message (const ff_msg_t *msg, void *arg)
{
    if (msg->type == FF_MSG_CANCEL)
        s_pool_cancel ((s_worker_t *) arg, msg->job);
}

static int
s_pool_is_cancelled (s_worker_t *self, const char *job)
{
    size_t index, count;
    int found = 0;
    pthread_mutex_lock (&self->lock);
    count = self->ncancelled < S_MAX_CANCELLED? self->ncancelled: S_MAX_CANCELLED;
    for (index = 0; index < count && !found; index++)
        found = strcmp (self->cancelled [index], job) == 0;
    pthread_mutex_unlock (&self->lock);
    return found;
}

static s_job_t *
s_pool_job (s_worker_t *self, ff_str_t id)
{
    size_t index;
    for (index = 0; index < self->njobs; index++)
        if (ff_str_eq (id, self->jobs [index]->id))
            return self->jobs [index];
    return NULL;
}

static void
s_pool_drop (s_worker_t *self, size_t index)
{
    s_job_clear (self->jobs [index]);
    free (self->jobs [index]);
    memmove (self->jobs + index, self->jobs + index + 1,
             (self->njobs - index - 1) * sizeof (s_job_t *));
    self->njobs--;
}

/* A jobspec: the job's kernels (plugins loaded) and params, kept until
   its forget. A full table drops its oldest job. */
static void
s_pool_jobspec (s_worker_t *self, const ff_msg_t *msg)
{
    s_job_t *job = s_pool_job (self, msg->job);
    size_t index;
    if (job)
        for (index = 0; index < self->njobs; index++)
            if (self->jobs [index] == job)
                s_pool_drop (self, index);
    if (self->njobs == FF_MAX_JOBS) {
        ff_log_error ("job table full: job %s forgotten", self->jobs [0]->id);
        s_pool_drop (self, 0);
    }
    if (!(job = (s_job_t *) calloc (1, sizeof (s_job_t)))
    ||  s_job_from_welcome (job, msg, self->job.worker)) {
        ff_log_error ("out of memory for a jobspec");
        if (job)
            s_job_clear (job);
        free (job);
        return;
    }
    self->jobs [self->njobs++] = job;
}

static void s_fetch_forget (s_worker_t *self, const char *job);

/* A forget: the job ended or was cancelled. */
static void
s_pool_forget (s_worker_t *self, ff_str_t id)
{
    size_t index;
    char prefix [64];
    for (index = 0; index < self->njobs; index++)
        if (ff_str_eq (id, self->jobs [index]->id)) {
            ff_shm_job_prefix (self->jobs [index]->id, prefix, sizeof (prefix));
            s_fetch_forget (self, self->jobs [index]->id);
            s_pool_drop (self, index);
            /* its segments are unlinked: let their memory go */
            size_t at;
            for (at = 0; at < self->nmaps; )
                if (strncmp (ff_shm_name (self->maps [at]), prefix, strlen (prefix)) == 0) {
                    ff_shm_destroy (&self->maps [at], 0);
                    memmove (self->maps + at, self->maps + at + 1,
                             (self->nmaps - at - 1) * sizeof (ff_shm_t *));
                    self->nmaps--;
                }
                else
                    at++;
            break;
        }
    pthread_mutex_lock (&self->lock);
    size_t count = self->ncancelled < S_MAX_CANCELLED? self->ncancelled: S_MAX_CANCELLED;
    for (index = 0; index < count; index++)
        if (ff_str_eq (id, self->cancelled [index]))
            self->cancelled [index][0] = 0;
    pthread_mutex_unlock (&self->lock);
}

static void
s_pool_clear (s_worker_t *self)
{
    while (self->njobs > 0)
        s_pool_drop (self, self->njobs - 1);
}

/* Sends what codec holds on control, waiting at most timeout_ms.
   Returns 0, or -1 with errno. */
static int
s_send_control (s_worker_t *self, ff_codec_t *codec, int timeout_ms)
{
    self->wait.drained [S_CONTROL] = 0;
    return ff_net_send (self->control, NULL, 0, ff_codec_data (codec), ff_codec_size (codec),
                        timeout_ms);
}

static void
s_send_hello (s_worker_t *self)
{
    ff_codec_hello (self->codec, "worker", self->name,
                    FF_HELLO_HEARS_TASKS | (self->options.no_shm? FF_HELLO_NO_SHM: 0));
    s_send_control (self, self->codec, 0);
}

/* Leaves the current job: stops heartbeats and drops the task pipe. */
static void
s_leave (s_worker_t *self)
{
    ff_heartbeat_destroy (&self->heartbeat);
    zsock_destroy (&self->tasks);
    while (self->nmaps > 0)
        ff_shm_destroy (&self->maps [--self->nmaps], 0);
    s_fetch_forget (self, NULL);
    ff_codec_destroy (&self->fetch_codec);
    s_pool_clear (self);
    self->welcomed = 0;
}

static int
s_accept_welcome (s_worker_t *self, const ff_msg_t *msg)
{
    const ff_settings_t *settings = ff_topology_settings (self->topology);
    char *endpoint = ff_str_dup (msg->endpoint);
    s_leave (self);                 /* the heartbeat thread uses the old job */
    if (!endpoint || s_job_from_welcome (&self->job, msg, msg->worker)) {
        free (endpoint);
        return -1;
    }
    ff_shm_job_prefix (self->job.id, self->shm_prefix, sizeof (self->shm_prefix));
    self->tasks = ff_net_socket (ZMQ_PULL, settings->hwm, 0, FF_MAX_TASK_MESSAGE);
    self->wait.drained [S_TASKS] = 0;
    char error [256];
    if (!self->tasks
    ||  ff_security_connect (self->security, self->tasks, endpoint, error, sizeof (error))
    ||  zsock_connect (self->tasks, "%s", endpoint) != 0) {
        ff_log_error ("cannot connect to task pipe %s", endpoint);
        free (endpoint);
        zsock_destroy (&self->tasks);
        return -1;
    }
    free (endpoint);
    self->pool = msg->version == FF_PROTOCOL_POOL;
    ff_codec_set_version (self->codec, self->pool? FF_PROTOCOL_POOL: FF_PROTOCOL_VERSION);
    /* the job's heartbeats go from control while no batch runs (the
       ventilator takes an hb from the socket that said hello), and from
       the heartbeat thread's own socket only once a batch runs past hb_ms:
       a job of short tasks costs no second connection. A pool's thread
       sends them all: the server sends cancels to its socket */
    ff_codec_hb (self->hb_codec, self->job.id, self->job.worker);
    __atomic_store_n (&self->hb_sent, ff_clock_ms (), __ATOMIC_RELEASE);
    self->hb_args = (ff_heartbeat_args_t) {
        .endpoint = ff_topology_connect (self->topology, FF_EP_CONTROL), .job = self->job.id,
        .worker = self->job.worker, .hb_ms = self->job.hb_ms, .timeout_ms = self->job.timeout_ms,
        .running_since = &self->running_since, .security = self->security,
        .version = self->pool? FF_PROTOCOL_POOL: FF_PROTOCOL_VERSION,
        .on_message = self->pool? s_on_hb_message: NULL, .on_message_arg = self,
        .last_sent = self->pool? NULL: &self->hb_sent
    };
    /* its thread leaves the job-over signal to this one (its handler
       wakes this thread's poll through s_job_over_fd all the same) */
    sigset_t usr1, saved;
    sigemptyset (&usr1);
    ff_signals_add_job_over (&usr1);
    pthread_sigmask (SIG_BLOCK, &usr1, &saved);
    self->heartbeat = ff_heartbeat_new (&self->hb_args);
    pthread_sigmask (SIG_SETMASK, &saved, NULL);
    if (!self->heartbeat) {
        ff_log_error ("cannot start the heartbeat thread");
        zsock_destroy (&self->tasks);
        return -1;
    }
    self->welcomed = 1;
    self->joins++;
    ff_log_info ("joined %s %s as worker %" PRIu64, self->pool? "pool": "job", self->job.id,
                 self->job.worker);
    return 0;
}

static void s_control_message (s_worker_t *self, const ff_msg_t *msg);

static void
s_on_control (s_worker_t *self)
{
    zmq_msg_t body;
    ff_msg_t msg;
    int rc;
    while ((rc = ff_net_recv (self->control, NULL, &body)) >= 0) {
        if (rc == 1) {
            ff_log_reject (&self->rejected, "multipart message on control");
            continue;
        }
        if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg)) {
            ff_log_reject (&self->rejected, "malformed control message");
            zmq_msg_close (&body);
            continue;
        }
        self->last_heard = ff_clock_ms ();
        s_control_message (self, &msg);
        zmq_msg_close (&body);
    }
    ff_net_wait_read (&self->wait, S_CONTROL, rc);
}

/* Acts on one message from control (a fetch answer that no fetch waits
   for is dropped). */
static void
s_control_message (s_worker_t *self, const ff_msg_t *msg)
{
    if (msg->type == FF_MSG_WELCOME) {
        /* a second welcome answers a hello that crossed the first:
           rebuilding the task pipe would drop the tasks queued on it */
        if (self->welcomed && msg->worker == self->job.worker
        &&  ff_str_eq (msg->job, self->job.id))
            ;
        else
        if (s_accept_welcome (self, msg))
            ff_log_error ("could not join job");
    }
    else
    if (msg->type == FF_MSG_CANCEL && self->pool)
        s_pool_cancel (self, msg->job);
    else
    if (msg->type == FF_MSG_END && self->welcomed && ff_str_eq (msg->job, self->job.id)) {
        self->ended = 1;
        self->dropped = msg->status == 2;
    }
}

/* Keeps map in the cache (closing the oldest when full) with npy, the
   header of a mapped .npy or NULL for a segment. Returns its kept header. */
static const ff_npy_t *
s_keep_map (s_worker_t *self, ff_shm_t *map, const ff_npy_t *npy)
{
    if (self->nmaps == S_MAX_MAPS) {
        ff_shm_destroy (&self->maps [0], 0);
        memmove (self->maps, self->maps + 1, (S_MAX_MAPS - 1) * sizeof (ff_shm_t *));
        memmove (self->map_npy, self->map_npy + 1, (S_MAX_MAPS - 1) * sizeof (ff_npy_t));
        self->nmaps--;
    }
    self->maps [self->nmaps] = map;
    if (npy)
        self->map_npy [self->nmaps] = *npy;
    else
        memset (&self->map_npy [self->nmaps], 0, sizeof (ff_npy_t));
    return &self->map_npy [self->nmaps++];
}

/* Returns the mapping of segment name holding at least min_size bytes,
   from the cache or newly opened (closing the oldest when full). */
static ff_shm_t *
s_map (s_worker_t *self, ff_str_t name, size_t min_size, char *error, size_t error_size)
{
    size_t index;
    char text [FF_SHM_NAME_MAX];
    if (name.len >= sizeof (text)) {
        snprintf (error, error_size, "segment name too long");
        return NULL;
    }
    memcpy (text, name.ptr, name.len);
    text [name.len] = 0;
    for (index = 0; index < self->nmaps; index++)
        if (strcmp (ff_shm_name (self->maps [index]), text) == 0) {
            if (ff_shm_size (self->maps [index]) < min_size) {
                snprintf (error, error_size, "segment %s is smaller than the task says", text);
                return NULL;
            }
            return self->maps [index];
        }
    ff_shm_t *map = ff_shm_open (text, self->shm_prefix, min_size, error, error_size);
    if (!map)
        return NULL;
    s_keep_map (self, map, NULL);
    return map;
}

/* Returns the file mapping that file handle text names, from the cache or
   newly mapped, with its .npy header in *npy. A file is mapped only when
   the handle's identity (device, inode, size, mtime) is the file's before
   and after mapping, its name ends in ".npy" and its header is one this
   worker reads: a handle can make a worker read the array data of a .npy
   its user may read, nothing else (docs/PROTOCOL.md, section 3). */
static ff_shm_t *
s_map_file (s_worker_t *self, ff_str_t text, const ff_npy_t **npy,
            char *error, size_t error_size)
{
    ff_shm_file_id_t want, got;
    char path [FF_SHM_HANDLE_MAX];
    size_t index;
    for (index = 0; index < self->nmaps; index++) {
        const char *name = ff_shm_name (self->maps [index]);
        if (strlen (name) == text.len && memcmp (name, text.ptr, text.len) == 0) {
            *npy = &self->map_npy [index];
            return self->maps [index];
        }
    }
    if (ff_shm_file_handle_parse (text.ptr, text.len, &want, path, sizeof (path))) {
        snprintf (error, error_size, "malformed file handle");
        return NULL;
    }
    size_t length = strlen (path);
    if (length < 5 || strcmp (path + length - 4, ".npy") != 0) {
        snprintf (error, error_size, "file handle %.200s: not a .npy", path);
        return NULL;
    }
    ff_shm_t *map = ff_shm_map_file (path, &want, &got, error, error_size);
    if (!map)
        return NULL;
    ff_npy_t header;
    size_t size = ff_shm_size (map);
    /* the header is at most 12 bytes of prelude and 1 MiB of text */
    size_t head = size < ((size_t) 1 << 20) + 12? size: ((size_t) 1 << 20) + 12;
    if (size == 0 || ff_npy_parse (ff_shm_data (map), head, size, path, &header,
                                   error, error_size)) {
        if (size == 0)
            snprintf (error, error_size, "%.200s: empty file", path);
        ff_shm_destroy (&map, 0);
        return NULL;
    }
    *npy = s_keep_map (self, map, &header);
    return map;
}

/* ------------------------------------------------ fetching (pool, --no-shm) */

/* A worker in a pool that cannot map shared memory asks the server for
   the bytes of each array handle of its task (docs/PROTOCOL.md 10.4), in
   pieces of FF_FETCH_CHUNK with FF_FETCH_WINDOW in flight, on its main
   control socket. What it fetched stays in a cache by identity (the job,
   the segment name or file handle, offset and length), so an array that
   many tasks read travels once per worker: at most FF_FETCH_CACHE_BYTES
   (the oldest goes first; the arrays of the running task stay), and a
   job's entries go with its forget. */

/* Frees cache entry index. */
static void
s_fetch_evict (s_worker_t *self, size_t index)
{
    s_fetched_t *entry = self->fetched [index];
    self->fetched_bytes -= entry->length;
    free (entry);
    memmove (self->fetched + index, self->fetched + index + 1,
             (self->nfetched - index - 1) * sizeof (s_fetched_t *));
    self->nfetched--;
}

/* Frees the entries of job (all with job NULL). */
static void
s_fetch_forget (s_worker_t *self, const char *job)
{
    size_t index = 0;
    while (index < self->nfetched)
        if (!job || strcmp (self->fetched [index]->job, job) == 0)
            s_fetch_evict (self, index);
        else
            index++;
}

/* Makes room for length more bytes: evicts the oldest entries that no
   array of the running task uses. */
static void
s_fetch_room (s_worker_t *self, uint64_t length)
{
    size_t index = 0;
    while (index < self->nfetched
    &&     (self->nfetched == S_FETCH_ENTRIES
            || self->fetched_bytes + length > (uint64_t) FF_FETCH_CACHE_BYTES))
        if (self->fetched [index]->pin == self->fetch_pin)
            index++;
        else
            s_fetch_evict (self, index);
}

/* Reads control while a fetch waits: fetched frames of this fetch are
   copied into entry; others are handled as s_on_control does, but a
   welcome (which could rebuild the pipe under the running task).
   Returns 0,
   or -1 with the reason in error. */
static int
s_fetch_receive (s_worker_t *self, s_fetched_t *entry, uint64_t seq, uint64_t *received,
                 int *inflight, char *error, size_t error_size)
{
    zmq_msg_t body;
    ff_msg_t msg;
    int rc = ff_net_recv (self->control, NULL, &body);
    if (rc < 0)
        return 0;
    if (rc == 1) {
        ff_log_reject (&self->rejected, "multipart message on control");
        return 0;
    }
    if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg)) {
        ff_log_reject (&self->rejected, "malformed control message");
        zmq_msg_close (&body);
        return 0;
    }
    self->last_heard = ff_clock_ms ();
    rc = 0;
    if (msg.type == FF_MSG_WELCOME)
        ;                           /* only a hello is answered so: not one now */
    else
    if (msg.type != FF_MSG_FETCHED)
        s_control_message (self, &msg);
    else
    if (ff_str_eq (msg.job, entry->job) && msg.seq == seq
    &&  msg.segment.len == entry->segment_len
    &&  memcmp (msg.segment.ptr, entry->segment, entry->segment_len) == 0) {
        uint64_t at = msg.offset - entry->offset;
        if (msg.status != 0) {
            snprintf (error, error_size, "the server refused a fetch: %.*s",
                      (int) (msg.data.len < 200? msg.data.len: 200), msg.data.ptr);
            rc = -1;
        }
        else
        if (msg.offset < entry->offset || at > entry->length
        ||  msg.data.len > entry->length - at || msg.data.len == 0) {
            snprintf (error, error_size, "a fetched piece lies outside its array");
            rc = -1;
        }
        else {
            memcpy (entry->bytes + at, msg.data.ptr, msg.data.len);
            *received += msg.data.len;
            (*inflight)--;
        }
    }
    /* else: a late answer to a fetch given up on */
    zmq_msg_close (&body);
    return rc;
}

/* Returns the bytes of handle (a segment or a file handle) for task seq
   of the running job: from the cache, or fetched from the server. NULL
   with the reason in error. */
static const char *
s_fetch (s_worker_t *self, uint64_t seq, const ff_handle_t *handle, char *error,
         size_t error_size)
{
    size_t index;
    for (index = 0; index < self->nfetched; index++) {
        s_fetched_t *entry = self->fetched [index];
        if (strcmp (entry->job, self->running) == 0 && entry->offset == handle->offset
        &&  entry->length == handle->length && entry->segment_len == handle->segment.len
        &&  memcmp (entry->segment, handle->segment.ptr, handle->segment.len) == 0) {
            /* the newest now */
            memmove (self->fetched + index, self->fetched + index + 1,
                     (self->nfetched - index - 1) * sizeof (s_fetched_t *));
            self->fetched [self->nfetched - 1] = entry;
            entry->pin = self->fetch_pin;
            self->fetch_hits++;
            return entry->bytes;
        }
    }
    if (handle->length > (uint64_t) FF_MAX_TASK_MESSAGE || handle->segment.len > FF_SHM_HANDLE_MAX) {
        snprintf (error, error_size, "an array of %" PRIu64 " bytes is more than a worker "
                  "without shared memory fetches", handle->length);
        return NULL;
    }
    if (!self->fetch_codec) {
        if (!(self->fetch_codec = ff_codec_new ())) {
            snprintf (error, error_size, "out of memory for a fetch");
            return NULL;
        }
        ff_codec_set_version (self->fetch_codec, FF_PROTOCOL_POOL);
    }
    s_fetch_room (self, handle->length);
    s_fetched_t *entry = (s_fetched_t *) malloc (sizeof (s_fetched_t) + handle->segment.len
                                                 + handle->length + 1);
    if (!entry) {
        snprintf (error, error_size, "out of memory for %" PRIu64 " fetched bytes",
                  handle->length);
        return NULL;
    }
    snprintf (entry->job, sizeof (entry->job), "%s", self->running);
    entry->offset = handle->offset;
    entry->length = handle->length;
    entry->segment_len = handle->segment.len;
    entry->bytes = entry->data;
    entry->segment = entry->data + handle->length;
    memcpy (entry->segment, handle->segment.ptr, handle->segment.len);
    entry->pin = self->fetch_pin;
    uint64_t asked = 0, received = 0;
    int inflight = 0, rc = 0;
    int64_t deadline = ff_clock_ms () + FF_FETCH_TIMEOUT_MS;
    while (rc == 0 && received < entry->length) {
        while (inflight < FF_FETCH_WINDOW && asked < entry->length) {
            uint64_t piece = entry->length - asked < (uint64_t) FF_FETCH_CHUNK
                           ? entry->length - asked: (uint64_t) FF_FETCH_CHUNK;
            ff_codec_fetch (self->fetch_codec, entry->job, self->job.worker, seq,
                            entry->segment, entry->segment_len, entry->offset + asked, piece);
            if (s_send_control (self, self->fetch_codec, 100) != 0)
                break;
            asked += piece;
            inflight++;
        }
        int64_t now = ff_clock_ms ();
        if (now >= deadline || ff_stop_signal || zsys_interrupted || self->ended
        ||  s_pool_is_cancelled (self, entry->job)) {
            snprintf (error, error_size, "%s while fetching an array",
                      now >= deadline? "no answer from the server"
                      : self->ended? "the pool ended": "stopped or cancelled");
            rc = -1;
            break;
        }
        zmq_pollitem_t item = { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 };
        self->wait.drained [S_CONTROL] = 0;     /* read here one message at a time */
        if (zmq_poll (&item, 1, deadline - now < 100? deadline - now: 100) > 0) {
            uint64_t before = received;
            rc = s_fetch_receive (self, entry, seq, &received, &inflight, error, error_size);
            if (received > before)
                deadline = ff_clock_ms () + FF_FETCH_TIMEOUT_MS;
        }
    }
    if (rc != 0) {
        free (entry);
        return NULL;
    }
    self->fetches++;
    self->fetched [self->nfetched++] = entry;
    self->fetched_bytes += entry->length;
    return entry->bytes;
}

/* Turns the handles of item into arrays: slices of mapped segments or
   .npy files, or inline bytes, each checked against its dtype and shape. Returns 0, or -1 with
   a message in error. */
static int
s_arrays (s_worker_t *self, const ff_item_t *item, ff_array_t *arrays, char *names,
          char *error, size_t error_size)
{
    size_t index, dim;
    self->fetch_pin++;              /* the entries this task uses stay while it runs */
    for (index = 0; index < item->narrays; index++) {
        const ff_handle_t *handle = &item->arrays [index];
        ff_array_t *array = &arrays [index];
        uint64_t count = 1;
        for (dim = 0; dim < handle->ndim; dim++) {
            if (handle->shape [dim] && count > UINT64_MAX / handle->shape [dim]) {
                snprintf (error, error_size, "array shape overflows");
                return -1;
            }
            count *= handle->shape [dim];
        }
        size_t itemsize = ff_npy_dtype_size ((ff_dtype_t) handle->dtype);
        if (!itemsize || count > UINT64_MAX / itemsize || count * itemsize != handle->length) {
            snprintf (error, error_size, "array %.*s: %" PRIu64 " bytes do not fit its shape",
                      (int) handle->name.len, handle->name.ptr, handle->length);
            return -1;
        }
        char *name = names + index * 16;
        snprintf (name, 16, "%.*s", (int) (handle->name.len < 15? handle->name.len: 15),
                  handle->name.ptr);
        array->name = name;
        array->dtype = (ff_dtype_t) handle->dtype;
        array->ndim = handle->ndim;
        memcpy (array->shape, handle->shape, sizeof (array->shape));
        array->size = (size_t) handle->length;
        if (handle->segment.len == 0)
            array->data = handle->bytes.ptr;
        else
        if (self->pool && self->options.no_shm) {
            if (!(array->data = s_fetch (self, item->seq, handle, error, error_size)))
                return -1;
        }
        else
        if (handle->segment.len > strlen (FF_SHM_FILE_PREFIX)
        &&  memcmp (handle->segment.ptr, FF_SHM_FILE_PREFIX, strlen (FF_SHM_FILE_PREFIX)) == 0) {
            const ff_npy_t *npy;
            ff_shm_t *map = s_map_file (self, handle->segment, &npy, error, error_size);
            if (!map)
                return -1;
            /* whole elements of the file's own dtype, inside its data */
            if (npy->dtype != array->dtype || handle->offset < npy->offset
            ||  (handle->offset - npy->offset) % npy->itemsize != 0
            ||  handle->length > npy->bytes
            ||  handle->offset - npy->offset > npy->bytes - handle->length) {
                snprintf (error, error_size, "array slice out of the data of %s",
                          ff_shm_name (map));
                return -1;
            }
            array->data = ff_shm_data (map) + handle->offset;
        }
        else {
            if (handle->offset > SIZE_MAX - handle->length) {
                snprintf (error, error_size, "array slice out of range");
                return -1;
            }
            ff_shm_t *map = s_map (self, handle->segment,
                                   (size_t) (handle->offset + handle->length),
                                   error, error_size);
            if (!map)
                return -1;
            array->data = ff_shm_data (map) + handle->offset;
        }
    }
    return 0;
}

static uint64_t
s_unix_ms (void)
{
    struct timespec now;
    clock_gettime (CLOCK_REALTIME, &now);
    return (uint64_t) now.tv_sec * 1000 + (uint64_t) now.tv_nsec / 1000000;
}

/* The stop flag of ff_task_run: SIGINT or SIGTERM was received. */
static int
s_stopped (void)
{
    return ff_stop_signal || zsys_interrupted || ff_exec_cancelled ();
}

/* Sends the result message encoded in the codec, waiting at most 1 s,
   without a copy: the codec lends its buffer to libzmq. Returns 0, or -1
   with *data and *size set to the message's bytes, still valid for a
   copying retry (the codec lends a buffer again only at the next send). */
static int
s_send_lent (s_worker_t *self, void **data, size_t *size)
{
    void *hint;
    ff_codec_free_fn *free_fn;
    zmq_msg_t msg;
    int timeout_ms = 1000;
    if (ff_codec_lend (self->codec, data, size, &free_fn, &hint))
        return -1;
    if (zmq_msg_init_data (&msg, *data, *size, free_fn, hint)) {
        free_fn (*data, hint);
        return -1;
    }
    void *handle = zsock_resolve (self->results);
    zmq_setsockopt (handle, ZMQ_SNDTIMEO, &timeout_ms, sizeof (timeout_ms));
    if (zmq_msg_send (&msg, handle, 0) < 0) {
        zmq_msg_close (&msg);       /* gives the buffer back, bytes intact */
        return -1;
    }
    return 0;
}

/* Runs every task of one batch and sends one result message. A task
   whose kernel fails runs again, up to the job's retries in all. */
static void
s_run_batch (s_worker_t *self, s_job_t *job, ff_msg_t *msg)
{
    ff_item_t item;
    if (self->pool) {
        /* the job's segments; a cancel for it from now on kills its command */
        ff_shm_job_prefix (job->id, self->shm_prefix, sizeof (self->shm_prefix));
        /* the watchdog (heartbeat thread) holds this batch to its job's --timeout */
        __atomic_store_n (&self->hb_args.timeout_ms, job->timeout_ms, __ATOMIC_RELEASE);
        pthread_mutex_lock (&self->lock);
        snprintf (self->running, sizeof (self->running), "%s", job->id);
        pthread_mutex_unlock (&self->lock);
    }
    size_t count = msg->count;      /* the items left: next_item counts down */
    int encoded = ff_codec_result_begin (self->codec, job->id, self->job.worker, count);
    uint64_t largest = 0, largest_seq = 0;
    /* one clock read per task: a task starts when the one before it ended;
       wall-clock start times come from one offset per batch */
    int64_t now_us = ff_clock_us ();
    int64_t wall_offset_ms = (int64_t) s_unix_ms () - now_us / 1000;
    while (ff_msg_next_item (msg, &item)) {
        /* the input name as a C string: on the stack unless it is long */
        char short_input [256];
        char *input = item.input.len < sizeof (short_input)? short_input: ff_str_dup (item.input);
        if (input == short_input) {
            memcpy (short_input, item.input.ptr, item.input.len);
            short_input [item.input.len] = 0;
        }
        ff_task_t task = {
            .seq = item.seq, .input = input? input: "",
            .data = (const uint8_t *) item.data.ptr, .size = item.data.len,
            .params = (const char *const *) job->params,
            .nparams = job->nparams
        };
        const ff_kernel_t *kernel = item.kernel < job->nkernels? job->kernels [item.kernel]: NULL;
        int64_t started = now_us;
        item.start_ms = (uint64_t) (wall_offset_ms + started / 1000);
        ff_task_outcome_t outcome;
        ff_array_t arrays [FF_MAX_ARRAYS];
        char names [FF_MAX_ARRAYS * 16];
        char error [256];
        if (item.narrays > 0
        &&  s_arrays (self, &item, arrays, names, error, sizeof (error))) {
            /* a handle this worker cannot use: an error result, not a crash */
            ff_log_error ("task %" PRIu64 ": %s", item.seq, error);
            ff_task_fail (error, &self->out, &outcome);
        }
        else {
            task.arrays = item.narrays > 0? arrays: NULL;
            task.narrays = item.narrays;
            ff_task_policy_t policy = {
                .retries = job->retries, .stopped = s_stopped,
                .running_since = &self->running_since, .first_ms = started / 1000
            };
            ff_task_run (kernel, &task, &policy, &self->out, &outcome);
        }
        now_us = ff_clock_us ();
        item.runtime_us = (uint64_t) (now_us - started);
        item.bytes_in = item.data.len;
        item.tries = outcome.tries;
        item.status = outcome.status;
        item.kind = outcome.kind;
        item.data.ptr = (const char *) self->out.data.data;
        item.data.len = self->out.data.size;
        item.meta.ptr = (const char *) self->out.meta.data;
        item.meta.len = self->out.meta.size;
        if (encoded == 0 && ff_codec_result_item (self->codec, &item) != 0) {
            encoded = -1;
            largest = item.data.len + item.meta.len;
            largest_seq = item.seq;
        }
        if (input != short_input)
            free (input);
        self->done++;
    }
    ff_result_reset (&self->out, 16u << 20);
    self->batches++;
    if (self->pool) {
        int cancelled;
        pthread_mutex_lock (&self->lock);
        cancelled = ff_exec_cancelled ();
        ff_exec_cancel (0);
        self->running [0] = 0;
        pthread_mutex_unlock (&self->lock);
        if (cancelled || s_pool_is_cancelled (self, job->id))
            return;                 /* a cancelled job's task is answered with nothing */
    }
    if (encoded != 0) {
        /* the message is incomplete and cannot go: leave without a bye, as
           a crash, so that the ventilator sends these tasks again (the one
           that does not fit runs alone, charged, until its error record) */
        ff_log_error ("out of memory encoding the results of %u tasks (task %" PRIu64
                      ", %" PRIu64 " bytes): leaving so that they run again elsewhere",
                      (unsigned) count, largest_seq, largest);
        self->no_memory = self->ended = 1;
        return;
    }
    /* the sink may be slow (or restarting, with --resume): keep trying, but
       give up when stopped, when the job ends or changes, or when the
       ventilator falls silent (it sends these tasks again, or is gone) */
    const ff_settings_t *settings = ff_topology_settings (self->topology);
    uint64_t joins = self->joins;
    /* the first try lends the codec's buffer to libzmq (no copy); a retry
       sends a copy of the same bytes, which a failed send gave back */
    void *data = (void *) ff_codec_data (self->codec);
    size_t size = ff_codec_size (self->codec);
    int sent = s_send_lent (self, &data, &size);
    while (sent != 0 && ff_net_send (self->results, NULL, 0, data, size, 1000) != 0) {
        if (ff_stop_signal || zsys_interrupted) {
            ff_log_error ("stopped before a result could be sent");
            zsock_set_linger (self->results, 0);    /* the sink is gone: do not wait */
            break;
        }
        s_on_control (self);
        if (self->ended || self->joins != joins || !self->welcomed
        ||  ff_clock_ms () - self->last_heard > settings->worker_timeout_ms) {
            ff_log_error ("the sink takes no results and the job %s: a result is dropped",
                          self->ended? "ended": self->joins != joins? "changed"
                          : "ventilator fell silent");
            break;
        }
    }
}

/* Sends our hb from control when hb_ms has passed since the last one
   (outside a pool). Returns the ms until the next is due, at most hb_ms. */
static int
s_heartbeat (s_worker_t *self)
{
    if (!self->welcomed || self->pool || !self->heartbeat)
        return self->welcomed? self->job.hb_ms: 100;
    int64_t now = ff_clock_ms ();
    int64_t left = __atomic_load_n (&self->hb_sent, __ATOMIC_ACQUIRE) + self->job.hb_ms - now;
    if (left <= 0) {
        s_send_control (self, self->hb_codec, 0);
        __atomic_store_n (&self->hb_sent, now, __ATOMIC_RELEASE);
        left = self->job.hb_ms;
    }
    return (int) left;
}

static int
    s_told_over (const s_worker_t *self);

/* Runs the batches waiting on the task pipe: up to S_BATCHES_PER_POLL
   without polling in between (a poll per batch costs more than a tiny
   task), stopping early on a stop signal, and once the launcher said the
   job is over (what is still queued was done elsewhere: its results would
   be duplicates nobody reads). */
#define S_BATCHES_PER_POLL 16

static void
s_on_tasks (s_worker_t *self)
{
    int round;
    self->wait.drained [S_TASKS] = 0;       /* unless the loop ends on EAGAIN */
    for (round = 0; round < S_BATCHES_PER_POLL; round++) {
        zmq_msg_t body;
        ff_msg_t msg;
        int rc;
        if (ff_stop_signal || zsys_interrupted || self->ended || !self->tasks
        ||  s_told_over (self))
            return;
        if ((rc = ff_net_recv (self->tasks, NULL, &body)) < 0) {
            ff_net_wait_read (&self->wait, S_TASKS, rc);
            return;
        }
        self->last_heard = ff_clock_ms ();     /* FF_HELLO_HEARS_TASKS */
        if (rc == 1) {
            ff_log_reject (&self->rejected, "multipart message on task pipe");
            continue;
        }
        s_job_t *job = NULL;
        s_heartbeat (self);
        if (ff_msg_decode_items (zmq_msg_data (&body), zmq_msg_size (&body), &msg, self->items))
            ff_log_reject (&self->rejected, "malformed task message");
        else
        if (self->pool && msg.type == FF_MSG_JOBSPEC)
            s_pool_jobspec (self, &msg);
        else
        if (self->pool && msg.type == FF_MSG_FORGET)
            s_pool_forget (self, msg.job);
        else
        if (self->pool && msg.type == FF_MSG_TASK && msg.version == FF_PROTOCOL_POOL
        &&  (job = s_pool_job (self, msg.job))) {
            if (!s_pool_is_cancelled (self, job->id))
                s_run_batch (self, job, &msg);
        }
        else
        if (!self->pool && msg.type == FF_MSG_TASK && msg.version == FF_PROTOCOL_VERSION
        &&  ff_str_eq (msg.job, self->job.id))
            s_run_batch (self, &self->job, &msg);
        else
            ff_log_reject (&self->rejected, "foreign task message");
        zmq_msg_close (&body);
    }
}

static void
s_say_bye (s_worker_t *self)
{
    if (!self->welcomed)
        return;
    ff_codec_bye (self->codec, self->job.id, self->job.worker);
    s_send_control (self, self->codec, 200);
}

/* Set by FF_SIGNAL_JOB_OVER (SIGUSR1), which the launcher sends its
   workers once the job is over (the ventilator ended well: every task is
   written): whatever it joined is done, and a worker that has not joined
   yet never will. Taken only by a worker that `fanfold run` started (it
   starts them with the signal blocked) and not in a pool; any other
   worker leaves the signal's action as it found it. */
static volatile sig_atomic_t s_job_over = 0;
/* An eventfd the handler writes, polled in s_run, so that a signal that
   comes between the loop's test and its poll ends that poll at once;
   -1 while the signal is not taken. */
static volatile sig_atomic_t s_job_over_fd = -1;

static void
s_on_job_over (int signum)
{
    (void) signum;
    int saved = errno;
    uint64_t one = 1;
    s_job_over = 1;
    if (s_job_over_fd >= 0) {
        /* EAGAIN (the counter full) leaves it readable: nothing lost */
        ssize_t written = write (s_job_over_fd, &one, sizeof (one));
        (void) written;
    }
    errno = saved;
}

/* Takes the job-over signal from here on when it came blocked (the
   launcher's mark: one sent before this is kept, not lost); else leaves
   it alone. Returns 0, or -1 (said) when it cannot. */
static int
s_job_over_install (void)
{
    struct sigaction action;
    sigset_t usr1;
    if (!ff_signals_job_over_blocked ())
        return 0;
    int fd = eventfd (0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (fd < 0) {
        ff_log_error ("cannot make an eventfd for SIGUSR1: %s", strerror (errno));
        return -1;
    }
    s_job_over_fd = fd;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_job_over;
    sigemptyset (&action.sa_mask);
    if (sigaction (FF_SIGNAL_JOB_OVER, &action, NULL) != 0) {
        ff_log_error ("cannot take SIGUSR1: %s", strerror (errno));
        s_job_over_fd = -1;
        close (fd);
        return -1;
    }
    sigemptyset (&usr1);
    ff_signals_add_job_over (&usr1);
    pthread_sigmask (SIG_UNBLOCK, &usr1, NULL);
    return 0;
}

/* Stops taking the job-over signal (blocked again: this process's other
   threads block it) and closes its eventfd. */
static void
s_job_over_remove (void)
{
    sigset_t usr1;
    if (s_job_over_fd < 0)
        return;
    sigemptyset (&usr1);
    ff_signals_add_job_over (&usr1);
    pthread_sigmask (SIG_BLOCK, &usr1, NULL);
    int fd = s_job_over_fd;
    s_job_over_fd = -1;
    close (fd);
}

/* Whether the launcher said that the job is over, and it counts: not in
   a pool, whose jobs the launcher does not run. */
static int
s_told_over (const s_worker_t *self)
{
    return s_job_over && !self->pool;
}

/* Empties the eventfd once it is readable. */
static void
s_job_over_drain (void)
{
    uint64_t count;
    while (read (s_job_over_fd, &count, sizeof (count)) > 0)
        ;
}

static int
s_run (s_worker_t *self)
{
    const ff_settings_t *settings = ff_topology_settings (self->topology);
    int64_t last_hello = 0;
    self->last_heard = ff_clock_ms ();
    ff_log_info ("joining the job at %s%s", ff_topology_connect (self->topology, FF_EP_CONTROL),
                 s_job_over_fd >= 0? " (SIGUSR1: the job is over)": "");
    while (!ff_stop_signal && !zsys_interrupted && !self->ended && !s_told_over (self)) {
        int64_t now = ff_clock_ms ();
        if (!self->welcomed && now - last_hello >= S_HELLO_EVERY_MS) {
            s_send_hello (self);
            last_hello = now;
        }
        /* one poll(2) per wake-up, none while the task pipe has messages
           and control was sent on (its ZMQ_EVENTS is asked then) */
        int wait_ms = s_heartbeat (self);
        int ready [S_OVER + 1];
        self->wait.sockets [S_TASKS] = self->tasks? zsock_resolve (self->tasks): NULL;
        self->wait.fds [S_OVER] = s_job_over_fd;
        int rc = ff_net_wait (&self->wait, ready, wait_ms);
        if (rc < 0) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return FF_EXIT_WORKER_FAILED;
        }
        /* a wait that ran out asks control's ZMQ_EVENTS again: a pool
           worker seldom sends on control, and its state then rests on no
           single edge of the descriptor for longer than a heartbeat */
        if (rc == 0)
            self->wait.drained [S_CONTROL] = 0;
        if (ready [S_OVER]) {
            s_job_over_drain ();
            if (s_told_over (self))
                break;
            ff_log_info ("SIGUSR1 ignored: a pool's jobs are not the launcher's");
        }
        /* control first: an hb queued behind a long batch is no silence */
        if (ready [S_CONTROL])
            s_on_control (self);
        if (self->ended)
            break;
        if (self->welcomed && ff_clock_ms () - self->last_heard > settings->worker_timeout_ms) {
            ff_log_info ("ventilator silent for %d ms: joining again", settings->worker_timeout_ms);
            s_leave (self);
            last_hello = 0;
            continue;
        }
        if (ready [S_TASKS] && self->tasks)
            s_on_tasks (self);
    }
    /* the job over, its ventilator and sink are gone: nobody to tell */
    int over = self->ended || s_told_over (self);
    if (!over)
        s_say_bye (self);
    /* at the job's end every result is acked: nothing to flush; when
       stopped, give the last result a moment to reach the sink */
    zsock_set_linger (self->results, over? 0: 1000);
    zsock_set_linger (self->control, self->welcomed && !over? 200: 0);
    ff_log_info ("%s after %" PRIu64 " tasks in %" PRIu64 " messages",
                 self->dropped? "dropped by the ventilator": self->ended? "job ended"
                 : over? "job over": "stopped", self->done, self->batches);
    return self->no_memory? FF_EXIT_WORKER_NO_MEMORY
         : self->dropped? FF_EXIT_WORKER_DROPPED: FF_EXIT_OK;
}

static void
s_usage (FILE *stream)
{
    fprintf (stream,
             "usage: fanfold-worker -t TOPOLOGY [--no-shm] [-v]\n"
             "Joins the job running on TOPOLOGY, runs tasks until the job ends\n"
             "or SIGINT/SIGTERM (which finishes the current task first). Started with\n"
             "SIGUSR1 blocked, as `fanfold run` starts its workers, it takes SIGUSR1 as\n"
             "\"the job is over\" and leaves at once, with status 0, without a bye (but\n"
             "not in a pool, where it is ignored); otherwise SIGUSR1 keeps the action\n"
             "it came with (by default it ends the worker, as before).\n");
    ff_options_usage (FF_CMD_WORKER, stream);
    fprintf (stream,
             "Exit: %d job ended or stopped; %d usage or setup error; %d dropped by the\n"
             "ventilator (a task ran past --timeout); %d out of memory encoding a result;\n"
             "%d a task hung past --timeout.\n",
             FF_EXIT_OK, FF_EXIT_ERROR, FF_EXIT_WORKER_DROPPED, FF_EXIT_WORKER_NO_MEMORY,
             FF_EXIT_WORKER_RECYCLED);
}

/* Reads the command line through the option table into options. Returns
   FF_OPTIONS_OK, or FF_OPTIONS_HELP / FF_OPTIONS_ERROR (said on stderr). */
static ff_options_status_t
s_parse_options (s_options_t *options, int argc, char *argv [])
{
    char error [512];
    ff_options_t *parsed = ff_options_new (FF_CMD_WORKER);
    if (!parsed)
        return FF_OPTIONS_ERROR;
    ff_options_status_t status = ff_options_parse (parsed, argc, argv, error, sizeof (error));
    if (status == FF_OPTIONS_OK && !ff_options_given (parsed, FF_OPT_TOPOLOGY)) {
        snprintf (error, sizeof (error), "-t TOPOLOGY is required");
        status = FF_OPTIONS_ERROR;
    }
    if (status == FF_OPTIONS_ERROR)
        fprintf (stderr, "fanfold-worker: %s\n", error);
    options->topology_path = ff_options_text (parsed, FF_OPT_TOPOLOGY, NULL);
    options->no_shm = ff_options_given (parsed, FF_OPT_NO_SHM) > 0;
    options->verbose = ff_options_given (parsed, FF_OPT_VERBOSE) > 0;
    ff_options_destroy (&parsed);
    return status;
}

int
ff_worker_main (int argc, char *argv [])
{
    s_worker_t self;
    char error [512];
    int rc = FF_EXIT_WORKER_FAILED;

    if (ff_stdfds_guard () < 0)
        return FF_EXIT_ERROR;       /* not even /dev/null: before any socket, fd 0-2 must be open */
    /* one malloc arena for the worker's threads (main, ZeroMQ's I/O and
       reaper, heartbeat): each other one costs a 64 MB reservation, its
       page faults and its unmapping, some 0.1 ms of CPU a worker, 256 of
       them on 2 cores; the threads seldom allocate at once. Refused, the
       default only costs that time */
    (void) mallopt (M_ARENA_MAX, 1);
    memset (&self, 0, sizeof (self));
    pthread_mutex_init (&self.lock, NULL);
    switch (s_parse_options (&self.options, argc, argv)) {
        case FF_OPTIONS_OK: break;
        case FF_OPTIONS_HELP: s_usage (stdout); return FF_EXIT_OK;
        case FF_OPTIONS_ERROR: s_usage (stderr); return FF_EXIT_ERROR;
    }
    ff_log_init ("fanfold-worker", self.options.verbose);
    ff_signals_install ();
    if (s_job_over_install () != 0) {
        pthread_mutex_destroy (&self.lock);
        return FF_EXIT_ERROR;
    }
    ff_fdlimit_raise ();
    /* libzmq zeroes a slot per allowed socket at the first one; the
       raised limit would cost a worker, which holds a few, 160 kB */
    zsys_set_max_sockets (FF_STAGE_MAX_SOCKETS);
    self.topology = ff_topology_load (self.options.topology_path, error, sizeof (error));
    if (!self.topology) {
        ff_log_error ("%s", error);
        s_job_over_remove ();
        pthread_mutex_destroy (&self.lock);
        return FF_EXIT_ERROR;
    }
    const ff_settings_t *settings = ff_topology_settings (self.topology);
    ff_net_peer_name (self.name, sizeof (self.name));
    /* over tcp to another host the segments are out of reach: ask for bytes */
    const char *control = ff_topology_connect (self.topology, FF_EP_CONTROL);
    if (strncmp (control, "tcp://", 6) == 0
    &&  strncmp (control, "tcp://127.", 10) != 0
    &&  strncmp (control, "tcp://localhost:", 16) != 0
    &&  strncmp (control, "tcp://[::1]:", 12) != 0)
        self.options.no_shm = 1;
    self.codec = ff_codec_new ();
    self.hb_codec = ff_codec_new ();
    /* a seam for tests: an encoder that runs out of memory past this size */
    const char *fault = getenv ("FANFOLD_FAULT_CODEC_LIMIT");
    if (fault && self.codec)
        ff_codec_set_limit (self.codec, (size_t) strtoull (fault, NULL, 10));
    self.items = (ff_item_t *) calloc (FF_MAX_BATCH, sizeof (ff_item_t));
    self.control = ff_net_socket (ZMQ_DEALER, settings->hwm, 200, FF_MAX_CONTROL_MESSAGE);
    self.wait = (ff_net_wait_t) {
        .sockets = { self.control? zsock_resolve (self.control): NULL },
        .fds = { -1, -1, -1 }, .count = S_OVER + 1, .fds_wake_only = 1
    };
    self.results = ff_net_socket (ZMQ_PUSH, settings->hwm, settings->linger_ms, -1);
    if (!self.codec || !self.hb_codec || !self.items || !self.control || !self.results)
        ff_log_error ("cannot create sockets");
    else
    if (!(self.security = ff_security_new (self.topology, 0, 1, error, sizeof (error)))
    ||  ff_security_connect (self.security, self.control,
                             ff_topology_connect (self.topology, FF_EP_CONTROL), error, sizeof (error))
    ||  ff_security_connect (self.security, self.results,
                             ff_topology_connect (self.topology, FF_EP_RESULTS), error, sizeof (error)))
        ff_log_error ("%s", error);
    else
    if (zsock_connect (self.control, "%s", ff_topology_connect (self.topology, FF_EP_CONTROL)) != 0
    ||  zsock_connect (self.results, "%s", ff_topology_connect (self.topology, FF_EP_RESULTS)) != 0)
        ff_log_error ("cannot connect to %s or %s",
                      ff_topology_connect (self.topology, FF_EP_CONTROL),
                      ff_topology_connect (self.topology, FF_EP_RESULTS));
    else
        rc = s_run (&self);
    /* over (see s_run): both sockets linger 0, so closing them drops what
       they still queue, as an exit does; the context's teardown (messages
       between its threads, the reaper, unmapping) would cost CPU that 256
       workers ending at once on 2 cores pay. A sanitized build tears down,
       for its leak check */
    if (!FF_SANITIZED && (self.ended || s_told_over (&self))) {
        fflush (NULL);
        _exit (rc);
    }
    s_leave (&self);
    s_job_clear (&self.job);
    pthread_mutex_destroy (&self.lock);
    ff_result_reset (&self.out, 0);
    zsock_destroy (&self.results);
    zsock_destroy (&self.control);
    ff_codec_destroy (&self.codec);
    ff_codec_destroy (&self.hb_codec);
    free (self.items);
    ff_security_destroy (&self.security);
    ff_topology_destroy (&self.topology);
    s_job_over_remove ();
    return rc;
}

/* Weak, so that the launcher, which links this file for ff_worker_main,
   keeps its own main. */
__attribute__ ((weak)) int
main (int argc, char *argv [])
{
    return ff_worker_main (argc, argv);
}
