/*  Unit tests for GNU parallel's output habits in the delivery: --halt
    (counted in seq order, parallel's exit status, nothing written after
    the halting task), --tag and --tagstring, --results (parallel's
    directory tree), and --resume / --resume-failed from a joblog with
    parallel's columns. Results are taken as the sink takes them, some out
    of order. In "limits": --halt values parallel refuses, and a joblog
    that is not one. */

#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanfold/job/delivery.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/options.h"

static char s_dir [64];                 /* this test's temporary directory */

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/check_habits_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
}

static void
s_teardown (void)
{
    char command [128];
    snprintf (command, sizeof (command), "rm -rf '%s'", s_dir);
    ck_assert_int_eq (system (command), 0);
}

/* Returns s_dir/name in a static buffer (one of two, alternating). */
static const char *
s_path (const char *name)
{
    static char paths [2][256];
    static int turn;
    turn = !turn;
    snprintf (paths [turn], sizeof (paths [turn]), "%s/%s", s_dir, name);
    return paths [turn];
}

/* Reads the file at path into a new NUL-terminated string. */
static char *
s_slurp (const char *path)
{
    FILE *file = fopen (path, "rb");
    ck_assert_msg (file != NULL, "cannot open %s", path);
    char *data = calloc (1, 1 << 16);
    ck_assert_ptr_nonnull (data);
    size_t size = fread (data, 1, (1 << 16) - 1, file);
    data [size] = 0;
    fclose (file);
    return data;
}

static void
s_assert_file (const char *path, const char *expected)
{
    char *data = s_slurp (path);
    ck_assert_str_eq (data, expected);
    free (data);
}

/* Makes a delivery of the exec kernel writing to s_dir/out with options
   (output_path and format are set here), begun with total tasks. */
static ff_delivery_t *
s_delivery (ff_delivery_options_t *options, int64_t total)
{
    char error [256];
    static const ff_str_t kernel = { "exec", 4 };
    options->output_path = s_path ("out");
    options->format = FF_FORMAT_RAW;
    ff_delivery_t *delivery = ff_delivery_new (options, error, sizeof (error));
    ck_assert_msg (delivery != NULL, "%s", error);
    ck_assert_int_eq (ff_delivery_begin (delivery, &kernel, 1, 16, total), 0);
    return delivery;
}

/* Takes one result of seq: a command that printed body and exited with
   code (a failed command's meta when code is not 0). */
static ff_delivery_rc_t
s_take (ff_delivery_t *delivery, uint64_t seq, const char *input, const char *body, int code)
{
    char meta [128];
    if (code)
        snprintf (meta, sizeof (meta), "\"exit\":%d,\"command\":\"echo %s\","
                  "\"failed\":\"command exited with status %d\"", code, input, code);
    else
        snprintf (meta, sizeof (meta), "\"exit\":0,\"command\":\"echo %s\"", input);
    ff_item_t item = {
        .seq = seq, .kernel = 0, .status = code? FF_STATUS_ERROR: FF_STATUS_OK,
        .kind = FF_KIND_BYTES, .input = { input, strlen (input) },
        .data = { body, strlen (body) }, .meta = { meta, strlen (meta) },
        .attempt = 1, .tries = 1, .chunks = 1
    };
    ff_delivery_rc_t rc = ff_delivery_take (delivery, 1, &item);
    ff_delivery_check (delivery);
    return rc;
}

/* Parses a --halt value that must be valid. */
static ff_halt_t
s_halt (const char *text)
{
    ff_halt_t halt;
    ck_assert_msg (ff_halt_parse (text, &halt) == 0, "--halt %s refused", text);
    return halt;
}

START_TEST (test_halt_reads_every_form_parallel_reads)
{
    ff_halt_t halt = s_halt ("now,fail=1");
    ck_assert_int_eq (halt.when, FF_HALT_NOW);
    ck_assert_int_eq (halt.why, FF_HALT_FAIL);
    ck_assert_uint_eq (halt.count, 1);
    ck_assert_uint_eq (halt.percent, 0);
    halt = s_halt ("soon,success=30%");
    ck_assert_int_eq (halt.when, FF_HALT_SOON);
    ck_assert_int_eq (halt.why, FF_HALT_SUCCESS);
    ck_assert_uint_eq (halt.percent, 30);
    halt = s_halt ("now,done=3");
    ck_assert_int_eq (halt.why, FF_HALT_DONE);
    ck_assert_uint_eq (halt.count, 3);
    halt = s_halt ("5%");
    ck_assert_int_eq (halt.when, FF_HALT_SOON);
    ck_assert_int_eq (halt.why, FF_HALT_FAIL);
    ck_assert_uint_eq (halt.percent, 5);
    halt = s_halt ("2");
    ck_assert_int_eq (halt.when, FF_HALT_NOW);
    ck_assert_uint_eq (halt.count, 1);
    halt = s_halt ("-1");
    ck_assert_int_eq (halt.when, FF_HALT_SOON);
    ck_assert_int_eq (halt.why, FF_HALT_SUCCESS);
    ck_assert_int_eq (s_halt ("0").when, FF_HALT_NEVER);
    ck_assert_int_eq (s_halt ("never").when, FF_HALT_NEVER);
    ck_assert_int_eq (s_halt (NULL).when, FF_HALT_NEVER);
}
END_TEST

START_TEST (test_halt_now_fail_1_writes_up_to_the_failing_task_and_exits_with_its_value)
{
    ff_delivery_options_t options = { .halt = s_halt ("now,fail=1") };
    ff_delivery_t *delivery = s_delivery (&options, 4);
    ck_assert_int_eq (s_take (delivery, 2, "c", "c\n", 0), FF_DELIVERY_HELD);
    ck_assert_int_eq (s_take (delivery, 0, "a", "a\n", 0), FF_DELIVERY_WRITTEN);
    ck_assert_int_eq (ff_delivery_halted (delivery), 0);
    ck_assert_int_eq (s_take (delivery, 1, "b", "b\n", 3), FF_DELIVERY_WRITTEN);
    ck_assert_int_eq (ff_delivery_halted (delivery), 1);
    s_take (delivery, 3, "d", "d\n", 0);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), 3);
    ff_delivery_destroy (&delivery);
    /* the held seq 2 and the later seq 3 are not written */
    s_assert_file (s_path ("out"), "a\nb\n");
}
END_TEST

START_TEST (test_halt_soon_fail_count_exits_with_the_failed_tasks)
{
    ff_delivery_options_t options = { .halt = s_halt ("soon,fail=2") };
    ff_delivery_t *delivery = s_delivery (&options, 6);
    s_take (delivery, 0, "0", "0\n", 0);
    s_take (delivery, 1, "1", "1\n", 1);
    ck_assert_int_eq (ff_delivery_halted (delivery), 0);
    s_take (delivery, 2, "0", "0\n", 0);
    s_take (delivery, 3, "7", "7\n", 7);
    ck_assert_int_eq (ff_delivery_halted (delivery), 1);
    s_take (delivery, 4, "0", "0\n", 0);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), 2);
    ff_delivery_destroy (&delivery);
    s_assert_file (s_path ("out"), "0\n1\n0\n7\n");
}
END_TEST

START_TEST (test_halt_success_exits_0_after_failures)
{
    ff_delivery_options_t options = { .halt = s_halt ("now,success=1") };
    ff_delivery_t *delivery = s_delivery (&options, 4);
    s_take (delivery, 0, "1", "1\n", 1);
    s_take (delivery, 1, "2", "2\n", 2);
    s_take (delivery, 2, "0", "0\n", 0);
    ck_assert_int_eq (ff_delivery_halted (delivery), 1);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), 0);
    ff_delivery_destroy (&delivery);
    s_assert_file (s_path ("out"), "1\n2\n0\n");
}
END_TEST

START_TEST (test_halt_percent_waits_for_the_task_count)
{
    ff_delivery_options_t options = { .halt = s_halt ("now,fail=50%") };
    ff_delivery_t *delivery = s_delivery (&options, -1);
    s_take (delivery, 0, "1", "1\n", 1);
    ck_assert_int_eq (ff_delivery_halted (delivery), 0);     /* 1 of how many? */
    ck_assert_int_eq (ff_delivery_set_total (delivery, 2), 1);
    ck_assert_int_eq (ff_delivery_halted (delivery), 1);     /* 1 of 2: 50% */
    ck_assert_int_eq (ff_delivery_exit_status (delivery), 50);
    ff_delivery_destroy (&delivery);
}
END_TEST

START_TEST (test_halt_percent_never_met_exits_with_the_percent_failed)
{
    ff_delivery_options_t options = { .halt = s_halt ("now,fail=60%") };
    ff_delivery_t *delivery = s_delivery (&options, 3);
    s_take (delivery, 0, "0", "0\n", 0);
    s_take (delivery, 1, "1", "1\n", 1);
    s_take (delivery, 2, "0", "0\n", 0);
    ck_assert_int_eq (ff_delivery_halted (delivery), 0);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), 34);   /* ceil (100 / 3) */
    ff_delivery_destroy (&delivery);
}
END_TEST

START_TEST (test_tag_prefixes_every_line_a_last_one_without_newline_too)
{
    ff_delivery_options_t options = { .tag = "{}" };
    ff_delivery_t *delivery = s_delivery (&options, 3);
    s_take (delivery, 1, "b", "", 0);
    s_take (delivery, 0, "a 1", "x\ny", 1);
    s_take (delivery, 2, "c", "z\n", 0);
    ff_delivery_destroy (&delivery);
    s_assert_file (s_path ("out"), "a 1\tx\na 1\tyc\tz\n");
    ff_delivery_options_t string = { .tag = "<{}>{#}" };
    delivery = s_delivery (&string, 1);
    s_take (delivery, 0, "a", "x\n", 0);
    ff_delivery_destroy (&delivery);
    s_assert_file (s_path ("out"), "<a>1\tx\n");
}
END_TEST

/* A fields callback: every task has the fields "a", "b/c" and "". */
static int
s_fields (void *arg, uint64_t seq, const char **data, size_t *size)
{
    (void) arg;
    (void) seq;
    *data = "a\0b/c\0";
    *size = 6;
    return 0;
}

START_TEST (test_results_write_parallels_tree_and_no_stdout)
{
    char results [256];
    snprintf (results, sizeof (results), "%s", s_path ("res"));
    ff_delivery_options_t options = { .results_dir = results, .fields = s_fields };
    ff_delivery_t *delivery = s_delivery (&options, 1);
    s_take (delivery, 0, "a b/c ", "out\n", 1);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), 1);
    ff_delivery_destroy (&delivery);
    s_assert_file (s_path ("out"), "");
    /* an empty field is an empty name: `3//seq` is `3/seq`, as parallel's */
    s_assert_file (s_path ("res/1/a/2/b\\_c/3/seq"), "1");
    s_assert_file (s_path ("res/1/a/2/b\\_c/3/stdout"), "out\n");
    s_assert_file (s_path ("res/1/a/2/b\\_c/3/stderr"), "");
    /* without fields, the input name is the one field */
    ff_delivery_options_t one = { .results_dir = results };
    delivery = s_delivery (&one, 1);
    s_take (delivery, 0, "x\\y", "y\n", 0);
    ff_delivery_destroy (&delivery);
    s_assert_file (s_path ("res/1/x\\\\y/stdout"), "y\n");
}
END_TEST

/* Writes a joblog in parallel's columns: Seqs 1, 2 and 4 succeeded,
   Seq 3 failed. */
static void
s_write_joblog (void)
{
    FILE *file = fopen (s_path ("jl"), "w");
    ck_assert_ptr_nonnull (file);
    fputs ("Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"
           "1\t:\t1.000\t     0.001\t0\t2\t0\t0\techo a\n"
           "2\t:\t1.000\t     0.001\t0\t2\t0\t0\techo b\n"
           "3\t:\t1.000\t     0.001\t0\t2\t1\t0\techo c\n"
           "4\t:\t1.000\t     0.001\t0\t2\t0\t0\techo d\n", file);
    fclose (file);
}

START_TEST (test_resume_from_a_joblog_runs_only_what_it_lacks)
{
    s_write_joblog ();
    ff_delivery_options_t options = {
        .joblog_path = s_path ("jl"), .joblog_resume = FF_JOBLOG_RESUME_DONE
    };
    ff_delivery_t *delivery = s_delivery (&options, 5);
    /* Seqs 1-4 are done: the ventilator skips seqs 0-3 */
    ck_assert_uint_eq (ff_delivery_written (delivery), 4);
    ck_assert_int_eq (s_take (delivery, 4, "e", "e\n", 0), FF_DELIVERY_WRITTEN);
    ck_assert_int_eq (ff_delivery_done (delivery), 1);
    ff_delivery_destroy (&delivery);
    s_assert_file (s_path ("out"), "e\n");
    char *log = s_slurp (s_path ("jl"));
    ck_assert_ptr_nonnull (strstr (log, "echo d\n5\t:\t"));
    ck_assert_ptr_nonnull (strstr (log, "\t0\t0\techo e\t1\t1\tok\te\n"));
    ck_assert_ptr_eq (strstr (log + 1, "Seq"), NULL);        /* one header */
    free (log);
}
END_TEST

START_TEST (test_resume_failed_runs_the_failed_again_and_drops_the_done_after_a_gap)
{
    s_write_joblog ();
    ff_delivery_options_t options = {
        .joblog_path = s_path ("jl"), .joblog_resume = FF_JOBLOG_RESUME_SUCCEEDED
    };
    ff_delivery_t *delivery = s_delivery (&options, 5);
    ck_assert_uint_eq (ff_delivery_written (delivery), 2);
    s_take (delivery, 2, "c", "c\n", 0);
    s_take (delivery, 3, "d", "d again\n", 0);             /* done: not written again */
    s_take (delivery, 4, "e", "e\n", 0);
    ck_assert_int_eq (ff_delivery_done (delivery), 1);
    ff_delivery_destroy (&delivery);
    s_assert_file (s_path ("out"), "c\ne\n");
    char *log = s_slurp (s_path ("jl"));
    ck_assert_ptr_nonnull (strstr (log, "echo d\n3\t:\t"));
    ck_assert_ptr_eq (strstr (log, "echo d\t"), NULL);       /* Seq 4 logged once */
    free (log);
}
END_TEST

START_TEST (test_halt_values_parallel_refuses_are_refused)
{
    static const char *bad [] = {
        "later,fail=1", "now,fail", "now,fail=", "now,fail=x", "now,oops=1", "now,fail=101%",
        "now,fail=1x", "3", "", "now", "soon,fail=1,2", NULL
    };
    ff_halt_t halt;
    for (size_t index = 0; bad [index]; index++)
        ck_assert_msg (ff_halt_parse (bad [index], &halt) == -1, "--halt %s accepted",
                       bad [index]);
}
END_TEST

START_TEST (test_a_joblog_that_is_not_one_is_refused_with_its_line)
{
    FILE *file = fopen (s_path ("jl"), "w");
    ck_assert_ptr_nonnull (file);
    fputs ("seq\tworker\tstart\n0\t1\t2\n", file);
    fclose (file);
    char error [256];
    ff_delivery_options_t options = {
        .output_path = s_path ("out"), .format = FF_FORMAT_RAW,
        .joblog_path = s_path ("jl"), .joblog_resume = FF_JOBLOG_RESUME_DONE
    };
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "line 1 is not a joblog line"));
}
END_TEST

Suite *
habits_suite (void)
{
    Suite *suite = suite_create ("habits");
    TCase *halt = tcase_create ("halt");
    tcase_add_checked_fixture (halt, s_setup, s_teardown);
    tcase_add_test (halt, test_halt_reads_every_form_parallel_reads);
    tcase_add_test (halt, test_halt_now_fail_1_writes_up_to_the_failing_task_and_exits_with_its_value);
    tcase_add_test (halt, test_halt_soon_fail_count_exits_with_the_failed_tasks);
    tcase_add_test (halt, test_halt_success_exits_0_after_failures);
    tcase_add_test (halt, test_halt_percent_waits_for_the_task_count);
    tcase_add_test (halt, test_halt_percent_never_met_exits_with_the_percent_failed);
    suite_add_tcase (suite, halt);
    TCase *output = tcase_create ("output");
    tcase_add_checked_fixture (output, s_setup, s_teardown);
    tcase_add_test (output, test_tag_prefixes_every_line_a_last_one_without_newline_too);
    tcase_add_test (output, test_results_write_parallels_tree_and_no_stdout);
    suite_add_tcase (suite, output);
    TCase *resume = tcase_create ("resume");
    tcase_add_checked_fixture (resume, s_setup, s_teardown);
    tcase_add_test (resume, test_resume_from_a_joblog_runs_only_what_it_lacks);
    tcase_add_test (resume, test_resume_failed_runs_the_failed_again_and_drops_the_done_after_a_gap);
    suite_add_tcase (suite, resume);
    TCase *limits = tcase_create ("limits");
    tcase_add_checked_fixture (limits, s_setup, s_teardown);
    tcase_add_test (limits, test_halt_values_parallel_refuses_are_refused);
    tcase_add_test (limits, test_a_joblog_that_is_not_one_is_refused_with_its_line);
    suite_add_tcase (suite, limits);
    return suite;
}
