/*  Tests of ff_net_wait, the one-poll-per-wake-up wait of the sink and
    the ventilator: a message that comes is seen whether its socket was
    marked drained or not, a drained socket costs no ZMQ_EVENTS question,
    a send on a socket does not hide a message that came, and plain
    descriptors are waited on beside the sockets, and so are sockets that
    wait until they can send; a drained socket is seen while another has
    messages, and a wake-only descriptor costs no poll when a socket has
    a message. */

#include "fanfold/runtime/net.h"

#include <check.h>
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

static zsock_t *s_near;             /* the socket waited on */
static zsock_t *s_far;              /* its peer, which sends */
static ff_net_wait_t s_wait;

static void
s_setup (void)
{
    /* a new name each test: a closed socket's inproc name is freed later,
       by libzmq's reaper thread */
    static int count = 0;
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://netwait-%d", ++count);
    s_near = zsock_new (ZMQ_PAIR);
    s_far = zsock_new (ZMQ_PAIR);
    ck_assert_ptr_nonnull (s_near);
    ck_assert_ptr_nonnull (s_far);
    ck_assert_int_eq (zsock_bind (s_near, "%s", endpoint), 0);
    ck_assert_int_eq (zsock_connect (s_far, "%s", endpoint), 0);
    s_wait = (ff_net_wait_t) { .sockets = { zsock_resolve (s_near) }, .fds = { -1 }, .count = 1 };
}

static void
s_teardown (void)
{
    zsock_destroy (&s_far);
    zsock_destroy (&s_near);
}

/* Reads every waiting message of s_near, as the stages' loops do, and
   marks it drained. Returns how many were read. */
static int
s_read_all (void)
{
    zmq_msg_t body;
    int rc, count = 0;
    while ((rc = ff_net_recv (s_near, NULL, &body)) >= 0) {
        zmq_msg_close (&body);
        count++;
    }
    ff_net_wait_read (&s_wait, 0, rc);
    return count;
}

START_TEST (test_wait_times_out_when_nothing_comes)
{
    int ready [1] = { 7 };
    int64_t start = zclock_mono ();
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 50), 0);
    ck_assert_int_eq (ready [0], 0);
    ck_assert_int_ge (zclock_mono () - start, 45);
    ck_assert_int_eq (s_wait.drained [0], 1);
}
END_TEST

START_TEST (test_wait_sees_a_message_that_came_before_it)
{
    int ready [1];
    ck_assert_int_eq (zstr_send (s_far, "one"), 0);
    zclock_sleep (20);
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 0), 1);
    ck_assert_int_eq (ready [0], 1);
    ck_assert_int_eq (s_wait.drained [0], 0);
    ck_assert_int_eq (s_read_all (), 1);
    ck_assert_int_eq (s_wait.drained [0], 1);
}
END_TEST

START_TEST (test_a_drained_socket_wakes_when_a_message_comes)
{
    int ready [1];
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 0), 0);
    ck_assert_int_eq (s_read_all (), 0);
    ck_assert_int_eq (s_wait.drained [0], 1);
    /* drained: no ZMQ_EVENTS question, the socket's descriptor says that
       the message came */
    ck_assert_int_eq (zstr_send (s_far, "two"), 0);
    int64_t start = zclock_mono ();
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 2000), 1);
    ck_assert_int_lt (zclock_mono () - start, 1000);
    ck_assert_int_eq (ready [0], 1);
    ck_assert_int_eq (s_read_all (), 1);
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 20), 0);
}
END_TEST

START_TEST (test_a_send_does_not_hide_a_message_once_undrained)
{
    int ready [1];
    ck_assert_int_eq (s_read_all (), 0);
    ck_assert_int_eq (zstr_send (s_far, "three"), 0);
    zclock_sleep (20);
    /* a send takes the commands the mailbox holds, with the signal of the
       message that came: the caller marks the socket undrained */
    ck_assert_int_eq (zstr_send (s_near, "reply"), 0);
    s_wait.drained [0] = 0;
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 1000), 1);
    ck_assert_int_eq (ready [0], 1);
    ck_assert_int_eq (s_read_all (), 1);
    char *reply = zstr_recv (s_far);
    ck_assert_str_eq (reply, "reply");
    zstr_free (&reply);
}
END_TEST

START_TEST (test_a_plain_descriptor_is_waited_on_beside_the_socket)
{
    int fds [2], ready [2];
    ck_assert_int_eq (pipe (fds), 0);
    s_wait.fds [1] = fds [0];
    s_wait.count = 2;
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 20), 0);
    ck_assert_int_eq (write (fds [1], "x", 1), 1);
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 1000), 1);
    ck_assert_int_eq (ready [0], 0);
    ck_assert_int_eq (ready [1], 1);
    /* a message and the descriptor at once: both are said */
    ck_assert_int_eq (zstr_send (s_far, "four"), 0);
    zclock_sleep (20);
    s_wait.drained [0] = 0;
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 1000), 2);
    ck_assert_int_eq (ready [0], 1);
    ck_assert_int_eq (ready [1], 1);
    /* a descriptor of -1 is left out */
    s_wait.fds [1] = -1;
    ck_assert_int_eq (s_read_all (), 1);
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 20), 0);
    close (fds [0]);
    close (fds [1]);
}
END_TEST

START_TEST (test_a_writable_socket_wakes_the_wait_when_its_peer_connects)
{
    /* a bound PUSH with no peer cannot send: the wait sleeps on it until
       a peer connects, and then returns at once */
    int ready [1];
    char endpoint [64];
    static int count = 0;
    snprintf (endpoint, sizeof (endpoint), "inproc://netwait-pipe-%d", ++count);
    zsock_t *pipe = zsock_new (ZMQ_PUSH);
    ck_assert_ptr_nonnull (pipe);
    ck_assert_int_eq (zsock_bind (pipe, "%s", endpoint), 0);
    void *writable [1] = { zsock_resolve (pipe) };
    s_wait.writable = writable;
    s_wait.nwritable = 1;
    ck_assert_int_eq (s_read_all (), 0);
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 20), 0);
    ck_assert_int_eq (ff_net_can_send (writable [0]), FF_NET_SEND_FULL);
    zsock_t *peer = zsock_new (ZMQ_PULL);
    ck_assert_ptr_nonnull (peer);
    ck_assert_int_eq (zsock_connect (peer, "%s", endpoint), 0);
    int64_t start = zclock_mono ();
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 2000), 0);
    ck_assert_int_lt (zclock_mono () - start, 1000);
    ck_assert_int_eq (ready [0], 0);
    ck_assert_int_eq (ff_net_can_send (writable [0]), FF_NET_SEND_READY);
    /* one that can send: no wait at all */
    start = zclock_mono ();
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 2000), 0);
    ck_assert_int_lt (zclock_mono () - start, 1000);
    zsock_destroy (&peer);
    zsock_destroy (&pipe);
}
END_TEST

START_TEST (test_a_drained_socket_is_seen_while_another_has_messages)
{
    /* a second pair, whose socket always has a message waiting: the
       drained one is still looked at, by its descriptor */
    static int count = 0;
    char endpoint [64];
    int ready [2];
    snprintf (endpoint, sizeof (endpoint), "inproc://netwait-busy-%d", ++count);
    zsock_t *busy = zsock_new (ZMQ_PAIR), *feeder = zsock_new (ZMQ_PAIR);
    ck_assert_ptr_nonnull (busy);
    ck_assert_ptr_nonnull (feeder);
    ck_assert_int_eq (zsock_bind (busy, "%s", endpoint), 0);
    ck_assert_int_eq (zsock_connect (feeder, "%s", endpoint), 0);
    s_wait.sockets [1] = zsock_resolve (busy);
    s_wait.fds [1] = -1;
    s_wait.count = 2;
    ck_assert_int_eq (s_read_all (), 0);
    ck_assert_int_eq (s_wait.drained [0], 1);
    ck_assert_int_eq (zstr_send (feeder, "more"), 0);
    ck_assert_int_eq (zstr_send (s_far, "five"), 0);
    zclock_sleep (20);
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 0), 2);
    ck_assert_int_eq (ready [0], 1);
    ck_assert_int_eq (ready [1], 1);
    ck_assert_int_eq (s_read_all (), 1);
    /* nothing came on the drained one: only the busy one is said */
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 0), 1);
    ck_assert_int_eq (ready [0], 0);
    ck_assert_int_eq (ready [1], 1);
    zsock_destroy (&feeder);
    zsock_destroy (&busy);
}
END_TEST

START_TEST (test_a_wake_only_descriptor_ends_a_wait_and_is_not_polled_otherwise)
{
    int fds [2], ready [2];
    ck_assert_int_eq (pipe (fds), 0);
    s_wait.fds [1] = fds [0];
    s_wait.count = 2;
    s_wait.fds_wake_only = 1;
    ck_assert_int_eq (write (fds [1], "x", 1), 1);
    /* nothing on the socket: the descriptor ends the wait at once */
    ck_assert_int_eq (s_read_all (), 0);
    int64_t start = zclock_mono ();
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 2000), 1);
    ck_assert_int_lt (zclock_mono () - start, 1000);
    ck_assert_int_eq (ready [0], 0);
    ck_assert_int_eq (ready [1], 1);
    /* the socket asked and found with a message: no poll, so the
       descriptor (still readable) is not said */
    ck_assert_int_eq (zstr_send (s_far, "six"), 0);
    zclock_sleep (20);
    s_wait.drained [0] = 0;
    ck_assert_int_eq (ff_net_wait (&s_wait, ready, 1000), 1);
    ck_assert_int_eq (ready [0], 1);
    ck_assert_int_eq (ready [1], 0);
    ck_assert_int_eq (s_read_all (), 1);
    close (fds [0]);
    close (fds [1]);
}
END_TEST

Suite *
netwait_suite (void)
{
    Suite *suite = suite_create ("netwait");
    TCase *core = tcase_create ("core");
    tcase_add_checked_fixture (core, s_setup, s_teardown);
    tcase_add_test (core, test_wait_times_out_when_nothing_comes);
    tcase_add_test (core, test_wait_sees_a_message_that_came_before_it);
    tcase_add_test (core, test_a_drained_socket_wakes_when_a_message_comes);
    tcase_add_test (core, test_a_send_does_not_hide_a_message_once_undrained);
    tcase_add_test (core, test_a_plain_descriptor_is_waited_on_beside_the_socket);
    tcase_add_test (core, test_a_writable_socket_wakes_the_wait_when_its_peer_connects);
    tcase_add_test (core, test_a_drained_socket_is_seen_while_another_has_messages);
    tcase_add_test (core, test_a_wake_only_descriptor_ends_a_wait_and_is_not_polled_otherwise);
    suite_add_tcase (suite, core);
    return suite;
}
