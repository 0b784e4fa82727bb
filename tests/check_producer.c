/*  Unit tests for the producer: arguments, --pipe blocks by lines and by
    bytes, intake records, array sources cut into chunks (small .npy files
    written into a temporary directory) and the reference rule of their
    sources; the same input read from a polled non-blocking pipe fed in
    small pieces and from a blocking one gives the same units. In
    "limits": lines longer than --max-block, read errors, sources that do
    not load, bad arguments. ff_producer_check runs after every step. */

#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fanfold/job/producer.h"
#include "fanfold/runtime/shm.h"
#include "npy_fixture.h"

#define S_COUNT 10                      /* elements of the test .npy */

static char s_dir [64];                 /* this test's temporary directory */
static char s_npy [128];                /* s_dir/ten.npy: S_COUNT f8 values */
static char s_prefix [96];              /* ff_<uid>_<job>_0_ for this test */
static double s_values [S_COUNT];       /* what s_npy holds */

static void
s_setup (void)
{
    static unsigned counter = 0;
    snprintf (s_dir, sizeof (s_dir), "/tmp/check_producer_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    snprintf (s_npy, sizeof (s_npy), "%s/ten.npy", s_dir);
    for (size_t index = 0; index < S_COUNT; index++)
        s_values [index] = (double) index * 0.5 - 2.0;
    ff_fixture_write_npy (s_npy, s_values, S_COUNT, S_COUNT);
    char job [32];
    snprintf (job, sizeof (job), "tprod%dn%u", (int) getpid (), counter++);
    ff_shm_job_prefix (job, s_prefix, sizeof (s_prefix));
    /* ventilator pid 0: another run's ff_shm_clean (NULL) keeps them */
    size_t used = strlen (s_prefix);
    snprintf (s_prefix + used, sizeof (s_prefix) - used, "0_");
}

/* Returns how many mappings of the test .npy this process holds. */
static int
s_mappings (void)
{
    char line [4600], *real = realpath (s_npy, NULL);
    int count = 0;
    FILE *maps = fopen ("/proc/self/maps", "re");
    ck_assert_ptr_nonnull (maps);
    ck_assert_ptr_nonnull (real);
    while (fgets (line, sizeof (line), maps)) {
        size_t len = strcspn (line, "\n"), want = strlen (real);
        if (len >= want && memcmp (line + len - want, real, want) == 0)
            count++;
    }
    fclose (maps);
    free (real);
    return count;
}

/* Returns how many segments under /dev/shm start with s_prefix. */
static int
s_segments_left (void)
{
    return ff_fixture_segments_left (s_prefix);
}

/* Removes the temporary directory, and any segment a failed test left. */
static void
s_teardown (void)
{
    ff_fixture_remove (s_dir, s_prefix);
}

/* Returns a descriptor of a temporary file holding size bytes of text,
   at its start. */
static int
s_file_with (const void *text, size_t size)
{
    char path [] = "/tmp/check_producer_in_XXXXXX";
    int fd = mkstemp (path);
    ck_assert_int_ge (fd, 0);
    unlink (path);
    ck_assert_int_eq (write (fd, text, size), (ssize_t) size);
    ck_assert_int_eq (lseek (fd, 0, SEEK_SET), 0);
    return fd;
}

/* Takes the next unit, which must be there, and checks the invariants. */
static void
s_expect_unit (ff_producer_t *producer, ff_unit_t *unit)
{
    ck_assert_int_eq (ff_producer_next (producer, unit), FF_PRODUCE_UNIT);
    ff_producer_check (producer);
}

/* Takes the next unit of a pipe, filling (blocking) when told to wait. */
static ff_produce_t
s_next_filling (ff_producer_t *producer, ff_unit_t *unit)
{
    ff_produce_t rc;
    while ((rc = ff_producer_next (producer, unit)) == FF_PRODUCE_WAIT) {
        ff_producer_check (producer);
        ck_assert_int_eq (ff_producer_fill (producer), 0);
        ff_producer_check (producer);
    }
    ff_producer_check (producer);
    return rc;
}

/* Checks an inline unit's name and bytes. */
static void
s_assert_inline (const ff_unit_t *unit, const char *input, const char *data)
{
    ck_assert_int_eq (unit->kind, FF_UNIT_INLINE);
    ck_assert_str_eq (unit->input, input);
    ck_assert_uint_eq (unit->size, strlen (data));
    ck_assert_mem_eq (unit->data, data, unit->size);
    ck_assert_ptr_null (unit->source);
    ck_assert_ptr_null (unit->failure);
    ck_assert_uint_eq (unit->chunk, 0);
    ck_assert_uint_eq (unit->chunks, 1);
}

/* Checks that unit is chunk index of chunks of the test .npy, with per
   elements in every chunk but the last. */
static void
s_assert_npy_chunk (const ff_unit_t *unit, uint64_t chunk_bytes, uint32_t index,
                    uint32_t chunks, uint64_t per)
{
    ck_assert_int_eq (unit->kind, FF_UNIT_ARRAYS);
    ck_assert_str_eq (unit->input, s_npy);
    ck_assert_uint_eq (unit->size, 0);
    ck_assert_ptr_nonnull (unit->data);
    ck_assert_ptr_null (unit->failure);
    ck_assert_ptr_nonnull (unit->source);
    ck_assert_uint_eq (unit->chunk, index);
    ck_assert_uint_eq (unit->chunks, chunks);
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_slices (unit->source, chunk_bytes, unit->chunk, slices), 1);
    uint64_t count = index + 1 < chunks? per: S_COUNT - per * (chunks - 1);
    ck_assert_uint_eq (slices [0].array.shape [0], count);
    ck_assert_mem_eq (slices [0].array.data, s_values + per * index, count * sizeof (double));
}

/* ------------------------------------------------------------ arguments */

START_TEST (test_producer_yields_each_argument_as_one_unit_named_and_made_of_itself)
{
    char *args [] = { "alpha", "", "two words", "ten.npy" };
    ff_producer_t *producer = ff_producer_new_arguments (args, 4, 0, 0, NULL);
    ff_unit_t unit;
    ck_assert_ptr_nonnull (producer);
    ff_producer_check (producer);
    ck_assert_int_eq (ff_producer_fd (producer), -1);
    for (size_t index = 0; index < 4; index++) {
        s_expect_unit (producer, &unit);
        /* without an array kernel a .npy path is a plain argument */
        s_assert_inline (&unit, args [index], args [index]);
        ck_assert_uint_eq (unit.index, index);
    }
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_check (producer);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ck_assert_uint_eq (ff_producer_units (producer), 4);
    ck_assert_str_eq (ff_producer_error (producer), "");
    ff_producer_destroy (&producer);
    ck_assert_ptr_null (producer);
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_ends_at_once_without_arguments)
{
    ff_producer_t *producer = ff_producer_new_arguments (NULL, 0, 1, 0, NULL);
    ff_unit_t unit;
    ck_assert_ptr_nonnull (producer);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_check (producer);
    ck_assert_uint_eq (ff_producer_units (producer), 0);
    ff_producer_destroy (&producer);
}
END_TEST

/* -------------------------------------------------------------- sources */

/* Takes every unit of producer (filling when told to wait) and writes
   "name|data" lines into out, the data's NULs as '^'. */
static void
s_collect (ff_producer_t *producer, char *out, size_t size)
{
    ff_unit_t unit;
    size_t len = 0, at;
    *out = 0;
    while (s_next_filling (producer, &unit) == FF_PRODUCE_UNIT) {
        len += (size_t) snprintf (out + len, size - len, "%s|", unit.input);
        for (at = 0; at < unit.size && len + 2 < size; at++)
            out [len++] = unit.data [at]? (char) unit.data [at]: '^';
        out [len++] = '\n';
        out [len] = 0;
    }
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
}

/* A producer of words with config; NULL config: the defaults. */
static ff_producer_t *
s_sources (char **words, size_t nwords, const ff_sources_t *config)
{
    ff_sources_t defaults = { .fd = -1 };
    char error [256];
    ff_producer_t *producer = ff_producer_new_sources (words, nwords, config? config: &defaults,
                                                       error, sizeof (error));
    ck_assert_msg (producer != NULL, "%s", error);
    ff_producer_check (producer);
    return producer;
}

START_TEST (test_producer_combines_sources_last_fastest_with_fields_joined_by_nul)
{
    char *words [] = { ":::", "a", "b c", ":::", "1", "2" };
    char out [512];
    ff_producer_t *producer = s_sources (words, 6, NULL);
    ck_assert_int_eq (ff_producer_total (producer), 4);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "a 1|a^1\na 2|a^2\nb c 1|b c^1\nb c 2|b c^2\n");
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_links_sources_recycling_the_shorter)
{
    char *words [] = { ":::", "a", "b", "c", ":::", "1", "2" };
    ff_sources_t config = { .link = 1, .fd = -1 };
    char out [512];
    ff_producer_t *producer = s_sources (words, 7, &config);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "a 1|a^1\nb 2|b^2\nc 1|c^1\n");
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_splits_colon_words_at_newlines_unless_null)
{
    char *words [] = { ":::", "x\ny", "" };
    ff_sources_t null = { .null = 1, .fd = -1 };
    char out [512];
    ff_producer_t *producer = s_sources (words, 3, NULL);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "x|x\ny|y\n|\n");
    ff_producer_destroy (&producer);
    producer = s_sources (words, 3, &null);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "x\ny|x\ny\n|\n");
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_splits_records_with_colsep_keeping_empty_fields)
{
    char *words [] = { ":::", "a,b,,", ",c" };
    ff_sources_t comma = { .colsep = ",", .fd = -1 }, blanks = { .colsep = "\\s+", .fd = -1 };
    char *spaced [] = { ":::", "a  b\tc" };
    char out [512];
    ff_producer_t *producer = s_sources (words, 3, &comma);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "a b  |a^b^^\n c|^c\n");
    ff_producer_destroy (&producer);
    producer = s_sources (spaced, 2, &blanks);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "a b c|a^b^c\n");
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_reads_file_sources_and_streams_stdin_record_by_record)
{
    char path [128], out [512];
    int fds [2];
    snprintf (path, sizeof (path), "%s/args.txt", s_dir);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fputs ("1\n\n3", file);
    fclose (file);
    char *words [] = { "::::", path, ":::", "x" };
    ff_producer_t *producer = s_sources (words, 4, NULL);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "1 x|1^x\n x|^x\n3 x|3^x\n");
    ff_producer_destroy (&producer);
    /* stdin alone: one unit per record, NUL-separated with null */
    ck_assert_int_eq (pipe (fds), 0);
    ck_assert_int_eq (write (fds [1], "a b\0c\nd\0", 8), 8);
    close (fds [1]);
    char *dash [] = { "::::", "-" };
    ff_sources_t config = { .null = 1, .fd = fds [0] };
    producer = s_sources (dash, 2, &config);
    ck_assert_int_eq (ff_producer_total (producer), -1);
    ck_assert_int_eq (ff_producer_fd (producer), fds [0]);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "a b|a b\nc\nd|c\nd\n");
    ff_producer_destroy (&producer);
    close (fds [0]);
}
END_TEST

START_TEST (test_producer_reads_stdin_whole_when_it_is_one_of_several_sources)
{
    char out [512];
    int fds [2];
    ck_assert_int_eq (pipe (fds), 0);
    ck_assert_int_eq (write (fds [1], "x\ny\n", 4), 4);
    close (fds [1]);
    char *words [] = { ":::", "a", "b", "::::", "-" };
    ff_sources_t config = { .fd = fds [0] };
    ff_producer_t *producer = s_sources (words, 5, &config);
    s_collect (producer, out, sizeof (out));
    ck_assert_str_eq (out, "a x|a^x\na y|a^y\nb x|b^x\nb y|b^y\n");
    ff_producer_destroy (&producer);
    close (fds [0]);
}
END_TEST

START_TEST (test_producer_new_sources_refuses_missing_files_bad_regex_and_stdin_twice)
{
    char error [256];
    char *missing [] = { "::::", "/nonexistent/args" };
    char *twice [] = { "::::", "-", "::::", "-" };
    ff_sources_t config = { .fd = 0 }, bad = { .colsep = "(", .fd = -1 };
    ff_sources_t perl = { .colsep = "(?=x)", .fd = -1 };
    ck_assert_ptr_null (ff_producer_new_sources (missing, 2, &config, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "/nonexistent/args"));
    ck_assert_ptr_null (ff_producer_new_sources (twice, 4, &config, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "twice"));
    ck_assert_ptr_null (ff_producer_new_sources (missing, 1, &bad, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "--colsep"));
    ck_assert_ptr_null (ff_producer_new_sources (missing, 1, &perl, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "perl"));
}
END_TEST

/* ----------------------------------------------------------------- pipe */


START_TEST (test_producer_cuts_a_pipe_into_blocks_of_n_lines_named_by_their_lines)
{
    const char *text = "a\nbb\nccc\ndddd\ne";
    int fd = s_file_with (text, strlen (text));
    ff_producer_t *producer = ff_producer_new_pipe (fd, "in.txt", FF_CUT_LINES, 2, 1024);
    ff_unit_t unit;
    ck_assert_ptr_nonnull (producer);
    ck_assert_int_eq (ff_producer_fd (producer), fd);
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_UNIT);
    s_assert_inline (&unit, "in.txt:1-2", "a\nbb\n");
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_UNIT);
    s_assert_inline (&unit, "in.txt:3-4", "ccc\ndddd\n");
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_UNIT);
    s_assert_inline (&unit, "in.txt:5-5", "e");
    ck_assert_uint_eq (unit.index, 2);
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_END);
    ck_assert_int_eq (ff_producer_fill (producer), 0);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_destroy (&producer);
    close (fd);
}
END_TEST

START_TEST (test_producer_cuts_a_pipe_into_blocks_of_about_n_bytes_at_line_ends)
{
    const char *text = "one\ntwo\nthree\nfour\n";
    int fd = s_file_with (text, strlen (text));
    ff_producer_t *producer = ff_producer_new_pipe (fd, "stdin", FF_CUT_BYTES, 9, 64);
    ff_unit_t unit;
    ck_assert_ptr_nonnull (producer);
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_UNIT);
    s_assert_inline (&unit, "stdin:1-2", "one\ntwo\n");
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_UNIT);
    s_assert_inline (&unit, "stdin:3-3", "three\n");
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_UNIT);
    s_assert_inline (&unit, "stdin:4-4", "four\n");
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_END);
    ck_assert_uint_eq (ff_producer_units (producer), 3);
    ff_producer_destroy (&producer);
    close (fd);
}
END_TEST

START_TEST (test_producer_waits_on_an_empty_non_blocking_pipe_until_a_block_is_whole)
{
    int fds [2];
    ff_unit_t unit;
    ck_assert_int_eq (pipe (fds), 0);
    ck_assert_int_eq (fcntl (fds [0], F_SETFL, O_NONBLOCK), 0);
    ff_producer_t *producer = ff_producer_new_pipe (fds [0], "stdin", FF_CUT_LINES, 1, 64);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_WAIT);
    ck_assert_int_eq (ff_producer_fill (producer), 0);     /* EAGAIN */
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_WAIT);
    ck_assert_int_eq (write (fds [1], "half", 4), 4);
    ck_assert_int_eq (ff_producer_fill (producer), 0);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_WAIT);
    ff_producer_check (producer);
    ck_assert_int_eq (write (fds [1], "\n", 1), 1);
    ck_assert_int_eq (ff_producer_fill (producer), 0);
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "stdin:1-1", "half\n");
    close (fds [1]);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_WAIT);
    ck_assert_int_eq (ff_producer_fill (producer), 0);     /* the end */
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_check (producer);
    ff_producer_destroy (&producer);
    close (fds [0]);
}
END_TEST

/* --------------------------------------------------------------- intake */

START_TEST (test_producer_names_intake_records_by_their_name_or_intake_n)
{
    char long_name [FF_PRODUCER_NAME_MAX];
    char longest [FF_PRODUCER_NAME_MAX - 1];
    memset (long_name, 'x', sizeof (long_name));
    memset (longest, 'y', sizeof (longest));
    ff_producer_t *producer = ff_producer_new_intake ();
    ff_unit_t unit;
    ck_assert_ptr_nonnull (producer);
    ck_assert_int_eq (ff_producer_fd (producer), -1);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_WAIT);

    ck_assert_int_eq (ff_producer_intake (producer, "row 1", 5, "one\n", 4), 0);
    ff_producer_check (producer);
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "row 1", "one\n");
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_WAIT);

    ck_assert_int_eq (ff_producer_intake (producer, NULL, 0, "two\n", 4), 0);
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "intake:2", "two\n");

    /* a name too long for an input name is replaced, not cut */
    ck_assert_int_eq (ff_producer_intake (producer, long_name, sizeof (long_name), "", 0), 0);
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "intake:3", "");

    ck_assert_int_eq (ff_producer_intake (producer, longest, sizeof (longest), "4", 1), 0);
    s_expect_unit (producer, &unit);
    ck_assert_uint_eq (strlen (unit.input), sizeof (longest));
    ck_assert_mem_eq (unit.input, longest, sizeof (longest));
    ck_assert_uint_eq (unit.index, 3);
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_ends_an_intake_after_its_last_record)
{
    ff_producer_t *producer = ff_producer_new_intake ();
    ff_unit_t unit;
    ck_assert_int_eq (ff_producer_intake (producer, "last", 4, "bytes", 5), 0);
    ff_producer_intake_end (producer);
    ff_producer_check (producer);
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "last", "bytes");
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_check (producer);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ck_assert_uint_eq (ff_producer_units (producer), 1);
    ff_producer_destroy (&producer);
}
END_TEST

/* Hashes the intake records texts [0 .. count - 1] (named by their
   index) and returns the producer's hash after them. */
static uint64_t
s_intake_hash (const char *const *texts, size_t count)
{
    ff_producer_t *producer = ff_producer_new_intake ();
    ff_unit_t unit;
    ck_assert_ptr_nonnull (producer);
    ck_assert_uint_eq (ff_producer_hash (producer), 0);
    for (size_t index = 0; index < count; index++) {
        ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_WAIT);
        ck_assert_int_eq (ff_producer_intake (producer, NULL, 0, texts [index],
                                              strlen (texts [index])), 0);
        s_expect_unit (producer, &unit);
    }
    uint64_t hash = ff_producer_hash (producer);
    ff_producer_destroy (&producer);
    return hash;
}

START_TEST (test_producer_hash_is_the_same_for_the_same_records_and_differs_for_others)
{
    const char *same [] = { "alpha\n", "a record of more than eight bytes\n", "" };
    const char *byte [] = { "alpha\n", "a record of more than eight bytez\n", "" };
    const char *moved [] = { "alpha\na record of more than eight bytes\n", "", "" };
    const char *swapped [] = { "a record of more than eight bytes\n", "alpha\n", "" };
    uint64_t hash = s_intake_hash (same, 3);
    ck_assert_uint_ne (hash, 0);
    ck_assert_uint_eq (s_intake_hash (same, 3), hash);
    ck_assert_uint_ne (s_intake_hash (byte, 3), hash);
    ck_assert_uint_ne (s_intake_hash (moved, 3), hash);
    ck_assert_uint_ne (s_intake_hash (swapped, 3), hash);
    ck_assert_uint_ne (s_intake_hash (same, 2), hash);
}
END_TEST

/* Runs a --pipe producer named name over text (lines cut by n) for units
   units and returns its hash then. */
static uint64_t
s_pipe_hash (const char *name, const char *text, long n, size_t units)
{
    int fds [2];
    ff_unit_t unit;
    ck_assert_int_eq (pipe (fds), 0);
    ck_assert_int_eq (write (fds [1], text, strlen (text)), (ssize_t) strlen (text));
    close (fds [1]);
    ff_producer_t *producer = ff_producer_new_pipe (fds [0], name, FF_CUT_LINES, (size_t) n, 64);
    ck_assert_ptr_nonnull (producer);
    ck_assert_uint_eq (ff_producer_hash (producer), 0);
    for (size_t index = 0; index < units; index++) {
        ff_produce_t rc;
        while ((rc = ff_producer_next (producer, &unit)) == FF_PRODUCE_WAIT)
            ck_assert_int_ge (ff_producer_fill (producer), 0);
        ck_assert_int_eq (rc, FF_PRODUCE_UNIT);
    }
    uint64_t hash = ff_producer_hash (producer);
    ff_producer_destroy (&producer);
    close (fds [0]);
    return hash;
}

START_TEST (test_producer_pipe_hash_follows_the_bytes_the_name_and_the_units_taken)
{
    const char *text = "alpha\na record of more than eight bytes\nomega\n";
    uint64_t hash = s_pipe_hash ("stdin", text, 1, 3);
    ck_assert_uint_ne (hash, 0);
    ck_assert_uint_eq (s_pipe_hash ("stdin", text, 1, 3), hash);
    ck_assert_uint_eq (s_pipe_hash ("stdin", "alpha\na record of more than eight bytes\n",
                                    1, 2), s_pipe_hash ("stdin", text, 1, 2));
    ck_assert_uint_ne (s_pipe_hash ("stdin", text, 1, 2), hash);
    ck_assert_uint_ne (s_pipe_hash ("in.txt", text, 1, 3), hash);
    ck_assert_uint_ne (s_pipe_hash ("stdin", "alpha\na record of more than eight bytez\nomega\n",
                                    1, 3), hash);
}
END_TEST

/* --------------------------------------------------------------- arrays */

START_TEST (test_producer_cuts_an_npy_in_memory_into_chunks_of_one_source)
{
    char *args [] = { "before", s_npy, "after" };
    ff_producer_t *producer = ff_producer_new_arguments (args, 3, 1, 3 * sizeof (double), NULL);
    ff_unit_t unit;
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "before", "before");
    ff_source_t *first = NULL;
    for (uint32_t chunk = 0; chunk < 4; chunk++) {
        s_expect_unit (producer, &unit);
        s_assert_npy_chunk (&unit, 3 * sizeof (double), chunk, 4, 3);
        if (!first)
            first = unit.source;
        ck_assert_ptr_eq (unit.source, first);      /* loaded once */
        ck_assert_uint_eq (unit.index, 1 + chunk);
    }
    ck_assert_int_eq (s_segments_left (), 0);       /* process memory */
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "after", "after");
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_check (producer);
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_gives_a_whole_source_one_unit_without_chunk_bytes)
{
    char *args [] = { s_npy };
    ff_producer_t *producer = ff_producer_new_arguments (args, 1, 1, 0, NULL);
    ff_unit_t unit;
    s_expect_unit (producer, &unit);
    s_assert_npy_chunk (&unit, 0, 0, 1, S_COUNT);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_maps_a_source_given_twice_once_per_argument_in_turn)
{
    char *args [] = { s_npy, s_npy };
    ff_producer_t *producer = ff_producer_new_arguments (args, 2, 1, 0, s_prefix);
    ff_unit_t unit;
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    s_expect_unit (producer, &unit);
    s_assert_npy_chunk (&unit, 0, 0, 1, S_COUNT);
    ck_assert_uint_eq (ff_source_slices (unit.source, 0, 0, slices), 1);
    ck_assert_msg (strncmp (slices [0].segment, FF_SHM_FILE_PREFIX,
                            strlen (FF_SHM_FILE_PREFIX)) == 0,
                   "segment %s is not a file handle", slices [0].segment);
    ck_assert_int_eq (s_mappings (), 1);
    s_expect_unit (producer, &unit);
    ck_assert_uint_eq (ff_source_slices (unit.source, 0, 0, slices), 1);
    /* nothing held the first source: moving on unmapped it */
    ck_assert_int_eq (s_mappings (), 1);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_check (producer);
    ck_assert_int_eq (s_mappings (), 0);
    ck_assert_int_eq (s_segments_left (), 0);       /* a .npy makes no segment */
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_keeps_a_source_until_the_last_task_that_holds_it_lets_go)
{
    char *args [] = { s_npy, "next" };
    ff_producer_t *producer = ff_producer_new_arguments (args, 2, 1, 5 * sizeof (double),
                                                         s_prefix);
    ff_unit_t unit;
    ff_source_t *held [2];
    for (size_t chunk = 0; chunk < 2; chunk++) {
        s_expect_unit (producer, &unit);
        s_assert_npy_chunk (&unit, 5 * sizeof (double), (uint32_t) chunk, 2, 5);
        held [chunk] = ff_source_ref (unit.source);  /* a task keeps it */
    }
    ck_assert_ptr_eq (held [0], held [1]);
    ck_assert_uint_eq (ff_source_refs (held [0]), 3);
    /* the call after the last chunk drops the producer's reference */
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "next", "next");
    ck_assert_uint_eq (ff_source_refs (held [0]), 2);
    ck_assert_int_eq (s_mappings (), 1);
    ff_source_unref (&held [1]);
    ck_assert_int_eq (s_mappings (), 1);
    ff_source_unref (&held [0]);
    ck_assert_int_eq (s_mappings (), 0);            /* the last one went */
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_destroy (&producer);
}
END_TEST

START_TEST (test_producer_destroyed_while_cutting_a_source_leaves_held_references_valid)
{
    char *args [] = { s_npy };
    ff_producer_t *producer = ff_producer_new_arguments (args, 1, 1, 3 * sizeof (double),
                                                         s_prefix);
    ff_unit_t unit;
    s_expect_unit (producer, &unit);
    ff_source_t *held = ff_source_ref (unit.source);
    ff_producer_destroy (&producer);
    ck_assert_uint_eq (ff_source_refs (held), 1);
    ff_slice_t slices [FF_SOURCE_MAX_ARRAYS];
    ck_assert_uint_eq (ff_source_slices (held, 3 * sizeof (double), 3, slices), 1);
    ck_assert_mem_eq (slices [0].array.data, s_values + 9, sizeof (double));
    ck_assert_int_eq (s_mappings (), 1);
    ff_source_unref (&held);
    ck_assert_int_eq (s_mappings (), 0);
}
END_TEST

START_TEST (test_producer_leaves_arguments_that_are_not_sources_inline_with_arrays_on)
{
    char *args [] = { "plain.txt", "x" };
    ff_producer_t *producer = ff_producer_new_arguments (args, 2, 1, 8, NULL);
    ff_unit_t unit;
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "plain.txt", "plain.txt");
    s_expect_unit (producer, &unit);
    s_assert_inline (&unit, "x", "x");
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_END);
    ff_producer_destroy (&producer);
}
END_TEST

/* -------------------------------------------- the same units either way */

/* Units as text: name, size, bytes of each, back to back. */
typedef struct {
    char *text;                     /* what was appended */
    size_t size;                    /* its bytes */
    size_t cap;                     /* bytes allocated */
    size_t bytes;                   /* payload bytes seen */
} s_units_t;

static void
s_units_add (s_units_t *units, const ff_unit_t *unit)
{
    size_t need = units->size + strlen (unit->input) + unit->size + 32;
    if (need > units->cap) {
        units->cap = need * 2;
        units->text = (char *) realloc (units->text, units->cap);
        ck_assert_ptr_nonnull (units->text);
    }
    units->size += (size_t) sprintf (units->text + units->size, "%s %zu\n", unit->input,
                                     unit->size);
    memcpy (units->text + units->size, unit->data, unit->size);
    units->size += unit->size;
    units->bytes += unit->size;
}

/* Writes text into fd, then closes it: the writer of a blocking pipe. */
typedef struct {
    int fd;                         /* write end */
    const char *text;               /* what to write */
    size_t size;                    /* its bytes */
} s_writer_t;

static void *
s_writer (void *arg)
{
    s_writer_t *writer = (s_writer_t *) arg;
    size_t done = 0;
    while (done < writer->size) {
        ssize_t wrote = write (writer->fd, writer->text + done, writer->size - done);
        if (wrote <= 0)
            break;
        done += (size_t) wrote;
    }
    close (writer->fd);
    return NULL;
}

/* Serial: a blocking pipe filled by a thread; fill blocks on WAIT. */
static void
s_units_blocking (const char *text, size_t size, ff_cut_t cut, size_t n, s_units_t *units)
{
    int fds [2];
    pthread_t thread;
    ff_unit_t unit;
    ck_assert_int_eq (pipe (fds), 0);
    s_writer_t writer = { fds [1], text, size };
    ck_assert_int_eq (pthread_create (&thread, NULL, s_writer, &writer), 0);
    ff_producer_t *producer = ff_producer_new_pipe (fds [0], "stdin", cut, n, 4096);
    ck_assert_ptr_nonnull (producer);
    ff_produce_t rc;
    while ((rc = s_next_filling (producer, &unit)) == FF_PRODUCE_UNIT)
        s_units_add (units, &unit);
    ck_assert_int_eq (rc, FF_PRODUCE_END);
    ff_producer_destroy (&producer);
    ck_assert_int_eq (pthread_join (thread, NULL), 0);
    close (fds [0]);
}

/* The ventilator: a non-blocking pipe, fed here in pieces of 1 to 97
   bytes, polled before each fill. */
static void
s_units_polled (const char *text, size_t size, ff_cut_t cut, size_t n, s_units_t *units)
{
    int fds [2];
    ff_unit_t unit;
    size_t fed = 0, piece = 1;
    ck_assert_int_eq (pipe (fds), 0);
    ck_assert_int_eq (fcntl (fds [0], F_SETFL, O_NONBLOCK), 0);
    ff_producer_t *producer = ff_producer_new_pipe (fds [0], "stdin", cut, n, 4096);
    ck_assert_ptr_nonnull (producer);
    for (;;) {
        ff_produce_t rc = ff_producer_next (producer, &unit);
        ff_producer_check (producer);
        if (rc == FF_PRODUCE_UNIT) {
            s_units_add (units, &unit);
            continue;
        }
        if (rc == FF_PRODUCE_END)
            break;
        ck_assert_int_eq (rc, FF_PRODUCE_WAIT);
        if (fed < size) {
            size_t count = size - fed < piece? size - fed: piece;
            ck_assert_int_eq (write (fds [1], text + fed, count), (ssize_t) count);
            fed += count;
            piece = piece % 97 + 13;
        }
        else
        if (fds [1] >= 0) {
            close (fds [1]);
            fds [1] = -1;
        }
        struct pollfd item = { ff_producer_fd (producer), POLLIN, 0 };
        ck_assert_int_eq (poll (&item, 1, 1000), 1);
        ck_assert_int_eq (ff_producer_fill (producer), 0);
    }
    ff_producer_destroy (&producer);
    close (fds [0]);
}

/* Text of lines of 0 to 300 bytes, some blank, the last unterminated. */
static char *
s_make_text (size_t size)
{
    char *text = (char *) malloc (size);
    uint32_t state = 12345;
    size_t at = 0;
    ck_assert_ptr_nonnull (text);
    while (at < size) {
        state = state * 1103515245u + 12345u;
        size_t len = (state >> 16) % 301;
        for (size_t index = 0; index < len && at < size; index++, at++)
            text [at] = (char) ('a' + (index + at) % 26);
        if (at < size - 1)
            text [at++] = '\n';
        else
        if (at < size)
            text [at++] = 'z';
    }
    return text;
}

START_TEST (test_producer_gives_the_same_units_from_a_polled_pipe_and_a_blocking_one)
{
    static const struct { ff_cut_t cut; size_t n; } cuts [] = {
        { FF_CUT_LINES, 1 }, { FF_CUT_LINES, 7 }, { FF_CUT_BYTES, 1000 }, { FF_CUT_BYTES, 4096 }
    };
    const size_t size = 150000;
    char *text = s_make_text (size);
    for (size_t index = 0; index < sizeof (cuts) / sizeof (cuts [0]); index++) {
        s_units_t polled = { NULL, 0, 0, 0 }, blocking = { NULL, 0, 0, 0 };
        s_units_polled (text, size, cuts [index].cut, cuts [index].n, &polled);
        s_units_blocking (text, size, cuts [index].cut, cuts [index].n, &blocking);
        ck_assert_uint_eq (polled.bytes, size);
        ck_assert_uint_eq (blocking.bytes, size);
        ck_assert_uint_eq (polled.size, blocking.size);
        ck_assert_msg (memcmp (polled.text, blocking.text, polled.size) == 0,
                       "cut %zu: the units differ", index);
        free (polled.text);
        free (blocking.text);
    }
    free (text);
}
END_TEST

/* --------------------------------------------------------------- limits */

START_TEST (test_producer_refuses_a_line_longer_than_max_block_naming_its_number)
{
    const char *text = "short\nthis line is too long\nok\n";
    int fd = s_file_with (text, strlen (text));
    ff_producer_t *producer = ff_producer_new_pipe (fd, "stdin", FF_CUT_LINES, 1, 8);
    ff_unit_t unit;
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_UNIT);
    s_assert_inline (&unit, "stdin:1-1", "short\n");
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_ERROR);
    ck_assert_str_eq (ff_producer_error (producer),
                      "stdin: line 2 is longer than --max-block (8 bytes)");
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_ERROR);
    ck_assert_int_eq (ff_producer_fill (producer), -1);
    ff_producer_check (producer);
    ck_assert_uint_eq (ff_producer_units (producer), 1);
    ff_producer_destroy (&producer);
    close (fd);
}
END_TEST

START_TEST (test_producer_refuses_a_block_cut_by_bytes_longer_than_max_block)
{
    const char *text = "0123456789abcdef\n";
    int fd = s_file_with (text, strlen (text));
    ff_producer_t *producer = ff_producer_new_pipe (fd, "big.txt", FF_CUT_BYTES, 4, 10);
    ff_unit_t unit;
    ck_assert_int_eq (s_next_filling (producer, &unit), FF_PRODUCE_ERROR);
    ck_assert_str_eq (ff_producer_error (producer),
                      "big.txt: line 1 is longer than --max-block (10 bytes)");
    ff_producer_destroy (&producer);
    close (fd);
}
END_TEST

START_TEST (test_producer_reports_a_read_error_naming_the_input)
{
    int fd = open ("/", O_RDONLY | O_DIRECTORY);
    ck_assert_int_ge (fd, 0);
    ff_producer_t *producer = ff_producer_new_pipe (fd, "dir", FF_CUT_LINES, 1, 64);
    ff_unit_t unit;
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_WAIT);
    ck_assert_int_eq (ff_producer_fill (producer), -1);
    ff_producer_check (producer);
    char expected [FF_PRODUCER_ERROR_MAX];
    snprintf (expected, sizeof (expected), "dir: read failed: %s", strerror (EISDIR));
    ck_assert_str_eq (ff_producer_error (producer), expected);
    ck_assert_int_eq (ff_producer_next (producer, &unit), FF_PRODUCE_ERROR);
    ff_producer_destroy (&producer);
    close (fd);
}
END_TEST

START_TEST (test_producer_gives_one_failed_unit_for_a_source_that_does_not_load)
{
    char missing [160], truncated [160];
    snprintf (missing, sizeof (missing), "%s/missing.npy", s_dir);
    snprintf (truncated, sizeof (truncated), "%s/short.npy", s_dir);
    ff_fixture_write_npy (truncated, s_values, S_COUNT, S_COUNT / 2);
    char *args [] = { missing, truncated, s_npy };
    ff_producer_t *producer = ff_producer_new_arguments (args, 3, 1, 8, s_prefix);
    ff_unit_t unit;
    for (size_t index = 0; index < 2; index++) {
        s_expect_unit (producer, &unit);
        ck_assert_int_eq (unit.kind, FF_UNIT_FAILED);
        ck_assert_str_eq (unit.input, args [index]);
        ck_assert_uint_eq (unit.size, 0);
        ck_assert_ptr_null (unit.source);
        ck_assert_uint_eq (unit.chunk, 0);
        ck_assert_uint_eq (unit.chunks, 1);
        ck_assert_ptr_nonnull (unit.failure);
        ck_assert_msg (strstr (unit.failure, args [index]) == unit.failure,
                       "failure \"%s\" does not start with %s", unit.failure, args [index]);
    }
    ck_assert_int_eq (s_segments_left (), 0);
    /* the job goes on */
    s_expect_unit (producer, &unit);
    s_assert_npy_chunk (&unit, 8, 0, S_COUNT, 1);
    ck_assert_str_eq (ff_producer_error (producer), "");
    ff_producer_destroy (&producer);
    ck_assert_int_eq (s_segments_left (), 0);
}
END_TEST

START_TEST (test_producer_new_refuses_bad_arguments)
{
    ck_assert_ptr_null (ff_producer_new_pipe (-1, "stdin", FF_CUT_LINES, 1, 64));
    ck_assert_ptr_null (ff_producer_new_pipe (0, NULL, FF_CUT_LINES, 1, 64));
    ck_assert_ptr_null (ff_producer_new_pipe (0, "stdin", FF_CUT_LINES, 0, 64));
    ck_assert_ptr_null (ff_producer_new_pipe (0, "stdin", FF_CUT_BYTES, 65, 64));
    ck_assert_ptr_null (ff_producer_new_arguments (NULL, 1, 0, 0, NULL));
}
END_TEST

Suite *
producer_suite (void)
{
    Suite *suite = suite_create ("producer");

    TCase *tc = tcase_create ("units");
    tcase_set_timeout (tc, 30);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_producer_yields_each_argument_as_one_unit_named_and_made_of_itself);
    tcase_add_test (tc, test_producer_ends_at_once_without_arguments);
    tcase_add_test (tc, test_producer_combines_sources_last_fastest_with_fields_joined_by_nul);
    tcase_add_test (tc, test_producer_links_sources_recycling_the_shorter);
    tcase_add_test (tc, test_producer_splits_colon_words_at_newlines_unless_null);
    tcase_add_test (tc, test_producer_splits_records_with_colsep_keeping_empty_fields);
    tcase_add_test (tc, test_producer_reads_file_sources_and_streams_stdin_record_by_record);
    tcase_add_test (tc, test_producer_reads_stdin_whole_when_it_is_one_of_several_sources);
    tcase_add_test (tc, test_producer_cuts_a_pipe_into_blocks_of_n_lines_named_by_their_lines);
    tcase_add_test (tc, test_producer_cuts_a_pipe_into_blocks_of_about_n_bytes_at_line_ends);
    tcase_add_test (tc, test_producer_waits_on_an_empty_non_blocking_pipe_until_a_block_is_whole);
    tcase_add_test (tc, test_producer_names_intake_records_by_their_name_or_intake_n);
    tcase_add_test (tc, test_producer_ends_an_intake_after_its_last_record);
    tcase_add_test (tc, test_producer_hash_is_the_same_for_the_same_records_and_differs_for_others);
    tcase_add_test (tc, test_producer_pipe_hash_follows_the_bytes_the_name_and_the_units_taken);
    tcase_add_test (tc, test_producer_cuts_an_npy_in_memory_into_chunks_of_one_source);
    tcase_add_test (tc, test_producer_gives_a_whole_source_one_unit_without_chunk_bytes);
    tcase_add_test (tc, test_producer_maps_a_source_given_twice_once_per_argument_in_turn);
    tcase_add_test (tc, test_producer_keeps_a_source_until_the_last_task_that_holds_it_lets_go);
    tcase_add_test (tc, test_producer_destroyed_while_cutting_a_source_leaves_held_references_valid);
    tcase_add_test (tc, test_producer_leaves_arguments_that_are_not_sources_inline_with_arrays_on);
    tcase_add_test (tc, test_producer_gives_the_same_units_from_a_polled_pipe_and_a_blocking_one);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 10);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_producer_refuses_a_line_longer_than_max_block_naming_its_number);
    tcase_add_test (tc, test_producer_refuses_a_block_cut_by_bytes_longer_than_max_block);
    tcase_add_test (tc, test_producer_reports_a_read_error_naming_the_input);
    tcase_add_test (tc, test_producer_gives_one_failed_unit_for_a_source_that_does_not_load);
    tcase_add_test (tc, test_producer_new_refuses_bad_arguments);
    tcase_add_test (tc, test_producer_new_sources_refuses_missing_files_bad_regex_and_stdin_twice);
    suite_add_tcase (suite, tc);
    return suite;
}
