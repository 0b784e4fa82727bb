/*  Tests of ff_stdfds_guard: closed standard fds come back on /dev/null.
    Each test closes some of the runner's own fds and puts them back. */

#include "fanfold/runtime/stdfds.h"

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

/* Runs ff_stdfds_guard with the fds of mask closed, checks that every
   standard fd is then open (a closed one on /dev/null) and that a new
   descriptor is not a standard one, and puts the runner's fds back before
   returning what it returned (or 100 + a failed check's number). No
   fork: a child under valgrind would report the runner's memory. */
static int
s_guard_with_closed (int mask)
{
    struct stat null_stat, fd_stat;
    int saved [3], fd, result;
    if (stat ("/dev/null", &null_stat))
        return 101;
    fflush (stdout);
    fflush (stderr);
    for (fd = 0; fd <= 2; fd++)
        saved [fd] = (mask & (1 << fd))? fcntl (fd, F_DUPFD_CLOEXEC, 10): -1;
    for (fd = 0; fd <= 2; fd++)
        if (mask & (1 << fd))
            close (fd);
    result = ff_stdfds_guard ();
    for (fd = 0; fd <= 2 && result < 100; fd++) {
        if (fcntl (fd, F_GETFD) == -1)
            result = 102;
        else
        if ((mask & (1 << fd))
        &&  (fstat (fd, &fd_stat) || fd_stat.st_rdev != null_stat.st_rdev))
            result = 103;
    }
    int extra = open ("/dev/null", O_RDONLY);
    if (extra <= 2 && result < 100)
        result = 104;
    if (extra >= 0)
        close (extra);
    for (fd = 0; fd <= 2; fd++)
        if (saved [fd] >= 0) {
            dup2 (saved [fd], fd);
            close (saved [fd]);
        }
    return result;
}

START_TEST (test_stdfds_guard_changes_nothing_when_all_are_open)
{
    ck_assert_int_eq (s_guard_with_closed (0), 0);
}
END_TEST

START_TEST (test_stdfds_guard_opens_dev_null_on_a_closed_stdin)
{
    ck_assert_int_eq (s_guard_with_closed (FF_STDFDS_IN), FF_STDFDS_IN);
}
END_TEST

START_TEST (test_stdfds_guard_opens_dev_null_on_closed_stdout_and_stderr)
{
    ck_assert_int_eq (s_guard_with_closed (FF_STDFDS_OUT | FF_STDFDS_ERR),
                      FF_STDFDS_OUT | FF_STDFDS_ERR);
}
END_TEST

START_TEST (test_stdfds_guard_opens_all_three_in_order)
{
    ck_assert_int_eq (s_guard_with_closed (FF_STDFDS_IN | FF_STDFDS_OUT | FF_STDFDS_ERR),
                      FF_STDFDS_IN | FF_STDFDS_OUT | FF_STDFDS_ERR);
}
END_TEST

Suite *
stdfds_suite (void)
{
    Suite *suite = suite_create ("stdfds");
    TCase *core = tcase_create ("core");
    tcase_add_test (core, test_stdfds_guard_changes_nothing_when_all_are_open);
    tcase_add_test (core, test_stdfds_guard_opens_dev_null_on_a_closed_stdin);
    tcase_add_test (core, test_stdfds_guard_opens_dev_null_on_closed_stdout_and_stderr);
    tcase_add_test (core, test_stdfds_guard_opens_all_three_in_order);
    suite_add_tcase (suite, core);
    return suite;
}
