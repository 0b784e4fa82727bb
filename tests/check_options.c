/*  Unit tests for the option table and its validator: each value type and
    its bounds, the rules between options (--block within --max-block), and
    the errors for an unknown option or a missing value. */

#include <check.h>
#include <stdarg.h>
#include <string.h>

#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/options.h"
#include "fanfold/launch/run_options.h"
#include "fanfold/runtime/limits.h"

#define S_MAX_ARGV 32

static char s_error [512];
static ff_options_t *s_options;

/* Parses the NULL-terminated words as command's arguments (argv [0] is
   added); the set stays in s_options until the next call. */
static ff_options_status_t
s_parse (ff_command_t command, ...)
{
    static char *argv [S_MAX_ARGV];
    va_list args;
    int argc = 0;
    ff_options_destroy (&s_options);
    s_options = ff_options_new (command);
    ck_assert_ptr_nonnull (s_options);
    argv [argc++] = "fanfold";
    va_start (args, command);
    while (argc < S_MAX_ARGV - 1 && (argv [argc] = va_arg (args, char *)))
        argc++;
    va_end (args);
    argv [argc] = NULL;
    s_error [0] = 0;
    return ff_options_parse (s_options, argc, argv, s_error, sizeof (s_error));
}

static void
s_teardown (void)
{
    ff_options_destroy (&s_options);
}

START_TEST (test_options_parse_a_size_with_its_suffix)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "--block", "4M", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_long (s_options, FF_OPT_BLOCK, 0), 4L << 20);
    ck_assert_str_eq (ff_options_text (s_options, FF_OPT_BLOCK, NULL), "4M");
}
END_TEST

START_TEST (test_options_refuse_a_size_that_is_not_a_size)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--chunk", "4X", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--chunk 4X: expected a size from 1 to 1024G, such as 4M");
}
END_TEST

START_TEST (test_options_refuse_a_size_of_0)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "--block", "0", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--block 0: expected a size from 1 to 1G, such as 4M");
}
END_TEST

START_TEST (test_options_refuse_a_block_past_the_largest_task_message)
{
    ck_assert_int_eq (s_parse (FF_CMD_VENTILATOR, "-t", "x.zpl", "--pipe", "--max-block", "2G", NULL),
                      FF_OPTIONS_ERROR);
    ck_assert_ptr_nonnull (strstr (s_error, "--max-block 2G: expected a size from 1 to 1G"));
}
END_TEST

START_TEST (test_options_take_a_count_at_both_bounds_and_refuse_one_past)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-w", "0", "a", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_long (s_options, FF_OPT_WORKERS, -1), 0);
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-w", "4096", "a", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_long (s_options, FF_OPT_WORKERS, -1), FF_MAX_WORKERS);
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-w", "4097", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--workers 4097: expected a count from 0 to 4096");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--retries", "0", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--retries 0: expected a count from 1 to 1000");
}
END_TEST

START_TEST (test_options_accept_a_timeout_of_0_and_a_fraction_in_every_command)
{
    ff_command_t commands [] = { FF_CMD_RUN, FF_CMD_VENTILATOR };
    size_t index;
    for (index = 0; index < 2; index++) {
        ck_assert_int_eq (s_parse (commands [index], "-t", "x.zpl", "--timeout", "0", NULL), FF_OPTIONS_OK);
        ck_assert (ff_options_seconds (s_options, FF_OPT_TIMEOUT, -1) == 0);
        ck_assert_int_eq (s_parse (commands [index], "-t", "x.zpl", "--timeout", "0.5", NULL), FF_OPTIONS_OK);
        ck_assert (ff_options_seconds (s_options, FF_OPT_TIMEOUT, -1) == 0.5);
        ck_assert_int_eq (s_parse (commands [index], "-t", "x.zpl", "--timeout", "-1", NULL),
                          FF_OPTIONS_ERROR);
        ck_assert_str_eq (s_error, "--timeout -1: expected seconds from 0 to 1e+06");
        ck_assert_int_eq (s_parse (commands [index], "-t", "x.zpl", "--timeout", "1s", NULL),
                          FF_OPTIONS_ERROR);
    }
}
END_TEST

START_TEST (test_options_take_an_enum_word_and_name_the_others)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--format", "jsonl", "a", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_long (s_options, FF_OPT_FORMAT, -1), 1);
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--mode", "fast", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--mode fast: expected auto, serial or parallel");
    ck_assert_int_eq (s_parse (FF_CMD_SINK, "-t", "x", "--format", "xml", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--format xml: expected raw or jsonl");
}
END_TEST

START_TEST (test_options_take_an_endpoint_and_refuse_a_bare_address)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--emit", "tcp://*:5560", "a", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--emit", "localhost:5560", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_ptr_nonnull (strstr (s_error, "--emit localhost:5560: expected an endpoint"));
}
END_TEST

START_TEST (test_options_keep_every_param_in_order_and_refuse_one_without_a_key)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-p", "ms=1", "-p", "jitter=1", "a", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_given (s_options, FF_OPT_PARAM), 2);
    ck_assert_str_eq (ff_options_nth (s_options, FF_OPT_PARAM, 0), "ms=1");
    ck_assert_str_eq (ff_options_nth (s_options, FF_OPT_PARAM, 1), "jitter=1");
    ck_assert_ptr_null (ff_options_nth (s_options, FF_OPT_PARAM, 2));
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-p", "=1", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "-p =1: expected KEY=VALUE");
}
END_TEST

START_TEST (test_options_refuse_a_word_with_a_blank)
{
    ck_assert_int_eq (s_parse (FF_CMD_SINK, "-t", "x", "--signature", "a b", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--signature must be one word under 80 bytes");
}
END_TEST

START_TEST (test_options_refuse_a_block_larger_than_the_max_block_in_every_command)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "--block", "1M", "--max-block", "512K", NULL),
                      FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--block 1M is larger than --max-block 512K");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--serial", "--pipe", "--block", "1M",
                               "--max-block", "512K", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--block 1M is larger than --max-block 512K");
    ck_assert_int_eq (s_parse (FF_CMD_VENTILATOR, "-t", "x", "--pipe", "--block", "1M",
                               "--max-block", "512K", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--block 1M is larger than --max-block 512K");
}
END_TEST

START_TEST (test_options_let_the_default_block_shrink_to_a_smaller_max_block)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "--max-block", "64K", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_long (s_options, FF_OPT_MAX_BLOCK, 0), 64L << 10);
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "--block", "512K", "--max-block", "512K", NULL),
                      FF_OPTIONS_OK);
}
END_TEST

START_TEST (test_options_apply_the_rules_between_options)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "--lines", "2", "--block", "1M", NULL),
                      FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--lines and --block cannot be combined");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--lines", "3", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--lines, --block and --input go with --pipe");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "wc", ":::", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_ptr_nonnull (strstr (s_error, "not INPUT arguments"));
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--serial", "--joblog", "j.tsv", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--joblog is an option of the parallel mode: not with --serial");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--mode", "serial", "-o", "x", "--resume", "a", NULL),
                      FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--resume is an option of the parallel mode: not with --serial");
    ck_assert_int_eq (s_parse (FF_CMD_SINK, "-t", "x", "--resume", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--resume needs -o FILE (the output to complete) or "
                      "--joblog FILE (the tasks done)");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-K", "exec", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "the exec kernel needs --exec CMD");
    ck_assert_int_eq (s_parse (FF_CMD_VENTILATOR, "-K", "noop", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "-t TOPOLOGY is required");
}
END_TEST

START_TEST (test_options_refuse_an_unknown_option_by_its_name)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--frobnicate", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "unknown option '--frobnicate'");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-z", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "unknown option '-z'");
}
END_TEST

START_TEST (test_options_refuse_an_option_of_another_command)
{
    ck_assert_int_eq (s_parse (FF_CMD_WORKER, "-t", "x", "--pipe", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "unknown option '--pipe'");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--fifo", "a", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "unknown option '--fifo'");
}
END_TEST

START_TEST (test_options_name_the_option_whose_value_is_missing)
{
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "--block", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--block: missing value (SIZE)");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-w", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--workers: missing value (N)");
}
END_TEST

START_TEST (test_options_say_help_and_stop_at_the_first_input)
{
    int count;
    ck_assert_int_eq (s_parse (FF_CMD_CLEAN, "--help", NULL), FF_OPTIONS_HELP);
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-K", "noop", "--", "-n", "b", NULL), FF_OPTIONS_OK);
    char **inputs = ff_options_inputs (s_options, &count);
    ck_assert_int_eq (count, 2);
    ck_assert_str_eq (inputs [0], "-n");
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "a", "-w", "2", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_given (s_options, FF_OPT_WORKERS), 0);
}
END_TEST

START_TEST (test_options_take_the_words_up_to_the_first_source_as_the_command)
{
    int words, inputs;
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-k", "-j", "2", "echo", "-k", "{}", ":::", "a",
                               ":::", "b", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_given (s_options, FF_OPT_KEEP_ORDER), 1);
    ck_assert_str_eq (ff_options_text (s_options, FF_OPT_JOBS, ""), "2");
    char **command = ff_options_command (s_options, &words);
    char **rest = ff_options_inputs (s_options, &inputs);
    ck_assert_int_eq (words, 3);
    ck_assert_str_eq (command [1], "-k");
    ck_assert_int_eq (inputs, 4);
    ck_assert_str_eq (rest [0], ":::");
    /* with --exec or a kernel named, the words are inputs */
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--exec", "echo", "a", "b", NULL), FF_OPTIONS_OK);
    ff_options_command (s_options, &words);
    ff_options_inputs (s_options, &inputs);
    ck_assert_int_eq (words, 0);
    ck_assert_int_eq (inputs, 2);
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--pipe", "wc", "-l", NULL), FF_OPTIONS_OK);
    ff_options_command (s_options, &words);
    ck_assert_int_eq (words, 2);
    ck_assert_int_eq (ff_options_is_marker ("::::+"), 1);
    ck_assert_int_eq (ff_options_is_marker ("::"), 0);
}
END_TEST

START_TEST (test_run_options_read_j_as_parallel_does)
{
    ck_assert_int_eq (ff_run_options_jobs ("3", 8, -1), 3);
    ck_assert_int_eq (ff_run_options_jobs ("50%", 8, -1), 4);
    ck_assert_int_eq (ff_run_options_jobs ("10%", 4, -1), 1);
    ck_assert_int_eq (ff_run_options_jobs ("+2", 8, -1), 10);
    ck_assert_int_eq (ff_run_options_jobs ("-1", 8, -1), 7);
    ck_assert_int_eq (ff_run_options_jobs ("-9", 8, -1), 1);
    ck_assert_int_eq (ff_run_options_jobs ("0", 8, 3), 3);
    ck_assert_int_eq (ff_run_options_jobs ("0", 8, 100000), FF_J0_MAX_WORKERS);
    ck_assert_int_eq (ff_run_options_jobs ("0", 8, -1), FF_J0_MAX_WORKERS);
    ck_assert_int_eq (ff_run_options_jobs ("0", 8, 0), 1);
    ck_assert_int_eq (ff_run_options_jobs ("x", 8, -1), -1);
    ck_assert_int_eq (ff_run_options_jobs ("2x", 8, -1), -1);
    ck_assert_int_eq (ff_run_options_jobs ("+5%", 8, -1), -1);
    ck_assert_int_eq (ff_run_options_jobs ("", 8, -1), -1);
    ck_assert_int_eq (ff_run_options_jobs ("99999", 8, -1), -1);
}
END_TEST

START_TEST (test_options_forward_to_a_stage_only_what_it_accepts)
{
    char *argv [32];
    char error [256];
    int argc = 0;
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "-w", "3", "--pipe", "--block", "64K", "-p", "a=1",
                               "--format", "jsonl", "--timeout", "2", NULL), FF_OPTIONS_OK);
    ck_assert_int_eq (ff_options_set (s_options, FF_OPT_FIFO, NULL, error, sizeof (error)), 0);
    ck_assert_int_eq (ff_options_forward (s_options, FF_CMD_VENTILATOR, argv, &argc, 32), 0);
    const char *want [] = { "--param", "a=1", "--pipe", "--block", "64K", "--timeout", "2", "--fifo" };
    ck_assert_int_eq (argc, 8);
    int index;
    for (index = 0; index < argc; index++)
        ck_assert_str_eq (argv [index], want [index]);
    ck_assert_ptr_null (argv [argc]);
    argc = 0;
    ck_assert_int_eq (ff_options_forward (s_options, FF_CMD_SINK, argv, &argc, 32), 0);
    ck_assert_int_eq (argc, 3);
    ck_assert_str_eq (argv [0], "--format");
    ck_assert_str_eq (argv [2], "--pipe");
    ck_assert_int_eq (ff_options_forward (s_options, FF_CMD_VENTILATOR, argv, &argc, 4), -1);
}
END_TEST

START_TEST (test_options_set_checks_the_value_and_clear_forgets_it)
{
    char error [256];
    ck_assert_int_eq (s_parse (FF_CMD_RUN, "--plugin", "a.so", "--plugin", "b.so", "x", NULL),
                      FF_OPTIONS_OK);
    ff_options_clear (s_options, FF_OPT_PLUGIN);
    ck_assert_int_eq (ff_options_given (s_options, FF_OPT_PLUGIN), 0);
    ck_assert_int_eq (ff_options_set (s_options, FF_OPT_PLUGIN, "/abs/a.so", error, sizeof (error)), 0);
    ck_assert_str_eq (ff_options_nth (s_options, FF_OPT_PLUGIN, 0), "/abs/a.so");
    ck_assert_int_eq (ff_options_set (s_options, FF_OPT_RETRIES, "0", error, sizeof (error)), -1);
    ck_assert_str_eq (error, "--retries 0: expected a count from 1 to 1000");
}
END_TEST

START_TEST (test_options_refuse_a_list_given_past_its_limit)
{
    ck_assert_int_eq (s_parse (FF_CMD_SINK, "-t", "x", "--plugin", "1", "--plugin", "2", "--plugin", "3",
                               "--plugin", "4", "--plugin", "5", "--plugin", "6", "--plugin", "7",
                               "--plugin", "8", "--plugin", "9", NULL), FF_OPTIONS_ERROR);
    ck_assert_str_eq (s_error, "--plugin: given more than 8 times");
}
END_TEST

START_TEST (test_options_describe_every_option_once_by_name)
{
    int id;
    for (id = 0; id < FF_OPT_COUNT; id++) {
        const ff_option_t *option = ff_option_describe ((ff_opt_t) id);
        ck_assert_int_eq (ff_option_find (option->name), id);
        ck_assert_ptr_nonnull (option->help);
        ck_assert_uint_ne (option->commands, 0);
    }
    ck_assert_int_eq (ff_option_find ("nope"), FF_OPT_COUNT);
}
END_TEST

Suite *
options_suite (void)
{
    Suite *suite = suite_create ("options");
    TCase *tc = tcase_create ("types");
    tcase_add_checked_fixture (tc, NULL, s_teardown);
    tcase_add_test (tc, test_options_parse_a_size_with_its_suffix);
    tcase_add_test (tc, test_options_take_a_count_at_both_bounds_and_refuse_one_past);
    tcase_add_test (tc, test_options_accept_a_timeout_of_0_and_a_fraction_in_every_command);
    tcase_add_test (tc, test_options_take_an_enum_word_and_name_the_others);
    tcase_add_test (tc, test_options_take_an_endpoint_and_refuse_a_bare_address);
    tcase_add_test (tc, test_options_keep_every_param_in_order_and_refuse_one_without_a_key);
    tcase_add_test (tc, test_options_say_help_and_stop_at_the_first_input);
    tcase_add_test (tc, test_options_forward_to_a_stage_only_what_it_accepts);
    tcase_add_test (tc, test_options_take_the_words_up_to_the_first_source_as_the_command);
    tcase_add_test (tc, test_run_options_read_j_as_parallel_does);
    tcase_add_test (tc, test_options_set_checks_the_value_and_clear_forgets_it);
    tcase_add_test (tc, test_options_describe_every_option_once_by_name);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("rules");
    tcase_add_checked_fixture (tc, NULL, s_teardown);
    tcase_add_test (tc, test_options_refuse_a_block_larger_than_the_max_block_in_every_command);
    tcase_add_test (tc, test_options_let_the_default_block_shrink_to_a_smaller_max_block);
    tcase_add_test (tc, test_options_apply_the_rules_between_options);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_add_checked_fixture (tc, NULL, s_teardown);
    tcase_add_test (tc, test_options_refuse_a_size_that_is_not_a_size);
    tcase_add_test (tc, test_options_refuse_a_size_of_0);
    tcase_add_test (tc, test_options_refuse_a_block_past_the_largest_task_message);
    tcase_add_test (tc, test_options_refuse_a_word_with_a_blank);
    tcase_add_test (tc, test_options_refuse_an_unknown_option_by_its_name);
    tcase_add_test (tc, test_options_refuse_an_option_of_another_command);
    tcase_add_test (tc, test_options_name_the_option_whose_value_is_missing);
    tcase_add_test (tc, test_options_refuse_a_list_given_past_its_limit);
    suite_add_tcase (suite, tc);
    return suite;
}
