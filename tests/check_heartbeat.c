/*  Tests of the worker's heartbeat thread: who sends an hb when
    (ff_heartbeat_due), and that a thread sharing the work with its main
    thread opens no socket until the main thread is late. */

#include "fanfold/runtime/heartbeat.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/log.h"
#include "fanfold/runtime/net.h"

#include <check.h>
#include <stdio.h>
#include <unistd.h>

START_TEST (test_heartbeat_due_main_thread_first)
{
    int wait_ms = -1;
    /* 100 ms after the last hb of an interval of 750: nothing; the main
       thread sends at 1750, the thread looks again at most hb_ms later */
    ck_assert_int_eq (ff_heartbeat_due (1100, 1000, 750, &wait_ms), 0);
    ck_assert_int_eq (wait_ms, 750);
    /* due for the main thread, which sends it between batches: the
       thread waits a quarter of the interval more */
    wait_ms = -1;
    ck_assert_int_eq (ff_heartbeat_due (1750, 1000, 750, &wait_ms), 0);
    ck_assert_int_eq (wait_ms, 187);
    /* the main thread is late (a long batch): the thread sends */
    ck_assert_int_eq (ff_heartbeat_due (1937, 1000, 750, &wait_ms), 1);
    ck_assert_int_eq (ff_heartbeat_due (5000, 1000, 750, &wait_ms), 1);
}
END_TEST

/* Receives one hb on router within timeout_ms; returns its worker id, or
   0 when none came. */
static uint64_t
s_receive_hb (zsock_t *router, int timeout_ms)
{
    zmq_pollitem_t item = { zsock_resolve (router), 0, ZMQ_POLLIN, 0 };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return 0;
    zmq_msg_t routing, body;
    ff_msg_t msg;
    uint64_t worker = 0;
    ck_assert_int_eq (ff_net_recv (router, &routing, &body), 0);
    ck_assert_int_eq (ff_msg_decode (zmq_msg_data (&body), zmq_msg_size (&body), &msg), 0);
    ck_assert_int_eq (msg.type, FF_MSG_HB);
    worker = msg.worker;
    zmq_msg_close (&routing);
    zmq_msg_close (&body);
    return worker;
}

START_TEST (test_heartbeat_thread_sends_only_when_the_main_thread_is_late)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://ff-heartbeat-%d", (int) getpid ());
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    ck_assert_ptr_nonnull (router);
    ck_assert_int_eq (zsock_bind (router, "%s", endpoint), 0);
    volatile int64_t running_since = 0, last_sent = ff_clock_ms ();
    ff_heartbeat_args_t args = {
        .endpoint = endpoint, .job = "j", .worker = 7, .hb_ms = 400,
        .running_since = &running_since, .last_sent = &last_sent
    };
    ff_heartbeat_t *heartbeat = ff_heartbeat_new (&args);
    ck_assert_ptr_nonnull (heartbeat);
    /* the main thread keeps sending (last_sent moves): the thread sends nothing */
    int64_t until = ff_clock_ms () + 300;
    while (ff_clock_ms () < until) {
        __atomic_store_n (&last_sent, ff_clock_ms (), __ATOMIC_RELEASE);
        ck_assert_int_eq (s_receive_hb (router, 20), 0);
    }
    /* a long batch (last_sent stays): the thread sends 1.25 hb_ms after it */
    int64_t last = __atomic_load_n (&last_sent, __ATOMIC_ACQUIRE);
    ck_assert_int_eq (s_receive_hb (router, 3000), 7);
    ck_assert_int_ge (ff_clock_ms () - last, 500);
    ck_assert_int_ge (__atomic_load_n (&last_sent, __ATOMIC_ACQUIRE), last + 500);
    ck_assert_int_eq (s_receive_hb (router, 3000), 7);
    ff_heartbeat_destroy (&heartbeat);
    ck_assert_ptr_null (heartbeat);
    zsock_destroy (&router);
}
END_TEST

START_TEST (test_heartbeat_thread_alone_sends_at_once)
{
    char endpoint [64];
    snprintf (endpoint, sizeof (endpoint), "inproc://ff-heartbeat-alone-%d", (int) getpid ());
    zsock_t *router = zsock_new (ZMQ_ROUTER);
    ck_assert_ptr_nonnull (router);
    ck_assert_int_eq (zsock_bind (router, "%s", endpoint), 0);
    volatile int64_t running_since = 0;
    ff_heartbeat_args_t args = {
        .endpoint = endpoint, .job = "j", .worker = 3, .hb_ms = 100,
        .running_since = &running_since
    };
    ff_heartbeat_t *heartbeat = ff_heartbeat_new (&args);
    ck_assert_ptr_nonnull (heartbeat);
    ck_assert_int_eq (s_receive_hb (router, 1000), 3);
    ck_assert_int_eq (s_receive_hb (router, 1000), 3);
    ff_heartbeat_destroy (&heartbeat);
    zsock_destroy (&router);
}
END_TEST

Suite *
heartbeat_suite (void)
{
    Suite *s = suite_create ("heartbeat");
    TCase *tc = tcase_create ("core");
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, test_heartbeat_due_main_thread_first);
    tcase_add_test (tc, test_heartbeat_thread_sends_only_when_the_main_thread_is_late);
    tcase_add_test (tc, test_heartbeat_thread_alone_sends_at_once);
    suite_add_tcase (s, tc);
    return s;
}
