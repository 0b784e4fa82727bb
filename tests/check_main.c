/*  Unit test runner: adds every module's suite to one Check runner and
    exits non-zero when any test fails. */

#include <check.h>
#include <stdlib.h>

extern Suite *codec_suite (void);
extern Suite *reader_suite (void);
extern Suite *reorder_suite (void);
extern Suite *output_suite (void);
extern Suite *topology_suite (void);
extern Suite *kernels_suite (void);

int
main (void)
{
    SRunner *runner = srunner_create (codec_suite ());
    srunner_add_suite (runner, reader_suite ());
    srunner_add_suite (runner, reorder_suite ());
    srunner_add_suite (runner, output_suite ());
    srunner_add_suite (runner, topology_suite ());
    srunner_add_suite (runner, kernels_suite ());
    srunner_run_all (runner, CK_NORMAL);
    int failed = srunner_ntests_failed (runner);
    srunner_free (runner);
    return failed > 0? EXIT_FAILURE: EXIT_SUCCESS;
}
