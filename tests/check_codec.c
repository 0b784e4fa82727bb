/*  Unit tests for the wire codec: every message type round trips through
    ff_codec_* and ff_msg_decode, and malformed frames are refused whole. */

#include <check.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fanfold/runtime/codec.h"

/* Asserts that a decoded field holds exactly text. */
#define s_assert_field(field, text) do {                                \
        ff_str_t field_ = (field);                                      \
        const char *text_ = (text);                                     \
        ck_assert_uint_eq (field_.len, strlen (text_));                 \
        if (field_.len)                                                 \
            ck_assert_mem_eq (field_.ptr, text_, field_.len);           \
    } while (0)

/* Decodes what the codec holds; fails the test when it does not decode. */

/* Adds a task item (attempt 1) from positional fields. */
static void
s_add_task (ff_codec_t *codec, uint64_t seq, uint32_t kernel, const char *input,
            size_t input_len, const void *data, size_t size)
{
    ff_item_t item;
    memset (&item, 0, sizeof (item));
    item.seq = seq;
    item.kernel = kernel;
    item.input.ptr = input;
    item.input.len = input_len;
    item.data.ptr = (const char *) data;
    item.data.len = size;
    item.attempt = 1;
    ff_codec_task_item (codec, &item);
}

/* Adds a result item from positional fields, with fixed run figures. */
static void
s_add_result (ff_codec_t *codec, uint64_t seq, uint32_t kernel, uint32_t status,
              uint32_t kind, const char *input, size_t input_len,
              const void *data, size_t size, const char *meta, size_t meta_len)
{
    ff_item_t item;
    memset (&item, 0, sizeof (item));
    item.seq = seq;
    item.kernel = kernel;
    item.status = status;
    item.kind = kind;
    item.input.ptr = input;
    item.input.len = input_len;
    item.data.ptr = (const char *) data;
    item.data.len = size;
    item.meta.ptr = meta;
    item.meta.len = meta_len;
    item.attempt = 2;
    item.tries = 3;
    item.start_ms = UINT64_C (1763776000123);
    item.runtime_us = 4567;
    ff_codec_result_item (codec, &item);
}

static void
s_decode_ok (ff_codec_t *codec, ff_msg_t *msg)
{
    ck_assert_int_eq (ff_msg_decode (ff_codec_data (codec),
                                     ff_codec_size (codec), msg), 0);
}

/* Decodes a hand-written frame; returns the decoder's result. */
static int
s_decode_bytes (const uint8_t *bytes, size_t size)
{
    ff_msg_t msg;
    return ff_msg_decode (bytes, size, &msg);
}

/* ----------------------------------------------------------- round trips */

START_TEST (test_codec_round_trips_hello_with_role_name_and_flags)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ck_assert_ptr_nonnull (codec);
    ff_codec_hello (codec, "worker", "host-a:1234", FF_HELLO_NO_SHM);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_HELLO);
    s_assert_field (msg.role, "worker");
    s_assert_field (msg.name, "host-a:1234");
    ck_assert_uint_eq (msg.flags, FF_HELLO_NO_SHM);
    ck_assert_uint_eq (msg.job.len, 0);
    ff_codec_destroy (&codec);
    ck_assert_ptr_null (codec);
}
END_TEST

START_TEST (test_codec_round_trips_welcome_with_kernels_and_params)
{
    const char *kernels [] = { "noop", "sleep", "spin" };
    const char *params [] = { "ms", "20", "jitter", "1" };
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_welcome (codec, "job-7", 42, "tcp://10.0.0.1:6001", 250,
                      kernels, 3, params, 2);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_WELCOME);
    s_assert_field (msg.job, "job-7");
    ck_assert_uint_eq (msg.worker, 42);
    s_assert_field (msg.endpoint, "tcp://10.0.0.1:6001");
    ck_assert_uint_eq (msg.hb_ms, 250);
    ck_assert_uint_eq (msg.nkernels, 3);
    s_assert_field (msg.kernels [0], "noop");
    s_assert_field (msg.kernels [1], "sleep");
    s_assert_field (msg.kernels [2], "spin");
    ck_assert_uint_eq (msg.nparams, 2);
    s_assert_field (msg.params [0], "ms");
    s_assert_field (msg.params [1], "20");
    s_assert_field (msg.params [2], "jitter");
    s_assert_field (msg.params [3], "1");
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_round_trips_job_with_unknown_total)
{
    const char *kernels [] = { "noop" };
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_job (codec, "job-1", kernels, 1, -1, 1024);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_JOB);
    s_assert_field (msg.job, "job-1");
    ck_assert_uint_eq (msg.nkernels, 1);
    s_assert_field (msg.kernels [0], "noop");
    ck_assert_int_eq (msg.total, -1);
    ck_assert_uint_eq (msg.window, 1024);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_round_trips_job_with_a_large_total)
{
    const char *kernels [] = { "sleep", "spin" };
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_job (codec, "j", kernels, 2, INT64_C (5000000000), 7);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.total, INT64_C (5000000000));
    ck_assert_uint_eq (msg.window, 7);
    ck_assert_uint_eq (msg.nkernels, 2);
    s_assert_field (msg.kernels [1], "spin");
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_round_trips_ack_and_iterates_its_seqs)
{
    const uint64_t seqs [] = { 3, 200, 70000, UINT64_C (1) << 40 };
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    uint64_t seq;
    size_t index;
    ff_codec_ack_begin (codec, "job-a", 17, 4);
    for (index = 0; index < 4; index++)
        ff_codec_ack_seq (codec, seqs [index]);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_ACK);
    s_assert_field (msg.job, "job-a");
    ck_assert_uint_eq (msg.written, 17);
    ck_assert_uint_eq (msg.count, 4);
    for (index = 0; index < 4; index++) {
        ck_assert_int_eq (ff_msg_next_seq (&msg, &seq), 1);
        ck_assert_uint_eq (seq, seqs [index]);
    }
    ck_assert_int_eq (ff_msg_next_seq (&msg, &seq), 0);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_round_trips_hb_bye_and_end)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_codec_hb (codec, "job-h", 9);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_HB);
    s_assert_field (msg.job, "job-h");
    ck_assert_uint_eq (msg.worker, 9);

    ff_codec_bye (codec, "job-b", 11);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_BYE);
    s_assert_field (msg.job, "job-b");
    ck_assert_uint_eq (msg.worker, 11);

    ff_codec_end (codec, "job-e", 1);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_END);
    s_assert_field (msg.job, "job-e");
    ck_assert_uint_eq (msg.status, 1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_round_trips_task_items_in_order)
{
    static const uint8_t binary [] = { 0x00, 0xff, 0xc1, 0x0a };
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_item_t item;
    ff_codec_task_begin (codec, "job-t", 3);
    s_add_task (codec, 0, 0, "in.txt:1-4", 10, "a\nb\nc\nd\n", 8);
    s_add_task (codec, 1, 31, "in.txt:5-5", 10, binary, sizeof (binary));
    s_add_task (codec, UINT64_C (1) << 33, 2, "", 0, "", 0);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_TASK);
    s_assert_field (msg.job, "job-t");
    ck_assert_uint_eq (msg.count, 3);

    ck_assert_int_eq (ff_msg_next_item (&msg, &item), 1);
    ck_assert_uint_eq (item.seq, 0);
    ck_assert_uint_eq (item.kernel, 0);
    s_assert_field (item.input, "in.txt:1-4");
    ck_assert_uint_eq (item.data.len, 8);
    ck_assert_mem_eq (item.data.ptr, "a\nb\nc\nd\n", 8);

    ck_assert_int_eq (ff_msg_next_item (&msg, &item), 1);
    ck_assert_uint_eq (item.seq, 1);
    ck_assert_uint_eq (item.kernel, 31);
    s_assert_field (item.input, "in.txt:5-5");
    ck_assert_uint_eq (item.data.len, sizeof (binary));
    ck_assert_mem_eq (item.data.ptr, binary, sizeof (binary));

    ck_assert_int_eq (ff_msg_next_item (&msg, &item), 1);
    ck_assert_uint_eq (item.seq, UINT64_C (1) << 33);
    ck_assert_uint_eq (item.kernel, 2);
    ck_assert_uint_eq (item.input.len, 0);
    ck_assert_uint_eq (item.data.len, 0);

    ck_assert_int_eq (ff_msg_next_item (&msg, &item), 0);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_round_trips_result_items_with_status_and_kind)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_item_t item;
    ff_codec_result_begin (codec, "job-r", 5, 2);
    s_add_result (codec, 10, 1, FF_STATUS_OK, FF_KIND_JSON,
                          "a", 1, "{\"n\":1}", 7, "\"exit\":0", 8);
    s_add_result (codec, 11, 0, FF_STATUS_ERROR, FF_KIND_BYTES,
                          "bb", 2, "boom", 4, NULL, 0);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (msg.type, FF_MSG_RESULT);
    s_assert_field (msg.job, "job-r");
    ck_assert_uint_eq (msg.worker, 5);
    ck_assert_uint_eq (msg.count, 2);

    ck_assert_int_eq (ff_msg_next_item (&msg, &item), 1);
    ck_assert_uint_eq (item.seq, 10);
    ck_assert_uint_eq (item.kernel, 1);
    ck_assert_uint_eq (item.status, FF_STATUS_OK);
    ck_assert_uint_eq (item.kind, FF_KIND_JSON);
    s_assert_field (item.input, "a");
    s_assert_field (item.data, "{\"n\":1}");
    s_assert_field (item.meta, "\"exit\":0");
    ck_assert_uint_eq (item.attempt, 2);
    ck_assert_uint_eq (item.tries, 3);
    ck_assert_uint_eq (item.start_ms, UINT64_C (1763776000123));
    ck_assert_uint_eq (item.runtime_us, 4567);

    ck_assert_int_eq (ff_msg_next_item (&msg, &item), 1);
    ck_assert_uint_eq (item.seq, 11);
    ck_assert_uint_eq (item.kernel, 0);
    ck_assert_uint_eq (item.status, FF_STATUS_ERROR);
    ck_assert_uint_eq (item.kind, FF_KIND_BYTES);
    s_assert_field (item.input, "bb");
    s_assert_field (item.data, "boom");
    s_assert_field (item.meta, "");

    ck_assert_int_eq (ff_msg_next_item (&msg, &item), 0);
    ff_codec_destroy (&codec);
}
END_TEST

/* Packs a str or bin with msgpack-c, as the reference. */
static void
s_ref_str (msgpack_packer *pk, const char *text, size_t len, int bin)
{
    if (bin) {
        msgpack_pack_bin (pk, len);
        msgpack_pack_bin_body (pk, text, len);
    }
    else {
        msgpack_pack_str (pk, len);
        msgpack_pack_str_body (pk, text, len);
    }
}

/* The item encoders write their fixed fields directly: the bytes must be
   msgpack-c's, at every boundary of every format. */
START_TEST (test_codec_items_are_byte_for_byte_what_msgpack_c_writes)
{
    static const uint64_t values [] = {
        0, 1, 127, 128, 255, 256, 65535, 65536, UINT32_MAX, (uint64_t) UINT32_MAX + 1,
        UINT64_MAX
    };
    static const size_t lengths [] = { 0, 1, 31, 32, 255, 256, 65535, 65536 };
    size_t nvalues = sizeof (values) / sizeof (values [0]);
    size_t nlengths = sizeof (lengths) / sizeof (lengths [0]);
    char *text = malloc (65536);
    ck_assert_ptr_nonnull (text);
    memset (text, 'x', 65536);
    size_t round;
    for (round = 0; round < nvalues * nlengths; round++) {
        uint64_t value = values [round % nvalues];
        uint32_t small = (uint32_t) (value > UINT32_MAX? UINT32_MAX: value);
        size_t len = lengths [round % nlengths];
        size_t other = lengths [(round / nlengths + round) % nlengths];
        int task;
        for (task = 0; task < 2; task++) {
            ff_item_t item;
            memset (&item, 0, sizeof (item));
            item.seq = value;
            item.kernel = (uint32_t) (round % FF_MAX_KERNELS);
            item.status = (uint32_t) (round % 2);
            item.kind = (uint32_t) ((round / 2) % 2);
            item.input = (ff_str_t) { text, len };
            item.data = (ff_str_t) { text, other };
            item.meta = (ff_str_t) { text, (len + other) % 300 };
            item.attempt = small;
            item.tries = small / 2;
            item.start_ms = value / 3;
            item.runtime_us = value;
            item.bytes_in = value / 7;
            item.chunk = small / 5;
            item.chunks = small;
            ff_codec_t *codec = ff_codec_new ();
            msgpack_sbuffer ref;
            msgpack_packer pk;
            msgpack_sbuffer_init (&ref);
            msgpack_packer_init (&pk, &ref, msgpack_sbuffer_write);
            msgpack_pack_array (&pk, task? 4: 5);
            msgpack_pack_uint64 (&pk, FF_PROTOCOL_VERSION);
            s_ref_str (&pk, task? "task": "result", task? 4: 6, 0);
            s_ref_str (&pk, "job", 3, 0);
            if (task)
                ff_codec_task_begin (codec, "job", 1);
            else {
                msgpack_pack_uint64 (&pk, 9);
                ff_codec_result_begin (codec, "job", 9, 1);
            }
            msgpack_pack_array (&pk, 1);
            msgpack_pack_array (&pk, 8);
            msgpack_pack_uint64 (&pk, item.seq);
            msgpack_pack_uint32 (&pk, item.kernel);
            if (task) {
                ff_codec_task_item (codec, &item);
                s_ref_str (&pk, item.input.ptr, item.input.len, 0);
                s_ref_str (&pk, item.data.ptr, item.data.len, 1);
                msgpack_pack_uint32 (&pk, item.attempt);
                msgpack_pack_uint32 (&pk, item.chunk);
                msgpack_pack_uint32 (&pk, item.chunks? item.chunks: 1);
                msgpack_pack_array (&pk, 0);
            }
            else {
                ff_codec_result_item (codec, &item);
                msgpack_pack_uint32 (&pk, item.status);
                msgpack_pack_uint32 (&pk, item.kind);
                s_ref_str (&pk, item.input.ptr, item.input.len, 0);
                s_ref_str (&pk, item.data.ptr, item.data.len, 1);
                s_ref_str (&pk, item.meta.ptr, item.meta.len, 0);
                msgpack_pack_array (&pk, 7);
                msgpack_pack_uint32 (&pk, item.attempt);
                msgpack_pack_uint32 (&pk, item.tries);
                msgpack_pack_uint64 (&pk, item.start_ms);
                msgpack_pack_uint64 (&pk, item.runtime_us);
                msgpack_pack_uint64 (&pk, item.bytes_in);
                msgpack_pack_uint32 (&pk, item.chunk);
                msgpack_pack_uint32 (&pk, item.chunks? item.chunks: 1);
            }
            ck_assert_uint_eq (ff_codec_size (codec), ref.size);
            ck_assert_msg (memcmp (ff_codec_data (codec), ref.data, ref.size) == 0,
                           "%s item, seq %llu, input %zu, data %zu: bytes differ",
                           task? "task": "result", (unsigned long long) value, len, other);
            msgpack_sbuffer_destroy (&ref);
            ff_codec_destroy (&codec);
        }
    }
    free (text);
}
END_TEST

START_TEST (test_codec_accepts_a_task_batch_of_exactly_max_batch_items)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_item_t item;
    size_t index, seen = 0;
    ff_codec_task_begin (codec, "j", FF_MAX_BATCH);
    for (index = 0; index < FF_MAX_BATCH; index++)
        s_add_task (codec, index, 0, "i", 1, "x", 1);
    s_decode_ok (codec, &msg);
    while (ff_msg_next_item (&msg, &item) == 1) {
        ck_assert_uint_eq (item.seq, seen);
        seen++;
    }
    ck_assert_uint_eq (seen, FF_MAX_BATCH);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_names_every_message_type_and_unknown_as_question_mark)
{
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_HELLO), "hello");
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_WELCOME), "welcome");
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_JOB), "job");
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_ACK), "ack");
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_HB), "hb");
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_BYE), "bye");
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_END), "end");
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_TASK), "task");
    ck_assert_str_eq (ff_msg_type_name (FF_MSG_RESULT), "result");
    ck_assert_str_eq (ff_msg_type_name ((ff_msg_type_t) 0), "?");
    ck_assert_str_eq (ff_msg_type_name ((ff_msg_type_t) 99), "?");
}
END_TEST

START_TEST (test_codec_str_helpers_compare_and_copy_unterminated_fields)
{
    ff_str_t field = { "workerXYZ", 6 };
    ck_assert_int_eq (ff_str_eq (field, "worker"), 1);
    ck_assert_int_eq (ff_str_eq (field, "work"), 0);
    ck_assert_int_eq (ff_str_eq (field, "workerX"), 0);
    char *copy = ff_str_dup (field);
    ck_assert_ptr_nonnull (copy);
    ck_assert_str_eq (copy, "worker");
    free (copy);
}
END_TEST

START_TEST (test_codec_accepts_the_hand_written_hb_frame_used_by_the_limits)
{
    /* [1, "hb", "j", 1]: the baseline the rejects below alter by one thing */
    static const uint8_t frame [] = {
        0x94, 0x01, 0xa2, 'h', 'b', 0xa1, 'j', 0x01
    };
    ff_msg_t msg;
    ck_assert_int_eq (ff_msg_decode (frame, sizeof (frame), &msg), 0);
    ck_assert_int_eq (msg.type, FF_MSG_HB);
    s_assert_field (msg.job, "j");
    ck_assert_uint_eq (msg.worker, 1);
}
END_TEST

/* ---------------------------------------------------------------- limits */

START_TEST (test_codec_rejects_an_empty_frame)
{
    static const uint8_t frame [1] = { 0x94 };
    ck_assert_int_eq (s_decode_bytes (frame, 0), -1);
}
END_TEST

START_TEST (test_codec_rejects_the_never_used_byte_c1)
{
    static const uint8_t frame [] = { 0xc1 };
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), -1);
}
END_TEST

START_TEST (test_codec_rejects_an_array32_with_a_huge_count)
{
    static const uint8_t frame [] = { 0xdd, 0xff, 0xff, 0xff, 0xff };
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), -1);
}
END_TEST

START_TEST (test_codec_rejects_33_nested_arrays)
{
    uint8_t frame [34];
    memset (frame, 0x91, 33);
    frame [33] = 0x90;
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), -1);
}
END_TEST

START_TEST (test_codec_rejects_an_unknown_protocol_version)
{
    static const uint8_t frame [] = {
        0x94, 0x03, 0xa2, 'h', 'b', 0xa1, 'j', 0x01
    };
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), -1);
}
END_TEST

START_TEST (test_codec_rejects_an_unknown_type_name)
{
    static const uint8_t frame [] = {
        0x94, 0x01, 0xa3, 'f', 'o', 'o', 0xa1, 'j', 0x01
    };
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), -1);
}
END_TEST

START_TEST (test_codec_rejects_a_message_with_the_wrong_arity)
{
    static const uint8_t five [] = {
        0x95, 0x01, 0xa2, 'h', 'b', 0xa1, 'j', 0x01, 0x01
    };
    static const uint8_t three [] = {
        0x93, 0x01, 0xa2, 'h', 'b', 0xa1, 'j'
    };
    ck_assert_int_eq (s_decode_bytes (five, sizeof (five)), -1);
    ck_assert_int_eq (s_decode_bytes (three, sizeof (three)), -1);
}
END_TEST

START_TEST (test_codec_rejects_a_trailing_byte_after_a_valid_message)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_hb (codec, "job", 3);
    size_t size = ff_codec_size (codec);
    uint8_t *frame = malloc (size + 1);
    ck_assert_ptr_nonnull (frame);
    memcpy (frame, ff_codec_data (codec), size);
    frame [size] = 0xc0;
    ck_assert_int_eq (s_decode_bytes (frame, size), 0);
    ck_assert_int_eq (s_decode_bytes (frame, size + 1), -1);
    free (frame);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_rejects_every_truncation_of_a_task_message)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_task_begin (codec, "job-trunc", 2);
    s_add_task (codec, 300, 1, "file:1-2", 8, "one\ntwo\n", 8);
    s_add_task (codec, 70000, 2, "file:3-3", 8, "three\n", 6);
    size_t size = ff_codec_size (codec), prefix;
    /* a heap copy of each prefix, so that reading past it is caught */
    for (prefix = 0; prefix < size; prefix++) {
        uint8_t *frame = malloc (prefix? prefix: 1);
        ck_assert_ptr_nonnull (frame);
        memcpy (frame, ff_codec_data (codec), prefix);
        ck_assert_msg (s_decode_bytes (frame, prefix) == -1,
                       "prefix of %zu of %zu bytes was accepted", prefix, size);
        free (frame);
    }
    ck_assert_int_eq (s_decode_bytes (ff_codec_data (codec), size), 0);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_round_trips_array_handles_in_a_task_item)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_item_t item, got;
    memset (&item, 0, sizeof (item));
    item.seq = 7;
    item.input = ff_str ("big.npy");
    item.attempt = 1;
    item.chunk = 2;
    item.chunks = 25;
    item.narrays = 2;
    item.arrays [0].name = ff_str ("data");
    item.arrays [0].dtype = 9;
    item.arrays [0].ndim = 1;
    item.arrays [0].shape [0] = UINT64_C (1) << 28;
    item.arrays [0].segment = ff_str ("ff_0_abcdef0123456789_42_0011223344556677_data");
    item.arrays [0].offset = UINT64_C (1) << 30;
    item.arrays [0].length = UINT64_C (1) << 30;
    item.arrays [1].name = ff_str ("flags");
    item.arrays [1].dtype = 6;
    item.arrays [1].ndim = 2;
    item.arrays [1].shape [0] = 2;
    item.arrays [1].shape [1] = 1;
    item.arrays [1].length = 4;
    item.arrays [1].bytes.ptr = "\x01\x00\x02\x00";
    item.arrays [1].bytes.len = 4;
    ff_codec_task_begin (codec, "abcdef0123456789", 1);
    ff_codec_task_item (codec, &item);
    /* a handle to a 1 GiB slice is as small as any task */
    ck_assert_uint_lt (ff_codec_size (codec), 512);
    s_decode_ok (codec, &msg);
    ck_assert_int_eq (ff_msg_next_item (&msg, &got), 1);
    ck_assert_uint_eq (got.chunk, 2);
    ck_assert_uint_eq (got.chunks, 25);
    ck_assert_uint_eq (got.narrays, 2);
    s_assert_field (got.arrays [0].name, "data");
    s_assert_field (got.arrays [0].segment, "ff_0_abcdef0123456789_42_0011223344556677_data");
    ck_assert_uint_eq (got.arrays [0].shape [0], UINT64_C (1) << 28);
    ck_assert_uint_eq (got.arrays [0].offset, UINT64_C (1) << 30);
    ck_assert_uint_eq (got.arrays [0].length, UINT64_C (1) << 30);
    ck_assert_uint_eq (got.arrays [1].ndim, 2);
    ck_assert_uint_eq (got.arrays [1].bytes.len, 4);
    ck_assert_uint_eq (got.arrays [1].segment.len, 0);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_rejects_a_handle_whose_inline_bytes_miss_its_length)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_msg_t msg;
    ff_item_t item;
    memset (&item, 0, sizeof (item));
    item.input = ff_str ("x");
    item.narrays = 1;
    item.arrays [0].name = ff_str ("data");
    item.arrays [0].dtype = 10;
    item.arrays [0].ndim = 1;
    item.arrays [0].shape [0] = 2;
    item.arrays [0].length = 16;
    item.arrays [0].bytes = ff_str ("only8byt");
    ff_codec_task_begin (codec, "j", 1);
    ff_codec_task_item (codec, &item);
    ck_assert_int_eq (ff_msg_decode (ff_codec_data (codec), ff_codec_size (codec), &msg), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_rejects_a_task_item_with_kernel_index_past_max_kernels)
{
    /* [1, "task", "j", [[0, K, "in", bin "x", 1, 0, 1, []]]] with K = 31, then 32 */
    uint8_t frame [] = {
        0x94, 0x01, 0xa4, 't', 'a', 's', 'k', 0xa1, 'j',
        0x91, 0x98, 0x00, 0x1f, 0xa2, 'i', 'n', 0xc4, 0x01, 'x', 0x01, 0x00, 0x01, 0x90
    };
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), 0);
    frame [12] = FF_MAX_KERNELS;
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), -1);
}
END_TEST

START_TEST (test_codec_rejects_a_str_where_a_uint_is_expected)
{
    static const uint8_t frame [] = {
        0x94, 0x01, 0xa2, 'h', 'b', 0xa1, 'j', 0xa1, '1'
    };
    ck_assert_int_eq (s_decode_bytes (frame, sizeof (frame)), -1);
}
END_TEST

START_TEST (test_codec_rejects_a_task_batch_larger_than_max_batch)
{
    ff_codec_t *codec = ff_codec_new ();
    size_t index;
    ff_codec_task_begin (codec, "j", FF_MAX_BATCH + 1);
    for (index = 0; index < FF_MAX_BATCH + 1; index++)
        s_add_task (codec, index, 0, "i", 1, "x", 1);
    ck_assert_int_eq (s_decode_bytes (ff_codec_data (codec),
                                      ff_codec_size (codec)), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_rejects_a_task_message_with_no_items)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_task_begin (codec, "j", 0);
    ck_assert_int_eq (s_decode_bytes (ff_codec_data (codec),
                                      ff_codec_size (codec)), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_rejects_a_result_status_of_2)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_result_begin (codec, "j", 1, 2);
    s_add_result (codec, 0, 0, FF_STATUS_OK, FF_KIND_BYTES, "a", 1, "x", 1, NULL, 0);
    s_add_result (codec, 1, 0, 2, FF_KIND_BYTES, "a", 1, "x", 1, NULL, 0);
    ck_assert_int_eq (s_decode_bytes (ff_codec_data (codec),
                                      ff_codec_size (codec)), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_rejects_a_hello_with_an_unknown_role)
{
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_hello (codec, "admin", "h:1", 0);
    ck_assert_int_eq (s_decode_bytes (ff_codec_data (codec),
                                      ff_codec_size (codec)), -1);
    ff_codec_destroy (&codec);
}
END_TEST

START_TEST (test_codec_rejects_a_job_with_window_0_or_total_below_minus_1)
{
    const char *kernels [] = { "noop" };
    ff_codec_t *codec = ff_codec_new ();
    ff_codec_job (codec, "j", kernels, 1, 10, 0);
    ck_assert_int_eq (s_decode_bytes (ff_codec_data (codec),
                                      ff_codec_size (codec)), -1);
    ff_codec_job (codec, "j", kernels, 1, -2, 8);
    ck_assert_int_eq (s_decode_bytes (ff_codec_data (codec),
                                      ff_codec_size (codec)), -1);
    ff_codec_destroy (&codec);
}
END_TEST

Suite *
codec_suite (void)
{
    Suite *suite = suite_create ("codec");

    TCase *tc = tcase_create ("round trips");
    tcase_add_test (tc, test_codec_round_trips_hello_with_role_name_and_flags);
    tcase_add_test (tc, test_codec_round_trips_welcome_with_kernels_and_params);
    tcase_add_test (tc, test_codec_round_trips_job_with_unknown_total);
    tcase_add_test (tc, test_codec_round_trips_job_with_a_large_total);
    tcase_add_test (tc, test_codec_round_trips_ack_and_iterates_its_seqs);
    tcase_add_test (tc, test_codec_round_trips_hb_bye_and_end);
    tcase_add_test (tc, test_codec_round_trips_task_items_in_order);
    tcase_add_test (tc, test_codec_round_trips_array_handles_in_a_task_item);
    tcase_add_test (tc, test_codec_round_trips_result_items_with_status_and_kind);
    tcase_add_test (tc, test_codec_accepts_a_task_batch_of_exactly_max_batch_items);
    tcase_add_test (tc, test_codec_items_are_byte_for_byte_what_msgpack_c_writes);
    tcase_add_test (tc, test_codec_names_every_message_type_and_unknown_as_question_mark);
    tcase_add_test (tc, test_codec_str_helpers_compare_and_copy_unterminated_fields);
    tcase_add_test (tc, test_codec_accepts_the_hand_written_hb_frame_used_by_the_limits);
    suite_add_tcase (suite, tc);

    tc = tcase_create ("limits");
    tcase_add_test (tc, test_codec_rejects_an_empty_frame);
    tcase_add_test (tc, test_codec_rejects_the_never_used_byte_c1);
    tcase_add_test (tc, test_codec_rejects_an_array32_with_a_huge_count);
    tcase_add_test (tc, test_codec_rejects_33_nested_arrays);
    tcase_add_test (tc, test_codec_rejects_an_unknown_protocol_version);
    tcase_add_test (tc, test_codec_rejects_an_unknown_type_name);
    tcase_add_test (tc, test_codec_rejects_a_message_with_the_wrong_arity);
    tcase_add_test (tc, test_codec_rejects_a_trailing_byte_after_a_valid_message);
    tcase_add_test (tc, test_codec_rejects_every_truncation_of_a_task_message);
    tcase_add_test (tc, test_codec_rejects_a_handle_whose_inline_bytes_miss_its_length);
    tcase_add_test (tc, test_codec_rejects_a_task_item_with_kernel_index_past_max_kernels);
    tcase_add_test (tc, test_codec_rejects_a_str_where_a_uint_is_expected);
    tcase_add_test (tc, test_codec_rejects_a_task_batch_larger_than_max_batch);
    tcase_add_test (tc, test_codec_rejects_a_task_message_with_no_items);
    tcase_add_test (tc, test_codec_rejects_a_result_status_of_2);
    tcase_add_test (tc, test_codec_rejects_a_hello_with_an_unknown_role);
    tcase_add_test (tc, test_codec_rejects_a_job_with_window_0_or_total_below_minus_1);
    suite_add_tcase (suite, tc);
    return suite;
}
