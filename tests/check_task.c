/*  Unit tests for running one task (kernels/task): the retries, the stop
    flag between tries, the outcome's status and kind, and the error record
    of a task that cannot run; and the launcher's exit matrix. */

#include <check.h>
#include <string.h>

#include "fanfold/kernels/task.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/launch/supervisor.h"
#include "fanfold/runtime/limits.h"

static int s_runs;                  /* runs of s_flaky */
static int s_fail_first;            /* runs of s_flaky that fail */
static int s_stop_after;            /* s_stopped says stop after this many runs */

/* Fails its first s_fail_first runs, then writes "ok". */
static int
s_flaky (const ff_task_t *task, ff_result_t *result)
{
    (void) task;
    if (s_runs++ < s_fail_first) {
        ff_buf_puts (&result->data, "not yet");
        return -1;
    }
    ff_buf_puts (&result->data, "{\"ok\":1}");
    return 0;
}

static int
s_stopped (void)
{
    return s_runs >= s_stop_after;
}

static const ff_kernel_t s_kernel = { FF_KERNEL_ABI, FF_KERNEL_JSON, "flaky", NULL, s_flaky, NULL };
static const ff_task_t s_task = { 0, "in", (const uint8_t *) "x", 1, NULL, 0, NULL, 0 };

static void
s_setup (void)
{
    s_runs = 0;
    s_fail_first = 0;
    s_stop_after = 1000;
}

START_TEST (test_task_result_larger_than_the_limit_becomes_an_error_naming_the_limit)
{
    ff_result_t out = { { 0 }, { 0 } };
    ff_task_outcome_t outcome;
    ff_task_policy_t policy = { .retries = 3, .max_result = 7 };   /* "{"ok":1}" is 8 */
    ck_assert_int_eq (ff_task_run (&s_kernel, &s_task, &policy, &out, &outcome), -1);
    ck_assert_uint_eq (outcome.tries, 1);
    ck_assert_uint_eq (outcome.status, FF_STATUS_ERROR);
    ck_assert_uint_eq (outcome.kind, FF_KIND_BYTES);
    ff_buf_append (&out.data, "", 1);
    ck_assert_str_eq ((const char *) out.data.data,
                      "result of 8 bytes exceeds the limit of 7 bytes of one result");
    ck_assert_uint_eq (s_runs, 1);
    ff_result_reset (&out, 0);
    policy.max_result = 8;
    ck_assert_int_eq (ff_task_run (&s_kernel, &s_task, &policy, &out, &outcome), 0);
    ff_result_reset (&out, 0);
    /* a task's max_result parameter lowers the limit, never raises it */
    const char *params [] = { "max_result", "4" };
    ff_task_t task = s_task;
    task.params = params;
    task.nparams = 1;
    ck_assert_int_eq (ff_task_run (&s_kernel, &task, &policy, &out, &outcome), -1);
    ff_result_reset (&out, 0);
    params [1] = "1K";
    ck_assert_int_eq (ff_task_run (&s_kernel, &task, &policy, &out, &outcome), 0);
    ff_result_reset (&out, 0);
}
END_TEST

START_TEST (test_task_runs_once_when_the_kernel_succeeds)
{
    ff_result_t out = { { 0 }, { 0 } };
    ff_task_outcome_t outcome;
    ff_task_policy_t policy = { .retries = 3 };
    ck_assert_int_eq (ff_task_run (&s_kernel, &s_task, &policy, &out, &outcome), 0);
    ck_assert_uint_eq (outcome.tries, 1);
    ck_assert_uint_eq (outcome.status, FF_STATUS_OK);
    ck_assert_uint_eq (outcome.kind, FF_KIND_JSON);
    ck_assert_uint_eq (out.data.size, 8);
    ff_result_reset (&out, 0);
}
END_TEST

START_TEST (test_task_tries_again_until_the_kernel_succeeds_within_its_retries)
{
    ff_result_t out = { { 0 }, { 0 } };
    ff_task_outcome_t outcome;
    ff_task_policy_t policy = { .retries = 3 };
    s_fail_first = 2;
    ck_assert_int_eq (ff_task_run (&s_kernel, &s_task, &policy, &out, &outcome), 0);
    ck_assert_uint_eq (outcome.tries, 3);
    ck_assert_uint_eq (outcome.status, FF_STATUS_OK);
    ck_assert (memcmp (out.data.data, "{\"ok\":1}", 8) == 0);
    ff_result_reset (&out, 0);
}
END_TEST

START_TEST (test_task_fails_after_its_retries_with_the_last_error)
{
    ff_result_t out = { { 0 }, { 0 } };
    ff_task_outcome_t outcome;
    ff_task_policy_t policy = { .retries = FF_DEFAULT_RETRIES };
    s_fail_first = 100;
    ck_assert_int_eq (ff_task_run (&s_kernel, &s_task, &policy, &out, &outcome), -1);
    ck_assert_uint_eq (outcome.tries, FF_DEFAULT_RETRIES);
    ck_assert_int_eq (s_runs, FF_DEFAULT_RETRIES);
    ck_assert_uint_eq (outcome.status, FF_STATUS_ERROR);
    ck_assert_uint_eq (out.data.size, strlen ("not yet"));
    ff_result_reset (&out, 0);
}
END_TEST

START_TEST (test_task_stops_trying_when_the_stop_flag_is_set)
{
    ff_result_t out = { { 0 }, { 0 } };
    ff_task_outcome_t outcome;
    ff_task_policy_t policy = { .retries = 10, .stopped = s_stopped };
    s_fail_first = 100;
    s_stop_after = 2;
    ck_assert_int_eq (ff_task_run (&s_kernel, &s_task, &policy, &out, &outcome), -1);
    ck_assert_uint_eq (outcome.tries, 2);
    ff_result_reset (&out, 0);
}
END_TEST

START_TEST (test_task_with_no_kernel_is_one_failed_try_of_bytes)
{
    ff_result_t out = { { 0 }, { 0 } };
    ff_task_outcome_t outcome;
    volatile int64_t running = -1;
    ff_task_policy_t policy = { .retries = 5, .running_since = &running };
    ck_assert_int_eq (ff_task_run (NULL, &s_task, &policy, &out, &outcome), -1);
    ck_assert_uint_eq (outcome.tries, 1);
    ck_assert_uint_eq (outcome.kind, FF_KIND_BYTES);
    ck_assert_int_eq (running, 0);
    ff_result_reset (&out, 0);
}
END_TEST

START_TEST (test_task_fail_makes_an_error_record_of_bytes)
{
    ff_result_t out = { { 0 }, { 0 } };
    ff_task_outcome_t outcome;
    ff_buf_puts (&out.meta, "\"exit\":1");
    ff_task_fail ("a.npy: bad header", &out, &outcome);
    ck_assert_uint_eq (outcome.tries, 1);
    ck_assert_uint_eq (outcome.status, FF_STATUS_ERROR);
    ck_assert_uint_eq (outcome.kind, FF_KIND_BYTES);
    ck_assert_uint_eq (out.meta.size, 0);
    ck_assert (out.data.size == 17 && memcmp (out.data.data, "a.npy: bad header", 17) == 0);
    ff_result_reset (&out, 0);
}
END_TEST

START_TEST (test_supervisor_status_follows_the_exit_matrix)
{
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_OK, FF_EXIT_OK), FF_EXIT_OK);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_TASKS_FAILED, FF_EXIT_OK), FF_EXIT_TASKS_FAILED);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_ERROR, FF_EXIT_OK), FF_EXIT_ERROR);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_OK, FF_EXIT_ERROR), FF_EXIT_ERROR);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_TASKS_FAILED, FF_EXIT_TASKS_FAILED), FF_EXIT_ERROR);
    ck_assert_int_eq (ff_supervisor_status (-1, FF_EXIT_OK), FF_EXIT_ERROR);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_OK, -1), FF_EXIT_ERROR);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_SIGNAL_BASE + 9, FF_EXIT_OK), FF_EXIT_ERROR);
    ck_assert_int_eq (ff_supervisor_status (57, FF_EXIT_OK), 57);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_FAILED_MAX, FF_EXIT_OK), FF_EXIT_FAILED_MAX);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_PIPE_CLOSED, FF_EXIT_SIGNAL_BASE + 15),
                      FF_EXIT_PIPE_CLOSED);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_ERROR, FF_EXIT_SIGNAL_BASE + 15), FF_EXIT_ERROR);
}
END_TEST

Suite *
task_suite (void)
{
    Suite *suite = suite_create ("task");
    TCase *tc = tcase_create ("retries");
    tcase_add_checked_fixture (tc, s_setup, NULL);
    tcase_add_test (tc, test_task_runs_once_when_the_kernel_succeeds);
    tcase_add_test (tc, test_task_result_larger_than_the_limit_becomes_an_error_naming_the_limit);
    tcase_add_test (tc, test_task_tries_again_until_the_kernel_succeeds_within_its_retries);
    tcase_add_test (tc, test_task_fails_after_its_retries_with_the_last_error);
    tcase_add_test (tc, test_task_stops_trying_when_the_stop_flag_is_set);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_add_checked_fixture (tc, s_setup, NULL);
    tcase_add_test (tc, test_task_with_no_kernel_is_one_failed_try_of_bytes);
    tcase_add_test (tc, test_task_fail_makes_an_error_record_of_bytes);
    tcase_add_test (tc, test_supervisor_status_follows_the_exit_matrix);
    suite_add_tcase (suite, tc);
    return suite;
}
