/*  Unit tests for the launcher's exit matrix (launch/supervisor): what the
    run exits with, given how the sink and the ventilator ended. */

#include <check.h>
#include <signal.h>

#include "fanfold/launch/supervisor.h"
#include "fanfold/runtime/limits.h"

START_TEST (test_supervisor_passes_on_a_sink_whose_output_reader_left_whatever_the_ventilator)
{
    int closed = FF_EXIT_SIGNAL_BASE + SIGPIPE;
    ck_assert_int_eq (ff_supervisor_status (closed, -1), closed);
    ck_assert_int_eq (ff_supervisor_status (closed, FF_EXIT_SIGNAL_BASE + SIGTERM), closed);
    ck_assert_int_eq (ff_supervisor_status (closed, FF_EXIT_OK), closed);
}
END_TEST

START_TEST (test_supervisor_passes_on_a_count_of_failed_tasks_once_the_ventilator_finished)
{
    ck_assert_int_eq (ff_supervisor_status (5, FF_EXIT_OK), 5);
    ck_assert_int_eq (ff_supervisor_status (101, FF_EXIT_OK), 101);
    ck_assert_int_eq (ff_supervisor_status (5, -1), FF_EXIT_ERROR);
}
END_TEST

START_TEST (test_supervisor_reports_an_error_for_a_sink_that_could_not_run_or_was_killed)
{
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_CANNOT_RUN, FF_EXIT_OK), FF_EXIT_ERROR);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_SIGNAL_BASE + SIGKILL, FF_EXIT_OK), FF_EXIT_ERROR);
    ck_assert_int_eq (ff_supervisor_status (FF_EXIT_SIGNAL_BASE + SIGHUP, -1), FF_EXIT_ERROR);
}
END_TEST

Suite *
supervisor_suite (void)
{
    Suite *suite = suite_create ("supervisor");
    TCase *tc = tcase_create ("exit matrix");
    tcase_add_test (tc, test_supervisor_passes_on_a_sink_whose_output_reader_left_whatever_the_ventilator);
    tcase_add_test (tc, test_supervisor_passes_on_a_count_of_failed_tasks_once_the_ventilator_finished);
    tcase_add_test (tc, test_supervisor_reports_an_error_for_a_sink_that_could_not_run_or_was_killed);
    suite_add_tcase (suite, tc);
    return suite;
}
