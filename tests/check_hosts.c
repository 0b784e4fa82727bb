/*  Unit tests for the --hosts SPEC (GNU parallel's --sshlogin form) and
    the task-port range a tcp endpoint may name. */

#include <check.h>
#include <string.h>

#include "fanfold/launch/hosts.h"
#include "fanfold/runtime/limits.h"
#include "fanfold/runtime/net.h"

static char s_error [512];          /* error from the call under test */

START_TEST (test_hosts_parse_reads_counts_users_and_this_machine)
{
    ff_host_t hosts [8];
    int count = ff_hosts_parse ("2/h1, alice@h2 ,8/:,h3", hosts, 8, s_error, sizeof (s_error));
    ck_assert_int_eq (count, 4);
    ck_assert_str_eq (hosts [0].name, "h1");
    ck_assert_int_eq (hosts [0].workers, 2);
    ck_assert_int_eq (hosts [0].local, 0);
    ck_assert_str_eq (hosts [1].name, "alice@h2");
    ck_assert_int_eq (hosts [1].workers, 0);
    ck_assert_int_eq (hosts [2].local, 1);
    ck_assert_int_eq (hosts [2].workers, 8);
    ck_assert_str_eq (hosts [3].name, "h3");
}
END_TEST

START_TEST (test_hosts_parse_skips_empty_entries)
{
    ff_host_t hosts [4];
    ck_assert_int_eq (ff_hosts_parse (",h1,,", hosts, 4, s_error, sizeof (s_error)), 1);
    ck_assert_str_eq (hosts [0].name, "h1");
}
END_TEST

START_TEST (test_hosts_parse_refuses_a_bad_count_naming_the_entry)
{
    ff_host_t hosts [4];
    ck_assert_int_eq (ff_hosts_parse ("h1,0/h2", hosts, 4, s_error, sizeof (s_error)), -1);
    ck_assert_ptr_nonnull (strstr (s_error, "0/h2"));
    ck_assert_int_eq (ff_hosts_parse ("x/h2", hosts, 4, s_error, sizeof (s_error)), -1);
    ck_assert_int_eq (ff_hosts_parse ("99999/h2", hosts, 4, s_error, sizeof (s_error)), -1);
}
END_TEST

START_TEST (test_hosts_parse_refuses_what_a_shell_or_ssh_would_read_as_more)
{
    ff_host_t hosts [4];
    const char *bad [] = { "h1;reboot", "-oProxyCommand=x", "h 1", "h'1", "$(x)", "2/" };
    size_t index;
    for (index = 0; index < sizeof (bad) / sizeof (bad [0]); index++)
        ck_assert_msg (ff_hosts_parse (bad [index], hosts, 4, s_error, sizeof (s_error)) == -1,
                       "accepted %s", bad [index]);
}
END_TEST

START_TEST (test_hosts_parse_refuses_an_empty_spec_and_too_many_hosts)
{
    ff_host_t hosts [2];
    ck_assert_int_eq (ff_hosts_parse (" , ", hosts, 2, s_error, sizeof (s_error)), -1);
    ck_assert_int_eq (ff_hosts_parse ("a,b,c", hosts, 2, s_error, sizeof (s_error)), -1);
    ck_assert_ptr_nonnull (strstr (s_error, "more than 2"));
}
END_TEST

START_TEST (test_endpoint_check_takes_a_port_range_and_refuses_a_bad_one)
{
    ck_assert_int_eq (ff_net_check_endpoint ("tcp://*:*[54000-54999]", s_error, sizeof (s_error)), 0);
    ck_assert_int_eq (ff_net_check_endpoint ("tcp://*:*[54999-54000]", s_error, sizeof (s_error)), -1);
    ck_assert_int_eq (ff_net_check_endpoint ("tcp://*:*[1-70000]", s_error, sizeof (s_error)), -1);
    ck_assert_int_eq (ff_net_check_endpoint ("tcp://*:*[1-2]x", s_error, sizeof (s_error)), -1);
}
END_TEST

Suite *
hosts_suite (void)
{
    Suite *suite = suite_create ("hosts");
    TCase *tc = tcase_create ("spec");
    tcase_add_test (tc, test_hosts_parse_reads_counts_users_and_this_machine);
    tcase_add_test (tc, test_hosts_parse_skips_empty_entries);
    suite_add_tcase (suite, tc);
    tc = tcase_create ("limits");
    tcase_add_test (tc, test_hosts_parse_refuses_a_bad_count_naming_the_entry);
    tcase_add_test (tc, test_hosts_parse_refuses_what_a_shell_or_ssh_would_read_as_more);
    tcase_add_test (tc, test_hosts_parse_refuses_an_empty_spec_and_too_many_hosts);
    tcase_add_test (tc, test_endpoint_check_takes_a_port_range_and_refuses_a_bad_one);
    suite_add_tcase (suite, tc);
    return suite;
}
