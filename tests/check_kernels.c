/*  Unit tests for the built-in kernels (noop, sleep, spin) and the registry:
    lookup, kernel list splitting and running through ff_kernels_run. */

#include <check.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>

#include "fanfold/kernels/kernels.h"

static const uint8_t s_payload [] = { 'r', 'e', 'c', 0x00, 0xff, '\n' };

/* A task over s_payload with the given key/value parameters. */
static ff_task_t
s_task (uint64_t seq, const char *const *params, size_t nparams)
{
    ff_task_t task = {
        seq, "input:1-1", s_payload, sizeof (s_payload), params, nparams, NULL, 0
    };
    return task;
}

static double
s_seconds (clockid_t clock)
{
    struct timespec now;
    clock_gettime (clock, &now);
    return (double) now.tv_sec + (double) now.tv_nsec / 1e9;
}

/* Runs kernel name on task into out; returns the wall time in ms. */
static double
s_run_timed (const char *name, const ff_task_t *task, ff_buf_t *out, int *rc)
{
    const ff_kernel_t *kernel = ff_kernels_find (name);
    ck_assert_ptr_nonnull (kernel);
    ff_result_t result = { *out, { NULL, 0, 0 } };
    double start = s_seconds (CLOCK_MONOTONIC);
    *rc = ff_kernels_run (kernel, task, &result);
    double took = (s_seconds (CLOCK_MONOTONIC) - start) * 1e3;
    *out = result.data;
    ck_assert_uint_eq (result.meta.size, 0);   /* built-ins add no meta */
    free (result.meta.data);
    return took;
}

static void
s_assert_echo (const ff_buf_t *out)
{
    ck_assert_uint_eq (out->size, sizeof (s_payload));
    ck_assert_mem_eq (out->data, s_payload, sizeof (s_payload));
}

/* Asserts that out holds an error message that mentions what. */
static void
s_assert_message_mentions (ff_buf_t *out, const char *what)
{
    ck_assert_uint_gt (out->size, 0);
    ck_assert_int_eq (ff_buf_append (out, "", 1), 0);
    ck_assert_msg (strstr ((const char *) out->data, what) != NULL,
                   "message \"%s\" does not mention \"%s\"",
                   (const char *) out->data, what);
}

START_TEST (test_kernels_noop_echoes_the_payload)
{
    ff_task_t task = s_task (0, NULL, 0);
    ff_buf_t out = { NULL, 0, 0 };
    int rc;
    s_run_timed ("noop", &task, &out, &rc);
    ck_assert_int_eq (rc, 0);
    s_assert_echo (&out);
    free (out.data);
}
END_TEST

START_TEST (test_kernels_run_clears_the_buffer_before_the_kernel_writes)
{
    ff_task_t task = s_task (0, NULL, 0);
    ff_buf_t out = { NULL, 0, 0 };
    int rc;
    ck_assert_int_eq (ff_buf_puts (&out, "left over from the last task"), 0);
    s_run_timed ("noop", &task, &out, &rc);
    ck_assert_int_eq (rc, 0);
    s_assert_echo (&out);
    free (out.data);
}
END_TEST

START_TEST (test_kernels_sleep_waits_at_least_ms_then_echoes)
{
    const char *params [] = { "ms", "20" };
    ff_task_t task = s_task (5, params, 1);
    ff_buf_t out = { NULL, 0, 0 };
    int rc;
    double elapsed = s_run_timed ("sleep", &task, &out, &rc);
    ck_assert_int_eq (rc, 0);
    ck_assert_double_ge (elapsed, 19.0);
    s_assert_echo (&out);
    free (out.data);
}
END_TEST

static volatile sig_atomic_t s_alarms = 0;

static void
s_on_alarm (int signum)
{
    (void) signum;
    s_alarms++;
}

START_TEST (test_kernels_sleep_lasts_its_ms_through_signals)
{
    /* SIGALRM every 5 ms, without SA_RESTART: each one interrupts the
       sleep, which still ends 60 ms after it began */
    struct sigaction action, saved;
    memset (&action, 0, sizeof (action));
    action.sa_handler = s_on_alarm;
    sigemptyset (&action.sa_mask);
    ck_assert_int_eq (sigaction (SIGALRM, &action, &saved), 0);
    struct itimerval every = { { 0, 5000 }, { 0, 5000 } }, off = { { 0, 0 }, { 0, 0 } };
    const char *params [] = { "ms", "60" };
    ff_task_t task = s_task (7, params, 1);
    ff_buf_t out = { NULL, 0, 0 };
    int rc;
    s_alarms = 0;
    ck_assert_int_eq (setitimer (ITIMER_REAL, &every, NULL), 0);
    double elapsed = s_run_timed ("sleep", &task, &out, &rc);
    ck_assert_int_eq (setitimer (ITIMER_REAL, &off, NULL), 0);
    ck_assert_int_eq (sigaction (SIGALRM, &saved, NULL), 0);
    ck_assert_int_eq (rc, 0);
    ck_assert_int_ge (s_alarms, 2);
    ck_assert_double_ge (elapsed, 59.9);
    s_assert_echo (&out);
    free (out.data);
}
END_TEST

START_TEST (test_kernels_sleep_jitter_depends_on_the_seq_and_repeats_per_seq)
{
    /* ms=100: each seq sleeps its own fraction of 100 ms. The slowest and
       the fastest seq of a first pass keep their order in a second one. */
    const char *params [] = { "ms", "100", "jitter", "1" };
    double first [8], again_slow, again_fast;
    size_t seq, slow = 0, fast = 0;
    ff_buf_t out = { NULL, 0, 0 };
    int rc;
    for (seq = 0; seq < 8; seq++) {
        ff_task_t task = s_task (seq, params, 2);
        first [seq] = s_run_timed ("sleep", &task, &out, &rc);
        ck_assert_int_eq (rc, 0);
        s_assert_echo (&out);
        if (first [seq] > first [slow])
            slow = seq;
        if (first [seq] < first [fast])
            fast = seq;
    }
    ck_assert_double_ge (first [slow] - first [fast], 20.0);
    ff_task_t task = s_task (slow, params, 2);
    again_slow = s_run_timed ("sleep", &task, &out, &rc);
    task = s_task (fast, params, 2);
    again_fast = s_run_timed ("sleep", &task, &out, &rc);
    ck_assert_double_ge (again_slow - again_fast, 20.0);
    free (out.data);
}
END_TEST

START_TEST (test_kernels_spin_burns_us_of_cpu_time_then_echoes)
{
    const char *params [] = { "us", "2000" };
    ff_task_t task = s_task (1, params, 1);
    ff_buf_t out = { NULL, 0, 0 };
    int rc;
    double start = s_seconds (CLOCK_PROCESS_CPUTIME_ID);
    s_run_timed ("spin", &task, &out, &rc);
    double used_ms = (s_seconds (CLOCK_PROCESS_CPUTIME_ID) - start) * 1e3;
    ck_assert_int_eq (rc, 0);
    ck_assert_double_ge (used_ms, 1.9);
    s_assert_echo (&out);
    free (out.data);
}
END_TEST

START_TEST (test_kernels_find_returns_each_builtin_by_name)
{
    size_t count, index;
    const ff_kernel_t *kernels = ff_kernels_builtin (&count);
    ck_assert_uint_ge (count, 3);
    for (index = 0; index < count; index++) {
        ck_assert_uint_eq (kernels [index].abi, FF_KERNEL_ABI);
        ck_assert_ptr_nonnull (kernels [index].run);
        ck_assert_ptr_eq (ff_kernels_find (kernels [index].name), &kernels [index]);
    }
    ck_assert_str_eq (ff_kernels_find ("noop")->name, "noop");
    ck_assert_str_eq (ff_kernels_find ("sleep")->name, "sleep");
    ck_assert_str_eq (ff_kernels_find ("spin")->name, "spin");
}
END_TEST

START_TEST (test_kernels_split_cuts_a_comma_separated_list)
{
    char *names [4];
    ck_assert_int_eq (ff_kernels_split ("a,b,c", names, 4), 3);
    ck_assert_str_eq (names [0], "a");
    ck_assert_str_eq (names [1], "b");
    ck_assert_str_eq (names [2], "c");
    free (names [0]);
    free (names [1]);
    free (names [2]);
    ck_assert_int_eq (ff_kernels_split ("sleep", names, 1), 1);
    ck_assert_str_eq (names [0], "sleep");
    free (names [0]);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_kernels_sleep_refuses_a_non_numeric_ms)
{
    const char *bad [] = { "abc", "-5", "1e9", "" };
    size_t index;
    ff_buf_t out = { NULL, 0, 0 };
    for (index = 0; index < 4; index++) {
        const char *params [] = { "ms", bad [index] };
        ff_task_t task = s_task (0, params, 1);
        int rc;
        s_run_timed ("sleep", &task, &out, &rc);
        ck_assert_int_eq (rc, -1);
        s_assert_message_mentions (&out, "ms");
    }
    free (out.data);
}
END_TEST

START_TEST (test_kernels_spin_refuses_a_non_numeric_us)
{
    const char *params [] = { "us", "lots" };
    ff_task_t task = s_task (0, params, 1);
    ff_buf_t out = { NULL, 0, 0 };
    int rc;
    s_run_timed ("spin", &task, &out, &rc);
    ck_assert_int_eq (rc, -1);
    s_assert_message_mentions (&out, "us");
    free (out.data);
}
END_TEST

START_TEST (test_kernels_split_refuses_empty_names_and_too_many)
{
    char *names [4] = { NULL, NULL, NULL, NULL };
    ck_assert_int_eq (ff_kernels_split ("", names, 4), -1);
    ck_assert_int_eq (ff_kernels_split (NULL, names, 4), -1);
    ck_assert_int_eq (ff_kernels_split ("a,,b", names, 4), -1);
    ck_assert_int_eq (ff_kernels_split ("a,", names, 4), -1);
    ck_assert_int_eq (ff_kernels_split (",a", names, 4), -1);
    ck_assert_int_eq (ff_kernels_split ("a,b,c", names, 2), -1);
}
END_TEST

START_TEST (test_kernels_run_without_a_kernel_is_an_error_result)
{
    ff_task_t task = s_task (0, NULL, 0);
    ff_result_t out;
    memset (&out, 0, sizeof (out));
    ck_assert_int_eq (ff_kernels_run (NULL, &task, &out), -1);
    s_assert_message_mentions (&out.data, "kernel");
    ff_result_reset (&out, 0);
}
END_TEST

START_TEST (test_kernels_find_returns_null_for_an_unknown_name)
{
    ck_assert_ptr_null (ff_kernels_find ("nope"));
    ck_assert_ptr_null (ff_kernels_find (""));
    ck_assert_ptr_null (ff_kernels_find ("NOOP"));
}
END_TEST

/* A kernel for the plugin table tests: never run. */
static int
s_never_run (const ff_task_t *task, ff_result_t *result)
{
    (void) task;
    (void) result;
    return -1;
}

START_TEST (test_kernels_validate_refuses_a_table_whose_second_kernel_has_another_abi)
{
    const ff_kernel_t table [] = {
        { FF_KERNEL_ABI, 0, "check_first", NULL, s_never_run, NULL },
        { FF_KERNEL_ABI + 1, 0, "check_second", NULL, s_never_run, NULL }
    };
    size_t fresh = 99;
    char error [256] = "";
    ck_assert_int_eq (ff_kernels_validate ("p.so", table, 2, &fresh, error,
                                           sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "p.so: kernel 1 has ABI"));
    ck_assert_int_eq (ff_kernels_validate ("p.so", table, 1, &fresh, error,
                                           sizeof (error)), 0);
    ck_assert_uint_eq (fresh, 1);
}
END_TEST

START_TEST (test_kernels_validate_counts_known_and_repeated_names_once)
{
    const ff_kernel_t table [] = {
        { FF_KERNEL_ABI, 0, "noop", NULL, s_never_run, NULL },
        { FF_KERNEL_ABI, 0, "check_twice", NULL, s_never_run, NULL },
        { FF_KERNEL_ABI, 0, "check_twice", NULL, s_never_run, NULL },
        { FF_KERNEL_ABI, 0, NULL, NULL, s_never_run, NULL }
    };
    size_t fresh = 0;
    char error [256] = "";
    ck_assert_int_eq (ff_kernels_validate ("p.so", table, 3, &fresh, error,
                                           sizeof (error)), 0);
    ck_assert_uint_eq (fresh, 1);
    ck_assert_int_eq (ff_kernels_validate ("p.so", table, 4, &fresh, error,
                                           sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "p.so: kernel 3 has no name"));
}
END_TEST

/* A plugin whose first kernel is good and second has another ABI: loading
   it must register neither (the library is closed again, so the first
   kernel's pointers would lead into unmapped code). */
START_TEST (test_kernels_load_registers_nothing_when_a_later_kernel_has_a_bad_abi)
{
    char dir [] = "/tmp/check_kernels_XXXXXX", source [128], library [128], command [512];
    ck_assert_ptr_nonnull (mkdtemp (dir));
    snprintf (source, sizeof (source), "%s/bad.c", dir);
    snprintf (library, sizeof (library), "%s/bad.so", dir);
    FILE *file = fopen (source, "w");
    ck_assert_ptr_nonnull (file);
    fputs ("#include \"fanfold/kernel.h\"\n"
           "static int s_run (const ff_task_t *t, ff_result_t *r) { (void) t; (void) r; return 0; }\n"
           "static const ff_kernel_t s_table [] = {\n"
           "    { FF_KERNEL_ABI, 0, \"check_plugged_first\", 0, s_run, 0 },\n"
           "    { FF_KERNEL_ABI + 7, 0, \"check_plugged_second\", 0, s_run, 0 } };\n"
           "const ff_kernel_t *ff_plugin_kernels (size_t *count)\n"
           "{ *count = 2; return s_table; }\n", file);
    ck_assert_int_eq (fclose (file), 0);
    snprintf (command, sizeof (command), "cc -shared -fPIC -Iinclude -o %s %s", library, source);
    ck_assert_msg (system (command) == 0, "cannot build the plugin: %s", command);
    char error [512] = "";
    ck_assert_int_eq (ff_kernels_load (library, error, sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "kernel 1 has ABI"));
    ck_assert_ptr_null (ff_kernels_find ("check_plugged_first"));
    ck_assert_ptr_null (ff_kernels_find ("check_plugged_second"));
    snprintf (command, sizeof (command), "rm -rf %s", dir);
    ck_assert_int_eq (system (command), 0);
}
END_TEST

START_TEST (test_kernels_load_names_a_missing_file)
{
    char error [512] = "";
    ck_assert_int_eq (ff_kernels_load ("/nonexistent/check-plugin.so", error,
                                       sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "/nonexistent/check-plugin.so"));
}
END_TEST

Suite *
kernels_suite (void)
{
    Suite *suite = suite_create ("kernels");

    TCase *tc = tcase_create ("builtins");
    tcase_set_timeout (tc, 10);
    tcase_add_test (tc, test_kernels_noop_echoes_the_payload);
    tcase_add_test (tc, test_kernels_run_clears_the_buffer_before_the_kernel_writes);
    tcase_add_test (tc, test_kernels_sleep_waits_at_least_ms_then_echoes);
    tcase_add_test (tc, test_kernels_sleep_lasts_its_ms_through_signals);
    tcase_add_test (tc, test_kernels_sleep_jitter_depends_on_the_seq_and_repeats_per_seq);
    tcase_add_test (tc, test_kernels_spin_burns_us_of_cpu_time_then_echoes);
    tcase_add_test (tc, test_kernels_find_returns_each_builtin_by_name);
    tcase_add_test (tc, test_kernels_split_cuts_a_comma_separated_list);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_set_timeout (tc, 10);
    tcase_add_test (tc, test_kernels_sleep_refuses_a_non_numeric_ms);
    tcase_add_test (tc, test_kernels_spin_refuses_a_non_numeric_us);
    tcase_add_test (tc, test_kernels_split_refuses_empty_names_and_too_many);
    tcase_add_test (tc, test_kernels_run_without_a_kernel_is_an_error_result);
    tcase_add_test (tc, test_kernels_find_returns_null_for_an_unknown_name);
    tcase_add_test (tc, test_kernels_validate_refuses_a_table_whose_second_kernel_has_another_abi);
    tcase_add_test (tc, test_kernels_validate_counts_known_and_repeated_names_once);
    tcase_add_test (tc, test_kernels_load_registers_nothing_when_a_later_kernel_has_a_bad_abi);
    tcase_add_test (tc, test_kernels_load_names_a_missing_file);
    suite_add_tcase (suite, tc);
    return suite;
}
