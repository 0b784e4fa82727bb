/*  fanfold kernel ABI: what a kernel is, what it receives and what it returns.
    This header is the stable interface for built-in and plugin kernels. It
    depends on nothing but the C standard library. FF_KERNEL_ABI changes
    whenever a struct below changes layout; a loader refuses a mismatch. */

#ifndef FANFOLD_KERNEL_H
#define FANFOLD_KERNEL_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#ifdef __cplusplus
extern "C" {
#endif

#define FF_KERNEL_ABI 1

/* The result is a JSON object (written as is in jsonl, as a line in raw). */
#define FF_KERNEL_JSON 0x1u
/* The kernel reads arrays: its file inputs (.npy, .pdb, .pdb.gz, .xyz) are
   loaded into shared memory and reach it as ff_task_t.arrays. */
#define FF_KERNEL_ARRAYS 0x2u

/* A growable byte buffer that a kernel writes its result (or its error
   message) into. The host owns it; a kernel only appends. */
typedef struct {
    uint8_t *data;                  /* bytes written so far, or NULL */
    size_t size;                    /* number of bytes written */
    size_t cap;                     /* allocated size of data */
} ff_buf_t;

/* Element types of an array (numpy's names in comments). */
typedef enum {
    FF_DTYPE_NONE = 0,              /* not an array */
    FF_DTYPE_I8, FF_DTYPE_I16, FF_DTYPE_I32, FF_DTYPE_I64,  /* i1 i2 i4 i8 */
    FF_DTYPE_U8, FF_DTYPE_U16, FF_DTYPE_U32, FF_DTYPE_U64,  /* u1 u2 u4 u8 */
    FF_DTYPE_F32, FF_DTYPE_F64                               /* f4 f8 */
} ff_dtype_t;

#define FF_MAX_DIMS 4

/* A read-only array a task refers to (mapped shared memory, or bytes the
   worker fetched): little-endian, C order. */
typedef struct {
    const char *name;               /* "data", or "coords", "flags", "residues", "topology" */
    ff_dtype_t dtype;               /* element type */
    uint32_t ndim;                  /* number of dimensions, 1..FF_MAX_DIMS */
    uint64_t shape [FF_MAX_DIMS];   /* extent of each dimension */
    const void *data;               /* first element */
    size_t size;                    /* bytes at data */
} ff_array_t;

/* One unit of work, as the kernel sees it. Everything is read-only and
   valid only during the call. */
typedef struct {
    uint64_t seq;                   /* sequence number in the job, from 0 */
    const char *input;              /* input name: argument, or FILE:a-b */
    const uint8_t *data;            /* payload bytes (records, argument) */
    size_t size;                    /* payload length */
    const char *const *params;      /* key, value, key, value, ... */
    size_t nparams;                 /* number of key/value pairs */
    const ff_array_t *arrays;       /* arrays of an array or structure task */
    size_t narrays;                 /* how many (0 for records, arguments) */
} ff_task_t;

/* What a kernel returns. */
typedef struct {
    ff_buf_t data;                  /* the result bytes, or an error message */
    ff_buf_t meta;                  /* optional JSON members added to the jsonl
                                       record, e.g. `"exit":0` (no braces) */
} ff_result_t;

/* A kernel. cost and fold may be NULL. run returns 0 and appends its
   result to result->data, or returns -1 and appends a one-line error
   message. fold merges a partial result (of one chunk) into acc, which
   starts empty, in seq order; it returns 0 or -1. */
typedef struct {
    uint32_t abi;                   /* FF_KERNEL_ABI at build time */
    uint32_t flags;                 /* FF_KERNEL_JSON or 0 */
    const char *name;               /* name used with -k */
    double (*cost) (const ff_task_t *task);
    int (*run) (const ff_task_t *task, ff_result_t *result);
    int (*fold) (ff_buf_t *acc, const uint8_t *partial, size_t size);
} ff_kernel_t;

/* A plugin exports this symbol: it returns its kernels and sets *count. */
typedef const ff_kernel_t *(ff_plugin_kernels_fn) (size_t *count);
#define FF_PLUGIN_SYMBOL "ff_plugin_kernels"

/* Appends size bytes to buf. Returns 0, or -1 when memory runs out. */
static inline int
ff_buf_append (ff_buf_t *buf, const void *data, size_t size)
{
    if (buf->size + size > buf->cap) {
        size_t cap = buf->cap ? buf->cap : 256;
        while (cap < buf->size + size)
            cap *= 2;
        uint8_t *grown = (uint8_t *) realloc (buf->data, cap);
        if (!grown)
            return -1;
        buf->data = grown;
        buf->cap = cap;
    }
    if (size)
        memcpy (buf->data + buf->size, data, size);
    buf->size += size;
    return 0;
}

/* Appends a NUL-terminated string to buf. Returns 0 or -1. */
static inline int
ff_buf_puts (ff_buf_t *buf, const char *text)
{
    return ff_buf_append (buf, text, strlen (text));
}

/* Returns the array called name in task, or NULL. */
static inline const ff_array_t *
ff_task_array (const ff_task_t *task, const char *name)
{
    size_t index;
    for (index = 0; index < task->narrays; index++)
        if (strcmp (task->arrays [index].name, name) == 0)
            return &task->arrays [index];
    return NULL;
}

/* Returns the value of parameter key in task, or fallback when absent. */
static inline const char *
ff_task_param (const ff_task_t *task, const char *key, const char *fallback)
{
    size_t index;
    for (index = 0; index < task->nparams; index++)
        if (strcmp (task->params [2 * index], key) == 0)
            return task->params [2 * index + 1];
    return fallback;
}

#ifdef __cplusplus
}
#endif

#endif
