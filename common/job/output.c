/*  fanfold output: formats records as raw bytes or jsonl into a bounded
    write buffer; large bodies bypass the buffer. JSON helpers (escaping,
    UTF-8 check, base64) live here because only output needs them. */

#include "fanfold/job/output.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define S_BUFFER_SIZE (256 * 1024)

struct ff_output {
    int fd;                         /* written to, not owned */
    ff_format_t format;             /* raw or jsonl */
    ff_buf_t line;                  /* pending bytes, flushed past S_BUFFER_SIZE */
    uint64_t errors;                /* error records written */
    uint64_t failed;                /* of them, failed commands (meta "failed") */
    uint64_t offset;                /* bytes written to fd */
};

int
ff_format_parse (const char *text, ff_format_t *format)
{
    if (text && strcmp (text, "raw") == 0)
        *format = FF_FORMAT_RAW;
    else
    if (text && strcmp (text, "jsonl") == 0)
        *format = FF_FORMAT_JSONL;
    else
        return -1;
    return 0;
}

ff_output_t *
ff_output_new (int fd, ff_format_t format)
{
    ff_output_t *self = (ff_output_t *) calloc (1, sizeof (ff_output_t));
    if (self) {
        self->fd = fd;
        self->format = format;
    }
    return self;
}

void
ff_output_destroy (ff_output_t **self_p)
{
    if (self_p && *self_p) {
        ff_output_t *self = *self_p;
        ff_output_flush (self);
        free (self->line.data);
        free (self);
        *self_p = NULL;
    }
}

uint64_t
ff_output_errors (ff_output_t *self)
{
    return self->errors;
}

void
ff_output_set_errors (ff_output_t *self, uint64_t errors)
{
    self->errors = errors;
}

void
ff_output_set_failed (ff_output_t *self, uint64_t failed)
{
    self->failed = failed;
}

uint64_t
ff_output_failed (ff_output_t *self)
{
    return self->failed;
}

uint64_t
ff_output_offset (ff_output_t *self)
{
    return self->offset;
}

static int
s_write_all (int fd, const void *data, size_t size)
{
    const uint8_t *at = (const uint8_t *) data;
    while (size > 0) {
        ssize_t done = write (fd, at, size);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        at += done;
        size -= (size_t) done;
    }
    return 0;
}

int
ff_output_flush (ff_output_t *self)
{
    if (self->line.size == 0)
        return 0;
    int rc = s_write_all (self->fd, self->line.data, self->line.size);
    if (rc == 0)
        self->offset += self->line.size;
    self->line.size = 0;
    return rc;
}

/* Appends bytes, writing straight through when they are large. */
static int
s_emit (ff_output_t *self, const void *data, size_t size)
{
    if (size >= S_BUFFER_SIZE) {
        if (ff_output_flush (self) || s_write_all (self->fd, data, size))
            return -1;
        self->offset += size;
        return 0;
    }
    if (ff_buf_append (&self->line, data, size)) {
        errno = ENOMEM;
        return -1;
    }
    return self->line.size >= S_BUFFER_SIZE? ff_output_flush (self): 0;
}

int
ff_utf8_valid (const void *text, size_t len)
{
    const uint8_t *at = (const uint8_t *) text, *end = at + len;
    while (at < end) {
        uint8_t byte = *at;
        size_t extra;
        uint32_t point;
        if (byte < 0x80) {
            at++;
            continue;
        }
        if ((byte & 0xe0) == 0xc0) { extra = 1; point = byte & 0x1f; }
        else
        if ((byte & 0xf0) == 0xe0) { extra = 2; point = byte & 0x0f; }
        else
        if ((byte & 0xf8) == 0xf0) { extra = 3; point = byte & 0x07; }
        else
            return 0;
        if ((size_t) (end - at) <= extra)
            return 0;
        size_t index;
        for (index = 1; index <= extra; index++) {
            if ((at [index] & 0xc0) != 0x80)
                return 0;
            point = (point << 6) | (at [index] & 0x3f);
        }
        if ((extra == 1 && point < 0x80) || (extra == 2 && point < 0x800)
        ||  (extra == 3 && (point < 0x10000 || point > 0x10ffff))
        ||  (point >= 0xd800 && point <= 0xdfff))
            return 0;
        at += extra + 1;
    }
    return 1;
}

/* Returns the length of the valid UTF-8 sequence at at, or 0. */
static size_t
s_utf8_length (const uint8_t *at, size_t left)
{
    size_t len = (*at & 0xe0) == 0xc0? 2: (*at & 0xf0) == 0xe0? 3:
                 (*at & 0xf8) == 0xf0? 4: 0;
    if (len == 0 || len > left)
        return 0;
    return ff_utf8_valid (at, len)? len: 0;
}

int
ff_json_escape (ff_buf_t *out, const void *text, size_t len)
{
    static const char hex [] = "0123456789abcdef";
    const uint8_t *at = (const uint8_t *) text, *end = at + len;
    while (at < end) {
        const uint8_t *run = at;
        while (at < end && *at >= 0x20 && *at < 0x80 && *at != '"' && *at != '\\')
            at++;
        if (at > run && ff_buf_append (out, run, (size_t) (at - run)))
            return -1;
        if (at == end)
            break;
        uint8_t byte = *at;
        char escape [7] = { '\\', 0, 0, 0, 0, 0, 0 };
        size_t escape_len = 2;
        if (byte >= 0x80) {
            size_t seq_len = s_utf8_length (at, (size_t) (end - at));
            if (seq_len) {
                if (ff_buf_append (out, at, seq_len))
                    return -1;
                at += seq_len;
            }
            else {
                if (ff_buf_puts (out, "\\ufffd"))
                    return -1;
                at++;
            }
            continue;
        }
        switch (byte) {
            case '"':  escape [1] = '"'; break;
            case '\\': escape [1] = '\\'; break;
            case '\n': escape [1] = 'n'; break;
            case '\t': escape [1] = 't'; break;
            case '\r': escape [1] = 'r'; break;
            case '\b': escape [1] = 'b'; break;
            case '\f': escape [1] = 'f'; break;
            default:
                escape [1] = 'u';
                escape [2] = '0';
                escape [3] = '0';
                escape [4] = hex [byte >> 4];
                escape [5] = hex [byte & 15];
                escape_len = 6;
        }
        if (ff_buf_append (out, escape, escape_len))
            return -1;
        at++;
    }
    return 0;
}

static int
s_base64 (ff_buf_t *out, const uint8_t *data, size_t size)
{
    static const char alphabet [] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t index;
    for (index = 0; index < size; index += 3) {
        uint32_t group = (uint32_t) data [index] << 16;
        if (index + 1 < size) group |= (uint32_t) data [index + 1] << 8;
        if (index + 2 < size) group |= data [index + 2];
        char quad [4] = {
            alphabet [(group >> 18) & 63], alphabet [(group >> 12) & 63],
            index + 1 < size? alphabet [(group >> 6) & 63]: '=',
            index + 2 < size? alphabet [group & 63]: '='
        };
        if (ff_buf_append (out, quad, 4))
            return -1;
    }
    return 0;
}

/* Appends ",META" when the record has meta members. */
static int
s_meta (ff_buf_t *line, const ff_record_t *record)
{
    if (!record->meta || record->meta_len == 0)
        return 0;
    if (ff_buf_puts (line, ","))
        return -1;
    return ff_buf_append (line, record->meta, record->meta_len);
}

/* The "failed" member of an error record's meta, which makes it a
   failed command (the command's own outcome): where the member starts
   and ends (with the comma that joins it to the others) and its string
   value as written (JSON-escaped). */
typedef struct {
    size_t start, end;              /* meta [start, end) is the member and one comma */
    const char *value;              /* its value, without quotes */
    size_t value_len;               /* its length */
} s_failed_t;

/* Returns 1 and fills *failed when the record's meta has a "failed"
   string member at a member boundary, else 0. */
static int
s_failed_member (const ff_record_t *record, s_failed_t *failed)
{
    static const char key [] = "\"failed\":\"";
    const char *meta = record->meta;
    size_t len = record->meta_len, at, end;
    if (record->status != FF_STATUS_ERROR || !meta || len < sizeof (key))
        return 0;
    for (at = 0; at + sizeof (key) - 1 <= len; at++) {
        if (memcmp (meta + at, key, sizeof (key) - 1) != 0 || (at > 0 && meta [at - 1] != ','))
            continue;
        for (end = at + sizeof (key) - 1; end < len && meta [end] != '"'; end++)
            if (meta [end] == '\\')
                end++;
        if (end >= len)
            return 0;
        failed->value = meta + at + sizeof (key) - 1;
        failed->value_len = (size_t) (meta + end - failed->value);
        end++;                      /* past the closing quote */
        if (at > 0)
            at--;                   /* the comma before it */
        else
        if (end < len && meta [end] == ',')
            end++;                  /* or the one after it */
        failed->start = at;
        failed->end = end;
        return 1;
    }
    return 0;
}

/* Appends the body of a bytes result: {"text":…} or {"base64":…}, with
   meta members (meta, meta_len) inside. */
static int
s_bytes_result (ff_buf_t *line, const ff_record_t *record, const char *meta, size_t meta_len)
{
    int text = ff_utf8_valid (record->body, record->size);
    if (ff_buf_puts (line, text? "{\"text\":\"": "{\"base64\":\"")
    ||  (text? ff_json_escape (line, record->body, record->size)
             : s_base64 (line, (const uint8_t *) record->body, record->size))
    ||  ff_buf_puts (line, "\"")
    ||  (meta_len && (ff_buf_puts (line, ",") || ff_buf_append (line, meta, meta_len)))
    ||  ff_buf_puts (line, "}"))
        return -1;
    return 0;
}

/* Builds the jsonl line of a failed command: its failure as the error,
   the other meta members beside it, its output as the result. */
static int
s_jsonl_failed (ff_buf_t *line, const ff_record_t *record, const s_failed_t *failed)
{
    const char *meta = record->meta;
    if (ff_buf_puts (line, "\",\"status\":\"error\",\"error\":\"")
    ||  ff_buf_append (line, failed->value, failed->value_len)
    ||  ff_buf_puts (line, "\"")
    ||  (failed->start > 0 && (ff_buf_puts (line, ",")
                               || ff_buf_append (line, meta, failed->start)))
    ||  (failed->end < record->meta_len
         && (ff_buf_puts (line, ",")
             || ff_buf_append (line, meta + failed->end, record->meta_len - failed->end)))
    ||  ff_buf_puts (line, ",\"result\":")
    ||  s_bytes_result (line, record, NULL, 0)
    ||  ff_buf_puts (line, "}\n"))
        return -1;
    return 0;
}

/* Builds one jsonl line into line (appending). */
static int
s_jsonl (ff_buf_t *line, const ff_record_t *record, const s_failed_t *failed)
{
    char head [48];
    snprintf (head, sizeof (head), "{\"seq\":%" PRIu64 ",\"input\":\"", record->seq);
    if (ff_buf_puts (line, head)
    ||  ff_json_escape (line, record->input, record->input_len)
    ||  ff_buf_puts (line, "\",\"kernel\":\"")
    ||  ff_json_escape (line, record->kernel, strlen (record->kernel)))
        return -1;
    if (failed)
        return s_jsonl_failed (line, record, failed);
    if (record->status == FF_STATUS_ERROR) {
        if (ff_buf_puts (line, "\",\"status\":\"error\",\"error\":\"")
        ||  ff_json_escape (line, record->body, record->size)
        ||  ff_buf_puts (line, "\"")
        ||  s_meta (line, record)
        ||  ff_buf_puts (line, "}\n"))
            return -1;
        return 0;
    }
    if (ff_buf_puts (line, "\",\"status\":\"ok\",\"result\":"))
        return -1;
    if (record->kind == FF_KIND_JSON) {
        /* the kernel's object, with meta members before its closing brace */
        const char *body = (const char *) record->body;
        size_t size = record->size;
        while (size > 0 && (body [size - 1] == '\n' || body [size - 1] == ' '))
            size--;
        if (record->meta_len == 0 || size < 2 || body [size - 1] != '}') {
            if (ff_buf_append (line, body, size))
                return -1;
        }
        else {
            int empty = size == 2;
            if (ff_buf_append (line, body, size - 1)
            ||  (!empty && ff_buf_puts (line, ","))
            ||  ff_buf_append (line, record->meta, record->meta_len)
            ||  ff_buf_puts (line, "}"))
                return -1;
        }
    }
    else
    if (s_bytes_result (line, record, record->meta, record->meta? record->meta_len: 0))
        return -1;
    return ff_buf_puts (line, "}\n");
}

/* Writes a raw body: as it is, or with the record's tag before each of
   its lines. */
static int
s_emit_body (ff_output_t *self, const ff_record_t *record, const void *body, size_t size)
{
    const char *at = (const char *) body, *end = at + size;
    if (!record->tag)
        return s_emit (self, body, size);
    while (at < end) {
        const char *newline = (const char *) memchr (at, '\n', (size_t) (end - at));
        const char *stop = newline? newline + 1: end;
        if (s_emit (self, record->tag, record->tag_len)
        ||  s_emit (self, at, (size_t) (stop - at)))
            return -1;
        at = stop;
    }
    return 0;
}

int
ff_output_write (ff_output_t *self, const ff_record_t *record)
{
    s_failed_t failed;
    int is_failed = s_failed_member (record, &failed);
    if (record->status == FF_STATUS_ERROR)
        self->errors++;
    if (is_failed)
        self->failed++;
    if (self->format == FF_FORMAT_JSONL) {
        if (s_jsonl (&self->line, record, is_failed? &failed: NULL)) {
            errno = ENOMEM;
            return -1;
        }
        return self->line.size >= S_BUFFER_SIZE? ff_output_flush (self): 0;
    }
    if (is_failed) {
        /* the command's own outcome: its output is written as it came */
        if (ff_log_verbose ())
            fprintf (stderr, "fanfold: task %" PRIu64 " (%.*s) %s: %.*s\n",
                     record->seq, (int) record->input_len, record->input,
                     record->kernel, (int) failed.value_len, failed.value);
        return s_emit_body (self, record, record->body, record->size);
    }
    if (record->status == FF_STATUS_ERROR) {
        fprintf (stderr, "fanfold: task %" PRIu64 " (%.*s) %s: error: %.*s\n",
                 record->seq, (int) record->input_len, record->input,
                 record->kernel, (int) record->size, (const char *) record->body);
        return 0;
    }
    if (record->kind == FF_KIND_JSON && record->tag)
        return s_emit (self, record->tag, record->tag_len)
            || s_emit (self, record->body, record->size) || s_emit (self, "\n", 1)? -1: 0;
    if (s_emit_body (self, record, record->body, record->size))
        return -1;
    if (record->kind == FF_KIND_JSON)
        return s_emit (self, "\n", 1);
    return 0;
}
