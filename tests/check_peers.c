/*  Unit tests for the ventilator's peers (job/peers): the control socket,
    a worker's hello and its pipe, who may speak for a worker (its main
    socket and the heartbeat socket learned after its hello), the sink,
    and removal. Sockets are real, on ipc paths in a temp directory. */

#include "fanfold/job/peers.h"
#include "fanfold/runtime/codec.h"
#include "fanfold/runtime/security.h"
#include "fanfold/runtime/topology.h"

#include <check.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static char s_dir [64];             /* per-test temp directory */
static ff_topology_t *s_topology;   /* ipc endpoints in s_dir */
static ff_security_t *s_security;   /* none: ipc */
static ff_peers_t *s_peers;         /* under test */
static char s_error [512];          /* last error */

static void
s_setup (void)
{
    char path [128];
    snprintf (s_dir, sizeof (s_dir), "/tmp/check_peers_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    snprintf (path, sizeof (path), "%s/t.zpl", s_dir);
    FILE *file = fopen (path, "w");
    ck_assert_ptr_nonnull (file);
    fprintf (file, "fanfold\n    linger_ms = 0\nventilator\n    control = \"ipc://%s/control\"\n"
             "    tasks = \"ipc://%s/task\"\nsink\n    results = \"ipc://%s/results\"\n",
             s_dir, s_dir, s_dir);
    fclose (file);
    s_topology = ff_topology_load (path, s_error, sizeof (s_error));
    ck_assert_msg (s_topology != NULL, "%s", s_error);
    s_security = ff_security_new (s_topology, 1, 0, s_error, sizeof (s_error));
    ck_assert_msg (s_security != NULL, "%s", s_error);
    s_peers = ff_peers_new (s_topology, s_security, s_error, sizeof (s_error));
    ck_assert_msg (s_peers != NULL, "%s", s_error);
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
    ff_peers_destroy (&s_peers);
    ff_peers_destroy (&s_peers);    /* safe twice */
    ff_security_destroy (&s_security);
    ff_topology_destroy (&s_topology);
    nftw (s_dir, s_remove, 8, FTW_DEPTH | FTW_PHYS);
}

static ff_peer_t *
s_hello (const char *routing, ff_peers_hello_t expected)
{
    ff_peer_t *peer = NULL;
    ff_peers_hello_t rc = ff_peers_hello (s_peers, routing, strlen (routing), "host:1", 5,
                                          FF_HELLO_NO_SHM, 100, &peer, s_error, sizeof (s_error));
    ck_assert_int_eq (rc, expected);
    return peer;
}

START_TEST (test_peers_binds_the_control_socket_and_refuses_a_second_job_on_it)
{
    ck_assert_ptr_nonnull (ff_peers_control (s_peers));
    ff_peers_t *second = ff_peers_new (s_topology, s_security, s_error, sizeof (s_error));
    ck_assert_ptr_null (second);
    ck_assert_ptr_nonnull (strstr (s_error, "another job is running"));
}
END_TEST

START_TEST (test_peers_hello_binds_a_pipe_per_worker_with_a_new_id)
{
    ff_peer_t *first = s_hello ("a", FF_PEERS_JOINED);
    ff_peer_t *second = s_hello ("b", FF_PEERS_JOINED);
    ck_assert_uint_eq (first->id, 1);
    ck_assert_uint_eq (second->id, 2);
    ck_assert_ptr_nonnull (first->push);
    ck_assert_ptr_nonnull (strstr (first->endpoint, "/task-1"));
    ck_assert_ptr_nonnull (strstr (second->endpoint, "/task-2"));
    ck_assert_str_eq (first->name, "host:");
    ck_assert_int_eq (first->no_shm, 1);
    ck_assert_int_eq (first->hears_tasks, 0);
    ck_assert_int_eq (first->last_seen, 100);
    ck_assert_int_eq (first->last_told, 100);
    ck_assert_uint_eq (ff_peers_count (s_peers), 2);
    ck_assert_ptr_eq (ff_peers_find (s_peers, 2), second);
    ck_assert_ptr_null (ff_peers_find (s_peers, 3));
}
END_TEST

START_TEST (test_peers_hello_flag_says_a_worker_hears_its_tasks)
{
    ff_peer_t *peer = NULL;
    ck_assert_int_eq (ff_peers_hello (s_peers, "c", 1, "host:2", 6,
                                      FF_HELLO_HEARS_TASKS, 200, &peer, s_error,
                                      sizeof (s_error)), FF_PEERS_JOINED);
    ck_assert_int_eq (peer->hears_tasks, 1);
    ck_assert_int_eq (peer->no_shm, 0);
    ck_assert_int_eq (peer->last_told, 200);
}
END_TEST

START_TEST (test_peers_second_hello_from_one_socket_is_the_same_worker)
{
    ff_peer_t *first = s_hello ("a", FF_PEERS_JOINED);
    ck_assert_ptr_eq (s_hello ("a", FF_PEERS_KNOWN), first);
    ck_assert_uint_eq (ff_peers_count (s_peers), 1);
}
END_TEST

START_TEST (test_peers_hb_counts_from_the_main_socket_and_the_heartbeat_socket_learned_first)
{
    ff_peer_t *worker = s_hello ("main", FF_PEERS_JOINED);
    ck_assert_ptr_eq (ff_peers_match (s_peers, 1, "main", 4, 0), worker);
    /* a bye from an unknown socket before any hb: refused */
    ck_assert_ptr_null (ff_peers_match (s_peers, 1, "beat", 4, 0));
    /* the first hb from another socket teaches its heartbeat socket */
    ck_assert_ptr_eq (ff_peers_match (s_peers, 1, "beat", 4, 1), worker);
    ck_assert_ptr_eq (ff_peers_match (s_peers, 1, "beat", 4, 0), worker);
    /* a third socket speaks for nobody */
    ck_assert_ptr_null (ff_peers_match (s_peers, 1, "rogue", 5, 1));
    ck_assert_ptr_null (ff_peers_match (s_peers, 1, "rogue", 5, 0));
    ck_assert_ptr_null (ff_peers_match (s_peers, 2, "main", 4, 1));
}
END_TEST

START_TEST (test_peers_hello_again_forgets_the_heartbeat_socket)
{
    ff_peer_t *worker = s_hello ("main", FF_PEERS_JOINED);
    ck_assert_ptr_eq (ff_peers_match (s_peers, 1, "beat", 4, 1), worker);
    s_hello ("main", FF_PEERS_KNOWN);
    /* it joined again: its new heartbeat thread has a new socket */
    ck_assert_ptr_eq (ff_peers_match (s_peers, 1, "beat2", 5, 1), worker);
    ck_assert_ptr_null (ff_peers_match (s_peers, 1, "beat", 4, 1));
}
END_TEST

START_TEST (test_peers_sink_is_known_by_its_hello_and_locked_once_it_acked)
{
    ck_assert_uint_eq (ff_peers_sink (s_peers)->routing_len, 0);
    ck_assert_int_eq (ff_peers_is_sink (s_peers, "s1", 2), 0);
    ck_assert_int_eq (ff_peers_sink_hello (s_peers, "s1", 2, 0), 0);
    ck_assert_int_eq (ff_peers_is_sink (s_peers, "s1", 2), 1);
    /* before its first ack another sink may take its place */
    ck_assert_int_eq (ff_peers_sink_hello (s_peers, "s2", 2, 0), 0);
    ck_assert_int_eq (ff_peers_is_sink (s_peers, "s1", 2), 0);
    /* after it, not */
    ck_assert_int_eq (ff_peers_sink_hello (s_peers, "s3", 2, 1), -1);
    ck_assert_int_eq (ff_peers_is_sink (s_peers, "s2", 2), 1);
    ck_assert_int_eq (ff_peers_sink_hello (s_peers, "s2", 2, 1), 0);
}
END_TEST

START_TEST (test_peers_remove_closes_the_pipe_and_forgets_the_worker)
{
    s_hello ("a", FF_PEERS_JOINED);
    ff_peer_t *second = s_hello ("b", FF_PEERS_JOINED);
    ck_assert_int_eq (ff_peers_remove (s_peers, 1), 0);
    ck_assert_int_eq (ff_peers_remove (s_peers, 1), -1);
    ck_assert_uint_eq (ff_peers_count (s_peers), 1);
    ck_assert_ptr_eq (ff_peers_at (s_peers, 0), second);
    ck_assert_ptr_null (ff_peers_match (s_peers, 1, "a", 1, 1));
    /* ids are not reused */
    ck_assert_uint_eq (s_hello ("c", FF_PEERS_JOINED)->id, 3);
}
END_TEST

/* The routing index: removals in the middle of runs of joined workers
   keep every other one known by its socket, with its own id. */
START_TEST (test_peers_hello_knows_each_worker_after_others_left)
{
    enum { N = 96 };
    char routing [16];
    uint64_t ids [N];
    int at;
    for (at = 0; at < N; at++) {
        snprintf (routing, sizeof (routing), "w%d", at);
        ids [at] = s_hello (routing, FF_PEERS_JOINED)->id;
    }
    for (at = 0; at < N; at += 3)
        ck_assert_int_eq (ff_peers_remove (s_peers, ids [at]), 0);
    for (at = 0; at < N; at++) {
        snprintf (routing, sizeof (routing), "w%d", at);
        ff_peer_t *peer = s_hello (routing, at % 3? FF_PEERS_KNOWN: FF_PEERS_JOINED);
        if (at % 3)
            ck_assert_uint_eq (peer->id, ids [at]);
        else
            ck_assert_uint_gt (peer->id, ids [N - 1]);
    }
    ck_assert_uint_eq (ff_peers_count (s_peers), N);
}
END_TEST

START_TEST (test_peers_refuses_a_routing_id_it_cannot_keep)
{
    char routing [FF_PEERS_ROUTING_MAX + 1];
    ff_peer_t *peer = (ff_peer_t *) 1;
    memset (routing, 'x', sizeof (routing));
    ck_assert_int_eq (ff_peers_hello (s_peers, routing, sizeof (routing), "n", 1, 0, 0, &peer,
                                      s_error, sizeof (s_error)), FF_PEERS_FAILED);
    ck_assert_ptr_null (peer);
    ck_assert_int_eq (ff_peers_sink_hello (s_peers, routing, sizeof (routing), 0), -1);
}
END_TEST

Suite *
peers_suite (void)
{
    Suite *suite = suite_create ("peers");
    TCase *tc = tcase_create ("core");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, test_peers_binds_the_control_socket_and_refuses_a_second_job_on_it);
    tcase_add_test (tc, test_peers_hello_binds_a_pipe_per_worker_with_a_new_id);
    tcase_add_test (tc, test_peers_hello_flag_says_a_worker_hears_its_tasks);
    tcase_add_test (tc, test_peers_second_hello_from_one_socket_is_the_same_worker);
    tcase_add_test (tc, test_peers_hb_counts_from_the_main_socket_and_the_heartbeat_socket_learned_first);
    tcase_add_test (tc, test_peers_hello_again_forgets_the_heartbeat_socket);
    tcase_add_test (tc, test_peers_sink_is_known_by_its_hello_and_locked_once_it_acked);
    tcase_add_test (tc, test_peers_remove_closes_the_pipe_and_forgets_the_worker);
    tcase_add_test (tc, test_peers_hello_knows_each_worker_after_others_left);
    suite_add_tcase (suite, tc);
    tc = tcase_create ("limits");
    tcase_add_checked_fixture (tc, s_setup, s_teardown);
    tcase_set_timeout (tc, 20);
    tcase_add_test (tc, test_peers_refuses_a_routing_id_it_cannot_keep);
    suite_add_tcase (suite, tc);
    return suite;
}
