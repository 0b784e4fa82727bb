/*  fanfold .npy headers: the magic and version prelude, then the header,
    a Python dict literal ({'descr': '<f8', 'fortran_order': False,
    'shape': (3, 4), }) read by a small tokenizer, then the checks on what
    it says. ff_npy_read reads only the header bytes of a file. */

#include "fanfold/kernels/npy.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define S_MAX_HEADER (1024 * 1024)  /* longest header accepted, in bytes */

static int __attribute__ ((format (printf, 4, 5)))
s_fail (char *error, size_t error_size, const char *name,
        const char *format, ...)
{
    if (!error || error_size == 0)
        return -1;
    char message [384];
    va_list args;
    va_start (args, format);
    vsnprintf (message, sizeof (message), format, args);
    va_end (args);
    snprintf (error, error_size, "%s: %s", name, message);
    /* one line: the header text quoted in messages ends in '\n' */
    for (char *at = error; *at; at++)
        if ((unsigned char) *at < 0x20 || *at == 0x7f)
            *at = ' ';
    return -1;
}

static const struct {
    ff_dtype_t dtype;               /* fanfold's type */
    const char *name;               /* numpy's kind and size */
    size_t size;                    /* bytes per element */
} s_dtypes [] = {
    { FF_DTYPE_I8,  "i1", 1 }, { FF_DTYPE_I16, "i2", 2 },
    { FF_DTYPE_I32, "i4", 4 }, { FF_DTYPE_I64, "i8", 8 },
    { FF_DTYPE_U8,  "u1", 1 }, { FF_DTYPE_U16, "u2", 2 },
    { FF_DTYPE_U32, "u4", 4 }, { FF_DTYPE_U64, "u8", 8 },
    { FF_DTYPE_F32, "f4", 4 }, { FF_DTYPE_F64, "f8", 8 },
};
#define S_DTYPES (sizeof (s_dtypes) / sizeof (s_dtypes [0]))

const char *
ff_npy_dtype_name (ff_dtype_t dtype)
{
    for (size_t index = 0; index < S_DTYPES; index++)
        if (s_dtypes [index].dtype == dtype)
            return s_dtypes [index].name;
    return "?";
}

size_t
ff_npy_dtype_size (ff_dtype_t dtype)
{
    for (size_t index = 0; index < S_DTYPES; index++)
        if (s_dtypes [index].dtype == dtype)
            return s_dtypes [index].size;
    return 0;
}

/* Why numpy's kind letter is not supported, or NULL when it might be. */
static const char *
s_kind_problem (char kind)
{
    switch (kind) {
        case 'b': return "bool";
        case 'c': return "complex";
        case 'O': return "Python objects";
        case 'U': return "unicode strings";
        case 'S': case 'a': return "byte strings";
        case 'V': return "void or structured";
        case 'M': case 'm': return "datetime";
        default:  return NULL;
    }
}

/* Sets npy->dtype and itemsize from a descr string. Returns 0 or -1. */
static int
s_dtype (const char *descr, ff_npy_t *npy, const char *name,
         char *error, size_t error_size)
{
    char order = descr [0];
    const char *type = strchr ("<>|=", order) && order ? descr + 1 : descr;
    const char *problem = s_kind_problem (type [0]);
    if (problem)
        return s_fail (error, error_size, name,
                       "unsupported dtype '%.32s' (%s)", descr, problem);
    size_t index;
    for (index = 0; index < S_DTYPES; index++)
        if (strcmp (type, s_dtypes [index].name) == 0)
            break;
    if (index == S_DTYPES)
        return s_fail (error, error_size, name,
                       "unsupported dtype '%.32s' (only i1..i8, u1..u8, f4, f8)",
                       descr);
    if (order == '>')
        return s_fail (error, error_size, name,
                       "unsupported dtype '%.32s' (big-endian; save it as '<%s')",
                       descr, type);
    if (order != '<' && !(order == '|' && s_dtypes [index].size == 1))
        return s_fail (error, error_size, name,
                       "unsupported dtype '%.32s' (byte order must be '<', "
                       "or '|' for one-byte types)", descr);
    npy->dtype = s_dtypes [index].dtype;
    npy->itemsize = s_dtypes [index].size;
    return 0;
}

/* A cursor over the header text. */
typedef struct {
    const char *at;                 /* next character */
    const char *end;                /* one past the last */
} s_text_t;

static void
s_space (s_text_t *text)
{
    while (text->at < text->end && (*text->at == ' ' || *text->at == '\t'
                                  || *text->at == '\n' || *text->at == '\r'))
        text->at++;
}

/* Consumes c (after spaces). Returns true when it was there. */
static bool
s_take (s_text_t *text, char c)
{
    s_space (text);
    if (text->at < text->end && *text->at == c) {
        text->at++;
        return true;
    }
    return false;
}

/* Reads a quoted string into out. Returns 0 or -1. */
static int
s_string (s_text_t *text, char *out, size_t size)
{
    s_space (text);
    if (text->at >= text->end || (*text->at != '\'' && *text->at != '"'))
        return -1;
    char quote = *text->at++;
    size_t length = 0;
    while (text->at < text->end && *text->at != quote) {
        if (*text->at == '\\' || length + 1 >= size)
            return -1;
        out [length++] = *text->at++;
    }
    if (text->at >= text->end)
        return -1;
    text->at++;
    out [length] = 0;
    return 0;
}

/* Consumes word when it comes next. */
static bool
s_word (s_text_t *text, const char *word)
{
    s_space (text);
    size_t length = strlen (word);
    if ((size_t) (text->end - text->at) >= length
    &&  memcmp (text->at, word, length) == 0) {
        text->at += length;
        return true;
    }
    return false;
}

/* Reads a shape tuple. Returns 0, -1 when malformed, -2 when it has more
   than FF_MAX_DIMS dimensions. */
static int
s_shape (s_text_t *text, ff_npy_t *npy)
{
    if (!s_take (text, '('))
        return -1;
    npy->ndim = 0;
    while (!s_take (text, ')')) {
        s_space (text);
        uint64_t value = 0;
        const char *start = text->at;
        while (text->at < text->end && *text->at >= '0' && *text->at <= '9') {
            unsigned digit = (unsigned) (*text->at++ - '0');
            if (value > (UINT64_MAX - digit) / 10)
                return -1;
            value = value * 10 + digit;
        }
        if (text->at == start)
            return -1;
        if (text->at < text->end && *text->at == 'L')
            text->at++;             /* Python 2 long */
        if (npy->ndim == FF_MAX_DIMS)
            return -2;
        npy->shape [npy->ndim++] = value;
        if (!s_take (text, ',')) {
            if (!s_take (text, ')'))
                return -1;
            break;
        }
    }
    return 0;
}

/* Parses the dict literal of length bytes at header into npy. */
static int
s_header (const char *header, size_t length, ff_npy_t *npy, const char *name,
          char *error, size_t error_size)
{
    s_text_t text = { header, header + length };
    char key [32], descr [64];
    bool have_descr = false, have_order = false, have_shape = false;
    if (!s_take (&text, '{'))
        return s_fail (error, error_size, name,
                       "malformed header (not a dict): %.80s", header);
    while (!s_take (&text, '}')) {
        if (s_string (&text, key, sizeof (key)) != 0 || !s_take (&text, ':'))
            return s_fail (error, error_size, name,
                           "malformed header (expected a key): %.80s", header);
        if (strcmp (key, "descr") == 0) {
            s_space (&text);
            if (text.at < text.end && *text.at == '[') {
                /* quote the field list alone, up to its closing bracket */
                const char *close = text.at;
                int depth = 0;
                for (; close < text.end; close++) {
                    depth += *close == '['? 1: *close == ']'? -1: 0;
                    if (depth == 0)
                        break;
                }
                int len = (int) (close < text.end? close + 1 - text.at: text.end - text.at);
                return s_fail (error, error_size, name,
                               "unsupported dtype: a structured array (fields %.*s%s); "
                               "fanfold reads plain numeric arrays, one dtype such as '<f8'",
                               len > 120? 120: len, text.at, len > 120? "...": "");
            }
            if (s_string (&text, descr, sizeof (descr)) != 0)
                return s_fail (error, error_size, name,
                               "malformed header (descr): %.80s", header);
            if (s_dtype (descr, npy, name, error, error_size) != 0)
                return -1;
            have_descr = true;
        }
        else
        if (strcmp (key, "fortran_order") == 0) {
            if (s_word (&text, "True"))
                return s_fail (error, error_size, name,
                               "fortran_order is True: only C order is supported "
                               "(save np.ascontiguousarray (a))");
            if (!s_word (&text, "False"))
                return s_fail (error, error_size, name,
                               "malformed header (fortran_order): %.80s", header);
            have_order = true;
        }
        else
        if (strcmp (key, "shape") == 0) {
            int rc = s_shape (&text, npy);
            if (rc == -2)
                return s_fail (error, error_size, name,
                               "more than %d dimensions", FF_MAX_DIMS);
            if (rc != 0)
                return s_fail (error, error_size, name,
                               "malformed header (shape): %.80s", header);
            have_shape = true;
        }
        else
            return s_fail (error, error_size, name,
                           "malformed header (unknown key '%s')", key);
        if (!s_take (&text, ',')) {
            if (!s_take (&text, '}'))
                return s_fail (error, error_size, name,
                               "malformed header (expected ',' or '}'): %.80s",
                               header);
            break;
        }
    }
    s_space (&text);
    if (text.at != text.end)
        return s_fail (error, error_size, name,
                       "malformed header (text after the dict)");
    if (!have_descr || !have_order || !have_shape)
        return s_fail (error, error_size, name,
                       "malformed header (missing %s)", !have_descr ? "descr"
                       : !have_order ? "fortran_order" : "shape");
    return 0;
}

int
ff_npy_parse (const void *buffer, size_t size, uint64_t file_size,
              const char *name, ff_npy_t *npy, char *error, size_t error_size)
{
    static const uint8_t magic [6] = { 0x93, 'N', 'U', 'M', 'P', 'Y' };
    const uint8_t *bytes = (const uint8_t *) buffer;
    if (!name)
        name = "(buffer)";
    if (error && error_size)
        error [0] = 0;
    memset (npy, 0, sizeof (*npy));
    if (file_size == 0)
        file_size = size;
    if (memcmp (bytes, magic, size < 6 ? size : 6) != 0)
        return s_fail (error, error_size, name,
                       "not a .npy file (bad magic string)");
    if (size < 8)
        return s_fail (error, error_size, name,
                       "truncated header (%zu bytes: not even the magic and "
                       "version)", size);
    npy->major = bytes [6];
    npy->minor = bytes [7];
    if (npy->major < 1 || npy->major > 3 || npy->minor != 0)
        return s_fail (error, error_size, name,
                       "unsupported .npy format version %u.%u", npy->major,
                       npy->minor);
    size_t start = npy->major == 1 ? 10 : 12;
    if (size < start)
        return s_fail (error, error_size, name,
                       "truncated header (%zu bytes: no header length)", size);
    uint64_t length = npy->major == 1
                    ? (uint64_t) bytes [8] | (uint64_t) bytes [9] << 8
                    : (uint64_t) bytes [8] | (uint64_t) bytes [9] << 8
                    | (uint64_t) bytes [10] << 16 | (uint64_t) bytes [11] << 24;
    if (length > S_MAX_HEADER)
        return s_fail (error, error_size, name,
                       "header of %" PRIu64 " bytes is too long", length);
    if (size < start + length)
        return s_fail (error, error_size, name,
                       "truncated header (%zu of %" PRIu64 " bytes)",
                       size, start + length);
    char *header = (char *) malloc (length + 1);
    if (!header)
        return s_fail (error, error_size, name, "out of memory");
    memcpy (header, bytes + start, length);
    header [length] = 0;
    if (memchr (header, 0, length)) {
        free (header);
        return s_fail (error, error_size, name, "malformed header (NUL byte)");
    }
    int rc = s_header (header, length, npy, name, error, error_size);
    free (header);
    if (rc != 0)
        return -1;

    npy->offset = start + length;
    if (npy->ndim == 0) {           /* a 0-d array: one element */
        npy->ndim = 1;
        npy->shape [0] = 1;
    }
    npy->count = 1;
    for (uint32_t dim = 0; dim < npy->ndim; dim++) {
        if (npy->shape [dim] && npy->count > UINT64_MAX / npy->shape [dim])
            return s_fail (error, error_size, name, "shape is too large");
        npy->count *= npy->shape [dim];
    }
    if (npy->count > (UINT64_MAX - npy->offset) / npy->itemsize)
        return s_fail (error, error_size, name, "shape is too large");
    npy->bytes = npy->count * npy->itemsize;
    if (file_size < npy->offset + npy->bytes)
        return s_fail (error, error_size, name,
                       "truncated data: %" PRIu64 " bytes of %s at offset %"
                       PRIu64 " need a file of %" PRIu64 " bytes, it has %"
                       PRIu64, npy->bytes, ff_npy_dtype_name (npy->dtype),
                       npy->offset, npy->offset + npy->bytes, file_size);
    return 0;
}

int
ff_npy_read (const char *path, ff_npy_t *npy, char *error, size_t error_size)
{
    if (!path)
        return s_fail (error, error_size, "(null)", "no file name");
    FILE *file = fopen (path, "rb");
    if (!file)
        return s_fail (error, error_size, path, "cannot open: %s",
                       strerror (errno));
    struct stat status;
    if (fstat (fileno (file), &status) != 0 || !S_ISREG (status.st_mode)) {
        int code = errno;
        fclose (file);
        return s_fail (error, error_size, path, "not a regular file%s%s",
                       code ? ": " : "", code ? strerror (code) : "");
    }
    uint8_t prelude [12];
    size_t got = fread (prelude, 1, sizeof (prelude), file);
    size_t want = got;
    if (got >= 10 && memcmp (prelude, "\x93NUMPY", 6) == 0) {
        uint64_t length = prelude [6] == 1
                        ? (uint64_t) prelude [8] | (uint64_t) prelude [9] << 8
                        : (uint64_t) prelude [8] | (uint64_t) prelude [9] << 8
                        | (uint64_t) prelude [10] << 16
                        | (uint64_t) prelude [11] << 24;
        if (length <= S_MAX_HEADER)
            want = (prelude [6] == 1 ? 10 : 12) + (size_t) length;
    }
    uint8_t *buffer = (uint8_t *) malloc (want > got ? want : got ? got : 1);
    if (!buffer) {
        fclose (file);
        return s_fail (error, error_size, path, "out of memory");
    }
    memcpy (buffer, prelude, got);
    if (want > got)
        got += fread (buffer + got, 1, want - got, file);
    int rc = 0;
    if (ferror (file))
        rc = s_fail (error, error_size, path, "read error: %s", strerror (errno));
    fclose (file);
    if (rc == 0)
        rc = ff_npy_parse (buffer, got, (uint64_t) status.st_size, path, npy,
                           error, error_size);
    free (buffer);
    return rc;
}
