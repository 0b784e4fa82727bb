/*  fanfold wire codec. The first half is a strict msgpack reader over one
    frame (no allocation, every count checked against the bytes left, exact
    arity, no trailing bytes); the second half decodes each message; the last
    part encodes them with msgpack-c's packer into one reusable buffer. */

#include "fanfold/runtime/codec.h"
#include "fanfold/kernel.h"

#include <assert.h>
#include <endian.h>
#include <msgpack.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------- reader */

typedef struct {
    const uint8_t *at;              /* next byte to read */
    const uint8_t *end;             /* one past the last byte */
} s_cursor_t;

static int
s_need (s_cursor_t *cur, size_t bytes)
{
    return (size_t) (cur->end - cur->at) >= bytes ? 0 : -1;
}

/* The big-endian value of 1, 2, 4 or 8 bytes at at (msgpack's widths). */
static uint64_t
s_be (const uint8_t *at, size_t bytes)
{
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    switch (bytes) {
        case 1:
            return at [0];
        case 2:
            memcpy (&u16, at, 2);
            return be16toh (u16);
        case 4:
            memcpy (&u32, at, 4);
            return be32toh (u32);
        default:
            assert (bytes == 8);
            memcpy (&u64, at, 8);
            return be64toh (u64);
    }
}

/* Reads a fixed-width big-endian field of width bytes after the tag. */
static int
s_field (s_cursor_t *cur, size_t bytes, uint64_t *value)
{
    if (s_need (cur, bytes))
        return -1;
    *value = s_be (cur->at, bytes);
    cur->at += bytes;
    return 0;
}

/* s_read_uint past what it reads inline (a positive fixint, uint 8 to 64
   with their bytes there): the signed encodings of non-negative values,
   and every error. */
static __attribute__ ((noinline)) int
s_read_uint_wide (s_cursor_t *cur, uint64_t *value)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->at++;
    switch (tag) {
        case 0xcc: return s_field (cur, 1, value);
        case 0xcd: return s_field (cur, 2, value);
        case 0xce: return s_field (cur, 4, value);
        case 0xcf: return s_field (cur, 8, value);
        case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
            size_t bytes = (size_t) 1 << (tag - 0xd0);
            uint64_t raw;
            if (s_field (cur, bytes, &raw))
                return -1;
            /* a signed encoding of a non-negative value is accepted */
            if (raw >> (bytes * 8 - 1))
                return -1;
            *value = raw;
            return 0;
        }
        default:
            return -1;
    }
}

/* Reads a non-negative integer: a positive fixint or uint 8 to 64 here
   inline (what encoders write), the signed encodings and errors in
   s_read_uint_wide. */
static inline int
s_read_uint (s_cursor_t *cur, uint64_t *value)
{
    if (cur->at < cur->end) {
        uint8_t tag = *cur->at;
        if (tag <= 0x7f) {
            *value = tag;
            cur->at++;
            return 0;
        }
        if (tag >= 0xcc && tag <= 0xcf) {
            size_t bytes = (size_t) 1 << (tag - 0xcc);
            if ((size_t) (cur->end - cur->at) - 1 < bytes)
                return -1;
            *value = s_be (cur->at + 1, bytes);
            cur->at += 1 + bytes;
            return 0;
        }
    }
    return s_read_uint_wide (cur, value);
}

static int
s_read_int (s_cursor_t *cur, int64_t *value)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->at;
    if (tag >= 0xe0) {
        cur->at++;
        *value = (int8_t) tag;
        return 0;
    }
    if (tag >= 0xd0 && tag <= 0xd3) {
        cur->at++;
        size_t bytes = (size_t) 1 << (tag - 0xd0);
        uint64_t raw;
        if (s_field (cur, bytes, &raw))
            return -1;
        if (bytes < 8 && (raw >> (bytes * 8 - 1)))
            raw |= ~(uint64_t) 0 << (bytes * 8);
        *value = (int64_t) raw;
        return 0;
    }
    uint64_t unsigned_value;
    if (s_read_uint (cur, &unsigned_value) || unsigned_value > INT64_MAX)
        return -1;
    *value = (int64_t) unsigned_value;
    return 0;
}

/* s_read_bytes past a fixstr (always read inline): str8/16/32, and
   bin8/16/32 where allow_bin. */
static __attribute__ ((noinline)) int
s_read_bytes_wide (s_cursor_t *cur, ff_str_t *out, int allow_bin)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->at++;
    uint64_t len;
    if (tag == 0xd9 || (allow_bin && tag == 0xc4)) {
        if (s_field (cur, 1, &len))
            return -1;
    }
    else
    if (tag == 0xda || (allow_bin && tag == 0xc5)) {
        if (s_field (cur, 2, &len))
            return -1;
    }
    else
    if (tag == 0xdb || (allow_bin && tag == 0xc6)) {
        if (s_field (cur, 4, &len))
            return -1;
    }
    else
        return -1;
    if (s_need (cur, len))
        return -1;
    out->ptr = (const char *) cur->at;
    out->len = len;
    cur->at += len;
    return 0;
}

/* Reads a str or bin (bin only where allow_bin): a fixstr or bin8 here
   inline, the rest in s_read_bytes_wide. */
static inline int
s_read_bytes (s_cursor_t *cur, ff_str_t *out, int allow_bin)
{
    size_t left = (size_t) (cur->end - cur->at), len;
    if (left >= 1 && (*cur->at & 0xe0) == 0xa0) {
        len = *cur->at & 0x1f;
        if (left - 1 < len)
            return -1;
        out->ptr = (const char *) cur->at + 1;
        out->len = len;
        cur->at += 1 + len;
        return 0;
    }
    if (left >= 2 && allow_bin && *cur->at == 0xc4) {
        len = cur->at [1];
        if (left - 2 < len)
            return -1;
        out->ptr = (const char *) cur->at + 2;
        out->len = len;
        cur->at += 2 + len;
        return 0;
    }
    return s_read_bytes_wide (cur, out, allow_bin);
}

static inline int
s_read_str (s_cursor_t *cur, ff_str_t *out)
{
    return s_read_bytes (cur, out, 0);
}

/* s_read_array past a fixarray (always read inline): array16/32. The
   count must fit in the
   bytes left, since every element takes at least one byte. */
static __attribute__ ((noinline)) int
s_read_array_wide (s_cursor_t *cur, size_t *count)
{
    if (s_need (cur, 1))
        return -1;
    uint8_t tag = *cur->at++;
    uint64_t n;
    if (tag == 0xdc) {
        if (s_field (cur, 2, &n))
            return -1;
    }
    else
    if (tag == 0xdd) {
        if (s_field (cur, 4, &n))
            return -1;
    }
    else
        return -1;
    if (n > (uint64_t) (cur->end - cur->at))
        return -1;
    *count = (size_t) n;
    return 0;
}

/* Reads an array header: a fixarray inline, the rest in
   s_read_array_wide. */
static inline int
s_read_array (s_cursor_t *cur, size_t *count)
{
    if (cur->at < cur->end && (*cur->at & 0xf0) == 0x90) {
        size_t n = *cur->at & 0x0f;
        if ((size_t) (cur->end - cur->at) - 1 < n)
            return -1;
        cur->at++;
        *count = n;
        return 0;
    }
    return s_read_array_wide (cur, count);
}

static inline int
s_expect_array (s_cursor_t *cur, size_t count)
{
    size_t actual;
    return s_read_array (cur, &actual) == 0 && actual == count ? 0 : -1;
}

/* ---------------------------------------------------------------- decode */

static const char *s_names [] = {
    NULL, "hello", "welcome", "job", "ack", "hb", "bye", "end", "task", "result",
    "record", "eos", "emit", "mark",
    "jobspec", "forget", "cancel", "submit", "accepted", "refused", "tasks", "total",
    "status", "fetch", "fetched"
};
#define S_NAME_COUNT (sizeof (s_names) / sizeof (s_names [0]))

const char *
ff_msg_type_name (ff_msg_type_t type)
{
    return (size_t) type < S_NAME_COUNT && s_names [type]? s_names [type]: "?";
}

int
ff_str_eq (ff_str_t s, const char *text)
{
    size_t len = strlen (text);
    return s.len == len && memcmp (s.ptr, text, len) == 0;
}

ff_str_t
ff_str (const char *text)
{
    ff_str_t s = { text? text: "", text? strlen (text): 0 };
    return s;
}

char *
ff_str_dup (ff_str_t s)
{
    char *copy = (char *) malloc (s.len + 1);
    if (copy) {
        if (s.len)
            memcpy (copy, s.ptr, s.len);
        copy [s.len] = 0;
    }
    return copy;
}

static int
s_read_names (s_cursor_t *cur, ff_str_t *names, size_t max, size_t *count)
{
    size_t index;
    if (s_read_array (cur, count) || *count > max)
        return -1;
    for (index = 0; index < *count; index++)
        if (s_read_str (cur, &names [index]))
            return -1;
    return 0;
}

/* Reads the [[key, value]...] list of a welcome, jobspec or submit. */
static int
s_read_params (s_cursor_t *cur, ff_msg_t *msg)
{
    size_t index, pairs;
    if (s_read_array (cur, &pairs) || pairs > FF_MAX_PARAMS)
        return -1;
    for (index = 0; index < pairs; index++)
        if (s_expect_array (cur, 2)
        ||  s_read_str (cur, &msg->params [2 * index])
        ||  s_read_str (cur, &msg->params [2 * index + 1]))
            return -1;
    msg->nparams = pairs;
    return 0;
}

/* Reads chunk and chunks: chunks at least 1, chunk below it. */
static inline int
s_read_chunk (s_cursor_t *cur, ff_item_t *item)
{
    uint64_t chunk, chunks;
    if (s_read_uint (cur, &chunk) || s_read_uint (cur, &chunks)
    ||  chunks == 0 || chunks > UINT32_MAX || chunk >= chunks)
        return -1;
    item->chunk = (uint32_t) chunk;
    item->chunks = (uint32_t) chunks;
    return 0;
}

/* Reads one array handle [name, dtype, [shape], segment, offset, length,
   bytes]: a segment slice, or length inline bytes. */
static int
s_read_handle (s_cursor_t *cur, ff_handle_t *handle)
{
    uint64_t dtype;
    size_t ndim, index;
    memset (handle, 0, sizeof (*handle));
    if (s_expect_array (cur, 7)
    ||  s_read_str (cur, &handle->name)
    ||  s_read_uint (cur, &dtype) || dtype < FF_DTYPE_I8 || dtype > FF_DTYPE_F64
    ||  s_read_array (cur, &ndim) || ndim < 1 || ndim > FF_MAX_DIMS)
        return -1;
    handle->dtype = (uint32_t) dtype;
    handle->ndim = (uint32_t) ndim;
    for (index = 0; index < ndim; index++)
        if (s_read_uint (cur, &handle->shape [index]))
            return -1;
    if (s_read_str (cur, &handle->segment)
    ||  s_read_uint (cur, &handle->offset)
    ||  s_read_uint (cur, &handle->length)
    ||  s_read_bytes (cur, &handle->bytes, 1))
        return -1;
    /* either a segment and no bytes, or no segment and all the bytes */
    if (handle->segment.len? handle->bytes.len != 0: handle->bytes.len != handle->length)
        return -1;
    return 0;
}

/* Reads one task item [seq, kernel, input, payload, attempt, chunk,
   chunks, [handle...]]. */
static int
s_read_task_item (s_cursor_t *cur, ff_item_t *item)
{
    uint64_t kernel, attempt;
    size_t index;
    memset (item, 0, offsetof (ff_item_t, arrays));   /* arrays: up to narrays */
    if (s_expect_array (cur, 8)
    ||  s_read_uint (cur, &item->seq)
    ||  s_read_uint (cur, &kernel) || kernel >= FF_MAX_KERNELS
    ||  s_read_str (cur, &item->input)
    ||  s_read_bytes (cur, &item->data, 1)
    ||  s_read_uint (cur, &attempt) || attempt > UINT32_MAX
    ||  s_read_chunk (cur, item)
    ||  s_read_array (cur, &item->narrays) || item->narrays > FF_MAX_ARRAYS)
        return -1;
    for (index = 0; index < item->narrays; index++)
        if (s_read_handle (cur, &item->arrays [index]))
            return -1;
    item->kernel = (uint32_t) kernel;
    item->attempt = (uint32_t) attempt;
    return 0;
}

/* Reads one item of a client's tasks message [seq, kernel, input,
   payload, chunk, chunks, [handle...]]: a task item without attempt. */
static int
s_read_tasks_item (s_cursor_t *cur, ff_item_t *item)
{
    uint64_t kernel;
    size_t index;
    memset (item, 0, offsetof (ff_item_t, arrays));   /* arrays: up to narrays */
    if (s_expect_array (cur, 7)
    ||  s_read_uint (cur, &item->seq)
    ||  s_read_uint (cur, &kernel) || kernel >= FF_MAX_KERNELS
    ||  s_read_str (cur, &item->input)
    ||  s_read_bytes (cur, &item->data, 1)
    ||  s_read_chunk (cur, item)
    ||  s_read_array (cur, &item->narrays) || item->narrays > FF_MAX_ARRAYS)
        return -1;
    for (index = 0; index < item->narrays; index++)
        if (s_read_handle (cur, &item->arrays [index]))
            return -1;
    item->kernel = (uint32_t) kernel;
    return 0;
}

/* Reads one item of a task, tasks or result message. */
static int s_read_result_item (s_cursor_t *cur, ff_item_t *item);
static int
s_read_item (s_cursor_t *cur, ff_msg_type_t type, ff_item_t *item)
{
    return type == FF_MSG_TASK? s_read_task_item (cur, item)
         : type == FF_MSG_TASKS? s_read_tasks_item (cur, item)
         : s_read_result_item (cur, item);
}

/* Reads one result item [seq, kernel, status, kind, input, body, meta,
   [attempt, tries, start_ms, runtime_us, bytes_in, chunk, chunks]]. */
static int
s_read_result_item (s_cursor_t *cur, ff_item_t *item)
{
    uint64_t kernel, status, kind, attempt, tries;
    memset (item, 0, offsetof (ff_item_t, arrays));   /* arrays: up to narrays */
    if (s_expect_array (cur, 8)
    ||  s_read_uint (cur, &item->seq)
    ||  s_read_uint (cur, &kernel) || kernel >= FF_MAX_KERNELS
    ||  s_read_uint (cur, &status) || status > FF_STATUS_ERROR
    ||  s_read_uint (cur, &kind) || kind > FF_KIND_JSON
    ||  s_read_str (cur, &item->input)
    ||  s_read_bytes (cur, &item->data, 1)
    ||  s_read_str (cur, &item->meta)
    ||  s_expect_array (cur, 7)
    ||  s_read_uint (cur, &attempt) || attempt > UINT32_MAX
    ||  s_read_uint (cur, &tries) || tries > UINT32_MAX
    ||  s_read_uint (cur, &item->start_ms)
    ||  s_read_uint (cur, &item->runtime_us)
    ||  s_read_uint (cur, &item->bytes_in)
    ||  s_read_chunk (cur, item))
        return -1;
    item->kernel = (uint32_t) kernel;
    item->status = (uint32_t) status;
    item->kind = (uint32_t) kind;
    item->attempt = (uint32_t) attempt;
    item->tries = (uint32_t) tries;
    return 0;
}

/* Reads the item list of a task or result message and checks every item,
   so that a message is accepted or rejected whole. */
static int
s_read_items (s_cursor_t *cur, ff_msg_t *msg)
{
    size_t index;
    ff_item_t item;
    if (s_read_array (cur, &msg->count) || msg->count == 0
    ||  msg->count > FF_MAX_BATCH)
        return -1;
    msg->cursor = cur->at;
    for (index = 0; index < msg->count; index++) {
        /* kept where the caller gave room, so that nothing reads them twice */
        ff_item_t *into = msg->items? &msg->items [index]: &item;
        if (s_read_item (cur, msg->type, into))
            return -1;
    }
    return 0;
}

static int
s_decode_body (s_cursor_t *cur, ff_msg_t *msg, size_t fields)
{
    size_t index;
    int64_t total;
    uint64_t count;
    switch (msg->type) {
        case FF_MSG_HELLO:
            return fields == 5
                && s_read_str (cur, &msg->role) == 0
                && (ff_str_eq (msg->role, "worker") || ff_str_eq (msg->role, "sink"))
                && s_read_str (cur, &msg->name) == 0
                && s_read_uint (cur, &msg->flags) == 0? 0: -1;
        case FF_MSG_WELCOME:
            if (fields != (msg->version == FF_PROTOCOL_POOL? 6u: 8u)
            ||  s_read_str (cur, &msg->job)
            ||  s_read_uint (cur, &msg->worker)
            ||  s_read_str (cur, &msg->endpoint)
            ||  s_read_uint (cur, &msg->hb_ms))
                return -1;
            if (msg->version == FF_PROTOCOL_POOL)
                return 0;           /* kernels and params come per job */
            return s_read_names (cur, msg->kernels, FF_MAX_KERNELS, &msg->nkernels) == 0
                && s_read_params (cur, msg) == 0? 0: -1;
        case FF_MSG_JOBSPEC:
            return fields == 5
                && s_read_str (cur, &msg->job) == 0
                && s_read_names (cur, msg->kernels, FF_MAX_KERNELS, &msg->nkernels) == 0
                && s_read_params (cur, msg) == 0? 0: -1;
        case FF_MSG_FORGET:
        case FF_MSG_CANCEL:
            return fields == 3 && s_read_str (cur, &msg->job) == 0? 0: -1;
        case FF_MSG_SUBMIT:
            return fields == 7
                && s_read_str (cur, &msg->name) == 0
                && s_read_names (cur, msg->kernels, FF_MAX_KERNELS, &msg->nkernels) == 0
                && msg->nkernels > 0
                && s_read_params (cur, msg) == 0
                && s_read_uint (cur, &msg->share) == 0 && msg->share >= 1
                && s_read_uint (cur, &msg->flags) == 0? 0: -1;
        case FF_MSG_ACCEPTED:
            return fields == 5
                && s_read_str (cur, &msg->job) == 0
                && s_read_uint (cur, &msg->window) == 0 && msg->window > 0
                && s_read_uint (cur, &msg->window_bytes) == 0? 0: -1;
        case FF_MSG_REFUSED:
            return fields == 3 && s_read_str (cur, &msg->text) == 0? 0: -1;
        case FF_MSG_TASKS:
            return fields == 4
                && s_read_str (cur, &msg->job) == 0
                && s_read_items (cur, msg) == 0? 0: -1;
        case FF_MSG_TOTAL:
            if (fields != 4
            ||  s_read_str (cur, &msg->job)
            ||  s_read_uint (cur, &count) || count > INT64_MAX)
                return -1;
            msg->total = (int64_t) count;
            return 0;
        case FF_MSG_STATUS:
            if (fields == 2)
                return 0;
            msg->has_text = 1;
            return fields == 3 && s_read_str (cur, &msg->text) == 0? 0: -1;
        case FF_MSG_FETCH:
            return fields == 8
                && s_read_str (cur, &msg->job) == 0
                && s_read_uint (cur, &msg->worker) == 0
                && s_read_uint (cur, &msg->seq) == 0
                && s_read_str (cur, &msg->segment) == 0
                && s_read_uint (cur, &msg->offset) == 0
                && s_read_uint (cur, &msg->length) == 0? 0: -1;
        case FF_MSG_FETCHED:
            return fields == 8
                && s_read_str (cur, &msg->job) == 0
                && s_read_uint (cur, &msg->seq) == 0
                && s_read_str (cur, &msg->segment) == 0
                && s_read_uint (cur, &msg->offset) == 0
                && s_read_uint (cur, &msg->status) == 0 && msg->status <= 1
                && s_read_bytes (cur, &msg->data, 1) == 0? 0: -1;
        case FF_MSG_JOB:
            if (fields != 6
            ||  s_read_str (cur, &msg->job)
            ||  s_read_names (cur, msg->kernels, FF_MAX_KERNELS, &msg->nkernels)
            ||  s_read_int (cur, &total) || total < -1
            ||  s_read_uint (cur, &msg->window) || msg->window == 0)
                return -1;
            msg->total = total;
            return 0;
        case FF_MSG_ACK:
            if (fields != 5
            ||  s_read_str (cur, &msg->job)
            ||  s_read_uint (cur, &msg->written)
            ||  s_read_array (cur, &msg->count) || msg->count > FF_MAX_ACK_SEQS)
                return -1;
            msg->cursor = cur->at;
            for (index = 0; index < msg->count; index++) {
                uint64_t seq;
                if (s_read_uint (cur, &seq))
                    return -1;
            }
            return 0;
        case FF_MSG_HB:
            if (msg->version == FF_PROTOCOL_POOL && fields == 3)
                return s_read_str (cur, &msg->job);    /* a client's */
            /* fall through */
        case FF_MSG_BYE:
            return fields == 4
                && s_read_str (cur, &msg->job) == 0
                && s_read_uint (cur, &msg->worker) == 0? 0: -1;
        case FF_MSG_MARK:
            return fields == 5
                && s_read_str (cur, &msg->job) == 0
                && s_read_uint (cur, &msg->written) == 0
                && s_read_uint (cur, &msg->hash) == 0? 0: -1;
        case FF_MSG_END:
            return fields == 4
                && s_read_str (cur, &msg->job) == 0
                && s_read_uint (cur, &msg->status) == 0? 0: -1;
        case FF_MSG_TASK:
            return fields == 4
                && s_read_str (cur, &msg->job) == 0
                && s_read_items (cur, msg) == 0? 0: -1;
        case FF_MSG_RECORD:
            return fields == 4
                && s_read_str (cur, &msg->record.input) == 0
                && s_read_bytes (cur, &msg->record.data, 1) == 0? 0: -1;
        case FF_MSG_EOS:
            return fields == 3 && s_read_uint (cur, &msg->written) == 0? 0: -1;
        case FF_MSG_EMIT: {
            uint64_t status;
            ff_str_t kernel;
            if (fields != 8
            ||  s_read_uint (cur, &msg->record.seq)
            ||  s_read_str (cur, &msg->record.input)
            ||  s_read_str (cur, &kernel)
            ||  s_read_uint (cur, &status) || status > FF_STATUS_ERROR
            ||  s_read_bytes (cur, &msg->record.data, 1)
            ||  s_read_str (cur, &msg->record.meta))
                return -1;
            msg->record.status = (uint32_t) status;
            msg->name = kernel;
            return 0;
        }
        case FF_MSG_RESULT:
            return fields == 5
                && s_read_str (cur, &msg->job) == 0
                && s_read_uint (cur, &msg->worker) == 0
                && s_read_items (cur, msg) == 0? 0: -1;
    }
    return -1;
}

/* The one version a message type exists in, or 0 for both. */
static uint64_t
s_type_version (ff_msg_type_t type)
{
    if (type == FF_MSG_JOB || type == FF_MSG_RECORD || type == FF_MSG_EOS
    ||  type == FF_MSG_EMIT)
        return FF_PROTOCOL_VERSION;
    return type >= FF_MSG_JOBSPEC? FF_PROTOCOL_POOL: 0;
}

int
ff_msg_decode (const void *frame, size_t size, ff_msg_t *msg)
{
    return ff_msg_decode_items (frame, size, msg, NULL);
}

int
ff_msg_decode_items (const void *frame, size_t size, ff_msg_t *msg, ff_item_t *items)
{
    s_cursor_t cur = { (const uint8_t *) frame, (const uint8_t *) frame + size };
    size_t fields, type;
    uint64_t version;
    ff_str_t name;

    memset (msg, 0, offsetof (ff_msg_t, kernels));
    msg->nkernels = msg->nparams = msg->count = 0;
    msg->total = -1;
    msg->window = msg->written = msg->hash = msg->status = 0;
    msg->cursor = msg->end = NULL;
    msg->items = items;
    msg->taken = 0;
    if (!frame
    ||  s_read_array (&cur, &fields) || fields < 2
    ||  s_read_uint (&cur, &version)
    ||  (version != FF_PROTOCOL_VERSION && version != FF_PROTOCOL_POOL)
    ||  s_read_str (&cur, &name))
        return -1;
    for (type = 1; type < S_NAME_COUNT; type++)
        if (name.len && name.ptr [0] == s_names [type][0] && ff_str_eq (name, s_names [type]))
            break;
    if (type == S_NAME_COUNT)
        return -1;
    msg->type = (ff_msg_type_t) type;
    msg->version = version;
    if (s_type_version (msg->type) && s_type_version (msg->type) != version)
        return -1;                  /* a message of the other version only */
    if (s_decode_body (&cur, msg, fields))
        return -1;
    if (cur.at != cur.end)
        return -1;                  /* trailing bytes */
    msg->end = cur.end;
    return 0;
}

int
ff_msg_next_item (ff_msg_t *msg, ff_item_t *item)
{
    if ((msg->type != FF_MSG_TASK && msg->type != FF_MSG_TASKS
         && msg->type != FF_MSG_RESULT)
    ||  msg->count == 0 || !msg->cursor)
        return 0;
    if (msg->items) {
        /* read once by the decode: the fields, and the handles it has */
        const ff_item_t *kept = &msg->items [msg->taken++];
        memcpy (item, kept, offsetof (ff_item_t, arrays)
                            + kept->narrays * sizeof (ff_handle_t));
        msg->count--;
        return 1;
    }
    s_cursor_t cur = { msg->cursor, msg->end };
    if (s_read_item (&cur, msg->type, item))
        return 0;                   /* cannot happen after decode */
    msg->cursor = cur.at;
    msg->count--;
    return 1;
}

int
ff_msg_next_seq (ff_msg_t *msg, uint64_t *seq)
{
    if (msg->type != FF_MSG_ACK || msg->count == 0 || !msg->cursor)
        return 0;
    s_cursor_t cur = { msg->cursor, msg->end };
    if (s_read_uint (&cur, seq))
        return 0;
    msg->cursor = cur.at;
    msg->count--;
    return 1;
}

/* ---------------------------------------------------------------- encode */

/* A buffer lent to a zero-copy send (ff_codec_lend). state moves
   S_SLOT_LENT -> S_SLOT_BACK in the thread that frees the message
   (libzmq's), S_SLOT_LENT -> S_SLOT_ORPHAN when the codec is destroyed
   first (the free callback then frees the slot); every other change is
   the codec's, in its own thread. */
typedef struct {
    atomic_int state;               /* S_SLOT_* */
    char *data;                     /* the buffer (LENT, BACK, ORPHAN), or NULL */
    size_t cap;                     /* its size in bytes */
} s_slot_t;

enum { S_SLOT_EMPTY, S_SLOT_LENT, S_SLOT_BACK, S_SLOT_ORPHAN };

/* A buffer given back is encoded into again only up to this size; a
   larger one is freed, so that slots never keep much memory. */
#define S_SLOT_KEEP (2u << 20)

struct ff_codec {
    s_slot_t *slots [FF_CODEC_SLOTS]; /* buffers lent or given back, made on demand */
    char *data;                     /* encoded bytes, reused */
    size_t size;                    /* bytes encoded */
    size_t cap;                     /* bytes allocated */
    size_t limit;                   /* most bytes to allocate, 0: no limit (tests) */
    int failed;                     /* memory ran out in the message being encoded */
    uint64_t version;               /* of messages in both versions: 1 or 2 */
    msgpack_packer packer;          /* writes through s_write */
};

/* msgpack-c's write callback: an append to our buffer. msgpack-c calls it
   once per field, so it is kept to a bounds check and a copy (the library's
   sbuffer costs about twice as much per call). */
static int
s_reserve (ff_codec_t *self, size_t len)
{
    if (self->cap - self->size < len) {
        size_t cap = self->cap? self->cap: 4096;
        while (cap - self->size < len) {
            if (cap > SIZE_MAX / 2) {
                self->failed = 1;
                return -1;
            }
            cap *= 2;
        }
        if (self->limit && cap > self->limit && self->limit > self->size
        &&  self->limit - self->size >= len)
            cap = self->limit;
        char *grown = self->limit && cap > self->limit? NULL: (char *) realloc (self->data, cap);
        if (!grown) {
            self->failed = 1;
            return -1;
        }
        self->data = grown;
        self->cap = cap;
    }
    return 0;
}

static int
s_write (void *data, const char *bytes, size_t len)
{
    ff_codec_t *self = (ff_codec_t *) data;
    if (s_reserve (self, len))
        return -1;
    memcpy (self->data + self->size, bytes, len);
    self->size += len;
    return 0;
}

/* Direct writes for the two encoders that run once per task (task and
   result items), where a callback per field was the main cost. They pick
   the formats msgpack-c picks (the smallest uint, fixstr/str8/16/32,
   bin8/16/32, fixarray/array16/32); check_codec compares the bytes with
   msgpack-c's for every size class. */

/* Most bytes an item's fixed fields take, besides its strings and handles. */
#define S_ITEM_FIXED_MAX 128

/* Writes tag and value in bytes (1, 2, 4 or 8) big-endian bytes. */
static inline uint8_t *
s_put_be (uint8_t *at, uint8_t tag, uint64_t value, size_t bytes)
{
    uint16_t u16;
    uint32_t u32;
    uint64_t u64;
    *at++ = tag;
    switch (bytes) {
        case 1:
            *at = (uint8_t) value;
            break;
        case 2:
            u16 = htobe16 ((uint16_t) value);
            memcpy (at, &u16, 2);
            break;
        case 4:
            u32 = htobe32 ((uint32_t) value);
            memcpy (at, &u32, 4);
            break;
        default:
            assert (bytes == 8);
            u64 = htobe64 (value);
            memcpy (at, &u64, 8);
            break;
    }
    return at + bytes;
}

static inline uint8_t *
s_put_uint (uint8_t *at, uint64_t value)
{
    if (value < 0x80) {
        *at++ = (uint8_t) value;
        return at;
    }
    if (value <= UINT8_MAX)
        return s_put_be (at, 0xcc, value, 1);
    if (value <= UINT16_MAX)
        return s_put_be (at, 0xcd, value, 2);
    if (value <= UINT32_MAX)
        return s_put_be (at, 0xce, value, 4);
    return s_put_be (at, 0xcf, value, 8);
}

static inline uint8_t *
s_put_array (uint8_t *at, size_t count)
{
    if (count < 16) {
        *at++ = (uint8_t) (0x90 | count);
        return at;
    }
    return count <= UINT16_MAX? s_put_be (at, 0xdc, count, 2): s_put_be (at, 0xdd, count, 4);
}

static inline uint8_t *
s_put_str (uint8_t *at, const char *text, size_t len)
{
    if (len < 32)
        *at++ = (uint8_t) (0xa0 | len);
    else
        at = len <= UINT8_MAX? s_put_be (at, 0xd9, len, 1)
           : len <= UINT16_MAX? s_put_be (at, 0xda, len, 2): s_put_be (at, 0xdb, len, 4);
    if (len)
        memcpy (at, text, len);
    return at + len;
}

static uint8_t *
s_put_bin (uint8_t *at, const void *data, size_t len)
{
    at = len <= UINT8_MAX? s_put_be (at, 0xc4, len, 1)
       : len <= UINT16_MAX? s_put_be (at, 0xc5, len, 2): s_put_be (at, 0xc6, len, 4);
    if (len)
        memcpy (at, data, len);
    return at + len;
}

ff_codec_t *
ff_codec_new (void)
{
    ff_codec_t *self = (ff_codec_t *) calloc (1, sizeof (ff_codec_t));
    if (!self)
        return NULL;
    msgpack_packer_init (&self->packer, self, s_write);
    self->version = FF_PROTOCOL_VERSION;
    return self;
}

void
ff_codec_destroy (ff_codec_t **self_p)
{
    if (self_p && *self_p) {
        ff_codec_t *self = *self_p;
        size_t index;
        for (index = 0; index < FF_CODEC_SLOTS; index++) {
            s_slot_t *slot = self->slots [index];
            int lent = S_SLOT_LENT;
            /* a buffer still lent is freed by its message's free callback */
            if (slot && !atomic_compare_exchange_strong (&slot->state, &lent, S_SLOT_ORPHAN)) {
                free (slot->data);
                free (slot);
            }
        }
        free (self->data);
        free (self);
        *self_p = NULL;
    }
}

/* The free callback of a lent buffer (zmq_msg_init_data's): called once,
   in whichever thread drops the message's last reference. */
static void
s_slot_back (void *data, void *hint)
{
    s_slot_t *slot = (s_slot_t *) hint;
    int lent = S_SLOT_LENT;
    (void) data;
    if (!atomic_compare_exchange_strong (&slot->state, &lent, S_SLOT_BACK)) {
        free (slot->data);          /* the codec is gone: orphaned */
        free (slot);
    }
}

int
ff_codec_lend (ff_codec_t *self, void **data, size_t *size, ff_codec_free_fn **free_fn,
               void **hint)
{
    size_t index;
    s_slot_t *holder = NULL;
    if (!self->data || self->failed)
        return -1;
    /* a buffer given back first (it becomes the next one to encode into),
       else a slot with no buffer, made on demand */
    for (index = 0; index < FF_CODEC_SLOTS && !holder; index++)
        if (self->slots [index] && atomic_load (&self->slots [index]->state) == S_SLOT_BACK)
            holder = self->slots [index];
    for (index = 0; index < FF_CODEC_SLOTS && !holder; index++) {
        if (!self->slots [index]) {
            self->slots [index] = (s_slot_t *) calloc (1, sizeof (s_slot_t));
            if (!self->slots [index])
                return -1;
            atomic_init (&self->slots [index]->state, S_SLOT_EMPTY);
        }
        if (atomic_load (&self->slots [index]->state) == S_SLOT_EMPTY)
            holder = self->slots [index];
    }
    if (!holder)
        return -1;                  /* every buffer is out: copy this one */
    char *spare = holder->data;
    size_t spare_cap = holder->cap;
    if (spare && spare_cap > S_SLOT_KEEP) {
        free (spare);
        spare = NULL;
    }
    holder->data = self->data;
    holder->cap = self->cap;
    atomic_store (&holder->state, S_SLOT_LENT);
    *data = self->data;
    *size = self->size;
    *free_fn = s_slot_back;
    *hint = holder;
    /* encode the next message into the buffer given back, or a new one */
    self->data = spare;
    self->cap = spare? spare_cap: 0;
    self->size = 0;
    return 0;
}

const void *
ff_codec_data (ff_codec_t *self)
{
    return self->data;
}

size_t
ff_codec_size (ff_codec_t *self)
{
    return self->size;
}

static void
s_pack_str (ff_codec_t *self, const char *text, size_t len)
{
    msgpack_pack_str (&self->packer, len);
    if (len)
        msgpack_pack_str_body (&self->packer, text, len);
}

static void
s_pack_cstr (ff_codec_t *self, const char *text)
{
    s_pack_str (self, text, strlen (text));
}

static void
s_pack_bin (ff_codec_t *self, const void *data, size_t size)
{
    msgpack_pack_bin (&self->packer, size);
    if (size)
        msgpack_pack_bin_body (&self->packer, data, size);
}

void
ff_codec_set_limit (ff_codec_t *self, size_t limit)
{
    self->limit = limit;
}

void
ff_codec_set_version (ff_codec_t *self, uint64_t version)
{
    assert (version == FF_PROTOCOL_VERSION || version == FF_PROTOCOL_POOL);
    self->version = version;
}

static void
s_begin (ff_codec_t *self, ff_msg_type_t type, size_t fields)
{
    uint64_t version = s_type_version (type);
    self->size = 0;
    self->failed = 0;
    msgpack_pack_array (&self->packer, fields);
    msgpack_pack_uint64 (&self->packer, version? version: self->version);
    s_pack_cstr (self, s_names [type]);
}

static void
s_pack_names (ff_codec_t *self, const char *const *names, size_t count)
{
    size_t index;
    msgpack_pack_array (&self->packer, count);
    for (index = 0; index < count; index++)
        s_pack_cstr (self, names [index]);
}

void
ff_codec_hello (ff_codec_t *self, const char *role, const char *name,
                uint64_t flags)
{
    s_begin (self, FF_MSG_HELLO, 5);
    s_pack_cstr (self, role);
    s_pack_cstr (self, name);
    msgpack_pack_uint64 (&self->packer, flags);
}

void
ff_codec_welcome (ff_codec_t *self, const char *job, uint64_t worker,
                  const char *endpoint, uint64_t hb_ms,
                  const char *const *kernels, size_t nkernels,
                  const char *const *params, size_t nparams)
{
    size_t index;
    s_begin (self, FF_MSG_WELCOME, 8);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, worker);
    s_pack_cstr (self, endpoint);
    msgpack_pack_uint64 (&self->packer, hb_ms);
    s_pack_names (self, kernels, nkernels);
    msgpack_pack_array (&self->packer, nparams);
    for (index = 0; index < nparams; index++) {
        msgpack_pack_array (&self->packer, 2);
        s_pack_cstr (self, params [2 * index]);
        s_pack_cstr (self, params [2 * index + 1]);
    }
}

void
ff_codec_job (ff_codec_t *self, const char *job, const char *const *kernels,
              size_t nkernels, int64_t total, uint64_t window)
{
    s_begin (self, FF_MSG_JOB, 6);
    s_pack_cstr (self, job);
    s_pack_names (self, kernels, nkernels);
    msgpack_pack_int64 (&self->packer, total);
    msgpack_pack_uint64 (&self->packer, window);
}

void
ff_codec_hb (ff_codec_t *self, const char *job, uint64_t worker)
{
    s_begin (self, FF_MSG_HB, 4);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, worker);
}

void
ff_codec_bye (ff_codec_t *self, const char *job, uint64_t worker)
{
    s_begin (self, FF_MSG_BYE, 4);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, worker);
}

void
ff_codec_end (ff_codec_t *self, const char *job, uint64_t status)
{
    s_begin (self, FF_MSG_END, 4);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, status);
}

void
ff_codec_mark (ff_codec_t *self, const char *job, uint64_t seq, uint64_t hash)
{
    s_begin (self, FF_MSG_MARK, 5);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, seq);
    msgpack_pack_uint64 (&self->packer, hash);
}

void
ff_codec_ack_begin (ff_codec_t *self, const char *job, uint64_t written,
                    size_t nseqs)
{
    s_begin (self, FF_MSG_ACK, 5);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, written);
    msgpack_pack_array (&self->packer, nseqs);
}

void
ff_codec_ack_seq (ff_codec_t *self, uint64_t seq)
{
    msgpack_pack_uint64 (&self->packer, seq);
}

int
ff_codec_task_begin (ff_codec_t *self, const char *job, size_t count)
{
    s_begin (self, FF_MSG_TASK, 4);
    s_pack_cstr (self, job);
    msgpack_pack_array (&self->packer, count);
    return self->failed? -1: 0;
}


/* Packs item's array handles, each [name, dtype, shape, segment, offset,
   length, bytes], after the array header the caller wrote. */
static void
s_pack_handles (ff_codec_t *self, const ff_item_t *item)
{
    size_t index, dim;
    for (index = 0; index < item->narrays; index++) {
        const ff_handle_t *handle = &item->arrays [index];
        msgpack_pack_array (&self->packer, 7);
        s_pack_str (self, handle->name.ptr, handle->name.len);
        msgpack_pack_uint32 (&self->packer, handle->dtype);
        msgpack_pack_array (&self->packer, handle->ndim);
        for (dim = 0; dim < handle->ndim; dim++)
            msgpack_pack_uint64 (&self->packer, handle->shape [dim]);
        s_pack_str (self, handle->segment.ptr, handle->segment.len);
        msgpack_pack_uint64 (&self->packer, handle->offset);
        msgpack_pack_uint64 (&self->packer, handle->length);
        s_pack_bin (self, handle->bytes.ptr, handle->bytes.len);
    }
}

int
ff_codec_task_item (ff_codec_t *self, const ff_item_t *item)
{
    if (self->failed)
        return -1;
    if (item->input.len > SIZE_MAX / 4 || item->data.len > SIZE_MAX / 4
    ||  s_reserve (self, S_ITEM_FIXED_MAX + item->input.len + item->data.len)) {
        self->failed = 1;
        return -1;
    }
    uint8_t *at = (uint8_t *) self->data + self->size;
    at = s_put_array (at, 8);
    at = s_put_uint (at, item->seq);
    at = s_put_uint (at, item->kernel);
    at = s_put_str (at, item->input.ptr, item->input.len);
    at = s_put_bin (at, item->data.ptr, item->data.len);
    at = s_put_uint (at, item->attempt);
    at = s_put_uint (at, item->chunk);
    at = s_put_uint (at, item->chunks? item->chunks: 1);
    at = s_put_array (at, item->narrays);
    self->size = (size_t) ((char *) at - self->data);
    s_pack_handles (self, item);
    return self->failed? -1: 0;
}

int
ff_codec_result_begin (ff_codec_t *self, const char *job, uint64_t worker,
                       size_t count)
{
    s_begin (self, FF_MSG_RESULT, 5);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, worker);
    msgpack_pack_array (&self->packer, count);
    return self->failed? -1: 0;
}

int
ff_codec_result_item (ff_codec_t *self, const ff_item_t *item)
{
    if (self->failed)
        return -1;
    if (item->input.len > SIZE_MAX / 4 || item->data.len > SIZE_MAX / 4
    ||  item->meta.len > SIZE_MAX / 4
    ||  s_reserve (self, S_ITEM_FIXED_MAX + item->input.len + item->data.len + item->meta.len)) {
        self->failed = 1;
        return -1;
    }
    uint8_t *at = (uint8_t *) self->data + self->size;
    at = s_put_array (at, 8);
    at = s_put_uint (at, item->seq);
    at = s_put_uint (at, item->kernel);
    at = s_put_uint (at, item->status);
    at = s_put_uint (at, item->kind);
    at = s_put_str (at, item->input.ptr, item->input.len);
    at = s_put_bin (at, item->data.ptr, item->data.len);
    at = s_put_str (at, item->meta.ptr, item->meta.len);
    at = s_put_array (at, 7);
    at = s_put_uint (at, item->attempt);
    at = s_put_uint (at, item->tries);
    at = s_put_uint (at, item->start_ms);
    at = s_put_uint (at, item->runtime_us);
    at = s_put_uint (at, item->bytes_in);
    at = s_put_uint (at, item->chunk);
    at = s_put_uint (at, item->chunks? item->chunks: 1);
    self->size = (size_t) ((char *) at - self->data);
    return 0;
}

void
ff_codec_record (ff_codec_t *self, const char *input, size_t input_len,
                 const void *data, size_t size)
{
    s_begin (self, FF_MSG_RECORD, 4);
    s_pack_str (self, input, input_len);
    s_pack_bin (self, data, size);
}

void
ff_codec_eos (ff_codec_t *self, uint64_t count)
{
    s_begin (self, FF_MSG_EOS, 3);
    msgpack_pack_uint64 (&self->packer, count);
}

void
ff_codec_emit (ff_codec_t *self, uint64_t seq, const char *input,
               size_t input_len, const char *kernel, uint32_t status,
               const void *body, size_t size, const char *meta, size_t meta_len)
{
    s_begin (self, FF_MSG_EMIT, 8);
    msgpack_pack_uint64 (&self->packer, seq);
    s_pack_str (self, input, input_len);
    s_pack_cstr (self, kernel);
    msgpack_pack_uint32 (&self->packer, status);
    s_pack_bin (self, body, size);
    s_pack_str (self, meta, meta_len);
}

/* ---------------------------------------------------- version 2: the pool */

static void
s_pack_params (ff_codec_t *self, const char *const *params, size_t nparams)
{
    size_t index;
    msgpack_pack_array (&self->packer, nparams);
    for (index = 0; index < nparams; index++) {
        msgpack_pack_array (&self->packer, 2);
        s_pack_cstr (self, params [2 * index]);
        s_pack_cstr (self, params [2 * index + 1]);
    }
}

void
ff_codec_welcome_pool (ff_codec_t *self, const char *pool, uint64_t worker,
                       const char *endpoint, uint64_t hb_ms)
{
    uint64_t version = self->version;
    self->version = FF_PROTOCOL_POOL;
    s_begin (self, FF_MSG_WELCOME, 6);
    self->version = version;
    s_pack_cstr (self, pool);
    msgpack_pack_uint64 (&self->packer, worker);
    s_pack_cstr (self, endpoint);
    msgpack_pack_uint64 (&self->packer, hb_ms);
}

void
ff_codec_jobspec (ff_codec_t *self, const char *job, const char *const *kernels,
                  size_t nkernels, const char *const *params, size_t nparams)
{
    s_begin (self, FF_MSG_JOBSPEC, 5);
    s_pack_cstr (self, job);
    s_pack_names (self, kernels, nkernels);
    s_pack_params (self, params, nparams);
}

void
ff_codec_forget (ff_codec_t *self, const char *job)
{
    s_begin (self, FF_MSG_FORGET, 3);
    s_pack_cstr (self, job);
}

void
ff_codec_cancel (ff_codec_t *self, const char *job)
{
    s_begin (self, FF_MSG_CANCEL, 3);
    s_pack_cstr (self, job);
}

void
ff_codec_submit (ff_codec_t *self, const char *client, const char *const *kernels,
                 size_t nkernels, const char *const *params, size_t nparams,
                 uint64_t share, uint64_t flags)
{
    s_begin (self, FF_MSG_SUBMIT, 7);
    s_pack_cstr (self, client);
    s_pack_names (self, kernels, nkernels);
    s_pack_params (self, params, nparams);
    msgpack_pack_uint64 (&self->packer, share);
    msgpack_pack_uint64 (&self->packer, flags);
}

void
ff_codec_accepted (ff_codec_t *self, const char *job, uint64_t window,
                   uint64_t window_bytes)
{
    s_begin (self, FF_MSG_ACCEPTED, 5);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, window);
    msgpack_pack_uint64 (&self->packer, window_bytes);
}

void
ff_codec_refused (ff_codec_t *self, const char *reason)
{
    s_begin (self, FF_MSG_REFUSED, 3);
    s_pack_cstr (self, reason);
}

int
ff_codec_tasks_begin (ff_codec_t *self, const char *job, size_t count)
{
    s_begin (self, FF_MSG_TASKS, 4);
    s_pack_cstr (self, job);
    msgpack_pack_array (&self->packer, count);
    return self->failed? -1: 0;
}

int
ff_codec_tasks_item (ff_codec_t *self, const ff_item_t *item)
{
    if (self->failed)
        return -1;
    msgpack_pack_array (&self->packer, 7);
    msgpack_pack_uint64 (&self->packer, item->seq);
    msgpack_pack_uint32 (&self->packer, item->kernel);
    s_pack_str (self, item->input.ptr, item->input.len);
    s_pack_bin (self, item->data.ptr, item->data.len);
    msgpack_pack_uint32 (&self->packer, item->chunk);
    msgpack_pack_uint32 (&self->packer, item->chunks? item->chunks: 1);
    msgpack_pack_array (&self->packer, item->narrays);
    s_pack_handles (self, item);
    return self->failed? -1: 0;
}

void
ff_codec_total (ff_codec_t *self, const char *job, uint64_t total)
{
    s_begin (self, FF_MSG_TOTAL, 4);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, total);
}

void
ff_codec_client_hb (ff_codec_t *self, const char *job)
{
    uint64_t version = self->version;
    self->version = FF_PROTOCOL_POOL;
    s_begin (self, FF_MSG_HB, 3);
    self->version = version;
    s_pack_cstr (self, job);
}

void
ff_codec_status (ff_codec_t *self, const char *document, size_t len)
{
    s_begin (self, FF_MSG_STATUS, document? 3: 2);
    if (document)
        s_pack_str (self, document, len);
}

void
ff_codec_fetch (ff_codec_t *self, const char *job, uint64_t worker, uint64_t seq,
                const char *segment, size_t segment_len, uint64_t offset, uint64_t length)
{
    s_begin (self, FF_MSG_FETCH, 8);
    s_pack_cstr (self, job);
    msgpack_pack_uint64 (&self->packer, worker);
    msgpack_pack_uint64 (&self->packer, seq);
    s_pack_str (self, segment, segment_len);
    msgpack_pack_uint64 (&self->packer, offset);
    msgpack_pack_uint64 (&self->packer, length);
}

void
ff_codec_fetched (ff_codec_t *self, const char *job, size_t job_len, uint64_t seq,
                  const char *segment, size_t segment_len, uint64_t offset,
                  uint64_t status, const void *data, size_t size)
{
    s_begin (self, FF_MSG_FETCHED, 8);
    s_pack_str (self, job, job_len);
    msgpack_pack_uint64 (&self->packer, seq);
    s_pack_str (self, segment, segment_len);
    msgpack_pack_uint64 (&self->packer, offset);
    msgpack_pack_uint64 (&self->packer, status);
    s_pack_bin (self, data, size);
}
