/*  Unit tests for ff_pool, the job table of fanfold-server: a randomized
    model (jobs and workers come and go, tasks are created, sent, acked and
    written in any order) checks the invariants after every step and that
    every job still finishes; and hand-written cases for the weighted
    round-robin and the py: split. FF_POOL_SEED=N replays a seed. */

#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fanfold/runtime/limits.h"
#include "fanfold/service/pool.h"

static ff_pool_t *
s_pool (size_t window, int prefetch)
{
    ff_pool_config_t config = {
        .name = "p", .window = window, .window_bytes = 1 << 20,
        .prefetch = prefetch, .batch = 16
    };
    ff_pool_t *pool = ff_pool_new (&config);
    ck_assert_ptr_nonnull (pool);
    return pool;
}

/* Creates as many tasks of job as there is room for, up to limit. */
static void
s_create (ff_pool_job_t *job, uint64_t limit)
{
    while (ff_ledger_next_seq (job->ledger) < limit && ff_ledger_room (job->ledger, 1))
        ck_assert_int_eq (ff_ledger_create (job->ledger, 0, "in", "x", 1, NULL, 0, 1, 1.0, NULL),
                          FF_LEDGER_CREATED);
}

/* A sent message in the model: job, worker and its seqs. */
typedef struct {
    uint64_t job, worker;
    uint64_t seqs [FF_MAX_BATCH];
    size_t count;
} s_message_t;

#define S_MAX_MESSAGES 256

/* The client writes what is done at the front of job's window. */
static void
s_advance (ff_pool_job_t *job, int64_t now)
{
    uint64_t written = ff_ledger_written (job->ledger);
    while (written < ff_ledger_next_seq (job->ledger)
    &&  ff_ledger_task (job->ledger, written)->state == FF_SLOT_DONE)
        written++;
    ff_ledger_advance (job->ledger, written, now);
}

START_TEST (test_pool_random_operations_keep_the_invariants_and_every_job_finishes)
{
    unsigned seed = getenv ("FF_POOL_SEED")? (unsigned) atoi (getenv ("FF_POOL_SEED"))
                                            : (unsigned) time (NULL);
    srand (seed);
    ff_pool_t *pool = s_pool (32, 1);
    static s_message_t messages [S_MAX_MESSAGES];
    size_t nmessages = 0, step;
    uint64_t next_worker = 1, limit = 200;
    int64_t now = 1000;
    for (step = 0; step < 20000; step++) {
        int op = rand () % 100;
        now += rand () % 3;
        if (op < 5 && ff_pool_jobs (pool) < FF_MAX_JOBS)
            ck_assert_ptr_nonnull (ff_pool_job_add (pool, 1 + rand () % 3, rand () % 4 == 0, 3));
        else
        if (op < 7 && ff_pool_jobs (pool) > 0) {
            /* a job cancelled: its messages are dropped */
            ff_pool_job_t *job = ff_pool_job_at (pool, (size_t) rand () % ff_pool_jobs (pool));
            uint64_t id = job->id;
            size_t at;
            ck_assert_int_eq (ff_pool_job_remove (pool, id), 0);
            for (at = 0; at < nmessages; )
                if (messages [at].job == id)
                    messages [at] = messages [--nmessages];
                else
                    at++;
        }
        else
        if (op < 12 && ff_pool_workers (pool) < 8)
            ck_assert_int_eq (ff_pool_worker_add (pool, next_worker++, rand () % 4 == 0), 0);
        else
        if (op < 14 && ff_pool_workers (pool) > 0) {
            /* a worker dies: what it was sent is lost */
            uint64_t id = ff_pool_worker_at (pool, (size_t) rand () % ff_pool_workers (pool))->id;
            size_t at;
            ck_assert_int_eq (ff_pool_worker_leave (pool, id, "died", rand () % 2, now), 0);
            for (at = 0; at < nmessages; )
                if (messages [at].worker == id)
                    messages [at] = messages [--nmessages];
                else
                    at++;
        }
        else
        if (op < 40) {
            size_t index;
            for (index = 0; index < ff_pool_jobs (pool); index++)
                s_create (ff_pool_job_at (pool, index), limit);
        }
        else
        if (op < 70 && nmessages < S_MAX_MESSAGES) {
            s_message_t *message = &messages [nmessages];
            message->count = ff_pool_plan (pool, now, &message->job, &message->worker,
                                           message->seqs);
            if (message->count) {
                ff_pool_job_t *job = ff_pool_job (pool, message->job);
                ff_pool_worker_t *worker = ff_pool_worker (pool, message->worker);
                ck_assert_ptr_nonnull (job);
                ck_assert_ptr_nonnull (worker);
                ck_assert_int_eq (worker->py, job->py);
                /* it holds tasks of no other job */
                ff_pool_job_t *busy = ff_pool_worker_job (pool, message->worker);
                ck_assert (busy == NULL || busy == job);
                if (rand () % 10 == 0)
                    ff_pool_unsend (pool, message->job, message->worker, message->seqs,
                                    message->count, now + 2);
                else {
                    ff_pool_sent (pool, message->job, message->worker, message->seqs,
                                  message->count, now, now * 1000);
                    nmessages++;
                }
            }
        }
        else
        if (nmessages > 0) {
            /* a result message arrives and the client acks it */
            size_t at = (size_t) rand () % nmessages, index;
            s_message_t *message = &messages [at];
            ff_pool_job_t *job = ff_pool_job (pool, message->job);
            for (index = 0; index < message->count; index++)
                ff_ledger_ack (job->ledger, message->seqs [index], now);
            s_advance (job, now);
            ff_dispatch_adapt (job->policy, job->ledger, now * 1000);
            messages [at] = messages [--nmessages];
        }
        if (op % 7 == 0) {
            size_t index;
            ff_ledger_settled_t settled [FF_LEDGER_MAX_DEPARTED];
            for (index = 0; index < ff_pool_jobs (pool); index++)
                ff_ledger_settle (ff_pool_job_at (pool, index)->ledger, now, 0, settled,
                                  FF_LEDGER_MAX_DEPARTED);
        }
        ff_pool_check (pool);
    }
    /* drain: every worker goes (what is still out is lost: settling sends
       it again), then one of each kind and no more deaths: every job finishes */
    nmessages = 0;
    while (ff_pool_workers (pool) > 0)
        ff_pool_worker_leave (pool, ff_pool_worker_at (pool, 0)->id, "drain", 0, now);
    ff_pool_worker_add (pool, next_worker++, 0);
    ff_pool_worker_add (pool, next_worker++, 1);
    for (step = 0; step < 100000; step++) {
        size_t index, unfinished = 0;
        ff_ledger_settled_t settled [FF_LEDGER_MAX_DEPARTED];
        now += 1;
        for (index = 0; index < ff_pool_jobs (pool); index++) {
            ff_pool_job_t *job = ff_pool_job_at (pool, index);
            s_create (job, limit);
            ff_ledger_settle (job->ledger, now, 1, settled, FF_LEDGER_MAX_DEPARTED);
            /* a task that failed for good (its workers died retries times)
               gets its error record, which the client acks like a result */
            const ff_ledger_task_t *failed;
            while ((failed = ff_ledger_next_error (job->ledger)))
                ff_ledger_ack (job->ledger, failed->seq, now);
            s_advance (job, now);
            unfinished += ff_ledger_written (job->ledger) < limit;
        }
        if (!unfinished)
            break;
        s_message_t message;
        message.count = ff_pool_plan (pool, now, &message.job, &message.worker, message.seqs);
        if (message.count) {
            ff_pool_sent (pool, message.job, message.worker, message.seqs, message.count,
                          now, now * 1000);
            ff_pool_job_t *job = ff_pool_job (pool, message.job);
            for (index = 0; index < message.count; index++)
                ff_ledger_ack (job->ledger, message.seqs [index], now);
            s_advance (job, now);
        }
        ff_pool_check (pool);
    }
    size_t index;
    for (index = 0; index < ff_pool_jobs (pool); index++)
        ck_assert_msg (ff_ledger_written (ff_pool_job_at (pool, index)->ledger) == limit,
                       "a job did not finish (FF_POOL_SEED=%u)", seed);
    ff_pool_destroy (&pool);
    ff_pool_destroy (&pool);
}
END_TEST

START_TEST (test_pool_shares_one_worker_between_jobs_by_their_weight)
{
    ff_pool_t *pool = s_pool (64, 0);
    ff_pool_job_t *light = ff_pool_job_add (pool, 1, 0, 3);
    ff_pool_job_t *heavy = ff_pool_job_add (pool, 3, 0, 3);
    uint64_t light_id = light->id, heavy_id = heavy->id, seqs [FF_MAX_BATCH], job, worker;
    uint64_t sent_light = 0, sent_heavy = 0, round;
    ck_assert_int_eq (ff_pool_worker_add (pool, 1, 0), 0);
    for (round = 0; round < 400; round++) {
        s_create (light, UINT64_MAX);
        s_create (heavy, UINT64_MAX);
        size_t count = ff_pool_plan (pool, (int64_t) round, &job, &worker, seqs), index;
        ck_assert_uint_eq (count, 1);
        ff_pool_sent (pool, job, worker, seqs, count, (int64_t) round, (int64_t) round * 1000000);
        ff_pool_job_t *got = ff_pool_job (pool, job);
        for (index = 0; index < count; index++)
            ff_ledger_ack (got->ledger, seqs [index], (int64_t) round);
        ff_ledger_advance (got->ledger, seqs [count - 1] + 1, (int64_t) round);
        sent_light += job == light_id;
        sent_heavy += job == heavy_id;
        ff_pool_check (pool);
    }
    ck_assert_uint_eq (sent_light, 100);
    ck_assert_uint_eq (sent_heavy, 300);
    ff_pool_destroy (&pool);
}
END_TEST

/* Another job waits when it has pending tasks and runs on the same kind
   of workers: then the server leaves credit to the client's acks. */
START_TEST (test_pool_others_wait_only_for_pending_tasks_of_the_same_kind)
{
    ff_pool_t *pool = s_pool (64, 1);
    ff_pool_job_t *first = ff_pool_job_add (pool, 1, 0, 3);
    ff_pool_job_t *second = ff_pool_job_add (pool, 1, 0, 3);
    ff_pool_job_t *py = ff_pool_job_add (pool, 1, 1, 3);
    ck_assert_int_eq (ff_pool_worker_add (pool, 1, 0), 0);
    s_create (first, 4);
    ck_assert_int_eq (ff_pool_others_wait (pool, first), 0);
    ck_assert_int_eq (ff_pool_others_wait (pool, second), 1);
    ck_assert_int_eq (ff_pool_others_wait (pool, py), 0);
    s_create (py, 4);
    ck_assert_int_eq (ff_pool_others_wait (pool, first), 0);
    ck_assert_int_eq (ff_pool_others_wait (pool, py), 0);
    s_create (second, 4);
    ck_assert_int_eq (ff_pool_others_wait (pool, first), 1);
    ff_pool_check (pool);
    ff_pool_destroy (&pool);
}
END_TEST

START_TEST (test_pool_gives_py_jobs_only_to_py_workers_and_waits_without_one)
{
    ff_pool_t *pool = s_pool (16, 1);
    ff_pool_job_t *py = ff_pool_job_add (pool, 1, 1, 3);
    uint64_t seqs [FF_MAX_BATCH], job, worker;
    ck_assert_int_eq (ff_pool_worker_add (pool, 1, 0), 0);
    s_create (py, 4);
    ck_assert_uint_eq (ff_pool_plan (pool, 0, &job, &worker, seqs), 0);
    ck_assert_int_eq (ff_pool_worker_add (pool, 2, 1), 0);
    ck_assert_uint_gt (ff_pool_plan (pool, 0, &job, &worker, seqs), 0);
    ck_assert_uint_eq (worker, 2);
    ck_assert_uint_eq (job, py->id);
    ff_pool_destroy (&pool);
}
END_TEST

START_TEST (test_pool_tells_kernels_of_mixed_jobs_apart)
{
    ff_str_t plain [] = { { "noop", 4 }, { "exec", 4 } };
    ff_str_t py [] = { { "py:m:f", 6 }, { "py:m:g", 6 } };
    ff_str_t mixed [] = { { "py:m:f", 6 }, { "noop", 4 } };
    ck_assert_int_eq (ff_pool_kernels_py (plain, 2), 0);
    ck_assert_int_eq (ff_pool_kernels_py (py, 2), 1);
    ck_assert_int_eq (ff_pool_kernels_py (mixed, 2), -1);
}
END_TEST

START_TEST (test_pool_refuses_a_job_past_max_jobs_and_never_reuses_an_id)
{
    ff_pool_t *pool = s_pool (4, 1);
    size_t index;
    for (index = 0; index < FF_MAX_JOBS; index++)
        ck_assert_ptr_nonnull (ff_pool_job_add (pool, 1, 0, 3));
    ck_assert_ptr_null (ff_pool_job_add (pool, 1, 0, 3));
    uint64_t first = ff_pool_job_at (pool, 0)->id;
    ck_assert_int_eq (ff_pool_job_remove (pool, first), 0);
    ck_assert_int_eq (ff_pool_job_remove (pool, first), -1);
    ff_pool_job_t *job = ff_pool_job_add (pool, 1, 0, 3);
    ck_assert_uint_eq (job->id, FF_MAX_JOBS + 1);
    ck_assert_ptr_eq (ff_pool_job_named (pool, job->name, strlen (job->name)), job);
    ck_assert_int_eq (ff_pool_worker_add (pool, 5, 0), 0);
    ck_assert_int_eq (ff_pool_worker_add (pool, 5, 0), -1);
    ff_pool_check (pool);
    ff_pool_destroy (&pool);
}
END_TEST

Suite *
pool_suite (void)
{
    Suite *suite = suite_create ("pool");
    TCase *tc = tcase_create ("model");
    tcase_set_timeout (tc, 60);
    tcase_add_test (tc, test_pool_random_operations_keep_the_invariants_and_every_job_finishes);
    tcase_add_test (tc, test_pool_shares_one_worker_between_jobs_by_their_weight);
    tcase_add_test (tc, test_pool_others_wait_only_for_pending_tasks_of_the_same_kind);
    tcase_add_test (tc, test_pool_gives_py_jobs_only_to_py_workers_and_waits_without_one);
    tcase_add_test (tc, test_pool_tells_kernels_of_mixed_jobs_apart);
    suite_add_tcase (suite, tc);
    tc = tcase_create ("limits");
    tcase_add_test (tc, test_pool_refuses_a_job_past_max_jobs_and_never_reuses_an_id);
    suite_add_tcase (suite, tc);
    return suite;
}
