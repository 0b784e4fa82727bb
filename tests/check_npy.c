/*  Unit tests for the .npy header reader: files written by numpy itself
    (/usr/bin/python3 with python3-numpy, into a temporary directory) in
    format versions 1.0, 2.0 and 3.0 and every supported dtype, headers
    written by hand in memory; and, in "limits", truncated headers and
    data, unsupported dtypes, Fortran order, and mangled headers. */

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanfold/kernels/npy.h"

static char s_dir [64];

/* Makes a temporary directory and has numpy write files into it: each
   (name, expression, version) of the script's table. */
static void
s_numpy (const char *table)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/fanfold-npy-XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    char script [4096], command [4352];
    snprintf (script, sizeof (script),
              "import numpy as np, sys\n"
              "from numpy.lib import format\n"
              "for name, a, version in [%s]:\n"
              "    with open (sys.argv [1] + '/' + name, 'wb') as f:\n"
              "        format.write_array (f, a, version=version)\n",
              table);
    char path [128];
    snprintf (path, sizeof (path), "%s/make.py", s_dir);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fputs (script, file);
    fclose (file);
    snprintf (command, sizeof (command), "/usr/bin/python3 %s %s", path, s_dir);
    ck_assert_msg (system (command) == 0, "numpy failed: %s", command);
}

/* Removes the temporary directory and what is in it. */
static void
s_cleanup (void)
{
    char command [128];
    snprintf (command, sizeof (command), "rm -rf %s", s_dir);
    ck_assert_int_eq (system (command), 0);
}

static const char *
s_path (const char *name)
{
    static char path [128];
    snprintf (path, sizeof (path), "%s/%s", s_dir, name);
    return path;
}

/* Reads a whole file into a new buffer; sets *size. */
static uint8_t *
s_slurp (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    ck_assert_ptr_nonnull (file);
    struct stat status;
    ck_assert_int_eq (fstat (fileno (file), &status), 0);
    *size = (size_t) status.st_size;
    uint8_t *data = (uint8_t *) malloc (*size ? *size : 1);
    ck_assert_ptr_nonnull (data);
    ck_assert_uint_eq (fread (data, 1, *size, file), *size);
    fclose (file);
    return data;
}

/* Reads path, which must fail with a message that starts with the path
   and mentions what. */
static void
s_assert_refused (const char *path, const char *what)
{
    ff_npy_t npy;
    char error [256] = "";
    ck_assert_int_eq (ff_npy_read (path, &npy, error, sizeof (error)), -1);
    ck_assert_msg (strstr (error, path) == error && strstr (error, what),
                   "message \"%s\" lacks the file name or \"%s\"", error, what);
}

/* Builds a version 1.0 file in buffer from a header dict and data bytes;
   returns its size. The header is padded to a multiple of 64. */
static size_t
s_handmade (uint8_t *buffer, const char *dict, size_t data_bytes)
{
    size_t length = strlen (dict) + 1;
    size_t padded = (10 + length + 63) / 64 * 64 - 10;
    memcpy (buffer, "\x93NUMPY\x01\x00", 8);
    buffer [8] = (uint8_t) (padded & 0xff);
    buffer [9] = (uint8_t) (padded >> 8);
    memset (buffer + 10, ' ', padded);
    memcpy (buffer + 10, dict, strlen (dict));
    buffer [10 + padded - 1] = '\n';
    memset (buffer + 10 + padded, 0xab, data_bytes);
    return 10 + padded + data_bytes;
}

START_TEST (test_npy_reads_a_version_1_float64_matrix_written_by_numpy)
{
    s_numpy ("('m.npy', np.arange (12.0).reshape (3, 4), (1, 0))");
    ff_npy_t npy;
    char error [256] = "";
    ck_assert_int_eq (ff_npy_read (s_path ("m.npy"), &npy, error, sizeof (error)), 0);
    ck_assert_str_eq (error, "");
    ck_assert_uint_eq (npy.major, 1);
    ck_assert_int_eq (npy.dtype, FF_DTYPE_F64);
    ck_assert_uint_eq (npy.itemsize, 8);
    ck_assert_uint_eq (npy.ndim, 2);
    ck_assert_uint_eq (npy.shape [0], 3);
    ck_assert_uint_eq (npy.shape [1], 4);
    ck_assert_uint_eq (npy.count, 12);
    ck_assert_uint_eq (npy.bytes, 96);
    ck_assert_uint_eq (npy.offset % 16, 0);
    size_t size;
    uint8_t *data = s_slurp (s_path ("m.npy"), &size);
    ck_assert_uint_eq (npy.offset + npy.bytes, size);
    double value;
    memcpy (&value, data + npy.offset + 5 * 8, 8);
    ck_assert_double_eq (value, 5.0);
    free (data);
    s_cleanup ();
}
END_TEST

START_TEST (test_npy_reads_versions_2_and_3_headers)
{
    s_numpy ("('v2.npy', np.zeros ((2, 3, 4, 5), '<i4'), (2, 0)),"
             "('v3.npy', np.ones (7, '<u2'), (3, 0))");
    ff_npy_t npy;
    char error [256];
    ck_assert_int_eq (ff_npy_read (s_path ("v2.npy"), &npy, error, sizeof (error)), 0);
    ck_assert_uint_eq (npy.major, 2);
    ck_assert_int_eq (npy.dtype, FF_DTYPE_I32);
    ck_assert_uint_eq (npy.ndim, 4);
    ck_assert_uint_eq (npy.shape [3], 5);
    ck_assert_uint_eq (npy.bytes, 2 * 3 * 4 * 5 * 4);
    ck_assert_uint_eq (npy.offset % 16, 0);
    ck_assert_int_eq (ff_npy_read (s_path ("v3.npy"), &npy, error, sizeof (error)), 0);
    ck_assert_uint_eq (npy.major, 3);
    ck_assert_int_eq (npy.dtype, FF_DTYPE_U16);
    ck_assert_uint_eq (npy.count, 7);
    s_cleanup ();
}
END_TEST

START_TEST (test_npy_reads_every_supported_dtype)
{
    static const char *names [] = {
        "i1", "i2", "i4", "i8", "u1", "u2", "u4", "u8", "f4", "f8"
    };
    static const ff_dtype_t dtypes [] = {
        FF_DTYPE_I8, FF_DTYPE_I16, FF_DTYPE_I32, FF_DTYPE_I64, FF_DTYPE_U8,
        FF_DTYPE_U16, FF_DTYPE_U32, FF_DTYPE_U64, FF_DTYPE_F32, FF_DTYPE_F64
    };
    s_numpy ("(t + '.npy', np.arange (10, dtype='<' + t), (1, 0)) for t in"
             " ['i1','i2','i4','i8','u1','u2','u4','u8','f4','f8']");
    for (size_t index = 0; index < 10; index++) {
        char name [16], error [256];
        snprintf (name, sizeof (name), "%s.npy", names [index]);
        ff_npy_t npy;
        ck_assert_int_eq (ff_npy_read (s_path (name), &npy, error, sizeof (error)), 0);
        ck_assert_int_eq (npy.dtype, dtypes [index]);
        ck_assert_uint_eq (npy.itemsize, ff_npy_dtype_size (dtypes [index]));
        ck_assert_str_eq (ff_npy_dtype_name (npy.dtype), names [index]);
        ck_assert_uint_eq (npy.ndim, 1);
        ck_assert_uint_eq (npy.shape [0], 10);
        ck_assert_uint_eq (npy.bytes, 10 * npy.itemsize);
    }
    s_cleanup ();
}
END_TEST

START_TEST (test_npy_reads_a_zero_d_array_as_one_element_and_an_empty_one)
{
    s_numpy ("('scalar.npy', np.array (2.5), (1, 0)),"
             "('empty.npy', np.zeros ((0, 3), '<f4'), (1, 0))");
    ff_npy_t npy;
    char error [256];
    ck_assert_int_eq (ff_npy_read (s_path ("scalar.npy"), &npy, error, sizeof (error)), 0);
    ck_assert_uint_eq (npy.ndim, 1);
    ck_assert_uint_eq (npy.shape [0], 1);
    ck_assert_uint_eq (npy.bytes, 8);
    ck_assert_int_eq (ff_npy_read (s_path ("empty.npy"), &npy, error, sizeof (error)), 0);
    ck_assert_uint_eq (npy.ndim, 2);
    ck_assert_uint_eq (npy.count, 0);
    ck_assert_uint_eq (npy.bytes, 0);
    s_cleanup ();
}
END_TEST

START_TEST (test_npy_parses_a_handmade_header_in_a_memory_buffer)
{
    uint8_t buffer [256];
    size_t size = s_handmade (buffer, "{\"shape\": (3L, 2L), 'fortran_order':"
                              " False, 'descr': '|u1'}", 6);
    ff_npy_t npy;
    char error [256];
    ck_assert_int_eq (ff_npy_parse (buffer, size, 0, "mem", &npy, error,
                                    sizeof (error)), 0);
    ck_assert_int_eq (npy.dtype, FF_DTYPE_U8);
    ck_assert_uint_eq (npy.shape [0], 3);
    ck_assert_uint_eq (npy.shape [1], 2);
    ck_assert_uint_eq (npy.offset, size - 6);
    ck_assert_uint_eq (npy.offset % 64, 0);
    ck_assert_uint_eq (npy.bytes, 6);
    /* only the header in the buffer, the file size said apart */
    ck_assert_int_eq (ff_npy_parse (buffer, size - 6, size, "mem", &npy, error,
                                    sizeof (error)), 0);
    ck_assert_int_eq (ff_npy_parse (buffer, size - 6, size - 1, "mem", &npy,
                                    error, sizeof (error)), -1);
    ck_assert_str_eq (error, "mem: truncated data: 6 bytes of u1 at offset "
                      "128 need a file of 134 bytes, it has 133");
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_npy_refuses_unsupported_dtypes_naming_the_file_and_the_dtype)
{
    s_numpy ("('be.npy', np.zeros (3, '>f8'), (1, 0)),"
             "('c16.npy', np.zeros (3, '<c16'), (1, 0)),"
             "('obj.npy', np.array ([1, 'a'], dtype=object), (1, 0)),"
             "('u3.npy', np.array (['abc'], dtype='<U3'), (1, 0)),"
             "('bool.npy', np.zeros (3, '?'), (1, 0)),"
             "('half.npy', np.zeros (3, '<f2'), (1, 0)),"
             "('rec.npy', np.zeros (3, [('a', '<i4'), ('b', '<f8')]), (1, 0))");
    s_assert_refused (s_path ("be.npy"), "'>f8' (big-endian");
    s_assert_refused (s_path ("c16.npy"), "'<c16' (complex)");
    s_assert_refused (s_path ("obj.npy"), "'|O' (Python objects)");
    s_assert_refused (s_path ("u3.npy"), "'<U3' (unicode strings)");
    s_assert_refused (s_path ("bool.npy"), "'|b1' (bool)");
    s_assert_refused (s_path ("half.npy"), "'<f2'");
    s_assert_refused (s_path ("rec.npy"), "structured");
    s_cleanup ();
}
END_TEST

START_TEST (test_npy_refuses_a_structured_dtype_quoting_its_fields_alone)
{
    uint8_t buffer [256];
    size_t size = s_handmade (buffer, "{'descr': [('x', '<f4'), ('y', '<i4')], "
                              "'fortran_order': False, 'shape': (3,), }", 24);
    ff_npy_t npy;
    char error [512];
    ck_assert_int_eq (ff_npy_parse (buffer, size, 0, "rec.npy", &npy, error,
                                    sizeof (error)), -1);
    ck_assert_msg (strstr (error, "rec.npy: unsupported dtype: a structured array "
                           "(fields [('x', '<f4'), ('y', '<i4')]);") == error,
                   "message \"%s\" does not quote the field list alone", error);
    ck_assert_ptr_null (strstr (error, "fortran_order"));
}
END_TEST

START_TEST (test_npy_refuses_fortran_order)
{
    s_numpy ("('f.npy', np.asfortranarray (np.zeros ((3, 4))), (1, 0))");
    s_assert_refused (s_path ("f.npy"), "fortran_order is True");
    s_cleanup ();
}
END_TEST

START_TEST (test_npy_refuses_a_truncated_header_at_every_length)
{
    s_numpy ("('m.npy', np.arange (12.0).reshape (3, 4), (1, 0))");
    size_t size, cut;
    uint8_t *data = s_slurp (s_path ("m.npy"), &size);
    ff_npy_t npy;
    char error [256];
    ck_assert_int_eq (ff_npy_parse (data, size, 0, "m.npy", &npy, error,
                                    sizeof (error)), 0);
    size_t offset = (size_t) npy.offset;
    for (cut = 0; cut < offset; cut++) {
        ck_assert_int_eq (ff_npy_parse (data, cut, 0, "m.npy", &npy, error,
                                        sizeof (error)), -1);
        ck_assert_msg (strncmp (error, "m.npy: truncated ", 17) == 0,
                       "cut %zu: %s", cut, error);
    }
    /* and as a file */
    FILE *file = fopen (s_path ("cut.npy"), "wb");
    ck_assert_ptr_nonnull (file);
    fwrite (data, 1, 40, file);
    fclose (file);
    s_assert_refused (s_path ("cut.npy"), "truncated header");
    free (data);
    s_cleanup ();
}
END_TEST

START_TEST (test_npy_refuses_truncated_data)
{
    s_numpy ("('m.npy', np.arange (12.0).reshape (3, 4), (1, 0))");
    ff_npy_t npy;
    char error [256];
    ck_assert_int_eq (ff_npy_read (s_path ("m.npy"), &npy, error, sizeof (error)), 0);
    ck_assert_int_eq (truncate (s_path ("m.npy"), (off_t) (npy.offset + npy.bytes - 1)), 0);
    s_assert_refused (s_path ("m.npy"), "truncated data");
    s_cleanup ();
}
END_TEST

START_TEST (test_npy_refuses_bad_magic_versions_and_too_many_dimensions)
{
    uint8_t buffer [256];
    ff_npy_t npy;
    char error [256];
    size_t size = s_handmade (buffer, "{'descr': '<f8', 'fortran_order': "
                              "False, 'shape': (1, 1, 1, 1, 1), }", 8);
    ck_assert_int_eq (ff_npy_parse (buffer, size, 0, "five", &npy, error,
                                    sizeof (error)), -1);
    ck_assert_str_eq (error, "five: more than 4 dimensions");
    buffer [6] = 4;
    ck_assert_int_eq (ff_npy_parse (buffer, size, 0, "v4", &npy, error,
                                    sizeof (error)), -1);
    ck_assert_str_eq (error, "v4: unsupported .npy format version 4.0");
    buffer [0] = 'X';
    ck_assert_int_eq (ff_npy_parse (buffer, size, 0, "x", &npy, error,
                                    sizeof (error)), -1);
    ck_assert_str_eq (error, "x: not a .npy file (bad magic string)");
    s_assert_refused ("/nonexistent/a.npy", "cannot open");
}
END_TEST

START_TEST (test_npy_refuses_malformed_headers)
{
    static const char *dicts [] = {
        "{'descr': '<f8', 'fortran_order': False}",
        "{'descr': '<f8', 'shape': (2,)}",
        "{'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,), 'x': 1}",
        "{'descr': '<f8', 'fortran_order': maybe, 'shape': (2,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (-2,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,,)}",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,) junk",
        "{'descr': '<f8', 'fortran_order': False, 'shape': (2,)} junk",
        "['descr', '<f8']",
        "{'descr': 'f8', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '=f8', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '|f8', 'fortran_order': False, 'shape': (2,)}",
        "{'descr': '<f8', 'fortran_order': False, "
            "'shape': (4294967296, 4294967296, 4294967296)}",
        "{'descr': '<f8', 'fortran_order': False, "
            "'shape': (99999999999999999999,)}",
    };
    uint8_t buffer [512];
    ff_npy_t npy;
    char error [256];
    for (size_t index = 0; index < sizeof (dicts) / sizeof (dicts [0]); index++) {
        size_t size = s_handmade (buffer, dicts [index], 16);
        error [0] = 0;
        ck_assert_msg (ff_npy_parse (buffer, size, 0, "bad", &npy, error,
                                     sizeof (error)) == -1,
                       "accepted %s", dicts [index]);
        ck_assert_msg (strncmp (error, "bad: ", 5) == 0, "message: %s", error);
    }
}
END_TEST

START_TEST (test_npy_survives_every_one_byte_change_of_a_header)
{
    uint8_t buffer [256], copy [256];
    size_t size = s_handmade (buffer, "{'descr': '<i2', 'fortran_order': "
                              "False, 'shape': (3, 2), }", 12);
    ff_npy_t npy;
    char error [256];
    for (size_t at = 0; at < size; at++)
        for (int value = 0; value < 256; value += 7) {
            memcpy (copy, buffer, size);
            copy [at] = (uint8_t) value;
            int rc = ff_npy_parse (copy, size, 0, "fuzz", &npy, error,
                                   sizeof (error));
            if (rc == 0)
                ck_assert_uint_le (npy.offset + npy.bytes, size);
            else
                ck_assert_int_eq (strncmp (error, "fuzz: ", 6), 0);
        }
}
END_TEST

Suite *
npy_suite (void)
{
    Suite *suite = suite_create ("npy");

    TCase *tc = tcase_create ("headers");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_npy_reads_a_version_1_float64_matrix_written_by_numpy);
    tcase_add_test (tc, test_npy_reads_versions_2_and_3_headers);
    tcase_add_test (tc, test_npy_reads_every_supported_dtype);
    tcase_add_test (tc, test_npy_reads_a_zero_d_array_as_one_element_and_an_empty_one);
    tcase_add_test (tc, test_npy_parses_a_handmade_header_in_a_memory_buffer);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 30);
    tcase_add_test (tc, test_npy_refuses_unsupported_dtypes_naming_the_file_and_the_dtype);
    tcase_add_test (tc, test_npy_refuses_a_structured_dtype_quoting_its_fields_alone);
    tcase_add_test (tc, test_npy_refuses_fortran_order);
    tcase_add_test (tc, test_npy_refuses_a_truncated_header_at_every_length);
    tcase_add_test (tc, test_npy_refuses_truncated_data);
    tcase_add_test (tc, test_npy_refuses_bad_magic_versions_and_too_many_dimensions);
    tcase_add_test (tc, test_npy_refuses_malformed_headers);
    tcase_add_test (tc, test_npy_survives_every_one_byte_change_of_a_header);
    suite_add_tcase (suite, tc);
    return suite;
}
