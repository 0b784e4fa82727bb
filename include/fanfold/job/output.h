/*  fanfold output: writes results in the user's format (SPEC section 7).
    raw writes each result's bytes back to back (a JSON result as one line)
    and reports error records on stderr; jsonl writes one object per result,
    with a kernel's extra members (meta) inside "result", or beside "error".
    Writes are buffered; the sink and --serial share this module, which is
    why their bytes are the same. */

#ifndef FANFOLD_OUTPUT_H
#define FANFOLD_OUTPUT_H

#include <stddef.h>
#include <stdint.h>

#include "fanfold/kernel.h"

typedef enum {
    FF_FORMAT_RAW,                  /* result bytes back to back */
    FF_FORMAT_JSONL                 /* one JSON object per task */
} ff_format_t;

typedef struct ff_output ff_output_t;

/* One result as the output sees it. */
typedef struct {
    uint64_t seq;                   /* sequence number */
    const char *input;              /* input name */
    size_t input_len;               /* its length */
    const char *kernel;             /* kernel name */
    uint32_t status;                /* FF_STATUS_OK or FF_STATUS_ERROR */
    uint32_t kind;                  /* FF_KIND_BYTES or FF_KIND_JSON */
    const void *body;               /* result bytes or error message */
    size_t size;                    /* their length */
    const char *meta;               /* extra JSON members ("exit":0), or NULL */
    size_t meta_len;                /* their length */
    const char *tag;                /* raw: put before each line of the body, or NULL */
    size_t tag_len;                 /* its length */
} ff_record_t;

/* Parses "raw" or "jsonl". Returns 0, or -1 for anything else. */
int
    ff_format_parse (const char *text, ff_format_t *format);

/* Creates an output on fd (not closed by the output). NULL when memory
   runs out. */
ff_output_t *
    ff_output_new (int fd, ff_format_t format);

/* Flushes and destroys the output; NULLs the pointer. Safe on NULL. */
void
    ff_output_destroy (ff_output_t **self_p);

/* Writes one record (raw with a tag: the tag before every line of the
   body, a last line without newline included). Returns 0, or -1 with
   errno when the write failed. */
int
    ff_output_write (ff_output_t *self, const ff_record_t *record);

/* Writes what is buffered. Returns 0, or -1 with errno. */
int
    ff_output_flush (ff_output_t *self);

/* Returns the number of bytes handed to the descriptor so far (flushed). */
uint64_t
    ff_output_offset (ff_output_t *self);

/* Starts the error count at errors (a resumed job's earlier ones). */
void
    ff_output_set_errors (ff_output_t *self, uint64_t errors);

/* Returns the number of error records written (failed commands included). */
uint64_t
    ff_output_errors (ff_output_t *self);

/* Starts the failed-command count at failed (a resumed job's earlier ones). */
void
    ff_output_set_failed (ff_output_t *self, uint64_t failed);

/* Returns the number of failed commands written: error records whose meta
   has a "failed" member (the command ran and failed; its body is its
   stdout). raw writes their body as an ok result, with a line on stderr
   only when verbose; jsonl writes "error" (the failure), the other meta
   members and "result" (the body). Error records otherwise are reported on
   stderr in raw and written as "error" in jsonl. */
uint64_t
    ff_output_failed (ff_output_t *self);

/* Appends text to out as a JSON string body (without quotes): escapes
   quotes, backslashes and control characters, and replaces bytes that are
   not UTF-8 with U+FFFD. Returns 0 or -1 when memory runs out. */
int
    ff_json_escape (ff_buf_t *out, const void *text, size_t len);

/* Returns 1 when the bytes are valid UTF-8, else 0. */
int
    ff_utf8_valid (const void *text, size_t len);

#endif
