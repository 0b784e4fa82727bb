/*  Unit tests for the delivery: the sink's path (each result encoded in a
    result message, decoded, taken in shuffled or reversed order with
    duplicates) and the serial path (items built from kernel runs, taken in
    order, no codec) write the same output bytes, raw and jsonl, the same
    folds, joblog lines and error records; duplicates are dropped; emit and
    acks see each seq once; a checkpoint records what is written and a
    resumed delivery skips it. A randomized test replays arrival orders
    (FF_DELIVERY_SEED=N replays one). In "limits": seqs outside the window
    or the job, items before the job, bad options, full ack lists, and
    failed writes and emits, which are returned. */

#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fanfold/job/delivery.h"
#include "fanfold/job/state.h"
#include "fanfold/kernels/kernels.h"
#include "fanfold/runtime/limits.h"

#define S_MAX_RESULTS 512               /* results of one test job */
#define S_WINDOW 16                     /* reorder window of the tests */
#define S_VALUES 64                     /* doubles of the folded array */

/* One result of a test job, in seq order, owning its bytes. */
typedef struct {
    ff_item_t item;                     /* as a worker (or the ventilator) sends it */
    uint64_t worker;                    /* who ran it; FF_DELIVERY_VENTILATOR for none */
    char input [64];                    /* its input name */
    ff_result_t result;                 /* body and meta bytes */
} s_result_t;

/* A test job: its kernels and its results in seq order. */
typedef struct {
    ff_str_t kernels [2];               /* kernel names */
    size_t nkernels;                    /* how many */
    s_result_t results [S_MAX_RESULTS]; /* by seq */
    size_t count;                       /* how many */
} s_job_t;

static char s_dir [64];                 /* this test's temporary directory */
static double s_values [S_VALUES];      /* the array the folded jobs chunk */

static void
s_setup (void)
{
    snprintf (s_dir, sizeof (s_dir), "/tmp/check_delivery_XXXXXX");
    ck_assert_ptr_nonnull (mkdtemp (s_dir));
    for (size_t index = 0; index < S_VALUES; index++)
        s_values [index] = (double) ((int) (index * 7 % 13) - 5);
}

/* Removes every file the test made, then the directory. */
static void
s_teardown (void)
{
    static const char *names [] = {
        "a.out", "b.out", "a.log", "b.log", "a.out" FF_STATE_SUFFIX,
        "a.out" FF_STATE_SUFFIX ".tmp", "once.out", NULL
    };
    char path [256];
    for (size_t index = 0; names [index]; index++) {
        snprintf (path, sizeof (path), "%s/%s", s_dir, names [index]);
        unlink (path);
    }
    rmdir (s_dir);
}

/* Returns s_dir/name in a static buffer (one of two, alternating). */
static const char *
s_path (const char *name)
{
    static char paths [2][256];
    static int turn;
    turn = !turn;
    snprintf (paths [turn], sizeof (paths [turn]), "%s/%s", s_dir, name);
    return paths [turn];
}

/* Reads the file at path into a new buffer; *size gets its length. */
static char *
s_slurp (const char *path, size_t *size)
{
    FILE *file = fopen (path, "rb");
    ck_assert_msg (file != NULL, "cannot open %s", path);
    char *data = malloc (1 << 20);
    ck_assert_ptr_nonnull (data);
    *size = fread (data, 1, 1 << 20, file);
    ck_assert_int_eq (ferror (file), 0);
    fclose (file);
    return data;
}

/* Checks that the two files hold the same bytes, and at least min_size. */
static void
s_assert_same_file (const char *a, const char *b, size_t min_size)
{
    size_t size_a, size_b;
    char *data_a = s_slurp (a, &size_a), *data_b = s_slurp (b, &size_b);
    ck_assert_uint_ge (size_a, min_size);
    ck_assert_uint_eq (size_a, size_b);
    ck_assert_mem_eq (data_a, data_b, size_a);
    free (data_a);
    free (data_b);
}

/* Checks that text occurs in the size bytes at data. */
static void
s_assert_has (const char *data, size_t size, const char *text)
{
    ck_assert_msg (memmem (data, size, text, strlen (text)) != NULL, "missing: %s", text);
}

/* Checks that text does not occur in the size bytes at data. */
static void
s_assert_lacks (const char *data, size_t size, const char *text)
{
    ck_assert_msg (memmem (data, size, text, strlen (text)) == NULL, "present: %s", text);
}

/* Counts the lines of the file at path. */
static size_t
s_lines (const char *path)
{
    size_t size, lines = 0;
    char *data = s_slurp (path, &size);
    for (size_t index = 0; index < size; index++)
        lines += data [index] == '\n';
    free (data);
    return lines;
}

/* ---------------------------------------------------------- test jobs */

/* Starts result seq of job: input name, worker, timing, one dispatch. */
static s_result_t *
s_result (s_job_t *job, uint32_t kernel, const char *input, uint64_t worker)
{
    ck_assert_uint_lt (job->count, S_MAX_RESULTS);
    s_result_t *result = &job->results [job->count];
    memset (result, 0, sizeof (*result));
    snprintf (result->input, sizeof (result->input), "%s", input);
    result->worker = worker;
    result->item.seq = job->count++;
    result->item.kernel = kernel;
    result->item.input = ff_str (result->input);
    result->item.attempt = 1;
    result->item.tries = 1;
    result->item.start_ms = 1700000000000ULL + result->item.seq * 3;
    result->item.runtime_us = 100 + result->item.seq % 17;
    result->item.chunks = 1;
    return result;
}

/* Runs kernel on payload as a worker does and fills the result fields. */
static void
s_run (s_result_t *result, const ff_kernel_t *kernel, const void *payload, size_t size,
       const ff_array_t *arrays, size_t narrays)
{
    ff_task_t task = {
        .seq = result->item.seq, .input = result->input, .data = payload, .size = size,
        .arrays = arrays, .narrays = narrays
    };
    int rc = ff_kernels_run (kernel, &task, &result->result);
    result->item.bytes_in = size;
    ff_delivery_result_item (&result->item, kernel, rc, &result->result);
}

/* Makes the ventilator's error record for result: no run, attempts counted. */
static void
s_error_record (s_result_t *result, uint32_t attempts, const char *message)
{
    result->worker = FF_DELIVERY_VENTILATOR;
    result->item.attempt = attempts;
    result->item.tries = 0;
    result->item.start_ms = result->item.runtime_us = 0;
    ff_buf_puts (&result->result.data, message);
    ff_delivery_result_item (&result->item, NULL, -1, &result->result);
}

/* A job of count results over kernels noop and "report" (no such kernel:
   a JSON body with meta members is set by hand): text, bytes that are not
   UTF-8, JSON with and without meta, results that took several attempts,
   a worker's failed task and the ventilator's error records. */
static void
s_job_plain (s_job_t *job, size_t count)
{
    const ff_kernel_t *noop = ff_kernels_find ("noop");
    ck_assert_ptr_nonnull (noop);
    memset (job, 0, sizeof (*job));
    job->kernels [0] = ff_str ("noop");
    job->kernels [1] = ff_str ("report");
    job->nkernels = 2;
    while (job->count < count) {
        uint64_t seq = job->count;
        char input [64], payload [64];
        snprintf (input, sizeof (input), "in\t%" PRIu64 "\\%s", seq / 2, seq % 10 == 0? "\n": "");
        s_result_t *result = s_result (job, (uint32_t) (seq % 2), input, 1 + seq % 3);
        if (seq % 11 == 5) {
            s_error_record (result, 3, "task failed 3 times: worker died");
            continue;
        }
        if (seq % 2 == 0) {
            size_t size = (size_t) snprintf (payload, sizeof (payload), "line %" PRIu64 "\n", seq);
            if (seq % 7 == 0)
                payload [size++] = (char) 0xff;          /* not UTF-8: base64 in jsonl */
            s_run (result, noop, payload, size, NULL, 0);
        }
        else {
            char body [64];
            snprintf (body, sizeof (body), "{\"n\":%" PRIu64 ",\"quote\":\"\\\"\"}", seq);
            ff_buf_puts (&result->result.data, body);
            if (seq % 3 == 0)
                ff_buf_puts (&result->result.meta, "\"exit\":0");
            result->item.status = seq % 13 == 1? FF_STATUS_ERROR: FF_STATUS_OK;
            result->item.kind = FF_KIND_JSON;
            result->item.data = (ff_str_t) { (const char *) result->result.data.data,
                                             result->result.data.size };
            result->item.meta = (ff_str_t) { (const char *) result->result.meta.data,
                                             result->result.meta.size };
        }
        if (seq % 9 == 4) {
            result->item.attempt = 2;   /* sent again after a worker died */
            result->item.tries = 2;     /* and run twice there */
        }
    }
}

/* A job of inputs arrays in chunks, input-major over kernels stats (which
   folds) and noop (which does not): chunk c of input i for stats, then for
   noop. One chunk of input 1 fails, so its fold is an error record. */
static void
s_job_folded (s_job_t *job, uint32_t inputs, uint32_t chunks)
{
    const ff_kernel_t *kernels [2] = { ff_kernels_find ("stats"), ff_kernels_find ("noop") };
    ck_assert_ptr_nonnull (kernels [0]);
    ck_assert_ptr_nonnull (kernels [0]->fold);
    memset (job, 0, sizeof (*job));
    job->kernels [0] = ff_str ("stats");
    job->kernels [1] = ff_str ("noop");
    job->nkernels = 2;
    size_t per_chunk = S_VALUES / chunks;
    for (uint32_t input = 0; input < inputs; input++)
        for (uint32_t chunk = 0; chunk < chunks; chunk++)
            for (uint32_t kernel = 0; kernel < 2; kernel++) {
                char name [32];
                snprintf (name, sizeof (name), "array%u.npy", input);
                s_result_t *result = s_result (job, kernel, name, 1 + chunk % 2);
                result->item.chunk = chunk;
                result->item.chunks = chunks;
                if (input == 1 && chunk == 2 && kernel == 0) {
                    s_error_record (result, 3, "chunk lost three times");
                    result->item.chunk = chunk;
                    result->item.chunks = chunks;
                    continue;
                }
                ff_array_t array = {
                    .name = "data", .dtype = FF_DTYPE_F64, .ndim = 1,
                    .shape = { per_chunk }, .data = s_values + chunk * per_chunk,
                    .size = per_chunk * sizeof (double)
                };
                s_run (result, kernels [kernel], "", 0, &array, 1);
                ck_assert_uint_eq (result->item.status, FF_STATUS_OK);
            }
}

static void
s_job_free (s_job_t *job)
{
    for (size_t index = 0; index < job->count; index++)
        ff_result_reset (&job->results [index].result, 0);
}

/* ------------------------------------------------------------ feeding */

/* What one delivery run wrote besides its files. */
typedef struct {
    uint64_t emitted [S_MAX_RESULTS];   /* seqs of the records emitted, in order */
    size_t nemitted;                    /* how many */
    int fail_emit;                      /* 1: the emit callback fails */
} s_emitted_t;

static int
s_on_emit (void *arg, const ff_record_t *record)
{
    s_emitted_t *emitted = (s_emitted_t *) arg;
    ck_assert_uint_lt (emitted->nemitted, S_MAX_RESULTS);
    emitted->emitted [emitted->nemitted++] = record->seq;
    return emitted->fail_emit? -1: 0;
}

/* Makes a delivery writing to s_dir/out (and its joblog to s_dir/log). */
static ff_delivery_t *
s_delivery (const char *out, const char *log, ff_format_t format, s_emitted_t *emitted,
            int keep_state, int resume)
{
    char error [512] = "";
    ff_delivery_options_t options = {
        .output_path = s_path (out), .output_fd = -1, .format = format,
        .joblog_path = log? s_path (log): NULL, .keep_state = keep_state,
        .resume = resume, .signature = "job-1", .list_acks = 1,
        .emit = emitted? s_on_emit: NULL, .emit_arg = emitted
    };
    ff_delivery_t *delivery = ff_delivery_new (&options, error, sizeof (error));
    ck_assert_msg (delivery != NULL, "ff_delivery_new: %s", error);
    ff_delivery_check (delivery);
    return delivery;
}

static void
s_begin (ff_delivery_t *delivery, const s_job_t *job, uint64_t window)
{
    ck_assert_int_eq (ff_delivery_begin (delivery, job->kernels, job->nkernels, window,
                                         (int64_t) job->count), 0);
    ff_delivery_check (delivery);
}

/* The serial path: every result in seq order, straight from its item. */
static void
s_feed_serial (ff_delivery_t *delivery, const s_job_t *job)
{
    for (size_t index = 0; index < job->count; index++) {
        const s_result_t *result = &job->results [index];
        ck_assert_int_eq (ff_delivery_take (delivery, result->worker, &result->item),
                          FF_DELIVERY_WRITTEN);
        ff_delivery_check (delivery);
    }
}

/* The sink's path for one result: encoded in a result message of its
   worker, decoded as the sink decodes it, and taken. */
static ff_delivery_rc_t
s_take_via_codec (ff_delivery_t *delivery, ff_codec_t *codec, const s_result_t *result)
{
    ff_msg_t msg;
    ff_item_t item;
    ff_codec_result_begin (codec, "job-1", result->worker, 1);
    ff_codec_result_item (codec, &result->item);
    ck_assert_int_eq (ff_msg_decode (ff_codec_data (codec), ff_codec_size (codec), &msg), 0);
    ck_assert_int_eq (msg.type, FF_MSG_RESULT);
    ck_assert_uint_eq (msg.worker, result->worker);
    ck_assert_int_eq (ff_msg_next_item (&msg, &item), 1);
    ff_delivery_rc_t rc = ff_delivery_take (delivery, msg.worker, &item);
    ff_delivery_check (delivery);
    return rc;
}

/* The order the sink's path takes results in. */
typedef enum {
    S_SHUFFLED,                         /* random order within each window */
    S_REVERSED                          /* each window's results last first */
} s_order_t;

/* The sink's path: results window by window, in order within each, with
   a duplicate of a held one and of a written one in every window. Every
   result must be taken; each duplicate dropped. */
static void
s_feed_sink (ff_delivery_t *delivery, const s_job_t *job, s_order_t order, unsigned seed)
{
    ff_codec_t *codec = ff_codec_new ();
    ck_assert_ptr_nonnull (codec);
    size_t order_of [S_WINDOW];
    for (size_t base = 0; base < job->count; base += S_WINDOW) {
        size_t span = job->count - base < S_WINDOW? job->count - base: S_WINDOW, index;
        for (index = 0; index < span; index++)
            order_of [index] = order == S_REVERSED? span - 1 - index: index;
        for (index = span; order == S_SHUFFLED && index > 1; index--) {
            size_t other = (size_t) rand_r (&seed) % index, keep = order_of [index - 1];
            order_of [index - 1] = order_of [other];
            order_of [other] = keep;
        }
        for (index = 0; index < span; index++) {
            const s_result_t *result = &job->results [base + order_of [index]];
            ff_delivery_rc_t rc = s_take_via_codec (delivery, codec, result);
            ck_assert_msg (rc == FF_DELIVERY_WRITTEN || rc == FF_DELIVERY_HELD,
                           "seq %" PRIu64 ": outcome %d", result->item.seq, rc);
            if (index == 0 && rc == FF_DELIVERY_HELD)
                ck_assert_int_eq (s_take_via_codec (delivery, codec, result),
                                  FF_DELIVERY_DUPLICATE);
        }
        ck_assert_uint_eq (ff_delivery_written (delivery), base + span);
        ck_assert_int_eq (s_take_via_codec (delivery, codec, &job->results [base]),
                          FF_DELIVERY_DUPLICATE);
    }
    ff_codec_destroy (&codec);
}

/* Runs job through both paths in format and checks that they wrote the
   same output and joblog bytes, and emitted the same seqs in order. */
static void
s_assert_paths_agree (const s_job_t *job, ff_format_t format, s_order_t order, unsigned seed)
{
    s_emitted_t serial_emit, sink_emit;
    memset (&serial_emit, 0, sizeof (serial_emit));
    memset (&sink_emit, 0, sizeof (sink_emit));
    ff_delivery_t *serial = s_delivery ("a.out", "a.log", format, &serial_emit, 0, 0);
    ff_delivery_t *sink = s_delivery ("b.out", "b.log", format, &sink_emit, 1, 0);
    s_begin (serial, job, 1);
    s_begin (sink, job, S_WINDOW);
    s_feed_serial (serial, job);
    s_feed_sink (sink, job, order, seed);
    ck_assert_int_eq (ff_delivery_done (serial), 1);
    ck_assert_int_eq (ff_delivery_done (sink), 1);
    ck_assert_int_eq (ff_delivery_exit_status (serial), ff_delivery_exit_status (sink));
    const ff_delivery_counts_t *counts = ff_delivery_counts (sink);
    ck_assert_uint_eq (counts->delivered, job->count);
    ck_assert_uint_eq (counts->errors, ff_delivery_counts (serial)->errors);
    ck_assert_uint_eq (counts->write_failed, 0);
    ff_delivery_destroy (&serial);
    ff_delivery_destroy (&sink);
    ck_assert_ptr_null (sink);
    ff_delivery_destroy (&sink);
    s_assert_same_file (s_path ("a.out"), s_path ("b.out"), 1);
    s_assert_same_file (s_path ("a.log"), s_path ("b.log"), 1);
    ck_assert_uint_eq (s_lines (s_path ("a.log")), 1 + job->count);
    ck_assert_uint_eq (serial_emit.nemitted, sink_emit.nemitted);
    ck_assert_mem_eq (serial_emit.emitted, sink_emit.emitted,
                      serial_emit.nemitted * sizeof (uint64_t));
    /* in seq order, but a fold's record (named by its first chunk's seq)
       comes once its last chunk is in */
    for (size_t index = 1; index < sink_emit.nemitted && job->results [0].item.chunks == 1; index++)
        ck_assert_uint_lt (sink_emit.emitted [index - 1], sink_emit.emitted [index]);
}

/* ------------------------------------------------- serial and sink agree */

START_TEST (test_sink_and_serial_paths_write_the_same_raw_bytes_when_results_arrive_shuffled)
{
    static s_job_t job;
    s_job_plain (&job, 200);
    s_assert_paths_agree (&job, FF_FORMAT_RAW, S_SHUFFLED, 7);
    /* raw holds every ok body back to back, JSON ones as lines */
    size_t size;
    char *data = s_slurp (s_path ("b.out"), &size);
    s_assert_has (data, size, "line 198\n");
    s_assert_has (data, size, "{\"n\":199,\"quote\":\"\\\"\"}\n");
    s_assert_lacks (data, size, "worker died");
    free (data);
    s_job_free (&job);
}
END_TEST

START_TEST (test_sink_and_serial_paths_write_the_same_jsonl_when_results_arrive_reversed)
{
    static s_job_t job;
    s_job_plain (&job, 200);
    s_assert_paths_agree (&job, FF_FORMAT_JSONL, S_REVERSED, 0);
    ck_assert_uint_eq (s_lines (s_path ("b.out")), 200);
    size_t size;
    char *data = s_slurp (s_path ("b.out"), &size);
    /* a ventilator's error record, and a JSON result with its meta member */
    s_assert_has (data, size, "{\"seq\":5,\"input\":\"in\\t2\\\\\",\"kernel\":"
                                   "\"report\",\"status\":\"error\",\"error\":\"task failed 3 "
                                   "times: worker died\"}\n");
    s_assert_has (data, size, "\"result\":{\"n\":3,\"quote\":\"\\\"\",\"exit\":0}}");
    s_assert_has (data, size, "{\"seq\":14,");
    s_assert_has (data, size, "\"base64\":");
    free (data);
    s_job_free (&job);
}
END_TEST

START_TEST (test_sink_and_serial_paths_fold_chunks_the_same_when_they_arrive_reversed_or_shuffled)
{
    static s_job_t job;
    s_job_folded (&job, 3, 4);
    s_assert_paths_agree (&job, FF_FORMAT_JSONL, S_REVERSED, 0);
    /* one line per input for stats, one per chunk for noop */
    ck_assert_uint_eq (s_lines (s_path ("b.out")), 3 + 3 * 4);
    size_t size;
    char *data = s_slurp (s_path ("b.out"), &size);
    s_assert_has (data, size, "\"count\":64");
    s_assert_has (data, size, "chunk 2 of 4: chunk lost three times");
    free (data);
    s_assert_paths_agree (&job, FF_FORMAT_JSONL, S_SHUFFLED, 3);
    s_assert_paths_agree (&job, FF_FORMAT_RAW, S_SHUFFLED, 4);
    s_job_free (&job);
}
END_TEST

START_TEST (test_joblog_names_the_worker_and_the_attempts_of_each_task_and_zero_for_the_ventilator)
{
    static s_job_t job;
    s_job_plain (&job, 40);
    s_assert_paths_agree (&job, FF_FORMAT_JSONL, S_SHUFFLED, 11);
    size_t size;
    char *data = s_slurp (s_path ("b.log"), &size);
    ck_assert_uint_ge (size, strlen (FF_DELIVERY_JOBLOG_HEADER));
    ck_assert_mem_eq (data, FF_DELIVERY_JOBLOG_HEADER, strlen (FF_DELIVERY_JOBLOG_HEADER));
    /* parallel's columns (Seq from 1, Host, Starttime, JobRuntime, Send,
       Receive, Exitval, Signal, Command), then Worker, Attempts, Status
       and the input escaped. seq 5: the ventilator's error record after 3
       dispatches; no command ran (Exitval -1) */
    s_assert_has (data, size, "\n6\t:\t0.000\t     0.000\t0\t0\t-1\t0\treport in\t2\\"
                              "\t0\t3\terror\tin\\t2\\\\\n");
    /* seq 4: sent again once, run twice there: three attempts; escapes */
    s_assert_has (data, size, "\n5\t:\t1700000000.012\t     0.000\t0\t7\t0\t0\tnoop in\t2\\"
                              "\t2\t3\tok\tin\\t2\\\\\n");
    /* seq 10: the newline of its input name is escaped in Input */
    s_assert_has (data, size, "ok\tin\\t5\\\\\\n\n");
    free (data);
    s_job_free (&job);
}
END_TEST

START_TEST (test_duplicates_are_dropped_counted_and_acked_once)
{
    static s_job_t job;
    s_job_plain (&job, 8);
    ff_delivery_t *delivery = s_delivery ("a.out", NULL, FF_FORMAT_JSONL, NULL, 0, 0);
    s_begin (delivery, &job, 4);
    static const size_t order [] = { 2, 2, 0, 0, 1, 3, 1, 3 };
    static const ff_delivery_rc_t expect [] = {
        FF_DELIVERY_HELD, FF_DELIVERY_DUPLICATE, FF_DELIVERY_WRITTEN, FF_DELIVERY_DUPLICATE,
        FF_DELIVERY_WRITTEN, FF_DELIVERY_WRITTEN, FF_DELIVERY_DUPLICATE, FF_DELIVERY_DUPLICATE
    };
    for (size_t index = 0; index < 8; index++) {
        const s_result_t *result = &job.results [order [index]];
        ck_assert_int_eq (ff_delivery_take (delivery, result->worker, &result->item),
                          expect [index]);
        ff_delivery_check (delivery);
    }
    ck_assert_uint_eq (ff_delivery_written (delivery), 4);
    ck_assert_uint_eq (ff_delivery_counts (delivery)->duplicates, 4);
    size_t count;
    const uint64_t *acks = ff_delivery_acks (delivery, &count);
    ck_assert_uint_eq (count, 4);
    static const uint64_t acked [] = { 2, 0, 1, 3 };
    ck_assert_mem_eq (acks, acked, sizeof (acked));
    ff_delivery_acks_clear (delivery);
    ff_delivery_acks (delivery, &count);
    ck_assert_uint_eq (count, 0);
    ck_assert_int_eq (ff_delivery_done (delivery), 0);
    ff_delivery_destroy (&delivery);
    ck_assert_uint_eq (s_lines (s_path ("a.out")), 4);
    s_job_free (&job);
}
END_TEST

/* Replays random arrival orders with duplicates and far seqs against a
   plain model (a seq is taken once, written when all below it are);
   FF_DELIVERY_SEED=N replays one run. */
START_TEST (test_random_arrival_orders_write_exactly_what_the_model_says)
{
    static s_job_t job;
    s_job_plain (&job, 120);
    const char *given = getenv ("FF_DELIVERY_SEED");
    unsigned first_seed = given? (unsigned) strtoul (given, NULL, 10): 1;
    unsigned runs = given? 1: 60;
    ff_delivery_t *reference = s_delivery ("once.out", NULL, FF_FORMAT_JSONL, NULL, 0, 0);
    s_begin (reference, &job, 1);
    s_feed_serial (reference, &job);
    ff_delivery_destroy (&reference);
    for (unsigned seed = first_seed; seed < first_seed + runs; seed++) {
        unsigned state = seed;
        uint64_t window = 1 + (uint64_t) rand_r (&state) % 24, written = 0;
        int taken [S_MAX_RESULTS] = { 0 };
        ff_delivery_t *delivery = s_delivery ("a.out", NULL, FF_FORMAT_JSONL, NULL, 0, 0);
        s_begin (delivery, &job, window);
        while (written < job.count) {
            /* mostly within the window, sometimes behind or past it */
            uint64_t seq = written + (uint64_t) rand_r (&state) % (window + 2);
            if (seq >= 2 && rand_r (&state) % 8 == 0)
                seq -= 2;
            if (seq >= job.count)
                continue;
            const s_result_t *result = &job.results [seq];
            ff_delivery_rc_t rc = ff_delivery_take (delivery, result->worker, &result->item),
                             want = taken [seq]? FF_DELIVERY_DUPLICATE
                                  : seq - written >= window? FF_DELIVERY_OUT_OF_WINDOW
                                  : seq == written? FF_DELIVERY_WRITTEN: FF_DELIVERY_HELD;
            ck_assert_msg (rc == want, "seed %u: seq %" PRIu64 " (written %" PRIu64
                           ", window %" PRIu64 "): outcome %d, model %d", seed, seq,
                           written, window, rc, want);
            if (rc == FF_DELIVERY_WRITTEN || rc == FF_DELIVERY_HELD)
                taken [seq] = 1;
            while (written < job.count && taken [written])
                written++;
            ck_assert_msg (ff_delivery_written (delivery) == written, "seed %u", seed);
            ff_delivery_check (delivery);
        }
        ff_delivery_destroy (&delivery);
        s_assert_same_file (s_path ("once.out"), s_path ("a.out"), 1);
    }
    s_job_free (&job);
}
END_TEST

/* -------------------------------------------------------------- resume */

START_TEST (test_checkpoint_records_what_is_written_and_a_resumed_delivery_skips_it)
{
    static s_job_t job;
    s_job_plain (&job, 100);
    ff_delivery_t *once = s_delivery ("once.out", NULL, FF_FORMAT_JSONL, NULL, 0, 0);
    s_begin (once, &job, 1);
    s_feed_serial (once, &job);
    ff_delivery_destroy (&once);

    ff_delivery_t *first = s_delivery ("a.out", "a.log", FF_FORMAT_JSONL, NULL, 1, 0);
    s_begin (first, &job, S_WINDOW);
    ck_assert_str_eq (ff_delivery_state_path (first), s_path ("a.out" FF_STATE_SUFFIX));
    ck_assert_int_eq (ff_delivery_checkpoint (first, 1000, 0), FF_CHECKPOINT_SKIPPED);
    for (size_t index = 0; index < 40; index++)
        ff_delivery_take (first, job.results [index].worker, &job.results [index].item);
    ff_delivery_take (first, job.results [45].worker, &job.results [45].item);  /* held */
    ck_assert_int_eq (ff_delivery_checkpoint (first, 1000, 0), FF_CHECKPOINT_SAVED);
    ff_delivery_check (first);
    ff_state_t state;
    ck_assert_int_eq (ff_state_load (s_path ("a.out" FF_STATE_SUFFIX), &state), 0);
    ck_assert_uint_eq (state.written, 40);
    ck_assert_str_eq (state.signature, "job-1");
    struct stat info;
    ck_assert_int_eq (stat (s_path ("a.out"), &info), 0);
    ck_assert_uint_eq (state.bytes, (uint64_t) info.st_size);
    /* more results soon after: not checkpointed yet, unless forced */
    for (size_t index = 40; index < 45; index++)
        ff_delivery_take (first, job.results [index].worker, &job.results [index].item);
    ck_assert_uint_eq (ff_delivery_written (first), 46);
    ck_assert_int_eq (ff_delivery_checkpoint (first, 1200, 0), FF_CHECKPOINT_SKIPPED);
    ck_assert_int_eq (ff_delivery_flush (first), 0);
    /* killed here: the output holds more than the state says */
    ff_delivery_destroy (&first);
    ck_assert_int_eq (stat (s_path ("a.out"), &info), 0);
    ck_assert_uint_gt ((uint64_t) info.st_size, state.bytes);

    ff_delivery_t *second = s_delivery ("a.out", "a.log", FF_FORMAT_JSONL, NULL, 1, 1);
    ck_assert_int_eq (stat (s_path ("a.out"), &info), 0);
    ck_assert_uint_eq ((uint64_t) info.st_size, state.bytes);
    ck_assert_uint_eq (ff_delivery_written (second), 40);
    ck_assert_uint_eq (ff_delivery_counts (second)->first, 40);
    ck_assert_uint_eq (ff_delivery_counts (second)->errors, state.errors);
    s_begin (second, &job, S_WINDOW);
    size_t count;
    ff_delivery_acks (second, &count);
    ck_assert_uint_eq (count, 0);
    for (size_t index = 0; index < job.count; index++)
        ck_assert_int_eq (ff_delivery_take (second, job.results [index].worker,
                                            &job.results [index].item),
                          index < 40? FF_DELIVERY_DUPLICATE: FF_DELIVERY_WRITTEN);
    ck_assert_int_eq (ff_delivery_done (second), 1);
    ck_assert_uint_eq (ff_delivery_counts (second)->delivered, 60);
    ck_assert_int_eq (ff_delivery_checkpoint (second, 1300, 1), FF_CHECKPOINT_SAVED);
    ck_assert_int_eq (ff_delivery_exit_status (second), FF_EXIT_TASKS_FAILED);
    ff_delivery_destroy (&second);
    s_assert_same_file (s_path ("once.out"), s_path ("a.out"), 1);
    ck_assert_int_eq (ff_state_load (s_path ("a.out" FF_STATE_SUFFIX), &state), 0);
    ck_assert_uint_eq (state.written, 100);
    /* the joblog was appended to, without a second header */
    size_t size;
    char *data = s_slurp (s_path ("a.log"), &size);
    s_assert_lacks (data + 1, size - 1, "seq\tworker");
    free (data);
    s_job_free (&job);
}
END_TEST

START_TEST (test_a_checkpoint_keeps_the_first_input_mark_past_what_is_written_and_resume_returns_it)
{
    static s_job_t job;
    s_job_plain (&job, 100);
    ff_delivery_t *first = s_delivery ("m.out", NULL, FF_FORMAT_RAW, NULL, 1, 0);
    s_begin (first, &job, S_WINDOW);
    ff_delivery_mark (first, 10, 0x1010);
    ff_delivery_mark (first, 30, 0x3030);
    ff_delivery_mark (first, 20, 0x2020);    /* not rising: ignored */
    ff_delivery_mark (first, 50, 0x5050);
    for (size_t index = 0; index < 25; index++)
        ff_delivery_take (first, job.results [index].worker, &job.results [index].item);
    ck_assert_int_eq (ff_delivery_checkpoint (first, 1000, 1), FF_CHECKPOINT_SAVED);
    ff_delivery_check (first);
    ff_state_t state;
    ck_assert_int_eq (ff_state_load (s_path ("m.out" FF_STATE_SUFFIX), &state), 0);
    ck_assert_int_eq (state.marked, 1);
    ck_assert_uint_eq (state.input_seq, 30);
    ck_assert_uint_eq (state.input_hash, 0x3030);
    /* written past every mark: no checkpoint until a mark covers it */
    for (size_t index = 25; index < 55; index++)
        ff_delivery_take (first, job.results [index].worker, &job.results [index].item);
    ck_assert_int_eq (ff_delivery_checkpoint (first, 3000, 1), FF_CHECKPOINT_SKIPPED);
    ff_delivery_mark (first, 60, 0x6060);
    ck_assert_int_eq (ff_delivery_checkpoint (first, 4000, 1), FF_CHECKPOINT_SAVED);
    ck_assert_int_eq (ff_state_load (s_path ("m.out" FF_STATE_SUFFIX), &state), 0);
    ck_assert_uint_eq (state.written, 55);
    ck_assert_uint_eq (state.input_seq, 60);
    ff_delivery_destroy (&first);

    ff_delivery_t *second = s_delivery ("m.out", NULL, FF_FORMAT_RAW, NULL, 1, 1);
    uint64_t seq = 0, hash = 0;
    ck_assert_int_eq (ff_delivery_resumed_mark (second, &seq, &hash), 1);
    ck_assert_uint_eq (seq, 60);
    ck_assert_uint_eq (hash, 0x6060);
    ff_delivery_destroy (&second);
    /* more marks than are held: the newest stays, ahead of what is written */
    ff_delivery_t *third = s_delivery ("n.out", NULL, FF_FORMAT_RAW, NULL, 1, 0);
    s_begin (third, &job, S_WINDOW);
    for (uint64_t mark = 1; mark <= 3 * FF_DELIVERY_MAX_MARKS; mark++)
        ff_delivery_mark (third, mark, mark);
    ff_delivery_check (third);
    for (size_t index = 0; index < 99; index++)
        ff_delivery_take (third, job.results [index].worker, &job.results [index].item);
    ck_assert_int_eq (ff_delivery_checkpoint (third, 1000, 1), FF_CHECKPOINT_SAVED);
    ck_assert_int_eq (ff_state_load (s_path ("n.out" FF_STATE_SUFFIX), &state), 0);
    ck_assert_uint_eq (state.input_seq, 3 * FF_DELIVERY_MAX_MARKS);
    ck_assert_int_eq (ff_delivery_resumed_mark (third, &seq, &hash), 0);
    ff_delivery_destroy (&third);
    s_job_free (&job);
}
END_TEST

START_TEST (test_a_resumed_delivery_refuses_a_total_below_what_was_written)
{
    static s_job_t job;
    s_job_plain (&job, 40);
    ff_delivery_t *first = s_delivery ("f.out", NULL, FF_FORMAT_RAW, NULL, 1, 0);
    s_begin (first, &job, S_WINDOW);
    for (size_t index = 0; index < 30; index++)
        ff_delivery_take (first, job.results [index].worker, &job.results [index].item);
    ck_assert_int_eq (ff_delivery_checkpoint (first, 1000, 1), FF_CHECKPOINT_SAVED);
    ff_delivery_destroy (&first);
    /* the job now has 20 tasks, known at once or later: it could never end */
    ff_delivery_t *known = s_delivery ("f.out", NULL, FF_FORMAT_RAW, NULL, 1, 1);
    ck_assert_int_eq (ff_delivery_begin (known, job.kernels, job.nkernels, S_WINDOW, 20), -1);
    ck_assert_int_eq (errno, ERANGE);
    ff_delivery_check (known);
    ff_delivery_destroy (&known);
    ff_delivery_t *later = s_delivery ("f.out", NULL, FF_FORMAT_RAW, NULL, 1, 1);
    ck_assert_int_eq (ff_delivery_begin (later, job.kernels, job.nkernels, S_WINDOW, -1), 0);
    ck_assert_int_eq (ff_delivery_set_total (later, 29), -1);
    ck_assert_int_eq (errno, ERANGE);
    ck_assert_int_eq (ff_delivery_counts (later)->total, -1);
    ck_assert_int_eq (ff_delivery_set_total (later, 30), 1);
    ck_assert_int_eq (ff_delivery_done (later), 1);
    ff_delivery_check (later);
    ff_delivery_destroy (&later);
    s_job_free (&job);
}
END_TEST

START_TEST (test_resume_refuses_the_state_of_another_job_and_starts_over_without_one)
{
    char error [512] = "", output [256], state_path [256];
    snprintf (output, sizeof (output), "%s", s_path ("a.out"));
    snprintf (state_path, sizeof (state_path), "%s", s_path ("a.out" FF_STATE_SUFFIX));
    ff_delivery_options_t options = {
        .output_path = output, .format = FF_FORMAT_RAW, .keep_state = 1,
        .resume = 1, .signature = "job-1"
    };
    ff_delivery_t *delivery = ff_delivery_new (&options, error, sizeof (error));
    ck_assert_ptr_nonnull (delivery);       /* no state file: from the beginning */
    ck_assert_uint_eq (ff_delivery_written (delivery), 0);
    ff_delivery_destroy (&delivery);
    ff_state_t state = { .signature = "job-2", .written = 0, .bytes = 0 };
    ck_assert_int_eq (ff_state_save (state_path, &state), 0);
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "belongs to a different job"));
    state = (ff_state_t) { .signature = "job-1", .written = 3, .bytes = 1000 };
    ck_assert_int_eq (ff_state_save (state_path, &state), 0);
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "is shorter than"));
}
END_TEST


START_TEST (test_a_checkpoint_in_the_middle_of_a_fold_keeps_it_and_the_resumed_fold_goes_on)
{
    static s_job_t job;
    s_job_folded (&job, 3, 4);          /* 8 seqs per input: seq 10 is mid-fold */
    ff_delivery_t *once = s_delivery ("once.out", NULL, FF_FORMAT_JSONL, NULL, 0, 0);
    s_begin (once, &job, 1);
    s_feed_serial (once, &job);
    ff_delivery_destroy (&once);

    ff_delivery_t *first = s_delivery ("a.out", NULL, FF_FORMAT_JSONL, NULL, 1, 0);
    s_begin (first, &job, S_WINDOW);
    for (size_t index = 0; index < 11; index++)
        ff_delivery_take (first, job.results [index].worker, &job.results [index].item);
    ck_assert_int_eq (ff_delivery_checkpoint (first, 1000, 1), FF_CHECKPOINT_SAVED);
    ff_delivery_destroy (&first);       /* killed here, in input 1's fold */
    ff_state_t state;
    ck_assert_int_eq (ff_state_load (s_path ("a.out" FF_STATE_SUFFIX), &state), 0);
    ck_assert_uint_eq (state.written, 11);
    ck_assert_ptr_nonnull (strstr (state.folds, "fold 0 8 2 0 "));

    ff_delivery_t *second = s_delivery ("a.out", NULL, FF_FORMAT_JSONL, NULL, 1, 1);
    s_begin (second, &job, S_WINDOW);
    for (size_t index = 0; index < job.count; index++)
        ck_assert_int_eq (ff_delivery_take (second, job.results [index].worker,
                                            &job.results [index].item),
                          index < 11? FF_DELIVERY_DUPLICATE: FF_DELIVERY_WRITTEN);
    ck_assert_int_eq (ff_delivery_done (second), 1);
    ff_delivery_destroy (&second);
    s_assert_same_file (s_path ("once.out"), s_path ("a.out"), 1);
    s_job_free (&job);
}
END_TEST

START_TEST (test_a_second_delivery_on_the_same_output_is_refused_before_it_cuts_anything)
{
    static s_job_t job;
    char error [512] = "";
    s_job_plain (&job, 20);
    ff_delivery_t *first = s_delivery ("a.out", NULL, FF_FORMAT_RAW, NULL, 1, 0);
    s_begin (first, &job, S_WINDOW);
    for (size_t index = 0; index < 10; index++)
        ff_delivery_take (first, job.results [index].worker, &job.results [index].item);
    ck_assert_int_eq (ff_delivery_flush (first), 0);
    struct stat before, after;
    ck_assert_int_eq (stat (s_path ("a.out"), &before), 0);
    ck_assert_int_gt (before.st_size, 0);
    ff_delivery_options_t options = {
        .output_path = s_path ("a.out"), .format = FF_FORMAT_RAW, .signature = "job-2"
    };
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "another fanfold job"));
    ck_assert_int_eq (stat (s_path ("a.out"), &after), 0);
    ck_assert_int_eq (after.st_size, before.st_size);
    ff_delivery_destroy (&first);       /* the lock goes with it */
    ff_delivery_t *again = ff_delivery_new (&options, error, sizeof (error));
    ck_assert_msg (again != NULL, "%s", error);
    ff_delivery_destroy (&again);
    s_job_free (&job);
}
END_TEST

START_TEST (test_a_joblog_that_is_the_output_file_is_refused)
{
    char error [512] = "", output [256];
    snprintf (output, sizeof (output), "%s", s_path ("a.out"));
    ff_delivery_options_t options = {
        .output_path = output, .format = FF_FORMAT_RAW, .joblog_path = output
    };
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "is the output file"));
    /* the same file under another name */
    ck_assert_int_eq (link (output, s_path ("b.log")), 0);
    options.joblog_path = s_path ("b.log");
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "is the output file"));
    unlink (s_path ("b.log"));
}
END_TEST

START_TEST (test_a_device_output_is_a_stream_without_state_and_refuses_resume)
{
    static s_job_t job;
    char error [512] = "";
    s_job_plain (&job, 20);
    ff_delivery_options_t options = {
        .output_path = "/dev/null", .format = FF_FORMAT_RAW, .keep_state = 1
    };
    ff_delivery_t *delivery = ff_delivery_new (&options, error, sizeof (error));
    ck_assert_msg (delivery != NULL, "%s", error);
    ck_assert_str_eq (ff_delivery_state_path (delivery), "");
    s_begin (delivery, &job, S_WINDOW);
    s_feed_serial (delivery, &job);
    ck_assert_int_eq (ff_delivery_checkpoint (delivery, 1000, 1), FF_CHECKPOINT_SKIPPED);
    ck_assert_int_eq (ff_delivery_flush (delivery), 0);
    ck_assert_int_eq (ff_delivery_counts (delivery)->write_failed, 0);
    ff_delivery_destroy (&delivery);
    options.resume = 1;
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "needs a regular file"));
    s_job_free (&job);
}
END_TEST

/* Takes count results of kernel exec whose command failed (meta "failed")
   and one ok result, writing to a.out in format. */
static ff_delivery_t *
s_failed_commands (size_t count, ff_format_t format)
{
    ff_str_t kernels [1] = { ff_str ("exec") };
    ff_delivery_t *delivery = s_delivery ("a.out", NULL, format, NULL, 0, 0);
    static const char meta [] = "\"exit\":1,\"failed\":\"command exited with status 1\"";
    ck_assert_int_eq (ff_delivery_begin (delivery, kernels, 1, S_WINDOW, (int64_t) count + 1), 0);
    for (size_t seq = 0; seq <= count; seq++) {
        ff_item_t item = {
            .seq = seq, .kernel = 0, .input = ff_str ("x"), .attempt = 1, .tries = 1,
            .status = seq < count? FF_STATUS_ERROR: FF_STATUS_OK, .kind = FF_KIND_BYTES,
            .data = ff_str (seq < count? "out\n": "ok\n"),
            .meta = seq < count? ff_str (meta): ff_str ("\"exit\":0"), .chunks = 1
        };
        ck_assert_int_eq (ff_delivery_take (delivery, 1, &item), FF_DELIVERY_WRITTEN);
    }
    ck_assert_int_eq (ff_delivery_flush (delivery), 0);
    return delivery;
}

START_TEST (test_failed_commands_write_their_output_and_the_exit_status_is_their_count)
{
    ff_delivery_t *delivery = s_failed_commands (3, FF_FORMAT_RAW);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), 3);
    ff_delivery_destroy (&delivery);
    size_t size;
    char *data = s_slurp (s_path ("a.out"), &size);
    ck_assert_uint_eq (size, 15);
    ck_assert_mem_eq (data, "out\nout\nout\nok\n", 15);
    free (data);
    delivery = s_failed_commands (120, FF_FORMAT_RAW);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), FF_EXIT_FAILED_MAX);
    ff_delivery_destroy (&delivery);
    delivery = s_failed_commands (1, FF_FORMAT_JSONL);
    ff_delivery_destroy (&delivery);
    data = s_slurp (s_path ("a.out"), &size);
    s_assert_has (data, size, "{\"seq\":0,\"input\":\"x\",\"kernel\":\"exec\",\"status\":\"error\","
                  "\"error\":\"command exited with status 1\",\"exit\":1,"
                  "\"result\":{\"text\":\"out\\n\"}}\n");
    free (data);
}
END_TEST

/* -------------------------------------------------------------- limits */

START_TEST (test_a_seq_past_the_window_is_refused_and_not_acked)
{
    static s_job_t job;
    s_job_plain (&job, 20);
    ff_delivery_t *delivery = s_delivery ("a.out", NULL, FF_FORMAT_RAW, NULL, 0, 0);
    s_begin (delivery, &job, 4);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [4].item),
                      FF_DELIVERY_OUT_OF_WINDOW);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [3].item), FF_DELIVERY_HELD);
    size_t count;
    ff_delivery_acks (delivery, &count);
    ck_assert_uint_eq (count, 1);
    ck_assert_uint_eq (ff_delivery_counts (delivery)->refused, 1);
    ff_delivery_check (delivery);
    ff_delivery_destroy (&delivery);
    s_job_free (&job);
}
END_TEST

START_TEST (test_an_item_outside_the_job_or_before_it_is_refused)
{
    static s_job_t job;
    s_job_plain (&job, 4);
    ff_delivery_t *delivery = s_delivery ("a.out", NULL, FF_FORMAT_RAW, NULL, 0, 0);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [0].item), FF_DELIVERY_REFUSED);
    size_t count;
    ck_assert_ptr_null (ff_delivery_acks (delivery, &count));
    ck_assert_uint_eq (count, 0);
    s_begin (delivery, &job, 8);
    ff_item_t item = job.results [0].item;
    item.kernel = 2;                        /* the job has two kernels */
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &item), FF_DELIVERY_REFUSED);
    item = job.results [0].item;
    item.seq = 4;                           /* the job has four tasks */
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &item), FF_DELIVERY_REFUSED);
    item.seq = UINT64_MAX;
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &item), FF_DELIVERY_REFUSED);
    ck_assert_uint_eq (ff_delivery_counts (delivery)->refused, 4);
    ck_assert_uint_eq (ff_delivery_written (delivery), 0);
    ff_delivery_check (delivery);
    /* a total given later is kept only once */
    ff_delivery_destroy (&delivery);
    delivery = s_delivery ("a.out", NULL, FF_FORMAT_RAW, NULL, 0, 0);
    ck_assert_int_eq (ff_delivery_begin (delivery, job.kernels, job.nkernels, 8, -1), 0);
    ck_assert_int_eq (ff_delivery_done (delivery), 0);
    ck_assert_int_eq (ff_delivery_set_total (delivery, -1), 0);
    ck_assert_int_eq (ff_delivery_set_total (delivery, 2), 1);
    ck_assert_int_eq (ff_delivery_set_total (delivery, 4), 0);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [2].item), FF_DELIVERY_REFUSED);
    ff_delivery_destroy (&delivery);
    s_job_free (&job);
}
END_TEST

START_TEST (test_begin_refuses_a_zero_window_no_kernels_and_a_second_job)
{
    static s_job_t job;
    s_job_plain (&job, 2);
    ff_delivery_t *delivery = s_delivery ("a.out", NULL, FF_FORMAT_RAW, NULL, 0, 0);
    errno = 0;
    ck_assert_int_eq (ff_delivery_begin (delivery, job.kernels, job.nkernels, 0, 2), -1);
    ck_assert_int_eq (errno, EINVAL);
    ck_assert_int_eq (ff_delivery_begin (delivery, job.kernels, 0, 4, 2), -1);
    ck_assert_int_eq (ff_delivery_begin (delivery, job.kernels, FF_MAX_KERNELS + 1, 4, 2), -1);
    ff_delivery_check (delivery);
    s_begin (delivery, &job, 4);
    errno = 0;
    ck_assert_int_eq (ff_delivery_begin (delivery, job.kernels, job.nkernels, 4, 2), -1);
    ck_assert_int_eq (errno, EINVAL);
    ff_delivery_destroy (&delivery);
    s_job_free (&job);
}
END_TEST

START_TEST (test_an_output_that_cannot_be_opened_is_named_in_the_error)
{
    char error [512] = "";
    ff_delivery_options_t options = {
        .output_path = "/nonexistent-dir/out", .format = FF_FORMAT_RAW
    };
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "/nonexistent-dir/out: cannot open for writing"));
    options.output_path = s_path ("a.out");
    options.joblog_path = "/nonexistent-dir/log";
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "/nonexistent-dir/log: cannot open for writing"));
    options.joblog_path = NULL;
    options.signature = "two words";
    ck_assert_ptr_null (ff_delivery_new (&options, error, sizeof (error)));
    ck_assert_ptr_nonnull (strstr (error, "--signature"));
}
END_TEST

START_TEST (test_a_failed_write_is_returned_counted_and_makes_the_exit_status_an_error)
{
    static s_job_t job;
    s_job_plain (&job, 4);
    /* a body too large for the buffer goes straight to the descriptor */
    s_result_t *big = &job.results [2];
    ck_assert_int_eq (big->item.status, FF_STATUS_OK);
    big->result.data.size = 0;
    for (size_t index = 0; index < (300 << 10) / 8; index++)
        ff_buf_puts (&big->result.data, "01234567");
    big->item.data = (ff_str_t) { (const char *) big->result.data.data, big->result.data.size };
    char error [512] = "";
    ff_delivery_options_t options = {
        .output_path = "/dev/full", .format = FF_FORMAT_RAW, .list_acks = 1
    };
    ff_delivery_t *delivery = ff_delivery_new (&options, error, sizeof (error));
    ck_assert_msg (delivery != NULL, "%s", error);
    s_begin (delivery, &job, 4);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [1].item), FF_DELIVERY_HELD);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [2].item), FF_DELIVERY_HELD);
    /* seq 0 releases 1 and 2: the write of 2 fails, and is said */
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [0].item),
                      FF_DELIVERY_WRITE_FAILED);
    const ff_delivery_counts_t *counts = ff_delivery_counts (delivery);
    ck_assert_int_eq (counts->write_failed, 1);
    ck_assert_int_eq (counts->write_errno, ENOSPC);
    ck_assert_uint_eq (ff_delivery_written (delivery), 3);
    size_t count;
    ff_delivery_acks (delivery, &count);
    ck_assert_uint_eq (count, 3);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), FF_EXIT_ERROR);
    ck_assert_str_eq (ff_delivery_output_name (delivery), "/dev/full");
    ff_delivery_check (delivery);
    ff_delivery_destroy (&delivery);

    /* a small one fails when the buffer is flushed */
    delivery = ff_delivery_new (&options, error, sizeof (error));
    s_begin (delivery, &job, 4);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [0].item), FF_DELIVERY_WRITTEN);
    ck_assert_int_eq (ff_delivery_flush (delivery), -1);
    ck_assert_int_eq (ff_delivery_counts (delivery)->write_failed, 1);
    ck_assert_int_eq (ff_delivery_exit_status (delivery), FF_EXIT_ERROR);
    ff_delivery_destroy (&delivery);
    s_job_free (&job);
}
END_TEST

START_TEST (test_a_failed_checkpoint_says_which_file_failed)
{
    static s_job_t job;
    s_job_plain (&job, 4);
    ff_delivery_t *delivery = s_delivery ("a.out", NULL, FF_FORMAT_JSONL, NULL, 1, 0);
    s_begin (delivery, &job, 4);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [0].item), FF_DELIVERY_WRITTEN);
    /* a directory where the state file's temporary file goes */
    ck_assert_int_eq (mkdir (s_path ("a.out" FF_STATE_SUFFIX ".tmp"), 0700), 0);
    ck_assert_int_eq (ff_delivery_checkpoint (delivery, 5000, 1), FF_CHECKPOINT_STATE_FAILED);
    ck_assert_int_eq (rmdir (s_path ("a.out" FF_STATE_SUFFIX ".tmp")), 0);
    ck_assert_int_eq (ff_delivery_checkpoint (delivery, 5001, 0), FF_CHECKPOINT_SKIPPED);
    ck_assert_int_eq (ff_delivery_checkpoint (delivery, 5001, 1), FF_CHECKPOINT_SAVED);
    ff_delivery_check (delivery);
    ff_delivery_destroy (&delivery);
    s_job_free (&job);
}
END_TEST

START_TEST (test_a_failed_emit_is_returned_and_the_record_still_written)
{
    static s_job_t job;
    s_job_plain (&job, 4);
    s_emitted_t emitted;
    memset (&emitted, 0, sizeof (emitted));
    emitted.fail_emit = 1;
    ff_delivery_t *delivery = s_delivery ("a.out", NULL, FF_FORMAT_JSONL, &emitted, 0, 0);
    s_begin (delivery, &job, 4);
    ck_assert_int_eq (ff_delivery_take (delivery, 1, &job.results [0].item),
                      FF_DELIVERY_EMIT_FAILED);
    ck_assert_uint_eq (emitted.nemitted, 1);
    ck_assert_uint_eq (ff_delivery_written (delivery), 1);
    ff_delivery_destroy (&delivery);
    ck_assert_uint_eq (s_lines (s_path ("a.out")), 1);
    s_job_free (&job);
}
END_TEST

START_TEST (test_a_full_ack_list_counts_the_seqs_it_could_not_list)
{
    static s_job_t job;
    s_job_plain (&job, 2);
    ff_delivery_t *delivery = s_delivery ("a.out", NULL, FF_FORMAT_RAW, NULL, 0, 0);
    ff_str_t kernels [1] = { ff_str ("noop") };
    ck_assert_int_eq (ff_delivery_begin (delivery, kernels, 1, 4, -1), 0);
    ff_item_t item = job.results [0].item;
    for (uint64_t seq = 0; seq < FF_MAX_ACK_SEQS + 3; seq++) {
        item.seq = seq;
        ck_assert_int_eq (ff_delivery_take (delivery, 1, &item), FF_DELIVERY_WRITTEN);
    }
    size_t count;
    ff_delivery_acks (delivery, &count);
    ck_assert_uint_eq (count, FF_MAX_ACK_SEQS);
    ck_assert_uint_eq (ff_delivery_counts (delivery)->unlisted_acks, 3);
    ck_assert_uint_eq (ff_delivery_written (delivery), FF_MAX_ACK_SEQS + 3);
    ff_delivery_check (delivery);
    ff_delivery_destroy (&delivery);
    s_job_free (&job);
}
END_TEST

Suite *
delivery_suite (void)
{
    Suite *suite = suite_create ("delivery");
    TCase *paths = tcase_create ("paths");
    tcase_add_checked_fixture (paths, s_setup, s_teardown);
    tcase_set_timeout (paths, 60);
    tcase_add_test (paths, test_sink_and_serial_paths_write_the_same_raw_bytes_when_results_arrive_shuffled);
    tcase_add_test (paths, test_sink_and_serial_paths_write_the_same_jsonl_when_results_arrive_reversed);
    tcase_add_test (paths, test_sink_and_serial_paths_fold_chunks_the_same_when_they_arrive_reversed_or_shuffled);
    tcase_add_test (paths, test_joblog_names_the_worker_and_the_attempts_of_each_task_and_zero_for_the_ventilator);
    tcase_add_test (paths, test_duplicates_are_dropped_counted_and_acked_once);
    tcase_add_test (paths, test_random_arrival_orders_write_exactly_what_the_model_says);
    suite_add_tcase (suite, paths);
    TCase *resume = tcase_create ("resume");
    tcase_add_checked_fixture (resume, s_setup, s_teardown);
    tcase_add_test (resume, test_checkpoint_records_what_is_written_and_a_resumed_delivery_skips_it);
    tcase_add_test (resume, test_resume_refuses_the_state_of_another_job_and_starts_over_without_one);
    tcase_add_test (resume, test_a_resumed_delivery_refuses_a_total_below_what_was_written);
    tcase_add_test (resume, test_a_checkpoint_keeps_the_first_input_mark_past_what_is_written_and_resume_returns_it);
    tcase_add_test (resume, test_a_checkpoint_in_the_middle_of_a_fold_keeps_it_and_the_resumed_fold_goes_on);
    tcase_add_test (resume, test_a_second_delivery_on_the_same_output_is_refused_before_it_cuts_anything);
    tcase_add_test (resume, test_a_joblog_that_is_the_output_file_is_refused);
    tcase_add_test (resume, test_a_device_output_is_a_stream_without_state_and_refuses_resume);
    tcase_add_test (paths, test_failed_commands_write_their_output_and_the_exit_status_is_their_count);
    suite_add_tcase (suite, resume);
    TCase *limits = tcase_create ("limits");
    tcase_add_checked_fixture (limits, s_setup, s_teardown);
    tcase_set_timeout (limits, 30);
    tcase_add_test (limits, test_a_seq_past_the_window_is_refused_and_not_acked);
    tcase_add_test (limits, test_an_item_outside_the_job_or_before_it_is_refused);
    tcase_add_test (limits, test_begin_refuses_a_zero_window_no_kernels_and_a_second_job);
    tcase_add_test (limits, test_an_output_that_cannot_be_opened_is_named_in_the_error);
    tcase_add_test (limits, test_a_failed_write_is_returned_counted_and_makes_the_exit_status_an_error);
    tcase_add_test (limits, test_a_failed_checkpoint_says_which_file_failed);
    tcase_add_test (limits, test_a_failed_emit_is_returned_and_the_record_still_written);
    tcase_add_test (limits, test_a_full_ack_list_counts_the_seqs_it_could_not_list);
    suite_add_tcase (suite, limits);
    return suite;
}
