/*  libFuzzer target over what fanfold reads from peers and files. Every
    input goes through ff_msg_decode (then every item or seq it accepted,
    each returned string read byte by byte so ASan sees a bad pointer, and a
    re-encode that must decode to the same fields) and through ff_npy_parse
    (whose answer must keep the promises of npy.h). A broken promise aborts,
    so libFuzzer reports it like a crash. Built and run by `make fuzz`. */

#include "fanfold/runtime/codec.h"
#include "fanfold/kernel.h"
#include "fanfold/kernels/npy.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static volatile uint8_t s_sink;     /* keeps the byte reads alive */

/* Aborts with a message when a promise is broken. */
#define S_CHECK(cond) \
    do { if (!(cond)) s_broken (__LINE__, #cond); } while (0)

static void
s_broken (int line, const char *what)
{
    fprintf (stderr, "fuzz_decode.c:%d: broken promise: %s\n", line, what);
    abort ();
}

/* ----------------------------------------------------------------- codec */

typedef struct {
    const uint8_t *start;           /* the frame being decoded */
    const uint8_t *end;             /* one past its last byte */
} s_frame_t;

/* Reads every byte of s, which must lie inside the frame. */
static void
s_touch (const s_frame_t *frame, ff_str_t s)
{
    size_t index;
    uint8_t sum = 0;
    if (s.len == 0)
        return;
    S_CHECK (s.ptr != NULL);
    S_CHECK ((const uint8_t *) s.ptr >= frame->start);
    S_CHECK ((const uint8_t *) s.ptr + s.len <= frame->end);
    for (index = 0; index < s.len; index++)
        sum ^= (uint8_t) s.ptr [index];
    s_sink ^= sum;
}

static int
s_same (ff_str_t a, ff_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp (a.ptr, b.ptr, a.len) == 0);
}

static int
s_has_nul (ff_str_t s)
{
    return s.len > 0 && memchr (s.ptr, 0, s.len) != NULL;
}

/* A NUL-terminated copy for the encoder's const char * arguments. */
static char *
s_dup (ff_str_t s)
{
    char *copy = ff_str_dup (s);
    S_CHECK (copy != NULL);
    return copy;
}

/* Reads and checks the items of a task or result message; returns how
   many there were (which must be what decode counted). */
static size_t
s_walk_items (const s_frame_t *frame, ff_msg_t *msg, ff_item_t *items)
{
    size_t count = msg->count, seen = 0, index;
    ff_item_t item;
    S_CHECK (count >= 1 && count <= FF_MAX_BATCH);
    while (ff_msg_next_item (msg, &item)) {
        S_CHECK (seen < count);
        S_CHECK (item.kernel < FF_MAX_KERNELS);
        S_CHECK (item.status <= FF_STATUS_ERROR && item.kind <= FF_KIND_JSON);
        S_CHECK (item.chunks >= 1 && item.chunk < item.chunks);
        S_CHECK (item.narrays <= FF_MAX_ARRAYS);
        s_touch (frame, item.input);
        s_touch (frame, item.data);
        s_touch (frame, item.meta);
        for (index = 0; index < item.narrays; index++) {
            const ff_handle_t *handle = &item.arrays [index];
            S_CHECK (handle->ndim >= 1 && handle->ndim <= 4);
            S_CHECK (handle->dtype > FF_DTYPE_NONE && handle->dtype <= FF_DTYPE_F64);
            /* a segment slice, or exactly length inline bytes */
            S_CHECK (handle->segment.len? handle->bytes.len == 0
                                        : handle->bytes.len == handle->length);
            s_touch (frame, handle->name);
            s_touch (frame, handle->segment);
            s_touch (frame, handle->bytes);
        }
        items [seen++] = item;
    }
    S_CHECK (seen == count);
    S_CHECK (ff_msg_next_item (msg, &item) == 0);
    return seen;
}

static int
s_same_handle (const ff_handle_t *a, const ff_handle_t *b)
{
    uint32_t dim;
    int same = a->dtype == b->dtype && a->ndim == b->ndim
            && a->offset == b->offset && a->length == b->length
            && s_same (a->name, b->name) && s_same (a->segment, b->segment)
            && s_same (a->bytes, b->bytes);
    for (dim = 0; same && dim < a->ndim; dim++)
        same = a->shape [dim] == b->shape [dim];
    return same;
}

static int
s_same_item (const ff_item_t *a, const ff_item_t *b, ff_msg_type_t type)
{
    size_t index;
    int same = a->seq == b->seq && a->kernel == b->kernel
            && a->attempt == b->attempt && a->chunk == b->chunk
            && a->chunks == b->chunks && a->narrays == b->narrays
            && s_same (a->input, b->input) && s_same (a->data, b->data);
    for (index = 0; same && index < a->narrays; index++)
        same = s_same_handle (&a->arrays [index], &b->arrays [index]);
    if (type == FF_MSG_RESULT)
        same = same && a->status == b->status && a->kind == b->kind
            && a->tries == b->tries && a->start_ms == b->start_ms
            && a->runtime_us == b->runtime_us && a->bytes_in == b->bytes_in
            && s_same (a->meta, b->meta);
    return same;
}

/* Encodes msg again with the codec (items and seqs given apart, since the
   walk consumed them), then decodes that and checks it says the same. The
   encoder takes C strings for names, so a name with a NUL is skipped. */
static void
s_round_trip (const ff_msg_t *msg, const ff_item_t *items, size_t nitems,
              const uint64_t *seqs, size_t nseqs)
{
    ff_codec_t *codec = ff_codec_new ();
    S_CHECK (codec != NULL);
    char *job = NULL, *role = NULL, *name = NULL, *endpoint = NULL, *text = NULL;
    char *kernels [FF_MAX_KERNELS] = { NULL };
    char *params [2 * FF_MAX_PARAMS] = { NULL };
    size_t index;
    int skip = s_has_nul (msg->job) || s_has_nul (msg->role)
            || s_has_nul (msg->name) || s_has_nul (msg->endpoint);
    for (index = 0; index < msg->nkernels; index++)
        skip = skip || s_has_nul (msg->kernels [index]);
    for (index = 0; index < 2 * msg->nparams; index++)
        skip = skip || s_has_nul (msg->params [index]);
    if (skip)
        goto done;
    job = s_dup (msg->job);
    role = s_dup (msg->role);
    name = s_dup (msg->name);
    endpoint = s_dup (msg->endpoint);
    for (index = 0; index < msg->nkernels; index++)
        kernels [index] = s_dup (msg->kernels [index]);
    for (index = 0; index < 2 * msg->nparams; index++)
        params [index] = s_dup (msg->params [index]);

    if (s_has_nul (msg->text))
        goto done;
    text = s_dup (msg->text);
    ff_codec_set_version (codec, msg->version);
    switch (msg->type) {
        case FF_MSG_HELLO:
            ff_codec_hello (codec, role, name, msg->flags);
            break;
        case FF_MSG_WELCOME:
            if (msg->version == FF_PROTOCOL_POOL)
                ff_codec_welcome_pool (codec, job, msg->worker, endpoint, msg->hb_ms);
            else
                ff_codec_welcome (codec, job, msg->worker, endpoint, msg->hb_ms,
                                  (const char *const *) kernels, msg->nkernels,
                                  (const char *const *) params, msg->nparams);
            break;
        case FF_MSG_JOBSPEC:
            ff_codec_jobspec (codec, job, (const char *const *) kernels, msg->nkernels,
                              (const char *const *) params, msg->nparams);
            break;
        case FF_MSG_FORGET:
            ff_codec_forget (codec, job);
            break;
        case FF_MSG_CANCEL:
            ff_codec_cancel (codec, job);
            break;
        case FF_MSG_SUBMIT:
            ff_codec_submit (codec, name, (const char *const *) kernels, msg->nkernels,
                             (const char *const *) params, msg->nparams, msg->share,
                             msg->flags);
            break;
        case FF_MSG_ACCEPTED:
            ff_codec_accepted (codec, job, msg->window, msg->window_bytes);
            break;
        case FF_MSG_REFUSED:
            ff_codec_refused (codec, text);
            break;
        case FF_MSG_TASKS:
            ff_codec_tasks_begin (codec, job, nitems);
            for (index = 0; index < nitems; index++)
                ff_codec_tasks_item (codec, &items [index]);
            break;
        case FF_MSG_TOTAL:
            ff_codec_total (codec, job, (uint64_t) msg->total);
            break;
        case FF_MSG_STATUS:
            ff_codec_status (codec, msg->has_text? text: NULL, msg->text.len);
            break;
        case FF_MSG_JOB:
            ff_codec_job (codec, job, (const char *const *) kernels,
                          msg->nkernels, msg->total, msg->window);
            break;
        case FF_MSG_ACK:
            ff_codec_ack_begin (codec, job, msg->written, nseqs);
            for (index = 0; index < nseqs; index++)
                ff_codec_ack_seq (codec, seqs [index]);
            break;
        case FF_MSG_HB:
            /* a client's [2, "hb", job] decodes as worker 0, as [2, "hb", job, 0] */
            if (msg->version == FF_PROTOCOL_POOL && msg->worker == 0)
                ff_codec_client_hb (codec, job);
            else
                ff_codec_hb (codec, job, msg->worker);
            break;
        case FF_MSG_BYE:
            ff_codec_bye (codec, job, msg->worker);
            break;
        case FF_MSG_END:
            ff_codec_end (codec, job, msg->status);
            break;
        case FF_MSG_TASK:
            ff_codec_task_begin (codec, job, nitems);
            for (index = 0; index < nitems; index++)
                ff_codec_task_item (codec, &items [index]);
            break;
        case FF_MSG_RESULT:
            ff_codec_result_begin (codec, job, msg->worker, nitems);
            for (index = 0; index < nitems; index++)
                ff_codec_result_item (codec, &items [index]);
            break;
        case FF_MSG_RECORD:
            ff_codec_record (codec, msg->record.input.ptr, msg->record.input.len,
                             msg->record.data.ptr, msg->record.data.len);
            break;
        case FF_MSG_EOS:
            ff_codec_eos (codec, msg->written);
            break;
        case FF_MSG_MARK:
            ff_codec_mark (codec, job, msg->written, msg->hash);
            break;
        case FF_MSG_FETCH:
            ff_codec_fetch (codec, job, msg->worker, msg->seq, msg->segment.ptr,
                            msg->segment.len, msg->offset, msg->length);
            break;
        case FF_MSG_FETCHED:
            ff_codec_fetched (codec, msg->job.ptr, msg->job.len, msg->seq,
                              msg->segment.ptr, msg->segment.len, msg->offset,
                              msg->status, msg->data.ptr, msg->data.len);
            break;
        case FF_MSG_EMIT:
            ff_codec_emit (codec, msg->record.seq, msg->record.input.ptr,
                           msg->record.input.len, name, msg->record.status,
                           msg->record.data.ptr, msg->record.data.len,
                           msg->record.meta.ptr, msg->record.meta.len);
            break;
    }

    /* the copy: decode what was encoded, in a buffer of its exact size */
    size_t size = ff_codec_size (codec);
    uint8_t *copy = (uint8_t *) malloc (size? size: 1);
    S_CHECK (copy != NULL);
    memcpy (copy, ff_codec_data (codec), size);
    ff_msg_t again;
    S_CHECK (ff_msg_decode (copy, size, &again) == 0);
    S_CHECK (again.type == msg->type && again.version == msg->version);
    S_CHECK (again.share == msg->share && again.window_bytes == msg->window_bytes
          && again.has_text == msg->has_text && s_same (again.text, msg->text));
    S_CHECK (s_same (again.job, msg->job) && s_same (again.role, msg->role)
          && s_same (again.name, msg->name) && s_same (again.endpoint, msg->endpoint));
    S_CHECK (again.flags == msg->flags && again.worker == msg->worker
          && again.hb_ms == msg->hb_ms && again.total == msg->total
          && again.window == msg->window && again.status == msg->status);
    S_CHECK (again.nkernels == msg->nkernels && again.nparams == msg->nparams);
    for (index = 0; index < msg->nkernels; index++)
        S_CHECK (s_same (again.kernels [index], msg->kernels [index]));
    for (index = 0; index < 2 * msg->nparams; index++)
        S_CHECK (s_same (again.params [index], msg->params [index]));
    if (msg->type == FF_MSG_ACK || msg->type == FF_MSG_EOS || msg->type == FF_MSG_MARK)
        S_CHECK (again.written == msg->written);
    if (msg->type == FF_MSG_MARK)
        S_CHECK (again.hash == msg->hash);
    if (msg->type == FF_MSG_FETCH || msg->type == FF_MSG_FETCHED)
        S_CHECK (again.seq == msg->seq && again.offset == msg->offset
              && s_same (again.segment, msg->segment));
    if (msg->type == FF_MSG_FETCH)
        S_CHECK (again.length == msg->length);
    if (msg->type == FF_MSG_FETCHED)
        S_CHECK (s_same (again.data, msg->data));
    if (msg->type == FF_MSG_RECORD || msg->type == FF_MSG_EMIT)
        S_CHECK (s_same (again.record.input, msg->record.input)
              && s_same (again.record.data, msg->record.data));
    if (msg->type == FF_MSG_EMIT)
        S_CHECK (again.record.seq == msg->record.seq
              && again.record.status == msg->record.status
              && s_same (again.record.meta, msg->record.meta));
    if (msg->type == FF_MSG_ACK) {
        uint64_t seq;
        S_CHECK (again.count == nseqs);
        for (index = 0; ff_msg_next_seq (&again, &seq); index++)
            S_CHECK (index < nseqs && seq == seqs [index]);
        S_CHECK (index == nseqs);
    }
    if (msg->type == FF_MSG_TASK || msg->type == FF_MSG_TASKS || msg->type == FF_MSG_RESULT) {
        ff_item_t item;
        S_CHECK (again.count == nitems);
        for (index = 0; ff_msg_next_item (&again, &item); index++)
            S_CHECK (index < nitems && s_same_item (&item, &items [index], msg->type));
        S_CHECK (index == nitems);
    }
    free (copy);
done:
    free (text);
    free (job);
    free (role);
    free (name);
    free (endpoint);
    for (index = 0; index < FF_MAX_KERNELS; index++)
        free (kernels [index]);
    for (index = 0; index < 2 * FF_MAX_PARAMS; index++)
        free (params [index]);
    ff_codec_destroy (&codec);
    S_CHECK (codec == NULL);
}

static void
s_fuzz_codec (const uint8_t *data, size_t size)
{
    static ff_item_t items [FF_MAX_BATCH];
    static uint64_t seqs [FF_MAX_ACK_SEQS];
    s_frame_t frame = { data, data + size };
    ff_msg_t msg;
    size_t index, nitems = 0, nseqs = 0;

    if (ff_msg_decode (data, size, &msg) != 0)
        return;
    S_CHECK (msg.type >= FF_MSG_HELLO && msg.type <= FF_MSG_FETCHED);
    S_CHECK (msg.version == FF_PROTOCOL_VERSION || msg.version == FF_PROTOCOL_POOL);
    s_touch (&frame, msg.text);
    S_CHECK (strcmp (ff_msg_type_name (msg.type), "?") != 0);
    s_touch (&frame, msg.job);
    s_touch (&frame, msg.role);
    s_touch (&frame, msg.name);
    s_touch (&frame, msg.endpoint);
    s_touch (&frame, msg.segment);
    s_touch (&frame, msg.data);
    S_CHECK (msg.nkernels <= FF_MAX_KERNELS && msg.nparams <= FF_MAX_PARAMS);
    for (index = 0; index < msg.nkernels; index++)
        s_touch (&frame, msg.kernels [index]);
    for (index = 0; index < 2 * msg.nparams; index++)
        s_touch (&frame, msg.params [index]);

    switch (msg.type) {
        case FF_MSG_HELLO:
            S_CHECK (ff_str_eq (msg.role, "worker") || ff_str_eq (msg.role, "sink"));
            break;
        case FF_MSG_JOB:
            S_CHECK (msg.total >= -1 && msg.window > 0);
            break;
        case FF_MSG_ACK: {
            uint64_t seq;
            S_CHECK (msg.count <= FF_MAX_ACK_SEQS);
            size_t count = msg.count;
            while (ff_msg_next_seq (&msg, &seq)) {
                S_CHECK (nseqs < count);
                seqs [nseqs++] = seq;
            }
            S_CHECK (nseqs == count);
            S_CHECK (ff_msg_next_seq (&msg, &seq) == 0);
            break;
        }
        case FF_MSG_TASK:
        case FF_MSG_TASKS:
        case FF_MSG_RESULT:
            nitems = s_walk_items (&frame, &msg, items);
            break;
        case FF_MSG_RECORD:
            s_touch (&frame, msg.record.input);
            s_touch (&frame, msg.record.data);
            break;
        case FF_MSG_EMIT:
            S_CHECK (msg.record.status <= FF_STATUS_ERROR);
            s_touch (&frame, msg.record.input);
            s_touch (&frame, msg.record.data);
            s_touch (&frame, msg.record.meta);
            break;
        default:
            break;
    }
    s_round_trip (&msg, items, nitems, seqs, nseqs);
}

/* ------------------------------------------------------------------- npy */

/* Checks what npy.h promises of a parse that succeeded. */
static void
s_check_npy (const ff_npy_t *npy, size_t size, uint64_t file_size)
{
    uint32_t dim;
    uint64_t count = 1;
    S_CHECK (npy->major >= 1 && npy->major <= 3 && npy->minor == 0);
    S_CHECK (npy->ndim >= 1 && npy->ndim <= FF_MAX_DIMS);
    S_CHECK (npy->itemsize > 0 && npy->itemsize == ff_npy_dtype_size (npy->dtype));
    S_CHECK (strcmp (ff_npy_dtype_name (npy->dtype), "?") != 0);
    for (dim = 0; dim < npy->ndim; dim++) {
        S_CHECK (npy->shape [dim] == 0 || count <= UINT64_MAX / npy->shape [dim]);
        count *= npy->shape [dim];
    }
    S_CHECK (count == npy->count);
    S_CHECK (npy->bytes / npy->itemsize == npy->count
          && npy->bytes % npy->itemsize == 0);
    S_CHECK (npy->offset <= size);              /* the header was all there */
    S_CHECK (npy->offset <= file_size && npy->bytes <= file_size - npy->offset);
}

/* Checks a failed parse left a one-line message naming the buffer. */
static void
s_check_error (const char *error, size_t error_size)
{
    size_t len = strnlen (error, error_size);
    S_CHECK (len < error_size);
    S_CHECK (len > 0 && strncmp (error, "fuzz", len < 4? len: 4) == 0);
    S_CHECK (memchr (error, '\n', len) == NULL);
}

static void
s_fuzz_npy (const uint8_t *data, size_t size)
{
    ff_npy_t npy;
    char error [256], tiny [8];

    /* the buffer is the whole file */
    if (ff_npy_parse (data, size, 0, "fuzz", &npy, error, sizeof (error)) == 0)
        s_check_npy (&npy, size, size);
    else
        s_check_error (error, sizeof (error));

    /* the buffer is the start of a longer file */
    uint64_t file_size = (uint64_t) size + 4096;
    if (ff_npy_parse (data, size, file_size, "fuzz", &npy, error, sizeof (error)) == 0)
        s_check_npy (&npy, size, file_size);
    else
        s_check_error (error, sizeof (error));

    /* messages cut to a small buffer, or not wanted at all */
    if (ff_npy_parse (data, size, 0, NULL, &npy, tiny, sizeof (tiny)) != 0)
        S_CHECK (strnlen (tiny, sizeof (tiny)) < sizeof (tiny));
    ff_npy_parse (data, size, 0, "fuzz", &npy, NULL, 0);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_fuzz_codec (data, size);
    s_fuzz_npy (data, size);
    return 0;
}
