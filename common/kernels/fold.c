/*  fanfold folding: one accumulator per kernel of the job, since chunks of
    one input interleave their kernels (input-major order). */

#include "fanfold/kernels/fold.h"

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
