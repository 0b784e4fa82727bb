/*  fanfold-server: the warm pool of docs/SERVICE.md. One poll loop holds
    the ventilator role and the sink role for every job of the pool: it
    binds the topology's control ROUTER and a task pipe per worker
    (ff_peers), the results PULL, and the clients ROUTER; each job lives in
    an ff_pool (one ledger per job, weighted round-robin). The server
    writes no output: results go back to the job's client, which writes
    them with ff_delivery. Organised as: jobs, workers, clients, results,
    dispatch, heartbeats and status, the loop, main. */

#include "fanfold/job/dispatch.h"
#include "fanfold/job/ledger.h"
#include "fanfold/job/peers.h"
#include "fanfold/job/taskmsg.h"
#include "fanfold/kernels/npy.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/fdlimit.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"
#include "fanfold/runtime/options.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/shm.h"
#include "fanfold/runtime/stdfds.h"
#include "fanfold/runtime/topology.h"
#include "fanfold/service/pool.h"

#include <czmq.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_RETRY_BLOCKED_MS 5
#define S_DRAIN_PER_ROUND 1024
#define S_STATUS_MAX (256 << 10)    /* bytes of the status document */
#define S_FETCH_MAPS 16             /* mappings kept for fetches, oldest closed first */

/* A job's kernels and parameters as its client sent them (the jobspec
   each worker gets before its first task of the job). */
typedef struct {
    char *kernels [FF_MAX_KERNELS]; /* names */
    size_t nkernels;                /* how many */
    char *params [2 * FF_MAX_PARAMS]; /* key, value, ... */
    size_t nparams;                 /* pairs */
    uint64_t skip;                  /* seqs a resumed job wrote before (first ack) */
    int64_t timeout_ms;             /* --timeout (param timeout), 0 for none */
} s_spec_t;

/* A task's array handles, copied from the client's tasks item: the
   ledger's ref of that task, freed when its slot is. */
typedef struct {
    size_t narrays;                 /* handles */
    ff_handle_t arrays [FF_MAX_ARRAYS]; /* they point into bytes */
    char bytes [];                  /* names, segments, inline bytes */
} s_handles_t;

/* A worker's figures for the status document. */
typedef struct {
    uint64_t id;                    /* worker id */
    uint64_t ticks;                 /* heartbeat rounds seen */
    uint64_t busy_ticks;            /* rounds in which it held tasks */
    uint64_t fetches;               /* fetches answered with bytes */
    uint64_t fetched;               /* array bytes sent to it by fetches */
} s_busy_t;

/* A mapping kept to answer fetches: a segment or a .npy of one job. */
typedef struct {
    char job [FF_POOL_NAME_MAX];    /* the job it was mapped for */
    ff_shm_t *map;                  /* the mapping */
    uint64_t from, to;              /* the bytes a fetch may read: a file's array data */
} s_fetch_map_t;

typedef struct {
    const char *topology_path;      /* -t */
    int insecure;                   /* --insecure */
    int verbose;                    /* -v */
    ff_topology_t *topology;        /* endpoints and tuning */
    const ff_settings_t *settings;  /* its tuning */
    ff_security_t *security;        /* CURVE keys and the ZAP handler */
    ff_peers_t *peers;              /* control ROUTER, workers and their pipes */
    zsock_t *control;               /* the peers' control socket */
    zsock_t *results;               /* PULL from every worker */
    zsock_t *clients;               /* ROUTER to the submitting clients */
    ff_codec_t *codec;              /* encoder, version 2 */
    ff_pool_t *pool;                /* the jobs */
    char name [24];                 /* the pool's id */
    int64_t last_hb;                /* last heartbeat round */
    uint64_t rejected;              /* refused messages */
    uint64_t jobs_done;             /* jobs that ended */
    uint64_t jobs_cancelled;        /* jobs that were cancelled */
    s_busy_t busy [FF_MAX_WORKERS]; /* per worker, for status */
    size_t nbusy;                   /* how many */
    s_fetch_map_t fetch_maps [S_FETCH_MAPS];  /* mappings that answer fetches, oldest first */
    size_t nfetch_maps;             /* how many */
    uint64_t fetch_refused;         /* fetches refused */
} s_server_t;

/* ------------------------------------------------------------------ jobs */

static void s_fetch_drop (s_server_t *self, const char *job);

static void
s_spec_free (s_spec_t *spec)
{
    size_t index;
    if (!spec)
        return;
    for (index = 0; index < spec->nkernels; index++)
        free (spec->kernels [index]);
    for (index = 0; index < 2 * spec->nparams; index++)
        free (spec->params [index]);
    free (spec);
}

static void
s_release_handles (void *ref, void *arg)
{
    (void) arg;
    free (ref);
}

static void
s_send_client (s_server_t *self, ff_pool_job_t *job)
{
    ff_net_send (self->clients, job->routing, job->routing_len, ff_codec_data (self->codec),
                 ff_codec_size (self->codec), 0);
}

/* Ends job: with cancel, the workers that hold its tasks get `cancel`;
   every worker told about it gets `forget`; its segments are unlinked and
   it leaves the pool. */
static void
s_job_end (s_server_t *self, ff_pool_job_t *job, int cancel, const char *why)
{
    size_t index;
    for (index = 0; index < ff_peers_count (self->peers); index++) {
        ff_peer_t *peer = ff_peers_at (self->peers, index);
        if (cancel && ff_pool_holds (job, peer->id) > 0) {
            ff_codec_cancel (self->codec, job->name);
            ff_net_send (self->control, peer->routing, peer->routing_len,
                         ff_codec_data (self->codec), ff_codec_size (self->codec), 0);
            if (peer->hb_routing_len)
                ff_net_send (self->control, peer->hb_routing, peer->hb_routing_len,
                             ff_codec_data (self->codec), ff_codec_size (self->codec), 0);
        }
        if (ff_pool_told (job, peer->id)) {
            ff_codec_forget (self->codec, job->name);
            ff_net_send (peer->push, NULL, 0, ff_codec_data (self->codec),
                         ff_codec_size (self->codec), 0);
        }
    }
    s_fetch_drop (self, job->name);
    int removed = ff_shm_clean (job->name);
    if (cancel)
        self->jobs_cancelled++;
    else
        self->jobs_done++;
    ff_log_info ("job %s of %s %s%s%s", job->name, job->client, why,
                 removed? ": segments removed": "", "");
    s_spec_free ((s_spec_t *) job->spec);
    job->spec = NULL;
    ff_pool_job_remove (self->pool, job->id);
}

/* Sends the client its job's error records (tasks that failed for good).
   A record that cannot be encoded ends the job. */
static int
s_send_errors (s_server_t *self, ff_pool_job_t *job)
{
    int rc;
    while ((rc = ff_taskmsg_next_error (self->codec, job->name, job->ledger)) == 1)
        s_send_client (self, job);
    return rc < 0? -1: 0;
}

/* Settles departed workers in every job that is due (all with all). */
static void
s_settle (s_server_t *self, int all)
{
    size_t index;
    int64_t now = ff_clock_ms ();
    for (index = 0; index < ff_pool_jobs (self->pool); index++) {
        ff_pool_job_t *job = ff_pool_job_at (self->pool, index);
        ff_ledger_settled_t settled [FF_LEDGER_MAX_DEPARTED];
        if (ff_ledger_departed (job->ledger) == 0)
            continue;
        ff_ledger_settle (job->ledger, now, all, settled, FF_LEDGER_MAX_DEPARTED);
        if (s_send_errors (self, job)) {
            s_job_end (self, job, 1, "lost an error record (out of memory)");
            index--;
        }
    }
}

/* --------------------------------------------------------------- workers */

static s_busy_t *
s_busy (s_server_t *self, uint64_t id)
{
    size_t index;
    for (index = 0; index < self->nbusy; index++)
        if (self->busy [index].id == id)
            return &self->busy [index];
    return NULL;
}

static void
s_remove_worker (s_server_t *self, ff_peer_t *peer, const char *why, int crashed)
{
    s_busy_t *busy = s_busy (self, peer->id);
    ff_log_info ("worker %" PRIu64 " (%s) %s", peer->id, peer->name, why);
    if (busy)
        *busy = self->busy [--self->nbusy];
    ff_pool_worker_leave (self->pool, peer->id, why, crashed, ff_clock_ms ());
    ff_peers_remove (self->peers, peer->id);
}

static void
s_send_welcome (s_server_t *self, ff_peer_t *peer)
{
    ff_codec_welcome_pool (self->codec, self->name, peer->id, peer->endpoint,
                           (uint64_t) self->settings->heartbeat_ms);
    ff_net_send (self->control, peer->routing, peer->routing_len, ff_codec_data (self->codec),
                 ff_codec_size (self->codec), 0);
}

static void
s_on_hello (s_server_t *self, zmq_msg_t *routing, const ff_msg_t *msg)
{
    ff_peer_t *peer;
    char error [512];
    if (!ff_str_eq (msg->role, "worker")) {
        ff_log_reject (&self->rejected, "a sink hello: a pool has no sink");
        return;
    }
    ff_peers_hello_t rc = ff_peers_hello (self->peers, zmq_msg_data (routing),
                                          zmq_msg_size (routing), msg->name.ptr, msg->name.len,
                                          msg->flags, ff_clock_ms (), &peer, error,
                                          sizeof (error));
    if (rc == FF_PEERS_KNOWN) {
        /* it lost us and joins again: its job table is empty, so the
           next task of each job brings the jobspec again */
        size_t index;
        for (index = 0; index < ff_pool_jobs (self->pool); index++)
            ff_pool_untell (ff_pool_job_at (self->pool, index), peer->id);
        s_send_welcome (self, peer);
        return;
    }
    if (rc == FF_PEERS_FULL) {
        ff_log_reject (&self->rejected, "%s", error);
        return;
    }
    if (rc == FF_PEERS_FAILED) {
        ff_log_error ("cannot make a task pipe for a worker: %s", error);
        return;
    }
    if (self->nbusy == FF_MAX_WORKERS
    ||  ff_pool_worker_add (self->pool, peer->id, (msg->flags & FF_HELLO_PY_ONLY) != 0)) {
        ff_peers_remove (self->peers, peer->id);
        return;
    }
    self->busy [self->nbusy++] = (s_busy_t) { .id = peer->id };
    s_send_welcome (self, peer);
    ff_log_info ("worker %" PRIu64 " (%s%s) joined on %s", peer->id, peer->name,
                 (msg->flags & FF_HELLO_PY_ONLY)? ", py: kernels": "", peer->endpoint);
}

static void s_on_fetch (s_server_t *self, zmq_msg_t *routing, const ff_msg_t *msg);

static void
s_on_control (s_server_t *self)
{
    int rc, round;
    for (round = 0; round < S_DRAIN_PER_ROUND; round++) {
        zmq_msg_t routing, body;
        ff_msg_t msg;
        if ((rc = ff_net_recv (self->control, &routing, &body)) < 0)
            break;
        if (rc == 1) {
            ff_log_reject (&self->rejected, "message with unexpected frames on control");
            continue;
        }
        if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg))
            ff_log_reject (&self->rejected, "malformed control message");
        else
        if (msg.type == FF_MSG_HELLO)
            s_on_hello (self, &routing, &msg);
        else
        if (msg.type == FF_MSG_FETCH)
            s_on_fetch (self, &routing, &msg);
        else
        if (msg.version != FF_PROTOCOL_POOL || !ff_str_eq (msg.job, self->name))
            ff_log_reject (&self->rejected, "%s of version %" PRIu64 " or for another pool",
                           ff_msg_type_name (msg.type), msg.version);
        else
        if (msg.type == FF_MSG_HB || msg.type == FF_MSG_BYE) {
            ff_peer_t *peer = ff_peers_heard (self->peers, &msg, zmq_msg_data (&routing),
                                              zmq_msg_size (&routing), &self->rejected);
            if (peer)
                s_remove_worker (self, peer, "left", 0);
        }
        else
            ff_log_reject (&self->rejected, "unexpected %s on control", ff_msg_type_name (msg.type));
        zmq_msg_close (&routing);
        zmq_msg_close (&body);
    }
}

/* ----------------------------------------------------------------- fetch */

/* A worker that cannot map shared memory (hello flag bit 0: --no-shm, or
   on another host) asks for the bytes of its tasks' arrays in pieces of
   at most FF_FETCH_CHUNK (docs/PROTOCOL.md section 10.4). The server
   answers only for a task the worker holds now, and only bytes that task
   names: a slice of one of its handles (a segment of its job, or the
   array data of a .npy file handle), or for a py: job a segment its
   payload or its jobspec names (the job's own segments, or this user's
   frozen ones), exactly what a worker on this host could map for it. */

/* Forgets the fetch mappings of job (every one with job NULL). */
static void
s_fetch_drop (s_server_t *self, const char *job)
{
    size_t index = 0;
    while (index < self->nfetch_maps) {
        s_fetch_map_t *entry = &self->fetch_maps [index];
        if (job && strcmp (entry->job, job) != 0) {
            index++;
            continue;
        }
        ff_shm_destroy (&entry->map, 0);
        *entry = self->fetch_maps [--self->nfetch_maps];
    }
}

/* Returns the mapping of segment (a name or a file handle) for job, from
   the cache or newly mapped with the checks a worker makes, and the
   first and last byte that may be read of it in *from and *to. */
static ff_shm_t *
s_fetch_map (s_server_t *self, const char *job, ff_str_t segment, const char *prefix,
             uint64_t *from, uint64_t *to, char *error, size_t size)
{
    size_t index;
    char text [FF_SHM_HANDLE_MAX], path [FF_SHM_HANDLE_MAX];
    if (segment.len == 0 || segment.len >= sizeof (text)) {
        snprintf (error, size, "segment name too long or empty");
        return NULL;
    }
    memcpy (text, segment.ptr, segment.len);
    text [segment.len] = 0;
    for (index = 0; index < self->nfetch_maps; index++) {
        s_fetch_map_t *entry = &self->fetch_maps [index];
        if (strcmp (entry->job, job) == 0 && strcmp (ff_shm_name (entry->map), text) == 0) {
            *from = entry->from;
            *to = entry->to;
            return entry->map;
        }
    }
    ff_shm_t *map;
    uint64_t first = 0, last;
    if (strncmp (text, FF_SHM_FILE_PREFIX, strlen (FF_SHM_FILE_PREFIX)) == 0) {
        ff_shm_file_id_t want, got;
        ff_npy_t npy;
        if (ff_shm_file_handle_parse (segment.ptr, segment.len, &want, path, sizeof (path))) {
            snprintf (error, size, "malformed file handle");
            return NULL;
        }
        size_t length = strlen (path);
        if (length < 5 || strcmp (path + length - 4, ".npy") != 0) {
            snprintf (error, size, "file handle %.200s: not a .npy", path);
            return NULL;
        }
        if (!(map = ff_shm_map_file (path, &want, &got, error, size)))
            return NULL;
        size_t bytes = ff_shm_size (map);
        size_t head = bytes < ((size_t) 1 << 20) + 12? bytes: ((size_t) 1 << 20) + 12;
        if (bytes == 0 || ff_npy_parse (ff_shm_data (map), head, bytes, path, &npy, error, size)) {
            if (bytes == 0)
                snprintf (error, size, "%.200s: empty file", path);
            ff_shm_destroy (&map, 0);
            return NULL;
        }
        first = npy.offset;         /* the array data only, never the header */
        last = npy.offset + npy.bytes;
    }
    else {
        if (!(map = ff_shm_open (text, prefix, 0, error, size)))
            return NULL;
        last = ff_shm_size (map);
    }
    if (self->nfetch_maps == S_FETCH_MAPS) {
        ff_shm_destroy (&self->fetch_maps [0].map, 0);
        memmove (self->fetch_maps, self->fetch_maps + 1,
                 (S_FETCH_MAPS - 1) * sizeof (s_fetch_map_t));
        self->nfetch_maps--;
    }
    s_fetch_map_t *entry = &self->fetch_maps [self->nfetch_maps++];
    snprintf (entry->job, sizeof (entry->job), "%s", job);
    entry->map = map;
    entry->from = *from = first;
    entry->to = *to = last;
    return map;
}

/* Returns 1 when needle occurs in the len bytes at haystack. */
static int
s_fetch_names (const void *haystack, size_t len, ff_str_t needle)
{
    return haystack && needle.len && len >= needle.len
        && memmem (haystack, len, needle.ptr, needle.len) != NULL;
}

/* Decides whether worker may read [offset, offset + length) of segment
   for task: fills prefix with the segment prefix to check when mapping.
   Returns NULL when it may, else the reason. */
static const char *
s_fetch_allowed (ff_pool_job_t *job, const ff_ledger_task_t *task,
                 const ff_msg_t *msg, char *prefix, size_t prefix_size)
{
    const s_handles_t *handles = (const s_handles_t *) task->ref;
    size_t index;
    ff_shm_job_prefix (job->name, prefix, prefix_size);
    /* a slice of one of the task's own handles */
    for (index = 0; handles && index < handles->narrays; index++) {
        const ff_handle_t *handle = &handles->arrays [index];
        if (handle->segment.len == msg->segment.len
        &&  memcmp (handle->segment.ptr, msg->segment.ptr, msg->segment.len) == 0
        &&  msg->offset >= handle->offset
        &&  msg->offset - handle->offset <= handle->length
        &&  msg->length <= handle->length - (msg->offset - handle->offset))
            return NULL;
    }
    if (!job->py)
        return "the task has no such array";
    /* a py: job's arrays travel in its payload (and its jobspec's
       py.shares): a segment named there, of this job or a frozen one */
    char user [32];
    snprintf (user, sizeof (user), "ff_%u_", (unsigned) getuid ());
    int own = msg->segment.len > strlen (prefix)
           && memcmp (msg->segment.ptr, prefix, strlen (prefix)) == 0;
    int frozen = msg->segment.len > strlen (user) + 7
              && memcmp (msg->segment.ptr, user, strlen (user)) == 0
              && memcmp (msg->segment.ptr + msg->segment.len - 7, "_frozen", 7) == 0;
    if (!own && !frozen)
        return "not a segment of this job, nor a frozen one";
    int named = s_fetch_names (task->data, task->size, msg->segment);
    const s_spec_t *spec = (const s_spec_t *) job->spec;
    for (index = 0; !named && spec && index < spec->nparams; index++)
        named = s_fetch_names (spec->params [2 * index + 1],
                               strlen (spec->params [2 * index + 1]), msg->segment);
    if (!named)
        return "the task does not name that segment";
    if (frozen && !own)
        snprintf (prefix, prefix_size, "%s", user);
    return NULL;
}

/* Answers a fetch: the bytes, or status 1 and the reason. */
static void
s_on_fetch (s_server_t *self, zmq_msg_t *routing, const ff_msg_t *msg)
{
    ff_peer_t *peer = ff_peers_find (self->peers, msg->worker);
    const void *routing_id = zmq_msg_data (routing);
    size_t routing_len = zmq_msg_size (routing);
    if (!peer
    ||  !((peer->routing_len == routing_len
           && memcmp (peer->routing, routing_id, routing_len) == 0)
          || (peer->hb_routing_len == routing_len
              && memcmp (peer->hb_routing, routing_id, routing_len) == 0))) {
        ff_log_reject (&self->rejected, "a fetch from a worker that is not the one it names");
        return;
    }
    peer->last_seen = ff_clock_ms ();
    char error [512], prefix [FF_SHM_NAME_MAX];
    const char *why = NULL;
    const void *bytes = NULL;
    uint64_t from = 0, to = 0;
    ff_pool_job_t *job = ff_pool_job_named (self->pool, msg->job.ptr, msg->job.len);
    const ff_ledger_task_t *task = job? ff_ledger_task (job->ledger, msg->seq): NULL;
    if (!job)
        why = "no such job (it ended)";
    else
    if (!task || task->state != FF_SLOT_SENT || task->worker != peer->id)
        why = "the worker does not hold that task";
    else
    if (msg->length == 0 || msg->length > FF_FETCH_CHUNK || msg->offset > UINT64_MAX - msg->length) {
        snprintf (error, sizeof (error), "a fetch asks for 1 to %lld bytes", FF_FETCH_CHUNK);
        why = error;
    }
    else
    if (!(why = s_fetch_allowed (job, task, msg, prefix, sizeof (prefix)))) {
        ff_shm_t *map = s_fetch_map (self, job->name, msg->segment, prefix, &from, &to,
                                     error, sizeof (error));
        if (!map)
            why = error;
        else
        if (msg->offset < from || msg->offset + msg->length > to)
            why = "the bytes asked lie outside the array data";
        else
            bytes = ff_shm_data (map) + msg->offset;
    }
    s_busy_t *busy = s_busy (self, peer->id);
    if (why) {
        ff_log_reject (&self->fetch_refused,
                       "worker %" PRIu64 ": fetch of %.*s for task %" PRIu64 " of %.*s refused: %s",
                     peer->id, (int) (msg->segment.len < 200? msg->segment.len: 200),
                     msg->segment.ptr, msg->seq, (int) msg->job.len, msg->job.ptr, why);
        ff_codec_fetched (self->codec, msg->job.ptr, msg->job.len, msg->seq, msg->segment.ptr,
                          msg->segment.len, msg->offset, 1, why, strlen (why));
    }
    else {
        if (busy) {
            busy->fetches++;
            busy->fetched += msg->length;
        }
        ff_codec_fetched (self->codec, msg->job.ptr, msg->job.len, msg->seq, msg->segment.ptr,
                          msg->segment.len, msg->offset, 0, bytes, (size_t) msg->length);
    }
    ff_net_send (self->control, routing_id, routing_len, ff_codec_data (self->codec),
                 ff_codec_size (self->codec), 0);
}

/* --------------------------------------------------------------- clients */

static void
s_refuse (s_server_t *self, zmq_msg_t *routing, const char *reason)
{
    ff_codec_refused (self->codec, reason);
    ff_net_send (self->clients, zmq_msg_data (routing), zmq_msg_size (routing),
                 ff_codec_data (self->codec), ff_codec_size (self->codec), 0);
    ff_log_info ("job refused: %s", reason);
}

static s_spec_t *
s_spec_new (const ff_msg_t *msg)
{
    s_spec_t *spec = (s_spec_t *) calloc (1, sizeof (s_spec_t));
    size_t index;
    if (!spec)
        return NULL;
    for (index = 0; index < msg->nkernels; index++) {
        if (!(spec->kernels [index] = ff_str_dup (msg->kernels [index])))
            goto fail;
        spec->nkernels = index + 1;
    }
    for (index = 0; index < 2 * msg->nparams; index++) {
        if (!(spec->params [index] = ff_str_dup (msg->params [index])))
            goto fail;
        spec->nparams = (index + 2) / 2;
    }
    return spec;
fail:
    s_spec_free (spec);
    return NULL;
}

static void
s_on_submit (s_server_t *self, zmq_msg_t *routing, const ff_msg_t *msg)
{
    size_t index;
    uint32_t retries = FF_DEFAULT_RETRIES;
    int py = ff_pool_kernels_py (msg->kernels, msg->nkernels);
    if (py < 0) {
        s_refuse (self, routing, "a job's kernels are all py: ones or none of them");
        return;
    }
    if (zmq_msg_size (routing) > FF_POOL_ROUTING_MAX) {
        s_refuse (self, routing, "routing id too long");
        return;
    }
    for (index = 0; index < msg->nparams; index++)
        if (ff_str_eq (msg->params [2 * index], "retries")) {
            char text [16];
            snprintf (text, sizeof (text), "%.*s", (int) (msg->params [2 * index + 1].len < 15
                      ? msg->params [2 * index + 1].len: 15), msg->params [2 * index + 1].ptr);
            long value = strtol (text, NULL, 10);
            retries = value >= 1 && value <= FF_MAX_RETRIES? (uint32_t) value: FF_DEFAULT_RETRIES;
            break;
        }
    uint32_t share = msg->share > FF_MAX_SHARE? FF_MAX_SHARE: (uint32_t) msg->share;
    s_spec_t *spec = s_spec_new (msg);
    for (index = 0; spec && index < msg->nparams; index++)
        if (ff_str_eq (msg->params [2 * index], "timeout")) {
            char text [32];
            snprintf (text, sizeof (text), "%.*s", (int) (msg->params [2 * index + 1].len < 31
                      ? msg->params [2 * index + 1].len: 31), msg->params [2 * index + 1].ptr);
            double seconds = strtod (text, NULL);
            spec->timeout_ms = seconds > 0 && seconds < 1e6? (int64_t) (seconds * 1000): 0;
        }
    ff_pool_job_t *job = spec? ff_pool_job_add (self->pool, share, py, retries): NULL;
    if (!job) {
        s_spec_free (spec);
        s_refuse (self, routing, spec? "the pool holds as many jobs as it can ("
                  FF_TEXT (FF_MAX_JOBS) "): try again later": "out of memory");
        return;
    }
    job->spec = spec;
    memcpy (job->routing, zmq_msg_data (routing), zmq_msg_size (routing));
    job->routing_len = zmq_msg_size (routing);
    job->last_seen = job->created = ff_clock_ms ();
    snprintf (job->client, sizeof (job->client), "%.*s",
              (int) (msg->name.len < sizeof (job->client) - 1? msg->name.len
                     : sizeof (job->client) - 1), msg->name.ptr);
    ff_codec_accepted (self->codec, job->name, (uint64_t) self->settings->window,
                       (uint64_t) self->settings->window_bytes);
    s_send_client (self, job);
    ff_log_info ("job %s of %s accepted: %zu kernels, share %u", job->name, job->client,
                 spec->nkernels, share);
}

/* A copy of an item's handles for the ledger, or NULL when memory ran out. */
static s_handles_t *
s_handles_copy (const ff_item_t *item)
{
    size_t index, bytes = 0;
    for (index = 0; index < item->narrays; index++) {
        const ff_handle_t *handle = &item->arrays [index];
        bytes += handle->name.len + handle->segment.len + handle->bytes.len;
    }
    s_handles_t *copy = (s_handles_t *) malloc (sizeof (s_handles_t) + bytes);
    if (!copy)
        return NULL;
    char *at = copy->bytes;
    copy->narrays = item->narrays;
    for (index = 0; index < item->narrays; index++) {
        ff_handle_t *handle = &copy->arrays [index];
        *handle = item->arrays [index];
        ff_str_t *fields [3] = { &handle->name, &handle->segment, &handle->bytes };
        size_t field;
        for (field = 0; field < 3; field++) {
            if (fields [field]->len)
                memcpy (at, fields [field]->ptr, fields [field]->len);
            fields [field]->ptr = at;
            at += fields [field]->len;
        }
    }
    return copy;
}

/* Creates the tasks of one tasks message in the job's ledger. Returns 0,
   or -1 when the client broke the window or the seq order (or memory ran
   out): the job ends. */
static int
s_on_tasks (s_server_t *self, ff_pool_job_t *job, ff_msg_t *msg)
{
    s_spec_t *spec = (s_spec_t *) job->spec;
    ff_item_t item;
    (void) self;
    if (!job->started)
        return -1;                  /* tasks before the first ack */
    while (ff_msg_next_item (msg, &item)) {
        /* seqs an earlier run wrote are counted, not sent */
        while (ff_ledger_next_seq (job->ledger) < spec->skip
        &&     ff_ledger_next_seq (job->ledger) < item.seq)
            ff_ledger_create (job->ledger, 0, "", NULL, 0, NULL, 0, 1, 1.0, NULL);
        if (item.seq != ff_ledger_next_seq (job->ledger) || item.kernel >= spec->nkernels
        ||  !ff_ledger_room (job->ledger, 1))
            return -1;
        char *input = ff_str_dup (item.input);
        s_handles_t *handles = item.narrays? s_handles_copy (&item): NULL;
        ff_ledger_create_t rc = FF_LEDGER_NO_MEMORY;
        if (input && (handles || !item.narrays))
            rc = ff_ledger_create (job->ledger, item.kernel, input, item.data.ptr, item.data.len,
                                   handles, item.chunk, item.chunks, 1.0, NULL);
        free (input);
        if (rc == FF_LEDGER_NO_MEMORY) {
            free (handles);
            return -1;
        }
    }
    return 0;
}

static void
s_on_ack (s_server_t *self, ff_pool_job_t *job, ff_msg_t *msg)
{
    uint64_t seq;
    int64_t now_us = ff_clock_us (), now_ms = now_us / 1000;
    if (!job->started) {
        job->started = 1;
        ((s_spec_t *) job->spec)->skip = msg->written;
        ff_ledger_set_skip (job->ledger, msg->written);
    }
    while (ff_msg_next_seq (msg, &seq)) {
        const ff_ledger_task_t *task = ff_ledger_task (job->ledger, seq);
        ff_pool_worker_t *worker = task && task->state == FF_SLOT_SENT
                                 ? ff_pool_worker (self->pool, task->worker): NULL;
        if (ff_ledger_ack (job->ledger, seq, now_ms) == FF_LEDGER_ACKED && worker)
            worker->done++;
    }
    ff_ledger_advance (job->ledger, msg->written, now_ms);
    ff_dispatch_adapt (job->policy, job->ledger, now_us);
}

/* Ends the jobs whose written mark reached their total. */
static void
s_finish_jobs (s_server_t *self)
{
    size_t index;
    for (index = 0; index < ff_pool_jobs (self->pool); ) {
        ff_pool_job_t *job = ff_pool_job_at (self->pool, index);
        if (job->started && job->total >= 0
        &&  ff_ledger_written (job->ledger) == (uint64_t) job->total
        &&  ff_ledger_next_seq (job->ledger) == (uint64_t) job->total) {
            ff_codec_end (self->codec, job->name, 0);
            s_send_client (self, job);
            s_job_end (self, job, 0, "done");
        }
        else
            index++;
    }
}

static void s_send_status (s_server_t *self, zmq_msg_t *routing);

static void
s_on_clients (s_server_t *self)
{
    int rc, round;
    for (round = 0; round < S_DRAIN_PER_ROUND; round++) {
        zmq_msg_t routing, body;
        ff_msg_t msg;
        if ((rc = ff_net_recv (self->clients, &routing, &body)) < 0)
            break;
        if (rc == 1) {
            ff_log_reject (&self->rejected, "message with unexpected frames from a client");
            continue;
        }
        ff_pool_job_t *job = NULL;
        if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg)
        ||  msg.version != FF_PROTOCOL_POOL)
            ff_log_reject (&self->rejected, "malformed client message");
        else
        if (msg.type == FF_MSG_SUBMIT)
            s_on_submit (self, &routing, &msg);
        else
        if (msg.type == FF_MSG_STATUS && !msg.has_text)
            s_send_status (self, &routing);
        else
        if (!(job = ff_pool_job_named (self->pool, msg.job.ptr, msg.job.len))
        ||  job->routing_len != zmq_msg_size (&routing)
        ||  memcmp (job->routing, zmq_msg_data (&routing), job->routing_len) != 0) {
            /* a job that ended, or another client's: nothing for this one */
            if (msg.type != FF_MSG_HB && msg.type != FF_MSG_ACK)
                ff_log_reject (&self->rejected, "%s for a job this client does not hold",
                               ff_msg_type_name (msg.type));
        }
        else {
            job->last_seen = ff_clock_ms ();
            if (msg.type == FF_MSG_TASKS && s_on_tasks (self, job, &msg)) {
                ff_codec_end (self->codec, job->name, 2);
                s_send_client (self, job);
                s_job_end (self, job, 1, "cancelled: its client broke the window or the "
                           "seq order");
            }
            else
            if (msg.type == FF_MSG_TOTAL)
                job->total = msg.total;
            else
            if (msg.type == FF_MSG_ACK)
                s_on_ack (self, job, &msg);
            else
            if (msg.type == FF_MSG_CANCEL)
                s_job_end (self, job, 1, "cancelled by its client");
            else
            if (msg.type != FF_MSG_HB && msg.type != FF_MSG_TASKS)
                ff_log_reject (&self->rejected, "unexpected %s from a client",
                               ff_msg_type_name (msg.type));
        }
        zmq_msg_close (&routing);
        zmq_msg_close (&body);
    }
}

/* --------------------------------------------------------------- results */

/* Frees the worker's credit for the tasks of a result message as it is
   forwarded, without waiting for the client's ack, while no other job
   waits (ff_pool_others_wait): the next tasks go out one hop later instead
   of three (the result reaches the client unless the client goes, which
   cancels the job). The client's ack still moves the written mark; an ack
   of a seq acked here is ignored. */
static void
s_on_forwarded (s_server_t *self, ff_pool_job_t *job, ff_msg_t *msg, int64_t now_ms)
{
    ff_item_t item;
    if (!job->started || ff_pool_others_wait (self->pool, job))
        return;
    /* the policy adapts the credit when the client's ack comes, as before */
    while (ff_msg_next_item (msg, &item)) {
        const ff_ledger_task_t *task = ff_ledger_task (job->ledger, item.seq);
        ff_pool_worker_t *worker = task && task->state == FF_SLOT_SENT
                                 ? ff_pool_worker (self->pool, task->worker): NULL;
        if (task && ff_ledger_ack (job->ledger, item.seq, now_ms) == FF_LEDGER_ACKED && worker)
            worker->done++;
    }
}

/* Forwards each result message, unchanged, to its job's client, and
   frees its tasks' credit. */
static void
s_on_results (s_server_t *self)
{
    int rc, round;
    int64_t now_ms = ff_clock_ms ();
    for (round = 0; round < S_DRAIN_PER_ROUND; round++) {
        zmq_msg_t body;
        ff_msg_t msg;
        if ((rc = ff_net_recv (self->results, NULL, &body)) < 0)
            break;
        if (rc == 1) {
            ff_log_reject (&self->rejected, "multipart message on results");
            continue;
        }
        ff_pool_job_t *job = NULL;
        if (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg)
        ||  msg.type != FF_MSG_RESULT || msg.worker == 0)
            ff_log_reject (&self->rejected, "malformed result message");
        else
        if ((job = ff_pool_job_named (self->pool, msg.job.ptr, msg.job.len))) {
            if (ff_net_send (self->clients, job->routing, job->routing_len, zmq_msg_data (&body),
                             zmq_msg_size (&body), 0) == 0)
                s_on_forwarded (self, job, &msg, now_ms);
        }
        /* else: a late result of a job that ended */
        zmq_msg_close (&body);
    }
}

/* -------------------------------------------------------------- dispatch */

/* Sends seqs of job to peer: its jobspec first when it has not had it. */
static int
s_send_tasks (s_server_t *self, ff_pool_job_t *job, ff_peer_t *peer, const uint64_t *seqs,
              size_t count)
{
    size_t index;
    s_spec_t *spec = (s_spec_t *) job->spec;
    if (!ff_pool_told (job, peer->id)) {
        ff_codec_jobspec (self->codec, job->name, (const char *const *) spec->kernels,
                          spec->nkernels, (const char *const *) spec->params, spec->nparams);
        if (ff_net_send (peer->push, NULL, 0, ff_codec_data (self->codec),
                         ff_codec_size (self->codec), 0) != 0
        ||  ff_pool_tell (job, peer->id))
            return -1;
    }
    if (ff_codec_task_begin (self->codec, job->name, count))
        return -1;
    for (index = 0; index < count; index++) {
        const ff_ledger_task_t *task = ff_ledger_task (job->ledger, seqs [index]);
        const s_handles_t *handles = (const s_handles_t *) task->ref;
        ff_item_t item;
        memset (&item, 0, offsetof (ff_item_t, arrays));
        item.seq = task->seq;
        item.kernel = task->kernel;
        item.input = ff_str (task->input);
        item.data.ptr = (const char *) task->data;
        item.data.len = task->size;
        item.attempt = task->attempts + 1;
        item.chunk = task->chunk;
        item.chunks = task->chunks;
        if (handles) {
            item.narrays = handles->narrays;
            memcpy (item.arrays, handles->arrays, handles->narrays * sizeof (ff_handle_t));
        }
        if (ff_codec_task_item (self->codec, &item))
            return -1;
    }
    return ff_net_send (peer->push, NULL, 0, ff_codec_data (self->codec),
                        ff_codec_size (self->codec), 0) == 0? 0: -1;
}

static void
s_dispatch (s_server_t *self)
{
    int64_t now_us = ff_clock_us (), now_ms = now_us / 1000;
    uint64_t seqs [FF_MAX_BATCH], job_id, worker;
    size_t count;
    while ((count = ff_pool_plan (self->pool, now_ms, &job_id, &worker, seqs)) > 0) {
        ff_pool_job_t *job = ff_pool_job (self->pool, job_id);
        ff_peer_t *peer = ff_peers_find (self->peers, worker);
        if (peer && s_send_tasks (self, job, peer, seqs, count) == 0)
            ff_pool_sent (self->pool, job_id, worker, seqs, count, now_ms, now_us);
        else
            ff_pool_unsend (self->pool, job_id, worker, seqs, count, now_ms + S_RETRY_BLOCKED_MS);
    }
}

/* ----------------------------------------------------- heartbeats, status */

/* Whether peer has run a task of the job it serves past that job's
   --timeout. */
static int
s_overdue (s_server_t *self, ff_peer_t *peer, int64_t now)
{
    ff_pool_job_t *job = ff_pool_worker_job (self->pool, peer->id);
    const s_spec_t *spec = job? (const s_spec_t *) job->spec: NULL;
    const ff_ledger_worker_t *held = job? ff_ledger_worker (job->ledger, peer->id): NULL;
    return spec && spec->timeout_ms > 0 && held && held->outstanding > 0
        && now - held->busy_since > spec->timeout_ms;
}

static void
s_heartbeat (s_server_t *self)
{
    int64_t now = ff_clock_ms ();
    size_t index;
    if (now - self->last_hb < self->settings->heartbeat_ms)
        return;
    self->last_hb = now;
    ff_codec_set_version (self->codec, FF_PROTOCOL_POOL);
    for (index = 0; index < ff_peers_count (self->peers); ) {
        ff_peer_t *peer = ff_peers_at (self->peers, index);
        s_busy_t *busy = s_busy (self, peer->id);
        if (busy) {
            busy->ticks++;
            busy->busy_ticks += ff_pool_worker_job (self->pool, peer->id) != NULL;
        }
        ff_codec_hb (self->codec, self->name, peer->id);
        int rc = ff_net_send (self->control, peer->routing, peer->routing_len,
                              ff_codec_data (self->codec), ff_codec_size (self->codec), 0);
        if (rc != 0 && errno == EHOSTUNREACH)
            s_remove_worker (self, peer, "its worker disconnected", 1);
        else
        if (now - peer->last_seen > self->settings->worker_timeout_ms)
            s_remove_worker (self, peer, "its worker went silent", 1);
        else
        if (s_overdue (self, peer, now)) {
            /* as in run: the task goes elsewhere; the worker, once its kernel
               returns, is told to leave (its watchdog ends it past --timeout
               + 2 s if it does not), and fanfold serve starts another */
            ff_codec_end (self->codec, self->name, 2);
            ff_net_send (self->control, peer->routing, peer->routing_len,
                         ff_codec_data (self->codec), ff_codec_size (self->codec), 0);
            s_remove_worker (self, peer, "it ran past --timeout", 1);
        }
        else
            index++;
    }
    for (index = 0; index < ff_pool_jobs (self->pool); ) {
        ff_pool_job_t *job = ff_pool_job_at (self->pool, index);
        if (now - job->last_seen > self->settings->client_timeout_ms) {
            s_job_end (self, job, 1, "cancelled: its client went silent");
            continue;
        }
        ff_codec_hb (self->codec, job->name, ff_ledger_workers (job->ledger));
        if (ff_net_send (self->clients, job->routing, job->routing_len,
                         ff_codec_data (self->codec), ff_codec_size (self->codec), 0) != 0
        &&  errno == EHOSTUNREACH) {
            s_job_end (self, job, 1, "cancelled: its client disconnected");
            continue;
        }
        index++;
    }
}

/* Appends text to a bounded buffer. */
static void
s_put (char *buf, size_t size, size_t *at, const char *format, ...)
    __attribute__ ((format (printf, 4, 5)));

static void
s_put (char *buf, size_t size, size_t *at, const char *format, ...)
{
    va_list args;
    if (*at >= size)
        return;
    va_start (args, format);
    int len = vsnprintf (buf + *at, size - *at, format, args);
    va_end (args);
    *at += len > 0? (size_t) len: 0;
}

/* Writes a JSON string (the characters a client name or host:pid may
   hold; others become '?'). */
static void
s_put_string (char *buf, size_t size, size_t *at, const char *text)
{
    s_put (buf, size, at, "\"");
    for (; *text; text++)
        s_put (buf, size, at, "%c", (*text == '"' || *text == '\\' || (unsigned char) *text < 32)
                                    ? '?': *text);
    s_put (buf, size, at, "\"");
}

static void
s_send_status (s_server_t *self, zmq_msg_t *routing)
{
    char *doc = (char *) malloc (S_STATUS_MAX);
    size_t at = 0, index, queue = 0;
    int64_t now = ff_clock_ms ();
    if (!doc)
        return;
    s_put (doc, S_STATUS_MAX, &at, "{\"jobs\":[");
    for (index = 0; index < ff_pool_jobs (self->pool); index++) {
        ff_pool_job_t *job = ff_pool_job_at (self->pool, index);
        s_spec_t *spec = (s_spec_t *) job->spec;
        uint64_t done = ff_ledger_written (job->ledger) - spec->skip, workers = 0;
        double age = (double) (now - job->created) / 1000.0;
        size_t peer;
        for (peer = 0; peer < ff_pool_workers (self->pool); peer++)
            workers += ff_pool_holds (job, ff_pool_worker_at (self->pool, peer)->id) > 0;
        queue += ff_ledger_pending (job->ledger);
        s_put (doc, S_STATUS_MAX, &at, "%s{\"job\":", index? ",": "");
        s_put_string (doc, S_STATUS_MAX, &at, job->name);
        s_put (doc, S_STATUS_MAX, &at, ",\"client\":");
        s_put_string (doc, S_STATUS_MAX, &at, job->client);
        s_put (doc, S_STATUS_MAX, &at, ",\"done\":%" PRIu64 ",\"total\":%" PRId64
               ",\"rate\":%.1f,\"age_s\":%.3f,\"workers\":%" PRIu64 "}", done, job->total,
               age > 0? (double) done / age: 0.0, age, workers);
    }
    s_put (doc, S_STATUS_MAX, &at, "],\"workers\":[");
    for (index = 0; index < ff_peers_count (self->peers); index++) {
        ff_peer_t *peer = ff_peers_at (self->peers, index);
        ff_pool_worker_t *worker = ff_pool_worker (self->pool, peer->id);
        ff_pool_job_t *job = ff_pool_worker_job (self->pool, peer->id);
        s_busy_t *busy = s_busy (self, peer->id);
        s_put (doc, S_STATUS_MAX, &at, "%s{\"worker\":%" PRIu64 ",\"name\":", index? ",": "",
               peer->id);
        s_put_string (doc, S_STATUS_MAX, &at, peer->name? peer->name: "");
        s_put (doc, S_STATUS_MAX, &at, ",\"busy_pct\":%.0f,\"done\":%" PRIu64 ",\"fetches\":%"
               PRIu64 ",\"fetched\":%" PRIu64 ",\"job\":",
               busy && busy->ticks? 100.0 * (double) busy->busy_ticks / (double) busy->ticks: 0.0,
               worker? worker->done: 0, busy? busy->fetches: 0, busy? busy->fetched: 0);
        if (job)
            s_put_string (doc, S_STATUS_MAX, &at, job->name);
        else
            s_put (doc, S_STATUS_MAX, &at, "null");
        s_put (doc, S_STATUS_MAX, &at, "}");
    }
    s_put (doc, S_STATUS_MAX, &at, "],\"queue\":%zu}", queue);
    if (at < S_STATUS_MAX) {
        ff_codec_status (self->codec, doc, at);
        ff_net_send (self->clients, zmq_msg_data (routing), zmq_msg_size (routing),
                     ff_codec_data (self->codec), ff_codec_size (self->codec), 0);
    }
    else
        ff_log_error ("the status document exceeds %d bytes: not sent", S_STATUS_MAX);
    free (doc);
}

/* ------------------------------------------------------------------ loop */

static int
s_poll_timeout (s_server_t *self)
{
    int64_t now = ff_clock_ms ();
    int timeout = self->settings->heartbeat_ms;
    size_t index;
    for (index = 0; index < ff_pool_jobs (self->pool); index++) {
        ff_pool_job_t *job = ff_pool_job_at (self->pool, index);
        int64_t due = ff_ledger_settle_due (job->ledger);
        if (due != INT64_MAX && due - now + 1 < timeout)
            timeout = due - now + 1 < 0? 0: (int) (due - now + 1);
        if (ff_ledger_pending (job->ledger) && ff_ledger_workers (job->ledger) > 0
        &&  timeout > S_RETRY_BLOCKED_MS)
            timeout = S_RETRY_BLOCKED_MS;   /* a blocked pipe, or a busy worker */
    }
    return timeout;
}

static int
s_run (s_server_t *self)
{
    while (!ff_stop_signal && !zsys_interrupted) {
        s_dispatch (self);
        s_heartbeat (self);
        s_settle (self, 0);
        zmq_pollitem_t items [3] = {
            { zsock_resolve (self->control), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->results), 0, ZMQ_POLLIN, 0 },
            { zsock_resolve (self->clients), 0, ZMQ_POLLIN, 0 }
        };
        int rc = zmq_poll (items, 3, s_poll_timeout (self));
        if (rc < 0 && errno != EINTR) {
            ff_log_error ("poll failed: %s", zmq_strerror (errno));
            return FF_EXIT_ERROR;
        }
        if (rc <= 0)
            continue;
        if (items [0].revents & ZMQ_POLLIN)
            s_on_control (self);
        if (items [1].revents & ZMQ_POLLIN)
            s_on_results (self);
        if (items [2].revents & ZMQ_POLLIN)
            s_on_clients (self);
        s_finish_jobs (self);
    }
    /* stopped: every job ends (its client hears status 1), its segments go */
    while (ff_pool_jobs (self->pool) > 0) {
        ff_pool_job_t *job = ff_pool_job_at (self->pool, 0);
        ff_codec_end (self->codec, job->name, 1);
        s_send_client (self, job);
        s_job_end (self, job, 1, "ended: the server stops");
    }
    ff_log_info ("stopped after %" PRIu64 " jobs (%" PRIu64 " cancelled), %" PRIu64
                 " messages refused, %" PRIu64 " fetches refused", self->jobs_done,
                 self->jobs_cancelled, self->rejected, self->fetch_refused);
    return FF_EXIT_OK;
}

/* ------------------------------------------------------------------ main */

static void
s_usage (FILE *stream)
{
    fprintf (stream, "usage: fanfold-server -t TOPOLOGY [--insecure] [-v]\n"
             "Serves jobs submitted with `fanfold submit -t TOPOLOGY` on the workers that\n"
             "join TOPOLOGY (`fanfold worker -t TOPOLOGY`), until SIGINT or SIGTERM.\n");
    ff_options_usage (FF_CMD_SERVER, stream);
}

static ff_options_status_t
s_parse_options (s_server_t *self, int argc, char *argv [])
{
    char error [512];
    ff_options_t *parsed = ff_options_new (FF_CMD_SERVER);
    if (!parsed)
        return FF_OPTIONS_ERROR;
    ff_options_status_t status = ff_options_parse (parsed, argc, argv, error, sizeof (error));
    if (status == FF_OPTIONS_OK && !ff_options_given (parsed, FF_OPT_TOPOLOGY)) {
        snprintf (error, sizeof (error), "-t TOPOLOGY is required");
        status = FF_OPTIONS_ERROR;
    }
    if (status == FF_OPTIONS_ERROR)
        fprintf (stderr, "fanfold-server: %s\n", error);
    self->topology_path = ff_options_text (parsed, FF_OPT_TOPOLOGY, NULL);
    self->insecure = ff_options_given (parsed, FF_OPT_INSECURE) > 0;
    self->verbose = ff_options_given (parsed, FF_OPT_VERBOSE) > 0;
    ff_options_destroy (&parsed);
    return status;
}

/* Binds sock on the topology's endpoint which, with the security's keys. */
static int
s_bind (s_server_t *self, zsock_t *sock, ff_endpoint_t which, char *error, size_t size)
{
    const char *endpoint = ff_topology_bind (self->topology, which);
    if (ff_security_bind (self->security, sock, endpoint, error, size))
        return -1;
    if (ff_net_ipc_busy (endpoint)) {
        snprintf (error, size, "another job or server runs on %s", endpoint);
        return -1;
    }
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        snprintf (error, size, "cannot bind %s: %s", endpoint, zmq_strerror (errno));
        return -1;
    }
    return 0;
}

int
main (int argc, char *argv [])
{
    s_server_t *self = (s_server_t *) calloc (1, sizeof (s_server_t));
    char error [1024];
    int rc = FF_EXIT_ERROR;

    if (!self || ff_stdfds_guard () < 0) {
        free (self);
        return FF_EXIT_ERROR;
    }
    switch (s_parse_options (self, argc, argv)) {
        case FF_OPTIONS_OK: break;
        case FF_OPTIONS_HELP: s_usage (stdout); free (self); return FF_EXIT_OK;
        case FF_OPTIONS_ERROR: free (self); return FF_EXIT_ERROR;
    }
    ff_log_init ("fanfold-server", self->verbose);
    ff_signals_install ();
    ff_fdlimit_raise ();            /* and libzmq's accept never sees EMFILE */
    self->topology = ff_topology_load (self->topology_path, error, sizeof (error));
    if (!self->topology) {
        ff_log_error ("%s", error);
        goto done;
    }
    self->settings = ff_topology_settings (self->topology);
    /* the pool's id: unique per server instance, a word for segment names */
    snprintf (self->name, sizeof (self->name), "s%x%04x", (unsigned) getpid (),
              (unsigned) (ff_clock_us () & 0xffff));
    ff_pool_config_t config = {
        .name = self->name, .window = (size_t) self->settings->window,
        .window_bytes = (size_t) self->settings->window_bytes,
        .prefetch = self->settings->prefetch, .batch = self->settings->batch,
        .release = s_release_handles
    };
    self->pool = ff_pool_new (&config);
    self->codec = ff_codec_new ();
    self->results = ff_net_socket (ZMQ_PULL, self->settings->hwm, 0, FF_MAX_RESULT_MESSAGE);
    /* a client's results in flight are at most a window of messages (one
       task each at worst) and a heartbeat per round: room for all, so a
       forwarded result is never dropped at the high-water mark */
    self->clients = ff_net_socket (ZMQ_ROUTER, 2 * self->settings->window + self->settings->hwm,
                                   0, FF_MAX_TASK_MESSAGE);
    if (!self->pool || !self->codec || !self->results || !self->clients) {
        ff_log_error ("cannot allocate the pool or its sockets");
        goto done;
    }
    ff_codec_set_version (self->codec, FF_PROTOCOL_POOL);
    zsock_set_router_mandatory (self->clients, 1);
    if (ff_topology_prepare_dirs (self->topology, error, sizeof (error))
    ||  !(self->security = ff_security_new (self->topology, 1, self->insecure, error,
                                            sizeof (error)))
    ||  !(self->peers = ff_peers_new (self->topology, self->security, error, sizeof (error)))
    ||  s_bind (self, self->results, FF_EP_RESULTS, error, sizeof (error))
    ||  s_bind (self, self->clients, FF_EP_CLIENTS, error, sizeof (error))) {
        ff_log_error ("%s", error);
        goto done;
    }
    self->control = ff_peers_control (self->peers);
    ff_log_info ("admits up to %zu workers: %d file descriptors (ulimit -n), %d per worker",
                 ff_peers_fit_fds (self->peers), ff_fdlimit_max (), FF_VENT_FDS_PER_WORKER);
    ff_log_info ("pool %s on %s, clients on %s", self->name,
                 ff_topology_bind (self->topology, FF_EP_CONTROL),
                 ff_topology_bind (self->topology, FF_EP_CLIENTS));
    rc = s_run (self);
done:
    s_fetch_drop (self, NULL);
    ff_peers_destroy (&self->peers);
    ff_pool_destroy (&self->pool);
    zsock_destroy (&self->results);
    zsock_destroy (&self->clients);
    ff_security_destroy (&self->security);
    ff_codec_destroy (&self->codec);
    ff_topology_destroy (&self->topology);
    free (self);
    return rc;
}
