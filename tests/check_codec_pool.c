/*  Unit tests for the version-2 messages of the codec (the pool of
    docs/SERVICE.md): each round trips, each is refused under version 1,
    and malformed frames are refused whole. */

#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanfold/runtime/codec.h"

#define s_assert_field(field, text) do {                                \
        ff_str_t field_ = (field);                                      \
        const char *text_ = (text);                                     \
        ck_assert_uint_eq (field_.len, strlen (text_));                 \
        if (field_.len)                                                 \
            ck_assert_mem_eq (field_.ptr, text_, field_.len);           \
    } while (0)

static void
s_decode_ok (ff_codec_t *codec, ff_msg_t *msg)
{
    ck_assert_int_eq (ff_msg_decode (ff_codec_data (codec), ff_codec_size (codec), msg), 0);
}

static int
s_decode_bytes (const uint8_t *bytes, size_t size)
{
    ff_msg_t msg;
    return ff_msg_decode (bytes, size, &msg);
}

/* Copies what the codec holds with its version byte (the second) set to
   version, and decodes it. */
static int
s_decode_as (ff_codec_t *codec, uint8_t version)
{
    uint8_t copy [4096];
    size_t size = ff_codec_size (codec);
    ck_assert_uint_le (size, sizeof (copy));
    memcpy (copy, ff_codec_data (codec), size);
    ck_assert_uint_le (copy [1], 2);
    copy [1] = version;
    return s_decode_bytes (copy, size);
}

static const char *s_kernels [] = { "noop", "exec" };
static const char *s_params [] = { "cmd", "echo {}", "retries", "3" };

START_TEST (test_pool_welcome_has_no_kernels_and_is_version_2)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_welcome_pool (codec, "pool-1", 7, "ipc:///tmp/x/task-7", 250);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_WELCOME);
    ck_assert_uint_eq (msg.version, FF_PROTOCOL_POOL);
    s_assert_field (msg.job, "pool-1");
    ck_assert_uint_eq (msg.worker, 7);
    s_assert_field (msg.endpoint, "ipc:///tmp/x/task-7");
    ck_assert_uint_eq (msg.hb_ms, 250);
    ck_assert_uint_eq (msg.nkernels, 0);
    /* six fields under version 1 is not a welcome */
    ck_assert_int_eq (s_decode_as (codec, 1), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_jobspec_round_trips_kernels_and_params)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_jobspec (codec, "j1", s_kernels, 2, s_params, 2);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_JOBSPEC);
    s_assert_field (msg.job, "j1");
    ck_assert_uint_eq (msg.nkernels, 2);
    s_assert_field (msg.kernels [1], "exec");
    ck_assert_uint_eq (msg.nparams, 2);
    s_assert_field (msg.params [1], "echo {}");
    s_assert_field (msg.params [3], "3");
    ck_assert_int_eq (s_decode_as (codec, 1), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_forget_and_cancel_carry_the_job)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_forget (codec, "j2");
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_FORGET);
    s_assert_field (msg.job, "j2");
    ck_assert_int_eq (s_decode_as (codec, 1), -1);
    ff_codec_cancel (codec, "j3");
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_CANCEL);
    s_assert_field (msg.job, "j3");
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_submit_accepted_and_refused_round_trip)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_submit (codec, "host:42", s_kernels, 2, s_params, 2, 3, 0);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_SUBMIT);
    s_assert_field (msg.name, "host:42");
    ck_assert_uint_eq (msg.nkernels, 2);
    ck_assert_uint_eq (msg.nparams, 2);
    ck_assert_uint_eq (msg.share, 3);
    ck_assert_uint_eq (msg.flags, 0);
    ff_codec_accepted (codec, "j4", 2048, 1 << 26);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_ACCEPTED);
    s_assert_field (msg.job, "j4");
    ck_assert_uint_eq (msg.window, 2048);
    ck_assert_uint_eq (msg.window_bytes, 1 << 26);
    ff_codec_refused (codec, "too many jobs");
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_REFUSED);
    s_assert_field (msg.text, "too many jobs");
    ck_assert_int_eq (s_decode_as (codec, 1), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_tasks_items_have_no_attempt_and_keep_their_arrays)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_item_t item, got;
    memset (&item, 0, sizeof (item));
    ck_assert_int_eq (ff_codec_tasks_begin (codec, "j5", 2), 0);
    item.seq = 9;
    item.kernel = 1;
    item.input = ff_str ("a.npy");
    item.chunk = 2;
    item.chunks = 4;
    item.narrays = 1;
    item.arrays [0].name = ff_str ("data");
    item.arrays [0].dtype = 10;
    item.arrays [0].ndim = 2;
    item.arrays [0].shape [0] = 3;
    item.arrays [0].shape [1] = 2;
    item.arrays [0].segment = ff_str ("ff_1000_j5_1_a_0_data");
    item.arrays [0].offset = 48;
    item.arrays [0].length = 48;
    ck_assert_int_eq (ff_codec_tasks_item (codec, &item), 0);
    memset (&item, 0, sizeof (item));
    item.seq = 10;
    item.input = ff_str ("x");
    item.data = ff_str ("payload");
    ck_assert_int_eq (ff_codec_tasks_item (codec, &item), 0);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_TASKS);
    s_assert_field (msg.job, "j5");
    ck_assert_uint_eq (msg.count, 2);
    ck_assert_int_eq (ff_msg_next_item (&msg, &got), 1);
    ck_assert_uint_eq (got.seq, 9);
    ck_assert_uint_eq (got.kernel, 1);
    ck_assert_uint_eq (got.attempt, 0);
    ck_assert_uint_eq (got.chunk, 2);
    ck_assert_uint_eq (got.chunks, 4);
    ck_assert_uint_eq (got.narrays, 1);
    s_assert_field (got.arrays [0].segment, "ff_1000_j5_1_a_0_data");
    ck_assert_uint_eq (got.arrays [0].shape [1], 2);
    ck_assert_int_eq (ff_msg_next_item (&msg, &got), 1);
    ck_assert_uint_eq (got.seq, 10);
    s_assert_field (got.data, "payload");
    ck_assert_uint_eq (got.chunks, 1);
    ck_assert_int_eq (ff_msg_next_item (&msg, &got), 0);
    ck_assert_int_eq (s_decode_as (codec, 1), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_total_status_and_client_hb_round_trip)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_total (codec, "j6", 123456789012ULL);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_TOTAL);
    ck_assert_int_eq (msg.total, 123456789012LL);
    ff_codec_status (codec, NULL, 0);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_STATUS);
    ck_assert_int_eq (msg.has_text, 0);
    ff_codec_status (codec, "{\"jobs\":[]}", 11);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.has_text, 1);
    s_assert_field (msg.text, "{\"jobs\":[]}");
    ff_codec_client_hb (codec, "j7");
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_HB);
    ck_assert_uint_eq (msg.version, 2);
    s_assert_field (msg.job, "j7");
    ck_assert_uint_eq (msg.worker, 0);
    /* three fields is a client's hb in version 2 only */
    ck_assert_int_eq (s_decode_as (codec, 1), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_set_version_marks_hb_ack_task_result_and_end)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_item_t item;
    memset (&item, 0, sizeof (item));
    item.input = ff_str ("in");
    ff_codec_set_version (codec, FF_PROTOCOL_POOL);
    ff_codec_hb (codec, "p", 3);
    s_decode_ok (codec, &msg);
    ck_assert_uint_eq (msg.version, 2);
    ck_assert_uint_eq (msg.worker, 3);
    ff_codec_end (codec, "j", 0);
    s_decode_ok (codec, &msg);
    ck_assert_uint_eq (msg.version, 2);
    ff_codec_ack_begin (codec, "j", 4, 1);
    ff_codec_ack_seq (codec, 5);
    s_decode_ok (codec, &msg);
    ck_assert_uint_eq (msg.version, 2);
    ck_assert_uint_eq (msg.written, 4);
    ff_codec_result_begin (codec, "j", 2, 1);
    ff_codec_result_item (codec, &item);
    s_decode_ok (codec, &msg);
    ck_assert_uint_eq (msg.version, 2);
    ck_assert_int_eq (msg.type, FF_MSG_RESULT);
    ff_codec_task_begin (codec, "j", 1);
    item.attempt = 1;
    ff_codec_task_item (codec, &item);
    s_decode_ok (codec, &msg);
    ck_assert_uint_eq (msg.version, 2);
    /* a version-1-only message stays version 1 */
    ff_codec_job (codec, "j", s_kernels, 1, -1, 8);
    s_decode_ok (codec, &msg);
    ck_assert_uint_eq (msg.version, 1);
    /* and back */
    ff_codec_set_version (codec, FF_PROTOCOL_VERSION);
    ff_codec_hb (codec, "p", 3);
    s_decode_ok (codec, &msg);
    ck_assert_uint_eq (msg.version, 1);
    ff_codec_destroy (&codec);
}
END_TEST

/* ------------------------------------------------------------------ limits */

START_TEST (test_pool_refuses_a_submit_without_kernels_or_with_share_0)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_submit (codec, "c", s_kernels, 0, s_params, 0, 1, 0);
    ck_assert_int_eq (s_decode_as (codec, 2), -1);
    ff_codec_submit (codec, "c", s_kernels, 1, s_params, 0, 0, 0);
    ck_assert_int_eq (s_decode_as (codec, 2), -1);
    ff_codec_submit (codec, "c", s_kernels, 1, s_params, 0, 1, 0);
    ck_assert_int_eq (s_decode_as (codec, 2), 0);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_refuses_an_accepted_with_window_0)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_accepted (codec, "j", 0, 10);
    ck_assert_int_eq (s_decode_as (codec, 2), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_refuses_every_truncation_and_a_trailing_byte)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_item_t item;
    uint8_t copy [512];
    size_t size, cut;
    memset (&item, 0, sizeof (item));
    item.input = ff_str ("input");
    item.data = ff_str ("data");
    ff_codec_tasks_begin (codec, "job", 1);
    ff_codec_tasks_item (codec, &item);
    size = ff_codec_size (codec);
    ck_assert_uint_lt (size, sizeof (copy) - 1);
    memcpy (copy, ff_codec_data (codec), size);
    for (cut = 0; cut < size; cut++)
        ck_assert_int_eq (s_decode_bytes (copy, cut), -1);
    copy [size] = 0xc0;
    ck_assert_int_eq (s_decode_bytes (copy, size + 1), -1);
    ck_assert_int_eq (s_decode_bytes (copy, size), 0);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_refuses_a_task_item_in_a_tasks_message)
{
    /* a version-2 task item (8 fields, with attempt) is not a tasks item */
    ff_codec_t *codec = ff_codec_new ();
    ff_item_t item;
    uint8_t copy [512];
    memset (&item, 0, sizeof (item));
    item.input = ff_str ("i");
    ff_codec_set_version (codec, FF_PROTOCOL_POOL);
    ff_codec_task_begin (codec, "job", 1);
    ff_codec_task_item (codec, &item);
    size_t size = ff_codec_size (codec);
    memcpy (copy, ff_codec_data (codec), size);
    /* [2, "task", ...] -> [2, "tsks"...] would change lengths; rename in place:
       "task" (0xa4) becomes "tasks" only with one more byte, so build it */
    uint8_t frame [520];
    size_t at = 0;
    frame [at++] = copy [0];
    frame [at++] = copy [1];
    frame [at++] = 0xa5;
    memcpy (frame + at, "tasks", 5);
    at += 5;
    memcpy (frame + at, copy + 7, size - 7);
    at += size - 7;
    ck_assert_int_eq (s_decode_bytes (frame, at), -1);
    ck_assert_int_eq (s_decode_bytes (copy, size), 0);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_refuses_a_version_1_job_message_under_version_2)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_job (codec, "j", s_kernels, 1, -1, 8);
    ck_assert_int_eq (s_decode_as (codec, 1), 0);
    ck_assert_int_eq (s_decode_as (codec, 2), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_pool_refuses_a_status_with_a_uint_document)
{
    static const uint8_t frame [] = { 0x93, 0x02, 0xa6, 's', 't', 'a', 't', 'u', 's', 0x01 };
    static const uint8_t request [] = { 0x92, 0x02, 0xa6, 's', 't', 'a', 't', 'u', 's' };
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), -1);
    ck_assert_int_eq (s_decode_bytes (request, sizeof (request)), 0);
}
END_TEST

Suite *
codec_pool_suite (void)
{
    Suite *suite = suite_create ("codec_pool");
    TCase *tc = tcase_create ("round trips");
    tcase_add_test (tc, test_pool_welcome_has_no_kernels_and_is_version_2);
    tcase_add_test (tc, test_pool_jobspec_round_trips_kernels_and_params);
    tcase_add_test (tc, test_pool_forget_and_cancel_carry_the_job);
    tcase_add_test (tc, test_pool_submit_accepted_and_refused_round_trip);
    tcase_add_test (tc, test_pool_tasks_items_have_no_attempt_and_keep_their_arrays);
    tcase_add_test (tc, test_pool_total_status_and_client_hb_round_trip);
    tcase_add_test (tc, test_pool_set_version_marks_hb_ack_task_result_and_end);
    suite_add_tcase (suite, tc);
    tc = tcase_create ("limits");
    tcase_add_test (tc, test_pool_refuses_a_submit_without_kernels_or_with_share_0);
    tcase_add_test (tc, test_pool_refuses_an_accepted_with_window_0);
    tcase_add_test (tc, test_pool_refuses_every_truncation_and_a_trailing_byte);
    tcase_add_test (tc, test_pool_refuses_a_task_item_in_a_tasks_message);
    tcase_add_test (tc, test_pool_refuses_a_version_1_job_message_under_version_2);
    tcase_add_test (tc, test_pool_refuses_a_status_with_a_uint_document);
    suite_add_tcase (suite, tc);
    return suite;
}
