/*  Unit tests for the output formats: raw and jsonl records written to a pipe
    or a temp file and read back, and the JSON escaping and UTF-8 helpers. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fanfold/runtime/codec.h"
#include "fanfold/job/output.h"

/* Reads fd to its end into a new NUL-terminated string; sets *size. */
static char *
s_read_all (int fd, size_t *size)
{
    size_t cap = 4096, got = 0;
    char *data = malloc (cap + 1);
    ck_assert_ptr_nonnull (data);
    while (1) {
        if (got == cap) {
            cap *= 2;
            data = realloc (data, cap + 1);
            ck_assert_ptr_nonnull (data);
        }
        ssize_t done = read (fd, data + got, cap - got);
        ck_assert_int_ge (done, 0);
        if (done == 0)
            break;
        got += (size_t) done;
    }
    data [got] = 0;
    *size = got;
    return data;
}

/* Writes the records through an output on a pipe and returns what came
   out (the caller frees it). The output must fit in the pipe buffer. */
static char *
s_write_records (ff_format_t format, const ff_record_t *records, size_t count,
                 size_t *size)
{
    int fds [2];
    size_t index;
    ck_assert_int_eq (pipe (fds), 0);
    ff_output_t *output = ff_output_new (fds [1], format);
    ck_assert_ptr_nonnull (output);
    for (index = 0; index < count; index++)
        ck_assert_int_eq (ff_output_write (output, &records [index]), 0);
    ff_output_destroy (&output);
    ck_assert_ptr_null (output);
    close (fds [1]);
    char *text = s_read_all (fds [0], size);
    close (fds [0]);
    return text;
}

/* A record with a text input name and kernel. */
static ff_record_t
s_record (uint64_t seq, const char *input, const char *kernel, uint32_t status,
          uint32_t kind, const void *body, size_t size)
{
    ff_record_t record = {
        seq, input, strlen (input), kernel, status, kind, body, size, NULL, 0, NULL, 0
    };
    return record;
}

/* Escapes len bytes of text and returns the result as a new string. */
static char *
s_escape (const void *text, size_t len)
{
    ff_buf_t out = { NULL, 0, 0 };
    ck_assert_int_eq (ff_json_escape (&out, text, len), 0);
    ck_assert_int_eq (ff_buf_append (&out, "", 1), 0);
    return (char *) out.data;
}

START_TEST (test_output_raw_writes_bodies_back_to_back)
{
    ff_record_t records [] = {
        s_record (0, "a", "noop", FF_STATUS_OK, FF_KIND_BYTES, "hello ", 6),
        s_record (1, "b", "noop", FF_STATUS_OK, FF_KIND_BYTES, "", 0),
        s_record (2, "c", "noop", FF_STATUS_OK, FF_KIND_BYTES, "wor", 3),
        s_record (3, "d", "noop", FF_STATUS_OK, FF_KIND_BYTES, "ld\n", 3),
    };
    size_t size;
    char *text = s_write_records (FF_FORMAT_RAW, records, 4, &size);
    ck_assert_uint_eq (size, 12);
    ck_assert_str_eq (text, "hello world\n");
    free (text);
}
END_TEST

START_TEST (test_output_raw_writes_a_json_result_as_one_line)
{
    ff_record_t records [] = {
        s_record (0, "a", "k", FF_STATUS_OK, FF_KIND_JSON, "{\"n\":1}", 7),
        s_record (1, "b", "k", FF_STATUS_OK, FF_KIND_JSON, "{\"n\":2}", 7),
    };
    size_t size;
    char *text = s_write_records (FF_FORMAT_RAW, records, 2, &size);
    ck_assert_str_eq (text, "{\"n\":1}\n{\"n\":2}\n");
    free (text);
}
END_TEST

START_TEST (test_output_raw_writes_a_large_body_in_order_with_buffered_ones)
{
    size_t big = 300 * 1024, size, index;
    char *body = malloc (big);
    ck_assert_ptr_nonnull (body);
    for (index = 0; index < big; index++)
        body [index] = (char) ('0' + index % 10);
    char path [] = "/tmp/check_output_XXXXXX";
    int fd = mkstemp (path);
    ck_assert_int_ge (fd, 0);
    unlink (path);
    ff_output_t *output = ff_output_new (fd, FF_FORMAT_RAW);
    ff_record_t head = s_record (0, "a", "noop", FF_STATUS_OK, FF_KIND_BYTES, "head", 4);
    ff_record_t middle = s_record (1, "b", "noop", FF_STATUS_OK, FF_KIND_BYTES, body, big);
    ff_record_t tail = s_record (2, "c", "noop", FF_STATUS_OK, FF_KIND_BYTES, "tail", 4);
    ck_assert_int_eq (ff_output_write (output, &head), 0);
    ck_assert_int_eq (ff_output_write (output, &middle), 0);
    ck_assert_int_eq (ff_output_write (output, &tail), 0);
    ck_assert_int_eq (ff_output_flush (output), 0);
    ff_output_destroy (&output);
    ck_assert_int_eq (lseek (fd, 0, SEEK_SET), 0);
    char *text = s_read_all (fd, &size);
    ck_assert_uint_eq (size, big + 8);
    ck_assert_mem_eq (text, "head", 4);
    ck_assert_int_eq (memcmp (text + 4, body, big), 0);
    ck_assert_mem_eq (text + 4 + big, "tail", 4);
    free (text);
    free (body);
    close (fd);
}
END_TEST

START_TEST (test_output_jsonl_writes_one_object_per_line_with_a_text_result)
{
    ff_record_t records [] = {
        s_record (0, "a", "noop", FF_STATUS_OK, FF_KIND_BYTES, "hi", 2),
        s_record (1, "b", "spin", FF_STATUS_OK, FF_KIND_BYTES, "", 0),
    };
    size_t size;
    char *text = s_write_records (FF_FORMAT_JSONL, records, 2, &size);
    ck_assert_str_eq (text,
        "{\"seq\":0,\"input\":\"a\",\"kernel\":\"noop\",\"status\":\"ok\",\"result\":{\"text\":\"hi\"}}\n"
        "{\"seq\":1,\"input\":\"b\",\"kernel\":\"spin\",\"status\":\"ok\",\"result\":{\"text\":\"\"}}\n");
    free (text);
}
END_TEST

START_TEST (test_output_jsonl_escapes_the_input_name_and_the_text)
{
    ff_record_t record = s_record (18446744073709551615ull, "in\"put", "noop",
                                   FF_STATUS_OK, FF_KIND_BYTES, "x\ny\\", 4);
    size_t size;
    char *text = s_write_records (FF_FORMAT_JSONL, &record, 1, &size);
    ck_assert_str_eq (text,
        "{\"seq\":18446744073709551615,\"input\":\"in\\\"put\",\"kernel\":\"noop\","
        "\"status\":\"ok\",\"result\":{\"text\":\"x\\ny\\\\\"}}\n");
    free (text);
}
END_TEST

START_TEST (test_output_jsonl_writes_a_non_utf8_body_as_base64)
{
    static const uint8_t three [] = { 0xff, 0x00, 0x01 };
    static const uint8_t two [] = { 0xff, 0x00 };
    static const uint8_t one [] = { 0xff };
    ff_record_t records [] = {
        s_record (0, "a", "noop", FF_STATUS_OK, FF_KIND_BYTES, three, 3),
        s_record (1, "a", "noop", FF_STATUS_OK, FF_KIND_BYTES, two, 2),
        s_record (2, "a", "noop", FF_STATUS_OK, FF_KIND_BYTES, one, 1),
    };
    size_t size;
    char *text = s_write_records (FF_FORMAT_JSONL, records, 3, &size);
    ck_assert_str_eq (text,
        "{\"seq\":0,\"input\":\"a\",\"kernel\":\"noop\",\"status\":\"ok\",\"result\":{\"base64\":\"/wAB\"}}\n"
        "{\"seq\":1,\"input\":\"a\",\"kernel\":\"noop\",\"status\":\"ok\",\"result\":{\"base64\":\"/wA=\"}}\n"
        "{\"seq\":2,\"input\":\"a\",\"kernel\":\"noop\",\"status\":\"ok\",\"result\":{\"base64\":\"/w==\"}}\n");
    free (text);
}
END_TEST

START_TEST (test_output_jsonl_puts_meta_members_inside_the_result_or_beside_the_error)
{
    const char *object = "{\"count\":2}";
    ff_record_t records [] = {
        s_record (0, "a", "exec", FF_STATUS_OK, FF_KIND_BYTES, "hi\n", 3),
        s_record (1, "b", "k", FF_STATUS_OK, FF_KIND_JSON, object, strlen (object)),
        s_record (2, "c", "k", FF_STATUS_OK, FF_KIND_JSON, "{}", 2),
        s_record (3, "d", "exec", FF_STATUS_ERROR, FF_KIND_BYTES, "exit status 3", 13),
    };
    size_t index, size;
    for (index = 0; index < 4; index++) {
        records [index].meta = "\"exit\":0";
        records [index].meta_len = 8;
    }
    records [3].meta = "\"exit\":3";
    char *text = s_write_records (FF_FORMAT_JSONL, records, 4, &size);
    ck_assert_str_eq (text,
        "{\"seq\":0,\"input\":\"a\",\"kernel\":\"exec\",\"status\":\"ok\",\"result\":{\"text\":\"hi\\n\",\"exit\":0}}\n"
        "{\"seq\":1,\"input\":\"b\",\"kernel\":\"k\",\"status\":\"ok\",\"result\":{\"count\":2,\"exit\":0}}\n"
        "{\"seq\":2,\"input\":\"c\",\"kernel\":\"k\",\"status\":\"ok\",\"result\":{\"exit\":0}}\n"
        "{\"seq\":3,\"input\":\"d\",\"kernel\":\"exec\",\"status\":\"error\",\"error\":\"exit status 3\",\"exit\":3}\n");
    free (text);
}
END_TEST

START_TEST (test_output_jsonl_inserts_a_json_body_verbatim)
{
    const char *body = "{\"atoms\":3,\"pairs\":[[0,1],[1,2]]}";
    ff_record_t record = s_record (4, "x.pdb", "contacts", FF_STATUS_OK,
                                   FF_KIND_JSON, body, strlen (body));
    size_t size;
    char *text = s_write_records (FF_FORMAT_JSONL, &record, 1, &size);
    ck_assert_str_eq (text,
        "{\"seq\":4,\"input\":\"x.pdb\",\"kernel\":\"contacts\",\"status\":\"ok\","
        "\"result\":{\"atoms\":3,\"pairs\":[[0,1],[1,2]]}}\n");
    free (text);
}
END_TEST

START_TEST (test_output_jsonl_writes_an_error_record_and_counts_it)
{
    const char *message = "sleep: parameter ms=\"x\" is bad";
    int fds [2];
    size_t size;
    ck_assert_int_eq (pipe (fds), 0);
    ff_output_t *output = ff_output_new (fds [1], FF_FORMAT_JSONL);
    ff_record_t error = s_record (3, "f:1-2", "sleep", FF_STATUS_ERROR,
                                  FF_KIND_BYTES, message, strlen (message));
    ff_record_t ok = s_record (4, "f:3-4", "sleep", FF_STATUS_OK,
                               FF_KIND_BYTES, "z", 1);
    ck_assert_int_eq (ff_output_write (output, &error), 0);
    ck_assert_int_eq (ff_output_write (output, &ok), 0);
    ck_assert_uint_eq (ff_output_errors (output), 1);
    ff_output_destroy (&output);
    close (fds [1]);
    char *text = s_read_all (fds [0], &size);
    close (fds [0]);
    ck_assert_str_eq (text,
        "{\"seq\":3,\"input\":\"f:1-2\",\"kernel\":\"sleep\",\"status\":\"error\","
        "\"error\":\"sleep: parameter ms=\\\"x\\\" is bad\"}\n"
        "{\"seq\":4,\"input\":\"f:3-4\",\"kernel\":\"sleep\",\"status\":\"ok\","
        "\"result\":{\"text\":\"z\"}}\n");
    free (text);
}
END_TEST

START_TEST (test_output_raw_reports_an_error_record_on_stderr_and_not_in_the_output)
{
    int out [2], err [2], saved;
    size_t size;
    ck_assert_int_eq (pipe (out), 0);
    ck_assert_int_eq (pipe (err), 0);
    fflush (stderr);
    saved = dup (STDERR_FILENO);
    ck_assert_int_ge (saved, 0);
    ck_assert_int_ge (dup2 (err [1], STDERR_FILENO), 0);

    ff_output_t *output = ff_output_new (out [1], FF_FORMAT_RAW);
    ff_record_t records [] = {
        s_record (0, "a", "noop", FF_STATUS_OK, FF_KIND_BYTES, "one\n", 4),
        s_record (1, "b", "noop", FF_STATUS_ERROR, FF_KIND_BYTES, "it broke", 8),
        s_record (2, "c", "noop", FF_STATUS_OK, FF_KIND_BYTES, "two\n", 4),
    };
    int rc [3], index;
    for (index = 0; index < 3; index++)
        rc [index] = ff_output_write (output, &records [index]);
    uint64_t errors = ff_output_errors (output);
    ff_output_destroy (&output);
    fflush (stderr);
    dup2 (saved, STDERR_FILENO);
    close (saved);
    close (err [1]);
    close (out [1]);

    for (index = 0; index < 3; index++)
        ck_assert_int_eq (rc [index], 0);
    ck_assert_uint_eq (errors, 1);
    char *text = s_read_all (out [0], &size);
    ck_assert_str_eq (text, "one\ntwo\n");
    free (text);
    text = s_read_all (err [0], &size);
    ck_assert_ptr_nonnull (strstr (text, "it broke"));
    free (text);
    close (out [0]);
    close (err [0]);
}
END_TEST

START_TEST (test_json_escape_escapes_quote_backslash_and_control_characters)
{
    const char input [] = "q\"b\\n\nt\tr\rc\x01" "e\x1f";
    char *text = s_escape (input, sizeof (input) - 1);
    ck_assert_str_eq (text, "q\\\"b\\\\n\\nt\\tr\\rc\\u0001e\\u001f");
    free (text);
}
END_TEST

START_TEST (test_json_escape_keeps_a_nul_byte_as_u0000)
{
    char *text = s_escape ("a\0b", 3);
    ck_assert_str_eq (text, "a\\u0000b");
    free (text);
}
END_TEST

START_TEST (test_json_escape_keeps_valid_multibyte_utf8)
{
    const char input [] = "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80!";
    char *text = s_escape (input, sizeof (input) - 1);
    ck_assert_str_eq (text, input);
    free (text);
}
END_TEST

START_TEST (test_json_escape_replaces_invalid_bytes_with_ufffd)
{
    char *text = s_escape ("a\xff" "b", 3);
    ck_assert_str_eq (text, "a\\ufffdb");
    free (text);
    text = s_escape ("\xe6\x97\xa5", 2);        /* truncated sequence */
    ck_assert_str_eq (text, "\\ufffd\\ufffd");
    free (text);
    text = s_escape ("\xc0\x80x", 3);           /* overlong NUL */
    ck_assert_str_eq (text, "\\ufffd\\ufffdx");
    free (text);
    text = s_escape ("\xed\xa0\x80", 3);        /* surrogate */
    ck_assert_str_eq (text, "\\ufffd\\ufffd\\ufffd");
    free (text);
}
END_TEST

START_TEST (test_utf8_valid_accepts_ascii_and_well_formed_sequences)
{
    ck_assert_int_eq (ff_utf8_valid ("", 0), 1);
    ck_assert_int_eq (ff_utf8_valid ("plain text\n", 11), 1);
    ck_assert_int_eq (ff_utf8_valid ("\xc3\xa9", 2), 1);
    ck_assert_int_eq (ff_utf8_valid ("\xe6\x97\xa5\xe6\x9c\xac", 6), 1);
    ck_assert_int_eq (ff_utf8_valid ("\xf0\x9f\x98\x80", 4), 1);
    ck_assert_int_eq (ff_utf8_valid ("\xf4\x8f\xbf\xbf", 4), 1);   /* U+10FFFF */
}
END_TEST

START_TEST (test_utf8_valid_rejects_overlongs_surrogates_and_truncations)
{
    ck_assert_int_eq (ff_utf8_valid ("\xc0\x80", 2), 0);           /* overlong 2 */
    ck_assert_int_eq (ff_utf8_valid ("\xe0\x80\x80", 3), 0);       /* overlong 3 */
    ck_assert_int_eq (ff_utf8_valid ("\xf0\x80\x80\x80", 4), 0);   /* overlong 4 */
    ck_assert_int_eq (ff_utf8_valid ("\xed\xa0\x80", 3), 0);       /* surrogate */
    /* truncated: the byte after len would complete the sequence */
    ck_assert_int_eq (ff_utf8_valid ("\xe6\x97\xa5", 2), 0);
    ck_assert_int_eq (ff_utf8_valid ("ok\xc3\xa9", 3), 0);
    ck_assert_int_eq (ff_utf8_valid ("\xf0\x9f\x98\x80", 3), 0);
    ck_assert_int_eq (ff_utf8_valid ("\xf4\x90\x80\x80", 4), 0);   /* > U+10FFFF */
    ck_assert_int_eq (ff_utf8_valid ("\x80", 1), 0);               /* continuation */
    ck_assert_int_eq (ff_utf8_valid ("\xff", 1), 0);
}
END_TEST

START_TEST (test_format_parse_knows_raw_and_jsonl)
{
    ff_format_t format = FF_FORMAT_JSONL;
    ck_assert_int_eq (ff_format_parse ("raw", &format), 0);
    ck_assert_int_eq (format, FF_FORMAT_RAW);
    ck_assert_int_eq (ff_format_parse ("jsonl", &format), 0);
    ck_assert_int_eq (format, FF_FORMAT_JSONL);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_format_parse_refuses_anything_else_and_leaves_the_format)
{
    ff_format_t format = FF_FORMAT_JSONL;
    ck_assert_int_eq (ff_format_parse ("json", &format), -1);
    ck_assert_int_eq (ff_format_parse ("RAW", &format), -1);
    ck_assert_int_eq (ff_format_parse ("", &format), -1);
    ck_assert_int_eq (ff_format_parse (NULL, &format), -1);
    ck_assert_int_eq (format, FF_FORMAT_JSONL);
}
END_TEST

START_TEST (test_output_flush_reports_a_failed_write_with_errno)
{
    int fd = open ("/dev/full", O_WRONLY);
    ck_assert_int_ge (fd, 0);
    ff_output_t *output = ff_output_new (fd, FF_FORMAT_RAW);
    ff_record_t record = s_record (0, "a", "noop", FF_STATUS_OK, FF_KIND_BYTES, "x", 1);
    ck_assert_int_eq (ff_output_write (output, &record), 0);
    errno = 0;
    ck_assert_int_eq (ff_output_flush (output), -1);
    ck_assert_int_eq (errno, ENOSPC);
    ff_output_destroy (&output);
    close (fd);
}
END_TEST

Suite *
output_suite (void)
{
    Suite *suite = suite_create ("output");

    TCase *tc = tcase_create ("formats");
    tcase_set_timeout (tc, 10);
    tcase_add_test (tc, test_output_raw_writes_bodies_back_to_back);
    tcase_add_test (tc, test_output_raw_writes_a_json_result_as_one_line);
    tcase_add_test (tc, test_output_raw_writes_a_large_body_in_order_with_buffered_ones);
    tcase_add_test (tc, test_output_jsonl_writes_one_object_per_line_with_a_text_result);
    tcase_add_test (tc, test_output_jsonl_escapes_the_input_name_and_the_text);
    tcase_add_test (tc, test_output_jsonl_writes_a_non_utf8_body_as_base64);
    tcase_add_test (tc, test_output_jsonl_inserts_a_json_body_verbatim);
    tcase_add_test (tc, test_output_jsonl_puts_meta_members_inside_the_result_or_beside_the_error);
    tcase_add_test (tc, test_output_jsonl_writes_an_error_record_and_counts_it);
    tcase_add_test (tc, test_output_raw_reports_an_error_record_on_stderr_and_not_in_the_output);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("json");
    tcase_add_test (tc, test_json_escape_escapes_quote_backslash_and_control_characters);
    tcase_add_test (tc, test_json_escape_keeps_a_nul_byte_as_u0000);
    tcase_add_test (tc, test_json_escape_keeps_valid_multibyte_utf8);
    tcase_add_test (tc, test_json_escape_replaces_invalid_bytes_with_ufffd);
    tcase_add_test (tc, test_utf8_valid_accepts_ascii_and_well_formed_sequences);
    tcase_add_test (tc, test_utf8_valid_rejects_overlongs_surrogates_and_truncations);
    tcase_add_test (tc, test_format_parse_knows_raw_and_jsonl);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 10);
    tcase_add_test (tc, test_format_parse_refuses_anything_else_and_leaves_the_format);
    tcase_add_test (tc, test_output_flush_reports_a_failed_write_with_errno);
    suite_add_tcase (suite, tc);
    return suite;
}
