/*  Unit test runner: adds every module's suite to one Check runner and
    exits non-zero when any test fails. The Makefile generates suites.inc
    from the `Suite *<mod>_suite (void)` definitions in tests/check_*.c. */

#include <check.h>
#include <stdlib.h>

#define FF_SUITE(name) extern Suite *name (void);
#include "suites.inc"
#undef FF_SUITE

int
main (void)
{
    SRunner *runner = srunner_create (NULL);
#define FF_SUITE(name) srunner_add_suite (runner, name ());
#include "suites.inc"
#undef FF_SUITE
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed > 0? EXIT_FAILURE: EXIT_SUCCESS;
}
