/*  Unit tests for the record reader: cutting a pipe or a file into blocks of
    whole lines by line count or by size, with line numbers and bounds. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fanfold/job/reader.h"

/* Returns the read end of a pipe that holds text and is closed for
   writing (text must fit in the pipe buffer). */
static int
s_pipe_with (const char *text, size_t size)
{
    int fds [2];
    ck_assert_int_eq (pipe (fds), 0);
    if (size)
        ck_assert_int_eq (write (fds [1], text, size), (ssize_t) size);
    close (fds [1]);
    return fds [0];
}

/* Returns a descriptor on an unlinked temp file that holds data, at 0. */
static int
s_file_with (const void *data, size_t size)
{
    char path [] = "/tmp/check_reader_XXXXXX";
    int fd = mkstemp (path);
    ck_assert_int_ge (fd, 0);
    unlink (path);
    const uint8_t *at = data;
    size_t left = size;
    while (left > 0) {
        ssize_t done = write (fd, at, left);
        ck_assert_int_gt (done, 0);
        at += done;
        left -= (size_t) done;
    }
    ck_assert_int_eq (lseek (fd, 0, SEEK_SET), 0);
    return fd;
}

/* Returns the next block, filling as needed: FF_READ_RECORD, FF_READ_END
   or FF_READ_TOO_LONG. */
static ff_read_t
s_next (ff_reader_t *reader, ff_block_t *block)
{
    ff_read_t rc;
    while ((rc = ff_reader_next (reader, block)) == FF_READ_NEED)
        ck_assert_int_ge (ff_reader_fill (reader), 0);
    return rc;
}

/* Takes the next block and checks its bytes and line numbers. */
static void
s_expect_block (ff_reader_t *reader, const char *text, uint64_t first,
                uint64_t last)
{
    ff_block_t block;
    ck_assert_int_eq (s_next (reader, &block), FF_READ_RECORD);
    ck_assert_uint_eq (block.size, strlen (text));
    ck_assert_mem_eq (block.data, text, block.size);
    ck_assert_uint_eq (block.first_line, first);
    ck_assert_uint_eq (block.last_line, last);
}

static uint64_t
s_count_newlines (const uint8_t *data, size_t size)
{
    uint64_t count = 0;
    size_t index;
    for (index = 0; index < size; index++)
        count += data [index] == '\n';
    return count;
}

/* xorshift64: a fixed sequence, so that a failure can be reproduced. */
static uint64_t
s_random (uint64_t *state)
{
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    return *state;
}

/* Makes count random lines, a few of them longer than 1000 bytes. */
static uint8_t *
s_random_lines (size_t count, size_t *size)
{
    uint64_t state = 0x9e3779b97f4a7c15ull;
    size_t cap = count * 1600, at = 0, line;
    uint8_t *data = malloc (cap);
    ck_assert_ptr_nonnull (data);
    for (line = 0; line < count; line++) {
        size_t len = s_random (&state) % 20 == 0
                   ? 1000 + s_random (&state) % 500
                   : s_random (&state) % 200;
        size_t index;
        for (index = 0; index < len; index++)
            data [at++] = (uint8_t) ('a' + s_random (&state) % 26);
        data [at++] = '\n';
    }
    *size = at;
    return data;
}

START_TEST (test_reader_cuts_n_lines_per_block_with_their_line_numbers)
{
    const char *text = "l1\nl2\nl3\nl4\nl5\nl6\nl7\n";
    int fd = s_pipe_with (text, strlen (text));
    ff_reader_t *reader = ff_reader_new (fd, "stdin", FF_CUT_LINES, 3, 1024);
    ff_block_t block;
    ck_assert_ptr_nonnull (reader);
    ck_assert_str_eq (ff_reader_name (reader), "stdin");
    s_expect_block (reader, "l1\nl2\nl3\n", 1, 3);
    s_expect_block (reader, "l4\nl5\nl6\n", 4, 6);
    s_expect_block (reader, "l7\n", 7, 7);
    ck_assert_int_eq (s_next (reader, &block), FF_READ_END);
    ck_assert_int_eq (ff_reader_eof (reader), 1);
    ff_reader_destroy (&reader);
    ck_assert_ptr_null (reader);
    close (fd);
}
END_TEST

START_TEST (test_reader_cuts_by_bytes_at_line_ends_and_keeps_a_long_line_whole)
{
    const char *text = "aaa\nbbb\nccc\ndddddddddddddddd\ne\n";
    int fd = s_pipe_with (text, strlen (text));
    ff_reader_t *reader = ff_reader_new (fd, "in", FF_CUT_BYTES, 10, 1024);
    ff_block_t block;
    s_expect_block (reader, "aaa\nbbb\n", 1, 2);
    s_expect_block (reader, "ccc\n", 3, 3);
    s_expect_block (reader, "dddddddddddddddd\n", 4, 4);
    s_expect_block (reader, "e\n", 5, 5);
    ck_assert_int_eq (s_next (reader, &block), FF_READ_END);
    ff_reader_destroy (&reader);
    close (fd);
}
END_TEST

START_TEST (test_reader_puts_an_unterminated_last_line_in_the_last_block)
{
    /* two lines per block, or four bytes per block: the same cut */
    const char *text = "a\nb\nc";
    ff_cut_t cuts [] = { FF_CUT_LINES, FF_CUT_BYTES };
    size_t sizes [] = { 2, 4 };
    size_t index;
    for (index = 0; index < 2; index++) {
        int fd = s_pipe_with (text, strlen (text));
        ff_reader_t *reader = ff_reader_new (fd, "in", cuts [index],
                                             sizes [index], 1024);
        ff_block_t block;
        s_expect_block (reader, "a\nb\n", 1, 2);
        s_expect_block (reader, "c", 3, 3);
        ck_assert_int_eq (s_next (reader, &block), FF_READ_END);
        ff_reader_destroy (&reader);
        close (fd);
    }
}
END_TEST

START_TEST (test_reader_returns_end_at_once_on_empty_input)
{
    int fd = s_pipe_with ("", 0);
    ff_reader_t *reader = ff_reader_new (fd, "empty", FF_CUT_LINES, 1, 1024);
    ff_block_t block;
    ck_assert_int_eq (ff_reader_eof (reader), 0);
    ck_assert_int_eq (ff_reader_fill (reader), 0);
    ck_assert_int_eq (ff_reader_eof (reader), 1);
    ck_assert_int_eq (ff_reader_next (reader, &block), FF_READ_END);
    ck_assert_int_eq (ff_reader_fill (reader), 0);
    ck_assert_int_eq (ff_reader_next (reader, &block), FF_READ_END);
    ff_reader_destroy (&reader);
    close (fd);
}
END_TEST

START_TEST (test_reader_waits_on_a_non_blocking_pipe_until_a_line_is_complete)
{
    int fds [2];
    ff_block_t block;
    ck_assert_int_eq (pipe (fds), 0);
    ck_assert_int_eq (fcntl (fds [0], F_SETFL, O_NONBLOCK), 0);
    ff_reader_t *reader = ff_reader_new (fds [0], "pipe", FF_CUT_LINES, 1, 1024);
    errno = 0;
    ck_assert_int_eq (ff_reader_fill (reader), -1);
    ck_assert_int_eq (errno, EAGAIN);
    ck_assert_int_eq (ff_reader_next (reader, &block), FF_READ_NEED);

    ck_assert_int_eq (write (fds [1], "hal", 3), 3);
    ck_assert_int_eq (ff_reader_fill (reader), 3);
    ck_assert_int_eq (ff_reader_next (reader, &block), FF_READ_NEED);
    ck_assert_int_eq (write (fds [1], "f\n", 2), 2);
    ck_assert_int_eq (ff_reader_fill (reader), 2);
    ck_assert_int_eq (ff_reader_next (reader, &block), FF_READ_RECORD);
    ck_assert_uint_eq (block.size, 5);
    ck_assert_mem_eq (block.data, "half\n", 5);
    ck_assert_int_eq (ff_reader_next (reader, &block), FF_READ_NEED);

    close (fds [1]);
    ck_assert_int_eq (ff_reader_fill (reader), 0);
    ck_assert_int_eq (ff_reader_next (reader, &block), FF_READ_END);
    ff_reader_destroy (&reader);
    close (fds [0]);
}
END_TEST

START_TEST (test_reader_blocks_concatenate_to_the_input_when_cut_by_lines)
{
    size_t size, got = 0;
    uint8_t *input = s_random_lines (3000, &size);
    int fd = s_file_with (input, size);
    ff_reader_t *reader = ff_reader_new (fd, "random", FF_CUT_LINES, 7, 16384);
    ff_block_t block;
    uint64_t lines = 0;
    int rc;
    while ((rc = s_next (reader, &block)) == FF_READ_RECORD) {
        uint64_t newlines = s_count_newlines (block.data, block.size);
        ck_assert_uint_le (got + block.size, size);
        ck_assert_mem_eq (block.data, input + got, block.size);
        ck_assert_uint_eq (block.first_line, lines + 1);
        ck_assert_uint_eq (block.last_line - block.first_line + 1, newlines);
        /* 7 lines, and an empty line that starts the block (parallel -N) */
        if (got + block.size < size)
            ck_assert_uint_eq (newlines, block.data [0] == '\n'? 8: 7);
        got += block.size;
        lines = block.last_line;
    }
    ck_assert_int_eq (rc, FF_READ_END);
    ck_assert_uint_eq (got, size);
    ck_assert_uint_eq (lines, 3000);
    ff_reader_destroy (&reader);
    close (fd);
    free (input);
}
END_TEST

START_TEST (test_reader_blocks_concatenate_to_the_input_when_cut_by_bytes)
{
    const size_t n = 1000;
    size_t size, got = 0, long_blocks = 0;
    uint8_t *input = s_random_lines (3000, &size);
    int fd = s_file_with (input, size);
    ff_reader_t *reader = ff_reader_new (fd, "random", FF_CUT_BYTES, n, 4096);
    ff_block_t block;
    uint64_t lines = 0;
    int rc;
    while ((rc = s_next (reader, &block)) == FF_READ_RECORD) {
        uint64_t newlines = s_count_newlines (block.data, block.size);
        ck_assert_uint_gt (block.size, 0);
        ck_assert_uint_le (got + block.size, size);
        ck_assert_mem_eq (block.data, input + got, block.size);
        ck_assert_int_eq (block.data [block.size - 1], '\n');
        if (block.size > n) {
            /* only a single line longer than n may make a block longer */
            ck_assert_uint_eq (newlines, 1);
            long_blocks++;
        }
        ck_assert_uint_eq (block.first_line, lines + 1);
        ck_assert_uint_eq (block.last_line - block.first_line + 1, newlines);
        got += block.size;
        lines = block.last_line;
    }
    ck_assert_int_eq (rc, FF_READ_END);
    ck_assert_uint_eq (got, size);
    ck_assert_uint_eq (lines, 3000);
    ck_assert_uint_gt (long_blocks, 0);
    ff_reader_destroy (&reader);
    close (fd);
    free (input);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_reader_refuses_a_line_longer_than_max_block)
{
    char text [256];
    ff_cut_t cuts [] = { FF_CUT_LINES, FF_CUT_BYTES };
    size_t index;
    memcpy (text, "ok\n", 3);
    memset (text + 3, 'x', 200);
    text [203] = '\n';
    for (index = 0; index < 2; index++) {
        int fd = s_pipe_with (text, 204);
        ff_reader_t *reader = ff_reader_new (fd, "in", cuts [index], 1, 64);
        ff_block_t block;
        s_expect_block (reader, "ok\n", 1, 1);
        errno = 0;
        ck_assert_int_eq (s_next (reader, &block), FF_READ_TOO_LONG);
        ck_assert_int_eq (errno, E2BIG);
        ff_reader_destroy (&reader);
        close (fd);
    }
}
END_TEST

START_TEST (test_reader_refuses_an_unterminated_last_line_longer_than_max_block)
{
    char text [100];
    memset (text, 'y', sizeof (text));
    int fd = s_pipe_with (text, sizeof (text));
    ff_reader_t *reader = ff_reader_new (fd, "in", FF_CUT_BYTES, 16, 64);
    ff_block_t block;
    errno = 0;
    ck_assert_int_eq (s_next (reader, &block), FF_READ_TOO_LONG);
    ck_assert_int_eq (errno, E2BIG);
    ff_reader_destroy (&reader);
    close (fd);
}
END_TEST

START_TEST (test_reader_fill_reports_enobufs_until_a_block_is_taken)
{
    /* 300 KiB of short lines: more than max_block plus one read chunk */
    size_t size = 300 * 1024, index;
    uint8_t *input = malloc (size);
    ck_assert_ptr_nonnull (input);
    for (index = 0; index < size; index += 2) {
        input [index] = 'a';
        input [index + 1] = '\n';
    }
    int fd = s_file_with (input, size);
    ff_reader_t *reader = ff_reader_new (fd, "big", FF_CUT_LINES, 1, 16);
    ff_block_t block;
    ck_assert_int_gt (ff_reader_fill (reader), 0);
    errno = 0;
    ck_assert_int_eq (ff_reader_fill (reader), -1);
    ck_assert_int_eq (errno, ENOBUFS);
    ck_assert_int_eq (ff_reader_next (reader, &block), FF_READ_RECORD);
    ck_assert_uint_eq (block.size, 2);
    ck_assert_int_gt (ff_reader_fill (reader), 0);
    ff_reader_destroy (&reader);
    close (fd);
    free (input);
}
END_TEST

START_TEST (test_reader_names_a_block_as_snprintf_would_in_any_buffer_size)
{
    int fd = s_pipe_with ("", 0);
    ff_reader_t *reader = ff_reader_new (fd, "stdin", FF_CUT_LINES, 1, 1024);
    const uint64_t lines [][2] = {
        { 1, 1 }, { 0, 9 }, { 10, 99 }, { 123456789, 1234567890123ull },
        { UINT64_MAX - 1, UINT64_MAX }, { 0, 0 }, { 9, 9 }, { 10, 10 }, { 99, 99 },
        { 100, 100 }, { 1000000, 1000000 }, { 987654321, 987654321 },
        { UINT64_MAX, UINT64_MAX }
    };
    size_t index, size;
    ck_assert_ptr_nonnull (reader);
    for (index = 0; index < sizeof (lines) / sizeof (lines [0]); index++)
        for (size = 1; size <= 64; size++) {
            ff_block_t block = { .first_line = lines [index][0], .last_line = lines [index][1] };
            char got [64], want [64];
            memset (got, 'x', sizeof (got));
            ff_reader_block_name (reader, &block, got, size);
            snprintf (want, size, "stdin:%" PRIu64 "-%" PRIu64, lines [index][0], lines [index][1]);
            ck_assert_str_eq (got, want);
        }
    ff_reader_destroy (&reader);
    close (fd);
}
END_TEST

START_TEST (test_reader_new_refuses_bad_arguments)
{
    int fd = s_pipe_with ("", 0);
    ck_assert_ptr_null (ff_reader_new (fd, "in", FF_CUT_LINES, 0, 1024));
    ck_assert_ptr_null (ff_reader_new (fd, "in", FF_CUT_BYTES, 0, 1024));
    ck_assert_ptr_null (ff_reader_new (fd, "in", FF_CUT_BYTES, 1025, 1024));
    ck_assert_ptr_null (ff_reader_new (fd, "in", FF_CUT_LINES, 1, 0));
    ck_assert_ptr_null (ff_reader_new (-1, "in", FF_CUT_LINES, 1, 1024));
    ck_assert_ptr_null (ff_reader_new (fd, NULL, FF_CUT_LINES, 1, 1024));
    /* n equal to max_block is the largest allowed */
    ff_reader_t *reader = ff_reader_new (fd, "in", FF_CUT_BYTES, 1024, 1024);
    ck_assert_ptr_nonnull (reader);
    ff_reader_destroy (&reader);
    ff_reader_destroy (&reader);
    close (fd);
}
END_TEST

/* Reads every block of fd with the cut given; returns the reader's hash
   after the first `blocks` of them (all of them with SIZE_MAX). */
static uint64_t
s_hash_after (int fd, ff_cut_t cut, size_t n, size_t blocks)
{
    ff_reader_t *reader = ff_reader_new (fd, "in", cut, n, 1 << 20);
    ck_assert_ptr_nonnull (reader);
    ff_block_t block;
    size_t taken = 0;
    while (taken < blocks && s_next (reader, &block) == FF_READ_RECORD)
        taken++;
    uint64_t hash = ff_reader_hash (reader);
    ck_assert_uint_eq (ff_reader_hash (reader), hash);    /* asking again changes nothing */
    ff_reader_destroy (&reader);
    close (fd);
    return hash;
}

START_TEST (test_reader_hashes_the_stream_whatever_the_blocks_and_tells_other_bytes)
{
    /* 3 MB of lines: the buffer is compacted many times on the way */
    size_t lines = 300000, size = 0, index;
    char *text = (char *) malloc (lines * 12);
    ck_assert_ptr_nonnull (text);
    for (index = 0; index < lines; index++)
        size += (size_t) sprintf (text + size, "%zu\n", index * 7919 % 1000003);
    uint64_t by_line = s_hash_after (s_file_with (text, size), FF_CUT_LINES, 1, SIZE_MAX);
    ck_assert_uint_eq (s_hash_after (s_file_with (text, size), FF_CUT_LINES, 3, SIZE_MAX),
                       by_line);
    ck_assert_uint_eq (s_hash_after (s_file_with (text, size), FF_CUT_BYTES, 4093, SIZE_MAX),
                       by_line);
    /* after some blocks: the hash of exactly the bytes handed out */
    size_t first = 0;
    for (index = 0; index < 12345; index++)
        first = (size_t) ((char *) memchr (text + first, '\n', size - first) - text) + 1;
    ck_assert_uint_eq (s_hash_after (s_file_with (text, size), FF_CUT_LINES, 1, 12345),
                       s_hash_after (s_file_with (text, first), FF_CUT_BYTES, 65536, SIZE_MAX));
    ck_assert_uint_ne (s_hash_after (s_file_with (text, size), FF_CUT_LINES, 1, 12345),
                       by_line);
    /* one byte changed, one line fewer, nothing at all */
    char kept = text [size / 2];
    text [size / 2] = kept == '1'? '2': '1';
    ck_assert_uint_ne (s_hash_after (s_file_with (text, size), FF_CUT_LINES, 1, SIZE_MAX),
                       by_line);
    text [size / 2] = kept;
    ck_assert_uint_eq (s_hash_after (s_file_with (text, size), FF_CUT_LINES, 1, SIZE_MAX),
                       by_line);
    size_t last = size - 1;
    while (last > 0 && text [last - 1] != '\n')
        last--;
    ck_assert_uint_ne (s_hash_after (s_file_with (text, last), FF_CUT_LINES, 1, SIZE_MAX),
                       by_line);
    ck_assert_uint_ne (s_hash_after (s_pipe_with ("", 0), FF_CUT_LINES, 1, SIZE_MAX), by_line);
    /* the same bytes, one zero byte longer: the length counts */
    ck_assert_uint_ne (s_hash_after (s_file_with ("a\n", 2), FF_CUT_LINES, 1, SIZE_MAX),
                       s_hash_after (s_file_with ("a\n\0", 3), FF_CUT_BYTES, 4096, SIZE_MAX));
    free (text);
}
END_TEST

Suite *
reader_suite (void)
{
    Suite *suite = suite_create ("reader");

    TCase *tc = tcase_create ("cutting");
    tcase_set_timeout (tc, 10);
    tcase_add_test (tc, test_reader_cuts_n_lines_per_block_with_their_line_numbers);
    tcase_add_test (tc, test_reader_cuts_by_bytes_at_line_ends_and_keeps_a_long_line_whole);
    tcase_add_test (tc, test_reader_puts_an_unterminated_last_line_in_the_last_block);
    tcase_add_test (tc, test_reader_returns_end_at_once_on_empty_input);
    tcase_add_test (tc, test_reader_waits_on_a_non_blocking_pipe_until_a_line_is_complete);
    tcase_add_test (tc, test_reader_blocks_concatenate_to_the_input_when_cut_by_lines);
    tcase_add_test (tc, test_reader_blocks_concatenate_to_the_input_when_cut_by_bytes);
    tcase_add_test (tc, test_reader_names_a_block_as_snprintf_would_in_any_buffer_size);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 10);
    tcase_add_test (tc, test_reader_refuses_a_line_longer_than_max_block);
    tcase_add_test (tc, test_reader_refuses_an_unterminated_last_line_longer_than_max_block);
    tcase_add_test (tc, test_reader_fill_reports_enobufs_until_a_block_is_taken);
    tcase_add_test (tc, test_reader_new_refuses_bad_arguments);
    tcase_add_test (tc, test_reader_hashes_the_stream_whatever_the_blocks_and_tells_other_bytes);
    suite_add_tcase (suite, tc);
    return suite;
}
