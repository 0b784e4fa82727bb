/*  fanfold folding: one accumulator per kernel of the job, since chunks of
    one input interleave their kernels (input-major order); the folds under
    way are saved as text lines for the resume state and loaded back. */

#include "fanfold/kernels/fold.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
    ff_buf_t acc;                   /* folded result so far, or error text */
    ff_buf_t input;                 /* the input's name */
    uint64_t seq;                   /* seq of the first chunk */
    int failed;                     /* a chunk failed: acc holds its message */
    uint32_t next;                  /* chunk expected next */
} s_fold_t;

struct ff_folder {
    s_fold_t folds [FF_MAX_KERNELS]; /* one per kernel index */
};

ff_folder_t *
ff_folder_new (void)
{
    return (ff_folder_t *) calloc (1, sizeof (ff_folder_t));
}

void
ff_folder_destroy (ff_folder_t **self_p)
{
    if (self_p && *self_p) {
        ff_folder_t *self = *self_p;
        size_t index;
        for (index = 0; index < FF_MAX_KERNELS; index++) {
            free (self->folds [index].acc.data);
            free (self->folds [index].input.data);
        }
        free (self);
        *self_p = NULL;
    }
}

static void
s_fail (s_fold_t *fold, const char *message, const void *detail, size_t size)
{
    fold->failed = 1;
    fold->acc.size = 0;
    ff_buf_puts (&fold->acc, message);
    ff_buf_append (&fold->acc, detail, size);
}

int
ff_folder_take (ff_folder_t *self, const ff_kernel_t *kernel,
                uint32_t kernel_index, const ff_record_t *record,
                uint32_t chunk, uint32_t chunks, ff_record_t *out)
{
    if (chunks <= 1 || !kernel || !kernel->fold || kernel_index >= FF_MAX_KERNELS) {
        *out = *record;
        return 1;
    }
    s_fold_t *fold = &self->folds [kernel_index];
    if (chunk == 0 || chunk != fold->next) {
        /* a new input (a chunk out of turn cannot happen in seq order) */
        fold->acc.size = fold->input.size = 0;
        fold->failed = 0;
        fold->seq = record->seq;
        ff_buf_append (&fold->input, record->input, record->input_len);
        if (chunk != 0) {
            char message [96];
            snprintf (message, sizeof (message), "chunk %u of %u came before chunk 0", chunk, chunks);
            s_fail (fold, message, NULL, 0);
        }
    }
    fold->next = chunk + 1;
    if (!fold->failed) {
        if (record->status != FF_STATUS_OK) {
            char message [64];
            snprintf (message, sizeof (message), "chunk %u of %u: ", chunk, chunks);
            s_fail (fold, message, record->body, record->size);
        }
        else
        if (chunk == 0) {
            if (ff_buf_append (&fold->acc, record->body, record->size))
                s_fail (fold, "out of memory", NULL, 0);
        }
        else
        if (kernel->fold (&fold->acc, (const uint8_t *) record->body, record->size) != 0)
            s_fail (fold, "cannot fold the partial result of chunk ", NULL, 0);
    }
    if (chunk + 1 < chunks)
        return 0;
    memset (out, 0, sizeof (*out));
    out->seq = fold->seq;
    out->input = (const char *) fold->input.data;
    out->input_len = fold->input.size;
    out->kernel = record->kernel;
    out->status = fold->failed? FF_STATUS_ERROR: FF_STATUS_OK;
    out->kind = record->kind;
    out->body = fold->acc.data;
    out->size = fold->acc.size;
    fold->next = 0;
    return 1;
}

/* Appends size bytes as hex ("-" when empty) to out, which has room for
   left bytes. Returns the bytes written, or -1 when they do not fit. */
static int
s_hex (char *out, size_t left, const uint8_t *data, size_t size)
{
    static const char digits [] = "0123456789abcdef";
    size_t index;
    if (size == 0) {
        if (left < 2)
            return -1;
        memcpy (out, "-", 2);
        return 1;
    }
    if (left < 2 * size + 1)
        return -1;
    for (index = 0; index < size; index++) {
        out [2 * index] = digits [data [index] >> 4];
        out [2 * index + 1] = digits [data [index] & 15];
    }
    out [2 * size] = 0;
    return (int) (2 * size);
}

/* Reads hex text (or "-") of len characters into buf. Returns 0 or -1. */
static int
s_unhex (ff_buf_t *buf, const char *text, size_t len)
{
    size_t index;
    buf->size = 0;
    if (len == 1 && *text == '-')
        return 0;
    if (len % 2)
        return -1;
    for (index = 0; index < len; index += 2) {
        unsigned value;
        char pair [3] = { text [index], text [index + 1], 0 };
        if (!strchr ("0123456789abcdef", pair [0]) || !strchr ("0123456789abcdef", pair [1])
        ||  sscanf (pair, "%2x", &value) != 1)
            return -1;
        uint8_t byte = (uint8_t) value;
        if (ff_buf_append (buf, &byte, 1))
            return -1;
    }
    return 0;
}

int
ff_folder_save (ff_folder_t *self, char *out, size_t size)
{
    size_t used = 0, index;
    if (size == 0)
        return -1;
    *out = 0;
    for (index = 0; index < FF_MAX_KERNELS; index++) {
        s_fold_t *fold = &self->folds [index];
        if (fold->next == 0)
            continue;               /* none under way */
        int len = snprintf (out + used, size - used, "fold %zu %" PRIu64 " %u %d ", index,
                            fold->seq, fold->next, fold->failed);
        if (len < 0 || (size_t) len >= size - used)
            return -1;
        used += (size_t) len;
        if ((len = s_hex (out + used, size - used, fold->input.data, fold->input.size)) < 0)
            return -1;
        used += (size_t) len;
        if (size - used < 2)
            return -1;
        out [used++] = ' ';
        if ((len = s_hex (out + used, size - used, fold->acc.data, fold->acc.size)) < 0)
            return -1;
        used += (size_t) len;
        if (size - used < 2)
            return -1;
        out [used++] = '\n';
        out [used] = 0;
    }
    return (int) used;
}

int
ff_folder_load (ff_folder_t *self, const char *text)
{
    while (*text) {
        size_t index;
        uint64_t seq;
        unsigned next;
        int failed, used = -1;
        if (sscanf (text, "fold %zu %" SCNu64 " %u %d %n", &index, &seq, &next, &failed,
                    &used) != 4 || used < 0 || index >= FF_MAX_KERNELS || next == 0)
            return -1;
        s_fold_t *fold = &self->folds [index];
        const char *input = text + used;
        size_t input_len = strcspn (input, " \n");
        if (input [input_len] != ' ')
            return -1;
        const char *acc = input + input_len + 1;
        size_t acc_len = strcspn (acc, " \n");
        if (acc [acc_len] != '\n'
        ||  s_unhex (&fold->input, input, input_len) || s_unhex (&fold->acc, acc, acc_len))
            return -1;
        fold->seq = seq;
        fold->next = next;
        fold->failed = failed != 0;
        text = acc + acc_len + 1;
    }
    return 0;
}
