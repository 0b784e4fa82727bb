/*  Unit tests for topology files: loading ZPL with defaults and endpoint
    expansion, saving and reloading, validation errors, sizes and ipc dirs. */

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanfold/runtime/net.h"
#include "fanfold/runtime/topology.h"

#define S_ENDPOINTS_ZPL \
    "ventilator\n" \
    "    host = \"vent.example\"\n" \
    "    control = \"tcp://*:5555\"\n" \
    "    tasks = \"tcp://0.0.0.0:5556\"\n" \
    "sink\n" \
    "    host = \"sink.example\"\n" \
    "    results = \"tcp://*:5557\"\n"

static char s_dir [64];             /* per-test temp directory */
static char s_path [128];           /* topology file inside it */
static char s_error [512];          /* error message from load */

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/check_topology_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    snprintf (s_path, sizeof (s_path), "%s/topology.zpl", s_dir);
    s_error [0] = 0;
}

static int
s_remove (const char *path, const struct stat *info, int flag, struct FTW *ftw)
{
    (void) info;
    (void) flag;
    (void) ftw;
    return remove (path);
}

static void
s_teardown (void)
{
    nftw (s_dir, s_remove, 8, FTW_DEPTH | FTW_PHYS);
}

/* Writes text to the topology file. */
static void
s_write_topology (const char *text)
{
    FILE *file = fopen (s_path, "w");
    ck_assert_ptr_nonnull (file);
    ck_assert_int_eq (fputs (text, file) >= 0, 1);
    ck_assert_int_eq (fclose (file), 0);
}

/* Loads text as a topology that must be refused, and checks that the
   message names the file and contains what. */
static void
s_expect_refused (const char *text, const char *what)
{
    s_write_topology (text);
    ff_topology_t *topology = ff_topology_load (s_path, s_error, sizeof (s_error));
    ck_assert_ptr_null (topology);
    ck_assert_ptr_nonnull (strstr (s_error, s_path));
    ck_assert_msg (strstr (s_error, what) != NULL,
                   "error \"%s\" does not mention \"%s\"", s_error, what);
}

START_TEST (test_topology_loads_settings_and_endpoints_from_zpl)
{
    s_write_topology (
        "#   a test topology\n"
        "fanfold\n"
        "    window = \"64\"\n"
        "    window_bytes = \"1M\"\n"
        "    prefetch = \"2\"\n"
        "    batch = \"16\"\n"
        "    heartbeat_ms = \"100\"\n"
        "    worker_timeout_ms = \"1000\"\n"
        "    hwm = \"500\"\n"
        "    linger_ms = \"0\"\n"
        S_ENDPOINTS_ZPL);
    ff_topology_t *topology = ff_topology_load (s_path, s_error, sizeof (s_error));
    ck_assert_msg (topology != NULL, "load failed: %s", s_error);
    const ff_settings_t *settings = ff_topology_settings (topology);
    ck_assert_int_eq (settings->window, 64);
    ck_assert_int_eq (settings->window_bytes, 1048576);
    ck_assert_int_eq (settings->prefetch, 2);
    ck_assert_int_eq (settings->batch, 16);
    ck_assert_int_eq (settings->heartbeat_ms, 100);
    ck_assert_int_eq (settings->worker_timeout_ms, 1000);
    ck_assert_int_eq (settings->hwm, 500);
    ck_assert_int_eq (settings->linger_ms, 0);
    ck_assert_str_eq (ff_topology_bind (topology, FF_EP_CONTROL), "tcp://*:5555");
    ck_assert_str_eq (ff_topology_bind (topology, FF_EP_TASKS), "tcp://0.0.0.0:5556");
    ck_assert_str_eq (ff_topology_bind (topology, FF_EP_RESULTS), "tcp://*:5557");
    ck_assert_str_eq (ff_topology_ventilator_host (topology), "vent.example");
    ff_topology_destroy (&topology);
    ck_assert_ptr_null (topology);
}
END_TEST

START_TEST (test_topology_connects_to_the_stage_host_where_tcp_binds_on_any)
{
    s_write_topology (S_ENDPOINTS_ZPL);
    ff_topology_t *topology = ff_topology_load (s_path, s_error, sizeof (s_error));
    ck_assert_msg (topology != NULL, "load failed: %s", s_error);
    ck_assert_str_eq (ff_topology_connect (topology, FF_EP_CONTROL),
                      "tcp://vent.example:5555");
    ck_assert_str_eq (ff_topology_connect (topology, FF_EP_TASKS),
                      "tcp://vent.example:5556");
    ck_assert_str_eq (ff_topology_connect (topology, FF_EP_RESULTS),
                      "tcp://sink.example:5557");
    ff_topology_destroy (&topology);
}
END_TEST

START_TEST (test_topology_expands_percent_u_to_the_user_id)
{
    char expected [128];
    s_write_topology (
        "ventilator\n"
        "    control = \"ipc:///tmp/ff-%u/control\"\n"
        "    tasks = \"ipc:///tmp/ff-%u/task-%u\"\n"
        "sink\n"
        "    results = \"tcp://*:7000\"\n");
    ff_topology_t *topology = ff_topology_load (s_path, s_error, sizeof (s_error));
    ck_assert_msg (topology != NULL, "load failed: %s", s_error);
    snprintf (expected, sizeof (expected), "ipc:///tmp/ff-%u/control",
              (unsigned) getuid ());
    ck_assert_str_eq (ff_topology_bind (topology, FF_EP_CONTROL), expected);
    ck_assert_str_eq (ff_topology_connect (topology, FF_EP_CONTROL), expected);
    snprintf (expected, sizeof (expected), "ipc:///tmp/ff-%u/task-%u",
              (unsigned) getuid (), (unsigned) getuid ());
    ck_assert_str_eq (ff_topology_bind (topology, FF_EP_TASKS), expected);
    /* without a host key, peers connect to localhost */
    ck_assert_str_eq (ff_topology_connect (topology, FF_EP_RESULTS),
                      "tcp://localhost:7000");
    ck_assert_str_eq (ff_topology_ventilator_host (topology), "localhost");
    ff_topology_destroy (&topology);
}
END_TEST

START_TEST (test_topology_applies_defaults_for_missing_settings)
{
    s_write_topology ("fanfold\n    window = \"32\"\n" S_ENDPOINTS_ZPL);
    ff_topology_t *topology = ff_topology_load (s_path, s_error, sizeof (s_error));
    ck_assert_msg (topology != NULL, "load failed: %s", s_error);
    const ff_settings_t *settings = ff_topology_settings (topology);
    ck_assert_int_eq (settings->window, 32);
    ck_assert_int_eq (settings->window_bytes, 64L << 20);
    ck_assert_int_eq (settings->prefetch, 1);
    ck_assert_int_eq (settings->batch, 1024);
    ck_assert_int_eq (settings->heartbeat_ms, 250);
    ck_assert_int_eq (settings->worker_timeout_ms, 3000);
    ck_assert_int_eq (settings->hwm, 1000);
    ck_assert_int_eq (settings->linger_ms, 2000);
    ff_topology_destroy (&topology);
}
END_TEST

START_TEST (test_topology_local_saves_and_loads_back_the_same_topology)
{
    char run [128];
    snprintf (run, sizeof (run), "%s/run", s_dir);
    ff_topology_t *local = ff_topology_local (run);
    ck_assert_ptr_nonnull (local);
    ck_assert_int_eq (ff_topology_save (local, s_path), 0);
    ff_topology_t *loaded = ff_topology_load (s_path, s_error, sizeof (s_error));
    ck_assert_msg (loaded != NULL, "load failed: %s", s_error);
    ff_endpoint_t which;
    for (which = FF_EP_CONTROL; which <= FF_EP_RESULTS; which++) {
        ck_assert_str_eq (ff_topology_bind (loaded, which),
                          ff_topology_bind (local, which));
        ck_assert_str_eq (ff_topology_connect (loaded, which),
                          ff_topology_connect (local, which));
        ck_assert_ptr_nonnull (strstr (ff_topology_bind (loaded, which), run));
    }
    ck_assert_str_eq (ff_topology_ventilator_host (loaded),
                      ff_topology_ventilator_host (local));
    ck_assert_mem_eq (ff_topology_settings (loaded), ff_topology_settings (local),
                      sizeof (ff_settings_t));
    ff_topology_destroy (&loaded);
    ff_topology_destroy (&local);
}
END_TEST

START_TEST (test_topology_prepare_dirs_creates_a_private_directory)
{
    char run [128];
    struct stat info;
    snprintf (run, sizeof (run), "%s/run", s_dir);
    ff_topology_t *topology = ff_topology_local (run);
    ck_assert_int_eq (ff_topology_prepare_dirs (topology, s_error, sizeof (s_error)), 0);
    ck_assert_int_eq (stat (run, &info), 0);
    ck_assert (S_ISDIR (info.st_mode));
    ck_assert_uint_eq (info.st_mode & 0777, 0700);
    ck_assert_uint_eq (info.st_uid, getuid ());
    /* a second call accepts the directory it made */
    ck_assert_int_eq (ff_topology_prepare_dirs (topology, s_error, sizeof (s_error)), 0);
    ff_topology_destroy (&topology);
}
END_TEST

START_TEST (test_parse_size_reads_plain_numbers_and_upper_case_binary_units)
{
    long value = 0;
    ck_assert_int_eq (ff_parse_size ("10", &value), 0);
    ck_assert_int_eq (value, 10);
    ck_assert_int_eq (ff_parse_size ("0", &value), 0);
    ck_assert_int_eq (value, 0);
    ck_assert_int_eq (ff_parse_size ("4K", &value), 0);
    ck_assert_int_eq (value, 4096);
    ck_assert_int_eq (ff_parse_size ("1M", &value), 0);
    ck_assert_int_eq (value, 1048576);
    ck_assert_int_eq (ff_parse_size ("2G", &value), 0);
    ck_assert_int_eq (value, 2147483648L);
    ck_assert_int_eq (ff_parse_size ("3MB", &value), 0);
    ck_assert_int_eq (value, 3L << 20);
}
END_TEST

START_TEST (test_parse_size_reads_lower_case_units_as_powers_of_1000_and_fractions)
{
    long value = 0;
    ck_assert_int_eq (ff_parse_size ("2k", &value), 0);
    ck_assert_int_eq (value, 2000);
    ck_assert_int_eq (ff_parse_size ("3m", &value), 0);
    ck_assert_int_eq (value, 3000000);
    ck_assert_int_eq (ff_parse_size ("1g", &value), 0);
    ck_assert_int_eq (value, 1000000000L);
    ck_assert_int_eq (ff_parse_size ("1.5M", &value), 0);
    ck_assert_int_eq (value, 1572864);
    ck_assert_int_eq (ff_parse_size ("1T", &value), 0);
    ck_assert_int_eq (value, 1L << 40);
    ck_assert_int_eq (ff_parse_size ("-1", &value), -1);
    ck_assert_int_eq (ff_parse_size ("1x", &value), -1);
    ck_assert_int_eq (ff_parse_size ("1kk", &value), -1);
    ck_assert_int_eq (ff_parse_size ("", &value), -1);
    ck_assert_int_eq (ff_parse_size ("1E", &value), -1);
    ck_assert_int_eq (ff_parse_size ("99999P", &value), -1);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_topology_load_names_a_missing_file)
{
    snprintf (s_path, sizeof (s_path), "%s/absent.zpl", s_dir);
    ck_assert_ptr_null (ff_topology_load (s_path, s_error, sizeof (s_error)));
    ck_assert_ptr_nonnull (strstr (s_error, s_path));
}
END_TEST

START_TEST (test_topology_load_refuses_a_missing_endpoint)
{
    s_expect_refused (
        "ventilator\n"
        "    control = \"tcp://*:5555\"\n"
        "    tasks = \"tcp://*:5556\"\n",
        "sink/results");
}
END_TEST

START_TEST (test_topology_load_refuses_an_endpoint_with_a_bad_scheme)
{
    s_expect_refused (
        "ventilator\n"
        "    control = \"udp://x\"\n"
        "    tasks = \"tcp://*:5556\"\n"
        "sink\n"
        "    results = \"tcp://*:5557\"\n",
        "ventilator/control");
}
END_TEST

START_TEST (test_topology_load_refuses_a_window_of_0)
{
    s_expect_refused ("fanfold\n    window = \"0\"\n" S_ENDPOINTS_ZPL,
                      "fanfold/window");
}
END_TEST

START_TEST (test_topology_load_refuses_a_window_that_is_not_a_number)
{
    s_expect_refused ("fanfold\n    window = \"abc\"\n" S_ENDPOINTS_ZPL,
                      "fanfold/window");
}
END_TEST

START_TEST (test_topology_load_refuses_a_timeout_below_twice_the_heartbeat)
{
    s_expect_refused (
        "fanfold\n"
        "    heartbeat_ms = \"100\"\n"
        "    worker_timeout_ms = \"199\"\n"
        S_ENDPOINTS_ZPL,
        "worker_timeout_ms");
}
END_TEST

START_TEST (test_topology_load_names_the_line_of_a_syntax_error_and_keeps_stdout_clean)
{
    s_write_topology ("fanfold\n  window = 10\n" S_ENDPOINTS_ZPL);
    fflush (stdout);
    char capture [] = "/tmp/check_topology_stdout_XXXXXX";
    int fd = mkstemp (capture), saved = dup (STDOUT_FILENO);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_ge (dup2 (fd, STDOUT_FILENO), 0);
    ff_topology_t *topology = ff_topology_load (s_path, s_error, sizeof (s_error));
    fflush (stdout);
    dup2 (saved, STDOUT_FILENO);
    close (saved);
    struct stat info;
    ck_assert_int_eq (fstat (fd, &info), 0);
    close (fd);
    unlink (capture);
    ck_assert_ptr_null (topology);
    ck_assert_int_eq (info.st_size, 0);
    ck_assert_msg (strstr (s_error, "not a valid ZPL topology file: line 2:") != NULL,
                   "error \"%s\" does not name line 2", s_error);
}
END_TEST

START_TEST (test_topology_load_counts_unknown_keys_and_keeps_the_known_ones)
{
    s_write_topology ("fanfold\n    windw = 10\n    window = 20\n" S_ENDPOINTS_ZPL
                      "extra\n    x = 1\n");
    ff_topology_t *topology = ff_topology_load (s_path, s_error, sizeof (s_error));
    ck_assert_ptr_nonnull (topology);
    ck_assert_uint_eq (ff_topology_unknown_keys (topology), 2);
    ck_assert_int_eq (ff_topology_settings (topology)->window, 20);
    ff_topology_destroy (&topology);
    s_write_topology ("fanfold\n    window = 20\n" S_ENDPOINTS_ZPL);
    topology = ff_topology_load (s_path, s_error, sizeof (s_error));
    ck_assert_ptr_nonnull (topology);
    ck_assert_uint_eq (ff_topology_unknown_keys (topology), 0);
    ff_topology_destroy (&topology);
}
END_TEST

START_TEST (test_topology_load_refuses_a_tcp_port_out_of_range)
{
    s_expect_refused ("ventilator\n    control = \"tcp://*:5555\"\n    tasks = \"tcp://*:*\"\n"
                      "sink\n    results = \"tcp://*:99999\"\n",
                      "port \"99999\" is not a number from 1 to 65535");
    s_expect_refused ("ventilator\n    control = \"tcp://*:0\"\n    tasks = \"tcp://*:*\"\n"
                      "sink\n    results = \"tcp://*:5557\"\n", "port \"0\"");
    s_expect_refused ("ventilator\n    control = \"tcp://*:55x\"\n    tasks = \"tcp://*:*\"\n"
                      "sink\n    results = \"tcp://*:5557\"\n", "port \"55x\"");
}
END_TEST

START_TEST (test_topology_load_refuses_an_ipc_path_over_the_socket_address_limit_saying_it)
{
    char text [1024], long_dir [128];
    memset (long_dir, 'd', 101);     /* /tmp/ + 101 + /c: 108 characters */
    long_dir [101] = 0;
    snprintf (text, sizeof (text),
              "ventilator\n    control = \"ipc:///tmp/%s/c\"\n    tasks = \"ipc:///tmp/t\"\n"
              "sink\n    results = \"ipc:///tmp/r\"\n", long_dir);
    s_expect_refused (text, "more than the 107 a Unix socket address holds");
    /* the task pipes add -N: a tasks path that fits alone may not */
    long_dir [90] = 0;
    snprintf (text, sizeof (text),
              "ventilator\n    control = \"ipc:///tmp/c\"\n    tasks = \"ipc:///tmp/%s/t\"\n"
              "sink\n    results = \"ipc:///tmp/r\"\n", long_dir);
    s_expect_refused (text, "task pipe");
}
END_TEST

START_TEST (test_net_check_endpoint_accepts_the_shipped_forms)
{
    char error [256];
    ck_assert_int_eq (ff_net_check_endpoint ("ipc:///tmp/fanfold-1000/local/control",
                                             error, sizeof (error)), 0);
    ck_assert_int_eq (ff_net_check_endpoint ("tcp://*:5570", error, sizeof (error)), 0);
    ck_assert_int_eq (ff_net_check_endpoint ("tcp://*:*", error, sizeof (error)), 0);
    ck_assert_int_eq (ff_net_check_endpoint ("tcp://[::1]:65535", error, sizeof (error)), 0);
    ck_assert_int_eq (ff_net_check_endpoint ("tcp://host:65536", error, sizeof (error)), -1);
    ck_assert_int_eq (ff_net_check_endpoint ("ipc://relative", error, sizeof (error)), -1);
    ck_assert_int_eq (ff_net_check_endpoint ("udp://x:1", error, sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "udp://x:1: expected"));
}
END_TEST

START_TEST (test_topology_runtime_base_falls_back_to_tmp_when_xdg_is_too_long)
{
    char *saved = getenv ("XDG_RUNTIME_DIR")? strdup (getenv ("XDG_RUNTIME_DIR")): NULL;
    char long_dir [160] = "/tmp/";
    memset (long_dir + 5, 'x', 100);
    long_dir [105] = 0;
    setenv ("XDG_RUNTIME_DIR", long_dir, 1);
    ck_assert_str_eq (ff_topology_runtime_base (), "/tmp");
    setenv ("XDG_RUNTIME_DIR", s_dir, 1);
    ck_assert_str_eq (ff_topology_runtime_base (), s_dir);
    setenv ("XDG_RUNTIME_DIR", "relative", 1);
    ck_assert_str_eq (ff_topology_runtime_base (), "/tmp");
    if (saved)
        setenv ("XDG_RUNTIME_DIR", saved, 1);
    else
        unsetenv ("XDG_RUNTIME_DIR");
    free (saved);
}
END_TEST

START_TEST (test_topology_prepare_dirs_refuses_a_directory_open_to_others)
{
    char run [128];
    snprintf (run, sizeof (run), "%s/run", s_dir);
    ff_topology_t *topology = ff_topology_local (run);
    ck_assert_int_eq (ff_topology_prepare_dirs (topology, s_error, sizeof (s_error)), 0);
    ck_assert_int_eq (chmod (run, 0755), 0);
    ck_assert_int_eq (ff_topology_prepare_dirs (topology, s_error, sizeof (s_error)), -1);
    ck_assert_ptr_nonnull (strstr (s_error, run));
    ff_topology_destroy (&topology);
}
END_TEST

START_TEST (test_parse_size_refuses_empty_negative_and_unknown_suffixes)
{
    long value = 77;
    ck_assert_int_eq (ff_parse_size ("", &value), -1);
    ck_assert_int_eq (ff_parse_size (NULL, &value), -1);
    ck_assert_int_eq (ff_parse_size ("-1", &value), -1);
    ck_assert_int_eq (ff_parse_size ("1X", &value), -1);
    ck_assert_int_eq (ff_parse_size ("1MBB", &value), -1);
    ck_assert_int_eq (ff_parse_size ("k", &value), -1);
    ck_assert_int_eq (ff_parse_size ("99999999999999999999", &value), -1);
    ck_assert_int_eq (value, 77);
}
END_TEST

Suite *
topology_suite (void)
{
    Suite *suite = suite_create ("topology");

    TCase *tc = tcase_create ("load");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_topology_loads_settings_and_endpoints_from_zpl);
    tcase_add_test (tc, test_topology_connects_to_the_stage_host_where_tcp_binds_on_any);
    tcase_add_test (tc, test_topology_expands_percent_u_to_the_user_id);
    tcase_add_test (tc, test_topology_applies_defaults_for_missing_settings);
    tcase_add_test (tc, test_topology_local_saves_and_loads_back_the_same_topology);
    tcase_add_test (tc, test_topology_prepare_dirs_creates_a_private_directory);
    tcase_add_test (tc, test_parse_size_reads_plain_numbers_and_upper_case_binary_units);
    tcase_add_test (tc, test_parse_size_reads_lower_case_units_as_powers_of_1000_and_fractions);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_add_test (tc, test_topology_load_names_a_missing_file);
    tcase_add_test (tc, test_topology_load_refuses_a_missing_endpoint);
    tcase_add_test (tc, test_topology_load_refuses_an_endpoint_with_a_bad_scheme);
    tcase_add_test (tc, test_topology_load_refuses_a_window_of_0);
    tcase_add_test (tc, test_topology_load_refuses_a_window_that_is_not_a_number);
    tcase_add_test (tc, test_topology_load_refuses_a_timeout_below_twice_the_heartbeat);
    tcase_add_test (tc, test_topology_prepare_dirs_refuses_a_directory_open_to_others);
    tcase_add_test (tc, test_topology_load_names_the_line_of_a_syntax_error_and_keeps_stdout_clean);
    tcase_add_test (tc, test_topology_load_counts_unknown_keys_and_keeps_the_known_ones);
    tcase_add_test (tc, test_topology_load_refuses_a_tcp_port_out_of_range);
    tcase_add_test (tc, test_topology_load_refuses_an_ipc_path_over_the_socket_address_limit_saying_it);
    tcase_add_test (tc, test_net_check_endpoint_accepts_the_shipped_forms);
    tcase_add_test (tc, test_topology_runtime_base_falls_back_to_tmp_when_xdg_is_too_long);
    tcase_add_test (tc, test_parse_size_refuses_empty_negative_and_unknown_suffixes);
    suite_add_tcase (suite, tc);
    return suite;
}
