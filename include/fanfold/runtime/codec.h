/*  fanfold wire codec: every message of docs/PROTOCOL.md, encoded with
    msgpack-c and decoded by a strict, bounded reader that never allocates
    and never trusts a count, a type or a length from the wire.
    Decoded strings and byte fields point into the caller's frame. */

#ifndef FANFOLD_CODEC_H
#define FANFOLD_CODEC_H

#include <stddef.h>
#include <stdint.h>

#define FF_PROTOCOL_VERSION 1       /* the stages of one `fanfold run` */
#define FF_PROTOCOL_POOL 2          /* to and from fanfold-server (docs/SERVICE.md) */
#define FF_MAX_BATCH 4096           /* items in one task or result message */
#define FF_MAX_KERNELS 32           /* kernels in one job */
#define FF_MAX_PARAMS 64            /* key/value parameters in one job */
#define FF_MAX_ACK_SEQS 65536       /* seqs in one ack */

typedef enum {
    FF_MSG_HELLO = 1,               /* peer -> ventilator control */
    FF_MSG_WELCOME,                 /* ventilator -> worker control */
    FF_MSG_JOB,                     /* ventilator -> sink control */
    FF_MSG_ACK,                     /* sink -> ventilator control */
    FF_MSG_HB,                      /* both ways on control */
    FF_MSG_BYE,                     /* worker -> ventilator control */
    FF_MSG_END,                     /* ventilator -> worker control */
    FF_MSG_TASK,                    /* ventilator -> worker data pipe */
    FF_MSG_RESULT,                  /* worker -> sink data path */
    FF_MSG_RECORD,                  /* producer -> ventilator intake */
    FF_MSG_EOS,                     /* producer -> intake; sink -> emit */
    FF_MSG_EMIT,                    /* sink -> consumer on emit */
    FF_MSG_MARK,                    /* ventilator <-> sink control: input fingerprint */
    /* version 2 only: the pool (fanfold-server) */
    FF_MSG_JOBSPEC,                 /* server -> worker task pipe: a job's kernels and params */
    FF_MSG_FORGET,                  /* server -> worker task pipe: drop a job */
    FF_MSG_CANCEL,                  /* server -> worker control; client -> server */
    FF_MSG_SUBMIT,                  /* client -> server: a new job */
    FF_MSG_ACCEPTED,                /* server -> client: the job's id and window */
    FF_MSG_REFUSED,                 /* server -> client: why not */
    FF_MSG_TASKS,                   /* client -> server: tasks of its job */
    FF_MSG_TOTAL,                   /* client -> server: the job's task count */
    FF_MSG_STATUS,                  /* client -> server (request); server -> client (document) */
    FF_MSG_FETCH,                   /* worker -> server control: bytes of a task's array */
    FF_MSG_FETCHED                  /* server -> worker control: those bytes, or why not */
} ff_msg_type_t;

/* Result item status and kind. */
#define FF_STATUS_OK 0
#define FF_STATUS_ERROR 1
#define FF_KIND_BYTES 0
#define FF_KIND_JSON 1

/* Hello flags. */
#define FF_HELLO_NO_SHM 0x1u
#define FF_HELLO_PY_ONLY 0x2u       /* runs only kernels named py:MODULE:FUNC */
#define FF_HELLO_HEARS_TASKS 0x4u   /* counts a task message as hearing the ventilator:
                                       it needs no hb while tasks come */

/* A string or byte field inside a frame (not NUL-terminated). */
typedef struct {
    const char *ptr;                /* first byte, inside the frame */
    size_t len;                     /* length in bytes */
} ff_str_t;

#define FF_MAX_ARRAYS 4             /* arrays one task refers to */

/* An array a task refers to: a slice of a shared-memory segment, or its
   bytes inline (for a worker that cannot map the segment). */
typedef struct {
    ff_str_t name;                  /* "data", "coords", "flags", ... */
    uint32_t dtype;                 /* ff_dtype_t */
    uint32_t ndim;                  /* 1..FF_MAX_DIMS */
    uint64_t shape [4];             /* extents */
    ff_str_t segment;               /* segment name, or empty when inline */
    uint64_t offset;                /* byte offset in the segment */
    uint64_t length;                /* bytes of the slice */
    ff_str_t bytes;                 /* inline bytes (length of them), or empty */
} ff_handle_t;

/* One task or result item; fields a message does not carry are zero. */
typedef struct {
    uint64_t seq;                   /* sequence number */
    uint32_t kernel;                /* index into the job's kernel list */
    uint32_t status;                /* result: FF_STATUS_OK or _ERROR */
    uint32_t kind;                  /* result: FF_KIND_BYTES or _JSON */
    ff_str_t input;                 /* input name */
    ff_str_t data;                  /* task payload or result body */
    ff_str_t meta;                  /* result: extra JSON members, or empty */
    uint32_t attempt;               /* task: dispatch count, from 1; result: echoed */
    uint32_t tries;                 /* result: runs on the worker (retries + 1) */
    uint64_t start_ms;              /* result: when the first run started (Unix ms) */
    uint64_t runtime_us;            /* result: time spent in the kernel */
    uint64_t bytes_in;              /* result: payload bytes the task had */
    uint32_t chunk;                 /* task, result: chunk index of its input */
    uint32_t chunks;                /* task, result: chunks of its input (1: whole) */
    size_t narrays;                 /* task: arrays it refers to */
    ff_handle_t arrays [FF_MAX_ARRAYS]; /* task: the arrays (decoded up to narrays) */
} ff_item_t;

/* A decoded message. Filled by ff_msg_decode; valid while the frame is. */
typedef struct {
    ff_msg_type_t type;             /* which message */
    uint64_t version;               /* FF_PROTOCOL_VERSION or FF_PROTOCOL_POOL */
    ff_str_t text;                  /* refused: reason; status reply: document */
    int has_text;                   /* status: 1 for the reply, 0 for the request */
    uint64_t share;                 /* submit: weight among jobs, >= 1 */
    uint64_t window_bytes;          /* accepted: payload bytes in flight */
    ff_str_t job;                   /* job id (all but hello) */
    ff_str_t role;                  /* hello: "worker" or "sink" */
    ff_str_t name;                  /* hello: peer name (host:pid); submit: client */
    uint64_t flags;                 /* hello: FF_HELLO_* bits; submit: 0 */
    uint64_t worker;                /* welcome, hb, bye, result: worker id (v2 hb from
                                       the server to a client: workers of the job;
                                       from a client: 0) */
    ff_str_t endpoint;              /* welcome: task pipe endpoint */
    uint64_t hb_ms;                 /* welcome: heartbeat interval */
    uint64_t seq;                   /* fetch, fetched: the task the bytes are for */
    ff_str_t segment;               /* fetch, fetched: segment name or file handle */
    uint64_t offset;                /* fetch, fetched: first byte in the segment or file */
    uint64_t length;                /* fetch: bytes asked (at most FF_FETCH_CHUNK) */
    ff_str_t data;                  /* fetched: the bytes (status 0) or the reason */
    size_t nkernels;                /* welcome, job: number of kernels */
    ff_str_t kernels [FF_MAX_KERNELS]; /* welcome, job: kernel names */
    size_t nparams;                 /* welcome: key/value pairs */
    ff_str_t params [2 * FF_MAX_PARAMS]; /* welcome: key, value, ... */
    int64_t total;                  /* job: task count, -1 when unknown */
    uint64_t window;                /* job: reorder window in tasks */
    uint64_t written;               /* ack: every seq below is written; mark: the
                                       tasks below this seq come from the records hashed */
    uint64_t hash;                  /* mark: running hash of those records */
    uint64_t status;                /* end: 0 when every task succeeded; fetched:
                                       0 the bytes follow, 1 refused */
    ff_item_t record;               /* record, emit: the item */
    size_t count;                   /* task, result: items; ack: seqs */
    const uint8_t *cursor;          /* private: next item or seq */
    const uint8_t *end;             /* private: end of the frame */
    ff_item_t *items;               /* private: items kept by ff_msg_decode_items, or NULL */
    size_t taken;                   /* private: of them, handed out */
} ff_msg_t;

/* Decodes one frame into msg. Returns 0, or -1 when the frame is not a
   well-formed message of version 1 or 2 (msg is then undefined). The
   messages of version 1 only (job, record, eos, emit) and of version 2
   only (jobspec, forget, cancel, submit, accepted, refused, tasks, total,
   status) are refused under the other version; msg->version says which
   one came, and each peer checks the version a message must have. */
int
    ff_msg_decode (const void *frame, size_t size, ff_msg_t *msg);

/* Decodes one frame into msg like ff_msg_decode and, for a task or result
   message, keeps each item in items (room for FF_MAX_BATCH, owned by the
   caller, valid while the frame is) as the check reads it, so that
   ff_msg_next_item hands them out without reading the frame again: one
   pass over the bytes instead of two. Returns 0 or -1 (items then hold
   nothing to use). */
int
    ff_msg_decode_items (const void *frame, size_t size, ff_msg_t *msg, ff_item_t *items);

/* Returns the next item of a decoded task, tasks or result message in
   *item: 1 when one was returned, 0 at the end. A tasks item has no
   attempt (0). */
int
    ff_msg_next_item (ff_msg_t *msg, ff_item_t *item);

/* Returns the next seq of a decoded ack message in *seq: 1 or 0 at end. */
int
    ff_msg_next_seq (ff_msg_t *msg, uint64_t *seq);

/* Returns the message type's wire name ("hello", ...), or "?". */
const char *
    ff_msg_type_name (ff_msg_type_t type);

/* Encoder: one reusable buffer, and up to FF_CODEC_SLOTS more lent to
   zero-copy sends. */
typedef struct ff_codec ff_codec_t;

#define FF_CODEC_SLOTS 16           /* buffers one encoder lends at once */

/* The free callback of a lent buffer: zmq_msg_init_data's zmq_free_fn. */
typedef void (ff_codec_free_fn) (void *data, void *hint);

/* Creates an encoder. Returns NULL when memory runs out. */
ff_codec_t *
    ff_codec_new (void);

/* Destroys an encoder and NULLs the pointer. Safe on NULL. */
void
    ff_codec_destroy (ff_codec_t **self_p);

/* Lends the encoded message's buffer for a zero-copy send: fills *data and
   *size, and *free_fn and *hint for zmq_msg_init_data (data, size,
   free_fn, hint). The encoder encodes the next message into another
   buffer: one given back, so that a steady stream of messages allocates
   nothing. free_fn may run in any thread, after ff_codec_destroy too.
   Returns 0, or -1 when FF_CODEC_SLOTS buffers are out (or nothing is
   encoded): send a copy of ff_codec_data () then. After a lend,
   ff_codec_data () is no longer that message. */
int
    ff_codec_lend (ff_codec_t *self, void **data, size_t *size, ff_codec_free_fn **free_fn,
                   void **hint);

/* The encoded message so far; valid until the next encode call. */
const void *
    ff_codec_data (ff_codec_t *self);
size_t
    ff_codec_size (ff_codec_t *self);

/* The version hello, hb, bye, end, ack, task and result carry: 1 (the
   default) or 2 (a pool's). Messages of one version only ignore it. */
void
    ff_codec_set_version (ff_codec_t *self, uint64_t version);

/* Each of these starts a new message in the encoder's buffer. */
void
    ff_codec_hello (ff_codec_t *self, const char *role, const char *name,
                    uint64_t flags);
void
    ff_codec_welcome (ff_codec_t *self, const char *job, uint64_t worker,
                      const char *endpoint, uint64_t hb_ms,
                      const char *const *kernels, size_t nkernels,
                      const char *const *params, size_t nparams);
void
    ff_codec_job (ff_codec_t *self, const char *job,
                  const char *const *kernels, size_t nkernels,
                  int64_t total, uint64_t window);
void
    ff_codec_hb (ff_codec_t *self, const char *job, uint64_t worker);
void
    ff_codec_bye (ff_codec_t *self, const char *job, uint64_t worker);
void
    ff_codec_end (ff_codec_t *self, const char *job, uint64_t status);
/* A mark: the records (input units) that give the tasks below seq hash
   to hash (ff_producer_hash). */
void
    ff_codec_mark (ff_codec_t *self, const char *job, uint64_t seq, uint64_t hash);

/* An ack: begin with the number of seqs, then add exactly that many. */
void
    ff_codec_ack_begin (ff_codec_t *self, const char *job, uint64_t written,
                        size_t nseqs);
void
    ff_codec_ack_seq (ff_codec_t *self, uint64_t seq);

/* A task batch: begin with the item count, then add exactly that many
   items (seq, kernel, input, data, attempt are encoded). Each returns 0,
   or -1 when memory ran out in this message (then and for every later
   item of it): the message is incomplete and must not be sent. */
int
    ff_codec_task_begin (ff_codec_t *self, const char *job, size_t count);
int
    ff_codec_task_item (ff_codec_t *self, const ff_item_t *item);

/* A result batch: begin with the item count, then add exactly that many
   items (every field of ff_item_t is encoded). Returns as the task batch
   calls do. */
int
    ff_codec_result_begin (ff_codec_t *self, const char *job, uint64_t worker,
                           size_t count);
int
    ff_codec_result_item (ff_codec_t *self, const ff_item_t *item);

/* A seam for tests: the encoder's buffer never grows past limit bytes
   (0: no limit), so that an encode runs out of memory on demand. */
void
    ff_codec_set_limit (ff_codec_t *self, size_t limit);

/* Returns an ff_str_t over a NUL-terminated string (or "" for NULL). */
ff_str_t
    ff_str (const char *text);

/* An intake record: [1, "record", input, data]. */
void
    ff_codec_record (ff_codec_t *self, const char *input, size_t input_len,
                     const void *data, size_t size);

/* End of stream: [1, "eos", count] (records sent, or results emitted). */
void
    ff_codec_eos (ff_codec_t *self, uint64_t count);

/* One emitted result, in seq order: [1, "emit", seq, input, kernel name,
   status, body, meta]. */
void
    ff_codec_emit (ff_codec_t *self, uint64_t seq, const char *input,
                   size_t input_len, const char *kernel, uint32_t status,
                   const void *body, size_t size, const char *meta,
                   size_t meta_len);

/* --- version 2: the pool */

/* [2, "welcome", pool, worker, endpoint, hb_ms]: no kernels, no params. */
void
    ff_codec_welcome_pool (ff_codec_t *self, const char *pool, uint64_t worker,
                           const char *endpoint, uint64_t hb_ms);

/* [2, "jobspec", job, kernels, params]. */
void
    ff_codec_jobspec (ff_codec_t *self, const char *job,
                      const char *const *kernels, size_t nkernels,
                      const char *const *params, size_t nparams);

/* [2, "forget", job] and [2, "cancel", job]. */
void
    ff_codec_forget (ff_codec_t *self, const char *job);
void
    ff_codec_cancel (ff_codec_t *self, const char *job);

/* [2, "submit", client, kernels, params, share, flags]. */
void
    ff_codec_submit (ff_codec_t *self, const char *client,
                     const char *const *kernels, size_t nkernels,
                     const char *const *params, size_t nparams,
                     uint64_t share, uint64_t flags);

/* [2, "accepted", job, window, window_bytes] and [2, "refused", reason]. */
void
    ff_codec_accepted (ff_codec_t *self, const char *job, uint64_t window,
                       uint64_t window_bytes);
void
    ff_codec_refused (ff_codec_t *self, const char *reason);

/* [2, "tasks", job, items]: begin with the item count, then add exactly
   that many items (seq, kernel, input, data, chunk, chunks, arrays).
   Return as the task batch calls do. */
int
    ff_codec_tasks_begin (ff_codec_t *self, const char *job, size_t count);
int
    ff_codec_tasks_item (ff_codec_t *self, const ff_item_t *item);

/* [2, "total", job, total]. */
void
    ff_codec_total (ff_codec_t *self, const char *job, uint64_t total);

/* [2, "hb", job] from a client (3 fields); [2, "hb", job, workers] to it
   is ff_codec_hb with version 2. */
void
    ff_codec_client_hb (ff_codec_t *self, const char *job);

/* [2, "status"] (document NULL: the request) or [2, "status", document]. */
void
    ff_codec_status (ff_codec_t *self, const char *document, size_t len);

/* [2, "fetch", job, worker, seq, segment, offset, length]: a worker
   without shared memory asks for length bytes (at most FF_FETCH_CHUNK) at
   offset of segment (a segment name or a file handle) for task seq of job. */
void
    ff_codec_fetch (ff_codec_t *self, const char *job, uint64_t worker, uint64_t seq,
                    const char *segment, size_t segment_len, uint64_t offset,
                    uint64_t length);

/* [2, "fetched", job, seq, segment, offset, status, data]: the answer,
   status 0 with the bytes, or 1 with the reason in data. */
void
    ff_codec_fetched (ff_codec_t *self, const char *job, size_t job_len, uint64_t seq,
                      const char *segment, size_t segment_len, uint64_t offset,
                      uint64_t status, const void *data, size_t size);

/* Returns 1 when s equals the NUL-terminated text, else 0. */
int
    ff_str_eq (ff_str_t s, const char *text);

/* Copies s into a new NUL-terminated string; NULL when memory runs out. */
char *
    ff_str_dup (ff_str_t s);

#endif
