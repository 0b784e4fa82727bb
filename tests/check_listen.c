/*  Tests of the listening sockets a launcher makes for its stages
    (ff_net_ipc_listen) and of ff_net_bind, which binds a stage's socket
    on the one handed down, or on its own. Each test works in a private
    temporary directory. */

#include "fanfold/runtime/net.h"

#include <check.h>
#include <czmq.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static char s_dir [64];
static char s_endpoint [128];

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/fanfold-listen.XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    snprintf (s_endpoint, sizeof (s_endpoint), "ipc://%s/control", s_dir);
    unsetenv (FF_NET_LISTEN_FD_ENV);
}

static void
s_teardown (void)
{
    char path [128];
    snprintf (path, sizeof (path), "%s/control", s_dir);
    unlink (path);
    rmdir (s_dir);
    unsetenv (FF_NET_LISTEN_FD_ENV);
}

/* Connects a plain Unix socket to s_endpoint's path: 0 when it connects. */
static int
s_connect_plain (void)
{
    struct sockaddr_un address;
    memset (&address, 0, sizeof (address));
    address.sun_family = AF_UNIX;
    ck_assert_uint_lt (strlen (s_endpoint + 6), sizeof (address.sun_path));
    memcpy (address.sun_path, s_endpoint + 6, strlen (s_endpoint + 6) + 1);
    int fd = socket (AF_UNIX, SOCK_STREAM, 0);
    int rc = connect (fd, (struct sockaddr *) &address, sizeof (address));
    close (fd);
    return rc;
}

/* Binds a PULL on s_endpoint with ff_net_bind, connects a PUSH that
   sends "hello", and returns 1 when the PULL receives it (in 2 s). */
static int
s_bind_and_carry (char *error, size_t error_size)
{
    zsock_t *pull = zsock_new (ZMQ_PULL), *push = zsock_new (ZMQ_PUSH);
    int carried = 0;
    if (pull && push && ff_net_bind (pull, s_endpoint, error, error_size) == 0
    &&  zsock_connect (push, "%s", s_endpoint) == 0 && zstr_send (push, "hello") == 0) {
        zsock_set_rcvtimeo (pull, 2000);
        char *got = zstr_recv (pull);
        carried = got && strcmp (got, "hello") == 0;
        zstr_free (&got);
    }
    zsock_destroy (&push);
    zsock_destroy (&pull);
    return carried;
}

START_TEST (test_listen_accepts_connections_before_any_stage_binds)
{
    int fd = ff_net_ipc_listen (s_endpoint, 16);
    ck_assert_int_ge (fd, 0);
    ck_assert_int_eq (s_connect_plain (), 0);
    ck_assert (ff_net_ipc_busy (s_endpoint));
    close (fd);
}
END_TEST

START_TEST (test_listen_refuses_an_endpoint_that_is_not_ipc)
{
    ck_assert_int_eq (ff_net_ipc_listen ("tcp://127.0.0.1:5555", 16), -1);
    ck_assert_int_eq (errno, EINVAL);
}
END_TEST

START_TEST (test_bind_takes_the_socket_handed_down_and_forgets_the_variable)
{
    char error [256] = "", number [16];
    int fd = ff_net_ipc_listen (s_endpoint, 16);
    ck_assert_int_ge (fd, 0);
    snprintf (number, sizeof (number), "%d", fd);
    setenv (FF_NET_LISTEN_FD_ENV, number, 1);
    /* the launcher's socket is live, yet it is the stage's: no refusal */
    ck_assert_msg (s_bind_and_carry (error, sizeof (error)), "%s", error);
    ck_assert_ptr_null (getenv (FF_NET_LISTEN_FD_ENV));
}
END_TEST

START_TEST (test_bind_ignores_a_socket_that_listens_elsewhere)
{
    char error [256] = "", number [16], other [160];
    snprintf (other, sizeof (other), "ipc://%s/other", s_dir);
    int fd = ff_net_ipc_listen (other, 16);
    ck_assert_int_ge (fd, 0);
    snprintf (number, sizeof (number), "%d", fd);
    setenv (FF_NET_LISTEN_FD_ENV, number, 1);
    /* binds on its own */
    ck_assert_msg (s_bind_and_carry (error, sizeof (error)), "%s", error);
    close (fd);
    unlink (other + 6);
}
END_TEST

START_TEST (test_bind_without_a_socket_refuses_a_live_endpoint)
{
    char error [256] = "";
    int fd = ff_net_ipc_listen (s_endpoint, 16);
    ck_assert_int_ge (fd, 0);
    zsock_t *pull = zsock_new (ZMQ_PULL);
    ck_assert_int_eq (ff_net_bind (pull, s_endpoint, error, sizeof (error)), -1);
    ck_assert_ptr_nonnull (strstr (error, "another job is running"));
    zsock_destroy (&pull);
    close (fd);
}
END_TEST

Suite *
listen_suite (void)
{
    Suite *suite = suite_create ("listen");
    TCase *core = tcase_create ("core");
    tcase_add_checked_fixture (core, s_setup, s_teardown);
    tcase_add_test (core, test_listen_accepts_connections_before_any_stage_binds);
    tcase_add_test (core, test_listen_refuses_an_endpoint_that_is_not_ipc);
    tcase_add_test (core, test_bind_takes_the_socket_handed_down_and_forgets_the_variable);
    tcase_add_test (core, test_bind_ignores_a_socket_that_listens_elsewhere);
    tcase_add_test (core, test_bind_without_a_socket_refuses_a_live_endpoint);
    suite_add_tcase (suite, core);
    return suite;
}
