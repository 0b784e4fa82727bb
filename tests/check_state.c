/*  Unit tests for the resume state file: every field round trips, a save
    replaces the file atomically and leaves no temporary file, and the
    state file name is the output's plus ".fanfold-state"; in "limits",
    missing and foreign files, failed saves and names that do not fit.
    Each test works in a temporary directory of its own and removes it. */

#include <check.h>
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanfold/job/state.h"

static char s_dir [64];                 /* this test's temporary directory */
static char s_path [128];               /* s_dir/out.jsonl.fanfold-state */
static char s_tmp [160];                /* s_path.tmp, what a save writes first */

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/check_state_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    snprintf (s_path, sizeof (s_path), "%s/out.jsonl" FF_STATE_SUFFIX, s_dir);
    snprintf (s_tmp, sizeof (s_tmp), "%s.tmp", s_path);
}

/* Removes what the tests make in the directory, then the directory. */
static void
s_teardown (void)
{
    unlink (s_tmp);
    if (unlink (s_path) != 0)
        rmdir (s_path);
    rmdir (s_dir);
}

/* Writes text as the whole file at path. */
static void
s_write (const char *path, const char *text)
{
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    ck_assert_int_ge (fputs (text, file), 0);
    ck_assert_int_eq (fclose (file), 0);
}

static int
s_exists (const char *path)
{
    struct stat info;
    return stat (path, &info) == 0;
}

/* Loads s_path, which must fail with errno expected. */
static void
s_assert_load_fails (int expected)
{
    ff_state_t state;
    errno = 0;
    ck_assert_int_eq (ff_state_load (s_path, &state), -1);
    ck_assert_int_eq (errno, expected);
}

/* ---------------------------------------------------------------- state */

START_TEST (test_state_save_then_load_round_trips_every_field)
{
    ff_state_t saved, loaded;
    memset (&saved, 0, sizeof (saved));
    snprintf (saved.signature, sizeof (saved.signature), "k=stats,n=3,in=big.npy:9f3a");
    saved.written = UINT64_C (12345678901);
    saved.bytes = UINT64_C (1) << 40;
    saved.errors = 7;
    ck_assert_int_eq (ff_state_save (s_path, &saved), 0);
    memset (&loaded, 0xff, sizeof (loaded));
    ck_assert_int_eq (ff_state_load (s_path, &loaded), 0);
    ck_assert_str_eq (loaded.signature, saved.signature);
    ck_assert_uint_eq (loaded.written, saved.written);
    ck_assert_uint_eq (loaded.bytes, saved.bytes);
    ck_assert_uint_eq (loaded.errors, saved.errors);
}
END_TEST

START_TEST (test_state_round_trips_the_failed_count_and_the_folds_and_reads_an_older_file)
{
    ff_state_t saved, loaded;
    memset (&saved, 0, sizeof (saved));
    snprintf (saved.signature, sizeof (saved.signature), "sig");
    saved.written = 11;
    saved.failed = 4;
    snprintf (saved.folds, sizeof (saved.folds), "fold 0 8 2 0 6131 7b7d\nfold 3 9 1 1 - -\n");
    ck_assert_int_eq (ff_state_save (s_path, &saved), 0);
    ck_assert_int_eq (ff_state_load (s_path, &loaded), 0);
    ck_assert_uint_eq (loaded.failed, 4);
    ck_assert_int_eq (loaded.marked, 0);
    ck_assert_str_eq (loaded.folds, saved.folds);
    saved.marked = 1;
    saved.input_seq = 42;
    saved.input_hash = UINT64_MAX - 5;
    ck_assert_int_eq (ff_state_save (s_path, &saved), 0);
    ck_assert_int_eq (ff_state_load (s_path, &loaded), 0);
    ck_assert_int_eq (loaded.marked, 1);
    ck_assert_uint_eq (loaded.input_seq, 42);
    ck_assert_uint_eq (loaded.input_hash, UINT64_MAX - 5);
    ck_assert_str_eq (loaded.folds, saved.folds);
    s_write (s_path, "fanfold-state 1\nsignature sig\nwritten 3\nbytes 9\nerrors 1\n");
    ck_assert_int_eq (ff_state_load (s_path, &loaded), 0);
    ck_assert_uint_eq (loaded.written, 3);
    ck_assert_uint_eq (loaded.failed, 0);
    ck_assert_str_eq (loaded.folds, "");
    s_write (s_path, "fanfold-state 1\nsignature sig\nwritten 3\nbytes 9\nerrors 1\njunk\n");
    s_assert_load_fails (EINVAL);
}
END_TEST

START_TEST (test_state_round_trips_the_extremes_of_every_field)
{
    ff_state_t saved, loaded;
    memset (&saved, 0, sizeof (saved));
    memset (saved.signature, 'x', sizeof (saved.signature) - 1);
    saved.written = UINT64_MAX;
    saved.bytes = 0;
    saved.errors = UINT64_MAX;
    ck_assert_int_eq (ff_state_save (s_path, &saved), 0);
    ck_assert_int_eq (ff_state_load (s_path, &loaded), 0);
    ck_assert_uint_eq (strlen (loaded.signature), sizeof (saved.signature) - 1);
    ck_assert_str_eq (loaded.signature, saved.signature);
    ck_assert_uint_eq (loaded.written, UINT64_MAX);
    ck_assert_uint_eq (loaded.bytes, 0);
    ck_assert_uint_eq (loaded.errors, UINT64_MAX);
}
END_TEST

START_TEST (test_state_save_leaves_no_temporary_file)
{
    ff_state_t state;
    memset (&state, 0, sizeof (state));
    snprintf (state.signature, sizeof (state.signature), "sig");
    state.written = 3;
    ck_assert_int_eq (ff_state_save (s_path, &state), 0);
    ck_assert (s_exists (s_path));
    ck_assert (!s_exists (s_tmp));
}
END_TEST

START_TEST (test_state_save_replaces_an_existing_state)
{
    ff_state_t state, loaded;
    memset (&state, 0, sizeof (state));
    snprintf (state.signature, sizeof (state.signature), "first-job-with-a-long-signature");
    state.written = 1000;
    state.bytes = 123456;
    state.errors = 2;
    ck_assert_int_eq (ff_state_save (s_path, &state), 0);
    struct stat before, after;
    ck_assert_int_eq (stat (s_path, &before), 0);

    snprintf (state.signature, sizeof (state.signature), "second");
    state.written = 5;
    state.bytes = 6;
    state.errors = 0;
    ck_assert_int_eq (ff_state_save (s_path, &state), 0);
    ck_assert_int_eq (ff_state_load (s_path, &loaded), 0);
    ck_assert_str_eq (loaded.signature, "second");
    ck_assert_uint_eq (loaded.written, 5);
    ck_assert_uint_eq (loaded.bytes, 6);
    ck_assert_uint_eq (loaded.errors, 0);
    ck_assert (!s_exists (s_tmp));
    /* replaced by a rename, not rewritten in place */
    ck_assert_int_eq (stat (s_path, &after), 0);
    ck_assert_uint_ne (after.st_ino, before.st_ino);
}
END_TEST

START_TEST (test_state_save_replaces_a_stale_temporary_file)
{
    ff_state_t state, loaded;
    memset (&state, 0, sizeof (state));
    snprintf (state.signature, sizeof (state.signature), "sig");
    state.written = 42;
    /* what a save that crashed before its rename would leave */
    s_write (s_tmp, "fanfold-state 1\nsignature other\nwritten 999999\nbytes 1\n"
                    "errors 0\n and a long tail of junk that must not survive");
    ck_assert_int_eq (ff_state_save (s_path, &state), 0);
    ck_assert (!s_exists (s_tmp));
    ck_assert_int_eq (ff_state_load (s_path, &loaded), 0);
    ck_assert_str_eq (loaded.signature, "sig");
    ck_assert_uint_eq (loaded.written, 42);
}
END_TEST

START_TEST (test_state_path_appends_the_state_suffix)
{
    char path [64];
    ck_assert_int_eq (ff_state_path ("out/results.jsonl", path, sizeof (path)), 0);
    ck_assert_str_eq (path, "out/results.jsonl.fanfold-state");
    ck_assert_int_eq (ff_state_path ("o", path, sizeof (path)), 0);
    ck_assert_str_eq (path, "o" FF_STATE_SUFFIX);
}
END_TEST

START_TEST (test_state_path_fits_a_name_of_exactly_the_size_less_one)
{
    /* "abc" + ".fanfold-state" is 17 characters: 18 bytes with the NUL */
    char path [18];
    ck_assert_int_eq (ff_state_path ("abc", path, sizeof (path)), 0);
    ck_assert_str_eq (path, "abc.fanfold-state");
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_state_load_of_a_missing_file_fails_with_enoent)
{
    ck_assert (!s_exists (s_path));
    s_assert_load_fails (ENOENT);
}
END_TEST

START_TEST (test_state_load_of_a_file_with_other_content_fails_with_einval)
{
    s_write (s_path, "{\"seq\":0,\"result\":1}\n");
    s_assert_load_fails (EINVAL);
}
END_TEST

START_TEST (test_state_load_of_an_empty_file_fails_with_einval)
{
    s_write (s_path, "");
    s_assert_load_fails (EINVAL);
}
END_TEST

START_TEST (test_state_load_of_a_cut_state_fails_with_einval)
{
    s_write (s_path, "fanfold-state 1\nsignature sig\nwritten 10\nbytes 20\n");
    s_assert_load_fails (EINVAL);
}
END_TEST

START_TEST (test_state_load_of_another_version_or_magic_fails_with_einval)
{
    s_write (s_path, "fanfold-state 2\nsignature sig\nwritten 10\nbytes 20\nerrors 0\n");
    s_assert_load_fails (EINVAL);
    s_write (s_path, "fanfold-stats 1\nsignature sig\nwritten 10\nbytes 20\nerrors 0\n");
    s_assert_load_fails (EINVAL);
    /* the same text is a state, so the two above fail for what they change */
    s_write (s_path, "fanfold-state 1\nsignature sig\nwritten 10\nbytes 20\nerrors 0\n");
    ff_state_t state;
    ck_assert_int_eq (ff_state_load (s_path, &state), 0);
    ck_assert_uint_eq (state.bytes, 20);
}
END_TEST

START_TEST (test_state_path_that_does_not_fit_fails)
{
    char path [17];
    /* one byte short for "abc.fanfold-state" */
    ck_assert_int_eq (ff_state_path ("abc", path, sizeof (path)), -1);
    char big [PATH_MAX + 16], small [PATH_MAX];
    memset (big, 'a', PATH_MAX);
    big [PATH_MAX] = 0;
    ck_assert_int_eq (ff_state_path (big, small, sizeof (small)), -1);
}
END_TEST

START_TEST (test_state_save_into_a_missing_directory_fails_with_enoent)
{
    char path [160];
    ff_state_t state;
    memset (&state, 0, sizeof (state));
    snprintf (path, sizeof (path), "%s/missing/out" FF_STATE_SUFFIX, s_dir);
    errno = 0;
    ck_assert_int_eq (ff_state_save (path, &state), -1);
    ck_assert_int_eq (errno, ENOENT);
}
END_TEST

START_TEST (test_state_save_that_cannot_rename_fails_and_leaves_no_temporary_file)
{
    /* a directory where the state should be: the rename fails */
    ff_state_t state;
    memset (&state, 0, sizeof (state));
    snprintf (state.signature, sizeof (state.signature), "sig");
    ck_assert_int_eq (mkdir (s_path, 0700), 0);
    errno = 0;
    ck_assert_int_eq (ff_state_save (s_path, &state), -1);
    ck_assert_int_eq (errno, EISDIR);
    ck_assert (!s_exists (s_tmp));
}
END_TEST

START_TEST (test_state_save_of_a_name_too_long_fails)
{
    char path [PATH_MAX + 16];
    ff_state_t state;
    memset (&state, 0, sizeof (state));
    memset (path, 'a', PATH_MAX);
    path [PATH_MAX] = 0;
    errno = 0;
    ck_assert_int_eq (ff_state_save (path, &state), -1);
    ck_assert_int_eq (errno, ENAMETOOLONG);
}
END_TEST

Suite *
state_suite (void)
{
    Suite *suite = suite_create ("state");

    TCase *tc = tcase_create ("state");
    tcase_set_timeout (tc, 20);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_state_save_then_load_round_trips_every_field);
    tcase_add_test (tc, test_state_round_trips_the_failed_count_and_the_folds_and_reads_an_older_file);
    tcase_add_test (tc, test_state_round_trips_the_extremes_of_every_field);
    tcase_add_test (tc, test_state_save_leaves_no_temporary_file);
    tcase_add_test (tc, test_state_save_replaces_an_existing_state);
    tcase_add_test (tc, test_state_save_replaces_a_stale_temporary_file);
    tcase_add_test (tc, test_state_path_appends_the_state_suffix);
    tcase_add_test (tc, test_state_path_fits_a_name_of_exactly_the_size_less_one);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 20);
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_state_load_of_a_missing_file_fails_with_enoent);
    tcase_add_test (tc, test_state_load_of_a_file_with_other_content_fails_with_einval);
    tcase_add_test (tc, test_state_load_of_an_empty_file_fails_with_einval);
    tcase_add_test (tc, test_state_load_of_a_cut_state_fails_with_einval);
    tcase_add_test (tc, test_state_load_of_another_version_or_magic_fails_with_einval);
    tcase_add_test (tc, test_state_path_that_does_not_fit_fails);
    tcase_add_test (tc, test_state_save_into_a_missing_directory_fails_with_enoent);
    tcase_add_test (tc, test_state_save_that_cannot_rename_fails_and_leaves_no_temporary_file);
    tcase_add_test (tc, test_state_save_of_a_name_too_long_fails);
    suite_add_tcase (suite, tc);
    return suite;
}
