/*  Tests of ff_stdfds_guard: closed standard fds come back on /dev/null.
    Each test runs in a child process (it closes the runner's own fds). */

#include "fanfold/runtime/stdfds.h"

#include <check.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Runs ff_stdfds_guard in a child with the fds of mask closed, and
   returns what it returned (or 100 + a failed check's number). */
static int
s_guard_in_child (int mask)
{
    pid_t pid = fork ();
    ck_assert_int_ge (pid, 0);
    if (pid == 0) {
        struct stat null_stat, fd_stat;
        int fd;
        if (stat ("/dev/null", &null_stat))
            _exit (101);
        for (fd = 0; fd <= 2; fd++)
            if (mask & (1 << fd))
                close (fd);
        int found = ff_stdfds_guard ();
        for (fd = 0; fd <= 2; fd++) {
            if (fcntl (fd, F_GETFD) == -1)
                _exit (102);
            if ((mask & (1 << fd))
            &&  (fstat (fd, &fd_stat) || fd_stat.st_rdev != null_stat.st_rdev))
                _exit (103);
        }
        /* a new descriptor is not a standard one */
        fd = open ("/dev/null", O_RDONLY);
        _exit (fd > 2? found: 104);
    }
    int status = 0;
    ck_assert_int_eq (waitpid (pid, &status, 0), pid);
    ck_assert (WIFEXITED (status));
    return WEXITSTATUS (status);
}

START_TEST (test_stdfds_guard_changes_nothing_when_all_are_open)
{
    ck_assert_int_eq (s_guard_in_child (0), 0);
}
END_TEST

START_TEST (test_stdfds_guard_opens_dev_null_on_a_closed_stdin)
{
    ck_assert_int_eq (s_guard_in_child (FF_STDFDS_IN), FF_STDFDS_IN);
}
END_TEST

START_TEST (test_stdfds_guard_opens_dev_null_on_closed_stdout_and_stderr)
{
    ck_assert_int_eq (s_guard_in_child (FF_STDFDS_OUT | FF_STDFDS_ERR),
                      FF_STDFDS_OUT | FF_STDFDS_ERR);
}
END_TEST

START_TEST (test_stdfds_guard_opens_all_three_in_order)
{
    ck_assert_int_eq (s_guard_in_child (FF_STDFDS_IN | FF_STDFDS_OUT | FF_STDFDS_ERR),
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
